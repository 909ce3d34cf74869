//! The client side of the cost curve (`scripts/cost-curve`, `docs/scale.md`): many sansrtc peer
//! connections against one running echo server (`examples/echo_server.rs`, or `examples/sharded_echo.rs`),
//! each on a UDP socket of its own, all driven from one thread.
//!
//! ```text
//! cargo run --release --example cost_curve -- --http 127.0.0.1:8080 --server-pid PID --peers 1000
//! ```
//!
//! It measures the server from outside, in its own process (`--server-pid`): CPU as the sum of its
//! threads' run time (`/proc/PID/task/*/schedstat`, nanoseconds), memory as its resident set (`VmRSS` in
//! `/proc/PID/status`). The phases:
//!
//! 1. connect: every client offers one data channel over `POST /offer` and connects, at most `--window`
//!    at a time; the server's CPU over this phase, divided by the peers, is the set-up CPU per connection;
//! 2. idle (`--idle` seconds): every peer connected, no messages; the server's CPU per peer per second
//!    (ICE consent checks, SCTP heartbeats) and its resident set per idle peer;
//! 3. echo: every client sends `--messages`/`--peers` messages of `--size` bytes (at least one), evenly
//!    paced so that all clients together send `--rate` messages per second, and checks each echo byte for
//!    byte; the server's CPU per echoed message (gross, and net of the idle rate), its resident set per
//!    live peer at the end, and the echo latency (send to echo, as the client sees it: p50, p99).
//!    `--rate 0` sends the next message as soon as the previous one's echo is back (maximum throughput:
//!    messages per second).
//!
//! It prints one JSON object on stdout (the figures) and progress on stderr. Clients run on tokio's
//! single-threaded runtime: one task per peer connection, each `select!`ing on its socket, its
//! connection's deadline, its next message and the phase changing. Linux only (it reads `/proc`).

extern crate alloc;

use alloc::collections::VecDeque;
use alloc::rc::Rc;
use core::cell::{Cell, RefCell};
use core::future::Future;
use core::net::{IpAddr, SocketAddr};
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use core::time::Duration;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant as StdInstant;

use bytes::Bytes;
use sansrtc::dtls::Certificate;
use sansrtc::pc::{ChannelOptions, Config, Description, Event, PeerConnection};
use sansrtc::{Datagram, Machine, PathMachine, SeededRng, StdAnchor};

/// What the command line asked for.
struct Settings {
    http: SocketAddr,
    server_pid: u32,
    peers: usize,
    window: usize,
    idle: Duration,
    messages: usize,
    size: usize,
    rate: f64,
    ip: IpAddr,
    /// A client that has not opened its channel by then has failed.
    connect_limit: Duration,
}

/// The phase in which every client sends its messages (before it, phase 0: connecting and idle).
const ECHO: u32 = 1;

/// What the clients share with the driver: the phase (with the wakers of the clients waiting for it to
/// change) and the counts.
#[derive(Default)]
struct Shared {
    phase: Cell<u32>,
    wakers: RefCell<Vec<Option<Waker>>>,
    connecting: Cell<usize>,
    connected: Cell<usize>,
    failed: Cell<usize>,
    /// Clients done with the echo phase (every echo back, or given up).
    done: Cell<usize>,
    sent: Cell<u64>,
    echoed: Cell<u64>,
    corrupt: Cell<u64>,
    /// Echo latencies, microseconds.
    latencies: RefCell<Vec<u32>>,
    /// When the echo phase began.
    echo_start: Cell<Option<StdInstant>>,
    /// When the driver started, and the sum of the clients' times of connection since then (seconds):
    /// with the count, the peer-seconds spent connected during the connect phase.
    start: Cell<Option<StdInstant>>,
    connected_at_sum: Cell<f64>,
}

impl Shared {
    fn set_phase(&self, phase: u32) {
        self.phase.set(phase);
        for w in self.wakers.borrow_mut().iter_mut() {
            if let Some(w) = w.take() {
                w.wake();
            }
        }
    }
}

/// Resolves when the phase is no longer `seen` (client `slot`'s waker is kept in its own place, so
/// waiting again replaces it rather than piling up).
struct PhaseChange<'a> {
    shared: &'a Shared,
    slot: usize,
    seen: u32,
}

