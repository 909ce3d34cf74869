//! The pure parts of the bridge, without sockets or a peer connection: the SDP file a receiving tool
//! opens, the rewriting of the browser's streams into plain RTP ([`Outbound`]), the admission of plain
//! RTP for the browser ([`Inbound`]), and the schedule of key-frame requests ([`KeyframeSchedule`]).
//!
//! **Out, browser → tool.** A receiving tool (ffplay, ffmpeg, GStreamer's `udpsrc`) knows one stream per
//! port, with the payload type of its SDP. [`Outbound`] gives every packet its own SSRC, that payload type,
//! and sequence numbers and timestamps that run on without a jump, whatever the browser does:
//! - a retransmission the connection restored (RTX, RFC 4588) is the original packet and is forwarded as
//!   it; one it could not restore (its [`Sequence::Retransmission`] carries the original sequence number)
//!   is put back in place the same way; a packet already forwarded is not forwarded twice (the
//!   connection already drops a restored retransmission of a packet it had received, as Chromium's
//!   bandwidth probes are; what is left to catch here is a retransmission it could not restore);
//! - a packet with no payload (padding, a bandwidth probe) is not forwarded, and the sequence numbers
//!   after it close up over it, so that the tool sees no loss where there was none. Only a padding packet
//!   that arrives after later packets were forwarded leaves its number as a gap;
//! - another SSRC (a new track, a new connection) is followed once the current one has been silent for
//!   [`SWITCH_AFTER`]: the numbers go on from the last one out and the timestamps from the last one plus
//!   the time that went by, so a player that stays open does not see a new stream.
//!
//! Out-of-window packets (more than [`WINDOW`] behind the newest) are too late to be of use to anyone and
//! are dropped; a jump of more than [`MAX_JUMP`] ahead is taken as a restarted stream. All state is bounded.
//!
//! **In, tool → browser.** [`Inbound`] takes what arrives on a plain RTP port: RTCP and packets without
//! payload are dropped, so are packets older than the newest one (the connection numbers what it sends
//! in the order it sends it), and a new source is followed as above, its timestamps continuing.

use alloc::collections::VecDeque;
use core::fmt::Write as _;
use core::net::SocketAddr;
use core::time::Duration;

use sansrtc::Instant;
use sansrtc::rtp::{Header, Packet, Writer};

/// Packets behind the newest one that can still be forwarded (a retransmission, a reordered packet).
pub const WINDOW: u64 = 1024;
/// A sequence number further ahead than this is a restarted stream, not a loss.
pub const MAX_JUMP: u64 = 3000;
/// A second source is followed once the current one has been silent this long.
pub const SWITCH_AFTER: Duration = Duration::from_millis(500);

/// One stream of the SDP file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdpStream {
    /// `audio` or `video`.
    pub media: &'static str,
    /// Where the packets go (the tool listens there).
    pub destination: SocketAddr,
    /// The payload type of the packets.
    pub payload_type: u8,
    /// The encoding name (`VP8`, `opus`, …).
    pub name: String,
    /// The RTP clock rate.
    pub clock_rate: u32,
    /// Audio channels; 0 for video (and then left out of the rtpmap).
    pub channels: u16,
    /// The `a=fmtp` parameters, empty for none.
    pub fmtp: String,
}

/// An SDP description (RFC 8866) of the plain RTP streams, as ffplay, ffmpeg and GStreamer's `sdpdemux`
/// open it: one `m=` line per stream with its port and payload type, its own `c=` line (the address the
/// tool receives on), `a=rtpmap` and `a=fmtp`, and `a=recvonly` (the tool only receives).
pub fn sdp_file(streams: &[SdpStream]) -> String {
    let family = |a: &SocketAddr| if a.is_ipv4() { "IP4" } else { "IP6" };
    let origin = streams
        .first()
        .map_or("IN IP4 127.0.0.1".to_string(), |s| format!("IN {} {}", family(&s.destination), s.destination.ip()));
    let mut sdp = String::new();
    let _ = write!(sdp, "v=0\r\no=- 0 0 {origin}\r\ns=sansrtc rtp_forward\r\nt=0 0\r\n");
    for s in streams {
        let _ = write!(
            sdp,
            "m={} {} RTP/AVP {}\r\nc=IN {} {}\r\na=rtpmap:{} {}/{}",
            s.media,
            s.destination.port(),
            s.payload_type,
            family(&s.destination),
            s.destination.ip(),
            s.payload_type,
            s.name,
            s.clock_rate
        );
        if s.channels > 0 {
            let _ = write!(sdp, "/{}", s.channels);
        }
        sdp.push_str("\r\n");
        if !s.fmtp.is_empty() {
            let _ = write!(sdp, "a=fmtp:{} {}\r\n", s.payload_type, s.fmtp);
        }
        sdp.push_str("a=recvonly\r\n");
    }
    sdp
}

