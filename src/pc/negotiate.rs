//! JSEP for m-sections (RFC 8829 §5.2–5.11): which m-line each transceiver and the data channel occupy,
//! the sections of our offers and answers, and what applying a description does to the transceivers
//! (association, negotiated codecs and extensions, current direction, `ontrack`, stopping). The JSEP
//! state machine that calls these is in [`super::signaling`]; nothing here touches a datagram.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::codec::{Codec, MediaKind};
use super::conn::PeerConnection;
use super::describe::Planned;
use super::error::Error;
use super::media::{self, ExtensionPreference, HeaderExtension, PROTO, Rid, Section, has_send};
use super::transceiver::{Negotiated, Tag, Transceiver, TransceiverId, TransceiverInit};
use super::{Event, SdpKind, SignalingState};
use crate::rtp::ExtensionKind;
use crate::sdp::{Direction, MediaDescription, SessionDescription};

/// What occupies an m-line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Slot {
    /// The data channel section.
    Data,
    /// An audio or video section, with its transceiver (gone once stopped and negotiated away).
    Rtp(TransceiverId),
    /// Anything else: always rejected.
    Other,
}

/// One m-line of the session, in order, as the last description applied left it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct MLine {
    pub mid: String,
    pub slot: Slot,
    /// Port 0 in the last offer or answer applied.
    pub rejected: bool,
    /// The m= line's media, proto and formats, for writing it rejected.
    pub media: Cow<'static, str>,
    pub proto: Cow<'static, str>,
    pub formats: Cow<'static, str>,
}

impl MLine {
    fn data(mid: String) -> MLine {
        MLine {
            mid,
            slot: Slot::Data,
            rejected: false,
            media: Cow::Borrowed("application"),
            proto: Cow::Borrowed("UDP/DTLS/SCTP"),
            formats: Cow::Borrowed("webrtc-datachannel"),
        }
    }

    fn rtp(mid: String, id: TransceiverId, kind: MediaKind) -> MLine {
        MLine {
            mid,
            slot: Slot::Rtp(id),
            rejected: false,
            media: Cow::Borrowed(kind.as_str()),
            proto: Cow::Borrowed(PROTO),
            formats: Cow::Borrowed("0"),
        }
    }

    fn from_remote(m: &MediaDescription<'_>, mid: String, slot: Slot) -> MLine {
        let known = |s: &str, known: &[&'static str]| {
            known.iter().find(|k| **k == s).map_or_else(|| Cow::Owned(s.to_string()), |k| Cow::Borrowed(*k))
        };
        MLine {
            mid,
            slot,
            rejected: m.is_rejected(),
            media: known(&m.media, &["application", "audio", "video"]),
            proto: known(&m.proto, &["UDP/DTLS/SCTP", PROTO]),
            formats: known(&m.formats, &["webrtc-datachannel"]),
        }
    }

    fn rejected_section(&self) -> MediaDescription<'static> {
        media::rejected(&self.media, &self.proto, &self.formats, Some(&self.mid))
    }
}

/// What a pending offer changed, to undo it on rollback (RFC 8829 §5.7).
#[derive(Clone, Debug)]
pub(super) struct Undo {
    mlines: Vec<MLine>,
    transceivers: Vec<Transceiver>,
}

impl PeerConnection {
    fn fresh_mid(&mut self, taken: &[MLine]) -> String {
        loop {
            let mid = self.sig.next_mid.to_string();
            self.sig.next_mid = self.sig.next_mid.wrapping_add(1);
            let used = taken.iter().chain(&self.sig.mlines).any(|l| l.mid == mid)
                || self.transceivers.by_mid(&mid).is_some()
                || self.sig.proposed.iter().any(|(_, m)| *m == mid);
            if !used {
                return mid;
            }
        }
    }

    /// The mid proposed for a new slot: the one an earlier unapplied offer gave it, or a fresh one.
    fn proposed_mid(&mut self, slot: &Slot, taken: &[MLine]) -> String {
        if let Some((_, mid)) = self.sig.proposed.iter().find(|(s, _)| s == slot) {
            return mid.clone();
        }
        let mid = self.fresh_mid(taken);
        self.sig.proposed.push((slot.clone(), mid.clone()));
        mid
    }

    /// The CNAME for our sections; nothing is drawn from the generator without transceivers.
    fn cname(&mut self) -> String {
        if self.transceivers.list.is_empty() { String::new() } else { self.transceivers.cname(&mut self.rng) }
    }

