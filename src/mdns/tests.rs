use alloc::string::String;
use alloc::vec::Vec;
use core::net::{IpAddr, SocketAddr};
use core::time::Duration;

use super::wire::{self, Message, RecordType, Section};
use super::{Config, Error, Event, Resolver, Responder, is_ice_name};
use crate::machine::{Datagram, Machine, PathMachine};
use crate::rand::SeededRng;
use crate::time::Instant;

const NAME: &str = "2b1c2e7e-8e43-4a3f-9d0b-7c0e2b6a1f35.local";
const OTHER: &str = "0f4a7b9c-1d2e-4f30-8a1b-2c3d4e5f6a7b.local";

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// `name` as labels, by hand (RFC 1035 §3.1).
fn labels(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for l in name.split('.') {
        out.push(l.len() as u8);
        out.extend_from_slice(l.as_bytes());
    }
    out.push(0);
    out
}

fn header(id: u16, flags: u16, counts: [u16; 4]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    for c in counts {
        out.extend_from_slice(&c.to_be_bytes());
    }
    out
}

/// A response with one A record for `name`, written by hand.
fn a_response(name: &str, addr: [u8; 4], ttl: u32) -> Vec<u8> {
    let mut m = header(0, 0x8400, [0, 1, 0, 0]);
    m.extend(labels(name));
    m.extend_from_slice(&[0, 1, 0x80, 1]);
    m.extend_from_slice(&ttl.to_be_bytes());
    m.extend_from_slice(&[0, 4]);
    m.extend_from_slice(&addr);
    m
}

// ----- wire -----

#[test]
fn query_bytes_are_rfc_1035_with_a_pointer_for_the_second_question() {
    let mut out = Vec::new();
    wire::emit_query(&mut out, NAME, &[RecordType::A, RecordType::AAAA], true).unwrap();
    let mut expected = header(0, 0, [2, 0, 0, 0]);
    expected.extend(labels(NAME));
    expected.extend_from_slice(&[0, 1, 0x80, 1]); // A, IN with QU
    expected.extend_from_slice(&[0xc0, 12, 0, 28, 0x80, 1]); // pointer to the first name, AAAA, IN with QU
    assert_eq!(out, expected);

    let msg = Message::new_checked(&out[..]).unwrap();
    assert!(!msg.flags().is_response());
    let qs: Vec<_> = msg.questions().map(Result::unwrap).collect();
    assert_eq!(qs.len(), 2);
    for (q, t) in qs.iter().zip([RecordType::A, RecordType::AAAA]) {
        assert!(q.name.eq_str(NAME));
        assert!(q.name.eq_str(&NAME.to_uppercase()), "names compare without case (RFC 6762 §16)");
        assert_eq!(q.qtype, t);
        assert_eq!(q.class, wire::CLASS_IN);
        assert!(q.unicast_response);
    }
    assert_eq!(alloc::format!("{}", qs[1].name), NAME);
}

#[test]
fn hand_written_response_parses() {
    let m = a_response(NAME, [192, 168, 1, 20], 120);
    let msg = Message::new_checked(&m[..]).unwrap();
    assert!(msg.flags().is_response());
    assert_eq!((msg.flags().opcode(), msg.flags().rcode()), (0, 0));
    let rs: Vec<_> = msg.records().map(Result::unwrap).collect();
    assert_eq!(rs.len(), 1);
    let r = rs[0];
    assert_eq!(r.section, Section::Answer);
    assert!(r.name.eq_str(NAME));
    assert!(!r.name.eq_str(OTHER));
    assert!(!r.name.eq_str("local"));
    assert_eq!((r.rtype, r.class, r.cache_flush, r.ttl), (RecordType::A, 1, true, 120));
    assert_eq!(r.address(), Ok(Some(ip("192.168.1.20"))));
}

