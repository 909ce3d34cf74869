//! A connected peer connection under arbitrary input. Two peer connections with fixed seeds complete a
//! real handshake in memory (ICE, DTLS, SCTP, a data channel open), then the input is read as a program of
//! operations on the link and on both APIs: arbitrary datagrams into `a` (from the peer's address and from
//! strangers), `b`'s real datagrams delivered to `a` dropped, duplicated, reordered or with a byte flipped,
//! channels opened, messages sent and channels closed on either side, time moving on, ICE restarts, and
//! closes. Nothing may panic, and the states must stay consistent.
#![no_main]

use std::collections::VecDeque;

use libfuzzer_sys::fuzz_target;
use sansrtc::pc::{ChannelOptions, Config, ConnectionState, Event, PeerConnection, Reliability};
use sansrtc::{Datagram, Instant, Machine, PathMachine, SeededRng};

struct Link {
    a: PeerConnection,
    b: PeerConnection,
    /// Datagrams from `b` to `a`, held for the program to deliver or mangle.
    to_a: VecDeque<(std::net::SocketAddr, std::net::SocketAddr, Vec<u8>)>,
    now: Instant,
}

impl Link {
    /// Moves `a`'s output to `b` at once, and queues `b`'s for `a`; drains both sides' events, taking
    /// every message.
    fn drain(&mut self) {
        while let Some(t) = self.a.poll_transmit() {
            let (source, destination, contents) = (t.source, t.destination, t.contents.to_vec());
            let _ = self.b.handle_receive(self.now, Datagram { source, destination, contents: &contents });
        }
        while let Some(t) = self.b.poll_transmit() {
            if self.to_a.len() < 4096 {
                self.to_a.push_back((t.source, t.destination, t.contents.to_vec()));
            }
        }
        while self.a.poll_event().is_some() {}
        while self.b.poll_event().is_some() {}
    }

    fn deliver(&mut self, n: usize) {
        for _ in 0..n {
            let Some((source, destination, contents)) = self.to_a.pop_front() else { break };
            let _ = self.a.handle_receive(self.now, Datagram { source, destination, contents: &contents });
        }
    }

    fn tick(&mut self, ms: u64) {
        self.now = self.now + core::time::Duration::from_millis(ms);
        for pc in [&mut self.a, &mut self.b] {
            if pc.poll_timeout().is_some_and(|t| t <= self.now) {
                pc.handle_timeout(self.now);
            }
        }
    }
}

/// Two connected peer connections with a channel open on `a`, or `None` if the set-up failed (it does
/// not: the seeds are fixed).
fn connected() -> Option<(Link, sansrtc::pc::ChannelId)> {
    let now = Instant::ZERO;
    let mut a = PeerConnection::new(Config::default(), SeededRng::from_seed([1; 32]));
    let mut b = PeerConnection::new(Config::default(), SeededRng::from_seed([2; 32]));
    a.add_local_host(now, "10.0.0.1:5000".parse().ok()?).ok()?;
    b.add_local_host(now, "10.0.0.2:5000".parse().ok()?).ok()?;
    a.end_of_local_candidates(now);
    b.end_of_local_candidates(now);
    let chat = a.create_data_channel(now, ChannelOptions::new("chat")).ok()?;
    let offer = a.create_offer().ok()?;
    a.set_local_description(now, &offer).ok()?;
    b.set_remote_description(now, &offer).ok()?;
    let answer = b.create_answer().ok()?;
    b.set_local_description(now, &answer).ok()?;
    a.set_remote_description(now, &answer).ok()?;
    let mut link = Link { a, b, to_a: VecDeque::new(), now };
    for _ in 0..400 {
        link.drain();
        link.deliver(usize::MAX);
        link.drain();
        if link.a.connection_state() == ConnectionState::Connected
            && link.b.connection_state() == ConnectionState::Connected
            && link.a.channel_stream_id(chat).is_some()
        {
            return Some((link, chat));
        }
        link.tick(10);
    }
    None
}

fuzz_target!(|data: &[u8]| {
    let Some((mut link, chat)) = connected() else { return };
    let peer = "10.0.0.2:5000".parse().unwrap();
    let local = "10.0.0.1:5000".parse().unwrap();
    let stranger = "10.9.9.9:9".parse().unwrap();
    let mut b_channels = Vec::new();
    let mut input = data;
    while let Some((&op, rest)) = input.split_first() {
        input = rest;
        let arg = |input: &mut &[u8]| -> usize {
            let Some((&n, rest)) = input.split_first() else { return 0 };
            *input = rest;
            usize::from(n)
        };
        match op % 12 {
            0 | 1 => {
                // Raw bytes into `a`, from the peer (op 0) or a stranger (op 1).
                let n = arg(&mut input).min(input.len());
                let (bytes, rest) = input.split_at(n);
                input = rest;
                let source = if op % 12 == 0 { peer } else { stranger };
                let _ = link.a.handle_receive(link.now, Datagram { source, destination: local, contents: bytes });
            }
            2 => {
                let n = arg(&mut input) % 8 + 1;
                link.deliver(n);
            }
            3 => {
                link.to_a.pop_front();
            }
            4 => {
                if let Some(d) = link.to_a.front().cloned() {
                    link.to_a.push_back(d);
                }
            }
            5 => {
                // Flip a byte of the next datagram for `a`.
                let (i, x) = (arg(&mut input), arg(&mut input) as u8 | 1);
                if let Some((_, _, d)) = link.to_a.front_mut() {
                    if !d.is_empty() {
                        let k = i % d.len();
                        d[k] ^= x;
                    }
                }
            }
            6 => {
                link.to_a.rotate_left(usize::from(!link.to_a.is_empty()));
            }
            7 => {
                // A message from either side, of a size the input picks.
                let size = arg(&mut input) * 67;
                let body = vec![op; size];
                if arg(&mut input) % 2 == 0 {
                    let _ = link.a.send_binary(link.now, chat, &body);
                } else if let Some(&id) = b_channels.first() {
                    let _ = link.b.send_binary(link.now, id, &body);
                }
            }
            8 => {
                let mut options = ChannelOptions::new("fuzz");
                options.ordered = arg(&mut input) % 2 == 0;
                options.reliability = match arg(&mut input) % 3 {
                    0 => Reliability::Reliable,
                    1 => Reliability::MaxRetransmits(0),
                    _ => Reliability::MaxLifetime(core::time::Duration::from_millis(100)),
                };
                if arg(&mut input) % 4 == 0 {
                    options.negotiated = Some(arg(&mut input) as u16);
                }
                if let Ok(id) = link.b.create_data_channel(link.now, options) {
                    b_channels.push(id);
                }
            }
            9 => {
                if let Some(id) = b_channels.pop() {
                    let _ = link.b.close_channel(link.now, id);
                } else {
                    let _ = link.a.close_channel(link.now, chat);
                }
            }
            10 => link.tick(arg(&mut input) as u64 * 20 + 1),
            _ => match arg(&mut input) % 8 {
                0 => link.a.restart_ice(link.now),
                1 => link.b.close(link.now),
                2 => link.a.close(link.now),
                _ => {}
            },
        }
        link.drain();
        // The states agree with the events just drained: a closed connection stays closed.
        if link.a.connection_state() == ConnectionState::Closed {
            assert!(link.a.send_text(link.now, chat, "x").is_err());
        }
        while let Some(e) = link.a.poll_event() {
            if let Event::Message { data, .. } = e {
                assert!(data.len() <= 262_144);
            }
        }
    }
    link.a.close(link.now);
    while link.a.poll_transmit().is_some() {}
});