    /// Whether the application wants a data channel section (it created a channel).
    fn wants_data(&self) -> bool {
        !self.channels.is_empty() || self.dc.is_some()
    }

    /// The m-lines of the next offer (RFC 8829 §5.2.1–5.2.2): the current ones in order (stopping
    /// transceivers' rejected), new transceivers in the slots of rejected m-lines or appended, then a data
    /// section if a channel was created and there is none.
    pub(super) fn plan_offer(&mut self) -> Vec<MLine> {
        let mut plan = self.sig.mlines.clone();
        // Rejected in the current descriptions: free for a new transceiver.
        let mut recyclable: Vec<usize> =
            plan.iter().enumerate().filter(|(_, l)| l.rejected && self.slot_is_free(&l.slot)).map(|(i, _)| i).collect();
        recyclable.reverse();
        for l in &mut plan {
            if let Slot::Rtp(id) = l.slot {
                if self.transceivers.get(id).is_none_or(Transceiver::is_stopping) {
                    l.rejected = true;
                }
            } else if l.slot == Slot::Data && self.wants_data() {
                l.rejected = false;
            }
        }
        let new: Vec<(TransceiverId, MediaKind)> = self
            .transceivers
            .list
            .iter()
            .filter(|t| t.mid.is_none() && !t.is_stopping() && !plan.iter().any(|l| l.slot == Slot::Rtp(t.id)))
            .map(|t| (t.id, t.kind))
            .collect();
        for (id, kind) in new {
            let mid = self.proposed_mid(&Slot::Rtp(id), &plan);
            let line = MLine::rtp(mid, id, kind);
            match recyclable.pop().and_then(|i| plan.get_mut(i)) {
                Some(slot) => *slot = line,
                None => plan.push(line),
            }
        }
        // With nothing else to offer, an offer carries a data channel section (channels created later then
        // need no renegotiation).
        let media = plan.iter().any(|l| matches!(l.slot, Slot::Rtp(_)) && !l.rejected);
        if (self.wants_data() || !media) && !plan.iter().any(|l| l.slot == Slot::Data) {
            let mid = self.proposed_mid(&Slot::Data, &plan);
            plan.push(MLine::data(mid));
        }
        plan
    }

    /// Whether an m-line's occupant is gone, so the line may be reused.
    fn slot_is_free(&self, slot: &Slot) -> bool {
        match slot {
            Slot::Rtp(id) => self.transceivers.get(*id).is_none_or(|t| t.stopped),
            Slot::Data => !self.wants_data(),
            Slot::Other => true,
        }
    }

    /// The sections of an offer following `plan`, with the BUNDLE group over every accepted mid.
    pub(super) fn offer_sections(&mut self, plan: &[MLine]) -> (Vec<Planned>, Vec<String>) {
        let cname = self.cname();
        let mut out = Vec::new();
        let mut bundle = Vec::new();
        // Codecs and extension ids already given in this offer, so that later sections agree.
        let mut given: Vec<Section> = Vec::new();
        for l in plan {
            let t = match l.slot {
                Slot::Rtp(id) => self.transceivers.get(id),
                _ => None,
            };
            match (&l.slot, t) {
                (Slot::Data, _) if !l.rejected => {
                    bundle.push(l.mid.clone());
                    out.push(Planned::Data(l.mid.clone()));
                }
                (Slot::Rtp(_), Some(t)) if !l.rejected => {
                    let section = self.offer_section(t, plan, &given, &cname);
                    given.push(section.clone());
                    bundle.push(l.mid.clone());
                    out.push(Planned::Media(l.mid.clone(), section));
                }
                _ => out.push(Planned::Rejected(l.rejected_section())),
            }
        }
        (out, bundle)
    }

    /// Every section negotiated or offered so far other than transceiver `except`'s: what new sections
    /// must agree with (payload types of the same format, extension ids of the same URI).
    fn bundle_sections(&self, except: TransceiverId, plan: &[MLine]) -> Vec<&Section> {
        plan.iter()
            .filter_map(|l| if let Slot::Rtp(id) = l.slot { Some(id) } else { None })
            .filter(|id| *id != except)
            .filter_map(|id| self.transceivers.get(id))
            .flat_map(|t| t.local.iter().chain(t.remote.iter()))
            .collect()
    }

