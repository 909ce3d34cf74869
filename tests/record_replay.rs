//! Record and replay of whole sessions: two recorded peer connections in the network simulator (Alice
//! behind a NAT, 10 % loss on every hop, an ICE restart mid-transfer) replay identically from their
//! journals; one byte changed in one recorded datagram is reported as a divergence at that very call;
//! replays are repeatable; the capture of a session opens in tshark, decrypted with its embedded key log.

#![cfg(feature = "sim")]

#[path = "support/tool.rs"]
mod tool;

#[allow(dead_code)]
#[path = "../examples/replay.rs"]
mod replay_example;

use core::net::SocketAddr;
use core::time::Duration;

use sansrtc::dtls::Versions;
use sansrtc::pc::{ChannelId, ChannelOptions, Config, ConnectionState, Event, IceConnectionState};
use sansrtc::record::{Call, Journal, JournalError, RecordOptions, RecordedPeerConnection, ReplayError, Replayer};
use sansrtc::sim::{HostId, LinkConfig, NatConfig, Net, Sim};
use sansrtc::{Instant, Seed};

const A_ADDR: &str = "192.168.1.10:5000";
const B_ADDR: &str = "198.51.100.20:6000";

struct Session {
    sim: Sim,
    a: HostId,
    b: HostId,
    events_a: Vec<Event>,
    events_b: Vec<Event>,
    journal_a: Vec<u8>,
    journal_b: Vec<u8>,
    capture_a: Vec<u8>,
}

impl Session {
    /// Alice behind a port-restricted NAT, Bob public; every hop 10 ms with `loss`.
    fn new(seed: u64, loss: f64, options: RecordOptions) -> Session {
        Session::with_config(seed, loss, options, Config::default())
    }

    /// [`Session::new`], both connections built from `config`.
    fn with_config(seed: u64, loss: f64, options: RecordOptions, config: Config) -> Session {
        let mut sim = Sim::new(seed);
        sim.set_event_capacity(1 << 16);
        sim.set_default_link(LinkConfig::default().with_delay(Duration::from_millis(10)).with_loss(loss));
        let nat = sim
            .add_nat("nat", Net::Internet, "203.0.113.1".parse().unwrap(), NatConfig::port_restricted_cone())
            .unwrap();
        let (a_addr, b_addr): (SocketAddr, SocketAddr) = (A_ADDR.parse().unwrap(), B_ADDR.parse().unwrap());
        let seed_a: Seed = sim.fork_rng().bytes();
        let seed_b: Seed = sim.fork_rng().bytes();
        let pa = RecordedPeerConnection::new(config.clone(), seed_a, options);
        let pb = RecordedPeerConnection::new(config, seed_b, options);
        let a = sim.add_host("alice", Net::Behind(nat), &[a_addr.ip()], pa).unwrap();
        let b = sim.add_host("bob", Net::Internet, &[b_addr.ip()], pb).unwrap();
        let mut s = Session {
            sim,
            a,
            b,
            events_a: Vec::new(),
            events_b: Vec::new(),
            journal_a: Vec::new(),
            journal_b: Vec::new(),
            capture_a: Vec::new(),
        };
        for (h, addr) in [(a, a_addr), (b, b_addr)] {
            s.pc(h, |pc, now| {
                pc.add_local_host(now, addr).unwrap();
                pc.end_of_local_candidates(now);
            });
        }
        s
    }

    /// A call on one connection; what it queued goes out at once.
    fn pc<R>(&mut self, host: HostId, f: impl FnOnce(&mut RecordedPeerConnection, Instant) -> R) -> R {
        let r = self.sim.with_node(host, f).unwrap();
        let now = self.sim.now();
        self.sim.run_until(now);
        self.collect();
        r
    }

    /// Takes the events, and the journal and capture bytes as a caller appending to files would.
    fn collect(&mut self) {
        for (at_host, events) in [(self.a, &mut self.events_a), (self.b, &mut self.events_b)] {
            events.extend(self.sim.drain_events::<Event>(at_host).into_iter().map(|(_, e)| e));
        }
        let (a, b) = (self.a, self.b);
        let pa = self.sim.node_mut::<RecordedPeerConnection>(a).unwrap();
        self.journal_a.extend(pa.take_journal());
        self.capture_a.extend(pa.take_capture());
        let pb = self.sim.node_mut::<RecordedPeerConnection>(b).unwrap();
        self.journal_b.extend(pb.take_journal());
    }

