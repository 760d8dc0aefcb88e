//! The files of the store's OCI image layout and how they are touched: the two lock files, `oci-layout`,
//! `index.json` read whole and replaced atomically, and the small filesystem helpers the rest of the store
//! shares (private directories, opening only regular files, directory fsync, timestamps).
//!
//! What it is not: deciding what goes in `index.json` (the parent module) or which blobs are kept (`gc`).

use std::collections::BTreeMap;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use super::{MAX_INDEX_SIZE, Store, StoreError};
use crate::image::Index;
use crate::image::media_type::OCI_INDEX;

pub(super) const OCI_LAYOUT: &str = "oci-layout";
pub(super) const INDEX_JSON: &str = "index.json";
pub(super) const GC_LOCK: &str = "gc.lock";
pub(super) const INDEX_LOCK: &str = "index.lock";
pub(super) const BLOBS: &str = "blobs";
pub(super) const TMP: &str = "tmp";
/// Space kept allocated for the next `index.json`, given up when the disk is full so that `rmi` can still
/// rewrite the index (and then free space). Twice the index's size, at least 64 KiB.
pub(super) const INDEX_RESERVE: &str = "index.reserve";
/// The prefix of the temp file `oci-layout` is written through (in the root, so a rename is atomic).
const LAYOUT_TEMP_PREFIX: &str = ".oci-layout-";
/// What a layout's root may hold before it has an `oci-layout` file (a creation cut short).
const OWN_NAMES: &[&str] =
    &[INDEX_JSON, GC_LOCK, INDEX_LOCK, BLOBS, TMP, INDEX_RESERVE, super::signatures::SIGNATURES, super::sizes::SIZES];
const LAYOUT_VERSION: &str = "1.0.0";

pub(super) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io { path: path.to_owned(), source }
}

/// Creates `dir` and its missing parents, each 0700.
pub(super) fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io_error(dir))
}

/// fsyncs a directory, so a rename in it survives a crash.
pub(super) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_error(dir))
}

/// Opens `path` for reading only if it is a regular file: never follows a final symlink, and never blocks on
/// a FIFO (`O_NONBLOCK`), which is refused as not a regular file.
pub(super) fn open_regular(path: &Path) -> Result<File, std::io::Error> {
    let file = OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW).open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::new(ErrorKind::InvalidData, "not a regular file"));
    }
    Ok(file)
}

/// Reads a whole regular file of at most `cap` bytes.
pub(super) fn read_capped(file: File, path: &Path, cap: usize) -> Result<Vec<u8>, StoreError> {
    let size = file.metadata().map_err(io_error(path))?.len();
    if size > cap as u64 {
        return Err(StoreError::TooLarge { path: path.to_owned(), size, cap });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(cap as u64 + 1).read_to_end(&mut bytes).map_err(io_error(path))?;
    if bytes.len() > cap {
        return Err(StoreError::TooLarge { path: path.to_owned(), size: bytes.len() as u64, cap });
    }
    Ok(bytes)
}

/// A held lock on one of the lock files; dropping it unlocks.
pub(super) struct Lock {
    _file: File,
}

/// The stores this process holds a [`super::Session`] or a [`super::BlobWriter`] on, and how many: a
/// garbage collection here would wait for them forever, so it is refused instead.
static HELD: Mutex<BTreeMap<PathBuf, usize>> = Mutex::new(BTreeMap::new());

/// Counts one long-lived shared hold of a store in this process while it lives.
pub(super) struct Held {
    key: PathBuf,
}

impl Held {
    pub(super) fn new(key: &Path) -> Held {
        *HELD.lock().unwrap_or_else(|e| e.into_inner()).entry(key.to_owned()).or_default() += 1;
        Held { key: key.to_owned() }
    }

    pub(super) fn any(key: &Path) -> bool {
        HELD.lock().unwrap_or_else(|e| e.into_inner()).get(key).is_some_and(|&n| n > 0)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = held.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.key);
            }
        }
    }
}

