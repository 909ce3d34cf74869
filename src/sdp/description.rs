//! The typed session description, its attribute list with typed accessors, and the writer.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::ops::Deref;

use super::attr::{self, Direction, ExtMap, Fingerprint, Fmtp, Group, Msid, RtcpFb, RtpMap, Setup, Ssrc, SsrcGroup};
use super::candidate::CandidateAttribute;

fn own(c: Cow<'_, str>) -> Cow<'static, str> {
    Cow::Owned(c.into_owned())
}

/// `o=` (RFC 8866 §5.2): `username sess-id sess-version nettype addrtype unicast-address`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin<'a> {
    /// `-` when there is none (browsers).
    pub username: Cow<'a, str>,
    /// Session id, digits.
    pub session_id: Cow<'a, str>,
    /// Session version, digits; an updated description increments it.
    pub session_version: Cow<'a, str>,
    /// `IN`.
    pub nettype: Cow<'a, str>,
    /// `IP4` or `IP6`.
    pub addrtype: Cow<'a, str>,
    /// An address or name; browsers write `127.0.0.1` or `0.0.0.0`.
    pub address: Cow<'a, str>,
}

impl Origin<'_> {
    /// The session version as a number, if it fits a `u64`.
    #[must_use]
    pub fn session_version_number(&self) -> Option<u64> {
        attr::parse_decimal(&self.session_version, u64::MAX)
    }

    /// The same, owning its text.
    #[must_use]
    pub fn into_owned(self) -> Origin<'static> {
        Origin {
            username: own(self.username),
            session_id: own(self.session_id),
            session_version: own(self.session_version),
            nettype: own(self.nettype),
            addrtype: own(self.addrtype),
            address: own(self.address),
        }
    }
}

/// `c=` (RFC 8866 §5.7): `nettype addrtype connection-address`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection<'a> {
    /// `IN`.
    pub nettype: Cow<'a, str>,
    /// `IP4` or `IP6`.
    pub addrtype: Cow<'a, str>,
    /// The address (with `/ttl[/count]` for multicast), as written.
    pub address: Cow<'a, str>,
}

impl Connection<'_> {
    /// `IN IP4 0.0.0.0`, the placeholder JSEP (RFC 8829 §5.2.1) writes before candidates are known.
    #[must_use]
    pub fn unspecified_ip4() -> Connection<'static> {
        Connection { nettype: Cow::Borrowed("IN"), addrtype: Cow::Borrowed("IP4"), address: Cow::Borrowed("0.0.0.0") }
    }

    /// The same, owning its text.
    #[must_use]
    pub fn into_owned(self) -> Connection<'static> {
        Connection { nettype: own(self.nettype), addrtype: own(self.addrtype), address: own(self.address) }
    }
}

/// `b=` (RFC 8866 §5.8): `bwtype:bandwidth`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bandwidth<'a> {
    /// `AS`, `CT`, `TIAS`, …
    pub bwtype: Cow<'a, str>,
    /// The value (kilobits per second for `AS`/`CT`, bits for `TIAS`).
    pub bandwidth: u64,
}

/// `t=` (RFC 8866 §5.9) and the `r=` lines that follow it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timing<'a> {
    /// Start time (NTP seconds; 0 for unbounded, as WebRTC writes).
    pub start: u64,
    /// Stop time.
    pub stop: u64,
    /// `r=` values, as written.
    pub repeats: Vec<Cow<'a, str>>,
}

/// One `a=` line: a name and, after a colon, an optional value, both exactly as written (so unknown
/// attributes, and odd spacing such as Chromium's `a=msid-semantic: WMS`, survive a round trip).
#[derive(Clone, Debug)]
pub struct Attribute<'a> {
    /// The attribute name.
    pub name: Cow<'a, str>,
    /// The text after the first colon, if there was a colon.
    pub value: Option<Cow<'a, str>>,
    pub(crate) line: u32,
}

/// Compares names and values; the source line is not part of an attribute's identity.
impl PartialEq for Attribute<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.value == other.value
    }
}

impl Eq for Attribute<'_> {}

impl<'a> Attribute<'a> {
    /// A new attribute (`a=name` or `a=name:value`).
    pub fn new(name: impl Into<Cow<'a, str>>, value: Option<Cow<'a, str>>) -> Self {
        Self { name: name.into(), value, line: 0 }
    }

