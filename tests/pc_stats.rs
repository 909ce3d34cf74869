//! W3C statistics (`PeerConnection::stats_report`) of two connected peer connections driven by the README
//! loop over a link with a 20 ms one-way delay: the counters match the traffic the test made, and (with
//! the `serde` feature) the JSON carries the W3C names.

use core::cell::RefCell;
use core::time::Duration;

use bytes::Bytes;
use sansrtc::pc::{
    ChannelId, ChannelOptions, Config, DataChannelState, DtlsRole, DtlsState, Event, PeerConnection, RtcStats,
    StatsReport,
};
use sansrtc::{Instant, SeededRng};

#[path = "support/readme_loop.rs"]
mod readme_loop;
use readme_loop::{Link, Side};

/// What `a` sends on "chat" once it is open (text, binary, empty), and what `b` sends back on it.
fn from_a() -> Vec<(Bytes, bool)> {
    vec![
        (Bytes::from_static(b""), false),
        (Bytes::from_static(b"hello"), false),
        (Bytes::from(vec![7u8; 1000]), true),
        (Bytes::from(vec![b'x'; 70_000]), false),
        (Bytes::new(), true),
    ]
}

fn from_b() -> Vec<(Bytes, bool)> {
    vec![(Bytes::from(vec![1u8; 300]), true), (Bytes::from_static(b"pong"), false)]
}

fn total(messages: &[(Bytes, bool)]) -> u64 {
    messages.iter().map(|(m, _)| m.len() as u64).sum()
}

#[derive(Default)]
struct App {
    remote: Option<ChannelId>,
    got_a: usize,
    got_b: usize,
}

/// Two connections, "chat" open, the messages of [`from_a`] and [`from_b`] delivered, then `idle` more
/// (consent checks run), stopped when nothing is on the link.
fn connected(idle: Duration) -> (Link, ChannelId, ChannelId) {
    let a = PeerConnection::new(Config::default(), SeededRng::from_seed([31; 32]));
    let b = PeerConnection::new(Config::default(), SeededRng::from_seed([32; 32]));
    let mut link = Link::new(a, b, Duration::from_millis(20), 0.0, 9);
    let chat = link.negotiate();
    let state = RefCell::new(App::default());
    let mut app = |side: Side, pc: &mut PeerConnection, now: Instant, e: Event| {
        let mut st = state.borrow_mut();
        match (side, e) {
            (Side::A, Event::ChannelOpen(id)) if id == chat => {
                for (m, binary) in from_a() {
                    pc.send(now, chat, m, binary).unwrap();
                }
            }
            (Side::B, Event::DataChannel { id, .. }) => {
                st.remote = Some(id);
                for (m, binary) in from_b() {
                    pc.send(now, id, m, binary).unwrap();
                }
            }
            (Side::A, Event::Message { .. }) => st.got_a += 1,
            (Side::B, Event::Message { .. }) => st.got_b += 1,
            _ => {}
        }
    };
    let delivered = link.run(Duration::from_secs(30), &mut app, |_| {
        let st = state.borrow();
        st.got_a == from_b().len() && st.got_b == from_a().len()
    });
    assert!(delivered, "every message delivered");
    let end = link.now + idle;
    link.run(idle + Duration::from_secs(5), &mut app, |l| l.now >= end && l.in_flight() == 0);
    assert_eq!(link.in_flight(), 0, "stopped with nothing on the link");
    let remote = state.borrow().remote.unwrap();
    (link, chat, remote)
}

fn data_channel(report: &StatsReport, id: ChannelId) -> &sansrtc::pc::DataChannelStats {
    report.data_channel(id).unwrap_or_else(|| panic!("no data-channel entry for {id}: {report:#?}"))
}

