//! VP9 payload format: RFC 9628's descriptor layouts, round trips of random frames, bad input.

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

/// The start of a profile-0 key frame's uncompressed header (VP9 bitstream 6.2), `w` x `h`.
fn keyframe_header(w: u16, h: u16) -> Vec<u8> {
    let mut bits: Vec<bool> = Vec::new();
    let mut put = |v: u32, n: u32| (0..n).rev().for_each(|i| bits.push(v >> i & 1 == 1));
    put(2, 2); // frame_marker
    put(0, 2); // profile 0
    put(0, 1); // show_existing_frame
    put(0, 1); // frame_type KEY_FRAME
    put(1, 1); // show_frame
    put(0, 1); // error_resilient_mode
    put(0x49_83_42, 24);
    put(1, 3); // color_space BT.601
    put(0, 1); // color_range
    put(u32::from(w) - 1, 16);
    put(u32::from(h) - 1, 16);
    put(0, 4);
    bits.chunks(8).map(|c| c.iter().fold(0u8, |a, &b| a << 1 | u8::from(b))).collect()
}

#[test]
fn rfc9628_flexible_mode_descriptor() {
    // Figure 2 (flexible mode): I with M (15-bit picture id), L (one octet: TID|U|SID|D), two P_DIFFs
    // (N on the first), then the VP9 data.
    let payload = [
        0xf8,
        0x81,
        0x23,
        0b0101_0011, // TID 2, U, SID 1, D
        (1 << 1) | 1,
        5 << 1,
        0xaa,
        0xbb,
    ];
    let (d, data) = Descriptor::parse(&payload).unwrap();
    assert_eq!(data, [0xaa, 0xbb]);
    assert!(d.flexible && d.inter_predicted && d.begin && !d.end && d.scalability.is_none());
    assert_eq!(d.picture_id, Some((0x0123, true)));
    assert_eq!(
        d.layers,
        Some(LayerIndices {
            temporal_id: 2,
            switching_up: true,
            spatial_id: 1,
            inter_layer_dependency: true,
            tl0_pic_idx: None
        })
    );
    assert_eq!(d.reference_diffs(), [1, 5]);
    assert!(!d.is_keyframe());
}

#[test]
fn rfc9628_non_flexible_mode_descriptor_with_ss() {
    // Figure 3 (non-flexible mode): 7-bit picture id, layer indices with TL0PICIDX, and the SS of
    // section 4.2.1: two spatial layers with resolutions, a picture group of two.
    let payload = [
        0xae, // I L B E V
        0x11, // 7-bit picture id
        0x00, // TID 0, SID 0
        0x42, // TL0PICIDX
        0x38, // N_S = 1, Y, G
        0x01, 0x40, 0x00, 0xb4, // 320 x 180
        0x02, 0x80, 0x01, 0x68, // 640 x 360
        0x02, // N_G
        0x04, 0x02, // TID 0, R = 1: P_DIFF 2
        0x34, 0x01, // TID 1, U, R = 1: P_DIFF 1
        0xde, 0xad,
    ];
    let (d, data) = Descriptor::parse(&payload).unwrap();
    assert_eq!(data, [0xde, 0xad]);
    assert_eq!(d.picture_id, Some((0x11, false)));
    assert_eq!(d.layers.unwrap().tl0_pic_idx, Some(0x42));
    assert!(d.is_keyframe() && d.begin && d.end && !d.flexible);
    let ss = d.scalability.unwrap();
    assert_eq!(ss.as_bytes(), &payload[4..18]);
    assert_eq!(ss.spatial_layers(), 2);
    assert_eq!(ss.resolutions().collect::<Vec<_>>(), [(320, 180), (640, 360)]);
    let pg: Vec<_> = ss.picture_group().collect();
    assert_eq!(pg.len(), 2);
    assert_eq!((pg[0].temporal_id, pg[0].switching_up, pg[0].reference_diffs()), (0, false, &[2][..]));
    assert_eq!((pg[1].temporal_id, pg[1].switching_up, pg[1].reference_diffs()), (1, true, &[1][..]));

    let info = Vp9Depacketizer::new().depacketize(&payload, &mut Vec::new()).unwrap();
    assert_eq!(
        info,
        PayloadInfo {
            frame_start: true,
            frame_end: Some(true),
            keyframe: true,
            picture_id: Some(0x11),
            spatial_layer: 0,
            temporal_layer: 0
        }
    );
}

#[test]
fn packetizer_layout_key_and_delta_frames() {
    let hdr = keyframe_header(320, 180);
    assert_eq!(keyframe_size(&hdr), Some((320, 180)));
    let mut key = hdr.clone();
    key.resize(30, 0x55);
    let mut p = Vp9Packetizer::new(0x1234);
    let mut out = Vec::new();
    assert_eq!(p.packetize(&key, 20, &mut |pl| out.push((pl.data.to_vec(), pl.marker))), Ok(3));
    // First: I|B|V, picture id with M, SS (one layer, 320x180, N_G = 1: R = 1, P_DIFF 1), 9 data bytes.
    let mut first = vec![0x8a, 0x92, 0x34, 0x18, 0x01, 0x40, 0x00, 0xb4, 0x01, 0x04, 0x01];
    first.extend(&key[..9]);
    assert_eq!(out[0], (first, false));
    let mut second = vec![0x80, 0x92, 0x34];
    second.extend(&key[9..26]);
    assert_eq!(out[1], (second, false));
    let mut third = vec![0x84, 0x92, 0x34];
    third.extend(&key[26..]);
    assert_eq!(out[2], (third, true));

    // A delta frame: P set, no SS, the next picture id; one payload with B and E.
    out.clear();
    assert_eq!(p.packetize(&[0x86, 1, 2], 20, &mut |pl| out.push((pl.data.to_vec(), pl.marker))), Ok(1));
    assert_eq!(out, [(vec![0xcc, 0x92, 0x35, 0x86, 1, 2], true)]);
    assert_eq!(p.next_picture_id(), 0x1236);

    // Picture ids wrap at 2^15.
    let mut p = Vp9Packetizer::new(0x7fff);
    p.packetize(&[0x86], 20, &mut |_| ()).unwrap();
    assert_eq!(p.next_picture_id(), 0);
    assert_eq!(p.packetize(&key, 11, &mut |_| ()), Err(PacketizeError::MtuTooSmall));
    assert_eq!(p.packetize(&[1], 3, &mut |_| ()), Err(PacketizeError::MtuTooSmall));
    assert_eq!(p.packetize(&[], 100, &mut |_| ()), Err(PacketizeError::BadFrame));
}

