//! The echo server sharded across cores: one engine per core, each a thread with its own UDP socket on
//! its own port and its own peer connections, and one HTTP endpoint in front that gives each offer to one
//! engine, whose answer names that engine's port.
//!
//! ```text
//! cargo run --release --example sharded_echo -- --http 127.0.0.1:8080 [--engines N] [--udp-ip IP] \
//!     [--udp-port BASE]
//! ```
//!
//! An engine is the echo server's UDP side (`examples/echo_server/peers.rs`) unchanged: a
//! `sansrtc::router::Router` of peer connections on one socket, driven by one thread. Nothing is shared
//! between engines (no lock, no queue on the datagram path): a peer's every datagram arrives on the
//! socket of the engine that answered its offer, because that socket's port is the only one in the
//! answer's candidate. The HTTP side hands offers out in turn (round robin); `POST /offer` answers with the
//! SDP and an `X-Engine` header naming the engine. `--engines` defaults to the number of cores;
//! `--udp-port BASE` binds engine `i` to `BASE + i` (default: any free ports), for a firewall or a load
//! balancer that needs to know them. The test page (`GET /`) works as with `echo_server`.
//!
//! Why not one port for all engines with `SO_REUSEPORT`: the kernel then picks the socket for each
//! datagram by a hash of its 5-tuple, not by which engine answered the offer, so most peers' datagrams
//! would land on an engine that does not hold their connection and would have to be passed across
//! threads, every one of them; and the hash moves peers between sockets whenever a socket is opened or
//! closed. Distinct ports make the owner explicit. How this extends to many machines behind a UDP load
//! balancer is in `docs/scale.md`, with the measured scaling from one engine to two.

// The HTTP module is loaded twice: inside the echo server's module, where it is private, and here.
#![allow(clippy::duplicate_mod)]

extern crate alloc;

use alloc::sync::Arc;
use core::net::{IpAddr, SocketAddr};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use core::time::Duration;
use std::io;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::sync::mpsc::{Sender, channel};

/// `SANSRTC_LOG` filter for tracing output (see `examples/support/log.rs`).
#[path = "support/log.rs"]
mod log;

#[allow(dead_code)] // The echo server's parts this example does not use.
#[path = "echo_server/server.rs"]
mod server;

#[allow(dead_code)]
#[path = "echo_server/http.rs"]
mod http;

use server::{Command, OfferRequest};

/// One engine as the HTTP side sees it: where to send its commands, and its socket's address (a
/// zero-length datagram there wakes it to read them).
struct Engine {
    commands: Sender<Command>,
    addr: SocketAddr,
}

fn usage(msg: &str) -> ! {
    eprintln!("sharded_echo: {msg}");
    eprintln!("usage: sharded_echo --http ADDR [--engines N] [--udp-ip IP] [--udp-port BASE]");
    std::process::exit(2)
}

fn main() {
    log::init();
    let mut http: SocketAddr = "127.0.0.1:8080".parse().unwrap_or_else(|_| usage("bad default"));
    let mut engines = std::thread::available_parallelism().map_or(1, usize::from);
    let mut udp_ip: Option<IpAddr> = None;
    let mut base_port: u16 = 0;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage(&format!("{arg} needs a value")));
        match arg.as_str() {
            "--http" => http = value().parse().unwrap_or_else(|_| usage("bad --http address")),
            "--engines" => engines = value().parse().unwrap_or_else(|_| usage("bad --engines")),
            "--udp-ip" => udp_ip = Some(value().parse().unwrap_or_else(|_| usage("bad --udp-ip"))),
            "--udp-port" => base_port = value().parse().unwrap_or_else(|_| usage("bad --udp-port")),
            "-h" | "--help" => usage("help"),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    if engines == 0 {
        usage("--engines must be at least 1");
    }
    let mut sharded = Sharded::start(http, engines, udp_ip, base_port).unwrap_or_else(|e| usage(&e.to_string()));
    let (tx, rx) = channel();
    ctrlc::set_handler(move || {
        let _ = tx.send(());
    })
    .unwrap_or_else(|e| usage(&format!("cannot install the Ctrl-C handler: {e}")));
    let _ = rx.recv();
    println!("sharded echo server: Ctrl-C, shutting down");
    sharded.shutdown();
}

