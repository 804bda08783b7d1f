// `ml-predict` in the real workerd runtime (Miniflare: in-memory D1 and KV), with `mtf replay` as Alpaca:
// parity with the browser build and `mtf predict` on the same bars, batches with
// per-symbol errors, the prediction cache, stale fallback, model loading, the scheduled watchlist.
// Run: scripts/build-worker && cargo build -p mtf-cli && scripts/build-wasm cpu && (cd web && npm run build:package)
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  ADMIN,
  artifactWithVersion,
  auth,
  built,
  CLIENT,
  dataDir,
  KEY,
  mtfBin,
  recorder,
  root,
  SECRET,
  startStandin,
  startWorker,
  workerDir,
} from "./harness.mjs";
import { checkResponses, loadSpec } from "./openapi.mjs";

const skip = !built();
if (skip) console.log("SKIPPED: ml-predict tests need scripts/build-worker and `cargo build -p mtf-cli`");
const pkgDist = join(root, "web/packages/mtf-predict/dist/index.js");
const wasmPath = join(root, "web/packages/mtf-predict/wasm/cpu/mtf_wasm_bg.wasm");
const haveBrowserBuild = existsSync(pkgDist) && existsSync(wasmPath);
if (!haveBrowserBuild) {
  if (process.env.MTF_REQUIRE_BROWSER === "1")
    throw new Error("the npm package build is missing: scripts/build-wasm cpu && (cd web && npm run build:package)");
  console.log("SKIPPED: edge vs browser parity — the npm package is not built (scripts/build-wasm cpu, npm run build:package)");
}

const AT = "2011-01-31T20:00:00Z"; // the instant of the committed parity fixture (crates/wasm/tests/fixtures)
const { call, responses, assertNoSecrets } = recorder();
const artifact = () => new Uint8Array(readFileSync(join(root, "models/spy-15m-h4/model.mtf")));
const alpacaTf = { "1m": "1Min", "5m": "5Min", "15m": "15Min", "30m": "30Min", "1h": "1Hour", "4h": "4Hour", "1d": "1Day" };

const predictReq = (body, token = CLIENT, headers = {}) => ({
  method: "POST",
  headers: { "content-type": "application/json", ...(token ? auth(token) : {}), ...headers },
  body: JSON.stringify(body),
});
const register = (w, bytes, activate = false) =>
  call(w, `/api/v1/models${activate ? "?activate=true" : ""}`, { method: "POST", headers: auth(ADMIN), body: bytes });
const activate = (w, v) => call(w, `/api/v1/models/${encodeURIComponent(v)}/activate`, { method: "POST", headers: auth(ADMIN) });

/** Relative closeness of two predictions' numbers (structure must match); returns the largest difference. */
function maxRelDiff(a, b, path = "$") {
  if (typeof a === "number") {
    assert.equal(typeof b, "number", path);
    return Math.abs(a - b) <= 1e-12 ? 0 : Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b));
  }
  if (Array.isArray(a)) {
    assert.equal(a.length, b.length, `${path} length`);
    return Math.max(0, ...a.map((x, i) => maxRelDiff(x, b[i], `${path}[${i}]`)));
  }
  if (a && typeof a === "object") {
    assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort(), `${path} keys`);
    return Math.max(0, ...Object.keys(a).map((k) => maxRelDiff(a[k], b[k], `${path}.${k}`)));
  }
  assert.equal(a, b, path);
  return 0;
}

