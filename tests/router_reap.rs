//! Abandoned sessions: offers answered and never followed by ICE are closed at the router's connect
//! timeout, reaped (one event each), and their memory given back, measured with a counting global
//! allocator: after a second round of sessions the live heap is back where the first round left it.

use std::alloc::System;

use core::time::Duration;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

use sansrtc::dtls::Certificate;
use sansrtc::pc::{ChannelOptions, Config, Description, PeerConnection};
use sansrtc::router::{self, Event, Reason, Router};
use sansrtc::stun::{Attribute, Class, MessageBuilder, MessageType, Method, TransactionId};
use sansrtc::{Datagram, Instant, SeededRng};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const SESSIONS: usize = 500;

fn seed(i: u64, salt: u8) -> SeededRng {
    let mut s = [salt; 32];
    s[..8].copy_from_slice(&i.to_le_bytes());
    SeededRng::from_seed(s)
}

/// Bytes allocated and not freed since the region began.
fn live(region: &Region<'_, System>) -> isize {
    let s = region.change();
    s.bytes_allocated as isize - s.bytes_deallocated as isize
}

/// `SESSIONS` connections answering `offer`, filed at `now`; none of them ever hears from its peer.
fn answer_all(router: &mut Router<PeerConnection>, now: Instant, offer: &Description, cert: &Certificate, round: u64) {
    for i in 0..SESSIONS as u64 {
        let mut config = Config::default();
        config.ice.lite = true;
        config.certificate = Some(cert.clone());
        let mut pc = PeerConnection::new(config, seed(round * 100_000 + i, 0x44));
        pc.add_local_host(now, "10.0.0.1:5000".parse().unwrap()).unwrap();
        pc.end_of_local_candidates(now);
        pc.set_remote_description(now, offer).unwrap();
        let answer = pc.create_answer().unwrap();
        pc.set_local_description(now, &answer).unwrap();
        router.insert(now, pc).unwrap();
    }
}

/// The README loop with no datagram ever arriving, until every session is reaped; returns when that
/// happened and how many were reaped for not connecting.
fn run_until_reaped(router: &mut Router<PeerConnection>, mut now: Instant) -> (Instant, usize) {
    let mut reaped = 0;
    while !router.is_empty() {
        let next = router.poll_timeout().expect("a deadline while connections are held");
        now = now.max(next);
        router.handle_timeout(now);
        while router.poll_transmit().is_some() {}
        while let Some((_, event)) = router.poll_event() {
            if event == Event::Reaped(Reason::NotConnected) {
                reaped += 1;
            }
        }
    }
    (now, reaped)
}

#[test]
fn abandoned_sessions_are_reaped_at_the_connect_timeout_and_their_memory_returns() {
    let cert = Certificate::generate(&mut seed(0, 1));
    let mut client = PeerConnection::new(Config::default(), seed(0, 2));
    let mut now = Instant::ZERO;
    client.add_local_host(now, "192.0.2.7:40000".parse().unwrap()).unwrap();
    client.end_of_local_candidates(now);
    client.create_data_channel(now, ChannelOptions::new("chat")).unwrap();
    let offer = client.create_offer().unwrap();

    let region = Region::new(GLOBAL);
    let timeout = Duration::from_secs(30);
    let config = router::Config { max_connections: SESSIONS, connect_timeout: timeout };
    let mut router = Router::new(config, seed(0, 3));

    // Round 1 grows the router's tables and queues to their working size.
    answer_all(&mut router, now, &offer, &cert, 1);
    assert!(router.is_full());
    let (end, reaped) = run_until_reaped(&mut router, now);
    assert_eq!(reaped, SESSIONS);
    assert_eq!(end, now + timeout, "reaped at the connect timeout, not before or later");
    now = end;
    let baseline = live(&region);
    let footprint = router.footprint();

    // Round 2: the same again; memory comes back to the baseline.
    answer_all(&mut router, now, &offer, &cert, 2);
    let held = live(&region) - baseline;
    assert!(held > SESSIONS as isize * 4096, "the sessions are counted ({held} bytes)");
    // Half-way through the timeout nothing is reaped.
    let half = now + timeout / 2;
    router.handle_timeout(half);
    while router.poll_transmit().is_some() {}
    while router.poll_event().is_some() {}
    assert_eq!(router.len(), SESSIONS);
    let (end, reaped) = run_until_reaped(&mut router, half);
    assert_eq!((reaped, end), (SESSIONS, now + timeout));
    assert_eq!(router.stats().not_connected, 2 * SESSIONS as u64);
    let after = live(&region);
    // Printed only now: captured output grows a buffer, which the counts would see.
    println!("router with no connection, after {SESSIONS}: {baseline} bytes live ({footprint} footprint)");
    println!("{SESSIONS} answered sessions: {} bytes each", held / SESSIONS as isize);
    println!("after reaping them: {after} bytes live (baseline {baseline})");
    assert!(after <= baseline, "{} bytes not given back", after - baseline);

    // Once warm, routing allocates nothing: checks for connections (which reject them: no integrity),
    // checks for unknown ufrags, and datagrams on unknown paths.
    answer_all(&mut router, now, &offer, &cert, 3);
    let keys: Vec<_> = router.keys().collect();
    let ufrags: Vec<String> = keys.iter().map(|k| router.get(*k).unwrap().local_ufrag().to_string()).collect();
    let mut rng = seed(5, 5);
    let mut checks: Vec<Vec<u8>> = ufrags.iter().map(|u| check(u, &mut rng)).collect();
    checks.push(check("unknown", &mut rng));
    checks.push(vec![23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9, 0, 1, 0]);
    let from = "192.0.2.7:40000".parse().unwrap();
    let to = "10.0.0.1:5000".parse().unwrap();
    let pass = |router: &mut Router<PeerConnection>| {
        for data in &checks {
            let r = router.handle_receive(now, Datagram { source: from, destination: to, contents: data });
            assert!(r.is_err());
        }
        while router.poll_transmit().is_some() {}
        while router.poll_event().is_some() {}
    };
    pass(&mut router);
    let before = region.change();
    pass(&mut router);
    let during = region.change();
    assert_eq!(
        during.allocations + during.reallocations,
        before.allocations + before.reallocations,
        "allocations while routing {} datagrams",
        checks.len()
    );
    assert_eq!(router.stats().rejected, 2 * SESSIONS as u64);
    drop(router);
}

/// A STUN binding request whose USERNAME starts with `ufrag` (no integrity).
fn check(ufrag: &str, rng: &mut SeededRng) -> Vec<u8> {
    let mut out = Vec::new();
    let typ = MessageType::new(Method::BINDING, Class::Request);
    let mut b = MessageBuilder::new(&mut out, typ, TransactionId::random(rng)).unwrap();
    b.add(Attribute::Username(&format!("{ufrag}:peer"))).unwrap();
    b.fingerprint().unwrap();
    b.finish();
    out
}
