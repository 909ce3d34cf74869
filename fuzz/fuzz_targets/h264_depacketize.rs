//! H.264 payloads (RFC 6184, packetization mode 1): arbitrary payload sequences through the depacketizer
//! (single NAL units, STAP-A, FU-A reassembly), and arbitrary Annex-B streams through the packetizer and
//! back.
//!
//! Input: one octet choosing the payload size limit and the reassembly bound, then payloads, each behind a
//! 16-bit length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansrtc::packetize::h264::{AnnexB, H264Depacketizer, H264Packetizer, StapA, payload_is_keyframe};
use sansrtc::packetize::{Depacketizer, Packetizer};

fn payloads(mut data: &[u8]) -> impl Iterator<Item = &[u8]> {
    core::iter::from_fn(move || {
        let [hi, lo, rest @ ..] = data else { return None };
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(rest.len());
        let (payload, tail) = rest.split_at(len);
        data = tail;
        Some(payload)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mtu, rest)) = data.split_first() else { return };
    let mut d = H264Depacketizer::with_max_nal_size(usize::from(mtu) * 64);
    let mut frame = Vec::new();
    let mut failures = 0;
    for payload in payloads(rest) {
        let before = frame.len();
        let _ = payload_is_keyframe(payload);
        if let Ok(units) = StapA::new(payload) {
            let _ = units.count();
        }
        match d.depacketize(payload, &mut frame) {
            Ok(info) => assert!(!info.keyframe || payload_is_keyframe(payload)),
            Err(_) => {
                // An abandoned FU-A run is cut off the frame: never longer than before.
                assert!(frame.len() <= before, "nothing appended on error");
                failures += 1;
            }
        }
        if mtu & 1 == 0 && payload.len() % 7 == 0 {
            d.reset();
        }
    }
    assert!(d.errors() >= failures);

    // The whole input as an Annex-B stream: packetized and depacketized, its NAL units come back.
    let mtu = usize::from(mtu) + 1;
    let mut p = H264Packetizer::new();
    let mut back = Vec::new();
    let mut d = H264Depacketizer::new();
    let mut marker_seen = false;
    let result = p.packetize(data, mtu, &mut |payload| {
        assert!(payload.data.len() <= mtu);
        assert!(!marker_seen, "the marker on the last payload only");
        marker_seen = payload.marker;
        d.depacketize(payload.data, &mut back).expect("own payloads depacketize");
    });
    if result.is_ok() {
        assert!(marker_seen);
        let expected: Vec<u8> =
            AnnexB::new(data).expect("packetized").flat_map(|nal| [0, 0, 0, 1].iter().chain(nal)).copied().collect();
        assert_eq!(back, expected);
        assert_eq!(d.errors(), 0);
    }
});
