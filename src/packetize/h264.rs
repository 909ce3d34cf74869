//! H.264 over RTP (RFC 6184), packetization mode 1 (non-interleaved).
//!
//! Frames are Annex-B byte streams (H.264 Annex B): NAL units behind three- or four-octet start codes.
//! [`H264Packetizer`] sends each NAL unit that fits in `max_payload` as it is (a single NAL unit packet,
//! §5.6), aggregates consecutive ones that fit together into STAP-A packets (§5.7.1: a parameter set and
//! the slices after it often share one packet), and splits a larger one into FU-A fragments (§5.8). It
//! remembers the last SPS and PPS it sent and puts them ahead of an IDR picture the encoder sent without
//! them, so that a receiver joining at any key frame can decode it.
//!
//! [`H264Depacketizer`] undoes all three and writes the NAL units back as Annex-B with four-octet start
//! codes. It appends FU-A fragments straight to the caller's frame as they arrive, so a fragmented NAL
//! unit is copied once, bounded ([`DEFAULT_MAX_NAL_SIZE`] by default); a run abandoned before its last
//! fragment (a lost fragment, another payload, an error, [`Depacketizer::reset`]) is cut off the frame
//! again, so that a frame never holds part of a NAL unit.
//! STAP-B, MTAP and FU-B belong to the interleaved mode and are [`DepacketizeError::Unsupported`].
//!
//! [`StapA`] iterates the NAL units of an aggregation packet without copying, and [`payload_is_keyframe`]
//! reads a payload's key frame status in place, for forwarding units.
#![deny(clippy::indexing_slicing)]

use alloc::vec::Vec;

use super::{DepacketizeError, Depacketizer, PacketizeError, Packetizer, Payload, PayloadInfo, PayloadParts, TARGET};

/// NAL unit types (H.264 Table 7-1) and the RFC 6184 payload structures (Table 1).
pub mod nal_type {
    /// Coded slice of a non-IDR picture.
    pub const SLICE: u8 = 1;
    /// Coded slice of an IDR picture.
    pub const IDR: u8 = 5;
    /// Supplemental enhancement information.
    pub const SEI: u8 = 6;
    /// Sequence parameter set.
    pub const SPS: u8 = 7;
    /// Picture parameter set.
    pub const PPS: u8 = 8;
    /// Access unit delimiter.
    pub const AUD: u8 = 9;
    /// Single-time aggregation packet A (RFC 6184 §5.7.1).
    pub const STAP_A: u8 = 24;
    /// Single-time aggregation packet B (interleaved mode).
    pub const STAP_B: u8 = 25;
    /// Multi-time aggregation packet, 16-bit offsets (interleaved mode).
    pub const MTAP16: u8 = 26;
    /// Multi-time aggregation packet, 24-bit offsets (interleaved mode).
    pub const MTAP24: u8 = 27;
    /// Fragmentation unit A (RFC 6184 §5.8).
    pub const FU_A: u8 = 28;
    /// Fragmentation unit B (interleaved mode).
    pub const FU_B: u8 = 29;
}

use nal_type::{FU_A, IDR, PPS, SPS, STAP_A};

/// The start code the depacketizer writes before every NAL unit.
pub const START_CODE: [u8; 4] = [0, 0, 0, 1];

/// The default bound on a NAL unit reassembled from FU-A fragments: 1 MiB.
pub const DEFAULT_MAX_NAL_SIZE: usize = 1 << 20;

/// The longest SPS or PPS the packetizer remembers; longer ones are sent but not repeated.
pub const MAX_PARAMETER_SET_SIZE: usize = 1024;

/// The shortest `max_payload` the packetizer works with: a FU-A's two header octets and one octet of data.
pub const MIN_PAYLOAD: usize = 3;

/// The NAL unit type, the low five bits of the NAL header octet.
pub fn nal_unit_type(header: u8) -> u8 {
    header & 0x1f
}

/// NAL types a packetizer carries: 1 to 23 (0 and 24 to 31 are payload structures or reserved, RFC 6184
/// Table 1).
fn is_nal_type(t: u8) -> bool {
    (1..=23).contains(&t)
}

