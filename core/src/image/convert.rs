//! Manifest conversion between OCI image spec v1 and Docker image manifest v2 schema 2 (`push --format`,
//! `copy --format`), as containers/image converts (`image/oci.go`'s `convertToManifestSchema2`,
//! `image/docker_schema2.go`'s `convertToManifestOCI1`, `manifest/list.go`'s index conversion):
//!
//! - OCI → schema 2: only media types change. The config blob is kept byte for byte (so the image ID, the
//!   config digest, stays); layers map `tar`/`tar+gzip` to Docker's `rootfs.diff.tar`/`.tar.gzip` and the
//!   non-distributable ones to Docker's foreign layers. zstd layers, encrypted layers, OCI artifacts (a config
//!   that is not an image config) and unknown layer types cannot be written as schema 2 and are refused.
//!   Annotations and `subject` have no place in schema 2: they are dropped, with a warning.
//! - schema 2 → OCI: the config is re-read as an OCI image config (Docker-only fields such as
//!   `container_config` or `docker_version` dropped) and written anew, so its digest changes as it does with
//!   containers/image; layers map back.
//! - An index becomes a manifest list and back, each entry pointing at its converted child.
//!
//! A manifest already in the wanted format is not touched (its bytes and digest stay). What it is not: moving
//! the blobs (the copy engine), or recompressing layers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::descriptor::{Descriptor, Platform};
use super::media_type::*;
use super::{ImageManifest, Index, MAX_CONFIG_SIZE, RawManifest};
use crate::digest::Digest;

/// The manifest format a copy writes (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestFormat {
    /// OCI image manifest and index (`oci`).
    Oci,
    /// Docker image manifest v2 schema 2 and manifest list (`v2s2`).
    DockerV2Schema2,
}

impl std::str::FromStr for ManifestFormat {
    type Err = ConvertError;

    fn from_str(s: &str) -> Result<ManifestFormat, ConvertError> {
        match s {
            "oci" => Ok(ManifestFormat::Oci),
            "v2s2" => Ok(ManifestFormat::DockerV2Schema2),
            "v2s1" => Err(ConvertError::Schema1),
            other => Err(ConvertError::UnknownFormat(other.to_owned())),
        }
    }
}

impl std::fmt::Display for ManifestFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ManifestFormat::Oci => "oci",
            ManifestFormat::DockerV2Schema2 => "v2s2",
        })
    }
}

impl ManifestFormat {
    /// The media type of an image manifest in this format.
    pub fn manifest_media_type(self) -> &'static str {
        match self {
            ManifestFormat::Oci => OCI_MANIFEST,
            ManifestFormat::DockerV2Schema2 => DOCKER_MANIFEST,
        }
    }

    /// The media type of an index in this format.
    pub fn index_media_type(self) -> &'static str {
        match self {
            ManifestFormat::Oci => OCI_INDEX,
            ManifestFormat::DockerV2Schema2 => DOCKER_LIST,
        }
    }
}

/// Why a manifest cannot be converted; one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    #[error("manifest format v2s1 (Docker schema 1) is deprecated and not written by hoist: use --format oci or v2s2")]
    Schema1,
    #[error("unknown manifest format {0:?}: use oci or v2s2")]
    UnknownFormat(String),
    #[error(
        "cannot convert to Docker schema 2: layer {digest} is {media_type}; zstd compression is not supported for docker images"
    )]
    Zstd { digest: Digest, media_type: String },
    #[error(
        "cannot convert to Docker schema 2: layer {digest} is encrypted ({media_type}); encrypted layers are not supported in docker images"
    )]
    Encrypted { digest: Digest, media_type: String },
    #[error("cannot convert manifest {digest}: it is a non-image OCI artifact (config {config_media_type})")]
    Artifact { digest: Digest, config_media_type: String },
    #[error("cannot convert manifest {digest}: unknown layer media type {media_type:?}")]
    UnknownLayer { digest: Digest, media_type: String },
    #[error("cannot convert manifest {digest}: unsupported media type {media_type:?}")]
    UnknownManifest { digest: Digest, media_type: String },
    #[error("cannot convert manifest {digest}: its config {config} is not a valid image config: {message}")]
    Config { digest: Digest, config: Digest, message: String },
    #[error(
        "converting {digest} to {format} changes it, which would invalidate its signatures: give --remove-signatures"
    )]
    WouldInvalidateSignatures { digest: Digest, format: ManifestFormat },
}

