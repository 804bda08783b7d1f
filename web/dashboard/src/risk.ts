// Pure helpers of the dashboard: risk score, position size, per-timeframe trends. (Live bars come from the
// package's useLiveBars, i.e. the Rust LiveBars.)
import { type Bar, type Prediction, type Timeframe, timeframeMinutes } from "mtf-predict";

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

/** Log change over the last `lookback` bars of a timeframe, computed from minute bars (close to close). */
export function trend(minutes: Bar[], tf: Timeframe, lookback: number): number | undefined {
  if (minutes.length < 2) return undefined;
  const last = minutes[minutes.length - 1]!;
  const from = Date.parse(last.t) - timeframeMinutes(tf) * 60_000 * lookback;
  const first = minutes.find((b) => Date.parse(b.t) >= from);
  return first ? Math.log(last.c / first.c) : undefined;
}
