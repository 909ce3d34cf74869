//! Padding for bandwidth probes: padding-only packets on a send stream's RTX SSRC, as libwebrtc sends
//! them. An RTX packet with no original sequence number carries no media (RFC 4588 §4); the receiving
//! session counts it for transport-wide feedback only.

use alloc::vec::Vec;

use super::{OutgoingRtp, Route, SentRtp, Session, UsageError, write_media};
use crate::rtp::{ExtensionValue, Header};
use crate::time::Instant;

impl Session {
    /// Writes into `out` (cleared first) a padding-only packet (the P bit, no payload, `padding` octets
    /// of padding, at least 1) on the RTX stream of send stream `ssrc`: the RTX payload type of
    /// `payload_type` (a media payload type with RTX), the RTX stream's next sequence number, the
    /// stream's newest RTP timestamp, the transport-wide sequence number when TWCC is on, and
    /// `extensions` (the MID, for routing). For probing the path at a rate the media does not fill.
    /// Then protect and send it. Refused with [`UsageError::NoMediaSentYet`] until the stream has sent
    /// a media packet.
    pub fn send_padding(
        &mut self,
        now: Instant,
        ssrc: u32,
        payload_type: u8,
        padding: u8,
        extensions: &[ExtensionValue<'_>],
        out: &mut Vec<u8>,
    ) -> Result<SentRtp, UsageError> {
        let now = self.touch(now);
        let rtx_pt = self.config.payload_types.rtx_of(payload_type).ok_or(UsageError::BadPayloadType(payload_type))?;
        let Some(Route::Send(i)) = self.routes.get(ssrc) else { return Err(UsageError::NoSuchStream(ssrc)) };
        let Some(stream) = self.send.get_mut(i).and_then(Option::as_mut) else {
            return Err(UsageError::NoSuchStream(ssrc));
        };
        let Some(rtx_ssrc) = stream.config.rtx_ssrc else { return Err(UsageError::NoSuchStream(ssrc)) };
        let Some((timestamp, _)) = stream.last_rtp else { return Err(UsageError::NoMediaSentYet(ssrc)) };
        let seq = stream.rtx_seq;
        let twcc = match (self.twcc_id, &self.twcc_send) {
            (Some(id), Some(t)) => Some((id, t.newest().map_or(0, |n| n + 1) as u16)),
            _ => None,
        };
        let header = Header { marker: false, payload_type: rtx_pt, sequence_number: seq, timestamp, ssrc: rtx_ssrc };
        let rtp =
            OutgoingRtp { ssrc: rtx_ssrc, payload_type: rtx_pt, marker: false, timestamp, payload: &[], extensions };
        if let Err(e) = write_media(out, &header, &self.config.extensions, twcc, &[], &rtp) {
            out.clear();
            return Err(e.into());
        }
        // RFC 3550 §5.1: the P bit, then the padding, its last octet counting it.
        let padding = padding.max(1);
        if let Some(first) = out.first_mut() {
            *first |= 0x20;
        }
        out.resize(out.len() + usize::from(padding) - 1, 0);
        out.push(padding);
        stream.rtx_seq = seq.wrapping_add(1);
        let transport_sequence = match &mut self.twcc_send {
            Some(t) if twcc.is_some() => Some(t.assign(now, rtx_ssrc, seq, out.len())),
            _ => None,
        };
        Ok(SentRtp { sequence: seq, transport_sequence, len: out.len() })
    }
}
