//! The DTLS 1.3 side of the [`Dtls`] machine: its record layer (unified headers, epochs 2 and 3, replay
//! windows), flight emission, ACKs (RFC 9147 §7), application data and the exporter. The handshake
//! handlers live in `client.rs` and `server.rs`; flights, timers and reassembly are the machine's own.

use alloc::boxed::Box;
use alloc::vec::Vec;

use super::key_schedule::{HashAlg, KeySchedule, LabelPrefix, Secret, TrafficKeys, export, next_traffic_secret};
use super::messages::{MAX_ACK_ENTRIES, emit_ack, parse_ack};
use super::record::{Aead, CiphertextRecord, RecordProtection, TAG_LEN, UnifiedHeader, is_ciphertext};
use crate::dtls::KeyLog;
use crate::dtls::conn::{Dtls, DtlsTimer, FlightMsg, ReplayWindow, State, TARGET, next_seq};
use crate::dtls::crypto::KeyShare;
use crate::dtls::error::Error;
use crate::dtls::fragment::Packer;
use crate::dtls::wire::handshake::{HEADER_LEN as HS_HEADER, HandshakeHeader, HandshakeIter};
use crate::dtls::wire::record::{HEADER_LEN as REC_HEADER, write_header};
use crate::dtls::wire::{CipherSuite, ContentType, DTLS1_2, HandshakeType, Record};

/// Records of an epoch whose keys we do not have yet, held until they exist (reordering).
const MAX_PENDING: usize = 8;
/// Record numbers of the current flight remembered to match ACKs against.
const MAX_SENT_RECORDS: usize = 64;
/// Unified header as we write it: first byte, 16-bit sequence number, length.
const UNIFIED_HEADER: usize = 5;
/// Records protected under one application traffic key before we update it: the AES-GCM confidentiality
/// limit of RFC 9001 §6.6 (2^23), below RFC 8446 §5.5's 2^24.5 that RFC 9147 §4.5.3 points to.
pub(crate) const KEY_UPDATE_LIMIT: u64 = 1 << 23;
/// Record numbers of our outstanding KeyUpdate (each retransmission is a new record) matched against ACKs.
const MAX_KEY_UPDATE_RECORDS: usize = 8;

/// Our KeyUpdate waiting for its ACK (RFC 9147 §8): until then we keep writing with the current keys.
pub(crate) struct KeyUpdateOut {
    /// The handshake message as sent (DTLS handshake header and the one-byte body).
    message: [u8; HS_HEADER + 1],
    /// Record numbers it was sent in.
    pub(crate) records: Vec<(u64, u64)>,
    /// Retransmissions so far.
    pub(crate) tries: u32,
}

/// The label prefix of every DTLS 1.3 key derivation (RFC 9147 §5.9).
pub(crate) const PREFIX: LabelPrefix = LabelPrefix::Dtls13;

