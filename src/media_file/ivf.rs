//! IVF, the simple container of VP8, VP9 and AV1 frames that libvpx, libaom and ffmpeg read and write.
//!
//! A 32-byte file header (`DKIF`, version 0, header size, codec FourCC, width, height, time base
//! rate/scale, frame count) and then frames, each behind a 12-byte header: the frame size (u32) and its
//! presentation timestamp (u64, in time base units), all little-endian.

use alloc::vec::Vec;

use super::IvfError;

const TARGET: &str = "sansrtc::media_file";

/// Length of the file header as written.
pub const HEADER_LEN: usize = 32;
/// Length of each frame header.
pub const FRAME_HEADER_LEN: usize = 12;
/// The largest header size field the readers accept (any bytes past the 32 known ones are skipped).
pub const MAX_HEADER_LEN: u16 = 1024;
/// The default bound on one frame in [`IvfStreamReader`] and [`IvfReader`]: 16 MiB, well above any
/// real VP8/VP9/AV1 frame (a 4K AV1 key frame at a high quality is a few MiB).
pub const DEFAULT_MAX_FRAME_LEN: u32 = 16 << 20;

const FRAME_COUNT_OFFSET: usize = 24;

/// The IVF file header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IvfHeader {
    /// The codec: [`IvfHeader::VP8`], [`IvfHeader::VP9`], [`IvfHeader::AV1`], or any other FourCC.
    pub fourcc: [u8; 4],
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
    /// Time base denominator: timestamps count units of `timebase_scale / timebase_rate` seconds (for a
    /// 30 fps file usually rate 30, scale 1).
    pub timebase_rate: u32,
    /// Time base numerator.
    pub timebase_scale: u32,
    /// Frame count as written in the header (writers that stream may leave it 0 or wrong: readers do not
    /// rely on it).
    pub frame_count: u32,
}

impl IvfHeader {
    /// FourCC of VP8.
    pub const VP8: [u8; 4] = *b"VP80";
    /// FourCC of VP9.
    pub const VP9: [u8; 4] = *b"VP90";
    /// FourCC of AV1.
    pub const AV1: [u8; 4] = *b"AV01";

    /// Parses a file header from the start of `data`; returns it and the header size it announces (the
    /// offset of the first frame).
    pub fn parse(data: &[u8]) -> Result<(IvfHeader, usize), IvfError> {
        let Some(h) = data.get(..HEADER_LEN) else {
            return Err(IvfError::Truncated { offset: 0, needed: HEADER_LEN as u64 });
        };
        if h.get(..4) != Some(b"DKIF") {
            return Err(IvfError::BadSignature);
        }
        let version = le16(h, 4);
        if version != 0 {
            return Err(IvfError::BadVersion(version));
        }
        let header_len = le16(h, 6);
        if usize::from(header_len) < HEADER_LEN || header_len > MAX_HEADER_LEN {
            return Err(IvfError::BadHeaderSize(header_len));
        }
        let header = IvfHeader {
            fourcc: [byte(h, 8), byte(h, 9), byte(h, 10), byte(h, 11)],
            width: le16(h, 12),
            height: le16(h, 14),
            timebase_rate: le32(h, 16),
            timebase_scale: le32(h, 20),
            frame_count: le32(h, FRAME_COUNT_OFFSET),
        };
        Ok((header, usize::from(header_len)))
    }

    /// Appends the 32-byte header to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"DKIF");
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&(HEADER_LEN as u16).to_le_bytes());
        out.extend_from_slice(&self.fourcc);
        out.extend_from_slice(&self.width.to_le_bytes());
        out.extend_from_slice(&self.height.to_le_bytes());
        out.extend_from_slice(&self.timebase_rate.to_le_bytes());
        out.extend_from_slice(&self.timebase_scale.to_le_bytes());
        out.extend_from_slice(&self.frame_count.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
    }
}

/// One frame, borrowed from the reader's input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IvfFrame<'a> {
    /// Presentation timestamp in time base units.
    pub pts: u64,
    /// The codec frame (for AV1 a temporal unit of OBUs).
    pub data: &'a [u8],
}

