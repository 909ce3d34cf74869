//! The TLS 1.2 key schedule and record protection for the two ECDHE-ECDSA AES-GCM suites: PRF (RFC 5246
//! §5), extended master secret (RFC 7627), key block (RFC 5246 §6.3), AES-GCM records (RFC 5288), the RFC
//! 5705 exporter, ECDHE on X25519 (RFC 7748) and P-256, and ECDSA P-256/SHA-256 signatures.

use alloc::boxed::Box;
use alloc::vec::Vec;

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes128Gcm, Aes256Gcm, KeyInit, Nonce, Tag};
use hmac::{Hmac, Mac};
use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::elliptic_curve::Generate;
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::{NonZeroScalar, PublicKey};
use sha2::{Digest, Sha256, Sha384};

use super::der;
use super::error::Error;
use super::wire::record::{additional_data, write_header};
use super::wire::{CipherSuite, ContentType, NamedGroup, Record};

/// The PRF hash of a suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrfHash {
    /// P_SHA256.
    Sha256,
    /// P_SHA384.
    Sha384,
}

impl PrfHash {
    /// The PRF hash of `suite`.
    pub fn of(suite: CipherSuite) -> PrfHash {
        if suite == CipherSuite::ECDHE_ECDSA_AES_256_GCM_SHA384 { PrfHash::Sha384 } else { PrfHash::Sha256 }
    }

    /// Hash of `data` (32 or 48 bytes, in a 48-byte buffer with its length).
    pub fn hash(self, data: &[u8]) -> ([u8; 48], usize) {
        let mut out = [0u8; 48];
        match self {
            PrfHash::Sha256 => {
                out[..32].copy_from_slice(&Sha256::digest(data));
                (out, 32)
            }
            PrfHash::Sha384 => {
                out.copy_from_slice(&Sha384::digest(data));
                (out, 48)
            }
        }
    }
}

macro_rules! p_hash {
    ($name:ident, $h:ty) => {
        fn $name(secret: &[u8], label: &[u8], seeds: &[&[u8]], out: &mut [u8]) {
            // HMAC accepts keys of any length, so this never returns early.
            let Ok(keyed) = <Hmac<$h> as KeyInit>::new_from_slice(secret) else { return };
            let mac = |parts: &[&[u8]]| {
                let mut m = keyed.clone();
                for p in parts {
                    m.update(p);
                }
                m.finalize().into_bytes()
            };
            // A(1) = HMAC(secret, label ‖ seed); A(i) = HMAC(secret, A(i-1)).
            let mut parts: Vec<&[u8]> = Vec::with_capacity(seeds.len() + 2);
            parts.push(label);
            parts.extend_from_slice(seeds);
            let mut a = mac(&parts);
            for chunk in out.chunks_mut(a.len()) {
                let mut p: Vec<&[u8]> = Vec::with_capacity(seeds.len() + 2);
                p.push(&a);
                p.push(label);
                p.extend_from_slice(seeds);
                let block = mac(&p);
                chunk.copy_from_slice(&block[..chunk.len()]);
                a = mac(&[&a]);
            }
        }
    };
}

p_hash!(p_sha256, Sha256);
p_hash!(p_sha384, Sha384);

/// PRF(secret, label, seed) of RFC 5246 §5, writing `out.len()` bytes.
pub fn prf(hash: PrfHash, secret: &[u8], label: &[u8], seeds: &[&[u8]], out: &mut [u8]) {
    match hash {
        PrfHash::Sha256 => p_sha256(secret, label, seeds, out),
        PrfHash::Sha384 => p_sha384(secret, label, seeds, out),
    }
}

/// HMAC-SHA256 (used for stateless cookies).
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length.
    let Ok(mut m) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) else { return [0; 32] };
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// The extended master secret (RFC 7627 §4): PRF(pms, "extended master secret", session_hash).
pub fn extended_master_secret(hash: PrfHash, pms: &[u8], session_hash: &[u8]) -> [u8; 48] {
    let mut ms = [0u8; 48];
    prf(hash, pms, b"extended master secret", &[session_hash], &mut ms);
    ms
}

/// Finished verify_data (RFC 5246 §7.4.9).
pub fn verify_data(hash: PrfHash, master: &[u8; 48], client: bool, transcript_hash: &[u8]) -> [u8; 12] {
    let mut v = [0u8; 12];
    let label: &[u8] = if client { b"client finished" } else { b"server finished" };
    prf(hash, master, label, &[transcript_hash], &mut v);
    v
}

