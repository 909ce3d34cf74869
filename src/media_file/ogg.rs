//! Ogg (RFC 3533) pages: the CRC, a page view, a page writer with lacing, and a reader that reassembles
//! packets from pages arriving in chunks.

use alloc::vec::Vec;

use super::OggError;
use super::ivf::{le32, le64};

const TARGET: &str = "sansrtc::media_file";

/// The capture pattern that starts every page.
pub const CAPTURE: [u8; 4] = *b"OggS";
/// Length of the fixed page header, before the segment table.
pub const PAGE_HEADER_LEN: usize = 27;
/// The longest possible page: header, 255 lacing values, 255 segments of 255 bytes.
pub const MAX_PAGE_LEN: usize = PAGE_HEADER_LEN + 255 + 255 * 255;
/// The default bound on one packet reassembled from several pages: 1 MiB (an Opus packet is at most
/// 120 ms of 1275-byte frames per stream; Ogg itself has no limit).
pub const DEFAULT_MAX_PACKET_LEN: u32 = 1 << 20;

/// Header type flag: the page's first segment continues a packet from the previous page.
pub const FLAG_CONTINUED: u8 = 0x01;
/// Header type flag: first page of a logical bitstream.
pub const FLAG_BOS: u8 = 0x02;
/// Header type flag: last page of a logical bitstream.
pub const FLAG_EOS: u8 = 0x04;

const CRC_OFFSET: usize = 22;

/// The Ogg CRC-32 (RFC 3533 §6, the libogg framing spec): polynomial 0x04c11db7, most significant bit
/// first, initial value 0, no final XOR.
const OGG_CRC_ALGORITHM: crc::Algorithm<u32> = crc::Algorithm {
    width: 32,
    poly: 0x04c1_1db7,
    init: 0,
    refin: false,
    refout: false,
    xorout: 0,
    check: 0x89a1_897f,
    residue: 0,
};

/// Slice-by-16 tables: pages are checked whole, and a byte-at-a-time table made the CRC most of the
/// reader's time.
static OGG_CRC: crc::Crc<u32, crc::Table<16>> = crc::Crc::<u32, crc::Table<16>>::new(&OGG_CRC_ALGORITHM);

/// Continues the Ogg CRC-32 over `data` from `crc` (the CRC of the bytes before).
pub fn crc32_update(crc: u32, data: &[u8]) -> u32 {
    let mut digest = OGG_CRC.digest_with_initial(crc);
    digest.update(data);
    digest.finalize()
}

/// The Ogg CRC-32 of `data` (for a page: computed with the CRC field zeroed).
pub fn crc32(data: &[u8]) -> u32 {
    crc32_update(0, data)
}

/// The CRC of a page whose CRC field (bytes 22..26) is taken as zero.
fn page_crc(page: &[u8]) -> u32 {
    let head = page.get(..CRC_OFFSET).unwrap_or_default();
    let tail = page.get(CRC_OFFSET + 4..).unwrap_or_default();
    crc32_update(crc32_update(crc32(head), &[0; 4]), tail)
}

/// One Ogg page, checked (capture pattern, version, lengths and CRC) by [`Page::parse`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page<'a> {
    bytes: &'a [u8],
}

impl<'a> Page<'a> {
    /// Parses the page at the start of `data`. [`OggError::TruncatedPage`] says how many more bytes the
    /// page announces; other errors mean these bytes are not a valid page.
    pub fn parse(data: &'a [u8]) -> Result<Self, OggError> {
        if data.len() < PAGE_HEADER_LEN {
            if !CAPTURE.starts_with(data.get(..data.len().min(4)).unwrap_or_default()) {
                return Err(OggError::BadCapture { skipped: 0 });
            }
            return Err(OggError::TruncatedPage { needed: (PAGE_HEADER_LEN - data.len()) as u64 });
        }
        if data.get(..4) != Some(&CAPTURE[..]) {
            return Err(OggError::BadCapture { skipped: 0 });
        }
        let version = data.get(4).copied().unwrap_or(0);
        if version != 0 {
            return Err(OggError::BadVersion(version));
        }
        let nsegs = usize::from(data.get(26).copied().unwrap_or(0));
        let header_len = PAGE_HEADER_LEN + nsegs;
        let Some(lacing) = data.get(PAGE_HEADER_LEN..header_len) else {
            return Err(OggError::TruncatedPage { needed: (header_len - data.len()) as u64 });
        };
        let body_len: usize = lacing.iter().map(|&l| usize::from(l)).sum();
        let len = header_len + body_len;
        let Some(bytes) = data.get(..len) else {
            return Err(OggError::TruncatedPage { needed: (len - data.len()) as u64 });
        };
        let page = Page { bytes };
        if page_crc(bytes) != le32(bytes, CRC_OFFSET) && !cfg!(fuzzing) {
            return Err(OggError::BadCrc { sequence: page.sequence() });
        }
        Ok(page)
    }

