//! JSEP signalling (RFC 8829) in the W3C vocabulary: offers and answers (provisional ones too), rollback,
//! the four description getters, trickled candidates and ICE restarts. What a description asks of the
//! transport is handed to [`super::conn`]'s layers, what it says about m-sections to
//! [`super::negotiate`]; nothing here touches a datagram.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::describe::{self, LocalParams, Planned, Remote};
use super::error::Error;
use super::negotiate::{MLine, Slot, Undo};
use super::{Description, Event, SdpKind, SignalingState};
use crate::dtls;
use crate::ice::{self, Credentials};
use crate::sdp::{CandidateAttribute, CompactText, SdpType, SessionDescription, Setup};
use crate::time::Instant;

use super::conn::PeerConnection;

/// Whether the next change of the remote ICE credentials is the answer to a restart we asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Restart {
    /// No restart asked for: new remote credentials mean the peer restarted, and so do we.
    None,
    /// We restarted ([`PeerConnection::restart_ice`]): the peer's new credentials answer it.
    Local,
}

/// A description applied, kept for the W3C getters: its kind and its text, held compactly (a connection
/// reads it again only when asked for it, or to answer an offer).
#[derive(Debug)]
pub(super) struct Applied {
    pub kind: SdpKind,
    sdp: CompactText,
}

impl Applied {
    fn new(d: &Description) -> Applied {
        Applied { kind: d.kind, sdp: CompactText::new(&d.sdp) }
    }

    /// The text as applied.
    fn text(&self) -> String {
        self.sdp.text()
    }

    fn description(&self) -> Description {
        Description { kind: self.kind, sdp: self.text() }
    }
}

/// The signalling side of a connection: the JSEP state, the descriptions, and the remote transport
/// parameters they carried.
#[derive(Debug)]
pub(super) struct Signaling {
    pub state: SignalingState,
    /// The transport parameters of the remote description last applied (without its candidates, which
    /// are handed to ICE).
    pub remote: Option<Remote>,
    /// The mid of the section carrying the transport (the BUNDLE tag): what trickled candidates name.
    pub transport_mid: String,
    /// The m-lines as the last description applied left them.
    pub mlines: Vec<MLine>,
    /// The m-lines of the last offer created, until it is applied.
    pub offered: Option<Vec<MLine>>,
    /// Mids proposed for new m-lines by offers not applied yet, so that offers agree with each other.
    pub proposed: Vec<(Slot, String)>,
    /// What the pending offer changed, for a rollback.
    pub undo: Option<alloc::boxed::Box<Undo>>,
    /// The next numeric mid to try.
    pub next_mid: u32,
    /// W3C `[[NegotiationNeeded]]`.
    pub negotiation_needed: bool,
    /// The last answer accepted a data channel section.
    pub data_negotiated: bool,
    pub session_id: u64,
    pub session_version: u64,
    pub current_local: Option<Applied>,
    pub pending_local: Option<Applied>,
    pub current_remote: Option<Applied>,
    pub pending_remote: Option<Applied>,
    pub restart: Restart,
}

impl Signaling {
    pub fn new(session_id: u64) -> Self {
        Signaling {
            state: SignalingState::Stable,
            remote: None,
            transport_mid: String::from("0"),
            mlines: Vec::new(),
            offered: None,
            proposed: Vec::new(),
            undo: None,
            next_mid: 0,
            negotiation_needed: false,
            data_negotiated: false,
            session_id,
            session_version: 0,
            current_local: None,
            pending_local: None,
            current_remote: None,
            pending_remote: None,
            restart: Restart::None,
        }
    }

    /// The offer being answered (the pending remote offer).
    fn remote_offer(&self) -> Option<&Applied> {
        self.pending_remote.as_ref().filter(|d| d.kind == SdpKind::Offer)
    }

    /// An offer/answer exchange completed: the pending descriptions become current (W3C §4.4.1.5).
    fn settle(&mut self) {
        if let Some(l) = self.pending_local.take() {
            self.current_local = Some(l);
        }
        if let Some(r) = self.pending_remote.take() {
            self.current_remote = Some(r);
        }
    }
}

impl PeerConnection {
    /// The signalling state.
    pub fn signaling_state(&self) -> SignalingState {
        self.sig.state
    }

