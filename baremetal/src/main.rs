//! A data-channel-only WebRTC peer on a Cortex-M4F with no operating system: the smallest real use of
//! sansrtc, built to measure what it costs in flash (`bash baremetal/size-check`).
//!
//! The firmware offers one data channel, takes the answer from its signalling link, then runs the sans-IO
//! loop over its own UDP layer: datagrams in, timers, datagrams out, events, sleep until the next
//! interrupt. Every message that arrives is echoed. The board's pieces (the UDP layer, the signalling
//! link, the clock, the hardware random generator) are stubs whose values the compiler cannot see through
//! (`core::hint::black_box`), so every path of the stack stays in the image as in a real port.

#![no_std]
#![no_main]

extern crate alloc;

use core::mem::MaybeUninit;
use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use cortex_m_rt::entry;
use embedded_alloc::LlffHeap as Heap;
use sansrtc::pc::{ChannelOptions, Config, Description, Event, PeerConnection};
use sansrtc::{Datagram, Instant, Machine, PathMachine, SeededRng};

/// The heap: a peer connection sending small messages one at a time peaks at about 15 KiB
/// (`tests/pc_peak_memory.rs`); bulk transfers need far more (see `docs/bare-metal.md`).
const HEAP_SIZE: usize = 96 * 1024;

#[global_allocator]
static HEAP: Heap = Heap::empty();

/// The board's own UDP/IP layer (an Ethernet MAC driver with a minimal IP stack, or smoltcp), reduced to
/// the two calls the loop needs.
mod udp {
    use core::hint::black_box;
    use core::net::SocketAddr;

    /// The next received datagram, copied into `buf`: its length and its source address.
    pub fn recv(buf: &mut [u8]) -> Option<(usize, SocketAddr)> {
        let buf = black_box(buf);
        let len = black_box(0usize);
        (len > 0 && len <= buf.len()).then(|| (len, black_box(super::LOCAL)))
    }

    /// Sends `data` to `to` from the one local socket.
    pub fn send(to: SocketAddr, data: &[u8]) {
        black_box((to, data));
    }
}

/// The link the descriptions travel on (a provisioning server, a serial line, a WHIP endpoint).
mod signalling {
    use core::hint::black_box;

    /// Sends our offer.
    pub fn send(sdp: &str) {
        black_box(sdp);
    }

    /// The peer's answer, once it has come.
    pub fn answer() -> Option<&'static str> {
        black_box(Some(""))
    }
}

/// The board's clock and random source.
mod board {
    use core::hint::black_box;

    use sansrtc::Instant;

    /// Ticks of a 1 MHz timer since reset (a 64-bit count kept by the timer's overflow interrupt).
    pub fn now() -> Instant {
        Instant::from_ticks(black_box(0u64), 1_000_000)
    }

    /// 32 bytes from the hardware random generator, read once at start-up: the connection's seed.
    pub fn seed() -> [u8; 32] {
        black_box([0; 32])
    }

    /// Sleeps until an interrupt (a datagram, or the timer set for `_deadline`).
    pub fn wait(_deadline: Option<sansrtc::Instant>) {
        cortex_m::asm::wfi();
    }
}

/// Our one UDP socket.
const LOCAL: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 50), 5000));

#[entry]
fn main() -> ! {
    {
        static mut HEAP_MEM: [MaybeUninit<u8>; HEAP_SIZE] = [MaybeUninit::uninit(); HEAP_SIZE];
        // SAFETY: called once, before anything allocates; the memory is used by nothing else.
        unsafe { HEAP.init(&raw mut HEAP_MEM as usize, HEAP_SIZE) }
    }
    let mut pc = PeerConnection::new(Config::default(), SeededRng::from_seed(board::seed()));
    let mut rx = [0u8; 1500];
    run(&mut pc, &mut rx);
    loop {
        board::wait(None);
    }
}

/// Signals, then runs the loop until the connection ends.
fn run(pc: &mut PeerConnection, rx: &mut [u8; 1500]) {
    let now = board::now();
    if pc.add_local_host(now, LOCAL).is_err() {
        return;
    }
    pc.end_of_local_candidates(now);
    let Ok(channel) = pc.create_data_channel(now, ChannelOptions::new("telemetry")) else { return };
    let Ok(offer) = pc.create_offer() else { return };
    if pc.set_local_description(now, &offer).is_err() {
        return;
    }
    signalling::send(&offer.sdp);
    let answer = loop {
        if let Some(sdp) = signalling::answer() {
            break sdp;
        }
        board::wait(None);
    };
    if pc.set_remote_description(now, &Description::answer(answer)).is_err() {
        return;
    }

    loop {
        let now = board::now();
        // 1. What arrived.
        while let Some((len, source)) = udp::recv(rx) {
            let datagram = Datagram { source, destination: LOCAL, contents: &rx[..len] };
            let _ = pc.handle_receive(now, datagram);
        }
        // 2. Timers.
        if pc.poll_timeout().is_some_and(|deadline| deadline <= now) {
            pc.handle_timeout(now);
        }
        // 3. What to send.
        while let Some(t) = pc.poll_transmit() {
            udp::send(t.destination, t.contents);
        }
        // 4. What happened.
        while let Some(event) = pc.poll_event() {
            match event {
                Event::ChannelOpen(id) if id == channel => {
                    let _ = pc.send_text(now, channel, "hello from bare metal");
                }
                Event::Message { id, data, binary } => {
                    let _ = pc.send(now, id, data, binary);
                }
                Event::ConnectionState(state) if is_over(state) => return,
                _ => {}
            }
        }
        // 5. Sleep until the next datagram or deadline.
        let deadline: Option<Instant> = pc.poll_timeout();
        if deadline.is_none_or(|d| d > now) {
            board::wait(deadline);
        }
    }
}

fn is_over(state: sansrtc::pc::ConnectionState) -> bool {
    matches!(state, sansrtc::pc::ConnectionState::Failed | sansrtc::pc::ConnectionState::Closed)
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {
        cortex_m::asm::udf();
    }
}
