//! A DTLS server machine fed arbitrary datagrams (input split on 2-byte big-endian length prefixes), with
//! time advancing between them so retransmission timers fire. The first byte picks cookies (bit 0, off
//! so inputs reach the deeper states) and the versions (bits 1–2: 1.2 only, both, 1.3 only). Must never
//! panic; memory stays bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansrtc::dtls::{Certificate, Config, Dtls, Versions};
use sansrtc::{DatagramMachine, Instant, Machine, SeededRng};

static CERT: std::sync::OnceLock<Certificate> = std::sync::OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let mut rng = SeededRng::from_seed([5; 32]);
    let cert = CERT.get_or_init(|| Certificate::generate(&mut SeededRng::from_seed([6; 32])));
    let mut cfg = Config::new(cert.clone());
    cfg.cookie_exchange = data.first().is_some_and(|b| b & 1 == 1);
    cfg.versions = match data.first().map(|b| (b >> 1) & 3) {
        Some(1) => Versions::Both,
        Some(2) => Versions::Dtls13,
        _ => Versions::Dtls12,
    };
    cfg.mtu = 200 + usize::from(data.get(1).copied().unwrap_or(0)) * 4;
    let mut server = Dtls::server(cfg, rng.fork());
    let mut now = Instant::ZERO;
    let mut rest = data.get(2..).unwrap_or(&[]);
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let end = (2 + len).min(rest.len());
        let datagram = &rest[2..end];
        rest = &rest[end..];
        let _ = server.handle_receive(now, datagram);
        now += core::time::Duration::from_millis(300);
        server.handle_timeout(now);
        while server.poll_transmit().is_some() {}
        while server.poll_event().is_some() {}
        while server.poll_data().is_some() {}
        let _ = server.send(b"x");
    }
});
