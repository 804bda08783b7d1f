/**
 * Data shapes shared by the predictor, the edge client and the hooks.
 *
 * Conventions: a bar is stamped with its **start** instant (`t`, RFC 3339 UTC, Alpaca's shape); intraday buckets
 * follow the New York clock; daily bars are New York trading days. Returns are log returns.
 */

// Bar, Timeframe, Signal and Prediction (with Horizon, Interval, Probabilities, Attention) are generated from
// the Rust definitions (crates/model/src/contract.rs): the same types `mtf predict` and the wasm module emit.
import type { Bar, Timeframe } from "./generated/contract.js";

export type { Attention, Bar, Horizon, Interval, Prediction, Probabilities, Signal, Timeframe } from "./generated/contract.js";

/** Bars keyed by timeframe. Timeframes the model needs but absent here are resampled from the finest given. */
export type BarsByTimeframe = Partial<Record<Timeframe, Bar[]>>;

/** One prediction request. */
export interface PredictRequest {
  symbol: string;
  bars: BarsByTimeframe;
  /** Prediction instant (RFC 3339); defaults to the end of the latest bar given. Later bars are ignored. */
  at?: string;
}

/** Which backend runs, as requested and as granted. */
export type BackendRequest = "auto" | "webgpu" | "cpu";

/** The artifact header (subset the package reads; the rest is passed through). */
export interface ModelInfo {
  name: string;
  version: string;
  data: {
    timeframes: Timeframe[];
    lookback: number;
    base: Timeframe;
    session: string;
    labels: { horizon: number; cross_session: boolean };
    [k: string]: unknown;
  };
  /** RFC 3339 instants: first and last training sample. */
  training_range: [string, string];
  created_at: string;
  parameters: number;
  /** Walk-forward metrics of the model and the baselines (report.json). */
  metrics: Record<string, unknown>;
  [k: string]: unknown;
}

/** A message of the Alpaca stream as the edge relays it (`T` = "t" trade, "b" bar, "u" updated bar, …). */
export interface StreamMessage {
  T: string;
  S?: string;
  [k: string]: unknown;
}
