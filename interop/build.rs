//! Links libsrtp2 (Debian `libsrtp2-dev`, installed by scripts/setup) for the SRTP cross-check and benchmark,
//! and OpenSSL's libcrypto (Debian `libssl-dev`) for the bare EVP primitives in the SRTP benchmark.

fn main() {
    println!("cargo:rustc-link-lib=srtp2");
    println!("cargo:rustc-link-lib=crypto");
    println!("cargo:rerun-if-changed=build.rs");
}
