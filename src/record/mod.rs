//! Record and replay: a journal of everything that entered a peer connection, replayed against the current
//! code with every output compared, and pcapng captures that Wireshark decrypts.
//!
//! A [`PeerConnection`] is deterministic: the same seed, configuration and timestamped calls give the same
//! bytes out. So a session is fully described by its inputs, and a bug seen once (in production, in a
//! flaky test, with a browser) can be re-run under a debugger as often as needed, or kept as a regression
//! test that fails the day the code behaves differently.
//!
//! - [`RecordedPeerConnection`] wraps a [`PeerConnection`] and has its API: use it instead, and every call
//!   (datagrams received with their addresses and `now`, timeouts, descriptions, candidates, channel
//!   create/send/close, close, and every poll) is journaled with a digest of what the call gave back. The
//!   library does no I/O: [`RecordedPeerConnection::take_journal`] hands out the bytes to append to a file.
//!   Recording is opt-in and costs nothing when off: a plain [`PeerConnection`] knows nothing of it.
//! - [`Replayer`] rebuilds the connection from a journal's seed and configuration, makes every call again
//!   and compares every output (transmits with their addresses, events, return values, each deadline the
//!   caller read from `poll_timeout`) with the recorded ones, reporting the first [`Divergence`] with the inputs before it.
//!   Unreadable journals (truncated, corrupt, another version) give a [`JournalError`] naming the offset.
//! - [`Capture`] writes a pcapng file of what the connection sent and received, with the DTLS key log
//!   embedded; [`RecordOptions::capture`] has [`RecordedPeerConnection`] keep one.
//!
//! The format is described in `docs/journal.md`. A journal holds everything the connection knew: its
//! certificate's private key, ICE passwords, TURN credentials and every message. Keep it as secret as the
//! session. Journals of a version of the crate replay against another only as long as neither the format
//! version nor the connection's behaviour changed: a replay that diverges after an upgrade says the code
//! now behaves differently, which is what it is for.
//!
//! ```
//! use sansrtc::pc::{Config, Event};
//! use sansrtc::record::{RecordOptions, RecordedPeerConnection, Replayer};
//! use sansrtc::{Instant, Machine, PathMachine};
//!
//! let mut pc = RecordedPeerConnection::new(Config::default(), [1; 32], RecordOptions::default());
//! let now = Instant::from_millis(10);
//! pc.add_local_host(now, "192.0.2.1:5000".parse().unwrap())?;
//! pc.end_of_local_candidates(now);
//! let offer = pc.create_offer()?;
//! pc.set_local_description(now, &offer)?;
//! while let Some(event) = pc.poll_event() {
//!     if let Event::LocalCandidate { candidate, .. } = event {
//!         assert!(candidate.contains("192.0.2.1 5000 typ host"));
//!     }
//! }
//! let mut file = Vec::new();
//! file.extend(pc.take_journal()); // append to a file as the session goes
//!
//! let summary = Replayer::new(&file)?.run()?;
//! assert_eq!(summary.digest, pc.digest());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// Journals are input like any datagram: no indexing that could panic on them.
#![deny(clippy::indexing_slicing)]

mod call;
mod config;
mod digest;
mod journal;
mod media;
mod outcome;
mod pcap;
mod pcap_in;
mod replay;
mod wire;

#[cfg(test)]
mod pcap_in_tests;
#[cfg(test)]
mod tests;

use alloc::vec::Vec;
use core::cell::Cell;
use core::net::SocketAddr;
use core::ops::Deref;
use core::time::Duration;

use bytes::Bytes;

pub use call::{Call, Entry};
pub use journal::{Entries, Journal};
pub use outcome::render_outcome;
pub use pcap::{Capture, SECRETS_TLS_KEY_LOG};
pub use pcap_in::{CaptureError, CaptureReader, CapturedPacket, Fed, FeedSummary, Packets, Skip, feed};
pub use replay::{Divergence, ReplayError, Replayer, Step, Summary};
pub use wire::{DIGEST_LEN, JournalError, MAGIC, VERSION};

