//! H.264 / H.265 Annex-B byte streams: NAL units split on 3- and 4-byte start codes, grouped into access
//! units (H.264 §7.4.1.2.3, H.265 §7.4.2.4.4).

use alloc::vec::Vec;

use super::AnnexBError;

const TARGET: &str = "sansrtc::media_file";

/// The default bound on one access unit in [`AnnexBReader`]: 8 MiB.
pub const DEFAULT_MAX_ACCESS_UNIT_LEN: u32 = 8 << 20;

/// Which NAL unit syntax the stream uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NalCodec {
    /// H.264 / AVC: one-byte NAL header.
    H264,
    /// H.265 / HEVC: two-byte NAL header.
    H265,
}

impl NalCodec {
    /// The NAL unit type of a NAL unit (its header's type field); 0 for an empty one.
    pub fn nal_type(self, nal: &[u8]) -> u8 {
        let b = nal.first().copied().unwrap_or(0);
        match self {
            NalCodec::H264 => b & 0x1f,
            NalCodec::H265 => (b >> 1) & 0x3f,
        }
    }

    /// Whether the NAL unit carries a slice of the primary coded picture (VCL).
    pub fn is_vcl(self, nal: &[u8]) -> bool {
        let t = self.nal_type(nal);
        match self {
            NalCodec::H264 => (1..=5).contains(&t),
            NalCodec::H265 => t <= 31 && !nal.is_empty(),
        }
    }

    /// Whether the NAL unit is a slice of a picture a decoder can start from (H.264 IDR, H.265 IRAP).
    pub fn is_random_access(self, nal: &[u8]) -> bool {
        let t = self.nal_type(nal);
        match self {
            NalCodec::H264 => t == 5,
            NalCodec::H265 => (16..=23).contains(&t),
        }
    }

    /// Bytes of a NAL unit that [`starts_access_unit`](Self::starts_access_unit) looks at.
    fn header_need(self) -> usize {
        match self {
            NalCodec::H264 => 2,
            NalCodec::H265 => 3,
        }
    }

    /// Whether `nal` begins a new access unit, given whether the current one already has a VCL NAL unit.
    ///
    /// H.264: an access unit delimiter; after a VCL NAL unit, an SPS, PPS, SEI or a type 14..=18 NAL unit,
    /// or a slice with `first_mb_in_slice` 0. H.265: an access unit delimiter; after a VCL NAL unit, a
    /// VPS, SPS, PPS, prefix SEI or a type 41..=44 / 48..=55 NAL unit, or a slice with
    /// `first_slice_segment_in_pic_flag` set.
    pub fn starts_access_unit(self, nal: &[u8], seen_vcl: bool) -> bool {
        let t = self.nal_type(nal);
        match self {
            NalCodec::H264 => match t {
                9 => true,
                6..=8 | 14..=18 => seen_vcl,
                // first_mb_in_slice is ue(v): 0 is coded as a single 1 bit.
                1..=5 => seen_vcl && nal.get(1).is_some_and(|b| b & 0x80 != 0),
                _ => false,
            },
            NalCodec::H265 => match t {
                35 => true,
                32..=34 | 39 | 41..=44 | 48..=55 => seen_vcl,
                0..=31 => seen_vcl && nal.get(2).is_some_and(|b| b & 0x80 != 0),
                _ => false,
            },
        }
    }
}

/// Offset of the next `00 00 01` at or after `from`.
fn next_start_code(data: &[u8], from: usize) -> Option<usize> {
    let mut i = from + 2;
    loop {
        let p = i + data.get(i..)?.iter().position(|&b| b == 1)?;
        if data.get(p - 2..p) == Some(&[0, 0][..]) {
            return Some(p - 2);
        }
        i = p + 1;
    }
}

