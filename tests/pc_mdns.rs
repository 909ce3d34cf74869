//! Remote candidates hidden behind `<UUID>.local` names (draft-ietf-mmusic-mdns-ice-candidates), two
//! sansrtc peers on one simulated LAN. Bob hides his host candidate behind a name in his answer and
//! answers mDNS queries for it, as a browser does: his host also holds the mDNS group address
//! 224.0.0.251, so the queries Alice's connection sends there reach him, and he answers by unicast from
//! port 5353 (RFC 6762 §6.7). Cases: the name resolves at once, late (after Bob's checks made him a
//! peer-reflexive candidate), never, to a changed address, resolution turned off, a flood of hostile
//! answers; and a sansrtc peer hiding its own address (`Config::hide_local_addresses`), resolved through
//! its own responder.

#![cfg(feature = "sim")]

extern crate alloc;

use alloc::collections::VecDeque;
use core::net::{IpAddr, SocketAddr};
use core::time::Duration;

use sansrtc::ice::CandidateKind;
use sansrtc::mdns::wire::{self, Message, RecordType};
use sansrtc::pc::{ChannelOptions, Config, ConnectionState, Event, PeerConnection};
use sansrtc::sim::{HostId, LinkConfig, Net, Sim};
use sansrtc::{Datagram, Instant, Machine, PathMachine, Transmit};

const ALICE: &str = "192.168.1.10:5000";
const BOB: &str = "192.168.1.20:6000";
const LINK: Duration = Duration::from_millis(2);
const NAME: &str = "9b2f7c1e-4d3a-4b5c-8e6f-0a1b2c3d4e5f.local";

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// How Bob's responder treats the queries for his name.
#[derive(Clone, Copy, Debug)]
enum Answering {
    /// Answers every query.
    Always,
    /// Ignores the first `n` queries (they are "lost"), answers the later ones.
    After(usize),
    /// Never answers.
    Never,
}

/// Bob's peer connection with a tiny mDNS responder for his hidden name in front of it.
struct Hiding {
    pc: PeerConnection,
    answering: Answering,
    /// Queries for Bob's name seen, and when.
    queries: Vec<Instant>,
    /// The address the answers give (Bob's own, unless a test changes it).
    addr: IpAddr,
    /// Responses waiting to go out (from, to, bytes).
    ready: VecDeque<(SocketAddr, SocketAddr, Vec<u8>)>,
    current: Vec<u8>,
}

impl Hiding {
    fn answer(&mut self, now: Instant, datagram: &Datagram<'_>) {
        let Ok(msg) = Message::new_checked(datagram.contents) else { return };
        if msg.flags().is_response() {
            return;
        }
        let asks_for_us = msg
            .questions()
            .flatten()
            .any(|q| q.name.eq_str(NAME) && matches!(q.qtype, RecordType::A | RecordType::ANY));
        if !asks_for_us {
            return;
        }
        self.queries.push(now);
        let answer = match self.answering {
            Answering::Always => true,
            Answering::After(n) => self.queries.len() > n,
            Answering::Never => false,
        };
        if answer {
            let mut out = Vec::new();
            let ip = sa(BOB).ip();
            wire::emit_answer(&mut out, msg.id(), NAME, &[self.addr], 120, true).unwrap();
            self.ready.push_back((SocketAddr::new(ip, wire::PORT), datagram.source, out));
        }
    }
}

impl Machine for Hiding {
    type Event = Event;

    fn handle_timeout(&mut self, now: Instant) {
        self.pc.handle_timeout(now);
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.pc.poll_event()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.pc.poll_timeout()
    }
}

impl PathMachine for Hiding {
    type Error = String;

    fn handle_receive(&mut self, now: Instant, datagram: Datagram<'_>) -> Result<(), String> {
        if datagram.destination.port() == wire::PORT {
            self.answer(now, &datagram);
            return Ok(());
        }
        self.pc.handle_receive(now, datagram).map_err(|e| e.to_string())
    }

    fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        if let Some((source, destination, bytes)) = self.ready.pop_front() {
            self.current = bytes;
            return Some(Transmit { source, destination, contents: &self.current });
        }
        self.pc.poll_transmit()
    }
}

struct Run {
    sim: Sim,
    a: HostId,
    b: HostId,
    events_a: Vec<(Instant, Event)>,
}

impl Run {
    fn new(seed: u64, answering: Answering, config_a: Config) -> Run {
        let mut sim = Sim::new(seed);
        sim.set_default_link(LinkConfig::default().with_delay(LINK));
        let pa = PeerConnection::new(config_a, sim.fork_rng());
        let pb = PeerConnection::new(Config::default(), sim.fork_rng());
        let bob = Hiding {
            pc: pb,
            answering,
            queries: Vec::new(),
            addr: sa(BOB).ip(),
            ready: VecDeque::new(),
            current: Vec::new(),
        };
        let group = IpAddr::V4(wire::GROUP_V4);
        let a = sim.add_host("alice", Net::Internet, &[sa(ALICE).ip()], pa).unwrap();
        let b = sim.add_host("bob", Net::Internet, &[sa(BOB).ip(), group], bob).unwrap();
        let mut run = Run { sim, a, b, events_a: Vec::new() };
        run.alice(|pc, now| {
            pc.add_local_host(now, sa(ALICE)).unwrap();
            pc.end_of_local_candidates(now);
        });
        run.bob(|h, now| {
            h.pc.add_local_host(now, sa(BOB)).unwrap();
            h.pc.end_of_local_candidates(now);
        });
        run
    }

    fn settle(&mut self) {
        let now = self.sim.now();
        self.sim.run_until(now);
        let events = self.sim.drain_events::<Event>(self.a);
        self.events_a.extend(events);
        let _ = self.sim.drain_events::<Event>(self.b);
    }

    fn alice<R>(&mut self, f: impl FnOnce(&mut PeerConnection, Instant) -> R) -> R {
        let r = self.sim.with_node(self.a, f).unwrap();
        self.settle();
        r
    }

    fn bob<R>(&mut self, f: impl FnOnce(&mut Hiding, Instant) -> R) -> R {
        let r = self.sim.with_node(self.b, f).unwrap();
        self.settle();
        r
    }

    /// Alice offers a data channel; Bob answers with his host candidate behind `NAME`.
    fn negotiate(&mut self) {
        let offer = self.alice(|pc, now| {
            pc.create_data_channel(now, ChannelOptions::new("chat")).unwrap();
            let offer = pc.create_offer().unwrap();
            pc.set_local_description(now, &offer).unwrap();
            offer
        });
        let mut answer = self.bob(|h, now| {
            h.pc.set_remote_description(now, &offer).unwrap();
            let answer = h.pc.create_answer().unwrap();
            h.pc.set_local_description(now, &answer).unwrap();
            answer
        });
        let host = format!(" {} {} typ host", sa(BOB).ip(), sa(BOB).port());
        assert!(answer.sdp.contains(&host), "{}", answer.sdp);
        answer.sdp = answer.sdp.replace(&host, &format!(" {NAME} {} typ host", sa(BOB).port()));
        assert!(!answer.sdp.contains(&format!("{} {}", sa(BOB).ip(), sa(BOB).port())));
        self.alice(|pc, now| pc.set_remote_description(now, &answer).unwrap());
    }

    /// Runs until both sides are connected (or `limit` passes), in 10 ms steps.
    fn connect(&mut self, limit: Duration) -> bool {
        let end = self.sim.now() + limit;
        while self.sim.now() < end {
            let next = self.sim.now() + Duration::from_millis(10);
            self.sim.run_until(next);
            self.settle();
            let a = self.sim.with_node(self.a, |pc: &mut PeerConnection, _| pc.connection_state()).unwrap();
            let b = self.sim.with_node(self.b, |h: &mut Hiding, _| h.pc.connection_state()).unwrap();
            if a == ConnectionState::Connected && b == ConnectionState::Connected {
                return true;
            }
        }
        false
    }

