//! AV1 over RTP, the AOM "RTP Payload Format For AV1" (v1.0.0, aomediacodec.github.io/av1-rtp-spec).
//!
//! A payload is a one-byte aggregation header followed by OBU elements (whole OBUs or fragments of one):
//!
//! ```text
//!  0 1 2 3 4 5 6 7
//! +-+-+-+-+-+-+-+-+
//! |Z|Y| W |N|-|-|-|   Z: the first element continues an OBU from the previous packet
//! +-+-+-+-+-+-+-+-+   Y: the last element continues in the next packet
//!                     W: 0, or the number of elements (then the last has no length field)
//!                     N: first packet of a coded video sequence
//! ```
//!
//! Each element not known to be the last is preceded by its length as a [`leb128`]. On the
//! wire OBUs carry no `obu_size` field (section 4.4: `obu_has_size_field` SHOULD be 0); temporal delimiters
//! and tile-list OBUs are not sent and are ignored on receipt (section 5).
//!
//! [`Av1Packetizer`] takes a temporal unit in the low-overhead bitstream format (AV1 section 5.2, every OBU
//! with its size field, as encoders and IVF files give it), drops temporal delimiters and tile lists,
//! strips the size fields and packs the OBUs into payloads. [`Av1Depacketizer`] restores the size fields
//! (`obu_has_size_field` = 1), so its output is again the low-overhead format and can be written to IVF.
//! A round trip is therefore exact up to that normalisation: no temporal delimiter or tile list, every OBU
//! with a minimal size field.

use alloc::vec::Vec;

use super::{DepacketizeError, Depacketizer, PacketizeError, Packetizer, Payload, PayloadInfo, leb128};

const TARGET: &str = "sansrtc::packetize";

/// OBU types (AV1 section 6.2.2).
pub mod obu_type {
    /// `OBU_SEQUENCE_HEADER`.
    pub const SEQUENCE_HEADER: u8 = 1;
    /// `OBU_TEMPORAL_DELIMITER`.
    pub const TEMPORAL_DELIMITER: u8 = 2;
    /// `OBU_FRAME_HEADER`.
    pub const FRAME_HEADER: u8 = 3;
    /// `OBU_TILE_GROUP`.
    pub const TILE_GROUP: u8 = 4;
    /// `OBU_METADATA`.
    pub const METADATA: u8 = 5;
    /// `OBU_FRAME`.
    pub const FRAME: u8 = 6;
    /// `OBU_REDUNDANT_FRAME_HEADER`.
    pub const REDUNDANT_FRAME_HEADER: u8 = 7;
    /// `OBU_TILE_LIST`.
    pub const TILE_LIST: u8 = 8;
    /// `OBU_PADDING`.
    pub const PADDING: u8 = 15;
}

/// The largest OBU the depacketizer reassembles from fragments unless told otherwise.
pub const DEFAULT_MAX_FRAGMENTED_OBU: usize = 4 << 20;

const HAS_SIZE_FIELD: u8 = 0x02;
const EXTENSION_FLAG: u8 = 0x04;

/// An OBU header (AV1 section 5.3.2), with its optional extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObuHeader {
    /// `obu_type` (see [`obu_type`]).
    pub obu_type: u8,
    /// `temporal_id` and `spatial_id` of the extension header, when present.
    pub extension: Option<(u8, u8)>,
    /// `obu_has_size_field`.
    pub has_size_field: bool,
}

impl ObuHeader {
    /// Parses the header at the start of `buf`: the header and its length (1, or 2 with the extension).
    /// [`DepacketizeError::Malformed`] if the forbidden bit is set.
    pub fn parse(buf: &[u8]) -> Result<(ObuHeader, usize), DepacketizeError> {
        let &b0 = buf.first().ok_or(DepacketizeError::Truncated)?;
        if b0 & 0x80 != 0 {
            return Err(DepacketizeError::Malformed);
        }
        let extension = if b0 & EXTENSION_FLAG != 0 {
            let &b1 = buf.get(1).ok_or(DepacketizeError::Truncated)?;
            Some((b1 >> 5, (b1 >> 3) & 0x03))
        } else {
            None
        };
        let header = ObuHeader { obu_type: (b0 >> 3) & 0x0f, extension, has_size_field: b0 & HAS_SIZE_FIELD != 0 };
        Ok((header, if extension.is_some() { 2 } else { 1 }))
    }