#[test]
fn report_of_a_connected_pair_matches_the_traffic() {
    let (link, chat, remote) = connected(Duration::from_secs(12));
    let now = link.now;
    let ra = link.a.stats_report(now);
    let rb = link.b.stats_report(now);

    // Every entry: id, type, timestamp (the caller's now, in milliseconds); ids are unique.
    for r in [&ra, &rb] {
        let mut ids: Vec<&str> = r.iter().map(RtcStats::id).collect();
        assert!(r.iter().all(|e| e.timestamp() == now.as_nanos() as f64 / 1e6));
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n, "unique ids");
        assert_eq!(r.iter().next().map(RtcStats::type_name), Some("peer-connection"));
    }

    // data-channel: what the application sent and received, payload bytes, empty messages included.
    let (sent_a, sent_b) = (from_a(), from_b());
    let da = data_channel(&ra, chat);
    assert_eq!((da.label.as_str(), da.protocol.as_str(), da.state), ("chat", "", DataChannelState::Open));
    assert_eq!((da.messages_sent, da.bytes_sent), (sent_a.len() as u64, total(&sent_a)));
    assert_eq!((da.messages_received, da.bytes_received), (sent_b.len() as u64, total(&sent_b)));
    let db = data_channel(&rb, remote);
    assert_eq!((db.label.as_str(), db.state), ("chat", DataChannelState::Open));
    assert_eq!((db.messages_sent, db.bytes_sent), (sent_b.len() as u64, total(&sent_b)));
    assert_eq!((db.messages_received, db.bytes_received), (sent_a.len() as u64, total(&sent_a)));
    assert_eq!(da.data_channel_identifier, link.a.channel_stream_id(chat));
    assert_eq!(da.data_channel_identifier, db.data_channel_identifier);
    assert!(da.data_channel_identifier.is_some());

    // peer-connection.
    for r in [&ra, &rb] {
        let pc = r.peer_connection().unwrap();
        assert_eq!((pc.data_channels_opened, pc.data_channels_closed), (1, 0));
    }

    // transport: what one side sent the other received (nothing lost, nothing in flight), and it all
    // went over the selected pair.
    let (ta, tb) = (ra.transport().unwrap(), rb.transport().unwrap());
    assert_eq!((ta.bytes_sent, ta.packets_sent), (tb.bytes_received, tb.packets_received));
    assert_eq!((tb.bytes_sent, tb.packets_sent), (ta.bytes_received, ta.packets_received));
    assert!(ta.bytes_sent > total(&sent_a), "DTLS records carry at least the payload: {}", ta.bytes_sent);
    assert_eq!((ta.dtls_state, tb.dtls_state), (DtlsState::Connected, DtlsState::Connected));
    // The answerer is `a=setup:active` by default: the DTLS client.
    assert_eq!((ta.dtls_role, tb.dtls_role), (DtlsRole::Server, DtlsRole::Client));
    assert_eq!(ta.tls_version, Some("FEFC"), "DTLS 1.3 by default");
    assert_eq!(ta.dtls_cipher, Some("TLS_AES_128_GCM_SHA256"), "the 1.3 suite's IANA name");
    assert_eq!(ta.dtls_cipher, tb.dtls_cipher);
    assert_eq!(ta.ice_state, link.a.ice_connection_state());
    assert_eq!(ta.ice_local_username_fragment, link.a.local_ufrag());
    assert_eq!(ta.selected_candidate_pair_changes, 1);
    for (r, t) in [(&ra, ta), (&rb, tb)] {
        let pair = r.selected_candidate_pair().expect("a selected pair");
        assert!(pair.nominated);
        assert_eq!(sansrtc::pc::pair_state_name(pair.state), "succeeded");
        assert_eq!((pair.bytes_sent, pair.packets_sent), (t.bytes_sent, t.packets_sent));
        assert_eq!((pair.bytes_received, pair.packets_received), (t.bytes_received, t.packets_received));
        // 20 ms each way, virtual time: every check is answered in exactly 40 ms.
        let rtt = pair.current_round_trip_time.expect("a round trip measured");
        assert!((rtt - 0.040).abs() < 1e-9, "current RTT {rtt}");
        assert!(pair.responses_received >= 2, "checks and consent checks answered: {}", pair.responses_received);
        let mean = pair.total_round_trip_time / pair.responses_received as f64;
        assert!((mean - 0.040).abs() < 1e-9, "mean RTT {mean}");
        assert!(pair.consent_requests_sent >= 1, "12 s idle: consent checks ran");
        assert!(pair.requests_sent > pair.consent_requests_sent);
        assert!(pair.requests_received >= 1 && pair.responses_sent >= 1);
        // The pair's candidates are entries of the report.
        let local = r.local_candidates().find(|c| c.id == pair.local_candidate_id).unwrap();
        let remote = r.remote_candidates().find(|c| c.id == pair.remote_candidate_id).unwrap();
        assert_eq!((local.protocol, remote.protocol), ("udp", "udp"));
        assert_eq!(local.candidate_type, sansrtc::ice::CandidateKind::Host);
        assert!(local.priority > 0 && remote.priority > 0);
        assert_eq!(t.selected_candidate_pair_id.as_deref(), Some(pair.id.as_str()));
    }
    let local_a = ra.local_candidates().find(|c| c.candidate_type == sansrtc::ice::CandidateKind::Host).unwrap();
    assert_eq!((local_a.address.to_string(), local_a.port), ("10.0.0.1".to_string(), 5000));
    let remote_a = ra.remote_candidates().next().unwrap();
    assert_eq!((remote_a.address.to_string(), remote_a.port), ("10.0.0.2".to_string(), 5000));

    // certificate: ours, and the peer's as DTLS saw it, each side's matching the other's.
    let local_fp = link.a.local_fingerprint().to_string();
    let cert_a = ra.certificates().find(|c| c.id == ta.local_certificate_id).unwrap();
    assert_eq!(format!("sha-256 {}", cert_a.fingerprint), local_fp);
    assert_eq!(cert_a.fingerprint_algorithm, "sha-256");
    let peer_of_b = rb.certificates().find(|c| Some(&c.id) == tb.remote_certificate_id.as_ref()).unwrap();
    assert_eq!(peer_of_b, &sansrtc::pc::CertificateStats { timestamp: peer_of_b.timestamp, ..cert_a.clone() });
    assert!(cert_a.base64_certificate.len() > 100 && cert_a.base64_certificate.len() % 4 == 0);
}