    /// A flag attribute (`a=rtcp-mux`).
    pub fn flag(name: impl Into<Cow<'a, str>>) -> Self {
        Self::new(name, None)
    }

    /// A name/value attribute.
    pub fn with_value(name: impl Into<Cow<'a, str>>, value: impl Into<Cow<'a, str>>) -> Self {
        Self::new(name, Some(value.into()))
    }

    /// The 1-based line it was parsed from; 0 if it was built.
    #[must_use]
    pub fn line(&self) -> u32 {
        self.line
    }

    /// The value, or `""` for a flag.
    #[must_use]
    pub fn value_str(&self) -> &str {
        self.value.as_deref().unwrap_or_default()
    }

    /// The same, owning its text.
    #[must_use]
    pub fn into_owned(self) -> Attribute<'static> {
        Attribute { name: own(self.name), value: self.value.map(own), line: self.line }
    }
}

/// The attributes of a session or an m-section, in order, with typed accessors for what WebRTC uses.
///
/// Accessors return typed views borrowed from the list. They skip values that do not parse; a parsed
/// description has none (the parser rejects them), but a hand-edited list may.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttributeList<'a>(pub(crate) Vec<Attribute<'a>>);

impl<'a> Deref for AttributeList<'a> {
    type Target = [Attribute<'a>];
    fn deref(&self) -> &[Attribute<'a>] {
        &self.0
    }
}

impl<'a> FromIterator<Attribute<'a>> for AttributeList<'a> {
    fn from_iter<I: IntoIterator<Item = Attribute<'a>>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl<'a> AttributeList<'a> {
    /// An empty list.
    #[must_use]
    pub const fn new() -> Self {
        Self(Vec::new())
    }

    /// Appends an attribute.
    pub fn push(&mut self, attribute: Attribute<'a>) {
        self.0.push(attribute);
    }

