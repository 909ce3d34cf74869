//! Simulcast with headless Chromium (fake camera), a sansrtc peer connection in the test on a UDP socket
//! on 127.0.0.1, the signalling over a small HTTP server of the test's own.
//!
//! - **Chromium sends**: the page adds its camera (1280×720) with `sendEncodings` `q` (¼ scale), `h` (½)
//!   and `f`, and offers; sansrtc answers `a=simulcast:recv q;h;f`. Each of the three layers arrives on
//!   its own SSRC, bound to its rid (the packet events and `inbound-rtp`); its retransmissions (RTX on
//!   SSRCs the offer does not announce, provoked by dropping one RTP datagram in 40 before sansrtc sees
//!   it, once all three layers are up) are bound to the layer by the repaired-rid extension and
//!   restored onto it; and the key
//!   frames assembled with `FrameAssembler` have three sizes, ¼, ½ and all of what Chromium's
//!   `outbound-rtp` reports for the same rids.
//! - **Chromium receives**: sansrtc offers three VP8 encodings with rids (`a=simulcast:send f;h;q`) for
//!   ffmpeg-made files at 1280×720, 640×360 and 320×180. Chromium 156 answers without `a=simulcast` and
//!   without `a=rid` (libwebrtc negotiates simulcast for sending only), which accepts no layer: sansrtc
//!   then sends the first encoding alone, without a rid (RFC 8853 §5.3), and refuses frames for the
//!   others. Chromium's `inbound-rtp` shows that one stream, on the first encoding's SSRC, decoded at
//!   1280×720.
//!
//! Skips when Chromium or ffmpeg is missing, fails under CI (`tests/support/tool.rs`).

extern crate alloc;

use alloc::collections::BTreeMap;
use core::net::SocketAddr;
use core::time::Duration;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant as WallInstant;

#[allow(dead_code)]
#[path = "support/browser.rs"]
mod browser;
#[allow(dead_code)]
#[path = "support/echo_server.rs"]
mod echo_server;
#[path = "support/tool.rs"]
mod tool;

use sansrtc::media_file::IvfReader;
use sansrtc::pc::{
    Config, Description, Direction, Event, FrameAssembler, MediaKind, OutgoingFrame, PeerConnection, RtcStats,
    SendEncoding, TransceiverId, TransceiverInit,
};
use sansrtc::{Datagram, Machine, PathMachine, SeededRng, StdAnchor};

use browser::{Browser, Kind, json_number, json_str};
use echo_server::Scratch;

/// Bound on one run.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The page: `?send` offers the camera in three layers; `?recv` answers sansrtc's offer. Either way it
/// waits for `/status` to say `done`, then posts its statistics to `/report`.
const PAGE: &str = r#"<!doctype html><html><body><video id="v" autoplay muted playsinline></video><script>
const errors = [];
window.onerror = (m) => errors.push(String(m));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function gathered(pc) {
  while (pc.iceGatheringState !== 'complete') await sleep(50);
}
async function run() {
  const pc = new RTCPeerConnection();
  const mode = location.search.slice(1);
  if (mode === 'send') {
    const stream = await navigator.mediaDevices.getUserMedia({video: {width: 1280, height: 720, frameRate: 30}});
    pc.addTransceiver(stream.getVideoTracks()[0], {direction: 'sendonly', sendEncodings: [
      {rid: 'q', scaleResolutionDownBy: 4}, {rid: 'h', scaleResolutionDownBy: 2}, {rid: 'f'}]});
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const r = await fetch('/offer', {method: 'POST', body: pc.localDescription.sdp});
    await pc.setRemoteDescription({type: 'answer', sdp: await r.text()});
  } else {
    pc.ontrack = (e) => { document.getElementById('v').srcObject = new MediaStream([e.track]); };
    const offer = await (await fetch('/offer')).text();
    await pc.setRemoteDescription({type: 'offer', sdp: offer});
    await pc.setLocalDescription(await pc.createAnswer());
    await gathered(pc);
    await fetch('/answer', {method: 'POST', body: pc.localDescription.sdp});
  }
  for (let i = 0; i < 200; i++) {
    await sleep(250);
    if ((await (await fetch('/status')).text()) === 'done') break;
  }
  const streams = [];
  (await pc.getStats()).forEach((s) => {
    if (s.type === 'outbound-rtp' || s.type === 'inbound-rtp') {
      streams.push({type: s.type, rid: s.rid || '', ssrc: s.ssrc, packets: s.packetsSent || s.packetsReceived || 0,
        frameWidth: s.frameWidth || 0, frameHeight: s.frameHeight || 0,
        framesDecoded: s.framesDecoded || 0, framesEncoded: s.framesEncoded || 0,
        limitation: s.qualityLimitationReason || '', active: s.active});
    }
  });
  const sdp = (pc.remoteDescription.type === 'answer' ? pc.localDescription : pc.remoteDescription).sdp;
  const local = pc.localDescription.sdp;
  return {ok: true, streams, simulcast: (local.match(/a=simulcast:[^\r\n]*/) || [''])[0],
    rids: local.match(/a=rid:[^\r\n]*/g) || [], offerSimulcast: (sdp.match(/a=simulcast:[^\r\n]*/) || [''])[0]};
}
run().then((r) => fetch('/report', {method: 'POST', body: JSON.stringify({...r, errors})}),
  (e) => fetch('/report', {method: 'POST', body: JSON.stringify({ok: false, errors: [...errors, String(e)]})}));
