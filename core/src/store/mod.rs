//! The local image store: an OCI image layout (image-spec `image-layout.md`) that several hoist processes
//! share, where an image becomes visible whole or not at all.
//!
//! ```text
//! ROOT/oci-layout         {"imageLayoutVersion":"1.0.0"}
//! ROOT/index.json         an OCI index: one descriptor per name, annotated with
//!                         org.opencontainers.image.ref.name = docker.io/library/alpine:latest (full form)
//!                         and io.hoist.created = when the name was first given to that manifest (RFC 3339)
//! ROOT/blobs/sha256/HEX   blobs exactly as pulled (layers compressed), named by their digest
//! ROOT/signatures/sha256/HEX  the signatures kept for manifest HEX (store/signatures.rs)
//! ROOT/tmp/               temp files of writes in progress
//! ROOT/gc.lock            shared: a pull/push/load ([`Session`], [`BlobWriter`], tag); exclusive: gc
//! ROOT/index.lock         exclusive around every read-modify-write of index.json
//! ```
//!
//! The root is [`Store::default_root`]; directories are created 0700, files 0600.
//!
//! Crash safety and concurrency (any process may be killed at any point):
//! - A blob is written to `tmp/`, hashed while written, verified, fsynced and renamed into `blobs/`.
//! - `index.json` is only replaced by rename (temp, fsync, rename, fsync of the root), under `index.lock`,
//!   so readers take no lock and always see a whole index.
//! - An image is visible once its descriptor is in `index.json`; [`Store::tag`] adds it only after checking
//!   every blob it references is in `blobs/`. A pull writes its blobs first and tags last.
//! - Blobs written but not yet referenced are protected by `gc.lock`: writers, tags and a caller's
//!   [`Session`] hold it shared, and [`Store::gc`] holds it exclusively. Holding it exclusively means no
//!   writer is alive, so gc removes every temp file in `tmp/` whatever its age (those are left by killed
//!   processes). Locks are always taken gc.lock first, then index.lock, so they cannot deadlock each other;
//!   [`Store::gc`] (and so [`Store::remove`]) refuses to run in a process that holds a [`Session`] or a
//!   [`BlobWriter`] on the same store, where it would wait forever.
//!
//! What it is not: a container storage (no unpacked layers, no containers) or the copy engine (which
//! decides what to fetch and writes through [`BlobWriter`]).

mod blob;
mod dangling;
mod gc;
mod layout;
pub(crate) use layout::civil_from_days;
mod lookup;
mod signatures;
mod sizes;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use blob::{BackgroundSyncs, BlobWriter};
pub use dangling::Pruned;
pub use gc::GcReport;
pub use sizes::LayerSize;

use crate::digest::{Digest, VerifyError};
use crate::image::media_type;
use crate::image::{ANNOTATION_REF_NAME, Descriptor, ImageError, MAX_MANIFEST_SIZE, Manifest, RawManifest};
use crate::reference::Reference;
use layout::{BLOBS, GC_LOCK, Held, INDEX_JSON, INDEX_LOCK, Lock, Mode, TMP, create_private_dir, now_rfc3339};
use lookup::Matched;

/// The annotation holding when a name was first given to an image in this store (RFC 3339, UTC).
pub const ANNOTATION_CREATED: &str = "io.hoist.created";
/// The most bytes `index.json` may have.
pub const MAX_INDEX_SIZE: usize = 64 * 1024 * 1024;
/// How deep indexes may nest inside indexes.
const MAX_DEPTH: usize = 8;

/// Why a store operation failed. One line each, naming the path or image.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An image or blob the store does not have (the message says which).
    #[error("{0}")]
    NotFound(String),
    /// An ID prefix or short name that matches several images.
    #[error("{prefix:?} is ambiguous: it matches {}", candidates.join(", "))]
    Ambiguous { prefix: String, candidates: Vec<String> },
    /// A file in the store that is not what it should be (bad index.json, a blob whose bytes do not match
    /// its name, a FIFO where a file should be).
    #[error("{}: {message}", path.display())]
    Corrupt { path: PathBuf, message: String },
    /// Bytes written through a [`BlobWriter`] were not the ones it was named by.
    #[error("blob refused: {0}")]
    Verify(VerifyError),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: {size} bytes, more than the {cap} allowed", path.display())]
    TooLarge { path: PathBuf, size: u64, cap: usize },
    /// [`Store::tag`] refused: the image references a blob the store does not have.
    #[error("cannot name {name}: blob {digest} is not in the store")]
    Incomplete { name: String, digest: Digest },
    /// A manifest in the store that does not parse.
    #[error("manifest {digest}: {source}")]
    Manifest { digest: Digest, source: ImageError },
    /// [`Store::remove`] by ID of an image with several names, without force (podman's rule and text).
    #[error("unable to delete image {id:?} by ID with more than one tag ({}): please force removal", names.join(", "))]
    MultipleNames { id: String, names: Vec<String> },
    #[error("invalid image name {input:?}: {message}")]
    InvalidName { input: String, message: String },
    /// A request the store refuses (a descriptor that is not a manifest, a gc that would deadlock, ...).
    #[error("{0}")]
    Invalid(String),
    #[error("cannot find the image store: none of $HOIST_STORE, $XDG_DATA_HOME or $HOME is set")]
    NoRoot,
}