/// Whether a NAL unit can open an access unit (H.264 §7.4.1.2.3): an access unit delimiter, SEI, parameter
/// set or the types 14 to 18 before the first slice, or the first slice of a picture (`first_mb_in_slice`,
/// the slice header's first `ue(v)`, is 0 exactly when the octet after the NAL header has its top bit set).
fn can_open_access_unit(nal: &[u8]) -> bool {
    let Some(&header) = nal.first() else { return false };
    match nal_unit_type(header) {
        6..=9 | 14..=18 => true,
        1 | 5 => nal.get(1).is_some_and(|b| b & 0x80 != 0),
        _ => false,
    }
}

/// Coded slices and their partitions (types 1 to 5).
fn is_vcl(t: u8) -> bool {
    (1..=5).contains(&t)
}

/// The position of the next `00 00 01` in `data`. Eight octets at a time: a start code can only begin in
/// a word that holds a zero octet, and only such words are searched octet by octet.
fn find_start_code(data: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let at = |p: usize| data.get(p..p + 3) == Some(&[0, 0, 1]);
    let words = data.chunks_exact(8);
    let tail = words.len() * 8;
    for (i, word) in words.enumerate() {
        let w = u64::from_le_bytes(<[u8; 8]>::try_from(word).unwrap_or([0; 8]));
        // Non-zero exactly when some octet of `w` is zero.
        if w.wrapping_sub(ONES) & !w & HIGHS != 0 {
            if let Some(p) = (i * 8..i * 8 + 8).find(|&p| at(p)) {
                return Some(p);
            }
        }
    }
    (tail..data.len()).find(|&p| at(p))
}

/// The NAL units of an Annex-B byte stream, without their start codes and trailing zero octets; empty
/// ones (a start code right after another) are skipped.
#[derive(Debug, Clone)]
pub struct AnnexB<'a> {
    rest: &'a [u8],
}

impl<'a> AnnexB<'a> {
    /// The NAL units of `stream`, which must open with a start code (after optional zero octets).
    pub fn new(stream: &'a [u8]) -> Result<Self, PacketizeError> {
        let first = find_start_code(stream).ok_or(PacketizeError::BadFrame)?;
        let (lead, rest) = stream.split_at(first);
        if lead.iter().any(|&b| b != 0) {
            return Err(PacketizeError::BadFrame);
        }
        Ok(AnnexB { rest: rest.get(3..).unwrap_or_default() })
    }
}

impl<'a> Iterator for AnnexB<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let (nal, rest) = match find_start_code(self.rest) {
                Some(at) => {
                    let (nal, rest) = self.rest.split_at(at);
                    (nal, rest.get(3..).unwrap_or_default())
                }
                None => (self.rest, &[][..]),
            };
            self.rest = rest;
            let end = nal.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
            let nal = nal.get(..end).unwrap_or_default();
            if !nal.is_empty() {
                return Some(nal);
            }
        }
    }
}

/// The NAL units of a STAP-A payload (RFC 6184 §5.7.1), borrowed: each is preceded by its 16-bit size.
/// Yields an error, then stops, when a size runs past the end or is zero.
#[derive(Debug, Clone)]
pub struct StapA<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> StapA<'a> {
    /// The NAL units of `payload`, a whole STAP-A payload (its first octet is the STAP-A NAL header).
    pub fn new(payload: &'a [u8]) -> Result<Self, DepacketizeError> {
        match payload.split_first() {
            None => Err(DepacketizeError::Empty),
            Some((&h, _)) if nal_unit_type(h) != STAP_A => Err(DepacketizeError::Malformed),
            Some((_, [])) => Err(DepacketizeError::Truncated),
            Some((_, rest)) => Ok(StapA { rest, failed: false }),
        }
    }
}

