//! Links: one direction of travel between two endpoints, with delay, jitter, loss, duplication,
//! reordering and a bandwidth cap.

use alloc::collections::VecDeque;
use core::time::Duration;

use crate::rand::SeededRng;
use crate::time::Instant;

/// How one direction of a link treats datagrams. Build it with the `with_*` methods from
/// [`LinkConfig::default`] (a perfect link: no delay, no loss, unlimited bandwidth).
///
/// Each datagram goes through, in order: the bandwidth queue (drop-tail when [`LinkConfig::queue_limit`]
/// datagrams wait), serialisation at [`LinkConfig::bandwidth`], loss, then one-way delay plus a uniform
/// jitter in `[0, jitter]`, and possibly a duplicate with its own jitter.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct LinkConfig {
    /// Fixed one-way propagation delay.
    pub delay: Duration,
    /// Extra delay drawn uniformly from `[0, jitter]` per datagram.
    pub jitter: Duration,
    /// Whether jitter may reorder datagrams (`true`, as netem does). When `false`, a datagram never arrives
    /// before one sent earlier on the same link (jitter then only bunches datagrams).
    pub jitter_reorders: bool,
    /// Probability in `[0, 1]` that a datagram is lost.
    pub loss: f64,
    /// Bursty loss (a Gilbert model): per datagram, the probability in `[0, 1]` that the link goes from its
    /// good state (where [`LinkConfig::loss`] applies) into its bad state, where every datagram is lost.
    pub burst_enter: f64,
    /// Per datagram in the bad state, the probability of returning to the good state; the mean burst is
    /// `1 / burst_leave` datagrams.
    pub burst_leave: f64,
    /// Probability in `[0, 1]` that a datagram is delivered twice.
    pub duplicate: f64,
    /// Probability in `[0, 1]` that a datagram is held back by [`LinkConfig::reorder_delay`], so datagrams
    /// sent after it overtake it.
    pub reorder: f64,
    /// How long a datagram picked by [`LinkConfig::reorder`] is held back.
    pub reorder_delay: Duration,
    /// Bandwidth in bits per second (`None`: unlimited). Each datagram then takes `len * 8 / bandwidth`
    /// to serialise, after the ones queued before it.
    pub bandwidth: Option<u64>,
    /// With a bandwidth cap: how many datagrams may wait or be serialising before new ones are dropped
    /// (drop-tail).
    pub queue_limit: usize,
    /// Datagrams that may be travelling on the link at once; more are dropped as queue drops. Bounds the
    /// simulator's memory.
    pub max_in_flight: usize,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            jitter_reorders: true,
            loss: 0.0,
            burst_enter: 0.0,
            burst_leave: 1.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::from_millis(10),
            bandwidth: None,
            queue_limit: 64,
            max_in_flight: 10_000,
        }
    }
}

impl LinkConfig {
    /// A perfect link with one-way `delay`.
    pub fn with_delay_only(delay: Duration) -> Self {
        LinkConfig::default().with_delay(delay)
    }

    /// Sets the one-way delay.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Sets the jitter (uniform in `[0, jitter]`).
    pub fn with_jitter(mut self, jitter: Duration) -> Self {
        self.jitter = jitter;
        self
    }

    /// Keeps datagrams in order despite jitter.
    pub fn in_order(mut self) -> Self {
        self.jitter_reorders = false;
        self
    }

    /// Sets the loss probability.
    pub fn with_loss(mut self, loss: f64) -> Self {
        self.loss = loss;
        self
    }

    /// Adds bursts of loss: each datagram in the good state starts a burst with probability `enter`; each
    /// datagram in a burst is lost and ends it with probability `leave`.
    pub fn with_burst_loss(mut self, enter: f64, leave: f64) -> Self {
        self.burst_enter = enter;
        self.burst_leave = leave;
        self
    }

    /// Sets the duplication probability.
    pub fn with_duplicate(mut self, duplicate: f64) -> Self {
        self.duplicate = duplicate;
        self
    }

    /// Holds back a fraction `reorder` of datagrams by `delay`, so later ones overtake them.
    pub fn with_reorder(mut self, reorder: f64, delay: Duration) -> Self {
        self.reorder = reorder;
        self.reorder_delay = delay;
        self
    }

    /// Caps the bandwidth at `bits_per_second` with a drop-tail queue of `queue_limit` datagrams.
    pub fn with_bandwidth(mut self, bits_per_second: u64, queue_limit: usize) -> Self {
        self.bandwidth = Some(bits_per_second);
        self.queue_limit = queue_limit;
        self
    }
}

