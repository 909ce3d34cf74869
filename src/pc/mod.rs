//! The peer connection: ICE, DTLS, SCTP data channels and SRTP media on one UDP 5-tuple, driven by JSEP
//! offer/answer (RFC 8829) in the W3C vocabulary.
//!
//! [`PeerConnection`] is a [`PathMachine`](crate::PathMachine) that owns an [`IceRelay`](crate::turn::IceRelay)
//! (the ICE agent with its TURN clients), a [`Dtls`](crate::dtls::Dtls) connection, a
//! [`DataChannels`](crate::datachannel::DataChannels) layer over an SCTP association, an SRTP session and
//! its RTP [transceivers](Transceiver), and routes between them as a pipeline, each layer's output handed
//! to the next where it is produced:
//!
//! - **down**: a received datagram goes to ICE (which consumes STUN, hands TURN traffic to its client and
//!   passes on the rest only when it comes from an ICE-validated remote address); that rest is
//!   demultiplexed by its first byte (RFC 7983 §7, [`crate::demux`]): DTLS goes to DTLS, whose application
//!   data goes to SCTP; SRTP is routed to its transceiver from its header (RFC 8843 §9.2: the MID header
//!   extension, else the SSRC, else a payload type one m-section alone has), decrypted, handed to the
//!   connection's RTP session (statistics, loss tracking, RTX restored in place) and reported as
//!   [`Event::Rtp`]; SRTCP is decrypted and handed to the RTP session, whose findings become events
//!   ([`Event::KeyframeRequest`], [`Event::Remb`], [`Event::TransportFeedback`]); anything else, and
//!   media that routes nowhere, fails SRTP or is refused by the RTP session, is dropped and counted
//!   ([`MediaDrop`], [`Stats`], [`PeerConnection::media_stats`]);
//! - **up**: a message goes to SCTP, whose packets go into DTLS records, which go out through ICE on the
//!   selected pair (through a relay when the pair is relayed); an RTP packet
//!   ([`PeerConnection::write_rtp`]) goes through the RTP session (SSRC, sequence number, transport-wide
//!   sequence number, RTX history), gets its header extensions, is protected by SRTP and goes out the same
//!   way; what the RTP session owes (reports, NACK, PLI/FIR, transport-wide feedback, RTX) goes out the
//!   same way as soon as it is produced, and its timers are part of `poll_timeout`.
//!
//! The code is laid out the same way: `conn.rs` holds the machine and the pipeline, `signaling.rs` the JSEP
//! state and the description calls, `negotiate.rs` what descriptions mean for m-lines and transceivers,
//! `describe.rs` the mapping between SDP and the transport, `media.rs` and `codec.rs` the audio and video
//! m-section model, `transceiver.rs` the transceivers, `rtp.rs` SRTP and RTP routing, `frame.rs` frames
//! packetized for sending, `assemble.rs` received packets put back into frames, `channels.rs` the channel
//! handles and calls, `stats.rs` the W3C statistics ([`PeerConnection::stats_report`]), `audio.rs` RED and
//! DTMF on the RTP path.
//!
//! The caller's loop is the crate's usual one:
//!
//! 1. declare the local sockets with [`PeerConnection::add_local_host`] (and TCP ones for ICE-TCP with
//!    [`PeerConnection::add_local_tcp`]: the caller owns the connections, feeds each RFC 4571 frame as a
//!    datagram and frames each transmit from a TCP base, see [`crate::ice::framing`]; then
//!    [`PeerConnection::end_of_local_candidates`]);
//! 2. signal: [`PeerConnection::create_offer`] / [`PeerConnection::create_answer`],
//!    [`PeerConnection::set_local_description`], [`PeerConnection::set_remote_description`],
//!    [`PeerConnection::add_ice_candidate`] for trickled candidates;
//! 3. feed each datagram that arrives on a declared socket to `handle_receive` (a [`Datagram`](crate::Datagram) with its
//!    source and destination), call `handle_timeout` at `poll_timeout`, drain `poll_transmit` (send each
//!    from `source` to `destination`) and `poll_event` ([`Event`]), then sleep until `poll_timeout`. Taking
//!    events never sends anything by itself: when taking a message owes the peer a window update,
//!    `poll_timeout` says so (it returns the current time), so a caller that follows this loop to the
//!    letter never stalls;
//! 4. use channels: [`PeerConnection::create_data_channel`], [`PeerConnection::send_text`],
//!    [`PeerConnection::send_binary`], [`PeerConnection::buffered_amount`],
//!    [`PeerConnection::close_channel`];
//! 5. use media: [`PeerConnection::add_transceiver`] or [`PeerConnection::add_track`] (before an offer, or
//!    then renegotiate on [`Event::NegotiationNeeded`]), [`Event::Track`] when the peer sends on a
//!    transceiver, [`PeerConnection::write_rtp`] to send and [`Event::Rtp`] to receive,
//!    [`PeerConnection::request_keyframe`] and [`Event::KeyframeRequest`]. The connection drives one RTP
//!    session ([`crate::rtp::session`]) for its transport: RTCP reports and round-trip times, NACK and
//!    RTX (lost packets arrive repaired, [`RtpPacket::repaired`]), PLI/FIR, transport-wide CC numbering
//!    and feedback, all as negotiated; with transport-wide CC a bandwidth estimator and a pacer (see
//!    *Congestion control* below) give [`Event::TargetBitrate`] for the encoders ([`Event::Remb`] and
//!    [`Event::TransportFeedback`] still hand the raw figures on); [`PeerConnection::stats_report`] has the W3C
//!    RTP statistics, [`PeerConnection::rtp_session`] the session itself (read-only). Forwarding keeps
//!    the caller's SSRC and sequence numbers with [`PeerConnection::write_rtp_raw`];
//!    [`PeerConnection::write_rtcp`] sends RTCP of the caller's. [`PeerConnection::write_frame`] sends a
//!    whole encoded frame (see *Frames* below).
//!
//! Time must not go backwards; an earlier `now` is treated as the latest seen.
//!
//! ## Choices worth knowing
//!
//! - **Roles.** The offerer writes `a=setup:actpass` and is the ICE controlling agent (unless it is lite);
//!   the answerer writes [`Config::answer_setup`] (`active` by default, so the answerer is the DTLS client,
//!   as JSEP recommends). The DTLS client starts its handshake once ICE has selected a pair; SCTP starts
//!   once DTLS is connected (and a data channel section is negotiated), and both sides send INIT (RFC
//!   8841). SRTP is keyed from the DTLS exporter with the profile DTLS negotiated
//!   ([`Config::srtp_profiles`]), when the first packet needs it.
//! - **Channel ids.** [`ChannelId`] is a local handle, like a W3C `RTCDataChannel` object: a channel can
//!   be created before the DTLS role (and so the parity of its SCTP stream id, RFC 8832 §6) is known. Its
//!   stream id is [`PeerConnection::channel_stream_id`] once negotiated.
//! - **Descriptions.** Every section is in one BUNDLE group (the max-bundle policy: a remote section
//!   outside the offer's group is rejected), and each accepted one repeats `a=ice-ufrag`/`ice-pwd`,
//!   `a=ice-options:trickle`, the `sha-256` fingerprint and `a=setup`, as browsers write them. An offer
//!   has an audio or video section per transceiver (in the order added; a stopped one's section is
//!   rejected and its slot reused by the next new transceiver, RFC 8829 §5.2.2) and an `m=application 9
//!   UDP/DTLS/SCTP webrtc-datachannel` section once a channel exists (or when there is nothing else to
//!   offer). Audio and video sections carry the codecs of [`Config::codecs`] (or the transceiver's
//!   preferences) with RTX, RTCP feedback, the header extensions of [`Config::header_extensions`],
//!   `a=rtcp-mux`, `a=rtcp-rsize`, the direction and, when sending, `a=msid`, `a=ssrc` with the
//!   connection's CNAME and `a=ssrc-group:FID` (or `a=rid` and `a=simulcast` for several encodings). An
//!   answer accepts each offered audio or video section with the formats both sides support under the
//!   offer's payload types and extension ids (H.264 matched as RFC 6184 §8.2.2 says), in the offer's
//!   order, and the direction both allow; one with no common codec is rejected. The candidates gathered
//!   so far go in the BUNDLE-tag section (with `a=end-of-candidates` once gathering is complete); they are
//!   also reported as [`Event::LocalCandidate`] as soon as they are gathered, for trickle.
//! - **Transceivers.** [`TransceiverId`] is a local handle, like a W3C `RTCRtpTransceiver`. Its SSRCs (and
//!   RTX SSRCs) come from the connection's generator when it is created; a remote offer associates each of
//!   its audio and video sections with the transceiver of its mid, else one [`PeerConnection::add_track`]
//!   made, else a new `recvonly` one. Renegotiation (adding, stopping, changing direction, adding a data
//!   channel section) keeps the ICE, DTLS and SCTP state as it is.
//! - **Media packets.** [`Event::Rtp`] carries an [`RtpPacket`] that shares the buffer its packet was
//!   decrypted in (a [`Bytes`]): no copy after decryption (an RTX packet is restored in that buffer) and,
//!   once warm, no allocation per packet in either direction, reports and feedback included.
//! - **The RTP session.** Made with the SRTP session when the first media packet needs it (a connection
//!   that negotiated media but never carried any holds neither), from the negotiation: every negotiated
//!   payload type with its clock rate, RTX `apt` pair and `a=rtcp-fb` (`nack`, `nack pli`), the BUNDLE
//!   group's extension ids (transport-wide CC only when a codec negotiated `transport-cc`),
//!   `a=rtcp-rsize`. Send streams are our encodings' SSRCs (with their RTX SSRCs when a codec has RTX);
//!   receive streams the peer's signalled SSRCs (`a=ssrc`, `a=ssrc-group:FID`) and those learned from an
//!   authenticated packet routed by MID or payload type (16 send and 32 receive streams at most). A
//!   renegotiation reconfigures it and adds and removes streams (a removed send stream says BYE); the
//!   others keep their state. [`PeerConnection::write_rtp_raw`] packets on one of our SSRCs with a
//!   negotiated media payload type are recorded as sent (counters, sender reports, RTX history, so a NACK
//!   for them is answered); others are sent unrecorded. RTX of an unsignalled stream (no `a=ssrc-group`)
//!   that names its stream with the repaired-rid extension (a simulcast layer's) is bound to the stream
//!   of that rid once that stream has been seen, then restored and its padding probes counted for
//!   transport-wide feedback; other RTX of unsignalled streams arrives as sent, with [`RtpPacket::rtx`]. Sender reports carry NTP time from
//!   [`PeerConnection::set_ntp_epoch`] (zero by default: round-trip times are right, lip sync with
//!   other hosts needs the real wall clock).
//! - **Frames.** [`PeerConnection::write_frame`] takes an encoded frame ([`OutgoingFrame`]: the payload
//!   type or `None` for the transceiver's first codec, the RTP timestamp, the bytes, the header extensions
//!   for every packet, the rid) and packetizes it with the payload format ([`crate::packetize`]) of the
//!   negotiated codec, chosen by its rtpmap name: Opus, PCMU, PCMA, G.722, VP8, VP9, H.264 (packetization
//!   mode 1; mode 0 sends each NAL unit alone and refuses one that does not fit), H.265, AV1; another codec
//!   is [`Error::UnsupportedCodec`]. Each payload goes out through [`PeerConnection::write_rtp`] with the
//!   frame's timestamp, the marker where the format puts it (a video frame's last packet, an audio
//!   stream's first), and is sized so that the SRTP packet fits [`Config::media_mtu`] (1200 by default)
//!   with the RTP header, the header extensions, the SRTP tag and the two octets of an RTX
//!   retransmission. It returns a [`SentFrame`] (SSRC, payload type, packet count, first and last sequence
//!   numbers). Packetizers live per transceiver, encoding and payload type from first use, so VP8/VP9
//!   picture ids (starting from the connection's generator) run on and H.264/H.265 parameter sets are
//!   repeated ahead of a key frame sent without them; once warm, a frame allocates nothing. On the
//!   receiving side a [`FrameAssembler`] (one per transceiver, from its negotiated codecs) takes the
//!   [`Event::Rtp`] packets in order and gives back [`ReceivedFrame`]s; it is no jitter buffer: a frame
//!   that lost a packet is dropped and the stream resumes at the next frame start.
//! - **Simulcast.** A transceiver made with several [`SendEncoding`]s (each with a rid) offers them with
//!   `a=rid … send` and `a=simulcast:send`; the answer decides which are sent (RFC 8853 §5.3): the rids
//!   its `a=rid … recv` lines accept, each with its rid in the RtpStreamId extension (and its
//!   retransmissions with the repaired rid), or, when it accepts none (Chromium's answer), the first
//!   encoding alone without a rid ([`Transceiver::encoding_negotiated`]). Answering a simulcast offer,
//!   the answer receives the offered rids and each layer's SSRC is bound to its rid from its packets
//!   ([`RtpPacket::rid`], `inbound-rtp`). [`PeerConnection::set_encoding_active`] turns an encoding off
//!   (its frames refused with [`Error::EncodingInactive`], its stream gone from the RTP session with a
//!   BYE) and on again (same SSRCs, sequence numbers going on, a [`Event::KeyframeRequest`] of kind
//!   [`KeyframeRequestKind::EncodingActivated`]).
//! - **Congestion control.** When transport-wide CC is negotiated, the connection runs
//!   [`crate::cc`]'s [`BandwidthEstimator`](crate::cc::BandwidthEstimator) (GCC) and
//!   [`Pacer`](crate::cc::Pacer), made with the RTP session (`congestion.rs`): every RTP packet written
//!   and every RTX answer is protected and queued in the pacer (audio, then retransmissions, then video;
//!   [`Config::pacer`], on by default as in libwebrtc; `None` sends each packet as it is written), let go
//!   at 2.5 × the target from `handle_timeout` (its next release time is part of `poll_timeout`), and
//!   recorded with the estimator as it leaves, its whole protected size with its transport-wide sequence
//!   number. The peer's transport-wide feedback (sent every 50 ms by our receiving side), REMB (an upper
//!   bound) and the RTCP round-trip time feed the estimator; [`Event::TargetBitrate`] reports a material
//!   change of the target, [`PeerConnection::target_bitrate`] reads it and the candidate-pair statistics
//!   carry it as `availableOutgoingBitrate`. Probes go out at their own rate with queued media and
//!   padding-only packets on the first video encoding's RTX stream ([`Config::bandwidth`]). Without
//!   transport-wide CC there is nothing to estimate from, and packets go out as they are written.
//! - **RED and DTMF.** RED for Opus (RFC 2198, `red/48000/2` with `a=fmtp:<pt> <opus>/<opus>`) is among
//!   the default codecs, after Opus, and is negotiated only where it protects an Opus format of the same
//!   section. A received RED packet comes up as the Opus packets it carries ([`crate::packetize::red`]:
//!   the primary, and the redundant copies of packets that never arrived, [`RtpPacket::recovered`]),
//!   each once, sharing the decrypted buffer. Sent Opus goes out in RED when [`Config::red_distance`] is
//!   set; to have the peer send RED, put [`Codec::red`] first in the transceiver's codec preferences
//!   (Chromium then does). [`PeerConnection::insert_dtmf`] sends W3C `insertDTMF` tones as RFC 4733
//!   telephone events on the negotiated `telephone-event` format of the audio's clock rate
//!   ([`crate::packetize::dtmf`]), paced through `poll_timeout`, with [`Event::DtmfToneChange`];
//!   received telephone events still come up as [`Event::Rtp`], and each digit once as [`Event::Dtmf`].
//! - **Many peers, one socket.** [`PeerConnection::accepts`] says whether a datagram is for this
//!   connection; for an O(1) lookup the caller keys a map on [`PeerConnection::local_ufrag`] (matched
//!   against [`stun_username_local_ufrag`] of an incoming STUN request) and, once connected, on
//!   [`PeerConnection::remote_address`].
//! - **TURN relays.** Each of [`Config::turn_servers`] gets a [`TurnClient`](crate::turn::TurnClient) of
//!   its own, allocating from the first host socket of its family (or from the socket its
//!   [`TurnConfig::local`] names) as soon as that socket is declared. Gathering completes only once
//!   every allocation has succeeded or failed; each relayed address becomes a `typ relay` candidate
//!   (trickled and in the descriptions). Datagrams from a TURN server's address to its local socket go
//!   to its client (STUN or ChannelData, RFC 7983), peer data it unwraps goes on as if received on the
//!   relayed address, and what ICE sends from a relayed address goes through the client (ChannelData
//!   once a channel is bound to the selected pair's remote). [`PeerConnection::close`] releases the
//!   allocations (Refresh with lifetime 0). A failed allocation is reported as
//!   [`Event::IceCandidateError`]. With [`IceTransportPolicy::Relay`] only relay candidates are gathered,
//!   offered and paired, and their related address (our server-reflexive address) is signalled as
//!   `raddr 0.0.0.0 rport 9` (RFC 8829 §3.5.3, RFC 8839 §5.1).
//! - **mDNS candidates.** A remote candidate whose address is a `<UUID>.local` name (browsers hide
//!   their host addresses so, draft-ietf-mmusic-mdns-ice-candidates) is held while the connection's
//!   [`crate::mdns::Resolver`] asks for the name: an A and AAAA query from the first host socket of each
//!   family to 224.0.0.251:5353 / \[ff02::fb\]:5353, handed out by `poll_transmit` like any datagram,
//!   retransmitted after 1 s and 3 s, given up after 5 s ([`Stats::mdns_unresolved`]). The answer comes
//!   back through `handle_receive`: a datagram from port 5353 that is not STUN and not from a known
//!   remote candidate goes to the resolver before the RFC 7983 demux. Once resolved, the candidate goes
//!   to ICE with the address (a peer-reflexive candidate of that address becomes it). Names are asked
//!   for only in the UUID form, not with the relay-only policy, and not at all with
//!   [`Config::resolve_mdns`] off. [`PeerConnection::mdns_resolver`] has the resolver's counters.
//! - **Hiding our addresses** ([`Config::hide_local_addresses`], off by default): each host address gets
//!   a random `<UUIDv4>.local` name when its socket is declared, signalled in its place (the related
//!   address of our other candidates becomes `0.0.0.0`/`::` port 9); the queries for it, received on
//!   the caller's socket bound to port 5353 ([`PeerConnection::add_mdns_socket`]), are answered through
//!   `poll_transmit` ([`PeerConnection::mdns_responder`]). The mDNS state is made on first use: a
//!   connection that meets no `.local` name and hides nothing pays one pointer for it.
//! - **Ending.** [`PeerConnection::close`] ends in `closed`; so does the peer's DTLS close_notify or
//!   SCTP ABORT/SHUTDOWN (as browsers report it): every channel closes, ICE stops. ICE failure and DTLS
//!   fatal alerts end in `failed`.
//! - **Descriptions.** The W3C getters ([`PeerConnection::local_description`] and its current and pending
//!   variants, and the remote ones) follow W3C §4.4.1: a local description shows the candidates gathered
//!   since it was set. Provisional answers ([`SdpKind::Pranswer`]) apply the transport and the media like
//!   an answer.
//! - **Logging.** Each connection has a `sansrtc::pc` span named `pc` with the field `id`, its initial
//!   local ICE ufrag (so it comes from the seed, and stays the same after an ICE restart); the
//!   transport's calls (`handle_receive`, `handle_timeout`, the polls, gathering, `close`) run inside it,
//!   so every layer's lines read `pc{id=wC8y1Oxv}: sansrtc::ice: …`. The span is at `error` level: any
//!   filter that lets `sansrtc::pc` warnings through shows it (`sansrtc::ice=trace,sansrtc::pc=error`
//!   for one layer with the ids).
//! - **Not yet:** a new DTLS certificate mid-session, more than one BUNDLE group, sections without
//!   `a=rtcp-mux`, receiving simulcast by SSRC without RID header extensions, RTX of unsignalled streams
//!   without a repaired rid restored, a jitter buffer. A rollback
//!   of a remote offer leaves the ICE candidates and credentials it carried applied to the agent.

