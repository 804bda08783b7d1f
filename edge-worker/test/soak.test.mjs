// The shared stream under churn and a soak of the whole edge (issue 15), against `mtf replay` with a replay clock
// and the worker in workerd (Miniflare): subscriptions shrink and the upstream closes when unused; during 2,000
// bounded requests the stand-in storms 429s, bursts 5xx and drops or errors the stream, and afterwards no write is
// lost, no answer is a raw 500, and every stream client receives bars again over one upstream connection.
// Run: scripts/build-worker && cargo build -p mtf-cli && node --test edge-worker/test/soak.test.mjs
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { auth, built, CLIENT, dataDir, root, startStandin, startWorker } from "./harness.mjs";

const skip = !built();
if (skip) console.log("SKIPPED: stream and soak tests need scripts/build-worker and `cargo build -p mtf-cli`");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, cond, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await sleep(100);
  }
  assert.fail(`timed out waiting for ${what}`);
}

/**
 * A stream client of the worker: counts the bar frames it receives, keeps the upstream status messages and
 * acknowledges every frame it has processed (the edge's flow control), unless `{ ack: false }` (a slow reader).
 */
async function client(w, symbols, { ack = true } = {}) {
  const res = await w.mf.dispatchFetch(`${w.url}/api/v1/stream?symbols=${symbols}`, {
    headers: { upgrade: "websocket", ...auth(CLIENT) },
  });
  assert.equal(res.status, 101);
  const c = { ws: res.webSocket, bars: 0, frames: 0, statuses: [], hello: undefined, closed: false, close: undefined };
  c.ws.accept();
  c.ws.addEventListener("message", (e) => {
    for (const m of JSON.parse(e.data)) {
      if (m.T === "b") c.bars++;
      if (m.T === "status") c.statuses.push(m);
      if (m.T === "success" && m.msg === "connected") c.hello = m;
    }
    c.frames++;
    if (ack && c.frames % (c.hello?.ack_every ?? 1) === 0) c.ws.send(JSON.stringify({ action: "ack", frames: c.frames }));
  });
  c.ws.addEventListener("close", (e) => {
    c.closed = true;
    c.close = { code: e.code, reason: e.reason };
  });
  return c;
}

const clock = ["--data", dataDir(), "--start-at", "2011-01-31T15:00:00Z", "--speed", "120"];

