//! Handshake message handlers for both roles (RFC 5246 §7.4, RFC 6347 §4.2, RFC 5764 §4.1, RFC 7627).
//!
//! Full handshake, mutual authentication, as WebRTC runs it:
//!
//! ```text
//! Client                                   Server
//! ClientHello                -------->                         flight 1
//!                            <--------     HelloVerifyRequest  flight 2 (optional, stateless)
//! ClientHello (+cookie)      -------->                         flight 3
//!                                          ServerHello         flight 4
//!                                          Certificate
//!                                          ServerKeyExchange
//!                                          CertificateRequest
//!                            <--------     ServerHelloDone
//! Certificate                                                  flight 5
//! ClientKeyExchange
//! CertificateVerify
//! [ChangeCipherSpec]
//! Finished                   -------->
//!                                          [ChangeCipherSpec]  flight 6
//!                            <--------     Finished
//! ```

use alloc::boxed::Box;
use alloc::vec::Vec;

use super::Versions;
use super::cert::{Fingerprint, peer_public_key};
use super::conn::{Dtls, State, TARGET};
use super::crypto::{self, KeyShare, PrfHash};
use super::error::Error;
use super::v13::messages::{DOWNGRADE_TLS12, offers_dtls13};
use super::wire::handshake::{
    ClientHello, HelloVerifyRequest, ServerHello, ServerKeyExchange, emit_certificate, emit_certificate_request,
    emit_signed, parse_certificate, parse_certificate_request, parse_client_key_exchange, parse_signed, parse_u16_vec,
    parse_use_srtp, u16_list, write_message,
};
use super::wire::{
    AlertDescription, CipherSuite, DTLS1_2, ExtensionType, HandshakeType, NamedGroup, SignatureScheme, SrtpProfile,
};

impl Dtls {
    /// Queues and sends the ClientHello (with the cookie, if we have one).
    pub(crate) fn send_client_hello(&mut self) {
        self.new_flight();
        let mut body = Vec::with_capacity(160);
        let random = self.hs.client_random;
        // Our groups, then secp256r1 for our ECDSA certificate if the key exchange does not list it
        // (supported_groups names the signature curves too in TLS 1.2, RFC 8422 §5.1.1).
        let mut groups: smallvec::SmallVec<[NamedGroup; 2]> = smallvec::SmallVec::new();
        for g in self.config.groups.iter().chain([&NamedGroup::SECP256R1]) {
            if KeyShare::SUPPORTED.contains(g) && !groups.contains(g) {
                groups.push(*g);
            }
        }
        // 1.2 suites here; the 1.3 ones are put in front when 1.3 is offered.
        let mut suites: Vec<CipherSuite> = self.config.cipher_suites.iter().copied().filter(|s| is_tls12(*s)).collect();
        let mut extra = Vec::new();
        self.client_hello13_parts(&mut suites, &mut extra);
        ClientHello::emit(
            &mut body,
            DTLS1_2,
            &random,
            &self.hs.cookie,
            &suites,
            &groups,
            &self.config.srtp_profiles,
            &extra,
        );
        self.keep_client_hello13(&body);
        // The transcript starts at the ClientHello the ServerHello answers (RFC 6347 §4.2.1): keep it
        // aside until then.
        self.hs.client_hello.clear();
        write_message(&mut self.hs.client_hello, HandshakeType::CLIENT_HELLO, self.next_send_seq, &body);
        self.queue_handshake(HandshakeType::CLIENT_HELLO, body, false);
        self.send_flight(true);
    }

    pub(crate) fn on_hello_verify_request(&mut self, body: &[u8]) -> Result<(), Error> {
        let hvr = HelloVerifyRequest::parse(body)?;
        if self.hs.hello_verify_count >= 4 {
            return Err(Error::UnexpectedSequence);
        }
        self.hs.hello_verify_count += 1;
        tracing::trace!(target: TARGET, cookie_len = hvr.cookie.len(), "HelloVerifyRequest");
        self.hs.cookie = hvr.cookie.to_vec();
        self.send_client_hello();
        Ok(())
    }