use outcome::{put_channel, put_description, put_event_head, put_result, put_sent_rtp, put_transceiver};

use crate::datachannel::ChannelOptions;
use crate::dtls::Dtls;
use crate::machine::{Datagram, Machine, PathMachine, Transmit};
use crate::pc::{
    ChannelId, Codec, Config, Description, Direction, Error, Event, OutgoingRtp, PeerConnection, RecvError, SentRtp,
    Track, TrackOrKind, TransceiverId, TransceiverInit,
};
use crate::rand::{Seed, SeededRng};
use crate::time::Instant;

const TARGET: &str = "sansrtc::record";

/// What a [`RecordedPeerConnection`] keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordOptions {
    /// Keep a journal (default on).
    pub journal: bool,
    /// Keep every output whole in the journal rather than only its running digest (default off): a
    /// divergence then shows the recorded value too, for a journal several times larger.
    pub whole_outputs: bool,
    /// Keep a pcapng capture (default off). Turns [`Config::key_log`] on, so the capture carries the DTLS
    /// key log.
    pub capture: bool,
    /// For the capture's timestamps: the wall-clock time (since the Unix epoch) that [`Instant::ZERO`]
    /// stands for (default zero: timestamps count from 1970).
    pub capture_epoch: Duration,
    /// Bound on the bytes waiting in each of the journal and the capture to be taken (default 64 MiB). A
    /// journal that reaches it stops (what it holds stays a valid journal of the session so far); a capture
    /// drops packets and counts them.
    pub max_pending: usize,
}

impl Default for RecordOptions {
    fn default() -> Self {
        RecordOptions {
            journal: true,
            whole_outputs: false,
            capture: false,
            capture_epoch: Duration::ZERO,
            max_pending: 64 << 20,
        }
    }
}

/// A [`PeerConnection`] that journals every call made on it (and, if asked, captures its datagrams).
///
/// It has the connection's API, driven the same way (the [module docs](crate::pc) loop), and derefs to the
/// [`PeerConnection`] for everything that only reads (states, descriptions, statistics). Calls that change
/// the connection go through the wrapper, so none escapes the journal. Take the journal's bytes with
/// [`Self::take_journal`] whenever convenient (after each loop turn, say) and append them to a file.
///
/// The seed is given, not a generator: the journal must hold it to rebuild the connection. With the
/// journal and the capture both off (or the journal stopped at its bound) the wrapper only forwards.
#[derive(Debug)]
pub struct RecordedPeerConnection {
    pc: PeerConnection,
    journal: Option<journal::Writer>,
    capture: Option<Capture>,
    /// The latest `now` given.
    now: Instant,
    key_logged: bool,
    /// A deadline `poll_timeout` gave and the journal still owes a record, written at the next call that
    /// can change the connection (`poll_timeout` only reads, through `&self`; it gives the same until
    /// then).
    read: Cell<Option<Option<Instant>>>,
}

impl Deref for RecordedPeerConnection {
    type Target = PeerConnection;

    fn deref(&self) -> &PeerConnection {
        &self.pc
    }
}

/// Journals `call` with the outcome `put` writes.
fn log(journal: &mut Option<journal::Writer>, call: &Call<'_>, put: impl FnOnce(&mut Vec<u8>)) {
    let Some(j) = journal.as_mut().filter(|j| !j.is_stopped()) else { return };
    put(j.start(call.kind()));
    j.record(Some(call), &[]);
}

