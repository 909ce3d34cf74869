//! The peer connection machine and its pipeline: a received datagram goes down one path (RFC 7983 demux
//! → ICE/TURN → DTLS → SCTP, or → SRTP → its transceiver) and a sent message up one path (SCTP → DTLS →
//! ICE/TURN, or SRTP → ICE/TURN), each layer's output handed to the next where it is produced. Signalling
//! lives in [`super::signaling`] and [`super::negotiate`], channels in [`super::channels`], transceivers in
//! [`super::transceiver`], media packets in [`super::rtp`], SDP mapping in [`super::describe`].

use core::net::SocketAddr;

use super::channels::Channels;
use super::error::{Error, RecvError};
use super::rtp::MediaIo;
use super::signaling::Signaling;
use super::transceiver::Transceivers;
use super::{Config, ConnectionState, Event, IceGatheringState, IceTransportPolicy, SignalingState, Stats, TARGET};
use crate::datachannel::{self, DataChannels};
use crate::demux::{PacketKind, classify};
use crate::dtls::{self, Certificate, Dtls, Fingerprint as DtlsFingerprint};
use crate::ice::{self, CandidateKind, IceAgent, IceConnectionState, IceEvent};
use crate::machine::{Datagram, DatagramMachine, Machine, PathMachine, Transmit};
use crate::rand::SeededRng;
use crate::sctp::{Association, CloseReason};
use crate::time::Instant;
use crate::turn::{IceRelay, IceRelayError, IceRelayEvent, TurnClient, TurnEvent};
use crate::util::EventQueue;

/// After this long without a datagram received or a message sent, the connection gives back the buffers
/// its layers keep for reuse (an idle connection holds little memory; a busy one allocates nothing).
const IDLE_TRIM: core::time::Duration = core::time::Duration::from_secs(1);
/// At most this many TURN servers per connection.
const MAX_TURN_SERVERS: usize = 4;

/// The secure transport, from negotiation to its end. Held inline, like the connection's other layers: a
/// connection is one allocation-free value on the per-packet path.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub(super) enum Secure {
    /// No answer yet: the DTLS role is not known.
    Unnegotiated,
    /// We are the DTLS client and wait for ICE to select a pair.
    AwaitingPair,
    /// The DTLS connection: handshaking, connected or closed.
    Dtls(Dtls),
}

/// How the connection ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Life {
    /// Running.
    Open,
    /// The peer closed it: DTLS close_notify, or an SCTP ABORT or SHUTDOWN (W3C `closed`).
    ClosedByPeer,
    /// A DTLS fatal alert or handshake failure (W3C `failed`; ICE failure shows through ICE's state).
    Failed,
    /// [`PeerConnection::close`] was called.
    Closed,
}

/// A WebRTC peer connection. See the [module docs](super).
#[derive(Debug)]
pub struct PeerConnection {
    pub(super) config: Config,
    pub(super) rng: SeededRng,
    now: Instant,
    pub(super) ice: IceRelay,
    pub(super) certificate: Certificate,
    secure: Secure,
    /// Boxed: a connection with media alone never makes it.
    pub(super) dc: Option<alloc::boxed::Box<DataChannels>>,
    pub(super) sig: Signaling,
    pub(super) channels: Channels,
    pub(super) transceivers: Transceivers,
    pub(super) media: MediaIo,
    /// The bandwidth estimator and pacer, made with the RTP session when transport-wide CC is
    /// negotiated ([`super::congestion`]).
    pub(super) cc: Option<alloc::boxed::Box<super::congestion::Congestion>>,
    pub(super) gathering: IceGatheringState,
    ice_state: IceConnectionState,
    state: ConnectionState,
    life: Life,
    events: EventQueue<Event>,
    /// When a datagram last arrived or a message was last sent (see [`IDLE_TRIM`]).
    last_activity: Instant,
    pub(super) stats: Stats,
    /// mDNS: the resolver of remote `.local` candidates and the candidates waiting on it, the names
    /// hiding our addresses; boxed, made on first use ([`super::mdns`]).
    pub(super) mdns: Option<alloc::boxed::Box<super::mdns::Mdns>>,
    /// The `sansrtc::pc` span (field `id`: the initial local ICE ufrag) entered by every call, so each
    /// layer's log lines say which connection they belong to. Entered through a clone (a reference count,
    /// nothing when no subscriber wants it), which leaves `self` free for the call.
    span: tracing::Span,
}

