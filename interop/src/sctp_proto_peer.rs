//! An `sctp-proto` association behind sansrtc's [`DatagramMachine`] shape, so the same in-memory link can
//! join a sansrtc association to an sctp-proto one.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use sansrtc::{DatagramMachine, Instant, Machine, StdAnchor};
use sctp_proto::{
    Association, AssociationHandle, ClientConfig, DatagramEvent, Endpoint, EndpointConfig, Event, Payload,
    PayloadProtocolIdentifier, ReliabilityType, ServerConfig, StreamEvent, TransportConfig,
};

/// What the wrapped sctp-proto association reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProtoEvent {
    /// Established.
    Connected,
    /// A message.
    Message {
        /// Stream.
        stream: u16,
        /// PPID.
        ppid: u32,
        /// Contents.
        data: Bytes,
    },
    /// The association was lost or closed.
    Closed,
    /// A stream was reset (by either side).
    StreamReset(u16),
}

/// One sctp-proto endpoint with at most one association.
pub struct ProtoPeer {
    endpoint: Endpoint,
    assoc: Option<(AssociationHandle, Association)>,
    remote: SocketAddr,
    anchor: StdAnchor,
    now: Instant,
    out: VecDeque<Bytes>,
    current: Bytes,
    events: VecDeque<ProtoEvent>,
    buf: Vec<u8>,
}

fn transport(receive_window: u32) -> Arc<TransportConfig> {
    Arc::new(
        TransportConfig::default()
            .with_max_receive_buffer_size(receive_window)
            .with_max_send_message_size(256 * 1024)
            .with_max_receive_message_size(256 * 1024),
    )
}

