//! The media file readers and writers against ffmpeg: files ffmpeg encodes (IVF with VP8, VP9 and AV1,
//! Ogg Opus, H.264 and H.265 Annex-B) are read, rewritten by our writers, and decoded and probed by ffmpeg
//! again. Without ffmpeg the tests are skipped, or fail under CI (`tests/support/tool.rs`).

use std::path::{Path, PathBuf};
use std::process::Command;

use sansrtc::media_file::{
    AnnexBReader, IvfReader, IvfStreamReader, IvfWriter, NalCodec, OggOpusReader, OggOpusWriter, OpusHead, OpusTags,
    access_units,
};

#[path = "support/tool.rs"]
mod tool;

const INSTALL: &str = "`apt-get install ffmpeg` or `bash scripts/setup`";

fn ffmpeg_available() -> bool {
    ["ffmpeg", "ffprobe"].iter().all(|t| Command::new(t).arg("-version").output().is_ok_and(|o| o.status.success()))
}

fn encoders() -> String {
    let out = Command::new("ffmpeg").args(["-hide_banner", "-encoders"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn has_encoder(name: &str) -> bool {
    encoders().lines().any(|l| l.split_whitespace().nth(1) == Some(name))
}

/// A scratch directory of this test, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("sansrtc-media-files-{}-{name}", std::process::id()));
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

/// Runs ffmpeg quietly; panics with its error output if it fails.
fn ffmpeg(args: &[&str], out: &Path) {
    let o = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-y"])
        .args(args)
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "ffmpeg {args:?} failed: {}", String::from_utf8_lossy(&o.stderr));
}

/// ffmpeg decodes the whole file; returns what it printed at level error (nothing for a clean file).
fn decode_errors(file: &Path) -> String {
    let o = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    assert!(o.status.success(), "ffmpeg could not decode {}: {}", file.display(), String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// One `ffprobe -show_entries` value of the first stream.
fn probe(file: &Path, entry: &str, count_frames: bool) -> String {
    let mut cmd = Command::new("ffprobe");
    cmd.args(["-v", "error", "-select_streams", "0", "-show_entries", entry, "-of", "default=nw=1:nk=1"]);
    if count_frames {
        cmd.arg("-count_frames");
    }
    let o = cmd.arg(file).output().unwrap();
    assert!(o.status.success(), "ffprobe {}: {}", file.display(), String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

fn probe_f64(file: &Path, entry: &str) -> f64 {
    let v = probe(file, entry, false);
    v.parse().unwrap_or_else(|_| panic!("ffprobe {entry} of {}: {v:?}", file.display()))
}

// ---------------------------------------------------------------- IVF

/// ffmpeg encodes 60 frames into IVF with `encoder`; both readers read them, the writer rewrites them,
/// and ffmpeg decodes and counts the rewritten file.
fn ivf_round_trip(encoder: &str, fourcc: [u8; 4], extra: &[&str]) {
    let dir = Scratch::new(encoder);
    let src = dir.path("in.ivf");
    let mut args = vec!["-f", "lavfi", "-i", "testsrc=size=320x240:rate=30", "-frames:v", "60", "-c:v", encoder];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["-f", "ivf"]);
    ffmpeg(&args, &src);
    let bytes = std::fs::read(&src).unwrap();

    let reader = IvfReader::new(&bytes).unwrap();
    let header = *reader.header();
    assert_eq!(header.fourcc, fourcc);
    assert_eq!((header.width, header.height), (320, 240));
    let frames: Vec<_> = reader.collect::<Result<_, _>>().unwrap();
    assert_eq!(frames.len(), 60, "{encoder}");
    assert!(frames.windows(2).all(|w| w[0].pts < w[1].pts), "{encoder}: timestamps increase");
    assert!(frames.iter().all(|f| !f.data.is_empty()));

    // The stream reader, fed in odd-sized chunks, sees the same frames.
    let mut stream = IvfStreamReader::new();
    let mut streamed = Vec::new();
    for mut chunk in bytes.chunks(1000) {
        while !chunk.is_empty() {
            let n = stream.push(chunk);
            chunk = &chunk[n..];
            while let Some(f) = stream.poll_frame() {
                let f = f.unwrap();
                streamed.push((f.pts, f.data.to_vec()));
            }
        }
    }
    stream.finish().unwrap();
    assert_eq!(streamed, frames.iter().map(|f| (f.pts, f.data.to_vec())).collect::<Vec<_>>());

    // And read straight from the file.
    let mut file = std::fs::File::open(&src).unwrap();
    let mut stream = IvfStreamReader::new();
    let mut from_file = 0;
    while stream.read_from(&mut file).unwrap() > 0 {
        while let Some(f) = stream.poll_frame() {
            assert_eq!(f.unwrap().data, frames[from_file].data);
            from_file += 1;
        }
    }
    stream.finish().unwrap();
    assert_eq!(from_file, 60);

    // Rewrite, with a frame count of 0 in the header until `finish` patches it.
    let mut out = Vec::new();
    let mut writer = IvfWriter::new(&sansrtc::media_file::IvfHeader { frame_count: 0, ..header }, &mut out);
    for f in &frames {
        writer.write_frame(f.pts, f.data, &mut out).unwrap();
    }
    writer.finish(&mut out).unwrap();
    assert_eq!(IvfReader::new(&out).unwrap().header().frame_count, 60);
    assert_eq!(out.len(), bytes.len());
    assert_eq!(out[32..], bytes[32..], "{encoder}: frames and frame headers byte for byte");
    let dst = dir.path("out.ivf");
    std::fs::write(&dst, &out).unwrap();
    assert_eq!(decode_errors(&dst), "", "{encoder}");
    assert_eq!(probe(&dst, "stream=nb_read_frames", true), "60", "{encoder}");
    assert_eq!(probe(&src, "stream=nb_read_frames", true), "60", "{encoder}");
}

#[test]
fn ivf_vp8_vp9_av1_from_ffmpeg() {
    if !ffmpeg_available() {
        return tool::missing("ffmpeg", INSTALL);
    }
    ivf_round_trip("libvpx", *b"VP80", &["-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k"]);
    if has_encoder("libvpx-vp9") {
        ivf_round_trip("libvpx-vp9", *b"VP90", &["-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k"]);
    } else {
        println!("no libvpx-vp9 encoder in this ffmpeg: VP9 not tested");
    }
    if has_encoder("libaom-av1") {
        ivf_round_trip("libaom-av1", *b"AV01", &["-usage", "realtime", "-cpu-used", "8", "-b:v", "300k"]);
    } else if has_encoder("libsvtav1") {
        ivf_round_trip("libsvtav1", *b"AV01", &["-preset", "12"]);
    } else {
        println!("no AV1 encoder in this ffmpeg: AV1 not tested");
    }
}

// ---------------------------------------------------------------- Ogg Opus

struct OpusFile {
    head: OpusHead,
    packets: Vec<(Vec<u8>, u32, u64)>,
}

fn read_opus_file(bytes: &[u8], chunk: usize) -> OpusFile {
    let mut r = OggOpusReader::new();
    let mut packets = Vec::new();
    for mut piece in bytes.chunks(chunk) {
        while !piece.is_empty() {
            let n = r.push(piece);
            piece = &piece[n..];
            while let Some(p) = r.poll_packet() {
                let p = p.unwrap();
                packets.push((p.data.to_vec(), p.samples, p.granule.expect("a granule on every packet")));
            }
        }
    }
    r.finish().unwrap();
    OpusFile { head: r.head().unwrap().clone(), packets }
}

#[test]
fn ogg_opus_from_ffmpeg() {
    if !ffmpeg_available() {
        return tool::missing("ffmpeg", INSTALL);
    }
    let dir = Scratch::new("opus");
    let src = dir.path("in.opus");
    ffmpeg(&["-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:a", "libopus", "-f", "ogg"], &src);
    let bytes = std::fs::read(&src).unwrap();
    let file = read_opus_file(&bytes, bytes.len());
    assert_eq!(read_opus_file(&bytes, 333).packets, file.packets, "chunked reading");
    let mut from_file = Vec::new();
    let mut reader = OggOpusReader::new();
    let mut source = std::fs::File::open(&src).unwrap();
    while reader.read_from(&mut source).unwrap() > 0 {
        while let Some(p) = reader.poll_packet() {
            let p = p.unwrap();
            from_file.push((p.data.to_vec(), p.samples, p.granule.unwrap()));
        }
    }
    reader.finish().unwrap();
    assert_eq!(from_file, file.packets, "reading from the file");
    let head = &file.head;
    assert_eq!(head.channels, 1);
    assert!(head.pre_skip > 0);

    // Granules: each packet ends where the one before ended plus its TOC duration; the last one may be
    // trimmed (the EOS page ends the stream at 2 s plus the pre-skip).
    let n = file.packets.len();
    assert_eq!(probe(&src, "stream=nb_read_frames", true), n.to_string());
    let mut end = 0u64;
    for (i, (data, samples, granule)) in file.packets.iter().enumerate() {
        assert_eq!(*samples, 960, "libopus' default 20 ms frames");
        assert!(!data.is_empty());
        end += u64::from(*samples);
        if i + 1 < n {
            assert_eq!(*granule, end, "packet {i}");
        } else {
            assert!(*granule <= end && *granule + u64::from(*samples) > end - u64::from(*samples));
        }
    }
    let last = file.packets[n - 1].2;
    assert_eq!(last, 96_000 + u64::from(head.pre_skip), "2 s of audio plus the pre-skip");

    // Rewritten with the same header and end: ffmpeg decodes it and finds the same duration.
    let mut out = Vec::new();
    let mut w = OggOpusWriter::new(head, &OpusTags::new("sansrtc"), 0x5eed, &mut out).unwrap();
    for (data, _, _) in &file.packets {
        w.write_packet(data, &mut out).unwrap();
    }
    w.finish_at(last, &mut out).unwrap();
    let dst = dir.path("out.opus");
    std::fs::write(&dst, &out).unwrap();
    assert_eq!(decode_errors(&dst), "");
    let (d_src, d_dst) = (probe_f64(&src, "format=duration"), probe_f64(&dst, "format=duration"));
    assert!((d_src - d_dst).abs() <= 0.020, "durations {d_src} and {d_dst}");
    assert_eq!(probe(&dst, "stream=nb_read_frames", true), n.to_string());
    assert_eq!(read_opus_file(&out, 1000).packets, file.packets);

    // A gap filled with TOC-only packets ("no frame", as the writer's documentation advises): ffmpeg
    // decodes it without complaint and the timeline does not move.
    let mut out = Vec::new();
    let mut w = OggOpusWriter::new(head, &OpusTags::new("sansrtc"), 9, &mut out).unwrap();
    for (i, (data, _, _)) in file.packets.iter().enumerate() {
        let packet = if (20..30).contains(&i) { &data[..1] } else { &data[..] };
        w.write_packet(packet, &mut out).unwrap();
    }
    w.finish_at(last, &mut out).unwrap();
    let gap = dir.path("gap.opus");
    std::fs::write(&gap, &out).unwrap();
    assert_eq!(decode_errors(&gap), "");
    let d_gap = probe_f64(&gap, "format=duration");
    assert!((d_src - d_gap).abs() <= 0.020, "durations {d_src} and {d_gap}");

    // The same packets with a pre-skip of our own and no end trimming: ffmpeg puts the first packet the
    // pre-skip before zero and ends the stream at the samples written less the pre-skip.
    for pre_skip in [3840u16, 480] {
        let mut head = head.clone();
        head.pre_skip = pre_skip;
        let mut out = Vec::new();
        let mut w = OggOpusWriter::new(&head, &OpusTags::new("sansrtc"), 7, &mut out).unwrap();
        for (data, _, _) in &file.packets {
            w.write_packet(data, &mut out).unwrap();
        }
        let total = w.granule();
        w.finish(&mut out).unwrap();
        let dst = dir.path("skip.opus");
        std::fs::write(&dst, &out).unwrap();
        assert_eq!(decode_errors(&dst), "");
        // ffmpeg's timeline: the first packet at -pre_skip, the last ending at total - pre_skip; the
        // duration spans both.
        let pts = probe(&dst, "packet=pts", false);
        let pts: Vec<i64> = pts.lines().map(|l| l.parse().unwrap()).collect();
        assert_eq!(pts.len(), n);
        assert_eq!(pts[0], -i64::from(pre_skip), "pre-skip {pre_skip}");
        let last_end = pts[n - 1] + i64::from(file.packets[n - 1].1);
        assert_eq!(last_end, total as i64 - i64::from(pre_skip), "pre-skip {pre_skip}");
        let duration = probe_f64(&dst, "format=duration");
        assert!((duration - total as f64 / 48_000.0).abs() < 0.001, "pre-skip {pre_skip}: duration {duration}");
    }
}

// ---------------------------------------------------------------- Annex-B

fn annexb_count(encoder: &str, codec: NalCodec, format: &str, bsf: &str, extra: &[&str]) {
    let dir = Scratch::new(encoder);
    let src = dir.path("in.es");
    let mut args = vec!["-f", "lavfi", "-i", "testsrc=size=320x240:rate=30", "-frames:v", "60", "-c:v", encoder];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["-bsf:v", bsf, "-f", format]);
    ffmpeg(&args, &src);
    let bytes = std::fs::read(&src).unwrap();
    let units: Vec<_> = access_units(&bytes, codec).collect();
    assert_eq!(units.len(), 60, "{encoder}: one access unit per encoded frame");
    assert!(units[0].is_random_access());
    let mut reader = AnnexBReader::new(codec);
    let mut streamed = Vec::new();
    for mut chunk in bytes.chunks(777) {
        while !chunk.is_empty() {
            let n = reader.push(chunk);
            chunk = &chunk[n..];
            while let Some(au) = reader.poll_access_unit() {
                streamed.push(au.unwrap().data.to_vec());
            }
        }
    }
    while let Some(au) = reader.finish() {
        streamed.push(au.data.to_vec());
    }
    assert_eq!(streamed, units.iter().map(|u| u.data.to_vec()).collect::<Vec<_>>());
    let mut source = std::fs::File::open(&src).unwrap();
    let mut reader = AnnexBReader::new(codec);
    let mut from_file = 0;
    while reader.read_from(&mut source).unwrap() > 0 {
        while let Some(au) = reader.poll_access_unit() {
            assert_eq!(au.unwrap().data, units[from_file].data);
            from_file += 1;
        }
    }
    while let Some(au) = reader.finish() {
        assert_eq!(au.data, units[from_file].data);
        from_file += 1;
    }
    assert_eq!(from_file, 60);
    assert_eq!(probe(&src, "stream=nb_read_frames", true), "60");
}

#[test]
fn annexb_h264_h265_from_ffmpeg() {
    if !ffmpeg_available() {
        return tool::missing("ffmpeg", INSTALL);
    }
    annexb_count("libx264", NalCodec::H264, "h264", "h264_mp4toannexb", &["-preset", "ultrafast"]);
    if has_encoder("libx265") {
        annexb_count(
            "libx265",
            NalCodec::H265,
            "hevc",
            "hevc_mp4toannexb",
            &["-preset", "ultrafast", "-x265-params", "log-level=error"],
        );
    } else {
        println!("no libx265 encoder in this ffmpeg: H.265 not tested");
    }
}
