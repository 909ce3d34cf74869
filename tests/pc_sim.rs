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
        let mut run = Run::bare(seed, loss, answer_setup);
        run.gather();
        run
    }

    fn gather(&mut self) {
        let a_addr: SocketAddr = A_ADDR.parse().unwrap();
        let b_addr: SocketAddr = B_ADDR.parse().unwrap();
        for (h, addr) in [(self.a, a_addr), (self.b, b_addr)] {
            self.sim.with_node(h, |pc: &mut PeerConnection, now| {
                pc.add_local_host(now, addr).unwrap();
                pc.end_of_local_candidates(now);
            });
        }
    }

    /// The hosts and peer connections, no socket declared yet.
    fn bare(seed: u64, loss: f64, answer_setup: Setup) -> Run {
        Run::with_configs(seed, loss, Config::default(), Config { answer_setup, ..Config::default() })
    }

    fn with_configs(seed: u64, loss: f64, config_a: Config, config_b: Config) -> Run {
        let mut sim = Sim::new(seed);
        sim.set_event_capacity(1 << 16);
        sim.set_default_link(LinkConfig::default().with_delay(Duration::from_millis(10)).with_loss(loss));
        let nat = sim
            .add_nat("nat", Net::Internet, "203.0.113.1".parse().unwrap(), NatConfig::port_restricted_cone())
            .unwrap();
        let a_addr: SocketAddr = A_ADDR.parse().unwrap();
        let b_addr: SocketAddr = B_ADDR.parse().unwrap();
        let pa = PeerConnection::new(config_a, sim.fork_rng());
        let pb = PeerConnection::new(config_b, sim.fork_rng());
        let a = sim.add_host("alice", Net::Behind(nat), &[a_addr.ip()], pa).unwrap();
        let b = sim.add_host("bob", Net::Internet, &[b_addr.ip()], pb).unwrap();
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
    // Like a browser, each side reports `connected` before `completed` (applications wait for it).
    for events in [&run.events_a, &run.events_b] {
        let ice: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                Event::IceConnectionState(s) => Some(*s),
                _ => None,
            })
            .collect();
        use sansrtc::pc::IceConnectionState::{Checking, Completed, Connected};
        assert_eq!(ice.get(..3), Some(&[Checking, Connected, Completed][..]), "ICE states {ice:?}");
    }
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

