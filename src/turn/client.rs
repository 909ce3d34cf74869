//! The TURN client machine (RFC 8656, compatible with RFC 5766 servers).

use alloc::string::String;
use alloc::vec::Vec;
use core::net::{IpAddr, SocketAddr};
use core::time::Duration;

use super::TARGET;
use super::error::{Error, Failure};
use super::wire::{CHANNEL_MAX, CHANNEL_MIN, ChannelData, emit_channel_data, is_channel_data};
use crate::machine::{Datagram, Machine, PathMachine, Transmit};
use crate::rand::SeededRng;
use crate::stun::wire::HEADER_LEN;
use crate::stun::{
    Attribute, AttributeType, Class, Key, Message, MessageBuilder, MessageType, Method, TransactionConfig,
    TransactionEvent, TransactionId, Transactions,
};
use crate::time::Instant;
use crate::util::{EventQueue, OutQueue, TimerKind, Timers, deadline};

/// REQUESTED-ADDRESS-FAMILY (RFC 8656 §18.6); the STUN codec keeps it as an unknown attribute.
const REQUESTED_ADDRESS_FAMILY: u16 = 0x0017;
/// Permissions last 300 s (RFC 8656 §9); refresh a minute early.
const PERMISSION_REFRESH: Duration = Duration::from_secs(240);
/// Channel bindings last 600 s (RFC 8656 §12); refresh a minute early.
const CHANNEL_REFRESH: Duration = Duration::from_secs(540);
/// Consecutive 438 answers tolerated before giving up.
const MAX_STALE_NONCE: u8 = 3;
/// Room kept for the Send indication's header and attributes.
const SEND_OVERHEAD: usize = HEADER_LEN + 4 + 20 + 4;

/// The address family of the relayed address to ask for (RFC 8656 §7.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RelayFamily {
    /// An IPv4 relayed address (the default; no REQUESTED-ADDRESS-FAMILY is sent).
    #[default]
    V4,
    /// An IPv6 relayed address (REQUESTED-ADDRESS-FAMILY 0x02).
    V6,
}

/// How a [`TurnClient`] reaches its server and what it asks for. Its `Debug` output hides the password.
#[derive(Clone)]
pub struct TurnConfig {
    /// The TURN server.
    pub server: SocketAddr,
    /// The local socket the caller sends from and receives on.
    pub local: SocketAddr,
    /// Long-term credential username.
    pub username: String,
    /// Long-term credential password.
    pub password: String,
    /// The family of the relayed address.
    pub family: RelayFamily,
    /// Allocation lifetime to request (the server may grant less; default 600 s).
    pub lifetime: Duration,
    /// At most this many peer permissions (default 64).
    pub max_permissions: usize,
    /// At most this many channel bindings (default 64, at most 4096).
    pub max_channels: usize,
    /// Retransmission of requests (RFC 8489 §6.2; use [`TransactionConfig::reliable`] over TCP/TLS).
    pub transaction: TransactionConfig,
    /// Pad ChannelData to 4 bytes (required over TCP/TLS, RFC 8656 §12.5).
    pub pad_channel_data: bool,
}

impl core::fmt::Debug for TurnConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TurnConfig")
            .field("server", &self.server)
            .field("local", &self.local)
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .field("family", &self.family)
            .field("lifetime", &self.lifetime)
            .field("max_permissions", &self.max_permissions)
            .field("max_channels", &self.max_channels)
            .field("transaction", &self.transaction)
            .field("pad_channel_data", &self.pad_channel_data)
            .finish()
    }
}

impl TurnConfig {
    /// A configuration with defaults for `server`, reached from `local`, with long-term credentials.
    pub fn new(server: SocketAddr, local: SocketAddr, username: &str, password: &str) -> Self {
        TurnConfig {
            server,
            local,
            username: String::from(username),
            password: String::from(password),
            family: RelayFamily::V4,
            lifetime: Duration::from_secs(600),
            max_permissions: 64,
            max_channels: 64,
            transaction: TransactionConfig::default(),
            pad_channel_data: false,
        }
    }

    /// A configuration whose local socket is not chosen yet (the unspecified address of the server's
    /// family, port 0): a [`PeerConnection`](crate::pc::PeerConnection) allocates from its first host
    /// socket of that family.
    pub fn for_server(server: SocketAddr, username: &str, password: &str) -> Self {
        let any = match server {
            SocketAddr::V4(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
            SocketAddr::V6(_) => SocketAddr::from(([0u16; 8], 0)),
        };
        TurnConfig::new(server, any, username, password)
    }
}

/// Which request an event is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Request {
    /// Allocate.
    Allocate,
    /// Refresh of the allocation.
    Refresh,
    /// CreatePermission.
    CreatePermission,
    /// ChannelBind.
    ChannelBind,
}

