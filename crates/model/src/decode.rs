//! The one decoder from the model's raw outputs to what is served and scored: calibrated quantiles of the
//! horizon log return, direction probabilities, the signal and its confidence. Serving
//! ([`crate::predict::Predictor::finish`]) and evaluation (`experiment`) both call [`decode`], so the numbers
//! a report gives are the numbers a user is shown.

pub use crate::calibration::INTERVAL_LEVEL;
use crate::calibration::{Calibration, Signal, adjust_interval, probabilities};
#[cfg(doc)]
use crate::data::Targets;
use crate::predict::RawOutput;
use crate::signals::SignalPolicy;

/// One decoded prediction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decoded {
    /// q10, q50, q90 of the horizon log return, calibrated (interval adjustment) and unscaled (label scale).
    pub quantiles: [f64; 3],
    /// Calibrated probabilities of down, flat, up (temperature-scaled softmax).
    pub probs: [f64; 3],
    /// Buy / sell / hold.
    pub signal: Signal,
    /// Confidence of the signal in [0, 1].
    pub confidence: f64,
    /// Suggested position, signed fraction of equity ([`crate::signals::position`]): what is served and what
    /// the backtest holds.
    pub position: f64,
}

/// Decodes sample `i` of a batch of raw outputs with the artifact's calibration; `scale` is that sample's target
/// scale ([`Targets::scale_of`] its trailing variance), which the quantiles are multiplied by, and `bucket` the
/// time-of-day bucket of its instant ([`crate::volatility::time_of_day_bucket`]), which picks the interval
/// adjustment ([`Calibration::interval_delta_at`]).
///
/// # Errors
/// [`DecodeError`] when the batch has no sample `i` (outputs shorter than the batch they belong to).
pub fn decode(raw: &RawOutput, i: usize, scale: f64, bucket: u8, cal: &Calibration) -> Result<Decoded, DecodeError> {
    let three = |v: &[f32], what: &'static str| -> Result<[f64; 3], DecodeError> {
        let s = v.get(i * 3..i * 3 + 3).ok_or(DecodeError { what, index: i, len: v.len() / 3 })?;
        Ok([f64::from(s[0]), f64::from(s[1]), f64::from(s[2])])
    };
    let q = cal.blended(three(&raw.quantiles, "quantiles")?);
    let q = adjust_interval(q, cal.interval_delta_at(bucket)).map(|v| v * scale);
    let probs = probabilities(three(&raw.logits, "logits")?, cal.temperature);
    let policy = cal.signal.unwrap_or(SignalPolicy::UNVALIDATED);
    let (signal, confidence) = policy.signal(probs);
    let position = crate::signals::position(signal, policy.edge, q);
    Ok(Decoded { quantiles: q, probs, signal, confidence, position })
}

/// Raw outputs that do not cover the sample asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("model outputs ({what}) hold {len} samples; sample {index} was asked for")]
pub struct DecodeError {
    /// Which output.
    pub what: &'static str,
    /// The sample asked for.
    pub index: usize,
    /// Samples present.
    pub len: usize,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::volatility::NO_BUCKET;

    #[test]
    fn decodes_by_hand() {
        let raw = RawOutput {
            quantiles: vec![0.0, 0.0, 0.0, -1.0, 0.5, 2.0],
            logits: vec![0.0; 3].into_iter().chain([0.0, 0.0, 3.0_f32.ln()]).collect(),
            attn_timeframes: vec![],
            attn_time: vec![],
        };
        let cal = Calibration { temperature: 1.0, interval_delta: 0.5, ..Calibration::default() };
        let d = decode(&raw, 1, 0.01, NO_BUCKET, &cal).unwrap();
        // Interval widened by delta on both sides, then scaled: (-1 - 0.5, 0.5, 2 + 0.5) × 0.01.
        for (a, b) in d.quantiles.iter().zip([-0.015, 0.005, 0.025]) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
        // softmax(0, 0, ln 3) = (1/5, 1/5, 3/5).
        for (a, b) in d.probs.iter().zip([0.2, 0.2, 0.6]) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        assert!(decode(&raw, 2, 0.01, NO_BUCKET, &cal).is_err());
        // No validated policy in the artifact: hold, no position, whatever the probabilities.
        assert_eq!((d.signal, d.position), (Signal::Hold, 0.0));
        assert!((d.confidence - 0.6).abs() < 1e-6);
        // A policy with margin 0.1 and edge 0.2: p(up) − p(down) = 0.4 buys; σ = 0.04 / (2 · 1.28155) = 0.015606,
        // position 0.2 × 0.005 / σ = 0.064078.
        let policy = SignalPolicy { margin: Some(0.1), edge: 0.2, ..SignalPolicy::UNVALIDATED };
        let d = decode(&raw, 1, 0.01, NO_BUCKET, &Calibration { signal: Some(policy), ..cal }).unwrap();
        assert_eq!(d.signal, Signal::Buy);
        assert!((d.position - 0.2 * 0.005 / (0.04 / (2.0 * 1.281_551_565_5))).abs() < 1e-9, "{}", d.position);
        let higher = SignalPolicy { margin: Some(0.45), ..policy };
        let d = decode(&raw, 1, 0.01, NO_BUCKET, &Calibration { signal: Some(higher), ..cal }).unwrap();
        assert_eq!((d.signal, d.position), (Signal::Hold, 0.0), "margin 0.4 < 0.45");
    }

    /// Raw outputs of one sample with these label-scale quantiles and uniform logits.
    fn one_sample(quantiles: [f32; 3]) -> RawOutput {
        RawOutput { quantiles: quantiles.to_vec(), logits: vec![0.0; 3], attn_timeframes: vec![], attn_time: vec![] }
    }

    #[test]
    fn the_instants_bucket_picks_the_interval_adjustment() {
        let raw = one_sample([-1.0, 0.5, 2.0]);
        let cal = Calibration {
            interval_delta: 0.5,
            interval_delta_by_bucket: Some([0.0, 0.0, 0.0, 1.0, 0.0, 0.0, -0.25]),
            ..Calibration::default()
        };
        let q = |bucket| decode(&raw, 0, 0.01, bucket, &cal).unwrap().quantiles;
        let close = |a: [f64; 3], b: [f64; 3]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12);
        assert!(close(q(3), [-0.02, 0.005, 0.03]), "{:?}", q(3));
        assert!(close(q(6), [-0.0075, 0.005, 0.0175]), "{:?}", q(6));
        assert!(close(q(NO_BUCKET), [-0.015, 0.005, 0.025]), "outside the session the pooled δ: {:?}", q(NO_BUCKET));
    }

    #[test]
    fn the_blend_comes_before_the_interval_adjustment() {
        let raw = one_sample([-3.0, 1.0, 3.0]);
        let cal = Calibration {
            interval_delta: 0.5,
            band_blend: Some(crate::calibration::BandBlend { weight: 0.5, anchor: [-1.0, 0.0, 1.0] }),
            ..Calibration::default()
        };
        // Blend: (−2, 0.5, 2); widened by 0.5: (−2.5, 0.5, 2.5); scaled by 0.01.
        let q = decode(&raw, 0, 0.01, NO_BUCKET, &cal).unwrap().quantiles;
        for (a, e) in q.iter().zip([-0.025, 0.005, 0.025]) {
            assert!((a - e).abs() < 1e-12, "{q:?}");
        }
    }
}
