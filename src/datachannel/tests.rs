use alloc::vec::Vec;

use super::wire::{Dcep, MSG_ACK, MSG_OPEN, channel_type};
use super::*;

#[test]
fn dcep_open_round_trip_matches_rfc_layout() {
    let open = Dcep::Open {
        channel_type: channel_type::REXMIT_UNORDERED,
        priority: 512,
        reliability: 3,
        label: "chat",
        protocol: "x",
    };
    let mut buf = Vec::new();
    open.emit(&mut buf).unwrap();
    // RFC 8832 §5.1: type, channel type, priority, reliability, label length, protocol length, label, protocol.
    assert_eq!(buf, [MSG_OPEN, 0x81, 2, 0, 0, 0, 0, 3, 0, 4, 0, 1, b'c', b'h', b'a', b't', b'x']);
    assert_eq!(Dcep::parse(&buf), Ok(open));
    let mut ack = Vec::new();
    Dcep::Ack.emit(&mut ack).unwrap();
    assert_eq!(ack, [MSG_ACK]);
    assert_eq!(Dcep::parse(&ack), Ok(Dcep::Ack));
}

#[test]
fn dcep_bad_lengths_are_errors() {
    for bad in [&[][..], &[MSG_OPEN][..], &[MSG_OPEN, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0][..], &[9][..]] {
        assert_eq!(Dcep::parse(bad), Err(Error::BadDcep));
    }
    // Protocol length past the end.
    assert_eq!(Dcep::parse(&[MSG_OPEN, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2, b'a', b'b']), Err(Error::BadDcep));
}

#[test]
fn channel_types_map_to_reliability() {
    let mut o = ChannelOptions::new("a");
    o.ordered = false;
    o.reliability = Reliability::MaxLifetime(Duration::from_millis(250));
    assert_eq!(channel_type_of(&o), (channel_type::TIMED_UNORDERED, 250));
    assert_eq!(reliability_of(channel_type::TIMED_UNORDERED, 250), o.reliability);
    assert_eq!(reliability_of(channel_type::REXMIT, 2), Reliability::MaxRetransmits(2));
    assert_eq!(reliability_of(channel_type::RELIABLE_UNORDERED, 9), Reliability::Reliable);
}

// ----- what polling events owes the peer -----

use crate::sctp::wire::{Chunk, ChunkType, Packet};
use crate::sctp::{Association, Config};
use crate::{DatagramMachine, Instant, Machine, SeededRng};

fn side(seed: u8, role: Role) -> DataChannels {
    DataChannels::new(Association::new(Config::default(), SeededRng::from_seed([seed; 32])), role)
}

/// Moves packets both ways at `now` until quiet (events are left alone).
fn exchange(a: &mut DataChannels, b: &mut DataChannels, now: Instant) {
    for _ in 0..16 {
        let mut moved = false;
        while let Some(p) = a.poll_transmit() {
            let p = p.to_vec();
            let _ = b.handle_receive(now, &p);
            moved = true;
        }
        while let Some(p) = b.poll_transmit() {
            let p = p.to_vec();
            let _ = a.handle_receive(now, &p);
            moved = true;
        }
        if !moved {
            return;
        }
    }
}

/// The chunk types in `packet`, with the PPID and payload of DATA chunks.
fn chunks(packet: &[u8]) -> Vec<(ChunkType, u32, Vec<u8>)> {
    let p = Packet::new_checked(packet).unwrap();
    p.chunks()
        .map(|c| c.unwrap())
        .map(|raw| match Chunk::parse(raw) {
            Ok(Chunk::Data(d)) => (raw.kind, d.ppid, d.payload.to_vec()),
            _ => (raw.kind, 0, Vec::new()),
        })
        .collect()
}

fn drain(dc: &mut DataChannels) -> Vec<Vec<u8>> {
    core::iter::from_fn(|| dc.poll_transmit().map(<[u8]>::to_vec)).collect()
}

