//! H.265 payload format: RFC 7798's AP and FU structures, round trips of random Annex-B streams, bad
//! input.

use alloc::vec;
use alloc::vec::Vec;

use super::*;

/// splitmix64: a small seeded generator, so the random cases are the same on every run.
struct Prng(u64);

impl Prng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A NAL unit: header (type, layer 0, TID+1 `tid`) and `body`.
fn nal(t: u8, tid: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![t << 1, tid];
    v.extend_from_slice(body);
    v
}

fn annex_b(nals: &[Vec<u8>]) -> Vec<u8> {
    nals.iter().flat_map(|n| START_CODE.iter().chain(n)).copied().collect()
}

fn packetize_all(p: &mut H265Packetizer, frame: &[u8], max: usize) -> Vec<(Vec<u8>, bool)> {
    let mut out = Vec::new();
    let n = p.packetize(frame, max, &mut |pl| out.push((pl.data.to_vec(), pl.marker))).unwrap();
    assert_eq!(n, out.len());
    out
}

#[test]
fn rfc7798_aggregation_packet() {
    // Figures 4-6: PayloadHdr Type 48, then units of a 16-bit size and a NAL unit (no DONL/DOND).
    let payload = [0x60, 0x01, 0x00, 0x04, 0x40, 0x01, 0xaa, 0xbb, 0x00, 0x03, 0x42, 0x01, 0xcc];
    let (h, p) = Packet::parse(&payload).unwrap();
    assert_eq!((h.nal_type(), h.layer_id(), h.tid(), h.forbidden()), (48, 0, 1, false));
    let Packet::Aggregation(units) = p else { panic!("not an AP") };
    let units: Vec<&[u8]> = units.map(Result::unwrap).collect();
    assert_eq!(units, [&[0x40, 0x01, 0xaa, 0xbb][..], &[0x42, 0x01, 0xcc][..]]);

    let mut frame = Vec::new();
    let info = H265Depacketizer::new().depacketize(&payload, &mut frame).unwrap();
    assert_eq!(frame, [0, 0, 0, 1, 0x40, 0x01, 0xaa, 0xbb, 0, 0, 0, 1, 0x42, 0x01, 0xcc]);
    assert!(info.keyframe && info.frame_start);

    // The packetizer's AP: F is the OR, LayerId and TID the lowest of the units.
    let mut a = nal(1, 3, &[0x80, 1]);
    a[0] |= 0x80;
    a[1] |= 2 << 3; // LayerId 2
    let b = nal(1, 2, &[0x80, 2]);
    let out = packetize_all(&mut H265Packetizer::new(), &annex_b(&[a.clone(), b.clone()]), 1200);
    let mut want = vec![0x80 | 0x60, 0x02, 0, 4];
    want.extend(&a);
    want.extend([0, 4]);
    want.extend(&b);
    assert_eq!(out, [(want, true)]);
}

