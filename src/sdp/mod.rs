//! SDP (RFC 8866): parsing, writing, WebRTC validation, and building offers and answers.
//!
//! ```
//! use sansrtc::sdp::{SdpType, SessionDescription, Setup};
//!
//! let text = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n\
//!             m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n\
//!             a=ice-ufrag:k3yy\r\na=ice-pwd:BQ+CawKLoiKLTE3mG7dEWQyo\r\n\
//!             a=fingerprint:sha-256 EA:4B:8F:2A:D1:CB:19:11:CA:AF:FC:8E:42:1F:3D:98:4B:48:33:5D:5D:DC:B7:A4:1C:12:A2:B7:6D:E2:DA:C5\r\n\
//!             a=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\na=x-unknown:kept as written\r\n";
//! let sdp = SessionDescription::parse(text)?;
//! sdp.validate_webrtc(SdpType::Offer)?;
//! let m = &sdp.media[0];
//! assert!(m.is_data_channel());
//! assert_eq!(m.mid(), Some("0"));
//! assert_eq!(m.attributes.setup(), Some(Setup::ActPass));
//! assert_eq!(m.attributes.sctp_port(), Some(5000));
//! assert_eq!(sdp.bundle_mids().collect::<Vec<_>>(), ["0"]);
//! assert_eq!(sdp.to_string(), text); // byte for byte
//! # Ok::<(), sansrtc::sdp::SdpError>(())
//! ```
//!
//! # Design
//!
//! **One type, borrowed or owned.** [`SessionDescription<'a>`] holds its text as `Cow<'a, str>`.
//! [`SessionDescription::parse`] borrows every value from the input (no string is copied; the only
//! allocations are one `Vec` of attributes per section and small `Vec`s for repeated lines), and
//! [`SessionDescription::into_owned`] detaches it when the input buffer cannot be kept. The
//! [`DescriptionBuilder`] produces `SessionDescription<'static>` with owned text. One type means the
//! writer, the validator and the typed accessors serve remote and local descriptions alike, and a built
//! description can be compared with what parsing its text gives.
//!
//! **Attributes as written.** Each `a=` line is kept in order as a name and the raw text after the first
//! colon ([`Attribute`]), so unknown attributes and unusual spacing survive a parse → write round trip
//! byte for byte. The parser still checks every attribute WebRTC relies on (see [`AttributeKind`]) and
//! fails on a malformed one with its line number; the typed accessors of [`AttributeList`] (`mid`,
//! `setup`, `fingerprints`, `candidates`, `ice_ufrag`, `sctp_port`, `rtpmaps`, `extmaps`, …) parse again
//! on demand, borrowing, which is cheap and keeps a single source of truth.
//!
//! **Strict where WebRTC needs it.** Tokenised lines (`o=`, `c=`, `t=`, `m=`) must use single spaces,
//! lines must come in RFC 8866 §5 order, and unknown line types are rejected (RFC 8866 §5). That
//! strictness is what makes parse → write reproduce real SDP exactly. Input may end lines in LF or
//! CRLF; output always uses CRLF. [`ParseLimits`] bound the body size (checked first, so a 10 MB body is
//! rejected in O(1)), the line count and length, the m-sections and the attributes per section.
//! Semantic checks (fingerprints present, ICE credential lengths, BUNDLE and rtcp-mux, setup roles)
//! are a separate step, [`SessionDescription::validate_webrtc`], so a description can be inspected even
//! when it is not usable.
//!
//! **Line numbers.** Parsed attributes and m-sections remember their source line
//! ([`Attribute::line`], [`MediaDescription::line`]) so that [`SessionDescription::validate_webrtc`] can
//! name it; equality ignores it, so a built description equals what parsing its text gives.
//!
//! **Candidates stand alone.** [`CandidateAttribute`] is this module's own type (RFC 8839 §5.1); the ICE
//! agent converts to and from it, and this module does not depend on ICE.
//!
//! **Building.** [`DescriptionBuilder`] writes what the peer connection sends: session lines, the BUNDLE
//! group, a data channel section with ICE and DTLS parameters, candidates and end-of-candidates, and
//! rejected sections (port 0) answering whatever else the remote offered, including m-lines of unknown
//! media.

#![deny(clippy::indexing_slicing)]

mod attr;
mod builder;
mod candidate;
mod compact;
mod description;
mod error;
mod parse;
mod validate;

#[cfg(test)]
mod tests;

pub use attr::{
    Direction, ExtMap, Fingerprint, Fmtp, Group, HashFunction, MAX_FINGERPRINT_LEN, Msid, RtcpFb, RtpMap, Setup, Ssrc,
    SsrcGroup, check_ice_pwd, check_ice_ufrag,
};
pub use builder::{DescriptionBuilder, SctpParams, TransportParams};
pub use candidate::{CandidateAddress, CandidateAttribute, CandidateTransport, CandidateType, TcpType};
pub(crate) use compact::CompactText;
pub use description::{
    Attribute, AttributeList, Bandwidth, Connection, MediaDescription, MediaKind, Origin, SessionDescription, Timing,
};
pub use error::{AttributeKind, SdpError, SdpErrorKind};
pub use parse::ParseLimits;
pub use validate::SdpType;
