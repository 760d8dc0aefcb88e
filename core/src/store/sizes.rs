//! What a layer unpacks to, recorded per blob so `hoist images` shows podman's SIZE (layers uncompressed)
//! without decompressing every layer each time: `ROOT/sizes/<algorithm>/<hex>` holds the uncompressed size
//! of the blob of that digest, in decimal ASCII; `~N` records a size that could not be measured (a layer
//! that does not decompress, or one past the budget hoist gives the count) and stands for its compressed size.
//!
//! The record is a cache of a fact fixed by the digest: written whole (temp file in `tmp/`, rename) under
//! `gc.lock` shared, removed with its blob by [`Store::gc`], and a damaged or missing one is measured again.
//! Measuring (decompressing) is the caller's: the store does not read archives. A gzip'd or plain layer is
//! measured while it is written into the store (`transport::store::write_blob`), a layer `build` makes by
//! the tar it wrote (`build::layer`), others the first time `images` needs them (`ops::images`).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;

use super::layout::{GC_LOCK, Mode, TMP, create_private_dir, io_error, open_regular, read_capped};
use super::{Store, StoreError};
use crate::digest::Digest;

/// The directory of the size records.
pub(super) const SIZES: &str = "sizes";

/// A layer's recorded size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerSize {
    /// What it decompresses to.
    Uncompressed(u64),
    /// It could not be measured; its compressed size stands in.
    Unmeasured(u64),
}

impl LayerSize {
    /// The most bytes a layer of `compressed` bytes is decompressed to for its size: 256 MiB, plus 200 times
    /// its compressed size (real layers stay far below; a decompression bomb stops there, unmeasured).
    pub fn budget(compressed: u64) -> u64 {
        (256u64 << 20).saturating_add(compressed.saturating_mul(200))
    }

    /// The bytes counted for the layer either way.
    pub fn bytes(self) -> u64 {
        match self {
            LayerSize::Uncompressed(n) | LayerSize::Unmeasured(n) => n,
        }
    }
}

impl Store {
    fn size_path(&self, d: &Digest) -> PathBuf {
        self.root.join(SIZES).join(d.algorithm()).join(d.hex())
    }

    /// The size recorded for blob `d`; `None` when none is (or the record is damaged: measure it again).
    pub fn recorded_size(&self, d: &Digest) -> Option<LayerSize> {
        let path = self.size_path(d);
        let raw = read_capped(open_regular(&path).ok()?, &path, 32).ok()?;
        let text = std::str::from_utf8(&raw).ok()?;
        match text.strip_prefix('~') {
            Some(n) => n.parse().ok().map(LayerSize::Unmeasured),
            None => text.parse().ok().map(LayerSize::Uncompressed),
        }
    }

    /// Records `size` for blob `d` (replacing a record there).
    pub fn record_size(&self, d: &Digest, size: LayerSize) -> Result<(), StoreError> {
        let body = match size {
            LayerSize::Uncompressed(n) => n.to_string(),
            LayerSize::Unmeasured(n) => format!("~{n}"),
        };
        let _gc = self.lock(GC_LOCK, Mode::Shared)?;
        let path = self.size_path(d);
        let dir = path.parent().expect("a size record has a directory").to_owned();
        create_private_dir(&dir)?;
        let tmp = self.root.join(TMP);
        create_private_dir(&tmp)?;
        let (mut temp, _tracked) =
            crate::cleanup::temp_file(tempfile::Builder::new().prefix("size-"), &tmp).map_err(io_error(&tmp))?;
        temp.write_all(body.as_bytes()).map_err(io_error(temp.path()))?;
        temp.persist(&path).map_err(|e| StoreError::Io { path: path.clone(), source: e.error })?;
        Ok(())
    }

    /// Removes the size records of blobs not in `keep` (under `gc.lock` held exclusively); the bytes freed.
    pub(super) fn gc_sizes(&self, keep: &BTreeSet<Digest>) -> Result<u64, StoreError> {
        super::gc::gc_per_digest(&self.root.join(SIZES), keep)
    }
}
