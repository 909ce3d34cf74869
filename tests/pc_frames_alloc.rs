//! `PeerConnection::write_frame` on a warm connection allocates nothing per frame: the packetizers are
//! kept and their buffers reused, and each payload goes through `write_rtp`'s allocation-free path.
//! Measured with a counting global allocator over VP8 frames of a steady size and Opus packets, the
//! receiver taking every packet (and dropping it before the next arrives, so its buffer is reused) and
//! putting the frames back together with a `FrameAssembler` each for audio and video.

use std::alloc::System;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

use sansrtc::pc::{
    Config, ConnectionState, Direction, Event, ExtensionValue, FrameAssembler, MediaKind, OutgoingFrame,
    PeerConnection, TransceiverInit,
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

/// Frames sent to warm up: the estimator climbs from its 300 kbit/s start on this lossless link until
/// the pacer lets a whole frame go at once, which takes the ICE transmit queue to its steady depth.
const WARM: u32 = 600;
/// The frame interval.
const FRAME: core::time::Duration = core::time::Duration::from_millis(20);

#[test]
fn warm_frames_allocate_nothing() {
    let now = Instant::ZERO;
    let mut a = PeerConnection::new(Config::default(), SeededRng::from_seed([31; 32]));
    let mut b = PeerConnection::new(Config::default(), SeededRng::from_seed([32; 32]));
    a.add_local_host(now, "10.0.0.1:5000".parse().unwrap()).unwrap();
    b.add_local_host(now, "10.0.0.2:5000".parse().unwrap()).unwrap();
    a.end_of_local_candidates(now);
    b.end_of_local_candidates(now);
    let send = TransceiverInit::with_direction(Direction::SendOnly);
    a.add_transceiver(now, MediaKind::Audio, send.clone()).unwrap();
    a.add_transceiver(now, MediaKind::Video, send).unwrap();
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

    let video: Vec<u8> = (0..5_000u32).map(|i| (i * 7) as u8).collect();
    let mut audio = vec![0x5au8; 160];
    audio[0] = 0x78; // Opus TOC: 20 ms, one frame
    let level = [ExtensionValue::AudioLevel { voice: true, level: 30 }];
    // Allocations inside write_frame, packets received, frames assembled whole.
    let write_allocs = core::cell::Cell::new(0u64);
    let received = core::cell::Cell::new(0usize);
    let frames = core::cell::Cell::new(0usize);
    let mut audio_frames = FrameAssembler::new(b.transceiver_by_mid("0").unwrap().codecs());
    let mut video_frames = FrameAssembler::new(b.transceiver_by_mid("1").unwrap().codecs());
    let mut step = |i: u32, now: Instant, a: &mut PeerConnection, b: &mut PeerConnection, buf: &mut Vec<u8>| {
        let region = Region::new(GLOBAL);
        let sent_audio =
            a.write_frame(now, "0", &OutgoingFrame { extensions: &level, ..OutgoingFrame::new(i * 960, &audio) });
        let sent_video = a.write_frame(now, "1", &OutgoingFrame::new(i * 1_800, &video));
        let c = region.change();
        write_allocs.set(write_allocs.get() + (c.allocations + c.reallocations) as u64);
        assert_eq!(sent_audio.unwrap().packets, 1);
        assert_eq!(sent_video.unwrap().packets, 5);
        // The README loop until the next frame: the pacer spreads the frame's packets over the interval.
        let mut t = now;
        loop {
            pump(t, a, b, buf);
            pump(t, b, a, buf);
            let wake = [a.poll_timeout(), b.poll_timeout()].into_iter().flatten().min().unwrap();
            if wake >= now + FRAME {
                break;
            }
            t = wake.max(t);
            a.handle_timeout(t);
            b.handle_timeout(t);
        }
        while a.poll_event().is_some() {}
        while let Some(e) = b.poll_event() {
            if let Event::Rtp(p) = e {
                received.set(received.get() + 1);
                assert!(p.payload().len() <= 1_200);
                let assembler = if p.mid == "0" { &mut audio_frames } else { &mut video_frames };
                if let Some(f) = assembler.push(&p) {
                    assert_eq!(f.data, if p.mid == "0" { &audio[..] } else { &video[..] });
                    frames.set(frames.get() + 1);
                }
            }
        }
    };
    // Warm up: the sessions, streams, packetizers and buffers are made, and the RTX history fills to its
    // bound (1024 packets).
    for i in 0..WARM {
        now += FRAME;
        step(i, now, &mut a, &mut b, &mut buf);
    }
    let warm_writes = write_allocs.get();
    let before = received.get();
    let frames_before = frames.get();
    let region = Region::new(GLOBAL);
    for i in WARM..WARM + 1000 {
        now += FRAME;
        step(i, now, &mut a, &mut b, &mut buf);
    }
    let all = region.change();
    let writes = write_allocs.get() - warm_writes;
    let got = received.get() - before;
    let assembled = frames.get() - frames_before;
    println!(
        "1000 video frames (5 packets each) and 1000 Opus packets written warm: {writes} allocations in \
         write_frame; {} allocations, {} bytes in all (sending, receiving, assembling, timers); {got} packets \
         received, {assembled} frames assembled",
        all.allocations + all.reallocations,
        all.bytes_allocated
    );
    assert!(warm_writes > 0, "the first frames make the packetizers (the counter counts)");
    assert_eq!(got, 6_000, "every packet arrives");
    assert_eq!(assembled, 2_000, "every frame is put back together");
    assert_eq!(writes, 0, "write_frame allocates once warm");
    assert_eq!(all.allocations + all.reallocations, 0, "{all:?}");
    // With pacing on (the default): every packet went through the pacer.
    assert!(a.pacer().is_some_and(|p| p.stats().packets >= 6_000), "{:?}", a.pacer().map(|p| p.stats()));
}
