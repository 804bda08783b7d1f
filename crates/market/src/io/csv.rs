//! The two CSV layouts of `../shared/data`, detected by header.
//!
//! - Minute layout: `timestamp,open,high,low,close,volume[,trade_count,vwap]`, `timestamp` = bar start, RFC 3339.
//! - Daily layout: `date,open,high,low,close[,adj_close],volume`, `date` = New York trading date; the bar start
//!   is New York midnight of that date (as Alpaca stamps daily bars). `adj_close` is ignored.

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

use super::ReadError;
use crate::session::ny_local_to_utc;
use crate::{Bar, BarError};

/// Which layout a file has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvLayout {
    /// `timestamp,open,high,low,close,volume[,trade_count,vwap]`.
    Minute {
        /// Whether the `trade_count,vwap` columns are present.
        extra: bool,
    },
    /// `date,open,high,low,close[,adj_close],volume`.
    Daily {
        /// Whether the `adj_close` column is present.
        adj_close: bool,
    },
}

const MINUTE: &str = "timestamp,open,high,low,close,volume";
const MINUTE_EXTRA: &str = "timestamp,open,high,low,close,volume,trade_count,vwap";
const DAILY_ADJ: &str = "date,open,high,low,close,adj_close,volume";
const DAILY: &str = "date,open,high,low,close,volume";

impl CsvLayout {
    fn detect(header: &str) -> Option<Self> {
        let h: String = header.trim_start_matches('\u{feff}').trim().chars().filter(|c| !c.is_whitespace()).collect();
        match h.to_ascii_lowercase().as_str() {
            MINUTE => Some(CsvLayout::Minute { extra: false }),
            MINUTE_EXTRA => Some(CsvLayout::Minute { extra: true }),
            DAILY_ADJ => Some(CsvLayout::Daily { adj_close: true }),
            DAILY => Some(CsvLayout::Daily { adj_close: false }),
            _ => None,
        }
    }

    fn columns(self) -> &'static [&'static str] {
        match self {
            CsvLayout::Minute { extra: false } => &["timestamp", "open", "high", "low", "close", "volume"],
            CsvLayout::Minute { extra: true } => {
                &["timestamp", "open", "high", "low", "close", "volume", "trade_count", "vwap"]
            }
            CsvLayout::Daily { adj_close: true } => &["date", "open", "high", "low", "close", "adj_close", "volume"],
            CsvLayout::Daily { adj_close: false } => &["date", "open", "high", "low", "close", "volume"],
        }
    }
}

/// How strict reading is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Repair rows whose open/close lie outside `[low, high]` (or `high < low`) by widening the range, with a
    /// warning per row saying exactly what changed. When `false` (the default), such rows are errors.
    /// Non-finite, non-positive, unsorted and duplicate values are always errors.
    pub repair: bool,
}

/// The bars of one file, with what was repaired.
#[derive(Debug, Clone, PartialEq)]
pub struct BarsFile {
    /// The detected layout.
    pub layout: CsvLayout,
    /// Bars in strictly increasing start order.
    pub bars: Vec<Bar>,
    /// One message per repaired row (empty unless [`ReadOptions::repair`] is set), naming file, line and change.
    pub warnings: Vec<String>,
}

/// Reads a bars CSV file.
///
/// # Errors
/// [`ReadError`] naming the file, line and field when the file cannot be read, is empty, has an unknown header,
/// a short (truncated) or long row, an unparsable or invalid value, or timestamps out of order or duplicated.
pub fn read_bars_csv(path: &Path, opts: ReadOptions) -> Result<BarsFile, ReadError> {
    let name = path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|e| ReadError::new(&name, None, None, format!("cannot read: {e}")))?;
    parse_bars_csv(&text, &name, opts)
}

