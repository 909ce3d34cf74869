//! Unit tests: ChannelData and stream framing, the client against the test server (direct delivery and,
//! with the `sim` feature, over the simulator), and bad server input.

use alloc::vec;
use alloc::vec::Vec;
use core::net::{IpAddr, SocketAddr};
use core::time::Duration;

use super::test_server::TestServer;
use super::*;
use crate::machine::{Datagram, Machine, PathMachine};
use crate::rand::SeededRng;
use crate::stun::{Attribute, AttributeType, Class, ErrorCode, Key, Message, MessageBuilder, TransactionId};
use crate::time::Instant;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
}

const SERVER: &str = "198.51.100.1:3478";
const LOCAL: &str = "192.0.2.10:50000";
const PEER: &str = "203.0.113.7:6000";

// ---------------------------------------------------------------------------------------------------------
// Wire

#[test]
fn channel_data_round_trips_with_and_without_padding() {
    let mut out = Vec::new();
    emit_channel_data(&mut out, 0x4001, b"hello", false).unwrap();
    assert_eq!(out, [0x40, 0x01, 0, 5, b'h', b'e', b'l', b'l', b'o']);
    let cd = ChannelData::new_checked(&out[..]).unwrap();
    assert_eq!((cd.channel(), cd.data()), (0x4001, &b"hello"[..]));

    out.clear();
    emit_channel_data(&mut out, 0x4FFF, b"hello", true).unwrap();
    assert_eq!(out.len(), 12);
    assert_eq!(&out[9..], &[0, 0, 0]);
    // Padding after the data is allowed over UDP too and ignored.
    assert_eq!(ChannelData::new_checked(&out[..]).unwrap().data(), b"hello");

    let mut fixed = [0xAAu8; 16];
    assert_eq!(write_channel_data(&mut fixed, 0x4000, b"abc", true).unwrap(), 8);
    assert_eq!(&fixed[..8], &[0x40, 0, 0, 3, b'a', b'b', b'c', 0]);
    assert!(write_channel_data(&mut fixed[..6], 0x4000, b"abc", true).is_err());
    assert_eq!(emit_channel_data(&mut out, 0x3FFF, b"", false), Err(Error::InvalidChannel(0x3FFF)));
}

#[test]
fn channel_data_with_bad_length_or_channel_is_rejected() {
    assert_eq!(ChannelData::new_checked(&[0x40, 0x00, 0x00][..]), Err(Error::ChannelDataTooShort));
    assert_eq!(
        ChannelData::new_checked(&[0x40, 0x00, 0x00, 0x05, 1, 2, 3][..]),
        Err(Error::ChannelDataLength { announced: 5, present: 3 })
    );
    assert_eq!(ChannelData::new_checked(&[0x50, 0x00, 0x00, 0x00][..]), Err(Error::InvalidChannel(0x5000)));
    assert!(is_channel_data(&[0x40]) && is_channel_data(&[0x4F]) && !is_channel_data(&[0x50]));
}

fn binding_request(id: u8) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut b =
        MessageBuilder::new(&mut buf, crate::stun::MessageType::BINDING_REQUEST, TransactionId([id; 12])).unwrap();
    b.add(Attribute::Software("x")).unwrap();
    b.finish();
    buf
}

/// A stream of STUN and padded ChannelData frames, as a TCP connection carries them.
fn stream_bytes() -> Vec<u8> {
    let mut s = binding_request(1);
    emit_channel_data(&mut s, 0x4000, b"abcde", true).unwrap();
    emit_channel_data(&mut s, 0x4001, b"", true).unwrap();
    s.extend_from_slice(&binding_request(2));
    emit_channel_data(&mut s, 0x4002, b"wxyz", true).unwrap();
    s
}

fn check_frames(frames: &[(Option<u16>, Vec<u8>)]) {
    assert_eq!(frames.len(), 5);
    assert_eq!(frames[0], (None, binding_request(1)));
    assert_eq!(frames[1], (Some(0x4000), b"abcde".to_vec()));
    assert_eq!(frames[2], (Some(0x4001), Vec::new()));
    assert_eq!(frames[3], (None, binding_request(2)));
    assert_eq!(frames[4], (Some(0x4002), b"wxyz".to_vec()));
}

fn own(frame: &Frame<'_>) -> (Option<u16>, Vec<u8>) {
    match frame {
        Frame::Stun(m) => (None, m.as_bytes().to_vec()),
        Frame::ChannelData { channel, data } => (Some(*channel), data.to_vec()),
    }
}

#[test]
fn stream_decoder_splits_byte_by_byte_and_whole_reads() {
    let bytes = stream_bytes();
    // One byte per read.
    let mut d = StreamDecoder::new(2048);
    let mut frames = Vec::new();
    for b in &bytes {
        assert_eq!(d.push(core::slice::from_ref(b)), 1);
        while let Some(f) = d.next_frame() {
            frames.push(own(&f.unwrap()));
        }
    }
    check_frames(&frames);
    assert_eq!(d.buffered(), 0);
    // Everything in one read.
    let mut d = StreamDecoder::new(2048);
    assert_eq!(d.push(&bytes), bytes.len());
    let mut frames = Vec::new();
    while let Some(f) = d.next_frame() {
        frames.push(own(&f.unwrap()));
    }
    check_frames(&frames);
    assert_eq!(d.frames(), 5);
    // The stateless splitter on the caller's own buffer gives the same.
    let mut rest = &bytes[..];
    let mut frames = Vec::new();
    while let Some((f, used)) = split_frame(rest).unwrap() {
        frames.push(own(&f));
        rest = &rest[used..];
    }
    check_frames(&frames);
    // Re-encoding the frames gives the stream back.
    let mut out = Vec::new();
    let mut rest = &bytes[..];
    while let Some((f, used)) = split_frame(rest).unwrap() {
        emit_stream_frame(&mut out, &f).unwrap();
        rest = &rest[used..];
    }
    assert_eq!(out, bytes);
}