    /// W3C `localDescription`: the pending local description if there is one, else the current one, with
    /// the local candidates gathered since it was set (and `a=end-of-candidates` once gathering is
    /// complete), so a caller that does not trickle can send it once gathering completes.
    pub fn local_description(&self) -> Option<Description> {
        self.pending_local_description().or_else(|| self.current_local_description())
    }

    /// W3C `currentLocalDescription`: the local description of the last completed offer/answer exchange
    /// (with the candidates gathered since, as [`Self::local_description`]).
    pub fn current_local_description(&self) -> Option<Description> {
        self.sig.current_local.as_ref().map(|d| self.with_local_candidates(d))
    }

    /// W3C `pendingLocalDescription`: a local offer or provisional answer not yet settled.
    pub fn pending_local_description(&self) -> Option<Description> {
        self.sig.pending_local.as_ref().map(|d| self.with_local_candidates(d))
    }

    /// W3C `remoteDescription`: the pending remote description if there is one, else the current one, as
    /// it was applied.
    pub fn remote_description(&self) -> Option<Description> {
        self.sig.pending_remote.as_ref().or(self.sig.current_remote.as_ref()).map(Applied::description)
    }

    /// W3C `currentRemoteDescription`.
    pub fn current_remote_description(&self) -> Option<Description> {
        self.sig.current_remote.as_ref().map(Applied::description)
    }

    /// W3C `pendingRemoteDescription`.
    pub fn pending_remote_description(&self) -> Option<Description> {
        self.sig.pending_remote.as_ref().map(Applied::description)
    }

    fn with_local_candidates(&self, d: &Applied) -> Description {
        let complete = self.gathering == super::IceGatheringState::Complete;
        let text = d.text();
        let sdp = describe::with_candidates(&text, self.ice.agent().local_candidates(), self.hiding(), complete);
        Description { kind: d.kind, sdp }
    }

    fn local_sdp(&mut self, setup: Setup, offer: bool, sections: Vec<Planned>, bundle: Vec<String>) -> String {
        self.sig.session_version += 1;
        describe::local_sdp(LocalParams {
            session_id: self.sig.session_id,
            session_version: self.sig.session_version,
            lite: self.config.ice.lite,
            credentials: self.ice.agent().local_credentials(),
            certificate: &self.certificate,
            setup,
            max_message_size: self.config.max_message_size,
            offer,
            sections,
            bundle,
            candidates: self.ice.agent().local_candidates(),
            hide: self.hiding(),
            gathering_complete: self.gathering == super::IceGatheringState::Complete,
        })
    }

    /// An offer (JSEP, RFC 8829 §5.2) with `a=setup:actpass`, our ICE credentials and fingerprint, and the
    /// candidates gathered so far: an m-section for every transceiver (in the order added, reusing the
    /// slots of rejected ones, rejecting stopped ones) and one for data channels once a channel exists, or
    /// when there is nothing else to offer; all in one BUNDLE group. Allowed in `stable` and
    /// `have-local-offer`.
    pub fn create_offer(&mut self) -> Result<Description, Error> {
        let _span = self.enter_span();
        self.check_open()?;
        if !matches!(self.sig.state, SignalingState::Stable | SignalingState::HaveLocalOffer) {
            return Err(Error::InvalidState);
        }
        let plan = self.plan_offer();
        let (sections, bundle) = self.offer_sections(&plan);
        self.sig.offered = Some(plan);
        // Re-offers say actpass too (RFC 8842 §5.5); the established DTLS association is kept whatever the
        // answer says, as the answerer keeps its role (see `answer_setup`).
        Ok(Description { kind: SdpKind::Offer, sdp: self.local_sdp(Setup::ActPass, true, sections, bundle) })
    }

