// Test harness: the real workerd runtime through Miniflare (in-memory D1 and KV, the Durable Object), with
// `mtf replay` (the Alpaca stand-in) as upstream. Used by edge.test.mjs and the load test.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Miniflare } from "miniflare";

export const root = new URL("../../", import.meta.url).pathname;
export const workerDir = join(root, "edge-worker");
export const KEY = "pk-test-7f3a9c";
export const SECRET = "sk-test-SECRET-d41e8b2f6c";
export const CLIENT = "client-token-5e1f";
export const ADMIN = "admin-token-9b2c";

/** The `mtf` binary: $MTF_BIN, else the debug build in the cargo target dir. */
export function mtfBin() {
  const target = process.env.CARGO_TARGET_DIR ?? join(root, "target");
  return process.env.MTF_BIN ?? join(target, "debug", "mtf");
}

export function dataDir() {
  const d = process.env.MTF_DATA_DIR ?? join(root, "../shared/data");
  return d.startsWith("/") ? d : join(root, d);
}

/** Starts `mtf replay` on a free port; resolves to { url, ws, stop, stats }. */
export function startStandin(args = []) {
  return new Promise((resolve, reject) => {
    const child = spawn(mtfBin(), ["replay", "--port", "0", ...args], {
      env: { ...process.env, APCA_API_KEY_ID: KEY, APCA_API_SECRET_KEY: SECRET },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let buf = "";
    child.stderr.on("data", (d) => {
      buf += d;
      const m = /listening on (http:\/\/[\d.:]+)\r?\n/.exec(buf);
      if (m && !child.resolved) {
        child.resolved = true;
        const url = m[1];
        resolve({
          url,
          ws: `${url.replace("http://", "ws://")}/v2/iex`,
          stop: () =>
            new Promise((r) => {
              if (child.exitCode !== null || child.signalCode !== null) return r();
              child.once("exit", r);
              child.kill("SIGTERM");
            }),
          stats: async () => (await fetch(`${url}/_standin/stats`)).json(),
          fail: (q) => fetch(`${url}/_standin/fail?${q}`, { method: "POST" }),
          streamFault: async (q) => (await fetch(`${url}/_standin/stream-fault?${q}`, { method: "POST" })).json(),
        });
      }
    });
    child.once("exit", (code) => !child.resolved && reject(new Error(`mtf replay exited (${code}): ${buf}`)));
  });
}

/**
 * A Miniflare instance running the built worker against `standin`; migrations applied. With `{ listen: true }`
 * it also serves HTTP on a free local port (for processes such as `mtf retrain`) and `url` is that address.
 */
export async function startWorker(standin, vars = {}, { listen = false } = {}) {
  // workerd reads the worker's modules by paths relative to the working directory and refuses ones that climb
  // out of it ("can't use '..'"): start it from the worker's directory, whatever the caller's (web/e2e's is web/).
  const cwd = process.cwd();
  process.chdir(workerDir);
  try {
    return await start(standin, vars, listen);
  } finally {
    process.chdir(cwd);
  }
}

async function start(standin, vars, listen) {
  const mf = new Miniflare({
    ...(listen ? { host: "127.0.0.1", port: 0 } : {}),
    rootPath: workerDir,
    scriptPath: join(workerDir, "build/index.js"),
    modules: true,
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true }],
    compatibilityDate: "2025-09-01",
    kvNamespaces: ["CACHE", "MODELS"],
    d1Databases: ["DB"],
    durableObjects: { STREAM: "StreamHub" },
    // The edge-wide limiter (wrangler.toml's [[ratelimits]]); `EDGE_RATE_LIMIT` sets its limit per minute here.
    ratelimits: { RATE_LIMITER: { simple: { limit: Number(vars.EDGE_RATE_LIMIT ?? 100000), period: 60 } } },
    bindings: {
      ALPACA_DATA_URL: standin.url,
      ALPACA_STREAM_URL: standin.ws,
      ALPACA_FEED: "iex",
      APCA_API_KEY_ID: KEY,
      APCA_API_SECRET_KEY: SECRET,
      CLIENT_TOKEN: CLIENT,
      ADMIN_TOKEN: ADMIN,
      CORS_ORIGINS: "http://allowed.example",
      RATE_LIMIT_PER_MIN: "100000",
      RETRY_CAP_MS: "3000",
      ...vars,
    },
  });
  try {
    const db = await mf.getD1Database("DB");
    // All migrations in one `exec` (D1 runs one statement per line): each call through Miniflare's D1 proxy
    // blocks on its synchronous fetcher, and one of those once failed an internal assertion
    // (`message?.id === id`) on a loaded CI machine; one call instead of three per statement.
    await db.exec(migrationSql());
    const url = listen ? (await mf.ready).toString().replace(/\/$/, "") : "http://edge.local";
    return { mf, db, url };
  } catch (e) {
    // A failed set-up must not leave workerd running: the test process would never exit.
    await mf.dispose().catch(() => {});
    throw e;
  }
}

/** Every migration's statements in order, comments removed, one statement per line (for `D1Database.exec`). */
export function migrationSql() {
  return readdirSync(join(workerDir, "migrations"))
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .map((f) => readFileSync(join(workerDir, "migrations", f), "utf8").replace(/--[^\n]*/g, ""))
    .join(";\n")
    .split(";")
    .map((stmt) => stmt.replace(/\s+/g, " ").trim())
    .filter(Boolean)
    .join("\n");
}

export const built = () => existsSync(join(workerDir, "build/index.js")) && existsSync(mtfBin());

/** A copy of the artifact with its header JSON changed by `edit` (in place), re-serialised; weights kept. */
export function artifactWith(bytes, edit) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const h = dv.getUint32(12, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + h)));
  edit(header);
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(16 + json.length + bytes.length - 16 - h);
  out.set(bytes.subarray(0, 16));
  new DataView(out.buffer).setUint32(12, json.length, true);
  out.set(json, 16);
  out.set(bytes.subarray(16 + h), 16 + json.length);
  return out;
}

/** A copy of the artifact with another version (and optionally another `created_at`), re-serialised. */
export function artifactWithVersion(bytes, version, createdAt) {
  return artifactWith(bytes, (header) => {
    header.version = version;
    if (createdAt) header.created_at = createdAt;
  });
}

/** `Authorization: Bearer <token>`. */
export const auth = (t) => ({ authorization: `Bearer ${t}` });

/**
 * A recording client of the workers under test: `call(w, path, init)` dispatches a request and returns
 * `{ status, headers, text, json }` (a WebSocket upgrade is accepted and closed at once). It keeps every body
 * (`assertNoSecrets` checks none holds a key or token) and every JSON response (for `checkResponses`).
 */
export function recorder() {
  const bodies = [];
  const responses = [];
  async function call(w, path, init = {}) {
    const res = await w.mf.dispatchFetch(`${w.url}${path}`, init);
    if (res.webSocket) {
      res.webSocket.accept();
      res.webSocket.close();
      return { status: res.status, headers: res.headers };
    }
    const text = await res.text();
    bodies.push(text);
    let json;
    try {
      json = JSON.parse(text);
    } catch {}
    if (json !== undefined) responses.push({ method: init.method ?? "GET", path, status: res.status, json });
    return { status: res.status, headers: res.headers, text, json };
  }
  function assertNoSecrets(assert) {
    const leaked = bodies.filter((b) => b.includes(SECRET) || b.includes(KEY) || b.includes(ADMIN) || b.includes(CLIENT));
    assert.deepEqual(leaked, [], "a response body contained a key or token");
  }
  return { call, bodies, responses, assertNoSecrets };
}
