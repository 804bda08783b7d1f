// Times one build of the wasm module alone in Node (no page): warm single prediction p50/p95 over 60 calls and a
// batch of 100, on the committed parity fixture. Used to compare build variants (opt-level, simd128).
// Run: node web/e2e/speed-node.mjs <glue.js> <module.wasm>   (e.g. web/packages/mtf-predict/wasm/cpu/mtf_wasm.js …)
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const root = new URL("../../", import.meta.url).pathname;
const [glue = `${root}web/packages/mtf-predict/wasm/cpu/mtf_wasm.js`, wasm = `${root}web/packages/mtf-predict/wasm/cpu/mtf_wasm_bg.wasm`] =
  process.argv.slice(2);
const mod = await import(pathToFileURL(resolve(glue)).href);
await mod.default({ module_or_path: readFileSync(wasm) });
const p = await mod.Predictor.fromBytes(new Uint8Array(readFileSync(`${root}models/spy-15m-h4/model.mtf`)), { backend: "cpu" });
const req = JSON.parse(readFileSync(`${root}crates/wasm/tests/fixtures/parity_request.json`, "utf8"));
for (let i = 0; i < 10; i++) await p.predict(req);
const xs = [];
for (let i = 0; i < 60; i++) {
  const t = performance.now();
  await p.predict(req);
  xs.push(performance.now() - t);
}
xs.sort((a, b) => a - b);
const batch = Array.from({ length: 100 }, (_, i) => ({ ...req, symbol: `S${i}` }));
const t = performance.now();
await p.predictBatch(batch);
console.log(`p50 ${xs[30].toFixed(2)} ms, p95 ${xs[57].toFixed(2)} ms, batch of 100 ${(performance.now() - t).toFixed(0)} ms`);
