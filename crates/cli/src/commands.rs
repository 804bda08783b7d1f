//! One function per subcommand.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use mtf_features::frames::MultiTimeframe;
use mtf_features::indicators::batch;
use mtf_features::spec::FEATURE_NAMES;
use mtf_market::io::{CsvLayout, write_bars_csv};
use mtf_market::session::{REGULAR_CLOSE, SessionFilter, ny_local_to_utc, regular_open, trading_day};
use mtf_market::{Bar, Timeframe};

use crate::input;

fn create(path: &Path) -> anyhow::Result<BufWriter<File>> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating directory {}", dir.display()))?;
    }
    Ok(BufWriter::new(File::create(path).with_context(|| format!("creating {}", path.display()))?))
}

fn write_num(w: &mut impl Write, x: f64) -> std::io::Result<()> {
    if x.is_finite() { write!(w, ",{x}") } else { w.write_all(b",") }
}

/// `mtf indicators`.
pub fn indicators(input: &Path, output: &Path, repair: bool) -> anyhow::Result<()> {
    let file = input::read(input, repair)?;
    let (time_name, times) = input::time_column(input)?;
    let bars = &file.bars;
    if times.len() != bars.len() {
        bail!("{}: {} rows but {} bars were read", input.display(), times.len(), bars.len());
    }
    let col = |f: fn(&Bar) -> f64| bars.iter().map(f).collect::<Vec<f64>>();
    let cols = batch::standard(&col(Bar::high), &col(Bar::low), &col(Bar::close), &col(Bar::volume))?;
    let mut w = create(output)?;
    writeln!(w, "{time_name},{}", batch::STANDARD_COLUMNS.join(","))?;
    for (i, t) in times.iter().enumerate() {
        w.write_all(t.as_bytes())?;
        for col in &cols {
            write_num(&mut w, col[i])?;
        }
        w.write_all(b"\n")?;
    }
    w.flush().with_context(|| format!("writing {}", output.display()))?;
    eprintln!("{}: {} rows × {} indicators", output.display(), bars.len(), batch::STANDARD_COLUMNS.len());
    Ok(())
}

fn require_minutes(input: &Path, layout: CsvLayout) -> anyhow::Result<()> {
    if let CsvLayout::Daily { .. } = layout {
        bail!("{}: daily bars given where 1-minute bars are needed (header `timestamp,open,...`)", input.display());
    }
    Ok(())
}

/// `mtf resample`.
pub fn resample(
    input: &Path,
    timeframe: Timeframe,
    session: SessionFilter,
    output: &Path,
    repair: bool,
) -> anyhow::Result<()> {
    let file = input::read(input, repair)?;
    require_minutes(input, file.layout)?;
    let out = mtf_market::resample::resample(&file.bars, Timeframe::M1, timeframe, session)
        .with_context(|| format!("resampling {}", input.display()))?;
    let mut w = create(output)?;
    write_bars_csv(&mut w, &out)?;
    w.flush().with_context(|| format!("writing {}", output.display()))?;
    eprintln!("{}: {} {} bars from {} minutes", output.display(), out.len(), timeframe.short(), file.bars.len());
    Ok(())
}

/// Arguments of `mtf features`.
pub struct FeaturesArgs {
    pub input: PathBuf,
    pub daily: Option<PathBuf>,
    pub every: Timeframe,
    pub timeframes: Vec<Timeframe>,
    pub session: SessionFilter,
    pub output: PathBuf,
}

/// Ends of every `every` bucket of the regular session on each trading day that has minutes, up to the end of
/// the last minute.
pub fn prediction_instants(minutes: &[Bar], every: Timeframe) -> Vec<DateTime<Utc>> {
    let Some(last) = minutes.last() else {
        return Vec::new();
    };
    let last_end = last.start() + chrono::Duration::minutes(1);
    let mut days: Vec<_> = minutes.iter().map(|b| trading_day(b.start())).collect();
    days.dedup();
    let mut out = Vec::new();
    for day in days {
        let open = regular_open(day);
        let close = ny_local_to_utc(day, REGULAR_CLOSE);
        let mut start = every.bucket_start(open);
        while start < close {
            let end = every.bar_end(start, SessionFilter::Regular).min(close);
            if end > open && end <= last_end {
                out.push(end);
            }
            start = every.bar_end(start, SessionFilter::Regular);
            if every == Timeframe::D1 {
                break;
            }
        }
    }
    out
}

/// `mtf features`.
pub fn features(args: &FeaturesArgs, repair: bool) -> anyhow::Result<()> {
    let file = input::read(&args.input, repair)?;
    require_minutes(&args.input, file.layout)?;
    let daily = match &args.daily {
        Some(p) => {
            let d = input::read(p, repair)?;
            if let CsvLayout::Minute { .. } = d.layout {
                bail!("{}: --daily expects daily bars (header `date,open,...`)", p.display());
            }
            Some(d.bars)
        }
        None => None,
    };
    let mtf = MultiTimeframe::from_minutes(&file.bars, daily.as_deref(), &args.timeframes, args.session)?;
    let instants = prediction_instants(&file.bars, args.every);
    let bar = ProgressBar::new(instants.len() as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} instants {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut w = create(&args.output)?;
    writeln!(w, "as_of,timeframe,{}", FEATURE_NAMES.join(","))?;
    for &tau in &instants {
        let stamp = tau.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        for frame in &mtf.frames {
            write!(w, "{stamp},{}", frame.series.timeframe().short())?;
            let n = frame.series.complete_count(tau);
            match n.checked_sub(1) {
                Some(i) => {
                    for &x in frame.row(i) {
                        write_num(&mut w, x)?;
                    }
                }
                None => w.write_all(",".repeat(FEATURE_NAMES.len()).as_bytes())?,
            }
            w.write_all(b"\n")?;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    w.flush().with_context(|| format!("writing {}", args.output.display()))?;
    eprintln!(
        "{}: {} instants × {} timeframes × {} features",
        args.output.display(),
        instants.len(),
        mtf.frames.len(),
        FEATURE_NAMES.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn instants_are_ends_of_regular_buckets() {
        let open = Utc.with_ymd_and_hms(2011, 1, 3, 14, 30, 0).unwrap();
        let bars: Vec<Bar> =
            (0..390).map(|m| Bar::new(open + chrono::Duration::minutes(m), 1.0, 1.0, 1.0, 1.0, 1.0).unwrap()).collect();
        let every15 = prediction_instants(&bars, Timeframe::M15);
        assert_eq!(every15.len(), 26);
        assert_eq!(every15[0], open + chrono::Duration::minutes(15));
        assert_eq!(*every15.last().unwrap(), open + chrono::Duration::minutes(390));
        let hourly = prediction_instants(&bars, Timeframe::H1);
        assert_eq!(hourly.len(), 7);
        assert_eq!(hourly[0], Utc.with_ymd_and_hms(2011, 1, 3, 15, 0, 0).unwrap()); // 10:00 New York
        // A truncated day gets instants only up to the last minute's end.
        assert_eq!(prediction_instants(&bars[..100], Timeframe::M15).len(), 6);
    }
}
