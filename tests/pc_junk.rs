//! Set-up under a spray of STUN junk: two peer connections in the simulator negotiate, connect, open a
//! data channel and echo a message while forged STUN datagrams hit their ports from several foreign
//! addresses and from the real peer's address (spoofed), at random times from the offer until the channel
//! is open. The junk is binding requests, responses and indications with a wrong, zero, missing or
//! misplaced FINGERPRINT, a wrong MESSAGE-INTEGRITY, USERNAMEs with the right ufrags and a wrong password,
//! responses carrying the transaction ids of real checks in flight, mangled copies of real checks,
//! truncated messages and other methods. None of it is authentic, so none of it may change anything: every
//! seed must connect and echo, and nothing the junk said may be believed (no junk source filed by the
//! router, no remote candidate learnt from junk, the selected pairs joining the real addresses).
//!
//! The answerer is the echo server's shape in half of the seeds: ICE lite behind a router that, like
//! `examples/echo_server/peers.rs`, routes STUN by the USERNAME's local ufrag, everything else by the
//! source addresses it filed, and files the source of every datagram routed by ufrag that the connection
//! accepted (at most 8: once junk sources fill them, the real peer's DTLS has nowhere to go). In the other
//! half both sides run full ICE, the answerer on a socket of its own. The offerer is public, or behind a
//! port-restricted NAT (only junk spoofing the answerer reaches it) or a full-cone one (all junk does).

#![cfg(feature = "sim")]

extern crate alloc;

use alloc::collections::VecDeque;
use core::net::{IpAddr, SocketAddr};
use core::time::Duration;

use sansrtc::pc::{ChannelId, ChannelOptions, Config, Event, PeerConnection, stun_username_local_ufrag};
use sansrtc::sim::{HostId, LinkConfig, NatConfig, NatId, Net, Sim};
use sansrtc::stun::{Attribute, ErrorCode, Key, MessageBuilder, MessageType, TransactionId};
use sansrtc::{Datagram, Instant, Machine, PathMachine, SeededRng, Transmit};

const A_ADDR: &str = "192.168.1.10:5000";
const A_PUBLIC: &str = "203.0.113.77:5000";
const B_ADDR: &str = "198.51.100.20:6000";
/// The foreign hosts the junk comes from (besides the spoofed peer).
const FOREIGN: [&str; 5] = ["198.51.100.66", "198.51.100.67", "192.0.2.10", "192.0.2.11", "203.0.113.200"];
/// Binding requests each side remembers having sent (their transaction ids are what forged responses
/// reuse, their bytes what mangled copies start from).
const REMEMBERED: usize = 16;

/// A peer connection as a simulator node, remembering the binding requests it sent; with a router, the
/// echo server's routing in front of it.
#[derive(Debug)]
struct Peer {
    pc: PeerConnection,
    sent: VecDeque<(SocketAddr, Vec<u8>)>,
    router: Option<Router>,
}

/// `examples/echo_server/peers.rs`'s routing for one connection on a shared socket.
#[derive(Debug, Default)]
struct Router {
    filed: Vec<SocketAddr>,
    unrouted: u64,
}

impl Machine for Peer {
    type Event = Event;
    fn handle_timeout(&mut self, now: Instant) {
        self.pc.handle_timeout(now);
    }
    fn poll_event(&mut self) -> Option<Event> {
        self.pc.poll_event()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.pc.poll_timeout()
    }
}

impl PathMachine for Peer {
    type Error = ();
    fn handle_receive(&mut self, now: Instant, d: Datagram<'_>) -> Result<(), ()> {
        let Some(router) = self.router.as_mut() else {
            return self.pc.handle_receive(now, d).map_err(drop);
        };
        let by_ufrag = stun_username_local_ufrag(d.contents).is_some_and(|u| u == self.pc.local_ufrag());
        if !by_ufrag && !router.filed.contains(&d.source) {
            router.unrouted += 1;
            return Err(());
        }
        let accepted = self.pc.handle_receive(now, d).is_ok();
        // An accepted check from a new address: filed for what follows (DTLS).
        if accepted && by_ufrag && !router.filed.contains(&d.source) && router.filed.len() < 8 {
            router.filed.push(d.source);
        }
        if accepted { Ok(()) } else { Err(()) }
    }
    fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        let t = self.pc.poll_transmit()?;
        if t.contents.starts_with(&[0x00, 0x01]) {
            if self.sent.len() == REMEMBERED {
                self.sent.pop_front();
            }
            self.sent.push_back((t.destination, t.contents.to_vec()));
        }
        Some(t)
    }
}

