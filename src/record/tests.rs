//! Unit tests of the journal codecs, replay of damaged journals, and the capture writer.

#![allow(clippy::indexing_slicing)]

use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;
use core::net::SocketAddr;
use core::time::Duration;

use super::call::{Call, kind};
use super::config::{put_config, read_config};
use super::outcome::{put_deadline, put_event, put_result, put_transmit, render_outcome};
use super::wire::{self, JournalError, Reader, put_varint, read_frame};
use super::*;
use crate::datachannel::{ChannelOptions, Reliability};
use crate::dtls::{Certificate, Versions};
use crate::ice::{self, CandidateFilter, Credentials, Nat1To1, Nat1To1Kind};
use crate::pc::{ChannelId, Config, ConnectionState, Event, IceTransportPolicy, SdpKind, Setup, TurnConfig};
use crate::turn::RelayFamily;
use crate::{Instant, Machine, PathMachine, SeededRng};

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A configuration with every field away from its default.
fn unusual_config() -> Config {
    let mut rng = SeededRng::from_seed([3; 32]);
    let mut turn = TurnConfig::new(addr("[2001:db8::1]:3478"), addr("[2001:db8::2%7]:4000"), "user", "pass");
    turn.family = RelayFamily::V6;
    turn.lifetime = Duration::from_millis(123_456);
    turn.max_permissions = 3;
    turn.max_channels = 5;
    turn.transaction.reliable = true;
    turn.pad_channel_data = true;
    Config {
        ice: ice::Config {
            role: ice::Role::Controlled,
            local_credentials: Some(Credentials { ufrag: "abcd".into(), pwd: "not checked here".into() }),
            lite: true,
            ta: Duration::from_millis(20),
            check_rto: Duration::new(1, 5),
            check_max_transmissions: 3,
            candidate_filter: CandidateFilter::NO_HOST,
            nat_1to1: vec![
                Nat1To1 { local: None, public: "203.0.113.9".parse().unwrap() },
                Nat1To1 { local: Some("10.0.0.1".parse().unwrap()), public: "2001:db8::9".parse().unwrap() },
            ],
            nat_1to1_kind: Nat1To1Kind::ServerReflexive,
            max_pairs: 7,
            max_events: 9,
            ..ice::Config::default()
        },
        certificate: Some(Certificate::generate(&mut rng)),
        answer_setup: Setup::Passive,
        sctp: crate::sctp::Config {
            mtu: 1000,
            zero_checksum: true,
            delayed_ack: Duration::from_millis(7),
            ..Default::default()
        },
        max_message_size: 1234,
        max_transmits: 12,
        max_events: 34,
        turn_servers: vec![turn, TurnConfig::for_server(addr("192.0.2.7:3478"), "u", "p")],
        ice_transport_policy: IceTransportPolicy::Relay,
        key_log: true,
        resolve_mdns: false,
        hide_local_addresses: true,
        dtls_versions: Versions::Dtls13,
        ..Config::default()
    }
}

#[test]
fn configuration_round_trips() {
    for config in [Config::default(), unusual_config()] {
        let mut bytes = Vec::new();
        put_config(&mut bytes, &config);
        let mut r = Reader::new(&bytes, 0);
        let back = read_config(&mut r).unwrap();
        r.finish("end").unwrap();
        let mut again = Vec::new();
        put_config(&mut again, &back);
        assert_eq!(again, bytes, "every field survives");
        assert_eq!(back.certificate.map(|c| c.fingerprint()), config.certificate.map(|c| c.fingerprint()));
        assert_eq!(back.turn_servers.first().map(|t| t.local), config.turn_servers.first().map(|t| t.local));
    }
    // A truncated configuration is an error at the offset where it ends, never a panic.
    let mut bytes = Vec::new();
    put_config(&mut bytes, &unusual_config());
    for cut in 0..bytes.len() {
        let e = read_config(&mut Reader::new(&bytes[..cut], 100)).unwrap_err();
        assert!(matches!(e, JournalError::Corrupt { offset, .. } if offset <= 100 + cut), "{e:?}");
    }
    // SCTP timers the association cannot keep its RTO between are refused, not handed on to panic there.
    let mut config = Config::default();
    (config.sctp.rto_min, config.sctp.rto_max) = (Duration::from_secs(5), Duration::from_secs(2));
    let mut bytes = Vec::new();
    put_config(&mut bytes, &config);
    let e = read_config(&mut Reader::new(&bytes, 0)).unwrap_err();
    assert!(matches!(e, JournalError::Corrupt { what: "SCTP RTO.Min above RTO.Max", .. }), "{e:?}");
}