    /// Our offered section for transceiver `t`: its negotiated codecs and extensions first (RFC 8829
    /// §5.2.2), then what else it supports, with payload types and extension ids that agree with the rest
    /// of the BUNDLE group.
    fn offer_section(&self, t: &Transceiver, plan: &[MLine], given: &[Section], cname: &str) -> Section {
        let others: Vec<&Section> = self.bundle_sections(t.id, plan).into_iter().chain(given).collect();
        let mut s = Section::new(t.kind);
        s.mid = t.mid.as_deref().map(ToString::to_string);
        s.direction = t.direction;
        // Negotiated formats keep their payload types; with codec preferences, only those, in their order.
        let negotiated = t.negotiated.as_ref().map_or(&[][..], |n| &n.codecs[..]);
        let mut codecs: Vec<Codec> = if t.preferences.is_empty() { negotiated.to_vec() } else { Vec::new() };
        for c in self.codecs_for(t) {
            if codecs.iter().any(|n| n.same_format(&c)) {
                continue;
            }
            let c = match negotiated.iter().find(|n| n.same_format(&c)) {
                Some(n) => n.clone(),
                None => allocate_payload_types(c, &codecs, &others),
            };
            codecs.push(c);
        }
        // RED's fmtp names the Opus payload type of this offer.
        let opus = codecs.iter().find(|c| c.opus_params().is_some()).map(|c| c.payload_type);
        super::codec::settle_red(&mut codecs, opus);
        s.codecs = codecs;
        s.extensions = match &t.negotiated {
            Some(n) => n.extensions.clone(),
            None => offer_extensions(&self.config.header_extensions, t.kind, &others),
        };
        if let Some(n) = &t.negotiated {
            s.rtcp_rsize = n.rtcp_rsize;
        }
        self.add_send_lines(&mut s, t, cname, true);
        s
    }

    /// `a=msid`, `a=ssrc`/`a=ssrc-group:FID` and (offers) `a=rid`/`a=simulcast` for a section that
    /// sends (RFC 8829 §5.2.1).
    fn add_send_lines(&self, s: &mut Section, t: &Transceiver, cname: &str, offer: bool) {
        if !has_send(s.direction) {
            return;
        }
        s.msids = match (&t.track, t.stream_ids.is_empty()) {
            (Some(track), true) => alloc::vec![(String::from("-"), Some(track.clone()))],
            (track, _) => t.stream_ids.iter().map(|stream| (stream.clone(), track.clone())).collect(),
        };
        let rtx = s.codecs.iter().any(|c| c.rtx_payload_type.is_some());
        let encodings: &[_] = if offer { &t.encodings } else { t.encodings.get(..1).unwrap_or_default() };
        if encodings.len() == 1 {
            s.ssrcs = encodings.iter().map(|e| (e.ssrc, rtx.then_some(e.rtx_ssrc))).collect();
            s.cname = Some(cname.to_string());
        }
        if offer {
            s.rids =
                encodings.iter().filter_map(|e| Some(Rid { id: e.rid.as_deref()?.to_string(), send: true })).collect();
        }
    }

    /// Our answer for an offered audio or video section and its transceiver (RFC 8829 §5.3.1): `None`
    /// rejects it (stopped, no common codec, no RTCP multiplexing).
    pub(super) fn answer_section(
        &self,
        t: &Transceiver,
        offered: &Section,
        taken: &[u8],
        cname: &str,
    ) -> Option<Section> {
        if t.is_stopping() || offered.rejected || !offered.rtcp_mux {
            return None;
        }
        let supported: Vec<Codec> = self.config.codecs.iter().filter(|c| c.kind == t.kind).cloned().collect();
        let codecs = media::answer_codecs(&offered.codecs, &supported, &t.preferences);
        if codecs.is_empty() {
            return None;
        }
        let prefs = &self.config.header_extensions;
        let mut s = Section::new(t.kind);
        s.mid = offered.mid.clone();
        s.direction = media::answer_direction(offered.direction, t.direction);
        s.codecs = codecs;
        s.extensions =
            media::answer_extensions(offered, |k| prefs.iter().any(|p| p.media == t.kind && p.kind == k), taken);
        s.rtcp_rsize = offered.rtcp_rsize;
        self.add_send_lines(&mut s, t, cname, false);
        // Simulcast offered to us (RFC 8853 §5.3): we receive the offered rids.
        let rid_ext = s.extensions.iter().any(|e| e.kind == ExtensionKind::RtpStreamId);
        if media::has_recv(s.direction) && rid_ext {
            s.rids = offered.rids.iter().filter(|r| r.send).map(|r| Rid { id: r.id.clone(), send: false }).collect();
        }
        Some(s)
    }

