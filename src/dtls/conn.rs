//! The DTLS machine: record layer, epochs, replay window, flights and their retransmission, alerts, the
//! public API. The handshake message handlers live in `handshake.rs`.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::time::Duration;

use p256::ecdsa::VerifyingKey;

use super::cert::Fingerprint;
use super::crypto::{AEAD_OVERHEAD, KeyShare, RecordCipher};
use super::error::Error;
use super::fragment::Packer;
use super::reassembly::{Insert, Reassembler};
use super::wire::handshake::{HEADER_LEN as HS_HEADER, HandshakeHeader, HandshakeIter};
use super::wire::record::{HEADER_LEN as REC_HEADER, write_header};
use super::wire::{
    ALERT_FATAL, ALERT_WARNING, AlertDescription, CipherSuite, ContentType, DTLS1_2, HandshakeType, NamedGroup, Record,
    RecordIter, SrtpProfile,
};
use super::{Config, Connected, Event, KeyLog, Role, SrtpKeying, Stats};
use crate::machine::{DatagramMachine, Machine};
use crate::rand::SeededRng;
use crate::time::Instant;
use crate::util::{EventQueue, OutQueue, TimerKind, Timers, deadline};

pub(crate) const TARGET: &str = "sansrtc::dtls";

/// Records of the next epoch held until its keys exist (reordered Finished / application data).
const MAX_PENDING_RECORDS: usize = 8;
/// Largest application data record plaintext (RFC 5246 §6.2.1).
const MAX_PLAINTEXT: usize = 1 << 14;
/// Datagrams waiting in `poll_transmit`.
const OUT_LIMIT: usize = 64;
/// Received application records waiting in `poll_data`.
const RECV_LIMIT: usize = 64;
/// Events waiting in `poll_event`.
const EVENT_LIMIT: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DtlsTimer {
    Retransmit,
    /// Re-sends our unacknowledged DTLS 1.3 KeyUpdate.
    KeyUpdate,
}

impl TimerKind for DtlsTimer {
    const ALL: &'static [Self] = &[DtlsTimer::Retransmit, DtlsTimer::KeyUpdate];
    fn index(self) -> usize {
        match self {
            DtlsTimer::Retransmit => 0,
            DtlsTimer::KeyUpdate => 1,
        }
    }
}

/// The handshake position: one `Expect…` state per message each role waits for (RFC 5246 §7.3 order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    ClientExpectServerHello,
    ClientExpectCertificate,
    ClientExpectServerKeyExchange,
    ClientExpectCertificateRequest,
    ClientExpectServerHelloDone,
    ClientExpectFinished,
    ServerExpectClientHello,
    ServerExpectCertificate,
    ServerExpectClientKeyExchange,
    ServerExpectCertificateVerify,
    ServerExpectFinished,
    /// DTLS 1.3 client, after its ServerHello (RFC 8446 §4.3–4.4 order).
    C13ExpectEncryptedExtensions,
    C13ExpectCertificateRequest,
    C13ExpectCertificate,
    C13ExpectCertificateVerify,
    C13ExpectFinished,
    /// DTLS 1.3 server, after its flight.
    S13ExpectCertificate,
    S13ExpectCertificateVerify,
    S13ExpectFinished,
    Established,
    Closed,
}

/// One message of a flight, kept for retransmission.
#[derive(Debug)]
pub(crate) enum FlightMsg {
    Handshake { epoch: u16, msg_type: HandshakeType, seq: u16, body: Vec<u8> },
    ChangeCipherSpec,
}

/// What the handshake has learned so far.
#[derive(Default)]
pub(crate) struct HsData {
    pub(crate) client_random: [u8; 32],
    pub(crate) server_random: [u8; 32],
    pub(crate) suite: Option<CipherSuite>,
    pub(crate) srtp: Option<SrtpProfile>,
    /// Boxed, as the peer's key: both go with the handshake.
    pub(crate) ecdh: Option<Box<KeyShare>>,
    /// The ECDHE group, once chosen (server) or learned from the ServerKeyExchange (client).
    pub(crate) group: Option<NamedGroup>,
    pub(crate) peer_key: Option<Box<VerifyingKey>>,
    pub(crate) peer_fingerprint: Option<Fingerprint>,
    /// The peer's certificate (DER), kept for statistics (W3C `RTCCertificateStats`).
    pub(crate) peer_certificate: Option<Box<[u8]>>,
    pub(crate) master: Option<[u8; 48]>,
    pub(crate) transcript: Vec<u8>,
    pub(crate) client_hello: Vec<u8>,
    pub(crate) cookie: Vec<u8>,
    pub(crate) cert_requested: bool,
    pub(crate) hello_verify_count: u8,
    /// Boxed: the cipher lives here only between the key exchange and our ChangeCipherSpec.
    pub(crate) pending_write: Option<Box<RecordCipher>>,
}

