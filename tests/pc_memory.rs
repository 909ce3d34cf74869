//! Memory held by an idle, connected peer connection (issue 8 asks for less than 16 KiB with a data
//! channel, less than 24 KiB with an audio and a video transceiver), measured with a counting global
//! allocator: two connections are set up in one process, connected through a data channel (or with an
//! audio and a video transceiver), left idle, and the bytes still allocated are divided between them.

use std::alloc::System;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

use sansrtc::dtls::Versions;
use sansrtc::pc::{Config, Event, PeerConnection};
use sansrtc::{Instant, Machine, SeededRng};

#[path = "support/pc_pair.rs"]
mod pc_pair;
use pc_pair::pump;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Issue 8's figures were set on DTLS 1.2, which the measurements below keep (a connection holds every
/// DTLS 1.3 traffic key and the handshake's state inline besides): DTLS 1.3, the default, is measured on
/// its own.
fn config(versions: Versions) -> Config {
    Config { dtls_versions: versions, ..Config::default() }
}

#[test]
fn idle_connected_peer_connection_memory() {
    let dtls12 = idle_data_pair(Versions::Dtls12);
    let dtls13 = idle_data_pair(Versions::DEFAULT);
    // Issue 8 asks for less than 16 KiB. With DTLS 1.3, the default, 13.0 KiB; with DTLS 1.2, 11.0 KiB
    // (16.0 to 16.5 KiB with 1.2 before; about 29 KiB with 1.3 before its keys were boxed and its
    // handshake state dropped):
    // - the connection's own structure, 5.2 KiB: ICE 2.4 KiB, DTLS 1.1 KiB, the configuration 0.7 KiB,
    //   signalling 0.4 KiB (the mDNS state, 0.55 KiB more when it was inline, is made on the first
    //   `.local` name);
    // - DTLS 1.3 4 KiB: its state (0.8 KiB) and, per direction, an AES-128-GCM key with its record
    //   number key (1.5 KiB); epoch 2's keys go once the handshake is over (at the client when the
    //   server acknowledges its last flight). DTLS 1.2 holds an AES-128-GCM key per direction (0.85 KiB);
    // - the data channel layer with its SCTP association 1.9 KiB; ICE's candidates, pair and
    //   credentials 0.6 KiB; the two descriptions kept for the W3C getters 0.65 KiB; the certificate
    //   0.45 KiB (shared between the connections made with one certificate); the peer's certificate,
    //   kept for statistics, 0.3 KiB.
    // Packet buffers and queues are given back on the timers after a second without traffic above ICE
    // (keepalives do not count); receiving does not trim, so that answering a keepalive allocates
    // nothing (tests/router_reap.rs). tests/pc_rss.rs measures the resident set.
    assert!(dtls13 < 14 * 1024 + 512, "DTLS 1.3: {dtls13} bytes");
    assert!(dtls12 < 12 * 1024, "DTLS 1.2: {dtls12} bytes");
    idle_connected_peer_connection_with_audio_and_video_memory();
}

