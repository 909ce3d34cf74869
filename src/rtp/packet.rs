//! The RTP packet (RFC 3550 §5.1): a zero-copy view, a parsed representation, and a writer.

use alloc::vec::Vec;

use super::Error;
use super::ext::{Extension, ExtensionForm, ExtensionMap, ExtensionValue, Extensions};

/// Length of the fixed header: flags (V, P, X, CC; octet 0), M and payload type (1), sequence number
/// (2..4), timestamp (4..8) and SSRC (8..12); the CSRCs follow. The accessors read it by position.
pub const HEADER_LEN: usize = 12;

/// The fixed header a buffer shorter than [`HEADER_LEN`] reads as. `new_checked` refuses such a buffer, so
/// only a container whose `AsRef` later returns fewer bytes than it was checked with can ever see it.
const NO_HEADER: [u8; HEADER_LEN] = [0; HEADER_LEN];

/// A zero-copy view of an RTP packet. After [`Packet::new_checked`] succeeds, no accessor can panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
    /// Start of the payload (after CSRCs and the extension block).
    payload_start: usize,
    /// End of the payload (before padding).
    payload_end: usize,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Validates the version, CSRC list, extension block and padding against the buffer length.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let b = buffer.as_ref();
        let &[first, ..] = b.first_chunk::<HEADER_LEN>().ok_or(Error::Truncated)?;
        if first >> 6 != 2 {
            return Err(Error::BadVersion(first >> 6));
        }
        let mut start = HEADER_LEN + 4 * usize::from(first & 0x0f);
        if first & 0x10 != 0 {
            let &[_, _, l0, l1] = b.get(start..).and_then(<[u8]>::first_chunk).ok_or(Error::Truncated)?;
            start += 4 + 4 * usize::from(u16::from_be_bytes([l0, l1]));
        }
        if b.len() < start {
            return Err(Error::Truncated);
        }
        let mut end = b.len();
        if first & 0x20 != 0 {
            let pad = usize::from(*b.last().ok_or(Error::Truncated)?);
            if pad == 0 || pad > end - start {
                return Err(Error::BadPadding);
            }
            end -= pad;
        }
        Ok(Self { buffer, payload_start: start, payload_end: end })
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// The whole packet.
    pub fn as_bytes(&self) -> &[u8] {
        self.b()
    }

    /// The fixed header (one length check; every field below is read from it by position).
    fn fixed(&self) -> &[u8; HEADER_LEN] {
        self.b().first_chunk().unwrap_or(&NO_HEADER)
    }

    /// The P bit.
    pub fn has_padding(&self) -> bool {
        let &[flags, ..] = self.fixed();
        flags & 0x20 != 0
    }

    /// The X bit.
    pub fn has_extension(&self) -> bool {
        let &[flags, ..] = self.fixed();
        flags & 0x10 != 0
    }

    /// Number of CSRCs.
    pub fn csrc_count(&self) -> u8 {
        let &[flags, ..] = self.fixed();
        flags & 0x0f
    }

    /// The M bit.
    pub fn marker(&self) -> bool {
        let &[_, m_pt, ..] = self.fixed();
        m_pt & 0x80 != 0
    }

    /// The payload type.
    pub fn payload_type(&self) -> u8 {
        let &[_, m_pt, ..] = self.fixed();
        m_pt & 0x7f
    }

    /// The sequence number.
    pub fn sequence_number(&self) -> u16 {
        let &[_, _, a, b, ..] = self.fixed();
        u16::from_be_bytes([a, b])
    }

    /// The RTP timestamp.
    pub fn timestamp(&self) -> u32 {
        let &[_, _, _, _, a, b, c, d, ..] = self.fixed();
        u32::from_be_bytes([a, b, c, d])
    }

    /// The SSRC.
    pub fn ssrc(&self) -> u32 {
        let &[.., a, b, c, d] = self.fixed();
        u32::from_be_bytes([a, b, c, d])
    }

    /// The CSRCs.
    pub fn csrcs(&self) -> impl Iterator<Item = u32> + '_ {
        let list = self.b().get(HEADER_LEN..self.ext_at()).unwrap_or_default();
        list.chunks_exact(4).filter_map(|c| c.first_chunk().map(|&w| u32::from_be_bytes(w)))
    }

    fn ext_at(&self) -> usize {
        HEADER_LEN + 4 * usize::from(self.csrc_count())
    }

    /// The extension block (profile value and data after its 4-octet header), if the X bit is set.
    fn extension_block(&self) -> Option<(u16, &[u8])> {
        if !self.has_extension() {
            return None;
        }
        let block = self.b().get(self.ext_at()..self.payload_start)?;
        let (&[p0, p1, _, _], data) = block.split_first_chunk::<4>()?;
        Some((u16::from_be_bytes([p0, p1]), data))
    }

    /// The extension block's `defined by profile` value, if the X bit is set.
    pub fn extension_profile(&self) -> Option<u16> {
        self.extension_block().map(|(profile, _)| profile)
    }

    /// The extension block's data (after its 4-octet header), if the X bit is set.
    pub fn extension_data(&self) -> Option<&[u8]> {
        self.extension_block().map(|(_, data)| data)
    }

    /// The RFC 8285 header extension elements. Empty when there is no block or it is not RFC 8285.
    pub fn extensions(&self) -> Extensions<'_> {
        let block = self.extension_block();
        match block.and_then(|(profile, data)| Some((ExtensionForm::from_profile(profile)?, data))) {
            Some((form, data)) => Extensions::new(form, data),
            None => Extensions::empty(),
        }
    }

    /// The first element with this ID.
    pub fn extension(&self, id: u8) -> Option<&[u8]> {
        self.extensions().filter_map(Result::ok).find(|e| e.id == id).map(|e| e.data)
    }

    /// The typed value of `kind` according to `map`, if present and valid.
    pub fn extension_value(&self, map: &ExtensionMap, kind: super::ExtensionKind) -> Option<ExtensionValue<'_>> {
        let id = map.id(kind)?;
        ExtensionValue::decode(kind, self.extension(id)?).ok()
    }

    /// Offset of the payload.
    pub fn header_len(&self) -> usize {
        self.payload_start
    }

    /// The payload, without padding.
    pub fn payload(&self) -> &[u8] {
        self.b().get(self.payload_start..self.payload_end).unwrap_or_default()
    }

    /// Number of padding octets (0 without the P bit).
    pub fn padding_len(&self) -> usize {
        self.b().len() - self.payload_end
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    /// The fixed header, mutable (`None` only for a container that shrank after `new_checked`; the
    /// setters then do nothing).
    fn fixed_mut(&mut self) -> Option<&mut [u8; HEADER_LEN]> {
        self.bm().first_chunk_mut()
    }

    /// Sets the M bit.
    pub fn set_marker(&mut self, marker: bool) {
        if let Some([_, m_pt, ..]) = self.fixed_mut() {
            *m_pt = (*m_pt & 0x7f) | (u8::from(marker) << 7);
        }
    }

    /// Sets the payload type (7 bits).
    pub fn set_payload_type(&mut self, pt: u8) {
        if let Some([_, m_pt, ..]) = self.fixed_mut() {
            *m_pt = (*m_pt & 0x80) | (pt & 0x7f);
        }
    }

    /// Sets the sequence number.
    pub fn set_sequence_number(&mut self, seq: u16) {
        if let Some([_, _, field @ .., _, _, _, _, _, _, _, _]) = self.fixed_mut() {
            *field = seq.to_be_bytes();
        }
    }

    /// Sets the timestamp.
    pub fn set_timestamp(&mut self, ts: u32) {
        if let Some([_, _, _, _, field @ .., _, _, _, _]) = self.fixed_mut() {
            *field = ts.to_be_bytes();
        }
    }

    /// Sets the SSRC.
    pub fn set_ssrc(&mut self, ssrc: u32) {
        if let Some([_, _, _, _, _, _, _, _, field @ ..]) = self.fixed_mut() {
            *field = ssrc.to_be_bytes();
        }
    }

    /// The payload, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (s, e) = (self.payload_start, self.payload_end);
        self.bm().get_mut(s..e).unwrap_or_default()
    }
}