impl RecordedPeerConnection {
    /// A new connection built as [`PeerConnection::new`] with a generator seeded from `seed`; the journal
    /// (if kept) opens with the seed and the configuration.
    pub fn new(mut config: Config, seed: Seed, options: RecordOptions) -> Self {
        if options.capture {
            config.key_log = true;
        }
        let journal =
            options.journal.then(|| journal::Writer::new(&seed, &config, options.whole_outputs, options.max_pending));
        let capture = options.capture.then(|| Capture::new(options.capture_epoch, options.max_pending));
        RecordedPeerConnection {
            pc: PeerConnection::new(config, SeededRng::from_seed(seed)),
            journal,
            capture,
            now: Instant::ZERO,
            key_logged: false,
            read: Cell::new(None),
        }
    }

    /// The journal bytes written since the last call (the header and opening record first): append them
    /// to the journal file. Empty when no journal is kept.
    pub fn take_journal(&mut self) -> Vec<u8> {
        self.settle();
        self.journal.as_mut().map(journal::Writer::take).unwrap_or_default()
    }

    /// As [`Self::take_journal`], into `out` (cleared first) by swapping buffers: the journal keeps `out`'s
    /// buffer for what comes next. A caller that passes the same `Vec` every time (writing it out in
    /// between) allocates nothing once both buffers have grown, and copies only the messages sent
    /// (which the journal keeps by reference; [`Self::take_journal_with`] copies nothing).
    pub fn take_journal_into(&mut self, out: &mut Vec<u8>) {
        self.settle();
        match self.journal.as_mut() {
            Some(j) => j.take_into(out),
            None => out.clear(),
        }
    }

    /// The journal bytes written since the last call, handed to `write` piece by piece, in order, to
    /// append to the journal file (a `BufWriter`'s `write_all`, or gathered for a vectored write): the
    /// messages sent are handed over where they lie, kept by reference rather than copied, and the
    /// journal's buffer is reused. Nothing is copied and nothing allocated. The bytes are taken even if
    /// `write` fails; its first error is returned.
    pub fn take_journal_with<E>(&mut self, write: impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
        self.settle();
        match self.journal.as_mut() {
            Some(j) => j.take_with(write),
            None => Ok(()),
        }
    }

    /// The capture bytes written since the last call (the pcapng header first): append them to the capture
    /// file. Empty when no capture is kept.
    pub fn take_capture(&mut self) -> Vec<u8> {
        self.capture.as_mut().map(Capture::take).unwrap_or_default()
    }

    /// As [`Self::take_capture`], into `out` (cleared first) by swapping buffers, as
    /// [`Self::take_journal_into`].
    pub fn take_capture_into(&mut self, out: &mut Vec<u8>) {
        match self.capture.as_mut() {
            Some(c) => c.take_into(out),
            None => out.clear(),
        }
    }

    /// The capture, for its counters.
    pub fn capture(&self) -> Option<&Capture> {
        self.capture.as_ref()
    }

    /// The running digest (see `docs/journal.md`) of every output so far: what [`Summary::digest`] of a replay of this journal
    /// must equal. Zero when no journal is kept.
    pub fn digest(&self) -> [u8; 32] {
        let Some(j) = self.journal.as_ref() else { return [0; 32] };
        match self.read.get() {
            Some(deadline) => j.digest_after_deadline(deadline),
            None => j.digest(),
        }
    }

    /// Calls journaled.
    pub fn journaled_calls(&self) -> u64 {
        self.journal.as_ref().map_or(0, journal::Writer::calls)
    }

    /// Whether the journal stopped at its bound ([`RecordOptions::max_pending`]).
    pub fn journal_stopped(&self) -> bool {
        self.journal.as_ref().is_some_and(journal::Writer::is_stopped)
    }

    /// The connection (also reachable through `Deref`).
    pub fn peer_connection(&self) -> &PeerConnection {
        &self.pc
    }

    /// The connection itself; recording ends.
    pub fn into_inner(self) -> PeerConnection {
        self.pc
    }

    fn touch(&mut self, now: Instant) {
        self.settle();
        self.now = self.now.max(now);
    }