    /// The attributes as a vector, to insert, reorder or remove freely.
    pub fn as_mut_vec(&mut self) -> &mut Vec<Attribute<'a>> {
        &mut self.0
    }

    /// Removes every attribute named `name`.
    pub fn remove_all(&mut self, name: &str) {
        self.0.retain(|a| a.name != name);
    }

    /// The first attribute named `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Attribute<'a>> {
        self.0.iter().find(|a| a.name == name)
    }

    /// The value of the first attribute named `name` (`""` for a flag).
    #[must_use]
    pub fn value(&self, name: &str) -> Option<&str> {
        self.get(name).map(Attribute::value_str)
    }

    /// Whether an attribute named `name` is present.
    #[must_use]
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The values of every attribute named `name`, in order.
    pub fn values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.0.iter().filter(move |a| a.name == name).map(Attribute::value_str)
    }

    /// `a=mid`.
    #[must_use]
    pub fn mid(&self) -> Option<&str> {
        self.value("mid")
    }

    /// `a=setup`.
    #[must_use]
    pub fn setup(&self) -> Option<Setup> {
        self.value("setup").and_then(|v| Setup::parse(v).ok())
    }

    /// Every `a=fingerprint`, in order.
    pub fn fingerprints(&self) -> impl Iterator<Item = Fingerprint<'_>> {
        self.values("fingerprint").filter_map(|v| Fingerprint::parse(v).ok())
    }

    /// `a=ice-ufrag`.
    #[must_use]
    pub fn ice_ufrag(&self) -> Option<&str> {
        self.value("ice-ufrag")
    }

    /// `a=ice-pwd`.
    #[must_use]
    pub fn ice_pwd(&self) -> Option<&str> {
        self.value("ice-pwd")
    }

    /// The tags of every `a=ice-options` (`trickle`, `ice2`, …).
    pub fn ice_options(&self) -> impl Iterator<Item = &str> {
        self.values("ice-options").flat_map(|v| v.split(' ')).filter(|t| !t.is_empty())
    }

    /// `a=ice-lite` (RFC 8839 §5.3; session level).
    #[must_use]
    pub fn ice_lite(&self) -> bool {
        self.has("ice-lite")
    }

    /// Every `a=candidate`, in order.
    pub fn candidates(&self) -> impl Iterator<Item = CandidateAttribute<'_>> {
        self.values("candidate").filter_map(|v| CandidateAttribute::parse(v).ok())
    }

    /// `a=end-of-candidates` (RFC 8840 §8.2).
    #[must_use]
    pub fn end_of_candidates(&self) -> bool {
        self.has("end-of-candidates")
    }

    /// `a=rtcp-mux` (RFC 5761 §5.1.1).
    #[must_use]
    pub fn rtcp_mux(&self) -> bool {
        self.has("rtcp-mux")
    }

    /// `a=rtcp-rsize` (RFC 5506 §5).
    #[must_use]
    pub fn rtcp_rsize(&self) -> bool {
        self.has("rtcp-rsize")
    }

    /// `a=sctp-port` (RFC 8841 §5).
    #[must_use]
    pub fn sctp_port(&self) -> Option<u16> {
        self.value("sctp-port")
            .and_then(|v| attr::parse_decimal(v, u16::MAX.into()))
            .and_then(|v| u16::try_from(v).ok())
    }

    /// `a=max-message-size` (RFC 8841 §6); 0 means no limit.
    #[must_use]
    pub fn max_message_size(&self) -> Option<u64> {
        self.value("max-message-size").and_then(|v| attr::parse_decimal(v, u64::MAX))
    }

    /// The first direction attribute (`sendrecv`, `sendonly`, `recvonly`, `inactive`).
    #[must_use]
    pub fn direction(&self) -> Option<Direction> {
        self.0.iter().find_map(|a| Direction::from_name(&a.name))
    }

    /// Every `a=rtpmap`.
    pub fn rtpmaps(&self) -> impl Iterator<Item = RtpMap<'_>> {
        self.values("rtpmap").filter_map(|v| RtpMap::parse(v).ok())
    }

    /// Every `a=fmtp`.
    pub fn fmtps(&self) -> impl Iterator<Item = Fmtp<'_>> {
        self.values("fmtp").filter_map(|v| Fmtp::parse(v).ok())
    }

    /// Every `a=rtcp-fb`.
    pub fn rtcp_fbs(&self) -> impl Iterator<Item = RtcpFb<'_>> {
        self.values("rtcp-fb").filter_map(|v| RtcpFb::parse(v).ok())
    }

    /// Every `a=extmap`.
    pub fn extmaps(&self) -> impl Iterator<Item = ExtMap<'_>> {
        self.values("extmap").filter_map(|v| ExtMap::parse(v).ok())
    }

    /// Every `a=ssrc`.
    pub fn ssrcs(&self) -> impl Iterator<Item = Ssrc<'_>> {
        self.values("ssrc").filter_map(|v| Ssrc::parse(v).ok())
    }

    /// Every `a=ssrc-group`.
    pub fn ssrc_groups(&self) -> impl Iterator<Item = SsrcGroup<'_>> {
        self.values("ssrc-group").filter_map(|v| SsrcGroup::parse(v).ok())
    }

    /// Every `a=msid`.
    pub fn msids(&self) -> impl Iterator<Item = Msid<'_>> {
        self.values("msid").filter_map(|v| Msid::parse(v).ok())
    }

    /// Every `a=group`.
    pub fn groups(&self) -> impl Iterator<Item = Group<'_>> {
        self.values("group").filter_map(|v| Group::parse(v).ok())
    }

    /// The first `a=group:BUNDLE` (RFC 9143 §7.2).
    #[must_use]
    pub fn bundle_group(&self) -> Option<Group<'_>> {
        self.groups().find(Group::is_bundle)
    }

    /// `a=rid` values, raw (RFC 8851).
    pub fn rids(&self) -> impl Iterator<Item = &str> {
        self.values("rid")
    }

    /// `a=simulcast`, raw (RFC 8853).
    #[must_use]
    pub fn simulcast(&self) -> Option<&str> {
        self.value("simulcast")
    }

    /// The same, owning its text.
    #[must_use]
    pub fn into_owned(self) -> AttributeList<'static> {
        AttributeList(self.0.into_iter().map(Attribute::into_owned).collect())
    }
}

