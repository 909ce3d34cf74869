//! Call records: one per call made on a recorded peer connection, with its arguments, the running digest of
//! the outputs so far and (in whole-outputs journals) the call's outcome itself.

use alloc::vec::Vec;
use core::fmt;
use core::net::SocketAddr;
use core::time::Duration;

use super::wire::{
    DIGEST_LEN, JournalError, Reader, put_addr, put_bool, put_bytes, put_duration, put_instant, put_opt, put_str,
    put_u8, put_u16, put_u32, put_u64,
};
use crate::datachannel::{ChannelOptions, Reliability};
use crate::machine::Datagram;
use crate::pc::{
    ChannelId, Codec, Description, Direction, ExtensionValue, MediaKind, SdpKind, TransceiverId, TransceiverInit,
};
use crate::time::Instant;

/// Record kinds.
pub mod kind {
    /// The opening record: seed and configuration.
    pub const OPEN: u8 = 0x01;
    pub const RECEIVE: u8 = 0x10;
    pub const TIMEOUT: u8 = 0x11;
    pub const POLL_TRANSMIT: u8 = 0x12;
    pub const POLL_EVENT: u8 = 0x13;
    /// A `poll_transmit` that returned nothing: no body, no digest (the running digest does not move).
    pub const POLL_TRANSMIT_NONE: u8 = 0x14;
    /// A `poll_event` that returned nothing: no body, no digest.
    pub const POLL_EVENT_NONE: u8 = 0x15;
    /// A `poll_timeout`: the deadline the caller read.
    pub const POLL_TIMEOUT: u8 = 0x18;
    /// Set on the kind of an input call's record when the call succeeded plainly (returned `Ok(())`, or
    /// `()`): the record carries its arguments but no digest or outcome, and the running digest does
    /// not move; a replay checks that the call succeeds plainly again.
    pub const SUCCEEDED: u8 = 0x80;
    pub const ADD_LOCAL_HOST: u8 = 0x20;
    pub const ADD_STUN_SERVER: u8 = 0x21;
    pub const END_OF_LOCAL_CANDIDATES: u8 = 0x22;
    pub const CREATE_OFFER: u8 = 0x23;
    pub const CREATE_ANSWER: u8 = 0x24;
    pub const SET_LOCAL_DESCRIPTION: u8 = 0x25;
    pub const SET_REMOTE_DESCRIPTION: u8 = 0x26;
    pub const ADD_ICE_CANDIDATE: u8 = 0x27;
    pub const RESTART_ICE: u8 = 0x28;
    pub const CREATE_DATA_CHANNEL: u8 = 0x29;
    pub const SEND: u8 = 0x2a;
    pub const SET_BUFFERED_AMOUNT_LOW_THRESHOLD: u8 = 0x2b;
    pub const CLOSE_CHANNEL: u8 = 0x2c;
    pub const CLOSE: u8 = 0x2d;
    pub const ADD_TRANSCEIVER: u8 = 0x30;
    pub const ADD_TRACK: u8 = 0x31;
    pub const SET_DIRECTION: u8 = 0x32;
    pub const STOP_TRANSCEIVER: u8 = 0x33;
    pub const WRITE_RTP: u8 = 0x34;
    pub const WRITE_RTP_RAW: u8 = 0x35;
    pub const WRITE_RTCP: u8 = 0x36;
    pub const REQUEST_KEYFRAME: u8 = 0x37;
    pub const WRITE_FRAME: u8 = 0x38;
    pub const SET_ENCODING_ACTIVE: u8 = 0x39;
    pub const INSERT_DTMF: u8 = 0x3a;
    pub const SET_NTP_EPOCH: u8 = 0x3b;
    pub const SET_CODEC_PREFERENCES: u8 = 0x3c;
    pub const ADD_LOCAL_TCP: u8 = 0x3d;
}

