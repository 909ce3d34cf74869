use super::stun_username_local_ufrag;

#[test]
fn username_local_part() {
    // A binding request with USERNAME "abcd:efgh" (RFC 8489 §14.3), no integrity needed for the lookup.
    let mut m = alloc::vec![0x00, 0x01, 0x00, 0x10, 0x21, 0x12, 0xA4, 0x42];
    m.extend_from_slice(&[7; 12]);
    m.extend_from_slice(&[0x00, 0x06, 0x00, 0x09]);
    m.extend_from_slice(b"abcd:efgh\0\0\0");
    assert_eq!(stun_username_local_ufrag(&m), Some("abcd"));
    // Truncated, not STUN, or no USERNAME.
    assert_eq!(stun_username_local_ufrag(m.get(..30).unwrap_or_default()), None);
    assert_eq!(stun_username_local_ufrag(&[22, 0xfe, 0xfd]), None);
    let mut no_user = m.clone();
    no_user[20] = 0x80;
    assert_eq!(stun_username_local_ufrag(&no_user), None);
}

/// Without the simulator: what a peer connection with a TURN server sends first, waits for, and drops.
mod turn {
    use alloc::vec;
    use alloc::vec::Vec;
    use core::net::SocketAddr;

    use crate::machine::{Datagram, Machine, PathMachine};
    use crate::pc::{Config, Event, IceGatheringState, PeerConnection, RecvError, TurnConfig};
    use crate::rand::SeededRng;
    use crate::time::Instant;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    #[test]
    fn allocation_starts_on_the_host_socket_and_gathering_waits_for_it() {
        let (server, local) = (addr("198.51.100.1:3478"), addr("192.0.2.10:5000"));
        let config = Config { turn_servers: vec![TurnConfig::for_server(server, "u", "p")], ..Config::default() };
        let mut pc = PeerConnection::new(config, SeededRng::from_seed([3; 32]));
        let now = Instant::ZERO;
        assert_eq!(pc.add_local_host(now, local), Ok(()));
        pc.end_of_local_candidates(now);
        let mut sent = Vec::new();
        while let Some(t) = pc.poll_transmit() {
            sent.push((t.source, t.destination, t.contents.first().copied()));
        }
        // The Allocate (a STUN request, first byte 0) from the host socket to the server.
        assert_eq!(sent, [(local, server, Some(0))]);
        assert_eq!(pc.turn_clients().count(), 1);
        assert!(pc.turn_clients().next().is_some_and(|t| t.is_allocating() && t.local() == local));
        // The host candidate is out, but gathering is not complete while the allocation is in progress.
        let events: Vec<Event> = core::iter::from_fn(|| pc.poll_event()).collect();
        assert!(events.iter().any(|e| matches!(e, Event::LocalCandidate { .. })));
        assert_eq!(pc.ice_gathering_state(), IceGatheringState::Gathering);
        // The TURN retransmission is one of the connection's timers.
        assert!(pc.poll_timeout().is_some());

        // Garbage from the server's address: rejected by the client and counted.
        let bad = [0u8, 1, 0, 4, 0x21, 0x12, 0xA4, 0x42, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 1, 2];
        let r = pc.handle_receive(now, Datagram { source: server, destination: local, contents: &bad });
        assert!(matches!(r, Err(RecvError::Turn(_))), "{r:?}");
        // ChannelData with a bad length from the server.
        let r = pc.handle_receive(now, Datagram { source: server, destination: local, contents: &[0x40, 0, 0, 9, 1] });
        assert!(matches!(r, Err(RecvError::Turn(_))), "{r:?}");
        assert_eq!(pc.stats().turn_dropped, 2);
        // The same ChannelData from anyone else is no TURN traffic of ours.
        let other = addr("203.0.113.7:9");
        let r = pc.handle_receive(now, Datagram { source: other, destination: local, contents: &[0x40, 0, 0, 9, 1] });
        assert_eq!(r, Err(RecvError::Unknown));
        assert_eq!(pc.turn_clients().next().map(|t| t.stats().rejected), Some(2));

        // Without an answer the allocation times out: reported, and gathering completes.
        for _ in 0..100 {
            let Some(t) = pc.poll_timeout() else { break };
            pc.handle_timeout(t);
            while pc.poll_transmit().is_some() {}
        }
        let events: Vec<Event> = core::iter::from_fn(|| pc.poll_event()).collect();
        let failure = crate::turn::Failure::TimedOut;
        assert!(events.contains(&Event::IceCandidateError { server, failure }), "{events:?}");
        assert_eq!(pc.ice_gathering_state(), IceGatheringState::Complete);
    }