    /// An answer to the remote offer (JSEP, RFC 8829 §5.3): the data channel section accepted, each audio
    /// and video section accepted with the codecs, header extensions and direction both sides support
    /// (rejected without any common codec, or when its transceiver is stopped), other sections rejected;
    /// [`super::Config::answer_setup`] (or the role the offer leaves us). Allowed in `have-remote-offer`
    /// and `have-local-pranswer`. Set it as [`SdpKind::Answer`], or change its kind to
    /// [`SdpKind::Pranswer`] for a provisional answer.
    pub fn create_answer(&mut self) -> Result<Description, Error> {
        let _span = self.enter_span();
        self.check_open()?;
        if !matches!(self.sig.state, SignalingState::HaveRemoteOffer | SignalingState::HaveLocalPranswer) {
            return Err(Error::InvalidState);
        }
        let text = self.sig.remote_offer().map(Applied::text).ok_or(Error::InvalidState)?;
        let offer = SessionDescription::parse(&text)?;
        let setup = self.answer_setup();
        let (sections, bundle) = self.answer_sections(&offer);
        Ok(Description { kind: SdpKind::Answer, sdp: self.local_sdp(setup, false, sections, bundle) })
    }

    fn answer_setup(&self) -> Setup {
        // An established DTLS association keeps its roles across re-offers.
        if let Some(role) = self.dtls_role() {
            return if role == dtls::Role::Client { Setup::Active } else { Setup::Passive };
        }
        match self.sig.remote.as_ref().and_then(|r| r.setup) {
            Some(Setup::Active) => Setup::Passive,
            Some(Setup::Passive) => Setup::Active,
            _ if self.config.answer_setup == Setup::Passive => Setup::Passive,
            _ => Setup::Active,
        }
    }

    /// Applies a local description: an offer moves to `have-local-offer`; an answer back to `stable`
    /// (fixing the DTLS role and starting DTLS and SCTP as ICE allows); a provisional answer to
    /// `have-local-pranswer` (doing the same, the final answer still due); a rollback undoes a local
    /// offer. The description must be one this connection created (munging is not supported).
    pub fn set_local_description(&mut self, now: Instant, desc: &Description) -> Result<(), Error> {
        let _span = self.enter_span();
        self.touch(now);
        self.check_open()?;
        match (desc.kind, self.sig.state) {
            (SdpKind::Offer, SignalingState::Stable | SignalingState::HaveLocalOffer) => {
                let sdp = SessionDescription::parse(&desc.sdp)?;
                sdp.validate_webrtc(SdpType::Offer)?;
                let mid = self.check_own(&sdp)?;
                if self.sig.state == SignalingState::HaveLocalOffer {
                    self.undo_offer();
                }
                self.apply_local_offer(&sdp)?;
                self.sig.transport_mid = mid;
                self.ice.with_agent(now, |agent, _| agent.set_role(ice::Role::Controlling));
                self.sig.pending_local = Some(Applied::new(desc));
                self.set_signaling(SignalingState::HaveLocalOffer);
            }
            (
                SdpKind::Answer | SdpKind::Pranswer,
                SignalingState::HaveRemoteOffer | SignalingState::HaveLocalPranswer,
            ) => {
                let sdp = SessionDescription::parse(&desc.sdp)?;
                sdp.validate_webrtc(SdpType::Answer)?;
                let mid = self.check_own(&sdp)?;
                let text = self.sig.remote_offer().map(Applied::text).ok_or(Error::InvalidState)?;
                let offer = SessionDescription::parse(&text)?;
                let media = describe::transport_index(&sdp).and_then(|i| sdp.media.get(i));
                let role = match media.and_then(|m| sdp.setup_for(m)) {
                    Some(Setup::Passive) => dtls::Role::Server,
                    _ => dtls::Role::Client,
                };
                self.sig.data_negotiated = self.apply_answer(&offer, &sdp, false)?;
                self.sig.transport_mid = mid;
                self.sig.pending_local = Some(Applied::new(desc));
                if desc.kind == SdpKind::Answer {
                    self.sig.settle();
                    self.set_signaling(SignalingState::Stable);
                } else {
                    self.set_signaling(SignalingState::HaveLocalPranswer);
                }
                self.start_transport(role);
            }
            (SdpKind::Rollback, SignalingState::HaveLocalOffer) => {
                self.undo_offer();
                self.sig.pending_local = None;
                self.set_signaling(SignalingState::Stable);
            }
            _ => return Err(Error::InvalidState),
        }
        self.update_negotiation_needed();
        self.flush();
        Ok(())
    }

