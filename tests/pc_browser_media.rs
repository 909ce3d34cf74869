//! Browser interop with media: headless Chromium and Firefox ESR (fake camera and microphone) and a sansrtc
//! peer connection on loopback negotiate audio, video and a data channel, the browser offering or
//! answering sansrtc's offer. sansrtc sends on tracks of its own (sendrecv), echoes every RTP packet it
//! receives back on its own SSRCs (the browser decodes its own Opus and VP8 coming back), relays the
//! browser's key-frame requests to the browser's encoder with `request_keyframe`, and answers "ping" on
//! the channel. The page reports what `getStats()` saw: packets received on both tracks, video frames
//! decoded, the channel's answer. Each test skips (with a message) when its browser is absent, or fails
//! under CI (`tests/support/tool.rs`). The browsers are started and killed by `tests/support/browser.rs`.
//!
//! `capture_chromium_rtp` (ignored: run it by hand) records the RTP and RTCP fixtures of
//! `vectors/browser/chromium-rtp/` in such a session.

use core::net::SocketAddr;
use core::time::Duration;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, channel};

use sansrtc::pc::{
    ChannelOptions, Config, Description, Event, KeyframeRequestKind, MediaKind, OutgoingRtp, PeerConnection, Track,
};
use sansrtc::time::StdAnchor;
use sansrtc::{Datagram, Machine, PathMachine, SeededRng};

#[allow(dead_code)]
#[path = "support/browser.rs"]
mod browser;
#[allow(dead_code)]
#[path = "support/echo_server.rs"]
mod echo_server;
#[path = "support/tool.rs"]
mod tool;

use browser::{Browser, Kind};
const TIMEOUT: Duration = Duration::from_secs(60);

const PAGE: &str = r#"<!doctype html><meta charset="utf-8"><title>sansrtc media</title><script>
async function main() {
  const report = { errors: [] };
  try {
    const pc = new RTCPeerConnection();
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 320, height: 240, frameRate: 15 } });
    let pong = null;
    const t0 = performance.now();
    const chatLog = [];
    const note = (what) => chatLog.push(what + '@' + Math.round(performance.now() - t0));
    const ping = (dc) => { note('ping'); dc.send('ping'); };
    const chat = (dc) => {
      dc.onopen = () => { note('open'); ping(dc); };
      dc.onmessage = (e) => { note('message'); pong = e.data; };
      dc.onclose = () => note('close');
      dc.onerror = (e) => note('error ' + (e.error && e.error.message));
    };
    pc.onconnectionstatechange = () => note('pc ' + pc.connectionState);
    const tracks = [];
    pc.ontrack = (e) => tracks.push(e.track.kind + ':' + e.streams.map((s) => s.id).join(','));
    const gathered = () => new Promise((r) => {
      if (pc.iceGatheringState === 'complete') r();
      pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') r(); };
    });
    if (location.search === '?answer') {
      // sansrtc offers; the browser's tracks take the transceivers its offer made (addTrack), and the
      // channel sansrtc created arrives as a datachannel event.
      pc.ondatachannel = (e) => {
        note('datachannel ' + e.channel.readyState);
        chat(e.channel);
        if (e.channel.readyState === 'open') ping(e.channel);
      };
      const offer = await (await fetch('/offer-from-sansrtc')).text();
      await pc.setRemoteDescription({ type: 'offer', sdp: offer });
      for (const t of stream.getTracks()) pc.addTrack(t, stream);
      await pc.setLocalDescription(await pc.createAnswer());
      await gathered();
      await fetch('/answer', { method: 'POST', body: pc.localDescription.sdp });
    } else {
      for (const t of stream.getTracks()) pc.addTrack(t, stream);
      chat(pc.createDataChannel('chat'));
      await pc.setLocalDescription(await pc.createOffer());
      await gathered();
      const res = await fetch('/offer', { method: 'POST', body: pc.localDescription.sdp });
      await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
    }
    const deadline = Date.now() + 40000;
    let s = {};
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      s = {};
      (await pc.getStats()).forEach((x) => {
        if (x.type === 'inbound-rtp') {
          s[x.kind + 'In'] = x.packetsReceived;
          if (x.kind === 'video') s.framesDecoded = x.framesDecoded;
        }
        if (x.type === 'outbound-rtp') s[x.kind + 'Out'] = x.packetsSent;
        if (x.type === 'transport') s.srtpCipher = x.srtpCipher;
      });
      if (pong && s.framesDecoded >= 30 && s.audioIn >= 100) break;
    }
    Object.assign(report, s, { pong, tracks, state: pc.connectionState, chatLog });
  } catch (e) {
    report.errors.push(String(e));
  }
  await fetch('/report', { method: 'POST', body: JSON.stringify(report) });
}
main();
</script>"#;