/// What a [`TurnClient`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TurnEvent {
    /// The allocation exists (first time, or again after [`TurnEvent::AllocationLost`]).
    Allocated {
        /// The relayed transport address: give it to peers (an ICE relay candidate).
        relayed: SocketAddr,
        /// Our address as the server sees it (XOR-MAPPED-ADDRESS), if given.
        mapped: Option<SocketAddr>,
        /// The lifetime granted.
        lifetime: Duration,
    },
    /// A Refresh succeeded.
    Refreshed {
        /// The lifetime granted.
        lifetime: Duration,
    },
    /// A permission for `peer` is installed (first time; refreshes are silent).
    PermissionCreated {
        /// The peer's IP address.
        peer: IpAddr,
    },
    /// `channel` is bound to `peer`; data to and from it now uses ChannelData (first time only).
    ChannelBound {
        /// The peer.
        peer: SocketAddr,
        /// The channel number.
        channel: u16,
    },
    /// The server no longer knows the allocation (437, e.g. after a restart): a new one is being made;
    /// permissions and channels will be installed again on it.
    AllocationLost,
    /// A request on the allocation failed; the allocation itself stands.
    RequestFailed {
        /// Which request.
        request: Request,
        /// Why.
        failure: Failure,
    },
    /// The allocation failed or was lost for good; the client is stopped.
    Failed(Failure),
    /// The allocation was released ([`TurnClient::close`]) or could not be.
    Closed,
}

/// Counters of a [`TurnClient`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TurnStats {
    /// Datagrams rejected by `handle_receive` (all reasons).
    pub rejected: u64,
    /// Responses with a bad or missing MESSAGE-INTEGRITY.
    pub integrity_failures: u64,
    /// Responses matching no request in progress.
    pub unknown_transactions: u64,
    /// Malformed ChannelData (bad length, unknown channel).
    pub bad_channel_data: u64,
    /// Peer datagrams received (Data indications and ChannelData).
    pub data_received: u64,
    /// Peer datagrams sent (Send indications and ChannelData).
    pub data_sent: u64,
    /// Datagrams the full output queue refused.
    pub transmit_dropped: u64,
    /// Peer datagrams the full receive queue refused.
    pub receive_dropped: u64,
}

/// Peer data taken straight from a received datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerData<'a> {
    /// The peer it came from.
    pub peer: SocketAddr,
    /// The data, borrowed from the datagram.
    pub data: &'a [u8],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Idle,
    Allocating,
    Allocated,
    Closing,
    Closed,
    Failed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tag {
    Allocate,
    Refresh { lifetime: u32 },
    Permission { peer: IpAddr },
    Channel { peer: SocketAddr, channel: u16 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    Refresh,
    Permissions,
    Channels,
}

impl TimerKind for Timer {
    const ALL: &'static [Self] = &[Timer::Refresh, Timer::Permissions, Timer::Channels];
    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Clone, Copy, Debug)]
struct Permission {
    peer: IpAddr,
    installed: bool,
    in_flight: bool,
    refresh_at: Instant,
}

#[derive(Clone, Copy, Debug)]
struct Channel {
    peer: SocketAddr,
    number: u16,
    bound: bool,
    in_flight: bool,
    refresh_at: Instant,
}

/// A TURN client for one allocation on one server (RFC 8656), as a [`PathMachine`].
///
/// Loop, as for every machine in the crate: [`TurnClient::allocate`] once, then feed every datagram from
/// the server to [`PathMachine::handle_receive`] (or [`TurnClient::handle_receive_peer`] to get peer data
/// without a copy), call [`Machine::handle_timeout`] at [`Machine::poll_timeout`], drain
/// [`PathMachine::poll_transmit`] (send each from `source` to `destination`), [`Machine::poll_event`]
/// and [`TurnClient::poll_data`] (peer data), then sleep until the next datagram or `poll_timeout`. Events and
/// peer data are pure reads; whatever a call queues is announced by `poll_timeout` (the latest `now` while
/// datagrams wait in `poll_transmit`). Time must not go backwards; an earlier `now` counts as the latest
/// seen.
///
/// Long-term credentials: the first Allocate goes without them; the 401 answer's REALM and NONCE key the
/// retry (RFC 8489 §9.2). A 438 (stale nonce) is retried with the new nonce. The allocation is refreshed a
/// minute before its lifetime ends, permissions (300 s) and channels (600 s) a minute before theirs. A 437
/// on a refresh means the server lost the allocation: the client allocates again and re-installs
/// permissions and channels, reporting [`TurnEvent::AllocationLost`] then [`TurnEvent::Allocated`].
///
/// Data: [`TurnClient::send_to`] sends through a channel once one is bound to the peer
/// ([`TurnClient::bind_channel`]), in a Send indication before; a permission for the peer's IP is created
/// on first use. Received peer data comes out of [`TurnClient::poll_data`] from recycled buffers.
#[derive(Debug)]
pub struct TurnClient {
    config: TurnConfig,
    state: State,
    now: Instant,
    rng: SeededRng,
    realm: String,
    nonce: String,
    key: Option<Key>,
    stale_nonces: u8,
    /// The last request whose response failed its integrity check: its timeout is reported as
    /// [`Failure::IntegrityViolated`].
    integrity_failed: Option<TransactionId>,
    relayed: Option<SocketAddr>,
    mapped: Option<SocketAddr>,
    expires_at: Instant,
    permissions: Vec<Permission>,
    channels: Vec<Channel>,
    next_channel: u16,
    tx: Transactions<Tag>,
    timers: Timers<Timer, 3>,
    out: OutQueue<()>,
    received: OutQueue<SocketAddr>,
    events: EventQueue<TurnEvent>,
    stats: TurnStats,
}

