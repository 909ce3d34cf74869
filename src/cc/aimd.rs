//! AIMD rate control (draft-ietf-rmcat-gcc-02 §5.5, with libwebrtc's link capacity estimate): over-use
//! cuts the rate to 0.85 × the acknowledged rate; normal delay raises it, multiplicatively (8 % a second)
//! far from the link's known capacity and additively (about a packet per response time) near it; under-use
//! holds it while the queue drains.

use super::overuse::Usage;

const BETA: f64 = 0.85;
/// Multiplicative increase per second.
const INCREASE_PER_S: f64 = 0.08;
/// Added to the RTT for the response time of the additive increase (ms).
const RESPONSE_EXTRA_MS: f64 = 100.0;
const MIN_ADDITIVE_BPS_PER_S: f64 = 4_000.0;
const MIN_INCREASE_BPS: f64 = 1_000.0;

/// The draft's three states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Hold,
    Increase,
    Decrease,
}

/// The average acknowledged rate at which over-use was detected, with its (normalised) variance.
#[derive(Clone, Copy, Debug, Default)]
struct LinkCapacity {
    estimate: Option<f64>,
    deviation: f64,
}

impl LinkCapacity {
    fn update(&mut self, sample: f64) {
        const ALPHA: f64 = 0.05;
        let est = match self.estimate {
            None => sample,
            Some(e) => (1.0 - ALPHA) * e + ALPHA * sample,
        };
        let norm = est.max(1.0);
        let err = est - sample;
        self.deviation = ((1.0 - ALPHA) * self.deviation + ALPHA * err * err / norm).clamp(0.4, 2.5);
        self.estimate = Some(est);
    }

    /// Three standard deviations.
    fn spread(&self, est: f64) -> f64 {
        3.0 * sqrt(self.deviation * est)
    }

    fn upper(&self) -> Option<f64> {
        self.estimate.map(|e| e + self.spread(e))
    }

    fn lower(&self) -> Option<f64> {
        self.estimate.map(|e| (e - self.spread(e)).max(0.0))
    }
}

/// Square root without `std` (a bit-level guess and Newton steps); 0 for anything not positive.
pub(super) fn sqrt(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 || !x.is_finite() {
        return 0.0;
    }
    let mut y = f64::from_bits((x.to_bits() >> 1) + (1023u64 << 51));
    for _ in 0..6 {
        y = 0.5 * (y + x / y);
    }
    y
}

#[derive(Clone, Debug)]
pub(super) struct Aimd {
    rate: f64,
    min: f64,
    max: f64,
    state: State,
    last_change_ms: Option<f64>,
    capacity: LinkCapacity,
}

impl Aimd {
    pub(super) fn new(start: f64, min: f64, max: f64) -> Self {
        Self { rate: start, min, max, state: State::Hold, last_change_ms: None, capacity: LinkCapacity::default() }
    }

    pub(super) fn rate(&self) -> f64 {
        self.rate
    }

    /// Sets the rate (a probe result, REMB-free start); clamped to the bounds.
    pub(super) fn set(&mut self, rate: f64, now_ms: f64) {
        self.rate = rate.clamp(self.min, self.max);
        self.last_change_ms = Some(now_ms);
    }

    /// Whether an over-use now should cut the rate again: one cut per RTT (10–200 ms), or at once if the
    /// acknowledged rate has fallen under half the estimate.
    pub(super) fn time_to_reduce(&self, now_ms: f64, rtt_ms: f64, acked: Option<f64>) -> bool {
        let interval = rtt_ms.clamp(10.0, 200.0);
        match self.last_change_ms {
            None => true,
            Some(t) if now_ms - t >= interval => true,
            Some(_) => acked.is_some_and(|a| a < 0.5 * self.rate),
        }
    }

