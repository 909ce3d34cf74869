//! Every real offer and answer in `vectors/sdp/` parses, passes WebRTC validation, writes back byte for
//! byte, and gives the expected values through the typed accessors.

extern crate alloc;

use alloc::borrow::Cow;
use std::fs;
use std::path::{Path, PathBuf};

use sansrtc::sdp::{
    CandidateAddress, CandidateTransport, CandidateType, HashFunction, MediaKind, SdpType, SessionDescription, Setup,
    TcpType,
};

fn fixture_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors/sdp");
    let mut dirs: Vec<PathBuf> =
        fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.join("offer.sdp").exists()).collect();
    dirs.sort();
    dirs
}

/// A fixture's text; leaked so parsed descriptions can borrow it for the whole test.
fn read(dir: &str, file: &str) -> &'static str {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors/sdp").join(dir).join(file);
    Box::leak(fs::read_to_string(path).unwrap().into_boxed_str())
}

#[test]
fn every_fixture_round_trips_byte_for_byte() {
    let dirs = fixture_dirs();
    assert_eq!(dirs.len(), 7, "{dirs:?}");
    for dir in dirs {
        for (file, kind) in [("offer.sdp", SdpType::Offer), ("answer.sdp", SdpType::Answer)] {
            let text = fs::read_to_string(dir.join(file)).unwrap();
            assert!(text.ends_with("\r\n"), "{dir:?}/{file}: fixture must keep its CRLFs");
            let sdp = SessionDescription::parse(&text).unwrap_or_else(|e| panic!("{dir:?}/{file}: {e}"));
            assert_eq!(sdp.to_string(), text, "{dir:?}/{file}");
            sdp.validate_webrtc(kind).unwrap_or_else(|e| panic!("{dir:?}/{file}: {e}"));
            // Parsing copies no text: every value borrows from the input.
            let borrowed = |c: &Cow<'_, str>| matches!(c, Cow::Borrowed(_));
            assert!(borrowed(&sdp.origin.session_id) && borrowed(&sdp.session_name));
            for a in sdp.attributes.iter().chain(sdp.media.iter().flat_map(|m| m.attributes.iter())) {
                assert!(borrowed(&a.name) && a.value.as_ref().is_none_or(borrowed), "{a:?}");
            }
            assert!(sdp.media.iter().all(|m| borrowed(&m.media) && borrowed(&m.proto) && borrowed(&m.formats)));
            // Owned copies are equal and write the same.
            let owned = sdp.clone().into_owned();
            assert_eq!(owned, sdp);
            assert_eq!(owned.to_sdp_string(), text);
            // LF-only input parses to the same description and is written with CRLF.
            let lf = text.replace("\r\n", "\n");
            let from_lf = SessionDescription::parse(&lf).unwrap();
            assert_eq!(from_lf, sdp);
            assert_eq!(from_lf.to_string(), text);
            // Every attribute the parser typed also reads back through the accessors.
            for m in &sdp.media {
                assert_eq!(m.attributes.candidates().count(), m.attributes.values("candidate").count());
                assert_eq!(m.attributes.fingerprints().count(), m.attributes.values("fingerprint").count());
                assert_eq!(m.attributes.rtpmaps().count(), m.attributes.values("rtpmap").count());
                assert_eq!(m.attributes.extmaps().count(), m.attributes.values("extmap").count());
                assert_eq!(m.attributes.rtcp_fbs().count(), m.attributes.values("rtcp-fb").count());
                assert_eq!(m.attributes.ssrcs().count(), m.attributes.values("ssrc").count());
            }
        }
    }
}