#[test]
fn stream_decoder_is_bounded_and_fails_on_lost_framing() {
    let bytes = stream_bytes();
    // A small buffer takes what fits; the caller feeds the rest after draining.
    let mut d = StreamDecoder::new(40);
    let mut fed = 0;
    let mut frames = Vec::new();
    while fed < bytes.len() {
        let n = d.push(&bytes[fed..]);
        fed += n;
        while let Some(f) = d.next_frame() {
            frames.push(own(&f.unwrap()));
        }
        assert!(d.buffered() <= 40);
        assert!(n > 0 || d.buffered() < 40);
    }
    check_frames(&frames);
    // A frame larger than the buffer.
    let mut d = StreamDecoder::new(16);
    d.push(&[0x40, 0x00, 0x01, 0x00]);
    assert!(matches!(d.next_frame(), Some(Err(Error::FrameTooLarge))));
    // Garbage: framing is lost for good.
    let mut d = StreamDecoder::new(1024);
    d.push(&[0xFF, 1, 2, 3]);
    assert!(matches!(d.next_frame(), Some(Err(Error::StreamCorrupt))));
    d.push(&binding_request(3));
    assert!(matches!(d.next_frame(), Some(Err(Error::StreamCorrupt))));
    // 20 bytes with STUN's first bits but no magic cookie.
    assert_eq!(stream_frame_len(&[0u8; 20]), Err(Error::StreamCorrupt));
    assert_eq!(stream_frame_len(&[0x40, 0]), Ok(None));
    assert_eq!(stream_frame_len(&[]), Ok(None));
}

// ---------------------------------------------------------------------------------------------------------
// Client against the test server, delivered directly.

struct Pair {
    client: TurnClient,
    server: TestServer,
    now: Instant,
    /// Datagrams the relay sent to peers: (relay address, peer, bytes).
    to_peers: Vec<(SocketAddr, SocketAddr, Vec<u8>)>,
    events: Vec<TurnEvent>,
    data: Vec<(SocketAddr, Vec<u8>)>,
    /// While false, client datagrams are lost.
    deliver: bool,
}

impl Pair {
    fn new(config: TurnConfig) -> Self {
        let server = TestServer::new(config.server, "user", "pass");
        Pair {
            client: TurnClient::new(config, SeededRng::from_seed([3; 32])),
            server,
            now: Instant::ZERO,
            to_peers: Vec::new(),
            events: Vec::new(),
            data: Vec::new(),
            deliver: true,
        }
    }

    fn with_password(password: &str) -> Self {
        Pair::new(TurnConfig::new(addr(SERVER), addr(LOCAL), "user", password))
    }

    fn pump(&mut self) {
        for _ in 0..100 {
            let mut moved = false;
            while let Some(t) = self.client.poll_transmit() {
                moved = true;
                if self.deliver {
                    let _ = self.server.handle_receive(self.now, t);
                }
            }
            while let Some(t) = self.server.poll_transmit() {
                moved = true;
                if t.destination == self.client.local() {
                    let _ = self.client.handle_receive(self.now, t);
                } else {
                    self.to_peers.push((t.source, t.destination, t.contents.to_vec()));
                }
            }
            while let Some(e) = self.client.poll_event() {
                self.events.push(e);
            }
            while let Some((peer, d)) = self.client.poll_data() {
                self.data.push((peer, d.to_vec()));
            }
            if !moved {
                return;
            }
        }
    }

    fn run_until(&mut self, until: Instant) {
        self.pump();
        while let Some(t) = self.client.poll_timeout().filter(|t| *t <= until) {
            self.now = self.now.max(t);
            self.client.handle_timeout(self.now);
            self.pump();
        }
        self.now = self.now.max(until);
    }

    fn run_for(&mut self, d: Duration) {
        self.run_until(self.now + d);
    }

    /// A peer sends `data` to the client's relayed address.
    fn peer_sends(&mut self, peer: SocketAddr, data: &[u8]) {
        let relay = self.client.relayed_address().unwrap_or(addr(SERVER));
        let _ = self.server.handle_receive(self.now, Datagram { source: peer, destination: relay, contents: data });
        self.pump();
    }

    fn allocated(&mut self) -> SocketAddr {
        self.client.allocate(self.now);
        self.run_for(Duration::from_millis(10));
        let relayed = self.client.relayed_address();
        assert!(relayed.is_some(), "events: {:?}", self.events);
        relayed.unwrap_or(addr(SERVER))
    }
}

