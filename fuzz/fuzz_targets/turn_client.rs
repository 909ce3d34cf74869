//! A TURN client fed arbitrary datagrams and calls: raw bytes from the server (and from elsewhere),
//! correctly signed responses with arbitrary attributes to whatever it last sent (so the fuzzer reaches
//! allocated, refreshing and closing states without breaking HMACs), timer jumps and API calls. Nothing may
//! panic, and the output and event queues must stay bounded.
#![no_main]

use arbitrary::Arbitrary;
use core::net::SocketAddr;
use core::time::Duration;
use libfuzzer_sys::fuzz_target;
use sansrtc::stun::{Class, Key, Message, MessageBuilder};
use sansrtc::turn::{TurnClient, TurnConfig};
use sansrtc::{Datagram, Instant, Machine, PathMachine, SeededRng};

#[derive(Arbitrary, Debug)]
enum Op {
    /// Raw bytes from the server.
    Raw(Vec<u8>),
    /// Raw bytes from another address.
    Stranger(Vec<u8>),
    /// A response to the last request sent, with these attributes, signed (or not) and with this class.
    Respond { error: Option<u16>, attrs: Vec<(u16, Vec<u8>)>, sign: bool, realm_nonce: bool },
    /// Time passes.
    Wait(u16),
    SendTo(u8, Vec<u8>),
    Bind(u8),
    Permit(u8),
    Allocate,
    Close,
}

fn peer(i: u8) -> SocketAddr {
    SocketAddr::from(([203, 0, 113, i % 8], 5000 + u16::from(i % 3)))
}

fuzz_target!(|ops: Vec<Op>| {
    let server: SocketAddr = "198.51.100.1:3478".parse().unwrap_or_else(|_| SocketAddr::from(([0; 4], 0)));
    let local: SocketAddr = "192.0.2.10:50000".parse().unwrap_or_else(|_| SocketAddr::from(([0; 4], 0)));
    let mut config = TurnConfig::new(server, local, "user", "pass");
    config.max_permissions = 4;
    config.max_channels = 4;
    let mut c = TurnClient::new(config, SeededRng::from_seed([5; 32]));
    let key = Key::long_term("user", "sansrtc.test", "pass");
    let mut now = Instant::ZERO;
    let mut last_request: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    c.allocate(now);
    for op in ops.into_iter().take(64) {
        let waited = matches!(op, Op::Wait(_));
        match op {
            Op::Raw(bytes) => {
                let _ = c.handle_receive(now, Datagram { source: server, destination: local, contents: &bytes });
            }
            Op::Stranger(bytes) => {
                let _ = c.handle_receive(now, Datagram { source: peer(1), destination: local, contents: &bytes });
            }
            Op::Respond { error, attrs, sign, realm_nonce } => {
                let Ok(req) = Message::new_checked(&last_request[..]) else { continue };
                out.clear();
                let class = if error.is_some() { Class::Error } else { Class::Success };
                let Ok(mut b) = MessageBuilder::response(&mut out, &req, class) else { continue };
                if let Some(code) = error {
                    let code = 300 + code % 400;
                    let v = [0, 0, (code / 100) as u8, (code % 100) as u8];
                    let _ = b.add_raw(0x0009, &v);
                }
                if realm_nonce {
                    let _ = b.add_raw(0x0014, b"sansrtc.test");
                    let _ = b.add_raw(0x0015, b"nonce");
                }
                for (typ, value) in attrs.iter().take(8) {
                    let _ = b.add_raw(*typ, value);
                }
                if sign {
                    let _ = b.message_integrity(&key);
                }
                b.finish();
                let _ = c.handle_receive(now, Datagram { source: server, destination: local, contents: &out });
            }
            Op::Wait(ms) => {
                now += Duration::from_millis(u64::from(ms) * 50);
                c.handle_timeout(now);
            }
            Op::SendTo(p, data) => {
                let _ = c.send_to(now, peer(p), &data);
            }
            Op::Bind(p) => {
                let _ = c.bind_channel(now, peer(p));
            }
            Op::Permit(p) => {
                let _ = c.create_permission(now, peer(p).ip());
            }
            Op::Allocate => c.allocate(now),
            Op::Close => c.close(now),
        }
        let mut sent = 0;
        while let Some(t) = c.poll_transmit() {
            sent += 1;
            assert!(sent <= 1024, "unbounded output");
            if Message::new_checked(t.contents).is_ok_and(|m| m.class() == Class::Request) {
                last_request.clear();
                last_request.extend_from_slice(t.contents);
            }
        }
        let mut events = 0;
        while c.poll_event().is_some() {
            events += 1;
            assert!(events <= 1024, "unbounded events");
        }
        while c.poll_data().is_some() {}
        if let Some(t) = c.poll_timeout() {
            assert!(t > now || !waited, "a deadline handle_timeout left in the past");
        }
    }
});
