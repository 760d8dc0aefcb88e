//! The store's own commands and the ones that only read or re-point manifests, one call each:
//! [`rmi`] (remove by name or ID, every target tried), [`exists`], [`untag`] and [`prune`] (podman's verbs
//! of those names), [`tag_local`]
//! (more names for a stored image), [`tag_remote`] (more tags on a registry, by digest, blobs mounted into
//! another repository) and [`inspect`] (an image's facts, its raw manifest or its config, from the store or a
//! registry, the platform's image chosen from an index).
//!
//! What it is not: printing or the shapes the CLI prints (tables, JSON); pulls and copies ([`super::pull`],
//! [`super::copy_by_name`]).

use std::sync::Arc;

use futures_util::TryStreamExt;

use super::{Error, Settings};
use crate::catalog::{self, Inspection};
use crate::copy::{self, NoProgress};
use crate::digest::Digest;
use crate::image::{MAX_CONFIG_SIZE, Manifest, Platform, media_type};
use crate::reference::Reference;
use crate::store::{Pruned, Removed, StoreError};
use crate::transport::registry::reference_at_registry;
use crate::transport::store::StoreSource;
use crate::transport::{ImageSource, RawManifest, TransportError};

/// What an operation of this module refuses, naming the image, name or limit.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// A new tag that names a digest (`NAME@sha256:...`).
    #[error("{name}: a tag name cannot hold a digest")]
    TagHoldsDigest { name: String },
    /// `tag --remote` to another registry than the source's.
    #[error("{name}: tag --remote stays on {registry}; to copy to another registry use hoist promote or hoist copy")]
    OtherRegistry { name: Box<Reference>, registry: String },
    /// An index without an image for the platform asked for (the host's when none was).
    #[error("{image}: no image for platform {platform} in the index")]
    NoPlatform { image: String, platform: Box<Platform> },
    /// A child of an index that is not an image manifest.
    #[error("{image}: expected an image manifest")]
    NotAnImage { image: String },
    /// A config larger than hoist reads.
    #[error("config {digest} is larger than the {MAX_CONFIG_SIZE}-byte limit")]
    ConfigTooLarge { digest: Box<Digest>, size: u64 },
}

/// A manifest or config that does not parse, as the transports report it.
pub(super) fn image_error(e: crate::image::ImageError) -> Error {
    TransportError::from(e).into()
}

/// What [`rmi`] did for one of the images it was given.
#[derive(Debug)]
pub struct Removal {
    /// As given (a name, short name or ID; an ID for `all`).
    pub target: String,
    pub outcome: Result<Removed, StoreError>,
}

impl Removal {
    /// True when the target names no image in the store (podman's `image not known`, which its `rmi` exits
    /// 1 for rather than 125).
    pub fn not_known(&self) -> bool {
        matches!(self.outcome, Err(StoreError::NotFound(_)))
    }
}

/// Removes `targets` (or, with `all`, every image, by ID) from the store, each on its own: one that fails
/// does not stop the others. An image with several names goes by ID only with `force` (implied by `all`).
/// With `force`, a target that names no image is no error (podman's `rmi -f`): its removal removed nothing.
pub fn rmi(settings: &Settings, targets: &[String], all: bool, force: bool) -> Result<Vec<Removal>, Error> {
    let store = settings.store()?;
    let targets: Vec<String> =
        if all { store.image_ids()?.iter().map(|id| id.hex().to_owned()).collect() } else { targets.to_vec() };
    let force = force || all;
    // Every target is looked up before any is removed (as podman): two names of one image delete it once.
    let outcomes = store.remove_each(&targets, force);
    Ok(targets
        .into_iter()
        .zip(outcomes)
        .map(|(target, outcome)| Removal { outcome, target })
        .map(|r| if force && r.not_known() { Removal { outcome: Ok(Removed::default()), ..r } } else { r })
        .collect())
}

/// Gives the stored image `image` (a name, short name or ID) the names `names` (podman's local names: a name
/// without a registry goes under `localhost/`, see [`Reference::parse_local`]; `:latest` when left out);
/// nothing is named when one of them is refused. Returns the names given.
pub fn tag_local(settings: &Settings, image: &str, names: &[String]) -> Result<Vec<Reference>, Error> {
    let store = settings.store()?;
    let found = store.find(image)?;
    let mut refs = Vec::new();
    for n in names {
        let r = Reference::parse_local(n)?;
        if r.digest().is_some() {
            return Err(Refused::TagHoldsDigest { name: n.clone() }.into());
        }
        refs.push(r.with_default_tag());
    }
    let tags: Vec<_> = refs.iter().map(|name| (Some(name.clone()), found.descriptor.clone())).collect();
    store.tag_all(&tags)?;
    Ok(refs)
}