/// An image manifest after conversion.
#[derive(Debug, Clone)]
pub struct ConvertedImage {
    pub manifest: RawManifest,
    /// A new config blob to write (schema 2 → OCI), with its descriptor; `None`: the source's is kept.
    pub config: Option<(Descriptor, Vec<u8>)>,
    /// What was dropped on the way (annotations), one line each.
    pub warnings: Vec<String>,
}

/// Whether [`convert_image`] needs the config blob's bytes to convert `m` to `to`.
pub fn needs_config(m: &ImageManifest, to: ManifestFormat) -> bool {
    to == ManifestFormat::Oci && m.media_type.as_deref() == Some(DOCKER_MANIFEST)
}

/// Whether the manifest `raw` (an image manifest or an index) is already in format `to`.
pub fn is_in(raw: &RawManifest, to: ManifestFormat) -> bool {
    raw.media_type == to.manifest_media_type() || raw.media_type == to.index_media_type()
}

/// containers/image's descriptor in schema 2: `mediaType`, `size`, `digest`, `urls` in Go's field order.
#[derive(Serialize)]
struct Schema2Descriptor<'a> {
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    size: u64,
    digest: &'a Digest,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    urls: &'a [String],
}

#[derive(Serialize)]
struct Schema2Manifest<'a> {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    config: Schema2Descriptor<'a>,
    layers: Vec<Schema2Descriptor<'a>>,
}

/// An OCI manifest in image-spec's field order.
#[derive(Serialize)]
struct OciManifest<'a> {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    config: Descriptor,
    layers: Vec<Descriptor>,
}

/// The layer media type in schema 2 for an OCI one (containers/image's table).
fn layer_to_schema2(manifest: &Digest, layer: &Descriptor) -> Result<&'static str, ConvertError> {
    let mt = layer.media_type.as_str();
    Ok(match mt {
        OCI_LAYER_NONDISTRIBUTABLE => DOCKER_FOREIGN_LAYER_UNCOMPRESSED,
        OCI_LAYER_NONDISTRIBUTABLE_GZIP => DOCKER_FOREIGN_LAYER,
        OCI_LAYER => DOCKER_LAYER,
        OCI_LAYER_GZIP => DOCKER_LAYER_GZIP,
        OCI_LAYER_ZSTD | OCI_LAYER_NONDISTRIBUTABLE_ZSTD => {
            return Err(ConvertError::Zstd { digest: layer.digest.clone(), media_type: mt.to_owned() });
        }
        _ if mt.contains("+encrypted") => {
            return Err(ConvertError::Encrypted { digest: layer.digest.clone(), media_type: mt.to_owned() });
        }
        // Already Docker's (a mixed manifest): kept.
        DOCKER_LAYER | DOCKER_LAYER_GZIP | DOCKER_FOREIGN_LAYER | DOCKER_FOREIGN_LAYER_UNCOMPRESSED => {
            return Ok(match mt {
                DOCKER_LAYER => DOCKER_LAYER,
                DOCKER_LAYER_GZIP => DOCKER_LAYER_GZIP,
                DOCKER_FOREIGN_LAYER => DOCKER_FOREIGN_LAYER,
                _ => DOCKER_FOREIGN_LAYER_UNCOMPRESSED,
            });
        }
        _ => return Err(ConvertError::UnknownLayer { digest: manifest.clone(), media_type: mt.to_owned() }),
    })
}

/// The OCI layer media type for a schema 2 one.
fn layer_to_oci(manifest: &Digest, layer: &Descriptor) -> Result<&'static str, ConvertError> {
    Ok(match layer.media_type.as_str() {
        DOCKER_FOREIGN_LAYER_UNCOMPRESSED => OCI_LAYER_NONDISTRIBUTABLE,
        DOCKER_FOREIGN_LAYER => OCI_LAYER_NONDISTRIBUTABLE_GZIP,
        DOCKER_LAYER => OCI_LAYER,
        DOCKER_LAYER_GZIP => OCI_LAYER_GZIP,
        other => {
            return Err(ConvertError::UnknownLayer { digest: manifest.clone(), media_type: other.to_owned() });
        }
    })
}

