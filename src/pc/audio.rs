//! Audio loss protection and DTMF on the connection's RTP path: the connection hands received packets
//! of a negotiated RED format to a [`RedDecoder`] per stream and reports the Opus packets it gives
//! back, wraps sent Opus in RED through a [`RedEncoder`] per stream when [`super::Config::red_distance`]
//! asks for it, and drives a [`DtmfSender`] per transceiver ([`PeerConnection::insert_dtmf`]) and a
//! [`DtmfReceiver`] per received telephone-event stream, whose deadlines are part of `poll_timeout`.
//! The formats and machines themselves are [`crate::packetize::red`] and [`crate::packetize::dtmf`].

use alloc::vec::Vec;
use core::time::Duration;

use smallvec::SmallVec;

use super::conn::PeerConnection;
use super::error::Error;
use super::rtp::{OutgoingRtp, RtpPacket};
use super::transceiver::TransceiverId;
use super::{Event, TARGET};
use crate::packetize::dtmf::{DtmfPacket, DtmfReceiver, DtmfSender, ToneChange};
use crate::packetize::red::{RedDecoder, RedEncoder};
use crate::time::Instant;

/// At most this many received streams have a RED decoder, and as many a DTMF receiver (the oldest is
/// dropped for a new one).
const MAX_STREAMS: usize = 16;

/// How long a received DTMF event without an end report lasts before it is reported (five of the
/// 50 ms intervals senders use).
pub(super) const DTMF_TIMEOUT: Duration = Duration::from_millis(250);

/// What the connection keeps for RED and DTMF (empty until used).
#[derive(Debug, Default)]
pub(super) struct AudioState {
    red_rx: Vec<(u32, RedDecoder)>,
    red_tx: Vec<(u32, RedEncoder)>,
    dtmf_rx: Vec<(u32, (TransceiverId, DtmfReceiver))>,
    dtmf_tx: Vec<DtmfSend>,
    send_timeout: Option<SendTimeout>,
    /// The newest audio packet sent per SSRC: (SSRC, RTP timestamp, when), the clock DTMF follows.
    clocks: Vec<(u32, u32, Instant)>,
}

/// What `handle_timeout` calls for the DTMF senders: set by [`PeerConnection::insert_dtmf`], so that a
/// program that never sends DTMF does not link the senders and the RTP send path into `handle_timeout`
/// (the bare-metal firmware, data channels only, has a flash budget).
type SendTimeout = fn(&mut PeerConnection, Instant);

/// A transceiver's DTMF sender.
#[derive(Debug)]
struct DtmfSend {
    transceiver: TransceiverId,
    payload_type: u8,
    clock_rate: u32,
    sender: DtmfSender,
}

/// Finds or makes the entry of `key` in a list bounded at [`MAX_STREAMS`] (when full, a new key takes
/// the first entry's place).
fn entry<K: PartialEq + Copy, V>(list: &mut Vec<(K, V)>, key: K, make: impl FnOnce() -> V) -> Option<&mut V> {
    match list.iter().position(|(k, _)| *k == key) {
        Some(i) => list.get_mut(i).map(|(_, v)| v),
        None if list.len() < MAX_STREAMS => {
            list.push((key, make()));
            list.last_mut().map(|(_, v)| v)
        }
        None => {
            let first = list.first_mut()?;
            *first = (key, make());
            Some(&mut first.1)
        }
    }
}

impl AudioState {
    /// The RED payload for `payload` on stream `ssrc`, repeating up to `distance` earlier payloads in at
    /// most `max_len` octets; `None` if it cannot be made (the caller then sends the payload as it is).
    pub(super) fn red_encode(
        &mut self,
        ssrc: u32,
        distance: usize,
        max_len: usize,
        payload_type: u8,
        timestamp: u32,
        payload: &[u8],
    ) -> Option<&[u8]> {
        let enc = entry(&mut self.red_tx, ssrc, || RedEncoder::new(distance, max_len))?;
        enc.encode(payload_type, timestamp, payload).ok()
    }

