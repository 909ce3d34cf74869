//! Checked big-endian reads over a byte slice.

pub(crate) fn u8_at(b: &[u8], at: usize) -> Option<u8> {
    b.get(at).copied()
}

pub(crate) fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

pub(crate) fn u24_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([0, *b.get(at)?, *b.get(at + 1)?, *b.get(at + 2)?]))
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([*b.get(at)?, *b.get(at + 1)?, *b.get(at + 2)?, *b.get(at + 3)?]))
}

pub(crate) fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some((u64::from(u32_at(b, at)?) << 32) | u64::from(u32_at(b, at + 4)?))
}

/// Sign-extends a 24-bit value.
pub(crate) fn i24(v: u32) -> i32 {
    ((v << 8) as i32) >> 8
}
