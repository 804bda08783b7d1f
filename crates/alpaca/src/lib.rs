//! Alpaca Market Data API v2, wire format only: serde types with Alpaca's exact field names, request builders
//! (path + query) and pagination. No I/O: the edge worker uses these types as a client, the local stand-in
//! (`mtf replay`) as a server.
//!
//! - [`rest`]: bars (single and multi-symbol, `next_page_token`), latest trades and quotes, snapshots, news,
//!   and the error body.
//! - [`request`]: [`request::BarsRequest`] and friends → `"/v2/stocks/AAPL/bars?timeframe=1Min&..."`;
//!   [`request::BarsPager`] follows `next_page_token` and merges pages.
//! - [`stream`]: the WebSocket protocol (`/v2/{iex|sip}`): server messages keyed by `T` and client actions.
//!
//! Bars are [`mtf_market::Bar`], which serialises as Alpaca's `{t, o, h, l, c, v, n, vw}` and validates on
//! deserialisation, so invalid upstream data is rejected at the boundary.
//!
//! ```
//! use mtf_alpaca::request::BarsRequest;
//! use mtf_market::Timeframe;
//! let req = BarsRequest::new(["AAPL"], Timeframe::M5).limit(1000);
//! assert_eq!(req.path_and_query().unwrap(), "/v2/stocks/AAPL/bars?timeframe=5Min&limit=1000");
//! ```

pub mod request;
pub mod rest;
pub mod stream;

pub use mtf_market::Bar;
