//! W3C statistics ("Identifiers for WebRTC's Statistics API", webrtc-stats): [`PeerConnection::stats_report`]
//! gathers the counters the layers keep into the `RTCStats` dictionaries that apply to a data-channel-only
//! connection, with their W3C names in the docs (and in JSON with the `serde` feature).
//!
//! Nothing here runs on the per-packet path: the layers only bump integers (ICE per pair and per
//! transport, the data channel layer per channel), and a report is built (and allocated) when asked for.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::net::IpAddr;
use core::time::Duration;

#[cfg(feature = "serde")]
use serde::{Serialize, Serializer};

use super::ChannelId;
use super::channels::Phase;
use super::conn::PeerConnection;
pub use super::media_stats::{
    CodecStats, InboundRtpStats, MediaSourceStats, OutboundRtpStats, RemoteInboundRtpStats, RemoteOutboundRtpStats,
};
use crate::datachannel::ChannelState;
use crate::dtls::{self, Fingerprint};
use crate::ice::{CandidateKind, IceConnectionState, PairState, Role as IceRole};
use crate::time::Instant;

/// The id of the one `peer-connection` entry.
pub const PEER_CONNECTION_ID: &str = "P";
/// The id of the one `transport` entry (BUNDLE: one transport carries everything).
pub const TRANSPORT_ID: &str = "T";

/// A statistics report (W3C `RTCStatsReport`): every entry, each with its `id`, `type` and `timestamp`.
/// With the `serde` feature it serializes as the array of its entries (what `[...report.values()]`
/// gives in a browser).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize), serde(transparent))]
pub struct StatsReport {
    entries: Vec<RtcStats>,
}

impl StatsReport {
    /// Every entry: the peer connection, the transport, the candidate pairs, the local and remote
    /// candidates, the certificates, the data channels, then the media entries (codecs, media sources,
    /// outbound streams each followed by its remote-inbound entry, inbound streams each followed by its
    /// remote-outbound entry), in that order.
    pub fn iter(&self) -> impl Iterator<Item = &RtcStats> + '_ {
        self.entries.iter()
    }

    /// The entry with this `id`.
    pub fn get(&self, id: &str) -> Option<&RtcStats> {
        self.entries.iter().find(|e| e.id() == id)
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no entry (never: a report has at least its peer connection and transport).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The `peer-connection` entry.
    pub fn peer_connection(&self) -> Option<&PeerConnectionStats> {
        self.entries.iter().find_map(|e| if let RtcStats::PeerConnection(s) = e { Some(s) } else { None })
    }

    /// The `transport` entry.
    pub fn transport(&self) -> Option<&TransportStats> {
        self.entries.iter().find_map(|e| if let RtcStats::Transport(s) = e { Some(s) } else { None })
    }

    /// The `candidate-pair` entries, highest priority first.
    pub fn candidate_pairs(&self) -> impl Iterator<Item = &CandidatePairStats> + '_ {
        self.entries.iter().filter_map(|e| if let RtcStats::CandidatePair(s) = e { Some(s) } else { None })
    }

    /// The selected candidate pair (the transport's `selectedCandidatePairId`).
    pub fn selected_candidate_pair(&self) -> Option<&CandidatePairStats> {
        let id = self.transport()?.selected_candidate_pair_id.as_deref()?;
        self.candidate_pairs().find(|p| p.id == id)
    }

    /// The `local-candidate` entries.
    pub fn local_candidates(&self) -> impl Iterator<Item = &IceCandidateStats> + '_ {
        self.entries.iter().filter_map(|e| if let RtcStats::LocalCandidate(s) = e { Some(s) } else { None })
    }

    /// The `remote-candidate` entries.
    pub fn remote_candidates(&self) -> impl Iterator<Item = &IceCandidateStats> + '_ {
        self.entries.iter().filter_map(|e| if let RtcStats::RemoteCandidate(s) = e { Some(s) } else { None })
    }

    /// The `certificate` entries (ours, then the peer's once DTLS has seen it).
    pub fn certificates(&self) -> impl Iterator<Item = &CertificateStats> + '_ {
        self.entries.iter().filter_map(|e| if let RtcStats::Certificate(s) = e { Some(s) } else { None })
    }

    /// The `data-channel` entries, in creation order.
    pub fn data_channels(&self) -> impl Iterator<Item = &DataChannelStats> + '_ {
        self.entries.iter().filter_map(|e| if let RtcStats::DataChannel(s) = e { Some(s) } else { None })
    }

    /// The `inbound-rtp` entries (streams we receive).
    pub fn inbound_rtp(&self) -> impl Iterator<Item = &InboundRtpStats> + '_ {
        self.entries.iter().filter_map(|e| if let RtcStats::InboundRtp(s) = e { Some(s) } else { None })
    }

    /// The `outbound-rtp` entries (streams we send).
    pub fn outbound_rtp(&self) -> impl Iterator<Item = &OutboundRtpStats> + '_ {
        self.entries.iter().filter_map(|e| if let RtcStats::OutboundRtp(s) = e { Some(s) } else { None })
    }

    /// The `remote-inbound-rtp` entries (the peer's reports on what we send).
    pub fn remote_inbound_rtp(&self) -> impl Iterator<Item = &RemoteInboundRtpStats> + '_ {
        self.entries.iter().filter_map(|e| if let RtcStats::RemoteInboundRtp(s) = e { Some(s) } else { None })
    }

    /// The `remote-outbound-rtp` entries (the peer's sender reports on what it sends).
    pub fn remote_outbound_rtp(&self) -> impl Iterator<Item = &RemoteOutboundRtpStats> + '_ {
        self.entries.iter().filter_map(|e| if let RtcStats::RemoteOutboundRtp(s) = e { Some(s) } else { None })
    }

    /// The `codec` entries.
    pub fn codecs(&self) -> impl Iterator<Item = &CodecStats> + '_ {
        self.entries.iter().filter_map(|e| if let RtcStats::Codec(s) = e { Some(s) } else { None })
    }

    /// The `media-source` entries.
    pub fn media_sources(&self) -> impl Iterator<Item = &MediaSourceStats> + '_ {
        self.entries.iter().filter_map(|e| if let RtcStats::MediaSource(s) = e { Some(s) } else { None })
    }

    /// The `data-channel` entry of a channel.
    pub fn data_channel(&self, id: ChannelId) -> Option<&DataChannelStats> {
        let want = data_channel_id(id);
        self.data_channels().find(|d| d.id == want)
    }
}

