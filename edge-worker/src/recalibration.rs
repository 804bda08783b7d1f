//! Live recalibration at the edge (issue 13): the same adaptive conformal inference as the browser's live
//! session and the evaluation ([`mtf_model::recalibration::AdaptiveBand`]), one state per (model version,
//! symbol) in D1 (`ml_recalibration`, migration 0008).
//!
//! - **Outcomes**: accuracy tracking ([`crate::accuracy`]) feeds the state the outcomes of the edge's *own*
//!   predictions (`source = 'edge'`, the cron's) as it scores them, oldest target first: the band each one
//!   showed (its stored interval) against the realised price. Predictions posted by browsers never move it, so an
//!   untrusted client cannot bend the edge's bands.
//! - **Serving**: `ml-predict` scales each fresh prediction's band by its state and says so in
//!   `prediction.recalibration` (method, γ, scale, outcomes observed, realised coverage over the last ≤ 100).
//! - **No look-ahead**: a state is applied only to predictions at or after the newest target instant it has
//!   observed (`last_target`); a prediction for an earlier `at` gets the model's band (the edge keeps no state
//!   as of past instants).
//!
//! wasm32 only (it needs the model crate and D1); tested in workerd (`test/predict.test.mjs`: the scale and
//! realised coverage served equal the ones computed from the scored rows, browsers' rows do not count, an
//! earlier instant gets the model's band).

use std::collections::BTreeMap;

use mtf_model::recalibration::AdaptiveBand;
use serde::Deserialize;
use serde_json::json;
use worker::D1Database;

use crate::db;
use crate::http::iso;
use crate::logic::ApiError;

/// One scored outcome of an edge prediction, for the state of its (version, symbol).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    /// The target instant (ms since the epoch).
    pub target_ms: i64,
    /// The close the prediction was made from.
    pub last_close: f64,
    /// The band shown and its median, as prices.
    pub low: f64,
    pub predicted: f64,
    pub high: f64,
    /// The realised price at the target.
    pub realised: f64,
}

/// A stored state and the newest target instant it has observed.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub band: AdaptiveBand,
    pub last_target_ms: i64,
}

#[derive(Deserialize)]
struct Row {
    symbol: String,
    state: String,
    last_target: String,
}

/// Updates `states` (keyed by symbol) with `outcomes`, each symbol's in target order. The caller passes each
/// scored row once (accuracy tracking's conditional update says which rows a run scored), so an outcome that
/// arrives after later ones (its bars were late) is still observed, in the order outcomes became known. Pure.
pub fn observe(states: &mut BTreeMap<String, State>, outcomes: &BTreeMap<String, Vec<Outcome>>) -> usize {
    let mut n = 0;
    for (symbol, list) in outcomes {
        let mut list = list.clone();
        list.sort_by_key(|o| o.target_ms);
        let st = states
            .entry(symbol.clone())
            .or_insert_with(|| State { band: AdaptiveBand::default(), last_target_ms: i64::MIN });
        for o in list {
            st.band.observe_prices(o.last_close, o.low, o.predicted, o.high, o.realised);
            st.last_target_ms = st.last_target_ms.max(o.target_ms);
            n += 1;
        }
    }
    n
}

/// The states of `version`, by symbol. A state that does not parse is dropped (it starts again from scale 1).
///
/// # Errors
/// D1 failing.
pub async fn load(d1: &D1Database, version: &str) -> Result<BTreeMap<String, State>, ApiError> {
    let rows: Vec<Row> = db::rows(
        d1,
        "SELECT symbol, state, last_target FROM ml_recalibration WHERE model_version = ?1",
        &[json!(version)],
    )
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let band = serde_json::from_str::<AdaptiveBand>(&r.state).ok()?;
            let last = chrono::DateTime::parse_from_rfc3339(&r.last_target).ok()?.timestamp_millis();
            Some((r.symbol, State { band, last_target_ms: last }))
        })
        .collect())
}

/// Feeds the scored outcomes of `version` into its stored states and writes them back. Returns the outcomes
/// observed.
///
/// # Errors
/// D1 failing.
pub async fn update(
    d1: &D1Database,
    version: &str,
    outcomes: &BTreeMap<String, Vec<Outcome>>,
) -> Result<usize, ApiError> {
    let mut states = load(d1, version).await?;
    let n = observe(&mut states, outcomes);
    let mut stmts = Vec::new();
    for symbol in outcomes.keys() {
        let Some(st) = states.get(symbol) else { continue };
        let body = serde_json::to_string(&st.band).map_err(|e| ApiError::internal(e.to_string()))?;
        stmts.push(db::bind(
            d1.prepare(
                "INSERT INTO ml_recalibration (model_version, symbol, state, last_target, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (model_version, symbol) DO UPDATE SET \
                 state = excluded.state, last_target = excluded.last_target, updated_at = excluded.updated_at",
            ),
            &[
                json!(version),
                json!(symbol),
                json!(body),
                json!(iso(st.last_target_ms)),
                json!(iso(crate::http::now_ms())),
            ],
        )?);
    }
    if !stmts.is_empty() {
        d1.batch(stmts).await?;
    }
    Ok(n)
}

/// Whether `state` may be applied to a prediction at `at_ms` (it has seen nothing after that instant).
#[must_use]
pub fn applicable(state: &State, at_ms: i64) -> bool {
    state.last_target_ms <= at_ms
}
