//! The media calls of a journal (format version 3; encodings on and off, DTMF and the NTP epoch since
//! version 5): transceivers and tracks, and RTP/RTCP and frames written by the application. Their arguments' encodings, read back, and one-line renderings.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::call::{Call, kind};
use super::wire::{
    JournalError, Reader, put_bool, put_bytes, put_duration, put_instant, put_opt, put_str, put_u8, put_u16, put_u32,
    put_varint,
};
use crate::pc::{
    Codec, Direction, ExtensionKind, ExtensionValue, Feedback, MediaKind, SendEncoding, TransceiverId, TransceiverInit,
};
use crate::rtp::Extension;

/// Lists (stream ids, encodings, extensions) longer than this are taken for corruption.
const MAX_LIST: u64 = 1024;

fn put_kind(out: &mut Vec<u8>, k: MediaKind) {
    put_u8(out, if k == MediaKind::Audio { 0 } else { 1 });
}

fn read_kind(r: &mut Reader<'_>) -> Result<MediaKind, JournalError> {
    let at = r.clone();
    match r.u8("media kind")? {
        0 => Ok(MediaKind::Audio),
        1 => Ok(MediaKind::Video),
        _ => Err(at.corrupt("media kind")),
    }
}

fn put_direction(out: &mut Vec<u8>, d: Direction) {
    put_u8(
        out,
        match d {
            Direction::SendRecv => 0,
            Direction::SendOnly => 1,
            Direction::RecvOnly => 2,
            Direction::Inactive => 3,
        },
    );
}

fn read_direction(r: &mut Reader<'_>) -> Result<Direction, JournalError> {
    let at = r.clone();
    Ok(match r.u8("direction")? {
        0 => Direction::SendRecv,
        1 => Direction::SendOnly,
        2 => Direction::RecvOnly,
        3 => Direction::Inactive,
        _ => return Err(at.corrupt("direction")),
    })
}

fn put_strs<S: AsRef<str>>(out: &mut Vec<u8>, list: &[S]) {
    put_varint(out, list.len() as u64);
    for s in list {
        put_str(out, s.as_ref());
    }
}

fn read_count(r: &mut Reader<'_>, what: &'static str) -> Result<usize, JournalError> {
    let at = r.clone();
    let n = r.varint(what)?;
    if n > MAX_LIST {
        return Err(at.corrupt(what));
    }
    Ok(n as usize)
}

fn read_strs<'a>(r: &mut Reader<'a>, what: &'static str) -> Result<Vec<&'a str>, JournalError> {
    let n = read_count(r, what)?;
    (0..n).map(|_| r.str(what)).collect()
}

/// An extension: 0 and its kind's URI and encoded value, or 1 and a raw element's id and data.
fn put_extension(out: &mut Vec<u8>, e: &ExtensionValue<'_>) {
    let mut buf = [0u8; 255];
    match (e, e.kind(), e.encode(&mut buf)) {
        (ExtensionValue::Raw(raw), _, _) => {
            put_u8(out, 1);
            put_u8(out, raw.id);
            put_bytes(out, raw.data);
        }
        (_, Some(k), Ok(n)) => {
            put_u8(out, 0);
            put_str(out, k.uri());
            put_bytes(out, buf.get(..n).unwrap_or(&[]));
        }
        // A value that does not encode is not sent either; kept as an empty raw element.
        _ => {
            put_u8(out, 1);
            put_u8(out, 0);
            put_bytes(out, &[]);
        }
    }
}

fn read_extension<'a>(r: &mut Reader<'a>) -> Result<ExtensionValue<'a>, JournalError> {
    let at = r.clone();
    match r.u8("extension")? {
        0 => {
            let uri = r.str("extension URI")?;
            let data = r.bytes("extension value")?;
            let k = ExtensionKind::from_uri(uri).ok_or_else(|| at.corrupt("extension URI"))?;
            ExtensionValue::decode(k, data).map_err(|_| at.corrupt("extension value"))
        }
        1 => {
            let id = r.u8("extension id")?;
            let data = r.bytes("extension data")?;
            Ok(ExtensionValue::Raw(Extension { id, data }))
        }
        _ => Err(at.corrupt("extension")),
    }
}

