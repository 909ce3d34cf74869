//! The RTP entries of a statistics report (W3C webrtc-stats §3.3–3.7): `codec`, `inbound-rtp`,
//! `outbound-rtp`, `remote-inbound-rtp`, `remote-outbound-rtp` and `media-source`, built from the RTP
//! session's per-stream counters ([`crate::rtp::session::Session::send_stats`],
//! [`crate::rtp::session::Session::receive_stats`]) and the transceivers. Nothing here runs per packet.
//!
//! Ids: `CO<payload type>` (codec), `RI<ssrc>` (inbound), `RO<ssrc>` (outbound), `RRI<ssrc>` (the peer's
//! report about our stream), `RRO<ssrc>` (the peer's sender report about its stream), `MS<transceiver>`
//! (media source), all with the SSRC in decimal.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

#[cfg(feature = "serde")]
use serde::Serialize;

use super::codec::{Codec, MediaKind};
use super::conn::PeerConnection;
use super::stats::{RtcStats, TRANSPORT_ID};
use super::transceiver::{Encoding, Transceiver};
use crate::rtp::session::SendStats;

/// W3C `RTCCodecStats`: one per negotiated payload type (RTX payload types are not listed).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize), serde(rename_all = "camelCase"))]
pub struct CodecStats {
    /// `id`: `CO` and the payload type.
    pub id: String,
    /// `timestamp`, in milliseconds.
    pub timestamp: f64,
    /// `transportId`.
    pub transport_id: String,
    /// `payloadType`.
    pub payload_type: u8,
    /// `mimeType`, e.g. `video/VP8`.
    pub mime_type: String,
    /// `clockRate`.
    pub clock_rate: u32,
    /// `channels` (audio).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub channels: Option<u16>,
    /// `sdpFmtpLine`, when the codec has parameters.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub sdp_fmtp_line: Option<String>,
}

/// W3C `RTCInboundRtpStreamStats`: a stream we receive.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize), serde(rename_all = "camelCase"))]
pub struct InboundRtpStats {
    /// `id`: `RI` and the SSRC.
    pub id: String,
    /// `timestamp`, in milliseconds.
    pub timestamp: f64,
    /// `ssrc`.
    pub ssrc: u32,
    /// `kind`: `audio` or `video`.
    pub kind: &'static str,
    /// `transportId`.
    pub transport_id: String,
    /// `codecId`.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub codec_id: Option<String>,
    /// `mid`.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub mid: Option<String>,
    /// The rid the stream carries (RFC 8852 RtpStreamId, simulcast), as learned from its packets (not a
    /// W3C member of `inbound-rtp`: `rid`).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub rid: Option<String>,
    /// `remoteId`: the `remote-outbound-rtp` entry, once a sender report arrived.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub remote_id: Option<String>,
    /// `packetsReceived`: originals (RFC 3550 `received`; repairs are `retransmittedPacketsReceived`).
    pub packets_received: u64,
    /// `bytesReceived`: payload octets, originals and repairs.
    pub bytes_received: u64,
    /// `headerBytesReceived`.
    pub header_bytes_received: u64,
    /// `packetsLost`: RFC 3550 cumulative loss of the originals (the network's, before repair).
    pub packets_lost: i64,
    /// `jitter`, in seconds.
    pub jitter: f64,
    /// `nackCount`: NACK packets sent.
    pub nack_count: u64,
    /// `pliCount`: PLIs sent.
    pub pli_count: u64,
    /// `firCount`: FIRs sent.
    pub fir_count: u64,
    /// `retransmittedPacketsReceived`: RTX packets received.
    pub retransmitted_packets_received: u64,
    /// Lost originals repaired by RTX (not a W3C name: `packetsRepaired`).
    pub packets_repaired: u64,
}

