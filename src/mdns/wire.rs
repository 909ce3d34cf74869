//! DNS messages as Multicast DNS uses them (RFC 1035 §4, RFC 6762 §18): a view over a received buffer
//! with lazy question and record iterators, names read through compression pointers with bounds on jumps
//! and length, and writers for queries and answers.
//!
//! After [`Message::new_checked`] succeeds the header getters cannot panic; names, questions and records
//! are validated as they are read, each yielding `Result`.

use alloc::vec::Vec;
use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use super::Error;

/// The mDNS port (RFC 6762 §3).
pub const PORT: u16 = 5353;
/// The IPv4 mDNS group, 224.0.0.251.
pub const GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 251);
/// The IPv6 mDNS group, ff02::fb (link-local scope).
pub const GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0xfb);
/// The header's length.
pub const HEADER_LEN: usize = 12;
/// Compression pointers followed in one name at most.
pub const MAX_POINTERS: usize = 16;
/// The longest name (RFC 1035 §3.1), in octets on the wire.
pub const MAX_NAME_LEN: usize = 255;
/// The longest label (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;
/// Class IN.
pub const CLASS_IN: u16 = 1;
/// The top bit of a question's class: unicast response wanted (QU, RFC 6762 §5.4).
pub const UNICAST_RESPONSE: u16 = 0x8000;
/// The top bit of a record's class: cache flush (RFC 6762 §10.2).
pub const CACHE_FLUSH: u16 = 0x8000;

/// The group address of a family, as a destination: `224.0.0.251:5353`, or `[ff02::fb]:5353` with the
/// scope (interface) of `source` when it is IPv6.
pub fn group_for(source: SocketAddr) -> SocketAddr {
    match source {
        SocketAddr::V4(_) => SocketAddr::V4(SocketAddrV4::new(GROUP_V4, PORT)),
        SocketAddr::V6(s) => SocketAddr::V6(SocketAddrV6::new(GROUP_V6, PORT, 0, s.scope_id())),
    }
}

mod field {
    use core::ops::Range;
    pub const ID: Range<usize> = 0..2;
    pub const FLAGS: Range<usize> = 2..4;
    pub const QDCOUNT: Range<usize> = 4..6;
    pub const ANCOUNT: Range<usize> = 6..8;
    pub const NSCOUNT: Range<usize> = 8..10;
    pub const ARCOUNT: Range<usize> = 10..12;
}

/// A record or question type; unknown values are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RecordType(pub u16);

impl RecordType {
    /// An IPv4 address (RFC 1035).
    pub const A: RecordType = RecordType(1);
    /// An IPv6 address (RFC 3596).
    pub const AAAA: RecordType = RecordType(28);
    /// Any type (a question only).
    pub const ANY: RecordType = RecordType(255);
}

/// The header's flags word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Flags(pub u16);

impl Flags {
    /// QR: a response.
    pub const RESPONSE: u16 = 0x8000;
    /// AA: authoritative (every mDNS response sets it, RFC 6762 §18.4).
    pub const AUTHORITATIVE: u16 = 0x0400;
    /// TC: truncated (more known answers follow, RFC 6762 §18.5).
    pub const TRUNCATED: u16 = 0x0200;

    /// Whether QR is set.
    pub fn is_response(self) -> bool {
        self.0 & Self::RESPONSE != 0
    }

    /// The opcode (zero for mDNS, RFC 6762 §18.3).
    pub fn opcode(self) -> u8 {
        ((self.0 >> 11) & 0xf) as u8
    }

    /// The response code (zero for mDNS, RFC 6762 §18.11).
    pub fn rcode(self) -> u8 {
        (self.0 & 0xf) as u8
    }
}

