//! One direction of SRTP/SRTCP: session keys for one master key, and per-SSRC state (rollover counter,
//! highest index, replay windows, SRTCP index).

use alloc::vec::Vec;

use super::crypto::{Transform, tags_equal};
use super::replay::ReplayWindow;
use super::wire::{self, E_FLAG, RTCP_HEADER, SRTCP_INDEX_MASK};
use super::{Config, Error, Profile, Stats, TARGET, UnknownSsrc};

/// SRTCP trailer: E flag and 31-bit index.
const SRTCP_TRAILER: usize = 4;

#[derive(Clone, Debug)]
struct RtpState {
    /// Highest authenticated 48-bit packet index: `ROC << 16 | SEQ` (RFC 3711 §3.3.1).
    highest: u64,
    window: ReplayWindow,
}

#[derive(Clone, Debug)]
struct RtcpState {
    /// Highest authenticated 31-bit SRTCP index.
    highest: u32,
    window: ReplayWindow,
}

#[derive(Clone, Debug)]
struct Stream {
    ssrc: u32,
    rtp: Option<RtpState>,
    rtcp: Option<RtcpState>,
    /// Next SRTCP index to send.
    rtcp_next: u32,
}

impl Stream {
    fn new(ssrc: u32) -> Self {
        Self { ssrc, rtp: None, rtcp: None, rtcp_next: 0 }
    }
}

/// Where an SRTCP index falls relative to the highest one seen.
enum RtcpPosition {
    First,
    Ahead(u32),
    Behind(u32),
}

/// Estimates the 48-bit packet index of `seq` from the highest index seen (RFC 3711 Appendix A).
/// `None` when the packet would precede rollover counter 0, i.e. before the stream began.
fn estimate_index(highest: u64, seq: u16) -> Option<u64> {
    let roc = (highest >> 16) as u32;
    let s_l = highest as u16;
    let v = if s_l < 0x8000 {
        if seq > s_l && seq - s_l > 0x8000 { roc.checked_sub(1)? } else { roc }
    } else if seq < s_l - 0x8000 {
        roc.wrapping_add(1)
    } else {
        roc
    };
    Some((u64::from(v) << 16) | u64::from(seq))
}

/// SRTP and SRTCP for one direction under one master key.
///
/// Outbound: call [`protect_rtp`](Self::protect_rtp) / [`protect_rtcp`](Self::protect_rtcp) per packet.
/// Inbound: call [`unprotect_rtp`](Self::unprotect_rtp) / [`unprotect_rtcp`](Self::unprotect_rtcp).
/// Per-SSRC state is created on the first packet of an SSRC (inbound: only once it authenticates, and
/// only if [`Config::unknown_ssrc`] allows it), up to [`Config::max_streams`]. Every operation works in
/// place on the caller's buffer and does not allocate (the per-SSRC table is allocated once, here).
/// A failed operation never changes the state: rollover counters and replay windows move only after
/// a packet authenticates.
#[derive(Debug)]
pub struct Context {
    profile: Profile,
    config: Config,
    rtp: Transform,
    rtcp: Transform,
    streams: Vec<Stream>,
    stats: Stats,
}

impl Context {
    /// Derives the session keys from a master key and salt (RFC 3711 §4.3) for `profile`.
    pub fn new(profile: Profile, master_key: &[u8], master_salt: &[u8], config: Config) -> Result<Self, Error> {
        config.validate()?;
        let rtp = Transform::derive(profile, master_key, master_salt, false)?;
        let rtcp = Transform::derive(profile, master_key, master_salt, true)?;
        Ok(Self::with_transforms(profile, rtp, rtcp, config))
    }

    pub(crate) fn with_transforms(profile: Profile, rtp: Transform, rtcp: Transform, config: Config) -> Self {
        Self { profile, config, rtp, rtcp, streams: Vec::with_capacity(config.max_streams), stats: Stats::default() }
    }

    /// The protection profile.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// Counters of protected, unprotected and dropped packets.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Number of per-SSRC contexts.
    pub fn stream_count(&self) -> usize {
        self.streams.len()
    }

    /// The rollover counter of `ssrc`'s RTP stream, if any packet of it has been processed.
    pub fn roc(&self, ssrc: u32) -> Option<u32> {
        let s = self.streams.iter().find(|s| s.ssrc == ssrc)?;
        s.rtp.as_ref().map(|r| (r.highest >> 16) as u32)
    }

