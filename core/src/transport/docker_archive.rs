//! `docker-archive:FILE[:NAME|:@N]` — `docker save`'s format — as a source and a destination.
//!
//! Reading takes podman/skopeo's layout (`<diff_id>.tar` layers, `<id>/layer.tar` links, `<id>.json` configs)
//! and docker ≥ 25's (`blobs/sha256/<hex>` paths beside an OCI layout). Each `manifest.json` item is one
//! image: its config is checked against the digest its name claims, each layer path against its diff_id
//! (a path that is a link to a layer of another digest is refused), and a manifest is made for them — the
//! layers as they are in the archive (uncompressed: digest = diff_id, OCI `tar`; a compressed one: its own
//! digest, `tar+gzip`/`tar+zstd`, its diff_id checked by decompressing it once), the config unchanged (so the
//! image ID, the config digest, stays). When the archive also has docker ≥ 25's OCI manifest for exactly
//! these blobs, that manifest is used as it is.
//!
//! Writing makes podman's layout: layers uncompressed as `<diff_id>.tar` (a gzip or zstd layer is decompressed
//! while it streams, its diff_id computed on the way and required to equal the config's), the config as
//! `<config hex>.json`, the legacy `<id>/layer.tar` links, `<id>/json` and `<id>/VERSION`, then
//! `manifest.json` and `repositories` at [`DockerArchiveWriter::finish`]. A layer's size must precede its
//! bytes in a tar: to a file, its header is written after its bytes (one pass); to a stream (stdout), a first
//! pass decompresses it only to learn its size and diff_id, and a second writes it.
//!
//! What it is not: an index holder. A docker-archive holds single-platform images; the copy engine picks one.

use std::collections::{HashMap, HashSet};
use std::io::{self, BufRead, BufReader, Read};
use std::sync::{Arc, Mutex, MutexGuard};

use super::blocking::{StreamReader, blocking, reader_stream};
use super::oci_layout::read_blob;
use super::{ImageDestination, ImageSource, OpenBlob, RawManifest, TransportError};
use crate::archive::compression::{self, Compression, HashingReader, digest_both};
use crate::archive::docker::{self, LegacyLayer, MANIFEST_JSON, ManifestItem, REPOSITORIES, Repositories};
use crate::archive::files::Files;
use crate::archive::tar_out::{Mark, TarOut};
use crate::archive::{ArchiveError, oci};
use crate::digest::{Digest, Hasher, Verifier};
use crate::image::{Descriptor, ImageConfig, ImageManifest, MAX_CONFIG_SIZE, MAX_MANIFEST_SIZE, Manifest, media_type};
use crate::reference::Reference;
use crate::stream::ByteStream;

fn invalid(m: String) -> TransportError {
    TransportError::Archive(ArchiveError::Invalid(m))
}

/// What went wrong with a docker-archive, naming the archive (`docker-archive:PATH`) and the image, blob or
/// limit concerned. (A malformed archive is an [`ArchiveError`]; these are the transport's own refusals.)
#[derive(Debug, thiserror::Error)]
pub enum DockerArchiveError {
    /// No image named, but the archive holds several.
    #[error("{archive} holds {images} images: name one (docker-archive:PATH:NAME or :@N)")]
    WhichImage { archive: String, images: usize },
    /// `@N` where N is not a number.
    #[error("{archive}: bad index {given}")]
    BadIndex { archive: String, given: String },
    /// `@N` past the last image.
    #[error("{archive}: no image @{index} (it holds {images})")]
    NoSuchIndex { archive: String, index: usize, images: usize },
    /// A name that is not a reference.
    #[error("{archive}: {given:?}: {source}")]
    BadName {
        archive: String,
        given: String,
        #[source]
        source: crate::reference::ReferenceError,
    },
    /// No image of the archive has this name.
    #[error("{archive}: no image named {name}")]
    NoSuchName { archive: String, name: Reference },
    /// A manifest the image does not have.
    #[error("{archive}: no manifest {digest}")]
    NoManifest { archive: String, digest: Digest },
    /// A blob the image does not have.
    #[error("{archive}: no blob {digest}")]
    NoBlob { archive: String, digest: Digest },
    /// A foreign (non-distributable) layer: its bytes are not ours to save.
    #[error("{archive}: layer {digest} is non-distributable (foreign) and cannot be saved into a docker-archive")]
    Foreign { archive: String, digest: Digest },
    /// A config blob larger than the limit for configs.
    #[error("config {digest} is larger than {limit} bytes")]
    ConfigTooLarge { digest: Digest, limit: usize },
    /// An index: a docker-archive holds single-platform images.
    #[error("{archive}: a docker-archive holds single-platform images, not an index")]
    NotSinglePlatform { archive: String },
    /// A name without a tag.
    #[error("{name}: a docker-archive names images NAME:TAG")]
    Untagged { name: Reference },
    /// An image whose config or layer was not put before its manifest.
    #[error("{archive}: {what} {digest} was not written")]
    NotWritten { archive: String, what: &'static str, digest: Digest },
    /// Writing an entry of the archive failed.
    #[error("{archive}: writing {what}: {source}")]
    Write {
        archive: String,
        what: String,
        #[source]
        source: io::Error,
    },
    /// A layer read twice (into a stream) that decompressed to another diff_id the second time.
    #[error("{archive}: layer {layer} decompressed to {second} the second time, {first} the first")]
    Changed { archive: String, layer: Digest, first: Digest, second: Digest },
    /// A layer that does not decompress to the diff_id its config names.
    #[error(
        "{archive}: layer {index} ({layer}) decompresses to {got}, but the config's diff_id is {want}: refusing to \
         write an archive whose layers do not match its config"
    )]
    DiffId { archive: String, index: usize, layer: Digest, got: Digest, want: Digest },
    /// An earlier write failed: the archive is not finished, and nothing more goes into it.
    #[error("{first}")]
    Broken { first: String },
    /// The archive was already finished (a caller's mistake).
    #[error("{archive}: already finished")]
    Finished { archive: String },
    /// A blob's stream was asked for more often than it was opened (a caller's mistake).
    #[error("blob stream opened too often")]
    Reopened,
}

