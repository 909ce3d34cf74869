//! The files, read once into memory, and their playback: which frame is due when, with which RTP
//! timestamp.
//!
//! A file becomes a [`Media`]: its frames in order, each with its time from the start of the file in
//! ticks of the RTP clock (IVF: `pts × timebase` at 90 kHz; Ogg Opus: the packet's start from its
//! granule position, at 48 kHz, which is also Opus's RTP clock, RFC 7587 §4.1), and the length of one
//! pass. A [`Playback`] walks it against the wall clock: the frame `i` of the current pass is due at
//! `origin + at_i` and carries RTP timestamp `base + at_i`. At the end of the file the next pass starts
//! where this one ends (origin and base move on by the pass's length), so the RTP timestamp keeps
//! increasing across loops. [`Playback::restart`] (a key-frame request) starts a pass at the first frame
//! now, its timestamp continuing from where the clock is.

use core::ops::Range;
use core::time::Duration;

use sansrtc::Instant;
use sansrtc::media_file::{IvfHeader, IvfReader, OggOpusReader};

/// A frame later than this is not sent late: playback moves on to now (see [`Playback::take_due`]).
const MAX_LATE: Duration = Duration::from_secs(1);

/// One encoded frame: where it sits in the file's bytes, and when (ticks of the RTP clock from the start).
pub struct Frame {
    /// Ticks from the start of the file.
    pub at: u64,
    /// Its bytes in [`Media::bytes`].
    pub range: Range<usize>,
}

/// A file's frames, in memory.
pub struct Media {
    /// The RTP clock rate.
    pub clock_rate: u32,
    /// The frames' bytes.
    pub bytes: Vec<u8>,
    /// The frames, in order.
    pub frames: Vec<Frame>,
    /// The length of one pass, in ticks (the last frame's time plus its duration).
    pub span: u64,
}

impl Media {
    /// The frame's bytes.
    pub fn data(&self, frame: &Frame) -> &[u8] {
        self.bytes.get(frame.range.clone()).unwrap_or_default()
    }

    /// An IVF file (VP8, VP9, AV1) at the 90 kHz video clock; returns it with its header.
    pub fn ivf(file: Vec<u8>) -> Result<(Media, IvfHeader), String> {
        let reader = IvfReader::new(&file).map_err(|e| format!("not an IVF file: {e}"))?;
        let header = *reader.header();
        if header.timebase_rate == 0 || header.timebase_scale == 0 {
            return Err("the IVF time base is zero".to_string());
        }
        let ticks = |pts: u64| {
            (u128::from(pts) * 90_000 * u128::from(header.timebase_scale) / u128::from(header.timebase_rate)) as u64
        };
        let mut frames = Vec::new();
        let mut first_pts = None;
        let mut reader = reader;
        while let Some(frame) = reader.next() {
            let frame = frame.map_err(|e| format!("IVF frame {}: {e}", frames.len()))?;
            // The reader's position is past this frame: its bytes end there.
            let end = reader.position();
            let start = end - frame.data.len();
            let first = *first_pts.get_or_insert(frame.pts);
            frames.push(Frame { at: ticks(frame.pts.saturating_sub(first)), range: start..end });
        }
        // A frame lasts as long as the gaps between frames do, on average (one time base unit if alone).
        let span = match (frames.first(), frames.last()) {
            (Some(first), Some(last)) if frames.len() > 1 => {
                let gap = (last.at - first.at) / (frames.len() as u64 - 1);
                last.at + gap.max(1)
            }
            (Some(_), _) => ticks(1).max(1),
            _ => return Err("the IVF file has no frames".to_string()),
        };
        Ok((Media { clock_rate: 90_000, bytes: file, frames, span }, header))
    }

    /// An Ogg Opus file at the 48 kHz Opus clock. Packets the reader reports broken are skipped.
    pub fn ogg_opus(file: &[u8]) -> Result<Media, String> {
        let mut reader = OggOpusReader::new();
        let (mut bytes, mut frames) = (Vec::new(), Vec::new());
        let mut skipped = 0u64;
        // Where the next packet starts, in 48 kHz samples of the stream (granule positions).
        let mut running: Option<u64> = None;
        let mut rest = file;
        loop {
            let taken = reader.push(rest);
            rest = rest.get(taken..).unwrap_or_default();
            while let Some(packet) = reader.poll_packet() {
                let Ok(p) = packet else {
                    skipped += 1;
                    continue;
                };
                let start = match (p.granule, running) {
                    (Some(end), _) => end.saturating_sub(u64::from(p.samples)),
                    (None, Some(r)) => r,
                    (None, None) => 0,
                };
                running = Some(start + u64::from(p.samples));
                let range = bytes.len()..bytes.len() + p.data.len();
                bytes.extend_from_slice(p.data);
                frames.push(Frame { at: start, range });
            }
            if rest.is_empty() {
                break;
            }
            if taken == 0 {
                return Err("the Ogg reader takes no more input".to_string());
            }
        }
        reader.finish().map_err(|e| format!("the Ogg file ends badly: {e}"))?;
        if skipped > 0 {
            println!("play_from_disk: {skipped} broken Ogg packets skipped");
        }
        let first = frames.first().map(|f| f.at).ok_or("the Ogg file has no Opus packets")?;
        for f in &mut frames {
            f.at -= first.min(f.at);
        }
        let span = running.unwrap_or(0).saturating_sub(first).max(1);
        Ok(Media { clock_rate: 48_000, bytes, frames, span })
    }

    /// `ticks` of this media's clock as a duration.
    fn duration(&self, ticks: u64) -> Duration {
        Duration::from_nanos((u128::from(ticks) * 1_000_000_000 / u128::from(self.clock_rate)) as u64)
    }

