//! The pacer: spaces packets at the target rate × a pacing factor (2.5, as libwebrtc), audio first, then
//! retransmissions, then video, each class a bounded FIFO; sends probe clusters at their own rate, with
//! padding when there is no media to probe with.

use alloc::collections::VecDeque;
use core::time::Duration;

use super::probe::ProbeCluster;
use crate::time::Instant;

const TARGET: &str = "sansrtc::cc";

/// The priority class of a packet: audio goes first, then retransmissions, then video (and the rest).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// Audio.
    Audio,
    /// Retransmissions (RTX).
    Retransmission,
    /// Video and everything else.
    Video,
}

impl Class {
    fn index(self) -> usize {
        match self {
            Class::Audio => 0,
            Class::Retransmission => 1,
            Class::Video => 2,
        }
    }
}

/// How the pacer behaves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PacerConfig {
    /// The pacing rate is the target × this (libwebrtc: 2.5), so the encoder's bursts drain quickly.
    pub pacing_factor: f64,
    /// Packets each class may hold (audio, retransmissions, video); a full class refuses more.
    pub queue_packets: [usize; 3],
    /// The pacing rate is raised so that what is queued drains within this (libwebrtc: 2 s).
    pub max_queue_time: Duration,
    /// Sending may run ahead of the pacing rate by this much after an idle spell or a late wake-up.
    pub max_burst: Duration,
    /// The size of each padding packet asked for while probing with nothing queued.
    pub padding_size: usize,
}

impl Default for PacerConfig {
    fn default() -> Self {
        Self {
            pacing_factor: 2.5,
            queue_packets: [128, 512, 2048],
            max_queue_time: Duration::from_secs(2),
            max_burst: Duration::from_millis(5),
            padding_size: 1000,
        }
    }
}

/// Something for the caller to send now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Paced {
    /// A packet the caller enqueued.
    Packet {
        /// The caller's token for it.
        token: u64,
        /// Its size as given.
        size: usize,
        /// Its class.
        class: Class,
        /// The probe cluster it belongs to, if it is sent as part of one.
        probe_cluster: Option<u32>,
    },
    /// A padding packet of `size` octets to make (RTP padding or an RTX copy) for a probe cluster.
    Padding {
        /// Octets to send (the whole packet).
        size: usize,
        /// The probe cluster.
        probe_cluster: u32,
    },
}

/// A packet refused because its class's queue is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct QueueFull;

impl core::fmt::Display for QueueFull {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("pacer queue full")
    }
}

impl core::error::Error for QueueFull {}

#[derive(Clone, Copy, Debug)]
struct Queued {
    token: u64,
    size: u32,
    at: Instant,
}

#[derive(Clone, Copy, Debug)]
struct ActiveProbe {
    cluster: ProbeCluster,
    start: Instant,
    bytes: u64,
    packets: u32,
}

/// What the pacer did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacerStats {
    /// Packets handed out.
    pub packets: u64,
    /// Octets handed out (padding included).
    pub bytes: u64,
    /// Padding packets asked for.
    pub padding_packets: u64,
    /// Packets refused because their queue was full.
    pub refused: u64,
    /// Probe clusters sent.
    pub probes: u64,
    /// Probe clusters dropped because four were already waiting.
    pub probes_dropped: u64,
}

/// The pacer: packets spaced at the target × the pacing factor, audio and retransmissions first, probe
/// clusters at their own rate.
///
/// It holds no packet bytes: the caller enqueues a token (its own handle on the packet) with the size
/// and class, and gets the token back from [`Pacer::poll_transmit`] when the packet is due. Sans-IO like
/// every machine in the crate:
///
/// 1. [`Pacer::enqueue`] packets as the encoder makes them, [`Pacer::set_target`] when the estimate
///    changes, [`Pacer::start_probe`] for each probe cluster the estimator asks for.
/// 2. [`Pacer::handle_timeout`] when `now` reaches [`Pacer::poll_timeout`].
/// 3. [`Pacer::poll_transmit`] until `None`: send each packet (or make a padding packet of the size
///    asked), then report it to the estimator with its probe cluster.
/// 4. Sleep until [`Pacer::poll_timeout`] (or the next packet to enqueue).
///
/// Time is injected and never made up: everything happens at the latest `now` given; an earlier `now`
/// counts as the latest. `poll_timeout` is the latest `now` while a packet may go, so the loop above never
/// stalls, and `None` when nothing is queued or probing.
#[derive(Clone, Debug)]
pub struct Pacer {
    config: PacerConfig,
    queues: [VecDeque<Queued>; 3],
    queued_bytes: u64,
    /// The pacing rate (bit/s).
    rate: u64,
    now: Instant,
    /// The media budget: the next packet may go at this time.
    next_send: Instant,
    probes: VecDeque<ProbeCluster>,
    probe: Option<ActiveProbe>,
    stats: PacerStats,
}

fn transmit_time(bytes: u64, rate: u64) -> Duration {
    if rate == 0 {
        return Duration::from_secs(1);
    }
    let ns = u128::from(bytes) * 8 * 1_000_000_000 / u128::from(rate);
    Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
}

