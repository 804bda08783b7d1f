//! The backfill loop: plan per-symbol starts from the store, page through multi-symbol requests under the rate
//! limit with retries, write checkpoints, and say what happened.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};
use mtf_alpaca::request::{Adjustment, BarsRequest, Feed, validate_symbol};
use mtf_alpaca::rest::{BarsResponse, MultiBarsResponse};
use mtf_market::{Bar, Timeframe};
use mtf_store::{Series, SnapshotId, Store, WriteOutcome};
use serde::Serialize;

use crate::BackfillError;
use crate::http::{Http, Reply};
use crate::limits::{Clock, RateLimiter, RetryPolicy, retryable};

/// What to fetch, from where, and how politely.
#[derive(Debug, Clone)]
pub struct Config {
    /// Symbols (validated and upper-cased; duplicates ignored).
    pub symbols: Vec<String>,
    /// Bar size.
    pub timeframe: Timeframe,
    /// Earliest bar start wanted (UTC).
    pub start: DateTime<Utc>,
    /// Latest bar start wanted (UTC, inclusive); `None` = up to now.
    pub end: Option<DateTime<Utc>>,
    /// Feed.
    pub feed: Feed,
    /// Corporate-action adjustment.
    pub adjustment: Adjustment,
    /// Re-fetch this many days before each symbol's last stored bar (late corrections); `None` = only after it.
    pub refresh_days: Option<u32>,
    /// Base URL of the data API (`https://data.alpaca.markets`, or `mtf replay`'s address).
    pub data_url: String,
    /// `APCA-API-KEY-ID`.
    pub key: String,
    /// `APCA-API-SECRET-KEY`.
    pub secret: String,
    /// Client-side limit (Alpaca's free plan: 200).
    pub requests_per_minute: u32,
    /// Retries on 429, 5xx and transport errors.
    pub retry: RetryPolicy,
    /// Bars per page, 1–10000.
    pub page_limit: u32,
    /// Write to the store once this many fetched bars are pending (and at the end of each request group).
    pub checkpoint_bars: usize,
}

/// Symbols per request (keeps URLs short; Alpaca's limit counts bars, not symbols).
const SYMBOLS_PER_REQUEST: usize = 50;

/// Progress of a run, for a progress bar and logs.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The plan: each symbol's first requested bar start.
    Plan {
        /// Symbol → start.
        starts: BTreeMap<String, DateTime<Utc>>,
        /// The end used for progress (the requested end, or now).
        end: DateTime<Utc>,
    },
    /// A page arrived.
    Page {
        /// Symbols of the request.
        symbols: Vec<String>,
        /// Page number within its request (1-based).
        page: u32,
        /// Bars on the page.
        bars: usize,
        /// Bars fetched in the run so far.
        total_bars: usize,
        /// Share of the planned work done, 0–1 (time covered per symbol, averaged over symbols).
        fraction: f64,
    },
    /// Waiting before a request.
    Waiting {
        /// Why (`rate limit`, `HTTP 429`, `HTTP 503`, a transport error).
        reason: String,
        /// How long.
        wait: Duration,
    },
    /// A checkpoint was written.
    Written(WriteOutcome),
}

/// One symbol's part of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SymbolSummary {
    /// First bar start requested.
    pub from: DateTime<Utc>,
    /// Bars received.
    pub bars: usize,
    /// First and last bar start received.
    pub first: Option<DateTime<Utc>>,
    /// Last bar start received.
    pub last: Option<DateTime<Utc>>,
}

