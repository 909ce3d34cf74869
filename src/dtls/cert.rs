//! Certificates for DTLS-SRTP: a self-signed ECDSA P-256 X.509 certificate (written from a small fixed DER
//! template, RFC 5280 §4.1), loading a DER certificate with its PKCS#8 or SEC1 key, the SHA-256 fingerprint
//! in SDP `a=fingerprint` form (RFC 8122 §5), and extracting a peer's P-256 key from its certificate.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use p256::ecdsa::{SigningKey, VerifyingKey};
use p256::elliptic_curve::Generate;
use sha2::{Digest, Sha256};

use super::der::{DerReader, put, put_uint, tag};
use super::error::Error;
use crate::rand::SeededRng;

const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_PRIME256V1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_ECDSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
const OID_COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

/// A SHA-256 certificate fingerprint.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER certificate.
    pub fn of_der(der: &[u8]) -> Fingerprint {
        Fingerprint(Sha256::digest(der).into())
    }

    /// Parses the SDP form `sha-256 AB:CD:…` (the `sha-256 ` prefix is optional, hex case-insensitive).
    pub fn parse(s: &str) -> Option<Fingerprint> {
        let s = s.trim();
        let hex = match s.split_once(' ') {
            Some((alg, rest)) if alg.eq_ignore_ascii_case("sha-256") => rest.trim(),
            Some(_) => return None,
            None => s,
        };
        let mut out = [0u8; 32];
        let mut n = 0;
        for part in hex.split(':') {
            let b = u8::from_str_radix(part, 16).ok().filter(|_| part.len() == 2)?;
            *out.get_mut(n)? = b;
            n += 1;
        }
        (n == 32).then_some(Fingerprint(out))
    }
}

impl fmt::Display for Fingerprint {
    /// The SDP `a=fingerprint` value: `sha-256 AB:CD:…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sha-256 ")?;
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Our certificate and its private key, shared between clones: the connections made with one
/// certificate hold it once (a reference count each).
#[derive(Clone)]
pub struct Certificate(Arc<CertificateData>);

struct CertificateData {
    der: Box<[u8]>,
    key: SigningKey,
    fingerprint: Fingerprint,
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate").field("fingerprint", &self.0.fingerprint).finish_non_exhaustive()
    }
}

fn algorithm_ecdsa_sha256(out: &mut Vec<u8>) {
    let mut oid = Vec::new();
    put(&mut oid, tag::OID, OID_ECDSA_SHA256);
    put(out, tag::SEQUENCE, &oid);
}

fn name(out: &mut Vec<u8>, cn: &str) {
    let mut atv = Vec::new();
    put(&mut atv, tag::OID, OID_COMMON_NAME);
    put(&mut atv, tag::UTF8_STRING, cn.as_bytes());
    let mut seq = Vec::new();
    put(&mut seq, tag::SEQUENCE, &atv);
    let mut set = Vec::new();
    put(&mut set, tag::SET, &seq);
    put(out, tag::SEQUENCE, &set);
}

fn spki(out: &mut Vec<u8>, point: &[u8]) {
    let mut alg = Vec::new();
    put(&mut alg, tag::OID, OID_EC_PUBLIC_KEY);
    put(&mut alg, tag::OID, OID_PRIME256V1);
    let mut inner = Vec::new();
    put(&mut inner, tag::SEQUENCE, &alg);
    let mut bits = Vec::with_capacity(point.len() + 1);
    bits.push(0);
    bits.extend_from_slice(point);
    put(&mut inner, tag::BIT_STRING, &bits);
    put(out, tag::SEQUENCE, &inner);
}