    /// The page's bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Total length of the page.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// The header type flags ([`FLAG_CONTINUED`], [`FLAG_BOS`], [`FLAG_EOS`]).
    pub fn flags(&self) -> u8 {
        self.bytes.get(5).copied().unwrap_or(0)
    }

    /// Whether the first segment continues a packet of the previous page.
    pub fn continued(&self) -> bool {
        self.flags() & FLAG_CONTINUED != 0
    }

    /// Whether this is the first page of its logical bitstream.
    pub fn bos(&self) -> bool {
        self.flags() & FLAG_BOS != 0
    }

    /// Whether this is the last page of its logical bitstream.
    pub fn eos(&self) -> bool {
        self.flags() & FLAG_EOS != 0
    }

    /// The raw granule position (-1: no packet ends on this page).
    pub fn granule(&self) -> i64 {
        le64(self.bytes, 6) as i64
    }

    /// The bitstream serial number.
    pub fn serial(&self) -> u32 {
        le32(self.bytes, 14)
    }

    /// The page sequence number.
    pub fn sequence(&self) -> u32 {
        le32(self.bytes, 18)
    }

    /// The CRC as written.
    pub fn crc(&self) -> u32 {
        le32(self.bytes, CRC_OFFSET)
    }

    /// The lacing values.
    pub fn segments(&self) -> &'a [u8] {
        let n = usize::from(self.bytes.get(26).copied().unwrap_or(0));
        self.bytes.get(PAGE_HEADER_LEN..PAGE_HEADER_LEN + n).unwrap_or_default()
    }

    /// The page body (all segments).
    pub fn body(&self) -> &'a [u8] {
        self.bytes.get(PAGE_HEADER_LEN + self.segments().len()..).unwrap_or_default()
    }
}

/// Writes packets into pages of one logical bitstream.
///
/// Packets are laced into 255-byte segments (a packet of exactly 255·n bytes ends with a 0 lacing
/// value, RFC 3533 §5); a page closes when its 255 lacing values are used (a longer packet continues on
/// the next page, flagged continued) or when [`flush`](Self::flush) is called. The first page carries
/// BOS, the one [`finish`](Self::finish) writes carries EOS. Each page's granule position is that of the
/// last packet completed on it, or -1 if none is. Pages go to a caller-owned `Vec<u8>`.
#[derive(Clone, Debug)]
pub struct PageWriter {
    serial: u32,
    sequence: u32,
    lacing: Vec<u8>,
    body: Vec<u8>,
    /// Granule of the last packet completed on the pending page.
    granule: i64,
    completed: usize,
    continued: bool,
    bos: bool,
    last_granule: i64,
}

impl PageWriter {
    /// A writer for the logical bitstream `serial`.
    pub fn new(serial: u32) -> Self {
        PageWriter {
            serial,
            sequence: 0,
            lacing: Vec::new(),
            body: Vec::new(),
            granule: -1,
            completed: 0,
            continued: false,
            bos: true,
            last_granule: 0,
        }
    }

