//! Candidates: types, transports (UDP, or TCP per RFC 6544), priorities (RFC 8445 §5.1.2, RFC 6544 §4.2)
//! and foundations (§5.1.1.3).

use core::fmt;
use core::net::{IpAddr, SocketAddr};

/// The kind of a candidate (RFC 8445 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CandidateKind {
    /// An address of a local interface.
    Host,
    /// The address a NAT mapped a host candidate to, learnt from a STUN server.
    ServerReflexive,
    /// An address learnt from a connectivity check.
    PeerReflexive,
    /// An address on a TURN relay.
    Relay,
}

impl CandidateKind {
    /// The recommended type preference (RFC 8445 §5.1.2.2): host 126, peer-reflexive 110,
    /// server-reflexive 100, relay 0.
    pub const fn type_preference(self) -> u32 {
        match self {
            CandidateKind::Host => 126,
            CandidateKind::PeerReflexive => 110,
            CandidateKind::ServerReflexive => 100,
            CandidateKind::Relay => 0,
        }
    }

    /// The SDP name (`host`, `srflx`, `prflx`, `relay`, RFC 8839 §5.1).
    pub const fn as_str(self) -> &'static str {
        match self {
            CandidateKind::Host => "host",
            CandidateKind::ServerReflexive => "srflx",
            CandidateKind::PeerReflexive => "prflx",
            CandidateKind::Relay => "relay",
        }
    }
}

impl fmt::Display for CandidateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A TCP candidate's direction (RFC 6544 §4.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TcpType {
    /// Opens connections; advertised with port 9 (it does not accept any).
    Active,
    /// Accepts connections.
    Passive,
    /// Simultaneous open: both ends connect at once.
    SimultaneousOpen,
}

impl TcpType {
    /// The SDP token (`active`, `passive`, `so`).
    pub const fn as_str(self) -> &'static str {
        match self {
            TcpType::Active => "active",
            TcpType::Passive => "passive",
            TcpType::SimultaneousOpen => "so",
        }
    }

    /// The direction a connection has at the other end (RFC 6544 §6.2): an active candidate pairs with a
    /// passive one, simultaneous open with simultaneous open.
    pub const fn opposite(self) -> TcpType {
        match self {
            TcpType::Active => TcpType::Passive,
            TcpType::Passive => TcpType::Active,
            TcpType::SimultaneousOpen => TcpType::SimultaneousOpen,
        }
    }

    /// The direction preference (RFC 6544 §4.2): for host and relayed candidates active 6, passive 4,
    /// S-O 2; for server-reflexive (NAT-assisted) ones S-O 6, active 4, passive 2.
    pub const fn direction_preference(self, kind: CandidateKind) -> u16 {
        match (kind, self) {
            (CandidateKind::ServerReflexive | CandidateKind::PeerReflexive, TcpType::SimultaneousOpen) => 6,
            (CandidateKind::ServerReflexive | CandidateKind::PeerReflexive, TcpType::Active) => 4,
            (CandidateKind::ServerReflexive | CandidateKind::PeerReflexive, TcpType::Passive) => 2,
            (_, TcpType::Active) => 6,
            (_, TcpType::Passive) => 4,
            (_, TcpType::SimultaneousOpen) => 2,
        }
    }
}

/// The transport of a candidate: UDP datagrams, or a TCP connection carrying RFC 4571 frames
/// (RFC 6544; see [`super::framing`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP, with the candidate's direction.
    Tcp(TcpType),
}

impl Transport {
    /// Whether this is TCP.
    pub const fn is_tcp(self) -> bool {
        matches!(self, Transport::Tcp(_))
    }

    /// The SDP transport token (`udp`, `tcp`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp(_) => "tcp",
        }
    }

    /// Whether a local candidate of this transport forms a pair with a remote one of `remote`'s
    /// (RFC 6544 §6.2): UDP with UDP, active with passive, S-O with S-O. A local passive candidate
    /// pairs with nothing: it only answers the connections the peer opens (pairs for those are made when
    /// their checks arrive).
    pub const fn pairs_with(self, remote: Transport) -> bool {
        matches!(
            (self, remote),
            (Transport::Udp, Transport::Udp)
                | (Transport::Tcp(TcpType::Active), Transport::Tcp(TcpType::Passive))
                | (Transport::Tcp(TcpType::SimultaneousOpen), Transport::Tcp(TcpType::SimultaneousOpen))
        )
    }
}

