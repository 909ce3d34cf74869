//! Bad input to the ICE agent: dropped, counted, no state change, no panic.

use core::net::SocketAddr;

use sansrtc::ice::{
    Candidate, CandidateKind, Config, Credentials, Foundation, IceAgent, IceConnectionState, IceError, PairState, Role,
};
use sansrtc::stun::{Attribute, Class, Key, Message, MessageBuilder, MessageType, TransactionId};
use sansrtc::{Datagram, Instant, Machine, PathMachine, SeededRng};

const A: &str = "10.0.0.1:5000";
const B: &str = "10.0.0.2:6000";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn creds_b() -> Credentials {
    Credentials::new("bbbb", "bbbbbbbbbbbbbbbbbbbbbbbbbb").unwrap()
}

/// Agent A (controlled, so it waits) with one host, knowing B's credentials and candidate.
fn agent() -> IceAgent {
    let cfg = Config {
        role: Role::Controlled,
        local_credentials: Some(Credentials::new("aaaa", "aaaaaaaaaaaaaaaaaaaaaaaaaa").unwrap()),
        ..Config::default()
    };
    let mut a = IceAgent::new(cfg, SeededRng::from_seed([1; 32]));
    a.add_local_host(Instant::ZERO, addr(A)).unwrap();
    a.set_remote_credentials(creds_b());
    a.add_remote_candidate(
        Instant::ZERO,
        Candidate::remote(CandidateKind::Host, addr(B), 2_130_706_175, Foundation::new("1").unwrap()),
    )
    .unwrap();
    while a.poll_event().is_some() {}
    a
}

/// A check from B to A, optionally spoiled.
fn request(username: &[u8], pwd: &[u8], fingerprint: bool) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut b = MessageBuilder::new(&mut buf, MessageType::BINDING_REQUEST, TransactionId([7; 12])).unwrap();
    b.add(Attribute::Username(core::str::from_utf8(username).unwrap()))
        .unwrap()
        .add(Attribute::Priority(1_845_501_695))
        .unwrap()
        .add(Attribute::IceControlling(5))
        .unwrap()
        .message_integrity(&Key::from_bytes(pwd))
        .unwrap();
    if fingerprint {
        b.fingerprint().unwrap();
    }
    b.finish();
    buf
}

fn feed(a: &mut IceAgent, bytes: &[u8], from: &str, to: &str) -> Result<(), IceError> {
    a.handle_receive(Instant::from_millis(1), Datagram { source: addr(from), destination: addr(to), contents: bytes })
}

/// What must not change when bad input is dropped.
fn snapshot(a: &IceAgent) -> (usize, Vec<(SocketAddr, PairState)>, IceConnectionState, u64, u64) {
    let s = a.stats();
    (
        a.remote_candidates().len(),
        a.pairs().map(|(_, r, st, _)| (r.address, st)).collect(),
        a.state(),
        s.checks_received,
        s.responses_sent,
    )
}

fn drain(a: &mut IceAgent) -> usize {
    let mut n = 0;
    while a.poll_transmit().is_some() {
        n += 1;
    }
    n
}

#[test]
fn a_good_request_is_answered() {
    let mut a = agent();
    drain(&mut a);
    feed(&mut a, &request(b"aaaa:bbbb", b"aaaaaaaaaaaaaaaaaaaaaaaaaa", true), B, A).unwrap();
    let t = a.poll_transmit().unwrap();
    assert_eq!((t.source, t.destination), (addr(A), addr(B)));
    let m = Message::new_checked(t.contents).unwrap();
    assert_eq!(m.class(), Class::Success);
    assert_eq!(m.transaction_id(), TransactionId([7; 12]));
    assert_eq!(m.xor_mapped_address(), Some(addr(B)));
    assert!(m.verify_integrity(&Key::short_term("aaaaaaaaaaaaaaaaaaaaaaaaaa")).is_ok());
    assert!(m.verify_fingerprint().is_ok());
    assert_eq!(a.stats().checks_received, 1);
}

