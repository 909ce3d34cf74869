//! Two peer connections driven exactly as the README's loop says, and nothing more: feed what arrived,
//! fire timers when `poll_timeout` is due, drain `poll_transmit` once, drain `poll_event` once, then sleep
//! until the earliest of the next arrival and each connection's `poll_timeout`. No extra drain rounds: a
//! connection that owes a datagram and does not say so through `poll_timeout` stalls here.
//!
//! The link between them has a one-way delay and seeded loss. The application is a closure called with
//! each event; it may call the connection's API (what that queues is sent at the next drain, which comes
//! at once when `poll_timeout` says so).

#![allow(dead_code)]

use core::net::SocketAddr;
use core::time::Duration;
extern crate alloc;
use alloc::collections::BinaryHeap;
use core::cmp::Reverse;

use sansrtc::pc::{ChannelId, ChannelOptions, Event, PeerConnection};
use sansrtc::{Datagram, Instant, Machine, PathMachine, SeededRng};

pub const A: &str = "10.0.0.1:5000";
pub const B: &str = "10.0.0.2:5000";

/// Which side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Side {
    A,
    B,
}

/// A datagram in flight, ordered by arrival time then sequence.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Flight {
    at: Instant,
    seq: u64,
    to: Side,
    source: SocketAddr,
    destination: SocketAddr,
    data: Vec<u8>,
}

pub struct Link {
    pub a: PeerConnection,
    pub b: PeerConnection,
    pub now: Instant,
    pub delay: Duration,
    /// Loss per datagram, in parts per million.
    pub loss_ppm: u32,
    /// When set, only datagrams this side sends are lost.
    pub loss_from: Option<Side>,
    rng: SeededRng,
    flights: BinaryHeap<Reverse<Flight>>,
    seq: u64,
    pub sent: u64,
    pub lost: u64,
    /// Loop iterations (wake-ups).
    pub wakeups: u64,
    /// Wake-ups at the current instant (a connection that keeps saying "now" without progress spins).
    same_instant: u64,
    /// When set, every datagram delivered is kept here with the side it was delivered to.
    pub recorded: Option<Vec<(Side, Vec<u8>)>>,
}

impl Link {
    pub fn new(a: PeerConnection, b: PeerConnection, delay: Duration, loss: f64, seed: u64) -> Link {
        let mut s = [0u8; 32];
        s[..8].copy_from_slice(&seed.to_le_bytes());
        Link {
            a,
            b,
            now: Instant::ZERO,
            delay,
            loss_ppm: (loss * 1e6) as u32,
            loss_from: None,
            rng: SeededRng::from_seed(s),
            flights: BinaryHeap::new(),
            seq: 0,
            sent: 0,
            lost: 0,
            wakeups: 0,
            same_instant: 0,
            recorded: None,
        }
    }

