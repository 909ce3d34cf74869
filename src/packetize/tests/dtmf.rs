#![allow(clippy::indexing_slicing, clippy::unwrap_used)]

use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::SeededRng;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn at(n: u64) -> Instant {
    Instant::ZERO + ms(n)
}

/// RFC 4733 §2.3 layout: digit 5, E set, volume 10, duration 800.
#[test]
fn report_layout() {
    let e = TelephoneEvent { event: 5, end: true, volume: 10, duration: 800 };
    assert_eq!(e.to_bytes(), [5, 0x8a, 0x03, 0x20]);
    let back: Vec<TelephoneEvent> = events(&e.to_bytes()).unwrap().collect();
    assert_eq!(back, [e]);
    // The R bit is ignored on receipt; volume keeps 6 bits.
    let back: Vec<TelephoneEvent> = events(&[11, 0x7f, 0, 1]).unwrap().collect();
    assert_eq!(back, [TelephoneEvent { event: 11, end: false, volume: 63, duration: 1 }]);
}

#[test]
fn hostile_payloads_are_typed_errors() {
    assert_eq!(events(&[]).err(), Some(DtmfError::Empty));
    assert_eq!(events(&[1, 2, 3]).err(), Some(DtmfError::BadLength));
    assert_eq!(events(&[1, 2, 3, 4, 5]).err(), Some(DtmfError::BadLength));
    assert_eq!(events(&[0; 4 * (MAX_EVENTS + 1)]).err(), Some(DtmfError::TooManyEvents));
    assert_eq!(events(&[0; 4 * MAX_EVENTS]).unwrap().count(), MAX_EVENTS);
}

#[test]
fn tone_characters() {
    let all = "0123456789*#ABCD";
    for (code, c) in all.chars().enumerate() {
        assert_eq!(event_of(c), Some(code as u8));
        assert_eq!(tone_of(code as u8), Some(c));
    }
    assert_eq!(event_of('a'), Some(12));
    assert_eq!((event_of('E'), event_of(','), tone_of(16)), (None, None, None));
}

/// Property: reports round-trip, and random payloads never panic a receiver.
#[test]
fn random_round_trips_and_bytes() {
    let mut rng = SeededRng::from_seed([41; 32]);
    for _ in 0..2000 {
        let n = 1 + rng.below(MAX_EVENTS as u64) as usize;
        let reports: Vec<TelephoneEvent> = (0..n)
            .map(|_| TelephoneEvent {
                event: rng.below(256) as u8,
                end: rng.below(2) == 1,
                volume: rng.below(64) as u8,
                duration: rng.below(65536) as u16,
            })
            .collect();
        let mut out = Vec::new();
        for r in &reports {
            r.write(&mut out);
        }
        assert_eq!(events(&out).unwrap().collect::<Vec<_>>(), reports);
    }
    let mut rx = DtmfReceiver::new(ms(250));
    for i in 0..20_000u64 {
        let mut data = vec![0u8; rng.below(40) as usize];
        rng.fill(&mut data);
        let _ = rx.handle_receive(at(i), rng.u32() % 4, &data);
        rx.handle_timeout(at(i));
        while rx.poll_event().is_some() {}
    }
}

/// Runs a sender until idle, following poll_timeout to the letter; returns (time, packet) and the tone
/// changes.
/// Packets and tone changes, each with the millisecond it came at.
type Timed<T> = Vec<(u64, T)>;

fn drive(tx: &mut DtmfSender, from: u64) -> (Timed<DtmfPacket>, Timed<ToneChange>) {
    let mut packets = Vec::new();
    let mut changes = Vec::new();
    let mut now = at(from);
    for _ in 0..10_000 {
        tx.handle_timeout(now);
        let t = now.saturating_duration_since(Instant::ZERO).as_millis() as u64;
        while let Some(p) = tx.poll_packet() {
            packets.push((t, p));
        }
        while let Some(c) = tx.poll_event() {
            changes.push((t, c));
        }
        match tx.poll_timeout() {
            Some(next) => now = next.max(now),
            None => break,
        }
    }
    (packets, changes)
}