/// A DNS message: a view over its bytes.
#[derive(Clone, Copy, Debug)]
pub struct Message<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Message<T> {
    /// Wraps `buffer` after checking it holds a header.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(Message { buffer })
    }

    fn u16_at(&self, range: core::ops::Range<usize>) -> u16 {
        match self.buffer.as_ref().get(range) {
            Some(&[a, b]) => u16::from_be_bytes([a, b]),
            _ => 0,
        }
    }

    /// The message id (zero in multicast mDNS, echoed in a legacy unicast response).
    pub fn id(&self) -> u16 {
        self.u16_at(field::ID)
    }

    /// The flags.
    pub fn flags(&self) -> Flags {
        Flags(self.u16_at(field::FLAGS))
    }

    /// QDCOUNT.
    pub fn question_count(&self) -> u16 {
        self.u16_at(field::QDCOUNT)
    }

    /// ANCOUNT.
    pub fn answer_count(&self) -> u16 {
        self.u16_at(field::ANCOUNT)
    }

    /// NSCOUNT.
    pub fn authority_count(&self) -> u16 {
        self.u16_at(field::NSCOUNT)
    }

    /// ARCOUNT.
    pub fn additional_count(&self) -> u16 {
        self.u16_at(field::ARCOUNT)
    }

    /// The questions, read as they are taken. A count larger than the message ends in
    /// [`Error::Truncated`].
    pub fn questions(&self) -> Questions<'_> {
        Questions { msg: self.buffer.as_ref(), pos: HEADER_LEN, left: self.question_count() }
    }

    /// The records of the answer, authority and additional sections in order, read as they are taken
    /// (the questions are skipped first). A count larger than the message ends in [`Error::Truncated`].
    pub fn records(&self) -> Records<'_> {
        let total =
            u32::from(self.answer_count()) + u32::from(self.authority_count()) + u32::from(self.additional_count());
        Records {
            msg: self.buffer.as_ref(),
            pos: None,
            questions: self.question_count(),
            answers: self.answer_count(),
            authority: self.authority_count(),
            index: 0,
            left: total,
        }
    }
}

/// A name inside a message, read through its compression pointers when asked.
#[derive(Clone, Copy)]
pub struct Name<'a> {
    msg: &'a [u8],
    pos: usize,
}

impl<'a> Name<'a> {
    /// The labels, in order, each yielding an error if the name is malformed.
    pub fn labels(&self) -> Labels<'a> {
        Labels { msg: self.msg, pos: self.pos, pointers: 0, len: 0, done: false }
    }

    /// Whether this name equals `name` (dotted, a trailing dot optional), ignoring ASCII case
    /// (RFC 6762 §16). A malformed name equals nothing.
    pub fn eq_str(&self, name: &str) -> bool {
        let name = name.strip_suffix('.').unwrap_or(name);
        let mut wanted = name.split('.');
        for label in self.labels() {
            let Ok(label) = label else { return false };
            match wanted.next() {
                Some(w) if w.as_bytes().eq_ignore_ascii_case(label) => {}
                _ => return false,
            }
        }
        wanted.next().is_none() && !name.is_empty()
    }
}

impl fmt::Debug for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Name<'_> {
    /// Dotted, with bytes outside printable ASCII shown as `?`; `<malformed>` for a bad name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.labels().any(|l| l.is_err()) {
            return f.write_str("<malformed>");
        }
        for (i, label) in self.labels().flatten().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            for &b in label {
                let c = if b.is_ascii_graphic() { char::from(b) } else { '?' };
                fmt::Write::write_char(f, c)?;
            }
        }
        Ok(())
    }
}

/// The labels of a [`Name`]. Pointers must point strictly backwards (to before the label that holds
/// them), at most [`MAX_POINTERS`] are followed, and the name may not exceed [`MAX_NAME_LEN`]: every
/// name is read in bounded time, loops included.
#[derive(Clone, Debug)]
pub struct Labels<'a> {
    msg: &'a [u8],
    pos: usize,
    pointers: usize,
    len: usize,
    done: bool,
}

