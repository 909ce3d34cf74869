//! WebRTC data channels (RFC 8831) with the Data Channel Establishment Protocol (RFC 8832), over an SCTP
//! [`Association`].
//!
//! [`DataChannels`] wraps an association and is itself a [`DatagramMachine`]: feed it the SCTP packets
//! (DTLS application data) with `handle_receive`, send what `poll_transmit` gives, fire `handle_timeout` at
//! `poll_timeout`, and drain `poll_event`, exactly as for the association. It needs nothing else of the peer
//! connection, so DTLS plus this layer is a complete data channel stack.
//!
//! Association events become channel events lazily, inside `poll_event`, and some of them owe the peer an
//! answer made right there: the DATA_CHANNEL_ACK for a peer's DATA_CHANNEL_OPEN, the reset of our outgoing
//! stream answering the peer's (RFC 8831 §6.7), the DATA_CHANNEL_OPEN of channels opened before the
//! association was up (on [`Event::Connected`]), and the SCTP window update when a message is taken. They
//! are made at the latest `now` the layer was given, and announced: after `poll_event` (even one returning
//! `None`), `poll_timeout` returns that instant until `poll_transmit` has returned `None`. So after draining
//! events, either sleep until `poll_timeout` (it is due at once) or simply drain `poll_transmit` again.
//!
//! Stream ids follow the DTLS role (RFC 8832 §6): the DTLS client opens even ids, the server odd ones.
//! A channel closes through an SCTP stream reset of both directions (RFC 8831 §6.7); both sides see
//! [`Event::ChannelClosed`].
//!
//! ```
//! use sansrtc::datachannel::{ChannelOptions, DataChannels, Event, Role};
//! use sansrtc::sctp::{Association, Config};
//! use sansrtc::{DatagramMachine, Instant, Machine, SeededRng};
//!
//! let now = Instant::ZERO;
//! let assoc = |seed| Association::new(Config::default(), SeededRng::from_seed([seed; 32]));
//! let mut client = DataChannels::new(assoc(1), Role::Client);
//! let mut server = DataChannels::new(assoc(2), Role::Server);
//! client.connect(now);
//! server.connect(now);
//! let mut pump = |c: &mut DataChannels, s: &mut DataChannels| {
//!     for _ in 0..6 {
//!         while let Some(p) = c.poll_transmit() { let p = p.to_vec(); let _ = s.handle_receive(now, &p); }
//!         while let Some(p) = s.poll_transmit() { let p = p.to_vec(); let _ = c.handle_receive(now, &p); }
//!     }
//! };
//! pump(&mut client, &mut server);
//! let id = client.open(now, ChannelOptions::new("chat")).unwrap();
//! assert_eq!(id % 2, 0);
//! client.send_text(now, id, "hi").unwrap();
//! pump(&mut client, &mut server);
//! let mut got = Vec::new();
//! while let Some(e) = server.poll_event() { got.push(e); }
//! assert!(got.iter().any(|e| matches!(e, Event::ChannelOpened { label, .. } if label == "chat")));
//! assert!(got.iter().any(|e| matches!(e, Event::Message { data, binary: false, .. } if &data[..] == b"hi")));
//! ```

mod error;
pub mod wire;

#[cfg(test)]
mod tests;

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::time::Duration;

use bytes::Bytes;

pub use error::Error;
use wire::{Dcep, channel_type};

use crate::machine::{DatagramMachine, Machine};
use crate::sctp::{self, Association, CloseReason, SendOptions};
use crate::time::Instant;
use crate::util::{EventQueue, VecMap};

const TARGET: &str = "sansrtc::datachannel";
const EVENT_LIMIT: usize = 1 << 17;

/// Which DTLS role this side has: it fixes the parity of the stream ids it opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// DTLS client: even stream ids.
    Client,
    /// DTLS server: odd stream ids.
    Server,
}

/// How a channel's messages are delivered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reliability {
    /// Every message arrives.
    #[default]
    Reliable,
    /// A message is abandoned after this many retransmissions.
    MaxRetransmits(u32),
    /// A message is abandoned this long after it was sent (millisecond precision on the wire).
    MaxLifetime(Duration),
}