    /// One update with the detector's signal, the acknowledged rate (bit/s) and the RTT; `limit_increase`
    /// (application-limited) stops increases.
    pub(super) fn update(&mut self, usage: Usage, acked: Option<f64>, rtt_ms: f64, now_ms: f64, app_limited: bool) {
        self.state = match (usage, self.state) {
            (Usage::Overusing, _) => State::Decrease,
            (Usage::Underusing, _) => State::Hold,
            (Usage::Normal, State::Hold) => {
                self.last_change_ms = Some(now_ms);
                State::Increase
            }
            (Usage::Normal, s) => s,
        };
        let mut rate = self.rate;
        match self.state {
            State::Hold => {}
            State::Increase => {
                if let (Some(a), Some(up)) = (acked, self.capacity.upper())
                    && a > up
                {
                    self.capacity = LinkCapacity::default(); // the link got faster: search again
                }
                // Never more than 1.5 × what the path acknowledged (the sender may be sending less).
                let limit = acked.map(|a| 1.5 * a + 10_000.0);
                if !app_limited && limit.is_none_or(|l| rate < l) {
                    let dt_s = self.last_change_ms.map_or(0.0, |t| ((now_ms - t) / 1000.0).clamp(0.0, 1.0));
                    let increase = if self.capacity.estimate.is_some() {
                        dt_s * self.additive_rate(rtt_ms)
                    } else {
                        (rate * INCREASE_PER_S * dt_s).max(MIN_INCREASE_BPS)
                    };
                    rate += increase;
                    if let Some(l) = limit {
                        rate = rate.min(l);
                    }
                }
                self.last_change_ms = Some(now_ms);
            }
            State::Decrease => {
                if let Some(a) = acked {
                    let mut decreased = BETA * a;
                    if decreased > rate
                        && let Some(c) = self.capacity.estimate
                    {
                        decreased = BETA * c;
                    }
                    if decreased < rate {
                        rate = decreased;
                    }
                    if self.capacity.lower().is_some_and(|l| a < l) {
                        self.capacity = LinkCapacity::default(); // the link got slower: search again
                    }
                    self.capacity.update(a);
                } else {
                    rate *= BETA;
                }
                self.state = State::Hold;
                self.last_change_ms = Some(now_ms);
            }
        }
        self.rate = rate.clamp(self.min, self.max);
    }

    /// About one packet per response time: the frame at 30 fps cut into packets of at most 1200 octets.
    fn additive_rate(&self, rtt_ms: f64) -> f64 {
        let frame_bits = self.rate / 30.0;
        let packets = (frame_bits / (1200.0 * 8.0)).max(1.0);
        let whole = packets as u64 as f64;
        let packets = if whole < packets { whole + 1.0 } else { whole };
        let packet_bits = frame_bits / packets;
        let response_s = (rtt_ms + RESPONSE_EXTRA_MS) / 1000.0;
        (packet_bits / response_s).max(MIN_ADDITIVE_BPS_PER_S)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overuse_cuts_to_085_of_acked_and_normal_increases() {
        let mut a = Aimd::new(1_000_000.0, 30_000.0, 10_000_000.0);
        a.update(Usage::Overusing, Some(800_000.0), 100.0, 0.0, false);
        assert!((a.rate() - 680_000.0).abs() < 1.0);
        a.update(Usage::Normal, Some(800_000.0), 100.0, 100.0, false); // Hold -> Increase starts the clock
        let before = a.rate();
        a.update(Usage::Normal, Some(800_000.0), 100.0, 1100.0, false);
        // Near the known capacity: additive, about a packet per 200 ms.
        assert!(a.rate() > before && a.rate() < before + 40_000.0, "{before} {}", a.rate());
    }

    #[test]
    fn multiplicative_far_from_capacity_and_capped_by_acked() {
        let mut a = Aimd::new(1_000_000.0, 30_000.0, 10_000_000.0);
        a.update(Usage::Normal, None, 100.0, 0.0, false);
        a.update(Usage::Normal, None, 100.0, 1000.0, false);
        // The first step (no time yet) adds the minimum 1 kbit/s, then a second adds 8 %.
        assert!((a.rate() - 1_081_080.0).abs() < 1.0, "{}", a.rate());
        // Acknowledged only 200 kbit/s: no increase past 1.5 × that + 10 kbit/s, and in ALR none at all.
        a.update(Usage::Normal, Some(200_000.0), 100.0, 2000.0, false);
        assert!((a.rate() - 1_081_080.0).abs() < 1.0);
        let mut b = Aimd::new(100_000.0, 30_000.0, 10_000_000.0);
        b.update(Usage::Normal, Some(100_000.0), 100.0, 0.0, true);
        b.update(Usage::Normal, Some(100_000.0), 100.0, 1000.0, true);
        assert_eq!(b.rate(), 100_000.0);
    }

    #[test]
    fn bounds_hold() {
        let mut a = Aimd::new(100_000.0, 50_000.0, 200_000.0);
        for i in 0..100 {
            a.update(Usage::Overusing, Some(0.0), 100.0, f64::from(i) * 1000.0, false);
        }
        assert_eq!(a.rate(), 50_000.0);
        for i in 100..200 {
            a.update(Usage::Normal, None, 100.0, f64::from(i) * 1000.0, false);
        }
        assert_eq!(a.rate(), 200_000.0);
    }

    #[test]
    fn square_root() {
        for x in [1.0, 2.0, 1e6, 2.5e12, 1e-3] {
            assert!((sqrt(x) * sqrt(x) - x).abs() <= x * 1e-12, "{x}");
        }
        assert_eq!(sqrt(-1.0), 0.0);
        assert_eq!(sqrt(f64::NAN), 0.0);
    }
}
