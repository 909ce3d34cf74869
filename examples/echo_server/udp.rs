//! The shared UDP socket's setup and its receive side: a receive buffer sized for the bursts of many
//! peers at once, datagrams received in batches, and the kernel's count of the datagrams it dropped
//! because that buffer was full.
//!
//! - The receive buffer: [`RECEIVE_BUFFER`] asked for with `SO_RCVBUF`. Linux caps it at
//!   `net.core.rmem_max` (`/proc/sys/net/core/rmem_max`; often 208 KiB by default, too little for a
//!   thousand peers sending at once); a privileged process gets past the cap with `SO_RCVBUFFORCE`,
//!   tried when the cap bites (it fails without `CAP_NET_ADMIN`, and then the capped size stays). The
//!   size the kernel settled on is read back and printed. Linux reports twice what was asked: it counts
//!   its own bookkeeping per datagram in the buffer, and reserves the extra room for it.
//! - Batches (Linux): `recvmmsg` takes up to [`BATCH`] queued datagrams per system call; elsewhere the
//!   loop receives one datagram per call.
//! - Drops (Linux): with `SO_RXQ_OVFL` on, every datagram comes with the socket's count of datagrams
//!   dropped since it was opened (a control message); the latest is kept in [`SocketStats`], which
//!   `/stats`, the closing line and [`crate::server::Server::receive_drops`] report.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::io;
use std::net::UdpSocket;

/// The receive buffer asked for: 8 MiB.
pub const RECEIVE_BUFFER: usize = 8 * 1024 * 1024;

/// Datagrams taken per `recvmmsg` call.
#[cfg(target_os = "linux")]
pub const BATCH: usize = 32;

/// The largest datagram received whole (a larger one is truncated, as `recv_from` into this buffer
/// would).
#[cfg(target_os = "linux")]
const MAX_DATAGRAM: usize = 65_536;

/// What the socket's setup and receives found, shared by the UDP thread and the server's handle.
#[derive(Debug, Default)]
pub struct SocketStats {
    /// The receive buffer the kernel settled on, in bytes, as it reports it.
    receive_buffer: AtomicUsize,
    /// The latest drop count the kernel reported.
    drops: AtomicU32,
    /// Whether the drops are counted (Linux, the std loop).
    counting: AtomicBool,
}

impl SocketStats {
    /// The receive buffer the kernel settled on, in bytes, as it reports it (on Linux twice the data it
    /// holds: see the module docs).
    pub fn receive_buffer(&self) -> usize {
        self.receive_buffer.load(Ordering::Relaxed)
    }

    /// Datagrams the kernel dropped because the socket's receive buffer was full, as of the last datagram
    /// received; `None` where they are not counted (not Linux, or the tokio loop).
    pub fn drops(&self) -> Option<u32> {
        self.counting.load(Ordering::Relaxed).then(|| self.drops.load(Ordering::Relaxed))
    }

    /// Reads the receive buffer's size back from the socket.
    pub fn note_receive_buffer(&self, socket: &UdpSocket) {
        let size = socket2::SockRef::from(socket).recv_buffer_size().unwrap_or(0);
        self.receive_buffer.store(size, Ordering::Relaxed);
    }

    /// From now on, the drops are counted (no control message means none yet).
    pub fn start_counting(&self) {
        self.counting.store(true, Ordering::Relaxed);
    }

    /// The count the kernel sent with a datagram (it only grows, but control messages of one batch need
    /// not come in order of arrival).
    fn saw_drops(&self, drops: u32) {
        self.drops.fetch_max(drops, Ordering::Relaxed);
    }

    /// The figures, for the closing line.
    pub fn summary(&self) -> String {
        let drops = match self.drops() {
            Some(n) => format!("{n} datagrams dropped on a full receive buffer"),
            None => "receive-buffer drops not counted".to_string(),
        };
        format!("receive buffer {} bytes, {drops}", self.receive_buffer())
    }
}

