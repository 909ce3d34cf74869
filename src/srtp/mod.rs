//! SRTP and SRTCP (RFC 3711) with the AES-GCM profiles of RFC 7714, keyed from DTLS-SRTP (RFC 5764).
//!
//! A [`Session`] holds two [`Context`]s, outbound and inbound, built from the DTLS-SRTP keying block and
//! the local DTLS role. Protect and unprotect work in place on the caller's buffer and never allocate:
//!
//! ```
//! use sansrtc::srtp::{Config, Profile, Role, Session};
//!
//! let profile = Profile::AeadAes128Gcm;
//! // From the DTLS exporter ("EXTRACTOR-dtls_srtp", profile.keying_material_len() octets).
//! let block = [7u8; 56];
//! let mut alice = Session::from_keying_material(profile, &block, Role::Client, Config::default())?;
//! let mut bob = Session::from_keying_material(profile, &block, Role::Server, Config::default())?;
//!
//! let mut packet = Vec::with_capacity(1500);
//! packet.extend_from_slice(&[0x80, 96, 0, 1, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef]);
//! packet.extend_from_slice(b"media");
//! let plain = packet.clone();
//! alice.protect_rtp(&mut packet)?;
//! assert_eq!(packet.len(), plain.len() + profile.rtp_overhead());
//! bob.unprotect_rtp(&mut packet)?;
//! assert_eq!(packet, plain);
//! # Ok::<(), sansrtc::srtp::Error>(())
//! ```
//!
//! Rollover counters are tracked per SSRC by packet-index estimation (RFC 3711 §3.3.1, Appendix A),
//! replays are rejected by a sliding window (RFC 3711 §3.3.2), and state moves only after a packet
//! authenticates, so a forged packet changes nothing. MKI is not used (WebRTC never sends one).

mod context;
mod crypto;
mod error;
mod replay;
mod wire;

#[cfg(test)]
mod tests;

pub use context::Context;
pub use error::Error;

const TARGET: &str = "sansrtc::srtp";

/// An SRTP protection profile (RFC 5764 §4.1.2, RFC 7714 §14.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Profile {
    /// SRTP_AES128_CM_HMAC_SHA1_80 (0x0001): AES-128 counter mode, 80-bit HMAC-SHA1 tag.
    Aes128CmHmacSha1_80,
    /// SRTP_AES128_CM_HMAC_SHA1_32 (0x0002): as above with a 32-bit tag on RTP (80 bits on RTCP).
    Aes128CmHmacSha1_32,
    /// SRTP_AEAD_AES_128_GCM (0x0007): AES-128-GCM, 128-bit tag.
    AeadAes128Gcm,
    /// SRTP_AEAD_AES_256_GCM (0x0008): AES-256-GCM, 128-bit tag.
    AeadAes256Gcm,
}

impl Profile {
    /// Every supported profile.
    pub const ALL: [Profile; 4] =
        [Profile::Aes128CmHmacSha1_80, Profile::Aes128CmHmacSha1_32, Profile::AeadAes128Gcm, Profile::AeadAes256Gcm];

    /// The profile for a DTLS `use_srtp` protection profile identifier, if supported.
    pub fn from_id(id: u16) -> Option<Self> {
        Some(match id {
            0x0001 => Profile::Aes128CmHmacSha1_80,
            0x0002 => Profile::Aes128CmHmacSha1_32,
            0x0007 => Profile::AeadAes128Gcm,
            0x0008 => Profile::AeadAes256Gcm,
            _ => return None,
        })
    }

    /// The DTLS `use_srtp` protection profile identifier.
    pub fn id(self) -> u16 {
        match self {
            Profile::Aes128CmHmacSha1_80 => 0x0001,
            Profile::Aes128CmHmacSha1_32 => 0x0002,
            Profile::AeadAes128Gcm => 0x0007,
            Profile::AeadAes256Gcm => 0x0008,
        }
    }

    /// Master key length in octets.
    pub fn key_len(self) -> usize {
        match self {
            Profile::AeadAes256Gcm => 32,
            _ => 16,
        }
    }

