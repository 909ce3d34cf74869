//! Two ICE agents on a small deterministic network (virtual time, seeded loss, duplication and
//! reordering, no NAT): connectivity, nomination, role conflicts, lite, IPv6, trickle, restart, consent,
//! bad input and the bounds. NAT behaviours are covered in `tests/ice_sim.rs` on the crate's simulator.

use core::net::SocketAddr;
use core::time::Duration;

use sansrtc::ice::{
    ApiError, Candidate, CandidateKind, Config, Credentials, Foundation, IceAgent, IceConnectionState, IceError,
    IceEvent, Incoming, Role,
};
use sansrtc::{Datagram, Instant, Machine, PathMachine, SeededRng};

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

struct Packet {
    at: Instant,
    seq: u64,
    to: usize,
    source: SocketAddr,
    destination: SocketAddr,
    bytes: Vec<u8>,
}

/// Two agents and a lossy wire between them.
struct Pair {
    agents: [IceAgent; 2],
    addrs: [Vec<SocketAddr>; 2],
    now: Instant,
    wire: Vec<Packet>,
    seq: u64,
    rng: SeededRng,
    loss: u64,      // percent
    dup: u64,       // percent
    jitter_ms: u64, // uniform extra delay, reorders
    latency: Duration,
    cut: bool,
    events: [Vec<(Instant, IceEvent)>; 2],
    data: [Vec<Vec<u8>>; 2],
    /// Candidates signalled but held back (for late trickle); `None` = signal immediately.
    hold: [Option<Vec<Candidate>>; 2],
}

impl Pair {
    fn new(ca: Config, cb: Config, seed: u8) -> Self {
        Pair {
            agents: [
                IceAgent::new(ca, SeededRng::from_seed([seed; 32])),
                IceAgent::new(cb, SeededRng::from_seed([seed.wrapping_add(100); 32])),
            ],
            addrs: [Vec::new(), Vec::new()],
            now: Instant::ZERO,
            wire: Vec::new(),
            seq: 0,
            rng: SeededRng::from_seed([seed.wrapping_add(200); 32]),
            loss: 0,
            dup: 0,
            jitter_ms: 0,
            latency: Duration::from_millis(10),
            cut: false,
            events: [Vec::new(), Vec::new()],
            data: [Vec::new(), Vec::new()],
            hold: [None, None],
        }
    }

    fn lan(seed: u8) -> Self {
        Self::roles(Role::Controlling, Role::Controlled, seed)
    }

    fn roles(a: Role, b: Role, seed: u8) -> Self {
        let mut p = Pair::new(Config { role: a, ..Config::default() }, Config { role: b, ..Config::default() }, seed);
        p.host(0, "10.0.0.1:5000");
        p.host(1, "10.0.0.2:6000");
        p.exchange_credentials();
        p
    }

    fn host(&mut self, side: usize, a: &str) {
        let a = addr(a);
        self.addrs[side].push(a);
        self.agents[side].add_local_host(self.now, a).unwrap();
        self.pump_events();
    }

    fn exchange_credentials(&mut self) {
        let (ca, cb) = (self.agents[0].local_credentials().clone(), self.agents[1].local_credentials().clone());
        self.agents[0].set_remote_credentials(cb);
        self.agents[1].set_remote_credentials(ca);
    }

    fn pump_events(&mut self) {
        for side in 0..2 {
            while let Some(e) = self.agents[side].poll_event() {
                self.events[side].push((self.now, e));
                if let IceEvent::LocalCandidate(c) = e {
                    match self.hold[side].as_mut() {
                        Some(held) => held.push(c),
                        None => {
                            let _ = self.agents[1 - side].add_remote_candidate(self.now, c);
                        }
                    }
                }
            }
        }
    }

    fn roll(&mut self, percent: u64) -> bool {
        percent > 0 && self.rng.below(100) < percent
    }

    fn collect(&mut self) {
        for side in 0..2 {
            while let Some(t) = self.agents[side].poll_transmit() {
                let (source, destination, bytes) = (t.source, t.destination, t.contents.to_vec());
                assert!(self.addrs[side].contains(&source), "sent from an undeclared socket {source}");
                self.route(source, destination, bytes);
            }
        }
    }

