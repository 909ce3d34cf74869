//! What the router needs from a connection, and its implementations for the peer connection and the
//! recorded one.

use core::net::SocketAddr;

use crate::machine::{Datagram, PathMachine};
use crate::pc::{ConnectionState, PeerConnection};
use crate::record::RecordedPeerConnection;
use crate::time::Instant;

/// Where a connection is in its life, as the router sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// Not connected yet (signalling, ICE checks, the DTLS handshake).
    Connecting,
    /// Connected (or connected before and now disconnected for a while: ICE consent ends that).
    Connected,
    /// Closed, by the application or by the peer.
    Closed,
    /// Failed (ICE, DTLS).
    Failed,
}

/// A connection the [`Router`](super::Router) can hold: a [`PathMachine`] that says which datagrams are
/// its own (its ICE ufrag, its selected path), how it is doing, and can be closed.
///
/// Implemented for [`PeerConnection`] and [`RecordedPeerConnection`].
pub trait Connection: PathMachine {
    /// The current local ICE ufrag: STUN requests whose USERNAME starts with it (`<ufrag>:…`, RFC 8445
    /// §7.2.2) are routed here. It may change (ICE restart); the router notices after each call it makes.
    fn local_ufrag(&self) -> &str;

    /// The selected path, `(local address, remote address)`, once ICE has one: datagrams arriving on
    /// `local` from `remote` are routed here.
    fn selected_path(&self) -> Option<(SocketAddr, SocketAddr)>;

    /// Where the connection is in its life.
    fn status(&self) -> Status;

    /// Closes the connection (it has not connected in time). What it sends on closing is drained as
    /// usual.
    fn close(&mut self, now: Instant);

    /// Whether the connection takes mDNS traffic now (it is resolving names, or answers for names of its
    /// own): the router offers the datagrams from or to port 5353 that no path claims to such
    /// connections only. None by default.
    fn mdns_active(&self) -> bool {
        false
    }

    /// Whether `datagram` (from or to port 5353) is mDNS the connection has a use for: an answer while
    /// it resolves a name, a query for a name of its own.
    fn wants_mdns(&self, _datagram: &Datagram<'_>) -> bool {
        false
    }
}

fn status_of(state: ConnectionState) -> Status {
    match state {
        ConnectionState::New | ConnectionState::Connecting => Status::Connecting,
        ConnectionState::Connected | ConnectionState::Disconnected => Status::Connected,
        ConnectionState::Closed => Status::Closed,
        ConnectionState::Failed => Status::Failed,
    }
}

/// The selected pair as a path: from its local candidate's base (the socket), to its remote address.
fn path_of(pc: &PeerConnection) -> Option<(SocketAddr, SocketAddr)> {
    pc.ice().selected_pair().map(|(local, remote)| (local.base, remote.address))
}

impl Connection for PeerConnection {
    fn local_ufrag(&self) -> &str {
        PeerConnection::local_ufrag(self)
    }

    fn selected_path(&self) -> Option<(SocketAddr, SocketAddr)> {
        path_of(self)
    }

    fn status(&self) -> Status {
        status_of(self.connection_state())
    }

    fn close(&mut self, now: Instant) {
        PeerConnection::close(self, now);
    }

    fn mdns_active(&self) -> bool {
        self.mdns_in_use()
    }

    fn wants_mdns(&self, datagram: &Datagram<'_>) -> bool {
        self.takes_mdns(datagram)
    }
}

impl Connection for RecordedPeerConnection {
    fn local_ufrag(&self) -> &str {
        self.peer_connection().local_ufrag()
    }

    fn selected_path(&self) -> Option<(SocketAddr, SocketAddr)> {
        path_of(self.peer_connection())
    }

    fn status(&self) -> Status {
        status_of(self.peer_connection().connection_state())
    }

    /// Closes through the recorder, so the journal has the call.
    fn close(&mut self, now: Instant) {
        RecordedPeerConnection::close(self, now);
    }

    fn mdns_active(&self) -> bool {
        self.peer_connection().mdns_in_use()
    }

    fn wants_mdns(&self, datagram: &Datagram<'_>) -> bool {
        self.peer_connection().takes_mdns(datagram)
    }
}
