//! Replay: the journal's calls made again on a connection built from its seed and configuration, each
//! outcome encoded as the recording encoded it and compared through the running digest (and whole, where
//! the journal kept it).

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use bytes::Bytes;

use super::call::{Call, Entry};
use super::digest::chain_datagram;
use super::journal::{Entries, Journal};
use super::outcome::{
    chain, put_channel, put_deadline, put_description, put_event_head, put_result, put_sent_rtp, put_transceiver,
    put_transmit, render_outcome,
};
use super::wire::{DIGEST_LEN, JournalError};
use crate::machine::{Machine, PathMachine};
use crate::pc::{Event, OutgoingRtp, PeerConnection, Track, TrackOrKind};
use crate::rand::SeededRng;
use crate::time::Instant;

/// How many of the inputs before a divergence it reports.
const RECENT_INPUTS: usize = 8;

/// The first call whose outcome differs from the recorded one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// The call's index among the journal's calls (from 0).
    pub index: u64,
    /// The byte offset of its record.
    pub offset: usize,
    /// The connection's time then (the latest `now` given so far).
    pub now: Instant,
    /// The call, as one line.
    pub call: String,
    /// The recorded running digest.
    pub recorded_digest: [u8; DIGEST_LEN],
    /// The replayed running digest.
    pub replayed_digest: [u8; DIGEST_LEN],
    /// The recorded outcome, rendered, when the journal keeps outcomes whole.
    pub recorded: Option<String>,
    /// The replayed outcome, rendered.
    pub replayed: String,
    /// The inputs (calls other than polls) just before it, oldest first, each as
    /// `#index @offset call`; the diverging call itself is the last when it is an input.
    pub recent_inputs: Vec<String>,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "divergence at call #{} (offset {}), time {}: {}", self.index, self.offset, self.now, self.call)?;
        match &self.recorded {
            Some(r) => writeln!(f, "  recorded: {r}")?,
            None => writeln!(f, "  recorded: digest {} (outputs kept as digests only)", hex(&self.recorded_digest))?,
        }
        writeln!(f, "  replayed: {} (digest {})", self.replayed, hex(&self.replayed_digest))?;
        writeln!(f, "  inputs just before:")?;
        for i in &self.recent_inputs {
            writeln!(f, "    {i}")?;
        }
        Ok(())
    }
}

/// Why a replay stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplayError {
    /// The journal cannot be read (at the offset the error names).
    Journal(JournalError),
    /// The code behaved differently from the recording.
    Diverged(Box<Divergence>),
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplayError::Journal(e) => write!(f, "{e}"),
            ReplayError::Diverged(d) => write!(f, "{d}"),
        }
    }
}

impl core::error::Error for ReplayError {}

impl From<JournalError> for ReplayError {
    fn from(e: JournalError) -> Self {
        ReplayError::Journal(e)
    }
}

/// What a replay that matched all the way went through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Calls replayed.
    pub calls: u64,
    /// Of which inputs (every call but the polls).
    pub inputs: u64,
    /// Datagrams the connection sent.
    pub transmits: u64,
    /// Events it reported.
    pub events: u64,
    /// The latest `now`.
    pub end: Instant,
    /// The running digest over every outcome: equal for two runs exactly when every output was.
    pub digest: [u8; 32],
}

/// One call replayed.
#[derive(Debug)]
pub struct Step<'r, 'a> {
    /// The journal's record.
    pub entry: Entry<'a>,
    /// The connection's time (the latest `now` so far).
    pub now: Instant,
    /// The replayed outcome, in the canonical encoding (see [`super::render_outcome`]).
    pub outcome: &'r [u8],
    /// The event, when the call was a `poll_event` that returned one.
    pub event: Option<Event>,
}

impl Step<'_, '_> {
    /// The datagram the connection sent, when the call was a `poll_transmit` that returned one.
    pub fn transmit(&self) -> Option<crate::machine::Transmit<'_>> {
        if !matches!(self.entry.call, Call::PollTransmit) {
            return None;
        }
        let mut r = super::wire::Reader::new(self.outcome, 0);
        if !r.bool("transmit").ok()? {
            return None;
        }
        let source = r.addr("source").ok()?;
        let destination = r.addr("destination").ok()?;
        let contents = r.bytes("datagram").ok()?;
        Some(crate::machine::Transmit { source, destination, contents })
    }
}

