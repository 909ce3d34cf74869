//! Opus in Ogg (RFC 7845): the `OpusHead` and `OpusTags` headers, a writer that computes granule
//! positions from each packet's TOC byte (RFC 6716 §3.1), and a reader that gives every packet its
//! granule position.

use alloc::string::String;
use alloc::vec::Vec;

use super::OggError;
use super::ivf::le32;
use super::ogg::{OggReader, PageWriter};

const TARGET: &str = "sansrtc::media_file";

/// The pre-skip [`OpusHead::new`] sets: 3840 samples at 48 kHz (80 ms), what RFC 7845 §4.2 recommends
/// for a stream cut from the middle of an encoder's output (as a recording of a call is), so that the
/// decoder has converged before its output is kept.
pub const DEFAULT_PRE_SKIP: u16 = 3840;
/// The default longest page, in 48 kHz samples (one second).
pub const DEFAULT_MAX_PAGE_SAMPLES: u32 = 48_000;
/// The longest Opus packet duration: 120 ms at 48 kHz.
const MAX_PACKET_SAMPLES: u32 = 5760;

/// Duration of an Opus packet in 48 kHz samples, from its TOC byte (and frame count byte for code 3),
/// RFC 6716 §3.1 and §3.2.5.
pub(super) fn packet_samples(packet: &[u8]) -> Result<u32, OggError> {
    let toc = *packet.first().ok_or(OggError::BadOpusPacket)?;
    let config = toc >> 3;
    let frame = match (config, config & 3) {
        // SILK-only: 10, 20, 40, 60 ms.
        (0..=11, 0) => 480,
        (0..=11, 1) => 960,
        (0..=11, 2) => 1920,
        (0..=11, _) => 2880,
        // Hybrid: 10, 20 ms.
        (12..=15, 0 | 2) => 480,
        (12..=15, _) => 960,
        // CELT-only: 2.5, 5, 10, 20 ms.
        (_, 0) => 120,
        (_, 1) => 240,
        (_, 2) => 480,
        (_, _) => 960,
    };
    let frames = match toc & 3 {
        0 => 1,
        1 | 2 => 2,
        _ => u32::from(packet.get(1).ok_or(OggError::BadOpusPacket)? & 0x3f),
    };
    let samples = frame * frames;
    if frames == 0 || samples > MAX_PACKET_SAMPLES {
        return Err(OggError::BadOpusPacket);
    }
    Ok(samples)
}

/// The identification header (RFC 7845 §5.1).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OpusHead {
    /// Output channels (1..=255).
    pub channels: u8,
    /// Samples at 48 kHz to discard from the decoder's output at the start.
    pub pre_skip: u16,
    /// Sample rate of the original input (informational; 0 if unknown).
    pub input_sample_rate: u32,
    /// Gain to apply to the output, Q7.8 dB.
    pub output_gain: i16,
    /// Channel mapping family: 0 (mono or stereo, one stream), 1 (Vorbis order), 255 (undefined), ...
    pub mapping_family: u8,
    /// Streams in each packet (family other than 0).
    pub stream_count: u8,
    /// Of those, coupled (stereo) streams.
    pub coupled_count: u8,
    /// For each output channel, the decoded channel it comes from (family other than 0; `channels`
    /// entries).
    pub channel_mapping: Vec<u8>,
}

impl OpusHead {
    /// A header for mono or stereo (mapping family 0), with pre-skip [`DEFAULT_PRE_SKIP`] and an input
    /// rate of 48 kHz.
    pub fn new(channels: u8) -> Self {
        OpusHead {
            channels,
            pre_skip: DEFAULT_PRE_SKIP,
            input_sample_rate: 48_000,
            output_gain: 0,
            mapping_family: 0,
            stream_count: 1,
            coupled_count: u8::from(channels > 1),
            channel_mapping: Vec::new(),
        }
    }

