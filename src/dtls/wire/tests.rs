#![allow(clippy::indexing_slicing)]

use alloc::vec::Vec;

use super::record::write_header;
use super::*;

fn client_hello_body() -> Vec<u8> {
    let mut body = Vec::new();
    let suites = [CipherSuite::ECDHE_ECDSA_AES_128_GCM_SHA256];
    ClientHello::emit(
        &mut body,
        DTLS1_2,
        &[0x5a; 32],
        &[1, 2, 3],
        &suites,
        &[NamedGroup::X25519, NamedGroup::SECP256R1],
        &[SrtpProfile::AEAD_AES_128_GCM],
        &[],
    );
    body
}

#[test]
fn client_hello_random_is_a_checked_array() {
    let body = client_hello_body();
    let ch = ClientHello::parse(&body).unwrap();
    let random: &[u8; 32] = ch.random;
    assert_eq!(random, &[0x5a; 32]);
    assert_eq!((ch.version, ch.cookie), (DTLS1_2, &[1, 2, 3][..]));
    assert_eq!(ch.suites().collect::<Vec<_>>(), [CipherSuite::ECDHE_ECDSA_AES_128_GCM_SHA256]);
    let groups = handshake::parse_u16_vec(ch.extensions.find(ExtensionType::SUPPORTED_GROUPS).unwrap()).unwrap();
    assert_eq!(handshake::u16_list(groups).collect::<Vec<_>>(), [29, 23], "x25519 first");
}

#[test]
fn client_hello_with_a_short_random_fails() {
    // The version then fewer than 32 bytes of random, nothing else.
    for n in 0..32 {
        let mut body = DTLS1_2.to_be_bytes().to_vec();
        body.extend(core::iter::repeat_n(0x5a, n));
        assert_eq!(ClientHello::parse(&body).err(), Some(Error::Truncated), "{n}-byte random");
    }
    // A random one byte short, the rest of the hello following it: everything shifts and no longer parses.
    let mut body = client_hello_body();
    body.remove(2);
    assert!(ClientHello::parse(&body).is_err());
    // Every truncation of a valid hello is an error, never a panic, except right before the extensions
    // block (optional in a hello): version, random, session_id, cookie, one suite, one compression method.
    let body = client_hello_body();
    let extensions_at = 2 + 32 + 1 + (1 + 3) + (2 + 2) + (1 + 1);
    for n in 0..body.len() {
        assert_eq!(ClientHello::parse(&body[..n]).is_ok(), n == extensions_at, "cut at {n}");
    }
}

#[test]
fn server_hello_random_is_a_checked_array() {
    let mut body = Vec::new();
    let suite = CipherSuite::ECDHE_ECDSA_AES_128_GCM_SHA256;
    ServerHello::emit(&mut body, DTLS1_2, &[0xa5; 32], &[], suite, Some(SrtpProfile::AES128_CM_SHA1_80));
    let sh = ServerHello::parse(&body).unwrap();
    assert_eq!(sh.random, &[0xa5; 32]);
    assert_eq!(sh.cipher_suite, suite);
    for n in 0..34 {
        assert_eq!(ServerHello::parse(&body[..n]).err(), Some(Error::Truncated), "cut at {n}");
    }
}

#[test]
fn record_header_fields_and_truncation() {
    let mut buf = Vec::new();
    write_header(&mut buf, ContentType::HANDSHAKE, DTLS1_2, 0x0102, 0x0000_a1b2_c3d4_e5f6, 3);
    buf.extend_from_slice(&[7, 8, 9, 0xee]);
    let (rec, rest) = Record::parse_prefix(&buf).unwrap();
    assert_eq!(rec.content_type(), ContentType::HANDSHAKE);
    assert_eq!((rec.version(), rec.epoch(), rec.sequence()), (DTLS1_2, 0x0102, 0xa1b2_c3d4_e5f6));
    assert_eq!((rec.fragment(), rest), (&[7, 8, 9][..], &[0xee][..]));
    assert_eq!(rec.as_bytes(), &buf[..16]);
    for n in 0..16 {
        assert_eq!(Record::parse_prefix(&buf[..n]).err(), Some(Error::Truncated), "cut at {n}");
    }
}

#[test]
fn reader_reads_big_endian_and_refuses_short_input() {
    let bytes = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
    let mut r = Reader::new(&bytes);
    assert_eq!(r.u8(), Ok(1));
    assert_eq!(r.u16(), Ok(0x0203));
    assert_eq!(r.u24(), Ok(0x04_0506));
    assert_eq!(r.u48(), Ok(0x0708_090a_0b0c));
    assert_eq!(r.take_array::<2>(), Ok(&[13, 14]));
    assert_eq!(r.u24(), Err(Error::Truncated));
    assert_eq!(r.rest(), &[15, 16], "a failed read consumes nothing");
    assert_eq!(r.u16(), Ok(0x0f10));
    assert_eq!(r.u8(), Err(Error::Truncated));
    assert!(r.is_empty());
}