    /// Sets the next SRTCP index to send for `ssrc` (creating its context). Mostly for tests.
    pub fn set_srtcp_index(&mut self, ssrc: u32, index: u32) -> Result<(), Error> {
        let i = self.slot_or_create(ssrc)?;
        if let Some(s) = self.streams.get_mut(i) {
            s.rtcp_next = index & SRTCP_INDEX_MASK;
        }
        Ok(())
    }

    /// Sets the rollover counter of `ssrc`'s RTP stream (creating its context), e.g. when joining a
    /// stream in progress whose ROC is signalled out of band. Packet indices are then estimated around
    /// `roc << 16 | seq`; the replay window starts empty, so the packet `seq` itself is still accepted.
    pub fn set_roc(&mut self, ssrc: u32, roc: u32, seq: u16) -> Result<(), Error> {
        let size = self.config.replay_window;
        let i = self.slot_or_create(ssrc)?;
        if let Some(s) = self.streams.get_mut(i) {
            let window = ReplayWindow::new(size);
            s.rtp = Some(RtpState { highest: (u64::from(roc) << 16) | u64::from(seq), window });
        }
        Ok(())
    }

    fn slot(&self, ssrc: u32) -> Option<usize> {
        self.streams.iter().position(|s| s.ssrc == ssrc)
    }

    fn may_create(&self, ssrc: u32, inbound: bool) -> Result<(), Error> {
        if inbound && self.config.unknown_ssrc == UnknownSsrc::Reject {
            return Err(Error::UnknownSsrc(ssrc));
        }
        if self.streams.len() >= self.config.max_streams {
            return Err(Error::TooManyStreams);
        }
        Ok(())
    }

    fn slot_or_create(&mut self, ssrc: u32) -> Result<usize, Error> {
        if let Some(i) = self.slot(ssrc) {
            return Ok(i);
        }
        self.may_create(ssrc, false)?;
        self.streams.push(Stream::new(ssrc));
        Ok(self.streams.len() - 1)
    }

    fn record<T>(&mut self, what: &'static str, r: Result<T, Error>) -> Result<T, Error> {
        match &r {
            Ok(_) => {}
            Err(e) => {
                self.stats.count(*e);
                tracing::trace!(target: TARGET, error = %e, "{what}: dropped");
            }
        }
        r
    }

    /// Protects the RTP packet in `buf` in place, appending the tag. Grows `buf` only if its capacity
    /// is short of [`Profile::rtp_overhead`]; give it that much spare capacity to avoid allocating.
    pub fn protect_rtp(&mut self, buf: &mut Vec<u8>) -> Result<(), Error> {
        let room = self.rtp.tag_len();
        grow_and_run(buf, room, |b, len| self.protect_rtp_in_place(b, len))
    }