/// A 64-record sliding replay window (RFC 6347 §4.1.2.6).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ReplayWindow {
    max: Option<u64>,
    bits: u64,
}

impl ReplayWindow {
    pub(crate) fn check(&self, seq: u64) -> Result<(), Error> {
        match self.max {
            None => Ok(()),
            Some(max) if seq > max => Ok(()),
            Some(max) => {
                let back = max - seq;
                if back >= 64 || self.bits & (1u64 << back) != 0 { Err(Error::Replayed) } else { Ok(()) }
            }
        }
    }

    pub(crate) fn accept(&mut self, seq: u64) {
        match self.max {
            None => {
                self.max = Some(seq);
                self.bits = 1;
            }
            Some(max) if seq > max => {
                let shift = seq - max;
                self.bits = if shift >= 64 { 0 } else { self.bits << shift };
                self.bits |= 1;
                self.max = Some(seq);
            }
            Some(max) => {
                let back = max - seq;
                if back < 64 {
                    self.bits |= 1u64 << back;
                }
            }
        }
    }
}

/// A DTLS 1.2 or 1.3 connection, client or server, as a sans-IO machine. See the [module docs](super) for the loop.
///
/// Events and received data are pure reads; `poll_timeout` returns the latest `now` given while datagrams
/// wait in `poll_transmit` (after [`Dtls::send`], [`Dtls::close`], a handshake step), else the flight timer.
pub struct Dtls {
    pub(crate) role: Role,
    pub(crate) config: Config,
    pub(crate) rng: SeededRng,
    pub(crate) state: State,
    pub(crate) hs: HsData,
    pub(crate) reasm: Reassembler,
    // record layer
    pub(crate) write_epoch: u16,
    pub(crate) write_seq: [u64; 2],
    pub(crate) write_cipher: Option<RecordCipher>,
    pub(crate) read_cipher: Option<RecordCipher>,
    pub(crate) replay: ReplayWindow,
    pending_records: Vec<Vec<u8>>,
    pub(crate) last_record_seq: u64,
    // flights
    pub(crate) flight: Vec<FlightMsg>,
    pub(crate) flight_timer: bool,
    pub(crate) next_send_seq: u16,
    rto: Duration,
    retransmits: u32,
    pub(crate) timers: Timers<DtlsTimer, 2>,
    /// message_seq of the last message of the peer's last complete flight: a retransmission of it makes us
    /// re-send our current flight (RFC 6347 §4.2.4).
    pub(crate) peer_flight_end: Option<u16>,
    /// message_seq of the first message of that flight.
    pub(crate) peer_flight_start: Option<u16>,
    /// When a peer retransmission last made us re-send (rate limit: one flight per burst).
    last_triggered_resend: Option<Instant>,
    // io
    pub(crate) out: OutQueue<()>,
    pub(crate) recv: OutQueue<()>,
    pub(crate) events: EventQueue<Event>,
    pub(crate) now: Instant,
    pub(crate) cookie_secret: [u8; 32],
    pub(crate) expected_fingerprint: Option<Fingerprint>,
    /// The client's premaster secret between ServerKeyExchange and its Finished flight.
    pub(crate) pms: Option<[u8; 32]>,
    connected_reported: bool,
    pub(crate) data_event: bool,
    pub(crate) stats: Stats,
    /// Why the connection closed, once it has.
    close_reason: Option<Error>,
    /// DTLS 1.3 state: present while a 1.3 offer is out (client) and once 1.3 is negotiated.
    pub(crate) v13: Option<Box<super::v13::conn::V13>>,
}

impl core::fmt::Debug for Dtls {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Dtls").field("role", &self.role).field("state", &self.state).finish_non_exhaustive()
    }
}

