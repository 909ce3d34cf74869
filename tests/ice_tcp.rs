//! ICE-TCP (RFC 6544) with RFC 4571 framing, on a deterministic network with virtual time: UDP as
//! datagrams (which may be blocked) and TCP as ordered byte pipes per connection that deliver in seeded
//! random chunk sizes (down to one byte) and can be reset. The caller's side of the sans-IO contract is
//! what this file plays: it owns the connections (opened when a transmit from an active base goes to an
//! address with none), splits each connection's bytes with one `FrameDecoder` per direction, and frames
//! what the machines send.
//!
//! A client (full ICE, controlling, UDP host + TCP active) and a server (UDP host + TCP passive, lite
//! like the echo server or full) connect over TCP with UDP blocked and exchange data; UDP wins when it
//! works (RFC 6544 §4.2); a TCP reset in the middle of a session stops the data until an ICE restart
//! brings a new connection; two peer connections run DTLS and a data channel over TCP alone.

extern crate alloc;

use alloc::collections::VecDeque;
use core::net::SocketAddr;
use core::time::Duration;

use sansrtc::ice::framing::{FrameDecoder, frame_header};
use sansrtc::ice::{Config, IceAgent, IceConnectionState, Role, TcpType, Transport};
use sansrtc::pc::{ChannelOptions, Event, PeerConnection};
use sansrtc::{Datagram, Instant, Machine, PathMachine, SeededRng};

const CLIENT_UDP: &str = "10.0.0.2:6000";
const CLIENT_TCP: &str = "10.0.0.2:9";
const SERVER_UDP: &str = "10.0.0.1:5000";
const SERVER_TCP: &str = "10.0.0.1:443";
const DELAY: Duration = Duration::from_millis(20);

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// One direction of a TCP connection: segments in order, each due after the link delay, read by a
/// frame decoder.
struct Pipe {
    segments: VecDeque<(Instant, Vec<u8>)>,
    decoder: FrameDecoder,
}

impl Pipe {
    fn new() -> Pipe {
        Pipe { segments: VecDeque::new(), decoder: FrameDecoder::new(2048) }
    }
}

/// A TCP connection from the client's active base to the server's listening socket.
struct Conn {
    /// The client's end as the server sees it (an ephemeral port).
    client: SocketAddr,
    server: SocketAddr,
    up: Pipe,
    down: Pipe,
}

/// Which machine a frame or datagram goes to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Side {
    Client,
    Server,
}

/// The network between the client (A) and the server (B).
struct Net {
    now: Instant,
    rng: u64,
    /// Largest chunk a pipe delivers at once (1: byte by byte).
    max_chunk: usize,
    udp_blocked: bool,
    udp: VecDeque<(Instant, Side, SocketAddr, SocketAddr, Vec<u8>)>,
    conns: Vec<Conn>,
    next_port: u16,
    connections_opened: u32,
    /// Server transmits to a connection that no longer exists.
    tcp_unroutable: u32,
    udp_dropped: u32,
    frames_delivered: u64,
}

