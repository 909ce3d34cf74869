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
//! What each side does, per timed iteration:
//! - **Packetize**: the frame into payloads, and every payload written after a 12-byte RTP header into
//!   one reused packet buffer, as a sender writes it. sansrtc hands each payload to a callback (borrowing
//!   its scratch buffer) and allocates nothing; str0m returns a `Vec<Vec<u8>>` (one allocation per payload
//!   plus the list), which the same writing then reads and drops. The copy into the packet is on both
//!   sides because both stacks make it: str0m's send path copies each queued payload into its packet
//!   buffer (`streams/send.rs`, `poll_packet`), sansrtc's RTP session writes the payload it is given into
//!   its output buffer. So both copy the frame's bytes twice: into a payload buffer, then into the packet.
//! - **VP8 and H.264 `packetize_parts`**: the same payloads taken as a header and a run borrowed from the
//!   frame (VP8: the 4-byte descriptor; H.264: a FU-A's two header octets, nothing before a single NAL
//!   unit, a STAP-A whole from the scratch buffer), both written into the packet buffer: sansrtc copies
//!   the frame's bytes once (a STAP-A's twice). This is what sansrtc's peer connection calls
//!   (`write_frame`). str0m's side is the `packetize` row's (it has no such call).
//! - **Depacketize**: every payload of the frame, in order, appended to one reused frame buffer which both
//!   sides clear per frame, descriptors stripped (and start codes restored for H.264: sansrtc appends
//!   each FU-A fragment straight to the frame, str0m gathers them in a reassembly buffer before appending
//!   the NAL unit); str0m's `CodecExtra` is reset per frame. Both depacketizers read sansrtc's payloads.
//!   A `memcpy` line follows: the same payloads appended whole with `extend_from_slice` and nothing else,
//!   the floor under both sides (the bytes have to be copied once; descriptors included, a few bytes more
//!   than either copies). str0m's
//!   Opus depacketizer is not public in 0.24; its body is that same `extend_from_slice`, without a look at
//!   the packet, so the Opus row compares sansrtc (which checks the packet against RFC 6716 §3.4 R1 to R5
//!   before copying) against the floor.
//!
//! Every output is checked against the frame before timing. Timed in thread CPU time, the two sides in
//! turn, twice, each keeping its faster round, both writing into the same buffer; the packetize rows
//! average over four placements of the packet buffer within a cache line. Set
//! `SANSRTC_BENCH_REPEAT=N` to run the whole set N times in one process (the figures' spread).

use std::hint::black_box;

use sansrtc::packetize::{h264, opus, vp8};
use sansrtc_interop::bench::{Measurement, compare, measure_cpu, report};
use str0m::format::CodecExtra;
use str0m::unversioned as s0;

const MTU: usize = 1200;
const RTP_HEADER: usize = 12;

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

/// The one packet buffer a sender reuses, its RTP header starting `offset` octets into a cache line (the
/// octets before `start` are padding).
struct Packet {
    buf: Vec<u8>,
    start: usize,
}

impl Packet {
    fn new(offset: usize) -> Self {
        let mut buf: Vec<u8> = Vec::with_capacity(64 + RTP_HEADER + MTU);
        let start = (64 + offset - buf.as_ptr().addr() % 64) % 64;
        buf.resize(start + RTP_HEADER, 0x80);
        Packet { buf, start }
    }
}

/// Where the packet buffer's header starts within a cache line: the copy costs move by a fifth or more
/// with it, so the packetize rows average over these four (a sender's buffer may sit anywhere).
const PACKET_OFFSETS: [usize; 4] = [0, 16, 32, 48];

/// What a sender does with each payload: writes it after the 12-octet RTP header of the one packet
/// buffer it reuses (str0m's `poll_packet` in `streams/send.rs` does, as sansrtc's RTP session does with
/// its output buffer). Returns the payload's length.
fn write_packet(packet: &mut Packet, parts: &[&[u8]]) -> usize {
    packet.buf.truncate(packet.start + RTP_HEADER);
    for part in parts {
        packet.buf.extend_from_slice(part);
    }
    black_box(&packet.buf[packet.start..]).len() - RTP_HEADER
}

