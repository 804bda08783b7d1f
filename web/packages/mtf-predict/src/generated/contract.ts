// Generated from the Rust definitions by crates/model/src/contract.rs — do not edit.
// Regenerate: MTF_UPDATE_GENERATED=1 cargo test -p mtf-model --lib contract

/** A bar size (`mtf_market::Timeframe`): the dashboard form of Alpaca's 1Min … 1Month. */
export type Timeframe = "1m" | "5m" | "10m" | "15m" | "30m" | "1h" | "4h" | "1d" | "1w" | "1mo";

/**
 * Alpaca's bar object, field for field: the serde form of [`Bar`] (validated on the way in), and the
 * TypeScript `Bar` of the npm package (`ts_rs` derives its declaration).
 */
export type Bar = { 
/**
 * Bar start, RFC 3339 UTC.
 */
t: string, 
/**
 * Open.
 */
o: number, 
/**
 * High.
 */
h: number, 
/**
 * Low.
 */
l: number, 
/**
 * Close.
 */
c: number, 
/**
 * Volume (shares).
 */
v: number, 
/**
 * Trade count.
 */
n?: number, 
/**
 * Volume-weighted average price.
 */
vw?: number, };

/**
 * A trading signal.
 */
export type Signal = "buy" | "sell" | "hold";

/**
 * The horizon of a prediction.
 */
export type Horizon = { 
/**
 * Base timeframe, e.g. `15m`.
 */
timeframe: Timeframe, 
/**
 * Bars of the base timeframe.
 */
bars: number, 
/**
 * `bars × timeframe` in minutes (nominal).
 */
minutes: number, };

/**
 * The q10–q90 band as prices.
 */
export type Interval = { 
/**
 * Lower price (q10).
 */
low: number, 
/**
 * Upper price (q90).
 */
high: number, 
/**
 * Nominal coverage (0.8).
 */
level: number, };

/**
 * Direction probabilities.
 */
export type Probabilities = { 
/**
 * P(return < −flat band).
 */
down: number, 
/**
 * P(|return| ≤ flat band).
 */
flat: number, 
/**
 * P(return > flat band).
 */
up: number, };

/**
 * Attention weights for display.
 */
export type Attention = { 
/**
 * Timeframes in order (`1m`, `5m`, …).
 */
timeframes: Array<Timeframe>, 
/**
 * `[K]`: attention across timeframes (sums to 1).
 */
acrossTimeframes: Array<number>, 
/**
 * `[K][T]`: attention over time per timeframe, oldest step first (each row sums to 1).
 */
overTime: Array<Array<number>>, };

/**
 * What the live recalibration did to a prediction's band (`Prediction::recalibration`).
 */
export type Recalibration = { 
/**
 * `aci`: adaptive conformal inference (`mtf_model::recalibration`).
 */
method: string, 
/**
 * Step size γ.
 */
gamma: number, 
/**
 * The scale applied to the band's half-widths (1 = the model's band).
 */
scale: number, 
/**
 * Outcomes observed so far by this session.
 */
observed: number, 
/**
 * Share of the last `window` observed outcomes inside the band shown for them (`null` before any).
 */
realisedCoverage: number | null, 
/**
 * How many outcomes `realised_coverage` is over (at most `mtf_model::recalibration::DEFAULT_WINDOW`, 100).
 */
window: number, };

/**
 * One prediction. Field names are the JSON contract with the dashboard.
 */
export type Prediction = { 
/**
 * Symbol as given by the caller.
 */
symbol: string, 
/**
 * `name@version` of the model.
 */
modelVersion: string, 
/**
 * Prediction instant (UTC, RFC 3339): inputs are bars complete by then.
 */
predictionTime: string, 
/**
 * Horizon.
 */
horizon: Horizon, 
/**
 * Close of the latest complete base-timeframe bar.
 */
lastClose: number, 
/**
 * Start (UTC, RFC 3339) of that bar.
 */
lastBarStart: string, 
/**
 * `last_close × exp(q50)`.
 */
predictedPrice: number, 
/**
 * Predicted median log return over the horizon.
 */
predictedLogReturn: number, 
/**
 * q10–q90 as prices, after the conformal adjustment.
 */
interval: Interval, 
/**
 * Calibrated direction probabilities.
 */
probabilities: Probabilities, 
/**
 * buy / sell / hold, by the model's validated signal policy (`mtf_model::signals`): hold only when validation showed
 * no skill.
 */
signal: Signal, 
/**
 * Calibrated probability of the most probable direction, in [0, 1].
 */
confidence: number, 
/**
 * Suggested position, a signed fraction of equity (+ long, − short): signal direction × the policy's
 * validated edge × min(1, 0.5 % ÷ σ of the horizon from `interval`). 0 on hold. (Absent in predictions
 * stored before it existed: read as 0.)
 */
position: number, 
/**
 * Attention weights.
 */
attention: Attention, 
/**
 * The live recalibration applied to `interval` (absent: the model's band as predicted).
 */
recalibration?: Recalibration, };

