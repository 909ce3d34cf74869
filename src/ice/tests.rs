use core::net::SocketAddr;

use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;

use super::candidate::FoundationKey;
use super::*;
use crate::rand::SeededRng;

#[test]
fn priorities_follow_rfc8445() {
    // §5.1.2.1 with type preference 126, local preference 65535, component 1.
    assert_eq!(priority(CandidateKind::Host, 65_535, 1), (126 << 24) | (65_535 << 8) | 255);
    assert_eq!(priority(CandidateKind::Relay, 0, 1), 255);
    assert!(priority(CandidateKind::PeerReflexive, 1, 1) > priority(CandidateKind::ServerReflexive, 65_535, 1));
    // §6.1.2.3.
    assert_eq!(pair_priority(10, 20), (10u64 << 32) + 40);
    assert_eq!(pair_priority(20, 10), (10u64 << 32) + 40 + 1);
    // Priorities at the top of the range (a peer may send them) saturate instead of overflowing.
    assert_eq!(pair_priority(u32::MAX, u32::MAX), u64::MAX);
    assert_eq!(pair_priority(u32::MAX, 1_000), (1_000u64 << 32) + 2 * u64::from(u32::MAX) + 1);
    // RFC 8421: IPv6 and IPv4 interleaved, IPv6 first.
    let order =
        [local_preference(true, 0), local_preference(false, 0), local_preference(true, 1), local_preference(false, 1)];
    assert!(order.windows(2).all(|w| w[0] > w[1]));
}

#[test]
fn foundations_are_ice_chars() {
    assert_eq!(Foundation::from_number(0).as_str(), "0");
    assert_eq!(Foundation::from_number(4_294_967_295).as_str(), "4294967295");
    assert!(Foundation::new("").is_none());
    assert!(Foundation::new("a b").is_none());
    assert!(Foundation::new(&"x".repeat(33)).is_none());
    assert_eq!(Foundation::new("abc+/1").unwrap().as_str(), "abc+/1");
    let _ =
        FoundationKey { tcp: false, kind: CandidateKind::Host, base_ip: "1.2.3.4".parse().unwrap(), server_ip: None };
}

#[test]
fn credentials_are_checked_and_random() {
    assert!(Credentials::new("abc", "0123456789012345678901").is_err());
    assert!(Credentials::new("abcd", "short").is_err());
    assert!(Credentials::new("ab:d", "0123456789012345678901").is_err());
    assert!(Credentials::new("abcd", "0123456789012345678901").is_ok());
    let mut rng = SeededRng::from_seed([5; 32]);
    let c = Credentials::random(&mut rng);
    assert!(Credentials::new(&c.ufrag, &c.pwd).is_ok());
    assert_ne!(c, Credentials::random(&mut rng));
}

#[test]
fn local_candidates_get_priorities_foundations_and_bases() {
    let mut a = IceAgent::new(Config::default(), SeededRng::from_seed([1; 32]));
    let now = crate::Instant::ZERO;
    let v4: SocketAddr = "192.168.1.2:4000".parse().unwrap();
    let v4b: SocketAddr = "192.168.1.2:4001".parse().unwrap();
    let v6: SocketAddr = "[2001:db8::2]:4000".parse().unwrap();
    let h4 = a.add_local_host(now, v4).unwrap().unwrap();
    let h6 = a.add_local_host(now, v6).unwrap().unwrap();
    let h4b = a.add_local_host(now, v4b).unwrap().unwrap();
    assert_eq!(a.add_local_host(now, v4), Err(ApiError::Duplicate));
    assert_eq!(h4.base, v4);
    assert_eq!(h4.kind, CandidateKind::Host);
    // Same type and base IP share a foundation; another family does not.
    assert_eq!(h4.foundation, h4b.foundation);
    assert_ne!(h4.foundation, h6.foundation);
    // First IPv6 socket above first IPv4 socket above the second IPv4 one (RFC 8421).
    assert!(h6.priority > h4.priority && h4.priority > h4b.priority);
    let relay: SocketAddr = "203.0.113.9:50000".parse().unwrap();
    let r = a.add_local_candidate(now, CandidateKind::Relay, relay, relay, Some(v4)).unwrap();
    assert_eq!(r.priority >> 24, 0);
    assert_eq!(r.base, relay);
}