/// One image of a docker-archive.
pub struct DockerArchiveSource {
    files: Files,
    shown: String,
    names: Vec<Reference>,
    /// The names as podman's `load` gives them (see [`DockerArchiveSource::load_names`]).
    load_names: Vec<Reference>,
    image: Served,
    /// Layer digest → its path in the archive.
    layers: HashMap<Digest, String>,
}

impl DockerArchiveSource {
    /// Every image of the archive, in `manifest.json` order. Reads configs and checks names and paths;
    /// a compressed layer is read once (its digest and diff_id). Blocking.
    pub fn all(files: &Files) -> Result<Vec<DockerArchiveSource>, TransportError> {
        let raw = files.read_small(MANIFEST_JSON, docker::MAX_MANIFEST_JSON)?;
        let items =
            docker::parse_manifest_json(&raw).map_err(|m| invalid(format!("{}: {m}", files.shown(MANIFEST_JSON))))?;
        let oci_manifests = docker25_manifests(files);
        items.iter().enumerate().map(|(n, item)| image(files, item, n, &oci_manifests)).collect()
    }

    /// The image `reference` names (a name in its RepoTags, or `@N`); without one, the archive must hold
    /// exactly one image. Blocking.
    pub fn open(files: &Files, reference: Option<&str>) -> Result<DockerArchiveSource, TransportError> {
        let mut all = DockerArchiveSource::all(files)?;
        let shown = format!("docker-archive:{}", files.root());
        match reference {
            None if all.len() == 1 => Ok(all.remove(0)),
            None => Err(DockerArchiveError::WhichImage { archive: shown, images: all.len() }.into()),
            Some(r) if r.starts_with('@') => {
                let n: usize = r[1..]
                    .parse()
                    .map_err(|_| DockerArchiveError::BadIndex { archive: shown.clone(), given: r.to_owned() })?;
                if n >= all.len() {
                    return Err(DockerArchiveError::NoSuchIndex { archive: shown, index: n, images: all.len() }.into());
                }
                Ok(all.remove(n))
            }
            Some(r) => {
                let want = Reference::parse_normalized(r)
                    .map_err(|source| DockerArchiveError::BadName {
                        archive: shown.clone(),
                        given: r.to_owned(),
                        source,
                    })?
                    .with_default_tag();
                let Some(at) = all.iter().position(|s| s.names.contains(&want)) else {
                    return Err(DockerArchiveError::NoSuchName { archive: shown, name: want }.into());
                };
                Ok(all.remove(at))
            }
        }
    }

    /// The names (RepoTags) the image has in the archive, read as docker reads them (`app:1` is
    /// `docker.io/library/app:1`): what `docker-archive:FILE:NAME` picks an image by.
    pub fn names(&self) -> &[Reference] {
        &self.names
    }

    /// The names a load gives the image, as `podman load` does: a RepoTag without a registry goes under
    /// `localhost/` (`app:1` → `localhost/app:1`, [`Reference::parse_local`]); a full name stays.
    pub fn load_names(&self) -> &[Reference] {
        &self.load_names
    }

    /// The config digest: podman's image ID.
    pub fn config_digest(&self) -> &Digest {
        &self.image.config.0
    }
}

/// The manifest and config a docker-archive image is served with (the manifest made from `manifest.json`'s
/// entry, or docker ≥ 25's own); a `docker-daemon:` source, whose engine sends a docker-archive, serves the same.
pub(super) struct Served {
    pub manifest: RawManifest,
    pub config: (Digest, Vec<u8>),
}

impl Served {
    /// The OCI manifest of a config and its layers, as made for an archive without one of its own.
    pub fn made(config: (Digest, Vec<u8>), layers: Vec<Descriptor>) -> Served {
        let m = ImageManifest {
            schema_version: 2,
            media_type: Some(media_type::OCI_MANIFEST.to_owned()),
            artifact_type: None,
            config: Descriptor::new(media_type::OCI_CONFIG, config.0.clone(), config.1.len() as u64),
            layers,
            subject: None,
            annotations: None,
        };
        let manifest =
            RawManifest::new(serde_json::to_vec(&m).expect("a manifest serialises"), media_type::OCI_MANIFEST);
        Served { manifest, config }
    }

