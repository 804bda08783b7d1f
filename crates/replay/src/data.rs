//! The stand-in's data: bars per symbol loaded from `<symbol>_<bar size>_*.csv` files anywhere under the data
//! directory (several files of one symbol and bar size merge), or synthetic bars when there are none; the
//! replay clock; Alpaca-style paging.
//!
//! Alpaca always sends a trade count `n` and a volume-weighted price `vw` with every bar; the shared files have
//! neither, so the stand-in **synthesises** them where a file lacks them ([`with_alpaca_fields`]): `n` = one
//! print per 100 shares (at least 1), `vw` = the typical price `(h + l + c) / 3` (what consumers use for a
//! missing `vw`, so features do not change). The start-up banner says so.
//! Pure functions and plain data: the HTTP and WebSocket layer is in `server.rs`.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use mtf_alpaca::rest::{NewsArticle, Quote, Trade};
use mtf_market::io::{ReadOptions, read_bars_csv};
use mtf_market::resample::resample;
use mtf_market::session::SessionFilter;
use mtf_market::{Bar, Timeframe};

use crate::ReplayError;

/// Bars of one symbol.
#[derive(Debug, Clone, Default)]
pub struct SymbolData {
    /// 1-minute bars, start-sorted, unique.
    pub minutes: Vec<Bar>,
    /// Daily bars (New York trading days), start-sorted, unique.
    pub daily: Vec<Bar>,
    /// Intraday bars of other sizes read from files (15Min, 30Min, …), start-sorted, unique.
    pub intraday: BTreeMap<Timeframe, Vec<Bar>>,
}

/// Everything the stand-in serves.
#[derive(Debug, Clone, Default)]
pub struct Store {
    /// Upper-case symbol → bars.
    pub symbols: BTreeMap<String, SymbolData>,
    /// True when the bars are synthetic (no files were found).
    pub synthetic: bool,
    /// News items (from the shipped sample file).
    pub news: Vec<NewsArticle>,
    /// The files that were loaded, for the start-up banner.
    pub files: Vec<String>,
}

/// The symbol synthetic data is served under (its name says what it is).
pub const SYNTHETIC_SYMBOL: &str = "SYNTH";

impl Store {
    /// Loads every `<symbol>_<bar size>_*.csv` under `dir`, subfolders included (any bar size the name states,
    /// e.g. `1min`, `15min`, `30min`, `1d`; files of one symbol and size merge, the first file wins on duplicate
    /// timestamps). With no such files, synthetic minutes and days. Bars get synthesised `n`/`vw` where missing.
    ///
    /// # Errors
    /// When `dir` cannot be listed or a matching file is malformed (the message names file, line and field).
    pub fn load(dir: Option<&Path>) -> Result<Store, ReplayError> {
        let mut store = Store { news: sample_news(), ..Store::default() };
        if let Some(dir) = dir.filter(|d| d.is_dir()) {
            for path in csv_files(dir)? {
                let (Some(sym), Some(tf)) = mtf_market::io::file_name_parts(&path) else { continue };
                let file = read_bars_csv(&path, ReadOptions { repair: true })?;
                for w in &file.warnings {
                    tracing::warn!("{w}");
                }
                let bars = file.bars.into_iter().map(with_alpaca_fields).collect();
                let entry = store.symbols.entry(sym).or_default();
                let target = match tf {
                    Timeframe::M1 => &mut entry.minutes,
                    Timeframe::D1 => &mut entry.daily,
                    other => entry.intraday.entry(other).or_default(),
                };
                merge(target, bars);
                store.files.push(path.display().to_string());
            }
        }
        if store.symbols.is_empty() {
            store.synthetic = true;
            let minutes: Vec<Bar> = mtf_market::synthetic::random_walk_minutes(
                NaiveDate::from_ymd_opt(2024, 1, 2).unwrap_or_default(),
                60,
                100.0,
                7,
            )
            .into_iter()
            .map(with_alpaca_fields)
            .collect();
            let daily = resample(&minutes, Timeframe::M1, Timeframe::D1, SessionFilter::Regular).unwrap_or_default();
            store
                .symbols
                .insert(SYNTHETIC_SYMBOL.to_string(), SymbolData { minutes, daily, intraday: BTreeMap::new() });
        }
        Ok(store)
    }