impl<'a> Iterator for StapA<'a> {
    type Item = Result<&'a [u8], DepacketizeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() || self.failed {
            return None;
        }
        let item = match self.rest {
            [hi, lo, tail @ ..] => {
                let len = usize::from(u16::from_be_bytes([*hi, *lo]));
                match (tail.get(..len), tail.get(len..)) {
                    (Some(nal), Some(rest)) if len > 0 => {
                        self.rest = rest;
                        Ok(nal)
                    }
                    (Some(_), _) => Err(DepacketizeError::Malformed),
                    _ => Err(DepacketizeError::BadLength),
                }
            }
            _ => Err(DepacketizeError::Truncated),
        };
        if let Ok(nal) = item {
            if nal.first().is_some_and(|&h| !is_nal_type(nal_unit_type(h))) {
                self.failed = true;
                return Some(Err(DepacketizeError::Malformed));
            }
        } else {
            self.failed = true;
        }
        Some(item)
    }
}

/// Whether an RTP payload carries the start of a key frame: an IDR slice or an SPS in a single NAL unit
/// packet, in a STAP-A, or at the start of a FU-A. Reads the payload in place; a malformed payload is not
/// a key frame.
pub fn payload_is_keyframe(payload: &[u8]) -> bool {
    let is_key = |t: u8| t == IDR || t == SPS;
    let Some(&header) = payload.first() else { return false };
    match nal_unit_type(header) {
        STAP_A => StapA::new(payload).is_ok_and(|mut units| {
            units.any(|nal| nal.is_ok_and(|nal| nal.first().is_some_and(|&h| is_key(nal_unit_type(h)))))
        }),
        FU_A => payload.get(1).is_some_and(|&fu| fu & 0x80 != 0 && is_key(nal_unit_type(fu))),
        t => is_key(t),
    }
}

/// A payload being built: nothing, one NAL unit (sent as is if nothing joins it), or a STAP-A in the
/// scratch buffer.
enum Pending<'a> {
    Nothing,
    Single(&'a [u8]),
    Aggregate,
}

/// H.264 Annex-B frames into RTP payloads (packetization mode 1).
#[derive(Debug, Default)]
pub struct H264Packetizer {
    sps: Vec<u8>,
    pps: Vec<u8>,
    buf: Vec<u8>,
}

impl H264Packetizer {
    /// A packetizer that has not seen any parameter set yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The SPS and PPS put ahead of IDR pictures sent without them (empty until the encoder sends them).
    pub fn parameter_sets(&self) -> (&[u8], &[u8]) {
        (&self.sps, &self.pps)
    }
}

/// The caller's callback: whole payloads ([`Packetizer::packetize`]) or headers and bodies
/// ([`Packetizer::packetize_parts`]).
enum Emit<'e> {
    Whole(&'e mut dyn FnMut(Payload<'_>)),
    Parts(&'e mut dyn FnMut(PayloadParts<'_>)),
}

/// The scratch buffer and the caller's callback, with the payload count.
struct Out<'e> {
    buf: Vec<u8>,
    emit: Emit<'e>,
    count: usize,
    max_payload: usize,
}

