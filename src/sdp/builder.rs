//! Building the descriptions sansrtc sends: offers and answers for a data channel, with other m-sections
//! rejected.

use alloc::borrow::Cow;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::attr::{Fingerprint, Setup};
use super::candidate::CandidateAttribute;
use super::description::{Attribute, AttributeList, Connection, MediaDescription, Origin, SessionDescription, Timing};

/// The ICE and DTLS parameters JSEP (RFC 8829 §5.2.1, §5.3.1) writes into every m-section that is not
/// rejected.
#[derive(Clone, Copy, Debug)]
pub struct TransportParams<'s> {
    /// `a=ice-ufrag`: 4–256 ice-chars.
    pub ice_ufrag: &'s str,
    /// `a=ice-pwd`: 22–256 ice-chars.
    pub ice_pwd: &'s str,
    /// `a=ice-options` tags (`trickle`); none writes no line.
    pub ice_options: &'s [&'s str],
    /// `a=fingerprint` lines: the local certificate's digest(s).
    pub fingerprints: &'s [Fingerprint<'s>],
    /// `a=setup`: `actpass` in an offer, `active` or `passive` in an answer.
    pub setup: Setup,
}

/// The data channel section's SCTP parameters (RFC 8841).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SctpParams {
    /// `a=sctp-port`; 5000 by convention.
    pub port: u16,
    /// `a=max-message-size`, if advertised (peers assume 65536 without it; 0 means unlimited).
    pub max_message_size: Option<u64>,
}

impl Default for SctpParams {
    fn default() -> Self {
        Self { port: 5000, max_message_size: Some(262_144) }
    }
}

/// Builds a [`SessionDescription`] in the shape browsers expect (JSEP, RFC 8829 §5.2–5.3):
///
/// - `v=0`, `o=- <session id> <version> IN IP4 127.0.0.1`, `s=-`, `t=0 0`;
/// - `a=group:BUNDLE` over every m-section that is not rejected (RFC 9143), unless turned off;
/// - `a=ice-lite` at session level when asked for;
/// - for a data channel: `m=application 9 UDP/DTLS/SCTP webrtc-datachannel`, `c=IN IP4 0.0.0.0`, then
///   `a=ice-ufrag`, `a=ice-pwd`, `a=ice-options`, `a=fingerprint`, `a=setup`, `a=mid`, `a=sctp-port`,
///   `a=max-message-size`;
/// - candidates and `a=end-of-candidates` in the first m-section that is not rejected (the one that
///   carries the BUNDLE transport);
/// - rejected m-sections mirroring the remote one with port 0, `c=IN IP4 0.0.0.0` and its mid.
///
/// Port 9 and `0.0.0.0` are the JSEP placeholders when the transport is described by the candidates
/// (RFC 8829 §5.2.1); browsers accept them in complete descriptions too.
///
/// ```
/// use sansrtc::sdp::{DescriptionBuilder, Fingerprint, HashFunction, SctpParams, SdpType, SessionDescription, Setup, TransportParams};
///
/// let fingerprint = Fingerprint::new(HashFunction::Sha256, &[0xAB; 32]).unwrap();
/// let transport = TransportParams {
///     ice_ufrag: "abcd",
///     ice_pwd: "0123456789abcdefghijkl",
///     ice_options: &["trickle"],
///     fingerprints: &[fingerprint],
///     setup: Setup::ActPass,
/// };
/// let offer = DescriptionBuilder::new(1, 1).data_channel("0", &transport, SctpParams::default()).build();
/// let text = offer.to_string();
/// let parsed = SessionDescription::parse(&text).unwrap();
/// parsed.validate_webrtc(SdpType::Offer).unwrap();
/// assert_eq!(parsed, offer);
/// ```
#[derive(Clone, Debug)]
pub struct DescriptionBuilder {
    sdp: SessionDescription<'static>,
    bundle: bool,
    candidates: Vec<Attribute<'static>>,
    end_of_candidates: bool,
}

fn owned(s: &str) -> Cow<'static, str> {
    Cow::Owned(String::from(s))
}

impl DescriptionBuilder {
    /// A description with no m-sections. `session_id` should be random and kept for the connection's
    /// life; `session_version` goes up by one each time the description changes (RFC 8829 §5.2.1).
    #[must_use]
    pub fn new(session_id: u64, session_version: u64) -> Self {
        let sdp = SessionDescription {
            origin: Origin {
                username: Cow::Borrowed("-"),
                session_id: Cow::Owned(session_id.to_string()),
                session_version: Cow::Owned(session_version.to_string()),
                nettype: Cow::Borrowed("IN"),
                addrtype: Cow::Borrowed("IP4"),
                address: Cow::Borrowed("127.0.0.1"),
            },
            session_name: Cow::Borrowed("-"),
            information: None,
            uri: None,
            emails: Vec::new(),
            phones: Vec::new(),
            connection: None,
            bandwidths: Vec::new(),
            timings: alloc::vec![Timing { start: 0, stop: 0, repeats: Vec::new() }],
            time_zones: None,
            key: None,
            attributes: AttributeList::new(),
            media: Vec::new(),
        };
        Self { sdp, bundle: true, candidates: Vec::new(), end_of_candidates: false }
    }