    fn until(&mut self, limit: Duration, mut cond: impl FnMut(&Session) -> bool) {
        let end = self.sim.now() + limit;
        while !cond(self) {
            assert!(self.sim.now() < end, "timed out");
            let next = self.sim.now() + Duration::from_millis(10);
            self.sim.run_until(next);
            self.collect();
        }
    }

    fn negotiate(&mut self) {
        let (a, b) = (self.a, self.b);
        let offer = self.pc(a, |pc, now| {
            let offer = pc.create_offer().unwrap();
            pc.set_local_description(now, &offer).unwrap();
            offer
        });
        let answer = self.pc(b, |pc, now| {
            pc.set_remote_description(now, &offer).unwrap();
            let answer = pc.create_answer().unwrap();
            pc.set_local_description(now, &answer).unwrap();
            answer
        });
        self.pc(a, |pc, now| pc.set_remote_description(now, &answer).unwrap());
    }

    fn digest(&self, host: HostId) -> [u8; 32] {
        self.sim.node::<RecordedPeerConnection>(host).unwrap().digest()
    }
}

fn opened(events: &[Event]) -> Option<ChannelId> {
    events.iter().find_map(|e| if let Event::ChannelOpen(id) = e { Some(*id) } else { None })
}

fn remote_channel(events: &[Event], label: &str) -> Option<ChannelId> {
    events.iter().find_map(|e| match e {
        Event::DataChannel { id, label: l, .. } if l == label => Some(*id),
        _ => None,
    })
}

fn messages(events: &[Event], id: ChannelId) -> Vec<Vec<u8>> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message { id: i, data, .. } if *i == id => Some(data.to_vec()),
            _ => None,
        })
        .collect()
}

fn payload(size: usize, salt: u8) -> Vec<u8> {
    (0..size).map(|i| (i as u8).wrapping_mul(31).wrapping_add(salt) % 94 + 33).collect()
}

/// A channel, 40 messages of 1000 bytes from Alice with an ICE restart and renegotiation after the 16th,
/// a text message back from Bob, then Alice closes. Returns the session with both journals complete.
fn lossy_session_with_restart(options: RecordOptions) -> Session {
    let mut s = Session::new(5, 0.10, options);
    let (a, b) = (s.a, s.b);
    let chat = s.pc(a, |pc, now| pc.create_data_channel(now, ChannelOptions::new("bulk")).unwrap());
    s.negotiate();
    let limit = Duration::from_secs(60);
    s.until(limit, |s| opened(&s.events_a) == Some(chat));
    let ufrag_before = s.pc(a, |pc, _| pc.local_ufrag().to_string());
    let mut sent = Vec::new();
    for i in 0..40u8 {
        let data = payload(1000, i);
        s.pc(a, |pc, now| pc.send_binary(now, chat, &data).unwrap());
        sent.push(data);
        s.sim.run_for(Duration::from_millis(20));
        s.collect();
        if i == 15 {
            s.pc(a, |pc, now| pc.restart_ice(now));
            s.negotiate();
            assert_ne!(s.pc(a, |pc, _| pc.local_ufrag().to_string()), ufrag_before);
        }
    }
    s.until(limit, |s| remote_channel(&s.events_b, "bulk").is_some());
    let chat_b = remote_channel(&s.events_b, "bulk").unwrap();
    s.until(limit, |s| messages(&s.events_b, chat_b).len() == sent.len());
    assert_eq!(messages(&s.events_b, chat_b), sent, "every message, in order, across the restart");
    let completed =
        |ev: &[Event]| ev.iter().filter(|e| **e == Event::IceConnectionState(IceConnectionState::Completed)).count();
    s.until(limit, |s| completed(&s.events_a) >= 2 && completed(&s.events_b) >= 2);
    s.pc(b, |pc, now| pc.send_text(now, chat_b, "thanks").unwrap());
    s.until(limit, |s| messages(&s.events_a, chat).len() == 1);
    s.pc(a, |pc, now| pc.close(now));
    s.until(limit, |s| s.events_b.contains(&Event::ConnectionState(ConnectionState::Closed)));
    s.sim.run_for(Duration::from_secs(1));
    s.collect();
    s
}

