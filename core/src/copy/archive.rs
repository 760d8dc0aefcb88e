//! Backups through the copy engine: `load` (every image of an archive or directory into the local store) and
//! `save` (images of the store into one archive or directory), as podman's `load` and `save`.
//!
//! - [`images`]: the images an opened archive holds, each as an [`ImageSource`] with the names it carries.
//! - [`load`]: all or nothing — every image is copied first (blobs and manifests land in the store but stay
//!   invisible), then every name is given in one change of the store's index. A failure before that leaves
//!   the store's images as they were; blobs written so far are unreferenced and go at the next `prune`.
//! - [`save`]: each image copied into one writer (a docker-archive, an oci-archive or oci-dir, or a dir);
//!   the last image's commit finishes it (its index written, its temp file renamed), so it is finished only
//!   when all went well.
//!
//! What it is not: reading or writing formats (`crate::archive`, `crate::transport`) or printing.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use super::{CopyError, CopyProgress, Options, copy};
use crate::archive::tar_out::TarOut;
use crate::archive::{ArchiveError, Format, Opened};
use crate::digest::Digest;
use crate::image::Descriptor;
use crate::reference::Reference;
use crate::store::{Image, Store, StoreError};
use crate::transport::blocking::blocking;
use crate::transport::dir::{DirDestination, DirOptions, DirSource};
use crate::transport::docker_archive::{DockerArchiveSource, DockerArchiveWriter};
use crate::transport::oci_layout::{OciLayoutSource, OciLayoutWriter, read_index};
use crate::transport::store::{StoreDestination, StoreSource};
use crate::transport::{ImageSource, TransportError};

/// Why a load or save failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The copy of one image failed: what was being copied, and the transport's error.
    #[error(transparent)]
    Copy(#[from] CopyError),
    /// Opening or finishing a side failed; a store error arrives here as `Transport(Store(..))` (its `From`).
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error("{0}")]
    Invalid(String),
}

/// A store error is the store side's transport error: one variant holds it, not two.
impl From<StoreError> for BackupError {
    fn from(e: StoreError) -> Self {
        BackupError::Transport(TransportError::Store(e))
    }
}

impl BackupError {
    /// The store's error behind this one, wherever it arose (opening, finishing, or during the copy).
    pub fn store_error(&self) -> Option<&StoreError> {
        let transport = match self {
            BackupError::Copy(c) => &*c.source,
            BackupError::Transport(t) => t,
            BackupError::Archive(_) | BackupError::Invalid(_) => return None,
        };
        match transport {
            TransportError::Store(e) => Some(e),
            _ => None,
        }
    }
}

/// One image of an archive.
pub struct ArchiveImage {
    pub names: Vec<Reference>,
    pub source: Box<dyn ImageSource>,
}

/// The images `opened` holds, with the names they will be loaded under. Blocking.
pub fn images(opened: &Opened) -> Result<Vec<ArchiveImage>, TransportError> {
    let files = opened.files.clone();
    match opened.format {
        Format::DockerArchive => Ok(DockerArchiveSource::all(&files)?
            .into_iter()
            .map(|s| ArchiveImage { names: s.load_names().to_vec(), source: Box::new(s) })
            .collect()),
        Format::OciArchive | Format::OciDir => {
            let transport = if opened.format == Format::OciDir { "oci" } else { "oci-archive" };
            let index = read_index(&files)?;
            if index.manifests.is_empty() {
                return Err(ArchiveError::Invalid(format!("{}: index.json lists no image", files.root())).into());
            }
            let mut out: Vec<ArchiveImage> = Vec::new();
            let mut digests: Vec<Digest> = Vec::new();
            for (n, entry) in index.manifests.into_iter().enumerate() {
                let name = crate::archive::oci::load_name(&entry).map_err(|m| {
                    ArchiveError::Invalid(format!("{}: entry {n}: {m}", files.shown(crate::archive::oci::INDEX_JSON)))
                })?;
                // Several entries for one manifest (one per name) are one image with several names.
                if let Some(at) = digests.iter().position(|d| *d == entry.digest) {
                    out[at].names.extend(name);
                    continue;
                }
                digests.push(entry.digest.clone());
                let shown = format!("{transport}:{}@{}", files.root(), entry.digest);
                out.push(ArchiveImage {
                    names: name.into_iter().collect(),
                    source: Box::new(OciLayoutSource::for_entry(files.clone(), entry, shown)),
                });
            }
            Ok(out)
        }
        Format::DockerDir => Ok(vec![ArchiveImage { names: Vec::new(), source: Box::new(DirSource::open(files)) }]),
    }
}

/// An image [`load`] stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub names: Vec<Reference>,
    /// Its ID: the config digest (an index's own digest).
    pub id: Digest,
}

/// Loads every image of `opened` into `store`, all or nothing (see the module's doc).
pub async fn load(
    store: Arc<Store>,
    opened: &Opened,
    opts: &Options,
    progress: Arc<dyn CopyProgress>,
) -> Result<Vec<Loaded>, BackupError> {
    let _session = store.session()?;
    let o = opened.clone();
    let sources = blocking(move || images(&o)).await?;
    let mut done = Vec::new();
    for image in sources {
        // Named below, with the others, once every image is in.
        let dst = StoreDestination::unnamed(store.clone())?;
        let manifest = copy(image.source.as_ref(), &dst, opts, progress.clone()).await?.manifest;
        let id = manifest.image_id();
        done.push((image.names, manifest.descriptor(), id));
    }
    let mut tags: Vec<(Option<Reference>, Descriptor)> = Vec::new();
    for (names, d, _) in &done {
        if names.is_empty() {
            tags.push((None, d.clone()));
        }
        tags.extend(names.iter().map(|n| (Some(n.clone()), d.clone())));
    }
    let s = store.clone();
    tokio::task::spawn_blocking(move || s.tag_all(&tags))
        .await
        .map_err(|e| BackupError::Invalid(format!("store: {e}")))??;
    Ok(done.into_iter().map(|(names, _, id)| Loaded { names, id }).collect())
}

