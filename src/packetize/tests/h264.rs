#![allow(clippy::indexing_slicing, clippy::unwrap_used)]

use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::SeededRng;

const SPS: &[u8] = &[0x67, 0x42, 0xc0, 0x1f, 0x8c, 0x8d, 0x40];
const PPS: &[u8] = &[0x68, 0xce, 0x3c, 0x80];
/// An IDR slice with `first_mb_in_slice` = 0.
const IDR_SLICE: &[u8] = &[0x65, 0x88, 0x84, 0x00, 0x33, 0xff];

fn annex_b(nals: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for nal in nals {
        out.extend_from_slice(&START_CODE);
        out.extend_from_slice(nal);
    }
    out
}

fn packetize(p: &mut H264Packetizer, frame: &[u8], mtu: usize) -> Vec<(Vec<u8>, bool)> {
    let mut out = Vec::new();
    let n = p.packetize(frame, mtu, &mut |pl| out.push((pl.data.to_vec(), pl.marker))).unwrap();
    assert_eq!(n, out.len());
    out
}

/// RFC 6184 Figure 7: an STAP-A with two aggregation units, each a 16-bit size and a NAL unit; the STAP-A
/// header's F is the OR and NRI the maximum of the units' (§5.7).
#[test]
fn rfc6184_stap_a() {
    let nal1: &[u8] = &[0x67, 1, 2, 3];
    let nal2: &[u8] = &[0x28, 4, 5]; // NRI 1, type 8
    let mut payload = vec![0x78, 0, 4];
    payload.extend_from_slice(nal1);
    payload.extend_from_slice(&[0, 3]);
    payload.extend_from_slice(nal2);
    let units: Vec<&[u8]> = StapA::new(&payload).unwrap().map(Result::unwrap).collect();
    assert_eq!(units, [nal1, nal2]);

    let mut d = H264Depacketizer::new();
    let mut frame = Vec::new();
    let info = d.depacketize(&payload, &mut frame).unwrap();
    assert_eq!(frame, annex_b(&[nal1, nal2]));
    assert!(info.keyframe && info.frame_start);
    assert!(payload_is_keyframe(&payload));

    // The packetizer builds exactly this payload from the two NAL units.
    let out = packetize(&mut H264Packetizer::new(), &annex_b(&[nal1, nal2]), 1200);
    assert_eq!(out, [(payload, true)]);
    // F set on one unit sets it on the STAP-A; NRI is the largest.
    let out = packetize(&mut H264Packetizer::new(), &annex_b(&[&[0x81, 9], &[0x41, 8]]), 1200);
    assert_eq!(out[0].0[0], 0x80 | 0x40 | 24);
}

/// RFC 6184 §5.8, Figure 14: FU indicator (F and NRI of the NAL unit, type 28), FU header (S, E, R, type),
/// the NAL unit's header octet not carried itself.
#[test]
fn rfc6184_fu_a() {
    let nal: Vec<u8> = [0x65, 0x88].into_iter().chain(2..=10).collect();
    let out = packetize(&mut H264Packetizer::new(), &annex_b(&[&nal]), 6);
    assert_eq!(
        out,
        [
            (vec![0x7c, 0x85, 0x88, 2, 3, 4], false),
            (vec![0x7c, 0x05, 5, 6, 7], false),
            (vec![0x7c, 0x45, 8, 9, 10], true),
        ]
    );
    let mut d = H264Depacketizer::new();
    let mut frame = Vec::new();
    let first = d.depacketize(&out[0].0, &mut frame).unwrap();
    assert!(first.keyframe && first.frame_start);
    assert_eq!(frame, [0, 0, 0, 1, 0x65, 0x88, 2, 3, 4], "appended as it arrives");
    let middle = d.depacketize(&out[1].0, &mut frame).unwrap();
    assert!(!middle.keyframe && !middle.frame_start);
    d.depacketize(&out[2].0, &mut frame).unwrap();
    assert_eq!(frame, annex_b(&[&nal]));
    assert!(payload_is_keyframe(&out[0].0));
    assert!(!payload_is_keyframe(&out[1].0));
}

