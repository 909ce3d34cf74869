//! A minimal binding to libsrtp 2 (the SRTP library every browser uses), for cross-checks and benchmarks.
//!
//! Declarations follow `/usr/include/srtp2/srtp.h` of libsrtp 2.5 exactly (struct layouts included).
//! Only what the tests need: one policy per session, wildcard SSRC, no MKI, no header-extension
//! encryption.

use std::ffi::{c_int, c_uint, c_ulong, c_void};
use std::sync::Once;

use sansrtc::srtp::Profile;

/// `srtp_err_status_t`; 0 is success.
pub type SrtpErr = c_int;

/// `srtp_crypto_policy_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct CryptoPolicy {
    pub cipher_type: u32,
    pub cipher_key_len: c_int,
    pub auth_type: u32,
    pub auth_key_len: c_int,
    pub auth_tag_len: c_int,
    pub sec_serv: c_int,
}

/// `srtp_ssrc_type_t` values.
pub const SSRC_ANY_INBOUND: c_int = 2;
pub const SSRC_ANY_OUTBOUND: c_int = 3;

/// `srtp_ssrc_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Ssrc {
    pub kind: c_int,
    pub value: c_uint,
}

/// `srtp_policy_t`.
#[repr(C)]
#[derive(Debug)]
pub struct Policy {
    pub ssrc: Ssrc,
    pub rtp: CryptoPolicy,
    pub rtcp: CryptoPolicy,
    pub key: *mut u8,
    pub keys: *mut *mut c_void,
    pub num_master_keys: c_ulong,
    pub deprecated_ekt: *mut c_void,
    pub window_size: c_ulong,
    pub allow_repeat_tx: c_int,
    pub enc_xtn_hdr: *mut c_int,
    pub enc_xtn_hdr_count: c_int,
    pub next: *mut Policy,
}

/// Opaque `srtp_ctx_t`.
#[repr(C)]
pub struct SrtpCtx {
    _private: [u8; 0],
}

unsafe extern "C" {
    pub fn srtp_init() -> SrtpErr;
    pub fn srtp_create(session: *mut *mut SrtpCtx, policy: *const Policy) -> SrtpErr;
    pub fn srtp_dealloc(session: *mut SrtpCtx) -> SrtpErr;
    pub fn srtp_protect(ctx: *mut SrtpCtx, rtp_hdr: *mut c_void, len_ptr: *mut c_int) -> SrtpErr;
    pub fn srtp_unprotect(ctx: *mut SrtpCtx, srtp_hdr: *mut c_void, len_ptr: *mut c_int) -> SrtpErr;
    pub fn srtp_protect_rtcp(ctx: *mut SrtpCtx, rtcp_hdr: *mut c_void, len_ptr: *mut c_int) -> SrtpErr;
    pub fn srtp_unprotect_rtcp(ctx: *mut SrtpCtx, srtcp_hdr: *mut c_void, len_ptr: *mut c_int) -> SrtpErr;
    // srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80 is a macro for this one.
    pub fn srtp_crypto_policy_set_rtp_default(p: *mut CryptoPolicy);
    pub fn srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(p: *mut CryptoPolicy);
    pub fn srtp_crypto_policy_set_aes_gcm_128_16_auth(p: *mut CryptoPolicy);
    pub fn srtp_crypto_policy_set_aes_gcm_256_16_auth(p: *mut CryptoPolicy);
}

/// `SRTP_MAX_TRAILER_LEN`: libsrtp may write this much past the packet.
pub const MAX_TRAILER_LEN: usize = 16 + 128;

fn init() {
    static INIT: Once = Once::new();
    // SAFETY: srtp_init has no preconditions; Once serialises it.
    INIT.call_once(|| unsafe {
        srtp_init();
    });
}

/// One libsrtp session for one direction (wildcard SSRC).
pub struct Libsrtp {
    ctx: *mut SrtpCtx,
}

/// A libsrtp call failed with this `srtp_err_status_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LibsrtpError(pub SrtpErr);

impl std::fmt::Display for LibsrtpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "libsrtp error status {}", self.0)
    }
}

fn check(status: SrtpErr) -> Result<(), LibsrtpError> {
    if status == 0 { Ok(()) } else { Err(LibsrtpError(status)) }
}