/// `end` moved back over zero bytes (trailing_zero_8bits, or the zero_byte of a 4-byte start code), not
/// before `start`.
fn trim_zeros(data: &[u8], start: usize, mut end: usize) -> usize {
    while end > start && data.get(end - 1) == Some(&0) {
        end -= 1;
    }
    end
}

/// The NAL units of an Annex-B byte stream, without start codes or trailing zero bytes, borrowed.
///
/// Bytes before the first start code are skipped.
pub fn nal_units(data: &[u8]) -> NalUnits<'_> {
    NalUnits { data, next: next_start_code(data, 0) }
}

/// Iterator returned by [`nal_units`].
#[derive(Clone, Debug)]
pub struct NalUnits<'a> {
    data: &'a [u8],
    next: Option<usize>,
}

impl<'a> Iterator for NalUnits<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let start = self.next? + 3;
        self.next = next_start_code(self.data, start);
        let end = trim_zeros(self.data, start, self.next.unwrap_or(self.data.len()));
        self.data.get(start..end)
    }
}

/// One access unit (a coded picture with its parameter sets and SEI), borrowed: Annex-B bytes from its
/// first start code (`00 00 01`) to the end of its last NAL unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessUnit<'a> {
    /// The Annex-B bytes.
    pub data: &'a [u8],
    /// The NAL syntax.
    pub codec: NalCodec,
}

impl<'a> AccessUnit<'a> {
    /// Its NAL units.
    pub fn nals(&self) -> NalUnits<'a> {
        nal_units(self.data)
    }

    /// Whether it holds a picture a decoder can start from (H.264 IDR, H.265 IRAP).
    pub fn is_random_access(&self) -> bool {
        self.nals().any(|n| self.codec.is_random_access(n))
    }
}

/// The access units of an Annex-B byte stream held whole in `data`.
pub fn access_units(data: &[u8], codec: NalCodec) -> AccessUnits<'_> {
    AccessUnits { data, codec, next: next_start_code(data, 0) }
}

/// Iterator returned by [`access_units`].
#[derive(Clone, Debug)]
pub struct AccessUnits<'a> {
    data: &'a [u8],
    codec: NalCodec,
    next: Option<usize>,
}

impl<'a> Iterator for AccessUnits<'a> {
    type Item = AccessUnit<'a>;

    fn next(&mut self) -> Option<AccessUnit<'a>> {
        let start = self.next?;
        let (data, codec) = (self.data, self.codec);
        let mut sc = start;
        let mut seen_vcl = false;
        loop {
            let nal = data.get(sc + 3..).unwrap_or_default();
            if sc != start && codec.starts_access_unit(nal, seen_vcl) {
                self.next = Some(sc);
                let end = trim_zeros(data, start, sc);
                return Some(AccessUnit { data: data.get(start..end)?, codec });
            }
            seen_vcl |= codec.is_vcl(nal);
            match next_start_code(data, sc + 3) {
                Some(n) => sc = n,
                None => {
                    self.next = None;
                    let end = trim_zeros(data, start, data.len());
                    return Some(AccessUnit { data: data.get(start..end)?, codec });
                }
            }
        }
    }
}