impl Dtls {
    fn new(role: Role, config: Config, mut rng: SeededRng, state: State) -> Dtls {
        let cookie_secret = rng.bytes();
        let rto = config.initial_rto;
        Dtls {
            role,
            config,
            rng,
            state,
            hs: HsData::default(),
            reasm: Reassembler::default(),
            write_epoch: 0,
            write_seq: [0; 2],
            write_cipher: None,
            read_cipher: None,
            replay: ReplayWindow::default(),
            pending_records: Vec::new(),
            last_record_seq: 0,
            flight: Vec::new(),
            flight_timer: false,
            next_send_seq: 0,
            rto,
            retransmits: 0,
            timers: Timers::default(),
            peer_flight_end: None,
            peer_flight_start: None,
            last_triggered_resend: None,
            out: OutQueue::new(OUT_LIMIT),
            recv: OutQueue::new(RECV_LIMIT),
            events: EventQueue::new(EVENT_LIMIT),
            now: Instant::ZERO,
            cookie_secret,
            expected_fingerprint: None,
            pms: None,
            connected_reported: false,
            data_event: false,
            stats: Stats::default(),
            close_reason: None,
            v13: None,
        }
    }

    /// A client; its first flight (ClientHello) is queued at once and its retransmission timer runs from
    /// `now`. Then drain `poll_transmit` and read `poll_timeout`.
    pub fn client(config: Config, rng: SeededRng, now: Instant) -> Dtls {
        let mut d = Dtls::new(Role::Client, config, rng, State::ClientExpectServerHello);
        d.now = now;
        d.hs.client_random = d.rng.bytes();
        d.send_client_hello();
        d
    }

    /// A server waiting for a ClientHello.
    pub fn server(config: Config, rng: SeededRng) -> Dtls {
        Dtls::new(Role::Server, config, rng, State::ServerExpectClientHello)
    }

    /// Our role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Gives back the record buffers kept for reuse when nothing is waiting, for an application that
    /// holds many idle connections (the next record allocates again). Call it between polls: it releases
    /// the last datagram returned by `poll_transmit` and the last data returned by `read`.
    pub fn trim(&mut self) {
        self.out.trim();
        self.recv.trim();
        self.events.trim();
        if let Some(v) = self.v13.as_mut() {
            v.trim();
        }
        if self.flight.is_empty() {
            self.flight = Vec::new();
        }
    }

    /// Whether the handshake completed and the peer is authenticated.
    pub fn is_connected(&self) -> bool {
        self.state == State::Established && self.connected_reported
    }

    /// Whether the connection is closed.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Why the connection closed: [`Error::Closed`] for close_notify (ours or the peer's), else the fatal
    /// error. `None` while open.
    pub fn close_reason(&self) -> Option<Error> {
        self.close_reason
    }

    /// The negotiated cipher suite, once connected.
    pub fn cipher_suite(&self) -> Option<CipherSuite> {
        self.hs.suite.filter(|_| self.is_connected())
    }

    /// The negotiated version once connected: [`DTLS1_3`](super::wire::DTLS1_3) (0xfefc) or
    /// [`DTLS1_2`] (0xfefd), as W3C stats' `tlsVersion` shows it.
    pub fn protocol_version(&self) -> Option<u16> {
        self.is_connected().then(|| if self.is13() { super::wire::DTLS1_3 } else { DTLS1_2 })
    }

    /// The group of the ECDHE key exchange, once connected.
    pub fn group(&self) -> Option<NamedGroup> {
        self.hs.group.filter(|_| self.is_connected())
    }

    /// The DER certificate the peer presented, once its Certificate message arrived.
    pub fn peer_certificate(&self) -> Option<&[u8]> {
        self.hs.peer_certificate.as_deref()
    }

    /// Counters of drops and retransmissions.
    pub fn stats(&self) -> Stats {
        Stats { transmit_dropped: self.out.dropped(), ..self.stats }
    }

    /// The fingerprint of the certificate the peer presented, once its Certificate message arrived (before
    /// it is checked against the expected one).
    pub fn peer_fingerprint(&self) -> Option<Fingerprint> {
        self.hs.peer_fingerprint
    }

    /// Sets the fingerprint the peer's certificate must have (from its SDP `a=fingerprint`). May be called
    /// before or during the handshake; [`Event::Connected`] waits for it. A mismatch closes the connection
    /// with [`Error::FingerprintMismatch`]. Drain output and events after it.
    pub fn set_remote_fingerprint(&mut self, fingerprint: Fingerprint) {
        self.expected_fingerprint = Some(fingerprint);
        if let Some(peer) = self.hs.peer_fingerprint {
            if peer != fingerprint {
                self.fail(Error::FingerprintMismatch);
                return;
            }
        }
        self.maybe_connected();
    }

