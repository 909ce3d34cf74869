//! SRTP throughput: sansrtc against libsrtp, and both against the bare primitives on the same buffer
//! (AES-128-GCM seal + open; AES-128-CTR + HMAC-SHA1 both ways) as the physical limit, twice: RustCrypto's
//! (what sansrtc is built on) and OpenSSL's libcrypto through its EVP API (what the fastest C stacks are
//! built on). One iteration is protect + unprotect of one RTP packet with a 1200-octet payload. Timed in
//! thread CPU time (the build machine is shared), interleaving the contenders and keeping each one's best
//! round.

use std::hint::black_box;

use aes::cipher::{InnerIvInit, KeyInit, KeyIvInit, StreamCipher};
use aes_gcm::aead::AeadInOut;
use hmac::{Hmac, Mac};
use sansrtc::srtp::{Config, Context, Profile};
use sansrtc_interop::bench::{Measurement, compare, measure_cpu, quick, report};
use sansrtc_interop::libsrtp::{Libsrtp, MAX_TRAILER_LEN};
use sansrtc_interop::openssl;

const PAYLOAD: usize = 1200;
const HEADER: usize = 12;
const KEY: [u8; 16] = [0x2b; 16];
const SALT: [u8; 14] = [0x5a; 14];

fn packet(extra: usize) -> Vec<u8> {
    let mut p = vec![0x80, 96, 0, 0, 0, 0, 0x10, 0, 0x12, 0x34, 0x56, 0x78];
    p.extend((0..PAYLOAD).map(|i| i as u8));
    p.resize(HEADER + PAYLOAD + extra, 0);
    p
}

type Job = Box<dyn FnMut() -> usize>;

fn sansrtc(profile: Profile) -> Job {
    let salt = &SALT[..profile.salt_len()];
    let mut tx = Context::new(profile, &KEY, salt, Config::default()).expect("context");
    let mut rx = Context::new(profile, &KEY, salt, Config::default()).expect("context");
    let mut buf = packet(profile.rtp_overhead());
    let mut seq = 0u16;
    Box::new(move || {
        seq = seq.wrapping_add(1);
        buf[2..4].copy_from_slice(&seq.to_be_bytes());
        let n = tx.protect_rtp_in_place(&mut buf, HEADER + PAYLOAD).expect("protect");
        rx.unprotect_rtp_in_place(&mut buf[..n]).expect("unprotect")
    })
}

fn libsrtp(profile: Profile) -> Option<Job> {
    let salt = &SALT[..profile.salt_len()];
    let mut tx = Libsrtp::new(profile, &KEY, salt, true).ok()?;
    let mut rx = Libsrtp::new(profile, &KEY, salt, false).ok()?;
    let mut buf = packet(MAX_TRAILER_LEN);
    let mut seq = 0u16;
    Some(Box::new(move || {
        seq = seq.wrapping_add(1);
        buf[2..4].copy_from_slice(&seq.to_be_bytes());
        let n = tx.protect_rtp_in_place(&mut buf, HEADER + PAYLOAD).expect("protect");
        rx.unprotect_rtp_in_place(&mut buf, n).expect("unprotect")
    }))
}

/// AES-128-GCM seal + open of the payload with the header as AAD: what SRTP-GCM cannot beat.
fn bare_gcm() -> Job {
    let aead = aes_gcm::Aes128Gcm::new(&KEY.into());
    let mut buf = packet(0);
    let nonce = [7u8; 12].into();
    Box::new(move || {
        let (aad, payload) = buf.split_at_mut(HEADER);
        let tag = aead.encrypt_inout_detached(&nonce, aad, payload.into()).expect("seal");
        aead.decrypt_inout_detached(&nonce, aad, payload.into(), &tag).expect("open");
        usize::from(tag[0])
    })
}

/// AES-128-CTR over the payload and HMAC-SHA1 over header + payload + ROC, once each way.
fn bare_cm_sha1() -> Job {
    let aes = aes::Aes128Enc::new(&KEY.into());
    let mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(&[0x11; 20]).expect("hmac key");
    let mut buf = packet(0);
    let iv = [3u8; 16];
    let roc = [0u8; 4];
    let one_way = move |buf: &mut [u8], encrypt: bool| {
        let mut ctr = ctr::Ctr128BE::<aes::Aes128Enc>::from_core(
            ctr::CtrCore::<aes::Aes128Enc, ctr::flavors::Ctr128BE>::inner_iv_init(aes.clone(), &iv.into()),
        );
        if encrypt {
            ctr.apply_keystream(&mut buf[HEADER..]);
        }
        let mut m = mac.clone();
        m.update(buf);
        m.update(&roc);
        let tag = m.finalize().into_bytes();
        if !encrypt {
            ctr.apply_keystream(&mut buf[HEADER..]);
        }
        tag[0]
    };
    Box::new(move || {
        let a = one_way(&mut buf, true);
        let b = one_way(&mut buf, false);
        usize::from(black_box(a ^ b))
    })
}

