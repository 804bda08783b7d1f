// The package over the real CPU wasm module in Node (the browser runs the same module; see web/e2e for Chromium).
// Needs `scripts/build-wasm cpu` first; skips visibly without it unless MTF_REQUIRE_BROWSER=1.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { completeBars, LiveBars, loadPredictor, loadWasm, MtfError } from "../dist/index.js";
import { close } from "./compare.mjs";

const root = new URL("../../../../", import.meta.url);
const wasmPath = new URL("web/packages/mtf-predict/wasm/cpu/mtf_wasm_bg.wasm", root);
const fixtures = new URL("crates/wasm/tests/fixtures/", root);
const have = existsSync(wasmPath);
if (!have) {
  if (process.env.MTF_REQUIRE_BROWSER === "1") throw new Error(`${wasmPath.pathname} missing: run scripts/build-wasm cpu`);
  console.log(`SKIPPED: wasm tests — ${wasmPath.pathname} not built (scripts/build-wasm cpu)`);
}
const artifact = () => new Uint8Array(readFileSync(new URL("models/spy-15m-h4/model.mtf", root)));
const request = () => JSON.parse(readFileSync(new URL("parity_request.json", fixtures), "utf8"));
const expected = () => JSON.parse(readFileSync(new URL("parity_expected.json", fixtures), "utf8"));

const load = (model = artifact()) => loadPredictor({ model, backend: "cpu", wasmUrl: readFileSync(wasmPath) });

test("predicts what `mtf predict` predicts (committed fixture, 1e-4 relative), twice in a row", { skip: !have }, async () => {
  const p = await load();
  assert.equal(p.backend, "cpu");
  assert.equal(p.version, "spy-15m-h4@0.1.0");
  assert.equal(p.source, "bytes");
  // The header is read from the module once per predictor, not re-serialised on every access.
  assert.equal(p.info, p.info);
  assert.equal(p.info.data.base, "15m");
  // Constants read from the module, not copied: horizon in minutes, warm-up, interval level.
  assert.equal(p.info.horizon_minutes, p.info.data.labels.horizon * 15);
  assert.equal(p.info.warmup_bars, 49);
  assert.equal(p.info.interval_level, 0.8);
  assert.equal(p.info.norm, undefined, "the client view leaves the normalisation statistics out");
  close(await p.predict(request()), expected(), 1e-4);
  close(await p.predict(request()), expected(), 1e-4);
  assert.ok(p.lastLatencyMs >= 0);
});

test("a batch gives each request its own prediction", { skip: !have }, async () => {
  const p = await load();
  const r = request();
  const shorter = { ...r, symbol: "SPY2", at: "2011-01-31T19:00:00Z" };
  const [a, b] = await p.predictBatch([r, shorter]);
  close(a, expected(), 1e-4);
  close(b, await p.predict(shorter), 1e-5);
  assert.equal(b.predictionTime, "2011-01-31T19:00:00Z");
});

test("bad bars reject with a message naming the problem, and the module keeps working", { skip: !have }, async () => {
  const p = await load();
  const r = request();
  const bad = structuredClone(r);
  bad.bars["1m"][5].h = -1;
  await assert.rejects(p.predict(bad), (e) => e instanceof MtfError && e.code === "input" && /bars\["1m"\]/.test(e.message));
  await assert.rejects(p.predict({ symbol: "SPY", bars: { "7m": [] } }), /7m/);
  await assert.rejects(p.predict({ symbol: "SPY", bars: {} }), /no bars/);
  close(await p.predict(r), expected(), 1e-4);
  assert.ok(p.indicators(r.bars["1d"], ["rsi_14"]).rsi_14.length === r.bars["1d"].length);
});

test("a corrupted artifact is refused, and loading a good one afterwards works", { skip: !have }, async () => {
  const bytes = artifact();
  bytes[bytes.length - 10] ^= 0xff;
  await assert.rejects(load(bytes), (e) => e instanceof MtfError && e.code === "artifact");
  await assert.rejects(load(new Uint8Array([1, 2, 3])), (e) => e.code === "artifact");
  const p = await load();
  close(await p.predict(request()), expected(), 1e-4);
});