/// A single NAL unit packet is the NAL unit itself (§5.6), sent without copying.
#[test]
fn single_nal_unit() {
    let slice: &[u8] = &[0x41, 0x9a, 1, 2, 3];
    let frame = annex_b(&[slice]);
    let mut p = H264Packetizer::new();
    let mut pointer = None;
    p.packetize(&frame, 1200, &mut |pl| pointer = Some((pl.data.as_ptr(), pl.data.len(), pl.marker))).unwrap();
    assert_eq!(pointer, Some((frame[4..].as_ptr(), 5, true)));
    let mut d = H264Depacketizer::new();
    let mut out = Vec::new();
    let info = d.depacketize(slice, &mut out).unwrap();
    assert_eq!(out, frame);
    assert!(!info.keyframe && info.frame_start);
}

/// Three- and four-octet start codes, leading zeros before the first, trailing zeros after a NAL unit, and
/// empty NAL units between adjacent start codes.
#[test]
fn annex_b_parsing() {
    let stream = [0, 0, 0, 0, 1, 0x67, 1, 0, 0, 1, 0x68, 2, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0x65, 0, 3, 0, 0, 3, 1, 0];
    let nals: Vec<&[u8]> = AnnexB::new(&stream).unwrap().collect();
    assert_eq!(nals, [&[0x67, 1][..], &[0x68, 2], &[0x65, 0, 3, 0, 0, 3, 1]]);
    assert!(AnnexB::new(&[0x67, 0, 0, 1, 0x68]).is_err(), "data before the first start code");
    assert!(AnnexB::new(&[0x67, 1, 2]).is_err(), "no start code");
    assert_eq!(AnnexB::new(&[0, 0, 1]).unwrap().count(), 0);
}

#[test]
fn bad_frames() {
    let mut p = H264Packetizer::new();
    let mut n = 0;
    let mut run = |frame: &[u8], mtu| p.packetize(frame, mtu, &mut |_| n += 1);
    assert_eq!(run(&[], 1200), Err(PacketizeError::BadFrame));
    assert_eq!(run(&[0, 0, 0, 1], 1200), Err(PacketizeError::BadFrame), "no NAL unit");
    assert_eq!(run(&[0, 0, 1, 0x80, 1], 1200), Err(PacketizeError::BadFrame), "type 0");
    assert_eq!(run(&[0, 0, 1, 0x65, 1, 0, 0, 1, 0x7c, 1], 1200), Err(PacketizeError::BadFrame), "type 28");
    assert_eq!(run(&[1, 0, 0, 1, 0x65], 1200), Err(PacketizeError::BadFrame));
    assert_eq!(run(&[0, 0, 1, 0x65, 1], MIN_PAYLOAD - 1), Err(PacketizeError::MtuTooSmall));
    assert_eq!(n, 0);
}