    /// Journals the deadline the caller read since the last call, if it did.
    fn settle(&mut self) {
        if self.read.get().is_none() {
            return;
        }
        if let Some(deadline) = self.read.take() {
            if let Some(j) = self.journal.as_mut() {
                j.record_deadline(deadline);
            }
        }
    }

    /// Journals what `poll_event` gave.
    fn journal_event(&mut self, e: Option<&Event>) {
        self.check_key_log();
        let Some(j) = self.journal.as_mut().filter(|j| !j.is_stopped()) else { return };
        match e {
            None => j.record_nothing(call::kind::POLL_EVENT_NONE),
            Some(e) => {
                let bulk = put_event_head(j.start(call::kind::POLL_EVENT), Some(e));
                j.record(None, bulk);
            }
        }
    }

    /// Once DTLS knows its secrets (1.2's master secret; 1.3's application traffic secrets, the key log's
    /// last), the capture gets the key log, before the application data it decrypts.
    #[inline]
    fn check_key_log(&mut self) {
        if self.key_logged || self.capture.is_none() {
            return;
        }
        self.log_key();
    }

    fn log_key(&mut self) {
        let Some(capture) = self.capture.as_mut() else { return };
        if let Some(k) = self.pc.dtls().and_then(Dtls::key_log) {
            capture.key_log(&alloc::format!("{k}"));
            self.key_logged = true;
        }
    }

    /// After a call: the key log if it just became known, then the journal record.
    fn after(&mut self, call: &Call<'_>, put: impl FnOnce(&mut Vec<u8>)) {
        self.check_key_log();
        log(&mut self.journal, call, put);
    }

    // ----- the connection's API, journaled -----

    /// [`PeerConnection::add_local_host`].
    pub fn add_local_host(&mut self, now: Instant, addr: SocketAddr) -> Result<(), Error> {
        self.touch(now);
        let r = self.pc.add_local_host(now, addr);
        self.after(&Call::AddLocalHost { now, addr }, |o| put_result(o, &r));
        r
    }

    /// [`PeerConnection::add_local_tcp`].
    pub fn add_local_tcp(
        &mut self,
        now: Instant,
        addr: SocketAddr,
        tcp_type: crate::ice::TcpType,
    ) -> Result<(), Error> {
        self.touch(now);
        let r = self.pc.add_local_tcp(now, addr, tcp_type);
        self.after(&Call::AddLocalTcp { now, addr, tcp_type }, |o| put_result(o, &r));
        r
    }

    /// [`PeerConnection::add_stun_server`].
    pub fn add_stun_server(&mut self, now: Instant, server: SocketAddr) -> Result<(), Error> {
        self.touch(now);
        let r = self.pc.add_stun_server(now, server);
        self.after(&Call::AddStunServer { now, server }, |o| put_result(o, &r));
        r
    }

    /// [`PeerConnection::end_of_local_candidates`].
    pub fn end_of_local_candidates(&mut self, now: Instant) {
        self.touch(now);
        self.pc.end_of_local_candidates(now);
        self.after(&Call::EndOfLocalCandidates { now }, |_| {});
    }

    /// [`PeerConnection::create_offer`].
    pub fn create_offer(&mut self) -> Result<Description, Error> {
        self.settle();
        let r = self.pc.create_offer();
        self.after(&Call::CreateOffer, |o| put_description(o, &r));
        r
    }

    /// [`PeerConnection::create_answer`].
    pub fn create_answer(&mut self) -> Result<Description, Error> {
        self.settle();
        let r = self.pc.create_answer();
        self.after(&Call::CreateAnswer, |o| put_description(o, &r));
        r
    }

    /// [`PeerConnection::set_local_description`].
    pub fn set_local_description(&mut self, now: Instant, desc: &Description) -> Result<(), Error> {
        self.touch(now);
        let r = self.pc.set_local_description(now, desc);
        self.after(&Call::SetLocalDescription { now, kind: desc.kind, sdp: &desc.sdp }, |o| put_result(o, &r));
        r
    }

