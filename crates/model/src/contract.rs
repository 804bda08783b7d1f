//! The TypeScript side of the browser contract, generated from the Rust definitions so the two cannot drift:
//! the `Timeframe` union and its minutes, Alpaca's `Bar`, the `Prediction` JSON (from `ts_rs` derives), and the
//! constants the package needs (features' warm-up, the interval level). The npm package imports
//! `src/generated/contract.ts`; a test fails when the committed file differs from what this module generates
//! (regenerate with `MTF_UPDATE_GENERATED=1 cargo test -p mtf-model --lib contract`).

use mtf_market::{Timeframe, WireBar};
use ts_rs::TS;

use crate::calibration::{INTERVAL_LEVEL, Signal};
use crate::info::{InfoData, InfoLabels, ModelInfo};
use crate::predict::{Attention, Horizon, Interval, Prediction, Probabilities};

/// Where the npm package keeps the generated file, relative to the workspace root.
pub const CONTRACT_TS_PATH: &str = "web/packages/mtf-predict/src/generated/contract.ts";

fn decl<T: TS>() -> String {
    // `docs()` is the type's doc comment as a JSDoc block.
    let docs = T::docs().map(|d| format!("{}\n", d.trim_end())).unwrap_or_default();
    // JSON numbers are numbers: 64-bit integers are declared `number`, not `bigint`.
    let cfg = ts_rs::Config::new().with_large_int("number");
    format!("{docs}export {}\n", T::decl(&cfg))
}

/// The type declarations alone (no values): the `Timeframe` union and every generated type. The npm package's
/// `contract.ts` starts from them, and the wasm module's `.d.ts` embeds them (crates/wasm/src/api.d.ts), so the
/// wasm API is typed by the same declarations.
#[must_use]
pub fn declarations() -> String {
    let names: Vec<String> = Timeframe::ALL.iter().map(|t| format!("\"{}\"", t.short())).collect();
    let mut s = format!(
        "/** A bar size (`mtf_market::Timeframe`): the dashboard form of Alpaca's 1Min … 1Month. */\n\
         export type Timeframe = {};\n\n",
        names.join(" | "),
    );
    for d in [
        decl::<WireBar>(),
        decl::<Signal>(),
        decl::<Horizon>(),
        decl::<Interval>(),
        decl::<Probabilities>(),
        decl::<Attention>(),
        decl::<crate::recalibration::Recalibration>(),
        decl::<Prediction>(),
        decl::<InfoLabels>(),
        decl::<InfoData>(),
        decl::<crate::signals::SignalPolicy>(),
        decl::<ModelInfo>(),
    ] {
        s.push_str(&d);
        s.push('\n');
    }
    s
}

/// The generated TypeScript module: [`declarations`] plus the constants the package needs before a model is
/// loaded (timeframe tables, the features' warm-up, the interval level).
#[must_use]
pub fn typescript() -> String {
    let names: Vec<String> = Timeframe::ALL.iter().map(|t| format!("\"{}\"", t.short())).collect();
    let minutes: Vec<String> = Timeframe::ALL.iter().map(|t| format!("\"{}\": {}", t.short(), t.minutes())).collect();
    let alpaca: Vec<String> = Timeframe::ALL.iter().map(|t| format!("\"{}\": \"{}\"", t.short(), t.alpaca())).collect();
    let mut s = String::from(
        "// Generated from the Rust definitions by crates/model/src/contract.rs — do not edit.\n\
         // Regenerate: MTF_UPDATE_GENERATED=1 cargo test -p mtf-model --lib contract\n\n",
    );
    s.push_str(&declarations());
    s.push_str(&format!(
        "/** Every timeframe, finest first. */\n\
         export const TIMEFRAMES: readonly Timeframe[] = [{}];\n\n\
         /** Nominal minutes of each timeframe (a trading day counts 1440). */\n\
         export const TIMEFRAME_MINUTES: Readonly<Record<Timeframe, number>> = {{ {} }};\n\n\
         /** Alpaca's name of each timeframe. */\n\
         export const ALPACA_TIMEFRAME: Readonly<Record<Timeframe, string>> = {{ {} }};\n\n",
        names.join(", "),
        minutes.join(", "),
        alpaca.join(", "),
    ));
    s.push_str(&format!(
        "/** Bars before every feature is defined (`mtf_features::spec::WARMUP_BARS`: SMA-50). */\n\
         export const WARMUP_BARS = {};\n\n\
         /** Coverage the q10–q90 band is trained and calibrated for. */\n\
         export const INTERVAL_LEVEL = {INTERVAL_LEVEL};\n",
        mtf_features::spec::WARMUP_BARS,
    ));
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn contract_typescript_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(CONTRACT_TS_PATH);
        let want = typescript();
        if std::env::var("MTF_UPDATE_GENERATED").as_deref() == Ok("1") {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &want).unwrap();
            return;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "{} is out of date with the Rust types: run `MTF_UPDATE_GENERATED=1 cargo test -p mtf-model --lib contract` \
             and commit the result",
            path.display()
        );
    }

    #[test]
    fn contract_names_every_timeframe_and_field() {
        let ts = typescript();
        for tf in Timeframe::ALL {
            assert!(ts.contains(&format!("\"{}\"", tf.short())), "{tf}");
        }
        assert!(!ts.contains("\"2h\""), "a timeframe Rust rejects");
        for field in [
            "predictedPrice",
            "modelVersion",
            "acrossTimeframes",
            "overTime",
            "lastBarStart",
            "horizon_minutes",
            "warmup_bars",
        ] {
            assert!(ts.contains(field), "{field}");
        }
        assert!(!ts.contains("bigint"), "JSON numbers are numbers");
    }
}
