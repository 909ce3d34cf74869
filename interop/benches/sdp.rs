//! SDP parse and write: sansrtc next to webrtc-rs's `sdp` crate, on real browser SDP from `vectors/sdp/`.
//!
//! sansrtc borrows from the input when parsing; `parse+own` adds detaching every value into owned strings,
//! which is what `sdp::SessionDescription::unmarshal` always does, so that line is the like-for-like one.

use std::io::Cursor;

use sansrtc::sdp::{SdpType, SessionDescription};
use sansrtc_interop::bench::{compare, measure, report};

fn fixture(name: &str) -> String {
    let path = format!("{}/../vectors/sdp/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).unwrap()
}

fn main() {
    for name in [
        "chromium156_loopback_data/offer.sdp",
        "chromium156_allcodecs_media_data/offer.sdp",
        "firefox_esr_153_media_data/offer.sdp",
    ] {
        let text = fixture(name);
        let short = name.split('/').next().unwrap();
        println!("-- {short} ({} bytes)", text.len());

        // Both must accept it; webrtc-rs does not reproduce it byte for byte, sansrtc does.
        let theirs_sdp = sdp::SessionDescription::unmarshal(&mut Cursor::new(text.as_bytes())).unwrap();
        let ours_sdp = SessionDescription::parse(&text).unwrap();
        assert_eq!(ours_sdp.to_string(), text);

        let ours = measure(|| SessionDescription::parse(&text).map(|s| s.media.len()).unwrap_or(0));
        let ours_owned = measure(|| SessionDescription::parse(&text).map(|s| s.into_owned().media.len()).unwrap_or(0));
        let theirs = measure(|| {
            sdp::SessionDescription::unmarshal(&mut Cursor::new(text.as_bytes()))
                .map(|s| s.media_descriptions.len())
                .unwrap_or(0)
        });
        compare("sdp/parse (borrowed)", ours, "webrtc-rs", theirs);
        compare("sdp/parse+own", ours_owned, "webrtc-rs", theirs);

        let validate = measure(|| ours_sdp.validate_webrtc(SdpType::Offer).is_ok());
        report("sdp/validate_webrtc", "sansrtc", validate);

        let mut buf = String::with_capacity(text.len() * 2);
        let ours_write = measure(|| {
            buf.clear();
            let _ = ours_sdp.write_to(&mut buf);
            buf.len()
        });
        let theirs_write = measure(|| theirs_sdp.marshal().len());
        compare("sdp/write", ours_write, "webrtc-rs", theirs_write);
    }
}
