//! The sharded echo server (`examples/sharded_echo.rs`) with sansrtc's own peer connections over real UDP
//! on loopback: offers go to the engines in turn, each answer names its engine's port, and every client's
//! echoes come back through the engine that answered it.

// The example and the echo server's module it includes each load the examples' HTTP module.
#![allow(clippy::duplicate_mod)]

extern crate alloc;

use alloc::collections::BTreeSet;
use core::net::SocketAddr;
use core::time::Duration;
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::Instant as StdInstant;

use bytes::Bytes;
use sansrtc::pc::{ChannelId, ChannelOptions, Config, Description, Event, PeerConnection};
use sansrtc::{Datagram, Machine, PathMachine, SeededRng, StdAnchor};

#[allow(dead_code)]
#[path = "../examples/sharded_echo.rs"]
mod sharded_echo;

struct Client {
    pc: PeerConnection,
    socket: UdpSocket,
    local: SocketAddr,
    anchor: StdAnchor,
    channel: ChannelId,
    open: bool,
    echoes: Vec<Bytes>,
    /// The engine that answered (`X-Engine`) and the port its answer names.
    engine: String,
    port: u16,
    /// Every port a datagram came from.
    sources: BTreeSet<u16>,
}

impl Client {
    fn connect(http: SocketAddr, seed: u8) -> Client {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        let local = socket.local_addr().unwrap();
        let anchor = StdAnchor::starting_now();
        let now = anchor.now();
        let mut pc = PeerConnection::new(Config::default(), SeededRng::from_seed([seed; 32]));
        pc.add_local_host(now, local).unwrap();
        pc.end_of_local_candidates(now);
        let channel = pc.create_data_channel(now, ChannelOptions::new("echo")).unwrap();
        let offer = pc.create_offer().unwrap();
        pc.set_local_description(now, &offer).unwrap();
        let mut s = TcpStream::connect(http).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        write!(
            s,
            "POST /offer HTTP/1.1\r\nHost: {http}\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{}",
            offer.sdp.len(),
            offer.sdp
        )
        .unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        let (head, answer) = resp.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 201"), "{resp}");
        let engine = head.lines().find_map(|l| l.strip_prefix("X-Engine: ")).unwrap().to_string();
        // The answer's one candidate: `a=candidate:… 1 udp PRIORITY IP PORT typ host`.
        let candidates: Vec<&str> = answer.lines().filter(|l| l.starts_with("a=candidate:")).collect();
        assert_eq!(candidates.len(), 1, "{answer}");
        let port = candidates[0].split_whitespace().nth(5).unwrap().parse().unwrap();
        pc.set_remote_description(anchor.now(), &Description::answer(answer.to_string())).unwrap();
        Client {
            pc,
            socket,
            local,
            anchor,
            channel,
            open: false,
            echoes: Vec::new(),
            engine,
            port,
            sources: Default::default(),
        }
    }

    fn step(&mut self) {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = self.socket.recv_from(&mut buf) {
            self.sources.insert(from.port());
            let d = Datagram { source: from, destination: self.local, contents: &buf[..n] };
            let _ = self.pc.handle_receive(self.anchor.now(), d);
        }
        let now = self.anchor.now();
        if self.pc.poll_timeout().is_some_and(|t| t <= now) {
            self.pc.handle_timeout(now);
        }
        while let Some(t) = self.pc.poll_transmit() {
            let _ = self.socket.send_to(t.contents, t.destination);
        }
        while let Some(e) = self.pc.poll_event() {
            match e {
                Event::ChannelOpen(id) if id == self.channel => self.open = true,
                Event::Message { data, .. } => self.echoes.push(data),
                _ => {}
            }
        }
    }
}

fn run_until(clients: &mut [Client], what: &str, done: impl Fn(&[Client]) -> bool) {
    let start = StdInstant::now();
    while !done(clients) {
        assert!(start.elapsed() < Duration::from_secs(60), "timed out waiting for {what}");
        for c in clients.iter_mut() {
            c.step();
        }
        std::thread::sleep(Duration::from_micros(500));
    }
}

#[test]
fn offers_go_to_the_engines_in_turn_and_each_engine_echoes_its_own_peers() {
    let server = sharded_echo::Sharded::start("127.0.0.1:0".parse().unwrap(), 2, None, 0).unwrap();
    assert_eq!(server.engines.len(), 2);
    assert_ne!(server.engines[0].port(), server.engines[1].port());
    let mut clients: Vec<Client> = (0..6).map(|i| Client::connect(server.http, 10 + i)).collect();
    for (i, c) in clients.iter().enumerate() {
        let engine = i % 2;
        assert_eq!(c.engine, engine.to_string(), "offer {i} went to engine {engine}");
        assert_eq!(c.port, server.engines[engine].port(), "answer {i} names engine {engine}'s port");
    }
    run_until(&mut clients, "every channel open", |c| c.iter().all(|c| c.open));
    for (i, c) in clients.iter_mut().enumerate() {
        let now = c.anchor.now();
        for k in 0..5u8 {
            c.pc.send(now, c.channel, Bytes::from(vec![i as u8 * 16 + k; 100 + 300 * k as usize]), true).unwrap();
        }
    }
    run_until(&mut clients, "every echo", |c| c.iter().all(|c| c.echoes.len() == 5));
    for (i, c) in clients.iter().enumerate() {
        for (k, echo) in c.echoes.iter().enumerate() {
            assert_eq!(echo[..], vec![i as u8 * 16 + k as u8; 100 + 300 * k][..], "client {i}, echo {k}");
        }
        // Its datagrams came from the engine that answered it, and only from it.
        assert_eq!(c.sources.iter().copied().collect::<Vec<u16>>(), vec![c.port], "client {i}'s datagrams");
    }
}
