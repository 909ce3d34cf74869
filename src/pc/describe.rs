//! Between SDP and the transport: what a remote description says about ICE, DTLS and SCTP (read from its
//! BUNDLE-tag section, RFC 8843 §7), and the local descriptions' text assembled from planned sections.
//! Pure functions of their inputs; no state of the connection lives here.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::net::SocketAddr;

use super::error::Error;
use super::media::Section;
use crate::dtls::{Certificate, Fingerprint as DtlsFingerprint};
use crate::ice::{self, Candidate, CandidateKind, Credentials};
use crate::sdp::{
    Attribute, CandidateAddress, CandidateAttribute, CandidateTransport, CandidateType, DescriptionBuilder,
    Fingerprint, HashFunction, MediaDescription, SctpParams, SessionDescription, Setup, TcpType as SdpTcpType,
    TransportParams,
};

/// What a remote description says about the transport.
#[derive(Clone, Debug)]
pub(super) struct Remote {
    pub ufrag: String,
    pub pwd: String,
    pub fingerprint: DtlsFingerprint,
    pub setup: Option<Setup>,
    pub lite: bool,
    pub sctp_port: u16,
    pub max_message_size: u64,
    pub candidates: Vec<Candidate>,
    /// Candidates whose address is a `.local` name, to resolve first ([`super::mdns`]).
    pub mdns: Vec<(String, Candidate)>,
    pub end_of_candidates: bool,
    /// The mid of the section carrying the transport (the BUNDLE tag).
    pub mid: String,
}

/// What the candidates we signal hide.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Hiding<'a> {
    /// The related address (the relay policy, or hidden host addresses).
    pub related: bool,
    /// The names hiding host addresses (draft-ietf-mmusic-mdns-ice-candidates §3.1).
    pub names: Option<&'a crate::mdns::Responder>,
}

/// A local candidate in its SDP form. With `hide.related` the related address, which is our
/// server-reflexive address for a relay candidate or our host address for a server-reflexive one, is
/// replaced by `0.0.0.0`/`::` port 9 (RFC 8839 §5.1): a relay-only policy must not expose other
/// candidates through raddr/rport (RFC 8829 §3.5.3), nor may hidden host addresses leak there
/// (draft-ietf-mmusic-mdns-ice-candidates §3.1.2.2). A host candidate whose address `hide.names` hides
/// carries its `.local` name instead (§3.1.1 step 6).
pub(super) fn sdp_candidate<'a>(c: &'a Candidate, hide: Hiding<'a>) -> CandidateAttribute<'a> {
    let related = match c.related {
        Some(r) if hide.related => {
            let any: core::net::IpAddr = if r.is_ipv4() {
                core::net::Ipv4Addr::UNSPECIFIED.into()
            } else {
                core::net::Ipv6Addr::UNSPECIFIED.into()
            };
            Some(SocketAddr::new(any, 9))
        }
        r => r,
    };
    let name = hide.names.filter(|_| c.kind == CandidateKind::Host).and_then(|n| n.name_of(c.address.ip()));
    let address = match name {
        Some(name) => CandidateAddress::Fqdn(name),
        None => CandidateAddress::Ip(c.address.ip()),
    };
    CandidateAttribute {
        foundation: c.foundation.as_str(),
        component: c.component,
        transport: if c.transport.is_tcp() { CandidateTransport::Tcp } else { CandidateTransport::Udp },
        priority: c.priority,
        address,
        port: c.address.port(),
        kind: match c.kind {
            CandidateKind::Host => CandidateType::Host,
            CandidateKind::ServerReflexive => CandidateType::Srflx,
            CandidateKind::PeerReflexive => CandidateType::Prflx,
            CandidateKind::Relay => CandidateType::Relay,
        },
        related_address: related.map(|r| CandidateAddress::Ip(r.ip())),
        related_port: related.map(|r| r.port()),
        tcp_type: match c.transport {
            ice::Transport::Udp => None,
            ice::Transport::Tcp(ice::TcpType::Active) => Some(SdpTcpType::Active),
            ice::Transport::Tcp(ice::TcpType::Passive) => Some(SdpTcpType::Passive),
            ice::Transport::Tcp(ice::TcpType::SimultaneousOpen) => Some(SdpTcpType::So),
        },
        extensions: "",
    }
}

