#![allow(clippy::indexing_slicing)]

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::net::IpAddr;

use super::*;

fn bad(kind: AttributeKind) -> SdpErrorKind {
    SdpErrorKind::BadAttribute(kind)
}

#[test]
fn candidate_srflx_with_related_address() {
    let text = "842163049 1 udp 1677729535 203.0.113.7 61665 typ srflx raddr 10.0.0.2 rport 61665 generation 0 ufrag EsAw network-cost 999";
    let c = CandidateAttribute::parse(text).unwrap();
    assert_eq!(c.foundation, "842163049");
    assert_eq!(c.kind, CandidateType::Srflx);
    assert_eq!(c.related_address, Some(CandidateAddress::Ip("10.0.0.2".parse().unwrap())));
    assert_eq!(c.related_port, Some(61665));
    assert_eq!(c.extensions, "generation 0 ufrag EsAw network-cost 999");
    assert_eq!(c.extension("ufrag"), Some("EsAw"));
    assert_eq!(c.extension("network-cost"), Some("999"));
    assert_eq!(c.extension("network-id"), None);
    let pairs: Vec<_> = c.extension_pairs().collect();
    assert_eq!(pairs, [("generation", "0"), ("ufrag", "EsAw"), ("network-cost", "999")]);
    // The typed writer spells the transport as RFC 8839 does; otherwise the text is the same.
    assert_eq!(c.to_string(), text.replace("udp", "UDP"));
    assert_eq!(CandidateAttribute::parse(&c.to_string()).unwrap(), c);
}

#[test]
fn candidate_prefixes_mdns_ipv6_relay() {
    let mdns = "candidate:1 1 UDP 2122252543 2b1c2e7e-8e43-4a3f-9d0b-7c0e2b6a1f35.local 54321 typ host";
    let c = CandidateAttribute::parse(mdns).unwrap();
    assert!(c.address.is_mdns());
    assert_eq!(c.address, CandidateAddress::Fqdn("2b1c2e7e-8e43-4a3f-9d0b-7c0e2b6a1f35.local"));
    assert_eq!(c.extensions, "");

    let v6 = "a=candidate:2 2 UDP 2122252542 fd00::2 44731 typ host";
    let c = CandidateAttribute::parse(v6).unwrap();
    assert_eq!(c.component, 2);
    assert_eq!(c.address, CandidateAddress::Ip(IpAddr::V6("fd00::2".parse().unwrap())));
    assert!(!c.address.is_mdns());

    let relay = "3 1 udp 41885439 198.51.100.9 3478 typ relay raddr 203.0.113.7 rport 50000";
    let c = CandidateAttribute::parse(relay).unwrap();
    assert_eq!(c.kind, CandidateType::Relay);
    assert_eq!(c.to_string(), relay.replace("udp", "UDP"));

    let tcp = "4 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active generation 0";
    let c = CandidateAttribute::parse(tcp).unwrap();
    assert_eq!((c.transport, c.tcp_type), (CandidateTransport::Tcp, Some(TcpType::Active)));

    let other = "5 1 sctp 1 127.0.0.1 9 typ future";
    let c = CandidateAttribute::parse(other).unwrap();
    assert_eq!(c.transport, CandidateTransport::Other("sctp"));
    assert_eq!(c.kind, CandidateType::Other("future"));
}

#[test]
fn candidate_built_writes_its_grammar() {
    let mut c =
        CandidateAttribute::host("1", 1, CandidateTransport::Udp, 2_130_706_431, "192.0.2.1".parse().unwrap(), 5000);
    assert_eq!(c.to_string(), "1 1 UDP 2130706431 192.0.2.1 5000 typ host");
    c.transport = CandidateTransport::Tcp;
    c.port = 9;
    c.tcp_type = Some(TcpType::Passive);
    assert_eq!(c.to_string(), "1 1 TCP 2130706431 192.0.2.1 9 typ host tcptype passive");
    let a = c.to_attribute();
    assert_eq!((&*a.name, a.value_str()), ("candidate", "1 1 TCP 2130706431 192.0.2.1 9 typ host tcptype passive"));
}

