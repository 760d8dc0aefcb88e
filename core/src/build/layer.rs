//! Writing one layer: a tar of the given entries in path order (so the same entries always give the same
//! bytes), with the owners and modes given (numeric only — no user or group names from the host), gzip'd at
//! a fast level, its `diff_id` (sha256 of the tar) and digest (sha256 of the gzip) computed while it is
//! written; then stored as a blob of the local store. Files that are hard links of one another (in the
//! context, an `ADD` archive or a source image) stay hard links in the layer (as BuildKit writes them).
//!
//! File bytes that come out of an archive (`ADD`) or an image (`COPY --from`) wait in a [`Spool`], an unnamed
//! temp file in the store's temp directory, never in memory: a layer of a 1 GiB file takes the same memory as
//! one of a 1 KiB file.
//!
//! What it is not: deciding what goes in a layer (`stage`) or reading layers (`tree`).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::BuildError;
use crate::archive::parallel_gzip::ParallelGzip;
use crate::digest::{Digest, Hasher, HashingWriter};
use crate::image::{Descriptor, media_type};
use crate::store::Store;
use crate::transport::blocking::copy_buffered;

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    Dir,
    File(Content),
    Symlink(String),
}

/// Where a file's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// A file of the build context, read while the layer is written; it must still have `size` bytes.
    Host(PathBuf),
    Bytes(std::sync::Arc<Vec<u8>>),
    /// Bytes in a [`Spool`], from this offset (the entry's `size` of them).
    Spooled(Spooled),
}

/// A place in a [`Spool`].
#[derive(Debug, Clone)]
pub struct Spooled {
    file: Arc<File>,
    offset: u64,
}

impl PartialEq for Spooled {
    fn eq(&self, other: &Spooled) -> bool {
        Arc::ptr_eq(&self.file, &other.file) && self.offset == other.offset
    }
}

impl Eq for Spooled {}

/// File bytes on disk while a layer is assembled: one unnamed temp file (gone when the last [`Spooled`] is
/// dropped, or the process ends), appended to.
pub struct Spool {
    file: Arc<File>,
    len: u64,
}

impl Spool {
    /// A spool in `dir` (made if missing).
    pub fn new(dir: &Path) -> io::Result<Spool> {
        std::fs::create_dir_all(dir)?;
        Ok(Spool { file: Arc::new(tempfile::tempfile_in(dir)?), len: 0 })
    }

    /// Appends everything `r` gives: where it went and how many bytes.
    pub fn append(&mut self, r: &mut dyn Read) -> io::Result<(Content, u64)> {
        let offset = self.len;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.file.write_all_at(&buf[..n], self.len)?;
            self.len += n as u64;
        }
        Ok((Content::Spooled(Spooled { file: self.file.clone(), offset }), self.len - offset))
    }
}

/// Reads a spool from a place on (positioned reads: any number of readers share the file).
struct SpoolReader {
    file: Arc<File>,
    at: u64,
}

impl Read for SpoolReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

/// One entry of a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: EntryKind,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    pub size: u64,
}

/// A layer written to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The gzip'd blob, as a manifest lists it.
    pub descriptor: Descriptor,
    /// The sha256 of the uncompressed tar, as the config's `rootfs.diff_ids` lists it.
    pub diff_id: Digest,
    /// The entries written as hard links (path → the earlier path whose bytes they share), as BuildKit keeps
    /// the hard links of a build context.
    pub hard_links: BTreeMap<String, String>,
}

