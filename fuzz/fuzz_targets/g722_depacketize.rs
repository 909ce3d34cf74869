//! G.722 payloads (RFC 3551 §4.5.2): arbitrary payloads through the depacketizer and back through the packetizer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansrtc::packetize::g722::{G722Depacketizer, G722Packetizer};
use sansrtc::packetize::{Depacketizer, Packetizer};

fuzz_target!(|data: &[u8]| {
    let mut d = G722Depacketizer::new();
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
    let mut p = G722Packetizer::new();
    let mut n = 0;
    let result = p.packetize(data, 1200, &mut |payload| {
        assert_eq!(payload.data, data);
        n += 1;
    });
    assert_eq!(result.is_ok(), !data.is_empty() && data.len() <= 1200);
    assert_eq!(n, usize::from(result.is_ok()));
});
