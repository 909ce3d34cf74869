//! SCTP throughput: two sansrtc associations in memory moving 64 KiB and 1 KiB messages on one ordered,
//! reliable stream, next to the same transfer between two sctp-proto associations, in the same run.
//!
//! One iteration moves a 4 MiB batch of messages from one side to the other and waits until the receiver
//! has every message; packets go straight from one side to the other (no loss, no delay). Both senders are
//! fed the same way, like an application watching its buffered amount: a message is queued whenever less
//! than `QUEUED` bytes are waiting.

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sansrtc::sctp::{Association, Config, Event, SendOptions};
use sansrtc::{DatagramMachine, Instant, Machine, SeededRng};
use sansrtc_interop::bench::{compare, measure, quick};
use sctp_proto::{
    AssociationHandle, ClientConfig, DatagramEvent, Endpoint, EndpointConfig, Payload, PayloadProtocolIdentifier,
    ServerConfig, StreamEvent, TransportConfig,
};

const BATCH: usize = 4 * 1024 * 1024;
/// Bytes an application keeps queued on the sender.
const QUEUED: usize = 1024 * 1024;

struct Ours {
    a: Association,
    b: Association,
    now: Instant,
}

impl Ours {
    fn new() -> Self {
        let config = Config::default();
        let mut s = Ours {
            a: Association::new(config, SeededRng::from_seed([1; 32])),
            b: Association::new(config, SeededRng::from_seed([2; 32])),
            now: Instant::from_secs(1),
        };
        s.a.connect(s.now);
        for _ in 0..10 {
            s.exchange();
        }
        assert!(s.a.is_established() && s.b.is_established());
        while s.b.poll_event().is_some() {}
        while s.a.poll_event().is_some() {}
        s
    }

    fn exchange(&mut self) -> bool {
        let now = self.now;
        let mut moved = false;
        while let Some(p) = self.a.poll_transmit() {
            let _ = self.b.handle_receive(now, p);
            moved = true;
        }
        while let Some(p) = self.b.poll_transmit() {
            let _ = self.a.handle_receive(now, p);
            moved = true;
        }
        moved
    }

    /// Sends `count` messages of `msg` and returns the bytes the receiver got.
    fn transfer(&mut self, msg: &Bytes, count: usize) -> usize {
        let (mut sent, mut got, mut bytes) = (0, 0, 0);
        while got < count {
            while sent < count && self.a.buffered_total() < QUEUED {
                let now = self.now;
                self.a.send(now, 0, 53, msg.clone(), SendOptions::default()).expect("send");
                sent += 1;
            }
            let moved = self.exchange();
            while let Some(e) = self.b.poll_event() {
                if let Event::Message(m) = e {
                    got += 1;
                    bytes += m.data.len();
                }
            }
            if !moved {
                self.now += Duration::from_millis(10);
                let now = self.now;
                self.a.handle_timeout(now);
                self.b.handle_timeout(now);
            }
        }
        // Let the final SACKs through so the next batch starts from an empty flight.
        while self.a.buffered_total() > 0 {
            if !self.exchange() {
                self.now += Duration::from_millis(200);
                let now = self.now;
                self.a.handle_timeout(now);
                self.b.handle_timeout(now);
            }
        }
        bytes
    }
}

struct Theirs {
    ep_a: Endpoint,
    ep_b: Endpoint,
    a: (AssociationHandle, sctp_proto::Association),
    b: Option<(AssociationHandle, sctp_proto::Association)>,
    now: std::time::Instant,
    addr: SocketAddr,
    buf: Vec<u8>,
}

fn transport() -> Arc<TransportConfig> {
    Arc::new(
        TransportConfig::default()
            .with_max_receive_buffer_size(1024 * 1024)
            .with_max_send_message_size(256 * 1024)
            .with_max_receive_message_size(256 * 1024),
    )
}

