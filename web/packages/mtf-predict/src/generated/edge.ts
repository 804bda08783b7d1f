// Generated from edge-worker/src/wire.rs (and crates/retrain) by ts-rs — do not edit.
// Regenerate: MTF_UPDATE_GENERATED=1 cargo test --manifest-path edge-worker/Cargo.toml --lib wire

import type { Prediction, Timeframe } from "./contract.js";

/**
 * A registered model version (`GET /api/v1/models`, `/models/active`, `POST /models`, `/activate`).
 */
export type ModelVersion = { 
/**
 * `name@version`.
 */
version: string, 
/**
 * The artifact's model name.
 */
name: string, 
/**
 * sha256 of the artifact file (hex): its ETag and what browsers verify.
 */
sha256: string, 
/**
 * Artifact size in bytes.
 */
size: number, 
/**
 * Whether this version is the one served for its horizon.
 */
active: boolean, 
/**
 * Registration time (RFC 3339 UTC).
 */
created_at: string, 
/**
 * First training sample (RFC 3339 UTC).
 */
training_start: string, 
/**
 * Last training sample (RFC 3339 UTC).
 */
training_end: string, 
/**
 * Walk-forward metrics and baselines from the artifact (`report.json`).
 */
metrics: Record<string, unknown>, 
/**
 * Data and model configuration from the artifact header.
 */
config: Record<string, unknown>, 
/**
 * Where to download the artifact.
 */
artifact_url: string, 
/**
 * What it predicts: minutes ahead (base-bar minutes × label horizon; 1d = 1440). The registry holds one
 * active model per horizon.
 */
horizon_minutes: number | null, 
/**
 * When it was last activated (RFC 3339 UTC); `null` if never.
 */
activated_at: string | null, };

/**
 * `GET /api/v1/models`.
 */
export type ModelsResponse = { 
/**
 * Newest first.
 */
models: Array<ModelVersion>, };

/**
 * One model (`/models/active`, registration, activation).
 */
export type ModelResponse = { 
/**
 * The model.
 */
model: ModelVersion, };

/**
 * A stored prediction with its outcome once scored (`GET /api/v1/predictions`).
 */
export type StoredPrediction = { id: number, symbol: string, model_version: string, 
/**
 * Instant the prediction is for (RFC 3339 UTC).
 */
prediction_time: string, horizon_minutes: number, predicted_price: number, interval_low: number, interval_high: number, confidence: number, signal: string, last_close: number, 
/**
 * Close at the horizon, once scored.
 */
realized_price: number | null, 
/**
 * predicted − realized, once scored.
 */
realized_error: number | null, 
/**
 * 1 when the direction was right, once scored.
 */
hit: number | null, 
/**
 * 1 when the realised price lay in the interval, once scored.
 */
in_interval: number | null, evaluated_at: string | null, created_at: string, 
/**
 * The whole prediction JSON as it was posted.
 */
payload: Prediction, 
/**
 * `pending`, then one terminal state: `scored`, `unscorable` (no bar near the target once later bars show
 * it final) or `expired` (undecided after a day of cron runs).
 */
status: "pending" | "scored" | "unscorable" | "expired", 
/**
 * `edge` (computed by the worker: the trusted source for monitoring), `browser` (posted with a session
 * token), `client` or `admin` (posted by a server-side tool with that token).
 */
source: "edge" | "client", };

/**
 * `GET /api/v1/predictions?symbol=`.
 */
export type PredictionsResponse = { symbol: string, 
/**
 * Newest first.
 */
predictions: Array<StoredPrediction>, 
/**
 * The newest (the last valid prediction), or null.
 */
latest: StoredPrediction | null, };

/**
 * `POST /api/v1/predictions`.
 */
export type StoredCount = { stored: number, };

/**
 * `GET /api/v1/models/{version}/performance`: live accuracy from the cron's scoring.
 */