#[test]
fn candidate_rejects() {
    let e = Err(bad(AttributeKind::Candidate));
    let long_foundation = format!("{} 1 udp 1 1.2.3.4 5 typ host", "a".repeat(33));
    for text in [
        "",
        "1 1 udp 1 1.2.3.4 5",                              // no typ
        "1 1 udp 1 1.2.3.4 5 type host",                    // not "typ"
        "1 1 udp 1 1.2.3.4 5 typ",                          // no type
        "1 0 udp 1 1.2.3.4 5 typ host",                     // component 0
        "1 257 udp 1 1.2.3.4 5 typ host",                   // component > 256
        "1 1 udp 4294967296 1.2.3.4 5 typ host",            // priority > u32
        "1 1 udp -1 1.2.3.4 5 typ host",                    // signed
        "1 1 udp 1 1.2.3.4 65536 typ host",                 // port > u16
        "1 1 udp 1 bad..name 5 typ host",                   // empty label
        "1 1 udp 1 1.2.3.4 5 typ host ",                    // trailing space
        "1  1 udp 1 1.2.3.4 5 typ host",                    // double space
        "1 1 udp 1 1.2.3.4 5 typ host generation",          // extension without value
        "1 1 udp 1 1.2.3.4 5 typ srflx raddr x..y rport 1", // bad raddr
        "1 1 udp 1 1.2.3.4 5 typ srflx raddr 1.2.3.4 rport 99999",
        "f@o 1 udp 1 1.2.3.4 5 typ host", // foundation outside ice-char
        &long_foundation,
    ] {
        assert_eq!(CandidateAttribute::parse(text), e, "{text:?}");
    }
}

#[test]
fn fingerprints() {
    let text =
        "sha-256 EA:4B:8F:2A:D1:CB:19:11:CA:AF:FC:8E:42:1F:3D:98:4B:48:33:5D:5D:DC:B7:A4:1C:12:A2:B7:6D:E2:DA:C5";
    let f = Fingerprint::parse(text).unwrap();
    assert_eq!(f.hash, HashFunction::Sha256);
    assert_eq!(f.bytes().len(), 32);
    assert_eq!(f.to_string(), text);
    // Lower-case hex and hash names in any case are accepted; the writer normalises.
    let lower_text = text.to_ascii_lowercase().replace("sha-256", "SHA-256");
    let lower = Fingerprint::parse(&lower_text).unwrap();
    assert_eq!(lower.bytes(), f.bytes());
    assert_eq!(lower.to_string(), text);
    // Unknown hash functions are kept with any length up to 64 bytes.
    let other = Fingerprint::parse("sha3-256 01:02").unwrap();
    assert_eq!((other.hash, other.bytes()), (HashFunction::Other("sha3-256"), &[1u8, 2][..]));
    let sha512 = Fingerprint::new(HashFunction::Sha512, &[7; 64]).unwrap();
    assert_eq!(Fingerprint::parse(&sha512.to_string()).unwrap(), sha512);
    assert!(Fingerprint::new(HashFunction::Sha256, &[0; 31]).is_none());
    assert!(Fingerprint::new(HashFunction::Other("x"), &[0; 65]).is_none());
    assert!(Fingerprint::new(HashFunction::Other("x"), &[]).is_none());

    let too_long = format!("x-hash {}", ["AB"; 65].join(":"));
    for text in [
        "sha-256",
        "sha-256 ",
        "sha-256 EA:4B",   // wrong length for sha-256
        "sha-256 EA:4G",   // not hex
        "sha-256 EA:4B:",  // trailing colon
        "sha-256 EA::4B",  // empty pair
        "sha-256 EAB:4B",  // three digits
        "sha-1 EA 4B",     // spaces
        too_long.as_str(), // 65 bytes
        "sh a EA",         // name then garbage
    ] {
        assert_eq!(Fingerprint::parse(text), Err(SdpErrorKind::BadFingerprint), "{text:?}");
    }
}