impl Net {
    fn new(seed: u64, max_chunk: usize, udp_blocked: bool) -> Net {
        Net {
            now: Instant::from_secs(1),
            rng: seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1),
            max_chunk,
            udp_blocked,
            udp: VecDeque::new(),
            conns: Vec::new(),
            next_port: 50_000,
            connections_opened: 0,
            tcp_unroutable: 0,
            udp_dropped: 0,
            frames_delivered: 0,
        }
    }

    fn chunk(&mut self) -> usize {
        self.rng = self.rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        1 + (self.rng >> 33) as usize % self.max_chunk
    }

    /// Routes one transmit the way the caller's adapter does.
    fn send(&mut self, from: Side, source: SocketAddr, destination: SocketAddr, contents: &[u8]) {
        let due = self.now + DELAY;
        let mut framed = frame_header(contents.len()).expect("frames fit").to_vec();
        framed.extend_from_slice(contents);
        match from {
            Side::Client if source == addr(CLIENT_TCP) => {
                let i = match self.conns.iter().position(|c| c.server == destination) {
                    Some(i) => i,
                    None => {
                        self.next_port += 1;
                        self.connections_opened += 1;
                        let client = SocketAddr::new(source.ip(), self.next_port);
                        self.conns.push(Conn { client, server: destination, up: Pipe::new(), down: Pipe::new() });
                        self.conns.len() - 1
                    }
                };
                self.conns[i].up.segments.push_back((due, framed));
            }
            Side::Server if source == addr(SERVER_TCP) => {
                match self.conns.iter_mut().find(|c| c.server == source && c.client == destination) {
                    Some(c) => c.down.segments.push_back((due, framed)),
                    None => self.tcp_unroutable += 1,
                }
            }
            _ if self.udp_blocked => self.udp_dropped += 1,
            _ => {
                let to = if from == Side::Client { Side::Server } else { Side::Client };
                self.udp.push_back((due, to, source, destination, contents.to_vec()));
            }
        }
    }

    /// Resets every TCP connection: both ends forget it and what was in flight.
    fn reset_tcp(&mut self) {
        self.conns.clear();
    }

    fn next_due(&self) -> Option<Instant> {
        let pipes = self.conns.iter().flat_map(|c| [c.up.segments.front(), c.down.segments.front()]).flatten();
        pipes.map(|s| s.0).chain(self.udp.front().map(|u| u.0)).min()
    }

    /// Delivers everything due now: datagrams whole, stream segments in random chunks through the
    /// receiving end's decoder.
    fn deliver<A, B>(&mut self, a: &mut A, b: &mut B)
    where
        A: PathMachine,
        B: PathMachine,
    {
        let now = self.now;
        while self.udp.front().is_some_and(|u| u.0 <= now) {
            let (_, to, source, destination, contents) = self.udp.pop_front().unwrap();
            let d = Datagram { source, destination, contents: &contents };
            let _ =
                if to == Side::Server { b.handle_receive(now, d).is_ok() } else { a.handle_receive(now, d).is_ok() };
        }
        for ci in 0..self.conns.len() {
            for up in [true, false] {
                loop {
                    let conn = &mut self.conns[ci];
                    let pipe = if up { &mut conn.up } else { &mut conn.down };
                    if pipe.segments.front().is_none_or(|s| s.0 > now) {
                        break;
                    }
                    let (_, bytes) = pipe.segments.pop_front().unwrap();
                    let mut rest: &[u8] = &bytes;
                    while !rest.is_empty() {
                        let n = self.chunk().min(rest.len());
                        let conn = &mut self.conns[ci];
                        let (client, server) = (conn.client, conn.server);
                        let pipe = if up { &mut conn.up } else { &mut conn.down };
                        let taken = pipe.decoder.push(&rest[..n]);
                        rest = &rest[taken..];
                        while let Some(frame) = pipe.decoder.next_frame() {
                            self.frames_delivered += 1;
                            if up {
                                let _ = b.handle_receive(
                                    now,
                                    Datagram { source: client, destination: server, contents: frame },
                                );
                            } else {
                                let source = server;
                                let destination = addr(CLIENT_TCP);
                                let _ = a.handle_receive(now, Datagram { source, destination, contents: frame });
                            }
                        }
                    }
                }
            }
        }
    }

    /// One turn of the README loop for both machines: drain transmits, then jump to the next deadline or
    /// delivery and handle it.
    fn turn<A, B>(&mut self, a: &mut A, b: &mut B)
    where
        A: PathMachine,
        B: PathMachine,
    {
        loop {
            let mut moved = false;
            while let Some(t) = a.poll_transmit() {
                let (s, d, c) = (t.source, t.destination, t.contents.to_vec());
                self.send(Side::Client, s, d, &c);
                moved = true;
            }
            while let Some(t) = b.poll_transmit() {
                let (s, d, c) = (t.source, t.destination, t.contents.to_vec());
                self.send(Side::Server, s, d, &c);
                moved = true;
            }
            if !moved {
                break;
            }
        }
        let next = [a.poll_timeout(), b.poll_timeout(), self.next_due()].into_iter().flatten().min();
        if let Some(next) = next {
            self.now = self.now.max(next);
        } else {
            self.now += Duration::from_millis(50);
        }
        self.deliver(a, b);
        if a.poll_timeout().is_some_and(|t| t <= self.now) {
            a.handle_timeout(self.now);
        }
        if b.poll_timeout().is_some_and(|t| t <= self.now) {
            b.handle_timeout(self.now);
        }
    }
}

