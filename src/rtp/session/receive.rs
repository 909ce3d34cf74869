//! Per-source reception state (RFC 3550 §6.4.1 and Appendix A): sequence number validation and extension
//! with probation and restart (§A.1), expected and lost packets (§A.3), interarrival jitter (§A.8), and
//! timestamp unwrapping.

use crate::time::Instant;

use super::Error;

const SEQ_MOD: u64 = 1 << 16;
const MAX_DROPOUT: u16 = 3000;
const MAX_MISORDER: u16 = 100;
const MIN_SEQUENTIAL: u8 = 2;

/// What [`SeqState::update`] made of a sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Valid {
    /// The extended sequence number.
    pub(super) ext: u64,
    /// It is the new highest.
    pub(super) advanced: bool,
    /// The source restarted (a jump confirmed by the next packet): loss state was reset.
    pub(super) restarted: bool,
}

/// RFC 3550 §A.1 `source` state. Extended sequence numbers are `cycles + seq` and stay monotonic across a
/// restart (the new sequence starts in a later cycle), so they can key other per-packet state.
#[derive(Clone, Copy, Debug)]
pub(super) struct SeqState {
    max_seq: u16,
    cycles: u64,
    /// Extended sequence number of the first packet (of this sequence, after a restart).
    base: u64,
    bad_seq: Option<u16>,
    probation: u8,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
}

impl SeqState {
    /// State for a source whose first packet is `seq`: validated at once (`probation == false`, a
    /// signalled stream) or after [`MIN_SEQUENTIAL`] packets in sequence.
    pub(super) fn new(seq: u16, probation: bool) -> Self {
        let mut s = SeqState {
            max_seq: seq,
            cycles: 0,
            base: u64::from(seq),
            bad_seq: None,
            probation: 0,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
        };
        if probation {
            s.max_seq = seq.wrapping_sub(1);
            s.probation = MIN_SEQUENTIAL;
        }
        s
    }

    fn init(&mut self, seq: u16, cycles: u64) {
        self.max_seq = seq;
        self.cycles = cycles;
        self.base = cycles + u64::from(seq);
        self.bad_seq = None;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
    }

    /// The extended highest sequence number received.
    pub(super) fn ext_max(&self) -> u64 {
        self.cycles + u64::from(self.max_seq)
    }

    /// Whether the source has passed probation.
    pub(super) fn valid(&self) -> bool {
        self.probation == 0
    }

    /// The extended sequence number `seq` would have, nearest to the highest one, without changing
    /// anything (for repaired packets, which do not count towards the original stream's statistics).
    pub(super) fn extend(&self, seq: u16) -> Option<u64> {
        let max = self.ext_max();
        let ahead = seq.wrapping_sub(self.max_seq);
        let ext =
            if ahead < 0x8000 { max + u64::from(ahead) } else { max.checked_sub(u64::from(ahead.wrapping_neg()))? };
        (ext >= self.base).then_some(ext)
    }

    /// RFC 3550 §A.1 `update_seq`: validates `seq` and updates the counters. A packet accepted here is
    /// counted as received (duplicates too, as the RFC says).
    pub(super) fn update(&mut self, seq: u16) -> Result<Valid, Error> {
        let udelta = seq.wrapping_sub(self.max_seq);
        if self.probation > 0 {
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    self.init(seq, 0);
                    self.received += 1;
                    return Ok(Valid { ext: self.ext_max(), advanced: true, restarted: false });
                }
            } else {
                self.probation = MIN_SEQUENTIAL - 1;
                self.max_seq = seq;
            }
            return Err(Error::Probation);
        }
        let mut restarted = false;
        let (ext, advanced) = if udelta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles += SEQ_MOD; // wrapped
            }
            self.max_seq = seq;
            (self.ext_max(), udelta > 0)
        } else if u64::from(udelta) <= SEQ_MOD - u64::from(MAX_MISORDER) {
            if self.bad_seq == Some(seq) {
                // Two sequential packets after a jump: the source restarted. Continue in a later cycle so
                // extended numbers stay monotonic.
                let cycles = (self.ext_max() / SEQ_MOD + 1) * SEQ_MOD;
                self.init(seq, cycles);
                restarted = true;
                (self.ext_max(), true)
            } else {
                self.bad_seq = Some(seq.wrapping_add(1));
                return Err(Error::SequenceJump);
            }
        } else {
            // Duplicate or reordered (at most MAX_MISORDER behind).
            let back = u64::from(self.max_seq.wrapping_sub(seq));
            match self.ext_max().checked_sub(back).filter(|e| *e >= self.base) {
                Some(e) => (e, false),
                None => return Err(Error::BeforeStreamStart),
            }
        };
        self.received += 1;
        Ok(Valid { ext, advanced, restarted })
    }

    /// Packets received (RFC 3550 `received`).
    pub(super) fn received(&self) -> u64 {
        self.received
    }

    /// Packets expected (§A.3).
    pub(super) fn expected(&self) -> u64 {
        self.ext_max() + 1 - self.base
    }

    /// Cumulative packets lost (§A.3), unclamped.
    pub(super) fn lost(&self) -> i64 {
        self.expected() as i64 - self.received as i64
    }

    /// Fraction lost since the previous call, in 1/256 (§A.3); starts a new interval.
    pub(super) fn take_fraction_lost(&mut self) -> u8 {
        let expected = self.expected();
        let expected_interval = expected.saturating_sub(self.expected_prior);
        self.expected_prior = expected;
        let received_interval = self.received.saturating_sub(self.received_prior);
        self.received_prior = self.received;
        let lost_interval = expected_interval as i64 - received_interval as i64;
        if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval as i64).min(255) as u8
        }
    }
}

