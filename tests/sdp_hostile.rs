//! Malformed and hostile SDP: every case gives a typed error naming the line, never a panic, and fast.
//! Mutations of the real fixtures (every prefix, byte flips, inserted bytes) must never panic, and
//! whatever parses must write out text that parses back to the same description.

use core::time::Duration;
use std::fs;
use std::path::Path;
use std::time::Instant;

use sansrtc::sdp::{
    AttributeKind, DescriptionBuilder, MediaKind, ParseLimits, SdpError, SdpErrorKind, SdpType, SessionDescription,
};

/// A valid data-channel offer to break in various ways. Line numbers: 1 v, 2 o, 3 s, 4 t, 5 group,
/// 6 m, 7 c, 8 ufrag, 9 pwd, 10 fingerprint, 11 setup, 12 mid, 13 sctp-port.
const OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n\
    m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n\
    a=ice-ufrag:k3yy\r\na=ice-pwd:BQ+CawKLoiKLTE3mG7dEWQyo\r\n\
    a=fingerprint:sha-256 EA:4B:8F:2A:D1:CB:19:11:CA:AF:FC:8E:42:1F:3D:98:4B:48:33:5D:5D:DC:B7:A4:1C:12:A2:B7:6D:E2:DA:C5\r\n\
    a=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\n";

fn err(line: u32, kind: SdpErrorKind) -> Result<(), SdpError> {
    Err(SdpError { line, kind })
}

fn parse_validate(text: &str, kind: SdpType) -> Result<(), SdpError> {
    SessionDescription::parse(text)?.validate_webrtc(kind)
}

fn replace_line(n: usize, with: &str) -> String {
    let mut lines: Vec<&str> = OFFER.split_terminator("\r\n").collect();
    lines[n - 1] = with;
    lines.iter().map(|l| format!("{l}\r\n")).collect()
}

fn remove_line(n: usize) -> String {
    OFFER.split_terminator("\r\n").enumerate().filter(|&(i, _)| i + 1 != n).map(|(_, l)| format!("{l}\r\n")).collect()
}

#[test]
fn the_base_offer_is_valid() {
    parse_validate(OFFER, SdpType::Offer).unwrap();
}

#[test]
fn missing_fingerprint() {
    assert_eq!(parse_validate(&remove_line(10), SdpType::Offer), err(6, SdpErrorKind::MissingFingerprint));
    // A session-level one is enough (Firefox writes it there).
    let fp = OFFER.lines().nth(9).unwrap();
    let moved = remove_line(10).replace("a=group:BUNDLE 0\r\n", &format!("a=group:BUNDLE 0\r\n{fp}\r\n"));
    parse_validate(&moved, SdpType::Offer).unwrap();
    // A rejected section needs none.
    let rejected =
        remove_line(10).replace("m=application 9", "m=application 0").replace("a=group:BUNDLE 0", "a=group:BUNDLE");
    parse_validate(&rejected, SdpType::Offer).unwrap();
}

#[test]
fn bad_ice_credentials() {
    assert_eq!(
        parse_validate(&replace_line(8, "a=ice-ufrag:abc"), SdpType::Offer),
        err(8, SdpErrorKind::UfragLength(3))
    );
    let long = format!("a=ice-ufrag:{}", "u".repeat(257));
    assert_eq!(parse_validate(&replace_line(8, &long), SdpType::Offer), err(8, SdpErrorKind::UfragLength(257)));
    assert_eq!(parse_validate(&replace_line(8, "a=ice-ufrag:ab:c"), SdpType::Offer), err(8, SdpErrorKind::BadIceChar));
    assert_eq!(
        parse_validate(&replace_line(9, "a=ice-pwd:tooshort"), SdpType::Offer),
        err(9, SdpErrorKind::PwdLength(8))
    );
    assert_eq!(parse_validate(&remove_line(8), SdpType::Offer), err(6, SdpErrorKind::MissingIceUfrag));
    assert_eq!(parse_validate(&remove_line(9), SdpType::Offer), err(6, SdpErrorKind::MissingIcePwd));
}