impl Libsrtp {
    /// A session protecting (`outbound`) or unprotecting with `key || salt` under `profile`.
    /// Fails if this libsrtp build lacks the profile (GCM needs libsrtp built with OpenSSL or NSS).
    pub fn new(profile: Profile, key: &[u8], salt: &[u8], outbound: bool) -> Result<Self, LibsrtpError> {
        init();
        let mut rtp = CryptoPolicy::default();
        let mut rtcp = CryptoPolicy::default();
        // SAFETY: the setters only write the struct they are given.
        unsafe {
            match profile {
                Profile::Aes128CmHmacSha1_80 => {
                    srtp_crypto_policy_set_rtp_default(&mut rtp);
                    srtp_crypto_policy_set_rtp_default(&mut rtcp);
                }
                Profile::Aes128CmHmacSha1_32 => {
                    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&mut rtp);
                    // RFC 5764 §4.1.2: SRTCP keeps the 80-bit tag.
                    srtp_crypto_policy_set_rtp_default(&mut rtcp);
                }
                Profile::AeadAes128Gcm => {
                    srtp_crypto_policy_set_aes_gcm_128_16_auth(&mut rtp);
                    srtp_crypto_policy_set_aes_gcm_128_16_auth(&mut rtcp);
                }
                Profile::AeadAes256Gcm => {
                    srtp_crypto_policy_set_aes_gcm_256_16_auth(&mut rtp);
                    srtp_crypto_policy_set_aes_gcm_256_16_auth(&mut rtcp);
                }
                _ => return Err(LibsrtpError(-1)),
            }
        }
        let mut master: Vec<u8> = key.iter().chain(salt).copied().collect();
        // libsrtp reads up to its maximum key length; pad so it never reads past our buffer.
        master.resize(64, 0);
        let policy = Policy {
            ssrc: Ssrc { kind: if outbound { SSRC_ANY_OUTBOUND } else { SSRC_ANY_INBOUND }, value: 0 },
            rtp,
            rtcp,
            key: master.as_mut_ptr(),
            keys: std::ptr::null_mut(),
            num_master_keys: 0,
            deprecated_ekt: std::ptr::null_mut(),
            window_size: 128,
            allow_repeat_tx: 0,
            enc_xtn_hdr: std::ptr::null_mut(),
            enc_xtn_hdr_count: 0,
            next: std::ptr::null_mut(),
        };
        let mut ctx = std::ptr::null_mut();
        // SAFETY: policy and the key it points to outlive the call; libsrtp copies what it keeps.
        check(unsafe { srtp_create(&mut ctx, &policy) })?;
        Ok(Self { ctx })
    }

    /// Whether this libsrtp build supports `profile`.
    pub fn supports(profile: Profile) -> bool {
        Self::new(profile, &[1; 32][..profile.key_len()], &[2; 14][..profile.salt_len()], true).is_ok()
    }

    fn call(
        &mut self,
        f: unsafe extern "C" fn(*mut SrtpCtx, *mut c_void, *mut c_int) -> SrtpErr,
        buf: &mut Vec<u8>,
        grows: bool,
    ) -> Result<(), LibsrtpError> {
        let len = buf.len();
        if grows {
            buf.resize(len + MAX_TRAILER_LEN, 0);
        }
        let mut n = len as c_int;
        // SAFETY: buf holds len bytes plus MAX_TRAILER_LEN of room when libsrtp may grow the packet.
        let r = check(unsafe { f(self.ctx, buf.as_mut_ptr().cast(), &mut n) });
        buf.truncate(if r.is_ok() { n as usize } else { len });
        r
    }

    /// `srtp_protect` on `buf`.
    pub fn protect_rtp(&mut self, buf: &mut Vec<u8>) -> Result<(), LibsrtpError> {
        self.call(srtp_protect, buf, true)
    }

    /// `srtp_unprotect` on `buf`.
    pub fn unprotect_rtp(&mut self, buf: &mut Vec<u8>) -> Result<(), LibsrtpError> {
        self.call(srtp_unprotect, buf, false)
    }

    /// `srtp_protect_rtcp` on `buf`.
    pub fn protect_rtcp(&mut self, buf: &mut Vec<u8>) -> Result<(), LibsrtpError> {
        self.call(srtp_protect_rtcp, buf, true)
    }

    /// `srtp_unprotect_rtcp` on `buf`.
    pub fn unprotect_rtcp(&mut self, buf: &mut Vec<u8>) -> Result<(), LibsrtpError> {
        self.call(srtp_unprotect_rtcp, buf, false)
    }

    /// `srtp_protect` into a buffer that already has `MAX_TRAILER_LEN` of room after `len` (benchmarks).
    pub fn protect_rtp_in_place(&mut self, buf: &mut [u8], len: usize) -> Result<usize, LibsrtpError> {
        assert!(buf.len() >= len + MAX_TRAILER_LEN);
        let mut n = len as c_int;
        // SAFETY: room checked above.
        check(unsafe { srtp_protect(self.ctx, buf.as_mut_ptr().cast(), &mut n) })?;
        Ok(n as usize)
    }

    /// `srtp_unprotect` on `buf[..len]` (benchmarks).
    pub fn unprotect_rtp_in_place(&mut self, buf: &mut [u8], len: usize) -> Result<usize, LibsrtpError> {
        assert!(buf.len() >= len);
        let mut n = len as c_int;
        // SAFETY: libsrtp reads and writes within len bytes.
        check(unsafe { srtp_unprotect(self.ctx, buf.as_mut_ptr().cast(), &mut n) })?;
        Ok(n as usize)
    }
}

impl Drop for Libsrtp {
    fn drop(&mut self) {
        // SAFETY: ctx came from srtp_create and is freed once.
        unsafe {
            srtp_dealloc(self.ctx);
        }
    }
}
