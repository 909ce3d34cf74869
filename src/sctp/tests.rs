//! Bad input against a live association: every case is dropped or aborted with a typed reason, never a panic.

use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use bytes::Bytes;

use super::wire::{self, ChunkType, DataFlags, Packet};
use super::*;
use crate::machine::{DatagramMachine, Machine};
use crate::rand::SeededRng;
use crate::time::Instant;

fn new(seed: u8) -> Association {
    Association::new(Config::default(), SeededRng::from_seed([seed; 32]))
}

/// Moves packets both ways until quiet; returns every packet a sent.
fn exchange(a: &mut Association, b: &mut Association, now: Instant) -> Vec<Vec<u8>> {
    let mut from_a = Vec::new();
    for _ in 0..20 {
        let mut moved = false;
        while let Some(p) = a.poll_transmit() {
            let p = p.to_vec();
            let _ = b.handle_receive(now, &p);
            from_a.push(p);
            moved = true;
        }
        while let Some(p) = b.poll_transmit() {
            let p = p.to_vec();
            let _ = a.handle_receive(now, &p);
            moved = true;
        }
        if !moved {
            break;
        }
    }
    from_a
}

fn established() -> (Association, Association, Instant) {
    let now = Instant::from_secs(10);
    let (mut a, mut b) = (new(1), new(2));
    a.connect(now);
    exchange(&mut a, &mut b, now);
    assert!(a.is_established() && b.is_established());
    while a.poll_event().is_some() {}
    while b.poll_event().is_some() {}
    (a, b, now)
}

/// The verification tag b expects (taken from a packet a sent).
fn tag_to_b(a: &mut Association, b: &mut Association, now: Instant) -> u32 {
    a.send(now, 0, 51, Bytes::from_static(b"t"), SendOptions::default()).unwrap();
    let sent = exchange(a, b, now);
    while b.poll_event().is_some() {}
    Packet::new_checked(&sent[0][..]).unwrap().verification_tag()
}

fn packet(tag: u32, chunks: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut buf = Vec::new();
    wire::emit_header(&mut buf, 5000, 5000, tag);
    chunks(&mut buf);
    wire::finish_packet(&mut buf, false);
    buf
}

#[test]
fn bad_checksum_and_wrong_tag_are_dropped_and_counted() {
    let (mut a, mut b, now) = established();
    let tag = tag_to_b(&mut a, &mut b, now);
    let mut p = packet(tag, |c| wire::emit_data(c, 3, 1_000, 0, 0, 51, b"x"));
    p[9] ^= 0xff;
    assert_eq!(b.handle_receive(now, &p), Err(Error::Wire(WireError::BadChecksum)));
    let p = packet(tag ^ 1, |c| wire::emit_chunk(c, ChunkType::ABORT, 0, &[]));
    assert_eq!(b.handle_receive(now, &p), Err(Error::BadVerificationTag));
    assert!(b.is_established(), "a forged ABORT does nothing");
    let s = b.stats();
    assert_eq!((s.bad_checksum, s.bad_verification_tag, s.dropped), (1, 1, 2));
    assert_eq!(b.handle_receive(now, &[1, 2, 3]), Err(Error::Wire(WireError::TooShort)));
}

#[test]
fn tsns_outside_the_window_are_dropped() {
    let (mut a, mut b, now) = established();
    let tag = tag_to_b(&mut a, &mut b, now);
    let far = a.send.next_tsn.wrapping_add(100_000);
    let p = packet(tag, |c| wire::emit_data(c, 3, far, 0, 0, 51, b"far"));
    assert_eq!(b.handle_receive(now, &p), Err(Error::TsnOutOfWindow));
    // A TSN half the sequence space away counts as old: a duplicate, acknowledged and not delivered.
    let old = a.send.next_tsn.wrapping_add(0x8000_0000);
    let p = packet(tag, |c| wire::emit_data(c, 3, old, 0, 0, 51, b"old"));
    assert_eq!(b.handle_receive(now, &p), Ok(()));
    assert_eq!(b.stats().duplicates, 1);
    while let Some(e) = b.poll_event() {
        assert!(!matches!(e, Event::Message(_)));
    }
}

