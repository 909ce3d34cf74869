//! No hidden nondeterminism: a recorded session (two connections, several data channels, messages both
//! ways) replays in two separate processes of this test binary, each with its own hash-map seeds, address-
//! space layout and allocation history, and both give the digest the recording process computed.

use core::net::SocketAddr;
use core::time::Duration;
use std::process::Command;

use sansrtc::pc::{ChannelOptions, Config, Event};
use sansrtc::record::{RecordOptions, RecordedPeerConnection, Replayer};
use sansrtc::{Datagram, Instant, Machine, PathMachine};

const JOURNAL_VAR: &str = "SANSRTC_REPLAY_CHILD_JOURNAL";

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

fn pump(now: Instant, from: &mut RecordedPeerConnection, to: &mut RecordedPeerConnection) {
    let mut out = Vec::new();
    while let Some(t) = from.poll_transmit() {
        out.push((t.source, t.destination, t.contents.to_vec()));
    }
    for (source, destination, data) in out {
        let _ = to.handle_receive(now, Datagram { source, destination, contents: &data });
    }
}

/// Alice opens five channels and both sides send 30 messages on each; returns Alice's journal and digest.
fn record() -> (Vec<u8>, [u8; 32]) {
    let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
    let mut a = RecordedPeerConnection::new(Config::default(), [5; 32], RecordOptions::default());
    let mut b = RecordedPeerConnection::new(Config::default(), [6; 32], RecordOptions::default());
    let mut now = Instant::from_secs(3);
    a.add_local_host(now, addr("10.1.0.1:4000")).unwrap();
    b.add_local_host(now, addr("10.1.0.2:4000")).unwrap();
    a.end_of_local_candidates(now);
    b.end_of_local_candidates(now);
    let channels: Vec<_> =
        (0..5).map(|i| a.create_data_channel(now, ChannelOptions::new(&format!("c{i}"))).unwrap()).collect();
    let offer = a.create_offer().unwrap();
    a.set_local_description(now, &offer).unwrap();
    b.set_remote_description(now, &offer).unwrap();
    let answer = b.create_answer().unwrap();
    b.set_local_description(now, &answer).unwrap();
    a.set_remote_description(now, &answer).unwrap();
    let (mut remote, mut got, mut sent) = (Vec::new(), 0, 0);
    let mut journal = Vec::new();
    for _ in 0..5000 {
        pump(now, &mut a, &mut b);
        pump(now, &mut b, &mut a);
        while let Some(e) = a.poll_event() {
            got += usize::from(matches!(e, Event::Message { .. }));
        }
        while let Some(e) = b.poll_event() {
            match e {
                Event::DataChannel { id, .. } => remote.push(id),
                Event::Message { id, data, binary } => {
                    let _ = b.send(now, id, data, binary);
                }
                _ => {}
            }
        }
        if remote.len() == channels.len() && sent < 30 {
            for (i, c) in channels.iter().enumerate() {
                a.send_binary(now, *c, &vec![i as u8; 100 + 300 * i]).unwrap();
            }
            sent += 1;
        }
        if got == 30 * channels.len() {
            break;
        }
        journal.extend(a.take_journal());
        now += Duration::from_millis(7);
        for pc in [&mut a, &mut b] {
            if pc.poll_timeout().is_some_and(|t| t <= now) {
                pc.handle_timeout(now);
            }
        }
    }
    assert_eq!(got, 30 * channels.len(), "every message echoed");
    journal.extend(a.take_journal());
    (journal, a.digest())
}

#[test]
fn two_processes_replay_to_the_recorded_digest() {
    let (journal, digest) = record();
    let path = std::env::temp_dir().join(format!("sansrtc-replay-processes-{}.journal", std::process::id()));
    std::fs::write(&path, &journal).unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut digests = Vec::new();
    for _ in 0..2 {
        let out = Command::new(&exe)
            .args(["--ignored", "--exact", "replay_child", "--nocapture", "--test-threads=1"])
            .env(JOURNAL_VAR, &path)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "the child replay failed:\n{stdout}{}", String::from_utf8_lossy(&out.stderr));
        let at = stdout.find("replayed digest ").expect("the child's digest") + "replayed digest ".len();
        let line = stdout[at..].split_whitespace().next().expect("a digest");
        digests.push(line.to_string());
    }
    let _ = std::fs::remove_file(&path);
    assert_eq!(digests[0], digests[1], "two processes, the same digest");
    assert_eq!(digests[0], hex(&digest), "and the recording's");
}

/// The other process's half of [`two_processes_replay_to_the_recorded_digest`]: replays the journal the
/// variable names and prints the digest. Run only by that test.
#[test]
#[ignore = "run as a child process by two_processes_replay_to_the_recorded_digest"]
fn replay_child() {
    let path = std::env::var_os(JOURNAL_VAR).expect("run by two_processes_replay_to_the_recorded_digest");
    // A different allocation history from the parent's: addresses in memory must not matter.
    let noise: Vec<Vec<u8>> = (0..(std::process::id() % 97) as usize).map(|i| vec![0; i * 13]).collect();
    let journal = std::fs::read(path).unwrap();
    let summary = Replayer::new(&journal).unwrap().run().unwrap();
    drop(noise);
    println!("replayed digest {}", hex(&summary.digest));
}
