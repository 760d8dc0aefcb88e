//! The signatures the store keeps, per manifest digest, so a pull followed by a push carries them:
//! `ROOT/signatures/<algorithm>/<hex>` holds every signature of that manifest as one JSON document,
//! `{"signatures": [BASE64, ...]}`, each entry a signature blob in containers/image's format
//! ([`crate::trust::storage::to_blob`]).
//!
//! The store's rules hold for them too: a file is written whole (temp file in `tmp/`, fsync, rename, fsync
//! of the directory) under `gc.lock` shared, so it is either the old set or the new one; signatures of a
//! manifest no name reaches go at the next [`Store::gc`] (a writer's [`super::Session`] keeps them until its
//! image is named). Reading is bounded ([`MAX_SIGNATURES`], [`MAX_SIGNATURES_TOTAL`]) and a damaged file
//! is an error naming it.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;

use base64::Engine as _;

use super::layout::{GC_LOCK, Mode, TMP, create_private_dir, io_error, open_regular, read_capped, sync_dir};
use super::{Store, StoreError};
use crate::digest::Digest;
use crate::trust::Signature;
use crate::trust::storage::{MAX_SIGNATURES, MAX_SIGNATURES_TOTAL, from_blob, signature_size, to_blob};

/// The directory of the signature files.
pub(super) const SIGNATURES: &str = "signatures";

/// The file's largest size: the signatures' bytes in base64 and room for the JSON around them.
const MAX_FILE_SIZE: usize = MAX_SIGNATURES_TOTAL / 3 * 4 + 64 * 1024;

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    signatures: Vec<String>,
}

impl Store {
    /// Where the signatures of manifest `d` are kept.
    pub fn signatures_path(&self, d: &Digest) -> PathBuf {
        self.root.join(SIGNATURES).join(d.algorithm()).join(d.hex())
    }

    /// The signatures kept for manifest `d` (none when there are none).
    pub fn signatures(&self, d: &Digest) -> Result<Vec<Signature>, StoreError> {
        let path = self.signatures_path(d);
        let file = match open_regular(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(StoreError::Corrupt { path, message: e.to_string() });
            }
            Err(e) => return Err(StoreError::Io { path, source: e }),
        };
        let raw = read_capped(file, &path, MAX_FILE_SIZE)?;
        let corrupt = |message: String| StoreError::Corrupt { path: path.clone(), message };
        let parsed: File = serde_json::from_slice(&raw).map_err(|e| corrupt(format!("not a signature list: {e}")))?;
        if parsed.signatures.len() > MAX_SIGNATURES {
            return Err(corrupt(format!("more than {MAX_SIGNATURES} signatures")));
        }
        let mut total = 0usize;
        let mut out = Vec::new();
        for (i, b64) in parsed.signatures.iter().enumerate() {
            let blob = base64::engine::general_purpose::STANDARD
                .decode(b64.as_bytes())
                .map_err(|e| corrupt(format!("signature {}: {e}", i + 1)))?;
            total += blob.len();
            if total > MAX_SIGNATURES_TOTAL {
                return Err(corrupt(format!("signatures of more than {MAX_SIGNATURES_TOTAL} bytes together")));
            }
            out.push(
                from_blob(&blob, &format!("{} in {}", i + 1, path.display())).map_err(|e| corrupt(e.to_string()))?,
            );
        }
        Ok(out)
    }

    /// Keeps `signatures` as those of manifest `d`, replacing what was kept; none keeps what is there (a
    /// pull from a place without signatures does not forget those another pull brought). Refused: more than
    /// [`MAX_SIGNATURES`] or [`MAX_SIGNATURES_TOTAL`] bytes.
    pub fn put_signatures(&self, d: &Digest, signatures: &[Signature]) -> Result<(), StoreError> {
        if signatures.is_empty() {
            return Ok(());
        }
        let total: usize = signatures.iter().map(signature_size).sum();
        if signatures.len() > MAX_SIGNATURES || total > MAX_SIGNATURES_TOTAL {
            return Err(StoreError::Invalid(format!(
                "cannot keep {} signatures ({total} bytes) of {d}: at most {MAX_SIGNATURES} and {MAX_SIGNATURES_TOTAL} bytes",
                signatures.len()
            )));
        }
        let body = File {
            signatures: signatures
                .iter()
                .map(|s| base64::engine::general_purpose::STANDARD.encode(to_blob(s)))
                .collect(),
        };
        let bytes = serde_json::to_vec(&body).expect("strings serialise");
        let _gc = self.lock(GC_LOCK, Mode::Shared)?;
        let path = self.signatures_path(d);
        let dir = path.parent().expect("a signature path has a directory").to_owned();
        create_private_dir(&dir)?;
        let tmp = self.root.join(TMP);
        create_private_dir(&tmp)?;
        let (mut temp, _tracked) =
            crate::cleanup::temp_file(tempfile::Builder::new().prefix("signatures-"), &tmp).map_err(io_error(&tmp))?;
        temp.write_all(&bytes).and_then(|()| temp.as_file().sync_all()).map_err(io_error(temp.path()))?;
        temp.persist(&path).map_err(|e| StoreError::Io { path: path.clone(), source: e.error })?;
        sync_dir(&dir)
    }

    /// Removes the signature files of manifests not in `keep` (under `gc.lock` held exclusively); the bytes
    /// freed.
    pub(super) fn gc_signatures(&self, keep: &BTreeSet<Digest>) -> Result<u64, StoreError> {
        super::gc::gc_per_digest(&self.root.join(SIGNATURES), keep)
    }
}
