//! Image manifests and indexes (OCI and Docker schema 2) parsed from the bytes a registry or a file gave:
//! deciding which kind a document is, refusing schema 1 and ambiguous documents, and choosing an index entry
//! for a platform.
//!
//! What it is not: the bytes themselves. A manifest's digest is the digest of the raw bytes it was parsed
//! from, and those raw bytes are what is stored and pushed; re-serialising these views would not give them.

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use super::descriptor::{Descriptor, Platform, normalized};
use super::media_type::{self, OCI_INDEX, OCI_MANIFEST};
use super::{ImageError, MAX_MANIFEST_SIZE, excerpt, json_error};

/// An image manifest or an index, as parsed by [`Manifest::parse`].
// Not boxed: a manifest is parsed once per image and matched on by value throughout.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manifest {
    Image(ImageManifest),
    Index(Index),
}

/// One image: its config and its layers (OCI image manifest or Docker schema 2 manifest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageManifest {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    /// The `mediaType` the document declares; after [`Manifest::parse`], when it declares none, the content
    /// type it was served with (if that names an image manifest).
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(rename = "artifactType", default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// A list of manifests, usually one per platform (OCI image index or Docker manifest list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    /// As [`ImageManifest::media_type`].
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// Just enough of a document to decide what it is.
#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "schemaVersion")]
    schema_version: Option<serde_json::Value>,
    #[serde(rename = "mediaType")]
    media_type: Option<serde_json::Value>,
    manifests: Option<IgnoredAny>,
    config: Option<IgnoredAny>,
    layers: Option<IgnoredAny>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Image,
    Index,
}

fn kind_of(media_type: &str) -> Option<Kind> {
    if media_type::is_image_manifest(media_type) {
        Some(Kind::Image)
    } else if media_type::is_index(media_type) {
        Some(Kind::Index)
    } else {
        None
    }
}

impl Manifest {
    /// Parses a manifest or an index.
    ///
    /// `content_type` is what the bytes were served or stored as (`Content-Type`, a descriptor's media type);
    /// parameters are ignored, and a type that names no manifest (`application/json`, `text/plain`) counts
    /// as none. The kind is decided by the content type, else the body's `mediaType`, else its shape
    /// (`manifests` for an index, `config` and `layers` for an image). Refused: more than
    /// [`MAX_MANIFEST_SIZE`] bytes; schema 1 (by content type, `mediaType` or `schemaVersion: 1`); a
    /// `schemaVersion` other than 2; an unknown declared `mediaType`; a declared `mediaType` of the other
    /// kind than the content type's; an image manifest with `manifests` or an index with `config` or
    /// `layers` (ambiguous documents, as containers/image refuses them); an index entry with an empty
    /// `mediaType` (the OCI schema requires one). A descriptor's digest may use an algorithm hoist cannot
    /// verify ([`crate::digest::Digest::parse_any`]): the document parses, that blob is refused when needed.
    pub fn parse(raw: &[u8], content_type: Option<&str>) -> Result<Manifest, ImageError> {
        if raw.len() > MAX_MANIFEST_SIZE {
            return Err(ImageError::TooLarge { what: "manifest", size: raw.len(), limit: MAX_MANIFEST_SIZE });
        }
        let served = content_type.map(media_type::essence).filter(|c| !c.is_empty());
        if let Some(c) = served.as_deref().filter(|c| media_type::is_schema1(c)) {
            return Err(ImageError::Schema1 { media_type: c.to_owned() });
        }
        let probe: Probe = serde_json::from_slice(raw).map_err(|e| json_error("manifest", &e))?;
        let declared = match &probe.media_type {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(other) => {
                return Err(ImageError::Json {
                    what: "manifest",
                    message: format!("mediaType is not a string: {}", excerpt(&other.to_string())),
                });
            }
        };
        if let Some(d) = declared.as_deref().filter(|d| media_type::is_schema1(d)) {
            return Err(ImageError::Schema1 { media_type: d.to_owned() });
        }
        match &probe.schema_version {
            Some(v) if v.as_u64() == Some(2) => {}
            Some(v) if v.as_u64() == Some(1) => {
                let mt = declared.clone().unwrap_or_else(|| media_type::DOCKER_SCHEMA1_SIGNED.to_owned());
                return Err(ImageError::Schema1 { media_type: mt });
            }
            Some(v) => return Err(ImageError::SchemaVersion(excerpt(&v.to_string()))),
            None => return Err(ImageError::SchemaVersion("(missing)".to_owned())),
        }

        let served_kind = served.as_deref().and_then(kind_of);
        let declared_kind = match declared.as_deref() {
            Some(d) => Some(kind_of(d).ok_or_else(|| ImageError::UnsupportedMediaType(excerpt(d)))?),
            None => None,
        };
        if let (Some(s), Some(d)) = (served_kind, declared_kind)
            && s != d
        {
            return Err(ImageError::MediaTypeMismatch {
                declared: declared.clone().unwrap_or_default(),
                served: served.clone().unwrap_or_default(),
            });
        }
        let shape_kind = match (probe.manifests.is_some(), probe.config.is_some() || probe.layers.is_some()) {
            (true, false) => Some(Kind::Index),
            (false, true) => Some(Kind::Image),
            _ => None,
        };
        let kind = served_kind.or(declared_kind).or(shape_kind).ok_or_else(|| {
            ImageError::Ambiguous(
                "no media type, and not shaped as an image manifest (config, layers) or an index (manifests)"
                    .to_owned(),
            )
        })?;
        match kind {
            Kind::Image if probe.manifests.is_some() => {
                return Err(ImageError::Ambiguous("an image manifest with a \"manifests\" field".to_owned()));
            }
            Kind::Index if probe.config.is_some() || probe.layers.is_some() => {
                return Err(ImageError::Ambiguous("an index with a \"config\" or \"layers\" field".to_owned()));
            }
            _ => {}
        }
        // The content type stands in for a missing mediaType only when it names this kind.
        let fallback = served.filter(|s| kind_of(s) == Some(kind));
        Ok(match kind {
            Kind::Image => {
                let mut m: ImageManifest = serde_json::from_slice(raw).map_err(|e| json_error("image manifest", &e))?;
                m.media_type = m.media_type.or(fallback);
                Manifest::Image(m)
            }
            Kind::Index => {
                let mut i: Index = serde_json::from_slice(raw).map_err(|e| json_error("index", &e))?;
                if let Some(n) = i.manifests.iter().position(|d| d.media_type.is_empty()) {
                    return Err(ImageError::Invalid(format!(
                        "invalid index: entry {n} ({}) has an empty mediaType",
                        i.manifests[n].digest
                    )));
                }
                i.media_type = i.media_type.or(fallback);
                Manifest::Index(i)
            }
        })
    }

