//! Shared helpers of the CLI tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::{Path, PathBuf};

/// `MTF_DATA_DIR` (relative to the workspace root), default `../shared/data`; `None` after printing why when
/// absent, and a panic instead when `MTF_REQUIRE_DATA=1`.
pub fn data_dir() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = match std::env::var_os("MTF_DATA_DIR") {
        Some(d) if Path::new(&d).is_absolute() => PathBuf::from(d),
        Some(d) => root.join(d),
        None => root.join("../shared/data"),
    };
    if dir.is_dir() {
        return Some(dir);
    }
    let msg = format!("real-data test skipped: {} not found (set MTF_DATA_DIR)", dir.display());
    assert!(std::env::var("MTF_REQUIRE_DATA").as_deref() != Ok("1"), "{msg}, and MTF_REQUIRE_DATA=1 requires it");
    eprintln!("SKIPPED: {msg}");
    None
}

/// A fresh empty directory under the system temp dir, removed when dropped.
pub struct TempDir(std::path::PathBuf);
impl TempDir {
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
pub fn tempdir() -> TempDir {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let p = std::env::temp_dir().join(format!(
        "mtf-store-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    TempDir(p)
}

/// A running `mtf replay` (killed when dropped) and its base URL (`http://127.0.0.1:PORT`).
pub struct Replay {
    child: std::process::Child,
    /// Base URL.
    pub base: String,
}

impl Drop for Replay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `mtf replay --port 0 ARGS` accepting the key pair, and waits for its "listening on" line.
pub fn replay(args: &[&str], key: &str, secret: &str) -> Replay {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mtf"))
        .args(["replay", "--port", "0"])
        .args(args)
        .env("APCA_API_KEY_ID", key)
        .env("APCA_API_SECRET_KEY", secret)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let base = loop {
        let line = lines.next().expect("replay exited before listening").unwrap();
        if let Some(url) = line.split("listening on ").nth(1) {
            break url.trim().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {}); // keep draining stderr
    Replay { child, base }
}