    /// A complete ClientHello reached a server waiting for one.
    pub(crate) fn on_client_hello(&mut self, seq: u16, body: &[u8]) -> Result<(), Error> {
        let ch = ClientHello::parse(body)?;
        // DTLS versions count down: 1.2 is 0xfefd, 1.0 is 0xfeff. A 1.3 offer carries 1.2 here.
        if ch.version > DTLS1_2 {
            self.reasm.clear();
            return Err(self.fail_alert(Error::UnsupportedVersion(ch.version), AlertDescription::PROTOCOL_VERSION));
        }
        if self.versions() != Versions::Dtls12 && offers_dtls13(&ch.extensions)? {
            return match self.on_client_hello13(seq, body, &ch) {
                Ok(()) => Ok(()),
                Err(Error::BadCookie) => {
                    self.reasm.clear();
                    Err(Error::BadCookie)
                }
                Err(e) => Err(self.fail(e)),
            };
        }
        if self.versions() == Versions::Dtls13 {
            self.reasm.clear();
            return Err(self.fail_alert(Error::UnsupportedVersion(ch.version), AlertDescription::PROTOCOL_VERSION));
        }
        if self.config.cookie_exchange {
            let expected = crypto::hmac_sha256(&self.cookie_secret, &[ch.random, ch.cipher_suites, ch.session_id]);
            if ch.cookie != expected {
                // Stateless: answer and forget (RFC 6347 §4.2.1).
                let mut msg = Vec::with_capacity(50);
                let mut hvr = Vec::with_capacity(36);
                HelloVerifyRequest::emit(&mut hvr, &expected);
                write_message(&mut msg, HandshakeType::HELLO_VERIFY_REQUEST, seq, &hvr);
                let rseq = self.last_record_seq;
                self.send_stateless(rseq, &msg);
                self.reasm.clear();
                return if ch.cookie.is_empty() { Ok(()) } else { Err(Error::BadCookie) };
            }
        }
        let r = self.accept_client_hello(seq, body, &ch);
        r.map_err(|e| self.fail(e))
    }

