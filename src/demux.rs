//! First-byte demultiplexing of one UDP socket shared by STUN, TURN channels, DTLS and SRTP/SRTCP
//! (RFC 7983 §7, which updates RFC 5764 §5.1.2).
//!
//! A WebRTC peer connection receives everything on one 5-tuple. The first byte of a datagram says which
//! protocol it belongs to:
//!
//! | first byte | protocol |
//! | --- | --- |
//! | 0–3 | STUN |
//! | 16–19 | ZRTP |
//! | 20–63 | DTLS |
//! | 64–79 | TURN ChannelData |
//! | 128–191 | RTP or RTCP |
//! | anything else | unknown: drop it |
//!
//! RTP and RTCP muxed on one port (RFC 5761 §4) are told apart by the second byte: RTCP packet types
//! 192–223 fall where an RTP byte would hold the marker bit set and a payload type of 64–95, which RFC 5761
//! forbids for RTP.
//!
//! [`classify`] reads at most two bytes, allocates nothing and never panics.
//!
//! ```
//! use sansrtc::demux::{classify, PacketKind};
//!
//! assert_eq!(classify(&[0x00, 0x01, 0x00, 0x00]), PacketKind::Stun);
//! assert_eq!(classify(&[22, 0xfe, 0xfd]), PacketKind::Dtls);
//! assert_eq!(classify(&[0x80, 0x6f]), PacketKind::Rtp);
//! assert_eq!(classify(&[0x81, 200]), PacketKind::Rtcp);
//! assert_eq!(classify(&[]), PacketKind::Unknown);
//! ```

/// What a datagram is, judged by its first byte (and, for RTP/RTCP, its second).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PacketKind {
    /// First byte 0–3: a STUN message (RFC 8489), for ICE or TURN control.
    Stun,
    /// First byte 16–19: ZRTP (RFC 6189). WebRTC does not use it; callers drop it.
    Zrtp,
    /// First byte 20–63: a DTLS record (RFC 6347 content types 20–25 and the DTLS 1.3 unified header).
    Dtls,
    /// First byte 64–79: TURN ChannelData (RFC 8656 §12), channel numbers 0x4000–0x4FFF.
    TurnChannel,
    /// First byte 128–191 with a second byte outside 192–223: (S)RTP.
    Rtp,
    /// First byte 128–191 with a second byte 192–223: (S)RTCP (RFC 5761 §4).
    Rtcp,
    /// Empty, or a first byte in no range above (4–15, 80–127, 192–255), or RTP/RTCP shorter than
    /// two bytes.
    Unknown,
}

/// Classifies a datagram by its leading bytes (RFC 7983 §7, RFC 5761 §4). O(1), no allocation.
#[must_use]
pub fn classify(datagram: &[u8]) -> PacketKind {
    let Some(&first) = datagram.first() else {
        return PacketKind::Unknown;
    };
    match first {
        0..=3 => PacketKind::Stun,
        16..=19 => PacketKind::Zrtp,
        20..=63 => PacketKind::Dtls,
        64..=79 => PacketKind::TurnChannel,
        128..=191 => match datagram.get(1) {
            Some(192..=223) => PacketKind::Rtcp,
            Some(_) => PacketKind::Rtp,
            None => PacketKind::Unknown,
        },
        _ => PacketKind::Unknown,
    }
}

impl PacketKind {
    /// True for [`PacketKind::Rtp`] and [`PacketKind::Rtcp`], which share one SRTP context pair.
    #[must_use]
    pub fn is_rtp_or_rtcp(self) -> bool {
        matches!(self, Self::Rtp | Self::Rtcp)
    }
}

#[cfg(test)]
mod tests {
    use super::{PacketKind, classify};

    /// The expected kind for a first byte, written as the RFC 7983 table rather than as the match above.
    fn expected(first: u8, second: u8) -> PacketKind {
        let b = u32::from(first);
        if b < 4 {
            PacketKind::Stun
        } else if (16..20).contains(&b) {
            PacketKind::Zrtp
        } else if (20..64).contains(&b) {
            PacketKind::Dtls
        } else if (64..80).contains(&b) {
            PacketKind::TurnChannel
        } else if (128..192).contains(&b) {
            if (192..224).contains(&u32::from(second)) { PacketKind::Rtcp } else { PacketKind::Rtp }
        } else {
            PacketKind::Unknown
        }
    }

    #[test]
    fn every_first_byte() {
        for first in 0..=255u8 {
            for second in [0u8, 0x6f, 191, 192, 200, 223, 224, 255] {
                assert_eq!(classify(&[first, second]), expected(first, second), "{first} {second}");
            }
        }
    }

    #[test]
    fn boundaries() {
        let cases: &[(u8, PacketKind)] = &[
            (0, PacketKind::Stun),
            (3, PacketKind::Stun),
            (4, PacketKind::Unknown),
            (15, PacketKind::Unknown),
            (16, PacketKind::Zrtp),
            (19, PacketKind::Zrtp),
            (20, PacketKind::Dtls),
            (63, PacketKind::Dtls),
            (64, PacketKind::TurnChannel),
            (79, PacketKind::TurnChannel),
            (80, PacketKind::Unknown),
            (127, PacketKind::Unknown),
            (128, PacketKind::Rtp),
            (191, PacketKind::Rtp),
            (192, PacketKind::Unknown),
            (255, PacketKind::Unknown),
        ];
        for &(first, kind) in cases {
            assert_eq!(classify(&[first, 0]), kind, "first byte {first}");
        }
    }

    #[test]
    fn rtcp_by_second_byte() {
        assert_eq!(classify(&[0x80, 191]), PacketKind::Rtp);
        assert_eq!(classify(&[0x80, 192]), PacketKind::Rtcp);
        assert_eq!(classify(&[0x80, 200]), PacketKind::Rtcp); // SR
        assert_eq!(classify(&[0x81, 201]), PacketKind::Rtcp); // RR
        assert_eq!(classify(&[0x8f, 206]), PacketKind::Rtcp); // PSFB
        assert_eq!(classify(&[0xbf, 223]), PacketKind::Rtcp);
        assert_eq!(classify(&[0x80, 224]), PacketKind::Rtp); // marker + PT 96
        assert_eq!(classify(&[0x80, 111]), PacketKind::Rtp); // opus
        assert!(PacketKind::Rtcp.is_rtp_or_rtcp());
        assert!(!PacketKind::Dtls.is_rtp_or_rtcp());
    }

    #[test]
    fn short_datagrams() {
        assert_eq!(classify(&[]), PacketKind::Unknown);
        assert_eq!(classify(&[0]), PacketKind::Stun);
        assert_eq!(classify(&[22]), PacketKind::Dtls);
        assert_eq!(classify(&[0x40]), PacketKind::TurnChannel);
        // RTP/RTCP cannot be told apart from one byte.
        assert_eq!(classify(&[0x80]), PacketKind::Unknown);
    }
}
