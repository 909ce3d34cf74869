//! The over-use detector with its adaptive threshold (draft-ietf-rmcat-gcc-02 §5.4, §5.5, as libwebrtc
//! applies it to the trendline): the trend, scaled by the number of samples and a gain, is compared with a
//! threshold that follows it slowly, so that a competing TCP flow's queue does not starve the stream.

/// Whether the path is over-used, under-used or neither (the draft's "signal").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Usage {
    /// Delay is steady.
    #[default]
    Normal,
    /// Delay grows: a queue builds at the bottleneck.
    Overusing,
    /// Delay falls: a queue drains.
    Underusing,
}

const GAIN: f64 = 4.0;
const MAX_SAMPLES: f64 = 60.0;
const INITIAL_THRESHOLD: f64 = 12.5;
const K_UP: f64 = 0.0087;
const K_DOWN: f64 = 0.039;
const MAX_ADAPT_OFFSET: f64 = 15.0;
const MIN_THRESHOLD: f64 = 6.0;
const MAX_THRESHOLD: f64 = 600.0;
/// Over-use must last this long (ms) before it is signalled.
const OVERUSE_TIME_MS: f64 = 10.0;

#[derive(Clone, Debug)]
pub(super) struct Detector {
    threshold: f64,
    last_update_ms: Option<f64>,
    time_over_ms: Option<f64>,
    count: u32,
    previous_trend: f64,
    usage: Usage,
}

impl Default for Detector {
    fn default() -> Self {
        Self {
            threshold: INITIAL_THRESHOLD,
            last_update_ms: None,
            time_over_ms: None,
            count: 0,
            previous_trend: 0.0,
            usage: Usage::Normal,
        }
    }
}

impl Detector {
    pub(super) fn usage(&self) -> Usage {
        self.usage
    }

    #[cfg(test)]
    pub(super) fn threshold(&self) -> f64 {
        self.threshold
    }

    /// One trend sample after `samples` deltas; `send_delta_ms` is the group's send spacing, `now_ms` its
    /// arrival time.
    pub(super) fn detect(&mut self, trend: f64, samples: u32, send_delta_ms: f64, now_ms: f64) -> Usage {
        let trend = if trend.is_finite() { trend } else { 0.0 };
        if samples < 2 {
            self.usage = Usage::Normal;
            return self.usage;
        }
        let modified = f64::from(samples).min(MAX_SAMPLES) * trend * GAIN;
        if modified > self.threshold {
            let over = match self.time_over_ms {
                None => send_delta_ms / 2.0,
                Some(t) => t + send_delta_ms,
            };
            self.time_over_ms = Some(over);
            self.count = self.count.saturating_add(1);
            if over > OVERUSE_TIME_MS && self.count > 1 && trend >= self.previous_trend {
                self.time_over_ms = Some(0.0);
                self.count = 0;
                self.usage = Usage::Overusing;
            }
        } else if modified < -self.threshold {
            self.time_over_ms = None;
            self.count = 0;
            self.usage = Usage::Underusing;
        } else {
            self.time_over_ms = None;
            self.count = 0;
            self.usage = Usage::Normal;
        }
        self.previous_trend = trend;
        self.adapt(modified, now_ms);
        self.usage
    }

    fn adapt(&mut self, modified: f64, now_ms: f64) {
        let last = *self.last_update_ms.get_or_insert(now_ms);
        let magnitude = if modified < 0.0 { -modified } else { modified };
        if magnitude > self.threshold + MAX_ADAPT_OFFSET {
            // A spike (a route change, a burst): the threshold does not chase it.
            self.last_update_ms = Some(now_ms);
            return;
        }
        let k = if magnitude < self.threshold { K_DOWN } else { K_UP };
        let elapsed = (now_ms - last).clamp(0.0, 100.0);
        self.threshold =
            (self.threshold + k * (magnitude - self.threshold) * elapsed).clamp(MIN_THRESHOLD, MAX_THRESHOLD);
        self.last_update_ms = Some(now_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sustained_positive_trend_is_overuse() {
        let mut d = Detector::default();
        let mut now = 0.0;
        let mut seen = Usage::Normal;
        for _ in 0..5 {
            now += 10.0;
            seen = d.detect(0.2, 60, 10.0, now);
        }
        assert_eq!(seen, Usage::Overusing);
        now += 10.0;
        assert_eq!(d.detect(-0.2, 60, 10.0, now), Usage::Underusing);
        now += 10.0;
        assert_eq!(d.detect(0.0, 60, 10.0, now), Usage::Normal);
    }

    #[test]
    fn a_single_spike_is_not_overuse_and_the_threshold_stays_in_range() {
        let mut d = Detector::default();
        assert_eq!(d.detect(1.0, 60, 10.0, 10.0), Usage::Normal);
        let mut now = 10.0;
        for trend in [f64::MAX, f64::MIN, 0.0, 1e300, -1e300] {
            now += 1e9;
            d.detect(trend, 60, 1e9, now);
            assert!((MIN_THRESHOLD..=MAX_THRESHOLD).contains(&d.threshold()));
        }
    }
}
