//! Errors of the ICE agent.

use core::fmt;

/// Why the agent dropped a received datagram. Each reason has a counter in [`super::Discards`].
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IceError {
    /// A STUN message that does not parse (truncated, bad lengths, bad attribute sizes).
    Malformed,
    /// FINGERPRINT missing from a connectivity check or keepalive, wrong, or not the last attribute.
    BadFingerprint,
    /// MESSAGE-INTEGRITY missing or wrong.
    BadIntegrity,
    /// A request whose USERNAME does not start with our ufrag (e.g. an old generation after a restart).
    UnknownUsername,
    /// A response to no transaction of ours.
    UnknownTransaction,
    /// A response from another address than the request went to, or to another local socket.
    UnexpectedSource,
    /// A datagram arriving at a local address that is no (allowed) candidate base.
    UnknownLocalAddress,
    /// Application data or a keepalive (binding indication) from an address no validated pair leads to.
    UnvalidatedSource,
    /// A STUN method or class the agent does not handle.
    UnsupportedMessage,
    /// A request that needs remote state the agent cannot keep: the list of remote candidates or pairs is full.
    LimitReached,
    /// The agent is closed.
    Closed,
}

impl fmt::Display for IceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IceError::Malformed => "malformed STUN message",
            IceError::BadFingerprint => "missing or wrong FINGERPRINT",
            IceError::BadIntegrity => "missing or wrong MESSAGE-INTEGRITY",
            IceError::UnknownUsername => "unknown USERNAME",
            IceError::UnknownTransaction => "response to an unknown transaction",
            IceError::UnexpectedSource => "response from an unexpected address",
            IceError::UnknownLocalAddress => "datagram on a local address that is not a candidate base",
            IceError::UnvalidatedSource => "data or keepalive from an address not validated by a check",
            IceError::UnsupportedMessage => "unsupported STUN message",
            IceError::LimitReached => "candidate or pair limit reached",
            IceError::Closed => "agent closed",
        })
    }
}

impl core::error::Error for IceError {}

/// Why a call on the agent's API was refused.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ApiError {
    /// A list reached its configured cap (local or remote candidates, STUN servers).
    LimitReached,
    /// The candidate duplicates one already known.
    Duplicate,
    /// The candidate type is filtered out by the configuration.
    Filtered,
    /// The candidate is not usable (component other than 1, unspecified address or port 0).
    InvalidCandidate,
    /// Credentials out of RFC 8839 bounds (ufrag 4–256 chars, password 22–256 chars, ice-chars only).
    InvalidCredentials,
    /// There is no selected pair to send on.
    NoSelectedPair,
    /// Consent to send expired (RFC 7675 §5.1); sending stopped.
    ConsentExpired,
    /// The agent is closed.
    Closed,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ApiError::LimitReached => "limit reached",
            ApiError::Duplicate => "duplicate candidate",
            ApiError::Filtered => "candidate type filtered out",
            ApiError::InvalidCandidate => "invalid candidate",
            ApiError::InvalidCredentials => "invalid ICE credentials",
            ApiError::NoSelectedPair => "no selected candidate pair",
            ApiError::ConsentExpired => "consent expired",
            ApiError::Closed => "agent closed",
        })
    }
}

impl core::error::Error for ApiError {}