    /// Protects `data` as one application data record and queues it. Then drain `poll_transmit`.
    pub fn send(&mut self, data: &[u8]) -> Result<(), Error> {
        if self.state == State::Closed {
            return Err(Error::Closed);
        }
        if !self.is_connected() {
            return Err(Error::NotConnected);
        }
        if data.len() > MAX_PLAINTEXT {
            return Err(Error::TooLarge);
        }
        if self.is13() {
            return self.send13(data);
        }
        let Some(cipher) = self.write_cipher.as_ref() else { return Err(Error::NotConnected) };
        let seq = next_seq(&mut self.write_seq, 1);
        let ok = self
            .out
            .push_with((), |buf| {
                cipher.seal(buf, ContentType::APPLICATION_DATA, DTLS1_2, 1, seq, data);
                Ok::<(), Error>(())
            })
            .unwrap_or(false);
        if ok { Ok(()) } else { Err(Error::BufferFull) }
    }

    /// The next received application data record, borrowed until the next call on the machine.
    #[must_use]
    pub fn poll_data(&mut self) -> Option<&[u8]> {
        if !self.is_connected() {
            return None;
        }
        self.recv.pop().map(|(_, d)| d)
    }

    /// Sends close_notify and closes (RFC 5246 §7.2.1). Then drain `poll_transmit` and events.
    pub fn close(&mut self) {
        if self.state == State::Closed {
            return;
        }
        self.send_alert(ALERT_WARNING, AlertDescription::CLOSE_NOTIFY);
        self.close_with(Error::Closed);
    }

    /// The RFC 5705 exporter (no context) once connected; e.g. label "EXTRACTOR-dtls_srtp".
    pub fn export_keying_material(&self, label: &[u8], out: &mut [u8]) -> Result<(), Error> {
        if self.is13() {
            if self.state != State::Established {
                return Err(Error::NotConnected);
            }
            return self.export13(label, out);
        }
        let (Some(master), Some(suite)) = (self.hs.master.as_ref(), self.hs.suite) else {
            return Err(Error::NotConnected);
        };
        if self.state != State::Established {
            return Err(Error::NotConnected);
        }
        super::crypto::export(
            super::crypto::PrfHash::of(suite),
            master,
            label,
            &self.hs.client_random,
            &self.hs.server_random,
            out,
        );
        Ok(())
    }

    // ----- events and closing -----

    pub(crate) fn maybe_connected(&mut self) {
        if self.state != State::Established || self.connected_reported {
            return;
        }
        let (Some(expected), Some(peer)) = (self.expected_fingerprint, self.hs.peer_fingerprint) else { return };
        if expected != peer {
            self.fail(Error::FingerprintMismatch);
            return;
        }
        let (Some(suite), Some(group)) = (self.hs.suite, self.hs.group) else { return };
        let keying = self.hs.srtp.and_then(|p| {
            let len = p.keying_material_len()?;
            let mut block = [0u8; 88];
            let dst = block.get_mut(..len)?;
            self.export_keying_material(b"EXTRACTOR-dtls_srtp", dst).ok()?;
            SrtpKeying::new(p, dst)
        });
        self.connected_reported = true;
        // The handshake's reassembly buffers are not needed any more (a retransmitted Finished is only
        // recognised by its sequence number).
        self.reasm.release();
        tracing::debug!(target: TARGET, role = ?self.role, suite = %suite, group = %group, "connected");
        self.events.push(Event::Connected(Connected {
            role: self.role,
            cipher_suite: suite,
            group,
            srtp_profile: self.hs.srtp,
            keying,
            peer_fingerprint: peer,
        }));
        if !self.recv.is_empty() {
            self.events.push(Event::Data);
        }
    }

    /// Updates our DTLS 1.3 write keys (RFC 9147 §8, RFC 8446 §4.6.3): sends a KeyUpdate, re-sent on a timer
    /// until acknowledged, after which records go out under the next epoch's keys. One update is in flight at
    /// a time (a call while one is outstanding does nothing). Also done automatically before the AEAD usage
    /// limit. Then drain [`Dtls::poll_transmit`] and re-read [`Dtls::poll_timeout`].
    ///
    /// Returns [`Error::NotConnected`] unless a DTLS 1.3 connection is established.
    pub fn update_keys(&mut self, now: Instant) -> Result<(), Error> {
        self.set_now(now);
        if !self.is13() || !self.is_connected() {
            return Err(Error::NotConnected);
        }
        self.start_key_update13(false);
        Ok(())
    }

    /// The NSS key log of this connection, when [`Config::key_log`] is set: DTLS 1.2's `CLIENT_RANDOM` line
    /// once the master secret is known, DTLS 1.3's five secrets once the application traffic secrets are.
    /// What a capture needs for Wireshark to decrypt it. Also reported once as [`Event::KeyLog`].
    pub fn key_log(&self) -> Option<KeyLog> {
        if !self.config.key_log {
            return None;
        }
        if self.is13() {
            return self.v13.as_deref().and_then(|v| v.key_log(self.hs.client_random));
        }
        self.hs.master.map(|master| KeyLog::dtls12(self.hs.client_random, master))
    }

