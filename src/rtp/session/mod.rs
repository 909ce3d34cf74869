//! An RTP session (RFC 3550): send and receive streams keyed by SSRC, RTCP reports, loss repair with
//! NACK and RTX, key frame requests, and transport-wide congestion control feedback.
//!
//! The session works on plain (already decrypted) RTP and RTCP and knows nothing of SRTP, ICE or SDP, so
//! it serves a peer connection as well as SRTP keyed by SIP signalling: the caller unprotects what
//! arrives before [`Session::handle_receive`] and protects what [`Session::poll_transmit`] and
//! [`Session::send_rtp`] give before sending it.
//!
//! ## The loop
//!
//! 1. [`Session::handle_receive`] each RTP or RTCP packet that arrived (after SRTP/SRTCP unprotection).
//!    RTP comes back as [`Received::Rtp`], restored in place if it was an RTX retransmission; a packet
//!    the stream had received already (a retransmission probing the bandwidth, a duplicate) comes back
//!    as [`Received::Duplicate`], counted and not to be handed up again.
//! 2. [`Session::handle_timeout`] once `now` reaches [`Session::poll_timeout`]: reports, NACKs and
//!    transport-wide feedback are due on timers.
//! 3. [`Session::poll_transmit`] until `None`: RTCP compounds and RTX packets to protect and send.
//! 4. [`Session::poll_event`] until `None`: key frame requests, reports, round-trip times, feedback.
//! 5. Wait for the next packet or for [`Session::poll_timeout`], and repeat.
//!
//! Media goes out through [`Session::send_rtp`], which writes the packet into a buffer the caller owns,
//! numbers it, stamps the transport-wide sequence number and keeps a copy for retransmission. After it,
//! or after any other call, drain transmits and events and read the timeout again.
//!
//! Time is injected and must not go backwards (an earlier `now` counts as the latest seen). The first
//! call that passes a `now` starts the report timer. The wall clock sender reports carry comes from
//! [`Config::ntp_epoch`]; the session reads no clock.
//!
//! ```
//! use core::time::Duration;
//! use sansrtc::rtp::session::{
//!     Config, Event, KeyframeRequest, OutgoingRtp, Received, ReceiveStreamConfig, SendStreamConfig, Session,
//! };
//! use sansrtc::{Instant, SeededRng};
//!
//! let config = |cname| {
//!     let mut c = Config::new(cname, Duration::from_secs(3_900_000_000));
//!     c.payload_types.media(96, 90_000, true, true).unwrap().rtx(97, 96).unwrap();
//!     c
//! };
//! let mut alice = Session::new(config("alice"), SeededRng::from_seed([1; 32])).unwrap();
//! let mut bob = Session::new(config("bob"), SeededRng::from_seed([2; 32])).unwrap();
//! alice.add_send_stream(SendStreamConfig::video(0x1111, Some(0x2222))).unwrap();
//! bob.add_receive_stream(ReceiveStreamConfig::video(0x1111, Some(0x2222))).unwrap();
//!
//! let mut now = Instant::from_secs(1);
//! let mut packet = Vec::with_capacity(1500);
//! for frame in 0..3u32 {
//!     alice.send_rtp(now, &OutgoingRtp::new(0x1111, 96, frame * 3000, b"frame"), &mut packet).unwrap();
//!     if frame == 1 {
//!         continue; // lost on the way
//!     }
//!     let Ok(Received::Rtp(rtp)) = bob.handle_receive(now, &mut packet) else { panic!() };
//!     assert_eq!((rtp.packet.payload(), rtp.repaired), (&b"frame"[..], false));
//! }
//! // Bob NACKs the gap once the reordering delay has passed; Alice answers with an RTX packet.
//! let repaired = loop {
//!     now = bob.poll_timeout().unwrap().max(now);
//!     bob.handle_timeout(now);
//!     while let Some(out) = bob.poll_transmit() {
//!         let mut rtcp = out.data().to_vec();
//!         alice.handle_receive(now, &mut rtcp).unwrap();
//!     }
//!     if let Some(rtx) = alice.poll_transmit() {
//!         let mut rtx = rtx.data().to_vec();
//!         let Ok(Received::Rtp(rtp)) = bob.handle_receive(now, &mut rtx) else { panic!() };
//!         break (rtp.ssrc, rtp.repaired, rtp.packet.payload().to_vec());
//!     }
//! };
//! assert_eq!(repaired, (0x1111, true, b"frame".to_vec()));
//!
//! // A key frame request reaches Alice as an event.
//! bob.request_keyframe(now, 0x1111, KeyframeRequest::Pli).unwrap();
//! while let Some(out) = bob.poll_transmit() {
//!     let mut rtcp = out.data().to_vec();
//!     alice.handle_receive(now, &mut rtcp).unwrap();
//! }
//! assert!(core::iter::from_fn(|| alice.poll_event())
//!     .any(|e| e == Event::KeyframeRequest { ssrc: 0x1111, kind: KeyframeRequest::Pli }));
//! ```
//!
//! ## What it does
//!
//! - **Receive streams** keep RFC 3550 reception state per SSRC: extended sequence numbers with probation
//!   and restart (§A.1), cumulative and fractional loss (§A.3), interarrival jitter (§A.8), extended
//!   timestamps, the last sender report.
//! - **Reports** go out on the RFC 3550 §6.3 interval, randomised from the session's generator, with the
//!   5 s or the reduced minimum: SRs for streams that sent, reception report blocks, SDES CNAME, and XR
//!   RRTR/DLRR (RFC 3611). Round-trip times come from LSR/DLSR of reports about our streams and from
//!   DLRR answers to our RRTR.
//! - **NACK** (RFC 4585): missing packets are asked for after a reordering delay, again after a round trip,
//!   a bounded number of times within a bounded window; a packet given up may trigger a PLI.
//! - **RTX** (RFC 4588): send streams keep a history bounded in packets, octets and age and answer NACKs
//!   with RTX packets; RTX received is restored to the original packet.
//! - **PLI, FIR** are sent on request and reported as events; **REMB** is reported.
//! - **Transport-wide CC**: sequence numbers on send, feedback on receive, and feedback received turned
//!   into one event per packet with its send time and arrival time (no bandwidth estimation).
//!
//! Every table is bounded ([`Config`]); a packet that does not fit is dropped and counted ([`Stats`]).
//! Once streams are warm, no call allocates per packet.