/// Replays a journal call by call. [`Replayer::run`] goes to the end or the first divergence;
/// [`Replayer::step`] gives each call with its replayed outcome (for a timeline).
#[derive(Debug)]
pub struct Replayer<'a> {
    journal: Journal<'a>,
    entries: Entries<'a>,
    pc: PeerConnection,
    chain: [u8; 32],
    now: Instant,
    outcome: Vec<u8>,
    /// Offsets and indexes of the latest inputs.
    recent: VecDeque<(u64, usize)>,
    summary: Summary,
    diverged: bool,
}

impl<'a> Replayer<'a> {
    /// Reads the header and opening record and builds the connection they describe.
    pub fn new(journal: &'a [u8]) -> Result<Self, JournalError> {
        let journal = Journal::parse(journal)?;
        let pc = PeerConnection::new(journal.config().clone(), SeededRng::from_seed(*journal.seed()));
        let entries = Entries::at(journal.bytes(), journal.first_offset(), 0, journal.whole_outputs());
        Ok(Replayer {
            journal,
            entries,
            pc,
            chain: [0; 32],
            now: Instant::ZERO,
            outcome: Vec::new(),
            recent: VecDeque::with_capacity(RECENT_INPUTS),
            summary: Summary { calls: 0, inputs: 0, transmits: 0, events: 0, end: Instant::ZERO, digest: [0; 32] },
            diverged: false,
        })
    }