impl Out<'_> {
    /// Sends or queues one NAL unit: aggregated or single if it fits in a payload, else fragmented (after
    /// the pending payload).
    fn send<'a>(&mut self, pending: Pending<'a>, nal: &'a [u8], last: bool) -> Pending<'a> {
        if nal.len() <= self.max_payload {
            return self.add(pending, nal);
        }
        self.flush(pending, false);
        self.fragment(nal, last);
        Pending::Nothing
    }

    /// Adds one NAL unit that fits in a payload: to the pending payload if it fits there too, else after
    /// sending the pending one.
    fn add<'a>(&mut self, pending: Pending<'a>, nal: &'a [u8]) -> Pending<'a> {
        let fits_stap = nal.len() <= usize::from(u16::MAX);
        match pending {
            Pending::Nothing => Pending::Single(nal),
            Pending::Single(first) if fits_stap && 1 + 2 + first.len() + 2 + nal.len() <= self.max_payload => {
                self.buf.clear();
                self.buf.push(STAP_A);
                self.push_unit(first);
                self.push_unit(nal);
                Pending::Aggregate
            }
            Pending::Aggregate if fits_stap && self.buf.len() + 2 + nal.len() <= self.max_payload => {
                self.push_unit(nal);
                Pending::Aggregate
            }
            other => {
                self.flush(other, false);
                Pending::Single(nal)
            }
        }
    }

    /// Appends one aggregation unit to the STAP-A: F is the OR of the units' F bits, NRI their maximum
    /// (RFC 6184 §5.7).
    fn push_unit(&mut self, nal: &[u8]) {
        let h = nal.first().copied().unwrap_or(0);
        if let Some(stap) = self.buf.first_mut() {
            let f = (*stap | h) & 0x80;
            let nri = (*stap & 0x60).max(h & 0x60);
            *stap = f | nri | STAP_A;
        }
        self.buf.extend_from_slice(&(nal.len() as u16).to_be_bytes());
        self.buf.extend_from_slice(nal);
    }

    /// Sends the pending payload: a single NAL unit as it is (the body of a [`PayloadParts`]), a STAP-A
    /// from the scratch buffer (the header of a [`PayloadParts`]).
    fn flush(&mut self, pending: Pending<'_>, marker: bool) {
        match (pending, &mut self.emit) {
            (Pending::Nothing, _) => return,
            (Pending::Single(nal), Emit::Whole(emit)) => emit(Payload { data: nal, marker }),
            (Pending::Single(nal), Emit::Parts(emit)) => emit(PayloadParts { header: &[], body: nal, marker }),
            (Pending::Aggregate, Emit::Whole(emit)) => emit(Payload { data: &self.buf, marker }),
            (Pending::Aggregate, Emit::Parts(emit)) => {
                emit(PayloadParts { header: &self.buf, body: &[], marker });
            }
        }
        self.count += 1;
    }

    /// Sends a NAL unit larger than a payload as FU-A fragments of nearly equal size (at least two, since
    /// the unit is larger than a payload: RFC 6184 §5.8 forbids S and E in one fragment).
    fn fragment(&mut self, nal: &[u8], last: bool) {
        let Some((&h, data)) = nal.split_first() else { return };
        let indicator = (h & 0xe0) | FU_A;
        let capacity = self.max_payload - 2;
        let parts = data.len().div_ceil(capacity);
        let mut rest = data;
        for index in 0..parts {
            let (chunk, tail) = rest.split_at(super::even_chunk(data.len(), parts, index).min(rest.len()));
            rest = tail;
            let end = index + 1 == parts;
            let (start_bit, end_bit) = (if index == 0 { 0x80 } else { 0 }, if end { 0x40 } else { 0 });
            let header = [indicator, start_bit | end_bit | (h & 0x1f)];
            let marker = last && end;
            match &mut self.emit {
                Emit::Whole(emit) => {
                    self.buf.clear();
                    self.buf.extend_from_slice(&header);
                    self.buf.extend_from_slice(chunk);
                    emit(Payload { data: &self.buf, marker });
                }
                Emit::Parts(emit) => emit(PayloadParts { header: &header, body: chunk, marker }),
            }
            self.count += 1;
        }
    }
}

