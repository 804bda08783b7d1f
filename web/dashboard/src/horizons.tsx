// The roadmap's multi-timeframe prediction comparison: one card per horizon the edge serves (its active model of
// that horizon, computed in this browser like the main prediction, at the edge when the browser cannot load it),
// side by side, and their bands drawn on one axis (% from the last close).

import { activeByHorizon, type ModelVersion, type Prediction } from "mtf-predict";
import { useMLPrediction, useModels } from "mtf-predict/react";
import { useCallback, useEffect, useState } from "react";
import { bandPercent, bandSource, horizonLabel } from "./risk";

const pct = (x: number | undefined, d = 1) => (x === undefined || !Number.isFinite(x) ? "—" : `${(x * 100).toFixed(d)} %`);

export function HorizonsPanel({ symbol }: { symbol: string }) {
  const { models, error } = useModels({ refreshMs: 30_000 });
  const active = activeByHorizon(models);
  const [shown, setShown] = useState<Record<string, Prediction | undefined>>({});
  const report = useCallback((version: string, p: Prediction | undefined) => {
    setShown((s) => (s[version] === p ? s : { ...s, [version]: p }));
  }, []);
  const plotted = active.flatMap((m) => {
    const p = shown[m.version];
    return p && p.symbol === symbol ? [{ m, p }] : [];
  });
  return (
    <section className="panel horizons" data-testid="horizons">
      <h2>Horizons</h2>
      <p className="note">
        One active model per horizon at the edge; each predicts {symbol} from its own bars (daily models from daily bars). Bands are each
        model's calibrated q10–q90; its signal comes from its own validated policy.
      </p>
      {error && <p className="error">Models: {error}</p>}
      {active.length === 0 && !error && <p>No active model at the edge.</p>}
      {plotted.length > 0 && <BandPlot rows={plotted} />}
      <div className="horizon-cards">
        {active.map((m) => (
          <HorizonCard key={m.version} symbol={symbol} model={m} onPrediction={report} />
        ))}
      </div>
    </section>
  );
}

function HorizonCard({
  symbol,
  model,
  onPrediction,
}: {
  symbol: string;
  model: ModelVersion;
  onPrediction: (version: string, p: Prediction | undefined) => void;
}) {
  const minutes = model.horizon_minutes ?? 0;
  const source = bandSource(model.metrics, model.config);
  // Each artifact is loaded once per page (the 1 h card shares the main prediction's model and cache).
  const s = useMLPrediction(symbol, { horizon: minutes, refreshMs: 60_000 });
  const p = s.prediction?.symbol === symbol ? s.prediction : undefined;
  // The plot shows what the card shows.
  useEffect(() => onPrediction(model.version, p), [onPrediction, model.version, p]);
  return (
    <div className="horizon-card" data-testid={`horizon-${minutes}`} data-version={model.version}>
      <h3>
        {horizonLabel(minutes)} <span className="dim">{model.version}</span>
      </h3>
      {p ? (
        <>
          <p>
            <b data-testid="horizon-price">{p.predictedPrice.toFixed(2)}</b> · band{" "}
            <span data-testid="horizon-band">
              {p.interval.low.toFixed(2)}–{p.interval.high.toFixed(2)}
            </span>{" "}
            ({pct((p.interval.high - p.interval.low) / p.lastClose, 2)} wide)
          </p>
          {source && (
            <p className="dim" data-testid="horizon-band-source">
              {source}
            </p>
          )}
          <p>
            p(up) {pct(p.probabilities.up)} · p(down) {pct(p.probabilities.down)} ·{" "}
            <span className={`signal-text signal-${p.signal}`} data-testid="horizon-signal">
              {p.signal.toUpperCase()}
            </span>
          </p>
          <p className="dim">
            at {p.predictionTime.replace("T", " ").slice(0, 16)} UTC from{" "}
            {minutes >= 1440
              ? `the daily bar of ${p.lastBarStart.slice(0, 10)}`
              : `the bar of ${p.lastBarStart.replace("T", " ").slice(0, 16)}`}
            {s.stale && <span className="stale"> · stale: {s.error}</span>}
          </p>
        </>
      ) : s.status === "error" ? (
        <p className="error" data-testid="horizon-error">
          {s.error}
        </p>
      ) : (
        <p className="status">predicting…</p>
      )}
    </div>
  );
}

/** Every horizon's band on one axis of log-return % from its last close, the median as a tick. */
function BandPlot({ rows }: { rows: { m: ModelVersion; p: Prediction }[] }) {
  const bands = rows.map(({ m, p }) => ({ m, ...bandPercent(p) }));
  const span = Math.max(0.05, ...bands.flatMap((b) => [Math.abs(b.low), Math.abs(b.high)])) * 1.1;
  const w = 420;
  const rowH = 26;
  const left = 56;
  const h = rows.length * rowH + 24;
  const x = (v: number) => left + ((v + span) / (2 * span)) * (w - left - 8);
  return (
    <svg className="band-plot" data-testid="horizon-plot" width={w} height={h} role="img" aria-label="bands by horizon">
      <line x1={x(0)} x2={x(0)} y1={4} y2={h - 18} className="axis" />
      {bands.map((b, i) => {
        const y = 8 + i * rowH;
        return (
          <g key={b.m.version} data-testid="horizon-plot-row">
            <text x={4} y={y + 12} className="label">
              {horizonLabel(b.m.horizon_minutes ?? 0)}
            </text>
            <rect x={x(b.low)} y={y + 2} width={Math.max(1, x(b.high) - x(b.low))} height={14} className="band" />
            <line x1={x(b.mid)} x2={x(b.mid)} y1={y} y2={y + 18} className="mid" />
          </g>
        );
      })}
      <text x={x(-span)} y={h - 4} className="label">
        {(-span).toFixed(2)} %
      </text>
      <text x={x(0) - 4} y={h - 4} className="label">
        0
      </text>
      <text x={x(span) - 40} y={h - 4} className="label">
        +{span.toFixed(2)} %
      </text>
    </svg>
  );
}
