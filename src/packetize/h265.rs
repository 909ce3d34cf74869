//! H.265/HEVC over RTP (RFC 7798), without decoding order numbers (`sprop-max-don-diff` = 0: no DONL or
//! DOND fields).
//!
//! Every payload opens with a two-byte header shaped like a NAL unit header (section 1.1.4):
//!
//! ```text
//! +---------------+---------------+
//! |F|   Type    |  LayerId  | TID |
//! +-------------+-----------------+
//! ```
//!
//! A payload is one of: a single NAL unit (section 4.4.1, Type 0..=47); an aggregation packet (AP,
//! Type 48, section 4.4.2): two or more NAL units each preceded by a 16-bit size; a fragmentation unit (FU,
//! Type 49, section 4.4.3): a one-byte FU header `|S|E| FuType |` and a piece of one NAL unit's payload.
//! [`Packet::parse`] reads a payload without copying ([`AggregatedNals`] iterates over an AP's units).
//!
//! [`H265Packetizer`] takes an access unit in Annex-B byte-stream format (start codes), sends NAL units
//! that fit alone or aggregated, fragments the others, and puts the last VPS, SPS and PPS it saw ahead of
//! an IRAP picture that comes without them. [`H265Depacketizer`] writes Annex-B back, each NAL unit after a
//! four-byte start code, and reassembles fragmented NAL units up to a bound.

use alloc::vec::Vec;

use super::{DepacketizeError, Depacketizer, PacketizeError, Packetizer, Payload, PayloadInfo};

const TARGET: &str = "sansrtc::packetize";

/// NAL unit types (H.265 table 7-1) and the RTP payload types (RFC 7798) the code refers to.
pub mod nal_type {
    /// First IRAP type (BLA_W_LP).
    pub const BLA_W_LP: u8 = 16;
    /// Last IRAP type (reserved IRAP, RSV_IRAP_VCL23 is 23; 16..=21 are the defined ones).
    pub const CRA_NUT: u8 = 21;
    /// Video parameter set.
    pub const VPS: u8 = 32;
    /// Sequence parameter set.
    pub const SPS: u8 = 33;
    /// Picture parameter set.
    pub const PPS: u8 = 34;
    /// Access unit delimiter.
    pub const AUD: u8 = 35;
    /// Prefix SEI.
    pub const PREFIX_SEI: u8 = 39;
    /// Aggregation packet (RFC 7798 section 4.4.2).
    pub const AP: u8 = 48;
    /// Fragmentation unit (RFC 7798 section 4.4.3).
    pub const FU: u8 = 49;
    /// PACI packet (RFC 7798 section 4.4.4).
    pub const PACI: u8 = 50;
}

/// The largest NAL unit the depacketizer reassembles from FUs unless told otherwise.
pub const DEFAULT_MAX_FRAGMENTED_NAL: usize = 4 << 20;

/// The largest parameter set the packetizer keeps for repeating ahead of IRAP pictures.
const MAX_CACHED_PARAMETER_SET: usize = 4096;

const START_CODE: [u8; 4] = [0, 0, 0, 1];

/// A two-byte NAL unit (or payload) header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NalHeader(pub [u8; 2]);

impl NalHeader {
    /// The header at the start of `buf`.
    pub fn parse(buf: &[u8]) -> Result<NalHeader, DepacketizeError> {
        match buf {
            [] => Err(DepacketizeError::Empty),
            [_] => Err(DepacketizeError::Truncated),
            [a, b, ..] => Ok(NalHeader([*a, *b])),
        }
    }

    /// `forbidden_zero_bit` (F).
    pub fn forbidden(&self) -> bool {
        self.0[0] & 0x80 != 0
    }

    /// `nal_unit_type` (Type).
    pub fn nal_type(&self) -> u8 {
        (self.0[0] >> 1) & 0x3f
    }

    /// `nuh_layer_id` (LayerId).
    pub fn layer_id(&self) -> u8 {
        ((self.0[0] & 0x01) << 5) | (self.0[1] >> 3)
    }

    /// `nuh_temporal_id_plus1` (TID); 0 is invalid.
    pub fn tid(&self) -> u8 {
        self.0[1] & 0x07
    }