/// An ICE candidate from its SDP form; `Ok(None)` for candidates this stack does not use (transports
/// other than UDP and TCP, TCP without a `tcptype` or with simultaneous open, mDNS names, other
/// components), which are ignored as RFC 8839 §5.1 allows. TCP candidates (RFC 6544 §4.5) keep their
/// direction; Chromium's `tcptype active` ones (port 9) pair with nothing here, but tell which transport
/// its connections to a passive candidate use.
pub(super) fn ice_candidate(c: &CandidateAttribute<'_>) -> Result<Option<Candidate>, Error> {
    let transport = match (c.transport, c.tcp_type) {
        (CandidateTransport::Udp, _) => ice::Transport::Udp,
        (CandidateTransport::Tcp, Some(SdpTcpType::Active)) => ice::Transport::Tcp(ice::TcpType::Active),
        (CandidateTransport::Tcp, Some(SdpTcpType::Passive)) => ice::Transport::Tcp(ice::TcpType::Passive),
        _ => return Ok(None),
    };
    if c.component != ice::COMPONENT_RTP {
        return Ok(None);
    }
    let CandidateAddress::Ip(ip) = c.address else { return Ok(None) };
    let kind = match c.kind {
        CandidateType::Host => CandidateKind::Host,
        CandidateType::Srflx => CandidateKind::ServerReflexive,
        CandidateType::Prflx => CandidateKind::PeerReflexive,
        CandidateType::Relay => CandidateKind::Relay,
        CandidateType::Other(_) => return Ok(None),
    };
    let foundation = ice::Foundation::new(c.foundation).ok_or(Error::BadCandidate)?;
    Ok(Some(Candidate::remote(kind, SocketAddr::new(ip, c.port), c.priority, foundation).with_transport(transport)))
}

/// The first data channel section that is not rejected.
pub(super) fn data_section<'s, 'a>(sdp: &'s SessionDescription<'a>) -> Option<&'s MediaDescription<'a>> {
    sdp.media.iter().find(|m| m.is_data_channel() && !m.is_rejected())
}

/// Whether this connection can use an m-section: a data channel, or audio or video over RTP.
fn usable(m: &MediaDescription<'_>) -> bool {
    !m.is_rejected() && (m.is_data_channel() || (m.is_rtp() && matches!(&*m.media, "audio" | "video")))
}

/// The index of the section that carries the transport: the BUNDLE tag (the first mid of the BUNDLE
/// group, RFC 8843 §7.2) when it is usable, else the first usable section.
pub(super) fn transport_index(sdp: &SessionDescription<'_>) -> Option<usize> {
    let tagged = sdp.bundle_mids().next().and_then(|tag| sdp.media.iter().position(|m| m.mid() == Some(tag)));
    tagged.filter(|&i| sdp.media.get(i).is_some_and(usable)).or_else(|| sdp.media.iter().position(usable))
}

/// The transport a remote description asks for, from its transport section (and the sections bundled with
/// it, for candidates); the SCTP parameters from its data channel section, if any.
pub(super) fn parse_remote(sdp: &SessionDescription<'_>) -> Result<Remote, Error> {
    let media = transport_index(sdp).and_then(|i| sdp.media.get(i)).ok_or(Error::NoDataChannelSection)?;
    let (ufrag, pwd) = sdp.ice_credentials_for(media).ok_or(Error::BadCredentials)?;
    Credentials::new(ufrag, pwd).map_err(|_| Error::BadCredentials)?;
    let fingerprint = sdp
        .fingerprints_for(media)
        .find(|f| f.hash == HashFunction::Sha256)
        .and_then(|f| <[u8; 32]>::try_from(f.bytes()).ok())
        .map(DtlsFingerprint)
        .ok_or(Error::NoSupportedFingerprint)?;
    let mut candidates = Vec::new();
    let mut mdns = Vec::new();
    let mut end_of_candidates = sdp.attributes.end_of_candidates();
    let bundled: Vec<&str> = sdp.bundle_mids().collect();
    for m in sdp.media.iter().filter(|m| !m.is_rejected()) {
        let same_transport = core::ptr::eq(m, media) || m.mid().is_some_and(|mid| bundled.contains(&mid));
        if !same_transport {
            continue;
        }
        end_of_candidates |= m.attributes.end_of_candidates();
        for c in m.attributes.candidates() {
            if let Some((name, c)) = super::mdns::held_candidate(&c) {
                mdns.push((name.to_string(), c));
                continue;
            }
            if let Ok(Some(c)) = ice_candidate(&c) {
                if !candidates.iter().any(|k: &Candidate| k.address == c.address) {
                    crate::util::reserve_compact(&mut candidates);
                    candidates.push(c);
                }
            }
        }
    }
    let data = data_section(sdp);
    Ok(Remote {
        ufrag: ufrag.to_string(),
        pwd: pwd.to_string(),
        fingerprint,
        setup: sdp.setup_for(media),
        lite: sdp.attributes.ice_lite(),
        sctp_port: data.and_then(|d| d.attributes.sctp_port()).unwrap_or(5000),
        // RFC 8841 §6: without the attribute, 64 KiB; 0 means no limit.
        max_message_size: data.and_then(|d| d.attributes.max_message_size()).unwrap_or(65_536),
        candidates,
        mdns,
        end_of_candidates,
        mid: media.mid().unwrap_or("0").to_string(),
    })
}

