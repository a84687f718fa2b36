// End-to-end: the real `billow` binary serving demo data, driven in headless Debian Chromium
// by playwright-core. Every number the page shows is checked against `billow costs --json`
// on the same data directory. Screenshots go to $E2E_ARTIFACTS.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import assert from "node:assert/strict";
import { launchChromium } from "./browser.mjs";

const url = process.env.BILLOW_URL;
const billow = process.env.BILLOW;
const data = process.env.BILLOW_DATA;
const asOf = process.env.DEMO_AS_OF;
const artifacts = process.env.E2E_ARTIFACTS ?? "e2e-artifacts";
const month = asOf.slice(0, 7);
mkdirSync(artifacts, { recursive: true });

const units = (text) => {
  const negative = text.startsWith("-");
  const [whole, fraction = ""] = text.replace("-", "").split(".");
  const value = BigInt(whole + fraction.padEnd(12, "0").slice(0, 12));
  return negative ? -value : value;
};
const cli = (...args) =>
  JSON.parse(execFileSync(billow, ["--data-dir", data, "-q", ...args, "--json"], { encoding: "utf8" }));
const sum = (rows, field) => rows.reduce((n, r) => n + units(r[field]), 0n);

let step = "start";
const browser = await launchChromium();
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
const page = await context.newPage();
const errors = [];
page.on("pageerror", (e) => errors.push(String(e)));
// Expected 4xx answers (signed out, a wrong password, a refused cost type) are logged by
// Chromium as failed loads; anything else is an error of the page.
page.on("console", (m) => m.type() === "error" && !m.text().startsWith("Failed to load resource") && errors.push(m.text()));
// Nothing may leave the machine: every request goes to the server under test.
page.on("request", (r) => assert.ok(r.url().startsWith(url) || r.url().startsWith("blob:") || r.url().startsWith("data:"), `request to ${r.url()}`));

async function ready() {
  await page.waitForSelector("main[data-ready=true]", { timeout: 20000 });
}