/// The client (full, controlling; UDP host and TCP active) and the server (UDP host and TCP passive).
fn agents(seed: u8, server_lite: bool) -> (IceAgent, IceAgent) {
    let now = Instant::from_secs(1);
    let mut a =
        IceAgent::new(Config { role: Role::Controlling, ..Config::default() }, SeededRng::from_seed([seed; 32]));
    let mut b = IceAgent::new(
        Config { role: Role::Controlled, lite: server_lite, ..Config::default() },
        SeededRng::from_seed([seed.wrapping_add(100); 32]),
    );
    a.add_local_host(now, addr(CLIENT_UDP)).unwrap();
    a.add_local_tcp(now, addr(CLIENT_TCP), TcpType::Active).unwrap();
    b.add_local_host(now, addr(SERVER_UDP)).unwrap();
    b.add_local_tcp(now, addr(SERVER_TCP), TcpType::Passive).unwrap();
    exchange(now, &mut a, &mut b);
    (a, b)
}

/// Signalling: credentials and every local candidate each way, end of candidates.
fn exchange(now: Instant, a: &mut IceAgent, b: &mut IceAgent) {
    a.set_remote_credentials(b.local_credentials().clone());
    b.set_remote_credentials(a.local_credentials().clone());
    let ours: Vec<_> = a.local_candidates().to_vec();
    let theirs: Vec<_> = b.local_candidates().to_vec();
    for c in ours {
        b.add_remote_candidate(now, c).unwrap();
    }
    for c in theirs {
        a.add_remote_candidate(now, c).unwrap();
    }
    a.end_of_local_candidates(now);
    b.end_of_local_candidates(now);
    a.end_of_remote_candidates(now);
    b.end_of_remote_candidates(now);
    while a.poll_event().is_some() {}
    while b.poll_event().is_some() {}
}

/// Runs until both agents have a selected pair (of `generation`, when the pair changes after a
/// restart) or `limit` passes; returns whether they did.
fn connect(net: &mut Net, a: &mut IceAgent, b: &mut IceAgent, limit: Duration, not: Option<SocketAddr>) -> bool {
    let end = net.now + limit;
    while net.now < end {
        net.turn(a, b);
        while a.poll_event().is_some() {}
        while b.poll_event().is_some() {}
        let done = |x: &IceAgent| x.selected_pair().is_some_and(|(_, r)| Some(r.address) != not);
        if done(a) && done(b) && matches!(a.state(), IceConnectionState::Connected | IceConnectionState::Completed) {
            return true;
        }
    }
    eprintln!(
        "a: {:?} {:?} {:?}",
        a.state(),
        a.stats(),
        a.pairs().map(|(l, r, s, v)| (l.base, r.address, s, v)).collect::<Vec<_>>()
    );
    eprintln!(
        "b: {:?} {:?} {:?}",
        b.state(),
        b.stats(),
        b.pairs().map(|(l, r, s, v)| (l.base, r.address, s, v)).collect::<Vec<_>>()
    );
    false
}

/// Sends `n` payloads each way through the selected pairs; returns how many arrived at each side.
fn echo(net: &mut Net, a: &mut IceAgent, b: &mut IceAgent, n: usize) -> (usize, usize) {
    let (mut at_a, mut at_b) = (0, 0);
    for i in 0..n {
        let payload = vec![0x17u8, i as u8, 0xAB, 0xCD];
        if let Ok(t) = a.send(&payload) {
            let (s, d) = (t.source, t.destination);
            net.send(Side::Client, s, d, &payload);
        }
        if let Ok(t) = b.send(&payload) {
            let (s, d) = (t.source, t.destination);
            net.send(Side::Server, s, d, &payload);
        }
    }
    // Deliver, counting data as it comes up: an agent returns data it takes from a validated path.
    let end = net.now + DELAY * 4;
    while net.now < end {
        let before = (a.stats().data_received, b.stats().data_received);
        net.turn(a, b);
        at_a += (a.stats().data_received - before.0) as usize;
        at_b += (b.stats().data_received - before.1) as usize;
        while a.poll_event().is_some() {}
        while b.poll_event().is_some() {}
    }
    (at_a, at_b)
}