impl Packetizer for H264Packetizer {
    /// Packetizes one access unit in Annex-B form. [`PacketizeError::BadFrame`] when it does not open with
    /// a start code, holds no NAL unit, or holds one of type 0 or 24 to 31; [`PacketizeError::MtuTooSmall`]
    /// below [`MIN_PAYLOAD`].
    fn packetize(
        &mut self,
        frame: &[u8],
        max_payload: usize,
        emit: &mut dyn FnMut(Payload<'_>),
    ) -> Result<usize, PacketizeError> {
        self.split(frame, max_payload, Emit::Whole(emit))
    }

    /// The payloads of [`H264Packetizer::packetize`] in two parts: a single NAL unit packet as its body
    /// alone, a FU-A fragment as its two header octets and a body borrowed from the NAL unit, a STAP-A
    /// (built in the scratch buffer) as its header alone. A repeated SPS or PPS is borrowed from the
    /// packetizer.
    fn packetize_parts(
        &mut self,
        frame: &[u8],
        max_payload: usize,
        emit: &mut dyn FnMut(PayloadParts<'_>),
    ) -> Result<usize, PacketizeError> {
        self.split(frame, max_payload, Emit::Parts(emit))
    }
}

impl H264Packetizer {
    /// [`Packetizer::packetize`] and [`Packetizer::packetize_parts`].
    fn split(&mut self, frame: &[u8], max_payload: usize, emit: Emit<'_>) -> Result<usize, PacketizeError> {
        if max_payload < MIN_PAYLOAD {
            return Err(PacketizeError::MtuTooSmall);
        }
        // First pass: check the types, find the parameter sets, see whether an IDR picture lacks them.
        let (mut sps_before_idr, mut pps_before_idr, mut idr) = (false, false, false);
        let (mut new_sps, mut new_pps) = (None, None);
        let mut any = false;
        for nal in AnnexB::new(frame)? {
            let t = nal.first().map_or(0, |&h| nal_unit_type(h));
            if !is_nal_type(t) {
                return Err(PacketizeError::BadFrame);
            }
            any = true;
            match t {
                SPS => {
                    sps_before_idr |= !idr;
                    new_sps = Some(nal);
                }
                PPS => {
                    pps_before_idr |= !idr;
                    new_pps = Some(nal);
                }
                IDR => idr = true,
                _ => {}
            }
        }
        if !any {
            return Err(PacketizeError::BadFrame);
        }
        // Only parameter sets of earlier frames are repeated.
        let mut insert_sps = idr && !sps_before_idr && !self.sps.is_empty();
        let mut insert_pps = idr && !pps_before_idr && !self.pps.is_empty();
        if insert_sps || insert_pps {
            tracing::trace!(target: TARGET, insert_sps, insert_pps, "parameter sets put ahead of an IDR picture");
        }

        // Second pass: aggregate, send single or fragment.
        let (sps, pps) = (&self.sps[..], &self.pps[..]);
        let mut out = Out { buf: core::mem::take(&mut self.buf), emit, count: 0, max_payload };
        let mut pending = Pending::Nothing;
        let mut nals = AnnexB::new(frame)?.peekable();
        while let Some(nal) = nals.next() {
            let t = nal.first().map_or(0, |&h| nal_unit_type(h));
            if insert_sps && (t == PPS || t == IDR) {
                insert_sps = false;
                pending = out.send(pending, sps, false);
            }
            if insert_pps && t == IDR {
                insert_pps = false;
                pending = out.send(pending, pps, false);
            }
            pending = out.send(pending, nal, nals.peek().is_none());
        }
        out.flush(pending, true);
        let count = out.count;
        self.buf = out.buf;
        for (set, new) in [(&mut self.sps, new_sps), (&mut self.pps, new_pps)] {
            if let Some(nal) = new.filter(|nal| nal.len() <= MAX_PARAMETER_SET_SIZE) {
                set.clear();
                set.extend_from_slice(nal);
            }
        }
        Ok(count)
    }
}

/// A FU-A run being reassembled: its fragments so far are at the end of the caller's frame.
#[derive(Debug, Clone, Copy)]
struct Run {
    /// Where the run's start code begins in the frame.
    start: usize,
    /// The frame's length after the run's last fragment so far: the run is still where it was written
    /// only if the frame has this length (and the start code and header at `start`).
    end: usize,
    /// The NAL unit's header octet.
    header: u8,
    /// Ended by [`Depacketizer::reset`]: cut off at the next call if still in the frame, not counted.
    reset: bool,
}

impl Run {
    /// Whether the run's octets are still the end of `frame` (the caller has not cleared or replaced it).
    fn in_frame(&self, frame: &[u8]) -> bool {
        let [a, b, c, d] = START_CODE;
        frame.len() == self.end && frame.get(self.start..self.start + 5) == Some(&[a, b, c, d, self.header])
    }
}

/// RTP payloads back into an Annex-B stream.
#[derive(Debug)]
pub struct H264Depacketizer {
    /// The FU-A run being reassembled, if any.
    run: Option<Run>,
    max_nal_size: usize,
    /// The last NAL unit written was a coded slice (or none since the last reset): a NAL unit that can open
    /// an access unit then does.
    after_vcl: bool,
    errors: u64,
}

impl Default for H264Depacketizer {
    fn default() -> Self {
        Self::new()
    }
}

impl H264Depacketizer {
    /// A depacketizer that reassembles NAL units of up to [`DEFAULT_MAX_NAL_SIZE`] octets.
    pub fn new() -> Self {
        Self::with_max_nal_size(DEFAULT_MAX_NAL_SIZE)
    }

    /// A depacketizer that reassembles NAL units of up to `max` octets from FU-A fragments; a longer run is
    /// dropped with [`DepacketizeError::BadFragment`].
    pub fn with_max_nal_size(max: usize) -> Self {
        H264Depacketizer { run: None, max_nal_size: max, after_vcl: true, errors: 0 }
    }

    /// Malformed payloads seen, FU-A runs abandoned included.
    pub fn errors(&self) -> u64 {
        self.errors
    }

    fn fail(&mut self, e: DepacketizeError, len: usize) -> DepacketizeError {
        self.errors += 1;
        tracing::debug!(target: TARGET, error = %e, len, "bad H.264 payload");
        e
    }

    /// Ends the current run, if any: its fragments are cut off the frame (when the frame still ends with
    /// them). Returns whether a run was open, `reset` aside.
    fn cut(&mut self, frame: &mut Vec<u8>) -> bool {
        let Some(run) = self.run.take() else { return false };
        if run.in_frame(frame) {
            frame.truncate(run.start);
        }
        !run.reset
    }

    /// A payload that is not the FU-A continuing the current run ends the run: the fragments so far are
    /// cut off the frame and counted.
    fn abandon_fragment(&mut self, frame: &mut Vec<u8>) {
        if self.cut(frame) {
            self.errors += 1;
            tracing::debug!(target: TARGET, "FU-A run without its end dropped");
        }
    }

    /// Whether a NAL unit opens an access unit, given what came before; records it as the last one.
    fn opens_frame(&mut self, nal: &[u8]) -> bool {
        let opens = self.after_vcl && can_open_access_unit(nal);
        self.after_vcl = nal.first().is_some_and(|&h| is_vcl(nal_unit_type(h)));
        opens
    }

    fn fu_a(&mut self, payload: &[u8], frame: &mut Vec<u8>) -> Result<PayloadInfo, DepacketizeError> {
        let [indicator, fu, data @ ..] = payload else {
            return Err(self.fail(DepacketizeError::Truncated, payload.len()));
        };
        let (start, end, t) = (fu & 0x80 != 0, fu & 0x40 != 0, nal_unit_type(*fu));
        if !is_nal_type(t) || (start && end) {
            self.abandon_fragment(frame);
            return Err(self.fail(DepacketizeError::Malformed, payload.len()));
        }
        let header = (indicator & 0xe0) | t;
        let mut info = PayloadInfo::default();
        if start {
            // A start while a run is open: that run never ended; this one begins anew.
            self.abandon_fragment(frame);
            if 1 + data.len() > self.max_nal_size {
                return Err(self.fail(DepacketizeError::BadFragment, payload.len()));
            }
            let at = frame.len();
            frame.reserve(START_CODE.len() + 1 + data.len());
            frame.extend_from_slice(&START_CODE);
            frame.push(header);
            frame.extend_from_slice(data);
            self.run = Some(Run { start: at, end: frame.len(), header, reset: false });
            info.keyframe = t == IDR || t == SPS;
            let head = [header, data.first().copied().unwrap_or(0)];
            info.frame_start = self.opens_frame(&head);
        } else {
            let run = match self.run {
                Some(run) if !run.reset && nal_unit_type(run.header) == t && run.in_frame(frame) => run,
                _ => {
                    self.abandon_fragment(frame);
                    return Err(self.fail(DepacketizeError::BadFragment, payload.len()));
                }
            };
            // The NAL unit so far: its header and the fragments' data.
            let nal_len = run.end - run.start - START_CODE.len();
            if nal_len + data.len() > self.max_nal_size {
                self.cut(frame);
                return Err(self.fail(DepacketizeError::BadFragment, payload.len()));
            }
            frame.extend_from_slice(data);
            self.run = Some(Run { end: frame.len(), ..run });
        }
        if end {
            self.run = None;
        }
        Ok(info)
    }

    /// The NAL units of a STAP-A, each behind a start code, in one pass that is undone if a unit turns out
    /// malformed.
    fn stap_a(&mut self, payload: &[u8], frame: &mut Vec<u8>) -> Result<PayloadInfo, DepacketizeError> {
        let mut rest = match payload {
            [] => return Err(self.fail(DepacketizeError::Empty, 0)),
            [_] => return Err(self.fail(DepacketizeError::Truncated, payload.len())),
            [_, rest @ ..] => rest,
        };
        let (len_before, after_vcl) = (frame.len(), self.after_vcl);
        // Each unit's 2-octet size becomes a 4-octet start code; every unit takes at least 3 octets.
        frame.reserve(rest.len() + rest.len() / 3 * 2);
        let mut info = PayloadInfo::default();
        let mut first = true;
        let error = loop {
            let [hi, lo, tail @ ..] = rest else {
                if rest.is_empty() {
                    return Ok(info);
                }
                break DepacketizeError::Truncated;
            };
            let len = usize::from(u16::from_be_bytes([*hi, *lo]));
            let Some((nal, tail)) = tail.split_at_checked(len) else { break DepacketizeError::BadLength };
            let t = match nal.first() {
                Some(&h) if is_nal_type(nal_unit_type(h)) => nal_unit_type(h),
                _ => break DepacketizeError::Malformed,
            };
            info.keyframe |= t == IDR || t == SPS;
            if first {
                info.frame_start = self.after_vcl && can_open_access_unit(nal);
                first = false;
            }
            self.after_vcl = is_vcl(t);
            frame.extend_from_slice(&START_CODE);
            frame.extend_from_slice(nal);
            rest = tail;
        };
        frame.truncate(len_before);
        self.after_vcl = after_vcl;
        Err(self.fail(error, payload.len()))
    }
}

impl Depacketizer for H264Depacketizer {
    /// Appends the NAL units of a single NAL unit packet or a STAP-A, each behind a start code, or a FU-A
    /// fragment (the first behind a start code and the NAL header the FU-A carries).
    ///
    /// A FU-A continuation or end without a start is [`DepacketizeError::BadFragment`]; any other payload
    /// while a run is open (a new start included) drops the run (counted, its fragments cut off the frame)
    /// and is handled normally. A frame taken while a run is open (a marker on a fragment that is not the
    /// last) holds the fragments so far. A run continues only in the frame it began in, unchanged in between
    /// by the caller. `keyframe` is an IDR slice or SPS in the payload (at the start of a FU-A);
    /// `frame_start` a first NAL unit that can open an access unit (a parameter set, delimiter, SEI or the
    /// first slice of a picture) after a coded slice.
    fn depacketize(&mut self, payload: &[u8], frame: &mut Vec<u8>) -> Result<PayloadInfo, DepacketizeError> {
        if self.run.is_some_and(|run| run.reset) {
            self.cut(frame);
        }
        let Some(&header) = payload.first() else {
            return Err(self.fail(DepacketizeError::Empty, 0));
        };
        match nal_unit_type(header) {
            FU_A => self.fu_a(payload, frame),
            STAP_A => {
                self.abandon_fragment(frame);
                self.stap_a(payload, frame)
            }
            t if is_nal_type(t) => {
                self.abandon_fragment(frame);
                frame.reserve(START_CODE.len() + payload.len());
                frame.extend_from_slice(&START_CODE);
                frame.extend_from_slice(payload);
                Ok(PayloadInfo {
                    frame_start: self.opens_frame(payload),
                    keyframe: t == IDR || t == SPS,
                    ..PayloadInfo::default()
                })
            }
            nal_type::STAP_B | nal_type::MTAP16 | nal_type::MTAP24 | nal_type::FU_B => {
                self.abandon_fragment(frame);
                Err(self.fail(DepacketizeError::Unsupported, payload.len()))
            }
            _ => {
                self.abandon_fragment(frame);
                Err(self.fail(DepacketizeError::Malformed, payload.len()))
            }
        }
    }

    /// Forgets the FU-A run, if any, without counting it: its fragments are cut off the frame at the next
    /// call, if the frame still ends with them.
    fn reset(&mut self) {
        if let Some(run) = &mut self.run {
            run.reset = true;
        }
        self.after_vcl = true;
    }
}

#[cfg(test)]
#[path = "tests/h264.rs"]
mod tests;
