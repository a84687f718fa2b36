// Page speed of the dashboard (bench/dashboard.sh, not a test): signs in, then opens the
// overview and the explorer N times each and prints, per page, the time from navigation to
// the page drawn with its data (cards, table), as p50 and max in milliseconds.
import { launchChromium } from "./browser.mjs";

const url = process.env.BILLOW_URL;
const asOf = process.env.DEMO_AS_OF;
const runs = Number(process.env.RUNS ?? 10);
const browser = await launchChromium();
const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
await page.goto(`${url}/#/login`);
await page.getByLabel("Email").fill("demo@billow.local");
await page.getByLabel("Password").fill("billow-demo-owner");
await page.getByRole("button", { name: "Sign in" }).click();
await page.waitForSelector("main[data-ready=true]");

async function timed(hash, selector) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    await page.goto("about:blank");
    const start = Date.now();
    await page.goto(`${url}/${hash}`);
    await page.waitForSelector(selector);
    await page.waitForSelector("main[data-ready=true]");
    times.push(Date.now() - start);
  }
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(times.length / 2)], max: times[times.length - 1] };
}

const month = asOf.slice(0, 7);
for (const [name, hash, selector] of [
  ["overview", `#/overview?as_of=${asOf}`, ".provider-card"],
  ["explorer", `#/explorer?month=${month}&by=service&granularity=day`, "#explorer-table"],
]) {
  const t = await timed(hash, selector);
  console.log(`RESULT page=${name} runs=${runs} p50_ms=${t.p50} max_ms=${t.max}`);
}
await browser.close();