    #[test]
    fn the_config_does_not_print_the_turn_password() {
        let turn = TurnConfig::for_server(addr("198.51.100.1:3478"), "alice", "s3cret-pass");
        let text = alloc::format!("{:?}", Config { turn_servers: vec![turn], ..Config::default() });
        assert!(text.contains("alice") && !text.contains("s3cret-pass"), "{text}");
    }

    #[test]
    fn a_server_of_another_family_gives_up_at_end_of_candidates() {
        let server = addr("[2001:db8::1]:3478");
        let config = Config { turn_servers: vec![TurnConfig::for_server(server, "u", "p")], ..Config::default() };
        let mut pc = PeerConnection::new(config, SeededRng::from_seed([4; 32]));
        let now = Instant::ZERO;
        assert_eq!(pc.add_local_host(now, addr("192.0.2.10:5000")), Ok(()));
        assert!(pc.turn_clients().next().is_none());
        pc.end_of_local_candidates(now);
        let events: Vec<Event> = core::iter::from_fn(|| pc.poll_event()).collect();
        let failure = crate::turn::Failure::AddressFamilyNotSupported;
        assert!(events.contains(&Event::IceCandidateError { server, failure }), "{events:?}");
        assert_eq!(pc.ice_gathering_state(), IceGatheringState::Complete);
    }
}

/// Peer connections with TURN relays in the simulator: both peers behind symmetric NATs with the
/// `relay` transport policy, each allocating on the in-crate test server.
#[cfg(feature = "sim")]
mod relay {
    use alloc::string::{String, ToString};
    use alloc::vec;
    use alloc::vec::Vec;
    use core::net::SocketAddr;
    use core::time::Duration;

    use bytes::Bytes;

    use crate::ice::{CandidateKind, IceConnectionState};
    use crate::machine::Machine;
    use crate::pc::{
        ChannelId, ChannelOptions, Config, ConnectionState, Description, Event, IceGatheringState, IceTransportPolicy,
        PeerConnection, TurnConfig,
    };
    use crate::sim::{HostId, LinkConfig, NatConfig, Net, Sim};
    use crate::time::Instant;
    use crate::turn::test_server::TestServer;

    const SERVER: &str = "198.51.100.1:3478";
    const A: &str = "192.168.1.2:50000";
    const B: &str = "192.168.2.2:50000";

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    struct World {
        sim: Sim,
        a: HostId,
        b: HostId,
        server: HostId,
        events_a: Vec<Event>,
        events_b: Vec<Event>,
    }

    fn config(turn: bool) -> Config {
        let turn_servers = if turn { vec![TurnConfig::for_server(addr(SERVER), "user", "pass")] } else { Vec::new() };
        Config { turn_servers, ice_transport_policy: IceTransportPolicy::Relay, ..Config::default() }
    }

    /// Two peers, each behind its own symmetric NAT, and a public TURN server; sockets declared.
    fn world(seed: u64, turn: bool) -> World {
        world_with_loss(seed, turn, 0.0)
    }

    /// [`world`] with `loss` on every hop (a relayed datagram crosses four).
    fn world_with_loss(seed: u64, turn: bool, loss: f64) -> World {
        let mut sim = Sim::new(seed);
        sim.set_event_capacity(1 << 16);
        sim.set_default_link(LinkConfig::default().with_delay(Duration::from_millis(10)).with_loss(loss));
        let s = TestServer::new(addr(SERVER), "user", "pass");
        let server = sim.add_host("turn", Net::Internet, &[addr(SERVER).ip()], s).unwrap();
        let nat_a = sim.add_nat("nat-a", Net::Internet, addr("203.0.113.1:0").ip(), NatConfig::symmetric()).unwrap();
        let nat_b = sim.add_nat("nat-b", Net::Internet, addr("203.0.113.2:0").ip(), NatConfig::symmetric()).unwrap();
        let pa = PeerConnection::new(config(turn), sim.fork_rng());
        let pb = PeerConnection::new(config(turn), sim.fork_rng());
        let a = sim.add_host("a", Net::Behind(nat_a), &[addr(A).ip()], pa).unwrap();
        let b = sim.add_host("b", Net::Behind(nat_b), &[addr(B).ip()], pb).unwrap();
        let mut w = World { sim, a, b, server, events_a: Vec::new(), events_b: Vec::new() };
        for (h, local) in [(a, addr(A)), (b, addr(B))] {
            w.pc(h, |pc, now| {
                assert_eq!(pc.add_local_host(now, local), Ok(()));
                pc.end_of_local_candidates(now);
            });
        }
        w
    }

