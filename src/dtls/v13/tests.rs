//! Known answers (RFC 5869, RFC 8448 §3, OpenSSL's exporter) and record layer round trips.

extern crate std;

use alloc::vec;
use alloc::vec::Vec;
use std::collections::HashMap;

use super::key_schedule::*;
use super::record::*;
use crate::dtls::crypto::X25519Key;
use crate::dtls::error::Error;
use crate::dtls::wire::ContentType;

fn kv(text: &str) -> HashMap<&str, Vec<u8>> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let bytes = (0..v.len() / 2).map(|i| u8::from_str_radix(&v[2 * i..2 * i + 2], 16).unwrap()).collect();
            (k.trim(), bytes)
        })
        .collect()
}

fn rfc8448() -> HashMap<&'static str, Vec<u8>> {
    kv(include_str!("../../../vectors/tls13/rfc8448_simple_1rtt.txt"))
}

const H: HashAlg = HashAlg::Sha256;
const TLS: LabelPrefix = LabelPrefix::Tls13;
#[cfg(feature = "dtls13")]
const AEADS: &[Aead] = &[Aead::Aes128Gcm, Aead::Aes256Gcm, Aead::ChaCha20Poly1305];
#[cfg(not(feature = "dtls13"))]
const AEADS: &[Aead] = &[Aead::Aes128Gcm, Aead::Aes256Gcm];

#[test]
fn hkdf_rfc5869() {
    let v = kv(include_str!("../../../vectors/tls13/hkdf_rfc5869.txt"));
    for i in 1..=3 {
        let k = |name: &str| &v[std::format!("{name}{i}").as_str()];
        let prk = hkdf_extract(H, k("salt"), k("ikm"));
        assert_eq!(prk.as_bytes(), &k("prk")[..], "case {i}");
        let mut okm = vec![0u8; k("okm").len()];
        hkdf_expand(H, prk.as_bytes(), k("info"), &mut okm).unwrap();
        assert_eq!(okm, *k("okm"), "case {i}");
    }
    // At most 255 blocks.
    let mut too_long = vec![0u8; 255 * 32 + 1];
    assert_eq!(hkdf_expand(H, &[1; 32], &[], &mut too_long), Err(Error::InvalidKey));
    assert!(hkdf_expand(H, &[1; 32], &[], &mut too_long[..255 * 32]).is_ok());
}

#[test]
fn hkdf_label_encoding_with_both_prefixes() {
    let v = rfc8448();
    let mut buf = [0u8; 600];
    // RFC 8448's printed "key info" and "iv info": length, "tls13 key", empty context.
    let n = hkdf_label(TLS, b"key", &[], 16, &mut buf).unwrap();
    assert_eq!(buf[..n], [0x00, 0x10, 0x09, b't', b'l', b's', b'1', b'3', b' ', b'k', b'e', b'y', 0x00]);
    let n = hkdf_label(TLS, b"derived", &v["empty_hash"], 32, &mut buf).unwrap();
    assert_eq!(&buf[..16], b"\x00\x20\x0dtls13 derived");
    assert_eq!((buf[16], &buf[17..n]), (32, &v["empty_hash"][..]));
    // DTLS 1.3: "dtls13" with no space (RFC 9147 §5.9), the same length as "tls13 ".
    let n = hkdf_label(LabelPrefix::Dtls13, b"sn", &[], 16, &mut buf).unwrap();
    assert_eq!(buf[..n], *b"\x00\x10\x08dtls13sn\x00");
    // Labels and contexts longer than their one-byte lengths are refused.
    assert_eq!(hkdf_label(TLS, &[b'a'; 250], &[], 16, &mut buf), Err(Error::InvalidKey));
    assert_eq!(hkdf_label(TLS, b"x", &[0; 256], 16, &mut buf), Err(Error::InvalidKey));
    assert_eq!(hkdf_label(TLS, b"key", &[], 16, &mut buf[..12]), Err(Error::InvalidKey));
    // The prefix changes every derived value.
    let s = Secret::from_slice(&[7; 32]).unwrap();
    let (a, b) = (
        derive_secret(H, TLS, &s, b"c hs traffic", &[1; 32]).unwrap(),
        derive_secret(H, LabelPrefix::Dtls13, &s, b"c hs traffic", &[1; 32]).unwrap(),
    );
    assert_ne!(a, b);
}

