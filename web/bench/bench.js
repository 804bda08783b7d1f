// Browser bench of mtf-predict (served by web/e2e/server.mjs: the package at /pkg/ in front of the real edge, the
// worker in workerd with `mtf replay` on the SPY minutes).
// Measures cold start (module fetch + compile + artifact fetch + load + first prediction), warm single-prediction
// latency (p50/p95 of 50; 10 on WebGPU), and a batch of 100 symbols (median of 5; 2 on WebGPU). Results land in window.__bench.
import { loadPredictor } from "/pkg/dist/index.js";

const out = document.getElementById("out");
const backend = new URLSearchParams(location.search).get("backend") ?? "cpu";
const q = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};

async function run() {
  // Data first: bars are input, not start-up cost.
  // Bars need a session token, which the edge issues to a page of an allowed origin.
  const { token } = await (await fetch("/api/v1/session", { method: "POST" })).json();
  const headers = { authorization: `Bearer ${token}` };
  const get = async (tf) => {
    const r = await fetch(`/api/v1/bars?symbol=SPY&timeframe=${tf}&limit=${tf === "1d" ? 104 : 1976}`, { headers });
    if (!r.ok) throw new Error(`bars ${tf}: ${r.status} ${await r.text()}`);
    return (await r.json()).bars;
  };
  const bars = { "1m": await get("1m"), "1d": await get("1d") };
  const { model } = await (await fetch("/api/v1/models/active")).json();

  const t0 = performance.now();
  const predictor = await loadPredictor({ model: model.artifact_url, sha256: model.sha256, backend, cacheName: false });
  const tLoaded = performance.now();
  await predictor.predict({ symbol: "SPY", bars });
  const tFirst = performance.now();

  const warm = [];
  // SwiftShader runs every WebGPU kernel on the CPU at ~1 s per forward: fewer repetitions there.
  const reps = predictor.backendKind === "webgpu" ? 10 : 50;
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await predictor.predict({ symbol: "SPY", bars });
    warm.push(performance.now() - t);
  }
  // Forward pass alone is not exposed; the warm number includes resampling + features of 2,197 minute bars.
  const batch = Array.from({ length: 100 }, (_, i) => ({ symbol: `S${i}`, bars }));
  await predictor.predictBatch(batch);
  const batches = [];
  for (let i = 0; i < (predictor.backendKind === "webgpu" ? 2 : 5); i++) {
    const t = performance.now();
    await predictor.predictBatch(batch);
    batches.push(performance.now() - t);
  }
  return {
    backend: predictor.backend,
    userAgent: navigator.userAgent,
    coldStartMs: tFirst - t0,
    loadMs: tLoaded - t0,
    firstPredictionMs: tFirst - tLoaded,
    warmP50Ms: q(warm, 0.5),
    warmP95Ms: q(warm, 0.95),
    batch100MedianMs: q(batches, 0.5),
    bars: { "1m": bars["1m"].length, "1d": bars["1d"].length },
  };
}

run().then(
  (r) => {
    window.__bench = r;
    out.textContent = JSON.stringify(r, null, 2);
  },
  (e) => {
    window.__bench = { error: String(e?.message ?? e) };
    out.textContent = `error: ${window.__bench.error}`;
  },
);