#[test]
fn random_frames_round_trip() {
    let mut rng = Prng(0x0095_eed9);
    let mut p = Vp9Packetizer::new(rng.next() as u16);
    let mut d = Vp9Depacketizer::new();
    let mut payloads = 0;
    for round in 0..500 {
        let len = match rng.below(3) {
            0 => 1 + rng.below(50),
            1 => 1 + rng.below(3000),
            _ => 1 + rng.below(30_000),
        };
        let key = rng.below(4) == 0;
        let mut frame: Vec<u8> =
            if key { keyframe_header(1 + rng.below(4000) as u16, 1 + rng.below(3000) as u16) } else { vec![0x86] };
        frame.extend((0..len).map(|_| rng.next() as u8));
        let max = if round % 3 == 0 { 12 + rng.below(30) } else { 100 + rng.below(1400) };
        let pid = p.next_picture_id();
        let mut out = Vec::new();
        p.packetize(&frame, max, &mut |pl| out.push((pl.data.to_vec(), pl.marker))).unwrap();
        let mut got = Vec::new();
        for (i, (data, marker)) in out.iter().enumerate() {
            let last = i + 1 == out.len();
            assert!(data.len() <= max, "round {round}");
            assert_eq!(*marker, last, "round {round}");
            let info = d.depacketize(data, &mut got).unwrap();
            assert_eq!((info.frame_start, info.frame_end), (i == 0, Some(last)), "round {round}");
            assert_eq!(info.keyframe, key && i == 0, "round {round}");
            assert_eq!(info.picture_id, Some(pid));
            let (desc, _) = Descriptor::parse(data).unwrap();
            assert_eq!(desc.scalability.is_some(), key && i == 0);
        }
        assert_eq!(got, frame, "round {round} (max {max})");
        payloads += out.len();
    }
    assert_eq!(d.errors(), 0);
    assert!(payloads > 2000, "{payloads}");
}

fn rejected(d: &mut Vp9Depacketizer, payload: &[u8], want: DepacketizeError) {
    let errors = d.errors();
    let mut frame = vec![0xee];
    assert_eq!(d.depacketize(payload, &mut frame), Err(want), "{payload:02x?}");
    assert_eq!(frame, [0xee], "nothing appended on error");
    assert_eq!(d.errors(), errors + 1, "counted");
}

#[test]
fn bad_payloads_are_typed_errors() {
    let mut d = Vp9Depacketizer::new();
    rejected(&mut d, &[], DepacketizeError::Empty);
    // SS whose N_G claims 5 pictures but describes one, the rest of the payload too short.
    rejected(&mut d, &[0x8a, 0x01, 0x08, 0x05, 0x04, 0x01, 0xaa], DepacketizeError::Malformed);
    // SS truncated inside the resolutions.
    rejected(&mut d, &[0x8a, 0x01, 0x30, 0x01, 0x40, 0x00], DepacketizeError::Malformed);
    // SS with a zero P_DIFF, and one with a zero width.
    rejected(&mut d, &[0x8a, 0x01, 0x08, 0x01, 0x04, 0x00, 0xaa], DepacketizeError::Malformed);
    rejected(&mut d, &[0x8a, 0x01, 0x10, 0x00, 0x00, 0x00, 0xb4, 0xaa], DepacketizeError::Malformed);
    // Four flexible-mode references, and references without a picture id.
    rejected(&mut d, &[0xd8, 0x01, 0x03, 0x03, 0x03, 0x03, 0xaa], DepacketizeError::Malformed);
    rejected(&mut d, &[0x58, 0x02, 0xaa], DepacketizeError::Malformed);
    // Descriptor truncated (15-bit picture id cut), and nothing after the descriptor.
    rejected(&mut d, &[0x88, 0x81], DepacketizeError::Truncated);
    rejected(&mut d, &[0x88, 0x01], DepacketizeError::Truncated);
    // A middle payload with no frame started.
    rejected(&mut d, &[0x80, 0x01, 0xaa], DepacketizeError::BadFragment);
    assert_eq!(d.errors(), 10);

    // After the errors a frame start is accepted again; reset() forgets the frame in progress.
    let mut frame = Vec::new();
    d.depacketize(&[0x88, 0x01, 0xaa], &mut frame).unwrap();
    d.depacketize(&[0x84, 0x01, 0xbb], &mut frame).unwrap();
    assert_eq!(frame, [0xaa, 0xbb]);
    d.depacketize(&[0x88, 0x02, 0xcc], &mut frame).unwrap();
    d.reset();
    rejected(&mut d, &[0x84, 0x02, 0xdd], DepacketizeError::BadFragment);
}