    /// Adds a packet ending at `granule`; writes any page its lacing fills to `out`.
    pub fn write_packet(&mut self, packet: &[u8], granule: u64, out: &mut Vec<u8>) -> Result<(), OggError> {
        let granule = i64::try_from(granule).map_err(|_| OggError::Unrepresentable)?;
        let mut rest = packet;
        loop {
            if self.lacing.len() == 255 {
                self.emit(out, false);
                self.continued = true;
            }
            let n = rest.len().min(255);
            let (segment, tail) = rest.split_at(n);
            self.lacing.push(n as u8);
            self.body.extend_from_slice(segment);
            rest = tail;
            if n < 255 {
                break;
            }
        }
        self.granule = granule;
        self.completed += 1;
        Ok(())
    }

    /// Packets completed on the pending (not yet written) page.
    pub fn pending_packets(&self) -> usize {
        self.completed
    }

    /// Whether a page is pending (segments added since the last page was written).
    pub fn has_pending(&self) -> bool {
        !self.lacing.is_empty()
    }

    /// Writes the pending page, if any.
    pub fn flush(&mut self, out: &mut Vec<u8>) {
        if !self.lacing.is_empty() {
            self.emit(out, false);
        }
    }

    /// Writes the last page, flagged EOS: the pending one, or an empty page if nothing is pending.
    /// `final_granule`, if given, replaces the granule position of that page (end trimming); it must not
    /// be below the previous page's nor above the last packet's.
    pub fn finish(&mut self, final_granule: Option<u64>, out: &mut Vec<u8>) -> Result<(), OggError> {
        let last = if self.completed > 0 { self.granule } else { self.last_granule };
        let prev = if self.completed > 0 { self.last_granule } else { last };
        if let Some(g) = final_granule {
            let g = i64::try_from(g).map_err(|_| OggError::Unrepresentable)?;
            if g < prev || g > last {
                return Err(OggError::Unrepresentable);
            }
            self.granule = g;
        } else {
            self.granule = last;
        }
        self.completed = self.completed.max(1);
        self.emit(out, true);
        Ok(())
    }

    /// The sequence number the next page gets.
    pub fn next_sequence(&self) -> u32 {
        self.sequence
    }

    fn emit(&mut self, out: &mut Vec<u8>, eos: bool) {
        let granule = if self.completed > 0 { self.granule } else { -1 };
        let mut flags = 0;
        if self.continued {
            flags |= FLAG_CONTINUED;
        }
        if self.bos {
            flags |= FLAG_BOS;
        }
        if eos {
            flags |= FLAG_EOS;
        }
        let start = out.len();
        out.reserve(PAGE_HEADER_LEN + self.lacing.len() + self.body.len());
        out.extend_from_slice(&CAPTURE);
        out.push(0);
        out.push(flags);
        out.extend_from_slice(&granule.to_le_bytes());
        out.extend_from_slice(&self.serial.to_le_bytes());
        out.extend_from_slice(&self.sequence.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.push(self.lacing.len() as u8);
        out.extend_from_slice(&self.lacing);
        out.extend_from_slice(&self.body);
        let crc = page_crc(out.get(start..).unwrap_or_default());
        if let Some(field) = out.get_mut(start + CRC_OFFSET..start + CRC_OFFSET + 4) {
            field.copy_from_slice(&crc.to_le_bytes());
        }
        if granule >= 0 {
            self.last_granule = granule;
        }
        self.sequence = self.sequence.wrapping_add(1);
        self.lacing.clear();
        self.body.clear();
        self.completed = 0;
        self.continued = false;
        self.bos = false;
    }
}

/// One packet read from an Ogg stream, borrowed from the reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OggPacket<'a> {
    /// The packet.
    pub data: &'a [u8],
    /// The page's granule position, on the last packet completed on a page (and only when the page gives
    /// one, i.e. not -1).
    pub granule_position: Option<u64>,
    /// The logical bitstream's serial number.
    pub serial: u32,
    /// Sequence number of the page the packet ended on.
    pub page_sequence: u32,
    /// The packet ended on a BOS page (the first packet of a stream).
    pub bos: bool,
    /// The packet is the last one of an EOS page.
    pub eos: bool,
    /// The packet is the first completed on its page.
    pub first_on_page: bool,
    /// The packet is the last completed on its page.
    pub last_on_page: bool,
}

