//! The trendline filter (libwebrtc's replacement for the draft's Kalman filter, draft-ietf-rmcat-gcc-02
//! §5.3): the one-way delay variation of each group is accumulated, smoothed, and the slope of the
//! smoothed delay against arrival time over the last 20 groups is the delay trend.

/// Groups the slope is fitted over.
const WINDOW: usize = 20;
/// Exponential smoothing of the accumulated delay.
const SMOOTHING: f64 = 0.9;

#[derive(Clone, Debug)]
pub(super) struct Trendline {
    /// (arrival time since the first, smoothed accumulated delay), in milliseconds; a ring.
    history: [(f64, f64); WINDOW],
    len: usize,
    head: usize,
    first_arrival_us: Option<i64>,
    accumulated: f64,
    smoothed: f64,
    trend: f64,
    /// Samples seen (capped), which scales the trend before detection.
    pub(super) samples: u32,
}

impl Default for Trendline {
    fn default() -> Self {
        Self {
            history: [(0.0, 0.0); WINDOW],
            len: 0,
            head: 0,
            first_arrival_us: None,
            accumulated: 0.0,
            smoothed: 0.0,
            trend: 0.0,
            samples: 0,
        }
    }
}

impl Trendline {
    /// Feeds one group delta (microseconds); returns the current trend (ms of delay per ms).
    pub(super) fn update(&mut self, send_delta_us: i64, arrival_delta_us: i64, arrival_us: i64) -> f64 {
        let delta_ms = arrival_delta_us.saturating_sub(send_delta_us) as f64 / 1000.0;
        self.samples = (self.samples + 1).min(1000);
        let first = *self.first_arrival_us.get_or_insert(arrival_us);
        self.accumulated += delta_ms;
        self.smoothed = SMOOTHING * self.smoothed + (1.0 - SMOOTHING) * self.accumulated;
        let x = arrival_us.saturating_sub(first) as f64 / 1000.0;
        if let Some(slot) = self.history.get_mut(self.head) {
            *slot = (x, self.smoothed);
        }
        self.head = (self.head + 1) % WINDOW;
        self.len = (self.len + 1).min(WINDOW);
        if self.len == WINDOW
            && let Some(slope) = slope(&self.history)
        {
            self.trend = slope;
        }
        self.trend
    }
}

/// Least-squares slope of `points`, `None` if all x are equal.
fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    let (sx, sy) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) =
        points.iter().fold((0.0, 0.0), |(num, den), (x, y)| (num + (x - mx) * (y - my), den + (x - mx) * (x - mx)));
    (den != 0.0).then(|| num / den)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_growing_queue_gives_a_positive_trend_and_a_steady_one_none() {
        let mut steady = Trendline::default();
        let mut growing = Trendline::default();
        let (mut t1, mut t2) = (0i64, 0i64);
        let (mut s, mut g) = (0.0, 0.0);
        for _ in 0..40 {
            t1 += 10_000;
            s = steady.update(10_000, 10_000, t1);
            t2 += 11_000; // each group arrives 1 ms later than it was sent: the queue grows
            g = growing.update(10_000, 11_000, t2);
        }
        assert_eq!(s, 0.0);
        assert!(g > 0.05 && g < 0.1, "{g}"); // tends to 1/11 as the smoothing settles
    }

    #[test]
    fn slope_of_a_line() {
        let pts = [(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)];
        assert_eq!(slope(&pts), Some(2.0));
        assert_eq!(slope(&[(1.0, 1.0), (1.0, 2.0)]), None);
    }
}
