//! Reading and writing bars: the CSV layouts of the shared data set and Alpaca's JSON bars.
//!
//! Every error names the file, the line (1-based, the header is line 1) and the field.

mod csv;
mod json;

pub use csv::{BarsFile, CsvLayout, ReadOptions, parse_bars_csv, read_bars_csv, write_bars_csv, write_daily_csv};
pub use json::{parse_alpaca_bars_json, write_alpaca_bars_json};

/// Symbol (upper case) and bar size from a shared-data file name `<symbol>_<size>_….csv`
/// (`spy_1min_2011-01.csv`, `aapl_15min_2019-01-04_2019-02-15.csv`, `msft_1d_1986-03-13_2024-02-14.csv`);
/// `None` for a part the name does not say.
pub fn file_name_parts(path: &std::path::Path) -> (Option<String>, Option<crate::Timeframe>) {
    let stem = path.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
    let mut parts = stem.split('_');
    let symbol = parts.next().filter(|s| !s.is_empty()).map(str::to_uppercase);
    let tf = parts.next().and_then(|s| s.parse::<crate::Timeframe>().ok());
    (symbol, tf)
}

/// A bars file or document that cannot be read; says where and what.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}{}{}: {message}", line.map(|l| format!(", line {l}")).unwrap_or_default(), field.as_ref().map(|f| format!(", field `{f}`")).unwrap_or_default())]
pub struct ReadError {
    /// The file name (or another label for the input).
    pub file: String,
    /// 1-based line number, when the problem is on one line.
    pub line: Option<usize>,
    /// The column, when the problem is in one field.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl ReadError {
    pub(crate) fn new(file: &str, line: Option<usize>, field: Option<&str>, message: impl Into<String>) -> Self {
        Self { file: file.to_string(), line, field: field.map(str::to_string), message: message.into() }
    }
}
