//! The media path of a warm peer connection allocates nothing per packet: `write_rtp` (header, MID and
//! other extensions, SRTP, the transmit queue) on one side, and receiving (routing, SRTP, the `Bytes`
//! the event shares) on the other, measured with a counting global allocator. The application drops
//! each received packet before the next arrives, so the receive buffer is reused.

use std::alloc::System;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

use sansrtc::pc::{
    Config, ConnectionState, Event, ExtensionValue, MediaKind, OutgoingRtp, PeerConnection, TransceiverInit,
};
use sansrtc::{Datagram, Instant, Machine, PathMachine, SeededRng};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Moves every datagram `from` has to `to` through one reused buffer.
fn pump(now: Instant, from: &mut PeerConnection, to: &mut PeerConnection, buf: &mut Vec<u8>) -> bool {
    let mut moved = false;
    while let Some(t) = from.poll_transmit() {
        let (source, destination) = (t.source, t.destination);
        buf.clear();
        buf.extend_from_slice(t.contents);
        let _ = to.handle_receive(now, Datagram { source, destination, contents: buf });
        moved = true;
    }
    moved
}

#[test]
fn a_warm_media_path_allocates_nothing_per_packet() {
    let now = Instant::ZERO;
    let mut a = PeerConnection::new(Config::default(), SeededRng::from_seed([21; 32]));
    let mut b = PeerConnection::new(Config::default(), SeededRng::from_seed([22; 32]));
    a.add_local_host(now, "10.0.0.1:5000".parse().unwrap()).unwrap();
    b.add_local_host(now, "10.0.0.2:5000".parse().unwrap()).unwrap();
    a.end_of_local_candidates(now);
    b.end_of_local_candidates(now);
    a.add_transceiver(now, MediaKind::Audio, TransceiverInit::default()).unwrap();
    a.add_transceiver(now, MediaKind::Video, TransceiverInit::default()).unwrap();
    let offer = a.create_offer().unwrap();
    a.set_local_description(now, &offer).unwrap();
    b.set_remote_description(now, &offer).unwrap();
    let answer = b.create_answer().unwrap();
    b.set_local_description(now, &answer).unwrap();
    a.set_remote_description(now, &answer).unwrap();
    let mut buf = Vec::with_capacity(2048);
    let mut now = now;
    for _ in 0..10_000 {
        let moved = pump(now, &mut a, &mut b, &mut buf) | pump(now, &mut b, &mut a, &mut buf);
        while a.poll_event().is_some() {}
        while b.poll_event().is_some() {}
        if a.connection_state() == ConnectionState::Connected && b.connection_state() == ConnectionState::Connected {
            break;
        }
        if !moved {
            now = [a.poll_timeout(), b.poll_timeout()].into_iter().flatten().min().unwrap().max(now);
            a.handle_timeout(now);
            b.handle_timeout(now);
        }
    }
    assert_eq!(b.connection_state(), ConnectionState::Connected);

    let frame = vec![0x5a; 1000];
    let level = [ExtensionValue::AudioLevel { voice: true, level: 30 }, ExtensionValue::TransportWideCc(0)];
    let mut received = 0usize;
    let mut send = |i: u32, a: &mut PeerConnection, b: &mut PeerConnection, buf: &mut Vec<u8>| {
        let audio = OutgoingRtp { extensions: &level, ..OutgoingRtp::new(111, i * 960, &frame[..160]) };
        a.write_rtp(now, "0", &audio).unwrap();
        let video = OutgoingRtp { marker: true, ..OutgoingRtp::new(96, i * 3000, &frame) };
        a.write_rtp(now, "1", &video).unwrap();
        pump(now, a, b, buf);
        while let Some(e) = b.poll_event() {
            if let Event::Rtp(p) = e {
                assert_eq!(p.payload().len(), if p.mid == "0" { 160 } else { 1000 });
                received += 1;
            }
        }
    };
    // Warm up: the first packets make the SRTP session, the streams and the buffers.
    for i in 0..100 {
        send(i, &mut a, &mut b, &mut buf);
    }
    let region = Region::new(GLOBAL);
    for i in 100..1100 {
        send(i, &mut a, &mut b, &mut buf);
    }
    let stats = region.change();
    assert_eq!(received, 2200);
    println!("2000 packets sent and received warm: {} allocations, {} bytes", stats.allocations, stats.bytes_allocated);
    assert_eq!(stats.allocations + stats.reallocations, 0, "{stats:?}");
}