#[test]
fn setup_roles() {
    assert_eq!(parse_validate(OFFER, SdpType::Answer), err(11, SdpErrorKind::BadSetup));
    let holdconn = replace_line(11, "a=setup:holdconn");
    assert_eq!(parse_validate(&holdconn, SdpType::Offer), err(11, SdpErrorKind::BadSetup));
    for role in ["active", "passive"] {
        parse_validate(&replace_line(11, &format!("a=setup:{role}")), SdpType::Answer).unwrap();
    }
    assert_eq!(
        parse_validate(&replace_line(11, "a=setup:client"), SdpType::Offer),
        err(11, SdpErrorKind::BadAttribute(AttributeKind::Setup))
    );
}

#[test]
fn duplicate_mids_and_bundle() {
    let two = format!("{OFFER}m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:0\r\n");
    assert_eq!(parse_validate(&two, SdpType::Offer), err(15, SdpErrorKind::DuplicateMid));
    let unknown = replace_line(5, "a=group:BUNDLE 0 1");
    assert_eq!(parse_validate(&unknown, SdpType::Offer), err(5, SdpErrorKind::UnknownBundleMid));
    // Only BUNDLE groups are checked against the mids.
    let other_group = replace_line(5, "a=group:BUNDLEX 0 1");
    assert_eq!(parse_validate(&other_group, SdpType::Offer), Ok(()));
    let no_mid = remove_line(12);
    assert_eq!(parse_validate(&no_mid, SdpType::Offer), err(5, SdpErrorKind::UnknownBundleMid));
    let no_mid_no_group = remove_line(12).replace("a=group:BUNDLE 0\r\n", "a=group:BUNDLE\r\n");
    assert_eq!(parse_validate(&no_mid_no_group, SdpType::Offer), err(6, SdpErrorKind::MissingMid));
    // A bundled RTP section needs rtcp-mux (RFC 8843 §9.1); the data section does not.
    let tail: String = OFFER.lines().skip(6).map(|l| format!("{l}\r\n")).collect();
    let audio = format!(
        "{}m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n{}",
        replace_line(5, "a=group:BUNDLE 0 1").split("m=").next().unwrap(),
        tail.replace("a=mid:0", "a=mid:1")
    );
    let audio = format!("{audio}m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n{tail}");
    assert_eq!(parse_validate(&audio, SdpType::Offer), err(6, SdpErrorKind::MissingRtcpMux));
    let muxed = audio.replacen("a=sctp-port:5000\r\n", "a=rtcp-mux\r\n", 1);
    parse_validate(&muxed, SdpType::Offer).unwrap();
}

#[test]
fn unknown_m_lines_are_kept_and_answered_as_rejected() {
    let text = format!("{OFFER}m=hologram 7 QUANTUM/TLS entangled\r\na=mid:h\r\na=x-depth:11\r\n");
    let sdp = SessionDescription::parse(&text).unwrap();
    assert_eq!(sdp.to_string(), text);
    let m = &sdp.media[1];
    assert_eq!(m.kind(), MediaKind::Other("hologram"));
    assert!(!m.is_rtp() && !m.is_data_channel());
    assert_eq!(m.line(), 14);
    // The offer is invalid for WebRTC only because the section lacks transport parameters.
    assert_eq!(sdp.validate_webrtc(SdpType::Offer), err(14, SdpErrorKind::MissingFingerprint));
    let answer = DescriptionBuilder::new(1, 1).rejected(m).build().to_string();
    assert!(answer.contains("m=hologram 0 QUANTUM/TLS entangled\r\nc=IN IP4 0.0.0.0\r\na=mid:h\r\n"), "{answer}");
    SessionDescription::parse(&answer).unwrap().validate_webrtc(SdpType::Answer).unwrap();
}

