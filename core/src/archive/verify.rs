//! `hoist verify`: proves an archive or directory is whole without loading it. Every problem is collected,
//! not just the first:
//!
//! - every blob's digest and size (each file is read once; a compressed layer is decompressed on the way);
//! - every blob a manifest, an index or `manifest.json` references is present (non-distributable layers may
//!   be absent, as may some children of a multi-platform index when others are present);
//! - the config's diff_ids match the layers' uncompressed contents, one for one;
//! - file names that claim a digest (`<hex>.tar`, `<hex>.json`, `blobs/sha256/<hex>`, `<hex>`) hold it;
//! - names parse (RepoTags as image names, ref names as the image-spec's grammar).
//!
//! What it is not: a repair. A problem is reported, nothing is written.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;

use super::compression::{Compression, HashingReader, digest_both};
use super::docker::{self, MANIFEST_JSON};
use super::files::Files;
use super::{ArchiveError, Format, Opened, oci};
use crate::digest::Digest;
use crate::image::{Descriptor, ImageConfig, MAX_CONFIG_SIZE, MAX_MANIFEST_SIZE, Manifest};
use crate::reference::Reference;

/// What [`verify`] found.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Report {
    pub path: String,
    pub format: String,
    /// Images (manifest.json items, index.json entries) looked at.
    pub images: usize,
    /// Files read and hashed.
    pub blobs: usize,
    pub problems: Vec<String>,
}

/// Why a file could not be hashed, or a compressed one decompressed: kept once per file (so shared) and
/// reported as a problem line.
#[derive(Debug, Clone, thiserror::Error)]
enum Unreadable {
    /// The archive refused to open it (a link out of the archive, a missing entry).
    #[error(transparent)]
    Open(Arc<ArchiveError>),
    /// Reading or decompressing the file shown as `shown` failed.
    #[error("{shown}: {source}")]
    Read { shown: String, source: Arc<io::Error> },
}

impl From<ArchiveError> for Unreadable {
    fn from(e: ArchiveError) -> Self {
        Unreadable::Open(Arc::new(e))
    }
}

#[derive(Debug, Clone)]
struct Hashed {
    digest: Digest,
    size: u64,
    /// The decompressed digest of a compressed file, or why it could not be decompressed.
    inner: Option<Result<(Compression, Digest), Unreadable>>,
}

impl Hashed {
    /// The digest of the uncompressed content: the diff_id a layer file stands for.
    fn diff_id(&self) -> Result<&Digest, &Unreadable> {
        match &self.inner {
            None => Ok(&self.digest),
            Some(Ok((_, d))) => Ok(d),
            Some(Err(e)) => Err(e),
        }
    }
}

struct Checker<'a> {
    files: &'a Files,
    problems: Vec<String>,
    hashed: HashMap<String, Result<Hashed, Unreadable>>,
}

/// Checks everything in `opened` and reports each problem.
pub fn verify(opened: &Opened) -> Report {
    let mut c = Checker { files: &opened.files, problems: Vec::new(), hashed: HashMap::new() };
    let images = match opened.format {
        Format::OciArchive | Format::OciDir => c.oci(),
        Format::DockerArchive => {
            let n = c.docker_archive();
            if opened.files.exists(oci::INDEX_JSON) {
                c.oci(); // docker ≥ 25: the OCI layout beside manifest.json must be whole too
            }
            n
        }
        Format::DockerDir => c.docker_dir(),
    };
    c.claimed_names(opened.format);
    Report {
        path: opened.files.root(),
        format: opened.format.name().to_owned(),
        images,
        blobs: c.hashed.len(),
        problems: c.problems,
    }
}