/// The foreign hosts: they only send.
#[derive(Debug)]
struct Sink;

impl Machine for Sink {
    type Event = ();
    fn handle_timeout(&mut self, _: Instant) {}
    fn poll_event(&mut self) -> Option<()> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

impl PathMachine for Sink {
    type Error = ();
    fn handle_receive(&mut self, _: Instant, _: Datagram<'_>) -> Result<(), ()> {
        Ok(())
    }
    fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        None
    }
}

/// What is done to a forged message's FINGERPRINT.
#[derive(Clone, Copy, Debug)]
enum Fp {
    Good,
    Wrong,
    Zero,
    /// Computed over what precedes it, then more attributes after it.
    Misplaced,
    Missing,
}

/// What the junk maker knows about one target connection.
struct Target {
    /// Its local ufrag and its peer's.
    ufrag: String,
    peer_ufrag: String,
    /// One of the binding requests it sent lately (a transaction id in flight).
    own: Option<Vec<u8>>,
    /// One of the binding requests its peer sent it lately.
    from_peer: Option<Vec<u8>>,
}

struct Junk {
    rng: SeededRng,
    made: u64,
    /// At most this many datagrams after each step of the simulation (0.2 to 2.2 ms).
    burst: u64,
}

impl Junk {
    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() { None } else { items.get(self.rng.below(items.len() as u64) as usize) }
    }

    fn fp(&mut self) -> Fp {
        match self.rng.below(8) {
            0 | 1 => Fp::Wrong,
            2 | 3 => Fp::Zero,
            4 | 5 => Fp::Misplaced,
            6 => Fp::Missing,
            _ => Fp::Good,
        }
    }

    /// A key that is not the one the target expects.
    fn bad_key(&mut self) -> Key {
        let pwd: [u8; 22] = self.rng.bytes();
        let pwd: String = pwd.iter().map(|b| char::from(b'a' + b % 26)).collect();
        Key::short_term(&pwd)
    }

    fn id(&mut self) -> TransactionId {
        TransactionId(self.rng.bytes())
    }

    fn addr(&mut self) -> SocketAddr {
        let ip: [u8; 4] = self.rng.bytes();
        SocketAddr::new(IpAddr::from(ip), 1024 + self.rng.below(60000) as u16)
    }

    /// Ends a message: MESSAGE-INTEGRITY with `key` (if any), then FINGERPRINT treated as `fp`.
    fn finish(&mut self, b: &mut MessageBuilder<'_, Vec<u8>>, key: Option<&Key>, fp: Fp) {
        match fp {
            Fp::Misplaced => {
                // FINGERPRINT first, then what should have come before it.
                b.fingerprint().unwrap();
                match (key, self.rng.below(2)) {
                    (Some(k), 0) => b.message_integrity(k).unwrap(),
                    _ => b.add(Attribute::Software("after the fingerprint")).unwrap(),
                };
                return;
            }
            _ => {
                if let Some(k) = key {
                    b.message_integrity(k).unwrap();
                }
            }
        }
        if !matches!(fp, Fp::Missing) {
            b.fingerprint().unwrap();
        }
    }

    /// Damages the trailing FINGERPRINT of `m` as `fp` says (Good, Missing and Misplaced leave it).
    fn damage_fp(&mut self, m: &mut [u8], fp: Fp) {
        let n = m.len();
        if n < 28 {
            return;
        }
        match fp {
            Fp::Wrong => m[n - 1 - self.rng.below(4) as usize] ^= 1 << self.rng.below(8),
            Fp::Zero => m[n - 4..].fill(0),
            _ => {}
        }
    }

    fn username(&mut self, t: &Target) -> String {
        match self.rng.below(4) {
            0 => format!("{}:junk", t.ufrag),
            1 => format!("{}:", t.ufrag),
            _ => format!("{}:{}", t.ufrag, t.peer_ufrag),
        }
    }

    /// A forged binding request: the right USERNAME, a wrong password.
    fn request(&mut self, t: &Target) -> Vec<u8> {
        let mut buf = Vec::new();
        let id = self.id();
        let user = self.username(t);
        let fp = self.fp();
        let key = self.bad_key();
        let mut b = MessageBuilder::new(&mut buf, MessageType::BINDING_REQUEST, id).unwrap();
        b.add(Attribute::Username(&user)).unwrap();
        b.add(Attribute::Priority(self.rng.u32() | 1)).unwrap();
        let tie = self.rng.u64();
        match self.rng.below(3) {
            0 => b.add(Attribute::IceControlling(tie)).unwrap(),
            1 => b.add(Attribute::IceControlled(tie)).unwrap(),
            _ => &mut b,
        };
        if self.rng.below(2) == 0 {
            b.add(Attribute::UseCandidate).unwrap();
        }
        let with_mi = self.rng.below(6) != 0;
        self.finish(&mut b, with_mi.then_some(&key), fp);
        b.finish();
        self.damage_fp(&mut buf, fp);
        buf
    }

    /// A forged response (success, 487 or another error) to one of the target's checks in flight.
    fn response(&mut self, t: &Target) -> Vec<u8> {
        let id = match &t.own {
            Some(req) if self.rng.below(4) != 0 => TransactionId(req[8..20].try_into().unwrap()),
            _ => self.id(),
        };
        let mut buf = Vec::new();
        let fp = self.fp();
        let key = self.bad_key();
        let class = self.rng.below(3);
        let typ = MessageType::BINDING_REQUEST.with_class(if class == 0 {
            sansrtc::stun::Class::Error
        } else {
            sansrtc::stun::Class::Success
        });
        let mut b = MessageBuilder::new(&mut buf, typ, id).unwrap();
        if class == 0 {
            let code = if self.rng.below(2) == 0 { ErrorCode::ROLE_CONFLICT } else { 400 };
            b.add(Attribute::ErrorCode(ErrorCode { code, reason: "junk" })).unwrap();
        } else {
            let mapped = self.addr();
            b.add(Attribute::XorMappedAddress(mapped)).unwrap();
        }
        let with_mi = self.rng.below(4) != 0;
        self.finish(&mut b, with_mi.then_some(&key), fp);
        b.finish();
        self.damage_fp(&mut buf, fp);
        buf
    }

    /// A binding indication, sometimes with a USERNAME naming the target.
    fn indication(&mut self, t: &Target) -> Vec<u8> {
        let mut buf = Vec::new();
        let id = self.id();
        let fp = self.fp();
        let user = self.username(t);
        let mut b = MessageBuilder::new(&mut buf, MessageType::BINDING_INDICATION, id).unwrap();
        if self.rng.below(2) == 0 {
            b.add(Attribute::Username(&user)).unwrap();
        }
        let key = self.bad_key();
        let with_mi = self.rng.below(3) == 0;
        self.finish(&mut b, with_mi.then_some(&key), fp);
        b.finish();
        self.damage_fp(&mut buf, fp);
        buf
    }

    /// A copy of a real check the peer sent, with its MESSAGE-INTEGRITY broken, or intact and its
    /// FINGERPRINT wrong or zero (never an intact replay).
    fn mangled(&mut self, t: &Target) -> Option<Vec<u8>> {
        let mut m = t.from_peer.clone()?;
        let n = m.len();
        // The real check ends with MESSAGE-INTEGRITY (24 bytes) and FINGERPRINT (8 bytes).
        if n < 20 + 32 {
            return None;
        }
        match self.rng.below(4) {
            0 => {
                // The HMAC damaged, the FINGERPRINT recomputed (so only the integrity is wrong).
                m[n - 8 - 1 - self.rng.below(20) as usize] ^= 0x40;
                let body = m[..n - 8].to_vec();
                let crc = crc32(&body) ^ sansrtc::stun::FINGERPRINT_XOR;
                m[n - 4..].copy_from_slice(&crc.to_be_bytes());
            }
            1 => m[n - 1] ^= 0x01,
            2 => m[n - 4..].fill(0),
            _ => {
                // The HMAC damaged and the FINGERPRINT left as it was (now wrong too).
                m[n - 8 - 1 - self.rng.below(20) as usize] ^= 0x80;
            }
        }
        Some(m)
    }

    /// Something else: other methods, empty or oversized headers, unknown classes.
    fn other(&mut self) -> Vec<u8> {
        let mut buf = Vec::new();
        let id = self.id();
        let typ = match self.rng.below(3) {
            0 => MessageType::from_bits(0x0003), // Allocate request
            1 => MessageType::from_bits(0x0016), // Send indication
            _ => MessageType::from_bits(0x0001), // Binding request without anything
        };
        let mut b = MessageBuilder::new(&mut buf, typ, id).unwrap();
        let fp = self.fp();
        self.finish(&mut b, None, fp);
        b.finish();
        self.damage_fp(&mut buf, fp);
        buf
    }

    fn make(&mut self, t: &Target) -> Vec<u8> {
        self.made += 1;
        let mut m = match self.rng.below(10) {
            0..=2 => self.request(t),
            3..=4 => self.response(t),
            5..=6 => self.indication(t),
            7..=8 => self.mangled(t).unwrap_or_else(|| self.request(t)),
            _ => self.other(),
        };
        if self.rng.below(8) == 0 {
            // Truncated: cut anywhere (the length field then disagrees).
            let cut = self.rng.below(m.len() as u64) as usize;
            m.truncate(cut.max(1));
        }
        m
    }
}

