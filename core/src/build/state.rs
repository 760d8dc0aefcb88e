//! An image's state while it is built: what a stage starts from (`scratch`, or an image of the store with
//! its filesystem indexed), and how the last one is written back (config, then manifest, with podman's base
//! annotations); and the clock every timestamp of a build comes from.
//!
//! What it is not: what instructions do (`stage`, `copy`), or fetching base images (the caller's `Bases`).

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::config::{Config, ContainerConfig, Field, RootFs};
use super::tree::Tree;
use super::{Base, BuildError, BuildFormat};
use crate::digest::Digest;
use crate::image::convert::{self, ManifestFormat};
use crate::image::{Descriptor, ImageManifest, MAX_CONFIG_SIZE, Manifest, Platform, media_type};
use crate::observe::Observer;
use crate::store::Store;
use crate::transport::RawManifest;

/// The annotations podman puts on a built image's manifest.
pub const ANNOTATION_BASE_NAME: &str = "org.opencontainers.image.base.name";
pub const ANNOTATION_BASE_DIGEST: &str = "org.opencontainers.image.base.digest";

/// The most bytes all the stages of a build may keep in their configs together (each stage's is at most
/// [`MAX_CONFIG_SIZE`]): 64 MiB, so a long chain of stages cannot hold a copy of an 8 MiB config each.
pub const MAX_CONFIGS_KEPT: usize = 64 << 20;

/// The times a build writes.
#[derive(Debug, Clone)]
pub(super) struct Clock {
    /// Seconds for created directories (and, when `fixed`, every mtime).
    pub secs: u64,
    /// RFC 3339, for `created` fields.
    pub created: String,
    fixed: bool,
}

impl Clock {
    pub fn new(timestamp: Option<i64>) -> Clock {
        match timestamp {
            Some(t) => Clock { secs: t.max(0) as u64, created: rfc3339(t, 0), fixed: true },
            None => {
                let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
                Clock { secs: now.as_secs(), created: rfc3339(now.as_secs() as i64, now.subsec_nanos()), fixed: false }
            }
        }
    }

    /// The mtime of something copied whose own mtime is `own`.
    pub fn mtime(&self, own: u64) -> u64 {
        if self.fixed { self.secs } else { own }
    }
}

/// `secs` (and `nanos`) as RFC 3339 UTC, as Go writes times (`2024-01-02T03:04:05.123456789Z`).
pub(super) fn rfc3339(secs: i64, nanos: u32) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = crate::store::civil_from_days(days);
    let frac = if nanos == 0 { String::new() } else { format!(".{nanos:09}").trim_end_matches('0').to_owned() };
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{frac}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// An image's state: what a stage starts from and what it ends as.
#[derive(Clone)]
pub(super) struct ImageState {
    pub config: Config,
    pub layers: Vec<Descriptor>,
    pub tree: Tree,
    /// The image the chain started from: (name, manifest digest), for the base annotations.
    pub base: Option<(String, Digest)>,
    /// About how many bytes `config` takes as JSON: the base's, plus what each instruction added.
    pub config_len: usize,
}

/// `FROM scratch`: no layers, a config with the platform and `WorkingDir` `/` (BuildKit's empty image; podman
/// sets none); the default `PATH` comes later, as for any base without one.
pub(super) fn scratch(platform: &Platform) -> ImageState {
    let config = Config {
        architecture: Field::Set(platform.architecture.clone()),
        os: Field::Set(platform.os.clone()),
        variant: platform.variant.clone().map_or(Field::Absent, Field::Set),
        config: Field::Set(ContainerConfig { working_dir: Field::Set("/".to_owned()), ..ContainerConfig::default() }),
        rootfs: Field::Set(RootFs {
            kind: Field::Set("layers".to_owned()),
            diff_ids: Field::Set(Vec::new()),
            ..RootFs::default()
        }),
        history: Field::Set(Vec::new()),
        ..Config::default()
    };
    let config_len = config.to_bytes().len();
    ImageState { config, layers: Vec::new(), tree: Tree::default(), base: None, config_len }
}

/// A stored image as a state: its config, its layers (docker media types as their OCI equals), and its
/// filesystem index.
pub(super) fn load_image(
    store: &Store,
    base: &Base,
    platform: &Platform,
    progress: &dyn crate::observe::Observer,
) -> Result<ImageState, BuildError> {
    let (_, manifest) = store.read_manifest(&base.descriptor)?;
    let Manifest::Image(m) = manifest else {
        return Err(BuildError::BaseIsIndex { name: base.name.clone() });
    };
    let raw = store.read_blob(&m.config.digest, MAX_CONFIG_SIZE)?;
    let config_error = |message: String| BuildError::BaseConfig { name: base.name.clone(), message };
    let value: Value = serde_json::from_slice(&raw).map_err(|e| config_error(super::excerpt(&e.to_string())))?;
    let Some(config) = Config::from_value(value) else {
        return Err(config_error("not a JSON object".to_owned()));
    };
    let parsed = crate::image::ImageConfig::parse(&raw)?;
    if !parsed.platform().matches(platform) {
        progress.warning(&format!(
            "image platform ({}) does not match the expected platform ({platform})",
            parsed.platform()
        ));
    }
    let layers: Vec<Descriptor> = m.layers.iter().map(oci_layer).collect();
    let digests: Vec<Digest> = m.layers.iter().filter(|l| !l.is_foreign()).map(|l| l.digest.clone()).collect();
    let tree = Tree::from_layers(store, &digests)?;
    Ok(ImageState {
        config,
        layers,
        tree,
        base: Some((base.name.clone(), base.descriptor.digest.clone())),
        config_len: raw.len(),
    })
}