fn events(a: &mut IceAgent) -> Vec<IceEvent> {
    use crate::Machine;
    core::iter::from_fn(|| a.poll_event()).collect()
}

fn transmits(a: &mut IceAgent) -> Vec<(SocketAddr, SocketAddr)> {
    use crate::PathMachine;
    core::iter::from_fn(|| a.poll_transmit().map(|t| (t.source, t.destination))).collect()
}

#[test]
fn nat_1to1_host_mode_advertises_the_public_address() {
    let cfg = Config {
        nat_1to1: alloc::vec![Nat1To1 { local: None, public: "203.0.113.5".parse().unwrap() }],
        ..Config::default()
    };
    let mut a = IceAgent::new(cfg, SeededRng::from_seed([1; 32]));
    let local: SocketAddr = "10.0.0.1:5000".parse().unwrap();
    let c = a.add_local_host(crate::Instant::ZERO, local).unwrap().unwrap();
    assert_eq!(c.kind, CandidateKind::Host);
    assert_eq!(c.address, "203.0.113.5:5000".parse().unwrap());
    assert_eq!(c.base, local);
    // An IPv6 socket is not mapped by an IPv4 public address.
    let v6 = a.add_local_host(crate::Instant::ZERO, "[2001:db8::1]:5000".parse().unwrap()).unwrap().unwrap();
    assert_eq!(v6.address, v6.base);
}

#[test]
fn nat_1to1_srflx_mode_adds_a_server_reflexive_candidate() {
    let local: SocketAddr = "10.0.0.1:5000".parse().unwrap();
    let cfg = Config {
        nat_1to1: alloc::vec![Nat1To1 { local: Some(local.ip()), public: "203.0.113.5".parse().unwrap() }],
        nat_1to1_kind: Nat1To1Kind::ServerReflexive,
        ..Config::default()
    };
    let mut a = IceAgent::new(cfg, SeededRng::from_seed([1; 32]));
    a.add_local_host(crate::Instant::ZERO, local).unwrap();
    let got: Vec<Candidate> = events(&mut a)
        .into_iter()
        .filter_map(|e| if let IceEvent::LocalCandidate(c) = e { Some(c) } else { None })
        .collect();
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].kind, got[0].address), (CandidateKind::Host, local));
    assert_eq!((got[1].kind, got[1].address), (CandidateKind::ServerReflexive, "203.0.113.5:5000".parse().unwrap()));
    assert_eq!((got[1].base, got[1].related), (local, Some(local)));
}

#[test]
fn relay_only_filter_hides_host_and_server_reflexive_candidates() {
    let cfg = Config { candidate_filter: CandidateFilter::RELAY_ONLY, ..Config::default() };
    let mut a = IceAgent::new(cfg, SeededRng::from_seed([1; 32]));
    let now = crate::Instant::ZERO;
    let local: SocketAddr = "10.0.0.1:5000".parse().unwrap();
    assert_eq!(a.add_local_host(now, local), Ok(None));
    a.add_stun_server(now, "198.51.100.1:3478".parse().unwrap()).unwrap();
    assert!(transmits(&mut a).is_empty(), "no server-reflexive gathering");
    let relay: SocketAddr = "198.51.100.9:40000".parse().unwrap();
    assert_eq!(a.add_local_candidate(now, CandidateKind::Host, local, local, None), Err(ApiError::Filtered));
    let r = a.add_local_candidate(now, CandidateKind::Relay, relay, relay, Some(local)).unwrap();
    a.end_of_local_candidates(now);
    assert_eq!(events(&mut a), [IceEvent::LocalCandidate(r), IceEvent::GatheringComplete]);
}