/// One entry of a [`StatsReport`], by W3C `RTCStatsType`.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize), serde(tag = "type", rename_all = "kebab-case"))]
#[non_exhaustive]
pub enum RtcStats {
    /// `"peer-connection"`.
    PeerConnection(PeerConnectionStats),
    /// `"transport"`.
    Transport(TransportStats),
    /// `"candidate-pair"`.
    CandidatePair(CandidatePairStats),
    /// `"local-candidate"`.
    LocalCandidate(IceCandidateStats),
    /// `"remote-candidate"`.
    RemoteCandidate(IceCandidateStats),
    /// `"certificate"`.
    Certificate(CertificateStats),
    /// `"data-channel"`.
    DataChannel(DataChannelStats),
    /// `"codec"`.
    Codec(CodecStats),
    /// `"inbound-rtp"`.
    InboundRtp(InboundRtpStats),
    /// `"outbound-rtp"`.
    OutboundRtp(OutboundRtpStats),
    /// `"remote-inbound-rtp"`.
    RemoteInboundRtp(RemoteInboundRtpStats),
    /// `"remote-outbound-rtp"`.
    RemoteOutboundRtp(RemoteOutboundRtpStats),
    /// `"media-source"`.
    MediaSource(MediaSourceStats),
}

impl RtcStats {
    /// The W3C `type`.
    pub const fn type_name(&self) -> &'static str {
        match self {
            RtcStats::PeerConnection(_) => "peer-connection",
            RtcStats::Transport(_) => "transport",
            RtcStats::CandidatePair(_) => "candidate-pair",
            RtcStats::LocalCandidate(_) => "local-candidate",
            RtcStats::RemoteCandidate(_) => "remote-candidate",
            RtcStats::Certificate(_) => "certificate",
            RtcStats::DataChannel(_) => "data-channel",
            RtcStats::Codec(_) => "codec",
            RtcStats::InboundRtp(_) => "inbound-rtp",
            RtcStats::OutboundRtp(_) => "outbound-rtp",
            RtcStats::RemoteInboundRtp(_) => "remote-inbound-rtp",
            RtcStats::RemoteOutboundRtp(_) => "remote-outbound-rtp",
            RtcStats::MediaSource(_) => "media-source",
        }
    }

    /// The `id`.
    pub fn id(&self) -> &str {
        match self {
            RtcStats::PeerConnection(s) => &s.id,
            RtcStats::Transport(s) => &s.id,
            RtcStats::CandidatePair(s) => &s.id,
            RtcStats::LocalCandidate(s) | RtcStats::RemoteCandidate(s) => &s.id,
            RtcStats::Certificate(s) => &s.id,
            RtcStats::DataChannel(s) => &s.id,
            RtcStats::Codec(s) => &s.id,
            RtcStats::InboundRtp(s) => &s.id,
            RtcStats::OutboundRtp(s) => &s.id,
            RtcStats::RemoteInboundRtp(s) => &s.id,
            RtcStats::RemoteOutboundRtp(s) => &s.id,
            RtcStats::MediaSource(s) => &s.id,
        }
    }

    /// The `timestamp` (milliseconds since the epoch of the caller's [`Instant`]s).
    pub fn timestamp(&self) -> f64 {
        match self {
            RtcStats::PeerConnection(s) => s.timestamp,
            RtcStats::Transport(s) => s.timestamp,
            RtcStats::CandidatePair(s) => s.timestamp,
            RtcStats::LocalCandidate(s) | RtcStats::RemoteCandidate(s) => s.timestamp,
            RtcStats::Certificate(s) => s.timestamp,
            RtcStats::DataChannel(s) => s.timestamp,
            RtcStats::Codec(s) => s.timestamp,
            RtcStats::InboundRtp(s) => s.timestamp,
            RtcStats::OutboundRtp(s) => s.timestamp,
            RtcStats::RemoteInboundRtp(s) => s.timestamp,
            RtcStats::RemoteOutboundRtp(s) => s.timestamp,
            RtcStats::MediaSource(s) => s.timestamp,
        }
    }
}