mod assemble;
mod audio;
mod channels;
mod codec;
mod congestion;
mod conn;
mod describe;
mod error;
mod frame;
mod mdns;
mod media;
mod media_stats;
mod negotiate;
mod rtp;
mod rtp_session;
mod signaling;
mod stats;
mod transceiver;

#[cfg(test)]
mod tests;

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use bytes::Bytes;

pub use assemble::{AssemblerStats, DEFAULT_MAX_FRAME_SIZE, FrameAssembler, MAX_ASSEMBLED_STREAMS, ReceivedFrame};
pub use codec::{Codec, Feedback, H264Level, H264Params, H264Profile, MediaKind, OpusParams, ProfileLevelId};
pub use conn::PeerConnection;
pub use error::{Error, MediaDrop, RecvError};
pub use frame::{OutgoingFrame, SentFrame};
pub use media::{ExtensionPreference, HeaderExtension};
pub use rtp::{KeyframeRequestKind, OutgoingRtp, RtpPacket, SentRtp};
pub use stats::{
    CandidatePairStats, CertificateStats, CodecStats, DataChannelState, DataChannelStats, DtlsRole, DtlsState,
    IceCandidateStats, InboundRtpStats, MediaSourceStats, OutboundRtpStats, PEER_CONNECTION_ID, PeerConnectionStats,
    RemoteInboundRtpStats, RemoteOutboundRtpStats, RtcStats, StatsIceRole, StatsReport, TRANSPORT_ID, TransportStats,
    pair_state_name,
};
pub use transceiver::{SendEncoding, Tag, Track, TrackOrKind, Transceiver, TransceiverId, TransceiverInit};