#[test]
fn absurd_gap_blocks_and_acks_of_unsent_tsns() {
    let (mut a, mut b, now) = established();
    let tag_a = tag_to_b(&mut b, &mut a, now); // The tag a expects.
    // Reversed, overlapping and huge gap blocks for a cumulative TSN a really sent are ignored safely.
    a.send(now, 0, 51, Bytes::from(vec![1u8; 3000]), SendOptions::default()).unwrap();
    let sent: Vec<Vec<u8>> = core::iter::from_fn(|| a.poll_transmit().map(<[u8]>::to_vec)).collect();
    let first_tsn = sent
        .iter()
        .flat_map(|p| {
            let p = Packet::new_checked(&p[..]).unwrap();
            p.chunks()
                .filter_map(|c| match wire::Chunk::parse(c.unwrap()) {
                    Ok(wire::Chunk::Data(d)) => Some(d.tsn),
                    _ => None,
                })
                .collect::<Vec<_>>()
        })
        .min()
        .unwrap();
    let cum = first_tsn.wrapping_sub(1);
    let p = packet(tag_a, |c| wire::emit_sack(c, cum, 1000, &[(5, 2), (1, 1), (1, 1), (60000, 65535)], &[1; 4]));
    assert_eq!(a.handle_receive(now, &p), Ok(()));
    assert!(a.is_established());
    // A cumulative ack beyond anything sent is a protocol violation: ABORT with a typed reason.
    let p = packet(tag_a, |c| wire::emit_sack(c, cum.wrapping_add(1_000), 1000, &[], &[]));
    assert_eq!(a.handle_receive(now, &p), Err(Error::InvalidAck));
    assert!(a.is_closed());
    let mut closed = None;
    while let Some(e) = a.poll_event() {
        if let Event::Closed(r) = e {
            closed = Some(r);
        }
    }
    assert_eq!(closed, Some(CloseReason::ProtocolViolation(Error::InvalidAck)));
    let abort = a.poll_transmit().unwrap().to_vec();
    let kind = Packet::new_checked(&abort[..]).unwrap().chunks().next().unwrap().unwrap().kind;
    assert_eq!(kind, ChunkType::ABORT);
}

#[test]
fn forged_and_expired_cookies_are_refused() {
    let now = Instant::from_secs(10);
    let (mut a, mut b) = (new(1), new(2));
    a.connect(now);
    // INIT to b, INIT-ACK back to a, then hold a's COOKIE-ECHO.
    let init = a.poll_transmit().unwrap().to_vec();
    b.handle_receive(now, &init).unwrap();
    let init_ack = b.poll_transmit().unwrap().to_vec();
    a.handle_receive(now, &init_ack).unwrap();
    let echo = a.poll_transmit().unwrap().to_vec();
    // Forged: flip a byte of the cookie (its HMAC no longer verifies).
    let mut forged = echo.clone();
    forged[20] ^= 1;
    wire::finish_packet(&mut forged, false);
    assert_eq!(b.handle_receive(now, &forged), Err(Error::BadCookie));
    // Garbage cookie of the wrong size.
    let tag = Packet::new_checked(&echo[..]).unwrap().verification_tag();
    let junk = packet(tag, |c| wire::emit_chunk(c, ChunkType::COOKIE_ECHO, 0, &[9; 13]));
    assert_eq!(b.handle_receive(now, &junk), Err(Error::BadCookie));
    // Expired: the genuine cookie, two minutes later (lifetime 60 s).
    assert_eq!(b.handle_receive(now + Duration::from_secs(120), &echo), Err(Error::StaleCookie));
    assert!(!b.is_established());
    // And a fresh association accepts the genuine cookie in time.
    let mut b2 = new(2);
    let init_ack2 = {
        b2.handle_receive(now, &init).unwrap();
        b2.poll_transmit().unwrap().to_vec()
    };
    assert_eq!(init_ack2, init_ack, "stateless and deterministic for the same seed");
    assert_eq!(b2.handle_receive(now, &echo), Ok(()));
    assert!(b2.is_established());
}

#[test]
fn bad_init_is_refused() {
    let now = Instant::from_secs(1);
    let mut b = new(2);
    let fields = wire::InitFields {
        initiate_tag: 0,
        a_rwnd: 1000,
        outbound_streams: 1,
        max_inbound_streams: 1,
        initial_tsn: 1,
        forward_tsn: false,
        reconfig: false,
        zero_checksum: false,
        cookie: None,
        cookie_preservative: None,
        unrecognized: &[],
    };
    let p = packet(0, |c| wire::emit_init(c, ChunkType::INIT, &fields));
    assert_eq!(b.handle_receive(now, &p), Err(Error::BadInit));
    let ok = wire::InitFields { initiate_tag: 5, ..fields };
    let p = packet(0, |c| {
        wire::emit_init(c, ChunkType::INIT, &ok);
        wire::emit_chunk(c, ChunkType::COOKIE_ACK, 0, &[]);
    });
    assert_eq!(b.handle_receive(now, &p), Err(Error::BadInit), "INIT must be alone");
    let p = packet(7, |c| wire::emit_init(c, ChunkType::INIT, &ok));
    assert_eq!(b.handle_receive(now, &p), Err(Error::BadVerificationTag), "INIT travels with tag 0");
    assert!(b.poll_transmit().is_none());
}

