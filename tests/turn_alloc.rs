//! Relaying peer data through a warmed-up TURN client allocates nothing: Send indications and Data
//! indications before a channel, ChannelData after, in both directions. A counting global allocator
//! (`stats_alloc`) watches the calls. One test in this file so no other test thread allocates meanwhile.

use core::net::SocketAddr;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;

use sansrtc::stun::{Attribute, Class, ErrorCode, Key, Message, MessageBuilder, MessageType, Method, TransactionId};
use sansrtc::turn::{TurnClient, TurnConfig, TurnEvent};
use sansrtc::{Datagram, Instant, Machine, PathMachine, SeededRng};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const REALM: &str = "sansrtc.test";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

/// The server's answer to the request the client just sent.
fn answer(c: &mut TurnClient, class: Class, attrs: &[Attribute<'_>], sign: bool) {
    let request = c.poll_transmit().map(|t| t.contents.to_vec()).expect("a request");
    let req = Message::new_checked(&request[..]).expect("request");
    let mut out = Vec::new();
    let mut b = MessageBuilder::response(&mut out, &req, class).expect("response");
    for a in attrs {
        b.add(*a).expect("attribute");
    }
    if sign {
        b.message_integrity(&Key::long_term("user", REALM, "pass")).expect("integrity");
    }
    b.finish();
    let (server, local) = (c.server(), c.local());
    c.handle_receive(Instant::ZERO, Datagram { source: server, destination: local, contents: &out }).expect("accepted");
}

fn data_indication(peer: SocketAddr, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let typ = MessageType::new(Method::DATA, Class::Indication);
    let mut b = MessageBuilder::new(&mut out, typ, TransactionId([3; 12])).expect("header");
    b.add(Attribute::XorPeerAddress(peer)).expect("peer");
    b.add(Attribute::Data(data)).expect("data");
    b.finish();
    out
}

/// One round: send to the peer, receive from it (`incoming` is what the server delivers).
fn round(c: &mut TurnClient, peer: SocketAddr, incoming: &[u8]) -> (usize, usize) {
    let now = Instant::ZERO;
    c.send_to(now, peer, &[0x55; 200]).expect("send");
    let sent = c.poll_transmit().map(|t| t.contents.len()).unwrap_or(0);
    let (server, local) = (c.server(), c.local());
    c.handle_receive(now, Datagram { source: server, destination: local, contents: incoming }).expect("peer data");
    let got = c.poll_data().map(|(_, d)| d.len()).unwrap_or(0);
    (sent, got)
}

#[test]
fn relaying_allocates_nothing_once_warm() {
    let (server, local, peer) = (addr("198.51.100.1:3478"), addr("192.0.2.10:50000"), addr("203.0.113.7:6000"));
    let mut c = TurnClient::new(TurnConfig::new(server, local, "user", "pass"), SeededRng::from_seed([1; 32]));
    c.allocate(Instant::ZERO);
    let challenge = [
        Attribute::ErrorCode(ErrorCode { code: 401, reason: "Unauthorized" }),
        Attribute::Realm(REALM),
        Attribute::Nonce("n0"),
    ];
    answer(&mut c, Class::Error, &challenge, false);
    let relayed = addr("198.51.100.1:49152");
    answer(&mut c, Class::Success, &[Attribute::XorRelayedAddress(relayed), Attribute::Lifetime(600)], true);
    c.create_permission(Instant::ZERO, peer.ip()).expect("permission");
    answer(&mut c, Class::Success, &[], true);
    while c.poll_event().is_some() {}

    // The counter works: one deliberate allocation is seen.
    let probe = Region::new(GLOBAL);
    let boxed = core::hint::black_box(Box::new(7u64));
    assert_eq!(probe.change().allocations, 1);
    drop(boxed);

    // Before a channel: Send and Data indications.
    let indication = data_indication(peer, &[0xAA; 300]);
    for _ in 0..4 {
        assert_eq!(round(&mut c, peer, &indication), (20 + 12 + 4 + 200, 300));
    }
    let region = Region::new(GLOBAL);
    for _ in 0..100 {
        assert_eq!(round(&mut c, peer, &indication), (236, 300));
    }
    let stats = region.change();
    assert_eq!((stats.allocations, stats.reallocations), (0, 0), "indications: {stats:?}");

    // With a channel: ChannelData.
    c.bind_channel(Instant::ZERO, peer).expect("bind");
    answer(&mut c, Class::Success, &[], true);
    assert!(core::iter::from_fn(|| c.poll_event()).any(|e| e == TurnEvent::ChannelBound { peer, channel: 0x4000 }));
    let mut channel_data = vec![0x40, 0x00, 0x01, 0x2C];
    channel_data.extend_from_slice(&[0xBB; 300]);
    for _ in 0..4 {
        assert_eq!(round(&mut c, peer, &channel_data), (204, 300));
    }
    let region = Region::new(GLOBAL);
    for _ in 0..100 {
        assert_eq!(round(&mut c, peer, &channel_data), (204, 300));
    }
    let stats = region.change();
    assert_eq!((stats.allocations, stats.reallocations), (0, 0), "channel data: {stats:?}");
    assert_eq!(c.stats().data_received, 208);
}
