//! The workflows a caller runs in one call each, with one explicit [`Settings`]: [`pull`] (a short name
//! through registries.conf, each candidate tried in turn, the errors of all kept), [`push`], [`promote`]
//! (check, then copy by digest), [`save`], [`load`], [`copy_by_name`] (any [`ImageName`] to any), and the
//! bases of a build ([`StoreBases`], pulled when missing, with the mount hint for pushing the result); the
//! store's listing, removal and tagging, remote tagging and inspection ([`images`], [`rmi`], [`exists`],
//! [`untag`], [`prune`], [`tag_local`], [`tag_remote`], [`inspect`]); [`pull_all_tags`] (`pull --all-tags`);
//! podman's views of a local image ([`image_data`], [`history`]).
//! The CLI maps its flags to [`Settings`] and calls these; it never chooses endpoints, reads registries.conf
//! or opens the store's internals.
//!
//! What it is not: the copy engine ([`crate::copy`]), the transports ([`crate::transport`]) or printing —
//! progress leaves through [`crate::copy::Progress`] and the settings' observer.

mod bases;
mod inspect;
mod listing;
mod local;
mod search;
mod settings;
pub mod sync;
mod trust;

pub use bases::{MountFrom, StoreBases, build};
pub use inspect::{HistoryEntry, ImageData, RootFs, Sizes, history, image_data};
pub use listing::{
    Filter, FilterError, FilterSpec, ImageQuery, Listed, Row, SortKey, images, list as list_images, parse_rfc3339, rows,
};
pub use local::{
    InspectPart, Inspected, Refused, Removal, delete, digest, exists, inspect, prune, rmi, tag_local, tag_remote, untag,
};
pub use search::{
    DEFAULT_LIMIT, DESCRIPTION_WIDTH, SearchError, SearchFilter, SearchOptions, SearchResult, search, split_term,
};
pub use settings::{
    BadSourceDateEpoch, CredentialSource, Prompt, PromptError, RegistryAccess, SOURCE_DATE_EPOCH, Settings,
    source_date_epoch,
};
pub use trust::{judge, sign, tag_semver_local, tag_semver_remote};

use std::sync::Arc;

use crate::archive::{ArchiveError, Format, Input};
use crate::config::{ConfigError, ResolutionKind, ResolveError, ShortNameMode};
use crate::copy::archive::{BackupError, Loaded, SaveImage, SaveOutput, saved_names};
use crate::copy::{self, CopyError, CopyProgress, Report};
use crate::digest::Digest;
use crate::image::media_type;
use crate::reference::{Reference, ReferenceError};
use crate::store::StoreError;
use crate::transport::docker_daemon;
use crate::transport::name::{DestinationOptions, ImageName, NameError};
use crate::transport::registry::{RegistrySource, reference_at_registry};
use crate::transport::store::{StoreDestination, StoreSource};
use crate::transport::{RegistryRepo, TransportError};