    fn route(&mut self, source: SocketAddr, destination: SocketAddr, bytes: Vec<u8>) {
        let Some(to) = (0..2).find(|s| self.addrs[*s].contains(&destination)) else { return };
        if self.cut {
            return;
        }
        let copies = if self.roll(self.dup) { 2 } else { 1 };
        for _ in 0..copies {
            if self.roll(self.loss) {
                continue;
            }
            let jitter = Duration::from_millis(if self.jitter_ms > 0 { self.rng.below(self.jitter_ms) } else { 0 });
            self.seq += 1;
            self.wire.push(Packet {
                at: self.now + self.latency + jitter,
                seq: self.seq,
                to,
                source,
                destination,
                bytes: bytes.clone(),
            });
        }
    }

    /// Runs until `until` returns true or `limit` of virtual time passes; returns whether `until` held.
    fn run_until(&mut self, limit: Duration, mut until: impl FnMut(&Pair) -> bool) -> bool {
        let end = self.now + limit;
        let (mut last, mut spins) = (self.now, 0u32);
        loop {
            spins = if self.now == last { spins + 1 } else { 0 };
            last = self.now;
            assert!(spins < 10_000, "no progress at {}: a timer keeps firing without effect", self.now);
            self.pump_events();
            self.collect();
            if until(self) {
                return true;
            }
            let next_packet = self.wire.iter().map(|p| (p.at, p.seq)).min();
            let next_timer = self.agents.iter().filter_map(|a| a.poll_timeout()).min();
            let next = match (next_packet.map(|p| p.0), next_timer) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => match a.or(b) {
                    Some(t) => t,
                    None => return false,
                },
            };
            if next > end {
                self.now = end;
                return until(self);
            }
            self.now = self.now.max(next);
            // Deliver every packet due, in (time, sequence) order.
            self.wire.sort_by_key(|p| (p.at, p.seq));
            while self.wire.first().is_some_and(|p| p.at <= self.now) {
                let p = self.wire.remove(0);
                let d = Datagram { source: p.source, destination: p.destination, contents: &p.bytes };
                if let Ok(Incoming::Data(bytes)) = self.agents[p.to].receive(self.now, d) {
                    self.data[p.to].push(bytes.to_vec());
                }
            }
            for a in self.agents.iter_mut() {
                a.handle_timeout(self.now);
            }
        }
    }

    fn connected(&self) -> bool {
        self.agents.iter().all(|a| a.selected_pair().is_some())
    }

    fn states(&self, side: usize) -> Vec<IceConnectionState> {
        self.events[side]
            .iter()
            .filter_map(|(_, e)| if let IceEvent::StateChanged(s) = e { Some(*s) } else { None })
            .collect()
    }

    fn release_held(&mut self, side: usize, reverse: bool) {
        if let Some(mut held) = self.hold[side].take() {
            if reverse {
                held.reverse();
            }
            for c in held {
                let _ = self.agents[1 - side].add_remote_candidate(self.now, c);
            }
        }
    }

    /// Selected pairs agree: A sends from what B receives on, and back.
    fn assert_consistent(&self) {
        let (al, ar) = self.agents[0].selected_pair().unwrap();
        let (bl, br) = self.agents[1].selected_pair().unwrap();
        assert_eq!(ar.address, bl.base, "A sends where B's selected base is");
        assert_eq!(br.address, al.base, "B sends where A's selected base is");
    }

    fn send_data(&mut self, side: usize, payload: &[u8]) -> Result<(), ApiError> {
        let t = self.agents[side].send(payload)?;
        let (s, d) = (t.source, t.destination);
        self.route(s, d, payload.to_vec());
        Ok(())
    }
}

