//! What a call gave back, in one canonical encoding: the bytes the running digest is taken over, and what a
//! whole-outputs journal keeps. Recording and replay both encode through these functions, so an outcome
//! compares equal exactly when the call behaved the same.
//!
//! An outcome is the call's return value (by call kind: nothing, a `Result`, a description, a channel, a
//! transmit, an event, a deadline). Errors are kept as their `Display` text.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write as _};

use super::call::kind;
use super::wire::{JournalError, Reader, put_addr, put_bool, put_str, put_u8, put_u16, put_u32, put_u64, put_varint};
use crate::machine::Transmit;
use crate::pc::{ChannelId, Description, Event, SentFrame, SentRtp, TransceiverId};
use crate::time::Instant;

pub use super::digest::chain;

/// Appends formatted text with a u32 LE length before it, formatting straight into `out`.
fn put_text(out: &mut Vec<u8>, args: fmt::Arguments<'_>) {
    struct Sink<'a>(&'a mut Vec<u8>);
    impl fmt::Write for Sink<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0.extend_from_slice(s.as_bytes());
            Ok(())
        }
    }
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    let _ = Sink(out).write_fmt(args);
    let len = u32::try_from(out.len() - at - 4).unwrap_or(u32::MAX);
    if let Some(slot) = out.get_mut(at..at + 4) {
        slot.copy_from_slice(&len.to_le_bytes());
    }
}

/// `Ok(())` or the error's text.
pub fn put_result<E: fmt::Display>(out: &mut Vec<u8>, r: &Result<(), E>) {
    match r {
        Ok(()) => put_u8(out, 0),
        Err(e) => {
            put_u8(out, 1);
            put_text(out, format_args!("{e}"));
        }
    }
}

/// A description or the error's text.
pub fn put_description<E: fmt::Display>(out: &mut Vec<u8>, r: &Result<Description, E>) {
    match r {
        Ok(d) => {
            put_u8(out, 0);
            put_str(out, d.kind.as_str());
            put_str(out, &d.sdp);
        }
        Err(e) => {
            put_u8(out, 1);
            put_text(out, format_args!("{e}"));
        }
    }
}

/// A channel id or the error's text.
pub fn put_channel<E: fmt::Display>(out: &mut Vec<u8>, r: &Result<ChannelId, E>) {
    match r {
        Ok(id) => {
            put_u8(out, 0);
            put_u32(out, id.0);
        }
        Err(e) => {
            put_u8(out, 1);
            put_text(out, format_args!("{e}"));
        }
    }
}

/// A transceiver id or the error's text.
pub fn put_transceiver<E: fmt::Display>(out: &mut Vec<u8>, r: &Result<TransceiverId, E>) {
    match r {
        Ok(id) => {
            put_u8(out, 0);
            put_u32(out, id.0);
        }
        Err(e) => {
            put_u8(out, 1);
            put_text(out, format_args!("{e}"));
        }
    }
}

/// The SSRC and sequence number a packet went out with, or the error's text.
pub fn put_sent_rtp<E: fmt::Display>(out: &mut Vec<u8>, r: &Result<SentRtp, E>) {
    match r {
        Ok(s) => {
            put_u8(out, 0);
            put_u32(out, s.ssrc);
            put_u16(out, s.sequence_number);
        }
        Err(e) => {
            put_u8(out, 1);
            put_text(out, format_args!("{e}"));
        }
    }
}

/// The frame `write_frame` sent (SSRC, payload type, packet count, first and last sequence numbers), or
/// the error's text.
pub fn put_sent_frame<E: fmt::Display>(out: &mut Vec<u8>, r: &Result<SentFrame, E>) {
    match r {
        Ok(s) => {
            put_u8(out, 0);
            put_u32(out, s.ssrc);
            put_u8(out, s.payload_type);
            put_varint(out, s.packets as u64);
            put_u16(out, s.first_sequence_number);
            put_u16(out, s.last_sequence_number);
        }
        Err(e) => {
            put_u8(out, 1);
            put_text(out, format_args!("{e}"));
        }
    }
}

pub fn put_transmit(out: &mut Vec<u8>, t: Option<&Transmit<'_>>) {
    let bulk = put_transmit_head(out, t);
    out.extend_from_slice(bulk);
}

