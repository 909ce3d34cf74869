//! The pure parts of forwarding one publisher's packets to many viewers, each a small machine driven by
//! the caller's clock:
//!
//! - [`map_payload_type`]: the viewer's payload type for the publisher's codec (each connection
//!   negotiated its own numbers; the same format is found with [`Codec::same_format`]);
//! - [`starts_keyframe`]: whether a video payload starts a key frame (VP8: the descriptor's S bit with
//!   partition 0 and the payload header's P bit clear, RFC 7741 §4.3; H.264: an IDR slice or SPS,
//!   RFC 6184), with the detection in `sansrtc::packetize`;
//! - [`KeyframeGate`]: a viewer's video starts at a key frame, so its decoder starts clean; while it
//!   waits it says when to ask the publisher for one (at once, then again every [`GATE_RETRY`]);
//! - [`RequestLimiter`]: key-frame requests to the publisher, at most one per interval per track; a
//!   request that comes sooner is held back and sent when the interval ends (one for all of them), so
//!   that many viewers cannot flood the publisher, and none is forgotten;
//! - [`Timeline`]: the RTP timestamps a viewer sees, continuous across publishers (a new publisher's
//!   stream starts after the previous one's last timestamp, by the wall-clock time in between);
//! - [`Reorder`]: the publisher's packets put in sequence-number order, each once, before they are
//!   forwarded.
//!
//! Sequence numbers need no rewriting here: `write_rtp` numbers each viewer's packets itself, in the
//! order they are written. So the packets must be written in the publisher's order: a packet lost on the
//! publisher's way holds back those after it until its retransmission comes (the publisher's connection
//! asks for it with a NACK and restores the RTX packet), at most [`REORDER_WAIT`] (video) and
//! [`REORDER_MAX`] packets; a packet later than that is dropped. Duplicates do not get this far: the
//! publisher's connection counts a packet it had received already (Chromium probes the bandwidth with
//! retransmissions of packets already sent) and does not hand it up again. A packet that does not come
//! in time is given up:
//! the frame it was part of cannot be decoded, so the viewers' video waits for the next key frame, which
//! is requested (once for all of them). A viewer's own losses are its connection's: it NACKs, and its
//! connection answers from its retransmission history.

use alloc::collections::{BTreeMap, VecDeque};
use core::time::Duration;

use sansrtc::Instant;
use sansrtc::packetize::{h264, vp8};
use sansrtc::pc::Codec;

/// Key-frame requests passed on to the publisher per track at most once per this interval.
pub const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_millis(500);
/// A viewer waiting for a key frame asks again after this long.
pub const GATE_RETRY: Duration = Duration::from_secs(1);

/// The payload type of `codec` (the publisher's) among `viewer`'s negotiated codecs: the same format,
/// the one with the same format parameters first (H.264 offers several profiles and levels).
pub fn map_payload_type(codec: &Codec, viewer: &[Codec]) -> Option<u8> {
    let same = || viewer.iter().filter(|c| c.same_format(codec));
    same().find(|c| c.fmtp == codec.fmtp).or_else(|| same().next()).map(|c| c.payload_type)
}

/// Whether an RTP payload of `codec` starts a key frame (VP8 and H.264; other formats never do here,
/// so a gate on them stays closed).
pub fn starts_keyframe(codec: &Codec, payload: &[u8]) -> bool {
    if codec.name.eq_ignore_ascii_case("VP8") {
        match vp8::Descriptor::parse(payload) {
            Ok((descriptor, data)) => descriptor.frame_start() && vp8::is_key_frame(data),
            Err(_) => false,
        }
    } else if codec.name.eq_ignore_ascii_case("H264") {
        h264::payload_is_keyframe(payload)
    } else {
        false
    }
}

/// A viewer's video: closed until a key frame starts, then open until [`KeyframeGate::close`] (a new
/// publisher).
#[derive(Debug, Default)]
pub struct KeyframeGate {
    open: bool,
    /// When the last request on the viewer's behalf was made, while closed.
    asked: Option<Instant>,
    /// Packets dropped while closed.
    pub dropped: u64,
}

