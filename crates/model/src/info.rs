//! What a client reads about a loaded model: [`ModelInfo`], the public view of the [`ArtifactHeader`] without
//! the normalisation statistics and calibration internals (the header is ~11 KB; this is what the browser and the
//! dashboard use), plus the derived constants a client would otherwise copy (horizon in minutes, warm-up bars,
//! interval level). The wasm module's `predictor.info` returns it; its TypeScript declaration is generated
//! (crates/model/src/contract.rs).

use serde::Serialize;
use ts_rs::TS;

use crate::artifact::ArtifactHeader;
use crate::calibration::INTERVAL_LEVEL;

/// Inputs and target of a model (the client's view of [`crate::data::DataSpec`]).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(rename = "ModelData")]
pub struct InfoData {
    /// Input timeframes, in window order (`1m`, `15m`, …).
    #[ts(type = "Timeframe[]")]
    pub timeframes: Vec<String>,
    /// Steps per timeframe the model sees.
    pub lookback: usize,
    /// The timeframe whose bar ends are prediction instants and whose bars count the horizon.
    #[ts(type = "Timeframe")]
    pub base: String,
    /// Session filter of intraday bars: `regular` (09:30–16:00 New York) or `extended` (04:00–20:00).
    #[ts(type = "\"regular\" | \"extended\"")]
    pub session: String,
    /// Horizon in bars of the base timeframe, and whether an intraday horizon may cross into the next session.
    pub labels: InfoLabels,
}

/// The label configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[ts(rename = "ModelLabels")]
pub struct InfoLabels {
    /// Horizon in bars of the base timeframe.
    pub horizon: usize,
    /// Whether an intraday horizon may cross into the next trading day.
    pub cross_session: bool,
}

/// Normalised entropy of attention across timeframes (entropy / ln K) at or above which the model card and the
/// dashboard call attention near uniform.
pub const NEAR_UNIFORM_ENTROPY: f64 = 0.95;

/// A loaded model as a client sees it. Field names are snake_case, as in the artifact header.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct ModelInfo {
    /// Model name, e.g. `spy-15m-h4`.
    pub name: String,
    /// Model version, e.g. `0.1.0`.
    pub version: String,
    /// When the artifact was written (RFC 3339 UTC).
    pub created_at: String,
    /// Feature-spec identifier the model was trained with.
    pub feature_spec: String,
    /// Inputs, base timeframe, horizon.
    pub data: InfoData,
    /// Horizon in minutes: `labels.horizon × minutes(base)` (a trading day counts 1440).
    #[ts(type = "number")]
    pub horizon_minutes: i64,
    /// Bars of history before every feature is defined (`mtf_features::spec::WARMUP_BARS`).
    pub warmup_bars: usize,
    /// Nominal coverage of the predicted q10–q90 band.
    pub interval_level: f64,
    /// Normalised entropy of the attention across timeframes (entropy / ln K, 1 = uniform) at or above which the
    /// attention is near uniform: no preference a reader could take as insight.
    pub near_uniform_entropy: f64,
    /// How the model signals ([`crate::signals`]): the margin chosen on validation with the hit rate, its lower
    /// bound and the base rate behind it, or `margin: null` — hold only — when validation showed no skill (and for
    /// artifacts written before policies existed: all counts 0).
    pub signal_policy: crate::signals::SignalPolicy,
    /// First and last prediction instant used for training (RFC 3339 UTC).
    pub training_range: [String; 2],
    /// Trainable parameters.
    pub parameters: usize,
    /// Walk-forward metrics next to the baselines (the training report, `report.json`'s shape).
    #[ts(type = "Record<string, unknown>")]
    pub metrics: serde_json::Value,
}

impl From<&ArtifactHeader> for ModelInfo {
    fn from(h: &ArtifactHeader) -> Self {
        let d = &h.data;
        Self {
            name: h.name.clone(),
            version: h.version.clone(),
            created_at: h.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            feature_spec: h.feature_spec.clone(),
            data: InfoData {
                timeframes: d.timeframes.iter().map(|t| t.short().to_string()).collect(),
                lookback: d.lookback,
                base: d.base.short().to_string(),
                session: match d.session {
                    mtf_market::session::SessionFilter::Regular => "regular".into(),
                    mtf_market::session::SessionFilter::Extended => "extended".into(),
                },
                labels: InfoLabels { horizon: d.labels.horizon, cross_session: d.labels.cross_session },
            },
            horizon_minutes: d.horizon_minutes(),
            warmup_bars: mtf_features::spec::WARMUP_BARS,
            interval_level: INTERVAL_LEVEL,
            near_uniform_entropy: NEAR_UNIFORM_ENTROPY,
            signal_policy: h.calibration.signal.unwrap_or(crate::signals::SignalPolicy::UNVALIDATED),
            training_range: h.training_range.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            parameters: h.parameters,
            metrics: h.metrics.clone(),
        }
    }
}