#[test]
fn no_local_candidate_and_no_more_remote_ones_is_failed() {
    let now = crate::Instant::ZERO;
    let remote = Candidate::remote(
        CandidateKind::Host,
        "198.51.100.20:6000".parse().unwrap(),
        priority(CandidateKind::Host, 65_535, 1),
        Foundation::from_number(1),
    );
    let creds = Credentials::new("rmte", "remotepasswordof22chars0").unwrap();
    // Relay-only with no relay: nothing to pair, ever.
    let cfg = Config { candidate_filter: CandidateFilter::RELAY_ONLY, ..Config::default() };
    let mut a = IceAgent::new(cfg, SeededRng::from_seed([1; 32]));
    assert_eq!(a.add_local_host(now, "10.0.0.1:5000".parse().unwrap()), Ok(None));
    a.end_of_local_candidates(now);
    a.set_remote_credentials(creds.clone());
    a.add_remote_candidate(now, remote).unwrap();
    assert_eq!(a.state(), IceConnectionState::New, "the peer may still send candidates");
    a.end_of_remote_candidates(now);
    assert_eq!(a.state(), IceConnectionState::Failed);
    assert!(events(&mut a).contains(&IceEvent::StateChanged(IceConnectionState::Failed)));

    // With a local candidate but no usable remote one, checks from the peer may still come (peer-reflexive
    // remotes): no failure.
    let mut b = IceAgent::new(Config::default(), SeededRng::from_seed([2; 32]));
    b.add_local_host(now, "10.0.0.1:5000".parse().unwrap()).unwrap();
    b.end_of_local_candidates(now);
    b.set_remote_credentials(creds);
    b.end_of_remote_candidates(now);
    assert_eq!(b.state(), IceConnectionState::New);
}

#[test]
fn no_host_filter_still_gathers_from_the_socket() {
    let cfg = Config { candidate_filter: CandidateFilter::NO_HOST, ..Config::default() };
    let mut a = IceAgent::new(cfg, SeededRng::from_seed([1; 32]));
    let now = crate::Instant::ZERO;
    let local: SocketAddr = "10.0.0.1:5000".parse().unwrap();
    let server: SocketAddr = "198.51.100.1:3478".parse().unwrap();
    assert_eq!(a.add_local_host(now, local), Ok(None));
    a.add_stun_server(now, server).unwrap();
    assert_eq!(transmits(&mut a), [(local, server)]);
    assert!(events(&mut a).is_empty());
}

#[test]
fn gathering_completes_after_unanswered_stun_requests_time_out() {
    use crate::Machine;
    let mut a = IceAgent::new(Config::default(), SeededRng::from_seed([1; 32]));
    let mut now = crate::Instant::ZERO;
    a.add_local_host(now, "10.0.0.1:5000".parse().unwrap()).unwrap();
    a.add_stun_server(now, "198.51.100.1:3478".parse().unwrap()).unwrap();
    a.end_of_local_candidates(now);
    let _ = events(&mut a);
    let mut sent = transmits(&mut a).len();
    let mut complete = None;
    while let Some(t) = a.poll_timeout() {
        now = t;
        a.handle_timeout(now);
        sent += transmits(&mut a).len();
        if events(&mut a).contains(&IceEvent::GatheringComplete) {
            complete = Some(now);
            break;
        }
    }
    // Four transmissions at 0, 0.5, 1.5 and 3.5 s (RTO 500 ms doubling), then a last wait of 3 s (the RTO
    // cap) before giving up.
    assert_eq!(sent, 4);
    assert_eq!(complete, Some(crate::Instant::from_millis(6_500)));
}