impl Future for PhaseChange<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.shared.phase.get() != self.seen {
            return Poll::Ready(());
        }
        let mut wakers = self.shared.wakers.borrow_mut();
        if let Some(place) = wakers.get_mut(self.slot) {
            *place = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// The server process's CPU time and resident set (bytes), and its threads' CPU by name.
#[derive(Clone, Debug, Default)]
struct Sample {
    /// The live threads' run time, nanoseconds (`schedstat`).
    cpu_ns: u64,
    /// The engine threads' (`udp`, `engine*`) run time, nanoseconds.
    engine_ns: u64,
    /// The whole process's user + system time, exited threads included (`/proc/PID/stat`, in clock ticks
    /// of 10 ms: the HTTP side runs each request on a thread of its own), nanoseconds.
    process_ns: u64,
    rss: u64,
    threads: Vec<(String, u64)>,
    at: Option<StdInstant>,
}

fn sample(pid: u32) -> Sample {
    let mut s = Sample { at: Some(StdInstant::now()), ..Sample::default() };
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            let path = task.path();
            let ns = std::fs::read_to_string(path.join("schedstat"))
                .ok()
                .and_then(|t| t.split_whitespace().next()?.parse::<u64>().ok())
                .unwrap_or(0);
            let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default().trim().to_string();
            s.cpu_ns += ns;
            if name == "udp" || name.starts_with("engine") {
                s.engine_ns += ns;
            }
            s.threads.push((name, ns));
        }
    }
    // Fields 14 and 15 of `stat` (utime, stime), counted after the command name's closing parenthesis.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks: u64 = [11, 12].iter().filter_map(|&f| fields.get(f)?.parse::<u64>().ok()).sum();
    s.process_ns = ticks * 10_000_000; // USER_HZ is 100 on Linux
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024);
    s
}

/// This process's CPU time (every thread, nanoseconds).
fn own_cpu_ns() -> u64 {
    sample(std::process::id()).cpu_ns
}

/// POSTs the offer, returns the answer (blocking: a few hundred microseconds on loopback).
fn post_offer(http: SocketAddr, offer: &str) -> Result<String, String> {
    let mut s = TcpStream::connect(http).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
    write!(
        s,
        "POST /offer HTTP/1.1\r\nHost: {http}\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{offer}",
        offer.len()
    )
    .map_err(|e| format!("write: {e}"))?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).map_err(|e| format!("read: {e}"))?;
    let (head, body) = resp.split_once("\r\n\r\n").ok_or("no response head")?;
    if !head.starts_with("HTTP/1.1 201") {
        return Err(format!("{}: {body}", head.lines().next().unwrap_or_default()));
    }
    Ok(body.to_string())
}

/// Message `k` of client `i`: its numbers, then a pattern, `size` bytes in all.
fn message(i: usize, k: usize, size: usize) -> Bytes {
    let mut v = vec![0u8; size.max(16)];
    v[..8].copy_from_slice(&(i as u64).to_le_bytes());
    v[8..16].copy_from_slice(&(k as u64).to_le_bytes());
    for (j, b) in v.iter_mut().enumerate().skip(16) {
        *b = (i * 31 + k * 7 + j) as u8;
    }
    Bytes::from(v)
}

