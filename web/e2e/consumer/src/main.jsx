import { MtfProvider, useMLPrediction, usePredictor } from "mtf-predict/react";
// biome-ignore lint/correctness/noUnusedImports: Vite without the React plugin compiles JSX to React.createElement
import React from "react";
import { createRoot } from "react-dom/client";

function Panel() {
  const where = new URLSearchParams(location.search).get("where") ?? undefined;
  // `?horizon=1d`: a horizon no model at the edge serves (the hook says so).
  const horizon = new URLSearchParams(location.search).get("horizon") ?? "1h";
  const { prediction, confidence, signal, attention, backend, status, error, stale, inputs } = useMLPrediction("SPY", {
    timeframes: ["1m", "5m", "15m", "1h", "1d"],
    horizon,
    where,
  });
  const { predictor } = usePredictor({ enabled: where !== "edge", horizon });
  window.__mtf = { prediction, status, error, backend, stale, predictor, inputs };
  if (status === "error") return <p id="error">{error}</p>;
  if (!prediction) return <p id="status">{status}</p>;
  return (
    <div id="prediction" data-status={status}>
      <p>
        backend: <b id="backend">{backend}</b>
      </p>
      <p>
        signal: <b id="signal">{signal}</b> ({(confidence * 100).toFixed(1)} %)
      </p>
      <p>
        price: <b id="price">{prediction.predictedPrice.toFixed(2)}</b> in [{prediction.interval.low.toFixed(2)},{" "}
        {prediction.interval.high.toFixed(2)}]
      </p>
      <p>attention: {attention.timeframes.map((t, i) => `${t} ${attention.acrossTimeframes[i].toFixed(2)}`).join(" · ")}</p>
    </div>
  );
}

const params = new URLSearchParams(location.search);
const backend = params.get("backend") ?? "cpu";
// `?model=missing`: a model the browser cannot load (the hook then falls back to the edge).
const model = params.get("model") === "missing" ? { model: "/missing.mtf" } : undefined;
createRoot(document.getElementById("root")).render(
  <MtfProvider edge="" backend={backend} model={model}>
    <Panel />
  </MtfProvider>,
);