impl ProtoPeer {
    fn base(server: bool, receive_window: u32) -> Self {
        let server_config = server.then(|| {
            let mut c = ServerConfig::new();
            c.transport = transport(receive_window);
            Arc::new(c)
        });
        ProtoPeer {
            endpoint: Endpoint::new(Arc::new(EndpointConfig::default()), server_config),
            assoc: None,
            remote: "127.0.0.1:5000".parse().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 5000))),
            anchor: StdAnchor::starting_now(),
            now: Instant::ZERO,
            out: VecDeque::new(),
            current: Bytes::new(),
            events: VecDeque::new(),
            buf: vec![0; 300 * 1024],
        }
    }

    /// A side that waits for an INIT.
    pub fn server(receive_window: u32) -> Self {
        Self::base(true, receive_window)
    }

    /// A side that sends INIT at `now`.
    pub fn client(now: Instant, receive_window: u32) -> Self {
        let mut p = Self::base(false, receive_window);
        p.now = now;
        let mut config = ClientConfig::new();
        config.transport = transport(receive_window);
        if let Ok((h, a)) = p.endpoint.connect(config, p.remote) {
            p.assoc = Some((h, a));
        }
        p.drive();
        p
    }

    fn std_now(&self) -> std::time::Instant {
        self.anchor.to_std(self.now).unwrap_or_else(std::time::Instant::now)
    }

    /// Sends a message on `stream` (opening it if needed) with the given reliability.
    pub fn send(&mut self, stream: u16, ppid: u32, data: &Bytes, unordered: bool, rexmit: Option<u32>) -> bool {
        let Some((_, a)) = self.assoc.as_mut() else { return false };
        let ppi = PayloadProtocolIdentifier::from(ppid);
        let s = match a.stream(stream) {
            Ok(s) => s,
            Err(_) => match a.open_stream(stream, ppi) {
                Ok(s) => s,
                Err(_) => return false,
            },
        };
        let mut s = s;
        let (t, v) = match rexmit {
            Some(n) => (ReliabilityType::Rexmit, n),
            None => (ReliabilityType::Reliable, 0),
        };
        let _ = s.set_reliability_params(unordered, t, v);
        let ok = s.write_sctp(data, ppi).is_ok();
        self.drive();
        ok
    }

    /// Bytes queued and not yet acknowledged on `stream`.
    pub fn buffered(&mut self, stream: u16) -> usize {
        self.assoc.as_mut().and_then(|(_, a)| a.stream(stream).ok()).and_then(|s| s.buffered_amount().ok()).unwrap_or(0)
    }

    /// Whether the association is up.
    pub fn is_established(&self) -> bool {
        self.assoc.as_ref().is_some_and(|(_, a)| !a.is_handshaking() && !a.is_closed())
    }

    /// Closes (resets) a stream.
    pub fn close_stream(&mut self, stream: u16) -> bool {
        let ok = self.assoc.as_mut().and_then(|(_, a)| a.stream(stream).ok()).is_some_and(|mut s| s.close().is_ok());
        self.drive();
        ok
    }

    /// Starts a graceful shutdown.
    pub fn shutdown(&mut self) {
        if let Some((_, a)) = self.assoc.as_mut() {
            let _ = a.shutdown();
        }
        self.drive();
    }

    /// Aborts.
    pub fn close(&mut self) {
        if let Some((_, a)) = self.assoc.as_mut() {
            let _ = a.close();
        }
        self.drive();
    }

    fn drive(&mut self) {
        let now = self.std_now();
        while let Some(t) = self.endpoint.poll_transmit() {
            if let Payload::RawEncode(v) = t.payload {
                self.out.extend(v);
            }
        }
        let Some((h, a)) = self.assoc.as_mut() else { return };
        while let Some(ev) = a.poll_endpoint_event() {
            if let Some(back) = self.endpoint.handle_event(*h, ev) {
                a.handle_event(back);
            }
        }
        while let Some(t) = a.poll_transmit(now) {
            if let Payload::RawEncode(v) = t.payload {
                self.out.extend(v);
            }
        }
        while let Some(e) = a.poll() {
            match e {
                Event::Connected => self.events.push_back(ProtoEvent::Connected),
                Event::AssociationLost { .. } | Event::HandshakeFailed { .. } => {
                    self.events.push_back(ProtoEvent::Closed)
                }
                Event::Stream(StreamEvent::Finished { id }) | Event::Stream(StreamEvent::ResetComplete { id }) => {
                    self.events.push_back(ProtoEvent::StreamReset(id))
                }
                Event::Stream(StreamEvent::Readable { id }) | Event::Stream(StreamEvent::Opened { id }) => {
                    let Ok(mut s) = a.stream(id) else { continue };
                    while let Ok(Some(chunks)) = s.read_sctp() {
                        let n = chunks.read(&mut self.buf).unwrap_or(0);
                        self.events.push_back(ProtoEvent::Message {
                            stream: id,
                            ppid: chunks.ppi as u32,
                            data: Bytes::copy_from_slice(&self.buf[..n]),
                        });
                    }
                }
                _ => {}
            }
        }
        // Streams opened by the peer.
        while let Some(mut s) = a.accept_stream() {
            let id = s.stream_identifier();
            while let Ok(Some(chunks)) = s.read_sctp() {
                let n = chunks.read(&mut self.buf).unwrap_or(0);
                self.events.push_back(ProtoEvent::Message {
                    stream: id,
                    ppid: chunks.ppi as u32,
                    data: Bytes::copy_from_slice(&self.buf[..n]),
                });
            }
        }
        while let Some(t) = a.poll_transmit(now) {
            if let Payload::RawEncode(v) = t.payload {
                self.out.extend(v);
            }
        }
    }
}

impl Machine for ProtoPeer {
    type Event = ProtoEvent;

    fn handle_timeout(&mut self, now: Instant) {
        self.now = self.now.max(now);
        let t = self.std_now();
        if let Some((_, a)) = self.assoc.as_mut() {
            a.handle_timeout(t);
        }
        self.drive();
    }

    fn poll_event(&mut self) -> Option<ProtoEvent> {
        self.drive();
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let (_, a) = self.assoc.as_ref()?;
        a.poll_timeout().map(|t| self.anchor.to_instant(t))
    }
}

impl DatagramMachine for ProtoPeer {
    type Error = ();

    fn handle_receive(&mut self, now: Instant, datagram: &[u8]) -> Result<(), ()> {
        self.now = self.now.max(now);
        let t = self.std_now();
        let data = Bytes::copy_from_slice(datagram);
        match self.endpoint.handle(t, self.remote, None, None, data) {
            Some((h, DatagramEvent::NewAssociation(a))) => self.assoc = Some((h, a)),
            Some((_, DatagramEvent::AssociationEvent(ev))) => {
                if let Some((_, a)) = self.assoc.as_mut() {
                    a.handle_event(ev);
                }
            }
            None => {}
        }
        self.drive();
        Ok(())
    }

    fn poll_transmit(&mut self) -> Option<&[u8]> {
        if self.out.is_empty() {
            self.drive();
        }
        self.current = self.out.pop_front()?;
        Some(&self.current)
    }
}