describe("edge stream under churn", { skip }, () => {
  test("the upstream subscription shrinks when clients leave and the upstream closes after the last", async () => {
    const standin = await startStandin(clock);
    const w = await startWorker(standin);
    try {
      const spy = await client(w, "SPY");
      const aapl = await client(w, "AAPL,MSFT");
      await until("both subscriptions upstream", async () => (await standin.stats()).stream_symbols.length === 3);
      assert.deepEqual((await standin.stats()).stream_symbols, ["AAPL", "MSFT", "SPY"]);
      aapl.ws.close();
      await until("AAPL and MSFT unsubscribed", async () => (await standin.stats()).stream_symbols.join() === "SPY");
      const before = spy.bars;
      await until("SPY still flowing", async () => spy.bars > before + 1);
      spy.ws.close();
      await until("the upstream closed", async () => (await standin.stats()).stream_live === 0);
      const s = await (await w.mf.dispatchFetch(`${w.url}/api/v1/stream/status`)).json();
      assert.equal(s.clients, 0);
      assert.equal(s.upstream_connected, false);
    } finally {
      await w.mf.dispose();
      await standin.stop();
    }
  });

  test("flow control: a reader that stops acknowledging is cut at the window; the others keep receiving and hear upstream status", async () => {
    const standin = await startStandin(clock);
    const w = await startWorker(standin, { STREAM_MAX_UNACKED: "6" });
    try {
      const good = await client(w, "SPY");
      const slow = await client(w, "SPY", { ack: false });
      await until("the slow reader disconnected", async () => slow.closed);
      assert.equal(slow.close.code, 1008, JSON.stringify(slow.close));
      assert.match(slow.close.reason, /slow reader: 6 frames not acknowledged/);
      assert.equal(slow.frames, 6, "exactly the window was sent");
      assert.deepEqual([good.hello.ack_every, good.hello.max_unacked], [1, 6]);
      const before = good.bars;
      await until("bars keep flowing to the reader that acknowledges", async () => good.bars > before + 8);
      assert.ok(!good.closed);
      let s = await (await w.mf.dispatchFetch(`${w.url}/api/v1/stream/status`)).json();
      assert.equal(s.slow_clients, 1, JSON.stringify(s));
      assert.equal(s.clients, 1);
      // The upstream drops: the client is told (reconnecting, with the delay), then told it is live again.
      assert.equal(good.statuses.at(-1)?.upstream, "live", JSON.stringify(good.statuses));
      const seen = good.statuses.length;
      await standin.streamFault("action=drop");
      await until("reconnecting and live again", async () => {
        const later = good.statuses.slice(seen).map((m) => m.upstream);
        return later.includes("reconnecting") && later.at(-1) === "live";
      });
      const notice = good.statuses.slice(seen).find((m) => m.upstream === "reconnecting");
      assert.ok(notice.retry_in_ms >= 1000, JSON.stringify(notice));
      assert.ok(!good.closed, "the client stays connected through the upstream's reconnect");
      s = await (await w.mf.dispatchFetch(`${w.url}/api/v1/stream/status`)).json();
      assert.equal(s.upstream_state, "live");
    } finally {
      await w.mf.dispose();
      await standin.stop();
    }
  });

  test("soak: 2,000 requests through 429 storms, 5xx bursts and stream drops: no lost write, every client recovers", async () => {
    const standin = await startStandin(clock);
    const w = await startWorker(standin, { RETRY_CAP_MS: "300" });
    const clients = [];
    try {
      // Every client includes SPY: at the replay clock (January 2011) only SPY has minute bars in the data.
      for (const s of ["SPY", "SPY,AAPL", "SPY,MSFT", "SPY", "AAPL,SPY"]) clients.push(await client(w, s));
      await until("bars on every client", async () => clients.every((c) => c.bars > 0));
      const fixture = JSON.parse(readFileSync(join(root, "crates/wasm/tests/fixtures/parity_expected.json"), "utf8"));
      const statuses = {};
      let writes = 0;
      let next = 0;
      const total = 2000;
      const faults = {
        200: () => standin.fail("status=429&retry_after=1&count=25"),
        700: () => standin.fail("status=503&count=40"),
        1000: () => standin.streamFault("action=drop"),
        1400: () => standin.streamFault("action=error&code=500"),
        1600: () => standin.fail("drop=1&count=10"),
      };
      const request = (i) => {
        const day = 3 + (i % 25); // 25 January days: misses reach the stand-in, repeats are cache hits
        const d = `2011-01-${String(day).padStart(2, "0")}`;
        if (i % 4 === 0) {
          const batch = Array.from({ length: 5 }, (_, k) => ({
            ...fixture,
            symbol: `SOAK${k}`,
            predictionTime: `${d}T15:${String(i % 60).padStart(2, "0")}:00Z`,
          }));
          return [
            "write",
            "/api/v1/predictions",
            { method: "POST", headers: { ...auth(CLIENT), "content-type": "application/json" }, body: JSON.stringify(batch) },
          ];
        }
        if (i % 4 === 1) return ["read", `/api/v1/predictions?symbol=SOAK${i % 5}`, {}];
        return ["data", `/api/v1/bars?symbol=SPY&timeframe=1m&start=${d}T14:30:00Z&end=${d}T21:00:00Z&limit=50`, { headers: auth(CLIENT) }];
      };
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < total) {
            const i = next++;
            if (faults[i]) await faults[i]();
            const [kind, path, init] = request(i);
            const res = await w.mf.dispatchFetch(`${w.url}${path}`, init);
            const text = await res.text();
            const key = `${kind} ${res.status}`;
            statuses[key] = (statuses[key] ?? 0) + 1;
            if (kind === "write") {
              assert.equal(res.status, 201, text);
              writes++;
            } else if (res.status !== 200) {
              // Bounded failures only: upstream trouble is a designed 502 with a JSON error, never a raw 500.
              assert.ok([502, 503].includes(res.status), `${path}: ${res.status} ${text}`);
              assert.ok(JSON.parse(text).error.code, text);
            }
          }
        }),
      );
      console.log(`soak: ${JSON.stringify(statuses)}`);
      const db = await w.mf.getD1Database("DB");
      const stored = (await db.prepare("SELECT COUNT(*) AS n FROM ml_predictions WHERE symbol LIKE 'SOAK%'").all()).results[0].n;
      assert.equal(stored, writes * 5, "every accepted write is stored");
      assert.ok(statuses["data 200"] > 0 && statuses["read 200"] > 0, JSON.stringify(statuses));
      // The stream recovered for every client (bars after the last fault), still over one upstream connection.
      const after = clients.map((c) => c.bars);
      await until("bars again on every client", async () => clients.every((c, k) => c.bars > after[k]), 60_000);
      assert.ok(
        clients.every((c) => !c.closed),
        "no client was disconnected by upstream trouble",
      );
      assert.equal((await standin.stats()).stream_live, 1, "one upstream connection for five clients");
      const s = await (await w.mf.dispatchFetch(`${w.url}/api/v1/stream/status`)).json();
      assert.ok(s.upstream_connections >= 3, `reconnected after the drop and the error: ${JSON.stringify(s)}`);
    } finally {
      for (const c of clients) c.ws.close();
      await w.mf.dispose();
      await standin.stop();
    }
  });
});
