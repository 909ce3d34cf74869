//! Media files through a lossy link and back to files: ffmpeg encodes 60 frames of a test pattern with
//! VP8, VP9 and AV1 into IVF and with H.264 into Annex-B (each codec whose encoder this ffmpeg has); `a`
//! sends every frame with `PeerConnection::write_frame` at 30 fps over a link with a 25 ms one-way delay
//! that loses 5 % of datagrams; `b` hands the packets it receives (RTX repairs restored in place) to a
//! `jitter::VideoBuffer` in `Quality` mode with the codec's depacketizer and writes the frames it emits
//! to a file again. Every frame comes out byte-identical to the source file's (up to the payload formats'
//! documented normalisations, see `expected_av1` and `expected_h264`), the link lost packets and NACK
//! repaired them, and ffmpeg decodes the written file without an error.
//!
//! Without ffmpeg the test is skipped, or fails under CI (`tests/support/tool.rs`).

use core::cell::RefCell;
use core::time::Duration;
use std::path::{Path, PathBuf};
use std::process::Command;

use sansrtc::jitter::{Mode, VideoBuffer, VideoConfig, VideoEvent};
use sansrtc::media_file::{IvfHeader, IvfReader, IvfWriter, NalCodec, access_units, nal_units};
use sansrtc::packetize::{Depacketizer, av1, h264, vp8, vp9};
use sansrtc::pc::{
    Codec, Config, ConnectionState, Direction, Event, MediaKind, OutgoingFrame, PeerConnection, RtpPacket,
    TransceiverInit,
};
use sansrtc::{Instant, SeededRng};

#[path = "support/readme_loop.rs"]
mod readme_loop;
#[path = "support/tool.rs"]
mod tool;
use readme_loop::{Link, Side};

const INSTALL: &str = "`apt-get install ffmpeg` or `bash scripts/setup`";
const FRAMES: usize = 60;
/// 30 fps on the 90 kHz video clock.
const TICKS: u32 = 3_000;
const PERIOD: Duration = Duration::from_micros(33_333);
const DELAY: Duration = Duration::from_millis(25);
const LOSS: f64 = 0.05;
/// Retransmission requests the connection's RTP session sends per missing packet (its default).
const NACK_RETRIES: u8 = 10;

fn ffmpeg_available() -> bool {
    Command::new("ffmpeg").arg("-version").output().is_ok_and(|o| o.status.success())
}

fn has_encoder(name: &str) -> bool {
    let out = Command::new("ffmpeg").args(["-hide_banner", "-encoders"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).lines().any(|l| l.split_whitespace().nth(1) == Some(name))
}

/// A scratch directory of this test, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("sansrtc-media-roundtrip-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Encodes 60 frames of a 320×240 test pattern with temporal noise (about 1 Mbit/s at the rates used) at 30 fps, a key frame every 30, with `codec` and
/// `extra` options into `out` (format `format`).
fn encode(codec: &[&str], format: &[&str], out: &Path) {
    let mut args =
        vec!["-f", "lavfi", "-i", "testsrc=size=320x240:rate=30,noise=alls=12:allf=t", "-frames:v", "60", "-g", "30"];
    args.extend_from_slice(codec);
    args.extend_from_slice(format);
    let o = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-y"])
        .args(&args)
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "ffmpeg {args:?} failed: {}", String::from_utf8_lossy(&o.stderr));
}

/// ffmpeg decodes the whole file: it must succeed and print nothing at level error.
fn assert_decodes(file: &Path) {
    let o = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    let errors = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && errors.is_empty(), "ffmpeg decoding {}: {errors}", file.display());
}

/// What a run measured.
struct Run {
    /// The frames `b`'s buffer emitted, in order: (RTP timestamp, data, complete and decodable).
    frames: Vec<(u32, Vec<u8>, bool)>,
    /// Datagrams the link carried and dropped.
    link_sent: u64,
    link_lost: u64,
    /// Video packets `b` received repaired by RTX.
    repaired: u64,
    /// NACKs `b` sent (its inbound-rtp statistics).
    nacks: u64,
    /// Key frame requests `b`'s buffer made (a gap given up).
    keyframe_requests: u64,
}