    pub(crate) fn emit_key_log(&mut self) {
        if let (true, Some(master)) = (self.config.key_log, self.hs.master) {
            self.events.push(Event::KeyLog(Box::new(KeyLog::dtls12(self.hs.client_random, master))));
        }
    }

    fn close_with(&mut self, reason: Error) {
        tracing::debug!(target: TARGET, %reason, "closed");
        self.state = State::Closed;
        self.close_reason = Some(reason);
        self.timers.clear_all();
        self.flight.clear();
        self.reasm.clear();
        self.pending_records.clear();
        self.events.push(Event::Closed { reason });
    }

    /// A fatal error: send its alert (if it has one), close, report. Returns the error.
    pub(crate) fn fail(&mut self, err: Error) -> Error {
        if self.state == State::Closed {
            return err;
        }
        if let Some(alert) = err.alert() {
            self.send_alert(ALERT_FATAL, alert);
        }
        self.close_with(err);
        err
    }

    /// A fatal error with an explicit alert.
    pub(crate) fn fail_alert(&mut self, err: Error, alert: AlertDescription) -> Error {
        if self.state == State::Closed {
            return err;
        }
        self.send_alert(ALERT_FATAL, alert);
        self.close_with(err);
        err
    }

    fn send_alert(&mut self, level: u8, desc: AlertDescription) {
        self.send_record(ContentType::ALERT, &[level, desc.0]);
    }

    /// Sends one record alone in a datagram at the current write epoch.
    fn send_record(&mut self, ty: ContentType, payload: &[u8]) {
        if self.is13() {
            self.send_record13(ty, payload);
            return;
        }
        let epoch = self.write_epoch;
        let seq = next_seq(&mut self.write_seq, epoch);
        let cipher = if epoch == 1 { self.write_cipher.as_ref() } else { None };
        let _ = self.out.push_with((), |buf| {
            write_record(buf, cipher, ty, epoch, seq, payload);
            Ok::<(), Error>(())
        });
    }

    /// Sends a HelloVerifyRequest statelessly, echoing the ClientHello's record sequence number (RFC 6347
    /// §4.2.1).
    pub(crate) fn send_stateless(&mut self, record_seq: u64, message: &[u8]) {
        let _ = self.out.push_with((), |buf| {
            write_header(buf, ContentType::HANDSHAKE, super::wire::DTLS1_0, 0, record_seq, message.len() as u16);
            buf.extend_from_slice(message);
            Ok::<(), Error>(())
        });
    }

    // ----- flights -----

    /// Starts a new flight: the previous one is acknowledged by the peer's progress.
    pub(crate) fn new_flight(&mut self) {
        self.flight.clear();
        self.clear_sent13();
        self.rto = self.config.initial_rto;
        self.retransmits = 0;
        self.timers.clear(DtlsTimer::Retransmit);
    }

    /// Adds a handshake message to the flight and (unless `in_transcript` is false) to the transcript.
    pub(crate) fn queue_handshake(&mut self, msg_type: HandshakeType, body: Vec<u8>, in_transcript: bool) {
        let seq = self.next_send_seq;
        self.next_send_seq = self.next_send_seq.wrapping_add(1);
        if in_transcript {
            super::wire::handshake::write_message(&mut self.hs.transcript, msg_type, seq, &body);
        }
        self.flight.push(FlightMsg::Handshake { epoch: self.write_epoch, msg_type, seq, body });
    }

    pub(crate) fn queue_change_cipher_spec(&mut self) {
        self.flight.push(FlightMsg::ChangeCipherSpec);
    }

    /// Sends the current flight; `timer` arms retransmission (false for a final flight, which is only
    /// re-sent when the peer retransmits).
    pub(crate) fn send_flight(&mut self, timer: bool) {
        self.flight_timer = timer;
        self.emit_flight();
        if timer {
            self.timers.set(DtlsTimer::Retransmit, self.now + self.rto);
        } else {
            self.timers.clear(DtlsTimer::Retransmit);
        }
    }

