/**
 * Data shapes shared by the predictor, the edge client and the hooks.
 *
 * Conventions: a bar is stamped with its **start** instant (`t`, RFC 3339 UTC, Alpaca's shape); intraday buckets
 * follow the New York clock; daily bars are New York trading days. Returns are log returns.
 */

/** One bar in Alpaca's shape (what the edge's `/api/v1/bars` returns). */
export interface Bar {
  /** Bar start, RFC 3339 UTC. */
  t: string;
  o: number;
  h: number;
  l: number;
  c: number;
  /** Volume (shares). */
  v: number;
  /** Trade count. */
  n?: number;
  /** Volume-weighted average price. */
  vw?: number;
}

/** Timeframes the model and the edge understand. */
export type Timeframe = "1m" | "5m" | "15m" | "30m" | "1h" | "2h" | "4h" | "1d";

/** Bars keyed by timeframe. Timeframes the model needs but absent here are resampled from the finest given. */
export type BarsByTimeframe = Partial<Record<Timeframe, Bar[]>>;

/** One prediction request. */
export interface PredictRequest {
  symbol: string;
  bars: BarsByTimeframe;
  /** Prediction instant (RFC 3339); defaults to the end of the latest bar given. Later bars are ignored. */
  at?: string;
}

/** Buy / sell / hold. */
export type Signal = "buy" | "sell" | "hold";

/** A prediction: the same JSON as `mtf predict` prints. */
export interface Prediction {
  symbol: string;
  /** `name@version` of the artifact. */
  modelVersion: string;
  /** Instant the prediction is made for (RFC 3339 UTC): only bars ended by then were used. */
  predictionTime: string;
  horizon: { timeframe: Timeframe; bars: number; minutes: number };
  lastClose: number;
  lastBarStart: string;
  /** Median predicted price at the horizon. */
  predictedPrice: number;
  predictedLogReturn: number;
  /** Calibrated interval of the price at the horizon (conformal, `level` coverage on validation data). */
  interval: { low: number; high: number; level: number };
  /** Calibrated direction probabilities (down / flat / up, flat = |return| within the training flat band). */
  probabilities: { down: number; flat: number; up: number };
  signal: Signal;
  /** Probability of the predicted direction. */
  confidence: number;
  attention: {
    timeframes: Timeframe[];
    /** Attention across timeframes, sums to 1 (0 for timeframes without data). */
    acrossTimeframes: number[];
    /** Attention over time per timeframe: `[timeframe][step]`, oldest step first. */
    overTime: number[][];
  };
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
