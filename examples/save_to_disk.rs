//! Records a browser's camera and microphone to disk: VP8 video into an IVF file, Opus audio into an Ogg
//! Opus file.
//!
//! ```text
//! cargo run --release --example save_to_disk -- --http 127.0.0.1:8080 --video out.ivf --audio out.ogg
//! ```
//!
//! Open `http://127.0.0.1:8080/` in a browser: the page asks for the camera and microphone, sends both
//! tracks (`sendonly`), POSTs its offer to `/offer` (`application/sdp`, answered `201 Created` with the
//! answer: `recvonly` audio and video, Opus and VP8 only), and after 5 seconds of media (`?seconds=N`;
//! `?frames=N` also waits until the browser has sent N video frames, per `getStats`) POSTs what it sent to
//! `/report` (printed on stdout as `report: {…}`) and closes the connection. Then `ffplay out.ivf`,
//! `ffplay out.ogg`.
//!
//! Defaults: `--http 127.0.0.1:8080`, `--video output.ivf`, `--audio output.ogg`. One recording per run,
//! one peer connection on one UDP socket (`--udp ADDR`, default the HTTP address's IP and any port), ICE
//! lite; a second offer while recording is answered `409 Conflict`. Video goes
//! through the crate's jitter buffer ([`sansrtc::jitter::VideoBuffer`]): reordered, retransmissions
//! waited for, only decodable frames written, from the first key frame on, a key frame asked for (PLI)
//! when the buffer gives a frame up. The IVF header takes its size from that key frame; time base
//! 1/90000, pts the RTP timestamp from the first frame. Ogg granule positions follow the RTP timestamps
//! at 48 kHz (a gap is filled with packets the decoder conceals). See `examples/save_to_disk/recorder.rs`.
//!
//! Both files are finished (the IVF frame count patched in, the last Ogg page flagged end of stream) when
//! the peer leaves (its connection closes or fails), on Ctrl-C and on SIGTERM; then the program exits.
//! `SANSRTC_LOG` selects log lines (see `examples/support/log.rs`). `tests/save_to_disk.rs` records
//! headless Chromium's fake devices and checks the files with `ffprobe` and `ffmpeg`.

extern crate alloc;

use alloc::borrow::Cow;
use alloc::sync::Arc;
use core::net::SocketAddr;
use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;
use std::net::{TcpListener, UdpSocket};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};

use sansrtc::pc::{Codec, Config, ConnectionState, Description, Direction, Event, MediaKind, PeerConnection};
use sansrtc::{Datagram, Machine, PathMachine, SeededRng, StdAnchor};

/// `SANSRTC_LOG` filter for tracing output (see `examples/support/log.rs`).
#[path = "support/log.rs"]
mod log;

/// The echo server's minimal HTTP/1.1 server.
#[allow(dead_code)] // Parts only the echo server uses.
#[path = "echo_server/http.rs"]
mod http;

#[path = "support/signal.rs"]
mod signal;
use signal::{Offer, wake_ip};

#[path = "save_to_disk/recorder.rs"]
mod recorder;

use http::{Request, Response};
use recorder::{AudioRecorder, Stream, VideoRecorder};

/// The page served at `GET /`.
const PAGE: &str = include_str!("save_to_disk/page.html");
/// The longest the UDP loop sleeps when nothing is due (it also checks the stop flag and the offers).
const IDLE: Duration = Duration::from_millis(100);

fn fail(what: &str, e: std::io::Error) -> ! {
    eprintln!("save_to_disk: {what}: {e}");
    std::process::exit(1)
}

fn usage(msg: &str) -> ! {
    eprintln!("save_to_disk: {msg}");
    eprintln!("usage: save_to_disk [--http ADDR] [--udp ADDR] [--video OUT.ivf] [--audio OUT.ogg]");
    std::process::exit(2)
}

