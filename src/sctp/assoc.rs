//! The association: teardown (§9), timers (§6.3), receive dispatch and packet building. The set-up
//! (RFC 9260 §5) lives in `assoc/handshake.rs`, the data path in `send.rs` and `recv.rs`, stream reset in
//! `reconfig.rs`.

use alloc::vec::Vec;
use core::time::Duration;

use bytes::Bytes;

use super::cookie::{COOKIE_LEN, F_FORWARD_TSN, F_RECONFIG};
use super::error::{Error, SendError, WireError};
use super::recv::{Accept, RecvState, WINDOW};
use super::send::SendState;
use super::wire::{self, CauseCode, Chunk, ChunkType, DataChunk, HEADER_LEN, Packet, ParamType};
use super::{CloseReason, Config, Event, Message, SendOptions, TARGET, tsn_le};
use crate::machine::{DatagramMachine, Machine};
use crate::rand::SeededRng;
use crate::time::Instant;
use crate::util::{EventQueue, OutQueue, TimerKind, Timers, deadline};

mod handshake;

/// Association states (RFC 9260 §4), in the order an association moves through them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum State {
    /// No association: listening for an INIT (or ended, see [`Association::is_closed`]).
    Closed,
    /// INIT sent, waiting for INIT-ACK.
    CookieWait,
    /// COOKIE-ECHO sent, waiting for COOKIE-ACK.
    CookieEchoed,
    /// Established.
    Established,
    /// Shutdown requested; waiting for outstanding data to be acknowledged.
    ShutdownPending,
    /// SHUTDOWN sent.
    ShutdownSent,
    /// SHUTDOWN received; finishing our outstanding data.
    ShutdownReceived,
    /// SHUTDOWN-ACK sent.
    ShutdownAckSent,
}

/// Counters the caller can read ([`Association::stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Packets accepted.
    pub packets_received: u64,
    /// Packets emitted.
    pub packets_sent: u64,
    /// Packets (or chunks) dropped as bad input.
    pub dropped: u64,
    /// Packets dropped for a bad checksum.
    pub bad_checksum: u64,
    /// Packets dropped for a wrong verification tag.
    pub bad_verification_tag: u64,
    /// DATA chunks retransmitted.
    pub retransmissions: u64,
    /// DATA chunks fast-retransmitted.
    pub fast_retransmits: u64,
    /// T3-rtx expiries.
    pub t3_expiries: u64,
    /// Messages abandoned by PR-SCTP, or queued before the handshake on a stream the peer then did not
    /// accept.
    pub abandoned: u64,
    /// Duplicate DATA chunks received.
    pub duplicates: u64,
    /// DATA chunks dropped for window or memory limits.
    pub data_dropped: u64,
    /// Received messages discarded (incomplete after FORWARD-TSN, orphan fragments, oversize).
    pub discarded: u64,
    /// COOKIE-ECHOs refused as stale (answered with a Stale Cookie error, RFC 9260 §5.2.6).
    pub stale_cookies: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    T1Init,
    T1Cookie,
    T2Shutdown,
    T3Rtx,
    DelayedAck,
    Heartbeat,
    Reconfig,
}

impl TimerKind for Timer {
    const ALL: &'static [Self] = &[
        Timer::T1Init,
        Timer::T1Cookie,
        Timer::T2Shutdown,
        Timer::T3Rtx,
        Timer::DelayedAck,
        Timer::Heartbeat,
        Timer::Reconfig,
    ];
    fn index(self) -> usize {
        self as usize
    }
}

const N_TIMERS: usize = 7;
/// Events held at most; DATA is refused (and retransmitted later) once half of this is waiting.
const EVENT_LIMIT: usize = 2 * WINDOW as usize + 64;
/// Stateless responses (INIT-ACK) and aborts waiting to be sent.
const OUT_LIMIT: usize = 16;
/// Messages waiting for their first transmission, at most (bounds the queue for tiny messages too).
const MAX_QUEUED_MESSAGES: usize = 1 << 16;
/// New INITs sent after Stale Cookie errors before the handshake is given up (RFC 9260 §5.2.6).
const MAX_STALE_COOKIE_RETRIES: u32 = 2;
/// Largest HEARTBEAT info we echo, and largest chunk we quote in an ERROR.
const MAX_ECHO: usize = 256;

/// The peer's parameters from its INIT or INIT-ACK (or our cookie).
#[derive(Clone, Copy, Debug, Default)]
struct Peer {
    tag: u32,
    initial_tsn: u32,
    rwnd: u32,
    outbound: u16,
    max_inbound: u16,
    features: u8,
}

/// The peer's parameters, its state cookie and its Cookie Preservative from an INIT or INIT-ACK.
type ParsedInit<'a> = (Peer, Option<&'a [u8]>, Option<u32>);

/// Control chunks owed to the peer, built into the next packet.
#[derive(Debug, Default)]
struct Owed {
    init: bool,
    cookie_echo: bool,
    cookie_ack: bool,
    sack: bool,
    shutdown: bool,
    shutdown_ack: bool,
    shutdown_complete: bool,
    abort: Option<CauseCode>,
    heartbeat: Option<[u8; 16]>,
    heartbeat_ack: bool,
    invalid_stream: Option<u16>,
    unrecognized: bool,
    /// An ERROR "Unrecognized Parameters" quoting `Association::unrecognized_params` (§3.2.1).
    unrecognized_params: bool,
    /// An ERROR "Cookie Received While Shutting Down" (§5.2.4 action A in SHUTDOWN-ACK-SENT).
    cookie_while_shutting_down: bool,
}

/// An outgoing stream reset in flight (RFC 6525 §5.1.2).
#[derive(Debug)]
pub(super) struct ResetRequest {
    pub(super) seq: u32,
    pub(super) last_tsn: u32,
    pub(super) streams: Vec<u16>,
    pub(super) resend: bool,
}