/// The transcript hash of the concatenated messages.
fn transcript(v: &HashMap<&str, Vec<u8>>, names: &[&str]) -> Secret {
    let all: Vec<u8> = names.iter().flat_map(|n| v[n].iter().copied()).collect();
    H.digest(&all)
}

#[test]
fn rfc8448_simple_1rtt_key_schedule() {
    let v = rfc8448();
    // The (EC)DHE input is X25519 of the two key pairs of the section.
    let server = X25519Key::from_secret(v["server_private"].clone().try_into().unwrap());
    let client = X25519Key::from_secret(v["client_private"].clone().try_into().unwrap());
    assert_eq!(server.public()[..], v["server_public"][..]);
    assert_eq!(client.public()[..], v["client_public"][..]);
    let shared = server.agree(client.public()).unwrap();
    assert_eq!(shared[..], v["ecdhe"][..]);
    assert_eq!(client.agree(server.public()).unwrap(), shared);

    let mut ks = KeySchedule::new(H, TLS);
    assert_eq!(ks.current_secret().as_bytes(), &v["early_secret"][..]);
    // Out of order: no traffic secrets before the handshake secret.
    assert_eq!(ks.handshake_traffic_secrets(&[0; 32]), Err(Error::UnexpectedMessage));
    assert_eq!(ks.enter_master(), Err(Error::UnexpectedMessage));
    let derived = derive_secret(H, TLS, ks.current_secret(), b"derived", &v["empty_hash"]).unwrap();
    assert_eq!(derived.as_bytes(), &v["derived_for_handshake"][..]);
    ks.input_shared_secret(&shared).unwrap();
    assert_eq!(ks.current_secret().as_bytes(), &v["handshake_secret"][..]);
    assert_eq!(ks.input_shared_secret(&shared), Err(Error::UnexpectedMessage));

    let hello_hash = transcript(&v, &["client_hello", "server_hello"]);
    assert_eq!(hello_hash.as_bytes(), &v["hello_hash"][..]);
    let hs = ks.handshake_traffic_secrets(hello_hash.as_bytes()).unwrap();
    assert_eq!(hs.client.as_bytes(), &v["c_hs_traffic"][..]);
    assert_eq!(hs.server.as_bytes(), &v["s_hs_traffic"][..]);
    for (secret, key, iv) in [(hs.server, "s_hs_key", "s_hs_iv"), (hs.client, "c_hs_key", "c_hs_iv")] {
        let k = TrafficKeys::derive(H, TLS, &secret, 16).unwrap();
        assert_eq!((k.key(), &k.iv[..]), (&v[key][..], &v[iv][..]), "{key}");
    }

    // Server Finished over ClientHello..CertificateVerify, client Finished over ..server Finished.
    assert_eq!(finished_key(H, TLS, &hs.server).unwrap().as_bytes(), &v["s_finished_key"][..]);
    let th =
        transcript(&v, &["client_hello", "server_hello", "encrypted_extensions", "certificate", "certificate_verify"]);
    let s_verify = verify_data(H, TLS, &hs.server, th.as_bytes()).unwrap();
    assert_eq!(s_verify.as_bytes(), &v["s_verify_data"][..]);
    assert_eq!(&v["server_finished"][4..], s_verify.as_bytes());
    let server_finished_hash = transcript(
        &v,
        &[
            "client_hello",
            "server_hello",
            "encrypted_extensions",
            "certificate",
            "certificate_verify",
            "server_finished",
        ],
    );
    assert_eq!(server_finished_hash.as_bytes(), &v["server_finished_hash"][..]);
    assert_eq!(finished_key(H, TLS, &hs.client).unwrap().as_bytes(), &v["c_finished_key"][..]);
    let c_verify = verify_data(H, TLS, &hs.client, server_finished_hash.as_bytes()).unwrap();
    assert_eq!(c_verify.as_bytes(), &v["c_verify_data"][..]);
    assert_eq!(&v["client_finished"][4..], c_verify.as_bytes());

    let derived = derive_secret(H, TLS, ks.current_secret(), b"derived", &v["empty_hash"]).unwrap();
    assert_eq!(derived.as_bytes(), &v["derived_for_master"][..]);
    assert_eq!(ks.application_traffic_secrets(&[0; 32]), Err(Error::UnexpectedMessage));
    ks.enter_master().unwrap();
    assert_eq!(ks.current_secret().as_bytes(), &v["master_secret"][..]);
    let ap = ks.application_traffic_secrets(server_finished_hash.as_bytes()).unwrap();
    assert_eq!(ap.client.as_bytes(), &v["c_ap_traffic"][..]);
    assert_eq!(ap.server.as_bytes(), &v["s_ap_traffic"][..]);
    let exp = ks.exporter_master_secret(server_finished_hash.as_bytes()).unwrap();
    assert_eq!(exp.as_bytes(), &v["exp_master"][..]);
    for (secret, key, iv) in [(ap.server, "s_ap_key", "s_ap_iv"), (ap.client, "c_ap_key", "c_ap_iv")] {
        let k = TrafficKeys::derive(H, TLS, &secret, 16).unwrap();
        assert_eq!((k.key(), &k.iv[..]), (&v[key][..], &v[iv][..]), "{key}");
    }
    let client_finished_hash = transcript(
        &v,
        &[
            "client_hello",
            "server_hello",
            "encrypted_extensions",
            "certificate",
            "certificate_verify",
            "server_finished",
            "client_finished",
        ],
    );
    assert_eq!(client_finished_hash.as_bytes(), &v["client_finished_hash"][..]);
    let res = ks.resumption_master_secret(client_finished_hash.as_bytes()).unwrap();
    assert_eq!(res.as_bytes(), &v["res_master"][..]);
    // The ticket of the section has nonce 0x0000.
    assert_eq!(resumption_psk(H, TLS, &res, &[0, 0]).unwrap().as_bytes(), &v["resumption"][..]);
    // NewSessionTicket: type, length, lifetime, age_add, then ticket_nonce<0..255>: two zero bytes.
    assert_eq!(v["ticket_payload"][12..15], [2, 0, 0]);

    // KeyUpdate: the next secret is an HKDF-Expand-Label of the current one, new keys follow.
    let next = next_traffic_secret(H, TLS, &ap.client).unwrap();
    let mut manual = [0u8; 32];
    hkdf_expand_label(H, TLS, ap.client.as_bytes(), b"traffic upd", &[], &mut manual).unwrap();
    assert_eq!(next.as_bytes(), manual);
    assert_ne!(TrafficKeys::derive(H, TLS, &next, 16).unwrap().key(), &v["c_ap_key"][..]);
}