fn main() {
    log::init();
    let mut http_addr: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 8080));
    let mut udp: Option<SocketAddr> = None;
    let mut video_path = PathBuf::from("output.ivf");
    let mut audio_path = PathBuf::from("output.ogg");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage(&format!("{arg} needs a value")));
        match arg.as_str() {
            "--http" => http_addr = value().parse().unwrap_or_else(|_| usage("bad --http address")),
            "--udp" => udp = Some(value().parse().unwrap_or_else(|_| usage("bad --udp address"))),
            "--video" => video_path = value().into(),
            "--audio" => audio_path = value().into(),
            "-h" | "--help" => usage("help"),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    let video = VideoRecorder::create(&video_path).unwrap_or_else(|e| fail(&video_path.display().to_string(), e));
    let mut serial = [0u8; 4];
    let mut rng = SeededRng::from_os().unwrap_or_else(|e| usage(&e.to_string()));
    rng.fill(&mut serial);
    let audio = AudioRecorder::create(&audio_path, u32::from_le_bytes(serial))
        .unwrap_or_else(|e| fail(&audio_path.display().to_string(), e));

    let listener = TcpListener::bind(http_addr).unwrap_or_else(|e| fail("--http", e));
    let http_addr = listener.local_addr().unwrap_or_else(|e| fail("--http", e));
    let socket =
        UdpSocket::bind(udp.unwrap_or_else(|| SocketAddr::new(http_addr.ip(), 0))).unwrap_or_else(|e| fail("--udp", e));
    let udp_addr = socket.local_addr().unwrap_or_else(|e| fail("--udp", e));
    // A zero-length datagram on the UDP socket wakes the loop (an offer, Ctrl-C).
    let waker = Arc::new(UdpSocket::bind(SocketAddr::new(wake_ip(udp_addr), 0)).unwrap_or_else(|e| fail("waker", e)));
    let stop = Arc::new(AtomicBool::new(false));
    {
        let (stop, waker) = (stop.clone(), waker.clone());
        // Ctrl-C, and SIGTERM (ctrlc's `termination` feature).
        ctrlc::set_handler(move || {
            stop.store(true, Ordering::Relaxed);
            let _ = waker.send_to(&[], udp_addr);
        })
        .unwrap_or_else(|e| usage(&format!("cannot install the signal handler: {e}")));
    }
    let (offers_tx, offers) = channel::<Offer>();
    std::thread::spawn(move || {
        let handler = move |req: Request| handle(req, &offers_tx, &waker, udp_addr);
        http::serve(listener, || false, handler);
    });
    println!("save_to_disk: http://{http_addr}/  udp {udp_addr}");

    let mut seed = [0u8; 32];
    rng.fill(&mut seed);
    let mut recording = Recording { video, audio, socket, local: udp_addr, clock: StdAnchor::starting_now(), pc: None };
    let why = recording.run(&offers, &stop, seed).unwrap_or_else(|e| format!("error: {e}"));
    println!("save_to_disk: {why}; finishing the files");
    let Recording { video, audio, .. } = recording;
    let size = video.size;
    let (skipped, plis, stats) = (video.skipped, video.keyframe_requests, video.stats());
    let frames = video.finish().unwrap_or_else(|e| fail(&video_path.display().to_string(), e));
    let (concealed, dropped) = (audio.concealed, audio.dropped);
    let packets = audio.finish().unwrap_or_else(|e| fail(&audio_path.display().to_string(), e));
    println!(
        "save_to_disk: wrote {frames} video frames ({}x{}) to {}, {skipped} skipped before the first key frame, \
         {} dropped by the jitter buffer ({} gaps given up), {plis} key frames asked for",
        size.0,
        size.1,
        video_path.display(),
        stats.frames_dropped,
        stats.gaps_given_up,
    );
    println!(
        "save_to_disk: wrote {packets} audio packets to {}, {concealed} concealed, {dropped} dropped",
        audio_path.display()
    );
}

/// The HTTP endpoints: the page, the offer, the report.
fn handle(req: Request, offers: &Sender<Offer>, waker: &UdpSocket, udp_addr: SocketAddr) -> Response {
    let path = req.path.split('?').next().unwrap_or("");
    match (req.method.as_str(), path) {
        ("GET", "/") => Response::new("200 OK", "text/html; charset=utf-8", PAGE.as_bytes().to_vec()),
        ("POST", "/offer") => signal::post_offer(req, offers, waker, udp_addr),
        ("POST", "/report") => {
            println!("report: {}", String::from_utf8_lossy(&req.body).replace('\n', " "));
            Response::text("204 No Content", "")
        }
        _ => Response::text("404 Not Found", "not found\n"),
    }
}

/// The recording: the files, the socket, and the peer connection once an offer came.
struct Recording {
    video: VideoRecorder,
    audio: AudioRecorder,
    socket: UdpSocket,
    local: SocketAddr,
    clock: StdAnchor,
    pc: Option<PeerConnection>,
}