/// A peer's reset request waiting for its last TSN to arrive (RFC 6525 §5.2.2 deferred reset).
#[derive(Debug)]
pub(super) struct DeferredReset {
    pub(super) seq: u32,
    pub(super) last_tsn: u32,
    pub(super) streams: Vec<u16>,
}

/// One SCTP association (RFC 9260), a sans-IO [`DatagramMachine`]. See the [module docs](super) for the loop.
///
/// Polls tell the truth: `poll_timeout` returns the latest `now` given whenever a packet may be owed (after
/// any `handle_*`, [`Association::send`], [`Association::reset_streams`], [`Association::shutdown`],
/// [`Association::abort`], and after `poll_event` took a message that makes a window update due), until
/// `poll_transmit` returns `None`; otherwise its earliest timer.
#[derive(Debug)]
pub struct Association {
    config: Config,
    rng: SeededRng,
    key: [u8; 32],
    now: Instant,
    state: State,
    ended: bool,
    close_reason: Option<CloseReason>,
    my_tag: u32,
    my_initial_tsn: u32,
    peer: Peer,
    /// The cookie from the peer's INIT-ACK, echoed until COOKIE-ACK.
    cookie: Vec<u8>,
    /// The Cookie Preservative to put in our INIT after a Stale Cookie error (§5.2.6), in milliseconds.
    cookie_preservative: Option<u32>,
    /// When the COOKIE-ECHO was last sent, and how many Stale Cookie errors we have retried after.
    cookie_sent: Instant,
    stale_retries: u32,
    /// Unrecognized parameters of the peer's INIT-ACK (reported with the COOKIE-ECHO), bounded.
    unrecognized_params: Vec<u8>,
    zero_checksum_tx: bool,
    outbound_streams: u16,
    inbound_streams: u16,
    init_retries: u32,
    t1_rto: Duration,
    error_count: u32,
    srtt: Option<Duration>,
    rttvar: Duration,
    rto: Duration,
    timers: Timers<Timer, N_TIMERS>,
    pub(super) send: SendState,
    pub(super) recv: RecvState,
    owed: Owed,
    /// Set by every call that may have made a packet owed (including [`Machine::poll_event`] when taking a
    /// message reopens the window); cleared when [`DatagramMachine::poll_transmit`] returns `None`. While
    /// set, [`Machine::poll_timeout`] returns `now`.
    output_pending: bool,
    sack_owed: bool,
    packets_since_sack: u32,
    last_rwnd: u32,
    heartbeat_nonce: Option<u64>,
    echo: Vec<u8>,
    unrecognized: Vec<u8>,
    pub(super) reset_queue: Vec<u16>,
    pub(super) reset_inflight: Option<ResetRequest>,
    pub(super) next_reset_seq: u32,
    pub(super) peer_reset_seq: u32,
    pub(super) last_reset_result: u32,
    pub(super) deferred_reset: Option<DeferredReset>,
    pub(super) reset_response: Option<(u32, u32)>,
    out: OutQueue<()>,
    tx: Vec<u8>,
    gaps: Vec<(u16, u16)>,
    dups: Vec<u32>,
    fwd_streams: Vec<(u16, u16)>,
    pub(super) events: EventQueue<Event>,
    stats: Stats,
}

impl Association {
    /// A new association in the CLOSED state: it answers INITs; call [`Association::connect`] to initiate.
    /// Tags, initial TSNs and the cookie key come from `rng`.
    pub fn new(config: Config, mut rng: SeededRng) -> Self {
        let key = rng.bytes();
        let mut config = config;
        config.mtu = config.mtu.clamp(256, 65535);
        // RTO.Max below RTO.Min would make every RTT sample's clamp meaningless (and `clamp` panic):
        // the larger bound wins.
        config.rto_max = config.rto_max.max(config.rto_min);
        let window = (config.receive_window as usize).max(config.max_message_size).max(1500);
        config.receive_window = u32::try_from(window).unwrap_or(u32::MAX);
        Association {
            rng,
            key,
            now: Instant::ZERO,
            state: State::Closed,
            ended: false,
            close_reason: None,
            my_tag: 0,
            my_initial_tsn: 0,
            peer: Peer::default(),
            cookie: Vec::new(),
            cookie_preservative: None,
            cookie_sent: Instant::ZERO,
            stale_retries: 0,
            unrecognized_params: Vec::new(),
            zero_checksum_tx: false,
            outbound_streams: config.outbound_streams,
            inbound_streams: config.max_inbound_streams,
            init_retries: 0,
            t1_rto: config.rto_initial,
            error_count: 0,
            srtt: None,
            rttvar: Duration::ZERO,
            rto: config.rto_initial,
            timers: Timers::default(),
            send: SendState::new(config.mtu),
            recv: RecvState::new(window, config.max_message_size),
            owed: Owed::default(),
            output_pending: false,
            sack_owed: false,
            packets_since_sack: 0,
            last_rwnd: config.receive_window,
            heartbeat_nonce: None,
            echo: Vec::new(),
            unrecognized: Vec::new(),
            reset_queue: Vec::new(),
            reset_inflight: None,
            next_reset_seq: 0,
            peer_reset_seq: 0,
            last_reset_result: 0,
            deferred_reset: None,
            reset_response: None,
            out: OutQueue::new(OUT_LIMIT),
            tx: Vec::with_capacity(config.mtu),
            gaps: Vec::new(),
            dups: Vec::new(),
            fwd_streams: Vec::new(),
            events: EventQueue::new(EVENT_LIMIT),
            stats: Stats::default(),
            config,
        }
    }

    /// Starts the handshake: sends INIT and arms T1-init. Harmless if already connecting or connected.
    pub fn connect(&mut self, now: Instant) {
        self.touch(now);
        if self.state != State::Closed || self.ended {
            return;
        }
        self.my_tag = self.nonzero_tag();
        self.my_initial_tsn = self.rng.u32();
        self.state = State::CookieWait;
        self.owed.init = true;
        self.output_pending = true;
        self.t1_rto = self.config.rto_initial;
        self.timers.set(Timer::T1Init, self.now + self.t1_rto);
        tracing::debug!(target: TARGET, tag = self.my_tag, "sending INIT");
    }

