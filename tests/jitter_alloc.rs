//! Once warm, the video jitter buffer and the audio playout buffer allocate nothing per packet: packets
//! in (with loss, retransmissions, reordering and jitter), frames and packets out, gaps given up, key frame
//! requests. A counting global allocator (`stats_alloc`) watches thousands of packets.
//!
//! This file holds a single test so that no other test thread allocates while it measures.

use std::alloc::System;
extern crate alloc;

use alloc::collections::VecDeque;
use core::time::Duration;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

use sansrtc::jitter::{AudioBuffer, AudioConfig, AudioEvent, Mode, VideoBuffer, VideoConfig, VideoEvent};
use sansrtc::packetize::Packetizer;
use sansrtc::packetize::vp9::{Vp9Depacketizer, Vp9Packetizer};
use sansrtc::{Instant, SeededRng};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// A VP9 key frame header (320×180), then `len` bytes.
fn vp9_frame(key: bool, len: usize, rng: &mut SeededRng) -> Vec<u8> {
    let mut f = if key { vec![0x82, 0x49, 0x83, 0x42, 0x20, 0x13, 0xf0, 0x0b, 0x30] } else { vec![0x86] };
    f.extend((0..len).map(|_| rng.u32() as u8));
    f
}

fn payloads(frame: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    Vp9Packetizer::new(1).packetize(frame, 1200, &mut |p| out.push(p.data.to_vec())).unwrap();
    out
}

/// A 30 fps video sender of 10-packet frames, key frame every 60, 1 % loss, each loss retransmitted 40 ms
/// later (a retransmission is lost too, 1 time in 8: the gap is then given up).
struct Video {
    key: Vec<Vec<u8>>,
    delta: Vec<Vec<u8>>,
    seq: u16,
    ts: u32,
    frame: u32,
    now: Instant,
    rng: SeededRng,
    /// (due, seq, ts, marker, key frame, packet index)
    repairs: VecDeque<(Instant, u16, u32, bool, bool, usize)>,
    frames_out: u64,
    requests: u64,
}

impl Video {
    fn new() -> Self {
        let mut rng = SeededRng::from_seed([1; 32]);
        let key = payloads(&vp9_frame(true, 11_000, &mut rng));
        let delta = payloads(&vp9_frame(false, 11_000, &mut rng));
        assert_eq!((key.len(), delta.len()), (10, 10));
        Self {
            key,
            delta,
            seq: 60_000,
            ts: 0,
            frame: 0,
            now: Instant::from_secs(1),
            rng,
            repairs: VecDeque::with_capacity(256),
            frames_out: 0,
            requests: 0,
        }
    }

    fn drain(&mut self, b: &mut VideoBuffer<Vp9Depacketizer>) {
        while let Some(e) = b.poll_event() {
            match e {
                VideoEvent::Frame(f) => {
                    assert!(!f.data.is_empty());
                    self.frames_out += 1;
                }
                VideoEvent::KeyframeRequest => self.requests += 1,
            }
        }
    }

    fn frames(&mut self, b: &mut VideoBuffer<Vp9Depacketizer>, n: u32) {
        for _ in 0..n {
            let key = self.frame % 60 == 0;
            for i in 0..10 {
                let (seq, ts, marker) = (self.seq, self.ts, i == 9);
                self.seq = self.seq.wrapping_add(1);
                if self.rng.below(100) == 0 {
                    if self.rng.below(8) != 0 {
                        let due = self.now + Duration::from_millis(40);
                        self.repairs.push_back((due, seq, ts, marker, key, i));
                    }
                } else {
                    let payload = if key { &self.key[i] } else { &self.delta[i] };
                    b.handle_receive_parts(self.now, seq, ts, marker, payload);
                }
                while let Some(&(due, seq, ts, marker, key, i)) = self.repairs.front() {
                    if due > self.now {
                        break;
                    }
                    self.repairs.pop_front();
                    let payload = if key { &self.key[i] } else { &self.delta[i] };
                    b.handle_receive_parts(self.now, seq, ts, marker, payload);
                }
                self.drain(b);
                if b.poll_timeout().is_some_and(|t| t <= self.now) {
                    b.handle_timeout(self.now);
                    self.drain(b);
                }
                self.now += Duration::from_millis(1);
            }
            // The rest of the frame interval: wake at the buffer's deadlines.
            let next = self.now + Duration::from_millis(23);
            while let Some(t) = b.poll_timeout().filter(|t| *t <= next) {
                self.now = self.now.max(t);
                b.handle_timeout(self.now);
                self.drain(b);
            }
            self.now = next;
            self.ts = self.ts.wrapping_add(3000);
            self.frame += 1;
        }
    }
}