export type Performance = { version: string, 
/**
 * Predictions scored.
 */
evaluated: number, 
/**
 * Predictions waiting for their horizon.
 */
pending: number, 
/**
 * Share of scored predictions whose direction was right (null before any).
 */
hit_rate: number | null, 
/**
 * Mean |predicted − realized| price (null before any).
 */
mean_abs_error: number | null, 
/**
 * Share of realised prices inside the interval (null before any).
 */
interval_coverage: number | null, };

/**
 * One training-data row (`GET /api/v1/training-data`).
 */
export type TrainingRow = { symbol: string, timeframe: string, timestamp: string, features: Record<string, unknown> | unknown[], target: number | null, };

/**
 * `GET /api/v1/training-data`.
 */
export type TrainingRows = { rows: Array<TrainingRow>, };

/**
 * `POST /api/v1/training-data`.
 */
export type Upserted = { 
/**
 * Rows inserted or replaced.
 */
upserted: number, 
/**
 * Rows not replaced because the stored row's `as_of` is newer.
 */
kept_newer: number, };

/**
 * One run of accuracy tracking (`POST /api/v1/admin/track-accuracy`, and the cron).
 */
export type AccuracyRun = { 
/**
 * Predictions scored by this run.
 */
scored: number, 
/**
 * Predictions marked unscorable (no bar near the target once the bars are final).
 */
unscorable: number, 
/**
 * Pending predictions given up after a day of runs without a decision.
 */
expired: number, 
/**
 * Due predictions left pending (bars not final yet, or Alpaca failed), tried again after the others.
 */
waiting: number, 
/**
 * Model versions whose health (`/models/{v}/health`) the monitoring step recomputed after this run.
 */
monitored: number, 
/**
 * Outcomes of the edge's own predictions fed into the live recalibration states by this run.
 */
recalibrated: number, };

/**
 * The model that served a `/api/v1/predict` answer.
 */
export type ServedModel = { 
/**
 * `name@version`.
 */
version: string, 
/**
 * sha256 of the artifact file (hex) the predictions were computed with.
 */
sha256: string, };

/**
 * Why one symbol of a `/api/v1/predict` batch has no prediction.
 */
export type EntryError = { 
/**
 * Machine-readable: `invalid_symbol`, `no_data`, `insufficient_history`, `upstream_unavailable`,
 * `model_unavailable`, `prediction_failed`.
 */
code: string, 
/**
 * What is wrong, naming the symbol.
 */
message: string, };

/**
 * The bars one input of a prediction was computed from (what a caller fetches to reproduce it).
 */
export type InputRange = { 
/**
 * Bar size fetched from Alpaca (`1m`, `15m`, `30m`, `1d`, …).
 */
timeframe: Timeframe, 
/**
 * Bars used (complete at the prediction instant, in the model's session).
 */
bars: number, 
/**
 * Start of the oldest bar used (RFC 3339 UTC); empty when none.
 */
first: string, 
/**
 * Start of the newest bar used (RFC 3339 UTC); empty when none.
 */
last: string, };

/**
 * One symbol of a `/api/v1/predict` answer: a prediction or an error.
 */
export type PredictEntry = { 
/**
 * The symbol as requested (upper case).
 */
symbol: string, 
/**
 * The prediction (`mtf predict`'s JSON), or `null` with `error` set.
 */
prediction: Prediction | null, 
/**
 * Why there is no prediction (`null` when there is one).
 */
error: EntryError | null, 
/**
 * `true` when the model or Alpaca failed and this is the last valid prediction instead.
 */
stale: boolean, 
/**
 * Seconds since the prediction was computed, when it comes from the cache or is stale.
 */
age_s: number | null, 
/**
 * `true` when served from the prediction cache.
 */
cached: boolean, 
/**
 * The bars the prediction was computed from.
 */
inputs: Array<InputRange>, };

/**
 * `POST|GET /api/v1/predict`.
 */