#[test]
fn exporter_matches_openssl() {
    let v = kv(include_str!("../../../vectors/tls13/exporter_openssl.txt"));
    for (hash, name) in [(HashAlg::Sha256, "sha256"), (HashAlg::Sha384, "sha384")] {
        let master = Secret::from_slice(&v[std::format!("{name}_exporter_master").as_str()]).unwrap();
        let mut out = [0u8; 60];
        export(hash, TLS, &master, b"EXTRACTOR-dtls_srtp", &[], &mut out).unwrap();
        assert_eq!(out[..], v[std::format!("{name}_material").as_str()][..], "{name}");
        // The context matters; the label prefix too.
        let mut other = [0u8; 60];
        export(hash, TLS, &master, b"EXTRACTOR-dtls_srtp", b"ctx", &mut other).unwrap();
        assert_ne!(other, out);
        export(hash, LabelPrefix::Dtls13, &master, b"EXTRACTOR-dtls_srtp", &[], &mut other).unwrap();
        assert_ne!(other, out);
    }
}

/// The TLS 1.3 record header (RFC 8446 §5.2): the additional data of a TLS record.
fn tls_open(keys: &TrafficKeys, seq: u64, record: &[u8]) -> Vec<u8> {
    let p = RecordProtection::new(Aead::Aes128Gcm, keys).unwrap();
    let mut buf = record[5..].to_vec();
    p.open_in_place(seq, &record[..5], &mut buf).unwrap();
    // Re-sealing gives the same bytes.
    let mut again = buf.clone();
    p.seal_in_place(seq, &record[..5], &mut again);
    assert_eq!(again, record[5..]);
    buf
}

