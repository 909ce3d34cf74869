//! ICE-TCP for the echo server (`--tcp ADDR`, RFC 6544 with RFC 4571 framing): a std `TcpListener`
//! whose address every peer connection advertises as a passive candidate
//! (`a=candidate:… tcp … typ host tcptype passive`).
//!
//! The library keeps its datagram shape over TCP; this adapter owns the connections. An acceptor thread
//! takes each connection a browser opens and starts a reader thread for it, which splits the bytes it
//! reads into frames with a `FrameDecoder` of its own (bounded: a frame longer than [`MAX_FRAME`] is
//! skipped and counted) and hands each frame to the driving thread over a bounded channel, waking it with
//! a zero-length datagram on the shared UDP socket. The driving thread feeds a frame to the router as a
//! datagram from the browser's end of the connection to the listening address, and writes every
//! transmit whose source is the listening address to the connection whose peer is its destination,
//! behind its two-byte length.

use super::alloc::sync::Arc;
use core::net::SocketAddr;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use core::time::Duration;
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Mutex, PoisonError};

use sansrtc::ice::framing::{FrameDecoder, frame_header};

/// Largest frame taken from a browser: ICE, DTLS and SRTP packets stay under this.
pub const MAX_FRAME: usize = 4096;
/// Frames waiting between the readers and the driving thread; more are dropped, as a full socket buffer
/// would drop datagrams.
const RECEIVED_MAX: usize = 4096;
/// Connections served at once.
const MAX_STREAMS: usize = 1024;

/// A frame a connection carried, on its way to the driving thread.
pub struct Frame {
    /// The browser's end of the connection.
    pub from: SocketAddr,
    /// The frame's payload.
    pub data: Vec<u8>,
}

/// What the TCP side counted.
#[derive(Debug, Default)]
pub struct TcpStats {
    /// Connections accepted.
    pub accepted: AtomicU64,
    /// Frames handed to the driving thread.
    pub frames: AtomicU64,
    /// Frames dropped: oversized (skipped by the decoder), empty, or the channel was full.
    pub dropped: AtomicU64,
    /// Transmits for a connection that no longer exists.
    pub unroutable: AtomicU64,
}

/// The listening socket, the live connections (their write halves, by the browser's address) and the
/// frames they carried.
pub struct TcpSide {
    /// The listening address (the passive candidate's).
    pub listen: SocketAddr,
    streams: Arc<Mutex<HashMap<SocketAddr, TcpStream>>>,
    received: Receiver<Frame>,
    /// Counters.
    pub stats: Arc<TcpStats>,
}

impl TcpSide {
    /// Starts accepting on `listener`; readers wake the driving thread by sending a zero-length
    /// datagram to `wake`. Threads end when `stop` is set.
    pub fn start(listener: TcpListener, wake: SocketAddr, stop: Arc<AtomicBool>) -> io::Result<TcpSide> {
        let listen = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let streams: Arc<Mutex<HashMap<SocketAddr, TcpStream>>> = Arc::default();
        let stats: Arc<TcpStats> = Arc::default();
        let (to_loop, received) = sync_channel(RECEIVED_MAX);
        let (acc_streams, acc_stats) = (streams.clone(), stats.clone());
        std::thread::Builder::new().name("tcp-accept".into()).spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, from)) => {
                        let _ = accept(stream, from, &acc_streams, &acc_stats, to_loop.clone(), wake, stop.clone());
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(20)),
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        })?;
        Ok(TcpSide { listen, streams, received, stats })
    }

    /// The frames received since the last call (at most 4096).
    pub fn take(&self) -> Vec<Frame> {
        self.received.try_iter().take(RECEIVED_MAX).collect()
    }

    /// Writes one transmit to the connection from `to`, framed (RFC 4571). A connection that is gone (or
    /// whose write fails, which closes it) is counted, as a lost datagram would be.
    pub fn send(&self, to: SocketAddr, data: &[u8]) {
        let Some(header) = frame_header(data.len()) else { return };
        let mut streams = self.streams.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(stream) = streams.get_mut(&to) else {
            self.stats.unroutable.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let mut framed = Vec::with_capacity(header.len() + data.len());
        framed.extend_from_slice(&header);
        framed.extend_from_slice(data);
        if stream.write_all(&framed).is_err() {
            let _ = stream.shutdown(std::net::Shutdown::Both);
            streams.remove(&to);
            self.stats.unroutable.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Files an accepted connection and starts its reader.
fn accept(
    stream: TcpStream,
    from: SocketAddr,
    streams: &Arc<Mutex<HashMap<SocketAddr, TcpStream>>>,
    stats: &Arc<TcpStats>,
    to_loop: SyncSender<Frame>,
    wake: SocketAddr,
    stop: Arc<AtomicBool>,
) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_nodelay(true)?;
    // A browser that stops reading must not stall every connection: a write waits at most this long.
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    stream.set_read_timeout(Some(Duration::from_millis(200)))?;
    {
        let mut map = streams.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_STREAMS {
            return Ok(()); // dropped: closes the connection
        }
        map.insert(from, stream.try_clone()?);
    }
    stats.accepted.fetch_add(1, Ordering::Relaxed);
    let waker = UdpSocket::bind(SocketAddr::new(wake.ip(), 0))?;
    let (streams, stats) = (streams.clone(), stats.clone());
    std::thread::Builder::new().name(format!("tcp-{from}")).spawn(move || {
        read(stream, from, &stats, &to_loop, &waker, wake, &stop);
        streams.lock().unwrap_or_else(PoisonError::into_inner).remove(&from);
    })?;
    Ok(())
}

/// Reads one connection until it ends, frame by frame.
fn read(
    mut stream: TcpStream,
    from: SocketAddr,
    stats: &TcpStats,
    to_loop: &SyncSender<Frame>,
    waker: &UdpSocket,
    wake: SocketAddr,
    stop: &AtomicBool,
) {
    let mut decoder = FrameDecoder::new(MAX_FRAME);
    let mut buf = vec![0u8; 16 * 1024];
    let mut skipped = 0;
    while !stop.load(Ordering::Relaxed) {
        let n = match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => continue,
            Err(_) => return,
        };
        let mut rest = buf.get(..n).unwrap_or_default();
        let mut any = false;
        while !rest.is_empty() {
            let taken = decoder.push(rest);
            rest = rest.get(taken..).unwrap_or_default();
            while let Some(frame) = decoder.next_frame() {
                if to_loop.try_send(Frame { from, data: frame.to_vec() }).is_ok() {
                    stats.frames.fetch_add(1, Ordering::Relaxed);
                    any = true;
                } else {
                    stats.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        let s = decoder.stats();
        let bad = s.oversized + s.empty;
        if bad > skipped {
            stats.dropped.fetch_add(bad - skipped, Ordering::Relaxed);
            skipped = bad;
        }
        if any {
            let _ = waker.send_to(&[], wake);
        }
    }
}