/// Go's `encoding/json` output for `s`: `<`, `>`, `&`, U+2028 and U+2029 escaped (they appear only inside
/// strings, so replacing them is safe), so that a converted document has the bytes containers/image writes.
fn go_json(value: &impl Serialize) -> Vec<u8> {
    let text = serde_json::to_string(value).unwrap_or_default();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.into_bytes()
}

fn annotations_warning(digest: &Digest, m: &ImageManifest) -> Option<String> {
    let mut dropped = m.annotations.as_ref().map_or(0, BTreeMap::len);
    dropped += m.config.annotations.as_ref().map_or(0, BTreeMap::len);
    dropped += m.layers.iter().map(|l| l.annotations.as_ref().map_or(0, BTreeMap::len)).sum::<usize>();
    let subject = m.subject.is_some();
    if dropped == 0 && !subject {
        return None;
    }
    let mut what = Vec::new();
    if dropped > 0 {
        what.push(format!("{dropped} annotation(s)"));
    }
    if subject {
        what.push("its subject".to_owned());
    }
    Some(format!("manifest {digest}: Docker schema 2 cannot hold {}; dropped in the conversion", what.join(" and ")))
}

/// Converts the image manifest `raw` (parsed as `m`) to `to`. `config` is the config blob's bytes, needed only
/// when [`needs_config`] says so (checked against the descriptor here). A manifest already in `to` comes back
/// unchanged.
pub fn convert_image(
    raw: &RawManifest,
    m: &ImageManifest,
    to: ManifestFormat,
    config: Option<&[u8]>,
) -> Result<ConvertedImage, ConvertError> {
    let unchanged = || ConvertedImage { manifest: raw.clone(), config: None, warnings: Vec::new() };
    let from = m.media_type.as_deref().unwrap_or(raw.media_type.as_str());
    match (from, to) {
        (OCI_MANIFEST, ManifestFormat::Oci) | (DOCKER_MANIFEST, ManifestFormat::DockerV2Schema2) => Ok(unchanged()),
        (OCI_MANIFEST, ManifestFormat::DockerV2Schema2) => {
            if m.config.media_type != OCI_CONFIG {
                return Err(ConvertError::Artifact {
                    digest: raw.digest.clone(),
                    config_media_type: m.config.media_type.clone(),
                });
            }
            let layers = m
                .layers
                .iter()
                .map(|l| {
                    Ok(Schema2Descriptor {
                        media_type: layer_to_schema2(&raw.digest, l)?,
                        size: l.size,
                        digest: &l.digest,
                        urls: &l.urls,
                    })
                })
                .collect::<Result<Vec<_>, ConvertError>>()?;
            let doc = Schema2Manifest {
                schema_version: 2,
                media_type: DOCKER_MANIFEST,
                config: Schema2Descriptor {
                    media_type: DOCKER_CONFIG,
                    size: m.config.size,
                    digest: &m.config.digest,
                    urls: &m.config.urls,
                },
                layers,
            };
            Ok(ConvertedImage {
                manifest: RawManifest::new(go_json(&doc), DOCKER_MANIFEST),
                config: None,
                warnings: annotations_warning(&raw.digest, m).into_iter().collect(),
            })
        }
        (DOCKER_MANIFEST, ManifestFormat::Oci) => {
            let bytes = config.ok_or_else(|| ConvertError::Config {
                digest: raw.digest.clone(),
                config: m.config.digest.clone(),
                message: "not read".to_owned(),
            })?;
            let bad = |message: String| ConvertError::Config {
                digest: raw.digest.clone(),
                config: m.config.digest.clone(),
                message,
            };
            if bytes.len() > MAX_CONFIG_SIZE {
                return Err(bad(format!("more than {MAX_CONFIG_SIZE} bytes")));
            }
            crate::digest::verify(bytes, &m.config.digest, Some(m.config.size)).map_err(|e| bad(e.to_string()))?;
            let oci: OciImageConfig = serde_json::from_slice(bytes)
                .map_err(|e| bad(super::json_error("image config", &e).to_string().chars().take(200).collect()))?;
            let config_bytes = go_json(&oci);
            let config_desc = Descriptor::new(OCI_CONFIG, Digest::sha256(&config_bytes), config_bytes.len() as u64);
            let layers = m
                .layers
                .iter()
                .map(|l| {
                    let mut d = Descriptor::new(layer_to_oci(&raw.digest, l)?, l.digest.clone(), l.size);
                    d.urls = l.urls.clone();
                    Ok(d)
                })
                .collect::<Result<Vec<_>, ConvertError>>()?;
            let doc = OciManifest { schema_version: 2, media_type: OCI_MANIFEST, config: config_desc.clone(), layers };
            Ok(ConvertedImage {
                manifest: RawManifest::new(go_json(&doc), OCI_MANIFEST),
                config: Some((config_desc, config_bytes)),
                warnings: Vec::new(),
            })
        }
        (other, _) => Err(ConvertError::UnknownManifest { digest: raw.digest.clone(), media_type: other.to_owned() }),
    }
}