impl TurnClient {
    /// A client for `config`, drawing transaction ids from `rng`. Nothing is sent until
    /// [`TurnClient::allocate`].
    pub fn new(config: TurnConfig, rng: SeededRng) -> Self {
        let mut rng = rng;
        let capacity = tx_capacity(&config);
        let tx = Transactions::new(config.transaction, capacity, rng.fork());
        TurnClient {
            config,
            state: State::Idle,
            now: Instant::ZERO,
            rng,
            realm: String::new(),
            nonce: String::new(),
            key: None,
            stale_nonces: 0,
            integrity_failed: None,
            relayed: None,
            mapped: None,
            expires_at: Instant::ZERO,
            permissions: Vec::new(),
            channels: Vec::new(),
            next_channel: CHANNEL_MIN,
            tx,
            timers: Timers::default(),
            out: OutQueue::new(256),
            received: OutQueue::new(256),
            events: EventQueue::new(256),
            stats: TurnStats::default(),
        }
    }

    /// Starts the allocation. Harmless when one exists or is being made.
    pub fn allocate(&mut self, now: Instant) {
        self.tick(now);
        if matches!(self.state, State::Idle | State::Closed | State::Failed) {
            self.state = State::Allocating;
            self.start(Tag::Allocate);
            self.pump();
        }
    }

    /// The relayed address once allocated.
    pub fn relayed_address(&self) -> Option<SocketAddr> {
        self.relayed.filter(|_| self.state == State::Allocated)
    }

    /// Our address as the server saw it in its Allocate answer.
    pub fn mapped_address(&self) -> Option<SocketAddr> {
        self.mapped
    }

    /// Whether an allocation exists.
    pub fn is_allocated(&self) -> bool {
        self.state == State::Allocated
    }

    /// Whether an Allocate is in progress (neither allocated nor failed yet): ICE gathering waits for it.
    pub fn is_allocating(&self) -> bool {
        self.state == State::Allocating
    }

    /// The server.
    pub fn server(&self) -> SocketAddr {
        self.config.server
    }

    /// The local socket.
    pub fn local(&self) -> SocketAddr {
        self.config.local
    }

    /// The counters.
    pub fn stats(&self) -> TurnStats {
        let mut s = self.stats;
        s.transmit_dropped = self.out.dropped();
        s.receive_dropped = self.received.dropped();
        s
    }

    /// When the allocation expires unless refreshed.
    pub fn expires_at(&self) -> Option<Instant> {
        (self.state == State::Allocated).then_some(self.expires_at)
    }

    /// Whether a permission for `peer` is installed on the server.
    pub fn has_permission(&self, peer: IpAddr) -> bool {
        self.permissions.iter().any(|p| p.peer == peer && p.installed)
    }

    /// The channel bound to `peer`, if bound.
    pub fn channel(&self, peer: SocketAddr) -> Option<u16> {
        self.channels.iter().find(|c| c.peer == peer && c.bound).map(|c| c.number)
    }

    /// Whether `datagram` is for this client (comes from its server to its local socket), for callers
    /// sharing one socket between machines.
    pub fn accepts(&self, datagram: &Datagram<'_>) -> bool {
        datagram.source == self.config.server && datagram.destination == self.config.local
    }

    /// Asks for a permission for `peer` (kept and refreshed until [`TurnClient::close`]). Needs an
    /// allocation or one in progress (it is installed once allocated).
    pub fn create_permission(&mut self, now: Instant, peer: IpAddr) -> Result<(), Error> {
        self.tick(now);
        if !matches!(self.state, State::Allocated | State::Allocating) {
            return Err(Error::NotAllocated);
        }
        if self.permissions.iter().any(|p| p.peer == peer) {
            return Ok(());
        }
        if self.permissions.len() >= self.config.max_permissions {
            return Err(Error::TableFull);
        }
        self.permissions.push(Permission { peer, installed: false, in_flight: false, refresh_at: self.now });
        if self.state == State::Allocated {
            self.send_permission(peer);
        }
        self.pump();
        Ok(())
    }

