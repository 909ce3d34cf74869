//! Two peer connections wired to each other in memory, for tests that drive both by hand (no simulator):
//! the offer/answer between them and moving their datagrams across.

use core::net::SocketAddr;

use sansrtc::pc::{ChannelId, ChannelOptions, PeerConnection};
use sansrtc::{Datagram, Instant, PathMachine};

/// Host candidates at 10.0.0.1 and 10.0.0.2, end of candidates, a channel "chat" created by `a`, and
/// `a`'s offer answered by `b`. Returns the channel (not open yet: datagrams still have to move).
pub fn negotiate(now: Instant, a: &mut PeerConnection, b: &mut PeerConnection) -> ChannelId {
    let (a_addr, b_addr): (SocketAddr, SocketAddr) =
        ("10.0.0.1:5000".parse().unwrap(), "10.0.0.2:5000".parse().unwrap());
    a.add_local_host(now, a_addr).unwrap();
    b.add_local_host(now, b_addr).unwrap();
    a.end_of_local_candidates(now);
    b.end_of_local_candidates(now);
    let chat = a.create_data_channel(now, ChannelOptions::new("chat")).unwrap();
    let offer = a.create_offer().unwrap();
    a.set_local_description(now, &offer).unwrap();
    b.set_remote_description(now, &offer).unwrap();
    let answer = b.create_answer().unwrap();
    b.set_local_description(now, &answer).unwrap();
    a.set_remote_description(now, &answer).unwrap();
    chat
}

/// Hands everything `from` has to send to `to`; returns whether anything moved.
pub fn pump(now: Instant, from: &mut PeerConnection, to: &mut PeerConnection) -> bool {
    let mut moved = false;
    while let Some(t) = from.poll_transmit() {
        let (source, destination, contents) = (t.source, t.destination, t.contents.to_vec());
        let _ = to.handle_receive(now, Datagram { source, destination, contents: &contents });
        moved = true;
    }
    moved
}