export type PredictResponse = { 
/**
 * The model that served (`null` when none could be loaded and every entry is stale or an error).
 */
model: ServedModel | null, 
/**
 * The prediction instant (RFC 3339 UTC).
 */
at: string, 
/**
 * One entry per distinct requested symbol, in request order.
 */
predictions: Array<PredictEntry>, 
/**
 * Conditions the caller should know of (e.g. the active model failed to load and the previous one served).
 */
warnings: Array<string>, };

/**
 * `POST /api/v1/admin/predict-watchlist` and the cron's scheduled predictions: one run per active model (one
 * per horizon); the top-level numbers are their sums, `at` and `skipped` those of the newest activation.
 */
export type ScheduledRun = { 
/**
 * Each active model's run, newest activation first.
 */
models: Array<ScheduledModelRun>, 
/**
 * The instant predicted (the newest base-bar close), RFC 3339 UTC; empty when skipped.
 */
at: string, 
/**
 * Predictions stored by this run (a second run for the same instant stores none).
 */
stored: number, 
/**
 * Symbols predicted.
 */
predicted: number, 
/**
 * Symbols that got no prediction, with why.
 */
failed: Array<PredictEntry>, 
/**
 * Why the run did nothing, when it did nothing (outside the session, no watchlist, …).
 */
skipped: string | null, };

/**
 * One active model's part of a [`ScheduledRun`].
 */
export type ScheduledModelRun = { 
/**
 * `name@version`.
 */
model: string, 
/**
 * Minutes ahead.
 */
horizon_minutes: number, 
/**
 * The instant predicted (the newest base-bar close), RFC 3339 UTC; empty when skipped.
 */
at: string, 
/**
 * Predictions stored by this run (a second run for the same instant stores none).
 */
stored: number, 
/**
 * Symbols predicted.
 */
predicted: number, 
/**
 * Symbols that got no prediction, with why.
 */
failed: Array<PredictEntry>, 
/**
 * Why the run did nothing, when it did nothing (outside the session, no watchlist, …).
 */
skipped: string | null, };

/**
 * `POST /api/v1/session`: a short-lived token for a browser (`Authorization: Bearer <token>` on the data routes,
 * `ml-predict` and prediction writes; `?token=` on the stream).
 */
export type SessionResponse = { 
/**
 * The signed token (`mtf1.…`).
 */
token: string, 
/**
 * When it stops working (RFC 3339 UTC); ask for a new one before.
 */
expires_at: string, 
/**
 * Its lifetime in seconds.
 */
ttl_s: number, 
/**
 * What it grants: `read` (data, ml-predict, stream) and `write` (storing predictions).
 */
scopes: Array<string>, };

/**
 * The state of the edge's upstream (Alpaca) stream connection, as the shared stream tells its clients.
 */
export type UpstreamState = "connecting" | "live" | "reconnecting" | "unavailable";

/**
 * The first frame of `GET /api/v1/stream` (an element of a JSON array, as Alpaca's messages are): the
 * symbols, the flow-control window and the upstream's state. The client acknowledges with
 * `{"action":"ack","frames":N}` (N: frames processed on this connection, this one included) at least every
 * `ack_every` frames; one more than `max_unacked` frames behind is disconnected (close code 1008).
 */
export type StreamHello = { 
/**
 * Always `success`.
 */
T: "success", 
/**
 * Always `connected`.
 */
msg: "connected", 
/**
 * The symbols of this connection.
 */
symbols: Array<string>, 
/**
 * Acknowledge at least every this many frames.
 */
ack_every: number, 
/**
 * Frames the edge sends ahead of the last acknowledgement before it disconnects the client.
 */
max_unacked: number, 
/**
 * The upstream's state now.
 */
upstream: UpstreamState, };

/**
 * `{"T":"status", …}`: sent to every stream client when the upstream's state changes.
 */
export type StreamStatusMessage = { 
/**
 * Always `status`.
 */
T: "status", 
/**
 * The new state.
 */
upstream: UpstreamState, 
/**
 * When the edge tries again (milliseconds from now), for `reconnecting` and `unavailable`.
 */
retry_in_ms: number | null, 
/**
 * Why (the upstream's close or error, secrets scrubbed).
 */
reason: string | null, };