/// The sequence number of a received packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sequence {
    /// The extended sequence number of a packet of its SSRC (originals, and retransmissions the
    /// connection restored).
    Extended(u64),
    /// A retransmission not restored by the connection: the original sequence number from its payload,
    /// of the stream being followed (its SSRC is the RTX stream's and is not looked at).
    Retransmission(u16),
}

/// A received packet, as [`Outbound::forward`] takes it.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    /// Its SSRC.
    pub ssrc: u32,
    /// Its sequence number.
    pub sequence: Sequence,
    /// Its RTP timestamp.
    pub timestamp: u32,
    /// The marker bit.
    pub marker: bool,
    /// The payload, padding removed (RTX: the original payload).
    pub payload: &'a [u8],
}

/// What [`Outbound`] did with the packets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutboundStats {
    /// Packets forwarded.
    pub forwarded: u64,
    /// Retransmissions put back in place here (not restored by the connection).
    pub unwrapped: u64,
    /// Packets without payload not forwarded.
    pub padding: u64,
    /// Packets forwarded already.
    pub duplicates: u64,
    /// Packets too old to forward (behind the window, or before the first one of their source).
    pub late: u64,
    /// Packets of another SSRC while the current one was alive.
    pub other_source: u64,
    /// Sources followed after the first.
    pub switches: u64,
}

/// The input stream followed, and how its numbers map onto the output.
struct Source {
    ssrc: u32,
    /// Its first extended sequence number, which goes out as `seq_base`.
    first: u64,
    seq_base: u16,
    /// Added to its timestamps.
    ts_offset: u32,
    /// The newest extended sequence number seen (forwarded or skipped).
    highest: u64,
    /// Padding packets skipped within the window (extended numbers, rising), and how many fell out of it.
    skipped: VecDeque<u64>,
    folded: u64,
    /// Which of the last [`WINDOW`] numbers went out (or were skipped), by `number % WINDOW`.
    seen: [u64; (WINDOW / 64) as usize],
    /// When it last sent a packet.
    last_seen: Instant,
}

impl Source {
    fn new(ssrc: u32, first: u64, seq_base: u16, ts_offset: u32, now: Instant) -> Source {
        let mut s = Source {
            ssrc,
            first,
            seq_base,
            ts_offset,
            highest: first,
            skipped: VecDeque::new(),
            folded: 0,
            seen: [0; (WINDOW / 64) as usize],
            last_seen: now,
        };
        s.mark(first);
        s
    }

    fn bit(n: u64) -> (usize, u64) {
        let i = n % WINDOW;
        ((i / 64) as usize, 1 << (i % 64))
    }

    fn is_seen(&self, n: u64) -> bool {
        let (w, b) = Source::bit(n);
        self.seen.get(w).is_some_and(|x| x & b != 0)
    }

    fn mark(&mut self, n: u64) {
        let (w, b) = Source::bit(n);
        if let Some(x) = self.seen.get_mut(w) {
            *x |= b;
        }
    }

    /// Moves the newest number to `n` (which is ahead): the numbers in between are not seen yet, and
    /// skipped numbers that leave the window are folded into a count.
    fn advance(&mut self, n: u64) {
        if n - self.highest >= WINDOW {
            self.seen = [0; (WINDOW / 64) as usize];
        } else {
            for k in self.highest + 1..=n {
                let (w, b) = Source::bit(k);
                if let Some(x) = self.seen.get_mut(w) {
                    *x &= !b;
                }
            }
        }
        self.highest = n;
        while self.skipped.front().is_some_and(|&s| s + WINDOW <= n) {
            self.skipped.pop_front();
            self.folded += 1;
        }
    }

