//! AV1 payload format: the specification's layouts, round trips of random temporal units, bad input.

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
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn leb(v: usize) -> Vec<u8> {
    let mut out = Vec::new();
    leb128::write(v as u32, &mut out);
    out
}

/// An OBU in low-overhead format: header (with the size flag and optional extension), size, payload.
fn obu(t: u8, ext: Option<(u8, u8)>, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![(t << 3) | HAS_SIZE_FIELD | if ext.is_some() { EXTENSION_FLAG } else { 0 }];
    if let Some((tid, sid)) = ext {
        out.push((tid << 5) | (sid << 3));
    }
    out.extend(leb(payload.len()));
    out.extend_from_slice(payload);
    out
}

/// The same OBU as an element on the wire: no size field.
fn element(t: u8, ext: Option<(u8, u8)>, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![(t << 3) | if ext.is_some() { EXTENSION_FLAG } else { 0 }];
    if let Some((tid, sid)) = ext {
        out.push((tid << 5) | (sid << 3));
    }
    out.extend_from_slice(payload);
    out
}

fn packetize_all(p: &mut Av1Packetizer, frame: &[u8], max: usize) -> Result<Vec<(Vec<u8>, bool)>, PacketizeError> {
    let mut out = Vec::new();
    let n = p.packetize(frame, max, &mut |pl| out.push((pl.data.to_vec(), pl.marker)))?;
    assert_eq!(n, out.len());
    Ok(out)
}

#[test]
fn spec_example_w2_two_elements_303_bytes() {
    // Section 4.4's size calculation: 303-byte payload, 1-byte aggregation header, a 2-byte length, a
    // 200-byte first element and a 100-byte last element without a length field (W = 2).
    let e1 = element(obu_type::FRAME_HEADER, None, &[0x11; 199]);
    let e2 = element(obu_type::TILE_GROUP, None, &[0x22; 99]);
    let mut payload = vec![0b0010_0000];
    payload.extend([0xc8, 0x01]); // 200
    payload.extend(&e1);
    payload.extend(&e2);
    assert_eq!(payload.len(), 303);

    let (h, els) = AggregationHeader::parse(&payload).unwrap();
    assert_eq!(h, AggregationHeader { z: false, y: false, w: 2, n: false });
    let els: Vec<&[u8]> = els.map(Result::unwrap).collect();
    assert_eq!(els, [&e1[..], &e2[..]]);
    assert_eq!(els[1].len(), 303 - 1 - (2 + 200));

    let mut d = Av1Depacketizer::new();
    let mut frame = Vec::new();
    let info = d.depacketize(&payload, &mut frame).unwrap();
    let mut want = obu(obu_type::FRAME_HEADER, None, &[0x11; 199]);
    want.extend(obu(obu_type::TILE_GROUP, None, &[0x22; 99]));
    assert_eq!(frame, want);
    assert!(info.frame_start && !info.keyframe && info.frame_end.is_none());
}

#[test]
fn spec_example_w0_every_element_has_a_length() {
    // Section 4.4's first figure: W = 0, each element preceded by its leb128 length (two bytes for the
    // first two, one for the last).
    let e1 = element(obu_type::SEQUENCE_HEADER, None, &[0x0a; 149]);
    let e2 = element(obu_type::METADATA, None, &[0x0b; 199]);
    let e3 = element(obu_type::FRAME, None, &[0x0c; 9]);
    let mut payload = vec![0b0000_1000]; // N = 1
    for e in [&e1, &e2, &e3] {
        payload.extend(leb(e.len()));
        payload.extend(e);
    }
    assert_eq!(payload[1..3], [0x96, 0x01]);
    assert_eq!(payload[1 + 2 + 150..1 + 2 + 150 + 2], [0xc8, 0x01]);
    let (h, els) = AggregationHeader::parse(&payload).unwrap();
    assert_eq!(h.w, 0);
    assert!(h.n);
    assert_eq!(els.map(|e| e.unwrap().len()).collect::<Vec<_>>(), [150, 200, 10]);

    let mut frame = Vec::new();
    let info = Av1Depacketizer::new().depacketize(&payload, &mut frame).unwrap();
    assert!(info.keyframe && info.frame_start);
    let mut want = obu(obu_type::SEQUENCE_HEADER, None, &[0x0a; 149]);
    want.extend(obu(obu_type::METADATA, None, &[0x0b; 199]));
    want.extend(obu(obu_type::FRAME, None, &[0x0c; 9]));
    assert_eq!(frame, want);
}