    /// Complete bars of a symbol and timeframe, start-sorted. A size read from files is served as read; sizes
    /// above it are resampled from every finer size that divides them (1-minute bars over the extended session
    /// `[04:00, 20:00)` New York, as Alpaca's bars include extended hours), the native bars winning where both
    /// cover a start; daily bars come from the daily files, or are resampled from the finest intraday bars.
    pub fn bars(&self, symbol: &str, tf: Timeframe) -> Vec<Bar> {
        let Some(d) = self.symbols.get(symbol) else { return Vec::new() };
        if matches!(tf, Timeframe::W1 | Timeframe::MN1) {
            // Weeks (from Monday) and calendar months of the trading days, as Alpaca's 1Week / 1Month bars.
            return resample(&self.bars(symbol, Timeframe::D1), Timeframe::D1, tf, SessionFilter::Regular)
                .unwrap_or_default();
        }
        let native: Option<&Vec<Bar>> = match tf {
            Timeframe::M1 => Some(&d.minutes),
            Timeframe::D1 => Some(&d.daily),
            other => d.intraday.get(&other),
        };
        let mut out: Vec<Bar> = native.cloned().unwrap_or_default();
        if tf == Timeframe::D1 && !out.is_empty() {
            return out;
        }
        let finer = std::iter::once((Timeframe::M1, &d.minutes)).chain(d.intraday.iter().map(|(k, v)| (*k, v)));
        for (from, bars) in finer {
            let divides = from.minutes() < tf.minutes() && tf.minutes() % from.minutes() == 0;
            if bars.is_empty() || !divides {
                continue;
            }
            let filter = if tf == Timeframe::D1 { SessionFilter::Regular } else { SessionFilter::Extended };
            merge(&mut out, resample(bars, from, tf, filter).unwrap_or_default());
            if tf == Timeframe::D1 {
                break; // the finest source alone: days from different sizes would disagree on volume
            }
        }
        out
    }

    /// The sizes served natively for a symbol (for the start-up banner).
    pub fn sizes(&self, symbol: &str) -> Vec<(Timeframe, usize)> {
        let Some(d) = self.symbols.get(symbol) else { return Vec::new() };
        let mut out = vec![(Timeframe::M1, d.minutes.len())];
        out.extend(d.intraday.iter().map(|(k, v)| (*k, v.len())));
        out.push((Timeframe::D1, d.daily.len()));
        out.retain(|(_, n)| *n > 0);
        out
    }

    /// The first instant with data (for a default replay start).
    pub fn first_minute(&self) -> Option<DateTime<Utc>> {
        self.symbols.values().filter_map(|d| d.minutes.first()).map(Bar::start).min()
    }
}

/// Adds `more` to `target`; on a duplicate start the bar already in `target` stays (a stable sort keeps order).
fn merge(target: &mut Vec<Bar>, more: Vec<Bar>) {
    target.extend(more);
    target.sort_by_key(Bar::start_ms);
    target.dedup_by_key(|b| b.start_ms());
}

/// Every `.csv` under `dir`, subfolders included, sorted by path.
fn csv_files(dir: &Path) -> Result<Vec<std::path::PathBuf>, ReplayError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d)
            .map_err(|e| ReplayError::Io { what: format!("listing {}", d.display()), source: e })?;
        for e in entries.filter_map(Result::ok) {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "csv") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The bar with Alpaca's `n` and `vw` where it lacks them: `n` = one print per 100 shares (at least 1), `vw` = the
/// typical price. Synthetic values, since the shared files carry neither (see the module docs).
pub fn with_alpaca_fields(bar: Bar) -> Bar {
    let n = bar.trade_count().unwrap_or_else(|| ((bar.volume() / 100.0).round() as u64).max(1));
    let vw = bar.vwap().unwrap_or_else(|| bar.typical_price());
    let with_n = bar.with_trade_count(Some(n));
    with_n.with_vwap(Some(vw)).unwrap_or(with_n)
}

fn sample_news() -> Vec<NewsArticle> {
    #[derive(serde::Deserialize)]
    struct File {
        news: Vec<NewsArticle>,
    }
    serde_json::from_str::<File>(include_str!("../assets/replay_news.json")).map(|f| f.news).unwrap_or_default()
}

/// The replay clock: `start_at + (wall time since start) × speed`. Without one, every bar is in the past.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start_at: DateTime<Utc>,
    speed: f64,
    wall0: std::time::Instant,
}