#[test]
fn allocates_after_401_challenge_then_relays_both_ways() {
    let mut p = Pair::with_password("pass");
    let relayed = p.allocated();
    assert_eq!(relayed, addr("198.51.100.1:49152"));
    assert_eq!(
        p.events[0],
        TurnEvent::Allocated { relayed, mapped: Some(addr(LOCAL)), lifetime: Duration::from_secs(600) }
    );
    assert_eq!(p.server.stats.allocations, 1);

    // Before a channel: a Send indication, creating the permission on first use.
    let peer = addr(PEER);
    p.client.send_to(p.now, peer, b"via-send").unwrap();
    p.pump();
    assert!(p.client.has_permission(peer.ip()));
    assert!(p.events.contains(&TurnEvent::PermissionCreated { peer: peer.ip() }));
    assert_eq!(p.to_peers, vec![(relayed, peer, b"via-send".to_vec())]);
    p.peer_sends(peer, b"via-data");
    assert_eq!(p.data, vec![(peer, b"via-data".to_vec())]);

    // With a channel: ChannelData both ways.
    let ch = p.client.bind_channel(p.now, peer).unwrap();
    assert_eq!(ch, 0x4000);
    p.pump();
    assert!(p.events.contains(&TurnEvent::ChannelBound { peer, channel: ch }));
    assert_eq!(p.client.channel(peer), Some(ch));
    p.client.send_to(p.now, peer, b"via-channel").unwrap();
    p.pump();
    assert_eq!(p.to_peers.last(), Some(&(relayed, peer, b"via-channel".to_vec())));
    p.peer_sends(peer, b"back");
    assert_eq!(p.data.last(), Some(&(peer, b"back".to_vec())));
    let s = p.client.stats();
    assert_eq!((s.data_sent, s.data_received, s.rejected), (2, 2, 0));
}

#[test]
fn channel_data_and_send_indication_are_what_the_client_sends() {
    let mut p = Pair::with_password("pass");
    p.allocated();
    let peer = addr(PEER);
    p.client.create_permission(p.now, peer.ip()).unwrap();
    p.pump();
    assert!(p.client.poll_timeout().is_none_or(|t| t > p.now));
    p.client.send_to(p.now, peer, b"x").unwrap();
    // Owed at once, and said so until taken.
    assert_eq!(p.client.poll_timeout(), Some(p.now));
    let t = p.client.poll_transmit().map(|t| t.contents.to_vec()).unwrap_or_default();
    assert!(p.client.poll_timeout().is_none_or(|t| t > p.now));
    let m = Message::new_checked(&t[..]).unwrap();
    assert_eq!((m.method(), m.class()), (crate::stun::Method::SEND, Class::Indication));
    assert_eq!(m.attribute(AttributeType::XOR_PEER_ADDRESS), Some(Attribute::XorPeerAddress(peer)));
    p.client.bind_channel(p.now, peer).unwrap();
    p.pump();
    p.client.send_to(p.now, peer, b"xyz").unwrap();
    let t = p.client.poll_transmit().map(|t| t.contents.to_vec()).unwrap_or_default();
    assert_eq!(t, [0x40, 0x00, 0x00, 0x03, b'x', b'y', b'z']);
}

#[test]
fn bad_credentials_give_a_clear_failure() {
    let mut p = Pair::with_password("wrong");
    p.client.allocate(p.now);
    p.run_for(Duration::from_secs(1));
    assert_eq!(p.events, vec![TurnEvent::Failed(Failure::BadCredentials)]);
    assert!(!p.client.is_allocated());
    assert_eq!(p.client.poll_timeout(), None);
    assert_eq!(p.client.send_to(p.now, addr(PEER), b"x"), Err(Error::NotAllocated));
}

#[test]
fn server_errors_on_allocate_are_typed() {
    for (code, failure) in [
        (403, Failure::Forbidden),
        (486, Failure::QuotaReached),
        (508, Failure::InsufficientCapacity),
        (442, Failure::UnsupportedTransport),
        (599, Failure::Server(599)),
    ] {
        let mut p = Pair::with_password("pass");
        p.server.fail_allocate = Some(code);
        p.client.allocate(p.now);
        p.run_for(Duration::from_secs(1));
        assert_eq!(p.events, vec![TurnEvent::Failed(failure)], "code {code}");
    }
}

#[test]
fn stale_nonce_is_retried_with_the_new_nonce() {
    let mut p = Pair::with_password("pass");
    p.allocated();
    p.server.new_nonce();
    p.client.create_permission(p.now, addr(PEER).ip()).unwrap();
    p.pump();
    assert!(p.client.has_permission(addr(PEER).ip()));
    assert_eq!(p.server.stats.permission_requests, 1);
    assert!(!p.events.iter().any(|e| matches!(e, TurnEvent::RequestFailed { .. } | TurnEvent::Failed(_))));
}

#[test]
fn silent_server_times_out() {
    let mut p = Pair::with_password("pass");
    p.deliver = false;
    p.client.allocate(p.now);
    p.run_for(Duration::from_secs(60));
    assert_eq!(p.events, vec![TurnEvent::Failed(Failure::TimedOut)]);
    // RFC 8489 §6.2.1: 7 requests, then 16 × RTO: 39.5 s.
    assert_eq!(p.now, Instant::from_secs(60));
}

#[test]
fn close_releases_the_allocation() {
    let mut p = Pair::with_password("pass");
    p.allocated();
    p.client.bind_channel(p.now, addr(PEER)).unwrap();
    p.pump();
    assert_eq!(p.server.allocations.len(), 1);
    p.client.close(p.now);
    p.pump();
    assert_eq!(p.events.last(), Some(&TurnEvent::Closed));
    assert!(p.server.allocations.is_empty());
    assert_eq!(p.client.poll_timeout(), None);
}

#[test]
fn refreshes_keep_allocation_permissions_and_channels_alive() {
    let mut p = Pair::with_password("pass");
    p.allocated();
    let peer = addr(PEER);
    p.client.create_permission(p.now, addr("203.0.113.8:1").ip()).unwrap();
    p.client.bind_channel(p.now, peer).unwrap();
    p.run_for(Duration::from_secs(3 * 3600));
    let s = p.server.stats;
    assert_eq!(s.allocations, 1);
    assert_eq!(s.expired_drops, 0);
    assert!(s.refreshes >= 3 * 3600 / 600, "{s:?}");
    assert!(s.longest_allocation_gap < Duration::from_secs(600), "{s:?}");
    assert!(s.longest_permission_gap < Duration::from_secs(300), "{s:?}");
    assert!(s.longest_channel_gap < Duration::from_secs(600), "{s:?}");
    assert_eq!(p.server.allocations.len(), 1);
    assert!(p.server.allocations[0].expires > p.now);
    p.peer_sends(peer, b"still here");
    assert_eq!(p.data.last(), Some(&(peer, b"still here".to_vec())));
}

