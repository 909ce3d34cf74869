//! Tests of the RTP session: each piece alone (`pieces`), two sessions over an in-memory link
//! (`session`), and hostile input (`bad_input`).

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::time::Duration;

use super::*;
use crate::rtp::ExtensionKind;

mod bad_input;
mod pieces;
mod session;

/// NTP time at the epoch of the tests' clock: some moment in 2023.
pub(super) const NTP_EPOCH: Duration = Duration::from_secs(3_900_000_000);
pub(super) const VIDEO: u32 = 0x1111_0001;
pub(super) const VIDEO_RTX: u32 = 0x1111_0002;
pub(super) const AUDIO: u32 = 0x1111_0003;

/// A configuration with VP8 at PT 96 (RTX 97, NACK, PLI), Opus at 111, transport-wide CC at ID 3.
pub(super) fn config(cname: &str) -> Config {
    let mut c = Config::new(cname, NTP_EPOCH);
    c.payload_types.media(96, 90_000, true, true).unwrap().rtx(97, 96).unwrap();
    c.payload_types.media(111, 48_000, false, false).unwrap();
    c.extensions.insert(3, ExtensionKind::TransportWideCc);
    c
}

/// What one side of a [`Pair`] handed to its application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Got {
    pub(super) ssrc: u32,
    pub(super) sequence: u64,
    pub(super) repaired: bool,
    pub(super) transport_sequence: Option<u16>,
    pub(super) bytes: Vec<u8>,
}

pub(super) type Filter = Box<dyn FnMut(&[u8]) -> bool>;

/// Two sessions, `a` and `b`, over an in-memory link with a one-way delay per direction and a loss
/// filter per direction (returns `true` to drop a datagram).
pub(super) struct Pair {
    pub(super) a: Session,
    pub(super) b: Session,
    pub(super) now: Instant,
    pub(super) delay_ab: Duration,
    pub(super) delay_ba: Duration,
    pub(super) drop_ab: Filter,
    pub(super) drop_ba: Filter,
    /// (arrival, to_b, datagram)
    flight: Vec<(Instant, bool, Vec<u8>)>,
    pub(super) a_events: Vec<(Instant, Event)>,
    pub(super) b_events: Vec<(Instant, Event)>,
    pub(super) a_got: Vec<Got>,
    pub(super) b_got: Vec<Got>,
    pub(super) a_errors: Vec<Error>,
    pub(super) b_errors: Vec<Error>,
    /// Datagrams each way that left the sender, and those the filter dropped.
    pub(super) sent_ab: u64,
    pub(super) dropped_ab: u64,
}

impl Pair {
    pub(super) fn new(a: Config, b: Config) -> Self {
        Pair {
            a: Session::new(a, SeededRng::from_seed([1; 32])).unwrap(),
            b: Session::new(b, SeededRng::from_seed([2; 32])).unwrap(),
            now: Instant::from_secs(1),
            delay_ab: Duration::from_millis(25),
            delay_ba: Duration::from_millis(25),
            drop_ab: Box::new(|_| false),
            drop_ba: Box::new(|_| false),
            flight: Vec::new(),
            a_events: Vec::new(),
            b_events: Vec::new(),
            a_got: Vec::new(),
            b_got: Vec::new(),
            a_errors: Vec::new(),
            b_errors: Vec::new(),
            sent_ab: 0,
            dropped_ab: 0,
        }
    }

    /// A video stream from `a` to `b` (with RTX) and the same back, so both send and receive.
    pub(super) fn video() -> Self {
        let mut p = Pair::new(config("a"), config("b"));
        p.a.add_send_stream(SendStreamConfig::video(VIDEO, Some(VIDEO_RTX))).unwrap();
        p.b.add_receive_stream(ReceiveStreamConfig::video(VIDEO, Some(VIDEO_RTX))).unwrap();
        p
    }

    /// Sends a media packet from `a` at the current time.
    pub(super) fn send_a(&mut self, rtp: &OutgoingRtp<'_>) -> SentRtp {
        let mut out = Vec::new();
        let sent = self.a.send_rtp(self.now, rtp, &mut out).unwrap();
        self.put(true, out);
        sent
    }

    fn put(&mut self, to_b: bool, datagram: Vec<u8>) {
        let drop = if to_b {
            self.sent_ab += 1;
            (self.drop_ab)(&datagram)
        } else {
            (self.drop_ba)(&datagram)
        };
        if drop {
            self.dropped_ab += u64::from(to_b);
            return;
        }
        let delay = if to_b { self.delay_ab } else { self.delay_ba };
        self.flight.push((self.now + delay, to_b, datagram));
    }

    fn flush(&mut self) {
        while let Some(t) = self.a.poll_transmit() {
            let d = t.data().to_vec();
            self.put(true, d);
        }
        while let Some(t) = self.b.poll_transmit() {
            let d = t.data().to_vec();
            self.put(false, d);
        }
        let now = self.now;
        self.a_events.extend(core::iter::from_fn(|| self.a.poll_event()).map(|e| (now, e)));
        self.b_events.extend(core::iter::from_fn(|| self.b.poll_event()).map(|e| (now, e)));
    }

    fn deliver(&mut self, to_b: bool, mut datagram: Vec<u8>) {
        let (session, got, errors) = if to_b {
            (&mut self.b, &mut self.b_got, &mut self.b_errors)
        } else {
            (&mut self.a, &mut self.a_got, &mut self.a_errors)
        };
        match session.handle_receive(self.now, &mut datagram) {
            Ok(Received::Rtp(r)) => got.push(Got {
                ssrc: r.ssrc,
                sequence: r.sequence,
                repaired: r.repaired,
                transport_sequence: r.transport_sequence,
                bytes: r.packet.as_bytes().to_vec(),
            }),
            Ok(_) => {}
            Err(e) => errors.push(e),
        }
    }

    /// Runs both sessions and the link until `until`: arrivals and timers in time order.
    pub(super) fn run_until(&mut self, until: Instant) {
        for _ in 0..1_000_000 {
            self.flush();
            let arrival = self.flight.iter().map(|f| f.0).min();
            let next = [arrival, self.a.poll_timeout(), self.b.poll_timeout()].into_iter().flatten().min();
            let Some(next) = next.filter(|n| *n <= until) else { break };
            self.now = self.now.max(next);
            while let Some(i) = self.flight.iter().position(|f| f.0 <= self.now) {
                let (_, to_b, d) = self.flight.remove(i);
                self.deliver(to_b, d);
            }
            if self.a.poll_timeout().is_some_and(|t| t <= self.now) {
                self.a.handle_timeout(self.now);
            }
            if self.b.poll_timeout().is_some_and(|t| t <= self.now) {
                self.b.handle_timeout(self.now);
            }
        }
        self.flush();
        self.now = self.now.max(until);
    }

    pub(super) fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }
}
