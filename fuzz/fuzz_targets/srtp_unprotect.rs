//! SRTP/SRTCP unprotect with arbitrary bytes and a fixed context: never panics, and a failed unprotect
//! changes nothing (rollover counter, stream count, and the next legitimate packets still go through).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansrtc::srtp::{Config, Context, Profile};

const KEY: [u8; 32] = [0x42; 32];
const SALT: [u8; 14] = [0x17; 14];

fn rtp(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 96];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 7]);
    p.extend_from_slice(b"payload");
    p
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else { return };
    let profile = Profile::ALL[usize::from(selector % 4)];
    let rtcp = selector & 0x80 != 0;
    let (key, salt) = (&KEY[..profile.key_len()], &SALT[..profile.salt_len()]);
    let mut tx = Context::new(profile, key, salt, Config::default()).unwrap();
    let mut rx = Context::new(profile, key, salt, Config::default()).unwrap();
    // Receive 65534 and 65535, keep 0 (the wrap) for after the fuzz input.
    let mut sent = Vec::new();
    for seq in [65534u16, 65535, 0] {
        let mut p = rtp(seq);
        tx.protect_rtp(&mut p).unwrap();
        sent.push(p);
    }
    for p in &mut sent[..2] {
        rx.unprotect_rtp(&mut p.clone()).unwrap();
    }
    let before = (rx.roc(7), rx.stream_count(), rx.stats().rtp_unprotected, rx.stats().rtcp_unprotected);
    let mut buf = input.to_vec();
    let result = if rtcp { rx.unprotect_rtcp(&mut buf) } else { rx.unprotect_rtp(&mut buf) };
    if result.is_err() {
        let after = (rx.roc(7), rx.stream_count(), rx.stats().rtp_unprotected, rx.stats().rtcp_unprotected);
        assert_eq!(before, after, "a failed unprotect changed the state");
        // Replays are still refused and the next packet (crossing the wrap) is still accepted.
        assert!(rx.unprotect_rtp(&mut sent[1].clone()).is_err());
        rx.unprotect_rtp(&mut sent[2].clone()).unwrap();
        assert_eq!(rx.roc(7), Some(1));
    }
});