#[test]
fn ice_credentials_bounds() {
    assert_eq!(check_ice_ufrag("abc"), Err(SdpErrorKind::UfragLength(3)));
    assert_eq!(check_ice_ufrag("ab+/"), Ok(()));
    assert_eq!(check_ice_ufrag(&"a".repeat(256)), Ok(()));
    assert_eq!(check_ice_ufrag(&"a".repeat(257)), Err(SdpErrorKind::UfragLength(257)));
    assert_eq!(check_ice_ufrag("abc-"), Err(SdpErrorKind::BadIceChar));
    assert_eq!(check_ice_pwd(&"p".repeat(21)), Err(SdpErrorKind::PwdLength(21)));
    assert_eq!(check_ice_pwd(&"p".repeat(22)), Ok(()));
    assert_eq!(check_ice_pwd(&"p".repeat(256)), Ok(()));
    assert_eq!(check_ice_pwd(&"p".repeat(257)), Err(SdpErrorKind::PwdLength(257)));
    assert_eq!(check_ice_pwd("pppppppppppppppppppp p"), Err(SdpErrorKind::BadIceChar));
}

#[test]
fn small_attributes() {
    for (s, v) in [
        ("active", Setup::Active),
        ("passive", Setup::Passive),
        ("actpass", Setup::ActPass),
        ("holdconn", Setup::HoldConn),
    ] {
        assert_eq!(Setup::parse(s), Ok(v));
        assert_eq!(v.to_string(), s);
    }
    assert_eq!(Setup::parse("ACTIVE"), Err(bad(AttributeKind::Setup)));
    assert_eq!(Setup::answer_for(Setup::ActPass), Setup::Active);
    assert_eq!(Setup::answer_for(Setup::Active), Setup::Passive);
    assert_eq!(Setup::answer_for(Setup::Passive), Setup::Active);
    assert_eq!(Setup::answer_for(Setup::HoldConn), Setup::HoldConn);

    let g = Group::parse("BUNDLE 0 1 data").unwrap();
    assert!(g.is_bundle());
    assert_eq!(g.mids().collect::<Vec<_>>(), ["0", "1", "data"]);
    assert_eq!(Group::parse("BUNDLE").unwrap().mids().count(), 0);
    assert_eq!(Group::parse("BUNDLE 0  1"), Err(bad(AttributeKind::Group)));

    let r = RtpMap::parse("111 opus/48000/2").unwrap();
    assert_eq!((r.payload_type, r.encoding, r.clock_rate, r.params), (111, "opus", 48000, Some("2")));
    assert_eq!(RtpMap::parse("96 VP8/90000").unwrap().params, None);
    for text in ["128 opus/48000", "96 VP8", "96 VP8/x", "96VP8/90000", "96 VP8/90000/"] {
        assert_eq!(RtpMap::parse(text), Err(bad(AttributeKind::RtpMap)), "{text}");
    }

    let f = Fmtp::parse("111 minptime=10;useinbandfec=1").unwrap();
    assert_eq!((f.format, f.params), ("111", "minptime=10;useinbandfec=1"));
    assert_eq!(Fmtp::parse("111"), Err(bad(AttributeKind::Fmtp)));

    assert_eq!(RtcpFb::parse("* nack").unwrap().payload_type, None);
    assert_eq!(RtcpFb::parse("96 nack pli").unwrap(), RtcpFb { payload_type: Some(96), feedback: "nack pli" });
    assert_eq!(RtcpFb::parse("96"), Err(bad(AttributeKind::RtcpFb)));

    let e = ExtMap::parse("2/recvonly urn:ietf:params:rtp-hdrext:csrc-audio-level").unwrap();
    assert_eq!((e.id, e.direction, e.attributes), (2, Some(Direction::RecvOnly), None));
    let e = ExtMap::parse("4 urn:x extra stuff").unwrap();
    assert_eq!((e.uri, e.attributes), ("urn:x", Some("extra stuff")));
    for text in ["0 urn:x", "4352 urn:x", "1/sideways urn:x", "1", "1 "] {
        assert_eq!(ExtMap::parse(text), Err(bad(AttributeKind::ExtMap)), "{text}");
    }

    let s = Ssrc::parse("3874335206 cname:{7b298962}").unwrap();
    assert_eq!((s.ssrc, s.attribute, s.value), (3_874_335_206, "cname", Some("{7b298962}")));
    assert_eq!(Ssrc::parse("4294967296 cname:x"), Err(bad(AttributeKind::Ssrc)));
    assert_eq!(SsrcGroup::parse("FID 1 2").unwrap().ssrcs().collect::<Vec<_>>(), [1, 2]);
    assert_eq!(SsrcGroup::parse("FID 1 x"), Err(bad(AttributeKind::SsrcGroup)));

    assert_eq!(Msid::parse("- abc").unwrap(), Msid { stream: "-", track: Some("abc") });
    assert_eq!(Msid::parse("stream").unwrap().track, None);
    assert_eq!(Msid::parse("a b c"), Err(bad(AttributeKind::Msid)));

    assert_eq!(Direction::from_name("recvonly"), Some(Direction::RecvOnly));
    assert_eq!(Direction::from_name("sendrecv").map(Direction::as_str), Some("sendrecv"));
    assert_eq!(Direction::from_name("rtcp-mux"), None);
}

