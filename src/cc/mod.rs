//! Congestion control: a send-side bandwidth estimator on transport-wide feedback (Google Congestion
//! Control, draft-ietf-rmcat-gcc-02, as libwebrtc's `goog_cc` does it today) and a [`Pacer`].
//! Both are sans-IO, deterministic and bounded; neither reads a clock. See `docs/cc.md` for the design
//! and the simulator's evaluation.
//!
//! ## The estimator
//!
//! [`BandwidthEstimator`] takes, as they happen:
//!
//! 1. [`BandwidthEstimator::handle_sent`] for every packet that leaves (the whole packet as sent, headers
//!    and RTX included, with its transport-wide sequence number and probe cluster);
//! 2. [`BandwidthEstimator::handle_feedback`] with the [`PacketFeedback`]s of each transport-wide feedback
//!    (the RTP session's [`crate::rtp::session::Event::TransportFeedback`] events of one feedback packet);
//! 3. [`BandwidthEstimator::handle_remb`] for a REMB (an upper bound) and
//!    [`BandwidthEstimator::handle_rtt`] for a round-trip time from RTCP, if there are any;
//! 4. [`BandwidthEstimator::handle_timeout`] when `now` reaches [`BandwidthEstimator::poll_timeout`]
//!    (every 25 ms once the first packet was sent: probes, application-limited checks, the feedback
//!    timeout).
//!
//! and reports through [`BandwidthEstimator::poll_event`]: [`Event::TargetBitrate`] when the target moves
//! by 3 % or more (for the encoder and the pacer), and [`Event::Probe`] when a probe cluster should go out
//! (for [`Pacer::start_probe`]). Time must not go backwards (an earlier `now` counts as the latest seen).
//!
//! Inside: inter-arrival groups (5 ms), the trendline filter, the over-use detector with its adaptive
//! threshold and AIMD rate control make the delay-based rate; the loss-based cap follows the draft's
//! 2 %/10 % rule; REMB and the configured bounds clamp the result. Probing sets the rate from a cluster's
//! acknowledged rate; while the sender is application-limited the rate does not grow (unless
//! [`Config::alr_probing`] measures more), and never beyond 1.5 × what the feedback acknowledged.
//!
//! ```
//! use core::time::Duration;
//! use sansrtc::cc::{BandwidthEstimator, Class, Config, Event, Paced, Pacer, PacerConfig, SentPacket};
//! use sansrtc::Instant;
//!
//! let mut bwe = BandwidthEstimator::new(Config::new(50_000, 300_000, 5_000_000)).unwrap();
//! let mut pacer = Pacer::new(PacerConfig::default(), bwe.target_bitrate());
//! let now = Instant::from_secs(1);
//! pacer.enqueue(now, 1, 1200, Class::Video).unwrap();
//! pacer.handle_timeout(now);
//! let mut seq = 0u16;
//! while let Some(p) = pacer.poll_transmit() {
//!     let (size, probe_cluster) = match p {
//!         Paced::Packet { size, probe_cluster, .. } => (size, probe_cluster),
//!         Paced::Padding { size, probe_cluster } => (size, Some(probe_cluster)),
//!     };
//!     // ... send it, with transport-wide sequence number `seq` ...
//!     bwe.handle_sent(now, SentPacket { transport_sequence: Some(seq), size, probe_cluster });
//!     seq = seq.wrapping_add(1);
//! }
//! while let Some(e) = bwe.poll_event() {
//!     match e {
//!         Event::TargetBitrate { bitrate, .. } => pacer.set_target(bitrate),
//!         Event::Probe(cluster) => pacer.start_probe(cluster),
//!         _ => {}
//!     }
//! }
//! // The first packet starts the estimator: start probes at 3 × and 6 × 300 kbit/s went to the pacer.
//! assert_eq!(pacer.poll_timeout(), Some(now));
//! assert_eq!(bwe.poll_timeout(), Some(now + Duration::from_millis(25)));
//! ```

mod acked;
mod aimd;
mod alr;
mod arrival;
mod loss;
mod overuse;
mod pacer;
mod probe;
#[cfg(test)]
mod tests;
mod trendline;

use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

pub use overuse::Usage;
pub use pacer::{Class, Paced, Pacer, PacerConfig, PacerStats, QueueFull};
pub use probe::ProbeCluster;

use crate::rtp::session::PacketFeedback;
use crate::time::Instant;

