//! The connection behind each peer of the echo server: a [`RecordedPeerConnection`], which with
//! `--record DIR` journals every call it gets and captures every datagram, and otherwise only forwards to
//! its [`PeerConnection`](sansrtc::pc::PeerConnection) (no copy, no journal).
//!
//! The journal records the media calls too (`add_track`, `write_rtp`, `request_keyframe`), so a recorded
//! connection echoes audio and video like any other, and its journal replays them.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use core::time::Duration;
use sansrtc::pc;
use sansrtc::record::{RecordOptions, RecordedPeerConnection};

/// The connection type every peer runs on.
pub type Conn = RecordedPeerConnection;

/// A connection seeded with `seed`; journaled and captured when `record`, its capture's timestamps
/// counted from `epoch` (the wall-clock time the loop's `Instant::ZERO` stands for).
pub fn new_conn(config: pc::Config, seed: [u8; 32], record: bool, epoch: Duration) -> Conn {
    let options = RecordOptions { journal: record, capture: record, capture_epoch: epoch, ..RecordOptions::default() };
    RecordedPeerConnection::new(config, seed, options)
}

/// `--record DIR`: where one connection's journal and capture go, `DIR/STEM.journal` and
/// `DIR/STEM.pcapng`, appended to as the session goes.
pub struct Recording {
    journal: File,
    capture: File,
    /// Reused for every take: the connection keeps the other buffer (`take_journal_into`).
    buf: Vec<u8>,
}

impl Recording {
    /// Creates both files.
    pub fn create(dir: &Path, stem: &str) -> io::Result<Recording> {
        let journal = File::create(dir.join(format!("{stem}.journal")))?;
        let capture = File::create(dir.join(format!("{stem}.pcapng")))?;
        Ok(Recording { journal, capture, buf: Vec::new() })
    }

    /// Appends what the connection journaled and captured since the last call.
    pub fn save(&mut self, pc: &mut Conn) -> io::Result<()> {
        pc.take_journal_into(&mut self.buf);
        self.journal.write_all(&self.buf)?;
        pc.take_capture_into(&mut self.buf);
        self.capture.write_all(&self.buf)
    }
}