/// Two connections speaking `versions`, a data channel open, 1 MiB each way, then idle for 20 s: the live
/// heap per connection (the connections still work after it).
fn idle_data_pair(versions: Versions) -> isize {
    let region = Region::new(GLOBAL);
    let mut a = Box::new(PeerConnection::new(config(versions), SeededRng::from_seed([1; 32])));
    let mut b = Box::new(PeerConnection::new(config(versions), SeededRng::from_seed([2; 32])));
    let mut now = Instant::ZERO;
    let chat = pc_pair::negotiate(now, &mut a, &mut b);
    let (mut open, mut remote) = (false, None);
    let (mut sent, mut got_a, mut got_b) = (false, 0usize, 0usize);
    for _ in 0..10_000 {
        let moved = pump(now, &mut a, &mut b) | pump(now, &mut b, &mut a);
        while let Some(e) = a.poll_event() {
            open |= e == Event::ChannelOpen(chat);
            if let Event::Message { data, .. } = e {
                got_a += data.len();
            }
        }
        while let Some(e) = b.poll_event() {
            match e {
                Event::DataChannel { id, .. } => remote = Some(id),
                Event::Message { data, .. } => got_b += data.len(),
                _ => {}
            }
        }
        // Once open, 1 MiB each way (bursts grow every queue and buffer), then idle.
        if let (true, Some(remote), false) = (open, remote, sent) {
            for n in 0..64u8 {
                a.send(now, chat, vec![n; 16 * 1024].into(), true).unwrap();
                b.send(now, remote, vec![n; 16 * 1024].into(), true).unwrap();
            }
            sent = true;
            continue;
        }
        if sent && !moved && got_a == 1 << 20 && got_b == 1 << 20 {
            break;
        }
        if !moved {
            let next = [a.poll_timeout(), b.poll_timeout()].into_iter().flatten().min().unwrap();
            now = next.max(now);
            a.handle_timeout(now);
            b.handle_timeout(now);
        }
    }
    assert!(open && got_a == 1 << 20 && got_b == 1 << 20, "connected and 1 MiB each way");
    // Idle for a while (keepalives, consent, heartbeats run), then measure.
    let end = now + core::time::Duration::from_secs(20);
    while now < end {
        pump(now, &mut a, &mut b);
        pump(now, &mut b, &mut a);
        while a.poll_event().is_some() {}
        while b.poll_event().is_some() {}
        now = [a.poll_timeout(), b.poll_timeout()].into_iter().flatten().min().unwrap().max(now);
        a.handle_timeout(now);
        b.handle_timeout(now);
    }
    let stats = region.change();
    // `bytes_allocated` and `bytes_deallocated` already count what reallocations grew and shrank
    // (`bytes_reallocated` is their net, not to be added again).
    let per_connection = (stats.bytes_allocated as isize - stats.bytes_deallocated as isize) / 2;
    println!("live heap per idle connected peer connection ({versions:?}): {per_connection} bytes");
    // The idle connections gave back their buffers; they still work.
    a.send(now, chat, vec![7; 100_000].into(), true).unwrap();
    let mut echoed = false;
    for _ in 0..1000 {
        pump(now, &mut a, &mut b);
        pump(now, &mut b, &mut a);
        while let Some(e) = b.poll_event() {
            echoed |=
                matches!(e, Event::Message { ref data, .. } if data.len() == 100_000 && data.iter().all(|&x| x == 7));
        }
        if echoed {
            break;
        }
        now += core::time::Duration::from_millis(10);
        a.handle_timeout(now);
        b.handle_timeout(now);
    }
    assert!(echoed, "a message after the idle period arrived");
    drop((a, b));
    per_connection
}

