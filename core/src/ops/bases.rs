//! `hoist build` as one call ([`build`]: bases provisioned, the image built and named), a build's base images
//! provisioned by the library ([`StoreBases`]: from the store when it holds them for the platform, else pulled
//! into it as [`super::pull`] does), and [`MountFrom`]: a stored image whose blobs a registry may already hold
//! in the base image's repository, so pushing a build mounts them from there.

use std::sync::Arc;

use super::{Error, Settings, resolve_source};
use crate::build::{Base, BaseError, Bases, BuildOptions, Built};
use crate::copy::{self, CopyProgress};
use crate::digest::Digest;
use crate::image::{Descriptor, ImageConfig, MAX_CONFIG_SIZE, Manifest, Platform, media_type};
use crate::observe::Observer;
use crate::reference::Reference;
use crate::store::Store;
use crate::stream::ByteStream;
use crate::transport::store::{StoreDestination, StoreSource};
use crate::transport::{ImageSource, RawManifest, RegistryRepo, TransportError};
use crate::trust::{PolicyName, Signature};

/// `hoist build`: the image `opts` describes, built in the store against bases from the store or pulled
/// into it ([`StoreBases`]; `pull`: always, podman's `--pull`), then named by every one of `names` at once.
/// Steps and warnings leave through `observer`, pull progress through `progress`. Synchronous: bases are
/// pulled on `runtime`, so call it outside that runtime's async context.
pub fn build(
    settings: &Settings,
    opts: &BuildOptions,
    names: &[Reference],
    pull: bool,
    runtime: tokio::runtime::Handle,
    progress: Arc<dyn CopyProgress>,
    observer: &dyn Observer,
) -> Result<Built, Error> {
    let store = settings.store()?;
    let mut bases = StoreBases { settings, store: store.clone(), runtime, pull, progress };
    let built = crate::build::build(&store, opts, &mut bases, observer)?;
    let descriptor = built.manifest.descriptor();
    store.tag_all(&names.iter().map(|n| (Some(n.clone()), descriptor.clone())).collect::<Vec<_>>())?;
    Ok(built)
}

/// Base images for [`crate::build::build`]: from the store when it has them for the platform (unless `pull`,
/// podman's `--pull`), else pulled into it by short name through registries.conf. `build` is synchronous:
/// pulls run on `runtime`, so call it outside that runtime's async context (or on a blocking thread). A pull
/// that fails is a [`BaseError::Unavailable`] holding the [`super::Error`] (downcast it to see which).
pub struct StoreBases<'a> {
    pub settings: &'a Settings,
    pub store: Arc<Store>,
    pub runtime: tokio::runtime::Handle,
    /// Pull even when the store has the image.
    pub pull: bool,
    pub progress: Arc<dyn CopyProgress>,
}

impl Bases for StoreBases<'_> {
    fn base(&mut self, name: &str, platform: &Platform) -> Result<Base, BaseError> {
        if !self.pull
            && let Ok(image) = self.store.find(name)
            && let Some(descriptor) = stored_for(&self.store, &image.descriptor, platform)
        {
            let shown = image.names.first().map(Reference::to_string).unwrap_or_else(|| name.to_owned());
            return Ok(Base { descriptor, name: shown });
        }
        let opts = copy::Options {
            platform: Some(platform.clone()),
            signers: Vec::new(),
            ..self.settings.copy_options(false).map_err(|e| BaseError::Unavailable(Box::new(super::Error::from(e))))?
        };
        let reference = self
            .runtime
            .block_on(async {
                let (reference, src) = resolve_source(self.settings, name).await?;
                let dst = StoreDestination::open(self.store.clone(), reference.clone())?;
                copy::copy(&src, &dst, &opts, self.progress.clone()).await?;
                Ok::<_, super::Error>(reference)
            })
            .map_err(|e| BaseError::Unavailable(Box::new(e)))?;
        let image = self.store.find(&reference.to_string())?;
        Ok(Base { descriptor: image.descriptor, name: reference.to_string() })
    }
}

/// The image manifest for `platform` that `top` (an image or an index) holds, when every blob it needs
/// is in the store.
fn stored_for(store: &Store, top: &Descriptor, platform: &Platform) -> Option<Descriptor> {
    let (_, manifest) = store.read_manifest(top).ok()?;
    let (descriptor, image) = match manifest {
        Manifest::Image(m) => (top.clone(), m),
        Manifest::Index(index) => {
            let child = index.choose(platform)?.clone();
            let (_, m) = store.read_manifest(&child).ok()?;
            (child, m.as_image()?.clone())
        }
    };
    let complete =
        image.blobs().filter(|b| !b.is_foreign()).all(|b| store.has_blob(&b.digest).ok().flatten() == Some(b.size));
    let config = store.read_blob(&image.config.digest, MAX_CONFIG_SIZE).ok()?;
    let arch_ok = ImageConfig::parse(&config).ok()?.platform().matches(platform);
    (complete && arch_ok && media_type::is_image_manifest(&descriptor.media_type)).then_some(descriptor)
}

/// A stored image whose blobs a registry may already hold in another repository (`from`, the base image's):
/// the copy engine mounts them from there instead of uploading.
pub struct MountFrom {
    pub inner: StoreSource,
    pub from: Option<RegistryRepo>,
}

impl MountFrom {
    /// The repository a build's base came from (`Built::base_name`), as a mount hint.
    pub fn base_repo(base_name: Option<&str>) -> Option<RegistryRepo> {
        let r = Reference::parse_normalized(base_name?).ok()?;
        Some(RegistryRepo { host: r.domain().to_owned(), repo: r.path().to_owned() })
    }
}

#[async_trait::async_trait]
impl ImageSource for MountFrom {
    fn name(&self) -> String {
        self.inner.name()
    }
    async fn manifest(&self) -> Result<RawManifest, TransportError> {
        self.inner.manifest().await
    }
    async fn manifest_by_digest(&self, digest: &Digest) -> Result<RawManifest, TransportError> {
        self.inner.manifest_by_digest(digest).await
    }
    async fn blob(&self, blob: &Descriptor) -> Result<ByteStream<TransportError>, TransportError> {
        self.inner.blob(blob).await
    }
    fn registry_repo(&self) -> Option<RegistryRepo> {
        self.from.clone().or_else(|| self.inner.registry_repo())
    }
    fn policy_name(&self) -> PolicyName {
        self.inner.policy_name()
    }
    async fn signatures(&self, digest: &Digest) -> Result<Vec<Signature>, TransportError> {
        self.inner.signatures(digest).await
    }
}
