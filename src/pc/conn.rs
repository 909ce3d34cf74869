//! The peer connection machine: signalling, routing between ICE, DTLS and the data channels, events.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::net::SocketAddr;

use bytes::Bytes;

use super::error::{Error, RecvError};
use super::{
    ChannelId, ChannelOptions, Config, ConnectionState, Description, Event, IceGatheringState, IceTransportPolicy,
    SdpKind, SignalingState, Stats, TARGET,
};
use crate::datachannel::{self, DataChannels};
use crate::demux::{PacketKind, classify};
use crate::dtls::{self, Certificate, Dtls, Fingerprint as DtlsFingerprint};
use crate::ice::{self, Candidate, CandidateKind, Credentials, IceAgent, IceConnectionState, IceEvent, Incoming};
use crate::machine::{Datagram, DatagramMachine, Machine, PathMachine, Transmit};
use crate::rand::SeededRng;
use crate::sctp::Association;
use crate::sdp::{
    CandidateAddress, CandidateAttribute, CandidateTransport, CandidateType, DescriptionBuilder, Fingerprint,
    HashFunction, MediaDescription, SctpParams, SdpType, SessionDescription, Setup, TransportParams,
};
use crate::time::Instant;
use crate::turn::ice::{on_selected_pair, on_turn_event, send_relayed, unwrap_relayed};
use crate::turn::{TurnClient, TurnConfig, TurnEvent};
use crate::util::{EventQueue, OutQueue};

/// Event queue slots kept free of data channel events, for the connection's own (state changes, …).
const EVENT_RESERVE: usize = 16;
/// Undelivered message bytes in the event queue beyond which data channel events stay in the data channel
/// layer (and count against SCTP's receive window) until the application takes some.
const MESSAGE_BYTES: usize = 256 * 1024;
/// After this long without a datagram received or a message sent, the connection gives back the buffers
/// its layers keep for reuse (an idle connection holds little memory; a busy one allocates nothing).
const IDLE_TRIM: core::time::Duration = core::time::Duration::from_secs(1);
/// At most this many TURN servers per connection.
const MAX_TURN_SERVERS: usize = 4;

/// What the remote description says about the data channel transport.
#[derive(Clone, Debug)]
struct Remote {
    ufrag: String,
    pwd: String,
    fingerprint: DtlsFingerprint,
    setup: Option<Setup>,
    lite: bool,
    sctp_port: u16,
    max_message_size: u64,
    candidates: Vec<Candidate>,
    end_of_candidates: bool,
}

#[derive(Clone, Debug)]
struct Slot {
    id: ChannelId,
    stream: Option<u16>,
    /// Options of a channel created before the data channel layer existed.
    pending: Option<ChannelOptions>,
}

/// A WebRTC peer connection. See the [module docs](super).
#[derive(Debug)]
pub struct PeerConnection {
    config: Config,
    rng: SeededRng,
    now: Instant,
    ice: IceAgent,
    certificate: Certificate,
    dtls: Option<Dtls>,
    dtls_role: Option<dtls::Role>,
    dc: Option<DataChannels>,
    remote: Option<Remote>,
    /// The remote offer being answered.
    remote_offer: Option<String>,
    signaling: SignalingState,
    data_mid: String,
    session_id: u64,
    session_version: u64,
    gathering: IceGatheringState,
    ice_state: IceConnectionState,
    state: ConnectionState,
    dtls_failed: bool,
    dtls_closed: bool,
    local_restart: bool,
    negotiated_once: bool,
    channels: Vec<Slot>,
    next_channel: u32,
    out: OutQueue<(SocketAddr, SocketAddr)>,
    events: EventQueue<Event>,
    /// Bytes of [`Event::Message`]s in `events`.
    message_bytes: usize,
    /// Data channel events were left in the data channel layer for want of room in `events`.
    dc_backlog: bool,
    /// When a datagram last arrived or a message was last sent (see [`IDLE_TRIM`]).
    last_activity: Instant,
    stats: Stats,
    closed: bool,
    /// TURN servers whose allocation has not started (waiting for a socket to allocate from).
    turn_waiting: Vec<TurnConfig>,
    /// One client per started TURN server.
    turns: Vec<TurnClient>,
    /// The caller called `end_of_local_candidates`.
    local_end: bool,
    /// The agent was told (once every allocation settled).
    ice_local_end: bool,
}

/// A local candidate in its SDP form. With `hide_related` (the relay policy) the related address, which is
/// our server-reflexive address for a relay candidate, is replaced by `0.0.0.0`/`::` port 9 (RFC 8839
/// §5.1): a relay-only policy must not expose other candidates through raddr/rport (RFC 8829 §3.5.3).
fn sdp_candidate(c: &Candidate, hide_related: bool) -> CandidateAttribute<'_> {
    let related = match c.related {
        Some(r) if hide_related => {
            let any: core::net::IpAddr = if r.is_ipv4() {
                core::net::Ipv4Addr::UNSPECIFIED.into()
            } else {
                core::net::Ipv6Addr::UNSPECIFIED.into()
            };
            Some(SocketAddr::new(any, 9))
        }
        r => r,
    };
    CandidateAttribute {
        foundation: c.foundation.as_str(),
        component: c.component,
        transport: CandidateTransport::Udp,
        priority: c.priority,
        address: CandidateAddress::Ip(c.address.ip()),
        port: c.address.port(),
        kind: match c.kind {
            CandidateKind::Host => CandidateType::Host,
            CandidateKind::ServerReflexive => CandidateType::Srflx,
            CandidateKind::PeerReflexive => CandidateType::Prflx,
            CandidateKind::Relay => CandidateType::Relay,
        },
        related_address: related.map(|r| CandidateAddress::Ip(r.ip())),
        related_port: related.map(|r| r.port()),
        tcp_type: None,
        extensions: "",
    }
}

