//! Parameters (RFC 9260 §3.2.1) and error causes (§3.3.10), as lazy iterators.

use super::pad4;
use crate::sctp::error::WireError;

/// A parameter type codepoint (open).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParamType(pub u16);

impl ParamType {
    /// Heartbeat Info (inside HEARTBEAT).
    pub const HEARTBEAT_INFO: Self = Self(1);
    /// IPv4 address.
    pub const IPV4: Self = Self(5);
    /// IPv6 address.
    pub const IPV6: Self = Self(6);
    /// State Cookie (INIT-ACK).
    pub const STATE_COOKIE: Self = Self(7);
    /// Unrecognized Parameter (INIT-ACK).
    pub const UNRECOGNIZED: Self = Self(8);
    /// Cookie Preservative.
    pub const COOKIE_PRESERVATIVE: Self = Self(9);
    /// Supported Address Types.
    pub const SUPPORTED_ADDRESS_TYPES: Self = Self(12);
    /// Outgoing SSN Reset Request (RFC 6525 §4.1).
    pub const OUTGOING_RESET: Self = Self(13);
    /// Incoming SSN Reset Request (RFC 6525 §4.2).
    pub const INCOMING_RESET: Self = Self(14);
    /// SSN/TSN Reset Request (RFC 6525 §4.3).
    pub const SSN_TSN_RESET: Self = Self(15);
    /// Re-configuration Response (RFC 6525 §4.4).
    pub const RECONFIG_RESPONSE: Self = Self(16);
    /// Add Outgoing Streams Request (RFC 6525 §4.5).
    pub const ADD_OUTGOING: Self = Self(17);
    /// Add Incoming Streams Request (RFC 6525 §4.6).
    pub const ADD_INCOMING: Self = Self(18);
    /// Zero Checksum Acceptable (RFC 9653 §5.1).
    pub const ZERO_CHECKSUM_ACCEPTABLE: Self = Self(0x8001);
    /// Supported Extensions (RFC 5061 §4.2.7).
    pub const SUPPORTED_EXTENSIONS: Self = Self(0x8008);
    /// Forward-TSN-Supported (RFC 3758 §3.1).
    pub const FORWARD_TSN_SUPPORTED: Self = Self(0xC000);

    /// What to do with an unrecognised parameter (RFC 9260 §3.2.1): `(skip, report)`; `skip == false` means
    /// stop processing the remaining parameters.
    pub const fn unknown_action(self) -> (bool, bool) {
        (self.0 & 0x8000 != 0, self.0 & 0x4000 != 0)
    }
}

/// The Error Detection Method Identifier for DTLS in the Zero Checksum Acceptable parameter (RFC 9653 §5.1).
pub const ZERO_CHECKSUM_DTLS: u32 = 1;

/// One parameter: its type and value (header and padding excluded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param<'a> {
    /// Parameter type.
    pub kind: ParamType,
    /// Parameter value.
    pub value: &'a [u8],
}

/// Lazy iterator over type-length-value parameters; yields an error and stops at the first malformed one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params<'a> {
    rest: &'a [u8],
}

impl<'a> Params<'a> {
    /// Parameters encoded in `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Params { rest: bytes }
    }
}

fn next_tlv<'a>(rest: &mut &'a [u8]) -> Option<Result<(u16, &'a [u8]), WireError>> {
    if rest.is_empty() {
        return None;
    }
    let r = *rest;
    let Some((&[k0, k1, l0, l1], _)) = r.split_first_chunk::<4>() else {
        *rest = &[];
        return Some(Err(WireError::BadLength));
    };
    let kind = u16::from_be_bytes([k0, k1]);
    let len = usize::from(u16::from_be_bytes([l0, l1]));
    // `get` refuses `4..len` when `len < 4` as well as when it runs past the end.
    let Some(value) = r.get(4..len) else {
        *rest = &[];
        return Some(Err(WireError::BadLength));
    };
    *rest = r.get(pad4(len)..).unwrap_or(&[]);
    Some(Ok((kind, value)))
}

impl<'a> Iterator for Params<'a> {
    type Item = Result<Param<'a>, WireError>;
    fn next(&mut self) -> Option<Self::Item> {
        next_tlv(&mut self.rest).map(|r| r.map(|(kind, value)| Param { kind: ParamType(kind), value }))
    }
}

/// An error cause code (RFC 9260 §3.3.10; open).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CauseCode(pub u16);

