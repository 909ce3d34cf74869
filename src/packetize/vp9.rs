//! VP9 over RTP (RFC 9628).
//!
//! Each payload opens with a descriptor (section 4.2):
//!
//! ```text
//!       +-+-+-+-+-+-+-+-+
//!       |I|P|L|F|B|E|V|Z|
//!       +-+-+-+-+-+-+-+-+
//! I:    |M| PICTURE ID  |   7 bits, or 15 with M
//! M:    | EXTENDED PID  |
//! L:    | TID |U| SID |D|
//!       |   TL0PICIDX   |   non-flexible mode (F = 0) only
//! P,F:  | P_DIFF      |N|   up to 3 times, flexible mode with P
//! V:    | SS            |   scalability structure (section 4.2.1)
//! ```
//!
//! [`Descriptor::parse`] reads it without copying (the SS as a borrowed, validated
//! [`ScalabilityStructure`]). [`Vp9Packetizer`] sends a non-flexible single-layer stream the way libwebrtc
//! does: a 15-bit picture id on every packet, B on the first and E on the last payload of a frame, P
//! clear on key frames, and on a key frame's first payload an SS giving the resolution and a one-picture
//! group. [`Vp9Depacketizer`] strips the descriptors and concatenates the frame data.

use alloc::vec::Vec;

use super::{DepacketizeError, Depacketizer, PacketizeError, Packetizer, Payload, PayloadInfo};

const TARGET: &str = "sansrtc::packetize";

const I: u8 = 0x80;
const P: u8 = 0x40;
const L: u8 = 0x20;
const F: u8 = 0x10;
const B: u8 = 0x08;
const E: u8 = 0x04;
const V: u8 = 0x02;
const Z: u8 = 0x01;

/// The layer indices of a descriptor with L set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LayerIndices {
    /// TID: the temporal layer.
    pub temporal_id: u8,
    /// U: a switching-up point.
    pub switching_up: bool,
    /// SID: the spatial layer.
    pub spatial_id: u8,
    /// D: the frame depends on the spatial layer below.
    pub inter_layer_dependency: bool,
    /// TL0PICIDX, present in non-flexible mode only.
    pub tl0_pic_idx: Option<u8>,
}

/// A VP9 payload descriptor, borrowed from the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Descriptor<'a> {
    /// P: the frame uses inter-picture prediction.
    pub inter_predicted: bool,
    /// F: flexible mode.
    pub flexible: bool,
    /// B: the payload starts a (layer) frame.
    pub begin: bool,
    /// E: the payload ends a (layer) frame.
    pub end: bool,
    /// Z: not used as a reference by upper spatial layers.
    pub not_reference_for_upper: bool,
    /// The picture id and whether it is the 15-bit form (M).
    pub picture_id: Option<(u16, bool)>,
    /// The layer indices (L).
    pub layers: Option<LayerIndices>,
    ref_diffs: [u8; 3],
    ref_count: u8,
    /// The scalability structure (V).
    pub scalability: Option<ScalabilityStructure<'a>>,
}

