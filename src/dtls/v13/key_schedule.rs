//! The TLS 1.3 key schedule (RFC 8446 §7) over HKDF (RFC 5869), for DTLS 1.3 (RFC 9147 §5.9).
//!
//! Every label is prefixed: `"tls13 "` in TLS 1.3, `"dtls13"` in DTLS 1.3; the prefix is a parameter
//! ([`LabelPrefix`]) so that the TLS vectors of RFC 8448 check the same code DTLS runs.
//!
//! ```text
//!              0
//!              |
//!    PSK -> HKDF-Extract = Early Secret            (no PSK: zeros; 0-RTT is not supported)
//!              |
//!        Derive-Secret(., "derived", "")
//!              |
//!  (EC)DHE -> HKDF-Extract = Handshake Secret
//!              +-> Derive-Secret(., "c hs traffic", ClientHello...ServerHello)
//!              +-> Derive-Secret(., "s hs traffic", ClientHello...ServerHello)
//!        Derive-Secret(., "derived", "")
//!              |
//!    0 -> HKDF-Extract = Master Secret
//!              +-> Derive-Secret(., "c ap traffic", ClientHello...server Finished)
//!              +-> Derive-Secret(., "s ap traffic", ClientHello...server Finished)
//!              +-> Derive-Secret(., "exp master", ClientHello...server Finished)
//!              +-> Derive-Secret(., "res master", ClientHello...client Finished)
//! ```
//!
//! Traffic keys and IVs come from each traffic secret with "key" and "iv" (§7.3), DTLS 1.3's record number
//! key with "sn" (RFC 9147 §4.2.3), Finished from "finished" (§4.4.4), the next application secret of a
//! KeyUpdate from "traffic upd" (§7.2), exported keying material from "exporter" (§7.5).
//!
//! The DTLS machine ([`Dtls`](crate::dtls::Dtls)) uses it once DTLS 1.3 is negotiated.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256, Sha384};

use crate::dtls::error::Error;

/// Largest hash output (SHA-384).
pub const MAX_HASH_LEN: usize = 48;

/// The hash of a TLS 1.3 cipher suite: SHA-256 for TLS_AES_128_GCM_SHA256 and
/// TLS_CHACHA20_POLY1305_SHA256, SHA-384 for TLS_AES_256_GCM_SHA384.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashAlg {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
}

impl HashAlg {
    /// The output length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
        }
    }

    /// The hash of `data` (a transcript hash when `data` is the concatenated handshake messages).
    pub fn digest(self, data: &[u8]) -> Secret {
        let mut s = Secret::zero(self);
        match self {
            HashAlg::Sha256 => s.bytes[..32].copy_from_slice(&Sha256::digest(data)),
            HashAlg::Sha384 => s.bytes.copy_from_slice(&Sha384::digest(data)),
        }
        s
    }

    /// HMAC of the concatenated `parts` under `key`.
    pub fn hmac(self, key: &[u8], parts: &[&[u8]]) -> Secret {
        let mut s = Secret::zero(self);
        // HMAC takes keys of any length, so the constructors never fail.
        match self {
            HashAlg::Sha256 => {
                if let Ok(mut m) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) {
                    parts.iter().for_each(|p| m.update(p));
                    s.bytes[..32].copy_from_slice(&m.finalize().into_bytes());
                }
            }
            HashAlg::Sha384 => {
                if let Ok(mut m) = <Hmac<Sha384> as KeyInit>::new_from_slice(key) {
                    parts.iter().for_each(|p| m.update(p));
                    s.bytes.copy_from_slice(&m.finalize().into_bytes());
                }
            }
        }
        s
    }
}

/// The prefix of every HKDF label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelPrefix {
    /// `"tls13 "` (RFC 8446 §7.1).
    Tls13,
    /// `"dtls13"` (RFC 9147 §5.9).
    Dtls13,
}