#[test]
fn lost_allocation_437_is_recovered_with_permissions_and_channels() {
    let mut p = Pair::with_password("pass");
    p.allocated();
    let peer = addr(PEER);
    p.client.bind_channel(p.now, peer).unwrap();
    p.pump();
    p.server.restart();
    p.events.clear();
    // The next refresh (the permission's, at 240 s) meets 438 then 437.
    p.run_for(Duration::from_secs(250));
    let lost = p.events.iter().position(|e| *e == TurnEvent::AllocationLost);
    let again = p.events.iter().position(|e| matches!(e, TurnEvent::Allocated { .. }));
    assert!(lost.is_some() && again > lost, "{:?}", p.events);
    assert!(p.events.contains(&TurnEvent::ChannelBound { peer, channel: 0x4000 }));
    assert_eq!(p.server.stats.allocations, 2);
    let relayed = p.client.relayed_address();
    assert_eq!(relayed, Some(addr("198.51.100.1:49153")));
    p.peer_sends(peer, b"after restart");
    assert_eq!(p.data.last(), Some(&(peer, b"after restart".to_vec())));
}

#[test]
fn ipv6_relay_is_requested_and_accepted() {
    let server = addr("[2001:db8::1]:3478");
    let mut config = TurnConfig::new(server, addr("[2001:db8::10]:50000"), "user", "pass");
    config.family = RelayFamily::V6;
    let mut p = Pair::new(config);
    p.client.allocate(p.now);
    let first = p.client.poll_transmit().map(|t| t.contents.to_vec()).unwrap_or_default();
    let m = Message::new_checked(&first[..]).unwrap();
    assert_eq!(m.raw_attribute(0x0017), Some(&[0x02, 0, 0, 0][..]));
    assert_eq!(m.attribute(AttributeType::REQUESTED_TRANSPORT), Some(Attribute::RequestedTransport(17)));
    let _ =
        p.server.handle_receive(p.now, Datagram { source: p.client.local(), destination: server, contents: &first });
    p.pump();
    assert_eq!(p.client.relayed_address(), Some(addr("[2001:db8::1]:49152")));
    let peer = addr("[2001:db8::99]:7000");
    p.client.bind_channel(p.now, peer).unwrap();
    p.pump();
    p.client.send_to(p.now, peer, b"v6").unwrap();
    p.pump();
    assert_eq!(p.to_peers.last().map(|t| (t.1, t.2.clone())), Some((peer, b"v6".to_vec())));
}

#[test]
fn tables_are_bounded() {
    let mut config = TurnConfig::new(addr(SERVER), addr(LOCAL), "user", "pass");
    config.max_permissions = 2;
    config.max_channels = 1;
    let mut p = Pair::new(config);
    p.allocated();
    p.client.create_permission(p.now, "203.0.113.1".parse().unwrap()).unwrap();
    p.client.create_permission(p.now, "203.0.113.2".parse().unwrap()).unwrap();
    assert_eq!(p.client.create_permission(p.now, "203.0.113.3".parse().unwrap()), Err(Error::TableFull));
    p.client.bind_channel(p.now, addr("203.0.113.1:1")).unwrap();
    assert_eq!(p.client.bind_channel(p.now, addr("203.0.113.2:1")), Err(Error::TableFull));
    assert_eq!(p.client.send_to(p.now, addr("203.0.113.3:1"), b"x"), Err(Error::TableFull));
}

#[test]
fn client_runs_over_a_stream_with_padded_channel_data() {
    // TURN over TCP/TLS (RFC 8656 §3.1): reliable transactions, padded ChannelData, and the server's bytes
    // arriving as a stream cut at arbitrary points, split by the decoder and fed frame by frame.
    let mut config = TurnConfig::new(addr(SERVER), addr(LOCAL), "user", "pass");
    config.transaction = crate::stun::TransactionConfig::reliable();
    config.pad_channel_data = true;
    let mut client = TurnClient::new(config, SeededRng::from_seed([4; 32]));
    let mut server = TestServer::new(addr(SERVER), "user", "pass");
    let mut decoder = StreamDecoder::new(4096);
    let now = Instant::ZERO;
    let peer = addr(PEER);
    let mut received = Vec::new();
    let mut drive = |client: &mut TurnClient, server: &mut TestServer, received: &mut Vec<Vec<u8>>| {
        for _ in 0..10 {
            // Client to server: the stream carries each frame whole (the server side is datagram-based).
            while let Some(t) = client.poll_transmit() {
                let _ = server.handle_receive(now, t);
            }
            let mut stream = Vec::new();
            while let Some(t) = server.poll_transmit() {
                if t.destination != addr(LOCAL) {
                    continue;
                }
                // The datagram server sends unpadded ChannelData; a stream server pads it.
                let frame = match ChannelData::new_checked(t.contents) {
                    Ok(cd) => Frame::ChannelData { channel: cd.channel(), data: cd.into_data() },
                    Err(_) => Frame::Stun(Message::new_checked(t.contents).unwrap()),
                };
                emit_stream_frame(&mut stream, &frame).unwrap();
            }
            for chunk in stream.chunks(3) {
                assert_eq!(decoder.push(chunk), chunk.len());
                while let Some(frame) = decoder.next_raw() {
                    let bytes = frame.unwrap().to_vec();
                    let d = client.handle_receive_peer(now, from_server(&bytes)).unwrap();
                    if let Some(PeerData { data, .. }) = d {
                        received.push(data.to_vec());
                    }
                }
            }
        }
    };
    client.allocate(now);
    drive(&mut client, &mut server, &mut received);
    assert!(client.is_allocated());
    client.bind_channel(now, peer).unwrap();
    drive(&mut client, &mut server, &mut received);
    assert_eq!(client.channel(peer), Some(0x4000));
    client.send_to(now, peer, b"abc").unwrap();
    let t = client.poll_transmit().map(|t| t.contents.to_vec()).unwrap_or_default();
    assert_eq!(t, [0x40, 0x00, 0x00, 0x03, b'a', b'b', b'c', 0]);
    let relay = client.relayed_address().unwrap_or(addr(SERVER));
    let _ = server.handle_receive(now, Datagram { source: peer, destination: relay, contents: b"hello" });
    drive(&mut client, &mut server, &mut received);
    assert_eq!(received, vec![b"hello".to_vec()]);
    assert_eq!(client.stats().rejected, 0);
}

