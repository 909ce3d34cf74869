//! Logging for the examples: a `tracing-subscriber` filter read from `SANSRTC_LOG` (the `RUST_LOG`
//! syntax: `SANSRTC_LOG=sansrtc::ice=trace,sansrtc::dtls=debug`, `SANSRTC_LOG=debug`, …), written to
//! stderr. Unset, warnings and errors are shown. Each subsystem logs under its own target
//! (`sansrtc::ice`, `sansrtc::turn`, `sansrtc::dtls`, `sansrtc::sctp`, `sansrtc::datachannel`,
//! `sansrtc::pc`, …); nothing at `info` or above is logged per packet.

use tracing_subscriber::EnvFilter;

/// The environment variable holding the filter.
pub const VAR: &str = "SANSRTC_LOG";

/// Installs the subscriber (the first call; later ones do nothing). A filter that does not parse is
/// reported and replaced by `warn`.
pub fn init() {
    let filter = match std::env::var(VAR) {
        Ok(spec) => EnvFilter::try_new(&spec).unwrap_or_else(|e| {
            eprintln!("{VAR}={spec:?}: {e}; logging warnings only");
            EnvFilter::new("warn")
        }),
        Err(_) => EnvFilter::new("warn"),
    };
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