    /// [`PeerConnection::set_remote_description`].
    pub fn set_remote_description(&mut self, now: Instant, desc: &Description) -> Result<(), Error> {
        self.touch(now);
        let r = self.pc.set_remote_description(now, desc);
        self.after(&Call::SetRemoteDescription { now, kind: desc.kind, sdp: &desc.sdp }, |o| put_result(o, &r));
        r
    }

    /// [`PeerConnection::add_ice_candidate`].
    pub fn add_ice_candidate(&mut self, now: Instant, candidate: Option<&str>) -> Result<(), Error> {
        self.touch(now);
        let r = self.pc.add_ice_candidate(now, candidate);
        self.after(&Call::AddIceCandidate { now, candidate }, |o| put_result(o, &r));
        r
    }

    /// [`PeerConnection::restart_ice`].
    pub fn restart_ice(&mut self, now: Instant) {
        self.touch(now);
        self.pc.restart_ice(now);
        self.after(&Call::RestartIce { now }, |_| {});
    }

    /// [`PeerConnection::create_data_channel`].
    pub fn create_data_channel(&mut self, now: Instant, options: ChannelOptions) -> Result<ChannelId, Error> {
        self.touch(now);
        let call = Call::CreateDataChannel { now, options: options.clone() };
        let r = self.pc.create_data_channel(now, options);
        self.after(&call, |o| put_channel(o, &r));
        r
    }

    /// [`PeerConnection::send_text`].
    pub fn send_text(&mut self, now: Instant, id: ChannelId, text: &str) -> Result<(), Error> {
        self.send(now, id, Bytes::copy_from_slice(text.as_bytes()), false)
    }

    /// [`PeerConnection::send_binary`].
    pub fn send_binary(&mut self, now: Instant, id: ChannelId, data: &[u8]) -> Result<(), Error> {
        self.send(now, id, Bytes::copy_from_slice(data), true)
    }

    /// [`PeerConnection::send`].
    pub fn send(&mut self, now: Instant, id: ChannelId, data: Bytes, binary: bool) -> Result<(), Error> {
        self.touch(now);
        let r = self.pc.send(now, id, data.clone(), binary);
        self.check_key_log();
        if let Some(j) = self.journal.as_mut().filter(|j| !j.is_stopped()) {
            put_result(j.start(call::kind::SEND), &r);
            j.record_send(&Call::Send { now, channel: id, binary, data: &data }, &data);
        }
        r
    }

    /// [`PeerConnection::set_buffered_amount_low_threshold`].
    pub fn set_buffered_amount_low_threshold(&mut self, id: ChannelId, threshold: usize) -> Result<(), Error> {
        self.settle();
        let r = self.pc.set_buffered_amount_low_threshold(id, threshold);
        let call = Call::SetBufferedAmountLowThreshold { channel: id, threshold: threshold as u64 };
        self.after(&call, |o| put_result(o, &r));
        r
    }

    /// [`PeerConnection::close_channel`].
    pub fn close_channel(&mut self, now: Instant, id: ChannelId) -> Result<(), Error> {
        self.touch(now);
        let r = self.pc.close_channel(now, id);
        self.after(&Call::CloseChannel { now, channel: id }, |o| put_result(o, &r));
        r
    }

    /// [`PeerConnection::close`].
    pub fn close(&mut self, now: Instant) {
        self.touch(now);
        self.pc.close(now);
        self.after(&Call::Close { now }, |_| {});
    }

    // ----- media -----

    /// [`PeerConnection::add_transceiver`].
    pub fn add_transceiver(
        &mut self,
        now: Instant,
        what: impl Into<TrackOrKind>,
        init: TransceiverInit,
    ) -> Result<TransceiverId, Error> {
        self.touch(now);
        let what = what.into();
        let (kind, track) = match &what {
            TrackOrKind::Kind(k) => (*k, None),
            TrackOrKind::Track(t) => (t.kind, Some(t.id.clone())),
        };
        let call_init = init.clone();
        let r = self.pc.add_transceiver(now, what, init);
        let call = Call::AddTransceiver { now, kind, track: track.as_deref(), init: call_init };
        self.after(&call, |o| put_transceiver(o, &r));
        r
    }

