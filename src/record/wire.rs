//! The journal's byte layout: the header, the record framing, and the field codecs every record is made of.
//! See `docs/journal.md` for the layout as a specification.
//!
//! Writing appends to a `Vec<u8>`; reading goes through [`Reader`], which borrows the journal and names the
//! absolute byte offset of whatever it cannot read.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use core::time::Duration;

use crate::time::Instant;

/// The journal's first eight bytes. The high first byte and the CR LF / SUB / LF (as in PNG) catch a file
/// read or written in text mode.
pub const MAGIC: [u8; 8] = *b"\x89SRJ\r\n\x1a\n";
/// The format version this code writes and reads.
pub const VERSION: u16 = 5;
/// Header length: magic, version (u16 LE), flags (u16 LE).
pub const HEADER_LEN: usize = 12;
/// Header flag: every call record carries its outcome whole, not only its digest.
pub const FLAG_WHOLE: u16 = 1;
/// Bytes of the running digest kept in each call record.
pub const DIGEST_LEN: usize = 16;

/// The longest duration a journal may carry (2^40 s, some 35,000 years): longer values are taken for
/// corruption, so a damaged journal cannot hand a machine a timer that overflows.
const MAX_DURATION_SECS: u64 = 1 << 40;

/// Why a journal cannot be read. Every variant names the byte offset where reading stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JournalError {
    /// The first bytes are not the journal magic (offset 0).
    NotAJournal,
    /// The journal was written in another format version (the version field is at offset 8).
    UnsupportedVersion {
        /// The version found.
        found: u16,
    },
    /// The journal ends inside the header or inside the record starting at `offset` (a writer stopped
    /// mid-append).
    Truncated {
        /// Where the incomplete header or record starts.
        offset: usize,
    },
    /// A field cannot be what its record says it is.
    Corrupt {
        /// Where the bad field starts.
        offset: usize,
        /// What is wrong.
        what: &'static str,
    },
}

impl JournalError {
    /// The byte offset the error is about.
    pub fn offset(&self) -> usize {
        match *self {
            JournalError::NotAJournal => 0,
            JournalError::UnsupportedVersion { .. } => MAGIC.len(),
            JournalError::Truncated { offset } | JournalError::Corrupt { offset, .. } => offset,
        }
    }
}

impl fmt::Display for JournalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JournalError::NotAJournal => f.write_str("not a sansrtc journal (bad magic at offset 0)"),
            JournalError::UnsupportedVersion { found } => {
                write!(f, "journal format version {found} at offset 8 (this code reads version {VERSION})")
            }
            JournalError::Truncated { offset } => write!(f, "journal truncated in the record at offset {offset}"),
            JournalError::Corrupt { offset, what } => write!(f, "corrupt journal at offset {offset}: {what}"),
        }
    }
}

impl core::error::Error for JournalError {}

/// The header: the whole-outputs flag.
pub fn header(whole: bool) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(&MAGIC);
    h[8..10].copy_from_slice(&VERSION.to_le_bytes());
    h[10..12].copy_from_slice(&(if whole { FLAG_WHOLE } else { 0 }).to_le_bytes());
    h
}

/// Reads the header; returns the flags.
pub fn read_header(journal: &[u8]) -> Result<u16, JournalError> {
    let magic_len = journal.len().min(MAGIC.len());
    if journal.get(..magic_len) != MAGIC.get(..magic_len) {
        return Err(JournalError::NotAJournal);
    }
    let mut r = Reader::new(journal, 0);
    let fields = r.take(MAGIC.len(), "magic").and_then(|_| Ok((r.u16("version")?, r.u16("flags")?)));
    let Ok((version, flags)) = fields else { return Err(JournalError::Truncated { offset: 0 }) };
    if version != VERSION {
        return Err(JournalError::UnsupportedVersion { found: version });
    }
    if flags & !FLAG_WHOLE != 0 {
        return Err(JournalError::Corrupt { offset: 10, what: "unknown header flags" });
    }
    Ok(flags)
}

// ----- writing -----

/// Appends `v` as an unsigned LEB128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// How many bytes [`put_varint`] appends for `v`.
pub fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

pub fn put_u8(out: &mut Vec<u8>, v: u8) {
    out.push(v);
}

