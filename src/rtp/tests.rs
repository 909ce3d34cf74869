#![allow(clippy::indexing_slicing)]

use alloc::vec;
use alloc::vec::Vec;

use super::*;

/// A Chromium-style video packet (VP8, PT 96) with the one-byte extensions Chrome negotiates for video:
/// 2 abs-send-time, 3 transport-cc, 4 mid, 10 rtp-stream-id, 12 playout-delay, 13 video-orientation.
fn chrome_video() -> Vec<u8> {
    let mut p = vec![
        0x90, 0xe0, 0x2a, 0x4f, // V=2 X=1, M=1 PT=96, seq 10831
        0x6b, 0x1c, 0x22, 0x10, // timestamp
        0x9a, 0x3e, 0x71, 0x05, // SSRC
        0xbe, 0xde, 0x00, 0x05, // one-byte form, 5 words
        0x22, 0x8c, 0x1e, 0x3a, // ID 2 len 3: abs-send-time
        0x31, 0x01, 0x9c, // ID 3 len 2: transport-wide seq 412
        0x40, b'1', // ID 4 len 1: mid "1"
        0xa0, b'h', // ID 10 len 1: rid "h"
        0xd0, 0x01, // ID 13 len 1: video orientation, rotation 90
        0xc2, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // ID 12 len 3: playout delay 0/0, 3 octets of padding
    ];
    p.extend_from_slice(&[0x90, 0x80, 0x80, 0x9d, 0x01, 0x2a, 0x80, 0x02]); // VP8 descriptor + keyframe start
    p.extend((0..600).map(|i| (i * 13) as u8));
    p
}

fn chrome_map() -> ExtensionMap {
    let mut map = ExtensionMap::new();
    for (id, uri) in [
        (2, "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"),
        (3, "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"),
        (4, "urn:ietf:params:rtp-hdrext:sdes:mid"),
        (10, "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"),
        (11, "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"),
        (12, "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay"),
        (13, "urn:3gpp:video-orientation"),
    ] {
        assert!(map.insert_uri(id, uri), "{uri}");
    }
    map
}

#[test]
fn chrome_video_packet_parses() {
    let bytes = chrome_video();
    let p = Packet::new_checked(&bytes[..]).unwrap();
    assert!(p.marker());
    assert_eq!((p.payload_type(), p.sequence_number(), p.ssrc()), (96, 10831, 0x9a3e_7105));
    assert_eq!(p.timestamp(), 0x6b1c_2210);
    assert_eq!(p.header_len(), 12 + 4 + 20);
    assert_eq!(p.payload().len(), 608);
    let map = chrome_map();
    let values: Vec<ExtensionValue<'_>> = p.extensions().map(|e| map.decode(e.unwrap())).collect();
    assert_eq!(
        values,
        [
            ExtensionValue::AbsSendTime(0x8c1e3a),
            ExtensionValue::TransportWideCc(412),
            ExtensionValue::Mid("1"),
            ExtensionValue::RtpStreamId("h"),
            ExtensionValue::VideoOrientation { back_camera: false, flip: false, rotation: 90 },
            ExtensionValue::PlayoutDelay { min: 0, max: 0 },
        ]
    );
    assert_eq!(p.extension_value(&map, ExtensionKind::Mid), Some(ExtensionValue::Mid("1")));
    assert_eq!(p.extension_value(&map, ExtensionKind::RepairedRtpStreamId), None);
    // Without a mapping the same elements are raw.
    assert!(matches!(ExtensionMap::new().decode(p.extensions().next().unwrap().unwrap()), ExtensionValue::Raw(_)));
}

#[test]
fn repr_round_trips_byte_for_byte() {
    let mut padded = Vec::new();
    let h = Header { marker: false, payload_type: 111, sequence_number: 65535, timestamp: 1, ssrc: 2 };
    let mut w = Writer::new(&mut padded, &h, &[0xaaaa_aaaa, 0xbbbb_bbbb]).unwrap();
    w.start_extensions(ExtensionForm::TwoByte { appbits: 0 }).unwrap();
    w.extension(1, &[]).unwrap();
    w.extension(200, &[7; 20]).unwrap();
    w.finish(&[1, 2, 3], 5).unwrap();
    // Padding octets other than the count need not be zero; they survive too.
    let odd_padding = vec![0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0xff, 0xee, 3];
    for bytes in [chrome_video(), padded, vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], odd_padding] {
        let p = Packet::new_checked(&bytes[..]).unwrap();
        let repr = Repr::parse(&p);
        assert_eq!(repr.buffer_len(), bytes.len());
        let mut out = Vec::new();
        repr.emit(&mut out).unwrap();
        assert_eq!(out, bytes);
    }
}

