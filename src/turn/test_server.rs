//! A minimal TURN server for tests only: long-term credentials with nonces, Allocate, Refresh,
//! CreatePermission, ChannelBind, Send/Data indications and ChannelData relaying, with expiry checked on
//! use. It records when each permission and channel was refreshed so tests can check the client's timing.

use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::net::{IpAddr, SocketAddr};
use core::time::Duration;

use super::wire::{ChannelData, emit_channel_data, is_channel_data};
use crate::machine::{Datagram, Machine, PathMachine, Transmit};
use crate::stun::{Attribute, AttributeType, Class, ErrorCode, Key, Message, MessageBuilder, MessageType, Method};
use crate::time::Instant;

#[derive(Debug, Clone)]
pub(crate) struct Allocation {
    pub client: SocketAddr,
    pub relay: SocketAddr,
    pub expires: Instant,
    /// (peer ip, expires, last refreshed).
    pub permissions: Vec<(IpAddr, Instant, Instant)>,
    /// (channel, peer, expires, last refreshed).
    pub channels: Vec<(u16, SocketAddr, Instant, Instant)>,
    /// The Allocate transaction that made it, to answer its retransmissions (RFC 8656 §7.2 note).
    pub transaction: crate::stun::TransactionId,
    pub lifetime: u32,
}

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ServerStats {
    pub allocations: u32,
    pub refreshes: u32,
    pub permission_requests: u32,
    pub channel_requests: u32,
    pub relayed_to_peer: u32,
    pub relayed_to_client: u32,
    pub expired_drops: u32,
    pub longest_permission_gap: Duration,
    pub longest_channel_gap: Duration,
    pub longest_allocation_gap: Duration,
}

#[derive(Debug)]
pub(crate) struct TestServer {
    pub addr: SocketAddr,
    pub realm: String,
    pub user: String,
    pub pass: String,
    pub nonce: String,
    nonces: u32,
    next_port: u16,
    pub allocations: Vec<Allocation>,
    /// Error code answered to the next Allocate (403, 486, 508 …).
    pub fail_allocate: Option<u16>,
    pub stats: ServerStats,
    last_refresh: Vec<(SocketAddr, Instant)>,
    out: VecDeque<(SocketAddr, SocketAddr, Vec<u8>)>,
    current: Vec<u8>,
    now: Instant,
}

impl TestServer {
    pub(crate) fn new(addr: SocketAddr, user: &str, pass: &str) -> Self {
        TestServer {
            addr,
            realm: String::from("sansrtc.test"),
            user: String::from(user),
            pass: String::from(pass),
            nonce: String::from("nonce-0"),
            nonces: 0,
            next_port: 49152,
            allocations: Vec::new(),
            fail_allocate: None,
            stats: ServerStats::default(),
            last_refresh: Vec::new(),
            out: VecDeque::new(),
            current: Vec::new(),
            now: Instant::ZERO,
        }
    }

    /// The server restarts: every allocation and the nonce are lost.
    pub(crate) fn restart(&mut self) {
        self.allocations.clear();
        self.new_nonce();
    }

    pub(crate) fn new_nonce(&mut self) {
        self.nonces += 1;
        self.nonce = format!("nonce-{}", self.nonces);
    }

    fn key(&self) -> Key {
        Key::long_term(&self.user, &self.realm, &self.pass)
    }