impl LabelPrefix {
    /// The prefix bytes.
    pub fn as_bytes(self) -> &'static [u8] {
        match self {
            LabelPrefix::Tls13 => b"tls13 ",
            LabelPrefix::Dtls13 => b"dtls13",
        }
    }
}

/// A secret (or a hash) of one hash's length, up to 48 bytes. Its `Debug` shows no bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Secret {
    bytes: [u8; MAX_HASH_LEN],
    len: u8,
}

impl Secret {
    fn zero(hash: HashAlg) -> Secret {
        Secret { bytes: [0; MAX_HASH_LEN], len: hash.output_len() as u8 }
    }

    /// A secret from its bytes (at most 48).
    pub fn from_slice(bytes: &[u8]) -> Result<Secret, Error> {
        let mut s = Secret { bytes: [0; MAX_HASH_LEN], len: bytes.len() as u8 };
        s.bytes.get_mut(..bytes.len()).ok_or(Error::InvalidKey)?.copy_from_slice(bytes);
        Ok(s)
    }

    /// The secret's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

impl core::fmt::Debug for Secret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Secret({} bytes)", self.len)
    }
}

/// HKDF-Extract(salt, IKM) (RFC 5869 §2.2); an empty `salt` means a hash length of zeros.
pub fn hkdf_extract(hash: HashAlg, salt: &[u8], ikm: &[u8]) -> Secret {
    let zeros = [0u8; MAX_HASH_LEN];
    let salt = if salt.is_empty() { zeros.get(..hash.output_len()).unwrap_or(&[]) } else { salt };
    hash.hmac(salt, &[ikm])
}

/// HKDF-Expand(PRK, info, L) (RFC 5869 §2.3), filling `out` (at most 255 hash lengths, else
/// [`Error::InvalidKey`]).
pub fn hkdf_expand(hash: HashAlg, prk: &[u8], info: &[u8], out: &mut [u8]) -> Result<(), Error> {
    if out.len() > 255 * hash.output_len() {
        return Err(Error::InvalidKey);
    }
    let mut previous: Option<Secret> = None;
    for (i, chunk) in out.chunks_mut(hash.output_len()).enumerate() {
        // T(i) = HMAC(PRK, T(i-1) | info | i), i from 1.
        let t = previous.as_ref().map_or(&[][..], Secret::as_bytes);
        let block = hash.hmac(prk, &[t, info, &[(i + 1) as u8]]);
        if let Some(src) = block.as_bytes().get(..chunk.len()) {
            chunk.copy_from_slice(src);
        }
        previous = Some(block);
    }
    Ok(())
}

/// The HkdfLabel structure of RFC 8446 §7.1: `uint16 length`, `opaque label<7..255>` (prefix ‖ label),
/// `opaque context<0..255>`, written into `out`; returns its length. Errors if the label or context is too
/// long for its one-byte length or for `out`.
pub fn hkdf_label(
    prefix: LabelPrefix,
    label: &[u8],
    context: &[u8],
    length: u16,
    out: &mut [u8],
) -> Result<usize, Error> {
    let full = prefix.as_bytes().len() + label.len();
    let total = 2 + 1 + full + 1 + context.len();
    if full > 255 || context.len() > 255 || total > out.len() {
        return Err(Error::InvalidKey);
    }
    let buf = out.get_mut(..total).ok_or(Error::InvalidKey)?;
    let (len_bytes, rest) = buf.split_at_mut(2);
    len_bytes.copy_from_slice(&length.to_be_bytes());
    let (label_len, rest) = rest.split_at_mut(1);
    label_len[0] = full as u8;
    let (pre, rest) = rest.split_at_mut(prefix.as_bytes().len());
    pre.copy_from_slice(prefix.as_bytes());
    let (lab, rest) = rest.split_at_mut(label.len());
    lab.copy_from_slice(label);
    let (ctx_len, ctx) = rest.split_at_mut(1);
    ctx_len[0] = context.len() as u8;
    ctx.copy_from_slice(context);
    Ok(total)
}