#[test]
fn host_to_host_connects_and_carries_data() {
    let mut p = Pair::lan(1);
    assert!(p.run_until(Duration::from_secs(5), |p| p.connected()));
    p.assert_consistent();
    assert!(p.now < Instant::from_secs(1), "a clean LAN connects fast, took {}", p.now);
    p.agents[0].end_of_remote_candidates(p.now);
    p.agents[1].end_of_remote_candidates(p.now);
    p.run_until(Duration::from_millis(200), |_| false);
    assert_eq!(
        p.states(0),
        [IceConnectionState::Checking, IceConnectionState::Connected, IceConnectionState::Completed]
    );
    assert_eq!(p.agents[1].state(), IceConnectionState::Completed);
    // Data: DTLS-looking bytes (first byte 20..=63) travel both ways.
    p.send_data(0, &[22, 1, 2, 3]).unwrap();
    p.send_data(1, &[23, 9]).unwrap();
    p.run_until(Duration::from_millis(100), |_| false);
    assert_eq!(p.data[1], [vec![22, 1, 2, 3]]);
    assert_eq!(p.data[0], [vec![23, 9]]);
    let s = p.agents[0].stats();
    assert!(s.checks_sent >= 1 && s.responses_received >= 1 && s.checks_received >= 1 && s.responses_sent >= 1);
    assert_eq!(s.discarded.total(), 0);
}

#[test]
fn controlling_nominates_regularly_and_controlled_follows() {
    let mut p = Pair::lan(2);
    assert!(p.run_until(Duration::from_secs(5), |p| p.connected()));
    let nominated_a: Vec<_> = p.agents[0].pairs().filter(|x| x.3).collect();
    let nominated_b: Vec<_> = p.agents[1].pairs().filter(|x| x.3).collect();
    assert_eq!(nominated_a.len(), 1);
    assert_eq!(nominated_b.len(), 1);
}

#[test]
fn keepalives_and_consent_keep_an_idle_session_alive() {
    let mut p = Pair::lan(3);
    assert!(p.run_until(Duration::from_secs(5), |p| p.connected()));
    let start = p.now;
    p.run_until(Duration::from_secs(120), |_| false);
    assert!(p.connected());
    for side in 0..2 {
        assert!(matches!(p.agents[side].state(), IceConnectionState::Connected | IceConnectionState::Completed));
        let s = p.agents[side].stats();
        assert!(s.keepalives_sent >= 10, "side {side}: {} keepalives", s.keepalives_sent);
        // Consent every 4–6 s over 120 s: between 20 and 30 checks plus the initial ones.
        assert!((20..=40).contains(&s.checks_sent), "side {side}: {} checks", s.checks_sent);
    }
    assert!(p.now >= start + Duration::from_secs(120));
    p.send_data(0, &[20]).unwrap();
}

#[test]
fn role_conflict_both_controlling_resolves() {
    let mut p = Pair::roles(Role::Controlling, Role::Controlling, 4);
    assert!(p.run_until(Duration::from_secs(10), |p| p.connected()));
    p.assert_consistent();
    let roles = [p.agents[0].role(), p.agents[1].role()];
    assert!(roles.contains(&Role::Controlling) && roles.contains(&Role::Controlled), "{roles:?}");
    assert!(p.agents[0].stats().role_conflicts + p.agents[1].stats().role_conflicts >= 1);
}

#[test]
fn role_conflict_both_controlled_resolves() {
    let mut p = Pair::roles(Role::Controlled, Role::Controlled, 5);
    assert!(p.run_until(Duration::from_secs(10), |p| p.connected()));
    p.assert_consistent();
    let roles = [p.agents[0].role(), p.agents[1].role()];
    assert!(roles.contains(&Role::Controlling) && roles.contains(&Role::Controlled), "{roles:?}");
}

