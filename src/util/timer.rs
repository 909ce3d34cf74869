//! Timers as a closed enum plus a fixed table: no heap per timer.
//!
//! A machine lists its timers in an enum implementing [`TimerKind`] and keeps a [`Timers`] table with one
//! deadline slot per variant. `poll_timeout` is [`Timers::next`]; `handle_timeout` pops what is due with
//! [`Timers::pop_due`] until it returns `None`.

use crate::time::Instant;

/// What `poll_timeout` returns for a machine whose earliest timer is `timer`: `now` (the latest instant the
/// machine was given) when a transmit is owed, so a caller who sleeps until the deadline wakes at once and
/// drains `poll_transmit`; otherwise the timer.
pub(crate) fn deadline(timer: Option<Instant>, now: Instant, transmit_owed: bool) -> Option<Instant> {
    if transmit_owed { Some(timer.map_or(now, |t| t.min(now))) } else { timer }
}

/// A closed set of timers. `ALL[i].index() == i` must hold for every variant.
pub(crate) trait TimerKind: Copy + 'static {
    /// Every variant, in index order.
    const ALL: &'static [Self];
    /// This variant's slot.
    fn index(self) -> usize;
}

/// One optional deadline per timer kind; `N` must equal `T::ALL.len()`.
#[derive(Clone, Debug)]
pub(crate) struct Timers<T: TimerKind, const N: usize> {
    deadlines: [Option<Instant>; N],
    _kind: core::marker::PhantomData<T>,
}

impl<T: TimerKind, const N: usize> Default for Timers<T, N> {
    fn default() -> Self {
        Timers { deadlines: [None; N], _kind: core::marker::PhantomData }
    }
}

impl<T: TimerKind, const N: usize> Timers<T, N> {
    /// Arms `timer` for `at`, replacing any earlier setting.
    pub(crate) fn set(&mut self, timer: T, at: Instant) {
        if let Some(slot) = self.deadlines.get_mut(timer.index()) {
            *slot = Some(at);
        }
    }

    /// Disarms `timer`.
    pub(crate) fn clear(&mut self, timer: T) {
        if let Some(slot) = self.deadlines.get_mut(timer.index()) {
            *slot = None;
        }
    }

    /// When `timer` fires, if armed.
    pub(crate) fn get(&self, timer: T) -> Option<Instant> {
        self.deadlines.get(timer.index()).copied().flatten()
    }

    /// The earliest armed deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// Disarms and returns the earliest timer due at or before `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<T> {
        let (index, _) = self
            .deadlines
            .iter()
            .enumerate()
            .filter_map(|(i, d)| d.filter(|d| *d <= now).map(|d| (i, d)))
            .min_by_key(|(_, d)| *d)?;
        self.deadlines[index] = None;
        T::ALL.get(index).copied()
    }

    /// Disarms every timer.
    pub(crate) fn clear_all(&mut self) {
        self.deadlines = [None; N];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum T {
        A,
        B,
        C,
    }

    impl TimerKind for T {
        const ALL: &'static [Self] = &[T::A, T::B, T::C];
        fn index(self) -> usize {
            self as usize
        }
    }

    #[test]
    fn fires_in_deadline_order() {
        let mut timers: Timers<T, 3> = Timers::default();
        assert_eq!(timers.next(), None);
        timers.set(T::C, Instant::from_secs(1));
        timers.set(T::A, Instant::from_secs(3));
        timers.set(T::B, Instant::from_secs(2));
        assert_eq!(timers.next(), Some(Instant::from_secs(1)));
        assert_eq!(timers.pop_due(Instant::from_millis(500)), None);
        assert_eq!(timers.pop_due(Instant::from_secs(2)), Some(T::C));
        assert_eq!(timers.pop_due(Instant::from_secs(2)), Some(T::B));
        assert_eq!(timers.pop_due(Instant::from_secs(2)), None);
        assert_eq!(timers.get(T::A), Some(Instant::from_secs(3)));
        timers.clear(T::A);
        assert_eq!(timers.next(), None);
        timers.set(T::B, Instant::ZERO);
        timers.clear_all();
        assert_eq!(timers.next(), None);
    }
}