/// Options for [`DataChannels::open`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelOptions {
    /// Label.
    pub label: String,
    /// Sub-protocol.
    pub protocol: String,
    /// In-order delivery.
    pub ordered: bool,
    /// Reliability.
    pub reliability: Reliability,
    /// Priority (RFC 8832 §5.1).
    pub priority: u16,
    /// A pre-agreed stream id: no DCEP, the channel is open at once (both sides must open it).
    pub negotiated: Option<u16>,
}

impl ChannelOptions {
    /// A reliable, ordered channel with `label`.
    pub fn new(label: &str) -> Self {
        ChannelOptions {
            label: label.to_string(),
            protocol: String::new(),
            ordered: true,
            reliability: Reliability::Reliable,
            priority: 256,
            negotiated: None,
        }
    }
}

/// A channel's lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelState {
    /// DATA_CHANNEL_OPEN sent, no ACK yet. The channel already carries messages (RFC 8832 §6); they go
    /// ordered until the ACK (or the peer's first message) arrives.
    Connecting,
    /// Open.
    Open,
    /// Stream reset under way.
    Closing,
}

/// What is known about one channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    /// Options it was opened with (for a remote channel: as the peer announced them).
    pub options: ChannelOptions,
    /// State.
    pub state: ChannelState,
    /// `bufferedAmountLowThreshold`.
    pub low_threshold: usize,
    above_threshold: bool,
    out_reset: bool,
    in_reset: bool,
    /// Opened before the association was up; announced on connection.
    waiting: bool,
    stats: ChannelStats,
}

impl Channel {
    /// Messages and payload bytes sent and received on the channel.
    pub fn stats(&self) -> ChannelStats {
        self.stats
    }
}

/// Messages and payload bytes of one channel, named after W3C `RTCDataChannelStats`: what the application
/// handed to [`DataChannels::send`] and what was delivered as [`Event::Message`] (empty messages count as
/// messages of 0 bytes; DCEP is not counted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ChannelStats {
    /// Messages accepted for sending (`messagesSent`).
    pub messages_sent: u64,
    /// Their payload bytes (`bytesSent`).
    pub bytes_sent: u64,
    /// Messages received (`messagesReceived`).
    pub messages_received: u64,
    /// Their payload bytes (`bytesReceived`).
    pub bytes_received: u64,
}

/// What the data channel layer reports.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The association is up; channels can be opened.
    Connected,
    /// A channel we opened can carry messages: its DATA_CHANNEL_OPEN is on its way, and messages may follow
    /// it at once (RFC 8832 §6; browsers report such a channel open without waiting for the ACK, which
    /// saves a round trip). Or a negotiated channel became usable.
    ChannelOpen(u16),
    /// The peer opened a channel.
    ChannelOpened {
        /// Stream id.
        id: u16,
        /// Label.
        label: String,
        /// Sub-protocol.
        protocol: String,
    },
    /// A message arrived.
    Message {
        /// Channel.
        id: u16,
        /// Contents (empty for the empty-message PPIDs).
        data: Bytes,
        /// Binary (PPID 53/57) rather than string (51/56).
        binary: bool,
    },
    /// The channel's buffered amount fell to or below its low threshold.
    BufferedAmountLow(u16),
    /// The channel closed (both directions reset, or the association ended).
    ChannelClosed(u16),
    /// The peer restarted the association (RFC 9260 §5.2.4): every channel was closed (with
    /// [`Event::ChannelClosed`] first); new channels can be opened.
    Restarted,
    /// The association ended.
    Closed(CloseReason),
}

/// Data channels over one SCTP association. See the [module docs](self).
#[derive(Debug)]
pub struct DataChannels {
    assoc: Association,
    role: Role,
    /// The latest instant given to any call (DCEP answers made while events are polled are sent at it).
    now: Instant,
    channels: VecMap<u16, Channel>,
    watch: Vec<u16>,
    events: EventQueue<Event>,
    scratch: Vec<u8>,
    dropped: u64,
    last_error: Option<Error>,
}

fn reliability_of(channel_type: u8, param: u32) -> Reliability {
    match channel_type & 0x7f {
        0x01 => Reliability::MaxRetransmits(param),
        0x02 => Reliability::MaxLifetime(Duration::from_millis(u64::from(param))),
        _ => Reliability::Reliable,
    }
}

