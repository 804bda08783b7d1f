// Unit tests of the package's pure parts (run on the compiled dist/ with `node --test`).
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  activeByHorizon,
  BarsCache,
  EdgeClient,
  fetchArtifact,
  MtfError,
  PredictionCache,
  parseHorizonMinutes,
  planFetch,
  StreamHub,
  sha256Hex,
  timeframeMinutes,
} from "../dist/index.js";

test("sha256Hex matches a known vector", async () => {
  assert.equal(await sha256Hex(new TextEncoder().encode("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
});

/** A Cache Storage stand-in with the subset the package uses. */
function memoryCaches() {
  const buckets = new Map();
  return {
    buckets,
    async open(name) {
      if (!buckets.has(name)) buckets.set(name, new Map());
      const m = buckets.get(name);
      return {
        async match(url) {
          const b = m.get(url);
          return b ? new Response(b) : undefined;
        },
        async put(url, res) {
          m.set(url, new Uint8Array(await res.arrayBuffer()));
        },
        async delete(url) {
          return m.delete(url);
        },
      };
    },
  };
}

test("fetchArtifact caches verified bytes and serves them from the cache afterwards", async () => {
  const body = new Uint8Array([1, 2, 3, 4]);
  const sha = await sha256Hex(body);
  let calls = 0;
  const fetch = async () => {
    calls++;
    return new Response(body);
  };
  const caches = memoryCaches();
  const a = await fetchArtifact("https://x/m.mtf", { sha256: sha, fetch, caches });
  assert.equal(a.source, "network");
  const b = await fetchArtifact("https://x/m.mtf", { sha256: sha, fetch, caches });
  assert.equal(b.source, "cache");
  assert.deepEqual([...b.bytes], [...body]);
  assert.equal(calls, 1);
});

test("fetchArtifact rejects bytes whose sha256 differs and does not cache them", async () => {
  const caches = memoryCaches();
  const fetch = async () => new Response(new Uint8Array([9, 9]));
  await assert.rejects(
    fetchArtifact("https://x/m.mtf", { sha256: "00".repeat(32), fetch, caches }),
    (e) => e instanceof MtfError && e.code === "artifact" && /SHA-256/.test(e.message),
  );
  assert.equal(caches.buckets.get("mtf-models-v1").size, 0);
});

test("a corrupted cached artifact is replaced by a fresh download", async () => {
  const good = new Uint8Array([5, 6, 7]);
  const sha = await sha256Hex(good);
  const caches = memoryCaches();
  (await caches.open("mtf-models-v1")).put("https://x/m.mtf", new Response(new Uint8Array([0])));
  let calls = 0;
  const r = await fetchArtifact("https://x/m.mtf", {
    sha256: sha,
    caches,
    fetch: async () => {
      calls++;
      return new Response(good);
    },
  });
  assert.equal(r.source, "network");
  assert.equal(calls, 1);
  assert.equal(
    (await fetchArtifact("https://x/m.mtf", { sha256: sha, caches, fetch: async () => assert.fail("refetched") })).source,
    "cache",
  );
});

test("fetchArtifact reports HTTP failures with the status", async () => {
  await assert.rejects(
    fetchArtifact("https://x/m.mtf", { cacheName: false, fetch: async () => new Response("no", { status: 404 }) }),
    (e) => e.status === 404 && /HTTP 404/.test(e.message),
  );
  await assert.rejects(
    fetchArtifact("https://x/m.mtf", {
      cacheName: false,
      fetch: async () => {
        throw new TypeError("offline");
      },
    }),
    (e) => e.code === "network",
  );
});

const pred = (t, lastBarStart = "2011-01-31T19:45:00Z") => ({
  symbol: "SPY",
  predictionTime: t,
  lastBarStart,
  confidence: 0.5,
  signal: "hold",
});

test("PredictionCache: fresh within the TTL, clamped to 1–5 minutes, last valid kept for stale fallback", () => {
  let now = 0;
  const c = new PredictionCache(1000, () => now);
  assert.equal(c.ttlMs, 60_000);
  assert.equal(new PredictionCache(10 * 60_000).ttlMs, 300_000);
  c.set("spy", "60m", pred("a"));
  assert.equal(c.get("SPY", "60m").predictionTime, "a");
  assert.equal(c.get("SPY", "15m"), undefined, "keyed by horizon");
  assert.equal(c.get("SPY", "60m", "2011-01-31T20:00:00Z"), undefined, "a newer bar invalidates");
  now = 59_999;
  assert.ok(c.get("SPY", "60m"));
  now = 60_000;
  assert.equal(c.get("SPY", "60m"), undefined);
  assert.equal(c.last("SPY", "60m").prediction.predictionTime, "a");
});

test("timeframes and horizons parse, bad ones are named", () => {
  assert.equal(timeframeMinutes("4h"), 240);
  assert.equal(parseHorizonMinutes("1h"), 60);
  assert.equal(parseHorizonMinutes("90min"), 90);
  assert.equal(parseHorizonMinutes("1d"), 1440);
  assert.equal(parseHorizonMinutes(15), 15);
  assert.throws(() => parseHorizonMinutes("soon"), /soon/);
  assert.throws(() => timeframeMinutes("7m"), /7m/);
});

test("planFetch fetches the finest intraday timeframe with enough history for the coarsest, and daily bars", () => {
  const p = planFetch(["1m", "5m", "15m", "1h", "1d"], 32);
  assert.equal(p.intraday.timeframe, "1m");
  // (32 + 49 warm-up) hourly bars = 4860 session minutes = 13 sessions (+2) of ≤ 960 minutes, capped at one page.
  assert.equal(p.intraday.limit, 10_000);
  assert.equal(planFetch(["5m", "15m"], 32).intraday.limit, Math.ceil(((Math.ceil((81 * 15) / 390) + 2) * 960) / 5));
  assert.equal(p.daily.limit, 182);
  assert.equal(planFetch(["1d"], 32).intraday, undefined);
  assert.equal(planFetch(["5m", "1h"], 32).intraday.timeframe, "5m");
  // Weeks and months are resampled from days: a daily-base model with 1w/1mo inputs fetches days only, enough
  // for the monthly window (182 bars × 23 trading days, capped at one page).
  const d = planFetch(["1d", "1w", "1mo"], 32);
  assert.equal(d.intraday, undefined);
  assert.equal(d.daily.limit, 4_186);
  assert.equal(planFetch(["1d", "1w"], 32).daily.limit, 910);
});

function recordingFetch(status = 200, body = { ok: true }) {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, init });
    return new Response(JSON.stringify(body), { status });
  };
  return { calls, fetch };
}

