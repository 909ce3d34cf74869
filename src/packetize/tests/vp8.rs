#![allow(clippy::indexing_slicing, clippy::unwrap_used)]

use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::SeededRng;
use crate::rtp::Packet;

/// The VP8 payload of a packet Chromium sent (vectors/browser/chromium-rtp, SRTP already removed).
fn chromium_payload(bytes: &[u8]) -> &[u8] {
    let p = Packet::new_checked(bytes).unwrap();
    &bytes[p.header_len()..bytes.len() - p.padding_len()]
}

const KEYFRAME_START: &[u8] = include_bytes!("../../../vectors/browser/chromium-rtp/vp8-keyframe-start.bin");
const DELTA: &[u8] = include_bytes!("../../../vectors/browser/chromium-rtp/vp8-delta.bin");

fn depacketize(payload: &[u8]) -> Result<(PayloadInfo, Vec<u8>), DepacketizeError> {
    let mut d = Vp8Depacketizer::new();
    let mut frame = Vec::new();
    d.depacketize(payload, &mut frame).map(|info| (info, frame))
}

/// RFC 7741 §4.6.1: a key frame in one packet, 7-bit picture id 17, P bit clear.
#[test]
fn rfc7741_key_frame_in_one_packet() {
    let payload = [0b1001_0000, 0b1000_0000, 17, 0b1001_0000, 0x01, 0x00, 0x9d, 0x01, 0x2a];
    let (d, data) = Descriptor::parse(&payload).unwrap();
    assert_eq!(
        d,
        Descriptor { start: true, partition: 0, picture_id: Some(PictureId::Short(17)), ..Descriptor::default() }
    );
    assert_eq!(data, &payload[3..]);
    let (info, frame) = depacketize(&payload).unwrap();
    assert_eq!(frame, &payload[3..]);
    assert!(info.frame_start && info.keyframe);
    assert_eq!(info.picture_id, Some(17));
    assert_eq!(info.frame_end, None);
    // The descriptor emits back to the same octets.
    let mut out = Vec::new();
    d.emit(&mut out);
    assert_eq!(out, &payload[..3]);
    assert_eq!(d.buffer_len(), 3);
}

/// RFC 7741 §4.6.2: an interframe, no extensions (X = 0), P bit set.
#[test]
fn rfc7741_interframe_without_picture_id() {
    let payload = [0b0001_0000, 0b1001_0001, 0x02, 0x00, 0xaa];
    let (d, data) = Descriptor::parse(&payload).unwrap();
    assert_eq!(d, Descriptor { start: true, ..Descriptor::default() });
    assert_eq!(data, &payload[1..]);
    let (info, _) = depacketize(&payload).unwrap();
    assert!(info.frame_start);
    assert!(!info.keyframe, "P = 1");
    assert_eq!(info.picture_id, None);
    let mut out = Vec::new();
    d.emit(&mut out);
    assert_eq!(out, [0b0001_0000]);
}

/// RFC 7741 §4.6.3 and §4.6.4: the packets after the first partition: S = 1 with PID = 1 starts a
/// partition but not the frame; S = 0 continues one.
#[test]
fn rfc7741_partitions_and_fragments() {
    // §4.6.3/§4.6.4, second packet: X = 1; S = 1; PID = 1; I = 1; PictureID = 17.
    let second = [0b1001_0001, 0b1000_0000, 0b0001_0001, 0xfe];
    let (d, _) = Descriptor::parse(&second).unwrap();
    assert!(d.start && d.partition == 1 && !d.frame_start());
    let (info, _) = depacketize(&second).unwrap();
    // Data that would read as a key frame's P bit does not count outside the frame's first packet.
    assert!(!info.frame_start && !info.keyframe);
    assert_eq!(info.picture_id, Some(17));
    // §4.6.4, third and fourth packets: X = 1; S = 0; PID = 1.
    let third = [0b1000_0001, 0b1000_0000, 0b0001_0001, 0x00];
    let (d, data) = Descriptor::parse(&third).unwrap();
    assert!(!d.start && d.partition == 1);
    assert_eq!(data, [0x00]);
}

