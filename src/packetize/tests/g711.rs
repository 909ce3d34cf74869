#![allow(clippy::indexing_slicing, clippy::unwrap_used)]

use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::SeededRng;

/// RFC 3551 Table 4 and §4.5.14: PCMU is 0, PCMA 8, 8000 Hz, one octet per sample.
#[test]
fn format_constants() {
    assert_eq!((Law::Mu.payload_type(), Law::Mu.encoding_name()), (0, "PCMU"));
    assert_eq!((Law::A.payload_type(), Law::A.encoding_name()), (8, "PCMA"));
    assert_eq!(CLOCK_RATE, 8000);
    // 20 ms, the default packetization interval: 160 samples, 160 ticks.
    assert_eq!(samples_per_frame(DEFAULT_PTIME_OCTETS), 160);
    assert_eq!(timestamp_increment(DEFAULT_PTIME_OCTETS), 160);
    assert_eq!(duration_us(DEFAULT_PTIME_OCTETS), 20_000);
    assert_eq!(duration_us(MAX_PTIME_OCTETS), 200_000);
}

#[test]
fn packetizer_checks() {
    let mut p = G711Packetizer::new(Law::A);
    let mut out = Vec::new();
    assert_eq!(p.packetize(&[], 1200, &mut |pl| out.push(pl.data.len())), Err(PacketizeError::BadFrame));
    // More than 200 ms.
    assert_eq!(p.packetize(&[0xd5; 1601], 2000, &mut |pl| out.push(pl.data.len())), Err(PacketizeError::BadFrame));
    assert_eq!(p.packetize(&[0xd5; 161], 160, &mut |pl| out.push(pl.data.len())), Err(PacketizeError::MtuTooSmall));
    assert!(out.is_empty());
    assert_eq!(p.packetize(&[0xd5; 1600], 1600, &mut |pl| out.push(pl.data.len())), Ok(1));
    assert_eq!(out, [1600]);
    let mut markers = Vec::new();
    p.start_talkspurt();
    p.packetize(&[0xd5; 160], 160, &mut |pl| markers.push(pl.marker)).unwrap();
    p.packetize(&[0xd5; 160], 160, &mut |pl| markers.push(pl.marker)).unwrap();
    assert_eq!(markers, [true, false]);
}

#[test]
fn empty_payload_is_an_error() {
    let mut d = G711Depacketizer::new(Law::Mu);
    let mut frame = vec![0xff];
    assert_eq!(d.depacketize(&[], &mut frame), Err(DepacketizeError::Empty));
    assert_eq!(d.errors(), 1);
    assert_eq!(frame, [0xff]);
    let info = d.depacketize(&[1, 2], &mut frame).unwrap();
    assert_eq!(frame, [0xff, 1, 2]);
    assert!(info.frame_start && info.keyframe);
}

#[test]
fn round_trip() {
    let mut rng = SeededRng::from_seed([7; 32]);
    for law in [Law::Mu, Law::A] {
        let mut p = G711Packetizer::new(law);
        let mut d = G711Depacketizer::new(law);
        for len in [1, 2, 80, 160, 320, 1599, 1600] {
            let mut block = vec![0u8; len];
            rng.fill(&mut block);
            let mut frame = Vec::new();
            let n = p
                .packetize(&block, len, &mut |pl| {
                    assert!(!pl.marker);
                    d.depacketize(pl.data, &mut frame).unwrap();
                })
                .unwrap();
            assert_eq!((n, frame), (1, block));
        }
    }
}
