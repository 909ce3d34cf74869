//! A deterministic in-memory pipe between two [`DatagramMachine`]s (DTLS, SCTP, data channels): seeded loss,
//! duplication, reordering and delay under virtual time.
//!
//! Lighter than a whole [`Sim`](super::Sim) when a test only needs two machines above the network path and
//! moves many megabytes: [`Pair`] owns both machines and two one-way [`Link`]s, and jumps virtual time straight
//! to the next delivery or deadline.
//!
//! ```
//! use core::time::Duration;
//! use sansrtc::sim::pipe::{Impair, Pair};
//! # use sansrtc::{DatagramMachine, Instant, Machine};
//! # #[derive(Default)] struct Echo { out: Vec<Vec<u8>>, sent: Option<Vec<u8>>, got: usize }
//! # impl Machine for Echo {
//! #     type Event = usize;
//! #     fn handle_timeout(&mut self, _: Instant) {}
//! #     fn poll_event(&mut self) -> Option<usize> { None }
//! #     fn poll_timeout(&self) -> Option<Instant> { None }
//! # }
//! # impl DatagramMachine for Echo {
//! #     type Error = ();
//! #     fn handle_receive(&mut self, _: Instant, d: &[u8]) -> Result<(), ()> { self.got += d.len(); Ok(()) }
//! #     fn poll_transmit(&mut self) -> Option<&[u8]> { self.sent = self.out.pop(); self.sent.as_deref() }
//! # }
//! let a = Echo { out: vec![b"hello".to_vec()], ..Echo::default() };
//! let mut pair = Pair::new(a, Echo::default(), Impair::clean(20), Impair::clean(20));
//! assert!(pair.run_until(Duration::from_secs(1), |p| p.b.got == 5));
//! ```

use alloc::vec::Vec;
use core::time::Duration;

use crate::{DatagramMachine, Instant, SeededRng};

/// Datagrams one [`Link`] holds in flight at most; more are dropped and counted as lost.
pub const MAX_IN_FLIGHT: usize = 1 << 16;

/// Impairments of one direction; probabilities in per-mille.
#[derive(Clone, Copy, Debug, Default)]
pub struct Impair {
    /// Chance that a datagram is lost.
    pub loss: u64,
    /// Chance that a datagram arrives twice.
    pub duplicate: u64,
    /// Chance that a datagram is held back by up to twice the delay (and so overtaken).
    pub reorder: u64,
    /// One-way delay.
    pub delay: Duration,
}

impl Impair {
    /// A perfect link with `delay_ms` of one-way delay.
    pub fn clean(delay_ms: u64) -> Self {
        Impair { delay: Duration::from_millis(delay_ms), ..Impair::default() }
    }
    /// 5 % loss, 2 % duplication, 5 % reordering, 20 ms delay.
    pub fn lossy() -> Self {
        Impair { loss: 50, duplicate: 20, reorder: 50, delay: Duration::from_millis(20) }
    }
}

/// One direction of a [`Pair`].
#[derive(Debug)]
pub struct Link {
    rng: SeededRng,
    /// The impairments applied to each datagram pushed.
    pub impair: Impair,
    queue: Vec<(Instant, u64, Vec<u8>)>,
    seq: u64,
    /// While false, every datagram is lost (the path is cut).
    pub up: bool,
    /// Drops this many of the next packets, whatever the impairments.
    pub drop_next: u32,
    /// Datagrams pushed.
    pub sent: u64,
    /// Datagrams lost (impairment, cut path, `drop_next`, or a full link).
    pub lost: u64,
}

impl Link {
    /// A link drawing its randomness from `seed`.
    pub fn new(seed: u8, impair: Impair) -> Self {
        Link {
            rng: SeededRng::from_seed([seed; 32]),
            impair,
            queue: Vec::new(),
            seq: 0,
            up: true,
            drop_next: 0,
            sent: 0,
            lost: 0,
        }
    }