    /// Master salt length in octets (112 bits for AES-CM, 96 for GCM).
    pub fn salt_len(self) -> usize {
        if self.is_gcm() { 12 } else { 14 }
    }

    /// Whether this is an AEAD (GCM) profile.
    pub fn is_gcm(self) -> bool {
        matches!(self, Profile::AeadAes128Gcm | Profile::AeadAes256Gcm)
    }

    /// RTP authentication tag length in octets.
    pub fn rtp_tag_len(self) -> usize {
        match self {
            Profile::Aes128CmHmacSha1_80 => 10,
            Profile::Aes128CmHmacSha1_32 => 4,
            Profile::AeadAes128Gcm | Profile::AeadAes256Gcm => 16,
        }
    }

    /// RTCP authentication tag length in octets.
    pub fn rtcp_tag_len(self) -> usize {
        if self.is_gcm() { 16 } else { 10 }
    }

    /// Octets SRTP adds to an RTP packet.
    pub fn rtp_overhead(self) -> usize {
        self.rtp_tag_len()
    }

    /// Octets SRTCP adds to an RTCP packet (tag plus the 4-octet E flag and index).
    pub fn rtcp_overhead(self) -> usize {
        self.rtcp_tag_len() + 4
    }

    /// Length of the DTLS-SRTP keying block: `2 * (key_len + salt_len)` (RFC 5764 §4.2).
    pub fn keying_material_len(self) -> usize {
        2 * (self.key_len() + self.salt_len())
    }
}

/// The local DTLS role, which decides which half of the keying block protects what we send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// DTLS client: sends with the client write key and salt.
    Client,
    /// DTLS server: sends with the server write key and salt.
    Server,
}

/// What to do with an inbound packet whose SSRC has no context yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum UnknownSsrc {
    /// Create a context when the packet authenticates (the WebRTC default: any SSRC under the key).
    #[default]
    Create,
    /// Reject with [`Error::UnknownSsrc`]; contexts are created only by sending or by
    /// [`Context::set_roc`].
    Reject,
}

/// Per-context settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Config {
    /// Replay window size in packets, 1..=1024 (default 128, as libsrtp).
    pub replay_window: u16,
    /// Maximum number of per-SSRC contexts (default 64).
    pub max_streams: usize,
    /// Policy for inbound packets of unknown SSRCs.
    pub unknown_ssrc: UnknownSsrc,
}

impl Default for Config {
    fn default() -> Self {
        Self { replay_window: 128, max_streams: 64, unknown_ssrc: UnknownSsrc::Create }
    }
}

impl Config {
    fn validate(&self) -> Result<(), Error> {
        if self.replay_window == 0 || self.replay_window > replay::MAX_WINDOW || self.max_streams == 0 {
            return Err(Error::InvalidConfig);
        }
        Ok(())
    }
}

/// Counters of one context. Every dropped packet is counted under its reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// RTP packets protected.
    pub rtp_protected: u64,
    /// SRTP packets unprotected.
    pub rtp_unprotected: u64,
    /// RTCP packets protected.
    pub rtcp_protected: u64,
    /// SRTCP packets unprotected.
    pub rtcp_unprotected: u64,
    /// Packets whose tag did not verify.
    pub auth_failed: u64,
    /// Packets already received.
    pub replayed: u64,
    /// Packets behind the replay window.
    pub too_old: u64,
    /// Packets of an unknown SSRC rejected by policy or by the stream cap.
    pub unknown_ssrc: u64,
    /// Packets too short or malformed.
    pub malformed: u64,
    /// Calls rejected for a too-small buffer.
    pub buffer_too_small: u64,
}

impl Stats {
    fn count(&mut self, e: Error) {
        let c = match e {
            Error::AuthFailed => &mut self.auth_failed,
            Error::Replayed => &mut self.replayed,
            Error::TooOld => &mut self.too_old,
            Error::UnknownSsrc(_) | Error::TooManyStreams => &mut self.unknown_ssrc,
            Error::BufferTooSmall => &mut self.buffer_too_small,
            _ => &mut self.malformed,
        };
        *c += 1;
    }
}