#[test]
fn sender_makes_the_rfc_packet_train() {
    let mut tx = DtmfSender::new(8000, 1000);
    tx.insert(at(0), "1#", ms(120), ms(70)).unwrap();
    assert_eq!(tx.tone_buffer(), b"1#");
    let (packets, changes) = drive(&mut tx, 0);
    let summary: Vec<(u64, u32, bool, u8, bool, u16)> = packets
        .iter()
        .map(|(t, p)| (*t, p.timestamp, p.marker, p.event.event, p.event.end, p.event.duration))
        .collect();
    assert_eq!(
        summary,
        [
            // '1' at 0 ms: timestamp 1000, duration growing every 50 ms, the end three times at 120 ms.
            (0, 1000, true, 1, false, 400),
            (50, 1000, false, 1, false, 400),
            (100, 1000, false, 1, false, 800),
            (120, 1000, false, 1, true, 960),
            (120, 1000, false, 1, true, 960),
            (120, 1000, false, 1, true, 960),
            // '#' after the 70 ms gap: 190 ms, 1520 samples later.
            (190, 2520, true, 11, false, 400),
            (240, 2520, false, 11, false, 400),
            (290, 2520, false, 11, false, 800),
            (310, 2520, false, 11, true, 960),
            (310, 2520, false, 11, true, 960),
            (310, 2520, false, 11, true, 960),
        ]
    );
    assert_eq!(changes, [(0, ToneChange::Tone('1')), (190, ToneChange::Tone('#')), (380, ToneChange::Done)]);
    assert!(tx.tone_buffer().is_empty());
}

#[test]
fn sender_bounds_pauses_sync_and_long_tones() {
    let mut tx = DtmfSender::new(48_000, 0);
    // Durations and gaps are clamped; bad characters queue nothing.
    assert_eq!(tx.insert(at(0), "12x", ms(100), ms(70)), Err(DtmfError::InvalidTone));
    assert_eq!(tx.poll_timeout(), None);
    let long: alloc::string::String = core::iter::repeat_n('1', MAX_TONES + 1).collect();
    assert_eq!(tx.insert(at(0), &long, ms(100), ms(70)), Err(DtmfError::TooManyTones));
    tx.sync(at(1000), 480_000);
    tx.insert(at(1000), "5,6", ms(10), ms(1)).unwrap();
    let (packets, changes) = drive(&mut tx, 1000);
    // 40 ms tones (clamped), a 30 ms gap (clamped), the comma's 2 s pause.
    assert_eq!(packets[0].1.timestamp, 480_000);
    assert!(
        packets
            .iter()
            .filter(|(_, p)| p.event.event == 5 && p.event.end)
            .all(|(t, p)| *t == 1040 && p.event.duration == 1920)
    );
    assert_eq!(changes[1], (1070, ToneChange::Tone(',')));
    assert_eq!(changes[2], (3070, ToneChange::Tone('6')));
    assert_eq!(packets.iter().find(|(_, p)| p.event.event == 6).unwrap().1.timestamp, 480_000 + 2070 * 48);
    // 3 s at 48 kHz = 144 000 samples: segments of 0xFFFF, the later ones without the marker.
    let mut tx = DtmfSender::new(48_000, 0);
    tx.insert(at(0), "9", ms(3000), ms(70)).unwrap();
    let (packets, _) = drive(&mut tx, 0);
    let stamps: Vec<u32> = packets.iter().map(|(_, p)| p.timestamp).collect();
    assert!(stamps.contains(&0) && stamps.contains(&65_535) && stamps.contains(&131_070), "{stamps:?}");
    assert_eq!(packets.iter().filter(|(_, p)| p.marker).count(), 1);
    let last = packets.last().unwrap().1;
    assert_eq!((last.timestamp, last.event.duration, last.event.end), (131_070, (144_000 - 131_070) as u16, true));
    assert!(packets.iter().all(|(_, p)| p.event.duration > 0));
    // Clearing stops at once.
    tx.insert(at(5000), "123", ms(100), ms(70)).unwrap();
    tx.handle_timeout(at(5000));
    tx.clear();
    assert_eq!((tx.poll_timeout(), tx.poll_packet()), (None, None));
}

/// A sender's packets through a receiver, with losses: each digit once.
fn receive_all(packets: &[(u64, DtmfPacket)], keep: impl Fn(usize) -> bool) -> Vec<(u64, Digit)> {
    let mut rx = DtmfReceiver::new(ms(250));
    let mut out = Vec::new();
    let mut now = 0;
    let step = |rx: &mut DtmfReceiver, until: u64, out: &mut Vec<(u64, Digit)>| {
        while let Some(t) = rx.poll_timeout().filter(|t| *t <= at(until)) {
            rx.handle_timeout(t);
            let ms = t.saturating_duration_since(Instant::ZERO).as_millis() as u64;
            while let Some(d) = rx.poll_event() {
                out.push((ms, d));
            }
        }
    };
    for (i, (t, p)) in packets.iter().enumerate() {
        step(&mut rx, *t, &mut out);
        now = *t;
        if keep(i) {
            rx.handle_receive(at(*t), p.timestamp, &p.payload()).unwrap();
            while let Some(d) = rx.poll_event() {
                out.push((*t, d));
            }
        }
    }
    step(&mut rx, now + 10_000, &mut out);
    out
}