    /// Applies a remote offer's m-lines (RFC 8829 §5.10): each audio or video section is associated with
    /// the transceiver of its mid, else with a transceiver `add_track` made, else a new `recvonly` one.
    /// Recycled m-lines drop their old transceiver.
    pub(super) fn apply_remote_offer(&mut self, sdp: &SessionDescription<'_>) {
        self.sig.undo =
            Some(Box::new(Undo { mlines: self.sig.mlines.clone(), transceivers: self.transceivers.list.clone() }));
        let old = core::mem::take(&mut self.sig.mlines);
        let mut lines: Vec<MLine> = Vec::new();
        for (i, m) in sdp.media.iter().enumerate() {
            let mid = match m.mid() {
                Some(mid) => mid.to_string(),
                None => self.fresh_mid(&lines),
            };
            if let Some(prev) = old.get(i).filter(|p| p.mid != mid) {
                // A recycled m-line: its transceiver is disassociated (and, stopped, forgotten).
                if let Slot::Rtp(id) = prev.slot {
                    self.forget_if_stopped(id);
                    if let Some(t) = self.transceivers.get_mut(id) {
                        t.mid = None;
                    }
                }
            }
            let first_data = !lines.iter().any(|l| l.slot == Slot::Data && !l.rejected);
            let line = if m.is_data_channel() && (first_data || m.is_rejected()) {
                MLine::from_remote(m, mid, Slot::Data)
            } else if m.is_data_channel() {
                // One data channel section per connection: another is rejected.
                MLine { rejected: true, ..MLine::from_remote(m, mid, Slot::Other) }
            } else if let Some(section) = Section::parse(sdp, m) {
                match self.take_transceiver(&mid, &section) {
                    Some(id) => {
                        if let Some(t) = self.transceivers.get_mut(id) {
                            t.mid = Some(Tag::from(mid.as_str()));
                            if section.rejected {
                                stop(t);
                            }
                            t.remote = Some(section);
                        }
                        MLine::from_remote(m, mid, Slot::Rtp(id))
                    }
                    None => MLine::from_remote(m, mid, Slot::Other),
                }
            } else {
                MLine { rejected: true, ..MLine::from_remote(m, mid, Slot::Other) }
            };
            lines.push(line);
        }
        lines.shrink_to_fit();
        self.sig.mlines = lines;
        self.sig.proposed = Vec::new();
    }

    /// The transceiver for a remote section: the one with its mid, else (for a section that would have
    /// us send) the first unassociated one `add_track` made of its kind, else a new `recvonly` one. A
    /// rejected section gets none unless one already had its mid.
    fn take_transceiver(&mut self, mid: &str, section: &Section) -> Option<TransceiverId> {
        if let Some(t) = self.transceivers.list.iter_mut().find(|t| t.has_mid(mid)) {
            if t.kind == section.kind {
                return Some(t.id);
            }
            // The mid now names another kind of media: the old transceiver's line is gone.
            t.mid = None;
            stop(t);
        }
        if section.rejected {
            return None;
        }
        if media::has_recv(section.direction) {
            let found = self
                .transceivers
                .list
                .iter()
                .find(|t| t.from_add_track && t.kind == section.kind && t.mid.is_none() && !t.is_stopping());
            if let Some(t) = found {
                return Some(t.id);
            }
        }
        let init = TransceiverInit::with_direction(Direction::RecvOnly);
        self.transceivers.create(&mut self.rng, section.kind, None, init).ok()
    }

    fn forget_if_stopped(&mut self, id: TransceiverId) {
        self.transceivers.list.retain(|t| t.id != id || !t.stopped);
    }

    /// `ontrack` (W3C §4.4.1.6), after a remote description is applied and its `signalingstatechange`: a
    /// transceiver whose remote section now sends reports [`Event::Track`] once; one whose section stopped
    /// sending may report again later.
    pub(super) fn report_tracks(&mut self) {
        let mut events = Vec::new();
        for t in &mut self.transceivers.list {
            let sends = t.remote.as_ref().is_some_and(|s| !s.rejected && has_send(s.direction));
            if sends && !t.receiving && !t.is_stopping() {
                if let Some(mid) = &t.mid {
                    t.receiving = true;
                    let stream_ids = t.remote.as_ref().map(Section::stream_ids).unwrap_or_default();
                    events.push(Event::Track { transceiver: t.id, mid: mid.to_string(), kind: t.kind, stream_ids });
                }
            } else if !sends {
                t.receiving = false;
            }
        }
        for e in events {
            self.emit(e);
        }
    }

