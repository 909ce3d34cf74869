//! Checked big-endian reads over a byte slice.

pub(crate) fn u8_at(b: &[u8], at: usize) -> Option<u8> {
    b.get(at).copied()
}

/// The `N` bytes at `at` (one range check).
fn array_at<const N: usize>(b: &[u8], at: usize) -> Option<&[u8; N]> {
    b.get(at..)?.first_chunk()
}

pub(crate) fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    array_at(b, at).map(|&x| u16::from_be_bytes(x))
}

pub(crate) fn u24_at(b: &[u8], at: usize) -> Option<u32> {
    array_at(b, at).map(|&[x, y, z]| u32::from_be_bytes([0, x, y, z]))
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    array_at(b, at).map(|&x| u32::from_be_bytes(x))
}

pub(crate) fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    array_at(b, at).map(|&x| u64::from_be_bytes(x))
}

/// Sign-extends a 24-bit value.
pub(crate) fn i24(v: u32) -> i32 {
    ((v << 8) as i32) >> 8
}
