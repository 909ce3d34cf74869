use core::net::SocketAddr;

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
    let _ = FoundationKey { kind: CandidateKind::Host, base_ip: "1.2.3.4".parse().unwrap(), server_ip: None };
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