/// Both directions of an SRTP session, keyed from the DTLS-SRTP keying block.
///
/// Call [`protect_rtp`](Self::protect_rtp)/[`protect_rtcp`](Self::protect_rtcp) on packets to send and
/// [`unprotect_rtp`](Self::unprotect_rtp)/[`unprotect_rtcp`](Self::unprotect_rtcp) on packets received
/// (after demultiplexing by RFC 7983). No clock and no randomness are needed.
#[derive(Debug)]
pub struct Session {
    outbound: Context,
    inbound: Context,
}

impl Session {
    /// Builds a session from the keying block exported by DTLS (RFC 5764 §4.2:
    /// `client_write_key || server_write_key || client_write_salt || server_write_salt`) and our role.
    pub fn from_keying_material(profile: Profile, block: &[u8], role: Role, config: Config) -> Result<Self, Error> {
        if block.len() != profile.keying_material_len() {
            return Err(Error::InvalidKeyLength);
        }
        let (k, s) = (profile.key_len(), profile.salt_len());
        let (client_key, rest) = block.split_at(k);
        let (server_key, rest) = rest.split_at(k);
        let (client_salt, server_salt) = rest.split_at(s);
        let (local, remote) = match role {
            Role::Client => ((client_key, client_salt), (server_key, server_salt)),
            Role::Server => ((server_key, server_salt), (client_key, client_salt)),
        };
        Self::new(profile, local.0, local.1, remote.0, remote.1, config)
    }

    /// Builds a session from explicit master keys and salts for each direction.
    pub fn new(
        profile: Profile,
        local_key: &[u8],
        local_salt: &[u8],
        remote_key: &[u8],
        remote_salt: &[u8],
        config: Config,
    ) -> Result<Self, Error> {
        Ok(Self {
            outbound: Context::new(profile, local_key, local_salt, config)?,
            inbound: Context::new(profile, remote_key, remote_salt, config)?,
        })
    }

    /// The outbound context (what we protect).
    pub fn outbound(&mut self) -> &mut Context {
        &mut self.outbound
    }

    /// The inbound context (what we unprotect).
    pub fn inbound(&mut self) -> &mut Context {
        &mut self.inbound
    }

    /// See [`Context::protect_rtp`].
    pub fn protect_rtp(&mut self, buf: &mut alloc::vec::Vec<u8>) -> Result<(), Error> {
        self.outbound.protect_rtp(buf)
    }

    /// See [`Context::protect_rtp_in_place`].
    pub fn protect_rtp_in_place(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> {
        self.outbound.protect_rtp_in_place(buf, len)
    }

    /// See [`Context::unprotect_rtp`].
    pub fn unprotect_rtp(&mut self, buf: &mut alloc::vec::Vec<u8>) -> Result<(), Error> {
        self.inbound.unprotect_rtp(buf)
    }

    /// See [`Context::unprotect_rtp_in_place`].
    pub fn unprotect_rtp_in_place(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        self.inbound.unprotect_rtp_in_place(buf)
    }

    /// See [`Context::unprotect_rtp_to`].
    pub fn unprotect_rtp_to(&mut self, src: &[u8], dst: &mut [u8]) -> Result<usize, Error> {
        self.inbound.unprotect_rtp_to(src, dst)
    }

    /// See [`Context::protect_rtcp`].
    pub fn protect_rtcp(&mut self, buf: &mut alloc::vec::Vec<u8>) -> Result<(), Error> {
        self.outbound.protect_rtcp(buf)
    }

    /// See [`Context::protect_rtcp_in_place`].
    pub fn protect_rtcp_in_place(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> {
        self.outbound.protect_rtcp_in_place(buf, len)
    }

    /// See [`Context::unprotect_rtcp`].
    pub fn unprotect_rtcp(&mut self, buf: &mut alloc::vec::Vec<u8>) -> Result<(), Error> {
        self.inbound.unprotect_rtcp(buf)
    }

    /// See [`Context::unprotect_rtcp_in_place`].
    pub fn unprotect_rtcp_in_place(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        self.inbound.unprotect_rtcp_in_place(buf)
    }
}