test("EdgeClient builds encoded URLs and sends tokens only where needed", async () => {
  const { calls, fetch } = recordingFetch(200, { bars: [] });
  const c = new EdgeClient("https://edge.example/", { fetch, token: "client-t", adminToken: "admin-t" });
  await c.bars("BRK.B", "1m", { limit: 100 });
  assert.equal(calls[0].url, "https://edge.example/api/v1/bars?symbol=BRK.B&timeframe=1m&limit=100");
  assert.equal(calls[0].init.headers.authorization, "Bearer client-t", "data routes need a token");
  await c.savePredictions([]);
  assert.equal(calls[1].init.method, "POST");
  assert.equal(calls[1].init.headers.authorization, "Bearer client-t");
  await c.activateModel("a b@1");
  assert.equal(calls[2].url, "https://edge.example/api/v1/models/a%20b%401/activate");
  assert.equal(calls[2].init.headers.authorization, "Bearer admin-t");
  await c.news(["SPY", "AAPL"], 5);
  assert.equal(calls[3].url, "https://edge.example/api/v1/news?symbols=SPY%2CAAPL&limit=5");
  assert.equal(c.streamUrl(["SPY"]), "wss://edge.example/api/v1/stream?symbols=SPY");
  assert.equal(c.streamUrl(["SPY"], "mtf1.a+b"), "wss://edge.example/api/v1/stream?symbols=SPY&token=mtf1.a%2Bb");
  await c.models();
  assert.equal(calls.at(-1).init.headers.authorization, undefined, "public reads carry no token");
});