    /// Parses an `OpusHead` packet.
    pub fn parse(packet: &[u8]) -> Result<Self, OggError> {
        let bad = OggError::BadOpusHead;
        if packet.get(..8) != Some(b"OpusHead") || packet.len() < 19 {
            return Err(bad);
        }
        let b = |i: usize| packet.get(i).copied().unwrap_or(0);
        // Major version 0 is the only one defined; minor versions stay compatible (§5.1).
        if b(8) >> 4 != 0 {
            return Err(bad);
        }
        let channels = b(9);
        if channels == 0 {
            return Err(bad);
        }
        let mut head = OpusHead {
            channels,
            pre_skip: u16::from_le_bytes([b(10), b(11)]),
            input_sample_rate: le32(packet, 12),
            output_gain: i16::from_le_bytes([b(16), b(17)]),
            mapping_family: b(18),
            stream_count: 1,
            coupled_count: u8::from(channels > 1),
            channel_mapping: Vec::new(),
        };
        if head.mapping_family == 0 {
            if channels > 2 {
                return Err(bad);
            }
        } else {
            head.stream_count = b(19);
            head.coupled_count = b(20);
            let table = packet.get(21..21 + usize::from(channels)).ok_or(bad)?;
            if head.stream_count == 0 || head.coupled_count > head.stream_count {
                return Err(bad);
            }
            let decoded = u16::from(head.stream_count) + u16::from(head.coupled_count);
            if table.iter().any(|&c| c != 255 && u16::from(c) >= decoded) {
                return Err(bad);
            }
            head.channel_mapping = table.to_vec();
        }
        Ok(head)
    }

    /// Appends the `OpusHead` packet to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<(), OggError> {
        if self.channels == 0 {
            return Err(OggError::Unrepresentable);
        }
        if self.mapping_family == 0 && self.channels > 2 {
            return Err(OggError::Unrepresentable);
        }
        if self.mapping_family != 0 && self.channel_mapping.len() != usize::from(self.channels) {
            return Err(OggError::Unrepresentable);
        }
        out.extend_from_slice(b"OpusHead");
        out.push(1);
        out.push(self.channels);
        out.extend_from_slice(&self.pre_skip.to_le_bytes());
        out.extend_from_slice(&self.input_sample_rate.to_le_bytes());
        out.extend_from_slice(&self.output_gain.to_le_bytes());
        out.push(self.mapping_family);
        if self.mapping_family != 0 {
            out.push(self.stream_count);
            out.push(self.coupled_count);
            out.extend_from_slice(&self.channel_mapping);
        }
        Ok(())
    }
}

/// The comment header (RFC 7845 §5.2): a vendor string and `NAME=value` comments.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct OpusTags {
    /// The vendor string (the encoder or muxer).
    pub vendor: String,
    /// The user comments, `NAME=value` each.
    pub comments: Vec<String>,
}

impl OpusTags {
    /// Tags with this vendor string and no comments.
    pub fn new(vendor: &str) -> Self {
        OpusTags { vendor: String::from(vendor), comments: Vec::new() }
    }

    /// Parses an `OpusTags` packet (strings that are not UTF-8 are kept with replacement characters).
    pub fn parse(packet: &[u8]) -> Result<Self, OggError> {
        let bad = OggError::BadOpusTags;
        if packet.get(..8) != Some(b"OpusTags") {
            return Err(bad);
        }
        let mut pos = 8;
        let string = |pos: &mut usize| -> Result<String, OggError> {
            let len = le32(packet.get(*pos..*pos + 4).ok_or(bad)?, 0) as usize;
            let bytes = packet.get(*pos + 4..).and_then(|r| r.get(..len)).ok_or(bad)?;
            *pos += 4 + len;
            Ok(String::from_utf8_lossy(bytes).into_owned())
        };
        let vendor = string(&mut pos)?;
        let count = le32(packet.get(pos..pos + 4).ok_or(bad)?, 0);
        pos += 4;
        // Each comment takes at least its 4-byte length: a count the packet cannot hold is a lie.
        if u64::from(count) * 4 > (packet.len() - pos) as u64 {
            return Err(bad);
        }
        let mut comments = Vec::with_capacity((count as usize).min(64));
        for _ in 0..count {
            comments.push(string(&mut pos)?);
        }
        Ok(OpusTags { vendor, comments })
    }

    /// Appends the `OpusTags` packet to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<(), OggError> {
        let len = |s: &str| u32::try_from(s.len()).map_err(|_| OggError::Unrepresentable);
        out.extend_from_slice(b"OpusTags");
        out.extend_from_slice(&len(&self.vendor)?.to_le_bytes());
        out.extend_from_slice(self.vendor.as_bytes());
        let count = u32::try_from(self.comments.len()).map_err(|_| OggError::Unrepresentable)?;
        out.extend_from_slice(&count.to_le_bytes());
        for c in &self.comments {
            out.extend_from_slice(&len(c)?.to_le_bytes());
            out.extend_from_slice(c.as_bytes());
        }
        Ok(())
    }
}

