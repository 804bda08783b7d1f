// "Model health": the active version's live coverage and hit rate per day (reference lines at the nominal band
// level and the version's validation numbers), its rolling windows, feature drift per timeframe, and the retrain
// history with the last run's champion/challenger comparison. Every number comes from the edge
// (GET /api/v1/models/{version}/health, GET /api/v1/retrains).

import type { EdgeClient, HorizonHealth, ModelHealth, RetrainRecord, Score, WindowMetrics } from "mtf-predict";
import { useEffect, useState } from "react";

const pct = (x: number | null | undefined, d = 1) => (x == null || !Number.isFinite(x) ? "—" : `${(x * 100).toFixed(d)} %`);
const num = (x: number | null | undefined, d = 4) => (x == null || !Number.isFinite(x) ? "—" : x.toFixed(d));

/** Daily coverage and hit rate of one horizon as lines on [0, 1], with dashed reference lines. */
function HealthPlot({ h, validation }: { h: HorizonHealth; validation: ModelHealth["validation"] }) {
  const W = 320;
  const H = 120;
  const pts = h.daily.filter((d) => d.metrics.n > 0);
  const x = (i: number) => (pts.length < 2 ? W / 2 : 8 + (i * (W - 16)) / (pts.length - 1));
  const y = (v: number) => H - 6 - v * (H - 12);
  const line = (get: (m: WindowMetrics) => number | null) =>
    pts
      .map((d, i) => [i, get(d.metrics)] as const)
      .filter((p): p is readonly [number, number] => p[1] != null)
      .map(([i, v]) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`)
      .join(" ");
  const refs: [string, number | null | undefined, string][] = [
    [`nominal ${pct(h.level, 0)}`, h.level, "#888"],
    ["validation coverage", validation.coverage, "#3b82f6"],
    ["validation dir. acc.", validation.directional_accuracy, "#f59e0b"],
  ];
  return (
    <svg width={W} height={H} role="img" aria-label={`live coverage and hit rate per day, ${h.horizon_minutes}-minute horizon`}>
      <title>{`coverage (blue) and hit rate (orange) per day; dashed: nominal level and validation numbers`}</title>
      {refs
        .filter((r): r is [string, number, string] => r[1] != null)
        .map(([name, v, c]) => (
          <line key={name} x1={0} x2={W} y1={y(v)} y2={y(v)} stroke={c} strokeDasharray="4 3" strokeWidth={1}>
            <title>{`${name}: ${pct(v)}`}</title>
          </line>
        ))}
      <polyline fill="none" stroke="#3b82f6" strokeWidth={2} points={line((m) => m.coverage)} data-testid="coverage-line" />
      <polyline fill="none" stroke="#f59e0b" strokeWidth={2} points={line((m) => m.hit_rate)} />
    </svg>
  );
}

function ScoreRow({ name, s }: { name: string; s: Score | null | undefined }) {
  return (
    <tr>
      <td>{name}</td>
      <td>{s?.n ?? "—"}</td>
      <td>{num(s?.interval_score, 5)}</td>
      <td>{pct(s?.coverage)}</td>
      <td>{pct(s?.directional_accuracy)}</td>
      <td>{num(s?.mae_ratio_vs_persistence, 3)}</td>
    </tr>
  );
}

export function HealthPanel({ edge, version }: { edge: EdgeClient; version: string | undefined }) {
  const [health, setHealth] = useState<ModelHealth>();
  const [runs, setRuns] = useState<RetrainRecord[]>([]);
  const [error, setError] = useState<string>();
  useEffect(() => {
    if (!version) return;
    const load = () => {
      edge.modelHealth(version).then(setHealth, (e: Error) => setError(e.message));
      edge.retrains(10).then(
        (r) => setRuns(r.retrains),
        (e: Error) => setError(e.message),
      );
    };
    load();
    const t = setInterval(load, 30_000);
    return () => clearInterval(t);
  }, [edge, version]);
  const last = runs[0];
  return (
    <section className="panel" data-testid="health-panel">
      <h2>Model health</h2>
      {error && <p className="note">{error}</p>}
      {health && health.horizons.length === 0 && (
        <p data-testid="health-empty">
          No scored live predictions of {health.version} yet (the edge scores them once their horizon has passed).
        </p>
      )}
      {health?.horizons.map((h) => (
        <div key={h.horizon_minutes}>
          <p>
            {h.horizon_minutes}-minute horizon, up to {health.as_of?.slice(0, 16).replace("T", " ")} UTC
            {health.computed_at &&
              ` (computed ${health.precomputed ? "by the edge's monitoring run" : "on request"} at ${health.computed_at.slice(0, 19).replace("T", " ")} UTC)`}
          </p>
          <HealthPlot h={h} validation={health.validation} />
          <table className="metrics">
            <thead>
              <tr>
                <th>live</th>
                <th>n</th>
                <th>in band</th>
                <th>interval score</th>
                <th>hit rate</th>
                <th>mean error</th>
              </tr>
            </thead>
            <tbody>
              {(
                [
                  ["last day", h.last_day],
                  ["last week", h.last_week],
                  ["last 100", h.last_100],
                ] as const
              ).map(([name, w]) => (
                <tr key={name}>
                  <td>{name}</td>
                  <td>{w.n}</td>
                  <td>{pct(w.coverage)}</td>
                  <td>{num(w.interval_score, 5)}</td>
                  <td>{pct(w.hit_rate)}</td>
                  <td>{num(w.mean_error, 5)}</td>
                </tr>
              ))}
              <tr className="model-row">
                <td>validation</td>
                <td />
                <td>{pct(health.validation.coverage)}</td>
                <td>{num(health.validation.interval_score, 5)}</td>
                <td>{pct(health.validation.directional_accuracy)}</td>
                <td />
              </tr>
            </tbody>
          </table>
        </div>
      ))}
      {health && Object.keys(health.drift).length > 0 && (
        <p data-testid="live-drift">
          live feature drift (edge predictions, {health.drift_observations} in the newest 7 days; largest PSI per timeframe):{" "}
          {Object.entries(health.drift)
            .map(([tf, v]) => `${tf} ${v.toFixed(2)}${v > 0.25 ? " (shifted)" : ""}`)
            .join(" · ")}
        </p>
      )}
      {health && health.drift_observations > 0 && !health.drift_reference && (
        <p className="note">
          live feature drift not measured: {health.version}'s artifact carries no training reference (models trained before it was recorded;
          the next retrain adds it).
        </p>
      )}
      {last && Object.keys(last.drift).length > 0 && (
        <p data-testid="drift">
          feature drift (largest PSI per timeframe, last run):{" "}
          {Object.entries(last.drift)
            .map(([tf, v]) => `${tf} ${v.toFixed(2)}${v > 0.25 ? " (shifted)" : ""}`)
            .join(" · ")}
        </p>
      )}
      {last && (
        <details open>
          <summary>
            last retrain: <b data-testid="last-decision">{last.decision}</b> ({last.finished_at.slice(0, 16).replace("T", " ")})
          </summary>
          <table className="metrics">
            <thead>
              <tr>
                <th>holdout</th>
                <th>n</th>
                <th>interval score</th>
                <th>in band</th>
                <th>dir. acc.</th>
                <th>MAE ÷ persistence</th>
              </tr>
            </thead>
            <tbody>
              <ScoreRow name={`champion ${last.champion?.version ?? "(none)"}`} s={last.champion?.score} />
              <ScoreRow name={`challenger ${last.challenger?.version ?? "(none)"}`} s={last.challenger?.score} />
              {Object.entries(last.baselines).map(([name, s]) => (
                <ScoreRow key={name} name={name} s={s} />
              ))}
            </tbody>
          </table>
          <ul>
            {last.reasons.map((r) => (
              <li key={r}>{r}</li>
            ))}
          </ul>
        </details>
      )}
      {runs.length > 0 && (
        <table className="metrics" data-testid="retrain-history">
          <thead>
            <tr>
              <th>run</th>
              <th>why</th>
              <th>decision</th>
              <th>challenger</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => (
              <tr key={r.id} title={r.reasons.join("\n")}>
                <td>{r.finished_at.slice(0, 16).replace("T", " ")}</td>
                <td>{r.triggers.join(", ")}</td>
                <td>
                  {r.decision}
                  {r.activated ? " (active)" : ""}
                </td>
                <td>{r.challenger?.version ?? "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
