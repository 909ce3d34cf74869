use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::crypto::{Transform, derive};
use super::*;

fn unhex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(core::str::from_utf8(p).unwrap_or("zz"), 16).unwrap_or_default())
        .collect()
}

/// Parses a `name: hex` vector file.
fn fields(text: &str) -> Vec<(String, Vec<u8>)> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (String::from(k.trim()), unhex(v)))
        .collect()
}

fn field(f: &[(String, Vec<u8>)], name: &str) -> Vec<u8> {
    f.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_else(|| panic!("no field {name}"))
}

#[test]
fn rfc3711_b2_aes_cm_keystream() {
    let f = fields(include_str!("../../vectors/rfc3711/b2_aes_cm.txt"));
    let key = field(&f, "key");
    let counter = field(&f, "counter");
    let Transform::Cm { aes, .. } =
        Transform::from_session_keys(Profile::Aes128CmHmacSha1_80, &key, &[0; 14], &[0; 20], false).unwrap()
    else {
        panic!("not CM")
    };
    let salt: [u8; 14] = counter[..14].try_into().unwrap();
    let mut stream = vec![0u8; 0xff02 * 16];
    Transform::cm_apply(&aes, &salt, 0, 0, &mut stream);
    let mut checked = 0;
    for (k, v) in &f {
        if let Some(block) = k.strip_prefix("block ") {
            let n = usize::from_str_radix(block, 16).unwrap();
            assert_eq!(&stream[n * 16..n * 16 + 16], &v[..], "block {block}");
            checked += 1;
        }
    }
    assert_eq!(checked, 6);
}

#[test]
fn rfc3711_b3_key_derivation() {
    let f = fields(include_str!("../../vectors/rfc3711/b3_kdf.txt"));
    let (mk, ms) = (field(&f, "master_key"), field(&f, "master_salt"));
    let mut key = [0u8; 16];
    derive(&mk, &ms, crypto::label::RTP_ENCRYPTION, &mut key).unwrap();
    assert_eq!(key[..], field(&f, "cipher_key")[..]);
    let mut salt = [0u8; 14];
    derive(&mk, &ms, crypto::label::RTP_SALT, &mut salt).unwrap();
    assert_eq!(salt[..], field(&f, "cipher_salt")[..]);
    let mut auth = [0u8; 94];
    derive(&mk, &ms, crypto::label::RTP_AUTH, &mut auth).unwrap();
    assert_eq!(auth[..], field(&f, "auth_key")[..]);
}

fn gcm_context(profile: Profile, f: &[(String, Vec<u8>)]) -> Context {
    let (key, salt) = (field(f, "key"), field(f, "salt"));
    let rtp = Transform::from_session_keys(profile, &key, &salt, &[], false).unwrap();
    let rtcp = Transform::from_session_keys(profile, &key, &salt, &[], true).unwrap();
    Context::with_transforms(profile, rtp, rtcp, Config::default())
}

fn check_rfc7714_rtp(profile: Profile, text: &str) {
    let f = fields(text);
    let (plain, protected) = (field(&f, "plain"), field(&f, "protected"));
    let mut tx = gcm_context(profile, &f);
    let mut buf = plain.clone();
    tx.protect_rtp(&mut buf).unwrap();
    assert_eq!(buf, protected);
    let mut rx = gcm_context(profile, &f);
    rx.unprotect_rtp(&mut buf).unwrap();
    assert_eq!(buf, plain);
    // Any flipped bit fails authentication.
    let mut bad = protected.clone();
    bad[20] ^= 1;
    assert_eq!(gcm_context(profile, &f).unprotect_rtp(&mut bad), Err(Error::AuthFailed));
}

#[test]
fn rfc7714_rtp_aes128gcm() {
    check_rfc7714_rtp(Profile::AeadAes128Gcm, include_str!("../../vectors/rfc7714/rtp_aes128gcm.txt"));
}

#[test]
fn rfc7714_rtp_aes256gcm() {
    check_rfc7714_rtp(Profile::AeadAes256Gcm, include_str!("../../vectors/rfc7714/rtp_aes256gcm.txt"));
}