#[test]
fn answers_round_trip_with_echoed_question_and_sections() {
    let mut out = Vec::new();
    let addrs = [ip("10.0.0.7"), ip("fe80::1")];
    wire::emit_answer(&mut out, 0x1234, NAME, &addrs, 10, true).unwrap();
    let msg = Message::new_checked(&out[..]).unwrap();
    assert_eq!(msg.id(), 0x1234);
    assert_eq!(msg.question_count(), 1);
    assert!(msg.questions().next().unwrap().unwrap().name.eq_str(NAME));
    let rs: Vec<_> = msg.records().map(Result::unwrap).collect();
    assert_eq!(rs.iter().map(|r| r.address().unwrap().unwrap()).collect::<Vec<_>>(), addrs);
    assert!(rs.iter().all(|r| r.name.eq_str(NAME) && r.ttl == 10 && r.section == Section::Answer));

    // Authority and additional sections are told apart.
    let mut m = header(0, 0x8400, [0, 1, 1, 1]);
    for i in 0..3u8 {
        m.extend(labels(NAME));
        m.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 9, 0, 4, 10, 0, 0, i]);
    }
    let msg = Message::new_checked(&m[..]).unwrap();
    let sections: Vec<_> = msg.records().map(|r| r.unwrap().section).collect();
    assert_eq!(sections, [Section::Answer, Section::Authority, Section::Additional]);
}

#[test]
fn bad_names_are_refused_by_the_writer() {
    let mut out = Vec::new();
    let long_label = "a".repeat(64);
    let long_name = ["abcdefghij"; 24].join(".");
    for bad in ["", ".", "a..local", long_label.as_str(), long_name.as_str()] {
        assert_eq!(wire::emit_query(&mut out, bad, &[RecordType::A], false), Err(Error::InvalidName), "{bad:?}");
    }
    assert_eq!(wire::emit_query(&mut out, NAME, &[], false), Err(Error::TooManyQuestions));
    assert_eq!(wire::emit_answer(&mut out, 0, NAME, &[], 1, false), Err(Error::TooManyQuestions));
    // A trailing dot is the same name.
    wire::emit_query(&mut out, "x.local.", &[RecordType::A], false).unwrap();
    assert!(Message::new_checked(&out[..]).unwrap().questions().next().unwrap().unwrap().name.eq_str("x.local"));
}

/// A response whose one record's name is the bytes `name` (starting at offset 12).
fn record_named(name: &[u8]) -> Vec<u8> {
    let mut m = header(0, 0x8400, [0, 1, 0, 0]);
    m.extend_from_slice(name);
    m.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 9, 0, 4, 1, 2, 3, 4]);
    m
}

fn first_record_error(m: &[u8]) -> Option<Error> {
    let msg = Message::new_checked(m).unwrap();
    msg.records().find_map(Result::err)
}

#[test]
fn compression_loops_and_forward_pointers_are_errors() {
    // A pointer to itself, and one pointing forward to a pointer back to it.
    assert_eq!(first_record_error(&record_named(&[0xc0, 12])), Some(Error::BadPointer));
    assert_eq!(first_record_error(&record_named(&[0xc0, 14, 0xc0, 12])), Some(Error::BadPointer));
    // A pointer past the end.
    assert_eq!(first_record_error(&record_named(&[0xff, 0xff])), Some(Error::BadPointer));
    // A label cut short, and reserved label types.
    assert_eq!(
        first_record_error(&header(0, 0x8400, [0, 1, 0, 0]).into_iter().chain([5, b'a']).collect::<Vec<_>>()),
        Some(Error::Truncated)
    );
    assert_eq!(first_record_error(&record_named(&[0x41, 0])), Some(Error::BadLabel));
    assert_eq!(first_record_error(&record_named(&[0x81, 0])), Some(Error::BadLabel));
}

/// Two records: the first ("a", TXT) carries `rdata`, which names inside it may point into; the second
/// (A) is named by a pointer to `rdata`'s offset `at`.
fn pointing_into_rdata(rdata: &[u8], at: usize) -> Vec<u8> {
    let mut m = header(0, 0x8400, [0, 2, 0, 0]);
    m.extend_from_slice(&[1, b'a', 0, 0, 16, 0, 1, 0, 0, 0, 9]);
    m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    m.extend_from_slice(rdata);
    m.extend_from_slice(&(0xc000 | (RDATA + at) as u16).to_be_bytes());
    m.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 9, 0, 4, 1, 2, 3, 4]);
    m
}