    /// Notes the newest audio timestamp sent on `ssrc`.
    pub(super) fn sent(&mut self, ssrc: u32, timestamp: u32, now: Instant) {
        if let Some(c) = self.clocks.iter_mut().find(|c| c.0 == ssrc) {
            *c = (ssrc, timestamp, now);
        } else if self.clocks.len() < MAX_STREAMS {
            self.clocks.push((ssrc, timestamp, now));
        }
    }

    /// The earliest DTMF deadline.
    pub(super) fn deadline(&self) -> Option<Instant> {
        let mut earliest: Option<Instant> = None;
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t.filter(|t| earliest.is_none_or(|e| *t < e)) {
                earliest = Some(t);
            }
        };
        for s in &self.dtmf_tx {
            consider(s.sender.poll_timeout());
        }
        for (_, (_, r)) in &self.dtmf_rx {
            consider(r.poll_timeout());
        }
        earliest
    }
}

impl PeerConnection {
    /// Reports a received packet: a RED one as the packets it carries (those not delivered before; one
    /// with padding alone as it came), a
    /// telephone-event one as it is and, through its stream's receiver, as [`Event::Dtmf`] once per
    /// event; any other as it is.
    pub(super) fn deliver_rtp(&mut self, packet: RtpPacket) {
        let kind = self
            .transceivers
            .get(packet.transceiver)
            .and_then(|t| t.negotiated.as_ref())
            .and_then(|n| n.codec(packet.payload_type))
            .filter(|(_, rtx)| !rtx && !packet.rtx)
            .map(|(c, _)| (c.is_red(), c.is_telephone_event()));
        match kind {
            Some((true, _)) => self.deliver_red(packet),
            Some((_, true)) => {
                let now = self.now();
                let (ssrc, transceiver, ts) = (packet.ssrc, packet.transceiver, packet.timestamp);
                let m = self.media.state();
                let make = || (transceiver, DtmfReceiver::new(DTMF_TIMEOUT));
                if let Some((_, rx)) = entry(&mut m.audio.dtmf_rx, ssrc, make) {
                    if rx.handle_receive(now, ts, packet.payload()).is_err() {
                        self.stats.rtp_malformed += 1;
                    }
                }
                self.emit(Event::Rtp(packet));
                self.take_digits();
            }
            _ => {
                self.emit(Event::Rtp(packet));
            }
        }
    }

    /// Splits a RED packet with its stream's decoder; each block of a negotiated non-RED format goes up
    /// as an [`Event::Rtp`] sharing the packet's buffer.
    fn deliver_red(&mut self, packet: RtpPacket) {
        // Padding alone (bandwidth probes): nothing to unwrap, up as it came.
        if packet.payload().is_empty() {
            self.emit(Event::Rtp(packet));
            return;
        }
        let payload_start = packet.payload_start();
        let m = self.media.state();
        // The stream's decoder, taken out while its blocks go up as events (and put back after).
        let Some(slot) = entry(&mut m.audio.red_rx, packet.ssrc, RedDecoder::new) else { return };
        let mut dec = core::mem::take(slot);
        let r = dec.receive(packet.sequence_number, packet.timestamp, packet.payload(), &mut |b| {
            let negotiated = self.transceivers.get(packet.transceiver).and_then(|t| t.negotiated.as_ref());
            let codec = negotiated.and_then(|n| n.codec(b.payload_type));
            if !codec.is_some_and(|(c, rtx)| !rtx && !c.is_red() && !c.is_telephone_event()) {
                // A block of a format not negotiated (RED inside RED, telephone events): dropped.
                self.stats.rtp_unknown_payload_type += 1;
                return;
            }
            let start = payload_start + b.offset;
            let range = start..start + b.data.len();
            let p = packet.unwrapped(b.payload_type, b.timestamp, b.sequence_number, range, b.recovered);
            self.emit(Event::Rtp(p));
        });
        if r.is_err() {
            self.stats.rtp_malformed += 1;
        }
        if let Some(slot) =
            self.media.state.as_deref_mut().and_then(|m| m.audio.red_rx.iter_mut().find(|e| e.0 == packet.ssrc))
        {
            slot.1 = dec;
        }
    }