#[test]
fn stream_ids_out_of_range_get_an_error_chunk() {
    let now = Instant::from_secs(10);
    let config = Config { max_inbound_streams: 4, ..Config::default() };
    let mut a = new(1);
    let mut b = Association::new(config, SeededRng::from_seed([2; 32]));
    a.connect(now);
    exchange(&mut a, &mut b, now);
    assert_eq!((a.outbound_streams(), b.inbound_streams()), (4, 4));
    assert_eq!(a.send(now, 4, 51, Bytes::from_static(b"x"), SendOptions::default()), Err(SendError::InvalidStream));
    let tag = tag_to_b(&mut a, &mut b, now);
    let next_tsn = a.send.next_tsn;
    let p = packet(tag, |c| wire::emit_data(c, DataFlags::BEGIN | DataFlags::END, next_tsn, 9, 0, 51, b"?"));
    assert_eq!(b.handle_receive(now, &p), Err(Error::InvalidStream));
    while let Some(e) = b.poll_event() {
        assert!(!matches!(e, Event::Message(_)), "nothing delivered for stream 9");
    }
    let mut saw_error = false;
    while let Some(p) = b.poll_transmit() {
        let p = Packet::new_checked(p).unwrap();
        saw_error |= p.chunks().any(|c| c.unwrap().kind == ChunkType::ERROR);
    }
    assert!(saw_error);
}

#[test]
fn data_without_payload_aborts() {
    let (mut a, mut b, now) = established();
    let tag = tag_to_b(&mut a, &mut b, now);
    let tsn = a.send.next_tsn;
    let p = packet(tag, |c| wire::emit_data(c, 3, tsn, 0, 1, 51, &[]));
    assert_eq!(b.handle_receive(now, &p), Err(Error::NoUserData));
    assert!(b.is_closed());
}

#[test]
fn unknown_chunks_follow_the_upper_bits() {
    let (mut a, mut b, now) = established();
    let tag = tag_to_b(&mut a, &mut b, now);
    // 0x3f: stop, no report. 0x7f: stop, report. 0xbf: skip. 0xff: skip and report.
    let p = packet(tag, |c| wire::emit_chunk(c, ChunkType(0x3f), 0, b"a"));
    assert_eq!(b.handle_receive(now, &p), Err(Error::UnknownChunk));
    let tsn = a.send.next_tsn;
    let p = packet(tag, |c| {
        wire::emit_chunk(c, ChunkType(0xff), 0, b"b");
        wire::emit_data(c, 3, tsn, 0, 1, 51, b"after");
    });
    assert_eq!(b.handle_receive(now, &p), Ok(()));
    let mut got = false;
    while let Some(e) = b.poll_event() {
        got |= matches!(e, Event::Message(m) if m.data == "after");
    }
    assert!(got, "a skipped chunk does not stop the packet");
    let mut reported = false;
    while let Some(p) = b.poll_transmit() {
        reported |= Packet::new_checked(p).unwrap().chunks().any(|c| c.unwrap().kind == ChunkType::ERROR);
    }
    assert!(reported);
}

#[test]
fn random_chunks_with_valid_tags_never_panic() {
    let (mut a, mut b, now) = established();
    let tag = tag_to_b(&mut a, &mut b, now);
    drop(a);
    let mut rng = SeededRng::from_seed([77; 32]);
    for i in 0..5_000 {
        let len = rng.below(64) as usize;
        let mut body = vec![0u8; len];
        rng.fill(&mut body);
        let kind = [0u8, 3, 4, 5, 6, 7, 8, 9, 10, 11, 14, 130, 192, rng.u32() as u8][rng.below(14) as usize];
        let p = packet(tag, |c| {
            wire::emit_chunk_header(c, ChunkType(kind), rng.u32() as u8, len);
            c.extend_from_slice(&body);
        });
        let _ = b.handle_receive(now + Duration::from_millis(i), &p);
        b.handle_timeout(now + Duration::from_millis(i));
        while b.poll_transmit().is_some() {}
        while b.poll_event().is_some() {}
        if b.is_closed() {
            let (_, nb, _) = established();
            b = nb;
        }
    }
}

