//! A broadcast, SFU-style: one publisher's camera and microphone forwarded to many viewers, every peer
//! connection on one UDP socket (the library's [`Router`](sansrtc::router::Router)), with the echo
//! server's minimal HTTP signalling.
//!
//! ```text
//! cargo run --release --example broadcast -- --http 127.0.0.1:8080 [--udp ADDR] [--video vp8|h264] [--reorder-wait MS]
//! ```
//!
//! Open `http://127.0.0.1:8080/?publish` in one browser tab (camera and microphone) and
//! `http://127.0.0.1:8080/?view` in as many others as you like, before or after the publisher. Each page
//! POSTs its offer (`application/sdp`) to `/publish` or `/view` and gets `201 Created` with the answer.
//! A viewer page plays what arrives and, once it has decoded `?frames=N` video frames (90 by default;
//! `getStats()` `framesDecoded`) and received audio, POSTs a report to `/report`, printed on stdout; the
//! publisher page reports once it has sent `?frames=N` frames. `GET /stats` gives the forwarding counts
//! as JSON. `tests/broadcast.rs` runs it all with headless Chromium.
//!
//! Packets are forwarded, not re-encoded: each viewer's connection has its own payload types, SSRCs,
//! sequence numbers and header-extension ids, and each publisher packet is written to every viewer with
//! [`write_rtp`](sansrtc::pc::PeerConnection::write_rtp) on the viewer's transceiver, in the
//! publisher's order (a packet lost on the publisher's way holds the next ones back until its
//! retransmission comes, 200 ms at most). A viewer's video
//! starts at a key frame; a viewer that joins gets a key-frame request sent to the publisher on its
//! behalf, and the viewers' own requests are passed on, at most one per 500 ms to the publisher. The
//! publisher sends VP8 (`--video h264`: H.264 when its browser offers it) and Opus. A new publisher
//! replaces the one before. See `examples/broadcast/sfu.rs` for the details and
//! `examples/broadcast/forward.rs` for the forwarding's pure parts.
//!
//! `--udp ADDR` picks the UDP socket (default: the HTTP address's IP, any port). The server runs ICE lite
//! (the browsers' candidates come in their offers). Logs: `SANSRTC_LOG=sansrtc::pc=debug` (a
//! `tracing-subscriber` filter). Ctrl-C closes every connection and exits.

extern crate alloc;

use alloc::sync::Arc;
use core::net::SocketAddr;
use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;
use std::io;
use std::net::{TcpListener, UdpSocket};
use std::sync::mpsc::{Receiver, Sender, channel};

use sansrtc::{SeededRng, StdAnchor};

/// `SANSRTC_LOG` filter for tracing output (see `examples/support/log.rs`).
#[path = "support/log.rs"]
mod log;

/// The echo server's HTTP/1.1 server (one request per connection).
#[allow(dead_code)] // Parts used only by the echo server.
#[path = "echo_server/http.rs"]
mod http;

#[path = "broadcast/forward.rs"]
mod forward;
#[path = "broadcast/sfu.rs"]
mod sfu;
/// The receive step the UDP examples share.
#[path = "support/udp.rs"]
mod udp;

use http::{Request, Response};
use sfu::{Options, Role, Sfu, VideoCodec};

/// The page served at `GET /` (`?publish` or `?view`).
const PAGE: &str = include_str!("broadcast/page.html");
/// Largest SDP offer accepted.
const MAX_SDP: usize = 64 * 1024;

fn usage(msg: &str) -> ! {
    eprintln!("broadcast: {msg}");
    eprintln!("usage: broadcast --http ADDR [--udp ADDR] [--video vp8|h264] [--reorder-wait MS]");
    std::process::exit(2)
}

fn main() {
    log::init();
    let (mut http, mut udp) = (None, None);
    let mut options = Options { video: VideoCodec::Vp8, reorder_wait: forward::REORDER_WAIT };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage(&format!("{arg} needs a value")));
        match arg.as_str() {
            "--http" => http = Some(value().parse::<SocketAddr>().unwrap_or_else(|_| usage("bad --http address"))),
            "--udp" => udp = Some(value().parse::<SocketAddr>().unwrap_or_else(|_| usage("bad --udp address"))),
            "--video" => {
                options.video = match value().to_ascii_lowercase().as_str() {
                    "vp8" => VideoCodec::Vp8,
                    "h264" => VideoCodec::H264,
                    other => usage(&format!("--video {other}: vp8 or h264")),
                }
            }
            "--reorder-wait" => {
                let ms = value().parse::<u64>().unwrap_or_else(|_| usage("--reorder-wait takes milliseconds"));
                options.reorder_wait = Duration::from_millis(ms);
            }
            "-h" | "--help" => usage("help"),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    let http = http.unwrap_or_else(|| usage("--http ADDR is needed"));
    if let Err(e) = run(http, udp, options) {
        eprintln!("broadcast: {e}");
        std::process::exit(1);
    }
}

/// A request from the HTTP thread to the UDP thread, which owns every connection.
enum Command {
    /// An offer, and where its answer goes.
    Offer { role: Role, sdp: String, reply: Sender<Result<String, String>> },
    /// The counts, as JSON.
    Stats(Sender<String>),
}

