//! Congestion control, per packet sent: the cost of the pacer and the bandwidth estimator together
//! (`sansrtc::cc`).
//!
//! Each iteration enqueues one 1,200-byte video packet, lets virtual time run to the pacer's deadline,
//! fires the pacer's and the estimator's timers, drains the pacer (`poll_transmit`), reports each packet
//! sent (`handle_sent`), passes the estimator's events to the pacer, and every 16 packets hands the
//! estimator one transport-wide feedback for them (`handle_feedback`: inter-arrival groups, trendline,
//! over-use detector, AIMD, loss, probe results). Arrivals come from a 2 Mbit/s FIFO link 20 ms away, so
//! the estimator runs its whole loop (probes, over-use, decreases, increases) as it would on a path. Time
//! is virtual; figures are thread CPU time per packet. No comparison stack is run: str0m's and webrtc-rs's
//! estimators live inside their connections. `SANSRTC_BENCH_QUICK=1` runs few batches.

use std::time::Duration;

use sansrtc::Instant;
use sansrtc::cc::{BandwidthEstimator, Class, Config, Event, Paced, Pacer, PacerConfig, SentPacket};
use sansrtc::rtp::session::PacketFeedback;
use sansrtc_interop::bench::{measure_cpu, report};

const CAPACITY: u64 = 2_000_000;
const BATCH: usize = 16;

struct Loop {
    bwe: BandwidthEstimator,
    pacer: Pacer,
    now: Instant,
    seq: u64,
    link_free: Instant,
    batch: Vec<PacketFeedback>,
    sent: u64,
}

impl Loop {
    fn new() -> Self {
        let bwe = BandwidthEstimator::new(Config::new(50_000, 300_000, 10_000_000)).unwrap();
        let pacer = Pacer::new(PacerConfig::default(), bwe.target_bitrate());
        let now = Instant::from_secs(1);
        Loop { bwe, pacer, now, seq: 0, link_free: now, batch: Vec::with_capacity(4 * BATCH), sent: 0 }
    }

    fn packet(&mut self) {
        let token = self.seq;
        let _ = self.pacer.enqueue(self.now, token, 1200, Class::Video);
        while self.pacer.queued_packets() > 0 {
            if let Some(t) = self.pacer.poll_timeout() {
                self.now = self.now.max(t);
            }
            self.pacer.handle_timeout(self.now);
            self.bwe.handle_timeout(self.now);
            while let Some(p) = self.pacer.poll_transmit() {
                let (size, probe_cluster) = match p {
                    Paced::Packet { size, probe_cluster, .. } => (size, probe_cluster),
                    Paced::Padding { size, probe_cluster } => (size, Some(probe_cluster)),
                };
                let sent = SentPacket { transport_sequence: Some(self.seq as u16), size, probe_cluster };
                self.bwe.handle_sent(self.now, sent);
                let start = self.link_free.max(self.now);
                self.link_free = start + Duration::from_nanos(size as u64 * 8 * 1_000_000_000 / CAPACITY);
                let arrival = self.link_free + Duration::from_millis(20);
                self.batch.push(PacketFeedback {
                    transport_sequence: self.seq,
                    ssrc: 1,
                    sequence: self.seq as u16,
                    sent_at: self.now,
                    size,
                    arrival_us: Some((arrival.as_nanos() / 250_000 * 250) as i64),
                    feedback_count: 0,
                });
                self.seq += 1;
                self.sent += 1;
            }
            while let Some(e) = self.bwe.poll_event() {
                match e {
                    Event::TargetBitrate { bitrate, .. } => self.pacer.set_target(bitrate),
                    Event::Probe(c) => self.pacer.start_probe(c),
                    _ => {}
                }
            }
        }
        if self.batch.len() >= BATCH {
            // The feedback leaves the receiver after the newest arrival and takes 20 ms back.
            let at = self.now + Duration::from_millis(40);
            let _ = self.bwe.handle_feedback(at, self.batch.drain(..));
        }
    }
}

fn main() {
    println!("cc: sansrtc alone, ns per packet sent (no comparison stack is run for this benchmark)");
    let mut l = Loop::new();
    for _ in 0..10_000 {
        l.packet();
    }
    let m = measure_cpu(|| l.packet());
    report("cc/pacer+estimator per packet", "sansrtc", m);
    let st = l.bwe.stats();
    println!(
        "    {} packets sent, target {} kbit/s on a {} kbit/s link, {} over-uses, {} probes, {} padding packets",
        l.sent,
        l.bwe.target_bitrate() / 1000,
        CAPACITY / 1000,
        st.overuses,
        st.probes,
        l.pacer.stats().padding_packets
    );
}