    fn accept_client_hello(&mut self, seq: u16, body: &[u8], ch: &ClientHello<'_>) -> Result<(), Error> {
        let suite = self
            .config
            .cipher_suites
            .iter()
            .copied()
            .filter(|s| is_tls12(*s))
            .find(|s| ch.suites().any(|c| c == *s))
            .ok_or(Error::NoCommonCipherSuite)?;
        let ext = ch.extensions;
        if ext.find(ExtensionType::EXTENDED_MASTER_SECRET).is_none() {
            return Err(Error::NoExtendedMasterSecret);
        }
        // Our first configured group the client offers (RFC 8422 §5.1.1). A client without
        // supported_groups gets secp256r1, the curve every ECDHE client implements.
        let offered = ext.find(ExtensionType::SUPPORTED_GROUPS).map(parse_u16_vec).transpose()?;
        let group = self
            .config
            .groups
            .iter()
            .copied()
            .filter(|g| KeyShare::SUPPORTED.contains(g))
            .find(|g| match offered {
                Some(list) => u16_list(list).any(|o| o == g.0),
                None => *g == NamedGroup::SECP256R1,
            })
            .ok_or(Error::NoCommonGroup)?;
        if let Some(formats) = ext.find(ExtensionType::EC_POINT_FORMATS) {
            let mut r = super::wire::Reader::new(formats);
            if !r.vec8()?.contains(&0) {
                return Err(Error::NoCommonGroup);
            }
        }
        if let Some(algs) = ext.find(ExtensionType::SIGNATURE_ALGORITHMS) {
            let list = parse_u16_vec(algs)?;
            if !u16_list(list).any(|a| a == SignatureScheme::ECDSA_SECP256R1_SHA256.0) {
                return Err(Error::NoCommonCipherSuite);
            }
        }
        if let Some(reneg) = ext.find(ExtensionType::RENEGOTIATION_INFO) {
            if reneg != [0] {
                return Err(Error::Malformed);
            }
        }
        let srtp = if self.config.srtp_profiles.is_empty() {
            None
        } else {
            let data = ext.find(ExtensionType::USE_SRTP).ok_or(Error::NoCommonSrtpProfile)?;
            let (offered, _mki) = parse_use_srtp(data)?;
            let chosen = self
                .config
                .srtp_profiles
                .iter()
                .copied()
                .find(|p| u16_list(offered).any(|o| o == p.0))
                .ok_or(Error::NoCommonSrtpProfile)?;
            Some(chosen)
        };
        self.hs.client_random = *ch.random;
        self.hs.suite = Some(suite);
        self.hs.srtp = srtp;
        self.hs.group = Some(group);
        self.hs.server_random = self.rng.bytes();
        if self.versions() != Versions::Dtls12 {
            // We speak 1.3 but negotiate 1.2: say so where a 1.3 client looks (RFC 8446 §4.1.3).
            if let Some(tail) = self.hs.server_random.get_mut(24..) {
                tail.copy_from_slice(&DOWNGRADE_TLS12);
            }
        }
        self.hs.transcript.clear();
        write_message(&mut self.hs.transcript, HandshakeType::CLIENT_HELLO, seq, body);
        self.reasm.rebase(seq.wrapping_add(1));
        self.peer_flight_start = Some(seq);
        self.peer_flight_end = Some(seq);
        // Our message_seq continues from the ClientHello's (RFC 6347 §4.2.2).
        self.next_send_seq = seq;
        tracing::debug!(target: TARGET, suite = %suite, %group, ?srtp, "ClientHello accepted");

        // Flight 4.
        self.new_flight();
        let mut sh = Vec::with_capacity(100);
        let random = self.hs.server_random;
        ServerHello::emit(&mut sh, DTLS1_2, &random, &[], suite, srtp);
        self.queue_handshake(HandshakeType::SERVER_HELLO, sh, true);
        let mut cert = Vec::with_capacity(self.config.certificate.der().len() + 6);
        emit_certificate(&mut cert, self.config.certificate.der());
        self.queue_handshake(HandshakeType::CERTIFICATE, cert, true);
        let ecdh = KeyShare::generate(group, &mut self.rng).ok_or(Error::NoCommonGroup)?;
        let mut ske = Vec::with_capacity(160);
        ServerKeyExchange::emit_params(&mut ske, group, ecdh.public());
        let mut signed = Vec::with_capacity(64 + ske.len());
        signed.extend_from_slice(&self.hs.client_random);
        signed.extend_from_slice(&self.hs.server_random);
        signed.extend_from_slice(&ske);
        let sig = crypto::sign(self.config.certificate.signing_key(), &signed)?;
        emit_signed(&mut ske, SignatureScheme::ECDSA_SECP256R1_SHA256, &sig);
        self.hs.ecdh = Some(Box::new(ecdh));
        self.queue_handshake(HandshakeType::SERVER_KEY_EXCHANGE, ske, true);
        let mut cr = Vec::with_capacity(8);
        emit_certificate_request(&mut cr);
        self.queue_handshake(HandshakeType::CERTIFICATE_REQUEST, cr, true);
        self.queue_handshake(HandshakeType::SERVER_HELLO_DONE, Vec::new(), true);
        self.send_flight(true);
        self.state = State::ServerExpectCertificate;
        Ok(())
    }

