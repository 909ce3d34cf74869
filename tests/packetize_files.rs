//! The payload formats on real encoder output: ffmpeg encodes a short test pattern (AV1 with libaom,
//! VP9 with libvpx, H.265 with libx265) into a temporary directory; every frame goes through the
//! packetizer and the depacketizer at two payload sizes and must come back identical (for AV1, after the
//! documented normalisation: no temporal delimiter). The reassembled AV1 and VP9 streams are written to IVF
//! again and ffmpeg must decode them to the same pictures (frame checksums) as the originals. Needs
//! `ffmpeg` with those encoders (`bash scripts/setup` installs Debian's): without it the tests are skipped,
//! or fail under CI (`tests/support/tool.rs`).
#![cfg(feature = "std")]

use std::path::{Path, PathBuf};
use std::process::Command;

use sansrtc::packetize::av1::{Av1Depacketizer, Av1Packetizer};
use sansrtc::packetize::h265::{AnnexB, H265Depacketizer, H265Packetizer};
use sansrtc::packetize::vp9::{Vp9Depacketizer, Vp9Packetizer};
use sansrtc::packetize::{Depacketizer, Packetizer, PayloadInfo};

#[path = "support/tool.rs"]
mod tool;

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("sansrtc-packetize-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether ffmpeg is installed with `encoder`; when not, the test is skipped, saying so, or fails under CI.
fn ffmpeg_with(encoder: &str) -> bool {
    let out = Command::new("ffmpeg").args(["-hide_banner", "-encoders"]).output();
    if out
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).lines().any(|l| l.split_whitespace().nth(1) == Some(encoder)))
    {
        return true;
    }
    tool::missing(&format!("ffmpeg with the {encoder} encoder"), "`apt-get install ffmpeg` or `bash scripts/setup`");
    false
}

/// Encodes 30 frames of ffmpeg's test pattern (320x240, a key frame every 10) with `codec_args` into `out`.
fn encode(out: &Path, codec_args: &[&str], format: &str) {
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=30"])
        .args(["-frames:v", "30", "-g", "10", "-pix_fmt", "yuv420p"])
        .args(codec_args)
        .args(["-f", format])
        .arg(out)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg encoding failed: {status}");
}

/// The frames of an IVF file: a 32-byte file header ("DKIF", version, header size, fourcc, ...), then
/// each frame after a 12-byte header (little-endian size, 64-bit timestamp). Returns the fourcc too.
fn read_ivf(bytes: &[u8]) -> ([u8; 4], Vec<(u64, Vec<u8>)>) {
    assert_eq!(&bytes[..4], b"DKIF", "IVF signature");
    let header_len = usize::from(u16::from_le_bytes([bytes[6], bytes[7]]));
    let fourcc = bytes[8..12].try_into().unwrap();
    let mut frames = Vec::new();
    let mut rest = &bytes[header_len..];
    while rest.len() >= 12 {
        let size = u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize;
        let pts = u64::from_le_bytes(rest[4..12].try_into().unwrap());
        frames.push((pts, rest[12..12 + size].to_vec()));
        rest = &rest[12 + size..];
    }
    assert!(rest.is_empty(), "IVF ends inside a frame header");
    (fourcc, frames)
}

/// Writes an IVF file: the header of `template` (its frame count left as is) and `frames`.
fn write_ivf(path: &Path, template: &[u8], frames: &[(u64, Vec<u8>)]) {
    let mut out = template[..32].to_vec();
    for (pts, f) in frames {
        out.extend((f.len() as u32).to_le_bytes());
        out.extend(pts.to_le_bytes());
        out.extend(f);
    }
    std::fs::write(path, out).unwrap();
}