/// Why an operation failed; one line (a list for [`Error::NoCandidate`]), naming the image.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error(transparent)]
    Name(#[from] NameError),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error(transparent)]
    Copy(#[from] CopyError),
    #[error(transparent)]
    Backup(#[from] BackupError),
    /// A filter or sort key `images` cannot use.
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// A refusal of [`images`], [`rmi`], [`tag_local`], [`tag_remote`] or [`inspect`].
    #[error(transparent)]
    Refused(#[from] Refused),
    /// The trust policy could not be read (an image it refuses is a [`CopyError`]).
    #[error(transparent)]
    Trust(#[from] crate::trust::TrustError),
    /// Moving version tags on a registry failed (`tag --semver --remote`).
    #[error(transparent)]
    Release(#[from] crate::release::ReleaseError),
    /// A build failed (`hoist build`).
    #[error(transparent)]
    Build(#[from] crate::build::BuildError),
    /// `pull --all-tags` of a name with a tag or digest.
    #[error("{name}: --all-tags pulls every tag of a repository; name the repository without a tag or digest")]
    AllTagsOfNamed { name: String },
    /// `pull` of a transport name it does not pull from (an archive: `load` reads those).
    #[error("{name}: pull takes registry names and docker-daemon: names; load reads archives")]
    PullTransport { name: String },
    /// `DestinationOptions::compress_layers` (`--dest-compress`) for a destination other than `dir:`.
    #[error("--dest-compress applies to a dir: destination only")]
    CompressNotDir,
    /// A registry's tag list with an entry that is not a tag.
    #[error("{repository}: the registry lists {tag:?} as a tag, which is not a valid tag")]
    ListedNotATag { repository: String, tag: String },
    /// A short name with several candidates in enforcing mode, and nobody to ask.
    #[error(
        "short-name {name:?} resolves to several images and short-name-mode is enforcing, but there is no terminal \
         to ask which; use one of:\n{}",
        candidates.iter().map(|c| format!("  {c}")).collect::<Vec<_>>().join("\n")
    )]
    Ambiguous { name: String, candidates: Vec<Reference> },
    /// The prompt chose none of the candidates.
    #[error(transparent)]
    NotChosen(#[from] PromptError),
    /// The one candidate of a name could not be pulled.
    #[error("pulling {candidate}: {error}")]
    PullFailed { candidate: Box<Reference>, error: Box<Error> },
    /// No candidate of a short name could be pulled: each one's error.
    #[error(
        "pulling {name}: no candidate could be pulled:\n  {}",
        failures.iter().map(|(c, e)| format!("{c}: {e}")).collect::<Vec<_>>().join("\n  ")
    )]
    NoCandidate { name: String, failures: Vec<(Reference, Error)> },
    #[error("{0}: no such image in the registry")]
    NotInRegistry(Box<Reference>),
    /// `promote --expect-digest` and the source moved.
    #[error("{image} now names {now}, not the expected {expected}: it changed since; nothing was promoted")]
    Changed { image: Box<Reference>, now: Box<Digest>, expected: Box<Digest> },
    #[error("{0}: the destination must be a tag")]
    NotATag(Box<Reference>),
    #[error("{0} has no name to push to: give a destination")]
    NoName(String),
    /// An archive or directory named with one transport holds another format.
    #[error("{}: is a {found}, not a {expected}", path.display())]
    WrongFormat { path: std::path::PathBuf, found: Format, expected: Format },
    /// A blocking task that did not finish (it panicked or the runtime stopped): which one.
    #[error("{task}: {source}")]
    Task {
        task: &'static str,
        #[source]
        source: tokio::task::JoinError,
    },
}

/// The registry source a name means, as `podman pull` resolves it: a fully qualified name or an alias is one
/// candidate; a short name is tried against each search registry in order (in enforcing mode an ambiguous
/// name goes to [`Settings::prompt`] and is refused without one). Each candidate's endpoints are its mirrors,
/// then its primary; a blocked registry is never contacted. Returns the candidate (what the image is stored
/// as) and the source; when every candidate fails, each one's error.
pub async fn resolve_source(settings: &Settings, name: &str) -> Result<(Reference, RegistrySource), Error> {
    let name = name.strip_prefix("docker://").unwrap_or(name);
    let resolution = settings.config()?.resolve(name)?;
    let mut candidates: Vec<Reference> = resolution.candidates.iter().map(|c| c.reference.clone()).collect();
    if resolution.kind == ResolutionKind::Search
        && candidates.len() > 1
        && resolution.short_name_mode != ShortNameMode::Disabled
    {
        match &settings.prompt {
            Some(prompt) => candidates = vec![prompt.choose(name, &candidates)?],
            None if resolution.short_name_mode == ShortNameMode::Enforcing => {
                return Err(Error::Ambiguous { name: name.to_owned(), candidates });
            }
            None => {}
        }
    }
    let mut failures = Vec::new();
    for candidate in &candidates {
        settings.observer.progress(&format!("Trying to pull {candidate}..."));
        match settings.registry_source(candidate).await {
            Ok(src) => return Ok((candidate.clone(), src)),
            Err(e) if candidates.len() == 1 => {
                return Err(Error::PullFailed { candidate: Box::new(candidate.clone()), error: Box::new(e) });
            }
            Err(e) => failures.push((candidate.clone(), e)),
        }
    }
    Err(Error::NoCandidate { name: name.to_owned(), failures })
}

/// What [`pull`] stored.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The name it is stored under (the candidate that served it).
    pub reference: Reference,
    /// podman's image ID.
    pub id: Digest,
    pub report: Report,
}

/// `podman pull NAME`: the image (the settings' platform, or every one with `all`) into the local store under
/// the candidate that served it.
pub async fn pull(
    settings: &Settings,
    name: &str,
    all: bool,
    progress: Arc<dyn CopyProgress>,
) -> Result<Pulled, Error> {
    settings.config()?;
    let opts = settings.copy_options(all)?;
    let store = settings.store()?;
    let (reference, src) = resolve_source(settings, name).await?;
    let dst = StoreDestination::open(store.clone(), reference.clone())?;
    let report = copy::copy(&src, &dst, &opts, progress).await?;
    let image = store.find(&reference.to_string())?;
    let id = store.image_id(&image)?;
    Ok(Pulled { reference, id, report })
}

/// `podman pull docker-daemon:NAME[:TAG]` (and any transport name but `docker://`, which [`pull`] takes with
/// its short-name rules): the image copied into the store under the name it has there (`docker-daemon:app:1`
/// is stored as `docker.io/library/app:1`, as podman names it).
pub async fn pull_transport(
    settings: &Settings,
    name: &ImageName,
    all: bool,
    progress: Arc<dyn CopyProgress>,
) -> Result<Pulled, Error> {
    let reference = match name {
        ImageName::Daemon { reference, .. } => reference.clone(),
        ImageName::Registry(r) => return pull(settings, &r.to_string(), all, progress).await,
        other => return Err(Error::PullTransport { name: other.to_string() }),
    };
    settings.config()?;
    let opts = settings.copy_options(all)?;
    // The engine's image is read once, its layers written into the store as they pass: judged first.
    copy::check_unsigned(&docker_daemon::policy_name(&reference), &format!("docker-daemon:{reference}"), &opts)?;
    let src = name.open_source_into(settings, Some(settings.store_opener())).await?;
    let store = settings.store()?;
    let dst = StoreDestination::open(store.clone(), reference.clone())?;
    let opts = copy::Options { jobs: jobs_from(name, opts.jobs), ..opts };
    let report = copy::copy(src.as_ref(), &dst, &opts, progress).await?;
    let image = store.find(&reference.to_string())?;
    let id = store.image_id(&image)?;
    Ok(Pulled { reference, id, report })
}

/// `podman pull NAME` as the command takes each name: the name decides the path — with `all_tags`, every tag
/// of the repository ([`pull_all_tags`]); `docker-daemon:NAME[:TAG]` from the Docker engine at `daemon_host`
/// (else `DOCKER_HOST`; [`pull_transport`]); any other name from its registry, short names resolved ([`pull`]).
pub async fn pull_named(
    settings: &Settings,
    name: &str,
    daemon_host: Option<&str>,
    all: bool,
    all_tags: bool,
    progress: Arc<dyn CopyProgress>,
) -> Result<Vec<Pulled>, Error> {
    if all_tags {
        return pull_all_tags(settings, name, all, progress).await;
    }
    if name.starts_with("docker-daemon:") {
        let name = ImageName::parse(name)?.with_daemon_host(daemon_host);
        return Ok(vec![pull_transport(settings, &name, all, progress).await?]);
    }
    Ok(vec![pull(settings, name, all, progress).await?])
}

/// `podman push IMAGE [DESTINATION]` as the command takes it: the destination's name decides the path —
/// `docker-daemon:NAME[:TAG]` loads the image into the Docker engine at `daemon_host` (else `DOCKER_HOST`), one
/// blob at a time (the engine's load is one stream); `[docker://]REGISTRY/REPO[:TAG]` (`:latest` by default),
/// or none (the stored name the user meant), pushes to a registry as [`push`] does.
pub async fn push_to(
    settings: &Settings,
    image: &str,
    destination: Option<&str>,
    daemon_host: Option<&str>,
    progress: Arc<dyn CopyProgress>,
) -> Result<Report, Error> {
    let Some(daemon) = destination.filter(|d| d.starts_with("docker-daemon:")) else {
        let destination = destination
            .map(|d| {
                Reference::parse_normalized(d.strip_prefix("docker://").unwrap_or(d)).map(|r| r.with_default_tag())
            })
            .transpose()?;
        return Ok(push(settings, image, destination.as_ref(), None, progress).await?.1);
    };
    let destination = ImageName::parse(daemon)?.with_daemon_host(daemon_host);
    settings.config()?;
    let mut opts = settings.copy_options(false)?;
    let src = StoreSource::open(settings.store()?, image)?;
    copy::check(&src, &opts).await?;
    let dst = destination.open_destination(settings, &DestinationOptions::default()).await?;
    if destination.is_stream() {
        opts.jobs = 1;
    }
    Ok(copy::copy(&src, dst.as_ref(), &opts, progress).await?)
}

/// `podman pull --all-tags REPOSITORY`: every tag the registry lists for `repository` (`docker://` optional),
/// in the order it lists them, each pulled as [`pull`] does (the first failure stops it). A name without a
/// registry is on docker.io, as podman reads it with `--all-tags` (no short-name resolution). A name with a
/// tag or digest is refused, as docker refuses it (podman 4.3 drops the tag and pulls every tag).
pub async fn pull_all_tags(
    settings: &Settings,
    repository: &str,
    all: bool,
    progress: Arc<dyn CopyProgress>,
) -> Result<Vec<Pulled>, Error> {
    let given = repository.strip_prefix("docker://").unwrap_or(repository);
    let r = Reference::parse_normalized(given)?;
    if r.tag().is_some() || r.digest().is_some() {
        return Err(Error::AllTagsOfNamed { name: repository.to_owned() });
    }
    settings.config()?;
    let mut pulled = Vec::new();
    for tag in settings.list_tags(&r, None).await? {
        let name = listed_tag(&r, tag)?;
        pulled.push(pull(settings, &name.to_string(), all, progress.clone()).await?);
    }
    Ok(pulled)
}

/// `repository:tag` for a tag a registry listed. The list is the server's word: an entry that is not a tag
/// (`x@sha256:...`, `../x`) names nothing to pull and is refused.
fn listed_tag(repository: &Reference, tag: String) -> Result<Reference, Error> {
    match Reference::parse_normalized(&format!("{}:{tag}", repository.name())) {
        Ok(t) if t.tag() == Some(tag.as_str()) && t.digest().is_none() && t.name() == repository.name() => Ok(t),
        _ => Err(Error::ListedNotATag { repository: repository.name(), tag }),
    }
}

/// `podman push IMAGE [DESTINATION]`: a stored image (by name, short name or ID) to `destination`, else to the
/// stored name the user meant; every platform. With `mount_from`, blobs the registry may hold in that
/// repository (a build's base) are mounted from there instead of uploaded.
pub async fn push(
    settings: &Settings,
    image: &str,
    destination: Option<&Reference>,
    mount_from: Option<RegistryRepo>,
    progress: Arc<dyn CopyProgress>,
) -> Result<(Reference, Report), Error> {
    settings.config()?;
    let opts = settings.copy_options(true)?;
    let src = StoreSource::open(settings.store()?, image)?;
    let destination = match destination {
        Some(d) => d.clone(),
        None => name_given(image, &src.image().names).cloned().ok_or_else(|| Error::NoName(image.to_owned()))?,
    };
    let src = MountFrom { inner: src, from: mount_from };
    let dst = settings.registry_destination(&destination).await?;
    let report = copy::copy(&src, &dst, &opts, progress).await?;
    Ok((destination, report))
}

/// The stored name the user meant by `given`: the name itself (normalised, `:latest` by default), or the one
/// whose short form it is (`app:1` for `quay.io/org/app:1`); for an ID, the image's first name.
pub fn name_given<'a>(given: &str, names: &'a [Reference]) -> Option<&'a Reference> {
    let normalized = Reference::parse_normalized(given).ok().map(|r| r.with_default_tag().to_string());
    names
        .iter()
        .find(|n| Some(n.to_string()) == normalized)
        .or_else(|| {
            names.iter().find(|n| n.familiar_string() == given || n.to_string().ends_with(&format!("/{given}")))
        })
        .or_else(|| names.first())
}