    /// Protects the RTP packet `buf[..len]` in place; `buf` must have room for the tag after it.
    /// Returns the length of the SRTP packet.
    pub fn protect_rtp_in_place(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> {
        let r = self.protect_rtp_inner(buf, len);
        if r.is_ok() {
            self.stats.rtp_protected += 1;
        }
        self.record("protect_rtp", r)
    }

    fn protect_rtp_inner(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> {
        let tag_len = self.rtp.tag_len();
        let total = len.checked_add(tag_len).ok_or(Error::BufferTooSmall)?;
        if buf.len() < total {
            return Err(Error::BufferTooSmall);
        }
        let hdr = wire::rtp_header(buf.get(..len).ok_or(Error::BufferTooSmall)?)?;
        let slot = self.slot(hdr.ssrc);
        let index = match slot.and_then(|i| self.streams.get(i)).and_then(|s| s.rtp.as_ref()) {
            Some(st) => estimate_index(st.highest, hdr.seq).ok_or(Error::TooOld)?,
            None => {
                if slot.is_none() {
                    self.may_create(hdr.ssrc, false)?;
                }
                u64::from(hdr.seq)
            }
        };
        let roc = (index >> 16) as u32;
        let (body, rest) = buf.split_at_mut_checked(len).ok_or(Error::BufferTooSmall)?;
        let tag = rest.get_mut(..tag_len).ok_or(Error::BufferTooSmall)?;
        match &self.rtp {
            Transform::Cm { aes, salt, mac, .. } => {
                let payload = body.get_mut(hdr.len..).ok_or(Error::Malformed)?;
                Transform::cm_apply(aes, salt, hdr.ssrc, index, payload);
                // RFC 3711 §4.2: the tag covers the authenticated portion followed by the ROC.
                Transform::hmac(mac, &[body, &roc.to_be_bytes()], tag);
            }
            t => {
                let iv = Transform::gcm_iv(t.gcm_salt(), hdr.ssrc, roc, hdr.seq);
                let (aad, payload) = body.split_at_mut_checked(hdr.len).ok_or(Error::Malformed)?;
                tag.copy_from_slice(&t.gcm_seal(&iv, aad, payload));
            }
        }
        self.commit_rtp(slot, hdr.ssrc, index);
        Ok(total)
    }

    /// Unprotects the SRTP packet in `buf` in place, removing the tag.
    pub fn unprotect_rtp(&mut self, buf: &mut Vec<u8>) -> Result<(), Error> {
        let n = self.unprotect_rtp_in_place(buf)?;
        buf.truncate(n);
        Ok(())
    }

    /// Unprotects the SRTP packet filling `buf` in place. Returns the length of the RTP packet (the tag
    /// is left behind it). On error the state is unchanged.
    pub fn unprotect_rtp_in_place(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let r = self.unprotect_rtp_inner(buf);
        if r.is_ok() {
            self.stats.rtp_unprotected += 1;
        }
        self.record("unprotect_rtp", r)
    }

    /// The stream slot and packet index of a received RTP header, checked against the replay window
    /// (RFC 3711 §3.3.2), and whether a new stream may be made for it.
    fn receive_index(&mut self, hdr: &wire::RtpHeader) -> Result<(Option<usize>, u64), Error> {
        let slot = self.slot(hdr.ssrc);
        let index = match slot.and_then(|i| self.streams.get(i)).and_then(|s| s.rtp.as_ref()) {
            Some(st) => {
                let index = estimate_index(st.highest, hdr.seq).ok_or(Error::TooOld)?;
                if index <= st.highest {
                    st.window.check_behind(st.highest - index)?;
                }
                index
            }
            None => {
                if slot.is_none() {
                    self.may_create(hdr.ssrc, true)?;
                }
                u64::from(hdr.seq)
            }
        };
        Ok((slot, index))
    }

    /// Unprotects the SRTP packet `src` into `dst` (at least `src.len()` minus the tag long): the copy
    /// is folded into the decryption. Returns the length of the RTP packet at the start of `dst`. On
    /// error the state is unchanged and `dst` holds nothing meaningful.
    pub fn unprotect_rtp_to(&mut self, src: &[u8], dst: &mut [u8]) -> Result<usize, Error> {
        let r = self.unprotect_rtp_to_inner(src, dst);
        if r.is_ok() {
            self.stats.rtp_unprotected += 1;
        }
        self.record("unprotect_rtp", r)
    }

    fn unprotect_rtp_to_inner(&mut self, src: &[u8], dst: &mut [u8]) -> Result<usize, Error> {
        let tag_len = self.rtp.tag_len();
        let len = src.len().checked_sub(tag_len).ok_or(Error::TooShort)?;
        let (body, tag) = src.split_at_checked(len).ok_or(Error::TooShort)?;
        let hdr = wire::rtp_header(body)?;
        let (slot, index) = self.receive_index(&hdr)?;
        let roc = (index >> 16) as u32;
        let out = dst.get_mut(..len).ok_or(Error::BufferTooSmall)?;
        match &self.rtp {
            Transform::Cm { aes, salt, mac, .. } => {
                let mut expected = [0u8; 10];
                let expected = expected.get_mut(..tag_len).ok_or(Error::TooShort)?;
                Transform::hmac(mac, &[body, &roc.to_be_bytes()], expected);
                if !tags_equal(expected, tag) {
                    return Err(Error::AuthFailed);
                }
                out.copy_from_slice(body);
                let payload = out.get_mut(hdr.len..).ok_or(Error::Malformed)?;
                Transform::cm_apply(aes, salt, hdr.ssrc, index, payload);
            }
            t => {
                let iv = Transform::gcm_iv(t.gcm_salt(), hdr.ssrc, roc, hdr.seq);
                let (aad, payload) = body.split_at_checked(hdr.len).ok_or(Error::Malformed)?;
                let (out_header, out_payload) = out.split_at_mut_checked(hdr.len).ok_or(Error::Malformed)?;
                t.gcm_open_to(&iv, aad, payload, out_payload, tag)?;
                out_header.copy_from_slice(aad);
            }
        }
        self.commit_rtp(slot, hdr.ssrc, index);
        Ok(len)
    }

    fn unprotect_rtp_inner(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let tag_len = self.rtp.tag_len();
        let len = buf.len().checked_sub(tag_len).ok_or(Error::TooShort)?;
        let (body, tag) = buf.split_at_mut_checked(len).ok_or(Error::TooShort)?;
        let hdr = wire::rtp_header(body)?;
        let (slot, index) = self.receive_index(&hdr)?;
        let roc = (index >> 16) as u32;
        match &self.rtp {
            Transform::Cm { aes, salt, mac, .. } => {
                let mut expected = [0u8; 10];
                let expected = expected.get_mut(..tag_len).ok_or(Error::TooShort)?;
                Transform::hmac(mac, &[body, &roc.to_be_bytes()], expected);
                if !tags_equal(expected, tag) {
                    return Err(Error::AuthFailed);
                }
                let payload = body.get_mut(hdr.len..).ok_or(Error::Malformed)?;
                Transform::cm_apply(aes, salt, hdr.ssrc, index, payload);
            }
            t => {
                let iv = Transform::gcm_iv(t.gcm_salt(), hdr.ssrc, roc, hdr.seq);
                let (aad, payload) = body.split_at_mut_checked(hdr.len).ok_or(Error::Malformed)?;
                t.gcm_open(&iv, aad, payload, tag)?;
            }
        }
        self.commit_rtp(slot, hdr.ssrc, index);
        Ok(len)
    }

    /// Records an authenticated (or sent) RTP index: creates the stream if needed and moves the window.
    fn commit_rtp(&mut self, slot: Option<usize>, ssrc: u32, index: u64) {
        let size = self.config.replay_window;
        let i = match slot {
            Some(i) => i,
            None => {
                self.streams.push(Stream::new(ssrc));
                self.streams.len() - 1
            }
        };
        let Some(stream) = self.streams.get_mut(i) else { return };
        match &mut stream.rtp {
            Some(st) if index > st.highest => {
                if (index >> 16) != (st.highest >> 16) {
                    tracing::trace!(target: TARGET, ssrc, roc = index >> 16, "rollover counter advanced");
                }
                st.window.advance(index - st.highest);
                st.highest = index;
            }
            Some(st) => st.window.mark_behind(st.highest - index),
            None => {
                let mut window = ReplayWindow::new(size);
                window.advance(0);
                stream.rtp = Some(RtpState { highest: index, window });
            }
        }
    }

    /// Protects the RTCP compound packet in `buf` in place, appending the SRTCP trailer (E flag and
    /// index) and the tag. Grows `buf` only if its capacity is short of [`Profile::rtcp_overhead`].
    pub fn protect_rtcp(&mut self, buf: &mut Vec<u8>) -> Result<(), Error> {
        let room = self.rtcp.tag_len() + SRTCP_TRAILER;
        grow_and_run(buf, room, |b, len| self.protect_rtcp_in_place(b, len))
    }

    /// Protects the RTCP packet `buf[..len]` in place; `buf` must have room for the trailer and tag.
    /// Returns the length of the SRTCP packet. Always encrypts (E flag set).
    pub fn protect_rtcp_in_place(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> {
        let r = self.protect_rtcp_inner(buf, len);
        if r.is_ok() {
            self.stats.rtcp_protected += 1;
        }
        self.record("protect_rtcp", r)
    }

    fn protect_rtcp_inner(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> {
        let tag_len = self.rtcp.tag_len();
        let total = len.checked_add(tag_len + SRTCP_TRAILER).ok_or(Error::BufferTooSmall)?;
        if buf.len() < total {
            return Err(Error::BufferTooSmall);
        }
        let ssrc = wire::rtcp_ssrc(buf.get(..len).ok_or(Error::BufferTooSmall)?)?;
        let slot = self.slot(ssrc);
        if slot.is_none() {
            self.may_create(ssrc, false)?;
        }
        let index = slot.and_then(|i| self.streams.get(i)).map_or(0, |s| s.rtcp_next);
        let word = (E_FLAG | index).to_be_bytes();
        let (body, rest) = buf.split_at_mut_checked(len).ok_or(Error::BufferTooSmall)?;
        match &self.rtcp {
            Transform::Cm { aes, salt, mac, .. } => {
                let payload = body.get_mut(RTCP_HEADER..).ok_or(Error::TooShort)?;
                Transform::cm_apply(aes, salt, ssrc, u64::from(index), payload);
                let (trailer, tag) = rest.split_at_mut_checked(SRTCP_TRAILER).ok_or(Error::BufferTooSmall)?;
                trailer.copy_from_slice(&word);
                // RFC 3711 §3.4: the tag covers the header, the encrypted portion and the trailer word.
                let tag = tag.get_mut(..tag_len).ok_or(Error::BufferTooSmall)?;
                Transform::hmac(mac, &[body, &word], tag);
            }
            t => {
                // RFC 7714 §9.1: IV from SSRC and the 31-bit index; AAD = first 8 octets || ESRTCP word.
                let iv = Transform::gcm_iv(t.gcm_salt(), ssrc, index >> 16, index as u16);
                let (head, payload) = body.split_at_mut_checked(RTCP_HEADER).ok_or(Error::TooShort)?;
                let mut aad = [0u8; RTCP_HEADER + SRTCP_TRAILER];
                aad[..RTCP_HEADER].copy_from_slice(head);
                aad[RTCP_HEADER..].copy_from_slice(&word);
                let sealed = t.gcm_seal(&iv, &aad, payload);
                let (tag, trailer) = rest.split_at_mut_checked(tag_len).ok_or(Error::BufferTooSmall)?;
                tag.copy_from_slice(&sealed);
                trailer.get_mut(..SRTCP_TRAILER).ok_or(Error::BufferTooSmall)?.copy_from_slice(&word);
            }
        }
        let i = match slot {
            Some(i) => i,
            None => {
                self.streams.push(Stream::new(ssrc));
                self.streams.len() - 1
            }
        };
        if let Some(s) = self.streams.get_mut(i) {
            // The index is 31 bits and wraps to 0 (RFC 3711 §3.4; rekeying is the caller's business).
            s.rtcp_next = index.wrapping_add(1) & SRTCP_INDEX_MASK;
        }
        Ok(total)
    }

    /// Unprotects the SRTCP packet in `buf` in place, removing the trailer and tag.
    pub fn unprotect_rtcp(&mut self, buf: &mut Vec<u8>) -> Result<(), Error> {
        let n = self.unprotect_rtcp_in_place(buf)?;
        buf.truncate(n);
        Ok(())
    }

    /// Unprotects the SRTCP packet filling `buf` in place. Returns the length of the RTCP compound
    /// packet. Packets with the E flag clear (authenticated, not encrypted) are accepted too.
    pub fn unprotect_rtcp_in_place(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let r = self.unprotect_rtcp_inner(buf);
        if r.is_ok() {
            self.stats.rtcp_unprotected += 1;
        }
        self.record("unprotect_rtcp", r)
    }

    fn rtcp_position(&self, slot: Option<usize>, index: u32) -> Result<RtcpPosition, Error> {
        let Some(st) = slot.and_then(|i| self.streams.get(i)).and_then(|s| s.rtcp.as_ref()) else {
            return Ok(RtcpPosition::First);
        };
        // Indices compare modulo 2^31 so that a sender's wrap to 0 is "ahead".
        let ahead = index.wrapping_sub(st.highest) & SRTCP_INDEX_MASK;
        if ahead == 0 {
            Err(Error::Replayed)
        } else if ahead < 1 << 30 {
            Ok(RtcpPosition::Ahead(ahead))
        } else {
            let behind = st.highest.wrapping_sub(index) & SRTCP_INDEX_MASK;
            st.window.check_behind(u64::from(behind))?;
            Ok(RtcpPosition::Behind(behind))
        }
    }

    fn unprotect_rtcp_inner(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let tag_len = self.rtcp.tag_len();
        let total = buf.len();
        let len = total.checked_sub(tag_len + SRTCP_TRAILER).ok_or(Error::TooShort)?;
        if len < RTCP_HEADER {
            return Err(Error::TooShort);
        }
        let ssrc = wire::rtcp_ssrc(buf)?;
        let is_gcm = !matches!(self.rtcp, Transform::Cm { .. });
        // CM: body | word | tag.  GCM: body | tag | word.
        let word_at = if is_gcm { total - SRTCP_TRAILER } else { len };
        let word = wire::be32(buf, word_at).ok_or(Error::TooShort)?;
        let index = word & SRTCP_INDEX_MASK;
        let encrypted = word & E_FLAG != 0;
        let slot = self.slot(ssrc);
        if slot.is_none() {
            self.may_create(ssrc, true)?;
        }
        let position = self.rtcp_position(slot, index)?;
        match &self.rtcp {
            Transform::Cm { aes, salt, mac, .. } => {
                let (authed, tag) = buf.split_at_mut_checked(len + SRTCP_TRAILER).ok_or(Error::TooShort)?;
                let mut expected = [0u8; 10];
                let expected = expected.get_mut(..tag_len).ok_or(Error::TooShort)?;
                Transform::hmac(mac, &[authed], expected);
                if !tags_equal(expected, tag) {
                    return Err(Error::AuthFailed);
                }
                if encrypted {
                    let payload = authed.get_mut(RTCP_HEADER..len).ok_or(Error::TooShort)?;
                    Transform::cm_apply(aes, salt, ssrc, u64::from(index), payload);
                }
            }
            t => {
                let iv = Transform::gcm_iv(t.gcm_salt(), ssrc, index >> 16, index as u16);
                let word_bytes = word.to_be_bytes();
                if encrypted {
                    let (body, tail) = buf.split_at_mut_checked(len).ok_or(Error::TooShort)?;
                    let tag = tail.get(..tag_len).ok_or(Error::TooShort)?;
                    let (head, payload) = body.split_at_mut_checked(RTCP_HEADER).ok_or(Error::TooShort)?;
                    let mut aad = [0u8; RTCP_HEADER + SRTCP_TRAILER];
                    aad[..RTCP_HEADER].copy_from_slice(head);
                    aad[RTCP_HEADER..].copy_from_slice(&word_bytes);
                    t.gcm_open(&iv, &aad, payload, tag)?;
                } else {
                    // RFC 7714 §9.2 / §17: E = 0, the whole packet and the ESRTCP word are AAD. Move the
                    // word next to the packet so the AAD is contiguous; restore on failure.
                    let mut tag = [0u8; 16];
                    tag.copy_from_slice(buf.get(len..len + 16).ok_or(Error::TooShort)?);
                    let slot4 = buf.get_mut(len..len + SRTCP_TRAILER).ok_or(Error::TooShort)?;
                    slot4.copy_from_slice(&word_bytes);
                    let aad = buf.get(..len + SRTCP_TRAILER).ok_or(Error::TooShort)?;
                    let r = t.gcm_open(&iv, aad, &mut [], &tag);
                    if let Some(s) = buf.get_mut(len..len + 16) {
                        s.copy_from_slice(&tag);
                    }
                    r?;
                }
            }
        }
        let size = self.config.replay_window;
        let i = match slot {
            Some(i) => i,
            None => {
                self.streams.push(Stream::new(ssrc));
                self.streams.len() - 1
            }
        };
        if let Some(s) = self.streams.get_mut(i) {
            match (&mut s.rtcp, position) {
                (Some(st), RtcpPosition::Ahead(n)) => {
                    st.window.advance(u64::from(n));
                    st.highest = index;
                }
                (Some(st), RtcpPosition::Behind(n)) => st.window.mark_behind(u64::from(n)),
                _ => {
                    let mut window = ReplayWindow::new(size);
                    window.advance(0);
                    s.rtcp = Some(RtcpState { highest: index, window });
                }
            }
        }
        Ok(len)
    }
}

/// Grows `buf` by `room` zero bytes, runs the in-place `op` on `(buf, old length)`, and leaves `buf` at the
/// length `op` returns, or at its old length when `op` fails. Allocates only if `buf` lacks the capacity.
fn grow_and_run(
    buf: &mut Vec<u8>,
    room: usize,
    op: impl FnOnce(&mut [u8], usize) -> Result<usize, Error>,
) -> Result<(), Error> {
    let len = buf.len();
    buf.resize(len + room, 0);
    match op(buf, len) {
        Ok(n) => {
            buf.truncate(n);
            Ok(())
        }
        Err(e) => {
            buf.truncate(len);
            Err(e)
        }
    }
}