/// [`put_transmit`] but for the datagram's bytes, which it returns: the recorder digests them where they
/// are rather than copy them.
pub fn put_transmit_head<'t>(out: &mut Vec<u8>, t: Option<&Transmit<'t>>) -> &'t [u8] {
    match t {
        None => {
            put_u8(out, 0);
            &[]
        }
        Some(t) => {
            put_u8(out, 1);
            put_addr(out, t.source);
            put_addr(out, t.destination);
            put_varint(out, t.contents.len() as u64);
            t.contents
        }
    }
}

pub fn put_deadline(out: &mut Vec<u8>, d: Option<Instant>) {
    match d {
        None => put_u8(out, 0),
        Some(d) => {
            put_u8(out, 1);
            put_u64(out, d.as_nanos());
        }
    }
}

mod tag {
    pub const SIGNALING_STATE: u8 = 0;
    pub const ICE_GATHERING_STATE: u8 = 1;
    pub const ICE_CONNECTION_STATE: u8 = 2;
    pub const CONNECTION_STATE: u8 = 3;
    pub const LOCAL_CANDIDATE: u8 = 4;
    pub const NEGOTIATION_NEEDED: u8 = 5;
    pub const DATA_CHANNEL: u8 = 6;
    pub const CHANNEL_OPEN: u8 = 7;
    pub const MESSAGE: u8 = 8;
    pub const BUFFERED_AMOUNT_LOW: u8 = 9;
    pub const CHANNEL_CLOSE: u8 = 10;
    pub const CHANNEL_ERROR: u8 = 11;
    pub const ICE_CANDIDATE_ERROR: u8 = 12;
    /// A media event (track, RTP, RTCP, key-frame request), by its `Debug` text.
    pub const MEDIA: u8 = 13;
}

/// An event: a tag, then its fields (states by name, errors by text, messages whole).
#[cfg(test)]
pub fn put_event(out: &mut Vec<u8>, e: Option<&Event>) {
    let bulk = put_event_head(out, e);
    out.extend_from_slice(bulk);
}

/// [`put_event`] but for a message's bytes, which it returns (empty for other events): the recorder
/// digests them where they are rather than copy them.
pub fn put_event_head<'e>(out: &mut Vec<u8>, e: Option<&'e Event>) -> &'e [u8] {
    let Some(e) = e else {
        put_u8(out, 0);
        return &[];
    };
    put_u8(out, 1);
    match e {
        Event::SignalingState(s) => {
            put_u8(out, tag::SIGNALING_STATE);
            put_text(out, format_args!("{s:?}"));
        }
        Event::IceGatheringState(s) => {
            put_u8(out, tag::ICE_GATHERING_STATE);
            put_text(out, format_args!("{s:?}"));
        }
        Event::IceConnectionState(s) => {
            put_u8(out, tag::ICE_CONNECTION_STATE);
            put_text(out, format_args!("{s:?}"));
        }
        Event::ConnectionState(s) => {
            put_u8(out, tag::CONNECTION_STATE);
            put_text(out, format_args!("{s:?}"));
        }
        Event::LocalCandidate { candidate, mid } => {
            put_u8(out, tag::LOCAL_CANDIDATE);
            put_str(out, candidate);
            put_str(out, mid);
        }
        Event::NegotiationNeeded => put_u8(out, tag::NEGOTIATION_NEEDED),
        Event::DataChannel { id, label, protocol } => {
            put_u8(out, tag::DATA_CHANNEL);
            put_u32(out, id.0);
            put_str(out, label);
            put_str(out, protocol);
        }
        Event::ChannelOpen(id) => {
            put_u8(out, tag::CHANNEL_OPEN);
            put_u32(out, id.0);
        }
        Event::Message { id, data, binary } => {
            put_u8(out, tag::MESSAGE);
            put_u32(out, id.0);
            put_bool(out, *binary);
            put_varint(out, data.len() as u64);
            return data;
        }
        Event::BufferedAmountLow(id) => {
            put_u8(out, tag::BUFFERED_AMOUNT_LOW);
            put_u32(out, id.0);
        }
        Event::ChannelClose(id) => {
            put_u8(out, tag::CHANNEL_CLOSE);
            put_u32(out, id.0);
        }
        Event::ChannelError { id, error } => {
            put_u8(out, tag::CHANNEL_ERROR);
            put_u32(out, id.0);
            put_text(out, format_args!("{error}"));
        }
        Event::IceCandidateError { server, failure } => {
            put_u8(out, tag::ICE_CANDIDATE_ERROR);
            put_addr(out, *server);
            put_text(out, format_args!("{failure}"));
        }
        Event::Track { .. }
        | Event::Rtp(_)
        | Event::Rtcp(_)
        | Event::KeyframeRequest { .. }
        | Event::Remb { .. }
        | Event::TransportFeedback(_)
        | Event::TargetBitrate { .. }
        | Event::Dtmf { .. }
        | Event::DtmfToneChange { .. } => {
            put_u8(out, tag::MEDIA);
            put_text(out, format_args!("{e:?}"));
        }
    }
    &[]
}