/// What a run did (also returned, as far as it got, with a failure).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Summary {
    /// Per symbol that was requested.
    pub symbols: BTreeMap<String, SymbolSummary>,
    /// Symbols already complete up to the end (nothing requested).
    pub up_to_date: Vec<String>,
    /// Pages received.
    pub pages: u32,
    /// Requests sent (pages + retries + split requests).
    pub requests: u32,
    /// Retries after 429, 5xx or transport errors.
    pub retries: u32,
    /// Time spent waiting on the client-side rate limit (ms).
    pub rate_limited_ms: u64,
    /// Bars new to the store.
    pub bars_added: usize,
    /// Stored bars replaced by a different value (corrections).
    pub bars_replaced: usize,
    /// Snapshots written by this run.
    pub snapshots_written: usize,
    /// The store's snapshot after the run.
    pub snapshot: Option<SnapshotId>,
    /// Symbols refused (invalid, or a 422 from the server), with the reason.
    pub failed: Vec<(String, String)>,
}

/// A run that stopped early: the error, and what was done (and stored) before it.
#[derive(Debug)]
pub struct Failure {
    /// Why it stopped.
    pub error: BackfillError,
    /// What was done; everything in it is in the store.
    pub summary: Summary,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// The source recorded on stored rows: `alpaca:<feed>:<adjustment>` for Alpaca's own data API, and
/// `alpaca-api@<url>:<feed>:<adjustment>` for any other server speaking it (a stand-in is never labelled Alpaca).
#[must_use]
pub fn source_label(data_url: &str, feed: Feed, adjustment: Adjustment) -> String {
    let url = data_url.trim_end_matches('/');
    let official = matches!(url, "https://data.alpaca.markets" | "https://data.sandbox.alpaca.markets");
    if official {
        format!("alpaca:{}:{}", feed.as_str(), adjustment.as_str())
    } else {
        format!("alpaca-api@{url}:{}:{}", feed.as_str(), adjustment.as_str())
    }
}

struct Run<'a> {
    cfg: &'a Config,
    store: &'a Store,
    http: &'a dyn Http,
    clock: &'a dyn Clock,
    on: &'a mut dyn FnMut(&Event),
    limiter: RateLimiter,
    summary: Summary,
    pending: BTreeMap<String, Vec<Bar>>,
    pending_bars: usize,
    total_bars: usize,
    /// Symbols whose requests are finished.
    done: std::collections::BTreeSet<String>,
    progress_end: DateTime<Utc>,
    source: String,
}

/// Runs a backfill into `store`.
///
/// # Errors
/// A [`Failure`] (boxed: it carries the summary) with what was fetched and stored before it (see
/// [`BackfillError`]).
pub fn backfill(
    cfg: &Config,
    store: &Store,
    http: &dyn Http,
    clock: &dyn Clock,
    on: &mut dyn FnMut(&Event),
) -> Result<Summary, Box<Failure>> {
    let mut run = Run {
        cfg,
        store,
        http,
        clock,
        on,
        limiter: RateLimiter::new(cfg.requests_per_minute),
        summary: Summary::default(),
        pending: BTreeMap::new(),
        pending_bars: 0,
        total_bars: 0,
        done: Default::default(),
        progress_end: cfg.end.unwrap_or_else(Utc::now),
        source: source_label(&cfg.data_url, cfg.feed, cfg.adjustment),
    };
    match run.all() {
        Ok(()) => Ok(run.summary),
        Err(error) => {
            // Keep what arrived before the failure; a failing store write is reported instead.
            let error = match run.flush() {
                Ok(()) => error,
                Err(store_error) => store_error,
            };
            if let Ok(head) = store.head() {
                run.summary.snapshot = head;
            }
            Err(Box::new(Failure { error, summary: run.summary }))
        }
    }
}

