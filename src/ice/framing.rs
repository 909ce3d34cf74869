//! RFC 4571 framing of ICE-TCP (RFC 6544 §3): every STUN message, DTLS record or SRTP packet travels on
//! a TCP connection behind a 16-bit big-endian length.
//!
//! The agent and the peer connection keep their datagram shape over TCP: the caller owns each
//! connection, splits the bytes it reads into frames with one [`FrameDecoder`] per connection and hands
//! each frame over as a datagram; a transmit whose source is a TCP candidate's base goes out as
//! [`frame_header`] followed by the transmit's bytes (two writes, or one vectored write: nothing is
//! copied).
//!
//! The decoder's state is bounded by its largest frame: a peer that lies about a length (a frame longer
//! than the limit) has that frame skipped as it streams by and counted, one that sends a byte at a time
//! is reassembled, one that never completes a frame holds at most `2 + max_frame` bytes.

use alloc::vec::Vec;

/// The length of the frame header.
pub const HEADER_LEN: usize = 2;

/// The largest frame RFC 4571 can describe.
pub const MAX_FRAME: usize = 65_535;

/// The header of a frame of `len` bytes; `None` past [`MAX_FRAME`].
pub fn frame_header(len: usize) -> Option<[u8; HEADER_LEN]> {
    u16::try_from(len).ok().map(u16::to_be_bytes)
}

/// Appends one frame (header and payload) to `out`; `false` (nothing appended) past [`MAX_FRAME`].
pub fn emit_frame(out: &mut Vec<u8>, payload: &[u8]) -> bool {
    let Some(h) = frame_header(payload.len()) else { return false };
    out.extend_from_slice(&h);
    out.extend_from_slice(payload);
    true
}

/// What a [`FrameDecoder`] has seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FramingStats {
    /// Whole frames returned.
    pub frames: u64,
    /// Frames whose length was over the decoder's limit: skipped, never buffered.
    pub oversized: u64,
    /// Frames of length 0 (nothing in ICE's protocols is empty): dropped.
    pub empty: u64,
    /// Bytes thrown away with oversized frames.
    pub bytes_skipped: u64,
}

/// Splits one connection's byte stream into RFC 4571 frames, with a bounded buffer of its own.
///
/// [`FrameDecoder::push`] what was read (it takes as much as fits and says how much), then
/// [`FrameDecoder::next_frame`] until `None`, then push the rest. Never fails: bad frames are dropped and
/// counted in [`FrameDecoder::stats`].
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    start: usize,
    max_frame: usize,
    /// Bytes of an oversized frame still to throw away.
    skip: usize,
    stats: FramingStats,
}

impl FrameDecoder {
    /// A decoder for frames of at most `max_frame` bytes (clamped to 1..=[`MAX_FRAME`]); it buffers at
    /// most `2 + max_frame` bytes. ICE, DTLS and SRTP over TCP fit in 1,500 to 2,048.
    pub fn new(max_frame: usize) -> Self {
        FrameDecoder {
            buf: Vec::new(),
            start: 0,
            max_frame: max_frame.clamp(1, MAX_FRAME),
            skip: 0,
            stats: FramingStats::default(),
        }
    }

    /// The largest frame taken.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Copies as much of `bytes` as fits (bytes of a skipped frame are taken and thrown away) and
    /// returns how many were taken; feed the rest after draining [`FrameDecoder::next_frame`].
    pub fn push(&mut self, bytes: &[u8]) -> usize {
        if self.start > 0 {
            self.buf.drain(..self.start.min(self.buf.len()));
            self.start = 0;
        }
        let mut taken = 0;
        if self.skip > 0 && self.buf.is_empty() {
            taken = self.skip.min(bytes.len());
            self.skip -= taken;
            self.stats.bytes_skipped += taken as u64;
        }
        let rest = bytes.get(taken..).unwrap_or_default();
        let room = (HEADER_LEN + self.max_frame).saturating_sub(self.buf.len());
        let take = rest.len().min(room);
        self.buf.extend_from_slice(rest.get(..take).unwrap_or_default());
        taken + take
    }

    /// Bytes buffered and not yet returned (a partial frame, or frames not drained yet).
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The counters.
    pub fn stats(&self) -> FramingStats {
        self.stats
    }

    /// Forgets the stream (the connection was reset or closed): the next byte starts a frame. Counters
    /// stay.
    pub fn reset(&mut self) {
        self.buf.clear();
        self.start = 0;
        self.skip = 0;
    }

    /// The next whole frame's payload, borrowed until the next call; `None` when more bytes are needed.
    pub fn next_frame(&mut self) -> Option<&[u8]> {
        loop {
            let rest = self.buf.get(self.start..).unwrap_or_default();
            if self.skip > 0 {
                let n = self.skip.min(rest.len());
                if n == 0 {
                    return None;
                }
                self.skip -= n;
                self.start += n;
                self.stats.bytes_skipped += n as u64;
                continue;
            }
            let [h0, h1, ..] = *rest else { return None };
            let len = usize::from(u16::from_be_bytes([h0, h1]));
            if len == 0 {
                self.stats.empty += 1;
                self.start += HEADER_LEN;
                tracing::trace!(target: super::TARGET, "empty RFC 4571 frame dropped");
                continue;
            }
            if len > self.max_frame {
                self.stats.oversized += 1;
                self.start += HEADER_LEN;
                self.skip = len;
                tracing::debug!(target: super::TARGET, len, max = self.max_frame, "oversized RFC 4571 frame skipped");
                continue;
            }
            if rest.len() < HEADER_LEN + len {
                return None;
            }
            let from = self.start + HEADER_LEN;
            self.start = from + len;
            self.stats.frames += 1;
            return self.buf.get(from..from + len);
        }
    }
}
