//! Plays a video file (and an audio file) from disk to a browser: std UDP, one socket, one peer connection
//! at a time, and a minimal HTTP signalling endpoint.
//!
//! ```text
//! ffmpeg -f lavfi -i testsrc=size=320x240:rate=30 -t 10 -c:v libvpx -g 30 -f ivf video.ivf
//! ffmpeg -f lavfi -i sine=frequency=440:duration=10 -c:a libopus audio.ogg
//! cargo run --release --example play_from_disk -- --http 127.0.0.1:8080 --video video.ivf [--audio audio.ogg]
//! ```
//!
//! Open `http://127.0.0.1:8080/` in a browser: the page makes a `recvonly` video transceiver (and an
//! audio one when the server has audio), POSTs its offer to `/offer` (`application/sdp`, answered
//! `201 Created` with the answer), and plays what arrives in a `<video>` element. Once it has decoded
//! `?frames=N` video frames (90 by default; `getStats()` `framesDecoded`) it POSTs a report to `/report`
//! (frames decoded and presented, their size, audio packets received), which this server prints on
//! stdout (`tests/play_from_disk.rs` runs it all in headless Chromium).
//!
//! The answer takes the offer's transceivers with tracks of the server's own, so it says `sendonly`, with
//! the codec of the file: the IVF FourCC `VP80` gives VP8, `VP90` VP9, `AV01` AV1 (refused with
//! `400 Bad Request` when the browser does not offer it), and Opus for the audio. Once connected the
//! server sends the files' frames with
//! [`write_frame`](sansrtc::pc::PeerConnection::write_frame), which packetizes each for the negotiated
//! codec, paced by their timestamps (IVF `pts × timebase` at the 90 kHz video clock; Ogg granule
//! positions at 48 kHz, Opus's RTP clock), and loops at the end of each file with the RTP timestamps
//! going on increasing. A key-frame request from the browser (PLI or FIR) restarts the video at the
//! file's first frame, which is a key frame (encode with `-g` small enough that later ones come
//! regularly too). Reports, NACK answered with retransmissions and transport-wide feedback are the peer
//! connection's own work. A new offer replaces the connection before it.
//!
//! `--udp ADDR` picks the UDP socket (default: the HTTP address's IP, any port). The server runs ICE lite
//! (the browser's candidates come in its offer). Logs: `SANSRTC_LOG=sansrtc::pc=debug` (a
//! `tracing-subscriber` filter). Ctrl-C closes the connection and exits.

extern crate alloc;

use alloc::sync::Arc;
use core::net::SocketAddr;
use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;
use std::io;
use std::net::{TcpListener, UdpSocket};
use std::sync::mpsc::{Receiver, Sender, channel};

use sansrtc::media_file::IvfHeader;
use sansrtc::pc::{self, Codec, Config, ConnectionState, Description, Event, MediaKind, OutgoingFrame, Track};
use sansrtc::{Datagram, Instant, Machine, PathMachine, SeededRng, StdAnchor};

/// `SANSRTC_LOG` filter for tracing output (see `examples/support/log.rs`).
#[path = "support/log.rs"]
mod log;

/// The echo server's HTTP/1.1 server (one request per connection).
#[allow(dead_code)] // Parts used only by the echo server.
#[path = "echo_server/http.rs"]
mod http;

#[path = "support/signal.rs"]
mod signal;
/// The receive step the UDP examples share.
#[path = "support/udp.rs"]
mod udp;
use signal::Offer;

#[path = "play_from_disk/media.rs"]
mod media;

use http::{Request, Response};
use media::{Media, Playback};

/// The page served at `GET /`; `/*AUDIO*/false` is replaced by whether there is audio.
const PAGE: &str = include_str!("play_from_disk/page.html");

fn usage(msg: &str) -> ! {
    eprintln!("play_from_disk: {msg}");
    eprintln!("usage: play_from_disk --http ADDR --video FILE.ivf [--audio FILE.ogg] [--udp ADDR]");
    std::process::exit(2)
}