/// One m-section of a local description, planned by the negotiation.
#[derive(Clone, Debug)]
pub(super) enum Planned {
    /// The data channel section, with its mid.
    Data(String),
    /// An audio or video section, with its mid.
    Media(String, Section),
    /// A rejected section, as written.
    Rejected(MediaDescription<'static>),
}

/// What a local description is made of.
pub(super) struct LocalParams<'a> {
    pub session_id: u64,
    pub session_version: u64,
    pub lite: bool,
    pub credentials: &'a Credentials,
    pub certificate: &'a Certificate,
    pub setup: Setup,
    pub max_message_size: u64,
    pub offer: bool,
    pub sections: Vec<Planned>,
    /// The BUNDLE group's mids, in order (the first is the tag, whose section carries the candidates).
    pub bundle: Vec<String>,
    pub candidates: &'a [Candidate],
    pub hide: Hiding<'a>,
    pub gathering_complete: bool,
}

/// A local offer or answer: the planned sections, each accepted one with our ICE credentials, fingerprint
/// and `a=setup` (as browsers write them, so every section validates alone), the BUNDLE group, and the
/// candidates gathered so far in the BUNDLE-tag section.
pub(super) fn local_sdp(p: LocalParams<'_>) -> String {
    let digest = p.certificate.fingerprint();
    let fingerprints = Fingerprint::new(HashFunction::Sha256, &digest.0).into_iter().collect::<Vec<_>>();
    let transport = TransportParams {
        ice_ufrag: &p.credentials.ufrag,
        ice_pwd: &p.credentials.pwd,
        ice_options: &["trickle"],
        fingerprints: &fingerprints,
        setup: p.setup,
    };
    let sctp = SctpParams { port: 5000, max_message_size: Some(p.max_message_size) };
    let mut b = DescriptionBuilder::new(p.session_id, p.session_version).bundle(false);
    if p.lite {
        b = b.ice_lite();
    }
    for s in p.sections {
        b = match s {
            Planned::Data(mid) => b.data_channel(&mid, &transport, sctp),
            Planned::Media(mid, section) => b.section(section.to_media(&mid, &transport, p.offer)),
            Planned::Rejected(m) => b.section(m),
        };
    }
    let mut sdp = b.build();
    if !p.bundle.is_empty() {
        let group = alloc::format!("BUNDLE {}", p.bundle.join(" "));
        sdp.attributes.0.insert(0, Attribute::with_value("group", group));
    }
    if let Some(m) = transport_index(&sdp).and_then(|i| sdp.media.get_mut(i)) {
        for c in p.candidates.iter().filter(|c| c.kind != CandidateKind::PeerReflexive) {
            m.attributes.push(sdp_candidate(c, p.hide).to_attribute());
        }
        if p.gathering_complete {
            m.attributes.push(Attribute::flag("end-of-candidates"));
        }
    }
    sdp.to_sdp_string()
}

/// `sdp` (a local description set earlier) with the local candidates gathered since added to its
/// transport section, and `a=end-of-candidates` once gathering is complete, as W3C `localDescription`
/// shows it.
pub(super) fn with_candidates(sdp: &str, candidates: &[Candidate], hide: Hiding<'_>, complete: bool) -> String {
    let Ok(mut parsed) = SessionDescription::parse(sdp) else { return sdp.to_string() };
    let Some(media) = transport_index(&parsed).and_then(|i| parsed.media.get_mut(i)) else {
        return sdp.to_string();
    };
    let mut changed = false;
    for c in candidates.iter().filter(|c| c.kind != CandidateKind::PeerReflexive) {
        let attribute = sdp_candidate(c, hide).to_attribute();
        if !media.attributes.contains(&attribute) {
            media.attributes.push(attribute);
            changed = true;
        }
    }
    if complete && !media.attributes.end_of_candidates() {
        media.attributes.push(Attribute::flag("end-of-candidates"));
        changed = true;
    }
    if changed { parsed.to_sdp_string() } else { sdp.to_string() }
}