    /// Binds a channel to `peer` (RFC 8656 §12) and returns its number; the binding also installs the
    /// permission. Data goes over the channel once [`TurnEvent::ChannelBound`] is reported.
    pub fn bind_channel(&mut self, now: Instant, peer: SocketAddr) -> Result<u16, Error> {
        self.tick(now);
        if !matches!(self.state, State::Allocated | State::Allocating) {
            return Err(Error::NotAllocated);
        }
        if let Some(c) = self.channels.iter().find(|c| c.peer == peer) {
            return Ok(c.number);
        }
        if self.channels.len() >= self.config.max_channels.min(4096) {
            return Err(Error::TableFull);
        }
        // The binding installs the permission, but permissions expire after 300 s and bindings after
        // 600 s (RFC 8656 §12.2): keep a permission of our own for the peer, refreshed on its schedule.
        if !self.permissions.iter().any(|p| p.peer == peer.ip()) {
            self.create_permission(now, peer.ip())?;
        }
        let number = self.free_channel().ok_or(Error::NoFreeChannel)?;
        self.channels.push(Channel { peer, number, bound: false, in_flight: false, refresh_at: self.now });
        if self.state == State::Allocated {
            self.send_channel_bind(peer, number);
        }
        self.pump();
        Ok(number)
    }

    fn free_channel(&mut self) -> Option<u16> {
        for _ in CHANNEL_MIN..=CHANNEL_MAX {
            let n = self.next_channel;
            self.next_channel = if n >= CHANNEL_MAX { CHANNEL_MIN } else { n + 1 };
            if !self.channels.iter().any(|c| c.number == n) {
                return Some(n);
            }
        }
        None
    }

    /// Sends `data` to `peer` through the relay: ChannelData on a bound channel, else a Send indication
    /// (creating the permission for the peer's IP first if there is none). Allocates nothing once warm.
    pub fn send_to(&mut self, now: Instant, peer: SocketAddr, data: &[u8]) -> Result<(), Error> {
        self.tick(now);
        if self.state != State::Allocated {
            return Err(Error::NotAllocated);
        }
        if data.len() > usize::from(u16::MAX) - SEND_OVERHEAD {
            return Err(Error::DataTooLong);
        }
        if !self.permissions.iter().any(|p| p.peer == peer.ip()) {
            self.create_permission(now, peer.ip())?;
        }
        let queued = if let Some(ch) = self.channels.iter().find(|c| c.peer == peer && c.bound) {
            let (number, padded) = (ch.number, self.config.pad_channel_data);
            self.out.push_with((), |buf| emit_channel_data(buf, number, data, padded))?
        } else {
            let id = TransactionId::random(&mut self.rng);
            self.out.push_with((), |buf| {
                let typ = MessageType::new(Method::SEND, Class::Indication);
                let mut b = MessageBuilder::new(buf, typ, id)?;
                b.add(Attribute::XorPeerAddress(peer))?.add(Attribute::Data(data))?;
                b.finish();
                Ok::<(), crate::stun::Error>(())
            })?
        };
        if !queued {
            return Err(Error::QueueFull);
        }
        self.stats.data_sent += 1;
        Ok(())
    }

    /// Releases the allocation (Refresh with LIFETIME 0, RFC 8656 §7.2); [`TurnEvent::Closed`] follows
    /// the answer (or its timeout). Without an allocation, closes at once.
    pub fn close(&mut self, now: Instant) {
        self.tick(now);
        self.timers.clear_all();
        self.permissions.clear();
        self.channels.clear();
        match self.state {
            State::Allocated => {
                self.state = State::Closing;
                self.start(Tag::Refresh { lifetime: 0 });
            }
            State::Closing | State::Closed => {}
            State::Idle | State::Allocating | State::Failed => {
                self.cancel_all();
                self.state = State::Closed;
                self.events.push(TurnEvent::Closed);
            }
        }
        self.pump();
    }

    /// The next peer datagram received, borrowed until the next call (buffers are recycled).
    #[must_use]
    pub fn poll_data(&mut self) -> Option<(SocketAddr, &[u8])> {
        self.received.pop()
    }