    /// Alice's selected pair's remote candidate: (kind, address).
    fn selected_remote(&mut self) -> (CandidateKind, SocketAddr) {
        self.sim
            .with_node(self.a, |pc: &mut PeerConnection, _| {
                pc.ice().selected_pair().map(|(_, r)| (r.kind, r.address)).expect("a selected pair")
            })
            .unwrap()
    }

    fn alice_pc<R>(&mut self, f: impl FnOnce(&PeerConnection) -> R) -> R {
        self.sim.with_node(self.a, |pc: &mut PeerConnection, _| f(pc)).unwrap()
    }

    fn bob_queries(&mut self) -> Vec<Instant> {
        self.sim.with_node(self.b, |h: &mut Hiding, _| h.queries.clone()).unwrap()
    }
}

#[test]
fn resolved_name_gives_the_host_pair() {
    let mut run = Run::new(1, Answering::Always, Config::default());
    run.negotiate();
    let t0 = run.sim.now();
    assert!(run.connect(Duration::from_secs(10)), "did not connect");
    // One query (A and AAAA, QU), sent when the answer was set, arriving after the 2 ms link; the
    // winning pair is the resolved host pair.
    assert_eq!(run.bob_queries(), [t0 + LINK]);
    assert_eq!(run.selected_remote(), (CandidateKind::Host, sa(BOB)));
    let (resolver, stats) = run.alice_pc(|pc| (pc.mdns_resolver().unwrap().stats(), pc.stats()));
    assert_eq!((resolver.queries, resolver.resolved, resolver.timed_out), (1, 1, 0));
    assert_eq!((stats.mdns_unresolved, stats.mdns_dropped), (0, 0));
    let remote =
        run.alice_pc(|pc| pc.ice().remote_candidates().iter().map(|c| (c.kind, c.address)).collect::<Vec<_>>());
    assert_eq!(remote, [(CandidateKind::Host, sa(BOB))]);
    // Nothing left to do for the resolver: its deadline is gone from poll_timeout.
    assert_eq!(run.alice_pc(|pc| pc.mdns_resolver().unwrap().poll_timeout()), None);
}

#[test]
fn late_resolution_turns_the_peer_reflexive_candidate_into_the_host() {
    // The first two queries go unanswered: the third, 3 s after the first (RFC 6762 §5.2 backoff), is.
    let mut run = Run::new(2, Answering::After(2), Config::default());
    run.negotiate();
    let t0 = run.sim.now();
    assert!(run.connect(Duration::from_secs(10)), "did not connect");
    // Bob's checks found Alice first: she knows him as peer-reflexive, and connects on that.
    assert_eq!(run.selected_remote(), (CandidateKind::PeerReflexive, sa(BOB)));
    assert!(run.sim.now() < t0 + Duration::from_secs(1));
    run.sim.run_until(t0 + Duration::from_secs(4));
    run.settle();
    let queries: Vec<u64> = run.bob_queries().iter().map(|t| (*t - t0).as_millis() as u64).collect();
    assert_eq!(queries, [2, 1002, 3002]); // sent at 0, 1 s, 3 s; the link takes 2 ms
    // The resolved name is the same address: the peer-reflexive candidate becomes the signalled host
    // candidate (RFC 8445 §7.3.1.3), and the selected pair stays on it, now known as the host pair.
    assert_eq!(run.selected_remote(), (CandidateKind::Host, sa(BOB)));
    let remote =
        run.alice_pc(|pc| pc.ice().remote_candidates().iter().map(|c| (c.kind, c.address)).collect::<Vec<_>>());
    assert_eq!(remote, [(CandidateKind::Host, sa(BOB))]);
    let resolver = run.alice_pc(|pc| pc.mdns_resolver().unwrap().stats());
    assert_eq!((resolver.resolved, resolver.transmits), (1, 6)); // an A and an AAAA query each time
}