impl Clock {
    /// A clock starting now at `start_at`, running `speed` times real time.
    pub fn new(start_at: DateTime<Utc>, speed: f64) -> Self {
        Clock { start_at, speed, wall0: std::time::Instant::now() }
    }

    /// Current replay instant (ms since the epoch, UTC).
    pub fn now_ms(&self) -> i64 {
        self.start_at.timestamp_millis() + (self.wall0.elapsed().as_secs_f64() * 1000.0 * self.speed) as i64
    }
}

/// Bar end under the convention the stand-in uses for withholding (daily bars end at 16:00 New York).
pub fn bar_end_ms(tf: Timeframe, bar: &Bar) -> i64 {
    tf.bar_end_ms(bar.start_ms(), SessionFilter::Regular)
}

/// Query of a bars page.
#[derive(Debug, Clone)]
pub struct BarsQuery {
    /// Upper-case symbols (one for the single-symbol route).
    pub symbols: Vec<String>,
    /// Bar size.
    pub timeframe: Timeframe,
    /// Inclusive bounds on the bar start (ms). `start` defaults to the beginning of the clock's New York day,
    /// as Alpaca's does to the current day.
    pub start_ms: i64,
    /// Inclusive upper bound on the bar start (ms).
    pub end_ms: i64,
    /// 1–10000.
    pub limit: usize,
    /// Newest first within each symbol.
    pub desc: bool,
    /// Opaque token of a previous page.
    pub page_token: Option<String>,
}

/// One page: bars per symbol and the next token.
pub type Page = (BTreeMap<String, Vec<Bar>>, Option<String>);

/// A page of bars (Alpaca semantics: sorted by symbol, then time; `limit` counts bars across symbols; only bars
/// complete at the clock `now_ms`).
///
/// # Errors
/// [`ReplayError::PageToken`] for a malformed page token.
pub fn page(store: &Store, q: &BarsQuery, now_ms: i64) -> Result<Page, ReplayError> {
    let resume = match &q.page_token {
        Some(t) => Some(decode_token(t).ok_or_else(|| ReplayError::PageToken(t.clone()))?),
        None => None,
    };
    let mut out: BTreeMap<String, Vec<Bar>> = BTreeMap::new();
    let mut taken = 0;
    let mut symbols = q.symbols.clone();
    symbols.sort();
    symbols.dedup();
    for sym in &symbols {
        if let Some((rs, _)) = &resume
            && sym < rs
        {
            continue;
        }
        let mut bars: Vec<Bar> = store
            .bars(sym, q.timeframe)
            .into_iter()
            .filter(|b| b.start_ms() >= q.start_ms && b.start_ms() <= q.end_ms && bar_end_ms(q.timeframe, b) <= now_ms)
            .collect();
        if q.desc {
            bars.reverse();
        }
        if let Some((rs, rt)) = &resume
            && sym == rs
        {
            bars.retain(|b| if q.desc { b.start_ms() <= *rt } else { b.start_ms() >= *rt });
        }
        for b in bars {
            if taken == q.limit {
                return Ok((out, Some(encode_token(sym, b.start_ms()))));
            }
            out.entry(sym.clone()).or_default().push(b);
            taken += 1;
        }
    }
    Ok((out, None))
}

