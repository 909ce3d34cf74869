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

use core::net::{Ipv4Addr, SocketAddr};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use core::time::Duration;
use std::io;
use std::net::UdpSocket;
use std::sync::mpsc::SyncSender;

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

/// The mDNS socket's address as the datagrams it receives are given to the library: port 5353 on any
/// address (the library takes what arrives on port 5353 as mDNS).
pub const MDNS_LOCAL: SocketAddr = SocketAddr::new(core::net::IpAddr::V4(Ipv4Addr::UNSPECIFIED), 5353);

/// A socket for the mDNS group (RFC 6762 §3): bound to `0.0.0.0:5353` with `SO_REUSEADDR` and
/// `SO_REUSEPORT`, as every mDNS responder on the host shares that port, joined to 224.0.0.251 on the
/// interface of `ip` (any interface if `ip` is unspecified or IPv6), looping the group's datagrams back
/// to the host. Receive only: the connections' queries leave from their own socket.
pub fn open_mdns(ip: core::net::IpAddr) -> io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
    socket.set_reuse_port(true)?;
    socket.bind(&MDNS_LOCAL.into())?;
    let interface = match ip {
        core::net::IpAddr::V4(v4) => v4,
        core::net::IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
    };
    socket.join_multicast_v4(&sansrtc::mdns::wire::GROUP_V4, &interface)?;
    socket.set_multicast_loop_v4(true)?;
    Ok(socket.into())
}

/// The thread reading the mDNS socket ([`MdnsReader::start`]); stopped (within its 200 ms read timeout)
/// and joined on drop.
pub struct MdnsReader {
    stop: super::alloc::sync::Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MdnsReader {
    /// Reads `socket` (from [`open_mdns`]) on a thread of its own: what arrives goes to `to` (dropped
    /// when `to` is full, as a full socket buffer would), and a zero-length datagram to `wake` (the main
    /// socket) wakes the loop sleeping in it.
    pub fn start(socket: UdpSocket, to: SyncSender<(SocketAddr, Vec<u8>)>, wake: SocketAddr) -> io::Result<Self> {
        socket.set_read_timeout(Some(Duration::from_millis(200)))?;
        let stop = super::alloc::sync::Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::Builder::new().name("mdns".into()).spawn(move || {
            let mut buf = vec![0u8; 9000];
            while !stopped.load(Ordering::Relaxed) {
                match socket.recv_from(&mut buf) {
                    Ok((n, from)) => {
                        let data = buf.get(..n).unwrap_or(&[]).to_vec();
                        if !data.is_empty() && to.try_send((from, data)).is_ok() {
                            let _ = socket.send_to(&[], wake);
                        }
                    }
                    Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
                    Err(_) => break,
                }
            }
        })?;
        Ok(MdnsReader { stop, thread: Some(thread) })
    }
}

impl Drop for MdnsReader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