/// Binds the sockets, serves HTTP on a thread and runs the connections on this one until Ctrl-C.
fn run(http: SocketAddr, udp: Option<SocketAddr>, options: Options) -> io::Result<()> {
    let listener = TcpListener::bind(http)?;
    let http = listener.local_addr()?;
    let socket = UdpSocket::bind(udp.unwrap_or_else(|| SocketAddr::new(http.ip(), 0)))?;
    let local = socket.local_addr()?;
    // Wake-ups (a zero-length datagram: a command is waiting, or Ctrl-C) come from this socket.
    let waker = Arc::new(UdpSocket::bind(SocketAddr::new(local.ip(), 0))?);
    let stop = Arc::new(AtomicBool::new(false));
    {
        let (stop, waker) = (stop.clone(), waker.clone());
        ctrlc::set_handler(move || {
            stop.store(true, Ordering::Relaxed);
            let _ = waker.send_to(&[], local);
        })
        .map_err(io::Error::other)?;
    }
    let (commands, commands_rx) = channel::<Command>();
    let handler = move |req: Request| handle(req, &commands, &waker, local);
    std::thread::Builder::new().name("http".into()).spawn(move || http::serve(listener, || false, handler))?;
    println!("broadcast: http://{http}/  udp {local}");
    let rng = SeededRng::from_os().map_err(|e| io::Error::other(format!("OS random source: {e}")))?;
    drive(socket, Sfu::new(local, rng, options), &commands_rx, &stop)
}

/// The README loop over every connection: input (a datagram, a command, or a deadline), then the
/// transmits, the events (forwarding queues more transmits), the transmits again; sleep until the next
/// deadline or datagram.
fn drive(socket: UdpSocket, mut sfu: Sfu, commands: &Receiver<Command>, stop: &AtomicBool) -> io::Result<()> {
    let anchor = StdAnchor::starting_now();
    let mut buf = vec![0u8; 65_536];
    let send = |data: &[u8], to: SocketAddr| {
        if let Err(e) = socket.send_to(data, to) {
            tracing::debug!(target: "broadcast", %to, error = %e, "send failed");
        }
    };
    while !stop.load(Ordering::Relaxed) {
        while let Ok(command) = commands.try_recv() {
            match command {
                Command::Offer { role, sdp, reply } => {
                    let _ = reply.send(sfu.answer(anchor.now(), role, &sdp));
                }
                Command::Stats(reply) => {
                    let _ = reply.send(sfu.stats_json());
                }
            }
        }
        let now = anchor.now();
        if sfu.poll_timeout().is_some_and(|t| t <= now) {
            sfu.handle_timeout(now);
        }
        sfu.drain_transmits(send);
        sfu.drain_events(now);
        sfu.drain_transmits(send);
        let wait = sfu
            .poll_timeout()
            .map_or(Duration::from_secs(1), |t| t.saturating_duration_since(anchor.now()))
            .clamp(Duration::from_millis(1), Duration::from_secs(1));
        udp::receive_step(&socket, &mut buf, wait, |source, data| sfu.receive(anchor.now(), source, data))?;
    }
    println!("broadcast: Ctrl-C, closing");
    let now = anchor.now();
    sfu.close_all(now);
    sfu.drain_transmits(send);
    Ok(())
}

fn handle(req: Request, commands: &Sender<Command>, waker: &UdpSocket, udp: SocketAddr) -> Response {
    let path = req.path.split('?').next().unwrap_or_default();
    let ask = |command: Command| {
        if commands.send(command).is_err() {
            return false;
        }
        let _ = waker.send_to(&[], udp);
        true
    };
    match (req.method.as_str(), path) {
        ("GET", "/" | "/index.html") => Response::new("200 OK", "text/html; charset=utf-8", PAGE.as_bytes().to_vec()),
        ("POST", "/publish" | "/view") => {
            let role = if path == "/publish" { Role::Publisher } else { Role::Viewer };
            if !req.has_content_type("application/sdp") {
                return Response::text("415 Unsupported Media Type", format!("POST {path} takes application/sdp\n"));
            }
            if req.body.len() > MAX_SDP {
                return Response::text("413 Content Too Large", format!("an offer is at most {MAX_SDP} bytes\n"));
            }
            let Ok(sdp) = String::from_utf8(req.body) else {
                return Response::text("400 Bad Request", "the offer is not UTF-8\n");
            };
            let (reply, answer) = channel();
            if !ask(Command::Offer { role, sdp, reply }) {
                return Response::text("503 Service Unavailable", "shutting down\n");
            }
            match answer.recv_timeout(Duration::from_secs(10)) {
                Ok(Ok(sdp)) => Response::new("201 Created", "application/sdp", sdp.into_bytes()),
                Ok(Err(e)) => Response::text("400 Bad Request", format!("{e}\n")),
                Err(_) => Response::text("503 Service Unavailable", "no answer\n"),
            }
        }
        ("GET", "/stats") => {
            let (reply, stats) = channel();
            if !ask(Command::Stats(reply)) {
                return Response::text("503 Service Unavailable", "shutting down\n");
            }
            match stats.recv_timeout(Duration::from_secs(10)) {
                Ok(json) => Response::new("200 OK", "application/json", json.into_bytes()),
                Err(_) => Response::text("503 Service Unavailable", "no answer\n"),
            }
        }
        ("POST", "/report") => {
            println!("report: {}", String::from_utf8_lossy(&req.body).replace('\n', " "));
            Response::text("204 No Content", "")
        }
        _ => Response::text("404 Not Found", "not found\n"),
    }
}
