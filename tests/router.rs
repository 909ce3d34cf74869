//! The router (`sansrtc::router`): datagrams routed by ufrag before ICE and by path after, with 10,000
//! connections; an ICE restart moves the ufrag key; ended connections are reaped; and many connections
//! driven through one router by the README loop to the letter never stall.

use core::cmp::Reverse;
use core::net::SocketAddr;
use core::time::Duration;
extern crate alloc;
use alloc::collections::BinaryHeap;
use std::collections::HashMap;

use bytes::Bytes;
use sansrtc::dtls::Certificate;
use sansrtc::pc::{ChannelId, ChannelOptions, Config, ConnectionState, Description, Event as PcEvent, PeerConnection};
use sansrtc::router::{self, Event, Key, Reason, RouteError, Router};
use sansrtc::stun::{Attribute, Class, MessageBuilder, MessageType, Method, TransactionId};
use sansrtc::{Datagram, Instant, Machine, PathMachine, SeededRng};

const SERVER: &str = "10.0.0.1:5000";

fn server_addr() -> SocketAddr {
    SERVER.parse().unwrap()
}

fn client_addr(i: usize) -> SocketAddr {
    SocketAddr::from(([10, 1, (i / 250) as u8, (i % 250 + 1) as u8], 5000))
}

fn seed(i: u64, salt: u8) -> SeededRng {
    let mut s = [salt; 32];
    s[..8].copy_from_slice(&i.to_le_bytes());
    SeededRng::from_seed(s)
}

/// A STUN binding request whose USERNAME starts with `ufrag` (not authenticated: for routing only).
fn check(ufrag: &str, rng: &mut SeededRng) -> Vec<u8> {
    let mut out = Vec::new();
    let typ = MessageType::new(Method::BINDING, Class::Request);
    let mut b = MessageBuilder::new(&mut out, typ, TransactionId::random(rng)).unwrap();
    b.add(Attribute::Username(&format!("{ufrag}:peer"))).unwrap();
    b.fingerprint().unwrap();
    b.finish();
    out
}

/// A DTLS-looking datagram (RFC 7983: first byte 20..=63).
const DTLS: &[u8] = &[23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9, 0, 1, 0];

/// The server's connections: ICE lite on the shared socket, one certificate for all.
fn server_config(cert: &Certificate) -> Config {
    let mut config = Config::default();
    config.ice.lite = true;
    config.certificate = Some(cert.clone());
    config
}

fn client_config(cert: &Certificate) -> Config {
    Config { certificate: Some(cert.clone()), ..Config::default() }
}

/// A datagram on its way, ordered by arrival.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Flight {
    at: Instant,
    seq: u64,
    /// `None`: to the server (the router); `Some(i)`: to client `i`.
    to: Option<usize>,
    source: SocketAddr,
    destination: SocketAddr,
    data: Vec<u8>,
}

struct Client {
    pc: PeerConnection,
    addr: SocketAddr,
    key: Option<Key>,
    chat: ChannelId,
    /// Delivers nothing and sends nothing once it has gone away.
    gone: bool,
    open: bool,
    sent: usize,
    echoed: usize,
    corrupt: usize,
}

fn message(client: usize, n: usize) -> Bytes {
    let mut v = vec![0u8; 1024];
    for (k, b) in v.iter_mut().enumerate() {
        *b = (client * 131 + n * 7 + k) as u8;
    }
    Bytes::from(v)
}

/// One router serving many clients over a link with a delay and seeded loss, driven by the README loop
/// to the letter: input, timers when due, transmits drained once, events drained once (the server echoes
/// every message), then sleep until the next arrival or deadline. After each turn the router's contract
/// is checked: a transmit owed now is announced by `poll_timeout`.
struct Net {
    router: Router<PeerConnection>,
    clients: Vec<Client>,
    by_addr: HashMap<SocketAddr, usize>,
    flights: BinaryHeap<Reverse<Flight>>,
    now: Instant,
    delay: Duration,
    loss_ppm: u64,
    rng: SeededRng,
    seq: u64,
    /// Messages each client sends once its channel is open.
    per_client: usize,
    reaped: Vec<(Key, Reason)>,
    server_events: usize,
    same_instant: u64,
    /// Every check the server received: when, the ufrag it named, and whether a connection took it.
    checks: Vec<(Instant, String, bool)>,
}

