//! Realised volatility around each sample, and the two volatility baselines built from it.
//!
//! Volatility clusters and follows the time of day, so the bands worth beating are the ones a careful analyst
//! would draw from recent realised volatility. Every quantity here uses only base bars that had **ended** by the
//! sample's instant τ ([`Context`]); the one exception, [`Context::future`], is the realised variance of the
//! label's own bars and is used only as a *training target* (of training samples, whose labels had arrived
//! before the evaluation block began — the walk-forward folds guarantee it).
//!
//! Conventions: a return is `ln(close[j] / close[j−1])` of consecutive base bars; for an intraday base, returns
//! across a session boundary (the overnight gap) are left out of the trailing windows. Variances are **per
//! base bar** (mean squared return); a horizon of `h` bars has variance `h·σ²`.
//!
//! - **`realised_vol`**: σ² = the mean squared return over the last session (intraday; the last 22 days for a
//!   daily base). The band is `[z₁₀, z₅₀, z₉₀]·√(h·σ²)` with `z` the empirical quantiles of the standardised
//!   training labels `r / √(h·σ²)` — a band that is calibrated on the training part, not assumed normal.
//! - **`har_vol`**: a HAR-style log-linear model (Corsi 2009) of the label's realised variance on the logs of
//!   the trailing variance over a short, medium and long window (last hour, last session, last week; for a
//!   daily base week, month and quarter) and of the time-of-day profile of the horizon (the mean label variance
//!   of training samples at the same bar of the day, over its overall mean). Fit by ridge (λ = 1) on training
//!   samples; the band again from the empirical quantiles of the standardised training labels.

use mtf_market::session::{ny_local_secs, trading_day_number_ms};

use crate::baselines::Ridge;
use crate::data::Prepared;

/// Floor of a variance before its logarithm (per-bar log-return units squared): a flat window is not −∞.
const VAR_FLOOR: f64 = 1e-12;

/// What the volatility baselines and the conditional metrics know about one sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Context {
    /// Mean squared base-bar return over the short, medium and long trailing windows ending at τ (NaN where
    /// no return was available yet).
    pub trailing: [f64; 3],
    /// Base bar of the day of the bar ending at τ: New York minutes since midnight of its start ÷ bar minutes
    /// (0 for daily and coarser bases).
    pub slot: u16,
    /// Time-of-day bucket of τ for the conditional metrics: New York hours since 09:30 (0 = 09:30–10:29, …, 6 =
    /// 15:30–16:00); [`NO_BUCKET`] for daily bases and instants outside the regular session.
    pub bucket: u8,
    /// Mean squared base-bar return over the label's `h` bars — known only at the label's instant, used only as
    /// a training target.
    pub future: f64,
}

/// [`Context::bucket`] of samples with no time-of-day bucket.
pub const NO_BUCKET: u8 = u8::MAX;

/// Time-of-day bucket of an instant `at_ms` (ms since the epoch, the end of the base bar a prediction is made
/// from): New York hours since 09:30 of the instant, 09:30–10:29 → 0, …, 15:30–16:00 → 6; [`NO_BUCKET`] for daily
/// and coarser bases (`intraday` false) and for instants outside 09:30–16:00. Evaluation
/// ([`contexts`]) and serving ([`crate::predict::Predictor::prepare`]) both call it.
#[must_use]
pub fn time_of_day_bucket(at_ms: i64, intraday: bool) -> u8 {
    let end_min = ny_local_secs(at_ms.div_euclid(1000)).rem_euclid(86_400) / 60;
    if intraday && (9 * 60 + 30..=16 * 60).contains(&end_min) {
        u8::try_from(((end_min - (9 * 60 + 30)) / 60).min(6)).unwrap_or(NO_BUCKET)
    } else {
        NO_BUCKET
    }
}

