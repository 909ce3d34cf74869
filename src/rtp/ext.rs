//! RTP header extensions (RFC 8285): the one-byte and two-byte forms as a lazy iterator, typed values for
//! the extensions WebRTC uses, and the ID → kind map configured from SDP `a=extmap`.

use super::Error;

/// The `defined by profile` value of the one-byte form (RFC 8285 §4.2).
pub const ONE_BYTE_PROFILE: u16 = 0xBEDE;
/// The `defined by profile` value of the two-byte form, low 4 bits `appbits` (RFC 8285 §4.3).
pub const TWO_BYTE_PROFILE: u16 = 0x1000;

/// Which RFC 8285 form an extension block uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExtensionForm {
    /// One-byte headers: IDs 1..=14, 1..=16 octets of data.
    OneByte,
    /// Two-byte headers: IDs 1..=255, 0..=255 octets of data; `appbits` in the profile's low nibble.
    TwoByte {
        /// The 4 application bits.
        appbits: u8,
    },
}

impl ExtensionForm {
    /// The form for an extension block's profile value, or `None` for a non-RFC 8285 extension.
    pub fn from_profile(profile: u16) -> Option<Self> {
        match profile {
            ONE_BYTE_PROFILE => Some(ExtensionForm::OneByte),
            p if p & 0xfff0 == TWO_BYTE_PROFILE => Some(ExtensionForm::TwoByte { appbits: (p & 0xf) as u8 }),
            _ => None,
        }
    }

    /// The profile value for this form.
    pub fn profile(self) -> u16 {
        match self {
            ExtensionForm::OneByte => ONE_BYTE_PROFILE,
            ExtensionForm::TwoByte { appbits } => TWO_BYTE_PROFILE | u16::from(appbits & 0xf),
        }
    }

    /// Whether an element with this ID and data length fits this form.
    pub fn can_carry(self, id: u8, len: usize) -> bool {
        match self {
            ExtensionForm::OneByte => (1..=14).contains(&id) && (1..=16).contains(&len),
            ExtensionForm::TwoByte { .. } => id >= 1 && len <= 255,
        }
    }

    /// Octets an element with `len` octets of data takes.
    pub fn element_len(self, len: usize) -> usize {
        match self {
            ExtensionForm::OneByte => 1 + len,
            ExtensionForm::TwoByte { .. } => 2 + len,
        }
    }
}

/// One header extension element, borrowed from the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Extension<'a> {
    /// The local identifier (negotiated by SDP `a=extmap`).
    pub id: u8,
    /// The element's data.
    pub data: &'a [u8],
}

/// Lazy iterator over the elements of an RFC 8285 extension block. Padding octets are skipped; in the
/// one-byte form ID 15 stops processing (RFC 8285 §4.2). Yields an error once, then ends, if an element
/// runs past the block.
#[derive(Clone, Debug)]
pub struct Extensions<'a> {
    form: ExtensionForm,
    data: &'a [u8],
    pos: usize,
}

impl<'a> Extensions<'a> {
    /// Iterates the elements of `data` (the extension block after its 4-octet header) in `form`.
    pub fn new(form: ExtensionForm, data: &'a [u8]) -> Self {
        Self { form, data, pos: 0 }
    }

    /// The form of the block.
    pub fn form(&self) -> ExtensionForm {
        self.form
    }

    /// An empty iterator (no extension block).
    pub fn empty() -> Self {
        Self { form: ExtensionForm::OneByte, data: &[], pos: 0 }
    }
}

impl<'a> Iterator for Extensions<'a> {
    type Item = Result<Extension<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let first = *self.data.get(self.pos)?;
            if first == 0 {
                self.pos += 1; // padding
                continue;
            }
            let (id, len, hdr) = match self.form {
                ExtensionForm::OneByte => {
                    let id = first >> 4;
                    if id == 15 {
                        self.pos = self.data.len();
                        return None;
                    }
                    (id, usize::from(first & 0x0f) + 1, 1)
                }
                ExtensionForm::TwoByte { .. } => {
                    let Some(&len) = self.data.get(self.pos + 1) else {
                        self.pos = self.data.len();
                        return Some(Err(Error::ExtensionTruncated));
                    };
                    (first, usize::from(len), 2)
                }
            };
            let start = self.pos + hdr;
            let Some(data) = self.data.get(start..start + len) else {
                self.pos = self.data.len();
                return Some(Err(Error::ExtensionTruncated));
            };
            self.pos = start + len;
            return Some(Ok(Extension { id, data }));
        }
    }
}

