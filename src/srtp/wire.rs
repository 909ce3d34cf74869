//! The few header fields SRTP needs from RTP and RTCP packets, read with every length checked.

#![deny(clippy::indexing_slicing)]

use super::Error;

/// RTP fixed header length.
pub(crate) const RTP_HEADER: usize = 12;
/// RTCP header length covered by SRTCP in the clear: the first 8 octets (RFC 3711 §3.4).
pub(crate) const RTCP_HEADER: usize = 8;
/// The E flag in the SRTCP trailer word (RFC 3711 §3.4).
pub(crate) const E_FLAG: u32 = 0x8000_0000;
/// SRTCP index mask (31 bits).
pub(crate) const SRTCP_INDEX_MASK: u32 = 0x7fff_ffff;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..)?.first_chunk().map(|&x| u16::from_be_bytes(x))
}

pub(crate) fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..)?.first_chunk().map(|&x| u32::from_be_bytes(x))
}

/// What SRTP reads from an RTP header.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RtpHeader {
    pub(crate) seq: u16,
    pub(crate) ssrc: u32,
    /// Header length including CSRCs and the header extension: the start of the payload.
    pub(crate) len: usize,
}

/// Parses the RTP header of `packet` (which excludes any SRTP tag).
pub(crate) fn rtp_header(packet: &[u8]) -> Result<RtpHeader, Error> {
    let &[first, _, s0, s1, _, _, _, _, x0, x1, x2, x3] = packet.first_chunk::<RTP_HEADER>().ok_or(Error::TooShort)?;
    if first >> 6 != 2 {
        return Err(Error::Malformed);
    }
    let cc = usize::from(first & 0x0f);
    let mut len = RTP_HEADER + 4 * cc;
    if first & 0x10 != 0 {
        let words = be16(packet, len + 2).ok_or(Error::Malformed)?;
        len += 4 + 4 * usize::from(words);
    }
    if len > packet.len() {
        return Err(Error::Malformed);
    }
    Ok(RtpHeader { seq: u16::from_be_bytes([s0, s1]), ssrc: u32::from_be_bytes([x0, x1, x2, x3]), len })
}

/// Reads the sender SSRC of an RTCP packet (octets 4..8), checking the version.
pub(crate) fn rtcp_ssrc(packet: &[u8]) -> Result<u32, Error> {
    let &[first, _, _, _, x0, x1, x2, x3] = packet.first_chunk::<RTCP_HEADER>().ok_or(Error::TooShort)?;
    if first >> 6 != 2 {
        return Err(Error::Malformed);
    }
    Ok(u32::from_be_bytes([x0, x1, x2, x3]))
}