/// Writes an Ogg Opus file (RFC 7845): the `OpusHead` page (BOS, alone), the `OpusTags` page, then audio
/// pages whose granule positions count 48 kHz samples, pre-skip included, from each packet's TOC.
///
/// A page closes when the next packet would take it past `max_page_samples` (one second by default), when
/// its lacing fills, or on [`flush`](Self::flush) (a recorder that wants what it wrote to be readable
/// after a crash flushes more often). [`finish`](Self::finish) writes the last page, flagged EOS. Output
/// goes to a caller-owned `Vec<u8>`.
///
/// ```
/// use sansrtc::media_file::{OggOpusReader, OggOpusWriter, OpusHead, OpusTags};
///
/// let mut file = Vec::new();
/// let mut head = OpusHead::new(2);
/// head.pre_skip = 312;
/// let mut writer = OggOpusWriter::new(&head, &OpusTags::new("sansrtc"), 0x1234, &mut file)?;
/// let packet = [0xfc, 0xff, 0xfe]; // TOC: CELT fullband 20 ms, stereo, one frame
/// for _ in 0..50 {
///     writer.write_packet(&packet, &mut file)?;
/// }
/// writer.finish(&mut file)?;
///
/// let mut reader = OggOpusReader::new();
/// assert_eq!(reader.push(&file), file.len());
/// let mut last = 0;
/// while let Some(p) = reader.poll_packet() {
///     last = p?.granule.unwrap();
/// }
/// assert_eq!(last, 50 * 960);
/// assert_eq!(reader.head().unwrap().pre_skip, 312);
/// # Ok::<(), sansrtc::media_file::OggError>(())
/// ```
#[derive(Clone, Debug)]
pub struct OggOpusWriter {
    pages: PageWriter,
    granule: u64,
    page_samples: u64,
    max_page_samples: u32,
}

impl OggOpusWriter {
    /// Appends the two header pages to `out`. `serial` identifies the logical stream (pick it at random
    /// when files may be chained or multiplexed).
    pub fn new(head: &OpusHead, tags: &OpusTags, serial: u32, out: &mut Vec<u8>) -> Result<Self, OggError> {
        let mut pages = PageWriter::new(serial);
        let mut packet = Vec::new();
        head.emit(&mut packet)?;
        pages.write_packet(&packet, 0, out)?;
        pages.flush(out);
        packet.clear();
        tags.emit(&mut packet)?;
        pages.write_packet(&packet, 0, out)?;
        pages.flush(out);
        Ok(OggOpusWriter { pages, granule: 0, page_samples: 0, max_page_samples: DEFAULT_MAX_PAGE_SAMPLES })
    }

    /// Sets the longest page, in 48 kHz samples (at least one packet goes on each page).
    #[must_use]
    pub fn with_max_page_samples(mut self, samples: u32) -> Self {
        self.max_page_samples = samples;
        self
    }

    /// Adds one Opus packet; writes to `out` any page that closes. Returns the packet's end granule.
    ///
    /// Granule positions count the packets written, so a recorder fills a gap in its input (lost packets,
    /// a sender's DTX pause) with packets too, or the audio after it comes early: the TOC byte alone
    /// (code 0 with a frame of length 0, "no frame", RFC 6716 §3.2.1 and §3.2.2) makes the decoder conceal
    /// that frame.
    pub fn write_packet(&mut self, packet: &[u8], out: &mut Vec<u8>) -> Result<u64, OggError> {
        let samples = u64::from(packet_samples(packet)?);
        if self.pages.pending_packets() > 0 && self.page_samples + samples > u64::from(self.max_page_samples) {
            self.flush(out);
        }
        let granule = self.granule + samples;
        self.pages.write_packet(packet, granule, out)?;
        self.granule = granule;
        self.page_samples += samples;
        Ok(granule)
    }

    /// Writes the pending page now.
    pub fn flush(&mut self, out: &mut Vec<u8>) {
        self.pages.flush(out);
        self.page_samples = 0;
    }

    /// The granule position after the last packet (samples written, pre-skip included).
    pub fn granule(&self) -> u64 {
        self.granule
    }

    /// Writes the last page, flagged EOS.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), OggError> {
        self.pages.finish(None, out)
    }

    /// Writes the last page, flagged EOS, with `end_granule` as its granule position: the decoder drops
    /// the samples past it (end trimming, RFC 7845 §4.5). It must lie within the last page.
    pub fn finish_at(mut self, end_granule: u64, out: &mut Vec<u8>) -> Result<(), OggError> {
        self.pages.finish(Some(end_granule), out)
    }
}

/// One audio packet read from an Ogg Opus stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpusPacket<'a> {
    /// The Opus packet.
    pub data: &'a [u8],
    /// Its duration in 48 kHz samples, from the TOC.
    pub samples: u32,
    /// The granule position at its end (48 kHz samples, pre-skip included), from the page granules and
    /// the durations of the packets around it; `None` if the stream gives none yet.
    pub granule: Option<u64>,
    /// The last packet of the stream (EOS page).
    pub eos: bool,
}

