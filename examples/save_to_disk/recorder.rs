//! What the recorder does with the media of one connection: VP8 frames into an IVF file, Opus packets
//! into an Ogg Opus file.
//!
//! Video goes through a [`VideoBuffer`] in [`Mode::Latency`]: packets are reordered, retransmissions
//! (restored by the connection) fill their holes, frames are assembled by the VP8 depacketizer and only
//! decodable ones come out; when the buffer gives a frame up it asks for a key frame, which goes to the
//! browser as a PLI ([`PeerConnection::request_keyframe`]). Frames before the first key frame are skipped;
//! that key frame's VP8 header gives the IVF header its size. Timestamps: time base 1/90000, each
//! frame's pts its RTP timestamp minus the first frame's.
//!
//! Audio packets are written as they arrive with [`OggOpusWriter`], whose granule positions count the
//! samples written: so that they follow the RTP timestamps (48 kHz), a gap in the timestamps (lost
//! packets, a pause of the sender) is filled with "no frame" packets (the TOC byte alone, RFC 6716
//! §3.2.1), which the decoder conceals; a packet older than the last one written is dropped.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use sansrtc::Instant;
use sansrtc::jitter::{Mode, VideoBuffer, VideoConfig, VideoEvent, VideoStats};
use sansrtc::media_file::{IvfHeader, IvfWriter, OggOpusWriter, OpusHead, OpusTags};
use sansrtc::packetize::vp8::Vp8Depacketizer;
use sansrtc::pc::{PeerConnection, RtpPacket, TransceiverId};

/// The longest timestamp gap filled with concealment packets: one second. A larger jump (a long pause,
/// a restarted stream) is filled up to this; the audio after it then starts that much later, no more.
const MAX_AUDIO_GAP: u32 = 48_000;

/// The stream a recorder takes: its transceiver, mid and payload type, once negotiated.
#[derive(Clone, Debug)]
pub struct Stream {
    /// The transceiver.
    pub transceiver: TransceiverId,
    /// Its mid.
    pub mid: String,
    /// The payload type of the codec (VP8, Opus).
    pub payload_type: u8,
}

impl Stream {
    fn takes(&self, packet: &RtpPacket) -> bool {
        // An RTX packet the connection could not restore, or another payload type: not this codec's.
        packet.transceiver == self.transceiver && packet.payload_type == self.payload_type && !packet.rtx
    }
}

/// The VP8 video of one transceiver into an IVF file.
pub struct VideoRecorder {
    /// The stream recorded, once negotiated.
    stream: Option<Stream>,
    buffer: VideoBuffer<Vp8Depacketizer>,
    file: BufWriter<File>,
    /// The IVF writer and the first frame's RTP timestamp, from the first key frame on.
    writer: Option<(IvfWriter, u32)>,
    /// Unwrapped pts of the last frame written and its RTP timestamp.
    last: Option<(u64, u32)>,
    out: Vec<u8>,
    /// Frame size from the first key frame.
    pub size: (u16, u16),
    /// Frames skipped before the first key frame.
    pub skipped: u64,
    /// Key frame requests sent (PLI).
    pub keyframe_requests: u64,
}

impl VideoRecorder {
    /// Creates `path` (the header is written with the first key frame).
    pub fn create(path: &Path) -> io::Result<VideoRecorder> {
        Ok(VideoRecorder {
            stream: None,
            buffer: VideoBuffer::new(VideoConfig::new(Mode::Latency), Vp8Depacketizer::new()),
            file: BufWriter::new(File::create(path)?),
            writer: None,
            last: None,
            out: Vec::new(),
            size: (0, 0),
            skipped: 0,
            keyframe_requests: 0,
        })
    }

    /// The stream to record, once negotiated.
    pub fn bind(&mut self, stream: Stream) {
        self.stream.get_or_insert(stream);
    }

    /// Whether the recorder has a stream.
    pub fn is_bound(&self) -> bool {
        self.stream.is_some()
    }

    /// The jitter buffer's counters.
    pub fn stats(&self) -> VideoStats {
        self.buffer.stats()
    }

