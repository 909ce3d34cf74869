//! Key derivation (RFC 3711 §4.3, AES-CM PRF) and the per-context transforms: AES-CM + HMAC-SHA1
//! (RFC 3711 §4.1.1, §4.2.1) and AES-GCM (RFC 7714). Key schedules are computed once per context.

use aes::cipher::{InnerIvInit, KeyInit, KeyIvInit, StreamCipher};
use aes::{Aes128, Aes128Enc, Aes256};
use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::{Error, Profile};

type Aes128Ctr = ctr::Ctr128BE<Aes128Enc>;

/// Key derivation labels (RFC 3711 §4.3.1, §4.3.2).
pub(crate) mod label {
    pub(crate) const RTP_ENCRYPTION: u8 = 0x00;
    pub(crate) const RTP_AUTH: u8 = 0x01;
    pub(crate) const RTP_SALT: u8 = 0x02;
    pub(crate) const RTCP_ENCRYPTION: u8 = 0x03;
    pub(crate) const RTCP_AUTH: u8 = 0x04;
    pub(crate) const RTCP_SALT: u8 = 0x05;
}

/// The AES-CM PRF with key_derivation_rate 0: `out` = AES-CM keystream under the master key, starting
/// at `(label << 48 XOR master_salt) << 16` (RFC 3711 §4.3.1, §4.3.3). A 96-bit salt (RFC 7714 §12)
/// is zero-padded on the right to 112 bits, as libsrtp does.
pub(crate) fn derive(master_key: &[u8], master_salt: &[u8], label: u8, out: &mut [u8]) -> Result<(), Error> {
    let mut iv = [0u8; 16];
    iv.get_mut(..master_salt.len()).ok_or(Error::InvalidKeyLength)?.copy_from_slice(master_salt);
    iv[7] ^= label;
    out.fill(0);
    match master_key.len() {
        16 => ctr::Ctr128BE::<Aes128>::new_from_slices(master_key, &iv)
            .map_err(|_| Error::InvalidKeyLength)?
            .apply_keystream(out),
        32 => ctr::Ctr128BE::<Aes256>::new_from_slices(master_key, &iv)
            .map_err(|_| Error::InvalidKeyLength)?
            .apply_keystream(out),
        _ => return Err(Error::InvalidKeyLength),
    }
    Ok(())
}

/// The cipher and authentication state of one direction for RTP or for RTCP.
// Two per context and a few contexts per session: inline beats an indirection on every packet.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
pub(crate) enum Transform {
    /// AES-128 counter mode with HMAC-SHA1 (RFC 3711).
    Cm {
        /// The expanded session encryption key.
        aes: Aes128Enc,
        /// The 112-bit session salt.
        salt: [u8; 14],
        /// HMAC keyed with the session authentication key; cloned per packet.
        mac: Hmac<Sha1>,
        /// Tag length in octets (10 or 4).
        tag_len: usize,
    },
    /// AEAD_AES_128_GCM (RFC 7714).
    Gcm128 { aead: Aes128Gcm, salt: [u8; 12] },
    /// AEAD_AES_256_GCM (RFC 7714).
    Gcm256 { aead: Aes256Gcm, salt: [u8; 12] },
}

impl core::fmt::Debug for Transform {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never print keys.
        f.write_str(match self {
            Transform::Cm { .. } => "Transform::Cm",
            Transform::Gcm128 { .. } => "Transform::Gcm128",
            Transform::Gcm256 { .. } => "Transform::Gcm256",
        })
    }
}