    /// An intra random access point picture (types 16..=21).
    pub fn is_irap(&self) -> bool {
        (nal_type::BLA_W_LP..=nal_type::CRA_NUT).contains(&self.nal_type())
    }

    /// A VPS, SPS or PPS.
    pub fn is_parameter_set(&self) -> bool {
        (nal_type::VPS..=nal_type::PPS).contains(&self.nal_type())
    }

    fn with_type(self, t: u8) -> NalHeader {
        NalHeader([(self.0[0] & 0x81) | (t << 1), self.0[1]])
    }
}

/// A parsed H.265 RTP payload, borrowed.
#[derive(Debug, Clone)]
pub enum Packet<'a> {
    /// One whole NAL unit, header included.
    Single(&'a [u8]),
    /// An aggregation packet: its NAL units.
    Aggregation(AggregatedNals<'a>),
    /// A fragmentation unit.
    Fragment {
        /// The fragmented NAL unit's header (FuType in the payload header's F, LayerId and TID).
        header: NalHeader,
        /// S: the first fragment.
        start: bool,
        /// E: the last fragment.
        end: bool,
        /// The piece of the NAL unit's payload (after its header).
        data: &'a [u8],
    },
}

impl<'a> Packet<'a> {
    /// Parses a payload.
    ///
    /// [`DepacketizeError::Malformed`] for TID 0, an FU with both S and E or with an aggregation or
    /// fragmentation FuType, or an empty FU payload; [`DepacketizeError::Unsupported`] for PACI and the
    /// unspecified types 51..=63. AP units are checked as they are iterated.
    pub fn parse(payload: &'a [u8]) -> Result<(NalHeader, Packet<'a>), DepacketizeError> {
        let header = NalHeader::parse(payload)?;
        if header.tid() == 0 {
            return Err(DepacketizeError::Malformed);
        }
        let body = payload.get(2..).unwrap_or_default();
        let packet = match header.nal_type() {
            nal_type::AP => Packet::Aggregation(AggregatedNals { rest: body, index: 0 }),
            nal_type::FU => {
                let (&fu, data) = body.split_first().ok_or(DepacketizeError::Truncated)?;
                let (start, end, fu_type) = (fu & 0x80 != 0, fu & 0x40 != 0, fu & 0x3f);
                if (start && end) || (nal_type::AP..=nal_type::PACI).contains(&fu_type) || data.is_empty() {
                    return Err(DepacketizeError::Malformed);
                }
                Packet::Fragment { header: header.with_type(fu_type), start, end, data }
            }
            nal_type::PACI.. => return Err(DepacketizeError::Unsupported),
            _ => Packet::Single(payload),
        };
        Ok((header, packet))
    }
}

/// The NAL units of an aggregation packet, in order, borrowed. Fewer than two units, a zero or short
/// size, a size past the end, or a nested AP/FU is an error; after an error the iterator ends.
#[derive(Debug, Clone)]
pub struct AggregatedNals<'a> {
    rest: &'a [u8],
    index: usize,
}

impl<'a> AggregatedNals<'a> {
    fn parse_one(&mut self) -> Result<&'a [u8], DepacketizeError> {
        let [a, b, rest @ ..] = self.rest else { return Err(DepacketizeError::BadLength) };
        let size = usize::from(u16::from_be_bytes([*a, *b]));
        let (nal, rest) = rest.split_at_checked(size).ok_or(DepacketizeError::BadLength)?;
        let header = NalHeader::parse(nal).map_err(|_| DepacketizeError::Malformed)?;
        if (nal_type::AP..=nal_type::PACI).contains(&header.nal_type()) || header.tid() == 0 {
            return Err(DepacketizeError::Malformed);
        }
        self.rest = rest;
        Ok(nal)
    }
}

impl<'a> Iterator for AggregatedNals<'a> {
    type Item = Result<&'a [u8], DepacketizeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            if self.index < 2 {
                // An AP carries at least two units.
                self.index = 2;
                return Some(Err(DepacketizeError::Malformed));
            }
            return None;
        }
        self.index += 1;
        let r = self.parse_one();
        if r.is_err() {
            (self.rest, self.index) = (&[], 2);
        }
        Some(r)
    }
}

