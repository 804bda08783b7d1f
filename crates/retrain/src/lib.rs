//! The retrain loop's plain data and pure decisions (no burn, no I/O), shared by `mtf retrain` and the edge
//! worker:
//!
//! - [`record`]: the retrain record (inputs, both models' holdout scores, decision) the CLI writes to its local
//!   log and to the edge (`POST /api/v1/retrains`), and its deterministic run id;
//! - [`rule`]: the promotion rule declared in the training config (`[retrain.promotion]`);
//! - [`triggers`]: when `mtf retrain --if-needed` runs (schedule, live coverage, degradation against the model's
//!   validation numbers, feature drift, volatility regime);
//! - [`drift`]: the population stability index and realised volatility;
//! - [`health`]: rolling live metrics of a model version from its scored predictions
//!   (`GET /api/v1/models/{version}/health`).
//!
//! Units: returns and interval scores are in log-return units (`ln(price / last_close)`), as in the model's
//! evaluation (`mtf_model::metrics::Metrics`), so live numbers compare with validation numbers directly.

pub mod drift;
pub mod health;
pub mod record;
pub mod rule;
pub mod triggers;

/// Where the generated declarations of this crate's wire types live, relative to the repository root.
pub const RETRAIN_TS_PATH: &str = "web/packages/mtf-predict/src/generated/retrain.ts";

fn decl<T: ts_rs::TS>() -> String {
    let docs = T::docs().map(|d| format!("{}\n", d.trim_end())).unwrap_or_default();
    let cfg = ts_rs::Config::new().with_large_int("number");
    format!("{docs}export {}\n", T::decl(&cfg))
}

/// The generated TypeScript module: the retrain records and model health the edge serves.
#[must_use]
pub fn typescript() -> String {
    let mut s = String::from(
        "// Generated from crates/retrain by ts-rs — do not edit.\n\
         // Regenerate: MTF_UPDATE_GENERATED=1 cargo test -p mtf-retrain typescript\n\n",
    );
    for d in [
        decl::<record::Decision>(),
        decl::<record::SymbolScore>(),
        decl::<record::Score>(),
        decl::<record::Candidate>(),
        decl::<record::RetrainInputs>(),
        decl::<record::SearchTrial>(),
        decl::<record::RetrainRecord>(),
        decl::<record::RetrainsResponse>(),
        decl::<triggers::Check>(),
        decl::<health::Validation>(),
        decl::<health::WindowMetrics>(),
        decl::<health::DailyPoint>(),
        decl::<health::HorizonHealth>(),
        decl::<health::ModelHealth>(),
    ] {
        s.push_str(&d);
        s.push('\n');
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[test]
    fn typescript_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(super::RETRAIN_TS_PATH);
        let want = super::typescript();
        if std::env::var("MTF_UPDATE_GENERATED").as_deref() == Ok("1") {
            std::fs::write(&path, &want).unwrap();
            return;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "{} is out of date: run `MTF_UPDATE_GENERATED=1 cargo test -p mtf-retrain typescript` and commit it",
            path.display()
        );
        assert!(!want.contains("bigint"), "JSON numbers are numbers");
    }
}