    /// Queues a message on `stream`. Messages larger than [`Config::max_message_size`] are refused with
    /// [`SendError::TooLarge`], and messages beyond [`Config::send_buffer`] with [`SendError::BufferFull`].
    /// Before the association is established messages are queued too (within the same bound) and go out,
    /// in order, once it is; messages on streams beyond the negotiated count are then dropped, and PR-SCTP
    /// options are dropped if the peer does not support PR-SCTP. Then drain output
    /// ([`DatagramMachine::poll_transmit`]).
    pub fn send(
        &mut self,
        now: Instant,
        stream: u16,
        ppid: u32,
        data: Bytes,
        options: SendOptions,
    ) -> Result<(), SendError> {
        self.queue_message(now, stream, ppid, data, options, true)
    }

    /// [`Association::send`] for a control message of the layer above (a data channel's DCEP): it counts
    /// against the send buffer but not in the stream's [`Association::buffered_amount`], which W3C's
    /// `bufferedAmount` limits to application data.
    pub(crate) fn send_control(&mut self, now: Instant, stream: u16, ppid: u32, data: Bytes) -> Result<(), SendError> {
        self.queue_message(now, stream, ppid, data, SendOptions::default(), false)
    }

    fn queue_message(
        &mut self,
        now: Instant,
        stream: u16,
        ppid: u32,
        data: Bytes,
        options: SendOptions,
        counted: bool,
    ) -> Result<(), SendError> {
        self.touch(now);
        if data.is_empty() {
            return Err(SendError::Empty);
        }
        if data.len() > self.config.max_message_size {
            return Err(SendError::TooLarge);
        }
        if self.state > State::Established || self.ended {
            return Err(SendError::NotConnected);
        }
        if stream >= self.outbound_streams {
            return Err(SendError::InvalidStream);
        }
        if self.send.stream(stream).is_some_and(|s| s.resetting) {
            return Err(SendError::StreamClosing);
        }
        if self.send.buffered + data.len() > self.config.send_buffer || self.send.queued >= MAX_QUEUED_MESSAGES {
            return Err(SendError::BufferFull);
        }
        let mut options = options;
        if self.state == State::Established && self.peer.features & F_FORWARD_TSN == 0 {
            // Without PR-SCTP at the peer, abandoning would stall it: send reliably.
            options.max_retransmits = None;
            options.max_lifetime = None;
        }
        self.send.queue(self.now, stream, ppid, data, options, counted);
        if self.state == State::Established {
            self.output_pending = true;
        }
        Ok(())
    }

    /// Starts a graceful shutdown (RFC 9260 §9.2): outstanding data is delivered, then SHUTDOWN is sent.
    /// Before the association is established this aborts instead.
    pub fn shutdown(&mut self, now: Instant) {
        self.touch(now);
        match self.state {
            State::Established => {
                self.state = State::ShutdownPending;
                self.check_shutdown();
                self.output_pending = true;
            }
            State::CookieWait | State::CookieEchoed => self.abort(now),
            _ => {}
        }
    }

    /// Aborts the association: sends ABORT (when the peer is known) and ends at once with
    /// [`CloseReason::LocalAbort`].
    pub fn abort(&mut self, now: Instant) {
        self.touch(now);
        if self.ended {
            return;
        }
        if self.peer.tag != 0 {
            self.owed.abort = Some(CauseCode::USER_ABORT);
            self.output_pending = true;
        }
        self.end(CloseReason::LocalAbort);
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Whether data can be sent.
    pub fn is_established(&self) -> bool {
        self.state == State::Established && !self.ended
    }

    /// Why the association ended, once it has (the reason its [`Event::Closed`] carries).
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.close_reason
    }

    /// Whether the association has ended (see [`Association::close_reason`]).
    pub fn is_closed(&self) -> bool {
        self.ended
    }

    /// Bytes queued on `stream` and not yet acknowledged (the data channel `bufferedAmount`).
    pub fn buffered_amount(&self, stream: u16) -> usize {
        self.send.stream_buffered(stream)
    }

    /// Sets the scheduling weight of outgoing `stream`: streams with queued data share the link in proportion
    /// to their priorities (weighted fair queueing over messages). Data channels use their priority (RFC 8831
    /// §6.4: 128 below normal, 256 normal, 512 high, 1024 extra high); streams default to 256. A priority of
    /// 0 counts as 1. Takes effect from the stream's next message.
    pub fn set_stream_priority(&mut self, stream: u16, priority: u16) {
        self.send.set_priority(stream, priority);
    }

    /// The scheduling weight of outgoing `stream` (see [`Association::set_stream_priority`]).
    pub fn stream_priority(&self, stream: u16) -> u16 {
        self.send.priority(stream)
    }

    /// Gives back buffers kept for reuse (packet buffers, queues) if nothing is queued, in flight or
    /// waiting to be polled: for an application that holds many idle associations. The next packet
    /// allocates them again. Call it between polls (it releases the last packet returned by
    /// [`DatagramMachine::poll_transmit`]).
    pub fn trim(&mut self) {
        if !self.out.is_empty() || !self.send.idle() || self.events.len() > 0 {
            return;
        }
        self.out.trim();
        self.tx = Vec::new();
        self.send.trim();
        self.events.trim();
    }

    /// Bytes queued on all streams and not yet acknowledged.
    pub fn buffered_total(&self) -> usize {
        self.send.buffered
    }

    /// Negotiated outbound stream count.
    pub fn outbound_streams(&self) -> u16 {
        self.outbound_streams
    }

