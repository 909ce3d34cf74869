//! Data channels over SCTP over the in-memory link.
#![cfg(feature = "sim")]

mod support;

use core::time::Duration;

use bytes::Bytes;
use sansrtc::SeededRng;
use sansrtc::datachannel::{ChannelOptions, DataChannels, Error, Event, Reliability, Role};
use sansrtc::sctp::{self, Association, Config, SendOptions};
use support::{Impair, Pair};

type P = Pair<DataChannels, DataChannels>;

fn dc(seed: u8, role: Role) -> DataChannels {
    DataChannels::new(Association::new(Config::default(), SeededRng::from_seed([seed; 32])), role)
}

fn connected(ab: Impair, ba: Impair) -> P {
    let mut p = Pair::new(dc(1, Role::Client), dc(2, Role::Server), ab, ba);
    let now = p.now;
    p.a.connect(now);
    p.b.connect(now);
    assert!(p.run_until(Duration::from_secs(60), |p| p.ev_a.contains(&Event::Connected)
        && p.ev_b.contains(&Event::Connected)));
    p.ev_a.clear();
    p.ev_b.clear();
    p
}

fn opened(p: &mut P, from_a: bool, options: ChannelOptions) -> u16 {
    let now = p.now;
    let id = if from_a { p.a.open(now, options).unwrap() } else { p.b.open(now, options).unwrap() };
    assert!(p.run_until(Duration::from_secs(30), |p| {
        let (ours, theirs) = if from_a { (&p.ev_a, &p.ev_b) } else { (&p.ev_b, &p.ev_a) };
        ours.contains(&Event::ChannelOpen(id))
            && theirs.iter().any(|e| matches!(e, Event::ChannelOpened { id: i, .. } if *i == id))
    }));
    id
}

#[test]
fn open_send_and_close_with_events_on_both_sides() {
    let mut p = connected(Impair::clean(5), Impair::clean(5));
    let mut o = ChannelOptions::new("chat");
    o.protocol = "proto".into();
    let id = opened(&mut p, true, o);
    assert_eq!(id % 2, 0, "DTLS client opens even ids");
    assert!(p.ev_b.contains(&Event::ChannelOpened { id, label: "chat".into(), protocol: "proto".into() }));
    let now = p.now;
    p.a.send_text(now, id, "hello").unwrap();
    p.a.send(now, id, Bytes::from_static(&[1, 2, 3]), true).unwrap();
    p.a.send(now, id, Bytes::new(), true).unwrap();
    p.a.send(now, id, Bytes::new(), false).unwrap();
    p.b.send_text(now, id, "back").unwrap();
    assert!(
        p.run_until(Duration::from_secs(5), |p| p.ev_b.iter().filter(|e| matches!(e, Event::Message { .. })).count()
            == 4)
    );
    let msgs: Vec<(Bytes, bool)> = p
        .ev_b
        .iter()
        .filter_map(|e| match e {
            Event::Message { data, binary, .. } => Some((data.clone(), *binary)),
            _ => None,
        })
        .collect();
    assert_eq!(
        msgs,
        vec![
            (Bytes::from_static(b"hello"), false),
            (Bytes::from_static(&[1, 2, 3]), true),
            (Bytes::new(), true),
            (Bytes::new(), false)
        ]
    );
    assert!(p.ev_a.iter().any(|e| matches!(e, Event::Message { data, .. } if data == "back")));
    let now = p.now;
    p.a.close(now, id).unwrap();
    assert!(p.run_until(Duration::from_secs(10), |p| p.ev_a.contains(&Event::ChannelClosed(id))
        && p.ev_b.contains(&Event::ChannelClosed(id))));
    assert_eq!(p.a.channel_count(), 0);
    assert_eq!(p.b.channel_count(), 0);
    // The server side closing works too, with odd ids.
    let id = opened(&mut p, false, ChannelOptions::new("srv"));
    assert_eq!(id % 2, 1);
    let now = p.now;
    p.b.close(now, id).unwrap();
    assert!(p.run_until(Duration::from_secs(10), |p| p.ev_a.contains(&Event::ChannelClosed(id))
        && p.ev_b.contains(&Event::ChannelClosed(id))));
}