    /// The buffer's next deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.buffer.poll_timeout()
    }

    /// One RTP packet (ignored unless it is of the stream). Then [`VideoRecorder::drain`].
    pub fn receive(&mut self, now: Instant, packet: &RtpPacket) {
        if !self.stream.as_ref().is_some_and(|s| s.takes(packet)) {
            return;
        }
        let _ = self.buffer.handle_receive_parts(
            now,
            packet.sequence_number as u16,
            packet.timestamp,
            packet.marker,
            packet.payload(),
        );
    }

    /// The buffer's deadline passed. Then [`VideoRecorder::drain`].
    pub fn handle_timeout(&mut self, now: Instant) {
        self.buffer.handle_timeout(now);
    }

    /// Writes the frames that are ready and sends the key frame requests the buffer makes; then drain the
    /// connection's `poll_transmit`.
    pub fn drain(&mut self, pc: &mut PeerConnection, now: Instant) -> io::Result<()> {
        if let Some(rtt) = pc.rtp_session().and_then(|s| s.rtt()) {
            self.buffer.set_rtt(rtt);
        }
        while let Some(event) = self.buffer.poll_event() {
            let frame = match event {
                VideoEvent::KeyframeRequest => {
                    let mid = self.stream.as_ref().map_or("", |s| s.mid.as_str());
                    if pc.request_keyframe(now, mid).is_ok() {
                        self.keyframe_requests += 1;
                    }
                    continue;
                }
                VideoEvent::Frame(f) => f,
            };
            if !frame.decodable {
                continue;
            }
            let (writer, first_ts) = match &mut self.writer {
                Some((w, first)) => (w, *first),
                None => {
                    let Some(size) = frame.keyframe.then(|| vp8_keyframe_size(frame.data)).flatten() else {
                        self.skipped += 1;
                        continue;
                    };
                    self.size = size;
                    let header = IvfHeader {
                        fourcc: IvfHeader::VP8,
                        width: size.0,
                        height: size.1,
                        timebase_rate: 90_000,
                        timebase_scale: 1,
                        frame_count: 0,
                    };
                    self.out.clear();
                    let writer = IvfWriter::new(&header, &mut self.out);
                    self.file.write_all(&self.out)?;
                    let (w, first) = self.writer.insert((writer, frame.timestamp));
                    (w, *first)
                }
            };
            // The pts runs on across RTP timestamp wraps; frames come out in order, so each step is
            // forwards (a frame with an earlier timestamp keeps the previous pts, IVF wants them rising).
            let pts = match self.last {
                None => u64::from(frame.timestamp.wrapping_sub(first_ts)),
                Some((pts, ts)) => pts + u64::from(frame.timestamp.wrapping_sub(ts)).min(u64::from(u32::MAX >> 1)),
            };
            self.last = Some((pts, frame.timestamp));
            self.out.clear();
            writer.write_frame(pts, frame.data, &mut self.out).map_err(io::Error::other)?;
            self.file.write_all(&self.out)?;
        }
        Ok(())
    }

    /// Patches the frame count (a file without any key frame gets a header of size 0×0 and no frames)
    /// and flushes. Returns the frames written.
    pub fn finish(mut self) -> io::Result<u32> {
        let writer = match self.writer.take() {
            Some((w, _)) => w,
            None => {
                let header = IvfHeader {
                    fourcc: IvfHeader::VP8,
                    width: 0,
                    height: 0,
                    timebase_rate: 90_000,
                    timebase_scale: 1,
                    frame_count: 0,
                };
                self.out.clear();
                let w = IvfWriter::new(&header, &mut self.out);
                self.file.write_all(&self.out)?;
                w
            }
        };
        writer.finish_io(&mut self.file)?;
        self.file.flush()?;
        self.file.get_ref().sync_all()?;
        Ok(writer.frame_count())
    }
}

/// The width and height a VP8 key frame declares (RFC 6386 §9.1: a 3-byte frame tag, the start code
/// `9d 01 2a`, then 14-bit width and height, each with 2 bits of scaling above).
pub fn vp8_keyframe_size(frame: &[u8]) -> Option<(u16, u16)> {
    let tag = frame.first()?;
    if tag & 1 != 0 || frame.get(3..6)? != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let le = |at: usize| Some(u16::from_le_bytes([*frame.get(at)?, *frame.get(at + 1)?]) & 0x3fff);
    Some((le(6)?, le(8)?))
}

/// The Opus audio of one transceiver into an Ogg Opus file.
pub struct AudioRecorder {
    /// The stream recorded, once negotiated.
    stream: Option<Stream>,
    serial: u32,
    file: BufWriter<File>,
    writer: Option<OggOpusWriter>,
    /// RTP timestamp the next packet should have, and the TOC byte of the last packet written.
    next: Option<(u32, u8)>,
    out: Vec<u8>,
    /// Packets written (received ones).
    pub packets: u64,
    /// Concealment packets written for gaps.
    pub concealed: u64,
    /// Packets dropped: late, duplicate, or not Opus.
    pub dropped: u64,
}