mod config;
mod error;
mod event;
mod history;
mod nack;
mod padding;
mod receive;
mod report;
mod rtcp_in;
mod rtcp_out;
mod send;
mod ssrc_map;
mod twcc;

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests;

use alloc::vec::Vec;
use core::time::Duration;

pub use config::{
    Config, HistoryConfig, NackConfig, PayloadFormat, PayloadTypes, ReceiveStreamConfig, RtcpConfig, RtcpMinimum,
    SendStreamConfig, TwccConfig, UnknownSsrcs,
};
pub use error::{Error, UsageError};
pub use event::{
    Event, KeyframeRequest, PacketFeedback, ReceiveStats, Received, ReceivedRtp, SendStats, SsrcList, Stats,
};

use crate::machine::Machine;
use crate::rand::SeededRng;
use crate::rtcp::{DlrrItem, NackPair, ReportBlock, TwccStatus};
use crate::rtp::{ExtensionForm, ExtensionKind, ExtensionValue, Header, Packet, Writer};
use crate::time::Instant;
use crate::util::{EventQueue, OutQueue, TimerKind, Timers};

use nack::Repair;
use receive::ReceiveStream;
use send::SendStream;
use ssrc_map::SsrcMap;
use twcc::{TwccReceiver, TwccSender};

const TARGET: &str = "sansrtc::rtp";
/// Room reserved in every queued datagram buffer, so reused buffers never grow on the hot path.
const DATAGRAM_RESERVE: usize = 1536;
/// XR RRTRs remembered for DLRR answers (one per remote reporter).
const RRTR_SLOTS: usize = 4;

/// Which stream an SSRC belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    Send(usize),
    SendRtx(usize),
    Receive(usize),
    ReceiveRtx(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    /// The next regular report (RFC 3550 §6.3.6).
    Report,
    /// The earliest NACK pass of any receive stream.
    Nack,
    /// Transport-wide feedback.
    Twcc,
}

impl TimerKind for Timer {
    const ALL: &'static [Self] = &[Timer::Report, Timer::Nack, Timer::Twcc];
    fn index(self) -> usize {
        self as usize
    }
}

/// Whether a datagram to send is RTP or RTCP (which SRTP context protects it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PacketKind {
    /// An RTP packet (RTX): protect with `protect_rtp`.
    Rtp,
    /// An RTCP compound: protect with `protect_rtcp`.
    Rtcp,
}

/// A datagram [`Session::poll_transmit`] gives, borrowed until the next call on the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outgoing<'a> {
    /// RTP or RTCP.
    pub kind: PacketKind,
    data: &'a [u8],
}

impl<'a> Outgoing<'a> {
    /// The packet.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }
}

/// A media packet for [`Session::send_rtp`]; the session adds the sequence number and the transport-wide
/// sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutgoingRtp<'a> {
    /// The send stream.
    pub ssrc: u32,
    /// Payload type.
    pub payload_type: u8,
    /// The M bit.
    pub marker: bool,
    /// RTP timestamp.
    pub timestamp: u32,
    /// Payload.
    pub payload: &'a [u8],
    /// Header extensions to add (written with the session's extension map).
    pub extensions: &'a [ExtensionValue<'a>],
}

impl<'a> OutgoingRtp<'a> {
    /// A packet without marker or extensions.
    pub fn new(ssrc: u32, payload_type: u8, timestamp: u32, payload: &'a [u8]) -> Self {
        Self { ssrc, payload_type, marker: false, timestamp, payload, extensions: &[] }
    }
}

/// What [`Session::send_rtp`] assigned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SentRtp {
    /// The RTP sequence number.
    pub sequence: u16,
    /// The transport-wide sequence number, when transport-wide CC is on.
    pub transport_sequence: Option<u16>,
    /// The packet's length in `out`.
    pub len: usize,
}

/// An XR RRTR received, to be answered with a DLRR sub-block (RFC 3611 §4.5).
#[derive(Clone, Copy, Debug)]
struct RrtrSeen {
    ssrc: u32,
    last_rr: u32,
    at: Instant,
}

/// Buffers reused by every report and feedback, so building them does not allocate once warm.
#[derive(Debug, Default)]
struct Scratch {
    packet: Vec<u8>,
    blocks: Vec<ReportBlock>,
    pairs: Vec<NackPair>,
    statuses: Vec<TwccStatus>,
}