/// A manifest list entry in containers/image's field order (`Schema2ManifestDescriptor`).
#[derive(Serialize)]
struct ListEntry<'a> {
    #[serde(flatten)]
    descriptor: Schema2Descriptor<'a>,
    platform: ListPlatform<'a>,
}

#[derive(Serialize)]
struct ListPlatform<'a> {
    architecture: &'a str,
    os: &'a str,
    #[serde(rename = "os.version", skip_serializing_if = "Option::is_none")]
    os_version: Option<&'a str>,
    #[serde(rename = "os.features", skip_serializing_if = "<[String]>::is_empty")]
    os_features: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    variant: Option<&'a str>,
}

#[derive(Serialize)]
struct List<'a> {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    manifests: Vec<ListEntry<'a>>,
}

#[derive(Serialize)]
struct OciIndex {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType")]
    media_type: &'static str,
    manifests: Vec<Descriptor>,
}

/// Converts the index `raw` (parsed as `index`) to `to`, each entry replaced by `children`'s converted
/// manifest for its digest (an entry not in `children` keeps its digest, its media type converted). Returns
/// the new index and a warning when annotations were dropped.
pub fn convert_index(
    raw: &RawManifest,
    index: &Index,
    to: ManifestFormat,
    children: &std::collections::HashMap<Digest, RawManifest>,
) -> Result<(RawManifest, Vec<String>), ConvertError> {
    let entries: Vec<Descriptor> = index
        .manifests
        .iter()
        .map(|d| match children.get(&d.digest) {
            Some(c) => Descriptor {
                media_type: c.media_type.clone(),
                digest: c.digest.clone(),
                size: c.raw.len() as u64,
                ..d.clone()
            },
            None => d.clone(),
        })
        .collect();
    let from = index.media_type.as_deref().unwrap_or(raw.media_type.as_str());
    if from == to.index_media_type() && entries == index.manifests {
        return Ok((raw.clone(), Vec::new()));
    }
    let mut warnings = Vec::new();
    match to {
        ManifestFormat::DockerV2Schema2 => {
            let mut dropped = index.annotations.as_ref().map_or(0, BTreeMap::len);
            dropped += entries.iter().map(|e| e.annotations.as_ref().map_or(0, BTreeMap::len)).sum::<usize>();
            if dropped > 0 || index.subject.is_some() {
                warnings.push(format!(
                    "index {}: a Docker manifest list cannot hold annotations or a subject; {dropped} annotation(s) dropped in the conversion",
                    raw.digest
                ));
            }
            let unknown = Platform::default();
            let manifests = entries
                .iter()
                .map(|e| {
                    let media_type = match e.media_type.as_str() {
                        OCI_MANIFEST | DOCKER_MANIFEST => DOCKER_MANIFEST,
                        OCI_INDEX | DOCKER_LIST => DOCKER_LIST,
                        other => {
                            return Err(ConvertError::UnknownManifest {
                                digest: e.digest.clone(),
                                media_type: other.to_owned(),
                            });
                        }
                    };
                    let p = e.platform.as_ref().unwrap_or(&unknown);
                    Ok(ListEntry {
                        descriptor: Schema2Descriptor { media_type, size: e.size, digest: &e.digest, urls: &e.urls },
                        platform: ListPlatform {
                            architecture: &p.architecture,
                            os: &p.os,
                            os_version: p.os_version.as_deref(),
                            os_features: &p.os_features,
                            variant: p.variant.as_deref(),
                        },
                    })
                })
                .collect::<Result<Vec<_>, ConvertError>>()?;
            let doc = List { schema_version: 2, media_type: DOCKER_LIST, manifests };
            Ok((RawManifest::new(go_json(&doc), DOCKER_LIST), warnings))
        }
        ManifestFormat::Oci => {
            let manifests = entries
                .into_iter()
                .map(|mut e| {
                    e.media_type = match e.media_type.as_str() {
                        OCI_MANIFEST | DOCKER_MANIFEST => OCI_MANIFEST.to_owned(),
                        OCI_INDEX | DOCKER_LIST => OCI_INDEX.to_owned(),
                        other => {
                            return Err(ConvertError::UnknownManifest {
                                digest: e.digest.clone(),
                                media_type: other.to_owned(),
                            });
                        }
                    };
                    Ok(e)
                })
                .collect::<Result<Vec<_>, ConvertError>>()?;
            let doc = OciIndex { schema_version: 2, media_type: OCI_INDEX, manifests };
            Ok((RawManifest::new(go_json(&doc), OCI_INDEX), warnings))
        }
    }
}