    /// The output sequence number of input number `n` (within the window, not before `first`).
    fn out_seq(&self, n: u64) -> u16 {
        let skipped = self.folded + self.skipped.iter().take_while(|&&s| s < n).count() as u64;
        self.seq_base.wrapping_add((n - self.first - skipped) as u16)
    }

    /// The extended number nearest the newest with the low 16 bits `seq`.
    fn extend(&self, seq: u16) -> u64 {
        let candidate = (self.highest & !0xffff) | u64::from(seq);
        if candidate > self.highest + 0x8000 && candidate >= 0x1_0000 {
            candidate - 0x1_0000
        } else if candidate + 0x8000 < self.highest {
            candidate + 0x1_0000
        } else {
            candidate
        }
    }
}

/// One stream from the browser as plain RTP: one SSRC, one payload type, numbers without jumps. See the
/// module documentation.
pub struct Outbound {
    ssrc: u32,
    payload_type: u8,
    clock_rate: u32,
    source: Option<Source>,
    /// The number and timestamp of the newest packet out (the next source goes on from them).
    last_seq: u16,
    last_ts: u32,
    buf: Vec<u8>,
    /// What it did.
    pub stats: OutboundStats,
}

impl Outbound {
    /// A stream with SSRC `ssrc` and payload type `payload_type`; its first packet goes out with
    /// sequence number `first_seq` and its timestamps are offset so that the first is `first_ts`
    /// (random, RFC 3550 §5.1).
    pub fn new(ssrc: u32, payload_type: u8, clock_rate: u32, first_seq: u16, first_ts: u32) -> Outbound {
        Outbound {
            ssrc,
            payload_type,
            clock_rate,
            source: None,
            last_seq: first_seq.wrapping_sub(1),
            last_ts: first_ts,
            buf: Vec::with_capacity(1500),
            stats: OutboundStats::default(),
        }
    }

    /// The SSRC of the stream.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Takes one packet received at `now`: the plain RTP packet to send, if it is to be forwarded.
    pub fn forward(&mut self, now: Instant, input: &Input<'_>) -> Option<&[u8]> {
        let n = match self.place(now, input)? {
            Placed::Forward(n) => n,
            Placed::Skip => return None,
        };
        let source = self.source.as_ref()?;
        let seq = source.out_seq(n);
        let timestamp = input.timestamp.wrapping_add(source.ts_offset);
        if n == source.highest {
            (self.last_seq, self.last_ts) = (seq, timestamp);
        }
        let header = Header {
            marker: input.marker,
            payload_type: self.payload_type,
            sequence_number: seq,
            timestamp,
            ssrc: self.ssrc,
        };
        self.buf.clear();
        Writer::new(&mut self.buf, &header, &[]).ok()?.finish(input.payload, 0).ok()?;
        self.stats.forwarded += 1;
        Some(&self.buf)
    }