/// An RTP session: see the [module documentation](self) for the loop.
///
/// Methods: [`Session::handle_receive`], [`Session::handle_timeout`], [`Session::poll_transmit`],
/// [`Session::poll_event`], [`Session::poll_timeout`] (also through [`Machine`]); media and control
/// through [`Session::send_rtp`], [`Session::request_keyframe`], and the stream management calls.
#[derive(Debug)]
pub struct Session {
    config: Config,
    rng: SeededRng,
    now: Option<Instant>,
    rtcp_ssrc: u32,
    routes: SsrcMap<Route>,
    send: Vec<Option<SendStream>>,
    recv: Vec<Option<ReceiveStream>>,
    twcc_id: Option<u8>,
    twcc_send: Option<TwccSender>,
    twcc_recv: Option<TwccReceiver>,
    /// When transport-wide feedback was last sent.
    twcc_last: Option<Instant>,
    timers: Timers<Timer, 3>,
    schedule: report::Schedule,
    rtt: Option<Duration>,
    rrtr: [Option<RrtrSeen>; RRTR_SLOTS],
    out: OutQueue<PacketKind>,
    events: EventQueue<Event>,
    scratch: Scratch,
    stats: Stats,
}

impl Session {
    /// A session with `config`, drawing its random values (SSRC, initial sequence numbers, report
    /// intervals) from `rng`.
    pub fn new(config: Config, mut rng: SeededRng) -> Result<Self, UsageError> {
        config.validate()?;
        let rtcp_ssrc = config.rtcp_ssrc.unwrap_or_else(|| rng.u32());
        let routes = SsrcMap::new(2 * (config.max_send_streams + config.max_receive_streams), rng.u64());
        let twcc_id = config.extensions.id(ExtensionKind::TransportWideCc);
        let scratch = Scratch {
            packet: Vec::with_capacity(config.mtu.max(DATAGRAM_RESERVE)),
            blocks: Vec::with_capacity(config.max_receive_streams * 2),
            pairs: Vec::with_capacity(config.nack.max_fci),
            statuses: Vec::with_capacity(config.twcc.max_per_feedback),
        };
        Ok(Self {
            twcc_send: twcc_id.map(|_| TwccSender::new(config.twcc.send_history)),
            twcc_recv: twcc_id.map(|_| TwccReceiver::new(config.twcc.receive_window)),
            twcc_id,
            twcc_last: None,
            rtcp_ssrc,
            routes,
            send: Vec::with_capacity(config.max_send_streams),
            recv: Vec::with_capacity(config.max_receive_streams),
            now: None,
            timers: Timers::default(),
            schedule: report::Schedule::new(),
            rtt: None,
            rrtr: [None; RRTR_SLOTS],
            out: OutQueue::new(config.transmit_limit),
            events: EventQueue::new(config.event_limit),
            scratch,
            stats: Stats::default(),
            rng,
            config,
        })
    }

    /// The SSRC receiver reports and feedback are sent from.
    pub fn rtcp_ssrc(&self) -> u32 {
        self.rtcp_ssrc
    }

