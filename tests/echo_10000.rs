//! Ten thousand peers on one echo server, simulated: 10,000 client peer connections and the server's
//! 10,000 connections in one `sansrtc::router::Router` (ICE lite, one shared socket address), over an
//! in-memory network with virtual time (a fixed one-way delay). Every client connects, opens a data
//! channel and sends three rounds of four messages; every echo comes back intact; and memory is bounded:
//! each of the server's connections holds less than [`SERVER_HEAP_PER_PEER`], and the heap does not grow
//! from one round to the next, measured with a counting global allocator.

use std::alloc::System;

extern crate alloc;
use alloc::collections::{BinaryHeap, VecDeque};

use core::cmp::Reverse;
use core::net::SocketAddr;
use core::time::Duration;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

use bytes::Bytes;
use sansrtc::dtls::Certificate;
use sansrtc::pc::{ChannelId, ChannelOptions, Config, ConnectionState, Event as PcEvent, PeerConnection};
use sansrtc::router::{self, Event, Router};
use sansrtc::{Datagram, Instant, Machine, PathMachine, SeededRng};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const PEERS: usize = 10_000;
/// One way, each direction.
const DELAY: Duration = Duration::from_millis(5);
/// The heap one server connection may hold once connected and echoing, the router's share included:
/// 24,557 bytes measured half a second after a round of echoes (an idle one whose buffers settled holds
/// about 16 KiB, `tests/pc_memory.rs`).
const SERVER_HEAP_PER_PEER: isize = 32 * 1024;
/// Messages per client per round (two of 1 KiB, two of 40 bytes).
const ROUND: usize = 4;

fn server_addr() -> SocketAddr {
    "10.0.0.1:5000".parse().unwrap()
}

fn client_addr(i: usize) -> SocketAddr {
    SocketAddr::from(([10, 1 + (i / 62_500) as u8, (i / 250 % 250) as u8, (i % 250 + 1) as u8], 5000))
}

fn seed(i: u64, salt: u8) -> SeededRng {
    let mut s = [salt; 32];
    s[..8].copy_from_slice(&i.to_le_bytes());
    SeededRng::from_seed(s)
}

/// Message `k` of client `i`: 1 KiB for even `k`, 40 bytes for odd ones, each byte depending on both.
fn message(i: usize, k: usize) -> Bytes {
    let len = if k % 2 == 0 { 1024 } else { 40 };
    Bytes::from((0..len).map(|j| (i * 131 + k * 17 + j) as u8).collect::<Vec<u8>>())
}

/// A datagram on its way: when it arrives, to whom (`None`: the server), from where, to where.
struct Flight {
    at: Instant,
    to: Option<usize>,
    source: SocketAddr,
    destination: SocketAddr,
    data: Vec<u8>,
}

struct Client {
    pc: PeerConnection,
    channel: ChannelId,
    open: bool,
    sent: usize,
    echoed: usize,
    corrupt: usize,
    /// The deadline filed for it in [`Net::deadlines`] (an entry for any other time is stale).
    filed: Option<Instant>,
}

/// The server's router, the clients, and the network between them. Every datagram takes [`DELAY`], so
/// the flights arrive in the order they were sent (a queue, not a heap). The clients' deadlines are in a
/// heap with lazy removal: an entry is acted on only if it is the one last filed for its client.
struct Net {
    router: Router<PeerConnection>,
    clients: Vec<Client>,
    flights: VecDeque<Flight>,
    deadlines: BinaryHeap<Reverse<(Instant, usize)>>,
    now: Instant,
    /// Messages each client sends when told to ([`Net::send_round`]).
    round: usize,
}

impl Net {
    fn send(&mut self, to: Option<usize>, source: SocketAddr, destination: SocketAddr, data: Vec<u8>) {
        self.flights.push_back(Flight { at: self.now + DELAY, to, source, destination, data });
    }

    fn client_of(addr: SocketAddr) -> Option<usize> {
        let [a, b, c, d] = match addr.ip() {
            core::net::IpAddr::V4(v4) => v4.octets(),
            core::net::IpAddr::V6(_) => return None,
        };
        (a == 10 && b >= 1 && d >= 1).then(|| (b as usize - 1) * 62_500 + c as usize * 250 + d as usize - 1)
    }

