//! The RED path allocates nothing per packet once warm: Opus packets written with `write_rtp` go out
//! wrapped in RED (two earlier payloads repeated, the encoder's buffers reused), and the receiver
//! unwraps them into Opus events, recovering the packets lost on the way from the next packets'
//! redundancy (the decoder remembers timestamps in a fixed array; the events share the decrypted
//! packet's buffer). Measured with a counting global allocator over 1,000 packets, one in ten lost.

use std::alloc::System;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

use sansrtc::pc::{Config, ConnectionState, Direction, Event, MediaKind, OutgoingRtp, PeerConnection, TransceiverInit};
use sansrtc::{Datagram, Instant, Machine, PathMachine, SeededRng};

/// Packets sent to warm up: the sessions, streams, RED encoder and decoder and buffers are made, and the
/// RTP session's retransmission history fills to its bound (1,024 packets).
const WARM: u32 = 1500;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Moves every datagram `from` has to `to` through one reused buffer (or drops them all with `lose`).
fn pump(now: Instant, from: &mut PeerConnection, to: &mut PeerConnection, buf: &mut Vec<u8>, lose: bool) {
    while let Some(t) = from.poll_transmit() {
        if lose {
            continue;
        }
        let (source, destination) = (t.source, t.destination);
        buf.clear();
        buf.extend_from_slice(t.contents);
        let _ = to.handle_receive(now, Datagram { source, destination, contents: buf });
    }
}

#[test]
fn warm_red_allocates_nothing() {
    let now = Instant::ZERO;
    let sender = Config { red_distance: 2, ..Config::default() };
    let mut a = PeerConnection::new(sender, SeededRng::from_seed([41; 32]));
    let mut b = PeerConnection::new(Config::default(), SeededRng::from_seed([42; 32]));
    a.add_local_host(now, "10.0.0.1:5000".parse().unwrap()).unwrap();
    b.add_local_host(now, "10.0.0.2:5000".parse().unwrap()).unwrap();
    a.end_of_local_candidates(now);
    b.end_of_local_candidates(now);
    a.add_transceiver(now, MediaKind::Audio, TransceiverInit::with_direction(Direction::SendOnly)).unwrap();
    let offer = a.create_offer().unwrap();
    a.set_local_description(now, &offer).unwrap();
    b.set_remote_description(now, &offer).unwrap();
    let answer = b.create_answer().unwrap();
    b.set_local_description(now, &answer).unwrap();
    a.set_remote_description(now, &answer).unwrap();
    assert!(answer.sdp.contains("a=rtpmap:63 red/48000/2"));
    let mut buf = Vec::with_capacity(2048);
    let mut now = now;
    for _ in 0..10_000 {
        pump(now, &mut a, &mut b, &mut buf, false);
        pump(now, &mut b, &mut a, &mut buf, false);
        while a.poll_event().is_some() {}
        while b.poll_event().is_some() {}
        if a.connection_state() == ConnectionState::Connected && b.connection_state() == ConnectionState::Connected {
            break;
        }
        now = [a.poll_timeout(), b.poll_timeout()].into_iter().flatten().min().unwrap().max(now);
        a.handle_timeout(now);
        b.handle_timeout(now);
    }
    assert_eq!(b.connection_state(), ConnectionState::Connected);

    let mut opus = vec![0x5au8; 120];
    opus[0] = 0x78; // Opus TOC: 20 ms, one frame
    let (delivered, recovered) = (core::cell::Cell::new(0u64), core::cell::Cell::new(0u64));
    let mut step = |i: u32, now: Instant, a: &mut PeerConnection, b: &mut PeerConnection, buf: &mut Vec<u8>| {
        opus[1..5].copy_from_slice(&i.to_be_bytes());
        a.write_rtp(now, "0", &OutgoingRtp::new(111, i * 960, &opus)).unwrap();
        pump(now, a, b, buf, i % 10 == 3);
        for pc in [&mut *a, &mut *b] {
            if pc.poll_timeout().is_some_and(|t| t <= now) {
                pc.handle_timeout(now);
            }
        }
        pump(now, a, b, buf, false);
        pump(now, b, a, buf, false);
        while a.poll_event().is_some() {}
        while let Some(e) = b.poll_event() {
            if let Event::Rtp(p) = e {
                assert_eq!((p.payload_type, p.payload().len()), (111, opus.len()));
                assert_eq!(p.payload()[1..5], (p.timestamp / 960).to_be_bytes());
                delivered.set(delivered.get() + 1);
                recovered.set(recovered.get() + u64::from(p.recovered));
            }
        }
    };
    for i in 0..WARM {
        now += core::time::Duration::from_millis(20);
        step(i, now, &mut a, &mut b, &mut buf);
    }
    let (before, recovered_before) = (delivered.get(), recovered.get());
    let region = Region::new(GLOBAL);
    for i in WARM..WARM + 1000 {
        now += core::time::Duration::from_millis(20);
        step(i, now, &mut a, &mut b, &mut buf);
    }
    let all = region.change();
    let got = delivered.get() - before;
    let saved = recovered.get() - recovered_before;
    println!(
        "1000 Opus packets in RED, one in ten lost: {got} delivered ({saved} recovered from redundancy); {} \
         allocations, {} bytes (sending, receiving, unwrapping, timers)",
        all.allocations + all.reallocations,
        all.bytes_allocated
    );
    assert_eq!(got, 1_000, "every packet delivered, the lost ones recovered");
    assert_eq!(saved, 100);
    assert_eq!(all.allocations + all.reallocations, 0, "{all:?}");
}