fn channel_type_of(o: &ChannelOptions) -> (u8, u32) {
    let (t, p) = match o.reliability {
        Reliability::Reliable => (channel_type::RELIABLE, 0),
        Reliability::MaxRetransmits(n) => (channel_type::REXMIT, n),
        Reliability::MaxLifetime(d) => (channel_type::TIMED, u32::try_from(d.as_millis()).unwrap_or(u32::MAX)),
    };
    (if o.ordered { t } else { t | 0x80 }, p)
}

impl DataChannels {
    /// Wraps `assoc` (fresh, or already connecting). `role` is this side's DTLS role.
    pub fn new(assoc: Association, role: Role) -> Self {
        DataChannels {
            now: assoc.now(),
            assoc,
            role,
            channels: VecMap::new(),
            watch: Vec::new(),
            events: EventQueue::new(EVENT_LIMIT),
            scratch: Vec::new(),
            dropped: 0,
            last_error: None,
        }
    }

    /// Starts the SCTP handshake. In WebRTC both sides call this (browsers send INIT whatever their role).
    pub fn connect(&mut self, now: Instant) {
        self.touch(now);
        self.assoc.connect(now);
    }

    fn touch(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    /// The association underneath.
    pub fn association(&self) -> &Association {
        &self.assoc
    }

    /// Gives back buffers kept for reuse when nothing is waiting (see [`Association::trim`]): for an
    /// application that holds many idle connections.
    pub fn trim(&mut self) {
        self.events.trim();
        self.assoc.trim();
    }

    /// The association underneath, mutably (for shutdown or abort).
    pub fn association_mut(&mut self) -> &mut Association {
        &mut self.assoc
    }

    /// A channel's state and options.
    pub fn channel(&self, id: u16) -> Option<&Channel> {
        self.channels.get(&id)
    }

    /// Number of channels not yet closed.
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// DCEP messages and data messages dropped as bad input.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The reason the last bad message was dropped.
    pub fn last_error(&self) -> Option<Error> {
        self.last_error
    }

    fn free_id(&self) -> Result<u16, Error> {
        let limit = self.assoc.outbound_streams().min(self.assoc.inbound_streams());
        let mut id: u16 = if self.role == Role::Client { 0 } else { 1 };
        while id < limit {
            if !self.channels.contains_key(&id) {
                return Ok(id);
            }
            id = id.checked_add(2).ok_or(Error::NoFreeStream)?;
        }
        Err(Error::NoFreeStream)
    }

    /// Opens a channel and returns its stream id. Without `negotiated`, a DATA_CHANNEL_OPEN goes to the peer
    /// and [`Event::ChannelOpen`] follows at once (messages may follow the OPEN; the ACK is awaited only
    /// for unordered delivery); a negotiated channel is open at once. Before the
    /// association is established the channel waits, and is announced (or reported open) on connection.
    pub fn open(&mut self, now: Instant, options: ChannelOptions) -> Result<u16, Error> {
        self.touch(now);
        if self.assoc.is_closed() {
            return Err(Error::NotConnected);
        }
        if options.label.len() > 0xffff || options.protocol.len() > 0xffff {
            return Err(Error::LabelTooLong);
        }
        let id = match options.negotiated {
            Some(id) if self.channels.contains_key(&id) => return Err(Error::IdInUse),
            Some(id) if id >= self.assoc.outbound_streams() => return Err(Error::Send(sctp::SendError::InvalidStream)),
            Some(id) => id,
            None => self.free_id()?,
        };
        let negotiated = options.negotiated.is_some();
        let connected = self.assoc.is_established();
        // RFC 8831 §6.4: the priority weighs the channel's share of the link when several have data queued.
        self.assoc.set_stream_priority(id, options.priority);
        let state = if negotiated { ChannelState::Open } else { ChannelState::Connecting };
        self.channels.insert(
            id,
            Channel {
                options,
                state,
                low_threshold: 0,
                above_threshold: false,
                out_reset: false,
                in_reset: false,
                waiting: !connected,
                stats: ChannelStats::default(),
            },
        );
        if connected {
            if let Err(e) = self.announce(id) {
                self.channels.remove(&id);
                return Err(e);
            }
        }
        Ok(id)
    }

    /// Sends the DATA_CHANNEL_OPEN of a channel (or reports a negotiated one open).
    fn announce(&mut self, id: u16) -> Result<(), Error> {
        let now = self.now;
        let Some(ch) = self.channels.get_mut(&id) else { return Err(Error::NoSuchChannel) };
        ch.waiting = false;
        if ch.options.negotiated.is_some() {
            self.push(Event::ChannelOpen(id));
            return Ok(());
        }
        let (channel_type, reliability) = channel_type_of(&ch.options);
        self.scratch.clear();
        Dcep::Open {
            channel_type,
            priority: ch.options.priority,
            reliability,
            label: &ch.options.label,
            protocol: &ch.options.protocol,
        }
        .emit(&mut self.scratch)?;
        let msg = Bytes::copy_from_slice(&self.scratch);
        self.assoc.send_control(now, id, wire::PPID_DCEP, msg)?;
        self.push(Event::ChannelOpen(id));
        Ok(())
    }

    /// Sends a binary message (`binary`) or a UTF-8 string message. Empty messages use the empty PPIDs.
    pub fn send(&mut self, now: Instant, id: u16, data: Bytes, binary: bool) -> Result<(), Error> {
        self.touch(now);
        let ch = self.channels.get(&id).ok_or(Error::NoSuchChannel)?;
        if ch.state == ChannelState::Closing {
            return Err(Error::ChannelClosed);
        }
        if ch.waiting {
            // Not announced yet (the association is not up): like a W3C channel still "connecting", it
            // refuses messages, which would otherwise reach the peer before the DATA_CHANNEL_OPEN.
            return Err(Error::Send(sctp::SendError::NotConnected));
        }
        // RFC 8832 §6: until the ACK arrives, messages go ordered.
        let mut opts =
            SendOptions { unordered: !ch.options.ordered && ch.state == ChannelState::Open, ..SendOptions::default() };
        match ch.options.reliability {
            Reliability::Reliable => {}
            Reliability::MaxRetransmits(n) => opts.max_retransmits = Some(n),
            Reliability::MaxLifetime(d) => opts.max_lifetime = Some(d),
        }
        let len = data.len() as u64;
        let (ppid, data) = match (data.is_empty(), binary) {
            (true, true) => (wire::PPID_BINARY_EMPTY, Bytes::from_static(&[0])),
            (true, false) => (wire::PPID_STRING_EMPTY, Bytes::from_static(&[0])),
            (false, true) => (wire::PPID_BINARY, data),
            (false, false) => (wire::PPID_STRING, data),
        };
        self.assoc.send(now, id, ppid, data, opts)?;
        if let Some(ch) = self.channels.get_mut(&id) {
            ch.stats.messages_sent += 1;
            ch.stats.bytes_sent += len;
        }
        self.note_buffered(id);
        Ok(())
    }

    /// Sends a string message.
    pub fn send_text(&mut self, now: Instant, id: u16, text: &str) -> Result<(), Error> {
        self.send(now, id, Bytes::copy_from_slice(text.as_bytes()), false)
    }

    /// Bytes queued on the channel and not yet acknowledged (`bufferedAmount`).
    pub fn buffered_amount(&self, id: u16) -> usize {
        self.assoc.buffered_amount(id)
    }

    /// Sets `bufferedAmountLowThreshold`: [`Event::BufferedAmountLow`] fires when the buffered amount falls
    /// from above it to at or below it.
    pub fn set_buffered_amount_low_threshold(&mut self, id: u16, threshold: usize) -> Result<(), Error> {
        let ch = self.channels.get_mut(&id).ok_or(Error::NoSuchChannel)?;
        ch.low_threshold = threshold;
        self.note_buffered(id);
        Ok(())
    }

    fn note_buffered(&mut self, id: u16) {
        let amount = self.assoc.buffered_amount(id);
        if let Some(ch) = self.channels.get_mut(&id) {
            if amount > ch.low_threshold && !ch.above_threshold {
                ch.above_threshold = true;
                self.watch.push(id);
            }
        }
    }

    /// Closes a channel: resets our outgoing stream; the peer resets its own in turn and both sides get
    /// [`Event::ChannelClosed`].
    pub fn close(&mut self, now: Instant, id: u16) -> Result<(), Error> {
        self.touch(now);
        let ch = self.channels.get_mut(&id).ok_or(Error::NoSuchChannel)?;
        if ch.out_reset || ch.state == ChannelState::Closing {
            return Ok(());
        }
        ch.state = ChannelState::Closing;
        self.assoc.reset_streams(now, &[id])?;
        Ok(())
    }

    fn push(&mut self, e: Event) {
        if !self.events.push(e) {
            tracing::debug!(target: TARGET, "event queue full, event dropped");
        }
    }

    fn reject(&mut self, e: Error) {
        self.dropped += 1;
        self.last_error = Some(e);
        tracing::debug!(target: TARGET, error = %e, "message dropped");
    }

    /// Moves association events into channel events until one is ready (lazily, so undelivered messages stay
    /// counted against the association's receive window).
    fn process(&mut self) {
        while self.events.len() == 0 {
            let Some(e) = self.assoc.poll_event() else { break };
            match e {
                sctp::Event::Connected => {
                    self.push(Event::Connected);
                    let waiting: Vec<u16> =
                        self.channels.iter().filter(|(_, c)| c.waiting).map(|(id, _)| *id).collect();
                    for id in waiting {
                        if self.announce(id).is_err() {
                            // Beyond the negotiated stream count, most likely.
                            self.finish_close(id);
                        }
                    }
                }
                sctp::Event::Message(m) => self.on_message(m),
                sctp::Event::IncomingStreamReset(id) => {
                    let Some(ch) = self.channels.get_mut(&id) else { continue };
                    ch.in_reset = true;
                    let start_ours = ch.state != ChannelState::Closing;
                    ch.state = ChannelState::Closing;
                    if start_ours {
                        // RFC 8831 §6.7: answer a reset of the peer's outgoing stream with our own.
                        if self.assoc.reset_streams(self.now, &[id]).is_err() {
                            self.finish_close(id);
                        }
                    }
                    self.maybe_closed(id);
                }
                // A refused reset still ends the channel here; the peer keeps its half until it resets.
                sctp::Event::StreamResetFailed(id) => self.finish_close(id),
                sctp::Event::OutgoingStreamReset(id) => {
                    if let Some(ch) = self.channels.get_mut(&id) {
                        ch.out_reset = true;
                    }
                    self.maybe_closed(id);
                }
                sctp::Event::Restarted => {
                    let ids: Vec<u16> = self.channels.keys().copied().collect();
                    for id in ids {
                        self.finish_close(id);
                    }
                    self.push(Event::Restarted);
                }
                sctp::Event::Closed(reason) => {
                    let ids: Vec<u16> = self.channels.keys().copied().collect();
                    for id in ids {
                        self.finish_close(id);
                    }
                    self.push(Event::Closed(reason));
                }
            }
        }
        // Buffered-amount-low events.
        let mut i = 0;
        while i < self.watch.len() {
            let id = self.watch[i];
            let amount = self.assoc.buffered_amount(id);
            match self.channels.get_mut(&id) {
                Some(ch) if amount > ch.low_threshold => i += 1,
                Some(ch) => {
                    ch.above_threshold = false;
                    self.watch.swap_remove(i);
                    self.push(Event::BufferedAmountLow(id));
                }
                None => {
                    self.watch.swap_remove(i);
                }
            }
        }
    }

    fn maybe_closed(&mut self, id: u16) {
        if self.channels.get(&id).is_some_and(|c| c.in_reset && c.out_reset) {
            self.finish_close(id);
        }
    }

    fn finish_close(&mut self, id: u16) {
        if self.channels.remove(&id).is_some() {
            self.assoc.set_stream_priority(id, sctp::DEFAULT_PRIORITY);
            self.push(Event::ChannelClosed(id));
        }
    }

    fn on_message(&mut self, m: sctp::Message) {
        let id = m.stream;
        match m.ppid {
            wire::PPID_DCEP => match Dcep::parse(&m.data) {
                Ok(Dcep::Open { channel_type, priority, reliability, label, protocol }) => {
                    let peer_parity = if self.role == Role::Client { 1 } else { 0 };
                    if id % 2 != peer_parity || self.channels.contains_key(&id) {
                        self.reject(Error::BadStreamId);
                        return;
                    }
                    let options = ChannelOptions {
                        label: label.to_string(),
                        protocol: protocol.to_string(),
                        ordered: channel_type & 0x80 == 0,
                        reliability: reliability_of(channel_type, reliability),
                        priority,
                        negotiated: None,
                    };
                    self.scratch.clear();
                    let _ = Dcep::Ack.emit(&mut self.scratch);
                    let ack = Bytes::copy_from_slice(&self.scratch);
                    if let Err(e) = self.assoc.send_control(self.now, id, wire::PPID_DCEP, ack) {
                        self.reject(e.into());
                        return;
                    }
                    let (label, protocol) = (options.label.clone(), options.protocol.clone());
                    self.assoc.set_stream_priority(id, priority);
                    self.channels.insert(
                        id,
                        Channel {
                            options,
                            state: ChannelState::Open,
                            low_threshold: 0,
                            above_threshold: false,
                            out_reset: false,
                            in_reset: false,
                            waiting: false,
                            stats: ChannelStats::default(),
                        },
                    );
                    self.push(Event::ChannelOpened { id, label, protocol });
                }
                Ok(Dcep::Ack) => {
                    if let Some(ch) = self.channels.get_mut(&id) {
                        if ch.state == ChannelState::Connecting {
                            ch.state = ChannelState::Open;
                        }
                    }
                }
                Err(e) => self.reject(e),
            },
            wire::PPID_STRING | wire::PPID_BINARY | wire::PPID_STRING_EMPTY | wire::PPID_BINARY_EMPTY => {
                let Some(ch) = self.channels.get_mut(&id) else {
                    self.reject(Error::UnexpectedMessage);
                    return;
                };
                if ch.state == ChannelState::Connecting {
                    // RFC 8832 §6: data before the ACK implies it.
                    ch.state = ChannelState::Open;
                }
                let binary = matches!(m.ppid, wire::PPID_BINARY | wire::PPID_BINARY_EMPTY);
                let data = if matches!(m.ppid, wire::PPID_STRING_EMPTY | wire::PPID_BINARY_EMPTY) {
                    Bytes::new()
                } else {
                    m.data
                };
                ch.stats.messages_received += 1;
                ch.stats.bytes_received += data.len() as u64;
                self.push(Event::Message { id, data, binary });
            }
            _ => self.reject(Error::UnexpectedMessage),
        }
    }
}

impl Machine for DataChannels {
    type Event = Event;