impl<'a> Descriptor<'a> {
    /// Parses the descriptor at the start of `payload`: the descriptor and the VP9 data after it.
    ///
    /// [`DepacketizeError::Truncated`] if the payload ends inside the descriptor or right after it;
    /// [`DepacketizeError::Malformed`] for flexible-mode references without a picture id, a fourth
    /// reference, or a bad scalability structure.
    pub fn parse(payload: &'a [u8]) -> Result<(Descriptor<'a>, &'a [u8]), DepacketizeError> {
        let mut r = Reader(payload);
        let b0 = r.byte().map_err(|_| DepacketizeError::Empty)?;
        let flexible = b0 & F != 0;
        let picture_id = if b0 & I != 0 {
            let m = r.byte()?;
            Some(if m & 0x80 != 0 {
                (u16::from(m & 0x7f) << 8 | u16::from(r.byte()?), true)
            } else {
                (u16::from(m), false)
            })
        } else {
            None
        };
        let layers = if b0 & L != 0 {
            let b = r.byte()?;
            Some(LayerIndices {
                temporal_id: b >> 5,
                switching_up: b & 0x10 != 0,
                spatial_id: (b >> 1) & 0x07,
                inter_layer_dependency: b & 0x01 != 0,
                tl0_pic_idx: if flexible { None } else { Some(r.byte()?) },
            })
        } else {
            None
        };
        let (mut ref_diffs, mut ref_count) = ([0u8; 3], 0u8);
        if flexible && b0 & P != 0 {
            if picture_id.is_none() {
                // P_DIFF is relative to the picture id (section 4.2).
                return Err(DepacketizeError::Malformed);
            }
            loop {
                let b = r.byte()?;
                let slot = ref_diffs.get_mut(usize::from(ref_count)).ok_or(DepacketizeError::Malformed)?;
                *slot = b >> 1;
                ref_count += 1;
                if b & 0x01 == 0 {
                    break;
                }
            }
        }
        let scalability = if b0 & V != 0 {
            let (ss, n) = ScalabilityStructure::parse(r.0)?;
            r.0 = r.0.get(n..).unwrap_or_default();
            Some(ss)
        } else {
            None
        };
        if r.0.is_empty() {
            return Err(DepacketizeError::Truncated);
        }
        let d = Descriptor {
            inter_predicted: b0 & P != 0,
            flexible,
            begin: b0 & B != 0,
            end: b0 & E != 0,
            not_reference_for_upper: b0 & Z != 0,
            picture_id,
            layers,
            ref_diffs,
            ref_count,
            scalability,
        };
        Ok((d, r.0))
    }

    /// The flexible-mode reference indices (P_DIFF), 0 to 3 of them.
    pub fn reference_diffs(&self) -> &[u8] {
        self.ref_diffs.get(..usize::from(self.ref_count)).unwrap_or_default()
    }

    /// The spatial layer (0 without layer indices).
    pub fn spatial_id(&self) -> u8 {
        self.layers.map_or(0, |l| l.spatial_id)
    }

    /// The temporal layer (0 without layer indices).
    pub fn temporal_id(&self) -> u8 {
        self.layers.map_or(0, |l| l.temporal_id)
    }

    /// The payload starts a frame that decodes without earlier pictures: B, not P, spatial layer 0.
    pub fn is_keyframe(&self) -> bool {
        self.begin && !self.inter_predicted && self.spatial_id() == 0
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, DepacketizeError> {
        let (&b, rest) = self.0.split_first().ok_or(DepacketizeError::Truncated)?;
        self.0 = rest;
        Ok(b)
    }
}

/// One picture of the SS picture group (section 4.2.1): its temporal layer, switching-up point and
/// references.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PictureGroupEntry {
    /// TID.
    pub temporal_id: u8,
    /// U.
    pub switching_up: bool,
    p_diffs: [u8; 3],
    refs: u8,
}

impl PictureGroupEntry {
    /// The reference indices (P_DIFF), R of them (0 to 3).
    pub fn reference_diffs(&self) -> &[u8] {
        self.p_diffs.get(..usize::from(self.refs)).unwrap_or_default()
    }
}

/// A scalability structure (RFC 9628 section 4.2.1), validated and borrowed:
///
/// ```text
///       | N_S |Y|G|-|-|-|
/// Y:    |  WIDTH (16)   |   N_S + 1 times
///       |  HEIGHT (16)  |
/// G:    |      N_G      |
///       | TID |U| R |-|-|   N_G times
///       |    P_DIFF     |   R times
/// ```
///
/// Validation: every field inside the payload, no zero width or height, no zero P_DIFF (a picture cannot
/// reference itself). Any failure is [`DepacketizeError::Malformed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScalabilityStructure<'a> {
    bytes: &'a [u8],
}

impl<'a> ScalabilityStructure<'a> {
    /// Parses and validates the SS at the start of `buf`: the structure and its length.
    pub fn parse(buf: &'a [u8]) -> Result<(ScalabilityStructure<'a>, usize), DepacketizeError> {
        let bad = |_| DepacketizeError::Malformed;
        let mut r = Reader(buf);
        let b0 = r.byte().map_err(bad)?;
        if b0 & 0x10 != 0 {
            for _ in 0..=(b0 >> 5) {
                let w = u16::from_be_bytes([r.byte().map_err(bad)?, r.byte().map_err(bad)?]);
                let h = u16::from_be_bytes([r.byte().map_err(bad)?, r.byte().map_err(bad)?]);
                if w == 0 || h == 0 {
                    return Err(DepacketizeError::Malformed);
                }
            }
        }
        if b0 & 0x08 != 0 {
            let n_g = r.byte().map_err(bad)?;
            for _ in 0..n_g {
                let e = r.byte().map_err(bad)?;
                for _ in 0..(e >> 2) & 0x03 {
                    if r.byte().map_err(bad)? == 0 {
                        return Err(DepacketizeError::Malformed);
                    }
                }
            }
        }
        let len = buf.len() - r.0.len();
        Ok((ScalabilityStructure { bytes: buf.get(..len).unwrap_or_default() }, len))
    }

