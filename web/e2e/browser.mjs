// Starts the headless Debian Chromium the end-to-end scripts drive. On a loaded 2-core machine
// the browser has died while starting (SIGSEGV before opening a page, in the new-user stage
// right after the dashboard stage had passed); that says nothing about the dashboard, so a
// launch that fails is tried again, up to three times, and every failure is printed. A
// failure once the browser runs fails the test as before.
import { chromium } from "playwright-core";

const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-quic",
  "--no-first-run",
  "--disable-sync",
];

export async function launchChromium() {
  const attempts = 3;
  for (let attempt = 1; ; attempt++) {
    try {
      return await chromium.launch({
        executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
        headless: true,
        args: ARGS,
      });
    } catch (e) {
      if (attempt >= attempts) throw e;
      console.error(`chromium did not start (attempt ${attempt} of ${attempts}): ${e.message.split("\n")[0]}`);
    }
  }
}