/// DTLS 1.3 state of a connection.
#[derive(Default)]
pub(crate) struct V13 {
    /// 1.3 is negotiated (else a client's 1.3 offer is out and the server may still answer 1.2).
    pub(crate) active: bool,
    /// The client's key shares of its current ClientHello.
    pub(crate) shares: Vec<KeyShare>,
    /// The client's current ClientHello as TLS 1.3 hashes it (type, 24-bit length, body).
    pub(crate) client_hello: Vec<u8>,
    /// The HelloRetryRequest cookie to echo.
    pub(crate) cookie: Vec<u8>,
    /// The transcript (TLS 1.3 message framing: RFC 9147 §5.2 leaves the DTLS fields out).
    pub(crate) transcript: Vec<u8>,
    pub(crate) suite: Option<CipherSuite>,
    pub(crate) schedule: Option<Box<KeySchedule>>,
    /// client/server handshake traffic secrets.
    pub(crate) hs_secrets: Option<Box<(Secret, Secret)>>,
    /// client/server application traffic secrets.
    pub(crate) app_secrets: Option<Box<(Secret, Secret)>>,
    pub(crate) exporter: Option<Secret>,
    /// The CertificateRequest context to echo (client).
    pub(crate) cert_context: Vec<u8>,
    /// Write and read protection of epochs 2 and 3 (their keys on the heap: a connection holds only the
    /// ones it has). Epoch 2's go once the handshake no longer needs them ([`V13::handshake_done`]).
    write: [Option<RecordProtection>; 2],
    read: [Option<RecordProtection>; 2],
    /// Epoch 2's keys were dropped: its records are old retransmissions, not records to keep until keys
    /// exist.
    epoch2_dropped: bool,
    write_seq: [u64; 2],
    read_next: [u64; 2],
    replay: [ReplayWindow; 2],
    /// Epochs of the application keys in slot 1: 3, then one more per KeyUpdate (RFC 9147 §8).
    pub(crate) app_read_epoch: u64,
    pub(crate) app_write_epoch: u64,
    /// The current application traffic secrets: ours (writing) and the peer's (reading).
    write_secret: Option<Secret>,
    read_secret: Option<Secret>,
    /// The previous application read epoch's keys, replay window and next expected sequence number, for its
    /// late records.
    prev_read: Option<(RecordProtection, ReplayWindow, u64)>,
    /// Our outstanding KeyUpdate.
    pub(crate) key_update: Option<KeyUpdateOut>,
    /// Records written under the current application write keys.
    pub(crate) records_written: u64,
    /// Records per write key before an automatic KeyUpdate (0: [`KEY_UPDATE_LIMIT`]).
    pub(crate) key_update_limit: u64,
    pending: Vec<Vec<u8>>,
    /// Record numbers (epoch, sequence) of the current flight as sent.
    sent: Vec<(u64, u64)>,
    /// Record numbers of the peer's epoch-2 handshake records, for our ACK.
    received: Vec<(u64, u64)>,
    scratch: Vec<u8>,
}

impl V13 {
    /// The suite's hash and AEAD (SHA-256 and AES-128-GCM until a suite is chosen).
    pub(crate) fn hash(&self) -> (HashAlg, Aead) {
        self.suite.and_then(Aead::of_suite).unwrap_or((HashAlg::Sha256, Aead::Aes128Gcm))
    }

    /// The transcript hash so far.
    pub(crate) fn transcript_hash(&self) -> Secret {
        self.hash().0.digest(&self.transcript)
    }

    /// Installs the keys of `secret` for writing (or reading) `epoch` (2 or 3).
    pub(crate) fn install(&mut self, epoch: u16, secret: &Secret, write: bool) -> Result<(), Error> {
        let (hash, aead) = self.hash();
        let keys = TrafficKeys::derive(hash, PREFIX, secret, aead.key_len())?;
        let prot = RecordProtection::new(aead, &keys)?;
        if epoch == 3 {
            if write {
                self.app_write_epoch = 3;
                self.write_secret = Some(*secret);
            } else {
                self.app_read_epoch = 3;
                self.read_secret = Some(*secret);
            }
        }
        let slot = if write { &mut self.write } else { &mut self.read };
        let i = usize::from(epoch.saturating_sub(2).min(1));
        if let Some(s) = slot.get_mut(i) {
            *s = Some(prot);
        }
        Ok(())
    }

    /// The handshake is over for us: what only it used goes (the key shares, the ClientHello, the cookie,
    /// the transcript, the certificate request context, and the handshake and application traffic
    /// secrets unless `key_log` needs them). Epoch 2's write keys go too unless `keep_write`,
    /// and its read keys unless `keep_read`: a client keeps both until the server acknowledges its final
    /// flight; a server drops both with the client's Finished.
    pub(crate) fn handshake_done(&mut self, keep_write: bool, keep_read: bool, key_log: bool) {
        self.shares = Vec::new();
        self.client_hello = Vec::new();
        self.cookie = Vec::new();
        self.transcript = Vec::new();
        self.cert_context = Vec::new();
        self.schedule = None;
        if !key_log {
            self.hs_secrets = None;
            self.app_secrets = None;
        }
        if !keep_write {
            self.write[0] = None;
        }
        if !keep_read {
            self.read[0] = None;
        }
        self.epoch2_dropped |= !keep_read;
    }

    /// Whether epoch 2's keys (either direction) are still held.
    #[cfg(test)]
    pub(crate) fn has_epoch2_keys(&self) -> bool {
        self.write[0].is_some() || self.read[0].is_some()
    }

    /// Gives back the buffers kept for reuse when nothing is waiting in them (an idle connection).
    pub(crate) fn trim(&mut self) {
        self.scratch = Vec::new();
        if self.pending.is_empty() {
            self.pending = Vec::new();
        }
        if self.sent.is_empty() {
            self.sent = Vec::new();
        }
    }
}