#[test]
fn reassembly_memory_is_bounded_by_the_receive_window() {
    let now = Instant::from_secs(10);
    let config = Config { receive_window: 300_000, ..Config::default() };
    let (mut a, mut b) = (new(1), Association::new(config, SeededRng::from_seed([2; 32])));
    a.connect(now);
    exchange(&mut a, &mut b, now);
    let tag = tag_to_b(&mut a, &mut b, now);
    let next = a.send.next_tsn;
    // A peer ignoring our window: 400 KB of chunks past a hole (TSN `next` never arrives).
    let mut full = 0;
    for i in 1..=400u32 {
        let p = packet(tag, |c| wire::emit_data(c, 3, next.wrapping_add(i), 0, 0, 51, &[0; 1000]));
        if b.handle_receive(now, &p) == Err(Error::ReceiveBufferFull) {
            full += 1;
        }
    }
    assert!(b.recv.held <= 300_000, "{}", b.recv.held);
    assert!(full >= 100, "{full}");
    assert_eq!(b.stats().data_dropped, full);
}

/// Unrecognised INIT parameters are reported in the INIT-ACK per their upper two bits (RFC 9260 §3.2.1), and
/// an INIT-ACK's in an ERROR bundled with the COOKIE-ECHO.
#[test]
fn unrecognized_init_parameters_are_reported_per_their_upper_bits() {
    let now = Instant::ZERO;
    // 0xC001: skip and report; 0x8002: skip silently; 0x4003: stop and report; 0x0004 after it: unseen.
    let mut extra = Vec::new();
    for (kind, value) in [(0xC001u16, &[1u8, 2, 3][..]), (0x8002, &[4; 4]), (0x4003, &[5; 4]), (0x0004, &[6; 4])] {
        wire::emit_param(&mut extra, kind, value);
    }
    let fields = wire::InitFields {
        initiate_tag: 7,
        a_rwnd: 100_000,
        outbound_streams: 4,
        max_inbound_streams: 4,
        initial_tsn: 1,
        forward_tsn: true,
        reconfig: true,
        zero_checksum: false,
        cookie: None,
        cookie_preservative: None,
        unrecognized: &extra,
    };
    let init = packet(0, |c| wire::emit_init(c, ChunkType::INIT, &fields));
    let mut b = new(2);
    b.handle_receive(now, &init).unwrap();
    let init_ack = b.poll_transmit().unwrap().to_vec();
    let pkt = Packet::new_checked(&init_ack[..]).unwrap();
    let raw = pkt.chunks().next().unwrap().unwrap();
    let wire::Chunk::InitAck(ack) = wire::Chunk::parse(raw).unwrap() else { panic!("not an INIT-ACK") };
    let reported: Vec<u16> = ack
        .params()
        .flatten()
        .filter(|p| p.kind == wire::ParamType::UNRECOGNIZED)
        .map(|p| wire::Params::new(p.value).next().unwrap().unwrap().kind.0)
        .collect();
    assert_eq!(reported, vec![0xC001, 0x4003]);
    // An INIT-ACK with an unrecognised reportable parameter: the COOKIE-ECHO packet carries an ERROR.
    let mut a = new(1);
    a.connect(now);
    let init = a.poll_transmit().unwrap().to_vec();
    let my_tag = {
        let pkt = Packet::new_checked(&init[..]).unwrap();
        let raw = pkt.chunks().next().unwrap().unwrap();
        let wire::Chunk::Init(i) = wire::Chunk::parse(raw).unwrap() else { panic!("not an INIT") };
        i.initiate_tag
    };
    let mut unknown = Vec::new();
    wire::emit_param(&mut unknown, 0xC00A, &[9; 8]);
    let cookie = [0u8; 8];
    let ack_fields = wire::InitFields { initiate_tag: 9, cookie: Some(&cookie), unrecognized: &unknown, ..fields };
    let ack = packet(my_tag, |c| wire::emit_init(c, ChunkType::INIT_ACK, &ack_fields));
    a.handle_receive(now, &ack).unwrap();
    let echo = a.poll_transmit().unwrap().to_vec();
    let pkt = Packet::new_checked(&echo[..]).unwrap();
    let kinds: Vec<ChunkType> = pkt.chunks().flatten().map(|c| c.kind).collect();
    assert_eq!(kinds, vec![ChunkType::COOKIE_ECHO, ChunkType::ERROR]);
    let err = pkt.chunks().flatten().nth(1).unwrap();
    let wire::Chunk::Error(causes) = wire::Chunk::parse(err).unwrap() else { panic!("not an ERROR") };
    let cause = causes.flatten().next().unwrap();
    assert_eq!(cause.code, wire::CauseCode::UNRECOGNIZED_PARAMETERS);
    assert_eq!(cause.info, &unknown[..]);
}