#[test]
fn calls_round_trip() {
    let d = [1u8, 2, 3];
    let calls = [
        Call::Receive {
            now: Instant::from_millis(1),
            datagram: Datagram { source: addr("[fe80::1%3]:1"), destination: addr("10.0.0.1:2"), contents: &d },
        },
        Call::Timeout { now: Instant::MAX },
        Call::PollTransmit,
        Call::PollEvent,
        Call::AddLocalHost { now: Instant::ZERO, addr: addr("10.0.0.1:5000") },
        Call::AddLocalTcp {
            now: Instant::from_secs(1),
            addr: addr("10.0.0.1:443"),
            tcp_type: crate::ice::TcpType::Passive,
        },
        Call::AddLocalTcp {
            now: Instant::from_secs(1),
            addr: addr("10.0.0.1:9"),
            tcp_type: crate::ice::TcpType::Active,
        },
        Call::AddStunServer { now: Instant::from_secs(2), server: addr("[2001:db8::1]:3478") },
        Call::EndOfLocalCandidates { now: Instant::from_secs(3) },
        Call::CreateOffer,
        Call::CreateAnswer,
        Call::SetLocalDescription { now: Instant::from_secs(4), kind: SdpKind::Pranswer, sdp: "v=0\r\n" },
        Call::SetRemoteDescription { now: Instant::from_secs(5), kind: SdpKind::Rollback, sdp: "" },
        Call::AddIceCandidate {
            now: Instant::from_secs(6),
            candidate: Some("candidate:1 1 udp 1 10.0.0.1 1 typ host"),
        },
        Call::AddIceCandidate { now: Instant::from_secs(6), candidate: None },
        Call::RestartIce { now: Instant::from_secs(7) },
        Call::CreateDataChannel {
            now: Instant::from_secs(8),
            options: ChannelOptions {
                ordered: false,
                reliability: Reliability::MaxLifetime(Duration::from_millis(1500)),
                negotiated: Some(4),
                priority: 512,
                protocol: "proto".into(),
                ..ChannelOptions::new("label")
            },
        },
        Call::CreateDataChannel {
            now: Instant::from_secs(8),
            options: ChannelOptions { reliability: Reliability::MaxRetransmits(2), ..ChannelOptions::new("") },
        },
        Call::Send { now: Instant::from_secs(9), channel: ChannelId(3), binary: true, data: &d },
        Call::SetBufferedAmountLowThreshold { channel: ChannelId(4), threshold: u64::MAX },
        Call::CloseChannel { now: Instant::from_secs(10), channel: ChannelId(5) },
        Call::Close { now: Instant::from_secs(11) },
    ];
    for call in &calls {
        let mut bytes = Vec::new();
        call.put_args(&mut bytes);
        let mut r = Reader::new(&bytes, 0);
        let back = Call::read_args(call.kind(), &mut r).unwrap().unwrap();
        r.finish("end").unwrap();
        assert_eq!(&back, call);
        assert!(!call.to_string().is_empty());
    }
    assert_eq!(Call::read_args(kind::OPEN, &mut Reader::new(&[], 0)), Ok(None));
}

#[test]
fn varints_and_frames() {
    for v in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
        let mut b = Vec::new();
        put_varint(&mut b, v);
        assert_eq!(Reader::new(&b, 0).varint("v"), Ok(v));
    }
    // Eleven continuation bytes, or a tenth byte beyond 64 bits: corrupt.
    assert!(Reader::new(&[0xff; 11], 0).varint("v").is_err());
    let mut too_big = vec![0xff; 9];
    too_big.push(0x02);
    assert_eq!(Reader::new(&too_big, 5).varint("v"), Err(JournalError::Corrupt { offset: 5, what: "v" }));
    // A length cut by the end of the journal is a truncation; a zero length is corruption.
    assert_eq!(read_frame(&[0, 0, 0x80], 2).unwrap().unwrap_err(), JournalError::Truncated { offset: 2 });
    assert_eq!(
        read_frame(&[0, 0x00], 1).unwrap().unwrap_err(),
        JournalError::Corrupt { offset: 1, what: "empty record" }
    );
    assert_eq!(read_frame(&[0x05, 0x10, 0], 0).unwrap().unwrap_err(), JournalError::Truncated { offset: 0 });
    assert!(read_frame(&[0x01, 0x12], 2).is_none());
    // The header.
    assert_eq!(wire::read_header(&wire::header(true)), Ok(wire::FLAG_WHOLE));
    let mut h = wire::header(false);
    h[10] = 0x02;
    assert_eq!(wire::read_header(&h), Err(JournalError::Corrupt { offset: 10, what: "unknown header flags" }));
    assert_eq!(wire::read_header(&h[..3]), Err(JournalError::Truncated { offset: 0 }));
    assert_eq!(wire::read_header(b"\x89SRX"), Err(JournalError::NotAJournal));
}