/// Reads IVF frames from a buffer holding the whole file (or as much of it as there is), without copying.
///
/// An iterator of `Result<IvfFrame, IvfError>`; after an error (a frame header or frame running past the
/// end, a frame larger than the bound) it yields nothing more.
///
/// ```
/// use sansrtc::media_file::{IvfHeader, IvfReader, IvfWriter};
///
/// let header = IvfHeader { fourcc: IvfHeader::VP8, width: 320, height: 240, timebase_rate: 30,
///     timebase_scale: 1, frame_count: 0 };
/// let mut file = Vec::new();
/// let mut writer = IvfWriter::new(&header, &mut file);
/// writer.write_frame(0, &[1, 2, 3], &mut file)?;
/// writer.write_frame(1, &[4, 5], &mut file)?;
/// writer.finish(&mut file)?; // patches the frame count
///
/// let reader = IvfReader::new(&file)?;
/// assert_eq!(reader.header().frame_count, 2);
/// let frames: Vec<_> = reader.collect::<Result<_, _>>()?;
/// assert_eq!(frames[1].pts, 1);
/// assert_eq!(frames[1].data, [4, 5]);
/// # Ok::<(), sansrtc::media_file::IvfError>(())
/// ```
#[derive(Clone, Debug)]
pub struct IvfReader<'a> {
    header: IvfHeader,
    data: &'a [u8],
    pos: usize,
    max_frame_len: u32,
    failed: bool,
}

impl<'a> IvfReader<'a> {
    /// Parses the file header; frames follow through the iterator. Frames are bounded by
    /// [`DEFAULT_MAX_FRAME_LEN`].
    pub fn new(data: &'a [u8]) -> Result<Self, IvfError> {
        let (header, header_len) = IvfHeader::parse(data)?;
        if data.len() < header_len {
            return Err(IvfError::Truncated { offset: 0, needed: header_len as u64 });
        }
        Ok(IvfReader { header, data, pos: header_len, max_frame_len: DEFAULT_MAX_FRAME_LEN, failed: false })
    }

    /// Sets the bound on one frame's size.
    #[must_use]
    pub fn with_max_frame_len(mut self, max: u32) -> Self {
        self.max_frame_len = max;
        self
    }

    /// The file header.
    pub fn header(&self) -> &IvfHeader {
        &self.header
    }

    /// Offset of the next frame header.
    pub fn position(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for IvfReader<'a> {
    type Item = Result<IvfFrame<'a>, IvfError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let rest = self.data.get(self.pos..)?;
        if rest.is_empty() {
            return None;
        }
        let r = match parse_frame(rest, self.pos as u64, self.max_frame_len) {
            Ok(Some((frame, used))) => {
                self.pos += used;
                return Some(Ok(frame));
            }
            Ok(None) => {
                let needed = frame_needs(rest);
                Err(IvfError::Truncated { offset: self.pos as u64, needed })
            }
            Err(e) => Err(e),
        };
        self.failed = true;
        tracing::debug!(target: TARGET, offset = self.pos, error = ?r, "IVF read stopped");
        Some(r)
    }
}

/// Bytes the frame at the start of `rest` needs (its header, or header and body when the header is there).
fn frame_needs(rest: &[u8]) -> u64 {
    if rest.len() < FRAME_HEADER_LEN {
        FRAME_HEADER_LEN as u64
    } else {
        FRAME_HEADER_LEN as u64 + u64::from(le32(rest, 0))
    }
}

/// The frame at the start of `rest`: `Ok(None)` if `rest` does not hold all of it yet.
fn parse_frame(rest: &[u8], offset: u64, max: u32) -> Result<Option<(IvfFrame<'_>, usize)>, IvfError> {
    let Some(h) = rest.get(..FRAME_HEADER_LEN) else {
        return Ok(None);
    };
    let len = le32(h, 0);
    if len > max {
        return Err(IvfError::FrameTooLarge { offset, len });
    }
    let pts = le64(h, 4);
    let end = FRAME_HEADER_LEN + len as usize;
    match rest.get(FRAME_HEADER_LEN..end) {
        Some(data) => Ok(Some((IvfFrame { pts, data }, end))),
        None => Ok(None),
    }
}

