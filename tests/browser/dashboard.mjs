// Opens the nutgiao dashboard in Debian's headless Chromium and checks what an operator sees:
// live signals, counts that grow, and a manual plan that changes the signal timing.
// Usage: node dashboard.mjs BASE_URL TOKEN ; prints a JSON report as its last line.
import { chromium } from "playwright-core";

const [base, token] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
const report = {};
try {
  const page = await browser.newPage();
  page.on("console", (m) => console.error(`page: ${m.text()}`));
  await page.goto(base);
  await page.waitForSelector('#int-J1 .phase[data-indication="green"]', { timeout: 20000 });
  await page.waitForSelector('#stream-state.up', { timeout: 20000 });
  const before = Number(await page.textContent("#count-total"));
  await page.waitForFunction((b) => Number(document.querySelector("#count-total").textContent) >= b + 5, before, { timeout: 20000 });
  report.counts_grew = true;

  await page.selectOption("#override-intersection", "J2");
  await page.selectOption("#override-plan", "webster");
  await page.fill("#override-token", token);
  await page.click("#override-apply");
  await page.waitForSelector('#int-J2 .plan.manual[data-plan="webster"]', { timeout: 20000 });
  report.plan_after_override = await page.getAttribute("#int-J2 .plan", "data-plan");
  // Wait for the timing to settle: two consecutive arterial greens of the same length.
  const green = await page.waitForFunction(() => {
    const el = document.querySelector('#int-J2 .phase[data-phase="2"]');
    const g = (el?.dataset.greens || "").split(",").filter(Boolean).map(Number);
    return g.length >= 3 && Math.abs(g[g.length - 1] - g[g.length - 2]) < 0.01 ? g[g.length - 1] : null;
  }, null, { timeout: 40000, polling: 100 });
  report.arterial_green_after_override_s = await green.jsonValue();
  await page.screenshot({ path: process.env.SCREENSHOT || "/tmp/nutgiao-dashboard.png", fullPage: true });
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
