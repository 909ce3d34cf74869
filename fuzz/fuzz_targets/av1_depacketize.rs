//! AV1 payloads (AOM RTP payload format): arbitrary payload sequences into the depacketizer and the
//! borrowed aggregation-header parse; arbitrary temporal units through the packetizer and back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansrtc::packetize::av1::{AggregationHeader, Av1Depacketizer, Av1Packetizer};
use sansrtc::packetize::{Depacketizer, Packetizer};

fuzz_target!(|data: &[u8]| {
    // Payloads, each after a one-byte length; a zero length stands for a lost packet (reset).
    let mut d = Av1Depacketizer::with_max_fragment(4096);
    let mut frame = Vec::new();
    let mut rest = data;
    while let Some((&n, tail)) = rest.split_first() {
        let (payload, after) = tail.split_at(usize::from(n).min(tail.len()));
        rest = after;
        if n == 0 {
            d.reset();
            continue;
        }
        if let Ok((_, elements)) = AggregationHeader::parse(payload) {
            let _ = elements.count();
        }
        let (len, errors) = (frame.len(), d.errors());
        if d.depacketize(payload, &mut frame).is_err() {
            assert_eq!(frame.len(), len, "nothing appended on error");
            assert_eq!(d.errors(), errors + 1, "errors counted");
        }
    }

    // A temporal unit the packetizer accepts comes back the same after a second round (the first drops
    // temporal delimiters and tile lists and writes minimal size fields).
    let Some((&mtu, tu)) = data.split_first() else { return };
    let max = 2 + usize::from(mtu);
    let round = |input: &[u8]| -> Option<Vec<u8>> {
        let mut p = Av1Packetizer::new();
        let mut d = Av1Depacketizer::new();
        let mut payloads = Vec::new();
        p.packetize(input, max, &mut |pl| payloads.push(pl.data.to_vec())).ok()?;
        let mut out = Vec::new();
        for pl in &payloads {
            assert!(pl.len() <= max);
            d.depacketize(pl, &mut out).expect("own payload");
        }
        Some(out)
    };
    if let Some(once) = round(tu) {
        assert_eq!(round(&once).as_ref(), Some(&once));
    }
});
