//! The most heap a peer connection holds at any point of a session: set-up (certificate, ICE, the DTLS
//! handshake, SCTP), then messages each way, measured between calls with a counting global allocator and
//! halved between the two connections. The figures a bare-metal port sizes its heap by
//! (`docs/bare-metal.md`; the `baremetal/` firmware reserves 96 KiB): a device sending telemetry (small
//! messages, one at a time), and bulk transfers with the default buffers and with smaller ones. A burst
//! grows the buffer pools (DTLS records, the transmit queue, SCTP's queues) up to their bounds; an idle
//! connection gives them back (`tests/pc_memory.rs`).

use std::alloc::System;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

use sansrtc::pc::{Config, Event, PeerConnection};
use sansrtc::{Instant, Machine, SeededRng};

#[path = "support/pc_pair.rs"]
mod pc_pair;
use pc_pair::pump;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Runs a session with `config` on both sides, each sending `each_way` bytes in messages of `message`
/// bytes while at most `max_buffered` bytes wait in its channel; returns the peak heap held per
/// connection and what each held when the channel opened, in bytes.
fn peak_per_connection(config: &Config, message: usize, each_way: usize, max_buffered: usize) -> (usize, usize) {
    let region = Region::new(GLOBAL);
    let held = || {
        let s = region.change();
        s.bytes_allocated.saturating_sub(s.bytes_deallocated)
    };
    let mut peak = 0;
    let mut a = PeerConnection::new(config.clone(), SeededRng::from_seed([1; 32]));
    let mut b = PeerConnection::new(config.clone(), SeededRng::from_seed([2; 32]));
    let mut now = Instant::ZERO;
    let chat = pc_pair::negotiate(now, &mut a, &mut b);
    let (mut open, mut remote, mut at_open) = (false, None, None);
    let (mut sent_a, mut sent_b, mut got_a, mut got_b) = (0, 0, 0, 0);
    for _ in 0..100_000 {
        let moved = pump(now, &mut a, &mut b) | pump(now, &mut b, &mut a);
        peak = peak.max(held());
        while let Some(e) = a.poll_event() {
            match e {
                Event::ChannelOpen(id) if id == chat => open = true,
                Event::Message { data, .. } => got_a += data.len(),
                _ => {}
            }
        }
        while let Some(e) = b.poll_event() {
            match e {
                Event::DataChannel { id, .. } => remote = Some(id),
                Event::Message { data, .. } => got_b += data.len(),
                _ => {}
            }
        }
        peak = peak.max(held());
        // The W3C pattern: write while less than `max_buffered` waits.
        if let (true, Some(remote)) = (open, remote) {
            at_open.get_or_insert_with(|| held() / 2);
            while sent_a < each_way && a.buffered_amount(chat) < max_buffered {
                a.send(now, chat, vec![1; message].into(), true).unwrap();
                sent_a += message;
            }
            while sent_b < each_way && b.buffered_amount(remote) < max_buffered {
                b.send(now, remote, vec![2; message].into(), true).unwrap();
                sent_b += message;
            }
            peak = peak.max(held());
        }
        if got_a == each_way && got_b == each_way {
            break;
        }
        if !moved {
            now = [a.poll_timeout(), b.poll_timeout()].into_iter().flatten().min().unwrap().max(now);
            a.handle_timeout(now);
            b.handle_timeout(now);
            peak = peak.max(held());
        }
    }
    assert_eq!((got_a, got_b), (each_way, each_way), "the transfer completed");
    (peak / 2, at_open.unwrap_or_default())
}

#[test]
fn peak_heap_per_connection() {
    let mut small = Config::default();
    small.sctp.receive_window = 64 * 1024;
    small.sctp.send_buffer = 128 * 1024;
    small.max_transmits = 32;
    // A device: 200-byte messages, one at a time, 64 each way.
    let (telemetry, at_open) = peak_per_connection(&small, 200, 200 * 64, 1);
    // Bulk: 256 KiB each way in 4 KiB messages, 64 KiB buffered.
    let (bulk_default, _) = peak_per_connection(&Config::default(), 4096, 256 * 1024, 64 * 1024);
    let (bulk_small, _) = peak_per_connection(&small, 4096, 256 * 1024, 64 * 1024);
    println!(
        "heap per connection: {at_open} bytes once the channel is open; peak: telemetry {telemetry} bytes; bulk {bulk_default} bytes (default buffers), \
         {bulk_small} bytes (64 KiB receive window, 128 KiB send buffer, 32 transmits)"
    );
    // The bare-metal firmware's heap (96 KiB) holds a telemetry connection with room to spare.
    assert!(telemetry < 48 * 1024, "{telemetry} bytes");
    assert!(at_open > 0 && at_open <= telemetry, "{at_open} {telemetry}");
    assert!(telemetry < bulk_small && bulk_small <= bulk_default, "{telemetry} {bulk_small} {bulk_default}");
}
