//! The DTLS 1.3 client (RFC 8446 §4 with RFC 9147 §5): the 1.3 part of the ClientHello, the
//! HelloRetryRequest, the server's flight, and our final flight (Certificate, CertificateVerify,
//! Finished), which the server acknowledges with an ACK.
//!
//! ```text
//! Client                                        Server
//! ClientHello (+key_share, supported_versions) -------->
//!                                <--------  HelloRetryRequest (+cookie)    optional
//! ClientHello (+key_share, cookie)             -------->
//!                                           ServerHello (+key_share)       epoch 0
//!                                           {EncryptedExtensions}          epoch 2
//!                                           {CertificateRequest}
//!                                           {Certificate}
//!                                           {CertificateVerify}
//!                                <--------  {Finished}
//! {Certificate}                                                            epoch 2
//! {CertificateVerify}
//! {Finished}                                   -------->
//!                                <--------  [ACK]                          epoch 3
//! [Application Data]             <------->  [Application Data]
//! ```

use alloc::boxed::Box;
use alloc::vec::Vec;

use super::conn::{PREFIX, V13, write_tls_message};
use super::key_schedule::{KeySchedule, verify_data};
use super::messages::{
    DOWNGRADE_TLS12, HRR_RANDOM, ServerHelloExt, emit_certificate, emit_client_hello_ext, parse_certificate,
    parse_certificate_request, parse_encrypted_extensions, signed_content, tls13_suite,
};
use crate::dtls::Versions;
use crate::dtls::cert::{Fingerprint, peer_public_key};
use crate::dtls::conn::{Dtls, State, TARGET};
use crate::dtls::crypto::{self, KeyShare};
use crate::dtls::error::Error;
use crate::dtls::wire::handshake::{ServerHello, emit_signed, parse_signed, parse_use_srtp, u16_list};
use crate::dtls::wire::{
    AlertDescription, CipherSuite, DTLS1_2, DTLS1_3, ExtensionType, HandshakeType, SignatureScheme, SrtpProfile,
};

impl Dtls {
    /// The cipher suites and extensions a ClientHello adds for DTLS 1.3, when our configuration offers it:
    /// fresh key shares for our groups (kept), supported_versions, the HelloRetryRequest cookie.
    pub(crate) fn client_hello13_parts(&mut self, suites: &mut Vec<CipherSuite>, extra: &mut Vec<u8>) {
        let versions: &[u16] = match self.versions() {
            Versions::Dtls12 => return,
            Versions::Dtls13 => &[DTLS1_3],
            Versions::Both => &[DTLS1_3, DTLS1_2],
        };
        let mut v = self.v13.take().unwrap_or_else(|| Box::new(V13::default()));
        let mut ours: Vec<CipherSuite> = Vec::with_capacity(2);
        for s in self.config.cipher_suites.iter().filter_map(|s| tls13_suite(*s)) {
            if !ours.contains(&s) {
                ours.push(s);
            }
        }
        if self.versions() == Versions::Dtls13 {
            suites.clear();
        }
        suites.splice(0..0, ours);
        if v.shares.is_empty() {
            for g in &self.config.groups {
                if let Some(k) = KeyShare::generate(*g, &mut self.rng) {
                    v.shares.push(k);
                }
            }
        }
        let shares: Vec<_> = v.shares.iter().map(|k| (k.group(), k.public())).collect();
        emit_client_hello_ext(extra, versions, &shares, &v.cookie);
        self.v13 = Some(v);
    }

    /// Keeps the ClientHello as TLS 1.3 hashes it.
    pub(crate) fn keep_client_hello13(&mut self, body: &[u8]) {
        if let Some(v) = self.v13.as_mut() {
            v.client_hello.clear();
            write_tls_message(&mut v.client_hello, HandshakeType::CLIENT_HELLO, body);
        }
    }

