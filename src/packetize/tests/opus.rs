#![allow(clippy::indexing_slicing, clippy::unwrap_used)]

use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::SeededRng;
use crate::rtp::Packet;

const CHROMIUM_OPUS: &[u8] = include_bytes!("../../../vectors/browser/chromium-rtp/opus.bin");

/// RFC 6716 §3.1, Table 2: every configuration's mode, bandwidth and frame size (in ms × 10).
#[test]
fn toc_table() {
    use Bandwidth::*;
    use Mode::*;
    let rows: [(core::ops::RangeInclusive<u8>, Mode, Bandwidth, [u32; 4]); 9] = [
        (0..=3, Silk, Narrow, [100, 200, 400, 600]),
        (4..=7, Silk, Medium, [100, 200, 400, 600]),
        (8..=11, Silk, Wide, [100, 200, 400, 600]),
        (12..=13, Hybrid, SuperWide, [100, 200, 0, 0]),
        (14..=15, Hybrid, Full, [100, 200, 0, 0]),
        (16..=19, Celt, Narrow, [25, 50, 100, 200]),
        (20..=23, Celt, Wide, [25, 50, 100, 200]),
        (24..=27, Celt, SuperWide, [25, 50, 100, 200]),
        (28..=31, Celt, Full, [25, 50, 100, 200]),
    ];
    let mut seen = 0;
    for (configs, mode, bandwidth, tenths_ms) in rows {
        for (i, config) in configs.enumerate() {
            for low in 0..8u8 {
                let toc = Toc(config << 3 | low);
                assert_eq!(toc.config(), config);
                assert_eq!(toc.mode(), mode, "config {config}");
                assert_eq!(toc.bandwidth(), bandwidth, "config {config}");
                // 48 samples per ms.
                assert_eq!(toc.frame_samples() * 10, tenths_ms[i] * 48, "config {config}");
                assert_eq!(toc.stereo(), low & 4 != 0);
                assert_eq!(toc.code(), low & 3);
            }
            seen += 1;
        }
    }
    assert_eq!(seen, 32);
}

/// RFC 6716 §3.2 frame packing and the §3.4 requirements R1 to R5.
#[test]
fn packet_durations() {
    let celt_20ms_fb = 31 << 3;
    let silk_60ms_nb = 3 << 3;
    let celt_2_5ms = 16 << 3;
    // Code 0: one frame.
    assert_eq!(packet_frames(&[celt_20ms_fb, 1, 2, 3]), Some((1, 960)));
    // R1: at least one octet. A TOC alone is a valid (DTX) packet.
    assert_eq!(packet_frames(&[]), None);
    assert_eq!(packet_frames(&[celt_20ms_fb]), Some((1, 960)));
    // Code 1: two frames of equal size, so an even remainder (R3).
    assert_eq!(packet_frames(&[celt_20ms_fb | 1, 1, 2]), Some((2, 1920)));
    assert_eq!(packet_frames(&[celt_20ms_fb | 1, 1, 2, 3]), None);
    // Code 2: the first frame's length in one or two octets, within the packet (R4).
    assert_eq!(packet_frames(&[celt_20ms_fb | 2, 2, 9, 9, 7]), Some((2, 1920)));
    assert_eq!(packet_frames(&[celt_20ms_fb | 2, 4, 9, 9]), None);
    assert_eq!(packet_frames(&[celt_20ms_fb | 2]), None);
    assert_eq!(packet_frames(&[celt_20ms_fb | 2, 252]), None, "two-octet length cut short");
    let mut long = vec![celt_20ms_fb | 2, 252, 1]; // 252 + 4 × 1 = 256
    long.extend_from_slice(&[0; 256]);
    assert_eq!(packet_frames(&long), Some((2, 1920)));
    long.pop();
    assert_eq!(packet_frames(&long), None);
    // Code 3: a frame count of at least one (R5), at most 120 ms.
    assert_eq!(packet_frames(&[celt_20ms_fb | 3]), None);
    assert_eq!(packet_frames(&[celt_20ms_fb | 3, 0]), None);
    assert_eq!(packet_frames(&[celt_20ms_fb | 3, 6]), Some((6, 5760)));
    assert_eq!(packet_frames(&[celt_20ms_fb | 3, 7]), None, "140 ms");
    assert_eq!(packet_frames(&[silk_60ms_nb | 3, 2]), Some((2, 5760)));
    assert_eq!(packet_frames(&[silk_60ms_nb | 3, 3]), None, "180 ms");
    assert_eq!(packet_frames(&[celt_2_5ms | 3, 0xc0 | 48]), Some((48, 5760)), "v and p bits ignored");
    assert_eq!(packet_frames(&[celt_2_5ms | 3, 49]), None);
    assert_eq!(packet_samples(&[silk_60ms_nb | 1, 5, 5]), Some(5760));
}

