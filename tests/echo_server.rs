//! The echo server (`examples/echo_server.rs`) against sansrtc's own peer connections over real UDP on
//! loopback, signalled over its HTTP endpoint: echoes with their type (empty messages included) on a
//! DCEP channel and on the pre-created negotiated channel 7, 8 MiB with flow control, and many clients on
//! the server's one socket at once; the same server on tokio
//! (`examples/tokio_echo.rs`); and the embedded-style `examples/loop_echo.rs`. Needs nothing installed (the browser test is `tests/chromium.rs`).

// The two examples included below each declare the examples' logging module (`examples/support/log.rs`).
#![allow(clippy::duplicate_mod)]

use core::net::SocketAddr;
use core::time::Duration;
extern crate alloc;

use alloc::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::Instant as StdInstant;

use bytes::Bytes;
use sansrtc::pc::{ChannelId, ChannelOptions, Config, Description, Event, PeerConnection};
use sansrtc::{Datagram, Machine, PathMachine, SeededRng, StdAnchor};

#[path = "support/tool.rs"]
mod tool;

#[allow(dead_code)]
#[path = "../examples/loop_echo.rs"]
mod loop_echo;

#[allow(dead_code)]
#[path = "../examples/tokio_echo.rs"]
mod tokio_echo;

// The echo server's module, through the tokio example that includes it (one copy of it in this crate).
use tokio_echo::server;

/// POSTs `body` and returns (status line, content type, body).
fn post(addr: SocketAddr, path: &str, content_type: &str, body: &str) -> (String, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap();
    let status = head.lines().next().unwrap().to_string();
    let ctype = head.lines().find_map(|l| l.strip_prefix("Content-Type: ")).unwrap_or_default().to_string();
    (status, ctype, body.to_string())
}

struct Client {
    pc: PeerConnection,
    socket: UdpSocket,
    local: SocketAddr,
    anchor: StdAnchor,
    reliable: ChannelId,
    negotiated: ChannelId,
    open: usize,
    inbox: VecDeque<(ChannelId, Bytes, bool)>,
}

impl Client {
    fn connect(server: SocketAddr, seed: u64) -> Client {
        let mut c = Client::new(seed);
        let offer = c.offer();
        let (status, ctype, answer) = post(server, "/offer", "application/sdp", &offer);
        assert_eq!(status, "HTTP/1.1 201 Created", "{answer}");
        assert_eq!(ctype, "application/sdp");
        assert!(answer.contains("a=max-message-size:262144\r\n"), "{answer}");
        assert!(answer.contains("typ host"), "the answer carries the server's candidate: {answer}");
        c.answer(answer);
        c
    }

    fn new(seed: u64) -> Client {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        let local = socket.local_addr().unwrap();
        let anchor = StdAnchor::starting_now();
        let now = anchor.now();
        let mut seed_bytes = [7u8; 32];
        seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
        let mut pc = PeerConnection::new(Config::default(), SeededRng::from_seed(seed_bytes));
        pc.add_local_host(now, local).unwrap();
        pc.end_of_local_candidates(now);
        let reliable = pc.create_data_channel(now, ChannelOptions::new("reliable")).unwrap();
        let mut neg = ChannelOptions::new("negotiated");
        neg.negotiated = Some(7);
        let negotiated = pc.create_data_channel(now, neg).unwrap();
        Client { pc, socket, local, anchor, reliable, negotiated, open: 0, inbox: VecDeque::new() }
    }

    fn offer(&mut self) -> String {
        let offer = self.pc.create_offer().unwrap();
        self.pc.set_local_description(self.anchor.now(), &offer).unwrap();
        offer.sdp
    }

    fn answer(&mut self, answer: String) {
        self.pc.set_remote_description(self.anchor.now(), &Description::answer(answer)).unwrap();
    }

