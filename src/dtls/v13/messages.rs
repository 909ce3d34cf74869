//! TLS 1.3 handshake message bodies as DTLS 1.3 carries them (RFC 8446 §4, RFC 9147 §5): the 1.3 extensions
//! of the ClientHello, ServerHello and HelloRetryRequest, EncryptedExtensions, CertificateRequest,
//! Certificate, CertificateVerify's signed content, and the ACK record (RFC 9147 §7).

use alloc::vec::Vec;

use crate::dtls::error::Error;
use crate::dtls::wire::handshake::{Extensions, put_ext};
use crate::dtls::wire::{
    CipherSuite, DTLS1_2, DTLS1_3, ExtensionType, NamedGroup, Reader, SignatureScheme, SrtpProfile, put_u16,
};

/// The ServerHello random that marks a HelloRetryRequest (RFC 8446 §4.1.3: SHA-256 of
/// "HelloRetryRequest").
pub const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11,
    0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// The last eight bytes of a ServerHello random from a 1.3-capable server that negotiated 1.2 (RFC 8446
/// §4.1.3).
pub const DOWNGRADE_TLS12: [u8; 8] = *b"DOWNGRD\x01";

/// The TLS 1.3 suite of the same AEAD as a configured suite (either generation). ChaCha20-Poly1305 is a
/// 1.3 suite only here (and needs the `dtls13` feature).
pub fn tls13_suite(suite: CipherSuite) -> Option<CipherSuite> {
    match suite {
        #[cfg(feature = "dtls13")]
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256 => Some(CipherSuite::TLS13_CHACHA20_POLY1305_SHA256),
        CipherSuite::ECDHE_ECDSA_AES_128_GCM_SHA256 | CipherSuite::TLS13_AES_128_GCM_SHA256 => {
            Some(CipherSuite::TLS13_AES_128_GCM_SHA256)
        }
        CipherSuite::ECDHE_ECDSA_AES_256_GCM_SHA384 | CipherSuite::TLS13_AES_256_GCM_SHA384 => {
            Some(CipherSuite::TLS13_AES_256_GCM_SHA384)
        }
        _ => None,
    }
}

/// Appends the 1.3 extensions of a ClientHello: supported_versions (`versions` in order), key_share with
/// `shares` and the cookie if we have one.
pub fn emit_client_hello_ext(out: &mut Vec<u8>, versions: &[u16], shares: &[(NamedGroup, &[u8])], cookie: &[u8]) {
    let mut d = Vec::with_capacity(8);
    d.push((versions.len() * 2) as u8);
    for v in versions {
        put_u16(&mut d, *v);
    }
    put_ext(out, ExtensionType::SUPPORTED_VERSIONS, &d);
    d.clear();
    let len: usize = shares.iter().map(|(_, k)| 4 + k.len()).sum();
    put_u16(&mut d, len as u16);
    for (g, k) in shares {
        put_u16(&mut d, g.0);
        put_u16(&mut d, k.len() as u16);
        d.extend_from_slice(k);
    }
    put_ext(out, ExtensionType::KEY_SHARE, &d);
    if !cookie.is_empty() {
        d.clear();
        put_u16(&mut d, cookie.len() as u16);
        d.extend_from_slice(cookie);
        put_ext(out, ExtensionType::COOKIE, &d);
    }
}

/// Whether a ClientHello's supported_versions lists DTLS 1.3. A malformed list is an error.
pub fn offers_dtls13(ext: &Extensions<'_>) -> Result<bool, Error> {
    let Some(data) = ext.find(ExtensionType::SUPPORTED_VERSIONS) else { return Ok(false) };
    let mut r = Reader::new(data);
    let list = r.vec8()?;
    r.finish()?;
    if list.is_empty() || list.len() % 2 != 0 {
        return Err(Error::Malformed);
    }
    Ok(crate::dtls::wire::handshake::u16_list(list).any(|v| v == DTLS1_3))
}

/// The client's key share for `group` from a ClientHello key_share extension, if it sent one. A malformed
/// list, or one naming a group twice, is an error (RFC 8446 §4.2.8).
pub fn client_share(data: &[u8], group: NamedGroup) -> Result<Option<&[u8]>, Error> {
    let mut r = Reader::new(data);
    let list = r.vec16()?;
    r.finish()?;
    let mut r = Reader::new(list);
    let mut found = None;
    let mut seen: smallvec::SmallVec<[u16; 4]> = smallvec::SmallVec::new();
    while !r.is_empty() {
        let g = r.u16()?;
        let key = r.vec16()?;
        if key.is_empty() || seen.contains(&g) || seen.len() >= 16 {
            return Err(Error::Malformed);
        }
        let _ = seen.try_reserve(1);
        seen.push(g);
        if g == group.0 {
            found = Some(key);
        }
    }
    Ok(found)
}