/// The fixed-header fields a writer needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Header {
    /// The M bit.
    pub marker: bool,
    /// Payload type (7 bits).
    pub payload_type: u8,
    /// Sequence number.
    pub sequence_number: u16,
    /// RTP timestamp.
    pub timestamp: u32,
    /// SSRC.
    pub ssrc: u32,
}

/// A parsed RTP packet borrowing its extension block and payload: `parse` then `emit` gives the same bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr<'a> {
    /// Fixed header fields.
    pub header: Header,
    /// CSRCs (the first `csrc_count`).
    pub csrcs: [u32; 15],
    /// Number of CSRCs.
    pub csrc_count: u8,
    /// The extension block: profile value and data (a multiple of 4 octets).
    pub extension: Option<(u16, &'a [u8])>,
    /// Payload.
    pub payload: &'a [u8],
    /// Padding octets, the last one holding their count (empty without the P bit).
    pub padding: &'a [u8],
}

impl<'a> Repr<'a> {
    /// Reads a checked packet.
    pub fn parse<T: AsRef<[u8]>>(packet: &'a Packet<T>) -> Self {
        let mut csrcs = [0; 15];
        for (slot, c) in csrcs.iter_mut().zip(packet.csrcs()) {
            *slot = c;
        }
        Self {
            header: Header {
                marker: packet.marker(),
                payload_type: packet.payload_type(),
                sequence_number: packet.sequence_number(),
                timestamp: packet.timestamp(),
                ssrc: packet.ssrc(),
            },
            csrcs,
            csrc_count: packet.csrc_count(),
            extension: packet.extension_block(),
            payload: packet.payload(),
            padding: packet.as_bytes().get(packet.payload_end..).unwrap_or_default(),
        }
    }

