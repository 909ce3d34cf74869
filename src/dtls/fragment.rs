//! Packing a flight into datagrams: handshake messages are cut into fragments that fit the MTU (RFC 6347
//! §4.2.3, RFC 9147 §5.5), several records share a datagram while they fit. DTLS 1.2 and 1.3 flights differ
//! only in how a fragment becomes a record (a DTLSPlaintext or DTLSCiphertext of 1.2, a unified-header
//! record of 1.3), which the caller passes as a sealing closure along with that record's overhead.

use alloc::vec::Vec;

use super::wire::HandshakeType;
use super::wire::handshake::HandshakeHeader;

/// Room a fragment wants before we would rather start a new datagram than send a sliver of it.
const MIN_FRAGMENT: usize = 32;

/// The datagram being filled and the scratch buffer of one fragment.
pub(crate) struct Packer {
    mtu: usize,
    dgram: Vec<u8>,
    fragment: Vec<u8>,
}

impl Packer {
    /// A packer of datagrams of at most `mtu` bytes.
    pub(crate) fn new(mtu: usize) -> Packer {
        Packer { mtu, dgram: Vec::with_capacity(mtu), fragment: Vec::with_capacity(mtu) }
    }

    /// Hands the datagram to `flush` unless `need` more bytes fit in it.
    pub(crate) fn make_room(&mut self, need: usize, flush: &mut impl FnMut(&[u8])) {
        if self.dgram.len() + need > self.mtu {
            self.flush(flush);
        }
    }

    /// The datagram being filled, to append a record that is not a handshake fragment (after
    /// [`make_room`](Self::make_room)).
    pub(crate) fn datagram(&mut self) -> &mut Vec<u8> {
        &mut self.dgram
    }

    /// Appends handshake message `msg_type` number `message_seq` with `body`, cut into fragments (each with
    /// its handshake header) that `seal` turns into a record appended to the datagram it is given; a record
    /// adds `overhead` bytes to the handshake header and fragment. Full datagrams go to `flush`.
    pub(crate) fn message(
        &mut self,
        msg_type: HandshakeType,
        message_seq: u16,
        body: &[u8],
        overhead: usize,
        flush: &mut impl FnMut(&[u8]),
        seal: &mut impl FnMut(&mut Vec<u8>, &[u8]),
    ) {
        let overhead = overhead + super::wire::handshake::HEADER_LEN;
        let mut off = 0usize;
        loop {
            let left = body.len() - off;
            let room = self.mtu.saturating_sub(self.dgram.len() + overhead);
            if room < left.clamp(1, MIN_FRAGMENT) && !self.dgram.is_empty() {
                self.flush(flush);
                continue;
            }
            let n = left.min(room.max(1));
            self.fragment.clear();
            HandshakeHeader {
                msg_type,
                length: body.len() as u32,
                message_seq,
                fragment_offset: off as u32,
                fragment_length: n as u32,
            }
            .write(&mut self.fragment);
            self.fragment.extend_from_slice(body.get(off..off + n).unwrap_or(&[]));
            seal(&mut self.dgram, &self.fragment);
            off += n;
            if off >= body.len() {
                break;
            }
        }
    }

    /// Hands a non-empty datagram to `flush` and starts the next.
    pub(crate) fn flush(&mut self, flush: &mut impl FnMut(&[u8])) {
        if !self.dgram.is_empty() {
            flush(&self.dgram);
            self.dgram.clear();
        }
    }
}
