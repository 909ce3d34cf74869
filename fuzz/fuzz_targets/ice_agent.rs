//! Arbitrary datagram sequences into an ICE agent (controlled, one host socket, one known remote
//! candidate and credentials): each frame picks a source, a destination and a time step, then carries a
//! datagram. Nothing may panic; every list stays within its cap; `send` never hands out an undeclared
//! socket.
#![no_main]

use core::net::SocketAddr;
use core::time::Duration;

use libfuzzer_sys::fuzz_target;
use sansrtc::ice::{Candidate, CandidateKind, Config, Credentials, Foundation, IceAgent, Role};
use sansrtc::{Datagram, Instant, Machine, PathMachine, SeededRng};

const SOURCES: [&str; 4] = ["10.0.0.2:6000", "10.0.0.3:6000", "[2001:db8::2]:6000", "198.51.100.1:3478"];
const LOCALS: [&str; 2] = ["10.0.0.1:5000", "[2001:db8::1]:5000"];

fuzz_target!(|data: &[u8]| {
    let cfg = Config {
        role: Role::Controlled,
        local_credentials: Credentials::new("aaaa", "aaaaaaaaaaaaaaaaaaaaaaaaaa").ok(),
        max_remote_candidates: 8,
        max_pairs: 8,
        ..Config::default()
    };
    let max_remote = cfg.max_remote_candidates;
    let mut a = IceAgent::new(cfg, SeededRng::from_seed([1; 32]));
    let mut now = Instant::ZERO;
    for l in LOCALS {
        let _ = a.add_local_host(now, l.parse().unwrap());
    }
    let _ = a.add_stun_server(now, SOURCES[3].parse().unwrap());
    if let Ok(c) = Credentials::new("bbbb", "bbbbbbbbbbbbbbbbbbbbbbbbbb") {
        a.set_remote_credentials(c);
    }
    if let Some(f) = Foundation::new("1") {
        let _ = a.add_remote_candidate(now, Candidate::remote(CandidateKind::Host, SOURCES[0].parse().unwrap(), 2_130_706_175, f));
    }
    let mut rest = data;
    while let [sel, hi, lo, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
        let (payload, next) = tail.split_at(len);
        rest = next;
        now += Duration::from_millis(u64::from(sel >> 4) * 97);
        let source: SocketAddr = SOURCES[usize::from(sel & 3)].parse().unwrap();
        let destination: SocketAddr = LOCALS[usize::from((sel >> 2) & 1)].parse().unwrap();
        let _ = a.receive(now, Datagram { source, destination, contents: payload });
        if a.poll_timeout().is_some_and(|t| t <= now) {
            a.handle_timeout(now);
        }
        while let Some(t) = a.poll_transmit() {
            assert!(LOCALS.iter().any(|l| l.parse::<SocketAddr>().unwrap() == t.source));
        }
        while a.poll_event().is_some() {}
        assert!(a.remote_candidates().len() <= max_remote);
        assert!(a.pairs().count() <= 8);
        if let Ok(t) = a.send(b"x") {
            assert!(LOCALS.iter().any(|l| l.parse::<SocketAddr>().unwrap() == t.source));
        }
    }
});
