//! leb128, the AV1 variable-length unsigned integer (AV1 bitstream specification, section 4.10.5).
//!
//! Little-endian groups of 7 bits, the top bit of each byte saying another byte follows. The AV1
//! specification reads at most 8 bytes, requires the top bit of the 8th byte to be clear and the value to
//! fit in 32 bits, and allows non-minimal encodings ("there is no requirement that this syntax element uses
//! the most compressed representation"): `0x80 0x00` is a valid zero. [`read`] follows exactly that.

use alloc::vec::Vec;

use super::DepacketizeError;

/// The most bytes a leb128 value may take.
pub const MAX_LEN: usize = 8;

/// The largest value a conforming leb128 may carry, `(1 << 32) - 1`.
pub const MAX_VALUE: u64 = u32::MAX as u64;

/// Reads a leb128 from the start of `buf`: the value and how many bytes it took.
///
/// [`DepacketizeError::Truncated`] if `buf` ends before the last byte; [`DepacketizeError::Malformed`] if
/// the 8th byte still has its continuation bit or the value exceeds [`MAX_VALUE`].
pub fn read(buf: &[u8]) -> Result<(u32, usize), DepacketizeError> {
    let mut value: u64 = 0;
    for (i, &byte) in buf.iter().take(MAX_LEN).enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return u32::try_from(value).map(|v| (v, i + 1)).map_err(|_| DepacketizeError::Malformed);
        }
    }
    if buf.len() >= MAX_LEN { Err(DepacketizeError::Malformed) } else { Err(DepacketizeError::Truncated) }
}

/// How many bytes the minimal encoding of `value` takes (1 to 5 for a `u32`).
pub fn encoded_len(value: u32) -> usize {
    let bits = 32 - value.leading_zeros() as usize;
    bits.div_ceil(7).max(1)
}

/// Appends the minimal encoding of `value` to `out`.
pub fn write(value: u32, out: &mut Vec<u8>) {
    let mut v = value;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_encodings_round_trip() {
        for v in [0u32, 1, 127, 128, 300, 16_383, 16_384, 1 << 21, (1 << 28) - 1, 1 << 28, u32::MAX] {
            let mut out = Vec::new();
            write(v, &mut out);
            assert_eq!(out.len(), encoded_len(v), "{v}");
            assert_eq!(read(&out), Ok((v, out.len())), "{v}");
        }
        let mut out = Vec::new();
        write(300, &mut out);
        assert_eq!(out, [0xac, 0x02]);
    }

    #[test]
    fn non_minimal_encodings_are_accepted() {
        // Zero padded to 2 and to 8 bytes; 5 padded to 3.
        assert_eq!(read(&[0x80, 0x00]), Ok((0, 2)));
        assert_eq!(read(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]), Ok((0, 8)));
        assert_eq!(read(&[0x85, 0x80, 0x00, 0xff]), Ok((5, 3)));
    }

    #[test]
    fn bad_encodings_are_rejected() {
        // Continuation bit on the 8th byte: the specification caps the field at 8 bytes.
        assert_eq!(read(&[0x80; 9]), Err(DepacketizeError::Malformed));
        assert_eq!(read(&[0x80; 8]), Err(DepacketizeError::Malformed));
        // 2^32 does not fit the 32-bit limit.
        assert_eq!(read(&[0x80, 0x80, 0x80, 0x80, 0x10]), Err(DepacketizeError::Malformed));
        // Ends mid-value.
        assert_eq!(read(&[0x80, 0x80]), Err(DepacketizeError::Truncated));
        assert_eq!(read(&[]), Err(DepacketizeError::Truncated));
        assert_eq!(read(&[0xff; 3]), Err(DepacketizeError::Truncated));
    }
}