/// Where [`pointing_into_rdata`] puts the rdata.
const RDATA: usize = 12 + 3 + 10;

#[test]
fn pointer_chains_are_bounded() {
    // n pointers, each to the one before, the first to "a" at offset 12: the second record's name
    // follows n + 1 pointers.
    let chain = |n: usize| {
        let mut rdata = Vec::new();
        let mut prev = 12;
        for i in 0..n {
            rdata.extend_from_slice(&(0xc000 | prev as u16).to_be_bytes());
            prev = RDATA + 2 * i;
        }
        pointing_into_rdata(&rdata, 2 * (n - 1))
    };
    let within = chain(wire::MAX_POINTERS - 1);
    let msg = Message::new_checked(&within[..]).unwrap();
    let records: Vec<_> = msg.records().collect();
    assert!(records[1].as_ref().unwrap().name.eq_str("a"));
    assert_eq!(first_record_error(&chain(wire::MAX_POINTERS)), Some(Error::TooManyPointers));
    assert_eq!(first_record_error(&chain(1000)), Some(Error::TooManyPointers));
}

#[test]
fn names_longer_than_255_octets_are_errors() {
    // Segments of a 63-octet label and a pointer to the segment before: few pointers, a long name.
    let segments = |n: usize| {
        let mut rdata = Vec::new();
        let mut prev = 12;
        for _ in 0..n {
            let here = RDATA + rdata.len();
            rdata.push(63);
            rdata.extend_from_slice(&[b'x'; 63]);
            rdata.extend_from_slice(&(0xc000 | prev as u16).to_be_bytes());
            prev = here;
        }
        pointing_into_rdata(&rdata, prev - RDATA)
    };
    assert_eq!(first_record_error(&segments(3)), None); // 3 × 64 + 3 octets
    assert_eq!(first_record_error(&segments(4)), Some(Error::NameTooLong)); // 4 × 64 + 3 octets
}

#[test]
fn wrong_address_lengths_and_other_records() {
    let mut m = a_response(NAME, [1, 2, 3, 4], 9);
    let len = m.len();
    m[len - 6] = 0; // rdlength 4 -> 3, and one byte left over
    m[len - 5] = 3;
    let msg = Message::new_checked(&m[..]).unwrap();
    assert_eq!(msg.records().next().unwrap().unwrap().address(), Err(Error::BadRdata));
    // Class CH and type TXT carry no address.
    let mut m = a_response(NAME, [1, 2, 3, 4], 9);
    let at = 12 + labels(NAME).len();
    m[at + 3] = 3;
    let msg = Message::new_checked(&m[..]).unwrap();
    assert_eq!(msg.records().next().unwrap().unwrap().address(), Ok(None));
}

#[test]
fn lying_counts_end_in_truncated() {
    let mut m = a_response(NAME, [1, 2, 3, 4], 9);
    m[7] = 200; // 200 answers announced, one present
    let msg = Message::new_checked(&m[..]).unwrap();
    let items: Vec<_> = msg.records().collect();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1].as_ref().err(), Some(&Error::Truncated));
    m[5] = 0xff; // and 255 questions
    assert_eq!(Message::new_checked(&m[..]).unwrap().records().next().unwrap().err(), Some(Error::Truncated));
    assert_eq!(Message::new_checked(&m[..11]).err(), Some(Error::Truncated));
}

/// Property: for random UUID names, addresses, TTLs and ids, a written answer reads back as written;
/// every prefix and every single-byte corruption of it parses without panicking, in bounded steps.
#[test]
fn property_written_answers_read_back_and_corruptions_never_panic() {
    let mut rng = SeededRng::from_seed([7; 32]);
    let mut out = Vec::new();
    for _ in 0..300 {
        let name = random_name(&mut rng);
        let n = 1 + rng.below(3) as usize;
        let addrs: Vec<IpAddr> = (0..n)
            .map(|_| if rng.below(2) == 0 { IpAddr::from(rng.bytes::<4>()) } else { IpAddr::from(rng.bytes::<16>()) })
            .collect();
        let (id, ttl, echo) = (rng.u32() as u16, rng.u32(), rng.below(2) == 0);
        wire::emit_answer(&mut out, id, &name, &addrs, ttl, echo).unwrap();
        let msg = Message::new_checked(&out[..]).unwrap();
        assert_eq!(msg.id(), id);
        let back: Vec<_> = msg.records().map(|r| r.unwrap()).collect();
        assert_eq!(back.len(), n);
        for (r, a) in back.iter().zip(&addrs) {
            assert!(r.name.eq_str(&name) && r.ttl == ttl && r.cache_flush);
            assert_eq!(r.address().unwrap(), Some(*a));
        }
        for cut in 0..out.len() {
            exercise(&out[..cut]);
        }
        let mut bad = out.clone();
        let i = rng.below(bad.len() as u64) as usize;
        bad[i] = rng.u32() as u8;
        exercise(&bad);
    }
}