/// Label of time-of-day bucket `b` (New York local time of its start).
#[must_use]
pub fn bucket_label(b: u8) -> String {
    if b == NO_BUCKET {
        return "all".into();
    }
    let m = 9 * 60 + 30 + 60 * u32::from(b);
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// Trailing window lengths in base bars for a base of `minutes` per bar: (hour, session, week) intraday,
/// (week, month, quarter) for days and coarser.
#[must_use]
pub fn windows(minutes: i64, intraday: bool) -> [usize; 3] {
    if intraday {
        let per_session = (390 / minutes.max(1)).max(1) as usize;
        [(60 / minutes.max(1)).max(1) as usize, per_session, 5 * per_session]
    } else {
        [5, 22, 66]
    }
}

/// Mean squared base-bar return over the last `window` returns at bars ≤ `i` (the bar ending at the instant):
/// the same returns as [`Context::trailing`] (for an intraday base, none across a session boundary), summed
/// directly so that training ([`vol_inputs`] in [`crate::labels::make_samples`]) and serving (`Predictor::prepare`) compute it
/// from a sample's own bars the same way. `None` when no return is available yet.
#[must_use]
pub fn trailing_variance(bars: &[mtf_market::Bar], i: usize, window: usize, intraday: bool) -> Option<f64> {
    let (mut sum, mut n) = (0.0, 0usize);
    let mut j = i.min(bars.len().saturating_sub(1));
    while j >= 1 && n < window {
        let same_day =
            !intraday || trading_day_number_ms(bars[j].start_ms()) == trading_day_number_ms(bars[j - 1].start_ms());
        let r = (bars[j].close() / bars[j - 1].close()).ln();
        if same_day && r.is_finite() {
            sum += r * r;
            n += 1;
        }
        j -= 1;
    }
    (n > 0).then(|| sum / n as f64)
}

/// What a volatility model knows at one instant, from the base bars that had ended by then: the trailing variances
/// over the three [`windows`] ([`trailing_variance`], `None` before any return) and the bar of the day. Computed
/// per sample in training ([`crate::labels::Sample::vol`]) and per prediction in serving, by [`vol_inputs`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct VolInputs {
    /// Mean squared base-bar return over the short, medium and long trailing windows.
    pub trailing: [Option<f64>; 3],
    /// Base bar of the day of the bar ending at the instant (as [`Context::slot`]).
    pub slot: u16,
}

impl VolInputs {
    /// The [`Context`] a [`VolBand`] reads (no bucket, no future: neither is needed for a variance).
    #[must_use]
    pub fn context(&self) -> Context {
        Context {
            trailing: self.trailing.map(|v| v.unwrap_or(f64::NAN)),
            slot: self.slot,
            bucket: NO_BUCKET,
            future: f64::NAN,
        }
    }
}

/// Base bar of the day of a bar starting at `start_ms`: New York minutes since midnight ÷ bar minutes (0 for daily
/// and coarser bases).
fn slot_of(start_ms: i64, minutes: i64, intraday: bool) -> u16 {
    if !intraday {
        return 0;
    }
    let local_min = ny_local_secs(start_ms.div_euclid(1000)).rem_euclid(86_400) / 60;
    u16::try_from(local_min / minutes.max(1)).unwrap_or(0)
}

/// The [`VolInputs`] at bar `i` of a base series of `base` bars (bars after `i` are never read).
#[must_use]
pub fn vol_inputs(bars: &[mtf_market::Bar], i: usize, base: mtf_market::Timeframe) -> VolInputs {
    let intraday = base.is_intraday();
    let minutes = base.minutes().max(1);
    let trailing = windows(minutes, intraday).map(|w| trailing_variance(bars, i, w, intraday));
    let slot = bars.get(i).map_or(0, |b| slot_of(b.start_ms(), minutes, intraday));
    VolInputs { trailing, slot }
}

