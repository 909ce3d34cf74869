//! RED for Opus (RFC 2198) with headless Chromium and its fake microphone. Chromium 156 offers
//! `a=rtpmap:63 red/48000/2` with `a=fmtp:63 111/111` by default; sansrtc answers with RED first in
//! its codec preferences (so Chromium sends RED) and `Config::red_distance` 1 (so it sends RED too),
//! unwraps Chromium's RED into Opus packets and echoes them back on its own track, wrapped again.
//! Checked: the answer carries RED first; every packet sansrtc received travelled as RED and came out
//! as Opus; Chromium's `getStats()` shows it sending `audio/red` and receiving audio (packets and
//! decoded samples on its inbound-rtp). Skips (with a message) without Chromium, fails under CI
//! (`tests/support/tool.rs`).

use core::net::SocketAddr;
use core::time::Duration;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::sync::mpsc::{Sender, channel};

use sansrtc::pc::{Codec, Config, Description, Event, MediaKind, OutgoingRtp, PeerConnection, Track};
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

use browser::{Browser, Kind, json_number, json_str};

const TIMEOUT: Duration = Duration::from_secs(60);

const PAGE: &str = r#"<!doctype html><meta charset="utf-8"><title>sansrtc RED</title><script>
async function main() {
  const report = { errors: [] };
  try {
    const pc = new RTCPeerConnection();
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    for (const t of stream.getTracks()) pc.addTrack(t, stream);
    // Played, so that Chromium decodes what arrives (samples are counted as the output pulls them).
    pc.ontrack = (e) => {
      const audio = document.createElement('audio');
      audio.autoplay = true;
      audio.srcObject = e.streams[0] || new MediaStream([e.track]);
      document.body.appendChild(audio);
    };
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((r) => {
      if (pc.iceGatheringState === 'complete') r();
      pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') r(); };
    });
    report.offer = pc.localDescription.sdp;
    const res = await fetch('/offer', { method: 'POST', body: pc.localDescription.sdp });
    await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
    const deadline = Date.now() + 40000;
    let s = {};
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      s = {};
      const stats = await pc.getStats();
      const codec = (id) => { const c = id && stats.get(id); return c ? c.mimeType : null; };
      stats.forEach((x) => {
        if (x.type === 'inbound-rtp' && x.kind === 'audio') {
          s.audioIn = x.packetsReceived;
          s.samplesIn = x.totalSamplesReceived;
          s.concealedIn = x.concealedSamples;
          s.inCodec = codec(x.codecId);
        }
        if (x.type === 'outbound-rtp' && x.kind === 'audio') {
          s.audioOut = x.packetsSent;
          s.outCodec = codec(x.codecId);
        }
      });
      if (s.audioIn >= 150 && s.samplesIn > 0) break;
    }
    Object.assign(report, s, { state: pc.connectionState });
  } catch (e) {
    report.errors.push(String(e));
  }
  await fetch('/report', { method: 'POST', body: JSON.stringify(report) });
}
main();
</script>"#;

enum Request {
    Offer(String, Sender<String>),
    Report(String),
}

fn serve(listener: TcpListener, requests: Sender<Request>) {
    for stream in listener.incoming().flatten() {
        let requests = requests.clone();
        std::thread::spawn(move || {
            let _ = handle(stream, &requests);
        });
    }
}

/// GET / gives the page, POST /offer waits for the answer, POST /report hands the report over.
fn handle(mut stream: TcpStream, requests: &Sender<Request>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or_default().to_string(), parts.next().unwrap_or_default().to_string());
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
        ("GET", "/") => ("200 OK", "text/html", PAGE.to_string()),
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

/// What sansrtc saw.
#[derive(Debug, Default)]
struct Seen {
    /// Audio packets delivered, and of them those that arrived as RED (payload type 63 on the wire)
    /// and came out as Opus (111), and those recovered from redundancy.
    audio: u64,
    red_unwrapped: u64,
    recovered: u64,
    echoed: u64,
    padding: u64,
}

