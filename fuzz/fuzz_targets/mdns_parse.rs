//! Arbitrary bytes into the mDNS message parser: every question and record (names followed through
//! their compression pointers, addresses read), then into a resolver waiting for a name, as a response
//! from port 5353, and into a responder hiding one address, as a query. Nothing may panic, every
//! iterator ends, and both machines stay bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansrtc::mdns::wire::Message;
use sansrtc::mdns::{Config, Resolver, Responder};
use sansrtc::{Datagram, Instant, Machine, PathMachine, SeededRng};

const NAME: &str = "2b1c2e7e-8e43-4a3f-9d0b-7c0e2b6a1f35.local";

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = Message::new_checked(data) {
        let mut steps = 0usize;
        for q in msg.questions() {
            steps += 1;
            if let Ok(q) = q {
                let _ = q.name.to_string();
                let _ = q.name.eq_str(NAME);
            }
        }
        for r in msg.records() {
            steps += 1;
            if let Ok(r) = r {
                let _ = r.address();
                let _ = r.name.to_string();
            }
        }
        assert!(steps <= 4 * 65_536);
    }
    let mut resolver = Resolver::new(Config { max_cache: 2, ..Config::default() });
    resolver.set_source("192.168.1.10:5000".parse().unwrap());
    let now = Instant::from_secs(1);
    resolver.query(now, NAME).unwrap();
    while resolver.poll_transmit().is_some() {}
    let datagram = Datagram {
        source: "192.168.1.20:5353".parse().unwrap(),
        destination: "192.168.1.10:5000".parse().unwrap(),
        contents: data,
    };
    let _ = resolver.handle_receive(now, datagram);
    while resolver.poll_event().is_some() {}
    assert!(resolver.cached() <= 2);
    assert!(resolver.pending() <= 1);

    let mut responder = Responder::new();
    responder.set_source("192.168.1.20:5353".parse().unwrap());
    let _ = responder.hide(&mut SeededRng::from_seed([1; 32]), "192.168.1.20".parse().unwrap());
    let _ = responder.handle_receive(now, datagram);
    let mut answers = 0;
    while responder.poll_transmit().is_some() {
        answers += 1;
    }
    assert!(answers <= 1);
});