#[test]
fn report_before_negotiation_and_after_a_channel_closes() {
    let now = Instant::ZERO;
    let mut pc = PeerConnection::new(Config::default(), SeededRng::from_seed([3; 32]));
    let ch = pc.create_data_channel(now, ChannelOptions::new("early")).unwrap();
    let r = pc.stats_report(now);
    let t = r.transport().unwrap();
    assert_eq!((t.dtls_state, t.dtls_role, t.tls_version, t.bytes_sent), (DtlsState::New, DtlsRole::Unknown, None, 0));
    assert_eq!(t.selected_candidate_pair_id, None);
    assert_eq!(r.candidate_pairs().count(), 0);
    assert_eq!(r.certificates().count(), 1, "ours only");
    let d = r.data_channel(ch).unwrap();
    assert_eq!((d.state, d.data_channel_identifier, d.label.as_str()), (DataChannelState::Connecting, None, "early"));

    // Connected, then `a` closes the channel: both count it closed and its entry goes.
    let (mut link, chat, remote) = connected(Duration::ZERO);
    let now = link.now;
    link.a.close_channel(now, chat).unwrap();
    let mut app = |_: Side, _: &mut PeerConnection, _: Instant, _: Event| {};
    let closed = |l: &Link| {
        [&l.a, &l.b].iter().all(|pc| pc.stats_report(l.now).peer_connection().unwrap().data_channels_closed == 1)
    };
    assert!(link.run(Duration::from_secs(10), &mut app, closed), "both sides count the channel closed");
    for (pc, id) in [(&link.a, chat), (&link.b, remote)] {
        let r = pc.stats_report(link.now);
        assert_eq!(r.peer_connection().unwrap().data_channels_opened, 1);
        assert!(r.data_channel(id).is_none(), "a closed channel's entry goes");
    }

    // Closing the connection: DTLS closed on both sides.
    let now = link.now;
    link.a.close(now);
    link.run(Duration::from_secs(1), &mut app, |l| l.now > now && l.in_flight() == 0);
    assert_eq!(link.a.stats_report(link.now).transport().unwrap().dtls_state, DtlsState::Closed);
    assert_eq!(link.b.stats_report(link.now).transport().unwrap().dtls_state, DtlsState::Closed);
}