    /// [`PeerConnection::add_track`].
    pub fn add_track(&mut self, now: Instant, track: Track, stream_ids: &[&str]) -> Result<TransceiverId, Error> {
        self.touch(now);
        let (kind, id) = (track.kind, track.id.clone());
        let r = self.pc.add_track(now, track, stream_ids);
        let call = Call::AddTrack { now, kind, track: &id, stream_ids: stream_ids.to_vec() };
        self.after(&call, |o| put_transceiver(o, &r));
        r
    }

    /// [`PeerConnection::set_direction`].
    pub fn set_direction(&mut self, now: Instant, id: TransceiverId, direction: Direction) -> Result<(), Error> {
        self.touch(now);
        let r = self.pc.set_direction(now, id, direction);
        self.after(&Call::SetDirection { now, transceiver: id, direction }, |o| put_result(o, &r));
        r
    }

    /// [`PeerConnection::stop_transceiver`].
    pub fn stop_transceiver(&mut self, now: Instant, id: TransceiverId) -> Result<(), Error> {
        self.touch(now);
        let r = self.pc.stop_transceiver(now, id);
        self.after(&Call::StopTransceiver { now, transceiver: id }, |o| put_result(o, &r));
        r
    }

    /// [`PeerConnection::write_rtp`].
    pub fn write_rtp(&mut self, now: Instant, mid: &str, packet: &OutgoingRtp<'_>) -> Result<SentRtp, Error> {
        self.touch(now);
        let r = self.pc.write_rtp(now, mid, packet);
        let call = Call::WriteRtp {
            now,
            mid,
            payload_type: packet.payload_type,
            timestamp: packet.timestamp,
            marker: packet.marker,
            payload: packet.payload,
            extensions: packet.extensions.to_vec(),
            rid: packet.rid,
        };
        self.after(&call, |o| put_sent_rtp(o, &r));
        r
    }

    /// [`PeerConnection::write_frame`].
    pub fn write_frame(
        &mut self,
        now: Instant,
        mid: &str,
        frame: &crate::pc::OutgoingFrame<'_>,
    ) -> Result<crate::pc::SentFrame, Error> {
        self.touch(now);
        let r = self.pc.write_frame(now, mid, frame);
        let call = Call::WriteFrame {
            now,
            mid,
            payload_type: frame.payload_type,
            timestamp: frame.timestamp,
            data: frame.data,
            extensions: frame.extensions.to_vec(),
            rid: frame.rid,
        };
        self.after(&call, |o| outcome::put_sent_frame(o, &r));
        r
    }

    /// [`PeerConnection::set_encoding_active`].
    pub fn set_encoding_active(
        &mut self,
        now: Instant,
        id: TransceiverId,
        rid: Option<&str>,
        active: bool,
    ) -> Result<(), Error> {
        self.touch(now);
        let r = self.pc.set_encoding_active(now, id, rid, active);
        self.after(&Call::SetEncodingActive { now, transceiver: id, rid, active }, |o| put_result(o, &r));
        r
    }

    /// [`PeerConnection::insert_dtmf`].
    pub fn insert_dtmf(
        &mut self,
        now: Instant,
        mid: &str,
        tones: &str,
        duration: Duration,
        gap: Duration,
    ) -> Result<(), Error> {
        self.touch(now);
        let r = self.pc.insert_dtmf(now, mid, tones, duration, gap);
        self.after(&Call::InsertDtmf { now, mid, tones, duration, gap }, |o| put_result(o, &r));
        r
    }