    /// Where the packet goes in the input's numbering (the source switched or started as needed), or why
    /// not.
    fn place(&mut self, now: Instant, input: &Input<'_>) -> Option<Placed> {
        let clock_rate = self.clock_rate;
        let (last_seq, last_ts) = (self.last_seq, self.last_ts);
        // A new source starts right after the last packet out, its timestamps going on by the time that
        // passed since.
        let start = |ssrc: u32, n: u64, since: Option<Instant>| {
            let ticks = since.map_or(0, |t| ticks_since(now, t, clock_rate));
            let ts = last_ts.wrapping_add(ticks);
            Source::new(ssrc, n, last_seq.wrapping_add(1), ts.wrapping_sub(input.timestamp), now)
        };
        let n = match (input.sequence, self.source.as_mut()) {
            (Sequence::Retransmission(osn), Some(s)) => {
                self.stats.unwrapped += 1;
                s.extend(osn)
            }
            // A retransmission of nothing followed yet: nothing to place it in.
            (Sequence::Retransmission(_), None) => {
                self.stats.late += 1;
                return None;
            }
            (Sequence::Extended(n), Some(s)) if s.ssrc == input.ssrc => {
                if n > s.highest + MAX_JUMP {
                    // A restarted stream: a new start, as another source would.
                    let since = Some(s.last_seen);
                    self.stats.switches += 1;
                    self.source = Some(start(input.ssrc, n, since));
                    return Some(self.first_of_source(input));
                }
                n
            }
            (Sequence::Extended(n), Some(s)) => {
                if now.saturating_duration_since(s.last_seen) < SWITCH_AFTER {
                    self.stats.other_source += 1;
                    return None;
                }
                let since = Some(s.last_seen);
                self.stats.switches += 1;
                self.source = Some(start(input.ssrc, n, since));
                return Some(self.first_of_source(input));
            }
            (Sequence::Extended(n), None) => {
                self.source = Some(start(input.ssrc, n, None));
                return Some(self.first_of_source(input));
            }
        };
        let s = self.source.as_mut()?;
        s.last_seen = now;
        if n < s.first || n + WINDOW <= s.highest {
            self.stats.late += 1;
            return None;
        }
        if n <= s.highest && s.is_seen(n) {
            self.stats.duplicates += 1;
            return None;
        }
        if n > s.highest {
            s.advance(n);
        }
        s.mark(n);
        if input.payload.is_empty() {
            self.stats.padding += 1;
            // Closed up over only when nothing after it went out yet.
            if n == s.highest {
                s.skipped.push_back(n);
            }
            return Some(Placed::Skip);
        }
        Some(Placed::Forward(n))
    }

    /// The first packet of a new source: forwarded, or (padding) its number taken by the next one.
    fn first_of_source(&mut self, input: &Input<'_>) -> Placed {
        match self.source.as_mut() {
            Some(s) if input.payload.is_empty() => {
                self.stats.padding += 1;
                s.skipped.push_back(s.first);
                Placed::Skip
            }
            Some(s) => Placed::Forward(s.first),
            None => Placed::Skip,
        }
    }
}

/// Ticks of a `clock_rate` clock from `then` to `now`, at least one (a timestamp that moves on), and at
/// most about an hour's worth.
fn ticks_since(now: Instant, then: Instant, clock_rate: u32) -> u32 {
    let micros = now.saturating_duration_since(then).as_micros().min(3_600_000_000) as u64;
    (micros * u64::from(clock_rate) / 1_000_000).max(1) as u32
}

enum Placed {
    Forward(u64),
    Skip,
}

/// A packet from a plain RTP port, for the browser ([`Inbound::accept`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accepted<'a> {
    /// Its RTP timestamp, continuous across sources.
    pub timestamp: u32,
    /// The marker bit.
    pub marker: bool,
    /// The payload, padding removed.
    pub payload: &'a [u8],
}

/// What [`Inbound`] did with the datagrams.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InboundStats {
    /// Packets accepted.
    pub accepted: u64,
    /// Datagrams that are not RTP, or RTCP.
    pub not_rtp: u64,
    /// Packets without payload.
    pub padding: u64,
    /// Packets not newer than the newest accepted (reordered, duplicated).
    pub late: u64,
    /// Packets of another SSRC while the current one was alive.
    pub other_source: u64,
    /// Sources followed after the first.
    pub switches: u64,
}

/// Plain RTP from one port into one stream for the browser. See the module documentation.
pub struct Inbound {
    clock_rate: u32,
    /// The source followed: SSRC, newest sequence number, timestamp offset, when last heard.
    source: Option<(u32, u16, u32, Instant)>,
    /// The newest timestamp handed out.
    last_ts: u32,
    /// What it did.
    pub stats: InboundStats,
}

impl Inbound {
    /// A stream at `clock_rate`.
    pub fn new(clock_rate: u32) -> Inbound {
        Inbound { clock_rate, source: None, last_ts: 0, stats: InboundStats::default() }
    }

