//! TURN framing: ChannelData messages (RFC 8656 §12.4) and the split of a TCP/TLS byte stream into STUN
//! messages and ChannelData (RFC 8656 §3.1, §12.6). STUN messages themselves are [`crate::stun`]'s.

#![deny(clippy::indexing_slicing)]

use alloc::vec::Vec;

use super::error::Error;
use crate::stun::{Message, is_stun};

/// Bytes of a ChannelData header: channel number and length.
pub const CHANNEL_HEADER_LEN: usize = 4;
/// The lowest channel number a client may bind (RFC 8656 §12).
pub const CHANNEL_MIN: u16 = 0x4000;
/// The highest channel number a client may bind (RFC 8656 §12).
pub const CHANNEL_MAX: u16 = 0x4FFF;
/// The largest application payload one ChannelData message carries.
pub const MAX_CHANNEL_PAYLOAD: usize = u16::MAX as usize;

/// Whether `channel` is a valid channel number (0x4000–0x4FFF).
#[inline]
pub const fn is_valid_channel(channel: u16) -> bool {
    channel >= CHANNEL_MIN && channel <= CHANNEL_MAX
}

/// Whether `datagram` looks like ChannelData: its first byte is 64–79 (RFC 7983 §7, RFC 8656 §12).
#[inline]
pub fn is_channel_data(datagram: &[u8]) -> bool {
    matches!(datagram.first(), Some(0x40..=0x4F))
}

/// `n` rounded up to a multiple of 4.
#[inline]
const fn pad4(n: usize) -> usize {
    (n + 3) & !3
}

/// A zero-copy view of a ChannelData message (RFC 8656 §12.4), validated once by
/// [`ChannelData::new_checked`]: after it succeeds no accessor can fail or panic.
///
/// Over UDP the datagram may carry padding after the data; it is ignored. A length field announcing more
/// bytes than are present is an error (the message is dropped).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelData<T: AsRef<[u8]>> {
    buffer: T,
    channel: u16,
    len: usize,
}

impl<T: AsRef<[u8]>> ChannelData<T> {
    /// Checks the header: a valid channel number and a length that fits the buffer.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let bytes = buffer.as_ref();
        let [c0, c1, l0, l1, ..] = *bytes else { return Err(Error::ChannelDataTooShort) };
        let channel = u16::from_be_bytes([c0, c1]);
        if !is_valid_channel(channel) {
            return Err(Error::InvalidChannel(channel));
        }
        let announced = u16::from_be_bytes([l0, l1]);
        let present = bytes.len() - CHANNEL_HEADER_LEN;
        if usize::from(announced) > present {
            return Err(Error::ChannelDataLength { announced, present });
        }
        Ok(ChannelData { buffer, channel, len: usize::from(announced) })
    }

    /// The channel number.
    pub fn channel(&self) -> u16 {
        self.channel
    }

    /// The application data (without padding).
    pub fn data(&self) -> &[u8] {
        self.buffer.as_ref().get(CHANNEL_HEADER_LEN..CHANNEL_HEADER_LEN + self.len).unwrap_or(&[])
    }

    /// The whole buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
}

impl<'a> ChannelData<&'a [u8]> {
    /// The application data, borrowed for the buffer's whole lifetime.
    pub fn into_data(self) -> &'a [u8] {
        self.buffer.get(CHANNEL_HEADER_LEN..CHANNEL_HEADER_LEN + self.len).unwrap_or(&[])
    }
}