/// The same AES-128-GCM seal + open through OpenSSL's EVP API. Checked once against RustCrypto's tag
/// so that the line measures the real computation.
fn openssl_gcm() -> Job {
    let mut gcm = openssl::Gcm::new(&KEY);
    let mut buf = packet(0);
    let nonce = [7u8; 12];
    {
        let mut theirs = buf.clone();
        let (aad, payload) = theirs.split_at_mut(HEADER);
        let want = aes_gcm::Aes128Gcm::new(&KEY.into())
            .encrypt_inout_detached(&nonce.into(), aad, payload.into())
            .expect("seal");
        let (aad, payload) = buf.split_at_mut(HEADER);
        let tag = gcm.seal(&nonce, aad, payload);
        assert_eq!(tag[..], want[..], "OpenSSL and RustCrypto GCM tags differ");
        assert_eq!(buf, theirs, "OpenSSL and RustCrypto GCM ciphertexts differ");
        let (aad, payload) = buf.split_at_mut(HEADER);
        assert!(gcm.open(&nonce, aad, payload, &tag), "OpenSSL GCM open");
        assert_eq!(buf, packet(0));
    }
    Box::new(move || {
        let (aad, payload) = buf.split_at_mut(HEADER);
        let tag = gcm.seal(&nonce, aad, payload);
        assert!(gcm.open(&nonce, aad, payload, &tag), "open");
        usize::from(tag[0])
    })
}

/// The same AES-128-CTR + HMAC-SHA1 both ways through OpenSSL's EVP API (`EVP_aes_128_ctr`, `EVP_MAC`
/// HMAC with SHA1). Checked once against RustCrypto's output.
fn openssl_cm_sha1() -> Job {
    let mut ctr = openssl::Ctr::new(&KEY);
    let mut mac = openssl::HmacSha1::new(&[0x11; 20]);
    let mut buf = packet(0);
    let iv = [3u8; 16];
    let roc = [0u8; 4];
    {
        ctr.apply(&iv, &mut buf[HEADER..]);
        let tag = mac.mac(&[&buf, &roc]);
        let mut theirs = packet(0);
        let mut c = ctr::Ctr128BE::<aes::Aes128Enc>::new(&KEY.into(), &iv.into());
        c.apply_keystream(&mut theirs[HEADER..]);
        let mut m = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(&[0x11; 20]).expect("hmac key");
        m.update(&theirs);
        m.update(&roc);
        assert_eq!(buf, theirs, "OpenSSL and RustCrypto AES-CTR differ");
        assert_eq!(tag[..], m.finalize().into_bytes()[..], "OpenSSL and RustCrypto HMAC-SHA1 differ");
        ctr.apply(&iv, &mut buf[HEADER..]);
        assert_eq!(buf, packet(0));
    }
    Box::new(move || {
        ctr.apply(&iv, &mut buf[HEADER..]);
        let a = mac.mac(&[&buf, &roc]);
        let b = mac.mac(&[&buf, &roc]);
        ctr.apply(&iv, &mut buf[HEADER..]);
        usize::from(black_box(a[0] ^ b[0]))
    })
}

/// Measures the jobs in turn, several rounds, keeping each one's fastest median: the machine may be
/// shared, and interleaving plus the minimum keeps the comparison fair.
fn best_of(jobs: &mut [&mut Job]) -> Vec<Measurement> {
    let rounds = if quick() { 1 } else { 3 };
    let mut best: Vec<Option<Measurement>> = vec![None; jobs.len()];
    for _ in 0..rounds {
        for (job, slot) in jobs.iter_mut().zip(&mut best) {
            let m = measure_cpu(&mut **job);
            if slot.is_none_or(|b| m.ns_per_iter < b.ns_per_iter) {
                *slot = Some(m);
            }
        }
    }
    best.into_iter().flatten().collect()
}

fn main() {
    #[cfg(target_arch = "x86_64")]
    println!(
        "CPU features (runtime-detected by the RustCrypto crates): aes={} pclmulqdq={} sha={} avx2={}",
        std::arch::is_x86_feature_detected!("aes"),
        std::arch::is_x86_feature_detected!("pclmulqdq"),
        std::arch::is_x86_feature_detected!("sha"),
        std::arch::is_x86_feature_detected!("avx2"),
    );
    println!(
        "one iteration = protect + unprotect of one RTP packet, {PAYLOAD}-octet payload; \
         thread CPU time, best of interleaved rounds"
    );
    for (profile, name, bare, evp) in [
        (
            Profile::Aes128CmHmacSha1_80,
            "srtp/AES_CM_128_HMAC_SHA1_80",
            bare_cm_sha1 as fn() -> Job,
            openssl_cm_sha1 as fn() -> Job,
        ),
        (Profile::AeadAes128Gcm, "srtp/AEAD_AES_128_GCM", bare_gcm as fn() -> Job, openssl_gcm as fn() -> Job),
    ] {
        let mut ours = sansrtc(profile);
        let mut limit = bare();
        let mut ossl = evp();
        let theirs = libsrtp(profile);
        let ms = match theirs {
            Some(mut theirs) => best_of(&mut [&mut ours, &mut limit, &mut ossl, &mut theirs]),
            None => {
                println!("{name}: libsrtp build lacks this profile, not compared");
                best_of(&mut [&mut ours, &mut limit, &mut ossl])
            }
        };
        let (ours, limit, ossl) = (ms[0], ms[1], ms[2]);
        report(name, "sansrtc", ours);
        report(name, "bare", limit);
        report(name, "openssl-bare", ossl);
        if let Some(&theirs) = ms.get(3) {
            report(name, "libsrtp", theirs);
            compare(name, ours, "libsrtp", theirs);
        }
        let vs_openssl = compare(name, ours, "openssl-bare", ossl);
        let share = compare(name, ours, "bare", limit);
        println!(
            "{name}: sansrtc {:.0} pkt/s ({:.0} MB/s payload), {:.0}% of the bare primitives' speed, \
             {:.0}% of OpenSSL's bare primitives ({:.0} pkt/s)",
            ours.per_second(),
            ours.mb_per_s(PAYLOAD),
            share * 100.0,
            vs_openssl * 100.0,
            ossl.per_second(),
        );
    }
}