/// SPS and PPS are remembered and sent ahead of an IDR picture the encoder sent without them; frames
/// without an IDR picture are left alone, and a frame with its own parameter sets replaces the remembered
/// ones.
#[test]
fn parameter_sets_before_idr() {
    let mut p = H264Packetizer::new();
    let mut d = H264Depacketizer::new();
    let mut receive = |out: &[(Vec<u8>, bool)]| {
        let mut frame = Vec::new();
        for (payload, _) in out {
            d.depacketize(payload, &mut frame).unwrap();
        }
        frame
    };
    // An IDR with nothing remembered yet is sent as it is, even with parameter sets after it.
    let out = packetize(&mut p, &annex_b(&[IDR_SLICE]), 1200);
    assert_eq!(receive(&out), annex_b(&[IDR_SLICE]));
    let mut fresh = H264Packetizer::new();
    let out = packetize(&mut fresh, &annex_b(&[IDR_SLICE, SPS, PPS]), 1200);
    assert_eq!(receive(&out), annex_b(&[IDR_SLICE, SPS, PPS]));
    assert_eq!(fresh.parameter_sets(), (SPS, PPS), "remembered for the next IDR picture");

    let out = packetize(&mut p, &annex_b(&[SPS, PPS, IDR_SLICE]), 1200);
    assert_eq!(out.len(), 1, "one STAP-A");
    assert_eq!(out[0].0[0] & 0x1f, 24);
    assert_eq!(receive(&out), annex_b(&[SPS, PPS, IDR_SLICE]));
    assert_eq!(p.parameter_sets(), (SPS, PPS));

    let slice: &[u8] = &[0x41, 0x9a, 7, 7];
    let out = packetize(&mut p, &annex_b(&[slice]), 1200);
    assert_eq!(receive(&out), annex_b(&[slice]));

    let sei: &[u8] = &[0x06, 5, 1, 0x80];
    let out = packetize(&mut p, &annex_b(&[sei, IDR_SLICE, IDR_SLICE]), 1200);
    assert_eq!(receive(&out), annex_b(&[sei, SPS, PPS, IDR_SLICE, IDR_SLICE]));

    // The IDR fragmented: the parameter sets go in their own STAP-A ahead of the fragments.
    let big_idr: Vec<u8> = IDR_SLICE.iter().copied().chain(core::iter::repeat_n(0x55, 100)).collect();
    let out = packetize(&mut p, &annex_b(&[&big_idr]), 40);
    assert_eq!(out[0].0[0] & 0x1f, 24);
    assert!(out[1..].iter().all(|(payload, _)| payload[0] & 0x1f == 28));
    assert_eq!(receive(&out), annex_b(&[SPS, PPS, &big_idr]));

    // New parameter sets replace the old; only the missing PPS is added.
    let sps2: &[u8] = &[0x67, 0x64, 0x00, 0x1f];
    let out = packetize(&mut p, &annex_b(&[sps2, IDR_SLICE]), 1200);
    assert_eq!(receive(&out), annex_b(&[sps2, PPS, IDR_SLICE]));
    let out = packetize(&mut p, &annex_b(&[IDR_SLICE]), 1200);
    assert_eq!(receive(&out), annex_b(&[sps2, PPS, IDR_SLICE]));
}

/// Key frame and frame start as reported per payload.
#[test]
fn payload_info() {
    let mut d = H264Depacketizer::new();
    let mut frame = Vec::new();
    let mut info = |payload: &[u8]| {
        let i = d.depacketize(payload, &mut frame).unwrap();
        (i.frame_start, i.keyframe)
    };
    assert_eq!(info(SPS), (true, true));
    assert_eq!(info(PPS), (false, false), "inside the access unit the SPS opened");
    assert_eq!(info(IDR_SLICE), (false, true), "the picture's slice after its parameter sets");
    assert_eq!(info(&[0x65, 0x40, 1]), (false, true), "a second slice (first_mb_in_slice 1)");
    assert_eq!(info(&[0x41, 0x9a, 1]), (true, false), "the next picture's first slice");
    assert_eq!(info(&[0x09, 0xf0]), (true, false), "an access unit delimiter after a slice");
    assert_eq!(info(&[0x41, 0x9a, 1]), (false, false), "the slice after the delimiter");
}

