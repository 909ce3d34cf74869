//! Whether a parsed description is usable for WebRTC: the checks Chromium's `setRemoteDescription`
//! makes, so that a description sansrtc accepts is one a browser would too, and the other way round.

use super::attr::{self, Setup};
use super::description::SessionDescription;
use super::error::{SdpError, SdpErrorKind};

/// Whether a description is an offer or an answer (JSEP, RFC 8829 §4.1.8); the rules for `a=setup`
/// differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SdpType {
    /// An offer.
    Offer,
    /// A provisional answer.
    Pranswer,
    /// A final answer.
    Answer,
}

impl SessionDescription<'_> {
    /// Checks what WebRTC needs of every m-section that is not rejected:
    ///
    /// - a fingerprint, its own or the session's (RFC 8122 §5, RFC 8827 §6.5);
    /// - `a=ice-ufrag` of 4–256 and `a=ice-pwd` of 22–256 ice-chars, its own or the session's (RFC 8839
    ///   §5.4);
    /// - `a=setup`, if present, is `actpass`/`active`/`passive` in an offer and `active`/`passive` in an
    ///   answer (RFC 8842 §5);
    /// - with a BUNDLE group: every mid it names exists, and every bundled RTP section has `a=rtcp-mux`
    ///   (RFC 8843 §9.1); unique mids are checked by the parser.
    ///
    /// The error names the offending line: the attribute's, or the section's `m=` line when something is
    /// missing from it.
    pub fn validate_webrtc(&self, kind: SdpType) -> Result<(), SdpError> {
        let bundle = self
            .attributes
            .iter()
            .filter(|a| a.name == "group")
            .find_map(|a| attr::Group::parse(a.value_str()).ok().filter(attr::Group::is_bundle).map(|g| (a, g)));
        if let Some((group, parsed)) = bundle {
            for mid in parsed.mids() {
                if self.media_by_mid(mid).is_none() {
                    return Err(SdpError::new(group.line(), SdpErrorKind::UnknownBundleMid));
                }
            }
        }
        let bundled = |mid: Option<&str>| mid.is_some_and(|mid| self.bundle_mids().any(|b| b == mid));

        for media in self.media.iter().filter(|m| !m.is_rejected()) {
            let at = |kind| SdpError::new(media.line(), kind);
            if self.fingerprints_for(media).next().is_none() {
                return Err(at(SdpErrorKind::MissingFingerprint));
            }
            let ufrag = media.attributes.get("ice-ufrag").or_else(|| self.attributes.get("ice-ufrag"));
            let ufrag = ufrag.ok_or(at(SdpErrorKind::MissingIceUfrag))?;
            attr::check_ice_ufrag(ufrag.value_str()).map_err(|k| SdpError::new(ufrag.line(), k))?;
            let pwd = media.attributes.get("ice-pwd").or_else(|| self.attributes.get("ice-pwd"));
            let pwd = pwd.ok_or(at(SdpErrorKind::MissingIcePwd))?;
            attr::check_ice_pwd(pwd.value_str()).map_err(|k| SdpError::new(pwd.line(), k))?;

            let setup = media.attributes.get("setup").or_else(|| self.attributes.get("setup"));
            if let Some(setup) = setup {
                let value = Setup::parse(setup.value_str()).map_err(|k| SdpError::new(setup.line(), k))?;
                let allowed = match kind {
                    SdpType::Offer => value != Setup::HoldConn,
                    SdpType::Answer | SdpType::Pranswer => matches!(value, Setup::Active | Setup::Passive),
                };
                if !allowed {
                    return Err(SdpError::new(setup.line(), SdpErrorKind::BadSetup));
                }
            }

            if bundle.is_some() && media.mid().is_none() {
                return Err(at(SdpErrorKind::MissingMid));
            }
            if media.is_rtp() && bundled(media.mid()) && !media.attributes.rtcp_mux() {
                return Err(at(SdpErrorKind::MissingRtcpMux));
            }
        }
        Ok(())
    }
}