    /// The SS bytes as they appeared in the payload.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The number of spatial layers (N_S + 1).
    pub fn spatial_layers(&self) -> u8 {
        self.bytes.first().map_or(1, |b| (b >> 5) + 1)
    }

    /// Each spatial layer's width and height (Y), lowest layer first; empty without Y.
    pub fn resolutions(&self) -> impl Iterator<Item = (u16, u16)> + 'a {
        let y = self.bytes.first().is_some_and(|b| b & 0x10 != 0);
        let n = if y { usize::from(self.spatial_layers()) } else { 0 };
        self.bytes
            .get(1..1 + 4 * n)
            .unwrap_or_default()
            .chunks_exact(4)
            .map(|c| (u16::from_be_bytes([c[0], c[1]]), u16::from_be_bytes([c[2], c[3]])))
    }

    /// The picture group (G), in order; empty without G.
    pub fn picture_group(&self) -> impl Iterator<Item = PictureGroupEntry> + 'a {
        let b0 = self.bytes.first().copied().unwrap_or(0);
        let mut at = 1 + if b0 & 0x10 != 0 { 4 * usize::from(self.spatial_layers()) } else { 0 };
        let n_g = if b0 & 0x08 != 0 { self.bytes.get(at).copied().unwrap_or(0) } else { 0 };
        at += 1;
        let bytes = self.bytes;
        (0..n_g).map_while(move |_| {
            let e = *bytes.get(at)?;
            let refs = (e >> 2) & 0x03;
            let mut p_diffs = [0u8; 3];
            for (i, d) in p_diffs.iter_mut().take(usize::from(refs)).enumerate() {
                *d = *bytes.get(at + 1 + i)?;
            }
            at += 1 + usize::from(refs);
            Some(PictureGroupEntry { temporal_id: e >> 5, switching_up: e & 0x10 != 0, p_diffs, refs })
        })
    }
}

/// A VP9 key frame's size, read from its uncompressed header (VP9 bitstream specification 6.2); `None`
/// for a frame that is not a key frame or does not parse.
fn keyframe_size(frame: &[u8]) -> Option<(u16, u16)> {
    let mut r = BitReader { buf: frame, pos: 0 };
    if r.bits(2)? != 2 {
        return None;
    }
    let profile = r.bits(1)? | r.bits(1)? << 1;
    if profile == 3 {
        r.bits(1)?;
    }
    if r.bits(1)? == 1 || r.bits(1)? != 0 {
        // show_existing_frame, or frame_type 1 (non-key).
        return None;
    }
    r.bits(2)?; // show_frame, error_resilient_mode
    if r.bits(24)? != 0x49_83_42 {
        return None;
    }
    if profile >= 2 {
        r.bits(1)?;
    }
    let color_space = r.bits(3)?;
    if color_space != 7 {
        r.bits(1)?;
        if profile == 1 || profile == 3 {
            r.bits(3)?;
        }
    } else if profile == 1 || profile == 3 {
        r.bits(1)?;
    }
    let w = r.bits(16)? + 1;
    let h = r.bits(16)? + 1;
    Some((u16::try_from(w).ok()?, u16::try_from(h).ok()?))
}

struct BitReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl BitReader<'_> {
    fn bits(&mut self, n: usize) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let byte = self.buf.get(self.pos / 8)?;
            v = v << 1 | u32::from(byte >> (7 - self.pos % 8) & 1);
            self.pos += 1;
        }
        Some(v)
    }
}

/// Packs VP9 frames into RTP payloads: non-flexible mode, one spatial and one temporal layer.
///
/// Every payload carries the frame's 15-bit picture id (incremented per frame); a key frame (read from the
/// frame's uncompressed header) has P clear and, on its first payload, an SS with its resolution and a
/// picture group of one picture referencing the previous one (libwebrtc's layout for a single layer).
#[derive(Debug, Default)]
pub struct Vp9Packetizer {
    picture_id: u16,
    buf: Vec<u8>,
}

