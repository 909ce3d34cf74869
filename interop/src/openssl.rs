//! A minimal binding to OpenSSL's libcrypto EVP API (Debian `libssl-dev`, linked by build.rs): the bare
//! AES-128-GCM and AES-128-CTR + HMAC-SHA1 primitives, for the SRTP benchmark's "what does OpenSSL reach
//! on this CPU" line.
//!
//! Declarations follow `/usr/include/openssl/evp.h` and `core.h` of OpenSSL 3.0. Keys are set once;
//! per packet only the IV is reset (`EVP_EncryptInit_ex` with a null cipher and key) and the HMAC is
//! re-initialised without a key (`EVP_MAC_init` with a null key keeps the precomputed pads), as libsrtp
//! does when it is built on OpenSSL.

use std::ffi::{c_char, c_int, c_uint, c_void};
use std::ptr::{null, null_mut};

/// OpenSSL's opaque types, only ever behind pointers.
macro_rules! opaque {
    ($($name:ident),*) => {
        $(
            #[repr(C)]
            struct $name {
                _private: [u8; 0],
            }
        )*
    };
}
opaque!(EvpCipher, EvpCipherCtx, EvpMac, EvpMacCtx);

/// `OSSL_PARAM`.
#[repr(C)]
struct OsslParam {
    key: *const c_char,
    data_type: c_uint,
    data: *mut c_void,
    data_size: usize,
    return_size: usize,
}

const OSSL_PARAM_UTF8_STRING: c_uint = 4;
const OSSL_PARAM_UNMODIFIED: usize = usize::MAX;
const EVP_CTRL_AEAD_GET_TAG: c_int = 0x10;
const EVP_CTRL_AEAD_SET_TAG: c_int = 0x11;

unsafe extern "C" {
    fn EVP_aes_128_gcm() -> *const EvpCipher;
    fn EVP_aes_128_ctr() -> *const EvpCipher;
    fn EVP_CIPHER_CTX_new() -> *mut EvpCipherCtx;
    fn EVP_CIPHER_CTX_free(ctx: *mut EvpCipherCtx);
    fn EVP_CIPHER_CTX_ctrl(ctx: *mut EvpCipherCtx, kind: c_int, arg: c_int, ptr: *mut c_void) -> c_int;
    fn EVP_EncryptInit_ex(
        ctx: *mut EvpCipherCtx,
        cipher: *const EvpCipher,
        engine: *mut c_void,
        key: *const u8,
        iv: *const u8,
    ) -> c_int;
    fn EVP_EncryptUpdate(ctx: *mut EvpCipherCtx, out: *mut u8, outl: *mut c_int, inp: *const u8, inl: c_int) -> c_int;
    fn EVP_EncryptFinal_ex(ctx: *mut EvpCipherCtx, out: *mut u8, outl: *mut c_int) -> c_int;
    fn EVP_DecryptInit_ex(
        ctx: *mut EvpCipherCtx,
        cipher: *const EvpCipher,
        engine: *mut c_void,
        key: *const u8,
        iv: *const u8,
    ) -> c_int;
    fn EVP_DecryptUpdate(ctx: *mut EvpCipherCtx, out: *mut u8, outl: *mut c_int, inp: *const u8, inl: c_int) -> c_int;
    fn EVP_DecryptFinal_ex(ctx: *mut EvpCipherCtx, out: *mut u8, outl: *mut c_int) -> c_int;
    fn EVP_MAC_fetch(libctx: *mut c_void, algorithm: *const c_char, properties: *const c_char) -> *mut EvpMac;
    fn EVP_MAC_free(mac: *mut EvpMac);
    fn EVP_MAC_CTX_new(mac: *mut EvpMac) -> *mut EvpMacCtx;
    fn EVP_MAC_CTX_free(ctx: *mut EvpMacCtx);
    fn EVP_MAC_init(ctx: *mut EvpMacCtx, key: *const u8, keylen: usize, params: *const OsslParam) -> c_int;
    fn EVP_MAC_update(ctx: *mut EvpMacCtx, data: *const u8, datalen: usize) -> c_int;
    fn EVP_MAC_final(ctx: *mut EvpMacCtx, out: *mut u8, outl: *mut usize, outsize: usize) -> c_int;
}

