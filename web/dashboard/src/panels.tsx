// Side panels: signal, multi-timeframe attention, model, prediction history, alerts.

import type { Bar, ModelPerformance, Prediction, Predictor, SignalPolicy, StoredPrediction, Timeframe } from "mtf-predict";
import { EdgeClient } from "mtf-predict";
import { useModels } from "mtf-predict/react";
import { useEffect, useState } from "react";
import { horizonLabel, policySentence, predictedSigma, riskScore, SIZING_RULE, trend } from "./risk";

const pct = (x: number | null | undefined, d = 1) => (x == null || !Number.isFinite(x) ? "—" : `${(x * 100).toFixed(d)} %`);
const num = (x: number | null | undefined, d = 2) => (x == null || !Number.isFinite(x) ? "—" : x.toFixed(d));

export function SignalPanel({ p, recent, policy }: { p: Prediction; recent: Bar[]; policy?: SignalPolicy }) {
  const size = p.position;
  const risk = riskScore(p, recent);
  return (
    <section className="panel" data-testid="signal-panel">
      <h2>Signal</h2>
      <div className={`signal signal-${p.signal}`} data-testid="signal">
        {p.signal.toUpperCase()}
      </div>
      <p>
        confidence <b data-testid="confidence">{pct(p.confidence)}</b>
      </p>
      <div className="probs">
        {(["down", "flat", "up"] as const).map((k) => (
          <div key={k} className="prob">
            <span>{k}</span>
            <div className="bar">
              <div className={`fill fill-${k}`} style={{ width: pct(p.probabilities[k], 0) }} />
            </div>
            <span>{pct(p.probabilities[k])}</span>
          </div>
        ))}
      </div>
      <p>
        price in {p.horizon.minutes} min: <b data-testid="predicted-price">{num(p.predictedPrice)}</b> (band {num(p.interval.low)}–
        {num(p.interval.high)}, {pct(p.interval.level, 0)})
      </p>
      <p>
        predicted σ {pct(predictedSigma(p), 2)} · risk score <b data-testid="risk">{risk}</b>/100
      </p>
      <p>
        suggested position{" "}
        <b data-testid="position">{size === 0 ? "none" : `${size > 0 ? "long" : "short"} ${pct(Math.abs(size), 0)} of equity`}</b>
      </p>
      {policy && (
        <p className="note" data-testid="signal-policy">
          {policySentence(policy)}
        </p>
      )}
      <p className="rule">
        {SIZING_RULE} Risk score: predicted σ ÷ realised σ of the last bars over the same horizon, 50 = as much movement as just happened.
      </p>
    </section>
  );
}

/** Entropy of weights divided by ln K (1 = uniform, 0 = all on one); undefined for fewer than two weights. */
function normalisedEntropy(w: number[]): number | undefined {
  if (w.length < 2) return undefined;
  const h = -w.reduce((s, x) => s + (x > 0 ? x * Math.log(x) : 0), 0);
  return h / Math.log(w.length);
}

export function AttentionView({
  p,
  minutes,
  lookback,
  nearUniform,
}: {
  p: Prediction;
  minutes: Bar[];
  lookback: number;
  /** The model's threshold (`ModelInfo.near_uniform_entropy`). */
  nearUniform: number;
}) {
  const { timeframes, acrossTimeframes, overTime } = p.attention;
  const maxCell = Math.max(1e-9, ...overTime.flat());
  const entropy = normalisedEntropy(acrossTimeframes);
  return (
    <section className="panel" data-testid="attention">
      <h2>Across timeframes</h2>
      {entropy !== undefined && entropy >= nearUniform && (
        <p className="note" data-testid="attention-uniform">
          Near uniform (normalised entropy {entropy.toFixed(2)} ≥ {nearUniform.toFixed(2)}): this prediction weighs every timeframe about
          equally, so there is no preference here to read as insight.
        </p>
      )}
      {timeframes.map((tf, i) => {
        const tr = trend(minutes, tf as Timeframe, lookback);
        return (
          <div key={tf} className="att-row" data-testid={`att-${tf}`}>
            <span className="tf">{tf}</span>
            <div className="bar">
              <div className="fill" style={{ width: pct(acrossTimeframes[i], 0) }} />
            </div>
            <span className="val">{pct(acrossTimeframes[i], 0)}</span>
            <span className={`trend ${tr === undefined ? "" : tr >= 0 ? "up" : "down"}`} title="log change over the model's window">
              {tr === undefined ? "—" : `${tr >= 0 ? "▲" : "▼"} ${pct(Math.abs(tr), 2)}`}
            </span>
          </div>
        );
      })}
      <h2>Over time (timeframe × step, oldest left)</h2>
      <div className="heatmap" data-testid="heatmap">
        {overTime.map((row, i) => (
          <div key={i} className="hm-row">
            <span className="tf">{timeframes[i]}</span>
            {row.map((v, j) => (
              <span
                key={j}
                className="hm-cell"
                style={{ opacity: 0.08 + 0.92 * (v / maxCell) }}
                title={`${timeframes[i]} step ${j}: ${pct(v, 2)}`}
              />
            ))}
          </div>
        ))}
      </div>
      <p className="rule">Attention shows what the model looked at, not why the market moves.</p>
    </section>
  );
}

