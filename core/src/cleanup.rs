//! The temp files the library has in flight (store blobs being written, archives being saved), so that a
//! process stopped by a signal can remove them before it exits: [`temp_file`] creates and tracks one,
//! [`remove_all`] deletes every tracked one and stops new ones from being made. The CLI calls it on SIGINT and
//! SIGTERM; a temp file left by a process killed outright (`kill -9`) goes at the next `hoist prune`.
//!
//! What it is not: signal handling (the caller's) or removing temp files of other processes (`Store::gc`).

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use tempfile::NamedTempFile;

static TEMPS: Mutex<Option<HashMap<u64, PathBuf>>> = Mutex::new(None);
static NEXT: AtomicU64 = AtomicU64::new(0);

fn temps() -> MutexGuard<'static, Option<HashMap<u64, PathBuf>>> {
    TEMPS.lock().unwrap_or_else(|e| e.into_inner())
}

/// A tracked temp file's registration; dropping it forgets the path (after the file was renamed into place or
/// deleted). Keep it alive at least as long as the temp file.
#[derive(Debug)]
pub struct Tracked {
    id: u64,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let Some(map) = temps().as_mut() {
            map.remove(&self.id);
        }
    }
}

/// Creates a temp file in `dir` with `builder` and tracks it until the [`Tracked`] is dropped. The creation
/// and the registration happen under one lock, so [`remove_all`] never misses a file that exists.
pub fn temp_file(builder: &tempfile::Builder, dir: &Path) -> io::Result<(NamedTempFile, Tracked)> {
    let mut guard = temps();
    let temp = builder.tempfile_in(dir)?;
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    guard.get_or_insert_with(HashMap::new).insert(id, temp.path().to_owned());
    Ok((temp, Tracked { id }))
}

/// Deletes every tracked temp file (how many were deleted is returned) and keeps the registry locked for
/// good: a thread that tries to make another temp file waits until the process exits. Meant to be called
/// right before exiting on a signal.
pub fn remove_all() -> usize {
    let mut guard = temps();
    let mut removed = 0;
    if let Some(map) = guard.as_mut() {
        for path in map.values() {
            if std::fs::remove_file(path).is_ok() {
                removed += 1;
            }
        }
        map.clear();
    }
    std::mem::forget(guard);
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let (temp, tracked) = temp_file(tempfile::Builder::new().prefix("t-"), dir.path()).unwrap();
        let path = temp.path().to_owned();
        assert!(temps().as_ref().unwrap().values().any(|p| *p == path));
        drop(temp);
        drop(tracked);
        assert!(!temps().as_ref().unwrap().values().any(|p| *p == path));
    }
}