/// The type preference of a TCP candidate: below every UDP candidate but relayed ones, as RFC 6544 §4.2
/// recommends for RTP ("UDP candidates are preferred over TCP candidates") while keeping relays last:
/// host 90, peer-reflexive 85, server-reflexive 80, relay 0 (UDP: 126, 110, 100, 0).
pub const fn tcp_type_preference(kind: CandidateKind) -> u32 {
    match kind {
        CandidateKind::Host => 90,
        CandidateKind::PeerReflexive => 85,
        CandidateKind::ServerReflexive => 80,
        CandidateKind::Relay => 0,
    }
}

/// The priority of a TCP candidate (RFC 6544 §4.2): the RFC 8445 formula with
/// [`tcp_type_preference`] and the local preference `2^13 * direction-pref + other-pref`, where
/// `other_preference` (at most 8191) orders the addresses as [`local_preference`] does for UDP.
pub const fn tcp_priority(kind: CandidateKind, tcp_type: TcpType, other_preference: u16, component: u16) -> u32 {
    let component = if component > 256 { 256 } else { component };
    let other = if other_preference > 8191 { 8191 } else { other_preference };
    let local = ((tcp_type.direction_preference(kind) as u32) << 13) + other as u32;
    (tcp_type_preference(kind) << 24) + (local << 8) + (256 - component as u32)
}

/// The other-preference of the `rank`-th TCP address of its family: [`local_preference`]'s interleaving of
/// families within the 13 bits RFC 6544 §4.2 leaves.
pub const fn tcp_other_preference(is_ipv6: bool, rank: u16) -> u16 {
    let slot = (rank as u32) * 2 + if is_ipv6 { 0 } else { 1 };
    let slot = if slot > 8191 { 8191 } else { slot };
    (8191 - slot) as u16
}

/// The component every candidate belongs to: rtcp-mux and BUNDLE leave only RTP (component 1).
pub const COMPONENT_RTP: u16 = 1;

/// The candidate priority (RFC 8445 §5.1.2.1):
/// `2^24 * type preference + 2^8 * local preference + (256 - component id)`.
pub const fn priority(kind: CandidateKind, local_preference: u16, component: u16) -> u32 {
    let component = if component > 256 { 256 } else { component };
    (kind.type_preference() << 24) + ((local_preference as u32) << 8) + (256 - component as u32)
}

/// The local preference of the `rank`-th address (counting from 0, in the order the caller declared them)
/// of its family. Families are interleaved IPv6 first (RFC 8421 §4: "IPv6, IPv4, IPv6, IPv4, …"), so a
/// dual-stack host tries both families early instead of every IPv6 address before any IPv4 one.
pub const fn local_preference(is_ipv6: bool, rank: u16) -> u16 {
    let slot = (rank as u32) * 2 + if is_ipv6 { 0 } else { 1 };
    let slot = if slot > 65_535 { 65_535 } else { slot };
    (65_535 - slot) as u16
}

/// The pair priority (RFC 8445 §6.1.2.3): `2^32 * min(G, D) + 2 * max(G, D) + (G > D ? 1 : 0)` where `G` is
/// the controlling agent's candidate priority and `D` the controlled agent's.
///
/// A peer's priority may be anything up to `2^32 - 1` (from its SDP or a check's PRIORITY); with both
/// at the top the formula passes `2^64`, so it saturates there instead of overflowing. Priorities this
/// agent computes stay below `2^31`, where the sum is exact.
pub const fn pair_priority(controlling: u32, controlled: u32) -> u64 {
    let (g, d) = (controlling as u64, controlled as u64);
    let (min, max) = if g < d { (g, d) } else { (d, g) };
    (min << 32).saturating_add(2 * max).saturating_add(if g > d { 1 } else { 0 })
}

/// A candidate foundation: 1 to 32 `ice-char`s (RFC 8839 §5.1), stored inline so candidates are `Copy`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Foundation {
    bytes: [u8; 32],
    len: u8,
}