/// The [`Context`] of every sample of `p`, in sample order. The trailing windows and the bar of the day are the
/// sample's own [`crate::labels::Sample::vol`] (one computation, the one serving repeats); only the time-of-day
/// bucket and the training target [`Context::future`] are added here.
#[must_use]
pub fn contexts(p: &Prepared) -> Vec<Context> {
    let spec = &p.spec;
    let k = spec.timeframes.iter().position(|&t| t == spec.base).unwrap_or(0);
    let intraday = spec.base.is_intraday();
    let h = spec.labels.horizon.max(1);
    // Per part: each base bar's squared return, for the label's variance.
    let per_part: Vec<_> = p
        .parts
        .iter()
        .map(|part| {
            let series = &part.mtf.frames[k].series;
            let bars = series.bars();
            let mut r2 = vec![0.0; bars.len()];
            for j in 1..bars.len() {
                let r = (bars[j].close() / bars[j - 1].close()).ln();
                r2[j] = r * r;
            }
            (series.ends_ms(), r2)
        })
        .collect();
    p.samples
        .iter()
        .map(|s| {
            let (ends, r2) = &per_part[s.part];
            let at = s.at.timestamp_millis();
            let i = ends.partition_point(|&e| e < at).min(r2.len().saturating_sub(1));
            let future = (i + 1..=(i + h).min(r2.len().saturating_sub(1))).map(|j| r2[j]).sum::<f64>() / h as f64;
            Context { bucket: time_of_day_bucket(at, intraday), future, ..s.vol.context() }
        })
        .collect()
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Empirical q10/q50/q90 of standardised labels `r / σ_h`, skipping non-finite ones; the normal's when none.
/// Empirical q10, q50, q90 of `label ÷ sigma` over the pairs where it is finite (the standard normal's without
/// any).
#[must_use]
pub fn standardised_quantiles(labels: &[f64], sigma: &[f64]) -> [f64; 3] {
    let mut z: Vec<f64> = labels.iter().zip(sigma).map(|(r, s)| r / s).filter(|z| z.is_finite()).collect();
    if z.is_empty() {
        return [-1.281_551_565_544_600_5, 0.0, 1.281_551_565_544_600_5];
    }
    z.sort_by(f64::total_cmp);
    [quantile(&z, 0.1), quantile(&z, 0.5), quantile(&z, 0.9)]
}

/// A volatility model fit on training samples: per-bar variance for any sample, and the standardised quantiles.
/// Serialisable: a model whose target is scaled by the HAR variance ([`crate::labels::TargetScale::HarVol`])
/// carries its fitted HAR model in the artifact.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VolBand {
    kind: Kind,
    z: [f64; 3],
    horizon: f64,
    /// Mean label variance of the training samples (the fallback where a sample has no trailing returns).
    mean_future: f64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Trailing,
    Har { ridge: Ridge, profile: Vec<f64> },
}

fn mean_finite(xs: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = xs.filter(|x| x.is_finite()).fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 { VAR_FLOOR } else { s / n as f64 }
}

impl VolBand {
    /// The `realised_vol` baseline: trailing variance over the medium window (see the module docs).
    #[must_use]
    pub fn trailing(train: &[Context], train_labels: &[f64], horizon: usize) -> Self {
        let mut b = Self {
            kind: Kind::Trailing,
            z: [0.0; 3],
            horizon: horizon.max(1) as f64,
            mean_future: mean_finite(train.iter().map(|c| c.future)),
        };
        b.z = b.fit_z(train, train_labels);
        b
    }

    /// The `har_vol` baseline (see the module docs).
    #[must_use]
    pub fn har(train: &[Context], train_labels: &[f64], horizon: usize) -> Self {
        let mean_future = mean_finite(train.iter().map(|c| c.future));
        let slots = train.iter().map(|c| usize::from(c.slot) + 1).max().unwrap_or(1);
        let (mut sum, mut cnt) = (vec![0.0; slots], vec![0usize; slots]);
        for c in train.iter().filter(|c| c.future.is_finite()) {
            sum[usize::from(c.slot)] += c.future;
            cnt[usize::from(c.slot)] += 1;
        }
        let profile =
            sum.iter().zip(&cnt).map(|(s, &n)| if n > 0 { s / n as f64 / mean_future } else { 1.0 }).collect();
        let mut b = Self {
            kind: Kind::Har { ridge: Ridge::fit(&[], &[], 1.0), profile },
            z: [0.0; 3],
            horizon: horizon.max(1) as f64,
            mean_future,
        };
        let x: Vec<Vec<f64>> = train.iter().map(|c| b.regressors(c)).collect();
        let y: Vec<f64> = train.iter().map(|c| c.future.max(VAR_FLOOR).ln()).collect();
        if let Kind::Har { ridge, .. } = &mut b.kind {
            *ridge = Ridge::fit(&x, &y, 1.0);
        }
        b.z = b.fit_z(train, train_labels);
        b
    }