#[test]
fn a_name_that_never_resolves_falls_back_to_peer_reflexive_and_is_counted() {
    let mut run = Run::new(3, Answering::Never, Config::default());
    run.negotiate();
    let t0 = run.sim.now();
    assert!(run.connect(Duration::from_secs(10)), "did not connect");
    assert_eq!(run.selected_remote(), (CandidateKind::PeerReflexive, sa(BOB)));
    assert_eq!(run.alice_pc(|pc| pc.stats().mdns_unresolved), 0, "still waiting");
    run.sim.run_until(t0 + Duration::from_secs(6));
    run.settle();
    let queries: Vec<u64> = run.bob_queries().iter().map(|t| (*t - t0).as_millis() as u64).collect();
    assert_eq!(queries, [2, 1002, 3002]); // sent at 0, 1 s, 3 s; the link takes 2 ms
    let (resolver, stats) = run.alice_pc(|pc| (pc.mdns_resolver().unwrap().stats(), pc.stats()));
    assert_eq!((resolver.timed_out, resolver.resolved), (1, 0));
    assert_eq!(stats.mdns_unresolved, 1);
    assert_eq!(run.alice_pc(|pc| pc.connection_state()), ConnectionState::Connected);
    assert_eq!(run.selected_remote(), (CandidateKind::PeerReflexive, sa(BOB)));
    assert_eq!(run.alice_pc(|pc| pc.mdns_resolver().unwrap().poll_timeout()), None);
}

#[test]
fn resolution_off_sends_no_query() {
    let config = Config { resolve_mdns: false, ..Config::default() };
    let mut run = Run::new(4, Answering::Always, config);
    run.negotiate();
    assert!(run.connect(Duration::from_secs(10)), "did not connect");
    assert!(run.bob_queries().is_empty());
    assert_eq!(run.selected_remote(), (CandidateKind::PeerReflexive, sa(BOB)));
    // Nothing was made for mDNS: the candidate was counted and forgotten.
    let (resolver, stats) = run.alice_pc(|pc| (pc.mdns_resolver().is_none(), pc.stats()));
    assert!(resolver);
    assert_eq!(stats.mdns_unresolved, 1);
}

#[test]
fn a_trickled_name_resolves_too_and_junk_from_port_5353_is_counted() {
    let mut run = Run::new(5, Answering::Always, Config::default());
    run.negotiate();
    let candidate = format!("candidate:1 1 udp 2122260223 {NAME} 6001 typ host");
    run.alice(|pc, now| pc.add_ice_candidate(now, Some(&candidate)).unwrap());
    // Held, not yet in ICE until the answer arrives; then both ports are there with the resolved address.
    run.sim.run_for(Duration::from_millis(50));
    run.settle();
    let remote = run.alice_pc(|pc| pc.ice().remote_candidates().iter().map(|c| c.address).collect::<Vec<_>>());
    assert!(remote.contains(&sa("192.168.1.20:6001")), "{remote:?}");
    // A datagram from port 5353 that is not a DNS message is mDNS's to drop, not the demux's; with no
    // name being resolved any more, the resolver is not even asked.
    let now = run.sim.now();
    let junk = Datagram { source: sa("192.168.1.30:5353"), destination: sa(ALICE), contents: &[0x80, 0, 0, 0] };
    let r = run.sim.with_node(run.a, |pc: &mut PeerConnection, _| pc.handle_receive(now, junk)).unwrap();
    assert!(r.is_err());
    let (resolver, stats) = run.alice_pc(|pc| (pc.mdns_resolver().unwrap().stats(), pc.stats()));
    assert_eq!((resolver.malformed, stats.mdns_dropped, stats.unknown_dropped), (0, 1, 0));
    assert!(run.connect(Duration::from_secs(10)));
    let _ = &run.events_a;
}