    /// A ServerHello (or HelloRetryRequest) reached a client that offered 1.3. `Ok(false)`: it is a 1.2
    /// ServerHello for the 1.2 code (the downgrade sentinel was checked).
    pub(crate) fn on_server_hello13(&mut self, seq: u16, body: &[u8], sh: &ServerHello<'_>) -> Result<bool, Error> {
        if !super::ENABLED || self.v13.is_none() {
            return Ok(false);
        }
        let hrr = *sh.random == HRR_RANDOM;
        let ext = ServerHelloExt::parse(&sh.extensions, hrr)?;
        if ext.version != Some(DTLS1_3) {
            if ext.version.is_some() || hrr {
                return Err(self.fail_alert(Error::Malformed, AlertDescription::ILLEGAL_PARAMETER));
            }
            // 1.2. We offered 1.3: a 1.3-capable server would have said so (RFC 8446 §4.1.3).
            if self.versions() == Versions::Dtls13 {
                return Err(self.fail_alert(Error::UnsupportedVersion(sh.version), AlertDescription::PROTOCOL_VERSION));
            }
            if sh.random.ends_with(&DOWNGRADE_TLS12) {
                return Err(self.fail_alert(Error::Downgrade, AlertDescription::ILLEGAL_PARAMETER));
            }
            self.v13 = None;
            return Ok(false);
        }
        if sh.version != DTLS1_2 || sh.compression_method != 0 || !sh.session_id.is_empty() {
            return Err(Error::Malformed);
        }
        let Some(mut v) = self.v13.take() else { return Ok(false) };
        let r = self.server_hello13(&mut v, seq, body, sh, hrr, &ext);
        self.v13 = Some(v);
        r.map(|()| true)
    }

    fn server_hello13(
        &mut self,
        v: &mut V13,
        seq: u16,
        body: &[u8],
        sh: &ServerHello<'_>,
        hrr: bool,
        ext: &ServerHelloExt<'_>,
    ) -> Result<(), Error> {
        let offered = self.config.cipher_suites.iter().filter_map(|s| tls13_suite(*s)).any(|s| s == sh.cipher_suite);
        if !offered || v.suite.is_some_and(|s| s != sh.cipher_suite) {
            return Err(Error::NoCommonCipherSuite);
        }
        v.suite = Some(sh.cipher_suite);
        let hash = v.hash().0;
        if hrr {
            // One HelloRetryRequest at most (RFC 8446 §4.1.4).
            if !v.transcript.is_empty() {
                return Err(Error::UnexpectedMessage);
            }
            let mut group_changed = false;
            if let Some((g, _)) = ext.share {
                if !self.config.groups.contains(&g) || !KeyShare::SUPPORTED.contains(&g) {
                    return Err(Error::NoCommonGroup);
                }
                if v.shares.iter().any(|k| k.group() == g) {
                    return Err(Error::Malformed);
                }
                v.shares.clear();
                v.shares.extend(KeyShare::generate(g, &mut self.rng));
                group_changed = true;
            }
            let cookie = ext.cookie.unwrap_or(&[]);
            if cookie.is_empty() && !group_changed {
                return Err(Error::Malformed);
            }
            v.cookie = cookie.to_vec();
            // Transcript: message_hash(ClientHello1), HelloRetryRequest (RFC 8446 §4.4.1).
            let ch_hash = hash.digest(&v.client_hello);
            write_tls_message(&mut v.transcript, HandshakeType::MESSAGE_HASH, ch_hash.as_bytes());
            write_tls_message(&mut v.transcript, HandshakeType::SERVER_HELLO, body);
            tracing::debug!(target: TARGET, cookie_len = cookie.len(), group_changed, "HelloRetryRequest");
            self.v13 = Some(Box::new(core::mem::take(v)));
            self.send_client_hello();
            if let Some(nv) = self.v13.take() {
                *v = *nv;
            }
            return Ok(());
        }
        let (group, key) = ext.share.ok_or(Error::Malformed)?;
        let share = v.shares.iter().find(|k| k.group() == group).ok_or(Error::NoCommonGroup)?;
        let shared = share.agree(key)?;
        let mut schedule = KeySchedule::new(hash, PREFIX);
        schedule.input_shared_secret(&shared)?;
        let ch = core::mem::take(&mut v.client_hello);
        v.transcript.extend_from_slice(&ch);
        write_tls_message(&mut v.transcript, HandshakeType::SERVER_HELLO, body);
        let secrets = schedule.handshake_traffic_secrets(v.transcript_hash().as_bytes())?;
        v.install(2, &secrets.client, true)?;
        v.install(2, &secrets.server, false)?;
        v.hs_secrets = Some(Box::new((secrets.client, secrets.server)));
        v.schedule = Some(Box::new(schedule));
        v.shares.clear();
        v.cookie.clear();
        v.active = true;
        self.hs.server_random = *sh.random;
        self.hs.suite = Some(sh.cipher_suite);
        self.hs.group = Some(group);
        self.hs.client_hello = Vec::new();
        self.peer_flight_start = Some(seq);
        tracing::debug!(target: TARGET, suite = %sh.cipher_suite, %group, "DTLS 1.3 ServerHello");
        self.state = State::C13ExpectEncryptedExtensions;
        Ok(())
    }

