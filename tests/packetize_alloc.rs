//! Packetizing and depacketizing allocate nothing once warm: a counting global allocator
//! (`stats_alloc`'s instrumented wrapper around the system allocator) watches frames after a few warm-up
//! frames, for every payload format: each packetizer's scratch buffer and the H.264 FU-A reassembly buffer
//! are reused, and the frame buffer is the caller's.
//!
//! This file holds a single test so that no other test thread allocates while it measures.

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;

use sansrtc::SeededRng;
use sansrtc::packetize::{Depacketizer, Packetizer, g711, g722, h264, opus, vp8};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Frames through `p` and `d` at `mtu`, each reassembled into `out` (cleared per frame) and checked.
/// Returns the number of payloads.
fn run(
    p: &mut dyn Packetizer,
    d: &mut dyn Depacketizer,
    frames: &[(Vec<u8>, Vec<u8>)],
    mtu: usize,
    out: &mut Vec<u8>,
) -> usize {
    let mut payloads = 0;
    for (frame, expected) in frames {
        out.clear();
        let mut ok = true;
        payloads += p
            .packetize(frame, mtu, &mut |payload| {
                ok &= payload.data.len() <= mtu && d.depacketize(payload.data, out).is_ok();
            })
            .expect("packetized");
        assert!(ok, "every payload fits and depacketizes");
        assert_eq!(out, expected, "the frame comes back");
    }
    payloads
}

fn random(rng: &mut SeededRng, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    rng.fill(&mut v);
    v
}

/// An H.264 NAL unit of type `t` without zero octets (so no start code emulation).
fn nal(rng: &mut SeededRng, t: u8, len: usize) -> Vec<u8> {
    let mut v = random(rng, len);
    for b in &mut v {
        *b |= 1;
    }
    v[0] = 0x60 | t;
    v
}

fn annex_b(nals: &[&Vec<u8>]) -> Vec<u8> {
    nals.iter().flat_map(|n| [0, 0, 0, 1].into_iter().chain(n.iter().copied())).collect()
}

#[test]
fn packetize_and_depacketize_allocate_nothing_once_warm() {
    let mut rng = SeededRng::from_seed([3; 32]);

    // VP8: key frame and interframes, one to several payloads.
    let vp8_frames: Vec<(Vec<u8>, Vec<u8>)> = [9000usize, 1000, 3000, 200, 5000]
        .into_iter()
        .map(|len| {
            let f = random(&mut rng, len);
            (f.clone(), f)
        })
        .collect();
    // Opus, 20 ms CELT full band packets; G.711 and G.722, 20 ms blocks.
    let opus_frames: Vec<(Vec<u8>, Vec<u8>)> = (0..5)
        .map(|_| {
            let mut f = random(&mut rng, 120);
            f[0] = 31 << 3;
            (f.clone(), f)
        })
        .collect();
    let block_frames: Vec<(Vec<u8>, Vec<u8>)> = (0..5)
        .map(|_| {
            let f = random(&mut rng, 160);
            (f.clone(), f)
        })
        .collect();
    // H.264: SPS, PPS and an IDR picture large enough for FU-A; an IDR picture alone (the parameter sets
    // are put ahead of it); delta pictures of small slices (STAP-A) and a large one.
    let (sps, pps) = (nal(&mut rng, 7, 12), nal(&mut rng, 8, 4));
    let idr = nal(&mut rng, 5, 8000);
    let (small, large) = (nal(&mut rng, 1, 300), nal(&mut rng, 1, 4000));
    let h264_frames = vec![
        (annex_b(&[&sps, &pps, &idr]), annex_b(&[&sps, &pps, &idr])),
        (annex_b(&[&small, &small, &small]), annex_b(&[&small, &small, &small])),
        (annex_b(&[&large]), annex_b(&[&large])),
        (annex_b(&[&idr]), annex_b(&[&sps, &pps, &idr])),
        (annex_b(&[&small, &large]), annex_b(&[&small, &large])),
    ];

    let mut vp8 = (vp8::Vp8Packetizer::new(1), vp8::Vp8Depacketizer::new());
    let mut opus = (opus::OpusPacketizer::new(), opus::OpusDepacketizer::new());
    let mut pcmu = (g711::G711Packetizer::new(g711::Law::Mu), g711::G711Depacketizer::new(g711::Law::Mu));
    let mut g722 = (g722::G722Packetizer::new(), g722::G722Depacketizer::new());
    let mut h264 = (h264::H264Packetizer::new(), h264::H264Depacketizer::new());
    let mut out = Vec::with_capacity(20_000);

    // Warm up: every buffer reaches its working size.
    run(&mut vp8.0, &mut vp8.1, &vp8_frames, 1200, &mut out);
    run(&mut opus.0, &mut opus.1, &opus_frames, 1200, &mut out);
    run(&mut pcmu.0, &mut pcmu.1, &block_frames, 1200, &mut out);
    run(&mut g722.0, &mut g722.1, &block_frames, 1200, &mut out);
    run(&mut h264.0, &mut h264.1, &h264_frames, 1200, &mut out);

    // The counter works: one deliberate allocation is seen.
    let probe = Region::new(GLOBAL);
    let boxed = core::hint::black_box(Box::new(7u64));
    assert_eq!(probe.change().allocations, 1);
    drop(boxed);

    let region = Region::new(GLOBAL);
    let mut payloads = 0;
    for _ in 0..3 {
        payloads += run(&mut vp8.0, &mut vp8.1, &vp8_frames, 1200, &mut out);
        payloads += run(&mut opus.0, &mut opus.1, &opus_frames, 1200, &mut out);
        payloads += run(&mut pcmu.0, &mut pcmu.1, &block_frames, 1200, &mut out);
        payloads += run(&mut g722.0, &mut g722.1, &block_frames, 1200, &mut out);
        payloads += run(&mut h264.0, &mut h264.1, &h264_frames, 1200, &mut out);
    }
    let stats = region.change();
    assert!(payloads > 100, "{payloads} payloads");
    assert_eq!(stats.allocations, 0, "packetize + depacketize allocated: {stats:?}");
    assert_eq!(stats.reallocations, 0, "packetize + depacketize reallocated: {stats:?}");
}