#[test]
fn held_candidates_are_bounded_and_other_names_are_not_asked_for() {
    let mut run = Run::new(6, Answering::Never, Config::default());
    run.negotiate();
    let t0 = run.sim.now();
    // Not `<UUID>.local` (the draft: resolve no other names), then 20 more names than can wait.
    run.alice(|pc, now| {
        pc.add_ice_candidate(now, Some("candidate:1 1 udp 2122260223 printer.local 7000 typ host")).unwrap()
    });
    assert_eq!(run.alice_pc(|pc| pc.stats().mdns_unresolved), 1);
    for i in 0..20 {
        let c = format!("candidate:1 1 udp 2122260223 9b2f7c1e-4d3a-4b5c-8e6f-0a1b2c3d{i:04x}.local 7000 typ host");
        run.alice(|pc, now| pc.add_ice_candidate(now, Some(&c)).unwrap());
    }
    // Bob's name and 15 of these wait (16 at most); the other 5 are dropped at once.
    let (pending, unresolved) = run.alice_pc(|pc| (pc.mdns_resolver().unwrap().pending(), pc.stats().mdns_unresolved));
    assert_eq!((pending, unresolved), (16, 1 + 5));
    run.sim.run_until(t0 + Duration::from_secs(6));
    run.settle();
    let (pending, unresolved) = run.alice_pc(|pc| (pc.mdns_resolver().unwrap().pending(), pc.stats().mdns_unresolved));
    assert_eq!((pending, unresolved), (0, 1 + 20 + 1));
    assert_eq!(run.alice_pc(|pc| pc.mdns_resolver().unwrap().poll_timeout()), None);
}

#[test]
fn a_name_resolving_to_a_changed_address_leaves_the_connection_on_the_peer_reflexive_pair() {
    // Bob's responder gives an address he no longer has (192.168.1.21): the resolved host candidate is
    // added and checked, and fails; the connection stands on the peer-reflexive pair his checks made.
    let mut run = Run::new(8, Answering::Always, Config::default());
    let changed = sa("192.168.1.21:6000");
    run.sim.with_node(run.b, |h: &mut Hiding, _| h.addr = changed.ip()).unwrap();
    run.negotiate();
    let t0 = run.sim.now();
    assert!(run.connect(Duration::from_secs(10)), "did not connect");
    run.sim.run_until(t0 + Duration::from_secs(10));
    run.settle();
    assert_eq!(run.alice_pc(|pc| pc.connection_state()), ConnectionState::Connected);
    assert_eq!(run.selected_remote(), (CandidateKind::PeerReflexive, sa(BOB)));
    let mut remote =
        run.alice_pc(|pc| pc.ice().remote_candidates().iter().map(|c| (c.kind, c.address)).collect::<Vec<_>>());
    remote.sort();
    assert_eq!(remote, [(CandidateKind::Host, changed), (CandidateKind::PeerReflexive, sa(BOB))]);
    let (resolver, stats) = run.alice_pc(|pc| (pc.mdns_resolver().unwrap().stats(), pc.stats()));
    assert_eq!((resolver.resolved, stats.mdns_unresolved), (1, 0));
}

/// An answer for `name` from `192.168.1.30:5353` to Alice, with `ttl`.
fn answer(name: &str, ip: IpAddr, ttl: u32) -> Vec<u8> {
    let mut out = Vec::new();
    wire::emit_answer(&mut out, 0, name, &[ip], ttl, false).unwrap();
    out
}

