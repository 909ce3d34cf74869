//! The TURN client against a real coturn server on 127.0.0.1, driven by a small std-UDP loop: allocate,
//! create a permission, bind a channel, relay datagrams both ways between two local UDP sockets, release;
//! and a clear failure on bad credentials. Then the echo server example in relay-only TURN mode against a
//! relay-only sansrtc peer connection, both allocating on the same coturn. Needs `turnserver` (Debian
//! package `coturn`, installed by `scripts/setup`): without it the tests are skipped, or fail under CI
//! (`tests/support/tool.rs`). The server is started on random free ports and killed when the test ends.
#![cfg(feature = "std")]

use core::net::SocketAddr;
use core::time::Duration;
use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};

use sansrtc::turn::{Failure, TurnClient, TurnConfig, TurnEvent};
use sansrtc::{Datagram, Machine, PathMachine, SeededRng, StdAnchor};

#[path = "support/tool.rs"]
mod tool;

/// A coturn process, killed on drop.
struct Coturn {
    child: Child,
    addr: SocketAddr,
    _dir: TempDir,
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scratch directory removed on drop.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A UDP port free on 127.0.0.1 that is also free for TCP (coturn listens on both).
fn free_port() -> u16 {
    for _ in 0..50 {
        let Ok(udp) = UdpSocket::bind("127.0.0.1:0") else { continue };
        let Ok(port) = udp.local_addr().map(|a| a.port()) else { continue };
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port on 127.0.0.1");
}

/// Starts coturn on a free port and waits until it answers a STUN Binding request; a server that does
/// not come up (say another process took the port in between) is killed and started again elsewhere.
fn start_coturn() -> Coturn {
    for _ in 0..5 {
        let coturn = spawn_coturn();
        if answers_binding(coturn.addr, Duration::from_secs(5)) {
            return coturn;
        }
    }
    panic!("coturn did not come up on 127.0.0.1");
}

/// Whether a STUN server answers a Binding request at `addr` within `limit`.
fn answers_binding(addr: SocketAddr, limit: Duration) -> bool {
    let Ok(socket) = UdpSocket::bind("127.0.0.1:0") else { return false };
    let _ = socket.set_read_timeout(Some(Duration::from_millis(100)));
    let mut request = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42];
    request.extend_from_slice(&[0x5A; 12]);
    let end = std::time::Instant::now() + limit;
    let mut buf = [0u8; 512];
    while std::time::Instant::now() < end {
        let _ = socket.send_to(&request, addr);
        if let Ok((n, from)) = socket.recv_from(&mut buf) {
            if from == addr && n >= 20 && buf[..2] == [0x01, 0x01] {
                return true;
            }
        }
    }
    false
}

fn spawn_coturn() -> Coturn {
    let port = free_port();
    // A relay port range of its own, away from the listening port, so parallel tests do not collide.
    let min = 20_000 + (port % 20) * 1000;
    let dir = std::env::temp_dir().join(format!("sansrtc-coturn-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let child = Command::new("turnserver")
        .args(["-n", "--listening-ip", "127.0.0.1", "--relay-ip", "127.0.0.1"])
        .args(["--listening-port", &port.to_string()])
        .args(["--min-port", &min.to_string(), "--max-port", &(min + 999).to_string()])
        .args(["--lt-cred-mech", "--user", "alice:secret", "--realm", "sansrtc.test"])
        .args(["--no-tls", "--no-dtls", "--no-tcp", "--allow-loopback-peers", "--no-cli"])
        .args(["--log-file", "stdout", "--simple-log"])
        .arg("--userdb")
        .arg(dir.join("turndb"))
        .arg("--pidfile")
        .arg(dir.join("turnserver.pid"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start turnserver (install coturn: bash scripts/setup): {e}"));
    Coturn { child, addr: SocketAddr::from(([127, 0, 0, 1], port)), _dir: TempDir(dir) }
}

/// The std-UDP adapter: one socket for the client, the crate's loop around it.
struct Driver {
    client: TurnClient,
    socket: UdpSocket,
    clock: StdAnchor,
    events: Vec<TurnEvent>,
    data: Vec<(SocketAddr, Vec<u8>)>,
}

impl Driver {
    fn new(server: SocketAddr, user: &str, pass: &str) -> Driver {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind client socket");
        let local = socket.local_addr().expect("local addr");
        let client = TurnClient::new(TurnConfig::new(server, local, user, pass), SeededRng::from_seed([9; 32]));
        Driver { client, socket, clock: StdAnchor::starting_now(), events: Vec::new(), data: Vec::new() }
    }

    /// Runs the loop until `done` holds (true) or `limit` passes (false).
    fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Driver) -> bool) -> bool {
        let end = std::time::Instant::now() + limit;
        let mut buf = [0u8; 2048];
        loop {
            while let Some(t) = self.client.poll_transmit() {
                let _ = self.socket.send_to(t.contents, t.destination);
            }
            while let Some(e) = self.client.poll_event() {
                self.events.push(e);
            }
            while let Some((peer, d)) = self.client.poll_data() {
                self.data.push((peer, d.to_vec()));
            }
            if done(self) {
                return true;
            }
            let now = self.clock.now();
            if std::time::Instant::now() >= end {
                return false;
            }
            let wait = self
                .client
                .poll_timeout()
                .map(|t| t - now)
                .unwrap_or(Duration::from_millis(50))
                .clamp(Duration::from_millis(1), Duration::from_millis(50));
            let _ = self.socket.set_read_timeout(Some(wait));
            if let Ok((n, from)) = self.socket.recv_from(&mut buf) {
                let local = self.client.local();
                let d = Datagram { source: from, destination: local, contents: &buf[..n] };
                let _ = self.client.handle_receive(self.clock.now(), d);
            }
            let now = self.clock.now();
            if self.client.poll_timeout().is_some_and(|t| t <= now) {
                self.client.handle_timeout(now);
            }
        }
    }
}

fn recv(socket: &UdpSocket) -> (SocketAddr, Vec<u8>) {
    let mut buf = [0u8; 2048];
    socket.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let (n, from) = socket.recv_from(&mut buf).expect("peer receives through the relay");
    (from, buf[..n].to_vec())
}

#[test]
fn coturn_allocate_permission_channel_and_relay() {
    if !coturn_installed() {
        return;
    }
    let server = start_coturn();
    let mut d = Driver::new(server.addr, "alice", "secret");
    d.client.allocate(d.clock.now());
    assert!(d.run_until(Duration::from_secs(10), |d| d.client.is_allocated()), "no allocation: {:?}", d.events);
    let relayed = d.client.relayed_address().expect("relayed address");
    assert_eq!(relayed.ip(), server.addr.ip());
    assert!(
        d.events.iter().any(|e| matches!(e, TurnEvent::Allocated { mapped: Some(m), .. } if *m == d.client.local()))
    );

    let peer = UdpSocket::bind("127.0.0.1:0").expect("peer socket");
    let peer_addr = peer.local_addr().expect("peer addr");

    // Permission, then a Send indication out and a Data indication back.
    d.client.create_permission(d.clock.now(), peer_addr.ip()).expect("permission");
    assert!(d.run_until(Duration::from_secs(5), |d| d.client.has_permission(peer_addr.ip())), "{:?}", d.events);
    d.client.send_to(d.clock.now(), peer_addr, b"via send indication").expect("send");
    d.run_until(Duration::from_millis(50), |_| false);
    assert_eq!(recv(&peer), (relayed, b"via send indication".to_vec()));
    peer.send_to(b"via data indication", relayed).expect("peer send");
    assert!(d.run_until(Duration::from_secs(5), |d| !d.data.is_empty()));
    assert_eq!(d.data[0], (peer_addr, b"via data indication".to_vec()));

    // A channel, then ChannelData both ways.
    let channel = d.client.bind_channel(d.clock.now(), peer_addr).expect("bind");
    assert!((0x4000..=0x4FFF).contains(&channel));
    assert!(d.run_until(Duration::from_secs(5), |d| d.client.channel(peer_addr).is_some()), "{:?}", d.events);
    for i in 0..10u8 {
        d.client.send_to(d.clock.now(), peer_addr, &[i; 100]).expect("send over channel");
        d.run_until(Duration::from_millis(5), |_| false);
        assert_eq!(recv(&peer), (relayed, vec![i; 100]));
        peer.send_to(&[i; 33], relayed).expect("peer send");
        assert!(d.run_until(Duration::from_secs(5), |d| d.data.len() == 2 + usize::from(i)));
        assert_eq!(d.data.last(), Some(&(peer_addr, vec![i; 33])));
    }
    let stats = d.client.stats();
    assert_eq!((stats.data_sent, stats.data_received, stats.rejected), (11, 11, 0));

    // Release.
    d.client.close(d.clock.now());
    assert!(d.run_until(Duration::from_secs(5), |d| d.events.last() == Some(&TurnEvent::Closed)), "{:?}", d.events);
    assert!(!d.events.iter().any(|e| matches!(e, TurnEvent::Failed(_) | TurnEvent::RequestFailed { .. })));
}

#[test]
fn coturn_bad_credentials_give_a_clear_error() {
    if !coturn_installed() {
        return;
    }
    let server = start_coturn();
    let mut d = Driver::new(server.addr, "alice", "wrong-password");
    d.client.allocate(d.clock.now());
    d.run_until(Duration::from_secs(10), |d| d.events.iter().any(|e| matches!(e, TurnEvent::Failed(_))));
    assert_eq!(d.events, [TurnEvent::Failed(Failure::BadCredentials)]);
    assert_eq!(Failure::BadCredentials.to_string(), "401 Unauthenticated: bad TURN username or password");
}

#[test]
fn coturn_second_allocation_on_one_socket_is_an_allocation_mismatch() {
    if !coturn_installed() {
        return;
    }
    let server = start_coturn();
    let mut d = Driver::new(server.addr, "alice", "secret");
    d.client.allocate(d.clock.now());
    assert!(d.run_until(Duration::from_secs(10), |d| d.client.is_allocated()), "{:?}", d.events);
    // A second client on the same 5-tuple: coturn answers its Allocate with a signed 437.
    let config = TurnConfig::new(server.addr, d.client.local(), "alice", "secret");
    let mut second = Driver {
        client: TurnClient::new(config, SeededRng::from_seed([10; 32])),
        socket: d.socket.try_clone().expect("clone socket"),
        clock: d.clock,
        events: Vec::new(),
        data: Vec::new(),
    };
    second.client.allocate(second.clock.now());
    let failed =
        second.run_until(Duration::from_secs(10), |d| d.events.iter().any(|e| matches!(e, TurnEvent::Failed(_))));
    assert!(failed, "{:?}", second.events);
    assert_eq!(second.events.last(), Some(&TurnEvent::Failed(Failure::AllocationMismatch)));
}

/// One ICE agent with coturn relay candidates on its own socket, for the relay-only test.
struct IcePeer {
    node: sansrtc::turn::IceRelay,
    socket: UdpSocket,
    candidates: Vec<sansrtc::ice::Candidate>,
    data: Vec<Vec<u8>>,
}

impl IcePeer {
    fn new(server: SocketAddr, role: sansrtc::ice::Role, seed: u8, clock: &StdAnchor) -> IcePeer {
        use sansrtc::ice::{CandidateFilter, Config, IceAgent};
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket.set_nonblocking(true).expect("nonblocking");
        let local = socket.local_addr().expect("local");
        let config = Config { role, candidate_filter: CandidateFilter::RELAY_ONLY, ..Config::default() };
        let mut agent = IceAgent::new(config, SeededRng::from_seed([seed; 32]));
        let _ = agent.add_local_host(clock.now(), local);
        let mut node = sansrtc::turn::IceRelay::new(agent, SeededRng::from_seed([seed + 1; 32]));
        node.add_turn_server(clock.now(), TurnConfig::new(server, local, "alice", "secret")).expect("turn server");
        IcePeer { node, socket, candidates: Vec::new(), data: Vec::new() }
    }

    /// One turn of the loop without blocking.
    fn step(&mut self, clock: &StdAnchor) {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = self.socket.recv_from(&mut buf) {
            let local = self.socket.local_addr().expect("local");
            let d = Datagram { source: from, destination: local, contents: &buf[..n] };
            let _ = self.node.handle_receive(clock.now(), d);
        }
        if self.node.poll_timeout().is_some_and(|t| t <= clock.now()) {
            self.node.handle_timeout(clock.now());
        }
        while let Some(t) = self.node.poll_transmit() {
            let _ = self.socket.send_to(t.contents, t.destination);
        }
        while let Some(e) = self.node.poll_event() {
            if let sansrtc::turn::IceRelayEvent::Ice(sansrtc::ice::IceEvent::LocalCandidate(c)) = e {
                self.candidates.push(c);
            }
        }
        while let Some(d) = self.node.poll_data() {
            self.data.push(d.to_vec());
        }
    }

    fn connected(&self) -> bool {
        use sansrtc::ice::IceConnectionState::{Completed, Connected};
        matches!(self.node.agent().state(), Connected | Completed)
    }
}

#[test]
fn coturn_relay_only_ice_connects_and_carries_data() {
    use sansrtc::ice::{CandidateKind, Role};
    if !coturn_installed() {
        return;
    }
    let server = start_coturn();
    let clock = StdAnchor::starting_now();
    let mut a = IcePeer::new(server.addr, Role::Controlling, 1, &clock);
    let mut b = IcePeer::new(server.addr, Role::Controlled, 3, &clock);
    let (ca, cb) = (a.node.agent().local_credentials().clone(), b.node.agent().local_credentials().clone());
    a.node.agent_mut().set_remote_credentials(cb);
    b.node.agent_mut().set_remote_credentials(ca);
    let end = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < end && !(a.connected() && b.connected()) {
        a.step(&clock);
        b.step(&clock);
        for c in a.candidates.drain(..) {
            let _ = b.node.add_remote_candidate(clock.now(), c);
        }
        for c in b.candidates.drain(..) {
            let _ = a.node.add_remote_candidate(clock.now(), c);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(a.connected() && b.connected(), "{} {}", a.node.agent().state(), b.node.agent().state());
    let pair = a.node.agent().selected_pair().expect("selected pair");
    assert_eq!((pair.0.kind, pair.1.kind), (CandidateKind::Relay, CandidateKind::Relay));
    // Data both ways through coturn.
    a.node.send(clock.now(), b"from a through coturn").expect("send a");
    b.node.send(clock.now(), b"from b through coturn").expect("send b");
    let end = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < end && (a.data.is_empty() || b.data.is_empty()) {
        a.step(&clock);
        b.step(&clock);
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(b.data, vec![b"from a through coturn".to_vec()]);
    assert_eq!(a.data, vec![b"from b through coturn".to_vec()]);
}

// ----- the echo server example in relay-only TURN mode -----

#[allow(dead_code)] // The parts tests/echo_server.rs and tests/chromium.rs use.
#[path = "../examples/echo_server/server.rs"]
mod server;

/// Whether `turnserver` is on the PATH. When it is not, the test is skipped, saying so, or fails under CI.
fn coturn_installed() -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    if std::env::split_paths(&path).any(|dir| dir.join("turnserver").is_file()) {
        return true;
    }
    tool::missing("turnserver (Debian package coturn)", "`apt-get install coturn` or `bash scripts/setup`");
    false
}

/// POSTs an SDP offer to the echo server; returns (status line, body).
fn post_offer(addr: SocketAddr, sdp: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the echo server");
    s.set_read_timeout(Some(Duration::from_secs(15))).expect("timeout");
    write!(
        s,
        "POST /offer HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
    .expect("send the offer");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read the answer");
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    (head.lines().next().unwrap_or_default().to_string(), body.to_string())
}

/// A relay-only sansrtc peer connection on one std UDP socket.
struct RelayClient {
    pc: sansrtc::pc::PeerConnection,
    socket: UdpSocket,
    local: SocketAddr,
    clock: StdAnchor,
    events: Vec<sansrtc::pc::Event>,
}

impl RelayClient {
    /// Relay-only through `turn`, or host-only without.
    fn new(turn: Option<SocketAddr>) -> RelayClient {
        use sansrtc::pc::{Config, IceTransportPolicy, PeerConnection};
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket.set_nonblocking(true).expect("nonblocking");
        let local = socket.local_addr().expect("local");
        let config = match turn {
            Some(turn) => Config {
                turn_servers: vec![TurnConfig::for_server(turn, "alice", "secret")],
                ice_transport_policy: IceTransportPolicy::Relay,
                ..Config::default()
            },
            None => Config::default(),
        };
        let pc = PeerConnection::new(config, SeededRng::from_seed([21; 32]));
        RelayClient { pc, socket, local, clock: StdAnchor::starting_now(), events: Vec::new() }
    }

    /// One turn of the loop without blocking.
    fn step(&mut self) {
        let mut buf = vec![0u8; 65_536];
        while let Ok((n, from)) = self.socket.recv_from(&mut buf) {
            let d = Datagram { source: from, destination: self.local, contents: &buf[..n] };
            let _ = self.pc.handle_receive(self.clock.now(), d);
        }
        let now = self.clock.now();
        if self.pc.poll_timeout().is_some_and(|t| t <= now) {
            self.pc.handle_timeout(now);
        }
        while let Some(t) = self.pc.poll_transmit() {
            let _ = self.socket.send_to(t.contents, t.destination);
        }
        while let Some(e) = self.pc.poll_event() {
            self.events.push(e);
        }
    }

    /// Steps until `done` holds or `end` passes.
    fn until(&mut self, end: std::time::Instant, mut done: impl FnMut(&RelayClient) -> bool) -> bool {
        while !done(self) {
            if std::time::Instant::now() >= end {
                return false;
            }
            self.step();
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }
}

fn candidate_lines(sdp: &str) -> Vec<&str> {
    sdp.lines().filter(|l| l.starts_with("a=candidate:")).collect()
}

#[test]
fn coturn_relay_only_echo_server_echoes_through_the_relay() {
    // Server and client relay-only, both allocating on the same coturn.
    echo_through_coturn(true);
}

#[test]
fn coturn_echo_server_in_turn_mode_offers_host_and_relay() {
    // The server with TURN but not relay-only (a host candidate on its connection's own socket and a relay
    // one), a host-only client.
    echo_through_coturn(false);
}

fn echo_through_coturn(relay_only: bool) {
    use sansrtc::ice::CandidateKind;
    use sansrtc::pc::{ChannelOptions, ConnectionState, Description, Event, IceGatheringState};
    if !coturn_installed() {
        return;
    }
    let end = std::time::Instant::now() + Duration::from_secs(30);
    let coturn = start_coturn();
    let turn = server::peers::TurnOptions {
        server: coturn.addr,
        username: "alice".to_string(),
        credential: "secret".to_string(),
        relay_only,
    };
    let config = server::Config { http: "127.0.0.1:0".parse().expect("addr"), udp: None };
    let mut echo = server::Server::start_with_turn(&config, Some(turn)).expect("start the echo server");

    // A relay-only client gathers its relay candidate on the same coturn, then offers.
    let mut c = RelayClient::new(relay_only.then_some(coturn.addr));
    let now = c.clock.now();
    c.pc.add_local_host(now, c.local).expect("socket");
    c.pc.end_of_local_candidates(now);
    let ch = c.pc.create_data_channel(now, ChannelOptions::new("echo")).expect("channel");
    let gathered = |c: &RelayClient| c.events.contains(&Event::IceGatheringState(IceGatheringState::Complete));
    assert!(c.until(end, gathered), "client gathering: {:?}", c.events);
    let offer = c.pc.create_offer().expect("offer");
    c.pc.set_local_description(c.clock.now(), &offer).expect("set offer");
    let lines = candidate_lines(&offer.sdp);
    let kind = if relay_only { " typ relay" } else { " typ host" };
    assert!(!lines.is_empty() && lines.iter().all(|l| l.contains(kind)), "{}", offer.sdp);

    // The server answers once its own allocation is made: relay candidates only (when relay-only).
    let (status, answer) = post_offer(echo.http_addr(), &offer.sdp);
    assert_eq!(status, "HTTP/1.1 201 Created", "{answer}");
    let lines = candidate_lines(&answer);
    let relays = lines.iter().filter(|l| l.contains(" typ relay ")).count();
    let hosts = lines.iter().filter(|l| l.contains(" typ host")).count();
    assert_eq!((relays, hosts), (1, if relay_only { 0 } else { 1 }), "{answer}");
    assert_eq!(lines.len(), relays + hosts, "{answer}");
    if relay_only {
        // Relay-only hides the related (server-reflexive) address (RFC 8829 §3.5.3).
        assert!(lines.iter().all(|l| l.ends_with("raddr 0.0.0.0 rport 9")), "{answer}");
    }
    assert!(lines.iter().all(|l| l.contains(" 127.0.0.1 ")), "{answer}");
    // The connection's own socket, not the shared one (which only takes wake-ups in TURN mode).
    let shared = format!(" {} ", echo.udp_addr().port());
    assert!(lines.iter().all(|l| !l.contains(&shared)), "{answer}");
    assert!(answer.contains("a=end-of-candidates"), "{answer}");
    assert!(!answer.contains("a=ice-lite"), "full ICE in TURN mode: {answer}");
    c.pc.set_remote_description(c.clock.now(), &Description::answer(answer)).expect("set answer");

    assert!(c.until(end, |c| c.events.contains(&Event::ChannelOpen(ch))), "not open: {:?}", c.events);
    assert_eq!(c.pc.connection_state(), ConnectionState::Connected);
    let pair = c.pc.ice().selected_pair().expect("selected pair");
    if relay_only {
        assert_eq!((pair.0.kind, pair.1.kind), (CandidateKind::Relay, CandidateKind::Relay));
    }

    // Echoes of several sizes, intact and in order.
    let sizes = [1usize, 1024, 65_536];
    let sent: Vec<Vec<u8>> = sizes.iter().map(|&n| (0..n).map(|i| (i * 7 % 251) as u8).collect::<Vec<u8>>()).collect();
    for m in &sent {
        c.pc.send_binary(c.clock.now(), ch, m).expect("send");
    }
    let echoes = |c: &RelayClient| {
        c.events
            .iter()
            .filter_map(|e| match e {
                Event::Message { id, data, binary: true } if *id == ch => Some(data.to_vec()),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert!(c.until(end, |c| echoes(c).len() == sent.len()), "echoes: {:?}", echoes(&c).len());
    assert_eq!(echoes(&c), sent);
    if relay_only {
        // The client's data went as ChannelData on a channel bound to the server's relayed address.
        let bound = c.pc.turn_clients().next().and_then(|t| t.channel(pair.1.address));
        assert!(bound.is_some());
        assert_eq!(c.pc.stats().turn_dropped, 0);
    }

    c.pc.close(c.clock.now());
    c.step();
    echo.shutdown();
    drop(coturn);
}