fn check_rfc7714_rtcp(profile: Profile, text: &str) {
    let f = fields(text);
    let (plain, protected, tagged) = (field(&f, "plain"), field(&f, "protected"), field(&f, "tagged_only"));
    let index = u32::from_be_bytes(field(&f, "index").try_into().unwrap());
    let ssrc = u32::from_be_bytes(plain[4..8].try_into().unwrap());
    let mut tx = gcm_context(profile, &f);
    tx.set_srtcp_index(ssrc, index).unwrap();
    let mut buf = plain.clone();
    tx.protect_rtcp(&mut buf).unwrap();
    assert_eq!(buf, protected);
    let mut rx = gcm_context(profile, &f);
    rx.unprotect_rtcp(&mut buf).unwrap();
    assert_eq!(buf, plain);
    // E flag clear: authenticated only.
    let mut rx = gcm_context(profile, &f);
    let mut buf = tagged.clone();
    rx.unprotect_rtcp(&mut buf).unwrap();
    assert_eq!(buf, plain);
    let mut bad = tagged.clone();
    bad[9] ^= 0x80;
    let before = bad.clone();
    assert_eq!(gcm_context(profile, &f).unprotect_rtcp(&mut bad), Err(Error::AuthFailed));
    assert_eq!(bad, before, "a failed E=0 verification restores the buffer");
}

#[test]
fn rfc7714_rtcp_aes128gcm() {
    check_rfc7714_rtcp(Profile::AeadAes128Gcm, include_str!("../../vectors/rfc7714/rtcp_aes128gcm.txt"));
}

#[test]
fn rfc7714_rtcp_aes256gcm() {
    check_rfc7714_rtcp(Profile::AeadAes256Gcm, include_str!("../../vectors/rfc7714/rtcp_aes256gcm.txt"));
}

fn rtp(seq: u16, ssrc: u32, payload_len: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(1500);
    p.extend_from_slice(&[0x80, 111]);
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&u32::from(seq).wrapping_mul(960).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend((0..payload_len).map(|i| (i as u8) ^ (seq as u8)));
    p
}

fn rtcp_rr(ssrc: u32) -> Vec<u8> {
    let mut p = Vec::with_capacity(1500);
    // RR with one report block, then SDES CNAME: a realistic compound.
    p.extend_from_slice(&[0x81, 201, 0, 7]);
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[0x11, 0x22, 0x33, 0x44, 0, 0, 0, 1, 0, 0, 0x10, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0]);
    p.extend_from_slice(&[0x81, 202, 0, 3]);
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[1, 4, b'a', b'b', b'c', b'd', 0, 0]);
    p
}

fn pair(profile: Profile, config: Config) -> (Session, Session) {
    let block: Vec<u8> = (0..profile.keying_material_len() as u8).collect();
    (
        Session::from_keying_material(profile, &block, Role::Client, config).unwrap(),
        Session::from_keying_material(profile, &block, Role::Server, config).unwrap(),
    )
}

#[test]
fn every_profile_round_trips_both_directions() {
    for profile in Profile::ALL {
        let (mut a, mut b) = pair(profile, Config::default());
        for seq in 0..50u16 {
            let plain = rtp(seq, 0x1234, 100 + usize::from(seq));
            let mut p = plain.clone();
            a.protect_rtp(&mut p).unwrap();
            // MKI absent: exactly the tag is added.
            assert_eq!(p.len(), plain.len() + profile.rtp_tag_len(), "{profile:?}");
            assert_ne!(p[12..plain.len()], plain[12..], "payload is encrypted");
            b.unprotect_rtp(&mut p).unwrap();
            assert_eq!(p, plain);
            let plain = rtcp_rr(0x5678);
            let mut p = plain.clone();
            b.protect_rtcp(&mut p).unwrap();
            assert_eq!(p.len(), plain.len() + profile.rtcp_overhead());
            a.unprotect_rtcp(&mut p).unwrap();
            assert_eq!(p, plain);
        }
        // Our own outbound key does not decrypt our packets: the halves of the block differ.
        let mut p = rtp(99, 1, 10);
        a.protect_rtp(&mut p).unwrap();
        assert_eq!(a.unprotect_rtp(&mut p), Err(Error::AuthFailed));
    }
}