/// Splits an Annex-B stream arriving in chunks into access units, with a bounded buffer.
///
/// The loop: [`push`](Self::push) a chunk (it takes what fits and says how much), then
/// [`poll_access_unit`](Self::poll_access_unit) until `None`, then push the rest. An access unit is
/// complete when the first NAL unit of the next one arrives; at the end of the input
/// [`finish`](Self::finish), called until `None`, gives the rest. An access unit longer than `max_access_unit_len` is
/// reported and dropped, and the reader resumes at the next access unit boundary.
///
/// ```
/// use sansrtc::media_file::{AnnexBReader, NalCodec};
///
/// // SPS, PPS, IDR slice (first_mb_in_slice 0), then a P slice of the next picture.
/// let stream = [
///     0, 0, 0, 1, 0x67, 0x42, 0, 0, 0, 1, 0x68, 0xce, 0, 0, 1, 0x65, 0x88, 0x84,
///     0, 0, 1, 0x41, 0x9a, 0x02,
/// ];
/// let mut reader = AnnexBReader::new(NalCodec::H264);
/// let mut units = Vec::new();
/// for chunk in stream.chunks(5) {
///     assert_eq!(reader.push(chunk), chunk.len());
///     while let Some(au) = reader.poll_access_unit() {
///         units.push(au?.nals().count());
///     }
/// }
/// while let Some(au) = reader.finish() {
///     units.push(au.nals().count());
/// }
/// assert_eq!(units, [3, 1]);
/// # Ok::<(), sansrtc::media_file::AnnexBError>(())
/// ```
#[derive(Clone, Debug)]
pub struct AnnexBReader {
    codec: NalCodec,
    buf: Vec<u8>,
    /// Start of the current access unit's first start code in `buf`.
    au_start: Option<usize>,
    /// Where the search for the next start code resumes.
    scan: usize,
    seen_vcl: bool,
    /// Dropping NAL units until the next access unit boundary (after an overflow).
    dropping: bool,
    /// Bytes dropped before the first start code, and whether any was not zero.
    junk: u64,
    junk_nonzero: bool,
    /// The input has ended: NAL headers are judged on the bytes there are.
    ended: bool,
    max_len: u32,
}

impl AnnexBReader {
    /// A reader bounded by [`DEFAULT_MAX_ACCESS_UNIT_LEN`].
    pub fn new(codec: NalCodec) -> Self {
        Self::with_max_access_unit_len(codec, DEFAULT_MAX_ACCESS_UNIT_LEN)
    }

    /// A reader whose access units are bounded by `max` bytes.
    pub fn with_max_access_unit_len(codec: NalCodec, max: u32) -> Self {
        AnnexBReader {
            codec,
            buf: Vec::new(),
            au_start: None,
            scan: 0,
            seen_vcl: false,
            dropping: false,
            junk: 0,
            junk_nonzero: false,
            ended: false,
            max_len: max.max(16),
        }
    }

    /// The most bytes the reader buffers.
    pub fn capacity(&self) -> usize {
        self.max_len as usize + 8
    }

    fn keep(&self) -> usize {
        self.au_start.unwrap_or(self.scan).min(self.scan)
    }

    /// Takes bytes from the front of `data`, as many as fit, and returns how many. Poll access units
    /// before pushing again.
    pub fn push(&mut self, data: &[u8]) -> usize {
        let take = self.compact().min(data.len());
        self.buf.extend_from_slice(data.get(..take).unwrap_or_default());
        take
    }

    /// Drops the bytes no longer needed; returns the room left.
    fn compact(&mut self) -> usize {
        let keep = self.keep();
        if keep > 0 {
            if self.au_start.is_none() && !self.dropping {
                let junk = self.buf.get(..keep).unwrap_or_default();
                self.junk_nonzero |= junk.iter().any(|&b| b != 0);
                self.junk += keep as u64;
            }
            self.buf.drain(..keep);
            self.scan -= keep;
            self.au_start = self.au_start.map(|a| a - keep);
        }
        self.capacity().saturating_sub(self.buf.len())
    }

    /// Reads once from `source` into the buffer, as [`push`](Self::push) would take it, and returns how
    /// many bytes came (0: the end of `source`: call [`finish`](Self::finish)).
    #[cfg(feature = "std")]
    pub fn read_from<R: std::io::Read>(&mut self, source: &mut R) -> std::io::Result<usize> {
        let room = self.compact();
        super::read_into(&mut self.buf, room, source)
    }

