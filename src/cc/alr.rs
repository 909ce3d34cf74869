//! Application-limited region detection (libwebrtc's `AlrDetector`): a budget filled at 65 % of the
//! target rate and drained by what is sent, over a 500 ms window. When more than 80 % of it stays unused
//! the sender is application-limited (it has less to send than the estimate allows) until it falls under
//! 50 %. While application-limited the estimate does not grow: feedback says nothing about more.

use crate::time::Instant;

const USAGE_RATIO: f64 = 0.65;
const WINDOW_MS: f64 = 500.0;
const START_RATIO: f64 = 0.8;
const STOP_RATIO: f64 = 0.5;

#[derive(Clone, Debug)]
pub(super) struct Alr {
    /// Unused budget in bits, within ±the window's worth.
    budget: f64,
    rate: f64,
    last: Option<Instant>,
    since: Option<Instant>,
}

impl Alr {
    pub(super) fn new(rate: f64) -> Self {
        Self { budget: 0.0, rate: rate * USAGE_RATIO, last: None, since: None }
    }

    pub(super) fn set_rate(&mut self, target: f64) {
        self.rate = target * USAGE_RATIO;
    }

    /// When the current application-limited period began, if the sender is in one.
    pub(super) fn since(&self) -> Option<Instant> {
        self.since
    }

    /// `bytes` sent at `now` (0 to let time pass).
    pub(super) fn on_sent(&mut self, now: Instant, bytes: usize) {
        let max = self.rate * WINDOW_MS / 1000.0;
        if let Some(last) = self.last {
            let elapsed_s = (now - last).as_secs_f64().min(WINDOW_MS / 1000.0);
            self.budget += self.rate * elapsed_s;
        }
        self.last = Some(self.last.map_or(now, |l| l.max(now)));
        self.budget = (self.budget - bytes as f64 * 8.0).clamp(-max, max);
        let ratio = if max > 0.0 { self.budget / max } else { 0.0 };
        match self.since {
            None if ratio > START_RATIO => self.since = Some(now),
            Some(_) if ratio < STOP_RATIO => self.since = None,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    #[test]
    fn little_to_send_is_application_limited_and_sending_ends_it() {
        let mut a = Alr::new(1_000_000.0);
        let mut now = Instant::from_secs(1);
        for _ in 0..100 {
            now += Duration::from_millis(10);
            a.on_sent(now, 100); // 80 kbit/s of a 1 Mbit/s target
        }
        assert!(a.since().is_some());
        for _ in 0..50 {
            now += Duration::from_millis(10);
            a.on_sent(now, 1250); // 1 Mbit/s
        }
        assert!(a.since().is_none());
    }
}