#[test]
fn rfc8448_records_open_and_seal_with_the_per_record_nonce() {
    let v = rfc8448();
    let keys = |k: &str, iv: &str| {
        // The vectors give key and IV; derive from the traffic secret and check they are those.
        let secret = Secret::from_slice(&v[k]).unwrap();
        let t = TrafficKeys::derive(H, TLS, &secret, 16).unwrap();
        assert_eq!(&t.iv[..], &v[iv][..]);
        t
    };
    let s_hs = keys("s_hs_traffic", "s_hs_iv");
    let c_hs = keys("c_hs_traffic", "c_hs_iv");
    let s_ap = keys("s_ap_traffic", "s_ap_iv");
    let c_ap = keys("c_ap_traffic", "c_ap_iv");
    // (keys, record number, record, inner content, inner type)
    let cases = [
        (&s_hs, 0, "server_hs_record", "server_hs_payload", ContentType::HANDSHAKE),
        (&c_hs, 0, "client_fin_record", "client_fin_payload", ContentType::HANDSHAKE),
        (&s_ap, 0, "ticket_record", "ticket_payload", ContentType::HANDSHAKE),
        (&c_ap, 0, "client_app_record", "client_app_payload", ContentType::APPLICATION_DATA),
        (&s_ap, 1, "server_app_record", "server_app_payload", ContentType::APPLICATION_DATA),
        (&c_ap, 1, "client_alert_record", "client_alert_payload", ContentType::ALERT),
        (&s_ap, 2, "server_alert_record", "server_alert_payload", ContentType::ALERT),
    ];
    for (k, seq, rec, payload, ty) in cases {
        let inner = tls_open(k, seq, &v[rec]);
        let (content, tail) = inner.split_at(v[payload].len());
        assert_eq!(content, &v[payload][..], "{rec}");
        assert_eq!(tail, [ty.0], "{rec}");
        // The wrong record number or key fails.
        let p = RecordProtection::new(Aead::Aes128Gcm, k).unwrap();
        let mut buf = v[rec][5..].to_vec();
        assert_eq!(p.open_in_place(seq + 1, &v[rec][..5], &mut buf), Err(Error::BadRecordMac));
        assert!(buf.is_empty());
    }
    // The nonce is the IV XOR the left-padded record number.
    let p = RecordProtection::new(Aead::Aes128Gcm, &s_ap).unwrap();
    let mut n = s_ap.iv;
    n[11] ^= 2;
    assert_eq!(p.nonce(2), n);
}

fn dtls_keys(seed: u8, key_len: usize) -> TrafficKeys {
    let s = Secret::from_slice(&[seed; 32]).unwrap();
    TrafficKeys::derive(H, LabelPrefix::Dtls13, &s, key_len).unwrap()
}

#[test]
fn unified_header_parse_emit_and_truncation() {
    for cid in [&[][..], &[1, 2, 3, 4][..]] {
        for seq_16 in [false, true] {
            for length_present in [false, true] {
                let h = UnifiedHeader { epoch_bits: 3, cid, seq: 0x1234, seq_16, length_present };
                let mut buf = Vec::new();
                h.emit(&mut buf, 20);
                assert_eq!(buf.len(), h.len());
                assert_eq!(buf[0] & 0xe0, 0x20);
                assert!(is_ciphertext(buf[0]));
                buf.extend_from_slice(&[0xaa; 20]);
                buf.extend_from_slice(&[0x55; 3]); // a next record, or part of this one without L
                let (rec, rest) = UnifiedHeader::parse_prefix(&buf, cid.len()).unwrap();
                let want_seq = if seq_16 { 0x1234 } else { 0x34 };
                assert_eq!(rec.header, UnifiedHeader { seq: want_seq, ..h });
                assert_eq!(rec.header_bytes, &buf[..h.len()]);
                if length_present {
                    assert_eq!((rec.encrypted.len(), rest), (20, &[0x55; 3][..]));
                } else {
                    assert_eq!((rec.encrypted.len(), rest.len()), (23, 0));
                }
                // Every truncation inside the header (and, with L, inside the body) is an error.
                let end = if length_present { h.len() + 20 } else { h.len() };
                for n in 0..end {
                    assert!(UnifiedHeader::parse_prefix(&buf[..n], cid.len()).is_err(), "cut at {n}");
                }
            }
        }
    }
    // Not 001xxxxx: a DTLS 1.2 or plaintext content type.
    for first in [21u8, 22, 23, 26, 0x40, 0x1f, 0xff] {
        assert!(!is_ciphertext(first));
        assert_eq!(UnifiedHeader::parse_prefix(&[first, 0, 0, 0], 0).err(), Some(Error::UnknownContentType(first)));
    }
    // A connection ID we did not negotiate.
    assert_eq!(UnifiedHeader::parse_prefix(&[0x30, 0, 0], 0).err(), Some(Error::Malformed));
}