pub use crate::packetize::dtmf::Digit;
pub use crate::rtp::{ExtensionKind, ExtensionValue};
pub use crate::sdp::Direction;

pub use crate::datachannel::{ChannelOptions, Reliability};
pub use crate::ice::IceConnectionState;
pub use crate::sdp::Setup;
pub use crate::turn::TurnConfig;

use crate::dtls::Certificate;
use crate::{ice, sctp, turn};

const TARGET: &str = "sansrtc::pc";

/// The type of a session description, as W3C `RTCSdpType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SdpKind {
    /// An offer.
    Offer,
    /// A provisional answer (JSEP, RFC 8829 §4.1.10.1): applies the transport like an answer; the final
    /// answer is still due.
    Pranswer,
    /// A final answer.
    Answer,
    /// Undo the last offer set (JSEP, RFC 8829 §4.1.8.2); `sdp` is ignored.
    Rollback,
}

impl SdpKind {
    /// The W3C name (`"offer"`, `"answer"`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            SdpKind::Offer => "offer",
            SdpKind::Pranswer => "pranswer",
            SdpKind::Answer => "answer",
            SdpKind::Rollback => "rollback",
        }
    }
}

/// A session description with its type, as W3C `RTCSessionDescriptionInit`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Description {
    /// Offer, answer or rollback.
    pub kind: SdpKind,
    /// The SDP text.
    pub sdp: String,
}