#[test]
fn lossy_session_with_ice_restart_replays_identically() {
    let s = lossy_session_with_restart(RecordOptions::default());
    for (host, journal, name) in [(s.a, &s.journal_a, "alice"), (s.b, &s.journal_b, "bob")] {
        let summary = Replayer::new(journal).unwrap().run().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(summary.digest, s.digest(host), "{name}: the replay's digest is the recording's");
        assert!(summary.transmits > 40 && summary.events > 20, "{name}: a real session: {summary:?}");
        // Replayed twice: the same digests (no hash-map order, no allocation address in any output).
        let again = Replayer::new(journal).unwrap().run().unwrap();
        assert_eq!(again, summary, "{name}");
    }
    // The recorded connection ended as the replayed one did.
    let mut replay = Replayer::new(&s.journal_b).unwrap();
    while replay.step().unwrap().is_some() {}
    assert_eq!(replay.peer_connection().connection_state(), ConnectionState::Closed);
    assert_eq!(replay.peer_connection().stats(), s.sim.node::<RecordedPeerConnection>(s.b).unwrap().stats());
}

#[test]
fn the_same_session_recorded_twice_gives_the_same_journal() {
    let one = lossy_session_with_restart(RecordOptions::default());
    let two = lossy_session_with_restart(RecordOptions::default());
    assert!(one.journal_a == two.journal_a, "journals are byte for byte the same");
    assert!(one.journal_b == two.journal_b);
}

/// The byte offset of the contents of the recorded datagram of call `index`, and its length.
fn datagram_in_journal(journal: &[u8], index: u64) -> (usize, usize) {
    let parsed = Journal::parse(journal).unwrap();
    let entry = parsed.entries().map(Result::unwrap).find(|e| e.index == index).unwrap();
    let Call::Receive { datagram, .. } = entry.call else { panic!("call {index} is not a receive") };
    (datagram.contents.as_ptr() as usize - journal.as_ptr() as usize, datagram.contents.len())
}

/// A protected DTLS record: DTLS 1.3's unified header (RFC 9147 §4: 001CSLEE; the default), or DTLS 1.2
/// application data (content type 23).
fn protected(datagram: &[u8]) -> bool {
    datagram.first().is_some_and(|&b| b & 0xe0 == 0x20 || b == 23)
}

#[test]
fn one_changed_byte_in_a_recorded_datagram_diverges_at_that_call() {
    let s = lossy_session_with_restart(RecordOptions::default());
    let journal = &s.journal_b;
    // Bob's received datagrams that were taken (Ok) and carried protected DTLS records: Alice's messages.
    let mut replay = Replayer::new(journal).unwrap();
    let mut taken = Vec::new();
    while let Some(step) = replay.step().unwrap() {
        if let Call::Receive { datagram, .. } = &step.entry.call {
            if protected(datagram.contents) && step.outcome.first() == Some(&0) {
                taken.push(step.entry.index);
            }
        }
    }
    assert!(taken.len() > 40, "{} application data datagrams", taken.len());
    for index in [taken[3], taken[taken.len() / 2], taken[taken.len() - 1]] {
        let (at, len) = datagram_in_journal(journal, index);
        let mut changed = journal.clone();
        changed[at + len / 2] ^= 0x01;
        match Replayer::new(&changed).unwrap().run() {
            Err(ReplayError::Diverged(d)) => {
                assert_eq!(d.index, index, "{d}");
                assert!(d.replayed.starts_with("Err(DTLS"), "the changed record fails authentication: {d}");
                assert!(d.recent_inputs.last().unwrap().starts_with(&format!("#{index} ")), "{d}");
                // A digest-only journal still knows the recorded outcome: the datagram was taken, a plain
                // success, journaled as such without a digest.
                assert_eq!(d.recorded.as_deref(), Some("Ok(())"), "{d}");
            }
            other => panic!("changing call {index} gave {other:?}"),
        }
    }
}

