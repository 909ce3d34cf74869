//! Typed chunk views (RFC 9260 §3.3, RFC 3758 §3.2, RFC 6525 §3.1).

use super::RawChunk;
use super::param::{Causes, Params};
use crate::sctp::error::WireError;

/// A chunk type codepoint (open: unknown values survive).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChunkType(pub u8);

impl ChunkType {
    /// Payload data.
    pub const DATA: Self = Self(0);
    /// Initiation.
    pub const INIT: Self = Self(1);
    /// Initiation acknowledgement.
    pub const INIT_ACK: Self = Self(2);
    /// Selective acknowledgement.
    pub const SACK: Self = Self(3);
    /// Heartbeat request.
    pub const HEARTBEAT: Self = Self(4);
    /// Heartbeat acknowledgement.
    pub const HEARTBEAT_ACK: Self = Self(5);
    /// Abort.
    pub const ABORT: Self = Self(6);
    /// Shutdown.
    pub const SHUTDOWN: Self = Self(7);
    /// Shutdown acknowledgement.
    pub const SHUTDOWN_ACK: Self = Self(8);
    /// Operation error.
    pub const ERROR: Self = Self(9);
    /// State cookie echo.
    pub const COOKIE_ECHO: Self = Self(10);
    /// Cookie acknowledgement.
    pub const COOKIE_ACK: Self = Self(11);
    /// Shutdown complete.
    pub const SHUTDOWN_COMPLETE: Self = Self(14);
    /// Stream re-configuration (RFC 6525).
    pub const RECONFIG: Self = Self(130);
    /// Forward cumulative TSN (RFC 3758).
    pub const FORWARD_TSN: Self = Self(192);

    /// What to do with a chunk of this type when it is not recognised (RFC 9260 §3.2): `(skip, report)`.
    /// `skip == false` means stop processing the packet.
    pub const fn unknown_action(self) -> (bool, bool) {
        (self.0 & 0x80 != 0, self.0 & 0x40 != 0)
    }
}

/// DATA chunk flags (RFC 9260 §3.3.1, RFC 7053 for I).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct DataFlags(pub u8);

impl DataFlags {
    /// Last fragment.
    pub const END: u8 = 0x01;
    /// First fragment.
    pub const BEGIN: u8 = 0x02;
    /// Unordered.
    pub const UNORDERED: u8 = 0x04;
    /// Immediate acknowledgement requested (RFC 7053).
    pub const IMMEDIATE: u8 = 0x08;

    /// First fragment of a message.
    pub const fn begin(self) -> bool {
        self.0 & Self::BEGIN != 0
    }
    /// Last fragment of a message.
    pub const fn end(self) -> bool {
        self.0 & Self::END != 0
    }
    /// Unordered delivery.
    pub const fn unordered(self) -> bool {
        self.0 & Self::UNORDERED != 0
    }
    /// The sender asks for an immediate SACK.
    pub const fn immediate(self) -> bool {
        self.0 & Self::IMMEDIATE != 0
    }
}

/// A DATA chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataChunk<'a> {
    /// Flags (B, E, U, I).
    pub flags: DataFlags,
    /// Transmission sequence number.
    pub tsn: u32,
    /// Stream identifier.
    pub stream: u16,
    /// Stream sequence number.
    pub ssn: u16,
    /// Payload protocol identifier.
    pub ppid: u32,
    /// User data (never empty after parsing).
    pub payload: &'a [u8],
}

/// INIT and INIT-ACK fixed fields plus their parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InitChunk<'a> {
    /// Initiate tag: the verification tag the sender expects on packets to it.
    pub initiate_tag: u32,
    /// Advertised receiver window credit.
    pub a_rwnd: u32,
    /// Number of outbound streams the sender wants.
    pub outbound_streams: u16,
    /// Maximum inbound streams the sender accepts.
    pub max_inbound_streams: u16,
    /// First TSN the sender will use.
    pub initial_tsn: u32,
    params: &'a [u8],
}