type Metrics = Record<string, unknown> & { baselines?: Record<string, Record<string, unknown>> };

/** What the walk-forward numbers say, computed from them (the same rule as the model card's reading in Rust:
 * a difference from the base rate counts beyond two standard errors). */
export function reading(m: Metrics): string {
  const r = m.mae_ratio_vs_persistence as number | undefined;
  const acc = m.directional_accuracy as number | undefined;
  const base = m.directional_base_rate as number | undefined;
  const n = (m.n_predictions as number | undefined) ?? 0;
  if (r === undefined || acc === undefined || base === undefined || n === 0)
    return "This model's artifact carries no walk-forward numbers to judge it by.";
  const mae =
    r < 0.99
      ? `beats persistence on MAE (${r.toFixed(3)}×)`
      : r > 1.01
        ? `does not beat persistence on MAE (${r.toFixed(3)}×)`
        : `matches persistence on MAE (${r.toFixed(3)}×)`;
  const z = (acc - base) / Math.sqrt((base * (1 - base)) / n);
  const dir =
    z >= 2
      ? `its direction accuracy ${pct(acc)} beats the ${pct(base)} base rate (${z.toFixed(1)} s.e.)`
      : z <= -2
        ? `its direction accuracy ${pct(acc)} is below the ${pct(base)} base rate`
        : `its direction accuracy ${pct(acc)} is indistinguishable from the ${pct(base)} base rate over ${n} predictions`;
  const skill = r < 0.99 || z >= 2;
  return `On its walk-forward folds this model ${mae} and ${dir}.${skill ? "" : " Treat its signals as a demonstration."}`;
}

