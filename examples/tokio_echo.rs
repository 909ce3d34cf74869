//! The echo server (`examples/echo_server.rs`) with its UDP loop on tokio: one task `select!`s on the
//! socket and a sleep until the connections' next deadline. Same page, same HTTP endpoint, same checks,
//! same audio and video echo (`examples/echo_server/media.rs`).
//!
//! ```text
//! cargo run --release --example tokio_echo -- --http 127.0.0.1:8080 [--udp ADDR] [--mdns]
//! ```
//!
//! `--mdns` also receives the mDNS group on a socket of its own (`examples/echo_server/udp.rs`,
//! `open_mdns`), a third branch of the `select!`: answers sent to the group reach the connections
//! resolving browsers' `.local` names, as in the std loop.

extern crate alloc;

use alloc::sync::Arc;
use core::net::SocketAddr;
use core::sync::atomic::Ordering;
use core::time::Duration;
use std::io;
use std::sync::mpsc::channel;

#[allow(dead_code)] // Parts used only by the tests.
#[path = "echo_server/server.rs"]
pub mod server;

use server::peers::{Peers, SendTo};

/// `SANSRTC_LOG` filter for tracing output (see `examples/support/log.rs`).
#[path = "support/log.rs"]
mod log;

/// tokio's socket sends without waiting: a full socket buffer drops the datagram, as UDP may.
struct Tokio(Arc<tokio::net::UdpSocket>);

impl SendTo for Tokio {
    fn send_datagram(&self, data: &[u8], to: SocketAddr) -> io::Result<()> {
        self.0.try_send_to(data, to).map(drop)
    }
}

fn usage(msg: &str) -> ! {
    eprintln!("tokio_echo: {msg}");
    eprintln!("usage: tokio_echo --http ADDR [--udp ADDR] [--mdns]");
    std::process::exit(2)
}

/// Drives every peer connection from one tokio task until the server's stop flag is set.
pub fn udp_loop(
    socket: std::net::UdpSocket,
    commands: std::sync::mpsc::Receiver<server::Command>,
    stop: Arc<core::sync::atomic::AtomicBool>,
) -> io::Result<()> {
    udp_loop_with(socket, commands, stop, false)
}

/// [`udp_loop`], with the mDNS socket when `mdns` (`--mdns`).
pub fn udp_loop_with(
    socket: std::net::UdpSocket,
    commands: std::sync::mpsc::Receiver<server::Command>,
    stop: Arc<core::sync::atomic::AtomicBool>,
    mdns: bool,
) -> io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build()?;
    rt.block_on(async move {
        socket.set_nonblocking(true)?;
        let local = socket.local_addr()?;
        // The server set the receive buffer up (`examples/echo_server/udp.rs`); `/stats` reports its size
        // (the drops are counted by the std loop only).
        let socket_stats = server::udp::SocketStats::default();
        socket_stats.note_receive_buffer(&socket);
        let socket = Arc::new(tokio::net::UdpSocket::from_std(socket)?);
        let mut peers = Peers::new(Tokio(socket.clone()), local)?;
        peers.socket_stats = Arc::new(socket_stats);
        let mut buf = vec![0u8; 65_536];
        let mdns = match mdns {
            true => {
                let s = server::udp::open_mdns(local.ip())?;
                s.set_nonblocking(true)?;
                Some(tokio::net::UdpSocket::from_std(s)?)
            }
            false => None,
        };
        let mut mdns_buf = vec![0u8; 9000];
        while !stop.load(Ordering::Relaxed) {
            while let Ok(command) = commands.try_recv() {
                peers.command(command);
            }
            let now = peers.now();
            peers.timeouts(now);
            let deadline = peers
                .deadline()
                .and_then(|t| peers.anchor().to_std(t))
                .unwrap_or_else(|| std::time::Instant::now() + Duration::from_secs(1));
            tokio::select! {
                r = socket.recv_from(&mut buf) => match r {
                    Ok((n, from)) => peers.receive(from, buf.get(..n).unwrap_or(&[])),
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
                    Err(e) => return Err(e),
                },
                Some(r) = async { Some(mdns.as_ref()?.recv_from(&mut mdns_buf).await) } => match r {
                    Ok((n, from)) => peers.receive_on(server::udp::MDNS_LOCAL, from, mdns_buf.get(..n).unwrap_or(&[])),
                    Err(e) => return Err(e),
                },
                () = tokio::time::sleep_until(deadline.into()) => {}
            }
        }
        peers.close_all();
        Ok(())
    })
}

fn main() {
    log::init();
    let mut http: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 8080));
    let mut udp: Option<SocketAddr> = None;
    let mut mdns = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage(&format!("{arg} needs a value")));
        match arg.as_str() {
            "--http" => http = value().parse().unwrap_or_else(|_| usage("bad --http address")),
            "--udp" => udp = Some(value().parse().unwrap_or_else(|_| usage("bad --udp address"))),
            "--mdns" => mdns = true,
            other => usage(&format!("unknown argument {other}")),
        }
    }
    let mut server =
        server::Server::start_with(&server::Config { http, udp }, move |s, c, stop| udp_loop_with(s, c, stop, mdns))
            .unwrap_or_else(|e| usage(&e.to_string()));
    let (tx, rx) = channel();
    ctrlc::set_handler(move || {
        let _ = tx.send(());
    })
    .unwrap_or_else(|e| usage(&format!("cannot install the Ctrl-C handler: {e}")));
    let _ = rx.recv();
    println!("tokio_echo: Ctrl-C, shutting down");
    server.shutdown();
}