/** The bars an entry says it used, fetched from the stand-in directly (as a caller reproducing it would). */
async function inputBars(standin, symbol, inputs) {
  const bars = {};
  for (const i of inputs) {
    const q = `timeframe=${alpacaTf[i.timeframe]}&start=${i.first}&end=${i.last}&limit=10000`;
    const r = await (
      await fetch(`${standin.url}/v2/stocks/${symbol}/bars?${q}`, { headers: { "APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET } })
    ).json();
    assert.equal(r.next_page_token, null);
    bars[i.timeframe] = r.bars;
  }
  return bars;
}

describe("ml-predict at the edge", { skip }, () => {
  let standin, w;
  before(async () => {
    standin = await startStandin(["--data", dataDir()]);
    w = await startWorker(standin, { WATCHLIST: "AAPL, MSFT, ZZZZ" });
  });
  after(async () => {
    await w?.mf.dispose();
    await standin?.stop();
    assertNoSecrets(assert);
  });

  test("no model active: a clear 503; auth refusals", async () => {
    const none = await call(w, "/api/v1/predict", predictReq({ symbols: ["SPY"], at: AT }));
    assert.equal(none.status, 503, none.text);
    assert.equal(none.json.error.code, "no_active_model");
    assert.match(none.json.error.message, /POST \/api\/v1\/models/);
    assert.equal((await call(w, "/api/v1/predict", predictReq({ symbols: ["SPY"] }, null))).status, 401);
    assert.equal((await call(w, "/api/v1/predict", predictReq({ symbols: ["SPY"] }, "wrong"))).status, 401);
    assert.equal((await call(w, `/api/v1/predict?symbol=SPY&at=${AT}`)).status, 401);
  });

  test("a corrupt artifact is refused at registration", async () => {
    const bytes = artifact();
    // A valid envelope around weights that do not fit the header: the shapes are checked when loading.
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const h = dv.getUint32(12, true);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + h)));
    header.model.d_model *= 2;
    header.version = "0.0.9";
    const json = new TextEncoder().encode(JSON.stringify(header));
    const bad = new Uint8Array(16 + json.length + bytes.length - 16 - h);
    bad.set(bytes.subarray(0, 16));
    new DataView(bad.buffer).setUint32(12, json.length, true);
    bad.set(json, 16);
    bad.set(bytes.subarray(16 + h), 16 + json.length);
    const r = await register(w, bad);
    assert.equal(r.status, 422, r.text);
    assert.equal(r.json.error.code, "artifact_invalid");
    assert.match(r.json.error.message, /spy-15m-h4@0\.0\.9/);
    assert.equal((await call(w, "/api/v1/models")).json.models.length, 0, "nothing stored");
  });

  test("parity: on the same bars the edge predicts what `mtf predict --request` and the browser build predict", async () => {
    assert.equal((await register(w, artifact())).status, 201);
    const r = await call(w, "/api/v1/predict", predictReq({ symbols: ["SPY"], at: AT }));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.model.version, "spy-15m-h4@0.1.0");
    assert.equal(r.json.at, AT);
    const [e] = r.json.predictions;
    assert.equal(e.error, null, JSON.stringify(e.error));
    assert.equal(e.cached, false);
    assert.equal(e.stale, false);
    // The history plan: 1m, 5m and 15m as they are, hours from 30-minute bars, days; 32 + 49 + 100 of each.
    assert.deepEqual(
      e.inputs.map((i) => i.timeframe),
      ["1m", "5m", "15m", "30m", "1d"],
    );
    assert.deepEqual(
      e.inputs.map((i) => i.bars),
      [181, 181, 181, 362, 181].map((n, k) => Math.min(n, e.inputs[k].bars)),
    );
    assert.equal(e.inputs[0].bars, 181);
    assert.equal(e.inputs[2].last, "2011-01-31T19:45:00Z", "the newest 15-minute bar complete at 20:00Z");
    // The same bars, fetched from the stand-in by the ranges the edge reports, as one JSON request.
    const request = { symbol: "SPY", at: AT, bars: await inputBars(standin, "SPY", e.inputs) };
    const dir = mkdtempSync(join(tmpdir(), "mtf-edge-parity-"));
    writeFileSync(join(dir, "request.json"), JSON.stringify(request));
    const out = execFileSync(mtfBin(), ["predict", "--model", join(root, "models/spy-15m-h4"), "--request", join(dir, "request.json")]);
    const cli = JSON.parse(String(out));
    const d = maxRelDiff(e.prediction, cli);
    console.log(`edge vs mtf predict (same bars): largest relative difference ${d.toExponential(2)}`);
    assert.ok(d <= 1e-4, `edge vs mtf predict: ${d}`);
    if (haveBrowserBuild) {
      const { loadPredictor } = await import(pkgDist);
      const p = await loadPredictor({ model: artifact(), backend: "cpu", wasmUrl: readFileSync(wasmPath) });
      const browser = await p.predict(request);
      const db = maxRelDiff(e.prediction, browser);
      console.log(`edge vs browser build (same bars): largest relative difference ${db.toExponential(2)}`);
      assert.ok(db <= 1e-4, `edge vs browser: ${db}`);
    }
    // Not the committed fixture: that request holds 2197 minutes and 105 days, too few for the hourly series to
    // leave its warm-up, where the edge's plan fetches 181 hours (from 30-minute bars). More history, another
    // (better-informed) prediction; the fixture stays the browser-vs-CLI parity check.
    // GET for one symbol: the same prediction, now from the cache.
    const g = await call(w, `/api/v1/predict?symbol=spy&at=${AT}`, { headers: auth(CLIENT) });
    assert.equal(g.status, 200, g.text);
    assert.equal(g.json.predictions[0].cached, true);
    assert.ok(g.json.predictions[0].age_s >= 0);
    assert.deepEqual(g.json.predictions[0].prediction, e.prediction);
  });

  test("a batch reports an unknown symbol, one without history and a malformed one per entry; the rest predict", async () => {
    // AAPL and MSFT have minutes for 2016-04-15 – 2016-05-13; GOOG only days; ZZZZ nothing.
    const at = "2016-05-12T20:00:00Z";
    const before = (await standin.stats()).requests.bars ?? 0;
    const r = await call(w, "/api/v1/predict", predictReq({ symbols: ["AAPL", "ZZZZ", "GOOG", "B@D", "msft"], at, horizon: 60 }));
    assert.equal(r.status, 200, r.text);
    const by = Object.fromEntries(r.json.predictions.map((p) => [p.symbol, p]));
    assert.deepEqual(Object.keys(by), ["AAPL", "ZZZZ", "GOOG", "B@D", "MSFT"]);
    for (const s of ["AAPL", "MSFT"]) {
      assert.equal(by[s].error, null, JSON.stringify(by[s].error));
      assert.equal(by[s].prediction.symbol, s);
      assert.equal(by[s].prediction.lastBarStart, "2016-05-12T19:45:00Z");
    }
    assert.notEqual(by.AAPL.prediction.lastClose, by.MSFT.prediction.lastClose);
    assert.equal(by.ZZZZ.error.code, "no_data");
    assert.match(by.ZZZZ.error.message, /^ZZZZ: /);
    assert.equal(by.GOOG.error.code, "insufficient_history", JSON.stringify(by.GOOG));
    assert.match(by.GOOG.error.message, /^GOOG: .*15m/);
    assert.equal(by["B@D"].error.code, "invalid_symbol");
    // One multi-symbol request per bar size for the four valid symbols (five sizes, one page each), then one
    // more per size from the wide start for the symbols with no bars there (ZZZZ; GOOG has no intraday bars).
    // AAPL and MSFT are short of 30-minute bars too, but theirs begin after the start: no retry for them.
    assert.equal((await standin.stats()).requests.bars - before, 10);
    // The batch's predictions equal one-by-one predictions (the batched forward pass mixes nothing).
    const one = await call(w, "/api/v1/predict", predictReq({ symbols: ["MSFT"], at }, ADMIN, { "cache-control": "no-cache" }));
    assert.equal(one.json.predictions[0].cached, false);
    assert.ok(maxRelDiff(one.json.predictions[0].prediction, by.MSFT.prediction) <= 1e-5);
    // A horizon no active model predicts (one active model per horizon): a 404 naming the served horizon.
    const h = await call(w, "/api/v1/predict", predictReq({ symbols: ["SPY"], at: AT, horizon: 15 }));
    assert.equal(h.status, 404);
    assert.equal(h.json.error.code, "no_model_for_horizon");
    assert.match(h.json.error.message, /15 minutes ahead \(active models predict 60 minutes ahead\)/);
    assert.equal((await call(w, "/api/v1/predict", predictReq({ symbols: [] }))).json.error.code, "invalid_batch");
    const future = await call(w, "/api/v1/predict", predictReq({ symbols: ["SPY"], at: "2099-01-01T00:00:00Z" }));
    assert.equal(future.json.error.code, "invalid_time");
  });

  test("Alpaca down: the last valid prediction is served stale with its age; none → an error naming the symbol", async () => {
    await standin.fail("status=500&count=100");
    try {
      const at = "2011-01-31T20:20:00Z"; // another 15-minute bucket: not in the prediction cache
      const r = await call(w, "/api/v1/predict", predictReq({ symbols: ["SPY", "QQQ"], at }));
      assert.equal(r.status, 200, r.text);
      const [spy, qqq] = r.json.predictions;
      assert.equal(spy.stale, true);
      assert.ok(spy.age_s >= 0);
      assert.equal(spy.prediction.predictionTime, AT, "the last valid prediction");
      assert.equal(qqq.prediction, null);
      assert.equal(qqq.error.code, "upstream_unavailable");
      assert.match(qqq.error.message, /^QQQ: /);
      assert.ok(r.json.warnings.some((x) => /Alpaca/.test(x)));
    } finally {
      await standin.fail("clear=1");
    }
  });

  test("activation: a corrupt artifact is refused and the previous model keeps serving; rollback serves the next request", async () => {
    const v2 = artifactWithVersion(artifact(), "0.2.0");
    assert.equal((await register(w, v2)).status, 201);
    // The stored bytes of 0.2.0 change underneath the registry (a bad write, a tampered store).
    const kv = await w.mf.getKVNamespace("MODELS");
    const keys = (await kv.list()).keys.map((k) => k.name);
    const key2 = keys.find((k) => k.includes("@0.2.0"));
    const good2 = new Uint8Array(await kv.get(key2, "arrayBuffer"));
    const broken = good2.slice();
    broken[broken.length - 7] ^= 0xff;
    await kv.put(key2, broken);
    const a = await activate(w, "spy-15m-h4@0.2.0");
    assert.equal(a.status, 422, a.text);
    assert.equal(a.json.error.code, "artifact_invalid");
    assert.match(a.json.error.message, /sha256/);
    assert.equal((await call(w, "/api/v1/models/active")).json.model.version, "spy-15m-h4@0.1.0", "activation refused");
    // Even if the registry marks it active (another writer), the model loaded before keeps serving, with a warning.
    await w.db.prepare("UPDATE ml_model_versions SET is_active = (version = 'spy-15m-h4@0.2.0')").run();
    const s = await call(w, "/api/v1/predict", predictReq({ symbols: ["SPY"], at: AT }));
    assert.equal(s.status, 200, s.text);
    assert.equal(s.json.model.version, "spy-15m-h4@0.1.0");
    assert.match(s.json.warnings.join(" "), /spy-15m-h4@0\.2\.0.*cannot be loaded/);
    // Repaired bytes: activation works and the next request is served by 0.2.0; rollback to 0.1.0 likewise.
    await kv.put(key2, good2);
    assert.equal((await activate(w, "spy-15m-h4@0.2.0")).status, 200);
    const n = await call(w, "/api/v1/predict", predictReq({ symbols: ["SPY"], at: AT }));
    assert.equal(n.json.model.version, "spy-15m-h4@0.2.0");
    assert.equal(n.json.predictions[0].prediction.modelVersion, "spy-15m-h4@0.2.0");
    assert.equal(n.json.predictions[0].cached, false, "the cache is per model version");
    assert.equal((await activate(w, "spy-15m-h4@0.1.0")).status, 200);
    const back = await call(w, "/api/v1/predict", predictReq({ symbols: ["SPY"], at: AT }));
    assert.equal(back.json.model.version, "spy-15m-h4@0.1.0");
    // A specific version on request.
    const pinned = await call(w, "/api/v1/predict", predictReq({ symbols: ["SPY"], at: AT, model: "spy-15m-h4@0.2.0" }));
    assert.equal(pinned.json.model.version, "spy-15m-h4@0.2.0");
    assert.equal((await call(w, "/api/v1/predict", predictReq({ symbols: ["SPY"], model: "nope@1" }))).status, 404);
  });

  test("scheduled predictions: the watchlist at the newest base-bar close, stored once however often the cron runs", async () => {
    assert.equal((await call(w, `/api/v1/admin/predict-watchlist?at=${AT}`, { method: "POST", headers: auth(CLIENT) })).status, 401);
    const at = "2016-05-12T19:52:00Z"; // the newest 15-minute close is 19:45Z
    const first = await call(w, `/api/v1/admin/predict-watchlist?at=${at}`, { method: "POST", headers: auth(ADMIN) });
    assert.equal(first.status, 200, first.text);
    assert.equal(first.json.at, "2016-05-12T19:45:00Z");
    assert.equal(first.json.stored, 2, first.text);
    assert.deepEqual(
      first.json.failed.map((f) => [f.symbol, f.error.code]),
      [["ZZZZ", "no_data"]],
    );
    const second = await call(w, `/api/v1/admin/predict-watchlist?at=${at}`, { method: "POST", headers: auth(ADMIN) });
    assert.equal(second.json.stored, 0, "a second run for the same instant stores nothing");
    // The cron itself (Miniflare fires the scheduled handler): its clock is now, outside the replayed data.
    await (await w.mf.getWorker()).scheduled({ cron: "*/5 * * * *" });
    const { results } = await w.db
      .prepare("SELECT symbol, prediction_time, source FROM ml_predictions WHERE source = 'edge' ORDER BY symbol")
      .all();
    assert.deepEqual(
      results.map((r) => [r.symbol, r.prediction_time]),
      [
        ["AAPL", "2016-05-12T19:45:00Z"],
        ["MSFT", "2016-05-12T19:45:00Z"],
      ],
    );
    const shown = await call(w, "/api/v1/predictions?symbol=AAPL");
    assert.equal(shown.json.latest.prediction_time, "2016-05-12T19:45:00Z");
    assert.equal(shown.json.latest.payload.symbol, "AAPL");
    // Outside the session nothing is predicted.
    const night = await call(w, "/api/v1/admin/predict-watchlist?at=2011-01-31T23:00:00Z", { method: "POST", headers: auth(ADMIN) });
    assert.equal(night.json.stored, 0);
    assert.match(night.json.skipped, /outside the session/);
  });

  test("live recalibration at the edge: the edge's own scored outcomes set the band's scale; browsers' rows and earlier instants do not", async () => {
    const version = (await call(w, "/api/v1/models/active")).json.model.version;
    const scoredEdge = async () =>
      (
        await w.db
          .prepare(
            "SELECT symbol, target_time, in_interval FROM ml_predictions WHERE source = 'edge' AND status = 'scored' AND model_version = ?1 ORDER BY target_time",
          )
          .bind(version)
          .all()
      ).results;
    const scoredBefore = (await scoredEdge()).length;
    for (const at of ["2016-05-12T14:45:00Z", "2016-05-12T15:00:00Z", "2016-05-12T15:15:00Z", "2016-05-12T15:30:00Z"]) {
      const r = await call(w, `/api/v1/admin/predict-watchlist?at=${at}`, { method: "POST", headers: auth(ADMIN) });
      assert.equal(r.json.stored, 2, r.text);
    }
    // A browser-written prediction of the same version and symbol, with a band that always misses: scored, but
    // it must not move the edge's state.
    const shown = (await call(w, "/api/v1/predictions?symbol=AAPL")).json.latest.payload;
    const off = { ...shown, predictionTime: "2016-05-12T15:45:00Z", interval: { low: 1, high: 2, level: 0.8 } };
    assert.equal((await call(w, "/api/v1/predictions", predictReq(off))).status, 201);
    const run = await call(w, "/api/v1/admin/track-accuracy", { method: "POST", headers: auth(ADMIN) });
    assert.equal(run.status, 200, run.text);
    const results = await scoredEdge();
    const aapl = results.filter((r) => r.symbol === "AAPL");
    assert.ok(aapl.length >= 4, JSON.stringify(results));
    assert.equal(run.json.recalibrated, results.length - scoredBefore, "every edge outcome this run scored, and only those");
    // A fresh prediction after the newest outcome carries the state: the scale is exp(γ·Σ(miss − 0.2)) over the
    // AAPL outcomes in target order, and the realised coverage is theirs.
    const after = "2016-05-13T15:00:00Z";
    const fresh = await call(w, "/api/v1/predict", predictReq({ symbols: ["AAPL"], at: after }, ADMIN, { "cache-control": "no-cache" }));
    assert.equal(fresh.status, 200, fresh.text);
    const rc = fresh.json.predictions[0].prediction.recalibration;
    assert.ok(rc, fresh.text);
    assert.equal(rc.method, "aci");
    assert.equal(rc.observed, aapl.length);
    const misses = aapl.filter((r) => r.in_interval === 0).length;
    assert.ok(Math.abs(rc.scale - Math.exp(rc.gamma * (misses - 0.2 * aapl.length))) < 1e-9, JSON.stringify(rc));
    assert.ok(Math.abs(rc.realisedCoverage - (aapl.length - misses) / aapl.length) < 1e-12);
    // The band served is the model's band scaled about the median by that factor.
    const p = fresh.json.predictions[0].prediction;
    const earlier = await call(
      w,
      "/api/v1/predict",
      predictReq({ symbols: ["AAPL"], at: "2016-05-12T15:00:00Z" }, ADMIN, { "cache-control": "no-cache" }),
    );
    assert.equal(
      earlier.json.predictions[0].prediction.recalibration,
      undefined,
      "an instant before the newest outcome gets the model's band",
    );
    assert.ok(p.interval.high > p.predictedPrice && p.interval.low < p.predictedPrice);
  });

  test("several horizons: one active model per horizon; /models/active, predict and the cron pick by horizon; activating one leaves the others", async () => {
    const daily = new Uint8Array(readFileSync(join(root, "models/daily-1d-h1/model.mtf")));
    const intraday = (await call(w, "/api/v1/models/active?horizon=60")).json.model.version;
    assert.match(intraday, /^spy-15m-h4@/);
    const reg = await register(w, daily);
    assert.equal(reg.status, 201, reg.text);
    const dv = reg.json.model.version;
    assert.equal(reg.json.model.horizon_minutes, 1440);
    assert.equal(reg.json.model.active, true, "the first model of its horizon becomes active");
    const activeOf = async (q) => (await call(w, `/api/v1/models/active${q}`)).json.model?.version;
    assert.equal(await activeOf("?horizon=1440"), dv);
    assert.equal(await activeOf("?horizon=60"), intraday, "the intraday model stays active for its horizon");
    assert.equal(await activeOf(""), dv, "without a horizon: the newest activation");
    const none = await call(w, "/api/v1/models/active?horizon=30");
    assert.equal(none.status, 404);
    assert.equal(none.json.error.code, "no_model_for_horizon");
    assert.match(none.json.error.message, /30 minutes.*60, 1440 minutes/);
    assert.equal((await call(w, "/api/v1/models/active?horizon=soon")).json.error.code, "invalid_horizon");

    // Predict picks the model of the horizon asked for.
    const at = "2016-05-12T21:00:00Z";
    const d = await call(w, "/api/v1/predict", predictReq({ symbols: ["AAPL"], at, horizon: 1440 }));
    assert.equal(d.status, 200, d.text);
    assert.equal(d.json.model.version, dv);
    const dp = d.json.predictions[0].prediction;
    assert.ok(dp, d.text);
    assert.equal(dp.horizon.minutes, 1440);
    assert.equal(dp.lastBarStart.slice(0, 10), "2016-05-12", "the daily bar of that day, complete at 16:00 New York");
    const i = await call(w, "/api/v1/predict", predictReq({ symbols: ["AAPL"], at, horizon: 60 }));
    assert.equal(i.json.model.version, intraday);
    assert.equal(i.json.predictions[0].prediction.horizon.minutes, 60);
    const missing = await call(w, "/api/v1/predict", predictReq({ symbols: ["AAPL"], at, horizon: 30 }));
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error.code, "no_model_for_horizon");
    // A version pinned with another horizon is refused, as before.
    assert.equal(
      (await call(w, "/api/v1/predict", predictReq({ symbols: ["AAPL"], at, horizon: 60, model: dv }))).json.error.code,
      "unsupported_horizon",
    );

    // A new daily version activated, then rolled back: the intraday model is active throughout.
    const dailyV2 = artifactWithVersion(daily, "9.9.9");
    const r2 = await register(w, dailyV2, true);
    assert.equal(r2.status, 201, r2.text);
    const v2 = r2.json.model.version;
    assert.equal(await activeOf("?horizon=1440"), v2);
    assert.equal(await activeOf("?horizon=60"), intraday);
    assert.equal((await activate(w, dv)).status, 200);
    assert.equal(await activeOf("?horizon=1440"), dv);
    assert.equal(await activeOf("?horizon=60"), intraday);
    const actives = (await call(w, "/api/v1/models")).json.models.filter((m) => m.active);
    assert.deepEqual(
      actives.map((m) => [m.version, m.horizon_minutes]).sort(),
      [
        [dv, 1440],
        [intraday, 60],
      ].sort(),
    );

    // The cron runs every active model: after the close the daily one stores, the 15-minute one is outside its session.
    const cron = await call(w, `/api/v1/admin/predict-watchlist?at=${at}`, { method: "POST", headers: auth(ADMIN) });
    assert.equal(cron.status, 200, cron.text);
    assert.deepEqual(
      cron.json.models.map((m) => [m.model, m.horizon_minutes]),
      [
        [dv, 1440],
        [intraday, 60],
      ],
      "newest activation first",
    );
    const [dr, ir] = cron.json.models;
    assert.equal(dr.at, "2016-05-12T20:00:00Z");
    assert.ok(dr.stored >= 1, JSON.stringify(dr));
    assert.match(ir.skipped, /outside the session/);
    assert.equal(cron.json.stored, dr.stored + ir.stored);
    const rows = (
      await w.db
        .prepare("SELECT horizon_minutes, prediction_time FROM ml_predictions WHERE source = 'edge' AND model_version = ?1")
        .bind(dv)
        .all()
    ).results;
    assert.ok(
      rows.length >= 1 && rows.every((r) => r.horizon_minutes === 1440 && r.prediction_time === "2016-05-12T20:00:00Z"),
      JSON.stringify(rows),
    );

    // Rows registered before migration 0009 get their horizon from their stored config (its backfill statement).
    const before = (await w.db.prepare("SELECT version, horizon_minutes FROM ml_model_versions ORDER BY id").all()).results;
    await w.db.prepare("UPDATE ml_model_versions SET horizon_minutes = NULL").run();
    const backfill = readFileSync(join(workerDir, "migrations/0009_horizons.sql"), "utf8")
      .split("\n")
      .find((l) => l.startsWith("UPDATE ml_model_versions SET horizon_minutes"));
    await w.db.prepare(backfill.replace(/;\s*$/, "")).run();
    assert.deepEqual((await w.db.prepare("SELECT version, horizon_minutes FROM ml_model_versions ORDER BY id").all()).results, before);
  });

  test("the rate limit refuses with 429", async () => {
    const sw = await startWorker(standin, { RATE_LIMIT_PER_MIN: "2" });
    try {
      const codes = [];
      for (let i = 0; i < 3; i++) codes.push((await call(sw, `/api/v1/predict?symbol=SPY&at=${AT}`, { headers: auth(CLIENT) })).status);
      assert.deepEqual(codes, [503, 503, 429]);
    } finally {
      await sw.mf.dispose();
    }
  });

  test("every predict response matches openapi.yaml", () => {
    const mine = responses.filter((x) => x.path.startsWith("/api/v1/predict") || x.path.startsWith("/api/v1/admin"));
    const { problems, checked } = checkResponses(loadSpec(workerDir), mine);
    assert.deepEqual(problems, []);
    assert.ok(checked >= 10, `only ${checked} responses had a documented schema`);
  });
});