    /// Checks a local description is ours (our ICE ufrag in its transport section); returns the mid of
    /// that section.
    fn check_own(&self, sdp: &SessionDescription<'_>) -> Result<String, Error> {
        let media = describe::transport_index(sdp).and_then(|i| sdp.media.get(i)).ok_or(Error::NoDataChannelSection)?;
        let own = sdp.ice_credentials_for(media).is_some_and(|(u, _)| u == self.local_ufrag());
        if own { Ok(media.mid().unwrap_or("0").to_string()) } else { Err(Error::Unsupported) }
    }

    /// Applies the peer's description (JSEP, RFC 8829 §5.10): parsed, checked with
    /// [`SessionDescription::validate_webrtc`], its ICE credentials, candidates and fingerprint handed to
    /// ICE and DTLS. An offer moves to `have-remote-offer`; an answer to our offer fixes the DTLS role and
    /// moves to `stable`; a provisional answer does the same but moves to `have-remote-pranswer`; a
    /// rollback undoes a remote offer. New remote ICE credentials mean an ICE restart.
    pub fn set_remote_description(&mut self, now: Instant, desc: &Description) -> Result<(), Error> {
        let _span = self.enter_span();
        self.touch(now);
        self.check_open()?;
        match (desc.kind, self.sig.state) {
            (SdpKind::Offer, SignalingState::Stable | SignalingState::HaveRemoteOffer) => {
                let sdp = SessionDescription::parse(&desc.sdp)?;
                sdp.validate_webrtc(SdpType::Offer)?;
                let remote = describe::parse_remote(&sdp)?;
                let role = if remote.lite { ice::Role::Controlling } else { ice::Role::Controlled };
                // Trickled candidates name the section the answer will accept.
                let mid = remote.mid.clone();
                self.apply_remote(now, remote, role)?;
                if self.sig.state == SignalingState::HaveRemoteOffer {
                    self.undo_offer();
                }
                self.apply_remote_offer(&sdp);
                self.sig.transport_mid = mid;
                self.sig.pending_remote = Some(Applied::new(desc));
                self.set_signaling(SignalingState::HaveRemoteOffer);
                self.report_tracks();
            }
            (
                SdpKind::Answer | SdpKind::Pranswer,
                SignalingState::HaveLocalOffer | SignalingState::HaveRemotePranswer,
            ) => {
                let sdp = SessionDescription::parse(&desc.sdp)?;
                sdp.validate_webrtc(SdpType::Answer)?;
                let remote = describe::parse_remote(&sdp)?;
                let text = self.sig.pending_local.as_ref().map(Applied::text).ok_or(Error::InvalidState)?;
                let offer = SessionDescription::parse(&text)?;
                if offer.media.len() != sdp.media.len() {
                    return Err(Error::AnswerMismatch);
                }
                // Their active is our server (RFC 8842 §5.3); an answer without a=setup is active (RFC 4145).
                let role = match remote.setup {
                    Some(Setup::Passive) => dtls::Role::Client,
                    _ => dtls::Role::Server,
                };
                let mid = remote.mid.clone();
                self.apply_remote(now, remote, ice::Role::Controlling)?;
                self.sig.data_negotiated = self.apply_answer(&offer, &sdp, true)?;
                self.sig.transport_mid = mid;
                self.sig.pending_remote = Some(Applied::new(desc));
                if desc.kind == SdpKind::Answer {
                    self.sig.settle();
                    self.set_signaling(SignalingState::Stable);
                } else {
                    self.set_signaling(SignalingState::HaveRemotePranswer);
                }
                self.report_tracks();
                self.start_transport(role);
            }
            (SdpKind::Rollback, SignalingState::HaveRemoteOffer) => {
                self.undo_offer();
                self.sig.pending_remote = None;
                self.set_signaling(SignalingState::Stable);
            }
            _ => return Err(Error::InvalidState),
        }
        self.update_negotiation_needed();
        self.flush();
        Ok(())
    }