/// W3C `RTCPeerConnectionStats`.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize), serde(rename_all = "camelCase"))]
pub struct PeerConnectionStats {
    /// `id`: always [`PEER_CONNECTION_ID`].
    pub id: String,
    /// `timestamp`, in milliseconds.
    pub timestamp: f64,
    /// `dataChannelsOpened`: channels (ours and the peer's) that reached `open`.
    pub data_channels_opened: u64,
    /// `dataChannelsClosed`: channels that left `open`.
    pub data_channels_closed: u64,
}

/// W3C `RTCTransportStats` for the one BUNDLE transport (ICE + DTLS).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize), serde(rename_all = "camelCase"))]
pub struct TransportStats {
    /// `id`: always [`TRANSPORT_ID`].
    pub id: String,
    /// `timestamp`, in milliseconds.
    pub timestamp: f64,
    /// `packetsSent`: datagrams of application data (DTLS) sent, ICE checks excluded.
    pub packets_sent: u64,
    /// `packetsReceived`: datagrams of application data received.
    pub packets_received: u64,
    /// `bytesSent`: their bytes (whole DTLS datagrams, without UDP/IP or TURN headers).
    pub bytes_sent: u64,
    /// `bytesReceived`.
    pub bytes_received: u64,
    /// `iceRole`.
    pub ice_role: StatsIceRole,
    /// `iceLocalUsernameFragment`.
    pub ice_local_username_fragment: String,
    /// `iceState` (W3C `RTCIceTransportState`).
    pub ice_state: IceConnectionState,
    /// `dtlsState`.
    pub dtls_state: DtlsState,
    /// `dtlsRole`.
    pub dtls_role: DtlsRole,
    /// `selectedCandidatePairId`, once ICE has selected a pair.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub selected_candidate_pair_id: Option<String>,
    /// `selectedCandidatePairChanges`.
    pub selected_candidate_pair_changes: u64,
    /// `tlsVersion`: `"FEFC"` (DTLS 1.3) or `"FEFD"` (DTLS 1.2) once the handshake completed.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub tls_version: Option<&'static str>,
    /// `dtlsCipher`: the IANA name of the cipher suite once the handshake completed.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub dtls_cipher: Option<&'static str>,
    /// `localCertificateId`.
    pub local_certificate_id: String,
    /// `remoteCertificateId`, once DTLS has seen the peer's certificate.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub remote_certificate_id: Option<String>,
}