fn len(n: usize) -> c_int {
    c_int::try_from(n).expect("buffer under 2 GiB")
}

/// AES-128-GCM through `EVP_aes_128_gcm`, one context per direction, 12-octet IVs, 16-octet tags.
pub struct Gcm {
    enc: *mut EvpCipherCtx,
    dec: *mut EvpCipherCtx,
}

impl Gcm {
    /// Both contexts keyed with `key`.
    pub fn new(key: &[u8; 16]) -> Self {
        // SAFETY: fresh contexts; the default IV length of GCM in OpenSSL is 12.
        unsafe {
            let enc = EVP_CIPHER_CTX_new();
            let dec = EVP_CIPHER_CTX_new();
            assert!(!enc.is_null() && !dec.is_null(), "EVP_CIPHER_CTX_new");
            assert_eq!(EVP_EncryptInit_ex(enc, EVP_aes_128_gcm(), null_mut(), key.as_ptr(), null()), 1);
            assert_eq!(EVP_DecryptInit_ex(dec, EVP_aes_128_gcm(), null_mut(), key.as_ptr(), null()), 1);
            Self { enc, dec }
        }
    }

    /// Encrypts `buf` in place with `aad` authenticated, returning the tag.
    pub fn seal(&mut self, iv: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> [u8; 16] {
        let mut tag = [0u8; 16];
        let mut n = 0;
        // SAFETY: in-place EVP_EncryptUpdate is allowed; GCM's final writes nothing; the tag buffer is 16.
        unsafe {
            assert_eq!(EVP_EncryptInit_ex(self.enc, null(), null_mut(), null(), iv.as_ptr()), 1);
            assert_eq!(EVP_EncryptUpdate(self.enc, null_mut(), &mut n, aad.as_ptr(), len(aad.len())), 1);
            assert_eq!(EVP_EncryptUpdate(self.enc, buf.as_mut_ptr(), &mut n, buf.as_ptr(), len(buf.len())), 1);
            assert_eq!(EVP_EncryptFinal_ex(self.enc, buf.as_mut_ptr(), &mut n), 1);
            let got = EVP_CIPHER_CTX_ctrl(self.enc, EVP_CTRL_AEAD_GET_TAG, 16, tag.as_mut_ptr().cast());
            assert_eq!(got, 1);
        }
        tag
    }

    /// Decrypts `buf` in place; false (and garbage in `buf`) when the tag does not verify.
    pub fn open(&mut self, iv: &[u8; 12], aad: &[u8], buf: &mut [u8], tag: &[u8; 16]) -> bool {
        let mut n = 0;
        let mut tag = *tag;
        // SAFETY: as in `seal`; SET_TAG copies the 16 octets.
        unsafe {
            assert_eq!(EVP_DecryptInit_ex(self.dec, null(), null_mut(), null(), iv.as_ptr()), 1);
            assert_eq!(EVP_DecryptUpdate(self.dec, null_mut(), &mut n, aad.as_ptr(), len(aad.len())), 1);
            assert_eq!(EVP_DecryptUpdate(self.dec, buf.as_mut_ptr(), &mut n, buf.as_ptr(), len(buf.len())), 1);
            let set = EVP_CIPHER_CTX_ctrl(self.dec, EVP_CTRL_AEAD_SET_TAG, 16, tag.as_mut_ptr().cast());
            assert_eq!(set, 1);
            EVP_DecryptFinal_ex(self.dec, buf.as_mut_ptr(), &mut n) == 1
        }
    }
}

impl Drop for Gcm {
    fn drop(&mut self) {
        // SAFETY: both were allocated by EVP_CIPHER_CTX_new and are freed once.
        unsafe {
            EVP_CIPHER_CTX_free(self.enc);
            EVP_CIPHER_CTX_free(self.dec);
        }
    }
}

/// AES-128-CTR through `EVP_aes_128_ctr` (16-octet IV, big-endian counter), keyed once.
pub struct Ctr {
    ctx: *mut EvpCipherCtx,
}

impl Ctr {
    /// A context keyed with `key`.
    pub fn new(key: &[u8; 16]) -> Self {
        // SAFETY: a fresh context.
        unsafe {
            let ctx = EVP_CIPHER_CTX_new();
            assert!(!ctx.is_null(), "EVP_CIPHER_CTX_new");
            assert_eq!(EVP_EncryptInit_ex(ctx, EVP_aes_128_ctr(), null_mut(), key.as_ptr(), null()), 1);
            Self { ctx }
        }
    }

