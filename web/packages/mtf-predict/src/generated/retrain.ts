// Generated from crates/retrain by ts-rs — do not edit.
// Regenerate: MTF_UPDATE_GENERATED=1 cargo test -p mtf-retrain typescript

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
validation: Validation, };