#[test]
fn packetizer_layout_drops_td_and_size_fields() {
    // TD SH FRAME into one payload: N = 1 (sequence header), W = 2, the TD dropped, the SH with a length,
    // the FRAME last without one; no OBU keeps its size field.
    let mut tu = obu(obu_type::TEMPORAL_DELIMITER, None, &[]);
    tu.extend(obu(obu_type::SEQUENCE_HEADER, None, &[1, 2, 3]));
    tu.extend(obu(obu_type::FRAME, None, &[4, 5, 6, 7]));
    let out = packetize_all(&mut Av1Packetizer::new(), &tu, 1200).unwrap();
    assert_eq!(out, [(vec![0x28, 4, 0x08, 1, 2, 3, 0x30, 4, 5, 6, 7], true)]);

    // No sequence header: N = 0. A 3-byte budget fragments: [agg, hdr, 4] [Z agg, 5, 6] [Z agg, 7].
    let tu = obu(obu_type::FRAME, None, &[4, 5, 6, 7]);
    let out = packetize_all(&mut Av1Packetizer::new(), &tu, 3).unwrap();
    assert_eq!(out, [(vec![0x50, 0x30, 4], false), (vec![0xd0, 5, 6], false), (vec![0x90, 7], true)]);
    assert_eq!(Av1Packetizer::new().packetize(&tu, 1, &mut |_| ()), Err(PacketizeError::MtuTooSmall));
    // Only a temporal delimiter: nothing to send.
    let td = obu(obu_type::TEMPORAL_DELIMITER, None, &[]);
    assert_eq!(Av1Packetizer::new().packetize(&td, 100, &mut |_| ()), Err(PacketizeError::BadFrame));
    // An OBU size past the end of the frame.
    let mut bad = obu(obu_type::FRAME, None, &[1, 2, 3]);
    bad.pop();
    assert_eq!(Av1Packetizer::new().packetize(&bad, 100, &mut |_| ()), Err(PacketizeError::BadFrame));
}

#[test]
fn received_temporal_delimiters_and_tile_lists_are_ignored() {
    // Section 5: both "MUST be ignored by receivers". W = 3: TD (with a length), tile list, frame.
    let mut payload = vec![0x30, 0x01, 0x10, 0x03];
    payload.extend(element(obu_type::TILE_LIST, None, &[1, 2]));
    payload.extend(element(obu_type::FRAME, None, &[3]));
    let mut frame = Vec::new();
    Av1Depacketizer::new().depacketize(&payload, &mut frame).unwrap();
    assert_eq!(frame, obu(obu_type::FRAME, None, &[3]));
}

#[test]
fn packets_do_not_mix_layers() {
    let mut tu = obu(obu_type::FRAME, Some((0, 0)), &[1; 5]);
    tu.extend(obu(obu_type::FRAME, Some((0, 1)), &[2; 5]));
    let out = packetize_all(&mut Av1Packetizer::new(), &tu, 1200).unwrap();
    assert_eq!(out.len(), 2);
    // The first stops early, so its only element carries a length field: W = 0.
    assert_eq!(AggregationHeader::from_byte(out[0].0[0]).w, 0);
    let mut d = Av1Depacketizer::new();
    let mut frame = Vec::new();
    let i0 = d.depacketize(&out[0].0, &mut frame).unwrap();
    let i1 = d.depacketize(&out[1].0, &mut frame).unwrap();
    assert_eq!((i0.spatial_layer, i1.spatial_layer), (0, 1));
    assert_eq!(frame, tu);
}

