//! Image archives and directories in the four formats podman saves and loads, as untrusted input:
//!
//! | format | what it is | who writes it |
//! |---|---|---|
//! | docker-archive | a tar: `manifest.json` (`Config`, `RepoTags`, `Layers`), the config as `<id>.json`, layers as uncompressed `<diff_id>.tar` (legacy `<id>/layer.tar` links, `repositories`); docker ≥ 25 puts an OCI layout beside `manifest.json` | `docker save`, `podman save`, `skopeo copy docker-archive:` |
//! | oci-archive | a tar of an OCI image layout | `podman save --format oci-archive`, `skopeo copy oci-archive:` |
//! | oci-dir | an OCI image layout (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`) | `podman save --format oci-dir`, `skopeo copy oci:` |
//! | docker-dir | containers/image's `dir:` (`manifest.json` = the image manifest, blobs as `<hex>`, `version`) | `podman save --format docker-dir`, `skopeo copy dir:` |
//!
//! [`open`] tells them apart from their content (a directory: `oci-layout` first, then `manifest.json`; a file
//! or stdin: gzip or zstd outer compression removed, then a tar with `manifest.json` is a docker-archive, one
//! with `oci-layout`/`index.json` an oci-archive) and gives their [`files::Files`]. A compressed file or a
//! stream is first spooled, decompressed, to a temp file (a tar is read by offset after one walk).
//!
//! - [`compression`]: gzip/zstd detection and decompression within a budget (the bomb rule).
//! - [`files`]: the tar walk and its checks (paths, links, duplicates, sizes), safe directory reads.
//! - [`docker`]: manifest.json, repositories, legacy layer IDs. [`oci`]: index.json, oci-layout, names.
//! - [`tar_out`]: writing tars. [`verify`]: checking a whole archive without loading it.
//! - [`parallel_gzip`]: gzip on every core, for the layers hoist makes or is asked to compress.
//! - [`recompress`]: a layer rewritten in another compression on the way (`--compression-format`), streamed.
//!
//! What it is not: moving images (the transports in `crate::transport` do, through the copy engine).

pub mod compression;
pub mod docker;
pub mod files;
pub mod oci;
pub mod output;
pub mod parallel_gzip;
pub mod recompress;
pub mod tar_out;
pub mod verify;

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use compression::Compression;
use files::{Files, TarIndex};

/// Why an archive cannot be read or written. One line, naming the archive and the entry.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Malformed, hostile or damaged input; the message says which file and what is wrong.
    #[error("{0}")]
    Invalid(String),
    #[error("{what}: {source}")]
    Io { what: String, source: io::Error },
    #[error(transparent)]
    Unsupported(#[from] compression::Unsupported),
}

impl ArchiveError {
    pub fn io(what: &str, source: io::Error) -> ArchiveError {
        ArchiveError::Io { what: what.to_owned(), source }
    }
}

