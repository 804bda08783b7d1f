// Bounded loopback load test of the edge worker in workerd (Miniflare) with `mtf replay` upstream:
// the cached bars route and batch prediction writes. Prints requests/s, p50/p99 latency and errors.
// Run: scripts/build-worker && cargo build -p mtf-cli && node edge-worker/test/load.mjs [requests] [concurrency]
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CLIENT, dataDir, root, startStandin, startWorker } from "./harness.mjs";

const total = Number(process.argv[2] ?? 2000);
const concurrency = Number(process.argv[3] ?? 16);
const standin = await startStandin(["--data", dataDir()]);
const w = await startWorker(standin);
const q = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];

async function run(name, n, make) {
  const lat = [];
  let errors = 0;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const [path, init, expect] = make(i);
        const s = performance.now();
        const res = await w.mf.dispatchFetch(`${w.url}${path}`, init);
        await res.arrayBuffer();
        lat.push(performance.now() - s);
        if (res.status !== expect) errors++;
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  const r = { name, requests: n, concurrency, rps: n / secs, p50: q(lat, 0.5), p99: q(lat, 0.99), errors };
  console.log(
    `${name}: ${n} requests, concurrency ${concurrency}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, errors ${errors}`,
  );
  return r;
}

const bars = "/api/v1/bars?symbol=SPY&timeframe=1m&start=2011-01-03T00:00:00Z&end=2011-01-04T00:00:00Z&limit=500";
await w.mf.dispatchFetch(`${w.url}${bars}`, { headers: { authorization: `Bearer ${CLIENT}` } }).then((r) => r.arrayBuffer()); // warm the cache
await run("GET /api/v1/bars (cached, 500 bars)", total, () => [bars, { headers: { authorization: `Bearer ${CLIENT}` } }, 200]);
const p = JSON.parse(readFileSync(join(root, "crates/wasm/tests/fixtures/parity_expected.json"), "utf8"));
const batch = JSON.stringify(Array.from({ length: 100 }, (_, i) => ({ ...p, symbol: `S${i % 50}` })));
await run("POST /api/v1/predictions (batches of 100)", Math.max(50, total / 20), () => [
  "/api/v1/predictions",
  { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${CLIENT}` }, body: batch },
  201,
]);
await w.mf.dispose();
await standin.stop();