impl V13 {
    /// The NSS key log (RFC 8446 secrets, keyed by the client random), once the application traffic secrets
    /// and the exporter secret are known.
    pub(crate) fn key_log(&self, client_random: [u8; 32]) -> Option<KeyLog> {
        let (ch, sh) = self.hs_secrets.as_deref()?;
        let (ca, sa) = self.app_secrets.as_deref()?;
        let ex = self.exporter.as_ref()?;
        let mut k = KeyLog::empty(client_random);
        k.push("CLIENT_HANDSHAKE_TRAFFIC_SECRET", ch.as_bytes());
        k.push("SERVER_HANDSHAKE_TRAFFIC_SECRET", sh.as_bytes());
        k.push("CLIENT_TRAFFIC_SECRET_0", ca.as_bytes());
        k.push("SERVER_TRAFFIC_SECRET_0", sa.as_bytes());
        k.push("EXPORTER_SECRET", ex.as_bytes());
        Some(k)
    }
}

/// Appends a handshake message as TLS 1.3 hashes it.
pub(crate) fn write_tls_message(out: &mut Vec<u8>, ty: HandshakeType, body: &[u8]) {
    out.push(ty.0);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    out.extend_from_slice(body);
}

impl Dtls {
    /// Whether DTLS 1.3 was negotiated. Inlined so that without the feature every 1.3 branch folds away.
    #[inline(always)]
    pub(crate) fn is13(&self) -> bool {
        super::ENABLED && self.v13.as_ref().is_some_and(|v| v.active)
    }

    /// The versions we speak: the configured ones, or 1.2 alone without the `dtls13` feature.
    #[inline(always)]
    pub(crate) fn versions(&self) -> crate::dtls::Versions {
        if super::ENABLED { self.config.versions } else { crate::dtls::Versions::Dtls12 }
    }

    /// Packs the flight into datagrams: epoch 0 messages in DTLSPlaintext records, the others protected
    /// under their epoch's keys with the unified header, fragmenting to the MTU.
    pub(crate) fn emit_flight13(&mut self) {
        let Some(mut v) = self.v13.take() else { return };
        let mtu = self.config.mtu.max(REC_HEADER + HS_HEADER + TAG_LEN + 64);
        let mut packer = Packer::new(mtu);
        let flight = core::mem::take(&mut self.flight);
        let out = &mut self.out;
        let mut flush = |d: &[u8]| {
            let _ = out.push((), d);
        };
        for msg in &flight {
            let FlightMsg::Handshake { epoch, msg_type, seq: mseq, body } = msg else { continue };
            let epoch = *epoch;
            if epoch == 0 {
                let write_seq = &mut self.write_seq;
                let mut seal = |d: &mut Vec<u8>, fragment: &[u8]| {
                    let rseq = next_seq(write_seq, 0);
                    write_header(d, ContentType::HANDSHAKE, DTLS1_2, 0, rseq, fragment.len() as u16);
                    d.extend_from_slice(fragment);
                };
                packer.message(*msg_type, *mseq, body, REC_HEADER, &mut flush, &mut seal);
            } else {
                let mut seal = |d: &mut Vec<u8>, fragment: &[u8]| v.seal(d, epoch, ContentType::HANDSHAKE, fragment);
                packer.message(*msg_type, *mseq, body, UNIFIED_HEADER + 1 + TAG_LEN, &mut flush, &mut seal);
            }
        }
        packer.flush(&mut flush);
        self.flight = flight;
        self.v13 = Some(v);
    }

    /// Sends one protected record alone in a datagram at the highest epoch we can write.
    pub(crate) fn send_record13(&mut self, ty: ContentType, payload: &[u8]) {
        let Some(v) = self.v13.as_mut() else { return };
        let epoch = if v.write[1].is_some() {
            3
        } else if v.write[0].is_some() {
            2
        } else {
            let seq = next_seq(&mut self.write_seq, 0);
            let _ = self.out.push_with((), |buf| {
                write_header(buf, ty, DTLS1_2, 0, seq, payload.len() as u16);
                buf.extend_from_slice(payload);
                Ok::<(), Error>(())
            });
            return;
        };
        let _ = self.out.push_with((), |buf| {
            v.seal(buf, epoch, ty, payload);
            Ok::<(), Error>(())
        });
    }