/// Where a save writes.
pub enum SaveOutput {
    /// A file (an archive, written to a temp file and renamed) or a directory.
    Path(PathBuf),
    /// A stream (stdout); archives only.
    Stream(Box<dyn Write + Send>),
}

/// One image to save: how the user named it, and the names it is saved under.
pub struct SaveImage {
    pub source: StoreSource,
    pub names: Vec<Reference>,
}

/// The names an image is saved under when the user named it `input`: the stored name `input` matched (a short
/// name finds its full one), none when it was named by ID, as podman saves.
pub fn saved_names(input: &str, image: &Image) -> Vec<Reference> {
    if let Ok(r) = Reference::parse_normalized(input).map(Reference::with_default_tag)
        && image.names.contains(&r)
    {
        return vec![r];
    }
    let path = input.split_once('@').map_or(input, |(n, _)| n);
    let (path, tag) = match path.rsplit_once(':') {
        Some((p, t)) if !t.contains('/') => (p, t),
        _ => (path, "latest"),
    };
    image
        .names
        .iter()
        .filter(|n| (n.path() == path || n.path().ends_with(&format!("/{path}"))) && n.tag() == Some(tag))
        .take(1)
        .cloned()
        .collect()
}

/// Saves `images` (from the store) as `format` to `target`; several only into a docker-archive or oci-archive.
/// `compress` gzips uncompressed layers into a docker-dir (podman's `save --compress`).
pub async fn save(
    format: Format,
    images: Vec<SaveImage>,
    target: SaveOutput,
    compress: bool,
    opts: &Options,
    progress: Arc<dyn CopyProgress>,
) -> Result<(), BackupError> {
    if compress && format != Format::DockerDir {
        return Err(BackupError::Invalid("--compress can only be set when --format is docker-dir".to_owned()));
    }
    if images.is_empty() {
        return Err(BackupError::Invalid("no image to save".to_owned()));
    }
    if images.len() > 1 && !format.is_archive() {
        return Err(BackupError::Invalid(format!(
            "unsupported format {:?} for saving multiple images (only docker-archive and oci-archive)",
            format.name()
        )));
    }
    // A tar is written one entry after another anyway; one blob at a time keeps the entries in the manifest's
    // order, so the same image always makes the same archive (podman's, byte for byte, for a docker-archive).
    let jobs = if format.is_archive() { 1 } else { opts.jobs };
    let opts = Options { all: false, jobs, ..opts.clone() };
    let shown = match &target {
        SaveOutput::Path(p) => p.display().to_string(),
        SaveOutput::Stream(_) => "-".to_owned(),
    };
    let tar = match (format.is_archive(), target) {
        (true, SaveOutput::Path(p)) => Some(TarOut::to_file(&p).map_err(|e| ArchiveError::io(&shown, e))?),
        (true, SaveOutput::Stream(w)) => Some(TarOut::to_stream(w)),
        (false, SaveOutput::Path(_)) => None,
        (false, SaveOutput::Stream(_)) => {
            return Err(BackupError::Invalid(format!("{format} is a directory: give its path with -o")));
        }
    };
    let path = || PathBuf::from(&shown);
    match format {
        Format::DockerArchive => {
            let writer = DockerArchiveWriter::new(tar.expect("an archive"), &shown);
            let count = images.len();
            for (n, image) in images.iter().enumerate() {
                // The last image's commit finishes the archive.
                let dst = if n + 1 == count {
                    writer.last_image(image.names.clone())
                } else {
                    writer.image(image.names.clone())
                };
                copy(&image.source, &dst, &opts, progress.clone()).await?;
            }
        }
        Format::OciArchive | Format::OciDir => {
            let writer = match tar {
                Some(t) => OciLayoutWriter::archive(t, &shown),
                None => {
                    let p = path();
                    blocking(move || OciLayoutWriter::dir(&p)).await?
                }
            };
            let mut entries: Vec<(&StoreSource, Option<String>)> = Vec::new();
            for image in &images {
                if image.names.is_empty() {
                    entries.push((&image.source, None));
                }
                entries.extend(image.names.iter().map(|n| (&image.source, Some(n.to_string()))));
            }
            let count = entries.len();
            for (n, (source, r)) in entries.into_iter().enumerate() {
                // The last entry's commit finishes the layout.
                let dst = if n + 1 == count { writer.last_image(r) } else { writer.image(r) };
                copy(source, &dst, &opts, progress.clone()).await?;
            }
        }
        Format::DockerDir => {
            // Refused before the directory is made: a manifest schema 2 cannot hold (zstd layers).
            let source = &images[0].source;
            let top = source
                .manifest()
                .await
                .map_err(|e| CopyError::new(format!("reading the manifest of {}", source.name()), e))?;
            if let Ok(crate::image::Manifest::Image(m)) = crate::image::Manifest::parse(&top.raw, Some(&top.media_type))
                && let Err(e) = m.to_docker_schema2()
            {
                return Err(BackupError::Invalid(format!(
                    "cannot save {} as docker-dir (Docker schema 2): {e}; save it as oci-dir or oci-archive",
                    source.name()
                )));
            }
            let p = path();
            // As podman: a Docker schema 2 manifest.
            let dir = DirOptions { compress, docker_schema2: true };
            let dst = blocking(move || DirDestination::open_with(&p, dir)).await?;
            copy(&images[0].source, &dst, &opts, progress.clone()).await?;
        }
    }
    Ok(())
}