    /// The HAR regressors of a sample: logs of the three trailing variances (the training mean where missing)
    /// and of the time-of-day profile of the horizon (1 for the trailing band).
    #[must_use]
    pub fn regressors(&self, c: &Context) -> Vec<f64> {
        let fill = |v: f64| if v.is_finite() { v } else { self.mean_future };
        let tod = match &self.kind {
            Kind::Har { profile, .. } => profile.get(usize::from(c.slot)).copied().unwrap_or(1.0),
            Kind::Trailing => 1.0,
        };
        let mut x: Vec<f64> = c.trailing.iter().map(|&v| fill(v).max(VAR_FLOOR).ln()).collect();
        x.push(tod.max(1e-6).ln());
        x
    }

    /// Predicted per-bar variance for a sample.
    #[must_use]
    pub fn variance(&self, c: &Context) -> f64 {
        match &self.kind {
            Kind::Trailing => {
                let v = c.trailing[1];
                if v.is_finite() && v > 0.0 { v } else { self.mean_future }
            }
            Kind::Har { ridge, .. } => ridge.predict(&self.regressors(c)).exp().max(VAR_FLOOR),
        }
    }

    fn sigma_h(&self, c: &Context) -> f64 {
        (self.horizon * self.variance(c)).sqrt()
    }

    fn fit_z(&self, train: &[Context], labels: &[f64]) -> [f64; 3] {
        let sigma: Vec<f64> = train.iter().map(|c| self.sigma_h(c)).collect();
        standardised_quantiles(labels, &sigma)
    }

