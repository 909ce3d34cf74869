//! Handshake messages (RFC 5246 §7.4 with the DTLS 12-byte header of RFC 6347 §4.2.2) and hello extensions.

use alloc::vec::Vec;

use super::{
    CipherSuite, DTLS1_0, ExtensionType, HandshakeType, NamedGroup, Reader, SignatureScheme, SrtpProfile, put_u16,
    put_u24,
};
use crate::dtls::error::Error;

/// Length of the DTLS handshake header.
pub const HEADER_LEN: usize = 12;

/// The DTLS handshake header: type, total length, message_seq, and this fragment's offset and length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandshakeHeader {
    /// Message type.
    pub msg_type: HandshakeType,
    /// Length of the whole message body.
    pub length: u32,
    /// The message sequence number.
    pub message_seq: u16,
    /// Where this fragment starts in the body.
    pub fragment_offset: u32,
    /// Length of this fragment.
    pub fragment_length: u32,
}

impl HandshakeHeader {
    /// Parses one handshake fragment from the front of `buf`: the header, the fragment bytes (checked to lie
    /// within the message), and what follows.
    pub fn parse_prefix(buf: &[u8]) -> Result<(HandshakeHeader, &[u8], &[u8]), Error> {
        let mut r = Reader::new(buf);
        let h = HandshakeHeader {
            msg_type: HandshakeType(r.u8()?),
            length: r.u24()?,
            message_seq: r.u16()?,
            fragment_offset: r.u24()?,
            fragment_length: r.u24()?,
        };
        if u64::from(h.fragment_offset) + u64::from(h.fragment_length) > u64::from(h.length) {
            return Err(Error::FragmentOutOfBounds);
        }
        let body = r.take(h.fragment_length as usize)?;
        Ok((h, body, r.rest()))
    }

    /// Appends this header.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.push(self.msg_type.0);
        put_u24(out, self.length);
        put_u16(out, self.message_seq);
        put_u24(out, self.fragment_offset);
        put_u24(out, self.fragment_length);
    }
}

/// A lazy iterator over the handshake fragments in one record's plaintext.
#[derive(Clone, Debug)]
pub struct HandshakeIter<'a> {
    rest: &'a [u8],
}

impl<'a> HandshakeIter<'a> {
    /// Fragments packed in `plaintext`.
    pub fn new(plaintext: &'a [u8]) -> Self {
        HandshakeIter { rest: plaintext }
    }
}

impl<'a> Iterator for HandshakeIter<'a> {
    type Item = Result<(HandshakeHeader, &'a [u8]), Error>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match HandshakeHeader::parse_prefix(self.rest) {
            Ok((h, body, rest)) => {
                self.rest = rest;
                Some(Ok((h, body)))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// Appends a complete (unfragmented) handshake message: header then body.
pub fn write_message(out: &mut Vec<u8>, msg_type: HandshakeType, message_seq: u16, body: &[u8]) {
    let len = body.len() as u32;
    HandshakeHeader { msg_type, length: len, message_seq, fragment_offset: 0, fragment_length: len }.write(out);
    out.extend_from_slice(body);
}

/// The extensions block of a hello: a lazy iterator source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Extensions<'a> {
    raw: &'a [u8],
}

impl<'a> Extensions<'a> {
    /// The extensions in `raw` (a block without its length prefix).
    pub fn from_raw(raw: &'a [u8]) -> Extensions<'a> {
        Extensions { raw }
    }
    /// Iterates the extensions, yielding `(type, data)`.
    pub fn iter(&self) -> ExtensionIter<'a> {
        ExtensionIter { r: Reader::new(self.raw) }
    }
    /// The data of the first extension of type `ty`, if present and well formed up to it.
    pub fn find(&self, ty: ExtensionType) -> Option<&'a [u8]> {
        self.iter().map_while(Result::ok).find(|(t, _)| *t == ty).map(|(_, d)| d)
    }
    /// Checks the block parses completely (no truncated extension), has at most [`MAX_EXTENSIONS`]
    /// extensions and no type twice (RFC 8446 §4.2).
    pub fn validate(&self) -> Result<(), Error> {
        let mut seen: smallvec::SmallVec<[u16; 24]> = smallvec::SmallVec::new();
        for e in self.iter() {
            let (ty, _) = e?;
            if seen.contains(&ty.0) || seen.len() >= MAX_EXTENSIONS {
                return Err(Error::Malformed);
            }
            seen.push(ty.0);
        }
        Ok(())
    }
}

/// Most extensions one hello may carry (browsers send about 20).
pub const MAX_EXTENSIONS: usize = 64;

/// Iterator over `(ExtensionType, data)` pairs.
#[derive(Clone, Debug)]
pub struct ExtensionIter<'a> {
    r: Reader<'a>,
}