    /// The journal.
    pub fn journal(&self) -> &Journal<'a> {
        &self.journal
    }

    /// The connection being replayed, for its state and statistics.
    pub fn peer_connection(&self) -> &PeerConnection {
        &self.pc
    }

    /// Whether a divergence was reported. Steps after it still replay the calls but compare nothing.
    pub fn diverged(&self) -> bool {
        self.diverged
    }

    /// What the replay went through so far (all of it once [`Self::step`] has returned `None`).
    pub fn summary(&self) -> Summary {
        self.summary
    }

    /// Replays every call; stops at the first divergence or unreadable record.
    pub fn run(mut self) -> Result<Summary, ReplayError> {
        while self.step()?.is_some() {}
        Ok(self.summary)
    }

    /// Replays the next call and compares its outcome; `None` at the end of the journal.
    pub fn step(&mut self) -> Result<Option<Step<'_, 'a>>, ReplayError> {
        let Some(entry) = self.entries.next() else { return Ok(None) };
        let entry = entry?;
        if let Some(now) = entry.call.now() {
            self.now = self.now.max(now);
        }
        if !entry.call.is_poll() {
            if self.recent.len() == RECENT_INPUTS {
                self.recent.pop_front();
            }
            self.recent.push_back((entry.index, entry.offset));
            self.summary.inputs += 1;
        }
        // The record kind first, then the outcome: what the digest runs over (the bulk apart).
        self.outcome.clear();
        self.outcome.push(entry.call.kind());
        let (event, bulk_len) = perform(&mut self.pc, &entry.call, &mut self.outcome);
        self.summary.calls += 1;
        self.summary.end = self.now;
        if entry.nothing {
            // Recorded as returning nothing: the outcome must be nothing again; the digest does not move.
            let outcome = self.outcome.get(1..).unwrap_or_default();
            if !self.diverged && outcome != [0] {
                self.diverged = true;
                let same = self.chain.get(..DIGEST_LEN).and_then(|d| d.try_into().ok()).unwrap_or_default();
                let mut d = self.divergence(&entry, same);
                d.recorded = Some(String::from("None"));
                return Err(ReplayError::Diverged(Box::new(d)));
            }
            return Ok(Some(Step { entry, now: self.now, outcome, event }));
        }
        if entry.succeeded {
            // Recorded as succeeding plainly: it must again; the digest does not move.
            let outcome = self.outcome.get(1..).unwrap_or_default();
            if !self.diverged && !matches!(outcome, [] | [0]) {
                self.diverged = true;
                let same = self.chain.get(..DIGEST_LEN).and_then(|d| d.try_into().ok()).unwrap_or_default();
                let mut d = self.divergence(&entry, same);
                d.recorded = Some(String::from("Ok(())"));
                return Err(ReplayError::Diverged(Box::new(d)));
            }
            return Ok(Some(Step { entry, now: self.now, outcome, event }));
        }
        let (head, bulk) = self.outcome.split_at(self.outcome.len().saturating_sub(bulk_len).max(1));
        self.chain = match (&entry.call, bulk.is_empty()) {
            (Call::PollTransmit, false) => chain_datagram(&self.chain, head, bulk),
            _ => chain(&self.chain, head, bulk),
        };
        let replayed: [u8; DIGEST_LEN] =
            self.chain.get(..DIGEST_LEN).and_then(|d| d.try_into().ok()).unwrap_or_default();
        let outcome = self.outcome.get(1..).unwrap_or_default();
        let whole_differs = entry.outcome.is_some_and(|o| o != outcome);
        self.summary.digest = self.chain;
        match &entry.call {
            Call::PollTransmit if outcome.first() == Some(&1) => self.summary.transmits += 1,
            Call::PollEvent if event.is_some() => self.summary.events += 1,
            _ => {}
        }
        if !self.diverged && (replayed != entry.digest || whole_differs) {
            self.diverged = true;
            return Err(ReplayError::Diverged(Box::new(self.divergence(&entry, replayed))));
        }
        Ok(Some(Step { entry, now: self.now, outcome: self.outcome.get(1..).unwrap_or_default(), event }))
    }

    fn divergence(&self, entry: &Entry<'a>, replayed_digest: [u8; DIGEST_LEN]) -> Divergence {
        let kind = entry.call.kind();
        let render = |o: &[u8]| render_outcome(kind, o).unwrap_or_else(|e| format!("(unreadable: {e})"));
        let recent_inputs = self
            .recent
            .iter()
            .map(|&(index, offset)| {
                match Entries::at(self.journal.bytes(), offset, index, self.journal.whole_outputs()).next() {
                    Some(Ok(e)) => format!("#{index} @{offset} {}", e.call),
                    _ => format!("#{index} @{offset} (unreadable)"),
                }
            })
            .collect();
        Divergence {
            index: entry.index,
            offset: entry.offset,
            now: self.now,
            call: format!("{}", entry.call),
            recorded_digest: entry.digest,
            replayed_digest,
            recorded: entry.outcome.map(render),
            replayed: render(self.outcome.get(1..).unwrap_or_default()),
            recent_inputs,
        }
    }
}

