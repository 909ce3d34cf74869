//! DCEP messages (RFC 8832 §5) and the PPIDs of RFC 8831 §8.

#![deny(clippy::indexing_slicing)]

use alloc::vec::Vec;

use super::error::Error;

/// PPID of DCEP messages.
pub const PPID_DCEP: u32 = 50;
/// PPID of a UTF-8 string message.
pub const PPID_STRING: u32 = 51;
/// PPID of a binary message.
pub const PPID_BINARY: u32 = 53;
/// PPID of an empty string message (carried as one zero byte).
pub const PPID_STRING_EMPTY: u32 = 56;
/// PPID of an empty binary message (carried as one zero byte).
pub const PPID_BINARY_EMPTY: u32 = 57;

/// DATA_CHANNEL_OPEN message type.
pub const MSG_OPEN: u8 = 0x03;
/// DATA_CHANNEL_ACK message type.
pub const MSG_ACK: u8 = 0x02;

/// Channel types (RFC 8832 §5.1).
pub mod channel_type {
    /// Reliable, ordered.
    pub const RELIABLE: u8 = 0x00;
    /// Reliable, unordered.
    pub const RELIABLE_UNORDERED: u8 = 0x80;
    /// Partially reliable by retransmissions, ordered.
    pub const REXMIT: u8 = 0x01;
    /// Partially reliable by retransmissions, unordered.
    pub const REXMIT_UNORDERED: u8 = 0x81;
    /// Partially reliable by lifetime, ordered.
    pub const TIMED: u8 = 0x02;
    /// Partially reliable by lifetime, unordered.
    pub const TIMED_UNORDERED: u8 = 0x82;
}

/// A decoded DCEP message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dcep<'a> {
    /// DATA_CHANNEL_OPEN.
    Open {
        /// Channel type.
        channel_type: u8,
        /// Priority.
        priority: u16,
        /// Retransmissions or lifetime in milliseconds, by channel type.
        reliability: u32,
        /// Label (UTF-8).
        label: &'a str,
        /// Sub-protocol (UTF-8).
        protocol: &'a str,
    },
    /// DATA_CHANNEL_ACK.
    Ack,
}

impl<'a> Dcep<'a> {
    /// Decodes a DCEP message, checking every length against the buffer.
    pub fn parse(b: &'a [u8]) -> Result<Self, Error> {
        match b.first() {
            Some(&MSG_ACK) => Ok(Dcep::Ack),
            Some(&MSG_OPEN) => {
                let (&[_, channel_type, p0, p1, r0, r1, r2, r3, l0, l1, n0, n1], rest) =
                    b.split_first_chunk::<12>().ok_or(Error::BadDcep)?;
                let label_len = usize::from(u16::from_be_bytes([l0, l1]));
                let proto_len = usize::from(u16::from_be_bytes([n0, n1]));
                let (label, rest) = rest.split_at_checked(label_len).ok_or(Error::BadDcep)?;
                let protocol = rest.get(..proto_len).ok_or(Error::BadDcep)?;
                Ok(Dcep::Open {
                    channel_type,
                    priority: u16::from_be_bytes([p0, p1]),
                    reliability: u32::from_be_bytes([r0, r1, r2, r3]),
                    label: core::str::from_utf8(label).map_err(|_| Error::BadDcep)?,
                    protocol: core::str::from_utf8(protocol).map_err(|_| Error::BadDcep)?,
                })
            }
            _ => Err(Error::BadDcep),
        }
    }

    /// Appends the encoded message to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        match *self {
            Dcep::Ack => out.push(MSG_ACK),
            Dcep::Open { channel_type, priority, reliability, label, protocol } => {
                let l = u16::try_from(label.len()).map_err(|_| Error::LabelTooLong)?;
                let p = u16::try_from(protocol.len()).map_err(|_| Error::LabelTooLong)?;
                out.push(MSG_OPEN);
                out.push(channel_type);
                out.extend_from_slice(&priority.to_be_bytes());
                out.extend_from_slice(&reliability.to_be_bytes());
                out.extend_from_slice(&l.to_be_bytes());
                out.extend_from_slice(&p.to_be_bytes());
                out.extend_from_slice(label.as_bytes());
                out.extend_from_slice(protocol.as_bytes());
            }
        }
        Ok(())
    }
}