impl Theirs {
    fn new() -> Self {
        let addr: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 5000));
        let mut server = ServerConfig::new();
        server.transport = transport();
        let mut client = ClientConfig::new();
        client.transport = transport();
        let mut ep_a = Endpoint::new(Arc::new(EndpointConfig::default()), None);
        let ep_b = Endpoint::new(Arc::new(EndpointConfig::default()), Some(Arc::new(server)));
        let a = ep_a.connect(client, addr).expect("connect");
        let mut t = Theirs { ep_a, ep_b, a, b: None, now: std::time::Instant::now(), addr, buf: vec![0; 300 * 1024] };
        for _ in 0..10 {
            t.exchange();
        }
        let (_, a) = &mut t.a;
        a.open_stream(0, PayloadProtocolIdentifier::Binary).expect("open stream");
        t.exchange();
        t
    }

    fn exchange(&mut self) -> bool {
        let now = self.now;
        let mut moved = false;
        let mut to_b = Vec::new();
        while let Some(t) = self.ep_a.poll_transmit() {
            if let Payload::RawEncode(v) = t.payload {
                to_b.extend(v);
            }
        }
        {
            let (h, a) = &mut self.a;
            while let Some(ev) = a.poll_endpoint_event() {
                if let Some(back) = self.ep_a.handle_event(*h, ev) {
                    a.handle_event(back);
                }
            }
            while let Some(t) = a.poll_transmit(now) {
                if let Payload::RawEncode(v) = t.payload {
                    to_b.extend(v);
                }
            }
        }
        for p in to_b {
            moved = true;
            match self.ep_b.handle(now, self.addr, None, None, p) {
                Some((h, DatagramEvent::NewAssociation(b))) => self.b = Some((h, b)),
                Some((_, DatagramEvent::AssociationEvent(ev))) => {
                    if let Some((_, b)) = self.b.as_mut() {
                        b.handle_event(ev);
                    }
                }
                None => {}
            }
        }
        let mut to_a = Vec::new();
        if let Some((h, b)) = self.b.as_mut() {
            while let Some(ev) = b.poll_endpoint_event() {
                if let Some(back) = self.ep_b.handle_event(*h, ev) {
                    b.handle_event(back);
                }
            }
            while let Some(t) = b.poll_transmit(now) {
                if let Payload::RawEncode(v) = t.payload {
                    to_a.extend(v);
                }
            }
        }
        for p in to_a {
            moved = true;
            if let Some((_, DatagramEvent::AssociationEvent(ev))) = self.ep_a.handle(now, self.addr, None, None, p) {
                self.a.1.handle_event(ev);
            }
        }
        while self.a.1.poll().is_some() {}
        moved
    }

    fn read(&mut self) -> (usize, usize) {
        let (mut n, mut bytes) = (0, 0);
        let Some((_, b)) = self.b.as_mut() else { return (0, 0) };
        let mut readable = false;
        while let Some(e) = b.poll() {
            if matches!(e, sctp_proto::Event::Stream(StreamEvent::Readable { .. } | StreamEvent::Opened { .. })) {
                readable = true;
            }
        }
        while b.accept_stream().is_some() {
            readable = true;
        }
        if readable {
            if let Ok(mut s) = b.stream(0) {
                while let Ok(Some(chunks)) = s.read_sctp() {
                    bytes += chunks.read(&mut self.buf).unwrap_or(0);
                    n += 1;
                }
            }
        }
        (n, bytes)
    }

    fn transfer(&mut self, msg: &Bytes, count: usize) -> usize {
        let (mut sent, mut got, mut bytes) = (0, 0, 0);
        while got < count {
            {
                let (_, a) = &mut self.a;
                let mut s = a.stream(0).expect("stream");
                while sent < count && s.buffered_amount().unwrap_or(0) < QUEUED {
                    s.write_sctp(msg, PayloadProtocolIdentifier::Binary).expect("write");
                    sent += 1;
                }
            }
            let moved = self.exchange();
            let (n, b) = self.read();
            got += n;
            bytes += b;
            if !moved && n == 0 {
                self.now += Duration::from_millis(10);
                let now = self.now;
                self.a.1.handle_timeout(now);
                if let Some((_, b)) = self.b.as_mut() {
                    b.handle_timeout(now);
                }
            }
        }
        for _ in 0..1000 {
            if !self.exchange() {
                break;
            }
            let _ = self.read();
        }
        bytes
    }
}

fn main() {
    let mut ratios = Vec::new();
    for size in [64 * 1024, 1024] {
        let count = if quick() { BATCH / size / 8 } else { BATCH / size };
        let msg = Bytes::from(vec![0x5a; size]);
        let mut ours = Ours::new();
        let mut theirs = Theirs::new();
        // Warm up both (buffers, congestion windows).
        assert_eq!(ours.transfer(&msg, count), size * count);
        assert_eq!(theirs.transfer(&msg, count), size * count);
        let m_ours = measure(|| black_box(ours.transfer(&msg, count)));
        let m_theirs = measure(|| black_box(theirs.transfer(&msg, count)));
        let name = format!("sctp/transfer {} KiB msgs", size / 1024);
        let ratio = compare(&name, m_ours, "sctp-proto", m_theirs);
        let bytes = size * count;
        println!(
            "{:<34} sansrtc {:>8.0} MB/s {:>10.0} msg/s   sctp-proto {:>8.0} MB/s {:>10.0} msg/s",
            "",
            m_ours.mb_per_s(bytes),
            m_ours.per_second() * count as f64,
            m_theirs.mb_per_s(bytes),
            m_theirs.per_second() * count as f64,
        );
        ratios.push(ratio);
    }
    let _ = ratios;
}