/// Clamps a cumulative loss to the report block's 24-bit signed field.
pub(super) fn clamp_lost(lost: i64) -> i32 {
    lost.clamp(-0x80_0000, 0x7f_ffff) as i32
}

/// `now` in RTP timestamp units of `clock_rate`, modulo 2^32.
pub(super) fn rtp_time(now: Instant, clock_rate: u32) -> u32 {
    (u128::from(now.as_nanos()) * u128::from(clock_rate) / 1_000_000_000) as u32
}

/// Interarrival jitter (RFC 3550 §A.8), kept scaled by 16 in integers.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Jitter {
    last_transit: Option<u32>,
    scaled: u64,
}

impl Jitter {
    /// A packet with RTP timestamp `ts` arrived at `now`. Steps of five seconds or more (a pause, a
    /// source restart) are skipped rather than folded in, as libwebrtc does.
    pub(super) fn update(&mut self, now: Instant, ts: u32, clock_rate: u32) {
        let transit = rtp_time(now, clock_rate).wrapping_sub(ts);
        if let Some(last) = self.last_transit {
            let d = u64::from((transit.wrapping_sub(last) as i32).unsigned_abs());
            if d < 5 * u64::from(clock_rate) {
                // jitter += (|D| - jitter) / 16, on the value scaled by 16.
                self.scaled = (self.scaled + d).saturating_sub((self.scaled + 8) >> 4);
            }
        }
        self.last_transit = Some(transit);
    }

    /// The estimate in timestamp units.
    pub(super) fn get(&self) -> u32 {
        u32::try_from(self.scaled >> 4).unwrap_or(u32::MAX)
    }
}

/// Unwraps 32-bit RTP timestamps around the newest one seen.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct TimestampUnwrapper {
    newest: Option<i64>,
}

impl TimestampUnwrapper {
    /// The extended timestamp of `ts`; moves the reference forward when `ts` is newer.
    pub(super) fn unwrap(&mut self, ts: u32) -> i64 {
        let ext = match self.newest {
            None => i64::from(ts),
            Some(n) => n + i64::from(ts.wrapping_sub(n as u32) as i32),
        };
        if self.newest.is_none_or(|n| ext > n) {
            self.newest = Some(ext);
        }
        ext
    }
}

/// A receive stream: its configuration, the RFC 3550 reception state of the media and RTX SSRCs, and
/// its NACK generator.
#[derive(Clone, Debug)]
pub(super) struct ReceiveStream {
    pub(super) config: super::ReceiveStreamConfig,
    /// An unsignalled stream, validated by probation.
    pub(super) probation: bool,
    pub(super) seq: Option<SeqState>,
    pub(super) jitter: Jitter,
    pub(super) timestamps: TimestampUnwrapper,
    pub(super) nack: Option<super::nack::NackTracker>,
    /// Reception state of the RTX SSRC (reported in its own block, RFC 4588 §6.2).
    pub(super) rtx_seq: Option<SeqState>,
    pub(super) last_sr: Option<(crate::rtcp::SenderInfo, Instant)>,
    /// Heard since the last report (media, RTX).
    pub(super) heard: bool,
    pub(super) rtx_heard: bool,
    pub(super) last_pli: Option<Instant>,
    pub(super) fir_seq: u8,
    pub(super) stats: super::ReceiveStats,
}

impl ReceiveStream {
    pub(super) fn new(config: super::ReceiveStreamConfig, probation: bool, nack_window: usize) -> Self {
        Self {
            config,
            probation,
            seq: None,
            jitter: Jitter::default(),
            timestamps: TimestampUnwrapper::default(),
            nack: config.nack.then(|| super::nack::NackTracker::new(nack_window)),
            rtx_seq: None,
            last_sr: None,
            heard: false,
            rtx_heard: false,
            last_pli: None,
            fir_seq: 0,
            stats: super::ReceiveStats { ssrc: config.ssrc, ..super::ReceiveStats::default() },
        }
    }

    /// The statistics as of now.
    pub(super) fn stats(&self) -> super::ReceiveStats {
        let mut s = self.stats;
        if let Some(seq) = &self.seq {
            s.packets = seq.received();
            s.highest_sequence = seq.ext_max();
            s.expected = seq.expected();
            s.lost = seq.lost();
        }
        s.jitter = self.jitter.get();
        s.missing = self.nack.as_ref().map_or(0, |n| n.missing() as u64);
        s.last_sender_report = self.last_sr;
        s
    }
}