/// Two connections with an audio and a video transceiver each (no data channel), connected; with
/// `media` they first send two seconds of audio and video both ways (so each has its SRTP and RTP
/// sessions), then everything idles for 20 s. Returns the live heap per connection.
fn idle_media_pair(media: bool) -> isize {
    use sansrtc::pc::{ConnectionState, Direction, MediaKind, OutgoingRtp, TransceiverInit};
    let region = Region::new(GLOBAL);
    let mut a = Box::new(PeerConnection::new(config(Versions::Dtls12), SeededRng::from_seed([3; 32])));
    let mut b = Box::new(PeerConnection::new(config(Versions::Dtls12), SeededRng::from_seed([4; 32])));
    let mut now = Instant::ZERO;
    a.add_local_host(now, "10.0.0.1:5000".parse().unwrap()).unwrap();
    b.add_local_host(now, "10.0.0.2:5000".parse().unwrap()).unwrap();
    a.end_of_local_candidates(now);
    b.end_of_local_candidates(now);
    a.add_transceiver(now, MediaKind::Audio, TransceiverInit::default()).unwrap();
    a.add_transceiver(now, MediaKind::Video, TransceiverInit::default()).unwrap();
    let offer = a.create_offer().unwrap();
    a.set_local_description(now, &offer).unwrap();
    b.set_remote_description(now, &offer).unwrap();
    let ids: Vec<_> = b.transceivers().map(|t| t.id()).collect();
    for id in ids {
        b.set_direction(now, id, Direction::SendRecv).unwrap();
    }
    let answer = b.create_answer().unwrap();
    b.set_local_description(now, &answer).unwrap();
    a.set_remote_description(now, &answer).unwrap();
    drop((offer, answer));
    for _ in 0..10_000 {
        let moved = pump(now, &mut a, &mut b) | pump(now, &mut b, &mut a);
        while a.poll_event().is_some() {}
        while b.poll_event().is_some() {}
        let up = [&a, &b].iter().all(|pc| pc.connection_state() == ConnectionState::Connected);
        if up && !moved {
            break;
        }
        if !moved {
            now = [a.poll_timeout(), b.poll_timeout()].into_iter().flatten().min().unwrap().max(now);
            a.handle_timeout(now);
            b.handle_timeout(now);
        }
    }
    assert_eq!(a.connection_state(), ConnectionState::Connected);
    let mut received = 0;
    if media {
        for i in 0..100u32 {
            for pc in [&mut a, &mut b] {
                pc.write_rtp(now, "0", &OutgoingRtp::new(111, i * 960, &[1; 100])).unwrap();
                pc.write_rtp(now, "1", &OutgoingRtp::new(96, i * 3000, &[2; 1000])).unwrap();
            }
            let end = now + core::time::Duration::from_millis(20);
            while now < end {
                pump(now, &mut a, &mut b);
                pump(now, &mut b, &mut a);
                for pc in [&mut a, &mut b] {
                    while let Some(e) = pc.poll_event() {
                        received += usize::from(matches!(e, Event::Rtp(_)));
                    }
                }
                now = [a.poll_timeout(), b.poll_timeout(), Some(end)].into_iter().flatten().min().unwrap().max(now);
                a.handle_timeout(now);
                b.handle_timeout(now);
            }
        }
        assert_eq!(received, 400, "media flowed both ways");
    }
    let end = now + core::time::Duration::from_secs(20);
    while now < end {
        pump(now, &mut a, &mut b);
        pump(now, &mut b, &mut a);
        while a.poll_event().is_some() {}
        while b.poll_event().is_some() {}
        now = [a.poll_timeout(), b.poll_timeout()].into_iter().flatten().min().unwrap().max(now);
        a.handle_timeout(now);
        b.handle_timeout(now);
    }
    assert_eq!(a.rtp_session().is_some(), media, "the RTP session is made by the first media packet");
    let stats = region.change();
    (stats.bytes_allocated as isize - stats.bytes_deallocated as isize) / 2
}

/// Called by the test above: the allocator's counters are global, so the measurements run one after the
/// other in one test.
fn idle_connected_peer_connection_with_audio_and_video_memory() {
    let negotiated = idle_media_pair(false);
    println!("live heap per idle connected peer connection with audio and video negotiated: {negotiated} bytes");
    let after_media = idle_media_pair(true);
    println!("the same after two seconds of media both ways: {after_media} bytes");
    // Issue 8 asks for less than 24 KiB. The media layers add nothing until media flows (the SRTP and RTP
    // sessions are made by the first packet, and boxed), nor does the data channel layer, made only for a
    // data channel section. 19.9 KiB with DTLS 1.3 (17.7 KiB with 1.2): the connection's structure, its
    // DTLS keys, the transceivers (616 octets each, with their local and remote sections and negotiated
    // codecs), and the two descriptions kept for the W3C getters (1.3 KiB, held compactly; 6.4 KiB as
    // text).
    assert!(negotiated < 24 * 1024, "{negotiated} bytes");
    // Once media has flowed the RTP session holds its bounded tables (retransmission histories of up to
    // 1 MiB per video stream, NACK windows, transport-wide CC histories).
    assert!(after_media > negotiated && after_media < 2 * 1024 * 1024, "{after_media} bytes");
}