    /// The manifest, when `digest` names it.
    pub fn manifest_by_digest(&self, digest: &Digest) -> Option<RawManifest> {
        (*digest == self.manifest.digest).then(|| self.manifest.clone())
    }

    /// The config's bytes, when `blob` is the config.
    pub fn config_blob(&self, blob: &Descriptor) -> Option<ByteStream<TransportError>> {
        (blob.digest == self.config.0).then(|| bytes_blob(self.config.1.clone(), blob))
    }
}

/// Bytes held in memory served as `blob` (checked against its digest and size as they are read).
pub(super) fn bytes_blob(bytes: Vec<u8>, blob: &Descriptor) -> ByteStream<TransportError> {
    let verifier = Verifier::new(&blob.digest, Some(blob.size));
    reader_stream(move || Ok(Box::new(io::Cursor::new(bytes))), Some(verifier))
}

/// docker ≥ 25's OCI manifests, when the archive also is an OCI layout: (raw, parsed, the name its
/// `index.json` entry gives it as podman loads an OCI layout: [`oci::load_name`]; none for a child of an
/// index or an entry without a valid name).
type Docker25Manifest = (RawManifest, ImageManifest, Option<Reference>);

fn docker25_manifests(files: &Files) -> Vec<Docker25Manifest> {
    let Ok(raw) = files.read_small(oci::INDEX_JSON, oci::MAX_INDEX_JSON) else { return Vec::new() };
    let Ok(index) = oci::parse_index(&raw) else { return Vec::new() };
    let mut out = Vec::new();
    // Popped from the end: reversed, so entries come out in index.json's order.
    let mut todo: Vec<(Descriptor, usize)> = index.manifests.into_iter().rev().map(|d| (d, 0)).collect();
    while let Some((d, depth)) = todo.pop() {
        let Ok(raw) = read_blob(files, &oci::blob_path(&d.digest), &d, MAX_MANIFEST_SIZE) else { continue };
        match Manifest::parse(&raw, Some(&d.media_type)) {
            Ok(Manifest::Image(m)) => {
                let name = if depth == 0 { oci::load_name(&d).ok().flatten() } else { None };
                out.push((RawManifest { raw, media_type: d.media_type.clone(), digest: d.digest }, m, name))
            }
            Ok(Manifest::Index(i)) if depth < 2 => todo.extend(i.manifests.into_iter().map(|c| (c, depth + 1))),
            _ => {}
        }
    }
    out
}

/// Reads the first bytes of a file of the archive: its compression.
fn compression_of(files: &Files, path: &str) -> Result<Compression, TransportError> {
    let (r, _) = files.open(path)?;
    let (c, _) = compression::sniff_reader(r.take(8)).map_err(|e| ArchiveError::io(&files.shown(path), e))?;
    Ok(c)
}