impl CauseCode {
    /// Invalid Stream Identifier.
    pub const INVALID_STREAM: Self = Self(1);
    /// Missing Mandatory Parameter.
    pub const MISSING_PARAMETER: Self = Self(2);
    /// Stale Cookie Error.
    pub const STALE_COOKIE: Self = Self(3);
    /// Out of Resource.
    pub const OUT_OF_RESOURCE: Self = Self(4);
    /// Unrecognized Chunk Type.
    pub const UNRECOGNIZED_CHUNK: Self = Self(6);
    /// Invalid Mandatory Parameter.
    pub const INVALID_PARAMETER: Self = Self(7);
    /// Unrecognized Parameters.
    pub const UNRECOGNIZED_PARAMETERS: Self = Self(8);
    /// No User Data.
    pub const NO_USER_DATA: Self = Self(9);
    /// Cookie Received While Shutting Down.
    pub const COOKIE_WHILE_SHUTTING_DOWN: Self = Self(10);
    /// User-Initiated Abort.
    pub const USER_ABORT: Self = Self(12);
    /// Protocol Violation.
    pub const PROTOCOL_VIOLATION: Self = Self(13);
}

/// One error cause.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cause<'a> {
    /// Cause code.
    pub code: CauseCode,
    /// Cause-specific information.
    pub info: &'a [u8],
}

/// Lazy iterator over error causes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Causes<'a> {
    rest: &'a [u8],
}

impl<'a> Causes<'a> {
    /// Causes encoded in `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Causes { rest: bytes }
    }
}

impl<'a> Iterator for Causes<'a> {
    type Item = Result<Cause<'a>, WireError>;
    fn next(&mut self) -> Option<Self::Item> {
        next_tlv(&mut self.rest).map(|r| r.map(|(code, info)| Cause { code: CauseCode(code), info }))
    }
}

/// Result codes of a Re-configuration Response (RFC 6525 §4.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReconfigResult(pub u32);

impl ReconfigResult {
    /// Success - Nothing to do.
    pub const NOTHING_TO_DO: Self = Self(0);
    /// Success - Performed.
    pub const PERFORMED: Self = Self(1);
    /// Denied.
    pub const DENIED: Self = Self(2);
    /// Error - Wrong SSN.
    pub const WRONG_SSN: Self = Self(3);
    /// Error - Request already in progress.
    pub const ALREADY_IN_PROGRESS: Self = Self(4);
    /// Error - Bad Sequence Number.
    pub const BAD_SEQUENCE: Self = Self(5);
    /// In progress.
    pub const IN_PROGRESS: Self = Self(6);
}

/// A RE-CONFIG parameter this crate understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReconfigParam<'a> {
    /// Outgoing SSN Reset Request: the sender will reset the listed outgoing streams (all when empty) once
    /// every TSN up to `last_tsn` has arrived.
    OutgoingReset {
        /// Re-configuration request sequence number.
        request_seq: u32,
        /// The sender's last response sequence number received.
        response_seq: u32,
        /// Sender's last assigned TSN.
        last_tsn: u32,
        /// Streams to reset (empty: all).
        streams: StreamList<'a>,
    },
    /// Re-configuration Response.
    Response {
        /// The request it answers.
        response_seq: u32,
        /// Result.
        result: ReconfigResult,
    },
    /// Any other request (incoming reset, SSN/TSN reset, add streams): answered "denied".
    Other {
        /// Its type.
        kind: ParamType,
        /// Its request sequence number (the first word), if present.
        request_seq: Option<u32>,
    },
}

impl<'a> ReconfigParam<'a> {
    /// Decodes a RE-CONFIG parameter.
    pub fn parse(p: Param<'a>) -> Result<Self, WireError> {
        let v = p.value;
        match p.kind {
            ParamType::OUTGOING_RESET => {
                let (&[q0, q1, q2, q3, r0, r1, r2, r3, t0, t1, t2, t3], streams) =
                    v.split_first_chunk::<12>().ok_or(WireError::Truncated)?;
                Ok(ReconfigParam::OutgoingReset {
                    request_seq: u32::from_be_bytes([q0, q1, q2, q3]),
                    response_seq: u32::from_be_bytes([r0, r1, r2, r3]),
                    last_tsn: u32::from_be_bytes([t0, t1, t2, t3]),
                    streams: StreamList { rest: streams },
                })
            }
            ParamType::RECONFIG_RESPONSE => {
                let &[q0, q1, q2, q3, r0, r1, r2, r3] = v.first_chunk::<8>().ok_or(WireError::Truncated)?;
                Ok(ReconfigParam::Response {
                    response_seq: u32::from_be_bytes([q0, q1, q2, q3]),
                    result: ReconfigResult(u32::from_be_bytes([r0, r1, r2, r3])),
                })
            }
            kind => {
                Ok(ReconfigParam::Other { kind, request_seq: v.first_chunk::<4>().map(|&q| u32::from_be_bytes(q)) })
            }
        }
    }
}

/// Iterator over a list of 16-bit stream identifiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamList<'a> {
    rest: &'a [u8],
}

impl StreamList<'_> {
    /// No streams listed (meaning all streams).
    pub fn is_empty(&self) -> bool {
        self.rest.len() < 2
    }
}

impl Iterator for StreamList<'_> {
    type Item = u16;
    fn next(&mut self) -> Option<u16> {
        let (&stream, rest) = self.rest.split_first_chunk::<2>()?;
        self.rest = rest;
        Some(u16::from_be_bytes(stream))
    }
}