/// HKDF-Expand-Label(Secret, Label, Context, Length) (RFC 8446 §7.1), `Length` being `out.len()`.
pub fn hkdf_expand_label(
    hash: HashAlg,
    prefix: LabelPrefix,
    secret: &[u8],
    label: &[u8],
    context: &[u8],
    out: &mut [u8],
) -> Result<(), Error> {
    let length = u16::try_from(out.len()).map_err(|_| Error::InvalidKey)?;
    let mut info = [0u8; 2 + 1 + 255 + 1 + 255];
    let n = hkdf_label(prefix, label, context, length, &mut info)?;
    hkdf_expand(hash, secret, info.get(..n).unwrap_or(&[]), out)
}

/// Derive-Secret(Secret, Label, Messages) (RFC 8446 §7.1), given Transcript-Hash(Messages).
pub fn derive_secret(
    hash: HashAlg,
    prefix: LabelPrefix,
    secret: &Secret,
    label: &[u8],
    transcript_hash: &[u8],
) -> Result<Secret, Error> {
    let mut out = Secret::zero(hash);
    let n = hash.output_len();
    hkdf_expand_label(
        hash,
        prefix,
        secret.as_bytes(),
        label,
        transcript_hash,
        out.bytes.get_mut(..n).unwrap_or(&mut []),
    )?;
    Ok(out)
}

/// Where the schedule stands: one secret per stage, each derived from the one before.
#[derive(Clone, Copy, Debug)]
enum Stage {
    Early(Secret),
    Handshake(Secret),
    Master(Secret),
}

/// The client's and server's traffic secrets of one stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrafficSecrets {
    /// client_*_traffic_secret.
    pub client: Secret,
    /// server_*_traffic_secret.
    pub server: Secret,
}

/// The RFC 8446 §7.1 key schedule of one connection, without PSK (no resumption, no 0-RTT): the early
/// secret, then the handshake secret once the (EC)DHE secret is known, then the master secret.
#[derive(Clone, Debug)]
pub struct KeySchedule {
    hash: HashAlg,
    prefix: LabelPrefix,
    stage: Stage,
}

impl KeySchedule {
    /// The early secret, HKDF-Extract(0, 0).
    pub fn new(hash: HashAlg, prefix: LabelPrefix) -> KeySchedule {
        let zeros = [0u8; MAX_HASH_LEN];
        let early = hkdf_extract(hash, &[], zeros.get(..hash.output_len()).unwrap_or(&[]));
        KeySchedule { hash, prefix, stage: Stage::Early(early) }
    }

    /// The hash.
    pub fn hash(&self) -> HashAlg {
        self.hash
    }

    /// The label prefix.
    pub fn prefix(&self) -> LabelPrefix {
        self.prefix
    }

    /// The secret of the current stage (early, handshake or master).
    pub fn current_secret(&self) -> &Secret {
        match &self.stage {
            Stage::Early(s) | Stage::Handshake(s) | Stage::Master(s) => s,
        }
    }

    fn derived(&self, secret: &Secret) -> Result<Secret, Error> {
        let empty = self.hash.digest(&[]);
        derive_secret(self.hash, self.prefix, secret, b"derived", empty.as_bytes())
    }

    /// Mixes in the (EC)DHE shared secret: early → handshake secret. Then
    /// [`handshake_traffic_secrets`](Self::handshake_traffic_secrets). Refused out of order.
    pub fn input_shared_secret(&mut self, shared: &[u8]) -> Result<(), Error> {
        let Stage::Early(early) = self.stage else { return Err(Error::UnexpectedMessage) };
        let salt = self.derived(&early)?;
        self.stage = Stage::Handshake(hkdf_extract(self.hash, salt.as_bytes(), shared));
        Ok(())
    }

    /// client/server_handshake_traffic_secret, given Transcript-Hash(ClientHello...ServerHello).
    pub fn handshake_traffic_secrets(&self, hello_hash: &[u8]) -> Result<TrafficSecrets, Error> {
        let Stage::Handshake(hs) = &self.stage else { return Err(Error::UnexpectedMessage) };
        Ok(TrafficSecrets {
            client: derive_secret(self.hash, self.prefix, hs, b"c hs traffic", hello_hash)?,
            server: derive_secret(self.hash, self.prefix, hs, b"s hs traffic", hello_hash)?,
        })
    }