    /// Reports the digits the DTMF receivers have.
    fn take_digits(&mut self) {
        loop {
            let Some(m) = self.media.state.as_deref_mut() else { return };
            let next = m.audio.dtmf_rx.iter_mut().find_map(|(ssrc, (t, rx))| Some((*t, *ssrc, rx.poll_event()?)));
            let Some((transceiver, ssrc, digit)) = next else { return };
            let mid = self.transceivers.get(transceiver).and_then(|t| t.mid.clone()).unwrap_or_default();
            self.emit(Event::Dtmf { transceiver, mid, ssrc, digit });
        }
    }

    /// The earliest deadline of the DTMF senders and receivers.
    pub(super) fn audio_deadline(&self) -> Option<Instant> {
        self.media.state.as_deref()?.audio.deadline()
    }

    /// Fires what is due of DTMF: digits whose end reports were lost, and (once `insert_dtmf` was
    /// called) the packets and tone changes of the tones being sent.
    pub(super) fn audio_timeout(&mut self, now: Instant) {
        let Some(m) = self.media.state.as_deref_mut() else { return };
        if m.audio.dtmf_rx.is_empty() && m.audio.send_timeout.is_none() {
            return;
        }
        for (_, (_, rx)) in &mut m.audio.dtmf_rx {
            rx.handle_timeout(now);
        }
        if let Some(send_timeout) = m.audio.send_timeout {
            send_timeout(self, now);
        }
        self.take_digits();
    }

    /// The senders' part of [`PeerConnection::audio_timeout`]: their packets go out through
    /// [`PeerConnection::write_rtp`], their tone changes become events.
    fn dtmf_send_timeout(&mut self, now: Instant) {
        let Some(m) = self.media.state.as_deref_mut() else { return };
        let mut packets: SmallVec<[(TransceiverId, u8, DtmfPacket); 8]> = SmallVec::new();
        let mut changes: SmallVec<[(TransceiverId, ToneChange); 2]> = SmallVec::new();
        for s in &mut m.audio.dtmf_tx {
            s.sender.handle_timeout(now);
            while let Some(p) = s.sender.poll_packet() {
                packets.push((s.transceiver, s.payload_type, p));
            }
            while let Some(c) = s.sender.poll_event() {
                changes.push((s.transceiver, c));
            }
        }
        m.audio.dtmf_tx.retain(|s| s.sender.poll_timeout().is_some());
        for (transceiver, change) in changes {
            let mid = self.transceivers.get(transceiver).and_then(|t| t.mid.clone()).unwrap_or_default();
            let tone = match change {
                ToneChange::Tone(c) => Some(c),
                ToneChange::Done => None,
            };
            self.emit(Event::DtmfToneChange { transceiver, mid, tone });
        }
        for (transceiver, payload_type, p) in packets {
            let Some(mid) = self.transceivers.get(transceiver).and_then(|t| t.mid.clone()) else { continue };
            let payload = p.payload();
            let out = OutgoingRtp { marker: p.marker, ..OutgoingRtp::new(payload_type, p.timestamp, &payload) };
            if let Err(e) = self.write_rtp(now, mid.as_str(), &out) {
                tracing::debug!(target: TARGET, error = %e, "DTMF packet not sent");
            }
        }
    }

