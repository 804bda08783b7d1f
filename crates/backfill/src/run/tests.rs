//! The loop over a scripted transport and a fake clock: no sockets, no sleeping.

use std::cell::{Cell, RefCell};

use chrono::TimeZone;

use super::*;
use crate::limits::RetryPolicy;

struct FakeClock(Cell<u64>);
impl Clock for FakeClock {
    fn now_ms(&self) -> u64 {
        self.0.get()
    }
    fn sleep(&self, d: Duration) {
        self.0.set(self.0.get() + u64::try_from(d.as_millis()).unwrap());
    }
}

/// Answers each request with the next scripted reply and records the URLs.
struct Script {
    replies: RefCell<VecDeque<Result<Reply, String>>>,
    urls: RefCell<Vec<String>>,
}
impl Script {
    fn new(replies: Vec<Result<Reply, String>>) -> Self {
        Self { replies: RefCell::new(replies.into()), urls: RefCell::default() }
    }
}
impl Http for Script {
    fn get(&self, url: &str, headers: &[(&str, &str)]) -> Result<Reply, String> {
        assert!(headers.contains(&("APCA-API-KEY-ID", "k")) && headers.contains(&("APCA-API-SECRET-KEY", "s")));
        self.urls.borrow_mut().push(url.to_string());
        self.replies.borrow_mut().pop_front().unwrap_or_else(|| panic!("unexpected request {url}"))
    }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 2, 14, 30, 0).unwrap()
}

fn bar(min: i64, close: f64) -> Bar {
    Bar::new(t0() + chrono::Duration::minutes(min), close, close + 1.0, close - 1.0, close, 100.0).unwrap()
}

fn ok(body: serde_json::Value) -> Result<Reply, String> {
    Ok(Reply { status: 200, retry_after_secs: None, body: body.to_string().into_bytes() })
}

fn status(code: u16, retry_after: Option<u64>, message: &str) -> Result<Reply, String> {
    let body = serde_json::json!({ "code": u64::from(code) * 100_000, "message": message }).to_string();
    Ok(Reply { status: code, retry_after_secs: retry_after, body: body.into_bytes() })
}

fn multi(bars: &[(&str, Vec<Bar>)], next: Option<&str>) -> Result<Reply, String> {
    let map: BTreeMap<&str, &Vec<Bar>> = bars.iter().map(|(s, b)| (*s, b)).collect();
    ok(serde_json::json!({ "bars": map, "next_page_token": next }))
}

fn single(sym: &str, bars: Vec<Bar>) -> Result<Reply, String> {
    ok(serde_json::json!({ "bars": bars, "symbol": sym, "next_page_token": null }))
}