fn image(
    files: &Files,
    item: &ManifestItem,
    n: usize,
    oci_manifests: &[Docker25Manifest],
) -> Result<DockerArchiveSource, TransportError> {
    let at = |what: &str| format!("{}: image {n} ({})", files.shown(MANIFEST_JSON), what);
    let mut names = Vec::new();
    let mut load_names = Vec::new();
    for tag in &item.repo_tags {
        let bad = |e: crate::reference::ReferenceError| {
            invalid(format!("{}: name {tag:?} is not valid: {e}", at("RepoTags")))
        };
        let r = Reference::parse_normalized(tag).map_err(bad)?;
        if r.digest().is_some() {
            return Err(invalid(format!("{}: name {tag:?} has a digest; a RepoTag is NAME:TAG", at("RepoTags"))));
        }
        names.push(r.with_default_tag());
        load_names.push(Reference::parse_local(tag).map_err(bad)?.with_default_tag());
    }
    let config_raw = files.read_small(&item.config, MAX_CONFIG_SIZE)?;
    let config_digest = Digest::sha256(&config_raw);
    for p in [item.config.clone(), files.resolved(&item.config)?] {
        if let Some(claimed) = docker::claimed_digest(&p)
            && claimed != config_digest
        {
            return Err(invalid(format!(
                "{}: {p} holds content of digest {config_digest}, not the {claimed} its name says",
                at("Config")
            )));
        }
    }
    let config = ImageConfig::parse(&config_raw)?;
    let diff_ids = &config.rootfs.diff_ids;
    if diff_ids.len() != item.layers.len() {
        return Err(invalid(format!(
            "{}: {} layers, but the config lists {} diff_ids",
            at("Layers"),
            item.layers.len(),
            diff_ids.len()
        )));
    }
    let mut layers = Vec::new();
    let mut paths = HashMap::new();
    for (i, (path, diff_id)) in item.layers.iter().zip(diff_ids).enumerate() {
        let resolved = files.resolved(path)?;
        for p in [path, &resolved] {
            if let Some(claimed) = docker::claimed_digest(p)
                && claimed != *diff_id
            {
                return Err(invalid(format!(
                    "{}: layer {i} is {path} (the file {resolved}), named for {claimed}, but the config's diff_id is \
                     {diff_id}: a layer path must not lead to another layer",
                    at("Layers")
                )));
            }
        }
        let (_, size) = files.open(path)?;
        let layer = match compression_of(files, path)? {
            Compression::None => Descriptor::new(media_type::OCI_LAYER, diff_id.clone(), size),
            c => {
                let (r, _) = files.open(path)?;
                let found = digest_both(r, &files.shown(path)).map_err(|e| ArchiveError::io(&files.shown(path), e))?;
                let (digest, size) = (found.digest, found.size);
                let Some((_, uncompressed, _)) = found.uncompressed else { unreachable!("sniffed as compressed") };
                if uncompressed != *diff_id {
                    return Err(invalid(format!(
                        "{}: layer {i} ({path}) decompresses to {uncompressed}, but the config's diff_id is {diff_id}",
                        at("Layers")
                    )));
                }
                let mt = if c == Compression::Gzip { media_type::OCI_LAYER_GZIP } else { media_type::OCI_LAYER_ZSTD };
                Descriptor::new(mt, digest, size)
            }
        };
        paths.insert(layer.digest.clone(), path.clone());
        layers.push(layer);
    }
    let digests: Vec<&Digest> = layers.iter().map(|l| &l.digest).collect();
    let reused = oci_manifests.iter().find(|(_, m, _)| {
        m.config.digest == config_digest && m.layers.iter().map(|l| &l.digest).collect::<Vec<_>>() == digests
    });
    let image = match reused {
        Some((raw, _, _)) => Served { manifest: raw.clone(), config: (config_digest, config_raw) },
        None => Served::made((config_digest, config_raw), layers),
    };
    let manifest = &image.manifest;
    // docker ≥ 25 also names the image in index.json, and podman 4.3 loads such an archive as the OCI layout
    // it also is, by those names (containerd's full name): they win over the RepoTags.
    let mut from_index: Vec<Reference> = Vec::new();
    for name in
        oci_manifests.iter().filter(|(raw, _, _)| raw.digest == manifest.digest).filter_map(|(_, _, n)| n.as_ref())
    {
        if !from_index.contains(name) {
            from_index.push(name.clone());
        }
    }
    let load_names = if from_index.is_empty() { load_names } else { from_index };
    Ok(DockerArchiveSource {
        files: files.clone(),
        shown: format!("docker-archive:{}:@{n}", files.root()),
        names,
        load_names,
        image,
        layers: paths,
    })
}

#[async_trait::async_trait]
impl ImageSource for DockerArchiveSource {
    fn name(&self) -> String {
        self.shown.clone()
    }

    /// `docker-archive`: no scope of its own, as containers/image (its `PolicyConfigurationIdentity` is `""`
    /// and a policy may name only the transport's `""` scope): the transport's default, then `default`.
    fn policy_name(&self) -> crate::trust::PolicyName {
        crate::trust::PolicyName {
            transport: "docker-archive",
            identity: String::new(),
            namespaces: Vec::new(),
            docker_reference: None,
        }
    }

    async fn manifest(&self) -> Result<RawManifest, TransportError> {
        Ok(self.image.manifest.clone())
    }

    async fn manifest_by_digest(&self, digest: &Digest) -> Result<RawManifest, TransportError> {
        self.image.manifest_by_digest(digest).ok_or_else(|| {
            DockerArchiveError::NoManifest { archive: self.shown.clone(), digest: digest.clone() }.into()
        })
    }

    async fn blob(&self, blob: &Descriptor) -> Result<ByteStream<TransportError>, TransportError> {
        if let Some(config) = self.image.config_blob(blob) {
            return Ok(config);
        }
        let verifier = Verifier::new(&blob.digest, Some(blob.size));
        let path = self
            .layers
            .get(&blob.digest)
            .cloned()
            .ok_or_else(|| DockerArchiveError::NoBlob { archive: self.shown.clone(), digest: blob.digest.clone() })?;
        let files = self.files.clone();
        Ok(reader_stream(move || Ok(files.open(&path)?.0), Some(verifier)))
    }
}

/// What was written for one layer blob.
#[derive(Debug, Clone)]
struct Written {
    diff_id: Digest,
}

struct State {
    out: Option<TarOut>,
    broken: Option<String>,
    /// Blob digest (as the source has it) → its uncompressed layer in the archive.
    layers: HashMap<Digest, Written>,
    /// diff_ids whose `<hex>.tar` is in the archive.
    layer_files: HashSet<Digest>,
    /// Config blobs received (digest → bytes), and which are written.
    configs: HashMap<Digest, Vec<u8>>,
    config_files: HashSet<Digest>,
    legacy: HashSet<String>,
    items: Vec<ManifestItem>,
    repositories: Repositories,
}

/// A docker-archive being written; [`DockerArchiveWriter::image`] gives each image's destination but the last,
/// [`DockerArchiveWriter::last_image`] the last one's, whose commit finishes the archive.
pub struct DockerArchiveWriter {
    state: Mutex<State>,
    shown: String,
}