#[test]
fn a_thousand_and_twenty_four_channels_at_once_with_interleaved_messages() {
    let mut p = connected(Impair::lossy(), Impair::lossy());
    let now = p.now;
    let mut ids = Vec::new();
    for i in 0..1024 {
        let from_a = i % 2 == 0;
        let o = ChannelOptions::new(&format!("ch{i}"));
        let id = if from_a { p.a.open(now, o).unwrap() } else { p.b.open(now, o).unwrap() };
        ids.push((id, from_a));
    }
    // Messages interleaved across channels, sent before the ACKs arrive.
    for round in 0..3u8 {
        for &(id, from_a) in &ids {
            let data = Bytes::from(vec![round; 1 + (id as usize % 50)]);
            if from_a { p.a.send(now, id, data, true).unwrap() } else { p.b.send(now, id, data, true).unwrap() }
        }
    }
    let count = |ev: &Vec<Event>| ev.iter().filter(|e| matches!(e, Event::Message { .. })).count();
    assert!(p.run_until(Duration::from_secs(300), |p| count(&p.ev_a) == 512 * 3 && count(&p.ev_b) == 512 * 3));
    assert_eq!(p.a.channel_count(), 1024);
    assert_eq!(p.b.channel_count(), 1024);
    // Per channel, the rounds arrive in order.
    for ev in [&p.ev_a, &p.ev_b] {
        let mut last = std::collections::HashMap::new();
        for e in ev {
            if let Event::Message { id, data, .. } = e {
                let prev = last.insert(*id, data[0]);
                assert_eq!(prev.map_or(0, |r| r + 1), data[0]);
                assert_eq!(data.len(), 1 + (*id as usize % 50));
            }
        }
    }
    let opens = p.ev_a.iter().filter(|e| matches!(e, Event::ChannelOpen(_))).count();
    assert_eq!(opens, 512);
}

#[test]
fn open_close_churn() {
    let mut p = connected(Impair::lossy(), Impair::lossy());
    for round in 0..40 {
        let id = opened(&mut p, round % 3 != 0, ChannelOptions::new("churn"));
        let now = p.now;
        if round % 3 != 0 {
            p.a.send_text(now, id, "x").unwrap();
            p.a.close(now, id).unwrap();
        } else {
            p.b.send_text(now, id, "y").unwrap();
            p.b.close(now, id).unwrap();
        }
        assert!(p.run_until(Duration::from_secs(60), |p| p.ev_a.contains(&Event::ChannelClosed(id))
            && p.ev_b.contains(&Event::ChannelClosed(id))));
        p.ev_a.clear();
        p.ev_b.clear();
    }
    assert_eq!(p.a.channel_count() + p.b.channel_count(), 0);
}

#[test]
fn negotiated_channels_skip_dcep() {
    let mut p = connected(Impair::clean(5), Impair::clean(5));
    let now = p.now;
    let mut o = ChannelOptions::new("neg");
    o.negotiated = Some(7);
    assert_eq!(p.a.open(now, o.clone()).unwrap(), 7);
    assert_eq!(p.b.open(now, o).unwrap(), 7);
    p.a.send_text(now, 7, "n").unwrap();
    assert!(p.run_until(Duration::from_secs(5), |p| p.ev_b.iter().any(|e| matches!(e, Event::Message { id: 7, .. }))));
    assert!(!p.ev_b.iter().any(|e| matches!(e, Event::ChannelOpened { .. })));
}

#[test]
fn partial_reliability_and_unordered_channels_are_announced() {
    let mut p = connected(Impair::clean(5), Impair::clean(5));
    let mut o = ChannelOptions::new("pr");
    o.ordered = false;
    o.reliability = Reliability::MaxRetransmits(0);
    let id = opened(&mut p, true, o.clone());
    let remote = p.b.channel(id).unwrap();
    assert!(!remote.options.ordered);
    assert_eq!(remote.options.reliability, Reliability::MaxRetransmits(0));
    o.reliability = Reliability::MaxLifetime(Duration::from_millis(150));
    let id = opened(&mut p, false, o);
    assert_eq!(p.a.channel(id).unwrap().options.reliability, Reliability::MaxLifetime(Duration::from_millis(150)));
}

#[test]
fn buffered_amount_low_fires_when_drained() {
    let mut p = connected(Impair::clean(20), Impair::clean(20));
    let now = p.now;
    let id = p.a.open(now, ChannelOptions::new("bulk")).unwrap();
    // W3C `bufferedAmount` counts application data only: the DATA_CHANNEL_OPEN on its way is not in it.
    assert!(p.a.association().buffered_total() > 0);
    assert_eq!(p.a.buffered_amount(id), 0);
    assert!(p.run_until(Duration::from_secs(10), |p| p.a.association().buffered_total() == 0));
    assert_eq!(p.a.buffered_amount(id), 0);
    p.a.set_buffered_amount_low_threshold(id, 10_000).unwrap();
    let now = p.now;
    for _ in 0..20 {
        p.a.send(now, id, Bytes::from(vec![7; 5000]), true).unwrap();
    }
    assert_eq!(p.a.buffered_amount(id), 100_000);
    assert!(p.run_until(Duration::from_secs(10), |p| p.ev_a.contains(&Event::BufferedAmountLow(id))));
    assert!(p.a.buffered_amount(id) <= 10_000);
    assert_eq!(p.ev_a.iter().filter(|e| **e == Event::BufferedAmountLow(id)).count(), 1);
}