/// An ICE candidate from its SDP form; `Ok(None)` for candidates this stack does not use (TCP, mDNS
/// names, other components), which are ignored as RFC 8839 §5.1 allows.
fn ice_candidate(c: &CandidateAttribute<'_>) -> Result<Option<Candidate>, Error> {
    if c.transport != CandidateTransport::Udp || c.component != ice::COMPONENT_RTP {
        return Ok(None);
    }
    let CandidateAddress::Ip(ip) = c.address else { return Ok(None) };
    let kind = match c.kind {
        CandidateType::Host => CandidateKind::Host,
        CandidateType::Srflx => CandidateKind::ServerReflexive,
        CandidateType::Prflx => CandidateKind::PeerReflexive,
        CandidateType::Relay => CandidateKind::Relay,
        CandidateType::Other(_) => return Ok(None),
    };
    let foundation = ice::Foundation::new(c.foundation).ok_or(Error::BadCandidate)?;
    Ok(Some(Candidate::remote(kind, SocketAddr::new(ip, c.port), c.priority, foundation)))
}

/// The first data channel section that is not rejected.
fn data_section<'s, 'a>(sdp: &'s SessionDescription<'a>) -> Option<&'s MediaDescription<'a>> {
    sdp.media.iter().find(|m| m.is_data_channel() && !m.is_rejected())
}

