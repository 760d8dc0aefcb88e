//! Garbage collection: under `gc.lock` held exclusively, keep every blob reachable from `index.json`
//! (indexes → manifests → config and layers) and delete the rest, with every temp file in `tmp/`, the
//! signatures kept for manifests no longer reached and the size records of blobs deleted.
//!
//! First it takes off `index.json` the `<none>` twins of named images (entries without a name whose image ID
//! a named entry has: one image, listed twice by stores written before that rule), so they can go too.
//!
//! What it is not: deciding which names go (`Store::remove`). It fails closed: a referenced manifest that
//! cannot be read or parsed stops the collection before anything is deleted.

use std::collections::BTreeSet;
use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use super::layout::{BLOBS, GC_LOCK, Held, INDEX_LOCK, Mode, TMP, io_error};
use super::{MAX_DEPTH, Store, StoreError, deadlock, drop_twins};
use crate::digest::Digest;
use crate::image::{Descriptor, Manifest, media_type};

/// What a garbage collection freed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Blobs deleted from `blobs/`.
    pub blobs_removed: usize,
    /// Bytes of the blobs and temp files deleted.
    pub bytes_freed: u64,
    /// Temp files (left by killed writers) deleted from `tmp/`.
    pub temps_removed: usize,
}

impl Store {
    /// Takes off `index.json` the `<none>` twins of named images, then deletes every blob it does not reach
    /// and every temp file. Waits for running pulls/pushes/loads (holders of `gc.lock` shared) to finish;
    /// refused in a process that holds a [`super::Session`] or [`super::BlobWriter`] on this store itself.
    pub fn gc(&self) -> Result<GcReport, StoreError> {
        if Held::any(&self.key) {
            return Err(deadlock());
        }
        let _gc = self.lock(GC_LOCK, Mode::Exclusive)?;
        let index = {
            let _ix = self.lock(INDEX_LOCK, Mode::Exclusive)?;
            let mut index = self.read_index()?;
            if drop_twins(self, &mut index) {
                self.write_index(&index)?;
            }
            index
        };
        let keep = self.reachable(&index.manifests)?;
        let mut report = GcReport::default();
        let blobs = self.root.join(BLOBS);
        for alg_dir in read_dir(&blobs)? {
            let Ok(alg) = alg_dir.file_name().into_string() else { continue };
            if !alg_dir.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            for blob in read_dir(&alg_dir.path())? {
                let name = blob.file_name().to_string_lossy().into_owned();
                let digest = Digest::parse(&format!("{alg}:{name}")).ok();
                if digest.is_some_and(|d| keep.contains(&d)) {
                    continue;
                }
                if let Some(size) = remove_file(&blob.path())? {
                    report.blobs_removed += 1;
                    report.bytes_freed += size;
                }
            }
        }
        report.bytes_freed += self.gc_signatures(&keep)?;
        report.bytes_freed += self.gc_sizes(&keep)?;
        for temp in read_dir(&self.root.join(TMP))? {
            if let Some(size) = remove_file(&temp.path())? {
                report.temps_removed += 1;
                report.bytes_freed += size;
            }
        }
        Ok(report)
    }

    /// The digests of `roots` and of everything they reach.
    fn reachable(&self, roots: &[Descriptor]) -> Result<BTreeSet<Digest>, StoreError> {
        let mut keep = BTreeSet::new();
        let mut todo: Vec<(Descriptor, usize)> = roots.iter().map(|d| (d.clone(), 0)).collect();
        while let Some((d, depth)) = todo.pop() {
            if !keep.insert(d.digest.clone()) || !media_type::is_manifest(&d.media_type) {
                continue;
            }
            if depth > MAX_DEPTH {
                return Err(StoreError::Invalid(format!(
                    "garbage collection stopped: manifest {} is nested more than {MAX_DEPTH} indexes deep",
                    d.digest
                )));
            }
            let manifest = match self.read_manifest(&d) {
                Ok((_, m)) => m,
                // Not here: nothing below it is either (an index's children may be absent).
                Err(StoreError::NotFound(_)) => continue,
                Err(e) => {
                    return Err(StoreError::Invalid(format!("garbage collection stopped, nothing deleted: {e}")));
                }
            };
            match manifest {
                Manifest::Image(img) => keep.extend(img.blobs().map(|b| b.digest.clone())),
                Manifest::Index(index) => todo.extend(index.manifests.into_iter().map(|c| (c, depth + 1))),
            }
        }
        Ok(keep)
    }
}

fn read_dir(dir: &Path) -> Result<Vec<fs::DirEntry>, StoreError> {
    match fs::read_dir(dir) {
        Ok(entries) => entries.collect::<Result<Vec<_>, _>>().map_err(io_error(dir)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(StoreError::Io { path: dir.to_owned(), source: e }),
    }
}

/// Removes a file (or symlink, FIFO, ...; not a directory); its size when it was there.
fn remove_file(path: &Path) -> Result<Option<u64>, StoreError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => return Ok(None),
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::Io { path: path.to_owned(), source: e }),
    };
    match fs::remove_file(path) {
        Ok(()) => Ok(Some(if meta.is_file() { meta.len() } else { 0 })),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::Io { path: path.to_owned(), source: e }),
    }
}

/// Removes the files of `root/<algorithm>/<hex>` whose digest is not in `keep` (a per-digest side directory:
/// signatures, size records); the bytes freed. A missing `root` is nothing to do.
pub(super) fn gc_per_digest(root: &Path, keep: &BTreeSet<Digest>) -> Result<u64, StoreError> {
    let mut freed = 0;
    let algs = match std::fs::read_dir(root) {
        Ok(a) => a,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(StoreError::Io { path: root.to_owned(), source: e }),
    };
    for alg in algs {
        let alg = alg.map_err(io_error(root))?;
        let Ok(alg_name) = alg.file_name().into_string() else { continue };
        if !alg.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let dir = alg.path();
        for f in std::fs::read_dir(&dir).map_err(io_error(&dir))? {
            let f = f.map_err(io_error(&dir))?;
            let name = f.file_name().to_string_lossy().into_owned();
            if Digest::parse(&format!("{alg_name}:{name}")).is_ok_and(|d| keep.contains(&d)) {
                continue;
            }
            let size = f.metadata().map(|m| m.len()).unwrap_or(0);
            match std::fs::remove_file(f.path()) {
                Ok(()) => freed += size,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::Io { path: f.path(), source: e }),
            }
        }
    }
    Ok(freed)
}