#[test]
fn lite_agents_gather_host_candidates_only() {
    let cfg = Config { lite: true, ..Config::default() };
    let mut a = IceAgent::new(cfg, SeededRng::from_seed([1; 32]));
    let now = crate::Instant::ZERO;
    let local: SocketAddr = "10.0.0.1:5000".parse().unwrap();
    a.add_local_host(now, local).unwrap();
    a.add_stun_server(now, "198.51.100.1:3478".parse().unwrap()).unwrap();
    assert!(transmits(&mut a).is_empty());
    assert_eq!(a.role(), Role::Controlled);
    let relay: SocketAddr = "198.51.100.9:40000".parse().unwrap();
    assert_eq!(a.add_local_candidate(now, CandidateKind::Relay, relay, relay, None), Err(ApiError::Filtered));
}

#[test]
fn relay_addresses_are_not_used_for_stun_gathering() {
    let mut a = IceAgent::new(Config::default(), SeededRng::from_seed([1; 32]));
    let now = crate::Instant::ZERO;
    let local: SocketAddr = "10.0.0.1:5000".parse().unwrap();
    let relay: SocketAddr = "198.51.100.9:40000".parse().unwrap();
    let server: SocketAddr = "198.51.100.1:3478".parse().unwrap();
    a.add_local_candidate(now, CandidateKind::Relay, relay, relay, Some(local)).unwrap();
    a.add_local_host(now, local).unwrap();
    a.add_stun_server(now, server).unwrap();
    // One gathering request, from the host socket only.
    assert_eq!(transmits(&mut a), [(local, server)]);
}

// ----- junk changes nothing -----

const AT_A: &str = "10.0.0.1:5000";
const AT_B: &str = "10.0.0.2:6000";
/// Neither agent's: a foreign host spraying junk.
const FOREIGN: &str = "10.9.9.9:4000";
const PWD_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaa";
const PWD_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbb";

fn at(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn datagram<'a>(from: &str, to: &str, contents: &'a [u8]) -> crate::Datagram<'a> {
    crate::Datagram { source: at(from), destination: at(to), contents }
}

/// Agent `a` (controlling, at `AT_A`) and `b` (controlled, at `AT_B`, or lite), knowing each other's
/// credentials and host candidates.
fn two_agents(b_lite: bool) -> (IceAgent, IceAgent) {
    let now = crate::Instant::ZERO;
    let creds_a = Credentials::new("aaaa", PWD_A).unwrap();
    let creds_b = Credentials::new("bbbb", PWD_B).unwrap();
    let cfg = |role, creds: &Credentials, lite| Config {
        role,
        lite,
        local_credentials: Some(creds.clone()),
        ..Config::default()
    };
    let mut a = IceAgent::new(cfg(Role::Controlling, &creds_a, false), SeededRng::from_seed([1; 32]));
    let mut b = IceAgent::new(cfg(Role::Controlled, &creds_b, b_lite), SeededRng::from_seed([2; 32]));
    let ca = a.add_local_host(now, at(AT_A)).unwrap().unwrap();
    let cb = b.add_local_host(now, at(AT_B)).unwrap().unwrap();
    a.set_remote_credentials(creds_b);
    b.set_remote_credentials(creds_a);
    a.add_remote_candidate(now, cb).unwrap();
    b.add_remote_candidate(now, ca).unwrap();
    let _ = (events(&mut a), events(&mut b));
    (a, b)
}

/// Runs `a` and `b` over a perfect network until both have selected a pair; returns the time then.
fn connect(a: &mut IceAgent, b: &mut IceAgent) -> crate::Instant {
    use crate::{Machine, PathMachine};
    let mut now = crate::Instant::ZERO;
    for _ in 0..200 {
        let mut moved = false;
        for a_to_b in [true, false] {
            let (from, to) = if a_to_b { (&mut *a, &mut *b) } else { (&mut *b, &mut *a) };
            while let Some(t) = from.poll_transmit() {
                let (s, d, v) = (t.source, t.destination, t.contents.to_vec());
                moved = true;
                let _ = to.handle_receive(now, crate::Datagram { source: s, destination: d, contents: &v });
            }
        }
        if a.selected_pair().is_some() && b.selected_pair().is_some() {
            return now;
        }
        if !moved {
            now = a.poll_timeout().into_iter().chain(b.poll_timeout()).min().unwrap_or(now).max(now);
        }
        a.handle_timeout(now);
        b.handle_timeout(now);
    }
    panic!("no pair selected");
}