#[test]
fn lite_server_with_full_client() {
    let lite = Config { lite: true, role: Role::Controlling, ..Config::default() };
    let mut p = Pair::new(Config { role: Role::Controlled, ..Config::default() }, lite, 6);
    p.host(0, "10.0.0.1:5000");
    p.host(1, "198.51.100.7:443");
    p.exchange_credentials();
    assert_eq!(p.agents[1].role(), Role::Controlled, "lite is always controlled");
    assert!(p.run_until(Duration::from_secs(10), |p| p.connected()));
    p.assert_consistent();
    assert_eq!(p.agents[0].role(), Role::Controlling, "the full agent took control after the 487");
    assert_eq!(p.agents[1].stats().checks_sent, 0, "a lite agent sends no checks");
    // The lite side stays alive on the full side's consent checks and keepalives.
    p.run_until(Duration::from_secs(60), |_| false);
    assert!(p.connected());
    assert_eq!(p.agents[1].stats().checks_sent, 0);
}

#[test]
fn ipv6_only() {
    let mut p = Pair::new(Config::default(), Config { role: Role::Controlled, ..Config::default() }, 7);
    p.host(0, "[2001:db8::1]:5000");
    p.host(1, "[2001:db8::2]:6000");
    p.exchange_credentials();
    assert!(p.run_until(Duration::from_secs(5), |p| p.connected()));
    assert!(p.agents[0].selected_pair().unwrap().0.base.is_ipv6());
}

#[test]
fn dual_stack_pairs_only_within_a_family() {
    let mut p = Pair::new(Config::default(), Config { role: Role::Controlled, ..Config::default() }, 8);
    p.host(0, "[2001:db8::1]:5000");
    p.host(0, "10.0.0.1:5000");
    p.host(1, "[2001:db8::2]:6000");
    p.host(1, "10.0.0.2:6000");
    p.exchange_credentials();
    assert!(p.run_until(Duration::from_secs(5), |p| p.connected()));
    for (l, r, _, _) in p.agents[0].pairs() {
        assert_eq!(l.base.is_ipv4(), r.address.is_ipv4());
    }
    assert_eq!(p.agents[0].pairs().count(), 2);
    // IPv6 ranks first (RFC 8421), so the IPv6 pair wins.
    assert!(p.agents[0].selected_pair().unwrap().0.base.is_ipv6());
}

#[test]
fn trickle_late_and_out_of_order_with_late_credentials() {
    let mut p = Pair::new(Config::default(), Config { role: Role::Controlled, ..Config::default() }, 9);
    p.hold = [Some(Vec::new()), Some(Vec::new())];
    p.host(0, "10.0.0.1:5000");
    p.host(0, "10.0.1.1:5000");
    p.host(1, "10.0.0.2:6000");
    p.host(1, "10.0.1.2:6000");
    // B's candidates reach A first, in reverse order, before any credentials.
    p.release_held(1, true);
    assert!(!p.run_until(Duration::from_secs(1), |p| p.connected()));
    assert_eq!(p.agents[0].stats().checks_sent, 0, "no checks without remote credentials");
    p.exchange_credentials();
    // A checks towards B; B answers (it knows its own password) and learns A as peer-reflexive.
    assert!(p.run_until(Duration::from_secs(3), |p| !p.agents[1].remote_candidates().is_empty()));
    assert!(p.agents[1].remote_candidates().iter().all(|c| c.kind == CandidateKind::PeerReflexive));
    // A's signalled candidates arrive late and replace the peer-reflexive ones.
    p.release_held(0, true);
    assert!(p.run_until(Duration::from_secs(10), |p| p.connected()));
    p.assert_consistent();
    assert!(p.agents[1].remote_candidates().iter().all(|c| c.kind == CandidateKind::Host));
}

fn lossy(loss: u64, seed: u8) -> Pair {
    // More patience than the defaults: loss is survived by retransmitting longer.
    let patient = |role| Config {
        role,
        check_max_transmissions: 60,
        check_rto_max: Duration::from_secs(1),
        failed_timeout: Duration::from_secs(600),
        ..Config::default()
    };
    let mut p = Pair::new(patient(Role::Controlling), patient(Role::Controlled), seed);
    p.host(0, "10.0.0.1:5000");
    p.host(1, "10.0.0.2:6000");
    p.exchange_credentials();
    p.loss = loss;
    p
}