impl Run<'_> {
    fn all(&mut self) -> Result<(), BackfillError> {
        let plan = self.plan()?;
        let starts = plan.iter().filter_map(|(sym, r)| Some((sym.clone(), r.first()?.0))).collect();
        (self.on)(&Event::Plan { starts, end: self.progress_end });
        // Symbols sharing a range share requests.
        let mut by_range: BTreeMap<Range, Vec<String>> = BTreeMap::new();
        for (sym, ranges) in &plan {
            for r in ranges {
                by_range.entry(*r).or_default().push(sym.clone());
            }
        }
        let mut work: VecDeque<(Vec<String>, Range)> = VecDeque::new();
        for (range, syms) in by_range {
            for chunk in syms.chunks(SYMBOLS_PER_REQUEST) {
                work.push_back((chunk.to_vec(), range));
            }
        }
        while let Some((symbols, range)) = work.pop_front() {
            match self.group(&symbols, range)? {
                GroupEnd::Done => {}
                GroupEnd::Unprocessable(message) if symbols.len() > 1 => {
                    // One of them is refused: ask one at a time, from where each got to in this run.
                    tracing::info!("HTTP 422 for {} ({message}); retrying one symbol at a time", symbols.join(","));
                    for sym in symbols.iter().rev() {
                        let got = self.summary.symbols.get(sym).and_then(|s| s.last).map(next_after);
                        let from = got.map_or(range.0, |g| g.max(range.0));
                        work.push_front((vec![sym.clone()], (from, range.1)));
                    }
                }
                GroupEnd::Unprocessable(message) => {
                    self.done.insert(symbols[0].clone());
                    self.summary.failed.push((symbols[0].clone(), message));
                }
            }
            self.flush()?;
        }
        self.flush()?;
        self.summary.snapshot = self.store.head()?;
        Ok(())
    }

    /// Each valid symbol's ranges to request (`(start, end)`, bar starts, inclusive): after its last stored bar
    /// (or `refresh_days` before it), and before its first stored bar when the requested start is earlier (one
    /// request, usually empty, so an earlier `--start` fills the head without re-fetching the middle). Invalid
    /// symbols go to `failed`, complete ones to `up_to_date`.
    fn plan(&mut self) -> Result<BTreeMap<String, Vec<Range>>, BackfillError> {
        let manifest = self.store.manifest(None)?;
        let tf = self.cfg.timeframe.alpaca();
        let mut plan = BTreeMap::new();
        for raw in &self.cfg.symbols {
            let sym = match validate_symbol(raw) {
                Ok(s) => s,
                Err(e) => {
                    self.summary.failed.push((raw.clone(), e.to_string()));
                    continue;
                }
            };
            if plan.contains_key(&sym) || self.summary.up_to_date.contains(&sym) {
                continue;
            }
            let parts = manifest.partitions.iter().filter(|p| p.key.symbol == sym && p.key.timeframe == tf);
            let (first, last) =
                parts.fold((None, None), |(f, l): (Option<DateTime<Utc>>, Option<DateTime<Utc>>), p| {
                    (Some(f.map_or(p.first, |f| f.min(p.first))), Some(l.map_or(p.last, |l| l.max(p.last))))
                });
            let mut ranges = Vec::new();
            match (first, last) {
                (Some(first), Some(last)) => {
                    if self.cfg.start < first {
                        ranges.push((self.cfg.start, Some(first - chrono::Duration::seconds(1))));
                    }
                    let resume = match self.cfg.refresh_days {
                        Some(days) => last - chrono::Duration::days(i64::from(days)),
                        None => next_after(last),
                    };
                    ranges.push((resume.max(self.cfg.start), self.cfg.end));
                }
                _ => ranges.push((self.cfg.start, self.cfg.end)),
            }
            ranges.retain(|(start, end)| end.is_none_or(|e| *start <= e));
            if ranges.is_empty() {
                self.summary.up_to_date.push(sym);
            } else {
                plan.insert(sym, ranges);
            }
        }
        Ok(plan)
    }

    /// Pages through one request group.
    fn group(&mut self, symbols: &[String], (start, end): Range) -> Result<GroupEnd, BackfillError> {
        for s in symbols {
            let e = self.summary.symbols.entry(s.clone()).or_insert(SymbolSummary {
                from: start,
                bars: 0,
                first: None,
                last: None,
            });
            e.from = e.from.min(start);
        }
        let mut req = BarsRequest::new(symbols.to_vec(), self.cfg.timeframe)
            .range(Some(start), end)
            .limit(self.cfg.page_limit)
            .feed(self.cfg.feed)
            .adjustment(self.cfg.adjustment);
        let mut page = 1u32;
        loop {
            let context = format!("bars {} {} page {page}", symbols.join(","), self.cfg.timeframe.alpaca());
            let url = format!("{}{}", self.cfg.data_url.trim_end_matches('/'), req.path_and_query()?);
            let reply = self.fetch(&url, &context)?;
            match reply.status {
                200 => {}
                401 | 403 => {
                    return Err(BackfillError::Auth { context, status: reply.status, message: message_of(&reply) });
                }
                422 => return Ok(GroupEnd::Unprocessable(message_of(&reply))),
                s => {
                    return Err(BackfillError::Protocol {
                        context,
                        message: format!("unexpected HTTP {s}: {}", message_of(&reply)),
                    });
                }
            }
            let (bars, next) = parse_page(symbols, &reply.body)
                .map_err(|message| BackfillError::Protocol { context: context.clone(), message })?;
            let mut on_page = 0;
            for (sym, bars) in bars {
                if !symbols.contains(&sym) {
                    return Err(BackfillError::Protocol {
                        context,
                        message: format!("the answer holds bars of {sym}, which was not requested"),
                    });
                }
                let s = self.summary.symbols.get_mut(&sym).ok_or_else(|| BackfillError::Protocol {
                    context: context.clone(),
                    message: format!("no plan for {sym}"),
                })?;
                s.bars += bars.len();
                if let (Some(f), Some(l)) = (bars.first().map(Bar::start), bars.last().map(Bar::start)) {
                    s.first = Some(s.first.map_or(f, |x| x.min(f)));
                    s.last = Some(s.last.map_or(l, |x| x.max(l)));
                }
                on_page += bars.len();
                self.pending.entry(sym).or_default().extend(bars);
            }
            self.summary.pages += 1;
            self.pending_bars += on_page;
            self.total_bars += on_page;
            let next = next.filter(|t| !t.is_empty());
            if next.is_none() && end == self.cfg.end {
                self.done.extend(symbols.iter().cloned());
            }
            let fraction = self.fraction();
            (self.on)(&Event::Page {
                symbols: symbols.to_vec(),
                page,
                bars: on_page,
                total_bars: self.total_bars,
                fraction,
            });
            if next.is_some() && self.pending_bars >= self.cfg.checkpoint_bars.max(1) {
                self.flush()?;
            }
            match next {
                Some(token) => {
                    req = req.next_page(&token);
                    page += 1;
                }
                None => return Ok(GroupEnd::Done),
            }
        }
    }

    /// One page with the rate limit and retries.
    fn fetch(&mut self, url: &str, context: &str) -> Result<Reply, BackfillError> {
        let headers = [("APCA-API-KEY-ID", self.cfg.key.as_str()), ("APCA-API-SECRET-KEY", self.cfg.secret.as_str())];
        let mut retry = 0;
        loop {
            let wait = self.limiter.wait_ms(self.clock.now_ms());
            if wait > 0 {
                let wait = Duration::from_millis(wait);
                (self.on)(&Event::Waiting { reason: "rate limit".into(), wait });
                self.clock.sleep(wait);
                self.summary.rate_limited_ms += u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
            }
            self.limiter.record(self.clock.now_ms());
            self.summary.requests += 1;
            let (why, retry_after) = match self.http.get(url, &headers) {
                Ok(r) if retryable(r.status) => (format!("HTTP {}: {}", r.status, message_of(&r)), r.retry_after_secs),
                Ok(r) => return Ok(r),
                Err(e) => (e, None),
            };
            retry += 1;
            let Some(wait) = self.cfg.retry.delay(retry, retry_after) else {
                return Err(BackfillError::Upstream { context: context.to_string(), attempts: retry, last: why });
            };
            tracing::warn!("{context}: {why}; retry {retry} in {wait:?}");
            (self.on)(&Event::Waiting { reason: why, wait });
            self.summary.retries += 1;
            self.clock.sleep(wait);
        }
    }

    fn fraction(&self) -> f64 {
        let n = self.summary.symbols.len().max(1) as f64;
        let end = self.progress_end.timestamp_millis() as f64;
        let sum: f64 = self
            .summary
            .symbols
            .iter()
            .map(|(sym, s)| {
                if self.done.contains(sym) {
                    return 1.0;
                }
                let from = s.from.timestamp_millis() as f64;
                let at = s.last.map_or(from, |t| t.timestamp_millis() as f64);
                if end > from { ((at - from) / (end - from)).clamp(0.0, 1.0) } else { 0.0 }
            })
            .sum();
        sum / n
    }

    /// Writes the pending bars as one snapshot (nothing when none are pending).
    fn flush(&mut self) -> Result<(), BackfillError> {
        if self.pending_bars == 0 {
            self.pending.clear();
            return Ok(());
        }
        let series: Vec<Series> = std::mem::take(&mut self.pending)
            .into_iter()
            .filter(|(_, b)| !b.is_empty())
            .map(|(symbol, mut bars)| {
                bars.sort_by_key(Bar::start_ms);
                bars.dedup_by_key(|b| b.start_ms());
                Series { symbol, timeframe: self.cfg.timeframe, bars, source: self.source.clone() }
            })
            .collect();
        self.pending_bars = 0;
        let out = self.store.write(&series)?;
        self.summary.bars_added += out.bars_added;
        self.summary.bars_replaced += out.bars_replaced;
        if out.changed {
            self.summary.snapshots_written += 1;
        }
        self.summary.snapshot = Some(out.snapshot.clone());
        (self.on)(&Event::Written(out));
        Ok(())
    }
}