#[test]
fn absurd_lengths() {
    let long_line = format!("a=x-long:{}", "y".repeat(5000));
    assert_eq!(parse_validate(&replace_line(13, &long_line), SdpType::Offer), err(13, SdpErrorKind::LineTooLong));
    let long_pwd = format!("a=ice-pwd:{}", "p".repeat(300));
    assert_eq!(parse_validate(&replace_line(9, &long_pwd), SdpType::Offer), err(9, SdpErrorKind::PwdLength(300)));
    assert_eq!(
        parse_validate(&replace_line(13, "a=sctp-port:99999"), SdpType::Offer),
        err(13, SdpErrorKind::BadAttribute(AttributeKind::SctpPort))
    );
    assert_eq!(
        parse_validate(&replace_line(6, "m=application 99999 UDP/DTLS/SCTP webrtc-datachannel"), SdpType::Offer),
        err(6, SdpErrorKind::BadMediaLine)
    );
    let fp65 = format!("a=fingerprint:sha-512 {}", ["AB"; 65].join(":"));
    assert_eq!(parse_validate(&replace_line(10, &fp65), SdpType::Offer), err(10, SdpErrorKind::BadFingerprint));
    assert_eq!(
        parse_validate(&replace_line(13, "a=max-message-size:1000000000000000000000"), SdpType::Offer),
        err(13, SdpErrorKind::BadAttribute(AttributeKind::MaxMessageSize))
    );

    // Too many attributes in one section (default limit 512): the 513th of the m-section, on line 520.
    let many = format!("{OFFER}{}", "a=x\r\n".repeat(2000));
    assert_eq!(parse_validate(&many, SdpType::Offer), err(520, SdpErrorKind::TooManyAttributes));
    // Too many lines: small ones, well under the byte limit.
    let lines = ParseLimits { max_attributes: usize::MAX, ..ParseLimits::default() };
    assert_eq!(
        SessionDescription::parse_with(many.as_bytes(), &lines).map(drop),
        err(1025, SdpErrorKind::TooManyLines)
    );
    // Too many attributes in one section, under a tighter limit.
    let limits = ParseLimits { max_attributes: 20, ..ParseLimits::default() };
    let attrs = format!("{OFFER}{}", "a=x\r\n".repeat(20));
    assert_eq!(
        SessionDescription::parse_with(attrs.as_bytes(), &limits).map(drop),
        err(28, SdpErrorKind::TooManyAttributes)
    );
    // Too many m-sections.
    let sections = format!("{OFFER}{}", "m=audio 0 RTP/AVP 0\r\n".repeat(100));
    assert_eq!(parse_validate(&sections, SdpType::Offer), err(14 + 64 - 1, SdpErrorKind::TooManyMediaSections));
}

#[test]
fn ten_megabyte_body_is_rejected_at_once() {
    let mut body = OFFER.as_bytes().to_vec();
    while body.len() < 10 * 1024 * 1024 {
        body.extend_from_slice(b"a=x-padding:0123456789012345678901234567890123456789\r\n");
    }
    let start = Instant::now();
    let result = SessionDescription::parse_bytes(&body);
    let elapsed = start.elapsed();
    assert_eq!(result.map(drop), err(0, SdpErrorKind::TooLarge { len: body.len(), limit: 64 * 1024 }));
    assert!(elapsed < Duration::from_millis(5), "took {elapsed:?}");

    // With the size limit raised, the attribute and line limits still stop it early.
    let result =
        SessionDescription::parse_with(&body, &ParseLimits { max_bytes: usize::MAX, ..ParseLimits::default() });
    assert_eq!(result.map(drop), err(520, SdpErrorKind::TooManyAttributes));
    let limits = ParseLimits { max_bytes: usize::MAX, max_attributes: usize::MAX, ..ParseLimits::default() };
    let start = Instant::now();
    let result = SessionDescription::parse_with(&body, &limits);
    assert_eq!(result.map(drop), err(1025, SdpErrorKind::TooManyLines));
    // UTF-8 validation of the whole body is the only full pass: well under a second even in debug builds.
    assert!(start.elapsed() < Duration::from_secs(1), "took {:?}", start.elapsed());
}