/// A codec: kind, payload type (u8), name (str), clock rate (u32), channels (u16), fmtp (str), feedback
/// (varint count, u8 each: 0 nack, 1 nack pli, 2 ccm fir, 3 transport-cc, 4 goog-remb), RTX payload
/// type (option u8).
fn put_codec(out: &mut Vec<u8>, c: &Codec) {
    let Codec { kind, payload_type, name, clock_rate, channels, fmtp, feedback, rtx_payload_type } = c;
    put_kind(out, *kind);
    put_u8(out, *payload_type);
    put_str(out, name);
    put_u32(out, *clock_rate);
    put_u16(out, *channels);
    put_str(out, fmtp);
    put_varint(out, feedback.len() as u64);
    for f in feedback.iter() {
        put_u8(
            out,
            match f {
                Feedback::Nack => 0,
                Feedback::NackPli => 1,
                Feedback::CcmFir => 2,
                Feedback::TransportCc => 3,
                Feedback::GoogRemb => 4,
            },
        );
    }
    put_opt(out, *rtx_payload_type, put_u8);
}

fn read_codec(r: &mut Reader<'_>) -> Result<Codec, JournalError> {
    let kind = read_kind(r)?;
    let payload_type = r.u8("payload type")?;
    let name = Cow::Owned(r.string("codec name")?);
    let clock_rate = r.u32("clock rate")?;
    let channels = r.u16("channels")?;
    let fmtp = Cow::Owned(r.string("fmtp")?);
    let n = read_count(r, "feedback")?;
    let feedback = (0..n)
        .map(|_| {
            let at = r.clone();
            Ok(match r.u8("feedback")? {
                0 => Feedback::Nack,
                1 => Feedback::NackPli,
                2 => Feedback::CcmFir,
                3 => Feedback::TransportCc,
                4 => Feedback::GoogRemb,
                _ => return Err(at.corrupt("feedback")),
            })
        })
        .collect::<Result<Vec<_>, JournalError>>()?;
    let rtx_payload_type = r.opt("RTX payload type", |r| r.u8("RTX payload type"))?;
    Ok(Codec { kind, payload_type, name, clock_rate, channels, fmtp, feedback: Cow::Owned(feedback), rtx_payload_type })
}

/// Appends a media call's arguments; `false` for a call that is not one.
pub(super) fn put_args(call: &Call<'_>, out: &mut Vec<u8>) -> bool {
    match call {
        Call::AddTransceiver { now, kind, track, init } => {
            put_instant(out, *now);
            put_kind(out, *kind);
            put_opt(out, *track, put_str);
            let TransceiverInit { direction, stream_ids, send_encodings } = init;
            put_direction(out, *direction);
            put_strs(out, stream_ids);
            put_varint(out, send_encodings.len() as u64);
            for SendEncoding { rid } in send_encodings {
                put_opt(out, rid.as_deref(), put_str);
            }
        }
        Call::AddTrack { now, kind, track, stream_ids } => {
            put_instant(out, *now);
            put_kind(out, *kind);
            put_str(out, track);
            put_strs(out, stream_ids);
        }
        Call::SetDirection { now, transceiver, direction } => {
            put_instant(out, *now);
            put_u32(out, transceiver.0);
            put_direction(out, *direction);
        }
        Call::StopTransceiver { now, transceiver } => {
            put_instant(out, *now);
            put_u32(out, transceiver.0);
        }
        Call::WriteRtp { now, mid, payload_type, timestamp, marker, payload, extensions, rid } => {
            put_instant(out, *now);
            put_str(out, mid);
            put_u8(out, *payload_type);
            put_u32(out, *timestamp);
            put_bool(out, *marker);
            put_bytes(out, payload);
            put_varint(out, extensions.len() as u64);
            for e in extensions {
                put_extension(out, e);
            }
            put_opt(out, *rid, put_str);
        }
        Call::WriteRtpRaw { now, mid, packet } => {
            put_instant(out, *now);
            put_str(out, mid);
            put_bytes(out, packet);
        }
        Call::WriteRtcp { now, packet } => {
            put_instant(out, *now);
            put_bytes(out, packet);
        }
        Call::RequestKeyframe { now, mid } => {
            put_instant(out, *now);
            put_str(out, mid);
        }
        Call::WriteFrame { now, mid, payload_type, timestamp, data, extensions, rid } => {
            put_instant(out, *now);
            put_str(out, mid);
            put_opt(out, *payload_type, put_u8);
            put_u32(out, *timestamp);
            put_bytes(out, data);
            put_varint(out, extensions.len() as u64);
            for e in extensions {
                put_extension(out, e);
            }
            put_opt(out, *rid, put_str);
        }
        Call::SetEncodingActive { now, transceiver, rid, active } => {
            put_instant(out, *now);
            put_u32(out, transceiver.0);
            put_opt(out, *rid, put_str);
            put_bool(out, *active);
        }
        Call::InsertDtmf { now, mid, tones, duration, gap } => {
            put_instant(out, *now);
            put_str(out, mid);
            put_str(out, tones);
            put_duration(out, *duration);
            put_duration(out, *gap);
        }
        Call::SetNtpEpoch { epoch } => put_duration(out, *epoch),
        Call::SetCodecPreferences { transceiver, codecs } => {
            put_u32(out, transceiver.0);
            put_varint(out, codecs.len() as u64);
            for c in codecs {
                put_codec(out, c);
            }
        }
        _ => return false,
    }
    true
}

