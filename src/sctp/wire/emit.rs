//! Writers: each appends one header, chunk or parameter to a caller-owned buffer (reused across packets, so
//! nothing allocates once the buffer has grown to the path MTU).

use alloc::vec::Vec;

use super::chunk::ChunkType;
use super::param::{ParamType, ZERO_CHECKSUM_DTLS};
use super::{compute_checksum, pad4};

/// Length of the common header.
pub const HEADER_LEN: usize = 12;
/// Length of a DATA chunk before its user data.
pub const DATA_HEADER_LEN: usize = 16;

fn pad(buf: &mut Vec<u8>) {
    buf.resize(pad4(buf.len()), 0);
}

fn len16(n: usize) -> [u8; 2] {
    u16::try_from(n).unwrap_or(u16::MAX).to_be_bytes()
}

/// Appends the common header with a zero checksum; [`finish_packet`] fills it in.
pub fn emit_header(buf: &mut Vec<u8>, source_port: u16, destination_port: u16, verification_tag: u32) {
    buf.extend_from_slice(&source_port.to_be_bytes());
    buf.extend_from_slice(&destination_port.to_be_bytes());
    buf.extend_from_slice(&verification_tag.to_be_bytes());
    buf.extend_from_slice(&[0; 4]);
}

/// Writes the CRC32c into the packet in `buf` (whose header starts at 0), or leaves it zero when
/// `zero_checksum` (RFC 9653).
pub fn finish_packet(buf: &mut [u8], zero_checksum: bool) {
    let sum = if zero_checksum { 0 } else { compute_checksum(buf) };
    if let Some(field) = buf.get_mut(8..12) {
        field.copy_from_slice(&sum.to_le_bytes());
    }
}

/// Appends a chunk header for a chunk whose value is `value_len` bytes; the caller appends the value and
/// then padding (as [`emit_chunk`] does).
pub fn emit_chunk_header(buf: &mut Vec<u8>, kind: ChunkType, flags: u8, value_len: usize) {
    buf.push(kind.0);
    buf.push(flags);
    buf.extend_from_slice(&len16(value_len + 4));
}

/// Appends a whole chunk with the given value, padded.
pub fn emit_chunk(buf: &mut Vec<u8>, kind: ChunkType, flags: u8, value: &[u8]) {
    emit_chunk_header(buf, kind, flags, value.len());
    buf.extend_from_slice(value);
    pad(buf);
}

/// Appends a parameter (or error cause: same layout), padded.
pub fn emit_param(buf: &mut Vec<u8>, kind: u16, value: &[u8]) {
    buf.extend_from_slice(&kind.to_be_bytes());
    buf.extend_from_slice(&len16(value.len() + 4));
    buf.extend_from_slice(value);
    pad(buf);
}

/// Appends a DATA chunk.
pub fn emit_data(buf: &mut Vec<u8>, flags: u8, tsn: u32, stream: u16, ssn: u16, ppid: u32, payload: &[u8]) {
    emit_chunk_header(buf, ChunkType::DATA, flags, 12 + payload.len());
    buf.extend_from_slice(&tsn.to_be_bytes());
    buf.extend_from_slice(&stream.to_be_bytes());
    buf.extend_from_slice(&ssn.to_be_bytes());
    buf.extend_from_slice(&ppid.to_be_bytes());
    buf.extend_from_slice(payload);
    pad(buf);
}

/// The fields and options of an INIT or INIT-ACK this crate sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InitFields<'a> {
    /// Initiate tag.
    pub initiate_tag: u32,
    /// Advertised receiver window.
    pub a_rwnd: u32,
    /// Outbound streams.
    pub outbound_streams: u16,
    /// Maximum inbound streams.
    pub max_inbound_streams: u16,
    /// Initial TSN.
    pub initial_tsn: u32,
    /// Advertise PR-SCTP (RFC 3758).
    pub forward_tsn: bool,
    /// Advertise stream reconfiguration (RFC 6525).
    pub reconfig: bool,
    /// Advertise Zero Checksum Acceptable with the DTLS method (RFC 9653).
    pub zero_checksum: bool,
    /// State cookie (INIT-ACK only).
    pub cookie: Option<&'a [u8]>,
    /// Cookie Preservative: the suggested cookie lifespan increment in milliseconds (INIT only, RFC 9260
    /// §5.2.6).
    pub cookie_preservative: Option<u32>,
    /// Unrecognized Parameter parameters, already encoded (INIT-ACK only, §3.3.3): copied as they are.
    pub unrecognized: &'a [u8],
}