#[test]
fn bytes_that_do_not_belong() {
    // Embedded NUL.
    assert_eq!(parse_validate(&replace_line(12, "a=mid:0\0"), SdpType::Offer), err(12, SdpErrorKind::NulByte));
    // CR without LF, inside a line and as the only line ending.
    assert_eq!(
        parse_validate(&replace_line(11, "a=setup:actpass\rX"), SdpType::Offer),
        err(11, SdpErrorKind::BareCarriageReturn)
    );
    assert_eq!(parse_validate(&OFFER.replace("\r\n", "\r"), SdpType::Offer), err(1, SdpErrorKind::BareCarriageReturn));
    // CR CR LF.
    assert_eq!(
        parse_validate(&OFFER.replacen("\r\n", "\r\r\n", 1), SdpType::Offer),
        err(1, SdpErrorKind::BareCarriageReturn)
    );
    // Not UTF-8, on line 12.
    let mut bytes = replace_line(12, "a=mid:X").into_bytes();
    let at = bytes.windows(7).position(|w| w == b"a=mid:X").unwrap() + 6;
    bytes[at] = 0xFF;
    assert_eq!(SessionDescription::parse_bytes(&bytes).map(drop), err(12, SdpErrorKind::NotUtf8));
    // Non-ASCII UTF-8 in a free-text field is fine.
    let named = OFFER.replace("s=-", "s=Grüße");
    assert_eq!(SessionDescription::parse(&named).unwrap().session_name, "Grüße");
}

#[test]
fn errors_display_their_line() {
    let e = SessionDescription::parse(&replace_line(8, "a=ice-ufrag:abc")).unwrap_err();
    assert_eq!(e.to_string(), "SDP line 8: ice-ufrag of 3 characters (allowed: 4 to 256)");
    let e = SessionDescription::parse_bytes(&vec![b'v'; 70_000]).unwrap_err();
    assert_eq!(e.to_string(), "SDP: description of 70000 bytes exceeds the limit of 65536");
}

fn fixtures() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors/sdp");
    let mut out = Vec::new();
    for dir in fs::read_dir(root).unwrap() {
        let dir = dir.unwrap().path();
        for file in ["offer.sdp", "answer.sdp"] {
            if let Ok(bytes) = fs::read(dir.join(file)) {
                out.push(bytes);
            }
        }
    }
    out.push(OFFER.as_bytes().to_vec());
    out
}

/// What the fuzz target checks, on one input: no panic, and if it parses, its writing parses back equal.
fn check(input: &[u8]) {
    if let Ok(sdp) = SessionDescription::parse_bytes(input) {
        let text = sdp.to_string();
        let again = SessionDescription::parse(&text).unwrap_or_else(|e| panic!("{e} re-parsing {text:?}"));
        assert_eq!(again, sdp);
        assert_eq!(again.to_string(), text);
        let _ = sdp.validate_webrtc(SdpType::Offer);
        let _ = sdp.validate_webrtc(SdpType::Answer);
    }
}

#[test]
fn mutated_fixtures_never_panic() {
    let start = Instant::now();
    for fixture in fixtures() {
        // Every prefix on a line boundary, and a stride of prefixes in between.
        for end in (0..fixture.len()).filter(|&i| i % 7 == 0 || fixture.get(i) == Some(&b'\n')) {
            check(&fixture[..end]);
        }
        // Single-byte substitutions with bytes that matter to the grammar.
        for (i, step) in (0..fixture.len()).step_by(13).zip(0usize..) {
            let mut m = fixture.clone();
            m[i] = [b' ', b':', b'=', b'\r', b'\n', 0, 0xC3, b'/', b'0', b'a'][step % 10];
            check(&m);
        }
        // Lines swapped with their neighbour.
        let text = String::from_utf8(fixture.clone()).unwrap();
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        for i in 1..lines.len() {
            let mut l = lines.clone();
            l.swap(i - 1, i);
            check(l.concat().as_bytes());
        }
    }
    assert!(start.elapsed() < Duration::from_secs(30));
}
