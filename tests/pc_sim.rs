//! Two sansrtc peer connections in the network simulator: offer/answer, ICE through a NAT with 10 % loss,
//! DTLS, SCTP and data channels both ways, closing from either side, both DTLS role assignments; the event
//! timeline is deterministic by seed and kept as an insta snapshot.

#![cfg(feature = "sim")]

use core::net::SocketAddr;
use core::time::Duration;

use sansrtc::pc::{
    ChannelId, ChannelOptions, Config, ConnectionState, Description, Event, PeerConnection, Reliability, Setup,
    SignalingState,
};
use sansrtc::sim::{HostId, LinkConfig, NatConfig, Net, Sim};
use sansrtc::{Instant, SeededRng};

struct Run {
    sim: Sim,
    a: HostId,
    b: HostId,
    log: Vec<String>,
    events_a: Vec<Event>,
    events_b: Vec<Event>,
}

const A_ADDR: &str = "192.168.1.10:5000";
const B_ADDR: &str = "198.51.100.20:6000";

impl Run {
    /// Alice behind a port-restricted NAT, Bob public; every hop 10 ms with `loss`.
    fn new(seed: u64, loss: f64, answer_setup: Setup) -> Run {
        let mut sim = Sim::new(seed);
        sim.set_event_capacity(1 << 16);
        sim.set_default_link(LinkConfig::default().with_delay(Duration::from_millis(10)).with_loss(loss));
        let nat = sim
            .add_nat("nat", Net::Internet, "203.0.113.1".parse().unwrap(), NatConfig::port_restricted_cone())
            .unwrap();
        let a_addr: SocketAddr = A_ADDR.parse().unwrap();
        let b_addr: SocketAddr = B_ADDR.parse().unwrap();
        let pa = PeerConnection::new(Config::default(), sim.fork_rng());
        let pb = PeerConnection::new(Config { answer_setup, ..Config::default() }, sim.fork_rng());
        let a = sim.add_host("alice", Net::Behind(nat), &[a_addr.ip()], pa).unwrap();
        let b = sim.add_host("bob", Net::Internet, &[b_addr.ip()], pb).unwrap();
        for (h, addr) in [(a, a_addr), (b, b_addr)] {
            sim.with_node(h, |pc: &mut PeerConnection, now| {
                pc.add_local_host(now, addr).unwrap();
                pc.end_of_local_candidates(now);
            });
        }
        Run { sim, a, b, log: Vec::new(), events_a: Vec::new(), events_b: Vec::new() }
    }

    fn pc<R>(&mut self, host: HostId, f: impl FnOnce(&mut PeerConnection, Instant) -> R) -> R {
        let r = self.sim.with_node(host, f).unwrap();
        // The simulator drains what the call queued at the next step, at the same instant.
        let now = self.sim.now();
        self.sim.run_until(now);
        self.collect();
        r
    }

    fn collect(&mut self) {
        for (host, name) in [(self.a, "alice"), (self.b, "bob")] {
            for (at, e) in self.sim.drain_events::<Event>(host) {
                let ms = at.as_nanos() / 1_000_000;
                self.log.push(format!("{ms:>6} ms {name:<5} {e:?}"));
                if host == self.a { self.events_a.push(e) } else { self.events_b.push(e) }
            }
        }
    }

    /// Runs until `cond` holds on the events seen so far (checked every 10 virtual ms).
    fn until(&mut self, limit: Duration, mut cond: impl FnMut(&Run) -> bool) {
        let end = self.sim.now() + limit;
        while !cond(self) {
            assert!(self.sim.now() < end, "timed out; log:\n{}", self.log.join("\n"));
            let next = self.sim.now() + Duration::from_millis(10);
            self.sim.run_until(next);
            self.collect();
        }
    }

    /// Offer from Alice, answer from Bob, no trickle (candidates are in the descriptions).
    fn negotiate(&mut self) {
        let (a, b) = (self.a, self.b);
        let offer = self.pc(a, |pc, now| {
            let offer = pc.create_offer().unwrap();
            pc.set_local_description(now, &offer).unwrap();
            offer
        });
        let answer = self.pc(b, |pc, now| {
            pc.set_remote_description(now, &offer).unwrap();
            let answer = pc.create_answer().unwrap();
            pc.set_local_description(now, &answer).unwrap();
            answer
        });
        self.pc(a, |pc, now| pc.set_remote_description(now, &answer).unwrap());
    }
}

fn opened(events: &[Event]) -> Option<ChannelId> {
    events.iter().find_map(|e| match e {
        Event::ChannelOpen(id) => Some(*id),
        _ => None,
    })
}

fn remote_channel(events: &[Event], label: &str) -> Option<ChannelId> {
    events.iter().find_map(|e| match e {
        Event::DataChannel { id, label: l, .. } if l == label => Some(*id),
        _ => None,
    })
}

fn messages(events: &[Event], id: ChannelId) -> Vec<(Vec<u8>, bool)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message { id: i, data, binary } if *i == id => Some((data.to_vec(), *binary)),
            _ => None,
        })
        .collect()
}

fn payload(size: usize, salt: u8) -> Vec<u8> {
    (0..size).map(|i| (i as u8).wrapping_mul(31).wrapping_add(salt) % 94 + 33).collect()
}

const SIZES: [usize; 5] = [1, 100, 1200, 16 * 1024, 64 * 1024];