/// A 50 packets/s Opus-like sender, 100-byte packets, 0..30 ms of jitter, 1 % loss.
struct Audio {
    payload: Vec<u8>,
    seq: u16,
    sent: u32,
    arrival: Instant,
    rng: SeededRng,
    played: u64,
    gaps: u64,
}

impl Audio {
    fn drain(&mut self, b: &mut AudioBuffer) {
        while let Some(e) = b.poll_event() {
            match e {
                AudioEvent::Packet { payload, .. } => {
                    assert_eq!(payload.len(), 100);
                    self.played += 1;
                }
                AudioEvent::Gap { .. } => self.gaps += 1,
            }
        }
    }

    fn packets(&mut self, b: &mut AudioBuffer, n: u32) {
        for _ in 0..n {
            let send = Instant::from_millis(1_000 + 20 * u64::from(self.sent));
            let arrival = (send + Duration::from_millis(self.rng.below(30))).max(self.arrival);
            while let Some(t) = b.poll_timeout().filter(|t| *t <= arrival) {
                b.handle_timeout(t);
                self.drain(b);
            }
            self.arrival = arrival;
            if self.rng.below(100) != 0 {
                b.handle_receive_parts(arrival, self.seq, self.sent.wrapping_mul(960), &self.payload);
                self.drain(b);
            }
            self.seq = self.seq.wrapping_add(1);
            self.sent += 1;
        }
    }
}

#[test]
fn jitter_buffers_allocate_nothing_once_warm() {
    // The counter works: one deliberate allocation is seen.
    let probe = Region::new(GLOBAL);
    let boxed = core::hint::black_box(Box::new(7u64));
    assert_eq!(probe.change().allocations, 1);
    drop(boxed);

    for mode in [Mode::Latency, Mode::Quality] {
        let mut b = VideoBuffer::new(VideoConfig::new(mode), Vp9Depacketizer::new());
        b.set_rtt(Duration::from_millis(30));
        let mut v = Video::new();
        // Warm: every slot of the ring has held a full-size packet, the frame buffer a key frame.
        v.frames(&mut b, 600);
        let (frames_before, packets_before) = (v.frames_out, b.stats().packets_received);
        let region = Region::new(GLOBAL);
        v.frames(&mut b, 1_200);
        let allocations = region.change().allocations + region.change().reallocations;
        let stats = b.stats();
        let packets = stats.packets_received - packets_before;
        assert!(packets > 11_000, "{packets}");
        assert!(v.frames_out - frames_before > 600, "{mode:?}: {}", v.frames_out - frames_before);
        assert!(stats.gaps_given_up > 0 && v.requests > 0, "{mode:?}: {stats:?}");
        assert_eq!(allocations, 0, "{mode:?}: {allocations} allocations over {packets} packets");
    }

    let mut b = AudioBuffer::new(AudioConfig::new(48_000));
    let mut a = Audio {
        payload: vec![7; 100],
        seq: 1,
        sent: 0,
        arrival: Instant::ZERO,
        rng: SeededRng::from_seed([2; 32]),
        played: 0,
        gaps: 0,
    };
    a.packets(&mut b, 1_000);
    let region = Region::new(GLOBAL);
    a.packets(&mut b, 5_000);
    let allocations = region.change().allocations + region.change().reallocations;
    assert!(a.played > 5_000 && a.gaps > 10, "{} {}", a.played, a.gaps);
    assert_eq!(allocations, 0, "audio: {allocations} allocations");
}
