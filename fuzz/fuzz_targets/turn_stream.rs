//! Arbitrary bytes as a TURN TCP/TLS stream, cut into arbitrary reads: the bounded decoder and the
//! stateless splitter must agree frame for frame, never panic, and never buffer past their bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansrtc::turn::{Frame, StreamDecoder, emit_stream_frame, split_frame};

fn own(f: &Frame<'_>) -> (Option<u16>, Vec<u8>) {
    match f {
        Frame::Stun(m) => (None, m.as_bytes().to_vec()),
        Frame::ChannelData { channel, data } => (Some(*channel), data.to_vec()),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, stream)) = data.split_first() else { return };
    let chunk = usize::from(cut % 64) + 1;
    const CAP: usize = 4096;

    // The stateless splitter on the whole stream.
    let mut expected = Vec::new();
    let mut rest = stream;
    loop {
        match split_frame(rest) {
            Ok(Some((f, used))) => {
                assert!(used > 0 && used <= rest.len());
                let mut again = Vec::new();
                if emit_stream_frame(&mut again, &f).is_ok() {
                    assert_eq!(split_frame(&again).ok().flatten().map(|(g, _)| own(&g)), Some(own(&f)));
                }
                expected.push(Ok(own(&f)));
                rest = &rest[used..];
            }
            Ok(None) => break,
            Err(e) => {
                expected.push(Err(e));
                break;
            }
        }
    }

    // The buffered decoder, fed in chunks.
    let mut d = StreamDecoder::new(CAP);
    let mut got = Vec::new();
    let mut fed = 0;
    'feed: while fed < stream.len() {
        let end = (fed + chunk).min(stream.len());
        let n = d.push(&stream[fed..end]);
        fed += n;
        assert!(d.buffered() <= CAP);
        while let Some(f) = d.next_frame() {
            match f {
                Ok(f) => got.push(Ok(own(&f))),
                Err(e) => {
                    got.push(Err(e));
                    // A malformed STUN message is skipped; lost framing is final.
                    if matches!(e, sansrtc::turn::Error::StreamCorrupt | sansrtc::turn::Error::FrameTooLarge) {
                        break 'feed;
                    }
                }
            }
        }
        if n == 0 {
            break;
        }
    }
    // Up to the first error both agree (the splitter stops at a malformed frame, the decoder skips it;
    // only the decoder has a size bound).
    let agree = expected.iter().zip(&got).take_while(|(a, b)| a.is_ok() && b.is_ok()).count();
    assert_eq!(expected[..agree], got[..agree]);
});