impl<'a> InitChunk<'a> {
    fn parse(value: &'a [u8]) -> Result<Self, WireError> {
        let (&[t0, t1, t2, t3, r0, r1, r2, r3, o0, o1, i0, i1, n0, n1, n2, n3], params) =
            value.split_first_chunk::<16>().ok_or(WireError::Truncated)?;
        Ok(InitChunk {
            initiate_tag: u32::from_be_bytes([t0, t1, t2, t3]),
            a_rwnd: u32::from_be_bytes([r0, r1, r2, r3]),
            outbound_streams: u16::from_be_bytes([o0, o1]),
            max_inbound_streams: u16::from_be_bytes([i0, i1]),
            initial_tsn: u32::from_be_bytes([n0, n1, n2, n3]),
            params,
        })
    }

    /// The optional/variable parameters, lazily.
    pub fn params(&self) -> Params<'a> {
        Params::new(self.params)
    }
}

/// A SACK chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SackChunk<'a> {
    /// Cumulative TSN acknowledged.
    pub cumulative_tsn: u32,
    /// Advertised receiver window credit.
    pub a_rwnd: u32,
    gaps: &'a [u8],
    dups: &'a [u8],
}

impl<'a> SackChunk<'a> {
    fn parse(value: &'a [u8]) -> Result<Self, WireError> {
        let (&[c0, c1, c2, c3, r0, r1, r2, r3, g0, g1, d0, d1], lists) =
            value.split_first_chunk::<12>().ok_or(WireError::Truncated)?;
        let gaps_len = usize::from(u16::from_be_bytes([g0, g1])) * 4;
        let dups_len = usize::from(u16::from_be_bytes([d0, d1])) * 4;
        let (gaps, rest) = lists.split_at_checked(gaps_len).ok_or(WireError::Truncated)?;
        let dups = rest.get(..dups_len).ok_or(WireError::Truncated)?;
        Ok(SackChunk {
            cumulative_tsn: u32::from_be_bytes([c0, c1, c2, c3]),
            a_rwnd: u32::from_be_bytes([r0, r1, r2, r3]),
            gaps,
            dups,
        })
    }

    /// Gap-ack blocks as `(start, end)` offsets from the cumulative TSN.
    pub fn gap_blocks(&self) -> GapBlocks<'a> {
        GapBlocks { rest: self.gaps }
    }

    /// Duplicate TSNs reported.
    pub fn duplicate_tsns(&self) -> Tsns<'a> {
        Tsns { rest: self.dups }
    }
}

/// Iterator over SACK gap-ack blocks `(start, end)`.
#[derive(Clone, Debug)]
pub struct GapBlocks<'a> {
    rest: &'a [u8],
}

impl Iterator for GapBlocks<'_> {
    type Item = (u16, u16);
    fn next(&mut self) -> Option<(u16, u16)> {
        let (&[a0, a1, b0, b1], rest) = self.rest.split_first_chunk::<4>()?;
        self.rest = rest;
        Some((u16::from_be_bytes([a0, a1]), u16::from_be_bytes([b0, b1])))
    }
}

/// Iterator over a list of 32-bit TSNs.
#[derive(Clone, Debug)]
pub struct Tsns<'a> {
    rest: &'a [u8],
}

impl Iterator for Tsns<'_> {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        let (&tsn, rest) = self.rest.split_first_chunk::<4>()?;
        self.rest = rest;
        Some(u32::from_be_bytes(tsn))
    }
}

/// A FORWARD-TSN chunk (RFC 3758 §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForwardTsnChunk<'a> {
    /// The new cumulative TSN the receiver should move to.
    pub new_cumulative_tsn: u32,
    streams: &'a [u8],
}

impl<'a> ForwardTsnChunk<'a> {
    /// `(stream, ssn)` pairs: the largest SSN skipped on each ordered stream.
    pub fn streams(&self) -> StreamSsns<'a> {
        StreamSsns { rest: self.streams }
    }
}

/// Iterator over FORWARD-TSN `(stream, ssn)` pairs.
#[derive(Clone, Debug)]
pub struct StreamSsns<'a> {
    rest: &'a [u8],
}

impl Iterator for StreamSsns<'_> {
    type Item = (u16, u16);
    fn next(&mut self) -> Option<(u16, u16)> {
        let (&[a0, a1, b0, b1], rest) = self.rest.split_first_chunk::<4>()?;
        self.rest = rest;
        Some((u16::from_be_bytes([a0, a1]), u16::from_be_bytes([b0, b1])))
    }
}