    pub fn pc(&mut self, side: Side) -> &mut PeerConnection {
        match side {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }

    /// Host candidates, a channel "chat" created by `a`, and `a`'s offer answered by `b`.
    pub fn negotiate(&mut self) -> ChannelId {
        let now = self.now;
        let (a_addr, b_addr): (SocketAddr, SocketAddr) = (A.parse().unwrap(), B.parse().unwrap());
        self.a.add_local_host(now, a_addr).unwrap();
        self.b.add_local_host(now, b_addr).unwrap();
        self.a.end_of_local_candidates(now);
        self.b.end_of_local_candidates(now);
        let chat = self.a.create_data_channel(now, ChannelOptions::new("chat")).unwrap();
        let offer = self.a.create_offer().unwrap();
        self.a.set_local_description(now, &offer).unwrap();
        self.b.set_remote_description(now, &offer).unwrap();
        let answer = self.b.create_answer().unwrap();
        self.b.set_local_description(now, &answer).unwrap();
        self.a.set_remote_description(now, &answer).unwrap();
        chat
    }

    /// Feeds `data` to `to` now, as if it came over the link from the other side.
    pub fn inject(&mut self, to: Side, data: &[u8]) -> Result<(), sansrtc::pc::RecvError> {
        let (a, b): (SocketAddr, SocketAddr) = (A.parse().unwrap(), B.parse().unwrap());
        let (source, destination) = if to == Side::A { (b, a) } else { (a, b) };
        let now = self.now;
        self.pc(to).handle_receive(now, Datagram { source, destination, contents: data })
    }

    /// One drain of `side`'s transmits onto the link.
    fn drain_transmits(&mut self, side: Side) {
        let (now, delay) = (self.now, self.delay);
        let mut out = Vec::new();
        let pc = self.pc(side);
        while let Some(t) = pc.poll_transmit() {
            out.push((t.source, t.destination, t.contents.to_vec()));
        }
        for (source, destination, data) in out {
            self.sent += 1;
            let lossy = self.loss_ppm > 0 && self.loss_from.is_none_or(|s| s == side);
            if lossy && (self.rng.u64() % 1_000_000) < u64::from(self.loss_ppm) {
                self.lost += 1;
                continue;
            }
            let to = if side == Side::A { Side::B } else { Side::A };
            self.seq += 1;
            self.flights.push(Reverse(Flight { at: now + delay, seq: self.seq, to, source, destination, data }));
        }
    }

    /// Datagrams on the link, not delivered yet.
    pub fn in_flight(&self) -> usize {
        self.flights.len()
    }

    /// When the loop sleeps until: the next arrival or either connection's deadline.
    pub fn next_wake(&self) -> Option<Instant> {
        let arrival = self.flights.peek().map(|Reverse(f)| f.at);
        [arrival, self.a.poll_timeout(), self.b.poll_timeout()].into_iter().flatten().min()
    }

    /// One turn of the README loop for both connections: sleep until the next wake-up, feed arrivals, fire
    /// due timers, drain transmits once, drain events once (handing each to `app`). Returns `false` when
    /// nothing is left to wait for.
    pub fn turn(&mut self, app: &mut impl FnMut(Side, &mut PeerConnection, Instant, Event)) -> bool {
        let Some(wake) = self.next_wake() else { return false };
        if wake <= self.now {
            self.same_instant += 1;
            assert!(self.same_instant < 100_000, "busy loop: poll_timeout keeps saying now at {:?}", self.now);
        } else {
            self.same_instant = 0;
        }
        self.now = self.now.max(wake);
        self.wakeups += 1;
        let now = self.now;
        // 1. Input.
        while self.flights.peek().is_some_and(|Reverse(f)| f.at <= now) {
            let Some(Reverse(f)) = self.flights.pop() else { break };
            let datagram = Datagram { source: f.source, destination: f.destination, contents: &f.data };
            let _ = self.pc(f.to).handle_receive(now, datagram);
            if let Some(r) = self.recorded.as_mut() {
                r.push((f.to, f.data.clone()));
            }
        }
        for side in [Side::A, Side::B] {
            // 2. Timers.
            let pc = self.pc(side);
            if pc.poll_timeout().is_some_and(|t| t <= now) {
                pc.handle_timeout(now);
            }
            // 3. Transmits, once.
            self.drain_transmits(side);
            // 4. Events, once; the application may call the API.
            let pc = self.pc(side);
            while let Some(e) = pc.poll_event() {
                app(side, pc, now, e);
            }
            // The contract, checked: if the connection owes a datagram now, `poll_timeout` says "now".
            // (An early `handle_timeout` is harmless by contract; what it makes appear was owed.)
            let pc = self.pc(side);
            let announced = pc.poll_timeout().is_some_and(|t| t <= now);
            pc.handle_timeout(now);
            let before = self.sent;
            self.drain_transmits(side);
            let owed = self.sent - before;
            assert!(announced || owed == 0, "{side:?} owed {owed} datagrams at {now:?} without announcing them");
        }
        true
    }

    /// Runs turns until `done` holds or `limit` of virtual time passes; returns whether `done` held.
    pub fn run(
        &mut self,
        limit: Duration,
        app: &mut impl FnMut(Side, &mut PeerConnection, Instant, Event),
        mut done: impl FnMut(&Link) -> bool,
    ) -> bool {
        let end = self.now + limit;
        while !done(self) {
            if self.next_wake().is_none_or(|t| t > end) || !self.turn(app) {
                return done(self);
            }
        }
        true
    }
}