// ---------------------------------------------------------------------------------------------------------
// Bad server input: rejected, counted, no state change.

/// A client that sent its authenticated Allocate, and that request's bytes.
fn client_awaiting_allocate() -> (TurnClient, Vec<u8>, TestServer) {
    let mut p = Pair::with_password("pass");
    p.client.allocate(p.now);
    // Let the 401 through, capture the authenticated retry.
    let first = p.client.poll_transmit().map(|t| t.contents.to_vec()).unwrap_or_default();
    let _ =
        p.server.handle_receive(p.now, Datagram { source: addr(LOCAL), destination: addr(SERVER), contents: &first });
    while let Some(t) = p.server.poll_transmit() {
        let _ = p.client.handle_receive(p.now, t);
    }
    let retry = p.client.poll_transmit().map(|t| t.contents.to_vec()).unwrap_or_default();
    (p.client, retry, p.server)
}

fn response_to(request: &[u8], class: Class, attrs: &[Attribute<'_>], key: Option<&Key>) -> Vec<u8> {
    let req = Message::new_checked(request).unwrap();
    let mut buf = Vec::new();
    let mut b = MessageBuilder::response(&mut buf, &req, class).unwrap();
    for a in attrs {
        b.add(*a).unwrap();
    }
    if let Some(k) = key {
        b.message_integrity(k).unwrap();
    }
    b.finish();
    buf
}

fn from_server(bytes: &[u8]) -> Datagram<'_> {
    Datagram { source: addr(SERVER), destination: addr(LOCAL), contents: bytes }
}

#[test]
fn bad_responses_are_rejected_without_state_change() {
    let (mut c, retry, _) = client_awaiting_allocate();
    let key = Key::long_term("user", "sansrtc.test", "pass");
    let wrong = Key::long_term("user", "sansrtc.test", "nope");
    let relayed = addr("198.51.100.1:49999");
    let deadline = c.poll_timeout();
    let now = Instant::from_millis(1);

    let cases: Vec<(Vec<u8>, Error)> = vec![
        // Wrong integrity.
        (response_to(&retry, Class::Success, &[Attribute::XorRelayedAddress(relayed)], Some(&wrong)), Error::Integrity),
        // No integrity on a success.
        (response_to(&retry, Class::Success, &[Attribute::XorRelayedAddress(relayed)], None), Error::Integrity),
        // An error response with a wrong integrity.
        (
            response_to(
                &retry,
                Class::Error,
                &[Attribute::ErrorCode(ErrorCode { code: 403, reason: "" })],
                Some(&wrong),
            ),
            Error::Integrity,
        ),
        // An error response without integrity once credentials were sent (only 401/438 may lack it).
        (
            response_to(&retry, Class::Error, &[Attribute::ErrorCode(ErrorCode { code: 403, reason: "" })], None),
            Error::Integrity,
        ),
        // Missing XOR-RELAYED-ADDRESS.
        (
            response_to(&retry, Class::Success, &[Attribute::Lifetime(600)], Some(&key)),
            Error::MissingAttribute(AttributeType::XOR_RELAYED_ADDRESS),
        ),
        // Garbage.
        (vec![0x00, 0x01, 0x02], Error::Stun(crate::stun::Error::Truncated)),
        (vec![0xFF; 40], Error::Stun(crate::stun::Error::NotStun)),
    ];
    for (bytes, expected) in cases {
        assert_eq!(c.handle_receive(now, from_server(&bytes)), Err(expected));
        assert_eq!(c.poll_event(), None);
        assert!(!c.is_allocated());
        assert_eq!(c.poll_timeout(), deadline);
    }
    // A response to a transaction never sent.
    let mut other = retry.clone();
    other[8] ^= 0xFF;
    let unknown = response_to(&other, Class::Success, &[Attribute::XorRelayedAddress(relayed)], Some(&key));
    assert_eq!(c.handle_receive(now, from_server(&unknown)), Err(Error::UnknownTransaction));
    // From someone other than the server.
    let good = response_to(&retry, Class::Success, &[Attribute::XorRelayedAddress(relayed)], Some(&key));
    let spoofed = Datagram { source: addr("198.51.100.2:3478"), destination: addr(LOCAL), contents: &good };
    assert_eq!(c.handle_receive(now, spoofed), Err(Error::NotFromServer));
    assert_eq!(c.poll_event(), None);
    let s = c.stats();
    assert_eq!((s.rejected, s.integrity_failures, s.unknown_transactions), (9, 4, 1));
    // The genuine response still completes the transaction.
    assert_eq!(c.handle_receive(now, from_server(&good)), Ok(()));
    assert!(matches!(c.poll_event(), Some(TurnEvent::Allocated { relayed: r, .. }) if r == relayed));
}