#[test]
fn cookie_received_while_shutting_down_is_answered_with_an_error() {
    // RFC 9260 §5.2.4 action A: a restarted peer's COOKIE-ECHO reaching an endpoint in SHUTDOWN-ACK-SENT
    // must not set up a new association; the endpoint resends SHUTDOWN-ACK with an ERROR "Cookie Received
    // While Shutting Down" (cause 10).
    let (mut a, mut b, now) = established();
    // The peer restarts: its new INIT reaches a while a is still established, and a's INIT-ACK (with tie
    // tags) makes it answer with a COOKIE-ECHO, held back for now.
    let mut restarted = new(3);
    restarted.connect(now);
    let init = restarted.poll_transmit().unwrap().to_vec();
    a.handle_receive(now, &init).unwrap();
    let init_ack = a.poll_transmit().unwrap().to_vec();
    restarted.handle_receive(now, &init_ack).unwrap();
    let cookie_echo = restarted.poll_transmit().unwrap().to_vec();
    // Meanwhile the old association shuts down; a's SHUTDOWN-ACK is lost.
    b.shutdown(now);
    let shutdown = b.poll_transmit().unwrap().to_vec();
    a.handle_receive(now, &shutdown).unwrap();
    while a.poll_transmit().is_some() {}
    assert_eq!(a.state(), State::ShutdownAckSent);
    // The COOKIE-ECHO arrives.
    let _ = a.handle_receive(now, &cookie_echo);
    assert_eq!(a.state(), State::ShutdownAckSent, "no new association");
    let reply = a.poll_transmit().expect("a reply").to_vec();
    let packet = Packet::new_checked(&reply[..]).unwrap();
    let chunks: Vec<(ChunkType, Vec<u8>)> =
        packet.chunks().map(|c| c.unwrap()).map(|c| (c.kind, c.value.to_vec())).collect();
    assert!(chunks.iter().any(|(t, _)| *t == ChunkType::SHUTDOWN_ACK), "{chunks:?}");
    let error = chunks.iter().find(|(t, _)| *t == ChunkType::ERROR).expect("an ERROR chunk");
    assert_eq!(error.1[..4], [0, 10, 0, 4], "cause 10, no information");
    assert!(a.poll_event().is_none_or(|e| !matches!(e, Event::Connected | Event::Restarted)));
}

#[test]
fn taking_messages_reopens_the_window_at_once() {
    // Messages the application has not taken close the receive window; taking them sends a SACK with the
    // reopened window right away (RFC 9260 §6.2), not at the next timer.
    let config = Config { receive_window: 64 * 1024, max_message_size: 16 * 1024, ..Config::default() };
    let now = Instant::from_secs(10);
    let mut a = new(1);
    let mut b = Association::new(config, SeededRng::from_seed([2; 32]));
    a.connect(now);
    exchange(&mut a, &mut b, now);
    while a.poll_event().is_some() {}
    while b.poll_event().is_some() {}
    for n in 0..64u8 {
        a.send(now, 1, 53, Bytes::from(vec![n; 4096]), SendOptions::default()).unwrap();
    }
    exchange(&mut a, &mut b, now);
    let stuck = a.buffered_total();
    assert!(stuck > 128 * 1024, "the window did not close: {stuck} bytes left");
    // Nothing is owed once drained.
    assert!(b.poll_timeout().is_none_or(|t| t > now));
    // Take the messages waiting at b: the window update they make owed is announced at once, and sent.
    let mut taken = 0;
    while let Some(e) = b.poll_event() {
        if let Event::Message(m) = e {
            assert_eq!(m.data[..], [taken; 4096][..]);
            taken += 1;
        }
    }
    assert!(taken > 0);
    assert_eq!(b.poll_timeout(), Some(now), "the window update is not announced");
    let update = b.poll_transmit().expect("a window update").to_vec();
    let rwnd = Packet::new_checked(&update[..]).unwrap().chunks().flatten().find_map(|c| match wire::Chunk::parse(c) {
        Ok(wire::Chunk::Sack(s)) => Some(s.a_rwnd),
        _ => None,
    });
    assert!(rwnd.is_some_and(|w| w >= 16 * 1024), "{rwnd:?}");
    assert!(b.poll_transmit().is_none());
    assert!(b.poll_timeout().is_none_or(|t| t > now), "the caller would spin");
    a.handle_receive(now, &update).unwrap();
    exchange(&mut a, &mut b, now);
    assert!(a.buffered_total() < stuck, "no window update: {} bytes still buffered", a.buffered_total());
}