/// Asks for a receive buffer of `size` bytes (past the system's cap with `SO_RCVBUFFORCE` when the
/// process is allowed to, on Linux) and records the size the kernel settled on in `stats`. On Linux,
/// also turns on the drop counter. What cannot be set leaves the defaults: nothing here fails the server;
/// what could not be done is returned, to be said.
pub fn setup(socket: &UdpSocket, size: usize, stats: &SocketStats) -> Vec<String> {
    let mut problems = Vec::new();
    let sock = socket2::SockRef::from(socket);
    if let Err(e) = sock.set_recv_buffer_size(size) {
        problems.push(format!("receive buffer of {size} bytes not set: {e}"));
    }
    #[cfg(target_os = "linux")]
    {
        use nix::sys::socket::{setsockopt, sockopt};
        // Linux reports twice the size it granted; less than twice what was asked means the cap bit.
        if sock.recv_buffer_size().is_ok_and(|got| got < size.saturating_mul(2)) {
            // Fails (EPERM) without CAP_NET_ADMIN: the capped size stays.
            let _ = setsockopt(socket, sockopt::RcvBufForce, &size);
        }
        match setsockopt(socket, sockopt::RxqOvfl, &1) {
            Ok(()) => stats.start_counting(),
            Err(e) => problems.push(format!("no drop counter (SO_RXQ_OVFL: {e})")),
        }
    }
    stats.note_receive_buffer(socket);
    problems
}

/// Received datagrams, up to [`BATCH`] per `recvmmsg` call, each buffer reused from call to call.
///
/// The message headers are made anew for each call: the kernel shrinks a header's control and address
/// lengths to what it wrote, and `nix` does not restore them, so a header reused after a datagram with no
/// control message would have no room for the next one's drop count (and one reused after an IPv4 address
/// none for an IPv6 one).
#[cfg(target_os = "linux")]
pub struct Batch {
    buffers: Vec<Vec<u8>>,
    /// The last call's datagrams: where from and how long (`None`: an address that is not IP).
    got: Vec<Option<(core::net::SocketAddr, usize)>>,
}

#[cfg(target_os = "linux")]
impl Default for Batch {
    fn default() -> Batch {
        Batch::new()
    }
}

#[cfg(target_os = "linux")]
impl Batch {
    /// Buffers for [`BATCH`] datagrams of up to 64 KiB.
    pub fn new() -> Batch {
        Batch { buffers: vec![vec![0u8; MAX_DATAGRAM]; BATCH], got: Vec::with_capacity(BATCH) }
    }

    /// Receives what is queued, up to [`BATCH`] datagrams: when `wait`, waits for the first (up to the
    /// socket's read timeout: then `WouldBlock`), else returns `WouldBlock` at once if none is queued.
    /// Records the drop counts that come with them in `stats`. Returns how many arrived.
    pub fn receive(&mut self, socket: &UdpSocket, wait: bool, stats: &SocketStats) -> io::Result<usize> {
        use nix::sys::socket::{ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg};
        use std::io::IoSliceMut;
        use std::os::fd::AsRawFd;
        let flags = if wait { MsgFlags::MSG_WAITFORONE } else { MsgFlags::MSG_DONTWAIT };
        let mut slices: Vec<[IoSliceMut<'_>; 1]> =
            self.buffers.iter_mut().map(|b| [IoSliceMut::new(b.as_mut_slice())]).collect();
        let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, Some(nix::cmsg_space!(u32)));
        let results = recvmmsg(socket.as_raw_fd(), &mut headers, slices.iter_mut(), flags, None)?;
        self.got.clear();
        for r in results {
            let from = r.address.and_then(|a| {
                if let Some(v4) = a.as_sockaddr_in() {
                    Some(core::net::SocketAddr::V4((*v4).into()))
                } else {
                    a.as_sockaddr_in6().map(|v6| core::net::SocketAddr::V6((*v6).into()))
                }
            });
            self.got.push(from.map(|from| (from, r.bytes.min(MAX_DATAGRAM))));
            // ENOBUFS (a truncated control area) cannot happen with room for the one we asked for.
            for cmsg in r.cmsgs().into_iter().flatten() {
                if let ControlMessageOwned::RxqOvfl(drops) = cmsg {
                    stats.saw_drops(drops);
                }
            }
        }
        Ok(self.got.len())
    }

    /// Datagram `i` of the last call: where it came from and its bytes.
    pub fn datagram(&self, i: usize) -> Option<(core::net::SocketAddr, &[u8])> {
        let (from, len) = (*self.got.get(i)?)?;
        Some((from, self.buffers.get(i)?.get(..len)?))
    }
}