    /// Protects application data in epoch 3.
    pub(crate) fn send13(&mut self, data: &[u8]) -> Result<(), Error> {
        let Some(v) = self.v13.as_mut() else { return Err(Error::NotConnected) };
        if v.write[1].is_none() {
            return Err(Error::NotConnected);
        }
        let ok = self
            .out
            .push_with((), |buf| {
                v.seal(buf, 3, ContentType::APPLICATION_DATA, data);
                Ok::<(), Error>(())
            })
            .unwrap_or(false);
        let limit = if v.key_update_limit == 0 { KEY_UPDATE_LIMIT } else { v.key_update_limit };
        if v.records_written >= limit && v.key_update.is_none() {
            tracing::debug!(target: TARGET, records = v.records_written, "AEAD usage limit near: updating keys");
            self.start_key_update13(false);
        }
        if ok { Ok(()) } else { Err(Error::BufferFull) }
    }

    /// Acknowledges the peer's epoch-2 handshake records (the server, after the client's Finished).
    pub(crate) fn send_ack13(&mut self) {
        let Some(v) = self.v13.as_ref() else { return };
        let mut body = Vec::with_capacity(2 + 16 * v.received.len());
        emit_ack(&mut body, &v.received);
        tracing::trace!(target: TARGET, records = v.received.len(), "sending ACK");
        self.send_record13(ContentType::ACK, &body);
    }

    /// The DTLS-SRTP (or any RFC 8446 §7.5) exporter, no context.
    pub(crate) fn export13(&self, label: &[u8], out: &mut [u8]) -> Result<(), Error> {
        let v = self.v13.as_ref().ok_or(Error::NotConnected)?;
        let ex = v.exporter.as_ref().ok_or(Error::NotConnected)?;
        export(v.hash().0, PREFIX, ex, label, &[], out)
    }

