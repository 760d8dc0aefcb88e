//! Blobs in the store: `blobs/<algorithm>/<hex>`, written through a temp file in `tmp/` that is hashed while
//! written, verified (or, for a blob whose digest is learned only from its bytes, named by the digest they
//! hash to), fsynced and renamed into place, and read back verified.
//!
//! What it is not: deciding which blobs an image needs (the copy engine) or when they may go (`gc`).

use std::collections::{BTreeSet, VecDeque};
use std::fs::File;
use std::io::{ErrorKind, Write};
use std::path::PathBuf;
use std::thread::JoinHandle;

use hoist_fs::write_behind::WriteBehind;
use tempfile::NamedTempFile;

use super::layout::{BLOBS, Held, Lock, Mode, TMP, create_private_dir, io_error, open_regular, read_capped, sync_dir};
use super::{Store, StoreError};

use crate::digest::{Digest, Hasher, Verifier, VerifyError, verify};

/// Writes one blob into the store. Bytes go to a temp file in `tmp/` and are hashed as they pass;
/// [`BlobWriter::commit`] checks digest and size, fsyncs and renames the file into `blobs/`. Dropped without
/// a commit, the temp file is deleted. While it lives the writer holds `gc.lock` shared, so a garbage
/// collection neither removes its temp file nor runs between its commit and the caller's next step (the
/// caller's [`super::Session`] covers the time until the blob is referenced).
pub struct BlobWriter {
    temp: Option<NamedTempFile>,
    check: Option<Check>,
    failed: Option<VerifyError>,
    behind: WriteBehind,
    /// `blobs/` of the store.
    blobs: PathBuf,
    /// Known to [`crate::cleanup`] until the writer is gone, so a signal removes the temp file.
    _tracked: crate::cleanup::Tracked,
    _lock: Lock,
    _held: Held,
}

/// How a [`BlobWriter`] names what it wrote.
enum Check {
    /// Its bytes must hash to this digest (and size).
    Expect(Verifier),
    /// Its name is the sha256 digest its bytes hash to ([`Store::blob_writer_learning`]).
    Learn(Hasher),
}

impl Store {
    /// Where the blob named `d` is (or would be): `blobs/<algorithm>/<hex>`.
    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root.join(BLOBS).join(d.algorithm()).join(d.hex())
    }

    /// The size of the blob named `d`, if the store has it.
    pub fn has_blob(&self, d: &Digest) -> Result<Option<u64>, StoreError> {
        let path = self.blob_path(d);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() => Ok(Some(m.len())),
            Ok(_) => Err(StoreError::Corrupt { path, message: "blob is not a regular file".to_owned() }),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::Io { path, source: e }),
        }
    }

    /// Opens the blob named `d` for reading; [`StoreError::NotFound`] when the store does not have it. The
    /// bytes are not checked: a reader that streams them should check them with a [`Verifier`].
    pub fn open_blob(&self, d: &Digest) -> Result<File, StoreError> {
        let path = self.blob_path(d);
        match open_regular(&path) {
            Ok(f) => Ok(f),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                Err(StoreError::NotFound(format!("blob {d}: not in the store")))
            }
            Err(e) if e.kind() == ErrorKind::InvalidData => Err(StoreError::Corrupt { path, message: e.to_string() }),
            Err(e) => Err(StoreError::Io { path, source: e }),
        }
    }

    /// Reads the whole blob named `d`, refusing one of more than `cap` bytes, and checks it against `d`
    /// ([`StoreError::Corrupt`] when its bytes are not what it is named by).
    pub fn read_blob(&self, d: &Digest, cap: usize) -> Result<Vec<u8>, StoreError> {
        let path = self.blob_path(d);
        let bytes = read_capped(self.open_blob(d)?, &path, cap)?;
        verify(&bytes, d, None)
            .map_err(|e| StoreError::Corrupt { path, message: format!("blob content does not match its name: {e}") })?;
        Ok(bytes)
    }

    /// A writer for the blob named `expected` (of `size` bytes, when known). See [`BlobWriter`].
    pub fn blob_writer(&self, expected: &Digest, size: Option<u64>) -> Result<BlobWriter, StoreError> {
        self.writer(Check::Expect(Verifier::new(expected, size)))
    }

    /// A writer for a blob whose digest is not known before its bytes are: it is named by the sha256 digest
    /// they hash to, which [`BlobWriter::finish`] returns (the caller checks it against what should be there —
    /// a config's diff_id, a manifest's descriptor — before referencing it; a blob nothing references is
    /// garbage for the next [`Store::gc`], as after a failed pull). Otherwise as [`Store::blob_writer`].
    pub fn blob_writer_learning(&self) -> Result<BlobWriter, StoreError> {
        self.writer(Check::Learn(Hasher::sha256()))
    }

    fn writer(&self, check: Check) -> Result<BlobWriter, StoreError> {
        let lock = self.lock(super::layout::GC_LOCK, Mode::Shared)?;
        let held = Held::new(&self.key);
        let tmp = self.root.join(TMP);
        create_private_dir(&tmp)?;
        let (temp, tracked) =
            crate::cleanup::temp_file(tempfile::Builder::new().prefix("blob-"), &tmp).map_err(io_error(&tmp))?;
        Ok(BlobWriter {
            temp: Some(temp),
            check: Some(check),
            failed: None,
            behind: WriteBehind::default(),
            blobs: self.root.join(BLOBS),
            _tracked: tracked,
            _lock: lock,
            _held: held,
        })
    }

    /// Stores `bytes` (a manifest or config made here) under their sha256 digest, which is returned.
    pub fn put_blob(&self, bytes: &[u8]) -> Result<Digest, StoreError> {
        let digest = Digest::sha256(bytes);
        let mut w = self.blob_writer(&digest, Some(bytes.len() as u64))?;
        w.write_all(bytes).map_err(|e| w.error(e))?;
        w.commit()?;
        Ok(digest)
    }
}