#[test]
fn outcomes_render() {
    let mut o = Vec::new();
    let t = Datagram { source: addr("10.0.0.1:1"), destination: addr("10.0.0.2:2"), contents: &[0xab; 60] };
    put_transmit(&mut o, Some(&t));
    let text = render_outcome(kind::POLL_TRANSMIT, &o).unwrap();
    assert!(text.starts_with("Some(10.0.0.1:1 -> 10.0.0.2:2, 60 bytes: abab"), "{text}");
    assert!(text.ends_with("…)"), "{text}");
    put_deadline(&mut o, Some(Instant::from_millis(1500)));
    assert!(render_outcome(kind::POLL_TRANSMIT, &o).is_err(), "no deadline after a transmit");
    o.clear();
    put_deadline(&mut o, Some(Instant::from_millis(1500)));
    assert_eq!(render_outcome(kind::POLL_TIMEOUT, &o).unwrap(), "Some(1.500000000s)");
    o.clear();
    put_deadline(&mut o, None);
    assert_eq!(render_outcome(kind::POLL_TIMEOUT, &o).unwrap(), "None");
    let events = [
        Event::ConnectionState(ConnectionState::Connected),
        Event::LocalCandidate { candidate: "candidate:x".into(), mid: "0".into() },
        Event::NegotiationNeeded,
        Event::DataChannel { id: ChannelId(1), label: "l".into(), protocol: "p".into() },
        Event::Message { id: ChannelId(1), data: bytes::Bytes::from_static(b"hi"), binary: false },
        Event::ChannelError { id: ChannelId(2), error: crate::datachannel::Error::IdInUse },
        Event::IceCandidateError { server: addr("192.0.2.1:3478"), failure: crate::turn::Failure::Forbidden },
    ];
    let expected = [
        "Some(ConnectionState(Connected))",
        "Some(LocalCandidate(0: candidate:x))",
        "Some(NegotiationNeeded)",
        "Some(DataChannel(#1, label=\"l\", protocol=\"p\"))",
        "Some(Message(#1, text, 2 bytes: 6869))",
        "Some(ChannelError(#2: stream id already in use))",
    ];
    for (i, e) in events.iter().enumerate() {
        o.clear();
        put_event(&mut o, Some(e));
        let text = render_outcome(kind::POLL_EVENT, &o).unwrap();
        if let Some(want) = expected.get(i) {
            assert_eq!(&text, want);
        } else {
            assert!(text.starts_with("Some(IceCandidateError(192.0.2.1:3478: "), "{text}");
        }
    }
    o.clear();
    put_result(&mut o, &Err::<(), _>(crate::pc::Error::InvalidState));
    let text = render_outcome(kind::SET_REMOTE_DESCRIPTION, &o).unwrap();
    assert_eq!(text, "Err(not allowed in the current signalling state)");
    // Trailing or missing bytes are errors.
    o.push(0);
    assert!(render_outcome(kind::SET_REMOTE_DESCRIPTION, &o).is_err());
    assert!(render_outcome(kind::POLL_EVENT, &[1, 99, 0]).is_err());
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

/// Two recorded connections wired in memory, 20 ms apart, run until `a`'s first channel has carried
/// `messages` messages each way; returns both.
fn pair(options: RecordOptions, messages: usize) -> (RecordedPeerConnection, RecordedPeerConnection) {
    pair_sized(options, messages, 3)
}

/// [`pair`], `b`'s messages `size` bytes long.
fn pair_sized(
    options: RecordOptions,
    messages: usize,
    size: usize,
) -> (RecordedPeerConnection, RecordedPeerConnection) {
    pair_with(options, messages, size, Versions::DEFAULT)
}

/// [`pair_sized`], both connections speaking the DTLS `versions`.
fn pair_with(
    options: RecordOptions,
    messages: usize,
    size: usize,
    versions: Versions,
) -> (RecordedPeerConnection, RecordedPeerConnection) {
    let config = Config { dtls_versions: versions, ..Config::default() };
    let mut a = RecordedPeerConnection::new(config.clone(), [1; 32], options);
    let mut b = RecordedPeerConnection::new(config, [2; 32], options);
    let mut now = Instant::from_secs(1);
    a.add_local_host(now, addr("10.0.0.1:5000")).unwrap();
    b.add_local_host(now, addr("10.0.0.2:5000")).unwrap();
    a.end_of_local_candidates(now);
    b.end_of_local_candidates(now);
    let chat = a.create_data_channel(now, ChannelOptions::new("chat")).unwrap();
    let offer = a.create_offer().unwrap();
    a.set_local_description(now, &offer).unwrap();
    b.set_remote_description(now, &offer).unwrap();
    let answer = b.create_answer().unwrap();
    b.set_local_description(now, &answer).unwrap();
    a.set_remote_description(now, &answer).unwrap();
    let (mut got_a, mut got_b, mut sent) = (0, 0, 0);
    let mut chat_b = None;
    for _ in 0..2000 {
        pump(now, &mut a, &mut b);
        pump(now, &mut b, &mut a);
        while let Some(e) = a.poll_event() {
            match e {
                Event::ChannelOpen(_) => {}
                Event::Message { .. } => got_a += 1,
                _ => {}
            }
        }
        while let Some(e) = b.poll_event() {
            match e {
                Event::DataChannel { id, .. } => chat_b = Some(id),
                Event::Message { .. } => got_b += 1,
                _ => {}
            }
        }
        if let Some(cb) = chat_b
            && sent < messages
            && a.channel_stream_id(chat).is_some()
        {
            a.send_text(now, chat, "ping").unwrap();
            b.send_binary(now, cb, &vec![sent as u8; size]).unwrap();
            sent += 1;
        }
        if got_a == messages && got_b == messages {
            break;
        }
        now += Duration::from_millis(20);
        for pc in [&mut a, &mut b] {
            if pc.poll_timeout().is_some_and(|t| t <= now) {
                pc.handle_timeout(now);
            }
        }
    }
    assert_eq!((got_a, got_b), (messages, messages));
    (a, b)
}

#[test]
fn a_recorded_pair_replays_and_a_journal_reads_back() {
    let (mut a, _b) = pair(RecordOptions::default(), 3);
    let journal = a.take_journal();
    assert!(a.take_journal().is_empty(), "taken once");
    let parsed = Journal::parse(&journal).unwrap();
    assert_eq!(parsed.seed(), &[1; 32]);
    assert!(!parsed.whole_outputs());
    let entries: Vec<_> = parsed.entries().collect::<Result<_, _>>().unwrap();
    assert_eq!(entries.len() as u64, a.journaled_calls());
    assert!(matches!(entries[0].call, Call::AddLocalHost { .. }));
    assert_eq!(entries.iter().filter(|e| matches!(e.call, Call::Send { .. })).count(), 3);
    let summary = Replayer::new(&journal).unwrap().run().unwrap();
    assert_eq!(summary.digest, a.digest());
    assert_eq!(summary.calls, a.journaled_calls());
    // Step by step: the same events as the run's summary counts.
    let mut replay = Replayer::new(&journal).unwrap();
    let mut events = 0;
    while let Some(step) = replay.step().unwrap() {
        events += u64::from(step.event.is_some());
    }
    assert_eq!(events, summary.events);
    assert!(events > 10);
    assert_eq!(replay.peer_connection().connection_state(), a.connection_state());
}

/// The deadlines the caller read are journaled where it read them, once between two other calls, and
/// checked on replay: a deadline that differs diverges at that read.
#[test]
fn deadlines_the_caller_read_are_checked() {
    let (mut a, _) = pair(RecordOptions { whole_outputs: true, ..RecordOptions::default() }, 2);
    // Reads after the last call are journaled when the journal is taken; repeated reads once.
    let calls = a.journaled_calls();
    let deadline = a.poll_timeout();
    assert_eq!(a.poll_timeout(), deadline);
    let digest = a.digest();
    let journal = a.take_journal();
    assert_eq!(a.journaled_calls(), calls + 1);
    assert_eq!(a.digest(), digest, "the digest counted the read before it was written");
    let parsed = Journal::parse(&journal).unwrap();
    let entries: Vec<_> = parsed.entries().collect::<Result<_, _>>().unwrap();
    let reads: Vec<_> = entries.iter().filter(|e| e.call == Call::PollTimeout).collect();
    assert!(reads.len() > 5, "{} reads", reads.len());
    let last = entries.last().unwrap();
    assert_eq!(last.call, Call::PollTimeout);
    let want = match deadline {
        Some(d) => alloc::format!("Some({d})"),
        None => "None".to_string(),
    };
    assert_eq!(render_outcome(kind::POLL_TIMEOUT, last.outcome.unwrap()).unwrap(), want);
    assert_eq!(Replayer::new(&journal).unwrap().run().unwrap().digest, a.digest());
    // A recorded deadline changed: the replay diverges at that read, showing both values.
    let target = reads[reads.len() / 2];
    let end = entries.iter().find(|e| e.index == target.index + 1).unwrap().offset;
    let mut damaged = journal.clone();
    damaged[end - 1] ^= 1; // the deadline's last (most significant) byte
    let Err(ReplayError::Diverged(d)) = Replayer::new(&damaged).unwrap().run() else { panic!("no divergence") };
    assert_eq!(d.index, target.index);
    assert!(d.recorded.as_deref().unwrap().starts_with("Some("), "{d:?}");
    assert_ne!(d.recorded.as_deref(), Some(d.replayed.as_str()));
}

/// Large messages sent are kept by reference until taken: taken piece by piece, or copied into one
/// buffer, the journal is the same bytes, and it replays.
#[test]
fn messages_sent_are_journaled_by_reference() {
    let (_, mut one) = pair_sized(RecordOptions::default(), 4, 3000);
    let (_, mut two) = pair_sized(RecordOptions::default(), 4, 3000);
    let whole = one.take_journal();
    let mut pieces = Vec::new();
    let mut count = 0;
    two.take_journal_with(|b| {
        pieces.push(b.to_vec());
        count += 1;
        Ok::<(), ()>(())
    })
    .unwrap();
    assert!(count > 2 * 4, "the four messages handed over where they lie: {count} pieces");
    assert!(pieces.iter().filter(|p| p.len() == 3000).count() >= 4);
    assert_eq!(pieces.concat(), whole);
    assert_eq!(Replayer::new(&whole).unwrap().run().unwrap().digest, one.digest());
    // Into a reused buffer: the same bytes again, and nothing left behind.
    let (_, mut three) = pair_sized(RecordOptions::default(), 4, 3000);
    let mut buf = vec![9; 10];
    three.take_journal_into(&mut buf);
    assert_eq!(buf, whole);
    three.take_journal_into(&mut buf);
    assert!(buf.is_empty());
    // An error from the writer is returned; the bytes are taken all the same.
    let (_, mut four) = pair_sized(RecordOptions::default(), 4, 3000);
    assert_eq!(four.take_journal_with(|_| Err("disk full")), Err("disk full"));
    assert!(four.take_journal().is_empty());
}

#[test]
fn recording_off_and_a_bounded_journal() {
    let off = RecordOptions { journal: false, ..RecordOptions::default() };
    let (mut a, _) = pair(off, 1);
    assert!(a.take_journal().is_empty());
    assert_eq!(a.digest(), [0; 32]);
    // A bound reached mid-session: recording stops and what was written is a valid, shorter journal.
    let bounded = RecordOptions { max_pending: 3072, ..RecordOptions::default() };
    let (mut a, _) = pair(bounded, 2);
    assert!(a.journal_stopped());
    let journal = a.take_journal();
    assert!(journal.len() <= 3072);
    let summary = Replayer::new(&journal).unwrap().run().unwrap();
    assert_eq!(summary.calls, a.journaled_calls());
    assert!(summary.calls > 10);
}

/// Damaged journals, chosen by a seeded generator: flipped bytes (in the opening record half the time),
/// truncations and insertions. Replay reports an error or a divergence, or runs through; it never panics.
#[test]
fn damaged_journals_never_panic() {
    let (mut a, _) = pair(RecordOptions { whole_outputs: true, ..RecordOptions::default() }, 1);
    let journal = a.take_journal();
    let opening = read_frame(&journal, wire::HEADER_LEN).unwrap().unwrap().1;
    let mut rng = SeededRng::from_seed([9; 32]);
    let (mut errors, mut divergences, mut clean) = (0, 0, 0);
    for i in 0..300 {
        let mut bad = journal.clone();
        match i % 4 {
            0 | 1 => {
                let span = if i % 4 == 0 { opening } else { bad.len() };
                let at = rng.below(span as u64) as usize;
                bad[at] ^= 1 << rng.below(8);
            }
            2 => bad.truncate(rng.below(bad.len() as u64) as usize),
            _ => {
                let at = rng.below(bad.len() as u64) as usize;
                bad.insert(at, rng.u32() as u8);
            }
        }
        match Replayer::new(&bad).map_err(ReplayError::Journal).and_then(Replayer::run) {
            Ok(_) => clean += 1,
            Err(ReplayError::Journal(e)) => {
                assert!(e.offset() <= bad.len(), "{e}");
                errors += 1;
            }
            Err(ReplayError::Diverged(d)) => {
                assert!(d.offset < bad.len());
                divergences += 1;
            }
        }
    }
    assert!(errors > 50 && divergences > 20, "errors {errors}, divergences {divergences}, clean {clean}");
}

/// The one's-complement sum of a header or pseudo-header plus segment, folded: 0xffff when it checks.
fn check(parts: &[&[u8]]) -> u16 {
    let mut acc = 0u32;
    for p in parts {
        for c in p.chunks(2) {
            acc += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
    }
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The blocks of a pcapng file: (type, body).
fn blocks(file: &[u8]) -> Vec<(u32, &[u8])> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < file.len() {
        let kind = u32::from_le_bytes(file[at..at + 4].try_into().unwrap());
        let len = u32::from_le_bytes(file[at + 4..at + 8].try_into().unwrap()) as usize;
        assert_eq!(len % 4, 0);
        assert_eq!(&file[at + len - 4..at + len], &file[at + 4..at + 8], "trailing length");
        out.push((kind, &file[at + 8..at + len - 4]));
        at += len;
    }
    out
}

#[test]
fn capture_blocks_and_checksums() {
    let mut c = Capture::new(Duration::from_secs(1_000), 1 << 20);
    let odd = [0x5a; 33];
    c.sent(
        Instant::from_millis(1),
        &Datagram { source: addr("10.0.0.1:5000"), destination: addr("10.0.0.2:6000"), contents: &odd },
    );
    c.key_log("CLIENT_RANDOM 00 11");
    c.received(
        Instant::from_millis(2),
        &Datagram { source: addr("[2001:db8::2]:6000"), destination: addr("[2001:db8::1]:5000"), contents: &odd },
    );
    c.sent(
        Instant::from_millis(3),
        &Datagram { source: addr("10.0.0.1:5000"), destination: addr("[2001:db8::1]:5000"), contents: &odd },
    );
    assert_eq!((c.written(), c.dropped()), (2, 1), "mixed families are not written");
    let file = c.take();
    let all = blocks(&file);
    let kinds: Vec<u32> = all.iter().map(|b| b.0).collect();
    assert_eq!(kinds, [0x0A0D_0D0A, 1, 6, 0x0A, 6]);
    // The interface: raw IP, nanosecond timestamps.
    assert_eq!(&all[1].1[..2], &101u16.to_le_bytes());
    // The secrets.
    let dsb = all[3].1;
    assert_eq!(&dsb[..4], &SECRETS_TLS_KEY_LOG.to_le_bytes());
    assert_eq!(&dsb[8..8 + 20], b"CLIENT_RANDOM 00 11\n");
    // IPv4: the timestamp, the header checksum, the UDP checksum over the pseudo-header.
    let epb = all[2].1;
    let ts = (u64::from(u32::from_le_bytes(epb[4..8].try_into().unwrap())) << 32)
        | u64::from(u32::from_le_bytes(epb[8..12].try_into().unwrap()));
    assert_eq!(ts, 1_000_001_000_000);
    let len = u32::from_le_bytes(epb[12..16].try_into().unwrap()) as usize;
    assert_eq!(len, 20 + 8 + 33);
    let ip = &epb[20..20 + len];
    assert_eq!(check(&[&ip[..20]]), 0xffff, "IPv4 header checksum");
    let pseudo = [&ip[12..20], &[0, 17], &((len - 20) as u16).to_be_bytes()[..]].concat();
    assert_eq!(check(&[&pseudo, &ip[20..]]), 0xffff, "UDP checksum");
    assert_eq!(&ip[20..24], &[0x13, 0x88, 0x17, 0x70]);
    // IPv6, inbound: the remote is the source.
    let epb = all[4].1;
    let len = u32::from_le_bytes(epb[12..16].try_into().unwrap()) as usize;
    let ip = &epb[20..20 + len];
    assert_eq!(ip[0] >> 4, 6);
    assert_eq!(&ip[8..24], &"2001:db8::2".parse::<core::net::Ipv6Addr>().unwrap().octets());
    let pseudo = [&ip[8..40], &((len - 40) as u32).to_be_bytes()[..], &[0, 0, 0, 17]].concat();
    assert_eq!(check(&[&pseudo, &ip[40..]]), 0xffff, "UDP checksum over IPv6");
    // The direction flag: inbound.
    let options = &epb[20 + len.next_multiple_of(4)..];
    assert_eq!(options[..8], [2, 0, 4, 0, 1, 0, 0, 0]);
    // A bound on pending bytes drops packets, not secrets.
    let mut small = Capture::new(Duration::ZERO, 200);
    small.sent(
        Instant::ZERO,
        &Datagram { source: addr("10.0.0.1:1"), destination: addr("10.0.0.2:2"), contents: &[0; 100] },
    );
    small.key_log("CLIENT_RANDOM aa bb");
    assert_eq!((small.written(), small.dropped()), (0, 1));
    assert_eq!(blocks(&small.take()).len(), 3);
}

#[test]
fn a_recorded_pair_captures_with_the_key_log_before_encrypted_records() {
    let options = RecordOptions { capture: true, journal: false, ..RecordOptions::default() };
    // DTLS 1.2: one CLIENT_RANDOM line before the first application data record (content type 23).
    let (mut a, mut b) = pair_with(options, 1, 3, Versions::Dtls12);
    for pc in [&mut a, &mut b] {
        assert_eq!(pc.pc.dtls().and_then(Dtls::protocol_version), Some(crate::dtls::wire::DTLS1_2));
        let file = pc.take_capture();
        let blocks = blocks(&file);
        let dsb = blocks.iter().position(|b| b.0 == 0x0A).expect("a key log");
        let line = core::str::from_utf8(&blocks[dsb].1[8..]).unwrap().trim_end_matches('\0');
        assert!(line.starts_with("CLIENT_RANDOM ") && line.ends_with('\n'));
        assert_eq!(line.lines().count(), 1);
        assert_eq!(blocks.iter().filter(|b| b.0 == 0x0A).count(), 1);
        // Every DTLS record after the handshake's plain part (content type 23, application data) comes
        // after the secrets.
        let first_app_data = blocks
            .iter()
            .position(|(kind, body)| *kind == 6 && body.get(20 + 28) == Some(&23))
            .expect("application data");
        assert!(dsb < first_app_data);
    }
    // DTLS 1.3 (the default): the five secrets in one block, before the first record of epoch 3 (a unified
    // header, RFC 9147 §4: 001CSLEE with EE = 3), the application data.
    let (mut a, mut b) = pair_with(options, 1, 3, Versions::DEFAULT);
    for pc in [&mut a, &mut b] {
        assert_eq!(pc.pc.dtls().and_then(Dtls::protocol_version), Some(crate::dtls::wire::DTLS1_3));
        let file = pc.take_capture();
        let blocks = blocks(&file);
        let dsb = blocks.iter().position(|b| b.0 == 0x0A).expect("a key log");
        assert_eq!(blocks.iter().filter(|b| b.0 == 0x0A).count(), 1);
        let text = core::str::from_utf8(&blocks[dsb].1[8..]).unwrap().trim_end_matches('\0');
        let labels: Vec<&str> = text.lines().map(|l| l.split(' ').next().unwrap()).collect();
        assert_eq!(
            labels,
            [
                "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
                "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                "CLIENT_TRAFFIC_SECRET_0",
                "SERVER_TRAFFIC_SECRET_0",
                "EXPORTER_SECRET"
            ]
        );
        assert_eq!(text, alloc::format!("{}\n", pc.pc.dtls().unwrap().key_log().unwrap()));
        let first_epoch3 = blocks
            .iter()
            .position(|(kind, body)| *kind == 6 && body.get(20 + 28).is_some_and(|b| b & 0xe3 == 0x23))
            .expect("records of epoch 3");
        assert!(dsb < first_epoch3);
    }
}