    /// A datagram while a 1.3 offer is out or 1.3 is negotiated: DTLSPlaintext records go the 1.2 way
    /// (epoch 0 only once 1.3 is on), DTLSCiphertext records are opened with their epoch's keys.
    pub(crate) fn handle_datagram13(&mut self, datagram: &[u8]) -> Result<(), Error> {
        let mut result = Ok(());
        let mut resend = false;
        let mut rest = datagram;
        while let Some(&first) = rest.first() {
            if self.state == State::Closed {
                break;
            }
            let r = if is_ciphertext(first) {
                match UnifiedHeader::parse_prefix(rest, 0) {
                    Ok((rec, tail)) => {
                        rest = tail;
                        self.handle_ciphertext13(&rec, &mut resend)
                    }
                    Err(e) => {
                        rest = &[];
                        Err(e)
                    }
                }
            } else {
                match Record::parse_prefix(rest) {
                    Ok((rec, tail)) => {
                        rest = tail;
                        let epoch0 = rec.epoch() == 0;
                        // Once 1.3 keys exist, an unprotected alert could be forged: ignore it.
                        let has_keys = self.v13.as_ref().is_some_and(|v| v.read.iter().any(Option::is_some));
                        if self.is13() && (!epoch0 || (has_keys && rec.content_type() == ContentType::ALERT)) {
                            Err(Error::WrongEpoch(rec.epoch()))
                        } else {
                            self.handle_record(&rec, &mut resend)
                        }
                    }
                    Err(e) => {
                        rest = &[];
                        Err(e)
                    }
                }
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

    fn handle_ciphertext13(&mut self, rec: &CiphertextRecord<'_>, resend: &mut bool) -> Result<(), Error> {
        let Some(v) = self.v13.as_mut() else { return Err(Error::WrongEpoch(rec.header.epoch_bits.into())) };
        let bits = u64::from(rec.header.epoch_bits);
        // Application epochs first (epoch 6 shares epoch 2's two bits), then the handshake's.
        let app = v.read[1].is_some();
        let (epoch, full_epoch, prev) = if app && bits == v.app_read_epoch & 3 {
            (3u16, v.app_read_epoch, false)
        } else if app && v.prev_read.is_some() && bits == v.app_read_epoch.wrapping_sub(1) & 3 {
            (3, v.app_read_epoch.wrapping_sub(1), true)
        } else if bits == 2 || (bits == 3 && !app) {
            (bits as u16, bits, false)
        } else {
            return Err(Error::WrongEpoch(bits as u16));
        };
        let i = usize::from(epoch - 2);
        let keys = if prev { v.prev_read.as_ref().map(|p| &p.0) } else { v.read.get(i).and_then(Option::as_ref) };
        let Some(prot) = keys else {
            if epoch == 2 && v.epoch2_dropped {
                // The handshake is over. At a server this is the client's final flight again: our ACK
                // was lost, and the ACK we sent names records of that flight, so it is sent again as it
                // was (RFC 9147 §7.1) without the epoch's keys. One per datagram at most.
                *resend |= self.role == crate::dtls::Role::Server;
                return Err(Error::WrongEpoch(epoch));
            }
            if v.pending.len() >= MAX_PENDING {
                return Err(Error::WrongEpoch(epoch));
            }
            let mut raw = Vec::with_capacity(rec.header_bytes.len() + rec.encrypted.len());
            raw.extend_from_slice(rec.header_bytes);
            raw.extend_from_slice(rec.encrypted);
            v.pending.push(raw);
            return Ok(());
        };
        let mut plain = core::mem::take(&mut v.scratch);
        let expected = match &v.prev_read {
            Some(p) if prev => p.2,
            _ => v.read_next.get(i).copied().unwrap_or(0),
        };
        let opened = prot.open(rec, expected, &mut plain);
        let opened = match opened {
            Ok(o) => o,
            Err(e) => {
                v.scratch = plain;
                return Err(e);
            }
        };
        let window = match v.prev_read.as_mut() {
            Some(p) if prev => &mut p.1,
            _ => v.replay.get_mut(i).ok_or(Error::WrongEpoch(epoch))?,
        };
        if let Err(e) = window.check(opened.seq) {
            v.scratch = plain;
            return Err(e);
        }
        window.accept(opened.seq);
        let next = match v.prev_read.as_mut() {
            Some(p) if prev => Some(&mut p.2),
            _ => v.read_next.get_mut(i),
        };
        if let Some(n) = next {
            *n = (*n).max(opened.seq + 1);
        }
        if epoch == 2 && opened.content_type == ContentType::HANDSHAKE && v.received.len() < MAX_ACK_ENTRIES {
            v.received.push((2, opened.seq));
        }
        let key_update = epoch == 3
            && opened.content_type == ContentType::HANDSHAKE
            && plain.first() == Some(&HandshakeType::KEY_UPDATE.0);
        let r = match opened.content_type {
            _ if key_update => self.on_key_update13(&plain, (full_epoch, opened.seq), !prev),
            ContentType::APPLICATION_DATA if epoch == 3 => {
                if self.recv.push((), &plain) {
                    self.data_event = true;
                } else {
                    self.stats.data_dropped += 1;
                }
                Ok(())
            }
            ContentType::ACK => self.on_ack13(&plain),
            ContentType::HANDSHAKE | ContentType::ALERT => {
                self.handle_plaintext(epoch, opened.content_type, &plain, resend)
            }
            other => Err(Error::UnknownContentType(other.0)),
        };
        if let Some(v) = self.v13.as_mut() {
            v.scratch = plain;
        }
        r
    }

    /// A KeyUpdate (RFC 8446 §4.6.3, RFC 9147 §8) in record `record`: acknowledged whatever its epoch; one in
    /// the current read epoch moves reading to the next epoch (the peer writes with it once it has our ACK),
    /// keeping the old keys for late records. A copy in the previous epoch (our ACK was lost) is only
    /// acknowledged again, so a flood of KeyUpdates changes the keys once per epoch the peer really moves to.
    fn on_key_update13(&mut self, message: &[u8], record: (u64, u64), current: bool) -> Result<(), Error> {
        let mut it = HandshakeIter::new(message);
        let (h, body) = it.next().ok_or(Error::Malformed)??;
        if it.next().is_some() || h.length != 1 || h.fragment_offset != 0 || h.fragment_length != 1 {
            return Err(Error::Malformed);
        }
        let update_requested = match body {
            [0] => false,
            [1] => true,
            _ => return Err(Error::Malformed),
        };
        let mut ack = Vec::with_capacity(2 + 16);
        emit_ack(&mut ack, &[record]);
        self.send_record13(ContentType::ACK, &ack);
        if !current {
            tracing::trace!(target: TARGET, role = ?self.role, epoch = record.0, "KeyUpdate again: ACK re-sent");
            return Ok(());
        }
        let Some(v) = self.v13.as_mut() else { return Err(Error::UnexpectedMessage) };
        let (hash, aead) = v.hash();
        let secret = v.read_secret.as_ref().ok_or(Error::UnexpectedMessage)?;
        let next = next_traffic_secret(hash, PREFIX, secret)?;
        let prot = RecordProtection::new(aead, &TrafficKeys::derive(hash, PREFIX, &next, aead.key_len())?)?;
        let (Some(slot), Some(window), Some(expected)) =
            (v.read.get_mut(1), v.replay.get_mut(1), v.read_next.get_mut(1))
        else {
            return Err(Error::UnexpectedMessage);
        };
        let old = slot.replace(prot).ok_or(Error::UnexpectedMessage)?;
        v.prev_read = Some((old, core::mem::take(window), core::mem::take(expected)));
        v.read_secret = Some(next);
        v.app_read_epoch += 1;
        tracing::debug!(target: TARGET, role = ?self.role, epoch = v.app_read_epoch, update_requested, "peer updated its keys");
        if update_requested {
            self.start_key_update13(false);
        }
        Ok(())
    }

    /// Sends a KeyUpdate unless one is outstanding; the write keys change when it is acknowledged.
    pub(crate) fn start_key_update13(&mut self, update_requested: bool) {
        let Some(v) = self.v13.as_mut() else { return };
        if v.key_update.is_some() || v.write[1].is_none() {
            return;
        }
        let mut message = [0u8; HS_HEADER + 1];
        let mut header = Vec::with_capacity(HS_HEADER);
        HandshakeHeader {
            msg_type: HandshakeType::KEY_UPDATE,
            length: 1,
            message_seq: self.next_send_seq,
            fragment_offset: 0,
            fragment_length: 1,
        }
        .write(&mut header);
        self.next_send_seq = self.next_send_seq.wrapping_add(1);
        if let Some(dst) = message.get_mut(..HS_HEADER) {
            dst.copy_from_slice(header.get(..HS_HEADER).unwrap_or(&[0; HS_HEADER]));
        }
        message[HS_HEADER] = u8::from(update_requested);
        v.key_update = Some(KeyUpdateOut { message, records: Vec::new(), tries: 0 });
        tracing::debug!(target: TARGET, role = ?self.role, epoch = v.app_write_epoch, "sending KeyUpdate");
        self.send_key_update13();
    }

    /// Sends our outstanding KeyUpdate in a new record and arms its timer.
    fn send_key_update13(&mut self) {
        let Some(v) = self.v13.as_mut() else { return };
        let Some(ku) = v.key_update.as_ref() else { return };
        let message = ku.message;
        let tries = ku.tries;
        let _ = self.out.push_with((), |buf| {
            v.seal(buf, 3, ContentType::HANDSHAKE, &message);
            Ok::<(), Error>(())
        });
        let last = v.sent.last().copied();
        if let (Some(ku), Some(rn)) = (v.key_update.as_mut(), last) {
            if ku.records.len() >= MAX_KEY_UPDATE_RECORDS {
                ku.records.remove(0);
            }
            ku.records.push(rn);
        }
        let rto = (self.config.initial_rto * 2u32.saturating_pow(tries.min(16))).min(self.config.max_rto);
        self.timers.set(DtlsTimer::KeyUpdate, self.now + rto);
    }

    /// The KeyUpdate timer: re-send, up to the retransmission budget, then give up on this update (the
    /// connection keeps its current keys; the next [`Dtls::update_keys`] or usage limit tries again).
    pub(crate) fn retransmit_key_update13(&mut self) {
        if self.state == State::Closed {
            return;
        }
        let max = self.config.max_retransmits;
        let Some(v) = self.v13.as_mut() else { return };
        let Some(ku) = v.key_update.as_mut() else { return };
        if ku.tries >= max {
            tracing::debug!(target: TARGET, "KeyUpdate never acknowledged: given up");
            v.key_update = None;
            return;
        }
        ku.tries += 1;
        self.stats.retransmissions += 1;
        self.send_key_update13();
    }

    /// Our KeyUpdate was acknowledged: write with the next epoch's keys (RFC 9147 §8).
    fn key_update_acked13(&mut self) -> Result<(), Error> {
        let Some(v) = self.v13.as_mut() else { return Err(Error::UnexpectedMessage) };
        let (hash, aead) = v.hash();
        let secret = v.write_secret.as_ref().ok_or(Error::UnexpectedMessage)?;
        let next = next_traffic_secret(hash, PREFIX, secret)?;
        let prot = RecordProtection::new(aead, &TrafficKeys::derive(hash, PREFIX, &next, aead.key_len())?)?;
        if let (Some(slot), Some(seq)) = (v.write.get_mut(1), v.write_seq.get_mut(1)) {
            *slot = Some(prot);
            *seq = 0;
        }
        v.write_secret = Some(next);
        v.app_write_epoch += 1;
        v.records_written = 0;
        v.key_update = None;
        self.timers.clear(DtlsTimer::KeyUpdate);
        tracing::debug!(target: TARGET, role = ?self.role, epoch = v.app_write_epoch, "KeyUpdate acknowledged: new write keys");
        Ok(())
    }

    /// An ACK: when it covers records of our current flight, the flight arrived (RFC 9147 §7.1). An ACK naming
    /// a record we never sent is dropped whole.
    fn on_ack13(&mut self, body: &[u8]) -> Result<(), Error> {
        let Some(v) = self.v13.as_ref() else { return Err(Error::UnexpectedMessage) };
        let mut ours = 0usize;
        let mut key_update = false;
        for (n, rn) in parse_ack(body)?.enumerate() {
            let of_key_update = v.key_update.as_ref().is_some_and(|k| k.records.contains(&rn));
            if n >= MAX_ACK_ENTRIES || !(of_key_update || v.sent.contains(&rn)) {
                return Err(Error::UnexpectedMessage);
            }
            key_update |= of_key_update;
            ours += 1;
        }
        if key_update {
            self.key_update_acked13()?;
        }
        // Only the client's final flight waits for an ACK; the server's is answered by that flight.
        if ours > 0 && self.state == State::Established && !self.flight.is_empty() {
            tracing::trace!(target: TARGET, "final flight acknowledged");
            self.new_flight();
            // The server has our Finished: epoch 2 is over for us.
            let key_log = self.config.key_log;
            if let Some(v) = self.v13.as_mut() {
                v.handshake_done(false, false, key_log);
            }
        }
        Ok(())
    }

    /// Records held for keys that may now exist.
    pub(crate) fn replay_pending13(&mut self) {
        let Some(v) = self.v13.as_mut() else { return };
        if v.pending.is_empty() || !v.read.iter().any(Option::is_some) {
            return;
        }
        let pending = core::mem::take(&mut v.pending);
        let mut resend = false;
        for raw in &pending {
            if let Ok((rec, _)) = UnifiedHeader::parse_prefix(raw, 0) {
                if self.handle_ciphertext13(&rec, &mut resend).is_err() {
                    self.stats.records_dropped += 1;
                }
            }
        }
    }

    /// Forgets the record numbers of the previous flight (a new one starts).
    pub(crate) fn clear_sent13(&mut self) {
        if let Some(v) = self.v13.as_mut() {
            v.sent.clear();
        }
    }
}

impl V13 {
    /// Seals one record of `epoch` (2 or 3) into `out` and remembers its record number.
    fn seal(&mut self, out: &mut Vec<u8>, epoch: u16, ty: ContentType, content: &[u8]) {
        let i = usize::from(epoch.saturating_sub(2).min(1));
        let (Some(Some(prot)), Some(seq)) = (self.write.get(i), self.write_seq.get_mut(i)) else { return };
        let s = *seq;
        *seq += 1;
        let epoch = if i == 1 { self.app_write_epoch.max(3) } else { u64::from(epoch) };
        if prot.seal(out, epoch, s, &[], true, true, ty, content, 0).is_ok() {
            if i == 1 {
                self.records_written += 1;
            }
            // Only handshake records (flights, KeyUpdates) are acknowledged; data records are not remembered.
            if ty == ContentType::HANDSHAKE {
                if self.sent.len() >= MAX_SENT_RECORDS {
                    self.sent.remove(0);
                }
                self.sent.push((epoch, s));
            }
        }
    }
}