impl<'a> Iterator for Labels<'a> {
    type Item = Result<&'a [u8], Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            let r = step(self.msg, self.pos);
            let step = match r {
                Ok(s) => s,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            match step {
                Step::End => {
                    self.done = true;
                    return None;
                }
                Step::Pointer(target) => {
                    self.pointers += 1;
                    if self.pointers > MAX_POINTERS {
                        self.done = true;
                        return Some(Err(Error::TooManyPointers));
                    }
                    self.pos = target;
                }
                Step::Label(label) => {
                    self.len += label.len() + 1;
                    if self.len + 1 > MAX_NAME_LEN {
                        self.done = true;
                        return Some(Err(Error::NameTooLong));
                    }
                    self.pos += label.len() + 1;
                    return Some(Ok(label));
                }
            }
        }
    }
}

enum Step<'a> {
    End,
    Pointer(usize),
    Label(&'a [u8]),
}

/// One step of a name at `pos`.
fn step(msg: &[u8], pos: usize) -> Result<Step<'_>, Error> {
    let len = *msg.get(pos).ok_or(Error::Truncated)?;
    match len & 0xc0 {
        0 if len == 0 => Ok(Step::End),
        0 => {
            let start = pos + 1;
            let label = msg.get(start..start + usize::from(len)).ok_or(Error::Truncated)?;
            Ok(Step::Label(label))
        }
        0xc0 => {
            let low = *msg.get(pos + 1).ok_or(Error::Truncated)?;
            let target = usize::from(u16::from_be_bytes([len & 0x3f, low]));
            if target >= pos {
                return Err(Error::BadPointer);
            }
            Ok(Step::Pointer(target))
        }
        _ => Err(Error::BadLabel),
    }
}

/// Reads the name at `pos` completely (so a malformed one is an error here) and returns it with the
/// offset just past it in the message's own bytes (after its terminating zero or its first pointer).
fn read_name(msg: &[u8], pos: usize) -> Result<(Name<'_>, usize), Error> {
    let name = Name { msg, pos };
    for label in name.labels() {
        label?;
    }
    // Where the name ends in place: the first pointer or the terminating zero.
    let mut p = pos;
    loop {
        match step(msg, p)? {
            Step::End => return Ok((name, p + 1)),
            Step::Pointer(_) => return Ok((name, p + 2)),
            Step::Label(l) => p += l.len() + 1,
        }
    }
}

fn u16_at(msg: &[u8], pos: usize) -> Result<u16, Error> {
    match msg.get(pos..pos + 2) {
        Some(&[a, b]) => Ok(u16::from_be_bytes([a, b])),
        _ => Err(Error::Truncated),
    }
}

fn u32_at(msg: &[u8], pos: usize) -> Result<u32, Error> {
    match msg.get(pos..pos + 4) {
        Some(&[a, b, c, d]) => Ok(u32::from_be_bytes([a, b, c, d])),
        _ => Err(Error::Truncated),
    }
}

/// A question.
#[derive(Clone, Copy, Debug)]
pub struct Question<'a> {
    /// The name asked for.
    pub name: Name<'a>,
    /// The type asked for.
    pub qtype: RecordType,
    /// The class, without the QU bit.
    pub class: u16,
    /// The QU bit: the querier wants a unicast response (RFC 6762 §5.4).
    pub unicast_response: bool,
}

fn read_question(msg: &[u8], pos: usize) -> Result<(Question<'_>, usize), Error> {
    let (name, p) = read_name(msg, pos)?;
    let qtype = RecordType(u16_at(msg, p)?);
    let class = u16_at(msg, p + 2)?;
    let q = Question { name, qtype, class: class & !UNICAST_RESPONSE, unicast_response: class & UNICAST_RESPONSE != 0 };
    Ok((q, p + 4))
}

/// The questions of a message.
#[derive(Clone, Debug)]
pub struct Questions<'a> {
    msg: &'a [u8],
    pos: usize,
    left: u16,
}

