// Candlesticks with volume, indicator overlays from mtf-predict's `indicators()` and the prediction cone.
import {
  CandlestickSeries,
  ColorType,
  createChart,
  createSeriesMarkers,
  HistogramSeries,
  type IChartApi,
  type ISeriesApi,
  type ISeriesMarkersPluginApi,
  LineSeries,
  LineStyle,
  type SeriesMarker,
  type Time,
  type UTCTimestamp,
} from "lightweight-charts";
import type { Bar, Prediction, StoredPrediction } from "mtf-predict";
import { useEffect, useRef } from "react";

export type Overlay = "sma_50" | "ema_20" | "bollinger";

const ts = (iso: string) => (Date.parse(iso) / 1000) as UTCTimestamp;

export function PriceChart(props: {
  bars: Bar[];
  indicators: Record<string, (number | null)[]> | undefined;
  overlays: Overlay[];
  prediction: Prediction | undefined;
  /** Stored predictions of this symbol (from the edge), drawn as markers at their time. */
  history?: StoredPrediction[];
}) {
  const el = useRef<HTMLDivElement>(null);
  const chart = useRef<IChartApi | null>(null);
  const series = useRef<Record<string, ISeriesApi<"Candlestick" | "Histogram" | "Line">>>({});
  const markers = useRef<ISeriesMarkersPluginApi<Time> | null>(null);

  useEffect(() => {
    if (!el.current) return;
    const c = createChart(el.current, {
      autoSize: true,
      layout: { background: { type: ColorType.Solid, color: "#0f1419" }, textColor: "#c9d1d9" },
      grid: { vertLines: { color: "#1c2430" }, horzLines: { color: "#1c2430" } },
      timeScale: { timeVisible: true, secondsVisible: false, rightOffset: 8 },
    });
    series.current = {
      candles: c.addSeries(CandlestickSeries, {
        upColor: "#3fb950",
        downColor: "#f85149",
        wickUpColor: "#3fb950",
        wickDownColor: "#f85149",
        borderVisible: false,
      }),
      volume: c.addSeries(HistogramSeries, { priceScaleId: "vol", priceFormat: { type: "volume" }, color: "#30363d" }),
      sma_50: c.addSeries(LineSeries, { color: "#d29922", lineWidth: 1, priceLineVisible: false, lastValueVisible: false }),
      ema_20: c.addSeries(LineSeries, { color: "#a371f7", lineWidth: 1, priceLineVisible: false, lastValueVisible: false }),
      bb_upper: c.addSeries(LineSeries, { color: "#58a6ff55", lineWidth: 1, priceLineVisible: false, lastValueVisible: false }),
      bb_lower: c.addSeries(LineSeries, { color: "#58a6ff55", lineWidth: 1, priceLineVisible: false, lastValueVisible: false }),
      cone_high: c.addSeries(LineSeries, {
        color: "#58a6ff",
        lineWidth: 1,
        lineStyle: LineStyle.Dashed,
        priceLineVisible: false,
        lastValueVisible: true,
        title: "q90",
      }),
      cone_mid: c.addSeries(LineSeries, {
        color: "#f0f6fc",
        lineWidth: 2,
        lineStyle: LineStyle.Dotted,
        priceLineVisible: false,
        lastValueVisible: true,
        title: "q50",
      }),
      cone_low: c.addSeries(LineSeries, {
        color: "#58a6ff",
        lineWidth: 1,
        lineStyle: LineStyle.Dashed,
        priceLineVisible: false,
        lastValueVisible: true,
        title: "q10",
      }),
    };
    c.priceScale("vol").applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    markers.current = createSeriesMarkers(series.current.candles!, []);
    chart.current = c;
    return () => {
      c.remove();
      chart.current = null;
    };
  }, []);

  useEffect(() => {
    const s = series.current;
    if (!s.candles) return;
    s.candles.setData(props.bars.map((b) => ({ time: ts(b.t), open: b.o, high: b.h, low: b.l, close: b.c })));
    s.volume!.setData(props.bars.map((b) => ({ time: ts(b.t), value: b.v, color: b.c >= b.o ? "#238636aa" : "#da3633aa" })));
    const line = (name: string, on: boolean) => {
      const vals = props.indicators?.[name];
      s[name]!.setData(on && vals ? props.bars.flatMap((b, i) => (vals[i] == null ? [] : [{ time: ts(b.t), value: vals[i]! }])) : []);
    };
    line("sma_50", props.overlays.includes("sma_50"));
    line("ema_20", props.overlays.includes("ema_20"));
    line("bb_upper", props.overlays.includes("bollinger"));
    line("bb_lower", props.overlays.includes("bollinger"));
  }, [props.bars, props.indicators, props.overlays]);

  useEffect(() => {
    const s = series.current;
    if (!s.cone_mid) return;
    const p = props.prediction;
    const last = props.bars[props.bars.length - 1];
    if (!p || !last) {
      for (const k of ["cone_high", "cone_mid", "cone_low"]) s[k]!.setData([]);
      return;
    }
    // The cone starts at the last bar shown and ends at the prediction's horizon.
    const t0 = Math.max(ts(last.t), ts(p.lastBarStart));
    const t1 = (Date.parse(p.predictionTime) / 1000 + p.horizon.minutes * 60) as UTCTimestamp;
    const end = Math.max(t1, t0 + 60) as UTCTimestamp;
    const start = t0 as UTCTimestamp;
    s.cone_high!.setData([
      { time: start, value: p.lastClose },
      { time: end, value: p.interval.high },
    ]);
    s.cone_mid!.setData([
      { time: start, value: p.lastClose },
      { time: end, value: p.predictedPrice },
    ]);
    s.cone_low!.setData([
      { time: start, value: p.lastClose },
      { time: end, value: p.interval.low },
    ]);
  }, [props.prediction, props.bars]);

  // Past predictions: an arrow at the time each was made (up = buy, down = sell, circle = hold), labelled with the
  // predicted price and, once the horizon has passed, the realised one.
  useEffect(() => {
    const first = props.bars[0];
    const last = props.bars[props.bars.length - 1];
    if (!markers.current) return;
    if (!first || !last || !props.history) return markers.current.setMarkers([]);
    const lo = ts(first.t);
    const hi = ts(last.t) + 86_400;
    const list: SeriesMarker<Time>[] = props.history
      .map((h) => ({ h, t: ts(h.prediction_time) }))
      .filter(({ t }) => t >= lo && t <= hi)
      .sort((a, b) => a.t - b.t)
      .map(({ h, t }, i, all) => ({
        time: t,
        position: h.signal === "sell" ? "aboveBar" : "belowBar",
        shape: h.signal === "buy" ? "arrowUp" : h.signal === "sell" ? "arrowDown" : "circle",
        color: h.hit == null ? "#8b949e" : h.hit ? "#3fb950" : "#f85149",
        // Labels only on the newest three: neighbouring labels overlap on an intraday chart.
        text:
          i < all.length - 3 ? "" : `${h.predicted_price.toFixed(2)}${h.realized_price == null ? "" : ` → ${h.realized_price.toFixed(2)}`}`,
      }));
    markers.current.setMarkers(list);
  }, [props.history, props.bars]);

  return (
    <div
      className="chart"
      ref={el}
      data-testid="chart"
      data-bars={props.bars.length}
      data-last={props.bars.length ? `${props.bars[props.bars.length - 1]!.t} ${props.bars[props.bars.length - 1]!.c}` : ""}
      data-cone={props.prediction ? "1" : "0"}
    />
  );
}