impl Net {
    fn new(delay: Duration, loss: f64, per_client: usize) -> Net {
        let config = router::Config { max_connections: 20_000, ..router::Config::default() };
        Net {
            router: Router::new(config, seed(1, 0xaa)),
            clients: Vec::new(),
            by_addr: HashMap::new(),
            flights: BinaryHeap::new(),
            now: Instant::ZERO,
            delay,
            loss_ppm: (loss * 1e6) as u64,
            rng: seed(2, 0xbb),
            seq: 0,
            per_client,
            reaped: Vec::new(),
            server_events: 0,
            same_instant: 0,
            checks: Vec::new(),
        }
    }

    /// A client that offers a channel, answered by a new server connection filed in the router.
    fn add_client(&mut self, cert: &Certificate) -> usize {
        self.add_client_at(cert, client_addr(self.clients.len()))
    }

    /// [`Net::add_client`] at a given address (which a later client may reuse).
    fn add_client_at(&mut self, cert: &Certificate, addr: SocketAddr) -> usize {
        let i = self.clients.len();
        let now = self.now;
        let mut pc = PeerConnection::new(client_config(cert), seed(i as u64, 0x11));
        pc.add_local_host(now, addr).unwrap();
        pc.end_of_local_candidates(now);
        let chat = pc.create_data_channel(now, ChannelOptions::new("chat")).unwrap();
        let offer = pc.create_offer().unwrap();
        pc.set_local_description(now, &offer).unwrap();
        let mut server = PeerConnection::new(server_config(cert), seed(i as u64, 0x22));
        server.add_local_host(now, server_addr()).unwrap();
        server.end_of_local_candidates(now);
        server.set_remote_description(now, &offer).unwrap();
        let answer = server.create_answer().unwrap();
        server.set_local_description(now, &answer).unwrap();
        pc.set_remote_description(now, &answer).unwrap();
        let key = self.router.insert(now, server).unwrap();
        self.by_addr.insert(addr, i);
        self.clients.push(Client {
            pc,
            addr,
            key: Some(key),
            chat,
            gone: false,
            open: false,
            sent: 0,
            echoed: 0,
            corrupt: 0,
        });
        i
    }

    fn send(&mut self, to: Option<usize>, source: SocketAddr, destination: SocketAddr, data: Vec<u8>) {
        if self.loss_ppm > 0 && self.rng.below(1_000_000) < self.loss_ppm {
            return;
        }
        self.seq += 1;
        let at = self.now + self.delay;
        self.flights.push(Reverse(Flight { at, seq: self.seq, to, source, destination, data }));
    }

    fn drain_router(&mut self) -> usize {
        let mut out = Vec::new();
        while let Some((_, t)) = self.router.poll_transmit() {
            out.push((t.source, t.destination, t.contents.to_vec()));
        }
        let n = out.len();
        for (source, destination, data) in out {
            let to = self.by_addr.get(&destination).copied();
            self.send(to, source, destination, data);
        }
        n
    }

    fn next_wake(&self) -> Option<Instant> {
        let arrival = self.flights.peek().map(|Reverse(f)| f.at);
        let clients = self.clients.iter().filter(|c| !c.gone).filter_map(|c| c.pc.poll_timeout());
        [arrival, self.router.poll_timeout()].into_iter().flatten().chain(clients).min()
    }

