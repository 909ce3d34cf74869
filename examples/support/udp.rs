//! The examples' receive step on one UDP socket: sleep in `recv_from` until a datagram or the deadline,
//! then take whatever else is already queued (up to 256 datagrams) before the timers run again. Errors
//! that only mean "nothing to read" end the step quietly: a timeout, a signal (Ctrl-C: the caller looks at
//! its stop flag), an ICMP error from a peer gone away. Zero-length datagrams are wake-ups from another
//! thread and are not handed on.

use core::net::SocketAddr;
use core::time::Duration;
use std::io;
use std::net::UdpSocket;

/// How many queued datagrams one step takes after the first.
const BATCH: usize = 256;

/// Waits up to `wait` for datagrams and hands each non-empty one to `receive`.
pub fn receive_step(
    socket: &UdpSocket,
    buf: &mut [u8],
    wait: Duration,
    mut receive: impl FnMut(SocketAddr, &[u8]),
) -> io::Result<()> {
    socket.set_read_timeout(Some(wait))?;
    match socket.recv_from(buf) {
        Ok((n, source)) => {
            if n > 0 {
                receive(source, buf.get(..n).unwrap_or_default());
            }
            socket.set_nonblocking(true)?;
            for _ in 0..BATCH {
                match socket.recv_from(buf) {
                    Ok((0, _)) => {}
                    Ok((n, source)) => receive(source, buf.get(..n).unwrap_or_default()),
                    Err(_) => break,
                }
            }
            socket.set_nonblocking(false)
        }
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock
                    | io::ErrorKind::TimedOut
                    | io::ErrorKind::Interrupted
                    | io::ErrorKind::ConnectionRefused
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(e),
    }
}
