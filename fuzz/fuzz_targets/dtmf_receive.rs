//! Telephone-event payloads (RFC 4733): arbitrary bytes through the report parser and a receiver fed
//! them as a stream of packets. Accepted payloads round-trip; the receiver reports each (timestamp,
//! event) at most once among its recent reports, and never panics.
#![no_main]

use core::time::Duration;

use libfuzzer_sys::fuzz_target;
use sansrtc::Instant;
use sansrtc::packetize::dtmf::{DtmfReceiver, events};

fuzz_target!(|data: &[u8]| {
    if let Ok(reports) = events(data) {
        let mut out = Vec::new();
        for r in reports {
            r.write(&mut out);
        }
        assert_eq!(out.len(), data.len());
        assert_eq!(events(&out).map(|e| e.count()).ok(), Some(data.len() / 4));
    }
    // Packets: a timestamp byte, then the payload up to the next 0xff.
    let mut rx = DtmfReceiver::new(Duration::from_millis(250));
    let mut reported: Vec<(u32, u8)> = Vec::new();
    for (i, chunk) in data.split(|b| *b == 0xff).enumerate() {
        let now = Instant::ZERO + Duration::from_millis(20 * i as u64);
        let Some((&ts, payload)) = chunk.split_first() else { continue };
        let _ = rx.handle_receive(now, u32::from(ts) * 400, payload);
        rx.handle_timeout(now);
        while let Some(d) = rx.poll_event() {
            assert!(!reported.iter().rev().take(8).any(|r| *r == (d.timestamp, d.event)), "reported twice");
            reported.push((d.timestamp, d.event));
        }
        if let Some(t) = rx.poll_timeout() {
            assert!(t >= now);
        }
    }
});
