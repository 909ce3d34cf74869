//! `a=candidate` (RFC 8839 §5.1), standing alone so that the ICE agent can convert to and from it without
//! this module depending on ICE.

use alloc::borrow::Cow;
use alloc::string::ToString;
use core::fmt;
use core::net::IpAddr;

use super::attr::{is_ice_char, parse_decimal, split_once_byte, tokens};
use super::description::Attribute;
use super::error::{AttributeKind, SdpErrorKind};

/// A candidate's transport (RFC 8839 §5.1 `transport`, compared case-insensitively).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CandidateTransport<'a> {
    /// `UDP`.
    Udp,
    /// `TCP` (RFC 6544).
    Tcp,
    /// Any other transport token, as written.
    Other(&'a str),
}

impl<'a> CandidateTransport<'a> {
    fn parse(s: &'a str) -> Self {
        if s.eq_ignore_ascii_case("udp") {
            Self::Udp
        } else if s.eq_ignore_ascii_case("tcp") {
            Self::Tcp
        } else {
            Self::Other(s)
        }
    }

    /// The token (upper case for the known ones, as RFC 8839 writes them).
    #[must_use]
    pub const fn as_str(self) -> &'a str {
        match self {
            Self::Udp => "UDP",
            Self::Tcp => "TCP",
            Self::Other(s) => s,
        }
    }
}

/// A candidate's type (RFC 8839 §5.1 `cand-type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CandidateType<'a> {
    /// `host`.
    Host,
    /// `srflx`: server reflexive.
    Srflx,
    /// `prflx`: peer reflexive.
    Prflx,
    /// `relay`: a TURN relay.
    Relay,
    /// Any other token, as written.
    Other(&'a str),
}

impl<'a> CandidateType<'a> {
    fn parse(s: &'a str) -> Self {
        match s {
            "host" => Self::Host,
            "srflx" => Self::Srflx,
            "prflx" => Self::Prflx,
            "relay" => Self::Relay,
            _ => Self::Other(s),
        }
    }

    /// The token.
    #[must_use]
    pub const fn as_str(self) -> &'a str {
        match self {
            Self::Host => "host",
            Self::Srflx => "srflx",
            Self::Prflx => "prflx",
            Self::Relay => "relay",
            Self::Other(s) => s,
        }
    }
}

/// A TCP candidate's type (RFC 6544 §4.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TcpType<'a> {
    /// `active`: opens connections (Chromium's `tcp … 9 typ host tcptype active`).
    Active,
    /// `passive`: accepts them.
    Passive,
    /// `so`: simultaneous open.
    So,
    /// Any other value, as written.
    Other(&'a str),
}

impl<'a> TcpType<'a> {
    fn parse(s: &'a str) -> Self {
        match s {
            "active" => Self::Active,
            "passive" => Self::Passive,
            "so" => Self::So,
            _ => Self::Other(s),
        }
    }
}

/// A candidate's address: an IP address or a fully qualified domain name (such as an mDNS
/// `<uuid>.local` name, draft-ietf-mmusic-mdns-ice-candidates).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CandidateAddress<'a> {
    /// An IPv4 or IPv6 address.
    Ip(IpAddr),
    /// A host name, to be resolved by the caller.
    Fqdn(&'a str),
}

impl<'a> CandidateAddress<'a> {
    fn parse(s: &'a str) -> Option<Self> {
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Some(Self::Ip(ip));
        }
        // RFC 1035 labels, leniently: letters, digits, '-', '_' and dots; at most 253 characters.
        let ok = !s.is_empty()
            && s.len() <= 253
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && s.split('.').all(|l| !l.is_empty() && l.len() <= 63);
        ok.then_some(Self::Fqdn(s))
    }

    /// Whether this is an mDNS name (ends in `.local`).
    #[must_use]
    pub fn is_mdns(&self) -> bool {
        matches!(self, Self::Fqdn(name) if name.len() > 6 && name.get(name.len() - 6..).is_some_and(|t| t.eq_ignore_ascii_case(".local")))
    }
}

impl fmt::Display for CandidateAddress<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ip(ip) => ip.fmt(f),
            Self::Fqdn(name) => f.write_str(name),
        }
    }
}

/// `a=candidate` (RFC 8839 §5.1):
///
/// ```text
/// foundation SP component-id SP transport SP priority SP connection-address SP port SP "typ" SP cand-type
///   [SP "raddr" SP connection-address] [SP "rport" SP port] *(SP extension-att-name SP extension-att-value)
/// ```
///
/// Extension attributes (`tcptype`, `generation`, `ufrag`, `network-id`, `network-cost`, …) are kept raw in
/// [`CandidateAttribute::extensions`]; `tcptype` is also read into [`CandidateAttribute::tcp_type`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CandidateAttribute<'a> {
    /// 1–32 ice-chars identifying candidates of the same kind.
    pub foundation: &'a str,
    /// 1 for RTP (the only one with rtcp-mux), 2 for RTCP; 1–256.
    pub component: u16,
    /// UDP, TCP or other.
    pub transport: CandidateTransport<'a>,
    /// The candidate's priority (RFC 8445 §5.1.2).
    pub priority: u32,
    /// Its address.
    pub address: CandidateAddress<'a>,
    /// Its port (9, the discard port, for TCP active candidates).
    pub port: u16,
    /// host, srflx, prflx or relay.
    pub kind: CandidateType<'a>,
    /// The related address (`raddr`), for reflexive and relayed candidates.
    pub related_address: Option<CandidateAddress<'a>>,
    /// The related port (`rport`).
    pub related_port: Option<u16>,
    /// `tcptype`, for TCP candidates.
    pub tcp_type: Option<TcpType<'a>>,
    /// Everything after the related address and port: name/value pairs separated by single spaces, as
    /// written (empty if none).
    pub extensions: &'a str,
}