/// What an m-section carries (RFC 8866 §5.14 `media`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MediaKind<'a> {
    /// `audio`.
    Audio,
    /// `video`.
    Video,
    /// `application` (data channels).
    Application,
    /// `text`.
    Text,
    /// `message`.
    Message,
    /// Anything else, as written; answered by rejecting it.
    Other(&'a str),
}

/// One m-section: the `m=` line and the lines under it (RFC 8866 §5.14).
#[derive(Clone, Debug)]
pub struct MediaDescription<'a> {
    /// `audio`, `video`, `application`, or another token.
    pub media: Cow<'a, str>,
    /// The transport port; 0 rejects the section (unless `a=bundle-only`, RFC 8843 §6).
    pub port: u16,
    /// The number of ports (`port/count`), if given.
    pub port_count: Option<u16>,
    /// `UDP/TLS/RTP/SAVPF`, `UDP/DTLS/SCTP`, …
    pub proto: Cow<'a, str>,
    /// The formats, separated by single spaces as written (`111 63 9`, `webrtc-datachannel`).
    pub formats: Cow<'a, str>,
    /// `i=`.
    pub information: Option<Cow<'a, str>>,
    /// `c=` lines.
    pub connections: Vec<Connection<'a>>,
    /// `b=` lines.
    pub bandwidths: Vec<Bandwidth<'a>>,
    /// `k=` (obsolete; kept if present).
    pub key: Option<Cow<'a, str>>,
    /// The `a=` lines, in order.
    pub attributes: AttributeList<'a>,
    pub(crate) line: u32,
}

/// Compares content; the source line is not part of a section's identity.
impl PartialEq for MediaDescription<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.media == other.media
            && self.port == other.port
            && self.port_count == other.port_count
            && self.proto == other.proto
            && self.formats == other.formats
            && self.information == other.information
            && self.connections == other.connections
            && self.bandwidths == other.bandwidths
            && self.key == other.key
            && self.attributes == other.attributes
    }
}

impl Eq for MediaDescription<'_> {}

impl<'a> MediaDescription<'a> {
    /// A section with no lines under its `m=` line.
    pub fn new(
        media: impl Into<Cow<'a, str>>,
        port: u16,
        proto: impl Into<Cow<'a, str>>,
        formats: impl Into<Cow<'a, str>>,
    ) -> Self {
        Self {
            media: media.into(),
            port,
            port_count: None,
            proto: proto.into(),
            formats: formats.into(),
            information: None,
            connections: Vec::new(),
            bandwidths: Vec::new(),
            key: None,
            attributes: AttributeList::new(),
            line: 0,
        }
    }

    /// The 1-based line of its `m=` line; 0 if it was built.
    #[must_use]
    pub fn line(&self) -> u32 {
        self.line
    }

    /// The media kind.
    #[must_use]
    pub fn kind(&self) -> MediaKind<'_> {
        match &*self.media {
            "audio" => MediaKind::Audio,
            "video" => MediaKind::Video,
            "application" => MediaKind::Application,
            "text" => MediaKind::Text,
            "message" => MediaKind::Message,
            other => MediaKind::Other(other),
        }
    }

    /// The formats, in order.
    pub fn formats(&self) -> impl Iterator<Item = &str> {
        self.formats.split(' ').filter(|f| !f.is_empty())
    }

    /// `a=mid`.
    #[must_use]
    pub fn mid(&self) -> Option<&str> {
        self.attributes.mid()
    }

    /// Whether the section is rejected: port 0 without `a=bundle-only` (RFC 3264 §6, RFC 8843 §6).
    #[must_use]
    pub fn is_rejected(&self) -> bool {
        self.port == 0 && !self.attributes.has("bundle-only")
    }

    /// Whether it is a WebRTC data channel section (`application`, `UDP/DTLS/SCTP` or `TCP/DTLS/SCTP`,
    /// `webrtc-datachannel`; RFC 8841 §4).
    #[must_use]
    pub fn is_data_channel(&self) -> bool {
        self.kind() == MediaKind::Application
            && matches!(&*self.proto, "UDP/DTLS/SCTP" | "TCP/DTLS/SCTP")
            && self.formats().any(|f| f == "webrtc-datachannel")
    }

    /// Whether it carries RTP (its proto names RTP: `UDP/TLS/RTP/SAVPF`, `RTP/AVP`, …).
    #[must_use]
    pub fn is_rtp(&self) -> bool {
        self.proto.split('/').any(|p| p == "RTP")
    }

    /// The same, owning its text.
    #[must_use]
    pub fn into_owned(self) -> MediaDescription<'static> {
        MediaDescription {
            media: own(self.media),
            port: self.port,
            port_count: self.port_count,
            proto: own(self.proto),
            formats: own(self.formats),
            information: self.information.map(own),
            connections: self.connections.into_iter().map(Connection::into_owned).collect(),
            bandwidths: self
                .bandwidths
                .into_iter()
                .map(|b| Bandwidth { bwtype: own(b.bwtype), bandwidth: b.bandwidth })
                .collect(),
            key: self.key.map(own),
            attributes: self.attributes.into_owned(),
            line: self.line,
        }
    }

    fn write_to<W: fmt::Write>(&self, w: &mut W) -> fmt::Result {
        write!(w, "m={} {}", self.media, self.port)?;
        if let Some(count) = self.port_count {
            write!(w, "/{count}")?;
        }
        write!(w, " {} {}\r\n", self.proto, self.formats)?;
        if let Some(i) = &self.information {
            write!(w, "i={i}\r\n")?;
        }
        for c in &self.connections {
            write_connection(w, c)?;
        }
        for b in &self.bandwidths {
            write!(w, "b={}:{}\r\n", b.bwtype, b.bandwidth)?;
        }
        if let Some(k) = &self.key {
            write!(w, "k={k}\r\n")?;
        }
        write_attributes(w, &self.attributes)
    }
}