/// Chromium's Opus packet: one 20 ms frame of full-band hybrid (configuration 15), so the timestamp
/// advances by 960.
#[test]
fn chromium_packet() {
    let p = Packet::new_checked(CHROMIUM_OPUS).unwrap();
    let payload = &CHROMIUM_OPUS[p.header_len()..CHROMIUM_OPUS.len() - p.padding_len()];
    let toc = Toc(payload[0]);
    assert_eq!((toc.config(), toc.mode(), toc.bandwidth(), toc.stereo()), (15, Mode::Hybrid, Bandwidth::Full, false));
    assert_eq!(packet_frames(payload), Some((1, 960)));
    let mut d = OpusDepacketizer::new();
    let mut frame = Vec::new();
    let info = d.depacketize(payload, &mut frame).unwrap();
    assert_eq!(frame, payload);
    assert!(info.frame_start && info.keyframe && info.frame_end == Some(true));
    // The packetizer sends it as it is.
    let mut out = Vec::new();
    assert_eq!(OpusPacketizer::new().packetize(payload, 1200, &mut |pl| out.push(pl.data.to_vec())), Ok(1));
    assert_eq!(out, [payload]);
}

#[test]
fn packetizer_checks_and_talkspurt() {
    let mut p = OpusPacketizer::new();
    let mut markers = Vec::new();
    let packet = [31 << 3, 1, 2, 3];
    assert_eq!(p.packetize(&[], 1200, &mut |pl| markers.push(pl.marker)), Err(PacketizeError::BadFrame));
    assert_eq!(p.packetize(&[31 << 3 | 3, 7], 1200, &mut |pl| markers.push(pl.marker)), Err(PacketizeError::BadFrame));
    assert_eq!(p.packetize(&packet, 3, &mut |pl| markers.push(pl.marker)), Err(PacketizeError::MtuTooSmall));
    assert!(markers.is_empty());
    p.start_talkspurt();
    for _ in 0..2 {
        assert_eq!(p.packetize(&packet, 4, &mut |pl| markers.push(pl.marker)), Ok(1));
    }
    assert_eq!(markers, [true, false], "the marker on the talkspurt's first packet only");
}

#[test]
fn bad_payloads() {
    let mut d = OpusDepacketizer::new();
    let mut frame = vec![0xaa];
    assert_eq!(d.depacketize(&[], &mut frame), Err(DepacketizeError::Empty));
    assert_eq!(d.depacketize(&[31 << 3 | 3], &mut frame), Err(DepacketizeError::Malformed));
    assert_eq!(d.depacketize(&[31 << 3 | 1, 1], &mut frame), Err(DepacketizeError::Malformed));
    assert_eq!(d.errors(), 3);
    assert_eq!(frame, [0xaa]);
}

/// Random valid packets of every code and size through the pair, with the smallest payload size that
/// carries each.
#[test]
fn round_trip() {
    let mut rng = SeededRng::from_seed([6; 32]);
    let mut p = OpusPacketizer::new();
    let mut d = OpusDepacketizer::new();
    for i in 0..400 {
        let len = [1, 2, 3, 10, 100, 400, 1275][i % 7];
        let mut packet = vec![0u8; len];
        rng.fill(&mut packet);
        packet[0] &= !0x03; // code 0: any length is valid
        let expected = packet_samples(&packet).unwrap();
        for mtu in [len, len + 1, 1500] {
            let mut out = Vec::new();
            assert_eq!(p.packetize(&packet, mtu, &mut |pl| out.push((pl.data.to_vec(), pl.marker))), Ok(1));
            let mut frame = Vec::new();
            d.depacketize(&out[0].0, &mut frame).unwrap();
            assert_eq!(frame, packet);
            assert!(!out[0].1);
        }
        assert_eq!(expected, Toc(packet[0]).frame_samples());
    }
    assert_eq!(d.errors(), 0);
}