impl<'a> CandidateAttribute<'a> {
    /// A host candidate with no related address and no extensions.
    #[must_use]
    pub fn host(
        foundation: &'a str,
        component: u16,
        transport: CandidateTransport<'a>,
        priority: u32,
        address: IpAddr,
        port: u16,
    ) -> Self {
        Self {
            foundation,
            component,
            transport,
            priority,
            address: CandidateAddress::Ip(address),
            port,
            kind: CandidateType::Host,
            related_address: None,
            related_port: None,
            tcp_type: None,
            extensions: "",
        }
    }

    /// Parses a candidate. Accepts the attribute value, or the same preceded by `candidate:` (the form of
    /// a trickled `RTCIceCandidate.candidate`), or by `a=candidate:`.
    pub fn parse(s: &'a str) -> Result<Self, SdpErrorKind> {
        let s = s.strip_prefix("a=").unwrap_or(s);
        let s = s.strip_prefix("candidate:").unwrap_or(s);
        let e = SdpErrorKind::BadAttribute(AttributeKind::Candidate);
        let mut it = tokens(s);
        let mut next = || it.next().and_then(Result::ok).ok_or(e);

        let foundation = next()?;
        if foundation.len() > 32 || !foundation.bytes().all(is_ice_char) {
            return Err(e);
        }
        let component = parse_decimal(next()?, 256).filter(|&c| c >= 1).ok_or(e)?;
        let transport = CandidateTransport::parse(next()?);
        let priority = parse_decimal(next()?, u32::MAX.into()).ok_or(e)?;
        let address = CandidateAddress::parse(next()?).ok_or(e)?;
        let port = parse_decimal(next()?, u16::MAX.into()).ok_or(e)?;
        if next()? != "typ" {
            return Err(e);
        }
        let kind = CandidateType::parse(next()?);

        // What is left: optional raddr/rport, then extension pairs. Work on the remaining text so
        // `extensions` can borrow it as written.
        let consumed = nth_space_end(s, 8);
        let mut rest = consumed.and_then(|i| s.get(i..)).unwrap_or("");
        if consumed.is_some() && rest.is_empty() {
            return Err(e); // a trailing space
        }
        let mut related_address = None;
        let mut related_port = None;
        if let Some(r) = rest.strip_prefix("raddr ") {
            let (addr, tail) = split_once_byte(r, b' ').unwrap_or((r, ""));
            related_address = Some(CandidateAddress::parse(addr).ok_or(e)?);
            rest = tail;
        }
        if let Some(r) = rest.strip_prefix("rport ") {
            let (p, tail) = split_once_byte(r, b' ').unwrap_or((r, ""));
            related_port = Some(u16::try_from(parse_decimal(p, u16::MAX.into()).ok_or(e)?).map_err(|_| e)?);
            rest = tail;
        }
        let mut tcp_type = None;
        if !rest.is_empty() {
            let mut ext = tokens(rest);
            while let Some(name) = ext.next() {
                let name = name.map_err(|()| e)?;
                let value = ext.next().and_then(Result::ok).ok_or(e)?;
                if name == "tcptype" {
                    tcp_type = Some(TcpType::parse(value));
                }
            }
        }
        Ok(Self {
            foundation,
            component: u16::try_from(component).map_err(|_| e)?,
            transport,
            priority: u32::try_from(priority).map_err(|_| e)?,
            address,
            port: u16::try_from(port).map_err(|_| e)?,
            kind,
            related_address,
            related_port,
            tcp_type,
            extensions: rest,
        })
    }

    /// The extension attributes as (name, value) pairs, in order.
    pub fn extension_pairs(&self) -> impl Iterator<Item = (&'a str, &'a str)> + use<'a> {
        let mut it = self.extensions.split(' ').filter(|t| !t.is_empty());
        core::iter::from_fn(move || Some((it.next()?, it.next()?)))
    }

    /// The value of one extension attribute (`generation`, `ufrag`, `network-id`, `network-cost`, …).
    #[must_use]
    pub fn extension(&self, name: &str) -> Option<&'a str> {
        self.extension_pairs().find(|&(n, _)| n == name).map(|(_, v)| v)
    }

    /// An `a=candidate` attribute holding this candidate.
    #[must_use]
    pub fn to_attribute(&self) -> Attribute<'static> {
        Attribute::new("candidate", Some(Cow::Owned(self.to_string())))
    }
}

/// The byte index just after the `n`th space of `s`, if there are that many.
fn nth_space_end(s: &str, n: usize) -> Option<usize> {
    s.bytes().enumerate().filter(|&(_, b)| b == b' ').nth(n.checked_sub(1)?).map(|(i, _)| i + 1)
}

/// Writes the attribute value (without the `candidate:` prefix).
impl fmt::Display for CandidateAttribute<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {} {} typ {}",
            self.foundation,
            self.component,
            self.transport.as_str(),
            self.priority,
            self.address,
            self.port,
            self.kind.as_str()
        )?;
        if let Some(addr) = &self.related_address {
            write!(f, " raddr {addr}")?;
        }
        if let Some(port) = self.related_port {
            write!(f, " rport {port}")?;
        }
        if !self.extensions.is_empty() {
            write!(f, " {}", self.extensions)?;
        } else if let Some(t) = self.tcp_type {
            let t = match t {
                TcpType::Active => "active",
                TcpType::Passive => "passive",
                TcpType::So => "so",
                TcpType::Other(s) => s,
            };
            write!(f, " tcptype {t}")?;
        }
        Ok(())
    }
}