impl KeyframeGate {
    /// Whether packets pass.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Closes the gate: the next packets pass from the next key frame on.
    pub fn close(&mut self) {
        self.open = false;
        self.asked = None;
    }

    /// Whether a packet passes; `keyframe_start` opens the gate.
    pub fn pass(&mut self, keyframe_start: bool) -> bool {
        if !self.open && keyframe_start {
            self.open = true;
            self.asked = None;
        }
        if !self.open {
            self.dropped += 1;
        }
        self.open
    }

    /// While closed: whether to ask the publisher for a key frame now (the first time, then every
    /// [`GATE_RETRY`]); noted as asked when it says yes.
    pub fn wants_request(&mut self, now: Instant) -> bool {
        let due = !self.open && self.asked.is_none_or(|at| now >= at + GATE_RETRY);
        if due {
            self.asked = Some(now);
        }
        due
    }

    /// Notes a request made on the viewer's behalf for another reason (it joined): the retry counts from
    /// now.
    pub fn asked(&mut self, now: Instant) {
        if !self.open {
            self.asked = Some(now);
        }
    }
}

/// What [`RequestLimiter::request`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limited {
    /// Send the request now.
    Send,
    /// Held back: one request goes at [`RequestLimiter::poll_timeout`] for every request held.
    Held,
}

/// Key-frame requests to one publisher track: at most one per interval.
#[derive(Debug)]
pub struct RequestLimiter {
    interval: Duration,
    last: Option<Instant>,
    held: bool,
    /// Requests sent.
    pub sent: u64,
    /// Requests that joined one held back or already sent in the interval.
    pub merged: u64,
}

impl RequestLimiter {
    /// A limiter of one request per `interval`.
    pub fn new(interval: Duration) -> Self {
        RequestLimiter { interval, last: None, held: false, sent: 0, merged: 0 }
    }

    /// A request at `now`: send it, or hold it until the interval since the last one ends.
    pub fn request(&mut self, now: Instant) -> Limited {
        match self.last {
            Some(last) if now < last + self.interval => {
                self.merged += 1;
                self.held = true;
                Limited::Held
            }
            _ => {
                self.last = Some(now);
                self.sent += 1;
                Limited::Send
            }
        }
    }

    /// When a held request is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.held.then(|| self.last.map(|l| l + self.interval)).flatten()
    }

    /// Whether the held request is due at `now` (then it counts as sent).
    pub fn handle_timeout(&mut self, now: Instant) -> bool {
        if self.poll_timeout().is_some_and(|t| t <= now) {
            self.held = false;
            self.last = Some(now);
            self.sent += 1;
            // It stood for at least one request: the first merged one is now sent.
            self.merged = self.merged.saturating_sub(1);
            return true;
        }
        false
    }
}

/// One viewer track's RTP timestamps: the publisher's, shifted so that a new source (a new publisher,
/// or a new SSRC) continues where the last one ended, by the wall-clock time in between.
#[derive(Debug)]
pub struct Timeline {
    clock_rate: u32,
    source: Option<u64>,
    offset: u32,
    /// The latest timestamp given out, and when.
    last: Option<(u32, Instant)>,
}

impl Timeline {
    /// A timeline at `clock_rate` Hz.
    pub fn new(clock_rate: u32) -> Self {
        Timeline { clock_rate, source: None, offset: 0, last: None }
    }

    /// The viewer's timestamp for `timestamp` of `source` at `now`.
    pub fn rewrite(&mut self, now: Instant, source: u64, timestamp: u32) -> u32 {
        if self.source != Some(source) {
            self.source = Some(source);
            self.offset = match self.last {
                None => 0,
                Some((last, at)) => {
                    let gap = now.saturating_duration_since(at).as_micros() * u128::from(self.clock_rate) / 1_000_000;
                    let next = last.wrapping_add(u32::try_from(gap.max(1)).unwrap_or(u32::MAX / 2).min(u32::MAX / 2));
                    next.wrapping_sub(timestamp)
                }
            };
        }
        let out = timestamp.wrapping_add(self.offset);
        // Reordered packets do not move the last timestamp back (RFC 3550 arithmetic: half the space ahead).
        if self.last.is_none_or(|(last, _)| out.wrapping_sub(last) < 1 << 31) {
            self.last = Some((out, now));
        }
        out
    }
}

