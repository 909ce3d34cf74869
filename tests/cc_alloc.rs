//! Once warm, the bandwidth estimator and the pacer allocate nothing per packet: packets enqueued,
//! paced, sent, reported to the estimator, feedback processed, probes and target changes passed on. A
//! counting global allocator (`stats_alloc`) watches two minutes of a 1.5 Mbit/s bottleneck, after 30 s of
//! warm-up in which every path (start probes, the first over-use, a recovery probe) has run once: a few
//! one-time allocations happen the first time such a path runs.
//!
//! This file holds a single test so that no other test thread allocates while it measures.

use std::alloc::System;
extern crate alloc;

use alloc::collections::VecDeque;
use core::time::Duration;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

use sansrtc::Instant;
use sansrtc::cc::{BandwidthEstimator, Class, Config, Event, Paced, Pacer, PacerConfig, SentPacket};
use sansrtc::rtp::session::PacketFeedback;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const CAPACITY: u64 = 1_500_000;
const DELAY: Duration = Duration::from_millis(30);

/// A sender, a 1.5 Mbit/s FIFO link with 30 ms of delay each way, and a receiver sending feedback
/// every 50 ms; every buffer preallocated.
struct Path {
    bwe: BandwidthEstimator,
    pacer: Pacer,
    now: Instant,
    seq: u64,
    next_frame: Instant,
    next_feedback: Instant,
    link_free: Instant,
    /// (arrival at the receiver, seq, size, sent).
    flight: VecDeque<(Instant, u64, u64, Instant)>,
    /// Feedback on its way back: (delivery time, packet).
    back: VecDeque<(Instant, PacketFeedback)>,
    batch: Vec<PacketFeedback>,
    sent: u64,
}

impl Path {
    fn new() -> Self {
        let bwe = BandwidthEstimator::new(Config::new(50_000, 300_000, 5_000_000)).unwrap();
        let pacer = Pacer::new(PacerConfig::default(), bwe.target_bitrate());
        let now = Instant::from_secs(1);
        Path {
            bwe,
            pacer,
            now,
            seq: 0,
            next_frame: now,
            next_feedback: now,
            link_free: now,
            flight: VecDeque::with_capacity(8192),
            back: VecDeque::with_capacity(8192),
            batch: Vec::with_capacity(8192),
            sent: 0,
        }
    }

    fn step(&mut self) {
        let now = self.now;
        if self.next_frame <= now {
            self.next_frame += Duration::from_nanos(33_333_333);
            let mut bytes = self.bwe.target_bitrate() / 8 / 30;
            while bytes > 0 {
                let size = bytes.min(1200);
                bytes -= size;
                let _ = self.pacer.enqueue(now, size, size as usize, Class::Video);
            }
        }
        // The receiver's feedback: every packet that arrived since the last one (none are lost here).
        if self.next_feedback <= now {
            self.next_feedback += Duration::from_millis(50);
            while let Some(&(at, seq, size, sent_at)) = self.flight.front() {
                if at > now {
                    break;
                }
                self.flight.pop_front();
                let arrival_us = Some((at.as_nanos() / 250_000 * 250) as i64);
                let p = PacketFeedback {
                    transport_sequence: seq,
                    ssrc: 1,
                    sequence: seq as u16,
                    sent_at,
                    size: size as usize,
                    arrival_us,
                    feedback_count: 0,
                };
                self.back.push_back((now + DELAY, p));
            }
        }
        while self.back.front().is_some_and(|b| b.0 <= now) {
            if let Some((_, p)) = self.back.pop_front() {
                self.batch.push(p);
            }
        }
        if !self.batch.is_empty() {
            let _ = self.bwe.handle_feedback(now, self.batch.drain(..));
        }
        self.bwe.handle_timeout(now);
        self.pacer.handle_timeout(now);
        loop {
            let mut moved = false;
            while let Some(e) = self.bwe.poll_event() {
                moved = true;
                match e {
                    Event::TargetBitrate { bitrate, .. } => self.pacer.set_target(bitrate),
                    Event::Probe(c) => self.pacer.start_probe(c),
                    _ => {}
                }
            }
            while let Some(x) = self.pacer.poll_transmit() {
                moved = true;
                let (size, probe_cluster) = match x {
                    Paced::Packet { size, probe_cluster, .. } => (size as u64, probe_cluster),
                    Paced::Padding { size, probe_cluster } => (size as u64, Some(probe_cluster)),
                };
                let sent = SentPacket { transport_sequence: Some(self.seq as u16), size: size as usize, probe_cluster };
                self.bwe.handle_sent(now, sent);
                // The bottleneck: FIFO at the capacity (no drops: the sender stays near it).
                let start = self.link_free.max(now);
                self.link_free = start + Duration::from_nanos(size * 8 * 1_000_000_000 / CAPACITY);
                if self.flight.len() < self.flight.capacity() {
                    self.flight.push_back((self.link_free + DELAY, self.seq, size, now));
                }
                self.seq += 1;
                self.sent += 1;
            }
            if !moved {
                break;
            }
        }
        let next =
            [Some(self.next_frame), Some(self.next_feedback), self.bwe.poll_timeout(), self.pacer.poll_timeout()]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(now + Duration::from_millis(1));
        self.now = next.max(now + Duration::from_micros(1));
    }

    fn run(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.step();
        }
    }
}

#[test]
fn estimation_and_pacing_allocate_nothing_once_warm() {
    let mut path = Path::new();
    path.run(Duration::from_secs(30));
    let before = (path.sent, path.bwe.stats());
    let region = Region::new(GLOBAL);
    path.run(Duration::from_secs(120));
    let stats = region.change();
    let sent = path.sent - before.0;
    let fb = path.bwe.stats().feedback_packets - before.1.feedback_packets;
    assert!(sent > 1000 && fb > 1000, "{sent} {fb}");
    let target = path.bwe.target_bitrate();
    assert!((1_000_000..=1_800_000).contains(&target), "{target}");
    assert_eq!(stats.allocations + stats.reallocations, 0, "{stats:?} over {sent} packets");
}