#[test]
fn bad_dcep_messages_are_dropped_with_a_reason() {
    // A raw association plays the peer, sending malformed DCEP on stream 1.
    let raw = Association::new(Config::default(), SeededRng::from_seed([5; 32]));
    let mut p: Pair<DataChannels, Association> =
        Pair::new(dc(1, Role::Client), raw, Impair::clean(1), Impair::clean(1));
    let now = p.now;
    p.a.connect(now);
    assert!(p.run_until(Duration::from_secs(5), |p| p.b.is_established()));
    let bad: [&[u8]; 5] = [
        &[0x03, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, b'a'], // label length past the end
        &[0x03, 0, 0, 0],                               // too short
        &[0x03, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0xff], // label not UTF-8
        &[0x07],                                        // unknown message type
        &[0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],       // fine, but on an even (our) stream id below
    ];
    for (i, b) in bad.iter().enumerate() {
        let (stream, now) = (if i == 4 { 2 } else { 1 }, p.now);
        p.b.send(now, stream, 50, Bytes::copy_from_slice(b), SendOptions::default()).unwrap();
        // One at a time: streams share the link, so the order across streams is the scheduler's.
        p.run_until(Duration::from_millis(100), |_| false);
    }
    p.run_until(Duration::from_secs(2), |_| false);
    assert_eq!(p.a.dropped(), 5);
    assert_eq!(p.a.last_error(), Some(Error::BadStreamId));
    assert_eq!(p.a.channel_count(), 0);
    // A message for a stream without a channel is dropped too.
    p.b.send(now, 3, 51, Bytes::from_static(b"?"), SendOptions::default()).unwrap();
    p.run_until(Duration::from_secs(2), |_| false);
    assert_eq!(p.a.last_error(), Some(Error::UnexpectedMessage));
    let _ = sctp::Event::Connected;
}

fn payload(tag: u8, index: u32, len: usize) -> Bytes {
    let mut v: Vec<u8> = (0..len).map(|i| (index as usize * 13 + i * 3) as u8 ^ tag).collect();
    if len >= 5 {
        v[0] = tag;
        v[1..5].copy_from_slice(&index.to_be_bytes());
    }
    Bytes::from(v)
}

#[test]
fn sixteen_mib_across_ordered_unordered_and_unreliable_channels_over_a_lossy_link() {
    let mut p = connected(Impair::lossy(), Impair::lossy());
    let ordered = opened(&mut p, true, ChannelOptions::new("ordered"));
    let mut o = ChannelOptions::new("unordered");
    o.ordered = false;
    let unordered = opened(&mut p, true, o.clone());
    o.reliability = Reliability::MaxRetransmits(0);
    let lossy = opened(&mut p, true, o);
    // Mixed sizes, 1 B to 256 KiB, about 16 MiB in all, interleaved over the three channels.
    let mut rng = SeededRng::from_seed([21; 32]);
    let mut plan = Vec::new();
    let mut total = 0;
    while total < 16 * 1024 * 1024 {
        let len = match rng.below(10) {
            0 => 5 + rng.below(3) as usize,
            1..=5 => 5 + rng.below(2000) as usize,
            6..=8 => 2000 + rng.below(30_000) as usize,
            _ => 100_000 + rng.below(156 * 1024) as usize,
        };
        let ch = match rng.below(10) {
            0..=6 => ordered,
            7 | 8 => unordered,
            _ => lossy,
        };
        plan.push((ch, len.min(256 * 1024)));
        total += len;
    }
    plan.push((ordered, 1));
    let mut next = 0;
    let mut got: std::collections::HashMap<u16, Vec<Bytes>> = Default::default();
    let end = p.now + Duration::from_secs(7200);
    loop {
        while next < plan.len() {
            let (ch, len) = plan[next];
            let now = p.now;
            match p.a.send(now, ch, payload(ch as u8, next as u32, len), true) {
                Ok(()) => next += 1,
                Err(Error::Send(sctp::SendError::BufferFull)) => break,
                Err(e) => panic!("{e}"),
            }
        }
        for e in p.ev_b.drain(..) {
            if let Event::Message { id, data, .. } = e {
                got.entry(id).or_default().push(data);
            }
        }
        if next == plan.len() && p.a.association().buffered_total() == 0 {
            break;
        }
        assert!(p.now < end, "stalled");
        assert!(p.advance());
    }
    p.pump();
    for e in p.ev_b.drain(..) {
        if let Event::Message { id, data, .. } = e {
            got.entry(id).or_default().push(data);
        }
    }
    let expect = |ch: u16| -> Vec<Bytes> {
        plan.iter()
            .enumerate()
            .filter(|(_, (c, _))| *c == ch)
            .map(|(i, (c, l))| payload(*c as u8, i as u32, *l))
            .collect()
    };
    // Ordered and reliable: everything, in order.
    assert!(got[&ordered] == expect(ordered));
    // Unordered and reliable: everything, intact, in some order.
    let mut u = got[&unordered].clone();
    let mut want = expect(unordered);
    u.sort();
    want.sort();
    assert!(u == want);
    // Unreliable: a strict subset, each message intact.
    let l = &got[&lossy];
    let all = expect(lossy);
    assert!(l.len() < all.len(), "{} of {}", l.len(), all.len());
    assert!(l.iter().all(|m| all.contains(m)));
    assert!(p.a.association().stats().retransmissions > 0);
}

