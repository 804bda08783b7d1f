// Playwright (playwright-core + Debian's Chromium) test of mtf-predict as a user gets it: `npm pack` the package,
// install the tarball into a fresh Vite + React app (consumer/), build it, serve it in front of the real edge (the
// built worker in workerd with `mtf replay` on the SPY minutes as Alpaca; server.mjs), and check that
// `useMLPrediction` shows the prediction `mtf predict` makes for the bars the edge served it, and on the edge path
// what the edge's ml-predict answered.
// Run: node --test web/e2e/package.test.mjs (after scripts/build-wasm, `npm run build` in web/, scripts/build-worker
// and `cargo build -p mtf-cli`).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { close } from "../packages/mtf-predict/test/compare.mjs";
import { edgeBuilt, launch, MODEL, serve } from "./server.mjs";

const here = new URL(".", import.meta.url).pathname;
const pkgDir = join(here, "../packages/mtf-predict");
const artifacts = join(here, "test-results");
const chromium = process.env.CHROMIUM ?? "/usr/bin/chromium";
const ready =
  existsSync(chromium) && existsSync(join(pkgDir, "wasm/cpu/mtf_wasm_bg.wasm")) && existsSync(join(pkgDir, "dist/index.js")) && edgeBuilt();
if (!ready) {
  if (process.env.MTF_REQUIRE_BROWSER === "1")
    throw new Error("Chromium, the wasm build, dist/, the worker build or the mtf binary is missing");
  console.log(
    "SKIPPED: package browser test needs /usr/bin/chromium, scripts/build-wasm, `npm run build` in web/, scripts/build-worker and `cargo build -p mtf-cli`",
  );
}

/** What `mtf predict --request` predicts for `bars` (the CLI's reading of the same request the hook made). */
function mtfPredict(bars) {
  const dir = mkdtempSync(join(tmpdir(), "mtf-request-"));
  const file = join(dir, "request.json");
  writeFileSync(file, JSON.stringify({ symbol: "SPY", bars }));
  return JSON.parse(execFileSync(site.mtfBin, ["predict", "--model", MODEL, "--request", file], { encoding: "utf8" }));
}

/** The prediction the edge's last ml-predict answer carried for SPY. */
const lastEdgePrediction = () => site.counts.predictions.at(-1).response.predictions.find((p) => p.symbol === "SPY").prediction;

let site, browser;
// The CPU test's inputs (the bars the edge served the hook) and `mtf predict`'s prediction for them.
let inputs, expected;
before(async () => {
  if (!ready) return;
  const work = mkdtempSync(join(tmpdir(), "mtf-consumer-"));
  execFileSync("npm", ["pack", "--silent", "--pack-destination", work], { cwd: pkgDir, stdio: ["ignore", "ignore", "inherit"] });
  const tgz = readdirSync(work).find((f) => f.endsWith(".tgz"));
  const app = join(work, "app");
  cpSync(join(here, "consumer"), app, { recursive: true });
  const npm = (args) =>
    execFileSync("npm", [...args, "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], {
      cwd: app,
      stdio: ["ignore", "ignore", "inherit"],
    });
  npm(["install"]);
  npm(["install", join(work, tgz)]);
  execFileSync("npx", ["vite", "build", "--logLevel", "error"], { cwd: app, stdio: ["ignore", "ignore", "inherit"] });
  site = await serve({ "/": join(app, "dist") });
  browser = await launch();
  mkdirSync(artifacts, { recursive: true });
});
after(async () => {
  await browser?.close();
  await site?.close();
});

async function open(query) {
  const page = await browser.newPage();
  const problems = [];
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  page.on("pageerror", (e) => problems.push(String(e)));
  await page.goto(`${site.url}/${query}`);
  return { page, problems };
}

test("the hook in a Vite app built from the packed tarball predicts what `mtf predict` predicts (CPU)", {
  skip: !ready,
  timeout: 120_000,
}, async () => {
  const { page, problems } = await open("?backend=cpu");
  await page.waitForSelector("#prediction, #error", { timeout: 60_000 });
  const state = await page.evaluate(() => ({ ...window.__mtf, predictor: undefined }));
  assert.equal(state.error, undefined, state.error);
  assert.equal(state.backend, "cpu");
  assert.equal(state.stale, false);
  // The bars came from the edge (from the stand-in, at its clock): only minutes that had closed by then.
  assert.ok(site.counts.bars >= 2, `bars requests: ${site.counts.bars}`);
  assert.ok(state.inputs["1m"].at(-1).t < "2011-01-31T20:00:00Z", state.inputs["1m"].at(-1).t);
  expected = mtfPredict(state.inputs);
  assert.equal(state.prediction.predictionTime, expected.predictionTime);
  close(state.prediction, expected, 1e-4);
  inputs = state.inputs;
  await page.screenshot({ path: join(artifacts, "package-cpu.png") });
  assert.deepEqual(problems, []);
  assert.equal(site.counts.artifact, 1);
  assert.ok(site.counts.sessions >= 1 && site.counts.refused === 0, `sessions ${site.counts.sessions}, refused ${site.counts.refused}`);
  // A second visit takes the artifact from Cache Storage (verified by sha256), not from the network.
  await page.reload();
  await page.waitForSelector("#prediction", { timeout: 60_000 });
  assert.equal(site.counts.artifact, 1, "artifact refetched instead of read from Cache Storage");
  await page.close();
});