#[test]
fn chromium_loopback_data_channel() {
    let offer = SessionDescription::parse(read("chromium156_loopback_data", "offer.sdp")).unwrap();
    assert_eq!(offer.origin.session_id, "71294856639134235");
    assert_eq!(offer.origin.session_version_number(), Some(2));
    assert_eq!(offer.bundle_mids().collect::<Vec<_>>(), ["0"]);
    assert_eq!(offer.attributes.value("msid-semantic"), Some(" WMS"));
    assert_eq!(offer.media.len(), 1);
    let m = &offer.media[0];
    assert!(m.is_data_channel());
    assert_eq!(m.kind(), MediaKind::Application);
    assert_eq!((m.port, &*m.proto), (39829, "UDP/DTLS/SCTP"));
    assert_eq!(m.mid(), Some("0"));
    assert_eq!(offer.ice_credentials_for(m), Some(("k3yy", "BQ+CawKLoiKLTE3mG7dEWQyo")));
    assert_eq!(m.attributes.ice_options().collect::<Vec<_>>(), ["trickle"]);
    assert_eq!(offer.setup_for(m), Some(Setup::ActPass));
    assert_eq!(m.attributes.sctp_port(), Some(5000));
    assert_eq!(m.attributes.max_message_size(), Some(262_144));
    let fp: Vec<_> = offer.fingerprints_for(m).collect();
    assert_eq!(fp.len(), 1);
    assert_eq!(fp[0].hash, HashFunction::Sha256);
    assert_eq!(fp[0].bytes()[..4], [0xEA, 0x4B, 0x8F, 0x2A]);
    assert_eq!(fp[0].bytes()[31], 0xC5);
    assert_eq!(fp[0].to_string(), m.attributes.value("fingerprint").unwrap());

    let c: Vec<_> = m.attributes.candidates().collect();
    assert_eq!(c.len(), 2);
    assert_eq!(c[0].foundation, "353407260");
    assert_eq!(c[0].component, 1);
    assert_eq!(c[0].transport, CandidateTransport::Udp);
    assert_eq!(c[0].priority, 2_122_260_223);
    assert_eq!(c[0].address, CandidateAddress::Ip("127.0.0.1".parse().unwrap()));
    assert_eq!(c[0].port, 39829);
    assert_eq!(c[0].kind, CandidateType::Host);
    assert_eq!(c[0].extension("generation"), Some("0"));
    assert_eq!(c[0].extension("network-id"), Some("1"));
    assert_eq!(c[0].extension("network-cost"), Some("50"));
    assert_eq!(c[1].transport, CandidateTransport::Tcp);
    assert_eq!(c[1].port, 9);
    assert_eq!(c[1].tcp_type, Some(TcpType::Active));
    assert!(!m.attributes.end_of_candidates());

    let answer = SessionDescription::parse(read("chromium156_loopback_data", "answer.sdp")).unwrap();
    let m = &answer.media[0];
    assert_eq!(answer.setup_for(m), Some(Setup::Active));
    assert_eq!(answer.ice_credentials_for(m), Some(("uWkp", "sDvdsI29qPuHyoMyyhbaY/cT")));
    assert_eq!(m.attributes.candidates().count(), 1);
}

#[test]
fn chromium_media_and_data_sections() {
    for dir in
        ["chromium156_balanced_media_data", "chromium156_maxbundle_media_data", "chromium156_allcodecs_media_data"]
    {
        let offer = SessionDescription::parse(read(dir, "offer.sdp")).unwrap();
        let kinds: Vec<_> = offer.media.iter().map(|m| m.kind()).collect();
        assert_eq!(kinds, [MediaKind::Audio, MediaKind::Video, MediaKind::Application], "{dir}");
        let mids: Vec<_> = offer.media.iter().map(|m| m.mid().unwrap()).collect();
        assert_eq!(offer.bundle_mids().collect::<Vec<_>>(), mids, "{dir}");
        for m in offer.media.iter().filter(|m| m.is_rtp()) {
            assert!(m.attributes.rtcp_mux(), "{dir}");
            assert!(m.attributes.rtpmaps().count() > 0, "{dir}");
            // Every format on the m= line of an RTP section has an rtpmap.
            for f in m.formats() {
                assert!(m.attributes.rtpmaps().any(|r| r.payload_type.to_string() == f), "{dir}: {f}");
            }
        }
        let audio = &offer.media[0];
        assert!(
            audio.attributes.rtpmaps().any(|r| r.encoding == "opus" && r.clock_rate == 48000 && r.params == Some("2"))
        );
        assert!(audio.attributes.extmaps().any(|e| e.uri == "urn:ietf:params:rtp-hdrext:sdes:mid"));
        let video = &offer.media[1];
        assert!(video.attributes.rtpmaps().any(|r| r.encoding == "VP8" && r.clock_rate == 90000));
        assert!(video.attributes.rtcp_fbs().any(|f| f.feedback == "nack pli"));
        assert!(offer.media[2].is_data_channel());
        assert_eq!(offer.media[2].attributes.sctp_port(), Some(5000));
    }
}