/// image-spec's `Image` as Go's `encoding/json` reads and writes it: what a Docker config becomes in OCI
/// (containers/image's `OCIConfig`: unmarshalled into this, fields OCI lacks dropped, then marshalled).
#[derive(Serialize, Deserialize)]
struct OciImageConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    author: String,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
    #[serde(rename = "os.version", default, skip_serializing_if = "String::is_empty")]
    os_version: String,
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    os_features: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    variant: String,
    #[serde(default)]
    config: OciRunConfig,
    #[serde(default)]
    rootfs: OciRootFs,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    history: Vec<OciHistory>,
}

#[derive(Serialize, Deserialize, Default)]
struct OciRunConfig {
    #[serde(rename = "User", default, skip_serializing_if = "String::is_empty")]
    user: String,
    #[serde(rename = "ExposedPorts", default, skip_serializing_if = "Option::is_none")]
    exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(rename = "Env", default, skip_serializing_if = "Option::is_none")]
    env: Option<Vec<String>>,
    #[serde(rename = "Entrypoint", default, skip_serializing_if = "Option::is_none")]
    entrypoint: Option<Vec<String>>,
    #[serde(rename = "Cmd", default, skip_serializing_if = "Option::is_none")]
    cmd: Option<Vec<String>>,
    #[serde(rename = "Volumes", default, skip_serializing_if = "Option::is_none")]
    volumes: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(rename = "WorkingDir", default, skip_serializing_if = "String::is_empty")]
    working_dir: String,
    #[serde(rename = "Labels", default, skip_serializing_if = "Option::is_none")]
    labels: Option<BTreeMap<String, String>>,
    #[serde(rename = "StopSignal", default, skip_serializing_if = "String::is_empty")]
    stop_signal: String,
    #[serde(rename = "ArgsEscaped", default, skip_serializing_if = "std::ops::Not::not")]
    args_escaped: bool,
}

#[derive(Serialize, Deserialize, Default)]
struct OciRootFs {
    #[serde(rename = "type", default)]
    kind: String,
    /// Go writes a missing list as `null`.
    #[serde(default)]
    diff_ids: Option<Vec<Digest>>,
}

#[derive(Serialize, Deserialize)]
struct OciHistory {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    created_by: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    author: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    comment: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    empty_layer: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(media_type: &str, data: &[u8]) -> Descriptor {
        Descriptor::new(media_type, Digest::sha256(data), data.len() as u64)
    }