#[test]
fn cm_32_uses_short_tag_on_rtp_only() {
    assert_eq!(Profile::Aes128CmHmacSha1_32.rtp_overhead(), 4);
    assert_eq!(Profile::Aes128CmHmacSha1_32.rtcp_overhead(), 14);
    assert_eq!(Profile::from_id(0x0002), Some(Profile::Aes128CmHmacSha1_32));
    assert_eq!(Profile::from_id(0x0003), None);
}

fn send(tx: &mut Session, seqs: impl IntoIterator<Item = u16>) -> Vec<(u16, Vec<u8>)> {
    seqs.into_iter()
        .map(|s| {
            let mut p = rtp(s, 7, 40);
            tx.protect_rtp(&mut p).unwrap();
            (s, p)
        })
        .collect()
}

#[test]
fn seq_wrap_increments_roc() {
    for profile in Profile::ALL {
        let (mut a, mut b) = pair(profile, Config::default());
        let sent = send(&mut a, (65530..=65535).chain(0..6));
        assert_eq!(a.outbound().roc(7), Some(1));
        for (s, mut p) in sent {
            b.unprotect_rtp(&mut p).unwrap();
            assert_eq!(p, rtp(s, 7, 40));
        }
        assert_eq!(b.inbound().roc(7), Some(1));
    }
}

#[test]
fn reordering_across_the_wrap_and_late_packets() {
    let (mut a, mut b) = pair(Profile::Aes128CmHmacSha1_80, Config::default());
    let sent = send(&mut a, [65533, 65534, 65535, 0, 1, 2]);
    // Deliver 65533, then 0 (ROC 1) before 65534/65535 (ROC 0), then the rest.
    for i in [0, 3, 1, 4, 2, 5] {
        let (s, mut p) = sent[i].clone();
        b.unprotect_rtp(&mut p).unwrap_or_else(|e| panic!("seq {s}: {e}"));
        assert_eq!(p, rtp(s, 7, 40));
    }
    assert_eq!(b.inbound().roc(7), Some(1));
    // Every one of them is now a replay.
    for (_, p) in &sent {
        assert_eq!(b.unprotect_rtp(&mut p.clone()), Err(Error::Replayed));
    }
    assert_eq!(b.inbound().stats().replayed, 6);
}

#[test]
fn replay_window_bounds() {
    let config = Config { replay_window: 64, ..Config::default() };
    let (mut a, mut b) = pair(Profile::AeadAes128Gcm, config);
    let sent = send(&mut a, 0..200);
    // Receive 150..200 first, then late ones.
    for (_, p) in &sent[150..] {
        b.unprotect_rtp(&mut p.clone()).unwrap();
    }
    // 199 - 136 = 63 behind: inside the window and new, accepted.
    b.unprotect_rtp(&mut sent[136].1.clone()).unwrap();
    assert_eq!(b.unprotect_rtp(&mut sent[136].1.clone()), Err(Error::Replayed));
    // 64 behind: outside.
    assert_eq!(b.unprotect_rtp(&mut sent[135].1.clone()), Err(Error::TooOld));
    assert_eq!(b.unprotect_rtp(&mut sent[0].1.clone()), Err(Error::TooOld));
    // A window of 1024 accepts them.
    let config = Config { replay_window: 1024, ..Config::default() };
    let (mut a, mut b) = pair(Profile::AeadAes128Gcm, config);
    let sent = send(&mut a, 0..1100);
    for (_, p) in sent[900..].iter().chain(&sent[100..900]) {
        b.unprotect_rtp(&mut p.clone()).unwrap();
    }
    assert_eq!(b.unprotect_rtp(&mut sent[75].1.clone()), Err(Error::TooOld));
    assert_eq!(b.unprotect_rtp(&mut sent[500].1.clone()), Err(Error::Replayed));
}