    /// Writes `a=ice-lite` at session level (RFC 8839 §5.3).
    #[must_use]
    pub fn ice_lite(mut self) -> Self {
        if !self.sdp.attributes.ice_lite() {
            self.sdp.attributes.push(Attribute::flag("ice-lite"));
        }
        self
    }

    /// Whether to write `a=group:BUNDLE` (on by default).
    #[must_use]
    pub fn bundle(mut self, on: bool) -> Self {
        self.bundle = on;
        self
    }

    /// Adds a data channel m-section (RFC 8841 §4).
    #[must_use]
    pub fn data_channel(mut self, mid: &str, transport: &TransportParams<'_>, sctp: SctpParams) -> Self {
        let mut m = MediaDescription::new("application", 9, "UDP/DTLS/SCTP", "webrtc-datachannel");
        m.connections.push(Connection::unspecified_ip4());
        let a = &mut m.attributes;
        a.push(Attribute::with_value("ice-ufrag", owned(transport.ice_ufrag)));
        a.push(Attribute::with_value("ice-pwd", owned(transport.ice_pwd)));
        if !transport.ice_options.is_empty() {
            a.push(Attribute::with_value("ice-options", transport.ice_options.join(" ")));
        }
        for f in transport.fingerprints {
            a.push(Attribute::with_value("fingerprint", f.to_string()));
        }
        a.push(Attribute::with_value("setup", transport.setup.as_str()));
        a.push(Attribute::with_value("mid", owned(mid)));
        a.push(Attribute::with_value("sctp-port", sctp.port.to_string()));
        if let Some(size) = sctp.max_message_size {
            a.push(Attribute::with_value("max-message-size", size.to_string()));
        }
        self.sdp.media.push(m);
        self
    }

    /// Adds a rejected m-section answering `remote`: the same media, proto and formats with port 0, and
    /// its mid (RFC 3264 §6, RFC 8829 §5.3.1). Works for any m-line, known or not.
    #[must_use]
    pub fn rejected(self, remote: &MediaDescription<'_>) -> Self {
        self.rejected_section(&remote.media, &remote.proto, &remote.formats, remote.mid())
    }

    /// Adds a rejected m-section from its parts.
    #[must_use]
    pub fn rejected_section(mut self, media: &str, proto: &str, formats: &str, mid: Option<&str>) -> Self {
        let mut m = MediaDescription::new(owned(media), 0, owned(proto), owned(formats));
        m.connections.push(Connection::unspecified_ip4());
        if let Some(mid) = mid {
            m.attributes.push(Attribute::with_value("mid", owned(mid)));
        }
        self.sdp.media.push(m);
        self
    }

    /// Adds an m-section built by the caller (audio and video, later), as is.
    #[must_use]
    pub fn section(mut self, media: MediaDescription<'static>) -> Self {
        self.sdp.media.push(media);
        self
    }

    /// Adds a local candidate.
    #[must_use]
    pub fn candidate(mut self, candidate: &CandidateAttribute<'_>) -> Self {
        self.candidates.push(candidate.to_attribute());
        self
    }

    /// Writes `a=end-of-candidates` after the candidates: gathering is complete (RFC 8840 §8.2).
    #[must_use]
    pub fn end_of_candidates(mut self) -> Self {
        self.end_of_candidates = true;
        self
    }

    /// Adds a session-level attribute (after the BUNDLE group and `a=ice-lite`).
    #[must_use]
    pub fn session_attribute(mut self, attribute: Attribute<'static>) -> Self {
        self.sdp.attributes.push(attribute);
        self
    }

    /// The description.
    #[must_use]
    pub fn build(mut self) -> SessionDescription<'static> {
        if self.bundle {
            let mut value = String::from("BUNDLE");
            for mid in self.sdp.media.iter().filter(|m| !m.is_rejected()).filter_map(MediaDescription::mid) {
                value.push(' ');
                value.push_str(mid);
            }
            self.sdp.attributes.0.insert(0, Attribute::with_value("group", value));
        }
        if let Some(first) = self.sdp.media.iter_mut().find(|m| !m.is_rejected()) {
            first.attributes.0.extend(self.candidates);
            if self.end_of_candidates {
                first.attributes.push(Attribute::flag("end-of-candidates"));
            }
        }
        self.sdp
    }
}