#[test]
fn only_forged_responses_end_in_an_integrity_failure_not_a_timeout() {
    let (mut c, retry, _) = client_awaiting_allocate();
    let wrong = Key::long_term("user", "sansrtc.test", "nope");
    let forged = response_to(&retry, Class::Success, &[Attribute::XorRelayedAddress(addr(PEER))], Some(&wrong));
    assert_eq!(c.handle_receive(Instant::ZERO, from_server(&forged)), Err(Error::Integrity));
    let mut now = Instant::ZERO;
    let mut events = Vec::new();
    while let Some(t) = c.poll_timeout() {
        now = t;
        c.handle_timeout(now);
        while c.poll_transmit().is_some() {}
        events.extend(core::iter::from_fn(|| c.poll_event()));
    }
    assert_eq!(events, vec![TurnEvent::Failed(Failure::IntegrityViolated)]);
    assert!(now >= Instant::from_millis(39_500));
}

#[test]
fn bad_channel_data_is_dropped_and_counted() {
    let mut p = Pair::with_password("pass");
    p.allocated();
    let peer = addr(PEER);
    p.client.bind_channel(p.now, peer).unwrap();
    p.pump();
    let now = p.now;
    let c = &mut p.client;
    // Length longer than the datagram.
    assert_eq!(
        c.handle_receive(now, from_server(&[0x40, 0x00, 0x00, 0x08, 1, 2])),
        Err(Error::ChannelDataLength { announced: 8, present: 2 })
    );
    // A channel not bound.
    assert_eq!(c.handle_receive(now, from_server(&[0x40, 0x07, 0x00, 0x00])), Err(Error::UnknownChannel(0x4007)));
    assert_eq!(c.handle_receive(now, from_server(&[0x40, 0x00])), Err(Error::ChannelDataTooShort));
    assert_eq!(c.poll_data(), None);
    assert_eq!(c.stats().bad_channel_data, 3);
    // A good one with UDP padding goes through, borrowed without a copy.
    let d = c.handle_receive_peer(now, from_server(&[0x40, 0x00, 0x00, 0x01, 9, 0, 0, 0])).unwrap();
    assert_eq!(d, Some(PeerData { peer, data: &[9] }));
}

#[test]
fn data_indication_from_unpermitted_peer_is_dropped() {
    let mut p = Pair::with_password("pass");
    p.allocated();
    let mut buf = Vec::new();
    let mut b = MessageBuilder::new(
        &mut buf,
        crate::stun::MessageType::new(crate::stun::Method::DATA, Class::Indication),
        TransactionId([1; 12]),
    )
    .unwrap();
    b.add(Attribute::XorPeerAddress(addr(PEER))).unwrap();
    b.add(Attribute::Data(b"sneaky")).unwrap();
    b.finish();
    assert_eq!(p.client.handle_receive(p.now, from_server(&buf)), Err(Error::UnexpectedMessage));
    assert_eq!(p.client.poll_data(), None);
}

#[test]
fn same_seed_gives_same_bytes() {
    let run = || {
        let mut p = Pair::with_password("pass");
        p.allocated();
        p.client.bind_channel(p.now, addr(PEER)).unwrap();
        let mut bytes = Vec::new();
        while let Some(t) = p.client.poll_transmit() {
            bytes.extend_from_slice(t.contents);
        }
        bytes
    };
    assert_eq!(run(), run());
    let _: Option<IpAddr> = None;
}

// ---------------------------------------------------------------------------------------------------------
// On the simulator.

#[cfg(feature = "sim")]
mod sim {
    use super::*;
    use crate::sim::{NatConfig, Net, Sim};

    /// Echoes every datagram back to where it came from.
    #[derive(Debug, Default)]
    struct EchoPeer {
        out: alloc::collections::VecDeque<(SocketAddr, SocketAddr, Vec<u8>)>,
        current: Vec<u8>,
        echoed: u32,
    }

    impl Machine for EchoPeer {
        type Event = ();
        fn handle_timeout(&mut self, _: Instant) {}
        fn poll_event(&mut self) -> Option<()> {
            None
        }
        fn poll_timeout(&self) -> Option<Instant> {
            None
        }
    }

