//! Memory held by an idle, connected peer connection (issue 8 asks for less than 16 KiB), measured with a
//! counting global allocator: two connections are set up in one process, connected through a data
//! channel, left idle, and the bytes still allocated are divided between them.

use core::net::SocketAddr;
use std::alloc::System;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

use sansrtc::pc::{ChannelOptions, Config, Event, PeerConnection};
use sansrtc::{Datagram, Instant, Machine, PathMachine, SeededRng};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn pump(now: Instant, from: &mut PeerConnection, to: &mut PeerConnection) -> bool {
    let mut moved = false;
    while let Some(t) = from.poll_transmit() {
        let (source, destination, contents) = (t.source, t.destination, t.contents.to_vec());
        let _ = to.handle_receive(now, Datagram { source, destination, contents: &contents });
        moved = true;
    }
    moved
}

#[test]
fn idle_connected_peer_connection_memory() {
    let region = Region::new(GLOBAL);
    let (a_addr, b_addr): (SocketAddr, SocketAddr) =
        ("10.0.0.1:5000".parse().unwrap(), "10.0.0.2:5000".parse().unwrap());
    let mut a = Box::new(PeerConnection::new(Config::default(), SeededRng::from_seed([1; 32])));
    let mut b = Box::new(PeerConnection::new(Config::default(), SeededRng::from_seed([2; 32])));
    let mut now = Instant::ZERO;
    a.add_local_host(now, a_addr).unwrap();
    b.add_local_host(now, b_addr).unwrap();
    a.end_of_local_candidates(now);
    b.end_of_local_candidates(now);
    let chat = a.create_data_channel(now, ChannelOptions::new("chat")).unwrap();
    let offer = a.create_offer().unwrap();
    a.set_local_description(now, &offer).unwrap();
    b.set_remote_description(now, &offer).unwrap();
    let answer = b.create_answer().unwrap();
    b.set_local_description(now, &answer).unwrap();
    a.set_remote_description(now, &answer).unwrap();
    drop((offer, answer));
    let mut open = false;
    for _ in 0..10_000 {
        let moved = pump(now, &mut a, &mut b) | pump(now, &mut b, &mut a);
        while let Some(e) = a.poll_event() {
            open |= e == Event::ChannelOpen(chat);
        }
        while b.poll_event().is_some() {}
        if open && !moved {
            break;
        }
        if !moved {
            let next = [a.poll_timeout(), b.poll_timeout()].into_iter().flatten().min().unwrap();
            now = next.max(now);
            a.handle_timeout(now);
            b.handle_timeout(now);
        }
    }
    assert!(open, "connected");
    // Idle for a while (keepalives, consent, heartbeats run), then measure.
    let end = now + core::time::Duration::from_secs(20);
    while now < end {
        pump(now, &mut a, &mut b);
        pump(now, &mut b, &mut a);
        while a.poll_event().is_some() {}
        while b.poll_event().is_some() {}
        now = [a.poll_timeout(), b.poll_timeout()].into_iter().flatten().min().unwrap().max(now);
        a.handle_timeout(now);
        b.handle_timeout(now);
    }
    let stats = region.change();
    let per_connection =
        (stats.bytes_allocated as isize - stats.bytes_deallocated as isize + stats.bytes_reallocated) / 2;
    println!("live heap per idle connected peer connection: {per_connection} bytes");
    // About 40 KiB today: not yet the 16 KiB target of issue 8. This bound keeps it from growing unnoticed;
    // lower it as the layers shed their preallocated buffers.
    assert!(per_connection < 64 * 1024, "{per_connection} bytes");
}