/**
 * What a run decided.
 */
export type Decision = "promoted" | "rejected" | "skipped";

/**
 * One symbol's part of a holdout score.
 */
export type SymbolScore = { 
/**
 * Predictions scored.
 */
n: number, 
/**
 * Mean interval score (Winkler, α = 1 − level) of the band, log-return units; lower is better.
 */
interval_score: number, 
/**
 * Share of outcomes inside the band (nominal: the band's level, 0.8).
 */
coverage: number, };

/**
 * A model's score on the holdout (the numbers of `mtf_model::metrics::Metrics` the rule and the dashboard use).
 */
export type Score = { 
/**
 * Predictions scored.
 */
n: number, 
/**
 * Mean interval score of the band, log-return units; lower is better.
 */
interval_score: number, 
/**
 * Share of outcomes inside the band.
 */
coverage: number, 
/**
 * Mean band width, log-return units (sharpness).
 */
band_width: number, 
/**
 * Share of instants whose most probable direction class was the realised one.
 */
directional_accuracy: number, 
/**
 * MAE of the predicted price over persistence's (< 1 beats the random walk).
 */
mae_ratio_vs_persistence: number, 
/**
 * Per symbol.
 */
by_symbol: { [key in string]: SymbolScore }, };

/**
 * A model in a run: its registry version and sha256, and its holdout score.
 */
export type Candidate = { 
/**
 * `name@version`.
 */
version: string, 
/**
 * sha256 of the artifact (hex).
 */
sha256: string, 
/**
 * First and last training sample (RFC 3339 UTC).
 */
training_range: [string, string], 
/**
 * Its score on the shared holdout (`None` when it was not scored).
 */
score: Score | null, };

/**
 * What decides a run: equal inputs give the same run id, the same challenger bytes and the same decision.
 */
export type RetrainInputs = { 
/**
 * The store snapshot trained and scored on (after the backfill).
 */
snapshot: string, 
/**
 * sha256 of the training config file's bytes (hex).
 */
config_sha256: string, 
/**
 * The training seed.
 */
seed: number, 
/**
 * The champion's version and sha256 at the start of the run (`None`: no active model).
 */
champion: [string, string] | null, 
/**
 * Hyper-parameter search trials run before the fit (0: none).
 */
search_trials: number, };

/**
 * One trial of the search run before the fit (its leaderboard row).
 */
export type SearchTrial = { 
/**
 * Trial number (1-based).
 */
trial: number, 
/**
 * Mean validation loss over the folds (training window only); lower is better.
 */
mean_valid_loss: number, 
/**
 * The trial's model shape and learning rate, as JSON.
 */
params: Record<string, unknown>, };

/**
 * One `mtf retrain` run.
 */
export type RetrainRecord = { 
/**
 * [`RetrainInputs::run_id`].
 */
id: string, 
/**
 * Start and end of the run (RFC 3339 UTC).
 */
started_at: string, 
/**
 * End of the run.
 */
finished_at: string, 
/**
 * Wall time in seconds.
 */
duration_s: number, 
/**
 * Why it ran: the triggers that fired (`manual` without `--if-needed`).
 */
triggers: Array<string>, 
/**
 * What decided it.
 */
inputs: RetrainInputs, 
/**
 * The holdout both models were scored on: first and last instant (RFC 3339 UTC) and samples.
 */
holdout: [string, string] | null, 
/**
 * The champion at the start (with its holdout score).
 */
champion: Candidate | null, 
/**
 * The challenger trained in this run.
 */
challenger: Candidate | null, 
/**
 * The baselines on the same holdout (name → score), for reference.
 */
baselines: { [key in string]: Score }, 
/**
 * The decision.
 */
decision: Decision, 
/**
 * Why: one sentence per rule checked, computed from the scores.
 */
reasons: Array<string>, 
/**
 * Whether the challenger is the active model at the end of the run.
 */
activated: boolean, 
/**
 * The search leaderboard, best first (empty without `--search`).
 */
search: Array<SearchTrial>, 
/**
 * Every trigger check at the start of the run, fired or not.
 */
checks: Array<Check>, 
/**
 * Largest PSI per input timeframe (recent days vs the champion's training window; empty without a champion).
 */
drift: { [key in string]: number }, };

