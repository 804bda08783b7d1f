// The site for the package's browser tests and bench page: a static file server in front of the real edge — the
// built worker in workerd (Miniflare, in-memory D1 and KV; edge-worker/test/harness.mjs) with `mtf replay` (the
// Alpaca stand-in, crates/replay) as its upstream on the real SPY minutes, the replay clock held at
// 2011-01-31T20:00:30Z. Requests under /api/ go to the worker unchanged (same origin, so the page's origin is the
// one CORS_ORIGINS allows session tokens for); the server only counts them and keeps the ml-predict answers, so
// a test can say what the browser fetched and compare what it shows with what the edge said.
import { readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join, normalize } from "node:path";
import { ADMIN, built, dataDir, mtfBin, startStandin, startWorker } from "../../edge-worker/test/harness.mjs";

const root = new URL("../../", import.meta.url).pathname;
const TYPES = {
  ".html": "text/html",
  ".js": "text/javascript",
  ".mjs": "text/javascript",
  ".wasm": "application/wasm",
  ".json": "application/json",
  ".css": "text/css",
  ".map": "application/json",
};

/** The replay clock the edge runs at: just after the close of the parity fixture's minute (crates/wasm/tests/fixtures). */
export const CLOCK = "2011-01-31T20:00:30Z";
/** The model the edge serves (registered and activated at start). */
export const MODEL = join(root, "models/spy-15m-h4/model.mtf");

/** Whether the real edge can be started: the worker build and the `mtf` binary (the stand-in). */
export const edgeBuilt = built;

/** Request headers not forwarded (hop-by-hop, or recomputed by fetch). */
const HOP = new Set(["host", "connection", "keep-alive", "transfer-encoding", "content-length", "accept-encoding"]);

/**
 * Starts the stand-in, the worker and the site on 127.0.0.1 (port 0 = any). `statics` maps URL prefixes to
 * directories. Resolves to `{ server, url, counts, close }`; `counts` has the requests per route and
 * `predictions`, the worker's ml-predict answers in order (with the request body and its Authorization header).
 */
export async function serve(statics, port = 0) {
  const counts = { bars: 0, artifact: 0, predictions: [], sessions: 0, refused: 0 };
  let edge;
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, "http://x");
    try {
      if (url.pathname.startsWith("/api/")) return await forward(req, res, url);
      return serveStatic(res, url);
    } catch (e) {
      res.writeHead(502, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: "site_proxy", message: String(e) } }));
    }
  });
  async function forward(req, res, url) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = chunks.length ? Buffer.concat(chunks) : undefined;
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !HOP.has(k)));
    const r = await fetch(`${edge.url}${url.pathname}${url.search}`, { method: req.method, headers, body });
    const out = Buffer.from(await r.arrayBuffer());
    const p = url.pathname;
    if (p === "/api/v1/session" && r.status === 200) counts.sessions++;
    if (p === "/api/v1/bars") counts.bars++;
    if (/^\/api\/v1\/models\/[^/]+\/artifact$/.test(p) && r.status === 200) counts.artifact++;
    if ((p === "/api/v1/bars" || p === "/api/v1/predict") && r.status === 401) counts.refused++;
    if (p === "/api/v1/predict" && req.method === "POST") {
      counts.predictions.push({
        body: JSON.parse(body?.toString() || "{}"),
        authorization: req.headers.authorization ?? null,
        status: r.status,
        response: JSON.parse(out.toString()),
      });
    }
    const keep = {};
    r.headers.forEach((v, k) => {
      if (k !== "content-encoding" && k !== "content-length" && k !== "transfer-encoding") keep[k] = v;
    });
    res.writeHead(r.status, keep);
    res.end(out);
  }
  function serveStatic(res, url) {
    for (const [prefix, dir] of Object.entries(statics)) {
      if (!url.pathname.startsWith(prefix)) continue;
      let file = normalize(join(dir, decodeURIComponent(url.pathname.slice(prefix.length))));
      if (!file.startsWith(normalize(dir))) break;
      try {
        if (statSync(file).isDirectory()) file = join(file, "index.html");
        const body = readFileSync(file);
        res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
        return res.end(body);
      } catch {
        break;
      }
    }
    res.writeHead(404, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: { code: "not_found", message: url.pathname } }));
  }
  await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
  const site = `http://127.0.0.1:${server.address().port}`;
  const standin = await startStandin(["--data", dataDir(), "--start-at", CLOCK, "--speed", "0.001"]);
  try {
    // The page's origin is the one allowed to ask for session tokens (as a deployment's CORS_ORIGINS would say).
    edge = await startWorker(standin, { CORS_ORIGINS: site }, { listen: true });
    const reg = await fetch(`${edge.url}/api/v1/models?activate=true`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN}` },
      body: readFileSync(MODEL),
    });
    if (!reg.ok) throw new Error(`registering ${MODEL} at the edge: ${reg.status} ${await reg.text()}`);
  } catch (e) {
    await edge?.mf.dispose().catch(() => {});
    await standin.stop();
    server.close();
    throw e;
  }
  const close = async () => {
    server.close();
    await edge.mf.dispose();
    await standin.stop();
  };
  return { server, url: site, counts, close, mtfBin: mtfBin() };
}

/** Headless Chromium from Debian through playwright-core (flags from docs/toolchain). */
export async function launch() {
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    ignoreDefaultArgs: ["--headless"],
    args: [
      "--headless=new",
      "--no-sandbox",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
      "--disable-dev-shm-usage",
      "--enable-unsafe-webgpu",
    ],
  });
}
