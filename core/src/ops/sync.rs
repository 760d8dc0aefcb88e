//! `hoist sync`: many images from one place to another, as skopeo's `sync` does, incremental. What to copy is
//! a list of [`SourceSpec`]s (a registry repository and a [`TagSelection`]; made from the command line, or by
//! the skopeo sync YAML parser, [`crate::sync_file`]); each selected tag goes to the destination under
//! skopeo's names ([`destination_path`]). A tag whose manifest at the destination already is the source's
//! costs one HEAD at each side and moves nothing; the others go through the one copy engine (manifest last).
//!
//! What it is not: the YAML parser, or printing (per-image lines leave through the settings' observer, the
//! summary is returned).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;

use super::{CredentialSource, Error, Settings};
use crate::archive::Format;
use crate::copy::NoProgress;
use crate::digest::Digest;
use crate::image::{Manifest, Platform, media_type};
use crate::reference::{Reference, ReferenceError};
use crate::registry::{Endpoint, RegistryClient};
use crate::transport::TransportError;
use crate::transport::name::{DestinationOptions, ImageName};
use crate::transport::registry::reference_at_registry;

pub use crate::sync_file::{SourceSpec, TagSelection};

/// How a sync runs (skopeo's flags, and hoist's `--delete-missing`).
#[derive(Clone, Debug, Default)]
pub struct SyncOptions {
    /// `--scoped`: the destination names keep the source's whole path (registry included), not only its last
    /// component.
    pub scoped: bool,
    /// `--append-suffix`: added to every destination tag.
    pub append_suffix: String,
    /// `--all`: every platform of a multi-platform image and the index itself.
    pub all: bool,
    /// `--dry-run`: nothing written; each image's outcome is what would happen.
    pub dry_run: bool,
    /// `--keep-going`: a failing image does not stop the others.
    pub keep_going: bool,
    /// `--retry-times`: an image whose copy fails with a transient error is tried again this many times.
    pub retry_times: u32,
    /// `--delete-missing`: destination tags the source repositories no longer list are deleted.
    pub delete_missing: bool,
    /// Images copied at once (`--jobs`); 0 counts as 1.
    pub images_at_once: usize,
}

/// Where the images go.
#[derive(Clone, Debug)]
pub enum SyncDestination {
    /// A registry or a namespace in one (`--dest docker`): `reg.example:5000`, `reg.example/mirror`.
    Registry(String),
    /// A directory tree of `dir:` images (`--dest dir`), as skopeo writes it: `DIR/app:1`, scoped
    /// `DIR/registry:port/ns/app:1`.
    Dir(PathBuf),
}

/// What happened to one image (or, for [`Outcome::Deleted`], one destination tag).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Outcome {
    Copied,
    /// The destination already had the source's manifest: nothing moved.
    UpToDate,
    /// `--dry-run`: it would be copied.
    WouldCopy,
    /// Copying it failed; the error.
    Failed(String),
    /// `--delete-missing`: the destination tag was deleted.
    Deleted,
    /// `--delete-missing --dry-run`: the destination tag would be deleted.
    WouldDelete,
}

/// One line of a sync's result.
#[derive(Clone, Debug)]
pub struct ImageResult {
    /// `docker://...` of the source image (empty for a deleted destination tag).
    pub source: String,
    /// `docker://...` of the destination image.
    pub destination: String,
    /// The manifest digest copied, found up to date, or deleted.
    pub digest: Option<crate::digest::Digest>,
    pub outcome: Outcome,
}

/// What a sync did, image by image, in the order they finished.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub images: Vec<ImageResult>,
}

impl Summary {
    fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.images.iter().filter(|i| f(&i.outcome)).count()
    }
    /// Images copied (or, with `--dry-run`, that would be).
    pub fn copied(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Copied | Outcome::WouldCopy))
    }
    pub fn up_to_date(&self) -> usize {
        self.count(|o| *o == Outcome::UpToDate)
    }
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed(_)))
    }
    /// Destination tags deleted (or, with `--dry-run`, that would be).
    pub fn deleted(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Deleted | Outcome::WouldDelete))
    }
    /// The failures' messages, each naming its image.
    pub fn errors(&self) -> Vec<String> {
        self.images
            .iter()
            .filter_map(|i| match &i.outcome {
                Outcome::Failed(e) if i.source.is_empty() => Some(format!("{}: {e}", i.destination)),
                Outcome::Failed(e) => Some(format!("{}: {e}", i.source)),
                _ => None,
            })
            .collect()
    }
}