/// Where a completed packet lives, and what the page says of it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Slot {
    /// Range in the current page's bytes, or `None`: the reassembly buffer.
    range: Option<(usize, usize)>,
    granule: i64,
    serial: u32,
    sequence: u32,
    bos: bool,
    eos: bool,
    page_eos: bool,
    first_on_page: bool,
    last_on_page: bool,
}

impl Slot {
    pub(super) fn page_granule(&self) -> Option<u64> {
        (self.granule >= 0).then_some(self.granule as u64)
    }

    pub(super) fn page_eos(&self) -> bool {
        self.page_eos
    }

    pub(super) fn granule_position(&self) -> Option<u64> {
        (self.last_on_page && self.granule >= 0).then_some(self.granule as u64)
    }

    pub(super) fn first_on_page(&self) -> bool {
        self.first_on_page
    }

    pub(super) fn last_on_page(&self) -> bool {
        self.last_on_page
    }

    pub(super) fn bos(&self) -> bool {
        self.bos
    }

    pub(super) fn eos(&self) -> bool {
        self.eos
    }
}

/// Reads packets of one logical Ogg bitstream from bytes arriving in chunks, with bounded buffers.
///
/// The loop: [`push`](Self::push) a chunk (it takes what fits and says how much), then
/// [`poll_packet`](Self::poll_packet) until `None`, then push the rest. At the end of the input,
/// [`finish`](Self::finish) says whether it ended on a page boundary with no packet open.
///
/// Every page is checked (capture pattern, version, CRC, segment table against the bytes). A bad page is
/// reported once and skipped up to the next `OggS`; a sequence gap, or a continuation that does not
/// match, drops the packet it broke and is reported; pages of another logical stream are skipped (a new
/// stream after an EOS page, a chained file, is followed). Buffers: at most two pages of input, one page,
/// and one packet spanning pages of at most `max_packet_len` bytes.
#[derive(Clone, Debug)]
pub struct OggReader {
    buf: Vec<u8>,
    start: usize,
    base: u64,
    page: Vec<u8>,
    have_page: bool,
    /// Next lacing value of the current page, and the body offset where its segment starts.
    seg: usize,
    body_pos: usize,
    first_on_page: bool,
    partial: Vec<u8>,
    partial_open: bool,
    clear_partial: bool,
    /// Dropping the fragments of a packet whose start was lost.
    skipping: bool,
    max_packet_len: u32,
    serial: Option<u32>,
    expect_sequence: Option<u32>,
    ended: bool,
    pages: u64,
    other_stream_pages: u64,
}

impl Default for OggReader {
    fn default() -> Self {
        Self::new()
    }
}

impl OggReader {
    /// A reader with packets bounded by [`DEFAULT_MAX_PACKET_LEN`].
    pub fn new() -> Self {
        Self::with_max_packet_len(DEFAULT_MAX_PACKET_LEN)
    }

    /// A reader whose packets spanning pages are bounded by `max` bytes (a packet within one page is
    /// bounded by the page, 65,025 bytes).
    pub fn with_max_packet_len(max: u32) -> Self {
        OggReader {
            buf: Vec::new(),
            start: 0,
            base: 0,
            page: Vec::new(),
            have_page: false,
            seg: 0,
            body_pos: 0,
            first_on_page: false,
            partial: Vec::new(),
            partial_open: false,
            clear_partial: false,
            skipping: false,
            max_packet_len: max,
            serial: None,
            expect_sequence: None,
            ended: false,
            pages: 0,
            other_stream_pages: 0,
        }
    }

    /// The most input bytes the reader buffers.
    pub fn capacity(&self) -> usize {
        2 * MAX_PAGE_LEN
    }

    /// Valid pages of the followed stream read so far.
    pub fn pages(&self) -> u64 {
        self.pages
    }

    /// Pages of other logical streams skipped.
    pub fn other_stream_pages(&self) -> u64 {
        self.other_stream_pages
    }

