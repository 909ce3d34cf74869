//! Writing a journal (the recorder's side) and reading one back.

use alloc::vec::Vec;
use core::net::SocketAddr;

use bytes::Bytes;

use super::call::{Call, Entry, kind};
use super::config::{put_config, read_config};
use super::digest::{TransmitView, chain, chain_datagram, chain_transmit};
use super::outcome::{put_deadline, put_transmit_head};
use super::wire::{
    self, DIGEST_LEN, FLAG_WHOLE, HEADER_LEN, Head, JournalError, put_bool, put_frame, put_instant, put_u32, put_varint,
};
use crate::machine::{Datagram, Transmit};
use crate::pc::Config;
use crate::rand::Seed;
use crate::time::Instant;

/// Messages sent at least this long are kept by reference in the bytes waiting, not copied.
const SPLICE_MIN: usize = 512;

/// The recorder's side: frames each call with its digest and appends it to the bytes waiting to be taken.
#[derive(Debug)]
pub(super) struct Writer {
    pending: Vec<u8>,
    /// Messages sent, kept by reference rather than copied, each to be spliced in at an offset of
    /// `pending`: the bytes waiting are `pending[..at_1] ‖ bytes_1 ‖ pending[at_1..at_2] ‖ bytes_2 ‖ …`.
    spliced: Vec<(usize, Bytes)>,
    /// Their total length.
    spliced_len: usize,
    whole: bool,
    chain: [u8; 32],
    /// Scratch for a record's body, reused.
    body: Vec<u8>,
    /// Scratch for a call's record kind and outcome, reused: [`Writer::start`] clears it and writes the
    /// kind; the caller appends the outcome but for its bulk, then calls [`Writer::record`] with the bulk.
    outcome: Vec<u8>,
    max_pending: usize,
    stopped: bool,
    calls: u64,
}