</script></body></html>"#;

/// One HTTP request: method, path (with its query), body.
struct Request {
    method: String,
    path: String,
    body: String,
}

/// The test's HTTP server, polled from the test's loop (no thread, nothing blocking: a connection the
/// browser opens ahead of a request waits without holding the loop up); a request is answered once it
/// is whole.
struct Http {
    listener: TcpListener,
    url: String,
    /// Open connections and what each has sent so far.
    connections: Vec<(TcpStream, Vec<u8>)>,
}

impl Http {
    fn start() -> Http {
        let listener = TcpListener::bind("127.0.0.1:0").expect("HTTP listener");
        listener.set_nonblocking(true).expect("non-blocking");
        let url = format!("http://{}/", listener.local_addr().expect("address"));
        Http { listener, url, connections: Vec::new() }
    }

    /// Reads what has arrived and answers each request that is whole: `handle` gives the status, content
    /// type and body.
    fn poll(&mut self, mut handle: impl FnMut(&Request) -> (u16, &'static str, String)) {
        while let Ok((stream, _)) = self.listener.accept() {
            if stream.set_nonblocking(true).is_ok() {
                self.connections.push((stream, Vec::new()));
            }
        }
        let mut buf = [0u8; 4096];
        self.connections.retain_mut(|(stream, data)| {
            loop {
                match stream.read(&mut buf) {
                    Ok(0) => return false,
                    Ok(n) => data.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(_) => return false,
                }
            }
            let Some(request) = parse_request(data) else { return true };
            let (status, content_type, body) = handle(&request);
            let reason = if status == 200 { "OK" } else { "Not Found" };
            let _ = stream.set_nonblocking(false);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
            false
        });
    }
}

/// A whole request out of what a connection sent, or `None` while more is to come.
fn parse_request(data: &[u8]) -> Option<Request> {
    let head_end = data.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&data[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().ok()))
        .flatten()
        .unwrap_or(0);
    let body = data.get(head_end..head_end + length)?;
    let mut first = head.split_whitespace();
    let (method, path) = (first.next()?.to_string(), first.next()?.to_string());
    Some(Request { method, path, body: String::from_utf8_lossy(body).to_string() })
}

/// The sansrtc side: a peer connection on a UDP socket, driven by the README loop in wall-clock time.
struct Peer {
    pc: PeerConnection,
    socket: UdpSocket,
    local: SocketAddr,
    anchor: StdAnchor,
    /// RTP datagrams received, and those dropped on purpose before the connection saw them.
    rtp_datagrams: u64,
    dropped: u64,
}

impl Peer {
    fn new(seed: u8) -> Peer {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("UDP socket");
        let local = socket.local_addr().expect("address");
        let anchor = StdAnchor::starting_now();
        let mut pc = PeerConnection::new(Config::default(), SeededRng::from_seed([seed; 32]));
        pc.add_local_host(anchor.now(), local).expect("host");
        pc.end_of_local_candidates(anchor.now());
        Peer { pc, socket, local, anchor, rtp_datagrams: 0, dropped: 0 }
    }

    fn now(&self) -> sansrtc::Instant {
        self.anchor.now()
    }