#[test]
fn writer_builds_the_chrome_packet() {
    let map = chrome_map();
    let mut out = Vec::new();
    let h =
        Header { marker: true, payload_type: 96, sequence_number: 10831, timestamp: 0x6b1c_2210, ssrc: 0x9a3e_7105 };
    let mut w = Writer::new(&mut out, &h, &[]).unwrap();
    w.start_extensions(ExtensionForm::OneByte).unwrap();
    for v in [
        ExtensionValue::AbsSendTime(0x8c1e3a),
        ExtensionValue::TransportWideCc(412),
        ExtensionValue::Mid("1"),
        ExtensionValue::RtpStreamId("h"),
        ExtensionValue::VideoOrientation { back_camera: false, flip: false, rotation: 90 },
        ExtensionValue::PlayoutDelay { min: 0, max: 0 },
    ] {
        w.extension_value(&map, &v).unwrap();
    }
    let chrome = chrome_video();
    w.finish(&chrome[36..], 0).unwrap();
    assert_eq!(out, chrome);
}

#[test]
fn two_byte_form_and_typed_values() {
    let mut map = ExtensionMap::new();
    map.insert(1, ExtensionKind::AudioLevel);
    map.insert(17, ExtensionKind::RepairedRtpStreamId);
    map.insert(18, ExtensionKind::PlayoutDelay);
    let mut out = Vec::new();
    let mut w = Writer::new(&mut out, &Header::default(), &[]).unwrap();
    w.start_extensions(ExtensionForm::TwoByte { appbits: 3 }).unwrap();
    let values = [
        ExtensionValue::AudioLevel { voice: false, level: 42 },
        ExtensionValue::RepairedRtpStreamId("a-long-rid-for-the-two-byte-form"),
        ExtensionValue::PlayoutDelay { min: 0xabc, max: 0x123 },
        ExtensionValue::Raw(Extension { id: 99, data: &[] }),
    ];
    for v in &values {
        w.extension_value(&map, v).unwrap();
    }
    w.finish(b"x", 0).unwrap();
    let p = Packet::new_checked(&out[..]).unwrap();
    assert_eq!(p.extension_profile(), Some(0x1003));
    let got: Vec<_> = p.extensions().map(|e| map.decode(e.unwrap())).collect();
    assert_eq!(got, values);
    // The one-byte form refuses what it cannot carry.
    let mut out = Vec::new();
    let mut w = Writer::new(&mut out, &Header::default(), &[]).unwrap();
    w.start_extensions(ExtensionForm::OneByte).unwrap();
    assert_eq!(w.extension(15, &[1]), Err(Error::ExtensionUnrepresentable));
    assert_eq!(w.extension(1, &[0; 17]), Err(Error::ExtensionUnrepresentable));
    assert_eq!(w.extension(1, &[]), Err(Error::ExtensionUnrepresentable));
}

#[test]
fn audio_packet_with_level_and_padding() {
    // Chrome Opus: ID 1 ssrc-audio-level (V=1, 30 dBov), ID 3 transport-cc; 4 octets of padding.
    let bytes = [
        0xb0, 0x6f, 0x00, 0x05, 0, 0, 0x12, 0xc0, 0x11, 0x22, 0x33, 0x44, 0xbe, 0xde, 0x00, 0x02, 0x10, 0x9e, 0x31,
        0x00, 0x07, 0x00, 0x00, 0x00, 0xfc, 0xff, 0xfe, 0, 0, 0, 4,
    ];
    let p = Packet::new_checked(&bytes[..]).unwrap();
    let mut map = ExtensionMap::new();
    map.insert(1, ExtensionKind::AudioLevel);
    map.insert(3, ExtensionKind::TransportWideCc);
    assert_eq!(
        p.extension_value(&map, ExtensionKind::AudioLevel),
        Some(ExtensionValue::AudioLevel { voice: true, level: 30 })
    );
    assert_eq!(p.extension_value(&map, ExtensionKind::TransportWideCc), Some(ExtensionValue::TransportWideCc(7)));
    assert_eq!(p.payload(), [0xfc, 0xff, 0xfe]);
    assert_eq!(p.padding_len(), 4);
}