fn encode_token(symbol: &str, t_ms: i64) -> String {
    format!("{symbol}:{t_ms}").bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_token(token: &str) -> Option<(String, i64)> {
    let bytes: Option<Vec<u8>> =
        (0..token.len()).step_by(2).map(|i| token.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect();
    let text = String::from_utf8(bytes?).ok()?;
    let (s, t) = text.rsplit_once(':')?;
    Some((s.to_string(), t.parse().ok()?))
}

/// Trades synthesised from a minute bar: four prints at +0/15/30/45 s through open, the extreme against the
/// close, the other extreme, and the close; sizes split the volume. Ids are unique per bar.
pub fn trades_of(bar: &Bar) -> Vec<Trade> {
    let (o, h, l, c) = (bar.open(), bar.high(), bar.low(), bar.close());
    let path = if c >= o { [o, l, h, c] } else { [o, h, l, c] };
    let size = ((bar.volume() / 4.0).round() as u64).max(1);
    path.iter()
        .enumerate()
        .map(|(k, &p)| Trade {
            t: Utc.timestamp_millis_opt(bar.start_ms() + k as i64 * 15_000).single().unwrap_or_default(),
            x: "V".into(),
            p,
            s: size,
            c: vec!["@".into()],
            i: (bar.start_ms() / 1000) as u64 * 4 + k as u64,
            z: "C".into(),
        })
        .collect()
}

/// Every fifth minute (start minute divisible by 5) is replayed with a late print: its last synthesised trade
/// arrives [`LATE_DELAY_MS`] after the minute closed, so the minute bar is first sent without it (`b`) and then
/// corrected (`u`), as Alpaca does for late trades. REST always serves the final bar.
pub fn has_late_trade(bar: &Bar) -> bool {
    (bar.start_ms() / 60_000) % 5 == 0
}

/// How long after its minute closed a late print arrives (Alpaca's corrections come ~30 s later).
pub const LATE_DELAY_MS: i64 = 30_000;

/// The minute bar as known before its late print: the first three prints (so the same open, high and low; the
/// close is the third print) and the volume without the last print.
pub fn preliminary(bar: &Bar) -> Bar {
    let trades = trades_of(bar);
    let (third, last) = (trades[2].p, trades[3].s as f64);
    Bar::new(bar.start(), bar.open(), bar.high(), bar.low(), third, (bar.volume() - last).max(0.0)).unwrap_or(*bar)
}

/// Latest trade and quote at `now_ms`: the last print of the last complete minute, and a one-cent quote around it.
pub fn latest(store: &Store, symbol: &str, now_ms: i64) -> Option<(Trade, Quote)> {
    let d = store.symbols.get(symbol)?;
    let idx = d.minutes.partition_point(|b| b.start_ms() + 60_000 <= now_ms);
    let bar = d.minutes.get(idx.checked_sub(1)?)?;
    let trade = trades_of(bar).pop()?;
    let cents = |x: f64| (x * 100.0).round() / 100.0;
    let quote = Quote {
        t: trade.t,
        ax: "V".into(),
        ap: cents(trade.p + 0.01),
        ask_size: 1,
        bx: "V".into(),
        bp: cents(trade.p - 0.01).max(0.01),
        bs: 1,
        c: vec!["R".into()],
        z: "C".into(),
    };
    Some((trade, quote))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Store {
        Store::load(None).unwrap()
    }

    fn query(symbols: &[&str], limit: usize, desc: bool) -> BarsQuery {
        BarsQuery {
            symbols: symbols.iter().map(|s| s.to_string()).collect(),
            timeframe: Timeframe::M1,
            start_ms: 0,
            end_ms: i64::MAX,
            limit,
            desc,
            page_token: None,
        }
    }

    #[test]
    fn without_files_the_data_is_synthetic_and_labelled() {
        let s = store();
        assert!(s.synthetic);
        assert_eq!(s.symbols.keys().collect::<Vec<_>>(), [SYNTHETIC_SYMBOL]);
        assert!(s.symbols[SYNTHETIC_SYMBOL].minutes.len() > 10_000);
    }

    #[test]
    fn pages_concatenate_to_the_whole_range_in_both_orders() {
        let s = store();
        let all = s.bars(SYNTHETIC_SYMBOL, Timeframe::M1);
        for desc in [false, true] {
            let mut q = query(&[SYNTHETIC_SYMBOL], 997, desc);
            let mut got = Vec::new();
            loop {
                let (bars, next) = page(&s, &q, i64::MAX).unwrap();
                got.extend(bars.into_values().flatten());
                match next {
                    Some(t) => q.page_token = Some(t),
                    None => break,
                }
            }
            let mut want = all.clone();
            if desc {
                want.reverse();
            }
            assert_eq!(got, want);
        }
    }

    #[test]
    fn the_clock_withholds_bars_not_yet_complete() {
        let s = store();
        let all = s.bars(SYNTHETIC_SYMBOL, Timeframe::M15);
        let cut = bar_end_ms(Timeframe::M15, &all[100]);
        let q = BarsQuery { timeframe: Timeframe::M15, ..query(&[SYNTHETIC_SYMBOL], 10_000, false) };
        let (bars, _) = page(&s, &q, cut - 1).unwrap();
        assert_eq!(bars[SYNTHETIC_SYMBOL].len(), 100);
        let (bars, _) = page(&s, &q, cut).unwrap();
        assert_eq!(bars[SYNTHETIC_SYMBOL].len(), 101);
    }

    #[test]
    fn a_bad_token_is_an_error_not_a_panic() {
        let q = BarsQuery { page_token: Some("zz".into()), ..query(&[SYNTHETIC_SYMBOL], 10, false) };
        assert!(page(&store(), &q, i64::MAX).unwrap_err().to_string().contains("page_token"));
        assert_eq!(decode_token(&encode_token("BRK.B", -5)), Some(("BRK.B".into(), -5)));
    }

    #[test]
    fn a_late_print_leaves_a_valid_preliminary_bar() {
        for b in store().symbols[SYNTHETIC_SYMBOL].minutes.iter().take(500) {
            let p = preliminary(b);
            assert_eq!((p.open(), p.high(), p.low()), (b.open(), b.high(), b.low()));
            assert!(p.volume() < b.volume() || b.volume() <= 1.0);
        }
    }

    #[test]
    fn synthesised_trades_reproduce_the_bar() {
        let b = store().symbols[SYNTHETIC_SYMBOL].minutes[5];
        let t = trades_of(&b);
        assert_eq!(t.first().unwrap().p, b.open());
        assert_eq!(t.last().unwrap().p, b.close());
        let (hi, lo) = t.iter().fold((f64::MIN, f64::MAX), |(h, l), x| (h.max(x.p), l.min(x.p)));
        assert_eq!((hi, lo), (b.high(), b.low()));
    }

    #[test]
    fn real_files_merge_by_symbol_and_size() {
        let dir = std::env::var("MTF_DATA_DIR").unwrap_or_else(|_| "../../../shared/data".into());
        let dir = Path::new(&dir);
        if !dir.is_dir() {
            assert!(std::env::var("MTF_REQUIRE_DATA").as_deref() != Ok("1"), "{} missing", dir.display());
            eprintln!("SKIPPED: {} not found", dir.display());
            return;
        }
        let s = Store::load(Some(dir)).unwrap();
        assert!(!s.synthetic);
        let spy = &s.symbols["SPY"];
        // Two minute files (January 2011 and December 2020) merge in time order.
        assert!(spy.minutes.windows(2).all(|w| w[0].start_ms() < w[1].start_ms()));
        assert!(spy.minutes.first().unwrap().start().to_rfc3339().starts_with("2011-01"));
        assert!(spy.minutes.last().unwrap().start().to_rfc3339().starts_with("2020-12"));
        assert!(s.symbols.contains_key("AAPL") && s.symbols.contains_key("GOOG"));
        // Subfolders and other bar sizes: the 15-minute panel is served as read, and 1-hour bars of a symbol
        // that has only 15-minute bars are resampled from them.
        let jpm15 = s.bars("JPM", Timeframe::M15);
        assert!(jpm15.len() > 500 && jpm15[0].start().to_rfc3339().starts_with("2019-01-04"), "{}", jpm15.len());
        let jpm1h = s.bars("JPM", Timeframe::H1);
        assert!(!jpm1h.is_empty() && jpm1h.len() < jpm15.len());
        let first_hour: f64 = jpm15.iter().take_while(|b| b.start() < jpm1h[1].start()).map(Bar::volume).sum();
        assert_eq!(jpm1h[0].volume(), first_hour);
        assert!(!s.bars("TSLA", Timeframe::M30).is_empty(), "the 30-minute set");
        // 1Week and 1Month from the daily bars: MSFT 1986–2024.
        let (days, weeks, months) =
            (s.bars("MSFT", Timeframe::D1), s.bars("MSFT", Timeframe::W1), s.bars("MSFT", Timeframe::MN1));
        assert!(
            days.len() > 9_000 && weeks.len() > 1_900 && months.len() > 450,
            "{} {} {}",
            days.len(),
            weeks.len(),
            months.len()
        );
        let total = |b: &[Bar]| b.iter().map(Bar::volume).sum::<f64>();
        assert!((total(&days) - total(&weeks)).abs() <= 1e-6 * total(&days));
        assert!((total(&days) - total(&months)).abs() <= 1e-6 * total(&days));
        // Every bar carries Alpaca's n and vw (synthesised: the files have neither).
        for b in s.bars("SPY", Timeframe::M1).iter().take(100).chain(&jpm15[..5]) {
            assert_eq!(b.trade_count(), Some(((b.volume() / 100.0).round() as u64).max(1)));
            assert_eq!(b.vwap(), Some(b.typical_price()));
        }
    }
}
