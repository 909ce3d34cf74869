//! Links libsrtp2 (Debian `libsrtp2-dev`, installed by scripts/setup) for the SRTP cross-check and benchmark.

fn main() {
    println!("cargo:rustc-link-lib=srtp2");
    println!("cargo:rerun-if-changed=build.rs");
}