/// Parses bars CSV text; `file` labels errors. See [`read_bars_csv`].
///
/// # Errors
/// As [`read_bars_csv`].
pub fn parse_bars_csv(text: &str, file: &str, opts: ReadOptions) -> Result<BarsFile, ReadError> {
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim_end_matches('\r')));
    let (_, header) = lines.by_ref().find(|(_, l)| !l.trim().is_empty()).ok_or_else(|| {
        ReadError::new(file, None, None, format!("file is empty: expected a header `{MINUTE}` or `{DAILY_ADJ}`"))
    })?;
    let layout = CsvLayout::detect(header).ok_or_else(|| {
        ReadError::new(
            file,
            Some(1),
            None,
            format!(
                "unrecognised header `{header}`: expected `{MINUTE}`, `{MINUTE_EXTRA}`, `{DAILY_ADJ}` or `{DAILY}`"
            ),
        )
    })?;
    let columns = layout.columns();
    let mut bars: Vec<Bar> = Vec::with_capacity(text.len() / 48);
    let mut warnings = Vec::new();
    let mut prev_line = 0;
    for (line_no, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let err = |field: Option<&str>, msg: String| ReadError::new(file, Some(line_no), field, msg);
        let mut fields: [&str; 8] = [""; 8];
        let mut n = 0;
        for f in line.split(',') {
            if n < fields.len() {
                fields[n] = f.trim();
            }
            n += 1;
        }
        if n != columns.len() {
            let hint = if n < columns.len() { " (truncated row?)" } else { "" };
            return Err(err(
                None,
                format!("expected {} fields ({}), found {n}{hint}", columns.len(), columns.join(",")),
            ));
        }
        let num = |i: usize| -> Result<f64, ReadError> {
            let s = fields[i];
            s.parse::<f64>().map_err(|_| err(Some(columns[i]), format!("`{s}` is not a number")))
        };
        let start = match layout {
            CsvLayout::Minute { .. } => DateTime::parse_from_rfc3339(fields[0])
                .map_err(|e| err(Some("timestamp"), format!("`{}` is not an RFC 3339 timestamp ({e})", fields[0])))?
                .with_timezone(&Utc),
            CsvLayout::Daily { .. } => {
                let d = NaiveDate::parse_from_str(fields[0], "%Y-%m-%d")
                    .map_err(|e| err(Some("date"), format!("`{}` is not a YYYY-MM-DD date ({e})", fields[0])))?;
                ny_local_to_utc(d, NaiveTime::MIN)
            }
        };
        let vol_i = match layout {
            CsvLayout::Daily { adj_close: true } => 6,
            _ => 5,
        };
        let (o, h, l, c, v) = (num(1)?, num(2)?, num(3)?, num(4)?, num(vol_i)?);
        let field_of = |e: &BarError| match e {
            BarError::NonFinite { field, .. }
            | BarError::OutOfDomain { field, .. }
            | BarError::OutsideRange { field, .. } => Some(*field),
            BarError::HighBelowLow { .. } => Some("high"),
        };
        let mut bar = if opts.repair {
            let (bar, repair) =
                Bar::new_repaired(start, o, h, l, c, v).map_err(|e| err(field_of(&e), e.to_string()))?;
            if let Some(r) = repair {
                warnings.push(format!("{file}, line {line_no} ({}): repaired: {}", fields[0], r.description));
            }
            bar
        } else {
            Bar::new(start, o, h, l, c, v)
                .map_err(|e| err(field_of(&e), format!("{e} (pass --repair to widen the range instead)")))?
        };
        if let CsvLayout::Minute { extra: true } = layout {
            let n = match fields[6] {
                "" => None,
                s => Some(s.parse::<u64>().map_err(|_| err(Some("trade_count"), format!("`{s}` is not a count")))?),
            };
            let vw = match fields[7] {
                "" => None,
                _ => Some(num(7)?),
            };
            bar = bar.with_trade_count(n).with_vwap(vw).map_err(|e| err(Some("vwap"), e.to_string()))?;
        }
        if let Some(prev) = bars.last() {
            if bar.start() == prev.start() {
                return Err(err(
                    Some(columns[0]),
                    format!("duplicate timestamp {} (also on line {prev_line})", fields[0]),
                ));
            }
            if bar.start() < prev.start() {
                return Err(err(
                    Some(columns[0]),
                    format!("{} is earlier than line {prev_line}: rows must be in ascending time order", fields[0]),
                ));
            }
        }
        prev_line = line_no;
        bars.push(bar);
    }
    if bars.is_empty() {
        return Err(ReadError::new(file, None, None, "no data rows after the header"));
    }
    Ok(BarsFile { layout, bars, warnings })
}

