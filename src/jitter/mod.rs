//! Receive-side buffering of RTP media: video frame assembly with a jitter buffer ([`VideoBuffer`]) and an
//! audio playout buffer ([`AudioBuffer`]).
//!
//! Both are sans-IO machines of the crate's usual shape:
//!
//! 1. `handle_receive(now, …)` each RTP packet of the stream (after SRTP, after the RTP session restored
//!    retransmissions in place);
//! 2. `handle_timeout(now)` once `now` reaches `poll_timeout()`;
//! 3. `poll_event()` until `None`: frames (video) or packets and gaps (audio) to decode, key frame
//!    requests;
//! 4. wait for the next packet or for `poll_timeout()`, and repeat.
//!
//! Time is injected and must not go backwards (an earlier `now` counts as the latest seen). After any call,
//! `poll_timeout` is the earliest moment the buffer has work: a gap to give up, a packet too old to keep,
//! an audio packet due to play. Draining `poll_event` never creates work that `poll_timeout` does not
//! announce.
//!
//! # Waiting in time, not in packets
//!
//! A missing video packet is worth waiting for only while its retransmission can still arrive. The video
//! buffer gives a gap up at
//!
//! ```text
//! found + min(max_hold, (nack_retries + 1) × rtt + margin)      (nack_retries > 0)
//! found + min(max_hold, margin)                                  (nack_retries = 0: reordering only)
//! ```
//!
//! where `found` is when a later packet revealed the gap, `rtt` is the latest round-trip time the caller
//! passed to [`VideoBuffer::set_rtt`] (from RTCP) and `nack_retries` the NACKs the caller's NACK
//! generator sends per packet ([`VideoBuffer::set_nack_retries`]): the last NACK goes out at most
//! `nack_retries` round trips after the gap was found (the generator retries once per round trip), and
//! its answer takes one more; the extra round trip covers the generator's reordering delay. A stream at
//! 2 frames per second thus waits a few round trips on a loss, never the half second to the next frame
//! (a bound in packets would wait for that many packets to arrive, seconds at a low rate).
//!
//! # Limits
//!
//! Every buffer holds at most `max_packets` packets (a power-of-two ring indexed by extended sequence
//! number: the window) and `max_bytes` bytes of payload, and keeps no packet long: the video buffer drops
//! a packet held `max_age` (a frame whose end never comes), the audio buffer plays every packet at most
//! `max_delay` after its arrival. What passes a limit is dropped oldest first and counted. Each slot's
//! payload buffer grows to the largest payload it held and is reused: once warm, no call allocates. A sequence number outside the window (more than
//! `max_jump` ahead of the oldest packet held, or behind it) is dropped and counted, so a flood of random
//! or far-jumping sequence numbers cannot grow the buffer; `reset_after` consecutive such packets each
//! following the previous one (1 to 16 ahead of it) are taken for a restarted stream, and the buffer
//! starts over from the last of them.

mod audio;
mod video;

pub use audio::{AudioBuffer, AudioConfig, AudioEvent, AudioStats};
pub use video::{Frame, Mode, VideoBuffer, VideoConfig, VideoEvent, VideoStats};

const TARGET: &str = "sansrtc::jitter";

/// The extended sequence number the first packet of a stream gets: high enough that going back from it
/// never underflows.
const EXT_BASE: u64 = 1 << 32;

/// What a buffer did with a packet given to `handle_receive`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Arrival {
    /// Stored.
    Stored,
    /// The same sequence number is already held: dropped.
    Duplicate,
    /// Its place was already played, emitted or given up: dropped.
    Late,
    /// Outside the window, or larger than the byte limit: dropped.
    Dropped,
    /// It confirmed a restarted stream: the buffer started over and stored it.
    Reset,
}

/// Where a 16-bit sequence number falls relative to the window starting at extended sequence `next`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    /// Inside the window: this extended sequence number.
    Window(u64),
    /// Ahead of the window by at most `max_jump`: this extended sequence number (the window moves).
    Ahead(u64),
    /// Behind `next`, at most `max_jump` behind: this extended sequence number.
    Behind(u64),
    /// Too far either way.
    Outside,
}

fn place(next: u64, seq: u16, capacity: u64, max_jump: u16) -> Place {
    let d = seq.wrapping_sub(next as u16);
    if d < 0x8000 {
        let ext = next + u64::from(d);
        if u64::from(d) < capacity {
            Place::Window(ext)
        } else if d <= max_jump {
            Place::Ahead(ext)
        } else {
            Place::Outside
        }
    } else {
        let back = 0x1_0000 - u32::from(d);
        match next.checked_sub(u64::from(back)) {
            Some(ext) if back <= u32::from(max_jump) => Place::Behind(ext),
            _ => Place::Outside,
        }
    }
}

/// Counts consecutive out-of-window packets that follow one another, to tell a restarted stream from junk.
#[derive(Clone, Copy, Debug, Default)]
struct ResetProbe {
    last: u16,
    run: u8,
}

impl ResetProbe {
    /// One more out-of-window packet: whether it completes a run of `needed`.
    fn outside(&mut self, seq: u16, needed: u8) -> bool {
        let step = seq.wrapping_sub(self.last);
        self.run = if self.run > 0 && (1..=16).contains(&step) { self.run.saturating_add(1) } else { 1 };
        self.last = seq;
        if self.run >= needed.max(1) {
            self.run = 0;
            true
        } else {
            false
        }
    }

    fn clear(&mut self) {
        self.run = 0;
    }
}

/// `n` rounded up to a power of two, at least 2 and at most 32768.
fn ring_size(n: usize) -> usize {
    n.clamp(2, 1 << 15).next_power_of_two()
}

#[cfg(test)]
mod tests;