#[test]
fn a_whole_outputs_journal_shows_both_values_at_a_divergence() {
    let options = RecordOptions { whole_outputs: true, ..RecordOptions::default() };
    let s = lossy_session_with_restart(options);
    let summary = Replayer::new(&s.journal_a).unwrap().run().unwrap();
    assert_eq!(summary.digest, s.digest(s.a));
    // The digests do not depend on whether outputs are kept whole.
    let digests_only = lossy_session_with_restart(RecordOptions::default());
    assert_eq!(digests_only.digest(digests_only.a), s.digest(s.a));
    assert!(s.journal_a.len() > 2 * digests_only.journal_a.len());

    // Change a byte of the first STUN binding request Alice received: the check fails its integrity.
    let journal = Journal::parse(&s.journal_a).unwrap();
    let index = journal
        .entries()
        .map(Result::unwrap)
        .find(|e| matches!(&e.call, Call::Receive { datagram, .. } if datagram.contents.starts_with(&[0x00, 0x01])))
        .unwrap()
        .index;
    let (at, len) = datagram_in_journal(&s.journal_a, index);
    let mut changed = s.journal_a.clone();
    changed[at + len - 30] ^= 0x80;
    let Err(ReplayError::Diverged(d)) = Replayer::new(&changed).unwrap().run() else { panic!("no divergence") };
    assert_eq!(d.index, index);
    let recorded = d.recorded.as_deref().unwrap();
    assert!(recorded.starts_with("Ok(())"), "{d}");
    assert!(d.replayed.starts_with("Err("), "{d}");
    assert!(d.to_string().contains(&format!("divergence at call #{index}")));
}

#[test]
fn damaged_journals_are_typed_errors_with_offsets() {
    let s = lossy_session_with_restart(RecordOptions::default());
    let journal = &s.journal_a;
    // Truncated anywhere inside a record: reading stops there with the record's offset.
    let parsed = Journal::parse(journal).unwrap();
    let entries: Vec<_> = parsed.entries().map(Result::unwrap).collect();
    let last = entries.last().unwrap();
    for cut in [journal.len() - 1, last.offset + 1] {
        let err = Replayer::new(&journal[..cut]).unwrap().run().unwrap_err();
        assert_eq!(err, ReplayError::Journal(JournalError::Truncated { offset: last.offset }), "cut at {cut}");
    }
    // Cut at a record boundary: a valid, shorter journal.
    let prefix = Replayer::new(&journal[..last.offset]).unwrap().run().unwrap();
    assert_eq!(prefix.calls, entries.len() as u64 - 1);
    // Cut in the header or the opening record.
    assert_eq!(Replayer::new(&journal[..10]).unwrap_err(), JournalError::Truncated { offset: 0 });
    assert_eq!(Replayer::new(&journal[..40]).unwrap_err(), JournalError::Truncated { offset: 12 });
    // Another version (1 and 2, whose digests were SHA-256 and a multiply-fold hash, 3 without the mDNS
    // switch in its configuration, 4 digesting a transmit's head apart from its records and without the
    // DTLS versions, or a later one).
    for version in [1, 2, 3, 4, 6] {
        let mut other = journal.clone();
        other[8] = version;
        let found = u16::from(version);
        assert_eq!(Replayer::new(&other).unwrap_err(), JournalError::UnsupportedVersion { found });
    }
    assert_eq!(JournalError::UnsupportedVersion { found: 1 }.offset(), 8);
    // Not a journal.
    assert_eq!(Replayer::new(b"GIF89a").unwrap_err(), JournalError::NotAJournal);
    // An unknown record kind in the middle.
    let victim = &entries[entries.len() / 2];
    let mut bad = journal.clone();
    let kind_at = victim.offset + varint_len(&journal[victim.offset..]);
    bad[kind_at] = 0x7f;
    let err = Replayer::new(&bad).unwrap().run().unwrap_err();
    assert_eq!(err, ReplayError::Journal(JournalError::Corrupt { offset: victim.offset, what: "unknown record kind" }));
    // An address family that does not exist, in a received datagram's source.
    let receive = entries.iter().find(|e| matches!(e.call, Call::Receive { .. })).unwrap();
    let mut bad = journal.clone();
    let family_at = receive.offset + varint_len(&journal[receive.offset..]) + 1 + 8;
    assert_eq!(bad[family_at], 4);
    bad[family_at] = 5;
    let err = Replayer::new(&bad).unwrap().run().unwrap_err();
    assert_eq!(err, ReplayError::Journal(JournalError::Corrupt { offset: family_at, what: "source address" }), "{err}");
}