    /// W3C `RTCDTMFSender.insertDTMF(tones, duration, interToneGap)` on the transceiver of m-section
    /// `mid`: sends `tones` (`0`–`9`, `A`–`D`, `#`, `*`, and `,` for a 2 s pause) as RFC 4733 telephone
    /// events, each sounding `duration` (clamped to 40–6000 ms) with `gap` (at least 30 ms) between
    /// them, replacing tones still queued. The telephone-event format is the negotiated one whose clock
    /// rate is the audio codec's (48000 with Opus), else the first negotiated; its events follow the
    /// RTP clock of the audio sent on the transceiver. Packets go every 50 ms while a tone sounds, the
    /// end three times (RFC 4733 §2.5.1.4), paced by `poll_timeout`; [`Event::DtmfToneChange`] says
    /// when each tone starts and when all are done. Errors: [`Error::NoSuchTransceiver`],
    /// [`Error::NotSending`], [`Error::UnsupportedCodec`] (no telephone-event negotiated),
    /// [`Error::InvalidParameter`] (a character that is no tone, or more than 128). Then call
    /// `poll_timeout`.
    pub fn insert_dtmf(
        &mut self,
        now: Instant,
        mid: &str,
        tones: &str,
        duration: Duration,
        gap: Duration,
    ) -> Result<(), Error> {
        self.touch(now);
        let now = self.now();
        self.check_open()?;
        let t = self.transceivers.by_mid(mid).ok_or(Error::NoSuchTransceiver)?;
        if !t.sends() {
            return Err(Error::NotSending);
        }
        let n = t.negotiated.as_ref().ok_or(Error::NotSending)?;
        let audio_clock = n.codecs.iter().find(|c| !c.is_telephone_event() && !c.is_red()).map(|c| c.clock_rate);
        let te = n
            .codecs
            .iter()
            .filter(|c| c.is_telephone_event())
            .find(|c| Some(c.clock_rate) == audio_clock)
            .or_else(|| n.codecs.iter().find(|c| c.is_telephone_event()))
            .ok_or(Error::UnsupportedCodec)?;
        let (payload_type, clock_rate, id) = (te.payload_type, te.clock_rate, t.id);
        let ssrc = t.encodings.first().map(|e| e.ssrc);
        let initial = self.rng.u32();
        let m = self.media.state();
        m.audio.send_timeout = Some(PeerConnection::dtmf_send_timeout);
        let clock = m.audio.clocks.iter().find(|c| Some(c.0) == ssrc).copied();
        let i = match m.audio.dtmf_tx.iter().position(|s| s.transceiver == id) {
            Some(i) => i,
            None => {
                let sender = DtmfSender::new(clock_rate, initial);
                m.audio.dtmf_tx.push(DtmfSend { transceiver: id, payload_type, clock_rate, sender });
                m.audio.dtmf_tx.len() - 1
            }
        };
        let s = m.audio.dtmf_tx.get_mut(i).ok_or(Error::InvalidParameter)?;
        if s.payload_type != payload_type || s.clock_rate != clock_rate {
            s.payload_type = payload_type;
            s.clock_rate = clock_rate;
            s.sender = DtmfSender::new(clock_rate, initial);
        }
        if let Some((_, ts, at)) = clock.filter(|_| audio_clock == Some(clock_rate)) {
            s.sender.sync(at, ts);
        }
        s.sender.insert(now, tones, duration, gap).map_err(|_| Error::InvalidParameter)
    }

    /// The tones [`PeerConnection::insert_dtmf`] has yet to start on the transceiver of `mid` (W3C
    /// `toneBuffer`), empty when none.
    pub fn dtmf_tone_buffer(&self, mid: &str) -> &str {
        let Some(t) = self.transceivers.by_mid(mid) else { return "" };
        let Some(m) = self.media.state.as_deref() else { return "" };
        m.audio
            .dtmf_tx
            .iter()
            .find(|s| s.transceiver == t.id)
            .and_then(|s| core::str::from_utf8(s.sender.tone_buffer()).ok())
            .unwrap_or("")
    }
}