/// CRC-32 (IEEE), for recomputing a FINGERPRINT by hand.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

struct Run {
    seed: u64,
    sim: Sim,
    a: HostId,
    b: HostId,
    junk_host: HostId,
    nat: Option<NatId>,
    junk: Junk,
    events_a: Vec<Event>,
    events_b: Vec<Event>,
}

/// How a seed's network and answerer look.
#[derive(Clone, Debug)]
struct Shape {
    /// The answerer is ICE lite behind the echo server's router.
    lite: bool,
    /// The offerer is behind a NAT (port-restricted, or full-cone so foreign junk gets through).
    nat: Option<NatConfig>,
}

impl Shape {
    fn of(seed: u64) -> Shape {
        let lite = seed % 2 == 0;
        let nat = match (seed / 2) % 3 {
            0 => Some(NatConfig::port_restricted_cone()),
            1 => Some(NatConfig::full_cone()),
            _ => None,
        };
        Shape { lite, nat }
    }
}

impl Run {
    fn new(seed: u64, shape: Shape) -> Run {
        let mut sim = Sim::new(seed);
        sim.set_event_capacity(1 << 14);
        let mut link_rng = sim.fork_rng();
        let delay = Duration::from_millis(2 + link_rng.below(20));
        sim.set_default_link(LinkConfig::default().with_delay(delay).with_jitter(delay / 4));
        let nat =
            shape.nat.map(|config| sim.add_nat("nat", Net::Internet, "203.0.113.1".parse().unwrap(), config).unwrap());
        let a_addr: SocketAddr = if nat.is_some() { A_ADDR } else { A_PUBLIC }.parse().unwrap();
        let b_addr: SocketAddr = B_ADDR.parse().unwrap();
        let config_b =
            Config { ice: sansrtc::ice::Config { lite: shape.lite, ..Default::default() }, ..Config::default() };
        let pa = PeerConnection::new(Config::default(), sim.fork_rng());
        let pb = PeerConnection::new(config_b, sim.fork_rng());
        let router = shape.lite.then(Router::default);
        let a_net = nat.map_or(Net::Internet, Net::Behind);
        let a =
            sim.add_host("alice", a_net, &[a_addr.ip()], Peer { pc: pa, sent: VecDeque::new(), router: None }).unwrap();
        let b =
            sim.add_host("bob", Net::Internet, &[b_addr.ip()], Peer { pc: pb, sent: VecDeque::new(), router }).unwrap();
        let foreign: Vec<IpAddr> = FOREIGN.iter().map(|s| s.parse().unwrap()).collect();
        let junk_host = sim.add_host("junk", Net::Internet, &foreign, Sink).unwrap();
        let mut rng = sim.fork_rng();
        let burst = 2 + rng.below(5);
        let junk = Junk { rng, made: 0, burst };
        for (h, addr) in [(a, a_addr), (b, b_addr)] {
            sim.with_node(h, |p: &mut Peer, now| {
                p.pc.add_local_host(now, addr).unwrap();
                p.pc.end_of_local_candidates(now);
            });
        }
        Run { seed, sim, a, b, junk_host, nat, junk, events_a: Vec::new(), events_b: Vec::new() }
    }