/// The extensions sansrtc understands, identified in SDP by URI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExtensionKind {
    /// `http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time`: 24-bit 6.18 fixed-point seconds.
    AbsSendTime,
    /// `http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01`: 16-bit sequence.
    TransportWideCc,
    /// `urn:ietf:params:rtp-hdrext:sdes:mid` (RFC 9143).
    Mid,
    /// `urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id` (RFC 8852).
    RtpStreamId,
    /// `urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id` (RFC 8852).
    RepairedRtpStreamId,
    /// `urn:ietf:params:rtp-hdrext:ssrc-audio-level` (RFC 6464).
    AudioLevel,
    /// `urn:3gpp:video-orientation` (3GPP TS 26.114).
    VideoOrientation,
    /// `http://www.webrtc.org/experiments/rtp-hdrext/playout-delay`.
    PlayoutDelay,
}

impl ExtensionKind {
    /// Every kind.
    pub const ALL: [ExtensionKind; 8] = [
        ExtensionKind::AbsSendTime,
        ExtensionKind::TransportWideCc,
        ExtensionKind::Mid,
        ExtensionKind::RtpStreamId,
        ExtensionKind::RepairedRtpStreamId,
        ExtensionKind::AudioLevel,
        ExtensionKind::VideoOrientation,
        ExtensionKind::PlayoutDelay,
    ];

    /// The position of this kind in [`ExtensionKind::ALL`].
    pub const fn index(self) -> usize {
        match self {
            ExtensionKind::AbsSendTime => 0,
            ExtensionKind::TransportWideCc => 1,
            ExtensionKind::Mid => 2,
            ExtensionKind::RtpStreamId => 3,
            ExtensionKind::RepairedRtpStreamId => 4,
            ExtensionKind::AudioLevel => 5,
            ExtensionKind::VideoOrientation => 6,
            ExtensionKind::PlayoutDelay => 7,
        }
    }

    /// The SDP `a=extmap` URI.
    pub fn uri(self) -> &'static str {
        match self {
            ExtensionKind::AbsSendTime => "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
            ExtensionKind::TransportWideCc => {
                "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
            }
            ExtensionKind::Mid => "urn:ietf:params:rtp-hdrext:sdes:mid",
            ExtensionKind::RtpStreamId => "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
            ExtensionKind::RepairedRtpStreamId => "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
            ExtensionKind::AudioLevel => "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
            ExtensionKind::VideoOrientation => "urn:3gpp:video-orientation",
            ExtensionKind::PlayoutDelay => "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay",
        }
    }

    /// The kind for an SDP `a=extmap` URI.
    pub fn from_uri(uri: &str) -> Option<Self> {
        ExtensionKind::ALL.into_iter().find(|k| k.uri() == uri)
    }
}