impl Certificate {
    /// Generates a key and a self-signed certificate (CN `sansrtc`, a random 16-byte serial, valid from
    /// 2024-01-01 to 2049-12-31: the library reads no clock, and WebRTC checks fingerprints, not dates).
    pub fn generate(rng: &mut SeededRng) -> Certificate {
        let key = SigningKey::generate_from_rng(rng);
        let point = key.verifying_key().to_sec1_point(false);
        let mut serial: [u8; 16] = rng.bytes();
        serial[0] &= 0x7f;
        serial[0] |= 0x40;
        let mut tbs = Vec::with_capacity(300);
        let mut version = Vec::new();
        put_uint(&mut version, &[2]);
        put(&mut tbs, tag::CONTEXT_0, &version);
        put_uint(&mut tbs, &serial);
        algorithm_ecdsa_sha256(&mut tbs);
        name(&mut tbs, "sansrtc");
        let mut validity = Vec::new();
        put(&mut validity, tag::UTC_TIME, b"240101000000Z");
        put(&mut validity, tag::UTC_TIME, b"491231235959Z");
        put(&mut tbs, tag::SEQUENCE, &validity);
        name(&mut tbs, "sansrtc");
        spki(&mut tbs, point.as_bytes());
        let mut tbs_der = Vec::with_capacity(tbs.len() + 4);
        put(&mut tbs_der, tag::SEQUENCE, &tbs);
        // Signing with a valid key cannot fail; fall back to an empty signature to stay panic-free.
        let sig = super::crypto::sign(&key, &tbs_der).unwrap_or_default();
        let mut body = tbs_der;
        algorithm_ecdsa_sha256(&mut body);
        let mut bits = Vec::with_capacity(sig.len() + 1);
        bits.push(0);
        bits.extend_from_slice(&sig);
        put(&mut body, tag::BIT_STRING, &bits);
        let mut der = Vec::with_capacity(body.len() + 4);
        put(&mut der, tag::SEQUENCE, &body);
        let fingerprint = Fingerprint::of_der(&der);
        Certificate(Arc::new(CertificateData { der: der.into(), key, fingerprint }))
    }

    /// Loads a DER certificate and its DER private key (PKCS#8 `PrivateKeyInfo` or SEC1 `ECPrivateKey`,
    /// P-256). Fails when the key does not match the certificate's public key.
    pub fn from_der(cert_der: &[u8], key_der: &[u8]) -> Result<Certificate, Error> {
        let scalar = parse_private_key(key_der)?;
        let key = SigningKey::from_slice(scalar).map_err(|_| Error::InvalidKey)?;
        let public = peer_public_key(cert_der).map_err(|_| Error::InvalidKey)?;
        if &public != key.verifying_key() {
            return Err(Error::InvalidKey);
        }
        let fingerprint = Fingerprint::of_der(cert_der);
        Ok(Certificate(Arc::new(CertificateData { der: cert_der.into(), key, fingerprint })))
    }

    /// The certificate, DER.
    pub fn der(&self) -> &[u8] {
        &self.0.der
    }

    /// The certificate's SHA-256 fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        self.0.fingerprint
    }

    /// The private key as PKCS#8 DER (RFC 5958, RFC 5915 inside).
    pub fn private_key_pkcs8_der(&self) -> Vec<u8> {
        let mut alg = Vec::new();
        put(&mut alg, tag::OID, OID_EC_PUBLIC_KEY);
        put(&mut alg, tag::OID, OID_PRIME256V1);
        let mut pki = Vec::new();
        put_uint(&mut pki, &[0]);
        put(&mut pki, tag::SEQUENCE, &alg);
        put(&mut pki, tag::OCTET_STRING, &self.private_key_sec1_der());
        let mut out = Vec::new();
        put(&mut out, tag::SEQUENCE, &pki);
        out
    }

    /// The private key as SEC1 `ECPrivateKey` DER (RFC 5915).
    pub fn private_key_sec1_der(&self) -> Vec<u8> {
        let point = self.0.key.verifying_key().to_sec1_point(false);
        let mut ec = Vec::new();
        put_uint(&mut ec, &[1]);
        put(&mut ec, tag::OCTET_STRING, &self.0.key.to_bytes());
        let mut params = Vec::new();
        put(&mut params, tag::OID, OID_PRIME256V1);
        put(&mut ec, tag::CONTEXT_0, &params);
        let mut bits = Vec::new();
        bits.push(0);
        bits.extend_from_slice(point.as_bytes());
        let mut pk = Vec::new();
        put(&mut pk, tag::BIT_STRING, &bits);
        put(&mut ec, tag::CONTEXT_1, &pk);
        let mut out = Vec::new();
        put(&mut out, tag::SEQUENCE, &ec);
        out
    }

    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.0.key
    }
}