test("EdgeClient without a token: one session for concurrent calls, renewed on a 401, none on an edge without sessions", async () => {
  const calls = [];
  let issued = 0;
  let refuse = false;
  const fetch = async (url, init) => {
    calls.push({ url, auth: init.headers.authorization });
    if (url.endsWith("/api/v1/session")) {
      issued++;
      const expires_at = new Date(Date.now() + 900_000).toISOString();
      return new Response(JSON.stringify({ token: `mtf1.s${issued}.sig`, expires_at, ttl_s: 900, scopes: ["read", "write"] }));
    }
    if (refuse) {
      refuse = false;
      return new Response(JSON.stringify({ error: { code: "token_expired", message: "expired" } }), { status: 401 });
    }
    return new Response(JSON.stringify({ bars: [] }));
  };
  const c = new EdgeClient("https://edge.example", { fetch });
  await Promise.all([c.bars("SPY", "1m"), c.quote("SPY"), c.savePredictions([])]);
  assert.equal(issued, 1, "one session request for three concurrent calls");
  assert.deepEqual(
    calls.filter((x) => !x.url.endsWith("/session")).map((x) => x.auth),
    ["Bearer mtf1.s1.sig", "Bearer mtf1.s1.sig", "Bearer mtf1.s1.sig"],
  );
  assert.equal(calls.find((x) => x.url.endsWith("/session")).auth, undefined, "the session request carries no secret");
  refuse = true;
  await c.bars("SPY", "1m");
  assert.equal(issued, 2, "a 401 gets one fresh token and one retry");
  assert.equal(calls.at(-1).auth, "Bearer mtf1.s2.sig");
  // An edge (or stand-in) without the session route: requests go without a token, the route is not asked again.
  const old = [];
  const oldEdge = new EdgeClient("https://old.example", {
    fetch: async (url, init) => {
      old.push({ url, auth: init.headers.authorization });
      return url.endsWith("/session") ? new Response("{}", { status: 404 }) : new Response(JSON.stringify({ bars: [] }));
    },
  });
  await oldEdge.bars("SPY", "1m");
  await oldEdge.bars("SPY", "1d");
  assert.deepEqual(
    old.map((x) => [x.url.split("?")[0].split("/").at(-1), x.auth]),
    [
      ["session", undefined],
      ["bars", undefined],
      ["bars", undefined],
    ],
  );
});

test("EdgeClient.predict posts the symbols with the client token and returns the edge's entries", async () => {
  const answer = { model: { version: "m@1", sha256: "ab" }, at: "2011-01-31T20:00:00Z", predictions: [], warnings: [] };
  const { calls, fetch } = recordingFetch(200, answer);
  const c = new EdgeClient("https://edge.example", { fetch, token: "client-t" });
  assert.deepEqual(await c.predict("SPY"), answer);
  assert.equal(calls[0].url, "https://edge.example/api/v1/predict");
  assert.equal(calls[0].init.method, "POST");
  assert.equal(calls[0].init.headers.authorization, "Bearer client-t");
  assert.deepEqual(JSON.parse(calls[0].init.body), { symbols: ["SPY"] });
  await c.predict(["SPY", "QQQ"], { horizon: 60, at: "2011-01-31T20:00:00Z" });
  assert.deepEqual(JSON.parse(calls[1].init.body), { symbols: ["SPY", "QQQ"], horizon: 60, at: "2011-01-31T20:00:00Z" });
});

test("EdgeClient surfaces the edge's error code and message with the status", async () => {
  const { fetch } = recordingFetch(400, { error: { code: "invalid_symbol", message: "symbol `$$` is not valid" } });
  const c = new EdgeClient("http://127.0.0.1:1", { fetch, token: "t" });
  await assert.rejects(
    c.quote("$$"),
    (e) => e instanceof MtfError && e.status === 400 && /invalid_symbol: symbol `\$\$` is not valid/.test(e.message),
  );
  const bad = new EdgeClient("", { fetch: async () => new Response("<html>", { status: 200 }) });
  await assert.rejects(bad.models(), /not JSON/);
});

/** A WebSocket stand-in that records instances; `emit` dispatches an event to the listeners. */
function fakeSockets() {
  const sockets = [];
  class FakeSocket {
    constructor(url) {
      this.url = url;
      this.listeners = {};
      this.closed = false;
      this.readyState = 1;
      this.sent = [];
      sockets.push(this);
    }
    send(text) {
      this.sent.push(JSON.parse(text));
    }
    addEventListener(type, f) {
      if (!this.listeners[type]) this.listeners[type] = [];
      this.listeners[type].push(f);
    }
    emit(type, ev = {}) {
      for (const f of this.listeners[type] ?? []) f(ev);
    }
    close() {
      this.closed = true;
    }
  }
  return { sockets, WebSocket: FakeSocket };
}