const MINIMAL: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";

#[test]
fn every_line_type_round_trips() {
    let text = "v=0\r\no=jdoe 3724394400 3724394405 IN IP4 198.51.100.1\r\ns=Call to John Smith\r\n\
                i=SDP Offer #1\r\nu=http://www.jdoe.example.com/home.html\r\ne=Jane Doe <jane@jdoe.example.com>\r\n\
                e=x@example.com\r\np=+1 617 555-6011\r\nc=IN IP4 198.51.100.1\r\nb=AS:128\r\nt=0 0\r\nr=604800 3600 0 90000\r\n\
                t=1 2\r\nz=2882844526 -1h 2898848070 0\r\nk=prompt\r\na=recvonly\r\n\
                m=audio 49170 RTP/AVP 0\r\ni=audio\r\nc=IN IP4 198.51.100.1\r\nc=IN IP4 198.51.100.2\r\nb=TIAS:64000\r\nk=clear:x\r\n\
                m=video 51372/2 RTP/AVP 99\r\nc=IN IP6 2001:db8::2\r\na=rtpmap:99 h263-1998/90000\r\n";
    let sdp = SessionDescription::parse(text).unwrap();
    assert_eq!(sdp.to_string(), text);
    assert_eq!(sdp.origin.username, "jdoe");
    assert_eq!(sdp.emails.len(), 2);
    assert_eq!(sdp.timings.len(), 2);
    assert_eq!(sdp.timings[0].repeats, ["604800 3600 0 90000"]);
    assert_eq!(sdp.bandwidths[0].bandwidth, 128);
    assert_eq!(sdp.attributes.direction(), Some(Direction::RecvOnly));
    assert_eq!(sdp.media[0].connections.len(), 2);
    assert_eq!(sdp.media[0].line(), 17);
    assert_eq!(sdp.media[1].port_count, Some(2));
    assert_eq!(sdp.media[1].line(), 23);
    assert_eq!(sdp.media[1].attributes[0].line(), 25);
    assert_eq!(sdp.media[1].formats().collect::<Vec<_>>(), ["99"]);
}

