// Pure helpers of the dashboard: risk score, position size, per-timeframe trends, live bar aggregation.
import type { Bar, Prediction, Timeframe } from "mtf-predict";

/** z of the 10th/90th percentile of a normal distribution: the q10–q90 band is ±1.2816 σ. */
const Z90 = 1.2815515655446004;

/** Predicted σ of the log return over the horizon, from the calibrated q10–q90 interval. */
export function predictedSigma(p: Prediction): number {
  return Math.log(p.interval.high / p.interval.low) / (2 * Z90);
}

/** Realised σ of log returns between consecutive `bars`, scaled to `steps` of them (√time). */
export function realizedSigma(bars: Bar[], steps: number): number {
  const r: number[] = [];
  for (let i = 1; i < bars.length; i++) r.push(Math.log(bars[i]!.c / bars[i - 1]!.c));
  if (r.length < 2) return Number.NaN;
  const m = r.reduce((a, b) => a + b, 0) / r.length;
  const v = r.reduce((a, b) => a + (b - m) ** 2, 0) / (r.length - 1);
  return Math.sqrt(v * steps);
}

/**
 * Risk score 0–100: the predicted σ relative to the recent realised σ over the same horizon (50 = the model
 * expects as much movement as just happened; 100 = twice as much or more). `recentMinutes` are 1-minute bars.
 */
export function riskScore(p: Prediction, recentMinutes: Bar[]): number {
  const pred = predictedSigma(p);
  const real = realizedSigma(recentMinutes, p.horizon.minutes);
  if (!Number.isFinite(real) || real <= 0) return Math.min(100, Math.round(pred * 10_000));
  return Math.max(0, Math.min(100, Math.round((50 * pred) / real)));
}

/** The position-sizing rule, stated on screen. */
export const SIZING_RULE =
  "Volatility targeting: risk 0.5 % of equity per trade, size = 0.5 % ÷ predicted σ over the horizon (from the q10–q90 band), capped at 100 % of equity; no position on hold.";

/** Fraction of equity (signed: + long, − short) by the volatility-targeting rule. */
export function positionSize(p: Prediction): number {
  if (p.signal === "hold") return 0;
  const sigma = predictedSigma(p);
  const size = sigma > 0 ? Math.min(1, 0.005 / sigma) : 0;
  return p.signal === "buy" ? size : -size;
}

const TF_MS: Record<string, number> = { "1m": 60e3, "5m": 300e3, "15m": 900e3, "30m": 1800e3, "1h": 3600e3, "4h": 14400e3, "1d": 86400e3 };

/** Log change over the last `lookback` bars of a timeframe, computed from minute bars (close to close). */
export function trend(minutes: Bar[], tf: Timeframe, lookback: number): number | undefined {
  if (minutes.length < 2) return undefined;
  const last = minutes[minutes.length - 1]!;
  const from = Date.parse(last.t) - (TF_MS[tf] ?? 60e3) * lookback;
  const first = minutes.find((b) => Date.parse(b.t) >= from);
  return first ? Math.log(last.c / first.c) : undefined;
}

/**
 * Applies a streamed minute bar to chart bars of an intraday timeframe ≤ 1 h (buckets aligned on the clock; New
 * York's offset is whole hours, so UTC alignment equals New York's). Returns a new array.
 */
export function applyMinute(bars: Bar[], minute: Bar, tf: Timeframe): Bar[] {
  const size = TF_MS[tf];
  if (!size || size > 3600e3) return bars;
  const start = new Date(Math.floor(Date.parse(minute.t) / size) * size).toISOString().replace(".000Z", "Z");
  const last = bars[bars.length - 1];
  if (last && Date.parse(last.t) === Date.parse(start)) {
    const merged = { ...last, h: Math.max(last.h, minute.h), l: Math.min(last.l, minute.l), c: minute.c, v: last.v + minute.v };
    return [...bars.slice(0, -1), merged];
  }
  if (last && Date.parse(start) < Date.parse(last.t)) return bars; // late: the next refresh corrects it
  return [...bars, { t: start, o: minute.o, h: minute.h, l: minute.l, c: minute.c, v: minute.v }];
}