    impl PathMachine for EchoPeer {
        type Error = ();
        fn handle_receive(&mut self, _: Instant, d: Datagram<'_>) -> Result<(), ()> {
            self.echoed += 1;
            self.out.push_back((d.destination, d.source, d.contents.to_vec()));
            Ok(())
        }
        fn poll_transmit(&mut self) -> Option<crate::machine::Transmit<'_>> {
            let (source, destination, bytes) = self.out.pop_front()?;
            self.current = bytes;
            Some(Datagram { source, destination, contents: &self.current })
        }
    }

    struct World {
        sim: Sim,
        client: crate::sim::HostId,
        server: crate::sim::HostId,
        peer: SocketAddr,
    }

    fn world(seed: u64) -> World {
        let mut sim = Sim::new(seed);
        sim.set_default_link(crate::sim::LinkConfig::default().with_delay(Duration::from_millis(15)));
        let server_addr = addr(SERVER);
        let server = sim
            .add_host("turn", Net::Internet, &[server_addr.ip()], TestServer::new(server_addr, "user", "pass"))
            .unwrap();
        let peer = addr(PEER);
        sim.add_host("peer", Net::Internet, &[peer.ip()], EchoPeer::default()).unwrap();
        // The client sits behind a symmetric NAT whose mappings outlive the 240 s permission refresh.
        let nat = sim
            .add_nat(
                "nat",
                Net::Internet,
                "203.0.113.1".parse().unwrap(),
                NatConfig::symmetric().with_mapping_timeout(Duration::from_secs(300)),
            )
            .unwrap();
        let local = addr("192.168.1.2:50000");
        let mut turn = TurnClient::new(TurnConfig::new(server_addr, local, "user", "pass"), sim.fork_rng());
        turn.allocate(Instant::ZERO);
        let client = sim.add_host("client", Net::Behind(nat), &[local.ip()], turn).unwrap();
        World { sim, client, server, peer }
    }

    fn echo_round(w: &mut World, payload: &[u8]) -> Vec<(SocketAddr, Vec<u8>)> {
        let peer = w.peer;
        let _ = w.sim.with_node(w.client, |c: &mut TurnClient, now| c.send_to(now, peer, payload));
        w.sim.run_for(Duration::from_millis(500));
        let mut got = Vec::new();
        if let Some(c) = w.sim.node_mut::<TurnClient>(w.client) {
            while let Some((p, d)) = c.poll_data() {
                got.push((p, d.to_vec()));
            }
        }
        got
    }

    #[test]
    fn sim_relay_stays_alive_over_a_long_run_with_timely_refreshes() {
        let mut w = world(11);
        w.sim.run_for(Duration::from_secs(1));
        let peer = w.peer;
        let bound = w.sim.with_node(w.client, |c: &mut TurnClient, now| c.bind_channel(now, peer));
        assert_eq!(bound, Some(Ok(0x4000)));
        w.sim.run_for(Duration::from_secs(1));
        assert_eq!(echo_round(&mut w, b"hello"), vec![(peer, b"hello".to_vec())]);
        // Four virtual hours.
        w.sim.run_for(Duration::from_secs(4 * 3600));
        assert_eq!(echo_round(&mut w, b"later"), vec![(peer, b"later".to_vec())]);
        let s = w.sim.node::<TestServer>(w.server).map(|s| s.stats).unwrap_or_default();
        assert_eq!(s.allocations, 1, "{s:?}");
        assert_eq!(s.expired_drops, 0, "{s:?}");
        assert!(s.refreshes >= 4 * 3600 / 600, "{s:?}");
        assert!(s.longest_allocation_gap <= Duration::from_secs(541), "{s:?}");
        assert!(s.longest_permission_gap <= Duration::from_secs(241), "{s:?}");
        assert!(s.longest_channel_gap <= Duration::from_secs(541), "{s:?}");
        let events = w.sim.drain_events::<TurnEvent>(w.client);
        assert!(!events.iter().any(|(_, e)| matches!(e, TurnEvent::Failed(_) | TurnEvent::AllocationLost)));
    }

    #[test]
    fn sim_server_restart_is_recovered_by_a_new_allocation() {
        let mut w = world(12);
        w.sim.run_for(Duration::from_secs(1));
        let peer = w.peer;
        let _ = w.sim.with_node(w.client, |c: &mut TurnClient, now| c.bind_channel(now, peer));
        w.sim.run_for(Duration::from_secs(1));
        assert_eq!(echo_round(&mut w, b"before"), vec![(peer, b"before".to_vec())]);
        let first = w.sim.node::<TurnClient>(w.client).and_then(|c| c.relayed_address());
        if let Some(s) = w.sim.node_mut::<TestServer>(w.server) {
            s.restart();
        }
        w.sim.run_for(Duration::from_secs(600));
        let events: Vec<TurnEvent> = w.sim.drain_events::<TurnEvent>(w.client).into_iter().map(|(_, e)| e).collect();
        let lost = events.iter().position(|e| *e == TurnEvent::AllocationLost);
        let again = events.iter().rposition(|e| matches!(e, TurnEvent::Allocated { .. }));
        assert!(lost.is_some() && again > lost, "{events:?}");
        let second = w.sim.node::<TurnClient>(w.client).and_then(|c| c.relayed_address());
        assert!(second.is_some() && second != first);
        assert_eq!(echo_round(&mut w, b"after"), vec![(peer, b"after".to_vec())]);
    }
}

#[cfg(feature = "sim")]
mod ice_sim {
    use super::*;
    use crate::ice::{CandidateFilter, CandidateKind, Config, IceAgent, IceConnectionState, IceEvent, Role};
    use crate::sim::{HostId, LinkConfig, NatConfig, Net, Sim};

    struct World {
        sim: Sim,
        a: HostId,
        b: HostId,
    }

    fn node(sim: &mut Sim, role: Role, local: SocketAddr, turn: bool, filter: CandidateFilter) -> IceRelay {
        let config = Config { role, candidate_filter: filter, ..Config::default() };
        let mut agent = IceAgent::new(config, sim.fork_rng());
        let now = Instant::ZERO;
        let server = addr(SERVER);
        assert!(agent.add_stun_server(now, server).is_ok());
        let _ = agent.add_local_host(now, local);
        let mut relay = IceRelay::new(agent, sim.fork_rng());
        if turn {
            assert!(relay.add_turn_server(now, TurnConfig::new(server, local, "user", "pass")).is_ok());
        }
        relay
    }