impl Transform {
    /// Builds the transform for RTP (`rtcp == false`) or RTCP from the master key and salt.
    pub(crate) fn derive(profile: Profile, master_key: &[u8], master_salt: &[u8], rtcp: bool) -> Result<Self, Error> {
        if master_key.len() != profile.key_len() || master_salt.len() != profile.salt_len() {
            return Err(Error::InvalidKeyLength);
        }
        let (l_enc, l_auth, l_salt) = if rtcp {
            (label::RTCP_ENCRYPTION, label::RTCP_AUTH, label::RTCP_SALT)
        } else {
            (label::RTP_ENCRYPTION, label::RTP_AUTH, label::RTP_SALT)
        };
        let mut key = [0u8; 32];
        let key = &mut key[..profile.key_len()];
        derive(master_key, master_salt, l_enc, key)?;
        let mut salt = [0u8; 14];
        let salt = &mut salt[..profile.salt_len()];
        derive(master_key, master_salt, l_salt, salt)?;
        let mut auth = [0u8; 20];
        if profile.is_gcm() {
            Self::from_session_keys(profile, key, salt, &[], rtcp)
        } else {
            derive(master_key, master_salt, l_auth, &mut auth)?;
            Self::from_session_keys(profile, key, salt, &auth, rtcp)
        }
    }

    /// Builds the transform from session keys directly (used by the RFC test vectors).
    pub(crate) fn from_session_keys(
        profile: Profile,
        key: &[u8],
        salt: &[u8],
        auth_key: &[u8],
        rtcp: bool,
    ) -> Result<Self, Error> {
        Ok(match profile {
            Profile::Aes128CmHmacSha1_80 | Profile::Aes128CmHmacSha1_32 => Transform::Cm {
                aes: Aes128Enc::new_from_slice(key).map_err(|_| Error::InvalidKeyLength)?,
                salt: salt.try_into().map_err(|_| Error::InvalidKeyLength)?,
                mac: <Hmac<Sha1> as KeyInit>::new_from_slice(auth_key).map_err(|_| Error::InvalidKeyLength)?,
                // RFC 5764 §4.1.2: SRTCP always uses the 80-bit tag, even for the _32 profile.
                tag_len: if rtcp { 10 } else { profile.rtp_tag_len() },
            },
            Profile::AeadAes128Gcm => Transform::Gcm128 {
                aead: Aes128Gcm::new_from_slice(key).map_err(|_| Error::InvalidKeyLength)?,
                salt: salt.try_into().map_err(|_| Error::InvalidKeyLength)?,
            },
            Profile::AeadAes256Gcm => Transform::Gcm256 {
                aead: Aes256Gcm::new_from_slice(key).map_err(|_| Error::InvalidKeyLength)?,
                salt: salt.try_into().map_err(|_| Error::InvalidKeyLength)?,
            },
        })
    }

    /// The GCM salt (all zero for AES-CM, which never asks).
    pub(crate) fn gcm_salt(&self) -> &[u8; 12] {
        match self {
            Transform::Gcm128 { salt, .. } | Transform::Gcm256 { salt, .. } => salt,
            Transform::Cm { .. } => &[0; 12],
        }
    }

    /// Authentication tag length in octets.
    pub(crate) fn tag_len(&self) -> usize {
        match self {
            Transform::Cm { tag_len, .. } => *tag_len,
            Transform::Gcm128 { .. } | Transform::Gcm256 { .. } => 16,
        }
    }

    /// AES-CM keystream over `data` for `ssrc` and packet index `index` (48 bits for SRTP, 31 for SRTCP):
    /// IV = (salt << 16) XOR (SSRC << 64) XOR (index << 16) (RFC 3711 §4.1.1).
    pub(crate) fn cm_apply(aes: &Aes128Enc, salt: &[u8; 14], ssrc: u32, index: u64, data: &mut [u8]) {
        let mut iv = [0u8; 16];
        iv[..14].copy_from_slice(salt);
        for (d, s) in iv[4..8].iter_mut().zip(ssrc.to_be_bytes()) {
            *d ^= s;
        }
        for (d, s) in iv[8..14].iter_mut().zip(&index.to_be_bytes()[2..]) {
            *d ^= s;
        }
        let core = ctr::CtrCore::<Aes128Enc, ctr::flavors::Ctr128BE>::inner_iv_init(aes.clone(), &iv.into());
        let mut ctr = Aes128Ctr::from_core(core);
        ctr.apply_keystream(data);
    }

