//! A data channel echo server for browsers: std UDP, one socket for every peer connection, and a minimal
//! HTTP signalling endpoint.
//!
//! ```text
//! cargo run --release --example echo_server -- --http 127.0.0.1:8080 [--udp ADDR]
//! ```
//!
//! Open `http://127.0.0.1:8080/` in a browser: the page offers four data channels (ordered reliable,
//! unordered, `maxRetransmits: 0`, and a negotiated one with id 7), POSTs its offer to `/offer`, and checks
//! that every message it sends comes back byte for byte with the same type, then pushes 32 MiB through the
//! reliable channel with `bufferedAmount` flow control. Results are shown and POSTed to `/report`, which
//! this server prints on stdout (`tests/chromium.rs` runs it all in headless Chromium).
//!
//! `--udp ADDR` picks the peer connections' UDP socket (default: the HTTP address's IP, any port).
//! Ctrl-C shuts down cleanly.

use core::net::SocketAddr;
use std::sync::mpsc::channel;

#[allow(dead_code)] // Parts used only by tests/chromium.rs.
#[path = "echo_server/server.rs"]
mod server;

fn usage(msg: &str) -> ! {
    eprintln!("echo_server: {msg}");
    eprintln!("usage: echo_server --http ADDR [--udp ADDR]");
    std::process::exit(2)
}

fn main() {
    let mut http: Option<SocketAddr> = None;
    let mut udp: Option<SocketAddr> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage(&format!("{arg} needs a value")));
        match arg.as_str() {
            "--http" => http = Some(value().parse().unwrap_or_else(|_| usage("bad --http address"))),
            "--udp" => udp = Some(value().parse().unwrap_or_else(|_| usage("bad --udp address"))),
            "-h" | "--help" => usage("help"),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    let http = http.unwrap_or_else(|| "127.0.0.1:8080".parse().unwrap_or_else(|_| usage("bad default")));
    let mut server = server::Server::start(&server::Config { http, udp }).unwrap_or_else(|e| usage(&e.to_string()));
    let (tx, rx) = channel();
    ctrlc::set_handler(move || {
        let _ = tx.send(());
    })
    .unwrap_or_else(|e| usage(&format!("cannot install the Ctrl-C handler: {e}")));
    let _ = rx.recv();
    println!("echo server: Ctrl-C, shutting down");
    server.shutdown();
}