    fn answer(&mut self, to: SocketAddr, req: &Message<&[u8]>, code: Option<u16>, attrs: &[Attribute<'_>], sign: bool) {
        let mut buf = Vec::new();
        let class = if code.is_some() { Class::Error } else { Class::Success };
        let key = self.key();
        let realm = self.realm.clone();
        let nonce = self.nonce.clone();
        let r: Result<(), crate::stun::Error> = (|| {
            let mut b = MessageBuilder::response(&mut buf, req, class)?;
            if let Some(code) = code {
                b.add(Attribute::ErrorCode(ErrorCode { code, reason: "test" }))?;
                if code == 401 || code == 438 {
                    b.add(Attribute::Realm(&realm))?;
                    b.add(Attribute::Nonce(&nonce))?;
                }
            }
            for a in attrs {
                b.add(*a)?;
            }
            if sign {
                b.message_integrity(&key)?;
            }
            b.fingerprint()?;
            b.finish();
            Ok(())
        })();
        if r.is_ok() {
            self.out.push_back((self.addr, to, buf));
        }
    }

    fn alloc_index(&self, client: SocketAddr) -> Option<usize> {
        self.allocations.iter().position(|a| a.client == client && a.expires > self.now)
    }

    fn on_client(&mut self, from: SocketAddr, bytes: &[u8]) -> Result<(), ()> {
        let now = self.now;
        if is_channel_data(bytes) {
            let cd = ChannelData::new_checked(bytes).map_err(|_| ())?;
            let i = self.alloc_index(from).ok_or(())?;
            let a = &self.allocations[i];
            let (_, peer, exp, _) = *a.channels.iter().find(|c| c.0 == cd.channel()).ok_or(())?;
            if exp <= now {
                self.stats.expired_drops += 1;
                return Err(());
            }
            let relay = a.relay;
            self.relay_out(relay, peer, cd.data());
            return Ok(());
        }
        let msg = Message::new_checked(bytes).map_err(|_| ())?;
        if msg.class() == Class::Indication && msg.method() == Method::SEND {
            let i = self.alloc_index(from).ok_or(())?;
            let (Some(Attribute::XorPeerAddress(peer)), Some(Attribute::Data(data))) =
                (msg.attribute(AttributeType::XOR_PEER_ADDRESS), msg.attribute(AttributeType::DATA))
            else {
                return Err(());
            };
            let a = &self.allocations[i];
            if !a.permissions.iter().any(|p| p.0 == peer.ip() && p.1 > now) {
                self.stats.expired_drops += 1;
                return Err(());
            }
            let relay = a.relay;
            self.relay_out(relay, peer, data);
            return Ok(());
        }
        if msg.class() != Class::Request {
            return Err(());
        }
        if msg.method() == Method::BINDING {
            // A plain STUN server too, without authentication (server-reflexive gathering).
            self.answer(from, &msg, None, &[Attribute::XorMappedAddress(from)], false);
            return Ok(());
        }
        // Long-term credentials (RFC 8489 §9.2.4).
        if !msg.has_integrity() {
            self.answer(from, &msg, Some(401), &[], false);
            return Ok(());
        }
        if msg.verify_integrity(&self.key()).is_err() || msg.username() != Some(self.user.as_str()) {
            self.answer(from, &msg, Some(401), &[], false);
            return Ok(());
        }
        let nonce_ok = matches!(msg.attribute(AttributeType::NONCE), Some(Attribute::Nonce(n)) if n == self.nonce);
        if !nonce_ok {
            self.answer(from, &msg, Some(438), &[], false);
            return Ok(());
        }
        let lifetime = match msg.attribute(AttributeType::LIFETIME) {
            Some(Attribute::Lifetime(s)) => s.min(3600),
            _ => 600,
        };
        let index = self.alloc_index(from);
        match msg.method() {
            Method::ALLOCATE => {
                if let Some(i) = index {
                    // A retransmission of the request that made it (its answer was lost) is answered
                    // again, as the "stateless stack approach" of RFC 8656 §7.2 does; anything else is 437.
                    let a = &self.allocations[i];
                    if a.transaction == msg.transaction_id() {
                        let attrs = [
                            Attribute::XorRelayedAddress(a.relay),
                            Attribute::XorMappedAddress(from),
                            Attribute::Lifetime(a.lifetime),
                        ];
                        self.answer(from, &msg, None, &attrs, true);
                    } else {
                        self.answer(from, &msg, Some(437), &[], true);
                    }
                    return Ok(());
                }
                if let Some(code) = self.fail_allocate.take() {
                    self.answer(from, &msg, Some(code), &[], true);
                    return Ok(());
                }
                let lifetime = if lifetime == 0 { 600 } else { lifetime };
                let relay = SocketAddr::new(self.addr.ip(), self.next_port);
                self.next_port += 1;
                self.allocations.retain(|a| a.client != from);
                self.allocations.push(Allocation {
                    client: from,
                    relay,
                    expires: now + Duration::from_secs(u64::from(lifetime)),
                    permissions: Vec::new(),
                    channels: Vec::new(),
                    transaction: msg.transaction_id(),
                    lifetime,
                });
                self.last_refresh.retain(|(c, _)| *c != from);
                self.last_refresh.push((from, now));
                self.stats.allocations += 1;
                let attrs = [
                    Attribute::XorRelayedAddress(relay),
                    Attribute::XorMappedAddress(from),
                    Attribute::Lifetime(lifetime),
                ];
                self.answer(from, &msg, None, &attrs, true);
            }
            Method::REFRESH => {
                let Some(i) = index else {
                    self.answer(from, &msg, Some(437), &[], true);
                    return Ok(());
                };
                self.stats.refreshes += 1;
                if let Some((_, last)) = self.last_refresh.iter_mut().find(|(c, _)| *c == from) {
                    self.stats.longest_allocation_gap = self.stats.longest_allocation_gap.max(now - *last);
                    *last = now;
                }
                if lifetime == 0 {
                    self.allocations.remove(i);
                } else {
                    self.allocations[i].expires = now + Duration::from_secs(u64::from(lifetime));
                }
                self.answer(from, &msg, None, &[Attribute::Lifetime(lifetime)], true);
            }
            Method::CREATE_PERMISSION => {
                let Some(i) = index else {
                    self.answer(from, &msg, Some(437), &[], true);
                    return Ok(());
                };
                self.stats.permission_requests += 1;
                let peers: Vec<IpAddr> = msg
                    .attributes()
                    .filter_map(|a| match a {
                        Ok(Attribute::XorPeerAddress(p)) => Some(p.ip()),
                        _ => None,
                    })
                    .collect();
                for peer in peers {
                    self.permit(i, peer);
                }
                self.answer(from, &msg, None, &[], true);
            }
            Method::CHANNEL_BIND => {
                let Some(i) = index else {
                    self.answer(from, &msg, Some(437), &[], true);
                    return Ok(());
                };
                self.stats.channel_requests += 1;
                let (Some(Attribute::ChannelNumber(ch)), Some(Attribute::XorPeerAddress(peer))) =
                    (msg.attribute(AttributeType::CHANNEL_NUMBER), msg.attribute(AttributeType::XOR_PEER_ADDRESS))
                else {
                    self.answer(from, &msg, Some(400), &[], true);
                    return Ok(());
                };
                let a = &mut self.allocations[i];
                let exp = now + Duration::from_secs(600);
                if let Some(c) = a.channels.iter_mut().find(|c| c.0 == ch) {
                    if c.1 != peer {
                        self.answer(from, &msg, Some(400), &[], true);
                        return Ok(());
                    }
                    if c.2 <= now {
                        self.stats.expired_drops += 1;
                    }
                    self.stats.longest_channel_gap = self.stats.longest_channel_gap.max(now - c.3);
                    c.2 = exp;
                    c.3 = now;
                } else {
                    a.channels.push((ch, peer, exp, now));
                }
                self.permit(i, peer.ip());
                self.answer(from, &msg, None, &[], true);
            }
            _ => self.answer(from, &msg, Some(400), &[], true),
        }
        Ok(())
    }

    fn permit(&mut self, i: usize, peer: IpAddr) {
        let now = self.now;
        let exp = now + Duration::from_secs(300);
        let a = &mut self.allocations[i];
        if let Some(p) = a.permissions.iter_mut().find(|p| p.0 == peer) {
            if p.1 <= now {
                self.stats.expired_drops += 1;
            }
            self.stats.longest_permission_gap = self.stats.longest_permission_gap.max(now - p.2);
            p.1 = exp;
            p.2 = now;
        } else {
            a.permissions.push((peer, exp, now));
        }
    }

    /// Sends relayed data from `relay` to `peer`; a peer that is another of our relays gets it directly.
    fn relay_out(&mut self, relay: SocketAddr, peer: SocketAddr, data: &[u8]) {
        self.stats.relayed_to_peer += 1;
        if self.allocations.iter().any(|a| a.relay == peer) {
            let _ = self.on_peer(relay, peer, data);
        } else {
            self.out.push_back((relay, peer, data.to_vec()));
        }
    }

    fn on_peer(&mut self, from: SocketAddr, relay: SocketAddr, bytes: &[u8]) -> Result<(), ()> {
        let now = self.now;
        let a = self.allocations.iter().find(|a| a.relay == relay && a.expires > now).ok_or(())?;
        if !a.permissions.iter().any(|p| p.0 == from.ip() && p.1 > now) {
            self.stats.expired_drops += 1;
            return Err(());
        }
        let client = a.client;
        let mut buf = Vec::new();
        if let Some(c) = a.channels.iter().find(|c| c.1 == from && c.2 > now) {
            emit_channel_data(&mut buf, c.0, bytes, false).map_err(|_| ())?;
        } else {
            let mut b = MessageBuilder::new(
                &mut buf,
                MessageType::new(Method::DATA, Class::Indication),
                crate::stun::TransactionId([7; 12]),
            )
            .map_err(|_| ())?;
            b.add(Attribute::XorPeerAddress(from)).map_err(|_| ())?;
            b.add(Attribute::Data(bytes)).map_err(|_| ())?;
            b.finish();
        }
        self.out.push_back((self.addr, client, buf));
        self.stats.relayed_to_client += 1;
        Ok(())
    }
}

impl Machine for TestServer {
    type Event = ();
    fn handle_timeout(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }
    fn poll_event(&mut self) -> Option<()> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

impl PathMachine for TestServer {
    type Error = ();
    fn handle_receive(&mut self, now: Instant, d: Datagram<'_>) -> Result<(), ()> {
        self.now = self.now.max(now);
        if d.destination == self.addr {
            self.on_client(d.source, d.contents)
        } else {
            self.on_peer(d.source, d.destination, d.contents)
        }
    }
    fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        let (source, destination, bytes) = self.out.pop_front()?;
        self.current = bytes;
        Some(Datagram { source, destination, contents: &self.current })
    }
}