    /// The sections of our answer to `offer` (RFC 8829 §5.3.1), with the BUNDLE group in the offer's
    /// order. A section outside the offer's BUNDLE group (or, without one, any but the first usable
    /// section) is rejected: the connection has one transport (the max-bundle policy).
    pub(super) fn answer_sections(&mut self, offer: &SessionDescription<'_>) -> (Vec<Planned>, Vec<String>) {
        let cname = self.cname();
        let group: Vec<&str> = offer.bundle_mids().collect();
        let first_usable = offer.media.iter().position(|m| !m.is_rejected());
        let taken: Vec<u8> = offer
            .media
            .iter()
            .filter_map(|m| Section::parse(offer, m))
            .flat_map(|s| s.extensions.into_iter().map(|e| e.id))
            .collect();
        let mut out = Vec::new();
        let mut accepted = Vec::new();
        for (i, m) in offer.media.iter().enumerate() {
            let Some(line) = self.sig.mlines.get(i) else { continue };
            let in_bundle = if group.is_empty() { first_usable == Some(i) } else { group.contains(&line.mid.as_str()) };
            let section = match &line.slot {
                _ if !in_bundle || m.is_rejected() => None,
                Slot::Data => Some(Planned::Data(line.mid.clone())),
                Slot::Rtp(id) => {
                    let t = self.transceivers.get(*id);
                    let offered = Section::parse(offer, m);
                    let answer = t.zip(offered).and_then(|(t, o)| self.answer_section(t, &o, &taken, &cname));
                    answer.map(|s| Planned::Media(line.mid.clone(), s))
                }
                Slot::Other => None,
            };
            match section {
                Some(s) => {
                    accepted.push(line.mid.clone());
                    out.push(s);
                }
                None => out.push(Planned::Rejected(media::rejected(&m.media, &m.proto, &m.formats, m.mid()))),
            }
        }
        if let Some(tag) = group.first().filter(|tag| !accepted.iter().any(|a| a == **tag)) {
            // RFC 8843 §7.3.3: the offerer-tagged section cannot be rejected alone; rejecting it rejects
            // the whole BUNDLE group (RFC 8829 §5.3.1).
            tracing::debug!(target: super::TARGET, tag, "the BUNDLE-tagged section is rejected: so is its group");
            for (m, planned) in offer.media.iter().zip(out.iter_mut()) {
                if m.mid().is_some_and(|mid| group.contains(&mid)) {
                    *planned = Planned::Rejected(media::rejected(&m.media, &m.proto, &m.formats, m.mid()));
                }
            }
            accepted.clear();
        }
        let bundle = if group.is_empty() {
            accepted
        } else {
            group.iter().filter(|g| accepted.iter().any(|a| a == *g)).map(|g| g.to_string()).collect()
        };
        (out, bundle)
    }

    /// Applies our own offer (RFC 8829 §5.9): it must follow the last plan (`Error::Unsupported` if it
    /// does not: munged offers are not supported); each transceiver takes its mid.
    pub(super) fn apply_local_offer(&mut self, sdp: &SessionDescription<'_>) -> Result<(), Error> {
        let plan = self.sig.offered.clone().ok_or(Error::Unsupported)?;
        let mids: Vec<Option<&str>> = sdp.media.iter().map(MediaDescription::mid).collect();
        if mids.len() != plan.len() || plan.iter().zip(&mids).any(|(l, m)| Some(l.mid.as_str()) != *m) {
            return Err(Error::Unsupported);
        }
        self.sig.undo =
            Some(Box::new(Undo { mlines: self.sig.mlines.clone(), transceivers: self.transceivers.list.clone() }));
        for (l, m) in plan.iter().zip(&sdp.media) {
            let Slot::Rtp(id) = l.slot else { continue };
            if let Some(t) = self.transceivers.get_mut(id) {
                if !l.rejected {
                    t.mid = Some(Tag::from(l.mid.as_str()));
                    t.local = Section::parse(sdp, m);
                }
            }
        }
        // Lines this offer recycled: their old transceivers are disassociated and forgotten.
        for (i, l) in plan.iter().enumerate() {
            if let Some(Slot::Rtp(old)) = self.sig.mlines.get(i).filter(|o| o.mid != l.mid).map(|o| o.slot.clone()) {
                self.forget_if_stopped(old);
            }
        }
        self.sig.mlines = plan
            .into_iter()
            .map(|l| MLine { formats: formats_of(sdp, &l.mid).map_or(l.formats.clone(), Cow::Owned), ..l })
            .collect();
        self.sig.mlines.shrink_to_fit();
        self.sig.proposed = Vec::new();
        self.sig.offered = None;
        Ok(())
    }