#[test]
fn aiortc_offer() {
    let offer = SessionDescription::parse(read("aiortc116_media_data", "offer.sdp")).unwrap();
    assert_eq!(offer.bundle_mids().collect::<Vec<_>>(), ["0", "1", "2"]);
    for m in &offer.media {
        let fps: Vec<_> = offer.fingerprints_for(m).map(|f| f.hash).collect();
        assert_eq!(fps, [HashFunction::Sha256, HashFunction::Sha384, HashFunction::Sha512]);
        assert_eq!(offer.ice_credentials_for(m), Some(("v7Tu", "xs8FApcLGINchL24LnYM7Z")));
        assert!(m.attributes.end_of_candidates());
        let c: Vec<_> = m.attributes.candidates().collect();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].foundation, "16572de626da4e5384a0ce2d0d93678a");
        assert_eq!(c[0].extensions, "");
    }
    let video = &offer.media[1];
    let ssrc: Vec<_> = video.attributes.ssrcs().collect();
    assert_eq!((ssrc[0].ssrc, ssrc[0].attribute), (35_838_368, "cname"));
    let msid = video.attributes.msids().next().unwrap();
    assert_eq!(msid.stream, "0ee6695c-b79e-4720-9a93-db700d6f9696");
    assert_eq!(offer.media[2].attributes.max_message_size(), Some(262_144));
}

#[test]
fn firefox_esr_offer_and_answer() {
    let offer = SessionDescription::parse(read("firefox_esr_153_data", "offer.sdp")).unwrap();
    assert_eq!(offer.origin.username, "mozilla...THIS_IS_SDPARTA-99.0");
    // Firefox writes the fingerprint at session level.
    assert_eq!(offer.attributes.fingerprints().count(), 1);
    let m = &offer.media[0];
    assert_eq!(m.attributes.fingerprints().count(), 0);
    assert_eq!(offer.fingerprints_for(m).next().unwrap().hash, HashFunction::Sha256);
    assert_eq!(offer.ice_credentials_for(m), Some(("212f2c2c", "92d11b639266c23282f262e0c87028f0")));
    assert_eq!(m.attributes.max_message_size(), Some(1_073_741_823));
    assert!(m.attributes.end_of_candidates());
    let c: Vec<_> = m.attributes.candidates().collect();
    assert_eq!(c.len(), 4);
    assert_eq!(c[1].address, CandidateAddress::Ip("fd00::2".parse().unwrap()));
    assert_eq!(c[2].transport, CandidateTransport::Tcp);
    assert_eq!(c[3].tcp_type, Some(TcpType::Active));

    let media = SessionDescription::parse(read("firefox_esr_153_media_data", "offer.sdp")).unwrap();
    let audio = &media.media[0];
    // Firefox still offers RTCP candidates (component 2) next to rtcp-mux.
    assert_eq!(audio.attributes.candidates().filter(|c| c.component == 2).count(), 4);
    let e: Vec<_> = audio.attributes.extmaps().collect();
    assert_eq!(e[1].id, 2);
    assert_eq!(e[1].direction, Some(sansrtc::sdp::Direction::RecvOnly));
    let video = &media.media[1];
    let group = video.attributes.ssrc_groups().next().unwrap();
    assert_eq!(group.semantics, "FID");
    assert_eq!(group.ssrcs().collect::<Vec<_>>(), [3_936_004_717, 3_900_050_602]);

    let answer = SessionDescription::parse(read("firefox_esr_153_data", "answer.sdp")).unwrap();
    assert_eq!(answer.setup_for(&answer.media[0]), Some(Setup::Active));
}

