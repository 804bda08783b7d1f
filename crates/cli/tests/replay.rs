//! `mtf replay` end to end: the binary is started on a free port and spoken to over HTTP and WebSocket, as the
//! edge worker would (Alpaca's paths, headers, error bodies and stream protocol).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

/// Starts `mtf replay` with `args` on port 0 (keys `test-key` / `test-secret`).
fn start(args: &[&str]) -> common::Replay {
    common::replay(args, "test-key", "test-secret")
}

/// A GET (or POST with an empty body) over a plain socket: (status, headers, body).
fn http(base: &str, method: &str, path: &str, auth: bool) -> (u16, String, String) {
    let host = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let keys = if auth { "APCA-API-KEY-ID: test-key\r\nAPCA-API-SECRET-KEY: test-secret\r\n" } else { "" };
    write!(s, "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{keys}Content-Length: 0\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_string())
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

#[test]
fn rest_speaks_alpaca_auth_paging_errors_and_injected_failures() {
    let empty = tempdir();
    let server = start(&["--data", empty.to_str().unwrap()]);
    let b = &server.base;
    let path = "/v2/stocks/SYNTH/bars?timeframe=1Min&start=2024-01-01T00:00:00Z&limit=500";

    let (status, _, body) = http(b, "GET", path, false);
    assert_eq!(status, 401);
    assert_eq!(json(&body)["code"], 40110000);

    let (status, _, body) = http(b, "GET", path, true);
    assert_eq!(status, 200);
    let page1 = json(&body);
    assert_eq!(page1["symbol"], "SYNTH");
    assert_eq!(page1["bars"].as_array().unwrap().len(), 500);
    let token = page1["next_page_token"].as_str().unwrap();
    let (_, _, body) = http(b, "GET", &format!("{path}&page_token={token}"), true);
    let page2 = json(&body);
    assert!(page2["bars"][0]["t"].as_str().unwrap() > page1["bars"][499]["t"].as_str().unwrap());

    let (_, _, body) = http(
        b,
        "GET",
        "/v2/stocks/bars?symbols=SYNTH&timeframe=15Min&start=2024-01-01T00:00:00Z&limit=3&sort=desc",
        true,
    );
    let multi = json(&body);
    let bars = multi["bars"]["SYNTH"].as_array().unwrap();
    assert_eq!(bars.len(), 3);
    assert!(bars[0]["t"].as_str().unwrap() > bars[1]["t"].as_str().unwrap(), "desc = newest first");

    for bad in ["timeframe=7Min", "timeframe=1Min&limit=0", "timeframe=1Min&start=yesterday", "timeframe=1Min&sort=up"]
    {
        let (status, _, body) = http(b, "GET", &format!("/v2/stocks/SYNTH/bars?{bad}"), true);
        assert_eq!(status, 422, "{bad}: {body}");
        assert!(json(&body)["message"].as_str().unwrap().starts_with("invalid"), "{body}");
    }

    let (status, _, body) = http(b, "GET", "/v2/stocks/SYNTH/trades/latest", true);
    assert_eq!(status, 200);
    assert!(json(&body)["trade"]["p"].as_f64().unwrap() > 0.0);
    let (_, _, body) = http(b, "GET", "/v2/stocks/SYNTH/quotes/latest", true);
    let q = json(&body);
    assert!(q["quote"]["ap"].as_f64().unwrap() > q["quote"]["bp"].as_f64().unwrap());
    let (_, _, body) = http(b, "GET", "/v2/stocks/snapshots?symbols=SYNTH", true);
    assert!(json(&body)["SYNTH"]["dailyBar"]["c"].as_f64().is_some());
    let (status, _, body) = http(b, "GET", "/v1beta1/news?symbols=SPY&limit=2", true);
    assert_eq!(status, 200);
    assert_eq!(json(&body)["news"].as_array().unwrap().len(), 2);

    let (status, _, _) = http(b, "POST", "/_standin/fail?status=429&retry_after=2&count=1", false);
    assert_eq!(status, 204);
    let (status, head, _) = http(b, "GET", path, true);
    assert_eq!(status, 429);
    assert!(head.contains("retry-after: 2"), "{head}");
    assert_eq!(http(b, "GET", path, true).0, 200, "the injected failure is used up");

    let (_, _, body) = http(b, "GET", "/_standin/stats", false);
    let stats = json(&body);
    assert!(stats["requests"]["bars"].as_u64().unwrap() >= 8);
    assert_eq!(stats["synthetic"], true);
}

#[test]
fn the_clock_withholds_future_bars_and_the_stream_replays_them_once_per_key() {
    let empty = tempdir();
    // 600× real time: ten replayed minutes per second, starting at 10:00 New York on the first synthetic day.
    let server = start(&["--data", empty.to_str().unwrap(), "--start-at", "2024-01-02T15:00:00Z", "--speed", "600"]);
    let b = server.base.clone();
    let (_, _, body) =
        http(&b, "GET", "/v2/stocks/SYNTH/bars?timeframe=1Min&start=2024-01-01T00:00:00Z&limit=10000", true);
    let bars = json(&body)["bars"].as_array().unwrap().clone();
    let last = bars.last().unwrap()["t"].as_str().unwrap().to_string();
    assert!(last.as_str() < "2024-01-02T15:10:00Z", "bars after the clock were served: {last}");
    assert!(last.as_str() >= "2024-01-02T14:58:00Z", "{last}");

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;
    async fn read(ws: &mut Ws) -> serde_json::Value {
        loop {
            let m = tokio::time::timeout(Duration::from_secs(20), ws.next()).await.unwrap().unwrap().unwrap();
            if let Message::Text(t) = m {
                return serde_json::from_str(&t).unwrap();
            }
        }
    }
    rt.block_on(async {
        let ws_url = format!("{}/v2/iex", b.replace("http://", "ws://"));
        let (mut ws, _) = tokio_tungstenite::connect_async(&ws_url).await.unwrap();
        assert_eq!(read(&mut ws).await[0]["msg"], "connected");
        ws.send(Message::Text(r#"{"action":"auth","key":"test-key","secret":"test-secret"}"#.into())).await.unwrap();
        assert_eq!(read(&mut ws).await[0]["msg"], "authenticated");

        // A second connection with the same key is refused with 406, as Alpaca allows one per account.
        let (mut second, _) = tokio_tungstenite::connect_async(&ws_url).await.unwrap();
        read(&mut second).await;
        second
            .send(Message::Text(r#"{"action":"auth","key":"test-key","secret":"test-secret"}"#.into()))
            .await
            .unwrap();
        assert_eq!(read(&mut second).await[0]["code"], 406);

        ws.send(Message::Text(r#"{"action":"subscribe","trades":["SYNTH"],"bars":["SYNTH"]}"#.into())).await.unwrap();
        assert_eq!(read(&mut ws).await[0]["T"], "subscription");
        let (mut trades, mut bars) = (0, Vec::new());
        while bars.len() < 2 {
            for m in read(&mut ws).await.as_array().unwrap() {
                match m["T"].as_str().unwrap() {
                    "t" => trades += 1,
                    "b" => bars.push(m["t"].as_str().unwrap().to_string()),
                    other => panic!("unexpected {other}"),
                }
            }
        }
        assert!(trades >= 4, "trades precede their bar");
        assert!(bars[0] < bars[1]);
        assert!(bars[0].as_str() >= "2024-01-02T14:59:00Z");
    });
}

#[test]
fn late_prints_arrive_as_a_bar_then_its_correction() {
    let empty = tempdir();
    let server = start(&["--data", empty.to_str().unwrap(), "--start-at", "2024-01-02T15:00:00Z", "--speed", "600"]);
    let b = server.base.clone();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (first, corrected) = rt.block_on(async {
        let (mut ws, _) =
            tokio_tungstenite::connect_async(format!("{}/v2/iex", b.replace("http://", "ws://"))).await.unwrap();
        let mut frames = Vec::new();
        ws.send(Message::Text(r#"{"action":"auth","key":"test-key","secret":"test-secret"}"#.into())).await.unwrap();
        ws.send(Message::Text(r#"{"action":"subscribe","bars":["SYNTH"],"updatedBars":["SYNTH"]}"#.into()))
            .await
            .unwrap();
        loop {
            let m = tokio::time::timeout(Duration::from_secs(20), ws.next()).await.unwrap().unwrap().unwrap();
            let Message::Text(t) = m else { continue };
            for v in serde_json::from_str::<Vec<serde_json::Value>>(&t).unwrap() {
                if v["T"] == "u" {
                    let first = frames.iter().find(|f: &&serde_json::Value| f["T"] == "b" && f["t"] == v["t"]).cloned();
                    return (first.expect("the bar came before its correction"), v);
                }
                frames.push(v);
            }
        }
    });
    assert!(first["v"].as_f64().unwrap() < corrected["v"].as_f64().unwrap(), "{first} vs {corrected}");
    assert_eq!(first["h"], corrected["h"]);
    // REST serves the final (corrected) bar.
    let t = corrected["t"].as_str().unwrap();
    let (_, _, body) = http(&b, "GET", &format!("/v2/stocks/SYNTH/bars?timeframe=1Min&start={t}&end={t}"), true);
    let rest = &json(&body)["bars"][0];
    assert_eq!(rest["v"], corrected["v"]);
    assert_eq!(rest["c"], corrected["c"]);
}

#[test]
fn real_files_are_served_by_symbol() {
    let Some(dir) = common::data_dir() else { return };
    let server = start(&["--data", dir.to_str().unwrap()]);
    let (status, _, body) = http(
        &server.base,
        "GET",
        "/v2/stocks/bars?symbols=SPY,AAPL&timeframe=1Day&start=2011-01-03&end=2011-01-07T23:59:59Z&limit=10000",
        true,
    );
    assert_eq!(status, 200, "{body}");
    let v = json(&body);
    assert_eq!(v["bars"]["SPY"].as_array().unwrap().len(), 5);
    assert_eq!(v["bars"]["AAPL"].as_array().unwrap().len(), 5);
    let (_, _, body) = http(
        &server.base,
        "GET",
        "/v2/stocks/SPY/bars?timeframe=1Hour&start=2011-01-03T00:00:00Z&end=2011-01-03T23:59:00Z",
        true,
    );
    assert!(json(&body)["bars"].as_array().unwrap().len() >= 7, "hourly bars resampled from minutes");
}

fn tempdir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("mtf-replay-{}-{:?}", std::process::id(), std::thread::current().id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}