    /// The media type: the declared one, else the content type given to [`Manifest::parse`] when it named
    /// this kind, else OCI's ([`OCI_MANIFEST`] or [`OCI_INDEX`]).
    pub fn media_type(&self) -> String {
        match self {
            Manifest::Image(m) => m.media_type.clone().unwrap_or_else(|| OCI_MANIFEST.to_owned()),
            Manifest::Index(i) => i.media_type.clone().unwrap_or_else(|| OCI_INDEX.to_owned()),
        }
    }

    pub fn is_index(&self) -> bool {
        matches!(self, Manifest::Index(_))
    }

    pub fn as_image(&self) -> Option<&ImageManifest> {
        match self {
            Manifest::Image(m) => Some(m),
            Manifest::Index(_) => None,
        }
    }

    pub fn as_index(&self) -> Option<&Index> {
        match self {
            Manifest::Index(i) => Some(i),
            Manifest::Image(_) => None,
        }
    }

    /// Every descriptor this document owns: an image's config and layers, an index's manifests (not the
    /// `subject`, which the document refers to without owning).
    pub fn references(&self) -> Vec<&Descriptor> {
        match self {
            Manifest::Image(m) => m.blobs().collect(),
            Manifest::Index(i) => i.manifests.iter().collect(),
        }
    }

    pub fn subject(&self) -> Option<&Descriptor> {
        match self {
            Manifest::Image(m) => m.subject.as_ref(),
            Manifest::Index(i) => i.subject.as_ref(),
        }
    }

    pub fn annotations(&self) -> Option<&BTreeMap<String, String>> {
        match self {
            Manifest::Image(m) => m.annotations.as_ref(),
            Manifest::Index(i) => i.annotations.as_ref(),
        }
    }
}

