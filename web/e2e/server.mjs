// A static file server plus a fixture edge API for the package's browser tests and bench page. It serves the
// committed parity fixture's bars (only bars complete at the fixture's instant, decided by the package's
// completeBars) and the default model through the same routes and shapes as edge-worker (GET /api/v1/bars,
// /api/v1/models/active, the artifact, and POST /api/v1/predict answering with the fixture's prediction). Like the
// edge, it issues short-lived session tokens at POST /api/v1/session and refuses bars and predict without one.
import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join, normalize } from "node:path";

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

/**
 * The fixture's request and expected prediction, and the bars an edge would serve at the fixture's instant: those
 * complete by then, decided by the package's `completeBars` (the model's own rule, from the wasm module).
 */
export async function fixture() {
  const { completeBars, loadWasm } = await import("../packages/mtf-predict/dist/index.js");
  await loadWasm("cpu", readFileSync(join(root, "web/packages/mtf-predict/wasm/cpu/mtf_wasm_bg.wasm")));
  const request = JSON.parse(readFileSync(join(root, "crates/wasm/tests/fixtures/parity_request.json"), "utf8"));
  const expected = JSON.parse(readFileSync(join(root, "crates/wasm/tests/fixtures/parity_expected.json"), "utf8"));
  const bars = {};
  for (const tf of ["1m", "1d"]) bars[tf] = await completeBars(request.bars[tf], tf, request.at);
  return { request, expected, bars };
}

/** The edge's answer when no active model predicts `h` minutes ahead (edge-worker/src/serving.rs). */
const noModelFor = (h) => ({
  error: {
    code: "no_model_for_horizon",
    message: `no active model predicts ${h} minutes ahead (active models predict 60 minutes ahead); register and activate one for that horizon`,
  },
});

/** Starts the server on 127.0.0.1 (port 0 = any). `statics` maps URL prefixes to directories. */
export async function serve(statics, port = 0) {
  const fx = await fixture();
  const artifact = readFileSync(join(root, "models/spy-15m-h4/model.mtf"));
  const sha256 = createHash("sha256").update(artifact).digest("hex");
  const version = "spy-15m-h4@0.1.0";
  const counts = { bars: 0, artifact: 0, predict: 0, predictBodies: [], sessions: 0, refused: 0 };
  const tokens = new Set();
  const server = createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    const json = (status, body) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === "/api/v1/session" && req.method === "POST") {
      // The edge's SessionResponse (edge-worker/src/wire.rs); the token is opaque to the client.
      counts.sessions++;
      const token = `mtf1.fixture.${counts.sessions}`;
      tokens.add(token);
      return json(200, { token, expires_at: new Date(Date.now() + 900_000).toISOString(), ttl_s: 900 });
    }
    const needsSession = url.pathname === "/api/v1/bars" || url.pathname === "/api/v1/predict";
    if (needsSession && !tokens.has((req.headers.authorization ?? "").replace(/^Bearer /, ""))) {
      counts.refused++;
      return json(401, { error: { code: "unauthorized", message: "a session token is required" } });
    }
    if (url.pathname === "/api/v1/bars") {
      counts.bars++;
      const bars = fx.bars[url.searchParams.get("timeframe")];
      if (!bars) return json(400, { error: { code: "invalid_timeframe", message: "fixture has 1m and 1d" } });
      const limit = Number(url.searchParams.get("limit") ?? 1000);
      return json(200, { symbol: url.searchParams.get("symbol"), timeframe: url.searchParams.get("timeframe"), bars: bars.slice(-limit) });
    }
    if (url.pathname === "/api/v1/predict" && req.method === "POST") {
      // The edge's ml-predict answer shape (edge-worker/src/wire.rs PredictResponse) around the fixture's prediction.
      counts.predict++;
      let text = "";
      req.on("data", (d) => {
        text += d;
      });
      req.on("end", () => {
        const body = JSON.parse(text || "{}");
        counts.predictBodies.push({ body, authorization: req.headers.authorization ?? null });
        if (body.horizon !== undefined && body.horizon !== 60) return json(404, noModelFor(body.horizon));
        json(200, {
          model: { version, sha256 },
          at: fx.expected.predictionTime,
          predictions: (body.symbols ?? []).map((symbol) => ({
            symbol,
            prediction: { ...fx.expected, symbol },
            error: null,
            stale: false,
            age_s: null,
            cached: false,
            inputs: [],
          })),
          warnings: [],
        });
      });
      return;
    }
    if (url.pathname === "/api/v1/models/active") {
      // One model, predicting 60 minutes ahead: another horizon is the edge's 404 naming the served ones.
      const h = url.searchParams.get("horizon");
      if (h !== null && h !== "60") return json(404, noModelFor(h));
      return json(200, {
        model: {
          version,
          name: "spy-15m-h4",
          sha256,
          size: artifact.length,
          active: true,
          created_at: "",
          artifact_url: `/api/v1/models/${encodeURIComponent(version)}/artifact`,
          horizon_minutes: 60,
          activated_at: "",
        },
      });
    }
    if (url.pathname === `/api/v1/models/${encodeURIComponent(version)}/artifact`) {
      counts.artifact++;
      res.writeHead(200, {
        "content-type": "application/octet-stream",
        etag: `"${sha256}"`,
        "cache-control": "public, max-age=31536000, immutable",
      });
      return res.end(artifact);
    }
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
    json(404, { error: { code: "not_found", message: url.pathname } });
  });
  return new Promise((resolve) =>
    server.listen(port, "127.0.0.1", () => resolve({ server, url: `http://127.0.0.1:${server.address().port}`, counts, fixture: fx })),
  );
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