/// A session description (RFC 8866 §5): session-level lines, attributes, and m-sections.
///
/// `v=` is always `0` and is not stored. Parse with [`SessionDescription::parse`]; write with
/// [`SessionDescription::write_to`] or `Display` (CRLF line endings, lines in RFC 8866 order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionDescription<'a> {
    /// `o=`.
    pub origin: Origin<'a>,
    /// `s=` (browsers write `-`).
    pub session_name: Cow<'a, str>,
    /// `i=`.
    pub information: Option<Cow<'a, str>>,
    /// `u=`.
    pub uri: Option<Cow<'a, str>>,
    /// `e=` lines.
    pub emails: Vec<Cow<'a, str>>,
    /// `p=` lines.
    pub phones: Vec<Cow<'a, str>>,
    /// Session-level `c=`.
    pub connection: Option<Connection<'a>>,
    /// Session-level `b=` lines.
    pub bandwidths: Vec<Bandwidth<'a>>,
    /// `t=` lines, each with its `r=` lines; at least one.
    pub timings: Vec<Timing<'a>>,
    /// `z=`, as written.
    pub time_zones: Option<Cow<'a, str>>,
    /// Session-level `k=` (obsolete; kept if present).
    pub key: Option<Cow<'a, str>>,
    /// Session-level `a=` lines, in order.
    pub attributes: AttributeList<'a>,
    /// The m-sections, in order.
    pub media: Vec<MediaDescription<'a>>,
}

