//! The retrain record: what one `mtf retrain` run read, what both models scored on the shared holdout, and what
//! it decided. Written to the local log (one JSON line per run) and to the edge (`POST /api/v1/retrains`, kept in
//! D1 table `ml_retrains`, served by `GET /api/v1/retrains`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ts_rs::TS;

/// What a run decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The challenger met the promotion rule: registered and activated.
    Promoted,
    /// The challenger did not: registered inactive (the reasons say why).
    Rejected,
    /// No challenger was judged (no unseen holdout yet, too little data): nothing registered.
    Skipped,
}

impl Decision {
    /// `promoted`, `rejected` or `skipped`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Promoted => "promoted",
            Self::Rejected => "rejected",
            Self::Skipped => "skipped",
        }
    }
}

/// One symbol's part of a holdout score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SymbolScore {
    /// Predictions scored.
    #[ts(type = "number")]
    pub n: usize,
    /// Mean interval score (Winkler, α = 1 − level) of the band, log-return units; lower is better.
    pub interval_score: f64,
    /// Share of outcomes inside the band (nominal: the band's level, 0.8).
    pub coverage: f64,
}

/// A model's score on the holdout (the numbers of `mtf_model::metrics::Metrics` the rule and the dashboard use).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Score {
    /// Predictions scored.
    #[ts(type = "number")]
    pub n: usize,
    /// Mean interval score of the band, log-return units; lower is better.
    pub interval_score: f64,
    /// Share of outcomes inside the band.
    pub coverage: f64,
    /// Mean band width, log-return units (sharpness).
    pub band_width: f64,
    /// Share of instants whose most probable direction class was the realised one.
    pub directional_accuracy: f64,
    /// MAE of the predicted price over persistence's (< 1 beats the random walk).
    pub mae_ratio_vs_persistence: f64,
    /// Per symbol.
    pub by_symbol: BTreeMap<String, SymbolScore>,
}

/// A model in a run: its registry version and sha256, and its holdout score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Candidate {
    /// `name@version`.
    pub version: String,
    /// sha256 of the artifact (hex).
    pub sha256: String,
    /// First and last training sample (RFC 3339 UTC).
    pub training_range: [String; 2],
    /// Its score on the shared holdout (`None` when it was not scored).
    pub score: Option<Score>,
}

/// What decides a run: equal inputs give the same run id, the same challenger bytes and the same decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RetrainInputs {
    /// The store snapshot trained and scored on (after the backfill).
    pub snapshot: String,
    /// sha256 of the training config file's bytes (hex).
    pub config_sha256: String,
    /// The training seed.
    #[ts(type = "number")]
    pub seed: u64,
    /// The champion's version and sha256 at the start of the run (`None`: no active model).
    pub champion: Option<[String; 2]>,
    /// Hyper-parameter search trials run before the fit (0: none).
    #[ts(type = "number")]
    pub search_trials: usize,
}

impl RetrainInputs {
    /// The run id: the first 16 hex digits of the sha256 of the inputs' canonical JSON.
    #[must_use]
    pub fn run_id(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        let digest = Sha256::digest(json.as_bytes());
        digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }
}

/// One trial of the search run before the fit (its leaderboard row).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SearchTrial {
    /// Trial number (1-based).
    #[ts(type = "number")]
    pub trial: usize,
    /// Mean validation loss over the folds (training window only); lower is better.
    pub mean_valid_loss: f64,
    /// The trial's model shape and learning rate, as JSON.
    #[ts(type = "Record<string, unknown>")]
    pub params: serde_json::Value,
}

/// One `mtf retrain` run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct RetrainRecord {
    /// [`RetrainInputs::run_id`].
    pub id: String,
    /// Start and end of the run (RFC 3339 UTC).
    pub started_at: String,
    /// End of the run.
    pub finished_at: String,
    /// Wall time in seconds.
    pub duration_s: f64,
    /// Why it ran: the triggers that fired (`manual` without `--if-needed`).
    pub triggers: Vec<String>,
    /// What decided it.
    pub inputs: RetrainInputs,
    /// The holdout both models were scored on: first and last instant (RFC 3339 UTC) and samples.
    pub holdout: Option<[String; 2]>,
    /// The champion at the start (with its holdout score).
    pub champion: Option<Candidate>,
    /// The challenger trained in this run.
    pub challenger: Option<Candidate>,
    /// The baselines on the same holdout (name → score), for reference.
    pub baselines: BTreeMap<String, Score>,
    /// The decision.
    pub decision: Decision,
    /// Why: one sentence per rule checked, computed from the scores.
    pub reasons: Vec<String>,
    /// Whether the challenger is the active model at the end of the run.
    pub activated: bool,
    /// The search leaderboard, best first (empty without `--search`).
    pub search: Vec<SearchTrial>,
    /// Every trigger check at the start of the run, fired or not.
    pub checks: Vec<crate::triggers::Check>,
    /// Largest PSI per input timeframe (recent days vs the champion's training window; empty without a champion).
    pub drift: BTreeMap<String, f64>,
}

/// `GET /api/v1/retrains`: newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct RetrainsResponse {
    /// The records.
    pub retrains: Vec<RetrainRecord>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn inputs() -> RetrainInputs {
        RetrainInputs {
            snapshot: "abc".into(),
            config_sha256: "def".into(),
            seed: 7,
            champion: Some(["spy@0.1.0".into(), "00".into()]),
            search_trials: 0,
        }
    }

    #[test]
    fn run_id_is_deterministic_and_changes_with_any_input() {
        let a = inputs();
        assert_eq!(a.run_id(), inputs().run_id());
        assert_eq!(a.run_id().len(), 16);
        let mut b = inputs();
        b.seed = 8;
        assert_ne!(a.run_id(), b.run_id());
        let mut c = inputs();
        c.champion = None;
        assert_ne!(a.run_id(), c.run_id());
        let mut d = inputs();
        d.snapshot = "abd".into();
        assert_ne!(a.run_id(), d.run_id());
    }

    #[test]
    fn decisions_serialise_in_snake_case() {
        assert_eq!(serde_json::to_string(&Decision::Promoted).unwrap(), "\"promoted\"");
        assert_eq!(serde_json::from_str::<Decision>("\"skipped\"").unwrap(), Decision::Skipped);
        assert_eq!(Decision::Rejected.as_str(), "rejected");
    }
}