/// Video packets wait this long at most for one lost before them (its retransmission).
pub const REORDER_WAIT: Duration = Duration::from_millis(200);
/// Packets held back at most per stream; one more gives up on the oldest gap.
pub const REORDER_MAX: usize = 512;

/// What a [`Reorder`] gives out, in order.
#[derive(Debug, PartialEq, Eq)]
pub enum Release<T> {
    /// The next packet.
    Packet(T),
    /// This many packets were given up on before the next one.
    Lost(u64),
}

/// A stream's packets (by extended sequence number) put back in order: a packet after a missing one
/// waits until the missing one comes, for at most the wait given and [`REORDER_MAX`] packets; one behind
/// what was given out already is dropped (the connection hands each packet up once, so that is one too
/// late). Push packets, [`Reorder::handle_timeout`] at [`Reorder::poll_timeout`], and take what is
/// released with [`Reorder::poll`] until `None` after each call.
#[derive(Debug)]
pub struct Reorder<T> {
    wait: Duration,
    ssrc: Option<u32>,
    /// The next sequence number to give out.
    next: u64,
    held: BTreeMap<u64, T>,
    /// Since when the oldest gap has been waited for.
    gap_since: Option<Instant>,
    ready: VecDeque<Release<T>>,
    /// Packets that came too late (behind what was given out), dropped.
    pub late: u64,
    /// Packets given up on.
    pub lost: u64,
}

impl<T> Reorder<T> {
    /// A stream whose gaps are waited for `wait` at most.
    pub fn new(wait: Duration) -> Self {
        Reorder {
            wait,
            ssrc: None,
            next: 0,
            held: BTreeMap::new(),
            gap_since: None,
            ready: VecDeque::new(),
            late: 0,
            lost: 0,
        }
    }

    /// A packet of SSRC `ssrc` with extended sequence number `seq`, received at `now`. A new SSRC
    /// releases what the old one held and starts afresh.
    pub fn push(&mut self, now: Instant, ssrc: u32, seq: u64, packet: T) {
        if self.ssrc != Some(ssrc) {
            let held = core::mem::take(&mut self.held);
            self.ready.extend(held.into_values().map(Release::Packet));
            self.ssrc = Some(ssrc);
            self.next = seq;
            self.gap_since = None;
        }
        if seq < self.next {
            self.late += 1;
            return;
        }
        if seq == self.next && self.held.is_empty() {
            // In order, nothing waiting (the usual case): straight out, nothing allocated.
            self.ready.push_back(Release::Packet(packet));
            self.next += 1;
            return;
        }
        if seq > self.next && self.held.len() >= REORDER_MAX {
            self.skip(now);
        }
        self.held.insert(seq, packet);
        self.release(now);
    }

    /// Moves the run of packets from `next` on to the ready queue; notes when a gap starts waiting.
    fn release(&mut self, now: Instant) {
        while let Some(entry) = self.held.first_entry() {
            if *entry.key() != self.next {
                break;
            }
            self.ready.push_back(Release::Packet(entry.remove()));
            self.next += 1;
        }
        self.gap_since = match (self.held.is_empty(), self.gap_since) {
            (true, _) => None,
            (false, Some(since)) => Some(since),
            (false, None) => Some(now),
        };
    }

    /// Gives up on the oldest gap.
    fn skip(&mut self, now: Instant) {
        let Some(&first) = self.held.keys().next() else { return };
        let missing = first - self.next;
        self.lost += missing;
        self.ready.push_back(Release::Lost(missing));
        self.next = first;
        // The next gap, if any, waits from now.
        self.gap_since = None;
        self.release(now);
    }