/// A binding indication (a keepalive); `after` adds an attribute after its FINGERPRINT.
fn indication(after: bool) -> Vec<u8> {
    use crate::stun::{Attribute, MessageBuilder, MessageType, TransactionId};
    let mut buf = Vec::new();
    let mut b = MessageBuilder::new(&mut buf, MessageType::BINDING_INDICATION, TransactionId([4; 12])).unwrap();
    b.add(Attribute::Username("bbbb:aaaa")).unwrap();
    b.fingerprint().unwrap();
    if after {
        b.add(Attribute::Software("after the fingerprint")).unwrap();
    }
    b.finish();
    buf
}

/// A's genuine check to B (right USERNAME, right password, FINGERPRINT); `after` adds an attribute after
/// its FINGERPRINT.
fn check_from_a(after: bool) -> Vec<u8> {
    check("bbbb:aaaa", PWD_B, after)
}

fn check(username: &str, pwd: &str, after: bool) -> Vec<u8> {
    use crate::stun::{Attribute, Key, MessageBuilder, MessageType, TransactionId};
    let mut buf = Vec::new();
    let mut b = MessageBuilder::new(&mut buf, MessageType::BINDING_REQUEST, TransactionId([5; 12])).unwrap();
    b.add(Attribute::Username(username)).unwrap();
    b.add(Attribute::Priority(priority(CandidateKind::PeerReflexive, 65_535, 1))).unwrap();
    b.add(Attribute::IceControlling(7)).unwrap();
    b.message_integrity(&Key::short_term(pwd)).unwrap();
    b.fingerprint().unwrap();
    if after {
        b.add(Attribute::Software("after the fingerprint")).unwrap();
    }
    b.finish();
    buf
}

#[test]
fn keepalives_count_only_on_validated_pairs() {
    use crate::PathMachine;
    for lite in [false, true] {
        let (mut a, mut b) = two_agents(lite);
        let now = connect(&mut a, &mut b);
        let _ = (events(&mut b), transmits(&mut b));
        // An indication carries no integrity: from anywhere but a validated pair it is junk, and an `Ok`
        // would tell a caller routing by USERNAME that the foreign address belongs to this agent.
        let keepalive = indication(false);
        assert_eq!(b.handle_receive(now, datagram(FOREIGN, AT_B, &keepalive)), Err(IceError::UnvalidatedSource));
        assert_eq!(b.stats().discarded.unvalidated_source, 1);
        assert_eq!(b.handle_receive(now, datagram(AT_A, AT_B, &keepalive)), Ok(()), "the peer's keepalive counts");
        assert!(events(&mut b).is_empty() && transmits(&mut b).is_empty());
    }
    // Before any check, not even the peer's address is validated.
    let (_, mut b) = two_agents(true);
    let keepalive = indication(false);
    assert_eq!(
        b.handle_receive(crate::Instant::ZERO, datagram(AT_A, AT_B, &keepalive)),
        Err(IceError::UnvalidatedSource)
    );
}

#[test]
fn a_fingerprint_not_last_is_dropped() {
    use crate::PathMachine;
    // A check that would authenticate, but with an attribute after its FINGERPRINT (RFC 8489 §14.7: it is
    // the last one): dropped, not answered, no peer-reflexive candidate learnt.
    let (_, mut b) = two_agents(true);
    let now = crate::Instant::ZERO;
    let check = check_from_a(true);
    assert_eq!(b.handle_receive(now, datagram(FOREIGN, AT_B, &check)), Err(IceError::BadFingerprint));
    assert!(transmits(&mut b).is_empty());
    assert_eq!(b.remote_candidates().len(), 1);
    assert_eq!(b.stats().checks_received, 0);
    // The same check as sent is taken.
    assert_eq!(b.handle_receive(now, datagram(FOREIGN, AT_B, &check_from_a(false))), Ok(()));
    assert_eq!(b.remote_candidates().len(), 2);

    // A keepalive from the selected remote with a misplaced FINGERPRINT is dropped as well.
    let (mut a, mut b) = two_agents(false);
    let now = connect(&mut a, &mut b);
    assert_eq!(b.handle_receive(now, datagram(AT_A, AT_B, &indication(true))), Err(IceError::BadFingerprint));
    assert_eq!(b.stats().discarded.bad_fingerprint, 1);
}