impl BlobWriter {
    /// How many bytes were written so far.
    pub fn written(&self) -> u64 {
        match &self.check {
            Some(Check::Expect(v)) => v.len(),
            Some(Check::Learn(h)) => h.len(),
            None => 0,
        }
    }

    /// The error a failed write stands for: the verification failure when that is what stopped it.
    pub fn error(&self, e: std::io::Error) -> StoreError {
        match &self.failed {
            Some(v) => StoreError::Verify(v.clone()),
            None => StoreError::Io { path: self.temp_path(), source: e },
        }
    }

    fn temp_path(&self) -> PathBuf {
        self.temp.as_ref().map(|t| t.path().to_owned()).unwrap_or_else(|| self.blobs.clone())
    }

    /// Checks digest and size, fsyncs the file and renames it to `blobs/<algorithm>/<hex>` (keeping an
    /// existing blob of the right size instead, and deleting the temp). Nothing reaches `blobs/` on failure.
    pub fn commit(self) -> Result<(), StoreError> {
        self.finish().map(|_| ())
    }

    /// [`BlobWriter::commit`], returning the blob's digest and size: for a writer of
    /// [`Store::blob_writer_learning`], the digest its bytes hash to, which names the blob.
    pub fn finish(mut self) -> Result<(Digest, u64), StoreError> {
        let (digest, written) = self.checked()?;
        let dir = self.settle(&digest, written)?;
        if let Some(dir) = dir {
            sync_dir(&dir)?;
        }
        Ok((digest, written))
    }

    /// [`BlobWriter::finish`] with the fsync and the rename left to another thread of `syncs`, so the caller
    /// goes on (reading the next blob of a stream) while the disk catches up: the digest and size are checked
    /// and returned now; the blob is in `blobs/` — fsynced, then renamed, then its directory fsynced — once
    /// [`BackgroundSyncs::wait`] returned, which gives the first failure of any of them.
    pub fn finish_in_background(mut self, syncs: &mut BackgroundSyncs) -> Result<(Digest, u64), StoreError> {
        let (digest, written) = self.checked()?;
        syncs.make_room()?;
        let (d, path) = (digest.clone(), self.temp_path());
        syncs.blobs = self.blobs.clone();
        let handle = std::thread::Builder::new()
            .name("blob-sync".into())
            .spawn(move || self.settle(&d, written))
            .map_err(io_error(&path))?;
        syncs.running.push_back(handle);
        Ok((digest, written))
    }

