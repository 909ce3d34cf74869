//! The echo server's media echo (`examples/echo_server/media.rs`), on its std loop and on tokio
//! (`examples/tokio_echo.rs`), against a sansrtc peer connection over real UDP on loopback: the client
//! offers audio, video and a data channel; the answer says `sendrecv` and the server's own tracks arrive;
//! every packet comes back with its payload, payload type, timestamp and marker, on the server's SSRCs
//! (the ones its answer signals, not the client's); a retransmission (RTX) comes back as the media
//! packet it carries; a key-frame request for the echoed video comes back to the client's sender as a
//! key-frame request; and the channel echo still works on the same connection. The same with `--record
//! DIR`, whose journal then replays identically with the replay example (`examples/replay.rs`), media
//! calls included. Needs nothing installed (browsers: `tests/chromium.rs`, `tests/firefox.rs`).

// The tokio and replay examples each include the examples' logging module.
#![allow(clippy::duplicate_mod)]

use core::net::SocketAddr;
use core::time::Duration;
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};

use sansrtc::pc::{
    ChannelId, ChannelOptions, Config, Description, Event, MediaKind, OutgoingRtp, PeerConnection, Track, TransceiverId,
};
use sansrtc::{Datagram, Machine, PathMachine, SeededRng, StdAnchor};

#[allow(dead_code)]
#[path = "../examples/tokio_echo.rs"]
mod tokio_echo;

#[allow(dead_code)]
#[path = "../examples/replay.rs"]
mod replay_example;

use tokio_echo::server;

/// POSTs the offer to `/offer`; returns the answer.
fn post_offer(addr: SocketAddr, offer: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "POST /offer HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{offer}",
        offer.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 201 Created"), "{resp}");
    body.to_string()
}

/// A packet the client received on a transceiver.
#[derive(Debug, PartialEq, Eq)]
struct Received {
    transceiver: TransceiverId,
    ssrc: u32,
    payload_type: u8,
    timestamp: u32,
    marker: bool,
    payload: Vec<u8>,
}

struct Client {
    pc: PeerConnection,
    socket: UdpSocket,
    local: SocketAddr,
    anchor: StdAnchor,
    audio: TransceiverId,
    video: TransceiverId,
    chat: ChannelId,
    tracks: Vec<(MediaKind, Vec<String>)>,
    rtp: Vec<Received>,
    keyframe_requests: Vec<String>,
    messages: Vec<Vec<u8>>,
    open: bool,
}

impl Client {
    fn connect(server: SocketAddr) -> (Client, String) {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        let local = socket.local_addr().unwrap();
        let anchor = StdAnchor::starting_now();
        let now = anchor.now();
        // Unpaced and without probes: the test holds back one video packet as it is written (so every
        // packet must leave at once), and the server's NACK must be answered by the retransmission of
        // that packet, not mixed with probe padding.
        let mut config = Config::default();
        config.bandwidth.probing = false;
        config.pacer = None;
        let mut pc = PeerConnection::new(config, SeededRng::from_seed([3; 32]));
        pc.add_local_host(now, local).unwrap();
        pc.end_of_local_candidates(now);
        let audio = pc.add_track(now, Track::new(MediaKind::Audio, "mic"), &["client"]).unwrap();
        let video = pc.add_track(now, Track::new(MediaKind::Video, "camera"), &["client"]).unwrap();
        let chat = pc.create_data_channel(now, ChannelOptions::new("chat")).unwrap();
        let offer = pc.create_offer().unwrap();
        pc.set_local_description(now, &offer).unwrap();
        let answer = post_offer(server, &offer.sdp);
        pc.set_remote_description(anchor.now(), &Description::answer(answer.clone())).unwrap();
        let client = Client {
            pc,
            socket,
            local,
            anchor,
            audio,
            video,
            chat,
            tracks: Vec::new(),
            rtp: Vec::new(),
            keyframe_requests: Vec::new(),
            messages: Vec::new(),
            open: false,
        };
        (client, answer)
    }

