//! The simulator driving machines defined outside the crate, and the determinism of its traces.
#![cfg(feature = "sim")]

use core::net::{IpAddr, SocketAddr};
use core::time::Duration;
extern crate alloc;

use alloc::collections::VecDeque;

use sansrtc::sim::{LinkConfig, NatConfig, Net, Sim};
use sansrtc::{Datagram, Instant, Machine, PathMachine, Transmit};

/// Echoes every datagram back to where it came from.
struct Echo {
    out: VecDeque<(SocketAddr, SocketAddr, Vec<u8>)>,
    current: Vec<u8>,
    echoed: u32,
    events: VecDeque<EchoEvent>,
}

impl Echo {
    fn new() -> Self {
        Echo { out: VecDeque::new(), current: Vec::new(), echoed: 0, events: VecDeque::new() }
    }
}

#[derive(Debug, PartialEq)]
enum EchoEvent {
    Echoed { to: SocketAddr, len: usize },
}

impl Machine for Echo {
    type Event = EchoEvent;
    fn handle_timeout(&mut self, _: Instant) {}
    fn poll_event(&mut self) -> Option<EchoEvent> {
        self.events.pop_front()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

impl PathMachine for Echo {
    type Error = ();
    fn handle_receive(&mut self, _: Instant, d: Datagram<'_>) -> Result<(), ()> {
        if d.contents.is_empty() {
            return Err(());
        }
        self.echoed += 1;
        self.events.push_back(EchoEvent::Echoed { to: d.source, len: d.contents.len() });
        self.out.push_back((d.destination, d.source, d.contents.to_vec()));
        Ok(())
    }
    fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        let (source, destination, bytes) = self.out.pop_front()?;
        self.current = bytes;
        Some(Datagram { source, destination, contents: &self.current })
    }
}

/// Sends a numbered datagram every `interval` until `count`, and reports each echo.
struct Client {
    local: SocketAddr,
    server: SocketAddr,
    interval: Duration,
    count: u32,
    sent: u32,
    next: Option<Instant>,
    started: Vec<Instant>,
    out: Option<[u8; 4]>,
    buf: [u8; 4],
    events: VecDeque<ClientEvent>,
}

#[derive(Debug, PartialEq)]
enum ClientEvent {
    Sent { seq: u32 },
    Echo { seq: u32, rtt: Duration },
}

impl Client {
    fn new(local: SocketAddr, server: SocketAddr, interval: Duration, count: u32) -> Self {
        Client {
            local,
            server,
            interval,
            count,
            sent: 0,
            next: Some(Instant::ZERO),
            started: Vec::new(),
            out: None,
            buf: [0; 4],
            events: VecDeque::new(),
        }
    }

    /// An API call made mid-run: push the next send to `at`.
    fn pause_until(&mut self, at: Instant) {
        self.next = self.next.map(|n| n.max(at));
    }
}

impl Machine for Client {
    type Event = ClientEvent;
    fn handle_timeout(&mut self, now: Instant) {
        if self.next.is_some_and(|t| now >= t) {
            let seq = self.sent;
            self.started.push(now);
            self.out = Some(seq.to_be_bytes());
            self.events.push_back(ClientEvent::Sent { seq });
            self.sent += 1;
            self.next = (self.sent < self.count).then(|| now + self.interval);
        }
    }
    fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.next
    }
}

impl PathMachine for Client {
    type Error = &'static str;
    fn handle_receive(&mut self, now: Instant, d: Datagram<'_>) -> Result<(), &'static str> {
        let seq = u32::from_be_bytes(d.contents.try_into().map_err(|_| "length")?);
        let start = self.started.get(seq as usize).ok_or("unknown seq")?;
        self.events.push_back(ClientEvent::Echo { seq, rtt: now - *start });
        Ok(())
    }
    fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        self.buf = self.out.take()?;
        Some(Datagram { source: self.local, destination: self.server, contents: &self.buf })
    }
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A client behind a port-restricted NAT echoing off a public server over a lossy, jittery, duplicating
/// path.
fn scenario(seed: u64) -> (Sim, sansrtc::sim::HostId, sansrtc::sim::HostId) {
    let mut sim = Sim::new(seed);
    sim.set_default_link(
        LinkConfig::default()
            .with_delay(Duration::from_millis(15))
            .with_jitter(Duration::from_millis(10))
            .with_loss(0.15)
            .with_duplicate(0.1),
    );
    sim.trace_packets(true);
    let server = addr("198.51.100.10:7");
    let s = sim.add_host("echo", Net::Internet, &[server.ip()], Echo::new()).unwrap();
    let nat = sim.add_nat("nat", Net::Internet, ip("203.0.113.5"), NatConfig::port_restricted_cone()).unwrap();
    let local = addr("10.0.0.2:4000");
    let client = Client::new(local, server, Duration::from_millis(100), 8);
    let c = sim.add_host("client", Net::Behind(nat), &[local.ip()], client).unwrap();
    (sim, s, c)
}

#[test]
fn external_machines_run_and_report() {
    let (mut sim, s, c) = scenario(1);
    sim.set_default_link(LinkConfig::with_delay_only(Duration::from_millis(10)));
    // Mid-run API call: after the first send, hold the client until 1 s.
    sim.run_until(Instant::from_millis(50));
    sim.node_mut::<Client>(c).unwrap().pause_until(Instant::from_secs(1));
    sim.run_until_idle(Duration::from_secs(10));
    let events = sim.drain_events::<ClientEvent>(c);
    let echoes: Vec<(Instant, u32, Duration)> = events
        .iter()
        .filter_map(|(at, e)| match e {
            ClientEvent::Echo { seq, rtt } => Some((*at, *seq, *rtt)),
            _ => None,
        })
        .collect();
    assert_eq!(echoes.len(), 8);
    // Four hops of 10 ms for every round trip; the second send waited for the pause.
    assert!(echoes.iter().all(|e| e.2 == Duration::from_millis(40)));
    assert_eq!(echoes[1].0, Instant::from_millis(1040));
    assert_eq!(sim.node::<Echo>(s).unwrap().echoed, 8);
    let echoed = sim.drain_events::<EchoEvent>(s);
    assert_eq!(echoed.len(), 8);
    // The server saw the NAT's one mapping every time.
    let EchoEvent::Echoed { to: mapped, .. } = echoed[0].1;
    assert_eq!(mapped.ip(), ip("203.0.113.5"));
    assert!(echoed.iter().all(|(_, e)| *e == EchoEvent::Echoed { to: mapped, len: 4 }));
    assert!(sim.trace().any(|e| e.who == "client" && e.what == "Echo { seq: 7, rtt: 40ms }"));
    // An empty datagram is rejected by the echo node and counted.
    sim.send_from(c, addr("10.0.0.2:4000"), addr("198.51.100.10:7"), b"");
    sim.run_until_idle(Duration::from_secs(1));
    assert_eq!(sim.host_stats(s).rejected, 1);
}

#[test]
fn same_seed_same_trace_other_seed_differs() {
    let run = |seed| {
        let (mut sim, _, _) = scenario(seed);
        sim.run_until_idle(Duration::from_secs(5));
        sim.trace_text()
    };
    let first = run(1);
    assert_eq!(first, run(1));
    assert_ne!(first, run(2));
    insta::assert_snapshot!("trace_seed_1", first);
}