    /// Negotiated inbound stream count.
    pub fn inbound_streams(&self) -> u16 {
        self.inbound_streams
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether packets we send carry a zero checksum (both sides advertised RFC 9653).
    pub fn zero_checksum_in_use(&self) -> bool {
        self.zero_checksum_tx
    }

    /// Whether the peer supports PR-SCTP (FORWARD-TSN).
    pub fn peer_supports_forward_tsn(&self) -> bool {
        self.peer.features & F_FORWARD_TSN != 0
    }

    /// Whether the peer supports stream reconfiguration.
    pub fn peer_supports_reconfig(&self) -> bool {
        self.peer.features & F_RECONFIG != 0
    }

    /// The current retransmission timeout.
    pub fn rto(&self) -> Duration {
        self.rto
    }

    /// The congestion window in bytes.
    pub fn cwnd(&self) -> usize {
        self.send.cwnd
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        let mut s = self.stats;
        s.retransmissions = self.send.retransmissions;
        s.fast_retransmits = self.send.fast_retransmits;
        s.abandoned = self.send.abandoned;
        s.discarded = self.recv.discarded;
        s
    }

    /// The latest instant given to any call.
    pub(crate) fn now(&self) -> Instant {
        self.now
    }

    pub(super) fn touch(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    /// Notes that a packet may now be owed: [`Machine::poll_timeout`] returns `now` until
    /// [`DatagramMachine::poll_transmit`] has been drained.
    pub(super) fn owe_output(&mut self) {
        self.output_pending = true;
    }

    fn nonzero_tag(&mut self) -> u32 {
        loop {
            let t = self.rng.u32();
            if t != 0 {
                return t;
            }
        }
    }

    pub(super) fn push_event(&mut self, e: Event) {
        if !self.events.push(e) {
            tracing::debug!(target: TARGET, "event queue full, event dropped");
        }
    }

    fn end(&mut self, reason: CloseReason) {
        if self.ended {
            return;
        }
        tracing::debug!(target: TARGET, ?reason, "association closed");
        self.ended = true;
        self.close_reason = Some(reason);
        self.state = State::Closed;
        self.timers.clear_all();
        self.push_event(Event::Closed(reason));
    }

    fn protocol_abort(&mut self, cause: CauseCode, error: Error) -> Error {
        self.owed.abort = Some(cause);
        self.end(CloseReason::ProtocolViolation(error));
        error
    }

    fn rtt_sample(&mut self, r: Duration) {
        // RFC 9260 §6.3.1 (alpha 1/8, beta 1/4).
        match self.srtt {
            None => {
                self.srtt = Some(r);
                self.rttvar = r / 2;
            }
            Some(srtt) => {
                let diff = srtt.abs_diff(r);
                self.rttvar = (self.rttvar * 3 + diff) / 4;
                self.srtt = Some((srtt * 7 + r) / 8);
            }
        }
        let rto = self.srtt.unwrap_or(r) + self.rttvar * 4;
        self.rto = rto.clamp(self.config.rto_min, self.config.rto_max);
    }

    fn back_off(&mut self) {
        self.rto = (self.rto * 2).min(self.config.rto_max);
    }

    fn arm_heartbeat(&mut self) {
        let jitter = self.rng.duration_between(Duration::ZERO, self.rto);
        let at = self.now + self.config.heartbeat_interval + self.rto / 2 + jitter;
        self.timers.set(Timer::Heartbeat, at);
    }

    /// Queues a packet holding one ERROR chunk with one cause, with verification tag `vtag` (used before or
    /// outside an association, e.g. for a stale cookie, §5.2.6).
    fn queue_error(&mut self, vtag: u32, cause: CauseCode, body: &[u8]) {
        let (src, dst) = (self.config.local_port, self.config.remote_port);
        let queued = self.out.push_with((), |buf| {
            wire::emit_header(buf, src, dst, vtag);
            let len = u16::try_from(body.len() + 4).unwrap_or(u16::MAX);
            wire::emit_chunk_header(buf, ChunkType::ERROR, 0, body.len() + 4);
            buf.extend_from_slice(&cause.0.to_be_bytes());
            buf.extend_from_slice(&len.to_be_bytes());
            buf.extend_from_slice(body);
            wire::finish_packet(buf, false);
            Ok::<(), Error>(())
        });
        if !matches!(queued, Ok(true)) {
            tracing::debug!(target: TARGET, "ERROR dropped: output queue full");
        }
    }

    fn on_data(&mut self, chunk: &DataChunk<'_>) -> Result<(), Error> {
        if !matches!(self.state, State::Established | State::ShutdownPending | State::ShutdownSent) {
            return Ok(());
        }
        if chunk.payload.is_empty() {
            return Err(self.protocol_abort(CauseCode::NO_USER_DATA, Error::NoUserData));
        }
        self.sack_owed = true;
        if chunk.flags.immediate() {
            self.owed.sack = true;
        }
        if self.events.len() > EVENT_LIMIT / 2 {
            self.stats.data_dropped += 1;
            return Err(Error::ReceiveBufferFull);
        }
        let inbound = self.inbound_streams;
        let events = &mut self.events;
        let mut bad_bytes = 0;
        let result = self.recv.on_data(chunk, &mut |m: Message| {
            if m.stream >= inbound {
                bad_bytes += m.data.len();
            } else {
                events.push(Event::Message(m));
            }
        });
        // Messages on streams beyond the negotiated count never reach the application (§6.5).
        self.recv.consumed(bad_bytes);
        if chunk.stream >= inbound {
            // §6.5: acknowledged, discarded, and reported to the peer with an ERROR.
            self.owed.invalid_stream = Some(chunk.stream);
            return Err(Error::InvalidStream);
        }
        match result {
            Accept::New => Ok(()),
            Accept::Duplicate => {
                self.stats.duplicates += 1;
                self.owed.sack = true;
                Ok(())
            }
            Accept::Dropped => {
                self.stats.data_dropped += 1;
                self.owed.sack = true;
                Err(if self.recv.held >= self.recv.window { Error::ReceiveBufferFull } else { Error::TsnOutOfWindow })
            }
        }
    }

    fn check_shutdown(&mut self) {
        if !self.send.idle() {
            return;
        }
        match self.state {
            State::ShutdownPending => {
                self.state = State::ShutdownSent;
                self.owed.shutdown = true;
                self.timers.set(Timer::T2Shutdown, self.now + self.rto);
            }
            State::ShutdownReceived => {
                self.state = State::ShutdownAckSent;
                self.owed.shutdown_ack = true;
                self.timers.set(Timer::T2Shutdown, self.now + self.rto);
            }
            _ => {}
        }
    }

    fn receive(&mut self, datagram: &[u8]) -> Result<(), Error> {
        if self.ended {
            return Err(Error::Closed);
        }
        let packet = Packet::new_checked(datagram)?;
        let first = match packet.chunks().next() {
            Some(Ok(c)) => c,
            Some(Err(e)) => return Err(e.into()),
            None => return Err(WireError::Truncated.into()),
        };
        let is_init = first.kind == ChunkType::INIT;
        let zero_ok = self.config.zero_checksum && !is_init && packet.checksum() == 0;
        if !cfg!(fuzzing) && !zero_ok && !packet.checksum_ok() {
            self.stats.bad_checksum += 1;
            return Err(WireError::BadChecksum.into());
        }
        if packet.destination_port() != self.config.local_port {
            return Err(Error::BadVerificationTag);
        }
        let vtag = packet.verification_tag();
        let own_tag = self.my_tag != 0 && vtag == self.my_tag;
        let tag_ok = match first.kind {
            ChunkType::INIT | ChunkType::COOKIE_ECHO => true, // Checked by their handlers.
            ChunkType::ABORT | ChunkType::SHUTDOWN_COMPLETE if first.flags & 1 != 0 => {
                self.peer.tag != 0 && vtag == self.peer.tag
            }
            _ => own_tag,
        };
        if !tag_ok {
            self.stats.bad_verification_tag += 1;
            return Err(Error::BadVerificationTag);
        }
        self.stats.packets_received += 1;
        let mut had_data = false;
        let mut result = Ok(());
        for (i, raw) in packet.chunks().enumerate() {
            let raw = raw?;
            let chunk = Chunk::parse(raw)?;
            let r = match chunk {
                Chunk::Init(init) => {
                    if i != 0 || packet.chunks().count() != 1 {
                        return Err(Error::BadInit);
                    }
                    self.on_init(&init, vtag)
                }
                Chunk::InitAck(init) => {
                    if i != 0 {
                        return Err(Error::BadInit);
                    }
                    self.on_init_ack(&init)
                }
                Chunk::CookieEcho(c) => {
                    if i != 0 {
                        return Err(Error::UnexpectedChunk);
                    }
                    self.on_cookie_echo(c, vtag)
                }
                Chunk::CookieAck => {
                    if self.state == State::CookieEchoed {
                        let (tag, itsn, peer) = (self.my_tag, self.my_initial_tsn, self.peer);
                        self.establish(peer, tag, itsn);
                    }
                    Ok(())
                }
                Chunk::Data(d) => {
                    had_data = true;
                    self.on_data(&d)
                }
                Chunk::Sack(s) => self.on_sack(&s),
                Chunk::Heartbeat(info) => {
                    if self.state != State::Closed && info.len() <= MAX_ECHO {
                        self.echo.clear();
                        self.echo.extend_from_slice(info);
                        self.owed.heartbeat_ack = true;
                    }
                    Ok(())
                }
                Chunk::HeartbeatAck(info) => {
                    self.on_heartbeat_ack(info);
                    Ok(())
                }
                Chunk::Abort { .. } => {
                    self.end(CloseReason::PeerAbort);
                    return Ok(());
                }
                Chunk::Shutdown(cum) => {
                    self.on_shutdown(cum);
                    Ok(())
                }
                Chunk::ShutdownAck => {
                    if matches!(self.state, State::ShutdownSent | State::ShutdownAckSent) {
                        self.owed.shutdown_complete = true;
                        self.end(CloseReason::Shutdown);
                        return Ok(());
                    }
                    Ok(())
                }
                Chunk::ShutdownComplete(_) => {
                    if self.state == State::ShutdownAckSent {
                        self.end(CloseReason::Shutdown);
                        return Ok(());
                    }
                    Ok(())
                }
                Chunk::Error(causes) => {
                    for c in causes.flatten() {
                        tracing::debug!(target: TARGET, code = c.code.0, "peer reported an error");
                        if c.code == CauseCode::STALE_COOKIE && self.state == State::CookieEchoed {
                            // Without its 4-byte measure of staleness the cause is malformed: ignored.
                            if let Ok(micros) = wire::be32(c.info, 0) {
                                self.on_stale_cookie(micros);
                            }
                        }
                    }
                    Ok(())
                }
                Chunk::ForwardTsn(f) => {
                    if self.state >= State::Established {
                        let inbound = self.inbound_streams;
                        let events = &mut self.events;
                        let mut bad_bytes = 0;
                        if self.recv.on_forward_tsn(f.new_cumulative_tsn, f.streams(), &mut |m: Message| {
                            if m.stream < inbound {
                                events.push(Event::Message(m));
                            } else {
                                bad_bytes += m.data.len();
                            }
                        }) {
                            self.sack_owed = true;
                        }
                        self.recv.consumed(bad_bytes);
                        self.owed.sack = true;
                    }
                    Ok(())
                }
                Chunk::Reconfig(params) => self.on_reconfig(params),
                Chunk::Unknown(raw) => {
                    let (skip, report) = raw.kind.unknown_action();
                    if report && raw.value.len() + 4 <= MAX_ECHO {
                        self.unrecognized.clear();
                        wire::emit_chunk(&mut self.unrecognized, raw.kind, raw.flags, raw.value);
                        self.owed.unrecognized = true;
                    }
                    if !skip {
                        result = Err(Error::UnknownChunk);
                        break;
                    }
                    Ok(())
                }
            };
            if let Err(e) = r {
                if self.ended {
                    return Err(e);
                }
                result = Err(e);
                // A DATA chunk refused on its own merits leaves the rest of the packet alone; any other bad
                // chunk spoils the rest.
                if !matches!(e, Error::InvalidStream | Error::ReceiveBufferFull | Error::TsnOutOfWindow) {
                    break;
                }
            }
        }
        if had_data {
            self.after_data();
        }
        self.check_deferred_reset();
        result
    }

    fn after_data(&mut self) {
        self.packets_since_sack += 1;
        // §6.2: ack every second packet at once, and at once while there are gaps (§6.7) or while shutting
        // down; otherwise within the delayed-ack time.
        if self.packets_since_sack >= 2
            || self.recv.has_gaps()
            || matches!(self.state, State::ShutdownSent | State::ShutdownReceived)
        {
            self.owed.sack = true;
        } else if self.timers.get(Timer::DelayedAck).is_none() {
            self.timers.set(Timer::DelayedAck, self.now + self.config.delayed_ack);
        }
    }

    fn on_sack(&mut self, sack: &wire::SackChunk<'_>) -> Result<(), Error> {
        if self.state < State::Established {
            return Ok(());
        }
        let out = self.send.on_sack(self.now, sack);
        if out.invalid {
            return Err(self.protocol_abort(CauseCode::PROTOCOL_VIOLATION, Error::InvalidAck));
        }
        if let Some(r) = out.rtt {
            self.rtt_sample(r);
        }
        if out.advanced {
            self.error_count = 0;
            if self.send.outstanding() {
                self.timers.set(Timer::T3Rtx, self.now + self.rto);
            }
        }
        if !self.send.outstanding() {
            self.timers.clear(Timer::T3Rtx);
        }
        self.check_shutdown();
        Ok(())
    }

    fn on_shutdown(&mut self, cum: u32) {
        match self.state {
            State::Established | State::ShutdownPending => {
                self.send.ack_cumulative(cum);
                self.state = State::ShutdownReceived;
                self.check_shutdown();
            }
            State::ShutdownSent => {
                // §9.2: both sides shut down at once.
                self.state = State::ShutdownAckSent;
                self.owed.shutdown_ack = true;
                self.timers.set(Timer::T2Shutdown, self.now + self.rto);
            }
            _ => {}
        }
    }

    fn on_heartbeat_ack(&mut self, info: &[u8]) {
        // Our info: a Heartbeat Info parameter holding a nonce and the send time.
        let Some(Ok(p)) = wire::Params::new(info).next() else { return };
        if p.kind != ParamType::HEARTBEAT_INFO || p.value.len() != 16 {
            return;
        }
        let (Ok(nonce_hi), Ok(nonce_lo), Ok(sent_hi), Ok(sent_lo)) =
            (wire::be32(p.value, 0), wire::be32(p.value, 4), wire::be32(p.value, 8), wire::be32(p.value, 12))
        else {
            return;
        };
        let nonce = u64::from(nonce_hi) << 32 | u64::from(nonce_lo);
        let sent = u64::from(sent_hi) << 32 | u64::from(sent_lo);
        if self.heartbeat_nonce != Some(nonce) {
            return;
        }
        self.heartbeat_nonce = None;
        self.error_count = 0;
        self.rtt_sample(self.now.saturating_duration_since(Instant::from_nanos(sent)));
        self.arm_heartbeat();
    }

    fn on_timer(&mut self, timer: Timer) {
        match timer {
            Timer::T1Init | Timer::T1Cookie => {
                self.init_retries += 1;
                if self.init_retries > self.config.max_init_retransmits {
                    self.end(CloseReason::HandshakeTimeout);
                    return;
                }
                self.t1_rto = (self.t1_rto * 2).min(self.config.rto_max);
                if timer == Timer::T1Init && self.state == State::CookieWait {
                    self.owed.init = true;
                } else if timer == Timer::T1Cookie && self.state == State::CookieEchoed {
                    self.owed.cookie_echo = true;
                } else {
                    return;
                }
                self.timers.set(timer, self.now + self.t1_rto);
            }
            Timer::T2Shutdown => {
                self.error_count += 1;
                if self.error_count > self.config.max_retransmits {
                    self.owed.abort = Some(CauseCode::PROTOCOL_VIOLATION);
                    self.end(CloseReason::Unreachable);
                    return;
                }
                self.back_off();
                match self.state {
                    State::ShutdownSent => self.owed.shutdown = true,
                    State::ShutdownAckSent => self.owed.shutdown_ack = true,
                    _ => return,
                }
                self.timers.set(Timer::T2Shutdown, self.now + self.rto);
            }
            Timer::T3Rtx => {
                if !self.send.outstanding() {
                    return;
                }
                self.error_count += 1;
                self.stats.t3_expiries += 1;
                if self.error_count > self.config.max_retransmits {
                    self.end(CloseReason::Unreachable);
                    return;
                }
                self.back_off();
                self.send.on_t3_expiry(self.now);
                self.timers.set(Timer::T3Rtx, self.now + self.rto);
            }
            Timer::DelayedAck => {
                if self.sack_owed {
                    self.owed.sack = true;
                }
            }
            Timer::Heartbeat => {
                if self.state < State::Established {
                    return;
                }
                if self.heartbeat_nonce.is_some() {
                    // §8.3: an unanswered HEARTBEAT counts as an error and backs the RTO off.
                    self.error_count += 1;
                    self.back_off();
                    if self.error_count > self.config.max_retransmits {
                        self.end(CloseReason::Unreachable);
                        return;
                    }
                }
                let nonce = self.rng.u64();
                let mut info = [0u8; 16];
                info[..8].copy_from_slice(&nonce.to_be_bytes());
                info[8..].copy_from_slice(&self.now.as_nanos().to_be_bytes());
                self.heartbeat_nonce = Some(nonce);
                self.owed.heartbeat = Some(info);
                self.timers.set(Timer::Heartbeat, self.now + self.rto);
            }
            Timer::Reconfig => {
                if let Some(r) = self.reset_inflight.as_mut() {
                    r.resend = true;
                    self.back_off();
                    self.timers.set(Timer::Reconfig, self.now + self.rto);
                }
            }
        }
    }

    /// Builds the next packet into `self.tx`. Returns whether there is one.
    fn build(&mut self) -> bool {
        let now = self.now;
        let (src, dst) = (self.config.local_port, self.config.remote_port);
        self.tx.clear();
        self.tx.reserve(self.config.mtu);
        if let Some(cause) = self.owed.abort.take() {
            wire::emit_header(&mut self.tx, src, dst, self.peer.tag);
            let mut value = [0u8; 4];
            value[..2].copy_from_slice(&cause.0.to_be_bytes());
            value[2..].copy_from_slice(&4u16.to_be_bytes());
            wire::emit_chunk(&mut self.tx, ChunkType::ABORT, 0, &value);
            wire::finish_packet(&mut self.tx, self.zero_checksum_tx);
            return true;
        }
        if self.owed.shutdown_complete {
            self.owed.shutdown_complete = false;
            wire::emit_header(&mut self.tx, src, dst, self.peer.tag);
            wire::emit_chunk(&mut self.tx, ChunkType::SHUTDOWN_COMPLETE, 0, &[]);
            wire::finish_packet(&mut self.tx, self.zero_checksum_tx);
            return true;
        }
        if self.ended {
            return false;
        }
        if self.owed.init {
            self.owed.init = false;
            wire::emit_header(&mut self.tx, src, dst, 0);
            let mut fields = self.init_fields(self.my_tag, self.my_initial_tsn);
            fields.cookie_preservative = self.cookie_preservative;
            wire::emit_init(&mut self.tx, ChunkType::INIT, &fields);
            wire::finish_packet(&mut self.tx, false);
            return true;
        }
        wire::emit_header(&mut self.tx, src, dst, self.peer.tag);
        if self.owed.cookie_echo {
            self.owed.cookie_echo = false;
            wire::emit_chunk(&mut self.tx, ChunkType::COOKIE_ECHO, 0, &self.cookie);
            self.cookie_sent = now;
            // §3.2.1: report the INIT-ACK's unrecognised parameters, bundled after the COOKIE ECHO.
            if self.owed.unrecognized_params {
                self.owed.unrecognized_params = false;
                let n = self.unrecognized_params.len();
                if self.tx.len() + n + 8 <= self.config.mtu {
                    let len = u16::try_from(n + 4).unwrap_or(u16::MAX);
                    wire::emit_chunk_header(&mut self.tx, ChunkType::ERROR, 0, n + 4);
                    self.tx.extend_from_slice(&CauseCode::UNRECOGNIZED_PARAMETERS.0.to_be_bytes());
                    self.tx.extend_from_slice(&len.to_be_bytes());
                    self.tx.extend_from_slice(&self.unrecognized_params);
                }
            }
            wire::finish_packet(&mut self.tx, false);
            return true;
        }
        if self.state < State::Established {
            return false;
        }
        let mtu = self.config.mtu;
        if self.owed.cookie_ack {
            self.owed.cookie_ack = false;
            wire::emit_chunk(&mut self.tx, ChunkType::COOKIE_ACK, 0, &[]);
        }
        if self.owed.shutdown_ack {
            self.owed.shutdown_ack = false;
            wire::emit_chunk(&mut self.tx, ChunkType::SHUTDOWN_ACK, 0, &[]);
        }
        let has_more_data = self.send.to_retransmit > 0 || self.send.has_pending();
        if self.owed.sack || (self.sack_owed && has_more_data) {
            self.emit_sack();
        }
        if self.owed.shutdown {
            self.owed.shutdown = false;
            let cum = self.recv.cumulative_tsn();
            wire::emit_chunk(&mut self.tx, ChunkType::SHUTDOWN, 0, &cum.to_be_bytes());
        }
        if self.owed.heartbeat_ack && self.tx.len() + self.echo.len() + 4 <= mtu {
            self.owed.heartbeat_ack = false;
            wire::emit_chunk(&mut self.tx, ChunkType::HEARTBEAT_ACK, 0, &self.echo);
        }
        if let Some(info) = self.owed.heartbeat.take() {
            let mut value = [0u8; 20];
            value[..2].copy_from_slice(&ParamType::HEARTBEAT_INFO.0.to_be_bytes());
            value[2..4].copy_from_slice(&20u16.to_be_bytes());
            value[4..].copy_from_slice(&info);
            wire::emit_chunk(&mut self.tx, ChunkType::HEARTBEAT, 0, &value);
        }
        if self.owed.cookie_while_shutting_down {
            self.owed.cookie_while_shutting_down = false;
            let mut value = [0u8; 4];
            value[..2].copy_from_slice(&CauseCode::COOKIE_WHILE_SHUTTING_DOWN.0.to_be_bytes());
            value[2..4].copy_from_slice(&4u16.to_be_bytes());
            wire::emit_chunk(&mut self.tx, ChunkType::ERROR, 0, &value);
        }
        if let Some(stream) = self.owed.invalid_stream.take() {
            let mut value = [0u8; 8];
            value[..2].copy_from_slice(&CauseCode::INVALID_STREAM.0.to_be_bytes());
            value[2..4].copy_from_slice(&8u16.to_be_bytes());
            value[4..6].copy_from_slice(&stream.to_be_bytes());
            wire::emit_chunk(&mut self.tx, ChunkType::ERROR, 0, &value);
        }
        if self.owed.unrecognized && self.tx.len() + self.unrecognized.len() + 8 <= mtu {
            self.owed.unrecognized = false;
            wire::emit_chunk_header(&mut self.tx, ChunkType::ERROR, 0, self.unrecognized.len() + 4);
            let len = u16::try_from(self.unrecognized.len() + 4).unwrap_or(u16::MAX);
            self.tx.extend_from_slice(&CauseCode::UNRECOGNIZED_CHUNK.0.to_be_bytes());
            self.tx.extend_from_slice(&len.to_be_bytes());
            self.tx.extend_from_slice(&self.unrecognized);
        }
        if self.send.forward_tsn_due && self.peer_supports_forward_tsn() {
            self.send.forward_tsn_due = false;
            let point = self.send.advanced_ack_point(&mut self.fwd_streams);
            if point != self.send.cum_acked && self.tx.len() + 8 + self.fwd_streams.len() * 4 <= mtu {
                wire::emit_forward_tsn(&mut self.tx, point, &self.fwd_streams);
                if self.timers.get(Timer::T3Rtx).is_none() {
                    self.timers.set(Timer::T3Rtx, now + self.rto);
                }
            }
        }
        self.emit_reconfig();
        // DATA: retransmissions first, then new fragments (bundled while they fit).
        let mut data = false;
        if matches!(self.state, State::Established | State::ShutdownPending | State::ShutdownReceived) {
            loop {
                let room = mtu.saturating_sub(self.tx.len());
                let idx = match self.send.next_retransmit(now, room) {
                    Some(i) => Some(i),
                    None if self.send.to_retransmit == 0 => self.send.next_fragment(now, room, !data),
                    None => None,
                };
                let Some(i) = idx else { break };
                if let Some(s) = self.send.sent.get(i) {
                    wire::emit_data(&mut self.tx, s.flags, s.tsn, s.stream, s.ssn, s.ppid, &s.data);
                    data = true;
                }
            }
            if data {
                self.send.fast_rtx_due = false;
                if self.timers.get(Timer::T3Rtx).is_none() {
                    self.timers.set(Timer::T3Rtx, now + self.rto);
                }
            }
        }
        if self.tx.len() == HEADER_LEN {
            return false;
        }
        wire::finish_packet(&mut self.tx, self.zero_checksum_tx);
        self.stats.packets_sent += 1;
        true
    }

    fn emit_sack(&mut self) {
        self.recv.take_dups(&mut self.dups);
        // RFC 9260 §6.2: as many gap blocks as fit in the packet, the lowest first (§6.7).
        let room = self.config.mtu.saturating_sub(self.tx.len() + 16 + self.dups.len() * 4) / 4;
        self.recv.sack_blocks(&mut self.gaps, room);
        let rwnd = self.recv.a_rwnd();
        wire::emit_sack(&mut self.tx, self.recv.cumulative_tsn(), rwnd, &self.gaps, &self.dups);
        self.last_rwnd = rwnd;
        self.owed.sack = false;
        self.sack_owed = false;
        self.packets_since_sack = 0;
        self.timers.clear(Timer::DelayedAck);
    }

    pub(super) fn outbound_tsn_cut(&self) -> u32 {
        self.send.next_tsn.wrapping_sub(1)
    }

    pub(super) fn received_up_to(&self, tsn: u32) -> bool {
        tsn_le(tsn, self.recv.cumulative_tsn())
    }

    pub(super) fn tx_mut(&mut self) -> &mut Vec<u8> {
        &mut self.tx
    }

    pub(super) fn mtu(&self) -> usize {
        self.config.mtu
    }

    pub(super) fn arm_reconfig_timer(&mut self) {
        self.timers.set(Timer::Reconfig, self.now + self.rto);
    }

    pub(super) fn clear_reconfig_timer(&mut self) {
        self.timers.clear(Timer::Reconfig);
    }

    pub(super) fn is_ended(&self) -> bool {
        self.ended
    }
}

impl Machine for Association {
    type Event = Event;

    fn handle_timeout(&mut self, now: Instant) {
        self.touch(now);
        while let Some(t) = self.timers.pop_due(self.now) {
            self.on_timer(t);
            self.output_pending = true;
        }
    }

    /// The next event. Taking a [`Event::Message`] frees its bytes in the receive window; when the window has
    /// opened by a quarter (or an MTU) since the last SACK, a window update (SACK) becomes owed (RFC 9260
    /// §6.2), and [`Machine::poll_timeout`] says so by returning `now`. No other event owes anything.
    fn poll_event(&mut self) -> Option<Event> {
        let e = self.events.pop()?;
        if let Event::Message(m) = &e {
            self.recv.consumed(m.data.len());
            // Tell the peer when the window has opened substantially since the last SACK.
            let rwnd = self.recv.a_rwnd();
            if self.state >= State::Established
                && rwnd > self.last_rwnd
                && rwnd - self.last_rwnd >= (self.config.receive_window / 4).max(self.config.mtu as u32)
            {
                self.owed.sack = true;
                self.output_pending = true;
            }
        }
        Some(e)
    }

    /// The earliest timer, or `now` (the latest instant given) while a packet may be owed: after any call
    /// that queued output (a `handle_*`, [`Association::send`], a window update from `poll_event`, …) until
    /// `poll_transmit` returns `None`.
    fn poll_timeout(&self) -> Option<Instant> {
        deadline(self.timers.next(), self.now, self.output_pending)
    }
}

impl DatagramMachine for Association {
    type Error = Error;

    fn handle_receive(&mut self, now: Instant, datagram: &[u8]) -> Result<(), Error> {
        self.touch(now);
        // Even a refused packet may owe an answer (an ERROR, a SACK, an ABORT).
        self.output_pending = true;
        let r = self.receive(datagram);
        if let Err(e) = r {
            self.stats.dropped += 1;
            tracing::trace!(target: TARGET, error = %e, "packet dropped");
        }
        r
    }

    fn poll_transmit(&mut self) -> Option<&[u8]> {
        if !self.out.is_empty() {
            return self.out.pop().map(|(_, b)| b);
        }
        if self.build() {
            Some(&self.tx)
        } else {
            self.output_pending = false;
            None
        }
    }
}

// The cookie length is a multiple of four so the INIT-ACK needs no padding inside it.
const _: () = assert!(COOKIE_LEN % 4 == 0);