/// One call on a [`PeerConnection`](crate::pc::PeerConnection), with its arguments, as journaled.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Call<'a> {
    /// `handle_receive`.
    Receive {
        /// `now`.
        now: Instant,
        /// The datagram, with the remote address it came from and the local one it arrived on.
        datagram: Datagram<'a>,
    },
    /// `handle_timeout`.
    Timeout {
        /// `now`.
        now: Instant,
    },
    /// `poll_transmit`.
    PollTransmit,
    /// `poll_event`.
    PollEvent,
    /// `poll_timeout`: a pure read, journaled where the caller made it (once between two other calls:
    /// it cannot change in between), so that a replay checks the deadlines the caller saw.
    PollTimeout,
    /// `add_local_host`.
    AddLocalHost {
        /// `now`.
        now: Instant,
        /// The socket.
        addr: SocketAddr,
    },
    /// `add_local_tcp`.
    AddLocalTcp {
        /// `now`.
        now: Instant,
        /// The listening socket (passive) or the active base.
        addr: SocketAddr,
        /// The candidate's direction.
        tcp_type: crate::ice::TcpType,
    },
    /// `add_stun_server`.
    AddStunServer {
        /// `now`.
        now: Instant,
        /// The server.
        server: SocketAddr,
    },
    /// `end_of_local_candidates`.
    EndOfLocalCandidates {
        /// `now`.
        now: Instant,
    },
    /// `create_offer`.
    CreateOffer,
    /// `create_answer`.
    CreateAnswer,
    /// `set_local_description`.
    SetLocalDescription {
        /// `now`.
        now: Instant,
        /// The description's type.
        kind: SdpKind,
        /// Its SDP.
        sdp: &'a str,
    },
    /// `set_remote_description`.
    SetRemoteDescription {
        /// `now`.
        now: Instant,
        /// The description's type.
        kind: SdpKind,
        /// Its SDP.
        sdp: &'a str,
    },
    /// `add_ice_candidate`.
    AddIceCandidate {
        /// `now`.
        now: Instant,
        /// The candidate line, `None` for end-of-candidates.
        candidate: Option<&'a str>,
    },
    /// `restart_ice`.
    RestartIce {
        /// `now`.
        now: Instant,
    },
    /// `create_data_channel`.
    CreateDataChannel {
        /// `now`.
        now: Instant,
        /// The options.
        options: ChannelOptions,
    },
    /// `send` (also `send_text` and `send_binary`, which are `send` with a copy).
    Send {
        /// `now`.
        now: Instant,
        /// The channel.
        channel: ChannelId,
        /// Binary rather than text.
        binary: bool,
        /// The message.
        data: &'a [u8],
    },
    /// `set_buffered_amount_low_threshold`.
    SetBufferedAmountLowThreshold {
        /// The channel.
        channel: ChannelId,
        /// The threshold.
        threshold: u64,
    },
    /// `close_channel`.
    CloseChannel {
        /// `now`.
        now: Instant,
        /// The channel.
        channel: ChannelId,
    },
    /// `close`.
    Close {
        /// `now`.
        now: Instant,
    },
    /// `add_transceiver`.
    AddTransceiver {
        /// `now`.
        now: Instant,
        /// The kind (of the track, when one is given).
        kind: MediaKind,
        /// The track's id, when a track was given rather than a kind.
        track: Option<&'a str>,
        /// The initialisation.
        init: TransceiverInit,
    },
    /// `add_track`.
    AddTrack {
        /// `now`.
        now: Instant,
        /// The track's kind.
        kind: MediaKind,
        /// The track's id.
        track: &'a str,
        /// The stream ids.
        stream_ids: Vec<&'a str>,
    },
    /// `set_direction`.
    SetDirection {
        /// `now`.
        now: Instant,
        /// The transceiver.
        transceiver: TransceiverId,
        /// The direction.
        direction: Direction,
    },
    /// `stop_transceiver`.
    StopTransceiver {
        /// `now`.
        now: Instant,
        /// The transceiver.
        transceiver: TransceiverId,
    },
    /// `write_rtp`, with the packet's fields.
    WriteRtp {
        /// `now`.
        now: Instant,
        /// The m-section.
        mid: &'a str,
        /// The payload type.
        payload_type: u8,
        /// The RTP timestamp.
        timestamp: u32,
        /// The marker bit.
        marker: bool,
        /// The payload.
        payload: &'a [u8],
        /// The header extensions.
        extensions: Vec<ExtensionValue<'a>>,
        /// The encoding's rid.
        rid: Option<&'a str>,
    },
    /// `write_rtp_raw`.
    WriteRtpRaw {
        /// `now`.
        now: Instant,
        /// The m-section.
        mid: &'a str,
        /// The RTP packet.
        packet: &'a [u8],
    },
    /// `write_rtcp`.
    WriteRtcp {
        /// `now`.
        now: Instant,
        /// The RTCP packet.
        packet: &'a [u8],
    },
    /// `request_keyframe`.
    RequestKeyframe {
        /// `now`.
        now: Instant,
        /// The m-section.
        mid: &'a str,
    },
    /// `write_frame`, with the frame's fields.
    WriteFrame {
        /// `now`.
        now: Instant,
        /// The m-section.
        mid: &'a str,
        /// The payload type, `None` for the transceiver's first codec.
        payload_type: Option<u8>,
        /// The RTP timestamp.
        timestamp: u32,
        /// The encoded frame.
        data: &'a [u8],
        /// The header extensions.
        extensions: Vec<ExtensionValue<'a>>,
        /// The encoding's rid.
        rid: Option<&'a str>,
    },
    /// `set_encoding_active`.
    SetEncodingActive {
        /// `now`.
        now: Instant,
        /// The transceiver.
        transceiver: TransceiverId,
        /// The encoding's rid (`None`: the first encoding).
        rid: Option<&'a str>,
        /// On rather than off.
        active: bool,
    },
    /// `insert_dtmf`.
    InsertDtmf {
        /// `now`.
        now: Instant,
        /// The m-section.
        mid: &'a str,
        /// The tones.
        tones: &'a str,
        /// How long each tone sounds.
        duration: Duration,
        /// The gap between tones.
        gap: Duration,
    },
    /// `set_ntp_epoch`.
    SetNtpEpoch {
        /// The wall-clock time at `Instant::ZERO`, since the NTP epoch.
        epoch: Duration,
    },
    /// `set_codec_preferences`.
    SetCodecPreferences {
        /// The transceiver.
        transceiver: TransceiverId,
        /// The codecs, in order.
        codecs: Vec<Codec>,
    },
}