    fn handle_timeout(&mut self, now: Instant) {
        self.touch(now);
        self.assoc.handle_timeout(now);
    }

    /// The next event. Association events are turned into channel events here, lazily, and some of them
    /// owe the peer an answer: a DATA_CHANNEL_OPEN is acknowledged, a reset of the peer's outgoing stream is
    /// answered with ours (RFC 8831 §6.7), channels opened before the association was up are announced on
    /// [`Event::Connected`], and taking a message may reopen the SCTP window. Each of these is queued at the
    /// latest `now` given and announced by [`Machine::poll_timeout`], which then returns that instant: a
    /// caller who drains events and then sleeps until `poll_timeout` wakes at once and sends them.
    fn poll_event(&mut self) -> Option<Event> {
        if let Some(e) = self.events.pop() {
            return Some(e);
        }
        self.process();
        self.events.pop()
    }

    /// The association's deadline: its earliest timer, or the latest `now` given while a packet is owed
    /// (after any call that queued one, including `poll_event`, until `poll_transmit` returns `None`).
    fn poll_timeout(&self) -> Option<Instant> {
        self.assoc.poll_timeout()
    }
}

impl DatagramMachine for DataChannels {
    type Error = sctp::Error;

    fn handle_receive(&mut self, now: Instant, datagram: &[u8]) -> Result<(), sctp::Error> {
        self.touch(now);
        self.assoc.handle_receive(now, datagram)
    }

    fn poll_transmit(&mut self) -> Option<&[u8]> {
        self.assoc.poll_transmit()
    }
}
