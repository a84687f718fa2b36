// The newcomer's first look: the dashboard served by the README's demo command, signed in with
// the credentials it printed, shows a number on the card of every provider that has data.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { launchChromium } from "./browser.mjs";

const url = process.env.DEMO_URL;
const [email, password] = process.env.DEMO_LOGIN.split(" / ");
const artifacts = process.env.E2E_ARTIFACTS ?? "e2e-artifacts";
mkdirSync(artifacts, { recursive: true });
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(url);
  await page.locator("#email").fill(email);
  await page.locator("#password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForSelector(".provider-card .amount", { timeout: 30_000 });
  const cards = await page.locator(".provider-card:not(.no-data)").count();
  assert.ok(cards >= 8, `${cards} provider cards with data`);
  const amounts = await page.locator(".provider-card .amount").allTextContents();
  assert.ok(amounts.filter((a) => /^\$[\d,]+\.\d\d$/.test(a) && a !== "$0.00").length >= 7, `amounts: ${amounts}`);
  assert.ok((await page.locator("#trend-chart svg path").count()) >= 30, "the trend is drawn");
  await page.screenshot({ path: `${artifacts}/new-user.png`, fullPage: true });
  console.log(`new-user: passed (${cards} provider cards with data)`);
} finally {
  await browser.close();
}