    /// Takes one datagram received at `now`: the packet for the browser, if it is one.
    pub fn accept<'a>(&mut self, now: Instant, datagram: &'a [u8]) -> Option<Accepted<'a>> {
        let Ok(packet) = Packet::new_checked(datagram) else {
            self.stats.not_rtp += 1;
            return None;
        };
        // RTCP on the same port (RFC 5761 §4: payload types 72–76 with the marker are RTCP 200–204).
        if (72..=76).contains(&packet.payload_type()) && packet.marker() {
            self.stats.not_rtp += 1;
            return None;
        }
        let (ssrc, seq, ts) = (packet.ssrc(), packet.sequence_number(), packet.timestamp());
        let offset = match &mut self.source {
            Some((current, newest, offset, heard)) if *current == ssrc => {
                if seq.wrapping_sub(*newest) == 0 || seq.wrapping_sub(*newest) >= 0x8000 {
                    self.stats.late += 1;
                    return None;
                }
                *newest = seq;
                *heard = now;
                *offset
            }
            Some((_, _, _, heard)) if now.saturating_duration_since(*heard) < SWITCH_AFTER => {
                self.stats.other_source += 1;
                return None;
            }
            previous => {
                // The new source's first timestamp follows the last one out by the time that passed.
                let offset = match previous {
                    Some((_, _, _, heard)) => {
                        self.stats.switches += 1;
                        self.last_ts.wrapping_add(ticks_since(now, *heard, self.clock_rate)).wrapping_sub(ts)
                    }
                    None => 0,
                };
                *previous = Some((ssrc, seq, offset, now));
                offset
            }
        };
        if packet.payload().is_empty() {
            self.stats.padding += 1;
            return None;
        }
        let timestamp = ts.wrapping_add(offset);
        self.last_ts = timestamp;
        self.stats.accepted += 1;
        let payload = datagram.get(packet.header_len()..packet.header_len() + packet.payload().len())?;
        Some(Accepted { timestamp, marker: packet.marker(), payload })
    }
}

/// Key-frame requests: one when the stream starts, then one every `interval` (none after the first
/// without an interval).
#[derive(Clone, Copy, Debug)]
pub struct KeyframeSchedule {
    interval: Option<Duration>,
    started: bool,
    next: Option<Instant>,
}

impl KeyframeSchedule {
    /// Not started.
    pub fn new(interval: Option<Duration>) -> KeyframeSchedule {
        KeyframeSchedule { interval, started: false, next: None }
    }

    /// The stream started (or restarted) at `now`: a request is due now.
    pub fn start(&mut self, now: Instant) {
        self.started = true;
        self.next = Some(now);
    }

    /// Stops the requests (the connection is gone).
    pub fn stop(&mut self) {
        self.started = false;
        self.next = None;
    }

    /// Whether it has started (and not stopped since).
    pub fn is_started(&self) -> bool {
        self.started
    }