    /// The temporal layer (0 without an extension header).
    pub fn temporal_id(&self) -> u8 {
        self.extension.map_or(0, |(t, _)| t)
    }

    /// The spatial layer (0 without an extension header).
    pub fn spatial_id(&self) -> u8 {
        self.extension.map_or(0, |(_, s)| s)
    }
}

/// One OBU of a low-overhead bitstream, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Obu<'a> {
    /// The parsed header.
    pub header: ObuHeader,
    /// The header bytes as written (1 or 2 bytes; the size field is not included).
    pub header_bytes: &'a [u8],
    /// The OBU payload (after the size field).
    pub payload: &'a [u8],
}

/// Iterates over the OBUs of a temporal unit in the low-overhead bitstream format (AV1 section 5.2). An
/// OBU without a size field extends to the end of the buffer. After an error the iterator ends.
#[derive(Debug, Clone)]
pub struct Obus<'a> {
    rest: &'a [u8],
}

impl<'a> Obus<'a> {
    /// Iterates over the OBUs in `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Obus { rest: buf }
    }

    fn parse_one(&mut self) -> Result<Obu<'a>, DepacketizeError> {
        let (header, hl) = ObuHeader::parse(self.rest)?;
        let (header_bytes, after) = self.rest.split_at_checked(hl).ok_or(DepacketizeError::Truncated)?;
        let (payload, rest) = if header.has_size_field {
            let (size, n) = leb128::read(after)?;
            let body = after.get(n..).ok_or(DepacketizeError::Truncated)?;
            body.split_at_checked(size as usize).ok_or(DepacketizeError::BadLength)?
        } else {
            (after, &[][..])
        };
        self.rest = rest;
        Ok(Obu { header, header_bytes, payload })
    }
}

impl<'a> Iterator for Obus<'a> {
    type Item = Result<Obu<'a>, DepacketizeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let r = self.parse_one();
        if r.is_err() {
            self.rest = &[];
        }
        Some(r)
    }
}

/// The aggregation header, the first byte of every AV1 payload (section 4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AggregationHeader {
    /// The first element continues an OBU from the previous packet.
    pub z: bool,
    /// The last element continues in the next packet.
    pub y: bool,
    /// Number of elements (the last without a length field), or 0 (every element with one).
    pub w: u8,
    /// First packet of a coded video sequence.
    pub n: bool,
}

impl AggregationHeader {
    /// Decodes the header byte (the three reserved bits are ignored).
    pub fn from_byte(b: u8) -> Self {
        AggregationHeader { z: b & 0x80 != 0, y: b & 0x40 != 0, w: (b >> 4) & 0x03, n: b & 0x08 != 0 }
    }

    /// Encodes the header byte.
    pub fn to_byte(self) -> u8 {
        (u8::from(self.z) << 7) | (u8::from(self.y) << 6) | ((self.w & 0x03) << 4) | (u8::from(self.n) << 3)
    }

    /// Parses a payload: its aggregation header and an iterator over its OBU elements, borrowed.
    pub fn parse(payload: &[u8]) -> Result<(AggregationHeader, Elements<'_>), DepacketizeError> {
        let (&b0, rest) = payload.split_first().ok_or(DepacketizeError::Empty)?;
        let header = AggregationHeader::from_byte(b0);
        if header.n && header.z {
            // "if N equals 1 then Z must equal 0": a sequence cannot start mid-OBU.
            return Err(DepacketizeError::Malformed);
        }
        Ok((header, Elements { rest, w: header.w, index: 0 }))
    }
}