/// The local image store at one root. Cheap to clone; every operation takes the locks it needs.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    /// The canonical root: which store this is, for the in-process hold count.
    key: PathBuf,
}

/// A pull, push or load in progress: holds `gc.lock` shared until dropped, so blobs written but not yet
/// referenced by `index.json` are not collected. Do not call [`Store::gc`] or [`Store::remove`] while
/// holding one.
pub struct Session {
    _lock: Lock,
    _held: Held,
}

/// An image in the store: one manifest (or index) and the names it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Full names (`docker.io/library/alpine:latest`), in the order they were given; may be empty for an
    /// entry another tool wrote without a full name.
    pub names: Vec<Reference>,
    /// The manifest's descriptor, without the store's own annotations.
    pub descriptor: Descriptor,
    /// When it was stored (the newest of its names' [`ANNOTATION_CREATED`]).
    pub created: Option<String>,
}

/// What [`Store::remove`] did, for podman's `Untagged:` / `Deleted:` lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removed {
    /// The names taken off.
    pub untagged: Vec<Reference>,
    /// The image ID (see [`Store::image_id`]) when the image itself left the index.
    pub deleted: Option<Digest>,
    /// What the garbage collection that followed freed.
    pub gc: GcReport,
}

impl Store {
    /// `$HOIST_STORE` if set, else `$XDG_DATA_HOME/hoist/store` (when absolute), else
    /// `$HOME/.local/share/hoist/store`.
    pub fn default_root() -> Result<PathBuf, StoreError> {
        let var = |k: &str| std::env::var_os(k).map(PathBuf::from);
        root_from(var("HOIST_STORE"), var("XDG_DATA_HOME"), var("HOME")).ok_or(StoreError::NoRoot)
    }