#[test]
fn thirty_percent_loss_connects() {
    for seed in 10..14 {
        let mut p = lossy(30, seed);
        assert!(p.run_until(Duration::from_secs(60), |p| p.connected()), "seed {seed}");
        p.assert_consistent();
    }
}

#[test]
fn eighty_percent_loss_connects_given_time() {
    for seed in 20..24 {
        let mut p = lossy(80, seed);
        let ok = p.run_until(Duration::from_secs(300), |p| p.connected());
        assert!(
            ok,
            "seed {seed}: {:?} {:?} {:?}",
            p.agents[0].stats(),
            p.agents[1].state(),
            p.agents[1].pairs().collect::<Vec<_>>()
        );
        eprintln!("seed {seed}: connected after {}", p.now);
        p.assert_consistent();
    }
}

#[test]
fn duplication_and_reordering_cause_no_confusion() {
    let mut p = Pair::lan(30);
    p.host(0, "10.0.1.1:5000");
    p.host(1, "10.0.1.2:6000");
    p.dup = 50;
    p.jitter_ms = 300;
    assert!(p.run_until(Duration::from_secs(10), |p| p.connected()));
    p.assert_consistent();
    p.run_until(Duration::from_secs(30), |_| false);
    assert!(p.connected());
    for side in 0..2 {
        let d = p.agents[side].stats().discarded;
        // Duplicated responses meet an already finished transaction: dropped as unknown, nothing else.
        assert_eq!(d.total(), d.unknown_transaction, "side {side}: {d:?}");
        assert!(matches!(p.agents[side].state(), IceConnectionState::Connected | IceConnectionState::Completed));
    }
}

#[test]
fn restart_keeps_the_old_pair_until_a_new_one_is_selected() {
    let mut p = Pair::lan(31);
    assert!(p.run_until(Duration::from_secs(5), |p| p.connected()));
    let old = p.agents[0].selected_pair().unwrap();
    let old_creds = p.agents[0].local_credentials().clone();
    let selected_events = |p: &Pair, side: usize| {
        p.events[side].iter().filter(|(_, e)| matches!(e, IceEvent::SelectedPairChanged { .. })).count()
    };
    let before = selected_events(&p, 0);
    // Restart both sides; B moves to a new socket so the new generation selects a different pair.
    p.hold = [Some(Vec::new()), Some(Vec::new())];
    let now = p.now;
    p.agents[0].restart(now, None);
    p.agents[1].restart(now, Some(Credentials::new("newufrag", "0123456789abcdef0123456789").unwrap()));
    assert_ne!(p.agents[0].local_credentials(), &old_creds);
    p.host(1, "10.0.0.2:7000");
    // Data still flows on the old pair while the new generation is signalled.
    p.send_data(0, &[21, 7]).unwrap();
    p.run_until(Duration::from_millis(200), |_| false);
    assert_eq!(p.data[1], [vec![21, 7]]);
    assert_eq!(p.agents[0].selected_pair().unwrap(), old);
    p.exchange_credentials();
    p.hold[0] = Some(Vec::new());
    let held_b: Vec<Candidate> = p.hold[1].take().unwrap().into_iter().filter(|c| c.address.port() == 7000).collect();
    for c in held_b {
        p.agents[0].add_remote_candidate(p.now, c).unwrap();
    }
    p.release_held(0, false);
    assert!(p.run_until(Duration::from_secs(10), |p| p.agents[0].selected_pair().unwrap() != old
        && p.agents[1].selected_pair().is_some_and(|s| s.0.base.port() == 7000)));
    assert_eq!(selected_events(&p, 0), before + 1);
    p.assert_consistent();
    // Old-generation checks are refused: their USERNAME carries the old ufrag.
    assert!(p.agents[0].state() != IceConnectionState::Failed);
}