fn parse_remote(sdp: &SessionDescription<'_>) -> Result<(Remote, String), Error> {
    let media = data_section(sdp).ok_or(Error::NoDataChannelSection)?;
    let (ufrag, pwd) = sdp.ice_credentials_for(media).ok_or(Error::BadCredentials)?;
    Credentials::new(ufrag, pwd).map_err(|_| Error::BadCredentials)?;
    let fingerprint = sdp
        .fingerprints_for(media)
        .find(|f| f.hash == HashFunction::Sha256)
        .and_then(|f| <[u8; 32]>::try_from(f.bytes()).ok())
        .map(DtlsFingerprint)
        .ok_or(Error::NoSupportedFingerprint)?;
    let mut candidates = Vec::new();
    let mut end_of_candidates = sdp.attributes.end_of_candidates();
    let bundled: Vec<&str> = sdp.bundle_mids().collect();
    for m in sdp.media.iter().filter(|m| !m.is_rejected()) {
        let same_transport = core::ptr::eq(m, media) || m.mid().is_some_and(|mid| bundled.contains(&mid));
        if !same_transport {
            continue;
        }
        end_of_candidates |= m.attributes.end_of_candidates();
        for c in m.attributes.candidates() {
            if let Ok(Some(c)) = ice_candidate(&c) {
                if !candidates.iter().any(|k: &Candidate| k.address == c.address) {
                    crate::util::reserve_compact(&mut candidates);
                    candidates.push(c);
                }
            }
        }
    }
    let remote = Remote {
        ufrag: ufrag.to_string(),
        pwd: pwd.to_string(),
        fingerprint,
        setup: sdp.setup_for(media),
        lite: sdp.attributes.ice_lite(),
        sctp_port: media.attributes.sctp_port().unwrap_or(5000),
        // RFC 8841 §6: without the attribute, 64 KiB; 0 means no limit.
        max_message_size: media.attributes.max_message_size().unwrap_or(65_536),
        candidates,
        end_of_candidates,
    };
    Ok((remote, media.mid().unwrap_or("0").to_string()))
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
        let ice = IceAgent::new(ice_config, rng.fork());
        let turn_waiting = config.turn_servers.iter().take(MAX_TURN_SERVERS).cloned().collect();
        let session_id = rng.u64() >> 2;
        PeerConnection {
            out: OutQueue::new(config.max_transmits),
            events: EventQueue::new(config.max_events),
            message_bytes: 0,
            dc_backlog: false,
            last_activity: Instant::ZERO,
            config,
            rng,
            now: Instant::ZERO,
            ice,
            certificate,
            dtls: None,
            dtls_role: None,
            dc: None,
            remote: None,
            remote_offer: None,
            signaling: SignalingState::Stable,
            data_mid: String::from("0"),
            session_id,
            session_version: 0,
            gathering: IceGatheringState::New,
            ice_state: IceConnectionState::New,
            state: ConnectionState::New,
            dtls_failed: false,
            dtls_closed: false,
            local_restart: false,
            negotiated_once: false,
            channels: Vec::new(),
            next_channel: 0,
            stats: Stats::default(),
            closed: false,
            turn_waiting,
            turns: Vec::new(),
            local_end: false,
            ice_local_end: false,
        }
    }

    // ----- accessors -----

    /// The signalling state.
    pub fn signaling_state(&self) -> SignalingState {
        self.signaling
    }

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
        &self.ice
    }

    /// The TURN clients of the servers whose allocation has started, in [`Config::turn_servers`] order
    /// (for their relayed addresses, channels and counters).
    pub fn turn_clients(&self) -> &[TurnClient] {
        &self.turns
    }

    /// The DTLS connection, once the DTLS role is negotiated (and, for a client, ICE has a pair).
    pub fn dtls(&self) -> Option<&Dtls> {
        self.dtls.as_ref()
    }

    /// The DTLS role, once negotiated.
    pub fn dtls_role(&self) -> Option<dtls::Role> {
        self.dtls_role
    }

    /// The data channel layer, once the DTLS role is negotiated.
    pub fn data_channels(&self) -> Option<&DataChannels> {
        self.dc.as_ref()
    }

    /// The local certificate's fingerprint (what `a=fingerprint` carries).
    pub fn local_fingerprint(&self) -> DtlsFingerprint {
        self.certificate.fingerprint()
    }

    /// Counters of what was dropped here.
    pub fn stats(&self) -> Stats {
        Stats { transmit_dropped: self.out.dropped(), events_dropped: self.events.dropped(), ..self.stats }
    }

    /// The current local ICE ufrag: the key under which a caller sharing one socket between many
    /// connections files this one (see [`super::stun_username_local_ufrag`]). It changes on an ICE restart.
    pub fn local_ufrag(&self) -> &str {
        &self.ice.local_credentials().ufrag
    }

    /// The remote address of the selected ICE pair: the key for non-STUN datagrams once connected.
    pub fn remote_address(&self) -> Option<SocketAddr> {
        self.ice.selected_pair().map(|(_, remote)| remote.address)
    }

    /// Whether `datagram` belongs to this connection: a STUN message whose USERNAME starts with our ufrag,
    /// or anything from the selected pair's remote address or a known remote candidate. O(number of remote
    /// candidates); for many connections on one socket prefer a map on [`Self::local_ufrag`] and
    /// [`Self::remote_address`].
    pub fn accepts(&self, datagram: &Datagram<'_>) -> bool {
        if classify(datagram.contents) == PacketKind::Stun {
            if let Some(ufrag) = super::stun_username_local_ufrag(datagram.contents) {
                return ufrag == self.local_ufrag();
            }
        }
        self.remote_address() == Some(datagram.source)
            || self.ice.remote_candidates().iter().any(|c| c.address == datagram.source)
            || self.turns.iter().any(|t| t.accepts(datagram))
    }

    // ----- gathering -----

    /// Declares a local UDP socket: a host candidate is gathered on it (and reported as
    /// [`Event::LocalCandidate`]), and TURN servers waiting for a socket of its family allocate from it.
    /// Then drain transmits and events.
    pub fn add_local_host(&mut self, now: Instant, addr: SocketAddr) -> Result<(), Error> {
        self.touch(now);
        if self.closed {
            return Err(Error::Closed);
        }
        self.ice.add_local_host(now, addr)?;
        self.set_gathering(IceGatheringState::Gathering);
        self.start_turns(Some(addr));
        self.pump();
        Ok(())
    }

    /// Starts the allocations that can start: those with a socket of their own, and (given `host`) those
    /// waiting for a host socket of its family.
    fn start_turns(&mut self, host: Option<SocketAddr>) {
        let now = self.now;
        let mut i = 0;
        while let Some(c) = self.turn_waiting.get(i) {
            let local = if !c.local.ip().is_unspecified() {
                Some(c.local)
            } else {
                host.filter(|h| h.is_ipv4() == c.server.is_ipv4())
            };
            let Some(local) = local else {
                i += 1;
                continue;
            };
            let mut config = self.turn_waiting.remove(i);
            config.local = local;
            tracing::debug!(target: TARGET, server = %config.server, %local, "TURN allocation");
            let mut turn = TurnClient::new(config, self.rng.fork());
            turn.allocate(now);
            self.turns.push(turn);
        }
        if !self.turns.is_empty() {
            self.set_gathering(IceGatheringState::Gathering);
        }
    }

    /// Whether related addresses are hidden in the candidates we signal (the relay policy).
    fn hide_related(&self) -> bool {
        self.config.ice_transport_policy == IceTransportPolicy::Relay
    }

    /// Tells the agent gathering is over once the caller said so and no allocation is in progress.
    fn settle_gathering(&mut self) {
        if self.local_end && !self.ice_local_end && !self.turns.iter().any(TurnClient::is_allocating) {
            self.ice_local_end = true;
            self.ice.end_of_local_candidates(self.now);
        }
    }

    /// Adds a STUN server for server-reflexive candidates.
    pub fn add_stun_server(&mut self, now: Instant, server: SocketAddr) -> Result<(), Error> {
        self.touch(now);
        self.ice.add_stun_server(now, server)?;
        self.set_gathering(IceGatheringState::Gathering);
        self.pump();
        Ok(())
    }

    /// No more local sockets: gathering completes once server-reflexive gathering is done and every TURN
    /// allocation has succeeded or failed ([`Event::IceGatheringState`] `Complete`). A TURN server still
    /// waiting for a host socket of its family gives up ([`Event::IceCandidateError`] with
    /// [`crate::turn::Failure::AddressFamilyNotSupported`]).
    pub fn end_of_local_candidates(&mut self, now: Instant) {
        self.touch(now);
        self.start_turns(None);
        for c in core::mem::take(&mut self.turn_waiting) {
            let failure = crate::turn::Failure::AddressFamilyNotSupported;
            self.emit(Event::IceCandidateError { server: c.server, failure });
        }
        self.local_end = true;
        self.settle_gathering();
        self.pump();
    }

    // ----- signalling -----

    fn transport_sdp(&mut self, setup: Setup, answer_to: Option<&SessionDescription<'_>>) -> String {
        self.session_version += 1;
        let creds = self.ice.local_credentials().clone();
        let digest = self.certificate.fingerprint();
        let fingerprints = Fingerprint::new(HashFunction::Sha256, &digest.0).into_iter().collect::<Vec<_>>();
        let transport = TransportParams {
            ice_ufrag: &creds.ufrag,
            ice_pwd: &creds.pwd,
            ice_options: &["trickle"],
            fingerprints: &fingerprints,
            setup,
        };
        let sctp = SctpParams { port: 5000, max_message_size: Some(self.config.max_message_size) };
        let mut b = DescriptionBuilder::new(self.session_id, self.session_version);
        if self.config.ice.lite {
            b = b.ice_lite();
        }
        match answer_to {
            None => b = b.data_channel(&self.data_mid, &transport, sctp),
            Some(offer) => {
                let data = data_section(offer);
                // A data section without a mid (possible without BUNDLE) gets one no other section uses.
                let used: Vec<&str> = offer.media.iter().filter_map(MediaDescription::mid).collect();
                let fresh = (0u32..).map(|i| i.to_string()).find(|c| !used.contains(&c.as_str())).unwrap_or_default();
                for m in &offer.media {
                    b = if data.is_some_and(|d| core::ptr::eq(d, m)) {
                        b.data_channel(m.mid().unwrap_or(&fresh), &transport, sctp)
                    } else {
                        b.rejected(m)
                    };
                }
            }
        }
        for c in self.ice.local_candidates().iter().filter(|c| c.kind != CandidateKind::PeerReflexive) {
            b = b.candidate(&sdp_candidate(c, self.hide_related()));
        }
        if self.gathering == IceGatheringState::Complete {
            b = b.end_of_candidates();
        }
        b.build().to_sdp_string()
    }

    /// An offer (JSEP, RFC 8829 §5.2): one data channel section with `a=setup:actpass`, our ICE
    /// credentials and fingerprint, and the candidates gathered so far. Allowed in `stable` and
    /// `have-local-offer`.
    pub fn create_offer(&mut self) -> Result<Description, Error> {
        if self.closed {
            return Err(Error::Closed);
        }
        if !matches!(self.signaling, SignalingState::Stable | SignalingState::HaveLocalOffer) {
            return Err(Error::InvalidState);
        }
        // Re-offers say actpass too (RFC 8842 §5.5); the established DTLS association is kept whatever the
        // answer says, as the answerer keeps its role (see `answer_setup`).
        Ok(Description { kind: SdpKind::Offer, sdp: self.transport_sdp(Setup::ActPass, None) })
    }

    /// An answer to the remote offer (JSEP, RFC 8829 §5.3): the data channel section accepted with
    /// [`Config::answer_setup`] (or the role the offer leaves us), every other section rejected. Allowed
    /// in `have-remote-offer`.
    pub fn create_answer(&mut self) -> Result<Description, Error> {
        if self.closed {
            return Err(Error::Closed);
        }
        if self.signaling != SignalingState::HaveRemoteOffer {
            return Err(Error::InvalidState);
        }
        let text = self.remote_offer.clone().ok_or(Error::InvalidState)?;
        let offer = SessionDescription::parse(&text)?;
        let setup = self.answer_setup();
        Ok(Description { kind: SdpKind::Answer, sdp: self.transport_sdp(setup, Some(&offer)) })
    }

    fn answer_setup(&self) -> Setup {
        // An established DTLS association keeps its roles across re-offers.
        if let Some(role) = self.dtls_role {
            return if role == dtls::Role::Client { Setup::Active } else { Setup::Passive };
        }
        match self.remote.as_ref().and_then(|r| r.setup) {
            Some(Setup::Active) => Setup::Passive,
            Some(Setup::Passive) => Setup::Active,
            _ if self.config.answer_setup == Setup::Passive => Setup::Passive,
            _ => Setup::Active,
        }
    }

    /// Applies a local description: an offer moves to `have-local-offer`, an answer back to `stable`
    /// (fixing the DTLS role and starting DTLS and SCTP as ICE allows), a rollback undoes a local offer.
    /// The description must be one this connection created (munging is not supported).
    pub fn set_local_description(&mut self, now: Instant, desc: &Description) -> Result<(), Error> {
        self.touch(now);
        if self.closed {
            return Err(Error::Closed);
        }
        match (desc.kind, self.signaling) {
            (SdpKind::Offer, SignalingState::Stable | SignalingState::HaveLocalOffer) => {
                let sdp = SessionDescription::parse(&desc.sdp)?;
                sdp.validate_webrtc(SdpType::Offer)?;
                self.check_own(&sdp)?;
                self.ice.set_role(ice::Role::Controlling);
                self.set_signaling(SignalingState::HaveLocalOffer);
            }
            (SdpKind::Answer, SignalingState::HaveRemoteOffer) => {
                let sdp = SessionDescription::parse(&desc.sdp)?;
                sdp.validate_webrtc(SdpType::Answer)?;
                self.check_own(&sdp)?;
                let media = data_section(&sdp).ok_or(Error::NoDataChannelSection)?;
                if let Some(mid) = media.mid() {
                    self.data_mid = mid.to_string();
                }
                let role = match sdp.setup_for(media) {
                    Some(Setup::Passive) => dtls::Role::Server,
                    _ => dtls::Role::Client,
                };
                self.remote_offer = None;
                self.set_signaling(SignalingState::Stable);
                self.start(now, role);
            }
            (SdpKind::Rollback, SignalingState::HaveLocalOffer) => self.set_signaling(SignalingState::Stable),
            (SdpKind::Pranswer, _) => return Err(Error::Unsupported),
            _ => return Err(Error::InvalidState),
        }
        self.pump();
        Ok(())
    }

    fn check_own(&self, sdp: &SessionDescription<'_>) -> Result<(), Error> {
        let media = data_section(sdp).ok_or(Error::NoDataChannelSection)?;
        let own = sdp.ice_credentials_for(media).is_some_and(|(u, _)| u == self.local_ufrag());
        if own { Ok(()) } else { Err(Error::Unsupported) }
    }

    /// Applies the peer's description (JSEP, RFC 8829 §5.10): parsed, checked with
    /// [`SessionDescription::validate_webrtc`], its ICE credentials, candidates and fingerprint handed to
    /// ICE and DTLS. An offer moves to `have-remote-offer`; an answer to our offer fixes the DTLS role and
    /// moves to `stable`; a rollback undoes a remote offer. New remote ICE credentials mean an ICE restart.
    pub fn set_remote_description(&mut self, now: Instant, desc: &Description) -> Result<(), Error> {
        self.touch(now);
        if self.closed {
            return Err(Error::Closed);
        }
        match (desc.kind, self.signaling) {
            (SdpKind::Offer, SignalingState::Stable | SignalingState::HaveRemoteOffer) => {
                let sdp = SessionDescription::parse(&desc.sdp)?;
                sdp.validate_webrtc(SdpType::Offer)?;
                let (remote, mid) = parse_remote(&sdp)?;
                let role = if remote.lite { ice::Role::Controlling } else { ice::Role::Controlled };
                self.apply_remote(now, remote, role)?;
                self.remote_offer = Some(desc.sdp.clone());
                // Trickled candidates name the section the answer will accept.
                self.data_mid = mid;
                self.set_signaling(SignalingState::HaveRemoteOffer);
            }
            (SdpKind::Answer, SignalingState::HaveLocalOffer) => {
                let sdp = SessionDescription::parse(&desc.sdp)?;
                sdp.validate_webrtc(SdpType::Answer)?;
                let (remote, mid) = parse_remote(&sdp)?;
                // Their active is our server (RFC 8842 §5.3); an answer without a=setup is active (RFC 4145).
                let role = match remote.setup {
                    Some(Setup::Passive) => dtls::Role::Client,
                    _ => dtls::Role::Server,
                };
                self.apply_remote(now, remote, ice::Role::Controlling)?;
                self.data_mid = mid;
                self.set_signaling(SignalingState::Stable);
                self.start(now, role);
            }
            (SdpKind::Rollback, SignalingState::HaveRemoteOffer) => {
                self.remote_offer = None;
                self.set_signaling(SignalingState::Stable);
            }
            (SdpKind::Pranswer, _) => return Err(Error::Unsupported),
            _ => return Err(Error::InvalidState),
        }
        self.pump();
        Ok(())
    }

    fn apply_remote(&mut self, now: Instant, remote: Remote, role: ice::Role) -> Result<(), Error> {
        let creds = Credentials::new(&remote.ufrag, &remote.pwd).map_err(|_| Error::BadCredentials)?;
        if let Some(old) = &self.remote {
            if old.fingerprint != remote.fingerprint && self.dtls.is_some() {
                // A new certificate would need a new DTLS association: not supported.
                return Err(Error::Unsupported);
            }
            if old.ufrag != remote.ufrag || old.pwd != remote.pwd {
                // The peer restarted ICE (RFC 8445 §9); unless we asked for it, restart too so our answer
                // carries new credentials.
                if !self.local_restart {
                    self.ice.restart(now, None);
                }
                self.local_restart = false;
            } else {
                // Same generation: only add candidates we have not seen.
                for c in &remote.candidates {
                    let _ = self.ice.add_remote_candidate(now, *c);
                }
                if remote.end_of_candidates {
                    self.ice.end_of_remote_candidates(now);
                }
                self.remote = Some(remote);
                return Ok(());
            }
        } else {
            let role = if self.config.ice.lite { ice::Role::Controlled } else { role };
            self.ice.set_role(role);
        }
        self.local_restart = false;
        self.ice.set_remote_credentials(creds);
        for c in &remote.candidates {
            if let Err(e) = self.ice.add_remote_candidate(now, *c) {
                tracing::debug!(target: TARGET, error = %e, "remote candidate refused");
            }
        }
        if remote.end_of_candidates {
            self.ice.end_of_remote_candidates(now);
        }
        if let Some(d) = self.dtls.as_mut() {
            d.set_remote_fingerprint(remote.fingerprint);
        }
        self.remote = Some(remote);
        Ok(())
    }

    /// Fixes the DTLS role and creates the DTLS and data channel layers (once).
    fn start(&mut self, now: Instant, role: dtls::Role) {
        if self.dtls_role.is_some() {
            return;
        }
        self.negotiated_once = true;
        self.dtls_role = Some(role);
        tracing::debug!(target: TARGET, ?role, "DTLS role");
        let mut sctp = self.config.sctp;
        sctp.local_port = 5000;
        let remote_max = self.remote.as_ref().map_or(65_536, |r| r.max_message_size);
        sctp.remote_port = self.remote.as_ref().map_or(5000, |r| r.sctp_port);
        let local_max = self.config.max_message_size;
        let max = if remote_max == 0 { local_max } else { local_max.min(remote_max) };
        sctp.max_message_size = usize::try_from(max).unwrap_or(usize::MAX);
        let dc_role = match role {
            dtls::Role::Client => datachannel::Role::Client,
            dtls::Role::Server => datachannel::Role::Server,
        };
        let mut dc = DataChannels::new(Association::new(sctp, self.rng.fork()), dc_role);
        for slot in &mut self.channels {
            if let Some(options) = slot.pending.take() {
                match dc.open(now, options) {
                    Ok(stream) => slot.stream = Some(stream),
                    Err(e) => tracing::debug!(target: TARGET, error = %e, "pending channel refused"),
                }
            }
        }
        self.dc = Some(dc);
        if role == dtls::Role::Server {
            self.dtls = Some(self.new_dtls(now, role));
        }
    }

    fn new_dtls(&mut self, now: Instant, role: dtls::Role) -> Dtls {
        let mut config = dtls::Config::new(self.certificate.clone());
        // RFC 6347 §4.2.1: the cookie exchange keeps a server from answering spoofed source addresses.
        // Here DTLS only ever arrives from addresses ICE has validated (a check answered with our password),
        // so it would only cost a round trip.
        config.cookie_exchange = false;
        let mut d = match role {
            dtls::Role::Client => Dtls::client(config, self.rng.fork(), now),
            dtls::Role::Server => Dtls::server(config, self.rng.fork()),
        };
        if let Some(r) = &self.remote {
            d.set_remote_fingerprint(r.fingerprint);
        }
        d
    }

    /// Adds a trickled remote candidate (W3C `addIceCandidate`): the `candidate:…` string (with or
    /// without the `a=` prefix). `None` or an empty string means end-of-candidates (RFC 8838 §13).
    /// TCP and mDNS candidates are ignored.
    pub fn add_ice_candidate(&mut self, now: Instant, candidate: Option<&str>) -> Result<(), Error> {
        self.touch(now);
        if self.closed {
            return Err(Error::Closed);
        }
        match candidate.map(str::trim).filter(|c| !c.is_empty()) {
            None => self.ice.end_of_remote_candidates(now),
            Some(text) => {
                let parsed = CandidateAttribute::parse(text).map_err(|_| Error::BadCandidate)?;
                if let Some(c) = ice_candidate(&parsed)? {
                    match self.ice.add_remote_candidate(now, c) {
                        Ok(()) | Err(ice::ApiError::Duplicate) => {}
                        Err(e) => return Err(Error::Ice(e)),
                    }
                }
            }
        }
        self.pump();
        Ok(())
    }

    /// Restarts ICE (new local credentials, RFC 8445 §9): emits [`Event::NegotiationNeeded`]; the next
    /// offer carries the new credentials. Data keeps flowing on the old pair until a new one is selected.
    pub fn restart_ice(&mut self, now: Instant) {
        self.touch(now);
        if self.closed {
            return;
        }
        self.ice.restart(now, None);
        self.local_restart = true;
        self.emit(Event::NegotiationNeeded);
        self.pump();
    }

    // ----- data channels -----

    /// Creates a data channel (W3C `createDataChannel`): ordered or not, `maxRetransmits` or
    /// `maxPacketLifeTime` through [`ChannelOptions::reliability`], a sub-protocol, and a pre-negotiated
    /// stream id ([`ChannelOptions::negotiated`]). Before the DTLS role is known the channel waits; the
    /// first one before any negotiation emits [`Event::NegotiationNeeded`]. [`Event::ChannelOpen`] follows
    /// when it is open.
    pub fn create_data_channel(&mut self, now: Instant, options: ChannelOptions) -> Result<ChannelId, Error> {
        self.touch(now);
        if self.closed {
            return Err(Error::Closed);
        }
        let id = ChannelId(self.next_channel);
        let mut slot = Slot { id, stream: None, pending: None };
        match self.dc.as_mut() {
            Some(dc) => slot.stream = Some(dc.open(now, options)?),
            None => {
                if let Some(n) = options.negotiated {
                    if self.channels.iter().any(|s| s.pending.as_ref().is_some_and(|o| o.negotiated == Some(n))) {
                        return Err(Error::DataChannel(datachannel::Error::IdInUse));
                    }
                }
                slot.pending = Some(options);
                if !self.negotiated_once && self.channels.is_empty() && self.signaling == SignalingState::Stable {
                    self.emit(Event::NegotiationNeeded);
                }
            }
        }
        self.next_channel = self.next_channel.wrapping_add(1);
        crate::util::reserve_compact(&mut self.channels);
        self.channels.push(slot);
        self.pump();
        Ok(id)
    }

    fn stream(&self, id: ChannelId) -> Result<u16, Error> {
        let slot = self.channels.iter().find(|s| s.id == id).ok_or(Error::NoSuchChannel)?;
        slot.stream.ok_or(Error::NotConnected)
    }

    /// The SCTP stream id of a channel, once the DTLS role is known (W3C `RTCDataChannel.id`).
    pub fn channel_stream_id(&self, id: ChannelId) -> Option<u16> {
        self.stream(id).ok()
    }

    /// A channel's options (label, protocol, reliability, …), for a remote channel as announced.
    pub fn channel_options(&self, id: ChannelId) -> Option<&ChannelOptions> {
        let slot = self.channels.iter().find(|s| s.id == id)?;
        match (&slot.pending, slot.stream) {
            (Some(o), _) => Some(o),
            (None, Some(stream)) => self.dc.as_ref()?.channel(stream).map(|c| &c.options),
            _ => None,
        }
    }

    /// Sends a text message (PPID 51, or 56 when empty). Then drain `poll_transmit`.
    pub fn send_text(&mut self, now: Instant, id: ChannelId, text: &str) -> Result<(), Error> {
        self.send(now, id, Bytes::copy_from_slice(text.as_bytes()), false)
    }

    /// Sends a binary message (PPID 53, or 57 when empty). Then drain `poll_transmit`.
    pub fn send_binary(&mut self, now: Instant, id: ChannelId, data: &[u8]) -> Result<(), Error> {
        self.send(now, id, Bytes::copy_from_slice(data), true)
    }

    /// Sends a message without copying it.
    pub fn send(&mut self, now: Instant, id: ChannelId, data: Bytes, binary: bool) -> Result<(), Error> {
        self.touch(now);
        self.last_activity = self.now;
        if self.closed {
            return Err(Error::Closed);
        }
        let stream = self.stream(id)?;
        let dc = self.dc.as_mut().ok_or(Error::NotConnected)?;
        dc.send(now, stream, data, binary)?;
        self.pump();
        Ok(())
    }

    /// Bytes queued on a channel and not yet acknowledged (W3C `bufferedAmount`).
    pub fn buffered_amount(&self, id: ChannelId) -> usize {
        match (self.stream(id), self.dc.as_ref()) {
            (Ok(stream), Some(dc)) => dc.buffered_amount(stream),
            _ => 0,
        }
    }

    /// Sets `bufferedAmountLowThreshold`: [`Event::BufferedAmountLow`] fires when the buffered amount falls
    /// to it or below.
    pub fn set_buffered_amount_low_threshold(&mut self, id: ChannelId, threshold: usize) -> Result<(), Error> {
        let stream = self.stream(id)?;
        let dc = self.dc.as_mut().ok_or(Error::NotConnected)?;
        dc.set_buffered_amount_low_threshold(stream, threshold)?;
        Ok(())
    }

    /// Closes a channel (SCTP stream reset, RFC 8831 §6.7); [`Event::ChannelClose`] follows on both sides.
    /// A channel still waiting for negotiation is dropped at once.
    pub fn close_channel(&mut self, now: Instant, id: ChannelId) -> Result<(), Error> {
        self.touch(now);
        let i = self.channels.iter().position(|s| s.id == id).ok_or(Error::NoSuchChannel)?;
        let slot = self.channels.get(i).cloned().ok_or(Error::NoSuchChannel)?;
        match (slot.stream, self.dc.as_mut()) {
            (Some(stream), Some(dc)) => dc.close(now, stream)?,
            _ => {
                self.channels.remove(i);
                self.emit(Event::ChannelClose(id));
            }
        }
        self.pump();
        Ok(())
    }

    /// Closes the connection: SCTP is aborted, DTLS sends close_notify, ICE stops. Drain `poll_transmit`
    /// once more to send the last datagrams; every open channel reports [`Event::ChannelClose`].
    pub fn close(&mut self, now: Instant) {
        self.touch(now);
        if self.closed {
            return;
        }
        if let Some(dc) = self.dc.as_mut() {
            dc.association_mut().abort(now);
        }
        self.pump();
        if let Some(d) = self.dtls.as_mut() {
            d.close();
        }
        self.closed = true;
        self.pump();
        for slot in core::mem::take(&mut self.channels) {
            self.emit(Event::ChannelClose(slot.id));
        }
        // What DTLS queued (the ABORT and close_notify) is already in our own queue; ICE stops here.
        self.ice.close();
        // Allocations are released (RFC 8656 §7.2: Refresh with LIFETIME 0); their answers are still
        // taken after close.
        for turn in &mut self.turns {
            turn.close(now);
        }
        self.turn_waiting.clear();
        self.drain_turns();
        self.set_signaling(SignalingState::Closed);
        self.update_state();
    }

    // ----- internals -----

    /// Gives back the buffers the layers keep for reuse, where nothing is waiting in them.
    fn trim(&mut self) {
        self.out.trim();
        if !self.dc_backlog {
            self.events.trim();
        }
        self.ice.trim();
        if let Some(d) = self.dtls.as_mut() {
            d.trim();
        }
        if let Some(dc) = self.dc.as_mut() {
            dc.trim();
        }
    }

    fn touch(&mut self, now: Instant) {
        if now > self.now {
            self.now = now;
        }
    }

    fn emit(&mut self, event: Event) -> bool {
        tracing::trace!(target: TARGET, ?event, "event");
        self.events.push(event)
    }

    fn set_signaling(&mut self, s: SignalingState) {
        if self.signaling != s {
            self.signaling = s;
            self.emit(Event::SignalingState(s));
        }
    }

    fn set_gathering(&mut self, s: IceGatheringState) {
        if self.gathering != s {
            self.gathering = s;
            self.emit(Event::IceGatheringState(s));
        }
    }

    fn slot_by_stream(&self, stream: u16) -> Option<ChannelId> {
        self.channels.iter().find(|s| s.stream == Some(stream)).map(|s| s.id)
    }

    /// Moves data between the layers until nothing moves, and turns their events into ours.
    fn pump(&mut self) {
        let now = self.now;
        for _ in 0..64 {
            let mut moved = false;
            if !self.turns.is_empty() {
                moved |= self.pump_turns();
            }
            while let Some(e) = self.ice.poll_event() {
                moved = true;
                self.on_ice_event(e);
            }
            if self.dtls.is_none()
                && self.dtls_role == Some(dtls::Role::Client)
                && self.ice.selected_pair().is_some()
                && !self.closed
            {
                self.dtls = Some(self.new_dtls(now, dtls::Role::Client));
                moved = true;
            }
            let mut dtls_events = Vec::new();
            if let Some(d) = self.dtls.as_mut() {
                while let Some(e) = d.poll_event() {
                    dtls_events.push(e);
                }
            }
            for e in dtls_events {
                moved = true;
                self.on_dtls_event(now, e);
            }
            if let (Some(d), Some(dc)) = (self.dtls.as_mut(), self.dc.as_mut()) {
                while let Some(p) = d.poll_data() {
                    moved = true;
                    if let Err(e) = dc.handle_receive(now, p) {
                        tracing::debug!(target: TARGET, error = %e, "SCTP packet dropped");
                    }
                }
                if d.is_connected() {
                    while let Some(p) = dc.poll_transmit() {
                        moved = true;
                        if let Err(e) = d.send(p) {
                            tracing::debug!(target: TARGET, error = %e, "SCTP packet not sent");
                        }
                    }
                }
            }
            if let Some(d) = self.dtls.as_mut() {
                let mut first = true;
                while let Some(p) = d.poll_transmit() {
                    moved = true;
                    if core::mem::take(&mut first) {
                        // What ICE queued goes out first: a binding response queued before this record may be
                        // what lets the peer's agent select the pair the record's answer must travel on.
                        while let Some(t) = self.ice.poll_transmit() {
                            route(&mut self.turns, &mut self.out, now, t);
                        }
                    }
                    match self.ice.send(p) {
                        Ok(t) => route(&mut self.turns, &mut self.out, now, t),
                        Err(e) => tracing::trace!(target: TARGET, error = %e, "DTLS datagram not sent"),
                    }
                }
            }
            moved |= self.pull_dc_events();
            if !moved {
                break;
            }
        }
        if !self.turns.is_empty() {
            self.pump_turns();
        }
        self.update_state();
    }

    /// With TURN clients: what ICE queued goes out (through a client when sent from its relayed
    /// address), the clients' datagrams join our queue, and their events become relay candidates and
    /// errors. Returns whether an event moved anything.
    fn pump_turns(&mut self) -> bool {
        let now = self.now;
        let mut moved = false;
        while let Some(t) = self.ice.poll_transmit() {
            route(&mut self.turns, &mut self.out, now, t);
        }
        for i in 0..self.turns.len() {
            while let Some(e) = self.turns.get_mut(i).and_then(Machine::poll_event) {
                moved = true;
                tracing::debug!(target: TARGET, event = ?e, "TURN");
                on_turn_event(&mut self.ice, now, &e);
                if let TurnEvent::Failed(failure) = e {
                    let server = self.turns.get(i).map(TurnClient::server);
                    if let Some(server) = server {
                        self.emit(Event::IceCandidateError { server, failure });
                    }
                }
            }
        }
        self.settle_gathering();
        self.drain_turns();
        moved
    }

    /// Moves the TURN clients' datagrams to our queue.
    fn drain_turns(&mut self) {
        for turn in &mut self.turns {
            while let Some(t) = turn.poll_transmit() {
                let _ = self.out.push((t.source, t.destination), t.contents);
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
                    let candidate = alloc::format!("candidate:{}", sdp_candidate(&c, self.hide_related()));
                    let mid = self.data_mid.clone();
                    self.emit(Event::LocalCandidate { candidate, mid });
                }
            }
            IceEvent::GatheringComplete => self.set_gathering(IceGatheringState::Complete),
            IceEvent::SelectedPairChanged { local, remote } => {
                tracing::debug!(target: TARGET, local = %local.base, remote = %remote.address, "selected pair");
                on_selected_pair(&mut self.turns, self.now, &local, &remote);
            }
            IceEvent::RoleChanged(role) => tracing::debug!(target: TARGET, ?role, "ICE role changed"),
        }
    }

    fn on_dtls_event(&mut self, now: Instant, e: dtls::Event) {
        match e {
            dtls::Event::Connected(c) => {
                tracing::debug!(target: TARGET, role = ?c.role, "DTLS connected");
                if let Some(dc) = self.dc.as_mut() {
                    dc.connect(now);
                }
            }
            dtls::Event::Closed { reason } => {
                tracing::debug!(target: TARGET, %reason, "DTLS closed");
                if reason == dtls::Error::Closed {
                    self.dtls_closed = true;
                } else {
                    self.dtls_failed = true;
                }
            }
            _ => {}
        }
    }

    /// Moves data channel events into our queue while it has room: below [`EVENT_RESERVE`] free slots (kept
    /// for our own events) or [`MESSAGE_BYTES`] of undelivered messages, it stops and [`Machine::poll_event`]
    /// pulls more as the application takes events. So no event is ever dropped, and messages the
    /// application has not taken stay in SCTP's receive buffer, where they close the receive window and
    /// slow the sender down (RFC 9260 §6.2) instead of piling up here. Returns whether any event moved.
    fn pull_dc_events(&mut self) -> bool {
        let room = self.config.max_events.saturating_sub(EVENT_RESERVE).max(1);
        let mut moved = false;
        self.dc_backlog = false;
        while self.dc.is_some() {
            if self.events.len() >= room || self.message_bytes >= MESSAGE_BYTES {
                self.dc_backlog = true;
                break;
            }
            let Some(e) = self.dc.as_mut().and_then(DataChannels::poll_event) else { break };
            moved = true;
            self.on_dc_event(e);
        }
        moved
    }

    fn on_dc_event(&mut self, e: datachannel::Event) {
        match e {
            datachannel::Event::ChannelOpen(stream) => {
                if let Some(id) = self.slot_by_stream(stream) {
                    self.emit(Event::ChannelOpen(id));
                }
            }
            datachannel::Event::ChannelOpened { id: stream, label, protocol } => {
                let id = ChannelId(self.next_channel);
                self.next_channel = self.next_channel.wrapping_add(1);
                crate::util::reserve_compact(&mut self.channels);
                self.channels.push(Slot { id, stream: Some(stream), pending: None });
                self.emit(Event::DataChannel { id, label, protocol });
            }
            datachannel::Event::Message { id: stream, data, binary } => {
                if let Some(id) = self.slot_by_stream(stream) {
                    let len = data.len();
                    if self.emit(Event::Message { id, data, binary }) {
                        self.message_bytes += len;
                    }
                }
            }
            datachannel::Event::BufferedAmountLow(stream) => {
                if let Some(id) = self.slot_by_stream(stream) {
                    self.emit(Event::BufferedAmountLow(id));
                }
            }
            datachannel::Event::ChannelClosed(stream) => {
                if let Some(i) = self.channels.iter().position(|s| s.stream == Some(stream)) {
                    let slot = self.channels.remove(i);
                    self.emit(Event::ChannelClose(slot.id));
                }
            }
            datachannel::Event::Closed(reason) => {
                tracing::debug!(target: TARGET, ?reason, "SCTP association closed");
            }
            _ => {}
        }
    }

    fn update_state(&mut self) {
        let dtls_connected = self.dtls.as_ref().is_some_and(Dtls::is_connected);
        let s = if self.closed {
            ConnectionState::Closed
        } else if self.dtls_failed || self.ice_state == IceConnectionState::Failed {
            ConnectionState::Failed
        } else if self.ice_state == IceConnectionState::Disconnected || self.dtls_closed {
            ConnectionState::Disconnected
        } else if dtls_connected
            && matches!(self.ice_state, IceConnectionState::Connected | IceConnectionState::Completed)
        {
            ConnectionState::Connected
        } else if self.ice_state != IceConnectionState::New || self.dtls.is_some() {
            ConnectionState::Connecting
        } else {
            ConnectionState::New
        };
        if s != self.state {
            self.state = s;
            self.emit(Event::ConnectionState(s));
        }
    }
}