    /// One turn: a datagram in (waiting at most until the deadline, and 5 ms), timers, events to
    /// `on_event`, transmits out. With `drop_every`, every so many RTP datagrams is dropped unseen.
    fn turn(&mut self, drop_every: Option<u64>, mut on_event: impl FnMut(&mut PeerConnection, Event)) {
        let now = self.now();
        let wait = self.pc.poll_timeout().map_or(Duration::from_millis(5), |t| t.saturating_duration_since(now));
        let wait = wait.clamp(Duration::from_micros(200), Duration::from_millis(5));
        self.socket.set_read_timeout(Some(wait)).expect("timeout");
        let mut buf = [0u8; 2048];
        if let Ok((n, source)) = self.socket.recv_from(&mut buf) {
            let data = &buf[..n];
            // RFC 7983: 128–191 is RTP or RTCP; RTCP packet types are 192–223 (RFC 5761 §4).
            let rtp = n > 12 && (128..=191).contains(&data[0]) && !(192..=223).contains(&data[1]);
            let mut keep = true;
            if rtp {
                self.rtp_datagrams += 1;
                if drop_every.is_some_and(|k| self.rtp_datagrams % k == 0) {
                    self.dropped += 1;
                    keep = false;
                }
            }
            if keep {
                let now = self.now();
                let _ = self.pc.handle_receive(now, Datagram { source, destination: self.local, contents: data });
            }
        }
        let now = self.now();
        if self.pc.poll_timeout().is_some_and(|t| t <= now) {
            self.pc.handle_timeout(now);
        }
        while let Some(e) = self.pc.poll_event() {
            on_event(&mut self.pc, e);
        }
        self.flush();
    }

    fn flush(&mut self) {
        while let Some(t) = self.pc.poll_transmit() {
            let _ = self.socket.send_to(t.contents, t.destination);
        }
    }
}

/// The width and height of a VP8 key frame (RFC 6386 §9.1), `None` for an inter frame.
fn vp8_key_frame_size(frame: &[u8]) -> Option<(u16, u16)> {
    let tag = *frame.first()?;
    if tag & 1 != 0 || frame.get(3..6)? != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let width = u16::from_le_bytes([*frame.get(6)?, *frame.get(7)?]) & 0x3fff;
    let height = u16::from_le_bytes([*frame.get(8)?, *frame.get(9)?]) & 0x3fff;
    Some((width, height))
}

/// The page's `streams` entries: (type, rid, ssrc, packets, width, height, frames decoded).
fn streams(report: &str) -> Vec<(String, String, u64, u64, u64, u64, u64)> {
    let Some(list) = report.split("\"streams\":[").nth(1) else { return Vec::new() };
    let list = list.split(']').next().unwrap_or_default();
    list.split("},")
        .map(|s| {
            let n = |k| json_number(s, k).unwrap_or(0);
            let rid = json_str(s, "rid").unwrap_or_default().to_string();
            let kind = json_str(s, "type").unwrap_or_default().to_string();
            (kind, rid, n("ssrc"), n("packets"), n("frameWidth"), n("frameHeight"), n("framesDecoded"))
        })
        .collect()
}

/// What sansrtc saw of one layer Chromium sent.
#[derive(Debug, Default)]
struct Layer {
    /// Packets of the media stream, by SSRC.
    media: BTreeMap<u32, u64>,
    /// RTX packets restored onto the layer (bound to it by repaired rid): repairs of losses, and the
    /// copies of recent packets Chromium sends as bandwidth probes.
    repaired: u64,
    /// RTX packets handed up as they came (before the layer's media stream was known), by SSRC.
    rtx: BTreeMap<u32, u64>,
    /// Sizes of the key frames assembled.
    key_frames: Vec<(u16, u16)>,
    /// Frames assembled.
    frames: u64,
}