#[test]
fn forged_packets_change_nothing() {
    for profile in Profile::ALL {
        let (mut a, mut b) = pair(profile, Config::default());
        let sent = send(&mut a, 65530..=65535);
        for (_, p) in &sent[..3] {
            b.unprotect_rtp(&mut p.clone()).unwrap();
        }
        // A forgery whose sequence number would advance the ROC.
        let mut forged = rtp(5, 7, 40);
        forged.extend_from_slice(&[0; 16][..profile.rtp_tag_len()]);
        assert_eq!(b.unprotect_rtp(&mut forged), Err(Error::AuthFailed));
        assert_eq!(b.inbound().roc(7), Some(0));
        // A forgery from an unknown SSRC creates no context.
        let mut forged = rtp(5, 99, 40);
        forged.extend_from_slice(&[0; 16][..profile.rtp_tag_len()]);
        assert_eq!(b.unprotect_rtp(&mut forged), Err(Error::AuthFailed));
        assert_eq!(b.inbound().stream_count(), 1);
        // The legitimate packets after it are still accepted, and a tampered copy of one is not
        // counted as received (the real one still gets through).
        let mut tampered = sent[3].1.clone();
        tampered[14] ^= 0xff;
        assert_eq!(b.unprotect_rtp(&mut tampered), Err(Error::AuthFailed));
        for (_, p) in &sent[3..] {
            b.unprotect_rtp(&mut p.clone()).unwrap();
        }
        assert_eq!(b.inbound().stats().auth_failed, 3);
    }
}

#[test]
fn srtcp_index_wraps() {
    for profile in Profile::ALL {
        let (mut a, mut b) = pair(profile, Config::default());
        a.outbound().set_srtcp_index(0x5678, 0x7fff_fffd).unwrap();
        let mut sent = Vec::new();
        for _ in 0..5 {
            let mut p = rtcp_rr(0x5678);
            a.protect_rtcp(&mut p).unwrap();
            sent.push(p);
        }
        let trailer = |p: &Vec<u8>| {
            let at = if profile.is_gcm() { p.len() - 4 } else { p.len() - 14 };
            u32::from_be_bytes(p[at..at + 4].try_into().unwrap())
        };
        let words: Vec<u32> = sent.iter().map(trailer).collect();
        assert_eq!(words, [0xffff_fffd, 0xffff_fffe, 0xffff_ffff, 0x8000_0000, 0x8000_0001]);
        // Delivered out of order across the wrap.
        for i in [0, 3, 1, 2, 4] {
            let mut p = sent[i].clone();
            b.unprotect_rtcp(&mut p).unwrap_or_else(|e| panic!("{profile:?} {i}: {e}"));
            assert_eq!(p, rtcp_rr(0x5678));
        }
        for p in &sent {
            assert_eq!(b.unprotect_rtcp(&mut p.clone()), Err(Error::Replayed), "{profile:?}");
        }
    }
}

#[test]
fn unknown_ssrc_policy_and_stream_cap() {
    let config = Config { unknown_ssrc: UnknownSsrc::Reject, ..Config::default() };
    let (mut a, mut b) = pair(Profile::AeadAes128Gcm, config);
    let (_, mut p) = send(&mut a, [1]).remove(0);
    let keep = p.clone();
    assert_eq!(b.unprotect_rtp(&mut p), Err(Error::UnknownSsrc(7)));
    b.inbound().set_roc(7, 0, 0).unwrap();
    let mut p = keep;
    b.unprotect_rtp(&mut p).unwrap();

    let config = Config { max_streams: 2, ..Config::default() };
    let (mut a, mut b) = pair(Profile::Aes128CmHmacSha1_80, config);
    for ssrc in [1, 2] {
        let mut p = rtp(0, ssrc, 10);
        a.protect_rtp(&mut p).unwrap();
        b.unprotect_rtp(&mut p).unwrap();
    }
    let mut p = rtp(0, 3, 10);
    assert_eq!(a.protect_rtp(&mut p), Err(Error::TooManyStreams));
    assert_eq!(p, rtp(0, 3, 10), "a failed protect leaves the packet as it was");
    assert_eq!(b.inbound().stream_count(), 2);
}