impl<'a> Iterator for ExtensionIter<'a> {
    type Item = Result<(ExtensionType, &'a [u8]), Error>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.r.is_empty() {
            return None;
        }
        let item = self.r.u16().and_then(|t| Ok((ExtensionType(t), self.r.vec16()?)));
        if item.is_err() {
            self.r = Reader::new(&[]);
        }
        Some(item)
    }
}

/// Iterates a list of big-endian u16 values (odd trailing byte ignored).
pub fn u16_list(raw: &[u8]) -> impl Iterator<Item = u16> + '_ {
    raw.chunks_exact(2).filter_map(|c| c.first_chunk().map(|&b| u16::from_be_bytes(b)))
}

/// Parses the use_srtp extension data (RFC 5764 §4.1.1): the profile list and the MKI.
pub fn parse_use_srtp(data: &[u8]) -> Result<(&[u8], &[u8]), Error> {
    let mut r = Reader::new(data);
    let profiles = r.vec16()?;
    let mki = r.vec8()?;
    r.finish()?;
    if profiles.len() % 2 != 0 {
        return Err(Error::Malformed);
    }
    Ok((profiles, mki))
}

/// Parses a u16-length-prefixed u16 list (supported_groups, signature_algorithms).
pub fn parse_u16_vec(data: &[u8]) -> Result<&[u8], Error> {
    let mut r = Reader::new(data);
    let list = r.vec16()?;
    r.finish()?;
    if list.len() % 2 != 0 {
        return Err(Error::Malformed);
    }
    Ok(list)
}

/// A ClientHello (RFC 6347 §4.2.1: with a cookie).
#[derive(Clone, Copy, Debug)]
pub struct ClientHello<'a> {
    /// client_version.
    pub version: u16,
    /// The 32-byte random.
    pub random: &'a [u8; 32],
    /// session_id (ignored: no resumption).
    pub session_id: &'a [u8],
    /// The cookie (empty on the first hello).
    pub cookie: &'a [u8],
    /// The cipher suite list (u16s).
    pub cipher_suites: &'a [u8],
    /// Compression methods.
    pub compression_methods: &'a [u8],
    /// Extensions.
    pub extensions: Extensions<'a>,
}

impl<'a> ClientHello<'a> {
    /// Parses a ClientHello body.
    pub fn parse(body: &'a [u8]) -> Result<Self, Error> {
        let mut r = Reader::new(body);
        let version = r.u16()?;
        let random = r.take_array::<32>()?;
        let session_id = r.vec8()?;
        let cookie = r.vec8()?;
        let cipher_suites = r.vec16()?;
        let compression_methods = r.vec8()?;
        let extensions = if r.is_empty() { Extensions::default() } else { Extensions { raw: r.vec16()? } };
        r.finish()?;
        if session_id.len() > 32 || cipher_suites.len() % 2 != 0 || cipher_suites.is_empty() {
            return Err(Error::Malformed);
        }
        extensions.validate()?;
        Ok(ClientHello { version, random, session_id, cookie, cipher_suites, compression_methods, extensions })
    }

    /// The offered cipher suites.
    pub fn suites(&self) -> impl Iterator<Item = CipherSuite> + 'a {
        u16_list(self.cipher_suites).map(CipherSuite)
    }

    /// Appends a ClientHello body offering `groups` in supported_groups, in that order.
    #[allow(clippy::too_many_arguments)]
    pub fn emit(
        out: &mut Vec<u8>,
        version: u16,
        random: &[u8; 32],
        cookie: &[u8],
        suites: &[CipherSuite],
        groups: &[NamedGroup],
        srtp: &[SrtpProfile],
        extra: &[u8],
    ) {
        put_u16(out, version);
        out.extend_from_slice(random);
        out.push(0); // session_id
        out.push(cookie.len() as u8);
        out.extend_from_slice(cookie);
        put_u16(out, (suites.len() * 2) as u16);
        for s in suites {
            put_u16(out, s.0);
        }
        out.extend_from_slice(&[1, 0]); // compression: null
        let ext_at = out.len();
        put_u16(out, 0);
        put_ext(out, ExtensionType::EXTENDED_MASTER_SECRET, &[]);
        put_ext(out, ExtensionType::RENEGOTIATION_INFO, &[0]);
        if !groups.is_empty() {
            let mut d = Vec::with_capacity(2 + 2 * groups.len());
            put_u16(&mut d, (groups.len() * 2) as u16);
            for g in groups {
                put_u16(&mut d, g.0);
            }
            put_ext(out, ExtensionType::SUPPORTED_GROUPS, &d);
        }
        put_ext(out, ExtensionType::EC_POINT_FORMATS, &[1, 0]);
        let sig = SignatureScheme::ECDSA_SECP256R1_SHA256.0.to_be_bytes();
        put_ext(out, ExtensionType::SIGNATURE_ALGORITHMS, &[0, 2, sig[0], sig[1]]);
        if !srtp.is_empty() {
            let mut d = Vec::with_capacity(3 + 2 * srtp.len());
            put_u16(&mut d, (srtp.len() * 2) as u16);
            for p in srtp {
                put_u16(&mut d, p.0);
            }
            d.push(0); // no MKI
            put_ext(out, ExtensionType::USE_SRTP, &d);
        }
        out.extend_from_slice(extra);
        let ext_len = (out.len() - ext_at - 2) as u16;
        super::set_u16(out, ext_at, ext_len);
    }
}

