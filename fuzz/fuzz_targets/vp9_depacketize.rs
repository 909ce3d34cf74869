//! VP9 payloads (RFC 9628): arbitrary payload sequences into the depacketizer and the borrowed descriptor
//! parse; arbitrary frames through the packetizer and back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansrtc::packetize::vp9::{Descriptor, Vp9Depacketizer, Vp9Packetizer};
use sansrtc::packetize::{Depacketizer, Packetizer};

fuzz_target!(|data: &[u8]| {
    // Payloads, each after a one-byte length; a zero length stands for a lost packet (reset).
    let mut d = Vp9Depacketizer::new();
    let mut frame = Vec::new();
    let mut rest = data;
    while let Some((&n, tail)) = rest.split_first() {
        let (payload, after) = tail.split_at(usize::from(n).min(tail.len()));
        rest = after;
        if n == 0 {
            d.reset();
            continue;
        }
        if let Ok((desc, _)) = Descriptor::parse(payload) {
            let _ = (desc.reference_diffs(), desc.is_keyframe());
            if let Some(ss) = desc.scalability {
                let _ = (ss.resolutions().count(), ss.picture_group().count());
            }
        }
        let (len, errors) = (frame.len(), d.errors());
        if d.depacketize(payload, &mut frame).is_err() {
            assert_eq!(frame.len(), len, "nothing appended on error");
            assert_eq!(d.errors(), errors + 1, "errors counted");
        }
    }

    // Any frame survives packetize -> depacketize unchanged.
    let Some((&mtu, frame)) = data.split_first() else { return };
    let max = 12 + usize::from(mtu);
    let mut p = Vp9Packetizer::new(u16::from(mtu) << 7);
    let mut d = Vp9Depacketizer::new();
    let mut out = Vec::new();
    let mut payloads = Vec::new();
    if p.packetize(frame, max, &mut |pl| payloads.push((pl.data.to_vec(), pl.marker))).is_ok() {
        for (pl, _) in &payloads {
            assert!(pl.len() <= max);
            d.depacketize(pl, &mut out).expect("own payload");
        }
        assert_eq!(out, frame);
    }
});