impl<'a> Iterator for Questions<'a> {
    type Item = Result<Question<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        match read_question(self.msg, self.pos) {
            Ok((q, next)) => {
                self.left -= 1;
                self.pos = next;
                Some(Ok(q))
            }
            Err(e) => {
                self.left = 0;
                Some(Err(e))
            }
        }
    }
}

/// Which section a record came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Section {
    /// The answer section.
    Answer,
    /// The authority section.
    Authority,
    /// The additional section (RFC 6762 §6: answers may be put there too).
    Additional,
}

/// A resource record.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    /// Its section.
    pub section: Section,
    /// The owner name.
    pub name: Name<'a>,
    /// The type.
    pub rtype: RecordType,
    /// The class, without the cache-flush bit.
    pub class: u16,
    /// The cache-flush bit (RFC 6762 §10.2).
    pub cache_flush: bool,
    /// The time to live, in seconds (as sent: clamp before use).
    pub ttl: u32,
    /// The record data.
    pub rdata: &'a [u8],
}

impl Record<'_> {
    /// The address of an A or AAAA record of class IN; `Ok(None)` for other records;
    /// [`Error::BadRdata`] when the data has the wrong length.
    pub fn address(&self) -> Result<Option<IpAddr>, Error> {
        if self.class != CLASS_IN {
            return Ok(None);
        }
        match self.rtype {
            RecordType::A => {
                let octets: [u8; 4] = self.rdata.try_into().map_err(|_| Error::BadRdata)?;
                Ok(Some(IpAddr::V4(Ipv4Addr::from(octets))))
            }
            RecordType::AAAA => {
                let octets: [u8; 16] = self.rdata.try_into().map_err(|_| Error::BadRdata)?;
                Ok(Some(IpAddr::V6(Ipv6Addr::from(octets))))
            }
            _ => Ok(None),
        }
    }
}

/// The records of a message after its questions.
#[derive(Clone, Debug)]
pub struct Records<'a> {
    msg: &'a [u8],
    /// `None` until the questions have been skipped.
    pos: Option<usize>,
    questions: u16,
    answers: u16,
    authority: u16,
    index: u32,
    left: u32,
}

impl<'a> Records<'a> {
    fn start(&self) -> Result<usize, Error> {
        let mut pos = HEADER_LEN;
        for _ in 0..self.questions {
            pos = read_question(self.msg, pos)?.1;
        }
        Ok(pos)
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let r = (|| {
            let pos = match self.pos {
                Some(p) => p,
                None => self.start()?,
            };
            let (name, p) = read_name(self.msg, pos)?;
            let rtype = RecordType(u16_at(self.msg, p)?);
            let class = u16_at(self.msg, p + 2)?;
            let ttl = u32_at(self.msg, p + 4)?;
            let rdlen = usize::from(u16_at(self.msg, p + 8)?);
            let start = p + 10;
            let rdata = self.msg.get(start..start + rdlen).ok_or(Error::Truncated)?;
            let section = if self.index < u32::from(self.answers) {
                Section::Answer
            } else if self.index < u32::from(self.answers) + u32::from(self.authority) {
                Section::Authority
            } else {
                Section::Additional
            };
            let record = Record {
                section,
                name,
                rtype,
                class: class & !CACHE_FLUSH,
                cache_flush: class & CACHE_FLUSH != 0,
                ttl,
                rdata,
            };
            Ok((record, start + rdlen))
        })();
        match r {
            Ok((record, next)) => {
                self.pos = Some(next);
                self.index += 1;
                self.left -= 1;
                Some(Ok(record))
            }
            Err(e) => {
                self.left = 0;
                Some(Err(e))
            }
        }
    }
}

// ----- writing -----

/// Questions or answers one written message holds at most.
pub const MAX_WRITTEN: usize = 8;