describe("ml-predict without `at`, against a replay clock", { skip }, () => {
  let standin, w;
  before(async () => {
    // The replay clock stands at 20:00:30Z and advances a millisecond per second: its newest complete minute is
    // 19:59, far from the worker's wall clock (2026).
    standin = await startStandin(["--data", dataDir(), "--start-at", "2011-01-31T20:00:30Z", "--speed", "0.001"]);
    w = await startWorker(standin);
  });
  after(async () => {
    await w?.mf.dispose();
    await standin?.stop();
  });

  test("predicts at the upstream's newest minute, not the worker's clock: the prediction at that instant", async () => {
    assert.equal((await register(w, artifact(), true)).status, 201);
    const latest = (await standin.stats()).requests["bars/latest"] ?? 0;
    const r = await call(w, "/api/v1/predict", predictReq({ symbols: ["SPY", "ZZZZ"] }));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.at, AT, "the end of the replay's newest 1-minute bar");
    assert.deepEqual(r.json.warnings, []);
    const [spy, none] = r.json.predictions;
    assert.equal(spy.error, null, JSON.stringify(spy.error));
    assert.equal(spy.prediction.predictionTime, AT);
    assert.equal(spy.inputs[2].last, "2011-01-31T19:45:00Z", "the newest 15-minute bar complete at 20:00Z");
    assert.notEqual(none.error, null, "a symbol the upstream does not have is its own error");
    assert.equal((await standin.stats()).requests["bars/latest"], latest + 1, "one latest-bars request for the batch");
    // Asked at that instant explicitly: the same prediction (from the cache: same model, symbol and bucket).
    const at = await call(w, "/api/v1/predict", predictReq({ symbols: ["SPY"], at: AT }));
    assert.equal(at.json.predictions[0].cached, true);
    assert.deepEqual(at.json.predictions[0].prediction, spy.prediction);
    const g = await call(w, "/api/v1/predict?symbol=SPY", { headers: auth(CLIENT) });
    assert.equal(g.json.at, AT);
    assert.deepEqual(g.json.predictions[0].prediction, spy.prediction);
  });

  test("the upstream's clock unknown (Alpaca failing): predicted at the worker's clock, and the answer says so", async () => {
    await standin.fail("status=500&symbol=QQQ&count=10");
    const r = await call(w, "/api/v1/predict", predictReq({ symbols: ["QQQ"] }));
    assert.equal(r.status, 200, r.text);
    assert.ok(Date.parse(r.json.at) > Date.parse("2026-01-01T00:00:00Z"), r.json.at);
    assert.match(r.json.warnings.join("\n"), /the upstream's clock is unknown .*predicted at the worker's/);
  });
});