fn random_name(rng: &mut SeededRng) -> String {
    let b = rng.bytes::<16>();
    let hex: String = b.iter().map(|x| alloc::format!("{x:02x}")).collect();
    alloc::format!("{}-{}-{}-{}-{}.local", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// Reads everything in `m`; the iterators end (each is bounded by the message length).
fn exercise(m: &[u8]) {
    let Ok(msg) = Message::new_checked(m) else { return };
    let mut steps = 0;
    for q in msg.questions() {
        steps += 1;
        if let Ok(q) = q {
            let _ = alloc::format!("{}", q.name);
        }
    }
    for r in msg.records() {
        steps += 1;
        if let Ok(r) = r {
            let _ = r.address();
            let _ = r.name.eq_str(NAME);
        }
    }
    assert!(steps <= 2 * 65_536);
}

#[test]
fn ice_names() {
    assert!(is_ice_name(NAME));
    assert!(is_ice_name(&NAME.to_uppercase()));
    assert!(is_ice_name("2b1c2e7e-8e43-4a3f-9d0b-7c0e2b6a1f35.local."));
    for bad in [
        "printer.local",
        "2b1c2e7e-8e43-4a3f-9d0b-7c0e2b6a1f35.example",
        "2b1c2e7e8e434a3f9d0b7c0e2b6a1f35.local",
        "2b1c2e7e-8e43-4a3f-9d0b-7c0e2b6a1f3z.local",
        "",
    ] {
        assert!(!is_ice_name(bad), "{bad}");
    }
}

// ----- resolver -----

const SRC4: &str = "192.168.1.10:5000";
const SRC6: &str = "[fe80::10%3]:5000";
const RESPONDER: &str = "192.168.1.20:5353";

fn resolver() -> Resolver {
    let mut r = Resolver::new(Config::default());
    r.set_source(sa(SRC4));
    r
}

fn transmits(r: &mut Resolver) -> Vec<(SocketAddr, SocketAddr, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some(t) = r.poll_transmit() {
        out.push((t.source, t.destination, t.contents.to_vec()));
    }
    out
}

fn events(r: &mut Resolver) -> Vec<Event> {
    let mut out = Vec::new();
    while let Some(e) = r.poll_event() {
        out.push(e);
    }
    out
}

fn answer(r: &mut Resolver, now: Instant, m: &[u8]) -> Result<(), Error> {
    r.handle_receive(now, Datagram { source: sa(RESPONDER), destination: sa(SRC4), contents: m })
}

#[test]
fn query_goes_to_each_group_with_qu_then_resolves_and_caches() {
    let mut r = resolver();
    r.set_source(sa(SRC6));
    let t0 = Instant::from_secs(10);
    r.query(t0, NAME).unwrap();
    assert_eq!(r.poll_timeout(), Some(t0), "a transmit is owed now");
    let tx = transmits(&mut r);
    // One question per message (an A query, then an AAAA query), to each group.
    assert_eq!(tx.len(), 4);
    let groups = [(sa(SRC4), sa("224.0.0.251:5353")), (sa(SRC6), sa("[ff02::fb%3]:5353"))];
    for (i, (source, destination, bytes)) in tx.iter().enumerate() {
        assert_eq!((*source, *destination), groups[i % 2]);
        let msg = Message::new_checked(&bytes[..]).unwrap();
        let qs: Vec<_> = msg.questions().map(Result::unwrap).collect();
        let qtype = if i < 2 { RecordType::A } else { RecordType::AAAA };
        assert_eq!(qs.iter().map(|q| q.qtype).collect::<Vec<_>>(), [qtype]);
        assert!(qs.iter().all(|q| q.unicast_response && q.name.eq_str(NAME)));
    }
    assert_eq!(r.poll_timeout(), Some(t0 + Duration::from_secs(1)));

    let t1 = t0 + Duration::from_millis(30);
    answer(&mut r, t1, &a_response(&NAME.to_uppercase(), [192, 168, 1, 20], 120)).unwrap();
    assert_eq!(events(&mut r), [Event::Resolved { name: NAME.into(), addr: ip("192.168.1.20") }]);
    assert_eq!(r.pending(), 0);
    assert_eq!(r.poll_timeout(), None);
    assert_eq!(r.stats().resolved, 1);

    // From the cache while fresh, with no query; asked again once it expired.
    r.query(t1 + Duration::from_secs(119), NAME).unwrap();
    assert!(transmits(&mut r).is_empty());
    assert_eq!(events(&mut r), [Event::Resolved { name: NAME.into(), addr: ip("192.168.1.20") }]);
    assert_eq!(r.stats().cache_hits, 1);
    r.query(t1 + Duration::from_secs(121), NAME).unwrap();
    assert_eq!(transmits(&mut r).len(), 4);
    assert!(events(&mut r).is_empty());
}

#[test]
fn retransmits_with_backoff_then_fails() {
    let mut r = resolver();
    let t0 = Instant::from_secs(1);
    r.query(t0, NAME).unwrap();
    let mut sends = Vec::new();
    let mut now = t0;
    let mut failed_at = None;
    for _ in 0..20 {
        for (_, _, bytes) in transmits(&mut r) {
            let msg = Message::new_checked(&bytes[..]).unwrap();
            let qu = msg.questions().next().unwrap().unwrap().unicast_response;
            sends.push(((now - t0).as_millis(), qu));
        }
        if let [Event::Failed { name }] = events(&mut r).as_slice() {
            assert_eq!(name, NAME);
            failed_at = Some((now - t0).as_millis());
            break;
        }
        let Some(next) = r.poll_timeout() else { break };
        now = next.max(now);
        r.handle_timeout(now);
    }
    // RFC 6762 §5.2: one second, then doubling; the QU bit on the first only (§5.4).
    assert_eq!(sends, [(0, true), (0, true), (1000, false), (1000, false), (3000, false), (3000, false)]);
    assert_eq!(failed_at, Some(5000));
    assert_eq!(r.stats().timed_out, 1);
    assert_eq!(r.poll_timeout(), None);
    // A late answer is unsolicited now.
    answer(&mut r, now, &a_response(NAME, [10, 0, 0, 1], 120)).unwrap();
    assert!(events(&mut r).is_empty());
    assert_eq!(r.stats().unsolicited, 1);
    assert_eq!(r.cached(), 0);
}

#[test]
fn answers_for_names_never_asked_are_dropped_and_counted() {
    let mut r = resolver();
    let now = Instant::from_secs(1);
    r.query(now, NAME).unwrap();
    answer(&mut r, now, &a_response(OTHER, [10, 0, 0, 1], 120)).unwrap();
    answer(&mut r, now, &a_response("printer.local", [10, 0, 0, 2], 120)).unwrap();
    assert!(events(&mut r).is_empty());
    assert_eq!(r.stats().unsolicited, 2);
    assert_eq!(r.cached(), 0);
    assert_eq!(r.pending(), 1);
    // Queries from other hosts and datagrams from other ports are not answers.
    let mut q = Vec::new();
    wire::emit_query(&mut q, NAME, &[RecordType::A], false).unwrap();
    assert_eq!(answer(&mut r, now, &q), Err(Error::NotAResponse));
    let from_elsewhere = Datagram {
        source: sa("192.168.1.20:9999"),
        destination: sa(SRC4),
        contents: &a_response(NAME, [1, 1, 1, 1], 9),
    };
    assert_eq!(r.handle_receive(now, from_elsewhere), Err(Error::BadSourcePort));
    let mut bad_rcode = a_response(NAME, [1, 1, 1, 1], 9);
    bad_rcode[3] = 3;
    assert_eq!(answer(&mut r, now, &bad_rcode), Err(Error::BadOpcode));
    assert_eq!((r.stats().not_responses, r.stats().bad_source_port, r.stats().bad_opcode), (1, 1, 1));
    assert_eq!(r.pending(), 1);
}

#[test]
fn absurd_ttls_are_clamped_and_goodbyes_uncache() {
    let mut r = resolver();
    let t0 = Instant::from_secs(1);
    r.query(t0, NAME).unwrap();
    answer(&mut r, t0, &a_response(NAME, [10, 0, 0, 1], u32::MAX)).unwrap();
    assert_eq!(r.stats().ttl_clamped, 1);
    let _ = events(&mut r);
    // Cached for max_ttl (120 s), not 136 years.
    r.query(t0 + Duration::from_secs(121), NAME).unwrap();
    assert!(events(&mut r).is_empty());
    assert_eq!(transmits(&mut r).len(), 4);
    answer(&mut r, t0 + Duration::from_secs(122), &a_response(NAME, [10, 0, 0, 1], 60)).unwrap();
    let _ = events(&mut r);
    assert_eq!(r.cached(), 1);
    // A goodbye (TTL 0) removes it; a TTL 0 record never resolves a name.
    answer(&mut r, t0 + Duration::from_secs(123), &a_response(NAME, [10, 0, 0, 1], 0)).unwrap();
    assert_eq!((r.cached(), r.stats().goodbyes), (0, 1));
    r.query(t0 + Duration::from_secs(124), NAME).unwrap();
    answer(&mut r, t0 + Duration::from_secs(124), &a_response(NAME, [10, 0, 0, 1], 0)).unwrap();
    assert!(events(&mut r).is_empty());
    assert_eq!(r.pending(), 1);
}

#[test]
fn absurd_record_counts_and_compression_loops_are_dropped() {
    let mut r = resolver();
    let now = Instant::from_secs(1);
    r.query(now, NAME).unwrap();
    let mut m = a_response(NAME, [10, 0, 0, 1], 9);
    m[6] = 0xff; // 65 280 answers announced
    assert_eq!(answer(&mut r, now, &m), Err(Error::TooManyRecords));
    assert_eq!(r.stats().too_many_records, 1);
    // A good answer followed by a looping name: the whole response is dropped.
    let mut m = a_response(NAME, [10, 0, 0, 1], 9);
    m[7] = 2;
    let here = m.len() as u16;
    m.extend_from_slice(&(0xc000 | here).to_be_bytes());
    m.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 9, 0, 4, 1, 2, 3, 4]);
    assert_eq!(answer(&mut r, now, &m), Err(Error::BadPointer));
    assert_eq!(r.stats().malformed, 1);
    assert!(events(&mut r).is_empty());
    assert_eq!(r.pending(), 1);
    assert_eq!(answer(&mut r, now, &[0; 5]), Err(Error::Truncated));
    assert_eq!(r.stats().malformed, 2);
}