/// The OBU elements of one payload, in order, borrowed. After an error the iterator ends.
#[derive(Debug, Clone)]
pub struct Elements<'a> {
    rest: &'a [u8],
    w: u8,
    index: u8,
}

impl<'a> Elements<'a> {
    fn parse_one(&mut self) -> Result<&'a [u8], DepacketizeError> {
        if self.w != 0 && self.index + 1 == self.w {
            return Ok(core::mem::take(&mut self.rest));
        }
        let (len, n) = leb128::read(self.rest).map_err(|e| match e {
            DepacketizeError::Truncated => DepacketizeError::BadLength,
            e => e,
        })?;
        let body = self.rest.get(n..).unwrap_or_default();
        let (el, rest) = body.split_at_checked(len as usize).ok_or(DepacketizeError::BadLength)?;
        self.rest = rest;
        Ok(el)
    }
}

impl<'a> Iterator for Elements<'a> {
    type Item = Result<&'a [u8], DepacketizeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            // W promised more elements than the payload holds.
            if self.w != 0 && self.index < self.w {
                self.index = self.w;
                return Some(Err(DepacketizeError::Malformed));
            }
            return None;
        }
        if self.w != 0 && self.index >= self.w {
            self.rest = &[];
            return Some(Err(DepacketizeError::Malformed));
        }
        let r = self.parse_one();
        self.index = self.index.saturating_add(1);
        if r.is_err() {
            self.rest = &[];
            self.index = self.w;
        }
        Some(r)
    }
}

/// One OBU to send: its header rewritten without the size field, and where its payload is in the frame.
#[derive(Debug, Clone, Copy)]
struct Element {
    header: [u8; 2],
    header_len: usize,
    payload: (usize, usize),
    layer: Option<(u8, u8)>,
}

impl Element {
    fn len(&self) -> usize {
        self.header_len + self.payload.1 - self.payload.0
    }

    /// Appends bytes `from..to` of the element (header then payload) to `out`.
    fn copy(&self, frame: &[u8], from: usize, to: usize, out: &mut Vec<u8>) {
        let h = self.header_len;
        if from < h {
            out.extend_from_slice(self.header.get(from..to.min(h)).unwrap_or_default());
        }
        let (a, b) = (from.max(h) - h, to.max(h) - h);
        if a < b {
            out.extend_from_slice(frame.get(self.payload.0 + a..self.payload.0 + b).unwrap_or_default());
        }
    }
}

/// Packs AV1 temporal units into RTP payloads.
///
/// Each payload holds at most three OBU elements (W = 1..3, the last without a length field), or stops
/// early with W = 0 where the next OBU belongs to another layer (section 5: a packet carries one
/// `temporal_id`/`spatial_id`). A temporal unit that carries a sequence header starts a new coded video
/// sequence: its first payload has N = 1.
#[derive(Debug, Default)]
pub struct Av1Packetizer {
    elements: Vec<Element>,
    buf: Vec<u8>,
}

impl Av1Packetizer {
    /// A packetizer with empty scratch buffers.
    pub fn new() -> Self {
        Self::default()
    }

    fn collect(&mut self, frame: &[u8]) -> Result<bool, PacketizeError> {
        self.elements.clear();
        let mut new_sequence = false;
        let base = frame.as_ptr() as usize;
        for obu in Obus::new(frame) {
            let obu = obu.map_err(|_| PacketizeError::BadFrame)?;
            let t = obu.header.obu_type;
            if t == obu_type::TEMPORAL_DELIMITER || t == obu_type::TILE_LIST {
                continue;
            }
            new_sequence |= t == obu_type::SEQUENCE_HEADER;
            let mut header = [0u8; 2];
            for (d, s) in header.iter_mut().zip(obu.header_bytes) {
                *d = *s;
            }
            header[0] &= !HAS_SIZE_FIELD;
            let start = obu.payload.as_ptr() as usize - base;
            if u32::try_from(obu.header_bytes.len() + obu.payload.len()).is_err() {
                return Err(PacketizeError::BadFrame);
            }
            self.elements.push(Element {
                header,
                header_len: obu.header_bytes.len(),
                payload: (start, start + obu.payload.len()),
                layer: obu.header.extension,
            });
        }
        Ok(new_sequence)
    }
}

