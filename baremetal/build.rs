//! Links with cortex-m-rt's `link.x`, and puts `memory.x` where `link.x` finds it. (Here rather than in
//! a `.cargo/config.toml`, so the build needs no configuration file: `cargo build --release --target
//! thumbv7em-none-eabihf`.)

use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    std::fs::copy("memory.x", out.join("memory.x")).expect("copy memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    println!("cargo:rerun-if-changed=memory.x");
}
