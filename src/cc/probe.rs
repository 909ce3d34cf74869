//! Probing: short clusters of packets sent by the pacer above the current estimate, whose acknowledged
//! rate says how much the path carries (libwebrtc's `ProbeController` and `ProbeBitrateEstimator`).
//!
//! At start two clusters go out at 3 × and 6 × the start rate; while a result reaches 70 % of what was
//! probed the next probe doubles it (up to the maximum). After a large drop (the estimate below 66 % of
//! what it was), one probe at 85 % of the earlier rate checks whether the path recovered, once the delay
//! signal is normal again. While application-limited (if asked for), a probe at 2 × the estimate every
//! 5 s keeps it current. A result is the lower of the cluster's send and receive rates, and only counts when at least
//! 80 % of the cluster's packets and octets were reported received.

use crate::time::Instant;
use core::time::Duration;

/// A cluster of packets for the pacer to send at `bitrate`, tagged with `id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProbeCluster {
    /// Its id (carried back by [`super::SentPacket::probe_cluster`]).
    pub id: u32,
    /// The rate to send it at (bit/s).
    pub bitrate: u64,
    /// Packets to send at least.
    pub min_packets: u32,
    /// Octets to send at least (15 ms at `bitrate`).
    pub min_bytes: u32,
}

const MIN_PACKETS: u32 = 5;
const MIN_DURATION_MS: u64 = 15;
const EXPONENTIAL_THRESHOLD: f64 = 0.7;
const DROP_RATIO: f64 = 0.66;
const RECOVERY_FACTOR: f64 = 0.85;
const RECOVERY_WINDOW: Duration = Duration::from_secs(5);
const ALR_INTERVAL: Duration = Duration::from_secs(5);
const RESULT_TIMEOUT: Duration = Duration::from_secs(1);
/// Clusters measured at once.
const TRACKED: usize = 4;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    /// Nothing sent yet.
    Init,
    /// Waiting for the result of a probe at `bitrate`, to go on doubling.
    Exponential {
        bitrate: f64,
        sent: Instant,
    },
    Idle,
}

#[derive(Clone, Debug)]
pub(super) struct ProbeController {
    phase: Phase,
    next_id: u32,
    max: f64,
    /// The estimate before a large drop and when it dropped.
    drop: Option<(f64, Instant)>,
    /// The highest estimate of the last few seconds (to spot a large drop).
    recent_high: f64,
    last_alr_probe: Option<Instant>,
}

impl ProbeController {
    pub(super) fn new(max: f64) -> Self {
        Self { phase: Phase::Init, next_id: 1, max, drop: None, recent_high: 0.0, last_alr_probe: None }
    }

    fn cluster(&mut self, bitrate: f64) -> ProbeCluster {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        let bitrate = bitrate.min(self.max) as u64;
        let min_bytes = (bitrate.saturating_mul(MIN_DURATION_MS) / 8_000).min(u64::from(u32::MAX)) as u32;
        ProbeCluster { id, bitrate, min_packets: MIN_PACKETS, min_bytes }
    }

    /// The start: clusters at 3 × and 6 × the start rate.
    pub(super) fn start(&mut self, now: Instant, start: f64, out: &mut impl FnMut(ProbeCluster)) {
        if self.phase != Phase::Init {
            return;
        }
        self.recent_high = start;
        out(self.cluster(3.0 * start));
        if 3.0 * start < self.max {
            out(self.cluster(6.0 * start));
        }
        self.phase = Phase::Exponential { bitrate: (6.0 * start).min(self.max), sent: now };
    }

    /// A probe result (bit/s).
    pub(super) fn on_result(&mut self, now: Instant, result: f64, out: &mut impl FnMut(ProbeCluster)) {
        if let Phase::Exponential { bitrate, .. } = self.phase {
            if result >= EXPONENTIAL_THRESHOLD * bitrate && 2.0 * result <= self.max {
                out(self.cluster(2.0 * result));
                self.phase = Phase::Exponential { bitrate: 2.0 * result, sent: now };
            } else {
                self.phase = Phase::Idle;
            }
        }
    }

    /// The periodic check: the estimate now, whether the delay signal is normal, whether the sender is
    /// application-limited (since when).
    pub(super) fn process(
        &mut self,
        now: Instant,
        estimate: f64,
        normal: bool,
        alr: Option<Instant>,
        out: &mut impl FnMut(ProbeCluster),
    ) {
        if let Phase::Exponential { sent, .. } = self.phase
            && now - sent > RESULT_TIMEOUT
        {
            self.phase = Phase::Idle;
        }
        if self.phase == Phase::Init {
            return;
        }
        // A large drop: remember the rate before it.
        if estimate < DROP_RATIO * self.recent_high {
            self.drop = Some((self.recent_high, now));
            self.recent_high = estimate;
        }
        self.recent_high = self.recent_high.max(estimate);
        if let Some((before, at)) = self.drop {
            if now - at > RECOVERY_WINDOW {
                self.drop = None;
            } else if normal && self.phase == Phase::Idle {
                self.drop = None;
                out(self.cluster(RECOVERY_FACTOR * before));
                return;
            }
        }
        if let Some(since) = alr
            && self.phase == Phase::Idle
            && now - since >= ALR_INTERVAL
            && self.last_alr_probe.is_none_or(|t| now - t >= ALR_INTERVAL)
        {
            self.last_alr_probe = Some(now);
            out(self.cluster(2.0 * estimate));
        }
    }
}