impl Machine for PeerConnection {
    type Event = Event;

    fn handle_timeout(&mut self, now: Instant) {
        self.touch(now);
        let now = self.now;
        if now.saturating_duration_since(self.last_activity) >= IDLE_TRIM {
            self.trim();
        }
        self.ice.handle_timeout(now);
        for turn in &mut self.turns {
            turn.handle_timeout(now);
        }
        if let Some(d) = self.dtls.as_mut() {
            d.handle_timeout(now);
        }
        if let Some(dc) = self.dc.as_mut() {
            dc.handle_timeout(now);
        }
        self.pump();
    }

    fn poll_event(&mut self) -> Option<Event> {
        if self.dc_backlog && (self.events.len() == 0 || self.message_bytes < MESSAGE_BYTES / 2) {
            // Room again: take more from the data channels, and send the window update that frees (§6.2).
            self.pump();
        }
        let e = self.events.pop();
        if let Some(Event::Message { data, .. }) = &e {
            self.message_bytes = self.message_bytes.saturating_sub(data.len());
        }
        e
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let dtls = self.dtls.as_ref().and_then(Machine::poll_timeout);
        let dc = self.dc.as_ref().and_then(Machine::poll_timeout);
        let turn = self.turns.iter().filter_map(Machine::poll_timeout).min();
        [self.ice.poll_timeout(), dtls, dc, turn].into_iter().flatten().min()
    }
}

