//! The state cookie (RFC 9260 §5.1.3): everything needed to build the association from a COOKIE-ECHO,
//! signed with HMAC-SHA256 under a per-association secret so the INIT-ACK can be stateless.

use core::time::Duration;

use hmac::{KeyInit, Mac};
use sha2::Sha256;

use super::error::Error;
use super::wire::{be16, be32};
use crate::time::Instant;

type HmacSha256 = hmac::Hmac<Sha256>;

const VERSION: u8 = 1;
const BODY_LEN: usize = 48;
const MAC_LEN: usize = 32;
/// Encoded cookie length (a multiple of four).
pub(crate) const COOKIE_LEN: usize = BODY_LEN + MAC_LEN;

/// Feature flags carried in the cookie.
pub(crate) const F_FORWARD_TSN: u8 = 1;
pub(crate) const F_RECONFIG: u8 = 2;
pub(crate) const F_ZERO_CHECKSUM: u8 = 4;

/// The association parameters a cookie carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cookie {
    pub(crate) created: Instant,
    pub(crate) lifetime: Duration,
    pub(crate) my_tag: u32,
    pub(crate) my_initial_tsn: u32,
    pub(crate) peer_tag: u32,
    pub(crate) peer_initial_tsn: u32,
    pub(crate) peer_rwnd: u32,
    pub(crate) peer_outbound: u16,
    pub(crate) peer_max_inbound: u16,
    pub(crate) peer_features: u8,
    /// Our tag when the cookie was made for an existing association (RFC 9260 §5.2.2), else 0.
    pub(crate) local_tie_tag: u32,
    /// The peer's tag then, else 0.
    pub(crate) peer_tie_tag: u32,
}

impl Cookie {
    /// Encodes and signs the cookie.
    pub(crate) fn encode(&self, key: &[u8; 32]) -> [u8; COOKIE_LEN] {
        let mut out = [0u8; COOKIE_LEN];
        let mut w = 0;
        let mut put = |bytes: &[u8]| {
            if let Some(dst) = out.get_mut(w..w + bytes.len()) {
                dst.copy_from_slice(bytes);
            }
            w += bytes.len();
        };
        put(&[VERSION, self.peer_features, 0, 0]);
        put(&self.created.as_nanos().to_be_bytes());
        put(&u32::try_from(self.lifetime.as_millis()).unwrap_or(u32::MAX).to_be_bytes());
        put(&self.my_tag.to_be_bytes());
        put(&self.my_initial_tsn.to_be_bytes());
        put(&self.peer_tag.to_be_bytes());
        put(&self.peer_initial_tsn.to_be_bytes());
        put(&self.peer_rwnd.to_be_bytes());
        put(&self.peer_outbound.to_be_bytes());
        put(&self.peer_max_inbound.to_be_bytes());
        put(&self.local_tie_tag.to_be_bytes());
        put(&self.peer_tie_tag.to_be_bytes());
        let tag = mac(key, out.get(..BODY_LEN).unwrap_or(&[]));
        if let Some(dst) = out.get_mut(BODY_LEN..) {
            dst.copy_from_slice(&tag);
        }
        out
    }

    /// How long past its lifetime the cookie is at `now` (§5.1.5 step 3), if it is stale.
    pub(crate) fn staleness(&self, now: Instant) -> Option<Duration> {
        let age = now.saturating_duration_since(self.created);
        (age > self.lifetime).then(|| age - self.lifetime)
    }

    /// Verifies the signature of `bytes` and decodes it, without looking at its age.
    pub(crate) fn open(bytes: &[u8], key: &[u8; 32]) -> Result<Cookie, Error> {
        if bytes.len() != COOKIE_LEN {
            return Err(Error::BadCookie);
        }
        let (body, sig) = bytes.split_at(BODY_LEN);
        let mut m = <HmacSha256 as KeyInit>::new_from_slice(key).map_err(|_| Error::BadCookie)?;
        m.update(body);
        // Constant-time comparison.
        m.verify_slice(sig).map_err(|_| Error::BadCookie)?;
        if body.first() != Some(&VERSION) {
            return Err(Error::BadCookie);
        }
        let nanos = u64::from(be32(body, 4)?) << 32 | u64::from(be32(body, 8)?);
        let cookie = Cookie {
            created: Instant::from_nanos(nanos),
            lifetime: Duration::from_millis(u64::from(be32(body, 12)?)),
            my_tag: be32(body, 16)?,
            my_initial_tsn: be32(body, 20)?,
            peer_tag: be32(body, 24)?,
            peer_initial_tsn: be32(body, 28)?,
            peer_rwnd: be32(body, 32)?,
            peer_outbound: be16(body, 36)?,
            peer_max_inbound: be16(body, 38)?,
            peer_features: body.get(1).copied().unwrap_or(0),
            local_tie_tag: be32(body, 40)?,
            peer_tie_tag: be32(body, 44)?,
        };
        Ok(cookie)
    }
}

fn mac(key: &[u8; 32], body: &[u8]) -> [u8; MAC_LEN] {
    let mut out = [0u8; MAC_LEN];
    if let Ok(mut m) = <HmacSha256 as KeyInit>::new_from_slice(key) {
        m.update(body);
        out.copy_from_slice(&m.finalize().into_bytes());
    }
    out
}