    /// HMAC-SHA1 over `parts`, truncated into `out`.
    pub(crate) fn hmac(mac: &Hmac<Sha1>, parts: &[&[u8]], out: &mut [u8]) {
        let mut mac = mac.clone();
        for p in parts {
            mac.update(p);
        }
        let full = mac.finalize().into_bytes();
        for (o, f) in out.iter_mut().zip(full.iter()) {
            *o = *f;
        }
    }

    /// GCM IV: `00 00 || SSRC || hi (4 octets) || lo (2 octets)` XOR salt (RFC 7714 §8.1, §9.1).
    pub(crate) fn gcm_iv(salt: &[u8; 12], ssrc: u32, hi: u32, lo: u16) -> [u8; 12] {
        let mut iv = [0u8; 12];
        iv[2..6].copy_from_slice(&ssrc.to_be_bytes());
        iv[6..10].copy_from_slice(&hi.to_be_bytes());
        iv[10..12].copy_from_slice(&lo.to_be_bytes());
        for (d, s) in iv.iter_mut().zip(salt) {
            *d ^= s;
        }
        iv
    }

    /// GCM seal in place; returns the 16-octet tag.
    pub(crate) fn gcm_seal(&self, iv: &[u8; 12], aad: &[u8], data: &mut [u8]) -> [u8; 16] {
        let nonce = (*iv).into();
        let tag = match self {
            Transform::Gcm128 { aead, .. } => aead.encrypt_inout_detached(&nonce, aad, data.into()),
            Transform::Gcm256 { aead, .. } => aead.encrypt_inout_detached(&nonce, aad, data.into()),
            Transform::Cm { .. } => return [0; 16],
        };
        // Encryption only fails for inputs longer than GCM's limit (2^36 octets), impossible here.
        tag.map(Into::into).unwrap_or([0; 16])
    }

    /// GCM open in place: verifies `tag` then decrypts `data`. On failure `data` is unchanged.
    pub(crate) fn gcm_open(&self, iv: &[u8; 12], aad: &[u8], data: &mut [u8], tag: &[u8]) -> Result<(), Error> {
        let nonce = (*iv).into();
        let tag: [u8; 16] = tag.try_into().map_err(|_| Error::TooShort)?;
        let tag = tag.into();
        let r = match self {
            Transform::Gcm128 { aead, .. } => aead.decrypt_inout_detached(&nonce, aad, data.into(), &tag),
            Transform::Gcm256 { aead, .. } => aead.decrypt_inout_detached(&nonce, aad, data.into(), &tag),
            Transform::Cm { .. } => return Err(Error::AuthFailed),
        };
        r.map_err(|_| Error::AuthFailed)
    }
}

impl Transform {
    /// GCM open from `data` into `out` (as long): verifies `tag` then decrypts. On failure `out` is
    /// unchanged.
    pub(crate) fn gcm_open_to(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        data: &[u8],
        out: &mut [u8],
        tag: &[u8],
    ) -> Result<(), Error> {
        let nonce = (*iv).into();
        let tag: [u8; 16] = tag.try_into().map_err(|_| Error::TooShort)?;
        let tag = tag.into();
        let buf = aes_gcm::aead::inout::InOutBuf::new(data, out).map_err(|_| Error::BufferTooSmall)?;
        let r = match self {
            Transform::Gcm128 { aead, .. } => aead.decrypt_inout_detached(&nonce, aad, buf, &tag),
            Transform::Gcm256 { aead, .. } => aead.decrypt_inout_detached(&nonce, aad, buf, &tag),
            Transform::Cm { .. } => return Err(Error::AuthFailed),
        };
        r.map_err(|_| Error::AuthFailed)
    }
}

/// Compares two tags in time independent of where they differ.
pub(crate) fn tags_equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
