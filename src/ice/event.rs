//! What the agent reports: states with the W3C names, events and counters.

use core::fmt;

use super::{Candidate, Role};

/// The connection state, named as W3C `RTCIceConnectionState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IceConnectionState {
    /// Nothing checked yet.
    New,
    /// Checks are running; no pair selected yet.
    Checking,
    /// A pair is selected; checks may still run.
    Connected,
    /// A pair is selected and checking is over (the check list completed and the peer ended its
    /// candidates).
    Completed,
    /// The selected pair went silent for the disconnected timeout; it may come back.
    Disconnected,
    /// No pair could be selected in time, or consent was lost (RFC 7675). Recover with a restart.
    Failed,
    /// Closed by the caller.
    Closed,
}

impl IceConnectionState {
    /// The W3C name (`"new"`, `"checking"`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            IceConnectionState::New => "new",
            IceConnectionState::Checking => "checking",
            IceConnectionState::Connected => "connected",
            IceConnectionState::Completed => "completed",
            IceConnectionState::Disconnected => "disconnected",
            IceConnectionState::Failed => "failed",
            IceConnectionState::Closed => "closed",
        }
    }
}

impl fmt::Display for IceConnectionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event from the agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IceEvent {
    /// The connection state changed.
    StateChanged(IceConnectionState),
    /// A local candidate to signal to the peer (trickle, RFC 8838).
    LocalCandidate(Candidate),
    /// Every local candidate has been reported (after [`super::IceAgent::end_of_local_candidates`] once the
    /// server-reflexive gathering finished); signal end-of-candidates.
    GatheringComplete,
    /// The pair used for data changed. Send from `local.base` to `remote.address`.
    SelectedPairChanged {
        /// The local candidate (its `base` is the socket to send from).
        local: Candidate,
        /// The remote candidate (its `address` is where to send).
        remote: Candidate,
    },
    /// The agent changed role after a role conflict (RFC 8445 §7.3.1.1).
    RoleChanged(Role),
}

/// Counters of datagrams the agent dropped, by reason (see [`super::IceError`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Discards {
    /// Malformed STUN.
    pub malformed: u64,
    /// Missing, wrong or misplaced FINGERPRINT.
    pub bad_fingerprint: u64,
    /// Missing or wrong MESSAGE-INTEGRITY.
    pub bad_integrity: u64,
    /// Unknown USERNAME.
    pub unknown_username: u64,
    /// Response to no transaction of ours.
    pub unknown_transaction: u64,
    /// Response from another address than the request went to.
    pub unexpected_source: u64,
    /// Arrived on a local address that is no candidate base.
    pub unknown_local_address: u64,
    /// Data or a keepalive from an address no validated pair leads to.
    pub unvalidated_source: u64,
    /// Unsupported STUN method or class.
    pub unsupported: u64,
    /// Needed a new remote candidate or pair beyond the caps.
    pub limit_reached: u64,
    /// Received after close.
    pub closed: u64,
}

/// The agent's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct IceStats {
    /// Connectivity checks sent (first transmissions, consent checks included).
    pub checks_sent: u64,
    /// Check retransmissions.
    pub retransmits: u64,
    /// Authenticated checks received.
    pub checks_received: u64,
    /// Responses sent (success and error).
    pub responses_sent: u64,
    /// Authenticated responses received for our checks.
    pub responses_received: u64,
    /// Binding indications (keepalives) sent.
    pub keepalives_sent: u64,
    /// Role conflicts resolved (487 sent or received, or a switch).
    pub role_conflicts: u64,
    /// Non-STUN datagrams accepted from validated addresses.
    pub data_received: u64,
    /// Datagrams handed out by `send`.
    pub data_sent: u64,
    /// Bytes of the non-STUN datagrams accepted (W3C transport `bytesReceived`).
    pub data_bytes_received: u64,
    /// Bytes of the datagrams handed out by `send` (W3C transport `bytesSent`).
    pub data_bytes_sent: u64,
    /// Times the selected pair changed (W3C `selectedCandidatePairChanges`).
    pub selected_pair_changes: u64,
    /// Outgoing datagrams dropped because the transmit queue was full.
    pub transmit_overflow: u64,
    /// Events dropped because the event queue was full.
    pub event_overflow: u64,
    /// Dropped input, by reason.
    pub discarded: Discards,
}

/// Counters of one candidate pair, named after W3C `RTCIceCandidatePairStats`. Data counts application
/// datagrams only (no STUN); requests and responses count connectivity and consent checks, first
/// transmissions only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PairStats {
    /// Checks sent on this pair (consent checks included; `requestsSent`).
    pub requests_sent: u64,
    /// Consent checks sent on this pair (RFC 7675; `consentRequestsSent`).
    pub consent_requests_sent: u64,
    /// Authenticated checks received on this pair (`requestsReceived`).
    pub requests_received: u64,
    /// Responses sent on this pair (`responsesSent`).
    pub responses_sent: u64,
    /// Authenticated responses received on this pair (`responsesReceived`).
    pub responses_received: u64,
    /// Application datagrams sent (`packetsSent`).
    pub packets_sent: u64,
    /// Application bytes sent (`bytesSent`).
    pub bytes_sent: u64,
    /// Application datagrams received (`packetsReceived`).
    pub packets_received: u64,
    /// Application bytes received (`bytesReceived`).
    pub bytes_received: u64,
    /// The latest round trip time of a check, from its last transmission to its response
    /// (`currentRoundTripTime`); `None` before the first response.
    pub current_rtt: Option<core::time::Duration>,
    /// The sum of every round trip time measured (`totalRoundTripTime`; divide by `rtt_measurements`).
    pub total_rtt: core::time::Duration,
    /// Round trip times measured.
    pub rtt_measurements: u64,
}

/// One candidate pair as [`super::IceAgent::pair_infos`] shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PairInfo<'a> {
    /// The local candidate and its index in [`super::IceAgent::local_candidates`].
    pub local: (usize, &'a Candidate),
    /// The remote candidate and its index in [`super::IceAgent::remote_candidates`].
    pub remote: (usize, &'a Candidate),
    /// Its state.
    pub state: super::PairState,
    /// Nominated.
    pub nominated: bool,
    /// The selected pair.
    pub selected: bool,
    /// Its counters.
    pub stats: PairStats,
}

impl Discards {
    pub(crate) fn count(&mut self, e: super::IceError) {
        use super::IceError as E;
        let c = match e {
            E::Malformed => &mut self.malformed,
            E::BadFingerprint => &mut self.bad_fingerprint,
            E::BadIntegrity => &mut self.bad_integrity,
            E::UnknownUsername => &mut self.unknown_username,
            E::UnknownTransaction => &mut self.unknown_transaction,
            E::UnexpectedSource => &mut self.unexpected_source,
            E::UnknownLocalAddress => &mut self.unknown_local_address,
            E::UnvalidatedSource => &mut self.unvalidated_source,
            E::UnsupportedMessage => &mut self.unsupported,
            E::LimitReached => &mut self.limit_reached,
            E::Closed => &mut self.closed,
        };
        *c += 1;
    }

    /// Every discarded datagram.
    pub fn total(&self) -> u64 {
        self.malformed
            + self.bad_fingerprint
            + self.bad_integrity
            + self.unknown_username
            + self.unknown_transaction
            + self.unexpected_source
            + self.unknown_local_address
            + self.unvalidated_source
            + self.unsupported
            + self.limit_reached
            + self.closed
    }
}