impl Description {
    /// An offer with the given text.
    pub fn offer(sdp: impl Into<String>) -> Self {
        Description { kind: SdpKind::Offer, sdp: sdp.into() }
    }

    /// An answer with the given text.
    pub fn answer(sdp: impl Into<String>) -> Self {
        Description { kind: SdpKind::Answer, sdp: sdp.into() }
    }

    /// A rollback.
    pub fn rollback() -> Self {
        Description { kind: SdpKind::Rollback, sdp: String::new() }
    }
}

/// The signalling state, as W3C `RTCSignalingState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignalingState {
    /// No offer outstanding.
    Stable,
    /// A local offer was set; waiting for the answer.
    HaveLocalOffer,
    /// A remote offer was set; an answer is due.
    HaveRemoteOffer,
    /// A remote offer was answered with a local provisional answer; the final answer is due.
    HaveLocalPranswer,
    /// Our offer got a provisional answer; the final answer is due.
    HaveRemotePranswer,
    /// Closed.
    Closed,
}

/// The ICE gathering state, as W3C `RTCIceGatheringState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IceGatheringState {
    /// No socket declared yet.
    New,
    /// Gathering.
    Gathering,
    /// Every local candidate has been reported.
    Complete,
}

/// The aggregate connection state, as W3C `RTCPeerConnectionState` (ICE and DTLS together).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectionState {
    /// Nothing started.
    New,
    /// ICE checks or the DTLS handshake are under way.
    Connecting,
    /// ICE has a selected pair and DTLS is connected.
    Connected,
    /// ICE lost the selected pair for a while (it may come back), or the peer closed DTLS (close_notify).
    Disconnected,
    /// ICE failed or DTLS failed (a fatal alert, a fingerprint mismatch, a handshake timeout).
    Failed,
    /// Closed.
    Closed,
}