#[test]
fn a_flood_of_answers_keeps_state_bounded() {
    let config = Config { max_cache: 4, max_queries: 4, ..Config::default() };
    let mut r = Resolver::new(config);
    r.set_source(sa(SRC4));
    let mut rng = SeededRng::from_seed([3; 32]);
    let mut now = Instant::from_secs(1);
    let mut resolved = 0;
    for round in 0..50u32 {
        // Four names asked per round, each answered among a flood of answers for names never asked.
        let names: Vec<String> = (0..4).map(|_| random_name(&mut rng)).collect();
        for n in &names {
            r.query(now, n).unwrap();
        }
        assert_eq!(r.query(now, &random_name(&mut rng)), Err(Error::TooManyQueries));
        let _ = transmits(&mut r);
        for _ in 0..100 {
            answer(&mut r, now, &a_response(&random_name(&mut rng), rng.bytes::<4>(), rng.u32())).unwrap();
        }
        for n in &names {
            answer(&mut r, now, &a_response(n, [10, 0, (round >> 8) as u8, round as u8], 100_000)).unwrap();
        }
        resolved += events(&mut r).iter().filter(|e| matches!(e, Event::Resolved { .. })).count();
        assert!(r.cached() <= 4);
        now += Duration::from_millis(10);
    }
    assert_eq!(resolved, 200);
    let s = r.stats();
    assert_eq!((s.unsolicited, s.refused, s.resolved), (5000, 50, 200));
    assert!(s.evicted >= 196);
}

