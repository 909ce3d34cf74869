//! Memory held by an idle, connected peer connection (issue 8 asks for less than 16 KiB), measured with a
//! counting global allocator: two connections are set up in one process, connected through a data
//! channel, left idle, and the bytes still allocated are divided between them.

use std::alloc::System;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

use sansrtc::pc::{Config, Event, PeerConnection};
use sansrtc::{Instant, Machine, SeededRng};

#[path = "support/pc_pair.rs"]
mod pc_pair;
use pc_pair::pump;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[test]
fn idle_connected_peer_connection_memory() {
    let region = Region::new(GLOBAL);
    let mut a = Box::new(PeerConnection::new(Config::default(), SeededRng::from_seed([1; 32])));
    let mut b = Box::new(PeerConnection::new(Config::default(), SeededRng::from_seed([2; 32])));
    let mut now = Instant::ZERO;
    let chat = pc_pair::negotiate(now, &mut a, &mut b);
    let (mut open, mut remote) = (false, None);
    let (mut sent, mut got_a, mut got_b) = (false, 0usize, 0usize);
    for _ in 0..10_000 {
        let moved = pump(now, &mut a, &mut b) | pump(now, &mut b, &mut a);
        while let Some(e) = a.poll_event() {
            open |= e == Event::ChannelOpen(chat);
            if let Event::Message { data, .. } = e {
                got_a += data.len();
            }
        }
        while let Some(e) = b.poll_event() {
            match e {
                Event::DataChannel { id, .. } => remote = Some(id),
                Event::Message { data, .. } => got_b += data.len(),
                _ => {}
            }
        }
        // Once open, 1 MiB each way (bursts grow every queue and buffer), then idle.
        if let (true, Some(remote), false) = (open, remote, sent) {
            for n in 0..64u8 {
                a.send(now, chat, vec![n; 16 * 1024].into(), true).unwrap();
                b.send(now, remote, vec![n; 16 * 1024].into(), true).unwrap();
            }
            sent = true;
            continue;
        }
        if sent && !moved && got_a == 1 << 20 && got_b == 1 << 20 {
            break;
        }
        if !moved {
            let next = [a.poll_timeout(), b.poll_timeout()].into_iter().flatten().min().unwrap();
            now = next.max(now);
            a.handle_timeout(now);
            b.handle_timeout(now);
        }
    }
    assert!(open && got_a == 1 << 20 && got_b == 1 << 20, "connected and 1 MiB each way");
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
    // `bytes_allocated` and `bytes_deallocated` already count what reallocations grew and shrank
    // (`bytes_reallocated` is their net, not to be added again).
    let per_connection = (stats.bytes_allocated as isize - stats.bytes_deallocated as isize) / 2;
    println!("live heap per idle connected peer connection: {per_connection} bytes");
    // Issue 8 asks for less than 16 KiB (about 13 KiB today: the connection's own structure is 9.5 KiB of it).
    assert!(per_connection < 16 * 1024, "{per_connection} bytes");
    // The idle connections gave back their buffers; they still work.
    a.send(now, chat, vec![7; 100_000].into(), true).unwrap();
    let mut echoed = false;
    for _ in 0..1000 {
        pump(now, &mut a, &mut b);
        pump(now, &mut b, &mut a);
        while let Some(e) = b.poll_event() {
            echoed |=
                matches!(e, Event::Message { ref data, .. } if data.len() == 100_000 && data.iter().all(|&x| x == 7));
        }
        if echoed {
            break;
        }
        now += core::time::Duration::from_millis(10);
        a.handle_timeout(now);
        b.handle_timeout(now);
    }
    assert!(echoed, "a message after the idle period arrived");
}