/// What one direction of a link did. `delivered` counts arrivals (duplicates included).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkStats {
    /// Datagrams offered to the link.
    pub sent: u64,
    /// Datagrams that arrived at the far end (each duplicate counts).
    pub delivered: u64,
    /// Datagrams lost on the wire.
    pub lost: u64,
    /// Extra copies made.
    pub duplicated: u64,
    /// Datagrams that arrived before one sent earlier on the link.
    pub reordered: u64,
    /// Datagrams dropped because the bandwidth queue (or the in-flight bound) was full.
    pub queue_dropped: u64,
}

/// Why a link dropped a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LinkDrop {
    Lost,
    QueueFull,
}

/// One direction of a link and its state.
#[derive(Debug)]
pub(crate) struct Link {
    config: LinkConfig,
    rng: SeededRng,
    /// Finish times of datagrams waiting or serialising (bandwidth cap only).
    queue: VecDeque<Instant>,
    /// The latest arrival scheduled so far.
    latest: Instant,
    /// In a loss burst (Gilbert bad state).
    in_burst: bool,
    in_flight: usize,
    pub(crate) stats: LinkStats,
}

impl Link {
    pub(crate) fn new(config: LinkConfig, rng: SeededRng) -> Self {
        Link {
            config,
            rng,
            queue: VecDeque::new(),
            latest: Instant::ZERO,
            in_burst: false,
            in_flight: 0,
            stats: LinkStats::default(),
        }
    }

    pub(crate) fn set_config(&mut self, config: LinkConfig) {
        self.config = config;
    }

    /// Offers a datagram of `len` bytes at `now`: its arrival time and, if duplicated, the copy's.
    pub(crate) fn schedule(&mut self, now: Instant, len: usize) -> Result<(Instant, Option<Instant>), LinkDrop> {
        self.stats.sent += 1;
        if self.in_flight >= self.config.max_in_flight {
            self.stats.queue_dropped += 1;
            return Err(LinkDrop::QueueFull);
        }
        let depart = match self.config.bandwidth {
            Some(bps) if bps > 0 => {
                while self.queue.front().is_some_and(|finish| *finish <= now) {
                    self.queue.pop_front();
                }
                if self.queue.len() >= self.config.queue_limit {
                    self.stats.queue_dropped += 1;
                    return Err(LinkDrop::QueueFull);
                }
                let start = self.queue.back().copied().unwrap_or(now).max(now);
                let nanos = (len as u128 * 8 * 1_000_000_000) / u128::from(bps);
                let finish = start + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
                self.queue.push_back(finish);
                finish
            }
            _ => now,
        };
        if self.in_burst {
            self.in_burst = !chance(&mut self.rng, self.config.burst_leave);
        } else {
            self.in_burst = chance(&mut self.rng, self.config.burst_enter);
        }
        if self.in_burst || chance(&mut self.rng, self.config.loss) {
            self.stats.lost += 1;
            return Err(LinkDrop::Lost);
        }
        let first = self.arrival(depart);
        let copy = if chance(&mut self.rng, self.config.duplicate) {
            self.stats.duplicated += 1;
            Some(self.arrival(depart))
        } else {
            None
        };
        self.in_flight += 1 + usize::from(copy.is_some());
        Ok((first, copy))
    }

    fn arrival(&mut self, depart: Instant) -> Instant {
        let mut at = depart + self.config.delay;
        if !self.config.jitter.is_zero() {
            at += self.rng.duration_between(Duration::ZERO, self.config.jitter);
        }
        if chance(&mut self.rng, self.config.reorder) {
            at += self.config.reorder_delay;
        } else if !self.config.jitter_reorders {
            at = at.max(self.latest);
        }
        if at < self.latest {
            self.stats.reordered += 1;
        }
        self.latest = self.latest.max(at);
        at
    }

    /// A datagram scheduled by [`Link::schedule`] arrived.
    pub(crate) fn arrived(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.stats.delivered += 1;
    }
}

/// `true` with probability `p` (no draw when `p` is 0 so perfect links consume no randomness).
fn chance(rng: &mut SeededRng, p: f64) -> bool {
    if p.is_nan() || p <= 0.0 {
        return false;
    }
    if p >= 1.0 {
        return true;
    }
    // 53 random bits as a uniform fraction in [0, 1).
    let draw = (rng.u64() >> 11) as f64 / (1u64 << 53) as f64;
    draw < p
}