    /// Takes bytes from the front of `data`, as many as fit, and returns how many. Poll packets before
    /// pushing again.
    pub fn push(&mut self, data: &[u8]) -> usize {
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
    /// many bytes came (0: the end of `source`).
    #[cfg(feature = "std")]
    pub fn read_from<R: std::io::Read>(&mut self, source: &mut R) -> std::io::Result<usize> {
        let room = self.compact();
        super::read_into(&mut self.buf, room, source)
    }

    /// The next packet, an error (the reader goes on after it), or `None` when more bytes are needed.
    #[must_use]
    pub fn poll_packet(&mut self) -> Option<Result<OggPacket<'_>, OggError>> {
        match self.advance()? {
            Ok(slot) => Some(Ok(OggPacket {
                data: self.slot_data(&slot),
                granule_position: slot.granule_position(),
                serial: slot.serial,
                page_sequence: slot.sequence,
                bos: slot.bos,
                eos: slot.eos,
                first_on_page: slot.first_on_page,
                last_on_page: slot.last_on_page,
            })),
            Err(e) => Some(Err(e)),
        }
    }

    /// Call at the end of the input: an error if it ended inside a page or with a packet still open.
    pub fn finish(&self) -> Result<(), OggError> {
        let rest = self.buf.get(self.start..).unwrap_or_default();
        if !rest.is_empty() {
            return Err(match Page::parse(rest) {
                Err(e) => e,
                Ok(_) => OggError::TruncatedPage { needed: 0 },
            });
        }
        if self.partial_open {
            return Err(OggError::BrokenContinuation);
        }
        Ok(())
    }

    pub(super) fn slot_data(&self, slot: &Slot) -> &[u8] {
        match slot.range {
            Some((a, b)) => self.page.get(a..b).unwrap_or_default(),
            None => &self.partial,
        }
    }

    /// Calls `f` with the first (up to two) bytes of each packet completed on the current page after
    /// the one last returned.
    pub(super) fn for_each_later_on_page(&self, mut f: impl FnMut(&[u8])) {
        let Ok(page) = Page::parse_unchecked(&self.page) else {
            return;
        };
        let (segs, body) = (page.segments(), page.body());
        let mut pos = self.body_pos;
        let mut start = pos;
        for &l in segs.get(self.seg..).unwrap_or_default() {
            pos += usize::from(l);
            if l < 255 {
                f(body.get(start..pos.min(start + 2)).unwrap_or_default());
                start = pos;
            }
        }
    }

