//! Arbitrary bytes as an ICE-TCP stream (RFC 4571 frames), cut into arbitrary reads: the bounded
//! decoder returns exactly the frames a plain walk over the whole stream finds (empty frames dropped,
//! frames over the limit skipped), never panics and never buffers past `2 + max_frame`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansrtc::ice::framing::{FrameDecoder, emit_frame};

fuzz_target!(|data: &[u8]| {
    let Some((&[cut, limit], stream)) = data.split_first_chunk::<2>() else { return };
    let chunk = usize::from(cut % 64) + 1;
    let max = usize::from(limit) * 16 + 1;

    // The walk: every complete frame within the limit, in order.
    let mut expected: Vec<&[u8]> = Vec::new();
    let mut at = 0;
    while let Some(&[h0, h1]) = stream.get(at..at + 2).and_then(|h| <&[u8; 2]>::try_from(h).ok()) {
        let len = usize::from(u16::from_be_bytes([h0, h1]));
        let Some(body) = stream.get(at + 2..at + 2 + len) else { break };
        if len > 0 && len <= max {
            expected.push(body);
        }
        at += 2 + len;
    }

    let mut d = FrameDecoder::new(max);
    let mut got: Vec<Vec<u8>> = Vec::new();
    let mut fed = 0;
    while fed < stream.len() {
        let end = (fed + chunk).min(stream.len());
        let n = d.push(&stream[fed..end]);
        fed += n;
        assert!(d.buffered() <= 2 + max);
        while let Some(f) = d.next_frame() {
            assert!(!f.is_empty() && f.len() <= max);
            got.push(f.to_vec());
        }
        assert!(n > 0 || d.buffered() < 2 + max, "a full buffer always yields a frame or a skip");
        if n == 0 {
            break;
        }
    }
    assert_eq!(got.len(), expected.len());
    assert!(got.iter().zip(&expected).all(|(g, e)| g.as_slice() == *e));

    // What comes out goes back in unchanged.
    let mut again = Vec::new();
    for f in &got {
        assert!(emit_frame(&mut again, f));
    }
    let mut d2 = FrameDecoder::new(max);
    assert_eq!(d2.push(&again), again.len().min(2 + max));
});