impl PathMachine for PeerConnection {
    type Error = RecvError;

    fn handle_receive(&mut self, now: Instant, datagram: Datagram<'_>) -> Result<(), RecvError> {
        self.touch(now);
        let now = self.now;
        // From a TURN server to its client's socket (RFC 7983: STUN or ChannelData): the client's; peer
        // data it unwraps goes on as received on the relayed address. Taken after close too, so the
        // release of the allocation completes.
        let for_turn =
            !self.turns.is_empty() && matches!(classify(datagram.contents), PacketKind::Stun | PacketKind::TurnChannel);
        let relayed = if for_turn { unwrap_relayed(&mut self.turns, now, datagram) } else { None };
        let datagram = match relayed {
            None => datagram,
            Some(Ok(Some(inner))) => inner,
            Some(Ok(None)) => {
                self.pump();
                return Ok(());
            }
            Some(Err(e)) => {
                self.stats.turn_dropped += 1;
                self.pump();
                return Err(RecvError::Turn(e));
            }
        };
        if self.closed {
            self.stats.closed_dropped += 1;
            return Err(RecvError::Closed);
        }
        self.last_activity = now;
        let kind = classify(datagram.contents);
        if !matches!(kind, PacketKind::Stun | PacketKind::Dtls | PacketKind::Rtp | PacketKind::Rtcp) {
            self.stats.unknown_dropped += 1;
            return Err(RecvError::Unknown);
        }
        let r = match self.ice.receive(now, datagram) {
            Ok(Incoming::Stun) => Ok(()),
            Ok(Incoming::Data(payload)) => match (kind, self.dtls.as_mut()) {
                (PacketKind::Dtls, Some(d)) => d.handle_receive(now, payload).map_err(|e| {
                    self.stats.dtls_dropped += 1;
                    RecvError::Dtls(e)
                }),
                (PacketKind::Dtls, None) => {
                    self.stats.not_ready_dropped += 1;
                    Err(RecvError::NotReady)
                }
                _ => {
                    self.stats.media_dropped += 1;
                    Err(RecvError::Media)
                }
            },
            Err(e) => {
                self.stats.ice_dropped += 1;
                Err(RecvError::Ice(e))
            }
        };
        self.pump();
        r
    }

    fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        if !self.out.is_empty() {
            return self.out.pop().map(|((source, destination), contents)| Transmit { source, destination, contents });
        }
        // With TURN clients everything ICE sends was routed into `out` (some of it through a relay).
        if self.turns.is_empty() { self.ice.poll_transmit() } else { None }
    }
}

/// Queues what ICE sends: through the TURN client whose relayed address it is sent from, else directly.
fn route(turns: &mut [TurnClient], out: &mut OutQueue<(SocketAddr, SocketAddr)>, now: Instant, t: Transmit<'_>) {
    match send_relayed(turns, now, t.source, t.destination, t.contents) {
        Some(Err(e)) => tracing::debug!(target: TARGET, error = %e, "relayed datagram not sent"),
        Some(Ok(())) => {}
        None => {
            let _ = out.push((t.source, t.destination), t.contents);
        }
    }
}