#[test]
fn a_dropped_datagram_sends_nothing_and_moves_no_timer() {
    use crate::{Machine, PathMachine};
    // `a` checks two remote candidates, one per pacing interval.
    let (mut a, _) = two_agents(false);
    let second = Candidate::remote(
        CandidateKind::Host,
        at("10.0.0.3:6000"),
        priority(CandidateKind::Host, 65_000, 1),
        Foundation::from_number(9),
    );
    a.add_remote_candidate(crate::Instant::ZERO, second).unwrap();
    assert_eq!(transmits(&mut a).len(), 1, "the first check");
    let due = a.poll_timeout().unwrap();
    let pairs = |a: &IceAgent| a.pairs().map(|(l, r, s, n)| (l.base, r.address, s, n)).collect::<Vec<_>>();
    let before = (pairs(&a), a.state(), a.stats().checks_sent);
    // Junk arrives when the next check is due, before the caller fires the timer: it is dropped and
    // counted, and the check still waits for `handle_timeout`.
    let bad_password = check("aaaa:bbbb", "not the password of aaaa", false);
    for contents in [&bad_password[..], &indication(false)[..], &[0x00, 0x01, 0x00][..]] {
        assert!(a.handle_receive(due, datagram(FOREIGN, AT_A, contents)).is_err());
        assert!(transmits(&mut a).is_empty(), "no check paced by junk");
        assert!(events(&mut a).is_empty());
        assert_eq!(a.poll_timeout(), Some(due));
        assert_eq!((pairs(&a), a.state(), a.stats().checks_sent), before);
    }
    assert_eq!(a.stats().discarded.total(), 3);
    a.handle_timeout(due);
    assert_eq!(transmits(&mut a).len(), 1, "the timer sends the second check");
}

#[test]
fn queued_transmits_are_announced_by_poll_timeout() {
    use crate::Machine;
    let mut a = IceAgent::new(Config::default(), SeededRng::from_seed([1; 32]));
    let now = crate::Instant::from_secs(5);
    let local: SocketAddr = "10.0.0.1:5000".parse().unwrap();
    a.add_local_host(now, local).unwrap();
    let _ = events(&mut a);
    assert!(a.poll_timeout().is_none_or(|t| t > now));
    // Gathering from a STUN server queues a request: owed now, and said so until it is taken.
    a.add_stun_server(now, "198.51.100.1:3478".parse().unwrap()).unwrap();
    assert_eq!(a.poll_timeout(), Some(now));
    let _ = events(&mut a);
    assert_eq!(a.poll_timeout(), Some(now), "taking events changes nothing");
    assert_eq!(transmits(&mut a).len(), 1);
    assert!(a.poll_timeout().is_some_and(|t| t > now));
}

// ----- ICE-TCP (RFC 6544) and RFC 4571 framing -----

