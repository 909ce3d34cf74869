//! An embedded-style echo loop: one peer connection in one loop, one fixed receive buffer, a tick counter
//! as the clock, and no heap use outside the library (`Bytes` messages are the library's own buffers).
//!
//! ```text
//! cargo run --example loop_echo -- --udp 127.0.0.1:5000 < offer.sdp > answer.sdp
//! ```
//!
//! Reads an SDP offer (gathering complete) on stdin, writes the answer on stdout, then echoes every data
//! channel message back on its channel with its type until the connection closes. std is used only where
//! a device would have its own driver: the UDP socket (the "radio") and the 1 kHz tick counter.

use core::net::SocketAddr;
use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;
use std::io::{Read, Write};
use std::net::UdpSocket;

use sansrtc::pc::{ChannelId, ChannelOptions, Config, ConnectionState, Description, Event, PeerConnection};
use sansrtc::{Datagram, Instant, Machine, PathMachine, SeededRng};

/// `SANSRTC_LOG` filter for tracing output (see `examples/support/log.rs`).
#[path = "support/log.rs"]
mod log;

/// The tick counter's frequency (a 1 kHz SysTick).
const TICK_HZ: u64 = 1000;

/// A tick counter, as a hardware timer would give: milliseconds since start.
struct Ticks(std::time::Instant);

impl Ticks {
    fn now(&self) -> Instant {
        let ticks = u64::try_from(self.0.elapsed().as_millis()).unwrap_or(u64::MAX);
        Instant::from_ticks(ticks, TICK_HZ)
    }
}

/// Answers `offer` (the answer goes to `answer_out`) and echoes until the connection ends or `stop` is set.
/// Returns the number of messages echoed.
pub fn serve(
    socket: &UdpSocket,
    offer: &str,
    seed: [u8; 32],
    answer_out: &mut dyn FnMut(&str),
    stop: &AtomicBool,
) -> Result<u64, String> {
    let local = socket.local_addr().map_err(|e| e.to_string())?;
    let ticks = Ticks(std::time::Instant::now());
    let mut config = Config::default();
    config.ice.lite = true;
    let mut pc = PeerConnection::new(config, SeededRng::from_seed(seed));
    let now = ticks.now();
    let e = |e: sansrtc::pc::Error| e.to_string();
    pc.add_local_host(now, local).map_err(e)?;
    pc.end_of_local_candidates(now);
    pc.set_remote_description(now, &Description::offer(offer)).map_err(e)?;
    // Like the echo server: a pre-negotiated channel (id 7, label "negotiated", ordered, reliable).
    let mut negotiated = ChannelOptions::new("negotiated");
    negotiated.negotiated = Some(7);
    pc.create_data_channel(now, negotiated).map_err(e)?;
    let answer = pc.create_answer().map_err(e)?;
    pc.set_local_description(now, &answer).map_err(e)?;
    answer_out(&answer.sdp);

    // The one receive buffer: a UDP payload never exceeds the path MTU here.
    let mut buf = [0u8; 1500];
    // One echo waiting for send-buffer room; while it waits, events stay queued in the library.
    let mut held: Option<(ChannelId, bytes::Bytes, bool)> = None;
    let mut echoed = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let now = ticks.now();
        let wait = pc.poll_timeout().map_or(Duration::from_millis(100), |t| t.saturating_duration_since(now));
        let wait = wait.clamp(Duration::from_millis(1), Duration::from_millis(100));
        socket.set_read_timeout(Some(wait)).map_err(|e| e.to_string())?;
        if let Ok((n, from)) = socket.recv_from(&mut buf) {
            let contents = buf.get(..n).unwrap_or(&[]);
            let _ = pc.handle_receive(ticks.now(), Datagram { source: from, destination: local, contents });
        }
        let now = ticks.now();
        if pc.poll_timeout().is_some_and(|t| t <= now) {
            pc.handle_timeout(now);
        }
        loop {
            if let Some((id, data, binary)) = held.take() {
                match pc.send(now, id, data.clone(), binary) {
                    Ok(()) => echoed += 1,
                    Err(_) if pc.buffered_amount(id) > 0 => {
                        held = Some((id, data, binary));
                        break;
                    }
                    Err(e) => eprintln!("loop_echo: echo on {id} dropped: {e}"), // the channel is gone
                }
            }
            match pc.poll_event() {
                Some(Event::Message { id, data, binary }) => held = Some((id, data, binary)),
                Some(Event::ConnectionState(ConnectionState::Closed | ConnectionState::Failed)) => return Ok(echoed),
                Some(_) => {}
                None => break,
            }
        }
        while let Some(t) = pc.poll_transmit() {
            let _ = socket.send_to(t.contents, t.destination);
        }
    }
    pc.close(ticks.now());
    while let Some(t) = pc.poll_transmit() {
        let _ = socket.send_to(t.contents, t.destination);
    }
    Ok(echoed)
}

#[allow(dead_code)] // Not called when tests/loop_echo.rs includes this file.
fn main() {
    log::init();
    let mut udp: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--udp", Some(v)) => udp = v.parse().unwrap_or_else(|_| fail("bad --udp address")),
            _ => fail("usage: loop_echo [--udp ADDR] < offer.sdp > answer.sdp"),
        }
    }
    let socket = UdpSocket::bind(udp).unwrap_or_else(|e| fail(&e.to_string()));
    let mut offer = String::new();
    std::io::stdin().read_to_string(&mut offer).unwrap_or_else(|e| fail(&e.to_string()));
    let mut seed = [0u8; 32];
    SeededRng::from_os().unwrap_or_else(|e| fail(&e.to_string())).fill(&mut seed);
    let stop = AtomicBool::new(false);
    let mut print = |answer: &str| {
        let mut out = std::io::stdout();
        let _ = out.write_all(answer.as_bytes());
        let _ = out.flush();
    };
    match serve(&socket, &offer, seed, &mut print, &stop) {
        Ok(n) => eprintln!("loop_echo: connection ended after {n} echoes"),
        Err(e) => fail(&e),
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("loop_echo: {msg}");
    std::process::exit(2)
}