#[test]
fn channels_opened_before_connecting_are_announced_on_connection() {
    let mut p = Pair::new(dc(1, Role::Client), dc(2, Role::Server), Impair::clean(5), Impair::clean(5));
    let now = p.now;
    let id = p.a.open(now, ChannelOptions::new("early")).unwrap();
    let mut o = ChannelOptions::new("neg");
    o.negotiated = Some(9);
    assert_eq!(p.a.open(now, o.clone()).unwrap(), 9);
    assert_eq!(p.b.open(now, o).unwrap(), 9);
    assert!(matches!(p.a.send_text(now, id, "too soon"), Err(Error::Send(sctp::SendError::NotConnected))));
    p.a.connect(now);
    p.b.connect(now);
    assert!(p.run_until(Duration::from_secs(10), |p| {
        p.ev_a.contains(&Event::ChannelOpen(id))
            && p.ev_a.contains(&Event::ChannelOpen(9))
            && p.ev_b.contains(&Event::ChannelOpen(9))
            && p.ev_b
                .iter()
                .any(|e| matches!(e, Event::ChannelOpened { id: i, label, .. } if *i == id && label == "early"))
    }));
}

#[test]
fn channel_priorities_weigh_their_share_on_both_sides() {
    let mut p = connected(Impair::clean(5), Impair::clean(5));
    let mut high = ChannelOptions::new("high");
    high.priority = 1024;
    let mut low = ChannelOptions::new("low");
    low.priority = 128;
    let (high, low) = (opened(&mut p, true, high), opened(&mut p, true, low));
    // The opener schedules its streams by the channels' priorities, and the accepting side uses the
    // priority the DATA_CHANNEL_OPEN carried (RFC 8832 §5.1) for its own sends on the channel.
    for (id, priority) in [(high, 1024), (low, 128)] {
        assert_eq!(p.a.association().stream_priority(id), priority);
        assert_eq!(p.b.association().stream_priority(id), priority);
    }
    // Both saturated: the high-priority channel gets about eight times the bytes.
    let now = p.now;
    for n in 0..512u32 {
        p.a.send(now, low, payload(1, n, 1024), true).unwrap();
        p.a.send(now, high, payload(2, n, 1024), true).unwrap();
    }
    let (mut got_high, mut got_low) = (0usize, 0usize);
    while got_high + got_low < 256 * 1024 {
        assert!(p.advance(), "stalled");
        for e in p.ev_b.drain(..) {
            match e {
                Event::Message { id, data, .. } if id == high => got_high += data.len(),
                Event::Message { id, data, .. } if id == low => got_low += data.len(),
                _ => {}
            }
        }
    }
    assert!(got_high > 6 * got_low && got_high < 10 * got_low, "high {got_high} B, low {got_low} B");
    // A closed channel's stream forgets its priority (the id may be reused with another).
    let now = p.now;
    p.a.close(now, low).unwrap();
    assert!(p.run_until(Duration::from_secs(10), |p| p.ev_a.contains(&Event::ChannelClosed(low))));
    assert_eq!(p.a.association().stream_priority(low), sctp::DEFAULT_PRIORITY);
}