#[test]
fn stale_cookie_error_without_its_staleness_is_ignored() {
    // RFC 9260 §3.3.10.3: a Stale Cookie cause carries a 4-byte measure of staleness. Without it the cause
    // is malformed and ignored (the T1-cookie timer still runs); with it, the INIT is sent again.
    let now = Instant::from_secs(10);
    let (mut a, mut b) = (new(1), new(2));
    a.connect(now);
    let init = a.poll_transmit().unwrap().to_vec();
    b.handle_receive(now, &init).unwrap();
    let init_ack = b.poll_transmit().unwrap().to_vec();
    a.handle_receive(now, &init_ack).unwrap();
    let echo = a.poll_transmit().unwrap().to_vec();
    let first_chunk = |p: &[u8]| Packet::new_checked(p).unwrap().chunks().next().unwrap().unwrap().kind;
    assert_eq!(first_chunk(&echo), ChunkType::COOKIE_ECHO);
    let tag_of_a = Packet::new_checked(&init_ack[..]).unwrap().verification_tag();
    let stale = |info: &[u8]| {
        let mut cause = Vec::new();
        wire::emit_param(&mut cause, wire::CauseCode::STALE_COOKIE.0, info);
        packet(tag_of_a, |c| wire::emit_chunk(c, ChunkType::ERROR, 0, &cause))
    };
    for short in [&[][..], &[0, 0, 3]] {
        assert_eq!(a.handle_receive(now, &stale(short)), Ok(()));
        assert!(a.poll_transmit().is_none(), "no new INIT for a cause of {} bytes", short.len());
    }
    assert_eq!(a.handle_receive(now, &stale(&500u32.to_be_bytes())), Ok(()));
    let again = a.poll_transmit().expect("an INIT after a well-formed Stale Cookie cause").to_vec();
    assert_eq!(first_chunk(&again), ChunkType::INIT);
}

/// The cumulative TSN and gap blocks of the SACK in `packet`, if it carries one.
fn sack_in(packet: &[u8]) -> Option<(u32, Vec<(u16, u16)>)> {
    let p = Packet::new_checked(packet).ok()?;
    p.chunks().flatten().find_map(|c| match wire::Chunk::parse(c) {
        Ok(wire::Chunk::Sack(s)) => Some((s.cumulative_tsn, s.gap_blocks().collect())),
        _ => None,
    })
}

#[test]
fn a_chunk_at_the_far_end_of_the_window_does_not_make_every_sack_walk_the_window() {
    let (mut a, mut b, now) = established();
    let tag = tag_to_b(&mut a, &mut b, now);
    let cum = a.send.next_tsn.wrapping_sub(1);
    // One DATA chunk as far ahead as the window allows (gap-block offsets are 16-bit).
    let far = cum.wrapping_add(65_535);
    let unordered = 7; // U, B, E: delivered at once, whatever the order.
    b.handle_receive(now, &packet(tag, |c| wire::emit_data(c, unordered, far, 1, 0, 51, b"f"))).unwrap();
    let p = b.poll_transmit().expect("a SACK at once: there is a gap").to_vec();
    assert_eq!(sack_in(&p), Some((cum, vec![(65_535, 65_535)])));
    while b.poll_event().is_some() {}
    // Then every TSN up to it, in order: each packet is acknowledged at once (there is a gap), and each SACK
    // must still carry the far chunk, at a shrinking offset, without reading the whole window bit by bit.
    let mut words = 0u64;
    let mut most = 0u64;
    for k in 1..65_534u32 {
        let tsn = cum.wrapping_add(k);
        b.handle_receive(now, &packet(tag, |c| wire::emit_data(c, unordered, tsn, 1, 0, 51, b"x"))).unwrap();
        b.recv.words_scanned.set(0);
        let p = b.poll_transmit().unwrap_or_else(|| panic!("no SACK after cum + {k}")).to_vec();
        let scanned = b.recv.words_scanned.get();
        assert!(b.poll_transmit().is_none());
        let offset = (65_535 - k) as u16;
        assert_eq!(sack_in(&p), Some((tsn, vec![(offset, offset)])), "after TSN cum + {k}");
        words += scanned;
        most = most.max(scanned);
        while b.poll_event().is_some() {}
    }
    // The last hole fills: no gap is left, so the SACK waits for the delayed-ack timer, and covers it all.
    let last = far.wrapping_sub(1);
    b.handle_receive(now, &packet(tag, |c| wire::emit_data(c, unordered, last, 1, 0, 51, b"y"))).unwrap();
    assert!(b.poll_transmit().is_none());
    let at = b.poll_timeout().expect("the delayed-ack timer");
    b.handle_timeout(at);
    let p = b.poll_transmit().expect("the delayed SACK").to_vec();
    assert_eq!(sack_in(&p), Some((far, vec![])));
    // A word-level scan reads at most 1,024 words of the ring (plus two per block) per SACK, where a walk bit
    // by bit read up to 65,535 bits; over the run it averages half the window's words.
    assert!(most <= 1_024 + 4, "{most} words scanned for one SACK");
    assert!(words <= 65_533 * 520, "{words} words scanned in all");
}

