//! Client-side request budget and retry timing: plain data and pure functions over milliseconds, plus the
//! [`Clock`] that the loop sleeps on (real: [`SystemClock`]; tests use a fake one and never sleep).

use std::collections::VecDeque;
use std::time::Duration;

/// Monotonic time and sleeping.
pub trait Clock {
    /// Milliseconds since an arbitrary origin, non-decreasing.
    fn now_ms(&self) -> u64;
    /// Blocks for `d` (a fake clock just advances).
    fn sleep(&self, d: Duration);
}

/// The process's monotonic clock and `std::thread::sleep`.
#[derive(Debug)]
pub struct SystemClock(std::time::Instant);

impl Default for SystemClock {
    fn default() -> Self {
        Self(std::time::Instant::now())
    }
}

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.0.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// At most `per_minute` requests in any window of 60 s (a sliding window over the instants of the last
/// `per_minute` requests, so a burst at start-up is allowed and the long-run rate is bounded exactly).
#[derive(Debug, Clone)]
pub struct RateLimiter {
    per_minute: usize,
    sent: VecDeque<u64>,
}

/// The window the limit counts over.
pub const WINDOW_MS: u64 = 60_000;

impl RateLimiter {
    /// A limiter allowing `per_minute` requests per 60 s (at least 1).
    #[must_use]
    pub fn new(per_minute: u32) -> Self {
        Self { per_minute: (per_minute as usize).max(1), sent: VecDeque::new() }
    }

    /// How long to wait at `now_ms` before the next request may go (zero when it may go now).
    #[must_use]
    pub fn wait_ms(&self, now_ms: u64) -> u64 {
        if self.sent.len() < self.per_minute {
            return 0;
        }
        // The oldest of the last `per_minute` requests must be at least a window old.
        let oldest = self.sent[self.sent.len() - self.per_minute];
        (oldest + WINDOW_MS).saturating_sub(now_ms)
    }

    /// Records a request sent at `now_ms`.
    pub fn record(&mut self, now_ms: u64) {
        self.sent.push_back(now_ms);
        while self.sent.len() > self.per_minute {
            self.sent.pop_front();
        }
    }
}

/// Bounded retries: `max_retries` after the first attempt; waits double from `base` up to `max_wait`; a server's
/// `Retry-After` is honoured (capped at `max_wait`) in place of the backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (so `max_retries + 1` requests at most per page).
    pub max_retries: u32,
    /// First backoff.
    pub base: Duration,
    /// Longest single wait.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_retries: 6, base: Duration::from_millis(500), max_wait: Duration::from_secs(60) }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1-based), given the server's `Retry-After` in seconds if any; `None`
    /// when the retries are used up.
    #[must_use]
    pub fn delay(&self, retry: u32, retry_after_secs: Option<u64>) -> Option<Duration> {
        if retry == 0 || retry > self.max_retries {
            return None;
        }
        let backoff = self.base.saturating_mul(1u32.checked_shl(retry - 1).unwrap_or(u32::MAX));
        let wait = retry_after_secs.map_or(backoff, Duration::from_secs);
        Some(wait.min(self.max_wait))
    }
}

/// Whether an HTTP status is worth retrying (rate limited, or a server error).
#[must_use]
pub fn retryable(status: u16) -> bool {
    status == 429 || (500..=599).contains(&status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_allows_a_burst_then_spaces_requests_to_the_window() {
        let mut l = RateLimiter::new(3);
        for t in [0, 10, 20] {
            assert_eq!(l.wait_ms(t), 0);
            l.record(t);
        }
        // The fourth must wait until the first is 60 s old.
        assert_eq!(l.wait_ms(30), 59_970);
        l.record(60_000);
        assert_eq!(l.wait_ms(60_000), 10);
        assert_eq!(l.wait_ms(60_010), 0);
    }

    #[test]
    fn no_window_of_sixty_seconds_holds_more_than_the_limit() {
        // Drive the limiter as the loop does (wait, then send) with irregular demand and check every window.
        let mut l = RateLimiter::new(200);
        let mut now = 0u64;
        let mut sent = Vec::new();
        for k in 0..1_000u64 {
            now += k % 7; // sometimes several requests in one millisecond
            now += l.wait_ms(now);
            l.record(now);
            sent.push(now);
        }
        for (i, &t) in sent.iter().enumerate() {
            let in_window = sent[i..].iter().take_while(|&&u| u < t + WINDOW_MS).count();
            assert!(in_window <= 200, "{in_window} requests in the window from {t}");
        }
        // And it is not slower than it must be: 1,000 requests take just over 4 windows.
        assert!(now < 5 * WINDOW_MS, "{now}");
    }

    #[test]
    fn retries_back_off_honour_retry_after_and_stop() {
        let p = RetryPolicy { max_retries: 4, base: Duration::from_millis(100), max_wait: Duration::from_secs(2) };
        let d: Vec<_> = (1..=5).map(|r| p.delay(r, None)).collect();
        assert_eq!(
            d,
            [Some(100), Some(200), Some(400), Some(800), None].map(|x| x.map(Duration::from_millis)).to_vec()
        );
        assert_eq!(p.delay(1, Some(1)), Some(Duration::from_secs(1)));
        assert_eq!(p.delay(2, Some(3_600)), Some(Duration::from_secs(2)), "capped");
        assert_eq!(RetryPolicy { max_retries: 40, ..p }.delay(40, None), Some(Duration::from_secs(2)));
        assert!(retryable(429) && retryable(503) && !retryable(422) && !retryable(401));
    }
}