/// W3C `RTCIceCandidatePairStats`.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize), serde(rename_all = "camelCase"))]
pub struct CandidatePairStats {
    /// `id`.
    pub id: String,
    /// `timestamp`, in milliseconds.
    pub timestamp: f64,
    /// `transportId`.
    pub transport_id: String,
    /// `localCandidateId`.
    pub local_candidate_id: String,
    /// `remoteCandidateId`.
    pub remote_candidate_id: String,
    /// `state`.
    pub state: PairState,
    /// `nominated`.
    pub nominated: bool,
    /// `packetsSent`: application datagrams (no STUN).
    pub packets_sent: u64,
    /// `packetsReceived`.
    pub packets_received: u64,
    /// `bytesSent`.
    pub bytes_sent: u64,
    /// `bytesReceived`.
    pub bytes_received: u64,
    /// `totalRoundTripTime`, in seconds: the sum of the round trips of the checks answered.
    pub total_round_trip_time: f64,
    /// `currentRoundTripTime`, in seconds: the latest check's (connectivity or consent), once one was
    /// answered.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub current_round_trip_time: Option<f64>,
    /// `requestsSent` (connectivity and consent checks, retransmissions excluded).
    pub requests_sent: u64,
    /// `requestsReceived`.
    pub requests_received: u64,
    /// `responsesSent`.
    pub responses_sent: u64,
    /// `responsesReceived`.
    pub responses_received: u64,
    /// `consentRequestsSent`.
    pub consent_requests_sent: u64,
    /// `availableOutgoingBitrate`, in bit/s: the bandwidth estimator's target, on the selected pair
    /// once media flows with transport-wide CC.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub available_outgoing_bitrate: Option<f64>,
}

/// W3C `RTCIceCandidateStats` (`local-candidate` and `remote-candidate`).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize), serde(rename_all = "camelCase"))]
pub struct IceCandidateStats {
    /// `id`.
    pub id: String,
    /// `timestamp`, in milliseconds.
    pub timestamp: f64,
    /// `transportId`.
    pub transport_id: String,
    /// `address`.
    pub address: IpAddr,
    /// `port`.
    pub port: u16,
    /// `protocol`: `"udp"` or `"tcp"`.
    pub protocol: &'static str,
    /// `candidateType`: `host`, `srflx`, `prflx` or `relay`.
    pub candidate_type: CandidateKind,
    /// `priority`.
    pub priority: u32,
    /// `foundation`.
    pub foundation: String,
    /// `relatedAddress` (local reflexive and relay candidates).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub related_address: Option<IpAddr>,
    /// `relatedPort`.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub related_port: Option<u16>,
}

/// W3C `RTCCertificateStats`.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize), serde(rename_all = "camelCase"))]
pub struct CertificateStats {
    /// `id`: `CF` followed by the fingerprint.
    pub id: String,
    /// `timestamp`, in milliseconds.
    pub timestamp: f64,
    /// `fingerprint`: upper-case hex pairs separated by colons (RFC 8122 §5).
    pub fingerprint: String,
    /// `fingerprintAlgorithm`: `"sha-256"`.
    pub fingerprint_algorithm: &'static str,
    /// `base64Certificate`: the DER certificate in base64.
    pub base64_certificate: String,
}

/// W3C `RTCDataChannelStats`.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize), serde(rename_all = "camelCase"))]
pub struct DataChannelStats {
    /// `id`: `D` followed by the [`ChannelId`] number.
    pub id: String,
    /// `timestamp`, in milliseconds.
    pub timestamp: f64,
    /// `label`.
    pub label: String,
    /// `protocol`.
    pub protocol: String,
    /// `dataChannelIdentifier`: the SCTP stream id, once known.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub data_channel_identifier: Option<u16>,
    /// `state`.
    pub state: DataChannelState,
    /// `messagesSent`.
    pub messages_sent: u64,
    /// `bytesSent`: payload bytes.
    pub bytes_sent: u64,
    /// `messagesReceived`.
    pub messages_received: u64,
    /// `bytesReceived`: payload bytes.
    pub bytes_received: u64,
}

/// W3C `RTCDtlsTransportState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DtlsState {
    /// `"new"`: the handshake has not started.
    New,
    /// `"connecting"`.
    Connecting,
    /// `"connected"`.
    Connected,
    /// `"closed"`: close_notify, sent or received.
    Closed,
    /// `"failed"`: a fatal alert or handshake failure.
    Failed,
}

impl DtlsState {
    /// The W3C name.
    pub const fn as_str(self) -> &'static str {
        match self {
            DtlsState::New => "new",
            DtlsState::Connecting => "connecting",
            DtlsState::Connected => "connected",
            DtlsState::Closed => "closed",
            DtlsState::Failed => "failed",
        }
    }
}