/// The 32-byte private scalar from PKCS#8 or SEC1 DER.
fn parse_private_key(der: &[u8]) -> Result<&[u8], Error> {
    let mut outer = DerReader::new(der);
    let seq = outer.expect(tag::SEQUENCE).map_err(|_| Error::InvalidKey)?;
    let mut r = DerReader::new(seq);
    let version = r.expect(tag::INTEGER).map_err(|_| Error::InvalidKey)?;
    match version {
        [1] => {
            // SEC1 ECPrivateKey: version 1, privateKey OCTET STRING, ...
            let k = r.expect(tag::OCTET_STRING).map_err(|_| Error::InvalidKey)?;
            if k.len() != 32 {
                return Err(Error::InvalidKey);
            }
            Ok(k)
        }
        [0] => {
            // PKCS#8: version 0, AlgorithmIdentifier (must be ecPublicKey/prime256v1), OCTET STRING(SEC1).
            let alg = r.expect(tag::SEQUENCE).map_err(|_| Error::InvalidKey)?;
            let mut a = DerReader::new(alg);
            if a.expect(tag::OID).ok() != Some(OID_EC_PUBLIC_KEY) {
                return Err(Error::InvalidKey);
            }
            if a.peek_tag() == Some(tag::OID) && a.expect(tag::OID).ok() != Some(OID_PRIME256V1) {
                return Err(Error::InvalidKey);
            }
            let inner = r.expect(tag::OCTET_STRING).map_err(|_| Error::InvalidKey)?;
            parse_private_key(inner)
        }
        _ => Err(Error::InvalidKey),
    }
}

/// Extracts the P-256 public key from a DER X.509 certificate's SubjectPublicKeyInfo (RFC 5280 §4.1,
/// RFC 5480 §2). Nothing else in the certificate is checked: WebRTC authenticates by fingerprint.
pub fn peer_public_key(cert_der: &[u8]) -> Result<VerifyingKey, Error> {
    let bad = |_| Error::BadCertificate;
    let mut outer = DerReader::new(cert_der);
    let cert = outer.expect(tag::SEQUENCE).map_err(bad)?;
    let mut c = DerReader::new(cert);
    let tbs = c.expect(tag::SEQUENCE).map_err(bad)?;
    let mut t = DerReader::new(tbs);
    if t.peek_tag() == Some(tag::CONTEXT_0) {
        t.any().map_err(bad)?; // version
    }
    t.expect(tag::INTEGER).map_err(bad)?; // serial
    t.expect(tag::SEQUENCE).map_err(bad)?; // signature algorithm
    t.expect(tag::SEQUENCE).map_err(bad)?; // issuer
    t.expect(tag::SEQUENCE).map_err(bad)?; // validity
    t.expect(tag::SEQUENCE).map_err(bad)?; // subject
    let spki = t.expect(tag::SEQUENCE).map_err(bad)?;
    let mut s = DerReader::new(spki);
    let alg = s.expect(tag::SEQUENCE).map_err(bad)?;
    let mut a = DerReader::new(alg);
    if a.expect(tag::OID).ok() != Some(OID_EC_PUBLIC_KEY) || a.expect(tag::OID).ok() != Some(OID_PRIME256V1) {
        return Err(Error::BadCertificate);
    }
    let bits = s.expect(tag::BIT_STRING).map_err(bad)?;
    let point = match bits.split_first() {
        Some((0, p)) => p,
        _ => return Err(Error::BadCertificate),
    };
    VerifyingKey::from_sec1_bytes(point).map_err(|_| Error::BadCertificate)
}