    /// One complete, in-order handshake message.
    pub(crate) fn on_message(&mut self, epoch: u16, ty: HandshakeType, seq: u16, body: &[u8]) -> Result<(), Error> {
        if self.is13() {
            return self.on_message13(epoch, ty, seq, body);
        }
        // Only Finished travels under the new epoch in an initial handshake.
        let want_epoch = u16::from(ty == HandshakeType::FINISHED);
        if epoch != want_epoch {
            return Err(Error::UnexpectedMessage);
        }
        match (self.state, ty) {
            (State::ClientExpectServerHello, HandshakeType::SERVER_HELLO) => self.on_server_hello(seq, body),
            (State::ClientExpectCertificate, HandshakeType::CERTIFICATE)
            | (State::ServerExpectCertificate, HandshakeType::CERTIFICATE) => self.on_certificate(seq, body),
            (State::ClientExpectServerKeyExchange, HandshakeType::SERVER_KEY_EXCHANGE) => {
                self.on_server_key_exchange(seq, body)
            }
            (State::ClientExpectCertificateRequest, HandshakeType::CERTIFICATE_REQUEST) => {
                let (types, algs) = parse_certificate_request(body)?;
                if !types.contains(&64) || !u16_list(algs).any(|a| a == SignatureScheme::ECDSA_SECP256R1_SHA256.0) {
                    return Err(Error::NoCommonCipherSuite);
                }
                self.hs.cert_requested = true;
                write_message(&mut self.hs.transcript, ty, seq, body);
                self.state = State::ClientExpectServerHelloDone;
                Ok(())
            }
            (State::ClientExpectCertificateRequest, HandshakeType::SERVER_HELLO_DONE)
            | (State::ClientExpectServerHelloDone, HandshakeType::SERVER_HELLO_DONE) => {
                if !body.is_empty() {
                    return Err(Error::Malformed);
                }
                write_message(&mut self.hs.transcript, ty, seq, body);
                self.peer_flight_end = Some(seq);
                self.send_client_finished_flight()
            }
            (State::ServerExpectClientKeyExchange, HandshakeType::CLIENT_KEY_EXCHANGE) => {
                self.on_client_key_exchange(seq, body)
            }
            (State::ServerExpectCertificateVerify, HandshakeType::CERTIFICATE_VERIFY) => {
                let (scheme, sig) = parse_signed(body)?;
                if scheme != SignatureScheme::ECDSA_SECP256R1_SHA256 {
                    return Err(Error::BadSignature);
                }
                let key = self.hs.peer_key.as_ref().ok_or(Error::UnexpectedMessage)?;
                crypto::verify(key, &self.hs.transcript, sig)?;
                write_message(&mut self.hs.transcript, ty, seq, body);
                self.state = State::ServerExpectFinished;
                Ok(())
            }
            (State::ServerExpectFinished, HandshakeType::FINISHED) => self.on_finished(seq, body, true),
            (State::ClientExpectFinished, HandshakeType::FINISHED) => self.on_finished(seq, body, false),
            _ => Err(Error::UnexpectedMessage),
        }
    }

    fn on_server_hello(&mut self, seq: u16, body: &[u8]) -> Result<(), Error> {
        let sh = ServerHello::parse(body)?;
        if self.on_server_hello13(seq, body, &sh)? {
            return Ok(());
        }
        if sh.version != DTLS1_2 {
            return Err(self.fail_alert(Error::UnsupportedVersion(sh.version), AlertDescription::PROTOCOL_VERSION));
        }
        if !is_tls12(sh.cipher_suite)
            || !self.config.cipher_suites.contains(&sh.cipher_suite)
            || sh.compression_method != 0
        {
            return Err(Error::NoCommonCipherSuite);
        }
        let ext = sh.extensions;
        if ext.find(ExtensionType::EXTENDED_MASTER_SECRET).is_none() {
            return Err(Error::NoExtendedMasterSecret);
        }
        if let Some(reneg) = ext.find(ExtensionType::RENEGOTIATION_INFO) {
            if reneg != [0] {
                return Err(Error::Malformed);
            }
        }
        let srtp = match ext.find(ExtensionType::USE_SRTP) {
            None if self.config.srtp_profiles.is_empty() => None,
            None => return Err(Error::NoCommonSrtpProfile),
            Some(_) if self.config.srtp_profiles.is_empty() => return Err(Error::UnexpectedMessage),
            Some(data) => {
                let (profiles, _mki) = parse_use_srtp(data)?;
                let mut it = u16_list(profiles);
                let (Some(p), None) = (it.next(), it.next()) else { return Err(Error::NoCommonSrtpProfile) };
                let p = SrtpProfile(p);
                if !self.config.srtp_profiles.contains(&p) {
                    return Err(Error::NoCommonSrtpProfile);
                }
                Some(p)
            }
        };
        self.hs.server_random = *sh.random;
        self.hs.suite = Some(sh.cipher_suite);
        self.hs.srtp = srtp;
        let ch = core::mem::take(&mut self.hs.client_hello);
        self.hs.transcript.clear();
        self.hs.transcript.extend_from_slice(&ch);
        write_message(&mut self.hs.transcript, HandshakeType::SERVER_HELLO, seq, body);
        self.peer_flight_start = Some(seq);
        tracing::debug!(target: TARGET, suite = %sh.cipher_suite, ?srtp, "ServerHello");
        self.state = State::ClientExpectCertificate;
        Ok(())
    }

