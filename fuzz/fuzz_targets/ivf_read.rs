//! IVF reading: arbitrary bytes into the slice reader and the chunked reader (chunk size from the first
//! byte, a small frame bound from the second). Nothing may panic; both readers must yield the same
//! frames, and the frames rewritten by the writer must read back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansrtc::media_file::{IvfReader, IvfStreamReader, IvfWriter};

fuzz_target!(|data: &[u8]| {
    let [chunk, bound, file @ ..] = data else { return };
    let chunk = usize::from(*chunk).max(1);
    let max = u32::from(*bound) * 64;
    let Ok(reader) = IvfReader::new(file) else {
        // The chunked reader must refuse it too (or still be waiting for the header).
        let mut s = IvfStreamReader::with_max_frame_len(max);
        s.push(file);
        assert!(!matches!(s.poll_frame(), Some(Ok(_))));
        return;
    };
    let header = *reader.header();
    let frames: Vec<_> = reader.with_max_frame_len(max).take_while(Result::is_ok).flatten().collect();

    let mut s = IvfStreamReader::with_max_frame_len(max);
    let mut streamed = Vec::new();
    'feed: for mut piece in file.chunks(chunk) {
        while !piece.is_empty() {
            let n = s.push(piece);
            piece = &piece[n..];
            while let Some(f) = s.poll_frame() {
                match f {
                    Ok(f) => streamed.push((f.pts, f.data.to_vec())),
                    Err(_) => break 'feed,
                }
            }
        }
    }
    let _ = s.finish();
    assert_eq!(streamed, frames.iter().map(|f| (f.pts, f.data.to_vec())).collect::<Vec<_>>());

    let mut out = Vec::new();
    let mut w = IvfWriter::new(&header, &mut out);
    for f in &frames {
        w.write_frame(f.pts, f.data, &mut out).unwrap();
    }
    w.finish(&mut out).unwrap();
    let again: Vec<_> = IvfReader::new(&out).unwrap().map(Result::unwrap).collect();
    assert_eq!(again, frames);
});