fn main() {
    log::init();
    let (mut http, mut udp, mut video, mut audio) = (None, None, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage(&format!("{arg} needs a value")));
        match arg.as_str() {
            "--http" => http = Some(value().parse::<SocketAddr>().unwrap_or_else(|_| usage("bad --http address"))),
            "--udp" => udp = Some(value().parse::<SocketAddr>().unwrap_or_else(|_| usage("bad --udp address"))),
            "--video" => video = Some(value()),
            "--audio" => audio = Some(value()),
            "-h" | "--help" => usage("help"),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    let http = http.unwrap_or_else(|| usage("--http ADDR is needed"));
    let video = video.unwrap_or_else(|| usage("--video FILE.ivf is needed"));
    let read = |path: &str| std::fs::read(path).unwrap_or_else(|e| usage(&format!("{path}: {e}")));
    let (video, header) = Media::ivf(read(&video)).unwrap_or_else(|e| usage(&format!("{video}: {e}")));
    let codec = match header.fourcc {
        IvfHeader::VP8 => "VP8",
        IvfHeader::VP9 => "VP9",
        IvfHeader::AV1 => "AV1",
        other => usage(&format!("IVF FourCC {:?}: only VP80, VP90 and AV01 are sent", String::from_utf8_lossy(&other))),
    };
    let audio = audio.map(|path| Media::ogg_opus(&read(&path)).unwrap_or_else(|e| usage(&format!("{path}: {e}"))));
    println!(
        "play_from_disk: {codec} {}x{}, {} frames ({:.1} s){}",
        header.width,
        header.height,
        video.frames.len(),
        video.span as f64 / 90_000.0,
        audio.as_ref().map_or(String::new(), |a| format!(
            "; Opus, {} packets ({:.1} s)",
            a.frames.len(),
            a.span as f64 / 48_000.0
        ))
    );
    let files = Files { video, codec, audio };
    if let Err(e) = run(http, udp, files) {
        eprintln!("play_from_disk: {e}");
        std::process::exit(1);
    }
}

/// What is played.
struct Files {
    video: Media,
    /// The video codec's rtpmap name.
    codec: &'static str,
    audio: Option<Media>,
}

/// Binds the sockets, serves HTTP on a thread and runs the peer connection on this one until Ctrl-C.
fn run(http: SocketAddr, udp: Option<SocketAddr>, files: Files) -> io::Result<()> {
    let listener = TcpListener::bind(http)?;
    let http = listener.local_addr()?;
    let socket = UdpSocket::bind(udp.unwrap_or_else(|| SocketAddr::new(http.ip(), 0)))?;
    let local = socket.local_addr()?;
    // Wake-ups (a zero-length datagram: an offer is waiting, or Ctrl-C) come from this socket.
    let waker = Arc::new(UdpSocket::bind(SocketAddr::new(signal::wake_ip(local), 0))?);
    let stop = Arc::new(AtomicBool::new(false));
    {
        let (stop, waker) = (stop.clone(), waker.clone());
        ctrlc::set_handler(move || {
            stop.store(true, Ordering::Relaxed);
            let _ = waker.send_to(&[], local);
        })
        .map_err(io::Error::other)?;
    }
    let (offers, offers_rx) = channel::<Offer>();
    let page = PAGE.replace("/*AUDIO*/false", if files.audio.is_some() { "true" } else { "false" });
    let handler = move |req: Request| handle(req, &page, &offers, &waker, local);
    std::thread::Builder::new().name("http".into()).spawn(move || http::serve(listener, || false, handler))?;
    println!("play_from_disk: http://{http}/  udp {local}");
    Player::new(socket, local, files)?.run(&offers_rx, &stop)
}

fn handle(req: Request, page: &str, offers: &Sender<Offer>, waker: &UdpSocket, udp: SocketAddr) -> Response {
    let path = req.path.split('?').next().unwrap_or_default();
    match (req.method.as_str(), path) {
        ("GET", "/" | "/index.html") => Response::new("200 OK", "text/html; charset=utf-8", page.as_bytes().to_vec()),
        ("POST", "/offer") => signal::post_offer(req, offers, waker, udp),
        ("POST", "/report") => {
            println!("report: {}", String::from_utf8_lossy(&req.body).replace('\n', " "));
            Response::text("204 No Content", "")
        }
        _ => Response::text("404 Not Found", "not found\n"),
    }
}

/// The one peer connection and the playback of the files on it.
struct Session {
    pc: pc::PeerConnection,
    /// The mid of the video transceiver, and of the audio one when there is audio.
    video_mid: String,
    audio_mid: Option<String>,
    /// Set once connected.
    video: Option<Playback>,
    audio: Option<Playback>,
    /// Frames and packets sent, key-frame requests, frames refused.
    video_frames: u64,
    audio_frames: u64,
    packets: u64,
    keyframe_requests: u64,
    refused: u64,
    name: u64,
}

/// The UDP side.
struct Player {
    socket: UdpSocket,
    local: SocketAddr,
    anchor: StdAnchor,
    rng: SeededRng,
    files: Files,
    session: Option<Session>,
    sessions: u64,
}

impl Player {
    fn new(socket: UdpSocket, local: SocketAddr, files: Files) -> io::Result<Player> {
        let rng = SeededRng::from_os().map_err(|e| io::Error::other(format!("OS random source: {e}")))?;
        Ok(Player { socket, local, anchor: StdAnchor::starting_now(), rng, files, session: None, sessions: 0 })
    }

    /// The README loop: input (a datagram, or a deadline), then frames due, events and transmits.
    fn run(&mut self, offers: &Receiver<Offer>, stop: &AtomicBool) -> io::Result<()> {
        let mut buf = vec![0u8; 65_536];
        // A second handle on the socket, so that receiving can borrow the connection mutably.
        let socket = self.socket.try_clone()?;
        while !stop.load(Ordering::Relaxed) {
            while let Ok(offer) = offers.try_recv() {
                let answer = self.answer(&offer.sdp);
                let _ = offer.reply.send(answer.map_err(|e| Response::text("400 Bad Request", format!("{e}\n"))));
            }
            let now = self.anchor.now();
            self.drive(now);
            let wait = self
                .deadline()
                .map_or(Duration::from_secs(1), |t| t.saturating_duration_since(self.anchor.now()))
                .clamp(Duration::from_millis(1), Duration::from_secs(1));
            udp::receive_step(&socket, &mut buf, wait, |source, data| self.receive(source, data))?;
        }
        println!("play_from_disk: Ctrl-C, closing");
        self.end(self.anchor.now(), "closed");
        Ok(())
    }

    fn receive(&mut self, source: SocketAddr, data: &[u8]) {
        // Zero-length datagrams are wake-ups.
        let (Some(s), false) = (self.session.as_mut(), data.is_empty()) else { return };
        let now = self.anchor.now();
        let _ = s.pc.handle_receive(now, Datagram { source, destination: self.local, contents: data });
    }

    /// A new connection for `offer`, replacing the one before; returns the answer.
    fn answer(&mut self, offer: &str) -> Result<String, String> {
        let now = self.anchor.now();
        self.end(now, "replaced by a new offer");
        let mut config = Config::default();
        // A server on an address the browser reaches needs no checks of its own (RFC 8445 §2.5).
        config.ice.lite = true;
        let video_codecs: Vec<Codec> = config
            .codecs
            .iter()
            .filter(|c| c.kind == MediaKind::Video && c.name.eq_ignore_ascii_case(self.files.codec))
            .cloned()
            .collect();
        let opus: Vec<Codec> = config.codecs.iter().filter(|c| c.name.eq_ignore_ascii_case("opus")).cloned().collect();
        let mut pc = pc::PeerConnection::new(config, self.rng.fork());
        let err = |e: pc::Error| e.to_string();
        pc.add_local_host(now, self.local).map_err(err)?;
        pc.end_of_local_candidates(now);
        pc.set_remote_description(now, &Description::offer(offer)).map_err(err)?;
        // The offer's first video transceiver (and first audio one) gets a track of ours: the answer
        // sends on it, with the file's codec alone.
        let offered = |pc: &pc::PeerConnection, kind| {
            pc.transceivers().find(|t| t.kind() == kind && t.track_id().is_none() && !t.is_stopping()).map(|t| t.id())
        };
        let video = offered(&pc, MediaKind::Video).ok_or("the offer has no video")?;
        pc.set_codec_preferences(video, &video_codecs).map_err(err)?;
        pc.add_track(now, Track::new(MediaKind::Video, "file-video"), &["file"]).map_err(err)?;
        let mut audio = None;
        if self.files.audio.is_some() {
            if let Some(id) = offered(&pc, MediaKind::Audio) {
                pc.set_codec_preferences(id, &opus).map_err(err)?;
                pc.add_track(now, Track::new(MediaKind::Audio, "file-audio"), &["file"]).map_err(err)?;
                audio = Some(id);
            }
        }
        let answer = pc.create_answer().map_err(err)?;
        pc.set_local_description(now, &answer).map_err(err)?;
        let negotiated = |id| {
            let t = pc.transceiver(id)?;
            let codec = t.codecs().first()?;
            Some((t.mid()?.to_string(), codec.name.to_string()))
        };
        let (video_mid, name) =
            negotiated(video).ok_or_else(|| format!("the offer's video has no {}", self.files.codec))?;
        let audio_mid = audio.and_then(negotiated).map(|(mid, _)| mid);
        self.sessions += 1;
        println!(
            "peer{}: answered: {name} on mid {video_mid}{}",
            self.sessions,
            audio_mid.as_ref().map_or(String::new(), |m| format!(", Opus on mid {m}"))
        );
        self.session = Some(Session {
            pc,
            video_mid,
            audio_mid,
            video: None,
            audio: None,
            video_frames: 0,
            audio_frames: 0,
            packets: 0,
            keyframe_requests: 0,
            refused: 0,
            name: self.sessions,
        });
        self.flush();
        Ok(answer.sdp)
    }

    /// Timers, frames due, events, transmits.
    fn drive(&mut self, now: Instant) {
        let Some(s) = self.session.as_mut() else { return };
        if s.pc.poll_timeout().is_some_and(|t| t <= now) {
            s.pc.handle_timeout(now);
        }
        let mut ended = None;
        while let Some(event) = s.pc.poll_event() {
            match event {
                Event::ConnectionState(ConnectionState::Connected) if s.video.is_none() => {
                    println!("peer{}: connected; playing", s.name);
                    s.video = Some(Playback::new(now, self.rng.u32()));
                    s.audio = self.files.audio.as_ref().map(|_| Playback::new(now, self.rng.u32()));
                }
                Event::ConnectionState(state @ (ConnectionState::Closed | ConnectionState::Failed)) => {
                    ended = Some(state);
                }
                Event::KeyframeRequest { mid, kind, .. } if mid.as_str() == s.video_mid => {
                    s.keyframe_requests += 1;
                    if let Some(p) = s.video.as_mut() {
                        tracing::debug!(target: "play_from_disk", ?kind, "key-frame request: restarting");
                        p.restart(&self.files.video, now);
                    }
                }
                _ => {}
            }
        }
        if ended.is_none() {
            s.send_due(&self.files, now);
        }
        self.flush();
        if let Some(state) = ended {
            self.end(now, &format!("connection {state:?}"));
        }
    }

    /// Sends what the connection has to send.
    fn flush(&mut self) {
        let Some(s) = self.session.as_mut() else { return };
        while let Some(t) = s.pc.poll_transmit() {
            let _ = self.socket.send_to(t.contents, t.destination);
        }
    }

    /// The earliest of the connection's deadline and the next frame's.
    fn deadline(&self) -> Option<Instant> {
        let s = self.session.as_ref()?;
        let video = s.video.as_ref().map(|p| p.due(&self.files.video));
        let audio = s.audio.as_ref().zip(self.files.audio.as_ref()).map(|(p, m)| p.due(m));
        [s.pc.poll_timeout(), video, audio].into_iter().flatten().min()
    }

    /// Closes and forgets the connection, saying what it did.
    fn end(&mut self, now: Instant, why: &str) {
        let Some(mut s) = self.session.take() else { return };
        s.pc.close(now);
        while let Some(t) = s.pc.poll_transmit() {
            let _ = self.socket.send_to(t.contents, t.destination);
        }
        let (loops, restarts) = s.video.as_ref().map_or((0, 0), |p| (p.loops, p.restarts));
        println!(
            "peer{}: {why}: sent {} video frames ({} loops, {} restarts on {} key-frame requests), {} audio \
             packets, {} RTP packets; {} frames refused",
            s.name, s.video_frames, loops, restarts, s.keyframe_requests, s.audio_frames, s.packets, s.refused
        );
    }
}

impl Session {
    /// Sends every frame that is due, video and audio.
    fn send_due(&mut self, files: &Files, now: Instant) {
        let streams = [
            (self.video.as_mut(), Some(&files.video), Some(&self.video_mid), &mut self.video_frames),
            (self.audio.as_mut(), files.audio.as_ref(), self.audio_mid.as_ref(), &mut self.audio_frames),
        ];
        for (playback, media, mid, count) in streams {
            let (Some(playback), Some(media)) = (playback, media) else { continue };
            while let Some((timestamp, data)) = playback.take_due(media, now) {
                let Some(mid) = mid else { continue };
                match self.pc.write_frame(now, mid, &OutgoingFrame::new(timestamp, data)) {
                    Ok(sent) => {
                        *count += 1;
                        self.packets += sent.packets as u64;
                    }
                    Err(e) => {
                        if self.refused == 0 {
                            println!("peer{}: a frame on mid {mid} refused: {e}", self.name);
                        }
                        self.refused += 1;
                    }
                }
            }
        }
    }
}