impl DockerArchiveWriter {
    pub fn new(out: TarOut, shown: &str) -> Arc<DockerArchiveWriter> {
        let state = State {
            out: Some(out),
            broken: None,
            layers: HashMap::new(),
            layer_files: HashSet::new(),
            configs: HashMap::new(),
            config_files: HashSet::new(),
            legacy: HashSet::new(),
            items: Vec::new(),
            repositories: Repositories::new(),
        };
        Arc::new(DockerArchiveWriter { state: Mutex::new(state), shown: format!("docker-archive:{shown}") })
    }

    /// The destination of one image, under `names` (each must have a tag), when more images follow.
    pub fn image(self: &Arc<Self>, names: Vec<Reference>) -> DockerArchiveDestination {
        DockerArchiveDestination { writer: self.clone(), names, last: false }
    }

    /// The destination of the archive's last (or only) image: its commit also finishes the archive
    /// (`manifest.json`, `repositories`, the temp file renamed into place).
    pub fn last_image(self: &Arc<Self>, names: Vec<Reference>) -> DockerArchiveDestination {
        DockerArchiveDestination { writer: self.clone(), names, last: true }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A write failed: the archive is broken from now on (every later call gets the same message).
    fn fail(&self, st: &mut State, e: DockerArchiveError) -> TransportError {
        st.broken = Some(e.to_string());
        e.into()
    }

    /// The error every call gets once a write failed.
    fn broken(st: &State) -> Result<(), TransportError> {
        match &st.broken {
            Some(first) => Err(DockerArchiveError::Broken { first: first.clone() }.into()),
            None => Ok(()),
        }
    }

    fn finished(&self) -> DockerArchiveError {
        DockerArchiveError::Finished { archive: self.shown.clone() }
    }

    fn write_failed(&self, what: String, source: io::Error) -> DockerArchiveError {
        DockerArchiveError::Write { archive: self.shown.clone(), what, source }
    }

    /// Writes `manifest.json` and `repositories` and closes the archive (at the last image's commit).
    fn finish(&self) -> Result<(), TransportError> {
        let mut st = self.lock();
        Self::broken(&st)?;
        let manifest = serde_json::to_vec(&st.items).expect("manifest.json serialises");
        let repositories = serde_json::to_vec(&st.repositories).expect("repositories serialise");
        let mut out = st.out.take().ok_or_else(|| self.finished())?;
        let io = |e| TransportError::Archive(ArchiveError::io(&self.shown, e));
        out.bytes(MANIFEST_JSON, &manifest).map_err(io)?;
        out.bytes(REPOSITORIES, &repositories).map_err(io)?;
        out.finish().map_err(io)
    }

    /// Writes a layer read from `open()` (called once, or twice for a stream that needs its size first).
    fn put_layer(
        &self,
        blob: &Descriptor,
        mut open: impl FnMut() -> Result<StreamReader, TransportError>,
    ) -> Result<(), TransportError> {
        let what = format!("layer {}", blob.digest);
        let seekable = {
            let st = self.lock();
            Self::broken(&st)?;
            st.out.as_ref().is_some_and(TarOut::seekable)
        };
        let mut first = open()?;
        let result = self.first_pass(blob, &mut first, seekable, &what);
        let pending = match (result, first.take_error()) {
            (_, Some(e)) => return Err(e),
            (Err(e), None) => return Err(e),
            (Ok(done), None) => match done {
                None => return Ok(()),
                Some(p) => p,
            },
        };
        let (diff_id, size, c) = pending;
        let mut st = self.lock();
        if st.layer_files.contains(&diff_id) {
            st.layers.insert(blob.digest.clone(), Written { diff_id });
            return Ok(());
        }
        let mut second = open()?;
        let result = (|| {
            // The source checks the bytes against the blob's digest (ImageSource::blob); the decompressed
            // ones are checked against the diff_id here.
            let plain = compression::decompress(c, &mut second, &what);
            let mut hashed = HashingReader { inner: plain, hasher: Hasher::sha256() };
            let out = st.out.as_mut().ok_or_else(|| self.finished())?;
            let written = out.file(&format!("{}.tar", diff_id.hex()), size, &mut hashed);
            if let Err(e) = written {
                let e = self.write_failed(what.clone(), e);
                return Err(self.fail(&mut st, e));
            }
            let again = hashed.hasher.finish();
            if again != diff_id {
                let e = DockerArchiveError::Changed {
                    archive: self.shown.clone(),
                    layer: blob.digest.clone(),
                    first: diff_id.clone(),
                    second: again,
                };
                return Err(self.fail(&mut st, e));
            }
            Ok(())
        })();
        if let Some(e) = second.take_error() {
            return Err(e);
        }
        result?;
        st.layer_files.insert(diff_id.clone());
        st.layers.insert(blob.digest.clone(), Written { diff_id });
        Ok(())
    }

    /// Writes the layer if it is uncompressed or the archive is a file (`None`: done); into a stream, only
    /// reads it to learn its diff_id, size and compression for [`DockerArchiveWriter::put_layer`]'s second pass.
    fn first_pass(
        &self,
        blob: &Descriptor,
        first: &mut StreamReader,
        seekable: bool,
        what: &str,
    ) -> Result<Option<(Digest, u64, Compression)>, TransportError> {
        let mut buffered = BufReader::with_capacity(1 << 20, first);
        let head = buffered.fill_buf().map_err(|e| ArchiveError::io(what, e))?;
        let c = compression::sniff(head).map_err(ArchiveError::from)?;
        if c == Compression::None {
            let mut st = self.lock();
            return self.write_plain(&mut st, blob, buffered);
        }
        if seekable {
            let mut st = self.lock();
            // Inflating on one thread, hashing and writing on this one.
            let plain = compression::decompress(c, buffered, what);
            return compression::read_ahead(plain, |plain| self.write_decompressed(&mut st, blob, plain));
        }
        let mut plain = HashingReader { inner: compression::decompress(c, buffered, what), hasher: Hasher::sha256() };
        io::copy(&mut plain, &mut io::sink()).map_err(|e| ArchiveError::io(what, e))?;
        let size = plain.hasher.len();
        let diff_id = plain.hasher.finish();
        Ok(Some((diff_id, size, c)))
    }

    /// An uncompressed layer: its digest is its diff_id, its size the blob's.
    fn write_plain(
        &self,
        st: &mut State,
        blob: &Descriptor,
        r: impl Read,
    ) -> Result<Option<(Digest, u64, Compression)>, TransportError> {
        if !st.layer_files.contains(&blob.digest) {
            let out = st.out.as_mut().ok_or_else(|| self.finished())?;
            if let Err(e) = out.file(&format!("{}.tar", blob.digest.hex()), blob.size, r) {
                let e = self.write_failed(format!("layer {}", blob.digest), e);
                return Err(self.fail(st, e));
            }
            st.layer_files.insert(blob.digest.clone());
        } else {
            let mut r = r;
            io::copy(&mut r, &mut io::sink()).map_err(|e| ArchiveError::io(&format!("layer {}", blob.digest), e))?;
        }
        st.layers.insert(blob.digest.clone(), Written { diff_id: blob.digest.clone() });
        Ok(None)
    }

    /// A compressed layer into a file: bytes first, header (name = diff_id, size) after.
    fn write_decompressed(
        &self,
        st: &mut State,
        blob: &Descriptor,
        plain: impl Read,
    ) -> Result<Option<(Digest, u64, Compression)>, TransportError> {
        let what = format!("layer {}", blob.digest);
        let out = st.out.as_mut().ok_or_else(|| self.finished())?;
        let mut hashed = HashingReader { inner: plain, hasher: Hasher::sha256() };
        let written = (|| -> io::Result<(Mark, Digest)> {
            let mark = out.begin_entry()?;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = hashed.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                out.write(&buf[..n])?;
            }
            let diff_id = std::mem::replace(&mut hashed.hasher, Hasher::sha256()).finish();
            Ok((mark, diff_id))
        })();
        let (mark, diff_id) = match written {
            Ok(w) => w,
            Err(e) => {
                let e = self.write_failed(what, e);
                return Err(self.fail(st, e));
            }
        };
        let out = st.out.as_mut().expect("checked above");
        let done = if st.layer_files.contains(&diff_id) {
            out.rollback(mark)
        } else {
            out.end_entry(mark, &format!("{}.tar", diff_id.hex())).map(|_| ())
        };
        if let Err(e) = done {
            let e = self.write_failed(what, e);
            return Err(self.fail(st, e));
        }
        st.layer_files.insert(diff_id.clone());
        st.layers.insert(blob.digest.clone(), Written { diff_id });
        Ok(None)
    }
}

