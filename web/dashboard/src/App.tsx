// The dashboard: watchlist, chart with prediction cone, signal, attention, model, history, alerts.

import { type Bar, type EdgeClient, indicators, type Prediction, type Timeframe } from "mtf-predict";
import { useLiveBars, useLiveStream, useMLPrediction, usePredictionHistory, usePredictor } from "mtf-predict/react";
import { useEffect, useMemo, useRef, useState } from "react";
import { type Overlay, PriceChart } from "./Chart";
import { HealthPanel } from "./health";
import { HorizonsPanel } from "./horizons";
import { Alerts, AttentionView, HistoryPanel, ModelPanel, SignalPanel } from "./panels";

const TIMEFRAMES: Timeframe[] = ["1m", "5m", "15m", "1h", "1d"];

export function App({ edge, watchlist, initialLive }: { edge: EdgeClient; watchlist: string[]; initialLive: boolean }) {
  const [symbol, setSymbol] = useState(watchlist[0] ?? "SPY");
  const [timeframe, setTimeframe] = useState<Timeframe>("15m");
  const [live, setLive] = useState(initialLive);
  const [overlays, setOverlays] = useState<Overlay[]>(["ema_20", "bollinger"]);
  const [alerts, setAlerts] = useState<{ at: string; text: string }[]>([]);
  const { predictor, error: modelError } = usePredictor();

  const ml = useMLPrediction(symbol, { timeframes: ["1m", "5m", "15m", "1h", "1d"], realTimeData: live, persist: true });
  // The chart: REST history, then every stream frame folded in by the wasm LiveBars (corrections included).
  const chartBars = useLiveBars(symbol, timeframe, { limit: 400, live });
  // The minutes the prediction was made from (no second fetch of the same minutes).
  const recentMinutes = ml.inputs?.["1m"] ?? [];
  // Status and the last trade for the band alert, through the same shared connection.
  const stream = useLiveStream([symbol], { enabled: live });
  const ind = useIndicators(chartBars.bars);

  // Stored predictions of this symbol (history table and chart markers), refetched after each new prediction.
  const history = usePredictionHistory(symbol, { limit: 50 });

  // Alerts: signal flips and the price leaving the predicted band.
  const lastPred = useRef<Prediction | undefined>(undefined);
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs once per new prediction; history.reload only schedules a refetch
  useEffect(() => {
    const p = ml.prediction;
    if (!p) return;
    const prev = lastPred.current;
    if (prev && prev.symbol === p.symbol && prev.signal !== p.signal && prev.predictionTime !== p.predictionTime) {
      setAlerts((a) => [...a, { at: p.predictionTime.slice(11, 16), text: `${p.symbol}: signal flipped ${prev.signal} → ${p.signal}` }]);
    }
    lastPred.current = p;
    history.reload();
  }, [ml.prediction]);
  useEffect(() => {
    const t = stream.lastTrade;
    const p = ml.prediction;
    if (!t || !p || t.S !== p.symbol) return;
    const price = t.p as number;
    if (price > p.interval.high || price < p.interval.low) {
      setAlerts((a) =>
        a.length && a[a.length - 1]!.text.startsWith(`${p.symbol}: price`)
          ? a
          : [
              ...a,
              {
                at: String(t.t).slice(11, 16),
                text: `${p.symbol}: price ${price.toFixed(2)} left the band ${p.interval.low.toFixed(2)}–${p.interval.high.toFixed(2)}`,
              },
            ],
      );
    }
  }, [stream.lastTrade, ml.prediction]);

  const lookback = predictor?.info.data.lookback ?? 32;
  return (
    <div className="app">
      <header>
        <h1>mtf</h1>
        <nav className="watchlist" aria-label="watchlist">
          {watchlist.map((s) => (
            <button type="button" key={s} className={s === symbol ? "active" : ""} onClick={() => setSymbol(s)} data-testid={`symbol-${s}`}>
              {s}
            </button>
          ))}
          <form
            onSubmit={(e) => {
              e.preventDefault();
              const v = new FormData(e.currentTarget).get("sym");
              if (typeof v === "string" && v.trim()) setSymbol(v.trim().toUpperCase());
            }}
          >
            <input name="sym" placeholder="symbol" aria-label="symbol" size={6} />
          </form>
        </nav>
        <nav className="timeframes" aria-label="timeframe">
          {TIMEFRAMES.map((tf) => (
            <button
              type="button"
              key={tf}
              className={tf === timeframe ? "active" : ""}
              onClick={() => setTimeframe(tf)}
              data-testid={`tf-${tf}`}
            >
              {tf}
            </button>
          ))}
        </nav>
        <label className="live">
          <input type="checkbox" checked={live} onChange={(e) => setLive(e.target.checked)} data-testid="live" /> live{" "}
          {live ? `(${stream.status}, ${stream.frames} frames)` : ""}
        </label>
        <span className="badge" data-testid="backend" title={ml.backend}>
          {ml.backend ? (ml.backend.startsWith("webgpu") ? "WebGPU" : "CPU") : "…"}{" "}
          {ml.latencyMs !== undefined ? `· ${ml.latencyMs.toFixed(1)} ms` : ""}
        </span>
      </header>

      <main>
        <section className="chart-panel">
          <div className="chart-head">
            <b>{symbol}</b> {timeframe} {chartBars.stale && <span className="stale">stale data (Alpaca unreachable)</span>}
            <span className="overlays">
              {(["ema_20", "sma_50", "bollinger"] as Overlay[]).map((o) => (
                <label key={o}>
                  <input
                    type="checkbox"
                    checked={overlays.includes(o)}
                    onChange={(e) => setOverlays((x) => (e.target.checked ? [...x, o] : x.filter((y) => y !== o)))}
                  />{" "}
                  {o}
                </label>
              ))}
            </span>
          </div>
          {chartBars.status === "error" && (
            <p className="error" data-testid="bars-error">
              Bars for {symbol} {timeframe}: {chartBars.error}
            </p>
          )}
          {chartBars.status === "ready" && chartBars.bars.length === 0 && (
            <p className="empty">
              No {timeframe} bars for {symbol} from the edge.
            </p>
          )}
          <PriceChart
            bars={chartBars.bars}
            indicators={ind}
            overlays={overlays}
            prediction={ml.prediction?.symbol === symbol ? ml.prediction : undefined}
            history={history.predictions}
          />
          <PredictionLine state={ml} modelError={modelError} symbol={symbol} />
        </section>
        <aside>
          {ml.prediction && ml.prediction.symbol === symbol ? (
            <SignalPanel p={ml.prediction} recent={recentMinutes.slice(-200)} policy={predictor?.info.signal_policy} />
          ) : (
            <section className="panel">
              <h2>Signal</h2>
              <p>{ml.status === "error" ? "no prediction" : "predicting…"}</p>
            </section>
          )}
          {ml.prediction && ml.prediction.symbol === symbol && (
            <AttentionView
              p={ml.prediction}
              minutes={recentMinutes}
              lookback={lookback}
              nearUniform={predictor?.info.near_uniform_entropy ?? 1}
            />
          )}
        </aside>
        <section className="lower">
          <HorizonsPanel symbol={symbol} />
          <ModelPanel predictor={predictor} edge={edge} onChanged={history.reload} />
          <HealthPanel edge={edge} version={predictor?.version} />
          <HistoryPanel symbol={symbol} rows={history.predictions.slice(0, 12)} error={history.error} />
          <Alerts alerts={alerts} />
        </section>
      </main>
      <footer>
        Predictions are computed in this browser by the mtf-predict package; data through the mtf edge. Not investment advice.
      </footer>
    </div>
  );
}