    fn oci_image(layers: &[Descriptor], config_type: &str) -> (RawManifest, ImageManifest) {
        let m = serde_json::json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": desc(config_type, b"{}"), "layers": layers,
        });
        let raw = RawManifest::new(serde_json::to_vec(&m).unwrap(), OCI_MANIFEST);
        let parsed = serde_json::from_slice(&raw.raw).unwrap();
        (raw, parsed)
    }

    #[test]
    fn oci_layers_map_to_docker_ones_and_the_config_is_kept() {
        let layers = [
            desc(OCI_LAYER, b"a"),
            desc(OCI_LAYER_GZIP, b"b"),
            desc(OCI_LAYER_NONDISTRIBUTABLE, b"c"),
            desc(OCI_LAYER_NONDISTRIBUTABLE_GZIP, b"d"),
        ];
        let (raw, m) = oci_image(&layers, OCI_CONFIG);
        let c = convert_image(&raw, &m, ManifestFormat::DockerV2Schema2, None).unwrap();
        assert!(c.config.is_none() && c.warnings.is_empty());
        let out: ImageManifest = serde_json::from_slice(&c.manifest.raw).unwrap();
        assert_eq!(out.media_type.as_deref(), Some(DOCKER_MANIFEST));
        assert_eq!((out.config.media_type.as_str(), &out.config.digest), (DOCKER_CONFIG, &m.config.digest));
        let types: Vec<&str> = out.layers.iter().map(|l| l.media_type.as_str()).collect();
        assert_eq!(types, [DOCKER_LAYER, DOCKER_LAYER_GZIP, DOCKER_FOREIGN_LAYER_UNCOMPRESSED, DOCKER_FOREIGN_LAYER]);
        // And back, the same media types as before.
        let docker: ImageManifest = serde_json::from_slice(&c.manifest.raw).unwrap();
        let back = convert_image(&c.manifest, &docker, ManifestFormat::Oci, Some(b"{}")).unwrap();
        let back: ImageManifest = serde_json::from_slice(&back.manifest.raw).unwrap();
        assert_eq!(back.layers.iter().map(|l| l.media_type.clone()).collect::<Vec<_>>(), layers.map(|l| l.media_type));
        // Already in the format asked for: the same bytes.
        assert_eq!(convert_image(&raw, &m, ManifestFormat::Oci, None).unwrap().manifest, raw);
    }

    #[test]
    fn what_schema_2_cannot_hold_is_refused_in_one_line() {
        for (layer, must) in [
            (desc(OCI_LAYER_ZSTD, b"z"), "zstd compression is not supported for docker images"),
            (desc(OCI_LAYER_NONDISTRIBUTABLE_ZSTD, b"z"), "zstd compression is not supported"),
            (desc("application/vnd.oci.image.layer.v1.tar+gzip+encrypted", b"e"), "encrypted layers are not supported"),
            (desc("application/x-mystery", b"m"), "unknown layer media type"),
        ] {
            let (raw, m) = oci_image(&[layer], OCI_CONFIG);
            let e = convert_image(&raw, &m, ManifestFormat::DockerV2Schema2, None).unwrap_err().to_string();
            assert!(e.contains(must) && !e.contains('\n'), "{e}");
        }
        let (raw, m) = oci_image(&[], "application/vnd.example.artifact+json");
        let e = convert_image(&raw, &m, ManifestFormat::DockerV2Schema2, None).unwrap_err();
        assert!(matches!(e, ConvertError::Artifact { .. }), "{e}");
        assert!(matches!("v2s1".parse::<ManifestFormat>(), Err(ConvertError::Schema1)));
        assert!(matches!("docker".parse::<ManifestFormat>(), Err(ConvertError::UnknownFormat(_))));
    }

    #[test]
    fn annotations_dropped_by_the_conversion_are_warned_of() {
        let mut layer = desc(OCI_LAYER_GZIP, b"b");
        layer.annotations = Some(BTreeMap::from([("k".to_owned(), "v".to_owned())]));
        let (raw, m) = oci_image(&[layer], OCI_CONFIG);
        let c = convert_image(&raw, &m, ManifestFormat::DockerV2Schema2, None).unwrap();
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        assert!(c.warnings[0].contains("1 annotation(s)"), "{:?}", c.warnings);
        assert!(!String::from_utf8_lossy(&c.manifest.raw).contains("annotations"));
    }

    #[test]
    fn a_docker_config_that_does_not_match_its_digest_is_refused() {
        let config = desc(DOCKER_CONFIG, b"{}");
        let m = serde_json::json!({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST, "config": config, "layers": []});
        let raw = RawManifest::new(serde_json::to_vec(&m).unwrap(), DOCKER_MANIFEST);
        let parsed: ImageManifest = serde_json::from_slice(&raw.raw).unwrap();
        assert!(needs_config(&parsed, ManifestFormat::Oci));
        let e = convert_image(&raw, &parsed, ManifestFormat::Oci, Some(b"{ }")).unwrap_err();
        assert!(matches!(e, ConvertError::Config { .. }), "{e}");
        let e = convert_image(&raw, &parsed, ManifestFormat::Oci, Some(b"[]")).unwrap_err();
        assert!(matches!(e, ConvertError::Config { .. }), "{e}");
    }
}