/// The cookie extension's cookie.
pub fn parse_cookie(data: &[u8]) -> Result<&[u8], Error> {
    let mut r = Reader::new(data);
    let c = r.vec16()?;
    r.finish()?;
    if c.is_empty() {
        return Err(Error::Malformed);
    }
    Ok(c)
}

/// What a ServerHello or HelloRetryRequest says in its 1.3 extensions.
#[derive(Clone, Copy, Debug, Default)]
pub struct ServerHelloExt<'a> {
    /// The selected version (supported_versions), if the extension is there.
    pub version: Option<u16>,
    /// The server's key share (ServerHello) or selected group (HelloRetryRequest, with an empty key).
    pub share: Option<(NamedGroup, &'a [u8])>,
    /// The cookie (HelloRetryRequest).
    pub cookie: Option<&'a [u8]>,
}

impl<'a> ServerHelloExt<'a> {
    /// Reads the 1.3 extensions of a ServerHello (`hrr`: of a HelloRetryRequest, whose key_share is a bare
    /// group).
    pub fn parse(ext: &Extensions<'a>, hrr: bool) -> Result<ServerHelloExt<'a>, Error> {
        let mut out = ServerHelloExt::default();
        if let Some(d) = ext.find(ExtensionType::SUPPORTED_VERSIONS) {
            let mut r = Reader::new(d);
            out.version = Some(r.u16()?);
            r.finish()?;
        }
        if let Some(d) = ext.find(ExtensionType::KEY_SHARE) {
            let mut r = Reader::new(d);
            let g = NamedGroup(r.u16()?);
            let key = if hrr { &[][..] } else { r.vec16()? };
            r.finish()?;
            out.share = Some((g, key));
        }
        if let Some(d) = ext.find(ExtensionType::COOKIE) {
            out.cookie = Some(parse_cookie(d)?);
        }
        Ok(out)
    }
}

/// Appends a ServerHello (or, with `random` = [`HRR_RANDOM`], a HelloRetryRequest) body: supported_versions
/// DTLS 1.3, then key_share (`key` empty for a HelloRetryRequest: the selected group alone) and the cookie.
pub fn emit_server_hello(
    out: &mut Vec<u8>,
    random: &[u8; 32],
    session_id: &[u8],
    suite: CipherSuite,
    group: Option<(NamedGroup, &[u8])>,
    cookie: &[u8],
) {
    put_u16(out, DTLS1_2);
    out.extend_from_slice(random);
    out.push(session_id.len() as u8);
    out.extend_from_slice(session_id);
    put_u16(out, suite.0);
    out.push(0);
    let ext_at = out.len();
    put_u16(out, 0);
    put_ext(out, ExtensionType::SUPPORTED_VERSIONS, &DTLS1_3.to_be_bytes());
    if let Some((g, key)) = group {
        let mut d = Vec::with_capacity(4 + key.len());
        put_u16(&mut d, g.0);
        if random != &HRR_RANDOM {
            put_u16(&mut d, key.len() as u16);
            d.extend_from_slice(key);
        }
        put_ext(out, ExtensionType::KEY_SHARE, &d);
    }
    if !cookie.is_empty() {
        let mut d = Vec::with_capacity(2 + cookie.len());
        put_u16(&mut d, cookie.len() as u16);
        d.extend_from_slice(cookie);
        put_ext(out, ExtensionType::COOKIE, &d);
    }
    let ext_len = (out.len() - ext_at - 2) as u16;
    crate::dtls::wire::set_u16(out, ext_at, ext_len);
}

/// Appends an EncryptedExtensions body, with use_srtp when a profile was chosen (RFC 5764 §4.1.1 in TLS 1.3).
pub fn emit_encrypted_extensions(out: &mut Vec<u8>, srtp: Option<SrtpProfile>) {
    let mut ext = Vec::with_capacity(9);
    if let Some(p) = srtp {
        let b = p.0.to_be_bytes();
        put_ext(&mut ext, ExtensionType::USE_SRTP, &[0, 2, b[0], b[1], 0]);
    }
    put_u16(out, ext.len() as u16);
    out.extend_from_slice(&ext);
}

/// The extensions of an EncryptedExtensions body (checked for duplicates).
pub fn parse_encrypted_extensions(body: &[u8]) -> Result<Extensions<'_>, Error> {
    let mut r = Reader::new(body);
    let raw = r.vec16()?;
    r.finish()?;
    let ext = Extensions::from_raw(raw);
    ext.validate()?;
    Ok(ext)
}