impl Recording {
    /// The README loop, with the video buffer's deadline next to the connection's, until the connection
    /// closes or fails or `stop` is set. Returns why it ended.
    fn run(&mut self, offers: &Receiver<Offer>, stop: &AtomicBool, seed: [u8; 32]) -> std::io::Result<String> {
        let mut buf = vec![0u8; 2048];
        loop {
            if stop.load(Ordering::Relaxed) {
                if let Some(pc) = &mut self.pc {
                    // Tell the peer (DTLS close_notify) before leaving.
                    pc.close(self.clock.now());
                    self.flush()?;
                }
                return Ok("stopped by a signal".into());
            }
            while let Ok(offer) = offers.try_recv() {
                let answer = match self.pc {
                    None => self.answer(&offer.sdp, seed),
                    Some(_) => Err(Response::text("409 Conflict", "already recording\n")),
                };
                let _ = offer.reply.send(answer);
            }
            let now = self.clock.now();
            let deadline = [self.pc.as_ref().and_then(|pc| pc.poll_timeout()), self.video.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            let wait = deadline.map_or(IDLE, |t| t.saturating_duration_since(now));
            self.socket.set_read_timeout(Some(wait.clamp(Duration::from_micros(100), IDLE)))?;
            if let Ok((n, source)) = self.socket.recv_from(&mut buf) {
                // Zero-length datagrams are the waker's.
                if let (Some(pc), Some(contents)) = (&mut self.pc, buf.get(..n).filter(|c| !c.is_empty())) {
                    let _ = pc.handle_receive(self.clock.now(), Datagram { source, destination: self.local, contents });
                }
            }
            let Some(pc) = &mut self.pc else { continue };
            let now = self.clock.now();
            if pc.poll_timeout().is_some_and(|t| t <= now) {
                pc.handle_timeout(now);
            }
            if self.video.poll_timeout().is_some_and(|t| t <= now) {
                self.video.handle_timeout(now);
            }
            while let Some(event) = pc.poll_event() {
                match event {
                    Event::Rtp(packet) => {
                        self.video.receive(now, &packet);
                        self.audio.receive(&packet)?;
                    }
                    Event::ConnectionState(state) => {
                        println!("save_to_disk: connection {state}");
                        if matches!(state, ConnectionState::Closed | ConnectionState::Failed) {
                            self.flush()?;
                            return Ok(format!("the peer left (connection {state})"));
                        }
                    }
                    _ => {}
                }
            }
            self.video.drain(pc, now)?;
            self.flush()?;
        }
    }

    /// Sends what the connection has to send.
    fn flush(&mut self) -> std::io::Result<()> {
        if let Some(pc) = &mut self.pc {
            while let Some(t) = pc.poll_transmit() {
                // A lost datagram is the network's business: retransmission timers cover it.
                let _ = self.socket.send_to(t.contents, t.destination);
            }
        }
        Ok(())
    }

    /// Applies the offer and makes the answer: VP8 and Opus only, `recvonly` (no tracks of ours); binds
    /// the recorders to the first audio and video sections that receive.
    fn answer(&mut self, offer: &str, seed: [u8; 32]) -> Result<String, Response> {
        let now = self.clock.now();
        let mut config = Config::default();
        config.ice.lite = true;
        config.codecs = Cow::Owned(vec![Codec::opus(), Codec::vp8()]);
        let mut pc = PeerConnection::new(config, SeededRng::from_seed(seed));
        let bad = |e: sansrtc::pc::Error| Response::text("400 Bad Request", format!("{e}\n"));
        pc.add_local_host(now, self.local)
            .map_err(|e| Response::text("500 Internal Server Error", format!("{e}\n")))?;
        pc.end_of_local_candidates(now);
        pc.set_remote_description(now, &Description::offer(offer)).map_err(bad)?;
        let answer = pc.create_answer().map_err(bad)?;
        pc.set_local_description(now, &answer).map_err(bad)?;
        for t in pc.transceivers() {
            let receives = matches!(t.current_direction(), Some(Direction::RecvOnly | Direction::SendRecv));
            let (Some(mid), true) = (t.mid(), receives) else { continue };
            let codec = |name: &str| t.codecs().iter().find(|c| c.name.eq_ignore_ascii_case(name));
            match t.kind() {
                MediaKind::Video if !self.video.is_bound() => {
                    if let Some(c) = codec("VP8") {
                        let stream = Stream { transceiver: t.id(), mid: mid.to_string(), payload_type: c.payload_type };
                        println!("save_to_disk: video: mid {mid}, VP8 on payload type {}", c.payload_type);
                        self.video.bind(stream);
                    }
                }
                MediaKind::Audio if !self.audio.is_bound() => {
                    if let Some(c) = codec("opus") {
                        let channels = if c.opus_params().is_some_and(|p| p.stereo) { 2 } else { 1 };
                        let stream = Stream { transceiver: t.id(), mid: mid.to_string(), payload_type: c.payload_type };
                        println!("save_to_disk: audio: mid {mid}, Opus on payload type {}", c.payload_type);
                        self.audio
                            .bind(stream, channels)
                            .map_err(|e| Response::text("500 Internal Server Error", format!("{e}\n")))?;
                    }
                }
                _ => {}
            }
        }
        self.pc = Some(pc);
        Ok(answer.sdp)
    }
}