    /// Handshake → master secret. Then [`application_traffic_secrets`](Self::application_traffic_secrets).
    pub fn enter_master(&mut self) -> Result<(), Error> {
        let Stage::Handshake(hs) = self.stage else { return Err(Error::UnexpectedMessage) };
        let salt = self.derived(&hs)?;
        let zeros = [0u8; MAX_HASH_LEN];
        self.stage =
            Stage::Master(hkdf_extract(self.hash, salt.as_bytes(), zeros.get(..self.hash.output_len()).unwrap_or(&[])));
        Ok(())
    }

    /// client/server_application_traffic_secret_0, given Transcript-Hash(ClientHello...server Finished).
    pub fn application_traffic_secrets(&self, server_finished_hash: &[u8]) -> Result<TrafficSecrets, Error> {
        let Stage::Master(ms) = &self.stage else { return Err(Error::UnexpectedMessage) };
        Ok(TrafficSecrets {
            client: derive_secret(self.hash, self.prefix, ms, b"c ap traffic", server_finished_hash)?,
            server: derive_secret(self.hash, self.prefix, ms, b"s ap traffic", server_finished_hash)?,
        })
    }

    /// exporter_master_secret, given Transcript-Hash(ClientHello...server Finished).
    pub fn exporter_master_secret(&self, server_finished_hash: &[u8]) -> Result<Secret, Error> {
        let Stage::Master(ms) = &self.stage else { return Err(Error::UnexpectedMessage) };
        derive_secret(self.hash, self.prefix, ms, b"exp master", server_finished_hash)
    }

    /// resumption_master_secret, given Transcript-Hash(ClientHello...client Finished).
    pub fn resumption_master_secret(&self, client_finished_hash: &[u8]) -> Result<Secret, Error> {
        let Stage::Master(ms) = &self.stage else { return Err(Error::UnexpectedMessage) };
        derive_secret(self.hash, self.prefix, ms, b"res master", client_finished_hash)
    }
}

/// The record keys of one traffic secret (RFC 8446 §7.3, RFC 9147 §4.2.3): write key, write IV and the
/// record number key, each for the AEAD's key length. Its `Debug` shows no bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TrafficKeys {
    key: [u8; 32],
    sn_key: [u8; 32],
    key_len: u8,
    /// The 12-byte write IV.
    pub iv: [u8; 12],
}

impl TrafficKeys {
    /// The keys of `secret` for an AEAD with `key_len`-byte keys (16 or 32).
    pub fn derive(hash: HashAlg, prefix: LabelPrefix, secret: &Secret, key_len: usize) -> Result<TrafficKeys, Error> {
        if key_len != 16 && key_len != 32 {
            return Err(Error::InvalidKey);
        }
        let mut k = TrafficKeys { key: [0; 32], sn_key: [0; 32], key_len: key_len as u8, iv: [0; 12] };
        let s = secret.as_bytes();
        hkdf_expand_label(hash, prefix, s, b"key", &[], k.key.get_mut(..key_len).unwrap_or(&mut []))?;
        hkdf_expand_label(hash, prefix, s, b"iv", &[], &mut k.iv)?;
        hkdf_expand_label(hash, prefix, s, b"sn", &[], k.sn_key.get_mut(..key_len).unwrap_or(&mut []))?;
        Ok(k)
    }

    /// Keys given as they are (published vectors): write key and record number key of one length (16 or 32
    /// bytes), and the write IV.
    pub fn from_parts(key: &[u8], iv: [u8; 12], sn_key: &[u8]) -> Result<TrafficKeys, Error> {
        if (key.len() != 16 && key.len() != 32) || sn_key.len() != key.len() {
            return Err(Error::InvalidKey);
        }
        let mut k = TrafficKeys { key: [0; 32], sn_key: [0; 32], key_len: key.len() as u8, iv };
        k.key.get_mut(..key.len()).ok_or(Error::InvalidKey)?.copy_from_slice(key);
        k.sn_key.get_mut(..key.len()).ok_or(Error::InvalidKey)?.copy_from_slice(sn_key);
        Ok(k)
    }