/// What [`promote`] did.
#[derive(Debug, Clone)]
pub struct Promoted {
    /// The manifest digest the source named (what `expected` was checked against).
    pub digest: Digest,
    /// The manifest digest the destination names now: `digest`, unless the copy converted the manifest
    /// (`--format`) or recompressed layers (`--compression-format`).
    pub destination: Digest,
    /// What the destination named before (`None`: a new tag).
    pub before: Option<Digest>,
    pub report: Report,
}

/// Points the tag `dst` at the manifest `src` names now, by digest (within a registry blobs are skipped or
/// mounted, to another they are copied); with `expected`, refused when `src` no longer names that digest.
/// The settings' `format` and `compression` convert on the way, as a push's do (the source is still checked
/// by its own digest; the destination gets the converted manifest's).
pub async fn promote(
    settings: &Settings,
    src: &Reference,
    dst: &Reference,
    expected: Option<&Digest>,
    progress: Arc<dyn CopyProgress>,
) -> Result<Promoted, Error> {
    if dst.digest().is_some() {
        return Err(Error::NotATag(Box::new(dst.clone())));
    }
    let opts = settings.copy_options(true)?;
    let src_client = settings.registry_client(src).await?;
    let head = src_client.head_manifest(src.path(), &reference_at_registry(src), media_type::MANIFEST_ACCEPT).await;
    let Some(head) = head.map_err(TransportError::from)? else {
        return Err(Error::NotInRegistry(Box::new(src.clone())));
    };
    if let Some(e) = expected.filter(|e| **e != head.digest) {
        return Err(Error::Changed {
            image: Box::new(src.clone()),
            now: Box::new(head.digest),
            expected: Box::new(e.clone()),
        });
    }
    let dst_client = settings.registry_client(dst).await?;
    let before = dst_client
        .head_manifest(dst.path(), &reference_at_registry(dst), media_type::MANIFEST_ACCEPT)
        .await
        .map_err(TransportError::from)?
        .map(|h| h.digest);
    // By digest: what is promoted is what was checked, whatever SRC's tag does meanwhile.
    let by_digest = Reference::parse_normalized(&format!("{}@{}", src.name(), head.digest))?;
    let source = settings.registry_source(&by_digest).await?;
    let destination = settings.registry_destination(dst).await?;
    let report = copy::copy(&source, &destination, &opts, progress).await?;
    Ok(Promoted { digest: head.digest, destination: report.manifest.digest.clone(), before, report })
}