/// Appends one extension.
pub fn put_ext(out: &mut Vec<u8>, ty: ExtensionType, data: &[u8]) {
    put_u16(out, ty.0);
    put_u16(out, data.len() as u16);
    out.extend_from_slice(data);
}

/// A HelloVerifyRequest (RFC 6347 §4.2.1).
#[derive(Clone, Copy, Debug)]
pub struct HelloVerifyRequest<'a> {
    /// server_version.
    pub version: u16,
    /// The cookie to echo.
    pub cookie: &'a [u8],
}

impl<'a> HelloVerifyRequest<'a> {
    /// Parses a HelloVerifyRequest body.
    pub fn parse(body: &'a [u8]) -> Result<Self, Error> {
        let mut r = Reader::new(body);
        let version = r.u16()?;
        let cookie = r.vec8()?;
        r.finish()?;
        if cookie.len() > 255 {
            return Err(Error::Malformed);
        }
        Ok(HelloVerifyRequest { version, cookie })
    }
    /// Appends a HelloVerifyRequest body (version DTLS 1.0, as RFC 6347 §4.2.1 recommends).
    pub fn emit(out: &mut Vec<u8>, cookie: &[u8]) {
        put_u16(out, DTLS1_0);
        out.push(cookie.len() as u8);
        out.extend_from_slice(cookie);
    }
}

/// A ServerHello.
#[derive(Clone, Copy, Debug)]
pub struct ServerHello<'a> {
    /// server_version.
    pub version: u16,
    /// The 32-byte random.
    pub random: &'a [u8; 32],
    /// session_id.
    pub session_id: &'a [u8],
    /// The chosen suite.
    pub cipher_suite: CipherSuite,
    /// The chosen compression.
    pub compression_method: u8,
    /// Extensions.
    pub extensions: Extensions<'a>,
}

impl<'a> ServerHello<'a> {
    /// Parses a ServerHello body.
    pub fn parse(body: &'a [u8]) -> Result<Self, Error> {
        let mut r = Reader::new(body);
        let version = r.u16()?;
        let random = r.take_array::<32>()?;
        let session_id = r.vec8()?;
        let cipher_suite = CipherSuite(r.u16()?);
        let compression_method = r.u8()?;
        let extensions = if r.is_empty() { Extensions::default() } else { Extensions { raw: r.vec16()? } };
        r.finish()?;
        if session_id.len() > 32 {
            return Err(Error::Malformed);
        }
        extensions.validate()?;
        Ok(ServerHello { version, random, session_id, cipher_suite, compression_method, extensions })
    }

    /// Appends a ServerHello body with our extensions: EMS, renegotiation_info, ec_point_formats and the chosen
    /// SRTP profile.
    pub fn emit(
        out: &mut Vec<u8>,
        version: u16,
        random: &[u8; 32],
        session_id: &[u8],
        suite: CipherSuite,
        srtp: Option<SrtpProfile>,
    ) {
        put_u16(out, version);
        out.extend_from_slice(random);
        out.push(session_id.len() as u8);
        out.extend_from_slice(session_id);
        put_u16(out, suite.0);
        out.push(0);
        let ext_at = out.len();
        put_u16(out, 0);
        put_ext(out, ExtensionType::EXTENDED_MASTER_SECRET, &[]);
        put_ext(out, ExtensionType::RENEGOTIATION_INFO, &[0]);
        put_ext(out, ExtensionType::EC_POINT_FORMATS, &[1, 0]);
        if let Some(p) = srtp {
            let b = p.0.to_be_bytes();
            put_ext(out, ExtensionType::USE_SRTP, &[0, 2, b[0], b[1], 0]);
        }
        let ext_len = (out.len() - ext_at - 2) as u16;
        super::set_u16(out, ext_at, ext_len);
    }
}

