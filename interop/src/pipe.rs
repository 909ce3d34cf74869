//! A deterministic in-memory link between two datagram machines: seeded loss, duplication, reordering and
//! delay under virtual time.

use core::time::Duration;

use sansrtc::{DatagramMachine, Instant, SeededRng};

/// Impairments of one direction, in per-mille.
#[derive(Clone, Copy, Debug, Default)]
pub struct Impair {
    pub loss: u64,
    pub duplicate: u64,
    pub reorder: u64,
    pub delay: Duration,
}

impl Impair {
    pub fn clean(delay_ms: u64) -> Self {
        Impair { delay: Duration::from_millis(delay_ms), ..Impair::default() }
    }
    pub fn lossy() -> Self {
        Impair { loss: 50, duplicate: 20, reorder: 50, delay: Duration::from_millis(20) }
    }
}

pub struct Link {
    rng: SeededRng,
    pub impair: Impair,
    queue: Vec<(Instant, u64, Vec<u8>)>,
    seq: u64,
    pub up: bool,
    /// Drops this many of the next packets, whatever the impairments.
    pub drop_next: u32,
    pub sent: u64,
    pub lost: u64,
}

impl Link {
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

    pub fn push(&mut self, now: Instant, packet: &[u8]) {
        self.sent += 1;
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

    pub fn next(&self) -> Option<Instant> {
        self.queue.iter().map(|(t, _, _)| *t).min()
    }

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

pub struct Pair<A: DatagramMachine, B: DatagramMachine> {
    pub a: A,
    pub b: B,
    pub now: Instant,
    pub ab: Link,
    pub ba: Link,
    pub ev_a: Vec<A::Event>,
    pub ev_b: Vec<B::Event>,
    pub errors_a: u64,
    pub errors_b: u64,
}

impl<A: DatagramMachine, B: DatagramMachine> Pair<A, B> {
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