/// Bad payloads are typed errors, counted, and append nothing.
#[test]
fn bad_payloads() {
    let mut d = H264Depacketizer::new();
    let mut frame = vec![0xee];
    let mut errors = 0;
    fn check(
        (d, frame, errors): (&mut H264Depacketizer, &mut Vec<u8>, &mut u64),
        payload: &[u8],
        error: DepacketizeError,
        counted: u64,
    ) {
        assert_eq!(d.depacketize(payload, frame), Err(error), "{payload:02x?}");
        *errors += counted;
        assert_eq!(d.errors(), *errors, "{payload:02x?}");
    }
    check((&mut d, &mut frame, &mut errors), &[], DepacketizeError::Empty, 1);
    // FU-A truncated: the indicator alone.
    check((&mut d, &mut frame, &mut errors), &[0x7c], DepacketizeError::Truncated, 1);
    // A continuation or an end without a start.
    check((&mut d, &mut frame, &mut errors), &[0x7c, 0x05, 1], DepacketizeError::BadFragment, 1);
    check((&mut d, &mut frame, &mut errors), &[0x7c, 0x45, 1], DepacketizeError::BadFragment, 1);
    // S and E in one FU; a FU of a reserved or aggregate type.
    check((&mut d, &mut frame, &mut errors), &[0x7c, 0xc5, 1], DepacketizeError::Malformed, 1);
    check((&mut d, &mut frame, &mut errors), &[0x7c, 0x98, 1], DepacketizeError::Malformed, 1);
    // STAP-A lengths running past the end, a zero length, no unit, a size cut short, a nested STAP-A.
    check((&mut d, &mut frame, &mut errors), &[0x78, 0, 5, 0x67, 1], DepacketizeError::BadLength, 1);
    check((&mut d, &mut frame, &mut errors), &[0x78, 0, 2, 0x67, 1, 0, 9, 0x68], DepacketizeError::BadLength, 1);
    check((&mut d, &mut frame, &mut errors), &[0x78, 0, 0, 0x67], DepacketizeError::Malformed, 1);
    check((&mut d, &mut frame, &mut errors), &[0x78], DepacketizeError::Truncated, 1);
    check((&mut d, &mut frame, &mut errors), &[0x78, 0, 2, 0x67, 1, 0], DepacketizeError::Truncated, 1);
    check((&mut d, &mut frame, &mut errors), &[0x78, 0, 2, 0x78, 1], DepacketizeError::Malformed, 1);
    // The interleaved mode's structures; reserved types.
    for t in [25u8, 26, 27, 29] {
        check((&mut d, &mut frame, &mut errors), &[0x60 | t, 0, 1, 2], DepacketizeError::Unsupported, 1);
    }
    for t in [0u8, 30, 31] {
        check((&mut d, &mut frame, &mut errors), &[0x60 | t, 0, 1, 2], DepacketizeError::Malformed, 1);
    }
    assert_eq!(frame, [0xee], "nothing appended");

    // A FU-A start after a FU-A start: the first run is dropped (counted, cut off the frame), the second
    // completes.
    d.depacketize(&[0x7c, 0x85, 1, 2], &mut frame).unwrap();
    assert_eq!(frame, [0xee, 0, 0, 0, 1, 0x65, 1, 2], "fragments appended as they arrive");
    d.depacketize(&[0x7c, 0x81, 3, 4], &mut frame).unwrap();
    errors += 1;
    assert_eq!(d.errors(), errors);
    assert_eq!(frame, [0xee, 0, 0, 0, 1, 0x61, 3, 4]);
    d.depacketize(&[0x7c, 0x41, 5], &mut frame).unwrap();
    assert_eq!(frame, [0xee, 0, 0, 0, 1, 0x61, 3, 4, 5]);
    // A continuation of another type than the run's start ends the run.
    frame.truncate(1);
    d.depacketize(&[0x7c, 0x85, 1, 2], &mut frame).unwrap();
    check((&mut d, &mut frame, &mut errors), &[0x7c, 0x41, 3], DepacketizeError::BadFragment, 2);
    assert_eq!(frame, [0xee], "the run cut off the frame");
    check((&mut d, &mut frame, &mut errors), &[0x7c, 0x45, 3], DepacketizeError::BadFragment, 1);
    // A single NAL unit during a run drops the run (counted) and is delivered.
    d.depacketize(&[0x7c, 0x85, 1, 2], &mut frame).unwrap();
    d.depacketize(&[0x41, 0x9a], &mut frame).unwrap();
    errors += 1;
    assert_eq!(d.errors(), errors);
    assert_eq!(frame, [0xee, 0, 0, 0, 1, 0x41, 0x9a]);
    // reset() forgets a run without counting it.
    frame.truncate(1);
    d.depacketize(&[0x7c, 0x85, 1, 2], &mut frame).unwrap();
    d.reset();
    check((&mut d, &mut frame, &mut errors), &[0x7c, 0x45, 3], DepacketizeError::BadFragment, 1);
    assert_eq!(frame, [0xee]);
    // After reset() the run is cut off before the next payload is appended.
    d.depacketize(&[0x7c, 0x85, 1, 2], &mut frame).unwrap();
    d.reset();
    d.depacketize(&[0x41, 0x9a], &mut frame).unwrap();
    assert_eq!(d.errors(), errors);
    assert_eq!(frame, [0xee, 0, 0, 0, 1, 0x41, 0x9a]);
    // A run continues only in the frame it began in: a frame the caller cleared in between ends it.
    frame.truncate(1);
    d.depacketize(&[0x7c, 0x85, 1, 2], &mut frame).unwrap();
    frame.truncate(1);
    check((&mut d, &mut frame, &mut errors), &[0x7c, 0x45, 3], DepacketizeError::BadFragment, 2);
    assert_eq!(frame, [0xee]);
    // A run that grows past the bound is cut off the frame.
    let mut d = H264Depacketizer::with_max_nal_size(4);
    d.depacketize(&[0x7c, 0x85, 1, 2], &mut frame).unwrap();
    assert_eq!(d.depacketize(&[0x7c, 0x05, 3, 4], &mut frame), Err(DepacketizeError::BadFragment));
    assert_eq!(frame, [0xee]);
}