/// Checks `name` (dotted, a trailing dot optional) and returns its encoded length.
pub fn encoded_name_len(name: &str) -> Result<usize, Error> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return Err(Error::InvalidName);
    }
    let mut len = 1;
    for label in name.split('.') {
        if label.is_empty() || label.len() > MAX_LABEL_LEN {
            return Err(Error::InvalidName);
        }
        len += label.len() + 1;
    }
    if len > MAX_NAME_LEN {
        return Err(Error::InvalidName);
    }
    Ok(len)
}

fn put_name(out: &mut Vec<u8>, name: &str) -> Result<(), Error> {
    encoded_name_len(name)?;
    let name = name.strip_suffix('.').unwrap_or(name);
    for label in name.split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    Ok(())
}

fn put_header(out: &mut Vec<u8>, id: u16, flags: u16, counts: [u16; 4]) {
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    for c in counts {
        out.extend_from_slice(&c.to_be_bytes());
    }
}

/// A pointer to the first name after the header.
const FIRST_NAME: [u8; 2] = [0xc0, HEADER_LEN as u8];

/// Writes (replacing `out`'s contents) a query with id zero (RFC 6762 §18.1) asking `name` for each of
/// `types`, class IN, the QU bit set when `unicast_response`. Names after the first are compressed to a
/// pointer to the first.
pub fn emit_query(out: &mut Vec<u8>, name: &str, types: &[RecordType], unicast_response: bool) -> Result<(), Error> {
    if types.is_empty() || types.len() > MAX_WRITTEN {
        return Err(Error::TooManyQuestions);
    }
    encoded_name_len(name)?;
    out.clear();
    put_header(out, 0, 0, [types.len() as u16, 0, 0, 0]);
    let class = if unicast_response { CLASS_IN | UNICAST_RESPONSE } else { CLASS_IN };
    for (i, t) in types.iter().enumerate() {
        if i == 0 {
            put_name(out, name)?;
        } else {
            out.extend_from_slice(&FIRST_NAME);
        }
        out.extend_from_slice(&t.0.to_be_bytes());
        out.extend_from_slice(&class.to_be_bytes());
    }
    Ok(())
}

/// Writes (replacing `out`'s contents) an authoritative response with id `id` holding one A or AAAA
/// record per address of `addrs` for `name`, with the cache-flush bit (RFC 6762 §10.2) and `ttl`
/// seconds. When `echo_question` (a legacy unicast response, RFC 6762 §6.7) the question is repeated
/// (type ANY).
pub fn emit_answer(
    out: &mut Vec<u8>,
    id: u16,
    name: &str,
    addrs: &[IpAddr],
    ttl: u32,
    echo_question: bool,
) -> Result<(), Error> {
    if addrs.is_empty() || addrs.len() > MAX_WRITTEN {
        return Err(Error::TooManyQuestions);
    }
    encoded_name_len(name)?;
    out.clear();
    let flags = Flags::RESPONSE | Flags::AUTHORITATIVE;
    put_header(out, id, flags, [u16::from(echo_question), addrs.len() as u16, 0, 0]);
    put_name(out, name)?;
    if echo_question {
        out.extend_from_slice(&RecordType::ANY.0.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
    }
    for (i, addr) in addrs.iter().enumerate() {
        if echo_question || i > 0 {
            out.extend_from_slice(&FIRST_NAME);
        }
        match addr {
            IpAddr::V4(a) => put_record(out, RecordType::A, ttl, &a.octets()),
            IpAddr::V6(a) => put_record(out, RecordType::AAAA, ttl, &a.octets()),
        }
    }
    Ok(())
}

/// The fixed part and data of a record of class IN with the cache-flush bit, after its name.
fn put_record(out: &mut Vec<u8>, rtype: RecordType, ttl: u32, data: &[u8]) {
    out.extend_from_slice(&rtype.0.to_be_bytes());
    out.extend_from_slice(&(CLASS_IN | CACHE_FLUSH).to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    out.extend_from_slice(data);
}