    /// Octets `emit` writes.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
            + 4 * usize::from(self.csrc_count.min(15))
            + self.extension.map_or(0, |(_, d)| 4 + d.len().div_ceil(4) * 4)
            + self.payload.len()
            + self.padding.len()
    }

    /// Appends the packet to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        let csrcs = self.csrcs.get(..usize::from(self.csrc_count)).ok_or(Error::TooManyCsrcs)?;
        let mut w = Writer::new(out, &self.header, csrcs)?;
        if let Some((profile, data)) = self.extension {
            w.raw_extension_block(profile, data)?;
        }
        let start = w.start;
        let out = w.finish_with(&[], self.payload)?;
        if !self.padding.is_empty() {
            set_flag(out, start, 0x20);
            out.extend_from_slice(self.padding);
        }
        Ok(())
    }
}

/// Writes an RTP packet into a `Vec`: fixed header and CSRCs, then header extensions, then the payload.
///
/// ```
/// use sansrtc::rtp::{ExtensionForm, ExtensionKind, ExtensionMap, ExtensionValue, Header, Packet, Writer};
///
/// let mut map = ExtensionMap::new();
/// map.insert(3, ExtensionKind::TransportWideCc);
/// let mut buf = Vec::new();
/// let header = Header { payload_type: 96, sequence_number: 7, timestamp: 90000, ssrc: 0x1234, marker: true };
/// let mut w = Writer::new(&mut buf, &header, &[])?;
/// w.start_extensions(ExtensionForm::OneByte)?;
/// w.extension_value(&map, &ExtensionValue::TransportWideCc(42))?;
/// w.finish(b"frame", 0)?;
/// let p = Packet::new_checked(&buf[..])?;
/// assert_eq!(p.extension_value(&map, ExtensionKind::TransportWideCc), Some(ExtensionValue::TransportWideCc(42)));
/// assert_eq!(p.payload(), b"frame");
/// # Ok::<(), sansrtc::rtp::Error>(())
/// ```
#[derive(Debug)]
pub struct Writer<'b> {
    out: &'b mut Vec<u8>,
    start: usize,
    /// Offset of the extension block header and its form, once started.
    ext: Option<(usize, Option<ExtensionForm>)>,
}

impl<'b> Writer<'b> {
    /// Appends the fixed header and `csrcs` to `out`.
    pub fn new(out: &'b mut Vec<u8>, header: &Header, csrcs: &[u32]) -> Result<Self, Error> {
        if csrcs.len() > 15 {
            return Err(Error::TooManyCsrcs);
        }
        let start = out.len();
        out.push(0x80 | csrcs.len() as u8);
        out.push((u8::from(header.marker) << 7) | (header.payload_type & 0x7f));
        out.extend_from_slice(&header.sequence_number.to_be_bytes());
        out.extend_from_slice(&header.timestamp.to_be_bytes());
        out.extend_from_slice(&header.ssrc.to_be_bytes());
        for c in csrcs {
            out.extend_from_slice(&c.to_be_bytes());
        }
        Ok(Self { out, start, ext: None })
    }

