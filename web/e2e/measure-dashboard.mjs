// Three fresh Chromium contexts load the running demo (scripts/demo) with the CPU backend: time from navigation to
// the prediction on screen, and gzip -9 sizes of the JS, wasm and other static files the page loaded.
// Run: MTF_DEMO_SKIP_BUILD=1 MTF_DEMO_PORT=8767 scripts/demo & then MTF_DEMO_PORT=8767 node web/e2e/measure-dashboard.mjs

import { gzipSync } from "node:zlib";
import { launch } from "./server.mjs";

const b = await launch();
const out = [];
for (let i = 0; i < 3; i++) {
  const ctx = await b.newContext();
  const page = await ctx.newPage();
  const bodies = new Map();
  page.on("response", async (r) => {
    try {
      const body = await r.body();
      bodies.set(r.url(), body);
    } catch {}
  });
  await page.goto(`http://127.0.0.1:${process.env.MTF_DEMO_PORT ?? 8787}/?symbols=SPY&backend=cpu`);
  await page.waitForSelector("[data-testid=prediction]", { timeout: 60000 });
  const t = await page.evaluate(() => performance.now());
  await page.waitForTimeout(500);
  let js = 0,
    wasm = 0,
    other = 0;
  for (const [u, body] of bodies) {
    const gz = gzipSync(body, { level: 9 }).length;
    if (u.endsWith(".js")) js += gz;
    else if (u.endsWith(".wasm")) wasm += gz;
    else if (!u.includes("/api/")) other += gz;
  }
  out.push({
    firstPredictionMs: Math.round(t),
    jsGzip: js,
    wasmGzip: wasm,
    otherGzip: other,
    files: [...bodies.keys()].filter((u) => !u.includes("/api/")).map((u) => u.split("/").pop()),
  });
  await ctx.close();
}
console.log(JSON.stringify(out, null, 1));
await b.close();
