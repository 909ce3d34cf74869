//! VP8 payloads (RFC 7741): arbitrary payloads through the descriptor parse and the depacketizer, and
//! arbitrary frames through the packetizer and back.
//!
//! Input: one octet choosing the payload size limit, then payloads, each behind a 16-bit length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansrtc::packetize::vp8::{Descriptor, Vp8Depacketizer, Vp8Packetizer};
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
    let mut d = Vp8Depacketizer::new();
    let mut frame = Vec::new();
    let mut failures = 0;
    for payload in payloads(rest) {
        let before = frame.len();
        let parsed = Descriptor::parse(payload);
        match d.depacketize(payload, &mut frame) {
            Ok(info) => {
                let (descriptor, vp8) = parsed.expect("the depacketizer accepts what the parse accepts");
                assert_eq!(frame.len(), before + vp8.len());
                assert_eq!(info.frame_start, descriptor.frame_start());
                // The descriptor re-emits to octets that parse to the same descriptor.
                let mut out = Vec::new();
                descriptor.emit(&mut out);
                assert_eq!(out.len(), descriptor.buffer_len());
                out.extend_from_slice(vp8);
                assert_eq!(Descriptor::parse(&out).map(|(d, _)| d), Ok(descriptor));
            }
            Err(e) => {
                assert_eq!(parsed.err(), Some(e));
                assert_eq!(frame.len(), before, "nothing appended on error");
                failures += 1;
            }
        }
    }
    assert_eq!(d.errors(), failures);

    // The whole input as a frame: packetized and depacketized, it comes back.
    let mtu = usize::from(mtu) + 1;
    let mut p = Vp8Packetizer::new(0x7ff0);
    let mut back = Vec::new();
    let mut d = Vp8Depacketizer::new();
    let result = p.packetize(data, mtu, &mut |payload| {
        assert!(payload.data.len() <= mtu);
        d.depacketize(payload.data, &mut back).expect("own payloads depacketize");
    });
    if result.is_ok() {
        assert_eq!(back, data);
    }
});