impl Checker<'_> {
    fn problem(&mut self, p: String) {
        if !self.problems.contains(&p) {
            self.problems.push(p);
        }
    }

    /// Hashes the file at `path` once (following links in a tar).
    fn hash(&mut self, path: &str) -> Result<Hashed, Unreadable> {
        let key = self.files.resolved(path)?;
        if let Some(h) = self.hashed.get(&key) {
            return h.clone();
        }
        let shown = self.files.shown(path);
        let unreadable = |e: io::Error| Unreadable::Read { shown: shown.clone(), source: Arc::new(e) };
        let open = || self.files.open(path).map_err(Unreadable::from);
        let result = open().and_then(|(r, _)| match digest_both(r, &shown) {
            Ok(found) => Ok(Hashed {
                digest: found.digest,
                size: found.size,
                inner: found.uncompressed.map(|(c, d, _)| Ok((c, d))),
            }),
            // Not decompressible: still say what the bytes are.
            Err(e) => {
                let (r, _) = open()?;
                let mut raw = HashingReader { inner: r, hasher: crate::digest::Hasher::sha256() };
                io::copy(&mut raw, &mut io::sink()).map_err(unreadable)?;
                let size = raw.hasher.len();
                Ok(Hashed { digest: raw.hasher.finish(), size, inner: Some(Err(unreadable(e))) })
            }
        });
        self.hashed.insert(key, result.clone());
        result
    }

    /// Checks the blob at `path` against `d`; its hash when present and readable.
    fn blob(&mut self, path: &str, d: &Descriptor, what: &str) -> Option<Hashed> {
        if !self.files.exists(path) {
            self.problem(format!("{what}: blob {} is missing ({})", d.digest, self.files.shown(path)));
            return None;
        }
        let h = match self.hash(path) {
            Ok(h) => h,
            Err(e) => {
                self.problem(format!("{what}: {e}"));
                return None;
            }
        };
        if h.size != d.size {
            self.problem(format!(
                "{what}: {} is {} bytes, but its descriptor says {}",
                self.files.shown(path),
                h.size,
                d.size
            ));
        }
        if h.digest != d.digest {
            self.problem(format!("{what}: {} hashes to {}, not {}", self.files.shown(path), h.digest, d.digest));
        }
        Some(h)
    }

    fn read(&mut self, path: &str, cap: usize, what: &str) -> Option<Vec<u8>> {
        match self.files.read_small(path, cap) {
            Ok(b) => Some(b),
            Err(e) => {
                self.problem(format!("{what}: {e}"));
                None
            }
        }
    }

    /// The layers of an image against its config's diff_ids; `layer_path` gives each layer's file.
    fn image(&mut self, config: &[u8], layers: &[(String, Option<Descriptor>)], what: &str) {
        let config = match ImageConfig::parse(config) {
            Ok(c) => c,
            Err(e) => return self.problem(format!("{what}: config: {e}")),
        };
        let diff_ids = &config.rootfs.diff_ids;
        if diff_ids.len() != layers.len() {
            self.problem(format!("{what}: {} layers, but the config lists {} diff_ids", layers.len(), diff_ids.len()));
        }
        for (i, ((path, d), want)) in layers.iter().zip(diff_ids).enumerate() {
            let what = format!("{what}: layer {i}");
            if d.as_ref().is_some_and(Descriptor::is_foreign) && !self.files.exists(path) {
                continue;
            }
            let h = match d {
                Some(d) => self.blob(path, d, &what),
                None if !self.files.exists(path) => {
                    self.problem(format!("{what}: {} is missing", self.files.shown(path)));
                    None
                }
                None => match self.hash(path) {
                    Ok(h) => Some(h),
                    Err(e) => {
                        self.problem(format!("{what}: {e}"));
                        None
                    }
                },
            };
            match h.as_ref().map(Hashed::diff_id) {
                Some(Ok(d)) if d != want => self.problem(format!(
                    "{what}: {} has uncompressed content {d}, but the config's diff_id is {want}",
                    self.files.shown(path)
                )),
                Some(Err(e)) => self.problem(format!("{what}: cannot decompress it to check its diff_id: {e}")),
                _ => {}
            }
        }
    }

    fn oci(&mut self) -> usize {
        let layout = self.read(oci::OCI_LAYOUT, 64 * 1024, "oci-layout");
        if let Some(raw) = layout
            && let Err(m) = oci::check_layout(&raw)
        {
            self.problem(format!("{}: {m}", self.files.shown(oci::OCI_LAYOUT)));
        }
        let Some(raw) = self.read(oci::INDEX_JSON, oci::MAX_INDEX_JSON, "index.json") else { return 0 };
        let index = match oci::parse_index(&raw) {
            Ok(i) => i,
            Err(m) => {
                self.problem(format!("{}: {m}", self.files.shown(oci::INDEX_JSON)));
                return 0;
            }
        };
        for (i, entry) in index.manifests.iter().enumerate() {
            let what = format!("index.json entry {i}");
            if let Some(name) = oci::ref_name(entry)
                && !oci::valid_ref_name(name)
            {
                self.problem(format!("{what}: ref name {name:?} is not valid"));
            }
            if let Err(m) = oci::load_name(entry) {
                self.problem(format!("{what}: {m}"));
            }
            self.oci_manifest(entry, 0, &what);
        }
        index.manifests.len()
    }

    fn oci_manifest(&mut self, d: &Descriptor, depth: usize, what: &str) {
        let path = oci::blob_path(&d.digest);
        if self.blob(&path, d, what).is_none() {
            return;
        }
        let Some(raw) = self.read(&path, MAX_MANIFEST_SIZE, what) else { return };
        let manifest = match Manifest::parse(&raw, Some(&d.media_type)) {
            Ok(m) => m,
            Err(e) => return self.problem(format!("{what}: manifest {}: {e}", d.digest)),
        };
        match manifest {
            Manifest::Image(m) => {
                let cpath = oci::blob_path(&m.config.digest);
                if self.blob(&cpath, &m.config, &format!("{what}: config")).is_none() {
                    return;
                }
                let Some(config) = self.read(&cpath, MAX_CONFIG_SIZE, what) else { return };
                let layers: Vec<(String, Option<Descriptor>)> =
                    m.layers.iter().map(|l| (oci::blob_path(&l.digest), Some(l.clone()))).collect();
                self.image(&config, &layers, what);
            }
            Manifest::Index(index) if depth < 4 => {
                let present = index.manifests.iter().any(|c| self.files.exists(&oci::blob_path(&c.digest)));
                for (i, child) in index.manifests.iter().enumerate() {
                    if present && !self.files.exists(&oci::blob_path(&child.digest)) {
                        continue; // a multi-platform index saved with some platforms only
                    }
                    self.oci_manifest(child, depth + 1, &format!("{what} → manifest {i}"));
                }
            }
            Manifest::Index(_) => self.problem(format!("{what}: indexes nest too deep")),
        }
    }

    fn docker_archive(&mut self) -> usize {
        let Some(raw) = self.read(MANIFEST_JSON, docker::MAX_MANIFEST_JSON, MANIFEST_JSON) else { return 0 };
        let items = match docker::parse_manifest_json(&raw) {
            Ok(i) => i,
            Err(m) => {
                self.problem(format!("{}: {m}", self.files.shown(MANIFEST_JSON)));
                return 0;
            }
        };
        for (n, item) in items.iter().enumerate() {
            let what = format!("manifest.json image {n}");
            for tag in &item.repo_tags {
                match Reference::parse_normalized(tag) {
                    Ok(r) if r.digest().is_none() => {}
                    Ok(_) => self.problem(format!("{what}: RepoTag {tag:?} has a digest")),
                    Err(e) => self.problem(format!("{what}: RepoTag {tag:?} is not a valid name: {e}")),
                }
            }
            if !self.files.exists(&item.config) {
                self.problem(format!("{what}: config {} is missing", self.files.shown(&item.config)));
                continue;
            }
            let h = match self.hash(&item.config) {
                Ok(h) => h,
                Err(e) => {
                    self.problem(format!("{what}: config: {e}"));
                    continue;
                }
            };
            if let Some(claimed) = docker::claimed_digest(&item.config)
                && claimed != h.digest
            {
                self.problem(format!("{what}: config {} hashes to {}, not {claimed}", item.config, h.digest));
            }
            let Some(config) = self.read(&item.config, MAX_CONFIG_SIZE, &what) else { continue };
            let diff_ids = ImageConfig::parse(&config).map(|c| c.rootfs.diff_ids).unwrap_or_default();
            for (i, path) in item.layers.iter().enumerate() {
                let resolved = self.files.resolved(path).unwrap_or_else(|_| path.clone());
                for p in [path, &resolved] {
                    if let (Some(claimed), Some(want)) = (docker::claimed_digest(p), diff_ids.get(i))
                        && claimed != *want
                    {
                        self.problem(format!(
                            "{what}: layer {i} is {path} (the file {resolved}), named for {claimed}, but the config's \
                             diff_id is {want}"
                        ));
                    }
                }
            }
            let layers: Vec<(String, Option<Descriptor>)> = item.layers.iter().map(|p| (p.clone(), None)).collect();
            self.image(&config, &layers, &what);
        }
        items.len()
    }

    fn docker_dir(&mut self) -> usize {
        let Some(raw) = self.read(MANIFEST_JSON, MAX_MANIFEST_SIZE, MANIFEST_JSON) else { return 0 };
        let manifest = match Manifest::parse(&raw, None) {
            Ok(m) => m,
            Err(e) => {
                self.problem(format!("{}: {e}", self.files.shown(MANIFEST_JSON)));
                return 0;
            }
        };
        let mut todo = vec![(manifest, "manifest.json".to_owned())];
        let mut images = 0;
        while let Some((m, what)) = todo.pop() {
            match m {
                Manifest::Image(m) => {
                    images += 1;
                    let cpath = m.config.digest.hex().to_owned();
                    if self.blob(&cpath, &m.config, &format!("{what}: config")).is_none() {
                        continue;
                    }
                    let Some(config) = self.read(&cpath, MAX_CONFIG_SIZE, &what) else { continue };
                    let layers: Vec<(String, Option<Descriptor>)> =
                        m.layers.iter().map(|l| (l.digest.hex().to_owned(), Some(l.clone()))).collect();
                    self.image(&config, &layers, &what);
                }
                Manifest::Index(index) => {
                    for (i, child) in index.manifests.iter().enumerate() {
                        let path = format!("{}.manifest.json", child.digest.hex());
                        let what = format!("{what} → manifest {i}");
                        if self.blob(&path, child, &what).is_none() {
                            continue;
                        }
                        let Some(raw) = self.read(&path, MAX_MANIFEST_SIZE, &what) else { continue };
                        match Manifest::parse(&raw, Some(&child.media_type)) {
                            Ok(Manifest::Image(c)) => todo.push((Manifest::Image(c), what)),
                            Ok(Manifest::Index(_)) => self.problem(format!("{what}: an index inside an index")),
                            Err(e) => self.problem(format!("{what}: {e}")),
                        }
                    }
                }
            }
        }
        images
    }

    /// Files whose names claim a digest (`blobs/<alg>/<hex>`, `<hex>.json`, `<hex>.tar`, `<hex>`) hold it.
    fn claimed_names(&mut self, format: Format) {
        let paths: Vec<String> = match self.files {
            Files::Tar(t) => t.paths().to_vec(),
            Files::Dir(d) => {
                let mut out = Vec::new();
                let mut dirs = vec![String::new()];
                while let Some(rel) = dirs.pop() {
                    let Ok(entries) = std::fs::read_dir(d.join(&rel)) else { continue };
                    for e in entries.flatten() {
                        let name = e.file_name().to_string_lossy().into_owned();
                        let p = if rel.is_empty() { name } else { format!("{rel}/{name}") };
                        match e.file_type() {
                            Ok(t) if t.is_dir() && rel.split('/').count() < 3 => dirs.push(p),
                            Ok(t) if t.is_file() => out.push(p),
                            _ => {}
                        }
                    }
                }
                out
            }
        };
        for path in paths {
            let Some(claimed) = docker::claimed_digest(&path) else { continue };
            if format == Format::DockerDir && path.contains('.') {
                continue; // `<hex>.manifest.json` and the like are checked by their references
            }
            match self.hash(&path) {
                Ok(h) => {
                    let ok = h.digest == claimed || (path.ends_with(".tar") && h.diff_id().ok() == Some(&claimed));
                    if !ok {
                        self.problem(format!(
                            "{}: hashes to {}, not the {claimed} its name says",
                            self.files.shown(&path),
                            h.digest
                        ));
                    }
                }
                Err(e) => self.problem(e.to_string()),
            }
        }
    }
}
