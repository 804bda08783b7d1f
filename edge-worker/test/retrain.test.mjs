// The retrain loop end to end (issue 16): `mtf retrain` backfills January 2011 SPY bars from `mtf replay` into a
// store, trains a tiny challenger, scores it and the champion on the same unseen holdout (the last five sessions),
// applies the config's promotion rule and registers / activates at the worker in workerd (Miniflare, local D1),
// which keeps the records (`/api/v1/retrains`) and serves model health (precomputed by the monitoring step, with the
// drift of the edge's own predictions' inputs). A lenient rule promotes and a strict one rejects; under the default
// gain rule a challenger beats a champion whose band is miscalibrated on its numbers; the registry keeps the last
// five versions plus the active one (the rule itself is unit-tested in crates/retrain).
// Run: scripts/build-worker && cargo build -p mtf-cli && node --test edge-worker/test/retrain.test.mjs
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ADMIN, artifactWith, built, dataDir, KEY, mtfBin, SECRET, startStandin, startWorker, workerDir } from "./harness.mjs";
import { checkResponses, loadSpec } from "./openapi.mjs";

const skip = !built();
if (skip) console.log("SKIPPED: retrain tests need scripts/build-worker and `cargo build -p mtf-cli`");

const work = join(tmpdir(), `mtf-retrain-test-${process.pid}`);

/** A tiny 15-minute model over a store the run backfills; `promotion` and `triggers` are TOML lines. */
function config(name, { seed = 1, promotion = "", triggers = "" } = {}, standin) {
  const text = `
name = "retrain-test"
version = "0.1.0"
[inputs]
store = "store"
symbols = ["SPY"]
[data]
timeframes = ["15m", "1h", "1d"]
lookback = 16
base = "15m"
[data.labels]
horizon = 2
[model]
patch_len = 8
d_model = 16
n_heads = 2
n_layers = 1
d_ff = 32
dropout = 0.0
[train]
epochs = 2
batch_size = 64
lr = 0.001
weight_decay = 0.01
grad_clip = 1.0
patience = 2
warmup_epochs = 0
class_weight = 0.5
seed = ${seed}
[eval]
folds = 2
valid_len = 40
embargo = 2
inner_valid_frac = 0.2
min_train = 100
clip = 5.0
[retrain]
holdout_sessions = 5
data_url = "${standin.url}"
backfill_start = "2010-01-04"
[retrain.promotion]
min_holdout = 40
${promotion}
[retrain.triggers]
${triggers}
`;
  const path = join(work, `${name}.toml`);
  writeFileSync(path, text);
  return path;
}