/// One random OBU: (type, extension, payload, whether the input writes its size field).
type RandomObu = (u8, Option<(u8, u8)>, Vec<u8>);

fn random_tu(rng: &mut Prng) -> (Vec<u8>, Vec<u8>, bool) {
    const TYPES: [u8; 9] = [
        obu_type::SEQUENCE_HEADER,
        obu_type::FRAME_HEADER,
        obu_type::TILE_GROUP,
        obu_type::METADATA,
        obu_type::FRAME,
        obu_type::REDUNDANT_FRAME_HEADER,
        obu_type::PADDING,
        obu_type::TILE_LIST,
        obu_type::TEMPORAL_DELIMITER,
    ];
    let mut obus: Vec<RandomObu> = Vec::new();
    if rng.below(2) == 0 {
        obus.push((obu_type::TEMPORAL_DELIMITER, None, Vec::new()));
    }
    if rng.below(3) == 0 {
        let n = 5 + rng.below(20);
        obus.push((obu_type::SEQUENCE_HEADER, None, rng.bytes(n)));
    }
    let layered = rng.below(3) == 0;
    for _ in 0..1 + rng.below(6) {
        let t = TYPES[rng.below(TYPES.len())];
        let ext = layered.then(|| (rng.below(3) as u8, rng.below(2) as u8));
        let len = match rng.below(4) {
            0 => rng.below(4),
            1 => rng.below(200),
            2 => rng.below(3000),
            _ => rng.below(20_000),
        };
        let payload = rng.bytes(len);
        obus.push((t, ext, payload));
    }
    let mut input = Vec::new();
    let mut want = Vec::new();
    let mut sequence = false;
    let n = obus.len();
    for (i, (t, ext, payload)) in obus.into_iter().enumerate() {
        let full = obu(t, ext, &payload);
        if i + 1 == n && rng.below(4) == 0 {
            // The last OBU may omit its size field; the output gets one.
            input.extend(element(t, ext, &payload));
        } else {
            input.extend(&full);
        }
        if t != obu_type::TEMPORAL_DELIMITER && t != obu_type::TILE_LIST {
            want.extend(full);
            sequence |= t == obu_type::SEQUENCE_HEADER;
        }
    }
    (input, want, sequence)
}

#[test]
fn random_temporal_units_round_trip() {
    let mut rng = Prng(0xa1_5eed);
    let mut p = Av1Packetizer::new();
    let mut d = Av1Depacketizer::new();
    let mut payloads = 0;
    for round in 0..600 {
        let (input, want, sequence) = random_tu(&mut rng);
        let max = match round % 4 {
            0 => 2 + rng.below(8),
            1 => 20 + rng.below(100),
            _ => 200 + rng.below(1300),
        };
        let out = match packetize_all(&mut p, &input, max) {
            Ok(out) => out,
            Err(PacketizeError::BadFrame) if want.is_empty() => continue,
            Err(e) => panic!("round {round}: {e:?}"),
        };
        let mut frame = Vec::new();
        for (i, (data, marker)) in out.iter().enumerate() {
            assert!(data.len() <= max, "round {round}: {} > {max}", data.len());
            assert_eq!(*marker, i + 1 == out.len(), "round {round}: marker only on the last");
            let h = AggregationHeader::from_byte(data[0]);
            assert_eq!(h.n, sequence && i == 0, "round {round}: N on the first payload of a new sequence");
            let info = d.depacketize(data, &mut frame).unwrap_or_else(|e| panic!("round {round}: {e:?}"));
            if i == 0 {
                assert_eq!(info.keyframe, sequence, "round {round}");
            }
        }
        assert_eq!(frame, want, "round {round} (max {max})");
        payloads += out.len();
    }
    assert_eq!(d.errors(), 0);
    assert!(payloads > 3000, "{payloads}");
}