#[test]
fn answers_made_while_polling_events_are_announced_by_poll_timeout() {
    let t0 = Instant::from_secs(10);
    let (mut client, mut server) = (side(1, Role::Client), side(2, Role::Server));
    client.connect(t0);
    server.connect(t0);
    exchange(&mut client, &mut server, t0);
    while client.poll_event().is_some() {}
    while server.poll_event().is_some() {}
    exchange(&mut client, &mut server, t0);

    // The client opens a channel; its DATA_CHANNEL_OPEN reaches the server later.
    let t1 = t0 + Duration::from_secs(1);
    let id = client.open(t1, ChannelOptions::new("x")).unwrap();
    let open = drain(&mut client);
    let t2 = t1 + Duration::from_millis(20);
    for p in &open {
        server.handle_receive(t2, p).unwrap();
    }
    // One packet: the SACK waits for the delayed-ack timer; nothing else is owed yet.
    assert!(drain(&mut server).is_empty());
    let delayed = server.poll_timeout().expect("the delayed-ack timer");
    assert!(delayed > t2);
    // Taking the event acknowledges the OPEN: owed now, and announced (at the latest `now`, not a made-up one).
    assert!(matches!(server.poll_event(), Some(Event::ChannelOpened { id: i, .. }) if i == id));
    assert_eq!(server.poll_timeout(), Some(t2));
    let sent = drain(&mut server);
    let ack = chunks(&sent[0]);
    assert!(ack.contains(&(ChunkType::DATA, wire::PPID_DCEP, alloc::vec![MSG_ACK])), "{ack:?}");
    // Drained: no longer due now (the caller does not spin).
    assert!(server.poll_timeout().is_none_or(|t| t > t2));
    for p in &sent {
        client.handle_receive(t2 + Duration::from_millis(20), p).unwrap();
    }
    while client.poll_event().is_some() {}
    assert_eq!(client.channel(id).map(|c| c.state), Some(ChannelState::Open));
    exchange(&mut client, &mut server, t2 + Duration::from_millis(20));

    // The client closes it: the server answers the reset of the client's stream with its own (RFC 8831 §6.7)
    // when it takes the association's event, even though that poll returns no event of its own.
    let t3 = t2 + Duration::from_secs(1);
    client.handle_timeout(t3);
    server.handle_timeout(t3);
    exchange(&mut client, &mut server, t3);
    client.close(t3, id).unwrap();
    let reset = drain(&mut client);
    let t4 = t3 + Duration::from_millis(20);
    for p in &reset {
        server.handle_receive(t4, p).unwrap();
    }
    for p in drain(&mut server) {
        client.handle_receive(t4, &p).unwrap();
    }
    assert!(server.poll_timeout().is_none_or(|t| t > t4));
    assert_eq!(server.poll_event(), None);
    assert_eq!(server.poll_timeout(), Some(t4));
    let sent = drain(&mut server);
    assert!(sent.iter().flat_map(|p| chunks(p)).any(|(kind, ..)| kind == ChunkType::RECONFIG), "no reset sent");
    for p in &sent {
        client.handle_receive(t4 + Duration::from_millis(20), p).unwrap();
    }
    exchange(&mut client, &mut server, t4 + Duration::from_millis(20));
    let closed = |dc: &mut DataChannels| core::iter::from_fn(|| dc.poll_event()).any(|e| e == Event::ChannelClosed(id));
    assert!(closed(&mut client) && closed(&mut server));
}

#[test]
fn channels_announced_on_connection_are_announced_by_poll_timeout() {
    let t0 = Instant::from_secs(10);
    let (mut client, mut server) = (side(3, Role::Client), side(4, Role::Server));
    let id = client.open(t0, ChannelOptions::new("early")).unwrap();
    client.connect(t0);
    // The handshake completes at t1; the client's Connected event is where its waiting channel is announced.
    let t1 = t0 + Duration::from_millis(100);
    exchange(&mut client, &mut server, t1);
    assert!(client.poll_timeout().is_none_or(|t| t > t1));
    let events: Vec<Event> = core::iter::from_fn(|| client.poll_event()).collect();
    assert!(events.contains(&Event::Connected) && events.contains(&Event::ChannelOpen(id)), "{events:?}");
    assert_eq!(client.poll_timeout(), Some(t1));
    let sent = drain(&mut client);
    let open = sent
        .iter()
        .flat_map(|p| chunks(p))
        .find(|(kind, ppid, _)| *kind == ChunkType::DATA && *ppid == wire::PPID_DCEP);
    assert_eq!(open.map(|(_, _, body)| body[0]), Some(MSG_OPEN));
}