#[test]
fn two_addresses_for_one_name_are_ignored() {
    let mut r = resolver();
    let now = Instant::from_secs(1);
    r.query(now, NAME).unwrap();
    let mut m = Vec::new();
    wire::emit_answer(&mut m, 0, NAME, &[ip("10.0.0.1"), ip("10.0.0.2")], 120, false).unwrap();
    answer(&mut r, now, &m).unwrap();
    assert_eq!(events(&mut r), [Event::Failed { name: NAME.into() }]);
    assert_eq!((r.stats().ambiguous, r.cached()), (1, 0));
    // The same address twice is one address.
    r.query(now, NAME).unwrap();
    wire::emit_answer(&mut m, 0, NAME, &[ip("10.0.0.1"), ip("10.0.0.1")], 120, false).unwrap();
    answer(&mut r, now, &m).unwrap();
    assert_eq!(events(&mut r), [Event::Resolved { name: NAME.into(), addr: ip("10.0.0.1") }]);
}

#[test]
fn refusals() {
    let mut r = Resolver::new(Config::default());
    let now = Instant::from_secs(1);
    assert_eq!(r.query(now, NAME), Err(Error::NoSource));
    r.set_source(sa(SRC4));
    assert_eq!(r.query(now, "printer.local"), Err(Error::NotAnIceName));
    assert_eq!(r.query(now, "a..local"), Err(Error::InvalidName));
    assert_eq!(r.stats().refused, 3);
    let mut open = Resolver::new(Config { ice_names_only: false, ..Config::default() });
    open.set_source(sa(SRC4));
    open.query(now, "printer.local").unwrap();
    // Asking again while a query is under way sends nothing more.
    open.query(now, "Printer.local").unwrap();
    assert_eq!(transmits(&mut open).len(), 2);
    assert_eq!(open.stats().queries, 1);
}