    /// Undoes the offer applied last (RFC 8829 §5.7): the m-lines and transceivers as they were.
    pub(super) fn undo_offer(&mut self) {
        if let Some(undo) = self.sig.undo.take() {
            self.sig.mlines = undo.mlines;
            self.transceivers.list = undo.transceivers;
        }
    }

    /// Applies an answer (or provisional answer) to the offer it answers (RFC 8829 §5.11): every m-line
    /// learns whether it was rejected; a transceiver's codecs, extensions and current direction are the
    /// answer's, and a rejected one stops. Returns whether the data channel section is accepted.
    pub(super) fn apply_answer(
        &mut self,
        offer: &SessionDescription<'_>,
        answer: &SessionDescription<'_>,
        we_offered: bool,
    ) -> Result<bool, Error> {
        if offer.media.len() != answer.media.len() || answer.media.len() != self.sig.mlines.len() {
            return Err(Error::Unsupported);
        }
        let (local, remote) = if we_offered { (offer, answer) } else { (answer, offer) };
        let mut data = false;
        let mut stopped = Vec::new();
        for (i, (om, am)) in offer.media.iter().zip(&answer.media).enumerate() {
            let Some(line) = self.sig.mlines.get_mut(i) else { continue };
            line.rejected = om.is_rejected() || am.is_rejected();
            if line.slot != Slot::Data {
                line.formats = Cow::Owned(am.formats.to_string());
            }
            let rejected = line.rejected;
            match line.slot {
                Slot::Data => data |= !rejected,
                Slot::Rtp(id) => {
                    let Some(t) = self.transceivers.get_mut(id) else { continue };
                    let (Some(lm), Some(rm)) = (local.media.get(i), remote.media.get(i)) else { continue };
                    t.local = Section::parse(local, lm);
                    t.remote = Section::parse(remote, rm);
                    if rejected {
                        stop(t);
                        stopped.push(id);
                        continue;
                    }
                    let Some(ans) = Section::parse(answer, am) else { continue };
                    let ours = |d: Direction| if we_offered { media::reverse(d) } else { d };
                    let current = ours(ans.direction);
                    let extensions =
                        ans.extensions.iter().map(|e| HeaderExtension { direction: ours(e.direction), ..*e }).collect();
                    let supported = &self.config.codecs;
                    let codecs: Vec<Codec> =
                        ans.codecs.iter().filter(|c| supported.iter().any(|s| s.same_format(c))).cloned().collect();
                    let rsize = ans.rtcp_rsize && offer.media.get(i).is_some_and(|m| m.attributes.rtcp_rsize());
                    t.negotiated = Some(Negotiated::new(codecs, extensions, rsize));
                    settle_encodings(t, we_offered.then_some(&ans));
                    t.current_direction = Some(current);
                    t.has_sent |= has_send(current);
                }
                Slot::Other => {}
            }
        }
        for id in stopped {
            self.forget_if_stopped(id);
        }
        self.sig.undo = None;
        self.media_changed();
        Ok(data)
    }

    /// W3C "update the negotiation-needed flag": in `stable`, [`Event::NegotiationNeeded`] fires when the
    /// flag goes from clear to set; it is cleared once negotiation leaves nothing to do.
    pub(super) fn update_negotiation_needed(&mut self) {
        if self.sig.state != SignalingState::Stable || self.check_open().is_err() {
            return;
        }
        let needed = self.negotiation_needed();
        if needed && !self.sig.negotiation_needed {
            self.emit(Event::NegotiationNeeded);
        }
        self.sig.negotiation_needed = needed;
    }

