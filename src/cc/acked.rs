//! The acknowledged bitrate: octets the feedback reports received over the last 500 ms of arrival time.

/// The averaging window (µs).
const WINDOW_US: i64 = 500_000;

#[derive(Clone, Debug)]
pub(super) struct AckedRate {
    /// (arrival µs, octets), oldest first; a ring of fixed capacity.
    ring: alloc::collections::VecDeque<(i64, u32)>,
    bytes: u64,
    first: Option<i64>,
    newest: i64,
}

impl AckedRate {
    pub(super) fn new(capacity: usize) -> Self {
        Self { ring: alloc::collections::VecDeque::with_capacity(capacity), bytes: 0, first: None, newest: i64::MIN }
    }

    pub(super) fn reset(&mut self) {
        self.ring.clear();
        self.bytes = 0;
        self.first = None;
        self.newest = i64::MIN;
    }

    fn pop(&mut self) {
        if let Some((_, b)) = self.ring.pop_front() {
            self.bytes -= u64::from(b);
        }
    }

    /// One packet reported received at `arrival` (µs, receiver clock).
    pub(super) fn push(&mut self, arrival: i64, size: u32) {
        if arrival <= self.newest.saturating_sub(WINDOW_US) {
            return; // older than the window
        }
        self.first.get_or_insert(arrival);
        self.newest = self.newest.max(arrival);
        let cutoff = self.newest.saturating_sub(WINDOW_US);
        while self.ring.front().is_some_and(|(t, _)| *t <= cutoff) {
            self.pop();
        }
        if self.ring.len() == self.ring.capacity() {
            self.pop();
        }
        self.ring.push_back((arrival, size));
        self.bytes += u64::from(size);
    }

    /// Bit/s over the window, once a whole window of arrivals has been seen.
    pub(super) fn rate(&self) -> Option<f64> {
        let first = self.first?;
        if self.newest.saturating_sub(first) < WINDOW_US {
            return None;
        }
        // When the ring holds less than the window (a very high rate), the span it does cover.
        let oldest = self.ring.front().map_or(self.newest, |(t, _)| *t);
        let span = if self.ring.len() == self.ring.capacity() { self.newest.saturating_sub(oldest) } else { WINDOW_US };
        (span > 0).then(|| self.bytes as f64 * 8.0 * 1e6 / span as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_over_the_window() {
        let mut a = AckedRate::new(1024);
        for i in 0..100 {
            a.push(i * 10_000, 1250); // 1 Mbit/s
            assert_eq!(a.rate().is_some(), i * 10_000 >= WINDOW_US);
        }
        assert!((a.rate().unwrap_or(0.0) - 1_000_000.0).abs() < 1.0);
        a.push(i64::MIN, u32::MAX); // far in the past: ignored
        a.push(i64::MAX, u32::MAX); // far ahead: everything else leaves the window
        assert_eq!(a.rate(), Some(f64::from(u32::MAX) * 8.0 * 2.0));
    }
}