    /// q10, q50, q90 of the log return for a sample.
    #[must_use]
    pub fn quantiles(&self, c: &Context) -> [f64; 3] {
        let s = self.sigma_h(c);
        self.z.map(|z| z * s)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::NaiveDate;
    use mtf_market::Timeframe;
    use mtf_market::resample::resample;
    use mtf_market::session::SessionFilter;

    use super::*;
    use crate::data::DataSpec;
    use crate::labels::LabelConfig;

    /// 15-minute bars of a seeded random walk whose volatility changes in blocks of three sessions (×3, ×1):
    /// volatility that clusters, as in real markets, so the last session says something about the next bars.
    fn prepared(sessions: usize, seed: u64) -> Prepared {
        let day = NaiveDate::from_ymd_opt(2024, 1, 2).unwrap();
        let m = mtf_market::synthetic::random_walk_minutes(day, sessions, 100.0, seed);
        let walk = resample(&m, Timeframe::M1, Timeframe::M15, SessionFilter::Regular).unwrap();
        let first_day = trading_day_number_ms(walk[0].start_ms());
        let mut b = Vec::with_capacity(walk.len());
        let mut c = walk[0].close();
        for j in 0..walk.len() {
            let open = c;
            if j > 0 {
                let day = trading_day_number_ms(walk[j].start_ms()) - first_day;
                let scale = if (day / 3) % 2 == 0 { 3.0 } else { 1.0 };
                c *= (scale * (walk[j].close() / walk[j - 1].close()).ln()).exp();
            }
            let (hi, lo) = (open.max(c) * 1.0001, open.min(c) * 0.9999);
            b.push(mtf_market::Bar::new_ms(walk[j].start_ms(), open, hi, lo, c, walk[j].volume()).unwrap());
        }
        let spec = DataSpec {
            timeframes: vec![Timeframe::M15],
            lookback: 4,
            base: Timeframe::M15,
            labels: LabelConfig { horizon: 2, cross_session: false, scale: Default::default() },
            session: SessionFilter::Regular,
        };
        Prepared::pooled(&[("S".into(), BTreeMap::from([(Timeframe::M15, b)]))], &spec).unwrap()
    }

    #[test]
    fn trailing_windows_and_the_future_match_a_hand_computation() {
        let p = prepared(6, 7);
        let ctx = contexts(&p);
        let bars = p.parts[0].mtf.frames[0].series.bars();
        let ends = p.parts[0].mtf.frames[0].series.ends_ms();
        let s = p.samples[40];
        let i = ends.iter().position(|&e| e == s.at.timestamp_millis()).unwrap();
        // Kept returns up to bar i (same-day pairs only), newest first.
        let mut kept = Vec::new();
        for j in (1..=i).rev() {
            if trading_day_number_ms(bars[j].start_ms()) == trading_day_number_ms(bars[j - 1].start_ms()) {
                kept.push((bars[j].close() / bars[j - 1].close()).ln().powi(2));
            }
        }
        let [w1, w2, w3] = windows(15, true);
        assert_eq!([w1, w2, w3], [4, 26, 130]);
        let mean = |w: usize| kept[..w.min(kept.len())].iter().sum::<f64>() / w.min(kept.len()) as f64;
        let c = ctx[40];
        assert!((c.trailing[0] - mean(w1)).abs() < 1e-15);
        assert!((c.trailing[1] - mean(w2)).abs() < 1e-15);
        assert!((c.trailing[2] - mean(w3)).abs() < 1e-15, "fewer kept returns than the window: their mean");
        // The samples' volatility inputs (summed directly, for training and serving) are the same windows.
        for (k, w) in [w1, w2, w3].into_iter().enumerate() {
            let v = s.vol.trailing[k].unwrap();
            assert!((v - mean(w)).abs() < 1e-15, "window {w}: {v} vs {}", mean(w));
            assert_eq!(trailing_variance(&bars[..=i], i, w, true), s.vol.trailing[k]);
        }
        assert_eq!(s.vol.slot, c.slot);
        assert_eq!(vol_inputs(&bars[..=i], i, Timeframe::M15), s.vol, "bars after i are not read");
        assert_eq!(trailing_variance(bars, 0, w2, true), None, "no return before the first bar");
        let fut = ((bars[i + 1].close() / bars[i].close()).ln().powi(2)
            + (bars[i + 2].close() / bars[i + 1].close()).ln().powi(2))
            / 2.0;
        assert!((c.future - fut).abs() < 1e-15);
        // 2024-01-02 is EST: a 15-minute bar starting 14:30 UTC is 09:30 New York, slot 38.
        assert_eq!(ctx[0].slot, 38);
        assert_eq!(ctx[0].bucket, 0, "the first prediction ends at 09:45");
        assert_eq!(bucket_label(6), "15:30");
    }

    #[test]
    fn time_of_day_buckets_by_hand() {
        let ms = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis();
        // Winter (EST, UTC−5) and summer (EDT, UTC−4) New York clocks.
        assert_eq!(time_of_day_bucket(ms("2011-01-31T14:45:00Z"), true), 0, "09:45 EST");
        assert_eq!(time_of_day_bucket(ms("2011-01-31T15:30:00Z"), true), 1, "10:30 EST");
        assert_eq!(time_of_day_bucket(ms("2011-01-31T20:59:00Z"), true), 6, "15:59 EST");
        assert_eq!(time_of_day_bucket(ms("2011-01-31T21:00:00Z"), true), 6, "16:00: the session's last bar end");
        assert_eq!(time_of_day_bucket(ms("2011-01-31T21:30:00Z"), true), NO_BUCKET, "after-hours");
        assert_eq!(time_of_day_bucket(ms("2011-01-31T14:00:00Z"), true), NO_BUCKET, "pre-market");
        assert_eq!(time_of_day_bucket(ms("2022-07-01T13:30:00Z"), true), 0, "09:30 EDT");
        assert_eq!(time_of_day_bucket(ms("2022-07-01T18:29:00Z"), true), 4, "14:29 EDT");
        assert_eq!(time_of_day_bucket(ms("2011-01-31T15:30:00Z"), false), NO_BUCKET, "daily bases have none");
    }

    #[test]
    fn contexts_never_look_past_the_instant_except_the_training_target() {
        // Corrupt every bar after a cut: trailing windows, slots and buckets of samples whose instant is before
        // the cut are bit-for-bit the same.
        let p = prepared(8, 3);
        let ctx = contexts(&p);
        let mut q = p.clone();
        let cut = q.samples[60].at.timestamp_millis();
        let series = &q.parts[0].mtf.frames[0].series;
        let ends = series.ends_ms().to_vec();
        let bars: Vec<_> = series
            .bars()
            .iter()
            .zip(&ends)
            .map(|(b, &e)| {
                if e > cut { mtf_market::Bar::new_ms(b.start_ms(), 1.0, 1000.0, 0.5, 999.0, 1.0).unwrap() } else { *b }
            })
            .collect();
        q.parts[0].mtf.frames[0].series =
            mtf_market::align::Series::new(Timeframe::M15, SessionFilter::Regular, bars).unwrap();
        let ctx2 = contexts(&q);
        let q = Prepared::pooled(
            &[(
                String::new(),
                std::collections::BTreeMap::from([(Timeframe::M15, q.parts[0].mtf.frames[0].series.bars().to_vec())]),
            )],
            &q.spec,
        )
        .unwrap();
        for j in 0..=60 {
            let (a, b) = (ctx[j], ctx2[j]);
            let bits = |v: &VolInputs| (v.trailing.map(|x| x.map(f64::to_bits)), v.slot);
            assert_eq!(bits(&p.samples[j].vol), bits(&q.samples[j].vol), "sample {j}");
            assert_eq!(a.trailing.map(f64::to_bits), b.trailing.map(f64::to_bits), "sample {j}");
            assert_eq!((a.slot, a.bucket), (b.slot, b.bucket));
        }
        assert_ne!(ctx[60].future.to_bits(), ctx2[60].future.to_bits(), "the target does see the label's bars");
    }

    #[test]
    fn the_volatility_scaled_target_is_fit_on_training_samples_and_has_unit_spread() {
        use crate::data::Targets;
        use crate::labels::TargetScale;
        let p = prepared(12, 5);
        let cfg = LabelConfig { scale: TargetScale::TrailingVol, ..p.spec.labels.clone() };
        let train: Vec<&crate::labels::Sample> = p.samples.iter().collect();
        let ctx = contexts(&p);
        let t = Targets::fit_samples(&train, &ctx, &cfg);
        let v = t.vol.clone().unwrap();
        assert!(v.har.is_none());
        let mut vars: Vec<f64> = train.iter().filter_map(|s| s.vol.trailing[1]).filter(|x| *x > 0.0).collect();
        vars.sort_by(f64::total_cmp);
        assert_eq!(v.typical_var, vars[vars.len() / 2]);
        assert_eq!(v.var_floor, v.typical_var / 20.0);
        // By hand: a sample's scale is z·√(h·σ²); no return stands in the median, a flat window the floor.
        let s = train[50];
        let with = |var: Option<f64>| VolInputs { trailing: [None, var, None], slot: 0 };
        assert!((t.scale_of(&s.vol) - v.z * (2.0 * s.vol.trailing[1].unwrap()).sqrt()).abs() < 1e-15);
        assert_eq!(t.scale_of(&with(None)), v.z * (2.0 * v.typical_var).sqrt());
        assert_eq!(t.scale_of(&with(Some(0.0))), v.z * (2.0 * v.var_floor).sqrt());
        // The targets the model is trained on have a population standard deviation of 1 on the training part.
        let y: Vec<f64> = train.iter().map(|s| s.label / t.scale_of(&s.vol)).collect();
        let mean = y.iter().sum::<f64>() / y.len() as f64;
        let sd = (y.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / y.len() as f64).sqrt();
        assert!((sd - 1.0).abs() < 1e-9, "{sd}");
        // A fixed scale is the labels' standard deviation for every sample, as before.
        let fixed = Targets::fit_samples(&train, &ctx, &p.spec.labels);
        assert!(fixed.vol.is_none());
        assert_eq!(fixed.scale_of(&s.vol), fixed.label_scale);
        // Volatility clusters in this walk: calm samples get a narrower scale than wild ones.
        let (lo, hi) = (vars[vars.len() / 10], vars[vars.len() * 9 / 10]);
        assert!(t.scale_of(&with(Some(lo))) < t.scale_of(&with(Some(hi))));
    }

    #[test]
    fn the_har_scaled_target_uses_the_baselines_har_model_fit_on_training_samples() {
        use crate::data::Targets;
        use crate::labels::TargetScale;
        let p = prepared(12, 5);
        let cfg = LabelConfig { scale: TargetScale::HarVol, ..p.spec.labels.clone() };
        let n = p.samples.len() * 2 / 3;
        let train: Vec<&crate::labels::Sample> = p.samples[..n].iter().collect();
        let ctx = contexts(&p);
        let labels: Vec<f64> = train.iter().map(|s| s.label).collect();
        let t = Targets::fit_samples(&train, &ctx[..n], &cfg);
        let v = t.vol.clone().unwrap();
        // The stored HAR model is the har_vol baseline's fit on the same training samples.
        let band = VolBand::har(&ctx[..n], &labels, 2);
        assert_eq!(v.har.as_ref(), Some(&band));
        // A later sample's scale: z·√(h·v̂) with v̂ the HAR variance of its own inputs (computed from its bars),
        // which are the baseline's contexts bit for bit (one computation of the trailing windows).
        let s = &p.samples[n + 10];
        let want = v.z * (2.0 * band.variance(&s.vol.context()).max(v.var_floor)).sqrt();
        assert!((t.scale_of(&s.vol) - want).abs() < 1e-15);
        let from_ctx = v.z * (2.0 * band.variance(&ctx[n + 10]).max(v.var_floor)).sqrt();
        assert_eq!(t.scale_of(&s.vol).to_bits(), from_ctx.to_bits());
        // Standardised training targets have unit spread; the artifact form round-trips through JSON.
        let y: Vec<f64> = train.iter().map(|s| s.label / t.scale_of(&s.vol)).collect();
        let mean = y.iter().sum::<f64>() / y.len() as f64;
        let sd = (y.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / y.len() as f64).sqrt();
        assert!((sd - 1.0).abs() < 1e-9, "{sd}");
        let back: Targets = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
        assert_eq!(back.scale_of(&s.vol).to_bits(), t.scale_of(&s.vol).to_bits());
    }

    #[test]
    fn bands_are_calibrated_on_training_data_and_scale_with_volatility() {
        let p = prepared(30, 11);
        let ctx = contexts(&p);
        let labels: Vec<f64> = p.samples.iter().map(|s| s.label).collect();
        for band in [VolBand::trailing(&ctx, &labels, 2), VolBand::har(&ctx, &labels, 2)] {
            let covered = ctx
                .iter()
                .zip(&labels)
                .filter(|(c, y)| {
                    let q = band.quantiles(c);
                    q[0] <= **y && **y <= q[2]
                })
                .count() as f64
                / labels.len() as f64;
            // In-sample, the empirical quantiles of the standardised labels cover 80 % (up to ties).
            assert!((covered - 0.8).abs() < 0.01, "{covered}");
            let mut calm = ctx[100];
            calm.trailing = calm.trailing.map(|v| v / 4.0);
            let (a, b) = (band.quantiles(&ctx[100]), band.quantiles(&calm));
            assert!(b[2] - b[0] < a[2] - a[0], "a calmer recent past gives a narrower band");
        }
    }
}