    /// Packs the flight into datagrams of at most `mtu` bytes, fragmenting handshake messages (RFC 6347
    /// §4.2.3). Every record gets a fresh sequence number, retransmissions included.
    pub(crate) fn emit_flight(&mut self) {
        if self.is13() {
            self.emit_flight13();
            return;
        }
        let mtu = self.config.mtu.max(REC_HEADER + HS_HEADER + AEAD_OVERHEAD + 16);
        let mut packer = Packer::new(mtu);
        let flight = core::mem::take(&mut self.flight);
        let out = &mut self.out;
        let mut flush = |d: &[u8]| {
            let _ = out.push((), d);
        };
        for msg in &flight {
            match msg {
                FlightMsg::ChangeCipherSpec => {
                    packer.make_room(REC_HEADER + 1, &mut flush);
                    let seq = next_seq(&mut self.write_seq, 0);
                    write_record(packer.datagram(), None, ContentType::CHANGE_CIPHER_SPEC, 0, seq, &[1]);
                }
                FlightMsg::Handshake { epoch, msg_type, seq: mseq, body } => {
                    let epoch = *epoch;
                    let cipher =
                        if epoch == 1 { self.write_cipher.as_ref().or(self.hs.pending_write.as_deref()) } else { None };
                    let overhead = REC_HEADER + if epoch == 1 { AEAD_OVERHEAD } else { 0 };
                    let write_seq = &mut self.write_seq;
                    let mut seal = |d: &mut Vec<u8>, fragment: &[u8]| {
                        let rseq = next_seq(write_seq, epoch);
                        write_record(d, cipher, ContentType::HANDSHAKE, epoch, rseq, fragment);
                    };
                    packer.message(*msg_type, *mseq, body, overhead, &mut flush, &mut seal);
                }
            }
        }
        packer.flush(&mut flush);
        self.flight = flight;
    }

    pub(crate) fn retransmit(&mut self) {
        if self.flight.is_empty() {
            // A DTLS 1.3 server's last word is its ACK of the client's final flight.
            if self.is13() && self.state == State::Established {
                self.send_ack13();
            }
            return;
        }
        self.stats.retransmissions += 1;
        tracing::trace!(target: TARGET, state = ?self.state, "retransmitting flight");
        self.emit_flight();
    }

    // ----- receiving -----

    fn handle_datagram(&mut self, datagram: &[u8]) -> Result<(), Error> {
        self.stats.datagrams_received += 1;
        if super::v13::ENABLED && self.v13.is_some() {
            return self.handle_datagram13(datagram);
        }
        let mut result = Ok(());
        let mut resend = false;
        for rec in RecordIter::new(datagram) {
            if self.state == State::Closed {
                break;
            }
            let r = match rec {
                Ok(rec) => self.handle_record(&rec, &mut resend),
                Err(e) => Err(e),
            };
            if let Err(e) = r {
                if self.state != State::Closed {
                    self.stats.records_dropped += 1;
                    tracing::trace!(target: TARGET, error = %e, "record dropped");
                }
                if result.is_ok() {
                    result = Err(e);
                }
            }
        }
        if resend && self.state != State::Closed {
            self.retransmit();
        }
        self.finish_datagram();
        result
    }

    /// Reports received data once per datagram.
    pub(crate) fn finish_datagram(&mut self) {
        if self.data_event && self.is_connected() {
            self.events.push(Event::Data);
        }
        self.data_event = false;
    }

    pub(crate) fn handle_record(&mut self, rec: &Record<'_>, resend: &mut bool) -> Result<(), Error> {
        let ty = rec.content_type();
        self.last_record_seq = rec.sequence();
        match rec.epoch() {
            0 => {
                if ty == ContentType::APPLICATION_DATA {
                    return Err(Error::WrongEpoch(0));
                }
                // After the handshake, unprotected alerts could be forged: ignore them.
                if ty == ContentType::ALERT && self.read_cipher.is_some() && self.state == State::Established {
                    return Err(Error::WrongEpoch(0));
                }
                self.handle_plaintext(0, ty, rec.fragment(), resend)
            }
            1 => {
                let Some(cipher) = self.read_cipher.as_ref() else {
                    if self.state == State::Closed || self.pending_records.len() >= MAX_PENDING_RECORDS {
                        return Err(Error::WrongEpoch(1));
                    }
                    self.pending_records.push(rec.as_bytes().to_vec());
                    return Ok(());
                };
                self.replay.check(rec.sequence())?;
                if ty == ContentType::APPLICATION_DATA {
                    let pushed = self.recv.push_with((), |buf| cipher.open(rec, buf))?;
                    self.replay.accept(rec.sequence());
                    if pushed {
                        self.data_event = true;
                    } else {
                        self.stats.data_dropped += 1;
                    }
                    return Ok(());
                }
                let mut plain = Vec::new();
                cipher.open(rec, &mut plain)?;
                self.replay.accept(rec.sequence());
                self.handle_plaintext(1, ty, &plain, resend)
            }
            e => Err(Error::WrongEpoch(e)),
        }
    }