    fn step(&mut self) {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = self.socket.recv_from(&mut buf) {
            let d = Datagram { source: from, destination: self.local, contents: &buf[..n] };
            let _ = self.pc.handle_receive(self.anchor.now(), d);
        }
        let now = self.anchor.now();
        if self.pc.poll_timeout().is_some_and(|t| t <= now) {
            self.pc.handle_timeout(now);
        }
        while let Some(e) = self.pc.poll_event() {
            match e {
                Event::Track { kind, stream_ids, .. } => self.tracks.push((kind, stream_ids)),
                Event::Rtp(p) => self.rtp.push(Received {
                    transceiver: p.transceiver,
                    ssrc: p.ssrc,
                    payload_type: p.payload_type,
                    timestamp: p.timestamp,
                    marker: p.marker,
                    payload: p.payload().to_vec(),
                }),
                Event::KeyframeRequest { mid, .. } => self.keyframe_requests.push(mid.to_string()),
                Event::ChannelOpen(_) => self.open = true,
                Event::Message { data, .. } => self.messages.push(data.to_vec()),
                _ => {}
            }
        }
        while let Some(t) = self.pc.poll_transmit() {
            let _ = self.socket.send_to(t.contents, t.destination);
        }
    }

    /// Steps until `done` holds (at most 10 s).
    fn run_until(&mut self, what: &str, mut done: impl FnMut(&mut Client) -> bool) {
        let start = std::time::Instant::now();
        while !done(self) {
            assert!(start.elapsed() < Duration::from_secs(10), "timed out waiting for {what}: {:?}", self.pc.stats());
            self.step();
            std::thread::sleep(Duration::from_micros(500));
        }
    }

    /// The negotiated payload type of a transceiver's first codec, and its RTX payload type.
    fn payload_types(&self, t: TransceiverId) -> (u8, Option<u8>) {
        let c = &self.pc.transceiver(t).unwrap().codecs()[0];
        (c.payload_type, c.rtx_payload_type)
    }

    fn mid(&self, t: TransceiverId) -> String {
        self.pc.transceiver(t).unwrap().mid().unwrap().to_string()
    }

    /// Our own media SSRC on a transceiver.
    fn own_ssrc(&self, t: TransceiverId) -> u32 {
        self.pc.transceiver(t).unwrap().ssrcs().next().unwrap().1
    }
}