    fn on_certificate(&mut self, seq: u16, body: &[u8]) -> Result<(), Error> {
        let der = parse_certificate(body)?.ok_or(Error::BadCertificate)?;
        let key = peer_public_key(der)?;
        let fp = Fingerprint::of_der(der);
        if let Some(expected) = self.expected_fingerprint {
            if expected != fp {
                return Err(Error::FingerprintMismatch);
            }
        }
        self.hs.peer_key = Some(Box::new(key));
        self.hs.peer_fingerprint = Some(fp);
        self.hs.peer_certificate = Some(der.into());
        write_message(&mut self.hs.transcript, HandshakeType::CERTIFICATE, seq, body);
        self.state = match self.role {
            super::Role::Client => State::ClientExpectServerKeyExchange,
            super::Role::Server => State::ServerExpectClientKeyExchange,
        };
        Ok(())
    }

    fn on_server_key_exchange(&mut self, seq: u16, body: &[u8]) -> Result<(), Error> {
        let ske = ServerKeyExchange::parse(body)?;
        // The server must pick one of the groups we offered for the key exchange.
        if !self.config.groups.contains(&ske.group) || !KeyShare::SUPPORTED.contains(&ske.group) {
            return Err(Error::NoCommonGroup);
        }
        if ske.scheme != SignatureScheme::ECDSA_SECP256R1_SHA256 {
            return Err(Error::BadSignature);
        }
        let mut signed = Vec::with_capacity(64 + ske.params.len());
        signed.extend_from_slice(&self.hs.client_random);
        signed.extend_from_slice(&self.hs.server_random);
        signed.extend_from_slice(ske.params);
        let key = self.hs.peer_key.as_ref().ok_or(Error::UnexpectedMessage)?;
        crypto::verify(key, &signed, ske.signature)?;
        // Derive the premaster secret now; the peer's key is checked here (on the curve for secp256r1,
        // 32 bytes and not of low order for x25519).
        let ecdh = KeyShare::generate(ske.group, &mut self.rng).ok_or(Error::NoCommonGroup)?;
        let pms = ecdh.agree(ske.public)?;
        tracing::debug!(target: TARGET, group = %ske.group, "ServerKeyExchange");
        self.hs.ecdh = Some(Box::new(ecdh));
        self.hs.group = Some(ske.group);
        self.hs.master = None;
        self.pms = Some(pms);
        write_message(&mut self.hs.transcript, HandshakeType::SERVER_KEY_EXCHANGE, seq, body);
        self.state = State::ClientExpectCertificateRequest;
        Ok(())
    }

    fn hash(&self) -> PrfHash {
        PrfHash::of(self.hs.suite.unwrap_or(CipherSuite::ECDHE_ECDSA_AES_128_GCM_SHA256))
    }

    /// Computes the extended master secret from the transcript so far (through ClientKeyExchange) and
    /// installs the epoch-1 keys.
    fn derive_secrets(&mut self, pms: &[u8; 32]) -> Result<(), Error> {
        let hash = self.hash();
        let (session_hash, n) = hash.hash(&self.hs.transcript);
        let master = crypto::extended_master_secret(hash, pms, session_hash.get(..n).unwrap_or(&[]));
        let suite = self.hs.suite.ok_or(Error::UnexpectedMessage)?;
        let keys = crypto::derive_keys(suite, &master, &self.hs.client_random, &self.hs.server_random)?;
        let (write, read) = match self.role {
            super::Role::Client => (keys.client, keys.server),
            super::Role::Server => (keys.server, keys.client),
        };
        self.hs.master = Some(master);
        self.hs.pending_write = Some(Box::new(write));
        self.read_cipher = Some(read);
        self.emit_key_log();
        Ok(())
    }

    fn finished_data(&self, client: bool) -> [u8; 12] {
        let hash = self.hash();
        let (th, n) = hash.hash(&self.hs.transcript);
        let master = self.hs.master.unwrap_or([0; 48]);
        crypto::verify_data(hash, &master, client, th.get(..n).unwrap_or(&[]))
    }