#[test]
fn chromium_negotiates_red_and_audio_flows() {
    if !Kind::Chromium.available() {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").expect("http");
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let (tx, requests) = channel();
    std::thread::spawn(move || serve(listener, tx));
    let browser = Browser::launch(Kind::Chromium, &url);

    let socket = UdpSocket::bind("127.0.0.1:0").expect("udp socket");
    let local: SocketAddr = socket.local_addr().expect("address");
    let anchor = StdAnchor::starting_now();
    let now = || anchor.to_instant(std::time::Instant::now());
    let config = Config { red_distance: 1, ..Config::default() };
    let mut pc = PeerConnection::new(config, SeededRng::from_seed([63; 32]));
    pc.add_local_host(now(), local).unwrap();
    pc.end_of_local_candidates(now());
    let audio = pc.add_track(now(), Track::new(MediaKind::Audio, "echo-audio"), &["echo"]).unwrap();
    pc.set_codec_preferences(audio, &[Codec::red(), Codec::opus()]).unwrap();
    let mut seen = Seen::default();
    let mut answer = String::new();
    let mut buf = vec![0u8; 2048];
    let started = std::time::Instant::now();
    let report = loop {
        assert!(
            started.elapsed() < TIMEOUT,
            "no report from Chromium within {TIMEOUT:?}: {seen:?}\n{:?}\n{}",
            pc.stats(),
            browser.log_tail()
        );
        match requests.try_recv() {
            Ok(Request::Offer(offer, reply)) => {
                pc.set_remote_description(now(), &Description::offer(offer)).expect("Chromium's offer");
                let a = pc.create_answer().unwrap();
                pc.set_local_description(now(), &a).unwrap();
                answer = a.sdp.clone();
                let _ = reply.send(a.sdp);
            }
            Ok(Request::Report(r)) => break r,
            Err(_) => {}
        }
        // The README loop: input (waiting at most until the deadline, or 10 ms for the HTTP side),
        // timers, events, transmits.
        let wait = pc.poll_timeout().map_or(Duration::from_millis(10), |t| {
            Duration::from_nanos(t.saturating_duration_since(now()).as_nanos().min(10_000_000) as u64)
        });
        socket.set_read_timeout(Some(wait.max(Duration::from_millis(1)))).unwrap();
        while let Ok((n, source)) = socket.recv_from(&mut buf) {
            let _ = pc.handle_receive(now(), Datagram { source, destination: local, contents: &buf[..n] });
            socket.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
        }
        let t = now();
        if pc.poll_timeout().is_some_and(|d| d <= t) {
            pc.handle_timeout(t);
        }
        while let Some(e) = pc.poll_event() {
            if let Event::Rtp(p) = e {
                if p.payload().is_empty() {
                    // Padding (Chromium probes the path's bandwidth at first).
                    seen.padding += 1;
                    continue;
                }
                seen.audio += 1;
                let wire_pt = p.as_bytes().get(1).map(|b| b & 0x7f);
                if wire_pt == Some(63) && p.payload_type == 111 {
                    seen.red_unwrapped += 1;
                }
                seen.recovered += u64::from(p.recovered);
                // Echo the Opus packet on our own track: it goes out as RED again.
                let out =
                    OutgoingRtp { marker: p.marker, ..OutgoingRtp::new(p.payload_type, p.timestamp, p.payload()) };
                if pc.write_rtp(now(), &p.mid, &out).is_ok() {
                    seen.echoed += 1;
                }
            }
        }
        while let Some(t) = pc.poll_transmit() {
            let _ = socket.send_to(t.contents, t.destination);
        }
    };
    drop(browser);
    let offer = json_str(&report, "offer").unwrap_or_default().replace("\\r\\n", "\n");
    println!(
        "Chromium's report: {}\nsansrtc saw: {seen:?}\nmedia stats: {:?}",
        report.replace(json_str(&report, "offer").unwrap_or_default(), "…"),
        pc.media_stats()
    );
    assert!(report.contains("\"errors\":[]"), "page errors: {report}");
    assert!(report.contains("\"state\":\"connected\""), "{report}");
    // Chromium offered RED for Opus, and the answer put it first.
    assert!(offer.contains("a=rtpmap:63 red/48000/2") && offer.contains("a=fmtp:63 111/111"), "{offer}");
    let m_audio = answer.lines().find(|l| l.starts_with("m=audio")).unwrap_or_default();
    assert!(m_audio.ends_with(" 63 111"), "{answer}");
    assert!(answer.contains("a=rtpmap:63 red/48000/2\r\n") && answer.contains("a=fmtp:63 111/111\r\n"), "{answer}");
    // Chromium sent RED (its stats name the encoder, Opus, whatever the payload type: the proof is
    // on the wire); sansrtc unwrapped every packet into Opus.
    assert!(seen.audio >= 150, "{seen:?}");
    assert_eq!(seen.red_unwrapped, seen.audio, "every packet came as RED and left as Opus: {seen:?}");
    // Chromium received sansrtc's RED and played it.
    assert!(json_number(&report, "audioIn").is_some_and(|n| n >= 150), "{report}");
    let samples = json_number(&report, "samplesIn").unwrap_or(0);
    let concealed = json_number(&report, "concealedIn").unwrap_or(u64::MAX);
    assert!(samples > 48_000, "at least a second of audio decoded: {report}");
    assert!(concealed < samples / 2, "most of it decoded, not concealed: {report}");
    assert_eq!(pc.stats().rtp_malformed, 0);
    assert!(seen.echoed > 0);
}