/// Reads exactly `left` bytes from a file that must not have shrunk (or grown) since it was measured.
struct Exact<R: Read> {
    inner: R,
    left: u64,
    path: PathBuf,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let want = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{} changed while it was read (it is shorter now)", self.path.display()),
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Writes `entries` (keyed by path relative to the root, no leading `/`) as one gzip'd layer into `store`.
pub fn write(store: &Store, entries: &BTreeMap<String, Entry>) -> Result<Written, BuildError> {
    let io_err = |source: io::Error| BuildError::WriteLayer { path: None, source };
    let temp = tempfile::tempfile().map_err(io_err)?;
    let gz_out = HashingWriter { inner: io::BufWriter::new(temp), hasher: Hasher::sha256() };
    let gz = ParallelGzip::new(gz_out, flate2::Compression::fast());
    let tar_out = HashingWriter { inner: gz, hasher: Hasher::sha256() };
    let mut builder = tar::Builder::new(tar_out);
    // Entries that are one file (context files with the same device and inode; bytes spooled once for
    // several paths — the hard links of an archive or a source image): the first by path is written, the
    // others link to it.
    let mut seen: HashMap<(u64, u64, bool), &str> = HashMap::new();
    let mut hard_links = BTreeMap::new();
    for (path, e) in entries {
        if let Some(id) = file_identity(e) {
            match seen.get(&id) {
                Some(first) => {
                    append_hard_link(&mut builder, path, first, e)?;
                    hard_links.insert(path.clone(), (*first).to_owned());
                    continue;
                }
                None => {
                    seen.insert(id, path);
                }
            }
        }
        append(&mut builder, path, e)?;
    }
    let tar_out = builder.into_inner().map_err(io_err)?;
    let unpacked = tar_out.hasher.len();
    let diff_id = tar_out.hasher.finish();
    let gz_out = tar_out.inner.finish().map_err(io_err)?;
    let digest = gz_out.hasher.finish();
    let mut file = gz_out.inner.into_inner().map_err(|e| io_err(e.into_error()))?;
    let size = file.stream_position().map_err(io_err)?;
    file.rewind().map_err(io_err)?;
    let mut w = store.blob_writer(&digest, Some(size))?;
    // 1 MiB writes into the store, not io::copy's 8 KiB ones.
    let mut file = io::BufReader::with_capacity(1 << 20, file);
    copy_buffered(&mut file, &mut w).map_err(|e| BuildError::Store(w.error(e)))?;
    w.commit()?;
    // What it unpacks to, for `images`' SIZE (a cache: one not written is measured when needed).
    let _ = store.record_size(&digest, crate::store::LayerSize::Uncompressed(unpacked));
    Ok(Written { descriptor: Descriptor::new(media_type::OCI_LAYER_GZIP, digest, size), diff_id, hard_links })
}

/// What makes two entries one file: a context file's device and inode (when it has several links), or the
/// place of its bytes in a spool (not for empty files: they all sit at the same offset).
fn file_identity(e: &Entry) -> Option<(u64, u64, bool)> {
    match &e.kind {
        EntryKind::File(Content::Host(p)) => {
            let m = std::fs::metadata(p).ok().filter(|m| m.nlink() > 1)?;
            Some((m.dev(), m.ino(), true))
        }
        EntryKind::File(Content::Spooled(s)) if e.size > 0 => {
            Some((Arc::as_ptr(&s.file) as usize as u64, s.offset, false))
        }
        _ => None,
    }
}

/// A tar hard link at `path` to the earlier entry `target`, with `e`'s metadata.
fn append_hard_link<W: Write>(b: &mut tar::Builder<W>, path: &str, target: &str, e: &Entry) -> Result<(), BuildError> {
    let mut h = tar::Header::new_gnu();
    h.set_mode(e.mode & 0o7777);
    h.set_uid(e.uid);
    h.set_gid(e.gid);
    h.set_mtime(e.mtime);
    h.set_entry_type(tar::EntryType::Link);
    h.set_size(0);
    b.append_link(&mut h, path, target).map_err(|source| BuildError::WriteLayer { path: Some(path.to_owned()), source })
}

fn append<W: Write>(b: &mut tar::Builder<W>, path: &str, e: &Entry) -> Result<(), BuildError> {
    let fail = |source: io::Error| BuildError::WriteLayer { path: Some(path.to_owned()), source };
    let mut h = tar::Header::new_gnu();
    h.set_mode(e.mode & 0o7777);
    h.set_uid(e.uid);
    h.set_gid(e.gid);
    h.set_mtime(e.mtime);
    match &e.kind {
        EntryKind::Dir => {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_size(0);
            b.append_data(&mut h, format!("{path}/"), io::empty()).map_err(fail)
        }
        EntryKind::Symlink(target) => {
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            b.append_link(&mut h, path, target).map_err(fail)
        }
        EntryKind::File(content) => {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(e.size);
            match content {
                Content::Bytes(bytes) => b.append_data(&mut h, path, &bytes[..]).map_err(fail),
                Content::Spooled(s) => {
                    let r = SpoolReader { file: s.file.clone(), at: s.offset };
                    b.append_data(&mut h, path, Exact { inner: r, left: e.size, path: PathBuf::from("the spool") })
                        .map_err(fail)
                }
                Content::Host(p) => {
                    let f = std::fs::File::open(p).map_err(|source| BuildError::Io { path: p.clone(), source })?;
                    b.append_data(&mut h, path, Exact { inner: f, left: e.size, path: p.clone() }).map_err(fail)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_numeric_and_reproducible() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("store")).unwrap();
        let file = |data: &[u8]| Entry {
            kind: EntryKind::File(Content::Bytes(std::sync::Arc::new(data.to_vec()))),
            mode: 0o640,
            uid: 101,
            gid: 50,
            mtime: 7,
            size: data.len() as u64,
        };
        let mut entries = BTreeMap::new();
        entries.insert("b/z".to_owned(), file(b"zz"));
        entries.insert("b".to_owned(), Entry { kind: EntryKind::Dir, mode: 0o755, uid: 0, gid: 0, mtime: 7, size: 0 });
        entries.insert(
            "a".to_owned(),
            Entry { kind: EntryKind::Symlink("b/z".into()), mode: 0o777, uid: 0, gid: 0, mtime: 7, size: 0 },
        );
        let long = format!("b/{}", "x".repeat(150));
        entries.insert(long.clone(), file(b"long"));
        let one = write(&store, &entries).unwrap();
        let two = write(&store, &entries).unwrap();
        assert_eq!(one, two, "the same entries give the same layer");
        let raw = store.read_blob(&one.descriptor.digest, 1 << 20).unwrap();
        let mut tar_bytes = Vec::new();
        flate2::read::GzDecoder::new(&raw[..]).read_to_end(&mut tar_bytes).unwrap();
        assert_eq!(Digest::sha256(&tar_bytes), one.diff_id);
        let mut ar = tar::Archive::new(&tar_bytes[..]);
        let seen: Vec<(String, u32, u64, u64, String)> = ar
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().to_string_lossy().into_owned(),
                    h.mode().unwrap(),
                    h.uid().unwrap(),
                    h.mtime().unwrap(),
                    h.username().unwrap().unwrap_or("").to_owned(),
                )
            })
            .collect();
        let names: Vec<&str> = seen.iter().map(|s| s.0.as_str()).collect();
        assert_eq!(names, ["a", "b/", long.as_str(), "b/z"]);
        assert_eq!(seen[3].1, 0o640);
        assert_eq!(seen[3].2, 101);
        assert_eq!(seen[3].3, 7);
        assert!(seen.iter().all(|s| s.4.is_empty()), "no user names");
    }
}