#[test]
fn bad_lengths_and_config() {
    let (mut a, mut b) = pair(Profile::Aes128CmHmacSha1_80, Config::default());
    for len in 0..22 {
        let mut p = vec![0x80u8; len];
        assert!(b.unprotect_rtp(&mut p).is_err());
        assert!(b.unprotect_rtcp(&mut p).is_err());
    }
    // Extension header claiming more than the packet holds.
    let mut p = rtp(1, 1, 0);
    p[0] |= 0x10;
    p.extend_from_slice(&[0xbe, 0xde, 0xff, 0xff]);
    assert_eq!(a.protect_rtp(&mut p), Err(Error::Malformed));
    let mut small = [0u8; 20];
    small[0] = 0x80;
    assert_eq!(a.protect_rtp_in_place(&mut small, 15), Err(Error::BufferTooSmall));
    assert_eq!(a.outbound().stats().buffer_too_small, 1);
    let bad = Config { replay_window: 0, ..Config::default() };
    assert_eq!(Context::new(Profile::AeadAes128Gcm, &[0; 16], &[0; 12], bad).unwrap_err(), Error::InvalidConfig);
    assert_eq!(
        Session::from_keying_material(Profile::AeadAes128Gcm, &[0; 60], Role::Client, Config::default()).unwrap_err(),
        Error::InvalidKeyLength
    );
}

#[test]
fn protect_in_place_keeps_capacity() {
    let (mut a, mut b) = pair(Profile::AeadAes128Gcm, Config::default());
    let mut p = rtp(1, 1, 1200);
    let cap = p.capacity();
    let ptr = p.as_ptr();
    a.protect_rtp(&mut p).unwrap();
    b.unprotect_rtp(&mut p).unwrap();
    assert_eq!((p.capacity(), p.as_ptr()), (cap, ptr));
}

#[test]
fn random_input_never_panics_or_changes_state() {
    let mut rng = crate::SeededRng::from_seed([9; 32]);
    for profile in Profile::ALL {
        let (mut a, mut b) = pair(profile, Config::default());
        for (_, mut p) in send(&mut a, 0..3) {
            b.unprotect_rtp(&mut p).unwrap();
        }
        let roc = b.inbound().roc(7);
        for _ in 0..2000 {
            let len = rng.below(80) as usize;
            let mut p: Vec<u8> = (0..len).map(|_| rng.below(256) as u8).collect();
            if len > 12 && rng.below(2) == 0 {
                p[0] = 0x80;
                p[8..12].copy_from_slice(&7u32.to_be_bytes());
            }
            assert!(b.unprotect_rtp(&mut p.clone()).is_err());
            assert!(b.unprotect_rtcp(&mut p).is_err());
        }
        assert_eq!((b.inbound().roc(7), b.inbound().stream_count()), (roc, 1));
        for (_, mut p) in send(&mut a, 3..6) {
            b.unprotect_rtp(&mut p).unwrap();
        }
    }
}

#[test]
fn set_roc_joins_a_stream_in_progress() {
    let (mut a, mut b) = pair(Profile::Aes128CmHmacSha1_80, Config::default());
    // The sender is at ROC 3 (e.g. it has been sending for a while before we joined).
    a.outbound().set_roc(7, 3, 100).unwrap();
    let sent = send(&mut a, [100, 101]);
    assert_eq!(a.outbound().roc(7), Some(3));
    // Without the ROC the receiver assumes 0 and authentication fails (the ROC is in the tag).
    assert_eq!(b.unprotect_rtp(&mut sent[0].1.clone()), Err(Error::AuthFailed));
    b.inbound().set_roc(7, 3, 100).unwrap();
    for (s, p) in &sent {
        let mut p = p.clone();
        b.unprotect_rtp(&mut p).unwrap();
        assert_eq!(p, rtp(*s, 7, 40));
    }
    assert_eq!(b.unprotect_rtp(&mut sent[0].1.clone()), Err(Error::Replayed));
    assert_eq!(b.inbound().roc(7), Some(3));
}