enum Request {
    /// The browser's offer, and where the answer goes.
    Offer(String, Sender<String>),
    /// The browser asks for sansrtc's offer.
    FetchOffer(Sender<String>),
    /// The browser's answer to it.
    Answer(String),
    Report(String),
}

/// A minimal HTTP server: GET / gives the page, POST /offer waits for the answer, POST /report hands the
/// report over.
fn serve(listener: TcpListener, requests: Sender<Request>) {
    for stream in listener.incoming().flatten() {
        let requests = requests.clone();
        std::thread::spawn(move || {
            let _ = handle(stream, &requests);
        });
    }
}

fn handle(mut stream: TcpStream, requests: &Sender<Request>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let (method, path) = {
        let mut parts = line.split_whitespace();
        (parts.next().unwrap_or_default().to_string(), parts.next().unwrap_or_default().to_string())
    };
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header)?;
        if header.trim().is_empty() {
            break;
        }
        if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    let body = String::from_utf8_lossy(&body).into_owned();
    let (status, kind, reply) = match (method.as_str(), path.as_str()) {
        ("GET", "/" | "/?answer") => ("200 OK", "text/html", PAGE.to_string()),
        ("GET", "/offer-from-sansrtc") => {
            let (tx, rx) = channel();
            let _ = requests.send(Request::FetchOffer(tx));
            ("200 OK", "application/sdp", rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default())
        }
        ("POST", "/answer") => {
            let _ = requests.send(Request::Answer(body));
            ("200 OK", "text/plain", String::new())
        }
        ("POST", "/offer") => {
            let (tx, rx) = channel();
            let _ = requests.send(Request::Offer(body, tx));
            ("200 OK", "application/sdp", rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default())
        }
        ("POST", "/report") => {
            let _ = requests.send(Request::Report(body));
            ("200 OK", "text/plain", String::new())
        }
        _ => ("404 Not Found", "text/plain", String::new()),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
        reply.len()
    )
}