/// Appends an INIT (`kind == INIT`) or INIT-ACK chunk.
pub fn emit_init(buf: &mut Vec<u8>, kind: ChunkType, f: &InitFields<'_>) {
    let start = buf.len();
    emit_chunk_header(buf, kind, 0, 0);
    buf.extend_from_slice(&f.initiate_tag.to_be_bytes());
    buf.extend_from_slice(&f.a_rwnd.to_be_bytes());
    buf.extend_from_slice(&f.outbound_streams.to_be_bytes());
    buf.extend_from_slice(&f.max_inbound_streams.to_be_bytes());
    buf.extend_from_slice(&f.initial_tsn.to_be_bytes());
    if let Some(cookie) = f.cookie {
        emit_param(buf, ParamType::STATE_COOKIE.0, cookie);
    }
    let mut ext = [0u8; 2];
    let mut n = 0;
    for (on, t) in [(f.reconfig, ChunkType::RECONFIG), (f.forward_tsn, ChunkType::FORWARD_TSN)] {
        if on {
            if let Some(slot) = ext.get_mut(n) {
                *slot = t.0;
                n += 1;
            }
        }
    }
    if n > 0 {
        emit_param(buf, ParamType::SUPPORTED_EXTENSIONS.0, ext.get(..n).unwrap_or(&[]));
    }
    if f.forward_tsn {
        emit_param(buf, ParamType::FORWARD_TSN_SUPPORTED.0, &[]);
    }
    if f.zero_checksum {
        emit_param(buf, ParamType::ZERO_CHECKSUM_ACCEPTABLE.0, &ZERO_CHECKSUM_DTLS.to_be_bytes());
    }
    if let Some(ms) = f.cookie_preservative {
        emit_param(buf, ParamType::COOKIE_PRESERVATIVE.0, &ms.to_be_bytes());
    }
    buf.extend_from_slice(f.unrecognized);
    // The chunk length excludes the final parameter's padding, which every parameter here already has
    // (all are multiples of four except possibly the cookie, written first, and the unrecognized ones).
    let len = buf.len() - start;
    pad(buf);
    if let Some(field) = buf.get_mut(start + 2..start + 4) {
        field.copy_from_slice(&len16(len));
    }
}

/// Appends a SACK chunk.
pub fn emit_sack(buf: &mut Vec<u8>, cumulative_tsn: u32, a_rwnd: u32, gaps: &[(u16, u16)], dups: &[u32]) {
    emit_chunk_header(buf, ChunkType::SACK, 0, 12 + gaps.len() * 4 + dups.len() * 4);
    buf.extend_from_slice(&cumulative_tsn.to_be_bytes());
    buf.extend_from_slice(&a_rwnd.to_be_bytes());
    buf.extend_from_slice(&len16(gaps.len()));
    buf.extend_from_slice(&len16(dups.len()));
    for (s, e) in gaps {
        buf.extend_from_slice(&s.to_be_bytes());
        buf.extend_from_slice(&e.to_be_bytes());
    }
    for d in dups {
        buf.extend_from_slice(&d.to_be_bytes());
    }
}

/// Appends a FORWARD-TSN chunk.
pub fn emit_forward_tsn(buf: &mut Vec<u8>, new_cumulative_tsn: u32, streams: &[(u16, u16)]) {
    emit_chunk_header(buf, ChunkType::FORWARD_TSN, 0, 4 + streams.len() * 4);
    buf.extend_from_slice(&new_cumulative_tsn.to_be_bytes());
    for (s, n) in streams {
        buf.extend_from_slice(&s.to_be_bytes());
        buf.extend_from_slice(&n.to_be_bytes());
    }
}

/// Appends a RE-CONFIG chunk carrying one Outgoing SSN Reset Request.
pub fn emit_reconfig_request(buf: &mut Vec<u8>, request_seq: u32, response_seq: u32, last_tsn: u32, streams: &[u16]) {
    let plen = 16 + streams.len() * 2;
    emit_chunk_header(buf, ChunkType::RECONFIG, 0, plen);
    buf.extend_from_slice(&ParamType::OUTGOING_RESET.0.to_be_bytes());
    buf.extend_from_slice(&len16(plen));
    buf.extend_from_slice(&request_seq.to_be_bytes());
    buf.extend_from_slice(&response_seq.to_be_bytes());
    buf.extend_from_slice(&last_tsn.to_be_bytes());
    for s in streams {
        buf.extend_from_slice(&s.to_be_bytes());
    }
    pad(buf);
}

/// Appends a RE-CONFIG chunk carrying one Re-configuration Response.
pub fn emit_reconfig_response(buf: &mut Vec<u8>, response_seq: u32, result: u32) {
    emit_chunk_header(buf, ChunkType::RECONFIG, 0, 12);
    buf.extend_from_slice(&ParamType::RECONFIG_RESPONSE.0.to_be_bytes());
    buf.extend_from_slice(&len16(12));
    buf.extend_from_slice(&response_seq.to_be_bytes());
    buf.extend_from_slice(&result.to_be_bytes());
}
