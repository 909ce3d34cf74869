//! Data channel errors.

use core::fmt;

use crate::sctp::SendError;

/// Why a data channel call was refused, or why a DCEP message was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The association is not established.
    NotConnected,
    /// No channel has this id.
    NoSuchChannel,
    /// The channel is closing or closed.
    ChannelClosed,
    /// A channel already uses this stream id.
    IdInUse,
    /// Every stream id of our parity is in use.
    NoFreeStream,
    /// Label or protocol longer than 65535 bytes.
    LabelTooLong,
    /// The association refused the message.
    Send(SendError),
    /// A DCEP message (RFC 8832 §5) was malformed: too short, lengths beyond its end, or not UTF-8.
    BadDcep,
    /// A DATA_CHANNEL_OPEN used a stream id of our parity (RFC 8832 §6) or one already open.
    BadStreamId,
    /// A message for a stream with no channel, or with an unknown PPID.
    UnexpectedMessage,
}

impl From<SendError> for Error {
    fn from(e: SendError) -> Self {
        Error::Send(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotConnected => f.write_str("association not established"),
            Error::NoSuchChannel => f.write_str("no such data channel"),
            Error::ChannelClosed => f.write_str("data channel closed"),
            Error::IdInUse => f.write_str("stream id already in use"),
            Error::NoFreeStream => f.write_str("no free stream id"),
            Error::LabelTooLong => f.write_str("label or protocol too long"),
            Error::Send(e) => write!(f, "send refused: {e}"),
            Error::BadDcep => f.write_str("malformed DCEP message"),
            Error::BadStreamId => f.write_str("DATA_CHANNEL_OPEN on a stream id of the wrong parity or in use"),
            Error::UnexpectedMessage => f.write_str("message for no channel or with an unknown PPID"),
        }
    }
}

impl core::error::Error for Error {}