#[test]
fn consent_loss_disconnects_then_fails_on_schedule() {
    let mut p = Pair::lan(32);
    assert!(p.run_until(Duration::from_secs(5), |p| p.connected()));
    p.run_until(Duration::from_secs(7), |_| false);
    p.cut = true;
    let cut_at = p.now;
    assert!(p.run_until(Duration::from_secs(60), |p| p.agents[0].state() == IceConnectionState::Failed));
    let ev: Vec<(Instant, IceConnectionState)> = p.events[0]
        .iter()
        .filter_map(|(t, e)| if let IceEvent::StateChanged(s) = e { Some((*t, *s)) } else { None })
        .filter(|(t, _)| *t >= cut_at)
        .collect();
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert_eq!(ev[0].1, IceConnectionState::Disconnected);
    assert_eq!(ev[1].1, IceConnectionState::Failed);
    // Disconnected within the 5 s silence timeout (the last packet came shortly before the cut).
    let disc = ev[0].0 - cut_at;
    assert!(disc <= Duration::from_secs(5), "disconnected after {disc:?}");
    // Failed once 30 s passed since the last consent response (RFC 7675), so 24–30 s after the cut.
    let failed = ev[1].0 - cut_at;
    assert!(failed >= Duration::from_secs(24) && failed <= Duration::from_secs(30), "failed after {failed:?}");
    assert_eq!(p.agents[0].send(b"x").unwrap_err(), ApiError::ConsentExpired);
    assert!(p.agents[0].selected_pair().is_none());
}

#[test]
fn no_remote_candidates_reachable_fails_within_failed_timeout() {
    let mut p = Pair::lan(33);
    p.cut = true;
    assert!(p.run_until(Duration::from_secs(60), |p| p.agents.iter().all(|a| a.state() == IceConnectionState::Failed)));
    assert!(p.now <= Instant::from_secs(31), "failed at {}", p.now);
    // Nothing left to do: no timer keeps the agent spinning.
    p.run_until(Duration::from_secs(10), |_| false);
    assert!(p.agents.iter().all(|a| a.poll_timeout().is_none()), "failed agents stay quiet");
}

#[test]
fn close_stops_everything() {
    let mut p = Pair::lan(34);
    assert!(p.run_until(Duration::from_secs(5), |p| p.connected()));
    p.agents[0].close();
    p.pump_events();
    assert_eq!(p.agents[0].state(), IceConnectionState::Closed);
    assert_eq!(p.agents[0].poll_timeout(), None);
    assert_eq!(p.agents[0].send(b"x").unwrap_err(), ApiError::Closed);
    assert!(p.agents[0].poll_transmit().is_none());
}

#[test]
fn unvalidated_data_is_dropped_and_counted() {
    let mut p = Pair::lan(35);
    let d = Datagram { source: addr("10.0.0.2:6000"), destination: addr("10.0.0.1:5000"), contents: &[22, 0, 0] };
    assert_eq!(p.agents[0].receive(p.now, d), Err(IceError::UnvalidatedSource));
    assert!(p.run_until(Duration::from_secs(5), |p| p.connected()));
    assert_eq!(p.agents[0].receive(p.now, d), Ok(Incoming::Data(&[22, 0, 0])));
    let stranger = Datagram { source: addr("10.9.9.9:1"), ..d };
    assert_eq!(p.agents[0].receive(p.now, stranger), Err(IceError::UnvalidatedSource));
    assert_eq!(p.agents[0].stats().discarded.unvalidated_source, 2);
}

#[test]
fn remote_candidate_and_pair_caps_hold() {
    let cfg = Config { max_remote_candidates: 5, max_pairs: 3, ..Config::default() };
    let mut a = IceAgent::new(cfg, SeededRng::from_seed([1; 32]));
    a.add_local_host(Instant::ZERO, addr("10.0.0.1:5000")).unwrap();
    let f = Foundation::new("x").unwrap();
    let mut refused = 0;
    for i in 0..20u16 {
        let c = Candidate::remote(
            CandidateKind::Host,
            SocketAddr::new("10.0.0.2".parse().unwrap(), 1000 + i),
            1000 + u32::from(i),
            f,
        );
        if a.add_remote_candidate(Instant::ZERO, c) == Err(ApiError::LimitReached) {
            refused += 1;
        }
    }
    assert_eq!(a.remote_candidates().len(), 5);
    assert_eq!(refused, 15);
    assert_eq!(a.pairs().count(), 3);
    // The highest-priority pairs were kept.
    assert!(a.pairs().all(|(_, r, _, _)| r.priority >= 1002));
    // Invalid input is refused.
    let bad = Candidate { component: 2, ..Candidate::remote(CandidateKind::Host, addr("10.0.0.3:1"), 1, f) };
    assert_eq!(a.add_remote_candidate(Instant::ZERO, bad), Err(ApiError::InvalidCandidate));
}