#[test]
fn sequence_number_and_epoch_reconstruction() {
    // Closest to the expected value, both directions, across the window's edges.
    assert_eq!(reconstruct_seq(0, 0, 8), 0);
    assert_eq!(reconstruct_seq(0, 0xff, 8), 0xff, "never below zero");
    assert_eq!(reconstruct_seq(0x100, 0xff, 8), 0xff);
    assert_eq!(reconstruct_seq(0x100, 0x01, 8), 0x101);
    assert_eq!(reconstruct_seq(0x1fe, 0x02, 8), 0x202);
    assert_eq!(reconstruct_seq(0x27f, 0x00, 8), 0x200, "0x7f below rather than 0x81 above");
    assert_eq!(reconstruct_seq(0x280, 0x00, 8), 0x300, "a tie goes up");
    assert_eq!(reconstruct_seq(0x27f, 0xff, 8), 0x2ff);
    // RFC 9000 A.3's example, the same algorithm on 16 bits.
    assert_eq!(reconstruct_seq(0xa82f30eb, 0x9b32, 16), 0xa82f9b32);
    assert_eq!(reconstruct_seq(0x1_0005, 0xfffe, 16), 0xfffe);
    // Never beyond 2^48 - 1.
    let max = (1u64 << 48) - 1;
    assert_eq!(reconstruct_seq(max, 0xffff, 16), max);
    assert_eq!(reconstruct_seq(u64::MAX, 0x00, 8), max - 0xff);
    // For every expected value and distance within half a window, the exact value comes back.
    for expected in [0u64, 1, 127, 128, 255, 256, 1000, 65_535, 65_536, 1 << 40] {
        for delta in -127i64..=127 {
            let Some(actual) = expected.checked_add_signed(delta) else { continue };
            assert_eq!(reconstruct_seq(expected, (actual & 0xff) as u16, 8), actual, "{expected} {delta}");
            assert_eq!(reconstruct_seq(expected, (actual & 0xffff) as u16, 16), actual);
        }
    }
    // Epochs: the current one if its bits match, else the most recent past one.
    assert_eq!(reconstruct_epoch(5, 1), Some(5));
    assert_eq!(reconstruct_epoch(5, 0), Some(4));
    assert_eq!(reconstruct_epoch(5, 3), Some(3));
    assert_eq!(reconstruct_epoch(5, 2), Some(2));
    assert_eq!(reconstruct_epoch(1, 3), None);
    assert_eq!(reconstruct_epoch(3, 3), Some(3));
    assert_eq!(reconstruct_epoch(4, 2), Some(2));
}