/// W3C `RTCOutboundRtpStreamStats`: a stream we send.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize), serde(rename_all = "camelCase"))]
pub struct OutboundRtpStats {
    /// `id`: `RO` and the SSRC.
    pub id: String,
    /// `timestamp`, in milliseconds.
    pub timestamp: f64,
    /// `ssrc`.
    pub ssrc: u32,
    /// `kind`.
    pub kind: &'static str,
    /// `transportId`.
    pub transport_id: String,
    /// `codecId`.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub codec_id: Option<String>,
    /// `mid`.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub mid: Option<String>,
    /// `rid`, for simulcast.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub rid: Option<String>,
    /// `mediaSourceId`.
    pub media_source_id: String,
    /// `remoteId`: the `remote-inbound-rtp` entry, once the peer reported on the stream.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub remote_id: Option<String>,
    /// `packetsSent` (retransmissions excluded).
    pub packets_sent: u64,
    /// `bytesSent`: payload octets.
    pub bytes_sent: u64,
    /// `headerBytesSent`.
    pub header_bytes_sent: u64,
    /// `retransmittedPacketsSent`: RTX packets sent.
    pub retransmitted_packets_sent: u64,
    /// `retransmittedBytesSent`: their octets.
    pub retransmitted_bytes_sent: u64,
    /// `nackCount`: sequence numbers NACKed by the peer.
    pub nack_count: u64,
    /// `pliCount`: PLIs received.
    pub pli_count: u64,
    /// `firCount`: FIRs received.
    pub fir_count: u64,
    /// `active`: whether the encoding is turned on ([`PeerConnection::set_encoding_active`]).
    pub active: bool,
}

/// W3C `RTCRemoteInboundRtpStreamStats`: what the peer's reception reports say of a stream we send.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize), serde(rename_all = "camelCase"))]
pub struct RemoteInboundRtpStats {
    /// `id`: `RRI` and the SSRC.
    pub id: String,
    /// `timestamp`, in milliseconds.
    pub timestamp: f64,
    /// `ssrc`.
    pub ssrc: u32,
    /// `kind`.
    pub kind: &'static str,
    /// `transportId`.
    pub transport_id: String,
    /// `codecId`.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub codec_id: Option<String>,
    /// `localId`: the `outbound-rtp` entry.
    pub local_id: String,
    /// `packetsLost`: cumulative, as the peer reported it.
    pub packets_lost: i64,
    /// `jitter`, in seconds.
    pub jitter: f64,
    /// `fractionLost` (0–1) of the latest report.
    pub fraction_lost: f64,
    /// `roundTripTime`, in seconds: the latest measured from a report (LSR/DLSR).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub round_trip_time: Option<f64>,
    /// `totalRoundTripTime`, in seconds.
    pub total_round_trip_time: f64,
    /// `roundTripTimeMeasurements`.
    pub round_trip_time_measurements: u64,
    /// `reportsReceived`.
    pub reports_received: u64,
}

/// W3C `RTCRemoteOutboundRtpStreamStats`: what the peer's sender reports say of a stream we receive.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize), serde(rename_all = "camelCase"))]
pub struct RemoteOutboundRtpStats {
    /// `id`: `RRO` and the SSRC.
    pub id: String,
    /// `timestamp`, in milliseconds.
    pub timestamp: f64,
    /// `ssrc`.
    pub ssrc: u32,
    /// `kind`.
    pub kind: &'static str,
    /// `transportId`.
    pub transport_id: String,
    /// `codecId`.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub codec_id: Option<String>,
    /// `localId`: the `inbound-rtp` entry.
    pub local_id: String,
    /// `packetsSent`, as the latest sender report says (32 bits).
    pub packets_sent: u64,
    /// `bytesSent`, as the latest sender report says (32 bits).
    pub bytes_sent: u64,
    /// `remoteTimestamp`: the report's NTP time, in milliseconds since 1970 (the peer's clock).
    pub remote_timestamp: f64,
    /// `reportsReceived`.
    pub reports_received: u64,
}

/// W3C `RTCMediaSourceStats` (the audio and video variants' common part): the track a sending
/// transceiver sends.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize), serde(rename_all = "camelCase"))]
pub struct MediaSourceStats {
    /// `id`: `MS` and the transceiver number.
    pub id: String,
    /// `timestamp`, in milliseconds.
    pub timestamp: f64,
    /// `kind`.
    pub kind: &'static str,
    /// `trackIdentifier`, when the transceiver has a track.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub track_identifier: Option<String>,
}

/// What an encoding's streams sent before it was last turned off
/// ([`PeerConnection::set_encoding_active`] removes its stream from the RTP session): added to the
/// counters of the stream that replaces it, so `outbound-rtp` counts the encoding's whole life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct SentTotals {
    packets: u64,
    payload_bytes: u64,
    header_bytes: u64,
    rtx_packets: u64,
    rtx_bytes: u64,
    nack_requests: u64,
    plis_received: u64,
    firs_received: u64,
}