/// RFC 7741 §4.6.5: PictureID 4711 in 15 bits, 1001 0010 0110 0111.
#[test]
fn rfc7741_long_picture_id() {
    let payload = [0b1001_0000, 0b1000_0000, 0b1001_0010, 0b0110_0111, 0b0001_0001, 0, 0];
    let (d, data) = Descriptor::parse(&payload).unwrap();
    assert_eq!(d.picture_id, Some(PictureId::Long(4711)));
    assert_eq!(data.len(), 3);
    let mut out = Vec::new();
    d.emit(&mut out);
    assert_eq!(out, &payload[..4]);
}

/// Every extension at once: TL0PICIDX, TID with the sync bit, KEYIDX; and K without T (the TID is then
/// ignored, RFC 7741 §4.2).
#[test]
fn all_extensions() {
    let payload = [0b1011_0000, 0b1111_0000, 0x80 | 0x12, 0x34, 200, 0b1010_0111, 0xff];
    let (d, data) = Descriptor::parse(&payload).unwrap();
    assert_eq!(
        d,
        Descriptor {
            non_reference: true,
            start: true,
            partition: 0,
            picture_id: Some(PictureId::Long(0x1234)),
            tl0_pic_idx: Some(200),
            temporal: Some((2, true)),
            key_idx: Some(7),
        }
    );
    assert_eq!(data, [0xff]);
    let mut out = Vec::new();
    d.emit(&mut out);
    assert_eq!(out, &payload[..6]);
    let (info, _) = depacketize(&payload).unwrap();
    assert_eq!(info.temporal_layer, 2);

    let k_only = [0b1001_0000, 0b0001_0000, 0b1100_0011, 0x00];
    let (d, _) = Descriptor::parse(&k_only).unwrap();
    assert_eq!((d.temporal, d.key_idx), (None, Some(3)));
    let mut out = Vec::new();
    d.emit(&mut out);
    assert_eq!(out, [0b1001_0000, 0b0001_0000, 0b0000_0011]);
}

/// Chromium's first packet of a key frame: 15-bit picture id, S = 1, PID = 0, P bit clear; the data is
/// the frame's payload header with the start code and 320×240.
#[test]
fn chromium_key_frame_start() {
    let payload = chromium_payload(KEYFRAME_START);
    let (d, data) = Descriptor::parse(payload).unwrap();
    assert_eq!(
        d,
        Descriptor { start: true, partition: 0, picture_id: Some(PictureId::Long(23550)), ..Descriptor::default() }
    );
    assert_eq!(&data[3..6], [0x9d, 0x01, 0x2a]);
    assert!(is_key_frame(data));
    let (info, frame) = depacketize(payload).unwrap();
    assert_eq!(
        info,
        PayloadInfo { frame_start: true, keyframe: true, picture_id: Some(23550), ..PayloadInfo::default() }
    );
    assert_eq!(frame, data);
}

/// Chromium's first packet of the next frame, an interframe: the picture id is one more.
#[test]
fn chromium_delta_frame() {
    let (info, frame) = depacketize(chromium_payload(DELTA)).unwrap();
    assert!(info.frame_start);
    assert!(!info.keyframe);
    assert_eq!(info.picture_id, Some(23551));
    assert_eq!(frame[0] & 0x01, 1, "P bit set");
}