export function ModelPanel({ predictor, edge, onChanged }: { predictor: Predictor | undefined; edge: EdgeClient; onChanged: () => void }) {
  const [perf, setPerf] = useState<ModelPerformance | undefined>();
  const { models, reload: reloadModels } = useModels({ refreshMs: 15_000 });
  const [admin, setAdmin] = useState(() => sessionStorage.getItem("mtf-admin") ?? "");
  const [msg, setMsg] = useState<string>();
  const version = predictor?.version;
  useEffect(() => {
    if (!version) return;
    const load = () => edge.modelPerformance(version).then(setPerf, () => undefined);
    load();
    const t = setInterval(load, 15_000);
    return () => clearInterval(t);
  }, [edge, version]);
  if (!predictor)
    return (
      <section className="panel">
        <h2>Model</h2>
        <p>loading…</p>
      </section>
    );
  const info = predictor.info;
  const m = info.metrics as Metrics;
  const rows: [string, Record<string, unknown>][] = [["model", m], ...Object.entries(m.baselines ?? {})];
  const bt = (r: Record<string, unknown>) => (r.backtest as Record<string, number> | undefined)?.sharpe;
  const activate = async (v: string) => {
    sessionStorage.setItem("mtf-admin", admin);
    try {
      await new EdgeClient(edge.baseUrl, { adminToken: admin }).activateModel(v);
      setMsg(`${v} is now active — reload to use it`);
      reloadModels();
      onChanged();
    } catch (e) {
      setMsg(String((e as Error).message));
    }
  };
  return (
    <section className="panel" data-testid="model-panel">
      <h2>Model</h2>
      <p>
        <b data-testid="model-version">{predictor.version}</b> · {info.parameters.toLocaleString()} parameters · trained on{" "}
        {info.training_range[0].slice(0, 10)} → {info.training_range[1].slice(0, 10)}
      </p>
      <table className="metrics">
        <thead>
          <tr>
            <th>walk-forward</th>
            <th>dir. acc.</th>
            <th>MAE ÷ persistence</th>
            <th>q10–q90 cover</th>
            <th>Brier</th>
            <th>Sharpe</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(([name, r]) => (
            <tr key={name} className={name === "model" ? "model-row" : ""}>
              <td>{name}</td>
              <td>{pct(r.directional_accuracy as number)}</td>
              <td>{num(r.mae_ratio_vs_persistence as number, 3)}</td>
              <td>{pct(r.coverage_q10_q90 as number)}</td>
              <td>{num(r.brier as number, 3)}</td>
              <td>{num(bt(r), 2)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p>
        live (edge tracking):{" "}
        <b data-testid="live-accuracy">
          {perf
            ? `${perf.evaluated} scored, hit rate ${pct(perf.hit_rate)}, MAE ${num(perf.mean_abs_error, 3)}, in band ${pct(perf.interval_coverage)}`
            : "—"}
        </b>
      </p>
      <details>
        <summary>versions ({models.length}) — switch or roll back</summary>
        <input
          type="password"
          placeholder="admin token"
          value={admin}
          onChange={(e) => setAdmin(e.target.value)}
          aria-label="admin token"
        />
        <ul className="versions">
          {models.map((v) => (
            <li key={v.version}>
              {v.version} {v.horizon_minutes != null && <span className="dim">{horizonLabel(v.horizon_minutes)}</span>}{" "}
              {v.active ? (
                <b>(active for its horizon)</b>
              ) : (
                <button type="button" onClick={() => activate(v.version)} disabled={!admin}>
                  activate
                </button>
              )}
            </li>
          ))}
        </ul>
        {msg && <p className="note">{msg}</p>}
      </details>
      <p className="rule" data-testid="model-reading">
        {reading(m)}
      </p>
    </section>
  );
}

export function HistoryPanel({ symbol, rows, error }: { symbol: string; rows: StoredPrediction[]; error: string | undefined }) {
  return (
    <section className="panel" data-testid="history">
      <h2>Past predictions vs what happened</h2>
      {error && <p className="error">{error}</p>}
      {!error && rows.length === 0 && <p>none stored yet for {symbol}</p>}
      {rows.length > 0 && (
        <table className="metrics">
          <thead>
            <tr>
              <th>for (UTC)</th>
              <th>signal</th>
              <th>predicted</th>
              <th>band</th>
              <th>realised</th>
              <th>hit</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.id} data-testid="history-row">
                <td>{r.prediction_time.replace("T", " ").slice(0, 16)}</td>
                <td>{r.signal}</td>
                <td>{num(r.predicted_price)}</td>
                <td>
                  {num(r.interval_low)}–{num(r.interval_high)}
                </td>
                <td>{num(r.realized_price)}</td>
                <td>{r.hit == null ? "pending" : r.hit ? "✔" : "✘"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p className="rule">Also on the chart: arrows where predictions were made (grey pending, green hit, red miss).</p>
    </section>
  );
}

export function Alerts({ alerts }: { alerts: { at: string; text: string }[] }) {
  return (
    <section className="panel" data-testid="alerts">
      <h2>Alerts</h2>
      {alerts.length === 0 ? (
        <p>none yet (signal flips and prices leaving the band appear here)</p>
      ) : (
        <ul className="alerts">
          {alerts
            .slice(-8)
            .reverse()
            .map((a, i) => (
              <li key={i}>
                <time>{a.at}</time> {a.text}
              </li>
            ))}
        </ul>
      )}
    </section>
  );
}