impl Writer {
    /// A journal with its header and opening record queued.
    pub fn new(seed: &Seed, config: &Config, whole: bool, max_pending: usize) -> Self {
        let mut w = Writer {
            pending: Vec::new(),
            spliced: Vec::new(),
            spliced_len: 0,
            whole,
            chain: [0; 32],
            body: Vec::new(),
            outcome: Vec::new(),
            max_pending,
            stopped: false,
            calls: 0,
        };
        w.pending.extend_from_slice(&wire::header(whole));
        w.body.extend_from_slice(seed);
        put_config(&mut w.body, config);
        put_frame(&mut w.pending, kind::OPEN, &w.body);
        w
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// Calls journaled.
    pub fn calls(&self) -> u64 {
        self.calls
    }

    /// The running digest.
    pub fn digest(&self) -> [u8; 32] {
        self.chain
    }

    /// Starts the outcome of a record of kind `k`: the scratch cleared, the kind written, for the caller
    /// to append the outcome but for its bulk.
    pub fn start(&mut self, k: u8) -> &mut Vec<u8> {
        self.outcome.clear();
        self.outcome.push(k);
        &mut self.outcome
    }

    /// Journals `call` (`None` for a poll, which has no arguments) with the outcome [`Writer::start`]
    /// began and `bulk` after it, digested where it lies. Once the bytes waiting to be taken would pass
    /// their bound, recording stops for good: what was journaled stays a valid journal, a prefix of the
    /// session.
    pub fn record(&mut self, call: Option<&Call<'_>>, bulk: &[u8]) {
        if self.stopped {
            return;
        }
        if let Some(call) = call.filter(|_| self.plain_success(bulk)) {
            self.frame(call.kind() | kind::SUCCEEDED, Some(call), &[], &[], None, false);
            return;
        }
        self.chain = chain(&self.chain, &self.outcome, bulk);
        self.frame_outcome(call, bulk, None);
    }

    /// Whether the outcome [`Writer::start`] began (and `bulk`) is a plain success, `Ok(())` or `()`:
    /// most inputs' (every datagram, timeout and message sent that went well).
    fn plain_success(&self, bulk: &[u8]) -> bool {
        bulk.is_empty() && matches!(self.outcome.get(1..), Some([] | [0]))
    }

    /// [`Writer::record`] for a `send` of `data` (the bytes `call` carries): a large message is kept by
    /// reference, not copied, until taken.
    pub fn record_send(&mut self, call: &Call<'_>, data: &Bytes) {
        if self.stopped {
            return;
        }
        let by_ref = (data.len() >= SPLICE_MIN).then_some(data);
        if self.plain_success(&[]) {
            self.frame(call.kind() | kind::SUCCEEDED, Some(call), &[], &[], by_ref, false);
            return;
        }
        self.chain = chain(&self.chain, &self.outcome, &[]);
        self.frame_outcome(Some(call), &[], by_ref);
    }

    /// [`Writer::record`] for a `handle_receive` that succeeded plainly (nearly every datagram): its
    /// arguments framed straight into the bytes waiting, the datagram copied once.
    pub fn record_received(&mut self, now: Instant, datagram: &Datagram<'_>) {
        if self.stopped {
            return;
        }
        let data = datagram.contents;
        let addr_len = |a: &SocketAddr| if a.is_ipv4() { 7 } else { 27 };
        let args = 8
            + addr_len(&datagram.source)
            + addr_len(&datagram.destination)
            + wire::varint_len(data.len() as u64)
            + data.len();
        let mut head = Head::<96>::new();
        head.varint(args as u64 + 1);
        head.put(&[kind::RECEIVE | kind::SUCCEEDED]);
        head.put(&now.as_nanos().to_le_bytes());
        head.addr(datagram.source);
        head.addr(datagram.destination);
        head.varint(data.len() as u64);
        let total = head.len() + data.len();
        if self.pending_len().saturating_add(total) > self.max_pending {
            self.stop();
            return;
        }
        let at = self.pending.len();
        self.pending.reserve(total);
        self.pending.extend_from_slice(head.bytes());
        self.pending.extend_from_slice(data);
        self.calls += 1;
        #[cfg(debug_assertions)]
        {
            // The same bytes as the general framing writes.
            let mut reference = Vec::new();
            Call::Receive { now, datagram: *datagram }.put_args(&mut reference);
            let mut framed = Vec::new();
            put_frame(&mut framed, kind::RECEIVE | kind::SUCCEEDED, &reference);
            debug_assert_eq!(self.pending.get(at..), Some(&framed[..]), "receive record framing");
        }
        let _ = at;
    }

    /// [`Writer::record`] for a `poll_transmit` that returned `t`, its datagram digested where it lies
    /// (see [`chain_datagram`]).
    pub fn record_transmit(&mut self, t: &Transmit<'_>) {
        if self.stopped {
            return;
        }
        if self.whole {
            let bulk = put_transmit_head(self.start(kind::POLL_TRANSMIT), Some(t));
            self.chain = chain_datagram(&self.chain, &self.outcome, bulk);
            self.frame_outcome(None, bulk, None);
            return;
        }
        // The head written where the records are condensed after it, hashed with them in one piece.
        let mut view = TransmitView::new();
        view.put(&[kind::POLL_TRANSMIT, 1]);
        view.addr(t.source);
        view.addr(t.destination);
        view.varint(t.contents.len() as u64);
        self.chain = chain_transmit(&self.chain, &mut view, t.contents);
        // Length, kind and digest, in one piece.
        let mut record = [0u8; 2 + DIGEST_LEN];
        let (framing, digest) = record.split_at_mut(2);
        framing.copy_from_slice(&[1 + DIGEST_LEN as u8, kind::POLL_TRANSMIT]);
        digest.copy_from_slice(self.chain.get(..DIGEST_LEN).unwrap_or(&[0; DIGEST_LEN]));
        if self.pending_len().saturating_add(record.len()) > self.max_pending {
            self.stop();
            return;
        }
        self.pending.extend_from_slice(&record);
        self.calls += 1;
    }

    fn frame_outcome(&mut self, call: Option<&Call<'_>>, bulk: &[u8], by_ref: Option<&Bytes>) {
        let outcome = core::mem::take(&mut self.outcome);
        let (k, head) = outcome.split_first().map_or((0, &[][..]), |(k, h)| (*k, h));
        self.frame(k, call, head, bulk, by_ref, true);
        self.outcome = outcome;
    }

    /// Journals a poll that returned nothing (record kind `k`, 0x14 or 0x15): two bytes, no digest, and
    /// the running digest does not move. Most polls return nothing (the loop polls until `None`), so
    /// this keeps them cheap.
    #[inline]
    pub fn record_nothing(&mut self, k: u8) {
        if self.stopped {
            return;
        }
        if self.pending_len().saturating_add(2) > self.max_pending {
            self.stop();
            return;
        }
        self.pending.extend_from_slice(&[1, k]);
        self.calls += 1;
    }

    /// Journals a `poll_timeout` that gave `deadline`.
    pub fn record_deadline(&mut self, deadline: Option<Instant>) {
        put_deadline(self.start(kind::POLL_TIMEOUT), deadline);
        self.record(None, &[]);
    }

    /// What [`Writer::digest`] will be once a `poll_timeout` that gave `deadline` is journaled.
    pub fn digest_after_deadline(&self, deadline: Option<Instant>) -> [u8; 32] {
        if self.stopped {
            return self.chain;
        }
        let mut head = Vec::with_capacity(10);
        head.push(kind::POLL_TIMEOUT);
        put_deadline(&mut head, deadline);
        chain(&self.chain, &head, &[])
    }

    fn stop(&mut self) {
        tracing::debug!(target: super::TARGET, calls = self.calls, "journal bound reached: recording stops");
        self.stopped = true;
    }

    /// Appends the record of kind `k` (whose digest is the chain's) with `call`'s arguments (none when
    /// `None`) and, in whole-outputs journals, the outcome `head ‖ bulk`. `by_ref` is the message of a
    /// `send` call, spliced in rather than copied. Without `digested` the record has neither digest nor
    /// outcome (a plain success).
    fn frame(
        &mut self,
        k: u8,
        call: Option<&Call<'_>>,
        head: &[u8],
        bulk: &[u8],
        by_ref: Option<&Bytes>,
        digested: bool,
    ) {
        let digest = self.chain.get(..DIGEST_LEN).filter(|_| digested).unwrap_or(&[]);
        let outcome_len = if self.whole && digested { head.len() + bulk.len() } else { 0 };
        // The calls on the hot path are framed in place, their arguments written once; the others go
        // through the scratch body.
        let args_len = call.map_or(Some(0), Call::args_len);
        let body_len = match (args_len, call) {
            (Some(args), _) => args + digest.len() + outcome_len,
            (None, Some(call)) => {
                self.body.clear();
                call.put_args(&mut self.body);
                self.body.len() + digest.len() + outcome_len
            }
            (None, None) => digest.len() + outcome_len,
        };
        if self.pending_len().saturating_add(body_len + 11) > self.max_pending {
            self.stop();
            return;
        }
        let out = &mut self.pending;
        out.reserve(body_len + 11);
        put_varint(out, body_len as u64 + 1);
        out.push(k);
        match (args_len, call) {
            (_, Some(Call::Send { now, channel, binary, data })) if by_ref.is_some() => {
                put_instant(out, *now);
                put_u32(out, channel.0);
                put_bool(out, *binary);
                put_varint(out, data.len() as u64);
                if let Some(b) = by_ref {
                    self.spliced.push((out.len(), b.clone()));
                    self.spliced_len += b.len();
                }
            }
            (Some(_args), Some(call)) => {
                let at = out.len();
                call.put_args(out);
                debug_assert_eq!(out.len() - at, _args, "args_len agrees with put_args");
            }
            (None, Some(_)) => out.extend_from_slice(&self.body),
            (_, None) => {}
        }
        out.extend_from_slice(digest);
        if self.whole && digested {
            out.extend_from_slice(head);
            out.extend_from_slice(bulk);
        }
        self.calls += 1;
    }

    /// The bytes waiting, messages kept by reference included.
    fn pending_len(&self) -> usize {
        self.pending.len() + self.spliced_len
    }

    /// The bytes waiting, in order, handed to `write` piece by piece (messages kept by reference where
    /// they lie): no copy, no allocation. They are taken even if `write` fails.
    pub fn take_with<E>(&mut self, mut write: impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
        let mut from = 0;
        let mut r = Ok(());
        for (at, bytes) in self.spliced.drain(..) {
            if r.is_ok() {
                r = write(self.pending.get(from..at).unwrap_or_default()).and_then(|()| write(&bytes));
            }
            from = at;
        }
        if r.is_ok() {
            r = write(self.pending.get(from..).unwrap_or_default());
        }
        self.pending.clear();
        self.spliced_len = 0;
        r
    }

    /// The bytes waiting, swapped into `out` (cleared first), whose buffer the journal reuses: no copy
    /// and, once both buffers have grown, no allocation (but for messages kept by reference, copied in).
    pub fn take_into(&mut self, out: &mut Vec<u8>) {
        out.clear();
        if self.spliced.is_empty() {
            core::mem::swap(&mut self.pending, out);
            return;
        }
        out.reserve(self.pending_len());
        let _ = self.take_with(|b| {
            out.extend_from_slice(b);
            Ok::<(), ()>(())
        });
    }

    /// The bytes waiting; the next ones go into a buffer as large as these were, so that a caller taking
    /// after each loop turn does not make the journal grow its buffer from nothing every time.
    pub fn take(&mut self) -> Vec<u8> {
        if !self.spliced.is_empty() {
            let mut out = Vec::new();
            self.take_into(&mut out);
            return out;
        }
        let capacity = self.pending.len().min(self.max_pending);
        core::mem::replace(&mut self.pending, Vec::with_capacity(capacity))
    }
}

/// A journal being read: its header and opening record checked, its call records read on demand.
///
/// ```
/// # use sansrtc::record::{Journal, RecordOptions, RecordedPeerConnection};
/// # use sansrtc::pc::Config;
/// let mut pc = RecordedPeerConnection::new(Config::default(), [7; 32], RecordOptions::default());
/// pc.end_of_local_candidates(sansrtc::Instant::from_millis(5));
/// let bytes = pc.take_journal();
/// let journal = Journal::parse(&bytes)?;
/// assert_eq!(journal.seed(), &[7; 32]);
/// for entry in journal.entries() {
///     let entry = entry?;
///     println!("#{} {}", entry.index, entry.call);
/// }
/// # Ok::<(), sansrtc::record::JournalError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Journal<'a> {
    bytes: &'a [u8],
    whole: bool,
    seed: Seed,
    config: Config,
    /// Where the first call record starts.
    first: usize,
}