/// `a` sends `frames` on a send-only video transceiver preferring `codec` to `b` over the lossy link
/// (seed `seed`), at 30 fps; after them it sends the first three again, as a looping player does, so
/// that a loss in the last packet of the file is noticed and repaired; `b` takes the first
/// `frames.len()` frames its buffer emits.
fn transfer(codec: &Codec, frames: &[&[u8]], depacketizer: Box<dyn Depacketizer>, seed: u64) -> Run {
    let a = PeerConnection::new(Config::default(), SeededRng::from_seed([61; 32]));
    let b = PeerConnection::new(Config::default(), SeededRng::from_seed([62; 32]));
    let mut link = Link::new(a, b, DELAY, LOSS, seed);
    let now = link.now;
    link.a.add_local_host(now, readme_loop::A.parse().unwrap()).unwrap();
    link.b.add_local_host(now, readme_loop::B.parse().unwrap()).unwrap();
    link.a.end_of_local_candidates(now);
    link.b.end_of_local_candidates(now);
    let video =
        link.a.add_transceiver(now, MediaKind::Video, TransceiverInit::with_direction(Direction::SendOnly)).unwrap();
    link.a.set_codec_preferences(video, core::slice::from_ref(codec)).unwrap();
    let offer = link.a.create_offer().unwrap();
    link.a.set_local_description(now, &offer).unwrap();
    link.b.set_remote_description(now, &offer).unwrap();
    let answer = link.b.create_answer().unwrap();
    link.b.set_local_description(now, &answer).unwrap();
    link.a.set_remote_description(now, &answer).unwrap();
    let up = |l: &Link| {
        l.a.connection_state() == ConnectionState::Connected && l.b.connection_state() == ConnectionState::Connected
    };
    assert!(link.run(Duration::from_secs(30), &mut |_, _, _, _| {}, up), "connected");
    let mid = link.a.transceiver(video).and_then(|t| t.mid()).expect("the video transceiver has a mid").to_owned();
    let mid = mid.as_str();
    assert_eq!(
        link.b.transceiver_by_mid(mid).unwrap().codecs()[0].payload_type,
        codec.payload_type,
        "{} negotiated",
        codec.name
    );

    let mut config = VideoConfig::new(Mode::Quality);
    config.nack_retries = NACK_RETRIES;
    let mut buffer = VideoBuffer::new(config, depacketizer);
    buffer.set_rtt(DELAY * 2);

    let received: RefCell<Vec<RtpPacket>> = RefCell::new(Vec::new());
    let mut app = |side: Side, _: &mut PeerConnection, _: Instant, e: Event| match (side, e) {
        (Side::B, Event::Rtp(p)) if p.mid == mid => received.borrow_mut().push(p),
        (_, Event::ConnectionState(c @ (ConnectionState::Failed | ConnectionState::Closed))) => {
            panic!("{side:?} {c:?}")
        }
        _ => {}
    };

    let tail = 3;
    let total = frames.len() + tail;
    let start = link.now;
    let due = |i: usize| start + PERIOD * i as u32;
    let end = due(total) + Duration::from_secs(3);
    let (mut sent, mut repaired) = (0usize, 0u64);
    let mut out: Vec<(u32, Vec<u8>, bool)> = Vec::new();
    let mut keyframe_requests = 0;
    loop {
        let now = link.now;
        while sent < total && due(sent) <= now {
            let data = frames[sent % frames.len()];
            let frame = OutgoingFrame::new(1_000 + sent as u32 * TICKS, data);
            link.a.write_frame(now, mid, &frame).unwrap();
            sent += 1;
        }
        for p in received.borrow_mut().drain(..) {
            repaired += u64::from(p.repaired);
            buffer.handle_receive_parts(now, p.sequence_number as u16, p.timestamp, p.marker, p.payload());
        }
        if buffer.poll_timeout().is_some_and(|t| t <= now) {
            buffer.handle_timeout(now);
        }
        while let Some(e) = buffer.poll_event() {
            match e {
                VideoEvent::Frame(f) => out.push((f.timestamp, f.data.to_vec(), f.complete && f.decodable)),
                VideoEvent::KeyframeRequest => keyframe_requests += 1,
            }
        }
        let done = out.len() >= frames.len() && link.in_flight() == 0;
        if done || now >= end {
            break;
        }
        let next = [(sent < total).then(|| due(sent)), buffer.poll_timeout(), Some(end)].into_iter().flatten().min();
        match (next, link.next_wake()) {
            (Some(t), wake) if t > now && wake.is_none_or(|w| w > t) => link.now = t,
            _ => assert!(link.turn(&mut app)),
        }
    }
    out.truncate(frames.len());

    let report = link.b.stats_report(link.now);
    let ssrc = link.a.transceiver_by_mid(mid).unwrap().ssrcs().next().unwrap().1;
    let inbound = report.inbound_rtp().find(|s| s.ssrc == ssrc).expect("inbound-rtp for the video");
    assert_eq!(inbound.packets_repaired, repaired, "the statistics count the repairs the application saw");
    Run {
        frames: out,
        link_sent: link.sent,
        link_lost: link.lost,
        repaired,
        nacks: inbound.nack_count,
        keyframe_requests,
    }
}