    /// W3C "check if negotiation is needed" (§4.7.3), for what this connection supports.
    fn negotiation_needed(&self) -> bool {
        if self.wants_data() && !self.sig.mlines.iter().any(|l| l.slot == Slot::Data && !l.rejected) {
            return true;
        }
        let was_offer = self.sig.current_local.as_ref().is_some_and(|d| d.kind == SdpKind::Offer);
        self.transceivers.list.iter().any(|t| {
            if t.stopped {
                return false;
            }
            let Some(mid) = &t.mid else { return !t.stopping };
            let line = self.sig.mlines.iter().find(|l| l.mid == mid.as_str());
            if t.stopping {
                return line.is_some_and(|l| !l.rejected);
            }
            let (Some(local), Some(remote)) = (&t.local, &t.remote) else { return false };
            let expected = if was_offer { t.direction } else { media::answer_direction(remote.direction, t.direction) };
            local.direction != expected || (has_send(t.direction) && local.stream_ids() != t.stream_ids)
        })
    }
}

/// A transceiver whose m-section was rejected: stopped for good.
/// Which encodings an answer lets a transceiver send (RFC 8853 §5.3, RFC 8829 §5.10): with one encoding,
/// that one; when we offered several, those whose rids the answer's `a=rid … recv` lines accept, or only
/// the first (sent without a rid) when the answer accepts none, as Chromium's does; when we answered, the
/// first, the only one our answer signals.
fn settle_encodings(t: &mut Transceiver, answer: Option<&Section>) {
    let accepted: Vec<&str> =
        answer.map(|a| a.rids.iter().filter(|r| !r.send).map(|r| r.id.as_str()).collect()).unwrap_or_default();
    let one = t.encodings.len() == 1;
    let simulcast = !one && !accepted.is_empty();
    for (i, e) in t.encodings.iter_mut().enumerate() {
        e.negotiated = if simulcast { e.rid.as_deref().is_some_and(|r| accepted.contains(&r)) } else { i == 0 };
        e.send_rid = e.rid.is_some() && (simulcast || one);
    }
}

fn stop(t: &mut Transceiver) {
    t.stopping = true;
    t.stopped = true;
    t.current_direction = None;
    t.negotiated = None;
    t.receiving = false;
}

fn formats_of(sdp: &SessionDescription<'_>, mid: &str) -> Option<String> {
    sdp.media_by_mid(mid).map(|m| m.formats.to_string())
}

/// Whether payload type `pt` is free in a section being built (`mine`) and, for a format not among
/// them, in the rest of the BUNDLE group (`others`).
fn pt_free(pt: u8, codec: &Codec, mine: &[Codec], others: &[&Section]) -> bool {
    let uses = |c: &Codec| c.payload_type == pt || c.rtx_payload_type == Some(pt);
    !mine.iter().any(uses) && !others.iter().flat_map(|s| s.codecs.iter()).any(|c| uses(c) && !c.same_format(codec))
}

/// A dynamic payload type (RFC 3551 §3: 96–127, then 35–63; never 64–95, which RTCP would collide with,
/// RFC 5761 §4) that nothing in the section or the BUNDLE group uses, other than `also`.
fn free_pt(mine: &[Codec], others: &[&Section], also: Option<u8>) -> Option<u8> {
    let used = |pt: u8| {
        mine.iter()
            .chain(others.iter().flat_map(|s| s.codecs.iter()))
            .any(|c| c.payload_type == pt || c.rtx_payload_type == Some(pt))
    };
    (96..=127u8).chain(35..=63).find(|&pt| Some(pt) != also && !used(pt))
}

/// `codec` with payload types that agree with the BUNDLE group: the same format elsewhere keeps its
/// payload type (and RTX); otherwise the preferred ones if free, else free dynamic ones.
fn allocate_payload_types(mut codec: Codec, mine: &[Codec], others: &[&Section]) -> Codec {
    let same = others.iter().flat_map(|s| s.codecs.iter()).find(|c| c.same_format(&codec)).cloned();
    match &same {
        Some(s) if pt_free(s.payload_type, &codec, mine, &[]) => {
            codec.payload_type = s.payload_type;
            if codec.rtx_payload_type.is_some() && s.rtx_payload_type.is_some() {
                codec.rtx_payload_type = s.rtx_payload_type;
            }
        }
        _ if pt_free(codec.payload_type, &codec, mine, others) => {}
        _ => match free_pt(mine, others, None) {
            Some(pt) => codec.payload_type = pt,
            None => return Codec { rtx_payload_type: None, ..codec },
        },
    }
    if let Some(rtx) = codec.rtx_payload_type {
        let shared = same.is_some_and(|s| s.rtx_payload_type == Some(rtx));
        let uses = |c: &Codec| c.payload_type == rtx || c.rtx_payload_type == Some(rtx);
        let used = mine.iter().chain(others.iter().flat_map(|s| s.codecs.iter())).any(uses);
        if rtx == codec.payload_type || (used && !shared) {
            codec.rtx_payload_type = free_pt(mine, others, Some(codec.payload_type));
        }
    }
    codec
}