/// Why a sync could not start (a failing image is an [`Outcome::Failed`], not one of these).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("sync source {source_name:?}: {error}")]
    BadSource {
        source_name: String,
        #[source]
        error: ReferenceError,
    },
    /// A [`SourceSpec`] whose repository carries a tag or digest (they belong in its [`TagSelection`]).
    #[error("sync source {0:?}: the repository must name no tag or digest")]
    NotARepository(String),
    #[error("sync destination {destination:?}: {error}")]
    BadDestination {
        destination: String,
        #[source]
        error: ReferenceError,
    },
    /// A source directory that cannot be read, or holds too much to walk.
    #[error("sync source {}: {reason}", path.display())]
    BadSourceDir { path: PathBuf, reason: String },
    /// What skopeo refuses too, or hoist does not do.
    #[error("{0}")]
    Unsupported(&'static str),
    #[error(transparent)]
    Ops(#[from] Box<Error>),
}

impl From<Error> for SyncError {
    fn from(e: Error) -> SyncError {
        SyncError::Ops(Box::new(e))
    }
}

/// A command-line source (`--src docker`): `[docker://]REGISTRY/REPO` (every tag), `REGISTRY/REPO:TAG` (that
/// tag) or `REGISTRY/REPO@DIGEST` (that manifest, written by digest), as skopeo reads it; a name without a
/// registry is on docker.io.
pub fn source_from_name(name: &str) -> Result<SourceSpec, SyncError> {
    let given = name.strip_prefix("docker://").unwrap_or(name);
    let r = Reference::parse_normalized(given)
        .map_err(|error| SyncError::BadSource { source_name: name.to_owned(), error })?;
    Ok(SourceSpec {
        registry: r.domain().to_owned(),
        repository: r.path().to_owned(),
        tags: match (r.digest(), r.tag()) {
            (Some(d), _) => TagSelection::Tags(vec![d.to_string()]),
            (None, Some(t)) => TagSelection::Tags(vec![t.to_owned()]),
            (None, None) => TagSelection::All,
        },
        tls_verify: None,
        cert_dir: None,
        credentials: None,
    })
}

/// The destination of `source` (a tagged reference) in `destination` (a registry or namespace), as skopeo
/// names it: `DEST/LAST-COMPONENT:TAG`, or with `scoped` `DEST/REGISTRY/PATH:TAG` — a registry's port becomes
/// `_PORT` (`localhost:5000` → `localhost_5000`), where skopeo 1.9 makes a name that is not valid — then
/// `suffix` after the tag.
pub fn destination_path(
    destination: &str,
    source: &Reference,
    scoped: bool,
    suffix: &str,
) -> Result<Reference, SyncError> {
    let path = format!("{}/{}{}", source.domain().to_ascii_lowercase(), source.path(), at_of(source));
    // A digest is the image's own name: no suffix makes sense after it.
    let suffix = if source.digest().is_some() { "" } else { suffix };
    registry_destination(destination, &path, scoped, suffix)
}

/// `:TAG` (`:latest` when there is none), or `@DIGEST` for a reference by digest.
fn at_of(source: &Reference) -> String {
    match (source.digest(), source.tag()) {
        (Some(d), _) => format!("@{d}"),
        (None, t) => format!(":{}", t.unwrap_or("latest")),
    }
}

/// `repository:TAG`, or `repository@DIGEST` for an entry that is a digest (skopeo's YAML may list them).
fn selected(repository: &Reference, entry: &str) -> Result<Reference, Error> {
    if entry.contains(':') && Digest::parse(entry).is_ok() {
        return Ok(Reference::parse_normalized(&format!("{}@{entry}", repository.name()))?);
    }
    super::listed_tag(repository, entry.to_owned())
}

/// `destination` joined with `source_path` (`REGISTRY/PATH:TAG`, or a dir image's path under the source
/// directory): the whole path with `scoped`, else its last component; a `:` before the last component (a
/// port) becomes `_`.
fn registry_destination(
    destination: &str,
    source_path: &str,
    scoped: bool,
    suffix: &str,
) -> Result<Reference, SyncError> {
    let path = if scoped {
        let mut parts: Vec<String> = source_path.split('/').map(str::to_owned).collect();
        let last = parts.len() - 1;
        for p in &mut parts[..last] {
            *p = p.replace(':', "_");
        }
        parts.join("/")
    } else {
        last_component(source_path).to_owned()
    };
    let dest = destination.strip_prefix("docker://").unwrap_or(destination).trim_end_matches('/');
    let name = format!("{dest}/{path}{suffix}");
    Reference::parse_normalized(&name).map_err(|error| SyncError::BadDestination { destination: name.clone(), error })
}

/// skopeo's `--dest dir` path: `DIR/LAST-COMPONENT` (with `scoped`, `DIR/WHOLE/PATH`, the registry as it is:
/// `127.0.0.1:5000/ns/app:1`), then `suffix`.
fn dir_destination(destination: &Path, source_path: &str, scoped: bool, suffix: &str) -> PathBuf {
    let path = if scoped { source_path } else { last_component(source_path) };
    destination.join(format!("{path}{suffix}"))
}

fn last_component(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or_default()
}

/// The tags of `listed` that `selection` keeps, in the listing's order (a semver selection: by version).
pub fn select_tags(selection: &TagSelection, listed: &[String]) -> Vec<String> {
    match selection {
        TagSelection::All => listed.to_vec(),
        TagSelection::Tags(t) => t.clone(),
        TagSelection::Regex(re) => listed.iter().filter(|t| re.is_match(t)).cloned().collect(),
        TagSelection::Semver(req) => {
            let mut v: Vec<(String, crate::release::VersionTag)> = listed
                .iter()
                .filter_map(|t| crate::release::VersionTag::parse(t).map(|v| (t.clone(), v)))
                .filter(|(_, v)| req.matches(&v.version))
                .collect();
            v.sort_by(|a, b| a.1.version.cmp(&b.1.version).then(a.0.cmp(&b.0)));
            v.into_iter().map(|(t, _)| t).collect()
        }
    }
}

/// A semver requirement as `--semver` and skopeo's `images-by-semver` give it (`>=2.0, <3`), as list-tags reads
/// it.
pub fn semver_requirement(requirement: &str) -> Result<semver::VersionReq, crate::release::ReleaseError> {
    semver::VersionReq::parse(requirement.trim())
        .map_err(|e| crate::release::ReleaseError::Requirement(requirement.to_owned(), e.to_string()))
}

/// A tag regex as skopeo's `images-by-tag-regex` reads it (matched anywhere in the tag, as Go's
/// `regexp.MatchString`), compiled by the linear-time `regex` engine with a size limit.
pub fn tag_regex(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(pattern).size_limit(1 << 20).dfa_size_limit(1 << 20).build()
}

/// One image to sync: which source spec (its settings), the source, the destination, and the destination
/// repository (or directory) it belongs to.
struct Item {
    spec: usize,
    source: ImageName,
    destination: ImageName,
    group: String,
}

/// How many images are compared (a HEAD at each side) at once; `--jobs` bounds only the copies among them.
const CHECKS_IN_FLIGHT: usize = 32;

/// A value made once, by the first caller; the others wait for it.
type Shared<T> = Arc<tokio::sync::OnceCell<T>>;

/// A connection's key: the side (true: the source) and the endpoint.
type ConnectionKey = (bool, Endpoint);

/// A client's key: the side, the source spec and the repository.
type ClientKey = (bool, usize, String);

/// The registry clients of a sync. A registry is pinged once per side and endpoint (its TLS, timeout and
/// certificate directories): every repository there shares that connection — its HTTP client, pool and the
/// authentication challenge found — each with the credentials looked up for it and a token cache of its own.
/// Nothing is locked while connecting: clients of different keys are made at once, and callers of the same
/// key wait for the one connecting.
#[derive(Default)]
struct Clients {
    /// One connection (made without credentials) per side and endpoint.
    connections: std::sync::Mutex<Vec<(ConnectionKey, Shared<RegistryClient>)>>,
    /// One client per side, source spec and repository.
    made: std::sync::Mutex<HashMap<ClientKey, Shared<Arc<RegistryClient>>>>,
}

impl Clients {
    async fn get(
        &self,
        source: bool,
        spec: usize,
        settings: &Settings,
        reference: &Reference,
    ) -> Result<Arc<RegistryClient>, Error> {
        let key = (source, spec, reference.name());
        let cell = self.made.lock().unwrap_or_else(|e| e.into_inner()).entry(key).or_default().clone();
        let client = cell
            .get_or_try_init(|| async {
                let endpoint = settings.push_endpoint(reference)?;
                let connection = self.connection(source, endpoint, settings).await?;
                let creds = settings.creds()?.for_reference(reference).await?;
                Ok::<_, Error>(Arc::new(connection.with_credentials(creds)))
            })
            .await?;
        Ok(client.clone())
    }

    /// The connection to `endpoint` for this side, made on first use.
    async fn connection(&self, source: bool, endpoint: Endpoint, settings: &Settings) -> Result<RegistryClient, Error> {
        let key = (source, endpoint);
        let cell = {
            let mut connections = self.connections.lock().unwrap_or_else(|e| e.into_inner());
            match connections.iter().find(|(k, _)| *k == key) {
                Some((_, c)) => c.clone(),
                None => {
                    let c = Arc::new(tokio::sync::OnceCell::new());
                    connections.push((key.clone(), c.clone()));
                    c
                }
            }
        };
        let (_, endpoint) = &key;
        let c = cell.get_or_try_init(|| RegistryClient::connect(endpoint, None, settings.observer.clone())).await?;
        Ok(c.clone())
    }
}

/// The settings of one source: the `--src-*` flags', with the spec's own TLS, certificates and credentials
/// in their place where it has them.
fn spec_settings(base: &Settings, spec: &SourceSpec) -> Settings {
    let mut s = base.clone();
    if let Some(v) = spec.tls_verify {
        s.registry.tls.tls_verify = Some(v);
    }
    if let Some(d) = &spec.cert_dir {
        s.registry.tls.cert_dir = Some(d.clone());
    }
    if let Some(c) = &spec.credentials {
        s.registry.credentials = CredentialSource::Given(c.clone());
    }
    s
}

/// `skopeo sync --src docker --dest docker`: every tag `sources` select, each to its name in `destination`
/// ([`destination_path`]), `opts.images_at_once` at a time. A tag the destination already holds with the
/// source's manifest (for a multi-platform source without `all`, the instance the platform chooses) costs a
/// HEAD at each side; the others are copied by the digest that HEAD found (what was compared is what is
/// copied, whatever the tag does meanwhile), through the copy engine, manifest last. A failure is its
/// image's [`Outcome::Failed`]; without `keep_going` no image starts after one. With `delete_missing`, a
/// destination repository whose sources all listed their tags and all synced loses the tags none of them
/// lists any more (a registry deletes manifests, not tags: a manifest another kept tag also names is kept,
/// with a warning). Per-image lines go to the destination settings' observer as progress.
pub async fn sync(
    source_settings: &Settings,
    sources: &[SourceSpec],
    destination_settings: &Settings,
    destination: &SyncDestination,
    opts: &SyncOptions,
) -> Result<Summary, SyncError> {
    if opts.delete_missing && matches!(destination, SyncDestination::Dir(_)) {
        return Err(SyncError::Unsupported("--delete-missing deletes registry tags; it does not apply to --dest dir"));
    }
    let observer = destination_settings.observer.clone();
    let settings: Vec<Settings> = sources.iter().map(|s| spec_settings(source_settings, s)).collect();
    let mut summary = Summary::default();
    let mut items = Vec::new();
    // Per destination repository: the destination tags its sources list (None: a listing failed).
    let mut listed_at: BTreeMap<String, Option<BTreeSet<String>>> = BTreeMap::new();
    let clients = Clients::default();
    let mut repositories = Vec::with_capacity(sources.len());
    for spec in sources {
        let name = format!("{}/{}", spec.registry, spec.repository);
        let repository = Reference::parse_normalized(&name)
            .map_err(|error| SyncError::BadSource { source_name: name.clone(), error })?;
        if repository.tag().is_some() || repository.digest().is_some() {
            return Err(SyncError::NotARepository(name));
        }
        repositories.push(repository);
    }
    // Every tag list asked for at once (CHECKS_IN_FLIGHT at a time), at the registry itself, as skopeo lists
    // them; the client is the one its images are read with. Used in the sources' order below.
    let mut listings: Vec<Option<Result<Vec<String>, Error>>> = futures_util::stream::iter(sources.iter().enumerate())
        .map(|(i, spec)| {
            let (repository, settings, clients) = (&repositories[i], &settings[i], &clients);
            async move {
                if !opts.delete_missing && matches!(spec.tags, TagSelection::Tags(_)) {
                    return None;
                }
                let listing = async {
                    let client = clients.get(true, i, settings, &repository.clone().with_default_tag()).await?;
                    Ok::<_, Error>(client.list_tags(repository.path()).await?)
                };
                Some(listing.await)
            }
        })
        .buffered(CHECKS_IN_FLIGHT)
        .collect()
        .await;
    for (i, repository) in repositories.iter().enumerate() {
        let repository = repository.clone();
        let dest_repo = match destination {
            SyncDestination::Registry(dest) => {
                destination_path(dest, &repository.clone().with_default_tag(), opts.scoped, "")?.name()
            }
            SyncDestination::Dir(d) => d.display().to_string(),
        };
        let spec = &sources[i];
        let listed = match listings[i].take() {
            Some(listing) => match listing {
                Ok(l) => Some(l),
                Err(e) => {
                    let failed = ImageResult {
                        source: format!("docker://{}", repository.name()),
                        destination: format!("docker://{dest_repo}"),
                        digest: None,
                        outcome: Outcome::Failed(format!("listing the tags: {e}")),
                    };
                    observer.progress(&format!("Failed: {}: listing the tags: {e}", failed.source));
                    summary.images.push(failed);
                    listed_at.insert(dest_repo, None);
                    if opts.keep_going {
                        continue;
                    }
                    return Ok(summary);
                }
            },
            None => None,
        };
        let mut tags = select_tags(&spec.tags, listed.as_deref().unwrap_or_default());
        let mut seen = BTreeSet::new();
        tags.retain(|t| seen.insert(t.clone()));
        for tag in tags {
            let source = match selected(&repository, &tag) {
                Ok(s) => s,
                Err(e) => {
                    summary.images.push(ImageResult {
                        source: format!("docker://{}", repository.name()),
                        destination: format!("docker://{dest_repo}"),
                        digest: None,
                        outcome: Outcome::Failed(e.to_string()),
                    });
                    observer.progress(&format!("Failed: docker://{}: {e}", repository.name()));
                    listed_at.insert(dest_repo.clone(), None);
                    if opts.keep_going {
                        continue;
                    }
                    return Ok(summary);
                }
            };
            let to = match destination {
                SyncDestination::Registry(dest) => {
                    ImageName::Registry(destination_path(dest, &source, opts.scoped, &opts.append_suffix)?)
                }
                SyncDestination::Dir(d) => {
                    let path = format!("{}/{}{}", source.domain(), source.path(), at_of(&source));
                    let suffix = if source.digest().is_some() { "" } else { opts.append_suffix.as_str() };
                    dir_name(dir_destination(d, &path, opts.scoped, suffix))
                }
            };
            items.push(Item {
                spec: i,
                source: ImageName::Registry(source),
                destination: to,
                group: dest_repo.clone(),
            });
        }
        if let Some(listed) = listed {
            let entry = listed_at.entry(dest_repo.clone()).or_insert_with(|| Some(BTreeSet::new()));
            if let Some(set) = entry {
                set.extend(listed.iter().map(|t| format!("{t}{}", opts.append_suffix)));
            }
        }
    }

    let failed_repos = run_items(&items, &settings, destination_settings, opts, &clients, &mut summary).await;
    if opts.delete_missing && (summary.failed() == 0 || opts.keep_going) {
        for (repo, listed) in &listed_at {
            let Some(keep) = listed else { continue };
            if failed_repos.contains(repo) {
                observer.warning(&format!("docker://{repo}: an image failed; no tag is deleted there"));
                continue;
            }
            delete_missing(repo, keep, destination_settings, opts, &mut summary).await;
        }
    }
    Ok(summary)
}

/// Runs `items`: [`CHECKS_IN_FLIGHT`] compared at once, ahead of the copies; those to copy are copied
/// `opts.images_at_once` at a time, in the items' order (none starts after a failure without `keep_going`).
/// Each outcome is added to `summary`; returns the groups (destination repositories) where one failed.
async fn run_items(
    items: &[Item],
    settings: &[Settings],
    destination_settings: &Settings,
    opts: &SyncOptions,
    clients: &Clients,
    summary: &mut Summary,
) -> BTreeSet<String> {
    let observer = destination_settings.observer.clone();
    let stop = AtomicBool::new(false);
    // The checks run on their own (a channel between the stages), so a long copy never leaves a check's
    // answer unread.
    let (checked_tx, checked_rx) = tokio::sync::mpsc::unbounded_channel();
    let checks = futures_util::stream::iter(items.iter())
        .map(|item| {
            let stop = &stop;
            async move {
                if stop.load(Ordering::SeqCst) {
                    return (item, None);
                }
                let src = &settings[item.spec];
                let check = || check_one(item, src, destination_settings, opts, clients);
                (item, Some(retrying(item, src, opts, check).await))
            }
        })
        .buffered(CHECKS_IN_FLIGHT)
        .for_each(move |c| {
            let _ = checked_tx.send(c);
            std::future::ready(())
        });
    let checked = futures_util::stream::unfold(checked_rx, |mut rx| async { rx.recv().await.map(|c| (c, rx)) });
    let copies = checked
        .map(|(item, checked): (&Item, Option<Result<Checked, Error>>)| {
            let (stop, observer) = (&stop, &observer);
            async move {
                // After a failure (without keep_going) nothing more is reported or copied.
                let checked = checked.filter(|_| !stop.load(Ordering::SeqCst))?;
                let result = match checked {
                    Ok(Checked::Done(outcome, digest)) => Ok((outcome, digest)),
                    Ok(Checked::Copy(from)) => {
                        let src = &settings[item.spec];
                        let copy = || copy_one(item, &from, src, destination_settings, opts);
                        retrying(item, src, opts, copy).await.map(|d| (Outcome::Copied, d))
                    }
                    Err(e) => Err(e),
                };
                let r = ImageResult {
                    source: item.source.to_string(),
                    destination: item.destination.to_string(),
                    digest: result.as_ref().ok().map(|(_, d)| d.clone()),
                    outcome: match result {
                        Ok((o, _)) => o,
                        Err(e) => Outcome::Failed(e.to_string()),
                    },
                };
                let line = match &r.outcome {
                    Outcome::Copied => format!("Copied {} to {}", r.source, r.destination),
                    Outcome::UpToDate => format!("Up to date: {}", r.destination),
                    Outcome::WouldCopy => format!("Would copy {} to {}", r.source, r.destination),
                    Outcome::Failed(e) => {
                        if !opts.keep_going {
                            stop.store(true, Ordering::SeqCst);
                        }
                        format!("Failed: {}: {e}", r.source)
                    }
                    Outcome::Deleted | Outcome::WouldDelete => unreachable!("a copy deletes nothing"),
                };
                observer.progress(&line);
                Some((r, item.group.clone()))
            }
        })
        .buffer_unordered(opts.images_at_once.max(1))
        .collect::<Vec<Option<(ImageResult, String)>>>();
    let ((), results) = futures_util::future::join(checks, copies).await;
    let mut failed_repos = BTreeSet::new();
    for (r, repo) in results.into_iter().flatten() {
        if matches!(r.outcome, Outcome::Failed(_)) {
            failed_repos.insert(repo);
        }
        summary.images.push(r);
    }
    failed_repos
}

/// `dir:PATH`.
fn dir_name(path: PathBuf) -> ImageName {
    ImageName::Archive { format: Format::DockerDir, path, reference: None }
}

/// `skopeo sync --src dir`: every image under `root` (each directory holding a `manifest.json`, walked in name
/// order without following symbolic links; `root` itself when it is one) to `destination`, named by its path
/// under `root` ([`registry_destination`]), as [`sync`] does (a dir to a dir is refused, as skopeo refuses it).
pub async fn sync_from_dir(
    source_settings: &Settings,
    root: &Path,
    destination_settings: &Settings,
    destination: &SyncDestination,
    opts: &SyncOptions,
) -> Result<Summary, SyncError> {
    let SyncDestination::Registry(dest) = destination else {
        return Err(SyncError::Unsupported(
            "sync from a dir to a dir is not supported (as skopeo); copy the directory",
        ));
    };
    if opts.delete_missing {
        return Err(SyncError::Unsupported("--delete-missing needs a registry source (its tag list)"));
    }
    let walked = root.to_owned();
    let images = tokio::task::spawn_blocking(move || dir_images(&walked))
        .await
        .map_err(|source| Error::Task { task: "reading the source directory", source })??;
    let base = root.file_name().map(|b| b.to_string_lossy().into_owned()).unwrap_or_default();
    let mut items = Vec::new();
    for rel in images {
        let path = if rel.as_os_str().is_empty() { base.clone() } else { rel.to_string_lossy().into_owned() };
        let to = registry_destination(dest, &path, opts.scoped, &opts.append_suffix)?;
        items.push(Item {
            spec: 0,
            source: dir_name(root.join(&rel)),
            group: to.name(),
            destination: ImageName::Registry(to),
        });
    }
    let mut summary = Summary::default();
    let clients = Clients::default();
    run_items(&items, std::slice::from_ref(source_settings), destination_settings, opts, &clients, &mut summary).await;
    Ok(summary)
}

/// How many directory entries a source directory may hold, and how deep it may go.
const MAX_DIR_ENTRIES: usize = 100_000;
const MAX_DIR_DEPTH: usize = 32;

/// The directories under `root` (relative; empty: `root` itself) that hold a `manifest.json` file, in name
/// order; symbolic links are not followed.
fn dir_images(root: &Path) -> Result<Vec<PathBuf>, SyncError> {
    let bad = |reason: String| SyncError::BadSourceDir { path: root.to_owned(), reason };
    if !std::fs::metadata(root).map_err(|e| bad(e.to_string()))?.is_dir() {
        return Err(bad("not a directory".into()));
    }
    let mut found = Vec::new();
    let mut seen = 0usize;
    let mut stack = vec![(PathBuf::new(), 0usize)];
    while let Some((rel, depth)) = stack.pop() {
        let dir = root.join(&rel);
        let mut entries: Vec<(String, std::fs::FileType)> = Vec::new();
        for e in std::fs::read_dir(&dir).map_err(|e| bad(format!("{}: {e}", dir.display())))? {
            let e = e.map_err(|e| bad(format!("{}: {e}", dir.display())))?;
            seen += 1;
            if seen > MAX_DIR_ENTRIES {
                return Err(bad(format!("more than {MAX_DIR_ENTRIES} entries")));
            }
            let t = e.file_type().map_err(|e| bad(e.to_string()))?;
            entries.push((e.file_name().to_string_lossy().into_owned(), t));
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        if entries.iter().any(|(n, t)| n == crate::transport::dir::MANIFEST_JSON && t.is_file()) {
            found.push(rel.clone());
        }
        for (name, t) in entries.iter().rev() {
            if t.is_dir() {
                if depth + 1 > MAX_DIR_DEPTH {
                    return Err(bad(format!("deeper than {MAX_DIR_DEPTH} directories")));
                }
                stack.push((rel.join(name), depth + 1));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// The manifest of the `dir:` image at `path` (`None`: there is none yet), read within the manifest cap.
fn dir_manifest(path: &Path) -> Result<Option<(Vec<u8>, Digest)>, Error> {
    use std::io::Read;
    let file = path.join(crate::transport::dir::MANIFEST_JSON);
    let f = match std::fs::File::open(&file) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(
                TransportError::Archive(crate::archive::ArchiveError::io(&file.display().to_string(), e)).into()
            );
        }
    };
    let mut raw = Vec::new();
    f.take(crate::image::MAX_MANIFEST_SIZE as u64 + 1)
        .read_to_end(&mut raw)
        .map_err(|e| TransportError::Archive(crate::archive::ArchiveError::io(&file.display().to_string(), e)))?;
    if raw.len() > crate::image::MAX_MANIFEST_SIZE {
        return Err(TransportError::Image(crate::image::ImageError::Invalid(format!(
            "{}: larger than {} bytes",
            file.display(),
            crate::image::MAX_MANIFEST_SIZE
        )))
        .into());
    }
    let digest = Digest::sha256(&raw);
    Ok(Some((raw, digest)))
}

/// The digest a copy of the manifest `raw` (digest `digest`) leaves at a destination: its own, or without
/// `all` the instance `platform` chooses from an index (`None` when none fits: then it is copied, and fails).
fn wanted(
    raw: &[u8],
    media_type: Option<&str>,
    digest: &Digest,
    all: bool,
    platform: Option<&Platform>,
) -> Option<Digest> {
    match Manifest::parse(raw, media_type) {
        Ok(Manifest::Index(i)) if !all => {
            let platform = platform.cloned().unwrap_or_else(Platform::host);
            i.choose(&platform).map(|d| d.digest.clone())
        }
        Ok(_) => Some(digest.clone()),
        Err(_) => None,
    }
}

/// What the comparison of one image found: nothing to do (up to date, or what a dry run would do), or a copy
/// to make from `from` (the source by the digest compared).
enum Checked {
    Done(Outcome, Digest),
    Copy(ImageName),
}

/// `f` tried again up to `opts.retry_times` times after a transient error, waiting 0.5 s more each time.
async fn retrying<T, F, Fut>(item: &Item, settings: &Settings, opts: &SyncOptions, f: F) -> Result<T, Error>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    let mut attempt = 0;
    loop {
        match f().await {
            Err(e) if attempt < opts.retry_times && transient(&e) => {
                attempt += 1;
                settings
                    .observer
                    .warning(&format!("{}: {e}; retrying ({attempt} of {})", item.source, opts.retry_times));
                tokio::time::sleep(Duration::from_millis(500) * attempt.min(10)).await;
            }
            other => return other,
        }
    }
}

/// One image compared: a HEAD at each side (a dir's manifest read), and for a multi-platform source without
/// `all` its index, to know the digest a copy would leave.
async fn check_one(
    item: &Item,
    source_settings: &Settings,
    destination_settings: &Settings,
    opts: &SyncOptions,
    clients: &Clients,
) -> Result<Checked, Error> {
    // The source's manifest digest, the digest a copy leaves at the destination, and what to copy from.
    let (digest, want, from) = match &item.source {
        ImageName::Registry(src) => {
            let client = clients.get(true, item.spec, source_settings, src).await?;
            let at = reference_at_registry(src);
            let head = client.head_manifest(src.path(), &at, media_type::MANIFEST_ACCEPT).await?;
            let Some(head) = head else {
                return Err(Error::NotInRegistry(Box::new(src.clone())));
            };
            let want = if media_type::is_index(&head.media_type) && !opts.all {
                let index =
                    client.get_manifest(src.path(), &head.digest.to_string(), media_type::MANIFEST_ACCEPT).await?;
                wanted(&index.raw, Some(&index.media_type), &head.digest, false, source_settings.platform.as_ref())
            } else {
                Some(head.digest.clone())
            };
            // By digest: what was compared is what is copied, whatever the tag does meanwhile.
            let by_digest = Reference::parse_normalized(&format!("{}@{}", src.name(), head.digest))?;
            (head.digest, want, ImageName::Registry(by_digest))
        }
        ImageName::Archive { path, .. } => {
            let Some((raw, digest)) = read_dir_manifest(path.clone()).await? else {
                return Err(TransportError::Archive(crate::archive::ArchiveError::io(
                    &path.display().to_string(),
                    std::io::Error::from(std::io::ErrorKind::NotFound),
                ))
                .into());
            };
            let want = wanted(&raw, None, &digest, opts.all, source_settings.platform.as_ref());
            (digest, want, item.source.clone())
        }
        ImageName::Store(_) | ImageName::Daemon { .. } => unreachable!("sync reads registries and dirs"),
    };
    let have = match &item.destination {
        ImageName::Registry(dst) => {
            let client = clients.get(false, item.spec, destination_settings, dst).await?;
            let at = reference_at_registry(dst);
            client.head_manifest(dst.path(), &at, media_type::MANIFEST_ACCEPT).await?.map(|h| h.digest)
        }
        ImageName::Archive { path, .. } => read_dir_manifest(path.clone()).await?.map(|(_, d)| d),
        ImageName::Store(_) | ImageName::Daemon { .. } => unreachable!("sync writes registries and dirs"),
    };
    if let (Some(want), Some(have)) = (&want, &have)
        && want == have
    {
        return Ok(Checked::Done(Outcome::UpToDate, have.clone()));
    }
    if opts.dry_run {
        return Ok(Checked::Done(Outcome::WouldCopy, want.unwrap_or(digest)));
    }
    Ok(Checked::Copy(from))
}

/// One image copied from `from` through the copy engine (manifest last); its manifest digest.
async fn copy_one(
    item: &Item,
    from: &ImageName,
    source_settings: &Settings,
    destination_settings: &Settings,
    opts: &SyncOptions,
) -> Result<Digest, Error> {
    let options = DestinationOptions::default();
    let copy = super::copy_by_name(
        from,
        source_settings,
        &item.destination,
        destination_settings,
        &options,
        opts.all,
        Arc::new(NoProgress),
    );
    Ok(copy.await?.manifest.digest)
}

/// [`dir_manifest`] on a blocking thread.
async fn read_dir_manifest(path: PathBuf) -> Result<Option<(Vec<u8>, Digest)>, Error> {
    tokio::task::spawn_blocking(move || dir_manifest(&path))
        .await
        .map_err(|source| Error::Task { task: "reading a dir manifest", source })?
}

/// True for an error worth another try: the registry's transient failures (a dropped connection, 408, 429,
/// 5xx).
fn transient(e: &Error) -> bool {
    let t = match e {
        Error::Transport(t) => t,
        Error::Copy(c) => &c.source,
        _ => return false,
    };
    matches!(t, TransportError::Registry(r) if r.is_retryable())
}

/// `--delete-missing` for one destination repository: its tags not in `keep` deleted (their manifests, by
/// digest), each announced first; a manifest a kept tag also names stays, with a warning.
async fn delete_missing(
    repo: &str,
    keep: &BTreeSet<String>,
    destination_settings: &Settings,
    opts: &SyncOptions,
    summary: &mut Summary,
) {
    let observer = destination_settings.observer.clone();
    let fail = |summary: &mut Summary, tag: Option<&str>, digest: Option<Digest>, e: String| {
        let destination = match tag {
            Some(t) => format!("docker://{repo}:{t}"),
            None => format!("docker://{repo}"),
        };
        summary.images.push(ImageResult { source: String::new(), destination, digest, outcome: Outcome::Failed(e) });
    };
    let repository = match Reference::parse_normalized(repo) {
        Ok(r) => r,
        Err(e) => return fail(summary, None, None, e.to_string()),
    };
    let tags = match destination_settings.list_tags(&repository, None).await {
        Ok(t) => t,
        Err(e) => return fail(summary, None, None, format!("listing the tags to delete: {e}")),
    };
    if tags.iter().all(|t| keep.contains(t)) {
        return;
    }
    let client = match destination_settings.registry_client(&repository).await {
        Ok(c) => c,
        Err(e) => return fail(summary, None, None, e.to_string()),
    };
    // Every tag's manifest: a manifest is deleted only when no kept tag names it.
    let mut digests: BTreeMap<String, Digest> = BTreeMap::new();
    for t in &tags {
        match client.head_manifest(repository.path(), t, media_type::MANIFEST_ACCEPT).await {
            Ok(Some(h)) => {
                digests.insert(t.clone(), h.digest);
            }
            Ok(None) => {}
            Err(e) => return fail(summary, Some(t), None, format!("reading the tag before deleting: {e}")),
        }
    }
    let kept: HashMap<&Digest, &str> =
        digests.iter().filter(|(t, _)| keep.contains(*t)).map(|(t, d)| (d, t.as_str())).collect();
    let mut deleted: BTreeSet<Digest> = BTreeSet::new();
    for (tag, digest) in digests.iter().filter(|(t, _)| !keep.contains(*t)) {
        let name = format!("docker://{repo}:{tag}");
        if let Some(other) = kept.get(digest) {
            observer.warning(&format!(
                "{name} is not deleted: its manifest {digest} is also tagged {other}, which the source still has \
                 (a registry deletes manifests, not tags)"
            ));
            continue;
        }
        let outcome = if opts.dry_run {
            observer.progress(&format!("Would delete {name} ({digest})"));
            Outcome::WouldDelete
        } else {
            observer.progress(&format!("Deleting {name} ({digest})"));
            if !deleted.contains(digest) {
                if let Err(e) = delete_manifest(destination_settings, repo, digest).await {
                    fail(summary, Some(tag), Some(digest.clone()), format!("deleting: {e}"));
                    continue;
                }
                deleted.insert(digest.clone());
            }
            Outcome::Deleted
        };
        summary.images.push(ImageResult {
            source: String::new(),
            destination: name,
            digest: Some(digest.clone()),
            outcome,
        });
    }
}

/// Deletes manifest `digest` of `repo` as `hoist delete` does (its lookaside signatures with it).
async fn delete_manifest(settings: &Settings, repo: &str, digest: &Digest) -> Result<(), Error> {
    let reference = Reference::parse_normalized(&format!("{repo}@{digest}"))?;
    super::delete(settings, &reference).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Reference {
        Reference::parse_normalized(s).unwrap()
    }

    #[test]
    fn destination_names_as_skopeo_with_ports_made_valid() {
        let src = r("localhost:5000/team/app:1.0");
        assert_eq!(
            destination_path("reg.example/mirror", &src, false, "").unwrap().to_string(),
            "reg.example/mirror/app:1.0"
        );
        assert_eq!(
            destination_path("docker://reg.example:6000/", &src, true, "").unwrap().to_string(),
            "reg.example:6000/localhost_5000/team/app:1.0"
        );
        assert_eq!(
            destination_path("reg.example", &r("busybox:1"), true, "-mirror").unwrap().to_string(),
            "reg.example/docker.io/library/busybox:1-mirror"
        );
        assert_eq!(
            destination_path("reg.example/Mirror", &src, false, "")
                .map_err(|e| e.to_string())
                .unwrap_err()
                .lines()
                .count(),
            1
        );
    }

    #[test]
    fn sources_from_names() {
        let s = source_from_name("docker://127.0.0.1:5000/team/app").unwrap();
        assert_eq!((s.registry.as_str(), s.repository.as_str()), ("127.0.0.1:5000", "team/app"));
        assert!(matches!(s.tags, TagSelection::All));
        let s = source_from_name("busybox:1.36").unwrap();
        assert_eq!((s.registry.as_str(), s.repository.as_str()), ("docker.io", "library/busybox"));
        assert!(matches!(&s.tags, TagSelection::Tags(t) if t == &["1.36"]));
        let d = format!("sha256:{}", "0".repeat(64));
        let s = source_from_name(&format!("a/b:1@{d}")).unwrap();
        assert!(matches!(&s.tags, TagSelection::Tags(t) if t == std::slice::from_ref(&d)));
        assert!(matches!(source_from_name("team/UPPER"), Err(SyncError::BadSource { .. })));
    }

    #[test]
    fn tag_selections() {
        let listed: Vec<String> =
            ["latest", "2.5.1", "1.0.0", "2.0.0", "v2.1.0", "3.0.0", "2.6.0-rc.1", "2.1"].map(String::from).to_vec();
        assert_eq!(select_tags(&TagSelection::All, &listed), listed);
        let semver = TagSelection::Semver(semver_requirement(">=2.0, <3").unwrap());
        assert_eq!(select_tags(&semver, &listed), ["2.0.0", "v2.1.0", "2.5.1"]);
        assert!(semver_requirement(">=>2").is_err());
        let re = TagSelection::Regex(tag_regex(r"^2\.\d+").unwrap());
        assert_eq!(select_tags(&re, &listed), ["2.5.1", "2.0.0", "2.6.0-rc.1", "2.1"]);
        // Unanchored, as Go's MatchString.
        assert_eq!(select_tags(&TagSelection::Regex(tag_regex("rc").unwrap()), &listed), ["2.6.0-rc.1"]);
        // A pattern that backtracks exponentially elsewhere is linear here.
        let evil = tag_regex("^(a+)+$").unwrap();
        let long = format!("{}b", "a".repeat(100_000));
        let started = std::time::Instant::now();
        assert!(!evil.is_match(&long));
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        assert!(tag_regex("(").is_err());
    }

    #[test]
    fn a_source_spec_overrides_the_src_flags() {
        let mut base = Settings::new();
        base.registry.tls.tls_verify = Some(true);
        base.registry.credentials = CredentialSource::Anonymous;
        let mut spec = source_from_name("reg.example/app").unwrap();
        let same = spec_settings(&base, &spec);
        assert_eq!(same.registry.tls.tls_verify, Some(true));
        assert!(matches!(same.registry.credentials, CredentialSource::Anonymous));
        spec.tls_verify = Some(false);
        spec.cert_dir = Some(PathBuf::from("/certs"));
        spec.credentials = Some(hoist_helper_protocol::Credentials::new("reg.example", "u", "p".to_owned()));
        let own = spec_settings(&base, &spec);
        assert_eq!(own.registry.tls.tls_verify, Some(false));
        assert_eq!(own.registry.tls.cert_dir.as_deref(), Some(Path::new("/certs")));
        assert!(matches!(&own.registry.credentials, CredentialSource::Given(c) if c.username == "u"));
    }

    /// A registry (the fake) holding `repos` × tags 1 and 2, every manifest `digest`.
    async fn registry_of(digest: &'static str) -> crate::registry::fake::Server {
        use crate::registry::fake::{Req, Resp, Server};
        Server::start("127.0.0.1", move |_| {
            move |r: &Req| match (r.method.as_str(), r.path()) {
                ("GET", "/v2/") => Resp::new(200),
                ("GET", p) if p.ends_with("/tags/list") => Resp::new(200).json(r#"{"name":"x","tags":["1","2"]}"#),
                ("HEAD", p) if p.contains("/manifests/") => Resp::new(200)
                    .header("Docker-Content-Digest", digest)
                    .header("Content-Type", media_type::OCI_MANIFEST)
                    .body(vec![b'{'; 100]),
                _ => Resp::new(404),
            }
        })
        .await
    }

    #[tokio::test]
    async fn a_registry_is_pinged_once_for_all_its_repositories() {
        const DIGEST: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        let (src, dst) = (registry_of(DIGEST).await, registry_of(DIGEST).await);
        let mut settings = Settings::new();
        settings.registries_conf = crate::config::Paths {
            main: PathBuf::from("/nonexistent/registries.conf"),
            main_required: false,
            dropin_dirs: Vec::new(),
            alias_cache: None,
        };
        settings.registry.tls.tls_verify = Some(false);
        settings.registry.credentials = CredentialSource::Anonymous;
        let sources: Vec<SourceSpec> =
            (0..3).map(|i| source_from_name(&format!("{}/team/app{i}", src.addr)).unwrap()).collect();
        let destination = SyncDestination::Registry(dst.addr.to_string());
        let opts = SyncOptions { images_at_once: 1, ..SyncOptions::default() };
        let summary = sync(&settings, &sources, &settings, &destination, &opts).await.unwrap();
        assert_eq!((summary.up_to_date(), summary.failed()), (6, 0), "{:?}", summary.errors());
        // One ping at each side, not one per repository; every tag compared by one HEAD at each side.
        assert_eq!(src.requests_to("/v2/").len(), 1);
        assert_eq!(dst.requests_to("/v2/").len(), 1);
        let heads = |s: &crate::registry::fake::Server| s.requests().iter().filter(|r| r.method == "HEAD").count();
        assert_eq!((heads(&src), heads(&dst)), (6, 6));
    }

    #[test]
    fn only_transient_registry_errors_are_retried() {
        use crate::registry::RegistryError;
        let status = |status| {
            Error::Transport(TransportError::Registry(RegistryError::Status {
                method: "GET",
                url: "http://r/v2/".into(),
                status,
                codes: Vec::new(),
            }))
        };
        assert!(transient(&status(503)));
        assert!(transient(&status(429)));
        assert!(!transient(&status(404)));
        assert!(!transient(&Error::NotInRegistry(Box::new(r("reg.example/app:1")))));
    }
}