/// A decoded chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Chunk<'a> {
    /// DATA.
    Data(DataChunk<'a>),
    /// INIT.
    Init(InitChunk<'a>),
    /// INIT-ACK.
    InitAck(InitChunk<'a>),
    /// SACK.
    Sack(SackChunk<'a>),
    /// HEARTBEAT with its parameters (a Heartbeat Info parameter).
    Heartbeat(&'a [u8]),
    /// HEARTBEAT-ACK echoing the parameters.
    HeartbeatAck(&'a [u8]),
    /// ABORT; `reflected` is the T bit; error causes follow.
    Abort {
        /// T bit: the verification tag is the sender's own (reflected).
        reflected: bool,
        /// Error causes.
        causes: Causes<'a>,
    },
    /// SHUTDOWN with the sender's cumulative TSN ack.
    Shutdown(u32),
    /// SHUTDOWN-ACK.
    ShutdownAck,
    /// SHUTDOWN-COMPLETE; the flag is the T bit.
    ShutdownComplete(bool),
    /// ERROR with causes.
    Error(Causes<'a>),
    /// COOKIE-ECHO with the cookie.
    CookieEcho(&'a [u8]),
    /// COOKIE-ACK.
    CookieAck,
    /// FORWARD-TSN.
    ForwardTsn(ForwardTsnChunk<'a>),
    /// RE-CONFIG with its parameters.
    Reconfig(Params<'a>),
    /// Any other type, kept raw.
    Unknown(RawChunk<'a>),
}

impl<'a> Chunk<'a> {
    /// Decodes the fixed fields of `raw`. Variable lists stay lazy.
    pub fn parse(raw: RawChunk<'a>) -> Result<Self, WireError> {
        let v = raw.value;
        Ok(match raw.kind {
            ChunkType::DATA => {
                let (&[t0, t1, t2, t3, s0, s1, n0, n1, p0, p1, p2, p3], payload) =
                    v.split_first_chunk::<12>().ok_or(WireError::Truncated)?;
                Chunk::Data(DataChunk {
                    flags: DataFlags(raw.flags),
                    tsn: u32::from_be_bytes([t0, t1, t2, t3]),
                    stream: u16::from_be_bytes([s0, s1]),
                    ssn: u16::from_be_bytes([n0, n1]),
                    ppid: u32::from_be_bytes([p0, p1, p2, p3]),
                    payload,
                })
            }
            ChunkType::INIT => Chunk::Init(InitChunk::parse(v)?),
            ChunkType::INIT_ACK => Chunk::InitAck(InitChunk::parse(v)?),
            ChunkType::SACK => Chunk::Sack(SackChunk::parse(v)?),
            ChunkType::HEARTBEAT => Chunk::Heartbeat(v),
            ChunkType::HEARTBEAT_ACK => Chunk::HeartbeatAck(v),
            ChunkType::ABORT => Chunk::Abort { reflected: raw.flags & 1 != 0, causes: Causes::new(v) },
            ChunkType::SHUTDOWN => {
                let &tsn = v.first_chunk::<4>().ok_or(WireError::Truncated)?;
                Chunk::Shutdown(u32::from_be_bytes(tsn))
            }
            ChunkType::SHUTDOWN_ACK => Chunk::ShutdownAck,
            ChunkType::SHUTDOWN_COMPLETE => Chunk::ShutdownComplete(raw.flags & 1 != 0),
            ChunkType::ERROR => Chunk::Error(Causes::new(v)),
            ChunkType::COOKIE_ECHO => Chunk::CookieEcho(v),
            ChunkType::COOKIE_ACK => Chunk::CookieAck,
            ChunkType::FORWARD_TSN => {
                let (&tsn, streams) = v.split_first_chunk::<4>().ok_or(WireError::Truncated)?;
                Chunk::ForwardTsn(ForwardTsnChunk { new_cumulative_tsn: u32::from_be_bytes(tsn), streams })
            }
            ChunkType::RECONFIG => Chunk::Reconfig(Params::new(v)),
            _ => Chunk::Unknown(raw),
        })
    }
}