fn local_candidates(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::LocalCandidate { candidate, .. } => Some(candidate.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn trickled_candidates_and_end_of_candidates() {
    // Offer and answer carry no candidates; they are trickled afterwards (RFC 8838).
    let mut run = Run::bare(4, 0.10, Setup::Active);
    let (a, b) = (run.a, run.b);
    let chat = run.pc(a, |pc, now| pc.create_data_channel(now, ChannelOptions::new("late")).unwrap());
    run.negotiate();
    run.gather();
    run.until(Duration::from_secs(1), |r| {
        !local_candidates(&r.events_a).is_empty() && !local_candidates(&r.events_b).is_empty()
    });
    for c in local_candidates(&run.events_a) {
        run.pc(b, |pc, now| pc.add_ice_candidate(now, Some(&c)).unwrap());
    }
    for c in local_candidates(&run.events_b) {
        run.pc(a, |pc, now| pc.add_ice_candidate(now, Some(&c)).unwrap());
    }
    run.pc(a, |pc, now| pc.add_ice_candidate(now, None).unwrap());
    run.pc(b, |pc, now| pc.add_ice_candidate(now, Some("")).unwrap());
    assert!(run.pc(a, |pc, now| pc.add_ice_candidate(now, Some("candidate:x"))).is_err());
    run.until(Duration::from_secs(60), |r| opened(&r.events_a) == Some(chat));
    run.pc(a, |pc, now| pc.send_text(now, chat, "trickled").unwrap());
    run.until(Duration::from_secs(60), |r| {
        remote_channel(&r.events_b, "late").is_some_and(|id| messages(&r.events_b, id).len() == 1)
    });
}

#[test]
fn ice_restart_mid_transfer_loses_no_message() {
    let mut run = Run::new(5, 0.10, Setup::Active);
    let (a, b) = (run.a, run.b);
    let chat = run.pc(a, |pc, now| pc.create_data_channel(now, ChannelOptions::new("bulk")).unwrap());
    run.negotiate();
    let limit = Duration::from_secs(60);
    run.until(limit, |r| opened(&r.events_a) == Some(chat));
    let ufrag_before = run.pc(a, |pc, _| pc.local_ufrag().to_string());
    let mut sent = Vec::new();
    for i in 0..40u8 {
        let data = payload(1000, i);
        run.pc(a, |pc, now| pc.send_binary(now, chat, &data).unwrap());
        sent.push((data, true));
        run.sim.run_for(Duration::from_millis(20));
        run.collect();
        if i == 15 {
            // Alice restarts ICE and renegotiates while messages are in flight.
            let before = run.events_a.len();
            run.pc(a, |pc, now| pc.restart_ice(now));
            assert!(run.events_a[before..].contains(&Event::NegotiationNeeded));
            run.negotiate();
            assert_ne!(run.pc(a, |pc, _| pc.local_ufrag().to_string()), ufrag_before);
        }
    }
    run.until(limit, |r| remote_channel(&r.events_b, "bulk").is_some());
    let chat_b = remote_channel(&run.events_b, "bulk").unwrap();
    run.until(limit, |r| messages(&r.events_b, chat_b).len() == sent.len());
    assert_eq!(messages(&run.events_b, chat_b), sent, "every message, in order, across the restart");
    // The new generation of checks completed on both sides.
    let restarted = |ev: &[Event]| {
        ev.iter().filter(|e| matches!(e, Event::IceConnectionState(sansrtc::pc::IceConnectionState::Completed))).count()
    };
    run.until(limit, |r| restarted(&r.events_a) >= 2 && restarted(&r.events_b) >= 2);
    assert_eq!(run.pc(b, |pc, _| pc.connection_state()), ConnectionState::Connected);
}

/// Many peer connections behind one UDP socket, routed the O(1) way: STUN by the USERNAME's local ufrag,
/// everything else by the remote address of the selected pair.
#[derive(Debug)]
struct Mux {
    pcs: Vec<PeerConnection>,
    by_ufrag: std::collections::HashMap<String, usize>,
    by_remote: std::collections::HashMap<SocketAddr, usize>,
    unrouted: u64,
    buf: Vec<u8>,
}

impl Mux {
    fn reindex(&mut self) {
        self.by_ufrag = self.pcs.iter().enumerate().map(|(i, pc)| (pc.local_ufrag().to_string(), i)).collect();
        // Responses to our own checks carry no USERNAME: they are keyed by the remote candidates'
        // addresses, which the connection knows from the SDP and from peer-reflexive discovery.
        for (i, pc) in self.pcs.iter().enumerate() {
            for r in pc.remote_address().into_iter().chain(pc.ice().remote_candidates().iter().map(|c| c.address)) {
                self.by_remote.insert(r, i);
            }
        }
    }
}

impl sansrtc::Machine for Mux {
    type Event = (usize, Event);
    fn handle_timeout(&mut self, now: Instant) {
        for pc in &mut self.pcs {
            if pc.poll_timeout().is_some_and(|t| t <= now) {
                pc.handle_timeout(now);
            }
        }
        self.reindex();
    }
    fn poll_event(&mut self) -> Option<(usize, Event)> {
        self.pcs.iter_mut().enumerate().find_map(|(i, pc)| pc.poll_event().map(|e| (i, e)))
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.pcs.iter().filter_map(sansrtc::Machine::poll_timeout).min()
    }
}

impl sansrtc::PathMachine for Mux {
    type Error = ();
    fn handle_receive(&mut self, now: Instant, d: sansrtc::Datagram<'_>) -> Result<(), ()> {
        let i = match sansrtc::pc::stun_username_local_ufrag(d.contents) {
            Some(ufrag) => self.by_ufrag.get(ufrag),
            None => self.by_remote.get(&d.source),
        };
        let Some(&i) = i else {
            self.unrouted += 1;
            return Err(());
        };
        let pc = self.pcs.get_mut(i).ok_or(())?;
        assert!(pc.accepts(&d), "the key lookup and accepts() agree");
        let r = pc.handle_receive(now, d).map_err(|_| ());
        self.reindex();
        r
    }
    fn poll_transmit(&mut self) -> Option<sansrtc::Transmit<'_>> {
        // Copied into one buffer: a test double, not the zero-copy path.
        let mut found = None;
        for pc in &mut self.pcs {
            if let Some(t) = pc.poll_transmit() {
                found = Some((t.source, t.destination, t.contents.to_vec()));
                break;
            }
        }
        let (source, destination, contents) = found?;
        self.buf = contents;
        Some(sansrtc::Transmit { source, destination, contents: &self.buf })
    }
}

#[test]
fn many_peer_connections_share_one_socket() {
    let mut sim = Sim::new(6);
    sim.set_event_capacity(1 << 16);
    sim.set_default_link(LinkConfig::default().with_delay(Duration::from_millis(10)));
    let server: SocketAddr = "198.51.100.1:4000".parse().unwrap();
    let n = 4;
    let mut mux = Mux {
        pcs: Vec::new(),
        by_ufrag: Default::default(),
        by_remote: Default::default(),
        unrouted: 0,
        buf: Vec::new(),
    };
    for _ in 0..n {
        let mut pc = PeerConnection::new(Config::default(), sim.fork_rng());
        pc.add_local_host(Instant::ZERO, server).unwrap();
        pc.end_of_local_candidates(Instant::ZERO);
        mux.pcs.push(pc);
    }
    mux.reindex();
    let srv = sim.add_host("server", Net::Internet, &[server.ip()], mux).unwrap();
    let mut clients = Vec::new();
    for i in 0..n {
        let addr: SocketAddr = format!("203.0.113.{}:5000", 10 + i).parse().unwrap();
        let pc = PeerConnection::new(Config::default(), sim.fork_rng());
        let h = sim.add_host(&format!("client{i}"), Net::Internet, &[addr.ip()], pc).unwrap();
        let offer = sim
            .with_node(h, |pc: &mut PeerConnection, now| {
                pc.add_local_host(now, addr).unwrap();
                pc.end_of_local_candidates(now);
                pc.create_data_channel(now, ChannelOptions::new("echo")).unwrap();
                let offer = pc.create_offer().unwrap();
                pc.set_local_description(now, &offer).unwrap();
                offer
            })
            .unwrap();
        let answer = sim
            .with_node(srv, |m: &mut Mux, now| {
                let pc = &mut m.pcs[i];
                pc.set_remote_description(now, &offer).unwrap();
                let answer = pc.create_answer().unwrap();
                pc.set_local_description(now, &answer).unwrap();
                answer
            })
            .unwrap();
        sim.with_node(h, |pc: &mut PeerConnection, now| pc.set_remote_description(now, &answer).unwrap());
        clients.push(h);
    }
    sim.run_for(Duration::from_secs(5));
    let events = sim.drain_events::<(usize, Event)>(srv);
    for i in 0..n {
        assert!(
            events
                .iter()
                .any(|(_, (j, e))| *j == i && matches!(e, Event::DataChannel { label, .. } if label == "echo")),
            "connection {i} got its channel: {events:?}"
        );
    }
    // SRTP from a connected peer reaches its connection and is dropped and counted there (no media yet).
    let client0: SocketAddr = "203.0.113.10:5000".parse().unwrap();
    sim.send_from(clients[0], client0, server, &[0x80, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
    sim.run_for(Duration::from_millis(100));
    let m = sim.node::<Mux>(srv).unwrap();
    assert_eq!(m.pcs[0].stats().media_dropped, 1);
    assert_eq!(m.unrouted, 0);
    assert_eq!(m.by_remote.len(), n);
}

#[test]
fn ice_lite_answerer() {
    // Bob is a public ICE-lite server (like an SFU): it writes a=ice-lite, its candidates are in the answer,
    // and Alice, full and behind the NAT, controls and nominates.
    let lite = Config { ice: sansrtc::ice::Config { lite: true, ..Default::default() }, ..Config::default() };
    let mut run = Run::with_configs(7, 0.10, Config::default(), lite);
    run.gather();
    let (a, b) = (run.a, run.b);
    let chat = run.pc(a, |pc, now| pc.create_data_channel(now, ChannelOptions::new("lite")).unwrap());
    // A pre-negotiated channel (id 7) on both sides, before the DTLS role is known.
    let neg = || ChannelOptions { negotiated: Some(7), ..ChannelOptions::new("negotiated") };
    let neg_a = run.pc(a, |pc, now| pc.create_data_channel(now, neg()).unwrap());
    let neg_b = run.pc(b, |pc, now| pc.create_data_channel(now, neg()).unwrap());
    let offer = run.pc(a, |pc, now| {
        let offer = pc.create_offer().unwrap();
        pc.set_local_description(now, &offer).unwrap();
        offer
    });
    let answer = run.pc(b, |pc, now| {
        pc.set_remote_description(now, &offer).unwrap();
        let answer = pc.create_answer().unwrap();
        pc.set_local_description(now, &answer).unwrap();
        answer
    });
    assert!(answer.sdp.contains("a=ice-lite\r\n") && answer.sdp.contains("a=candidate:"));
    run.pc(a, |pc, now| pc.set_remote_description(now, &answer).unwrap());
    run.until(Duration::from_secs(60), |r| r.events_a.contains(&Event::ChannelOpen(chat)));
    assert_eq!(run.pc(a, |pc, _| pc.channel_stream_id(neg_a)), Some(7));
    run.pc(a, |pc, now| pc.send_text(now, neg_a, "on 7").unwrap());
    run.until(Duration::from_secs(60), |r| messages(&r.events_b, neg_b) == [(b"on 7".to_vec(), false)]);
    assert_eq!(run.pc(a, |pc, _| pc.ice().role()), sansrtc::ice::Role::Controlling);
    assert_eq!(run.pc(b, |pc, _| pc.ice().role()), sansrtc::ice::Role::Controlled);
}