async function signIn(email, password) {
  await page.goto(`${url}/#/login`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await ready();
}

async function goto(hash) {
  await page.evaluate((h) => (location.hash = h), hash);
  await page.waitForFunction(() => document.querySelector("main")?.dataset.ready === "true");
  // The route renders asynchronously; wait until this route's page has drawn.
  await page.waitForTimeout(50);
  await ready();
}

// Text whose contrast with its background is below WCAG AA (4.5:1, or 3:1 for large text):
// "selector: ratio" for each, from the computed colors (the canvas charts are not text).
async function lowContrast() {
  return page.evaluate(() => {
    const rgba = (c) => (c.match(/[\d.]+/g) ?? ["0", "0", "0", "0"]).map(Number);
    const luminance = ([r, g, b]) => {
      const f = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const background = (e) => {
      for (let n = e; n; n = n.parentElement) {
        const c = rgba(getComputedStyle(n).backgroundColor);
        if ((c[3] ?? 1) > 0.5) return c;
      }
      return [255, 255, 255, 1];
    };
    const bad = [];
    for (const e of document.querySelectorAll("body *")) {
      const own = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
      const style = getComputedStyle(e);
      if (!own || style.visibility === "hidden" || style.display === "none" || !e.getClientRects().length) continue;
      const [l1, l2] = [luminance(rgba(style.color)), luminance(background(e))].sort((a, b) => b - a);
      const ratio = (l1 + 0.05) / (l2 + 0.05);
      const size = parseFloat(style.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) bad.push(`${e.tagName.toLowerCase()}.${e.className}: ${ratio.toFixed(2)} "${e.textContent.trim().slice(0, 30)}"`);
    }
    return bad;
  });
}

async function exact(selector) {
  return page.locator(selector).first().getAttribute("data-exact");
}

try {
  step = "sign-in page";
  await page.goto(url);
  await page.waitForSelector("form.login-form");
  await page.screenshot({ path: `${artifacts}/sign-in.png` });
  // Every form control has a label.
  const unlabeled = await page.evaluate(() =>
    [...document.querySelectorAll("input, select")].filter((e) => !e.labels?.length && !e.getAttribute("aria-label")).length,
  );
  assert.equal(unlabeled, 0, "unlabeled form controls on the sign-in page");
  await page.getByLabel("Email").fill("demo@billow.local");
  await page.getByLabel("Password").fill("wrong password!");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForFunction(() => document.querySelector(".form-error")?.textContent?.length > 0);

  step = "overview as the owner";
  await signIn("demo@billow.local", "billow-demo-owner");
  await goto(`#/overview?as_of=${asOf}&cost_type=billed&days=30`);
  await page.waitForSelector(".provider-card");
  const byConnection = cli("costs", "--month", month, "--by", "connection");
  const expected = new Map(byConnection.map((r) => [r.key, units(r.billed_cost)]));
  const cards = await page.locator(".provider-card:not(.no-data)").all();
  const carded = new Set();
  for (const card of cards) {
    const provider = await card.getAttribute("data-provider");
    const connections = (await card.getAttribute("data-connections")).split(" ");
    const want = connections.reduce((n, c) => n + (expected.get(c) ?? 0n), 0n);
    connections.forEach((c) => carded.add(c));
    const shown = await card.locator(".amount").getAttribute("data-exact");
    assert.equal(units(shown), want, `${provider} card vs billow costs`);
    const text = await card.locator(".amount").textContent();
    assert.match(text, /^\$[\d,]+\.\d\d$/, `${provider} card shows dollars and cents`);
  }
  for (const [connection, value] of expected) {
    assert.ok(carded.has(connection), `a card counts ${connection} (${value})`);
  }
  // Every kind of source of the demo has its card: six clouds and APIs, two FOCUS vendors.
  const providers = await Promise.all(cards.map((c) => c.getAttribute("data-provider")));
  for (const p of ["aws", "azure", "gcp", "oci", "digitalocean", "openai", "focus:databricks", "focus:confluent"]) {
    assert.ok(providers.includes(p), `a ${p} card among ${providers}`);
  }
  // The trend: a point for each of the 30 days, drawn.
  const trend = page.locator("#trend-chart");
  assert.equal(await trend.getAttribute("data-points"), "30");
  const bars = await trend.locator("svg path").count();
  assert.ok(bars >= 30, `${bars} shapes in the trend chart`);
  // The no-data state says what to do.
  const waiting = page.locator('.provider-card.no-data[data-provider="datadog"]');
  assert.match(await waiting.textContent(), /No billing data/);
  assert.match(await waiting.textContent(), /Fix: .*billow ingest/);
  await page.screenshot({ path: `${artifacts}/overview.png`, fullPage: true });
  assert.deepEqual(await lowContrast(), [], "text below WCAG AA contrast on the overview");

  step = "explorer";
  await goto(`#/explorer?month=${month}&by=service&granularity=total&cost_type=billed`);
  await page.waitForSelector("#explorer-table");
  const all = cli("costs", "--month", month, "--by", "service");
  assert.equal(units(await exact("#explorer-total")), sum(all, "billed_cost"), "explorer total vs billow costs");
  // A filter from the page changes the numbers to what the CLI says for that filter.
  await page.locator("#ex-filter-dim").selectOption("connection");
  await page.locator("#ex-filter-value").fill("aws-cur");
  await page.getByRole("button", { name: "Add filter" }).click();
  await page.waitForSelector(".chip");
  await ready();
  await page.waitForSelector("#explorer-table");
  const filtered = cli("costs", "--month", month, "--by", "service", "--filter", "connection=aws-cur");
  assert.equal(units(await exact("#explorer-total")), sum(filtered, "billed_cost"), "filtered total vs billow costs");
  assert.notEqual(sum(filtered, "billed_cost"), sum(all, "billed_cost"));
  assert.match(page.url(), /filter=connection%3Daws-cur/, "the URL carries the filter");
  // The FOCUS export link holds exactly the rows behind what is shown.
  const href = await page.locator("#download-focus").getAttribute("href");
  const exported = await page.evaluate(async (h) => (await (await fetch(h)).text()).trimEnd().split("\n").length - 1, href);
  const behind = filtered.reduce((n, r) => n + Number(r.rows), 0);
  assert.equal(exported, behind, `FOCUS export rows of ${href}`);
  // Per day, the rows are days of the month.
  await goto(`#/explorer?month=${month}&by=connection&granularity=day&cost_type=effective`);
  const daily = cli("costs", "--month", month, "--by", "connection", "--granularity", "day");
  assert.equal(units(await exact("#explorer-total")), sum(daily, "effective_cost"), "daily effective total");
  await page.screenshot({ path: `${artifacts}/explorer.png`, fullPage: true });
  assert.deepEqual(await lowContrast(), [], "text below WCAG AA contrast in the explorer");

  step = "keyboard";
  // From the top of the page: the skip link first; it moves the focus to the page's content
  // and keeps the route (the explorer's query stays); the next Tab is the page's first control.
  const route = await page.evaluate(() => location.hash);
  await page.reload();
  await ready();
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Skip to content");
  await page.keyboard.press("Enter");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "main");
  assert.equal(await page.evaluate(() => location.hash), route, "the skip link keeps the route");
  await page.keyboard.press("Tab");
  assert.ok(await page.evaluate(() => document.querySelector("main")?.contains(document.activeElement)), "Tab goes on inside the page");
  // A menu link followed from the keyboard puts the focus on the new page's content.
  await page.locator('nav a[href="#/connections"]').focus();
  await page.keyboard.press("Enter");
  await page.waitForSelector(".connection");
  await page.waitForFunction(() => document.activeElement?.id === "main");
  await goto(route.slice(1));
  await page.waitForSelector("#explorer-table");

  step = "connections and history";
  await goto("#/connections");
  await page.waitForSelector(".connection");
  assert.ok((await page.locator(".connection").count()) >= 6);
  const aws = page.locator('.connection[data-connection="aws-cur"]');
  assert.match(await aws.textContent(), /exact/);
  // Freshness: the latest charge day with rows, as the CLI sums it.
  const awsDays = cli("costs", "--by", "day", "--connection", "aws-cur").filter((r) => Number(r.rows) > 0);
  const latestDay = awsDays.map((r) => r.key).sort().at(-1);
  assert.equal(await aws.locator(".data-through").textContent(), latestDay, "aws-cur data through");
  // Refresh reads the export folder again: nothing new, every month unchanged.
  await aws.getByRole("button", { name: "Refresh" }).click();
  const result = page.locator('.connection[data-connection="aws-cur"] .sync-result');
  await result.waitFor({ timeout: 60000 });
  const awsMonths = new Set(cli("costs", "--by", "connection", "--granularity", "month", "--connection", "aws-cur").map((r) => r.time)).size;
  assert.match(await result.textContent(), new RegExp(`no new export version; ${awsMonths} months unchanged`));
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Refresh", "focus returns to Refresh");
  // Upload: the vendor's file of this month again publishes the same sums; a copy cut short
  // mid-row is refused with its file and line, and nothing changes.
  const databricks = page.locator('.connection[data-connection="databricks"]');
  const databricksTotal = () => cli("costs", "--month", month, "--by", "connection", "--connection", "databricks")[0].billed_cost;
  const before = databricksTotal();
  const monthFile = `${data}/exports/demo/databricks/databricks-focus-${month}.csv`;
  await databricks.getByLabel("Upload an export file").setInputFiles(monthFile);
  const uploaded = page.locator('.connection[data-connection="databricks"] .upload-result');
  await uploaded.waitFor({ timeout: 60000 });
  assert.match(await uploaded.textContent(), new RegExp(`Uploaded databricks-focus-${month}\\.csv \\(focus\\): (published ${month}|no new export version)`));
  assert.equal(databricksTotal(), before, "the same file publishes the same sums");
  const text = readFileSync(monthFile, "utf8");
  const cut = text.slice(0, Math.floor(text.length / 2));
  await page
    .locator('.connection[data-connection="databricks"]')
    .getByLabel("Upload an export file")
    .setInputFiles({ name: "databricks-cut.csv", mimeType: "text/csv", buffer: Buffer.from(cut) });
  const refusedUpload = page.locator('.connection[data-connection="databricks"] .upload-error');
  await refusedUpload.waitFor({ timeout: 60000 });
  assert.match(await refusedUpload.textContent(), /databricks-cut\.csv.*line \d+/);
  assert.equal(databricksTotal(), before, "a refused upload changes nothing");
  // A connection without a source has nothing to refresh, and says where its data comes from.
  const datadog = page.locator('.connection[data-connection="datadog"]');
  assert.equal(await datadog.getByRole("button", { name: "Refresh" }).count(), 0);
  assert.match(await datadog.textContent(), /uploads and billow ingest/);
  await page.screenshot({ path: `${artifacts}/connections.png`, fullPage: true });
  assert.deepEqual(await lowContrast(), [], "text below WCAG AA contrast on the connections page");
  // The restated month: two versions, and what the restatement changed by account and service.
  const restated = new Date(Date.UTC(Number(month.slice(0, 4)), Number(month.slice(5, 7)) - 3, 1)).toISOString().slice(0, 7);
  await goto(`#/history?connection=aws-cur&month=${restated}`);
  await page.waitForSelector(".version");
  assert.equal(await page.locator(".version").count(), 2, `versions of aws-cur ${restated}`);
  const changed = page.locator(".version table.by-service tbody tr");
  assert.ok((await changed.count()) >= 1, "the restatement's changes by account and service");
  const versions = await page.evaluate(
    async (m) => (await (await fetch(`/api/v1/ingestions?connection=aws-cur&month=${m}`)).json()),
    restated,
  );
  const top = versions[1].changes_by_service[0];
  assert.equal(await changed.first().locator("td.num").last().getAttribute("data-exact"), top.difference);
  await page.screenshot({ path: `${artifacts}/history.png`, fullPage: true });

  step = "users and settings";
  await goto("#/users");
  await page.waitForSelector("#users-table");
  await page.locator("#new-email").fill("analyst@billow.local");
  await page.locator("#new-name").fill("Ana Lyst");
  await page.locator("#new-role").selectOption("viewer");
  await page.getByRole("button", { name: "Add user" }).click();
  await page.waitForSelector('tr[data-email="analyst@billow.local"]');
  const added = await page.evaluate(async () => (await (await fetch("/api/v1/users")).json()).find((u) => u.email === "analyst@billow.local"));
  assert.equal(added.role, "viewer");
  assert.ok(!added.cost_types.includes("provider"), `new viewer's cost types: ${added.cost_types}`);
  const unlabeledUsers = await page.evaluate(() =>
    [...document.querySelectorAll("main input, main select")].filter((e) => !e.labels?.length && !e.getAttribute("aria-label")).length,
  );
  assert.equal(unlabeledUsers, 0, "unlabeled controls on the users page");
  await page.screenshot({ path: `${artifacts}/users.png`, fullPage: true });
  await goto("#/settings");
  await page.locator("#token-name").fill("e2e-token");
  await page.getByRole("button", { name: "Create token" }).click();
  await page.waitForSelector("code.secret");
  assert.match(await page.locator("code.secret").textContent(), /^billow_/);
  assert.match(await page.locator("#tokens-table").textContent(), /e2e-token/);
  await page.screenshot({ path: `${artifacts}/settings.png`, fullPage: true });
  await page.getByRole("button", { name: "Revoke" }).first().click();
  await page.waitForFunction(() => !document.querySelector("#tokens-table")?.textContent?.includes("e2e-token"));

  step = "viewer without provider cost";
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForSelector("form.login-form");
  await signIn("viewer@billow.local", "billow-demo-viewer");
  await goto(`#/overview?as_of=${asOf}`);
  await page.waitForSelector(".provider-card");
  assert.equal(await page.locator('nav a[href="#/users"]').count(), 0, "a viewer has no users page");
  const options = await page.locator("#overview-cost-type option").allTextContents();
  assert.ok(!options.some((o) => /provider/i.test(o)), `viewer cost types: ${options}`);
  const html = await page.content();
  assert.ok(!/provider_cost|Provider cost/.test(html), "no provider cost on the viewer's overview");
  const refused = await page.evaluate(async (m) => (await fetch(`/api/v1/costs?month=${m}&cost_type=provider`)).status, month);
  assert.equal(refused, 403);
  const explorer = await page.evaluate(async (m) => await (await fetch(`/api/v1/costs?month=${m}&by=service`)).text(), month);
  assert.ok(!explorer.includes("provider_cost"), "no provider cost in the viewer's cost query");
  const focus = await page.evaluate(async (m) => (await (await fetch(`/api/v1/export/focus?month=${m}`)).text()).split("\n")[0], month);
  for (const column of ["ContractedCost", "ContractedUnitPrice", "x_Extensions"]) {
    assert.ok(!focus.split(",").includes(column), `${column} in the viewer's export`);
  }
  await page.screenshot({ path: `${artifacts}/viewer-overview.png`, fullPage: true });

  step = "phone width";
  await page.setViewportSize({ width: 390, height: 844 });
  await goto(`#/overview?as_of=${asOf}&days=7`);
  await page.waitForSelector(".provider-card");
  assert.ok(await page.getByRole("button", { name: "Menu" }).isVisible());
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the page is ${overflow}px wider than a phone`);
  await page.screenshot({ path: `${artifacts}/phone-overview.png`, fullPage: true });
  await goto("#/connections");
  await page.waitForSelector(".connection");
  const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(wide <= 1, `the connections page is ${wide}px wider than a phone`);
  await page.screenshot({ path: `${artifacts}/phone-connections.png`, fullPage: true });

  assert.deepEqual(errors, [], "no errors in the page");
  console.log(`e2e: passed (screenshots in ${artifacts})`);
} catch (e) {
  await page.screenshot({ path: `${artifacts}/failure.png`, fullPage: true }).catch(() => {});
  console.error(`e2e failed at "${step}": ${e.stack ?? e}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