    /// The server's side of the README loop: transmits drained, events drained (every message echoed on
    /// its channel), transmits again.
    fn drain_server(&mut self) {
        let now = self.now;
        let mut out = Vec::new();
        loop {
            while let Some((_, t)) = self.router.poll_transmit() {
                out.push((t.source, t.destination, t.contents.to_vec()));
            }
            let mut any = false;
            while let Some((key, event)) = self.router.poll_event() {
                any = true;
                match event {
                    Event::Connection(PcEvent::Message { id, data, binary }) => {
                        let sent = self.router.update(now, key, |pc| pc.send(now, id, data, binary));
                        assert!(matches!(sent, Some(Ok(()))), "echo refused: {sent:?}");
                    }
                    Event::Reaped(reason) => panic!("connection {key} reaped: {reason:?}"),
                    _ => {}
                }
            }
            if !any {
                break;
            }
        }
        for (source, destination, data) in out {
            let to = Net::client_of(destination);
            self.send(to, source, destination, data);
        }
    }

    /// Client `i`'s side of the README loop after an input or a deadline; its next deadline filed.
    fn drain_client(&mut self, i: usize) {
        let now = self.now;
        let round = self.round;
        let c = &mut self.clients[i];
        let mut out = Vec::new();
        while let Some(t) = c.pc.poll_transmit() {
            out.push((t.source, t.destination, t.contents.to_vec()));
        }
        while let Some(e) = c.pc.poll_event() {
            match e {
                PcEvent::ChannelOpen(id) if id == c.channel => {
                    c.open = true;
                    for k in 0..round {
                        c.pc.send(now, id, message(i, k), k % 2 == 0).unwrap();
                        c.sent += 1;
                    }
                }
                PcEvent::Message { data, .. } => {
                    if data != message(i, c.echoed) {
                        c.corrupt += 1;
                    }
                    c.echoed += 1;
                }
                _ => {}
            }
        }
        while let Some(t) = c.pc.poll_transmit() {
            out.push((t.source, t.destination, t.contents.to_vec()));
        }
        let deadline = c.pc.poll_timeout();
        if deadline.is_some() && deadline != c.filed {
            c.filed = deadline;
            self.deadlines.extend(deadline.map(|t| Reverse((t, i))));
        }
        for (source, destination, data) in out {
            self.send(None, source, destination, data);
        }
    }

