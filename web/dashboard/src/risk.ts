// Pure helpers of the dashboard: risk score, the policy's wording, per-timeframe trends. (Live bars come from the
// package's useLiveBars, i.e. the Rust LiveBars.)
import { type Bar, type Prediction, type SignalPolicy, type Timeframe, timeframeMinutes } from "mtf-predict";

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

/** The position-sizing rule (computed in Rust and served as `Prediction.position`), stated on screen. */
export const SIZING_RULE =
  "Position = validated edge × volatility target (0.5 % of equity per predicted σ over the horizon, at most 100 %); none on hold, and none from a model whose signals did not beat the base rate on validation.";

/** One sentence on how the model signals, from its validated policy (`ModelInfo.signal_policy`). */
export function policySentence(policy: SignalPolicy | undefined): string {
  if (!policy) return "";
  const f = (x: number) => `${(x * 100).toFixed(1)} %`;
  if (policy.margin === null) {
    return policy.signals === 0
      ? "Signals: hold only — this model carries no validated signal policy."
      : `Signals: hold only — on validation no signal threshold beat the base rate (best: ${policy.signals} signals hit ${f(policy.hit_rate)}, lower bound ${f(policy.hit_rate_lower)} vs base ${f(policy.base_rate)}).`;
  }
  return `Signals: buy/sell when p(up) − p(down) ≥ ${policy.margin.toFixed(3)}; on validation ${policy.signals} signals hit ${f(policy.hit_rate)} (lower bound ${f(policy.hit_rate_lower)}) vs base ${f(policy.base_rate)}; edge ${policy.edge.toFixed(3)}.`;
}

/** Log change over the last `lookback` bars of a timeframe, computed from minute bars (close to close). */
export function trend(minutes: Bar[], tf: Timeframe, lookback: number): number | undefined {
  if (minutes.length < 2) return undefined;
  const last = minutes[minutes.length - 1]!;
  const from = Date.parse(last.t) - timeframeMinutes(tf) * 60_000 * lookback;
  const first = minutes.find((b) => Date.parse(b.t) >= from);
  return first ? Math.log(last.c / first.c) : undefined;
}

/** A horizon in words: `15 min`, `1 h`, `4 h`, `1 d`, `5 d` (days of 1440 minutes, as the models count them). */
export function horizonLabel(minutes: number): string {
  if (minutes % 1440 === 0) return `${minutes / 1440} d`;
  if (minutes % 60 === 0) return `${minutes / 60} h`;
  return `${minutes} min`;
}

/** A prediction's band and median as log-return percentages from its last close (the horizons' common axis). */
export function bandPercent(p: Prediction): { low: number; mid: number; high: number } {
  const f = (x: number) => 100 * Math.log(x / p.lastClose);
  return { low: f(p.interval.low), mid: f(p.predictedPrice), high: f(p.interval.high) };
}

/** What each target scale's fixed band is, in the card's words (`config.data.labels.scale`). */
const SCALE_BAND: Readonly<Record<string, string>> = {
  har_vol: "a HAR volatility model's band",
  trailing_vol: "a trailing realised-volatility band",
  fixed: "a constant band",
};

/**
 * How much of a model's band is its network's, from its registry entry: the band blend its last fold chose on
 * validation (`metrics.folds[].blend_weight` of report.json; the exported model is the last fold's) and the
 * band it is blended with (`config.data.labels.scale`). Undefined for models trained before the blend existed.
 */
export function bandSource(metrics: Record<string, unknown>, config: Record<string, unknown>): string | undefined {
  const folds = Array.isArray(metrics.folds) ? (metrics.folds as unknown[]) : [];
  const last = folds[folds.length - 1] as { blend_weight?: unknown } | undefined;
  const w = last?.blend_weight;
  if (typeof w !== "number" || !Number.isFinite(w)) return undefined;
  const data = config.data as { labels?: { scale?: unknown } } | undefined;
  const scale = typeof data?.labels?.scale === "string" ? data.labels.scale : "fixed";
  const other = SCALE_BAND[scale] ?? "a fixed band";
  const share = Math.round(w * 100);
  if (share >= 100) return "Band: the network's own (validation kept it whole).";
  if (share <= 0) return `Band: ${other}; validation gave the network no share.`;
  return `Band: ${share} % the network's, ${100 - share} % ${other} (weights chosen on validation).`;
}