/// One client: offers, connects, waits for the echo phase, sends its messages and checks the echoes.
async fn client(i: usize, shared: Rc<Shared>, settings: Rc<Settings>, cert: Certificate) {
    let failed = |shared: &Shared, what: &str| {
        eprintln!("client {i}: {what}");
        shared.failed.set(shared.failed.get() + 1);
        shared.connecting.set(shared.connecting.get() - 1);
    };
    let socket = match std::net::UdpSocket::bind(SocketAddr::new(settings.ip, 0))
        .and_then(|s| s.set_nonblocking(true).map(|()| s))
        .and_then(tokio::net::UdpSocket::from_std)
    {
        Ok(s) => s,
        Err(e) => return failed(&shared, &format!("socket: {e}")),
    };
    let Ok(local) = socket.local_addr() else { return failed(&shared, "no local address") };
    let anchor = StdAnchor::starting_now();
    let started = StdInstant::now();
    let mut seed = [0x5cu8; 32];
    seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
    let config = Config { certificate: Some(cert), ..Config::default() };
    let mut pc = PeerConnection::new(config, SeededRng::from_seed(seed));
    let now = anchor.now();
    let setup = (|| {
        pc.add_local_host(now, local)?;
        pc.end_of_local_candidates(now);
        let ch = pc.create_data_channel(now, ChannelOptions::new("echo"))?;
        let offer = pc.create_offer()?;
        pc.set_local_description(now, &offer)?;
        Ok::<_, sansrtc::pc::Error>((ch, offer.sdp))
    })();
    let Ok((channel, offer)) = setup else { return failed(&shared, "offer") };
    let answer = match post_offer(settings.http, &offer) {
        Ok(a) => a,
        Err(e) => return failed(&shared, &format!("POST /offer: {e}")),
    };
    if let Err(e) = pc.set_remote_description(anchor.now(), &Description::answer(answer)) {
        return failed(&shared, &format!("answer: {e}"));
    }

    let per_client = settings.messages.div_ceil(settings.peers).max(1);
    // Paced: this client's sends are `interval` apart, offset by its place among the clients.
    let interval = if settings.rate > 0.0 {
        Duration::from_secs_f64(settings.peers as f64 / settings.rate)
    } else {
        Duration::ZERO
    };
    let mut open = false;
    let mut next_send: Option<StdInstant> = None;
    let (mut sent, mut echoed) = (0usize, 0usize);
    let mut in_flight: VecDeque<StdInstant> = VecDeque::new();
    let mut buf = vec![0u8; 65_536];
    let mut phase = shared.phase.get();
    loop {
        // The phase: the echo phase starts this client's messages.
        if phase != shared.phase.get() {
            phase = shared.phase.get();
            if phase == ECHO && open {
                let start = shared.echo_start.get().unwrap_or_else(StdInstant::now);
                next_send = Some(start + interval.mul_f64(i as f64 / settings.peers as f64));
            }
        }
        if !open && started.elapsed() > settings.connect_limit {
            return failed(&shared, &format!("not connected after {:?}", settings.connect_limit));
        }
        // Messages due.
        while let Some(at) = next_send.filter(|&t| t <= StdInstant::now()) {
            let now = anchor.now();
            if pc.send(now, channel, message(i, sent, settings.size), true).is_err() {
                break;
            }
            in_flight.push_back(StdInstant::now());
            sent += 1;
            shared.sent.set(shared.sent.get() + 1);
            next_send = if sent < per_client && interval > Duration::ZERO { Some(at + interval) } else { None };
        }
        // Transmits, then events (the README loop).
        while let Some(t) = pc.poll_transmit() {
            let _ = socket.try_send_to(t.contents, t.destination);
        }
        while let Some(e) = pc.poll_event() {
            match e {
                Event::ChannelOpen(id) if id == channel => {
                    open = true;
                    shared.connecting.set(shared.connecting.get() - 1);
                    shared.connected.set(shared.connected.get() + 1);
                    let since = shared.start.get().map_or(0.0, |t| t.elapsed().as_secs_f64());
                    shared.connected_at_sum.set(shared.connected_at_sum.get() + since);
                    if shared.phase.get() == ECHO {
                        next_send = Some(StdInstant::now());
                    }
                }
                Event::Message { data, .. } => {
                    let got = StdInstant::now();
                    if data != message(i, echoed, settings.size) {
                        shared.corrupt.set(shared.corrupt.get() + 1);
                    }
                    if let Some(t) = in_flight.pop_front() {
                        let us = got.duration_since(t).as_micros().min(u32::MAX as u128) as u32;
                        shared.latencies.borrow_mut().push(us);
                    }
                    echoed += 1;
                    shared.echoed.set(shared.echoed.get() + 1);
                    if interval == Duration::ZERO && sent < per_client && sent == echoed {
                        next_send = Some(got);
                    }
                    if echoed == per_client {
                        shared.done.set(shared.done.get() + 1);
                    }
                }
                _ => {}
            }
        }
        if next_send.is_some() {
            // Sent from events: go round once more before sleeping.
            if next_send.is_some_and(|t| t <= StdInstant::now()) {
                continue;
            }
        }
        while let Some(t) = pc.poll_transmit() {
            let _ = socket.try_send_to(t.contents, t.destination);
        }
        // Sleep until a datagram, the connection's deadline, the next message or a phase change.
        let deadline = pc.poll_timeout().and_then(|t| anchor.to_std(t));
        let wake = [deadline, next_send].into_iter().flatten().min();
        let wake = wake.unwrap_or_else(|| StdInstant::now() + Duration::from_secs(3600));
        let changed = PhaseChange { shared: &shared, slot: i, seen: phase };
        tokio::select! {
            r = socket.recv_from(&mut buf) => {
                if let Ok((n, from)) = r {
                    let d = Datagram { source: from, destination: local, contents: &buf[..n] };
                    let _ = pc.handle_receive(anchor.now(), d);
                    // Whatever else is queued.
                    for _ in 0..64 {
                        let Ok((n, from)) = socket.try_recv_from(&mut buf) else { break };
                        let d = Datagram { source: from, destination: local, contents: &buf[..n] };
                        let _ = pc.handle_receive(anchor.now(), d);
                    }
                }
            }
            _ = tokio::time::sleep_until(wake.into()) => {}
            _ = changed => {}
        }
        let now = anchor.now();
        if pc.poll_timeout().is_some_and(|t| t <= now) {
            pc.handle_timeout(now);
        }
    }
}

