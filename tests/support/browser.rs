//! Headless Chromium pointed at a URL, as the browser interop tests launch it: its own profile directory,
//! loopback host candidates with real addresses; killed and cleaned up on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// Where the tests expect Chromium (`apt-get install chromium`, or `bash scripts/setup`).
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// A running headless Chromium.
pub struct Browser {
    child: Child,
    profile: PathBuf,
}

impl Browser {
    /// Starts Chromium on `url`.
    pub fn launch(url: &str) -> Browser {
        let unique = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let profile = std::env::temp_dir().join(format!("sansrtc-browser-{}-{unique}", std::process::id()));
        std::fs::create_dir_all(&profile).expect("profile dir");
        let log = std::fs::File::create(profile.join("chromium.log")).expect("log file");
        let child = Command::new(CHROMIUM)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--mute-audio",
                "--allow-loopback-in-peer-connection",
                "--disable-features=WebRtcHideLocalIpsWithMdns",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(url)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start chromium");
        Browser { child, profile }
    }

    /// The last lines of its log, for a failure message.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.profile.join("chromium.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