/// `podman save`: `images` (from [`save_images`]) as `format` into `target`; `compress` gzips uncompressed
/// layers into a docker-dir. Several images only into a docker-archive or oci-archive. Each image passes the
/// trust policy; signatures stay behind (podman's save removes them: archives cannot keep them).
pub async fn save(
    settings: &Settings,
    images: Vec<SaveImage>,
    format: Format,
    target: SaveOutput,
    compress: bool,
    progress: Arc<dyn CopyProgress>,
) -> Result<(), Error> {
    let opts = copy::Options { remove_signatures: true, signers: Vec::new(), ..settings.copy_options(false)? };
    Ok(copy::archive::save(format, images, target, compress, &opts, progress).await?)
}

/// The stored images `inputs` name (names, short names, IDs), each once with every name it was given by (one
/// image named twice is saved once with both names).
pub fn save_images(settings: &Settings, inputs: &[String]) -> Result<Vec<SaveImage>, Error> {
    let store = settings.store()?;
    let mut images: Vec<SaveImage> = Vec::new();
    for input in inputs {
        let source = StoreSource::open(store.clone(), input)?;
        let names = saved_names(input, source.image());
        match images.iter_mut().find(|i| i.source.image().descriptor.digest == source.image().descriptor.digest) {
            Some(same) => {
                for n in names {
                    if !same.names.contains(&n) {
                        same.names.push(n);
                    }
                }
            }
            None => images.push(SaveImage { source, names }),
        }
    }
    Ok(images)
}