#[test]
fn rfc7798_fragmentation_units() {
    // Figures 9-10: PayloadHdr Type 49 with the NAL's F, LayerId and TID; FU header S|E|FuType; the NAL
    // header itself is not sent.
    let idr = nal(19, 1, &[0x80, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    let out = packetize_all(&mut H265Packetizer::new(), &annex_b(core::slice::from_ref(&idr)), 7);
    assert_eq!(
        out,
        [
            (vec![0x62, 0x01, 0x80 | 19, 0x80, 1, 2, 3], false),
            (vec![0x62, 0x01, 19, 4, 5, 6, 7], false),
            (vec![0x62, 0x01, 0x40 | 19, 8, 9], true),
        ]
    );
    let mut d = H265Depacketizer::new();
    let mut frame = Vec::new();
    let infos: Vec<_> = out.iter().map(|(p, _)| d.depacketize(p, &mut frame).unwrap()).collect();
    assert_eq!(frame, annex_b(&[idr]));
    assert!(infos[0].keyframe && infos[0].frame_start);
    assert!(!infos[1].frame_start && !infos[2].keyframe);
}

#[test]
fn parameter_sets_repeated_ahead_of_irap() {
    let (vps, sps, pps) = (nal(32, 1, &[1]), nal(33, 1, &[2]), nal(34, 1, &[3]));
    let idr = nal(19, 1, &[0x80, 9]);
    let trail = nal(1, 1, &[0x80, 8]);
    let mut p = H265Packetizer::new();
    let mut d = H265Depacketizer::new();
    let mut run = |p: &mut H265Packetizer, input: &[Vec<u8>]| {
        let mut frame = Vec::new();
        for (data, _) in packetize_all(p, &annex_b(input), 1200) {
            d.depacketize(&data, &mut frame).unwrap();
        }
        frame
    };
    let first = [vps.clone(), sps.clone(), pps.clone(), idr.clone()];
    assert_eq!(run(&mut p, &first), annex_b(&first));
    // A delta frame is sent as it is; an IRAP alone gets the sets back, ahead of it (after an AUD).
    assert_eq!(run(&mut p, core::slice::from_ref(&trail)), annex_b(&[trail]));
    let aud = nal(35, 1, &[0x50]);
    assert_eq!(run(&mut p, &[aud.clone(), idr.clone()]), annex_b(&[aud, vps.clone(), sps, pps.clone(), idr.clone()]));
    // A new SPS replaces the remembered one.
    let sps2 = nal(33, 1, &[7, 7]);
    assert_eq!(run(&mut p, &[sps2.clone(), idr.clone()]), annex_b(&[vps, sps2, pps, idr]));
}

#[test]
fn random_annex_b_streams_round_trip() {
    let mut rng = Prng(0x0265_5eed);
    let mut p = H265Packetizer::new();
    let mut d = H265Depacketizer::new();
    let mut payloads = 0;
    for round in 0..500 {
        let irap = rng.below(4) == 0;
        let mut nals: Vec<Vec<u8>> = Vec::new();
        if irap {
            for t in [32, 33, 34] {
                nals.push(nal(t, 1, &[1 + rng.below(255) as u8; 3]));
            }
        }
        for k in 0..1 + rng.below(5) {
            let t = if irap && k == 0 { 16 + rng.below(6) as u8 } else { [0u8, 1, 2, 9, 35, 39, 40, 41][rng.below(8)] };
            let len = match rng.below(4) {
                0 => rng.below(3),
                1 => rng.below(100),
                2 => rng.below(3000),
                _ => rng.below(30_000),
            };
            // Content without two zeros in a row and not ending in zero (what emulation prevention and
            // the byte-stream format guarantee).
            let mut body: Vec<u8> = Vec::with_capacity(len);
            for _ in 0..len {
                let b = rng.next() as u8;
                body.push(if b == 0 && body.last().is_none_or(|&l| l == 0) { 0x03 } else { b });
            }
            if body.last() == Some(&0) {
                body.push(0x80);
            }
            nals.push(nal(t, 1 + rng.below(7) as u8, &body));
        }
        // Three-byte start codes and trailing zeros are accepted; the output always has four-byte codes.
        let mut input = Vec::new();
        for n in &nals {
            input.extend(if rng.below(2) == 0 { &[0u8, 0, 1][..] } else { &[0u8, 0, 0, 1][..] });
            input.extend(n);
            if rng.below(8) == 0 {
                input.extend([0, 0]);
            }
        }
        let max = match round % 3 {
            0 => 4 + rng.below(30),
            _ => 100 + rng.below(1400),
        };
        let out = packetize_all(&mut p, &input, max);
        let mut got = Vec::new();
        for (i, (data, marker)) in out.iter().enumerate() {
            assert!(data.len() <= max, "round {round}");
            assert_eq!(*marker, i + 1 == out.len(), "round {round}");
            let info = d.depacketize(data, &mut got).unwrap_or_else(|e| panic!("round {round}: {e:?}"));
            if i == 0 {
                assert_eq!(info.keyframe, irap, "round {round}");
            }
        }
        assert_eq!(got, annex_b(&nals), "round {round} (max {max})");
        payloads += out.len();
    }
    assert_eq!(d.errors(), 0);
    assert!(payloads > 2000, "{payloads}");
}

fn rejected(d: &mut H265Depacketizer, payload: &[u8], want: DepacketizeError) {
    let errors = d.errors();
    let mut frame = vec![0xee];
    assert_eq!(d.depacketize(payload, &mut frame), Err(want), "{payload:02x?}");
    assert_eq!(frame, [0xee], "nothing appended on error");
    assert_eq!(d.errors(), errors + 1, "counted");
}

#[test]
fn bad_payloads_are_typed_errors() {
    let mut d = H265Depacketizer::new();
    rejected(&mut d, &[], DepacketizeError::Empty);
    rejected(&mut d, &[0x02], DepacketizeError::Truncated);
    // TID 0.
    rejected(&mut d, &[0x02, 0x00, 1], DepacketizeError::Malformed);
    // An FU without its start, and one with S and E both set.
    rejected(&mut d, &[0x62, 0x01, 0x13, 1, 2], DepacketizeError::BadFragment);
    rejected(&mut d, &[0x62, 0x01, 0xd3, 1, 2], DepacketizeError::Malformed);
    // FuType 48 (an AP cannot be fragmented), and an empty FU payload.
    rejected(&mut d, &[0x62, 0x01, 0x80 | 48, 1], DepacketizeError::Malformed);
    rejected(&mut d, &[0x62, 0x01, 0x93], DepacketizeError::Malformed);
    // AP: a unit length past the end (the first, valid unit is not appended either); a half size field;
    // a single unit; a nested AP.
    rejected(&mut d, &[0x60, 0x01, 0, 3, 0x02, 0x01, 7, 0, 9, 0x02, 0x01], DepacketizeError::BadLength);
    rejected(&mut d, &[0x60, 0x01, 0, 3, 0x02, 0x01, 7, 0], DepacketizeError::BadLength);
    rejected(&mut d, &[0x60, 0x01, 0, 3, 0x02, 0x01, 7], DepacketizeError::Malformed);
    rejected(&mut d, &[0x60, 0x01, 0, 2, 0x60, 0x01, 0, 2, 0x02, 0x01], DepacketizeError::Malformed);
    // PACI.
    rejected(&mut d, &[0x64, 0x01, 0, 0], DepacketizeError::Unsupported);
    assert_eq!(d.errors(), 12);

    // The bound on a fragmented NAL unit; the run is then dropped.
    let mut d = H265Depacketizer::with_max_fragment(8);
    let mut frame = Vec::new();
    d.depacketize(&[0x62, 0x01, 0x93, 1, 2, 3], &mut frame).unwrap();
    rejected(&mut d, &[0x62, 0x01, 0x13, 4, 5, 6, 7], DepacketizeError::BadFragment);
    rejected(&mut d, &[0x62, 0x01, 0x53, 8], DepacketizeError::BadFragment);
    // A lost end: a new single NAL drops the partial unit; reset() forgets it too.
    d.depacketize(&[0x62, 0x01, 0x93, 1], &mut frame).unwrap();
    d.depacketize(&[0x02, 0x01, 0x80], &mut frame).unwrap();
    assert_eq!(frame, [0, 0, 0, 1, 0x02, 0x01, 0x80]);
    rejected(&mut d, &[0x62, 0x01, 0x53, 2], DepacketizeError::BadFragment);
    d.depacketize(&[0x62, 0x01, 0x93, 1], &mut frame).unwrap();
    d.reset();
    rejected(&mut d, &[0x62, 0x01, 0x53, 2], DepacketizeError::BadFragment);
}