#[test]
fn wrong_integrity_unknown_username_bad_fingerprint_are_dropped() {
    let mut a = agent();
    drain(&mut a);
    let before = snapshot(&a);
    let good = request(b"aaaa:bbbb", b"aaaaaaaaaaaaaaaaaaaaaaaaaa", true);
    let mut bad_fp = good.clone();
    let n = bad_fp.len();
    bad_fp[n - 1] ^= 0xff;
    let cases: [(Vec<u8>, IceError); 5] = [
        (request(b"aaaa:bbbb", b"not the password at all!!!", true), IceError::BadIntegrity),
        (request(b"zzzz:bbbb", b"aaaaaaaaaaaaaaaaaaaaaaaaaa", true), IceError::UnknownUsername),
        (request(b"aaaab:bbbb", b"aaaaaaaaaaaaaaaaaaaaaaaaaa", true), IceError::UnknownUsername),
        (bad_fp, IceError::BadFingerprint),
        (request(b"aaaa:bbbb", b"aaaaaaaaaaaaaaaaaaaaaaaaaa", false), IceError::BadFingerprint),
    ];
    for (bytes, want) in &cases {
        assert_eq!(feed(&mut a, bytes, B, A), Err(*want));
        // From an unknown address too: no peer-reflexive candidate is learnt from a bad check.
        assert_eq!(feed(&mut a, bytes, "10.9.9.9:9", A), Err(*want));
    }
    assert_eq!(drain(&mut a), 0, "nothing answered");
    assert_eq!(snapshot(&a), before);
    let d = a.stats().discarded;
    assert_eq!((d.bad_integrity, d.unknown_username, d.bad_fingerprint), (2, 4, 4));
    assert!(a.poll_event().is_none());
}

#[test]
fn requests_to_an_undeclared_local_address_are_dropped() {
    let mut a = agent();
    drain(&mut a);
    let good = request(b"aaaa:bbbb", b"aaaaaaaaaaaaaaaaaaaaaaaaaa", true);
    assert_eq!(feed(&mut a, &good, B, "10.0.0.1:5999"), Err(IceError::UnknownLocalAddress));
    assert_eq!(drain(&mut a), 0);
}

#[test]
fn responses_with_unknown_transactions_or_from_elsewhere_are_dropped() {
    let mut b = IceAgent::new(
        Config { role: Role::Controlling, local_credentials: Some(creds_b()), ..Config::default() },
        SeededRng::from_seed([2; 32]),
    );
    b.add_local_host(Instant::ZERO, addr(B)).unwrap();
    b.set_remote_credentials(Credentials::new("aaaa", "aaaaaaaaaaaaaaaaaaaaaaaaaa").unwrap());
    b.add_remote_candidate(
        Instant::ZERO,
        Candidate::remote(CandidateKind::Host, addr(A), 2_130_706_175, Foundation::new("1").unwrap()),
    )
    .unwrap();
    // B's first check to A.
    let t = b.poll_transmit().unwrap();
    assert_eq!((t.source, t.destination), (addr(B), addr(A)));
    let check = Message::new_checked(t.contents).unwrap();
    let txn = check.transaction_id().0;
    assert_eq!(check.username(), Some("aaaa:bbbb"));
    assert!(check.verify_integrity(&Key::short_term("aaaaaaaaaaaaaaaaaaaaaaaaaa")).is_ok());
    assert!(check.verify_fingerprint().is_ok());
    assert!(check.ice_role().is_some_and(|r| r.0) && check.priority().is_some());
    let states = |b: &IceAgent| b.pairs().map(|x| x.2).collect::<Vec<_>>();
    assert_eq!(states(&b), [PairState::InProgress]);

    let response = |txn: [u8; 12], pwd: &[u8]| {
        let mut buf = Vec::new();
        let mut b = MessageBuilder::new(&mut buf, MessageType::BINDING_SUCCESS, TransactionId(txn)).unwrap();
        b.add(Attribute::XorMappedAddress(addr(B))).unwrap();
        b.message_integrity(&Key::from_bytes(pwd)).unwrap().fingerprint().unwrap();
        b.finish();
        buf
    };
    let good = response(txn, b"aaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_eq!(
        feed(&mut b, &response([9; 12], b"aaaaaaaaaaaaaaaaaaaaaaaaaa"), A, B),
        Err(IceError::UnknownTransaction)
    );
    assert_eq!(feed(&mut b, &good, "10.0.0.3:5000", B), Err(IceError::UnexpectedSource));
    assert_eq!(feed(&mut b, &good, A, "10.0.0.2:6001"), Err(IceError::UnexpectedSource));
    assert_eq!(feed(&mut b, &response(txn, b"wrong password wrong pass!"), A, B), Err(IceError::BadIntegrity));
    assert_eq!(states(&b), [PairState::InProgress], "no state change");
    assert_eq!(b.stats().responses_received, 0);
    // The genuine answer still completes the check.
    assert_eq!(feed(&mut b, &good, A, B), Ok(()));
    assert_eq!(states(&b)[0], PairState::Succeeded);
    // A replay of it is now an unknown transaction.
    assert_eq!(feed(&mut b, &good, A, B), Err(IceError::UnknownTransaction));
    let d = b.stats().discarded;
    assert_eq!((d.unknown_transaction, d.unexpected_source, d.bad_integrity), (2, 2, 1));
}