    /// Switches our write side to epoch 1 (after queuing ChangeCipherSpec).
    fn switch_write_epoch(&mut self) {
        self.queue_change_cipher_spec();
        self.write_cipher = self.hs.pending_write.take().map(|c| *c);
        self.write_epoch = 1;
    }

    fn send_client_finished_flight(&mut self) -> Result<(), Error> {
        let pms = self.pms.take().ok_or(Error::UnexpectedMessage)?;
        self.new_flight();
        if self.hs.cert_requested {
            let mut cert = Vec::with_capacity(self.config.certificate.der().len() + 6);
            emit_certificate(&mut cert, self.config.certificate.der());
            self.queue_handshake(HandshakeType::CERTIFICATE, cert, true);
        }
        let public = self.hs.ecdh.as_ref().ok_or(Error::UnexpectedMessage)?.public();
        let mut cke = Vec::with_capacity(66);
        cke.push(public.len() as u8);
        cke.extend_from_slice(public);
        self.queue_handshake(HandshakeType::CLIENT_KEY_EXCHANGE, cke, true);
        self.derive_secrets(&pms)?;
        if self.hs.cert_requested {
            let sig = crypto::sign(self.config.certificate.signing_key(), &self.hs.transcript)?;
            let mut cv = Vec::with_capacity(sig.len() + 4);
            emit_signed(&mut cv, SignatureScheme::ECDSA_SECP256R1_SHA256, &sig);
            self.queue_handshake(HandshakeType::CERTIFICATE_VERIFY, cv, true);
        }
        self.switch_write_epoch();
        let fin = self.finished_data(true);
        self.queue_handshake(HandshakeType::FINISHED, fin.to_vec(), true);
        self.send_flight(true);
        self.state = State::ClientExpectFinished;
        Ok(())
    }

    fn on_client_key_exchange(&mut self, seq: u16, body: &[u8]) -> Result<(), Error> {
        let public = parse_client_key_exchange(body)?;
        let pms = self.hs.ecdh.as_ref().ok_or(Error::UnexpectedMessage)?.agree(public)?;
        write_message(&mut self.hs.transcript, HandshakeType::CLIENT_KEY_EXCHANGE, seq, body);
        self.derive_secrets(&pms)?;
        self.state = State::ServerExpectCertificateVerify;
        Ok(())
    }

    fn on_finished(&mut self, seq: u16, body: &[u8], from_client: bool) -> Result<(), Error> {
        let expected = self.finished_data(from_client);
        if body != expected {
            return Err(Error::BadFinished);
        }
        write_message(&mut self.hs.transcript, HandshakeType::FINISHED, seq, body);
        self.peer_flight_start = self.peer_flight_end.map(|e| e.wrapping_add(1));
        self.peer_flight_end = Some(seq);
        if from_client {
            // Flight 6: kept to answer a retransmitted flight 5, no timer (RFC 6347 §4.2.4, FINISHED).
            self.new_flight();
            self.switch_write_epoch();
            let fin = self.finished_data(false);
            self.queue_handshake(HandshakeType::FINISHED, fin.to_vec(), true);
            self.send_flight(false);
        } else {
            self.new_flight();
        }
        self.state = State::Established;
        // Free what only the handshake needed (the exporter keeps the master secret and randoms).
        self.hs.ecdh = None;
        self.hs.peer_key = None;
        self.hs.transcript = Vec::new();
        self.hs.client_hello = Vec::new();
        self.hs.cookie = Vec::new();
        self.reasm.clear();
        tracing::debug!(target: TARGET, role = ?self.role, "handshake complete");
        self.maybe_connected();
        Ok(())
    }
}

/// Whether `suite` is one of the DTLS 1.2 suites we implement (the TLS 1.3 suites in the configuration
/// only count when 1.3 is negotiated).
fn is_tls12(suite: CipherSuite) -> bool {
    matches!(suite, CipherSuite::ECDHE_ECDSA_AES_128_GCM_SHA256 | CipherSuite::ECDHE_ECDSA_AES_256_GCM_SHA384)
}
