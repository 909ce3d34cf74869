use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use super::*;
use crate::SeededRng;
use crate::packetize::{DepacketizeError, Depacketizer, PayloadInfo};
use crate::time::Instant;

/// A payload format for tests: one header byte (0x01 frame start, 0x02 key frame), then the data.
#[derive(Debug, Default)]
struct TestDepacketizer {
    resets: u32,
}

impl Depacketizer for TestDepacketizer {
    fn depacketize(&mut self, payload: &[u8], frame: &mut Vec<u8>) -> Result<PayloadInfo, DepacketizeError> {
        let (&h, data) = payload.split_first().ok_or(DepacketizeError::Empty)?;
        if h & 0xfc != 0 {
            return Err(DepacketizeError::Malformed);
        }
        frame.extend_from_slice(data);
        Ok(PayloadInfo { frame_start: h & 1 != 0, keyframe: h & 2 != 0, ..PayloadInfo::default() })
    }

    fn reset(&mut self) {
        self.resets += 1;
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Pkt {
    seq: u16,
    ts: u32,
    marker: bool,
    payload: Vec<u8>,
}

/// A video sender: frames of `n` packets, each packet's data its sequence number (two bytes).
struct Sender {
    seq: u16,
    ts: u32,
}

impl Sender {
    fn new(seq: u16, ts: u32) -> Self {
        Self { seq, ts }
    }

    fn frame(&mut self, n: usize, key: bool) -> Vec<Pkt> {
        let mut out = Vec::new();
        for i in 0..n {
            let h = u8::from(i == 0) | (u8::from(key && i == 0) << 1);
            let [a, b] = self.seq.to_be_bytes();
            out.push(Pkt { seq: self.seq, ts: self.ts, marker: i + 1 == n, payload: vec![h, a, b] });
            self.seq = self.seq.wrapping_add(1);
        }
        self.ts = self.ts.wrapping_add(3000);
        out
    }
}

/// The data a frame of these packets assembles to.
fn data_of(packets: &[Pkt]) -> Vec<u8> {
    packets.iter().flat_map(|p| p.payload[1..].to_vec()).collect()
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Out {
    at: Instant,
    ts: u32,
    first: u16,
    last: u16,
    key: bool,
    complete: bool,
    decodable: bool,
    data: Vec<u8>,
}

#[derive(Default)]
struct Drained {
    frames: Vec<Out>,
    keyframe_requests: Vec<Instant>,
}

fn drain(b: &mut VideoBuffer<TestDepacketizer>, now: Instant, into: &mut Drained) {
    while let Some(e) = b.poll_event() {
        match e {
            VideoEvent::Frame(f) => into.frames.push(Out {
                at: now,
                ts: f.timestamp,
                first: f.first_sequence,
                last: f.last_sequence,
                key: f.keyframe,
                complete: f.complete,
                decodable: f.decodable,
                data: f.data.to_vec(),
            }),
            VideoEvent::KeyframeRequest => into.keyframe_requests.push(now),
        }
    }
}

fn video(mode: Mode) -> VideoBuffer<TestDepacketizer> {
    VideoBuffer::new(VideoConfig::new(mode), TestDepacketizer::default())
}

fn push(b: &mut VideoBuffer<TestDepacketizer>, now: Instant, p: &Pkt) -> Arrival {
    b.handle_receive_parts(now, p.seq, p.ts, p.marker, &p.payload)
}

/// Runs a schedule of (arrival, packet) through the buffer with the documented loop: wake at the next
/// arrival or at `poll_timeout`, whichever is first; after the last arrival, until `poll_timeout` is
/// `None` or `until`.
fn run(b: &mut VideoBuffer<TestDepacketizer>, mut schedule: Vec<(Instant, Pkt)>, until: Instant) -> Drained {
    schedule.sort_by_key(|(t, _)| *t);
    let mut out = Drained::default();
    let mut i = 0;
    let mut now = Instant::ZERO;
    loop {
        let next_arrival = schedule.get(i).map(|(t, _)| *t);
        let wake = match (next_arrival, b.poll_timeout()) {
            (Some(a), Some(t)) => a.min(t),
            (a, t) => match a.or(t) {
                Some(w) => w,
                None => break,
            },
        };
        if wake > until {
            break;
        }
        assert!(wake >= now || b.poll_timeout().is_some_and(|t| t <= now), "time went backwards");
        now = now.max(wake);
        if b.poll_timeout().is_some_and(|t| t <= now) {
            b.handle_timeout(now);
        }
        drain(b, now, &mut out);
        while let Some((t, p)) = schedule.get(i) {
            if *t > now {
                break;
            }
            push(b, now, p);
            drain(b, now, &mut out);
            i += 1;
        }
        // The contract: nothing is left owed now.
        assert!(b.poll_event().is_none());
        if let Some(t) = b.poll_timeout()
            && t <= now
        {
            b.handle_timeout(now);
            drain(b, now, &mut out);
            assert!(b.poll_timeout().is_none_or(|t| t > now), "poll_timeout stuck at {t:?}");
        }
    }
    out
}

fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

#[test]
fn in_order_frames_come_out_whole() {
    let mut b = video(Mode::Latency);
    let mut s = Sender::new(1000, 90_000);
    let mut out = Drained::default();
    let mut sent = Vec::new();
    for f in 0..5 {
        let frame = s.frame(3, f == 0);
        for p in &frame {
            assert_eq!(push(&mut b, ms(33 * f as u64), p), Arrival::Stored);
        }
        drain(&mut b, ms(33 * f as u64), &mut out);
        sent.push(frame);
    }
    assert_eq!(out.frames.len(), 5);
    for (o, f) in out.frames.iter().zip(&sent) {
        assert_eq!((o.first, o.last, o.ts), (f[0].seq, f[2].seq, f[0].ts));
        assert_eq!(o.data, data_of(f));
        assert!(o.complete && o.decodable);
    }
    assert!(out.frames[0].key && !out.frames[1].key);
    assert!(out.keyframe_requests.is_empty());
    assert!(b.is_empty() && b.bytes() == 0);
    assert_eq!(b.stats().frames_emitted, 5);
    assert_eq!(b.poll_timeout(), None);
}

#[test]
fn a_frame_waits_for_its_marker() {
    let mut b = video(Mode::Latency);
    let mut s = Sender::new(1, 0);
    let frame = s.frame(3, true);
    let mut out = Drained::default();
    push(&mut b, ms(0), &frame[0]);
    push(&mut b, ms(0), &frame[1]);
    drain(&mut b, ms(0), &mut out);
    assert!(out.frames.is_empty());
    push(&mut b, ms(1), &frame[2]);
    drain(&mut b, ms(1), &mut out);
    assert_eq!(out.frames.len(), 1);
}

#[test]
fn reordering_within_the_window() {
    let mut rng = SeededRng::from_seed([7; 32]);
    let mut b = video(Mode::Latency);
    let mut s = Sender::new(40_000, 1);
    let mut packets = Vec::new();
    let mut frames = Vec::new();
    for f in 0..50 {
        let frame = s.frame(1 + (f % 5), f == 0);
        packets.extend(frame.clone());
        frames.push(frame);
    }
    // Each packet is delayed 0..15 ms: packets 1 ms apart are reordered across frames.
    let schedule: Vec<_> = packets.iter().enumerate().map(|(i, p)| (ms(i as u64 + rng.below(15)), p.clone())).collect();
    let out = run(&mut b, schedule, ms(10_000));
    assert_eq!(out.frames.len(), 50);
    for (o, f) in out.frames.iter().zip(&frames) {
        assert_eq!((o.first, o.ts, &o.data), (f[0].seq, f[0].ts, &data_of(f)));
        assert!(o.complete && o.decodable, "{o:?}");
    }
    assert!(out.keyframe_requests.is_empty());
    assert_eq!(b.stats().gaps_given_up, 0);
}

#[test]
fn a_loss_repaired_before_the_deadline() {
    let mut b = video(Mode::Latency);
    b.set_rtt(Duration::from_millis(40));
    b.set_nack_retries(2);
    assert_eq!(b.hold(), Duration::from_millis(140));
    let mut s = Sender::new(10, 0);
    let f0 = s.frame(3, true);
    let f1 = s.frame(3, false);
    let f2 = s.frame(3, false);
    let mut schedule = Vec::new();
    for (i, p) in f0.iter().chain(&f1).chain(&f2).enumerate() {
        if p.seq != f1[1].seq {
            schedule.push((ms(i as u64), p.clone()));
        }
    }
    // The retransmission arrives 130 ms after the gap was found (at 5 ms), within the 140 ms hold.
    schedule.push((ms(135), f1[1].clone()));
    let out = run(&mut b, schedule, ms(5_000));
    assert_eq!(out.frames.len(), 3);
    assert!(out.frames.iter().all(|f| f.complete && f.decodable));
    assert_eq!(out.frames[1].at, ms(135));
    assert_eq!(out.frames[1].data, data_of(&f1));
    assert!(out.keyframe_requests.is_empty());
    assert_eq!(b.stats().gaps_given_up, 0);
}

#[test]
fn latency_mode_takes_a_complete_keyframe_behind_a_gap_at_once() {
    let mut b = video(Mode::Latency);
    b.set_rtt(Duration::from_millis(40));
    b.set_nack_retries(2); // hold 140 ms
    let mut s = Sender::new(65_000, 0);
    let mut schedule = Vec::new();
    let mut frames = Vec::new();
    for f in 0..6u64 {
        // A key frame at 0 and at 4; frames every 33 ms.
        let frame = s.frame(3, f == 0 || f == 4);
        for (i, p) in frame.iter().enumerate() {
            // Frame 1 loses its middle packet, for good.
            if !(f == 1 && i == 1) {
                schedule.push((ms(33 * f + i as u64), p.clone()));
            }
        }
        frames.push(frame);
    }
    let out = run(&mut b, schedule, ms(5_000));
    let got: Vec<u32> = out.frames.iter().map(|f| f.ts).collect();
    // Frame 0; frames 1 to 3 are dropped (the gap, then nothing decodes); the key frame 4 comes at once
    // (complete, behind the gap), then 5.
    assert_eq!(got, vec![frames[0][0].ts, frames[4][0].ts, frames[5][0].ts]);
    assert!(out.frames.iter().all(|f| f.complete && f.decodable));
    assert_eq!(out.frames[1].at, ms(33 * 4 + 2), "the key frame waits for nothing");
    assert_eq!(b.stats().gaps_given_up, 0, "skipped, not given up");
    assert!(out.keyframe_requests.is_empty(), "the key frame came by itself");
    assert_eq!(b.stats().skipped, 8);
}

#[test]
fn latency_mode_without_a_keyframe_in_sight_gives_up_at_the_deadline() {
    let mut b = video(Mode::Latency);
    b.set_rtt(Duration::from_millis(40));
    b.set_nack_retries(2); // hold 140 ms
    let mut s = Sender::new(65_000, 0);
    let mut schedule = Vec::new();
    let mut frames = Vec::new();
    for f in 0..20u64 {
        let frame = s.frame(3, f == 0 || f == 12);
        for (i, p) in frame.iter().enumerate() {
            if !(f == 1 && i == 1) {
                schedule.push((ms(33 * f + i as u64), p.clone()));
            }
        }
        frames.push(frame);
    }
    let out = run(&mut b, schedule, ms(5_000));
    assert_eq!(out.keyframe_requests, vec![ms(35 + 140)]);
    let got: Vec<u32> = out.frames.iter().map(|f| f.ts).collect();
    let want: Vec<u32> = [0, 12, 13, 14, 15, 16, 17, 18, 19].iter().map(|&f| frames[f][0].ts).collect();
    assert_eq!(got, want);
    assert!(out.frames.iter().all(|f| f.decodable));
    assert_eq!(b.stats().gaps_given_up, 1);
    assert_eq!(b.stats().keyframe_requests, 1);
    // Frames 1..=4 (dropped at the deadline) and 5..=11 (not decodable) were not handed out.
    assert_eq!(b.stats().frames_dropped, 11);
}

#[test]
fn quality_mode_waits_up_to_the_bound_then_emits_marked_frames() {
    let mut b = video(Mode::Quality);
    b.set_rtt(Duration::from_millis(40));
    b.set_nack_retries(2); // hold 140 ms
    let mut s = Sender::new(500, 0);
    let mut schedule = Vec::new();
    let mut frames = Vec::new();
    for f in 0..8u64 {
        let frame = s.frame(3, f == 0 || f == 6);
        for (i, p) in frame.iter().enumerate() {
            if !(f == 1 && i == 1) {
                schedule.push((ms(33 * f + i as u64), p.clone()));
            }
        }
        frames.push(frame);
    }
    let out = run(&mut b, schedule, ms(5_000));
    assert_eq!(out.frames.len(), 8, "every frame is handed out");
    assert!(out.frames[0].decodable);
    // Frame 1 waits the whole hold (gap found at 35 ms, when the packet after it arrived), and the frames behind it with it.
    assert_eq!(out.frames[1].at, ms(35 + 140));
    assert!(!out.frames[1].complete && !out.frames[1].decodable);
    assert_eq!(out.frames[1].data, data_of(&[frames[1][0].clone(), frames[1][2].clone()]));
    for f in &out.frames[2..6] {
        assert!(f.complete && !f.decodable, "{f:?}");
        assert_eq!(f.at, ms(35 + 140));
    }
    assert!(out.frames[6].key && out.frames[6].decodable && out.frames[7].decodable);
    assert_eq!(out.keyframe_requests, vec![ms(35 + 140)]);
    assert_eq!(b.stats().frames_incomplete, 1);
}

#[test]
fn quality_mode_takes_a_late_repair_within_the_bound() {
    let mut b = video(Mode::Quality);
    b.set_rtt(Duration::from_millis(100));
    b.set_nack_retries(3); // hold 420 ms
    let mut s = Sender::new(500, 0);
    let f0 = s.frame(2, true);
    let f1 = s.frame(2, false);
    let mut schedule = vec![(ms(0), f0[0].clone()), (ms(0), f0[1].clone()), (ms(10), f1[1].clone())];
    schedule.push((ms(400), f0[0].clone())); // a duplicate
    schedule.push((ms(409), f1[0].clone())); // the third retransmission
    let out = run(&mut b, schedule, ms(5_000));
    assert_eq!(out.frames.len(), 2);
    assert_eq!(out.frames[1].at, ms(409));
    assert!(out.frames[1].decodable);
    assert_eq!(b.stats().late, 1);
}

/// At 2 frames per second, a loss holds a frame back for the round-trip bound, not until the next frame.
#[test]
fn two_frames_per_second_do_not_stall_on_a_loss() {
    for mode in [Mode::Latency, Mode::Quality] {
        let mut b = video(mode);
        b.set_rtt(Duration::from_millis(50));
        b.set_nack_retries(2);
        let hold = b.hold();
        assert_eq!(hold, Duration::from_millis(170));
        let mut s = Sender::new(1, 0);
        let mut schedule = Vec::new();
        for f in 0..6u64 {
            let frame = s.frame(5, f == 0 || f == 3);
            for (i, p) in frame.iter().enumerate() {
                // Frame 1 (at 500 ms) loses its second packet.
                if !(f == 1 && i == 1) {
                    schedule.push((ms(500 * f + i as u64), p.clone()));
                }
            }
        }
        let out = run(&mut b, schedule, ms(10_000));
        let found = ms(502);
        match mode {
            Mode::Latency => {
                // The key frame request goes out at the deadline, long before the next frame (1000 ms).
                assert_eq!(out.keyframe_requests[0], found + hold);
                assert!(found + hold < ms(1000));
            }
            Mode::Quality => {
                let f1 = &out.frames[1];
                assert!(!f1.complete);
                assert_eq!(f1.at, found + hold);
            }
        }
        // Frame 2 (delta, after the give-up) is emitted at its arrival in Quality mode, dropped in Latency
        // mode; either way no frame waited more than the hold.
        for f in &out.frames {
            let sent = ms(500 * u64::from(f.ts / 3000));
            assert!(f.at.saturating_duration_since(sent) <= hold + Duration::from_millis(5), "{mode:?} {f:?}");
        }
    }
}

#[test]
fn without_nack_a_gap_is_waited_for_reordering_only() {
    let mut b = video(Mode::Latency);
    b.set_nack_retries(0);
    assert_eq!(b.hold(), Duration::from_millis(20));
    let mut s = Sender::new(1, 0);
    let f0 = s.frame(3, true);
    push(&mut b, ms(0), &f0[0]);
    push(&mut b, ms(1), &f0[2]);
    assert_eq!(b.poll_timeout(), Some(ms(21)));
    let mut c = VideoConfig::new(Mode::Latency);
    c.max_hold = Duration::from_millis(50);
    let mut b = VideoBuffer::new(c, TestDepacketizer::default());
    b.set_rtt(Duration::from_secs(2));
    assert_eq!(b.hold(), Duration::from_millis(50), "max_hold caps the wait");
}

#[test]
fn duplicates_are_counted_and_dropped() {
    let mut b = video(Mode::Latency);
    let mut s = Sender::new(7, 0);
    let mut out = Drained::default();
    let f0 = s.frame(3, true);
    let f1 = s.frame(3, false);
    push(&mut b, ms(0), &f0[0]);
    assert_eq!(push(&mut b, ms(0), &f0[0]), Arrival::Duplicate);
    for p in f0.iter().skip(1).chain(&f1) {
        push(&mut b, ms(1), p);
        drain(&mut b, ms(1), &mut out);
        // After its frame was emitted, it is late.
        assert_eq!(push(&mut b, ms(1), p), if p.marker { Arrival::Late } else { Arrival::Duplicate });
    }
    drain(&mut b, ms(1), &mut out);
    assert_eq!(out.frames.len(), 2);
    assert_eq!(out.frames[1].data, data_of(&f1));
    let st = b.stats();
    assert_eq!((st.duplicates, st.late, st.packets_received), (4, 2, 12));
}

#[test]
fn sequence_numbers_wrap() {
    let mut b = video(Mode::Latency);
    let mut s = Sender::new(65_530, 0);
    let mut out = Drained::default();
    let mut sent = Vec::new();
    for f in 0..5 {
        let frame = s.frame(4, f == 0);
        // Delivered last packet first, to cross the wrap out of order.
        for p in frame.iter().rev() {
            push(&mut b, ms(f as u64), p);
        }
        drain(&mut b, ms(f as u64), &mut out);
        sent.push(frame);
    }
    assert_eq!(out.frames.len(), 5);
    assert_eq!(out.frames[1].first, 65_534);
    assert_eq!(out.frames[1].last, 1);
    for (o, f) in out.frames.iter().zip(&sent) {
        assert_eq!(o.data, data_of(f));
        assert!(o.decodable);
    }
}

#[test]
fn timestamps_wrap() {
    let mut b = video(Mode::Latency);
    let mut s = Sender::new(100, u32::MAX - 4000);
    let mut out = Drained::default();
    let mut want = Vec::new();
    for f in 0..4 {
        let frame = s.frame(2, f == 0);
        want.push(frame[0].ts);
        for p in &frame {
            push(&mut b, ms(f as u64), p);
        }
    }
    drain(&mut b, ms(5), &mut out);
    let got: Vec<u32> = out.frames.iter().map(|f| f.ts).collect();
    assert_eq!(got, want);
    assert!(want[1] > want[2], "the test crosses the wrap");
    assert!(out.frames.iter().all(|f| f.decodable));
}

#[test]
fn a_flood_of_sequence_numbers_keeps_memory_bounded() {
    for mode in [Mode::Latency, Mode::Quality] {
        let mut c = VideoConfig::new(mode);
        c.max_packets = 64;
        c.max_bytes = 64 * 8;
        let mut b = VideoBuffer::new(c, TestDepacketizer::default());
        let mut rng = SeededRng::from_seed([3; 32]);
        let mut s = Sender::new(20_000, 0);
        for p in s.frame(3, true) {
            push(&mut b, ms(0), &p);
        }
        let mut now = 1;
        let mut dropped = 0;
        let mut payload = [0u8; 8];
        for i in 0..50_000u32 {
            let seq = match i % 3 {
                0 => rng.u32() as u16,
                1 => 20_000u16.wrapping_add(32_768),
                _ => 20_000u16.wrapping_add(rng.below(3000) as u16),
            };
            // Payloads of any length and header, valid or not.
            rng.fill(&mut payload);
            let len = rng.below(9) as usize;
            let arrival = b.handle_receive_parts(ms(now), seq, rng.u32() % 4, rng.below(2) == 1, &payload[..len]);
            dropped += u64::from(arrival == Arrival::Dropped);
            assert!(b.len() <= 64, "{}", b.len());
            assert!(b.bytes() <= 64 * 8);
            now += u64::from(i % 10 == 0);
            if b.poll_timeout().is_some_and(|t| t <= ms(now)) {
                b.handle_timeout(ms(now));
            }
            while let Some(e) = b.poll_event() {
                if let VideoEvent::Frame(f) = e {
                    assert!(f.data.len() <= 64 * 8);
                }
            }
        }
        assert!(b.stats().dropped >= dropped && dropped > 10_000, "{dropped}");
        assert_eq!(b.capacity(), 64);
    }
}

#[test]
fn malformed_payloads_make_frames_incomplete() {
    for mode in [Mode::Latency, Mode::Quality] {
        let mut b = video(mode);
        let mut rng = SeededRng::from_seed([4; 32]);
        let mut s = Sender::new(0, 0);
        let mut out = Drained::default();
        let mut broken = 0;
        for f in 0..200u64 {
            for mut p in s.frame(4, f % 20 == 0) {
                if rng.below(40) == 0 {
                    // A header the payload format refuses.
                    p.payload[0] = 0x80 | rng.u32() as u8;
                    broken += 1;
                }
                push(&mut b, ms(f * 33), &p);
            }
            drain(&mut b, ms(f * 33), &mut out);
        }
        let st = b.stats();
        assert_eq!(st.depacketize_errors, broken);
        assert!(st.frames_incomplete > 0 && st.keyframe_requests > 0, "{st:?}");
        assert!(b.is_empty());
        match mode {
            Mode::Latency => assert!(out.frames.iter().all(|f| f.complete && f.decodable)),
            Mode::Quality => {
                assert_eq!(out.frames.len(), 200);
                assert_eq!(out.frames.iter().filter(|f| !f.complete).count() as u64, st.frames_incomplete);
            }
        }
    }
}

#[test]
fn a_far_jump_resets_the_stream_after_consecutive_packets() {
    let mut b = video(Mode::Latency);
    let mut s = Sender::new(1_000, 0);
    let mut out = Drained::default();
    for p in s.frame(2, true) {
        push(&mut b, ms(0), &p);
    }
    drain(&mut b, ms(0), &mut out);
    // The sender restarts 30,000 sequence numbers on, with a key frame of 6 packets.
    let mut s = Sender::new(31_000, 50_000);
    let frame = s.frame(6, true);
    let arrivals: Vec<Arrival> = frame.iter().map(|p| push(&mut b, ms(10), p)).collect();
    assert_eq!(arrivals[..4], [Arrival::Dropped, Arrival::Dropped, Arrival::Dropped, Arrival::Reset]);
    assert_eq!(b.stats().resets, 1);
    // The key frame lost its first packets: the next one is taken.
    let key = s.frame(2, true);
    for p in &key {
        push(&mut b, ms(20), p);
    }
    drain(&mut b, ms(20), &mut out);
    assert_eq!(out.frames.last().map(|f| (f.first, f.decodable)), Some((key[0].seq, true)));
}

#[test]
fn the_packet_and_byte_limits_drop_the_oldest() {
    let mut c = VideoConfig::new(Mode::Quality);
    c.max_packets = 16;
    c.max_bytes = 30;
    let mut b = VideoBuffer::new(c, TestDepacketizer::default());
    let mut s = Sender::new(0, 0);
    // A frame that never ends (no marker) fills the buffer.
    let frame = s.frame(40, true);
    for p in &frame[..39] {
        push(&mut b, ms(0), p);
        assert!(b.bytes() <= 30 && b.len() <= 16);
    }
    assert_eq!(b.len(), 10);
    assert_eq!(b.stats().dropped, 29);
    // ...and is dropped when it gets too old.
    assert_eq!(b.poll_timeout(), Some(ms(3_000)));
    b.handle_timeout(ms(3_000));
    assert!(b.is_empty() && b.bytes() == 0);
    assert_eq!(b.poll_timeout(), None);
}

#[test]
fn a_vp9_stream_round_trips() {
    use crate::packetize::Packetizer;
    use crate::packetize::vp9::{Vp9Depacketizer, Vp9Packetizer};
    let mut b = VideoBuffer::new(VideoConfig::new(Mode::Latency), Vp9Depacketizer::new());
    let mut p = Vp9Packetizer::new(5);
    let mut seq = 9u16;
    let mut rng = SeededRng::from_seed([9; 32]);
    let mut frames = Vec::new();
    for f in 0..10u32 {
        let mut frame = vec![if f == 0 { 0x82 } else { 0x86 }, 0x49, 0x83, 0x42, 0x00];
        frame.extend((0..3000).map(|_| rng.u32() as u8));
        let mut payloads = Vec::new();
        p.packetize(&frame, 1200, &mut |pl| payloads.push((pl.data.to_vec(), pl.marker))).unwrap();
        // Reordered within the frame.
        payloads.swap(0, 1);
        let n = payloads.len() as u16;
        for (i, (data, marker)) in payloads.iter().enumerate() {
            let s = if i == 0 {
                seq + 1
            } else if i == 1 {
                seq
            } else {
                seq + i as u16
            };
            b.handle_receive_parts(ms(u64::from(f)), s, f * 3000, *marker, data);
        }
        seq += n;
        frames.push(frame);
    }
    let mut got = Vec::new();
    while let Some(VideoEvent::Frame(f)) = b.poll_event() {
        assert!(f.complete && f.decodable);
        got.push(f.data.to_vec());
    }
    assert_eq!(got, frames);
}

/// Random loss, reordering and retransmissions through the documented loop: it never stalls, every frame
/// is handed out or accounted for, and the buffer ends empty.
#[test]
fn the_loop_never_stalls() {
    for (seed, mode) in [(1u8, Mode::Latency), (2, Mode::Quality), (3, Mode::Latency), (4, Mode::Quality)] {
        let mut rng = SeededRng::from_seed([seed; 32]);
        let mut b = video(mode);
        b.set_rtt(Duration::from_millis(30));
        let mut s = Sender::new(rng.u32() as u16, rng.u32());
        let mut schedule = Vec::new();
        let frames = 300u64;
        let (mut want_complete, mut want_decodable) = (Vec::new(), Vec::new());
        let mut chain = false;
        for f in 0..frames {
            let key = f % 10 == 0;
            let frame = s.frame(1 + rng.below(8) as usize, key);
            let mut all = true;
            for p in frame {
                let sent = ms(33 * f);
                let at = sent + Duration::from_millis(rng.below(10));
                let lost = f + 1 < frames && rng.below(100) < 5;
                if !lost {
                    schedule.push((at, p));
                } else if rng.below(2) == 0 {
                    // Repaired: a NACK and its answer one RTT or two later.
                    schedule.push((at + Duration::from_millis(30 * (1 + rng.below(2))), p));
                } else {
                    all = false;
                }
            }
            chain = all && (key || chain);
            if all {
                want_complete.push(s.ts.wrapping_sub(3000));
            }
            if chain {
                want_decodable.push(s.ts.wrapping_sub(3000));
            }
        }
        let out = run(&mut b, schedule, Instant::MAX);
        assert!(b.is_empty(), "{mode:?}: {} packets left", b.len());
        assert_eq!(b.poll_timeout(), None);
        let st = b.stats();
        assert_eq!(st.frames_emitted, out.frames.len() as u64);
        // Frames come out in order.
        assert!(out.frames.windows(2).all(|w| w[1].first.wrapping_sub(w[0].last) < 0x8000));
        for f in out.frames.iter().filter(|f| f.complete) {
            let want: Vec<u8> =
                (0..=f.last.wrapping_sub(f.first)).flat_map(|i| f.first.wrapping_add(i).to_be_bytes()).collect();
            assert_eq!(f.data, want);
        }
        let decodable: Vec<u32> = out.frames.iter().filter(|f| f.decodable).map(|f| f.ts).collect();
        let complete: Vec<u32> = out.frames.iter().filter(|f| f.complete).map(|f| f.ts).collect();
        match mode {
            Mode::Latency => {
                // Only decodable frames; all of those the schedule allows, but for frames passed over for a
                // complete key frame behind a gap.
                assert_eq!(decodable.len(), out.frames.len());
                assert!(decodable.iter().all(|ts| want_decodable.contains(ts)));
                assert!(
                    decodable.len() * 10 >= want_decodable.len() * 9,
                    "{} of {}",
                    decodable.len(),
                    want_decodable.len()
                );
            }
            Mode::Quality => {
                // Every repair arrives within the hold: exactly the frames whose packets all arrived are
                // complete, and exactly the unbroken chains from a key frame are decodable.
                let extra: Vec<_> = complete.iter().filter(|t| !want_complete.contains(t)).collect();
                let missing: Vec<_> = want_complete.iter().filter(|t| !complete.contains(t)).collect();
                let of = |t: u32| out.frames.iter().find(|f| f.ts == t).cloned();
                assert_eq!(
                    complete,
                    want_complete,
                    "extra {extra:?} missing {missing:?} {:?}",
                    extra.first().map(|t| of(**t))
                );
                assert_eq!(decodable, want_decodable);
            }
        }
    }
}

// Audio.

fn audio() -> AudioBuffer {
    AudioBuffer::new(AudioConfig::new(48_000))
}

#[derive(Debug, PartialEq, Eq)]
enum AOut {
    Packet(Instant, u16),
    Gap(Instant, u16, u16, u32),
}

fn drain_audio(b: &mut AudioBuffer, now: Instant, out: &mut Vec<AOut>) {
    while let Some(e) = b.poll_event() {
        out.push(match e {
            AudioEvent::Packet { sequence, .. } => AOut::Packet(now, sequence),
            AudioEvent::Gap { sequence, packets, timestamp, .. } => AOut::Gap(now, sequence, packets, timestamp),
        });
    }
}

/// Runs (arrival, seq, ts) through the audio buffer with the documented loop.
fn run_audio(b: &mut AudioBuffer, mut schedule: Vec<(Instant, u16, u32)>) -> Vec<AOut> {
    schedule.sort_by_key(|(t, ..)| *t);
    let mut out = Vec::new();
    let mut i = 0;
    let mut now = Instant::ZERO;
    loop {
        let wake = match (schedule.get(i).map(|s| s.0), b.poll_timeout()) {
            (Some(a), Some(t)) => a.min(t),
            (a, t) => match a.or(t) {
                Some(w) => w,
                None => break,
            },
        };
        now = now.max(wake);
        b.handle_timeout(now);
        drain_audio(b, now, &mut out);
        while let Some(&(t, seq, ts)) = schedule.get(i) {
            if t > now {
                break;
            }
            b.handle_receive_parts(now, seq, ts, &[1, 2, 3]);
            drain_audio(b, now, &mut out);
            i += 1;
        }
        assert!(b.poll_timeout().is_none_or(|t| t > now), "owed work not done");
    }
    out
}

#[test]
fn audio_plays_in_order_at_the_target_delay_and_reports_gaps() {
    let mut b = audio();
    let mut schedule = Vec::new();
    for i in 0..10u16 {
        if i != 4 && i != 5 {
            schedule.push((ms(1_000 + 20 * u64::from(i)), 65_530u16.wrapping_add(i), 960 * u32::from(i)));
        }
    }
    // Packet 2 arrives 25 ms late, after packet 3: still in time for its place? No: its playout was at
    // 1060 ms; it arrives at 1065 and is dropped as late.
    let two = schedule.remove(2);
    schedule.push((ms(1_065), two.1, two.2));
    let out = run_audio(&mut b, schedule);
    let want = vec![
        AOut::Packet(ms(1_020), 65_530),
        AOut::Packet(ms(1_040), 65_531),
        AOut::Gap(ms(1_060), 65_532, 1, 1920),
        AOut::Packet(ms(1_080), 65_533),
        // Known missing only when the packet after them arrives (1120 ms), 20 ms after the first's place.
        AOut::Gap(ms(1_120), 65_534, 2, 3840),
        AOut::Packet(ms(1_140), 0),
        AOut::Packet(ms(1_160), 1),
        AOut::Packet(ms(1_180), 2),
        AOut::Packet(ms(1_200), 3),
    ];
    assert_eq!(out, want);
    let st = b.stats();
    assert_eq!((st.played, st.gaps, st.concealed, st.late), (7, 2, 3, 1));
    assert!(b.is_empty());
}

#[test]
fn audio_target_delay_follows_jitter() {
    let mut rng = SeededRng::from_seed([5; 32]);
    let mut b = audio();
    let mut schedule = Vec::new();
    let mut seq = 0u16;
    let mut push = |schedule: &mut Vec<_>, from: u64, to: u64, jitter: u64, rng: &mut SeededRng| {
        for i in from..to {
            let extra = if jitter > 0 { rng.below(jitter) } else { 0 };
            schedule.push((ms(20 * i + extra), seq, 960 * i as u32));
            seq = seq.wrapping_add(1);
        }
    };
    push(&mut schedule, 0, 250, 0, &mut rng); // 5 s steady
    push(&mut schedule, 250, 500, 80, &mut rng); // 5 s of 0..80 ms jitter
    push(&mut schedule, 500, 1_000, 0, &mut rng); // 10 s steady
    schedule.sort_by_key(|(t, ..)| *t);
    let mut out = Vec::new();
    let mut delays = Vec::new();
    let mut lates = Vec::new();
    for &(t, seq, ts) in &schedule {
        while let Some(due) = b.poll_timeout().filter(|d| *d <= t) {
            b.handle_timeout(due);
            drain_audio(&mut b, due, &mut out);
        }
        b.handle_receive_parts(t, seq, ts, &[0; 80]);
        drain_audio(&mut b, t, &mut out);
        delays.push((t, b.target_delay()));
        lates.push((t, b.stats().late));
    }
    let at = |ms_: u64| delays.iter().rev().find(|(t, _)| *t <= ms(ms_)).map(|d| d.1).unwrap();
    assert_eq!(at(4_900), Duration::from_millis(20), "steady: the minimum");
    assert!(at(9_900) > Duration::from_millis(40), "jitter raises it: {:?}", at(9_900));
    assert!(b.jitter_rtp() < 48 * 5);
    assert_eq!(at(19_900), Duration::from_millis(20), "and it falls back");
    // Once the target has risen, few packets come too late for it.
    let late = |ms_: u64| lates.iter().rev().find(|(t, _)| *t <= ms(ms_)).map(|d| d.1).unwrap();
    let settled = late(10_000) - late(7_500);
    assert!(late(7_500) > 0 && settled <= 6, "{} then {settled}", late(7_500));
}

#[test]
fn audio_flood_stays_bounded_and_a_restart_is_followed() {
    let mut b = audio();
    let mut rng = SeededRng::from_seed([11; 32]);
    for i in 0..5u16 {
        b.handle_receive_parts(ms(u64::from(i) * 20), 100 + i, 960 * u32::from(i), &[0; 100]);
    }
    for i in 0..20_000u32 {
        b.handle_receive_parts(ms(100), rng.u32() as u16, rng.u32(), &[0; 100]);
        assert!(b.len() <= 256 && b.bytes() <= 256 * 100, "{i}");
    }
    assert!(b.stats().dropped > 5_000);
    // A restart far away: after four consecutive packets, the stream is followed again.
    let mut out = Vec::new();
    for i in 0..10u16 {
        let t = ms(200 + 20 * u64::from(i));
        b.handle_timeout(t);
        drain_audio(&mut b, t, &mut out);
        b.handle_receive_parts(t, 40_000 + i, 7 + 960 * u32::from(i), &[0; 10]);
    }
    assert!(b.stats().resets >= 1);
    b.handle_timeout(ms(2_000));
    drain_audio(&mut b, ms(2_000), &mut out);
    assert!(out.iter().any(|o| matches!(o, AOut::Packet(_, 40_009))));
}

#[test]
fn audio_loop_never_stalls() {
    let mut rng = SeededRng::from_seed([13; 32]);
    let mut b = audio();
    let mut schedule = Vec::new();
    for i in 0..3_000u64 {
        if rng.below(100) < 3 {
            continue;
        }
        schedule.push((ms(20 * i + rng.below(60)), (i as u16).wrapping_add(60_000), (960 * i) as u32));
    }
    let n = schedule.len() as u64;
    let out = run_audio(&mut b, schedule);
    assert!(b.is_empty());
    assert_eq!(b.poll_timeout(), None);
    let st = b.stats();
    assert_eq!(st.played + st.late, n);
    assert_eq!(st.played + st.concealed, 3_000);
    // In order.
    let seqs: Vec<u16> = out
        .iter()
        .map(|o| match o {
            AOut::Packet(_, s) | AOut::Gap(_, s, ..) => *s,
        })
        .collect();
    assert!(seqs.windows(2).all(|w| w[1].wrapping_sub(w[0]) < 100));
}

#[test]
fn the_gap_deadline_follows_the_rtt_and_the_nack_state() {
    let mut b = video(Mode::Quality);
    let mut s = Sender::new(1, 0);
    let f0 = s.frame(3, true);
    push(&mut b, ms(100), &f0[0]);
    push(&mut b, ms(110), &f0[2]); // the gap is found now
    // The defaults: 100 ms RTT, 3 retries, 20 ms margin.
    assert_eq!(b.poll_timeout(), Some(ms(110 + 420)));
    b.set_rtt(Duration::from_millis(10));
    assert_eq!(b.poll_timeout(), Some(ms(110 + 60)));
    b.set_nack_retries(1);
    assert_eq!(b.poll_timeout(), Some(ms(110 + 40)));
    b.handle_timeout(ms(149));
    assert!(b.poll_event().is_none(), "not before the deadline");
    b.handle_timeout(ms(150));
    assert!(matches!(b.poll_event(), Some(VideoEvent::Frame(f)) if !f.complete && f.first_sequence == 1));
    assert_eq!(b.poll_event(), Some(VideoEvent::KeyframeRequest));
    assert_eq!(b.stats().gaps_given_up, 1);
}

#[test]
fn audio_timestamp_jumps() {
    let mut b = audio();
    b.handle_receive_parts(ms(1_000), 1, 0, &[1]);
    // The next packet claims to be 1.2 s later in media time but arrives 20 ms later.
    b.handle_receive_parts(ms(1_020), 2, 48_000 + 9_600, &[2]);
    let mut out = Vec::new();
    b.handle_timeout(ms(1_020));
    drain_audio(&mut b, ms(1_020), &mut out);
    assert_eq!(out, vec![AOut::Packet(ms(1_020), 1)]);
    // The reference follows the faster packet; the jump counts as jitter (|D| = 1,180 ms, J = D / 16)
    // and the target rises to 4 J = 295 ms, within max_delay.
    let due = b.poll_timeout().unwrap();
    assert_eq!(due, ms(1_020 + 295));
    b.handle_timeout(due);
    drain_audio(&mut b, due, &mut out);
    assert_eq!(out.last(), Some(&AOut::Packet(due, 2)));
    assert!(b.is_empty());
    // A jump past the resync threshold (1.6 s) restarts the reference instead of counting as jitter.
    let jitter = b.jitter();
    b.handle_receive_parts(ms(1_400), 3, 48_000 * 10, &[3]);
    assert_eq!((b.jitter(), b.stats().resyncs), (jitter, 1));
    assert_eq!(b.poll_timeout(), Some(ms(1_400) + b.target_delay()));
}