/// `podman load`: every image of the archive or directory `input` into the local store, all or nothing.
pub async fn load(settings: &Settings, input: Input, progress: Arc<dyn CopyProgress>) -> Result<Vec<Loaded>, Error> {
    let opts = settings.copy_options(false)?;
    let store = settings.store()?;
    let spool = store.temp_dir();
    let opened = tokio::task::spawn_blocking(move || crate::archive::open(input, &spool))
        .await
        .map_err(|source| Error::Task { task: "opening the archive", source })??;
    Ok(copy::archive::load(store, &opened, &opts, progress).await?)
}

/// `skopeo copy SRC DST`: the image one name means to the place another names (the settings' platform, or
/// every one with `all`), through the one copy engine. Into a tar one blob at a time, so its entries follow
/// the manifest's order (the same archive every time).
pub async fn copy_by_name(
    source: &ImageName,
    source_settings: &Settings,
    destination: &ImageName,
    destination_settings: &Settings,
    destination_options: &DestinationOptions,
    all: bool,
    progress: Arc<dyn CopyProgress>,
) -> Result<Report, Error> {
    if destination_options.compress_layers
        && !matches!(destination, ImageName::Archive { format: Format::DockerDir, .. })
    {
        return Err(Error::CompressNotDir);
    }
    // The source's side says which policy applies; the destination's, how to sign and what to write (the
    // manifest format, the layers' compression).
    let mut opts = copy::Options {
        signers: destination_settings.signers.clone(),
        sign_identity: destination_settings.sign_identity.clone(),
        remove_signatures: destination_settings.remove_signatures,
        format: destination_settings.format,
        compression: destination_settings.compression,
        ..source_settings.copy_options(all)?
    };
    // Into the store, a Docker engine's image is read once, its layers written there as they pass.
    let into = match destination {
        ImageName::Store(_) => Some(destination_settings.store_opener()),
        _ => None,
    };
    if let (ImageName::Daemon { reference, .. }, Some(_)) = (source, &into) {
        // Judged before that reading writes anything.
        copy::check_unsigned(&docker_daemon::policy_name(reference), &format!("docker-daemon:{reference}"), &opts)?;
    }
    let src = source.open_source_into(source_settings, into).await?;
    if matches!(destination, ImageName::Archive { format: Format::OciDir | Format::DockerDir, .. }) {
        // A directory is made when it is opened: judge the source first, so a refusal leaves no trace there.
        copy::check(src.as_ref(), &opts).await?;
    }
    let dst = destination.open_destination(destination_settings, destination_options).await?;
    if destination.is_stream() {
        opts.jobs = 1;
    } else {
        opts.jobs = jobs_from(source, opts.jobs);
    }
    Ok(copy::copy(src.as_ref(), dst.as_ref(), &opts, progress).await?)
}

/// How many blobs move at once out of `source`: a Docker engine's layers all at once (they wait for their
/// entry of one reading of the engine's tar, which comes in the engine's order, not the manifest's: asked for
/// a few at a time, the rest would each cost another reading), else `jobs`.
fn jobs_from(source: &ImageName, jobs: usize) -> usize {
    match source {
        ImageName::Daemon { .. } => jobs.max(crate::transport::docker_daemon::LAYERS_AT_ONCE),
        _ => jobs,
    }
}

#[cfg(test)]
mod tests;
