//! [`Probe`]: a tiny "what's my address" node for simulations, docs and demos.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::fmt;
use core::net::SocketAddr;
use core::time::Duration;

use super::ProbeError;
use crate::machine::{Datagram, Machine, PathMachine, Transmit};
use crate::time::Instant;
use crate::util::{EventQueue, OutQueue};

/// A toy [`PathMachine`]: it answers every ping with the address the ping came from ("what's my address",
/// like a STUN binding response), and can ping targets periodically or on demand.
///
/// Wire format (text, so traces stay readable): `ping SEQ` and `pong SEQ OBSERVED-ADDRESS`. A pong is sent
/// from the address the ping was sent to, so one probe answers on every port of its host.
#[derive(Debug)]
pub struct Probe {
    local: SocketAddr,
    targets: Vec<SocketAddr>,
    interval: Duration,
    rounds: Option<u32>,
    next: Option<Instant>,
    seq: u32,
    sent: VecDeque<(u32, Instant)>,
    now: Instant,
    out: OutQueue<(SocketAddr, SocketAddr)>,
    events: EventQueue<ProbeEvent>,
    rejected: u64,
}

/// What a [`Probe`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProbeEvent {
    /// A ping arrived on `to` from `from` (the sender as this host sees it: after NAT, its mapped address).
    Pinged {
        /// The sender's address as seen here.
        from: SocketAddr,
        /// The local address the ping arrived on.
        to: SocketAddr,
        /// The ping's sequence number.
        seq: u32,
    },
    /// An answer to one of our pings: `mapped` is our address as `from` saw it.
    Ponged {
        /// Who answered.
        from: SocketAddr,
        /// The ping's sequence number.
        seq: u32,
        /// Our address as the answerer saw it.
        mapped: SocketAddr,
        /// Round-trip time, if the ping is still remembered.
        rtt: Option<Duration>,
    },
}

/// Pings remembered for round-trip times.
const REMEMBERED: usize = 256;

impl Probe {
    /// A probe on `local` that only answers pings.
    pub fn new(local: SocketAddr) -> Self {
        Probe {
            local,
            targets: Vec::new(),
            interval: Duration::from_secs(1),
            rounds: None,
            next: None,
            seq: 0,
            sent: VecDeque::new(),
            now: Instant::ZERO,
            out: OutQueue::new(1024),
            events: EventQueue::new(1024),
            rejected: 0,
        }
    }

    /// Also pings every target in `targets` every `interval`, starting at `start`.
    pub fn pinging(mut self, targets: &[SocketAddr], start: Instant, interval: Duration) -> Self {
        self.targets = targets.to_vec();
        self.interval = interval;
        self.next = Some(start);
        self
    }

    /// Stops pinging after `rounds` rounds.
    pub fn rounds(mut self, rounds: u32) -> Self {
        self.rounds = Some(rounds);
        self
    }

    /// The address this probe sends from.
    pub fn local(&self) -> SocketAddr {
        self.local
    }

    /// Datagrams rejected as malformed.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// Sends one ping to `to` at `now`. Drain transmits after.
    pub fn send_ping(&mut self, now: Instant, to: SocketAddr) {
        self.send_ping_from(now, self.local, to);
    }

    /// Sends one ping from `from` (another address or port of this host) to `to` at `now`.
    pub fn send_ping_from(&mut self, now: Instant, from: SocketAddr, to: SocketAddr) {
        self.now = self.now.max(now);
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        if self.sent.len() >= REMEMBERED {
            self.sent.pop_front();
        }
        self.sent.push_back((seq, self.now));
        self.out.push_with((from, to), |buf| write_text(buf, format_args!("ping {seq}"))).ok();
    }
}

/// Writes formatted text into a reused buffer.
fn write_text(buf: &mut Vec<u8>, args: fmt::Arguments<'_>) -> Result<(), fmt::Error> {
    struct W<'a>(&'a mut Vec<u8>);
    impl fmt::Write for W<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0.extend_from_slice(s.as_bytes());
            Ok(())
        }
    }
    fmt::write(&mut W(buf), args)
}

impl Machine for Probe {
    type Event = ProbeEvent;

    fn handle_timeout(&mut self, now: Instant) {
        self.now = self.now.max(now);
        let Some(next) = self.next else { return };
        if self.now < next {
            return;
        }
        for i in 0..self.targets.len() {
            if let Some(to) = self.targets.get(i).copied() {
                self.send_ping(self.now, to);
            }
        }
        if let Some(rounds) = self.rounds.as_mut() {
            *rounds = rounds.saturating_sub(1);
        }
        self.next = if self.rounds == Some(0) { None } else { Some(self.now + self.interval) };
    }

    fn poll_event(&mut self) -> Option<ProbeEvent> {
        self.events.pop()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.next
    }
}

impl PathMachine for Probe {
    type Error = ProbeError;

    fn handle_receive(&mut self, now: Instant, datagram: Datagram<'_>) -> Result<(), ProbeError> {
        self.now = self.now.max(now);
        let text = core::str::from_utf8(datagram.contents).map_err(|_| self.reject())?;
        let mut words = text.split(' ');
        let kind = words.next();
        let seq: u32 = words.next().and_then(|s| s.parse().ok()).ok_or_else(|| self.reject())?;
        match (kind, words.next(), words.next()) {
            (Some("ping"), None, None) => {
                let observed = datagram.source;
                self.events.push(ProbeEvent::Pinged { from: observed, to: datagram.destination, seq });
                self.out
                    .push_with((datagram.destination, datagram.source), |buf| {
                        write_text(buf, format_args!("pong {seq} {observed}"))
                    })
                    .ok();
                Ok(())
            }
            (Some("pong"), Some(mapped), None) => {
                let mapped: SocketAddr = mapped.parse().map_err(|_| self.reject())?;
                let rtt = self.sent.iter().find(|(s, _)| *s == seq).map(|(_, at)| self.now - *at);
                self.events.push(ProbeEvent::Ponged { from: datagram.source, seq, mapped, rtt });
                Ok(())
            }
            _ => Err(self.reject()),
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        let ((source, destination), contents) = self.out.pop()?;
        Some(Datagram { source, destination, contents })
    }
}

impl Probe {
    fn reject(&mut self) -> ProbeError {
        self.rejected += 1;
        ProbeError::Malformed
    }
}