impl PeerConnection {
    /// A new peer connection. Everything random (ICE credentials, the certificate if none is given, DTLS
    /// and SCTP) comes from `rng`.
    pub fn new(config: Config, mut rng: SeededRng) -> Self {
        let certificate = config.certificate.clone().unwrap_or_else(|| Certificate::generate(&mut rng));
        let mut ice_config = config.ice.clone();
        if config.ice_transport_policy == IceTransportPolicy::Relay {
            ice_config.candidate_filter = ice::CandidateFilter::RELAY_ONLY;
        }
        let agent = IceAgent::new(ice_config, rng.fork());
        let ice = IceRelay::with_agent_only(agent).with_transmit_capacity(config.max_transmits);
        let session_id = rng.u64() >> 2;
        let span = tracing::error_span!(target: TARGET, "pc", id = %ice.agent().local_credentials().ufrag);
        PeerConnection {
            span,
            events: EventQueue::new(config.max_events),
            last_activity: Instant::ZERO,
            config,
            rng,
            now: Instant::ZERO,
            ice,
            certificate,
            secure: Secure::Unnegotiated,
            dc: None,
            sig: Signaling::new(session_id),
            channels: Channels::default(),
            transceivers: Transceivers::default(),
            media: MediaIo::default(),
            cc: None,
            gathering: IceGatheringState::New,
            ice_state: IceConnectionState::New,
            state: ConnectionState::New,
            life: Life::Open,
            stats: Stats::default(),
            mdns: None,
        }
    }

    // ----- accessors -----

    /// The aggregate connection state.
    pub fn connection_state(&self) -> ConnectionState {
        self.state
    }

    /// The ICE connection state.
    pub fn ice_connection_state(&self) -> IceConnectionState {
        self.ice_state
    }

    /// The ICE gathering state.
    pub fn ice_gathering_state(&self) -> IceGatheringState {
        self.gathering
    }

    /// The ICE agent (for its candidates, pairs and counters).
    pub fn ice(&self) -> &IceAgent {
        self.ice.agent()
    }