impl AudioRecorder {
    /// Creates `path` (the headers are written by [`AudioRecorder::bind`]). `serial` is the Ogg stream's.
    pub fn create(path: &Path, serial: u32) -> io::Result<AudioRecorder> {
        let file = BufWriter::new(File::create(path)?);
        Ok(AudioRecorder {
            stream: None,
            serial,
            file,
            writer: None,
            next: None,
            out: Vec::new(),
            packets: 0,
            concealed: 0,
            dropped: 0,
        })
    }

    /// The stream to record, once negotiated: writes the Ogg Opus headers (`channels`: 1, or 2 when the
    /// codec says `stereo=1`).
    pub fn bind(&mut self, stream: Stream, channels: u8) -> io::Result<()> {
        if self.writer.is_none() {
            self.start(channels)?;
            self.stream = Some(stream);
        }
        Ok(())
    }

    fn start(&mut self, channels: u8) -> io::Result<()> {
        self.out.clear();
        let tags = OpusTags::new("sansrtc save_to_disk");
        let writer = OggOpusWriter::new(&OpusHead::new(channels), &tags, self.serial, &mut self.out)
            .map_err(io::Error::other)?;
        self.file.write_all(&self.out)?;
        self.writer = Some(writer);
        Ok(())
    }

    /// Whether the recorder has a stream.
    pub fn is_bound(&self) -> bool {
        self.stream.is_some()
    }

    /// One RTP packet (ignored unless it is of the stream).
    pub fn receive(&mut self, packet: &RtpPacket) -> io::Result<()> {
        if !self.stream.as_ref().is_some_and(|s| s.takes(packet)) {
            return Ok(());
        }
        self.write(packet.timestamp, packet.payload())
    }

    /// Writes one Opus packet of the stream with its RTP timestamp, after the concealment packets a gap
    /// before it needs (nothing before [`AudioRecorder::bind`]).
    pub fn write(&mut self, timestamp: u32, payload: &[u8]) -> io::Result<()> {
        let Some(writer) = self.writer.as_mut() else { return Ok(()) };
        if payload.is_empty() {
            self.dropped += 1;
            return Ok(());
        }
        self.out.clear();
        if let Some((expected, toc)) = self.next {
            let ahead = timestamp.wrapping_sub(expected);
            if ahead >= 0x8000_0000 {
                // Behind what was written (late or duplicate): its place is taken.
                self.dropped += 1;
                return Ok(());
            }
            // Fill the gap with "no frame" packets of the last packet's frame size (code 0).
            let step = opus_frame_samples(toc);
            let mut gap = ahead.min(MAX_AUDIO_GAP);
            while gap >= step {
                writer.write_packet(&[toc & !3], &mut self.out).map_err(io::Error::other)?;
                self.concealed += 1;
                gap -= step;
            }
        }
        let before = writer.granule();
        match writer.write_packet(payload, &mut self.out) {
            Ok(after) => {
                let samples = u32::try_from(after - before).unwrap_or(0);
                let toc = payload.first().copied().unwrap_or(0);
                self.next = Some((timestamp.wrapping_add(samples), toc));
                self.packets += 1;
            }
            // Not an Opus packet (a TOC that does not parse): dropped.
            Err(_) => self.dropped += 1,
        }
        self.file.write_all(&self.out)
    }

    /// Writes the last page (flagged end of stream) and flushes (a file without a stream gets the
    /// headers of a mono stream and no audio). Returns the packets written.
    pub fn finish(mut self) -> io::Result<u64> {
        if self.writer.is_none() {
            self.start(1)?;
        }
        if let Some(writer) = self.writer.take() {
            self.out.clear();
            writer.finish(&mut self.out).map_err(io::Error::other)?;
            self.file.write_all(&self.out)?;
        }
        self.file.flush()?;
        self.file.get_ref().sync_all()?;
        Ok(self.packets)
    }
}

/// The duration of one Opus frame of this TOC's configuration, in 48 kHz samples (RFC 6716 §3.1).
pub fn opus_frame_samples(toc: u8) -> u32 {
    let config = toc >> 3;
    match config {
        0..=11 => [480, 960, 1920, 2880][usize::from(config & 3)],
        12..=15 => [480, 960][usize::from(config & 1)],
        _ => [120, 240, 480, 960][usize::from(config & 3)],
    }
}