impl ConnectionState {
    /// The W3C name.
    pub const fn as_str(self) -> &'static str {
        match self {
            ConnectionState::New => "new",
            ConnectionState::Connecting => "connecting",
            ConnectionState::Connected => "connected",
            ConnectionState::Disconnected => "disconnected",
            ConnectionState::Failed => "failed",
            ConnectionState::Closed => "closed",
        }
    }
}

impl fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A local handle for a data channel (W3C `RTCDataChannel`): stable from creation, before the SCTP
/// stream id is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId(pub u32);

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What a peer connection reports (W3C event names in the docs).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// `signalingstatechange`.
    SignalingState(SignalingState),
    /// `icegatheringstatechange`.
    IceGatheringState(IceGatheringState),
    /// `iceconnectionstatechange`.
    IceConnectionState(IceConnectionState),
    /// `connectionstatechange`.
    ConnectionState(ConnectionState),
    /// `icecandidate`: a local candidate to signal to the peer (trickle, RFC 8838), as the W3C
    /// `RTCIceCandidate.candidate` string (`candidate:…`), for the m-section `mid`.
    LocalCandidate {
        /// `candidate:<foundation> 1 udp <priority> <address> <port> typ <type> …`.
        candidate: String,
        /// The mid of the section carrying the transport (the BUNDLE tag).
        mid: String,
    },
    /// `negotiationneeded`: call [`PeerConnection::create_offer`] (a first channel was created, a
    /// transceiver was added, stopped or changed direction, or an ICE restart was asked for).
    NegotiationNeeded,
    /// `track`: a remote description makes the peer send on a transceiver (W3C `ontrack`).
    Track {
        /// The transceiver.
        transceiver: TransceiverId,
        /// Its mid.
        mid: String,
        /// Audio or video.
        kind: MediaKind,
        /// The peer's stream ids for it (`a=msid`).
        stream_ids: Vec<String>,
    },
    /// An RTP packet arrived on a transceiver, decrypted and routed by mid, SSRC or payload type. A RED
    /// packet (RFC 2198) comes as the packets it carries, each once: the copies of earlier packets that
    /// were lost ([`RtpPacket::recovered`]), then its primary.
    Rtp(RtpPacket),
    /// A DTMF event (RFC 4733 telephone-event) the peer sent, reported once: when its end report
    /// arrived, or when the next event began or 250 ms passed without a report if every end report was
    /// lost ([`Digit::ended`] false).
    Dtmf {
        /// The transceiver.
        transceiver: TransceiverId,
        /// Its mid.
        mid: Tag,
        /// The SSRC it came on.
        ssrc: u32,
        /// The event: its code ([`Digit::tone`] for the character), RTP timestamp and duration.
        digit: Digit,
    },
    /// W3C `tonechange` of [`PeerConnection::insert_dtmf`]: a tone (or a `,` pause) starts, or (`None`)
    /// every tone was sent.
    DtmfToneChange {
        /// The transceiver.
        transceiver: TransceiverId,
        /// Its mid.
        mid: Tag,
        /// The tone starting, `None` at the end.
        tone: Option<char>,
    },
    /// A compound RTCP packet arrived, decrypted and taken by the connection's RTP session (what it said
    /// comes out as [`Event::KeyframeRequest`], [`Event::Remb`], [`Event::TransportFeedback`] and in the
    /// statistics): the raw compound, for an application that reads more of it (shared, not copied).
    Rtcp(Bytes),
    /// A receiver estimated maximum bitrate (REMB, draft-alvestrand-rmcat-remb) the peer sent: raw
    /// figures for a bandwidth estimator.
    Remb {
        /// The SSRC it came from.
        sender_ssrc: u32,
        /// The estimate, in bit/s.
        bitrate: u64,
        /// The SSRCs it applies to (up to eight).
        ssrcs: crate::rtp::session::SsrcList,
    },
    /// One packet of a transport-wide congestion control feedback the peer sent, matched with what the
    /// RTP session sent (transport-wide and RTP sequence numbers, send time, size, and arrival time on
    /// the peer's clock or `None` if it was reported lost): raw figures for a bandwidth estimator. The
    /// packets of one feedback come in a row and share its `feedback_count`.
    TransportFeedback(crate::rtp::session::PacketFeedback),
    /// The bandwidth estimator's send target moved materially (3 % or more, or onto a bound): what the
    /// encoders should produce, all streams together, headers included (libwebrtc's
    /// `TargetTransferRate`; W3C `availableOutgoingBitrate`). Made from the peer's transport-wide
    /// feedback (and REMB, an upper bound); see [`PeerConnection::target_bitrate`].
    TargetBitrate {
        /// The target, in bit/s.
        bitrate_bps: u64,
        /// The loss fraction the estimator last measured, as RTCP writes it (0–255 for 0–1).
        loss_fraction: u8,
        /// The round-trip time the estimator uses.
        rtt: core::time::Duration,
        /// How long the packets waiting in the pacer take to leave at the pacing rate.
        queue_delay: core::time::Duration,
    },
    /// The peer asks for a key frame on one of our streams (a PLI or FIR naming its SSRC), or an encoding
    /// was turned on again ([`PeerConnection::set_encoding_active`], kind
    /// [`KeyframeRequestKind::EncodingActivated`]): its next frame should be a key frame.
    KeyframeRequest {
        /// The transceiver.
        transceiver: TransceiverId,
        /// Its mid.
        mid: Tag,
        /// The encoding's rid, for simulcast.
        rid: Option<Tag>,
        /// PLI or FIR.
        kind: KeyframeRequestKind,
    },
    /// `datachannel`: the peer opened a channel.
    DataChannel {
        /// The channel.
        id: ChannelId,
        /// Its label.
        label: String,
        /// Its sub-protocol.
        protocol: String,
    },
    /// `open`: a channel we created is open.
    ChannelOpen(ChannelId),
    /// `message`.
    Message {
        /// The channel.
        id: ChannelId,
        /// The contents.
        data: Bytes,
        /// Binary (`ArrayBuffer`) rather than text.
        binary: bool,
    },
    /// `bufferedamountlow`.
    BufferedAmountLow(ChannelId),
    /// `close`: the channel is closed.
    ChannelClose(ChannelId),
    /// `error` on a channel, followed by its `close`: the data channel layer refused it (W3C
    /// `data-channel-failure`), e.g. a channel created before the DTLS role was known whose negotiated
    /// stream id turned out to be of the peer's parity, or beyond the streams the association has.
    ChannelError {
        /// The channel.
        id: ChannelId,
        /// Why.
        error: crate::datachannel::Error,
    },
    /// `icecandidateerror`: a TURN server gave no relay candidate (or lost it for good).
    IceCandidateError {
        /// The TURN server.
        server: core::net::SocketAddr,
        /// Why.
        failure: turn::Failure,
    },
}

