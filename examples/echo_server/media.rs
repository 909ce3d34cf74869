//! Audio and video echo: every track a peer sends comes back to it on the same transceiver (the answer
//! says `sendrecv`), as a stream of the server's own.
//!
//! Each received packet's payload, payload type, timestamp and marker go out with
//! [`write_rtp`](sansrtc::pc::PeerConnection::write_rtp), which gives them the transceiver's SSRC, the
//! next sequence number of that SSRC and the negotiated MID extension, so the peer sees a stream of ours
//! rather than its own packets reflected. A retransmission (RTX) is echoed as the media packet it repairs
//! (the connection restores it); padding-only packets (bandwidth probes) are not echoed. When the peer
//! asks for a key frame of the echoed stream (PLI or FIR on that transceiver), only its own encoder can
//! make one: the request is passed on to it with
//! [`request_keyframe`](sansrtc::pc::PeerConnection::request_keyframe) on the same transceiver. Calls go
//! through the [`RecordedPeerConnection`](sansrtc::record::RecordedPeerConnection) wrapper, so a
//! recorded connection journals them.
//!
//! Everything else an RTP session needs (receiver and sender reports, NACK answered from the
//! retransmission history, transport-wide congestion feedback) is the connection's own work.

use core::fmt;

use sansrtc::Instant;
use sansrtc::pc::{MediaKind, OutgoingRtp, RtpPacket, Track};

use super::conn::Conn;

/// What one connection's media echo did.
#[derive(Debug, Default)]
pub struct MediaEcho {
    /// Audio packets echoed.
    pub audio: u64,
    /// Video packets echoed.
    pub video: u64,
    /// Retransmissions echoed as the packets they repair, restored by the connection or unwrapped here
    /// (counted in `audio`/`video` too).
    pub repaired: u64,
    /// Padding-only packets not echoed.
    pub padding: u64,
    /// Packets the connection would not send (not negotiated for sending, not connected).
    pub refused: u64,
    /// Key-frame requests passed on to the peer's encoder.
    pub keyframe_requests: u64,
    /// Key-frame requests that could not be passed on.
    pub keyframe_requests_dropped: u64,
}

impl MediaEcho {
    /// After the offer is applied: a track of ours on every audio and video transceiver the offer made
    /// (`add_track` takes a transceiver a remote offer created and makes it send), so that the answer
    /// says `sendrecv` where the peer sends and receives. Returns how many.
    pub fn add_tracks(pc: &mut Conn, now: Instant) -> Result<usize, sansrtc::pc::Error> {
        let offered: Vec<(MediaKind, String)> = pc
            .transceivers()
            .filter(|t| t.track_id().is_none() && !t.is_stopping())
            .filter_map(|t| Some((t.kind(), t.mid()?.to_string())))
            .collect();
        for (kind, mid) in &offered {
            pc.add_track(now, Track::new(*kind, format!("echo-{mid}")), &["echo"])?;
        }
        Ok(offered.len())
    }

    /// Echoes one received packet on its transceiver. Then drain `poll_transmit`.
    pub fn echo(&mut self, pc: &mut Conn, now: Instant, packet: &RtpPacket) {
        let mut payload_type = packet.payload_type;
        let mut payload = packet.payload();
        if packet.repaired {
            // RTX of a signalled stream, restored by the connection's RTP session.
            self.repaired += 1;
        }
        if packet.rtx {
            // RFC 4588 §4: the original sequence number, then the original payload; the codec whose
            // retransmission payload type this is gives the original payload type.
            let codec = pc
                .transceiver(packet.transceiver)
                .and_then(|t| t.codecs().iter().find(|c| c.rtx_payload_type == Some(packet.payload_type)));
            match (codec, payload.get(2..)) {
                (Some(c), Some(original)) if !original.is_empty() => {
                    payload_type = c.payload_type;
                    payload = original;
                    self.repaired += 1;
                }
                _ => {
                    self.padding += 1;
                    return;
                }
            }
        }
        if payload.is_empty() {
            self.padding += 1;
            return;
        }
        let kind = pc.transceiver(packet.transceiver).map(|t| t.kind());
        let out = OutgoingRtp { marker: packet.marker, ..OutgoingRtp::new(payload_type, packet.timestamp, payload) };
        match (pc.write_rtp(now, &packet.mid, &out), kind) {
            (Ok(_), Some(MediaKind::Audio)) => self.audio += 1,
            (Ok(_), _) => self.video += 1,
            (Err(e), _) => {
                if self.refused == 0 {
                    println!("media echo on mid {} refused: {e}", packet.mid);
                }
                self.refused += 1;
            }
        }
    }

    /// The peer asks for a key frame of what we echo on `mid`: asks its encoder for one (a PLI, or a FIR
    /// where only that was negotiated) on the same transceiver. Then drain `poll_transmit`.
    pub fn relay_keyframe_request(&mut self, pc: &mut Conn, now: Instant, mid: &str) {
        match pc.request_keyframe(now, mid) {
            Ok(()) => self.keyframe_requests += 1,
            Err(_) => self.keyframe_requests_dropped += 1,
        }
    }
}

impl fmt::Display for MediaEcho {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RTP echoed: {} audio, {} video ({} repaired), {} padding-only skipped, {} refused; \
             key-frame requests passed on: {} ({} could not be)",
            self.audio,
            self.video,
            self.repaired,
            self.padding,
            self.refused,
            self.keyframe_requests,
            self.keyframe_requests_dropped
        )
    }
}