/// Bar starts `[start, end]` to request (`end` = none: up to now).
type Range = (DateTime<Utc>, Option<DateTime<Utc>>);

enum GroupEnd {
    Done,
    /// HTTP 422 with the server's message.
    Unprocessable(String),
}

/// One second after `t` (bar starts are whole seconds or coarser).
fn next_after(t: DateTime<Utc>) -> DateTime<Utc> {
    t + chrono::Duration::seconds(1)
}

/// The `message` of an Alpaca error body, else the body's text (shortened).
fn message_of(r: &Reply) -> String {
    #[derive(serde::Deserialize)]
    struct E {
        message: String,
    }
    match serde_json::from_slice::<E>(&r.body) {
        Ok(e) => e.message,
        Err(_) => {
            let text = String::from_utf8_lossy(&r.body);
            let text = text.trim();
            if text.is_empty() { "(empty body)".into() } else { text.chars().take(200).collect() }
        }
    }
}

type PageBars = (BTreeMap<String, Vec<Bar>>, Option<String>);

/// A bars page: the single-symbol route answers `{bars: [..], symbol}`, the multi-symbol one `{bars: {SYM: [..]}}`.
fn parse_page(symbols: &[String], body: &[u8]) -> Result<PageBars, String> {
    if let [one] = symbols {
        let r: BarsResponse = serde_json::from_slice(body).map_err(|e| format!("not a bars page: {e}"))?;
        let sym = r.symbol.to_ascii_uppercase();
        if &sym != one {
            return Err(format!("the answer is for {sym}, not {one}"));
        }
        Ok((BTreeMap::from([(sym, r.bars)]), r.next_page_token))
    } else {
        let r: MultiBarsResponse = serde_json::from_slice(body).map_err(|e| format!("not a bars page: {e}"))?;
        Ok((r.bars.into_iter().map(|(k, v)| (k.to_ascii_uppercase(), v)).collect(), r.next_page_token))
    }
}

#[cfg(test)]
mod tests;
