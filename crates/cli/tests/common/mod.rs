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
