// Playwright (playwright-core + Debian's Chromium) tests of the running demo: `scripts/demo` with existing builds
// (MTF_DEMO_SKIP_BUILD=1) on its own ports, i.e. `mtf replay` on real bars with a replay clock and the worker in
// `wrangler dev` with local D1 serving the dashboard. Screenshots go to web/e2e/test-results/.
// Run after scripts/build-wasm, `npm run build` in web/, scripts/build-worker.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { launch } from "./server.mjs";

const here = new URL(".", import.meta.url).pathname;
const root = join(here, "../..");
const results = join(here, "test-results");
const port = Number(process.env.MTF_DEMO_TEST_PORT ?? 8797);
const base = `http://127.0.0.1:${port}`;
const ready =
  existsSync(join(root, "web/dashboard/dist/index.html")) &&
  existsSync(join(root, "edge-worker/build/index.js")) &&
  existsSync("/usr/bin/chromium");
if (!ready) {
  if (process.env.MTF_REQUIRE_BROWSER === "1") throw new Error("dashboard or worker build missing");
  console.log("SKIPPED: dashboard tests need the dashboard and worker builds and Chromium");
}

let demo,
  browser,
  log = "";
before(async () => {
  if (!ready) return;
  mkdirSync(results, { recursive: true });
  demo = spawn(join(root, "scripts/demo"), [], {
    env: {
      ...process.env,
      MTF_DEMO_SKIP_BUILD: "1",
      MTF_DEMO_PORT: String(port),
      MTF_REPLAY_PORT: String(port + 1),
      MTF_REPLAY_SPEED: "60",
      APCA_API_KEY_ID: "",
      APCA_API_SECRET_KEY: "",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo not ready in 120 s:\n${log}`)), 120_000);
    const on = (d) => {
      log += d;
      if (/ready: http/.test(log)) {
        clearTimeout(timer);
        resolve();
      }
    };
    demo.stdout.on("data", on);
    demo.stderr.on("data", on);
    demo.once("exit", (c) => reject(new Error(`demo exited ${c}:\n${log}`)));
  });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  if (demo && demo.exitCode === null) {
    const exited = new Promise((r) => demo.once("exit", r));
    demo.kill("SIGTERM");
    await exited;
  }
});

async function open(query, viewport = { width: 1400, height: 1000 }) {
  const page = await browser.newPage({ viewport });
  const problems = [];
  const sockets = [];
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("websocket", (ws) => sockets.push(ws.url()));
  const t0 = Date.now();
  await page.goto(`${base}/${query}`);
  return { page, problems, sockets, t0 };
}

describe("dashboard (the running demo)", { skip: !ready }, () => {
  test("loads without console errors; prediction with its band, attention views; persisted through the API", {
    timeout: 120_000,
  }, async () => {
    const { page, problems } = await open("?symbols=SPY,AAPL,GOOG&backend=cpu");
    const t0 = await page.evaluate(() => performance.now());
    await page.waitForSelector("[data-testid=prediction]", { timeout: 60_000 });
    const firstPredictionMs = (await page.evaluate(() => performance.now())) - t0;
    const band = await page.locator("[data-testid=band]").innerText();
    assert.match(band, /^\d+\.\d\d–\d+\.\d\d$/);
    assert.equal(await page.locator("[data-testid=chart]").getAttribute("data-cone"), "1");
    assert.ok(Number(await page.locator("[data-testid=chart]").getAttribute("data-bars")) > 50);
    assert.match(await page.locator("[data-testid=backend]").innerText(), /CPU · \d+\.\d ms/);
    for (const tf of ["1m", "5m", "15m", "1h", "1d"]) assert.equal(await page.locator(`[data-testid=att-${tf}]`).count(), 1);
    assert.equal(await page.locator("[data-testid=heatmap] .hm-cell").count(), 5 * 32);
    // The notice is computed from this prediction's weights against the model's threshold.
    const weights = await page.evaluate(() =>
      [...document.querySelectorAll("[data-testid^=att-] .val")].map((e) => Number.parseFloat(e.textContent) / 100),
    );
    const entropy = -weights.reduce((s, w) => s + (w > 0 ? w * Math.log(w) : 0), 0) / Math.log(weights.length);
    const notice = await page.locator("[data-testid=attention-uniform]").count();
    if (entropy > 0.97) assert.equal(notice, 1, `entropy ${entropy}: the near-uniform notice is shown`);
    if (entropy < 0.93) assert.equal(notice, 0, `entropy ${entropy}: no notice`);
    assert.match(await page.locator("[data-testid=model-version]").innerText(), /spy-15m-h4@0\.1\.0/);
    // The demo model's validated signal policy found no margin with skill: it signals hold only and suggests no
    // position, whatever its probabilities say (issue 13: no full position from a model without skill).
    assert.match(
      await page.locator("[data-testid=signal-policy]").innerText(),
      /^Signals: hold only — on validation no signal threshold beat the base rate/,
    );
    assert.equal(await page.locator("[data-testid=signal]").innerText(), "HOLD");
    assert.equal(await page.locator("[data-testid=position]").innerText(), "none");
    // The reading is computed from the artifact's metrics (MAE 1.03× persistence for the default model).
    const metrics = JSON.parse(readFileSync(join(root, "models/spy-15m-h4/report.json"), "utf8"));
    const verdict = metrics.mae_ratio_vs_persistence > 1.01 ? /does not beat persistence/ : /persistence/;
    assert.match(await page.locator("[data-testid=model-reading]").innerText(), verdict);
    await page.waitForTimeout(1500);
    await page.screenshot({ path: join(results, "dashboard-desktop.png"), fullPage: true });
    // The prediction was stored at the edge (the hook persists with the client token) and shows in history.
    // The hook posts after the prediction is on screen: wait for it (up to 30 s) rather than race it.
    let stored = { predictions: [] };
    for (let i = 0; i < 60 && stored.predictions.length === 0; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 500));
      stored = await (await fetch(`${base}/api/v1/predictions?symbol=SPY`)).json();
    }
    assert.ok(stored.predictions.length >= 1, JSON.stringify(stored).slice(0, 300));
    assert.equal(stored.latest.model_version, "spy-15m-h4@0.1.0");
    await page.waitForSelector("[data-testid=history-row]", { timeout: 30_000 });
    // Model health from the edge: nothing of the default model is scored yet, and the panel says so.
    await page.waitForSelector("[data-testid=health-panel] [data-testid=health-empty], [data-testid=coverage-line]", {
      timeout: 30_000,
    });
    assert.deepEqual(problems, []);
    writeFileSync(join(results, "dashboard-timing.json"), JSON.stringify({ firstPredictionMs }, null, 2));
    console.log(`page load → first prediction (CPU): ${firstPredictionMs.toFixed(0)} ms`);
    await page.close();
  });

  test("Horizons: the edge's active model of each horizon side by side, bands on one axis", { timeout: 120_000 }, async () => {
    // SPY: the demo's replay clock is in January 2011, when the shared data has SPY minutes (not AAPL's).
    const { page, problems } = await open("?symbols=SPY&backend=cpu");
    // scripts/demo registers the 1 h default and the 1 d and 5 d daily models: one active model per horizon.
    const models = (await (await fetch(`${base}/api/v1/models`)).json()).models.filter((m) => m.active);
    assert.deepEqual(
      models.map((m) => m.horizon_minutes).sort((a, b) => a - b),
      [60, 1440, 7200],
    );
    for (const m of models) {
      const card = page.locator(`[data-testid=horizon-${m.horizon_minutes}]`);
      await card.locator("[data-testid=horizon-price], [data-testid=horizon-error]").first().waitFor({ timeout: 60_000 });
      assert.equal(await card.getAttribute("data-version"), m.version);
    }
    // Each card's prediction is its own model's (the edge picked the model of the horizon asked for), and the plot
    // has a row for every card with a prediction.
    const priced = [];
    for (const m of models) {
      const card = page.locator(`[data-testid=horizon-${m.horizon_minutes}]`);
      if ((await card.locator("[data-testid=horizon-price]").count()) === 1) priced.push(m.horizon_minutes);
      else console.log(`horizon ${m.horizon_minutes}: ${await card.locator("[data-testid=horizon-error]").innerText()}`);
    }
    assert.ok(priced.includes(60), `the 1 h model predicts SPY (priced: ${priced})`);
    assert.ok(priced.includes(1440), `the 1 d model predicts SPY from its daily bars (priced: ${priced})`);
    assert.equal(await page.locator("[data-testid=horizon-plot-row]").count(), priced.length);
    // How much of each band is the network's: every priced card states its model's band blend, the weight its last
    // fold chose on validation (the registry's report.json, folds[].blend_weight).
    for (const m of models.filter((x) => priced.includes(x.horizon_minutes))) {
      const w = (m.metrics.folds ?? []).at(-1)?.blend_weight;
      assert.equal(typeof w, "number", `${m.version}: a blend weight in its report`);
      const text = await page.locator(`[data-testid=horizon-${m.horizon_minutes}] [data-testid=horizon-band-source]`).innerText();
      const share = Math.round(w * 100);
      if (share >= 100) assert.match(text, /the network's own/, m.version);
      else if (share <= 0) assert.match(text, /gave the network no share/, m.version);
      else assert.match(text, new RegExp(`${share} % the network's, ${100 - share} %`), m.version);
    }
    await page.locator("[data-testid=horizons]").screenshot({ path: join(results, "dashboard-horizons.png") });
    assert.deepEqual(problems, []);
    await page.close();
  });

  test("Model health shows the retrain history and the last run's champion/challenger comparison", { timeout: 120_000 }, async () => {
    // A record as `mtf retrain` posts it (the loop itself runs against workerd in edge-worker/test/retrain.test.mjs);
    // the demo's admin token is scripts/demo's constant.
    const score = (is, coverage) => ({
      n: 110,
      interval_score: is,
      coverage,
      band_width: 0.005,
      directional_accuracy: 0.42,
      mae_ratio_vs_persistence: 1.02,
      by_symbol: {},
    });
    const record = {
      id: "0123456789abcdef",
      started_at: "2026-12-01T00:00:00Z",
      finished_at: "2026-12-01T00:00:05Z",
      duration_s: 5,
      triggers: ["schedule"],
      inputs: { snapshot: "s", config_sha256: "c", seed: 7, champion: ["spy-15m-h4@0.1.0", "x"], search_trials: 0 },
      holdout: ["2011-01-31T00:00:00Z", "2011-01-31T21:00:00Z"],
      champion: { version: "spy-15m-h4@0.1.0", sha256: "x", training_range: ["a", "b"], score: score(0.0061, 0.88) },
      challenger: { version: "spy-15m-h4@0.1.0-r01234567", sha256: "y", training_range: ["a", "b"], score: score(0.0065, 0.91) },
      baselines: { persistence: score(0.007, 0.8) },
      decision: "rejected",
      reasons: ["fail: challenger coverage 0.909 (band 0.77–0.83)"],
      activated: false,
      search: [],
      checks: [{ trigger: "schedule", fired: true, why: "no earlier retrain on record (every 7 days)" }],
      drift: { "1d": 0.41, "15m": 0.05 },
    };
    const res = await fetch(`${base}/api/v1/retrains`, {
      method: "POST",
      headers: { authorization: "Bearer demo-admin-token", "content-type": "application/json" },
      body: JSON.stringify(record),
    });
    assert.equal(res.status, 201, await res.text());
    const { page, problems } = await open("?symbols=SPY&backend=cpu");
    await page.waitForSelector("[data-testid=last-decision]", { timeout: 60_000 });
    assert.equal(await page.locator("[data-testid=last-decision]").innerText(), "rejected");
    const drift = await page.locator("[data-testid=drift]").innerText();
    assert.match(drift, /1d 0\.41 \(shifted\)/);
    assert.match(drift, /15m 0\.05(?! \(shifted)/);
    const panel = await page.locator("[data-testid=health-panel]").innerText();
    assert.match(panel, /challenger spy-15m-h4@0\.1\.0-r01234567/);
    assert.match(panel, /fail: challenger coverage 0\.909/);
    assert.equal(await page.locator("[data-testid=retrain-history] tbody tr").count(), 1);
    await page.locator("[data-testid=health-panel]").screenshot({ path: join(results, "dashboard-health.png") });
    assert.deepEqual(problems, []);
    await page.close();
  });

  test("switching symbol and timeframe; a symbol without minute bars says so", { timeout: 120_000 }, async () => {
    const { page, problems } = await open("?symbols=SPY,AAPL,GOOG&backend=cpu");
    await page.waitForSelector("[data-testid=prediction]", { timeout: 60_000 });
    await page.click("[data-testid=tf-1d]");
    await page.waitForFunction(() => document.querySelector("[data-testid=chart]")?.getAttribute("data-bars") > "0");
    await page.click("[data-testid=symbol-AAPL]");
    await page.waitForSelector("[data-testid=prediction-error]", { timeout: 30_000 });
    assert.match(await page.locator("[data-testid=prediction-error]").innerText(), /AAPL/);
    await page.waitForFunction(() => Number(document.querySelector("[data-testid=chart]")?.getAttribute("data-bars")) > 100, null, {
      timeout: 30_000,
    });
    await page.click("[data-testid=tf-5m]");
    await page.click("[data-testid=symbol-SPY]");
    await page.waitForSelector("[data-testid=prediction]", { timeout: 60_000 });
    await page.waitForFunction(() => Number(document.querySelector("[data-testid=chart]")?.getAttribute("data-bars")) > 50, null, {
      timeout: 30_000,
    });
    assert.equal(await page.locator(".chart-head b").innerText(), "SPY");
    assert.deepEqual(problems, []);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(500);
    await page.screenshot({ path: join(results, "dashboard-phone.png"), fullPage: true });
    await page.close();
  });

  test("live mode: a replayed bar closes and the prediction refreshes", { timeout: 150_000 }, async () => {
    const { page, problems, sockets } = await open("?symbols=SPY&backend=cpu&live=1");
    await page.waitForSelector("[data-testid=prediction]", { timeout: 60_000 });
    const first = await page.locator("[data-testid=prediction]").getAttribute("data-time");
    const chartLast = () => page.locator("[data-testid=chart]").getAttribute("data-last");
    const lastBefore = await chartLast();
    // 60× real time: a 15-minute bar closes every 15 s.
    await page.waitForFunction((t) => document.querySelector("[data-testid=prediction]")?.getAttribute("data-time") !== t, first, {
      timeout: 90_000,
    });
    const second = await page.locator("[data-testid=prediction]").getAttribute("data-time");
    assert.ok(second > first, `${second} after ${first}`);
    assert.match(await page.locator("label.live").innerText(), /open, \d+ frames/);
    // A live prediction says how its band was recalibrated (adaptive conformal inference, in the wasm session).
    assert.match(await page.locator("[data-testid=recalibration]").innerText(), /Band ×\d\.\d\d by live recalibration \(ACI, \d+ outcomes/);
    // The chart's bars moved on with the stream (the wasm LiveBars), without a REST refresh in between.
    assert.notEqual(await chartLast(), lastBefore);
    // One WebSocket for the chart, the prediction and the status line (the provider's shared stream).
    assert.equal(sockets.length, 1, sockets.join(", "));
    assert.deepEqual(problems, []);
    await page.close();
  });

  test("WebGPU backend (SwiftShader) predicts too", { timeout: 180_000 }, async () => {
    const { page, problems } = await open("?symbols=SPY&backend=webgpu");
    await page.waitForSelector("[data-testid=prediction]", { timeout: 150_000 });
    assert.match(await page.locator("[data-testid=backend]").innerText(), /WebGPU/);
    assert.deepEqual(problems, []);
    await page.screenshot({ path: join(results, "dashboard-webgpu.png") });
    await page.close();
  });

  // Last: it replaces the demo's active model. A real `mtf retrain` of the default model's config against the
  // demo's edge (its data from a stand-in without a replay clock, so the holdout — the newest five sessions of the
  // shared data — lies after the champion's training range), with a rule that promotes whatever the numbers.
  test("a real retrain run promotes a challenger; the edge serves it and Model health shows the decision", {
    timeout: 600_000,
  }, async () => {
    const target = process.env.CARGO_TARGET_DIR ?? join(root, "target");
    const mtf = join(target, "debug", "mtf");
    const data = process.env.MTF_DATA_DIR ?? join(root, "../shared/data");
    const work = mkdtempSync(join(tmpdir(), "mtf-dashboard-retrain-"));
    const keys = { APCA_API_KEY_ID: "mtf-local-key", APCA_API_SECRET_KEY: "mtf-local-secret" };
    const standin = spawn(mtf, ["replay", "--data", data, "--port", "0"], {
      env: { ...process.env, ...keys },
      stdio: ["ignore", "ignore", "pipe"],
    });
    try {
      const url = await new Promise((resolve, reject) => {
        let buf = "";
        standin.stderr.on("data", (d) => {
          buf += d;
          const m = /listening on (http:\/\/[\d.:]+)\r?\n/.exec(buf);
          if (m) resolve(m[1]);
        });
        standin.once("exit", (c) => reject(new Error(`mtf replay exited ${c}: ${buf}`)));
      });
      const config = readFileSync(join(root, "models/spy-15m-h4/retrain.toml"), "utf8")
        .replace(/^data_url = .*$/m, `data_url = "${url}"`)
        .replace(/^backfill_start = .*$/m, 'backfill_start = "2010-01-04"')
        .replace(/^min_interval_score_gain = .*$/m, "min_interval_score_gain = -10.0")
        .replace(/^coverage = \[0\.77, 0\.83\].*$/m, "coverage = [0.0, 1.0]")
        .replace(/^max_symbol_regression = .*$/m, "max_symbol_regression = 10.0")
        .replace(/^min_holdout = .*$/m, "min_holdout = 20");
      writeFileSync(join(work, "retrain.toml"), config);
      const run = await new Promise((resolve, reject) => {
        const child = spawn(mtf, ["retrain", "--config", join(work, "retrain.toml"), "--edge", base, "--json"], {
          env: { ...process.env, ...keys, MTF_ADMIN_TOKEN: "demo-admin-token" },
          stdio: ["ignore", "pipe", "pipe"],
        });
        let out = "";
        let err = "";
        child.stdout.on("data", (d) => {
          out += d;
        });
        child.stderr.on("data", (d) => {
          err += d;
        });
        child.once("error", reject);
        child.once("close", (code) => resolve({ code, err, record: out.trim() ? JSON.parse(out) : null }));
      });
      assert.equal(run.code, 0, run.err);
      const rec = run.record;
      assert.equal(rec.decision, "promoted", rec.reasons.join("\n"));
      assert.equal(rec.champion.version, "spy-15m-h4@0.1.0");
      assert.equal(rec.champion.score.n, rec.challenger.score.n, "both scored on the same holdout");
      const active = await (await fetch(`${base}/api/v1/models/active`)).json();
      assert.equal(active.model.version, rec.challenger.version);
      const { page, problems } = await open("?symbols=SPY&backend=cpu");
      await page.waitForSelector("[data-testid=prediction]", { timeout: 90_000 });
      // The page predicts with the promoted model and its panel shows the run that promoted it.
      assert.equal(await page.locator("[data-testid=model-version]").innerText(), rec.challenger.version);
      await page.waitForSelector("[data-testid=last-decision]", { timeout: 60_000 });
      assert.equal(await page.locator("[data-testid=last-decision]").innerText(), "promoted");
      const panel = await page.locator("[data-testid=health-panel]").innerText();
      assert.ok(panel.includes(`challenger ${rec.challenger.version}`), panel);
      assert.ok(panel.includes(`champion ${rec.champion.version}`), panel);
      await page.locator("[data-testid=health-panel]").screenshot({ path: join(results, "dashboard-health-promoted.png") });
      assert.deepEqual(problems, []);
      await page.close();
    } finally {
      standin.kill("SIGTERM");
      rmSync(work, { recursive: true, force: true });
    }
  });
});