impl SentTotals {
    /// Adds a stream's counters.
    pub(super) fn add(&mut self, s: &SendStats) {
        self.packets += s.packets;
        self.payload_bytes += s.payload_bytes;
        self.header_bytes += s.header_bytes;
        self.rtx_packets += s.rtx_packets;
        self.rtx_bytes += s.rtx_bytes;
        self.nack_requests += s.nack_requests;
        self.plis_received += s.plis_received;
        self.firs_received += s.firs_received;
    }
}

fn first_codec(t: &Transceiver) -> Option<&Codec> {
    t.negotiated.as_ref().and_then(|n| n.codecs.first())
}

fn codec_id(c: &Codec) -> String {
    format!("CO{}", c.payload_type)
}

fn mime_type(c: &Codec) -> String {
    let kind = match c.kind {
        MediaKind::Audio => "audio",
        MediaKind::Video => "video",
    };
    format!("{kind}/{}", c.name)
}

/// An `outbound-rtp` entry for encoding `e` of `t` with the counters `sent`.
fn outbound(
    timestamp: f64,
    t: Option<&Transceiver>,
    e: Option<&Encoding>,
    sent: &SentTotals,
    remote_id: Option<String>,
) -> OutboundRtpStats {
    let ssrc = e.map_or(0, |e| e.ssrc);
    OutboundRtpStats {
        id: format!("RO{ssrc}"),
        timestamp,
        ssrc,
        kind: t.map_or("video", |t| t.kind.as_str()),
        transport_id: TRANSPORT_ID.into(),
        codec_id: t.and_then(first_codec).map(codec_id),
        mid: t.and_then(|t| t.mid.as_ref()).map(|m| String::from(m.as_str())),
        rid: e.and_then(|e| e.rid.as_ref()).map(|r| String::from(r.as_str())),
        media_source_id: t.map_or_else(String::new, |t| format!("MS{}", t.id.0)),
        remote_id,
        packets_sent: sent.packets,
        bytes_sent: sent.payload_bytes,
        header_bytes_sent: sent.header_bytes,
        retransmitted_packets_sent: sent.rtx_packets,
        retransmitted_bytes_sent: sent.rtx_bytes,
        nack_count: sent.nack_requests,
        pli_count: sent.plis_received,
        fir_count: sent.firs_received,
        active: e.is_none_or(|e| e.active),
    }
}

/// Seconds between 1900 and 1970 (RFC 868), for NTP times as Unix milliseconds.
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

