//! PCMU and PCMA payloads (RFC 3551 §4.5.14): arbitrary payloads through the depacketizer and back through the packetizer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansrtc::packetize::g711::{G711Depacketizer, G711Packetizer, Law};
use sansrtc::packetize::{Depacketizer, Packetizer};

fuzz_target!(|data: &[u8]| {
    let mut d = G711Depacketizer::new(if data.first().is_some_and(|b| b & 1 == 0) { Law::Mu } else { Law::A });
    let mut frame = Vec::new();
    match d.depacketize(data, &mut frame) {
        Ok(info) => {
            assert_eq!(frame, data);
            assert!(info.frame_start && info.keyframe);
        }
        Err(_) => {
            assert!(data.is_empty() && frame.is_empty());
            assert_eq!(d.errors(), 1);
        }
    }
    let mut p = G711Packetizer::new(Law::Mu);
    let mut n = 0;
    let result = p.packetize(data, 1200, &mut |payload| {
        assert_eq!(payload.data, data);
        n += 1;
    });
    assert_eq!(result.is_ok(), !data.is_empty() && data.len() <= 1200);
    assert_eq!(n, usize::from(result.is_ok()));
});