    fn a_addr(&self) -> SocketAddr {
        if self.nat.is_some() { A_ADDR } else { A_PUBLIC }.parse().unwrap()
    }

    fn peer(&self, h: HostId) -> &Peer {
        self.sim.node::<Peer>(h).unwrap()
    }

    fn with<R>(&mut self, h: HostId, f: impl FnOnce(&mut PeerConnection, Instant) -> R) -> R {
        let r = self.sim.with_node(h, |p: &mut Peer, now| f(&mut p.pc, now)).unwrap();
        let now = self.sim.now();
        self.sim.run_until(now);
        self.collect();
        r
    }

    fn collect(&mut self) {
        self.events_a.extend(self.sim.drain_events::<Event>(self.a).into_iter().map(|(_, e)| e));
        self.events_b.extend(self.sim.drain_events::<Event>(self.b).into_iter().map(|(_, e)| e));
    }

    fn target(&mut self, victim: HostId) -> Target {
        let peer = if victim == self.a { self.b } else { self.a };
        let (v, p) = (self.sim.node::<Peer>(victim).unwrap(), self.sim.node::<Peer>(peer).unwrap());
        let (i, j) = (self.junk.rng.below(REMEMBERED as u64), self.junk.rng.below(REMEMBERED as u64));
        let recent = |sent: &VecDeque<(SocketAddr, Vec<u8>)>, i: u64| {
            sent.get(i as usize % sent.len().max(1)).map(|(_, m)| m.clone())
        };
        Target {
            ufrag: v.pc.local_ufrag().to_string(),
            peer_ufrag: p.pc.local_ufrag().to_string(),
            own: recent(&v.sent, i),
            from_peer: recent(&p.sent, j),
        }
    }

