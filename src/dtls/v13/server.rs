//! The DTLS 1.3 server (RFC 8446 §4 with RFC 9147 §5): choosing suite, group and SRTP profile from a
//! ClientHello that offers 1.3, the stateless HelloRetryRequest cookie (RFC 9147 §5.1), our flight
//! (ServerHello, EncryptedExtensions, CertificateRequest, Certificate, CertificateVerify, Finished) and the
//! client's final flight, which we acknowledge.
//!
//! The cookie carries what the server needs to rebuild the transcript without keeping state: the suite
//! and group it chose, whether the HelloRetryRequest asked for a key share, and the hash of the first
//! ClientHello, all under an HMAC keyed by a per-machine secret and bound to the client random.

use alloc::boxed::Box;
use alloc::vec::Vec;

use super::conn::{PREFIX, V13, write_tls_message};
use super::key_schedule::{HashAlg, KeySchedule};
use super::messages::{
    HRR_RANDOM, client_share, emit_certificate, emit_certificate_request, emit_encrypted_extensions, emit_server_hello,
    parse_cookie, tls13_suite,
};
use super::record::Aead;
use crate::dtls::conn::{Dtls, State, TARGET};
use crate::dtls::crypto::{self, KeyShare};
use crate::dtls::error::Error;
use crate::dtls::wire::handshake::{ClientHello, HandshakeHeader, parse_u16_vec, parse_use_srtp, u16_list};
use crate::dtls::wire::record::write_header;
use crate::dtls::wire::{
    CipherSuite, ContentType, DTLS1_2, ExtensionType, HandshakeType, NamedGroup, SignatureScheme, SrtpProfile,
};

/// Cookie layout: suite (2), group (2), key share asked (1), hash length (1), hash, HMAC-SHA-256 (32).
const COOKIE_MAC: usize = 32;

impl Dtls {
    /// A complete ClientHello offering DTLS 1.3 reached a server that speaks it.
    pub(crate) fn on_client_hello13(&mut self, seq: u16, body: &[u8], ch: &ClientHello<'_>) -> Result<(), Error> {
        let ext = ch.extensions;
        // Suite: our first (as a 1.3 suite) the client offers.
        let suite = self
            .config
            .cipher_suites
            .iter()
            .filter_map(|s| tls13_suite(*s))
            .find(|s| ch.suites().any(|c| c == *s))
            .ok_or(Error::NoCommonCipherSuite)?;
        let offered = parse_u16_vec(ext.find(ExtensionType::SUPPORTED_GROUPS).ok_or(Error::NoCommonGroup)?)?;
        let group = self
            .config
            .groups
            .iter()
            .copied()
            .filter(|g| KeyShare::SUPPORTED.contains(g))
            .find(|g| u16_list(offered).any(|o| o == g.0))
            .ok_or(Error::NoCommonGroup)?;
        let algs = parse_u16_vec(ext.find(ExtensionType::SIGNATURE_ALGORITHMS).ok_or(Error::NoCommonCipherSuite)?)?;
        if !u16_list(algs).any(|a| a == SignatureScheme::ECDSA_SECP256R1_SHA256.0) {
            return Err(Error::NoCommonCipherSuite);
        }
        let share = client_share(ext.find(ExtensionType::KEY_SHARE).ok_or(Error::Malformed)?, group)?;
        let srtp = self.offered_srtp(ext.find(ExtensionType::USE_SRTP))?;
        let hash = Aead::of_suite(suite).map_or(HashAlg::Sha256, |(h, _)| h);

        // The cookie: a valid one rebuilds the transcript's start; without one, a HelloRetryRequest when
        // configured or when the client sent no share for our group.
        let mut transcript = Vec::new();
        match ext.find(ExtensionType::COOKIE) {
            Some(data) => {
                let cookie = parse_cookie(data)?;
                let ch1_hash = self.check_cookie13(cookie, ch.random, suite, group)?;
                let asked_share = cookie.get(4) == Some(&1);
                write_tls_message(&mut transcript, HandshakeType::MESSAGE_HASH, ch1_hash);
                let mut hrr = Vec::with_capacity(64 + cookie.len());
                let sel = asked_share.then_some((group, &[][..]));
                emit_server_hello(&mut hrr, &HRR_RANDOM, ch.session_id, suite, sel, cookie);
                write_tls_message(&mut transcript, HandshakeType::SERVER_HELLO, &hrr);
            }
            None if self.config.cookie_exchange || share.is_none() => {
                let mut ch1 = Vec::with_capacity(body.len() + 4);
                write_tls_message(&mut ch1, HandshakeType::CLIENT_HELLO, body);
                let cookie = self.make_cookie13(ch.random, suite, group, share.is_none(), hash.digest(&ch1).as_bytes());
                let mut hrr = Vec::with_capacity(64 + cookie.len());
                let sel = share.is_none().then_some((group, &[][..]));
                emit_server_hello(&mut hrr, &HRR_RANDOM, ch.session_id, suite, sel, &cookie);
                self.send_hrr13(seq, &hrr);
                self.reasm.clear();
                return Ok(());
            }
            None => {}
        }
        let share = share.ok_or(Error::BadKeyShare)?;
        self.accept_client_hello13(seq, body, ch, suite, group, share, srtp, transcript)
    }