    /// XORs the key stream starting at counter block `iv` into `buf`.
    pub fn apply(&mut self, iv: &[u8; 16], buf: &mut [u8]) {
        let mut n = 0;
        // SAFETY: in-place update is allowed; CTR's final writes nothing.
        unsafe {
            assert_eq!(EVP_EncryptInit_ex(self.ctx, null(), null_mut(), null(), iv.as_ptr()), 1);
            assert_eq!(EVP_EncryptUpdate(self.ctx, buf.as_mut_ptr(), &mut n, buf.as_ptr(), len(buf.len())), 1);
        }
    }
}

impl Drop for Ctr {
    fn drop(&mut self) {
        // SAFETY: allocated by EVP_CIPHER_CTX_new, freed once.
        unsafe { EVP_CIPHER_CTX_free(self.ctx) }
    }
}

/// HMAC-SHA1 through `EVP_MAC` ("HMAC", digest "SHA1"), keyed once.
pub struct HmacSha1 {
    mac: *mut EvpMac,
    ctx: *mut EvpMacCtx,
}

impl HmacSha1 {
    /// A context keyed with `key`.
    pub fn new(key: &[u8]) -> Self {
        let params = [
            OsslParam {
                key: c"digest".as_ptr(),
                data_type: OSSL_PARAM_UTF8_STRING,
                data: c"SHA1".as_ptr().cast_mut().cast(),
                data_size: 4,
                return_size: OSSL_PARAM_UNMODIFIED,
            },
            OsslParam { key: null(), data_type: 0, data: null_mut(), data_size: 0, return_size: 0 },
        ];
        // SAFETY: the parameter array is terminated and outlives the call, which copies what it needs.
        unsafe {
            let mac = EVP_MAC_fetch(null_mut(), c"HMAC".as_ptr(), null());
            assert!(!mac.is_null(), "EVP_MAC_fetch(HMAC)");
            let ctx = EVP_MAC_CTX_new(mac);
            assert!(!ctx.is_null(), "EVP_MAC_CTX_new");
            assert_eq!(EVP_MAC_init(ctx, key.as_ptr(), key.len(), params.as_ptr()), 1);
            Self { mac, ctx }
        }
    }

    /// The full 20-octet HMAC of the concatenation of `parts`.
    pub fn mac(&mut self, parts: &[&[u8]]) -> [u8; 20] {
        let mut out = [0u8; 20];
        let mut n = 0;
        // SAFETY: a null key re-initialises with the key already set; the output buffer is 20 octets.
        unsafe {
            assert_eq!(EVP_MAC_init(self.ctx, null(), 0, null()), 1);
            for p in parts {
                assert_eq!(EVP_MAC_update(self.ctx, p.as_ptr(), p.len()), 1);
            }
            assert_eq!(EVP_MAC_final(self.ctx, out.as_mut_ptr(), &mut n, out.len()), 1);
        }
        assert_eq!(n, 20);
        out
    }
}

impl Drop for HmacSha1 {
    fn drop(&mut self) {
        // SAFETY: allocated by EVP_MAC_CTX_new / EVP_MAC_fetch, freed once, context first.
        unsafe {
            EVP_MAC_CTX_free(self.ctx);
            EVP_MAC_free(self.mac);
        }
    }
}