    /// Sends one piece of junk to Bob or Alice, from a foreign address or spoofing the other one.
    fn spray_one(&mut self) {
        let b_addr: SocketAddr = B_ADDR.parse().unwrap();
        let a_addr = self.a_addr();
        let a_outside = self.a_outside();
        let to_bob = a_outside.is_none() || self.junk.rng.below(3) != 0;
        let victim = if to_bob { self.b } else { self.a };
        let target = self.target(victim);
        let data = self.junk.make(&target);
        let spoofed = self.junk.rng.below(3) == 0;
        let (host, src, dst) = match (to_bob, spoofed) {
            // Alice's own socket: through her NAT it comes out of her mapping, as her checks do.
            (true, true) => (self.a, a_addr, b_addr),
            (false, true) => (self.b, b_addr, a_outside.unwrap_or(a_addr)),
            (_, false) => {
                let ip = *self.junk.pick(&FOREIGN).unwrap();
                let port = match self.junk.rng.below(4) {
                    0 => 3478,
                    1 => 5000,
                    2 => 6000,
                    _ => 40000 + self.junk.rng.below(8) as u16,
                };
                let src = SocketAddr::new(ip.parse().unwrap(), port);
                (self.junk_host, src, if to_bob { b_addr } else { a_outside.unwrap_or(a_addr) })
            }
        };
        self.sim.send_from(host, src, dst, &data);
    }

