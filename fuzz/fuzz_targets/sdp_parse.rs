//! Arbitrary bytes into the SDP parser. Nothing may panic; whatever parses must write out text that
//! parses back to an equal description and writes the same text again; validation must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansrtc::sdp::{SdpType, SessionDescription};

fuzz_target!(|data: &[u8]| {
    let Ok(sdp) = SessionDescription::parse_bytes(data) else { return };
    let text = sdp.to_string();
    let again = match SessionDescription::parse(&text) {
        Ok(again) => again,
        Err(e) => panic!("written description does not parse: {e}\n{text}"),
    };
    assert_eq!(again, sdp);
    assert_eq!(again.to_string(), text);
    let _ = sdp.validate_webrtc(SdpType::Offer);
    let _ = sdp.validate_webrtc(SdpType::Answer);
    for m in &sdp.media {
        let _ = sdp.fingerprints_for(m).count();
        let _ = sdp.ice_credentials_for(m);
        let _ = m.attributes.candidates().count();
    }
    let _ = sdp.into_owned();
});
