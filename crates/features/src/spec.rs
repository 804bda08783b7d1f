//! The feature spec: what the model sees for each bar of each timeframe.
//!
//! Twenty scale-free features per bar, all computed from the bar and earlier bars of the **same** timeframe
//! (so a bar's features are final once the bar is complete). Prices enter only through log ratios and
//! indicators normalised by price or range, so the same model serves a $2 and a $2,000 stock.
//!
//! | # | name | formula (bar i; c close, o open, h high, l low, v volume) |
//! |---|------|---------------------------------------------------------|
//! | 0 | `log_return_1` | ln cᵢ − ln cᵢ₋₁ |
//! | 1 | `log_return_5` | ln cᵢ − ln cᵢ₋₅ |
//! | 2 | `log_return_20` | ln cᵢ − ln cᵢ₋₂₀ |
//! | 3 | `range_hl` | ln(h / l) |
//! | 4 | `body_oc` | ln(c / o) |
//! | 5 | `rsi_14` | (RSI₁₄ − 50) / 50, Wilder |
//! | 6 | `macd_hist_atr` | MACD(12,26,9) histogram / ATR₁₄ (0 when ATR = 0) |
//! | 7 | `bb_position` | (c − middle) / (upper − middle), Bollinger(20, 2) (0 when σ = 0) |
//! | 8 | `bb_width` | (upper − lower) / middle |
//! | 9 | `atr_rel_14` | ATR₁₄ / c |
//! | 10 | `adx_14` | ADX₁₄ / 50 − 1 |
//! | 11 | `di_spread_14` | (+DI₁₄ − −DI₁₄) / 100 |
//! | 12 | `stoch_k` | (slow %K(14,3,3) − 50) / 50 |
//! | 13 | `mfi_14` | (MFI₁₄ − 50) / 50 |
//! | 14 | `volume_z_20` | z-score of ln(1 + v) against the last 20 bars including this one (population σ; 0 when σ = 0) |
//! | 15 | `vwap_distance` | ln c − ln(session VWAP), VWAP anchored at the New York trading day (bar VWAP, else typical price) |
//! | 16 | `sma_50_distance` | ln c − ln SMA₅₀ |
//! | 17 | `rv_garman_klass_20` | Garman–Klass volatility over 20 bars, per bar |
//! | 18 | `session_position` | intraday: (minutes from 09:30 New York to the bar's end) / 390 · 2 − 1 (−1 at the open, 1 at the close; outside [−1, 1] in extended hours); daily: weekday, Monday −1 … Friday 1 |
//! | 19 | `time_since_prev` | ln((startᵢ − startᵢ₋₁) / timeframe length): 0 for adjacent bars, > 0 across gaps and nights |
//!
//! A feature is `NaN` until its inputs exist (warm-up: the first 49 bars, limited by SMA₅₀); the window
//! builder masks such rows. The spec's identifier ([`spec_id`]) hashes the spec version, the names and the
//! parameters (a formula change must bump [`SPEC_VERSION`]); model artifacts record it and refuse to load
//! against a different spec.

use sha2::{Digest, Sha256};

/// Version of the feature definitions; bump when any formula changes.
pub const SPEC_VERSION: u32 = 1;

/// Number of features per timeframe.
pub const N_FEATURES: usize = 20;

/// Feature names, in column order.
pub const FEATURE_NAMES: [&str; N_FEATURES] = [
    "log_return_1",
    "log_return_5",
    "log_return_20",
    "range_hl",
    "body_oc",
    "rsi_14",
    "macd_hist_atr",
    "bb_position",
    "bb_width",
    "atr_rel_14",
    "adx_14",
    "di_spread_14",
    "stoch_k",
    "mfi_14",
    "volume_z_20",
    "vwap_distance",
    "sma_50_distance",
    "rv_garman_klass_20",
    "session_position",
    "time_since_prev",
];

/// Indicator parameters used by the features (part of the identifier).
pub const PARAMETERS: &str =
    "rsi=14;macd=12,26,9;atr=14;bb=20,2;adx=14;stoch=14,3,3;mfi=14;vol_z=20;sma=50;gk=20;returns=1,5,20";

/// Index of the first bar whose features are all defined (SMA₅₀ is the longest warm-up).
pub const WARMUP_BARS: usize = 49;

/// The spec's stable identifier: `mtf-fs<version>-<first 16 hex digits of sha256(version, names, parameters)>`.
pub fn spec_id() -> String {
    let mut h = Sha256::new();
    h.update(format!("v{SPEC_VERSION}\n"));
    for name in FEATURE_NAMES {
        h.update(name);
        h.update("\n");
    }
    h.update(PARAMETERS);
    let digest = h.finalize();
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("mtf-fs{SPEC_VERSION}-{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_id_is_stable() {
        // If this changes, every model artifact becomes incompatible: bump SPEC_VERSION deliberately.
        assert_eq!(spec_id(), spec_id());
        assert!(spec_id().starts_with("mtf-fs1-"));
        assert_eq!(spec_id().len(), "mtf-fs1-".len() + 16);
        let names: std::collections::HashSet<_> = FEATURE_NAMES.iter().collect();
        assert_eq!(names.len(), N_FEATURES, "feature names are unique");
    }
}