#[test]
fn dtls13_records_seal_open_with_record_number_encryption() {
    for &aead in AEADS {
        let keys = dtls_keys(1, aead.key_len());
        let p = RecordProtection::new(aead, &keys).unwrap();
        let mut wire = Vec::new();
        let mut plain = Vec::new();
        let mut encrypted_differs = 0;
        for seq in 0..600u64 {
            let seq_16 = seq % 2 == 0;
            let cid: &[u8] = if seq % 3 == 0 { &[9, 8] } else { &[] };
            let content = vec![(seq % 251) as u8; (seq % 40) as usize];
            wire.clear();
            p.seal(&mut wire, 2, seq, cid, seq_16, true, ContentType::APPLICATION_DATA, &content, (seq % 5) as usize)
                .unwrap();
            let (rec, rest) = UnifiedHeader::parse_prefix(&wire, 2).unwrap();
            assert!(rest.is_empty());
            assert_eq!(rec.header.epoch_bits, 2);
            let sent_low = if seq_16 { seq as u16 } else { u16::from(seq as u8) };
            if rec.header.seq != sent_low {
                encrypted_differs += 1;
            }
            // The receiver expects the next record after the previous one.
            let opened = p.open(&rec, seq, &mut plain).unwrap();
            assert_eq!(opened, Opened { content_type: ContentType::APPLICATION_DATA, seq });
            assert_eq!(plain, content);
            // Also when records arrive out of order, within half a window.
            let opened = p.open(&rec, seq + 60, &mut plain).unwrap();
            assert_eq!(opened.seq, seq);
        }
        assert!(encrypted_differs > 550, "record numbers are encrypted: {encrypted_differs} of 600 differ");
    }
}

#[test]
fn dtls13_records_refuse_tampering_short_records_and_wrong_keys() {
    for &aead in AEADS {
        refuse_tampering(aead);
    }
}

fn refuse_tampering(aead: Aead) {
    let keys = dtls_keys(2, aead.key_len());
    let p = RecordProtection::new(aead, &keys).unwrap();
    let other = RecordProtection::new(aead, &dtls_keys(3, aead.key_len())).unwrap();
    let mut wire = Vec::new();
    p.seal(&mut wire, 3, 77, &[], true, true, ContentType::HANDSHAKE, b"finished", 0).unwrap();
    let mut out = Vec::new();
    let (rec, _) = UnifiedHeader::parse_prefix(&wire, 0).unwrap();
    assert_eq!(p.open(&rec, 77, &mut out).unwrap().content_type, ContentType::HANDSHAKE);
    assert_eq!(other.open(&rec, 77, &mut out), Err(Error::BadRecordMac));
    assert!(out.is_empty());
    // Every single-bit flip of header or body fails (header bits are in the additional data; a flipped
    // record number decrypts to another number, hence another nonce).
    for i in 0..wire.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = wire.clone();
            bad[i] ^= bit;
            let Ok((rec, _)) = UnifiedHeader::parse_prefix(&bad, 0) else { continue };
            assert!(p.open(&rec, 77, &mut out).is_err(), "byte {i} bit {bit:#x}");
            assert!(out.is_empty());
        }
    }
    // A record shorter than the 16-byte sample is refused before any decryption.
    let short = [0x2c, 0, 0, 0, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    let (rec, _) = UnifiedHeader::parse_prefix(&short, 0).unwrap();
    assert_eq!(p.open(&rec, 0, &mut out), Err(Error::BadRecordMac));
    // An inner plaintext of zeros only has no content type.
    let mut zeros = Vec::new();
    p.seal(&mut zeros, 0, 5, &[], true, true, ContentType(0), &[], 3).unwrap();
    let (rec, _) = UnifiedHeader::parse_prefix(&zeros, 0).unwrap();
    assert_eq!(p.open(&rec, 5, &mut out), Err(Error::Malformed));
    // Padding is stripped.
    let mut padded = Vec::new();
    p.seal(&mut padded, 0, 6, &[], false, false, ContentType::ALERT, &[1, 0], 40).unwrap();
    let (rec, _) = UnifiedHeader::parse_prefix(&padded, 0).unwrap();
    assert_eq!(p.open(&rec, 6, &mut out).unwrap().content_type, ContentType::ALERT);
    assert_eq!(out, [1, 0]);
    // Oversized content and connection IDs are refused.
    assert_eq!(
        p.seal(&mut Vec::new(), 0, 0, &[], true, true, ContentType::APPLICATION_DATA, &vec![0; 1 << 14], 256),
        Err(Error::TooLarge)
    );
    assert!(p.seal(&mut Vec::new(), 0, 0, &[0; 256], true, true, ContentType::ACK, &[], 0).is_err());
}