impl fmt::Debug for Event {
    /// Messages are shown by length and a short prefix, so a timeline of large transfers stays readable.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::SignalingState(s) => write!(f, "SignalingState({s:?})"),
            Event::IceGatheringState(s) => write!(f, "IceGatheringState({s:?})"),
            Event::IceConnectionState(s) => write!(f, "IceConnectionState({s:?})"),
            Event::ConnectionState(s) => write!(f, "ConnectionState({s:?})"),
            Event::LocalCandidate { candidate, mid } => write!(f, "LocalCandidate({mid}: {candidate})"),
            Event::NegotiationNeeded => f.write_str("NegotiationNeeded"),
            Event::Track { transceiver, mid, kind, stream_ids } => {
                write!(f, "Track({transceiver}, mid={mid}, {kind}, streams={stream_ids:?})")
            }
            Event::Rtp(p) => write!(f, "{p:?}"),
            Event::Dtmf { transceiver, mid, ssrc, digit } => {
                write!(f, "Dtmf({transceiver}, mid={mid}, ssrc={ssrc:#010x}, {digit:?})")
            }
            Event::DtmfToneChange { transceiver, mid, tone } => {
                write!(f, "DtmfToneChange({transceiver}, mid={mid}, {tone:?})")
            }
            Event::Rtcp(p) => write!(f, "Rtcp({} bytes)", p.len()),
            Event::Remb { sender_ssrc, bitrate, ssrcs } => {
                write!(f, "Remb({sender_ssrc:#010x}: {bitrate} b/s for {:?})", ssrcs.as_slice())
            }
            Event::TransportFeedback(p) => write!(f, "TransportFeedback({p:?})"),
            Event::TargetBitrate { bitrate_bps, loss_fraction, rtt, queue_delay } => write!(
                f,
                "TargetBitrate({bitrate_bps} b/s, loss {loss_fraction}/256, rtt {rtt:?}, queue {queue_delay:?})"
            ),
            Event::KeyframeRequest { transceiver, mid, rid, kind } => {
                write!(f, "KeyframeRequest({transceiver}, mid={mid}, rid={rid:?}, {kind:?})")
            }
            Event::DataChannel { id, label, protocol } => {
                write!(f, "DataChannel({id}, label={label:?}, protocol={protocol:?})")
            }
            Event::ChannelOpen(id) => write!(f, "ChannelOpen({id})"),
            Event::Message { id, data, binary } => {
                let kind = if *binary { "binary" } else { "text" };
                write!(f, "Message({id}, {kind}, {} bytes)", data.len())
            }
            Event::BufferedAmountLow(id) => write!(f, "BufferedAmountLow({id})"),
            Event::ChannelClose(id) => write!(f, "ChannelClose({id})"),
            Event::ChannelError { id, error } => write!(f, "ChannelError({id}: {error})"),
            Event::IceCandidateError { server, failure } => write!(f, "IceCandidateError({server}: {failure})"),
        }
    }
}