/// Truncated descriptors and empty payloads are typed errors, counted, and append nothing.
#[test]
fn bad_payloads() {
    let cases: [(&[u8], DepacketizeError); 9] = [
        (&[], DepacketizeError::Empty),
        (&[0x90], DepacketizeError::Truncated),       // X set, no extension octet
        (&[0x90, 0x80], DepacketizeError::Truncated), // I set, no picture id
        (&[0x90, 0x80, 0x80], DepacketizeError::Truncated), // M set, one octet of two
        (&[0x90, 0x40], DepacketizeError::Truncated), // L set, no TL0PICIDX
        (&[0x90, 0x20], DepacketizeError::Truncated), // T set, no TID octet
        (&[0x90, 0x10], DepacketizeError::Truncated), // K set, no KEYIDX octet
        (&[0x10], DepacketizeError::Truncated),       // a descriptor and no data
        (&[0x90, 0xf0, 0x80, 0x01, 0x02, 0x03], DepacketizeError::Truncated),
    ];
    let mut d = Vp8Depacketizer::new();
    let mut frame = vec![0xaa];
    for (i, (payload, error)) in cases.iter().enumerate() {
        assert_eq!(d.depacketize(payload, &mut frame), Err(*error), "case {i}: {payload:02x?}");
        assert_eq!(d.errors(), i as u64 + 1);
    }
    assert_eq!(frame, [0xaa], "nothing appended");
}

#[test]
fn packetizer_limits() {
    let mut p = Vp8Packetizer::new(0);
    let mut emitted = 0;
    assert_eq!(p.packetize(&[], 1200, &mut |_| emitted += 1), Err(PacketizeError::BadFrame));
    assert_eq!(p.packetize(&[0; 10], MIN_PAYLOAD - 1, &mut |_| emitted += 1), Err(PacketizeError::MtuTooSmall));
    assert_eq!(emitted, 0);
    assert_eq!(p.next_picture_id(), 0, "failures do not use up a picture id");
    // The smallest payload carries one octet of data each.
    assert_eq!(p.packetize(&[1, 2, 3], MIN_PAYLOAD, &mut |pl| assert_eq!(pl.data.len(), 5)), Ok(3));
    // A limit far above the frame: one payload, and the scratch buffer sized by the frame, not the limit.
    let mut one = Vec::new();
    assert_eq!(p.packetize(&[1, 2, 3], usize::MAX, &mut |pl| one.push(pl.data.to_vec())), Ok(1));
    assert_eq!(one, [vec![0x90, 0x80, 0x80, 0x01, 1, 2, 3]]);
    assert!(p.buf.capacity() < 1024);
}

/// The packetizer's payloads, exactly: descriptors with X, I, M, S on the first, sizes split evenly.
#[test]
fn packetizer_output() {
    let mut p = Vp8Packetizer::new(4711);
    let frame: Vec<u8> = (0..10).collect();
    let mut out: Vec<(Vec<u8>, bool)> = Vec::new();
    assert_eq!(p.packetize(&frame, 4 + 4, &mut |pl| out.push((pl.data.to_vec(), pl.marker))), Ok(3));
    assert_eq!(
        out,
        [
            (vec![0x90, 0x80, 0x92, 0x67, 0, 1, 2, 3], false),
            (vec![0x80, 0x80, 0x92, 0x67, 4, 5, 6], false),
            (vec![0x80, 0x80, 0x92, 0x67, 7, 8, 9], true),
        ]
    );
    assert_eq!(p.next_picture_id(), 4712);
}

/// Random frames of many sizes through many payload sizes: the frames come back byte for byte, no payload
/// exceeds the limit, the marker is on the last payload only, the picture id counts frames and wraps at
/// 2^15.
#[test]
fn round_trip() {
    let mut rng = SeededRng::from_seed([8; 32]);
    let mut p = Vp8Packetizer::new(0x7ff0);
    let mut d = Vp8Depacketizer::new();
    let mut expected_id = 0x7ff0u16;
    let sizes = [1usize, 2, 3, 7, 100, 1199, 1200, 1201, 5000, 20_000];
    let mtus = [MIN_PAYLOAD, MIN_PAYLOAD + 1, 6, 50, 1000, 1200, 1500];
    for &size in &sizes {
        for &mtu in &mtus {
            if size > 5000 && mtu < 50 {
                continue;
            }
            let mut frame = vec![0u8; size];
            rng.fill(&mut frame);
            let mut payloads: Vec<(Vec<u8>, bool)> = Vec::new();
            let n = p.packetize(&frame, mtu, &mut |pl| payloads.push((pl.data.to_vec(), pl.marker))).unwrap();
            assert_eq!(n, payloads.len());
            assert_eq!(n, size.div_ceil(mtu - 4), "size {size} mtu {mtu}");
            let mut received = Vec::new();
            for (i, (data, marker)) in payloads.iter().enumerate() {
                assert!(data.len() <= mtu);
                assert_eq!(*marker, i + 1 == n, "marker on the last payload only");
                let info = d.depacketize(data, &mut received).unwrap();
                assert_eq!(info.frame_start, i == 0);
                assert_eq!(info.keyframe, i == 0 && frame[0] & 1 == 0);
                assert_eq!(info.picture_id, Some(expected_id));
            }
            // Sizes differ by at most one octet.
            let lens: Vec<usize> = payloads.iter().map(|(d, _)| d.len()).collect();
            assert!(lens.iter().max().unwrap() - lens.iter().min().unwrap() <= 1);
            assert_eq!(received, frame);
            expected_id = (expected_id + 1) & 0x7fff;
        }
    }
    assert!(expected_id < 0x7ff0, "the picture id wrapped");
    assert_eq!(d.errors(), 0);
}

