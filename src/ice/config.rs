//! Configuration of the ICE agent: role, credentials, timeouts and the caller's knobs.

use core::net::IpAddr;
use core::time::Duration;

use alloc::string::String;
use alloc::vec::Vec;

use super::ApiError;
use crate::rand::SeededRng;

/// Which side decides the nomination (RFC 8445 §6.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Nominates the pair to use.
    Controlling,
    /// Accepts the peer's nomination.
    Controlled,
}

/// A ufrag and password pair (RFC 8445 §5.3, RFC 8839 §5.4).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Credentials {
    /// The username fragment.
    pub ufrag: String,
    /// The password.
    pub pwd: String,
}

impl core::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Credentials").field("ufrag", &self.ufrag).field("pwd", &"<redacted>").finish()
    }
}

const ICE_CHARS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

impl Credentials {
    /// Credentials from given strings, checked against RFC 8839 §5.4 (ufrag 4–256 and password 22–256
    /// ice-chars).
    pub fn new(ufrag: &str, pwd: &str) -> Result<Self, ApiError> {
        let ok = |s: &str, min: usize| {
            (min..=256).contains(&s.len()) && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/')
        };
        if !ok(ufrag, 4) || !ok(pwd, 22) {
            return Err(ApiError::InvalidCredentials);
        }
        Ok(Credentials { ufrag: String::from(ufrag), pwd: String::from(pwd) })
    }

    /// Random credentials: an 8-char ufrag (48 bits) and a 24-char password (144 bits, over RFC 8445's
    /// 128-bit minimum).
    pub fn random(rng: &mut SeededRng) -> Self {
        // `& 63` keeps the index within the 64 ice-chars.
        let mut pick =
            |n: usize| -> String { (0..n).map(|_| char::from(ICE_CHARS[(rng.u32() & 63) as usize])).collect() };
        let ufrag = pick(8);
        let pwd = pick(24);
        Credentials { ufrag, pwd }
    }
}

/// Which local candidate types the agent gathers, advertises and checks from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CandidateFilter {
    /// Host candidates.
    pub host: bool,
    /// Server-reflexive candidates (STUN gathering and NAT 1:1 server-reflexive mapping).
    pub server_reflexive: bool,
    /// Relay candidates.
    pub relay: bool,
}

impl CandidateFilter {
    /// Every type.
    pub const ALL: CandidateFilter = CandidateFilter { host: true, server_reflexive: true, relay: true };
    /// Relay candidates only (hides every local address from the peer).
    pub const RELAY_ONLY: CandidateFilter = CandidateFilter { host: false, server_reflexive: false, relay: true };
    /// Everything but host candidates.
    pub const NO_HOST: CandidateFilter = CandidateFilter { host: false, server_reflexive: true, relay: true };
}

impl Default for CandidateFilter {
    fn default() -> Self {
        CandidateFilter::ALL
    }
}

/// How a NAT 1:1 public address is advertised (like Pion's `SetNAT1To1IPs` candidate type).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Nat1To1Kind {
    /// The host candidate advertises the public address instead of the local one (base stays local).
    Host,
    /// The host candidate stays; a server-reflexive candidate with the public address is added.
    ServerReflexive,
}

/// One NAT 1:1 mapping: host sockets on `local` (or on any address when `None`) are reachable at `public`
/// with the same port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Nat1To1 {
    /// The local address mapped, or `None` for every local address of the same family.
    pub local: Option<IpAddr>,
    /// The public address.
    pub public: IpAddr,
}

