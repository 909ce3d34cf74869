//! DTLS record and handshake decoding: records of a datagram, handshake fragments in each, every message
//! parser and the extension iterator on each fragment, the certificate key extractor. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansrtc::dtls::wire::handshake::{
    HandshakeIter, parse_certificate, parse_certificate_request, parse_client_key_exchange, parse_signed,
    parse_use_srtp,
};
use sansrtc::dtls::wire::{ClientHello, HelloVerifyRequest, RecordIter, ServerHello, ServerKeyExchange};

fuzz_target!(|data: &[u8]| {
    for rec in RecordIter::new(data) {
        let Ok(rec) = rec else { break };
        let _ = (rec.content_type(), rec.epoch(), rec.sequence(), rec.version());
        for frag in HandshakeIter::new(rec.fragment()) {
            let Ok((_h, body)) = frag else { break };
            if let Ok(ch) = ClientHello::parse(body) {
                let _ = ch.suites().count();
                for e in ch.extensions.iter() {
                    let Ok((_, d)) = e else { break };
                    let _ = parse_use_srtp(d);
                }
            }
            if let Ok(sh) = ServerHello::parse(body) {
                let _ = sh.extensions.iter().count();
            }
            let _ = HelloVerifyRequest::parse(body);
            let _ = ServerKeyExchange::parse(body);
            let _ = parse_certificate_request(body);
            let _ = parse_client_key_exchange(body);
            let _ = parse_signed(body);
            if let Ok(Some(cert)) = parse_certificate(body) {
                let _ = sansrtc::dtls::peer_public_key(cert);
            }
        }
    }
    let _ = sansrtc::dtls::peer_public_key(data);
    if let Ok(s) = core::str::from_utf8(data) {
        let _ = sansrtc::dtls::Fingerprint::parse(s);
    }
});