    /// The digest and size of what was written, checked (an expected digest) or learned.
    fn checked(&mut self) -> Result<(Digest, u64), StoreError> {
        if let Some(e) = self.failed.take() {
            return Err(StoreError::Verify(e));
        }
        let Some(check) = self.check.take() else {
            unreachable!("a writer is committed once");
        };
        match check {
            Check::Expect(verifier) => {
                let (digest, written) = (verifier.expected().clone(), verifier.len());
                verifier.finish().map_err(StoreError::Verify)?;
                Ok((digest, written))
            }
            Check::Learn(hasher) => {
                let written = hasher.len();
                Ok((hasher.finish(), written))
            }
        }
    }

    /// fsyncs the temp file and renames it to the blob's place (keeping an existing blob of the right size
    /// instead); the directory it was renamed into, which the caller fsyncs, when it was.
    fn settle(mut self, digest: &Digest, written: u64) -> Result<Option<PathBuf>, StoreError> {
        let Some(temp) = self.temp.take() else {
            unreachable!("a writer is committed once");
        };
        let dest = self.blobs.join(digest.algorithm()).join(digest.hex());
        temp.as_file().sync_all().map_err(io_error(temp.path()))?;
        match std::fs::symlink_metadata(&dest) {
            Ok(m) if m.is_file() && m.len() == written => return Ok(None),
            _ => {}
        }
        let dir = dest.parent().expect("a blob path has a directory").to_owned();
        create_private_dir(&dir)?;
        temp.persist(&dest).map_err(|e| StoreError::Io { path: dest.clone(), source: e.error })?;
        Ok(Some(dir))
    }
}

/// The blobs [`BlobWriter::finish_in_background`] hands over: each fsynced and renamed on a thread of its
/// own, at most [`MAX_SYNCING`] at once; [`BackgroundSyncs::wait`] waits for all of them and fsyncs the
/// directories they were renamed into (once each). Dropped without a wait, it still waits for its threads
/// (what they renamed is then garbage for the next gc until something references it).
#[derive(Default)]
pub struct BackgroundSyncs {
    running: VecDeque<JoinHandle<Result<Option<PathBuf>, StoreError>>>,
    dirs: BTreeSet<PathBuf>,
    failed: Option<StoreError>,
    /// `blobs/` of the store (named if a thread panicked).
    blobs: PathBuf,
}

/// How many blobs [`BackgroundSyncs`] fsyncs at once.
pub const MAX_SYNCING: usize = 8;

impl BackgroundSyncs {
    pub fn new() -> BackgroundSyncs {
        BackgroundSyncs::default()
    }

    /// Joins the oldest thread while [`MAX_SYNCING`] run.
    fn make_room(&mut self) -> Result<(), StoreError> {
        while self.running.len() >= MAX_SYNCING {
            self.join_oldest();
        }
        match self.failed.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn join_oldest(&mut self) {
        let Some(h) = self.running.pop_front() else { return };
        let result = h.join().unwrap_or_else(|_| {
            Err(StoreError::Io { path: self.blobs.clone(), source: std::io::Error::other("a blob's fsync panicked") })
        });
        match result {
            Ok(Some(dir)) => {
                self.dirs.insert(dir);
            }
            Ok(None) => {}
            Err(e) => {
                self.failed.get_or_insert(e);
            }
        }
    }

    /// Waits until every blob handed over is fsynced and in place, and fsyncs their directories: the first
    /// failure, if any.
    pub fn wait(mut self) -> Result<(), StoreError> {
        while !self.running.is_empty() {
            self.join_oldest();
        }
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        for dir in std::mem::take(&mut self.dirs) {
            sync_dir(&dir)?;
        }
        Ok(())
    }
}

impl Drop for BackgroundSyncs {
    fn drop(&mut self) {
        while !self.running.is_empty() {
            self.join_oldest();
        }
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(e) = &self.failed {
            return Err(std::io::Error::new(ErrorKind::InvalidData, e.clone()));
        }
        let (Some(temp), Some(check)) = (self.temp.as_mut(), self.check.as_mut()) else {
            return Err(std::io::Error::other("blob writer already committed"));
        };
        let n = temp.write(buf)?;
        self.behind.wrote(temp.as_file(), n);
        match check {
            Check::Expect(verifier) => {
                if let Err(e) = verifier.update(&buf[..n]) {
                    self.failed = Some(e.clone());
                    return Err(std::io::Error::new(ErrorKind::InvalidData, e));
                }
            }
            Check::Learn(hasher) => hasher.update(&buf[..n]),
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.temp.as_mut() {
            Some(t) => t.flush(),
            None => Ok(()),
        }
    }
}