    impl World {
        fn pc<R>(&mut self, host: HostId, f: impl FnOnce(&mut PeerConnection, Instant) -> R) -> R {
            let r = self.sim.with_node(host, f);
            let now = self.sim.now();
            self.sim.run_until(now);
            self.collect();
            r.unwrap_or_else(|| panic!("no peer connection on {host:?}"))
        }

        fn collect(&mut self) {
            for (_, e) in self.sim.drain_events::<Event>(self.a) {
                self.events_a.push(e);
            }
            for (_, e) in self.sim.drain_events::<Event>(self.b) {
                self.events_b.push(e);
            }
        }

        /// Runs until `cond` holds (checked every 10 virtual ms) or `limit` passes.
        fn until(&mut self, limit: Duration, mut cond: impl FnMut(&World) -> bool) -> bool {
            let end = self.sim.now() + limit;
            while !cond(self) {
                if self.sim.now() >= end {
                    return false;
                }
                let next = self.sim.now() + Duration::from_millis(10);
                self.sim.run_until(next);
                self.collect();
            }
            true
        }

        fn state(&self, host: HostId) -> Option<(IceGatheringState, IceConnectionState, ConnectionState)> {
            let pc = self.sim.node::<PeerConnection>(host)?;
            Some((pc.ice_gathering_state(), pc.ice_connection_state(), pc.connection_state()))
        }

        fn gathered(&self) -> bool {
            [self.a, self.b].iter().all(|h| self.state(*h).is_some_and(|s| s.0 == IceGatheringState::Complete))
        }

        /// Offer from A (with a channel), answer from B, after gathering: no trickle.
        fn negotiate(&mut self) -> (Description, Description, ChannelId) {
            let (a, b) = (self.a, self.b);
            let (offer, ch) = self.pc(a, |pc, now| {
                let ch = pc.create_data_channel(now, ChannelOptions::new("relay")).unwrap_or(ChannelId(u32::MAX));
                let offer = pc.create_offer().unwrap_or_else(|_| Description::offer(""));
                assert_eq!(pc.set_local_description(now, &offer), Ok(()));
                (offer, ch)
            });
            let answer = self.pc(b, |pc, now| {
                assert_eq!(pc.set_remote_description(now, &offer), Ok(()));
                let answer = pc.create_answer().unwrap_or_else(|_| Description::answer(""));
                assert_eq!(pc.set_local_description(now, &answer), Ok(()));
                answer
            });
            self.pc(a, |pc, now| assert_eq!(pc.set_remote_description(now, &answer), Ok(())));
            (offer, answer, ch)
        }
    }

    fn candidate_lines(sdp: &str) -> Vec<&str> {
        sdp.lines().filter(|l| l.starts_with("a=candidate:")).collect()
    }

