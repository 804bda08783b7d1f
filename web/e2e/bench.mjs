// Runs web/bench/ in headless Chromium (fresh profile per backend, so cold start is cold) and prints the
// numbers for BENCHMARKS.md; writes web/e2e/test-results/bench.json.
// Run: scripts/build-wasm && (cd web && npm run build) && node web/e2e/bench.mjs [cpu webgpu]

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { launch, serve } from "./server.mjs";

const here = new URL(".", import.meta.url).pathname;
const pkg = join(here, "../packages/mtf-predict");
const backends = process.argv.slice(2).length ? process.argv.slice(2) : ["cpu", "webgpu"];
const site = await serve({ "/pkg/": pkg, "/bench/": join(here, "../bench") });
const results = {};
for (const backend of backends) {
  const browser = await launch();
  const page = await browser.newPage();
  await page.goto(`${site.url}/bench/?backend=${backend}`);
  await page.waitForFunction(() => window.__bench, null, { timeout: 400_000, polling: 500 });
  results[backend] = await page.evaluate(() => window.__bench);
  await browser.close();
  console.log(backend, JSON.stringify(results[backend]));
}
await site.close();
for (const v of ["cpu", "webgpu"]) {
  const wasm = readFileSync(join(pkg, `wasm/${v}/mtf_wasm_bg.wasm`));
  const js = readFileSync(join(pkg, `wasm/${v}/mtf_wasm.js`));
  results[`size_${v}`] = {
    wasmRaw: wasm.length,
    wasmGzip: gzipSync(wasm, { level: 9 }).length,
    glueGzip: gzipSync(js, { level: 9 }).length,
  };
}
mkdirSync(join(here, "test-results"), { recursive: true });
writeFileSync(join(here, "test-results/bench.json"), JSON.stringify(results, null, 2));
const f = (x) => (typeof x === "number" ? x.toFixed(1) : "—");
console.log("\n| backend | cold start (load + first) | load | first prediction | warm p50 | warm p95 | batch of 100 |");
console.log("|---|---:|---:|---:|---:|---:|---:|");
for (const b of backends) {
  const r = results[b];
  if (r.error) console.log(`| ${b} | error: ${r.error} |`);
  else
    console.log(
      `| ${r.backend} | ${f(r.coldStartMs)} ms | ${f(r.loadMs)} ms | ${f(r.firstPredictionMs)} ms | ${f(r.warmP50Ms)} ms | ${f(r.warmP95Ms)} ms | ${f(r.batch100MedianMs)} ms |`,
    );
}
for (const v of ["cpu", "webgpu"]) {
  const s = results[`size_${v}`];
  console.log(`${v} build: wasm ${s.wasmRaw} B raw, ${s.wasmGzip} B gzip -9; glue ${s.glueGzip} B gzip`);
}