/// Iterates over the NAL units of an Annex-B byte stream (H.265 annex B): the bytes between start codes
/// (`00 00 01`, or `00 00 00 01`), trailing zero bytes removed, empty units skipped. Bytes before the first
/// start code are skipped.
#[derive(Debug, Clone)]
pub struct AnnexB<'a> {
    rest: &'a [u8],
}

impl<'a> AnnexB<'a> {
    /// Iterates over the NAL units of `stream`.
    pub fn new(stream: &'a [u8]) -> Self {
        let rest = find_start_code(stream).map_or(&[][..], |(_, end)| stream.get(end..).unwrap_or_default());
        AnnexB { rest }
    }
}

/// The first `00 00 01` in `buf`: where it starts and where it ends.
fn find_start_code(buf: &[u8]) -> Option<(usize, usize)> {
    buf.windows(3).position(|w| w == [0, 0, 1]).map(|i| (i, i + 3))
}

impl<'a> Iterator for AnnexB<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        while !self.rest.is_empty() {
            let (nal, rest) = match find_start_code(self.rest) {
                Some((s, e)) => (self.rest.get(..s).unwrap_or_default(), self.rest.get(e..).unwrap_or_default()),
                None => (self.rest, &[][..]),
            };
            self.rest = rest;
            let end = nal.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            if end > 0 {
                return nal.get(..end);
            }
        }
        None
    }
}

/// Where a NAL unit to send comes from.
#[derive(Debug, Clone, Copy)]
enum Source {
    Frame(usize, usize),
    Cached(usize),
}

/// Packs H.265 access units (Annex-B) into RTP payloads: single NAL units, APs of consecutive small
/// units, FUs for units larger than the payload.
///
/// It remembers the last VPS, SPS and PPS (up to 4 KiB each) and, when an access unit with an IRAP
/// picture lacks one of them, sends the remembered one ahead of the IRAP picture and its prefix SEI
/// (keeping VPS, SPS, PPS in that order), so that a receiver joining at any IRAP can decode.
#[derive(Debug, Default)]
pub struct H265Packetizer {
    parameter_sets: [Vec<u8>; 3],
    nals: Vec<Source>,
    buf: Vec<u8>,
}

impl H265Packetizer {
    /// A packetizer with no parameter sets remembered.
    pub fn new() -> Self {
        Self::default()
    }

    fn collect(&mut self, frame: &[u8]) -> Result<(), PacketizeError> {
        self.nals.clear();
        let base = frame.as_ptr() as usize;
        let (mut seen, mut irap) = ([false; 3], false);
        for nal in AnnexB::new(frame) {
            let header = NalHeader::parse(nal).map_err(|_| PacketizeError::BadFrame)?;
            if header.tid() == 0 || header.nal_type() >= nal_type::AP {
                return Err(PacketizeError::BadFrame);
            }
            if header.is_parameter_set() {
                let i = usize::from(header.nal_type() - nal_type::VPS);
                if let (Some(s), Some(cache)) = (seen.get_mut(i), self.parameter_sets.get_mut(i)) {
                    *s = true;
                    if nal.len() <= MAX_CACHED_PARAMETER_SET {
                        cache.clear();
                        cache.extend_from_slice(nal);
                    }
                }
            }
            irap |= header.is_irap();
            let start = nal.as_ptr() as usize - base;
            self.nals.push(Source::Frame(start, start + nal.len()));
        }
        if irap {
            // Each missing set goes ahead of the first later set, prefix SEI or IRAP unit: VPS, SPS, PPS stay
            // in order, and ahead of SEI messages that may refer to them.
            for (i, &seen) in seen.iter().enumerate() {
                if seen || self.parameter_sets.get(i).is_none_or(|p| p.is_empty()) {
                    continue;
                }
                let kind = nal_type::VPS + i as u8;
                let at = self.nals.iter().position(|&s| {
                    NalHeader::parse(source(s, frame, &self.parameter_sets)).is_ok_and(|h| {
                        let t = h.nal_type();
                        h.is_irap() || t == nal_type::PREFIX_SEI || (kind < t && t <= nal_type::PPS)
                    })
                });
                tracing::trace!(target: TARGET, nal_type = kind, "parameter set repeated ahead of IRAP");
                self.nals.insert(at.unwrap_or(0), Source::Cached(i));
            }
        }
        if self.nals.is_empty() { Err(PacketizeError::BadFrame) } else { Ok(()) }
    }
}

