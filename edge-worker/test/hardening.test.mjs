// Probes of the edge's hardening (issue 15), each a concrete request against the worker in workerd (Miniflare)
// with `mtf replay` upstream: the status, that nothing was stored on a refusal, that stored data is intact.
// Run: scripts/build-worker && cargo build -p mtf-cli && node --test edge-worker/test/hardening.test.mjs
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  ADMIN,
  artifactWithVersion,
  auth,
  built,
  CLIENT,
  dataDir,
  recorder,
  root,
  startStandin,
  startWorker,
  workerDir,
} from "./harness.mjs";
import { checkResponses, loadSpec } from "./openapi.mjs";

const skip = !built();
if (skip) console.log("SKIPPED: hardening probes need scripts/build-worker and `cargo build -p mtf-cli`");
const { call, responses, assertNoSecrets } = recorder();
/** Data routes need a token: the client token (server-side), sessions are probed in hardening.test.mjs. */
const data = { headers: auth(CLIENT) };
const post = (body, token) => ({
  method: "POST",
  headers: { "content-type": "application/json", ...(token ? auth(token) : {}) },
  body: JSON.stringify(body),
});
const fixture = () => JSON.parse(readFileSync(join(root, "crates/wasm/tests/fixtures/parity_expected.json"), "utf8"));
const prediction = (over) => ({ ...fixture(), ...over });

const count = async (w, where = "1 = 1") =>
  (await w.db.prepare(`SELECT COUNT(*) AS n FROM ml_predictions WHERE ${where}`).all()).results[0].n;
const track = (w) => call(w, "/api/v1/admin/track-accuracy", { method: "POST", headers: auth(ADMIN) });