fn hex(s: &str) -> Vec<u8> {
    let s: alloc::string::String = s.split_whitespace().collect();
    (0..s.len() / 2).map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap()).collect()
}

/// The ChaCha20 block function written out from RFC 8439 §2.3 (quarter rounds on a 4x4 state of
/// little-endian words), to check record number masks against something other than the code under test.
fn chacha20_block(key: &[u8; 32], counter: u32, nonce: &[u8; 12]) -> [u8; 64] {
    fn qr(s: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
        s[a] = s[a].wrapping_add(s[b]);
        s[d] = (s[d] ^ s[a]).rotate_left(16);
        s[c] = s[c].wrapping_add(s[d]);
        s[b] = (s[b] ^ s[c]).rotate_left(12);
        s[a] = s[a].wrapping_add(s[b]);
        s[d] = (s[d] ^ s[a]).rotate_left(8);
        s[c] = s[c].wrapping_add(s[d]);
        s[b] = (s[b] ^ s[c]).rotate_left(7);
    }
    let word = |b: &[u8]| u32::from_le_bytes(b.try_into().unwrap());
    let mut init = [0u32; 16];
    init[..4].copy_from_slice(&[0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574]);
    for i in 0..8 {
        init[4 + i] = word(&key[4 * i..4 * i + 4]);
    }
    init[12] = counter;
    for i in 0..3 {
        init[13 + i] = word(&nonce[4 * i..4 * i + 4]);
    }
    let mut s = init;
    for _ in 0..10 {
        qr(&mut s, 0, 4, 8, 12);
        qr(&mut s, 1, 5, 9, 13);
        qr(&mut s, 2, 6, 10, 14);
        qr(&mut s, 3, 7, 11, 15);
        qr(&mut s, 0, 5, 10, 15);
        qr(&mut s, 1, 6, 11, 12);
        qr(&mut s, 2, 7, 8, 13);
        qr(&mut s, 3, 4, 9, 14);
    }
    let mut out = [0u8; 64];
    for i in 0..16 {
        out[4 * i..4 * i + 4].copy_from_slice(&s[i].wrapping_add(init[i]).to_le_bytes());
    }
    out
}

#[test]
fn chacha20_block_function_matches_rfc8439() {
    // RFC 8439 §2.3.2: key 00..1f, nonce 000000090000004a00000000, block counter 1.
    let key: [u8; 32] = core::array::from_fn(|i| i as u8);
    let nonce: [u8; 12] = hex("000000090000004a00000000").try_into().unwrap();
    let block = chacha20_block(&key, 1, &nonce);
    assert_eq!(block[..16], hex("10f1e7e4d13b5915500fdd1fa32071c4")[..]);
}

/// Record number encryption (RFC 9147 §4.2.3) recomputed from the RFC's words: the mask is AES-ECB(sn_key,
/// Ciphertext[0..16]) for the AES suites, and for ChaCha20 the block function with the first 4 ciphertext
/// bytes as the (little-endian) block counter and the next 12 as the nonce. Unmasking the record number on
/// the wire with it gives the sequence number sealed.
#[test]
fn record_number_mask_is_the_one_rfc9147_describes() {
    use aes::cipher::{BlockCipherEncrypt, KeyInit};
    for &aead in AEADS {
        let keys = dtls_keys(7, aead.key_len());
        let p = RecordProtection::new(aead, &keys).unwrap();
        for seq in [0u64, 1, 0x1234, 0xbeef, 70_000] {
            let mut wire = Vec::new();
            p.seal(&mut wire, 3, seq, &[], true, true, ContentType::APPLICATION_DATA, b"mask me", 0).unwrap();
            // first byte, 16-bit sequence number, length, then the encrypted record.
            let sample: [u8; 16] = wire[5..21].try_into().unwrap();
            let mask: [u8; 16] = match aead {
                Aead::Aes128Gcm => {
                    let mut b = sample.into();
                    aes::Aes128Enc::new_from_slice(keys.sn_key()).unwrap().encrypt_block(&mut b);
                    b.into()
                }
                Aead::Aes256Gcm => {
                    let mut b = sample.into();
                    aes::Aes256Enc::new_from_slice(keys.sn_key()).unwrap().encrypt_block(&mut b);
                    b.into()
                }
                Aead::ChaCha20Poly1305 => {
                    let counter = u32::from_le_bytes(sample[..4].try_into().unwrap());
                    let block =
                        chacha20_block(keys.sn_key().try_into().unwrap(), counter, &sample[4..].try_into().unwrap());
                    block[..16].try_into().unwrap()
                }
            };
            let on_wire = u16::from_be_bytes([wire[1], wire[2]]);
            assert_eq!(on_wire ^ u16::from_be_bytes([mask[0], mask[1]]), seq as u16, "{aead:?} seq {seq}");
        }
    }
}