impl Call<'_> {
    /// The record kind.
    pub fn kind(&self) -> u8 {
        match self {
            Call::Receive { .. } => kind::RECEIVE,
            Call::Timeout { .. } => kind::TIMEOUT,
            Call::PollTransmit => kind::POLL_TRANSMIT,
            Call::PollTimeout => kind::POLL_TIMEOUT,
            Call::PollEvent => kind::POLL_EVENT,
            Call::AddLocalHost { .. } => kind::ADD_LOCAL_HOST,
            Call::AddLocalTcp { .. } => kind::ADD_LOCAL_TCP,
            Call::AddStunServer { .. } => kind::ADD_STUN_SERVER,
            Call::EndOfLocalCandidates { .. } => kind::END_OF_LOCAL_CANDIDATES,
            Call::CreateOffer => kind::CREATE_OFFER,
            Call::CreateAnswer => kind::CREATE_ANSWER,
            Call::SetLocalDescription { .. } => kind::SET_LOCAL_DESCRIPTION,
            Call::SetRemoteDescription { .. } => kind::SET_REMOTE_DESCRIPTION,
            Call::AddIceCandidate { .. } => kind::ADD_ICE_CANDIDATE,
            Call::RestartIce { .. } => kind::RESTART_ICE,
            Call::CreateDataChannel { .. } => kind::CREATE_DATA_CHANNEL,
            Call::Send { .. } => kind::SEND,
            Call::SetBufferedAmountLowThreshold { .. } => kind::SET_BUFFERED_AMOUNT_LOW_THRESHOLD,
            Call::CloseChannel { .. } => kind::CLOSE_CHANNEL,
            Call::Close { .. } => kind::CLOSE,
            Call::AddTransceiver { .. } => kind::ADD_TRANSCEIVER,
            Call::AddTrack { .. } => kind::ADD_TRACK,
            Call::SetDirection { .. } => kind::SET_DIRECTION,
            Call::StopTransceiver { .. } => kind::STOP_TRANSCEIVER,
            Call::WriteRtp { .. } => kind::WRITE_RTP,
            Call::WriteRtpRaw { .. } => kind::WRITE_RTP_RAW,
            Call::WriteRtcp { .. } => kind::WRITE_RTCP,
            Call::RequestKeyframe { .. } => kind::REQUEST_KEYFRAME,
            Call::WriteFrame { .. } => kind::WRITE_FRAME,
            Call::SetEncodingActive { .. } => kind::SET_ENCODING_ACTIVE,
            Call::InsertDtmf { .. } => kind::INSERT_DTMF,
            Call::SetNtpEpoch { .. } => kind::SET_NTP_EPOCH,
            Call::SetCodecPreferences { .. } => kind::SET_CODEC_PREFERENCES,
        }
    }

    /// The `now` the call was given, if it takes one.
    pub fn now(&self) -> Option<Instant> {
        match *self {
            Call::Receive { now, .. }
            | Call::Timeout { now }
            | Call::AddLocalHost { now, .. }
            | Call::AddLocalTcp { now, .. }
            | Call::AddStunServer { now, .. }
            | Call::EndOfLocalCandidates { now }
            | Call::SetLocalDescription { now, .. }
            | Call::SetRemoteDescription { now, .. }
            | Call::AddIceCandidate { now, .. }
            | Call::RestartIce { now }
            | Call::CreateDataChannel { now, .. }
            | Call::Send { now, .. }
            | Call::CloseChannel { now, .. }
            | Call::Close { now }
            | Call::AddTransceiver { now, .. }
            | Call::AddTrack { now, .. }
            | Call::SetDirection { now, .. }
            | Call::StopTransceiver { now, .. }
            | Call::WriteRtp { now, .. }
            | Call::WriteRtpRaw { now, .. }
            | Call::WriteRtcp { now, .. }
            | Call::RequestKeyframe { now, .. }
            | Call::WriteFrame { now, .. }
            | Call::SetEncodingActive { now, .. }
            | Call::InsertDtmf { now, .. } => Some(now),
            Call::PollTransmit
            | Call::PollEvent
            | Call::PollTimeout
            | Call::CreateOffer
            | Call::CreateAnswer
            | Call::SetBufferedAmountLowThreshold { .. }
            | Call::SetNtpEpoch { .. }
            | Call::SetCodecPreferences { .. } => None,
        }
    }

    /// Whether the call is a poll (an output taken), rather than an input.
    pub fn is_poll(&self) -> bool {
        matches!(self, Call::PollTransmit | Call::PollEvent | Call::PollTimeout)
    }

    /// The length [`Self::put_args`] appends, for the calls on the hot path (datagrams, timeouts, polls,
    /// sends), so their record can be framed in place; `None` for the others.
    pub(super) fn args_len(&self) -> Option<usize> {
        fn addr_len(a: &SocketAddr) -> usize {
            if a.is_ipv4() { 7 } else { 27 }
        }
        fn bytes_len(b: &[u8]) -> usize {
            super::wire::varint_len(b.len() as u64) + b.len()
        }
        match self {
            Call::Receive { datagram, .. } => {
                Some(8 + addr_len(&datagram.source) + addr_len(&datagram.destination) + bytes_len(datagram.contents))
            }
            Call::Timeout { .. } => Some(8),
            Call::PollTransmit | Call::PollEvent | Call::PollTimeout => Some(0),
            Call::Send { data, .. } => Some(8 + 4 + 1 + bytes_len(data)),
            _ => None,
        }
    }

    /// Appends the arguments (the record body before the digest).
    pub(super) fn put_args(&self, out: &mut Vec<u8>) {
        match self {
            Call::Receive { now, datagram } => {
                put_instant(out, *now);
                put_addr(out, datagram.source);
                put_addr(out, datagram.destination);
                put_bytes(out, datagram.contents);
            }
            Call::Timeout { now }
            | Call::EndOfLocalCandidates { now }
            | Call::RestartIce { now }
            | Call::Close { now } => put_instant(out, *now),
            Call::PollTransmit | Call::PollEvent | Call::PollTimeout | Call::CreateOffer | Call::CreateAnswer => {}
            Call::AddLocalHost { now, addr: a } | Call::AddStunServer { now, server: a } => {
                put_instant(out, *now);
                put_addr(out, *a);
            }
            Call::AddLocalTcp { now, addr, tcp_type } => {
                put_instant(out, *now);
                put_addr(out, *addr);
                out.push(match tcp_type {
                    crate::ice::TcpType::Active => 0,
                    crate::ice::TcpType::Passive => 1,
                    crate::ice::TcpType::SimultaneousOpen => 2,
                });
            }
            Call::SetLocalDescription { now, kind, sdp } | Call::SetRemoteDescription { now, kind, sdp } => {
                put_instant(out, *now);
                put_sdp_kind(out, *kind);
                put_str(out, sdp);
            }
            Call::AddIceCandidate { now, candidate } => {
                put_instant(out, *now);
                put_opt(out, *candidate, put_str);
            }
            Call::CreateDataChannel { now, options } => {
                put_instant(out, *now);
                put_channel_options(out, options);
            }
            Call::Send { now, channel, binary, data } => {
                put_instant(out, *now);
                put_u32(out, channel.0);
                put_bool(out, *binary);
                put_bytes(out, data);
            }
            Call::SetBufferedAmountLowThreshold { channel, threshold } => {
                put_u32(out, channel.0);
                put_u64(out, *threshold);
            }
            Call::CloseChannel { now, channel } => {
                put_instant(out, *now);
                put_u32(out, channel.0);
            }
            media => {
                super::media::put_args(media, out);
            }
        }
    }
}