/// Writes bars as `timestamp,open,high,low,close,volume,trade_count,vwap` (start as RFC 3339 UTC, `Z` suffix;
/// numbers in shortest round-trip form; absent trade count / VWAP as empty fields).
///
/// # Errors
/// Any I/O error of the writer.
pub fn write_bars_csv<W: Write>(mut w: W, bars: &[Bar]) -> std::io::Result<()> {
    writeln!(w, "{MINUTE_EXTRA}")?;
    for b in bars {
        write!(
            w,
            "{},{},{},{},{},{},",
            b.start().to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            b.open(),
            b.high(),
            b.low(),
            b.close(),
            b.volume()
        )?;
        if let Some(n) = b.trade_count() {
            write!(w, "{n}")?;
        }
        w.write_all(b",")?;
        if let Some(vw) = b.vwap() {
            write!(w, "{vw}")?;
        }
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// Writes daily bars in the daily layout `date,open,high,low,close,volume` (the New York trading date of each
/// bar's start; there is no `adj_close`, which the reader treats as optional).
///
/// # Errors
/// Any I/O error of the writer.
pub fn write_daily_csv<W: Write>(mut w: W, bars: &[Bar]) -> std::io::Result<()> {
    writeln!(w, "{DAILY}")?;
    for b in bars {
        let day = crate::session::trading_day(b.start());
        writeln!(w, "{},{},{},{},{},{}", day.format("%Y-%m-%d"), b.open(), b.high(), b.low(), b.close(), b.volume())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = "timestamp,open,high,low,close,volume\n2011-01-03T14:30:00Z,1,2,0.5,1.5,10\n2011-01-03T14:31:00Z,1.5,2,1,1,20\n";

    fn parse(text: &str) -> Result<BarsFile, ReadError> {
        parse_bars_csv(text, "bars.csv", ReadOptions::default())
    }

    #[test]
    fn reads_minute_layout() {
        let f = parse(OK).unwrap();
        assert_eq!(f.layout, CsvLayout::Minute { extra: false });
        assert_eq!(f.bars.len(), 2);
        assert_eq!(f.bars[1].volume(), 20.0);
    }

    #[test]
    fn reads_daily_layout_at_new_york_midnight() {
        let f = parse("date,open,high,low,close,adj_close,volume\n2011-07-01,1,2,0.5,1.5,1.4,10\n").unwrap();
        assert_eq!(f.bars[0].start().to_rfc3339(), "2011-07-01T04:00:00+00:00");
    }

    #[test]
    fn write_then_read_round_trips() {
        let mut bars = parse(OK).unwrap().bars;
        bars[0] = bars[0].with_trade_count(Some(7)).with_vwap(Some(1.25)).unwrap();
        let mut out = Vec::new();
        write_bars_csv(&mut out, &bars).unwrap();
        let back = parse(std::str::from_utf8(&out).unwrap()).unwrap();
        assert_eq!(back.bars, bars);
    }

    fn err_of(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn daily_write_then_read_round_trips() {
        let text =
            "date,open,high,low,close,adj_close,volume\n2011-07-01,1,2,0.5,1.5,1.4,10\n2011-07-05,1.5,2.5,1,2,1.9,20\n";
        let bars = parse(text).unwrap().bars;
        let mut out = Vec::new();
        write_daily_csv(&mut out, &bars).unwrap();
        let written = String::from_utf8(out).unwrap();
        assert!(written.starts_with("date,open,high,low,close,volume\n2011-07-01,1,2,0.5,1.5,10\n"), "{written}");
        let back = parse(&written).unwrap();
        assert_eq!(back.layout, CsvLayout::Daily { adj_close: false });
        assert_eq!(back.bars, bars);
    }

    #[test]
    fn empty_file_is_an_error() {
        assert!(err_of("").contains("bars.csv: file is empty"));
        assert!(err_of("\n\n").contains("file is empty"));
    }

    #[test]
    fn header_only_is_an_error() {
        assert!(err_of("timestamp,open,high,low,close,volume\n").contains("no data rows"));
    }

    #[test]
    fn wrong_columns_are_an_error() {
        let e = err_of("time,o,h,l,c,v\n2011-01-03T14:30:00Z,1,2,0.5,1.5,10\n");
        assert!(e.contains("line 1") && e.contains("unrecognised header"), "{e}");
    }

    #[test]
    fn truncated_row_is_an_error() {
        let e = err_of(
            "timestamp,open,high,low,close,volume\n2011-01-03T14:30:00Z,1,2,0.5,1.5,10\n2011-01-03T14:31:00Z,1.5,2",
        );
        assert!(e.contains("line 3") && e.contains("found 3") && e.contains("truncated"), "{e}");
    }

    #[test]
    fn nan_price_is_an_error_naming_field() {
        let e = err_of("timestamp,open,high,low,close,volume\n2011-01-03T14:30:00Z,NaN,2,0.5,1.5,10\n");
        assert!(e.contains("line 2") && e.contains("field `open`") && e.contains("not a finite"), "{e}");
    }

    #[test]
    fn infinite_volume_is_an_error() {
        let e = err_of("timestamp,open,high,low,close,volume\n2011-01-03T14:30:00Z,1,2,0.5,1.5,inf\n");
        assert!(e.contains("field `volume`"), "{e}");
    }

    #[test]
    fn negative_price_is_an_error() {
        let e = err_of("timestamp,open,high,low,close,volume\n2011-01-03T14:30:00Z,1,2,-0.5,1.5,10\n");
        assert!(e.contains("field `low`") && e.contains("> 0"), "{e}");
    }

    #[test]
    fn negative_volume_is_an_error() {
        let e = err_of("timestamp,open,high,low,close,volume\n2011-01-03T14:30:00Z,1,2,0.5,1.5,-3\n");
        assert!(e.contains("field `volume`"), "{e}");
    }

    #[test]
    fn high_below_low_is_an_error() {
        let e = err_of("timestamp,open,high,low,close,volume\n2011-01-03T14:30:00Z,1,0.5,2,1.5,3\n");
        assert!(e.contains("field `high`") && e.contains("below `low`"), "{e}");
    }

    #[test]
    fn open_outside_range_is_an_error_or_a_repair_warning() {
        let text = "date,open,high,low,close,adj_close,volume\n2015-03-05,210.0,212,211,211.5,200,10\n";
        let e = err_of(text);
        assert!(e.contains("line 2") && e.contains("field `open`") && e.contains("--repair"), "{e}");
        let f = parse_bars_csv(text, "spy.csv", ReadOptions { repair: true }).unwrap();
        assert_eq!(f.bars[0].low(), 210.0);
        assert_eq!(f.warnings.len(), 1);
        assert!(
            f.warnings[0].contains("spy.csv, line 2 (2015-03-05)") && f.warnings[0].contains("lowered to 210"),
            "{}",
            f.warnings[0]
        );
    }

    #[test]
    fn unsorted_rows_are_an_error() {
        let e = err_of(
            "timestamp,open,high,low,close,volume\n2011-01-03T14:31:00Z,1,2,0.5,1.5,10\n2011-01-03T14:30:00Z,1,2,0.5,1.5,10\n",
        );
        assert!(e.contains("line 3") && e.contains("ascending"), "{e}");
    }

    #[test]
    fn duplicate_rows_are_an_error() {
        let e = err_of(
            "timestamp,open,high,low,close,volume\n2011-01-03T14:30:00Z,1,2,0.5,1.5,10\n2011-01-03T14:30:00Z,1,2,0.5,1.5,10\n",
        );
        assert!(e.contains("line 3") && e.contains("duplicate timestamp") && e.contains("line 2"), "{e}");
    }

    #[test]
    fn bad_timestamp_and_number_are_errors() {
        assert!(
            err_of("timestamp,open,high,low,close,volume\n2011-13-03T14:30:00Z,1,2,0.5,1.5,10\n")
                .contains("field `timestamp`")
        );
        assert!(
            err_of("timestamp,open,high,low,close,volume\n2011-01-03T14:30:00Z,1,2,abc,1.5,10\n")
                .contains("`abc` is not a number")
        );
    }

    #[test]
    fn missing_file_is_an_error_naming_it() {
        let e = read_bars_csv(Path::new("/nonexistent/x.csv"), ReadOptions::default()).unwrap_err();
        assert!(e.to_string().starts_with("/nonexistent/x.csv: cannot read"), "{e}");
    }
}