    /// The latest round-trip time measured, if any.
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt
    }

    /// The round-trip time the session works with: the latest measured, else the configured initial one.
    fn working_rtt(&self) -> Duration {
        self.rtt.unwrap_or(self.config.nack.initial_rtt)
    }

    /// Session counters.
    pub fn stats(&self) -> Stats {
        let mut s = self.stats;
        s.events_dropped = self.events.dropped();
        s.transmits_dropped = self.out.dropped();
        s
    }

    /// Statistics of the receive stream `ssrc`.
    pub fn receive_stats(&self, ssrc: u32) -> Option<ReceiveStats> {
        match self.routes.get(ssrc)? {
            Route::Receive(i) => self.recv.get(i)?.as_ref().map(ReceiveStream::stats),
            _ => None,
        }
    }

    /// Statistics of the send stream `ssrc`.
    pub fn send_stats(&self, ssrc: u32) -> Option<SendStats> {
        match self.routes.get(ssrc)? {
            Route::Send(i) => self.send.get(i)?.as_ref().map(|s| {
                let mut st = s.stats;
                st.history_bytes = s.history.buffer_len();
                st
            }),
            _ => None,
        }
    }

    /// The SSRCs of the send streams (media SSRCs, not RTX).
    pub fn send_ssrcs(&self) -> impl Iterator<Item = u32> + '_ {
        self.send.iter().flatten().map(|s| s.config.ssrc)
    }

    /// The SSRCs of the receive streams (media SSRCs, not RTX).
    pub fn receive_ssrcs(&self) -> impl Iterator<Item = u32> + '_ {
        self.recv.iter().flatten().map(|s| s.config.ssrc)
    }

    /// Whether `ssrc` is one of the session's streams (send or receive, media or RTX).
    pub fn has_ssrc(&self, ssrc: u32) -> bool {
        self.routes.contains(ssrc)
    }

    /// Changes what renegotiation may change: the payload types, the header extension map (turning
    /// transport-wide CC on or off) and reduced-size RTCP. Streams and their state are kept. Allocates the
    /// transport-wide CC tables when it is first turned on.
    pub fn reconfigure(
        &mut self,
        payload_types: PayloadTypes,
        extensions: crate::rtp::ExtensionMap,
        reduced_size: bool,
    ) {
        let twcc_id = extensions.id(ExtensionKind::TransportWideCc);
        if twcc_id.is_some() {
            if self.twcc_send.is_none() {
                self.twcc_send = Some(TwccSender::new(self.config.twcc.send_history));
            }
            if self.twcc_recv.is_none() {
                self.twcc_recv = Some(TwccReceiver::new(self.config.twcc.receive_window));
            }
        } else {
            self.twcc_send = None;
            self.twcc_recv = None;
            self.timers.clear(Timer::Twcc);
        }
        self.twcc_id = twcc_id;
        self.config.payload_types = payload_types;
        self.config.extensions = extensions;
        self.config.rtcp.reduced_size = reduced_size;
    }

    /// Records a media packet the caller wrote itself (pass-through, forwarding) and is about to send on
    /// send stream `packet`'s SSRC: the stream's counters and sender-report clock, and its RTX history,
    /// as [`Session::send_rtp`] would. Its sequence number is the caller's, and becomes the stream's
    /// latest; nothing in the packet is changed (no transport-wide sequence number is added). Returns
    /// whether it was recorded: only a packet of one of the send streams with a media payload type of
    /// the session is.
    pub fn record_sent(&mut self, now: Instant, packet: &[u8]) -> bool {
        let Ok(p) = Packet::new_checked(packet) else { return false };
        let Some(Route::Send(i)) = self.routes.get(p.ssrc()) else { return false };
        if !matches!(self.config.payload_types.get(p.payload_type()), PayloadFormat::Media { .. }) {
            return false;
        }
        let now = self.touch(now);
        let Some(stream) = self.send.get_mut(i).and_then(Option::as_mut) else { return false };
        stream.on_sent(now, p.sequence_number(), p.timestamp(), p.payload().len(), packet);
        true
    }

    /// Takes `now` into account: never earlier than the latest seen. The first time starts the reports.
    fn touch(&mut self, now: Instant) -> Instant {
        let now = self.now.map_or(now, |n| n.max(now));
        if self.now.is_none() {
            self.now = Some(now);
            self.schedule.last = Some(now);
            let t = self.report_interval();
            self.timers.set(Timer::Report, now + t);
        }
        self.now = Some(now);
        now
    }

    fn event(&mut self, e: Event) {
        if !self.events.push(e) {
            tracing::debug!(target: TARGET, "event queue full, event dropped");
        }
    }

    /// Takes `ssrc` (and `rtx`) for a stream, or says which of them is taken. Our RTCP SSRC may be a send
    /// stream's, not a receive one's.
    fn claim(
        &mut self,
        ssrc: u32,
        rtx: Option<u32>,
        route: Route,
        rtx_route: impl Fn(usize) -> Route,
    ) -> Result<(), UsageError> {
        let (index, receive) = match route {
            Route::Send(i) | Route::SendRtx(i) => (i, false),
            Route::Receive(i) | Route::ReceiveRtx(i) => (i, true),
        };
        let taken = |s: u32| self.routes.contains(s) || (receive && s == self.rtcp_ssrc);
        if taken(ssrc) {
            return Err(UsageError::SsrcInUse(ssrc));
        }
        if let Some(r) = rtx.filter(|r| *r == ssrc || taken(*r)) {
            return Err(UsageError::SsrcInUse(r));
        }
        if !self.routes.insert(ssrc, route) {
            return Err(UsageError::TooManyStreams);
        }
        if let Some(r) = rtx {
            if !self.routes.insert(r, rtx_route(index)) {
                self.routes.remove(ssrc);
                return Err(UsageError::TooManyStreams);
            }
        }
        Ok(())
    }

    /// Adds a send stream.
    pub fn add_send_stream(&mut self, config: SendStreamConfig) -> Result<(), UsageError> {
        let slot = self.send.iter().position(Option::is_none).unwrap_or(self.send.len());
        if slot >= self.config.max_send_streams {
            return Err(UsageError::TooManyStreams);
        }
        if config.clock_rate == 0 {
            return Err(UsageError::BadConfig("clock_rate 0"));
        }
        self.claim(config.ssrc, config.rtx_ssrc, Route::Send(slot), Route::SendRtx)?;
        let (first, rtx) = (self.rng.u32() as u16, self.rng.u32() as u16);
        let stream = SendStream::new(config, first, rtx);
        match self.send.get_mut(slot) {
            Some(s) => *s = Some(stream),
            None => self.send.push(Some(stream)),
        }
        tracing::debug!(target: TARGET, ssrc = config.ssrc, rtx = ?config.rtx_ssrc, "send stream added");
        Ok(())
    }

    /// Removes a send stream and queues an RTCP BYE for it (RFC 3550 §6.6).
    pub fn remove_send_stream(&mut self, now: Instant, ssrc: u32) -> Result<(), UsageError> {
        self.touch(now);
        let Some(Route::Send(i)) = self.routes.get(ssrc) else { return Err(UsageError::NoSuchStream(ssrc)) };
        let Some(stream) = self.send.get_mut(i).and_then(Option::take) else {
            return Err(UsageError::NoSuchStream(ssrc));
        };
        self.routes.remove(ssrc);
        if let Some(r) = stream.config.rtx_ssrc {
            self.routes.remove(r);
        }
        self.queue_bye(ssrc, stream.config.rtx_ssrc);
        Ok(())
    }

    /// Adds a receive stream.
    pub fn add_receive_stream(&mut self, config: ReceiveStreamConfig) -> Result<(), UsageError> {
        self.insert_receive(config, false).map(|_| ())
    }

    fn insert_receive(&mut self, config: ReceiveStreamConfig, probation: bool) -> Result<usize, UsageError> {
        let slot = self.recv.iter().position(Option::is_none).unwrap_or(self.recv.len());
        if slot >= self.config.max_receive_streams {
            return Err(UsageError::TooManyStreams);
        }
        if config.clock_rate == 0 {
            return Err(UsageError::BadConfig("clock_rate 0"));
        }
        self.claim(config.ssrc, config.rtx_ssrc, Route::Receive(slot), Route::ReceiveRtx)?;
        let stream = ReceiveStream::new(config, probation, self.config.nack.window);
        match self.recv.get_mut(slot) {
            Some(s) => *s = Some(stream),
            None => self.recv.push(Some(stream)),
        }
        tracing::debug!(target: TARGET, ssrc = config.ssrc, rtx = ?config.rtx_ssrc, probation, "receive stream added");
        Ok(slot)
    }

    /// Binds `rtx_ssrc` as the RTX stream (RFC 4588) of the receive stream `ssrc` once the pairing is
    /// learned, for a stream that was added without one (no `a=ssrc-group:FID` announced it; a simulcast
    /// layer's retransmissions name their layer with the repaired-rid extension, RFC 8852 §3.2): its
    /// retransmissions are then restored and its padding counted for transport-wide feedback. The stream
    /// keeps its state. Errors: [`UsageError::NoSuchStream`], [`UsageError::SsrcInUse`] when `rtx_ssrc` is
    /// taken or the stream has an RTX SSRC already, [`UsageError::TooManyStreams`].
    pub fn bind_receive_rtx(&mut self, ssrc: u32, rtx_ssrc: u32) -> Result<(), UsageError> {
        let Some(Route::Receive(i)) = self.routes.get(ssrc) else { return Err(UsageError::NoSuchStream(ssrc)) };
        if self.routes.contains(rtx_ssrc) || rtx_ssrc == self.rtcp_ssrc {
            return Err(UsageError::SsrcInUse(rtx_ssrc));
        }
        let Some(stream) = self.recv.get_mut(i).and_then(Option::as_mut) else {
            return Err(UsageError::NoSuchStream(ssrc));
        };
        if let Some(old) = stream.config.rtx_ssrc {
            return Err(UsageError::SsrcInUse(old));
        }
        if !self.routes.insert(rtx_ssrc, Route::ReceiveRtx(i)) {
            return Err(UsageError::TooManyStreams);
        }
        stream.config.rtx_ssrc = Some(rtx_ssrc);
        tracing::debug!(target: TARGET, ssrc, rtx_ssrc, "RTX stream bound");
        Ok(())
    }

    /// Removes a receive stream.
    pub fn remove_receive_stream(&mut self, ssrc: u32) -> Result<(), UsageError> {
        let Some(Route::Receive(i)) = self.routes.get(ssrc) else { return Err(UsageError::NoSuchStream(ssrc)) };
        let Some(stream) = self.recv.get_mut(i).and_then(Option::take) else {
            return Err(UsageError::NoSuchStream(ssrc));
        };
        self.routes.remove(ssrc);
        if let Some(r) = stream.config.rtx_ssrc {
            self.routes.remove(r);
        }
        self.refresh_nack_timer();
        Ok(())
    }

    /// Writes the media packet `rtp` into `out` (cleared first) for the caller to protect and send: the
    /// stream's next sequence number, the transport-wide sequence number when TWCC is on (the extension
    /// map has it), and `rtp.extensions`. The packet is kept for retransmission if the stream has RTX.
    /// Then drain transmits and read the timeout.
    pub fn send_rtp(&mut self, now: Instant, rtp: &OutgoingRtp<'_>, out: &mut Vec<u8>) -> Result<SentRtp, UsageError> {
        self.send_rtp_parts(now, &[], rtp, out)
    }

    /// [`Session::send_rtp`] with the payload in two parts, `head` then `rtp.payload` (a payload format's
    /// header and a run of the frame, [`crate::packetize::PayloadParts`]), each written into `out` once.
    pub fn send_rtp_parts(
        &mut self,
        now: Instant,
        head: &[u8],
        rtp: &OutgoingRtp<'_>,
        out: &mut Vec<u8>,
    ) -> Result<SentRtp, UsageError> {
        let now = self.touch(now);
        if rtp.payload_type > 127 {
            return Err(UsageError::BadPayloadType(rtp.payload_type));
        }
        let Some(Route::Send(i)) = self.routes.get(rtp.ssrc) else { return Err(UsageError::NoSuchStream(rtp.ssrc)) };
        let Some(stream) = self.send.get_mut(i).and_then(Option::as_mut) else {
            return Err(UsageError::NoSuchStream(rtp.ssrc));
        };
        let seq = stream.next_seq;
        let twcc = match (self.twcc_id, &self.twcc_send) {
            (Some(id), Some(t)) => Some((id, t.newest().map_or(0, |n| n + 1) as u16)),
            _ => None,
        };
        let header = Header {
            marker: rtp.marker,
            payload_type: rtp.payload_type,
            sequence_number: seq,
            timestamp: rtp.timestamp,
            ssrc: rtp.ssrc,
        };
        let written = write_media(out, &header, &self.config.extensions, twcc, head, rtp);
        if let Err(e) = written {
            out.clear();
            return Err(e.into());
        }
        stream.on_sent(now, seq, rtp.timestamp, head.len() + rtp.payload.len(), out);
        let transport_sequence = match &mut self.twcc_send {
            Some(t) if twcc.is_some() => Some(t.assign(now, rtp.ssrc, seq, out.len())),
            _ => None,
        };
        Ok(SentRtp { sequence: seq, transport_sequence, len: out.len() })
    }

    /// Asks the sender of receive stream `ssrc` for a key frame with a PLI or a FIR (RFC 4585, RFC 5104).
    /// Then drain transmits.
    pub fn request_keyframe(&mut self, now: Instant, ssrc: u32, kind: KeyframeRequest) -> Result<(), UsageError> {
        let now = self.touch(now);
        let Some(Route::Receive(i)) = self.routes.get(ssrc) else { return Err(UsageError::NoSuchStream(ssrc)) };
        self.send_keyframe_request(now, i, kind);
        Ok(())
    }

    /// Feeds one received RTP or RTCP packet (already SRTP-unprotected), told apart as RFC 5761 says.
    ///
    /// RTP comes back as [`Received::Rtp`], a view of the packet in `packet`. An RTX retransmission is
    /// restored in place: the original header is moved two octets up over the OSN, so the restored packet
    /// is `packet[2..]`, with the original SSRC, sequence number and payload type. A packet of a stream
    /// with NACK that the stream had received already (tracked within its NACK window), original or
    /// restored, comes back as [`Received::Duplicate`] (counted in its statistics, the receiver
    /// reports and transport-wide feedback, not to be handed on again). RTCP is reported
    /// through events. An `Err` means the packet was dropped and counted; nothing else changed. Then
    /// drain transmits and events and read the timeout.
    pub fn handle_receive<'a>(&mut self, now: Instant, packet: &'a mut [u8]) -> Result<Received<'a>, Error> {
        let now = self.touch(now);
        let rtcp = matches!(packet.get(1), Some(192..=223));
        let r = if rtcp { self.receive_rtcp(now, packet) } else { self.receive_rtp(now, packet) };
        match &r {
            Err(e) if rtcp => tracing::trace!(target: TARGET, error = %e, "RTCP dropped"),
            Err(e) => {
                self.stats.rtp_dropped += 1;
                tracing::trace!(target: TARGET, error = %e, "RTP dropped");
            }
            Ok(Received::Rtp(_)) => self.stats.rtp_received += 1,
            Ok(_) => {}
        }
        r
    }

    fn receive_rtp<'a>(&mut self, now: Instant, buf: &'a mut [u8]) -> Result<Received<'a>, Error> {
        let packet = Packet::new_checked(&buf[..])?;
        let ssrc = packet.ssrc();
        let route = match self.routes.get(ssrc) {
            Some(r) => r,
            None if ssrc == self.rtcp_ssrc => Route::SendRtx(usize::MAX),
            None => self.accept_unknown(ssrc, packet.payload_type())?,
        };
        match route {
            Route::Receive(i) => {
                let buf: &'a [u8] = buf;
                let packet = Packet::new_checked(buf)?;
                self.receive_original(now, i, packet)
            }
            Route::ReceiveRtx(i) => self.receive_rtx(now, i, buf),
            Route::Send(_) | Route::SendRtx(_) => {
                self.stats.own_ssrc += 1;
                Err(Error::OwnSsrc(ssrc))
            }
        }
    }

    fn accept_unknown(&mut self, ssrc: u32, pt: u8) -> Result<Route, Error> {
        if self.config.unknown_ssrcs == UnknownSsrcs::Reject {
            self.stats.unknown_ssrc += 1;
            return Err(Error::UnknownSsrc(ssrc));
        }
        let PayloadFormat::Media { clock_rate, nack, pli, .. } = self.config.payload_types.get(pt) else {
            return Err(Error::UnknownPayloadType(pt));
        };
        let config = ReceiveStreamConfig { ssrc, rtx_ssrc: None, clock_rate, nack, keyframe_on_loss: pli };
        let i = self.insert_receive(config, true).map_err(|_| Error::TooManyStreams)?;
        self.event(Event::NewReceiveStream { ssrc, payload_type: pt });
        Ok(Route::Receive(i))
    }

    /// Records a transport-wide sequence number and arms the feedback timer.
    fn record_twcc(&mut self, now: Instant, seq: Option<u16>, ssrc: u32) {
        let (Some(seq), Some(t)) = (seq, &mut self.twcc_recv) else { return };
        if !t.record(now, seq, ssrc) {
            self.stats.twcc_late += 1;
        }
        if self.timers.get(Timer::Twcc).is_none() {
            // Periodic while packets arrive: an interval after the previous feedback, or now if that
            // is past (after a silence, the first arrival is reported at once).
            let interval = self.config.twcc.interval;
            let at = self.twcc_last.map_or(now + interval, |t| (t + interval).max(now));
            self.timers.set(Timer::Twcc, at);
        }
    }

    fn transport_sequence<T: AsRef<[u8]>>(&self, packet: &Packet<T>) -> Option<u16> {
        match packet.extension_value(&self.config.extensions, ExtensionKind::TransportWideCc)? {
            ExtensionValue::TransportWideCc(s) => Some(s),
            _ => None,
        }
    }

    fn receive_original<'a>(
        &mut self,
        now: Instant,
        i: usize,
        packet: Packet<&'a [u8]>,
    ) -> Result<Received<'a>, Error> {
        let transport_sequence = self.transport_sequence(&packet);
        let reorder = self.config.nack.reorder_delay;
        let Some(stream) = self.recv.get_mut(i).and_then(Option::as_mut) else {
            return Err(Error::UnknownSsrc(packet.ssrc()));
        };
        let seq = packet.sequence_number();
        // RFC 3550 §A.1: a packet it drops (probation, a jump) still moves its bookkeeping (`probation`,
        // `bad_seq`), as the algorithm says; nothing else changes for a dropped packet.
        let first = stream.seq.is_none_or(|s| !s.valid());
        let mut state = stream.seq.unwrap_or_else(|| receive::SeqState::new(seq, stream.probation));
        let valid = state.update(seq);
        stream.seq = Some(state);
        let valid = match valid {
            Ok(v) => v,
            Err(e) => {
                if e == Error::Probation {
                    self.stats.probation += 1;
                }
                return Err(e);
            }
        };
        let mut given_up = 0;
        if valid.restarted {
            stream.jitter = receive::Jitter::default();
            given_up += stream.nack.as_mut().map_or(0, |n| n.reset());
        }
        if valid.advanced || first {
            stream.jitter.update(now, packet.timestamp(), stream.config.clock_rate);
        }
        let timestamp = stream.timestamps.unwrap(packet.timestamp());
        stream.stats.payload_bytes += packet.payload().len() as u64;
        stream.stats.header_bytes += (packet.header_len() + packet.padding_len()) as u64;
        stream.heard = true;
        let mut nack_due = None;
        let mut duplicate = false;
        if let Some(n) = &mut stream.nack {
            let arrival = n.on_received(now, valid.ext, reorder);
            given_up += arrival.given_up;
            duplicate = arrival.duplicate;
            nack_due = n.due;
        }
        let ssrc = stream.config.ssrc;
        if given_up > 0 {
            self.unrepairable(now, i, given_up);
        }
        if let Some(due) = nack_due {
            self.arm_nack(due);
        }
        self.record_twcc(now, transport_sequence, ssrc);
        if duplicate {
            self.stats.duplicates += 1;
            return Ok(Received::Duplicate { ssrc, sequence: valid.ext, repaired: false });
        }
        Ok(Received::Rtp(ReceivedRtp {
            packet,
            ssrc,
            sequence: valid.ext,
            timestamp,
            repaired: false,
            transport_sequence,
        }))
    }

    fn receive_rtx<'a>(&mut self, now: Instant, i: usize, buf: &'a mut [u8]) -> Result<Received<'a>, Error> {
        let (rtx_ssrc, rtx_seq, pt, header_len, osn, transport_sequence) = {
            let p = Packet::new_checked(&buf[..])?;
            let osn = p.payload().first_chunk::<2>().map(|b| u16::from_be_bytes(*b));
            (p.ssrc(), p.sequence_number(), p.payload_type(), p.header_len(), osn, self.transport_sequence(&p))
        };
        let apt = self.config.payload_types.apt_of(pt).ok_or(Error::UnknownPayloadType(pt))?;
        let Some(stream) = self.recv.get_mut(i).and_then(Option::as_mut) else {
            return Err(Error::UnknownSsrc(rtx_ssrc));
        };
        let media_ssrc = stream.config.ssrc;
        let Some(osn) = osn else {
            // Padding only (a bandwidth probe): counts for transport-wide feedback, nothing else.
            self.stats.rtx_padding += 1;
            self.record_twcc(now, transport_sequence, media_ssrc);
            return Ok(Received::Padding { ssrc: rtx_ssrc });
        };
        // A repair must be of a packet at or before the highest received: anything else was never
        // asked for (and may never have been sent); it is dropped without touching any state.
        let ext = stream.seq.as_ref().and_then(|s| s.extend(osn).filter(|e| *e <= s.ext_max()));
        let Some(ext) = ext else {
            self.stats.rtx_spurious += 1;
            return Err(Error::RepairNotRequested);
        };
        // The RTX stream's own reception state, for its report block.
        let mut rtx_state = stream.rtx_seq.unwrap_or_else(|| receive::SeqState::new(rtx_seq, false));
        let _ = rtx_state.update(rtx_seq);
        stream.rtx_seq = Some(rtx_state);
        stream.rtx_heard = true;
        stream.stats.rtx_packets += 1;
        // Restore in place: the header moves up over the OSN.
        buf.copy_within(..header_len, 2);
        let restored: &'a mut [u8] = buf.get_mut(2..).unwrap_or_default();
        {
            let mut p = Packet::new_checked(&mut *restored)?;
            p.set_ssrc(media_ssrc);
            p.set_sequence_number(osn);
            p.set_payload_type(apt);
        }
        let restored: &'a [u8] = restored;
        let packet = Packet::new_checked(restored)?;
        stream.stats.payload_bytes += packet.payload().len() as u64;
        stream.stats.header_bytes += (restored.len() - packet.payload().len()) as u64;
        let timestamp = stream.timestamps.unwrap(packet.timestamp());
        let repair = stream.nack.as_mut().map_or(Repair::Other, |n| n.on_repaired(ext));
        match repair {
            Repair::Missing => stream.stats.repaired += 1,
            Repair::Duplicate => self.stats.rtx_duplicates += 1,
            Repair::Other => self.stats.rtx_spurious += 1,
        }
        self.stats.rtx_received += 1;
        self.record_twcc(now, transport_sequence, media_ssrc);
        if repair == Repair::Duplicate {
            return Ok(Received::Duplicate { ssrc: media_ssrc, sequence: ext, repaired: true });
        }
        Ok(Received::Rtp(ReceivedRtp {
            packet,
            ssrc: media_ssrc,
            sequence: ext,
            timestamp,
            repaired: true,
            transport_sequence,
        }))
    }

    /// Packets of receive stream `i` given up: counted, reported, and a PLI if the stream asks for one.
    fn unrepairable(&mut self, now: Instant, i: usize, packets: u32) {
        let interval = self.config.nack.keyframe_interval;
        let Some(stream) = self.recv.get_mut(i).and_then(Option::as_mut) else { return };
        stream.stats.unrepairable += u64::from(packets);
        let ssrc = stream.config.ssrc;
        let pli = stream.config.keyframe_on_loss && stream.last_pli.is_none_or(|t| now >= t + interval);
        if pli {
            self.send_keyframe_request(now, i, KeyframeRequest::Pli);
        }
        tracing::debug!(target: TARGET, ssrc, packets, pli, "packets given up");
        self.event(Event::Unrepairable { ssrc, packets, keyframe_requested: pli });
    }

    fn arm_nack(&mut self, due: Instant) {
        let at = self.timers.get(Timer::Nack).map_or(due, |t| t.min(due));
        self.timers.set(Timer::Nack, at);
    }

    fn refresh_nack_timer(&mut self) {
        let due = self.recv.iter().flatten().filter_map(|s| s.nack.as_ref()?.due).min();
        match due {
            Some(d) => self.timers.set(Timer::Nack, d),
            None => self.timers.clear(Timer::Nack),
        }
    }

    /// Fires the timers due at `now`: regular reports, NACK passes, transport-wide feedback. Then drain
    /// transmits and events and read the timeout.
    pub fn handle_timeout(&mut self, now: Instant) {
        let now = self.touch(now);
        while let Some(t) = self.timers.pop_due(now) {
            match t {
                Timer::Report => self.on_report_timer(now),
                Timer::Nack => self.nack_pass(now),
                Timer::Twcc => self.send_twcc_feedback(now),
            }
        }
    }

    /// The next RTCP compound or RTX packet to protect and send, or `None`. Call until `None`.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Outgoing<'_>> {
        let (kind, data) = self.out.pop()?;
        Some(Outgoing { kind, data })
    }

    /// The next event, or `None`. Call until `None`.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop()
    }

    /// When [`Session::handle_timeout`] is next due: the latest `now` seen if something waits in
    /// [`Session::poll_transmit`], else the earliest timer (`None` before the first call with a `now`).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.out.is_empty() {
            return self.now;
        }
        self.timers.next()
    }

    /// Queues a copy of `self.scratch.packet` for sending.
    fn queue_scratch(&mut self, kind: PacketKind) -> bool {
        let data = &self.scratch.packet;
        let queued = self.out.push_with(kind, |buf| {
            buf.reserve(data.len().max(DATAGRAM_RESERVE));
            buf.extend_from_slice(data);
            Ok::<(), core::convert::Infallible>(())
        });
        if queued != Ok(true) {
            tracing::debug!(target: TARGET, "transmit queue full, datagram dropped");
            return false;
        }
        if kind == PacketKind::Rtcp {
            self.stats.rtcp_sent += 1;
            let len = self.scratch.packet.len();
            self.schedule.observe(len);
        }
        true
    }
}