/// `packetize_parts` hands over the same payloads as `packetize` (descriptor, then a run borrowed from the
/// frame), with the same markers, count, errors and picture id sequence.
#[test]
fn parts_are_the_same_payloads() {
    let mut rng = SeededRng::from_seed([9; 32]);
    let mut whole = Vp8Packetizer::new(0x7ffe);
    let mut parts = Vp8Packetizer::new(0x7ffe);
    for &size in &[1usize, 2, 5, 1196, 1197, 3000, 20_000] {
        for &mtu in &[MIN_PAYLOAD, 7, 1200] {
            let mut frame = vec![0u8; size];
            rng.fill(&mut frame);
            let mut expected: Vec<(Vec<u8>, bool)> = Vec::new();
            let n = whole.packetize(&frame, mtu, &mut |p| expected.push((p.data.to_vec(), p.marker))).unwrap();
            let mut got: Vec<(Vec<u8>, bool)> = Vec::new();
            let frame_bytes = frame.as_ptr_range();
            let m = parts
                .packetize_parts(&frame, mtu, &mut |p| {
                    assert_eq!(p.header.len(), 4);
                    assert!(frame_bytes.contains(&p.body.as_ptr()), "the body borrows the frame");
                    got.push(([p.header, p.body].concat(), p.marker));
                })
                .unwrap();
            assert_eq!((m, got), (n, expected), "size {size} mtu {mtu}");
            assert_eq!(parts.next_picture_id(), whole.next_picture_id());
        }
    }
    assert!(parts.next_picture_id() < 0x7ffe, "the picture id wrapped");
    let mut emitted = 0;
    assert_eq!(parts.packetize_parts(&[], 1200, &mut |_| emitted += 1), Err(PacketizeError::BadFrame));
    assert_eq!(parts.packetize_parts(&[1], MIN_PAYLOAD - 1, &mut |_| emitted += 1), Err(PacketizeError::MtuTooSmall));
    assert_eq!(emitted, 0);
    assert_eq!(parts.next_picture_id(), whole.next_picture_id(), "failures do not use up a picture id");
}

/// The trait's default `packetize_parts` (a format that does not override it): each whole payload as the
/// header, an empty body.
#[test]
fn default_parts_are_whole_payloads() {
    let frame = [0xf8u8, 1, 2, 3];
    let mut p = crate::packetize::opus::OpusPacketizer::new();
    let mut got = Vec::new();
    assert_eq!(
        p.packetize_parts(&frame, 1200, &mut |pl| got.push((pl.header.to_vec(), pl.body.len(), pl.marker))),
        Ok(1)
    );
    let mut q = crate::packetize::opus::OpusPacketizer::new();
    let mut expected = Vec::new();
    assert_eq!(q.packetize(&frame, 1200, &mut |pl| expected.push((pl.data.to_vec(), 0, pl.marker))), Ok(1));
    assert_eq!(got, expected);
    assert_eq!(got[0].0, frame);
}
