//! Reading bar files, with repair warnings on stderr.

use std::path::Path;

use anyhow::Context;
use mtf_market::io::{BarsFile, ReadOptions, read_bars_csv};

/// Reads a bars CSV; prints one warning per repaired row.
pub fn read(path: &Path, repair: bool) -> anyhow::Result<BarsFile> {
    let file = read_bars_csv(path, ReadOptions { repair })?;
    for w in &file.warnings {
        eprintln!("warning: {w}");
    }
    Ok(file)
}

/// The first column of every data row, as written in the file (for echoing the input's time column).
pub fn time_column(path: &Path) -> anyhow::Result<(String, Vec<String>)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text.lines().map(|l| l.trim_end_matches('\r')).filter(|l| !l.trim().is_empty());
    let header = lines.next().unwrap_or_default();
    let name = header.trim_start_matches('\u{feff}').split(',').next().unwrap_or("time").trim().to_string();
    let values = lines.map(|l| l.split(',').next().unwrap_or_default().trim().to_string()).collect();
    Ok((name, values))
}