/// Expected values per fixture, read from the files with grep (first ufrag/pwd/setup, counts of candidate and
/// fingerprint lines, the data section's sctp-port and max-message-size):
/// (file, BUNDLE mids, section mids, ufrag, pwd, candidates, fingerprints, setup, sctp-port, max-message-size).
type Expected = (&'static str, &'static str, &'static str, &'static str, &'static str, usize, usize, Setup, u16, u64);
const EXPECTED: &[Expected] = &[
    (
        "aiortc116_media_data/offer.sdp",
        "0 1 2",
        "0 1 2",
        "v7Tu",
        "xs8FApcLGINchL24LnYM7Z",
        3,
        9,
        Setup::ActPass,
        5000,
        262144,
    ),
    (
        "aiortc116_media_data/answer.sdp",
        "0 1 2",
        "0 1 2",
        "f65G",
        "MaKPQFsTh0sE3KvykI45wT",
        3,
        9,
        Setup::Active,
        5000,
        262144,
    ),
    (
        "chromium156_allcodecs_media_data/offer.sdp",
        "0 1 2",
        "0 1 2",
        "rM6z",
        "0NzwM2/2QawlgNIoUx968u1/",
        6,
        3,
        Setup::ActPass,
        5000,
        262144,
    ),
    (
        "chromium156_allcodecs_media_data/answer.sdp",
        "0 1 2",
        "0 1 2",
        "goyc",
        "R8nRUUibZgunj23XzGbsJ6",
        3,
        9,
        Setup::Active,
        5000,
        262144,
    ),
    (
        "chromium156_balanced_media_data/offer.sdp",
        "0 1 2",
        "0 1 2",
        "/SKJ",
        "n6YGPTYKtibAolaUCkV1BJ9R",
        6,
        3,
        Setup::ActPass,
        5000,
        262144,
    ),
    (
        "chromium156_balanced_media_data/answer.sdp",
        "0 1 2",
        "0 1 2",
        "Xqaq",
        "vfoSd56faeMqPSwM2i1TxY",
        3,
        9,
        Setup::Active,
        5000,
        262144,
    ),
    (
        "chromium156_loopback_data/offer.sdp",
        "0",
        "0",
        "k3yy",
        "BQ+CawKLoiKLTE3mG7dEWQyo",
        2,
        1,
        Setup::ActPass,
        5000,
        262144,
    ),
    (
        "chromium156_loopback_data/answer.sdp",
        "0",
        "0",
        "uWkp",
        "sDvdsI29qPuHyoMyyhbaY/cT",
        1,
        1,
        Setup::Active,
        5000,
        262144,
    ),
    (
        "chromium156_maxbundle_media_data/offer.sdp",
        "0 1 2",
        "0 1 2",
        "7jaY",
        "JOMhPl5oxyYVbxdsPIkB2Bl7",
        2,
        3,
        Setup::ActPass,
        5000,
        262144,
    ),
    (
        "chromium156_maxbundle_media_data/answer.sdp",
        "0 1 2",
        "0 1 2",
        "7lBp",
        "d938MN9a9l9KZE1ls1fkBQ",
        3,
        9,
        Setup::Active,
        5000,
        262144,
    ),
    (
        "firefox_esr_153_data/offer.sdp",
        "0",
        "0",
        "212f2c2c",
        "92d11b639266c23282f262e0c87028f0",
        4,
        1,
        Setup::ActPass,
        5000,
        1073741823,
    ),
    (
        "firefox_esr_153_data/answer.sdp",
        "0",
        "0",
        "b32312ad",
        "f4dc71f77aa750e9e115fc29e9763b09",
        4,
        1,
        Setup::Active,
        5000,
        1073741823,
    ),
    (
        "firefox_esr_153_media_data/offer.sdp",
        "0 1 2",
        "0 1 2",
        "d841d4e9",
        "042c1d8bab3a399279e9393c848b125e",
        20,
        1,
        Setup::ActPass,
        5000,
        1073741823,
    ),
    (
        "firefox_esr_153_media_data/answer.sdp",
        "0 1 2",
        "0 1 2",
        "69081327",
        "729fa3a5ca86a4cfe01282cef1af7358",
        4,
        1,
        Setup::Active,
        5000,
        1073741823,
    ),
];

#[test]
fn typed_accessors_match_every_fixture() {
    assert_eq!(EXPECTED.len(), fixture_dirs().len() * 2);
    for &(file, bundle, mids, ufrag, pwd, candidates, fingerprints, setup, sctp_port, mms) in EXPECTED {
        let (dir, name) = file.split_once('/').unwrap();
        let sdp = SessionDescription::parse(read(dir, name)).unwrap();
        assert_eq!(sdp.bundle_mids().collect::<Vec<_>>().join(" "), bundle, "{file}");
        assert_eq!(sdp.media.iter().filter_map(|m| m.mid()).collect::<Vec<_>>().join(" "), mids, "{file}");
        let first = &sdp.media[0];
        assert_eq!(sdp.ice_credentials_for(first), Some((ufrag, pwd)), "{file}");
        assert_eq!(sdp.setup_for(first), Some(setup), "{file}");
        let all_candidates: usize = sdp.media.iter().map(|m| m.attributes.candidates().count()).sum();
        assert_eq!(all_candidates + sdp.attributes.candidates().count(), candidates, "{file}");
        let all_fingerprints: usize = sdp.media.iter().map(|m| m.attributes.fingerprints().count()).sum();
        assert_eq!(all_fingerprints + sdp.attributes.fingerprints().count(), fingerprints, "{file}");
        let data: Vec<_> = sdp.media.iter().filter(|m| m.is_data_channel()).collect();
        assert_eq!(data.len(), 1, "{file}");
        assert_eq!(data[0].attributes.sctp_port(), Some(sctp_port), "{file}");
        assert_eq!(data[0].attributes.max_message_size(), Some(mms), "{file}");
        // Every non-rejected section has a sha-256 fingerprint that applies to it.
        for m in &sdp.media {
            assert!(sdp.fingerprints_for(m).any(|f| f.hash == HashFunction::Sha256 && f.bytes().len() == 32), "{file}");
        }
    }
}