/// Parses a Certificate body and returns the first (end-entity) certificate's DER (RFC 5246 §7.4.2).
pub fn parse_certificate(body: &[u8]) -> Result<Option<&[u8]>, Error> {
    let mut r = Reader::new(body);
    let list = r.vec24()?;
    r.finish()?;
    let mut l = Reader::new(list);
    let mut first = None;
    while !l.is_empty() {
        let c = l.vec24()?;
        if first.is_none() {
            first = Some(c);
        }
    }
    Ok(first)
}

/// Appends a Certificate body holding one certificate.
pub fn emit_certificate(out: &mut Vec<u8>, der: &[u8]) {
    put_u24(out, der.len() as u32 + 3);
    put_u24(out, der.len() as u32);
    out.extend_from_slice(der);
}

/// An ECDHE ServerKeyExchange with named curve and signature (RFC 8422 §5.4). The public key is opaque
/// here: 65 bytes uncompressed for secp256r1, 32 bytes for x25519.
#[derive(Clone, Copy, Debug)]
pub struct ServerKeyExchange<'a> {
    /// The named curve.
    pub group: NamedGroup,
    /// The server's ephemeral public point.
    pub public: &'a [u8],
    /// The ServerECDHParams bytes (what the signature covers after the randoms).
    pub params: &'a [u8],
    /// The signature scheme.
    pub scheme: SignatureScheme,
    /// The DER signature.
    pub signature: &'a [u8],
}

impl<'a> ServerKeyExchange<'a> {
    /// Parses a ServerKeyExchange body.
    pub fn parse(body: &'a [u8]) -> Result<Self, Error> {
        let mut r = Reader::new(body);
        let curve_type = r.u8()?;
        if curve_type != 3 {
            return Err(Error::Malformed);
        }
        let group = NamedGroup(r.u16()?);
        let public = r.vec8()?;
        let params_len = body.len() - r.rest().len();
        let params = body.get(..params_len).ok_or(Error::Truncated)?;
        let scheme = SignatureScheme(r.u16()?);
        let signature = r.vec16()?;
        r.finish()?;
        Ok(ServerKeyExchange { group, public, params, scheme, signature })
    }

    /// Appends the ServerECDHParams (named_curve) for `group` and its encoded `public` key (RFC 8422 §5.4).
    pub fn emit_params(out: &mut Vec<u8>, group: NamedGroup, public: &[u8]) {
        out.push(3);
        put_u16(out, group.0);
        out.push(public.len() as u8);
        out.extend_from_slice(public);
    }
}

/// Appends a digitally-signed struct: scheme then u16-length signature.
pub fn emit_signed(out: &mut Vec<u8>, scheme: SignatureScheme, signature: &[u8]) {
    put_u16(out, scheme.0);
    put_u16(out, signature.len() as u16);
    out.extend_from_slice(signature);
}

/// Parses a digitally-signed struct (CertificateVerify body).
pub fn parse_signed(body: &[u8]) -> Result<(SignatureScheme, &[u8]), Error> {
    let mut r = Reader::new(body);
    let scheme = SignatureScheme(r.u16()?);
    let sig = r.vec16()?;
    r.finish()?;
    Ok((scheme, sig))
}

/// Parses a CertificateRequest body: certificate types and signature algorithms (RFC 5246 §7.4.4).
pub fn parse_certificate_request(body: &[u8]) -> Result<(&[u8], &[u8]), Error> {
    let mut r = Reader::new(body);
    let types = r.vec8()?;
    let algs = r.vec16()?;
    let _cas = r.vec16()?;
    r.finish()?;
    if algs.len() % 2 != 0 {
        return Err(Error::Malformed);
    }
    Ok((types, algs))
}

/// Appends a CertificateRequest asking for an ecdsa_sign certificate with ecdsa_secp256r1_sha256.
pub fn emit_certificate_request(out: &mut Vec<u8>) {
    out.extend_from_slice(&[1, 64]); // ecdsa_sign
    put_u16(out, 2);
    put_u16(out, SignatureScheme::ECDSA_SECP256R1_SHA256.0);
    put_u16(out, 0); // no CAs
}

/// Parses an ECDHE ClientKeyExchange body: the client's public key (RFC 8422 §5.7).
pub fn parse_client_key_exchange(body: &[u8]) -> Result<&[u8], Error> {
    let mut r = Reader::new(body);
    let p = r.vec8()?;
    r.finish()?;
    Ok(p)
}