test("StreamHub: one connection for all subscribers, every frame delivered, reconnect on a new symbol, closed when the last leaves", async () => {
  const { sockets, WebSocket } = fakeSockets();
  const hub = new StreamHub(new EdgeClient("https://edge.example", { WebSocket, token: "t" }));
  const a = [];
  const b = [];
  const status = [];
  const offA = hub.subscribe(
    ["spy"],
    (f) => a.push(f),
    (s) => status.push(s),
  );
  const offB = hub.subscribe(["SPY"], (f) => b.push(f));
  assert.equal(sockets.length, 1, "same symbols, one connection");
  sockets[0].emit("open");
  assert.equal(status.at(-1), "open");
  // Two frames before any render: both reach both subscribers.
  sockets[0].emit("message", { data: JSON.stringify([{ T: "t", S: "SPY", p: 1 }]) });
  sockets[0].emit("message", { data: JSON.stringify([{ T: "b", S: "SPY", c: 2 }]) });
  assert.equal(a.length, 2);
  assert.equal(b.length, 2);
  // A third subscriber with another symbol: one new connection for the union; the old one is closed.
  const c = [];
  const offC = hub.subscribe(["AAPL"], (f) => c.push(f));
  assert.equal(sockets.length, 2);
  assert.ok(sockets[0].closed);
  assert.equal(sockets[1].url, "wss://edge.example/api/v1/stream?symbols=AAPL%2CSPY&token=t");
  // Frames go to the subscribers of their symbol only; a frame from the replaced socket is ignored.
  sockets[1].emit("message", {
    data: JSON.stringify([
      { T: "t", S: "AAPL", p: 3 },
      { T: "t", S: "SPY", p: 4 },
    ]),
  });
  sockets[0].emit("message", { data: JSON.stringify([{ T: "t", S: "SPY", p: 5 }]) });
  assert.deepEqual(
    c.map((f) => f.map((m) => m.p)),
    [[3]],
  );
  assert.deepEqual(a.at(-1), [{ T: "t", S: "SPY", p: 4 }]);
  assert.equal(a.length, 3);
  offC();
  assert.equal(sockets.length, 3, "back to SPY only");
  offA();
  assert.equal(sockets.length, 3, "B still wants SPY");
  offB();
  assert.ok(sockets[2].closed, "closed when the last subscriber leaves");
  assert.equal(hub.connections, 3);
});

test("the stream acknowledges processed frames at the greeting's cadence and reports the edge's upstream status", () => {
  const { sockets, WebSocket } = fakeSockets();
  const hub = new StreamHub(new EdgeClient("https://edge.example", { WebSocket, token: "t" }));
  const frames = [];
  const status = [];
  const ackedWhenSeen = [];
  hub.subscribe(
    ["SPY"],
    (f) => {
      frames.push(f);
      ackedWhenSeen.push(sockets[0].sent.length);
    },
    (s, why) => status.push([s, why]),
  );
  const ws = sockets[0];
  ws.emit("open");
  ws.emit("message", {
    data: JSON.stringify([{ T: "success", msg: "connected", symbols: ["SPY"], ack_every: 2, max_unacked: 16, upstream: "connecting" }]),
  });
  ws.emit("message", { data: JSON.stringify([{ T: "status", upstream: "live", retry_in_ms: null, reason: null }]) });
  assert.deepEqual(ws.sent, [{ action: "ack", frames: 2 }], "every second frame, counting status frames");
  for (let i = 0; i < 3; i++) ws.emit("message", { data: JSON.stringify([{ T: "b", S: "SPY", c: i }]) });
  assert.deepEqual(
    ws.sent.map((a) => a.frames),
    [2, 4],
  );
  // An acknowledgement goes after the subscriber has processed the frame, never before.
  assert.deepEqual(ackedWhenSeen, [0, 1, 1, 2]);
  // Status frames are not delivered as data; the subscriber hears them as its status.
  assert.ok(frames.every((f) => f.every((m) => m.T !== "status")));
  ws.emit("message", {
    data: JSON.stringify([{ T: "status", upstream: "reconnecting", retry_in_ms: 2000, reason: "upstream closed: 1006" }]),
  });
  assert.deepEqual(status.at(-1), ["stalled", "the edge's market-data source is reconnecting (retrying in 2 s): upstream closed: 1006"]);
  ws.emit("message", { data: JSON.stringify([{ T: "status", upstream: "live", retry_in_ms: null, reason: null }]) });
  assert.equal(status.at(-1)[0], "open");
});