#[test]
fn with_udp_blocked_the_agents_connect_over_tcp_and_carry_data() {
    for (seed, server_lite, max_chunk) in [(1u8, true, 1usize), (2, false, 3), (3, true, 1500), (4, false, 1)] {
        let (mut a, mut b) = agents(seed, server_lite);
        let mut net = Net::new(u64::from(seed), max_chunk, true);
        assert!(connect(&mut net, &mut a, &mut b, Duration::from_secs(30), None), "seed {seed}: no connection");
        let (al, ar) = a.selected_pair().unwrap();
        assert_eq!((al.base, al.transport), (addr(CLIENT_TCP), Transport::Tcp(TcpType::Active)));
        assert_eq!((ar.address, ar.transport), (addr(SERVER_TCP), Transport::Tcp(TcpType::Passive)));
        let (bl, br) = b.selected_pair().unwrap();
        assert_eq!(bl.base, addr(SERVER_TCP));
        // The server sees the client's end of the connection, a peer-reflexive active candidate.
        assert_eq!(br.transport, Transport::Tcp(TcpType::Active));
        assert_eq!(br.address, net.conns[0].client);
        assert_eq!(net.connections_opened, 1, "one connection for the one TCP pair");
        assert!(net.udp_dropped > 0, "UDP checks were tried and dropped");
        assert_eq!(echo(&mut net, &mut a, &mut b, 50), (50, 50), "seed {seed}");
        // Nothing was lost in the streams' reassembly.
        for c in &net.conns {
            for p in [&c.up, &c.down] {
                let s = p.decoder.stats();
                assert_eq!((s.oversized, s.empty), (0, 0));
                assert!(p.decoder.buffered() == 0 || !p.segments.is_empty());
            }
        }
    }
}

#[test]
fn udp_is_preferred_over_tcp_when_it_works() {
    for (seed, server_lite) in [(11u8, true), (12, false)] {
        let (mut a, mut b) = agents(seed, server_lite);
        let mut net = Net::new(u64::from(seed), 64, false);
        assert!(connect(&mut net, &mut a, &mut b, Duration::from_secs(30), None));
        // Let nomination settle on the best pair.
        let end = net.now + Duration::from_secs(3);
        while net.now < end {
            net.turn(&mut a, &mut b);
            while a.poll_event().is_some() {}
            while b.poll_event().is_some() {}
        }
        let (al, ar) = a.selected_pair().unwrap();
        assert_eq!((al.base, ar.address, ar.transport), (addr(CLIENT_UDP), addr(SERVER_UDP), Transport::Udp));
        assert_eq!(b.selected_pair().unwrap().1.address, addr(CLIENT_UDP));
        assert_eq!(echo(&mut net, &mut a, &mut b, 10), (10, 10));
    }
}

#[test]
fn a_tcp_reset_mid_session_is_recovered_by_an_ice_restart() {
    for (seed, server_lite) in [(21u8, true), (22, false)] {
        let (mut a, mut b) = agents(seed, server_lite);
        let mut net = Net::new(u64::from(seed), 7, true);
        assert!(connect(&mut net, &mut a, &mut b, Duration::from_secs(30), None));
        assert_eq!(echo(&mut net, &mut a, &mut b, 20), (20, 20));
        let old = net.conns[0].client;

        // The connection is reset: what the server sends goes nowhere, what the client sends opens a
        // new connection from another port, which the server does not take as the selected path.
        net.reset_tcp();
        let (at_a, _) = echo(&mut net, &mut a, &mut b, 10);
        assert_eq!(at_a, 0);
        assert!(net.tcp_unroutable >= 10, "{}", net.tcp_unroutable);
        assert_eq!(b.selected_pair().unwrap().1.address, old, "nothing moved the server's selection yet");

        // ICE restart: new credentials, candidates again, a new check list over a new connection.
        let now = net.now;
        a.restart(now, None);
        b.restart(now, None);
        exchange(now, &mut a, &mut b);
        assert!(connect(&mut net, &mut a, &mut b, Duration::from_secs(30), Some(old)), "seed {seed}: no reconnection");
        let new = b.selected_pair().unwrap().1.address;
        assert_ne!(new, old);
        assert_eq!(new, net.conns.last().unwrap().client);
        assert_eq!(b.selected_pair().unwrap().1.transport, Transport::Tcp(TcpType::Active));
        assert_eq!(echo(&mut net, &mut a, &mut b, 20), (20, 20), "seed {seed}");
    }
}

