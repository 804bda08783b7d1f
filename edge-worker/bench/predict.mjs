// ml-predict in workerd (Miniflare) against `mtf replay`: wall milliseconds per request on loopback, which bound
// the CPU milliseconds from above (workerd freezes the clock inside a request, so the worker cannot time itself;
// everything here is one process on one machine, KV and D1 local). 100 symbols: the SPY files of January 2011
// served under 100 names (S001 … S100) from a temporary directory of links.
// Run: scripts/build-worker && cargo build -p mtf-cli && node edge-worker/bench/predict.mjs [repeats]
import { mkdtempSync, readdirSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ADMIN, CLIENT, dataDir, root, startStandin, startWorker } from "../test/harness.mjs";

const repeats = Number(process.argv[2] ?? 20);
const AT = "2011-01-31T20:00:00Z";
const dir = mkdtempSync(join(tmpdir(), "mtf-bench-predict-"));
const files = readdirSync(dataDir()).filter((f) => f === "spy_1min_2011-01.csv" || f.startsWith("spy_1d_"));
const symbols = Array.from({ length: 100 }, (_, i) => `S${String(i + 1).padStart(3, "0")}`);
for (const s of symbols) for (const f of files) symlinkSync(join(dataDir(), f), join(dir, f.replace(/^spy/, s.toLowerCase())));

const standin = await startStandin(["--data", dir]);
const w = await startWorker(standin, { RATE_LIMIT_PER_MIN: "1000000" });
const { readFileSync } = await import("node:fs");
const model = new Uint8Array(readFileSync(join(root, "models/spy-15m-h4/model.mtf")));
const reg = await w.mf.dispatchFetch(`${w.url}/api/v1/models`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}` }, body: model });
if (reg.status !== 201) throw new Error(`register: ${reg.status} ${await reg.text()}`);

const q = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
async function time(name, n, request) {
  const lat = [];
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    const res = await w.mf.dispatchFetch(`${w.url}${request.path}`, request.init);
    const body = await res.json();
    lat.push(performance.now() - s);
    if (res.status !== 200) throw new Error(`${name}: ${res.status} ${JSON.stringify(body)}`);
    const bad = (body.predictions ?? []).filter((p) => !p.prediction);
    if (bad.length) throw new Error(`${name}: ${bad.length} without prediction: ${JSON.stringify(bad[0].error)}`);
  }
  console.log(`${name}: n=${n} p50 ${q(lat, 0.5).toFixed(1)} ms, p90 ${q(lat, 0.9).toFixed(1)} ms, min ${Math.min(...lat).toFixed(1)} ms`);
}
const post = (syms, token, fresh) => ({
  path: "/api/v1/predict",
  init: {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}`, ...(fresh ? { "cache-control": "no-cache" } : {}) },
    body: JSON.stringify({ symbols: syms, at: AT }),
  },
});

// Cold: model load in a fresh isolate, bars from the stand-in (KV cache empty).
await time("1 symbol, cold (model load + Alpaca fetch + compute)", 1, post([symbols[0]], ADMIN, true));
await time("1 symbol, bars cached, recomputed", repeats, post([symbols[0]], ADMIN, true));
await time("100 symbols, cold bars (Alpaca fetch + compute)", 1, post(symbols, ADMIN, true));
await time("100 symbols, bars cached, recomputed (one batched forward pass)", Math.max(3, repeats / 4), post(symbols, ADMIN, true));
await time("1 symbol, prediction cache hit (GET)", repeats * 5, {
  path: `/api/v1/predict?symbol=${symbols[0]}&at=${AT}`,
  init: { headers: { authorization: `Bearer ${CLIENT}` } },
});
await time("100 symbols, prediction cache hits", repeats, post(symbols, CLIENT, false));
// Floors for comparison: routing alone, and one D1 read (the predict route reads the active version per request).
await time("reference: GET /api/v1/health", repeats * 5, { path: "/api/v1/health", init: {} });
await time("reference: GET /api/v1/models/active (one D1 read)", repeats * 5, { path: "/api/v1/models/active", init: {} });
await w.mf.dispose();
await standin.stop();