/// FU-A reassembly is bounded: a run growing past the bound is dropped.
#[test]
fn reassembly_bound() {
    let mut d = H264Depacketizer::with_max_nal_size(10);
    let mut frame = Vec::new();
    d.depacketize(&[0x7c, 0x85, 1, 2, 3, 4, 5], &mut frame).unwrap();
    assert_eq!(d.depacketize(&[0x7c, 0x05, 6, 7, 8, 9, 10], &mut frame), Err(DepacketizeError::BadFragment));
    assert_eq!(d.depacketize(&[0x7c, 0x45, 11], &mut frame), Err(DepacketizeError::BadFragment));
    assert_eq!(d.errors(), 2);
    assert!(frame.is_empty());
    // Exactly at the bound: accepted.
    d.depacketize(&[0x7c, 0x85, 1, 2, 3, 4, 5], &mut frame).unwrap();
    d.depacketize(&[0x7c, 0x45, 6, 7, 8, 9], &mut frame).unwrap();
    assert_eq!(frame.len(), 4 + 10);
    let mut d = H264Depacketizer::with_max_nal_size(3);
    assert_eq!(d.depacketize(&[0x7c, 0x85, 1, 2, 3], &mut frame), Err(DepacketizeError::BadFragment));
}

/// A random NAL unit of `min` to `min + spread - 1` octets (at least 1) of type `t`: no start code emulation inside, and a last
/// octet that is not zero (H.264 §7.4.1, B.1).
fn random_nal(rng: &mut SeededRng, t: u8, min: usize, spread: u64) -> Vec<u8> {
    let len = min + rng.below(spread) as usize;
    let mut nal = vec![0u8; len];
    rng.fill(&mut nal);
    nal[0] = (nal[0] & 0x60) | t;
    for i in 1..len {
        // Zeros are made common, to exercise the start code search.
        if nal[i] < 0x30 {
            nal[i] = 0;
        }
        if i >= 2 && nal[i - 2] == 0 && nal[i - 1] == 0 && nal[i] <= 2 {
            nal[i] = 3;
        }
    }
    if len > 1 && nal[len - 1] == 0 {
        nal[len - 1] = 0x80;
    }
    nal
}