/// Two peer connections, TCP only: DTLS, SCTP and a data channel over one RFC 4571 connection.
#[test]
fn peer_connections_run_dtls_and_a_data_channel_over_tcp() {
    let now = Instant::from_secs(1);
    let mut a = PeerConnection::new(sansrtc::pc::Config::default(), SeededRng::from_seed([31; 32]));
    let mut b = PeerConnection::new(sansrtc::pc::Config::default(), SeededRng::from_seed([32; 32]));
    a.add_local_tcp(now, addr(CLIENT_TCP), TcpType::Active).unwrap();
    b.add_local_tcp(now, addr(SERVER_TCP), TcpType::Passive).unwrap();
    a.end_of_local_candidates(now);
    b.end_of_local_candidates(now);
    let chat = a.create_data_channel(now, ChannelOptions::new("chat")).unwrap();
    let offer = a.create_offer().unwrap();
    a.set_local_description(now, &offer).unwrap();
    b.set_remote_description(now, &offer).unwrap();
    let answer = b.create_answer().unwrap();
    b.set_local_description(now, &answer).unwrap();
    a.set_remote_description(now, &answer).unwrap();
    // The transport token is case-insensitive (RFC 8839 §5.1); browsers write `tcp`.
    let offer_sdp = a.local_description().unwrap().sdp.to_lowercase();
    let answer_sdp = b.local_description().unwrap().sdp.to_lowercase();
    assert!(offer_sdp.contains(" 1 tcp ") && offer_sdp.contains("10.0.0.2 9 typ host tcptype active"), "{offer_sdp}");
    assert!(answer_sdp.contains("10.0.0.1 443 typ host tcptype passive"), "{answer_sdp}");

    let mut net = Net::new(31, 5, true);
    let (mut open, mut got) = (false, Vec::new());
    let end = net.now + Duration::from_secs(20);
    while net.now < end && got.len() < 3 {
        net.turn(&mut a, &mut b);
        while let Some(e) = a.poll_event() {
            if matches!(e, Event::ChannelOpen(id) if id == chat) {
                open = true;
                for m in ["one", "two", "three"] {
                    a.send_text(net.now, chat, m).unwrap();
                }
            }
        }
        while let Some(e) = b.poll_event() {
            if let Event::Message { data, .. } = e {
                got.push(String::from_utf8(data.to_vec()).unwrap());
            }
        }
    }
    assert!(open, "the channel opened over TCP");
    assert_eq!(got, ["one", "two", "three"]);
    assert_eq!(net.connections_opened, 1);
    assert!(net.frames_delivered > 10);
    let stats = b.stats_report(net.now);
    let remote = stats.remote_candidates().find(|c| c.protocol == "tcp");
    assert!(remote.is_some(), "the peer-reflexive TCP candidate shows in the statistics");
}

/// Chromium's TCP candidates as it trickles them: `tcptype active` with port 9 is kept as an active
/// remote candidate (it pairs with nothing of ours but a passive candidate's connections); simultaneous
/// open is ignored; UDP and TCP candidates at one address are two candidates.
#[test]
fn chromium_tcp_candidates_are_parsed_with_their_direction() {
    let now = Instant::from_secs(1);
    let mut a = PeerConnection::new(sansrtc::pc::Config::default(), SeededRng::from_seed([41; 32]));
    let mut b = PeerConnection::new(sansrtc::pc::Config::default(), SeededRng::from_seed([42; 32]));
    let _ = a.create_data_channel(now, ChannelOptions::new("chat")).unwrap();
    let offer = a.create_offer().unwrap();
    a.set_local_description(now, &offer).unwrap();
    b.set_remote_description(now, &offer).unwrap();
    for line in [
        "candidate:2999745851 1 tcp 1518280447 192.168.1.5 9 typ host tcptype active generation 0 network-id 1",
        "candidate:1 1 udp 2122260223 192.168.1.5 9 typ host generation 0 network-id 1",
        "candidate:3 1 tcp 1518214911 192.168.1.5 50000 typ host tcptype passive generation 0",
        "candidate:4 1 tcp 1518214911 192.168.1.5 50001 typ host tcptype so generation 0",
        "candidate:5 1 tcp 1518214911 192.168.1.5 50002 typ host generation 0",
    ] {
        b.add_ice_candidate(now, Some(line)).unwrap();
    }
    let mut got: Vec<(SocketAddr, Transport)> =
        b.ice().remote_candidates().iter().map(|c| (c.address, c.transport)).collect();
    got.sort();
    let mut want = vec![
        (addr("192.168.1.5:9"), Transport::Udp),
        (addr("192.168.1.5:9"), Transport::Tcp(TcpType::Active)),
        (addr("192.168.1.5:50000"), Transport::Tcp(TcpType::Passive)),
    ];
    want.sort();
    assert_eq!(got, want);
}