impl<'a> Journal<'a> {
    /// Checks the header and reads the opening record (seed and configuration).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, JournalError> {
        let flags = wire::read_header(bytes)?;
        let Some(frame) = wire::read_frame(bytes, HEADER_LEN) else {
            return Err(JournalError::Truncated { offset: HEADER_LEN });
        };
        let (mut frame, first) = frame?;
        if frame.kind != kind::OPEN {
            return Err(JournalError::Corrupt {
                offset: frame.offset,
                what: "the first record is not the opening record",
            });
        }
        let seed = frame.body.array::<32>("seed")?;
        let config = read_config(&mut frame.body)?;
        frame.body.finish("bytes after the configuration")?;
        Ok(Journal { bytes, whole: flags & FLAG_WHOLE != 0, seed, config, first })
    }

    /// Whether call records carry their outcomes whole.
    pub fn whole_outputs(&self) -> bool {
        self.whole
    }

    /// The seed the connection was built with.
    pub fn seed(&self) -> &Seed {
        &self.seed
    }

    /// The configuration the connection was built with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The journal's bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The call records, in order. Iteration stops after the first error.
    pub fn entries(&self) -> Entries<'a> {
        Entries { bytes: self.bytes, next: self.first, index: 0, whole: self.whole, failed: false }
    }

    /// The offset of the first call record.
    pub(super) fn first_offset(&self) -> usize {
        self.first
    }
}