/// Writes a media packet: header, the extension block (transport-wide sequence number first, then the
/// caller's, in the one-byte form when every element fits it), payload.
fn write_media(
    out: &mut Vec<u8>,
    header: &Header,
    map: &crate::rtp::ExtensionMap,
    twcc: Option<(u8, u16)>,
    head: &[u8],
    rtp: &OutgoingRtp<'_>,
) -> Result<(), crate::rtp::Error> {
    out.clear();
    let mut w = Writer::new(out, header, &[])?;
    if twcc.is_some() || !rtp.extensions.is_empty() {
        let mut form = ExtensionForm::OneByte;
        for v in rtp.extensions {
            let id = match v {
                ExtensionValue::Raw(e) => Some(e.id),
                v => v.kind().and_then(|k| map.id(k)),
            };
            // The length alone decides the form; `extension_value` below encodes (and checks) it once.
            let len = v.encoded_len();
            if id.is_some_and(|id| !ExtensionForm::OneByte.can_carry(id, len)) {
                form = ExtensionForm::TwoByte { appbits: 0 };
            }
        }
        if twcc.is_some_and(|(id, _)| !ExtensionForm::OneByte.can_carry(id, 2)) {
            form = ExtensionForm::TwoByte { appbits: 0 };
        }
        w.start_extensions(form)?;
        if let Some((id, seq)) = twcc {
            w.extension(id, &seq.to_be_bytes())?;
        }
        for v in rtp.extensions {
            w.extension_value(map, v)?;
        }
    }
    w.finish_parts(head, rtp.payload, 0)?;
    Ok(())
}

impl Machine for Session {
    type Event = Event;

    fn handle_timeout(&mut self, now: Instant) {
        Session::handle_timeout(self, now);
    }

    fn poll_event(&mut self) -> Option<Event> {
        Session::poll_event(self)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Session::poll_timeout(self)
    }
}

/// A DLRR sub-block for an RRTR seen (RFC 3611 §4.5).
fn dlrr_item(seen: &RrtrSeen, now: Instant) -> DlrrItem {
    DlrrItem { ssrc: seen.ssrc, last_rr: seen.last_rr, delay_since_last_rr: report::to_units(now - seen.at) }
}