#[test]
fn receiver_reports_each_digit_once() {
    let mut tx = DtmfSender::new(8000, 0);
    tx.insert(at(0), "147", ms(100), ms(70)).unwrap();
    let (packets, _) = drive(&mut tx, 0);
    let digits = receive_all(&packets, |_| true);
    let summary: Vec<(u64, Option<char>, u32, bool)> =
        digits.iter().map(|(t, d)| (*t, d.tone(), d.duration, d.ended)).collect();
    assert_eq!(summary, [(100, Some('1'), 800, true), (270, Some('4'), 800, true), (440, Some('7'), 800, true)]);
    // Every end report of '4' lost: closed when '7' starts; every end report of '7' lost: reported
    // 250 ms after its last report (390 ms), through poll_timeout.
    let lost_end = |i: usize| !(packets[i].1.event.event != 1 && packets[i].1.event.end);
    let digits = receive_all(&packets, lost_end);
    let summary: Vec<(u64, Option<char>, bool)> = digits.iter().map(|(t, d)| (*t, d.tone(), d.ended)).collect();
    assert_eq!(summary, [(100, Some('1'), true), (340, Some('4'), false), (390 + 250, Some('7'), false)]);
    // The first packets lost (marker too): still each digit once.
    let digits = receive_all(&packets, |i| i % 6 != 0);
    assert_eq!(digits.iter().map(|(_, d)| d.tone().unwrap()).collect::<alloc::string::String>(), "147");
}

#[test]
fn receiver_closes_an_event_on_the_next_and_reads_packed_events() {
    let mut rx = DtmfReceiver::new(ms(250));
    let r = |event, end, duration| TelephoneEvent { event, end, volume: 10, duration };
    rx.handle_receive(at(0), 100, &r(1, false, 400).to_bytes()).unwrap();
    // The next digit starts before '1' ended: '1' is closed, not ended.
    rx.handle_receive(at(50), 900, &r(2, false, 400).to_bytes()).unwrap();
    assert_eq!(rx.poll_event().map(|d| (d.event, d.ended, d.timestamp)), Some((1, false, 100)));
    // Two events packed in one packet (§2.5.1.5): '2' ended, '3' ended right after it.
    let mut payload = Vec::new();
    r(2, true, 800).write(&mut payload);
    r(3, true, 480).write(&mut payload);
    rx.handle_receive(at(100), 900, &payload).unwrap();
    let got: Vec<(u8, u32, u32, bool)> =
        core::iter::from_fn(|| rx.poll_event()).map(|d| (d.event, d.timestamp, d.duration, d.ended)).collect();
    assert_eq!(got, [(2, 900, 800, true), (3, 1700, 480, true)]);
    // Repeats of the same packet: nothing new, and no timeout pending.
    rx.handle_receive(at(110), 900, &payload).unwrap();
    assert_eq!((rx.poll_event(), rx.poll_timeout()), (None, None));
    assert_eq!(rx.handle_receive(at(120), 0, &[1, 2]), Err(DtmfError::BadLength));
    assert_eq!(rx.errors(), 1);
}

/// A packet of sixteen packed events, sent three times (as end reports are): each reported once.
#[test]
fn a_full_packet_repeated_is_reported_once() {
    let mut rx = DtmfReceiver::new(ms(250));
    let mut payload = Vec::new();
    for event in 0..MAX_EVENTS as u8 {
        TelephoneEvent { event, end: true, volume: 10, duration: 400 }.write(&mut payload);
    }
    let mut got = Vec::new();
    for i in 0..3 {
        rx.handle_receive(at(i * 20), 1000, &payload).unwrap();
        got.extend(core::iter::from_fn(|| rx.poll_event()).map(|d| (d.event, d.timestamp)));
    }
    let expected: Vec<(u8, u32)> = (0..MAX_EVENTS as u32).map(|e| (e as u8, 1000 + e * 400)).collect();
    assert_eq!(got, expected);
}