/// Each function returns the payload octets written.
fn sansrtc_packetize(p: &mut dyn sansrtc::packetize::Packetizer, frame: &[u8], packet: &mut Packet) -> usize {
    let mut written = 0;
    p.packetize(frame, MTU, &mut |payload| written += write_packet(packet, &[payload.data])).map_or(0, |_| written)
}

fn sansrtc_packetize_parts(p: &mut dyn sansrtc::packetize::Packetizer, frame: &[u8], packet: &mut Packet) -> usize {
    let mut written = 0;
    p.packetize_parts(frame, MTU, &mut |payload| written += write_packet(packet, &[payload.header, payload.body]))
        .map_or(0, |_| written)
}

fn str0m_packetize(p: &mut dyn s0::Packetizer, frame: &[u8], packet: &mut Packet) -> usize {
    let Ok(payloads) = p.packetize(MTU, frame) else { return 0 };
    payloads.iter().map(|payload| write_packet(packet, &[payload])).sum()
}

/// Ours and theirs measured in turn, twice, each side keeping its faster round (a process's first
/// measurement runs cold on a shared machine, and neither side should carry that alone), both writing
/// into the same buffer.
fn interleaved<T>(
    buf: &mut T,
    mut ours: impl FnMut(&mut T) -> usize,
    mut theirs: impl FnMut(&mut T) -> usize,
) -> (Measurement, Measurement) {
    let faster = |x: Measurement, y: Measurement| if y.ns_per_iter < x.ns_per_iter { y } else { x };
    let a = measure_cpu(|| ours(buf));
    let b = measure_cpu(|| theirs(buf));
    (faster(a, measure_cpu(|| ours(buf))), faster(b, measure_cpu(|| theirs(buf))))
}

/// [`interleaved`] with a packet buffer at each of [`PACKET_OFFSETS`], each side's times averaged.
fn over_offsets(
    mut ours: impl FnMut(&mut Packet) -> usize,
    mut theirs: impl FnMut(&mut Packet) -> usize,
) -> (Measurement, Measurement) {
    let runs: Vec<_> =
        PACKET_OFFSETS.iter().map(|&o| interleaved(&mut Packet::new(o), &mut ours, &mut theirs)).collect();
    let mean = |side: fn(&(Measurement, Measurement)) -> Measurement| Measurement {
        ns_per_iter: runs.iter().map(|r| side(r).ns_per_iter).sum::<f64>() / runs.len() as f64,
        iterations: runs.iter().map(|r| side(r).iterations).sum(),
    };
    (mean(|r| r.0), mean(|r| r.1))
}