    pub(crate) fn handle_plaintext(
        &mut self,
        epoch: u16,
        ty: ContentType,
        data: &[u8],
        resend: &mut bool,
    ) -> Result<(), Error> {
        match ty {
            ContentType::HANDSHAKE => {
                let mut result = Ok(());
                for frag in HandshakeIter::new(data) {
                    let (h, body) = frag?;
                    if let Err(e) = self.handle_fragment(epoch, &h, body, resend) {
                        result = Err(e);
                        if self.state == State::Closed {
                            break;
                        }
                    }
                }
                result
            }
            ContentType::CHANGE_CIPHER_SPEC => {
                // The epoch switch is implied by the next-epoch keys; CCS itself carries nothing.
                if data != [1] { Err(Error::Malformed) } else { Ok(()) }
            }
            ContentType::ALERT => {
                let [level, desc] = data else { return Err(Error::Malformed) };
                let desc = AlertDescription(*desc);
                if desc == AlertDescription::CLOSE_NOTIFY {
                    if self.state != State::Closed {
                        self.send_alert(ALERT_WARNING, AlertDescription::CLOSE_NOTIFY);
                        self.close_with(Error::PeerClosed);
                    }
                    Ok(())
                } else if *level == ALERT_FATAL {
                    self.close_with(Error::PeerAlert(desc));
                    Err(Error::PeerAlert(desc))
                } else {
                    self.events.push(Event::Alert(desc));
                    Ok(())
                }
            }
            ContentType::APPLICATION_DATA => Err(Error::WrongEpoch(epoch)),
            other => Err(Error::UnknownContentType(other.0)),
        }
    }

    fn handle_fragment(
        &mut self,
        epoch: u16,
        h: &HandshakeHeader,
        body: &[u8],
        resend: &mut bool,
    ) -> Result<(), Error> {
        match self.state {
            State::Closed => return Err(Error::Closed),
            State::ServerExpectClientHello => {
                if h.msg_type != HandshakeType::CLIENT_HELLO || epoch != 0 {
                    return Err(Error::UnexpectedSequence);
                }
                self.reasm.insert(epoch, h, body)?;
                if let Some(slot) = self.reasm.pop_complete_of(&[HandshakeType::CLIENT_HELLO]) {
                    return self.on_client_hello(slot.seq, &slot.body);
                }
                return Ok(());
            }
            State::ClientExpectServerHello
                if matches!(h.msg_type, HandshakeType::HELLO_VERIFY_REQUEST | HandshakeType::SERVER_HELLO) =>
            {
                // The server's first message_seq depends on how many cookie exchanges it did; take the
                // ServerHello or HelloVerifyRequest at whatever seq it comes and count from there.
                if h.message_seq < self.reasm.next_seq {
                    return Ok(());
                }
                self.reasm.insert(epoch, h, body)?;
                let types = [HandshakeType::HELLO_VERIFY_REQUEST, HandshakeType::SERVER_HELLO];
                if let Some(slot) = self.reasm.pop_complete_of(&types) {
                    self.reasm.rebase(slot.seq.wrapping_add(1));
                    if slot.msg_type == HandshakeType::HELLO_VERIFY_REQUEST {
                        return self.on_hello_verify_request(&slot.body);
                    }
                    self.process_message(slot.epoch, slot.msg_type, slot.seq, &slot.body)?;
                    return self.drain_ready();
                }
                return Ok(());
            }
            State::Established if epoch == 1 && h.message_seq >= self.reasm.next_seq => {
                // No renegotiation: refuse with a warning (RFC 5746 §4.2, RFC 5246 §7.2.2).
                if h.fragment_offset == 0 {
                    self.send_alert(ALERT_WARNING, AlertDescription::NO_RENEGOTIATION);
                }
                return Err(Error::UnexpectedMessage);
            }
            _ => {}
        }
        match self.reasm.insert(epoch, h, body)? {
            Insert::Old => {
                // Any message of the peer's last flight again means our answer was lost (RFC 6347 §4.2.4).
                let in_last_flight = match (self.peer_flight_start, self.peer_flight_end) {
                    (Some(a), Some(b)) => (a..=b).contains(&h.message_seq),
                    _ => false,
                };
                let quiet = self.config.initial_rto / 4;
                let due = self.last_triggered_resend.is_none_or(|t| self.now >= t + quiet);
                if in_last_flight && due {
                    self.last_triggered_resend = Some(self.now);
                    *resend = true;
                }
                Ok(())
            }
            Insert::Stored => self.drain_ready(),
        }
    }