impl Packetizer for Av1Packetizer {
    fn packetize(
        &mut self,
        frame: &[u8],
        max_payload: usize,
        emit: &mut dyn FnMut(Payload<'_>),
    ) -> Result<usize, PacketizeError> {
        if max_payload < 2 {
            return Err(PacketizeError::MtuTooSmall);
        }
        let new_sequence = self.collect(frame)?;
        if self.elements.is_empty() {
            return Err(PacketizeError::BadFrame);
        }
        let (mut i, mut off, mut count) = (0usize, 0usize, 0usize);
        while i < self.elements.len() {
            self.buf.clear();
            self.buf.push(0);
            let z = off > 0;
            let (mut n_el, mut y, mut last_has_length) = (0u8, false, false);
            let mut layer = None;
            while let Some(e) = self.elements.get(i).copied() {
                let space = max_payload - self.buf.len();
                if n_el > 0 && (space == 0 || (layer.is_some() && e.layer.is_some() && layer != e.layer)) {
                    break;
                }
                layer = layer.or(e.layer);
                let rem = e.len() - off;
                let has_next = i + 1 < self.elements.len();
                let with_len = leb128::encoded_len(rem as u32) + rem;
                if n_el < 2 && has_next && with_len < space {
                    leb128::write(rem as u32, &mut self.buf);
                    e.copy(frame, off, off + rem, &mut self.buf);
                    (n_el, i, off, last_has_length) = (n_el + 1, i + 1, 0, true);
                    continue;
                }
                let take = rem.min(space);
                e.copy(frame, off, off + take, &mut self.buf);
                n_el += 1;
                last_has_length = false;
                if take < rem {
                    off += take;
                    y = true;
                } else {
                    (i, off) = (i + 1, 0);
                }
                break;
            }
            let header =
                AggregationHeader { z, y, w: if last_has_length { 0 } else { n_el }, n: new_sequence && count == 0 };
            if let Some(b) = self.buf.first_mut() {
                *b = header.to_byte();
            }
            count += 1;
            emit(Payload { data: &self.buf, marker: i >= self.elements.len() });
        }
        Ok(count)
    }
}

/// Restores AV1 temporal units from RTP payloads, in the low-overhead format with size fields.
///
/// Fragments of an OBU are held (up to a bound, [`DEFAULT_MAX_FRAGMENTED_OBU`] by default) until the last
/// one arrives; a continuation without its start, or a run past the bound, is
/// [`DepacketizeError::BadFragment`]. Temporal delimiters and tile lists are dropped.
#[derive(Debug)]
pub struct Av1Depacketizer {
    fragment: Vec<u8>,
    in_fragment: bool,
    max_fragment: usize,
    errors: u64,
}

impl Default for Av1Depacketizer {
    fn default() -> Self {
        Self::new()
    }
}

impl Av1Depacketizer {
    /// A depacketizer with the default fragment bound.
    pub fn new() -> Self {
        Self::with_max_fragment(DEFAULT_MAX_FRAGMENTED_OBU)
    }

    /// A depacketizer that reassembles fragmented OBUs of at most `max` bytes.
    pub fn with_max_fragment(max: usize) -> Self {
        Av1Depacketizer { fragment: Vec::new(), in_fragment: false, max_fragment: max, errors: 0 }
    }

    /// Malformed payloads seen.
    pub fn errors(&self) -> u64 {
        self.errors
    }

    fn grow_fragment(&mut self, el: &[u8]) -> Result<(), DepacketizeError> {
        if self.fragment.len() + el.len() > self.max_fragment {
            return Err(DepacketizeError::BadFragment);
        }
        self.fragment.extend_from_slice(el);
        Ok(())
    }