#[test]
fn same_seed_same_event_trace() {
    fn trace(seed: u8) -> String {
        let mut p = lossy(30, seed);
        p.dup = 10;
        p.jitter_ms = 50;
        p.run_until(Duration::from_secs(30), |_| false);
        let mut out = String::new();
        for side in 0..2 {
            for (t, e) in &p.events[side] {
                out.push_str(&format!("{side} {t} {e:?}\n"));
            }
        }
        let s = p.agents[0].stats();
        out.push_str(&format!(
            "A checks={} retransmits={} responses={}\n",
            s.checks_sent, s.retransmits, s.responses_received
        ));
        out
    }
    let first = trace(40);
    assert_eq!(first, trace(40));
    assert_ne!(first, trace(41));
    insta::assert_snapshot!("ice_event_trace_seed_40", first);
}

#[test]
fn extreme_configuration_values_do_not_panic() {
    for (big, small) in [(Duration::MAX, Duration::ZERO), (Duration::ZERO, Duration::MAX)] {
        let cfg = |role| Config {
            role,
            ta: big,
            check_rto: big,
            check_rto_max: small,
            check_max_transmissions: u32::MAX,
            nomination_delay: small,
            disconnected_timeout: big,
            failed_timeout: small,
            keepalive_interval: big,
            consent_interval: big,
            consent_timeout: small,
            gather_max_transmissions: u32::MAX,
            max_pairs: usize::MAX,
            max_remote_candidates: usize::MAX,
            max_local_candidates: usize::MAX,
            max_stun_servers: usize::MAX,
            max_transmits: if big.is_zero() { 0 } else { usize::MAX },
            max_events: if big.is_zero() { 0 } else { usize::MAX },
            ..Config::default()
        };
        let mut p = Pair::new(cfg(Role::Controlling), cfg(Role::Controlled), 50);
        p.host(0, "10.0.0.1:5000");
        p.host(1, "10.0.0.2:6000");
        p.agents[0].add_stun_server(p.now, addr("10.0.0.9:3478")).unwrap();
        p.exchange_credentials();
        p.run_until(Duration::from_secs(60), |_| false);
    }
}

#[test]
fn relay_only_agent_connects_through_its_relay_candidate() {
    use sansrtc::ice::CandidateFilter;
    // The caller owns the TURN allocation: what the agent sends "from" the relayed address goes out
    // through the relay, and what arrives at the relayed address is fed back with it as destination. This
    // driver plays that relay by treating the relayed address as one of A's own.
    let relay_only = Config { candidate_filter: CandidateFilter::RELAY_ONLY, ..Config::default() };
    let mut p = Pair::new(relay_only, Config { role: Role::Controlled, ..Config::default() }, 60);
    p.host(0, "10.0.0.1:5000");
    p.host(1, "10.0.0.2:6000");
    let relayed = addr("198.51.100.9:40000");
    p.addrs[0].push(relayed);
    let now = p.now;
    p.agents[0].add_local_candidate(now, CandidateKind::Relay, relayed, relayed, Some(addr("10.0.0.1:5000"))).unwrap();
    p.pump_events();
    p.exchange_credentials();
    assert!(p.run_until(Duration::from_secs(10), |p| p.connected()));
    p.assert_consistent();
    let (local, _) = p.agents[0].selected_pair().unwrap();
    assert_eq!((local.kind, local.base), (CandidateKind::Relay, relayed));
    // B never saw A's host address.
    assert!(p.agents[1].remote_candidates().iter().all(|c| c.address == relayed));
}