/// Reads IVF from bytes that arrive in chunks (a socket, a file read piece by piece), with a bounded
/// buffer.
///
/// The loop: [`push`](Self::push) a chunk (it takes what fits and says how much), then
/// [`poll_frame`](Self::poll_frame) until `None`, then push the rest of the chunk or the next one. At the
/// end of the input, [`finish`](Self::finish) says whether it ended cleanly between frames. The buffer never
/// holds more than the header bound plus one frame (header and body) of at most `max_frame_len` bytes, and
/// grows only as far as the frames do; a frame header announcing more than the bound is an error, not an
/// allocation. After an error the reader yields nothing more (an IVF stream has no way to resynchronise).
///
/// ```
/// use sansrtc::media_file::{IvfHeader, IvfStreamReader, IvfWriter};
///
/// # let header = IvfHeader { fourcc: IvfHeader::VP9, width: 2, height: 2, timebase_rate: 30,
/// #     timebase_scale: 1, frame_count: 0 };
/// # let mut file = Vec::new();
/// # let mut w = IvfWriter::new(&header, &mut file);
/// # for i in 0..5 { w.write_frame(i, &[i as u8; 100], &mut file)?; }
/// let mut reader = IvfStreamReader::new();
/// let mut frames = 0;
/// for mut chunk in file.chunks(7) {
///     while !chunk.is_empty() {
///         let taken = reader.push(chunk);
///         chunk = &chunk[taken..];
///         while let Some(frame) = reader.poll_frame() {
///             let frame = frame?;
///             assert_eq!(frame.data.len(), 100);
///             frames += 1;
///         }
///     }
/// }
/// reader.finish()?;
/// assert_eq!(frames, 5);
/// # Ok::<(), sansrtc::media_file::IvfError>(())
/// ```
#[derive(Clone, Debug)]
pub struct IvfStreamReader {
    buf: Vec<u8>,
    /// Start of the unread bytes in `buf`.
    start: usize,
    /// Offset in the stream of `buf[0]`.
    base: u64,
    header: Option<IvfHeader>,
    max_frame_len: u32,
    /// The error the reader stopped on.
    error: Option<IvfError>,
}

impl Default for IvfStreamReader {
    fn default() -> Self {
        Self::new()
    }
}

impl IvfStreamReader {
    /// A reader with frames bounded by [`DEFAULT_MAX_FRAME_LEN`].
    pub fn new() -> Self {
        Self::with_max_frame_len(DEFAULT_MAX_FRAME_LEN)
    }

    /// A reader with frames bounded by `max` bytes.
    pub fn with_max_frame_len(max: u32) -> Self {
        IvfStreamReader { buf: Vec::new(), start: 0, base: 0, header: None, max_frame_len: max, error: None }
    }

    /// The most bytes the reader buffers.
    pub fn capacity(&self) -> usize {
        usize::from(MAX_HEADER_LEN).max(FRAME_HEADER_LEN + self.max_frame_len as usize)
    }

    /// The file header, once read.
    pub fn header(&self) -> Option<&IvfHeader> {
        self.header.as_ref()
    }

    /// Takes bytes from the front of `data`, as many as fit in the buffer, and returns how many. Poll
    /// frames before pushing again: a full buffer holds a whole frame. After an error it takes everything
    /// (and drops it).
    pub fn push(&mut self, data: &[u8]) -> usize {
        if self.error.is_some() {
            return data.len();
        }
        let take = self.compact().min(data.len());
        self.buf.extend_from_slice(data.get(..take).unwrap_or_default());
        take
    }

    /// Drops the bytes already read; returns the room left.
    fn compact(&mut self) -> usize {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.base += self.start as u64;
            self.start = 0;
        }
        self.capacity().saturating_sub(self.buf.len())
    }

    /// Reads once from `source` into the buffer, as [`push`](Self::push) would take it, and returns how
    /// many bytes came (0: the end of `source`). After an error of the stream it fails with
    /// `InvalidData`.
    #[cfg(feature = "std")]
    pub fn read_from<R: std::io::Read>(&mut self, source: &mut R) -> std::io::Result<usize> {
        if let Some(e) = self.error {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e));
        }
        let room = self.compact();
        super::read_into(&mut self.buf, room, source)
    }

    /// The next complete frame, an error (once), or `None` when more bytes are needed.
    #[must_use]
    pub fn poll_frame(&mut self) -> Option<Result<IvfFrame<'_>, IvfError>> {
        if self.error.is_some() {
            return None;
        }
        if self.header.is_none() {
            let rest = self.buf.get(self.start..)?;
            match IvfHeader::parse(rest) {
                Ok((header, len)) if rest.len() >= len => {
                    self.header = Some(header);
                    self.start += len;
                }
                Ok(_) | Err(IvfError::Truncated { .. }) => return None,
                Err(e) => return Some(Err(self.fail(e))),
            }
        }
        let offset = self.base + self.start as u64;
        let rest = self.buf.get(self.start..)?;
        let status = parse_frame(rest, offset, self.max_frame_len).map(|f| f.map(|(_, used)| used));
        match status {
            Ok(Some(used)) => {
                let at = self.start;
                self.start += used;
                let frame = self.buf.get(at..at + used)?;
                Some(Ok(IvfFrame { pts: le64(frame, 4), data: frame.get(FRAME_HEADER_LEN..)? }))
            }
            Ok(None) => None,
            Err(e) => Some(Err(self.fail(e))),
        }
    }

    /// Call at the end of the input: an error if it ended inside the header or a frame (or the reader
    /// failed before).
    pub fn finish(&self) -> Result<(), IvfError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let rest = self.buf.get(self.start..).unwrap_or_default();
        let offset = self.base + self.start as u64;
        if self.header.is_none() {
            return match IvfHeader::parse(rest) {
                Ok((_, len)) => Err(IvfError::Truncated { offset, needed: len as u64 }),
                Err(e) => Err(e),
            };
        }
        if rest.is_empty() { Ok(()) } else { Err(IvfError::Truncated { offset, needed: frame_needs(rest) }) }
    }

    fn fail(&mut self, e: IvfError) -> IvfError {
        tracing::debug!(target: TARGET, error = ?e, "IVF stream read stopped");
        self.error = Some(e);
        self.buf = Vec::new();
        self.start = 0;
        e
    }
}