#[test]
fn sack_gap_blocks_match_the_tsns_received() {
    // TSNs arriving in a seeded random order across ring words, ring growth and wrap-around; every SACK must
    // list exactly the runs received above the cumulative TSN, the lowest first.
    let (mut a, mut b, now) = established();
    let tag = tag_to_b(&mut a, &mut b, now);
    let base = a.send.next_tsn.wrapping_sub(1);
    let mut rng = SeededRng::from_seed([9; 32]);
    let mut received = alloc::collections::BTreeSet::new();
    let mut cum = 0u32; // Offset of the cumulative TSN from `base`.
    let (mut sacks, mut most_blocks) = (0, 0);
    for _ in 0..3_000 {
        // The lowest missing TSN a third of the time, else one ahead: mostly near, sometimes far.
        let offset = match rng.below(30) {
            0..=9 => cum + 1,
            10..=26 => cum + 2 + rng.below(3_000) as u32,
            _ => cum + 2 + rng.below(65_000) as u32,
        };
        let tsn = base.wrapping_add(offset);
        let _ = b.handle_receive(now, &packet(tag, |c| wire::emit_data(c, 7, tsn, 1, 0, 51, b"z")));
        while b.poll_event().is_some() {}
        received.insert(offset);
        while received.contains(&(cum + 1)) {
            cum += 1;
            received.remove(&cum);
        }
        let mut runs: Vec<(u32, u32)> = Vec::new();
        for &t in &received {
            match runs.last_mut() {
                Some((_, end)) if *end + 1 == t - cum => *end += 1,
                _ => runs.push((t - cum, t - cum)),
            }
        }
        while let Some(p) = b.poll_transmit() {
            let Some((c, gaps)) = sack_in(p) else { continue };
            assert_eq!(c, base.wrapping_add(cum));
            // All the runs, or as many as fit in the packet (over 250 at the default MTU), lowest first.
            assert!(gaps.len() == runs.len() || gaps.len() >= 250, "{} of {} runs", gaps.len(), runs.len());
            let expected: Vec<(u16, u16)> = runs.iter().take(gaps.len()).map(|&(s, e)| (s as u16, e as u16)).collect();
            assert_eq!(gaps, expected);
            sacks += 1;
            most_blocks = most_blocks.max(gaps.len());
        }
    }
    // Every packet had a gap to report, and some SACKs were full.
    assert_eq!(sacks, 3_000);
    assert!(most_blocks >= 250, "at most {most_blocks} blocks");
    assert!(cum > 1_000, "the cumulative TSN moved: {cum}");
}

#[test]
fn calls_that_queue_output_are_announced_by_poll_timeout() {
    let (mut a, mut b, now) = established();
    let later = now + Duration::from_millis(5);
    exchange(&mut a, &mut b, now);
    assert!(a.poll_timeout().is_none_or(|t| t > now));
    // Sending: the DATA is owed at once, at the `now` given.
    a.send(later, 2, 53, Bytes::from_static(b"x"), SendOptions::default()).unwrap();
    assert_eq!(a.poll_timeout(), Some(later));
    assert!(a.poll_transmit().is_some());
    assert!(a.poll_transmit().is_none());
    assert!(a.poll_timeout().is_none_or(|t| t > later));
    // A stream reset and a shutdown too.
    a.reset_streams(later, &[2]).unwrap();
    assert_eq!(a.poll_timeout(), Some(later));
    while a.poll_transmit().is_some() {}
    a.shutdown(later);
    assert_eq!(a.poll_timeout(), Some(later));
    // Taking events other than messages owes nothing.
    while a.poll_event().is_some() {}
    while a.poll_transmit().is_some() {}
    while a.poll_event().is_some() {}
    assert!(a.poll_timeout().is_none_or(|t| t > later));
}