/// The call records of a [`Journal`]; see [`Journal::entries`].
#[derive(Clone, Debug)]
pub struct Entries<'a> {
    bytes: &'a [u8],
    next: usize,
    index: u64,
    whole: bool,
    failed: bool,
}

impl<'a> Entries<'a> {
    /// An iterator starting at `offset` (a record boundary), numbering from `index`.
    pub(super) fn at(bytes: &'a [u8], offset: usize, index: u64, whole: bool) -> Self {
        Entries { bytes, next: offset, index, whole, failed: false }
    }

    /// The offset of the next record.
    pub fn offset(&self) -> usize {
        self.next
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>, JournalError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let r = wire::read_frame(self.bytes, self.next)?.and_then(|(frame, end)| {
            let mut body = frame.body;
            let nothing = match frame.kind {
                kind::POLL_TRANSMIT_NONE => Some(Call::PollTransmit),
                kind::POLL_EVENT_NONE => Some(Call::PollEvent),
                _ => None,
            };
            if let Some(call) = nothing {
                body.finish("bytes in a poll that returned nothing")?;
                let entry = Entry {
                    index: self.index,
                    offset: frame.offset,
                    call,
                    digest: [0; DIGEST_LEN],
                    outcome: None,
                    nothing: true,
                    succeeded: false,
                };
                return Ok((entry, end));
            }
            let succeeded = frame.kind & kind::SUCCEEDED != 0 && frame.kind != kind::SUCCEEDED;
            let call_kind = if succeeded { frame.kind & !kind::SUCCEEDED } else { frame.kind };
            let call = match Call::read_args(call_kind, &mut body)? {
                Some(call) if succeeded && call.is_poll() => {
                    return Err(JournalError::Corrupt { offset: frame.offset, what: "a poll marked as an input" });
                }
                Some(call) => call,
                None if frame.kind == kind::OPEN => {
                    return Err(JournalError::Corrupt { offset: frame.offset, what: "a second opening record" });
                }
                None => return Err(JournalError::Corrupt { offset: frame.offset, what: "unknown record kind" }),
            };
            if succeeded {
                body.finish("bytes after the arguments")?;
                let entry = Entry {
                    index: self.index,
                    offset: frame.offset,
                    call,
                    digest: [0; DIGEST_LEN],
                    outcome: None,
                    nothing: false,
                    succeeded: true,
                };
                return Ok((entry, end));
            }
            let digest = body.array::<DIGEST_LEN>("digest")?;
            let outcome = if self.whole {
                Some(body.rest())
            } else {
                body.finish("bytes after the digest")?;
                None
            };
            let entry = Entry {
                index: self.index,
                offset: frame.offset,
                call,
                digest,
                outcome,
                nothing: false,
                succeeded: false,
            };
            Ok((entry, end))
        });
        match r {
            Ok((entry, end)) => {
                self.next = end;
                self.index += 1;
                Some(Ok(entry))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}