/// ffmpeg's per-frame checksums of the decoded pictures of `path`.
fn decoded_checksums(path: &Path) -> Vec<String> {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-i"])
        .arg(path)
        .args(["-f", "framemd5", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "ffmpeg decoding {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let sums: Vec<String> =
        text.lines().filter(|l| !l.starts_with('#')).map(|l| l.rsplit(',').next().unwrap().trim().to_owned()).collect();
    assert!(sums.len() >= 30, "{} decoded pictures", sums.len());
    sums
}

/// Packetizes `frame` at `max` and depacketizes it; checks sizes and the marker; returns the frame and
/// the first payload's info.
fn round_trip(
    p: &mut dyn Packetizer,
    d: &mut dyn Depacketizer,
    frame: &[u8],
    max: usize,
) -> (Vec<u8>, PayloadInfo, usize) {
    let mut payloads = Vec::new();
    let n = p.packetize(frame, max, &mut |pl| payloads.push((pl.data.to_vec(), pl.marker))).unwrap();
    assert_eq!(n, payloads.len());
    let mut out = Vec::new();
    let mut first = None;
    for (i, (data, marker)) in payloads.iter().enumerate() {
        assert!(data.len() <= max);
        assert_eq!(*marker, i + 1 == n);
        let info = d.depacketize(data, &mut out).unwrap();
        first.get_or_insert(info);
    }
    (out, first.unwrap(), n)
}

/// A temporal unit without its temporal delimiters: what the AV1 depacketizer gives back.
fn without_temporal_delimiters(tu: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = tu;
    while let Some(&h) = rest.first() {
        assert!(h & 0x02 != 0, "ffmpeg writes OBU size fields");
        let hl = if h & 0x04 != 0 { 2 } else { 1 };
        let (mut size, mut n) = (0usize, 0);
        loop {
            let b = rest[hl + n];
            size |= usize::from(b & 0x7f) << (7 * n);
            n += 1;
            if b & 0x80 == 0 {
                break;
            }
        }
        let total = hl + n + size;
        if (h >> 3) & 0x0f != 2 {
            out.extend(&rest[..total]);
        }
        rest = &rest[total..];
    }
    out
}

#[test]
fn av1_from_libaom_round_trips() {
    if !ffmpeg_with("libaom-av1") {
        return;
    }
    let dir = TempDir::new("av1");
    let src = dir.0.join("in.ivf");
    encode(&src, &["-c:v", "libaom-av1", "-cpu-used", "8", "-usage", "realtime", "-b:v", "400k"], "ivf");
    let bytes = std::fs::read(&src).unwrap();
    let (fourcc, frames) = read_ivf(&bytes);
    assert_eq!(&fourcc, b"AV01");
    assert_eq!(frames.len(), 30);
    let mut reassembled = Vec::new();
    let (mut p, mut d) = (Av1Packetizer::new(), Av1Depacketizer::new());
    let mut fragmented = 0;
    for (i, (pts, frame)) in frames.iter().enumerate() {
        let want = without_temporal_delimiters(frame);
        for max in [1200, 100] {
            let (got, info, n) = round_trip(&mut p, &mut d, frame, max);
            assert_eq!(got, want, "frame {i} at {max}");
            if i == 0 {
                assert!(info.keyframe && info.frame_start, "the first temporal unit starts a sequence");
            }
            fragmented += usize::from(n > 1);
        }
        reassembled.push((*pts, want));
    }
    assert!(fragmented >= 20, "only {fragmented} of 60 round trips needed more than one payload");
    assert_eq!(d.errors(), 0);
    let dst = dir.0.join("out.ivf");
    write_ivf(&dst, &bytes, &reassembled);
    assert_eq!(decoded_checksums(&dst), decoded_checksums(&src));
}

#[test]
fn vp9_from_libvpx_round_trips() {
    if !ffmpeg_with("libvpx-vp9") {
        return;
    }
    let dir = TempDir::new("vp9");
    let src = dir.0.join("in.ivf");
    encode(&src, &["-c:v", "libvpx-vp9", "-deadline", "good", "-cpu-used", "5", "-b:v", "400k"], "ivf");
    let bytes = std::fs::read(&src).unwrap();
    let (fourcc, frames) = read_ivf(&bytes);
    assert_eq!(&fourcc, b"VP90");
    let mut reassembled = Vec::new();
    let (mut p, mut d) = (Vp9Packetizer::new(0x1234), Vp9Depacketizer::new());
    let mut keyframes = 0;
    for (i, (pts, frame)) in frames.iter().enumerate() {
        for max in [1200, 200] {
            let (got, info, _) = round_trip(&mut p, &mut d, frame, max);
            assert_eq!(&got, frame, "frame {i} at {max}");
            keyframes += usize::from(info.keyframe);
            if i == 0 {
                assert!(info.keyframe, "the first frame is a key frame");
            }
        }
        reassembled.push((*pts, frame.clone()));
    }
    // Key frames every 10 frames, each round-tripped twice.
    assert_eq!(keyframes, 6, "key frames seen");
    assert_eq!(d.errors(), 0);
    let dst = dir.0.join("out.ivf");
    write_ivf(&dst, &bytes, &reassembled);
    assert_eq!(decoded_checksums(&dst), decoded_checksums(&src));
}

#[test]
fn h265_from_libx265_round_trips() {
    if !ffmpeg_with("libx265") {
        return;
    }
    let dir = TempDir::new("h265");
    let src = dir.0.join("in.h265");
    let params = "log-level=error:aud=1:repeat-headers=1";
    encode(&src, &["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", params], "hevc");
    let stream = std::fs::read(&src).unwrap();
    let nal_type = |n: &[u8]| (n[0] >> 1) & 0x3f;
    // Access units: split at the access unit delimiters (type 35) the encoder was asked for.
    let mut units: Vec<Vec<&[u8]>> = Vec::new();
    for nal in AnnexB::new(&stream) {
        if nal_type(nal) == 35 || units.is_empty() {
            units.push(Vec::new());
        }
        units.last_mut().unwrap().push(nal);
    }
    assert_eq!(units.len(), 30);
    let (mut p, mut d) = (H265Packetizer::new(), H265Depacketizer::new());
    let (mut keyframes, mut repeated) = (0, 0);
    let mut reassembled = Vec::new();
    for (i, unit) in units.iter().enumerate() {
        let irap = unit.iter().any(|n| (16..=21).contains(&nal_type(n)));
        // After the first, IRAP access units go in without their VPS, SPS and PPS: the packetizer puts
        // back the ones it remembers, where the encoder had them.
        let strip = i > 0 && irap;
        let sent: Vec<&[u8]> = unit.iter().copied().filter(|n| !strip || !(32..=34).contains(&nal_type(n))).collect();
        repeated += usize::from(sent.len() < unit.len());
        let input: Vec<u8> = sent.iter().flat_map(|n| [0, 0, 1].iter().chain(*n)).copied().collect();
        let want: Vec<u8> = unit.iter().flat_map(|n| [0, 0, 0, 1].iter().chain(*n)).copied().collect();
        for max in [1200, 200] {
            let (got, info, _) = round_trip(&mut p, &mut d, &input, max);
            assert_eq!(got, want, "access unit {i} at {max}");
            assert!(info.frame_start, "access unit {i} starts with its delimiter");
            keyframes += usize::from(info.keyframe);
            if max == 200 {
                reassembled.extend(got);
            }
        }
    }
    assert_eq!(repeated, 2, "IRAP access units after the first");
    // The AUD-led first payload of an IRAP access unit aggregates its parameter sets: a key frame.
    assert_eq!(keyframes, 6, "key frames seen (twice each)");
    assert_eq!(d.errors(), 0);
    let dst = dir.0.join("out.h265");
    std::fs::write(&dst, reassembled).unwrap();
    assert_eq!(decoded_checksums(&dst), decoded_checksums(&src));
}