describe("mtf retrain against the worker", { skip }, () => {
  let standin, w;
  const responses = [];
  const get = async (path) => {
    const res = await fetch(`${w.url}${path}`);
    const json = await res.json();
    responses.push({ method: "GET", path: path.split("?")[0], status: res.status, json });
    return json;
  };
  // Asynchronous (not spawnSync): the test's own connections to the worker must stay serviced meanwhile.
  const retrain = (cfg, extra = [], env = {}) =>
    new Promise((resolve, reject) => {
      const child = spawn(mtfBin(), ["retrain", "--config", cfg, "--edge", w.url, "--json", ...extra], {
        env: { ...process.env, MTF_ADMIN_TOKEN: ADMIN, APCA_API_KEY_ID: KEY, APCA_API_SECRET_KEY: SECRET, ...env },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => {
        stdout += d;
      });
      child.stderr.on("data", (d) => {
        stderr += d;
      });
      child.once("error", reject);
      child.once("close", (code) => resolve({ code, stderr, record: stdout.trim() ? JSON.parse(stdout) : null }));
    });
  const active = async () => (await get("/api/v1/models/active")).model?.version;

  before(async () => {
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    standin = await startStandin(["--data", dataDir()]);
    w = await startWorker(standin, { WATCHLIST: "SPY" }, { listen: true });
  });
  after(async () => {
    await w?.mf.dispose();
    await standin?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  let first;
  test("no champion: the first run backfills, trains, is promoted and serves; the record is at the edge and local", async () => {
    const r = await retrain(config("first", { promotion: "coverage = [0.0, 1.0]" }, standin));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /backfill 15Min: \d+ bars added/);
    first = r.record;
    assert.equal(first.decision, "promoted", first.reasons.join("\n"));
    assert.ok(
      first.reasons.some((x) => x === "pass: no champion to beat"),
      first.reasons.join("\n"),
    );
    assert.equal(first.activated, true);
    assert.match(first.challenger.version, /^retrain-test@0\.1\.0-r[0-9a-f]{8}$/);
    assert.equal(await active(), first.challenger.version);
    // The holdout (last five sessions) starts after the challenger's training range.
    assert.ok(first.holdout[0] > first.challenger.training_range[1], JSON.stringify(first.holdout));
    assert.ok(first.challenger.score.n >= 40 && first.baselines.persistence, JSON.stringify(first.challenger.score));
    const list = (await get("/api/v1/retrains")).retrains;
    assert.deepEqual(
      list.map((x) => x.id),
      [first.id],
    );
    assert.deepEqual(
      [list[0].decision, list[0].challenger.version, list[0].reasons],
      [first.decision, first.challenger.version, first.reasons],
      "the edge serves the record as posted",
    );
    const log = readFileSync(join(work, "retrains.jsonl"), "utf8").trim().split("\n").map(JSON.parse);
    assert.deepEqual(
      log.map((x) => x.id),
      [first.id],
    );
  });

  test("a challenger that misses the rule is registered inactive with the reason; the same inputs decide the same", async () => {
    const cfg = config("strict", { seed: 2, promotion: "coverage = [0.0, 1.0]\nmin_interval_score_gain = 0.5" }, standin);
    const r = await retrain(cfg);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.record.decision, "rejected");
    assert.ok(
      r.record.reasons.some((x) => /^fail: interval score .* \(≥ 50\.0 % better required\)$/.test(x)),
      r.record.reasons.join("\n"),
    );
    // Both were scored on the same holdout samples.
    assert.equal(r.record.champion.score.n, r.record.challenger.score.n);
    assert.equal(r.record.champion.version, first.challenger.version);
    assert.equal(await active(), first.challenger.version, "the champion still serves");
    const models = (await get("/api/v1/models")).models;
    assert.ok(models.some((m) => m.version === r.record.challenger.version && !m.active));
    // Same snapshot, config, seed and champion: the earlier decision, no second training.
    const again = await retrain(cfg);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, new RegExp(`run ${r.record.id} .* was decided before: rejected`));
  });

  test("a crash between register and activate leaves the champion serving; the next run finishes it", async () => {
    const lenient = { seed: 3, promotion: "coverage = [0.0, 1.0]\nmin_interval_score_gain = -10.0\nmax_symbol_regression = 10.0" };
    const crashed = await retrain(config("crash", lenient, standin), [], { MTF_RETRAIN_FAULT: "after_register" });
    assert.equal(crashed.code, 75, crashed.stderr);
    assert.equal(await active(), first.challenger.version, "the champion still serves after the crash");
    const pending = (await get("/api/v1/models")).models.filter((m) => !m.active).map((m) => m.version);
    // The next run (nothing else to do: no trigger fires) finishes the interrupted one first.
    const next = await retrain(config("quiet", { triggers: "every_days = 1000.0\npsi = 1000.0\nvolatility_ratio = 1000.0" }, standin), [
      "--if-needed",
    ]);
    assert.equal(next.code, 0, next.stderr);
    assert.match(next.stderr, /recovering interrupted run [0-9a-f]{16} \(promoted\)/);
    assert.match(next.stderr, /no trigger fired: no retrain needed/);
    const now = await active();
    assert.notEqual(now, first.challenger.version, "the recovered challenger was activated");
    assert.ok(pending.includes(now), `${now} was registered before the crash (${pending})`);
    const recs = (await get("/api/v1/retrains")).retrains;
    const rec = recs.find((x) => x.challenger?.version === now);
    assert.ok(rec.activated && rec.reasons.some((x) => x.startsWith("recovered")), JSON.stringify(rec));
  });

  test("--if-needed prints every check; the schedule fires when the last run is older than configured; --search", async () => {
    const r = await retrain(config("due", { seed: 4, triggers: "every_days = 0.0", promotion: "coverage = [0.0, 1.0]" }, standin), [
      "--if-needed",
      "--search",
      "2",
    ]);
    assert.equal(r.code, 0, r.stderr);
    for (const name of ["no_champion", "schedule", "coverage", "hit_rate", "interval_score", "drift", "volatility"])
      assert.match(r.stderr, new RegExp(`(FIRED|-) +${name} `), r.stderr);
    assert.match(r.stderr, /FIRED schedule +last retrain/);
    assert.match(r.stderr, /largest PSI \d/, "drift is measured from the store against the champion's training window");
    assert.ok(r.record.triggers.includes("schedule"), JSON.stringify(r.record.triggers));
    // The search's leaderboard (validation loss on the training window only) is part of the record, best first.
    assert.equal(r.record.search.length, 2);
    assert.ok(r.record.search[0].mean_valid_loss <= r.record.search[1].mean_valid_loss);
    assert.ok(Object.keys(r.record.drift).length > 0, "PSI per timeframe recorded");
  });

  test("a champion whose band is miscalibrated loses on its numbers under the default gain rule: promoted and served", async () => {
    // The champion: the serving model with its interval widened by 3 label units (a band far too wide, as a
    // model whose calibration went stale would have), registered and activated as its own version.
    const served = (await get("/api/v1/models/active")).model;
    const bytes = new Uint8Array(await (await fetch(`${w.url}${served.artifact_url}`)).arrayBuffer());
    let wideVersion;
    const wide = artifactWith(bytes, (h) => {
      h.version = `${h.version}-wide`;
      h.calibration.interval_delta += 3.0;
      wideVersion = `${h.name}@${h.version}`;
    });
    const admin = { authorization: `Bearer ${ADMIN}` };
    const reg = await fetch(`${w.url}/api/v1/models`, { method: "POST", headers: admin, body: wide });
    assert.equal(reg.status, 201, await reg.text());
    const act = await fetch(`${w.url}/api/v1/models/${encodeURIComponent(wideVersion)}/activate`, { method: "POST", headers: admin });
    assert.equal(act.status, 200, await act.text());
    assert.equal(await active(), wideVersion);
    // The default rule (2 % interval-score gain, 5 % per-symbol bound); only the coverage band is opened, as a
    // two-epoch model's coverage on 5 sessions is not the point here.
    const r = await retrain(config("beats", { seed: 6, promotion: "coverage = [0.0, 1.0]" }, standin));
    assert.equal(r.code, 0, r.stderr);
    const rec = r.record;
    assert.equal(rec.champion.version, wideVersion);
    assert.equal(rec.decision, "promoted", rec.reasons.join("\n"));
    assert.ok(
      rec.reasons.some((x) => /^pass: interval score .* vs champion .*: \+\d+\.\d % \(≥ 2\.0 % better required\)$/.test(x)),
      rec.reasons.join("\n"),
    );
    assert.ok(
      rec.challenger.score.interval_score < 0.98 * rec.champion.score.interval_score,
      JSON.stringify([rec.challenger.score, rec.champion.score]),
    );
    assert.ok(rec.champion.score.coverage > rec.challenger.score.coverage, "the wide band over-covers");
    assert.equal(rec.champion.score.n, rec.challenger.score.n, "the same holdout");
    assert.equal(await active(), rec.challenger.version, "the winner serves");
    assert.equal((await get("/api/v1/retrains")).retrains[0].id, rec.id);
  });

  test("the registry keeps the last five versions plus the active one across retrains", async () => {
    const models = (await get("/api/v1/models")).models;
    const activeOnes = models.filter((m) => m.active);
    assert.equal(activeOnes.length, 1);
    // Seven versions were registered by now (five retrain challengers, the wide champion, and this run's);
    // only the five newest are kept, plus the active one if it is older.
    const r = await retrain(config("prune", { seed: 7, promotion: "coverage = [0.0, 1.0]\nmin_interval_score_gain = 0.9" }, standin));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.record.decision, "rejected");
    const after = (await get("/api/v1/models")).models;
    const kept = after.map((m) => m.version);
    assert.ok(kept.includes(r.record.challenger.version), "the newest (rejected) challenger is kept, inactive");
    assert.ok(kept.includes(await active()), "the active model is kept");
    assert.ok(after.filter((m) => !m.active).length <= 5, kept.join(", "));
    assert.ok(after.length <= 6, kept.join(", "));
    assert.ok(!kept.includes(first.challenger.version), "the oldest version was pruned");
  });

  test("model health: rolling live metrics of the scored predictions next to the validation numbers", async () => {
    const version = await active();
    const h = await get(`/api/v1/models/${encodeURIComponent(version)}/health`);
    assert.equal(h.version, version);
    assert.equal(h.scored, 0, "nothing of this version was scored yet");
    assert.deepEqual(h.horizons, []);
    assert.equal(typeof h.validation.coverage, "number");
    const missing = await fetch(`${w.url}/api/v1/models/nope@1/health`);
    assert.equal(missing.status, 404);
    // The edge's own predictions: the watchlist predicted at twelve 15-minute closes of the last session (the
    // cron's work, on demand), then scored; the monitoring step stores the health with the drift of their inputs.
    const post = async (path) => {
      const res = await fetch(`${w.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}` } });
      const json = await res.json();
      responses.push({ method: "POST", path: path.split("?")[0], status: res.status, json });
      return json;
    };
    for (let k = 0; k < 12; k++) {
      const at = new Date(Date.parse("2011-01-31T15:00:00Z") + k * 15 * 60_000).toISOString();
      const run = await post(`/api/v1/admin/predict-watchlist?at=${at}`);
      assert.equal(run.stored, 1, JSON.stringify(run));
    }
    const scoring = await post("/api/v1/admin/track-accuracy");
    assert.equal(scoring.scored, 12, JSON.stringify(scoring));
    assert.equal(scoring.monitored, 1);
    const after = await get(`/api/v1/models/${encodeURIComponent(version)}/health`);
    assert.equal(after.precomputed, true, "stored by the monitoring step");
    assert.equal(after.scored, 12);
    assert.equal(after.horizons[0].last_100.n, 12);
    assert.equal(after.drift_reference, true, "a retrained artifact carries its training reference");
    assert.equal(after.drift_observations, 12);
    assert.deepEqual(Object.keys(after.drift).sort(), ["15m", "1d", "1h"]);
    assert.ok(
      Object.values(after.drift).every((v) => Number.isFinite(v) && v >= 0),
      JSON.stringify(after.drift),
    );
    const edgeOnly = await get(`/api/v1/models/${encodeURIComponent(version)}/health?source=edge`);
    assert.equal(edgeOnly.scored, 12, "they are the edge's own predictions");
  });

  test("every JSON response matches openapi.yaml", () => {
    const { problems, checked } = checkResponses(loadSpec(workerDir), responses);
    assert.deepEqual(problems, []);
    assert.ok(checked >= 8, `only ${checked} responses checked`);
  });
});
