//! Loss-based control, the rule of draft-ietf-rmcat-gcc-02 §6 with libwebrtc's pacing of updates: over
//! at least 20 reported packets and a second, a loss fraction above 10 % cuts the cap to (1 − p/2) × the current target
//! (at most once per 300 ms + RTT); below 2 % the cap grows by 8 % a second (plus 1 kbit/s); in between it
//! holds. The target is the smaller of this cap and the delay-based rate.

/// Packets a loss fraction is measured over at least.
const MIN_PACKETS: u32 = 20;
const HIGH_LOSS: f64 = 0.10;
const LOW_LOSS: f64 = 0.02;
const DECREASE_INTERVAL_MS: f64 = 300.0;
/// A loss fraction is measured over at least this long (ms): over 20 packets alone, 5 % random loss
/// reads as more than 10 % one time in thirteen.
const MIN_PERIOD_MS: f64 = 1000.0;

#[derive(Clone, Debug)]
pub(super) struct LossControl {
    cap: f64,
    min: f64,
    max: f64,
    received: u32,
    lost: u32,
    last_eval_ms: Option<f64>,
    period_start_ms: Option<f64>,
    last_decrease_ms: Option<f64>,
    /// The latest loss fraction measured.
    pub(super) fraction: f64,
}

impl LossControl {
    pub(super) fn new(start: f64, min: f64, max: f64) -> Self {
        Self {
            cap: start,
            min,
            max,
            received: 0,
            lost: 0,
            last_eval_ms: None,
            period_start_ms: None,
            last_decrease_ms: None,
            fraction: 0.0,
        }
    }

    pub(super) fn cap(&self) -> f64 {
        self.cap
    }

    /// Raises the cap to at least `rate` (a probe result shows the path carries it).
    pub(super) fn raise_to(&mut self, rate: f64) {
        self.cap = self.cap.max(rate).clamp(self.min, self.max);
    }

    /// Lowers the cap to at most `rate` (feedback stopped).
    pub(super) fn cap_at(&mut self, rate: f64) {
        self.cap = self.cap.min(rate).clamp(self.min, self.max);
    }

    /// Packets reported received and lost by one feedback; `target` is the current target (bit/s).
    pub(super) fn update(&mut self, received: u32, lost: u32, target: f64, rtt_ms: f64, now_ms: f64) {
        self.received = self.received.saturating_add(received);
        self.lost = self.lost.saturating_add(lost);
        let total = self.received.saturating_add(self.lost);
        let start = *self.period_start_ms.get_or_insert(now_ms);
        if total < MIN_PACKETS || now_ms - start < MIN_PERIOD_MS {
            return;
        }
        self.period_start_ms = Some(now_ms);
        let p = f64::from(self.lost) / f64::from(total);
        self.fraction = p;
        self.received = 0;
        self.lost = 0;
        let last = self.last_eval_ms.replace(now_ms).unwrap_or(now_ms);
        if p > HIGH_LOSS {
            let due = self.last_decrease_ms.is_none_or(|t| now_ms - t >= DECREASE_INTERVAL_MS + rtt_ms);
            if due {
                self.cap = self.cap.min(target) * (1.0 - 0.5 * p);
                self.last_decrease_ms = Some(now_ms);
            }
        } else if p < LOW_LOSS {
            let dt_s = ((now_ms - last) / 1000.0).clamp(0.0, 1.0);
            self.cap += self.cap * 0.08 * dt_s + 1_000.0 * dt_s;
        }
        self.cap = self.cap.clamp(self.min, self.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_thresholds() {
        let mut l = LossControl::new(1_000_000.0, 10_000.0, 5_000_000.0);
        l.update(0, 0, 1_000_000.0, 100.0, 0.0); // the period starts
        l.update(19, 0, 1_000_000.0, 100.0, 1000.0);
        assert_eq!(l.cap(), 1_000_000.0); // too few packets yet
        l.update(100, 0, 1_000_000.0, 100.0, 1500.0);
        assert_eq!(l.fraction, 0.0);
        l.update(100, 0, 1_000_000.0, 100.0, 2500.0);
        assert_eq!(l.cap(), 1_081_000.0); // a second of < 2 %: + 8 % + 1 kbit/s
        l.update(95, 5, 1_000_000.0, 100.0, 3500.0); // 5 %: hold
        assert_eq!(l.cap(), 1_081_000.0);
        l.update(40, 10, 1_000_000.0, 100.0, 3900.0); // too short a period
        assert_eq!(l.cap(), 1_081_000.0);
        l.update(40, 10, 1_000_000.0, 100.0, 4500.0); // 20 %: (1 - 0.1) × min(cap, target)
        assert_eq!(l.cap(), 900_000.0);
    }

    #[test]
    fn total_loss_stays_in_bounds() {
        let mut l = LossControl::new(1_000_000.0, 10_000.0, 5_000_000.0);
        for i in 0..100 {
            l.update(0, u32::MAX, 1_000_000.0, 0.0, f64::from(i) * 1000.0);
        }
        assert_eq!(l.cap(), 10_000.0);
    }
}