#[test]
fn tcp_priorities_follow_rfc6544_and_rank_below_udp() {
    // §4.2: local preference = 2^13 * direction-pref + other-pref; host active 6, passive 4.
    let p = tcp_priority(CandidateKind::Host, TcpType::Passive, 8191, 1);
    assert_eq!(p, (90 << 24) | (((4 << 13) + 8191) << 8) | 255);
    assert_eq!(tcp_priority(CandidateKind::Host, TcpType::Active, 0, 1), (90 << 24) | ((6 << 13) << 8) | 255);
    // Server-reflexive: S-O 6, active 4, passive 2.
    assert_eq!(TcpType::SimultaneousOpen.direction_preference(CandidateKind::ServerReflexive), 6);
    assert_eq!(TcpType::Passive.direction_preference(CandidateKind::ServerReflexive), 2);
    // Every TCP candidate but relays is below every UDP one but relays.
    let best_tcp = tcp_priority(CandidateKind::Host, TcpType::Active, 8191, 1);
    assert!(best_tcp < priority(CandidateKind::ServerReflexive, 0, 1));
    assert!(
        tcp_priority(CandidateKind::ServerReflexive, TcpType::Passive, 0, 1)
            > priority(CandidateKind::Relay, 65_535, 1)
    );
    // Out-of-range other-preference is clamped to its 13 bits.
    assert_eq!(tcp_priority(CandidateKind::Host, TcpType::Active, 65_535, 1), best_tcp);
    let order = [tcp_other_preference(true, 0), tcp_other_preference(false, 0), tcp_other_preference(false, 1)];
    assert!(order.windows(2).all(|w| w[0] > w[1]));
    assert_eq!(tcp_other_preference(false, 60_000), 0);
}

#[test]
fn tcp_candidates_are_declared_advertised_and_paired_by_direction() {
    let now = crate::Instant::ZERO;
    let mut a = IceAgent::new(Config { role: Role::Controlling, ..Config::default() }, SeededRng::from_seed([1; 32]));
    let udp: SocketAddr = "10.0.0.2:6000".parse().unwrap();
    let active: SocketAddr = "10.0.0.2:9".parse().unwrap();
    let passive: SocketAddr = "10.0.0.2:443".parse().unwrap();
    a.add_local_host(now, udp).unwrap();
    let act = a.add_local_tcp(now, active, TcpType::Active).unwrap();
    assert_eq!(act.address.port(), 9);
    assert_eq!(act.transport, Transport::Tcp(TcpType::Active));
    assert!(act.to_string().ends_with("10.0.0.2 9 typ host tcptype active"), "{act}");
    assert!(act.to_string().contains(" 1 tcp "), "{act}");
    let pas = a.add_local_tcp(now, passive, TcpType::Passive).unwrap();
    assert!(pas.to_string().ends_with("10.0.0.2 443 typ host tcptype passive"), "{pas}");
    assert!(pas.priority < act.priority, "active is preferred (§4.2)");
    assert_ne!(pas.foundation, a.local_candidates()[0].foundation, "TCP and UDP foundations differ");
    // A base names one socket.
    assert_eq!(a.add_local_tcp(now, udp, TcpType::Passive), Err(ApiError::Duplicate));
    assert_eq!(a.add_local_host(now, passive), Err(ApiError::Duplicate));
    assert_eq!(
        a.add_local_tcp(now, "10.0.0.2:1".parse().unwrap(), TcpType::SimultaneousOpen),
        Err(ApiError::InvalidCandidate)
    );

    let b = IceAgent::new(Config { role: Role::Controlled, ..Config::default() }, SeededRng::from_seed([2; 32]));
    a.set_remote_credentials(b.local_credentials().clone());
    let f = Foundation::new("1").unwrap();
    let r_udp = Candidate::remote(CandidateKind::Host, "10.0.0.1:5000".parse().unwrap(), 2_000_000_000, f);
    let r_passive = Candidate::remote(CandidateKind::Host, "10.0.0.1:443".parse().unwrap(), 1_500_000_000, f)
        .with_transport(Transport::Tcp(TcpType::Passive));
    let r_active = Candidate::remote(CandidateKind::Host, "10.0.0.1:9".parse().unwrap(), 1_600_000_000, f)
        .with_transport(Transport::Tcp(TcpType::Active));
    // A TCP candidate at the address of a UDP one is another candidate.
    let r_same = Candidate::remote(CandidateKind::Host, "10.0.0.1:5000".parse().unwrap(), 1_400_000_000, f)
        .with_transport(Transport::Tcp(TcpType::Passive));
    for c in [r_udp, r_passive, r_active, r_same] {
        a.add_remote_candidate(now, c).unwrap();
    }
    let mut pairs: Vec<(SocketAddr, SocketAddr)> = a.pairs().map(|(l, r, _, _)| (l.base, r.address)).collect();
    pairs.sort();
    // UDP with UDP; the active base with both passive candidates; nothing from the passive base, nothing
    // to the remote active one.
    let mut want: Vec<(SocketAddr, SocketAddr)> = vec![
        (udp, "10.0.0.1:5000".parse().unwrap()),
        (active, "10.0.0.1:443".parse().unwrap()),
        (active, "10.0.0.1:5000".parse().unwrap()),
    ];
    want.sort();
    assert_eq!(pairs, want);
}

