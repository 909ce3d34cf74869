#![allow(clippy::indexing_slicing, clippy::unwrap_used)]

use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::SeededRng;

/// RFC 3551 §4.5.2: 16 kHz audio on an 8000 Hz RTP clock; 20 ms is 160 octets, 320 samples, 160 ticks.
#[test]
fn clock_rate_quirk() {
    assert_eq!((PAYLOAD_TYPE, CLOCK_RATE, SAMPLE_RATE), (9, 8000, 16_000));
    assert_eq!(samples_per_frame(DEFAULT_PTIME_OCTETS), 320);
    assert_eq!(timestamp_increment(DEFAULT_PTIME_OCTETS), 160);
    assert_eq!(duration_us(DEFAULT_PTIME_OCTETS), 20_000);
    // The timestamp increment over the clock rate is the duration, as the samples over the sampling rate.
    for octets in [1usize, 80, 160, 1600] {
        let by_clock = u64::from(timestamp_increment(octets)) * 1_000_000 / u64::from(CLOCK_RATE);
        let by_samples = samples_per_frame(octets) as u64 * 1_000_000 / u64::from(SAMPLE_RATE);
        assert_eq!(by_clock, by_samples);
        assert_eq!(by_clock, duration_us(octets));
    }
}

#[test]
fn checks_and_errors() {
    let mut p = G722Packetizer::new();
    let mut out = 0;
    assert_eq!(p.packetize(&[], 1200, &mut |_| out += 1), Err(PacketizeError::BadFrame));
    assert_eq!(p.packetize(&[1; 1601], 2000, &mut |_| out += 1), Err(PacketizeError::BadFrame));
    assert_eq!(p.packetize(&[1; 200], 199, &mut |_| out += 1), Err(PacketizeError::MtuTooSmall));
    assert_eq!(out, 0);
    let mut d = G722Depacketizer::new();
    let mut frame = vec![9];
    assert_eq!(d.depacketize(&[], &mut frame), Err(DepacketizeError::Empty));
    assert_eq!((d.errors(), &frame[..]), (1, &[9][..]));
}

#[test]
fn round_trip() {
    let mut rng = SeededRng::from_seed([9; 32]);
    let mut p = G722Packetizer::new();
    let mut d = G722Depacketizer::new();
    p.start_talkspurt();
    let mut markers = Vec::new();
    for len in [1, 2, 160, 161, 1600] {
        let mut block = vec![0u8; len];
        rng.fill(&mut block);
        let mut frame = Vec::new();
        p.packetize(&block, 1600, &mut |pl| {
            markers.push(pl.marker);
            d.depacketize(pl.data, &mut frame).unwrap();
        })
        .unwrap();
        assert_eq!(frame, block);
    }
    assert_eq!(markers, [true, false, false, false, false]);
}