test('where: "edge" asks the edge\'s ml-predict and loads no model; a model the browser cannot load falls back to it', {
  skip: !ready,
  timeout: 120_000,
}, async () => {
  const artifacts0 = site.counts.artifact;
  const predicts0 = site.counts.predictions.length;
  const { page, problems } = await open("?where=edge");
  await page.waitForSelector("#prediction, #error", { timeout: 60_000 });
  const state = await page.evaluate(() => ({ ...window.__mtf, predictor: undefined }));
  assert.equal(state.error, undefined, state.error);
  assert.equal(state.backend, "edge");
  assert.equal(site.counts.predictions.length, predicts0 + 1);
  const asked = site.counts.predictions.at(-1);
  assert.equal(asked.status, 200, JSON.stringify(asked.response));
  assert.deepEqual(asked.body, { symbols: ["SPY"], horizon: 60 });
  assert.match(asked.authorization ?? "", /^Bearer mtf1\./, "predict went without a session");
  // What the hook shows is what the edge answered; the edge predicted at the stand-in's clock.
  close(state.prediction, lastEdgePrediction(), 1e-12);
  assert.equal(asked.response.at, "2011-01-31T20:00:00Z");
  assert.equal(site.counts.artifact, artifacts0, "no artifact download on the edge path");
  assert.deepEqual(problems, []);
  await page.close();
  // The browser cannot load its model (404): the default `where: "auto"` predicts at the edge instead.
  const fallback = await open("?model=missing");
  await fallback.page.waitForSelector("#prediction", { timeout: 60_000 });
  const f = await fallback.page.evaluate(() => ({ ...window.__mtf, predictor: undefined }));
  assert.match(f.backend, /^edge \(browser model unavailable: .*404/, f.backend);
  close(f.prediction, lastEdgePrediction(), 1e-12);
  await fallback.page.close();
});

test("a horizon no active model serves: the hook says which horizons are served, and loads no model", {
  skip: !ready,
  timeout: 120_000,
}, async () => {
  const artifacts0 = site.counts.artifact;
  const { page, problems } = await open("?backend=cpu&horizon=1d");
  await page.waitForSelector("#error", { timeout: 60_000 });
  const state = await page.evaluate(() => ({ ...window.__mtf, predictor: undefined }));
  assert.equal(state.status, "error");
  assert.match(state.error, /no_model_for_horizon: no active model predicts 1440 minutes ahead \(active models predict 60 minutes ahead\)/);
  assert.equal(state.prediction, undefined);
  assert.equal(site.counts.artifact, artifacts0, "no artifact downloaded for a horizon nobody serves");
  // The only console error is the browser's own line for the 404.
  assert.deepEqual(
    problems.filter((p) => !/status of 404/.test(p)),
    [],
  );
  await page.close();
});

test("WebGPU (SwiftShader): same prediction within 1e-4, two in a row, and still working after an error", {
  skip: !ready,
  timeout: 300_000,
}, async () => {
  const { page, problems } = await open("?backend=webgpu");
  await page.waitForSelector("#prediction, #error", { timeout: 240_000 });
  const state = await page.evaluate(() => ({ ...window.__mtf, predictor: undefined }));
  assert.equal(state.error, undefined, state.error);
  assert.equal(state.backend, "webgpu");
  const request = { symbol: "SPY", bars: inputs ?? state.inputs };
  expected ??= mtfPredict(request.bars);
  close(state.prediction, expected, 1e-4);
  await page.screenshot({ path: join(artifacts, "package-webgpu.png") });
  const out = await page.evaluate(async (r) => {
    const p = window.__mtf.predictor;
    const first = await p.predict(r);
    const second = await p.predict(r);
    const bad = structuredClone(r);
    bad.bars["1m"][3].l = Number.NaN;
    let error;
    try {
      await p.predict(bad);
    } catch (e) {
      error = e.message;
    }
    const third = await p.predict(r);
    return { first, second, third, error };
  }, request);
  close(out.first, expected, 1e-4);
  close(out.second, expected, 1e-4);
  close(out.third, expected, 1e-4);
  assert.match(out.error ?? "", /1m/);
  assert.deepEqual(problems, []);
  await page.close();
});