const TARGET: &str = "sansrtc::cc";
const PROCESS_INTERVAL: Duration = Duration::from_millis(25);
/// Without feedback for this long while sending, the target is cut by 20 % (once per interval).
const FEEDBACK_TIMEOUT: Duration = Duration::from_secs(1);
/// The target changes materially: by this fraction or more.
const MATERIAL_CHANGE: f64 = 0.03;
/// An arrival this far from the last one is a clock jump: the rate windows start over.
const ARRIVAL_JUMP_US: i64 = 3_000_000;
const EVENTS: usize = 8;
/// The RTT assumed until one is measured.
const DEFAULT_RTT: Duration = Duration::from_millis(200);
const MAX_RTT: Duration = Duration::from_secs(10);

/// The estimator's bounds and sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Nothing pushes the target below this (bit/s, at least 1).
    pub min_bitrate: u64,
    /// The target to start from (bit/s), within the bounds.
    pub start_bitrate: u64,
    /// Nothing pushes the target above this (bit/s).
    pub max_bitrate: u64,
    /// Sent packets remembered for matching feedback (a power of two, 64..=32768).
    pub send_history: usize,
    /// Probe at start and after a large drop.
    pub probing: bool,
    /// Also probe at 2 × the estimate every 5 s while application-limited (off by default, as in
    /// libwebrtc, which turns it on for screen sharing): keeps the estimate current for a sender that
    /// may burst, at the cost of padding.
    pub alr_probing: bool,
}

impl Config {
    /// Bounds and start rate (bit/s), a 4096-packet history, probing on, application-limited probing off.
    pub fn new(min_bitrate: u64, start_bitrate: u64, max_bitrate: u64) -> Self {
        Self { min_bitrate, start_bitrate, max_bitrate, send_history: 4096, probing: true, alr_probing: false }
    }
}

/// What went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// API misuse: `min_bitrate` is 0, or the start rate is outside `min_bitrate..=max_bitrate`.
    InvalidBounds,
    /// API misuse: the send history is not a power of two in 64..=32768.
    InvalidHistory,
    /// Feedback about no packet the estimator has a record of (never sent, or forgotten); dropped and
    /// counted.
    FeedbackForUnsentPackets,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::InvalidBounds => "invalid bitrate bounds",
            Error::InvalidHistory => "send history must be a power of two in 64..=32768",
            Error::FeedbackForUnsentPackets => "feedback for packets never sent",
        })
    }
}

impl core::error::Error for Error {}

/// A packet that left, as the estimator needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SentPacket {
    /// Its transport-wide sequence number (`None` for a packet without one: it still counts as sent).
    pub transport_sequence: Option<u16>,
    /// The whole packet as sent (octets): RTP header and extensions, payload, padding, SRTP tag; add the
    /// UDP/IP overhead too for a rate on the wire.
    pub size: usize,
    /// The probe cluster it was sent in ([`Paced`] says).
    pub probe_cluster: Option<u32>,
}

/// Something the estimator reports.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The target moved materially (3 % or more, or onto a bound): give it to the encoder and to
    /// [`Pacer::set_target`].
    TargetBitrate {
        /// The target (bit/s).
        bitrate: u64,
        /// The loss fraction last measured (0 to 1).
        loss: f64,
        /// The round-trip time in use.
        rtt: Duration,
    },
    /// A probe cluster to hand to [`Pacer::start_probe`].
    Probe(ProbeCluster),
}

/// Counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Packets sent (as reported by `handle_sent`).
    pub packets_sent: u64,
    /// Packets reported in feedback and matched with a send record.
    pub feedback_packets: u64,
    /// Of which reported lost.
    pub lost_packets: u64,
    /// Reported packets with no send record (never sent, forgotten, reported twice).
    pub unknown_feedback: u64,
    /// Over-use detections acted on.
    pub overuses: u64,
    /// Probe clusters asked for.
    pub probes: u64,
    /// Probe results applied.
    pub probe_results: u64,
    /// Events dropped because the queue was full.
    pub events_dropped: u64,
    /// Target cuts because feedback stopped.
    pub feedback_timeouts: u64,
}

#[derive(Clone, Copy, Debug, Default)]
struct Record {
    /// Valid and not yet reported.
    pending: bool,
    seq: u16,
    sent_at: Instant,
    size: u32,
    /// 0 for none.
    cluster: u32,
}