#[test]
fn garbage_never_panics_and_is_counted() {
    let mut a = agent();
    let mut rng = SeededRng::from_seed([3; 32]);
    let good = request(b"aaaa:bbbb", b"aaaaaaaaaaaaaaaaaaaaaaaaaa", true);
    let mut errors = 0;
    for i in 0..5_000u32 {
        let mut bytes = good.clone();
        // Flip a few random bytes, or truncate, or random junk with a STUN-looking first byte.
        match i % 3 {
            0 => {
                for _ in 0..1 + rng.below(4) {
                    let at = rng.below(bytes.len() as u64) as usize;
                    bytes[at] = rng.u32() as u8;
                }
            }
            1 => bytes.truncate(rng.below(bytes.len() as u64) as usize),
            _ => {
                bytes = (0..rng.below(120)).map(|_| rng.u32() as u8).collect();
                if let Some(b) = bytes.first_mut() {
                    *b &= 0x03;
                }
            }
        }
        if feed(&mut a, &bytes, B, A).is_err() {
            errors += 1;
        }
        drain(&mut a);
    }
    assert!(errors > 4_000, "{errors}");
    assert_eq!(a.stats().discarded.total(), errors);
    assert!(a.remote_candidates().len() <= Config::default().max_remote_candidates);
}

#[test]
fn aggressive_nomination_is_accepted_by_the_controlled_side() {
    use sansrtc::ice::IceEvent;
    let mut a = agent();
    drain(&mut a);
    // B (controlling) nominates aggressively: USE-CANDIDATE in its very first check.
    let mut req = Vec::new();
    let mut b = MessageBuilder::new(&mut req, MessageType::BINDING_REQUEST, TransactionId([8; 12])).unwrap();
    b.add(Attribute::Username("aaaa:bbbb")).unwrap();
    b.add(Attribute::Priority(1_845_501_695)).unwrap();
    b.add(Attribute::IceControlling(5)).unwrap();
    b.add(Attribute::UseCandidate).unwrap();
    b.message_integrity(&Key::short_term("aaaaaaaaaaaaaaaaaaaaaaaaaa")).unwrap().fingerprint().unwrap();
    b.finish();
    feed(&mut a, &req, B, A).unwrap();
    assert!(a.selected_pair().is_none(), "not before A's own check of the pair succeeds (RFC 8445 §7.3.1.5)");
    // A answers, then its triggered check goes out.
    let mut check = None;
    let mut now = Instant::from_millis(1);
    for _ in 0..10 {
        while let Some(t) = a.poll_transmit() {
            let m = Message::new_checked(t.contents).unwrap();
            if m.class() == Class::Request {
                check = Some(m.transaction_id());
            }
        }
        if check.is_some() {
            break;
        }
        now = a.poll_timeout().unwrap_or(now).max(now);
        a.handle_timeout(now);
    }
    let txn = check.expect("a triggered check");
    let mut resp = Vec::new();
    let mut b = MessageBuilder::new(&mut resp, MessageType::BINDING_SUCCESS, txn).unwrap();
    b.add(Attribute::XorMappedAddress(addr(A))).unwrap();
    b.message_integrity(&Key::short_term("bbbbbbbbbbbbbbbbbbbbbbbbbb")).unwrap().fingerprint().unwrap();
    b.finish();
    a.handle_receive(now, Datagram { source: addr(B), destination: addr(A), contents: &resp }).unwrap();
    let (l, r) = a.selected_pair().expect("nominated pair selected");
    assert_eq!((l.base, r.address), (addr(A), addr(B)));
    let events: Vec<IceEvent> = core::iter::from_fn(|| a.poll_event()).collect();
    assert!(events.iter().any(|e| matches!(e, IceEvent::SelectedPairChanged { .. })));
    assert!(events.contains(&IceEvent::StateChanged(IceConnectionState::Connected)));
}