#[test]
fn chromium_sends_three_layers_routed_by_rid() {
    if !Kind::Chromium.available() {
        return;
    }
    let mut http = Http::start();
    let mut peer = Peer::new(41);
    let mut layers: BTreeMap<String, Layer> = BTreeMap::new();
    let mut assembler: Option<FrameAssembler> = None;
    let mut answer = String::new();
    let mut report: Option<String> = None;
    let mut done = false;
    let started = WallInstant::now();
    let browser = Browser::launch(Kind::Chromium, &format!("{}?send", http.url));
    while report.is_none() {
        assert!(started.elapsed() < TIMEOUT, "no report within {TIMEOUT:?}: {layers:#?}\n{}", browser.log_tail());
        http.poll(|r| match (r.method.as_str(), r.path.as_str()) {
            ("GET", p) if p.starts_with("/?") || p == "/" => (200, "text/html", PAGE.to_string()),
            ("POST", "/offer") => {
                let now = peer.now();
                peer.pc.set_remote_description(now, &Description::offer(r.body.clone())).expect("Chromium's offer");
                let a = peer.pc.create_answer().expect("answer");
                peer.pc.set_local_description(now, &a).expect("our answer");
                answer = a.sdp.clone();
                let codecs = peer.pc.transceivers().next().map(|t| t.codecs().to_vec()).unwrap_or_default();
                assembler = Some(FrameAssembler::new(&codecs));
                (200, "application/sdp", a.sdp)
            }
            ("GET", "/status") => (200, "text/plain", if done { "done" } else { "wait" }.to_string()),
            ("POST", "/report") => {
                report = Some(r.body.clone());
                (200, "text/plain", String::new())
            }
            _ => (404, "text/plain", String::new()),
        });
        // Losses (one RTP datagram in 40 dropped) only once every layer is up, so that they do not hold
        // Chromium's bandwidth estimate down while it ramps up to the three layers.
        let up = ["q", "h", "f"].iter().all(|r| layers.get(*r).is_some_and(|l| !l.key_frames.is_empty()));
        peer.turn(up.then_some(40), |_, e| {
            let Event::Rtp(p) = e else { return };
            let rid = p.rid.as_deref().unwrap_or("-").to_string();
            let layer = layers.entry(rid).or_default();
            if p.rtx {
                *layer.rtx.entry(p.ssrc).or_default() += 1;
                return;
            }
            *layer.media.entry(p.ssrc).or_default() += 1;
            layer.repaired += u64::from(p.repaired);
            if let Some(f) = assembler.as_mut().and_then(|a| a.push(&p)) {
                layer.frames += 1;
                if let Some(size) = vp8_key_frame_size(f.data) {
                    layer.key_frames.push(size);
                }
            }
        });
        // Done when each layer has sent a key frame, a hundred packets and a retransmission.
        done = done
            || (["q", "h", "f"].iter().all(|r| {
                layers
                    .get(*r)
                    .is_some_and(|l| !l.key_frames.is_empty() && l.media.values().sum::<u64>() >= 100 && l.repaired > 0)
            }) && started.elapsed() > Duration::from_secs(6));
    }
    let report = report.unwrap_or_default();
    drop(browser);
    println!("answer:\n{answer}");
    println!("report: {report}");
    println!("report after {:?}", started.elapsed());
    println!("{} of {} RTP datagrams dropped on purpose", peer.dropped, peer.rtp_datagrams);
    for (rid, l) in &layers {
        println!(
            "layer {rid}: media {:?} ({} repaired), RTX not restored {:?}, {} frames, key frames {:?}",
            l.media,
            l.repaired,
            l.rtx,
            l.frames,
            &l.key_frames[..l.key_frames.len().min(4)]
        );
    }
    assert!(report.contains("\"ok\":true") && report.contains("\"errors\":[]"), "{report}");
    assert!(answer.contains("a=simulcast:recv q;h;f\r\n"), "{answer}");

    // Each layer on one SSRC, all three apart, with retransmissions restored onto it.
    let stats = peer.pc.stats_report(peer.now());
    let session = peer.pc.rtp_session().expect("RTP session");
    let (mut ssrcs, mut repaired) = (Vec::new(), 0);
    for rid in ["q", "h", "f"] {
        let l = &layers[rid];
        assert_eq!(l.media.len(), 1, "{rid}: one media SSRC: {l:?}");
        let (&ssrc, &packets) = l.media.iter().next().unwrap();
        assert!(packets >= 100 && l.repaired > 0, "{rid}: {l:?}");
        // The session restored them: the layer's RTX SSRC is bound to its stream.
        let received = session.receive_stats(ssrc).expect("receive stream");
        assert!(received.rtx_packets >= l.repaired && received.unrepairable == 0, "{rid}: {received:?}");
        repaired += received.repaired;
        println!("layer {rid}: {received:?}");
        ssrcs.push(ssrc);
        // inbound-rtp binds the SSRC to the rid.
        let bound = stats
            .iter()
            .any(|e| matches!(e, RtcStats::InboundRtp(i) if i.ssrc == ssrc && i.rid.as_deref() == Some(rid)));
        assert!(bound, "{rid}: inbound-rtp {ssrc} with rid {rid}");
    }
    ssrcs.sort_unstable();
    ssrcs.dedup();
    assert_eq!(ssrcs.len(), 3, "three SSRCs");
    assert!(repaired > 0, "losses repaired by RTX");
    assert!(!layers.contains_key("-"), "no packet without a rid: {:?}", layers.get("-"));

    // The layers' key frames: f as Chromium encodes it, h half of it, q a quarter, as its outbound-rtp
    // reports them per rid.
    let chromium = streams(&report);
    let size = |rid: &str| layers[rid].key_frames.last().map(|&(w, h)| (u64::from(w), u64::from(h))).unwrap();
    let (fw, fh) = size("f");
    assert!(fw >= 640 && fh >= 360, "f key frame {fw}×{fh}");
    assert_eq!(size("h"), (fw / 2, fh / 2));
    assert_eq!(size("q"), (fw / 4, fh / 4));
    for rid in ["q", "h", "f"] {
        let out = chromium.iter().find(|s| s.0 == "outbound-rtp" && s.1 == rid).unwrap_or_else(|| panic!("{rid}"));
        assert_eq!((out.4, out.5), size(rid), "{rid}: Chromium's outbound-rtp {out:?}");
        assert_eq!(
            layers[rid].media.keys().next().map(|&s| u64::from(s)),
            Some(out.2),
            "{rid}: the SSRC Chromium reports"
        );
    }
}