/// W3C `RTCDtlsRole`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DtlsRole {
    /// `"client"`.
    Client,
    /// `"server"`.
    Server,
    /// `"unknown"`: not negotiated yet.
    Unknown,
}

impl DtlsRole {
    /// The W3C name.
    pub const fn as_str(self) -> &'static str {
        match self {
            DtlsRole::Client => "client",
            DtlsRole::Server => "server",
            DtlsRole::Unknown => "unknown",
        }
    }
}

/// W3C `RTCIceRole`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatsIceRole {
    /// `"controlling"`.
    Controlling,
    /// `"controlled"`.
    Controlled,
}

impl StatsIceRole {
    /// The W3C name.
    pub const fn as_str(self) -> &'static str {
        match self {
            StatsIceRole::Controlling => "controlling",
            StatsIceRole::Controlled => "controlled",
        }
    }
}

/// W3C `RTCDataChannelState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataChannelState {
    /// `"connecting"`: waiting for negotiation or for the association.
    Connecting,
    /// `"open"`.
    Open,
    /// `"closing"`: the stream reset is under way.
    Closing,
    /// `"closed"`: closed, the close event not taken yet.
    Closed,
}

impl DataChannelState {
    /// The W3C name.
    pub const fn as_str(self) -> &'static str {
        match self {
            DataChannelState::Connecting => "connecting",
            DataChannelState::Open => "open",
            DataChannelState::Closing => "closing",
            DataChannelState::Closed => "closed",
        }
    }
}

/// W3C `RTCStatsIceCandidatePairState` name of a pair state.
pub const fn pair_state_name(state: PairState) -> &'static str {
    match state {
        PairState::Frozen => "frozen",
        PairState::Waiting => "waiting",
        PairState::InProgress => "in-progress",
        PairState::Succeeded => "succeeded",
        PairState::Failed => "failed",
    }
}

/// Serializes the W3C enums as their names.
#[cfg(feature = "serde")]
macro_rules! serialize_as_str {
    ($($ty:ty => $name:expr;)*) => {$(
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let f: fn(&$ty) -> &'static str = $name;
                serializer.serialize_str(f(self))
            }
        }
    )*};
}

#[cfg(feature = "serde")]
serialize_as_str! {
    DtlsState => |s| s.as_str();
    DtlsRole => |s| s.as_str();
    StatsIceRole => |s| s.as_str();
    DataChannelState => |s| s.as_str();
    IceConnectionState => |s| s.as_str();
    PairState => |s| pair_state_name(*s);
    CandidateKind => |s| s.as_str();
}

/// Milliseconds since the epoch of `now` (W3C `DOMHighResTimeStamp`).
fn millis(now: Instant) -> f64 {
    now.as_nanos() as f64 / 1e6
}

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn local_candidate_id(index: usize) -> String {
    format!("IL{index}")
}

fn remote_candidate_id(index: usize) -> String {
    format!("IR{index}")
}

fn pair_id(local: usize, remote: usize) -> String {
    format!("CP{local}-{remote}")
}

fn data_channel_id(id: ChannelId) -> String {
    format!("D{}", id.0)
}

/// `AB:CD:…`, the fingerprint without its algorithm.
fn fingerprint_hex(fp: &Fingerprint) -> String {
    let mut s = String::with_capacity(fp.0.len() * 3);
    for (i, b) in fp.0.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        s.push_str(&format!("{b:02X}"));
    }
    s
}

/// Standard base64 with padding (RFC 4648 §4).
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk.first().copied(), chunk.get(1).copied(), chunk.get(2).copied()];
        let n =
            (u32::from(b[0].unwrap_or(0)) << 16) | (u32::from(b[1].unwrap_or(0)) << 8) | u32::from(b[2].unwrap_or(0));
        let sextet = |shift: u32| char::from(ALPHABET[((n >> shift) & 63) as usize]);
        out.push(sextet(18));
        out.push(sextet(12));
        out.push(if b[1].is_some() { sextet(6) } else { '=' });
        out.push(if b[2].is_some() { sextet(0) } else { '=' });
    }
    out
}

fn certificate_stats(timestamp: f64, fingerprint: &Fingerprint, der: &[u8]) -> CertificateStats {
    let fingerprint = fingerprint_hex(fingerprint);
    CertificateStats {
        id: format!("CF{fingerprint}"),
        timestamp,
        fingerprint,
        fingerprint_algorithm: "sha-256",
        base64_certificate: base64(der),
    }
}