/// Counters of what the peer connection itself dropped (each layer keeps its own too: see
/// [`PeerConnection::ice`], [`PeerConnection::dtls`], [`PeerConnection::data_channels`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams the ICE agent dropped.
    pub ice_dropped: u64,
    /// DTLS records DTLS dropped.
    pub dtls_dropped: u64,
    /// DTLS before the DTLS role was negotiated.
    pub not_ready_dropped: u64,
    /// SRTP/SRTCP dropped, for any of the reasons below ([`MediaDrop`]).
    pub media_dropped: u64,
    /// SRTP/SRTCP before the SRTP keys.
    pub media_not_ready: u64,
    /// RTP that did not parse, or that SRTP found malformed.
    pub rtp_malformed: u64,
    /// RTP whose MID names no m-section of ours.
    pub rtp_unknown_mid: u64,
    /// RTP with nothing to route it by (no MID, unknown SSRC, payload type not unique to one m-section).
    pub rtp_unroutable: u64,
    /// RTP with a payload type not negotiated on its m-section.
    pub rtp_unknown_payload_type: u64,
    /// RTP for an m-section not negotiated to receive.
    pub rtp_not_receiving: u64,
    /// RTP of more streams than the connection tracks.
    pub rtp_too_many_streams: u64,
    /// SRTP packets that failed authentication.
    pub srtp_auth_failed: u64,
    /// SRTP packets replayed or too old.
    pub srtp_replayed: u64,
    /// SRTCP packets that failed authentication.
    pub srtcp_auth_failed: u64,
    /// SRTCP packets replayed or too old.
    pub srtcp_replayed: u64,
    /// SRTCP packets SRTP found malformed.
    pub rtcp_malformed: u64,
    /// Decrypted RTP the RTP session dropped ([`MediaDrop::Session`]; its [`crate::rtp::session::Stats`]
    /// say why, see [`PeerConnection::media_stats`]).
    pub rtp_session_dropped: u64,
    /// Decrypted RTCP the RTP session dropped ([`MediaDrop::RtcpSession`]).
    pub rtcp_session_dropped: u64,
    /// Packets the RTP session owed (reports, feedback, RTX) that could not be sent: no selected pair
    /// yet, or SRTP refused them.
    pub media_unsent: u64,
    /// RTP packets dropped because the pacer's queue for their class was full.
    pub media_paced_dropped: u64,
    /// Key-frame requests (PLI, FIR) naming no SSRC of ours (the packet itself was taken).
    pub rtcp_unroutable: u64,
    /// Other first bytes (RFC 7983): ZRTP, TURN channel data, unknown.
    pub unknown_dropped: u64,
    /// Received after close.
    pub closed_dropped: u64,
    /// Outgoing datagrams dropped because the transmit queue was full.
    pub transmit_dropped: u64,
    /// Events dropped because the event queue was full.
    pub events_dropped: u64,
    /// Datagrams from a TURN server its client rejected (see [`crate::turn::TurnClient::stats`]).
    pub turn_dropped: u64,
    /// mDNS datagrams (from or to port 5353) dropped: about no name of ours (a response while nothing is
    /// being resolved, a query for a name we do not hide), or rejected by the resolver or responder (see
    /// [`PeerConnection::mdns_resolver`], [`PeerConnection::mdns_responder`]).
    pub mdns_dropped: u64,
    /// Remote `.local` candidates never added to ICE: their name did not resolve in time or resolved
    /// ambiguously, could not be asked for, or resolution is off ([`Config::resolve_mdns`]).
    pub mdns_unresolved: u64,
}

/// Which candidates ICE may use, as W3C `RTCIceTransportPolicy`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum IceTransportPolicy {
    /// Every candidate type (`"all"`, the default).
    #[default]
    All,
    /// Relay candidates only (`"relay"`): nothing but TURN-relayed addresses is gathered, offered or
    /// paired, so the peer never learns a local or server-reflexive address.
    Relay,
}

impl IceTransportPolicy {
    /// The W3C name.
    pub const fn as_str(self) -> &'static str {
        match self {
            IceTransportPolicy::All => "all",
            IceTransportPolicy::Relay => "relay",
        }
    }
}