pub fn put_bool(out: &mut Vec<u8>, v: bool) {
    out.push(u8::from(v));
}

pub fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub fn put_usize(out: &mut Vec<u8>, v: usize) {
    put_u64(out, v as u64);
}

pub fn put_instant(out: &mut Vec<u8>, t: Instant) {
    put_u64(out, t.as_nanos());
}

pub fn put_duration(out: &mut Vec<u8>, d: Duration) {
    put_u64(out, d.as_secs());
    put_u32(out, d.subsec_nanos());
}

pub fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

pub fn put_str(out: &mut Vec<u8>, s: &str) {
    put_bytes(out, s.as_bytes());
}

/// Family byte 4 (address, port BE) or 6 (address, port BE, flow info, scope id), so an address comes
/// back equal, scope and all.
pub fn put_addr(out: &mut Vec<u8>, a: SocketAddr) {
    match a {
        SocketAddr::V4(a) => {
            out.push(4);
            out.extend_from_slice(&a.ip().octets());
            out.extend_from_slice(&a.port().to_be_bytes());
        }
        SocketAddr::V6(a) => {
            out.push(6);
            out.extend_from_slice(&a.ip().octets());
            out.extend_from_slice(&a.port().to_be_bytes());
            put_u32(out, a.flowinfo());
            put_u32(out, a.scope_id());
        }
    }
}

pub fn put_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(ip) => {
            out.push(4);
            out.extend_from_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            out.push(6);
            out.extend_from_slice(&ip.octets());
        }
    }
}

pub fn put_opt<T>(out: &mut Vec<u8>, v: Option<T>, put: impl FnOnce(&mut Vec<u8>, T)) {
    match v {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            put(out, v);
        }
    }
}

// ----- reading -----

/// A cursor over one part of the journal (a record body), reporting absolute offsets.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// The absolute offset of `buf[0]` in the journal.
    base: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], base: usize) -> Self {
        Reader { buf, pos: 0, base }
    }

    /// The absolute offset of the next byte.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// What is left, taken whole.
    pub fn rest(&mut self) -> &'a [u8] {
        let rest = self.buf.get(self.pos..).unwrap_or(&[]);
        self.pos = self.buf.len();
        rest
    }

    pub fn corrupt(&self, what: &'static str) -> JournalError {
        JournalError::Corrupt { offset: self.offset(), what }
    }

    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], JournalError> {
        let end = self.pos.checked_add(n).ok_or_else(|| self.corrupt(what))?;
        let b = self.buf.get(self.pos..end).ok_or_else(|| self.corrupt(what))?;
        self.pos = end;
        Ok(b)
    }

    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], JournalError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, JournalError> {
        Ok(self.array::<1>(what)?[0])
    }

    pub fn bool(&mut self, what: &'static str) -> Result<bool, JournalError> {
        let at = self.clone();
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(at.corrupt(what)),
        }
    }

    pub fn u16(&mut self, what: &'static str) -> Result<u16, JournalError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    pub fn u32(&mut self, what: &'static str) -> Result<u32, JournalError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub fn u64(&mut self, what: &'static str) -> Result<u64, JournalError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// A `usize` written as u64, at most `max`.
    pub fn usize(&mut self, max: usize, what: &'static str) -> Result<usize, JournalError> {
        let at = self.clone();
        let v = self.u64(what)?;
        usize::try_from(v).ok().filter(|v| *v <= max).ok_or_else(|| at.corrupt(what))
    }

    pub fn varint(&mut self, what: &'static str) -> Result<u64, JournalError> {
        let at = self.clone();
        let mut v = 0u64;
        for i in 0..10 {
            let byte = self.u8(what)?;
            let bits = u64::from(byte & 0x7f);
            if i == 9 && bits > 1 {
                return Err(at.corrupt(what));
            }
            v |= bits << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(at.corrupt(what))
    }

    pub fn instant(&mut self, what: &'static str) -> Result<Instant, JournalError> {
        Ok(Instant::from_nanos(self.u64(what)?))
    }

    pub fn duration(&mut self, what: &'static str) -> Result<Duration, JournalError> {
        let at = self.clone();
        let secs = self.u64(what)?;
        let nanos = self.u32(what)?;
        if secs > MAX_DURATION_SECS || nanos >= 1_000_000_000 {
            return Err(at.corrupt(what));
        }
        Ok(Duration::new(secs, nanos))
    }

    pub fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], JournalError> {
        let len = self.varint(what)?;
        let len = usize::try_from(len).map_err(|_| self.corrupt(what))?;
        self.take(len, what)
    }

    pub fn str(&mut self, what: &'static str) -> Result<&'a str, JournalError> {
        let at = self.clone();
        let b = self.bytes(what)?;
        core::str::from_utf8(b).map_err(|_| at.corrupt(what))
    }

    pub fn string(&mut self, what: &'static str) -> Result<String, JournalError> {
        self.str(what).map(String::from)
    }

    pub fn addr(&mut self, what: &'static str) -> Result<SocketAddr, JournalError> {
        let at = self.clone();
        match self.u8(what)? {
            4 => {
                let ip: [u8; 4] = self.array(what)?;
                let port = u16::from_be_bytes(self.array(what)?);
                Ok(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port)))
            }
            6 => {
                let ip: [u8; 16] = self.array(what)?;
                let port = u16::from_be_bytes(self.array(what)?);
                let flowinfo = self.u32(what)?;
                let scope = self.u32(what)?;
                Ok(SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(ip), port, flowinfo, scope)))
            }
            _ => Err(at.corrupt(what)),
        }
    }

    pub fn ip(&mut self, what: &'static str) -> Result<IpAddr, JournalError> {
        let at = self.clone();
        match self.u8(what)? {
            4 => Ok(IpAddr::V4(Ipv4Addr::from(self.array::<4>(what)?))),
            6 => Ok(IpAddr::V6(Ipv6Addr::from(self.array::<16>(what)?))),
            _ => Err(at.corrupt(what)),
        }
    }

    pub fn opt<T>(
        &mut self,
        what: &'static str,
        read: impl FnOnce(&mut Self) -> Result<T, JournalError>,
    ) -> Result<Option<T>, JournalError> {
        if self.bool(what)? { read(self).map(Some) } else { Ok(None) }
    }

    /// Fails unless every byte was read.
    pub fn finish(&self, what: &'static str) -> Result<(), JournalError> {
        if self.is_empty() { Ok(()) } else { Err(self.corrupt(what)) }
    }
}

