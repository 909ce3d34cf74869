//! Ogg and Ogg Opus reading: arbitrary bytes (after a chunk-size byte) into the page parser, the Ogg
//! packet reader and the Ogg Opus reader, pushed in chunks. Nothing may panic; the packet reader must
//! yield the same packets whatever the chunking, and never a packet past its bound; Opus packets
//! rewritten by the writer must read back the same. (Under `cfg(fuzzing)` page CRCs are not checked,
//! so the fuzzer reaches reassembly.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansrtc::media_file::{OggOpusReader, OggOpusWriter, OggReader, OpusTags, Page};

const MAX_PACKET: u32 = 4096;

fn packets(data: &[u8], chunk: usize) -> Vec<Result<(Vec<u8>, Option<u64>), sansrtc::media_file::OggError>> {
    let mut r = OggReader::with_max_packet_len(MAX_PACKET);
    let mut out = Vec::new();
    for mut piece in data.chunks(chunk) {
        while !piece.is_empty() {
            let n = r.push(piece);
            piece = &piece[n..];
            while let Some(p) = r.poll_packet() {
                out.push(p.map(|p| (p.data.to_vec(), p.granule_position)));
            }
        }
    }
    let _ = r.finish();
    out
}

fuzz_target!(|data: &[u8]| {
    let [chunk, file @ ..] = data else { return };
    let chunk = usize::from(*chunk).max(1);
    if let Ok(page) = Page::parse(file) {
        let _ = (page.segments(), page.body(), page.granule(), page.crc());
    }
    let whole = packets(file, file.len().max(1));
    let ok = |v: &[Result<(Vec<u8>, Option<u64>), _>]| v.iter().flatten().cloned().collect::<Vec<_>>();
    let chunked = packets(file, chunk);
    assert_eq!(ok(&chunked), ok(&whole));
    // Packets spanning pages are bounded; one page holds at most 255 * 255 bytes.
    assert!(whole.iter().flatten().all(|(p, _)| p.len() <= (MAX_PACKET as usize).max(255 * 255)));

    let mut r = OggOpusReader::new();
    let mut audio = Vec::new();
    for mut piece in file.chunks(chunk) {
        while !piece.is_empty() {
            let n = r.push(piece);
            piece = &piece[n..];
            while let Some(p) = r.poll_packet() {
                if let Ok(p) = p {
                    audio.push(p.data.to_vec());
                }
            }
        }
    }
    let _ = r.finish();
    if let Some(head) = r.head().cloned() {
        let mut out = Vec::new();
        let Ok(mut w) = OggOpusWriter::new(&head, &OpusTags::new("fuzz"), 1, &mut out) else { return };
        for p in &audio {
            w.write_packet(p, &mut out).unwrap();
        }
        w.finish(&mut out).unwrap();
        let mut r = OggOpusReader::new();
        let mut again = Vec::new();
        let mut rest = &out[..];
        while !rest.is_empty() {
            let n = r.push(rest);
            rest = &rest[n..];
            while let Some(p) = r.poll_packet() {
                again.push(p.unwrap().data.to_vec());
            }
        }
        r.finish().unwrap();
        assert_eq!(again, audio);
    }
});
