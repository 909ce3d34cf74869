//! The media path of a warm peer connection allocates nothing per packet, in both directions: `write_rtp`
//! (the RTP session's numbering and RTX history, header extensions, SRTP, the transmit queue), receiving
//! (routing, SRTP, the RTP session's statistics, NACK and transport-wide CC tracking, the `Bytes` the
//! event shares), and the session's reports, NACKs, RTX and feedback, measured with a counting global allocator. The application drops
//! each received packet before the next arrives, so the receive buffer is reused.

use std::alloc::System;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

use sansrtc::pc::{
    Config, ConnectionState, Direction, Event, ExtensionValue, MediaKind, OutgoingRtp, PeerConnection, TransceiverInit,
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
    let ids: Vec<_> = b.transceivers().map(|t| t.id()).collect();
    for id in ids {
        b.set_direction(now, id, Direction::SendRecv).unwrap();
    }
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
    let counts = core::cell::Cell::new((0usize, 0usize));
    // Media both ways every 10 ms, through each side's RTP session (NACK, RTX, transport-wide CC, reports
    // and statistics on): one video packet in 50 from each side is lost on the way, so the other NACKs
    // it and RTX answers; the sessions' timers (reports, NACK, feedback) fire as `poll_timeout` says.
    let step = |i: u32, now: Instant, a: &mut PeerConnection, b: &mut PeerConnection, buf: &mut Vec<u8>| {
        send(i, now, a, b, buf, &frame);
        send(i, now, b, a, buf, &frame);
        for pc in [&mut *a, &mut *b] {
            if pc.poll_timeout().is_some_and(|t| t <= now) {
                pc.handle_timeout(now);
            }
        }
        pump(now, a, b, buf);
        pump(now, b, a, buf);
        for pc in [&mut *a, &mut *b] {
            while let Some(e) = pc.poll_event() {
                if let Event::Rtp(p) = e {
                    assert_eq!(p.payload().len(), if p.mid == "0" { 160 } else { 1000 });
                    let (r, f) = counts.get();
                    counts.set((r + 1, f + usize::from(p.repaired)));
                }
            }
        }
    };
    // Warm up: the first packets make the SRTP and RTP sessions, the streams and the buffers, and fill
    // the retransmission histories to their bound (1024 packets).
    for i in 0..1200 {
        now += core::time::Duration::from_millis(10);
        step(i, now, &mut a, &mut b, &mut buf);
    }
    let before = counts.get();
    let region = Region::new(GLOBAL);
    for i in 1200..2200 {
        now += core::time::Duration::from_millis(10);
        step(i, now, &mut a, &mut b, &mut buf);
    }
    let stats = region.change();
    let (received, repaired) = (counts.get().0 - before.0, counts.get().1 - before.1);
    let (sa, sb) = (a.media_stats().unwrap(), b.media_stats().unwrap());
    println!(
        "4000 packets sent and received warm ({repaired} repaired by RTX; NACKs sent {} / {}, transport-wide \
         feedback {} / {}): {} allocations, {} bytes",
        sa.nacks_sent, sb.nacks_sent, sa.twcc_sent, sb.twcc_sent, stats.allocations, stats.bytes_allocated
    );
    // Lost packets come back repaired (the last few may still be on their way).
    assert!(received >= 4000 - 2 && repaired >= 38, "{received} received, {repaired} repaired");
    assert!(sa.twcc_received > 0 && sb.twcc_received > 0 && sa.reports_sent > 0, "{sa:?}");
    assert_eq!(stats.allocations + stats.reallocations, 0, "{stats:?}");
    // With pacing on (the default): every packet went through the pacer.
    for pc in [&a, &b] {
        assert!(pc.pacer().is_some_and(|p| p.stats().packets >= 4000), "{:?}", pc.pacer().map(|p| p.stats()));
    }
}

/// `from` sends an audio and a video packet to `to`; video packet 7 of every 50 is lost.
fn send(i: u32, now: Instant, from: &mut PeerConnection, to: &mut PeerConnection, buf: &mut Vec<u8>, frame: &[u8]) {
    let level = [ExtensionValue::AudioLevel { voice: true, level: 30 }];
    let audio = OutgoingRtp { extensions: &level, ..OutgoingRtp::new(111, i * 960, &frame[..160]) };
    from.write_rtp(now, "0", &audio).unwrap();
    pump(now, from, to, buf);
    let video = OutgoingRtp { marker: true, ..OutgoingRtp::new(96, i * 3000, frame) };
    from.write_rtp(now, "1", &video).unwrap();
    if i % 50 == 7 {
        while from.poll_transmit().is_some() {}
    }
    pump(now, from, to, buf);
}
