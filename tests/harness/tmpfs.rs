//! A small filesystem for tests of a full disk or a free-space budget: a tmpfs mounted in a test's temp dir
//! (root is needed, as CI runs), unmounted when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::run;

/// A tmpfs of `size` mounted at `dir` until dropped.
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    pub fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let out =
            run(Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(dir), b"");
        assert!(out.ok(), "mounting a tmpfs needs root (as CI runs): {}", out.err());
        Tmpfs(dir.to_owned())
    }

    /// Bytes in use on it.
    pub fn used(&self) -> u64 {
        let out = run(Command::new("df").args(["-B1", "--output=used"]).arg(&self.0), b"").expect_ok("df");
        out.out().lines().nth(1).unwrap().trim().parse().unwrap()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}