/// Writes IVF: the header, then frames, then [`finish`](Self::finish) to patch the frame count.
///
/// Output goes to a caller-owned `Vec<u8>` (append it to a file as you go; the writer keeps no copy). A
/// caller that has already written the start of the file elsewhere patches the count with
/// [`frame_count_patch`](Self::frame_count_patch) (4 bytes at offset 24).
#[derive(Clone, Debug)]
pub struct IvfWriter {
    header: IvfHeader,
    frames: u32,
}

impl IvfWriter {
    /// Appends the file header to `out` (with `header.frame_count` as given; `finish` puts the real
    /// count there).
    pub fn new(header: &IvfHeader, out: &mut Vec<u8>) -> Self {
        header.emit(out);
        IvfWriter { header: *header, frames: 0 }
    }

    /// Appends one frame with its 12-byte header.
    pub fn write_frame(&mut self, pts: u64, frame: &[u8], out: &mut Vec<u8>) -> Result<(), IvfError> {
        let len = u32::try_from(frame.len()).map_err(|_| IvfError::Unrepresentable)?;
        let frames = self.frames.checked_add(1).ok_or(IvfError::Unrepresentable)?;
        out.reserve(FRAME_HEADER_LEN + frame.len());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&pts.to_le_bytes());
        out.extend_from_slice(frame);
        self.frames = frames;
        Ok(())
    }

    /// Frames written so far.
    pub fn frame_count(&self) -> u32 {
        self.frames
    }

    /// Where the frame count lives in the file and the bytes to write there.
    pub fn frame_count_patch(&self) -> (usize, [u8; 4]) {
        (FRAME_COUNT_OFFSET, self.frames.to_le_bytes())
    }

    /// Writes the frame count into the header at the start of `file` (the whole file, or at least its
    /// first 32 bytes). Fails if those bytes are not this writer's header.
    pub fn finish(&self, file: &mut [u8]) -> Result<(), IvfError> {
        let (header, _) = IvfHeader::parse(file).map_err(|_| IvfError::NotThisFile)?;
        let mut expected = self.header;
        expected.frame_count = header.frame_count;
        if header != expected {
            return Err(IvfError::NotThisFile);
        }
        let (at, bytes) = self.frame_count_patch();
        match file.get_mut(at..at + 4) {
            Some(slot) => {
                slot.copy_from_slice(&bytes);
                Ok(())
            }
            None => Err(IvfError::NotThisFile),
        }
    }

    /// Patches the frame count of a file written through `std::io` (seeks to offset 24, writes, and
    /// seeks back to where it was).
    #[cfg(feature = "std")]
    pub fn finish_io<W: std::io::Write + std::io::Seek>(&self, file: &mut W) -> std::io::Result<()> {
        use std::io::SeekFrom;
        let here = file.stream_position()?;
        let (at, bytes) = self.frame_count_patch();
        file.seek(SeekFrom::Start(at as u64))?;
        file.write_all(&bytes)?;
        file.seek(SeekFrom::Start(here))?;
        Ok(())
    }
}

fn byte(b: &[u8], at: usize) -> u8 {
    b.get(at).copied().unwrap_or(0)
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([byte(b, at), byte(b, at + 1)])
}

pub(super) fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([byte(b, at), byte(b, at + 1), byte(b, at + 2), byte(b, at + 3)])
}

pub(super) fn le64(b: &[u8], at: usize) -> u64 {
    u64::from(le32(b, at)) | (u64::from(le32(b, at + 4)) << 32)
}