    /// Starts an RFC 8285 extension block in `form`.
    pub fn start_extensions(&mut self, form: ExtensionForm) -> Result<(), Error> {
        if self.ext.is_some() {
            return Err(Error::ExtensionUnrepresentable);
        }
        set_flag(self.out, self.start, 0x10);
        let at = self.out.len();
        self.out.extend_from_slice(&form.profile().to_be_bytes());
        self.out.extend_from_slice(&[0, 0]);
        self.ext = Some((at, Some(form)));
        Ok(())
    }

    fn raw_extension_block(&mut self, profile: u16, data: &[u8]) -> Result<(), Error> {
        if self.ext.is_some() {
            return Err(Error::ExtensionUnrepresentable);
        }
        set_flag(self.out, self.start, 0x10);
        let at = self.out.len();
        self.out.extend_from_slice(&profile.to_be_bytes());
        self.out.extend_from_slice(&[0, 0]);
        self.out.extend_from_slice(data);
        self.ext = Some((at, None));
        Ok(())
    }

    /// Appends one element; the block must have been started and the form must carry it.
    pub fn extension(&mut self, id: u8, data: &[u8]) -> Result<(), Error> {
        let Some((_, Some(form))) = self.ext else {
            return Err(Error::ExtensionUnrepresentable);
        };
        if !form.can_carry(id, data.len()) {
            return Err(Error::ExtensionUnrepresentable);
        }
        match form {
            ExtensionForm::OneByte => self.out.push((id << 4) | (data.len() - 1) as u8),
            ExtensionForm::TwoByte { .. } => self.out.extend_from_slice(&[id, data.len() as u8]),
        }
        self.out.extend_from_slice(data);
        Ok(())
    }

    /// Appends a typed value under the ID `map` gives its kind ([`ExtensionValue::Raw`] keeps its own ID).
    pub fn extension_value(&mut self, map: &ExtensionMap, value: &ExtensionValue<'_>) -> Result<(), Error> {
        let id = match value {
            ExtensionValue::Raw(Extension { id, .. }) => *id,
            v => v.kind().and_then(|k| map.id(k)).ok_or(Error::ExtensionUnrepresentable)?,
        };
        let mut data = [0u8; 255];
        let n = value.encode(&mut data)?;
        self.extension(id, data.get(..n).ok_or(Error::BadExtensionValue)?)
    }

    /// Closes the extension block (zero padding to 32 bits), appends the payload and `padding` octets of
    /// RTP padding (P bit; 0 for none). Returns the packet length.
    pub fn finish(self, payload: &[u8], padding: u8) -> Result<usize, Error> {
        self.finish_parts(&[], payload, padding)
    }

    /// [`Writer::finish`] with the payload in two parts, `head` then `body` (a payload format's header and
    /// a run of the frame, as [`crate::packetize::PayloadParts`] hands them): each copied once, into place.
    pub fn finish_parts(self, head: &[u8], body: &[u8], padding: u8) -> Result<usize, Error> {
        let start = self.start;
        let out = self.finish_with(head, body)?;
        if padding > 0 {
            set_flag(out, start, 0x20);
            out.resize(out.len() + usize::from(padding) - 1, 0);
            out.push(padding);
        }
        Ok(out.len() - start)
    }

    fn finish_with(self, head: &[u8], body: &[u8]) -> Result<&'b mut Vec<u8>, Error> {
        if let Some((at, _)) = self.ext {
            let data_len = self.out.len() - at - 4;
            let words = data_len.div_ceil(4);
            let len = u16::try_from(words).map_err(|_| Error::ExtensionUnrepresentable)?;
            self.out.resize(at + 4 + 4 * words, 0);
            if let Some([_, _, length @ ..]) = self.out.get_mut(at..).and_then(<[u8]>::first_chunk_mut::<4>) {
                *length = len.to_be_bytes();
            }
        }
        self.out.reserve(head.len() + body.len());
        self.out.extend_from_slice(head);
        self.out.extend_from_slice(body);
        Ok(self.out)
    }
}

/// Sets `bits` in the first octet (V, P, X, CC) of the packet the writer started at `start`.
fn set_flag(out: &mut [u8], start: usize, bits: u8) {
    if let Some(flags) = out.get_mut(start) {
        *flags |= bits;
    }
}