    /// Opens the store at `root`, creating the layout if it is missing. Refused: a root whose `oci-layout`
    /// or `index.json` is not valid, and a non-empty directory that is not an image layout.
    pub fn open(root: impl Into<PathBuf>) -> Result<Store, StoreError> {
        let root = root.into();
        create_private_dir(&root)?;
        let key = std::fs::canonicalize(&root).map_err(layout::io_error(&root))?;
        let store = Store { root, key };
        store.ensure_oci_layout()?;
        create_private_dir(&store.root.join(BLOBS).join("sha256"))?;
        create_private_dir(&store.root.join(TMP))?;
        if store.root.join(INDEX_JSON).symlink_metadata().is_err() {
            let _gc = store.lock(GC_LOCK, Mode::Shared)?;
            let _ix = store.lock(INDEX_LOCK, Mode::Exclusive)?;
            if store.root.join(INDEX_JSON).symlink_metadata().is_err() {
                store.write_index(&empty_index())?;
            }
        }
        store.read_index()?;
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The store's directory for temp files, on the same filesystem as its blobs (a load spools a compressed
    /// archive or stdin there). What a killed process leaves in it goes at the next [`Store::gc`].
    pub fn temp_dir(&self) -> PathBuf {
        self.root.join(TMP)
    }

    /// Starts a pull/push/load: see [`Session`]. Waits while a garbage collection runs.
    pub fn session(&self) -> Result<Session, StoreError> {
        let lock = self.lock(GC_LOCK, Mode::Shared)?;
        Ok(Session { _lock: lock, _held: Held::new(&self.key) })
    }

    /// Reads, checks and parses the manifest or index `d` describes.
    pub fn read_manifest(&self, d: &Descriptor) -> Result<(Vec<u8>, Manifest), StoreError> {
        let raw = self.read_blob(&d.digest, MAX_MANIFEST_SIZE)?;
        let m = Manifest::parse(&raw, Some(&d.media_type))
            .map_err(|source| StoreError::Manifest { digest: d.digest.clone(), source })?;
        Ok((raw, m))
    }

    /// Gives `name` (normalised, `:latest` when it has neither tag nor digest) to the image `target`
    /// describes, moving it from any other image. Refused unless the store has the manifest (of `target`'s
    /// size) and, for an image manifest, its config and every non-foreign layer, or, for an index, every
    /// child manifest (recursively for nested indexes; the children's layers may be absent, as a pull of one
    /// platform leaves them).
    pub fn tag(&self, name: &Reference, target: &Descriptor) -> Result<(), StoreError> {
        self.tag_all(&[(Some(name.clone()), target.clone())])
    }

    /// [`Store::tag`] for several names at once, in one change of `index.json`: all are given or none (a
    /// load of several images). A `None` name adds the image without a name, unless an image with its ID is
    /// already listed (a load of what is stored, in another manifest, adds no `<none>` twin). Naming an image
    /// takes off the entries without a name that have its ID: an image ID is one image.
    pub fn tag_all(&self, tags: &[(Option<Reference>, Descriptor)]) -> Result<(), StoreError> {
        let mut named = Vec::new();
        for (name, target) in tags {
            let name = name.clone().map(Reference::with_default_tag);
            let name_str = name.as_ref().map(Reference::to_string);
            if let Some(d) = name.as_ref().and_then(|n| n.digest()).filter(|d| **d != target.digest) {
                return Err(StoreError::Invalid(format!(
                    "cannot name {} with {}: the name's digest is {d}",
                    target.digest,
                    name_str.as_deref().unwrap_or_default()
                )));
            }
            if !media_type::is_manifest(&target.media_type) {
                return Err(StoreError::Invalid(format!(
                    "cannot name {}: {} is not an image manifest or index",
                    target.digest, target.media_type
                )));
            }
            named.push((name_str, target));
        }
        let _gc = self.lock(GC_LOCK, Mode::Shared)?;
        for (name, target) in &named {
            let shown = name.clone().unwrap_or_else(|| target.digest.to_string());
            self.check_complete(&shown, target, 0)?;
        }
        let _ix = self.lock(INDEX_LOCK, Mode::Exclusive)?;
        let mut index = self.read_index()?;
        let mut ids = IdCache::default();
        for (name, target) in named {
            let created = index
                .manifests
                .iter()
                .filter(|d| d.digest == target.digest)
                .find_map(|d| d.annotation(ANNOTATION_CREATED).map(str::to_owned))
                .unwrap_or_else(now_rfc3339);
            let mut entry = target.clone();
            let annotations = entry.annotations.get_or_insert_with(BTreeMap::new);
            match name {
                Some(name_str) => {
                    let id = ids.get(self, target);
                    index.manifests.retain(|d| {
                        d.annotation(ANNOTATION_REF_NAME) != Some(name_str.as_str())
                            && (is_named(d) || ids.get(self, d) != id)
                    });
                    annotations.insert(ANNOTATION_REF_NAME.to_owned(), name_str);
                }
                None => {
                    let id = ids.get(self, target);
                    if index.manifests.iter().any(|d| ids.get(self, d) == id) {
                        continue;
                    }
                }
            }
            annotations.insert(ANNOTATION_CREATED.to_owned(), created);
            index.manifests.push(entry);
        }
        self.write_index(&index)
    }

    /// Takes `name` (normalised as in [`Store::tag`]) off its image; false when no image had it. The image's
    /// blobs stay until the next [`Store::gc`].
    pub fn untag(&self, name: &Reference) -> Result<bool, StoreError> {
        let name = name.clone().with_default_tag().to_string();
        let _gc = self.lock(GC_LOCK, Mode::Shared)?;
        let _ix = self.lock(INDEX_LOCK, Mode::Exclusive)?;
        let mut index = self.read_index()?;
        let before = index.manifests.len();
        index.manifests.retain(|d| d.annotation(ANNOTATION_REF_NAME) != Some(name.as_str()));
        if index.manifests.len() == before {
            return Ok(false);
        }
        self.write_index(&index)?;
        Ok(true)
    }

    /// Every image, grouped by manifest digest, newest first.
    pub fn list(&self) -> Result<Vec<Image>, StoreError> {
        Ok(lookup::images(&self.read_index()?))
    }

    /// The image `name_or_id` names: a name (docker's normalisation, `:latest` by default; a short name
    /// also matches stored names whose repository path is it or ends in `/` and it, as podman matches local
    /// images, `localhost/` first), or an image ID: the manifest digest or the config digest (podman's image
    /// ID), whole or as a prefix of at least 3 hex digits, with or without `sha256:`.
    pub fn find(&self, name_or_id: &str) -> Result<Image, StoreError> {
        let images = lookup::images(&self.read_index()?);
        let (i, _) = self.resolve(&images, name_or_id)?;
        Ok(images[i].clone())
    }

    /// The image's ID as podman shows it: the config digest of an image manifest; an index's own digest.
    /// Several manifests may have one ID (the same config pulled and loaded); they are one image.
    pub fn image_id(&self, image: &Image) -> Result<Digest, StoreError> {
        self.descriptor_id(&image.descriptor)
    }

    /// Every image ID ([`Store::image_id`]) in the store once, newest first: what `rmi -a` removes.
    pub fn image_ids(&self) -> Result<Vec<Digest>, StoreError> {
        let mut out: Vec<Digest> = Vec::new();
        for id in self.ids(&self.list()?) {
            if !out.contains(&id) {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// [`Store::image_id`] of the image `d` describes.
    fn descriptor_id(&self, d: &Descriptor) -> Result<Digest, StoreError> {
        if !media_type::is_image_manifest(&d.media_type) {
            return Ok(d.digest.clone());
        }
        let (raw, _) = self.read_manifest(d)?;
        Ok(RawManifest { raw, media_type: d.media_type.clone(), digest: d.digest.clone() }.image_id())
    }

    /// `rmi`: by name, takes that name off, and the image with it when no manifest with its ID keeps a name;
    /// by ID (or by digest without a stored name), takes every manifest with that ID and all their names off,
    /// refusing an image with several names unless `force`. [`Removed::deleted`] is set only when the image
    /// left (so `rmi A B` of one image's two names says so once). Then collects garbage.
    pub fn remove(&self, name_or_id: &str, force: bool) -> Result<Removed, StoreError> {
        if Held::any(&self.key) {
            return Err(deadlock());
        }
        let mut removed = {
            let _gc = self.lock(GC_LOCK, Mode::Shared)?;
            let _ix = self.lock(INDEX_LOCK, Mode::Exclusive)?;
            let mut index = self.read_index()?;
            let images = lookup::images(&index);
            let (i, matched) = self.resolve(&images, name_or_id)?;
            let ids = self.ids(&images);
            let id = ids[i].clone();
            // The image: every manifest with its ID.
            let digests: Vec<&Digest> =
                images.iter().zip(&ids).filter(|(_, d)| **d == id).map(|(img, _)| &img.descriptor.digest).collect();
            let mut removed = Removed::default();
            match matched {
                Matched::Name(name) => {
                    let name_str = name.to_string();
                    index.manifests.retain(|d| d.annotation(ANNOTATION_REF_NAME) != Some(name_str.as_str()));
                    if !index.manifests.iter().any(|d| digests.contains(&&d.digest) && is_named(d)) {
                        index.manifests.retain(|d| !digests.contains(&&d.digest));
                        removed.deleted = Some(id);
                    }
                    removed.untagged.push(name);
                }
                Matched::Id => {
                    let names = lookup::names_of(&images, &ids, &id);
                    if names.len() > 1 && !force {
                        return Err(StoreError::MultipleNames {
                            id: name_or_id.to_owned(),
                            names: names.iter().map(Reference::to_string).collect(),
                        });
                    }
                    index.manifests.retain(|d| !digests.contains(&&d.digest));
                    removed.untagged = names;
                    removed.deleted = Some(id);
                }
            }
            self.write_index(&index)?;
            removed
        };
        removed.gc = self.gc()?;
        // A full disk gave up the index's reserve: the collection freed room to make it again.
        self.keep_index_reserve();
        Ok(removed)
    }

    /// `rmi IMAGE...`: [`Store::remove`] of each input in order, every input found first (as podman looks
    /// them up), so an input naming an image an earlier one deleted (`rmi -f ID NAME`, `rmi ID ID`) does
    /// nothing and is no error. One result per input (one error alone when `index.json` cannot be read).
    pub fn remove_each(&self, inputs: &[String], force: bool) -> Vec<Result<Removed, StoreError>> {
        let found: Vec<Result<Digest, StoreError>> = match self.read_index() {
            Ok(index) => {
                let images = lookup::images(&index);
                let ids = self.ids(&images);
                inputs.iter().map(|input| self.resolve(&images, input).map(|(i, _)| ids[i].clone())).collect()
            }
            Err(e) => return vec![Err(e)],
        };
        let mut deleted: Vec<Digest> = Vec::new();
        let mut out = Vec::new();
        for (input, id) in inputs.iter().zip(found) {
            out.push(match id {
                Err(e) => Err(e),
                Ok(id) if deleted.contains(&id) => Ok(Removed::default()),
                Ok(_) => self.remove(input, force).inspect(|r| deleted.extend(r.deleted.clone())),
            });
        }
        out
    }
}

/// The images an `index.json` holding `raw` lists, as [`Store::list`] reads and groups them (`path` only names
/// the file in errors). Public for fuzzing, not a stable API.
#[doc(hidden)]
pub fn parse_index_json(path: &Path, raw: &[u8]) -> Result<Vec<Image>, StoreError> {
    Ok(lookup::images(&layout::parse_index(path, raw)?))
}

/// [`Store::default_root`] from the values of `$HOIST_STORE`, `$XDG_DATA_HOME` and `$HOME` (empty ones count
/// as unset; a relative `$XDG_DATA_HOME` is ignored, as the XDG base directory spec says).
fn root_from(hoist: Option<PathBuf>, xdg_data: Option<PathBuf>, home: Option<PathBuf>) -> Option<PathBuf> {
    let set = |p: Option<PathBuf>| p.filter(|p| !p.as_os_str().is_empty());
    set(hoist)
        .or_else(|| set(xdg_data).filter(|p| p.is_absolute()).map(|p| p.join("hoist/store")))
        .or_else(|| set(home).map(|h| h.join(".local/share/hoist/store")))
}

fn empty_index() -> crate::image::Index {
    crate::image::Index {
        schema_version: 2,
        media_type: Some(media_type::OCI_INDEX.to_owned()),
        manifests: Vec::new(),
        subject: None,
        annotations: None,
    }
}

/// An entry of `index.json` that gives its manifest a name (others are `<none>`).
fn is_named(d: &Descriptor) -> bool {
    d.annotation(ANNOTATION_REF_NAME).and_then(lookup::stored_name).is_some()
}

/// Image IDs by manifest digest, each manifest read once: the ID of a manifest that cannot be read is its
/// digest.
#[derive(Default)]
struct IdCache(BTreeMap<Digest, Digest>);

impl IdCache {
    fn get(&mut self, store: &Store, d: &Descriptor) -> Digest {
        self.0
            .entry(d.digest.clone())
            .or_insert_with(|| store.descriptor_id(d).unwrap_or_else(|_| d.digest.clone()))
            .clone()
    }
}

/// Takes off `index` the entries without a name whose image ID has a named entry: `<none>` twins of a named
/// image (a store written before an image ID was one image). True when it changed `index`.
fn drop_twins(store: &Store, index: &mut crate::image::Index) -> bool {
    let mut ids = IdCache::default();
    let named: Vec<Digest> = index.manifests.iter().filter(|d| is_named(d)).map(|d| ids.get(store, d)).collect();
    let before = index.manifests.len();
    index.manifests.retain(|d| is_named(d) || !named.contains(&ids.get(store, d)));
    index.manifests.len() != before
}

fn deadlock() -> StoreError {
    StoreError::Invalid(
        "cannot collect garbage while this process holds a store session or blob writer: it would wait forever"
            .to_owned(),
    )
}

impl Store {
    /// Checks that every blob `target` needs is here (see [`Store::tag`]).
    fn check_complete(&self, name: &str, target: &Descriptor, depth: usize) -> Result<(), StoreError> {
        if depth > MAX_DEPTH {
            return Err(StoreError::Invalid(format!("cannot name {name}: indexes nest more than {MAX_DEPTH} deep")));
        }
        self.require(name, target)?;
        let (_, manifest) = self.read_manifest(target)?;
        match manifest {
            Manifest::Image(img) => {
                for blob in img.blobs().filter(|b| !b.is_foreign()) {
                    self.require(name, blob)?;
                }
            }
            Manifest::Index(index) => {
                for child in &index.manifests {
                    if media_type::is_index(&child.media_type) {
                        self.check_complete(name, child, depth + 1)?;
                    } else {
                        self.require(name, child)?;
                        if media_type::is_image_manifest(&child.media_type) {
                            self.read_manifest(child)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The blob `d` describes is here, with `d`'s size; [`StoreError::Incomplete`] when it is not.
    fn require(&self, name: &str, d: &Descriptor) -> Result<(), StoreError> {
        match self.has_blob(&d.digest)? {
            None => Err(StoreError::Incomplete { name: name.to_owned(), digest: d.digest.clone() }),
            Some(size) if size != d.size => Err(StoreError::Corrupt {
                path: self.blob_path(&d.digest),
                message: format!("blob is {size} bytes, its descriptor says {}", d.size),
            }),
            Some(_) => Ok(()),
        }
    }
}