#[test]
fn line_order_and_types() {
    let cases: &[(&str, u32, SdpErrorKind)] = &[
        ("", 0, SdpErrorKind::Empty),
        ("o=- 1 1 IN IP4 0.0.0.0\r\n", 1, SdpErrorKind::MissingVersion),
        ("v=1\r\n", 1, SdpErrorKind::BadVersion),
        ("v=0\r\n", 0, SdpErrorKind::MissingOrigin),
        ("v=0\r\ns=-\r\n", 2, SdpErrorKind::MissingOrigin),
        ("v=0\r\no=- 1 1 IN IP4\r\ns=-\r\nt=0 0\r\n", 2, SdpErrorKind::BadOrigin),
        ("v=0\r\no=- x 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", 2, SdpErrorKind::BadOrigin),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nt=0 0\r\n", 3, SdpErrorKind::MissingSessionName),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\n", 0, SdpErrorKind::MissingTiming),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nm=audio 9 RTP/AVP 0\r\n", 4, SdpErrorKind::MissingTiming),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\na=x\r\nt=0 0\r\n", 5, SdpErrorKind::UnexpectedLine(b't')),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nx=1\r\n", 5, SdpErrorKind::UnknownLineType(b'x')),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nv=0\r\n", 5, SdpErrorKind::UnexpectedLine(b'v')),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nr=1 2 3\r\n", 4, SdpErrorKind::UnexpectedLine(b'r')),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\ni=a\r\ni=b\r\nt=0 0\r\n", 5, SdpErrorKind::UnexpectedLine(b'i')),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0\r\n", 4, SdpErrorKind::BadTiming),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4\r\nt=0 0\r\n", 4, SdpErrorKind::BadConnection),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nb=AS\r\nt=0 0\r\n", 4, SdpErrorKind::BadBandwidth),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nA=x\r\n", 5, SdpErrorKind::MalformedLine),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na x\r\n", 5, SdpErrorKind::MalformedLine),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=\r\n", 5, SdpErrorKind::BadAttributeName),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=a b:c\r\n", 5, SdpErrorKind::BadAttributeName),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\r\na=x\r\n", 5, SdpErrorKind::EmptyLine),
        (
            "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\ns=-\r\n",
            6,
            SdpErrorKind::UnexpectedLine(b's'),
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\na=x\r\nc=IN IP4 1.2.3.4\r\n",
            7,
            SdpErrorKind::UnexpectedLine(b'c'),
        ),
    ];
    for &(text, line, kind) in cases {
        assert_eq!(SessionDescription::parse(text), Err(SdpError { line, kind }), "{text:?}");
    }
    // Trailing blank lines and a missing final line ending are tolerated.
    assert!(SessionDescription::parse(&format!("{MINIMAL}\r\n\r\n")).is_ok());
    assert_eq!(SessionDescription::parse(MINIMAL.trim_end()).unwrap().to_string(), MINIMAL);
}

#[test]
fn media_lines() {
    let ok =
        |m: &str| SessionDescription::parse(&format!("{MINIMAL}m={m}\r\n")).map(|s| s.media[0].clone().into_owned());
    let m = ok("application 9 UDP/DTLS/SCTP webrtc-datachannel").unwrap();
    assert!(m.is_data_channel() && !m.is_rtp() && !m.is_rejected());
    let m = ok("audio 0 UDP/TLS/RTP/SAVPF 111 63").unwrap();
    assert!(m.is_rtp() && m.is_rejected());
    assert_eq!(m.formats().collect::<Vec<_>>(), ["111", "63"]);
    assert_eq!(ok("holo 9 X/Y z").unwrap().kind(), MediaKind::Other("holo"));
    for bad_line in [
        "audio",
        "audio 9",
        "audio 9 RTP/AVP",
        "audio 65536 RTP/AVP 0",
        "audio -1 RTP/AVP 0",
        "audio 9/ RTP/AVP 0",
        "audio 9 RTP//AVP 0",
        "audio 9 RTP/AVP 0  8",
        "audio 9 RTP/AVP 0 ",
        "audio  9 RTP/AVP 0",
    ] {
        assert_eq!(ok(bad_line), Err(SdpError { line: 5, kind: SdpErrorKind::BadMediaLine }), "{bad_line:?}");
    }
}

