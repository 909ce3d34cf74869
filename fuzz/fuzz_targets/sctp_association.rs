//! An established SCTP association (wrapped in the data channel layer) fed arbitrary packets. Each input is
//! a sequence of `[len u16][time step u8][bytes]` records; the verification tag is patched in so packets
//! get past the tag check, and under `cfg(fuzzing)` the checksum is not verified, so the fuzzer reaches the
//! chunk handlers. TSNs in DATA and FORWARD-TSN chunks are offsets from the peer's initial TSN, so small
//! values land inside the receive window.
#![no_main]

use core::time::Duration;

use libfuzzer_sys::fuzz_target;
use sansrtc::datachannel::{DataChannels, Role};
use sansrtc::sctp::{Association, Config};
use sansrtc::{DatagramMachine, Instant, Machine, SeededRng};

fn established() -> (DataChannels, DataChannels, u32, u32, Instant) {
    let now = Instant::from_secs(1);
    let mut a = DataChannels::new(Association::new(Config::default(), SeededRng::from_seed([1; 32])), Role::Client);
    let mut b = DataChannels::new(Association::new(Config::default(), SeededRng::from_seed([2; 32])), Role::Server);
    a.connect(now);
    let (mut tag, mut base) = (0, 0);
    for _ in 0..6 {
        while let Some(p) = a.poll_transmit() {
            let p = p.to_vec();
            if p.len() >= 32 && p[12] == 1 {
                base = u32::from_be_bytes([p[28], p[29], p[30], p[31]]);
            } else if p.len() >= 8 {
                tag = u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
            }
            let _ = b.handle_receive(now, &p);
        }
        while let Some(p) = b.poll_transmit() {
            let p = p.to_vec();
            let _ = a.handle_receive(now, &p);
        }
    }
    while a.poll_event().is_some() {}
    while b.poll_event().is_some() {}
    (a, b, tag, base, now)
}

/// Adds `base` to the TSN of every DATA and FORWARD-TSN chunk.
fn rebase(packet: &mut [u8], base: u32) {
    let mut off = 12;
    while off + 8 <= packet.len() {
        let len = usize::from(u16::from_be_bytes([packet[off + 2], packet[off + 3]])).max(4);
        if packet[off] == 0 || packet[off] == 192 {
            let t = u32::from_be_bytes([packet[off + 4], packet[off + 5], packet[off + 6], packet[off + 7]]);
            packet[off + 4..off + 8].copy_from_slice(&t.wrapping_add(base).to_be_bytes());
        }
        off += (len + 3) & !3;
    }
}

fuzz_target!(|data: &[u8]| {
    let (_a, mut b, tag, base, mut now) = established();
    let mut rest = data;
    while rest.len() >= 3 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]])).min(rest.len() - 3);
        now += Duration::from_millis(u64::from(rest[2]) * 10);
        let mut packet = rest[3..3 + len].to_vec();
        rest = &rest[3 + len..];
        if packet.len() >= 8 {
            packet[4..8].copy_from_slice(&tag.to_be_bytes());
        }
        rebase(&mut packet, base);
        let _ = b.handle_receive(now, &packet);
        b.handle_timeout(now);
        while b.poll_transmit().is_some() {}
        while b.poll_event().is_some() {}
    }
});