impl PeerConnection {
    /// Appends the media entries at `timestamp` (see the module docs).
    pub(super) fn media_stats_entries(&self, timestamp: f64, entries: &mut Vec<RtcStats>) {
        let mut codecs: Vec<&Codec> = Vec::new();
        for c in self.transceivers.list.iter().filter_map(|t| t.negotiated.as_ref()).flat_map(|n| n.codecs.iter()) {
            if !codecs.iter().any(|k| k.payload_type == c.payload_type) {
                codecs.push(c);
            }
        }
        for c in &codecs {
            entries.push(RtcStats::Codec(CodecStats {
                id: codec_id(c),
                timestamp,
                transport_id: TRANSPORT_ID.into(),
                payload_type: c.payload_type,
                mime_type: mime_type(c),
                clock_rate: c.clock_rate,
                channels: (c.kind == MediaKind::Audio).then_some(c.channels),
                sdp_fmtp_line: (!c.fmtp.is_empty()).then(|| c.fmtp.clone().into_owned()),
            }));
        }
        for t in self.transceivers.list.iter().filter(|t| t.sends()) {
            entries.push(RtcStats::MediaSource(MediaSourceStats {
                id: format!("MS{}", t.id.0),
                timestamp,
                kind: t.kind.as_str(),
                track_identifier: t.track.clone(),
            }));
        }
        let Some(session) = self.rtp_session() else { return };
        // The encodings turned off: no stream in the session, their counters kept.
        for (t, e) in
            self.transceivers.list.iter().filter(|t| t.sends()).flat_map(|t| t.encodings.iter().map(move |e| (t, e)))
        {
            if !e.active && e.sent_before != SentTotals::default() {
                entries.push(RtcStats::OutboundRtp(outbound(timestamp, Some(t), Some(e), &e.sent_before, None)));
            }
        }
        for ssrc in session.send_ssrcs() {
            let Some(s) = session.send_stats(ssrc) else { continue };
            let owner =
                self.transceivers.list.iter().find_map(|t| Some((t, t.encodings.iter().find(|e| e.ssrc == ssrc)?)));
            let (t, e) = match owner {
                Some((t, e)) => (Some(t), Some(e)),
                None => (None, None),
            };
            let codec = t.and_then(first_codec);
            let kind = t.map_or("video", |t| t.kind.as_str());
            let remote = s.last_report.map(|block| {
                let clock = codec.map_or(90_000, |c| c.clock_rate.max(1));
                RemoteInboundRtpStats {
                    id: format!("RRI{ssrc}"),
                    timestamp,
                    ssrc,
                    kind,
                    transport_id: TRANSPORT_ID.into(),
                    codec_id: codec.map(codec_id),
                    local_id: format!("RO{ssrc}"),
                    packets_lost: i64::from(block.cumulative_lost),
                    jitter: f64::from(block.jitter) / f64::from(clock),
                    fraction_lost: f64::from(block.fraction_lost) / 256.0,
                    round_trip_time: s.rtt.map(|d| d.as_secs_f64()),
                    total_round_trip_time: s.total_rtt.as_secs_f64(),
                    round_trip_time_measurements: s.rtt_measurements,
                    reports_received: s.reports_received,
                }
            });
            let mut sent = e.map_or_else(SentTotals::default, |e| e.sent_before);
            sent.add(&s);
            let mut entry = outbound(timestamp, t, e, &sent, remote.as_ref().map(|r| r.id.clone()));
            entry.ssrc = ssrc;
            entry.id = format!("RO{ssrc}");
            entries.push(RtcStats::OutboundRtp(entry));
            if let Some(r) = remote {
                entries.push(RtcStats::RemoteInboundRtp(r));
            }
        }
        let media = self.media.state.as_deref();
        for ssrc in session.receive_ssrcs() {
            let Some(s) = session.receive_stats(ssrc) else { continue };
            let stream = media.and_then(|m| m.streams.get(&ssrc));
            let learned = stream.map(|s| s.transceiver);
            let t = self.transceivers.list.iter().find(|t| {
                Some(t.id) == learned || t.remote.as_ref().is_some_and(|r| r.ssrcs.iter().any(|&(m, _)| m == ssrc))
            });
            let codec = t.and_then(first_codec);
            let kind = t.map_or("video", |t| t.kind.as_str());
            let clock = codec.map_or(90_000, |c| c.clock_rate.max(1));
            let remote = s.last_sender_report.map(|(info, _)| {
                let secs = (info.ntp_timestamp >> 32).saturating_sub(NTP_UNIX_OFFSET) as f64;
                let frac = (info.ntp_timestamp & 0xffff_ffff) as f64 / 4_294_967_296.0;
                RemoteOutboundRtpStats {
                    id: format!("RRO{ssrc}"),
                    timestamp,
                    ssrc,
                    kind,
                    transport_id: TRANSPORT_ID.into(),
                    codec_id: codec.map(codec_id),
                    local_id: format!("RI{ssrc}"),
                    packets_sent: u64::from(info.packet_count),
                    bytes_sent: u64::from(info.octet_count),
                    remote_timestamp: (secs + frac) * 1000.0,
                    reports_received: s.sender_reports,
                }
            });
            entries.push(RtcStats::InboundRtp(InboundRtpStats {
                id: format!("RI{ssrc}"),
                timestamp,
                ssrc,
                kind,
                transport_id: TRANSPORT_ID.into(),
                codec_id: codec.map(codec_id),
                mid: t.and_then(|t| t.mid.as_ref()).map(|m| String::from(m.as_str())),
                rid: stream.and_then(|s| s.rid.as_ref()).map(|r| String::from(r.as_str())),
                remote_id: remote.as_ref().map(|r| r.id.clone()),
                packets_received: s.packets,
                bytes_received: s.payload_bytes,
                header_bytes_received: s.header_bytes,
                packets_lost: s.lost,
                jitter: f64::from(s.jitter) / f64::from(clock),
                nack_count: s.nacks_sent,
                pli_count: s.plis_sent,
                fir_count: s.firs_sent,
                retransmitted_packets_received: s.rtx_packets,
                packets_repaired: s.repaired,
            }));
            if let Some(r) = remote {
                entries.push(RtcStats::RemoteOutboundRtp(r));
            }
        }
    }
}