/// A layer descriptor with Docker's media types as their OCI equals (same bytes), as podman writes OCI.
fn oci_layer(d: &Descriptor) -> Descriptor {
    let mut d = d.clone();
    d.media_type = match d.media_type.as_str() {
        media_type::DOCKER_LAYER_GZIP => media_type::OCI_LAYER_GZIP.to_owned(),
        media_type::DOCKER_FOREIGN_LAYER => media_type::OCI_LAYER_NONDISTRIBUTABLE_GZIP.to_owned(),
        other => other.to_owned(),
    };
    d
}

/// Writes the final state's config and manifest in `format` ([`BuildFormat`]); returns the manifest, the
/// config digest (the image ID) and the platform.
pub(super) fn write_image(
    store: &Store,
    image: &ImageState,
    platform: &Platform,
    clock: &Clock,
    format: BuildFormat,
    progress: &dyn Observer,
) -> Result<(RawManifest, Digest, Platform), BuildError> {
    let mut config = image.config.clone();
    config.created.set(clock.created.clone());
    if format == BuildFormat::OciAsPodman {
        drop_docker_only(&mut config, progress);
    }
    let raw_config = config.to_bytes();
    if raw_config.len() > MAX_CONFIG_SIZE {
        return Err(BuildError::ConfigTooLarge { size: raw_config.len() });
    }
    let mut annotations = BTreeMap::new();
    // Docker schema 2 has no annotations (podman's `--format docker` writes none).
    if let Some((name, digest)) = image.base.as_ref().filter(|_| format != BuildFormat::Docker) {
        annotations.insert(ANNOTATION_BASE_DIGEST.to_owned(), digest.to_string());
        annotations.insert(ANNOTATION_BASE_NAME.to_owned(), name.clone());
    }
    let config_digest = Digest::sha256(&raw_config);
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(media_type::OCI_MANIFEST.to_owned()),
        artifact_type: None,
        config: Descriptor::new(media_type::OCI_CONFIG, config_digest.clone(), raw_config.len() as u64),
        layers: image.layers.clone(),
        subject: None,
        annotations: (!annotations.is_empty()).then_some(annotations),
    };
    let raw = RawManifest::new(serde_json::to_vec(&manifest).expect("a manifest is JSON"), media_type::OCI_MANIFEST);
    let raw = match format {
        BuildFormat::Oci | BuildFormat::OciAsPodman => raw,
        // containers/image's conversion: media types only (the config's bytes stay), in its byte layout.
        BuildFormat::Docker => {
            convert::convert_image(&raw, &manifest, ManifestFormat::DockerV2Schema2, None)
                .map_err(BuildError::DockerFormat)?
                .manifest
        }
    };
    store.put_blob(&raw_config)?;
    store.put_blob(&raw.raw)?;
    let p = crate::image::ImageConfig::parse(&raw_config)?.platform();
    let p = if p.os.is_empty() { platform.clone() } else { p };
    Ok((raw, config_digest, p))
}

/// podman's `--format oci`: the config fields only Docker's image config has (`Healthcheck`, `Shell`,
/// `OnBuild`) are dropped, each with buildah's warning.
fn drop_docker_only(config: &mut Config, progress: &dyn Observer) {
    let Field::Set(c) = &mut config.config else { return };
    if let Some(shell) = std::mem::take(&mut c.shell).get().filter(|s| !s.is_empty()) {
        progress.warning(&format!(
            "SHELL is not supported for OCI image format, [{}] will be ignored. Must use `docker` format",
            shell.join(" ")
        ));
    }
    if matches!(std::mem::take(&mut c.healthcheck), Field::Set(_) | Field::Other(_)) {
        progress
            .warning("HEALTHCHECK is not supported for OCI image format and will be ignored. Must use `docker` format");
    }
    for t in std::mem::take(&mut c.on_build).get().into_iter().flatten().filter(|t| !t.is_empty()) {
        progress.warning(&format!(
            "ONBUILD is not supported for OCI image format, {t} will be ignored. Must use `docker` format"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_as_go_writes_them() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000, 5_000), "2023-11-14T22:13:20.000005Z");
        assert_eq!(rfc3339(951_782_400, 0), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn scratch_is_buildkits() {
        let s = scratch(&Platform::new("linux", "arm64", Some("v8")));
        assert_eq!(
            String::from_utf8(s.config.to_bytes()).unwrap(),
            r#"{"architecture":"arm64","config":{"WorkingDir":"/"},"history":[],"os":"linux","rootfs":{"diff_ids":[],"type":"layers"},"variant":"v8"}"#
        );
        assert_eq!(s.config_len, s.config.to_bytes().len());
    }
}