/// A number out of the report (`"key":123`).
fn json_number(json: &str, key: &str) -> Option<u64> {
    let start = json.find(&format!("\"{key}\":"))? + key.len() + 3;
    let digits: String = json[start..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// What the sansrtc side saw.
#[derive(Debug, Default)]
struct Seen {
    rtp_audio: u64,
    rtp_video: u64,
    echoed: u64,
    keyframe_requests_relayed: u64,
    tracks: Vec<(MediaKind, Vec<String>)>,
    srtp_profile: Option<String>,
    /// Connection and channel events, in order (at most 32).
    events: Vec<String>,
}

impl Seen {
    fn note(&mut self, event: String) {
        if self.events.len() < 32 {
            self.events.push(event);
        }
    }
}

/// The sansrtc side: answers the offer, then runs the README loop on a real UDP socket until the report
/// comes.
fn run(requests: &Receiver<Request>, browser: &Browser, mut capture: Option<&mut Capture>) -> (String, Seen, String) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("udp socket");
    let local: SocketAddr = socket.local_addr().expect("address");
    let anchor = StdAnchor::starting_now();
    let now = || anchor.to_instant(std::time::Instant::now());
    let mut pc = PeerConnection::new(Config::default(), SeededRng::from_seed([77; 32]));
    pc.add_local_host(now(), local).unwrap();
    pc.end_of_local_candidates(now());
    pc.add_track(now(), Track::new(MediaKind::Audio, "echo-audio"), &["echo"]).unwrap();
    pc.add_track(now(), Track::new(MediaKind::Video, "echo-video"), &["echo"]).unwrap();
    let mut seen = Seen::default();
    let mut answer_sdp = String::new();
    let mut buf = vec![0u8; 2048];
    let started = std::time::Instant::now();
    let mut report = None;
    loop {
        // Capturing: the page's report waits until every kind of packet was kept (or 20 s have passed).
        if let Some(r) = report.take_if(|_| capture.as_ref().is_none_or(|c| c.done(started.elapsed()))) {
            return (r, seen, answer_sdp);
        }
        assert!(
            started.elapsed() < TIMEOUT,
            "no report from the browser within {TIMEOUT:?}: {seen:?}\n{:?}\n{}",
            pc.stats(),
            browser.log_tail()
        );
        match requests.try_recv() {
            Ok(Request::Offer(offer, reply)) => {
                pc.set_remote_description(now(), &Description::offer(offer)).expect("Chromium's offer");
                let answer = pc.create_answer().unwrap();
                pc.set_local_description(now(), &answer).unwrap();
                answer_sdp = answer.sdp.clone();
                let _ = reply.send(answer.sdp);
            }
            Ok(Request::FetchOffer(reply)) => {
                pc.create_data_channel(now(), ChannelOptions::new("chat")).unwrap();
                let offer = pc.create_offer().unwrap();
                pc.set_local_description(now(), &offer).unwrap();
                let _ = reply.send(offer.sdp);
            }
            Ok(Request::Answer(answer)) => {
                pc.set_remote_description(now(), &Description::answer(answer.clone())).expect("the browser's answer");
                answer_sdp = answer;
            }
            Ok(Request::Report(r)) => report = Some(r),
            Err(_) => {}
        }
        // 1. What arrived (waiting at most until the connection's deadline, or 10 ms for the HTTP side).
        let wait = pc.poll_timeout().map_or(Duration::from_millis(10), |t| {
            Duration::from_nanos(t.saturating_duration_since(now()).as_nanos().min(10_000_000) as u64)
        });
        socket.set_read_timeout(Some(wait.max(Duration::from_millis(1)))).unwrap();
        while let Ok((n, source)) = socket.recv_from(&mut buf) {
            let _ = pc.handle_receive(now(), Datagram { source, destination: local, contents: &buf[..n] });
            socket.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
        }
        // 2. Timers.
        let t = now();
        if pc.poll_timeout().is_some_and(|d| d <= t) {
            pc.handle_timeout(t);
        }
        // 3 and 4: events (which may send), then transmits.
        while let Some(e) = pc.poll_event() {
            let t = now();
            if let Some(c) = capture.as_deref_mut() {
                c.event(&mut pc, t, &e, &socket);
                continue;
            }
            match e {
                Event::Rtp(p) => {
                    let kind = pc.transceiver(p.transceiver).map(|t| t.kind());
                    match kind {
                        Some(MediaKind::Audio) => seen.rtp_audio += 1,
                        _ => seen.rtp_video += 1,
                    }
                    // Echo media (not RTX or padding) on our own SSRC of the same transceiver.
                    if !p.rtx && !p.payload().is_empty() {
                        let out = OutgoingRtp {
                            marker: p.marker,
                            ..OutgoingRtp::new(p.payload_type, p.timestamp, p.payload())
                        };
                        if pc.write_rtp(t, &p.mid, &out).is_ok() {
                            seen.echoed += 1;
                        }
                    }
                }
                Event::KeyframeRequest { mid, kind: KeyframeRequestKind::Pli | KeyframeRequestKind::Fir, .. }
                    if pc.request_keyframe(t, &mid).is_ok() =>
                {
                    seen.keyframe_requests_relayed += 1;
                }
                Event::Track { kind, stream_ids, .. } => seen.tracks.push((kind, stream_ids)),
                Event::Message { id, data, binary: false } if &data[..] == b"ping" => {
                    seen.note(format!("ping on {id}"));
                    pc.send_text(t, id, "pong").unwrap();
                }
                Event::ConnectionState(s) => {
                    seen.note(format!("{s:?}"));
                    if s == sansrtc::pc::ConnectionState::Connected {
                        seen.srtp_profile = pc.srtp_profile().map(|p| format!("{p:?}"));
                    }
                }
                e @ (Event::DataChannel { .. }
                | Event::ChannelOpen(_)
                | Event::ChannelClose(_)
                | Event::Message { .. }
                | Event::IceConnectionState(_)) => seen.note(format!("{e:?}")),
                _ => {}
            }
        }
        while let Some(t) = pc.poll_transmit() {
            let _ = socket.send_to(t.contents, t.destination);
        }
    }
}

/// One browser's run: the page, the offer/answer (the browser offers, or with `sansrtc_offers` answers
/// sansrtc's offer), the echo, the report and the checks on both sides.
fn round_trip(kind: Kind, sansrtc_offers: bool) {
    if !kind.available() {
        return;
    }
    let program = kind.program();
    let listener = TcpListener::bind("127.0.0.1:0").expect("http");
    let url = format!("http://{}/{}", listener.local_addr().unwrap(), if sansrtc_offers { "?answer" } else { "" });
    let (tx, rx) = channel();
    std::thread::spawn(move || serve(listener, tx));
    let browser = Browser::launch(kind, &url);
    let (report, seen, answer) = run(&rx, &browser, None);
    drop(browser);
    println!("{program}'s report: {report}\nsansrtc saw: {seen:?}");
    assert!(report.contains("\"errors\":[]"), "page errors: {report}\nanswer:\n{answer}");
    assert!(report.contains("\"pong\":\"pong\""), "the data channel answered: {report}\n{seen:?}");
    assert!(report.contains("\"state\":\"connected\""), "{report}");
    // The browser got sansrtc's tracks (with their stream), and decoded its own video coming back.
    assert!(report.contains("audio:echo") && report.contains("video:echo"), "{report}");
    assert!(json_number(&report, "audioIn").is_some_and(|n| n >= 100), "{report}");
    assert!(json_number(&report, "framesDecoded").is_some_and(|n| n >= 30), "{report}");
    // sansrtc got the browser's tracks and packets on both.
    assert_eq!(seen.tracks.len(), 2, "{seen:?}");
    assert!(seen.rtp_audio >= 100 && seen.rtp_video >= 30 && seen.echoed > 0, "{seen:?}");
    assert!(seen.srtp_profile.is_some());
}

#[test]
fn chromium_offers_media() {
    round_trip(Kind::Chromium, false);
}

#[test]
fn firefox_offers_media() {
    round_trip(Kind::Firefox, false);
}

#[test]
fn chromium_answers_our_media_offer() {
    round_trip(Kind::Chromium, true);
}

#[test]
fn firefox_answers_our_media_offer() {
    round_trip(Kind::Firefox, true);
}

/// What [`capture_chromium_rtp`] keeps: the first packet of each kind, as the connection delivered it
/// (decrypted `Event::Rtp` and `Event::Rtcp` bytes).
#[derive(Default)]
struct Capture {
    files: Vec<(&'static str, Vec<u8>)>,
    video_echoed: u64,
    /// The transport-wide sequence number of our next echoed packet (so that Chromium sends feedback).
    twcc: u16,
    /// Chromium's video SSRC and latest sequence number (for the NACK we send).
    video: Option<(u32, u16)>,
    nack_sent: bool,
}

/// The kinds kept, each in `NAME.bin`.
const CAPTURED: &[&str] =
    &["vp8-keyframe-start", "vp8-delta", "opus", "rtx", "rtcp-sr-sdes", "rtcp-twcc", "rtcp-nack", "rtcp-pli"];

impl Capture {
    fn keep(&mut self, name: &'static str, bytes: &[u8]) {
        if !self.files.iter().any(|(n, _)| *n == name) {
            self.files.push((name, bytes.to_vec()));
        }
    }

    fn done(&self, elapsed: Duration) -> bool {
        elapsed > Duration::from_secs(20) || CAPTURED.iter().all(|n| self.files.iter().any(|(f, _)| f == n))
    }

    /// Keeps what is new, echoes media with transport-wide sequence numbers; one echoed video packet in
    /// the 100th is never sent (Chromium asks for it again with a NACK, then a PLI), and a NACK of ours
    /// makes Chromium retransmit one of its packets (RTX).
    fn event(&mut self, pc: &mut PeerConnection, t: sansrtc::Instant, e: &Event, socket: &UdpSocket) {
        use sansrtc::pc::RtpPacket;
        use sansrtc::rtcp::{Compound, RtcpPacket};
        use sansrtc::rtp::ExtensionValue;
        let flush = |pc: &mut PeerConnection, send: bool| {
            while let Some(t) = pc.poll_transmit() {
                if send {
                    let _ = socket.send_to(t.contents, t.destination);
                }
            }
        };
        match e {
            Event::Rtp(p) => {
                let p: &RtpPacket = p;
                let kind = pc.transceiver(p.transceiver).map(|t| t.kind());
                let payload = p.payload();
                match kind {
                    _ if p.rtx && payload.len() > 2 => self.keep("rtx", p.as_bytes()),
                    Some(MediaKind::Audio) if !payload.is_empty() => self.keep("opus", p.as_bytes()),
                    Some(MediaKind::Video) if !p.rtx && !payload.is_empty() => {
                        self.video = Some((p.ssrc, p.sequence_number as u16));
                        match vp8_start(payload) {
                            Some(true) => self.keep("vp8-keyframe-start", p.as_bytes()),
                            Some(false) => self.keep("vp8-delta", p.as_bytes()),
                            None => {}
                        }
                    }
                    _ => {}
                }
                if p.rtx || payload.is_empty() {
                    return;
                }
                flush(pc, true);
                let ext = [ExtensionValue::TransportWideCc(self.twcc)];
                let out = OutgoingRtp {
                    marker: p.marker,
                    extensions: &ext,
                    ..OutgoingRtp::new(p.payload_type, p.timestamp, payload)
                };
                if pc.write_rtp(t, &p.mid, &out).is_ok() {
                    self.twcc = self.twcc.wrapping_add(1);
                    let video = kind == Some(MediaKind::Video);
                    self.video_echoed += u64::from(video);
                    // Lost on the way: the 100th echoed video packet.
                    flush(pc, !(video && self.video_echoed == 100));
                }
                if let Some((ssrc, seq)) = self.video.filter(|_| !self.nack_sent && self.video_echoed >= 150) {
                    let mut nack = Vec::new();
                    let sender = pc.transceivers().find_map(|t| t.ssrcs().next()).map_or(1, |(_, s, _)| s);
                    let mut w = sansrtc::rtcp::Writer::new(&mut nack);
                    w.nack_lost(sender, ssrc, [seq.wrapping_sub(3)]).unwrap();
                    self.nack_sent = pc.write_rtcp(t, &nack).is_ok();
                }
            }
            Event::Rtcp(bytes) => {
                let mut kinds = Vec::new();
                for p in Compound::new(bytes).flatten() {
                    kinds.push(match p {
                        RtcpPacket::SenderReport(_) => "sr",
                        RtcpPacket::Sdes(_) => "sdes",
                        RtcpPacket::TransportCc(_) => "twcc",
                        RtcpPacket::Nack(_) => "nack",
                        RtcpPacket::Pli(_) => "pli",
                        _ => "other",
                    });
                }
                if kinds.contains(&"sr") && kinds.contains(&"sdes") {
                    self.keep("rtcp-sr-sdes", bytes);
                }
                for (k, name) in [("twcc", "rtcp-twcc"), ("nack", "rtcp-nack"), ("pli", "rtcp-pli")] {
                    if kinds.contains(&k) {
                        self.keep(name, bytes);
                    }
                }
            }
            Event::KeyframeRequest { mid, .. } => {
                let _ = pc.request_keyframe(t, mid);
            }
            Event::Message { id, data, binary: false } if &data[..] == b"ping" => {
                pc.send_text(t, *id, "pong").unwrap();
            }
            _ => {}
        }
    }
}

/// Whether a VP8 RTP payload starts a frame (RFC 7741 §4.2: S set, partition 0), and if so whether
/// that frame is a key frame (the P bit of the VP8 payload header clear, §4.3).
fn vp8_start(payload: &[u8]) -> Option<bool> {
    let first = *payload.first()?;
    if first & 0x10 == 0 || first & 0x07 != 0 {
        return None;
    }
    let mut at = 1;
    if first & 0x80 != 0 {
        let x = *payload.get(1)?;
        at = 2;
        if x & 0x80 != 0 {
            at += if payload.get(at)? & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            at += 1;
        }
        if x & 0x30 != 0 {
            at += 1;
        }
    }
    Some(payload.get(at)? & 0x01 == 0)
}

/// Captures RTP and RTCP as Chromium sends them (decrypted, as `Event::Rtp` and `Event::Rtcp` deliver
/// them) into `vectors/browser/chromium-rtp/`, with Chromium's offer and sansrtc's answer, for
/// `tests/browser_rtp_fixtures.rs`. Run by hand to refresh the fixtures:
/// `cargo test --all-features --test pc_browser_media capture_chromium_rtp -- --ignored`.
#[test]
#[ignore = "writes the fixtures in vectors/browser/chromium-rtp/"]
fn capture_chromium_rtp() {
    if !Kind::Chromium.available() {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").expect("http");
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let (tx, rx) = channel();
    let (offer_tx, offer_rx) = channel::<Request>();
    // The offer passes through here on its way, so that it can be saved.
    let (copy_tx, copy_rx) = channel::<String>();
    std::thread::spawn(move || {
        for r in rx {
            if let Request::Offer(sdp, _) = &r {
                let _ = copy_tx.send(sdp.clone());
            }
            let _ = offer_tx.send(r);
        }
    });
    std::thread::spawn(move || serve(listener, tx));
    let browser = Browser::launch(Kind::Chromium, &url);
    let mut capture = Capture::default();
    let (report, _, answer) = run(&offer_rx, &browser, Some(&mut capture));
    drop(browser);
    println!("report: {report}");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors/browser/chromium-rtp");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("offer.sdp"), copy_rx.try_recv().expect("the offer")).unwrap();
    std::fs::write(dir.join("answer.sdp"), answer.as_bytes()).unwrap();
    for (name, bytes) in &capture.files {
        std::fs::write(dir.join(format!("{name}.bin")), bytes).unwrap();
        println!("{name}: {} bytes", bytes.len());
    }
    let missing: Vec<&&str> = CAPTURED.iter().filter(|n| !capture.files.iter().any(|(f, _)| f == *n)).collect();
    println!("not captured: {missing:?}");
}