fn source<'x>(s: Source, frame: &'x [u8], cache: &'x [Vec<u8>; 3]) -> &'x [u8] {
    match s {
        Source::Frame(a, b) => frame.get(a..b).unwrap_or_default(),
        Source::Cached(i) => cache.get(i).map_or(&[][..], |v| &v[..]),
    }
}

impl Packetizer for H265Packetizer {
    fn packetize(
        &mut self,
        frame: &[u8],
        max_payload: usize,
        emit: &mut dyn FnMut(Payload<'_>),
    ) -> Result<usize, PacketizeError> {
        if max_payload < 4 {
            return Err(PacketizeError::MtuTooSmall);
        }
        self.collect(frame)?;
        let (nals, cache) = (&self.nals, &self.parameter_sets);
        let mut count = 0;
        let mut i = 0;
        while let Some(&s) = nals.get(i) {
            let nal = source(s, frame, cache);
            let header = NalHeader::parse(nal).map_err(|_| PacketizeError::BadFrame)?;
            if nal.len() > max_payload {
                let mut data = nal.get(2..).unwrap_or_default();
                let payload_header = header.with_type(nal_type::FU);
                let mut first = true;
                while !data.is_empty() {
                    let (chunk, rest) = data.split_at((max_payload - 3).min(data.len()));
                    let fu = (u8::from(first) << 7) | (u8::from(rest.is_empty()) << 6) | header.nal_type();
                    self.buf.clear();
                    self.buf.extend_from_slice(&payload_header.0);
                    self.buf.push(fu);
                    self.buf.extend_from_slice(chunk);
                    (data, first) = (rest, false);
                    count += 1;
                    emit(Payload { data: &self.buf, marker: data.is_empty() && i + 1 == nals.len() });
                }
                i += 1;
                continue;
            }
            // As many following units as fit one AP (at least two), else the unit alone.
            let (mut j, mut size) = (i, 2);
            while let Some(&t) = nals.get(j) {
                let n = source(t, frame, cache).len();
                if size + 2 + n > max_payload {
                    break;
                }
                (size, j) = (size + 2 + n, j + 1);
            }
            if j - i >= 2 {
                let (mut f, mut layer, mut tid) = (0u8, u8::MAX, u8::MAX);
                self.buf.clear();
                self.buf.extend_from_slice(&[0, 0]);
                for &t in nals.get(i..j).unwrap_or_default() {
                    let unit = source(t, frame, cache);
                    let h = NalHeader::parse(unit).map_err(|_| PacketizeError::BadFrame)?;
                    (f, layer, tid) = (f | (h.0[0] & 0x80), layer.min(h.layer_id()), tid.min(h.tid()));
                    self.buf.extend_from_slice(&(unit.len() as u16).to_be_bytes());
                    self.buf.extend_from_slice(unit);
                }
                if let [b0, b1, ..] = &mut self.buf[..] {
                    (*b0, *b1) = (f | (nal_type::AP << 1) | (layer >> 5), (layer << 3) | tid);
                }
                i = j;
            } else {
                self.buf.clear();
                self.buf.extend_from_slice(nal);
                i += 1;
            }
            count += 1;
            emit(Payload { data: &self.buf, marker: i == nals.len() });
        }
        Ok(count)
    }
}

/// Writes Annex-B back from H.265 payloads: each NAL unit after `00 00 00 01`. A fragmented NAL unit is
/// held until its last FU (up to a bound, [`DEFAULT_MAX_FRAGMENTED_NAL`] by default); an FU without its
/// start, or a run past the bound, is [`DepacketizeError::BadFragment`].
#[derive(Debug)]
pub struct H265Depacketizer {
    fragment: Vec<u8>,
    in_fragment: bool,
    max_fragment: usize,
    errors: u64,
}

impl Default for H265Depacketizer {
    fn default() -> Self {
        Self::new()
    }
}

impl H265Depacketizer {
    /// A depacketizer with the default fragment bound.
    pub fn new() -> Self {
        Self::with_max_fragment(DEFAULT_MAX_FRAGMENTED_NAL)
    }