#[test]
fn retransmissions_filling_a_hole_are_taken_beyond_the_window() {
    // A loss while the window is full: everything past the hole fills the window, and a message is half
    // assembled across the hole. The retransmissions that fill the hole overshoot the window, and must be
    // taken all the same: what is held leaves only once the hole closes (refusing them stalls for good).
    let now = Instant::from_secs(10);
    let config = Config { receive_window: 100_000, max_message_size: 20_000, ..Config::default() };
    let (mut a, mut b) = (new(1), Association::new(config, SeededRng::from_seed([2; 32])));
    a.connect(now);
    exchange(&mut a, &mut b, now);
    let tag = tag_to_b(&mut a, &mut b, now);
    let first = a.send.next_tsn;
    // Messages of ten 1,000-byte fragments on stream 3, fragment k of the whole run holding byte k.
    let data = |k: u32| {
        let (flags, ssn) = (if k % 10 == 0 { 2 } else { 0 } | if k % 10 == 9 { 1 } else { 0 }, (k / 10) as u16);
        packet(tag, |c| wire::emit_data(c, flags, first.wrapping_add(k), 3, ssn, 53, &[k as u8; 1000]))
    };
    // Fragments 15..25 are lost: message 0 arrives, message 1 stops half way.
    for k in 0..15 {
        assert_eq!(b.handle_receive(now, &data(k)), Ok(()));
    }
    let mut messages = Vec::new();
    while let Some(e) = b.poll_event() {
        if let Event::Message(m) = e {
            messages.push(m.data);
        }
    }
    assert_eq!(messages.len(), 1);
    // The sender goes on past the hole until the window is full.
    let mut k = 25;
    while b.handle_receive(now, &data(k)) == Ok(()) {
        k += 1;
    }
    assert!(b.recv.held <= 100_000 && b.recv.held > 95_000, "{}", b.recv.held);
    // Every retransmission filling the hole is taken, although the window is overshot.
    for r in 15..25 {
        assert_eq!(b.handle_receive(now, &data(r)), Ok(()), "fragment {r} refused, held {}", b.recv.held);
    }
    assert!(b.recv.held <= 200_000, "{}", b.recv.held);
    while let Some(e) = b.poll_event() {
        if let Event::Message(m) = e {
            messages.push(m.data);
        }
    }
    // Every complete message came out, in order and intact, and the window is open again.
    assert_eq!(messages.len() as u32, k / 10);
    for (n, m) in messages.iter().enumerate() {
        let expected: Vec<u8> = (0..10).flat_map(|f| [(n * 10 + f) as u8; 1000]).collect();
        assert_eq!(m[..], expected[..], "message {n}");
    }
    assert!(b.recv.held < 10_000, "{}", b.recv.held);
}

#[test]
fn an_rto_max_below_rto_min_is_raised_to_it() {
    // `clamp(min, max)` with min > max panics: an RTT sample must not reach it.
    let config = Config { rto_min: Duration::from_secs(5), rto_max: Duration::from_secs(1), ..Config::default() };
    let mut a = Association::new(config, SeededRng::from_seed([1; 32]));
    let mut b = Association::new(config, SeededRng::from_seed([2; 32]));
    let now = Instant::from_secs(10);
    a.connect(now);
    exchange(&mut a, &mut b, now + Duration::from_millis(40));
    assert!(a.is_established() && b.is_established());
    a.send(now, 0, 51, Bytes::from_static(b"rtt"), SendOptions::default()).unwrap();
    exchange(&mut a, &mut b, now + Duration::from_millis(90));
    let later = now + Duration::from_secs(30);
    a.send(later, 0, 51, Bytes::from_static(b"more"), SendOptions::default()).unwrap();
    exchange(&mut a, &mut b, later + Duration::from_millis(30));
    let mut got = 0;
    while let Some(e) = b.poll_event() {
        got += usize::from(matches!(e, Event::Message { .. }));
    }
    assert_eq!(got, 2, "both messages arrive");
}