#[cfg(feature = "serde")]
#[test]
fn json_has_the_w3c_names() {
    let (link, chat, _) = connected(Duration::from_secs(6));
    let report = link.a.stats_report(link.now);
    let json = serde_json::to_value(&report).unwrap();
    let entries = json.as_array().expect("an array of entries");
    assert_eq!(entries.len(), report.len());
    for e in entries {
        for key in ["id", "type", "timestamp"] {
            assert!(e.get(key).is_some(), "{key} in {e}");
        }
    }
    let of_type = |t: &str| entries.iter().find(|e| e["type"] == t).unwrap_or_else(|| panic!("no {t}"));
    let has = |e: &serde_json::Value, keys: &[&str]| {
        for k in keys {
            assert!(e.get(k).is_some(), "{k} missing in {e}");
        }
    };
    let pc = of_type("peer-connection");
    has(pc, &["dataChannelsOpened", "dataChannelsClosed"]);
    let t = of_type("transport");
    has(
        t,
        &[
            "bytesSent",
            "bytesReceived",
            "packetsSent",
            "packetsReceived",
            "dtlsState",
            "iceState",
            "selectedCandidatePairId",
            "dtlsRole",
            "tlsVersion",
            "dtlsCipher",
            "localCertificateId",
            "remoteCertificateId",
            "iceRole",
            "iceLocalUsernameFragment",
        ],
    );
    assert_eq!(t["dtlsState"], "connected");
    assert_eq!(t["dtlsRole"], "server");
    assert_eq!(t["tlsVersion"], "FEFC");
    assert!(t.get("srtpCipher").is_none(), "no media, no srtpCipher");
    assert!(matches!(t["iceState"].as_str(), Some("connected" | "completed")), "{t}");
    let pair = entries.iter().find(|e| e["id"] == t["selectedCandidatePairId"]).unwrap();
    assert_eq!(pair["type"], "candidate-pair");
    has(
        pair,
        &[
            "transportId",
            "localCandidateId",
            "remoteCandidateId",
            "state",
            "nominated",
            "bytesSent",
            "bytesReceived",
            "currentRoundTripTime",
            "totalRoundTripTime",
            "requestsSent",
            "responsesReceived",
        ],
    );
    assert_eq!((pair["state"].as_str(), pair["nominated"].as_bool()), (Some("succeeded"), Some(true)));
    assert_eq!(pair["bytesSent"], t["bytesSent"]);
    let local = entries.iter().find(|e| e["id"] == pair["localCandidateId"]).unwrap();
    assert_eq!(local["type"], "local-candidate");
    has(local, &["address", "port", "protocol", "candidateType", "priority"]);
    assert_eq!((local["address"].as_str(), local["port"].as_u64()), (Some("10.0.0.1"), Some(5000)));
    assert_eq!((local["protocol"].as_str(), local["candidateType"].as_str()), (Some("udp"), Some("host")));
    assert_eq!(entries.iter().find(|e| e["id"] == pair["remoteCandidateId"]).unwrap()["type"], "remote-candidate");
    let cert = entries.iter().find(|e| e["id"] == t["localCertificateId"]).unwrap();
    has(cert, &["fingerprint", "fingerprintAlgorithm", "base64Certificate"]);
    assert_eq!(cert["fingerprintAlgorithm"], "sha-256");
    let dc = of_type("data-channel");
    has(
        dc,
        &[
            "label",
            "protocol",
            "dataChannelIdentifier",
            "state",
            "messagesSent",
            "bytesSent",
            "messagesReceived",
            "bytesReceived",
        ],
    );
    assert_eq!((dc["label"].as_str(), dc["state"].as_str()), (Some("chat"), Some("open")));
    assert_eq!(dc["bytesSent"].as_u64(), Some(total(&from_a())));
    assert_eq!(dc["messagesReceived"].as_u64(), Some(from_b().len() as u64));
    assert_eq!(dc["dataChannelIdentifier"].as_u64().map(|n| n as u16), link.a.channel_stream_id(chat));
}
