//! H.264 / H.265 Annex-B splitting: arbitrary bytes (after a codec/chunk byte) into the slice splitter and
//! the chunked reader with a small bound. Nothing may panic; without overflow both must give the same
//! access units, and the access units' NAL units must be the stream's.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansrtc::media_file::{AnnexBError, AnnexBReader, NalCodec, access_units, nal_units};

fuzz_target!(|data: &[u8]| {
    let [mode, stream @ ..] = data else { return };
    let codec = if mode & 1 == 0 { NalCodec::H264 } else { NalCodec::H265 };
    let chunk = usize::from(mode >> 1).max(1);
    let units: Vec<Vec<u8>> = access_units(stream, codec).map(|au| au.data.to_vec()).collect();
    let nals: Vec<&[u8]> = nal_units(stream).collect();
    let from_units: Vec<Vec<u8>> =
        units.iter().flat_map(|u| nal_units(u).map(<[u8]>::to_vec).collect::<Vec<_>>()).collect();
    assert_eq!(from_units, nals.iter().map(|n| n.to_vec()).collect::<Vec<_>>());

    let mut r = AnnexBReader::with_max_access_unit_len(codec, 1024);
    let mut streamed = Vec::new();
    let mut overflowed = false;
    for mut piece in stream.chunks(chunk) {
        while !piece.is_empty() {
            let n = r.push(piece);
            piece = &piece[n..];
            while let Some(au) = r.poll_access_unit() {
                match au {
                    Ok(au) => streamed.push(au.data.to_vec()),
                    Err(AnnexBError::AccessUnitTooLarge { .. }) => overflowed = true,
                    Err(_) => {}
                }
            }
        }
    }
    while let Some(au) = r.finish() {
        streamed.push(au.data.to_vec());
    }
    if !overflowed {
        assert_eq!(streamed, units);
    }
});