    /// Handles one datagram like [`PathMachine::handle_receive`], but hands peer data back borrowed from
    /// `datagram` instead of queueing a copy for [`TurnClient::poll_data`].
    pub fn handle_receive_peer<'a>(
        &mut self,
        now: Instant,
        datagram: Datagram<'a>,
    ) -> Result<Option<PeerData<'a>>, Error> {
        self.tick(now);
        let result = self.receive(datagram);
        if let Err(e) = result {
            self.stats.rejected += 1;
            tracing::debug!(target: TARGET, error = %e, from = %datagram.source, "datagram dropped");
        }
        self.pump();
        result
    }

    fn tick(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    fn receive<'a>(&mut self, datagram: Datagram<'a>) -> Result<Option<PeerData<'a>>, Error> {
        if datagram.source != self.config.server {
            return Err(Error::NotFromServer);
        }
        let bytes = datagram.contents;
        if is_channel_data(bytes) {
            let cd = ChannelData::new_checked(bytes).inspect_err(|_| self.stats.bad_channel_data += 1)?;
            let Some(ch) = self.channels.iter().find(|c| c.number == cd.channel() && c.bound) else {
                self.stats.bad_channel_data += 1;
                return Err(Error::UnknownChannel(cd.channel()));
            };
            self.stats.data_received += 1;
            let (peer, data) = (ch.peer, cd.into_data());
            return Ok(Some(PeerData { peer, data }));
        }
        let msg = Message::new_checked(bytes)?;
        match msg.class() {
            Class::Indication if msg.method() == Method::DATA => {
                let mut peer = None;
                let mut data = None;
                for attr in msg.attributes() {
                    match attr? {
                        Attribute::XorPeerAddress(a) => peer = peer.or(Some(a)),
                        Attribute::Data(d) => data = data.or(Some(d)),
                        _ => {}
                    }
                }
                let peer = peer.ok_or(Error::MissingAttribute(AttributeType::XOR_PEER_ADDRESS))?;
                let data = data.ok_or(Error::MissingAttribute(AttributeType::DATA))?;
                if !self.has_permission(peer.ip()) || self.state != State::Allocated {
                    return Err(Error::UnexpectedMessage);
                }
                self.stats.data_received += 1;
                // `data` borrows from `msg`, which borrows `bytes`: re-slice from `bytes` for lifetime 'a.
                let offset = (data.as_ptr() as usize).saturating_sub(bytes.as_ptr() as usize);
                let data = bytes.get(offset..offset + data.len()).unwrap_or(&[]);
                Ok(Some(PeerData { peer, data }))
            }
            Class::Success | Class::Error => {
                self.response(&msg)?;
                Ok(None)
            }
            _ => Err(Error::UnexpectedMessage),
        }
    }

    /// Checks and applies a response. Every check runs before the transaction completes, so a rejected
    /// response changes nothing.
    fn response(&mut self, msg: &Message<&[u8]>) -> Result<(), Error> {
        let Some(tag) = self.tx.get(msg.transaction_id()).copied() else {
            self.stats.unknown_transactions += 1;
            return Err(Error::UnknownTransaction);
        };
        let method_ok = match tag {
            Tag::Allocate => msg.method() == Method::ALLOCATE,
            Tag::Refresh { .. } => msg.method() == Method::REFRESH,
            Tag::Permission { .. } => msg.method() == Method::CREATE_PERMISSION,
            Tag::Channel { .. } => msg.method() == Method::CHANNEL_BIND,
        };
        if !method_ok {
            return Err(Error::UnexpectedMessage);
        }
        // RFC 8489 §9.2.5: once credentials are sent, every response must carry a valid MESSAGE-INTEGRITY,
        // except the 401 and 438 challenges, which come without one; anything else is discarded as if never
        // received (retransmissions go on).
        if let Some(key) = &self.key {
            let has = msg.has_integrity() || msg.has_integrity_sha256();
            let code = msg.error_code().map(|e| e.code);
            let challenge = msg.class() == Class::Error && matches!(code, Some(401 | 438)) && !has;
            if !challenge && msg.verify_integrity(key).is_err() {
                self.stats.integrity_failures += 1;
                self.integrity_failed = Some(msg.transaction_id());
                return Err(Error::Integrity);
            }
        }
        let now = self.now;
        if msg.class() == Class::Success {
            self.success(tag, msg, now)?;
        } else {
            let code = msg.error_code().map(|e| e.code).unwrap_or(500);
            self.tx.handle_response(now, msg)?;
            self.error(tag, code, msg);
        }
        Ok(())
    }

    fn success(&mut self, tag: Tag, msg: &Message<&[u8]>, now: Instant) -> Result<(), Error> {
        let lifetime = match msg.attribute(AttributeType::LIFETIME) {
            Some(Attribute::Lifetime(s)) => Some(Duration::from_secs(u64::from(s))),
            _ => None,
        };
        match tag {
            Tag::Allocate => {
                let Some(Attribute::XorRelayedAddress(relayed)) = msg.attribute(AttributeType::XOR_RELAYED_ADDRESS)
                else {
                    return Err(Error::MissingAttribute(AttributeType::XOR_RELAYED_ADDRESS));
                };
                self.tx.handle_response(now, msg)?;
                let lifetime = lifetime.unwrap_or(self.config.lifetime);
                self.stale_nonces = 0;
                self.state = State::Allocated;
                self.relayed = Some(relayed);
                self.mapped = msg.xor_mapped_address();
                self.set_lifetime(lifetime);
                tracing::debug!(target: TARGET, %relayed, ?lifetime, "allocated");
                self.events.push(TurnEvent::Allocated { relayed, mapped: self.mapped, lifetime });
                // Install what was asked for before (or on the lost allocation).
                for i in 0..self.permissions.len() {
                    if let Some(p) = self.permissions.get_mut(i) {
                        p.installed = false;
                        let peer = p.peer;
                        self.send_permission(peer);
                    }
                }
                for i in 0..self.channels.len() {
                    if let Some(c) = self.channels.get_mut(i) {
                        c.bound = false;
                        let (peer, number) = (c.peer, c.number);
                        self.send_channel_bind(peer, number);
                    }
                }
            }
            Tag::Refresh { lifetime: requested } => {
                self.tx.handle_response(now, msg)?;
                self.stale_nonces = 0;
                if requested == 0 || self.state == State::Closing {
                    self.finish_close();
                } else if self.state == State::Allocated {
                    let lifetime = lifetime.unwrap_or(self.config.lifetime);
                    self.set_lifetime(lifetime);
                    self.events.push(TurnEvent::Refreshed { lifetime });
                }
            }
            Tag::Permission { peer } => {
                self.tx.handle_response(now, msg)?;
                self.stale_nonces = 0;
                if let Some(p) = self.permissions.iter_mut().find(|p| p.peer == peer) {
                    p.in_flight = false;
                    p.refresh_at = now + PERMISSION_REFRESH;
                    if !p.installed {
                        p.installed = true;
                        self.events.push(TurnEvent::PermissionCreated { peer });
                    }
                }
                self.arm_tables();
            }
            Tag::Channel { peer, channel } => {
                self.tx.handle_response(now, msg)?;
                self.stale_nonces = 0;
                if let Some(c) = self.channels.iter_mut().find(|c| c.peer == peer && c.number == channel) {
                    c.in_flight = false;
                    c.refresh_at = now + CHANNEL_REFRESH;
                    if !c.bound {
                        c.bound = true;
                        self.events.push(TurnEvent::ChannelBound { peer, channel });
                    }
                }
                // A binding installs or refreshes the permission too (RFC 8656 §12.2).
                if let Some(p) = self.permissions.iter_mut().find(|p| p.peer == peer.ip()) {
                    p.refresh_at = p.refresh_at.max(now + PERMISSION_REFRESH);
                }
                self.arm_tables();
            }
        }
        Ok(())
    }

    fn error(&mut self, tag: Tag, code: u16, msg: &Message<&[u8]>) {
        tracing::debug!(target: TARGET, ?tag, code, "error response");
        match code {
            401 if tag == Tag::Allocate && self.key.is_none() => {
                let (Some(Attribute::Realm(realm)), Some(Attribute::Nonce(nonce))) =
                    (msg.attribute(AttributeType::REALM), msg.attribute(AttributeType::NONCE))
                else {
                    return self.fail(Failure::NoRealm);
                };
                self.realm.clear();
                self.realm.push_str(realm);
                self.nonce.clear();
                self.nonce.push_str(nonce);
                self.key = Some(Key::long_term(&self.config.username, realm, &self.config.password));
                self.start(tag);
            }
            438 => {
                self.stale_nonces += 1;
                if let Some(Attribute::Nonce(nonce)) = msg.attribute(AttributeType::NONCE) {
                    self.nonce.clear();
                    self.nonce.push_str(nonce);
                }
                if let Some(Attribute::Realm(realm)) = msg.attribute(AttributeType::REALM)
                    && realm != self.realm
                {
                    self.realm.clear();
                    self.realm.push_str(realm);
                    self.key = Some(Key::long_term(&self.config.username, realm, &self.config.password));
                }
                if self.stale_nonces > MAX_STALE_NONCE {
                    self.request_failed(tag, Failure::StaleNonce);
                } else {
                    self.start(tag);
                }
            }
            437 if tag != Tag::Allocate && self.state == State::Allocated => self.reallocate(),
            _ => self.request_failed(tag, Failure::from_code(code)),
        }
    }

    /// The server lost the allocation: make a new one; permissions and channels are re-installed on it.
    fn reallocate(&mut self) {
        tracing::debug!(target: TARGET, "allocation lost (437): allocating again");
        self.events.push(TurnEvent::AllocationLost);
        self.cancel_all();
        self.timers.clear_all();
        for p in &mut self.permissions {
            p.installed = false;
            p.in_flight = false;
        }
        for c in &mut self.channels {
            c.bound = false;
            c.in_flight = false;
        }
        self.state = State::Allocating;
        self.relayed = None;
        self.start(Tag::Allocate);
    }

    fn request_failed(&mut self, tag: Tag, failure: Failure) {
        match tag {
            Tag::Allocate => self.fail(failure),
            Tag::Refresh { .. } if self.state == State::Closing => self.finish_close(),
            Tag::Refresh { .. } => {
                if failure == Failure::TimedOut && self.now < self.expires_at {
                    // Try again while the allocation may still be alive.
                    self.events.push(TurnEvent::RequestFailed { request: Request::Refresh, failure });
                    let lifetime = self.lifetime_secs();
                    self.start(Tag::Refresh { lifetime });
                } else if failure == Failure::TimedOut {
                    self.fail(Failure::Expired);
                } else {
                    self.fail(failure);
                }
            }
            Tag::Permission { peer } => {
                self.permissions.retain(|p| p.peer != peer);
                self.events.push(TurnEvent::RequestFailed { request: Request::CreatePermission, failure });
                self.arm_tables();
            }
            Tag::Channel { peer, channel } => {
                self.channels.retain(|c| !(c.peer == peer && c.number == channel));
                self.events.push(TurnEvent::RequestFailed { request: Request::ChannelBind, failure });
                self.arm_tables();
            }
        }
    }

    fn fail(&mut self, failure: Failure) {
        tracing::debug!(target: TARGET, %failure, "TURN client failed");
        self.cancel_all();
        self.timers.clear_all();
        self.state = State::Failed;
        self.relayed = None;
        self.events.push(TurnEvent::Failed(failure));
    }

    fn finish_close(&mut self) {
        self.cancel_all();
        self.timers.clear_all();
        self.state = State::Closed;
        self.relayed = None;
        self.events.push(TurnEvent::Closed);
    }

    /// Stops every request in progress (a fresh table: the old one's requests are forgotten).
    fn cancel_all(&mut self) {
        if !self.tx.is_empty() {
            let capacity = tx_capacity(&self.config);
            self.tx = Transactions::new(self.config.transaction, capacity, self.rng.fork());
        }
    }

    fn lifetime_secs(&self) -> u32 {
        u32::try_from(self.config.lifetime.as_secs()).unwrap_or(u32::MAX)
    }

    fn set_lifetime(&mut self, lifetime: Duration) {
        self.expires_at = self.now + lifetime;
        // Refresh a minute early, or at half-life for short lifetimes (RFC 8656 §8 leaves the margin open).
        let margin = if lifetime > Duration::from_secs(120) { Duration::from_secs(60) } else { lifetime / 2 };
        self.timers.set(Timer::Refresh, self.expires_at - margin);
    }

    fn arm_tables(&mut self) {
        match self.permissions.iter().filter(|p| !p.in_flight && p.installed).map(|p| p.refresh_at).min() {
            Some(at) => self.timers.set(Timer::Permissions, at),
            None => self.timers.clear(Timer::Permissions),
        }
        match self.channels.iter().filter(|c| !c.in_flight && c.bound).map(|c| c.refresh_at).min() {
            Some(at) => self.timers.set(Timer::Channels, at),
            None => self.timers.clear(Timer::Channels),
        }
    }

    fn send_permission(&mut self, peer: IpAddr) {
        if let Some(p) = self.permissions.iter_mut().find(|p| p.peer == peer) {
            p.in_flight = true;
        }
        self.start(Tag::Permission { peer });
    }

    fn send_channel_bind(&mut self, peer: SocketAddr, channel: u16) {
        if let Some(c) = self.channels.iter_mut().find(|c| c.peer == peer && c.number == channel) {
            c.in_flight = true;
        }
        self.start(Tag::Channel { peer, channel });
    }

    /// Starts the request for `tag` with the current credentials.
    fn start(&mut self, tag: Tag) {
        let method = match tag {
            Tag::Allocate => Method::ALLOCATE,
            Tag::Refresh { .. } => Method::REFRESH,
            Tag::Permission { .. } => Method::CREATE_PERMISSION,
            Tag::Channel { .. } => Method::CHANNEL_BIND,
        };
        let (config, key, realm, nonce) = (&self.config, self.key.as_ref(), &self.realm, &self.nonce);
        let lifetime = u32::try_from(config.lifetime.as_secs()).unwrap_or(u32::MAX);
        let result = self.tx.start(self.now, tag, method, |b| {
            match tag {
                Tag::Allocate => {
                    b.add(Attribute::RequestedTransport(17))?;
                    if config.family == RelayFamily::V6 {
                        b.add_raw(REQUESTED_ADDRESS_FAMILY, &[0x02, 0, 0, 0])?;
                    }
                    b.add(Attribute::Lifetime(lifetime))?;
                }
                Tag::Refresh { lifetime } => {
                    b.add(Attribute::Lifetime(lifetime))?;
                }
                Tag::Permission { peer } => {
                    b.add(Attribute::XorPeerAddress(SocketAddr::new(peer, 0)))?;
                }
                Tag::Channel { peer, channel } => {
                    b.add(Attribute::ChannelNumber(channel))?;
                    b.add(Attribute::XorPeerAddress(peer))?;
                }
            }
            if let Some(key) = key {
                b.add(Attribute::Username(&config.username))?;
                b.add(Attribute::Realm(realm))?;
                b.add(Attribute::Nonce(nonce))?;
                b.message_integrity(key)?;
            }
            b.fingerprint()?;
            Ok(())
        });
        if let Err(e) = result {
            // Only a full table (bounded by the permission and channel limits) can refuse.
            tracing::debug!(target: TARGET, error = %e, ?tag, "request not started");
            if tag != Tag::Allocate && !matches!(tag, Tag::Refresh { .. }) {
                self.request_failed(tag, Failure::Server(0));
            }
        }
    }

    /// Moves requests the transactions want sent into the output queue and handles their timeouts.
    fn pump(&mut self) {
        while let Some((_, bytes)) = self.tx.poll_transmit() {
            if !self.out.push((), bytes) {
                break;
            }
        }
        while let Some((tag, event)) = self.tx.poll_event() {
            if let TransactionEvent::TimedOut { id } = event {
                tracing::debug!(target: TARGET, ?tag, "request timed out");
                let failure =
                    if self.integrity_failed == Some(id) { Failure::IntegrityViolated } else { Failure::TimedOut };
                self.request_failed(tag, failure);
                while let Some((_, bytes)) = self.tx.poll_transmit() {
                    if !self.out.push((), bytes) {
                        break;
                    }
                }
            }
        }
    }

    fn on_timer(&mut self, timer: Timer) {
        let now = self.now;
        match timer {
            Timer::Refresh if self.state == State::Allocated => {
                if now >= self.expires_at {
                    return self.fail(Failure::Expired);
                }
                let lifetime = self.lifetime_secs();
                self.start(Tag::Refresh { lifetime });
            }
            Timer::Permissions if self.state == State::Allocated => {
                let mut i = 0;
                while let Some(p) = self.permissions.get(i).copied() {
                    if p.installed && !p.in_flight && p.refresh_at <= now {
                        self.send_permission(p.peer);
                    }
                    i += 1;
                }
                self.arm_tables();
            }
            Timer::Channels if self.state == State::Allocated => {
                let mut i = 0;
                while let Some(c) = self.channels.get(i).copied() {
                    if c.bound && !c.in_flight && c.refresh_at <= now {
                        self.send_channel_bind(c.peer, c.number);
                    }
                    i += 1;
                }
                self.arm_tables();
            }
            _ => {}
        }
    }
}