fn rejected(d: &mut Av1Depacketizer, payload: &[u8], want: DepacketizeError) {
    let errors = d.errors();
    let mut frame = vec![0xee];
    assert_eq!(d.depacketize(payload, &mut frame), Err(want), "{payload:02x?}");
    assert_eq!(frame, [0xee], "nothing appended on error");
    assert_eq!(d.errors(), errors + 1, "counted");
}

#[test]
fn bad_payloads_are_typed_errors() {
    let mut d = Av1Depacketizer::new();
    rejected(&mut d, &[], DepacketizeError::Empty);
    // N with Z.
    rejected(&mut d, &[0x88, 0x30, 1], DepacketizeError::Malformed);
    // leb128 with the continuation bit on its 8th byte (overlong), and one above 2^32 - 1.
    let mut overlong = vec![0x00];
    overlong.extend([0x80; 8]);
    overlong.extend([0x01, 0x30, 1]);
    rejected(&mut d, &overlong, DepacketizeError::Malformed);
    rejected(&mut d, &[0x00, 0x80, 0x80, 0x80, 0x80, 0x10, 0x30], DepacketizeError::Malformed);
    // A length past the end, and a length that ends mid-field.
    rejected(&mut d, &[0x00, 0x05, 0x30, 1, 2], DepacketizeError::BadLength);
    rejected(&mut d, &[0x00, 0x80], DepacketizeError::BadLength);
    // A valid first element, then a length past the end: the first is not appended either.
    rejected(&mut d, &[0x00, 0x02, 0x30, 1, 0x09, 0x30], DepacketizeError::BadLength);
    // An element that kept its size field, and the size runs past the element.
    rejected(&mut d, &[0x10, 0x32, 0x05, 1, 2], DepacketizeError::BadLength);
    // The forbidden bit.
    rejected(&mut d, &[0x10, 0xb0, 1], DepacketizeError::Malformed);
    // W = 3 but two elements.
    rejected(&mut d, &[0x30, 0x02, 0x30, 1, 0x01, 0x30], DepacketizeError::Malformed);
    // A continuation (Z = 1) with no fragment started.
    rejected(&mut d, &[0x90, 1, 2], DepacketizeError::BadFragment);
    assert_eq!(d.errors(), 11);

    // Non-minimal lengths are accepted (AV1 section 4.10.5).
    let mut frame = Vec::new();
    d.depacketize(&[0x00, 0x82, 0x80, 0x00, 0x30, 7], &mut frame).unwrap();
    assert_eq!(frame, obu(obu_type::FRAME, None, &[7]));
}

#[test]
fn fragments_are_bounded_and_need_their_start() {
    let mut d = Av1Depacketizer::with_max_fragment(8);
    let mut frame = Vec::new();
    // Y: an OBU starts; Z|Y continues; the run passes 8 bytes.
    d.depacketize(&[0x50, 0x30, 1, 2, 3], &mut frame).unwrap();
    d.depacketize(&[0xd0, 4, 5], &mut frame).unwrap();
    rejected(&mut d, &[0xd0, 6, 7, 8, 9], DepacketizeError::BadFragment);
    // The run was dropped: its continuation is now without a start.
    rejected(&mut d, &[0x90, 10], DepacketizeError::BadFragment);
    assert!(frame.is_empty());

    // A fragment whose end was lost: the next packet starts afresh (Z = 0) and the partial OBU is dropped.
    d.depacketize(&[0x50, 0x30, 1, 2], &mut frame).unwrap();
    d.depacketize(&[0x10, 0x30, 9], &mut frame).unwrap();
    assert_eq!(frame, obu(obu_type::FRAME, None, &[9]));
    // reset() forgets a fragment too.
    frame.clear();
    d.depacketize(&[0x50, 0x30, 1, 2], &mut frame).unwrap();
    d.reset();
    rejected(&mut d, &[0x90, 3], DepacketizeError::BadFragment);
    assert!(frame.is_empty());
}