    fn parse(&mut self, payload: &[u8], frame: &mut Vec<u8>) -> Result<PayloadInfo, DepacketizeError> {
        let (agg, elements) = AggregationHeader::parse(payload)?;
        if agg.z && !self.in_fragment {
            return Err(DepacketizeError::BadFragment);
        }
        if !agg.z && self.in_fragment {
            tracing::trace!(target: TARGET, len = self.fragment.len(), "AV1 fragment without its end dropped");
            self.fragment.clear();
            self.in_fragment = false;
        }
        let mut info = PayloadInfo { keyframe: agg.n, ..PayloadInfo::default() };
        let mut elements = elements.peekable();
        let mut first = true;
        while let Some(el) = elements.next() {
            let el = el?;
            let last = elements.peek().is_none();
            let continues = last && agg.y;
            if first {
                let head = if agg.z { &self.fragment[..] } else { el };
                if let Ok((h, _)) = ObuHeader::parse(head) {
                    (info.temporal_layer, info.spatial_layer) = (h.temporal_id(), h.spatial_id());
                    if !agg.z {
                        info.frame_start = matches!(
                            h.obu_type,
                            obu_type::SEQUENCE_HEADER
                                | obu_type::TEMPORAL_DELIMITER
                                | obu_type::FRAME_HEADER
                                | obu_type::FRAME
                        );
                        info.keyframe |= h.obu_type == obu_type::SEQUENCE_HEADER;
                    }
                }
            }
            if first && agg.z {
                self.grow_fragment(el)?;
                if !continues {
                    write_obu(&self.fragment, frame)?;
                    self.fragment.clear();
                    self.in_fragment = false;
                }
            } else if continues {
                self.fragment.clear();
                self.grow_fragment(el)?;
                self.in_fragment = true;
            } else {
                write_obu(el, frame)?;
            }
            first = false;
        }
        Ok(info)
    }
}

/// Appends one whole OBU element to `frame` with its size field (dropping temporal delimiters and tile
/// lists). An element that already has a size field must have it agree with the element's length.
fn write_obu(el: &[u8], frame: &mut Vec<u8>) -> Result<(), DepacketizeError> {
    let (header, hl) = ObuHeader::parse(el).map_err(|_| DepacketizeError::Malformed)?;
    let after = el.get(hl..).unwrap_or_default();
    let payload = if header.has_size_field {
        let (size, n) = leb128::read(after).map_err(|e| match e {
            DepacketizeError::Truncated => DepacketizeError::BadLength,
            e => e,
        })?;
        let body = after.get(n..).unwrap_or_default();
        if body.len() != size as usize {
            return Err(DepacketizeError::BadLength);
        }
        body
    } else {
        after
    };
    if header.obu_type == obu_type::TEMPORAL_DELIMITER || header.obu_type == obu_type::TILE_LIST {
        return Ok(());
    }
    let size = u32::try_from(payload.len()).map_err(|_| DepacketizeError::BadLength)?;
    let (&b0, rest) = el.split_first().ok_or(DepacketizeError::Malformed)?;
    frame.reserve(hl + leb128::encoded_len(size) + payload.len());
    frame.push(b0 | HAS_SIZE_FIELD);
    frame.extend_from_slice(rest.get(..hl - 1).unwrap_or_default());
    leb128::write(size, frame);
    frame.extend_from_slice(payload);
    Ok(())
}

impl Depacketizer for Av1Depacketizer {
    fn depacketize(&mut self, payload: &[u8], frame: &mut Vec<u8>) -> Result<PayloadInfo, DepacketizeError> {
        let start = frame.len();
        match self.parse(payload, frame) {
            Ok(info) => Ok(info),
            Err(e) => {
                frame.truncate(start);
                self.fragment.clear();
                self.in_fragment = false;
                self.errors += 1;
                tracing::debug!(target: TARGET, error = ?e, len = payload.len(), "AV1 payload dropped");
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
#[path = "tests/av1.rs"]
mod tests;