/// Appends a ChannelData message to `out`: header and `data`, then zero padding to a multiple of 4 when
/// `padded` (required over TCP/TLS, RFC 8656 §12.5; optional and usually omitted over UDP).
pub fn emit_channel_data(out: &mut Vec<u8>, channel: u16, data: &[u8], padded: bool) -> Result<(), Error> {
    if !is_valid_channel(channel) {
        return Err(Error::InvalidChannel(channel));
    }
    let len = u16::try_from(data.len()).map_err(|_| Error::DataTooLong)?;
    out.extend_from_slice(&channel.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(data);
    if padded {
        out.resize(out.len() + pad4(data.len()) - data.len(), 0);
    }
    Ok(())
}

/// Writes a ChannelData message into `out` (a fixed buffer), returning its length; see
/// [`emit_channel_data`].
pub fn write_channel_data(out: &mut [u8], channel: u16, data: &[u8], padded: bool) -> Result<usize, Error> {
    if !is_valid_channel(channel) {
        return Err(Error::InvalidChannel(channel));
    }
    let len = u16::try_from(data.len()).map_err(|_| Error::DataTooLong)?;
    let total = CHANNEL_HEADER_LEN + if padded { pad4(data.len()) } else { data.len() };
    let too_small = Error::Stun(crate::stun::Error::BufferTooSmall);
    let dst = out.get_mut(..total).ok_or(too_small)?;
    let (header, rest) = dst.split_first_chunk_mut::<CHANNEL_HEADER_LEN>().ok_or(too_small)?;
    let ([c0, c1], [l0, l1]) = (channel.to_be_bytes(), len.to_be_bytes());
    *header = [c0, c1, l0, l1];
    let (body, padding) = rest.split_at_mut_checked(data.len()).ok_or(too_small)?;
    body.copy_from_slice(data);
    padding.fill(0);
    Ok(total)
}

/// One frame split out of a TURN byte stream.
#[derive(Clone, Debug)]
pub enum Frame<'a> {
    /// A whole STUN message (checked by [`Message::new_checked`]).
    Stun(Message<&'a [u8]>),
    /// A ChannelData message, padding removed.
    ChannelData {
        /// The channel number.
        channel: u16,
        /// The application data.
        data: &'a [u8],
    },
}

/// Splits the first frame off `stream` (bytes of a TCP/TLS connection, RFC 8656 §3.1): `Ok(Some((frame,
/// consumed)))` when a whole frame is there (ChannelData includes its padding in `consumed`), `Ok(None)`
/// when more bytes are needed, `Err` when framing is lost ([`Error::StreamCorrupt`]: close the
/// connection) or a STUN message is malformed (its bytes are still `consumed`-able: skip
/// [`stream_frame_len`] bytes to go on).
pub fn split_frame(stream: &[u8]) -> Result<Option<(Frame<'_>, usize)>, Error> {
    let Some(total) = stream_frame_len(stream)? else { return Ok(None) };
    let Some(bytes) = stream.get(..total) else { return Ok(None) };
    if is_channel_data(bytes) {
        let cd = ChannelData::new_checked(bytes)?;
        return Ok(Some((Frame::ChannelData { channel: cd.channel(), data: cd.into_data() }, total)));
    }
    Ok(Some((Frame::Stun(Message::new_checked(bytes)?), total)))
}

/// The length of the frame at the start of `stream` once its header is there: `Ok(None)` before that.
/// ChannelData lengths include the padding to 4 bytes that streams carry (RFC 8656 §12.5).
pub fn stream_frame_len(stream: &[u8]) -> Result<Option<usize>, Error> {
    match stream.first() {
        None => Ok(None),
        Some(0x40..=0x4F) => match *stream {
            [_, _, l0, l1, ..] => Ok(Some(CHANNEL_HEADER_LEN + pad4(usize::from(u16::from_be_bytes([l0, l1]))))),
            _ => Ok(None),
        },
        Some(b) if b & 0xC0 == 0 => {
            if stream.len() < crate::stun::wire::HEADER_LEN {
                return Ok(None);
            }
            if !is_stun(stream) {
                return Err(Error::StreamCorrupt);
            }
            Ok(crate::stun::wire::frame_len(stream))
        }
        Some(_) => Err(Error::StreamCorrupt),
    }
}

/// Appends one frame for a stream to `out`: STUN messages as they are, ChannelData padded.
pub fn emit_stream_frame(out: &mut Vec<u8>, frame: &Frame<'_>) -> Result<(), Error> {
    match frame {
        Frame::Stun(m) => {
            out.extend_from_slice(m.as_bytes());
            Ok(())
        }
        Frame::ChannelData { channel, data } => emit_channel_data(out, *channel, data, true),
    }
}

/// A decoder for a TURN byte stream with a bounded buffer of its own, for callers that read the
/// connection into short-lived buffers: [`StreamDecoder::push`] what was read (as much as fits), then
/// [`StreamDecoder::next_frame`] until `None`. Partial frames wait for more bytes; several frames per read
/// come out one by one. Once framing is lost ([`Error::StreamCorrupt`], [`Error::FrameTooLarge`]) the
/// decoder stays failed: close the connection.
#[derive(Debug)]
pub struct StreamDecoder {
    buf: Vec<u8>,
    start: usize,
    capacity: usize,
    failed: Option<Error>,
    frames: u64,
}

impl StreamDecoder {
    /// A decoder buffering at most `capacity` bytes (at least the largest frame expected; a STUN message
    /// or padded ChannelData is at most 65 560 bytes, real ones rarely above 1 500).
    pub fn new(capacity: usize) -> Self {
        StreamDecoder { buf: Vec::new(), start: 0, capacity, failed: None, frames: 0 }
    }

    /// Copies as much of `bytes` as fits and returns how many were taken; feed the rest after draining
    /// [`StreamDecoder::next_frame`].
    pub fn push(&mut self, bytes: &[u8]) -> usize {
        if self.start > 0 {
            self.buf.drain(..self.start.min(self.buf.len()));
            self.start = 0;
        }
        let take = bytes.len().min(self.capacity.saturating_sub(self.buf.len()));
        self.buf.extend_from_slice(bytes.get(..take).unwrap_or(&[]));
        take
    }

    /// Bytes buffered and not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Frames returned so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// The next whole frame, borrowed until the next call; `None` when more bytes are needed. A malformed
    /// STUN message is skipped and reported once as an `Err`; lost framing is reported on every call.
    pub fn next_frame(&mut self) -> Option<Result<Frame<'_>, Error>> {
        Some(self.next_raw()?.and_then(|bytes| split_frame(bytes)?.map(|(frame, _)| frame).ok_or(Error::StreamCorrupt)))
    }

    /// The next whole frame's bytes (ChannelData with its padding), unparsed: what a [`super::TurnClient`]
    /// takes as one datagram. Same contract as [`StreamDecoder::next_frame`], except that a malformed STUN
    /// message is returned like any other frame (the receiver rejects it).
    pub fn next_raw(&mut self) -> Option<Result<&[u8], Error>> {
        if let Some(e) = self.failed {
            return Some(Err(e));
        }
        let rest = self.buf.get(self.start..).unwrap_or(&[]);
        let total = match stream_frame_len(rest) {
            Ok(Some(total)) => total,
            Ok(None) => return None,
            Err(e) => {
                self.failed = Some(e);
                return Some(Err(e));
            }
        };
        if total > self.capacity {
            self.failed = Some(Error::FrameTooLarge);
            return Some(Err(Error::FrameTooLarge));
        }
        if rest.len() < total {
            return None;
        }
        let from = self.start;
        self.start += total;
        self.frames += 1;
        Some(Ok(self.buf.get(from..from + total).unwrap_or(&[])))
    }
}