    /// One complete, in-order handshake message of a 1.3 handshake (either role).
    pub(crate) fn on_message13(&mut self, epoch: u16, ty: HandshakeType, seq: u16, body: &[u8]) -> Result<(), Error> {
        if self.state == State::Established {
            // Post-handshake messages (NewSessionTicket, KeyUpdate) are not supported: ignored.
            tracing::debug!(target: TARGET, msg = %ty, "post-handshake message ignored");
            return Ok(());
        }
        if epoch != 2 {
            return Err(Error::UnexpectedMessage);
        }
        let Some(mut v) = self.v13.take() else { return Err(Error::UnexpectedMessage) };
        let r = match self.role {
            crate::dtls::Role::Client => self.client_message13(&mut v, ty, seq, body),
            crate::dtls::Role::Server => self.server_message13(&mut v, ty, seq, body),
        };
        if self.v13.is_none() {
            self.v13 = Some(v);
        }
        r
    }

    fn client_message13(&mut self, v: &mut V13, ty: HandshakeType, seq: u16, body: &[u8]) -> Result<(), Error> {
        match (self.state, ty) {
            (State::C13ExpectEncryptedExtensions, HandshakeType::ENCRYPTED_EXTENSIONS) => {
                let ext = parse_encrypted_extensions(body)?;
                self.hs.srtp = self.chosen_srtp(ext.find(ExtensionType::USE_SRTP))?;
                write_tls_message(&mut v.transcript, ty, body);
                self.state = State::C13ExpectCertificateRequest;
                Ok(())
            }
            (State::C13ExpectCertificateRequest, HandshakeType::CERTIFICATE_REQUEST) => {
                let (context, ok) = parse_certificate_request(body)?;
                if !ok {
                    return Err(Error::NoCommonCipherSuite);
                }
                v.cert_context = context.to_vec();
                self.hs.cert_requested = true;
                write_tls_message(&mut v.transcript, ty, body);
                self.state = State::C13ExpectCertificate;
                Ok(())
            }
            (State::C13ExpectCertificateRequest | State::C13ExpectCertificate, HandshakeType::CERTIFICATE) => {
                self.peer_certificate13(v, body)?;
                self.state = State::C13ExpectCertificateVerify;
                Ok(())
            }
            (State::C13ExpectCertificateVerify, HandshakeType::CERTIFICATE_VERIFY) => {
                self.peer_certificate_verify13(v, body, true)?;
                self.state = State::C13ExpectFinished;
                Ok(())
            }
            (State::C13ExpectFinished, HandshakeType::FINISHED) => {
                self.peer_finished13(v, body, true)?;
                self.peer_flight_end = Some(seq);
                self.client_final_flight13(v)
            }
            _ => Err(Error::UnexpectedMessage),
        }
    }

    /// The SRTP profile a server chose (from its use_srtp), checked against ours.
    fn chosen_srtp(&self, data: Option<&[u8]>) -> Result<Option<SrtpProfile>, Error> {
        match data {
            None if self.config.srtp_profiles.is_empty() => Ok(None),
            None => Err(Error::NoCommonSrtpProfile),
            Some(_) if self.config.srtp_profiles.is_empty() => Err(Error::UnexpectedMessage),
            Some(data) => {
                let (profiles, _mki) = parse_use_srtp(data)?;
                let mut it = u16_list(profiles);
                let (Some(p), None) = (it.next(), it.next()) else { return Err(Error::NoCommonSrtpProfile) };
                let p = SrtpProfile(p);
                if !self.config.srtp_profiles.contains(&p) {
                    return Err(Error::NoCommonSrtpProfile);
                }
                Ok(Some(p))
            }
        }
    }

    /// The peer's Certificate: its key and fingerprint (checked when we know the expected one).
    pub(crate) fn peer_certificate13(&mut self, v: &mut V13, body: &[u8]) -> Result<(), Error> {
        let (context, der) = parse_certificate(body)?;
        if self.role == crate::dtls::Role::Server && !context.is_empty() {
            return Err(Error::Malformed);
        }
        let der = der.ok_or(Error::BadCertificate)?;
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
        write_tls_message(&mut v.transcript, HandshakeType::CERTIFICATE, body);
        Ok(())
    }

    /// The peer's CertificateVerify over the transcript so far (RFC 8446 §4.4.3).
    pub(crate) fn peer_certificate_verify13(&mut self, v: &mut V13, body: &[u8], server: bool) -> Result<(), Error> {
        let (scheme, sig) = parse_signed(body)?;
        if scheme != SignatureScheme::ECDSA_SECP256R1_SHA256 {
            return Err(Error::BadSignature);
        }
        let key = self.hs.peer_key.as_ref().ok_or(Error::UnexpectedMessage)?;
        let content = signed_content(server, v.transcript_hash().as_bytes());
        crypto::verify(key, &content, sig)?;
        write_tls_message(&mut v.transcript, HandshakeType::CERTIFICATE_VERIFY, body);
        Ok(())
    }