// ----- rendering -----

/// How many bytes of a datagram or message a rendering shows (in hex) before eliding the rest.
const SHOWN_BYTES: usize = 48;

fn text<'a>(r: &mut Reader<'a>, what: &'static str) -> Result<&'a str, JournalError> {
    let at = r.clone();
    let len = r.u32(what)?;
    let b = r.take(len as usize, what)?;
    core::str::from_utf8(b).map_err(|_| at.corrupt(what))
}

fn hex(out: &mut String, b: &[u8]) {
    for byte in b.iter().take(SHOWN_BYTES) {
        let _ = write!(out, "{byte:02x}");
    }
    if b.len() > SHOWN_BYTES {
        out.push('…');
    }
}

fn render_error_or(
    out: &mut String,
    r: &mut Reader<'_>,
    ok: impl FnOnce(&mut String, &mut Reader<'_>) -> Result<(), JournalError>,
) -> Result<(), JournalError> {
    let at = r.clone();
    match r.u8("result")? {
        0 => ok(out, r),
        1 => {
            let e = text(r, "error")?;
            let _ = write!(out, "Err({e})");
            Ok(())
        }
        _ => Err(at.corrupt("result")),
    }
}

fn render_event(out: &mut String, r: &mut Reader<'_>) -> Result<(), JournalError> {
    let at = r.clone();
    match r.u8("event")? {
        tag::SIGNALING_STATE => {
            let _ = write!(out, "SignalingState({})", text(r, "state")?);
        }
        tag::ICE_GATHERING_STATE => {
            let _ = write!(out, "IceGatheringState({})", text(r, "state")?);
        }
        tag::ICE_CONNECTION_STATE => {
            let _ = write!(out, "IceConnectionState({})", text(r, "state")?);
        }
        tag::CONNECTION_STATE => {
            let _ = write!(out, "ConnectionState({})", text(r, "state")?);
        }
        tag::LOCAL_CANDIDATE => {
            let candidate = r.str("candidate")?;
            let mid = r.str("mid")?;
            let _ = write!(out, "LocalCandidate({mid}: {candidate})");
        }
        tag::NEGOTIATION_NEEDED => out.push_str("NegotiationNeeded"),
        tag::DATA_CHANNEL => {
            let id = ChannelId(r.u32("channel")?);
            let label = r.str("label")?;
            let protocol = r.str("protocol")?;
            let _ = write!(out, "DataChannel({id}, label={label:?}, protocol={protocol:?})");
        }
        tag::CHANNEL_OPEN => {
            let _ = write!(out, "ChannelOpen({})", ChannelId(r.u32("channel")?));
        }
        tag::MESSAGE => {
            let id = ChannelId(r.u32("channel")?);
            let kind = if r.bool("binary flag")? { "binary" } else { "text" };
            let data = r.bytes("message")?;
            let _ = write!(out, "Message({id}, {kind}, {} bytes: ", data.len());
            hex(out, data);
            out.push(')');
        }
        tag::BUFFERED_AMOUNT_LOW => {
            let _ = write!(out, "BufferedAmountLow({})", ChannelId(r.u32("channel")?));
        }
        tag::CHANNEL_CLOSE => {
            let _ = write!(out, "ChannelClose({})", ChannelId(r.u32("channel")?));
        }
        tag::CHANNEL_ERROR => {
            let id = ChannelId(r.u32("channel")?);
            let _ = write!(out, "ChannelError({id}: {})", text(r, "error")?);
        }
        tag::ICE_CANDIDATE_ERROR => {
            let server = r.addr("server")?;
            let _ = write!(out, "IceCandidateError({server}: {})", text(r, "failure")?);
        }
        tag::MEDIA => out.push_str(text(r, "media event")?),
        _ => return Err(at.corrupt("event")),
    }
    Ok(())
}

/// Renders the canonical outcome of a call of record kind `call_kind` as one line of text, e.g.
/// `Some(10.0.0.1:5000 -> 10.0.0.2:5000, 120 bytes: 1603…)`.
pub fn render_outcome(call_kind: u8, outcome: &[u8]) -> Result<String, JournalError> {
    render_at(call_kind, outcome, 0)
}

/// As [`render_outcome`], with the outcome's offset in its journal for errors.
pub(super) fn render_at(call_kind: u8, outcome: &[u8], base: usize) -> Result<String, JournalError> {
    let mut out = String::new();
    let mut r = Reader::new(outcome, base);
    match call_kind {
        kind::POLL_TIMEOUT => match r.opt("deadline", |r| r.instant("deadline"))? {
            Some(d) => {
                let _ = write!(out, "Some({d})");
            }
            None => out.push_str("None"),
        },
        kind::TIMEOUT | kind::END_OF_LOCAL_CANDIDATES | kind::RESTART_ICE | kind::CLOSE => out.push_str("()"),
        kind::POLL_TRANSMIT => {
            if r.bool("transmit")? {
                let source = r.addr("source")?;
                let destination = r.addr("destination")?;
                let data = r.bytes("datagram")?;
                let _ = write!(out, "Some({source} -> {destination}, {} bytes: ", data.len());
                hex(&mut out, data);
                out.push(')');
            } else {
                out.push_str("None");
            }
        }
        kind::POLL_EVENT => {
            if r.bool("event")? {
                out.push_str("Some(");
                render_event(&mut out, &mut r)?;
                out.push(')');
            } else {
                out.push_str("None");
            }
        }
        kind::CREATE_OFFER | kind::CREATE_ANSWER => render_error_or(&mut out, &mut r, |out, r| {
            let kind = r.str("SDP type")?;
            let sdp = r.str("SDP")?;
            let _ = write!(out, "Ok({kind}, {} bytes of SDP)", sdp.len());
            Ok(())
        })?,
        kind::CREATE_DATA_CHANNEL => render_error_or(&mut out, &mut r, |out, r| {
            let _ = write!(out, "Ok({})", ChannelId(r.u32("channel")?));
            Ok(())
        })?,
        kind::ADD_TRANSCEIVER | kind::ADD_TRACK => render_error_or(&mut out, &mut r, |out, r| {
            let _ = write!(out, "Ok({})", TransceiverId(r.u32("transceiver")?));
            Ok(())
        })?,
        kind::WRITE_RTP => render_error_or(&mut out, &mut r, |out, r| {
            let ssrc = r.u32("SSRC")?;
            let seq = r.u16("sequence number")?;
            let _ = write!(out, "Ok(ssrc {ssrc:#010x}, seq {seq})");
            Ok(())
        })?,
        kind::WRITE_FRAME => render_error_or(&mut out, &mut r, |out, r| {
            let ssrc = r.u32("SSRC")?;
            let pt = r.u8("payload type")?;
            let packets = r.varint("packet count")?;
            let first = r.u16("first sequence number")?;
            let last = r.u16("last sequence number")?;
            let _ = write!(out, "Ok(ssrc {ssrc:#010x}, pt {pt}, {packets} packets, seq {first}..={last})");
            Ok(())
        })?,
        _ => render_error_or(&mut out, &mut r, |out, _| {
            out.push_str("Ok(())");
            Ok(())
        })?,
    }
    r.finish("bytes after the outcome")?;
    Ok(out)
}