impl Vp9Packetizer {
    /// A packetizer whose first frame has picture id `first_picture_id` (mod 2^15); pick it at random.
    pub fn new(first_picture_id: u16) -> Self {
        Vp9Packetizer { picture_id: first_picture_id & 0x7fff, buf: Vec::new() }
    }

    /// The picture id the next frame gets.
    pub fn next_picture_id(&self) -> u16 {
        self.picture_id
    }
}

impl Packetizer for Vp9Packetizer {
    fn packetize(
        &mut self,
        frame: &[u8],
        max_payload: usize,
        emit: &mut dyn FnMut(Payload<'_>),
    ) -> Result<usize, PacketizeError> {
        if frame.is_empty() {
            return Err(PacketizeError::BadFrame);
        }
        let key = keyframe_size(frame);
        let ss_len = if key.is_some() { 8 } else { 0 };
        if max_payload <= 3 + ss_len {
            return Err(PacketizeError::MtuTooSmall);
        }
        let pid = self.picture_id;
        let (mut rest, mut count) = (frame, 0);
        while !rest.is_empty() {
            let first = count == 0;
            self.buf.clear();
            let mut b0 = I;
            if key.is_none() {
                b0 |= P;
            }
            if first {
                b0 |= B;
            }
            let with_ss = first && key.is_some();
            if with_ss {
                b0 |= V;
            }
            let room = max_payload - 3 - if with_ss { ss_len } else { 0 };
            let (chunk, after) = rest.split_at(room.min(rest.len()));
            if after.is_empty() {
                b0 |= E;
            }
            self.buf.extend_from_slice(&[b0, 0x80 | (pid >> 8) as u8, pid as u8]);
            if let (true, Some((w, h))) = (with_ss, key) {
                // N_S = 0, Y, G; the resolution; N_G = 1: TID 0, R = 1, P_DIFF 1.
                self.buf.push(0x18);
                self.buf.extend_from_slice(&w.to_be_bytes());
                self.buf.extend_from_slice(&h.to_be_bytes());
                self.buf.extend_from_slice(&[1, 0x04, 1]);
            }
            self.buf.extend_from_slice(chunk);
            rest = after;
            count += 1;
            emit(Payload { data: &self.buf, marker: rest.is_empty() });
        }
        self.picture_id = (pid + 1) & 0x7fff;
        Ok(count)
    }
}

/// Strips VP9 descriptors and concatenates frame data. A payload without B must follow a payload of
/// the same frame ([`DepacketizeError::BadFragment`] otherwise); call [`Depacketizer::reset`] on loss.
#[derive(Debug, Default)]
pub struct Vp9Depacketizer {
    in_frame: bool,
    errors: u64,
}

impl Vp9Depacketizer {
    /// A depacketizer waiting for the start of a frame.
    pub fn new() -> Self {
        Self::default()
    }

    /// Malformed payloads seen.
    pub fn errors(&self) -> u64 {
        self.errors
    }
}

impl Depacketizer for Vp9Depacketizer {
    fn depacketize(&mut self, payload: &[u8], frame: &mut Vec<u8>) -> Result<PayloadInfo, DepacketizeError> {
        let parsed = Descriptor::parse(payload).and_then(|(d, data)| {
            if d.begin || self.in_frame { Ok((d, data)) } else { Err(DepacketizeError::BadFragment) }
        });
        let (d, data) = match parsed {
            Ok(p) => p,
            Err(e) => {
                self.errors += 1;
                self.in_frame = false;
                tracing::debug!(target: TARGET, error = ?e, len = payload.len(), "VP9 payload dropped");
                return Err(e);
            }
        };
        self.in_frame = !d.end;
        frame.extend_from_slice(data);
        Ok(PayloadInfo {
            frame_start: d.begin,
            frame_end: Some(d.end),
            keyframe: d.is_keyframe(),
            picture_id: d.picture_id.map(|(id, _)| id),
            spatial_layer: d.spatial_id(),
            temporal_layer: d.temporal_id(),
        })
    }

    fn reset(&mut self) {
        self.in_frame = false;
    }
}

#[cfg(test)]
#[path = "tests/vp9.rs"]
mod tests;
