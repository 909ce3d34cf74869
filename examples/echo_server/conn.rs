//! The connection behind each peer of the echo server: a [`PeerConnection`], or with `--record DIR` a
//! [`RecordedPeerConnection`] journaling every call it gets.
//!
//! The journal records the data channel API but not yet the media calls (`add_track`, `write_rtp`,
//! `request_keyframe`), so a recorded connection takes no tracks of its own: it answers the browser's
//! audio and video `recvonly` and echoes no media. Without `--record` every received track is echoed.

use core::net::SocketAddr;
use core::ops::Deref;

use bytes::Bytes;
use sansrtc::pc::{self, ChannelId, ChannelOptions, Description, Event, PeerConnection};
use sansrtc::record::{RecordOptions, RecordedPeerConnection};
use sansrtc::{Datagram, Instant, Machine, PathMachine, SeededRng, Transmit};

/// A plain or a recorded peer connection.
pub enum Conn {
    /// Every call made directly: media echoed.
    Live(Box<PeerConnection>),
    /// Every call journaled (`--record`): data channels only.
    Recorded(Box<RecordedPeerConnection>),
}

/// `$body` with `$pc` bound to whichever connection `$conn` holds (both have the same method names).
macro_rules! either {
    ($conn:expr, $pc:ident => $body:expr) => {
        match $conn {
            Conn::Live($pc) => $body,
            Conn::Recorded($pc) => $body,
        }
    };
}

impl Conn {
    /// A connection seeded with `seed`; journaled when `record`.
    pub fn new(config: pc::Config, seed: [u8; 32], record: bool) -> Conn {
        if record {
            let options = RecordOptions { journal: true, ..RecordOptions::default() };
            Conn::Recorded(Box::new(RecordedPeerConnection::new(config, seed, options)))
        } else {
            Conn::Live(Box::new(PeerConnection::new(config, SeededRng::from_seed(seed))))
        }
    }

    /// The connection, for the media calls the journal does not record; `None` when recording.
    pub fn media(&mut self) -> Option<&mut PeerConnection> {
        match self {
            Conn::Live(pc) => Some(pc),
            Conn::Recorded(_) => None,
        }
    }

    /// The journal bytes written since the last call (empty when not recording).
    pub fn take_journal(&mut self) -> Vec<u8> {
        match self {
            Conn::Live(_) => Vec::new(),
            Conn::Recorded(pc) => pc.take_journal(),
        }
    }

    pub fn add_local_host(&mut self, now: Instant, addr: SocketAddr) -> Result<(), pc::Error> {
        either!(self, pc => pc.add_local_host(now, addr))
    }

    pub fn end_of_local_candidates(&mut self, now: Instant) {
        either!(self, pc => pc.end_of_local_candidates(now))
    }

    pub fn set_remote_description(&mut self, now: Instant, desc: &Description) -> Result<(), pc::Error> {
        either!(self, pc => pc.set_remote_description(now, desc))
    }

    pub fn create_answer(&mut self) -> Result<Description, pc::Error> {
        either!(self, pc => pc.create_answer())
    }

    pub fn set_local_description(&mut self, now: Instant, desc: &Description) -> Result<(), pc::Error> {
        either!(self, pc => pc.set_local_description(now, desc))
    }

    pub fn create_data_channel(&mut self, now: Instant, options: ChannelOptions) -> Result<ChannelId, pc::Error> {
        either!(self, pc => pc.create_data_channel(now, options))
    }

    pub fn send(&mut self, now: Instant, id: ChannelId, data: Bytes, binary: bool) -> Result<(), pc::Error> {
        either!(self, pc => pc.send(now, id, data, binary))
    }

    pub fn close(&mut self, now: Instant) {
        either!(self, pc => pc.close(now))
    }

    /// Whether the connection took the datagram.
    pub fn handle_receive(&mut self, now: Instant, datagram: Datagram<'_>) -> bool {
        either!(self, pc => pc.handle_receive(now, datagram).is_ok())
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        either!(self, pc => pc.handle_timeout(now))
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        either!(self, pc => pc.poll_event())
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        either!(self, pc => pc.poll_transmit())
    }
}

impl Deref for Conn {
    type Target = PeerConnection;

    fn deref(&self) -> &PeerConnection {
        match self {
            Conn::Live(pc) => pc,
            Conn::Recorded(pc) => pc,
        }
    }
}