    /// The peer's Finished, keyed by its handshake traffic secret.
    pub(crate) fn peer_finished13(&mut self, v: &mut V13, body: &[u8], from_server: bool) -> Result<(), Error> {
        let (client, server) = v.hs_secrets.as_deref().copied().ok_or(Error::UnexpectedMessage)?;
        let base = if from_server { server } else { client };
        let expected = verify_data(v.hash().0, PREFIX, &base, v.transcript_hash().as_bytes())?;
        if body != expected.as_bytes() {
            return Err(Error::BadFinished);
        }
        write_tls_message(&mut v.transcript, HandshakeType::FINISHED, body);
        Ok(())
    }

    /// Our CertificateVerify and Finished (after our Certificate is in the transcript).
    pub(crate) fn own_verify_finished13(&mut self, v: &mut V13, server: bool) -> Result<(), Error> {
        let content = signed_content(server, v.transcript_hash().as_bytes());
        let sig = crypto::sign(self.config.certificate.signing_key(), &content)?;
        let mut cv = Vec::with_capacity(sig.len() + 4);
        emit_signed(&mut cv, SignatureScheme::ECDSA_SECP256R1_SHA256, &sig);
        write_tls_message(&mut v.transcript, HandshakeType::CERTIFICATE_VERIFY, &cv);
        self.queue_handshake(HandshakeType::CERTIFICATE_VERIFY, cv, false);
        let (client, srv) = v.hs_secrets.as_deref().copied().ok_or(Error::UnexpectedMessage)?;
        let base = if server { srv } else { client };
        let fin = verify_data(v.hash().0, PREFIX, &base, v.transcript_hash().as_bytes())?;
        write_tls_message(&mut v.transcript, HandshakeType::FINISHED, fin.as_bytes());
        self.queue_handshake(HandshakeType::FINISHED, fin.as_bytes().to_vec(), false);
        Ok(())
    }

    /// The master secret, application traffic secrets and exporter, from the transcript through the
    /// server's Finished.
    pub(crate) fn derive_application13(&mut self, v: &mut V13) -> Result<(), Error> {
        let h = v.transcript_hash();
        let schedule = v.schedule.as_mut().ok_or(Error::UnexpectedMessage)?;
        schedule.enter_master()?;
        let app = schedule.application_traffic_secrets(h.as_bytes())?;
        v.exporter = Some(schedule.exporter_master_secret(h.as_bytes())?);
        v.app_secrets = Some(Box::new((app.client, app.server)));
        if self.config.key_log {
            if let Some(k) = v.key_log(self.hs.client_random) {
                self.events.push(crate::dtls::Event::KeyLog(Box::new(k)));
            }
        }
        Ok(())
    }

    fn client_final_flight13(&mut self, v: &mut V13) -> Result<(), Error> {
        self.derive_application13(v)?;
        self.new_flight();
        // Flight messages go out in epoch 2, under the handshake keys.
        self.write_epoch = 2;
        if self.hs.cert_requested {
            let mut cert = Vec::with_capacity(self.config.certificate.der().len() + 10);
            emit_certificate(&mut cert, &v.cert_context, self.config.certificate.der());
            write_tls_message(&mut v.transcript, HandshakeType::CERTIFICATE, &cert);
            self.queue_handshake(HandshakeType::CERTIFICATE, cert, false);
            self.own_verify_finished13(v, false)?;
        } else {
            let (client, _) = v.hs_secrets.as_deref().copied().ok_or(Error::UnexpectedMessage)?;
            let fin = verify_data(v.hash().0, PREFIX, &client, v.transcript_hash().as_bytes())?;
            write_tls_message(&mut v.transcript, HandshakeType::FINISHED, fin.as_bytes());
            self.queue_handshake(HandshakeType::FINISHED, fin.as_bytes().to_vec(), false);
        }
        let (client, server) = v.app_secrets.as_deref().copied().ok_or(Error::UnexpectedMessage)?;
        v.install(3, &client, true)?;
        v.install(3, &server, false)?;
        // Epoch 2 stays until the server acknowledges our flight (RFC 9147 §7.1).
        v.handshake_done(true, true, self.config.key_log);
        self.v13 = Some(Box::new(core::mem::take(v)));
        // Retransmitted until the server's ACK (RFC 9147 §7.1).
        self.send_flight(true);
        self.write_epoch = 3;
        self.state = State::Established;
        self.hs.ecdh = None;
        self.hs.peer_key = None;
        tracing::debug!(target: TARGET, role = ?self.role, "DTLS 1.3 handshake complete");
        self.maybe_connected();
        Ok(())
    }
}