    fn messages(events: &[Event]) -> Vec<(String, bool)> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Message { data, binary, .. } => Some((String::from_utf8_lossy(data).to_string(), *binary)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn sim_relay_policy_connects_through_turn_and_carries_data_both_ways() {
        relay_run(world(41, true), false);
    }

    #[test]
    fn sim_relay_policy_survives_loss() {
        // 3 % on each of the four hops of a relayed path: about 12 % each way.
        for seed in 50..56 {
            relay_run(world_with_loss(seed, true, 0.03), true);
        }
    }

    /// Connects, exchanges messages both ways and closes; `lossy` allows the time loss costs and the
    /// stray answers to retransmitted TURN requests.
    fn relay_run(mut w: World, lossy: bool) {
        let slow = if lossy { 6 } else { 1 };
        assert!(w.until(Duration::from_secs(5) * slow, World::gathered), "{:?} {:?}", w.events_a, w.events_b);
        // Gathering completed after the allocation: the relay candidate was trickled before `Complete`.
        let trickled = w.events_a.iter().position(|e| matches!(e, Event::LocalCandidate { .. }));
        let complete = w.events_a.iter().position(|e| *e == Event::IceGatheringState(IceGatheringState::Complete));
        assert!(trickled.is_some() && trickled < complete, "{:?}", w.events_a);
        assert!(w.events_a.iter().all(|e| match e {
            Event::LocalCandidate { candidate, .. } => candidate.contains(" typ relay raddr 0.0.0.0 rport 9"),
            _ => true,
        }));

        let (offer, answer, ch_a) = w.negotiate();
        for sdp in [&offer.sdp, &answer.sdp] {
            let lines = candidate_lines(sdp);
            assert_eq!(lines.len(), 1, "{sdp}");
            // The related (server-reflexive) address is hidden too (RFC 8829 §3.5.3).
            assert!(lines.iter().all(|l| l.contains(" typ relay raddr 0.0.0.0 rport 9")), "{sdp}");
            assert!(!sdp.contains("203.0.113.") && !sdp.contains("192.168."), "{sdp}");
            // The relayed address is the server's, never a private or NAT address.
            assert!(lines.iter().all(|l| l.contains(" 198.51.100.1 ")), "{sdp}");
            assert!(sdp.contains("a=end-of-candidates"), "{sdp}");
        }

        let connected = |w: &World| {
            w.events_a.contains(&Event::ChannelOpen(ch_a))
                && w.events_b.iter().any(|e| matches!(e, Event::DataChannel { .. }))
        };
        assert!(w.until(Duration::from_secs(20) * slow, connected), "{:?}\n{:?}", w.events_a, w.events_b);
        for h in [w.a, w.b] {
            let pc = w.sim.node::<PeerConnection>(h);
            let pair = pc.and_then(|pc| pc.ice().selected_pair());
            assert!(pair.is_some_and(|(l, r)| l.kind == CandidateKind::Relay && r.kind == CandidateKind::Relay));
            assert_eq!(pc.map(PeerConnection::connection_state), Some(ConnectionState::Connected));
            // The selected pair moved to a channel.
            let bound = pc.and_then(|pc| {
                let (_, remote) = pc.ice().selected_pair()?;
                pc.turn_clients().next()?.channel(remote.address)
            });
            assert!(bound.is_some());
        }
        let ch_b = w
            .events_b
            .iter()
            .find_map(|e| if let Event::DataChannel { id, .. } = e { Some(*id) } else { None })
            .unwrap_or(ChannelId(u32::MAX));

        // Both ways, text and a binary message larger than one datagram.
        let big: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        w.pc(w.a, |pc, now| {
            assert_eq!(pc.send_text(now, ch_a, "hello from a"), Ok(()));
            assert_eq!(pc.send(now, ch_a, Bytes::from(big.clone()), true), Ok(()));
        });
        w.pc(w.b, |pc, now| assert_eq!(pc.send_text(now, ch_b, "hello from b"), Ok(())));
        let done = |w: &World| messages(&w.events_b).len() == 2 && messages(&w.events_a).len() == 1;
        assert!(w.until(Duration::from_secs(10) * slow, done), "{:?}\n{:?}", w.events_a, w.events_b);
        assert_eq!(messages(&w.events_a), vec![("hello from b".to_string(), false)]);
        assert_eq!(messages(&w.events_b).first(), Some(&("hello from a".to_string(), false)));
        let got_big = w.events_b.iter().rev().find_map(|e| match e {
            Event::Message { data, binary: true, .. } => Some(data.clone()),
            _ => None,
        });
        assert_eq!(got_big.as_deref(), Some(&big[..]));
        let s = w.sim.node::<TestServer>(w.server).map(|s| s.stats).unwrap_or_default();
        assert!(s.relayed_to_peer > 10 && s.relayed_to_client > 10, "{s:?}");
        for h in [w.a, w.b].into_iter().filter(|_| !lossy) {
            let stats = w.sim.node::<PeerConnection>(h).map(PeerConnection::stats).unwrap_or_default();
            assert_eq!(stats.turn_dropped, 0);
        }

        // Close releases the allocation (Refresh with lifetime 0), whose answer is still taken. The peer
        // takes our ABORT and close_notify as the end of the connection (`closed`, as browsers report it)
        // and releases its own.
        assert_eq!(w.sim.node::<TestServer>(w.server).map(|s| s.allocations.len()), Some(2));
        w.pc(w.a, |pc, now| pc.close(now));
        // Without loss one round trip; with loss the Refresh may need its retransmissions (and the peer
        // may only learn of the close when its consent checks fail).
        w.sim.run_for(if lossy { Duration::from_secs(60) } else { Duration::from_secs(1) });
        w.collect();
        // At least our own allocation is gone; with loss the peer's release may still be under way.
        let left = w.sim.node::<TestServer>(w.server).map(|s| s.allocations.len());
        assert!(left.is_some_and(|n| n <= 1), "{left:?}");
        let idle = w.sim.node::<PeerConnection>(w.a).map(|pc| pc.poll_timeout());
        assert_eq!(idle, Some(None), "nothing left to retransmit after the release");
        if !lossy {
            assert_eq!(left, Some(0));
            assert!(w.events_b.contains(&Event::ConnectionState(ConnectionState::Closed)), "{:?}", w.events_b);
            assert!(!w.events_b.contains(&Event::ConnectionState(ConnectionState::Failed)), "{:?}", w.events_b);
        }
    }

    #[test]
    fn sim_relay_policy_without_turn_gathers_nothing_and_fails() {
        let mut w = world(42, false);
        assert!(w.until(Duration::from_secs(1), World::gathered));
        assert!(!w.events_a.iter().any(|e| matches!(e, Event::LocalCandidate { .. })), "{:?}", w.events_a);
        let (offer, answer, _) = w.negotiate();
        assert!(candidate_lines(&offer.sdp).is_empty() && candidate_lines(&answer.sdp).is_empty());
        w.until(Duration::from_secs(60), |_| false);
        for h in [w.a, w.b] {
            let s = w.state(h);
            assert!(s.is_some_and(|s| s.1 == IceConnectionState::Failed && s.2 == ConnectionState::Failed), "{s:?}");
            assert!(w.sim.node::<PeerConnection>(h).is_some_and(|pc| pc.ice().selected_pair().is_none()));
        }
        assert!(
            !w.events_a.iter().chain(&w.events_b).any(|e| *e == Event::ConnectionState(ConnectionState::Connected))
        );
        assert_eq!(w.sim.node::<TestServer>(w.server).map(|s| s.stats.allocations), Some(0));
    }

    #[test]
    fn sim_turn_failure_is_reported_and_gathering_still_completes() {
        // A server that refuses: 486 on every Allocate.
        let mut sim = Sim::new(43);
        sim.set_default_link(LinkConfig::default().with_delay(Duration::from_millis(10)));
        let mut s = TestServer::new(addr(SERVER), "user", "pass");
        s.fail_allocate = Some(486);
        let _ = sim.add_host("turn", Net::Internet, &[addr(SERVER).ip()], s);
        let pc = PeerConnection::new(config(true), sim.fork_rng());
        let a = sim.add_host("a", Net::Internet, &[addr("203.0.113.9:0").ip()], pc).unwrap_or_else(|_| panic!("host"));
        let _ = sim.with_node(a, |pc: &mut PeerConnection, now| {
            let _ = pc.add_local_host(now, addr("203.0.113.9:4000"));
            pc.end_of_local_candidates(now);
        });
        sim.run_for(Duration::from_secs(5));
        let events: Vec<Event> = sim.drain_events::<Event>(a).into_iter().map(|(_, e)| e).collect();
        let server = addr(SERVER);
        let failure = crate::turn::Failure::QuotaReached;
        assert!(events.contains(&Event::IceCandidateError { server, failure }), "{events:?}");
        assert_eq!(events.last(), Some(&Event::IceGatheringState(IceGatheringState::Complete)), "{events:?}");
        assert!(!events.iter().any(|e| matches!(e, Event::LocalCandidate { .. })));
    }
}
