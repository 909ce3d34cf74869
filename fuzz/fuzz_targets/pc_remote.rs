//! Arbitrary remote descriptions, trickled candidates and datagrams into a peer connection. The input is
//! `len (2 bytes BE) | SDP offer | (len (1 byte) | datagram)*`; each datagram's first byte also picks what
//! to do (receive it from the remote candidate's address, or trickle it as a candidate string). Nothing may
//! panic, and every state query must stay consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansrtc::pc::{Config, Description, PeerConnection};
use sansrtc::{Datagram, Instant, Machine, PathMachine, SeededRng};

fuzz_target!(|data: &[u8]| {
    let Some((len, rest)) = data.split_first_chunk::<2>() else { return };
    let len = usize::from(u16::from_be_bytes(*len)).min(rest.len());
    let (sdp, mut rest) = rest.split_at(len);
    let mut pc = PeerConnection::new(Config::default(), SeededRng::from_seed([1; 32]));
    let local = "127.0.0.1:40000".parse().unwrap();
    let mut now = Instant::ZERO;
    let _ = pc.add_local_host(now, local);
    pc.end_of_local_candidates(now);
    let offer = Description::offer(String::from_utf8_lossy(sdp).into_owned());
    if pc.set_remote_description(now, &offer).is_ok() {
        if let Ok(answer) = pc.create_answer() {
            let _ = pc.set_local_description(now, &answer);
        }
    }
    let source = pc.ice().remote_candidates().first().map_or("127.0.0.1:39829".parse().unwrap(), |c| c.address);
    while let Some((&n, tail)) = rest.split_first() {
        let n = usize::from(n).min(tail.len());
        let (datagram, tail) = tail.split_at(n);
        rest = tail;
        match datagram.first() {
            Some(b'c') => {
                let _ = pc.add_ice_candidate(now, core::str::from_utf8(datagram).ok());
            }
            _ => {
                let _ = pc.handle_receive(now, Datagram { source, destination: local, contents: datagram });
            }
        }
        now = now + core::time::Duration::from_millis(50);
        pc.handle_timeout(now);
        while pc.poll_transmit().is_some() {}
        while pc.poll_event().is_some() {}
        let _ = pc.accepts(&Datagram { source, destination: local, contents: datagram });
    }
    pc.close(now);
    while pc.poll_transmit().is_some() {}
});