/// What the feedback says of one cluster so far (µs times).
#[derive(Clone, Copy, Debug)]
struct Measured {
    id: u32,
    min_packets: u32,
    min_bytes: u32,
    packets: u32,
    bytes: u64,
    first_send: i64,
    last_send: i64,
    last_send_size: u32,
    first_arrival: i64,
    last_arrival: i64,
    first_arrival_size: u32,
    done: bool,
}

/// Measures clusters from feedback: up to four at once (the oldest is forgotten for a fifth).
#[derive(Clone, Debug, Default)]
pub(super) struct ProbeResults {
    clusters: [Option<Measured>; TRACKED],
    next: usize,
}

impl ProbeResults {
    /// A cluster handed to the pacer.
    pub(super) fn expect(&mut self, c: &ProbeCluster) {
        let m = Measured {
            id: c.id,
            min_packets: c.min_packets,
            min_bytes: c.min_bytes,
            packets: 0,
            bytes: 0,
            first_send: i64::MAX,
            last_send: i64::MIN,
            last_send_size: 0,
            first_arrival: i64::MAX,
            last_arrival: i64::MIN,
            first_arrival_size: 0,
            done: false,
        };
        if let Some(slot) = self.clusters.get_mut(self.next % TRACKED) {
            *slot = Some(m);
        }
        self.next = self.next.wrapping_add(1);
    }

    /// A received packet of cluster `id`; returns the cluster's result (bit/s) once it is complete.
    pub(super) fn on_packet(&mut self, id: u32, send: i64, arrival: i64, size: u32) -> Option<f64> {
        let m = self.clusters.iter_mut().flatten().find(|m| m.id == id && !m.done)?;
        m.packets = m.packets.saturating_add(1);
        m.bytes = m.bytes.saturating_add(u64::from(size));
        if send < m.first_send {
            m.first_send = send;
        }
        if send >= m.last_send {
            m.last_send = send;
            m.last_send_size = size;
        }
        if arrival < m.first_arrival {
            m.first_arrival = arrival;
            m.first_arrival_size = size;
        }
        m.last_arrival = m.last_arrival.max(arrival);
        let enough_packets = u64::from(m.packets) * 10 >= u64::from(m.min_packets) * 8;
        let enough_bytes = m.bytes * 10 >= u64::from(m.min_bytes) * 8;
        if !(enough_packets && enough_bytes) {
            return None;
        }
        let send_us = m.last_send.saturating_sub(m.first_send);
        let recv_us = m.last_arrival.saturating_sub(m.first_arrival);
        if send_us <= 0 || send_us > 1_000_000 || recv_us <= 0 || recv_us > 1_000_000 {
            return None; // not yet spread out, or not a cluster
        }
        m.done = true;
        let send_rate = m.bytes.saturating_sub(u64::from(m.last_send_size)) as f64 * 8e6 / send_us as f64;
        let recv_rate = m.bytes.saturating_sub(u64::from(m.first_arrival_size)) as f64 * 8e6 / recv_us as f64;
        if recv_rate > 2.0 * send_rate {
            return None; // arrived faster than sent: the measurement is broken
        }
        Some(if recv_rate < 0.9 * send_rate { 0.95 * recv_rate } else { send_rate.min(recv_rate) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_probes_then_doubling_while_results_keep_up() {
        let mut p = ProbeController::new(10_000_000.0);
        let mut out = alloc::vec::Vec::new();
        p.start(Instant::from_secs(1), 300_000.0, &mut |c| out.push(c));
        assert_eq!(out.iter().map(|c| c.bitrate).collect::<alloc::vec::Vec<_>>(), [900_000, 1_800_000]);
        assert_eq!(out[1].min_bytes, 3375);
        out.clear();
        p.on_result(Instant::from_secs(1), 1_700_000.0, &mut |c| out.push(c));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].bitrate, 3_400_000);
        out.clear();
        p.on_result(Instant::from_secs(1), 1_000_000.0, &mut |c| out.push(c)); // under 70 %: stop
        assert!(out.is_empty());
    }

    #[test]
    fn a_large_drop_is_probed_once_when_the_delay_is_normal() {
        let mut p = ProbeController::new(10_000_000.0);
        let mut out = alloc::vec::Vec::new();
        let t = Instant::from_secs(1);
        p.start(t, 1_000_000.0, &mut |_| {});
        p.on_result(t, 100_000.0, &mut |_| {});
        p.process(t, 2_000_000.0, true, None, &mut |c| out.push(c));
        p.process(t, 1_000_000.0, false, None, &mut |c| out.push(c));
        assert!(out.is_empty());
        p.process(t + Duration::from_secs(1), 1_000_000.0, true, None, &mut |c| out.push(c));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].bitrate, 1_700_000);
        p.process(t + Duration::from_secs(2), 1_000_000.0, true, None, &mut |c| out.push(c));
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn result_is_the_lower_of_send_and_receive_rates() {
        let mut r = ProbeResults::default();
        r.expect(&ProbeCluster { id: 7, bitrate: 2_000_000, min_packets: 5, min_bytes: 3750 });
        let mut res = None;
        for i in 0..5i64 {
            // Sent 1000 octets every 4 ms (2 Mbit/s), received every 8 ms (1 Mbit/s).
            let got = r.on_packet(7, i * 4000, 100_000 + i * 8000, 1000);
            assert_eq!(got.is_some(), i == 3, "{i}"); // complete at 80 % of the packets, reported once
            res = res.or(got);
        }
        assert_eq!(res, Some(0.95 * 1_000_000.0));
        assert_eq!(r.on_packet(7, 0, 0, 1000), None); // measured once
        assert_eq!(r.on_packet(8, 0, 0, 1000), None); // never expected
    }
}