#[test]
fn setters() {
    let mut bytes = chrome_video();
    let mut p = Packet::new_checked(&mut bytes[..]).unwrap();
    p.set_marker(false);
    p.set_payload_type(97);
    p.set_sequence_number(1);
    p.set_timestamp(2);
    p.set_ssrc(3);
    p.payload_mut()[0] = 0xff;
    assert_eq!((p.marker(), p.payload_type(), p.sequence_number(), p.timestamp(), p.ssrc()), (false, 97, 1, 2, 3));
    assert_eq!(p.payload()[0], 0xff);
}

#[test]
fn bad_packets_are_errors_never_panics() {
    assert_eq!(Packet::new_checked(&[0x40; 12][..]).unwrap_err(), Error::BadVersion(1));
    let mut bad_pad = vec![0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9];
    assert_eq!(Packet::new_checked(&bad_pad[..]).unwrap_err(), Error::BadPadding);
    bad_pad[12] = 0;
    assert_eq!(Packet::new_checked(&bad_pad[..]).unwrap_err(), Error::BadPadding);
    // Every truncation of a valid packet: an error or a shorter valid reading, never a panic.
    let chrome = chrome_video();
    for n in 0..40 {
        let _ = Packet::new_checked(&chrome[..n]).map(|p| p.extensions().count());
    }
    // An element running past the block.
    let trunc = [0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xde, 0, 1, 0x13, 1, 2, 3];
    let p = Packet::new_checked(&trunc[..]).unwrap();
    assert_eq!(p.extensions().collect::<Vec<_>>(), [Err(Error::ExtensionTruncated)]);
    let mut rng = crate::SeededRng::from_seed([3; 32]);
    for _ in 0..5000 {
        let len = rng.below(64) as usize;
        let mut b: Vec<u8> = (0..len).map(|_| rng.below(256) as u8).collect();
        if let Some(f) = b.first_mut() {
            *f = 0x80 | (*f & 0x3f);
        }
        if let Ok(p) = Packet::new_checked(&b[..]) {
            let map = chrome_map();
            for e in p.extensions().flatten() {
                let _ = map.decode(e);
            }
            let _ = (p.payload(), p.csrcs().count());
            let mut out = Vec::new();
            let repr = Repr::parse(&p);
            if repr.extension.is_none_or(|(_, d)| d.len() % 4 == 0) {
                repr.emit(&mut out).unwrap();
            }
        }
    }
}

#[test]
fn extension_map_reverse_lookup_follows_replacements() {
    let mut map = ExtensionMap::new();
    map.insert(3, ExtensionKind::Mid);
    map.insert(5, ExtensionKind::TransportWideCc);
    assert_eq!(map.id(ExtensionKind::Mid), Some(3));
    // The kind moves to another ID: the old one is free.
    map.insert(4, ExtensionKind::Mid);
    assert_eq!((map.id(ExtensionKind::Mid), map.kind(3), map.kind(4)), (Some(4), None, Some(ExtensionKind::Mid)));
    // Another kind takes the ID: the kind it displaced has none.
    map.insert(4, ExtensionKind::RtpStreamId);
    assert_eq!(map.id(ExtensionKind::Mid), None);
    assert_eq!(map.id(ExtensionKind::RtpStreamId), Some(4));
    map.insert(0, ExtensionKind::AudioLevel);
    assert_eq!(map.id(ExtensionKind::AudioLevel), None);
    let mut want = [0u8; 8];
    want[ExtensionKind::TransportWideCc.index()] = 5;
    want[ExtensionKind::RtpStreamId.index()] = 4;
    assert_eq!(map.ids(), want);
    for (i, kind) in ExtensionKind::ALL.into_iter().enumerate() {
        assert_eq!(kind.index(), i);
    }
}