    /// The write key.
    pub fn key(&self) -> &[u8] {
        self.key.get(..usize::from(self.key_len)).unwrap_or(&[])
    }

    /// The record number (sequence number encryption) key, `[sender]_sn_key`.
    pub fn sn_key(&self) -> &[u8] {
        self.sn_key.get(..usize::from(self.key_len)).unwrap_or(&[])
    }
}

impl core::fmt::Debug for TrafficKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "TrafficKeys({}-byte key)", self.key_len)
    }
}

/// finished_key = HKDF-Expand-Label(BaseKey, "finished", "", Hash.length) (RFC 8446 §4.4.4).
pub fn finished_key(hash: HashAlg, prefix: LabelPrefix, base_key: &Secret) -> Result<Secret, Error> {
    let mut out = Secret::zero(hash);
    let n = hash.output_len();
    hkdf_expand_label(hash, prefix, base_key.as_bytes(), b"finished", &[], out.bytes.get_mut(..n).unwrap_or(&mut []))?;
    Ok(out)
}

/// Finished verify_data = HMAC(finished_key, Transcript-Hash(...)) (RFC 8446 §4.4.4), `base_key` being the
/// sender's handshake traffic secret.
pub fn verify_data(
    hash: HashAlg,
    prefix: LabelPrefix,
    base_key: &Secret,
    transcript_hash: &[u8],
) -> Result<Secret, Error> {
    let key = finished_key(hash, prefix, base_key)?;
    Ok(hash.hmac(key.as_bytes(), &[transcript_hash]))
}

/// application_traffic_secret_N+1 from _N, for KeyUpdate (RFC 8446 §7.2).
pub fn next_traffic_secret(hash: HashAlg, prefix: LabelPrefix, secret: &Secret) -> Result<Secret, Error> {
    let mut out = Secret::zero(hash);
    let n = hash.output_len();
    hkdf_expand_label(hash, prefix, secret.as_bytes(), b"traffic upd", &[], out.bytes.get_mut(..n).unwrap_or(&mut []))?;
    Ok(out)
}

/// The PSK of a ticket: HKDF-Expand-Label(resumption_master_secret, "resumption", ticket_nonce,
/// Hash.length) (RFC 8446 §4.6.1).
pub fn resumption_psk(
    hash: HashAlg,
    prefix: LabelPrefix,
    resumption_master: &Secret,
    ticket_nonce: &[u8],
) -> Result<Secret, Error> {
    let mut out = Secret::zero(hash);
    let n = hash.output_len();
    let dst = out.bytes.get_mut(..n).unwrap_or(&mut []);
    hkdf_expand_label(hash, prefix, resumption_master.as_bytes(), b"resumption", ticket_nonce, dst)?;
    Ok(out)
}

/// TLS-Exporter(label, context_value, key_length) (RFC 8446 §7.5) into `out`:
/// HKDF-Expand-Label(Derive-Secret(exporter_master_secret, label, ""), "exporter", Hash(context_value),
/// key_length). No context and an empty context are the same here. For DTLS-SRTP the label is
/// "EXTRACTOR-dtls_srtp" (RFC 5764 §4.2).
pub fn export(
    hash: HashAlg,
    prefix: LabelPrefix,
    exporter_master: &Secret,
    label: &[u8],
    context: &[u8],
    out: &mut [u8],
) -> Result<(), Error> {
    let empty = hash.digest(&[]);
    let secret = derive_secret(hash, prefix, exporter_master, label, empty.as_bytes())?;
    let context_hash = hash.digest(context);
    hkdf_expand_label(hash, prefix, secret.as_bytes(), b"exporter", context_hash.as_bytes(), out)
}