    /// One turn of the loop; `false` when nothing is left to wait for.
    fn turn(&mut self) -> bool {
        let Some(wake) = self.next_wake() else { return false };
        if wake <= self.now {
            self.same_instant += 1;
            assert!(self.same_instant < 100_000, "busy loop at {:?}", self.now);
        } else {
            self.same_instant = 0;
        }
        self.now = self.now.max(wake);
        let now = self.now;
        // 1. Input.
        while self.flights.peek().is_some_and(|Reverse(f)| f.at <= now) {
            let Some(Reverse(f)) = self.flights.pop() else { break };
            let datagram = Datagram { source: f.source, destination: f.destination, contents: &f.data };
            match f.to {
                None => {
                    let took = self.router.handle_receive(now, datagram).is_ok();
                    if let Some(ufrag) = sansrtc::pc::stun_username_local_ufrag(&f.data) {
                        self.checks.push((now, ufrag.to_string(), took));
                    }
                }
                Some(i) if !self.clients[i].gone => {
                    let _ = self.clients[i].pc.handle_receive(now, datagram);
                }
                Some(_) => {}
            }
        }
        // 2. Timers.
        if self.router.poll_timeout().is_some_and(|t| t <= now) {
            self.router.handle_timeout(now);
        }
        // 3. Transmits, once.
        self.drain_router();
        // 4. Events, once: echo every message.
        while let Some((key, event)) = self.router.poll_event() {
            self.server_events += 1;
            match event {
                Event::Connection(PcEvent::Message { id, data, binary }) => {
                    self.router.update(now, key, |pc| pc.send(now, id, data, binary).unwrap()).unwrap();
                }
                Event::Reaped(reason) => self.reaped.push((key, reason)),
                _ => {}
            }
        }
        // The contract, checked: whatever is owed now was announced.
        let announced = self.router.poll_timeout().is_some_and(|t| t <= now);
        self.router.handle_timeout(now);
        let owed = self.drain_router();
        assert!(announced || owed == 0, "the router owed {owed} datagrams at {now:?} without announcing them");
        // The clients, the same way.
        for i in 0..self.clients.len() {
            if self.clients[i].gone {
                continue;
            }
            let c = &mut self.clients[i];
            if c.pc.poll_timeout().is_some_and(|t| t <= now) {
                c.pc.handle_timeout(now);
            }
            let mut out = Vec::new();
            while let Some(t) = c.pc.poll_transmit() {
                out.push((t.source, t.destination, t.contents.to_vec()));
            }
            while let Some(e) = c.pc.poll_event() {
                match e {
                    PcEvent::ChannelOpen(id) if id == c.chat => {
                        c.open = true;
                        for n in 0..self.per_client {
                            c.pc.send(now, id, message(i, n), true).unwrap();
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
            for (source, destination, data) in out {
                self.send(None, source, destination, data);
            }
        }
        true
    }

    /// Turns until `done` holds; panics after `limit` of virtual time.
    fn run_until(&mut self, limit: Duration, what: &str, mut done: impl FnMut(&Net) -> bool) {
        let end = self.now + limit;
        while !done(self) {
            assert!(self.now < end, "{what}: not done after {limit:?}");
            assert!(self.turn(), "{what}: nothing left to wait for");
        }
    }

    fn connected(&self, i: usize) -> bool {
        let c = &self.clients[i];
        c.pc.connection_state() == ConnectionState::Connected
            && c.key
                .and_then(|k| self.router.get(k))
                .is_some_and(|s| s.connection_state() == ConnectionState::Connected)
    }
}

fn ufrag_of(router: &Router<PeerConnection>, key: Key) -> String {
    router.get(key).unwrap().local_ufrag().to_string()
}

#[test]
fn lookup_before_and_after_ice_with_10000_connections() {
    let cert = Certificate::generate(&mut seed(0, 1));
    let mut net = Net::new(Duration::from_millis(5), 0.0, 3);
    // 9,990 connections that never connect (cheap: nothing negotiated), and 10 real clients.
    let mut idle = Vec::new();
    for i in 0..9_990u64 {
        let pc = PeerConnection::new(server_config(&cert), seed(i, 0x33));
        idle.push(net.router.insert(net.now, pc).unwrap());
    }
    let real: Vec<usize> = (0..10).map(|_| net.add_client(&cert)).collect();
    assert_eq!(net.router.len(), 10_000);
    // Before ICE: every connection is found by its ufrag, from any address; unknown ufrags by none.
    let mut rng = seed(9, 9);
    let from: SocketAddr = "203.0.113.9:40000".parse().unwrap();
    let checks: Vec<(Key, Vec<u8>)> =
        net.router.keys().map(|k| (k, check(&ufrag_of(&net.router, k), &mut rng))).collect();
    // Timed one by one, each datagram copied into one buffer first (a received datagram is in cache).
    let mut buffer = [0u8; 256];
    let mut spent = Duration::ZERO;
    for (key, data) in &checks {
        buffer[..data.len()].copy_from_slice(data);
        let d = Datagram { source: from, destination: server_addr(), contents: &buffer[..data.len()] };
        let started = std::time::Instant::now();
        let routed = net.router.route(&d);
        spent += started.elapsed();
        assert_eq!(routed, Some(*key));
    }
    let per_lookup = spent / checks.len() as u32;
    println!("ufrag lookup among 10,000 connections: {per_lookup:?} per datagram (this build)");
    let stranger = check("nobodys-ufrag", &mut rng);
    let d = Datagram { source: from, destination: server_addr(), contents: &stranger };
    assert_eq!(net.router.route(&d), None);
    assert_eq!(net.router.handle_receive(net.now, d), Err(RouteError::NotMine));
    // A check with a known ufrag but no valid integrity reaches its connection, which rejects it, and
    // teaches the router nothing: DTLS from that address is still nobody's.
    let (key, data) = &checks[17];
    let d = Datagram { source: from, destination: server_addr(), contents: data };
    assert!(matches!(net.router.handle_receive(net.now, d), Err(RouteError::Rejected(k, _)) if k == *key));
    let d = Datagram { source: from, destination: server_addr(), contents: DTLS };
    assert_eq!(net.router.route(&d), None);
    // Non-STUN from the clients' addresses: nobody's before ICE.
    for &i in &real {
        let d = Datagram { source: net.clients[i].addr, destination: server_addr(), contents: DTLS };
        assert_eq!(net.router.route(&d), None);
    }

    // ICE, DTLS, SCTP and the echoes, all through the router.
    net.run_until(Duration::from_secs(30), "connect and echo", |n| {
        real.iter().all(|&i| n.connected(i) && n.clients[i].echoed == 3)
    });
    // After ICE: DTLS from each client's address finds its connection by path, from another port none.
    let started = std::time::Instant::now();
    let mut found = 0;
    for _ in 0..1000 {
        for &i in &real {
            let d = Datagram { source: net.clients[i].addr, destination: server_addr(), contents: DTLS };
            found += usize::from(net.router.route(&d) == net.clients[i].key);
        }
    }
    let per_lookup = started.elapsed() / 10_000;
    println!("path lookup among 10,000 connections: {per_lookup:?} per datagram (this build)");
    assert_eq!(found, 10_000);
    for &i in &real {
        let mut elsewhere = net.clients[i].addr;
        elsewhere.set_port(5001);
        let d = Datagram { source: elsewhere, destination: server_addr(), contents: DTLS };
        assert_eq!(net.router.route(&d), None);
        assert_eq!(net.clients[i].corrupt, 0);
    }
    // The idle ones are still found by ufrag, and nothing was reaped (30 s have not passed).
    for (key, data) in checks.iter().step_by(97) {
        let d = Datagram { source: from, destination: server_addr(), contents: data };
        assert_eq!(net.router.route(&d), Some(*key));
    }
    assert!(net.reaped.is_empty());
    assert_eq!(net.router.path_count(), 10, "one path per connected client");
    println!(
        "router footprint with 10,000 connections: {} bytes ({} per connection)",
        net.router.footprint(),
        net.router.footprint() / 10_000
    );
    // Then the 9,990 never connected and are given up at their connect timeout, and reaped.
    net.run_until(Duration::from_secs(60), "reap the idle ones", |n| n.reaped.len() == 9_990);
    assert!(net.reaped.iter().all(|(k, r)| *r == Reason::NotConnected && idle.contains(k)));
    assert_eq!(net.router.len(), 10);
    assert_eq!(net.router.stats().not_connected, 9_990);
    let (key, data) = &checks[0];
    let d = Datagram { source: from, destination: server_addr(), contents: data };
    assert_eq!(net.router.route(&d), None);
    assert!(net.router.get(*key).is_none());
    assert!(real.iter().all(|&i| net.connected(i)));
}

#[test]
fn an_ice_restart_changes_the_key() {
    let cert = Certificate::generate(&mut seed(0, 2));
    let mut net = Net::new(Duration::from_millis(10), 0.0, 2);
    let i = net.add_client(&cert);
    let other = net.add_client(&cert);
    net.run_until(Duration::from_secs(10), "connect", |n| n.connected(i) && n.clients[i].echoed == 2);
    let key = net.clients[i].key.unwrap();
    let old = ufrag_of(&net.router, key);
    // The client restarts ICE and offers; the server's connection answers with new credentials.
    let now = net.now;
    let c = &mut net.clients[i].pc;
    c.restart_ice(now);
    let offer = c.create_offer().unwrap();
    c.set_local_description(now, &offer).unwrap();
    let answer = net
        .router
        .update(now, key, |pc| {
            pc.set_remote_description(now, &offer).unwrap();
            let answer = pc.create_answer().unwrap();
            pc.set_local_description(now, &answer).unwrap();
            answer
        })
        .unwrap();
    net.clients[i].pc.set_remote_description(now, &Description::answer(answer.sdp)).unwrap();
    let new = ufrag_of(&net.router, key);
    assert_ne!(old, new);
    let mut rng = seed(3, 3);
    let from = net.clients[i].addr;
    let route = |net: &Net, ufrag: &str, rng: &mut SeededRng| {
        let data = check(ufrag, rng);
        net.router.route(&Datagram { source: from, destination: server_addr(), contents: &data })
    };
    assert_eq!(route(&net, &old, &mut rng), None, "the old ufrag routes nowhere");
    assert_eq!(route(&net, &new, &mut rng), Some(key), "the new one routes to the connection");
    // The other connection is untouched.
    let other_key = net.clients[other].key.unwrap();
    assert_eq!(route(&net, &ufrag_of(&net.router, other_key), &mut rng), Some(other_key));
    // The restarted connection goes on: checks with the new ufrag reach it, and messages still echo.
    let restarted = net.now;
    let now = net.now;
    let c = &mut net.clients[i];
    c.pc.send(now, c.chat, message(i, 2), true).unwrap();
    net.clients[i].sent += 1;
    net.run_until(Duration::from_secs(10), "echo after the restart", |n| n.clients[i].echoed == 3);
    net.run_until(Duration::from_secs(10), "checks after the restart", |n| {
        n.checks.iter().filter(|(t, u, took)| *t > restarted && *u == new && *took).count() >= 3
    });
    assert!(net.connected(i));
    // Checks with the old ufrag that arrived after the answer (sent before it) were nobody's.
    for (t, u, took) in &net.checks {
        if *t > restarted && *u == old {
            assert!(!took, "a check with the old ufrag was taken at {t:?}");
        }
    }
    assert_eq!(net.clients[i].corrupt, 0);
}

#[test]
fn stale_and_closed_connections_are_reaped() {
    let cert = Certificate::generate(&mut seed(0, 3));
    let mut net = Net::new(Duration::from_millis(10), 0.0, 1);
    let (vanishes, closes, stays) = (net.add_client(&cert), net.add_client(&cert), net.add_client(&cert));
    net.run_until(Duration::from_secs(10), "connect", |n| (0..3).all(|i| n.connected(i)));
    let keys: Vec<Key> = net.clients.iter().map(|c| c.key.unwrap()).collect();
    // One client closes: the server's connection sees close_notify, closes, and is reaped.
    let now = net.now;
    net.clients[closes].pc.close(now);
    net.run_until(Duration::from_secs(5), "the closed one reaped", |n| !n.reaped.is_empty());
    assert_eq!(net.reaped, vec![(keys[closes], Reason::Closed)]);
    assert!(net.router.get(keys[closes]).is_none());
    net.clients[closes].gone = true;
    // Another vanishes (no close: its datagrams stop): consent freshness fails the server's connection,
    // which is reaped; its path and ufrag no longer route.
    net.clients[vanishes].gone = true;
    let went = net.now;
    net.run_until(Duration::from_secs(60), "the vanished one reaped", |n| n.reaped.len() == 2);
    assert_eq!(net.reaped[1], (keys[vanishes], Reason::Failed));
    println!("a vanished peer was reaped after {:?}", net.now.saturating_duration_since(went));
    let d = Datagram { source: net.clients[vanishes].addr, destination: server_addr(), contents: DTLS };
    assert_eq!(net.router.route(&d), None);
    assert_eq!(net.router.len(), 1);
    assert_eq!(net.router.path_count(), 1);
    // The one that stayed is still connected and echoing (its keepalives kept it alive).
    assert!(net.connected(stays));
    let now = net.now;
    let c = &mut net.clients[stays];
    c.pc.send(now, c.chat, message(stays, 1), true).unwrap();
    net.run_until(Duration::from_secs(5), "echo", |n| n.clients[stays].echoed == 2);
    assert_eq!(net.router.stats().reaped, 2);
}

#[test]
fn the_readme_loop_over_the_router_never_stalls() {
    let cert = Certificate::generate(&mut seed(0, 4));
    // 40 clients, 2 % loss each way, 20 ms one way; 40 messages of 1 KiB each, all echoed.
    let mut net = Net::new(Duration::from_millis(20), 0.02, 40);
    for _ in 0..40 {
        net.add_client(&cert);
    }
    net.run_until(Duration::from_secs(120), "every echo back", |n| n.clients.iter().all(|c| c.echoed == 40));
    for c in &net.clients {
        assert_eq!((c.sent, c.echoed, c.corrupt), (40, 40, 0));
    }
    assert!(net.reaped.is_empty());
    assert_eq!(net.router.stats().unknown_path, 0);
    println!("40 clients echoed 1,600 messages by {:?} of virtual time", net.now);
}

#[test]
fn a_new_session_from_the_same_address_takes_the_path_over() {
    let cert = Certificate::generate(&mut seed(0, 5));
    let mut net = Net::new(Duration::from_millis(10), 0.0, 2);
    let first = net.add_client(&cert);
    net.run_until(Duration::from_secs(10), "connect", |n| n.connected(first) && n.clients[first].echoed == 2);
    // The first client vanishes without closing; a new one comes from the same address and port (a
    // reloaded page behind the same NAT mapping) while the server's first connection still lives.
    net.clients[first].gone = true;
    let addr = net.clients[first].addr;
    let second = net.add_client_at(&cert, addr);
    let (old_key, new_key) = (net.clients[first].key, net.clients[second].key);
    net.run_until(Duration::from_secs(10), "the second connects", |n| {
        n.connected(second) && n.clients[second].echoed == 2
    });
    let dtls = |net: &Net| net.router.route(&Datagram { source: addr, destination: server_addr(), contents: DTLS });
    assert_eq!(dtls(&net), new_key, "the second session's checks took the path over");
    assert!(net.router.stats().paths_dropped >= 1);
    // The first connection lives on until its peer is given up; it does not take the path back.
    assert!(net.router.get(old_key.unwrap()).is_some());
    net.run_until(Duration::from_secs(60), "the first reaped", |n| !n.reaped.is_empty());
    assert_eq!(net.reaped, vec![(old_key.unwrap(), Reason::Failed)]);
    assert_eq!(dtls(&net), new_key);
    let now = net.now;
    let c = &mut net.clients[second];
    c.pc.send(now, c.chat, message(second, 2), true).unwrap();
    net.run_until(Duration::from_secs(5), "echo on the second", |n| n.clients[second].echoed == 3);
    assert!(net.connected(second));
    assert_eq!(net.clients[second].corrupt, 0);
}

#[test]
fn paused_events_stay_in_the_connection_until_resumed() {
    let cert = Certificate::generate(&mut seed(0, 6));
    let mut net = Net::new(Duration::from_millis(10), 0.0, 0);
    let (a, b) = (net.add_client(&cert), net.add_client(&cert));
    net.run_until(Duration::from_secs(10), "open", |n| n.clients[a].open && n.clients[b].open);
    let key_a = net.clients[a].key.unwrap();
    net.router.pause_events(key_a, true).unwrap();
    let now = net.now;
    for i in [a, b] {
        let c = &mut net.clients[i];
        for n in 0..20 {
            c.pc.send(now, c.chat, message(i, n), true).unwrap();
            c.sent += 1;
        }
    }
    net.run_until(Duration::from_secs(5), "b echoed", |n| n.clients[b].echoed == 20);
    let until = net.now + Duration::from_secs(2);
    net.run_until(Duration::from_secs(5), "a while", |n| n.now >= until);
    assert_eq!(net.clients[a].echoed, 0, "a's messages wait in its connection");
    net.router.pause_events(key_a, false).unwrap();
    net.run_until(Duration::from_secs(5), "a echoed", |n| n.clients[a].echoed == 20);
    assert_eq!((net.clients[a].corrupt, net.clients[b].corrupt), (0, 0));
}

#[test]
fn junk_is_nobodys_and_never_panics() {
    let cert = Certificate::generate(&mut seed(0, 7));
    let mut net = Net::new(Duration::from_millis(10), 0.0, 1);
    let a = net.add_client(&cert);
    net.run_until(Duration::from_secs(10), "open", |n| n.connected(a) && n.clients[a].echoed == 1);
    let ufrag = ufrag_of(&net.router, net.clients[a].key.unwrap());
    let mut rng = seed(8, 8);
    let good = check(&ufrag, &mut rng);
    let from: SocketAddr = "203.0.113.1:9".parse().unwrap();
    let mut mine = 0;
    let before = net.router.stats();
    for n in 0..20_000u32 {
        // Truncations and corruptions of a check naming a live connection, and random STUN-like bytes.
        let mut data = if n % 2 == 0 {
            let mut d = good.clone();
            let cut = rng.below(d.len() as u64 + 1) as usize;
            d.truncate(cut);
            d
        } else {
            let mut d = vec![0u8; rng.below(120) as usize];
            rng.fill(&mut d);
            if d.len() >= 8 {
                d[0] &= 3;
                d[4..8].copy_from_slice(&0x2112_A442u32.to_be_bytes());
            }
            d
        };
        if !data.is_empty() && n % 3 == 0 {
            let i = rng.below(data.len() as u64) as usize;
            data[i] ^= 1 << rng.below(8);
        }
        let d = Datagram { source: from, destination: server_addr(), contents: &data };
        match net.router.handle_receive(net.now, d) {
            Ok(_) => panic!("junk taken"),
            Err(RouteError::Rejected(..)) => mine += 1,
            Err(RouteError::NotMine) => {}
        }
    }
    let s = net.router.stats();
    let unknown = s.unknown_ufrag + s.unknown_path - before.unknown_ufrag - before.unknown_path;
    assert_eq!((unknown, s.rejected - before.rejected), (20_000 - mine, mine), "every datagram counted once");
    assert!(mine > 0, "some corrupted checks still named the connection (and it rejected them)");
    // The connection is unharmed.
    let now = net.now;
    let c = &mut net.clients[a];
    c.pc.send(now, c.chat, message(a, 1), true).unwrap();
    net.run_until(Duration::from_secs(5), "echo", |n| n.clients[a].echoed == 2);
}

#[test]
fn recorded_connections_are_routed_and_reaped_too() {
    use sansrtc::record::{RecordOptions, RecordedPeerConnection};
    let cert = Certificate::generate(&mut seed(0, 9));
    let now = Instant::ZERO;
    let mut client = PeerConnection::new(client_config(&cert), seed(1, 9));
    client.add_local_host(now, client_addr(0)).unwrap();
    client.end_of_local_candidates(now);
    client.create_data_channel(now, ChannelOptions::new("chat")).unwrap();
    let offer = client.create_offer().unwrap();
    let mut conn = RecordedPeerConnection::new(server_config(&cert), [9; 32], RecordOptions::default());
    conn.add_local_host(now, server_addr()).unwrap();
    conn.end_of_local_candidates(now);
    conn.set_remote_description(now, &offer).unwrap();
    let answer = conn.create_answer().unwrap();
    conn.set_local_description(now, &answer).unwrap();
    let config = router::Config { connect_timeout: Duration::from_secs(5), ..router::Config::default() };
    let mut router: Router<RecordedPeerConnection> = Router::new(config, seed(2, 9));
    let key = router.insert(now, conn).unwrap();
    let ufrag = router.get(key).unwrap().local_ufrag().to_string();
    let data = check(&ufrag, &mut seed(3, 9));
    let d = Datagram { source: client_addr(0), destination: server_addr(), contents: &data };
    assert_eq!(router.route(&d), Some(key));
    // Nobody connects: given up at 5 s, closed through the recorder (the journal has the call), reaped.
    let mut now = now;
    let mut reaped = None;
    let mut journal = Vec::new();
    while reaped.is_none() {
        now = router.poll_timeout().unwrap().max(now);
        router.handle_timeout(now);
        while router.poll_transmit().is_some() {}
        while let Some((k, e)) = router.poll_event() {
            match e {
                // The last moment the connection is there: take what its journal holds.
                Event::Connection(PcEvent::ConnectionState(ConnectionState::Closed)) => {
                    journal = router.update(now, k, |c| c.take_journal()).unwrap();
                }
                Event::Reaped(r) => reaped = Some((k, r, now)),
                _ => {}
            }
        }
    }
    assert_eq!(reaped, Some((key, Reason::NotConnected, Instant::from_secs(5))));
    assert!(!journal.is_empty());
    assert!(router.is_empty());
}