    /// A duration in ticks of this media's clock (rounded down).
    fn ticks(&self, d: Duration) -> u64 {
        (d.as_nanos() * u128::from(self.clock_rate) / 1_000_000_000) as u64
    }
}

/// Where one stream's playback is.
pub struct Playback {
    /// The next frame of the pass.
    pub next: usize,
    /// When the current pass's time zero is (the first frame of the pass is due then).
    origin: Instant,
    /// The RTP ticks of the current pass's time zero, counted from the stream's first timestamp.
    base: u64,
    /// The RTP ticks of the last frame sent (from the stream's first timestamp), if any.
    last: Option<u64>,
    /// The stream's first RTP timestamp (random, RFC 3550 §5.1).
    offset: u32,
    /// Passes completed.
    pub loops: u64,
    /// Restarts on key-frame requests.
    pub restarts: u64,
}

impl Playback {
    /// Playback from the first frame at `now`, the first frame with RTP timestamp `offset`.
    pub fn new(now: Instant, offset: u32) -> Playback {
        Playback { next: 0, origin: now, base: 0, last: None, offset, loops: 0, restarts: 0 }
    }

    /// When the next frame is due.
    pub fn due(&self, media: &Media) -> Instant {
        let at = media.frames.get(self.next).map_or(media.span, |f| f.at);
        self.origin + media.duration(at)
    }

    /// The next frame if it is due at `now`, with its RTP timestamp; moves on past it (to the next pass
    /// at the end of the file). A frame more than [`MAX_LATE`] late shifts the playback to now.
    pub fn take_due<'m>(&mut self, media: &'m Media, now: Instant) -> Option<(u32, &'m [u8])> {
        if self.next >= media.frames.len() {
            // The end of the file: the next pass starts where this one ends.
            self.origin += media.duration(media.span);
            self.base += media.span;
            self.next = 0;
            self.loops += 1;
        }
        let frame = media.frames.get(self.next)?;
        let due = self.origin + media.duration(frame.at);
        if due > now {
            return None;
        }
        let late = now.saturating_duration_since(due);
        if late > MAX_LATE {
            // The process was held up (suspended, starved): go on from here rather than send the backlog
            // in a burst, the clock and the RTP timestamps moving on together.
            self.origin += late;
            self.base += media.ticks(late);
        }
        self.next += 1;
        let ticks = self.base + frame.at;
        self.last = Some(ticks);
        Some((self.offset.wrapping_add(ticks as u32), media.data(frame)))
    }

    /// Starts a pass at the first frame now (a key-frame request: the file's first frame is a key
    /// frame). Its RTP timestamp is the clock's at `now`, and later than the last frame's.
    pub fn restart(&mut self, media: &Media, now: Instant) {
        let elapsed = now.saturating_duration_since(self.origin);
        let mut base = self.base + media.ticks(elapsed);
        if let Some(last) = self.last {
            base = base.max(last + 1);
        }
        self.origin = now;
        self.base = base;
        self.next = 0;
        self.restarts += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three frames of 30 fps video at the 90 kHz clock: at 0, 3000 and 6000 ticks.
    fn video() -> Media {
        let frames = (0..3u64).map(|i| Frame { at: i * 3000, range: i as usize..i as usize + 1 }).collect();
        Media { clock_rate: 90_000, bytes: vec![0, 1, 2], frames, span: 9000 }
    }

    /// Takes every frame due at `now`: (RTP timestamp, first byte).
    fn due(p: &mut Playback, m: &Media, now: Instant) -> Vec<(u32, u8)> {
        core::iter::from_fn(|| p.take_due(m, now)).map(|(ts, data)| (ts, data[0])).collect()
    }

    #[test]
    fn frames_are_paced_and_loop_with_increasing_timestamps() {
        let m = video();
        let t0 = Instant::from_secs(10);
        let mut p = Playback::new(t0, u32::MAX - 3000);
        assert_eq!(due(&mut p, &m, t0), [(u32::MAX - 3000, 0)]);
        assert_eq!(p.due(&m), t0 + Duration::from_nanos(33_333_333));
        assert_eq!(due(&mut p, &m, t0 + Duration::from_millis(40)), [(u32::MAX, 1)]);
        // Past the end: the second pass goes on where the first ends (9000 ticks, 100 ms), wrapping.
        let later = due(&mut p, &m, t0 + Duration::from_millis(100));
        assert_eq!(later, [(2999, 2), (5999, 0)]);
        assert_eq!(p.loops, 1);
    }

    #[test]
    fn a_restart_sends_the_first_frame_now_with_a_later_timestamp() {
        let m = video();
        let t0 = Instant::from_secs(10);
        let mut p = Playback::new(t0, 0);
        assert_eq!(due(&mut p, &m, t0 + Duration::from_millis(40)), [(0, 0), (3000, 1)]);
        p.restart(&m, t0 + Duration::from_millis(50));
        // The clock's time (50 ms: 4500 ticks), the first frame at once.
        assert_eq!(due(&mut p, &m, t0 + Duration::from_millis(50)), [(4500, 0)]);
        // A restart right after a frame went out still moves the timestamp on.
        p.restart(&m, t0 + Duration::from_millis(50));
        assert_eq!(due(&mut p, &m, t0 + Duration::from_millis(50)), [(4501, 0)]);
        assert_eq!(p.restarts, 2);
    }

    #[test]
    fn a_long_stall_skips_ahead_instead_of_bursting() {
        let m = video();
        let t0 = Instant::from_secs(10);
        let mut p = Playback::new(t0, 0);
        assert_eq!(due(&mut p, &m, t0), [(0, 0)]);
        // An hour later: one frame, stamped with the clock, not 36,000 passes.
        let sent = due(&mut p, &m, t0 + Duration::from_secs(3600));
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].0, 90_000 * 3600);
    }
}