/// A typed extension value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExtensionValue<'a> {
    /// abs-send-time: 24 bits, 6.18 fixed-point seconds.
    AbsSendTime(u32),
    /// Transport-wide sequence number.
    TransportWideCc(u16),
    /// Media identification.
    Mid(&'a str),
    /// RTP stream identifier (simulcast layer).
    RtpStreamId(&'a str),
    /// Repaired RTP stream identifier (RTX of a simulcast layer).
    RepairedRtpStreamId(&'a str),
    /// Client-to-mixer audio level (RFC 6464).
    AudioLevel {
        /// The V bit: the packet contains voice.
        voice: bool,
        /// Level in -dBov, 0..=127.
        level: u8,
    },
    /// Coordination of video orientation.
    VideoOrientation {
        /// C: back-facing camera.
        back_camera: bool,
        /// F: horizontal flip.
        flip: bool,
        /// Rotation, one of 0, 90, 180, 270 degrees.
        rotation: u16,
    },
    /// Playout delay limits, in units of 10 ms (12 bits each).
    PlayoutDelay {
        /// Minimum delay.
        min: u16,
        /// Maximum delay.
        max: u16,
    },
    /// An extension with no kind mapped to its ID, or whose data does not decode for its kind.
    Raw(Extension<'a>),
}

impl<'a> ExtensionValue<'a> {
    /// Decodes `data` as `kind`.
    pub fn decode(kind: ExtensionKind, data: &'a [u8]) -> Result<Self, Error> {
        let bad = Error::BadExtensionValue;
        let text = |d: &'a [u8]| {
            if d.is_empty() {
                return Err(bad);
            }
            core::str::from_utf8(d).map_err(|_| bad)
        };
        Ok(match (kind, data) {
            (ExtensionKind::AbsSendTime, [a, b, c]) => ExtensionValue::AbsSendTime(u32::from_be_bytes([0, *a, *b, *c])),
            (ExtensionKind::TransportWideCc, [a, b]) => ExtensionValue::TransportWideCc(u16::from_be_bytes([*a, *b])),
            (ExtensionKind::Mid, d) => ExtensionValue::Mid(text(d)?),
            (ExtensionKind::RtpStreamId, d) => ExtensionValue::RtpStreamId(text(d)?),
            (ExtensionKind::RepairedRtpStreamId, d) => ExtensionValue::RepairedRtpStreamId(text(d)?),
            (ExtensionKind::AudioLevel, [b, ..]) => {
                ExtensionValue::AudioLevel { voice: b & 0x80 != 0, level: b & 0x7f }
            }
            (ExtensionKind::VideoOrientation, [b, ..]) => ExtensionValue::VideoOrientation {
                back_camera: b & 0x08 != 0,
                flip: b & 0x04 != 0,
                rotation: u16::from(b & 0x03) * 90,
            },
            (ExtensionKind::PlayoutDelay, [a, b, c]) => ExtensionValue::PlayoutDelay {
                min: (u16::from(*a) << 4) | u16::from(b >> 4),
                max: (u16::from(b & 0x0f) << 8) | u16::from(*c),
            },
            _ => return Err(bad),
        })
    }

    /// The kind of a typed value (`None` for [`ExtensionValue::Raw`]).
    pub fn kind(&self) -> Option<ExtensionKind> {
        Some(match self {
            ExtensionValue::AbsSendTime(_) => ExtensionKind::AbsSendTime,
            ExtensionValue::TransportWideCc(_) => ExtensionKind::TransportWideCc,
            ExtensionValue::Mid(_) => ExtensionKind::Mid,
            ExtensionValue::RtpStreamId(_) => ExtensionKind::RtpStreamId,
            ExtensionValue::RepairedRtpStreamId(_) => ExtensionKind::RepairedRtpStreamId,
            ExtensionValue::AudioLevel { .. } => ExtensionKind::AudioLevel,
            ExtensionValue::VideoOrientation { .. } => ExtensionKind::VideoOrientation,
            ExtensionValue::PlayoutDelay { .. } => ExtensionKind::PlayoutDelay,
            ExtensionValue::Raw(_) => return None,
        })
    }

    /// The octets [`ExtensionValue::encode`] writes (without encoding it; an empty MID or RID, which
    /// `encode` refuses, is 0).
    pub(crate) fn encoded_len(&self) -> usize {
        match *self {
            ExtensionValue::AbsSendTime(_) | ExtensionValue::PlayoutDelay { .. } => 3,
            ExtensionValue::TransportWideCc(_) => 2,
            ExtensionValue::Mid(s) | ExtensionValue::RtpStreamId(s) | ExtensionValue::RepairedRtpStreamId(s) => s.len(),
            ExtensionValue::AudioLevel { .. } | ExtensionValue::VideoOrientation { .. } => 1,
            ExtensionValue::Raw(e) => e.data.len(),
        }
    }

    /// Encodes the value's data into `out`, returning how many octets it took (at most 255).
    pub fn encode(&self, out: &mut [u8; 255]) -> Result<usize, Error> {
        let put = |out: &mut [u8; 255], d: &[u8]| -> Result<usize, Error> {
            out.get_mut(..d.len()).ok_or(Error::BadExtensionValue)?.copy_from_slice(d);
            Ok(d.len())
        };
        match *self {
            ExtensionValue::AbsSendTime(t) => put(out, &t.to_be_bytes()[1..]),
            ExtensionValue::TransportWideCc(s) => put(out, &s.to_be_bytes()),
            ExtensionValue::Mid(s) | ExtensionValue::RtpStreamId(s) | ExtensionValue::RepairedRtpStreamId(s) => {
                if s.is_empty() {
                    return Err(Error::BadExtensionValue);
                }
                put(out, s.as_bytes())
            }
            ExtensionValue::AudioLevel { voice, level } => put(out, &[(u8::from(voice) << 7) | (level & 0x7f)]),
            ExtensionValue::VideoOrientation { back_camera, flip, rotation } => {
                let r = ((rotation / 90) % 4) as u8;
                put(out, &[(u8::from(back_camera) << 3) | (u8::from(flip) << 2) | r])
            }
            ExtensionValue::PlayoutDelay { min, max } => {
                let (min, max) = (min.min(0xfff), max.min(0xfff));
                put(out, &[(min >> 4) as u8, ((min & 0xf) << 4) as u8 | (max >> 8) as u8, max as u8])
            }
            ExtensionValue::Raw(e) => put(out, e.data),
        }
    }
}

/// Which extension kind each local ID stands for, as negotiated by SDP `a=extmap:ID URI`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtensionMap {
    kinds: [Option<ExtensionKind>; 256],
    /// The reverse map, in [`ExtensionKind::ALL`] order (0: not mapped), so that looking up an ID costs
    /// one index on the per-packet path.
    ids: [u8; ExtensionKind::ALL.len()],
}

impl Default for ExtensionMap {
    fn default() -> Self {
        Self::new()
    }
}

impl ExtensionMap {
    /// An empty map: every extension decodes as [`ExtensionValue::Raw`].
    pub fn new() -> Self {
        Self { kinds: [None; 256], ids: [0; ExtensionKind::ALL.len()] }
    }

    /// Maps `id` to `kind` (ID 0 is reserved and ignored). Replaces an earlier mapping of `id` or `kind`.
    pub fn insert(&mut self, id: u8, kind: ExtensionKind) {
        if id == 0 {
            return;
        }
        for k in self.kinds.iter_mut().filter(|k| **k == Some(kind)) {
            *k = None;
        }
        if let Some(k) = self.kinds.get_mut(usize::from(id)) {
            if let Some(old) = k.replace(kind).and_then(|old| self.ids.get_mut(old.index())) {
                *old = 0;
            }
        }
        if let Some(slot) = self.ids.get_mut(kind.index()) {
            *slot = id;
        }
    }

    /// Maps `id` to the kind of an SDP extmap URI; returns whether the URI is known.
    pub fn insert_uri(&mut self, id: u8, uri: &str) -> bool {
        match ExtensionKind::from_uri(uri) {
            Some(kind) => {
                self.insert(id, kind);
                true
            }
            None => false,
        }
    }

    /// The kind mapped to `id`.
    pub fn kind(&self, id: u8) -> Option<ExtensionKind> {
        self.kinds.get(usize::from(id)).copied().flatten()
    }

    /// The ID mapped to `kind`.
    pub fn id(&self, kind: ExtensionKind) -> Option<u8> {
        self.ids.get(kind.index()).copied().filter(|&id| id != 0)
    }

    /// The ID of every kind in [`ExtensionKind::ALL`] order, 0 for a kind not mapped.
    pub fn ids(&self) -> [u8; ExtensionKind::ALL.len()] {
        self.ids
    }

    /// Decodes an element: typed if its ID is mapped and its data decodes, raw otherwise.
    pub fn decode<'a>(&self, ext: Extension<'a>) -> ExtensionValue<'a> {
        self.kind(ext.id).and_then(|k| ExtensionValue::decode(k, ext.data).ok()).unwrap_or(ExtensionValue::Raw(ext))
    }
}
