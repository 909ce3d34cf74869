//! The UDP side: every peer connection on one socket.

use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;
use std::io;
use std::net::UdpSocket;
use std::sync::mpsc::Receiver;

use super::OfferRequest;

/// Runs until `stop` is set: answers offers and drives the peer connections.
pub fn run(socket: UdpSocket, offers: Receiver<OfferRequest>, stop: &AtomicBool) -> io::Result<()> {
    let mut buf = vec![0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        while let Ok(req) = offers.try_recv() {
            println!("offer received ({} bytes)", req.sdp.len());
            let _ = req.reply.send(Err("peer connections are not implemented yet".into()));
        }
        socket.set_read_timeout(Some(Duration::from_secs(1)))?;
        match socket.recv_from(&mut buf) {
            Ok(_) => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