fn candidate_stats(timestamp: f64, id: String, c: &crate::ice::Candidate) -> IceCandidateStats {
    IceCandidateStats {
        id,
        timestamp,
        transport_id: TRANSPORT_ID.into(),
        address: c.address.ip(),
        port: c.address.port(),
        protocol: c.transport.as_str(),
        candidate_type: c.kind,
        priority: c.priority,
        foundation: c.foundation.as_str().into(),
        related_address: c.related.map(|r| r.ip()),
        related_port: c.related.map(|r| r.port()),
    }
}

impl PeerConnection {
    /// The connection's W3C statistics (`getStats()`), stamped with `now` (in milliseconds since the
    /// epoch of the caller's [`Instant`]s). Reads counters only: it changes nothing and may be called at
    /// any time. [`PeerConnection::stats`] keeps the connection's own drop counters.
    ///
    /// Entries: `peer-connection`, `transport`, every `candidate-pair` of the current ICE generation,
    /// every `local-candidate` and `remote-candidate`, a `certificate` for ours and (once DTLS has seen it)
    /// the peer's, and a `data-channel` for every channel not closed yet (a closed channel's entry goes
    /// with it; `dataChannelsClosed` counts it), then the media entries: a `codec` per negotiated payload
    /// type, a `media-source` per sending transceiver, and once media has flowed (the RTP session exists)
    /// an `outbound-rtp` per stream we send and an `inbound-rtp` per stream we receive, with the
    /// `remote-inbound-rtp` and `remote-outbound-rtp` entries the peer's reports give. Their ids:
    /// `CO<payload type>`, `MS<transceiver>`, `RO<ssrc>`, `RI<ssrc>`, `RRI<ssrc>` (the peer's report on
    /// our stream, `remoteId` of `RO`), `RRO<ssrc>` (the peer's sender report, `remoteId` of `RI`), SSRCs in
    /// decimal; each stream entry names its `transportId`, `codecId`, `mid` and `kind`. `srtpCipher` is
    /// not reported yet;
    /// [`PeerConnection::stats`] counts what the media path dropped and [`PeerConnection::media_stats`]
    /// what the RTP session dropped.
    pub fn stats_report(&self, now: Instant) -> StatsReport {
        let timestamp = millis(now);
        let agent = self.ice();
        let mut entries = Vec::new();

        entries.push(RtcStats::PeerConnection(PeerConnectionStats {
            id: PEER_CONNECTION_ID.into(),
            timestamp,
            data_channels_opened: self.channels.opened,
            data_channels_closed: self.channels.closed,
        }));

        let local_cert = certificate_stats(timestamp, &self.certificate.fingerprint(), self.certificate.der());
        let remote_cert = self.dtls().and_then(|d| {
            let der = d.peer_certificate()?;
            Some(certificate_stats(timestamp, &Fingerprint::of_der(der), der))
        });
        let pairs: Vec<_> = agent.pair_infos().collect();
        let ice = agent.stats();
        let dtls = self.dtls();
        let dtls_state = match dtls {
            None if self.connection_state() == super::ConnectionState::Closed => DtlsState::Closed,
            None => DtlsState::New,
            Some(d) if d.is_connected() => DtlsState::Connected,
            Some(d) => match d.close_reason() {
                Some(dtls::Error::Closed) => DtlsState::Closed,
                Some(_) => DtlsState::Failed,
                None => DtlsState::Connecting,
            },
        };
        let cipher = dtls.and_then(dtls::Dtls::cipher_suite);
        entries.push(RtcStats::Transport(TransportStats {
            id: TRANSPORT_ID.into(),
            timestamp,
            packets_sent: ice.data_sent,
            packets_received: ice.data_received,
            bytes_sent: ice.data_bytes_sent,
            bytes_received: ice.data_bytes_received,
            ice_role: match agent.role() {
                IceRole::Controlling => StatsIceRole::Controlling,
                IceRole::Controlled => StatsIceRole::Controlled,
            },
            ice_local_username_fragment: self.local_ufrag().into(),
            ice_state: self.ice_connection_state(),
            dtls_state,
            dtls_role: match self.dtls_role() {
                Some(dtls::Role::Client) => DtlsRole::Client,
                Some(dtls::Role::Server) => DtlsRole::Server,
                None => DtlsRole::Unknown,
            },
            selected_candidate_pair_id: pairs.iter().find(|p| p.selected).map(|p| pair_id(p.local.0, p.remote.0)),
            selected_candidate_pair_changes: ice.selected_pair_changes,
            // W3C writes the two version bytes in hex: FEFD for DTLS 1.2, FEFC for 1.3.
            tls_version: dtls.and_then(dtls::Dtls::protocol_version).map(|v| if v == 0xfefc { "FEFC" } else { "FEFD" }),
            dtls_cipher: cipher.and_then(dtls::CipherSuite::name),
            local_certificate_id: local_cert.id.clone(),
            remote_certificate_id: remote_cert.as_ref().map(|c| c.id.clone()),
        }));

        let available = self.available_outgoing_bitrate();
        for p in &pairs {
            let s = &p.stats;
            entries.push(RtcStats::CandidatePair(CandidatePairStats {
                id: pair_id(p.local.0, p.remote.0),
                timestamp,
                transport_id: TRANSPORT_ID.into(),
                local_candidate_id: local_candidate_id(p.local.0),
                remote_candidate_id: remote_candidate_id(p.remote.0),
                state: p.state,
                nominated: p.nominated,
                packets_sent: s.packets_sent,
                packets_received: s.packets_received,
                bytes_sent: s.bytes_sent,
                bytes_received: s.bytes_received,
                total_round_trip_time: seconds(s.total_rtt),
                current_round_trip_time: s.current_rtt.map(seconds),
                requests_sent: s.requests_sent,
                requests_received: s.requests_received,
                responses_sent: s.responses_sent,
                responses_received: s.responses_received,
                consent_requests_sent: s.consent_requests_sent,
                available_outgoing_bitrate: available.filter(|_| p.selected).map(|b| b as f64),
            }));
        }
        for (i, c) in agent.local_candidates().iter().enumerate() {
            entries.push(RtcStats::LocalCandidate(candidate_stats(timestamp, local_candidate_id(i), c)));
        }
        for (i, c) in agent.remote_candidates().iter().enumerate() {
            entries.push(RtcStats::RemoteCandidate(candidate_stats(timestamp, remote_candidate_id(i), c)));
        }
        entries.push(RtcStats::Certificate(local_cert));
        if let Some(c) = remote_cert {
            entries.push(RtcStats::Certificate(c));
        }

        let dc = self.data_channels();
        for slot in self.channels.iter() {
            let stream = slot.stream();
            let layer = stream.and_then(|s| dc?.channel(s));
            let options = match (&slot.phase, layer) {
                (Phase::Pending(o), _) => Some(o),
                (_, Some(ch)) => Some(&ch.options),
                _ => None,
            };
            let state = match (&slot.phase, layer) {
                (Phase::Pending(_) | Phase::Opening(_), _) => DataChannelState::Connecting,
                (Phase::Open(_), Some(ch)) if ch.state == ChannelState::Closing => DataChannelState::Closing,
                (Phase::Open(_), Some(_)) => DataChannelState::Open,
                (Phase::Open(_), None) => DataChannelState::Closed,
            };
            let counters = layer.map(crate::datachannel::Channel::stats).unwrap_or_default();
            entries.push(RtcStats::DataChannel(DataChannelStats {
                id: data_channel_id(slot.id),
                timestamp,
                label: options.map(|o| o.label.clone()).unwrap_or_default(),
                protocol: options.map(|o| o.protocol.clone()).unwrap_or_default(),
                data_channel_identifier: stream,
                state,
                messages_sent: counters.messages_sent,
                bytes_sent: counters.bytes_sent,
                messages_received: counters.messages_received,
                bytes_received: counters.bytes_received,
            }));
        }
        self.media_stats_entries(timestamp, &mut entries);
        StatsReport { entries }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        // RFC 4648 §10.
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, want) in cases {
            assert_eq!(base64(input.as_bytes()), want, "{input:?}");
        }
    }

    #[test]
    fn fingerprint_is_colon_separated_upper_case_hex() {
        let mut bytes = [0u8; 32];
        bytes[0] = 0xab;
        bytes[31] = 0x0f;
        let hex = fingerprint_hex(&Fingerprint(bytes));
        assert!(hex.starts_with("AB:00:"), "{hex}");
        assert!(hex.ends_with(":00:0F"), "{hex}");
        assert_eq!(hex.len(), 32 * 3 - 1);
    }
}
