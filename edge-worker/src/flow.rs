//! Flow control of the shared stream (pure, tested natively): a credit window per client.
//!
//! A Durable Object's WebSocket does not expose how much it has buffered for a client, so the hub cannot see a
//! slow reader from the socket. The edge's stream protocol therefore carries acknowledgements: every frame the
//! hub sends on a connection counts (the `connected` greeting included), the client answers
//! `{"action":"ack","frames":N}` with the number of frames it has **processed** so far, at least every
//! [`StreamHello::ack_every`](crate::wire::StreamHello) frames, and a client that falls more than
//! `max_unacked` frames behind is disconnected (close code [`SLOW_READER_CLOSE`]) instead of being buffered for
//! without bound. The npm package's stream client does this; a client of its own must too.
//!
//! State changes of the upstream (Alpaca) connection are told to every client as `{"T":"status", …}` messages
//! ([`crate::wire::StreamStatusMessage`]), so a client can tell "the edge is up but market data is not" from a
//! quiet market.

use serde::Deserialize;

/// Default bound of unacknowledged frames per client (`STREAM_MAX_UNACKED` overrides it).
pub const DEFAULT_MAX_UNACKED: u64 = 256;
/// Close code for a client that fell too far behind (1008, policy violation: it did not keep up).
pub const SLOW_READER_CLOSE: u16 = 1008;

/// How often a client should acknowledge for a window of `max_unacked` frames: an eighth of it, at least 1.
pub fn ack_every(max_unacked: u64) -> u64 {
    (max_unacked / 8).max(1)
}

/// The frames sent to and acknowledged by one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Credit {
    /// Frames sent on this connection.
    pub sent: u64,
    /// Frames the client said it has processed (never more than `sent`).
    pub acked: u64,
}

/// What the hub does with a frame for one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Send it (and count it with [`Credit::sent_one`]).
    Send,
    /// The client is more than `max_unacked` frames behind: disconnect it.
    TooSlow {
        /// Frames sent but not acknowledged.
        behind: u64,
    },
}

impl Credit {
    /// Whether another frame may go to this client.
    pub fn admit(&self, max_unacked: u64) -> Admit {
        let behind = self.sent - self.acked;
        if behind >= max_unacked { Admit::TooSlow { behind } } else { Admit::Send }
    }

    /// Counts a frame sent.
    pub fn sent_one(&mut self) {
        self.sent += 1;
    }

    /// Applies an acknowledgement of `frames` processed: cumulative, so an older (smaller) one changes nothing,
    /// and a claim beyond what was sent counts only what was sent.
    pub fn ack(&mut self, frames: u64) {
        self.acked = self.acked.max(frames.min(self.sent));
    }
}

/// A message from a stream client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientFrame {
    /// `{"action":"ack","frames":N}`.
    Ack(u64),
    /// Anything else (ignored: the subscription is fixed by the URL).
    Other,
}

#[derive(Deserialize)]
struct AckWire {
    action: String,
    frames: u64,
}

/// Parses a client's text frame (never fails: what is not an acknowledgement is [`ClientFrame::Other`]).
pub fn parse_client_frame(text: &str) -> ClientFrame {
    match serde_json::from_str::<AckWire>(text) {
        Ok(a) if a.action == "ack" => ClientFrame::Ack(a.frames),
        _ => ClientFrame::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_that_acknowledges_keeps_receiving_and_one_that_does_not_is_cut_at_the_bound() {
        let max = 4;
        let (mut good, mut slow) = (Credit::default(), Credit::default());
        for i in 1..=20u64 {
            assert_eq!(good.admit(max), Admit::Send, "frame {i}");
            good.sent_one();
            good.ack(i); // processes every frame
            if i <= max {
                assert_eq!(slow.admit(max), Admit::Send, "frame {i}");
                slow.sent_one();
            }
        }
        assert_eq!(slow.admit(max), Admit::TooSlow { behind: 4 });
        // A late acknowledgement frees the window again.
        slow.ack(2);
        assert_eq!(slow.admit(max), Admit::Send);
    }

    #[test]
    fn acknowledgements_are_cumulative_and_bounded_by_what_was_sent() {
        let mut c = Credit { sent: 10, acked: 0 };
        c.ack(7);
        c.ack(3); // an older one, arriving late
        assert_eq!(c.acked, 7);
        c.ack(1_000); // a client cannot acknowledge frames it was never sent
        assert_eq!(c.acked, 10);
        assert_eq!(ack_every(256), 32);
        assert_eq!(ack_every(3), 1);
    }

    #[test]
    fn client_frames_parse_to_acks_or_are_ignored() {
        assert_eq!(parse_client_frame(r#"{"action":"ack","frames":12}"#), ClientFrame::Ack(12));
        assert_eq!(parse_client_frame(r#"{"action":"subscribe","trades":["*"]}"#), ClientFrame::Other);
        assert_eq!(parse_client_frame(r#"{"action":"ack","frames":-1}"#), ClientFrame::Other);
        assert_eq!(parse_client_frame("not json"), ClientFrame::Other);
    }

    /// Whatever the acknowledgements (pseudo-random sequences over many window sizes), a client is never
    /// `max` or more frames behind when a frame is admitted, and `acked` never exceeds `sent`.
    #[test]
    fn the_window_bounds_unacknowledged_frames() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for max in 1u64..50 {
            let mut c = Credit::default();
            for _ in 0..500 {
                if c.admit(max) == Admit::Send {
                    assert!(c.sent - c.acked < max);
                    c.sent_one();
                }
                if next() % 3 == 0 {
                    c.ack(next() % (c.sent + 5));
                }
                assert!(c.acked <= c.sent);
            }
        }
    }
}