    /// The TURN clients of the servers whose allocation has started, in [`Config::turn_servers`] order
    /// (for their relayed addresses, channels and counters).
    pub fn turn_clients(&self) -> impl Iterator<Item = &TurnClient> + '_ {
        self.ice.turns()
    }

    /// The DTLS connection, once the DTLS role is negotiated (and, for a client, ICE has a pair).
    pub fn dtls(&self) -> Option<&Dtls> {
        if let Secure::Dtls(d) = &self.secure { Some(d) } else { None }
    }

    /// The DTLS role, once negotiated.
    pub fn dtls_role(&self) -> Option<dtls::Role> {
        match &self.secure {
            Secure::Unnegotiated => None,
            Secure::AwaitingPair => Some(dtls::Role::Client),
            Secure::Dtls(d) => Some(d.role()),
        }
    }

    /// The media state and the DTLS connection (for SRTP keys), borrowed together.
    pub(super) fn media_parts(&mut self) -> (&mut MediaIo, Option<&Dtls>) {
        let dtls = if let Secure::Dtls(d) = &self.secure { Some(d) } else { None };
        (&mut self.media, dtls)
    }

    /// The data channel layer, once the DTLS role is negotiated.
    pub fn data_channels(&self) -> Option<&DataChannels> {
        self.dc.as_deref()
    }

    /// The local certificate's fingerprint (what `a=fingerprint` carries).
    pub fn local_fingerprint(&self) -> DtlsFingerprint {
        self.certificate.fingerprint()
    }

    /// Counters of what was dropped here.
    pub fn stats(&self) -> Stats {
        Stats { transmit_dropped: self.ice.transmits_dropped(), events_dropped: self.events.dropped(), ..self.stats }
    }

    /// The current local ICE ufrag: the key under which a caller sharing one socket between many
    /// connections files this one (see [`super::stun_username_local_ufrag`]). It changes on an ICE restart.
    pub fn local_ufrag(&self) -> &str {
        &self.ice.agent().local_credentials().ufrag
    }

    /// The remote address of the selected ICE pair: the key for non-STUN datagrams once connected.
    pub fn remote_address(&self) -> Option<SocketAddr> {
        self.ice.agent().selected_pair().map(|(_, remote)| remote.address)
    }

    /// Whether `datagram` belongs to this connection: a STUN message whose USERNAME starts with our ufrag,
    /// or anything from the selected pair's remote address, a known remote candidate or one of our TURN
    /// servers, or an mDNS response (from port 5353) while a `.local` candidate's name is being resolved. O(number of remote candidates); for many connections on one socket prefer a map on
    /// [`Self::local_ufrag`] and [`Self::remote_address`].
    pub fn accepts(&self, datagram: &Datagram<'_>) -> bool {
        if let Some(ufrag) = super::stun_username_local_ufrag(datagram.contents) {
            return ufrag == self.local_ufrag();
        }
        self.remote_address() == Some(datagram.source)
            || self.ice.agent().remote_candidates().iter().any(|c| c.address == datagram.source)
            || self.ice.accepts_turn(datagram)
            || self.takes_mdns(datagram)
    }

    // ----- gathering -----

    /// Declares a local UDP socket: a host candidate is gathered on it (and reported as
    /// [`Event::LocalCandidate`]), and TURN servers waiting for a socket of its family allocate from it.
    /// Then drain transmits and events.
    pub fn add_local_host(&mut self, now: Instant, addr: SocketAddr) -> Result<(), Error> {
        let _span = self.enter_span();
        self.touch(now);
        self.check_open()?;
        self.add_turn_servers();
        self.hide_host(addr);
        self.ice.add_local_host(now, addr)?;
        self.ask_mdns(now);
        self.set_gathering(IceGatheringState::Gathering);
        self.flush();
        Ok(())
    }

    /// Declares a local TCP host candidate (ICE-TCP, RFC 6544; see [`crate::ice::IceAgent::add_local_tcp`]):
    /// `Passive` for a listening socket (a server), `Active` for the connections this side opens (a
    /// client; advertised with port 9). The caller owns the connections and keeps the datagram shape:
    /// it splits each connection's bytes into RFC 4571 frames ([`crate::ice::framing::FrameDecoder`], one
    /// per connection) and hands each frame to `handle_receive` with the peer's address as `source` and
    /// `addr` as `destination`; a transmit whose `source` is `addr` goes out on the connection to its
    /// `destination` behind [`crate::ice::framing::frame_header`] (from an `Active` base, connecting there
    /// first if no connection exists). Then drain transmits and events.
    pub fn add_local_tcp(
        &mut self,
        now: Instant,
        addr: SocketAddr,
        tcp_type: crate::ice::TcpType,
    ) -> Result<(), Error> {
        let _span = self.enter_span();
        self.touch(now);
        self.check_open()?;
        self.ice.add_local_tcp(now, addr, tcp_type)?;
        self.set_gathering(IceGatheringState::Gathering);
        self.flush();
        Ok(())
    }

    /// Adds a STUN server for server-reflexive candidates.
    pub fn add_stun_server(&mut self, now: Instant, server: SocketAddr) -> Result<(), Error> {
        let _span = self.enter_span();
        self.touch(now);
        self.check_open()?;
        self.add_turn_servers();
        self.ice.add_stun_server(now, server)?;
        self.set_gathering(IceGatheringState::Gathering);
        self.flush();
        Ok(())
    }

    /// No more local sockets: gathering completes once server-reflexive gathering is done and every TURN
    /// allocation has succeeded or failed ([`Event::IceGatheringState`] `Complete`). A TURN server still
    /// waiting for a host socket of its family gives up ([`Event::IceCandidateError`] with
    /// [`crate::turn::Failure::AddressFamilyNotSupported`]).
    pub fn end_of_local_candidates(&mut self, now: Instant) {
        let _span = self.enter_span();
        self.touch(now);
        if self.check_open().is_err() {
            return;
        }
        self.add_turn_servers();
        self.ice.end_of_local_candidates(now);
        self.flush();
    }

    /// At the first gathering call, the TURN servers of the configuration join ICE: those naming a socket
    /// allocate from it at once, the others from the first host socket of their family.
    fn add_turn_servers(&mut self) {
        if self.ice.server(0).is_some() || self.config.turn_servers.is_empty() {
            return;
        }
        for server in self.config.turn_servers.iter().take(MAX_TURN_SERVERS) {
            let _ = self.ice.add_turn_server_with(self.now, server.clone(), self.rng.fork());
        }
        self.set_gathering(IceGatheringState::Gathering);
    }

    /// What the candidates we signal hide: related addresses under the relay policy or while hiding host
    /// addresses, and the host addresses' names while hiding ([`super::mdns`]).
    pub(super) fn hiding(&self) -> super::describe::Hiding<'_> {
        let names = self.hidden_names();
        let related = self.config.ice_transport_policy == IceTransportPolicy::Relay || names.is_some();
        super::describe::Hiding { related, names }
    }

    // ----- the transport -----

    /// Fixes the DTLS role (once): a DTLS server starts at once, a client once ICE has selected a pair.
    /// Then starts the data channel layer if a data channel section is negotiated.
    pub(super) fn start_transport(&mut self, role: dtls::Role) {
        if matches!(self.secure, Secure::Unnegotiated) {
            tracing::debug!(target: TARGET, ?role, "DTLS role");
            self.secure = match role {
                dtls::Role::Server => Secure::Dtls(self.new_dtls(role)),
                dtls::Role::Client => Secure::AwaitingPair,
            };
            self.start_dtls_client();
        }
        self.start_data();
    }

    /// Creates the data channel layer once a data channel section is negotiated and the DTLS role known
    /// (an offer/answer exchange may add one to a connection carrying only media); it connects at once if
    /// DTLS already is.
    fn start_data(&mut self) {
        let Some(role) = self.dtls_role() else { return };
        if self.dc.is_some() || !self.sig.data_negotiated {
            return;
        }
        let now = self.now;
        let mut sctp = self.config.sctp;
        sctp.local_port = 5000;
        let remote = self.sig.remote.as_ref();
        let remote_max = remote.map_or(65_536, |r| r.max_message_size);
        sctp.remote_port = remote.map_or(5000, |r| r.sctp_port);
        let local_max = self.config.max_message_size;
        let max = if remote_max == 0 { local_max } else { local_max.min(remote_max) };
        sctp.max_message_size = usize::try_from(max).unwrap_or(usize::MAX);
        let dc_role = match role {
            dtls::Role::Client => datachannel::Role::Client,
            dtls::Role::Server => datachannel::Role::Server,
        };
        let mut dc = alloc::boxed::Box::new(DataChannels::new(Association::new(sctp, self.rng.fork()), dc_role));
        let events = &mut self.events;
        self.channels.open_pending(now, &mut dc, &mut |e| {
            events.push(e);
        });
        if self.dtls().is_some_and(Dtls::is_connected) {
            dc.connect(now);
        }
        self.dc = Some(dc);
    }

    fn new_dtls(&mut self, role: dtls::Role) -> Dtls {
        let mut config = dtls::Config::new(self.certificate.clone());
        config.srtp_profiles = self.config.srtp_profiles.to_vec();
        // RFC 6347 §4.2.1: the cookie exchange keeps a server from answering spoofed source addresses.
        // Here DTLS only ever arrives from addresses ICE has validated (a check answered with our password),
        // so it would only cost a round trip.
        config.cookie_exchange = false;
        config.key_log = self.config.key_log;
        config.versions = self.config.dtls_versions;
        let mut d = match role {
            dtls::Role::Client => Dtls::client(config, self.rng.fork(), self.now),
            dtls::Role::Server => Dtls::server(config, self.rng.fork()),
        };
        if let Some(r) = &self.sig.remote {
            d.set_remote_fingerprint(r.fingerprint);
        }
        d
    }

    /// The DTLS client starts its handshake once ICE has a selected pair.
    fn start_dtls_client(&mut self) {
        if matches!(self.secure, Secure::AwaitingPair) && self.ice.agent().selected_pair().is_some() {
            self.secure = Secure::Dtls(self.new_dtls(dtls::Role::Client));
        }
    }

    pub(super) fn set_remote_fingerprint(&mut self, fingerprint: DtlsFingerprint) {
        if let Secure::Dtls(d) = &mut self.secure {
            d.set_remote_fingerprint(fingerprint);
        }
    }

    /// Hands on what the last call produced, in one pass down the layers and one back up: ICE's and
    /// TURN's events, DTLS's events and received data (up to SCTP), then what SCTP and DTLS owe (down
    /// through ICE), then the connection's state.
    pub(super) fn flush(&mut self) {
        self.on_ice_events();
        self.after_dtls();
        self.send_down();
        self.update_state();
    }

    fn on_ice_events(&mut self) {
        while let Some(e) = self.ice.poll_event() {
            match e {
                IceRelayEvent::Ice(e) => self.on_ice_event(e),
                IceRelayEvent::Turn(i, e) => {
                    tracing::debug!(target: TARGET, event = ?e, "TURN");
                    if let (TurnEvent::Failed(failure), Some(server)) = (e, self.ice.server(i)) {
                        self.emit(Event::IceCandidateError { server, failure });
                    }
                }
            }
        }
    }

    fn on_ice_event(&mut self, e: IceEvent) {
        match e {
            IceEvent::StateChanged(s) => {
                if self.ice_state != s {
                    self.ice_state = s;
                    self.emit(Event::IceConnectionState(s));
                }
            }
            IceEvent::LocalCandidate(c) => {
                if c.kind != CandidateKind::PeerReflexive {
                    let candidate = alloc::format!("candidate:{}", super::describe::sdp_candidate(&c, self.hiding()));
                    let mid = self.sig.transport_mid.clone();
                    self.emit(Event::LocalCandidate { candidate, mid });
                }
            }
            IceEvent::GatheringComplete => self.set_gathering(IceGatheringState::Complete),
            IceEvent::SelectedPairChanged { local, remote } => {
                tracing::debug!(target: TARGET, local = %local.base, remote = %remote.address, "selected pair");
                self.start_dtls_client();
            }
            IceEvent::RoleChanged(role) => tracing::debug!(target: TARGET, ?role, "ICE role changed"),
        }
    }

    /// Up: DTLS's events (connected: SCTP starts; closed: the connection ends) and its received
    /// application data, to SCTP.
    fn after_dtls(&mut self) {
        let now = self.now;
        let Secure::Dtls(d) = &mut self.secure else { return };
        let mut end = None;
        while let Some(e) = d.poll_event() {
            match e {
                dtls::Event::Connected(c) => {
                    tracing::debug!(target: TARGET, role = ?c.role, "DTLS connected");
                    self.media.key(&c);
                    if let Some(dc) = self.dc.as_mut() {
                        dc.connect(now);
                    }
                }
                dtls::Event::Closed { reason } => {
                    tracing::debug!(target: TARGET, %reason, "DTLS closed");
                    // A close_notify (the peer's, or ours answering it) is a clean end; anything else failed.
                    let clean = matches!(reason, dtls::Error::PeerClosed | dtls::Error::Closed);
                    end = Some(if clean { Life::ClosedByPeer } else { Life::Failed });
                }
                _ => {}
            }
        }
        if let Some(dc) = self.dc.as_mut() {
            while let Some(p) = d.poll_data() {
                if let Err(e) = dc.handle_receive(now, p) {
                    tracing::debug!(target: TARGET, error = %e, "SCTP packet dropped");
                }
            }
            // The peer ended the association: the connection is over (as browsers report it).
            if matches!(dc.association().close_reason(), Some(CloseReason::PeerAbort | CloseReason::Shutdown)) {
                end = end.or(Some(Life::ClosedByPeer));
            }
        }
        if let Some(life) = end {
            self.end(life);
        }
    }

    /// Down: what SCTP owes goes into DTLS records, and DTLS's datagrams out through ICE (or a relay).
    pub(super) fn send_down(&mut self) {
        let now = self.now;
        let secure = if let Secure::Dtls(d) = &mut self.secure { Some(d) } else { None };
        match (self.dc.as_mut(), secure) {
            (Some(dc), Some(d)) if d.is_connected() => {
                while let Some(p) = dc.poll_transmit() {
                    if let Err(e) = d.send(p) {
                        tracing::debug!(target: TARGET, error = %e, "SCTP packet not sent");
                    }
                }
            }
            // No secure path (gone, or not up yet, when SCTP owes nothing): what SCTP owes is dropped, or
            // its `poll_timeout` would say "now" for ever (an ABORT owed after the peer's close_notify).
            (Some(dc), _) => while dc.poll_transmit().is_some() {},
            (None, _) => {}
        }
        let Secure::Dtls(d) = &mut self.secure else { return };
        while let Some(p) = d.poll_transmit() {
            if let Err(e) = self.ice.send(now, p) {
                tracing::trace!(target: TARGET, error = %e, "DTLS datagram not sent");
            }
        }
    }

    fn update_state(&mut self) {
        let dtls_connected = self.dtls().is_some_and(Dtls::is_connected);
        let s = match self.life {
            Life::Closed | Life::ClosedByPeer => ConnectionState::Closed,
            Life::Failed => ConnectionState::Failed,
            Life::Open => match self.ice_state {
                IceConnectionState::Failed => ConnectionState::Failed,
                IceConnectionState::Disconnected => ConnectionState::Disconnected,
                IceConnectionState::Connected | IceConnectionState::Completed if dtls_connected => {
                    ConnectionState::Connected
                }
                IceConnectionState::New if matches!(self.secure, Secure::Unnegotiated | Secure::AwaitingPair) => {
                    ConnectionState::New
                }
                _ => ConnectionState::Connecting,
            },
        };
        if s != self.state {
            self.state = s;
            self.emit(Event::ConnectionState(s));
        }
    }

    /// The connection ends (by the peer, a failure, or [`Self::close`]): every channel closes, SCTP is
    /// aborted and DTLS says close_notify where they still can, ICE stops and TURN allocations are
    /// released.
    fn end(&mut self, life: Life) {
        if self.life != Life::Open {
            return;
        }
        self.life = life;
        let now = self.now;
        if let Some(dc) = self.dc.as_mut()
            && life != Life::Closed
        {
            // What arrived before the end is still delivered, before the channels close.
            while let Some(e) = dc.poll_event() {
                let mut second = None;
                if let Some(e) = self.channels.on_dc_event(e, &mut second) {
                    self.events.push(e);
                }
                if let Some(e) = second {
                    self.events.push(e);
                }
            }
        }
        self.update_state();
        if let Some(dc) = self.dc.as_mut() {
            dc.association_mut().abort(now);
        }
        self.send_down();
        if let Secure::Dtls(d) = &mut self.secure {
            d.close();
        }
        self.send_down();
        for slot in self.channels.take_all() {
            self.emit(Event::ChannelClose(slot.id));
        }
        self.ice.close(now);
        while let Some(e) = self.ice.poll_event() {
            if let IceRelayEvent::Ice(IceEvent::StateChanged(s)) = e {
                // W3C `close()` changes the ICE state without an event; an end the peer caused reports it.
                self.ice_state = s;
                if life != Life::Closed {
                    self.emit(Event::IceConnectionState(s));
                }
            }
        }
    }

    /// Closes the connection: SCTP is aborted, DTLS sends close_notify, ICE stops, TURN allocations are
    /// released. Drain `poll_transmit` once more to send the last datagrams; every open channel reports
    /// [`Event::ChannelClose`].
    pub fn close(&mut self, now: Instant) {
        let _span = self.enter_span();
        self.touch(now);
        if self.life == Life::Closed {
            return;
        }
        if self.life == Life::Open {
            self.end(Life::Closed);
        } else {
            self.life = Life::Closed;
        }
        self.set_signaling(SignalingState::Closed);
        self.update_state();
    }

    // ----- internals -----

    /// Enters the connection's log span until the guard drops (`let _span = self.enter_span();`).
    pub(super) fn enter_span(&self) -> tracing::span::EnteredSpan {
        self.span.clone().entered()
    }

    pub(super) fn check_open(&self) -> Result<(), Error> {
        if self.life == Life::Closed { Err(Error::Closed) } else { Ok(()) }
    }

    /// Gives back the buffers the layers keep for reuse, where nothing is waiting in them.
    fn trim(&mut self) {
        self.events.trim();
        self.ice.trim();
        if let Secure::Dtls(d) = &mut self.secure {
            d.trim();
        }
        if let Some(dc) = self.dc.as_mut() {
            dc.trim();
        }
        self.media.trim();
    }

    /// The latest `now` seen.
    pub(super) fn now(&self) -> Instant {
        self.now
    }

    pub(super) fn touch(&mut self, now: Instant) {
        if now > self.now {
            self.now = now;
        }
    }

    pub(super) fn mark_active(&mut self) {
        self.last_activity = self.now;
    }

    pub(super) fn emit(&mut self, event: Event) -> bool {
        tracing::trace!(target: TARGET, ?event, "event");
        self.events.push(event)
    }

    fn set_gathering(&mut self, s: IceGatheringState) {
        if self.gathering != s {
            self.gathering = s;
            self.emit(Event::IceGatheringState(s));
        }
    }

    /// Routes a datagram ICE accepted as data (RFC 7983): DTLS to DTLS, SRTP and SRTCP to the media path.
    fn receive_data(&mut self, kind: PacketKind, payload: &[u8]) -> Result<(), RecvError> {
        match (kind, &mut self.secure) {
            (PacketKind::Dtls, Secure::Dtls(d)) => d.handle_receive(self.now, payload).map_err(|e| {
                self.stats.dtls_dropped += 1;
                RecvError::Dtls(e)
            }),
            (PacketKind::Dtls, _) => {
                self.stats.not_ready_dropped += 1;
                Err(RecvError::NotReady)
            }
            (PacketKind::Rtp, _) => self.receive_rtp(payload),
            (PacketKind::Rtcp, _) => self.receive_rtcp(payload),
            _ => {
                self.stats.unknown_dropped += 1;
                Err(RecvError::Unknown)
            }
        }
    }
}