fn varint_len(b: &[u8]) -> usize {
    b.iter().position(|b| b & 0x80 == 0).unwrap() + 1
}

/// The pcapng blocks of a capture without its Decryption Secrets Blocks.
fn without_secrets(pcapng: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < pcapng.len() {
        let kind = u32::from_le_bytes(pcapng[at..at + 4].try_into().unwrap());
        let len = u32::from_le_bytes(pcapng[at + 4..at + 8].try_into().unwrap()) as usize;
        if kind != 0x0000_000A {
            out.extend_from_slice(&pcapng[at..at + len]);
        }
        at += len;
    }
    out
}

fn tshark(file: &std::path::Path, args: &[&str]) -> String {
    let lua = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/wireshark/sctp_over_dtls.lua");
    let out = std::process::Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args(["-X", &format!("lua_script:{lua}")])
        .args(args)
        .output()
        .expect("tshark runs");
    assert!(out.status.success(), "tshark {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_capture_opens_in_tshark_decrypted_with_its_embedded_key_log() {
    if std::process::Command::new("tshark").arg("--version").output().is_err() {
        tool::missing("tshark", "`bash scripts/setup` (Debian: `apt-get install tshark`)");
        return;
    }
    let epoch = Duration::from_secs(1_700_000_000);
    let options = RecordOptions { capture: true, capture_epoch: epoch, ..RecordOptions::default() };
    // Pinned to DTLS 1.2: Debian 12's tshark (Wireshark 4.0) has no DTLS 1.3 dissector. It shows 0xfefc
    // as an unknown version and a datagram with unified-header records (RFC 9147 §4) as bare UDP, so a
    // 1.3 session cannot be decrypted there whatever the key log holds.
    let config = Config { dtls_versions: Versions::Dtls12, ..Config::default() };
    let mut s = Session::with_config(9, 0.0, options, config);
    let a = s.a;
    let chat = s.pc(a, |pc, now| pc.create_data_channel(now, ChannelOptions::new("chat")).unwrap());
    s.negotiate();
    s.until(Duration::from_secs(10), |s| opened(&s.events_a) == Some(chat));
    s.pc(a, |pc, now| pc.send_text(now, chat, "hello from sansrtc").unwrap());
    s.pc(a, |pc, now| pc.send_binary(now, chat, &[0xde, 0xad, 0xbe, 0xef, 0x00, 0x01]).unwrap());
    let received = |s: &Session| remote_channel(&s.events_b, "chat").map_or(0, |id| messages(&s.events_b, id).len());
    s.until(Duration::from_secs(10), |s| received(s) == 2);
    s.pc(a, |pc, now| pc.close(now));
    s.sim.run_for(Duration::from_millis(100));
    s.collect();
    let capture = s.sim.node::<RecordedPeerConnection>(a).unwrap().capture().unwrap();
    assert_eq!(capture.dropped(), 0);
    assert!(capture.written() > 15, "{} packets", capture.written());

    let dir = std::env::temp_dir().join(format!("sansrtc-capture-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("alice.pcapng");
    std::fs::write(&file, &s.capture_a).unwrap();
    // Wireshark 4.0 names the data channel protocol `rtcdc`; `dcep` is taken should a release name it so.
    let protocols = std::process::Command::new("tshark").args(["-G", "protocols"]).output().unwrap();
    let protocols = String::from_utf8_lossy(&protocols.stdout);
    let dcep = if protocols.lines().any(|l| l.split('\t').nth(2) == Some("dcep")) { "dcep" } else { "rtcdc" };

    // Every packet, with addresses as Alice saw them and wall-clock timestamps from the epoch.
    let summary = tshark(&file, &["-T", "fields", "-e", "frame.time_epoch", "-e", "ip.src", "-e", "udp.srcport"]);
    let first = summary.lines().next().unwrap();
    assert!(first.starts_with("1700000000."), "{first}");
    assert!(first.ends_with("192.168.1.10\t5000"), "{first}");
    assert_eq!(summary.lines().count() as u64, capture.written());
    // STUN, the DTLS handshake, and, decrypted with the embedded key log, SCTP and DCEP.
    let listing = tshark(&file, &[]);
    assert!(listing.contains("STUN") && listing.contains("Client Hello"), "{listing}");
    let open = tshark(&file, &["-Y", dcep]);
    assert!(open.contains("DATA_CHANNEL_OPEN"), "{open}");
    let messages = tshark(
        &file,
        &[
            "-Y",
            "sctp.data_payload_proto_id == 51 || sctp.data_payload_proto_id == 53",
            "-T",
            "fields",
            "-e",
            "sctp.data_payload_proto_id",
            "-e",
            "data.data",
        ],
    );
    let hex = |b: &[u8]| b.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let lines: Vec<&str> = messages.lines().collect();
    assert_eq!(lines, [format!("51\t{}", hex(b"hello from sansrtc")), "53\tdeadbeef0001".to_string()], "{messages}");

    // Without the Decryption Secrets Block nothing past the handshake can be read: the embedded key log is
    // what decrypts.
    let bare = dir.join("alice-no-secrets.pcapng");
    std::fs::write(&bare, without_secrets(&s.capture_a)).unwrap();
    assert!(std::fs::metadata(&bare).unwrap().len() < s.capture_a.len() as u64);
    assert_eq!(tshark(&bare, &["-Y", dcep]), "");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_replay_example_prints_the_timeline_and_its_verdict() {
    use replay_example::{Verdict, replay};
    let s = lossy_session_with_restart(RecordOptions::default());
    let run = |journal: &[u8], all: bool| {
        let mut out = Vec::new();
        let verdict = replay(journal, all, &mut out).unwrap();
        (verdict, String::from_utf8(out).unwrap())
    };
    let (verdict, out) = run(&s.journal_a, false);
    assert_eq!(verdict, Verdict::Identical, "{out}");
    for line in ["create_data_channel(", "restart_ice(", "event ChannelOpen(#0)", "event NegotiationNeeded", "close("] {
        assert!(out.contains(line), "{line} in\n{out}");
    }
    assert!(out.contains("identical: every output matched; the connection ends closed"), "{out}");
    assert!(!out.contains("handle_receive("), "datagrams only with --all");
    let (verdict, all) = run(&s.journal_a, true);
    assert_eq!(verdict, Verdict::Identical);
    assert!(all.contains("handle_receive(") && all.contains("poll_transmit() -> Some(192.168.1.10:5000 -> "));

    // The last byte of a DTLS datagram Alice received after her 200th call: its authentication tag.
    let index = Journal::parse(&s.journal_a)
        .unwrap()
        .entries()
        .map(Result::unwrap)
        .find(|e| e.index >= 200 && matches!(&e.call, Call::Receive { datagram, .. } if protected(datagram.contents)))
        .unwrap()
        .index;
    let (at, len) = datagram_in_journal(&s.journal_a, index);
    let mut changed = s.journal_a.clone();
    changed[at + len - 1] ^= 0xff;
    let (verdict, out) = run(&changed, false);
    assert_eq!(verdict, Verdict::Diverged);
    assert!(out.contains(&format!("DIVERGED: divergence at call #{index} ")), "{out}");
    let (verdict, out) = run(&s.journal_a[..s.journal_a.len() - 3], false);
    assert_eq!(verdict, Verdict::Unreadable);
    assert!(out.contains("unreadable journal: journal truncated in the record at offset"), "{out}");
}