    /// One round: datagrams in, timers, datagrams out, events. Returns whether anything happened.
    fn step(&mut self) -> bool {
        let mut buf = [0u8; 2048];
        let mut busy = false;
        while let Ok((n, from)) = self.socket.recv_from(&mut buf) {
            busy = true;
            let d = Datagram { source: from, destination: self.local, contents: &buf[..n] };
            let _ = self.pc.handle_receive(self.anchor.now(), d);
        }
        let now = self.anchor.now();
        if self.pc.poll_timeout().is_some_and(|t| t <= now) {
            self.pc.handle_timeout(now);
        }
        while let Some(t) = self.pc.poll_transmit() {
            busy = true;
            let _ = self.socket.send_to(t.contents, t.destination);
        }
        while let Some(e) = self.pc.poll_event() {
            busy = true;
            match e {
                Event::ChannelOpen(_) => self.open += 1,
                Event::Message { id, data, binary } => self.inbox.push_back((id, data, binary)),
                _ => {}
            }
        }
        busy
    }
}

/// Steps every client until `done` holds (bounded).
fn run_until(clients: &mut [Client], what: &str, done: impl FnMut(&mut [Client]) -> bool) {
    run_for(clients, what, Duration::from_secs(60), done);
}

/// [`run_until`] with a time limit.
fn run_for(clients: &mut [Client], what: &str, limit: Duration, mut done: impl FnMut(&mut [Client]) -> bool) {
    let start = StdInstant::now();
    while !done(clients) {
        assert!(
            start.elapsed() < limit,
            "timed out waiting for {what}: {:?}",
            clients.iter().map(|c| (c.open, c.inbox.len(), c.pc.connection_state())).collect::<Vec<_>>()
        );
        let mut busy = false;
        for c in clients.iter_mut() {
            busy |= c.step();
        }
        if !busy {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

fn start_server() -> server::Server {
    let http: SocketAddr = "127.0.0.1:0".parse().unwrap();
    server::Server::start(&server::Config { http, udp: None }).unwrap()
}

#[test]
fn echoes_every_message_with_its_type() {
    let server = start_server();
    let mut clients = vec![Client::connect(server.http_addr(), 1)];
    run_until(&mut clients, "both channels open", |c| c[0].open == 2);
    let messages: Vec<(Bytes, bool)> = vec![
        (Bytes::from_static(b""), false),
        (Bytes::from_static(b""), true),
        (Bytes::from_static(b"hello"), false),
        (Bytes::from_static(&[0, 1, 2, 255]), true),
        (Bytes::from((0..65_536u32).map(|i| (i * 7) as u8).collect::<Vec<u8>>()), true),
        (Bytes::from(vec![b'x'; 262_144]), false),
        (Bytes::from((0..262_144u32).map(|i| (i * 13 + 5) as u8).collect::<Vec<u8>>()), true),
    ];
    for channel in [clients[0].reliable, clients[0].negotiated] {
        for (data, binary) in &messages {
            let now = clients[0].anchor.now();
            clients[0].pc.send(now, channel, data.clone(), *binary).unwrap();
            run_until(&mut clients, "an echo", |c| !c[0].inbox.is_empty());
            let (id, got, got_binary) = clients[0].inbox.pop_front().unwrap();
            assert_eq!(id, channel);
            assert_eq!(got_binary, *binary, "same type, {} bytes", data.len());
            assert!(got == *data, "same bytes, {} bytes", data.len());
        }
    }
}

/// `--record DIR`: each connection the server answered leaves a journal that replays identically, and its
/// timeline holds the client's messages; and a capture next to it, which tshark reads with DTLS decrypted
/// by the key log it embeds (the data channel's DATA_CHANNEL_OPEN and the echoed message in clear).
#[test]
fn recorded_connections_replay_identically() {
    let dir = std::env::temp_dir().join(format!("sansrtc-echo-record-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = server::Config { http: "127.0.0.1:0".parse().unwrap(), udp: None };
    // DTLS 1.2: Debian 12's tshark (Wireshark 4.0) cannot dissect DTLS 1.3 (see
    // tests/record_replay.rs), so the captures are checked on a 1.2 session.
    let peer_options = server::peers::PeerOptions {
        record: Some(dir.clone()),
        dtls_versions: sansrtc::dtls::Versions::Dtls12,
        ..server::peers::PeerOptions::default()
    };
    let mut server =
        server::Server::start_with_peer_options(&config, &server::HttpOptions::default(), None, peer_options).unwrap();
    let mut clients = vec![Client::connect(server.http_addr(), 11), Client::connect(server.http_addr(), 12)];
    run_until(&mut clients, "both channels open", |c| c.iter().all(|c| c.open == 2));
    for (i, c) in clients.iter_mut().enumerate() {
        let now = c.anchor.now();
        c.pc.send_text(now, c.reliable, &format!("recorded {i}")).unwrap();
    }
    run_until(&mut clients, "the echoes", |c| c.iter().all(|c| !c.inbox.is_empty()));
    server.shutdown();
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert_eq!(files.len(), 4, "a journal and a capture per connection: {files:?}");
    let journals: Vec<_> = files.iter().filter(|p| p.extension().is_some_and(|e| e == "journal")).collect();
    assert_eq!(journals.len(), 2, "{files:?}");
    for path in &journals {
        let journal = std::fs::read(path).unwrap();
        let mut replay = sansrtc::record::Replayer::new(&journal).unwrap();
        let (mut messages, mut closed) = (Vec::new(), 0);
        while let Some(step) = replay.step().unwrap_or_else(|e| panic!("{}: {e}", path.display())) {
            match step.event {
                Some(Event::Message { data, .. }) => messages.push(String::from_utf8(data.to_vec()).unwrap()),
                Some(Event::ChannelClose(_)) => closed += 1,
                _ => {}
            }
        }
        assert_eq!(messages.len(), 1, "{}", path.display());
        // The journal goes on to the connection's last events: both channels closed after the connection.
        assert_eq!(closed, 2, "{}", path.display());
        assert!(messages[0].starts_with("recorded "));
        assert_eq!(replay.peer_connection().connection_state(), sansrtc::pc::ConnectionState::Closed);
        let capture = path.with_extension("pcapng");
        assert!(files.contains(&capture), "{} next to {}", capture.display(), path.display());
        check_capture(&capture, &messages[0]);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// tshark reads `file` with DTLS decrypted by its embedded key log: the channel's DATA_CHANNEL_OPEN and
/// `message` (sent and echoed: PPID 51, UTF-8) in clear. Skipped without tshark, a failure under CI.
fn check_capture(file: &std::path::Path, message: &str) {
    if std::process::Command::new("tshark").arg("--version").output().is_err() {
        tool::missing("tshark", "`bash scripts/setup` (Debian: `apt-get install tshark`)");
        return;
    }
    let tshark = |args: &[&str]| {
        let lua = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/wireshark/sctp_over_dtls.lua");
        let out = std::process::Command::new("tshark")
            .arg("-r")
            .arg(file)
            .args(["-X", &format!("lua_script:{lua}")])
            .args(args)
            .output()
            .expect("tshark runs");
        assert!(out.status.success(), "tshark {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    // Wireshark 4.0 names the data channel protocol `rtcdc`; `dcep` is taken should a release name it so.
    let protocols = std::process::Command::new("tshark").args(["-G", "protocols"]).output().unwrap();
    let protocols = String::from_utf8_lossy(&protocols.stdout);
    let dcep = if protocols.lines().any(|l| l.split('\t').nth(2) == Some("dcep")) { "dcep" } else { "rtcdc" };
    let listing = tshark(&[]);
    assert!(listing.contains("STUN") && listing.contains("Client Hello"), "{}: {listing}", file.display());
    let open = tshark(&["-Y", dcep]);
    assert!(open.contains("DATA_CHANNEL_OPEN"), "{}: {open}", file.display());
    let texts = tshark(&["-Y", "sctp.data_payload_proto_id == 51", "-T", "fields", "-e", "data.data"]);
    let hex: String = message.bytes().map(|b| format!("{b:02x}")).collect();
    assert_eq!(texts.lines().filter(|l| *l == hex).count(), 2, "received and echoed, in {}: {texts}", file.display());
}

#[test]
fn eight_mib_with_flow_control_comes_back_in_order() {
    let server = start_server();
    let mut clients = vec![Client::connect(server.http_addr(), 2)];
    run_until(&mut clients, "both channels open", |c| c[0].open == 2);
    const CHUNK: usize = 64 * 1024;
    const CHUNKS: usize = 128;
    let chunk = |i: usize| Bytes::from((0..CHUNK).map(|j| (i * 31 + j * 7) as u8).collect::<Vec<u8>>());
    let (mut sent, mut received) = (0usize, 0usize);
    let ch = clients[0].reliable;
    run_until(&mut clients, "8 MiB echoed", |c| {
        while sent < CHUNKS && c[0].pc.buffered_amount(ch) < 1024 * 1024 {
            let now = c[0].anchor.now();
            c[0].pc.send(now, ch, chunk(sent), true).unwrap();
            sent += 1;
        }
        while let Some((id, data, binary)) = c[0].inbox.pop_front() {
            assert_eq!((id, binary), (ch, true));
            assert!(data == chunk(received), "chunk {received} differs");
            received += 1;
        }
        received == CHUNKS
    });
}

#[test]
fn many_clients_share_the_servers_socket() {
    let server = start_server();
    const N: usize = 12;
    let mut clients: Vec<Client> = (0..N).map(|i| Client::connect(server.http_addr(), 10 + i as u64)).collect();
    run_until(&mut clients, "every channel open", |c| c.iter().all(|c| c.open == 2));
    for (i, c) in clients.iter_mut().enumerate() {
        let now = c.anchor.now();
        for k in 0..10 {
            let ch = if k % 2 == 0 { c.reliable } else { c.negotiated };
            c.pc.send(now, ch, Bytes::from(format!("client {i} message {k}")), k % 3 == 0).unwrap();
        }
    }
    run_until(&mut clients, "every echo", |c| c.iter().all(|c| c.inbox.len() == 10));
    for (i, c) in clients.iter_mut().enumerate() {
        let mut got: Vec<(String, bool)> =
            c.inbox.drain(..).map(|(_, d, b)| (String::from_utf8(d.to_vec()).unwrap(), b)).collect();
        got.sort();
        let mut want: Vec<(String, bool)> = (0..10).map(|k| (format!("client {i} message {k}"), k % 3 == 0)).collect();
        want.sort();
        assert_eq!(got, want, "client {i} got only its own echoes, with their types");
    }
}

#[test]
fn a_thousand_peers_on_one_socket_with_every_echo_intact() {
    // Issue 8's scale target: 1,000 peer connections connected at once on the server's one UDP socket.
    // The clients are sansrtc peer connections on their own loopback sockets, driven from this thread.
    let server = start_server();
    const N: usize = 1000;
    let start = StdInstant::now();
    let mut clients: Vec<Client> = Vec::with_capacity(N);
    for i in 0..N {
        clients.push(Client::connect(server.http_addr(), 1000 + i as u64));
        // Keep the ones already answered moving (their ICE checks and DTLS) while the rest sign in.
        if i % 50 == 49 {
            for c in clients.iter_mut() {
                c.step();
            }
        }
    }
    println!("{N} offers answered in {:?}", start.elapsed());
    run_for(&mut clients, "every channel open", Duration::from_secs(150), |c| c.iter().all(|c| c.open == 2));
    println!("{N} peer connections open after {:?}, {:?} dropped", start.elapsed(), server.receive_drops());
    for (i, c) in clients.iter_mut().enumerate() {
        let now = c.anchor.now();
        let (reliable, negotiated) = (c.reliable, c.negotiated);
        c.pc.send(now, reliable, Bytes::from(format!("peer {i} on the reliable channel")), false).unwrap();
        c.pc.send(now, negotiated, Bytes::from(vec![i as u8; 1000 + i]), true).unwrap();
    }
    run_for(&mut clients, "every echo", Duration::from_secs(120), |c| c.iter().all(|c| c.inbox.len() == 2));
    println!("{N} x 2 echoes back after {:?}, {:?} dropped", start.elapsed(), server.receive_drops());
    for (i, c) in clients.iter_mut().enumerate() {
        let mut got: Vec<(ChannelId, Bytes, bool)> = c.inbox.drain(..).collect();
        got.sort_by_key(|(id, ..)| *id == c.negotiated);
        let want = [
            (c.reliable, Bytes::from(format!("peer {i} on the reliable channel")), false),
            (c.negotiated, Bytes::from(vec![i as u8; 1000 + i]), true),
        ];
        assert_eq!(got, want, "peer {i}'s echoes, intact and with their types");
    }
    // Then ping-pongs from all of them at once: ROUNDS messages of 1 KiB each, the next sent when the
    // previous one's echo is back, every echo intact, and not one datagram lost to the server socket's
    // receive buffer on the way (1,000 peers with a message in flight each overflow the default buffer).
    const ROUNDS: usize = 20;
    let message = |i: usize, k: usize| Bytes::from((0..1024).map(|j| (i * 7 + k * 13 + j) as u8).collect::<Vec<u8>>());
    let send = |c: &mut Client, i: usize, k: usize| {
        let now = c.anchor.now();
        let ch = if k % 2 == 0 { c.reliable } else { c.negotiated };
        c.pc.send(now, ch, message(i, k), true).unwrap();
    };
    let pings = StdInstant::now();
    for (i, c) in clients.iter_mut().enumerate() {
        send(c, i, 0);
    }
    let mut echoed = vec![0usize; N];
    run_for(&mut clients, "every ping-pong", Duration::from_secs(120), |c| {
        for (i, c) in c.iter_mut().enumerate() {
            while let Some((id, data, binary)) = c.inbox.pop_front() {
                let k = echoed[i];
                let ch = if k % 2 == 0 { c.reliable } else { c.negotiated };
                assert!(id == ch && binary && data == message(i, k), "peer {i}: echo {k} intact, on its channel");
                echoed[i] += 1;
                if echoed[i] < ROUNDS {
                    send(c, i, echoed[i]);
                }
            }
        }
        echoed.iter().all(|&n| n == ROUNDS)
    });
    println!("{N} x {ROUNDS} ping-pongs of 1 KiB after {:?}", pings.elapsed());
    // The acknowledgements of the last echoes reach the server, carrying its latest drop count.
    let settle = StdInstant::now();
    run_for(&mut clients, "the last acknowledgements", Duration::from_secs(5), |_| {
        settle.elapsed() > Duration::from_millis(300)
    });
    let drops = server.receive_drops();
    println!("receive buffer {} bytes, {drops:?} datagrams dropped", server.receive_buffer());
    // Linux reports twice the buffer it grants: 8 MiB is 4 MiB of datagrams, which this takes without a
    // drop (1 MiB drops about 2,000, the default 208 KiB about 8,500); the system caps what it grants at
    // `net.core.rmem_max` (unless the process may force it).
    #[cfg(target_os = "linux")]
    if server.receive_buffer() < 8 * 1024 * 1024 {
        let granted = server.receive_buffer();
        tool::missing(
            &format!("a UDP receive buffer of 4 MiB (net.core.rmem_max granted {} bytes)", granted / 2),
            "`sysctl -w net.core.rmem_max=8388608` (as root)",
        );
    } else {
        assert_eq!(drops, Some(0), "the server's socket dropped datagrams (its receive buffer was full)");
        let port = server.udp_addr().port();
        assert_eq!(socket_drops(port), Some(0), "the kernel's drop count of the server's socket (port {port})");
    }
    // All of them at once: still connected after the last echo.
    let connected = clients.iter().filter(|c| c.pc.connection_state() == sansrtc::pc::ConnectionState::Connected);
    assert_eq!(connected.count(), N);
}

/// The kernel's count of datagrams dropped by the IPv4 UDP socket bound to `port` (the last column of
/// `/proc/net/udp`), if there is one.
#[cfg(target_os = "linux")]
fn socket_drops(port: u16) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/net/udp").ok()?;
    let local = format!(":{port:04X}");
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.get(1)?.ends_with(&local).then(|| fields.last()?.parse().ok())?
    })
}

#[test]
fn loop_echo_echoes_on_one_fixed_buffer() {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut client = Client::new(40);
    let offer = client.offer();
    let (tx, rx) = std::sync::mpsc::channel();
    let stop = alloc::sync::Arc::new(core::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let server = std::thread::spawn(move || {
        let mut send = |a: &str| tx.send(a.to_string()).unwrap();
        loop_echo::serve(&socket, &offer, [7; 32], &mut send, &stop2)
    });
    client.answer(rx.recv_timeout(Duration::from_secs(10)).unwrap());
    let mut clients = vec![client];
    run_until(&mut clients, "both channels open", |c| c[0].open == 2);
    let sent: Vec<(ChannelId, Bytes, bool)> = (0..40usize)
        .map(|k| {
            let ch = if k % 2 == 0 { clients[0].reliable } else { clients[0].negotiated };
            (ch, Bytes::from(vec![k as u8; k * 3000]), k % 3 == 0)
        })
        .collect();
    for (ch, data, binary) in &sent {
        let now = clients[0].anchor.now();
        clients[0].pc.send(now, *ch, data.clone(), *binary).unwrap();
    }
    run_until(&mut clients, "every echo", |c| c[0].inbox.len() == sent.len());
    for ch in [clients[0].reliable, clients[0].negotiated] {
        let got: Vec<_> = clients[0].inbox.iter().filter(|m| m.0 == ch).cloned().collect();
        let want: Vec<_> = sent.iter().filter(|m| m.0 == ch).cloned().collect();
        assert!(got == want, "channel {ch}: every echo, in order, with its type");
    }
    stop.store(true, core::sync::atomic::Ordering::Relaxed);
    assert_eq!(server.join().unwrap(), Ok(40));
}

#[test]
fn tokio_echo_serves_many_clients() {
    let http: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let config = server::Config { http, udp: None };
    let server = server::Server::start_with(&config, tokio_echo::udp_loop).unwrap();
    let mut clients: Vec<Client> = (0..4).map(|i| Client::connect(server.http_addr(), 60 + i)).collect();
    run_until(&mut clients, "every channel open", |c| c.iter().all(|c| c.open == 2));
    for (i, c) in clients.iter_mut().enumerate() {
        let now = c.anchor.now();
        let (r, n) = (c.reliable, c.negotiated);
        c.pc.send(now, r, Bytes::from(vec![i as u8; 200_000]), true).unwrap();
        c.pc.send(now, n, Bytes::new(), false).unwrap();
        c.pc.send(now, n, Bytes::from(format!("client {i}")), false).unwrap();
    }
    run_until(&mut clients, "every echo", |c| c.iter().all(|c| c.inbox.len() == 3));
    for (i, c) in clients.iter_mut().enumerate() {
        let got: Vec<_> = c.inbox.drain(..).collect();
        let r = got.iter().find(|m| m.0 == c.reliable).unwrap();
        assert!(r.2 && r.1.iter().all(|&b| b == i as u8) && r.1.len() == 200_000);
        let n: Vec<_> = got.iter().filter(|m| m.0 == c.negotiated).map(|m| (m.1.clone(), m.2)).collect();
        assert_eq!(n, vec![(Bytes::new(), false), (Bytes::from(format!("client {i}")), false)]);
    }
}

/// The drop counter the server reads: a socket with a tiny receive buffer, flooded before it is read,
/// reports as many drops in its datagrams' control messages as the kernel counts for it.
#[cfg(target_os = "linux")]
#[test]
fn a_full_receive_buffer_drops_are_counted() {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let stats = server::udp::SocketStats::default();
    assert_eq!(server::udp::setup(&socket, 16 * 1024, &stats), Vec::<String>::new());
    let to = socket.local_addr().unwrap();
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..1000 {
        sender.send_to(&[7u8; 1024], to).unwrap();
    }
    socket.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let mut batch = server::udp::Batch::new();
    let (mut received, mut wait) = (0, true);
    while let Ok(n) = batch.receive(&socket, wait, &stats) {
        received += n;
        wait = false;
    }
    // One more, after the drops, carries the count.
    sender.send_to(&[7u8; 1024], to).unwrap();
    received += batch.receive(&socket, true, &stats).unwrap();
    let kernel = socket_drops(to.port()).unwrap();
    println!(
        "receive buffer {} bytes: {received} received, {:?} dropped, kernel {kernel}",
        stats.receive_buffer(),
        stats.drops()
    );
    assert!(kernel > 0);
    assert_eq!(stats.drops(), Some(kernel as u32));
    assert_eq!(received as u64 + kernel, 1001);
}