/// The send-side bandwidth estimator. See the [module docs](self) for the loop.
#[derive(Clone, Debug)]
pub struct BandwidthEstimator {
    config: Config,
    history: Vec<Record>,
    now: Instant,
    started: bool,
    next_process: Option<Instant>,
    arrival: arrival::InterArrival,
    trend: trendline::Trendline,
    detector: overuse::Detector,
    aimd: aimd::Aimd,
    loss: loss::LossControl,
    alr: alr::Alr,
    acked: acked::AckedRate,
    last_arrival_us: Option<i64>,
    probes: probe::ProbeController,
    results: probe::ProbeResults,
    remb: Option<u64>,
    rtt: Option<Duration>,
    feedback_rtt: Option<Duration>,
    target: u64,
    emitted: Option<u64>,
    events: VecDeque<Event>,
    last_feedback: Option<Instant>,
    last_timeout_cut: Option<Instant>,
    last_sent: Option<Instant>,
    stats: Stats,
}

fn ms(t: Instant) -> f64 {
    t.as_nanos() as f64 / 1e6
}

fn micros(t: Instant) -> i64 {
    i64::try_from(t.as_nanos() / 1000).unwrap_or(i64::MAX)
}

impl BandwidthEstimator {
    /// An estimator starting at `config.start_bitrate`. Allocates its history once.
    pub fn new(config: Config) -> Result<Self, Error> {
        let Config { min_bitrate: min, start_bitrate: start, max_bitrate: max, send_history, .. } = config;
        if min == 0 || start < min || start > max {
            return Err(Error::InvalidBounds);
        }
        if !send_history.is_power_of_two() || !(64..=32768).contains(&send_history) {
            return Err(Error::InvalidHistory);
        }
        let (minf, startf, maxf) = (min as f64, start as f64, max as f64);
        Ok(Self {
            config,
            history: vec![Record::default(); send_history],
            now: Instant::ZERO,
            started: false,
            next_process: None,
            arrival: arrival::InterArrival::default(),
            trend: trendline::Trendline::default(),
            detector: overuse::Detector::default(),
            aimd: aimd::Aimd::new(startf, minf, maxf),
            loss: loss::LossControl::new(startf, minf, maxf),
            alr: alr::Alr::new(startf),
            acked: acked::AckedRate::new(1024),
            last_arrival_us: None,
            probes: probe::ProbeController::new(maxf),
            results: probe::ProbeResults::default(),
            remb: None,
            rtt: None,
            feedback_rtt: None,
            target: start,
            emitted: None,
            events: VecDeque::with_capacity(EVENTS),
            last_feedback: None,
            last_timeout_cut: None,
            last_sent: None,
            stats: Stats::default(),
        })
    }

    /// The target bitrate now (bit/s).
    pub fn target_bitrate(&self) -> u64 {
        self.target
    }

    /// The delay-based rate (bit/s), before the loss cap, REMB and bounds.
    pub fn delay_based_bitrate(&self) -> u64 {
        self.aimd.rate() as u64
    }

    /// The acknowledged rate over the last 500 ms of feedback (bit/s), once there is a window of it.
    pub fn acked_bitrate(&self) -> Option<u64> {
        self.acked.rate().map(|r| r as u64)
    }

    /// What the delay signal says now.
    pub fn usage(&self) -> Usage {
        self.detector.usage()
    }

    /// Whether the sender is application-limited (sending well under the target).
    pub fn application_limited(&self) -> bool {
        self.alr.since().is_some()
    }