#[test]
fn time_going_backwards_is_ignored() {
    let mut r = resolver();
    let t0 = Instant::from_secs(100);
    r.query(t0, NAME).unwrap();
    let _ = transmits(&mut r);
    r.handle_timeout(Instant::from_secs(1));
    assert!(transmits(&mut r).is_empty());
    assert_eq!(r.poll_timeout(), Some(t0 + Duration::from_secs(1)));
    r.query(Instant::from_secs(2), OTHER).unwrap();
    let _ = transmits(&mut r);
    // The second query's clock is the latest seen, not the earlier `now`.
    assert_eq!(r.poll_timeout(), Some(t0 + Duration::from_secs(1)));
}

// ----- responder -----

const GROUP_SOCKET: &str = "192.168.1.20:5353";

#[test]
fn hidden_names_are_uuid_v4_and_stable_per_address() {
    let mut rng = SeededRng::from_seed([9; 32]);
    let mut r = Responder::new();
    let a = String::from(r.hide(&mut rng, ip("192.168.1.20")).unwrap());
    let b = String::from(r.hide(&mut rng, ip("fe80::20")).unwrap());
    assert!(is_ice_name(&a) && is_ice_name(&b) && a != b);
    assert_eq!(a.as_bytes()[14], b'4', "version 4: {a}");
    assert!(matches!(a.as_bytes()[19], b'8' | b'9' | b'a' | b'b'), "RFC 9562 variant: {a}");
    assert_eq!(r.hide(&mut rng, ip("192.168.1.20")).unwrap(), a);
    assert_eq!(r.address_of(&a.to_uppercase()), Some(ip("192.168.1.20")));
    for i in 2..super::MAX_NAMES {
        r.hide(&mut rng, IpAddr::from([10, 0, 0, i as u8])).unwrap();
    }
    assert_eq!(r.hide(&mut rng, ip("10.1.1.1")), Err(Error::TooManyNames));
}