/// The RFC 5705 exporter without context: PRF(master, label, client_random ‖ server_random).
pub fn export(
    hash: PrfHash,
    master: &[u8; 48],
    label: &[u8],
    client_random: &[u8; 32],
    server_random: &[u8; 32],
    out: &mut [u8],
) {
    prf(hash, master, label, &[client_random, server_random], out);
}

/// An AES-GCM instance for one direction.
// Boxed: a key schedule of its own size each (AES-128's is 250 octets smaller than AES-256's), and a
// connection that negotiated DTLS 1.3 holds none; a pointer more on the record path, no allocation.
#[derive(Clone)]
enum Gcm {
    A128(Box<Aes128Gcm>),
    A256(Box<Aes256Gcm>),
}

/// Record protection for one direction of one epoch (RFC 5288 §3): key, 4-byte implicit IV.
#[derive(Clone)]
pub struct RecordCipher {
    gcm: Gcm,
    iv: [u8; 4],
}

impl core::fmt::Debug for RecordCipher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("RecordCipher(..)")
    }
}

/// Bytes an AES-GCM record adds: 8-byte explicit nonce and 16-byte tag.
pub const AEAD_OVERHEAD: usize = 8 + 16;

impl RecordCipher {
    /// A cipher from a 16- or 32-byte key and 4-byte implicit IV.
    pub fn new(key: &[u8], iv: &[u8]) -> Result<Self, Error> {
        let gcm = match key.len() {
            16 => Gcm::A128(Box::new(Aes128Gcm::new_from_slice(key).map_err(|_| Error::InvalidKey)?)),
            32 => Gcm::A256(Box::new(Aes256Gcm::new_from_slice(key).map_err(|_| Error::InvalidKey)?)),
            _ => return Err(Error::InvalidKey),
        };
        let iv: [u8; 4] = iv.try_into().map_err(|_| Error::InvalidKey)?;
        Ok(RecordCipher { gcm, iv })
    }

    fn nonce(&self, explicit: &[u8; 8]) -> Nonce<aes_gcm::aead::consts::U12> {
        let mut n = [0u8; 12];
        n[..4].copy_from_slice(&self.iv);
        n[4..].copy_from_slice(explicit);
        n.into()
    }

    /// Appends a protected record of type `ty` holding `plaintext` to `out`. The explicit nonce is the
    /// epoch and sequence number (unique per key, RFC 5288 §3).
    pub fn seal(&self, out: &mut Vec<u8>, ty: ContentType, version: u16, epoch: u16, seq: u64, plaintext: &[u8]) {
        let len = plaintext.len() + AEAD_OVERHEAD;
        write_header(out, ty, version, epoch, seq, len as u16);
        let mut explicit = [0u8; 8];
        explicit[..2].copy_from_slice(&epoch.to_be_bytes());
        explicit[2..].copy_from_slice(&seq.to_be_bytes()[2..]);
        out.extend_from_slice(&explicit);
        let start = out.len();
        out.extend_from_slice(plaintext);
        let ad = additional_data(epoch, seq, ty, version, plaintext.len() as u16);
        let nonce = self.nonce(&explicit);
        let buf = &mut out[start..];
        let tag = match &self.gcm {
            Gcm::A128(g) => g.encrypt_inout_detached(&nonce, &ad, buf.into()),
            Gcm::A256(g) => g.encrypt_inout_detached(&nonce, &ad, buf.into()),
        };
        // Encryption only fails for inputs above 2^36 bytes; records are below 2^14.
        let tag = tag.unwrap_or_default();
        out.extend_from_slice(&tag);
    }