/**
 * `GET /api/v1/retrains`: newest first.
 */
export type RetrainsResponse = { 
/**
 * The records.
 */
retrains: Array<RetrainRecord>, };

/**
 * One check's outcome.
 */
export type Check = { 
/**
 * `schedule`, `no_champion`, `coverage`, `hit_rate`, `interval_score`, `drift`, `volatility`.
 */
trigger: string, 
/**
 * Whether it fired.
 */
fired: boolean, 
/**
 * The numbers behind it.
 */
why: string, };

/**
 * The model's own validation numbers (walk-forward, from its artifact), the reference for live numbers.
 */
export type Validation = { 
/**
 * Band coverage.
 */
coverage: number | null, 
/**
 * Interval score.
 */
interval_score: number | null, 
/**
 * Directional accuracy.
 */
directional_accuracy: number | null, };

/**
 * Rolling metrics over one window (`None` where nothing was scored).
 */
export type WindowMetrics = { 
/**
 * Scored predictions in the window.
 */
n: number, 
/**
 * Share of outcomes inside the band.
 */
coverage: number | null, 
/**
 * Mean interval score (Winkler) of the band; lower is better.
 */
interval_score: number | null, 
/**
 * Share of right directions (rows with a direction only).
 */
hit_rate: number | null, 
/**
 * Mean of `ln(predicted / realised)` (bias; > 0: too high).
 */
mean_error: number | null, 
/**
 * Mean of `|ln(predicted / realised)|`.
 */
mean_abs_error: number | null, };

/**
 * One UTC day of scored predictions (by target time).
 */
export type DailyPoint = { 
/**
 * UTC day (YYYY-MM-DD) of the target times.
 */
day: string, 
/**
 * The day's metrics.
 */
metrics: WindowMetrics, };

/**
 * A horizon's health.
 */
export type HorizonHealth = { 
/**
 * Horizon in minutes.
 */
horizon_minutes: number, 
/**
 * Nominal band level of its predictions.
 */
level: number, 
/**
 * Target times within a day of the newest.
 */
last_day: WindowMetrics, 
/**
 * Within 7 days of the newest.
 */
last_week: WindowMetrics, 
/**
 * The newest 100.
 */
last_100: WindowMetrics, 
/**
 * Per day, oldest first (for plots).
 */
daily: Array<DailyPoint>, };

/**
 * `GET /api/v1/models/{version}/health`.
 */
export type ModelHealth = { 
/**
 * `name@version`.
 */
version: string, 
/**
 * Newest scored target time (RFC 3339 UTC); the windows end here.
 */
as_of: string | null, 
/**
 * Scored predictions read.
 */
scored: number, 
/**
 * Per horizon, shortest first.
 */
horizons: Array<HorizonHealth>, 
/**
 * The version's validation numbers.
 */
validation: Validation, 
/**
 * When these numbers were computed (RFC 3339 UTC); `None` until the edge stamps them.
 */
computed_at: string | null, 
/**
 * Whether they were computed by the edge's monitoring run after scoring (`true`) or on request.
 */
precomputed: boolean, 
/**
 * Feature drift of the edge's own (server-side) predictions: per timeframe, the largest population
 * stability index over its inputs of the newest 7 days of observations against the artifact's training
 * reference (< 0.1 stable, > 0.25 large). Empty when not measured.
 */
drift: { [key in string]: number }, 
/**
 * Observations (edge predictions with their inputs) the drift was measured on.
 */
drift_observations: number, 
/**
 * Whether the version's artifact carries a training reference (older artifacts do not: no drift).
 */
drift_reference: boolean, };