/// Reads a media call of record kind `k`; `None` for another kind.
pub(super) fn read_args<'a>(k: u8, r: &mut Reader<'a>) -> Result<Option<Call<'a>>, JournalError> {
    let call = match k {
        kind::ADD_TRANSCEIVER => {
            let now = r.instant("now")?;
            let kind = read_kind(r)?;
            let track = r.opt("track", |r| r.str("track"))?;
            let direction = read_direction(r)?;
            let stream_ids = read_strs(r, "stream ids")?.into_iter().map(String::from).collect();
            let n = read_count(r, "encodings")?;
            let send_encodings = (0..n)
                .map(|_| Ok(SendEncoding { rid: r.opt("rid", |r| r.string("rid"))? }))
                .collect::<Result<_, JournalError>>()?;
            Call::AddTransceiver { now, kind, track, init: TransceiverInit { direction, stream_ids, send_encodings } }
        }
        kind::ADD_TRACK => {
            let now = r.instant("now")?;
            let kind = read_kind(r)?;
            let track = r.str("track")?;
            Call::AddTrack { now, kind, track, stream_ids: read_strs(r, "stream ids")? }
        }
        kind::SET_DIRECTION => {
            let now = r.instant("now")?;
            let transceiver = TransceiverId(r.u32("transceiver")?);
            Call::SetDirection { now, transceiver, direction: read_direction(r)? }
        }
        kind::STOP_TRANSCEIVER => {
            Call::StopTransceiver { now: r.instant("now")?, transceiver: TransceiverId(r.u32("transceiver")?) }
        }
        kind::WRITE_RTP => {
            let now = r.instant("now")?;
            let mid = r.str("mid")?;
            let payload_type = r.u8("payload type")?;
            let timestamp = r.u32("timestamp")?;
            let marker = r.bool("marker")?;
            let payload = r.bytes("payload")?;
            let n = read_count(r, "extensions")?;
            let extensions = (0..n).map(|_| read_extension(r)).collect::<Result<_, _>>()?;
            let rid = r.opt("rid", |r| r.str("rid"))?;
            Call::WriteRtp { now, mid, payload_type, timestamp, marker, payload, extensions, rid }
        }
        kind::WRITE_RTP_RAW => {
            let now = r.instant("now")?;
            let mid = r.str("mid")?;
            Call::WriteRtpRaw { now, mid, packet: r.bytes("packet")? }
        }
        kind::WRITE_RTCP => Call::WriteRtcp { now: r.instant("now")?, packet: r.bytes("packet")? },
        kind::REQUEST_KEYFRAME => Call::RequestKeyframe { now: r.instant("now")?, mid: r.str("mid")? },
        kind::WRITE_FRAME => {
            let now = r.instant("now")?;
            let mid = r.str("mid")?;
            let payload_type = r.opt("payload type", |r| r.u8("payload type"))?;
            let timestamp = r.u32("timestamp")?;
            let data = r.bytes("frame")?;
            let n = read_count(r, "extensions")?;
            let extensions = (0..n).map(|_| read_extension(r)).collect::<Result<_, _>>()?;
            let rid = r.opt("rid", |r| r.str("rid"))?;
            Call::WriteFrame { now, mid, payload_type, timestamp, data, extensions, rid }
        }
        kind::SET_ENCODING_ACTIVE => {
            let now = r.instant("now")?;
            let transceiver = TransceiverId(r.u32("transceiver")?);
            let rid = r.opt("rid", |r| r.str("rid"))?;
            Call::SetEncodingActive { now, transceiver, rid, active: r.bool("active flag")? }
        }
        kind::INSERT_DTMF => {
            let now = r.instant("now")?;
            let mid = r.str("mid")?;
            let tones = r.str("tones")?;
            let duration = r.duration("tone duration")?;
            Call::InsertDtmf { now, mid, tones, duration, gap: r.duration("tone gap")? }
        }
        kind::SET_NTP_EPOCH => Call::SetNtpEpoch { epoch: r.duration("NTP epoch")? },
        kind::SET_CODEC_PREFERENCES => {
            let transceiver = TransceiverId(r.u32("transceiver")?);
            let n = read_count(r, "codecs")?;
            let codecs = (0..n).map(|_| read_codec(r)).collect::<Result<_, _>>()?;
            Call::SetCodecPreferences { transceiver, codecs }
        }
        _ => return Ok(None),
    };
    Ok(Some(call))
}