    /// Our use_srtp choice from the client's offer (required when we have profiles).
    fn offered_srtp(&self, data: Option<&[u8]>) -> Result<Option<SrtpProfile>, Error> {
        if self.config.srtp_profiles.is_empty() {
            return Ok(None);
        }
        let (offered, _mki) = parse_use_srtp(data.ok_or(Error::NoCommonSrtpProfile)?)?;
        let chosen = self
            .config
            .srtp_profiles
            .iter()
            .copied()
            .find(|p| u16_list(offered).any(|o| o == p.0))
            .ok_or(Error::NoCommonSrtpProfile)?;
        Ok(Some(chosen))
    }

    fn make_cookie13(&self, random: &[u8; 32], suite: CipherSuite, group: NamedGroup, ask: bool, h: &[u8]) -> Vec<u8> {
        let mut c = Vec::with_capacity(6 + h.len() + COOKIE_MAC);
        c.extend_from_slice(&suite.0.to_be_bytes());
        c.extend_from_slice(&group.0.to_be_bytes());
        c.push(u8::from(ask));
        c.push(h.len() as u8);
        c.extend_from_slice(h);
        let mac = crypto::hmac_sha256(&self.cookie_secret, &[b"dtls13 cookie", &c, random]);
        c.extend_from_slice(&mac);
        c
    }