    /// When the next request is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next
    }

    /// Whether a request is due at `now`; if so the next one is scheduled.
    pub fn due(&mut self, now: Instant) -> bool {
        match self.next {
            Some(t) if t <= now => {
                self.next = self.interval.map(|i| now + i);
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SSRC: u32 = 0x1234_5678;

    fn at(ms: u64) -> Instant {
        Instant::from_millis(1000 + ms)
    }

    fn input(ssrc: u32, seq: u64, ts: u32, payload: &[u8]) -> Input<'_> {
        Input { ssrc, sequence: Sequence::Extended(seq), timestamp: ts, marker: false, payload }
    }

    /// Forwards and reads back (sequence number, timestamp, payload type, SSRC, payload).
    fn fwd(o: &mut Outbound, now: Instant, i: &Input<'_>) -> Option<(u16, u32, u8, u32, Vec<u8>)> {
        let bytes = o.forward(now, i)?.to_vec();
        let p = Packet::new_checked(&bytes[..]).expect("an RTP packet");
        Some((p.sequence_number(), p.timestamp(), p.payload_type(), p.ssrc(), p.payload().to_vec()))
    }

    fn seqs(o: &mut Outbound, now: Instant, inputs: &[Input<'_>]) -> Vec<Option<u16>> {
        inputs.iter().map(|i| fwd(o, now, i).map(|p| p.0)).collect()
    }

    #[test]
    fn sdp_file_describes_each_stream() {
        let streams = [
            SdpStream {
                media: "video",
                destination: "127.0.0.1:5004".parse().unwrap(),
                payload_type: 96,
                name: "VP8".into(),
                clock_rate: 90_000,
                channels: 0,
                fmtp: String::new(),
            },
            SdpStream {
                media: "audio",
                destination: "[::1]:5006".parse().unwrap(),
                payload_type: 111,
                name: "opus".into(),
                clock_rate: 48_000,
                channels: 2,
                fmtp: "minptime=10;useinbandfec=1".into(),
            },
        ];
        let sdp = sdp_file(&streams);
        assert_eq!(
            sdp,
            "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=sansrtc rtp_forward\r\nt=0 0\r\n\
             m=video 5004 RTP/AVP 96\r\nc=IN IP4 127.0.0.1\r\na=rtpmap:96 VP8/90000\r\na=recvonly\r\n\
             m=audio 5006 RTP/AVP 111\r\nc=IN IP6 ::1\r\na=rtpmap:111 opus/48000/2\r\n\
             a=fmtp:111 minptime=10;useinbandfec=1\r\na=recvonly\r\n"
        );
        // The crate's own parser reads it back, with the same codecs.
        let parsed = sansrtc::sdp::SessionDescription::parse(&sdp).expect("valid SDP");
        let read: Vec<(String, u16, String, u32)> = parsed
            .media
            .iter()
            .flat_map(|m| {
                m.attributes.rtpmaps().map(|r| (m.media.to_string(), m.port, r.encoding.to_string(), r.clock_rate))
            })
            .collect();
        assert_eq!(read, [("video".into(), 5004, "VP8".into(), 90_000), ("audio".into(), 5006, "opus".into(), 48_000)]);
    }

    #[test]
    fn packets_get_our_ssrc_payload_type_and_continuous_numbers() {
        let mut o = Outbound::new(SSRC, 96, 90_000, 65_534, 1000);
        let got = fwd(&mut o, at(0), &input(7, 500, 90_000, b"a")).unwrap();
        assert_eq!(got, (65_534, 1000, 96, SSRC, b"a".to_vec()));
        let got = fwd(&mut o, at(33), &input(7, 501, 93_000, b"b")).unwrap();
        assert_eq!(got, (65_535, 4000, 96, SSRC, b"b".to_vec()));
        // Wraps; a loss stays a gap of the same size (the tool's jitter buffer sees the loss).
        assert_eq!(fwd(&mut o, at(66), &input(7, 502, 96_000, b"c")).unwrap().0, 0);
        assert_eq!(fwd(&mut o, at(99), &input(7, 505, 99_000, b"d")).unwrap().0, 3);
        // The repair of the loss (restored by the connection) goes in its place.
        assert_eq!(fwd(&mut o, at(120), &input(7, 503, 96_000, b"e")).unwrap().0, 1);
        assert_eq!(o.stats.forwarded, 5);
    }

    #[test]
    fn padding_is_dropped_and_the_numbers_close_up() {
        let mut o = Outbound::new(SSRC, 96, 90_000, 100, 0);
        let got = seqs(
            &mut o,
            at(0),
            &[
                input(7, 10, 0, b"a"),
                input(7, 11, 0, b""),
                input(7, 12, 0, b""),
                input(7, 13, 0, b"b"),
                input(7, 15, 0, b"c"),
                // The missing 14 arrives late: its number is still its own.
                input(7, 14, 0, b"d"),
            ],
        );
        assert_eq!(got, [Some(100), None, None, Some(101), Some(103), Some(102)]);
        // Padding late (after 15 went out): a gap is left rather than numbers reused.
        let got = seqs(&mut o, at(1), &[input(7, 17, 0, b"e"), input(7, 16, 0, b""), input(7, 18, 0, b"f")]);
        assert_eq!(got, [Some(105), None, Some(106)]);
        assert_eq!(o.stats.padding, 3);
    }

    #[test]
    fn retransmissions_go_out_as_the_original_once() {
        let mut o = Outbound::new(SSRC, 96, 90_000, 0, 0);
        // Before any original: nothing to put it into.
        let rtx = |osn| Input {
            ssrc: 99,
            sequence: Sequence::Retransmission(osn),
            timestamp: 0,
            marker: true,
            payload: b"r",
        };
        assert_eq!(fwd(&mut o, at(0), &rtx(5)), None);
        assert_eq!(seqs(&mut o, at(0), &[input(7, 65_535, 0, b"a"), input(7, 65_538, 0, b"b")]), [Some(0), Some(3)]);
        // RTX not restored by the connection: its original sequence number (wrapped) puts it in place.
        assert_eq!(fwd(&mut o, at(1), &rtx(0)).map(|p| p.0), Some(1));
        assert_eq!(fwd(&mut o, at(1), &rtx(1)).map(|p| p.0), Some(2));
        // A second copy of either (restored, or as RTX again) is not forwarded.
        assert_eq!(fwd(&mut o, at(2), &rtx(1)), None);
        assert_eq!(fwd(&mut o, at(2), &input(7, 65_536, 0, b"a")), None);
        assert_eq!(fwd(&mut o, at(2), &input(7, 65_538, 0, b"b")), None);
        assert_eq!((o.stats.unwrapped, o.stats.duplicates, o.stats.late), (3, 3, 1));
    }

    #[test]
    fn old_packets_are_dropped() {
        let mut o = Outbound::new(SSRC, 96, 90_000, 0, 0);
        assert_eq!(fwd(&mut o, at(0), &input(7, 5000, 0, b"a")).map(|p| p.0), Some(0));
        // Before the first packet of the source, or a window behind the newest.
        assert_eq!(fwd(&mut o, at(0), &input(7, 4999, 0, b"x")), None);
        assert_eq!(fwd(&mut o, at(0), &input(7, 5000 + WINDOW, 0, b"b")).map(|p| p.0), Some(WINDOW as u16));
        assert_eq!(fwd(&mut o, at(0), &input(7, 5000, 0, b"x")), None);
        assert_eq!(fwd(&mut o, at(0), &input(7, 5001, 0, b"c")).map(|p| p.0), Some(1));
        assert_eq!(o.stats.late, 2);
    }

    #[test]
    fn a_new_source_continues_the_numbers_and_timestamps() {
        let mut o = Outbound::new(SSRC, 96, 90_000, 10, 50_000);
        assert_eq!(fwd(&mut o, at(0), &input(7, 100, 0, b"a")).map(|p| (p.0, p.1)), Some((10, 50_000)));
        assert_eq!(fwd(&mut o, at(30), &input(7, 101, 2700, b"b")).map(|p| (p.0, p.1)), Some((11, 52_700)));
        // Another SSRC while the first is alive: ignored.
        assert_eq!(fwd(&mut o, at(100), &input(8, 9000, 777, b"x")), None);
        // Once the first has been silent long enough: followed, 1 s later (90,000 ticks).
        let got = fwd(&mut o, at(1030), &input(8, 9001, 777, b"c")).map(|p| (p.0, p.1));
        assert_eq!(got, Some((12, 142_700)));
        let got = fwd(&mut o, at(1063), &input(8, 9002, 777 + 3000, b"d")).map(|p| (p.0, p.1, p.3));
        assert_eq!(got, Some((13, 145_700, SSRC)));
        // A jump far ahead in the same SSRC is a restart too.
        let got = fwd(&mut o, at(1100), &input(8, 9002 + 10 * MAX_JUMP, 0, b"e")).map(|p| (p.0, p.1));
        assert_eq!(got, Some((14, 145_700 + 3330)));
        assert_eq!((o.stats.other_source, o.stats.switches), (1, 2));
    }

    #[test]
    fn skipped_padding_stays_counted_after_it_leaves_the_window() {
        let mut o = Outbound::new(SSRC, 96, 90_000, 0, 0);
        let mut n = 0;
        let mut expected = 0u16;
        // 3,000 packets, every third one padding.
        for i in 0..3000u64 {
            let padding = i % 3 == 2;
            let got = fwd(&mut o, at(i), &input(7, i, 0, if padding { b"" } else { b"x" })).map(|p| p.0);
            if padding {
                assert_eq!(got, None);
            } else {
                assert_eq!(got, Some(expected), "packet {i}");
                expected = expected.wrapping_add(1);
                n += 1;
            }
        }
        assert_eq!(o.stats.forwarded, n);
        assert!(o.source.as_ref().is_some_and(|s| s.skipped.len() as u64 <= WINDOW));
    }

    fn rtp(ssrc: u32, seq: u16, ts: u32, pt: u8, marker: bool, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let header = Header { marker, payload_type: pt, sequence_number: seq, timestamp: ts, ssrc };
        Writer::new(&mut out, &header, &[]).unwrap().finish(payload, 0).unwrap();
        out
    }

    #[test]
    fn inbound_takes_rtp_in_order_from_one_source() {
        let mut i = Inbound::new(90_000);
        let p = rtp(1, 65_535, 1000, 96, true, b"a");
        assert_eq!(i.accept(at(0), &p), Some(Accepted { timestamp: 1000, marker: true, payload: b"a" }));
        // Wrapped and newer: taken; older or repeated: not.
        assert!(i.accept(at(1), &rtp(1, 1, 4000, 96, false, b"b")).is_some());
        assert_eq!(i.accept(at(1), &rtp(1, 0, 4000, 96, false, b"c")), None);
        assert_eq!(i.accept(at(1), &rtp(1, 1, 4000, 96, false, b"b")), None);
        // RTCP (a receiver report, PT 201), junk, padding only.
        assert_eq!(i.accept(at(1), &[0x80, 201, 0, 1, 0, 0, 0, 1]), None);
        assert_eq!(i.accept(at(1), &[1, 2, 3]), None);
        let mut padded = Vec::new();
        let header = Header { marker: false, payload_type: 96, sequence_number: 2, timestamp: 4000, ssrc: 1 };
        Writer::new(&mut padded, &header, &[]).unwrap().finish(b"", 4).unwrap();
        assert_eq!(i.accept(at(1), &padded), None);
        // Padding removed from a packet with payload.
        let mut padded = Vec::new();
        let header = Header { sequence_number: 3, ..header };
        Writer::new(&mut padded, &header, &[]).unwrap().finish(b"pay", 4).unwrap();
        assert_eq!(i.accept(at(1), &padded).map(|a| a.payload), Some(&b"pay"[..]));
        // Another source: ignored while the first is alive, then followed with timestamps going on.
        assert_eq!(i.accept(at(100), &rtp(2, 50, 7, 96, false, b"x")), None);
        let got = i.accept(at(1001), &rtp(2, 51, 7, 96, false, b"y")).map(|a| a.timestamp);
        assert_eq!(got, Some(4000 + 90_000));
        assert_eq!(i.accept(at(1034), &rtp(2, 52, 3007, 96, false, b"z")).map(|a| a.timestamp), Some(97_000));
        let s = i.stats;
        assert_eq!((s.accepted, s.late, s.not_rtp, s.padding, s.other_source, s.switches), (5, 2, 2, 1, 1, 1));
    }

    #[test]
    fn keyframes_are_asked_for_at_the_start_and_then_regularly() {
        let mut k = KeyframeSchedule::new(Some(Duration::from_secs(2)));
        assert_eq!(k.poll_timeout(), None);
        assert!(!k.due(at(0)));
        k.start(at(0));
        assert_eq!(k.poll_timeout(), Some(at(0)));
        assert!(k.due(at(0)));
        assert!(!k.due(at(1999)));
        assert_eq!(k.poll_timeout(), Some(at(2000)));
        assert!(k.due(at(2100)));
        assert_eq!(k.poll_timeout(), Some(at(4100)));
        k.stop();
        assert!(!k.is_started() && k.poll_timeout().is_none());
        let mut once = KeyframeSchedule::new(None);
        assert!(!once.is_started());
        once.start(at(0));
        assert!(once.due(at(0)));
        assert_eq!(once.poll_timeout(), None);
        assert!(once.is_started() && !once.due(at(5000)));
    }
}
