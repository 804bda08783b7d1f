//! The prediction JSON contract: what `mtf predict`, the browser's `predictor.predict` and the edge's
//! `POST /api/v1/predict` produce, and what the edge stores (`POST /api/v1/predictions`). One definition, without
//! burn, so the model crate that produces a prediction and the edge worker that validates and stores one (natively
//! tested, without burn) read and write the same type; its TypeScript is generated from these derives
//! (`mtf_model::contract` → `web/packages/mtf-predict/src/generated/contract.ts`).
//!
//! Units: prices in the quote currency of the bars; returns are log returns `ln(price / last_close)`; instants are
//! UTC, RFC 3339.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A trading signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum Signal {
    /// Expect up.
    Buy,
    /// Expect down.
    Sell,
    /// No edge.
    Hold,
}

impl Signal {
    /// +1, −1 or 0.
    pub fn direction(self) -> f64 {
        match self {
            Signal::Buy => 1.0,
            Signal::Sell => -1.0,
            Signal::Hold => 0.0,
        }
    }
}

/// The horizon of a prediction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct Horizon {
    /// Base timeframe, e.g. `15m`.
    #[ts(type = "Timeframe")]
    pub timeframe: String,
    /// Bars of the base timeframe.
    pub bars: usize,
    /// `bars × timeframe` in minutes (nominal).
    #[ts(type = "number")]
    pub minutes: i64,
}

/// The q10–q90 band as prices.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct Interval {
    /// Lower price (q10).
    pub low: f64,
    /// Upper price (q90).
    pub high: f64,
    /// Nominal coverage (0.8).
    pub level: f64,
}

/// Direction probabilities.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct Probabilities {
    /// P(return < −flat band).
    pub down: f64,
    /// P(|return| ≤ flat band).
    pub flat: f64,
    /// P(return > flat band).
    pub up: f64,
}

/// Attention weights for display.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct Attention {
    /// Timeframes in order (`1m`, `5m`, …).
    #[ts(type = "Array<Timeframe>")]
    pub timeframes: Vec<String>,
    /// `[K]`: attention across timeframes (sums to 1).
    pub across_timeframes: Vec<f64>,
    /// `[K][T]`: attention over time per timeframe, oldest step first (each row sums to 1).
    pub over_time: Vec<Vec<f64>>,
}

/// One prediction. Field names are the JSON contract with the dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct Prediction {
    /// Symbol as given by the caller.
    pub symbol: String,
    /// `name@version` of the model.
    pub model_version: String,
    /// Prediction instant (UTC, RFC 3339): inputs are bars complete by then.
    #[ts(type = "string")]
    pub prediction_time: DateTime<Utc>,
    /// Horizon.
    pub horizon: Horizon,
    /// Close of the latest complete base-timeframe bar.
    pub last_close: f64,
    /// Start (UTC, RFC 3339) of that bar.
    #[ts(type = "string")]
    pub last_bar_start: DateTime<Utc>,
    /// `last_close × exp(q50)`.
    pub predicted_price: f64,
    /// Predicted median log return over the horizon.
    pub predicted_log_return: f64,
    /// q10–q90 as prices, after the conformal adjustment.
    pub interval: Interval,
    /// Calibrated direction probabilities.
    pub probabilities: Probabilities,
    /// buy / sell / hold, by the model's validated signal policy (`mtf_model::signals`): hold only when validation showed
    /// no skill.
    pub signal: Signal,
    /// Calibrated probability of the most probable direction, in [0, 1].
    pub confidence: f64,
    /// Suggested position, a signed fraction of equity (+ long, − short): signal direction × the policy's
    /// validated edge × min(1, 0.5 % ÷ σ of the horizon from `interval`). 0 on hold. (Absent in predictions
    /// stored before it existed: read as 0.)
    #[serde(default)]
    pub position: f64,
    /// Attention weights.
    pub attention: Attention,
    /// The live recalibration applied to `interval` (absent: the model's band as predicted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub recalibration: Option<Recalibration>,
}

/// What the live recalibration did to a prediction's band (`Prediction::recalibration`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct Recalibration {
    /// `aci`: adaptive conformal inference (`mtf_model::recalibration`).
    pub method: String,
    /// Step size γ.
    pub gamma: f64,
    /// The scale applied to the band's half-widths (1 = the model's band).
    pub scale: f64,
    /// Outcomes observed so far by this session.
    #[ts(type = "number")]
    pub observed: u64,
    /// Share of the last `window` observed outcomes inside the band shown for them (`null` before any).
    pub realised_coverage: Option<f64>,
    /// How many outcomes `realised_coverage` is over (at most `mtf_model::recalibration::DEFAULT_WINDOW`, 100).
    #[ts(type = "number")]
    pub window: usize,
}
