//! RTP (RFC 3550) packets and header extensions (RFC 8285).
//!
//! [`Packet`] is a zero-copy view validated once by [`Packet::new_checked`]; [`Packet::extensions`]
//! iterates the RFC 8285 elements lazily in either form, and an [`ExtensionMap`] configured from SDP
//! `a=extmap` turns them into typed [`ExtensionValue`]s (unknown ones stay raw). [`Writer`] builds
//! packets into a caller-owned `Vec`, and [`Repr`] parses and re-emits a packet byte for byte.
//!
//! [`session`] is the RTP session on top: streams by SSRC, RTCP reports, NACK and RTX, key frame
//! requests and transport-wide congestion control feedback, as a sans-IO machine.
//!
//! ```
//! use sansrtc::rtp::{ExtensionKind, ExtensionMap, ExtensionValue, Packet};
//!
//! let bytes = [
//!     0x90, 0x60, 0x00, 0x01, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x12, 0x34, // header, X set
//!     0xbe, 0xde, 0x00, 0x01, 0x10, 0xff, 0x00, 0x00, // one-byte form: ID 1, one octet (audio level)
//!     0xde, 0xad, // payload
//! ];
//! let mut map = ExtensionMap::new();
//! map.insert_uri(1, "urn:ietf:params:rtp-hdrext:ssrc-audio-level");
//! let p = Packet::new_checked(&bytes[..])?;
//! assert_eq!(p.sequence_number(), 1);
//! assert_eq!(
//!     p.extension_value(&map, ExtensionKind::AudioLevel),
//!     Some(ExtensionValue::AudioLevel { voice: true, level: 127 })
//! );
//! assert_eq!(p.payload(), [0xde, 0xad]);
//! # Ok::<(), sansrtc::rtp::Error>(())
//! ```

#![deny(clippy::indexing_slicing)]

mod error;
mod ext;
mod packet;
pub mod session;

#[cfg(test)]
mod tests;

pub use error::Error;
pub use ext::{
    Extension, ExtensionForm, ExtensionKind, ExtensionMap, ExtensionValue, Extensions, ONE_BYTE_PROFILE,
    TWO_BYTE_PROFILE,
};
pub use packet::{HEADER_LEN, Header, Packet, Repr, Writer};
