//! RTCP timing (RFC 3550 §6.3, §A.7) and wall-clock conversions (RFC 3550 §4).

use core::time::Duration;

use super::config::{RtcpConfig, RtcpMinimum};
use crate::rand::SeededRng;
use crate::time::Instant;

const NANOS: u128 = 1_000_000_000;
/// UDP and IPv4 header octets, which RTCP packet sizes include (RFC 3550 §6.2).
const LOWER_LAYER_OCTETS: u64 = 28;

/// The NTP timestamp (32.32 fixed point, seconds since 1900) of `now`, given the wall clock at the
/// epoch of [`Instant`].
pub(super) fn ntp(ntp_epoch: Duration, now: Instant) -> u64 {
    let t = ntp_epoch + now.duration_since_epoch();
    let secs = t.as_secs() as u32; // NTP era wrap (RFC 5905 §6)
    let frac = ((u64::from(t.subsec_nanos()) << 32) / 1_000_000_000) as u32;
    (u64::from(secs) << 32) | u64::from(frac)
}

/// The middle 32 bits of an NTP timestamp (LSR, LRR: 16.16 fixed point).
pub(super) fn mid32(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

/// A duration in 1/65536 s (DLSR, DLRR), saturating.
pub(super) fn to_units(d: Duration) -> u32 {
    u32::try_from(d.as_nanos() * 65536 / NANOS).unwrap_or(u32::MAX)
}

/// A round-trip time from a report: arrival time `now_mid` minus LSR minus DLSR (RFC 3550 §6.4.1), all
/// in 1/65536 s. `None` without an LSR, or when the figures give a negative time.
pub(super) fn rtt_from(now_mid: u32, last: u32, delay: u32) -> Option<Duration> {
    if last == 0 {
        return None;
    }
    let elapsed = now_mid.wrapping_sub(last);
    if elapsed >= 0x8000_0000 || elapsed < delay {
        return None;
    }
    let units = u128::from(elapsed - delay);
    Some(Duration::from_nanos((units * NANOS / 65536) as u64))
}

/// The state of RFC 3550 §A.7: when the last report went out, whether it was the first, the average
/// compound size.
#[derive(Clone, Copy, Debug)]
pub(super) struct Schedule {
    /// `tp`: when the last regular report was sent (or the session started).
    pub(super) last: Option<Instant>,
    /// `initial`: no report sent yet.
    pub(super) initial: bool,
    /// `avg_rtcp_size` in octets, including lower-layer headers.
    avg_size: u64,
}

/// Who is in the session, for the interval computation.
#[derive(Clone, Copy, Debug)]
pub(super) struct Membership {
    pub(super) members: u64,
    pub(super) senders: u64,
    pub(super) we_sent: bool,
}

impl Schedule {
    pub(super) fn new() -> Self {
        // "the probable size of the first RTCP packet": an SR with one block and an SDES.
        Self { last: None, initial: true, avg_size: 100 + LOWER_LAYER_OCTETS }
    }

    /// Folds the size of an RTCP compound sent or received into the average (1/16 weight).
    pub(super) fn observe(&mut self, len: usize) {
        let size = len as u64 + LOWER_LAYER_OCTETS;
        self.avg_size = (size + 15 * self.avg_size) / 16;
    }

    /// RFC 3550 §A.7 `rtcp_interval`: the randomised interval to the next report.
    pub(super) fn interval(&self, config: &RtcpConfig, who: Membership, rng: &mut SeededRng) -> Duration {
        let bandwidth = config.session_bandwidth;
        // RTCP gets 5 % of the session bandwidth; 25 % of that goes to senders when they are few.
        let mut rtcp_bw = u128::from(bandwidth / 20).max(1);
        let members = who.members.max(1);
        let mut n = members;
        if who.senders * 4 <= members {
            if who.we_sent {
                rtcp_bw = (rtcp_bw / 4).max(1);
                n = who.senders.max(1);
            } else {
                rtcp_bw = (rtcp_bw * 3 / 4).max(1);
                n = members.saturating_sub(who.senders).max(1);
            }
        }
        let computed = u128::from(self.avg_size) * 8 * u128::from(n) * NANOS / rtcp_bw;
        let standard = 5 * NANOS;
        let mut minimum = match config.minimum {
            RtcpMinimum::Standard => standard,
            // 360 / (bandwidth in kb/s) seconds.
            RtcpMinimum::Reduced if bandwidth > 0 => 360 * NANOS * 1000 / u128::from(bandwidth),
            RtcpMinimum::Reduced => standard,
            RtcpMinimum::Fixed(d) => d.as_nanos(),
        };
        if self.initial {
            minimum /= 2;
        }
        let deterministic = computed.max(minimum);
        // Uniform in [0.5, 1.5] times, then divided by e - 3/2 (timer reconsideration compensation).
        let factor = 500_000 + u128::from(rng.below(1_000_001));
        let t = deterministic * factor / 1_000_000 * 100_000 / 121_828;
        Duration::from_nanos(u64::try_from(t).unwrap_or(u64::MAX))
    }
}