impl SessionDescription<'_> {
    /// Writes the description: one CRLF-terminated line each, in RFC 8866 §5 order.
    pub fn write_to<W: fmt::Write>(&self, w: &mut W) -> fmt::Result {
        w.write_str("v=0\r\n")?;
        let o = &self.origin;
        write!(
            w,
            "o={} {} {} {} {} {}\r\n",
            o.username, o.session_id, o.session_version, o.nettype, o.addrtype, o.address
        )?;
        write!(w, "s={}\r\n", self.session_name)?;
        if let Some(i) = &self.information {
            write!(w, "i={i}\r\n")?;
        }
        if let Some(u) = &self.uri {
            write!(w, "u={u}\r\n")?;
        }
        for e in &self.emails {
            write!(w, "e={e}\r\n")?;
        }
        for p in &self.phones {
            write!(w, "p={p}\r\n")?;
        }
        if let Some(c) = &self.connection {
            write_connection(w, c)?;
        }
        for b in &self.bandwidths {
            write!(w, "b={}:{}\r\n", b.bwtype, b.bandwidth)?;
        }
        for t in &self.timings {
            write!(w, "t={} {}\r\n", t.start, t.stop)?;
            for r in &t.repeats {
                write!(w, "r={r}\r\n")?;
            }
        }
        if let Some(z) = &self.time_zones {
            write!(w, "z={z}\r\n")?;
        }
        if let Some(k) = &self.key {
            write!(w, "k={k}\r\n")?;
        }
        write_attributes(w, &self.attributes)?;
        for m in &self.media {
            m.write_to(w)?;
        }
        Ok(())
    }

    /// The description as a string (what `to_string()` gives, with the length reserved up front).
    #[must_use]
    pub fn to_sdp_string(&self) -> String {
        let mut s = String::with_capacity(256 + 512 * self.media.len());
        // Writing into a String cannot fail.
        let _ = self.write_to(&mut s);
        s
    }

    /// The same, owning its text (for keeping a remote description after its buffer is gone).
    #[must_use]
    pub fn into_owned(self) -> SessionDescription<'static> {
        SessionDescription {
            origin: self.origin.into_owned(),
            session_name: own(self.session_name),
            information: self.information.map(own),
            uri: self.uri.map(own),
            emails: self.emails.into_iter().map(own).collect(),
            phones: self.phones.into_iter().map(own).collect(),
            connection: self.connection.map(Connection::into_owned),
            bandwidths: self
                .bandwidths
                .into_iter()
                .map(|b| Bandwidth { bwtype: own(b.bwtype), bandwidth: b.bandwidth })
                .collect(),
            timings: self
                .timings
                .into_iter()
                .map(|t| Timing { start: t.start, stop: t.stop, repeats: t.repeats.into_iter().map(own).collect() })
                .collect(),
            time_zones: self.time_zones.map(own),
            key: self.key.map(own),
            attributes: self.attributes.into_owned(),
            media: self.media.into_iter().map(MediaDescription::into_owned).collect(),
        }
    }

    /// The m-section with this mid.
    #[must_use]
    pub fn media_by_mid(&self, mid: &str) -> Option<&MediaDescription<'_>> {
        self.media.iter().find(|m| m.mid() == Some(mid))
    }

    /// The mids of the session's BUNDLE group, in order (empty without one).
    pub fn bundle_mids(&self) -> impl Iterator<Item = &str> {
        self.attributes.bundle_group().into_iter().flat_map(|g| g.mids())
    }

    /// The fingerprints that apply to an m-section: its own, or else the session's (RFC 8122 §5).
    pub fn fingerprints_for<'s>(&'s self, media: &'s MediaDescription<'_>) -> impl Iterator<Item = Fingerprint<'s>> {
        let own = media.attributes.has("fingerprint");
        let list = if own { &media.attributes.0 } else { &self.attributes.0 };
        list.iter().filter(|a| a.name == "fingerprint").filter_map(|a| Fingerprint::parse(a.value_str()).ok())
    }

    /// The ICE credentials that apply to an m-section: its own, or else the session's (RFC 8839 §5.4).
    #[must_use]
    pub fn ice_credentials_for<'s>(&'s self, media: &'s MediaDescription<'_>) -> Option<(&'s str, &'s str)> {
        let ufrag = media.attributes.ice_ufrag().or_else(|| self.attributes.ice_ufrag())?;
        let pwd = media.attributes.ice_pwd().or_else(|| self.attributes.ice_pwd())?;
        Some((ufrag, pwd))
    }

    /// The setup role that applies to an m-section: its own, or else the session's.
    #[must_use]
    pub fn setup_for(&self, media: &MediaDescription<'_>) -> Option<Setup> {
        media.attributes.setup().or_else(|| self.attributes.setup())
    }
}

impl fmt::Display for SessionDescription<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_to(f)
    }
}

fn write_connection<W: fmt::Write>(w: &mut W, c: &Connection<'_>) -> fmt::Result {
    write!(w, "c={} {} {}\r\n", c.nettype, c.addrtype, c.address)
}

fn write_attributes<W: fmt::Write>(w: &mut W, attributes: &AttributeList<'_>) -> fmt::Result {
    for a in attributes.iter() {
        w.write_str("a=")?;
        w.write_str(&a.name)?;
        if let Some(v) = &a.value {
            w.write_char(':')?;
            w.write_str(v)?;
        }
        w.write_str("\r\n")?;
    }
    Ok(())
}