test("a declared sha256 that does not match the bytes is refused before loading", { skip: !have }, async () => {
  await assert.rejects(
    loadPredictor({ model: artifact(), sha256: "00".repeat(32), backend: "cpu", wasmUrl: readFileSync(wasmPath) }),
    /SHA-256/,
  );
});

test("LiveBars folds stream bars and corrections into 15-minute bars like the REST history", { skip: !have }, async () => {
  await loadWasm("cpu", readFileSync(wasmPath));
  const t = (m) => new Date(Date.parse("2011-01-03T14:30:00Z") + m * 60_000).toISOString().replace(".000Z", "Z");
  const minute = (m, c, v = 100) => ({ t: t(m), o: c, h: c + 0.5, l: c - 0.5, c, v });
  const live = await LiveBars.create("SPY", ["15m"]);
  // History: the 09:30 bar complete; minutes 09:45–09:47 of the bar in progress.
  live.seed("15m", [{ t: t(0), o: 10, h: 12, l: 9, c: 11, v: 1500 }]);
  live.seedMinutes([minute(14, 11), minute(15, 11), minute(16, 12), minute(17, 13)]);
  let bars = live.bars("15m");
  assert.equal(bars.length, 2);
  assert.deepEqual(bars[0], { t: t(0), o: 10, h: 12, l: 9, c: 11, v: 1500 }, "the seeded complete bar is kept");
  assert.equal(bars[1].t, t(15));
  assert.equal(bars[1].v, 300);
  // A streamed minute bar, then Alpaca's correction of it (u): the volume is replaced, not added.
  live.push([
    { T: "b", S: "SPY", t: t(18), o: 13, h: 14, l: 12, c: 13.5, v: 50 },
    { T: "b", S: "AAPL", t: t(18), o: 1, h: 1, l: 1, c: 1, v: 9 },
  ]);
  assert.equal(live.bars("15m")[1].v, 350);
  live.push([{ T: "u", S: "SPY", t: t(18), o: 13, h: 15, l: 12, c: 13.5, v: 80 }]);
  bars = live.bars("15m");
  assert.equal(bars[1].v, 380);
  assert.equal(bars[1].h, 15);
  // The bucket closes when a minute of the next one arrives; `current: false` leaves the open bar out.
  const update = live.push([{ T: "b", S: "SPY", t: t(30), o: 13, h: 13, l: 13, c: 13, v: 1 }]);
  assert.ok(update.closed.includes("15m"), JSON.stringify(update));
  assert.equal(live.bars("15m", false).length, 2);
  // Bad input is named, and the builder keeps working.
  assert.throws(
    () => live.bars("1h"),
    (e) => e instanceof MtfError && /1h is not built/.test(e.message),
  );
  assert.throws(
    () => live.push([{ T: "b", S: "SPY", t: "yesterday" }]),
    (e) => e instanceof MtfError && /stream frame/.test(e.message),
  );
  await assert.rejects(LiveBars.create("SPY", ["7m"]), /unknown timeframe/);
  assert.equal(live.bars("15m").length, 3);
  live.free();
});

test("completeBars keeps the bars complete at an instant; a bad instant rejects, the module keeps working", { skip: !have }, async () => {
  await load();
  const r = request();
  const minutes = await completeBars(r.bars["1m"], "1m", r.at);
  // A minute bar is complete one minute after it starts; the fixture's minutes run past its instant.
  assert.ok(minutes.length > 0 && minutes.length < r.bars["1m"].length);
  assert.ok(minutes.every((b) => Date.parse(b.t) + 60_000 <= Date.parse(r.at)));
  assert.deepEqual(minutes, r.bars["1m"].slice(0, minutes.length));
  // A January day ends at the 16:00 New York close (21:00 UTC): at 20:00 UTC that day's bar is not complete.
  const days = await completeBars(r.bars["1d"], "1d", r.at);
  assert.equal(days.at(-1).t.slice(0, 10) < r.at.slice(0, 10), true);
  assert.equal((await completeBars(r.bars["1d"], "1d", "2011-01-31T21:00:00Z")).at(-1).t.slice(0, 10), "2011-01-31");
  await assert.rejects(completeBars(r.bars["1d"], "1d", "not a time"), (e) => e instanceof MtfError && /RFC 3339/.test(e.message));
  assert.equal((await completeBars(r.bars["1d"], "1d", r.at)).length, days.length);
});