/// Makes `call` on `pc` and appends its return value's canonical encoding to `out`. Returns the event
/// of a `poll_event` and the length of the outcome's bulk (at its end: a transmit's datagram, a
/// message's bytes).
fn perform(pc: &mut PeerConnection, call: &Call<'_>, out: &mut Vec<u8>) -> (Option<Event>, usize) {
    match call {
        Call::Receive { now, datagram } => put_result(out, &pc.handle_receive(*now, *datagram)),
        Call::Timeout { now } => pc.handle_timeout(*now),
        Call::PollTransmit => {
            let t = pc.poll_transmit();
            put_transmit(out, t.as_ref());
            return (None, t.map_or(0, |t| t.contents.len()));
        }
        Call::PollTimeout => put_deadline(out, pc.poll_timeout()),
        Call::PollEvent => {
            let e = pc.poll_event();
            let bulk = put_event_head(out, e.as_ref());
            out.extend_from_slice(bulk);
            let len = bulk.len();
            return (e, len);
        }
        Call::AddLocalHost { now, addr } => put_result(out, &pc.add_local_host(*now, *addr)),
        Call::AddLocalTcp { now, addr, tcp_type } => put_result(out, &pc.add_local_tcp(*now, *addr, *tcp_type)),
        Call::AddStunServer { now, server } => put_result(out, &pc.add_stun_server(*now, *server)),
        Call::EndOfLocalCandidates { now } => pc.end_of_local_candidates(*now),
        Call::CreateOffer => put_description(out, &pc.create_offer()),
        Call::CreateAnswer => put_description(out, &pc.create_answer()),
        Call::SetLocalDescription { now, kind, sdp } => {
            put_result(out, &pc.set_local_description(*now, &Call::description(*kind, sdp)));
        }
        Call::SetRemoteDescription { now, kind, sdp } => {
            put_result(out, &pc.set_remote_description(*now, &Call::description(*kind, sdp)));
        }
        Call::AddIceCandidate { now, candidate } => put_result(out, &pc.add_ice_candidate(*now, *candidate)),
        Call::RestartIce { now } => pc.restart_ice(*now),
        Call::CreateDataChannel { now, options } => {
            put_channel(out, &pc.create_data_channel(*now, options.clone()));
        }
        Call::Send { now, channel, binary, data } => {
            put_result(out, &pc.send(*now, *channel, Bytes::copy_from_slice(data), *binary));
        }
        Call::SetBufferedAmountLowThreshold { channel, threshold } => {
            let threshold = usize::try_from(*threshold).unwrap_or(usize::MAX);
            put_result(out, &pc.set_buffered_amount_low_threshold(*channel, threshold));
        }
        Call::CloseChannel { now, channel } => put_result(out, &pc.close_channel(*now, *channel)),
        Call::Close { now } => pc.close(*now),
        Call::AddTransceiver { now, kind, track, init } => {
            let what = match track {
                Some(id) => TrackOrKind::Track(Track::new(*kind, *id)),
                None => TrackOrKind::Kind(*kind),
            };
            put_transceiver(out, &pc.add_transceiver(*now, what, init.clone()));
        }
        Call::AddTrack { now, kind, track, stream_ids } => {
            put_transceiver(out, &pc.add_track(*now, Track::new(*kind, *track), stream_ids));
        }
        Call::SetDirection { now, transceiver, direction } => {
            put_result(out, &pc.set_direction(*now, *transceiver, *direction));
        }
        Call::StopTransceiver { now, transceiver } => put_result(out, &pc.stop_transceiver(*now, *transceiver)),
        Call::WriteRtp { now, mid, payload_type, timestamp, marker, payload, extensions, rid } => {
            let packet = OutgoingRtp {
                payload_type: *payload_type,
                timestamp: *timestamp,
                marker: *marker,
                payload,
                extensions,
                rid: *rid,
            };
            put_sent_rtp(out, &pc.write_rtp(*now, mid, &packet));
        }
        Call::WriteRtpRaw { now, mid, packet } => put_result(out, &pc.write_rtp_raw(*now, mid, packet)),
        Call::WriteRtcp { now, packet } => put_result(out, &pc.write_rtcp(*now, packet)),
        Call::RequestKeyframe { now, mid } => put_result(out, &pc.request_keyframe(*now, mid)),
        Call::WriteFrame { now, mid, payload_type, timestamp, data, extensions, rid } => {
            let frame = crate::pc::OutgoingFrame {
                payload_type: *payload_type,
                timestamp: *timestamp,
                data,
                extensions,
                rid: *rid,
            };
            super::outcome::put_sent_frame(out, &pc.write_frame(*now, mid, &frame));
        }
        Call::SetEncodingActive { now, transceiver, rid, active } => {
            put_result(out, &pc.set_encoding_active(*now, *transceiver, *rid, *active));
        }
        Call::InsertDtmf { now, mid, tones, duration, gap } => {
            put_result(out, &pc.insert_dtmf(*now, mid, tones, *duration, *gap));
        }
        Call::SetNtpEpoch { epoch } => pc.set_ntp_epoch(*epoch),
        Call::SetCodecPreferences { transceiver, codecs } => {
            put_result(out, &pc.set_codec_preferences(*transceiver, codecs));
        }
    }
    (None, 0)
}