    /// Checks a cookie of ours for this client random, suite and group; returns the first ClientHello's
    /// hash it carries.
    fn check_cookie13<'c>(
        &self,
        cookie: &'c [u8],
        random: &[u8; 32],
        suite: CipherSuite,
        group: NamedGroup,
    ) -> Result<&'c [u8], Error> {
        let at = cookie.len().checked_sub(COOKIE_MAC).ok_or(Error::BadCookie)?;
        let (data, mac) = cookie.split_at(at);
        let expected = crypto::hmac_sha256(&self.cookie_secret, &[b"dtls13 cookie", data, random]);
        // Constant time is not needed for an HMAC compare against an unpredictable value that changes with
        // the random, but keep it simple and total.
        if mac != expected {
            return Err(Error::BadCookie);
        }
        let [s0, s1, g0, g1, _ask, hl, rest @ ..] = data else { return Err(Error::BadCookie) };
        if u16::from_be_bytes([*s0, *s1]) != suite.0
            || u16::from_be_bytes([*g0, *g1]) != group.0
            || usize::from(*hl) != rest.len()
        {
            return Err(Error::Malformed);
        }
        Ok(rest)
    }

    /// Sends a HelloRetryRequest statelessly, in the ClientHello's message and record sequence numbers
    /// (RFC 9147 §5.1).
    fn send_hrr13(&mut self, seq: u16, hrr: &[u8]) {
        let rseq = self.last_record_seq;
        let _ = self.out.push_with((), |buf| {
            let len = (crate::dtls::wire::handshake::HEADER_LEN + hrr.len()) as u16;
            write_header(buf, ContentType::HANDSHAKE, DTLS1_2, 0, rseq, len);
            HandshakeHeader {
                msg_type: HandshakeType::SERVER_HELLO,
                length: hrr.len() as u32,
                message_seq: seq,
                fragment_offset: 0,
                fragment_length: hrr.len() as u32,
            }
            .write(buf);
            buf.extend_from_slice(hrr);
            Ok::<(), Error>(())
        });
        tracing::trace!(target: TARGET, "HelloRetryRequest");
    }

    #[allow(clippy::too_many_arguments)]
    fn accept_client_hello13(
        &mut self,
        seq: u16,
        body: &[u8],
        ch: &ClientHello<'_>,
        suite: CipherSuite,
        group: NamedGroup,
        client_key: &[u8],
        srtp: Option<SrtpProfile>,
        transcript: Vec<u8>,
    ) -> Result<(), Error> {
        let ecdh = KeyShare::generate(group, &mut self.rng).ok_or(Error::NoCommonGroup)?;
        let shared = ecdh.agree(client_key)?;
        let mut v = Box::new(V13::default());
        v.active = true;
        v.suite = Some(suite);
        v.transcript = transcript;
        let hash = v.hash().0;
        let mut schedule = KeySchedule::new(hash, PREFIX);
        schedule.input_shared_secret(&shared)?;
        self.hs.client_random = *ch.random;
        self.hs.server_random = self.rng.bytes();
        self.hs.suite = Some(suite);
        self.hs.srtp = srtp;
        self.hs.group = Some(group);
        write_tls_message(&mut v.transcript, HandshakeType::CLIENT_HELLO, body);
        let mut sh = Vec::with_capacity(100);
        let random = self.hs.server_random;
        emit_server_hello(&mut sh, &random, ch.session_id, suite, Some((group, ecdh.public())), &[]);
        write_tls_message(&mut v.transcript, HandshakeType::SERVER_HELLO, &sh);
        let secrets = schedule.handshake_traffic_secrets(v.transcript_hash().as_bytes())?;
        v.install(2, &secrets.server, true)?;
        v.install(2, &secrets.client, false)?;
        v.hs_secrets = Some(Box::new((secrets.client, secrets.server)));
        v.schedule = Some(Box::new(schedule));
        self.reasm.rebase(seq.wrapping_add(1));
        self.peer_flight_start = Some(seq);
        self.peer_flight_end = Some(seq);
        self.next_send_seq = seq;
        tracing::debug!(target: TARGET, suite = %suite, %group, ?srtp, "DTLS 1.3 ClientHello accepted");

        self.new_flight();
        self.write_epoch = 0;
        self.queue_handshake(HandshakeType::SERVER_HELLO, sh, false);
        self.write_epoch = 2;
        let mut ee = Vec::with_capacity(16);
        emit_encrypted_extensions(&mut ee, srtp);
        write_tls_message(&mut v.transcript, HandshakeType::ENCRYPTED_EXTENSIONS, &ee);
        self.queue_handshake(HandshakeType::ENCRYPTED_EXTENSIONS, ee, false);
        let mut cr = Vec::with_capacity(16);
        emit_certificate_request(&mut cr);
        write_tls_message(&mut v.transcript, HandshakeType::CERTIFICATE_REQUEST, &cr);
        self.queue_handshake(HandshakeType::CERTIFICATE_REQUEST, cr, false);
        let mut cert = Vec::with_capacity(self.config.certificate.der().len() + 10);
        emit_certificate(&mut cert, &[], self.config.certificate.der());
        write_tls_message(&mut v.transcript, HandshakeType::CERTIFICATE, &cert);
        self.queue_handshake(HandshakeType::CERTIFICATE, cert, false);
        self.own_verify_finished13(&mut v, true)?;
        self.derive_application13(&mut v)?;
        let (_, server_app) = v.app_secrets.as_deref().copied().ok_or(Error::UnexpectedMessage)?;
        v.install(3, &server_app, true)?;
        self.v13 = Some(v);
        self.send_flight(true);
        self.state = State::S13ExpectCertificate;
        Ok(())
    }

    pub(crate) fn server_message13(
        &mut self,
        v: &mut V13,
        ty: HandshakeType,
        seq: u16,
        body: &[u8],
    ) -> Result<(), Error> {
        match (self.state, ty) {
            (State::S13ExpectCertificate, HandshakeType::CERTIFICATE) => {
                self.peer_certificate13(v, body)?;
                self.peer_flight_start = Some(seq);
                self.state = State::S13ExpectCertificateVerify;
                Ok(())
            }
            (State::S13ExpectCertificateVerify, HandshakeType::CERTIFICATE_VERIFY) => {
                self.peer_certificate_verify13(v, body, false)?;
                self.state = State::S13ExpectFinished;
                Ok(())
            }
            (State::S13ExpectFinished, HandshakeType::FINISHED) => {
                self.peer_finished13(v, body, false)?;
                self.peer_flight_end = Some(seq);
                let (client_app, _) = v.app_secrets.as_deref().copied().ok_or(Error::UnexpectedMessage)?;
                v.install(3, &client_app, false)?;
                // Epoch 2 is over: a retransmission of the client's flight (our ACK was lost) is answered
                // with the same ACK without being read (see `handle_ciphertext13`).
                v.handshake_done(false, false, self.config.key_log);
                self.v13 = Some(Box::new(core::mem::take(v)));
                self.new_flight();
                self.write_epoch = 3;
                self.state = State::Established;
                self.hs.ecdh = None;
                self.hs.peer_key = None;
                self.send_ack13();
                tracing::debug!(target: TARGET, role = ?self.role, "DTLS 1.3 handshake complete");
                self.maybe_connected();
                Ok(())
            }
            _ => Err(Error::UnexpectedMessage),
        }
    }
}