/// Appends a CertificateRequest body: empty context, signature_algorithms ecdsa_secp256r1_sha256 (RFC 8446
/// §4.3.2).
pub fn emit_certificate_request(out: &mut Vec<u8>) {
    out.push(0);
    let sig = SignatureScheme::ECDSA_SECP256R1_SHA256.0.to_be_bytes();
    let mut ext = Vec::with_capacity(8);
    put_ext(&mut ext, ExtensionType::SIGNATURE_ALGORITHMS, &[0, 2, sig[0], sig[1]]);
    put_u16(out, ext.len() as u16);
    out.extend_from_slice(&ext);
}

/// Parses a CertificateRequest: its context and whether it accepts ecdsa_secp256r1_sha256.
pub fn parse_certificate_request(body: &[u8]) -> Result<(&[u8], bool), Error> {
    let mut r = Reader::new(body);
    let context = r.vec8()?;
    let ext = Extensions::from_raw(r.vec16()?);
    r.finish()?;
    ext.validate()?;
    let algs = ext.find(ExtensionType::SIGNATURE_ALGORITHMS).ok_or(Error::Malformed)?;
    let list = crate::dtls::wire::handshake::parse_u16_vec(algs)?;
    let ok = crate::dtls::wire::handshake::u16_list(list).any(|a| a == SignatureScheme::ECDSA_SECP256R1_SHA256.0);
    Ok((context, ok))
}

/// Appends a 1.3 Certificate body with `context` and one certificate without extensions.
pub fn emit_certificate(out: &mut Vec<u8>, context: &[u8], der: &[u8]) {
    out.push(context.len() as u8);
    out.extend_from_slice(context);
    let entry = 3 + der.len() + 2;
    out.extend_from_slice(&(entry as u32).to_be_bytes()[1..]);
    out.extend_from_slice(&(der.len() as u32).to_be_bytes()[1..]);
    out.extend_from_slice(der);
    put_u16(out, 0);
}

/// Parses a 1.3 Certificate body: its context and the end-entity certificate's DER (`None` for an empty
/// list).
pub fn parse_certificate(body: &[u8]) -> Result<(&[u8], Option<&[u8]>), Error> {
    let mut r = Reader::new(body);
    let context = r.vec8()?;
    let list = r.vec24()?;
    r.finish()?;
    if list.is_empty() {
        return Ok((context, None));
    }
    let mut r = Reader::new(list);
    let der = r.vec24()?;
    let _ext = r.vec16()?;
    if der.is_empty() {
        return Err(Error::Malformed);
    }
    Ok((context, Some(der)))
}

/// The content a CertificateVerify signs (RFC 8446 §4.4.3): 64 spaces, the context string, a zero byte,
/// the transcript hash.
pub fn signed_content(server: bool, transcript_hash: &[u8]) -> Vec<u8> {
    let ctx: &[u8] = if server { b"TLS 1.3, server CertificateVerify" } else { b"TLS 1.3, client CertificateVerify" };
    let mut m = Vec::with_capacity(64 + ctx.len() + 1 + transcript_hash.len());
    m.resize(64, 0x20);
    m.extend_from_slice(ctx);
    m.push(0);
    m.extend_from_slice(transcript_hash);
    m
}

/// Largest number of record numbers we put in or accept from one ACK.
pub const MAX_ACK_ENTRIES: usize = 32;

/// Appends an ACK body listing `records` as (epoch, sequence number) (RFC 9147 §7).
pub fn emit_ack(out: &mut Vec<u8>, records: &[(u64, u64)]) {
    put_u16(out, (records.len() * 16) as u16);
    for (e, s) in records {
        out.extend_from_slice(&e.to_be_bytes());
        out.extend_from_slice(&s.to_be_bytes());
    }
}

/// The record numbers of an ACK body.
pub fn parse_ack(body: &[u8]) -> Result<impl Iterator<Item = (u64, u64)> + '_, Error> {
    let mut r = Reader::new(body);
    let list = r.vec16()?;
    r.finish()?;
    if list.len() % 16 != 0 {
        return Err(Error::Malformed);
    }
    Ok(list.chunks_exact(16).map(|c| {
        let (e, s) = c.split_at(8);
        let e = e.first_chunk().map_or(0, |b| u64::from_be_bytes(*b));
        let s = s.first_chunk().map_or(0, |b| u64::from_be_bytes(*b));
        (e, s)
    }))
}