#[derive(Clone, Copy)]
pub(super) enum Mode {
    Shared,
    Exclusive,
}

impl Store {
    /// Takes a lock on the lock file `name` in the root, waiting for it.
    pub(super) fn lock(&self, name: &str, mode: Mode) -> Result<Lock, StoreError> {
        let path = self.root.join(name);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path)
            .map_err(io_error(&path))?;
        if !file.metadata().map_err(io_error(&path))?.is_file() {
            return Err(StoreError::Corrupt { path, message: "lock file is not a regular file".to_owned() });
        }
        match mode {
            Mode::Shared => file.lock_shared(),
            Mode::Exclusive => file.lock(),
        }
        .map_err(io_error(&path))?;
        Ok(Lock { _file: file })
    }

    /// Makes sure the root holds a valid `oci-layout`, writing it into a root that is empty (or holds only
    /// what an interrupted creation leaves); a non-empty directory that is not a layout is refused.
    pub(super) fn ensure_oci_layout(&self) -> Result<(), StoreError> {
        let path = self.root.join(OCI_LAYOUT);
        match open_regular(&path) {
            Ok(file) => return check_oci_layout(&path, &read_capped(file, &path, 64 * 1024)?),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) if e.kind() == ErrorKind::InvalidData => {
                return Err(StoreError::Corrupt { path, message: e.to_string() });
            }
            Err(e) => return Err(StoreError::Io { path, source: e }),
        }
        let entries = fs::read_dir(&self.root).map_err(io_error(&self.root))?;
        for entry in entries {
            let entry = entry.map_err(io_error(&self.root))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if !OWN_NAMES.contains(&name.as_ref()) && !name.starts_with(LAYOUT_TEMP_PREFIX) {
                return Err(StoreError::Corrupt {
                    path: self.root.clone(),
                    message: format!("not an OCI image layout (no oci-layout file) and not empty: has {name:?}"),
                });
            }
        }
        let body = format!(r#"{{"imageLayoutVersion":"{LAYOUT_VERSION}"}}"#);
        let mut temp = tempfile::Builder::new()
            .prefix(LAYOUT_TEMP_PREFIX)
            .tempfile_in(&self.root)
            .map_err(io_error(&self.root))?;
        temp.write_all(body.as_bytes()).and_then(|()| temp.as_file().sync_all()).map_err(io_error(temp.path()))?;
        temp.persist(&path).map_err(|e| StoreError::Io { path: path.clone(), source: e.error })?;
        sync_dir(&self.root)
    }

    /// Reads and checks `index.json`. It is replaced only by rename, so no lock is needed to read it.
    pub(super) fn read_index(&self) -> Result<Index, StoreError> {
        let path = self.root.join(INDEX_JSON);
        let file = match open_regular(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::InvalidData => {
                return Err(StoreError::Corrupt { path, message: e.to_string() });
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(StoreError::Corrupt { path, message: "missing".to_owned() });
            }
            Err(e) => return Err(StoreError::Io { path, source: e }),
        };
        let raw = read_capped(file, &path, MAX_INDEX_SIZE)?;
        parse_index(&path, &raw)
    }

    /// Replaces `index.json` atomically: temp file in `tmp/`, fsync, rename, fsync of the root. The caller
    /// holds `index.lock` exclusively and `gc.lock` shared (so the temp is not collected). On a full disk the
    /// space kept in `index.reserve` is given up and the write tried once more, so that removing an image
    /// works on a full disk; the reserve is made again when there is room ([`Store::keep_index_reserve`]).
    pub(super) fn write_index(&self, index: &Index) -> Result<(), StoreError> {
        let mut index = index.clone();
        index.schema_version = 2;
        index.media_type = Some(OCI_INDEX.to_owned());
        let bytes = serde_json::to_vec(&index).expect("an index serialises");
        match self.write_index_bytes(&bytes) {
            Err(StoreError::Io { source, .. }) if is_disk_full(&source) => {
                let _ = fs::remove_file(self.root.join(INDEX_RESERVE));
                self.write_index_bytes(&bytes)?;
            }
            other => other?,
        }
        self.keep_index_reserve();
        Ok(())
    }

    fn write_index_bytes(&self, bytes: &[u8]) -> Result<(), StoreError> {
        let tmp = self.root.join(TMP);
        let mut temp = tempfile::Builder::new().prefix("index.json-").tempfile_in(&tmp).map_err(io_error(&tmp))?;
        temp.write_all(bytes).and_then(|()| temp.as_file().sync_all()).map_err(io_error(temp.path()))?;
        let path = self.root.join(INDEX_JSON);
        temp.persist(&path).map_err(|e| StoreError::Io { path: path.clone(), source: e.error })?;
        sync_dir(&self.root)
    }

    /// Makes `index.reserve` at least twice the size of `index.json` (64 KiB at least), with its blocks
    /// allocated. Best effort: on a full disk it stays as it is.
    pub(super) fn keep_index_reserve(&self) {
        let index_len = fs::symlink_metadata(self.root.join(INDEX_JSON)).map_or(0, |m| m.len());
        let want = (index_len * 2).max(64 * 1024).next_multiple_of(64 * 1024);
        let path = self.root.join(INDEX_RESERVE);
        let Ok(file) = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
        else {
            return;
        };
        if file.metadata().is_ok_and(|m| !m.is_file() || m.len() >= want) {
            return;
        }
        let Ok(len) = libc::off_t::try_from(want) else { return };
        // SAFETY: posix_fallocate on a file descriptor we own.
        unsafe {
            libc::posix_fallocate(std::os::fd::AsRawFd::as_raw_fd(&file), 0, len);
        }
    }
}