    /// Decrypts `record` into `out` (cleared first). On a bad tag `out` is left empty.
    pub fn open(&self, record: &Record<'_>, out: &mut Vec<u8>) -> Result<(), Error> {
        out.clear();
        let frag = record.fragment();
        if frag.len() < AEAD_OVERHEAD {
            return Err(Error::BadRecordMac);
        }
        let (explicit, rest) = frag.split_at(8);
        let (ct, tag) = rest.split_at(rest.len() - 16);
        let explicit: [u8; 8] = explicit.try_into().map_err(|_| Error::BadRecordMac)?;
        let ad = additional_data(
            record.epoch(),
            record.sequence(),
            record.content_type(),
            record.version(),
            ct.len() as u16,
        );
        let nonce = self.nonce(&explicit);
        let tag = Tag::<aes_gcm::aead::consts::U16>::try_from(tag).map_err(|_| Error::BadRecordMac)?;
        out.extend_from_slice(ct);
        let r = match &self.gcm {
            Gcm::A128(g) => g.decrypt_inout_detached(&nonce, &ad, out.as_mut_slice().into(), &tag),
            Gcm::A256(g) => g.decrypt_inout_detached(&nonce, &ad, out.as_mut_slice().into(), &tag),
        };
        if r.is_err() {
            out.clear();
            return Err(Error::BadRecordMac);
        }
        Ok(())
    }
}

/// The keys for both directions derived from the key block (RFC 5246 §6.3; GCM has no MAC keys).
pub struct Keys {
    /// client_write cipher.
    pub client: RecordCipher,
    /// server_write cipher.
    pub server: RecordCipher,
}

/// Derives the key block for `suite` and builds both ciphers.
pub fn derive_keys(
    suite: CipherSuite,
    master: &[u8; 48],
    client_random: &[u8; 32],
    server_random: &[u8; 32],
) -> Result<Keys, Error> {
    let key_len = if suite == CipherSuite::ECDHE_ECDSA_AES_256_GCM_SHA384 { 32 } else { 16 };
    let mut block = [0u8; 2 * 32 + 2 * 4];
    let n = 2 * key_len + 8;
    let kb = block.get_mut(..n).ok_or(Error::InvalidKey)?;
    prf(PrfHash::of(suite), master, b"key expansion", &[server_random, client_random], kb);
    let (ck, rest) = kb.split_at(key_len);
    let (sk, rest) = rest.split_at(key_len);
    let (civ, siv) = rest.split_at(4);
    Ok(Keys { client: RecordCipher::new(ck, civ)?, server: RecordCipher::new(sk, siv)? })
}

/// An ephemeral ECDHE key on secp256r1.
pub struct EcdhKey {
    secret: NonZeroScalar,
    public: [u8; 65],
}

impl EcdhKey {
    /// A fresh key from `rng`.
    pub fn generate(rng: &mut crate::rand::SeededRng) -> EcdhKey {
        let secret = NonZeroScalar::generate_from_rng(rng);
        let point = PublicKey::from_secret_scalar(&secret).to_sec1_point(false);
        let mut public = [0u8; 65];
        if let Some(dst) = public.get_mut(..point.as_bytes().len()) {
            dst.copy_from_slice(point.as_bytes());
        }
        EcdhKey { secret, public }
    }

    /// A key from a fixed scalar (known-answer tests).
    #[cfg(test)]
    pub fn from_scalar(bytes: &[u8; 32]) -> Option<EcdhKey> {
        let secret = Option::<NonZeroScalar>::from(NonZeroScalar::from_repr((*bytes).into()))?;
        let point = PublicKey::from_secret_scalar(&secret).to_sec1_point(false);
        let public: [u8; 65] = point.as_bytes().try_into().ok()?;
        Some(EcdhKey { secret, public })
    }

    /// The uncompressed public point.
    pub fn public(&self) -> &[u8; 65] {
        &self.public
    }

    /// The premaster secret: the x-coordinate of the shared point (RFC 8422 §5.10).
    pub fn agree(&self, peer: &[u8]) -> Result<[u8; 32], Error> {
        if peer.first() != Some(&4) || peer.len() != 65 {
            return Err(Error::Malformed);
        }
        let pk = PublicKey::from_sec1_bytes(peer).map_err(|_| Error::Malformed)?;
        let shared = p256::ecdh::diffie_hellman(self.secret, pk.as_affine());
        let mut out = [0u8; 32];
        out.copy_from_slice(shared.raw_secret_bytes());
        Ok(out)
    }
}

/// An ephemeral X25519 key (RFC 7748 §6.1), its secret drawn from the connection's seeded generator.
#[cfg_attr(not(feature = "x25519"), allow(dead_code))]
pub struct X25519Key {
    secret: x25519_dalek::StaticSecret,
    public: [u8; 32],
}

#[cfg_attr(not(feature = "x25519"), allow(dead_code))]
impl X25519Key {
    /// A fresh key from `rng`.
    pub fn generate(rng: &mut crate::rand::SeededRng) -> X25519Key {
        X25519Key::from_secret(rng.bytes())
    }