    /// The next complete access unit, an error (the reader goes on after it), or `None` when more bytes
    /// are needed.
    #[must_use]
    pub fn poll_access_unit(&mut self) -> Option<Result<AccessUnit<'_>, AnnexBError>> {
        let codec = self.codec;
        match self.poll_range()? {
            Ok((start, end)) => Some(Ok(AccessUnit { data: self.buf.get(start..end)?, codec })),
            Err(e) => Some(Err(e)),
        }
    }

    /// The byte range of the next complete access unit in `buf`.
    fn poll_range(&mut self) -> Option<Result<(usize, usize), AnnexBError>> {
        let codec = self.codec;
        loop {
            let Some(sc) = next_start_code(&self.buf, self.scan) else {
                self.scan = self.scan.max(self.buf.len().saturating_sub(2));
                if self.au_start.is_none() && !self.dropping {
                    // No NAL unit open yet: what was scanned precedes the first start code.
                    let junk = self.buf.get(..self.scan).unwrap_or_default();
                    self.junk_nonzero |= junk.iter().any(|&b| b != 0);
                    self.junk += junk.len() as u64;
                    self.buf.drain(..self.scan);
                    self.scan = 0;
                }
                return self.overflow().map(Err);
            };
            let header = sc + 3..(sc + 3 + codec.header_need()).min(self.buf.len());
            let (Some(nal), true) = (self.buf.get(header.clone()), self.ended || header.len() == codec.header_need())
            else {
                // Wait for the NAL header.
                self.scan = sc;
                return self.overflow().map(Err);
            };
            let (starts, vcl) = (codec.starts_access_unit(nal, self.seen_vcl), codec.is_vcl(nal));
            let starts_fresh = codec.starts_access_unit(nal, true);
            self.scan = sc + 3;
            match self.au_start {
                _ if self.dropping => {
                    if starts_fresh {
                        self.dropping = false;
                        self.au_start = Some(sc);
                        self.seen_vcl = vcl;
                    }
                }
                None => {
                    let junk = self.buf.get(..sc).unwrap_or_default();
                    let nonzero = self.junk_nonzero || junk.iter().any(|&b| b != 0);
                    let skipped = self.junk + sc as u64;
                    (self.junk, self.junk_nonzero) = (0, false);
                    self.au_start = Some(sc);
                    self.seen_vcl = vcl;
                    if nonzero {
                        tracing::debug!(target: TARGET, skipped, "bytes before the first start code");
                        return Some(Err(AnnexBError::NoStartCode { skipped }));
                    }
                }
                Some(start) if starts => {
                    self.au_start = Some(sc);
                    self.seen_vcl = vcl;
                    return Some(Ok((start, trim_zeros(&self.buf, start, sc))));
                }
                Some(_) => self.seen_vcl |= vcl,
            }
        }
    }

    /// Reports and drops the current access unit if it has reached the bound.
    fn overflow(&mut self) -> Option<AnnexBError> {
        if self.buf.len() - self.keep() < self.capacity() {
            return None;
        }
        tracing::debug!(target: TARGET, max = self.max_len, "access unit too large, dropped");
        let tail = self.buf.len().saturating_sub(2);
        self.buf.drain(..tail);
        self.scan = 0;
        self.au_start = None;
        self.dropping = true;
        Some(AnnexBError::AccessUnitTooLarge { max: self.max_len })
    }

    /// Call at the end of the input (after polling), until `None`: the access units still buffered, the
    /// last one included. After it the reader is done.
    pub fn finish(&mut self) -> Option<AccessUnit<'_>> {
        self.ended = true;
        let codec = self.codec;
        // NAL units too short to have been judged before the end may still start access units.
        loop {
            match self.poll_range() {
                Some(Ok((start, end))) => return Some(AccessUnit { data: self.buf.get(start..end)?, codec }),
                Some(Err(_)) => {}
                None => break,
            }
        }
        if self.dropping {
            return None;
        }
        let start = self.au_start.take()?;
        let end = trim_zeros(&self.buf, start, self.buf.len());
        self.scan = self.buf.len();
        Some(AccessUnit { data: self.buf.get(start..end)?, codec })
    }
}