/// Runs ffmpeg with `args` (quietly, overwriting), asserting it succeeds.
fn ffmpeg(args: &[&str], out: &Path) {
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .arg(out)
        .stdin(Stdio::null())
        .status()
        .expect("run ffmpeg");
    assert!(status.success(), "ffmpeg {args:?} {} failed", out.display());
}

fn ffmpeg_available() -> bool {
    let found = Command::new("ffmpeg").arg("-version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    if !found {
        tool::missing("ffmpeg", "`apt-get install ffmpeg`");
    }
    found
}

/// A layer sansrtc sends: its rid and the frames of its file.
struct Source {
    rid: &'static str,
    frames: Vec<Vec<u8>>,
}

#[test]
fn chromium_receives_sansrtc_simulcast() {
    if !Kind::Chromium.available() || !ffmpeg_available() {
        return;
    }
    let scratch = Scratch::new("simulcast-chromium");
    let mut sources = Vec::new();
    for (rid, size) in [("f", "1280x720"), ("h", "640x360"), ("q", "320x180")] {
        let file = scratch.0.join(format!("{rid}.ivf"));
        let pattern = format!("testsrc=size={size}:rate=30");
        ffmpeg(
            &[
                "-f",
                "lavfi",
                "-i",
                &pattern,
                "-t",
                "2",
                "-c:v",
                "libvpx",
                "-g",
                "30",
                "-b:v",
                "1M",
                "-deadline",
                "realtime",
                "-cpu-used",
                "8",
                "-f",
                "ivf",
            ],
            &file,
        );
        let data = std::fs::read(&file).expect("IVF");
        let frames: Vec<Vec<u8>> =
            IvfReader::new(&data).expect("IVF").map(|f| f.expect("frame").data.to_vec()).collect();
        assert_eq!(frames.len(), 60);
        sources.push(Source { rid, frames });
    }

    let mut http = Http::start();
    let mut peer = Peer::new(42);
    let init = TransceiverInit {
        direction: Direction::SendOnly,
        send_encodings: sources.iter().map(|s| SendEncoding { rid: Some(s.rid.to_string()) }).collect(),
        ..TransceiverInit::default()
    };
    let now = peer.now();
    let video: TransceiverId = peer.pc.add_transceiver(now, MediaKind::Video, init).expect("transceiver");
    let offer = peer.pc.create_offer().expect("offer");
    peer.pc.set_local_description(now, &offer).expect("our offer");
    assert!(offer.sdp.contains("a=simulcast:send f;h;q\r\n"), "{}", offer.sdp);

    let mut report: Option<String> = None;
    let mut answered = false;
    let mut done = false;
    let started = WallInstant::now();
    let browser = Browser::launch(Kind::Chromium, &format!("{}?recv", http.url));
    // Playback: the frame index (all layers at once), the RTP timestamp, when the next frame is due.
    let (mut index, mut timestamp, mut next) = (0usize, 90_000u32, WallInstant::now());
    let mut sending_since: Option<WallInstant> = None;
    let mut sent: BTreeMap<&str, usize> = BTreeMap::new();
    let mut requests: BTreeMap<String, usize> = BTreeMap::new();
    let mut refused: Vec<String> = Vec::new();
    while report.is_none() {
        assert!(started.elapsed() < TIMEOUT, "no report within {TIMEOUT:?}: sent {sent:?}\n{}", browser.log_tail());
        http.poll(|r| match (r.method.as_str(), r.path.as_str()) {
            ("GET", p) if p.starts_with("/?") || p == "/" => (200, "text/html", PAGE.to_string()),
            ("GET", "/offer") => (200, "application/sdp", offer.sdp.clone()),
            ("POST", "/answer") => {
                let now = peer.now();
                peer.pc.set_remote_description(now, &Description::answer(r.body.clone())).expect("Chromium's answer");
                answered = true;
                (200, "text/plain", String::new())
            }
            ("GET", "/status") => (200, "text/plain", if done { "done" } else { "wait" }.to_string()),
            ("POST", "/report") => {
                report = Some(r.body.clone());
                (200, "text/plain", String::new())
            }
            _ => (404, "text/plain", String::new()),
        });
        let mut restart = false;
        peer.turn(None, |_, e| {
            if let Event::KeyframeRequest { rid, .. } = e {
                *requests.entry(rid.map_or("-".into(), |r| r.to_string())).or_default() += 1;
                restart = true;
            }
        });
        if restart {
            // Every layer's file has its key frames at the same places: restart them all.
            index = 0;
        }
        if answered && peer.pc.srtp_profile().is_some() && WallInstant::now() >= next {
            sending_since.get_or_insert_with(WallInstant::now);
            if sources.len() == 3 {
                // What the answer accepted: the first encoding, alone.
                let t = peer.pc.transceiver(video).expect("transceiver");
                let accepted: Vec<bool> =
                    sources.iter().map(|s| t.encoding_negotiated(Some(s.rid)) == Some(true)).collect();
                assert_eq!(accepted, [true, false, false], "{:?}", peer.pc.remote_description());
                let data = &sources[1].frames[0];
                let frame = OutgoingFrame { rid: Some("h"), ..OutgoingFrame::new(timestamp, data) };
                assert_eq!(peer.pc.write_frame(peer.now(), "0", &frame), Err(sansrtc::pc::Error::InvalidParameter));
                sources.truncate(1);
            }
            let now = peer.now();
            for s in &sources {
                let data = &s.frames[index % s.frames.len()];
                let frame = OutgoingFrame { rid: Some(s.rid), ..OutgoingFrame::new(timestamp, data) };
                match peer.pc.write_frame(now, "0", &frame) {
                    Ok(_) => *sent.entry(s.rid).or_default() += 1,
                    Err(e) => refused.push(format!("{}: {e}", s.rid)),
                }
            }
            peer.flush();
            index = (index + 1) % 60;
            timestamp = timestamp.wrapping_add(3_000);
            next += Duration::from_millis(33);
        }
        done = done || sending_since.is_some_and(|t| t.elapsed() > Duration::from_secs(6));
    }
    let report = report.unwrap_or_default();
    drop(browser);
    println!("report: {report}");
    println!("report after {:?}", started.elapsed());
    println!("frames sent per rid {sent:?}, key-frame requests per rid {requests:?}, refused {refused:?}");
    assert!(report.contains("\"ok\":true") && report.contains("\"errors\":[]"), "{report}");
    assert!(refused.is_empty(), "{refused:?}");
    // Chromium's answer: no simulcast, no rid.
    assert_eq!(json_str(&report, "simulcast"), Some(""), "{report}");
    assert!(report.contains("\"rids\":[]"), "{report}");
    let inbound: Vec<_> = streams(&report).into_iter().filter(|s| s.0 == "inbound-rtp").collect();
    let ours: BTreeMap<u32, String> =
        peer.pc.transceiver(video).unwrap().ssrcs().map(|(rid, ssrc, _)| (ssrc, rid.unwrap().to_string())).collect();
    for s in &inbound {
        let rid = ours.get(&(s.2 as u32));
        println!(
            "Chromium inbound-rtp ssrc {} (our rid {rid:?}): {} packets, {} frames decoded at {}×{}",
            s.2, s.3, s.6, s.4, s.5
        );
    }
    // One stream, the first encoding's, decoded at its size; nothing went out on the others.
    assert_eq!(inbound.len(), 1, "{report}");
    let s = &inbound[0];
    assert_eq!(ours.get(&(s.2 as u32)).map(String::as_str), Some("f"), "{report}");
    assert!(s.6 >= 60 && (s.4, s.5) == (1280, 720), "{report}");
    assert_eq!(sent.keys().copied().collect::<Vec<_>>(), ["f"]);
    let session = peer.pc.rtp_session().expect("RTP session");
    assert_eq!(session.send_ssrcs().collect::<Vec<_>>(), [s.2 as u32], "one send stream");
}