    /// A depacketizer that reassembles fragmented NAL units of at most `max` bytes.
    pub fn with_max_fragment(max: usize) -> Self {
        H265Depacketizer { fragment: Vec::new(), in_fragment: false, max_fragment: max, errors: 0 }
    }

    /// Malformed payloads seen.
    pub fn errors(&self) -> u64 {
        self.errors
    }

    fn parse(&mut self, payload: &[u8], frame: &mut Vec<u8>) -> Result<PayloadInfo, DepacketizeError> {
        let (header, packet) = Packet::parse(payload)?;
        let mut info = PayloadInfo {
            temporal_layer: header.tid().saturating_sub(1),
            spatial_layer: header.layer_id(),
            ..PayloadInfo::default()
        };
        if self.in_fragment && !matches!(packet, Packet::Fragment { start: false, .. }) {
            tracing::trace!(target: TARGET, len = self.fragment.len(), "H.265 fragment without its end dropped");
            self.fragment.clear();
            self.in_fragment = false;
        }
        match packet {
            Packet::Single(nal) => {
                describe(nal, true, &mut info);
                frame.extend_from_slice(&START_CODE);
                frame.extend_from_slice(nal);
            }
            Packet::Aggregation(units) => {
                let mut first = true;
                for nal in units {
                    let nal = nal?;
                    describe(nal, first, &mut info);
                    first = false;
                    frame.extend_from_slice(&START_CODE);
                    frame.extend_from_slice(nal);
                }
            }
            Packet::Fragment { header, start, end, data } => {
                if start {
                    self.fragment.clear();
                    self.fragment.extend_from_slice(&header.0);
                    self.in_fragment = true;
                    let head = [header.0[0], header.0[1], data.first().copied().unwrap_or(0)];
                    describe(&head, true, &mut info);
                } else if !self.in_fragment {
                    return Err(DepacketizeError::BadFragment);
                }
                if self.fragment.len() + data.len() > self.max_fragment {
                    return Err(DepacketizeError::BadFragment);
                }
                self.fragment.extend_from_slice(data);
                if end {
                    frame.extend_from_slice(&START_CODE);
                    frame.extend_from_slice(&self.fragment);
                    self.fragment.clear();
                    self.in_fragment = false;
                }
            }
        }
        Ok(info)
    }
}

/// Notes what one NAL unit of a payload says about its access unit: a key frame (IRAP or parameter set),
/// and, for the first unit, whether it begins a picture (parameter set, AUD, prefix SEI, or a slice with
/// `first_slice_segment_in_pic_flag`).
fn describe(nal: &[u8], first: bool, info: &mut PayloadInfo) {
    let Ok(h) = NalHeader::parse(nal) else { return };
    info.keyframe |= h.is_irap() || h.is_parameter_set();
    if first {
        info.frame_start = match h.nal_type() {
            0..=31 => nal.get(2).is_some_and(|b| b & 0x80 != 0),
            nal_type::VPS..=nal_type::AUD | nal_type::PREFIX_SEI => true,
            _ => false,
        };
    }
}

impl Depacketizer for H265Depacketizer {
    fn depacketize(&mut self, payload: &[u8], frame: &mut Vec<u8>) -> Result<PayloadInfo, DepacketizeError> {
        let start = frame.len();
        match self.parse(payload, frame) {
            Ok(info) => Ok(info),
            Err(e) => {
                frame.truncate(start);
                self.fragment.clear();
                self.in_fragment = false;
                self.errors += 1;
                tracing::debug!(target: TARGET, error = ?e, len = payload.len(), "H.265 payload dropped");
                Err(e)
            }
        }
    }

    fn reset(&mut self) {
        self.fragment.clear();
        self.in_fragment = false;
    }
}

#[cfg(test)]
#[path = "tests/h265.rs"]
mod tests;