/// A running sharded server: its engines' threads and the HTTP thread, stopped on
/// [`Sharded::shutdown`] or drop.
pub struct Sharded {
    /// The HTTP address.
    pub http: SocketAddr,
    /// Each engine's UDP address, by engine number.
    pub engines: Vec<SocketAddr>,
    stop: Arc<AtomicBool>,
    waker: Arc<UdpSocket>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Sharded {
    /// Binds the HTTP listener and `engines` UDP sockets (on `udp_ip`, default the HTTP address's IP; on
    /// ports `base_port + i`, or any free ports when `base_port` is 0) and starts a thread for each.
    pub fn start(http: SocketAddr, engines: usize, udp_ip: Option<IpAddr>, base_port: u16) -> io::Result<Sharded> {
        let listener = TcpListener::bind(http)?;
        let http = listener.local_addr()?;
        let ip = udp_ip.unwrap_or(http.ip());
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        let mut shards = Vec::new();
        for i in 0..engines {
            let port = if base_port == 0 { 0 } else { base_port.saturating_add(i as u16) };
            let socket = UdpSocket::bind(SocketAddr::new(ip, port))?;
            let stats = server::udp::SocketStats::default();
            for problem in server::udp::setup(&socket, server::udp::RECEIVE_BUFFER, &stats) {
                println!("engine {i}: {problem}");
            }
            let addr = socket.local_addr()?;
            let (commands, received) = channel();
            let stop = stop.clone();
            threads.push(std::thread::Builder::new().name(format!("engine{i}")).spawn(move || {
                if let Err(e) = server::peers::run(socket, received, &stop) {
                    println!("engine {i} failed: {e}");
                }
            })?);
            println!("engine {i}: udp {addr}");
            shards.push(Engine { commands, addr });
        }
        let addrs = shards.iter().map(|e| e.addr).collect();
        let waker = Arc::new(UdpSocket::bind(SocketAddr::new(ip, 0))?);
        let next = Arc::new(AtomicUsize::new(0));
        let (stop_http, waker_http) = (stop.clone(), waker.clone());
        let shards = Arc::new(shards);
        threads.push(std::thread::Builder::new().name("http".into()).spawn(move || {
            let handler = move |req: http::Request| handle(req, &shards, &waker_http, &next);
            http::serve(listener, move || stop_http.load(Ordering::Relaxed), handler);
        })?);
        println!("sharded echo server: http://{http}/  {engines} engines");
        Ok(Sharded { http, engines: addrs, stop, waker, threads })
    }

    /// Stops every thread and waits for them.
    pub fn shutdown(&mut self) {
        if self.stop.swap(true, Ordering::Relaxed) {
            return;
        }
        for addr in &self.engines {
            let _ = self.waker.send_to(&[], *addr);
        }
        let _ = TcpStream::connect_timeout(&self.http, Duration::from_secs(1));
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Sharded {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The HTTP side: the test page, `POST /offer` given to the next engine in turn, `POST /report` printed.
fn handle(req: http::Request, engines: &[Engine], waker: &UdpSocket, next: &AtomicUsize) -> http::Response {
    let path = req.path.split('?').next().unwrap_or_default();
    match (req.method.as_str(), path) {
        ("GET", "/") | ("GET", "/index.html") => {
            http::Response::new("200 OK", "text/html; charset=utf-8", server::PAGE.as_bytes().to_vec())
        }
        ("POST", "/offer") => {
            if !req.has_content_type("application/sdp") {
                return http::Response::text("415 Unsupported Media Type", "POST /offer takes application/sdp\n");
            }
            if req.body.len() > server::MAX_SDP {
                return http::Response::text("413 Content Too Large", "offer too large\n");
            }
            let Ok(sdp) = String::from_utf8(req.body) else {
                return http::Response::text("400 Bad Request", "offer is not UTF-8\n");
            };
            let i = next.fetch_add(1, Ordering::Relaxed) % engines.len().max(1);
            let Some(engine) = engines.get(i) else {
                return http::Response::text("503 Service Unavailable", "no engine\n");
            };
            let (reply, answer) = channel();
            if engine.commands.send(Command::Offer(OfferRequest { sdp, reply })).is_err() {
                return http::Response::text("503 Service Unavailable", "shutting down\n");
            }
            let _ = waker.send_to(&[], engine.addr);
            match answer.recv_timeout(Duration::from_secs(10)) {
                Ok(Ok(a)) => http::Response::new("201 Created", "application/sdp", a.sdp.into_bytes())
                    .with_header("X-Engine", i.to_string()),
                Ok(Err(server::Refused::BadOffer(e))) => http::Response::text("400 Bad Request", format!("{e}\n")),
                Ok(Err(server::Refused::Busy(e))) => http::Response::text("503 Service Unavailable", format!("{e}\n")),
                Err(_) => http::Response::text("503 Service Unavailable", "no answer\n"),
            }
        }
        ("POST", "/report") => {
            println!("report: {}", String::from_utf8_lossy(&req.body).replace('\n', " "));
            http::Response::text("204 No Content", "")
        }
        _ => http::Response::text("404 Not Found", "not found\n"),
    }
}
