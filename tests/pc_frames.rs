//! Frames through `PeerConnection::write_frame` between two connected peer connections in memory: VP8 and
//! Opus (and H.264 in packetization modes 1 and 0) packetized by the sender, depacketized by the receiver
//! with `sansrtc::packetize` into the same bytes; markers, timestamps, sequence numbers, picture ids and
//! every datagram's size checked; H.264 parameter sets repeated ahead of a later IDR picture sent without
//! them; calls that must fail failing with nothing sent; and `FrameAssembler` putting received packets
//! back into the frames sent, dropping those that lost a packet.

use core::net::SocketAddr;

use sansrtc::packetize::{Depacketizer, PacketizeError, h264, opus, vp8};
use sansrtc::pc::{
    AssemblerStats, Codec, Config, ConnectionState, Direction, Error, Event, ExtensionKind, ExtensionValue,
    FrameAssembler, MediaKind, OutgoingFrame, PeerConnection, RtpPacket, SentFrame, TransceiverInit,
};
use sansrtc::{Datagram, Instant, Machine, PathMachine, SeededRng};

const MTU: usize = 1200;

/// Moves every datagram `from` has to `to`; returns the sizes of those moved.
fn pump(now: Instant, from: &mut PeerConnection, to: &mut PeerConnection) -> Vec<usize> {
    let mut sizes = Vec::new();
    while let Some(t) = from.poll_transmit() {
        let (source, destination, contents) = (t.source, t.destination, t.contents.to_vec());
        sizes.push(contents.len());
        let _ = to.handle_receive(now, Datagram { source, destination, contents: &contents });
    }
    sizes
}

/// The SSRC of an RTP datagram (in the clear under SRTP); `None` for RTCP (RFC 5761 §4: packet types
/// 192–223 in the second octet).
fn media_ssrc(d: &[u8]) -> Option<u32> {
    let &[_, second, _, _, _, _, _, _, s0, s1, s2, s3] = d.first_chunk::<12>()?;
    (!(192..=223).contains(&second)).then_some(u32::from_be_bytes([s0, s1, s2, s3]))
}

/// The datagrams `a` sends from `now` until its pacer has let go of everything written: the pacer
/// spreads a frame's packets at the pacing rate, so `a` is run at its `poll_timeout` meanwhile.
fn paced(now: Instant, a: &mut PeerConnection) -> Vec<(SocketAddr, SocketAddr, Vec<u8>, Instant)> {
    let mut out = Vec::new();
    let mut t = now;
    loop {
        while let Some(x) = a.poll_transmit() {
            out.push((x.source, x.destination, x.contents.to_vec(), t));
        }
        if a.pacer().is_none_or(|p| p.queued_packets() == 0) {
            return out;
        }
        t = a.poll_timeout().unwrap().max(t);
        a.handle_timeout(t);
    }
}

/// `a` (sending audio and video) and `b` (receiving both), offered by `a` with `a_video` as its video
/// codecs (empty: the configured ones) and answered by `b`, connected.
fn connected(seed: u8, b_config: Config, a_video: &[Codec]) -> (PeerConnection, PeerConnection, Instant) {
    let mut now = Instant::ZERO;
    let mut a = PeerConnection::new(Config::default(), SeededRng::from_seed([seed; 32]));
    let mut b = PeerConnection::new(b_config, SeededRng::from_seed([seed ^ 0x5a; 32]));
    let (a_addr, b_addr): (SocketAddr, SocketAddr) =
        ("10.0.0.1:5000".parse().unwrap(), "10.0.0.2:5000".parse().unwrap());
    a.add_local_host(now, a_addr).unwrap();
    b.add_local_host(now, b_addr).unwrap();
    a.end_of_local_candidates(now);
    b.end_of_local_candidates(now);
    let send = TransceiverInit::with_direction(Direction::SendOnly);
    a.add_transceiver(now, MediaKind::Audio, send.clone()).unwrap();
    let video = a.add_transceiver(now, MediaKind::Video, send).unwrap();
    a.set_codec_preferences(video, a_video).unwrap();
    let offer = a.create_offer().unwrap();
    a.set_local_description(now, &offer).unwrap();
    b.set_remote_description(now, &offer).unwrap();
    let answer = b.create_answer().unwrap();
    b.set_local_description(now, &answer).unwrap();
    a.set_remote_description(now, &answer).unwrap();
    for _ in 0..10_000 {
        let moved = !pump(now, &mut a, &mut b).is_empty() | !pump(now, &mut b, &mut a).is_empty();
        while a.poll_event().is_some() {}
        while b.poll_event().is_some() {}
        if a.connection_state() == ConnectionState::Connected && b.connection_state() == ConnectionState::Connected {
            break;
        }
        if !moved {
            now = [a.poll_timeout(), b.poll_timeout()].into_iter().flatten().min().unwrap().max(now);
            a.handle_timeout(now);
            b.handle_timeout(now);
        }
    }
    assert_eq!(a.connection_state(), ConnectionState::Connected);
    assert_eq!(b.connection_state(), ConnectionState::Connected);
    // What the handshake still owes at this instant goes out (in DTLS 1.3 the server's ACK of the
    // client's last flight, sent as it connects), so the tests see only what they cause.
    for _ in 0..8 {
        if pump(now, &mut a, &mut b).is_empty() & pump(now, &mut b, &mut a).is_empty() {
            break;
        }
    }
    (a, b, now)
}

