//! Errors of the mDNS codec and resolver.

use core::fmt;

/// Why a DNS message was rejected or could not be written, or why the resolver refused a call.
///
/// Malformed input (`Truncated` … `BadRdata`), writer misuse (`InvalidName`, `TooManyQuestions`) and
/// resolver refusals (`NotAResponse` … `TooManyQueries`) are kept apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The message ends inside its header, a name, a question or a record.
    Truncated,
    /// A label starts with the reserved bits `01` or `10` (RFC 1035 §4.1.4, RFC 6891 §5).
    BadLabel,
    /// A compression pointer does not point strictly backwards, to an earlier label (a loop, or a forward
    /// reference).
    BadPointer,
    /// A name follows more compression pointers than [`super::wire::MAX_POINTERS`].
    TooManyPointers,
    /// A name is longer than 255 octets (RFC 1035 §3.1).
    NameTooLong,
    /// An A record whose data is not 4 octets, or an AAAA record whose data is not 16.
    BadRdata,
    /// A name given to the writer or the resolver is empty, has an empty label or a label longer than
    /// 63 octets, or is longer than 255 octets once encoded.
    InvalidName,
    /// More questions or answers than the writer puts in one message.
    TooManyQuestions,
    /// A response announcing more records than the resolver reads
    /// ([`Config::max_records`](super::Config::max_records)).
    TooManyRecords,
    /// A query (QR = 0) given to the resolver, which only takes responses.
    NotAResponse,
    /// A response with a non-zero opcode or rcode (RFC 6762 §18.3, §18.11): ignored.
    BadOpcode,
    /// A datagram whose source port is not 5353 (RFC 6762 §6, §11): not an mDNS response.
    BadSourcePort,
    /// A name the resolver will not ask for: not `<UUID>.local` (draft-ietf-mmusic-mdns-ice-candidates
    /// §3.2.1) while the resolver is configured to ask only for such names.
    NotAnIceName,
    /// The resolver already has its maximum of outstanding queries.
    TooManyQueries,
    /// The responder already hides its maximum of addresses
    /// ([`MAX_NAMES`](super::MAX_NAMES)).
    TooManyNames,
    /// The resolver (or responder) has no socket to send from: give one with
    /// [`Resolver::set_source`](super::Resolver::set_source).
    NoSource,
    /// An mDNS message about no name of ours: a response while nothing is being resolved, or a query for a
    /// name nobody here hides (taken by a peer connection, which drops and counts it).
    NotOurs,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Truncated => "message truncated",
            Error::BadLabel => "reserved label type",
            Error::BadPointer => "compression pointer not pointing backwards",
            Error::TooManyPointers => "too many compression pointers in one name",
            Error::NameTooLong => "name longer than 255 octets",
            Error::BadRdata => "A or AAAA record with the wrong data length",
            Error::InvalidName => "invalid name",
            Error::TooManyQuestions => "too many questions or answers for one message",
            Error::TooManyRecords => "too many records",
            Error::NotAResponse => "a query, not a response",
            Error::BadOpcode => "non-zero opcode or rcode",
            Error::BadSourcePort => "source port is not 5353",
            Error::NotAnIceName => "not a <UUID>.local name",
            Error::TooManyQueries => "too many outstanding queries",
            Error::TooManyNames => "too many hidden addresses",
            Error::NoSource => "no socket to send queries from",
            Error::NotOurs => "about no name of ours",
        })
    }
}

impl core::error::Error for Error {}
