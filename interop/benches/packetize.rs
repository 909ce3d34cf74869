//! RTP payload formats: packetizing and depacketizing whole frames, sansrtc next to str0m 0.24's
//! packetizers (its `unversioned` module), on the same inputs in the same run.
//!
//! - **VP8**: a 20,000-byte frame (a 360p key frame's size) at a 1,200-byte payload limit, 17 payloads.
//!   sansrtc writes a 4-byte descriptor with a 15-bit picture id; str0m's default packetizer (its picture
//!   id switch is private) writes the 1-byte descriptor, so it copies 51 bytes less per frame.
//! - **H.264**: an access unit in Annex-B form: SPS, PPS and a 30,000-byte IDR slice (STAP-A then 26 FU-A
//!   fragments); and a delta picture of four 300-byte slices (sansrtc aggregates them into one STAP-A,
//!   str0m 0.24 sends each as a single NAL unit packet).
//! - **Opus**: one 120-byte packet.
//!
//! Packetize: str0m returns a `Vec<Vec<u8>>` (one allocation per payload plus the list); sansrtc hands
//! each payload to a callback, which copies it into a reused buffer (as writing it into an RTP packet
//! would), and allocates nothing. Depacketize: every payload of the frame into a reused frame buffer,
//! which both sides clear per frame; str0m's `CodecExtra` is reset per frame. Both sides' outputs are
//! checked against the frame before timing. Timed in thread CPU time.

use std::hint::black_box;

use sansrtc::packetize::{h264, opus, vp8};
use sansrtc_interop::bench::{compare, measure_cpu};
use str0m::format::CodecExtra;
use str0m::unversioned as s0;

const MTU: usize = 1200;

/// Deterministic filler without zero bytes (no start code emulation in H.264 NAL units).
fn filler(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x as u8) | 1
        })
        .collect()
}

fn annex_b(nals: &[&[u8]]) -> Vec<u8> {
    nals.iter().flat_map(|n| [0u8, 0, 0, 1].iter().chain(n.iter())).copied().collect()
}

fn sansrtc_packetize(p: &mut dyn sansrtc::packetize::Packetizer, frame: &[u8], out: &mut Vec<u8>) -> usize {
    out.clear();
    p.packetize(frame, MTU, &mut |payload| out.extend_from_slice(payload.data)).unwrap_or(0)
}

fn sansrtc_payloads(p: &mut dyn sansrtc::packetize::Packetizer, frame: &[u8]) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    p.packetize(frame, MTU, &mut |payload| v.push(payload.data.to_vec())).expect("packetized");
    v
}

fn sansrtc_depacketize(d: &mut dyn sansrtc::packetize::Depacketizer, payloads: &[Vec<u8>], out: &mut Vec<u8>) -> usize {
    out.clear();
    for p in payloads {
        if d.depacketize(p, out).is_err() {
            return 0;
        }
    }
    out.len()
}

fn str0m_depacketize(d: &mut dyn s0::Depacketizer, payloads: &[Vec<u8>], out: &mut Vec<u8>) -> usize {
    out.clear();
    let mut extra = CodecExtra::None;
    for p in payloads {
        if d.depacketize(p, out, &mut extra).is_err() {
            return 0;
        }
    }
    out.len()
}

/// One format's four measurements.
fn run(
    name: &str,
    frame: &[u8],
    expected: &[u8],
    ours: (&mut dyn sansrtc::packetize::Packetizer, &mut dyn sansrtc::packetize::Depacketizer),
    theirs: (&mut dyn s0::Packetizer, Option<&mut dyn s0::Depacketizer>),
) -> (f64, Option<f64>) {
    let (op, od) = ours;
    let (tp, td) = theirs;
    let our_payloads = sansrtc_payloads(op, frame);
    let their_payloads = tp.packetize(MTU, frame).expect("str0m packetized");
    assert!(our_payloads.iter().chain(&their_payloads).all(|p| p.len() <= MTU));
    let mut out = Vec::with_capacity(frame.len() * 2);
    assert_eq!(sansrtc_depacketize(od, &our_payloads, &mut out), expected.len());
    assert_eq!(out, expected, "{name}: sansrtc round trip");

    let a = measure_cpu(|| sansrtc_packetize(op, black_box(frame), &mut out));
    let b = measure_cpu(|| tp.packetize(MTU, black_box(frame)).map(|v| v.len()).unwrap_or(0));
    let packetize = compare(&format!("{name}/packetize"), a, "str0m", b);

    let depacketize = td.map(|td| {
        // Each depacketizer reads the other's payloads back to the same frame.
        assert_eq!(str0m_depacketize(td, &our_payloads, &mut out), expected.len());
        assert_eq!(out, expected, "{name}: str0m reads sansrtc's payloads");
        assert_eq!(sansrtc_depacketize(od, &their_payloads, &mut out), expected.len());
        assert_eq!(out, expected, "{name}: sansrtc reads str0m's payloads");
        let a = measure_cpu(|| sansrtc_depacketize(od, black_box(&our_payloads), &mut out));
        let b = measure_cpu(|| str0m_depacketize(td, black_box(&our_payloads), &mut out));
        compare(&format!("{name}/depacketize"), a, "str0m", b)
    });
    (packetize, depacketize)
}

fn main() {
    // VP8: P bit set (an interframe), so that no key frame detail differs.
    let vp8_frame = filler(20_000, 1);
    run(
        "vp8 20 kB frame",
        &vp8_frame,
        &vp8_frame,
        (&mut vp8::Vp8Packetizer::new(1), &mut vp8::Vp8Depacketizer::new()),
        (&mut s0::Vp8Packetizer::default(), Some(&mut s0::Vp8Depacketizer::default())),
    );

    let mut sps = filler(12, 2);
    sps[0] = 0x67;
    let mut pps = filler(4, 3);
    pps[0] = 0x68;
    let mut idr = filler(30_000, 4);
    idr[0] = 0x65;
    let key = annex_b(&[&sps, &pps, &idr]);
    run(
        "h264 SPS+PPS+30 kB IDR",
        &key,
        &key,
        (&mut h264::H264Packetizer::new(), &mut h264::H264Depacketizer::new()),
        (&mut s0::H264Packetizer::default(), Some(&mut s0::H264Depacketizer::default())),
    );
    let slices: Vec<Vec<u8>> = (0..4)
        .map(|i| {
            let mut s = filler(300, 10 + i);
            s[0] = 0x41;
            s
        })
        .collect();
    let delta = annex_b(&slices.iter().map(Vec::as_slice).collect::<Vec<_>>());
    run(
        "h264 4 x 300 B slices",
        &delta,
        &delta,
        (&mut h264::H264Packetizer::new(), &mut h264::H264Depacketizer::new()),
        (&mut s0::H264Packetizer::default(), Some(&mut s0::H264Depacketizer::default())),
    );

    let mut packet = filler(120, 5);
    packet[0] = 31 << 3;
    run(
        "opus 120 B packet",
        &packet,
        &packet,
        (&mut opus::OpusPacketizer::new(), &mut opus::OpusDepacketizer::new()),
        (&mut s0::OpusPacketizer, None),
    );
}
