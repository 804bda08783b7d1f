#!/usr/bin/env node
// Times `mtf retrain` of the default intraday model (models/spy-15m-h4/retrain.toml) on the shared data: the
// stand-in (`mtf replay`) serves the bars, the worker runs in workerd (Miniflare, local D1) with the committed
// default model registered as the champion. Prints the run's wall time and its record's decision and scores.
// Run: cargo build --release -p mtf-cli && scripts/build-worker && MTF_BIN=target/release/mtf node scripts/bench-retrain.mjs
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ADMIN, auth, dataDir, KEY, mtfBin, root, SECRET, startStandin, startWorker } from "../edge-worker/test/harness.mjs";

const work = join(tmpdir(), `mtf-bench-retrain-${process.pid}`);
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const standin = await startStandin(["--data", dataDir()]);
const w = await startWorker(standin, {}, { listen: true });
try {
  const champion = readFileSync(join(root, "models/spy-15m-h4/model.mtf"));
  const reg = await w.mf.dispatchFetch(`${w.url}/api/v1/models?activate=true`, {
    method: "POST",
    headers: { ...auth(ADMIN), "content-type": "application/octet-stream" },
    body: champion,
  });
  if (reg.status !== 201) throw new Error(`registering the champion: ${reg.status} ${await reg.text()}`);
  // The committed retrain config, pointed at the stand-in and a fresh store (a year of daily history for 1d).
  const cfg = readFileSync(join(root, "models/spy-15m-h4/retrain.toml"), "utf8")
    .replace(/data_url = ".*"/, `data_url = "${standin.url}"`)
    .replace(/backfill_start = ".*"/, 'backfill_start = "2010-01-04"');
  writeFileSync(join(work, "retrain.toml"), cfg);
  const t0 = performance.now();
  const out = await new Promise((resolve, reject) => {
    const child = spawn(mtfBin(), ["retrain", "--config", join(work, "retrain.toml"), "--edge", w.url, "--json"], {
      env: { ...process.env, MTF_ADMIN_TOKEN: ADMIN, APCA_API_KEY_ID: KEY, APCA_API_SECRET_KEY: SECRET },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let s = "";
    child.stdout.on("data", (d) => {
      s += d;
    });
    child.once("error", reject);
    child.once("close", (code) => (code === 0 ? resolve(s) : reject(new Error(`mtf retrain exited ${code}`))));
  });
  const seconds = (performance.now() - t0) / 1000;
  const r = JSON.parse(out);
  console.log(
    JSON.stringify(
      {
        wall_s: Number(seconds.toFixed(1)),
        recorded_duration_s: Number(r.duration_s.toFixed(1)),
        decision: r.decision,
        reasons: r.reasons,
        holdout: r.holdout,
        champion: r.champion?.score,
        challenger: r.challenger?.score,
        training_range: r.challenger?.training_range,
      },
      null,
      2,
    ),
  );
} finally {
  await w.mf.dispose();
  await standin.stop();
  rmSync(work, { recursive: true, force: true });
}
