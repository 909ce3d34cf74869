//! Journals as a replayer loads them from a file: arbitrary bytes, or (mostly) a real journal with bytes
//! overwritten, flipped, inserted or cut. The real one is recorded once per process from a connection
//! that negotiates, connects, opens a channel and exchanges messages, so mutations land in the header,
//! the configuration, the seed, descriptions, datagrams and outcomes alike. A journal that cannot be read
//! is an error naming its offset; one that reads but describes another session replays to a divergence
//! (after which the replay goes on, comparing nothing). Nothing may panic.
#![no_main]

use std::sync::OnceLock;

use core::time::Duration;
use libfuzzer_sys::fuzz_target;
use sansrtc::pc::{ChannelOptions, Config, Event, PeerConnection};
use sansrtc::record::{RecordOptions, RecordedPeerConnection, ReplayError, Replayer};
use sansrtc::{Datagram, Instant, Machine, PathMachine, SeededRng};

/// Calls replayed at most per input (the base journal has fewer).
const MAX_STEPS: usize = 20_000;

/// A journal of `a`, recorded while it connects to `b`, opens a channel and exchanges messages.
fn record() -> Option<Vec<u8>> {
    let mut now = Instant::ZERO;
    let mut a = RecordedPeerConnection::new(Config::default(), [1; 32], RecordOptions::default());
    let mut b = PeerConnection::new(Config::default(), SeededRng::from_seed([2; 32]));
    a.add_local_host(now, "10.0.0.1:5000".parse().ok()?).ok()?;
    b.add_local_host(now, "10.0.0.2:5000".parse().ok()?).ok()?;
    a.end_of_local_candidates(now);
    b.end_of_local_candidates(now);
    let chat = a.create_data_channel(now, ChannelOptions::new("chat")).ok()?;
    let offer = a.create_offer().ok()?;
    a.set_local_description(now, &offer).ok()?;
    b.set_remote_description(now, &offer).ok()?;
    let answer = b.create_answer().ok()?;
    b.set_local_description(now, &answer).ok()?;
    a.set_remote_description(now, &answer).ok()?;
    let (mut sent, mut received) = (0, 0);
    for _ in 0..1000 {
        while let Some(t) = a.poll_transmit() {
            let (source, destination, contents) = (t.source, t.destination, t.contents.to_vec());
            let _ = b.handle_receive(now, Datagram { source, destination, contents: &contents });
        }
        while let Some(t) = b.poll_transmit() {
            let (source, destination, contents) = (t.source, t.destination, t.contents.to_vec());
            let _ = a.handle_receive(now, Datagram { source, destination, contents: &contents });
        }
        while let Some(e) = a.poll_event() {
            if e == Event::ChannelOpen(chat) {
                for k in 0..8u8 {
                    a.send_binary(now, chat, &[k; 300]).ok()?;
                    sent += 1;
                }
            }
        }
        while let Some(e) = b.poll_event() {
            if let Event::Message { .. } = e {
                received += 1;
            }
        }
        if sent > 0 && received == sent {
            a.close_channel(now, chat).ok()?;
            a.close(now);
            while a.poll_transmit().is_some() {}
            while a.poll_event().is_some() {}
            return Some(a.take_journal());
        }
        let next = [a.poll_timeout(), b.poll_timeout()].into_iter().flatten().min()?;
        now = next.max(now + Duration::from_millis(1));
        a.handle_timeout(now);
        b.handle_timeout(now);
    }
    None
}

fn base() -> &'static [u8] {
    static BASE: OnceLock<Vec<u8>> = OnceLock::new();
    BASE.get_or_init(|| {
        let journal = record().expect("the base session completes");
        // The unmodified journal replays to its end without a divergence.
        Replayer::new(&journal).expect("the base journal reads").run().expect("the base journal replays");
        journal
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, ops)) = data.split_first() else { return };
    let journal = if mode % 8 == 0 {
        ops.to_vec()
    } else {
        let mut j = base().to_vec();
        for op in ops.chunks_exact(4).take(64) {
            let at = usize::from(u16::from_be_bytes([op[1], op[2]])) * j.len() / 65_536;
            let value = op[3];
            match op[0] % 4 {
                0 => {
                    if let Some(b) = j.get_mut(at) {
                        *b = value;
                    }
                }
                1 => {
                    if let Some(b) = j.get_mut(at) {
                        *b ^= value | 1;
                    }
                }
                2 => j.truncate(at),
                _ => j.insert(at.min(j.len()), value),
            }
        }
        j
    };
    let Ok(mut replay) = Replayer::new(&journal) else { return };
    for _ in 0..MAX_STEPS {
        match replay.step() {
            Ok(Some(_)) | Err(ReplayError::Diverged(_)) => {}
            Ok(None) | Err(ReplayError::Journal(_)) => break,
        }
    }
    let _ = replay.summary();
});