#[test]
fn hostile_answers_are_dropped_counted_and_bounded() {
    let mut run = Run::new(9, Answering::Never, Config::default());
    run.negotiate();
    assert!(run.connect(Duration::from_secs(10)), "did not connect");
    // Let Bob's name time out: nothing is being resolved.
    run.sim.run_for(Duration::from_secs(6));
    run.settle();
    let from = sa("192.168.1.30:5353");
    let ip = sa(BOB).ip();
    let feed = |run: &mut Run, contents: &[u8]| {
        let now = run.sim.now();
        let d = Datagram { source: from, destination: sa(ALICE), contents };
        run.sim.with_node(run.a, |pc: &mut PeerConnection, _| pc.handle_receive(now, d)).unwrap()
    };
    // 1. A flood of answers for names never asked, while nothing is asked: dropped before the resolver.
    for i in 0..1000u32 {
        let name = format!("9b2f7c1e-4d3a-4b5c-8e6f-0a1b{i:08x}.local");
        assert!(feed(&mut run, &answer(&name, ip, 120)).is_err());
    }
    let before = run.alice_pc(|pc| pc.mdns_resolver().unwrap().stats());
    assert_eq!(run.alice_pc(|pc| pc.stats().mdns_dropped), 1000);
    // 2. While a trickled name is being resolved: more unasked names, absurd record counts, junk.
    let asked = "0c7e2a61-5b4d-4e3f-9a8b-7c6d5e4f3a2b.local";
    let candidate = format!("candidate:1 1 udp 2122260223 {asked} 6001 typ host");
    run.alice(|pc, now| pc.add_ice_candidate(now, Some(&candidate)).unwrap());
    for i in 0..1000u32 {
        let name = format!("1b2f7c1e-4d3a-4b5c-8e6f-0a1b{i:08x}.local");
        feed(&mut run, &answer(&name, ip, u32::MAX)).unwrap();
        let mut counted = answer(asked, ip, 120);
        counted[6..8].copy_from_slice(&u16::MAX.to_be_bytes()); // 65,535 answers announced
        assert!(feed(&mut run, &counted).is_err());
        assert!(feed(&mut run, &[0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0xc0, 0x0c]).is_err()); // a pointer loop
    }
    let resolver = run.alice_pc(|pc| pc.mdns_resolver().unwrap().stats());
    assert_eq!(resolver.unsolicited - before.unsolicited, 1000);
    assert_eq!(resolver.too_many_records - before.too_many_records, 1000);
    assert_eq!(resolver.malformed - before.malformed, 1000);
    assert_eq!(run.alice_pc(|pc| pc.stats().mdns_dropped), 3000);
    // Nothing was cached or resolved for them; the name asked for still waits.
    let (cached, pending) =
        run.alice_pc(|pc| (pc.mdns_resolver().unwrap().cached(), pc.mdns_resolver().unwrap().pending()));
    assert_eq!((cached, pending), (0, 1));
    // 3. Its answer, with an absurd TTL: taken, clamped to 120 s.
    feed(&mut run, &answer(asked, ip, u32::MAX)).unwrap();
    run.settle();
    let resolver = run.alice_pc(|pc| pc.mdns_resolver().unwrap().stats());
    assert_eq!((resolver.resolved, resolver.ttl_clamped), (1, 1));
    let remote = run.alice_pc(|pc| pc.ice().remote_candidates().iter().map(|c| c.address).collect::<Vec<_>>());
    assert!(remote.contains(&sa("192.168.1.20:6001")), "{remote:?}");
    assert_eq!(run.alice_pc(|pc| pc.connection_state()), ConnectionState::Connected);
}

