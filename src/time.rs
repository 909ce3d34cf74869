//! The crate's own monotonic time.
//!
//! [`Instant`] counts nanoseconds from an epoch the caller picks: the start of a capture, a hardware tick
//! counter's zero, or (with the `std` feature) an anchor taken from [`std::time::Instant`] through
//! [`StdAnchor`]. The library never reads a clock; every `handle_*` call is given `now`.
//!
//! Arithmetic saturates instead of panicking: an `Instant` cannot go below the epoch or past about 584 years
//! after it, and subtracting a later instant from an earlier one gives [`Duration::ZERO`]. State machines
//! treat a `now` earlier than one they have already seen as equal to it (time going backwards is ignored,
//! never a panic).

use core::fmt;
use core::ops::{Add, AddAssign, Sub, SubAssign};
use core::time::Duration;

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// A point in monotonic time, in nanoseconds since a caller-chosen epoch.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant {
    nanos: u64,
}

impl Instant {
    /// The epoch itself.
    pub const ZERO: Instant = Instant { nanos: 0 };
    /// The latest representable instant (about 584 years after the epoch).
    pub const MAX: Instant = Instant { nanos: u64::MAX };

    /// The instant `nanos` nanoseconds after the epoch.
    pub const fn from_nanos(nanos: u64) -> Self {
        Instant { nanos }
    }

    /// The instant `micros` microseconds after the epoch (saturating).
    pub const fn from_micros(micros: u64) -> Self {
        Instant { nanos: micros.saturating_mul(1_000) }
    }

    /// The instant `millis` milliseconds after the epoch (saturating).
    pub const fn from_millis(millis: u64) -> Self {
        Instant { nanos: millis.saturating_mul(1_000_000) }
    }

    /// The instant `secs` seconds after the epoch (saturating).
    pub const fn from_secs(secs: u64) -> Self {
        Instant { nanos: secs.saturating_mul(NANOS_PER_SEC) }
    }

    /// The instant `since_epoch` after the epoch (saturating), e.g. a pcap timestamp.
    pub const fn from_duration(since_epoch: Duration) -> Self {
        let nanos = since_epoch.as_nanos();
        Instant { nanos: if nanos > u64::MAX as u128 { u64::MAX } else { nanos as u64 } }
    }

