//! `mtf import` and `mtf store ls|verify`: bar files into the versioned Parquet store (crates/store), what it
//! holds, and whether it is sound.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use mtf_market::Timeframe;
use mtf_store::{Series, Store};

/// Every `.csv` under `input` (the file itself when it is one), sorted.
fn csv_files(input: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if input.is_file() {
        return Ok(vec![input.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![input.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "csv") {
                out.push(p);
            }
        }
    }
    out.sort();
    if out.is_empty() {
        bail!("{}: no .csv files", input.display());
    }
    Ok(out)
}

/// Imports one CSV file, or every CSV under a directory, into the store. Symbol and bar size come from the
/// flags or, per file, from its name. One snapshot for the whole import.
pub fn import(
    input: &Path,
    symbol: Option<&str>,
    timeframe: Option<Timeframe>,
    store_dir: &Path,
    repair: bool,
) -> anyhow::Result<()> {
    let files = csv_files(input)?;
    let bar = indicatif::ProgressBar::new(files.len() as u64).with_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} files {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut series = Vec::new();
    let mut skipped = Vec::new();
    for f in &files {
        bar.set_message(f.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default());
        let (name_symbol, name_tf) = mtf_market::io::file_name_parts(f);
        let sym = symbol.map(str::to_uppercase).or(name_symbol);
        let tf = timeframe.or(name_tf);
        let (Some(sym), Some(tf)) = (sym, tf) else {
            // A directory import skips files whose name does not say what they hold; a single file must.
            if files.len() == 1 {
                bail!("{}: pass --symbol and --timeframe (the file name does not say them)", f.display());
            }
            skipped.push(f.display().to_string());
            bar.inc(1);
            continue;
        };
        let bytes = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        let parsed = bar.suspend(|| crate::input::read(f, repair))?;
        let name = f.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        series.push(Series {
            symbol: sym,
            timeframe: tf,
            bars: parsed.bars,
            source: format!("file:{name}@sha256:{}", mtf_store::sha256_hex(&bytes)),
        });
        bar.inc(1);
    }
    bar.finish_and_clear();
    let store = Store::open(store_dir);
    let out = store.write(&series)?;
    for s in &series {
        println!("{:<6} {:<6} {:>8} bars  from {}", s.symbol, s.timeframe.alpaca(), s.bars.len(), s.source);
    }
    for s in &skipped {
        println!("skipped {s}: its name does not say symbol and bar size (<symbol>_<size>_….csv)");
    }
    println!(
        "snapshot {} ({}): {} partitions written, {} bars added, {} replaced",
        out.snapshot,
        if out.changed { "new" } else { "unchanged: everything was already stored" },
        out.partitions_written,
        out.bars_added,
        out.bars_replaced
    );
    Ok(())
}

/// One stored series in `mtf store ls`.
#[derive(Debug, serde::Serialize)]
struct SeriesInfo {
    symbol: String,
    timeframe: String,
    rows: usize,
    partitions: usize,
    first: String,
    last: String,
    /// New York trading days with bars.
    sessions: usize,
    /// Intraday only: sessions with fewer bars than the most common count (gaps or short days), with their counts.
    short_sessions: Vec<(String, usize)>,
    /// The most common bars per session (intraday).
    bars_per_session: Option<usize>,
    sources: Vec<String>,
}

/// Lists the series of a snapshot with their ranges and gaps per session.
pub fn ls(store_dir: &Path, snapshot: Option<&str>, json: bool) -> anyhow::Result<()> {
    let store = Store::open(store_dir);
    let m = store.manifest(snapshot)?;
    let mut groups: BTreeMap<(String, String), Vec<&mtf_store::Partition>> = BTreeMap::new();
    for p in &m.partitions {
        groups.entry((p.key.symbol.clone(), p.key.timeframe.clone())).or_default().push(p);
    }
    let mut infos = Vec::new();
    for ((symbol, tf_name), parts) in groups {
        let tf: Timeframe = tf_name.parse().map_err(|e| anyhow::anyhow!("{tf_name}: {e}"))?;
        let bars = store.read_in(&m, &symbol, tf, None, None)?;
        let mut per_day: BTreeMap<chrono::NaiveDate, usize> = BTreeMap::new();
        for b in &bars {
            *per_day.entry(mtf_market::session::trading_day(b.bar.start())).or_default() += 1;
        }
        let intraday = tf != Timeframe::D1;
        let modal = intraday.then(|| {
            let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
            for &n in per_day.values() {
                *counts.entry(n).or_default() += 1;
            }
            counts.into_iter().max_by_key(|&(n, c)| (c, n)).map_or(0, |(n, _)| n)
        });
        let short = modal.map_or_else(Vec::new, |mode| {
            per_day.iter().filter(|&(_, &n)| n < mode).map(|(d, &n)| (d.to_string(), n)).collect()
        });
        let mut sources: Vec<String> = parts.iter().flat_map(|p| p.sources.iter().cloned()).collect();
        sources.sort();
        sources.dedup();
        infos.push(SeriesInfo {
            symbol,
            timeframe: tf_name,
            rows: bars.len(),
            partitions: parts.len(),
            first: parts.iter().map(|p| p.first).min().map(|t| t.to_rfc3339()).unwrap_or_default(),
            last: parts.iter().map(|p| p.last).max().map(|t| t.to_rfc3339()).unwrap_or_default(),
            sessions: per_day.len(),
            short_sessions: short,
            bars_per_session: modal,
            sources,
        });
    }
    let id = snapshot.map(str::to_string).or(store.head()?);
    // Written through a locked handle so that a closed pipe (`| head`) ends the command with an error, not a panic.
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&serde_json::json!({ "snapshot": id, "series": infos }))?)?;
        return Ok(());
    }
    writeln!(out, "snapshot {}  ({} rows)", id.as_deref().unwrap_or("(empty store)"), m.rows())?;
    writeln!(
        out,
        "{:<6} {:<6} {:>9} {:>5} {:>8}  {:<25} {:<25} gaps",
        "symbol", "tf", "rows", "parts", "sessions", "first", "last"
    )?;
    for i in &infos {
        let gaps = match i.bars_per_session {
            Some(mode) if i.short_sessions.is_empty() => format!("none ({mode} bars every session)"),
            Some(mode) => format!(
                "{} of {} sessions below {mode} bars: {}",
                i.short_sessions.len(),
                i.sessions,
                i.short_sessions.iter().take(5).map(|(d, n)| format!("{d} ({n})")).collect::<Vec<_>>().join(", ")
            ),
            None => "-".into(),
        };
        writeln!(
            out,
            "{:<6} {:<6} {:>9} {:>5} {:>8}  {:<25} {:<25} {gaps}",
            i.symbol, i.timeframe, i.rows, i.partitions, i.sessions, i.first, i.last
        )?;
    }
    let history = store.history()?;
    if !history.is_empty() {
        writeln!(out, "{} snapshots; latest written {}", history.len(), history[history.len() - 1].at.to_rfc3339())?;
    }
    Ok(())
}

/// Checks every object of a snapshot against its manifest and the Hive tree against the current snapshot.
pub fn verify(store_dir: &Path, snapshot: Option<&str>) -> anyhow::Result<()> {
    let store = Store::open(store_dir);
    let r = store.verify(snapshot)?;
    for p in &r.problems {
        println!("problem: {p}");
    }
    if !r.ok() {
        bail!("store {} does not verify: {} problem(s)", store_dir.display(), r.problems.len());
    }
    println!(
        "ok: snapshot {} — {} partitions, every object matches its sha256 and row count",
        r.snapshot.as_deref().unwrap_or("(empty store)"),
        r.partitions_ok
    );
    Ok(())
}