impl<'a> Call<'a> {
    /// Reads the arguments of a record of kind `k`; `None` for a kind that is not a call.
    pub(super) fn read_args(k: u8, r: &mut Reader<'a>) -> Result<Option<Call<'a>>, JournalError> {
        let call = match k {
            kind::RECEIVE => {
                let now = r.instant("now")?;
                let source = r.addr("source address")?;
                let destination = r.addr("destination address")?;
                let contents = r.bytes("datagram")?;
                Call::Receive { now, datagram: Datagram { source, destination, contents } }
            }
            kind::TIMEOUT => Call::Timeout { now: r.instant("now")? },
            kind::POLL_TRANSMIT => Call::PollTransmit,
            kind::POLL_EVENT => Call::PollEvent,
            kind::POLL_TIMEOUT => Call::PollTimeout,
            kind::ADD_LOCAL_HOST => Call::AddLocalHost { now: r.instant("now")?, addr: r.addr("local address")? },
            kind::ADD_LOCAL_TCP => {
                let (now, addr) = (r.instant("now")?, r.addr("local address")?);
                let at = r.clone();
                let tcp_type = match r.u8("TCP type")? {
                    0 => crate::ice::TcpType::Active,
                    1 => crate::ice::TcpType::Passive,
                    2 => crate::ice::TcpType::SimultaneousOpen,
                    _ => return Err(at.corrupt("TCP type")),
                };
                Call::AddLocalTcp { now, addr, tcp_type }
            }
            kind::ADD_STUN_SERVER => {
                Call::AddStunServer { now: r.instant("now")?, server: r.addr("STUN server address")? }
            }
            kind::END_OF_LOCAL_CANDIDATES => Call::EndOfLocalCandidates { now: r.instant("now")? },
            kind::CREATE_OFFER => Call::CreateOffer,
            kind::CREATE_ANSWER => Call::CreateAnswer,
            kind::SET_LOCAL_DESCRIPTION => {
                let now = r.instant("now")?;
                let kind = read_sdp_kind(r)?;
                Call::SetLocalDescription { now, kind, sdp: r.str("SDP")? }
            }
            kind::SET_REMOTE_DESCRIPTION => {
                let now = r.instant("now")?;
                let kind = read_sdp_kind(r)?;
                Call::SetRemoteDescription { now, kind, sdp: r.str("SDP")? }
            }
            kind::ADD_ICE_CANDIDATE => {
                let now = r.instant("now")?;
                Call::AddIceCandidate { now, candidate: r.opt("candidate", |r| r.str("candidate"))? }
            }
            kind::RESTART_ICE => Call::RestartIce { now: r.instant("now")? },
            kind::CREATE_DATA_CHANNEL => {
                let now = r.instant("now")?;
                Call::CreateDataChannel { now, options: read_channel_options(r)? }
            }
            kind::SEND => {
                let now = r.instant("now")?;
                let channel = ChannelId(r.u32("channel")?);
                let binary = r.bool("binary flag")?;
                Call::Send { now, channel, binary, data: r.bytes("message")? }
            }
            kind::SET_BUFFERED_AMOUNT_LOW_THRESHOLD => Call::SetBufferedAmountLowThreshold {
                channel: ChannelId(r.u32("channel")?),
                threshold: r.u64("threshold")?,
            },
            kind::CLOSE_CHANNEL => Call::CloseChannel { now: r.instant("now")?, channel: ChannelId(r.u32("channel")?) },
            kind::CLOSE => Call::Close { now: r.instant("now")? },
            k => return super::media::read_args(k, r),
        };
        Ok(Some(call))
    }

    /// The description a description call carries.
    pub(super) fn description(kind: SdpKind, sdp: &str) -> Description {
        Description { kind, sdp: alloc::string::String::from(sdp) }
    }
}

impl fmt::Display for Call<'_> {
    /// A one-line summary: the method, `now`, and the arguments (datagrams and messages by length).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Call::Receive { now, datagram } => write!(
                f,
                "handle_receive({now}, {} -> {}, {} bytes)",
                datagram.source,
                datagram.destination,
                datagram.contents.len()
            ),
            Call::Timeout { now } => write!(f, "handle_timeout({now})"),
            Call::PollTransmit => f.write_str("poll_transmit()"),
            Call::PollEvent => f.write_str("poll_event()"),
            Call::PollTimeout => f.write_str("poll_timeout()"),
            Call::AddLocalHost { now, addr } => write!(f, "add_local_host({now}, {addr})"),
            Call::AddLocalTcp { now, addr, tcp_type } => {
                write!(f, "add_local_tcp({now}, {addr}, {})", tcp_type.as_str())
            }
            Call::AddStunServer { now, server } => write!(f, "add_stun_server({now}, {server})"),
            Call::EndOfLocalCandidates { now } => write!(f, "end_of_local_candidates({now})"),
            Call::CreateOffer => f.write_str("create_offer()"),
            Call::CreateAnswer => f.write_str("create_answer()"),
            Call::SetLocalDescription { now, kind, sdp } => {
                write!(f, "set_local_description({now}, {}, {} bytes of SDP)", kind.as_str(), sdp.len())
            }
            Call::SetRemoteDescription { now, kind, sdp } => {
                write!(f, "set_remote_description({now}, {}, {} bytes of SDP)", kind.as_str(), sdp.len())
            }
            Call::AddIceCandidate { now, candidate: Some(c) } => write!(f, "add_ice_candidate({now}, {c:?})"),
            Call::AddIceCandidate { now, candidate: None } => write!(f, "add_ice_candidate({now}, end)"),
            Call::RestartIce { now } => write!(f, "restart_ice({now})"),
            Call::CreateDataChannel { now, options } => {
                write!(f, "create_data_channel({now}, label={:?}, protocol={:?})", options.label, options.protocol)
            }
            Call::Send { now, channel, binary, data } => {
                let kind = if *binary { "binary" } else { "text" };
                write!(f, "send({now}, {channel}, {kind}, {} bytes)", data.len())
            }
            Call::SetBufferedAmountLowThreshold { channel, threshold } => {
                write!(f, "set_buffered_amount_low_threshold({channel}, {threshold})")
            }
            Call::CloseChannel { now, channel } => write!(f, "close_channel({now}, {channel})"),
            Call::Close { now } => write!(f, "close({now})"),
            media => super::media::display(media, f).unwrap_or(Ok(())),
        }
    }
}