/**
 * The label configuration.
 */
export type ModelLabels = { 
/**
 * Horizon in bars of the base timeframe.
 */
horizon: number, 
/**
 * Whether an intraday horizon may cross into the next trading day.
 */
cross_session: boolean, };

/**
 * Inputs and target of a model (the client's view of [`crate::data::DataSpec`]).
 */
export type ModelData = { 
/**
 * Input timeframes, in window order (`1m`, `15m`, …).
 */
timeframes: Timeframe[], 
/**
 * Steps per timeframe the model sees.
 */
lookback: number, 
/**
 * The timeframe whose bar ends are prediction instants and whose bars count the horizon.
 */
base: Timeframe, 
/**
 * Session filter of intraday bars: `regular` (09:30–16:00 New York) or `extended` (04:00–20:00).
 */
session: "regular" | "extended", 
/**
 * Horizon in bars of the base timeframe, and whether an intraday horizon may cross into the next session.
 */
labels: ModelLabels, };

/**
 * The signal policy fit on validation (see the module docs). Stored in the artifact's calibration and shown
 * in the model's info.
 */
export type SignalPolicy = { 
/**
 * The margin a buy or sell needs; null (`None`): no margin showed skill on validation, every signal is hold.
 */
margin: number | null, 
/**
 * Hit rate of the validation signals at `margin` (of the best-scoring margin when `margin` is null).
 */
hit_rate: number, 
/**
 * One-sided lower confidence bound of `hit_rate` (Wilson, [`CONFIDENCE`], Bonferroni over the margins).
 */
hit_rate_lower: number, 
/**
 * What the same signals would hit by chance: mean validation frequency of the class each one bets on.
 */
base_rate: number, 
/**
 * Validation signals at that margin.
 */
signals: number, 
/**
 * Validation samples the policy was fit on.
 */
samples: number, 
/**
 * Validated edge `(hit_rate_lower − base_rate) / (1 − base_rate)`, in [0, 1); 0 when `margin` is `None`.
 */
edge: number, };

/**
 * A loaded model as a client sees it. Field names are snake_case, as in the artifact header.
 */
export type ModelInfo = { 
/**
 * Model name, e.g. `spy-15m-h4`.
 */
name: string, 
/**
 * Model version, e.g. `0.1.0`.
 */
version: string, 
/**
 * When the artifact was written (RFC 3339 UTC).
 */
created_at: string, 
/**
 * Feature-spec identifier the model was trained with.
 */
feature_spec: string, 
/**
 * Inputs, base timeframe, horizon.
 */
data: ModelData, 
/**
 * Horizon in minutes: `labels.horizon × minutes(base)` (a trading day counts 1440).
 */
horizon_minutes: number, 
/**
 * Bars of history before every feature is defined (`mtf_features::spec::WARMUP_BARS`).
 */
warmup_bars: number, 
/**
 * Nominal coverage of the predicted q10–q90 band.
 */
interval_level: number, 
/**
 * Normalised entropy of the attention across timeframes (entropy / ln K, 1 = uniform) at or above which the
 * attention is near uniform: no preference a reader could take as insight.
 */
near_uniform_entropy: number, 
/**
 * How the model signals ([`crate::signals`]): the margin chosen on validation with the hit rate, its lower
 * bound and the base rate behind it, or `margin: null` — hold only — when validation showed no skill (and for
 * artifacts written before policies existed: all counts 0).
 */
signal_policy: SignalPolicy, 
/**
 * First and last prediction instant used for training (RFC 3339 UTC).
 */
training_range: [string, string], 
/**
 * Trainable parameters.
 */
parameters: number, 
/**
 * Walk-forward metrics next to the baselines (the training report, `report.json`'s shape).
 */
metrics: Record<string, unknown>, };

/** Every timeframe, finest first. */
export const TIMEFRAMES: readonly Timeframe[] = ["1m", "5m", "10m", "15m", "30m", "1h", "4h", "1d", "1w", "1mo"];

/** Nominal minutes of each timeframe (a trading day counts 1440). */
export const TIMEFRAME_MINUTES: Readonly<Record<Timeframe, number>> = { "1m": 1, "5m": 5, "10m": 10, "15m": 15, "30m": 30, "1h": 60, "4h": 240, "1d": 1440, "1w": 10080, "1mo": 43200 };

/** Alpaca's name of each timeframe. */
export const ALPACA_TIMEFRAME: Readonly<Record<Timeframe, string>> = { "1m": "1Min", "5m": "5Min", "10m": "10Min", "15m": "15Min", "30m": "30Min", "1h": "1Hour", "4h": "4Hour", "1d": "1Day", "1w": "1Week", "1mo": "1Month" };

/** Bars before every feature is defined (`mtf_features::spec::WARMUP_BARS`: SMA-50). */
export const WARMUP_BARS = 49;

/** Coverage the q10–q90 band is trained and calibrated for. */
export const INTERVAL_LEVEL = 0.8;