    pub(super) fn advance(&mut self) -> Option<Result<Slot, OggError>> {
        if self.clear_partial {
            self.partial.clear();
            self.clear_partial = false;
        }
        loop {
            if self.have_page {
                match self.next_in_page() {
                    Some(r) => return Some(r),
                    None => self.have_page = false,
                }
            }
            match self.next_page()? {
                Ok(None) => {}
                Ok(Some(e)) => return Some(Err(e)),
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// The next completed packet of the current page; `None` when the page has no more.
    fn next_in_page(&mut self) -> Option<Result<Slot, OggError>> {
        let page = Page::parse_unchecked(&self.page).ok()?;
        let (segs, body) = (page.segments(), page.body());
        while self.seg < segs.len() {
            let start = self.body_pos;
            let mut len = 0usize;
            let mut complete = false;
            for &l in segs.get(self.seg..).unwrap_or_default() {
                self.seg += 1;
                len += usize::from(l);
                if l < 255 {
                    complete = true;
                    break;
                }
            }
            self.body_pos += len;
            let fragment = body.get(start..start + len).unwrap_or_default();
            if self.skipping {
                if complete {
                    self.skipping = false;
                }
                continue;
            }
            let last_on_page = !segs.get(self.seg..).unwrap_or_default().iter().any(|&l| l < 255);
            let body_offset = PAGE_HEADER_LEN + segs.len();
            if !complete || self.partial_open {
                if self.partial.len() + fragment.len() > self.max_packet_len as usize {
                    self.partial.clear();
                    self.partial_open = false;
                    self.skipping = !complete;
                    tracing::debug!(target: TARGET, max = self.max_packet_len, "Ogg packet too large, dropped");
                    return Some(Err(OggError::PacketTooLarge { max: self.max_packet_len }));
                }
                self.partial.extend_from_slice(fragment);
                self.partial_open = !complete;
                if !complete {
                    continue;
                }
                self.clear_partial = true;
            }
            let first_on_page = self.first_on_page;
            self.first_on_page = false;
            let slot = Slot {
                range: (!self.clear_partial).then_some((body_offset + start, body_offset + start + len)),
                granule: page.granule(),
                serial: page.serial(),
                sequence: page.sequence(),
                bos: page.bos(),
                eos: page.eos() && last_on_page,
                page_eos: page.eos(),
                first_on_page,
                last_on_page,
            };
            return Some(Ok(slot));
        }
        None
    }

    /// Takes the next page of the followed stream from the buffer into `page`. `None`: more bytes are
    /// needed; `Ok(None)`: a page was taken (or skipped) with nothing to report; `Ok(Some(e))`: a page was
    /// taken and `e` is to be reported before its packets; `Err(e)`: bytes were skipped.
    fn next_page(&mut self) -> Option<Result<Option<OggError>, OggError>> {
        let rest = self.buf.get(self.start..)?;
        if rest.len() < 4 {
            return None;
        }
        match Page::parse(rest) {
            Ok(page) => {
                let len = page.len();
                let (serial, sequence, continued, bos, eos) =
                    (page.serial(), page.sequence(), page.continued(), page.bos(), page.eos());
                self.page.clear();
                self.page.extend_from_slice(page.as_bytes());
                self.start += len;
                Some(Ok(self.begin_page(serial, sequence, continued, bos, eos)))
            }
            Err(OggError::TruncatedPage { .. }) => None,
            Err(e) => {
                // Resynchronise on the next capture pattern (keep a tail that may be its start).
                let from = 1;
                let skip = find_capture(rest.get(from..).unwrap_or_default())
                    .map_or(rest.len().saturating_sub(3).max(from), |i| i + from);
                self.start += skip;
                let e = match e {
                    OggError::BadCapture { .. } => OggError::BadCapture { skipped: skip as u64 },
                    other => other,
                };
                tracing::debug!(target: TARGET, offset = self.base + self.start as u64, error = ?e, "bad Ogg page");
                if self.partial_open {
                    self.partial.clear();
                    self.partial_open = false;
                }
                Some(Err(e))
            }
        }
    }

    fn begin_page(&mut self, serial: u32, sequence: u32, continued: bool, bos: bool, eos: bool) -> Option<OggError> {
        match self.serial {
            Some(s) if s == serial => {}
            Some(_) if !(self.ended && bos) => {
                self.other_stream_pages += 1;
                return None;
            }
            _ => {
                self.serial = Some(serial);
                self.expect_sequence = None;
                self.ended = false;
            }
        }
        self.pages += 1;
        self.have_page = true;
        self.seg = 0;
        self.body_pos = 0;
        self.first_on_page = true;
        self.ended |= eos;
        let mut report = None;
        match self.expect_sequence {
            Some(expected) if expected != sequence => report = Some(OggError::PageGap { expected, got: sequence }),
            _ => {}
        }
        let joined = self.expect_sequence.is_none();
        self.expect_sequence = Some(sequence.wrapping_add(1));
        if continued && !self.partial_open {
            // The start of the first packet was lost (or the stream was joined mid-packet).
            self.skipping = true;
            if report.is_none() && !joined {
                report = Some(OggError::BrokenContinuation);
            }
        } else if !continued && self.partial_open {
            self.partial.clear();
            self.partial_open = false;
            report.get_or_insert(OggError::BrokenContinuation);
        } else if continued && report.is_some() {
            // A gap: what is open does not continue here.
            self.partial.clear();
            self.partial_open = false;
            self.skipping = true;
        } else {
            self.skipping = false;
        }
        if let Some(e) = report {
            tracing::debug!(target: TARGET, sequence, error = ?e, "Ogg stream broken");
        }
        report
    }
}

impl<'a> Page<'a> {
    /// A page already checked (the reader's copy).
    fn parse_unchecked(data: &'a [u8]) -> Result<Self, OggError> {
        if data.len() < PAGE_HEADER_LEN {
            return Err(OggError::TruncatedPage { needed: (PAGE_HEADER_LEN - data.len()) as u64 });
        }
        Ok(Page { bytes: data })
    }
}

fn find_capture(data: &[u8]) -> Option<usize> {
    data.windows(4).position(|w| w == CAPTURE)
}