    /// Processes every complete in-order message, then any next-epoch records that became readable.
    fn drain_ready(&mut self) -> Result<(), Error> {
        while let Some(slot) = self.reasm.pop_ready() {
            self.process_message(slot.epoch, slot.msg_type, slot.seq, &slot.body)?;
            if self.state == State::Closed {
                return Err(Error::Closed);
            }
        }
        if self.is13() {
            self.replay_pending13();
            return Ok(());
        }
        if self.read_cipher.is_some() && !self.pending_records.is_empty() {
            let pending = core::mem::take(&mut self.pending_records);
            let mut resend = false;
            for raw in &pending {
                if let Ok((rec, _)) = Record::parse_prefix(raw) {
                    if self.handle_record(&rec, &mut resend).is_err() {
                        self.stats.records_dropped += 1;
                    }
                }
            }
        }
        Ok(())
    }

    /// Dispatches one complete message; a fatal error closes the connection.
    fn process_message(&mut self, epoch: u16, ty: HandshakeType, seq: u16, body: &[u8]) -> Result<(), Error> {
        match self.on_message(epoch, ty, seq, body) {
            Ok(()) => Ok(()),
            Err(e) => {
                tracing::debug!(target: TARGET, error = %e, msg = %ty, state = ?self.state, "handshake failed");
                Err(self.fail(e))
            }
        }
    }

    pub(crate) fn set_now(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }
}

/// Writes one record (plaintext for epoch 0, AEAD-protected when `cipher` is given) to `out`.
pub(crate) fn write_record(
    out: &mut Vec<u8>,
    cipher: Option<&RecordCipher>,
    ty: ContentType,
    epoch: u16,
    seq: u64,
    payload: &[u8],
) {
    match cipher {
        Some(c) => c.seal(out, ty, DTLS1_2, epoch, seq, payload),
        None => {
            write_header(out, ty, DTLS1_2, epoch, seq, payload.len() as u16);
            out.extend_from_slice(payload);
        }
    }
}

pub(crate) fn next_seq(seqs: &mut [u64; 2], epoch: u16) -> u64 {
    let slot = seqs.get_mut(usize::from(epoch.min(1))).map_or(0, |s| {
        let v = *s;
        *s += 1;
        v
    });
    slot & 0xffff_ffff_ffff
}

impl Machine for Dtls {
    type Event = Event;

    fn handle_timeout(&mut self, now: Instant) {
        self.set_now(now);
        while let Some(t) = self.timers.pop_due(self.now) {
            match t {
                DtlsTimer::Retransmit => {
                    if self.state == State::Closed || !self.flight_timer {
                        continue;
                    }
                    if self.retransmits >= self.config.max_retransmits {
                        if self.state == State::Established {
                            // A DTLS 1.3 client whose final flight was never acknowledged: the server
                            // authenticated us before it could ACK, and we are connected; stop re-sending.
                            self.new_flight();
                            continue;
                        }
                        self.close_with(Error::HandshakeTimeout);
                        continue;
                    }
                    self.retransmits += 1;
                    self.rto = (self.rto * 2).min(self.config.max_rto);
                    self.retransmit();
                    self.timers.set(DtlsTimer::Retransmit, self.now + self.rto);
                }
                DtlsTimer::KeyUpdate => self.retransmit_key_update13(),
            }
        }
    }

    /// The next event. A pure read: it owes the peer nothing.
    fn poll_event(&mut self) -> Option<Event> {
        self.events.pop()
    }

    /// The flight retransmission timer, or the latest `now` given while datagrams wait in `poll_transmit`
    /// (after [`Dtls::send`], [`Dtls::close`] or [`Dtls::set_remote_fingerprint`] too, which take no `now`).
    fn poll_timeout(&self) -> Option<Instant> {
        deadline(self.timers.next(), self.now, !self.out.is_empty())
    }
}

impl DatagramMachine for Dtls {
    type Error = Error;

    fn handle_receive(&mut self, now: Instant, datagram: &[u8]) -> Result<(), Error> {
        self.set_now(now);
        if self.state == State::Closed {
            return Err(Error::Closed);
        }
        self.handle_datagram(datagram)
    }

    fn poll_transmit(&mut self) -> Option<&[u8]> {
        self.out.pop().map(|(_, d)| d)
    }
}