describe("edge hardening probes", { skip }, () => {
  let standin, w;
  before(async () => {
    standin = await startStandin(["--data", dataDir()]);
    w = await startWorker(standin);
  });
  after(async () => {
    await w?.mf.dispose();
    await standin?.stop();
    assertNoSecrets(assert);
  });

  test("stream: a repeated or invalid `symbols` is refused; a foreign origin cannot open the WebSocket", async () => {
    const ws = (origin) => ({ headers: { upgrade: "websocket", ...auth(CLIENT), ...(origin ? { origin } : {}) } });
    const dup = await call(w, "/api/v1/stream?symbols=*&symbols=SPY", ws());
    assert.equal(dup.status, 400, dup.text);
    assert.equal(dup.json.error.code, "duplicate_parameter");
    const star = await call(w, "/api/v1/stream?symbols=*", ws());
    assert.equal(star.status, 400);
    assert.equal(star.json.error.code, "invalid_symbol");
    const evil = await call(w, "/api/v1/stream?symbols=SPY", ws("http://evil.example"));
    assert.equal(evil.status, 403, "cross-site WebSocket hijacking");
    assert.equal(evil.json.error.code, "origin_not_allowed");
    const ok = await call(w, "/api/v1/stream?symbols=SPY", ws("http://allowed.example"));
    assert.equal(ok.status, 101);
    const status = await call(w, "/api/v1/stream/status");
    assert.ok(!status.json.subscribed.includes("*"), JSON.stringify(status.json));
    // Any route: a parameter given twice is refused, not silently resolved.
    assert.equal((await call(w, "/api/v1/bars?symbol=SPY&symbol=QQQ&timeframe=1m", data)).json.error.code, "duplicate_parameter");
  });

  test("data routes, ml-predict and the stream need a token; nothing reaches Alpaca without one", async () => {
    const before = await standin.stats();
    for (const path of [
      "/api/v1/bars?symbol=SPY&timeframe=1m",
      "/api/v1/quote?symbol=SPY",
      "/api/v1/news?symbols=SPY",
      "/api/v1/predict?symbol=SPY",
    ]) {
      const r = await call(w, path);
      assert.equal(r.status, 401, `${path}: ${r.text}`);
      assert.match(r.json.error.message, /POST \/api\/v1\/session/);
      assert.equal((await call(w, path, { headers: auth("mtf1.forged.token") })).json.error.code, "invalid_token", path);
    }
    const ws = await call(w, "/api/v1/stream?symbols=SPY", { headers: { upgrade: "websocket" } });
    assert.equal(ws.status, 401, "a WebSocket without a token");
    const after = await standin.stats();
    assert.deepEqual(after.requests, before.requests, "no upstream request for a refused call");
  });

  test("sessions: issued to an allowed origin only, bound to the address, signed, scoped, limited per token", async () => {
    const ip = (a) => ({ "CF-Connecting-IP": a });
    const issue = (headers) => call(w, "/api/v1/session", { method: "POST", headers });
    assert.equal((await issue(ip("198.51.100.7"))).json.error.code, "origin_required", "no Origin, no token");
    assert.equal((await issue({ ...ip("198.51.100.7"), origin: "http://evil.example" })).status, 403);
    const s = await issue({ ...ip("198.51.100.7"), origin: "http://allowed.example" });
    assert.equal(s.status, 200, s.text);
    assert.match(s.json.token, /^mtf1\.[\w-]+\.[\w-]+$/);
    assert.deepEqual(s.json.scopes, ["read", "write"]);
    assert.ok(Date.parse(s.json.expires_at) > Date.now() + 60_000);
    const bearer = (t, a) => ({ headers: { ...auth(t), ...ip(a) } });
    const bars = "/api/v1/bars?symbol=SPY&timeframe=1m&start=2011-01-07T14:30:00Z&end=2011-01-07T16:00:00Z&limit=3";
    assert.equal((await call(w, bars, bearer(s.json.token, "198.51.100.7"))).status, 200);
    const moved = await call(w, bars, bearer(s.json.token, "203.0.113.50"));
    assert.equal(moved.status, 401, "a token used from another address");
    assert.match(moved.json.error.message, /another client address/);
    // Claims edited (another address) with the original signature.
    const [p, body, sig] = s.json.token.split(".");
    const claims = JSON.parse(Buffer.from(body, "base64url").toString());
    const edited = Buffer.from(JSON.stringify({ ...claims, sub: "203.0.113.50" })).toString("base64url");
    const forged = await call(w, bars, bearer(`${p}.${edited}.${sig}`, "203.0.113.50"));
    assert.equal(forged.json.error.code, "invalid_token");
    assert.match(forged.json.error.message, /signature/);
    // The stream takes the token as a query parameter (browsers cannot set headers on a WebSocket).
    const ws = await call(w, `/api/v1/stream?symbols=SPY&token=${s.json.token}`, {
      headers: { upgrade: "websocket", origin: "http://allowed.example", ...ip("198.51.100.7") },
    });
    assert.equal(ws.status, 101);
    // Another key (a rotated SESSION_SECRET) refuses the token.
    const other = await startWorker(standin, { SESSION_SECRET: "rotated", SESSION_RATE_PER_MIN: "2", SESSION_ISSUE_PER_MIN: "2" });
    try {
      assert.equal((await call(other, bars, bearer(s.json.token, "198.51.100.7"))).json.error.code, "invalid_token");
      const mint = () =>
        call(other, "/api/v1/session", { method: "POST", headers: { ...ip("198.51.100.8"), origin: "http://allowed.example" } });
      const t = (await mint()).json.token;
      assert.equal((await mint()).status, 200);
      const third = await mint();
      assert.equal(third.status, 429, "session issuance is limited per address");
      const codes = [];
      for (let i = 0; i < 3; i++) codes.push((await call(other, bars, bearer(t, "198.51.100.8"))).status);
      assert.deepEqual(codes, [200, 200, 429], "requests are limited per token");
    } finally {
      await other.mf.dispose();
    }
  });

  test("browser writes with a session: a registered model version and a recent time, stored as `browser`", async () => {
    const ip = { "CF-Connecting-IP": "198.51.100.9" };
    const s = await call(w, "/api/v1/session", { method: "POST", headers: { ...ip, origin: "http://allowed.example" } });
    const write = (body) =>
      call(w, "/api/v1/predictions", { ...post(body, s.json.token), headers: { ...post(body, s.json.token).headers, ...ip } });
    const artifact = new Uint8Array(readFileSync(join(root, "models/spy-15m-h4/model.mtf")));
    const reg = await call(w, "/api/v1/models", {
      method: "POST",
      headers: { ...auth(ADMIN), "content-type": "application/octet-stream" },
      body: artifact,
    });
    assert.ok([201, 200].includes(reg.status), reg.text);
    const version = reg.json.model.version;
    const now = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 120_000).toISOString().replace(".000Z", "Z");
    const before = await count(w);
    const unknown = await write(prediction({ symbol: "IWM", modelVersion: "made-up@9", predictionTime: now }));
    assert.equal(unknown.status, 422, unknown.text);
    assert.equal(unknown.json.error.code, "unknown_model_version");
    const old = await write(prediction({ symbol: "IWM", modelVersion: version, predictionTime: "2011-01-31T20:00:00Z" }));
    assert.equal(old.json.error.code, "prediction_too_old", "a backdated row would forge the model's live record");
    assert.equal(await count(w), before, "nothing stored");
    const ok = await write(prediction({ symbol: "IWM", modelVersion: version, predictionTime: now }));
    assert.equal(ok.status, 201, ok.text);
    const got = (await call(w, "/api/v1/predictions?symbol=IWM")).json.latest;
    assert.equal(got.source, "browser");
    assert.equal(got.model_version, version);
  });

  test("training rows: a retried older write never overwrites a newer one; sub-second instants stay distinct", async () => {
    const row = (over) => ({ symbol: "ASOF", timeframe: "1m", timestamp: "2011-01-31T15:00:00Z", features: [1], target: 1, ...over });
    const up = async (rows) => (await call(w, "/api/v1/training-data", post({ rows }, ADMIN))).json;
    assert.deepEqual(await up([row({ target: 2, as_of: "2011-02-01T00:00:02Z" })]), { upserted: 1, kept_newer: 0 });
    // The older request arrives late (a retry): the newer values are kept and the answer says so.
    assert.deepEqual(await up([row({ target: 1, as_of: "2011-02-01T00:00:01Z" })]), { upserted: 0, kept_newer: 1 });
    assert.deepEqual(await up([row({ target: 3, as_of: "2011-02-01T00:00:03Z" })]), { upserted: 1, kept_newer: 0 });
    // Two instants 250 ms apart are two rows (the fraction is not truncated into the whole second's key).
    await up([row({ timestamp: "2011-01-31T15:01:00.250Z", target: 4 }), row({ timestamp: "2011-01-31T15:01:00Z", target: 5 })]);
    assert.equal((await up([row({ as_of: "yesterday" })])).error.code, "invalid_row");
    const got = (await call(w, "/api/v1/training-data?symbol=ASOF&timeframe=1m")).json.rows.map((x) => [x.timestamp, x.target]);
    assert.deepEqual(got, [
      ["2011-01-31T15:00:00Z", 3],
      ["2011-01-31T15:01:00Z", 5],
      ["2011-01-31T15:01:00.250Z", 4],
    ]);
    // A range starting at the whole second includes the row 250 ms after it; one ending there does not.
    const range = async (q) => (await call(w, `/api/v1/training-data?symbol=ASOF&timeframe=1m&${q}`)).json.rows.map((x) => x.timestamp);
    assert.deepEqual(await range("start=2011-01-31T15:01:00Z"), ["2011-01-31T15:01:00Z", "2011-01-31T15:01:00.250Z"]);
    assert.deepEqual(await range("end=2011-01-31T15:01:00Z"), ["2011-01-31T15:00:00Z", "2011-01-31T15:01:00Z"]);
  });

  test("symbols made of dots or dashes only never reach an upstream path", async () => {
    for (const s of [".", "..", "...", "-", ".SPY", "A..B"]) {
      const r = await call(w, `/api/v1/bars?symbol=${encodeURIComponent(s)}&timeframe=1m`, data);
      assert.equal(r.status, 400, s);
      assert.equal(r.json.error.code, "invalid_symbol", s);
      assert.equal((await call(w, `/api/v1/quote?symbol=${encodeURIComponent(s)}`, data)).status, 400, s);
    }
  });

  test("browser writes: a far-future time is refused (nothing stored); only the schema's fields are stored", async () => {
    const before = await count(w);
    const future = await call(w, "/api/v1/predictions", post(prediction({ predictionTime: "9999-12-31T00:00:00Z" }), CLIENT));
    assert.equal(future.status, 422, future.text);
    assert.match(future.json.error.message, /predictionTime: is in the future/);
    assert.equal(await count(w), before, "nothing stored");
    const extra = prediction({ symbol: "QQQ", evil: { html: "<script>alert(1)</script>" } });
    extra.interval = { ...extra.interval, note: "x" };
    assert.equal((await call(w, "/api/v1/predictions", post(extra, CLIENT))).status, 201);
    const got = (await call(w, "/api/v1/predictions?symbol=QQQ")).json.latest;
    assert.equal(got.payload.evil, undefined);
    assert.equal(got.payload.interval.note, undefined);
    assert.equal(got.payload.predictedPrice, extra.predictedPrice);
    assert.equal(got.source, "client", "browser-written predictions are marked as such");
    assert.equal(got.status, "pending");
  });

  test("accuracy tracking cannot stall: backlogs are bounded per symbol, holidays are unscorable, the undecidable expire", async () => {
    // 120 backdated predictions of a symbol Alpaca does not know (sorting before SPY), three days apart (a window each), posted before a
    // real one: they are older, so they come first.
    const junk = Array.from({ length: 120 }, (_, i) => {
      const t = new Date(Date.UTC(2010, 0, 1) + i * 3 * 86_400_000).toISOString().replace(".000Z", "Z");
      return prediction({ symbol: "AAAA", predictionTime: t, modelVersion: "probe@1" });
    });
    for (const part of [junk.slice(0, 100), junk.slice(100)])
      assert.equal((await call(w, "/api/v1/predictions", post(part, CLIENT))).status, 201);
    const real = prediction({ predictionTime: "2011-01-14T15:00:00Z", modelVersion: "probe@1" });
    const holiday = prediction({ predictionTime: "2011-01-17T15:00:00Z", modelVersion: "probe@1" }); // Martin Luther King Day
    assert.equal((await call(w, "/api/v1/predictions", post([real, holiday], CLIENT))).status, 201);
    const run = await track(w);
    assert.equal(run.status, 200, run.text);
    // The real one is scored in the first run although 120 older rows were ahead of it.
    const spy = (
      await w.db
        .prepare(
          "SELECT prediction_time, status, realized_price FROM ml_predictions WHERE symbol = 'SPY' AND model_version = 'probe@1' ORDER BY prediction_time",
        )
        .all()
    ).results;
    assert.deepEqual(
      spy.map((r) => [r.prediction_time, r.status]),
      [
        ["2011-01-14T15:00:00Z", "scored"],
        ["2011-01-17T15:00:00Z", "unscorable"],
      ],
    );
    assert.ok(spy[0].realized_price > 0);
    assert.ok(run.json.scored >= 1 && run.json.unscorable >= 1, run.text);
    assert.equal(await count(w, "symbol = 'AAAA' AND score_attempts = 1"), 3, "the unknown symbol took three windows, no more");
    // A day of runs without a decision: expired, and out of the queue.
    await w.db.prepare("UPDATE ml_predictions SET score_attempts = 288 WHERE symbol = 'AAAA'").run();
    const again = await track(w);
    assert.equal(again.json.expired, 120, again.text);
    assert.equal(await count(w, "status = 'pending' AND symbol = 'AAAA'"), 0);
    const perf = await call(w, `/api/v1/models/${encodeURIComponent("probe@1")}/performance`);
    assert.equal(perf.json.pending, 0, perf.text);
    assert.equal(perf.json.evaluated, 1);
  });

  test("security headers: nosniff, a request id, no-store on authenticated answers, Vary: Origin always", async () => {
    const anon = await call(w, "/api/v1/health");
    assert.equal(anon.headers.get("x-content-type-options"), "nosniff");
    assert.match(anon.headers.get("x-request-id"), /^local-[0-9a-f]{12}$/);
    assert.equal(anon.headers.get("vary"), "Origin");
    assert.equal(anon.headers.get("cache-control"), null);
    const authed = await call(w, "/api/v1/predictions", post([], CLIENT));
    assert.equal(authed.headers.get("cache-control"), "no-store");
    // A designed error keeps its message; the body never carries internal detail (checked for secrets after).
    assert.equal(authed.json.error.code, "invalid_batch");
  });

  test("overlapping scoring runs never score a row twice (conditional updates, counted from meta.changes)", async () => {
    const p = prediction({ predictionTime: "2011-01-20T15:00:00Z", modelVersion: "overlap@1" });
    assert.equal((await call(w, "/api/v1/predictions", post(p, CLIENT))).status, 201);
    const [a, b] = await Promise.all([track(w), track(w)]);
    assert.equal(a.status, 200, a.text);
    assert.equal(b.status, 200, b.text);
    const rows = (await w.db.prepare("SELECT status FROM ml_predictions WHERE model_version = 'overlap@1'").all()).results;
    assert.deepEqual(rows, [{ status: "scored" }]);
    assert.equal(a.json.scored + b.json.scored, 1, `${a.text} ${b.text}`);
  });
  test("registry: a pruned version name is never re-used for other bytes; concurrent duplicates are 200/409, never 500", async () => {
    const bytes = new Uint8Array(readFileSync(join(root, "models/spy-15m-h4/model.mtf")));
    const reg = (b) => call(w, "/api/v1/models", { method: "POST", headers: auth(ADMIN), body: b });
    assert.equal((await reg(artifactWithVersion(bytes, "9.0.0"))).status, 201);
    // The version is pruned (here directly: prune keeps the newest five)…
    await w.db.prepare("DELETE FROM ml_model_versions WHERE version = 'spy-15m-h4@9.0.0'").run();
    // …and its name comes back with other bytes: refused, its artifact URL was served as immutable.
    const other = artifactWithVersion(bytes, "9.0.0", "2031-01-01T00:00:00Z");
    const again = await reg(other);
    assert.equal(again.status, 409, again.text);
    assert.match(again.json.error.message, /registered before with different bytes/);
    // The same bytes may come back.
    assert.equal((await reg(artifactWithVersion(bytes, "9.0.0"))).status, 201);
    // Two registrations of one new version at once: one wins, the other is told so — no raw 500.
    const a = artifactWithVersion(bytes, "9.1.0");
    const b = artifactWithVersion(bytes, "9.1.0", "2032-01-01T00:00:00Z");
    const codes = (await Promise.all([reg(a), reg(b)])).map((r) => r.status).sort();
    assert.deepEqual(codes, [201, 409]);
    const same = (await Promise.all([reg(artifactWithVersion(bytes, "9.2.0")), reg(artifactWithVersion(bytes, "9.2.0"))]))
      .map((r) => r.status)
      .sort();
    assert.deepEqual(same, [200, 201]);
    const active = (await w.db.prepare("SELECT COUNT(*) AS n FROM ml_model_versions WHERE is_active = 1").all()).results[0].n;
    assert.equal(active, 1);
  });

  test("a chunked body over the limit is refused while streaming, and nothing is stored", async () => {
    const before = await count(w);
    const big = JSON.stringify(Array.from({ length: 100 }, () => prediction({ symbol: "CHNK" }))).padEnd(1_200_000, " ");
    const enc = new TextEncoder().encode(big);
    const body = new ReadableStream({
      start(c) {
        for (let i = 0; i < enc.length; i += 64 << 10) c.enqueue(enc.subarray(i, i + (64 << 10)));
        c.close();
      },
    });
    const r = await call(w, "/api/v1/predictions", {
      method: "POST",
      headers: { ...auth(CLIENT), "content-type": "application/json" },
      body,
      duplex: "half",
    });
    assert.equal(r.status, 413, r.text);
    assert.equal(await count(w), before);
  });

  test("the rate limit covers every route, keys IPv6 by /64 and sends Retry-After", async () => {
    const sw = await startWorker(standin, { RATE_LIMIT_PER_MIN: "2" });
    try {
      const from = (ip) => ({ headers: { "cf-connecting-ip": ip } });
      assert.equal((await call(sw, "/api/v1/models", from("2001:db8:1:2::1"))).status, 200);
      assert.equal((await call(sw, "/api/v1/predictions?symbol=SPY", from("2001:db8:1:2:ffff::9"))).status, 200);
      const third = await call(sw, "/api/v1/models/active", from("2001:db8:1:2:abcd::5"));
      assert.equal(third.status, 429, "the same /64 shares one budget, across routes");
      assert.ok(Number(third.headers.get("retry-after")) >= 1, third.headers.get("retry-after"));
      assert.equal((await call(sw, "/api/v1/models", from("2001:db8:1:3::1"))).status, 200, "another /64");
      assert.equal((await call(sw, "/api/v1/health", from("2001:db8:1:2::1"))).status, 200, "health is not limited");
    } finally {
      await sw.mf.dispose();
    }
  });
  test("the edge-wide limiter (Rate Limiting binding) counts across isolates: over its limit is a 429 with Retry-After", async () => {
    const sw = await startWorker(standin, { RATE_LIMIT_PER_MIN: "100000", EDGE_RATE_LIMIT: "3" });
    try {
      const from = (ip) => ({ headers: { "cf-connecting-ip": ip } });
      for (let i = 0; i < 3; i++) assert.equal((await call(sw, "/api/v1/models", from("198.51.100.7"))).status, 200);
      const over = await call(sw, "/api/v1/predictions?symbol=SPY", from("198.51.100.7"));
      assert.equal(over.status, 429, "the isolate's own budget is far from spent: the binding refused");
      assert.equal(over.json.error.code, "rate_limited");
      assert.equal(over.headers.get("retry-after"), "60");
      assert.equal((await call(sw, "/api/v1/models", from("198.51.100.8"))).status, 200, "another address");
    } finally {
      await sw.mf.dispose();
    }
  });
  test("cache keys are normalised: varied start, end and limit reach Alpaca once and answer exactly", async () => {
    const base = "/api/v1/bars?symbol=SPY&timeframe=1m";
    const before = (await standin.stats()).requests.bars ?? 0;
    const a = await call(w, `${base}&start=2011-01-05T14:30:00Z&end=2011-01-05T16:00:00Z&limit=5`, data);
    const b = await call(w, `${base}&start=2011-01-05T14:29:00.5Z&end=2011-01-05T16:00:59Z&limit=7`, data);
    assert.equal(a.status, 200, a.text);
    assert.equal((await standin.stats()).requests.bars - before, 1, "one upstream request for both");
    assert.equal(a.json.bars.length, 5);
    assert.equal(b.json.bars.length, 7);
    assert.deepEqual(b.json.bars.slice(2), a.json.bars, "the newest bars, the same");
    assert.equal(b.headers.get("x-cache"), "HIT");
  });
  test("every JSON response of the probes matches openapi.yaml (errors included)", () => {
    const { problems, checked } = checkResponses(loadSpec(workerDir), responses);
    assert.deepEqual(problems, []);
    assert.ok(checked >= 10, `only ${checked} responses had a documented schema`);
  });
});