    /// [`PeerConnection::set_codec_preferences`].
    pub fn set_codec_preferences(&mut self, id: TransceiverId, codecs: &[Codec]) -> Result<(), Error> {
        self.settle();
        let r = self.pc.set_codec_preferences(id, codecs);
        let call = Call::SetCodecPreferences { transceiver: id, codecs: codecs.to_vec() };
        self.after(&call, |o| put_result(o, &r));
        r
    }

    /// [`PeerConnection::set_ntp_epoch`].
    pub fn set_ntp_epoch(&mut self, epoch: Duration) {
        self.settle();
        self.pc.set_ntp_epoch(epoch);
        self.after(&Call::SetNtpEpoch { epoch }, |_| {});
    }

    /// [`PeerConnection::write_rtp_raw`].
    pub fn write_rtp_raw(&mut self, now: Instant, mid: &str, packet: &[u8]) -> Result<(), Error> {
        self.touch(now);
        let r = self.pc.write_rtp_raw(now, mid, packet);
        self.after(&Call::WriteRtpRaw { now, mid, packet }, |o| put_result(o, &r));
        r
    }

    /// [`PeerConnection::write_rtcp`].
    pub fn write_rtcp(&mut self, now: Instant, packet: &[u8]) -> Result<(), Error> {
        self.touch(now);
        let r = self.pc.write_rtcp(now, packet);
        self.after(&Call::WriteRtcp { now, packet }, |o| put_result(o, &r));
        r
    }

    /// [`PeerConnection::request_keyframe`].
    pub fn request_keyframe(&mut self, now: Instant, mid: &str) -> Result<(), Error> {
        self.touch(now);
        let r = self.pc.request_keyframe(now, mid);
        self.after(&Call::RequestKeyframe { now, mid }, |o| put_result(o, &r));
        r
    }
}

impl Machine for RecordedPeerConnection {
    type Event = Event;

    fn handle_timeout(&mut self, now: Instant) {
        self.touch(now);
        self.pc.handle_timeout(now);
        self.after(&Call::Timeout { now }, |_| {});
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.settle();
        // Most polls return nothing: that answer is given as such, not as the event slot the
        // connection filled (some 150 bytes, which returning it through here copied on every poll).
        let Some(e) = self.pc.poll_event() else {
            self.journal_event(None);
            return None;
        };
        self.journal_event(Some(&e));
        Some(e)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let deadline = self.pc.poll_timeout();
        if self.read.get().is_none() && self.journal.as_ref().is_some_and(|j| !j.is_stopped()) {
            self.read.set(Some(deadline));
        }
        deadline
    }
}

impl PathMachine for RecordedPeerConnection {
    type Error = RecvError;

    fn handle_receive(&mut self, now: Instant, datagram: Datagram<'_>) -> Result<(), RecvError> {
        self.touch(now);
        let r = self.pc.handle_receive(now, datagram);
        // The key log first: this datagram may be the first the new keys decrypt.
        self.check_key_log();
        if let Some(c) = self.capture.as_mut() {
            c.received(self.now, &datagram);
        }
        match (&r, self.journal.as_mut()) {
            (Ok(()), Some(j)) => j.record_received(now, &datagram),
            _ => log(&mut self.journal, &Call::Receive { now, datagram }, |o| put_result(o, &r)),
        }
        r
    }

    fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        self.settle();
        if self.capture.is_none() && self.journal.as_ref().is_none_or(journal::Writer::is_stopped) {
            return self.pc.poll_transmit();
        }
        let Some(t) = self.pc.poll_transmit() else {
            if let Some(j) = self.journal.as_mut() {
                j.record_nothing(call::kind::POLL_TRANSMIT_NONE);
            }
            return None;
        };
        if let Some(c) = self.capture.as_mut() {
            c.sent(self.now, &t);
        }
        // Digested where it lies, in the connection's buffer, not copied.
        if let Some(j) = self.journal.as_mut() {
            j.record_transmit(&t);
        }
        Some(t)
    }
}