/// Reads an Ogg Opus stream arriving in chunks: the headers, then audio packets with their granule
/// positions.
///
/// The same loop as [`OggReader`]: [`push`](Self::push), [`poll_packet`](Self::poll_packet) until
/// `None`, push the rest; [`finish`](Self::finish) at the end. Errors of the Ogg layer are passed on and
/// the reader goes on. Each packet's end granule is exact on every page: the previous page's granule
/// plus the durations so far, or, on the first audio page, the page's granule minus the durations of the
/// packets after it; on the EOS page it never passes the page's granule (end trimming).
#[derive(Clone, Debug, Default)]
pub struct OggOpusReader {
    ogg: OggReader,
    head: Option<OpusHead>,
    tags: Option<OpusTags>,
    running: Option<u64>,
}

impl OggOpusReader {
    /// A reader with the default bounds.
    pub fn new() -> Self {
        Self::default()
    }

    /// The identification header, once read.
    pub fn head(&self) -> Option<&OpusHead> {
        self.head.as_ref()
    }

    /// The comment header, once read.
    pub fn tags(&self) -> Option<&OpusTags> {
        self.tags.as_ref()
    }

    /// Takes bytes from the front of `data`, as many as fit, and returns how many.
    pub fn push(&mut self, data: &[u8]) -> usize {
        self.ogg.push(data)
    }

    /// Reads once from `source` into the buffer, as [`push`](Self::push) would take it, and returns how
    /// many bytes came (0: the end of `source`).
    #[cfg(feature = "std")]
    pub fn read_from<R: std::io::Read>(&mut self, source: &mut R) -> std::io::Result<usize> {
        self.ogg.read_from(source)
    }

    /// Call at the end of the input: an error if it ended inside a page or a packet.
    pub fn finish(&self) -> Result<(), OggError> {
        self.ogg.finish()
    }

    /// The next audio packet, an error, or `None` when more bytes are needed.
    #[must_use]
    pub fn poll_packet(&mut self) -> Option<Result<OpusPacket<'_>, OggError>> {
        loop {
            let slot = match self.ogg.advance()? {
                Ok(slot) => slot,
                Err(e) => {
                    // Pages may be lost: count again from the next page's granule.
                    self.running = None;
                    return Some(Err(e));
                }
            };
            if slot.bos() && self.head.is_some() {
                // A chained stream: headers again.
                self.head = None;
                self.tags = None;
                self.running = None;
            }
            if self.head.is_none() {
                match OpusHead::parse(self.ogg.slot_data(&slot)) {
                    Ok(head) => {
                        tracing::debug!(target: TARGET, channels = head.channels, pre_skip = head.pre_skip, "OpusHead");
                        self.head = Some(head);
                        continue;
                    }
                    Err(e) => return Some(Err(e)),
                }
            }
            if self.tags.is_none() {
                let tags = OpusTags::parse(self.ogg.slot_data(&slot));
                self.tags = Some(tags.clone().unwrap_or_default());
                match tags {
                    Ok(_) => continue,
                    Err(e) => return Some(Err(e)),
                }
            }
            let samples = packet_samples(self.ogg.slot_data(&slot));
            let dur = u64::from(samples.unwrap_or(0));
            if slot.first_on_page() && self.running.is_none() {
                // The first audio page: count back from its granule.
                let mut later = 0u64;
                self.ogg.for_each_later_on_page(|head| later += u64::from(packet_samples(head).unwrap_or(0)));
                self.running = slot.page_granule().map(|g| g.saturating_sub(dur + later));
            }
            let mut end = self.running.map(|r| r + dur);
            let page_granule = slot.page_granule();
            if slot.page_eos() {
                // End trimming: nothing on the EOS page ends past its granule.
                end = match (end, page_granule) {
                    (Some(e), Some(g)) => Some(e.min(g)),
                    (e, g) => e.or(g),
                };
            } else if slot.last_on_page() && page_granule.is_some() {
                if end != page_granule {
                    tracing::debug!(target: TARGET, page = ?page_granule, computed = ?end, "Opus page granule differs from the packet durations");
                }
                end = page_granule;
            }
            self.running = end;
            let data = self.ogg.slot_data(&slot);
            return Some(match samples {
                Ok(samples) => Ok(OpusPacket { data, samples, granule: end, eos: slot.eos() }),
                Err(e) => Err(e),
            });
        }
    }
}
