//! Opus payloads (RFC 7587): arbitrary payloads through the TOC parse (RFC 6716 §3.1) and the
//! depacketizer, and back through the packetizer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansrtc::packetize::opus::{OpusDepacketizer, OpusPacketizer, Toc, packet_frames};
use sansrtc::packetize::{Depacketizer, Packetizer};

fuzz_target!(|data: &[u8]| {
    let mut d = OpusDepacketizer::new();
    let mut frame = Vec::new();
    let frames = packet_frames(data);
    if let Some(&toc) = data.first() {
        let toc = Toc(toc);
        let _ = (toc.mode(), toc.bandwidth(), toc.stereo());
        assert!([120, 240, 480, 960, 1920, 2880].contains(&toc.frame_samples()));
    }
    match d.depacketize(data, &mut frame) {
        Ok(_) => {
            let (count, samples) = frames.expect("accepted packets are valid");
            assert!(count >= 1 && samples <= 5760);
            assert_eq!(frame, data);
            let mut p = OpusPacketizer::new();
            let mut n = 0;
            p.packetize(data, data.len(), &mut |payload| {
                assert_eq!(payload.data, data);
                n += 1;
            })
            .expect("a valid packet packetizes");
            assert_eq!(n, 1);
        }
        Err(_) => {
            assert!(frames.is_none());
            assert!(frame.is_empty());
            assert_eq!(d.errors(), 1);
        }
    }
});