fn usage(msg: &str) -> ! {
    eprintln!("cost_curve: {msg}");
    eprintln!(
        "usage: cost_curve --http ADDR --server-pid PID [--peers N] [--window N] [--idle SECS] \
         [--messages N] [--size BYTES] [--rate MSG_PER_S] [--ip ADDR]"
    );
    std::process::exit(2)
}

fn settings() -> Settings {
    let mut s = Settings {
        http: "127.0.0.1:8080".parse().unwrap_or_else(|_| usage("bad default")),
        server_pid: 0,
        peers: 100,
        window: 64,
        idle: Duration::from_secs(5),
        messages: 20_000,
        size: 100,
        rate: 4000.0,
        ip: IpAddr::from([127, 0, 0, 1]),
        connect_limit: Duration::from_secs(60),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage(&format!("{arg} needs a value")));
        match arg.as_str() {
            "--http" => s.http = value().parse().unwrap_or_else(|_| usage("bad --http")),
            "--server-pid" => s.server_pid = value().parse().unwrap_or_else(|_| usage("bad number")),
            "--peers" => s.peers = value().parse().unwrap_or_else(|_| usage("bad number")),
            "--window" => s.window = value().parse().unwrap_or_else(|_| usage("bad number")),
            "--idle" => s.idle = Duration::from_secs_f64(value().parse().unwrap_or_else(|_| usage("bad --idle"))),
            "--messages" => s.messages = value().parse().unwrap_or_else(|_| usage("bad number")),
            "--size" => s.size = value().parse().unwrap_or_else(|_| usage("bad number")),
            "--rate" => s.rate = value().parse().unwrap_or_else(|_| usage("bad number")),
            "--ip" => s.ip = value().parse().unwrap_or_else(|_| usage("bad --ip")),
            "-h" | "--help" => usage("help"),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    if s.server_pid == 0 {
        usage("--server-pid is required (the server is measured from outside)");
    }
    if s.peers == 0 || s.window == 0 {
        usage("--peers and --window must be at least 1");
    }
    s
}

/// Waits (letting the clients run) until `done` holds or `limit` passes; whether it held.
async fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = StdInstant::now();
    while !done() {
        if start.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    true
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted.get(i).copied().unwrap_or(0)
}

fn main() {
    let settings = Rc::new(settings());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .unwrap_or_else(|e| usage(&format!("tokio: {e}")));
    let local = tokio::task::LocalSet::new();
    let report = local.block_on(&rt, drive(settings.clone()));
    println!("{report}");
}

async fn drive(settings: Rc<Settings>) -> String {
    let n = settings.peers;
    let pid = settings.server_pid;
    let shared = Rc::new(Shared::default());
    shared.wakers.borrow_mut().resize(n, None);
    let cert = Certificate::generate(&mut SeededRng::from_seed([0xc1; 32]));
    let client_cpu0 = own_cpu_ns();
    let base = sample(pid);
    shared.start.set(base.at);

    // 1. Connect, at most `window` at a time.
    for i in 0..n {
        while shared.connecting.get() >= settings.window {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        shared.connecting.set(shared.connecting.get() + 1);
        tokio::task::spawn_local(client(i, shared.clone(), settings.clone(), cert.clone()));
        if (i + 1) % 1000 == 0 {
            eprintln!("{} offered, {} connected", i + 1, shared.connected.get());
        }
        // Let the new client post its offer before the next one is made.
        tokio::task::yield_now().await;
    }
    let all_in = wait_for(settings.connect_limit * 2, || shared.connected.get() + shared.failed.get() == n).await;
    let connected = sample(pid);
    let connect_wall = connected.at.zip(base.at).map_or(0.0, |(a, b)| a.duration_since(b).as_secs_f64());
    eprintln!(
        "{} connected, {} failed in {connect_wall:.1} s (all in: {all_in})",
        shared.connected.get(),
        shared.failed.get()
    );

    // 2. Idle.
    tokio::time::sleep(settings.idle).await;
    let idle = sample(pid);

    // 3. Echo.
    let live = shared.connected.get();
    shared.echo_start.set(Some(StdInstant::now() + Duration::from_millis(50)));
    shared.set_phase(ECHO);
    let per_client = settings.messages.div_ceil(n).max(1);
    let expected = per_client as f64 / if settings.rate > 0.0 { settings.rate / n as f64 } else { 1000.0 };
    let limit = Duration::from_secs_f64(expected * 3.0 + 30.0);
    let all_echoed = wait_for(limit, || shared.done.get() >= live).await;
    let echo = sample(pid);
    let client_cpu = own_cpu_ns().saturating_sub(client_cpu0);
    eprintln!("{} echoes back of {} sent (all: {all_echoed})", shared.echoed.get(), shared.sent.get());

    let secs = |a: &Sample, b: &Sample| a.at.zip(b.at).map_or(0.0, |(a, b)| a.duration_since(b).as_secs_f64());
    let peers = shared.connected.get().max(1) as f64;
    let setup_cpu = connected.process_ns.saturating_sub(base.process_ns) as f64 / peers;
    let setup_engine_cpu = connected.engine_ns.saturating_sub(base.engine_ns) as f64 / peers;
    let idle_secs = secs(&idle, &connected);
    let idle_rate = idle.cpu_ns.saturating_sub(connected.cpu_ns) as f64 / idle_secs.max(1e-9);
    // The connect phase also carries the peers already connected (their keepalives): net of that, at the
    // idle phase's rate per peer.
    let connected_secs = peers * connect_wall - shared.connected_at_sum.get();
    let idle_per_peer = idle_rate / peers;
    let setup_net = (setup_cpu * peers - idle_per_peer * connected_secs).max(0.0) / peers;
    let echo_secs = secs(&echo, &idle);
    let echo_cpu = echo.cpu_ns.saturating_sub(idle.cpu_ns) as f64;
    let echoed = shared.echoed.get().max(1) as f64;
    let mut lat = shared.latencies.borrow().clone();
    lat.sort_unstable();
    let threads: Vec<String> = echo
        .threads
        .iter()
        .map(|(name, ns)| {
            let before = idle.threads.iter().find(|(n, _)| n == name).map_or(0, |t| t.1);
            format!("{{\"name\":\"{name}\",\"echo_cpu_ms\":{:.1}}}", ns.saturating_sub(before) as f64 / 1e6)
        })
        .collect();
    format!(
        concat!(
            "{{\"peers\":{},\"connected\":{},\"failed\":{},\"connect_wall_s\":{:.2},",
            "\"setup_cpu_us_per_conn\":{:.1},\"setup_cpu_us_per_conn_net\":{:.1},\"setup_engine_cpu_us_per_conn\":{:.1},\"idle_cpu_us_per_peer_s\":{:.3},",
            "\"rss_base_bytes\":{},\"rss_idle_bytes\":{},\"rss_live_bytes\":{},",
            "\"rss_idle_per_peer_bytes\":{:.0},\"rss_live_per_peer_bytes\":{:.0},",
            "\"messages_sent\":{},\"messages_echoed\":{},\"corrupt\":{},\"size\":{},\"rate\":{},",
            "\"echo_wall_s\":{:.2},\"echo_msgs_per_s\":{:.0},",
            "\"echo_cpu_us_per_msg\":{:.2},\"echo_cpu_us_per_msg_net\":{:.2},",
            "\"p50_us\":{},\"p99_us\":{},\"client_cpu_s\":{:.2},\"threads\":[{}]}}"
        ),
        n,
        shared.connected.get(),
        shared.failed.get(),
        connect_wall,
        setup_cpu / 1e3,
        setup_net / 1e3,
        setup_engine_cpu / 1e3,
        idle_rate / peers / 1e3,
        base.rss,
        idle.rss,
        echo.rss,
        idle.rss.saturating_sub(base.rss) as f64 / peers,
        echo.rss.saturating_sub(base.rss) as f64 / peers,
        shared.sent.get(),
        shared.echoed.get(),
        shared.corrupt.get(),
        settings.size,
        settings.rate,
        echo_secs,
        echoed / echo_secs.max(1e-9),
        echo_cpu / echoed / 1e3,
        (echo_cpu - idle_rate * echo_secs).max(0.0) / echoed / 1e3,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        client_cpu as f64 / 1e9,
        threads.join(",")
    )
}