/// One call record as read: the call, where it is, and what the recording saw it give back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The call's position among the journal's calls, from 0.
    pub index: u64,
    /// The byte offset of its record.
    pub offset: usize,
    /// The call and its arguments.
    pub call: Call<'a>,
    /// The first bytes of the running digest of every output up to and including this call's.
    pub digest: [u8; DIGEST_LEN],
    /// The call's outcome in the canonical encoding (see [`super::render_outcome`]), in whole-outputs
    /// journals.
    pub outcome: Option<&'a [u8]>,
    /// A poll recorded as returning nothing (record kinds 0x14 and 0x15): the record carries no digest
    /// (`digest` is zero) and the running digest does not move; a replay checks only that the poll
    /// returns nothing again.
    pub nothing: bool,
    /// An input call recorded as succeeding plainly (returning `Ok(())` or `()`; record kind with
    /// 0x80 set): no digest, the running digest does not move, and a replay checks that
    /// the call succeeds plainly again.
    pub succeeded: bool,
}

fn put_sdp_kind(out: &mut Vec<u8>, kind: SdpKind) {
    put_u8(
        out,
        match kind {
            SdpKind::Offer => 0,
            SdpKind::Pranswer => 1,
            SdpKind::Answer => 2,
            SdpKind::Rollback => 3,
        },
    );
}