fn media_echo(server: &server::Server) {
    let (mut c, answer) = Client::connect(server.http_addr());
    // The server sends on both m-sections: sendrecv, with a track of its own each.
    let media: Vec<&str> = answer.split("\r\nm=").skip(1).filter(|m| !m.starts_with("application")).collect();
    assert_eq!(media.len(), 2, "{answer}");
    assert!(media.iter().all(|m| m.contains("\r\na=sendrecv\r\n") && m.contains("a=msid:echo ")), "{answer}");
    c.run_until("connected and the channel open", |c| c.open && c.pc.srtp_profile().is_some());
    c.run_until("the server's tracks", |c| c.tracks.len() == 2);
    assert!(c.tracks.iter().all(|(_, streams)| streams == &["echo".to_string()]), "{:?}", c.tracks);

    let (audio_pt, _) = c.payload_types(c.audio);
    let (video_pt, rtx_pt) = c.payload_types(c.video);
    assert!(rtx_pt.is_some(), "RTX negotiated for video");
    let (audio_mid, video_mid) = (c.mid(c.audio), c.mid(c.video));
    let mut sent = Vec::new();
    for i in 0u32..20 {
        let now = c.anchor.now();
        let a = format!("audio {i}").into_bytes();
        let v = format!("video {i}").into_bytes();
        let audio = OutgoingRtp::new(audio_pt, 960 * i, &a);
        c.pc.write_rtp(now, &audio_mid, &audio).unwrap();
        let video = OutgoingRtp { marker: i % 2 == 1, ..OutgoingRtp::new(video_pt, 3000 * i, &v) };
        c.pc.write_rtp(now, &video_mid, &video).unwrap();
        sent.push((c.audio, audio_pt, 960 * i, false, a));
        sent.push((c.video, video_pt, 3000 * i, i % 2 == 1, v));
        if i == 10 {
            // This video packet is lost on the way (its datagram is not sent): the server's NACK is answered
            // from this connection's RTX history (RFC 4588), and the server restores the packet and echoes it.
            let video_ssrc = c.own_ssrc(c.video).to_be_bytes();
            while let Some(t) = c.pc.poll_transmit() {
                if t.contents.get(8..12) != Some(&video_ssrc[..]) {
                    let _ = c.socket.send_to(t.contents, t.destination);
                }
            }
        }
        c.step();
    }
    c.run_until("every packet back", |c| c.rtp.len() >= sent.len());
    // The packet held back came back through the server's NACK and this connection's retransmission.
    let report = c.pc.stats_report(c.anchor.now());
    let video_ssrc = c.own_ssrc(c.video);
    let outbound = report.outbound_rtp().find(|s| s.ssrc == video_ssrc).expect("outbound-rtp for video");
    assert!(outbound.nack_count >= 1 && outbound.retransmitted_packets_sent >= 1, "{outbound:?}");
    assert_eq!(c.rtp.len(), sent.len(), "nothing more than was sent");

    // Each came back as sent (loopback: in order per stream), on the server's SSRCs from its answer.
    let server_ssrc = |c: &Client, t| c.pc.transceiver(t).unwrap().remote_ssrcs()[0].0;
    for (t, pt, ts, marker, payload) in &sent {
        let ssrc = server_ssrc(&c, *t);
        assert_ne!(ssrc, c.own_ssrc(*t), "the server's own stream, not ours reflected");
        let want = Received {
            transceiver: *t,
            ssrc,
            payload_type: *pt,
            timestamp: *ts,
            marker: *marker,
            payload: payload.clone(),
        };
        assert!(c.rtp.contains(&want), "{want:?} came back: {:?}", c.rtp);
    }

    // A key-frame request for the echoed video reaches the client's own video sender.
    let now = c.anchor.now();
    c.pc.request_keyframe(now, &video_mid).unwrap();
    c.run_until("the key-frame request passed on", |c| !c.keyframe_requests.is_empty());
    assert_eq!(c.keyframe_requests, [video_mid]);

    // The channel on the same connection.
    let id = c.chat;
    let now = c.anchor.now();
    c.pc.send_text(now, id, "still here").unwrap();
    c.run_until("the channel echo", |c| !c.messages.is_empty());
    assert_eq!(c.messages, [b"still here".to_vec()]);
}

#[test]
fn echo_server_echoes_audio_and_video() {
    let http: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = server::Server::start(&server::Config { http, udp: None }).unwrap();
    media_echo(&server);
}

#[test]
fn tokio_echo_echoes_audio_and_video() {
    let http: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = server::Server::start_with(&server::Config { http, udp: None }, tokio_echo::udp_loop).unwrap();
    media_echo(&server);
}

/// `--record DIR`: media is echoed as without it, and the journal, which holds the media calls
/// (`add_track`, `write_rtp`, `request_keyframe`), replays identically with the replay example.
#[test]
fn recorded_echo_server_echoes_audio_and_video_and_replays() {
    use sansrtc::record::{Call, Journal};
    let dir = std::env::temp_dir().join(format!("sansrtc-echo-media-record-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let http: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let config = server::Config { http, udp: None };
    let mut server =
        server::Server::start_recording(&config, &server::HttpOptions::default(), None, Some(dir.clone())).unwrap();
    media_echo(&server);
    server.shutdown();
    let journals: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "journal"))
        .collect();
    assert_eq!(journals.len(), 1, "{journals:?}");
    let bytes = std::fs::read(&journals[0]).unwrap();
    let (mut tracks, mut rtp, mut keyframes) = (0, 0, 0);
    for entry in Journal::parse(&bytes).unwrap().entries() {
        match entry.unwrap().call {
            Call::AddTrack { .. } => tracks += 1,
            Call::WriteRtp { .. } => rtp += 1,
            Call::RequestKeyframe { .. } => keyframes += 1,
            _ => {}
        }
    }
    // Two tracks of the server's own; 40 packets echoed (20 audio, 20 video, one of them once repaired);
    // the client's key-frame request passed on.
    assert_eq!((tracks, rtp, keyframes), (2, 40, 1), "media calls in the journal");
    let mut out = Vec::new();
    let verdict = replay_example::replay(&bytes, false, &mut out).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert_eq!(verdict, replay_example::Verdict::Identical, "{out}");
    assert!(out.contains("identical: every output matched"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