/// Random Annex-B access units (random NAL units of types and sizes a camera encoder produces, 3- and
/// 4-octet start codes) through many payload sizes: the stream comes back with 4-octet start codes and the
/// remembered parameter sets ahead of IDR pictures sent without them, no payload exceeds the limit, the
/// marker is on the last payload only. A second packetizer's `packetize_parts` hands over the same
/// payloads, each FU-A's data and each single NAL unit borrowed from the frame.
#[test]
fn round_trip() {
    let mut rng = SeededRng::from_seed([4; 32]);
    let mut p = H264Packetizer::new();
    let mut parts = H264Packetizer::new();
    let mut d = H264Depacketizer::new();
    let (mut sps, mut pps): (Vec<u8>, Vec<u8>) = (Vec::new(), Vec::new());
    let sizes = [1usize, 2, 3, 10, 100, 1000, 1199, 1200, 1201, 3000, 10_000];
    let mtus = [MIN_PAYLOAD, 4, 5, 8, 100, 1200, 1500];
    let mut payload_types = [0usize; 32];
    for round in 0..300 {
        let mtu = mtus[round % mtus.len()];
        // 0: parameter sets and an IDR picture; 1: an IDR picture alone; else: a delta picture.
        let kind = rng.below(4);
        let mut nals: Vec<Vec<u8>> = Vec::new();
        let mut expected: Vec<Vec<u8>> = Vec::new();
        if rng.below(3) == 0 {
            nals.push(random_nal(&mut rng, 9, 2, 0));
        }
        if kind == 0 {
            sps = random_nal(&mut rng, 7, 4, 20);
            pps = random_nal(&mut rng, 8, 2, 6);
            nals.push(sps.clone());
            nals.push(pps.clone());
        }
        if rng.below(2) == 0 {
            nals.push(random_nal(&mut rng, 6, 1, 30));
        }
        expected.extend(nals.iter().cloned());
        let slices = 1 + rng.below(4) as usize;
        let slice_type = if kind <= 1 { 5 } else { 1 };
        if kind == 1 && !sps.is_empty() {
            expected.push(sps.clone());
            expected.push(pps.clone());
        }
        for _ in 0..slices {
            let len = sizes[rng.below(sizes.len() as u64) as usize];
            let len = if mtu < 8 { len.min(300) } else { len };
            let slice = random_nal(&mut rng, slice_type, len, 0);
            nals.push(slice.clone());
            expected.push(slice);
        }
        let mut stream = vec![0u8; rng.below(3) as usize];
        for nal in &nals {
            let long = rng.below(2) == 0;
            stream.extend_from_slice(if long { &[0, 0, 0, 1][..] } else { &[0, 0, 1] });
            stream.extend_from_slice(nal);
            stream.extend(core::iter::repeat_n(0, rng.below(2) as usize));
        }

        let mut payloads: Vec<(Vec<u8>, bool)> = Vec::new();
        let n = p.packetize(&stream, mtu, &mut |pl| payloads.push((pl.data.to_vec(), pl.marker))).unwrap();
        assert_eq!(n, payloads.len());
        let mut joined: Vec<(Vec<u8>, bool)> = Vec::new();
        // Borrowed from the frame, or from the parameter sets the packetizer repeats.
        let sources = [stream.as_ptr_range(), parts.sps.as_ptr_range(), parts.pps.as_ptr_range()];
        let within = |body: &[u8]| {
            sources
                .iter()
                .any(|r| r.contains(&body.as_ptr()) && r.contains(&body.as_ptr().wrapping_add(body.len() - 1)))
        };
        let n_parts = parts
            .packetize_parts(&stream, mtu, &mut |pl| {
                let t = pl.header.first().or(pl.body.first()).map_or(0, |&h| nal_unit_type(h));
                match t {
                    FU_A => assert!(pl.header.len() == 2 && within(pl.body), "round {round}: FU-A data borrowed"),
                    STAP_A => assert!(pl.body.is_empty()),
                    _ => assert!(pl.header.is_empty() && !pl.body.is_empty()),
                }
                joined.push(([pl.header, pl.body].concat(), pl.marker));
            })
            .unwrap();
        assert_eq!((n_parts, &joined), (n, &payloads), "round {round}: packetize_parts");
        let mut frame = Vec::new();
        let mut keyframe = false;
        for (i, (payload, marker)) in payloads.iter().enumerate() {
            assert!(payload.len() <= mtu, "round {round}: {} > {mtu}", payload.len());
            assert_eq!(*marker, i + 1 == n, "round {round}: marker on the last payload only");
            payload_types[usize::from(payload[0] & 0x1f)] += 1;
            let info = d.depacketize(payload, &mut frame).unwrap();
            assert_eq!(info.keyframe, payload_is_keyframe(payload));
            keyframe |= info.keyframe;
        }
        assert_eq!(keyframe, kind <= 1, "round {round}");
        let expected: Vec<&[u8]> = expected.iter().map(Vec::as_slice).collect();
        assert_eq!(frame, annex_b(&expected), "round {round}, mtu {mtu}");
    }
    assert_eq!(d.errors(), 0);
    // All three packet structures were exercised.
    assert!(payload_types[24] > 10 && payload_types[28] > 10);
    assert!(payload_types[1..24].iter().sum::<usize>() > 10);
}

/// The word-at-a-time start code search finds what an octet-by-octet search finds, at every alignment.
#[test]
fn start_code_search() {
    let mut rng = SeededRng::from_seed([5; 32]);
    for round in 0..2000 {
        let len = rng.below(40) as usize;
        let data: Vec<u8> = (0..len).map(|_| [0, 0, 0, 1, 2, 0x80][rng.below(6) as usize]).collect();
        let naive = data.windows(3).position(|w| w == [0, 0, 1]);
        assert_eq!(super::find_start_code(&data), naive, "round {round}: {data:02x?}");
    }
}