fn config(symbols: &[&str]) -> Config {
    Config {
        symbols: symbols.iter().map(|s| s.to_string()).collect(),
        timeframe: Timeframe::M1,
        start: t0(),
        end: Some(t0() + chrono::Duration::days(1)),
        feed: Feed::Iex,
        adjustment: Adjustment::Raw,
        refresh_days: None,
        data_url: "http://standin".into(),
        key: "k".into(),
        secret: "s".into(),
        requests_per_minute: 200,
        retry: RetryPolicy { max_retries: 3, base: Duration::from_millis(500), max_wait: Duration::from_secs(60) },
        page_limit: 10_000,
        checkpoint_bars: 1_000_000,
    }
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("mtf-backfill-unit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn run(cfg: &Config, store: &Store, http: &Script, clock: &FakeClock) -> Result<Summary, Box<Failure>> {
    backfill(cfg, store, http, clock, &mut |_| {})
}

#[test]
fn pages_are_followed_stored_once_and_a_second_run_asks_only_after_the_last_bar() {
    let dir = tempdir("paging");
    let store = Store::open(&dir);
    let clock = FakeClock(Cell::new(0));
    let http = Script::new(vec![
        multi(&[("AAPL", vec![bar(0, 10.0), bar(1, 11.0)])], Some("p2")),
        multi(&[("AAPL", vec![bar(2, 12.0)]), ("SPY", vec![bar(0, 400.0)])], None),
    ]);
    let s = run(&config(&["spy", "AAPL", "SPY"]), &store, &http, &clock).unwrap();
    let urls = http.urls.borrow().clone();
    assert_eq!(urls.len(), 2);
    assert!(
        urls[0].starts_with("http://standin/v2/stocks/bars?symbols=AAPL,SPY&timeframe=1Min&start=2024-01-02T14:30:00Z"),
        "{}",
        urls[0]
    );
    assert!(urls[0].contains("limit=10000") && urls[0].contains("feed=iex") && urls[0].contains("adjustment=raw"));
    assert!(urls[1].contains("page_token=p2"));
    assert_eq!((s.pages, s.requests, s.bars_added, s.snapshots_written), (2, 2, 4, 1));
    assert_eq!(s.symbols["AAPL"].bars, 3);
    let rows = store.read("AAPL", Timeframe::M1, None, None, None).unwrap();
    assert_eq!(rows.iter().map(|r| r.bar).collect::<Vec<_>>(), [bar(0, 10.0), bar(1, 11.0), bar(2, 12.0)]);
    assert_eq!(&*rows[0].source, "alpaca-api@http://standin:iex:raw");

    // Incremental: each symbol resumes one second after its own last bar (different starts, separate requests).
    let http = Script::new(vec![single("SPY", vec![]), single("AAPL", vec![])]);
    let again = run(&config(&["SPY", "AAPL"]), &store, &http, &clock).unwrap();
    let urls = http.urls.borrow().clone();
    assert!(urls[0].contains("/v2/stocks/SPY/bars?") && urls[0].contains("start=2024-01-02T14:30:01Z"), "{urls:?}");
    assert!(urls[1].contains("/v2/stocks/AAPL/bars?") && urls[1].contains("start=2024-01-02T14:32:01Z"), "{urls:?}");
    assert_eq!((again.bars_added, again.snapshots_written), (0, 0));
    assert_eq!(again.snapshot, s.snapshot, "the same backfill twice changes nothing");

    // An earlier start adds one request for the head only (up to a second before the first stored bar).
    let http = Script::new(vec![single("SPY", vec![]), single("SPY", vec![])]);
    let cfg = Config { start: t0() - chrono::Duration::days(1), ..config(&["SPY"]) };
    run(&cfg, &store, &http, &clock).unwrap();
    let urls = http.urls.borrow().clone();
    assert!(urls[0].contains("start=2024-01-01T14:30:00Z&end=2024-01-02T14:29:59Z"), "{urls:?}");
    assert!(urls[1].contains("start=2024-01-02T14:30:01Z&end=2024-01-03T14:30:00Z"), "{urls:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn retry_after_is_honoured_and_a_storm_ends_the_run_keeping_what_arrived() {
    let dir = tempdir("storm");
    let store = Store::open(&dir);
    let clock = FakeClock(Cell::new(0));
    let http = Script::new(vec![
        status(429, Some(2), "too many requests"),
        multi(&[("AAPL", vec![bar(0, 10.0)])], Some("p2")),
        status(503, None, "busy"),
        Err("connection reset by peer".into()),
        status(500, None, "oops"),
        status(502, None, "bad gateway"),
    ]);
    let f = run(&config(&["AAPL", "SPY"]), &store, &http, &clock).unwrap_err();
    let msg = f.to_string();
    assert!(
        msg.starts_with("bars AAPL,SPY 1Min page 2: upstream failed after 4 attempts; last: HTTP 502: bad gateway"),
        "{msg}"
    );
    // 2 s for Retry-After, then 0.5 + 1 + 2 s of backoff.
    assert_eq!(clock.0.get(), 5_500);
    assert_eq!((f.summary.retries, f.summary.requests, f.summary.pages), (4, 6, 1));
    assert_eq!(f.summary.bars_added, 1, "the first page is stored before the error returns");
    assert_eq!(store.read("AAPL", Timeframe::M1, None, None, None).unwrap().len(), 1);
    assert_eq!(f.summary.snapshot, store.head().unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_refused_symbol_is_isolated_and_named_while_the_good_ones_are_stored() {
    let dir = tempdir("422");
    let store = Store::open(&dir);
    let clock = FakeClock(Cell::new(0));
    let http = Script::new(vec![
        status(422, None, "invalid symbol: ZZZZ"),
        single("AAPL", vec![bar(0, 10.0)]),
        single("SPY", vec![bar(0, 400.0)]),
        status(422, None, "invalid symbol: ZZZZ"),
    ]);
    let s = run(&config(&["AAPL", "ZZZZ", "SPY", "bad symbol!"]), &store, &http, &clock).unwrap();
    assert_eq!(
        s.failed,
        [
            (
                "bad symbol!".to_string(),
                "invalid symbol `bad symbol!`: use 1–10 characters A–Z, 0–9, `.` or `-`".to_string()
            ),
            ("ZZZZ".to_string(), "invalid symbol: ZZZZ".to_string()),
        ]
    );
    assert_eq!(s.bars_added, 2);
    let urls = http.urls.borrow().clone();
    assert!(urls[3].contains("/v2/stocks/ZZZZ/bars"), "{urls:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_keys_stop_at_once_naming_the_request() {
    let dir = tempdir("401");
    let store = Store::open(&dir);
    let clock = FakeClock(Cell::new(0));
    let http = Script::new(vec![status(401, None, "request is not authorized")]);
    let f = run(&config(&["AAPL"]), &store, &http, &clock).unwrap_err();
    assert_eq!(
        f.to_string(),
        "bars AAPL 1Min page 1: HTTP 401: request is not authorized (check APCA_API_KEY_ID / APCA_API_SECRET_KEY and the plan's feed)"
    );
    assert_eq!(store.head().unwrap(), None, "nothing written");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn refresh_days_refetch_recent_bars_and_a_correction_replaces_by_timestamp() {
    let dir = tempdir("refresh");
    let store = Store::open(&dir);
    let clock = FakeClock(Cell::new(0));
    let http = Script::new(vec![single("AAPL", vec![bar(0, 10.0), bar(1, 11.0)])]);
    let first = run(&config(&["AAPL"]), &store, &http, &clock).unwrap().snapshot.unwrap();
    let http = Script::new(vec![single("AAPL", vec![bar(0, 10.0), bar(1, 11.5), bar(2, 12.0)])]);
    let cfg = Config { refresh_days: Some(1), ..config(&["AAPL"]) };
    let s = run(&cfg, &store, &http, &clock).unwrap();
    // One day before the last bar is before the configured start, so the start is the configured one.
    assert!(http.urls.borrow()[0].contains("start=2024-01-02T14:30:00Z"));
    assert_eq!((s.bars_added, s.bars_replaced), (1, 1));
    let now = store.read("AAPL", Timeframe::M1, None, None, None).unwrap();
    assert_eq!(now[1].bar.close(), 11.5);
    let old = store.read("AAPL", Timeframe::M1, None, None, Some(&first)).unwrap();
    assert_eq!(old[1].bar.close(), 11.0, "the old snapshot keeps the old value");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_client_side_rate_limit_spaces_requests() {
    let dir = tempdir("rate");
    let store = Store::open(&dir);
    let clock = FakeClock(Cell::new(0));
    let pages: Vec<_> = (0..5).map(|i| multi(&[("AAPL", vec![bar(i, 10.0)])], (i < 4).then_some("more"))).collect();
    let http = Script::new(pages);
    let cfg = Config { requests_per_minute: 2, ..config(&["AAPL", "SPY"]) };
    let s = run(&cfg, &store, &http, &clock).unwrap();
    // Requests at 0, 0, 60, 60, 120 s.
    assert_eq!(clock.0.get(), 120_000);
    assert_eq!(s.rate_limited_ms, 120_000);
    assert_eq!(s.bars_added, 5);
    std::fs::remove_dir_all(&dir).unwrap();
}
