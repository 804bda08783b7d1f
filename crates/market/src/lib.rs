//! Market data primitives for mtf.
//!
//! - [`Bar`]: one OHLCV bar, stamped with its **start** instant in UTC, validated on construction.
//! - [`Timeframe`]: the eight bar sizes the project uses (1m … 1d), parsed from `5m`, `5Min`, `1Hour`, `1Day`, …
//!   and rendered as Alpaca strings.
//! - [`session`]: New York exchange sessions (regular `[09:30, 16:00)`, pre-market, after-hours), DST-correct.
//! - [`resample`]: 1-minute bars to every timeframe, bucketed on the New York clock exactly like Alpaca.
//! - [`align`]: as-of alignment — for an instant τ, each timeframe's last `T` bars whose **end** ≤ τ.
//! - [`live`]: incremental bar building from trades and stream bars, with corrections.
//! - [`io`]: the CSV layouts of the shared data set and Alpaca's JSON bars.
//! - [`synthetic`]: deterministic random-walk bars for benchmarks and demos without data.
//!
//! ```
//! use mtf_market::{Bar, Timeframe, resample::resample, session::SessionFilter};
//! use chrono::{TimeZone, Utc};
//! let t0 = Utc.with_ymd_and_hms(2011, 1, 3, 14, 30, 0).unwrap(); // 09:30 New York
//! let minutes: Vec<Bar> = (0..10)
//!     .map(|i| Bar::new(t0 + chrono::Duration::minutes(i), 10.0, 11.0, 9.0, 10.5, 100.0).unwrap())
//!     .collect();
//! let five = resample(&minutes, Timeframe::M1, Timeframe::M5, SessionFilter::Regular).unwrap();
//! assert_eq!(five.len(), 2);
//! assert_eq!(five[0].volume(), 500.0);
//! ```

pub mod align;
mod bar;
pub mod io;
pub mod live;
pub mod resample;
pub mod session;
pub mod synthetic;
mod timeframe;

pub use bar::{Bar, BarError, Repair, WireBar};
pub use timeframe::{Timeframe, TimeframeError};