    /// Two peers, each behind its own symmetric NAT, and a public STUN/TURN server.
    fn world(seed: u64, turn: bool, filter: CandidateFilter) -> World {
        let mut sim = Sim::new(seed);
        sim.set_default_link(LinkConfig::default().with_delay(Duration::from_millis(10)));
        let server = addr(SERVER);
        let s = TestServer::new(server, "user", "pass");
        assert!(sim.add_host("turn", Net::Internet, &[server.ip()], s).is_ok());
        let nat_a =
            sim.add_nat("nat-a", Net::Internet, "203.0.113.1".parse().unwrap(), NatConfig::symmetric()).unwrap();
        let nat_b =
            sim.add_nat("nat-b", Net::Internet, "203.0.113.2".parse().unwrap(), NatConfig::symmetric()).unwrap();
        let (la, lb) = (addr("192.168.1.2:50000"), addr("192.168.2.2:50000"));
        let mut na = node(&mut sim, Role::Controlling, la, turn, filter);
        let mut nb = node(&mut sim, Role::Controlled, lb, turn, filter);
        let (ca, cb) = (na.agent().local_credentials().clone(), nb.agent().local_credentials().clone());
        na.agent_mut().set_remote_credentials(cb);
        nb.agent_mut().set_remote_credentials(ca);
        let a = sim.add_host("a", Net::Behind(nat_a), &[la.ip()], na).unwrap();
        let b = sim.add_host("b", Net::Behind(nat_b), &[lb.ip()], nb).unwrap();
        World { sim, a, b }
    }

    fn connected(state: IceConnectionState) -> bool {
        matches!(state, IceConnectionState::Connected | IceConnectionState::Completed)
    }

    /// Runs with trickle signalling until both connect or `limit` passes; returns the final states.
    fn run(w: &mut World, limit: Duration) -> (IceConnectionState, IceConnectionState) {
        let end = w.sim.now() + limit;
        while w.sim.now() < end {
            w.sim.run_for(Duration::from_millis(20));
            for (from, to) in [(w.a, w.b), (w.b, w.a)] {
                for (_, e) in w.sim.drain_events::<IceRelayEvent>(from) {
                    if let IceRelayEvent::Ice(IceEvent::LocalCandidate(c)) = e {
                        let _ = w.sim.with_node(to, |n: &mut IceRelay, now| n.add_remote_candidate(now, c));
                    }
                }
            }
            let sa = w.sim.node::<IceRelay>(w.a).map(|n| n.agent().state());
            let sb = w.sim.node::<IceRelay>(w.b).map(|n| n.agent().state());
            if let (Some(sa), Some(sb)) = (sa, sb)
                && ((connected(sa) && connected(sb)) || sa == IceConnectionState::Failed)
            {
                return (sa, sb);
            }
        }
        let sa = w.sim.node::<IceRelay>(w.a).map(|n| n.agent().state());
        let sb = w.sim.node::<IceRelay>(w.b).map(|n| n.agent().state());
        (sa.unwrap_or(IceConnectionState::Closed), sb.unwrap_or(IceConnectionState::Closed))
    }

    fn exchange(w: &mut World) -> Vec<Vec<u8>> {
        let _ = w.sim.with_node(w.a, |n: &mut IceRelay, now| n.send(now, b"through the relay"));
        w.sim.run_for(Duration::from_millis(300));
        let mut got = Vec::new();
        if let Some(n) = w.sim.node_mut::<IceRelay>(w.b) {
            while let Some(d) = n.poll_data() {
                got.push(d.to_vec());
            }
        }
        got
    }

    #[test]
    fn sim_symmetric_nats_connect_only_through_a_relay() {
        // With TURN: connected, on a relayed pair, data flows.
        let mut w = world(21, true, CandidateFilter::ALL);
        let (sa, sb) = run(&mut w, Duration::from_secs(30));
        assert!(connected(sa) && connected(sb), "{sa:?} {sb:?}");
        let pair = w.sim.node::<IceRelay>(w.a).and_then(|n| n.agent().selected_pair());
        let relayed = pair.is_some_and(|(l, r)| l.kind == CandidateKind::Relay || r.kind == CandidateKind::Relay);
        assert!(relayed, "{pair:?}");
        assert_eq!(exchange(&mut w), vec![b"through the relay".to_vec()]);

        // Without: host and server-reflexive candidates only, and symmetric NATs defeat them.
        let mut w = world(21, false, CandidateFilter::ALL);
        let (sa, _) = run(&mut w, Duration::from_secs(60));
        assert_eq!(sa, IceConnectionState::Failed);
        let n = w.sim.node::<IceRelay>(w.a);
        assert!(n.and_then(|n| n.agent().selected_pair()).is_none());
        // It had its server-reflexive candidate: the symmetric NATs, not gathering, defeated it.
        assert!(
            n.is_some_and(|n| n.agent().local_candidates().iter().any(|c| c.kind == CandidateKind::ServerReflexive))
        );
        assert!(
            n.is_some_and(|n| n.agent().remote_candidates().iter().any(|c| c.kind == CandidateKind::ServerReflexive))
        );
    }

    #[test]
    fn sim_relay_only_policy_works_end_to_end() {
        let mut w = world(22, true, CandidateFilter::RELAY_ONLY);
        let (sa, sb) = run(&mut w, Duration::from_secs(30));
        assert!(connected(sa) && connected(sb), "{sa:?} {sb:?}");
        for host in [w.a, w.b] {
            let n = w.sim.node::<IceRelay>(host);
            assert!(n.is_some_and(|n| n.agent().local_candidates().iter().all(|c| c.kind == CandidateKind::Relay)));
            let pair = n.and_then(|n| n.agent().selected_pair());
            assert!(pair.is_some_and(|(l, _)| l.kind == CandidateKind::Relay), "{pair:?}");
        }
        assert_eq!(exchange(&mut w), vec![b"through the relay".to_vec()]);
        // The relayed path moved to a channel once selected.
        let ch = w.sim.node::<IceRelay>(w.a).and_then(|n| {
            let (_, remote) = n.agent().selected_pair()?;
            n.turn(0)?.channel(remote.address)
        });
        assert!(ch.is_some());
    }
}