    /// Runs `span` of virtual time with junk at random moments.
    fn run_spraying(&mut self, span: Duration) {
        let end = self.sim.now() + span;
        while self.sim.now() < end {
            let step = Duration::from_micros(200 + self.junk.rng.below(2000));
            let next = (self.sim.now() + step).min(end);
            self.sim.run_until(next);
            self.collect();
            for _ in 0..self.junk.rng.below(self.junk.burst + 1) {
                self.spray_one();
            }
        }
    }

    /// Runs with junk until `cond`; `false` on timeout.
    fn spray_until(&mut self, limit: Duration, cond: impl Fn(&Run) -> bool) -> bool {
        let end = self.sim.now() + limit;
        while !cond(self) {
            if self.sim.now() >= end {
                return false;
            }
            self.run_spraying(Duration::from_millis(5));
        }
        true
    }

    fn until(&mut self, limit: Duration, cond: impl Fn(&Run) -> bool) -> bool {
        let end = self.sim.now() + limit;
        while !cond(self) {
            if self.sim.now() >= end {
                return false;
            }
            let next = self.sim.now() + Duration::from_millis(10);
            self.sim.run_until(next);
            self.collect();
        }
        true
    }

    /// Where Alice's datagrams come from, as Bob sees them (`None` before her NAT mapped anything).
    fn a_outside(&self) -> Option<SocketAddr> {
        let b_addr: SocketAddr = B_ADDR.parse().unwrap();
        match self.nat {
            Some(nat) => self.sim.nat_mapping(nat, self.a_addr(), b_addr),
            None => Some(self.a_addr()),
        }
    }

    /// Nothing the junk says is believed: the router filed no junk source, neither agent learnt a
    /// candidate from junk, and the selected pairs join the real addresses.
    fn believed_nothing(&self) -> Result<(), String> {
        let b_addr: SocketAddr = B_ADDR.parse().unwrap();
        let alice = [Some(self.a_addr()), self.a_outside()];
        let (a, b) = (self.peer(self.a), self.peer(self.b));
        if let Some(r) = &b.router {
            if let Some(bad) = r.filed.iter().find(|f| !alice.contains(&Some(**f))) {
                return Err(format!("the router filed the junk source {bad}"));
            }
        }
        if let Some(bad) = b.pc.ice().remote_candidates().iter().find(|c| !alice.contains(&Some(c.address))) {
            return Err(format!("bob learnt the remote candidate {}", bad.address));
        }
        if let Some(bad) = a.pc.ice().remote_candidates().iter().find(|c| c.address != b_addr) {
            return Err(format!("alice learnt the remote candidate {}", bad.address));
        }
        let selected = (a.pc.remote_address(), b.pc.remote_address());
        if selected.0 != Some(b_addr) || !alice.contains(&selected.1) {
            return Err(format!("selected remotes {selected:?}"));
        }
        Ok(())
    }

    fn diagnosis(&self, what: &str) -> String {
        let (a, b) = (self.peer(self.a), self.peer(self.b));
        let pairs = |p: &Peer| {
            p.pc.ice()
                .pairs()
                .map(|(l, r, s, n)| format!("{}->{} {s:?}{}", l.base, r.address, if n { " nominated" } else { "" }))
                .collect::<Vec<_>>()
        };
        format!(
            "seed {} ({:?}): {what} after {} junk datagrams\n  alice: {:?} ice {:?} selected {:?} pairs {:?}\n    {:?}\n  bob: {:?} ice {:?} selected {:?} pairs {:?} router {:?}\n    {:?}",
            self.seed,
            Shape::of(self.seed),
            self.junk.made,
            a.pc.connection_state(),
            a.pc.ice().state(),
            a.pc.ice().selected_pair().map(|(l, r)| (l.base, r.address)),
            pairs(a),
            a.pc.ice().stats(),
            b.pc.connection_state(),
            b.pc.ice().state(),
            b.pc.ice().selected_pair().map(|(l, r)| (l.base, r.address)),
            pairs(b),
            b.router,
            b.pc.ice().stats(),
        )
    }
}

fn opened(events: &[Event], id: ChannelId) -> bool {
    events.contains(&Event::ChannelOpen(id))
}