    /// When the oldest gap is given up on.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.gap_since.map(|since| since + self.wait)
    }

    /// Gives up on a gap that waited long enough.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.poll_timeout().is_some_and(|t| t <= now) {
            self.skip(now);
        }
    }

    /// What is released, in order.
    pub fn poll(&mut self) -> Option<Release<T>> {
        self.ready.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sansrtc::pc::MediaKind;

    fn h264(payload_type: u8, profile_level_id: &str, mode: u8) -> Codec {
        let mut c = Codec::h264(payload_type, profile_level_id, payload_type + 1);
        c.fmtp =
            format!("level-asymmetry-allowed=1;packetization-mode={mode};profile-level-id={profile_level_id}").into();
        c
    }

    #[test]
    fn payload_types_map_by_format() {
        let vp8 = Codec::vp8();
        let opus = Codec::opus();
        let mut viewer_vp8 = Codec::vp8();
        viewer_vp8.payload_type = 120;
        let mut viewer_opus = Codec::opus();
        viewer_opus.payload_type = 63;
        let viewer = [viewer_opus.clone(), h264(102, "42001f", 1), h264(108, "42e01f", 1), viewer_vp8];
        assert_eq!(map_payload_type(&vp8, &viewer), Some(120));
        assert_eq!(map_payload_type(&opus, &viewer), Some(63));
        // The same fmtp first; else the same profile and packetization mode.
        assert_eq!(map_payload_type(&h264(96, "42e01f", 1), &viewer), Some(108));
        assert_eq!(map_payload_type(&h264(96, "42e034", 1), &viewer), Some(108));
        assert_eq!(map_payload_type(&h264(96, "42001f", 1), &viewer), Some(102));
        // Not negotiated by the viewer: no payload type.
        assert_eq!(map_payload_type(&h264(96, "42e01f", 0), &viewer), None);
        assert_eq!(map_payload_type(&h264(96, "64001f", 1), &viewer), None);
        assert_eq!(map_payload_type(&vp8, &[viewer_opus]), None);
        assert_eq!(vp8.kind, MediaKind::Video);
    }

    #[test]
    fn vp8_and_h264_key_frames_are_found() {
        let vp8 = Codec::vp8();
        // X=1, S=1, PID=0; I=1 with a 15-bit picture id; then the payload header, P bit clear: a key frame.
        assert!(starts_keyframe(&vp8, &[0x90, 0x80, 0x81, 0x23, 0x10, 0x02, 0x00]));
        // P set: an interframe.
        assert!(!starts_keyframe(&vp8, &[0x90, 0x80, 0x81, 0x23, 0x11, 0x02, 0x00]));
        // S clear: not the start of the frame, whatever its data.
        assert!(!starts_keyframe(&vp8, &[0x80, 0x80, 0x81, 0x23, 0x10, 0x02, 0x00]));
        // No descriptor extension: S=1, then the payload header.
        assert!(starts_keyframe(&vp8, &[0x10, 0x50, 0x01]));
        // Truncated or empty: not a key frame, no panic.
        assert!(!starts_keyframe(&vp8, &[0x90, 0x80]));
        assert!(!starts_keyframe(&vp8, &[]));
        let h264 = h264(102, "42e01f", 1);
        // An SPS, an IDR slice, a FU-A starting an IDR: key frames; a non-IDR slice and a FU-A middle: not.
        assert!(starts_keyframe(&h264, &[0x67, 0x42, 0xe0, 0x1f]));
        assert!(starts_keyframe(&h264, &[0x65, 0x88, 0x80]));
        assert!(starts_keyframe(&h264, &[0x7c, 0x85, 0x88]));
        assert!(!starts_keyframe(&h264, &[0x41, 0x9a]));
        assert!(!starts_keyframe(&h264, &[0x7c, 0x05, 0x88]));
        // A STAP-A with SPS and PPS.
        assert!(starts_keyframe(&h264, &[0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce]));
        // Other formats never open the gate.
        assert!(!starts_keyframe(&Codec::opus(), &[0x10, 0x50]));
    }

    #[test]
    fn the_gate_opens_on_a_key_frame_and_asks_while_it_waits() {
        let t0 = Instant::from_secs(5);
        let mut gate = KeyframeGate::default();
        assert!(!gate.is_open());
        assert!(gate.wants_request(t0));
        assert!(!gate.pass(false));
        assert!(!gate.wants_request(t0 + Duration::from_millis(999)));
        assert!(gate.wants_request(t0 + GATE_RETRY));
        assert!(!gate.pass(false));
        assert_eq!(gate.dropped, 2);
        // The key frame and everything after it pass; an open gate asks for nothing.
        assert!(gate.pass(true));
        assert!(gate.pass(false));
        assert!(!gate.wants_request(t0 + Duration::from_secs(10)));
        // A new publisher: closed again until its key frame.
        gate.close();
        assert!(!gate.pass(false));
        gate.asked(t0 + Duration::from_secs(20));
        assert!(!gate.wants_request(t0 + Duration::from_millis(20_500)));
        assert!(gate.wants_request(t0 + Duration::from_secs(21)));
        assert!(gate.pass(true));
        assert_eq!(gate.dropped, 3);
    }

    #[test]
    fn requests_are_limited_to_one_per_interval_and_none_is_lost() {
        let t0 = Instant::from_secs(1);
        let ms = |n| t0 + Duration::from_millis(n);
        let mut l = RequestLimiter::new(KEYFRAME_REQUEST_INTERVAL);
        assert_eq!(l.poll_timeout(), None);
        assert_eq!(l.request(t0), Limited::Send);
        // Ten viewers ask within the interval: held, one request for them all at its end.
        for i in 0..10 {
            assert_eq!(l.request(ms(10 + i)), Limited::Held);
        }
        assert_eq!(l.poll_timeout(), Some(ms(500)));
        assert!(!l.handle_timeout(ms(499)));
        assert!(l.handle_timeout(ms(500)));
        assert!(!l.handle_timeout(ms(500)));
        assert_eq!(l.poll_timeout(), None);
        assert_eq!((l.sent, l.merged), (2, 9));
        // The held one started a new interval.
        assert_eq!(l.request(ms(900)), Limited::Held);
        assert_eq!(l.poll_timeout(), Some(ms(1000)));
        assert!(l.handle_timeout(ms(1200)));
        // Long after: sent at once.
        assert_eq!(l.request(ms(5000)), Limited::Send);
        assert_eq!((l.sent, l.merged), (4, 9));
        // A flood of requests over 10 s sends at most one per interval (plus the first).
        let mut l = RequestLimiter::new(KEYFRAME_REQUEST_INTERVAL);
        let mut sent = 0;
        for i in 0..10_000 {
            let now = ms(i);
            sent += u64::from(l.handle_timeout(now));
            sent += u64::from(l.request(now) == Limited::Send);
        }
        assert_eq!(sent, l.sent);
        assert!((20..=21).contains(&sent), "{sent} requests in 10 s");
    }

    fn drain(r: &mut Reorder<u64>) -> Vec<Release<u64>> {
        core::iter::from_fn(|| r.poll()).collect()
    }

    #[test]
    fn packets_go_out_in_order_once_and_a_gap_waits_for_its_retransmission() {
        use Release::{Lost, Packet};
        let t0 = Instant::from_secs(2);
        let ms = |n| t0 + Duration::from_millis(n);
        let mut r = Reorder::new(REORDER_WAIT);
        r.push(t0, 7, 100, 100);
        r.push(t0, 7, 101, 101);
        assert_eq!(drain(&mut r), [Packet(100), Packet(101)]);
        assert_eq!(r.poll_timeout(), None);
        // 102 is lost on the way: 103 and 104 wait for it.
        r.push(ms(1), 7, 103, 103);
        r.push(ms(2), 7, 104, 104);
        assert_eq!(drain(&mut r), []);
        assert_eq!(r.poll_timeout(), Some(ms(201)));
        // Its retransmission comes: all three go, in order.
        r.push(ms(30), 7, 102, 102);
        assert_eq!(drain(&mut r), [Packet(102), Packet(103), Packet(104)]);
        assert_eq!(r.poll_timeout(), None);
        // Packets behind what went out are dropped.
        r.push(ms(31), 7, 103, 103);
        r.push(ms(31), 7, 50, 50);
        r.push(ms(32), 7, 106, 106);
        assert_eq!(r.late, 2);
        // 105 never comes: given up on after the wait, then 106 goes.
        r.handle_timeout(ms(231));
        assert_eq!(drain(&mut r), []);
        r.handle_timeout(ms(232));
        assert_eq!(drain(&mut r), [Lost(1), Packet(106)]);
        assert_eq!((r.lost, r.poll_timeout()), (1, None));
        // Its retransmission after all: too late.
        r.push(ms(240), 7, 105, 105);
        assert_eq!((drain(&mut r), r.late), (vec![], 3));
        // Two gaps: the second waits from when the first was given up on.
        r.push(ms(300), 7, 108, 108);
        r.push(ms(310), 7, 110, 110);
        r.handle_timeout(ms(500));
        assert_eq!(drain(&mut r), [Lost(1), Packet(108)]);
        assert_eq!(r.poll_timeout(), Some(ms(700)));
        r.push(ms(600), 7, 109, 109);
        assert_eq!(drain(&mut r), [Packet(109), Packet(110)]);
        // A new SSRC releases what was held and starts from its own numbers.
        r.push(ms(700), 7, 112, 112);
        r.push(ms(701), 8, 5, 5);
        r.push(ms(702), 8, 6, 6);
        assert_eq!(drain(&mut r), [Packet(112), Packet(5), Packet(6)]);
        assert_eq!(r.poll_timeout(), None);
    }

    #[test]
    fn what_is_held_is_bounded() {
        let t0 = Instant::from_secs(2);
        let mut r = Reorder::new(REORDER_WAIT);
        r.push(t0, 1, 0, 0);
        assert_eq!(drain(&mut r), [Release::Packet(0)]);
        // 1 is missing; a flood of later packets fills the buffer, and the next one gives up on the gap.
        for seq in 2..2 + REORDER_MAX as u64 {
            r.push(t0, 1, seq, seq);
        }
        assert_eq!(drain(&mut r), []);
        r.push(t0, 1, 10_000, 10_000);
        let out = drain(&mut r);
        assert_eq!(out.first(), Some(&Release::Lost(1)));
        assert_eq!(out.len(), 1 + REORDER_MAX);
        assert_eq!(r.held.len(), 1);
        // Far ahead numbers do not grow memory: each gives up on one gap at most.
        for seq in (20_000..30_000).step_by(2) {
            r.push(t0, 1, seq, seq);
            assert!(r.held.len() <= REORDER_MAX);
            drain(&mut r);
        }
    }

    #[test]
    fn timestamps_continue_across_publishers() {
        let t0 = Instant::from_secs(3);
        let mut t = Timeline::new(90_000);
        // The first source keeps its timestamps.
        assert_eq!(t.rewrite(t0, 1, 1000), 1000);
        assert_eq!(t.rewrite(t0 + Duration::from_millis(33), 1, 4000), 4000);
        // Reordered: rewritten the same way, and the last timestamp stays.
        assert_eq!(t.rewrite(t0 + Duration::from_millis(34), 1, 1000), 1000);
        // A new publisher 100 ms after the last packet, with timestamps of its own: 9000 ticks on.
        let later = t0 + Duration::from_millis(133);
        assert_eq!(t.rewrite(later, 2, u32::MAX - 10), 13_000);
        assert_eq!(t.rewrite(later + Duration::from_millis(33), 2, 2989), 13_000 + 3000);
        // A new source at the same instant still moves on by a tick.
        let mut a = Timeline::new(48_000);
        assert_eq!(a.rewrite(t0, 7, 500), 500);
        assert_eq!(a.rewrite(t0, 8, 123_456), 501);
        // Wrapping around is fine.
        let mut w = Timeline::new(90_000);
        assert_eq!(w.rewrite(t0, 1, u32::MAX), u32::MAX);
        assert_eq!(w.rewrite(t0 + Duration::from_millis(10), 2, 77), 899);
    }
}