/// podman's `image exists`: whether the store has the image `name` names (a name, short name or ID, as
/// [`crate::store::Store::find`]). An image not there is `false`; a name that does not parse, an ambiguous
/// one or a store that cannot be read is an error.
pub fn exists(settings: &Settings, name: &str) -> Result<bool, Error> {
    match settings.store()?.find(name) {
        Ok(_) => Ok(true),
        Err(StoreError::NotFound(_)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// podman's `untag IMAGE [NAME...]`: takes `names` (podman's local names, [`Reference::parse_local`]:
/// `app` is `localhost/app:latest`) off the stored image `image`, or every name when `names` is empty. All
/// or nothing: a name the image does not have is refused before any goes. The image stays, as `<none>` when
/// no name is left. Returns the names taken off.
pub fn untag(settings: &Settings, image: &str, names: &[String]) -> Result<Vec<Reference>, Error> {
    let store = settings.store()?;
    if names.is_empty() {
        return Ok(store.untag_image(image, None)?);
    }
    let refs = names.iter().map(|n| Reference::parse_local(n)).collect::<Result<Vec<_>, _>>()?;
    Ok(store.untag_image(image, Some(&refs))?)
}

/// podman's `image prune`: removes the images without a name (dangling), or with `all` every image (hoist
/// has no containers, so none is in use), then the blobs nothing references. Returns the IDs removed.
pub fn prune(settings: &Settings, all: bool) -> Result<Pruned, Error> {
    Ok(settings.store()?.prune(all)?)
}

/// `source`'s manifest, by digest, under each of `names` on the same registry, without pulling: a bare
/// `NAME` is a tag in the source's repository; another repository gets the manifest with its blobs mounted
/// (copied by the copy engine). Returns the digest and the names written.
pub async fn tag_remote(
    settings: &Settings,
    source: &Reference,
    names: &[String],
) -> Result<(Digest, Vec<Reference>), Error> {
    let mut targets = Vec::new();
    for n in names {
        let n = n.strip_prefix("docker://").unwrap_or(n);
        let r = if !n.contains(['/', ':', '@']) {
            Reference::parse_normalized(&format!("{}:{n}", source.name()))?
        } else {
            Reference::parse_normalized(n)?.with_default_tag()
        };
        if r.digest().is_some() {
            return Err(Refused::TagHoldsDigest { name: n.to_owned() }.into());
        }
        if r.domain() != source.domain() {
            return Err(Refused::OtherRegistry { name: Box::new(r), registry: source.domain().to_owned() }.into());
        }
        targets.push(r);
    }
    let opts = settings.copy_options(true)?;
    let client = settings.registry_client(source).await?;
    let m = client
        .get_manifest(source.path(), &reference_at_registry(source), media_type::MANIFEST_ACCEPT)
        .await
        .map_err(TransportError::from)?;
    let by_digest = Reference::parse_normalized(&format!("{}@{}", source.name(), m.digest))?;
    // The trust policy judges what is tagged before any tag moves, whichever way it is written.
    copy::check(&settings.registry_source(&by_digest).await?, &opts).await?;
    for t in &targets {
        if t.path() == source.path() {
            client
                .put_manifest(t.path(), t.tag().unwrap_or("latest"), &m.raw, &m.media_type)
                .await
                .map_err(TransportError::from)?;
            continue;
        }
        // Another repository of the same registry: its blobs are mounted by the copy engine.
        let src = settings.registry_source(&by_digest).await?;
        let dst = settings.registry_destination(t).await?;
        copy::copy(&src, &dst, &opts, Arc::new(NoProgress)).await?;
    }
    Ok((m.digest, targets))
}

/// What [`inspect`] is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InspectPart {
    /// The top manifest exactly as stored or served (an index stays an index).
    Raw,
    /// The config blob of the platform's image.
    Config,
    /// The facts in skopeo's shape; `tags`: list the repository's tags (a registry's; the store's names).
    Facts { tags: bool },
}

/// What [`inspect`] found.
#[derive(Debug, Clone)]
pub enum Inspected {
    Raw(Vec<u8>),
    Config(Vec<u8>),
    Facts(Box<Inspection>),
}

/// An image's `part`: `docker://NAME` from its registry, anything else from the store (a name or ID). From an
/// index, the image for `platform` (the host's when `None`).
pub async fn inspect(
    settings: &Settings,
    name: &str,
    platform: Option<Platform>,
    part: InspectPart,
) -> Result<Inspected, Error> {
    if let Some(rest) = name.strip_prefix("docker://") {
        let reference = Reference::parse_normalized(rest)?.with_default_tag();
        let src = settings.registry_source(&reference).await?;
        let (s, top) = match facts_of(&src, platform, part).await? {
            Ok(found) => found,
            Err(done) => return Ok(done),
        };
        let tags = match part {
            InspectPart::Facts { tags: true } => src.tags().await?,
            _ => Vec::new(),
        };
        let mut s = s;
        s.digest = top;
        Ok(Inspected::Facts(Box::new(s.inspection(reference.name(), tags))))
    } else {
        let src = StoreSource::open(settings.store()?, name)?;
        let (mut s, top) = match facts_of(&src, platform, part).await? {
            Ok(found) => found,
            Err(done) => return Ok(done),
        };
        let names = &src.image().names;
        let repo = names.first().map(|n| n.name()).unwrap_or_default();
        let tags = names.iter().filter(|n| n.name() == repo).filter_map(|n| n.tag().map(str::to_owned)).collect();
        s.digest = top;
        Ok(Inspected::Facts(Box::new(s.inspection(repo, tags))))
    }
}

/// The raw manifest or config when that is the part asked for (`Err`), else the image's summary and the
/// top manifest's digest.
async fn facts_of(
    src: &dyn ImageSource,
    platform: Option<Platform>,
    part: InspectPart,
) -> Result<Result<(catalog::Summary, Digest), Inspected>, Error> {
    let top = src.manifest().await?;
    if part == InspectPart::Raw {
        return Ok(Err(Inspected::Raw(top.raw)));
    }
    let m = image_manifest(src, &top, platform).await?;
    let config = config_of(src, &m).await?;
    if part == InspectPart::Config {
        return Ok(Err(Inspected::Config(config)));
    }
    let s = catalog::summarize(&m, &config).map_err(image_error)?;
    Ok(Ok((s, top.digest)))
}

/// The manifest of the image to describe: `top`, or the platform's child of an index.
pub(super) async fn image_manifest(
    src: &dyn ImageSource,
    top: &RawManifest,
    platform: Option<Platform>,
) -> Result<RawManifest, Error> {
    match Manifest::parse(&top.raw, Some(&top.media_type)).map_err(image_error)? {
        Manifest::Image(_) => Ok(top.clone()),
        Manifest::Index(index) => {
            let want = platform.unwrap_or_else(Platform::host);
            let Some(chosen) = index.choose(&want) else {
                return Err(Refused::NoPlatform { image: src.name(), platform: Box::new(want) }.into());
            };
            Ok(src.manifest_by_digest(&chosen.digest).await?)
        }
    }
}

/// The config blob of the image manifest `manifest`, at most [`MAX_CONFIG_SIZE`] bytes.
pub(super) async fn config_of(src: &dyn ImageSource, manifest: &RawManifest) -> Result<Vec<u8>, Error> {
    let Manifest::Image(m) = Manifest::parse(&manifest.raw, Some(&manifest.media_type)).map_err(image_error)? else {
        return Err(Refused::NotAnImage { image: src.name() }.into());
    };
    if m.config.size > MAX_CONFIG_SIZE as u64 {
        return Err(Refused::ConfigTooLarge { digest: Box::new(m.config.digest), size: m.config.size }.into());
    }
    let chunks: Vec<bytes::Bytes> = src.blob(&m.config).await?.try_collect().await?;
    Ok(chunks.concat())
}

/// `hoist digest IMAGE`: the digest of the manifest `image` names: with `docker://`, on its registry (asked
/// with HEAD, checked against the body when the registry does not say); else the stored image's (a name, a
/// short name or an ID).
pub async fn digest(settings: &Settings, image: &str) -> Result<Digest, Error> {
    match image.strip_prefix("docker://") {
        Some(name) => {
            let reference = Reference::parse_normalized(name)?.with_default_tag();
            Ok(settings.registry_source(&reference).await?.manifest().await?.digest)
        }
        None => Ok(settings.store()?.find(image)?.descriptor.digest),
    }
}

/// `hoist delete docker://...`, as `skopeo delete`: the manifest `reference` names deleted from its registry (a
/// tag resolved to its digest first; every tag on that manifest goes with it), then that digest's simple
/// signatures in the lookaside's writing location (`signature-1`, ... up to the first missing one), as
/// containers/image deletes them. A lookaside hoist cannot write (`http(s)://` without `lookaside-staging`)
/// keeps them, with a warning. Returns the digest deleted and how many signatures went.
pub async fn delete(settings: &Settings, reference: &Reference) -> Result<(Digest, usize), Error> {
    // registries.d is read first: a broken one refuses before anything is deleted.
    let storage = settings.signature_storage(reference)?;
    let digest = settings.registry_destination(reference).await?.delete().await?;
    let (base, d) = (storage.location.write.clone(), digest.clone());
    let removed = tokio::task::spawn_blocking(move || crate::trust::storage::lookaside::remove(&base, &d))
        .await
        .map_err(|source| TransportError::TaskFailed { task: "removing signatures", source })?;
    match removed {
        Ok(n) => Ok((digest, n)),
        Err(e) => {
            settings.observer.warning(&format!("{reference} ({digest}) deleted; its signatures are kept: {e}"));
            Ok((digest, 0))
        }
    }
}