    /// The instant of tick `ticks` of a counter running at `hz` ticks per second (a hardware timer).
    /// Exact for any counter up to 2^64 ticks; `hz == 0` gives the epoch.
    pub const fn from_ticks(ticks: u64, hz: u64) -> Self {
        if hz == 0 {
            return Instant::ZERO;
        }
        let nanos = ticks as u128 * NANOS_PER_SEC as u128 / hz as u128;
        Instant { nanos: if nanos > u64::MAX as u128 { u64::MAX } else { nanos as u64 } }
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> u64 {
        self.nanos
    }

    /// Time since the epoch.
    pub const fn duration_since_epoch(self) -> Duration {
        Duration::from_nanos(self.nanos)
    }

    /// Time from `earlier` to `self`, or `None` if `earlier` is later.
    pub const fn checked_duration_since(self, earlier: Instant) -> Option<Duration> {
        match self.nanos.checked_sub(earlier.nanos) {
            Some(n) => Some(Duration::from_nanos(n)),
            None => None,
        }
    }

    /// Time from `earlier` to `self`, or zero if `earlier` is later.
    pub const fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.nanos.saturating_sub(earlier.nanos))
    }

    /// `self + d`, or `None` past [`Instant::MAX`].
    pub fn checked_add(self, d: Duration) -> Option<Instant> {
        let d = u64::try_from(d.as_nanos()).ok()?;
        self.nanos.checked_add(d).map(Instant::from_nanos)
    }

    /// `self - d`, or `None` before the epoch.
    pub fn checked_sub(self, d: Duration) -> Option<Instant> {
        let d = u64::try_from(d.as_nanos()).ok()?;
        self.nanos.checked_sub(d).map(Instant::from_nanos)
    }

    /// `self + d`, clamped to [`Instant::MAX`].
    pub fn saturating_add(self, d: Duration) -> Instant {
        self.checked_add(d).unwrap_or(Instant::MAX)
    }

    /// `self - d`, clamped to the epoch.
    pub fn saturating_sub(self, d: Duration) -> Instant {
        self.checked_sub(d).unwrap_or(Instant::ZERO)
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// Saturates at [`Instant::MAX`].
    fn add(self, d: Duration) -> Instant {
        self.saturating_add(d)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    /// Saturates at the epoch.
    fn sub(self, d: Duration) -> Instant {
        self.saturating_sub(d)
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, d: Duration) {
        *self = *self - d;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    /// Saturates at zero when `earlier` is later than `self`.
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Instant {
    /// Seconds since the epoch with nanosecond precision, e.g. `12.000300000s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Formatted into a stack buffer first so that width and alignment flags apply (`{:>14}`).
        let mut buf = [0u8; 32];
        let mut w = StackWriter { buf: &mut buf, len: 0 };
        fmt::Write::write_fmt(
            &mut w,
            format_args!("{}.{:09}s", self.nanos / NANOS_PER_SEC, self.nanos % NANOS_PER_SEC),
        )?;
        let len = w.len;
        f.pad(core::str::from_utf8(&buf[..len]).map_err(|_| fmt::Error)?)
    }
}

/// A `fmt::Write` into a fixed buffer (enough for any `Instant`: 20 digits, a dot, 9 digits and `s`).
struct StackWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl fmt::Write for StackWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        self.buf.get_mut(self.len..end).ok_or(fmt::Error)?.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Converts between [`std::time::Instant`] and [`Instant`] against a fixed anchor (`std` only).
///
/// The anchor pairs one `std::time::Instant` with one crate `Instant`; every other conversion is an offset
/// from it. Times before the anchor map to the anchor's crate `Instant` minus the gap, clamped to the epoch.
#[cfg(feature = "std")]
#[derive(Clone, Copy, Debug)]
pub struct StdAnchor {
    std: std::time::Instant,
    at: Instant,
}

#[cfg(feature = "std")]
impl StdAnchor {
    /// Anchors `std` to the crate epoch ([`Instant::ZERO`]).
    pub fn new(std: std::time::Instant) -> Self {
        StdAnchor { std, at: Instant::ZERO }
    }

    /// Anchors `std` to `at`.
    pub fn with_instant(std: std::time::Instant, at: Instant) -> Self {
        StdAnchor { std, at }
    }

    /// Anchors the current `std` time to the crate epoch. A convenience that reads the system's monotonic
    /// clock; the library itself never calls it.
    pub fn starting_now() -> Self {
        StdAnchor::new(std::time::Instant::now())
    }

    /// The crate instant for `t`.
    pub fn to_instant(&self, t: std::time::Instant) -> Instant {
        match t.checked_duration_since(self.std) {
            Some(after) => self.at + after,
            None => self.at - self.std.duration_since(t),
        }
    }

    /// The `std` instant for `t` (`None` if it cannot be represented).
    pub fn to_std(&self, t: Instant) -> Option<std::time::Instant> {
        if t >= self.at { self.std.checked_add(t - self.at) } else { self.std.checked_sub(self.at - t) }
    }

    /// The crate instant for the current `std` time. A convenience that reads the system's monotonic clock;
    /// the library itself never calls it.
    pub fn now(&self) -> Instant {
        self.to_instant(std::time::Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;

    #[test]
    fn constructors_agree() {
        assert_eq!(Instant::from_secs(2), Instant::from_millis(2_000));
        assert_eq!(Instant::from_millis(3), Instant::from_micros(3_000));
        assert_eq!(Instant::from_micros(5), Instant::from_nanos(5_000));
        assert_eq!(Instant::from_duration(Duration::from_millis(7)), Instant::from_millis(7));
        assert_eq!(Instant::from_secs(u64::MAX), Instant::MAX);
    }

    #[test]
    fn ticks_are_exact() {
        // A 32.768 kHz RTC: 32768 ticks is one second.
        assert_eq!(Instant::from_ticks(32_768, 32_768), Instant::from_secs(1));
        assert_eq!(Instant::from_ticks(1, 3), Instant::from_nanos(333_333_333));
        assert_eq!(Instant::from_ticks(u64::MAX, 1), Instant::MAX);
        assert_eq!(Instant::from_ticks(10, 0), Instant::ZERO);
    }

    #[test]
    fn arithmetic_saturates() {
        let t = Instant::from_secs(1);
        assert_eq!(t + Duration::from_millis(500), Instant::from_millis(1_500));
        assert_eq!(t - Duration::from_secs(5), Instant::ZERO);
        assert_eq!(Instant::MAX + Duration::from_secs(1), Instant::MAX);
        assert_eq!(t + Duration::MAX, Instant::MAX);
        assert_eq!(Instant::ZERO - t, Duration::ZERO);
        assert_eq!(t - Instant::ZERO, Duration::from_secs(1));
        assert_eq!(Instant::ZERO.checked_duration_since(t), None);
        assert_eq!(t.checked_sub(Duration::from_secs(2)), None);
        assert_eq!(t.checked_add(Duration::MAX), None);
        let mut u = t;
        u += Duration::from_secs(1);
        u -= Duration::from_millis(250);
        assert_eq!(u, Instant::from_millis(1_750));
    }

    #[test]
    fn display_has_nanosecond_precision() {
        assert_eq!(Instant::from_nanos(12_000_300_001).to_string(), "12.000300001s");
        assert_eq!(format!("{:?}", Instant::ZERO), "0.000000000s");
        assert_eq!(format!("[{:>14}]", Instant::from_millis(1_500)), "[  1.500000000s]");
        assert_eq!(Instant::MAX.to_string(), "18446744073.709551615s");
    }

    #[cfg(feature = "std")]
    #[test]
    fn std_anchor_round_trips() {
        let base = std::time::Instant::now();
        let anchor = StdAnchor::with_instant(base, Instant::from_secs(10));
        let later = base + Duration::from_millis(1_234);
        assert_eq!(anchor.to_instant(later), Instant::from_millis(11_234));
        assert_eq!(anchor.to_std(Instant::from_millis(11_234)), Some(later));
        if let Some(earlier) = base.checked_sub(Duration::from_secs(3)) {
            assert_eq!(anchor.to_instant(earlier), Instant::from_secs(7));
            assert_eq!(anchor.to_std(Instant::from_secs(7)), Some(earlier));
        }
        assert!(anchor.now() >= Instant::from_secs(10));
    }
}