    fn apply_remote(&mut self, now: Instant, mut remote: Remote, role: ice::Role) -> Result<(), Error> {
        let creds = Credentials::new(&remote.ufrag, &remote.pwd).map_err(|_| Error::BadCredentials)?;
        // Handed to ICE (or to mDNS resolution first), not kept.
        let candidates = core::mem::take(&mut remote.candidates);
        let mdns = core::mem::take(&mut remote.mdns);
        if let Some(old) = &self.sig.remote {
            if old.fingerprint != remote.fingerprint && self.dtls().is_some() {
                // A new certificate would need a new DTLS association: not supported.
                return Err(Error::Unsupported);
            }
            if old.ufrag == remote.ufrag && old.pwd == remote.pwd {
                // Same generation: only add candidates we have not seen.
                self.ice.with_agent(now, |agent, now| {
                    for c in &candidates {
                        let _ = agent.add_remote_candidate(now, *c);
                    }
                    if remote.end_of_candidates {
                        agent.end_of_remote_candidates(now);
                    }
                });
                for (name, c) in mdns {
                    self.hold_mdns_candidate(now, &name, c);
                }
                self.sig.remote = Some(remote);
                return Ok(());
            }
            // The peer restarted ICE (RFC 8445 §9); unless we asked for it, restart too so our answer
            // carries new credentials.
            if self.sig.restart == Restart::None {
                self.ice.with_agent(now, |agent, now| agent.restart(now, None));
            }
        } else {
            let role = if self.config.ice.lite { ice::Role::Controlled } else { role };
            self.ice.with_agent(now, |agent, _| agent.set_role(role));
        }
        self.sig.restart = Restart::None;
        self.ice.with_agent(now, |agent, now| {
            agent.set_remote_credentials(creds);
            for c in &candidates {
                if let Err(e) = agent.add_remote_candidate(now, *c) {
                    tracing::debug!(target: super::TARGET, error = %e, "remote candidate refused");
                }
            }
            if remote.end_of_candidates {
                agent.end_of_remote_candidates(now);
            }
        });
        for (name, c) in mdns {
            self.hold_mdns_candidate(now, &name, c);
        }
        self.set_remote_fingerprint(remote.fingerprint);
        self.sig.remote = Some(remote);
        Ok(())
    }

    /// Adds a trickled remote candidate (W3C `addIceCandidate`): the `candidate:…` string (with or
    /// without the `a=` prefix). `None` or an empty string means end-of-candidates (RFC 8838 §13).
    /// A candidate whose address is a `.local` name is added once the name resolves
    /// ([`super::Config::resolve_mdns`]); TCP candidates (RFC 6544) are
    /// kept with their direction (`tcptype active` or `passive`; simultaneous open is ignored).
    pub fn add_ice_candidate(&mut self, now: Instant, candidate: Option<&str>) -> Result<(), Error> {
        let _span = self.enter_span();
        self.touch(now);
        self.check_open()?;
        match candidate.map(str::trim).filter(|c| !c.is_empty()) {
            None => self.ice.with_agent(now, |agent, now| agent.end_of_remote_candidates(now)),
            Some(text) => {
                let parsed = CandidateAttribute::parse(text).map_err(|_| Error::BadCandidate)?;
                if let Some((name, c)) = super::mdns::held_candidate(&parsed) {
                    self.hold_mdns_candidate(now, name, c);
                } else if let Some(c) = describe::ice_candidate(&parsed)? {
                    match self.ice.add_remote_candidate(now, c) {
                        Ok(()) | Err(ice::ApiError::Duplicate) => {}
                        Err(e) => return Err(Error::Ice(e)),
                    }
                }
            }
        }
        self.flush();
        Ok(())
    }

    /// Restarts ICE (new local credentials, RFC 8445 §9): emits [`Event::NegotiationNeeded`]; the next
    /// offer carries the new credentials. Data keeps flowing on the old pair until a new one is selected.
    pub fn restart_ice(&mut self, now: Instant) {
        let _span = self.enter_span();
        self.touch(now);
        if self.check_open().is_err() {
            return;
        }
        self.ice.with_agent(now, |agent, now| agent.restart(now, None));
        self.sig.restart = Restart::Local;
        self.emit(Event::NegotiationNeeded);
        self.flush();
    }

    pub(super) fn set_signaling(&mut self, s: SignalingState) {
        if self.sig.state != s {
            self.sig.state = s;
            self.emit(Event::SignalingState(s));
        }
    }
}
