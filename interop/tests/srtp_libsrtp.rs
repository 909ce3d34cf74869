//! Cross-check with libsrtp: packets protected by sansrtc are unprotected by libsrtp and the reverse, for
//! every profile, RTP and RTCP, across a sequence-number wrap (rollover counter 0 → 1).

use sansrtc::srtp::{Config, Context, Profile};
use sansrtc_interop::libsrtp::Libsrtp;

fn keys(profile: Profile) -> (Vec<u8>, Vec<u8>) {
    let key = (0..profile.key_len() as u8).map(|i| i.wrapping_mul(37).wrapping_add(11)).collect();
    let salt = (0..profile.salt_len() as u8).map(|i| i.wrapping_mul(91).wrapping_add(3)).collect();
    (key, salt)
}

/// A Chromium-like video packet: marker, PT 96, one-byte header extensions (abs-send-time, TWCC seq,
/// mid), then `payload` octets.
fn rtp(seq: u16, ssrc: u32, payload: usize) -> Vec<u8> {
    let mut p = vec![0x90, 0xe0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 3000).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[0xbe, 0xde, 0x00, 0x03]);
    p.extend_from_slice(&[0x32, 0x12, 0x34, 0x56, 0x41, (seq >> 8) as u8, seq as u8, 0x90, b'0', 0, 0, 0]);
    p.extend((0..payload).map(|i| (i * 7 + usize::from(seq)) as u8));
    p
}

fn rtcp(ssrc: u32, n: u8) -> Vec<u8> {
    let mut p = vec![0x80, 200, 0, 6];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[0xe8, 0x6a, 0, 0, 0x12, 0x34, 0x56, n, 0, 1, 0, 0, 0, 0, 0, 10, 0, 0, 0x30, 0x39]);
    p.extend_from_slice(&[0x81, 202, 0, 3]);
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[1, 4, b'c', b'n', b'a', b'm', 0, 0]);
    p
}

const SEQS: [u16; 14] = [65528, 65529, 65530, 65531, 65532, 65533, 65534, 65535, 0, 1, 2, 3, 4, 5];

/// Whether the tests run under CI (`CI` set and not empty), where nothing may be skipped.
fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// The profiles this libsrtp supports; each one it lacks is skipped, or fails the test under CI.
fn profiles() -> Vec<Profile> {
    let mut ok = Vec::new();
    for profile in Profile::ALL {
        if Libsrtp::supports(profile) {
            ok.push(profile);
        } else {
            let msg = format!("this libsrtp build does not support {profile:?}");
            // Under CI a profile must not go untested (the copy of tests/support/tool.rs's rule for this crate).
            assert!(!in_ci(), "CI is set and {msg}: install Debian's libsrtp2-dev (`bash scripts/setup`)");
            println!("SKIPPED {profile:?}: {msg}; Debian's libsrtp2-dev (`bash scripts/setup`) supports every profile");
        }
    }
    println!("libsrtp supports {} of {} profiles: {ok:?}", ok.len(), Profile::ALL.len());
    ok
}

#[test]
fn debian_libsrtp_supports_every_profile() {
    // Debian's libsrtp2 is built with NSS, so GCM is there; if this fails, the cross-checks below would
    // silently cover fewer profiles.
    assert_eq!(profiles().len(), 4);
}

#[test]
fn sansrtc_protects_libsrtp_unprotects() {
    for profile in profiles() {
        let (key, salt) = keys(profile);
        let mut ours = Context::new(profile, &key, &salt, Config::default()).unwrap();
        let mut theirs = Libsrtp::new(profile, &key, &salt, false).unwrap();
        for seq in SEQS {
            let plain = rtp(seq, 0xcafe_f00d, 200);
            let mut p = plain.clone();
            ours.protect_rtp(&mut p).unwrap();
            theirs.unprotect_rtp(&mut p).unwrap_or_else(|e| panic!("{profile:?} seq {seq}: {e}"));
            assert_eq!(p, plain, "{profile:?} seq {seq}");
        }
        assert_eq!(ours.roc(0xcafe_f00d), Some(1));
        for n in 0..10 {
            let plain = rtcp(0xcafe_f00d, n);
            let mut p = plain.clone();
            ours.protect_rtcp(&mut p).unwrap();
            theirs.unprotect_rtcp(&mut p).unwrap_or_else(|e| panic!("{profile:?} rtcp {n}: {e}"));
            assert_eq!(p, plain);
        }
        println!("{profile:?}: sansrtc -> libsrtp OK ({} RTP across the wrap, 10 RTCP)", SEQS.len());
    }
}

#[test]
fn libsrtp_protects_sansrtc_unprotects() {
    for profile in profiles() {
        let (key, salt) = keys(profile);
        let mut theirs = Libsrtp::new(profile, &key, &salt, true).unwrap();
        let mut ours = Context::new(profile, &key, &salt, Config::default()).unwrap();
        for seq in SEQS {
            let plain = rtp(seq, 0x0102_0304, 1200);
            let mut p = plain.clone();
            theirs.protect_rtp(&mut p).unwrap();
            assert_eq!(p.len(), plain.len() + profile.rtp_overhead());
            let mut replay = p.clone();
            ours.unprotect_rtp(&mut p).unwrap_or_else(|e| panic!("{profile:?} seq {seq}: {e}"));
            assert_eq!(p, plain, "{profile:?} seq {seq}");
            assert!(ours.unprotect_rtp(&mut replay).is_err(), "replay rejected");
        }
        assert_eq!(ours.roc(0x0102_0304), Some(1));
        for n in 0..10 {
            let plain = rtcp(0x0102_0304, n);
            let mut p = plain.clone();
            theirs.protect_rtcp(&mut p).unwrap();
            assert_eq!(p.len(), plain.len() + profile.rtcp_overhead());
            ours.unprotect_rtcp(&mut p).unwrap_or_else(|e| panic!("{profile:?} rtcp {n}: {e}"));
            assert_eq!(p, plain);
        }
        println!("{profile:?}: libsrtp -> sansrtc OK ({} RTP across the wrap, 10 RTCP)", SEQS.len());
    }
}

#[test]
fn same_keys_give_identical_bytes() {
    // Beyond interoperating: for RTP both stacks produce the very same SRTP packets.
    for profile in profiles() {
        let (key, salt) = keys(profile);
        let mut ours = Context::new(profile, &key, &salt, Config::default()).unwrap();
        let mut theirs = Libsrtp::new(profile, &key, &salt, true).unwrap();
        for seq in SEQS {
            let (mut a, mut b) = (rtp(seq, 9, 300), rtp(seq, 9, 300));
            ours.protect_rtp(&mut a).unwrap();
            theirs.protect_rtp(&mut b).unwrap();
            assert_eq!(a, b, "{profile:?} seq {seq}");
        }
    }
}