/// Sends `source` frames through the link and checks what came out against `expected` (the source
/// frames after the payload format's normalisation, compared by `same`); returns the received frames.
fn check(
    name: &str,
    codec: &Codec,
    source: &[&[u8]],
    expected: &[Vec<u8>],
    make: impl Fn() -> Box<dyn Depacketizer>,
) -> Vec<Vec<u8>> {
    assert_eq!(source.len(), FRAMES, "{name}: ffmpeg made {FRAMES} frames");
    let mut last = Vec::new();
    for seed in [71, 72] {
        let t0 = std::time::Instant::now();
        let run = transfer(codec, source, make(), seed);
        println!(
            "{name} seed {seed}: {} octets of video; link lost {} of {} datagrams, {} video packets repaired, {} NACKs; {:?}",
            source.iter().map(|f| f.len()).sum::<usize>(),
            run.link_lost,
            run.link_sent,
            run.repaired,
            run.nacks,
            t0.elapsed()
        );
        assert_eq!(run.frames.len(), FRAMES, "{name} seed {seed}: every frame came out");
        assert_eq!(run.keyframe_requests, 0, "{name} seed {seed}: no gap given up");
        for (i, ((ts, data, whole), want)) in run.frames.iter().zip(expected).enumerate() {
            assert_eq!(*ts, 1_000 + i as u32 * TICKS, "{name} seed {seed}: frame {i} in order");
            assert!(*whole, "{name} seed {seed}: frame {i} complete and decodable");
            assert!(data == want, "{name} seed {seed}: frame {i} differs ({} vs {} octets)", data.len(), want.len());
        }
        assert!(run.link_lost > 0, "{name} seed {seed}: the link lost nothing");
        assert!(run.repaired > 0 && run.nacks > 0, "{name} seed {seed}: nothing repaired");
        last = run.frames.into_iter().map(|(_, d, _)| d).collect();
    }
    last
}

/// An IVF file of `codec` (`encoder` with `extra` options) through the link, written again and decoded.
fn ivf(encoder: &str, extra: &[&str], codec: &Codec, make: impl Fn() -> Box<dyn Depacketizer>, av1: bool) {
    let dir = Scratch::new(encoder);
    let src = dir.path("in.ivf");
    let mut args = vec!["-c:v", encoder];
    args.extend_from_slice(extra);
    encode(&args, &["-f", "ivf"], &src);
    let bytes = std::fs::read(&src).unwrap();
    let reader = IvfReader::new(&bytes).unwrap();
    let header = *reader.header();
    let frames: Vec<_> = reader.collect::<Result<_, _>>().unwrap();
    let source: Vec<&[u8]> = frames.iter().map(|f| f.data).collect();
    let expected: Vec<Vec<u8>> = source.iter().map(|f| if av1 { expected_av1(f) } else { f.to_vec() }).collect();
    if !av1 {
        // VP8 and VP9 frames go through untouched.
        assert!(expected.iter().zip(&source).all(|(e, s)| e == s));
    }
    let got = check(encoder, codec, &source, &expected, make);

    let mut out = Vec::new();
    let mut writer = IvfWriter::new(&IvfHeader { frame_count: 0, ..header }, &mut out);
    for (f, data) in frames.iter().zip(&got) {
        writer.write_frame(f.pts, data, &mut out).unwrap();
    }
    writer.finish(&mut out).unwrap();
    if !av1 {
        assert_eq!(out[32..], bytes[32..], "{encoder}: the written file is the source file");
    }
    let dst = dir.path("out.ivf");
    std::fs::write(&dst, &out).unwrap();
    assert_decodes(&dst);
}

/// A leb128 value and its length.
fn leb128(data: &[u8]) -> (u64, usize) {
    let mut v = 0u64;
    for (i, b) in data.iter().enumerate().take(8) {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return (v, i + 1);
        }
    }
    panic!("bad leb128 in the source file");
}

/// An AV1 temporal unit as the AV1 payload format documents its round trip (`sansrtc::packetize::av1`):
/// temporal delimiters and tile lists dropped, every OBU with a size field of minimal length.
fn expected_av1(mut tu: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(&header) = tu.first() {
        let obu_type = (header >> 3) & 0x0f;
        let ext = usize::from(header & 0x04 != 0);
        assert!(header & 0x02 != 0, "ffmpeg writes OBUs with their size");
        let (size, n) = leb128(&tu[1 + ext..]);
        let body = 1 + ext + n;
        let obu_end = body + size as usize;
        if obu_type != av1::obu_type::TEMPORAL_DELIMITER && obu_type != 8 {
            out.extend_from_slice(&tu[..1 + ext]);
            let mut s = size;
            loop {
                let b = (s & 0x7f) as u8;
                s >>= 7;
                out.push(if s == 0 { b } else { b | 0x80 });
                if s == 0 {
                    break;
                }
            }
            out.extend_from_slice(&tu[body..obu_end]);
        }
        tu = &tu[obu_end..];
    }
    out
}