fn read_sdp_kind(r: &mut Reader<'_>) -> Result<SdpKind, JournalError> {
    let at = r.clone();
    Ok(match r.u8("SDP type")? {
        0 => SdpKind::Offer,
        1 => SdpKind::Pranswer,
        2 => SdpKind::Answer,
        3 => SdpKind::Rollback,
        _ => return Err(at.corrupt("SDP type")),
    })
}

fn put_channel_options(out: &mut Vec<u8>, o: &ChannelOptions) {
    let ChannelOptions { label, protocol, ordered, reliability, priority, negotiated } = o;
    put_str(out, label);
    put_str(out, protocol);
    put_bool(out, *ordered);
    match reliability {
        Reliability::Reliable => put_u8(out, 0),
        Reliability::MaxRetransmits(n) => {
            put_u8(out, 1);
            put_u32(out, *n);
        }
        Reliability::MaxLifetime(d) => {
            put_u8(out, 2);
            put_duration(out, *d);
        }
    }
    put_u16(out, *priority);
    put_opt(out, *negotiated, put_u16);
}

fn read_channel_options(r: &mut Reader<'_>) -> Result<ChannelOptions, JournalError> {
    let label = r.string("channel label")?;
    let protocol = r.string("channel protocol")?;
    let ordered = r.bool("channel ordering")?;
    let at = r.clone();
    let reliability = match r.u8("channel reliability")? {
        0 => Reliability::Reliable,
        1 => Reliability::MaxRetransmits(r.u32("channel reliability")?),
        2 => Reliability::MaxLifetime(r.duration("channel reliability")?),
        _ => return Err(at.corrupt("channel reliability")),
    };
    let priority = r.u16("channel priority")?;
    let negotiated = r.opt("negotiated stream id", |r| r.u16("negotiated stream id"))?;
    Ok(ChannelOptions { label, protocol, ordered, reliability, priority, negotiated })
}