/// A new offer from `a` answered by `b`.
fn renegotiate(now: Instant, a: &mut PeerConnection, b: &mut PeerConnection) {
    let offer = a.create_offer().unwrap();
    a.set_local_description(now, &offer).unwrap();
    b.set_remote_description(now, &offer).unwrap();
    let answer = b.create_answer().unwrap();
    b.set_local_description(now, &answer).unwrap();
    a.set_remote_description(now, &answer).unwrap();
    // (What the sessions say about the change, a BYE for a paused stream, goes across first.)
    pump(now, a, b);
    pump(now, b, a);
    while a.poll_event().is_some() {}
    while b.poll_event().is_some() {}
}

/// Deterministic bytes with no zero octet (so no Annex-B start code appears inside a NAL unit).
fn bytes(seed: u32, len: usize) -> Vec<u8> {
    (0..len).map(|k| ((k as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8 | 1).collect()
}

/// Sends one frame from `a` and takes what `b` received on `mid`: the packets, checked against what
/// `write_frame` reported and against the MTU.
fn send(
    now: Instant,
    a: &mut PeerConnection,
    b: &mut PeerConnection,
    mid: &str,
    frame: &OutgoingFrame<'_>,
) -> (SentFrame, Vec<RtpPacket>, Vec<usize>) {
    let sent = a.write_frame(now, mid, frame).unwrap();
    let mut sizes = Vec::new();
    for (source, destination, contents, at) in paced(now, a) {
        if media_ssrc(&contents) == Some(sent.ssrc) {
            sizes.push(contents.len());
        }
        let _ = b.handle_receive(at, Datagram { source, destination, contents: &contents });
    }
    assert!(sizes.iter().all(|&s| s <= MTU), "a datagram above the MTU: {sizes:?}");
    let mut packets = Vec::new();
    while let Some(e) = b.poll_event() {
        if let Event::Rtp(p) = e {
            if p.mid == mid {
                packets.push(p);
            }
        }
    }
    assert_eq!(packets.len(), sent.packets, "{sent:?}");
    assert_eq!(sizes.len(), sent.packets, "one datagram per packet");
    let first = packets.first().unwrap();
    assert_eq!(first.sequence_number as u16, sent.first_sequence_number);
    assert_eq!(packets.last().unwrap().sequence_number as u16, sent.last_sequence_number);
    for (i, p) in packets.iter().enumerate() {
        assert_eq!(p.timestamp, frame.timestamp, "one timestamp for the frame");
        assert_eq!(p.sequence_number, first.sequence_number + i as u64, "contiguous sequence numbers");
        assert_eq!((p.ssrc, p.payload_type), (sent.ssrc, sent.payload_type));
        assert!(!p.repaired && !p.rtx);
    }
    (sent, packets, sizes)
}

/// Depacketizes one frame's packets in order; the frame and each payload's info.
fn depacketize(d: &mut dyn Depacketizer, packets: &[RtpPacket]) -> (Vec<u8>, Vec<sansrtc::packetize::PayloadInfo>) {
    let mut frame = Vec::new();
    let infos = packets.iter().map(|p| d.depacketize(p.payload(), &mut frame).unwrap()).collect();
    (frame, infos)
}

#[test]
fn vp8_and_opus_frames_arrive_byte_identical() {
    let (mut a, mut b, now) = connected(1, Config::default(), &[]);
    let mut vp8d = vp8::Vp8Depacketizer::new();
    let orientation = [ExtensionValue::VideoOrientation { back_camera: false, flip: false, rotation: 90 }];
    let mut last_picture: Option<u16> = None;
    let mut last_seq: Option<u64> = None;
    for (i, len) in [1usize, 5_000, 50_000, 1, 1_200, 1_201, 3_000, 50_000].into_iter().enumerate() {
        let data = bytes(i as u32, len);
        let ts = 1_000 + i as u32 * 3_000;
        let frame = OutgoingFrame { extensions: &orientation, ..OutgoingFrame::new(ts, &data) };
        let (sent, packets, _) = send(now, &mut a, &mut b, "1", &frame);
        assert_eq!(sent.payload_type, 96, "VP8, the first negotiated video codec");
        // At most 1200 octets of packet: 50 KB needs at least 43 packets.
        assert!(len < 50_000 || sent.packets >= 43, "{sent:?}");
        let (got, infos) = depacketize(&mut vp8d, &packets);
        assert_eq!(got, data, "frame {i} ({len} bytes)");
        for (k, (p, info)) in packets.iter().zip(&infos).enumerate() {
            assert_eq!(p.marker, k + 1 == packets.len(), "marker on the last packet only");
            assert_eq!(info.frame_start, k == 0);
            assert_eq!(info.picture_id, infos[0].picture_id, "one picture id per frame");
            assert_eq!(
                p.extension(ExtensionKind::VideoOrientation),
                Some(orientation[0]),
                "the extensions on every packet"
            );
        }
        let picture = infos[0].picture_id.unwrap();
        if let Some(prev) = last_picture {
            assert_eq!(picture, (prev + 1) & 0x7fff, "the picture id increments per frame");
        }
        last_picture = Some(picture);
        if let Some(prev) = last_seq {
            assert_eq!(packets[0].sequence_number, prev + 1, "sequence numbers continue across frames");
        }
        last_seq = Some(packets.last().unwrap().sequence_number);
    }

    // A pause (inactive, renegotiated) and back: the stream's packetizer is kept, its picture ids run on.
    let video = a.transceiver_by_mid("1").unwrap().id();
    for direction in [Direction::Inactive, Direction::SendOnly] {
        a.set_direction(now, video, direction).unwrap();
        renegotiate(now, &mut a, &mut b);
        if direction == Direction::Inactive {
            assert_eq!(a.write_frame(now, "1", &OutgoingFrame::new(0, &[1])), Err(Error::NotSending));
            assert!(a.poll_transmit().is_none());
        }
    }
    let data = bytes(99, 2_000);
    let (_, packets, _) = send(now, &mut a, &mut b, "1", &OutgoingFrame::new(500_000, &data));
    let (got, infos) = depacketize(&mut vp8d, &packets);
    assert_eq!(got, data);
    assert_eq!(infos[0].picture_id, Some((last_picture.unwrap() + 1) & 0x7fff), "picture ids run on");

    // The payload size is the MTU less the overhead: the RTP header (12), the extension block (MID,
    // transport-wide CC and video orientation in the one-byte form: 4 + 8), the AES-GCM tag (16) and the
    // two octets an RTX retransmission adds (42 in all), less VP8's 4-octet descriptor: 1154 octets of frame
    // per packet (the packet itself, without RTX, is 40 octets longer than its payload).
    for (len, packets) in [(1_154, 1), (1_155, 2)] {
        let data = bytes(len as u32, len);
        let frame = OutgoingFrame { extensions: &orientation, ..OutgoingFrame::new(90_000, &data) };
        let (sent, _, sizes) = send(now, &mut a, &mut b, "1", &frame);
        assert_eq!(sent.packets, packets, "{len} octets");
        assert_eq!(sizes.iter().max(), Some(&if packets == 1 { MTU - 2 } else { 40 + 4 + 578 }));
    }
    assert_eq!(a.srtp_profile().map(|p| p.rtp_overhead()), Some(16), "an AES-GCM profile");

    // Opus: one packet per frame; the marker on the stream's first, which opens a talkspurt (RFC 3551 §4.1).
    let mut opusd = opus::OpusDepacketizer::new();
    let level = [ExtensionValue::AudioLevel { voice: true, level: 20 }];
    for (i, len) in [1usize, 80, 400].into_iter().enumerate() {
        let mut data = bytes(100 + i as u32, len);
        data[0] = 0x78; // TOC: config 15 (hybrid, 20 ms), mono, one frame
        let frame = OutgoingFrame { extensions: &level, ..OutgoingFrame::new(i as u32 * 960, &data) };
        let (sent, packets, _) = send(now, &mut a, &mut b, "0", &frame);
        assert_eq!((sent.payload_type, sent.packets), (111, 1));
        assert_eq!(packets[0].marker, i == 0);
        assert_eq!(packets[0].extension(ExtensionKind::AudioLevel), Some(level[0]));
        assert_eq!(depacketize(&mut opusd, &packets).0, data);
    }
    // An Opus packet larger than a payload is not split (RFC 7587 §4.2): refused, nothing sent.
    let mut big = bytes(7, 1_250);
    big[0] = 0x78;
    let err = a.write_frame(now, "0", &OutgoingFrame::new(0, &big)).unwrap_err();
    assert_eq!(err, Error::Packetize(PacketizeError::MtuTooSmall));
    assert!(a.poll_transmit().is_none());
}

/// An Annex-B access unit of `nals` with four-octet start codes (what the depacketizer writes).
fn annex_b(nals: &[&[u8]]) -> Vec<u8> {
    nals.iter().flat_map(|n| h264::START_CODE.iter().chain(n.iter()).copied()).collect()
}

fn nal(header: u8, seed: u32, len: usize) -> Vec<u8> {
    let mut n = bytes(seed, len);
    n[0] = header;
    if let Some(b) = n.get_mut(1) {
        *b |= 0x80; // a slice's first_mb_in_slice = 0: the first slice of its picture
    }
    n
}

#[test]
fn h264_frames_arrive_with_parameter_sets_repeated() {
    let (mut a, mut b, now) = connected(2, Config::default(), &[Codec::h264(108, "42e01f", 109)]);
    let (sps, pps) = (nal(0x67, 1, 12), nal(0x68, 2, 5));
    let idr = nal(0x65, 3, 50_000);
    let slice = nal(0x41, 4, 5_000);
    let tiny = nal(0x41, 5, 2); // a header and first_mb_in_slice
    let idr2 = nal(0x65, 6, 20_000);
    let frames: [(Vec<u8>, Vec<u8>); 4] = [
        (annex_b(&[&sps, &pps, &idr]), annex_b(&[&sps, &pps, &idr])),
        (annex_b(&[&slice]), annex_b(&[&slice])),
        (annex_b(&[&tiny]), annex_b(&[&tiny])),
        // An IDR picture without its parameter sets gets the last ones ahead of it.
        (annex_b(&[&idr2]), annex_b(&[&sps, &pps, &idr2])),
    ];
    let mut d = h264::H264Depacketizer::new();
    let mut assembler = FrameAssembler::new(b.transceiver_by_mid("1").unwrap().codecs());
    for (i, (input, expected)) in frames.iter().enumerate() {
        let (sent, packets, _) = send(now, &mut a, &mut b, "1", &OutgoingFrame::new(i as u32 * 3_000, input));
        assert_eq!(sent.payload_type, 108);
        let (got, infos) = depacketize(&mut d, &packets);
        assert_eq!(&got, expected, "frame {i}");
        let assembled: Vec<_> = packets.iter().filter_map(|p| assembler.push(p).map(|f| f.data.to_vec())).collect();
        assert_eq!(assembled, vec![expected.clone()], "frame {i} through the assembler");
        // (The depacketizer sees a frame start after a coded slice: not on the stream's first payload.)
        assert!(i == 0 || infos[0].frame_start, "frame {i}");
        assert_eq!(infos[0].keyframe, i == 0 || i == 3);
        for (k, p) in packets.iter().enumerate() {
            assert_eq!(p.marker, k + 1 == packets.len(), "marker on the last packet only");
        }
    }
}

#[test]
fn h264_packetization_mode_0_sends_single_nal_units() {
    let mode0 = Codec {
        fmtp: "packetization-mode=0;profile-level-id=42e01f".into(),
        rtx_payload_type: Some(121),
        ..Codec::h264(120, "42e01f", 121)
    };
    let b_config = Config { codecs: vec![Codec::opus(), mode0.clone()].into(), ..Config::default() };
    let mut a_config_codecs = Config::default().codecs.to_vec();
    a_config_codecs.push(mode0.clone());
    // `a` must support the format to prefer it.
    let (mut a, mut b, now) = {
        let mut now = Instant::ZERO;
        let mut a = PeerConnection::new(
            Config { codecs: a_config_codecs.into(), ..Config::default() },
            SeededRng::from_seed([3; 32]),
        );
        let mut b = PeerConnection::new(b_config, SeededRng::from_seed([4; 32]));
        a.add_local_host(now, "10.0.0.1:5000".parse().unwrap()).unwrap();
        b.add_local_host(now, "10.0.0.2:5000".parse().unwrap()).unwrap();
        a.end_of_local_candidates(now);
        b.end_of_local_candidates(now);
        let video =
            a.add_transceiver(now, MediaKind::Video, TransceiverInit::with_direction(Direction::SendOnly)).unwrap();
        a.set_codec_preferences(video, &[mode0]).unwrap();
        let offer = a.create_offer().unwrap();
        a.set_local_description(now, &offer).unwrap();
        b.set_remote_description(now, &offer).unwrap();
        let answer = b.create_answer().unwrap();
        b.set_local_description(now, &answer).unwrap();
        a.set_remote_description(now, &answer).unwrap();
        while a.connection_state() != ConnectionState::Connected || b.connection_state() != ConnectionState::Connected {
            let moved = !pump(now, &mut a, &mut b).is_empty() | !pump(now, &mut b, &mut a).is_empty();
            while a.poll_event().is_some() {}
            while b.poll_event().is_some() {}
            if !moved {
                now = [a.poll_timeout(), b.poll_timeout()].into_iter().flatten().min().unwrap().max(now);
                a.handle_timeout(now);
                b.handle_timeout(now);
            }
        }
        (a, b, now)
    };
    let (sps, pps, idr) = (nal(0x67, 1, 12), nal(0x68, 2, 5), nal(0x65, 3, 1_000));
    let input = annex_b(&[&sps, &pps, &idr]);
    let (sent, packets, _) = send(now, &mut a, &mut b, "0", &OutgoingFrame::new(0, &input));
    assert_eq!((sent.payload_type, sent.packets), (120, 3), "one packet per NAL unit, no STAP-A");
    assert_eq!(packets.iter().map(|p| p.payload().to_vec()).collect::<Vec<_>>(), vec![sps, pps, idr]);
    assert_eq!(packets.iter().map(|p| p.marker).collect::<Vec<_>>(), vec![false, false, true]);
    // A unit larger than a packet cannot be fragmented in mode 0: refused before anything is sent.
    let big = annex_b(&[&nal(0x41, 4, 1_500)]);
    assert_eq!(a.write_frame(now, "0", &OutgoingFrame::new(1, &big)), Err(Error::FrameTooLarge));
    assert!(a.poll_transmit().is_none());
}

#[test]
fn refused_frames_send_nothing() {
    // Before the connection is up.
    let mut lone = PeerConnection::new(Config::default(), SeededRng::from_seed([9; 32]));
    lone.add_transceiver(Instant::ZERO, MediaKind::Video, TransceiverInit::default()).unwrap();
    assert_eq!(lone.write_frame(Instant::ZERO, "0", &OutgoingFrame::new(0, &[1])), Err(Error::NotConnected));

    let (mut a, mut b, now) = connected(5, Config::default(), &[]);
    let data = [0x10u8; 100];
    let frame = OutgoingFrame::new(0, &data);
    let cases: [(&str, OutgoingFrame<'_>, Error); 7] = [
        ("9", frame, Error::NoSuchTransceiver),
        ("1", OutgoingFrame { payload_type: Some(77), ..frame }, Error::InvalidParameter),
        // VP8's RTX payload type.
        ("1", OutgoingFrame { payload_type: Some(97), ..frame }, Error::InvalidParameter),
        ("1", OutgoingFrame { rid: Some("hi"), ..frame }, Error::InvalidParameter),
        ("1", OutgoingFrame::new(0, &[]), Error::Packetize(PacketizeError::BadFrame)),
        // telephone-event has no payload format here.
        ("0", OutgoingFrame { payload_type: Some(126), ..frame }, Error::UnsupportedCodec),
        // Not an Opus packet (code 3 without its frame count).
        ("0", OutgoingFrame::new(0, &[0x03]), Error::Packetize(PacketizeError::BadFrame)),
    ];
    for (mid, f, expected) in cases {
        assert_eq!(a.write_frame(now, mid, &f), Err(expected), "mid {mid}, {f:?}");
        assert!(a.poll_transmit().is_none(), "nothing sent for {expected:?}");
    }
    // `b` receives only.
    assert_eq!(b.write_frame(now, "1", &frame), Err(Error::NotSending));
    assert!(b.poll_transmit().is_none());
    // And a good frame still goes out afterwards, its sequence numbers untouched by the refusals.
    let (sent, _, sizes) = send(now, &mut a, &mut b, "1", &frame);
    assert_eq!(sent.packets, 1);
    assert_eq!(sizes.len(), 1);
}

/// Every packet `a` has for `b`, except those `lose` picks (by index), delivered; what `b` received on `mid`.
fn deliver(now: Instant, a: &mut PeerConnection, b: &mut PeerConnection, mid: &str, lose: &[usize]) -> Vec<RtpPacket> {
    // `lose` counts the media stream's datagrams only (not RTCP, nor the padding of a bandwidth probe).
    let ssrc = a.transceiver_by_mid(mid).unwrap().ssrcs().next().unwrap().1;
    let mut rtp = 0;
    for (source, destination, contents, at) in paced(now, a) {
        let media = media_ssrc(&contents) == Some(ssrc);
        let lost = media && lose.contains(&rtp);
        rtp += usize::from(media);
        if !lost {
            let _ = b.handle_receive(at, Datagram { source, destination, contents: &contents });
        }
    }
    core::iter::from_fn(|| b.poll_event())
        .filter_map(|e| if let Event::Rtp(p) = e { Some(p) } else { None })
        .filter(|p| p.mid == mid)
        .collect()
}

#[test]
fn the_assembler_gives_back_the_frames_sent() {
    let (mut a, mut b, now) = connected(6, Config::default(), &[]);
    let mut video = FrameAssembler::new(b.transceiver_by_mid("1").unwrap().codecs());
    let mut audio = FrameAssembler::new(b.transceiver_by_mid("0").unwrap().codecs());
    // Frame 3 loses its second packet, frame 6 its last (the marker): each is dropped, the stream resumes
    // with the next frame.
    let mut out: Vec<(u32, Vec<u8>, bool)> = Vec::new();
    for i in 0..10u32 {
        let mut data = bytes(i, 1 + i as usize * 1_500);
        data[0] = if i % 5 == 0 { 0x10 } else { 0x11 }; // VP8 P bit: key frames 0 and 5
        let sent = a.write_frame(now, "1", &OutgoingFrame::new(i * 3_000, &data)).unwrap();
        let lose = match i {
            3 => vec![1],
            6 => vec![sent.packets - 1],
            _ => vec![],
        };
        for p in deliver(now, &mut a, &mut b, "1", &lose) {
            if let Some(f) = video.push(&p) {
                assert_eq!((f.ssrc, f.payload_type), (sent.ssrc, 96));
                out.push((f.timestamp, f.data.to_vec(), f.keyframe));
            }
        }
        if ![3, 6].contains(&i) {
            let (ts, got, key) = out.last().unwrap();
            assert_eq!((*ts, got, *key), (i * 3_000, &data, i % 5 == 0), "frame {i}");
        }
    }
    assert_eq!(out.len(), 8);
    assert_eq!(video.stats(), AssemblerStats { frames: 8, frames_dropped: 2, ..AssemblerStats::default() });
    // A packet delivered twice comes late the second time: dropped, counted.
    let data = bytes(77, 100);
    a.write_frame(now, "1", &OutgoingFrame::new(90_000, &data)).unwrap();
    let packets = deliver(now, &mut a, &mut b, "1", &[]);
    assert_eq!(video.push(&packets[0]).map(|f| f.data.to_vec()), Some(data));
    assert_eq!(video.push(&packets[0]), None);
    assert_eq!(video.stats().late_packets, 1);

    // Audio: every packet is a frame, whatever its marker.
    for i in 0..3u32 {
        let mut data = bytes(i, 50);
        data[0] = 0x78;
        a.write_frame(now, "0", &OutgoingFrame::new(i * 960, &data)).unwrap();
        let packets = deliver(now, &mut a, &mut b, "0", &[]);
        let f = audio.push(&packets[0]).unwrap();
        assert_eq!((f.data, f.packets, f.timestamp), (&data[..], 1, i * 960));
    }
    // Packets of a payload type the assembler was not given are counted, not assembled.
    let mut other = FrameAssembler::new(&[]);
    assert_eq!(other.push(&deliver_one(now, &mut a, &mut b)), None);
    assert_eq!(other.stats().unhandled_packets, 1);
}

fn deliver_one(now: Instant, a: &mut PeerConnection, b: &mut PeerConnection) -> RtpPacket {
    a.write_frame(now, "1", &OutgoingFrame::new(180_000, &[0x10, 1, 2])).unwrap();
    deliver(now, a, b, "1", &[]).remove(0)
}