/// The four formats, with podman's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    DockerArchive,
    OciArchive,
    OciDir,
    DockerDir,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::DockerArchive, Format::OciArchive, Format::OciDir, Format::DockerDir];

    /// podman's `--format` name.
    pub fn name(self) -> &'static str {
        match self {
            Format::DockerArchive => "docker-archive",
            Format::OciArchive => "oci-archive",
            Format::OciDir => "oci-dir",
            Format::DockerDir => "docker-dir",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == s)
    }

    /// A tar (rather than a directory).
    pub fn is_archive(self) -> bool {
        matches!(self, Format::DockerArchive | Format::OciArchive)
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Where an archive is read from.
pub enum Input {
    Path(PathBuf),
    /// A stream (stdin), named for messages.
    Stream(Box<dyn Read + Send>, String),
}

/// An archive or directory opened for reading.
#[derive(Debug, Clone)]
pub struct Opened {
    pub format: Format,
    pub files: Files,
    /// The outer compression that was removed.
    pub compression: Compression,
}

/// Opens `input` and tells its format from its content. Compressed files and streams are decompressed into a
/// temp file in `spool_dir` (deleted when the last reader is dropped; never in memory), refused once they would
/// leave less than a reserve of its filesystem free ([`compression::Budget::free_space`]). A path must be a
/// regular file, a directory or a FIFO: a device (`/dev/zero`) or a socket is refused at once.
pub fn open(input: Input, spool_dir: &Path) -> Result<Opened, ArchiveError> {
    let (reader, shown): (Box<dyn Read + Send>, String) = match input {
        Input::Path(path) => {
            let shown = path.display().to_string();
            let meta = std::fs::metadata(&path).map_err(|e| ArchiveError::io(&shown, e))?;
            if meta.is_dir() {
                return open_dir(&path);
            }
            if let Some(kind) = not_an_archive(&meta.file_type()) {
                return Err(ArchiveError::Invalid(format!(
                    "{shown}: is {kind}, not an archive (a file, a directory, a FIFO or stdin)"
                )));
            }
            let file = File::open(&path).map_err(|e| ArchiveError::io(&shown, e))?;
            if meta.is_file() {
                let mut head = [0u8; 6];
                let n = file.read_at_most(&mut head).map_err(|e| ArchiveError::io(&shown, e))?;
                if compression::sniff(&head[..n])? == Compression::None {
                    let index = TarIndex::read(file, &shown)?;
                    return detect_tar(Arc::new(index), Compression::None);
                }
            }
            (Box::new(file), shown)
        }
        Input::Stream(r, shown) => (r, shown),
    };
    let (c, reader) = compression::sniff_reader(reader).map_err(|e| ArchiveError::io(&shown, e))?;
    let spool_shown = spool_dir.display().to_string();
    std::fs::create_dir_all(spool_dir).map_err(|e| ArchiveError::io(&spool_shown, e))?;
    let budget = compression::Budget::free_space(spool_dir).map_err(|e| ArchiveError::io(&spool_shown, e))?;
    let mut plain = compression::decompress_within(c, reader, &shown, budget);
    let mut spool = tempfile::tempfile_in(spool_dir).map_err(|e| ArchiveError::io(&spool_shown, e))?;
    if let Err(e) = io::copy(&mut plain, &mut spool) {
        return Err(match compression::OverBudget::of(&e) {
            Some(refused) => ArchiveError::Invalid(refused.to_string()),
            None => ArchiveError::io(&format!("reading {shown}"), e),
        });
    }
    let index = TarIndex::read(spool, &shown)?;
    detect_tar(Arc::new(index), c)
}

/// What a file of this type is when it cannot hold an archive: a device or a socket.
fn not_an_archive(ty: &std::fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    if ty.is_char_device() {
        Some("a character device")
    } else if ty.is_block_device() {
        Some("a block device")
    } else if ty.is_socket() {
        Some("a socket")
    } else {
        None
    }
}

trait ReadAtMost {
    fn read_at_most(&self, buf: &mut [u8]) -> io::Result<usize>;
}

impl ReadAtMost for File {
    fn read_at_most(&self, buf: &mut [u8]) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let mut n = 0;
        while n < buf.len() {
            match self.read_at(&mut buf[n..], n as u64)? {
                0 => break,
                k => n += k,
            }
        }
        Ok(n)
    }
}

fn open_dir(path: &Path) -> Result<Opened, ArchiveError> {
    let files = Files::Dir(path.to_owned());
    let format = if files.exists(oci::OCI_LAYOUT) {
        Format::OciDir
    } else if files.exists(docker::MANIFEST_JSON) {
        Format::DockerDir
    } else {
        return Err(ArchiveError::Invalid(format!(
            "{}: not an image directory: it has neither oci-layout (oci-dir) nor manifest.json (docker-dir)",
            path.display()
        )));
    };
    Ok(Opened { format, files, compression: Compression::None })
}

fn detect_tar(index: Arc<TarIndex>, compression: Compression) -> Result<Opened, ArchiveError> {
    let format = if index.contains(docker::MANIFEST_JSON) {
        Format::DockerArchive
    } else if index.contains(oci::OCI_LAYOUT) || index.contains(oci::INDEX_JSON) {
        Format::OciArchive
    } else {
        return Err(ArchiveError::Invalid(format!(
            "{}: not an image archive: it has neither manifest.json (docker-archive) nor oci-layout and index.json \
             (oci-archive)",
            index.shown()
        )));
    };
    Ok(Opened { format, files: Files::Tar(index), compression })
}