#[test]
fn rfc4571_decoder_reassembles_byte_by_byte() {
    let mut stream = Vec::new();
    assert!(framing::emit_frame(&mut stream, b"hello"));
    assert!(framing::emit_frame(&mut stream, &[7u8; 1500]));
    assert!(framing::emit_frame(&mut stream, b"x"));
    assert!(!framing::emit_frame(&mut stream, &vec![0u8; 65_536]));
    assert_eq!(framing::frame_header(65_535), Some([0xFF, 0xFF]));
    let mut d = framing::FrameDecoder::new(2048);
    let mut got: Vec<Vec<u8>> = Vec::new();
    for b in &stream {
        assert_eq!(d.push(core::slice::from_ref(b)), 1);
        while let Some(f) = d.next_frame() {
            got.push(f.to_vec());
        }
        assert!(d.buffered() <= 2 + 2048);
    }
    assert_eq!(got, vec![b"hello".to_vec(), vec![7u8; 1500], b"x".to_vec()]);
    assert_eq!(d.stats().frames, 3);
    assert_eq!(d.buffered(), 0);
}

#[test]
fn rfc4571_decoder_skips_lying_lengths_and_stays_bounded() {
    let mut d = framing::FrameDecoder::new(100);
    // A frame claiming 60,000 bytes, then a good one after those bytes, then an empty frame.
    let mut stream = vec![0xEA, 0x60];
    stream.extend(core::iter::repeat_n(0xAAu8, 60_000));
    framing::emit_frame(&mut stream, b"ok");
    stream.extend_from_slice(&[0, 0]);
    framing::emit_frame(&mut stream, b"next");
    let mut got: Vec<Vec<u8>> = Vec::new();
    let mut rest: &[u8] = &stream;
    let mut max_buffered = 0;
    while !rest.is_empty() {
        let n = d.push(rest.get(..4096.min(rest.len())).unwrap());
        rest = &rest[n..];
        max_buffered = max_buffered.max(d.buffered());
        while let Some(f) = d.next_frame() {
            got.push(f.to_vec());
        }
    }
    assert_eq!(got, vec![b"ok".to_vec(), b"next".to_vec()]);
    let s = d.stats();
    assert_eq!((s.frames, s.oversized, s.empty, s.bytes_skipped), (2, 1, 1, 60_000));
    assert!(max_buffered <= 102, "{max_buffered}");

    // A peer that never completes a frame holds at most 2 + max_frame bytes; a reset forgets them.
    let mut d = framing::FrameDecoder::new(100);
    assert_eq!(d.push(&[0, 100]), 2);
    assert_eq!(d.push(&[1u8; 500]), 100);
    assert_eq!(d.push(&[1u8; 500]), 0);
    assert_eq!(d.buffered(), 102);
    assert_eq!(d.next_frame().map(<[u8]>::len), Some(100));
    d.push(&[0, 50, 1]);
    assert!(d.next_frame().is_none());
    d.reset();
    assert_eq!(d.buffered(), 0);
    d.push(&[0, 1, 9]);
    assert_eq!(d.next_frame(), Some(&[9u8][..]));
}
