/** Timeframe arithmetic used by the hooks (pure functions). */
import { TIMEFRAME_MINUTES as MINUTES, WARMUP_BARS } from "./generated/contract.js";
import type { Timeframe } from "./types.js";

export { WARMUP_BARS };

/** Minutes of a timeframe (a trading day counts 1440). */
export function timeframeMinutes(tf: Timeframe): number {
  const m = MINUTES[tf];
  if (m === undefined) throw new Error(`unknown timeframe \`${tf}\`: use one of ${Object.keys(MINUTES).join(", ")}`);
  return m;
}

/** Parses a horizon such as `"1h"`, `"60m"`, `"90min"`, `"1d"` or a number of minutes. */
export function parseHorizonMinutes(h: string | number): number {
  if (typeof h === "number") {
    if (!Number.isFinite(h) || h <= 0) throw new Error(`horizon must be a positive number of minutes, got ${h}`);
    return h;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(m|min|mins|minutes?|h|hours?|d|days?)\s*$/i.exec(h);
  if (!m) throw new Error(`horizon \`${h}\` is not like "1h", "60m" or "1d"`);
  const n = Number(m[1]);
  const unit = m[2]!.toLowerCase();
  return unit.startsWith("h") ? n * 60 : unit.startsWith("d") ? n * 1440 : n;
}

/** What to fetch from the edge for a model: the finest intraday timeframe and the daily bars, with limits. */
export interface FetchPlan {
  /** Finest intraday timeframe to fetch (the rest are resampled from it, as in training), or undefined. */
  intraday?: { timeframe: Timeframe; limit: number };
  daily?: { limit: number };
}

/** Extra bars so exponentially smoothed indicators (EMA, Wilder) forget their seed, as they had in training. */
export const CONVERGENCE_BARS = 100;

/**
 * Plans the history a prediction needs: `lookback` complete bars of every timeframe after the features'
 * warm-up (`warmup` bars: the model's `info.warmup_bars`). Intraday history is fetched at the finest timeframe and resampled by the model code (so bars and
 * features are computed exactly as in training), at most 10,000 bars (one Alpaca page): for coarse timeframes that
 * can leave the oldest window steps in warm-up, where they are masked. Daily bars get `lookback + 150`.
 * Only limits are planned, never a start: the edge returns the newest `limit` bars up to its clock (the real
 * market's, or a replay's). Sizes assume the extended session (16 h/day) plus two days of margin. Weekly and
 * monthly inputs are resampled from the daily bars, so they raise the daily limit (5 and 23 trading days a bar).
 */
export function planFetch(timeframes: Timeframe[], lookback: number, warmup: number = WARMUP_BARS): FetchPlan {
  const intraday = timeframes.filter((t) => timeframeMinutes(t) < 1440).sort((a, b) => timeframeMinutes(a) - timeframeMinutes(b));
  const plan: FetchPlan = {};
  if (intraday.length > 0) {
    const finest = intraday[0]!;
    const coarsest = intraday[intraday.length - 1]!;
    const sessionMinutes = (lookback + warmup) * timeframeMinutes(coarsest);
    const tradingDays = Math.ceil(sessionMinutes / 390) + 2;
    const limit = Math.min(10_000, Math.ceil((tradingDays * 960) / timeframeMinutes(finest)));
    plan.intraday = { timeframe: finest, limit };
  }
  const daysPerBar = (t: Timeframe): number => (t === "1d" ? 1 : t === "1w" ? 5 : t === "1mo" ? 23 : 0);
  const days = Math.max(0, ...timeframes.map(daysPerBar));
  if (days > 0) plan.daily = { limit: Math.min(10_000, (lookback + warmup + CONVERGENCE_BARS + 1) * days) };
  return plan;
}