#[test]
fn known_attributes_are_checked_with_their_line() {
    let head = format!("{MINIMAL}m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n");
    let cases: &[(&str, SdpErrorKind)] = &[
        ("a=setup:sideways", bad(AttributeKind::Setup)),
        ("a=setup", bad(AttributeKind::Setup)),
        ("a=fingerprint:sha-256 00:11", SdpErrorKind::BadFingerprint),
        ("a=ice-ufrag:abc", SdpErrorKind::UfragLength(3)),
        ("a=ice-pwd:short", SdpErrorKind::PwdLength(5)),
        ("a=ice-ufrag:ab_c", SdpErrorKind::BadIceChar),
        ("a=ice-options:trickle  ice2", bad(AttributeKind::IceOptions)),
        ("a=candidate:1 1 udp 1 1.2.3.4 5 typ", bad(AttributeKind::Candidate)),
        ("a=sctp-port:65536", bad(AttributeKind::SctpPort)),
        ("a=max-message-size:-1", bad(AttributeKind::MaxMessageSize)),
        ("a=max-message-size:99999999999999999999999", bad(AttributeKind::MaxMessageSize)),
        ("a=mid:", bad(AttributeKind::Mid)),
        ("a=mid:a b", bad(AttributeKind::Mid)),
        ("a=rtcp-mux:yes", bad(AttributeKind::Flag)),
        ("a=rtpmap:x opus/48000", bad(AttributeKind::RtpMap)),
        ("a=group:", bad(AttributeKind::Group)),
    ];
    for &(line, kind) in cases {
        let text = format!("{head}c=IN IP4 0.0.0.0\r\na=mid:0\r\n{line}\r\n");
        assert_eq!(SessionDescription::parse(&text), Err(SdpError { line: 8, kind }), "{line}");
    }
    // Unknown attributes are kept as written, whatever their value.
    let text = format!("{head}a=x-anything:  odd  spacing :: here\r\na=x-flag\r\na=x-empty:\r\n");
    let sdp = SessionDescription::parse(&text).unwrap();
    let a = &sdp.media[0].attributes;
    assert_eq!(a.value("x-anything"), Some("  odd  spacing :: here"));
    assert_eq!(a.get("x-flag").unwrap().value, None);
    assert_eq!(a.get("x-empty").unwrap().value.as_deref(), Some(""));
    assert_eq!(sdp.to_string(), text);
}