/// An H.264 access unit as the depacketizer writes it (`sansrtc::packetize::h264`): the same NAL units
/// behind four-octet start codes, with the last SPS and PPS put ahead of an IDR picture sent without
/// them (ffmpeg's `h264_mp4toannexb` already repeats them ahead of each IDR picture, so for its files the
/// NAL units come out unchanged). `params` keeps the last parameter sets seen.
fn expected_h264(au: &[u8], params: &mut (Vec<u8>, Vec<u8>)) -> Vec<u8> {
    let nals: Vec<&[u8]> = nal_units(au).collect();
    let kind = |n: &[u8]| n[0] & 0x1f;
    for n in &nals {
        match kind(n) {
            h264::nal_type::SPS => params.0 = n.to_vec(),
            h264::nal_type::PPS => params.1 = n.to_vec(),
            _ => {}
        }
    }
    let has_params = nals.iter().any(|n| kind(n) == h264::nal_type::SPS);
    let mut out = Vec::new();
    for n in &nals {
        if kind(n) == h264::nal_type::IDR && !has_params && out.is_empty() {
            for p in [&params.0, &params.1] {
                out.extend_from_slice(&h264::START_CODE);
                out.extend_from_slice(p);
            }
        }
        out.extend_from_slice(&h264::START_CODE);
        out.extend_from_slice(n);
    }
    out
}

#[test]
fn files_survive_a_lossy_link_byte_for_byte() {
    if !ffmpeg_available() {
        return tool::missing("ffmpeg", INSTALL);
    }
    let t0 = std::time::Instant::now();
    let defaults = Codec::defaults();
    let default = |name: &str| defaults.iter().find(|c| c.name == name).unwrap().clone();
    let realtime = ["-deadline", "realtime", "-cpu-used", "8", "-b:v", "1M"];

    if has_encoder("libvpx") {
        ivf("libvpx", &realtime, &default("VP8"), || Box::new(vp8::Vp8Depacketizer::new()), false);
    } else {
        tool::missing("ffmpeg's libvpx encoder", INSTALL);
    }
    if has_encoder("libvpx-vp9") {
        ivf("libvpx-vp9", &realtime, &default("VP9"), || Box::new(vp9::Vp9Depacketizer::new()), false);
    } else {
        println!("no libvpx-vp9 encoder in this ffmpeg: VP9 not tested");
    }
    let av1_codec = default("AV1");
    let av1d = || Box::new(av1::Av1Depacketizer::new()) as Box<dyn Depacketizer>;
    if has_encoder("libaom-av1") {
        ivf("libaom-av1", &["-usage", "realtime", "-cpu-used", "8", "-b:v", "1M"], &av1_codec, av1d, true);
    } else if has_encoder("libsvtav1") {
        ivf("libsvtav1", &["-preset", "12"], &av1_codec, av1d, true);
    } else {
        println!("no AV1 encoder in this ffmpeg: AV1 not tested");
    }

    if has_encoder("libx264") {
        let dir = Scratch::new("libx264");
        let src = dir.path("in.h264");
        let x264 =
            ["-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "baseline", "-pix_fmt", "yuv420p", "-b:v", "1M"];
        encode(&x264, &["-bsf:v", "h264_mp4toannexb", "-f", "h264"], &src);
        let bytes = std::fs::read(&src).unwrap();
        let source: Vec<&[u8]> = access_units(&bytes, NalCodec::H264).map(|u| u.data).collect();
        let mut params = (Vec::new(), Vec::new());
        let expected: Vec<Vec<u8>> = source.iter().map(|au| expected_h264(au, &mut params)).collect();
        let codec = default("H264");
        assert_eq!(codec.param("packetization-mode"), Some("1"));
        let got = check("libx264", &codec, &source, &expected, || Box::new(h264::H264Depacketizer::new()));
        let dst = dir.path("out.h264");
        std::fs::write(&dst, got.concat()).unwrap();
        assert_decodes(&dst);
    } else {
        tool::missing("ffmpeg's libx264 encoder", INSTALL);
    }
    println!("all codecs in {:?}", t0.elapsed());
}