#[test]
fn the_resolver_resolves_what_the_responder_hides() {
    let mut rng = SeededRng::from_seed([10; 32]);
    let mut responder = Responder::new();
    responder.set_source(sa(GROUP_SOCKET));
    let name = String::from(responder.hide(&mut rng, ip("192.168.1.20")).unwrap());
    let mut r = resolver();
    let now = Instant::from_secs(1);
    r.query(now, &name).unwrap();
    for (source, destination, bytes) in transmits(&mut r) {
        // The group delivers it to the responder's socket.
        assert_eq!(destination, sa("224.0.0.251:5353"));
        responder.handle_receive(now, Datagram { source, destination: sa(GROUP_SOCKET), contents: &bytes }).unwrap();
    }
    assert_eq!(responder.poll_timeout(), Some(now));
    let t = responder.poll_transmit().unwrap();
    // A one-shot query (source port 5000): answered to the querier alone, question repeated, TTL 10 s.
    assert_eq!((t.source, t.destination), (sa(GROUP_SOCKET), sa(SRC4)));
    let reply = t.contents.to_vec();
    let msg = Message::new_checked(&reply[..]).unwrap();
    assert_eq!(msg.question_count(), 1);
    assert_eq!(msg.records().next().unwrap().unwrap().ttl, super::LEGACY_TTL);
    assert!(responder.poll_transmit().is_none());
    r.handle_receive(now, Datagram { source: sa(GROUP_SOCKET), destination: sa(SRC4), contents: &reply }).unwrap();
    assert_eq!(events(&mut r), [Event::Resolved { name: name.clone(), addr: ip("192.168.1.20") }]);
    assert_eq!(responder.stats().answered, 1);
}

#[test]
fn the_responder_answers_only_its_names_and_families() {
    let mut rng = SeededRng::from_seed([11; 32]);
    let mut responder = Responder::new();
    responder.set_source(sa(GROUP_SOCKET));
    let name = String::from(responder.hide(&mut rng, ip("192.168.1.20")).unwrap());
    let now = Instant::from_secs(1);
    let peer = sa("192.168.1.30:5353");
    let mut q = Vec::new();
    let ask = |responder: &mut Responder, q: &[u8], source: SocketAddr| {
        responder.handle_receive(now, Datagram { source, destination: sa(GROUP_SOCKET), contents: q })
    };
    // Another name, and AAAA for an IPv4 address: nothing.
    wire::emit_query(&mut q, OTHER, &[RecordType::A], false).unwrap();
    ask(&mut responder, &q, peer).unwrap();
    wire::emit_query(&mut q, &name, &[RecordType::AAAA], false).unwrap();
    ask(&mut responder, &q, peer).unwrap();
    assert_eq!(responder.stats().not_ours, 2);
    assert!(responder.poll_transmit().is_none());
    // From port 5353: QM to the group, QU to the querier; both with TTL 120 and id 0.
    wire::emit_query(&mut q, &name, &[RecordType::A], false).unwrap();
    ask(&mut responder, &q, peer).unwrap();
    wire::emit_query(&mut q, &name, &[RecordType::A], true).unwrap();
    ask(&mut responder, &q, peer).unwrap();
    let to: Vec<_> = core::iter::from_fn(|| responder.poll_transmit().map(|t| t.destination)).collect();
    assert_eq!(to, [sa("224.0.0.251:5353"), peer]);
    // Malformed queries and floods: dropped, counted, the queue bounded.
    let looping: Vec<u8> = header(0, 0, [1, 0, 0, 0]).into_iter().chain([0xc0, 12, 0, 1, 0, 1]).collect();
    assert_eq!(ask(&mut responder, &looping, peer), Err(Error::BadPointer));
    wire::emit_query(&mut q, &name, &[RecordType::A], false).unwrap();
    for _ in 0..1000 {
        ask(&mut responder, &q, peer).unwrap();
    }
    let sent = core::iter::from_fn(|| responder.poll_transmit().map(|_| ())).count();
    assert_eq!(sent, 32);
    assert_eq!((responder.stats().malformed, responder.stats().dropped), (1, 1000 - 32));
}