    /// Sends `packet` at `now`: it is lost, or queued for delivery (maybe twice, maybe late).
    pub fn push(&mut self, now: Instant, packet: &[u8]) {
        self.sent += 1;
        if self.queue.len() >= MAX_IN_FLIGHT {
            self.lost += 1;
            return;
        }
        if self.drop_next > 0 {
            self.drop_next -= 1;
            self.lost += 1;
            return;
        }
        if !self.up || self.rng.below(1000) < self.impair.loss {
            self.lost += 1;
            return;
        }
        let mut at = now + self.impair.delay;
        if self.rng.below(1000) < self.impair.reorder {
            at += self.rng.duration_between(Duration::ZERO, self.impair.delay * 2 + Duration::from_millis(1));
        }
        self.seq += 1;
        self.queue.push((at, self.seq, packet.to_vec()));
        if self.rng.below(1000) < self.impair.duplicate {
            self.seq += 1;
            let later = at + self.rng.duration_between(Duration::ZERO, self.impair.delay + Duration::from_millis(1));
            self.queue.push((later, self.seq, packet.to_vec()));
        }
    }

    /// When the next datagram arrives.
    pub fn next(&self) -> Option<Instant> {
        self.queue.iter().map(|(t, _, _)| *t).min()
    }

    /// The next datagram due at or before `now`, in arrival order.
    pub fn pop_due(&mut self, now: Instant) -> Option<Vec<u8>> {
        let i = self
            .queue
            .iter()
            .enumerate()
            .filter(|(_, (t, _, _))| *t <= now)
            .min_by_key(|(_, (t, s, _))| (*t, *s))
            .map(|(i, _)| i)?;
        Some(self.queue.swap_remove(i).2)
    }
}

/// Two datagram machines joined by two [`Link`]s, driven on virtual time.
pub struct Pair<A: DatagramMachine, B: DatagramMachine> {
    /// The first machine.
    pub a: A,
    /// The second machine.
    pub b: B,
    /// Virtual time (starts at one second).
    pub now: Instant,
    /// The link from `a` to `b`.
    pub ab: Link,
    /// The link from `b` to `a`.
    pub ba: Link,
    /// Every event `a` emitted, in order (the test drains or inspects them).
    pub ev_a: Vec<A::Event>,
    /// Every event `b` emitted, in order.
    pub ev_b: Vec<B::Event>,
    /// Datagrams `a` rejected.
    pub errors_a: u64,
    /// Datagrams `b` rejected.
    pub errors_b: u64,
}

impl<A: DatagramMachine, B: DatagramMachine> Pair<A, B> {
    /// Joins `a` and `b` with the given impairments each way.
    pub fn new(a: A, b: B, ab: Impair, ba: Impair) -> Self {
        Pair {
            a,
            b,
            now: Instant::from_secs(1),
            ab: Link::new(101, ab),
            ba: Link::new(202, ba),
            ev_a: Vec::new(),
            ev_b: Vec::new(),
            errors_a: 0,
            errors_b: 0,
        }
    }

    /// Moves every ready packet and event, without advancing time.
    pub fn pump(&mut self) {
        loop {
            let mut busy = false;
            while let Some(p) = self.a.poll_transmit() {
                self.ab.push(self.now, p);
                busy = true;
            }
            while let Some(p) = self.b.poll_transmit() {
                self.ba.push(self.now, p);
                busy = true;
            }
            while let Some(p) = self.ab.pop_due(self.now) {
                if self.b.handle_receive(self.now, &p).is_err() {
                    self.errors_b += 1;
                }
                busy = true;
            }
            while let Some(p) = self.ba.pop_due(self.now) {
                if self.a.handle_receive(self.now, &p).is_err() {
                    self.errors_a += 1;
                }
                busy = true;
            }
            while let Some(e) = self.a.poll_event() {
                self.ev_a.push(e);
            }
            while let Some(e) = self.b.poll_event() {
                self.ev_b.push(e);
            }
            if !busy {
                break;
            }
        }
    }

    /// Pumps, then jumps to the next deadline or delivery and fires it. False when nothing is pending.
    pub fn advance(&mut self) -> bool {
        self.pump();
        let next =
            [self.a.poll_timeout(), self.b.poll_timeout(), self.ab.next(), self.ba.next()].into_iter().flatten().min();
        let Some(next) = next else { return false };
        self.now = self.now.max(next);
        self.a.handle_timeout(self.now);
        self.b.handle_timeout(self.now);
        self.pump();
        true
    }

    /// Advances until `done` holds or `limit` of virtual time passes. Returns whether `done` held.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&mut Self) -> bool) -> bool {
        let end = self.now + limit;
        loop {
            if done(self) {
                return true;
            }
            if self.now > end || !self.advance() {
                return done(self);
            }
        }
    }
}