/// The whole exchange; returns the event timeline.
fn exchange(seed: u64, loss: f64, answer_setup: Setup) -> String {
    let mut run = Run::new(seed, loss, answer_setup);
    let (a, b) = (run.a, run.b);
    let chat = run.pc(a, |pc, now| pc.create_data_channel(now, ChannelOptions::new("chat")).unwrap());
    assert!(run.events_a.contains(&Event::NegotiationNeeded));
    run.negotiate();
    assert_eq!(run.pc(a, |pc, _| pc.signaling_state()), SignalingState::Stable);

    let limit = Duration::from_secs(60);
    run.until(limit, |r| opened(&r.events_a) == Some(chat) && remote_channel(&r.events_b, "chat").is_some());
    let chat_b = remote_channel(&run.events_b, "chat").unwrap();
    assert_eq!(run.pc(a, |pc, _| pc.connection_state()), ConnectionState::Connected);
    assert_eq!(run.pc(b, |pc, _| pc.connection_state()), ConnectionState::Connected);
    let roles = (run.pc(a, |pc, _| pc.dtls_role()), run.pc(b, |pc, _| pc.dtls_role()));
    run.log.push(format!("roles: alice {:?}, bob {:?}", roles.0.unwrap(), roles.1.unwrap()));

    // Bob opens an unordered, partially reliable channel with a sub-protocol too.
    let opts = ChannelOptions {
        ordered: false,
        reliability: Reliability::MaxRetransmits(3),
        protocol: "p".into(),
        ..ChannelOptions::new("side")
    };
    let side = run.pc(b, |pc, now| pc.create_data_channel(now, opts).unwrap());

    // Text and binary, several sizes, both ways on the reliable channel.
    let mut sent_a = Vec::new();
    let mut sent_b = Vec::new();
    for (i, size) in SIZES.iter().enumerate() {
        let (ta, tb) = (payload(*size, i as u8), payload(*size, 100 + i as u8));
        run.pc(a, |pc, now| {
            pc.send_text(now, chat, core::str::from_utf8(&ta).unwrap()).unwrap();
            pc.send_binary(now, chat, &ta).unwrap();
        });
        run.pc(b, |pc, now| {
            pc.send_text(now, chat_b, core::str::from_utf8(&tb).unwrap()).unwrap();
            pc.send_binary(now, chat_b, &tb).unwrap();
        });
        sent_a.extend([(ta.clone(), false), (ta, true)]);
        sent_b.extend([(tb.clone(), false), (tb, true)]);
    }
    let n = sent_a.len();
    run.until(limit, |r| messages(&r.events_b, chat_b).len() == n && messages(&r.events_a, chat).len() == n);
    assert_eq!(messages(&run.events_b, chat_b), sent_a, "alice → bob, in order, byte for byte");
    assert_eq!(messages(&run.events_a, chat), sent_b, "bob → alice, in order, byte for byte");
    // Everything sent is acknowledged in the end (W3C bufferedAmount drains to 0).
    run.until(limit, |r| r.sim.node::<PeerConnection>(r.a).is_some_and(|pc| pc.buffered_amount(chat) == 0));

    run.until(limit, |r| opened(&r.events_b).is_some() && remote_channel(&r.events_a, "side").is_some());
    let side_a = remote_channel(&run.events_a, "side").unwrap();
    assert_eq!(run.pc(a, |pc, _| pc.channel_options(side_a).map(|o| o.protocol.clone())), Some("p".into()));

    // Close "chat" from Alice and "side" from Bob: both sides see both closes.
    run.pc(a, |pc, now| pc.close_channel(now, chat).unwrap());
    run.pc(b, |pc, now| pc.close_channel(now, side).unwrap());
    run.until(limit, |r| {
        let closed = |ev: &[Event], id| ev.contains(&Event::ChannelClose(id));
        closed(&r.events_a, chat)
            && closed(&r.events_b, chat_b)
            && closed(&r.events_a, side_a)
            && closed(&r.events_b, side)
    });

    // Bob closes the connection.
    run.pc(b, |pc, now| pc.close(now));
    assert_eq!(run.pc(b, |pc, _| pc.connection_state()), ConnectionState::Closed);
    run.log.join("\n")
}

#[test]
fn offerer_is_dtls_server_through_nat_with_loss() {
    let timeline = exchange(1, 0.10, Setup::Active);
    assert!(timeline.contains("roles: alice Server, bob Client"), "{timeline}");
    insta::assert_snapshot!("timeline_answerer_active", timeline);
}

#[test]
fn offerer_is_dtls_client_through_nat_with_loss() {
    let timeline = exchange(2, 0.10, Setup::Passive);
    assert!(timeline.contains("roles: alice Client, bob Server"), "{timeline}");
}

#[test]
fn deterministic_by_seed() {
    assert_eq!(exchange(3, 0.10, Setup::Active), exchange(3, 0.10, Setup::Active));
}

#[test]
fn rollback_and_state_errors() {
    let mut pc = PeerConnection::new(Config::default(), SeededRng::from_seed([9; 32]));
    let now = Instant::ZERO;
    assert!(pc.create_answer().is_err());
    let offer = pc.create_offer().unwrap();
    pc.set_local_description(now, &offer).unwrap();
    assert_eq!(pc.signaling_state(), SignalingState::HaveLocalOffer);
    assert!(pc.set_remote_description(now, &offer.clone()).is_err(), "an offer in have-local-offer is refused");
    pc.set_local_description(now, &Description::rollback()).unwrap();
    assert_eq!(pc.signaling_state(), SignalingState::Stable);
}