#[test]
fn builder_answer_to_a_media_offer() {
    let remote = SessionDescription::parse(
        "v=0\r\no=- 5 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE a v d\r\n\
         m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:a\r\na=rtcp-mux\r\n\
         m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:v\r\na=rtcp-mux\r\n\
         m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:d\r\na=sctp-port:5000\r\n\
         m=holo 9 X/Y z\r\na=mid:h\r\n",
    )
    .unwrap();
    let fingerprint = Fingerprint::new(HashFunction::Sha256, &[0x5A; 32]).unwrap();
    let transport = TransportParams {
        ice_ufrag: "Ufr4",
        ice_pwd: "0123456789+/abcdefghij",
        ice_options: &[],
        fingerprints: &[fingerprint],
        setup: Setup::Passive,
    };
    let mut builder = DescriptionBuilder::new(42, 1).ice_lite();
    for m in &remote.media {
        builder = if m.is_data_channel() {
            builder.data_channel(m.mid().unwrap(), &transport, SctpParams::default())
        } else {
            builder.rejected(m)
        };
    }
    let candidate =
        CandidateAttribute::host("1", 1, CandidateTransport::Udp, 2_130_706_431, "127.0.0.1".parse().unwrap(), 40000);
    let answer = builder.candidate(&candidate).end_of_candidates().build();
    let text = answer.to_string();
    let fp = ["5A"; 32].join(":");
    let expected = format!(
        "v=0\r\no=- 42 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE d\r\na=ice-lite\r\n\
         m=audio 0 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:a\r\n\
         m=video 0 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:v\r\n\
         m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n\
         a=ice-ufrag:Ufr4\r\na=ice-pwd:0123456789+/abcdefghij\r\na=fingerprint:sha-256 {fp}\r\na=setup:passive\r\n\
         a=mid:d\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n\
         a=candidate:1 1 UDP 2130706431 127.0.0.1 40000 typ host\r\na=end-of-candidates\r\n\
         m=holo 0 X/Y z\r\nc=IN IP4 0.0.0.0\r\na=mid:h\r\n"
    );
    assert_eq!(text, expected);
    let parsed = SessionDescription::parse(&text).unwrap();
    assert_eq!(parsed, answer);
    parsed.validate_webrtc(SdpType::Answer).unwrap();
    assert!(parsed.attributes.ice_lite());
    let data = parsed.media_by_mid("d").unwrap();
    assert_eq!(data.attributes.candidates().next(), Some(candidate));
    assert_eq!(parsed.fingerprints_for(data).next(), Some(fingerprint));
    assert!(parsed.media.iter().filter(|m| !m.is_data_channel()).all(MediaDescription::is_rejected));
}

#[test]
fn builder_offer_without_bundle() {
    let fingerprint = Fingerprint::new(HashFunction::Sha256, &[1; 32]).unwrap();
    let transport = TransportParams {
        ice_ufrag: "abcd",
        ice_pwd: "abcdefghijklmnopqrstuv",
        ice_options: &["trickle", "ice2"],
        fingerprints: &[fingerprint],
        setup: Setup::ActPass,
    };
    let offer = DescriptionBuilder::new(7, 3)
        .bundle(false)
        .data_channel("data", &transport, SctpParams { port: 5000, max_message_size: None })
        .session_attribute(Attribute::with_value("msid-semantic", " WMS"))
        .build();
    let text = offer.to_sdp_string();
    assert!(!text.contains("a=group"));
    assert!(!text.contains("max-message-size"));
    assert!(text.contains("a=ice-options:trickle ice2\r\n"));
    let parsed = SessionDescription::parse(&text).unwrap();
    assert_eq!(parsed, offer);
    parsed.validate_webrtc(SdpType::Offer).unwrap();
    // An offer with actpass is not a valid answer.
    assert_eq!(parsed.validate_webrtc(SdpType::Answer), Err(SdpError { line: 12, kind: SdpErrorKind::BadSetup }));
    let _: String = parsed.to_string();
}

#[test]
fn attribute_lists_can_be_edited() {
    let text = format!(
        "{MINIMAL}m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:0\r\na=candidate:1 1 udp 1 1.2.3.4 5 typ host\r\na=end-of-candidates\r\n"
    );
    let mut sdp = SessionDescription::parse(&text).unwrap();
    let a = &mut sdp.media[0].attributes;
    a.remove_all("candidate");
    a.as_mut_vec().insert(0, Attribute::flag("rtcp-mux"));
    assert_eq!(a.candidates().count(), 0);
    assert!(a.rtcp_mux() && a.end_of_candidates());
    let names: Vec<String> = a.iter().map(|x| x.name.to_string()).collect();
    assert_eq!(names, ["rtcp-mux", "mid", "end-of-candidates"]);
    let list: AttributeList<'_> = [Attribute::with_value("mid", "x")].into_iter().collect();
    assert_eq!(list.mid(), Some("x"));
    assert_eq!(list[0].line(), 0);
}