/// Layer media types (everything else a manifest references is taken as its config).
fn is_layer(mt: &str) -> bool {
    mt.starts_with("application/vnd.oci.image.layer.") || mt.starts_with("application/vnd.docker.image.rootfs.")
}

/// One image going into a [`DockerArchiveWriter`].
pub struct DockerArchiveDestination {
    writer: Arc<DockerArchiveWriter>,
    names: Vec<Reference>,
    /// The archive's last image: committing it finishes the archive.
    last: bool,
}

#[async_trait::async_trait]
impl ImageDestination for DockerArchiveDestination {
    fn name(&self) -> String {
        match self.names.first() {
            Some(n) => format!("{}:{n}", self.writer.shown),
            None => self.writer.shown.clone(),
        }
    }

    async fn has_blob(&self, blob: &Descriptor) -> Result<bool, TransportError> {
        let st = self.writer.lock();
        Ok(st.layers.contains_key(&blob.digest) || st.configs.contains_key(&blob.digest))
    }

    async fn put_blob(&self, blob: &Descriptor, open: &OpenBlob<'_>) -> Result<(), TransportError> {
        if blob.is_foreign() {
            return Err(DockerArchiveError::Foreign {
                archive: self.writer.shown.clone(),
                digest: blob.digest.clone(),
            }
            .into());
        }
        let handle = tokio::runtime::Handle::current();
        if !is_layer(&blob.media_type) {
            if blob.size > MAX_CONFIG_SIZE as u64 {
                return Err(
                    DockerArchiveError::ConfigTooLarge { digest: blob.digest.clone(), limit: MAX_CONFIG_SIZE }.into()
                );
            }
            let stream = open().await?;
            let b = blob.clone();
            let bytes = blocking(move || {
                let mut reader = StreamReader::new(stream, handle);
                let mut bytes = Vec::new();
                let read = (&mut reader).take(MAX_CONFIG_SIZE as u64 + 1).read_to_end(&mut bytes);
                if let Some(e) = reader.take_error() {
                    return Err(e);
                }
                read.map_err(|e| ArchiveError::io(&format!("config {}", b.digest), e))?;
                Ok(bytes)
            })
            .await?;
            self.writer.lock().configs.insert(blob.digest.clone(), bytes);
            return Ok(());
        }
        // Streams are opened here (async) and read on a blocking thread. Into a stream (no seeking back), a
        // compressed layer is read twice, so its second stream is opened now too (the save sources are local
        // files, so an unread stream costs nothing).
        let first = open().await?;
        let seekable = self.writer.lock().out.as_ref().is_some_and(TarOut::seekable);
        let second = if seekable { None } else { Some(open().await?) };
        let (writer, b) = (self.writer.clone(), blob.clone());
        blocking(move || {
            let mut streams = vec![first].into_iter().chain(second);
            writer.put_layer(&b, || {
                streams
                    .next()
                    .map(|s| StreamReader::new(s, handle.clone()))
                    .ok_or_else(|| DockerArchiveError::Reopened.into())
            })
        })
        .await
    }