impl Pacer {
    /// A pacer sending at `target` × the pacing factor (bit/s). Allocates its queues once.
    pub fn new(config: PacerConfig, target: u64) -> Self {
        let [a, r, v] = config.queue_packets;
        let mut p = Self {
            config,
            queues: [VecDeque::with_capacity(a), VecDeque::with_capacity(r), VecDeque::with_capacity(v)],
            queued_bytes: 0,
            rate: 0,
            now: Instant::ZERO,
            next_send: Instant::ZERO,
            probes: VecDeque::with_capacity(4),
            probe: None,
            stats: PacerStats::default(),
        };
        p.set_target(target);
        p
    }

    /// What the pacer did so far.
    pub fn stats(&self) -> PacerStats {
        self.stats
    }

    /// The pacing rate now (bit/s).
    pub fn pacing_rate(&self) -> u64 {
        self.rate
    }

    /// Packets queued.
    pub fn queued_packets(&self) -> usize {
        self.queues.iter().map(VecDeque::len).sum()
    }

    /// Octets queued.
    pub fn queued_bytes(&self) -> u64 {
        self.queued_bytes
    }

    /// How long the oldest queued packet has waited.
    pub fn oldest_wait(&self) -> Duration {
        self.queues.iter().filter_map(|q| q.front()).map(|q| self.now - q.at).max().unwrap_or_default()
    }

    fn advance(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    /// A new target (bit/s, from the estimator): the pacing rate becomes target × the pacing factor.
    pub fn set_target(&mut self, target: u64) {
        let rate = target as f64 * self.config.pacing_factor;
        self.rate = if rate >= u64::MAX as f64 { u64::MAX } else { (rate as u64).max(1) };
    }

    /// Queues a packet of `size` octets; `token` comes back from [`Pacer::poll_transmit`]. A full class
    /// refuses it (counted). Then read [`Pacer::poll_timeout`].
    pub fn enqueue(&mut self, now: Instant, token: u64, size: usize, class: Class) -> Result<(), QueueFull> {
        self.advance(now);
        let bound = self.config.queue_packets.get(class.index()).copied().unwrap_or(0);
        let Some(q) = self.queues.get_mut(class.index()) else { return Err(QueueFull) };
        if q.len() >= bound {
            self.stats.refused += 1;
            tracing::debug!(target: TARGET, ?class, "pacer queue full: packet refused");
            return Err(QueueFull);
        }
        let size = u32::try_from(size).unwrap_or(u32::MAX);
        q.push_back(Queued { token, size, at: self.now });
        self.queued_bytes += u64::from(size);
        Ok(())
    }

    /// Sends a probe cluster (from the estimator's [`super::Event::Probe`]) after any already waiting;
    /// at most four wait (more are dropped and counted).
    pub fn start_probe(&mut self, cluster: ProbeCluster) {
        if self.probes.len() >= 4 {
            self.stats.probes_dropped += 1;
            return;
        }
        self.probes.push_back(cluster);
    }

    /// Lets time pass to `now`. Call when `now` reaches [`Pacer::poll_timeout`], then drain
    /// [`Pacer::poll_transmit`].
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
    }

    /// The pacing rate, raised so that the queue drains within `max_queue_time`.
    fn effective_rate(&self, sending: u64) -> u64 {
        let secs = self.config.max_queue_time.as_secs_f64().max(0.001);
        let needed = ((self.queued_bytes + sending) as f64 * 8.0 / secs) as u64;
        self.rate.max(needed)
    }

    /// When the next media packet may go.
    fn media_due(&self) -> Instant {
        self.next_send.max(self.now.saturating_sub(self.config.max_burst))
    }

    fn probe_due(&self, p: &ActiveProbe) -> Instant {
        p.start + transmit_time(p.bytes, p.cluster.bitrate)
    }

    fn has_media(&self) -> bool {
        self.queues.iter().any(|q| !q.is_empty())
    }