    /// A key from 32 secret bytes (clamped by X25519 itself, RFC 7748 §5).
    pub fn from_secret(bytes: [u8; 32]) -> X25519Key {
        let secret = x25519_dalek::StaticSecret::from(bytes);
        let public = x25519_dalek::PublicKey::from(&secret).to_bytes();
        X25519Key { secret, public }
    }

    /// The 32-byte public key (the u-coordinate, little-endian).
    pub fn public(&self) -> &[u8; 32] {
        &self.public
    }

    /// The premaster secret: X25519(secret, peer) (RFC 8422 §5.11). A peer key of the wrong length is
    /// malformed; a low-order peer key, which makes the result all zeros, is refused (RFC 7748 §6.1).
    pub fn agree(&self, peer: &[u8]) -> Result<[u8; 32], Error> {
        let peer: [u8; 32] = peer.try_into().map_err(|_| Error::BadKeyShare)?;
        let shared = self.secret.diffie_hellman(&x25519_dalek::PublicKey::from(peer));
        if !shared.was_contributory() {
            return Err(Error::BadKeyShare);
        }
        Ok(shared.to_bytes())
    }
}

/// An ephemeral ECDHE key in one of the groups we support.
pub enum KeyShare {
    /// secp256r1.
    P256(EcdhKey),
    /// x25519.
    #[cfg(feature = "x25519")]
    X25519(X25519Key),
}

impl KeyShare {
    /// The groups we can key-exchange on, in our default preference order.
    /// (X25519 only with the `x25519` feature.)
    pub const SUPPORTED: &'static [NamedGroup] =
        if cfg!(feature = "x25519") { &[NamedGroup::X25519, NamedGroup::SECP256R1] } else { &[NamedGroup::SECP256R1] };

    /// A fresh key in `group`, or `None` for a group we do not support.
    pub fn generate(group: NamedGroup, rng: &mut crate::rand::SeededRng) -> Option<KeyShare> {
        match group {
            #[cfg(feature = "x25519")]
            NamedGroup::X25519 => Some(KeyShare::X25519(X25519Key::generate(rng))),
            NamedGroup::SECP256R1 => Some(KeyShare::P256(EcdhKey::generate(rng))),
            _ => None,
        }
    }

    /// Its group.
    pub fn group(&self) -> NamedGroup {
        match self {
            KeyShare::P256(_) => NamedGroup::SECP256R1,
            #[cfg(feature = "x25519")]
            KeyShare::X25519(_) => NamedGroup::X25519,
        }
    }

    /// The public key as it goes on the wire: 32 bytes for X25519, the 65-byte uncompressed point for P-256
    /// (RFC 8422 §5.4: X25519 has no point format byte).
    pub fn public(&self) -> &[u8] {
        match self {
            KeyShare::P256(k) => k.public(),
            #[cfg(feature = "x25519")]
            KeyShare::X25519(k) => k.public(),
        }
    }

    /// The premaster secret with the peer's public key in the same group; [`Error::BadKeyShare`] for a key
    /// that is not one.
    pub fn agree(&self, peer: &[u8]) -> Result<[u8; 32], Error> {
        match self {
            KeyShare::P256(k) => k.agree(peer).map_err(|_| Error::BadKeyShare),
            #[cfg(feature = "x25519")]
            KeyShare::X25519(k) => k.agree(peer),
        }
    }
}

/// Signs `message` with ECDSA P-256 / SHA-256 (RFC 6979 deterministic nonces); DER output.
pub fn sign(key: &SigningKey, message: &[u8]) -> Result<Vec<u8>, Error> {
    let digest = Sha256::digest(message);
    let sig: Signature = key.sign_prehash(&digest).map_err(|_| Error::InvalidKey)?;
    Ok(der::encode_ecdsa_sig(&sig.to_bytes()))
}

/// Verifies a DER ECDSA P-256 / SHA-256 signature over `message`.
pub fn verify(key: &VerifyingKey, message: &[u8], der_sig: &[u8]) -> Result<(), Error> {
    let rs = der::decode_ecdsa_sig(der_sig).map_err(|_| Error::BadSignature)?;
    let sig = Signature::from_slice(&rs).map_err(|_| Error::BadSignature)?;
    let digest = Sha256::digest(message);
    key.verify_prehash(&digest, &sig).map_err(|_| Error::BadSignature)
}