#[test]
fn a_hiding_peer_signals_a_name_and_answers_for_it() {
    // Bob is a sansrtc peer hiding his host address; his socket bound to port 5353 shares his host with
    // the group address, so Alice's queries reach his connection, which answers them.
    let mut sim = Sim::new(10);
    sim.set_default_link(LinkConfig::default().with_delay(LINK));
    let pa = PeerConnection::new(Config::default(), sim.fork_rng());
    let pb = PeerConnection::new(Config { hide_local_addresses: true, ..Config::default() }, sim.fork_rng());
    let a = sim.add_host("alice", Net::Internet, &[sa(ALICE).ip()], pa).unwrap();
    let b = sim.add_host("bob", Net::Internet, &[sa(BOB).ip(), IpAddr::V4(wire::GROUP_V4)], pb).unwrap();
    let on = |sim: &mut Sim, id, f: &mut dyn FnMut(&mut PeerConnection, Instant)| {
        sim.with_node(id, |pc: &mut PeerConnection, now| f(pc, now)).unwrap();
        let now = sim.now();
        sim.run_until(now);
    };
    on(&mut sim, a, &mut |pc, now| {
        pc.add_local_host(now, sa(ALICE)).unwrap();
        pc.end_of_local_candidates(now);
    });
    // Before any mDNS, nothing is made for it.
    assert!(sim.with_node(b, |pc: &mut PeerConnection, _| pc.mdns_responder().is_none()).unwrap());
    on(&mut sim, b, &mut |pc, now| {
        pc.add_local_host(now, sa(BOB)).unwrap();
        pc.add_mdns_socket(now, sa("192.168.1.20:5353")).unwrap();
        pc.end_of_local_candidates(now);
    });
    let name = sim
        .with_node(b, |pc: &mut PeerConnection, _| {
            pc.mdns_responder().unwrap().name_of(sa(BOB).ip()).unwrap().to_owned()
        })
        .unwrap();
    assert!(sansrtc::mdns::is_ice_name(&name), "{name}");
    assert_eq!(name.as_bytes()[14], b'4', "a version 4 UUID: {name}");
    let trickled = sim.drain_events::<Event>(b);
    let local: Vec<String> = trickled
        .iter()
        .filter_map(
            |(_, e)| if let Event::LocalCandidate { candidate, .. } = e { Some(candidate.clone()) } else { None },
        )
        .collect();
    assert_eq!(local.len(), 1, "{local:?}");
    assert!(local[0].contains(&format!(" {name} 6000 typ host")), "{local:?}");
    let mut offer = None;
    on(&mut sim, a, &mut |pc, now| {
        pc.create_data_channel(now, ChannelOptions::new("chat")).unwrap();
        let o = pc.create_offer().unwrap();
        pc.set_local_description(now, &o).unwrap();
        offer = Some(o);
    });
    let offer = offer.unwrap();
    let mut answer = None;
    on(&mut sim, b, &mut |pc, now| {
        pc.set_remote_description(now, &offer).unwrap();
        let a = pc.create_answer().unwrap();
        pc.set_local_description(now, &a).unwrap();
        answer = Some(a);
    });
    let answer = answer.unwrap();
    assert!(answer.sdp.contains(&format!(" {name} 6000 typ host")), "{}", answer.sdp);
    assert!(!answer.sdp.contains(&sa(BOB).ip().to_string()), "Bob's address shows: {}", answer.sdp);
    on(&mut sim, a, &mut |pc, now| pc.set_remote_description(now, &answer).unwrap());
    let end = sim.now() + Duration::from_secs(10);
    let connected = |sim: &mut Sim, id| {
        sim.with_node(id, |pc: &mut PeerConnection, _| pc.connection_state() == ConnectionState::Connected).unwrap()
    };
    while sim.now() < end && !(connected(&mut sim, a) && connected(&mut sim, b)) {
        let next = sim.now() + Duration::from_millis(10);
        sim.run_until(next);
    }
    assert!(connected(&mut sim, a) && connected(&mut sim, b), "did not connect");
    let selected = sim
        .with_node(a, |pc: &mut PeerConnection, _| pc.ice().selected_pair().map(|(_, r)| (r.kind, r.address)))
        .unwrap();
    assert_eq!(selected, Some((CandidateKind::Host, sa(BOB))));
    let responder = sim.with_node(b, |pc: &mut PeerConnection, _| pc.mdns_responder().unwrap().stats()).unwrap();
    assert_eq!((responder.answered, responder.no_source, responder.malformed), (1, 0, 0));
    let resolver = sim.with_node(a, |pc: &mut PeerConnection, _| pc.mdns_resolver().unwrap().stats()).unwrap();
    assert_eq!((resolver.queries, resolver.resolved), (1, 1));
}