/// The header extensions a new section offers: the configured ones for its kind, each with the id the
/// BUNDLE group already gives its URI (RFC 8285 §7), else the configured id if free, else a free one.
fn offer_extensions(prefs: &[ExtensionPreference], kind: MediaKind, others: &[&Section]) -> Vec<HeaderExtension> {
    let mut out: Vec<HeaderExtension> = Vec::new();
    let group: Vec<HeaderExtension> = others.iter().flat_map(|s| s.extensions.iter().copied()).collect();
    let used = |id: u8, out: &[HeaderExtension]| group.iter().chain(out).any(|e| e.id == id);
    for p in prefs.iter().filter(|p| p.media == kind) {
        if out.iter().any(|e| e.kind == p.kind) {
            continue;
        }
        let id = match group.iter().find(|e| e.kind == p.kind) {
            Some(e) => Some(e.id),
            None if p.id != 0 && !used(p.id, &out) => Some(p.id),
            None => (1..=14u8).find(|&id| !used(id, &out)),
        };
        if let Some(id) = id {
            out.push(HeaderExtension { id, kind: p.kind, direction: Direction::SendRecv });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(codecs: Vec<Codec>, extensions: Vec<HeaderExtension>) -> Section {
        Section { codecs, extensions, ..Section::new(MediaKind::Video) }
    }

    #[test]
    fn payload_types_agree_with_the_bundle() {
        // The peer numbered VP8 120 with RTX 124, and used 96 for something else.
        let theirs = section(
            alloc::vec![
                Codec { payload_type: 120, rtx_payload_type: Some(124), ..Codec::vp8() },
                Codec { payload_type: 96, rtx_payload_type: Some(97), ..Codec::av1(45, 46) }
            ],
            Vec::new(),
        );
        let others = [&theirs];
        let vp8 = allocate_payload_types(Codec::vp8(), &[], &others);
        assert_eq!((vp8.payload_type, vp8.rtx_payload_type), (120, Some(124)));
        // VP9's preferred 98/99 are free; H.264's 102 too.
        let vp9 = allocate_payload_types(Codec::vp9(98, 0, 99), core::slice::from_ref(&vp8), &others);
        assert_eq!((vp9.payload_type, vp9.rtx_payload_type), (98, Some(99)));
        // A codec whose preferred payload type is taken by another format gets a free one.
        let h264 = allocate_payload_types(Codec::h264(96, "42e01f", 97), &[vp8.clone(), vp9.clone()], &others);
        assert!(![96, 97, 98, 99, 120, 124].contains(&h264.payload_type), "{h264:?}");
        assert!(
            h264.rtx_payload_type.is_some_and(|r| r != h264.payload_type && ![96, 97, 98, 99, 120, 124].contains(&r))
        );
        assert!(!(64..=95).contains(&h264.payload_type));
    }

    #[test]
    fn extension_ids_agree_with_the_bundle() {
        let audio = section(
            Vec::new(),
            alloc::vec![
                HeaderExtension { id: 5, kind: ExtensionKind::Mid, direction: Direction::SendRecv },
                HeaderExtension { id: 10, kind: ExtensionKind::AudioLevel, direction: Direction::SendRecv }
            ],
        );
        let ext = offer_extensions(&super::media::DEFAULT_EXTENSIONS, MediaKind::Video, &[&audio]);
        let get = |k| ext.iter().find(|e| e.kind == k).map(|e| e.id);
        // MID keeps the group's id; RID's preferred 10 is taken, so it gets the lowest free one.
        assert_eq!(get(ExtensionKind::Mid), Some(5));
        assert_eq!(get(ExtensionKind::RtpStreamId), Some(1));
        assert_eq!(get(ExtensionKind::AbsSendTime), Some(2));
        assert_eq!(get(ExtensionKind::VideoOrientation), Some(13));
        let ids: Vec<u8> = ext.iter().map(|e| e.id).collect();
        for (i, id) in ids.iter().enumerate() {
            assert!(!ids[i + 1..].contains(id) && *id != 10);
        }
    }
}