test("StreamHub reconnects after the connection closes (backoff from 1 s)", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { sockets, WebSocket } = fakeSockets();
  const hub = new StreamHub(new EdgeClient("https://edge.example", { WebSocket, token: "t" }));
  const status = [];
  const off = hub.subscribe(
    ["SPY"],
    () => undefined,
    (s) => status.push(s),
  );
  sockets[0].emit("close", { reason: "upstream gone" });
  assert.equal(status.at(-1), "closed");
  t.mock.timers.tick(999);
  assert.equal(sockets.length, 1);
  t.mock.timers.tick(1);
  assert.equal(sockets.length, 2, "reconnected after 1 s");
  off();
  assert.ok(sockets[1].closed);
});

test("StreamHub asks for a session token before it opens the socket (and only once for a burst of subscribers)", async () => {
  const { sockets, WebSocket } = fakeSockets();
  let issued = 0;
  const fetch = async () => {
    issued++;
    return new Response(
      JSON.stringify({ token: "mtf1.x.y", expires_at: new Date(Date.now() + 900_000).toISOString(), ttl_s: 900, scopes: ["read"] }),
    );
  };
  const hub = new StreamHub(new EdgeClient("https://edge.example", { WebSocket, fetch }));
  const offA = hub.subscribe(["SPY"], () => undefined);
  const offB = hub.subscribe(["SPY"], () => undefined);
  assert.equal(sockets.length, 0, "no socket before the token");
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(sockets.length, 1);
  assert.equal(issued, 1);
  assert.equal(sockets[0].url, "wss://edge.example/api/v1/stream?symbols=SPY&token=mtf1.x.y");
  offA();
  offB();
  assert.ok(sockets[0].closed);
});

test("BarsCache: a request covered by a fresh larger one is answered from it; a larger one fetches", async () => {
  const { calls, fetch } = recordingFetch(200, { symbol: "SPY", timeframe: "1m", bars: [1, 2, 3, 4, 5].map((i) => ({ t: `${i}` })) });
  let now = 0;
  const cache = new BarsCache(new EdgeClient("https://edge.example", { fetch, token: "t" }), 5_000, () => now);
  const big = await cache.bars("SPY", "1m", 5);
  const small = await cache.bars("spy", "1m", 2);
  assert.equal(calls.length, 1);
  assert.equal(big.bars.length, 5);
  assert.deepEqual(
    small.bars.map((b) => b.t),
    ["4", "5"],
  );
  await cache.bars("SPY", "1m", 10);
  assert.equal(calls.length, 2, "more bars than cached");
  now = 6_000;
  await cache.bars("SPY", "1m", 2);
  assert.equal(calls.length, 3, "older than maxAgeMs");
  await cache.bars("SPY", "5m", 2);
  assert.equal(calls.length, 4, "another timeframe");
});

test("activeByHorizon: the active versions, one per horizon, shortest first; the prediction cache keeps a computation's latency", () => {
  const m = (version, active, horizon_minutes) => ({ version, active, horizon_minutes });
  const list = [m("d@2", true, 1440), m("i@2", false, 60), m("w@1", true, 7200), m("i@1", true, 60), m("old", true, null)];
  assert.deepEqual(
    activeByHorizon(list).map((x) => x.version),
    ["i@1", "d@2", "w@1"],
  );
  const c = new PredictionCache(60_000, () => 0);
  c.set("spy", "60m@i@1", { predictionTime: "t" }, 12.5);
  assert.equal(c.last("SPY", "60m@i@1").latencyMs, 12.5);
  c.set("spy", "60m@i@1", { predictionTime: "u" });
  assert.equal(c.last("SPY", "60m@i@1").latencyMs, undefined);
});