fn remote_channel(events: &[Event]) -> Option<ChannelId> {
    events.iter().find_map(|e| match e {
        Event::DataChannel { id, label, .. } if label == "echo" => Some(*id),
        _ => None,
    })
}

fn texts(events: &[Event], id: ChannelId) -> Vec<Vec<u8>> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message { id: i, data, .. } if *i == id => Some(data.to_vec()),
            _ => None,
        })
        .collect()
}

/// One seed: offer, junk, answer, junk, answer applied, junk until the channel is open, then an echo.
/// Returns how many junk datagrams were sent and how many of them the connections (or the router) dropped.
fn connect_and_echo(seed: u64) -> Result<(u64, u64), String> {
    let shape = Shape::of(seed);
    let mut run = Run::new(seed, shape);
    let (a, b) = (run.a, run.b);
    let chat = run.with(a, |pc, now| pc.create_data_channel(now, ChannelOptions::new("echo")).unwrap());
    let offer = run.with(a, |pc, now| {
        let offer = pc.create_offer().unwrap();
        pc.set_local_description(now, &offer).unwrap();
        offer
    });
    // Signalling takes a while; the junk does not wait for it.
    let wait = Duration::from_millis(run.junk.rng.below(40));
    run.run_spraying(wait);
    let answer = run.with(b, |pc, now| {
        pc.set_remote_description(now, &offer).unwrap();
        let answer = pc.create_answer().unwrap();
        pc.set_local_description(now, &answer).unwrap();
        answer
    });
    // The answer travels back (an HTTP round trip, a browser applying it).
    let wait = Duration::from_millis(run.junk.rng.below(250));
    run.run_spraying(wait);
    run.with(a, |pc, now| pc.set_remote_description(now, &answer).unwrap());

    let limit = Duration::from_secs(20);
    if !run.spray_until(limit, |r| opened(&r.events_a, chat) && remote_channel(&r.events_b).is_some()) {
        let belief = run.believed_nothing().err().map(|e| format!(" ({e})")).unwrap_or_default();
        return Err(run.diagnosis(&format!("no open channel{belief}")));
    }
    run.believed_nothing().map_err(|e| run.diagnosis(&e))?;
    let chat_b = remote_channel(&run.events_b).unwrap_or(chat);
    let ping = format!("ping {seed}");
    run.with(a, |pc, now| pc.send_text(now, chat, &ping).unwrap());
    if !run.until(Duration::from_secs(10), |r| !texts(&r.events_b, chat_b).is_empty()) {
        return Err(run.diagnosis("the message did not arrive"));
    }
    let got = texts(&run.events_b, chat_b).remove(0);
    run.with(b, |pc, now| pc.send_text(now, chat_b, core::str::from_utf8(&got).unwrap()).unwrap());
    if !run.until(Duration::from_secs(10), |r| !texts(&r.events_a, chat).is_empty()) {
        return Err(run.diagnosis("no echo"));
    }
    assert_eq!(texts(&run.events_a, chat), [ping.into_bytes()], "seed {seed}: the echo is the message");
    // What reached a connection and was dropped there (the router and the NAT drop the rest).
    let dropped = [run.a, run.b]
        .iter()
        .map(|h| {
            run.peer(*h).pc.ice().stats().discarded.total() + run.peer(*h).router.as_ref().map_or(0, |r| r.unrouted)
        })
        .sum();
    Ok((run.junk.made, dropped))
}

#[test]
fn setup_survives_stun_junk_over_200_seeds() {
    let mut failures = Vec::new();
    let (mut junk, mut dropped) = (0, 0);
    for seed in 0..200 {
        match connect_and_echo(seed) {
            Ok((made, gone)) => {
                junk += made;
                dropped += gone;
            }
            Err(e) => failures.push(e),
        }
    }
    assert!(failures.is_empty(), "{} of 200 seeds failed:\n{}", failures.len(), failures.join("\n"));
    eprintln!("{junk} junk datagrams, {dropped} dropped by the connections or the router");
    assert!(junk > 200 * 100, "the junk was sprayed ({junk} datagrams)");
    assert!(dropped > junk / 2, "most junk reached a connection and was dropped there ({dropped} of {junk})");
}