/// The agent's configuration. `Config::default()` is a full, controlling agent with the timeouts below.
///
/// The agent raises values that would stall it: `ta` to at least 5 ms, `check_rto` to 50 ms,
/// `check_rto_max` to `check_rto`, the keepalive and consent intervals to 100 ms, transmission counts to 1.
#[derive(Clone, Debug)]
pub struct Config {
    /// Initial role. Ignored (always controlled) in lite mode.
    pub role: Role,
    /// Local credentials; `None` draws them from the agent's [`SeededRng`].
    pub local_credentials: Option<Credentials>,
    /// ICE-lite (RFC 8445 §2.5): host candidates only, no checks of its own, answers checks, always
    /// controlled, selects what the full peer nominates.
    pub lite: bool,
    /// Ta: the pacing between new checks (RFC 8445 §14.2; default 50 ms).
    pub ta: Duration,
    /// Initial retransmission timeout of a check (RFC 8445 §14.3: 500 ms; doubles per retransmission).
    pub check_rto: Duration,
    /// Cap on the doubling retransmission timeout (default 3 s).
    pub check_rto_max: Duration,
    /// Transmissions of one check before the pair fails (RFC 8489 Rc: 7).
    pub check_max_transmissions: u32,
    /// How long the controlling agent waits after its first valid pair for a better pair before it
    /// nominates the best valid one (default 500 ms; it nominates at once when no better pair is pending).
    pub nomination_delay: Duration,
    /// Without any packet from the selected pair's remote for this long: `disconnected` (default 5 s).
    pub disconnected_timeout: Duration,
    /// Without a selected pair this long after checking began: `failed` (default 30 s; RFC 8863 asks to
    /// wait at least as long as the checks may still succeed, so keep it above the check retransmission
    /// span).
    pub failed_timeout: Duration,
    /// A binding indication is sent on the selected pair when nothing was sent on it for this long
    /// (RFC 8445 §11; default 2.5 s).
    pub keepalive_interval: Duration,
    /// Consent checks are sent every `consent_interval` ± 20 % (RFC 7675 §5.1: 5 s, i.e. 4–6 s).
    pub consent_interval: Duration,
    /// Without a consent response this long, consent is lost, sending stops and the state is `failed`
    /// (RFC 7675 §5.1: 30 s).
    pub consent_timeout: Duration,
    /// Which local candidate types are used.
    pub candidate_filter: CandidateFilter,
    /// NAT 1:1 mappings of host addresses.
    pub nat_1to1: Vec<Nat1To1>,
    /// How NAT 1:1 addresses are advertised.
    pub nat_1to1_kind: Nat1To1Kind,
    /// Cap on candidate pairs (default 100, RFC 8445 §6.1.2.5).
    pub max_pairs: usize,
    /// Cap on remote candidates, signalled and peer-reflexive (default 100).
    pub max_remote_candidates: usize,
    /// Cap on local candidates (default 32).
    pub max_local_candidates: usize,
    /// Cap on STUN servers (default 4).
    pub max_stun_servers: usize,
    /// Transmissions of a server-reflexive gathering request before giving up on that server (default 4).
    pub gather_max_transmissions: u32,
    /// Cap on queued outgoing datagrams (default 128).
    pub max_transmits: usize,
    /// Cap on queued events (default 256).
    pub max_events: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            role: Role::Controlling,
            local_credentials: None,
            lite: false,
            ta: Duration::from_millis(50),
            check_rto: Duration::from_millis(500),
            check_rto_max: Duration::from_secs(3),
            check_max_transmissions: 7,
            nomination_delay: Duration::from_millis(500),
            disconnected_timeout: Duration::from_secs(5),
            failed_timeout: Duration::from_secs(30),
            keepalive_interval: Duration::from_millis(2_500),
            consent_interval: Duration::from_secs(5),
            consent_timeout: Duration::from_secs(30),
            candidate_filter: CandidateFilter::ALL,
            nat_1to1: Vec::new(),
            nat_1to1_kind: Nat1To1Kind::Host,
            max_pairs: 100,
            max_remote_candidates: 100,
            max_local_candidates: 32,
            max_stun_servers: 4,
            gather_max_transmissions: 4,
            max_transmits: 128,
            max_events: 256,
        }
    }
}