    /// The loss fraction last measured (0 to 1).
    pub fn loss_fraction(&self) -> f64 {
        self.loss.fraction
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    fn rtt(&self) -> Duration {
        self.rtt.or(self.feedback_rtt).unwrap_or(DEFAULT_RTT)
    }

    fn advance(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    fn push_event(&mut self, e: Event) {
        if let Event::TargetBitrate { .. } = e
            && let Some(slot) = self.events.iter_mut().find(|x| matches!(x, Event::TargetBitrate { .. }))
        {
            *slot = e; // the newest target replaces one not yet taken
            return;
        }
        if self.events.len() >= EVENTS {
            self.stats.events_dropped += 1;
            return;
        }
        self.events.push_back(e);
    }

    fn emit_probe(&mut self, c: ProbeCluster) {
        tracing::debug!(target: TARGET, id = c.id, bitrate = c.bitrate, "probe cluster");
        self.stats.probes += 1;
        self.results.expect(&c);
        self.push_event(Event::Probe(c));
    }

    fn start(&mut self) {
        if self.started {
            return;
        }
        self.started = true;
        self.next_process = Some(self.now + PROCESS_INTERVAL);
        self.emitted = Some(self.target);
        if self.config.probing {
            let mut out: [Option<ProbeCluster>; 2] = [None; 2];
            let mut n = 0;
            self.probes.start(self.now, self.config.start_bitrate as f64, &mut |c| {
                if let Some(slot) = out.get_mut(n) {
                    *slot = Some(c);
                    n += 1;
                }
            });
            for c in out.into_iter().flatten() {
                self.emit_probe(c);
            }
        }
    }

    /// A packet left at `now`. The first one starts the estimator (and its start probes). Then drain
    /// [`BandwidthEstimator::poll_event`] and read [`BandwidthEstimator::poll_timeout`].
    pub fn handle_sent(&mut self, now: Instant, packet: SentPacket) {
        self.advance(now);
        self.stats.packets_sent += 1;
        if let Some(seq) = packet.transport_sequence {
            let mask = self.history.len() - 1;
            if let Some(slot) = self.history.get_mut(usize::from(seq) & mask) {
                *slot = Record {
                    pending: true,
                    seq,
                    sent_at: self.now,
                    size: u32::try_from(packet.size).unwrap_or(u32::MAX),
                    cluster: packet.probe_cluster.unwrap_or(0),
                };
            }
        }
        self.alr.on_sent(self.now, packet.size);
        self.last_sent = Some(self.now);
        self.start();
    }

    /// A REMB from the peer (bit/s): an upper bound on the target until the next one.
    pub fn handle_remb(&mut self, now: Instant, bitrate: u64) {
        self.advance(now);
        self.remb = Some(bitrate);
        self.update_target();
    }

    /// A round-trip time measured from RTCP reports (preferred to the one feedback gives).
    pub fn handle_rtt(&mut self, now: Instant, rtt: Duration) {
        self.advance(now);
        self.rtt = Some(rtt.min(MAX_RTT));
    }

    /// One transport-wide feedback: the [`PacketFeedback`]s the RTP session reported for it, in order.
    /// Packets with no send record are dropped and counted; `Err` if none had one (nothing changed).
    /// Then drain [`BandwidthEstimator::poll_event`].
    pub fn handle_feedback(
        &mut self,
        now: Instant,
        feedback: impl IntoIterator<Item = PacketFeedback>,
    ) -> Result<(), Error> {
        self.advance(now);
        let now = self.now;
        let mask = self.history.len() - 1;
        let (mut received, mut lost) = (0u32, 0u32);
        let mut newest_sent: Option<Instant> = None;
        let mut probe_result: Option<f64> = None;
        let usage_before = self.detector.usage();
        let mut overused = false;
        for p in feedback {
            let seq = p.transport_sequence as u16;
            let Some(rec) = self.history.get_mut(usize::from(seq) & mask).filter(|r| r.pending && r.seq == seq) else {
                self.stats.unknown_feedback += 1;
                continue;
            };
            let rec = {
                rec.pending = false;
                *rec
            };
            self.stats.feedback_packets += 1;
            newest_sent = Some(newest_sent.map_or(rec.sent_at, |t| t.max(rec.sent_at)));
            let Some(arrival) = p.arrival_us else {
                lost = lost.saturating_add(1);
                self.stats.lost_packets += 1;
                continue;
            };
            received = received.saturating_add(1);
            if let Some(last) = self.last_arrival_us {
                let jump = arrival.saturating_sub(last);
                if !(-ARRIVAL_JUMP_US..=ARRIVAL_JUMP_US).contains(&jump) {
                    tracing::debug!(target: TARGET, jump, "arrival times jumped: rate windows start over");
                    self.acked.reset();
                    self.arrival.reset();
                }
            }
            self.last_arrival_us = Some(arrival);
            let send = micros(rec.sent_at);
            self.acked.push(arrival, rec.size);
            if rec.cluster != 0
                && let Some(r) = self.results.on_packet(rec.cluster, send, arrival, rec.size)
            {
                probe_result = Some(probe_result.map_or(r, |x: f64| x.max(r)));
            }
            if let Some(d) = self.arrival.push(send, arrival) {
                let trend = self.trend.update(d.send, d.arrival, d.at);
                let usage =
                    self.detector.detect(trend, self.trend.samples, d.send as f64 / 1000.0, d.at as f64 / 1000.0);
                overused |= usage == Usage::Overusing;
            }
        }
        let Some(newest_sent) = newest_sent else {
            return Err(Error::FeedbackForUnsentPackets);
        };
        self.last_feedback = Some(now);
        self.feedback_rtt = Some((now - newest_sent).min(MAX_RTT));
        let rtt_ms = self.rtt().as_secs_f64() * 1000.0;
        let now_ms = ms(now);
        self.loss.update(received, lost, self.target as f64, rtt_ms, now_ms);
        let acked = self.acked.rate();
        let usage = self.detector.usage();
        if usage != usage_before {
            tracing::trace!(target: TARGET, ?usage, "delay signal");
        }
        if let Some(r) = probe_result.filter(|_| usage != Usage::Overusing) {
            tracing::debug!(target: TARGET, result = r as u64, "probe result");
            self.stats.probe_results += 1;
            self.aimd.set(r, now_ms);
            self.loss.raise_to(r);
            let mut out: Option<ProbeCluster> = None;
            self.probes.on_result(now, r, &mut |c| out = Some(c));
            if let Some(c) = out {
                self.emit_probe(c);
            }
        } else if overused || usage == Usage::Overusing {
            if self.aimd.time_to_reduce(now_ms, rtt_ms, acked) {
                self.stats.overuses += 1;
                self.aimd.update(Usage::Overusing, acked, rtt_ms, now_ms, false);
            }
        } else {
            let limited = self.alr.since().is_some();
            self.aimd.update(usage, acked, rtt_ms, now_ms, limited);
        }
        self.update_target();
        Ok(())
    }

    fn update_target(&mut self) {
        let (min, max) = (self.config.min_bitrate, self.config.max_bitrate);
        let mut t = self.aimd.rate().min(self.loss.cap());
        if let Some(r) = self.remb {
            t = t.min(r as f64);
        }
        let t = if t >= max as f64 { max } else { (t as u64).clamp(min, max) };
        self.target = t;
        self.alr.set_rate(t as f64);
        if !self.started {
            return;
        }
        let material = match self.emitted {
            None => true,
            Some(e) if e == t => false,
            Some(e) => {
                let diff = e.abs_diff(t) as f64;
                diff >= MATERIAL_CHANGE * e as f64 || t == min || t == max
            }
        };
        if material {
            tracing::debug!(target: TARGET, bitrate = t, "target bitrate");
            self.emitted = Some(t);
            let e = Event::TargetBitrate { bitrate: t, loss: self.loss.fraction, rtt: self.rtt() };
            self.push_event(e);
        }
    }

    fn process(&mut self) {
        let now = self.now;
        self.alr.on_sent(now, 0);
        // Feedback stopped while packets kept going: cut by 20 % a second.
        if let (Some(fb), Some(sent)) = (self.last_feedback, self.last_sent)
            && sent > fb
            && now - fb > FEEDBACK_TIMEOUT
            && self.last_timeout_cut.is_none_or(|t| now - t >= FEEDBACK_TIMEOUT)
        {
            self.last_timeout_cut = Some(now);
            self.stats.feedback_timeouts += 1;
            tracing::debug!(target: TARGET, "no feedback: target cut");
            let cut = 0.8 * self.target as f64;
            self.aimd.set(cut, ms(now));
            self.loss.cap_at(cut);
            self.update_target();
        }
        if self.config.probing {
            let mut out: Option<ProbeCluster> = None;
            let normal = self.detector.usage() == Usage::Normal;
            let alr = self.alr.since().filter(|_| self.config.alr_probing);
            self.probes.process(now, self.target as f64, normal, alr, &mut |c| out = Some(c));
            if let Some(c) = out {
                self.emit_probe(c);
            }
        }
    }

    /// Runs what is due at `now` (every 25 ms once started). Then drain
    /// [`BandwidthEstimator::poll_event`].
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
        if let Some(due) = self.next_process
            && due <= self.now
        {
            self.process();
            self.next_process = Some(self.now + PROCESS_INTERVAL);
        }
    }

    /// The next event, or `None`. Taking events sends nothing.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`BandwidthEstimator::handle_timeout`] is next due (`None` before the first packet is sent).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_process
    }
}

impl crate::machine::Machine for BandwidthEstimator {
    type Event = Event;

    fn handle_timeout(&mut self, now: Instant) {
        BandwidthEstimator::handle_timeout(self, now);
    }

    fn poll_event(&mut self) -> Option<Event> {
        BandwidthEstimator::poll_event(self)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        BandwidthEstimator::poll_timeout(self)
    }
}