impl Machine for PeerConnection {
    type Event = Event;

    fn handle_timeout(&mut self, now: Instant) {
        let _span = self.enter_span();
        self.touch(now);
        let now = self.now;
        let idle = now.saturating_duration_since(self.last_activity) >= IDLE_TRIM;
        if idle {
            self.trim();
        }
        self.ice.handle_timeout(now);
        if let Secure::Dtls(d) = &mut self.secure {
            d.handle_timeout(now);
        }
        if let Some(dc) = self.dc.as_mut() {
            dc.handle_timeout(now);
        }
        self.rtp_session_timeout(now);
        self.congestion_timeout(now);
        self.mdns_timeout(now);
        self.audio_timeout(now);
        self.flush();
        if idle {
            // What the timers just sent (a heartbeat, a keepalive) leaves no buffer behind in the layers
            // it went through; ICE's queue is trimmed on the next call, once it has been drained.
            self.trim();
        }
    }

    /// The next event. Data channel events are taken from the data channel layer only as the
    /// application asks for them, so messages it has not taken stay in SCTP's receive buffer and close
    /// the receive window (RFC 9260 §6.2): a slow reader slows the sender down and no event is dropped.
    /// Taking a message can owe the peer a window update; [`Machine::poll_timeout`] then says "now".
    fn poll_event(&mut self) -> Option<Event> {
        let _span = self.enter_span();
        if let Some(e) = self.events.pop() {
            return Some(e);
        }
        if self.life == Life::Closed {
            return None;
        }
        loop {
            let e = self.dc.as_mut()?.poll_event()?;
            let mut second = None;
            let mapped = self.channels.on_dc_event(e, &mut second);
            if let Some(second) = second {
                self.events.push(second);
            }
            if mapped.is_some() {
                return mapped;
            }
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let dtls = self.dtls().and_then(Machine::poll_timeout);
        let dc = self.dc.as_deref().and_then(Machine::poll_timeout);
        [
            self.ice.poll_timeout(),
            dtls,
            dc,
            self.rtp_session_deadline(),
            self.congestion_deadline(),
            self.mdns_poll_timeout(),
            self.audio_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

impl PathMachine for PeerConnection {
    type Error = RecvError;

    fn handle_receive(&mut self, now: Instant, datagram: Datagram<'_>) -> Result<(), RecvError> {
        let _span = self.enter_span();
        self.touch(now);
        let now = self.now;
        if self.is_mdns(&datagram) && self.life != Life::Closed {
            // Before the RFC 7983 demux: see `super::mdns`.
            let r = self.receive_mdns(now, datagram);
            self.flush();
            return r;
        }
        let kind = classify(datagram.contents);
        let for_turn = matches!(kind, PacketKind::Stun | PacketKind::TurnChannel) && self.ice.accepts_turn(&datagram);
        if self.life == Life::Closed && !for_turn {
            // Taken after close only from TURN servers, so the release of an allocation completes.
            self.stats.closed_dropped += 1;
            return Err(RecvError::Closed);
        }
        if !for_turn && !matches!(kind, PacketKind::Stun | PacketKind::Dtls | PacketKind::Rtp | PacketKind::Rtcp) {
            self.stats.unknown_dropped += 1;
            return Err(RecvError::Unknown);
        }
        let r = match self.ice.receive(now, datagram) {
            Ok(None) => Ok(()),
            Ok(Some(payload)) => {
                // Relayed data is classified again: ChannelData carries the peer's datagram.
                let kind = classify(payload);
                self.receive_data(kind, payload)
            }
            Err(IceRelayError::Turn(e)) => {
                self.stats.turn_dropped += 1;
                Err(RecvError::Turn(e))
            }
            Err(IceRelayError::Ice(e)) => {
                self.stats.ice_dropped += 1;
                Err(RecvError::Ice(e))
            }
            Err(IceRelayError::Api(_)) => {
                self.stats.unknown_dropped += 1;
                Err(RecvError::Unknown)
            }
        };
        if r.is_ok() && kind != PacketKind::Stun {
            // Only what the layers above ICE took keeps the connection from trimming its buffers: junk
            // does not, nor do ICE's checks and consent answers (an idle connection gets one every few
            // seconds, and they go through none of those buffers).
            self.mark_active();
        }
        self.flush();
        r
    }

    fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        let _span = self.enter_span();
        if self.mdns_has_transmit() {
            return self.mdns_poll_transmit();
        }
        self.ice.poll_transmit()
    }
}