/// A media call as one line; `None` for another call.
pub(super) fn display(call: &Call<'_>, f: &mut fmt::Formatter<'_>) -> Option<fmt::Result> {
    Some(match call {
        Call::AddTransceiver { now, kind, track, init } => {
            write!(f, "add_transceiver({now}, {kind:?}, track={track:?}, {:?})", init.direction)
        }
        Call::AddTrack { now, kind, track, stream_ids } => {
            write!(f, "add_track({now}, {kind:?}, {track:?}, streams={stream_ids:?})")
        }
        Call::SetDirection { now, transceiver, direction } => {
            write!(f, "set_direction({now}, {transceiver}, {direction:?})")
        }
        Call::StopTransceiver { now, transceiver } => write!(f, "stop_transceiver({now}, {transceiver})"),
        Call::WriteRtp { now, mid, payload_type, timestamp, payload, extensions, .. } => write!(
            f,
            "write_rtp({now}, mid {mid}, pt {payload_type}, ts {timestamp}, {} bytes, {} extensions)",
            payload.len(),
            extensions.len()
        ),
        Call::WriteRtpRaw { now, mid, packet } => write!(f, "write_rtp_raw({now}, mid {mid}, {} bytes)", packet.len()),
        Call::WriteRtcp { now, packet } => write!(f, "write_rtcp({now}, {} bytes)", packet.len()),
        Call::RequestKeyframe { now, mid } => write!(f, "request_keyframe({now}, mid {mid})"),
        Call::WriteFrame { now, mid, payload_type, timestamp, data, extensions, .. } => write!(
            f,
            "write_frame({now}, mid {mid}, pt {payload_type:?}, ts {timestamp}, {} bytes, {} extensions)",
            data.len(),
            extensions.len()
        ),
        Call::SetEncodingActive { now, transceiver, rid, active } => {
            write!(f, "set_encoding_active({now}, {transceiver}, rid {rid:?}, {active})")
        }
        Call::InsertDtmf { now, mid, tones, duration, gap } => {
            write!(f, "insert_dtmf({now}, mid {mid}, {tones:?}, {duration:?}, gap {gap:?})")
        }
        Call::SetNtpEpoch { epoch } => write!(f, "set_ntp_epoch({epoch:?})"),
        Call::SetCodecPreferences { transceiver, codecs } => (|| {
            write!(f, "set_codec_preferences({transceiver}, [")?;
            for (i, c) in codecs.iter().enumerate() {
                let sep = if i == 0 { "" } else { ", " };
                write!(f, "{sep}{} {}/{}", c.payload_type, c.name, c.clock_rate)?;
            }
            f.write_str("])")
        })(),
        _ => return None,
    })
}