    async fn put_child_manifest(&self, _manifest: &RawManifest) -> Result<(), TransportError> {
        Err(DockerArchiveError::NotSinglePlatform { archive: self.writer.shown.clone() }.into())
    }

    async fn commit(&self, manifest: &RawManifest) -> Result<(), TransportError> {
        let m = match Manifest::parse(&manifest.raw, Some(&manifest.media_type))? {
            Manifest::Image(m) => m,
            Manifest::Index(_) => return self.put_child_manifest(manifest).await,
        };
        let (writer, names, last) = (self.writer.clone(), self.names.clone(), self.last);
        blocking(move || {
            writer.commit_image(&m, &names)?;
            if last { writer.finish() } else { Ok(()) }
        })
        .await
    }
}

impl DockerArchiveWriter {
    fn commit_image(&self, m: &ImageManifest, names: &[Reference]) -> Result<(), TransportError> {
        let mut st = self.lock();
        Self::broken(&st)?;
        let not_written = |what, digest: &Digest| DockerArchiveError::NotWritten {
            archive: self.shown.clone(),
            what,
            digest: digest.clone(),
        };
        let config_raw =
            st.configs.get(&m.config.digest).cloned().ok_or_else(|| not_written("config", &m.config.digest))?;
        let config = ImageConfig::parse(&config_raw)?;
        let diff_ids = &config.rootfs.diff_ids;
        if diff_ids.len() != m.layers.len() {
            return Err(invalid(format!(
                "image {}: {} layers but {} diff_ids in its config",
                m.config.digest,
                m.layers.len(),
                diff_ids.len()
            )));
        }
        for (i, (layer, want)) in m.layers.iter().zip(diff_ids).enumerate() {
            let Some(w) = st.layers.get(&layer.digest) else {
                return Err(not_written("layer", &layer.digest).into());
            };
            if w.diff_id != *want {
                let e = DockerArchiveError::DiffId {
                    archive: self.shown.clone(),
                    index: i,
                    layer: layer.digest.clone(),
                    got: w.diff_id.clone(),
                    want: want.clone(),
                };
                return Err(self.fail(&mut st, e));
            }
        }
        let legacy: Vec<LegacyLayer> =
            docker::legacy_layers(diff_ids, &config_raw).map_err(|e| invalid(e.to_string()))?;
        let io = |e| TransportError::Archive(ArchiveError::io(&self.shown, e));
        let config_path = format!("{}.json", m.config.digest.hex());
        if !st.config_files.contains(&m.config.digest) {
            st.out.as_mut().ok_or_else(|| self.finished())?.bytes(&config_path, &config_raw).map_err(io)?;
            st.config_files.insert(m.config.digest.clone());
        }
        for (l, diff_id) in legacy.iter().zip(diff_ids) {
            if st.legacy.insert(l.id.clone()) {
                let out = st.out.as_mut().expect("checked above");
                out.symlink(&format!("{}/layer.tar", l.id), &format!("../{}.tar", diff_id.hex())).map_err(io)?;
                out.bytes(&format!("{}/VERSION", l.id), b"1.0").map_err(io)?;
                out.bytes(&format!("{}/json", l.id), &l.json).map_err(io)?;
            }
        }
        let layer_paths: Vec<String> = diff_ids.iter().map(|d| format!("{}.tar", d.hex())).collect();
        let at = match st.items.iter().position(|it| it.config == config_path) {
            Some(at) => at,
            None => {
                st.items.push(ManifestItem { config: config_path, repo_tags: Vec::new(), layers: layer_paths });
                st.items.len() - 1
            }
        };
        for name in names {
            let Some(tag) = name.tag() else {
                return Err(DockerArchiveError::Untagged { name: name.clone() }.into());
            };
            let repo_tag = format!("{}:{tag}", name.name());
            if !st.items[at].repo_tags.contains(&repo_tag) {
                st.items[at].repo_tags.push(repo_tag);
            }
            if let Some(top) = legacy.last() {
                st.repositories.entry(name.name()).or_default().insert(tag.to_owned(), top.id.clone());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::{Input, open};

    /// A docker-archive of two images (one layer each, shared), as `docker save` lays it out.
    fn two_images(dir: &std::path::Path) -> std::path::PathBuf {
        two_named(dir, ["a.io/x:1", "a.io/y:2"])
    }

    /// [`two_images`] with the RepoTag of each.
    fn two_named(dir: &std::path::Path, names: [&str; 2]) -> std::path::PathBuf {
        let mut layer = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_mode(0o644);
        layer.append_data(&mut h, "f", &b"hi"[..]).unwrap();
        let layer = layer.into_inner().unwrap();
        let diff_id = Digest::sha256(&layer);
        let mut archive = tar::Builder::new(Vec::new());
        let mut put = |path: &str, data: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            archive.append_data(&mut h, path, data).unwrap();
        };
        put(&format!("{}.tar", diff_id.hex()), &layer);
        let mut items = Vec::new();
        for (n, name) in names.iter().enumerate() {
            let config = serde_json::to_vec(&serde_json::json!({
                "architecture": "amd64", "os": "linux", "created": format!("2020-01-0{}T00:00:00Z", n + 1),
                "rootfs": {"type": "layers", "diff_ids": [diff_id.to_string()]},
            }))
            .unwrap();
            let config_path = format!("{}.json", Digest::sha256(&config).hex());
            put(&config_path, &config);
            items.push(serde_json::json!({
                "Config": config_path, "RepoTags": [name], "Layers": [format!("{}.tar", diff_id.hex())],
            }));
        }
        put(MANIFEST_JSON, &serde_json::to_vec(&items).unwrap());
        let path = dir.join("two.tar");
        std::fs::write(&path, archive.into_inner().unwrap()).unwrap();
        path
    }

    /// Each refusal names the archive and what was asked for, as a variant a caller can match.
    #[tokio::test]
    async fn refusals_are_typed_and_name_what_was_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = two_images(dir.path());
        let opened = open(Input::Path(path.clone()), dir.path()).unwrap();
        let shown = format!("docker-archive:{}", opened.files.root());
        let refused = |reference: Option<&str>| match DockerArchiveSource::open(&opened.files, reference) {
            Err(TransportError::DockerArchive(e)) => *e,
            Err(e) => panic!("{reference:?}: not a docker-archive refusal: {e:?}"),
            Ok(_) => panic!("{reference:?}: opened"),
        };
        let e = refused(None);
        assert!(matches!(&e, DockerArchiveError::WhichImage { images: 2, .. }), "{e:?}");
        assert_eq!(e.to_string(), format!("{shown} holds 2 images: name one (docker-archive:PATH:NAME or :@N)"));
        let e = refused(Some("@2"));
        assert!(matches!(&e, DockerArchiveError::NoSuchIndex { index: 2, images: 2, .. }), "{e:?}");
        assert_eq!(e.to_string(), format!("{shown}: no image @2 (it holds 2)"));
        let e = refused(Some("@one"));
        assert!(matches!(&e, DockerArchiveError::BadIndex { given, .. } if given == "@one"), "{e:?}");
        let e = refused(Some("b.io/z"));
        assert!(matches!(&e, DockerArchiveError::NoSuchName { name, .. } if name.to_string() == "b.io/z:latest"));
        assert_eq!(e.to_string(), format!("{shown}: no image named b.io/z:latest"));
        let e = refused(Some("UPPER"));
        assert!(matches!(&e, DockerArchiveError::BadName { given, .. } if given == "UPPER"), "{e:?}");

        let y = DockerArchiveSource::open(&opened.files, Some("a.io/y:2")).unwrap();
        assert_eq!(y.names()[0].to_string(), "a.io/y:2");
        let other = Digest::sha256(b"other");
        let e = y.manifest_by_digest(&other).await.expect_err("no such manifest");
        let TransportError::DockerArchive(refusal) = &e else { panic!("{e:?}") };
        assert!(matches!(&**refusal, DockerArchiveError::NoManifest { digest, .. } if *digest == other), "{e:?}");
        assert_eq!(e.to_string(), format!("{shown}:@1: no manifest {other}"));
    }

    /// A RepoTag without a registry (`docker save`'s `app:1`) is picked by docker's reading of it, and loaded
    /// under `localhost/` as `podman load` names it; a full name is loaded as it is.
    #[test]
    fn unqualified_repo_tags_load_under_localhost() {
        let dir = tempfile::tempdir().unwrap();
        let path = two_named(dir.path(), ["app:1", "docker.io/zed:3"]);
        let opened = open(Input::Path(path), dir.path()).unwrap();
        let app = DockerArchiveSource::open(&opened.files, Some("app:1")).unwrap();
        assert_eq!(app.names()[0].to_string(), "docker.io/library/app:1");
        assert_eq!(app.load_names()[0].to_string(), "localhost/app:1");
        let zed = DockerArchiveSource::open(&opened.files, Some("@1")).unwrap();
        assert_eq!(zed.load_names()[0].to_string(), "docker.io/library/zed:3");
    }
}