    /// One step: to the next arrival or deadline, then everything due then. `false` if nothing is left.
    fn step(&mut self) -> bool {
        let next = [
            self.flights.front().map(|f| f.at),
            self.router.poll_timeout(),
            self.deadlines.peek().map(|Reverse((t, _))| *t),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = next else { return false };
        self.now = self.now.max(next);
        let now = self.now;
        let mut touched = Vec::new();
        while self.flights.front().is_some_and(|f| f.at <= now) {
            let Some(f) = self.flights.pop_front() else { break };
            let d = Datagram { source: f.source, destination: f.destination, contents: &f.data };
            match f.to {
                None => {
                    let routed = self.router.handle_receive(now, d);
                    assert!(routed.is_ok(), "a datagram the router did not take: {routed:?}");
                }
                Some(i) => {
                    let _ = self.clients[i].pc.handle_receive(now, d);
                    touched.push(i);
                }
            }
        }
        if self.router.poll_timeout().is_some_and(|t| t <= now) {
            self.router.handle_timeout(now);
        }
        self.drain_server();
        while let Some(&Reverse((t, i))) = self.deadlines.peek() {
            if t > now {
                break;
            }
            self.deadlines.pop();
            // Stale entries (the client's deadline moved) are dropped; the live one is acted on.
            let c = &mut self.clients[i];
            if c.filed == Some(t) {
                c.filed = None;
                if c.pc.poll_timeout().is_some_and(|d| d <= now) {
                    c.pc.handle_timeout(now);
                }
                touched.push(i);
            }
        }
        touched.sort_unstable();
        touched.dedup();
        for i in touched {
            self.drain_client(i);
        }
        true
    }

    fn run_until(&mut self, limit: Duration, what: &str, mut done: impl FnMut(&Net) -> bool) {
        let end = self.now + limit;
        while !done(self) {
            assert!(self.now < end, "{what}: not done after {limit:?} of virtual time");
            assert!(self.step(), "{what}: nothing left to wait for");
        }
    }

    /// Every client sends `n` more messages (numbered on from those it sent).
    fn send_round(&mut self, n: usize) {
        let now = self.now;
        for i in 0..self.clients.len() {
            let c = &mut self.clients[i];
            for _ in 0..n {
                let k = c.sent;
                c.pc.send(now, c.channel, message(i, k), k % 2 == 0).unwrap();
                c.sent += 1;
            }
            self.drain_client(i);
        }
    }
}

/// Bytes allocated and not freed since the region began.
fn live(region: &Region<'_, System>) -> isize {
    let s = region.change();
    s.bytes_allocated as isize - s.bytes_deallocated as isize
}

#[test]
fn ten_thousand_peers_connect_and_every_echo_is_intact() {
    let started = std::time::Instant::now();
    let region = Region::new(GLOBAL);
    let server_cert = Certificate::generate(&mut seed(0, 1));
    let client_cert = Certificate::generate(&mut seed(0, 2));
    let config = router::Config { max_connections: PEERS, ..router::Config::default() };
    let mut net = Net {
        router: Router::new(config, seed(1, 3)),
        clients: Vec::with_capacity(PEERS),
        flights: VecDeque::new(),
        deadlines: BinaryHeap::new(),
        now: Instant::ZERO,
        round: ROUND,
    };
    // Offers answered and filed in the router, the clients joining 1,000 per 100 ms of virtual time.
    for i in 0..PEERS {
        if i > 0 && i % 1000 == 0 {
            let until = net.now + Duration::from_millis(100);
            net.run_until(Duration::from_secs(1), "the next joining time", |n| n.now >= until);
        }
        let now = net.now;
        let mut pc = PeerConnection::new(
            Config { certificate: Some(client_cert.clone()), ..Config::default() },
            seed(i as u64, 4),
        );
        pc.add_local_host(now, client_addr(i)).unwrap();
        pc.end_of_local_candidates(now);
        let channel = pc.create_data_channel(now, ChannelOptions::new("echo")).unwrap();
        let offer = pc.create_offer().unwrap();
        pc.set_local_description(now, &offer).unwrap();
        let mut server_config = Config { certificate: Some(server_cert.clone()), ..Config::default() };
        server_config.ice.lite = true;
        let mut server = PeerConnection::new(server_config, seed(i as u64, 5));
        server.add_local_host(now, server_addr()).unwrap();
        server.end_of_local_candidates(now);
        server.set_remote_description(now, &offer).unwrap();
        let answer = server.create_answer().unwrap();
        server.set_local_description(now, &answer).unwrap();
        pc.set_remote_description(now, &answer).unwrap();
        net.router.insert(now, server).unwrap();
        net.clients.push(Client { pc, channel, open: false, sent: 0, echoed: 0, corrupt: 0, filed: None });
        net.drain_client(i);
    }
    assert_eq!(net.router.len(), PEERS);
    net.run_until(Duration::from_secs(30), "every echo of the first round", |n| {
        n.clients.iter().all(|c| c.open && c.echoed == ROUND)
    });
    let connected = net.now;
    println!(
        "{PEERS} peers connected and echoed {ROUND} messages each by {connected:?} of virtual time ({:?} real)",
        started.elapsed()
    );
    // Idle past the first keepalives and consent checks (2.5 s and 5 s), whose state is made once, then
    // the same round twice: the heap does not grow from one to the next.
    let idle = net.now + Duration::from_secs(6);
    net.run_until(Duration::from_secs(7), "idling", |n| n.now >= idle);
    let mut heap = Vec::new();
    for round in 2..=3 {
        net.send_round(ROUND);
        net.run_until(Duration::from_secs(30), "every echo of another round", |n| {
            n.clients.iter().all(|c| c.echoed == round * ROUND)
        });
        // Let the last acknowledgements land.
        let settle = net.now + Duration::from_millis(500);
        net.run_until(Duration::from_secs(1), "settling", |n| n.now >= settle);
        heap.push(live(&region));
    }
    for (i, c) in net.clients.iter().enumerate() {
        assert_eq!((c.sent, c.echoed, c.corrupt), (3 * ROUND, 3 * ROUND, 0), "client {i}: every echo, intact");
        assert_eq!(c.pc.connection_state(), ConnectionState::Connected, "client {i}");
    }
    let stats = net.router.stats();
    assert_eq!(stats.unknown_path, 0);
    assert_eq!(net.router.len(), PEERS);
    assert_eq!(net.router.path_count(), PEERS);
    // The server's share of the heap: what dropping its router gives back.
    let before_drop = live(&region);
    let router = core::mem::replace(&mut net.router, Router::new(router::Config::default(), seed(9, 9)));
    drop(router);
    let server_heap = before_drop - live(&region);
    let per_peer = server_heap / PEERS as isize;
    let growth = (heap[1] - heap[0]) / PEERS as isize;
    println!(
        "heap after round 2 {} bytes, after round 3 {} ({growth:+} per peer, both sides); the server's \
         connections and router: {server_heap} bytes, {per_peer} per peer; {:?} real in all",
        heap[0],
        heap[1],
        started.elapsed()
    );
    assert!(per_peer < SERVER_HEAP_PER_PEER, "{per_peer} bytes per server connection");
    // Client and server together: nothing accumulates per message (a little slack for state that
    // timers make on their own schedule: about 110 bytes per peer measured with 1,000 peers).
    assert!(growth < 512, "the heap grew by {growth} bytes per peer over one more round");
}