/// ENOSPC or EDQUOT (also when wrapped, as tempfile wraps errors with their path).
pub(super) fn is_disk_full(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::StorageFull | ErrorKind::QuotaExceeded)
        || matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
}

/// Parses `raw`, the content of the `index.json` at `path`: an OCI image index of schemaVersion 2.
pub(super) fn parse_index(path: &Path, raw: &[u8]) -> Result<Index, StoreError> {
    let index: Index = serde_json::from_slice(raw).map_err(|e| StoreError::Corrupt {
        path: path.to_owned(),
        message: format!("not a valid OCI image index: {}", crate::image::excerpt(&e.to_string())),
    })?;
    if index.schema_version != 2 {
        return Err(StoreError::Corrupt {
            path: path.to_owned(),
            message: format!("schemaVersion is {}, not 2", index.schema_version),
        });
    }
    Ok(index)
}

fn check_oci_layout(path: &Path, raw: &[u8]) -> Result<(), StoreError> {
    let corrupt = |message: String| StoreError::Corrupt { path: path.to_owned(), message };
    let value: serde_json::Value = serde_json::from_slice(raw)
        .map_err(|e| corrupt(format!("not valid JSON: {}", crate::image::excerpt(&e.to_string()))))?;
    match value.get("imageLayoutVersion").and_then(|v| v.as_str()) {
        Some(v) if v.starts_with("1.") => Ok(()),
        Some(v) => Err(corrupt(format!("unsupported imageLayoutVersion {:?}", crate::image::excerpt(v)))),
        None => Err(corrupt("no imageLayoutVersion".to_owned())),
    }
}

/// The time now in RFC 3339, UTC, with nanoseconds (a fixed width, so such times sort as strings).
pub(super) fn now_rfc3339() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    format_rfc3339(now.as_secs() as i64, now.subsec_nanos())
}

pub(super) fn format_rfc3339(secs: i64, nanos: u32) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Howard Hinnant's days-since-epoch to (year, month, day).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}