#[test]
fn keying_block_halves_go_to_the_right_direction() {
    // RFC 5764 §4.2: client key | server key | client salt | server salt.
    for profile in Profile::ALL {
        let (k, s) = (profile.key_len(), profile.salt_len());
        let block: Vec<u8> = (0..profile.keying_material_len()).map(|i| (i * 7 + 1) as u8).collect();
        let (client_key, server_key) = (&block[..k], &block[k..2 * k]);
        let (client_salt, server_salt) = (&block[2 * k..2 * k + s], &block[2 * k + s..]);
        for (role, key, salt) in [(Role::Client, client_key, client_salt), (Role::Server, server_key, server_salt)] {
            let mut session = Session::from_keying_material(profile, &block, role, Config::default()).unwrap();
            let mut reference = Context::new(profile, key, salt, Config::default()).unwrap();
            let (mut a, mut b) = (rtp(1, 5, 64), rtp(1, 5, 64));
            session.protect_rtp(&mut a).unwrap();
            reference.protect_rtp(&mut b).unwrap();
            assert_eq!(a, b, "{profile:?} {role:?}");
        }
    }
}

#[test]
fn header_and_extensions_stay_readable_in_srtp() {
    use crate::rtp::{ExtensionForm, ExtensionKind, ExtensionMap, ExtensionValue, Header, Packet, Writer};
    let mut map = ExtensionMap::new();
    map.insert(3, ExtensionKind::TransportWideCc);
    map.insert(4, ExtensionKind::Mid);
    let mut buf = Vec::with_capacity(1500);
    let header = Header { marker: true, payload_type: 96, sequence_number: 9, timestamp: 3000, ssrc: 0xabc };
    let mut w = Writer::new(&mut buf, &header, &[0x1111]).unwrap();
    w.start_extensions(ExtensionForm::OneByte).unwrap();
    w.extension_value(&map, &ExtensionValue::TransportWideCc(77)).unwrap();
    w.extension_value(&map, &ExtensionValue::Mid("0")).unwrap();
    w.finish(&[0x55; 300], 0).unwrap();
    let plain = buf.clone();
    for profile in Profile::ALL {
        let (mut a, mut b) = pair(profile, Config::default());
        let mut p = plain.clone();
        a.protect_rtp(&mut p).unwrap();
        // The SRTP packet parses as RTP (the tag counts as payload) with the extensions in the clear.
        let view = Packet::new_checked(&p[..]).unwrap();
        assert_eq!(
            view.extension_value(&map, ExtensionKind::TransportWideCc),
            Some(ExtensionValue::TransportWideCc(77))
        );
        assert_ne!(&view.payload()[..300], &[0x55; 300][..]);
        b.unprotect_rtp(&mut p).unwrap();
        assert_eq!(p, plain);
    }
}

#[test]
fn unprotect_into_a_separate_buffer_matches_in_place() {
    for profile in Profile::ALL {
        let (mut a, mut b) = pair(profile, Config::default());
        let mut out = vec![0u8; 1500];
        for seq in 0..20u16 {
            let plain = rtp(seq, 0x1234, 100 + usize::from(seq));
            let mut p = plain.clone();
            a.protect_rtp(&mut p).unwrap();
            // A forged copy fails and changes nothing: the genuine one still authenticates.
            let mut forged = p.clone();
            forged[20] ^= 1;
            assert_eq!(b.unprotect_rtp_to(&forged, &mut out), Err(Error::AuthFailed), "{profile:?}");
            // Too small a destination is refused before anything changes.
            assert_eq!(b.unprotect_rtp_to(&p, &mut [0u8; 20]), Err(Error::BufferTooSmall));
            let n = b.unprotect_rtp_to(&p, &mut out).unwrap();
            assert_eq!(&out[..n], &plain[..], "{profile:?}");
            // Its index is now taken: a replay is refused, in place as into a buffer.
            assert_eq!(b.unprotect_rtp_to(&p, &mut out), Err(Error::Replayed));
            assert_eq!(b.unprotect_rtp(&mut p), Err(Error::Replayed));
        }
    }
}