/// RFC 8439 §2.8.2: AEAD_CHACHA20_POLY1305 with key 80..9f and nonce 070000004041424344454647 (our write IV,
/// record number 0) over "Ladies and Gentlemen of the class of '99: ..." with additional data
/// 50515253c0c1c2c3c4c5c6c7.
#[test]
#[cfg(feature = "dtls13")]
fn chacha20_poly1305_record_protection_matches_rfc8439() {
    let key: [u8; 32] = core::array::from_fn(|i| 0x80 + i as u8);
    let iv: [u8; 12] = hex("070000004041424344454647").try_into().unwrap();
    let keys = TrafficKeys::from_parts(&key, iv, &[0; 32]).unwrap();
    let p = RecordProtection::new(Aead::ChaCha20Poly1305, &keys).unwrap();
    let aad = hex("50515253c0c1c2c3c4c5c6c7");
    let text: &[u8] = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
    let mut buf = text.to_vec();
    p.seal_in_place(0, &aad, &mut buf);
    assert_eq!(buf.len(), text.len() + TAG_LEN);
    assert_eq!(buf[..16], hex("d31a8d34648e60db7b86afbc53ef7ec2")[..]);
    assert_eq!(buf[text.len()..], hex("1ae10b594f09e26a7e902ecbd0600691")[..]);
    p.open_in_place(0, &aad, &mut buf).unwrap();
    assert_eq!(buf, text);
    // The suites map to their hash and AEAD.
    use crate::dtls::wire::CipherSuite;
    assert_eq!(
        Aead::of_suite(CipherSuite::TLS13_CHACHA20_POLY1305_SHA256),
        Some((HashAlg::Sha256, Aead::ChaCha20Poly1305))
    );
    assert_eq!(Aead::of_suite(CipherSuite::TLS13_AES_256_GCM_SHA384), Some((HashAlg::Sha384, Aead::Aes256Gcm)));
    assert_eq!(Aead::of_suite(CipherSuite::ECDHE_ECDSA_AES_128_GCM_SHA256), None);
    // Keys of the wrong length are refused.
    assert!(RecordProtection::new(Aead::ChaCha20Poly1305, &dtls_keys(1, 16)).is_err());
    assert!(RecordProtection::new(Aead::Aes128Gcm, &dtls_keys(1, 32)).is_err());
}

/// A peer picks the record-number sample, so ChaCha20's block counter in it may be the last one
/// (0xffffffff): the mask is still computed (the record is then refused by its tag), never a panic. Found
/// by the `dtls13_record` fuzz target.
#[test]
#[cfg(feature = "dtls13")]
fn chacha20_mask_with_the_last_block_counter_is_no_panic() {
    let keys = dtls_keys(3, Aead::ChaCha20Poly1305.key_len());
    let p = RecordProtection::new(Aead::ChaCha20Poly1305, &keys).unwrap();
    // 001CSLEE: no connection ID, 16-bit sequence number, length present, epoch 3; then 32 bytes whose
    // first four (the counter of the mask's block) are all ones.
    let mut wire = vec![0x2f, 0x12, 0x34, 0x00, 0x20];
    wire.extend_from_slice(&[0xff; 4]);
    wire.extend_from_slice(&[0x5a; 28]);
    let (rec, rest) = UnifiedHeader::parse_prefix(&wire, 0).unwrap();
    assert!(rest.is_empty());
    let mut out = Vec::new();
    assert_eq!(p.open(&rec, 0, &mut out).map(|o| o.seq), Err(Error::BadRecordMac));
}