/// The floor: each payload appended whole, nothing parsed.
fn memcpy_payloads(payloads: &[Vec<u8>], out: &mut Vec<u8>) -> usize {
    out.clear();
    for p in payloads {
        out.extend_from_slice(p);
    }
    out.len()
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

/// One format's measurements (`parts`: also `packetize_parts`, for formats that override it).
fn run(
    name: &str,
    parts: bool,
    frame: &[u8],
    expected: &[u8],
    ours: (&mut dyn sansrtc::packetize::Packetizer, &mut dyn sansrtc::packetize::Depacketizer),
    theirs: (&mut dyn s0::Packetizer, Option<&mut dyn s0::Depacketizer>),
) {
    let (op, od) = ours;
    let (tp, td) = theirs;
    let our_payloads = sansrtc_payloads(op, frame);
    let their_payloads = tp.packetize(MTU, frame).expect("str0m packetized");
    assert!(our_payloads.iter().chain(&their_payloads).all(|p| p.len() <= MTU));
    let mut out = Vec::with_capacity(frame.len() * 2);
    assert_eq!(sansrtc_depacketize(od, &our_payloads, &mut out), expected.len());
    assert_eq!(out, expected, "{name}: sansrtc round trip");

    // What is written: every payload, whole (the payloads themselves were checked above; sansrtc's
    // picture id moves on per frame, so its descriptors differ from the first run's).
    let mut packet = Packet::new(0);
    let total = |payloads: &[Vec<u8>]| payloads.iter().map(Vec::len).sum::<usize>();
    assert_eq!(sansrtc_packetize(op, frame, &mut packet), total(&our_payloads));
    assert_eq!(str0m_packetize(tp, frame, &mut packet), total(&their_payloads));
    if parts {
        let (mut whole, mut split) = (Vec::new(), Vec::new());
        op.packetize(frame, MTU, &mut |payload| whole.push(payload.data.to_vec())).expect("packetized");
        op.packetize_parts(frame, MTU, &mut |payload| split.push([payload.header, payload.body].concat()))
            .expect("packetized");
        assert_eq!(split.len(), whole.len());
        if name.starts_with("vp8") {
            // The next frame's payloads: the same data after descriptors whose picture id is one more.
            assert!(split.iter().zip(&whole).all(|(s, w)| s.len() == w.len() && s[4..] == w[4..] && s[3] != w[3]));
        } else {
            assert_eq!(split, whole, "{name}: packetize_parts");
        }
        assert_eq!(sansrtc_packetize_parts(op, frame, &mut packet), total(&our_payloads));
    }

    let (a, b) = over_offsets(
        |packet| sansrtc_packetize(op, black_box(frame), packet),
        |packet| str0m_packetize(tp, black_box(frame), packet),
    );
    compare(&format!("{name}/packetize"), a, "str0m", b);
    if parts {
        let (a, b) = over_offsets(
            |packet| sansrtc_packetize_parts(op, black_box(frame), packet),
            |packet| str0m_packetize(tp, black_box(frame), packet),
        );
        compare(&format!("{name}/packetize_parts"), a, "str0m", b);
    }

    match td {
        Some(td) => {
            // Each depacketizer reads the other's payloads back to the same frame.
            assert_eq!(str0m_depacketize(td, &our_payloads, &mut out), expected.len());
            assert_eq!(out, expected, "{name}: str0m reads sansrtc's payloads");
            assert_eq!(sansrtc_depacketize(od, &their_payloads, &mut out), expected.len());
            assert_eq!(out, expected, "{name}: sansrtc reads str0m's payloads");
            let (a, b) = interleaved(
                &mut out,
                |out| sansrtc_depacketize(od, black_box(&our_payloads), out),
                |out| str0m_depacketize(td, black_box(&our_payloads), out),
            );
            compare(&format!("{name}/depacketize"), a, "str0m", b);
        }
        None => {
            // str0m's depacketizer for this format is private; its body is the memcpy below.
            let (a, b) = interleaved(
                &mut out,
                |out| sansrtc_depacketize(od, black_box(&our_payloads), out),
                |out| memcpy_payloads(black_box(&our_payloads), out),
            );
            compare(&format!("{name}/depacketize"), a, "str0m=memcpy", b);
            return;
        }
    }
    let floor = measure_cpu(|| memcpy_payloads(black_box(&our_payloads), &mut out));
    report(&format!("{name}/depacketize"), "memcpy", floor);
}

fn main() {
    let repeat = std::env::var("SANSRTC_BENCH_REPEAT").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    for i in 0..repeat {
        if i > 0 {
            println!();
        }
        run_all();
    }
}

fn run_all() {
    // VP8: P bit set (an interframe), so that no key frame detail differs.
    let vp8_frame = filler(20_000, 1);
    run(
        "vp8 20 kB frame",
        true,
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
        true,
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
        true,
        &delta,
        &delta,
        (&mut h264::H264Packetizer::new(), &mut h264::H264Depacketizer::new()),
        (&mut s0::H264Packetizer::default(), Some(&mut s0::H264Depacketizer::default())),
    );

    let mut packet = filler(120, 5);
    packet[0] = 31 << 3;
    run(
        "opus 120 B packet",
        false,
        &packet,
        &packet,
        (&mut opus::OpusPacketizer::new(), &mut opus::OpusDepacketizer::new()),
        (&mut s0::OpusPacketizer, None),
    );
}