/// The peer connection's configuration. `Config::default()` is a full ICE agent, a fresh certificate,
/// `a=setup:active` when answering and a 256 KiB maximum message size.
#[derive(Clone, Debug)]
pub struct Config {
    /// The ICE agent's settings. Its `role` is overridden by the offer/answer roles; `lite` makes this an
    /// ICE-lite endpoint (written as `a=ice-lite`).
    pub ice: ice::Config,
    /// The DTLS certificate; `None` generates one from the connection's generator.
    pub certificate: Option<Certificate>,
    /// What to answer to an `actpass` offer: [`Setup::Active`] (default: we are the DTLS client) or
    /// [`Setup::Passive`].
    pub answer_setup: Setup,
    /// The SCTP association's settings. The ports and the maximum message size are set from the
    /// descriptions. The default is [`sctp::Config::default`] with browsers' retransmission timers
    /// (RTO.Initial 500 ms, RTO.Min 400 ms).
    pub sctp: sctp::Config,
    /// `a=max-message-size` we advertise and accept (default 262144).
    pub max_message_size: u64,
    /// Cap on queued outgoing datagrams (default 1024).
    pub max_transmits: usize,
    /// Cap on queued events (default 8192).
    pub max_events: usize,
    /// TURN servers for relay candidates (W3C `iceServers` with `turn:` URLs), at most four. Give
    /// [`TurnConfig::local`] an unspecified address (`0.0.0.0:0`, `[::]:0`) to allocate from the first host
    /// socket of the server's family declared with [`PeerConnection::add_local_host`], or a socket of
    /// the caller's (which need not be a host candidate) to allocate from it at the first gathering call.
    /// RFC 8656 allows one allocation per 5-tuple: peer connections sharing one socket cannot each
    /// allocate from it on the same server. Empty by default.
    pub turn_servers: alloc::vec::Vec<TurnConfig>,
    /// W3C `iceTransportPolicy`: [`IceTransportPolicy::Relay`] overrides the ICE config's candidate filter
    /// with [`ice::CandidateFilter::RELAY_ONLY`].
    pub ice_transport_policy: IceTransportPolicy,
    /// Keep the DTLS key log ([`crate::dtls::Config::key_log`]), readable through
    /// [`crate::dtls::Dtls::key_log`] once the master secret is known, so a capture can be decrypted
    /// ([`crate::record::Capture`]). Off by default: it exposes the session's secrets.
    pub key_log: bool,
    /// The DTLS versions the connection negotiates ([`crate::dtls::Config::versions`]). Default
    /// [`Versions::DEFAULT`](crate::dtls::Versions::DEFAULT): DTLS 1.3 preferred, 1.2 for a peer without
    /// it (1.2 alone without the `dtls13` feature). Pin [`Versions::Dtls12`](crate::dtls::Versions::Dtls12)
    /// for a peer that mishandles a 1.3 ClientHello, or for captures read by a Wireshark that cannot
    /// decrypt DTLS 1.3.
    pub dtls_versions: crate::dtls::Versions,
    /// The codecs the connection sends and receives, in preference order; their payload types are the
    /// ones our offers use (when the BUNDLE group leaves them free). Default [`Codec::defaults`] (a
    /// static table: set `Cow::Owned(vec)` to change it).
    pub codecs: Cow<'static, [Codec]>,
    /// The RTP header extensions used on audio and video sections, with the ids our offers give them.
    /// Default [`ExtensionPreference::defaults`].
    pub header_extensions: Cow<'static, [ExtensionPreference]>,
    /// The SRTP protection profiles DTLS offers (`use_srtp`, RFC 5764 §4.1.2) in preference order; the
    /// DTLS server picks by its own order. Default all four, AES-GCM first, as Firefox offers them
    /// (Chromium offers the same without the 32-bit tag).
    pub srtp_profiles: Cow<'static, [crate::dtls::SrtpProfile]>,
    /// The largest SRTP packet (UDP payload) [`PeerConnection::write_frame`] makes, in octets (default
    /// 1200, what browsers use: it leaves room for IPv6, UDP and a TURN ChannelData header under a
    /// 1280-octet path MTU). Packets given to [`PeerConnection::write_rtp`] are sent as they are.
    pub media_mtu: usize,
    /// The bandwidth estimator's bounds and start rate (used when transport-wide CC is negotiated).
    /// Default 30 kbit/s to 10 Mbit/s, starting at 300 kbit/s (libwebrtc's start rate), probing at the
    /// start. Probes are padded with padding-only packets on the first video encoding's RTX stream: an
    /// application writing packets of its own on that RTX SSRC ([`PeerConnection::write_rtp_raw`])
    /// should turn `probing` off, or their sequence numbers would collide.
    pub bandwidth: crate::cc::Config,
    /// The pacer for media sent with transport-wide CC; `None` sends each packet as it is written. On
    /// by default ([`crate::cc::PacerConfig::default`]: 2.5 × the target, audio and retransmissions
    /// first), as libwebrtc always paces: a frame's packets are spread instead of leaving in one burst
    /// that fills the bottleneck's queue and reads as over-use.
    pub pacer: Option<crate::cc::PacerConfig>,
    /// Resolve remote candidates whose address is a `<UUID>.local` name (draft-ietf-mmusic-mdns-ice-candidates,
    /// as browsers send their host candidates) with mDNS queries sent through `poll_transmit` (default
    /// `true`). The candidate is added to ICE once its name resolves (within 5 s); see
    /// [`PeerConnection::mdns_resolver`]. Off, such candidates are ignored (and counted in
    /// [`Stats::mdns_unresolved`]).
    pub resolve_mdns: bool,
    /// Hide our host addresses behind random `<UUIDv4>.local` names (draft-ietf-mmusic-mdns-ice-candidates
    /// §3.1, as browsers do; default `false`): each host socket's address gets a name from the
    /// connection's generator when it is declared, the name replaces the address in the candidates we
    /// signal, and the related address of our other candidates becomes `0.0.0.0`/`::` port 9. The peer
    /// resolves the name with mDNS: declare the socket bound to port 5353 that receives the queries
    /// ([`PeerConnection::add_mdns_socket`]) and feed it to `handle_receive`; the answers come out of
    /// `poll_transmit` ([`PeerConnection::mdns_responder`] has the names and counters). At most
    /// [`crate::mdns::MAX_NAMES`] addresses are hidden; beyond them an address is signalled as it is.
    pub hide_local_addresses: bool,
    /// How many earlier payloads each Opus packet sent repeats in RED (RFC 2198) where RED is negotiated
    /// on the transceiver: 0 (default) sends Opus as it is; 1 is what Chromium sends; at most
    /// [`crate::packetize::red::MAX_DISTANCE`]. Received RED is unwrapped whatever this says. To have
    /// a browser send RED, put RED first in the transceiver's codec preferences
    /// ([`PeerConnection::set_codec_preferences`]).
    pub red_distance: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            ice: ice::Config::default(),
            certificate: None,
            answer_setup: Setup::Active,
            // RFC 9260's RTO.Initial and RTO.Min of 1 s suit the open Internet of 2000; browsers' SCTP
            // (dcSCTP) uses 500 ms and 400 ms, still above a peer's 200 ms delayed ack, and recovers from a
            // lost retransmission more than twice as fast.
            sctp: sctp::Config {
                rto_initial: core::time::Duration::from_millis(500),
                rto_min: core::time::Duration::from_millis(400),
                ..sctp::Config::default()
            },
            max_message_size: 262_144,
            max_transmits: 1024,
            max_events: 8192,
            turn_servers: alloc::vec::Vec::new(),
            ice_transport_policy: IceTransportPolicy::All,
            key_log: false,
            dtls_versions: crate::dtls::Versions::DEFAULT,
            codecs: Cow::Borrowed(&codec::DEFAULT_CODECS),
            header_extensions: Cow::Borrowed(&media::DEFAULT_EXTENSIONS),
            srtp_profiles: Cow::Borrowed(&crate::dtls::SrtpProfile::ALL),
            media_mtu: 1200,
            bandwidth: crate::cc::Config::new(30_000, 300_000, 10_000_000),
            pacer: Some(crate::cc::PacerConfig::default()),
            resolve_mdns: true,
            hide_local_addresses: false,
            red_distance: 0,
        }
    }
}

/// The local ufrag of a STUN message's USERNAME (`<local ufrag>:<remote ufrag>`, RFC 8445 §7.2.2), for
/// finding which peer connection a binding request on a shared socket belongs to: look the result up in a
/// map keyed on [`PeerConnection::local_ufrag`]. Reads the message with the crate's one STUN parser
/// ([`crate::stun::Message::new_checked`]) without verifying anything (the connection does that); `None`
/// if it is not STUN or has no USERNAME.
pub fn stun_username_local_ufrag(datagram: &[u8]) -> Option<&str> {
    let message = crate::stun::Message::new_checked(datagram).ok()?;
    message.username_in_buffer()?.split(':').next()
}