impl Foundation {
    /// A foundation from its text. `None` unless it is 1 to 32 ice-chars (`ALPHA / DIGIT / "+" / "/"`).
    pub fn new(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        if b.is_empty() || b.len() > 32 || !b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/') {
            return None;
        }
        let mut bytes = [0u8; 32];
        bytes.get_mut(..b.len())?.copy_from_slice(b);
        Some(Foundation { bytes, len: b.len() as u8 })
    }

    /// The foundation numbered `n` (its decimal digits), as this agent names its own.
    pub fn from_number(mut n: u32) -> Self {
        let mut digits = [0u8; 10];
        let mut i = digits.len();
        loop {
            // At most 10 digits for a u32: `i` reaches 0 no sooner than the last one is written.
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 || i == 0 {
                break;
            }
        }
        let mut bytes = [0u8; 32];
        let len = digits.len() - i;
        bytes[..len].copy_from_slice(&digits[i..]);
        Foundation { bytes, len: len as u8 }
    }

    /// The foundation's text.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.bytes.get(..usize::from(self.len)).unwrap_or_default()).unwrap_or_default()
    }
}

impl fmt::Debug for Foundation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl fmt::Display for Foundation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A candidate, local or remote.
///
/// For a local candidate, `base` is the local socket it belongs to: every check and every datagram sent
/// "from" this candidate leaves from `base` (RFC 8445 §5.1.1.3). For host and peer-reflexive candidates
/// that is a socket the caller declared; for server-reflexive ones it is the host socket the NAT mapped;
/// for relay candidates it is the relayed address itself, which the caller maps to its TURN allocation.
/// For a remote candidate `base` equals `address` (the remote base is not known).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Candidate {
    /// Host, server-reflexive, peer-reflexive or relay.
    pub kind: CandidateKind,
    /// The transport address advertised to the peer.
    pub address: SocketAddr,
    /// The local socket the candidate sends from (local candidates), or `address` (remote ones).
    pub base: SocketAddr,
    /// The candidate priority.
    pub priority: u32,
    /// The foundation.
    pub foundation: Foundation,
    /// The component id (always 1: rtcp-mux).
    pub component: u16,
    /// The related address for SDP (`raddr`/`rport`): the base of a reflexive candidate, the mapped
    /// address of a relay one, or `None`.
    pub related: Option<SocketAddr>,
    /// UDP, or TCP with its direction (RFC 6544). A local TCP candidate's `base` names the caller's
    /// listening socket (passive) or the source of the connections it opens (active); see
    /// [`super::IceAgent::add_local_tcp`].
    pub transport: Transport,
}

impl Candidate {
    /// A remote candidate as signalled (e.g. from an SDP `a=candidate` line).
    pub fn remote(kind: CandidateKind, address: SocketAddr, priority: u32, foundation: Foundation) -> Self {
        Candidate {
            kind,
            address,
            base: address,
            priority,
            foundation,
            component: COMPONENT_RTP,
            related: None,
            transport: Transport::Udp,
        }
    }

    /// The same candidate on another transport (a remote TCP candidate from SDP: `tcp … tcptype …`).
    #[must_use]
    pub const fn with_transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }
}

impl fmt::Display for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "candidate:{} {} {} {} {} {} typ {}",
            self.foundation,
            self.component,
            self.transport.as_str(),
            self.priority,
            self.address.ip(),
            self.address.port(),
            self.kind
        )?;
        if let Some(r) = self.related {
            write!(f, " raddr {} rport {}", r.ip(), r.port())?;
        }
        if let Transport::Tcp(t) = self.transport {
            write!(f, " tcptype {}", t.as_str())?;
        }
        Ok(())
    }
}

/// What makes two local candidates share a foundation (RFC 8445 §5.1.1.3): same type, same base IP, same
/// STUN/TURN server IP (for relay candidates, the relayed address stands in for it), same transport
/// protocol (UDP, or TCP of any direction).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FoundationKey {
    pub(crate) tcp: bool,
    pub(crate) kind: CandidateKind,
    pub(crate) base_ip: IpAddr,
    pub(crate) server_ip: Option<IpAddr>,
}