/// One framed record: its offset, its kind byte and its body.
#[derive(Clone, Debug)]
pub struct Frame<'a> {
    /// Where the record (its length prefix) starts.
    pub offset: usize,
    pub kind: u8,
    pub body: Reader<'a>,
}

/// Reads the frame starting at `offset`: a varint length, then that many bytes (the kind byte and the
/// body). `None` at the end of the journal.
pub fn read_frame(journal: &[u8], offset: usize) -> Option<Result<(Frame<'_>, usize), JournalError>> {
    let rest = journal.get(offset..).filter(|r| !r.is_empty())?;
    let mut r = Reader::new(rest, offset);
    let len = match r.varint("record length") {
        Ok(len) => len,
        // A varint cut short by the end of the journal is a truncation; a malformed one is corruption.
        Err(_) if rest.len() < 10 && rest.iter().all(|b| b & 0x80 != 0) => {
            return Some(Err(JournalError::Truncated { offset }));
        }
        Err(e) => return Some(Err(e)),
    };
    if len == 0 {
        return Some(Err(JournalError::Corrupt { offset, what: "empty record" }));
    }
    let start = r.offset() - offset;
    let Some(end) = usize::try_from(len).ok().and_then(|l| start.checked_add(l)) else {
        return Some(Err(JournalError::Truncated { offset }));
    };
    let Some(record) = rest.get(start..end) else { return Some(Err(JournalError::Truncated { offset })) };
    let (kind, body) = match record.split_first() {
        Some((k, b)) => (*k, b),
        None => return Some(Err(JournalError::Corrupt { offset, what: "empty record" })),
    };
    let body = Reader::new(body, offset + start + 1);
    Some(Ok((Frame { offset, kind, body }, offset + end)))
}

/// Appends one record: its length, `kind`, and `body`.
pub fn put_frame(out: &mut Vec<u8>, kind: u8, body: &[u8]) {
    put_varint(out, body.len() as u64 + 1);
    out.push(kind);
    out.extend_from_slice(body);
}