/// JSON as Go's `json.Marshal` writes it: `&`, `<`, `>`, U+2028 and U+2029 escaped as `\u0026` and so on.
/// They can only occur inside strings in serde_json's output, so replacing their bytes is exact.
fn go_html_escape(json: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len());
    let mut i = 0;
    while i < json.len() {
        match json[i] {
            b'&' => out.extend_from_slice(b"\\u0026"),
            b'<' => out.extend_from_slice(b"\\u003c"),
            b'>' => out.extend_from_slice(b"\\u003e"),
            0xe2 if json.get(i + 1) == Some(&0x80) && matches!(json.get(i + 2), Some(0xa8 | 0xa9)) => {
                out.extend_from_slice(if json[i + 2] == 0xa8 { b"\\u2028" } else { b"\\u2029" });
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// A Docker schema 2 manifest in the field order Go's containers/image marshals it.
#[derive(Serialize)]
struct Schema2<'a> {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType")]
    media_type: &'static str,
    config: Schema2Descriptor<'a>,
    layers: Vec<Schema2Descriptor<'a>>,
}

/// A Docker schema 2 descriptor: `mediaType`, `size`, `digest`, `urls` (in that order; no annotations).
#[derive(Serialize)]
struct Schema2Descriptor<'a> {
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    size: u64,
    digest: &'a crate::digest::Digest,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    urls: &'a [String],
}

impl ImageManifest {
    /// This image as a Docker schema 2 manifest, as containers/image converts and marshals one (podman's
    /// `save --format docker-dir` writes these): an OCI manifest gets Docker's media types for its config and
    /// layers and loses its annotations; a schema 2 one is marshalled again in Go's field order. Refused as
    /// containers/image refuses them: zstd layers (schema 2 has no zstd), media types it does not know, and
    /// artifacts.
    pub fn to_docker_schema2(&self) -> Result<Vec<u8>, ImageError> {
        match self.media_type.as_deref() {
            None | Some(OCI_MANIFEST | media_type::DOCKER_MANIFEST) => {}
            Some(other) => return Err(ImageError::UnsupportedMediaType(other.to_owned())),
        }
        if !matches!(self.config.media_type.as_str(), media_type::OCI_CONFIG | media_type::DOCKER_CONFIG) {
            return Err(ImageError::Invalid(format!(
                "cannot convert an image with config media type {:?} to a Docker schema 2 manifest",
                self.config.media_type
            )));
        }
        let mut layers = Vec::with_capacity(self.layers.len());
        for l in &self.layers {
            let t = match l.media_type.as_str() {
                media_type::OCI_LAYER | media_type::DOCKER_LAYER => media_type::DOCKER_LAYER,
                media_type::OCI_LAYER_GZIP | media_type::DOCKER_LAYER_GZIP => media_type::DOCKER_LAYER_GZIP,
                media_type::OCI_LAYER_NONDISTRIBUTABLE | media_type::DOCKER_FOREIGN_LAYER_UNCOMPRESSED => {
                    media_type::DOCKER_FOREIGN_LAYER_UNCOMPRESSED
                }
                media_type::OCI_LAYER_NONDISTRIBUTABLE_GZIP | media_type::DOCKER_FOREIGN_LAYER => {
                    media_type::DOCKER_FOREIGN_LAYER
                }
                t @ (media_type::OCI_LAYER_ZSTD | media_type::OCI_LAYER_NONDISTRIBUTABLE_ZSTD) => {
                    return Err(ImageError::Invalid(format!(
                        "error during manifest conversion: {t:?}: zstd compression is not supported for docker images"
                    )));
                }
                t => return Err(ImageError::Invalid(format!("unknown media type during manifest conversion: {t:?}"))),
            };
            layers.push(Schema2Descriptor { media_type: t, size: l.size, digest: &l.digest, urls: &l.urls });
        }
        let c = &self.config;
        let doc = Schema2 {
            schema_version: 2,
            media_type: media_type::DOCKER_MANIFEST,
            config: Schema2Descriptor {
                media_type: media_type::DOCKER_CONFIG,
                size: c.size,
                digest: &c.digest,
                urls: &c.urls,
            },
            layers,
        };
        serde_json::to_vec(&doc)
            .map(go_html_escape)
            .map_err(|e| ImageError::Invalid(format!("writing a manifest: {e}")))
    }

    /// The blobs the image is made of: the config, then the layers in order (foreign ones included; see
    /// [`Descriptor::is_foreign`]).
    pub fn blobs(&self) -> impl Iterator<Item = &Descriptor> {
        std::iter::once(&self.config).chain(self.layers.iter())
    }
}

impl Index {
    /// The entry for `want`: the first whose platform [`Platform::matches`] it. When none does, the first
    /// that runs on it as containers/image's fallbacks allow: an older ARM variant (`arm/v7` runs `v6` and
    /// `v5`), a lower `amd64` level (`v3` runs `v2` and plain `amd64`), `arm64/v8` for `arm64/v9`. Entries
    /// without a platform are never chosen.
    pub fn choose(&self, want: &Platform) -> Option<&Descriptor> {
        std::iter::once(want.clone())
            .chain(fallbacks(want))
            .find_map(|w| self.manifests.iter().find(|d| d.platform.as_ref().is_some_and(|p| p.matches(&w))))
    }
}

/// The platforms that run on `want` besides itself, best first. Levels above the highest there is (ARM v8,
/// x86-64-v4) fall back from that one, so `arm/v4000000000` costs four entries, not four billion.
fn fallbacks(want: &Platform) -> Vec<Platform> {
    let n = normalized(want);
    let variant = n.variant.as_deref().unwrap_or("");
    let level = |prefix: &str| variant.strip_prefix(prefix).and_then(|v| v.parse::<u32>().ok());
    let with = |v: Option<String>| Platform { variant: v, ..n.clone() };
    match n.architecture.as_str() {
        "arm" => match level("v") {
            Some(l) => (5..l.min(9)).rev().map(|l| with(Some(format!("v{l}")))).collect(),
            None => Vec::new(),
        },
        "amd64" => match level("v") {
            Some(l) => (2..l.min(5)).rev().map(|l| with(Some(format!("v{l}")))).chain([with(None)]).collect(),
            None => Vec::new(),
        },
        "arm64" if !variant.is_empty() => vec![with(None)],
        _ => Vec::new(),
    }
}