/// Room in the transactions table: one per permission and channel, plus allocation requests.
fn tx_capacity(config: &TurnConfig) -> usize {
    config.max_permissions + config.max_channels.min(4096) + 4
}

impl Machine for TurnClient {
    type Event = TurnEvent;

    fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
        // A transaction fires one step per call: catch up after a late call (bounded: Rc steps at most).
        for _ in 0..16 {
            self.tx.handle_timeout(self.now);
            self.pump();
            if self.tx.poll_timeout().is_none_or(|t| t > self.now) {
                break;
            }
        }
        while let Some(timer) = self.timers.pop_due(self.now) {
            self.on_timer(timer);
        }
        self.pump();
    }

    /// The next event. A pure read: it owes the server nothing.
    fn poll_event(&mut self) -> Option<TurnEvent> {
        self.events.pop()
    }

    /// The earliest timer (refreshes, retransmissions), or the latest `now` given while datagrams wait in
    /// `poll_transmit` (after [`TurnClient::send_to`], a permission or channel request, …).
    fn poll_timeout(&self) -> Option<Instant> {
        let timer = match (self.timers.next(), self.tx.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        deadline(timer, self.now, !self.out.is_empty())
    }
}

impl PathMachine for TurnClient {
    type Error = Error;

    fn handle_receive(&mut self, now: Instant, datagram: Datagram<'_>) -> Result<(), Error> {
        if let Some(PeerData { peer, data }) = self.handle_receive_peer(now, datagram)?
            && !self.received.push(peer, data)
        {
            tracing::debug!(target: TARGET, %peer, "receive queue full, peer datagram dropped");
        }
        Ok(())
    }

    fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        let (source, destination) = (self.config.local, self.config.server);
        let ((), contents) = self.out.pop()?;
        Some(Transmit { source, destination, contents })
    }
}