    /// When [`Pacer::handle_timeout`] is next owed: the latest `now` while a packet may go, the time the
    /// next one may go, or `None` with nothing queued or probing.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let at = match (&self.probe, self.probes.front()) {
            (Some(p), _) => self.probe_due(p),
            (None, Some(_)) => self.now,
            (None, None) if self.has_media() => self.media_due(),
            (None, None) => return None,
        };
        Some(at.max(self.now))
    }

    fn pop_media(&mut self) -> Option<(Queued, Class)> {
        for class in [Class::Audio, Class::Retransmission, Class::Video] {
            if let Some(q) = self.queues.get_mut(class.index())
                && let Some(p) = q.pop_front()
            {
                self.queued_bytes -= u64::from(p.size);
                return Some((p, class));
            }
        }
        None
    }

    fn charge(&mut self, size: u64) {
        let base = self.media_due().max(self.now.saturating_sub(self.config.max_burst));
        self.next_send = base + transmit_time(size, self.effective_rate(size).max(1));
        self.stats.packets += 1;
        self.stats.bytes += size;
    }

    /// The next packet to send now, or `None` (then sleep until [`Pacer::poll_timeout`]).
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Paced> {
        if self.probe.is_none()
            && let Some(cluster) = self.probes.pop_front()
        {
            self.stats.probes += 1;
            self.probe = Some(ActiveProbe { cluster, start: self.now, bytes: 0, packets: 0 });
        }
        if let Some(mut p) = self.probe {
            if self.probe_due(&p) > self.now {
                return None;
            }
            let out = match self.pop_media() {
                Some((q, class)) => {
                    Paced::Packet { token: q.token, size: q.size as usize, class, probe_cluster: Some(p.cluster.id) }
                }
                None => {
                    self.stats.padding_packets += 1;
                    Paced::Padding { size: self.config.padding_size.max(1), probe_cluster: p.cluster.id }
                }
            };
            let size = match out {
                Paced::Packet { size, .. } | Paced::Padding { size, .. } => size as u64,
            };
            p.bytes += size;
            p.packets += 1;
            self.probe = (p.packets < p.cluster.min_packets || p.bytes < u64::from(p.cluster.min_bytes)).then_some(p);
            self.charge(size);
            return Some(out);
        }
        if self.media_due() > self.now {
            return None;
        }
        let (q, class) = self.pop_media()?;
        self.charge(u64::from(q.size));
        Some(Paced::Packet { token: q.token, size: q.size as usize, class, probe_cluster: None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(p: &mut Pacer, until: Instant, out: &mut alloc::vec::Vec<(Instant, Paced)>) {
        while let Some(t) = p.poll_timeout() {
            if t > until {
                break;
            }
            p.handle_timeout(t);
            while let Some(x) = p.poll_transmit() {
                out.push((t, x));
            }
        }
    }

    #[test]
    fn packets_are_spaced_at_target_times_factor_with_priorities() {
        // 1 Mbit/s target, 2.5 Mbit/s pacing: a 1250-octet packet every 4 ms.
        let mut p = Pacer::new(PacerConfig { max_burst: Duration::ZERO, ..PacerConfig::default() }, 1_000_000);
        let t0 = Instant::from_secs(1);
        for i in 0..10 {
            p.enqueue(t0, i, 1250, Class::Video).unwrap();
        }
        p.enqueue(t0, 100, 1250, Class::Retransmission).unwrap();
        p.enqueue(t0, 200, 1250, Class::Audio).unwrap();
        assert_eq!(p.poll_timeout(), Some(t0));
        let mut out = alloc::vec::Vec::new();
        drain(&mut p, t0 + Duration::from_secs(1), &mut out);
        let tokens: alloc::vec::Vec<u64> =
            out.iter().map(|(_, x)| if let Paced::Packet { token, .. } = x { *token } else { 999 }).collect();
        assert_eq!(tokens, [200, 100, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        for (k, (t, _)) in out.iter().enumerate() {
            assert_eq!(*t, t0 + Duration::from_millis(4 * k as u64));
        }
        assert_eq!(p.poll_timeout(), None);
    }

    #[test]
    fn probes_send_padding_at_their_own_rate() {
        let mut p = Pacer::new(PacerConfig::default(), 100_000);
        let t0 = Instant::from_secs(1);
        p.handle_timeout(t0);
        p.start_probe(ProbeCluster { id: 3, bitrate: 4_000_000, min_packets: 5, min_bytes: 7500 });
        assert_eq!(p.poll_timeout(), Some(t0));
        let mut out = alloc::vec::Vec::new();
        drain(&mut p, t0 + Duration::from_secs(1), &mut out);
        // 7500 octets in 1000-octet padding packets: 8 packets, 2 ms apart at 4 Mbit/s.
        assert_eq!(out.len(), 8);
        for (k, (t, x)) in out.iter().enumerate() {
            assert_eq!(*x, Paced::Padding { size: 1000, probe_cluster: 3 });
            assert_eq!(*t, t0 + Duration::from_millis(2 * k as u64));
        }
        assert_eq!(p.poll_timeout(), None);
        assert_eq!(p.stats().probes, 1);
    }

    #[test]
    fn queues_are_bounded_and_time_never_goes_back() {
        let mut p = Pacer::new(PacerConfig { queue_packets: [1, 1, 2], ..PacerConfig::default() }, 0);
        let t = Instant::from_secs(5);
        assert!(p.enqueue(t, 1, usize::MAX, Class::Video).is_ok());
        assert!(p.enqueue(t, 2, 0, Class::Video).is_ok());
        assert_eq!(p.enqueue(t, 3, 10, Class::Video), Err(QueueFull));
        assert_eq!(p.stats().refused, 1);
        p.handle_timeout(Instant::ZERO);
        assert!(p.poll_timeout().is_some_and(|x| x >= t));
        // Even a 4 GB packet at the floor rate drains (the queue-time limit raises the rate).
        let mut out = alloc::vec::Vec::new();
        drain(&mut p, t + Duration::from_secs(10), &mut out);
        assert_eq!(out.len(), 2);
    }
}