function PredictionLine({
  state,
  modelError,
  symbol,
}: {
  state: ReturnType<typeof useMLPrediction>;
  modelError: string | undefined;
  symbol: string;
}) {
  const p = state.prediction?.symbol === symbol ? state.prediction : undefined;
  if (modelError)
    return (
      <p className="error" data-testid="prediction-error">
        Model could not be loaded: {modelError}
      </p>
    );
  if (state.status === "error" && !p)
    return (
      <p className="error" data-testid="prediction-error">
        No prediction for {symbol}: {state.error}
      </p>
    );
  if (!p)
    return (
      <p className="status" data-testid="prediction-status">
        {state.status === "loading" ? "Loading model and history…" : "Waiting for data…"}
      </p>
    );
  return (
    <p className="prediction" data-testid="prediction" data-time={p.predictionTime}>
      At {p.predictionTime.replace("T", " ").slice(0, 16)} UTC the model expects{" "}
      <b data-testid="prediction-price">{p.predictedPrice.toFixed(2)}</b> in {p.horizon.minutes} minutes (
      {Math.round(p.interval.level * 100)} % band{" "}
      <b data-testid="band">
        {p.interval.low.toFixed(2)}–{p.interval.high.toFixed(2)}
      </b>
      ), last close {p.lastClose.toFixed(2)}.
      {p.recalibration && (
        <span data-testid="recalibration">
          {" "}
          Band ×{p.recalibration.scale.toFixed(2)} by live recalibration ({p.recalibration.method.toUpperCase()}, {p.recalibration.observed}{" "}
          outcomes
          {p.recalibration.realisedCoverage != null &&
            `; ${Math.round(p.recalibration.realisedCoverage * 100)} % of the last ${p.recalibration.window} inside their band`}
          ).
        </span>
      )}
      {state.stale && <span className="stale"> Stale: {state.error}</span>}
    </p>
  );
}

function useIndicators(bars: Bar[]) {
  const [out, setOut] = useState<Record<string, (number | null)[]>>();
  const key = useMemo(() => `${bars.length}:${bars[bars.length - 1]?.t}:${bars[bars.length - 1]?.c}`, [bars]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: keyed on the bars' content (count, last time, last close), not on the array's identity, so unchanged bars do not recompute
  useEffect(() => {
    if (bars.length === 0) return setOut(undefined);
    let live = true;
    indicators(bars, ["sma_50", "ema_20", "bb_upper", "bb_lower"]).then(
      (r) => live && setOut(r),
      () => live && setOut(undefined),
    );
    return () => {
      live = false;
    };
  }, [key]);
  return out;
}
