//! The OCI image layout's own files (image-spec `image-layout.md`): `oci-layout`, `index.json`, blob paths
//! `blobs/<alg>/<hex>`, and the names entries carry — `org.opencontainers.image.ref.name` (skopeo writes a
//! bare tag there, podman a full name) and containerd's `io.containerd.image.name` (docker ≥ 25).
//!
//! What it is not: the layout's blobs (the transport reads and writes them) or the local store, which is an
//! OCI layout too but has its own locking (`crate::store`).

use crate::digest::Digest;
use crate::image::{ANNOTATION_REF_NAME, Descriptor, Index, Manifest, media_type};
use crate::reference::Reference;

pub const OCI_LAYOUT: &str = "oci-layout";
pub const INDEX_JSON: &str = "index.json";
/// What `oci-layout` holds when hoist writes it (podman's spacing).
pub const OCI_LAYOUT_CONTENT: &[u8] = br#"{"imageLayoutVersion": "1.0.0"}"#;
/// The most bytes `index.json` may have.
pub const MAX_INDEX_JSON: usize = 16 * 1024 * 1024;
/// containerd's (and docker ≥ 25's) annotation for an image's full name.
pub const ANNOTATION_CONTAINERD_NAME: &str = "io.containerd.image.name";

/// The path of a blob in a layout.
pub fn blob_path(d: &Digest) -> String {
    format!("blobs/{}/{}", d.algorithm(), d.hex())
}

/// Why `oci-layout` is refused; the text is the fact alone, for the caller to put after the file's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutFileError {
    /// Not JSON (an excerpt of the parser's message).
    #[error("not valid JSON: {excerpt}")]
    NotJson { excerpt: String },
    /// A version other than 1.x (an excerpt of it).
    #[error("unsupported imageLayoutVersion {version:?}")]
    UnsupportedVersion { version: String },
    #[error("no imageLayoutVersion")]
    NoVersion,
}

/// Checks `oci-layout`: JSON with an `imageLayoutVersion` of 1.x.
pub fn check_layout(raw: &[u8]) -> Result<(), LayoutFileError> {
    let value: serde_json::Value = serde_json::from_slice(raw)
        .map_err(|e| LayoutFileError::NotJson { excerpt: crate::image::excerpt(&e.to_string()) })?;
    match value.get("imageLayoutVersion").and_then(|v| v.as_str()) {
        Some(v) if v.starts_with("1.") => Ok(()),
        Some(v) => Err(LayoutFileError::UnsupportedVersion { version: crate::image::excerpt(v) }),
        None => Err(LayoutFileError::NoVersion),
    }
}

/// Why `index.json` is refused; the text is the fact alone, for the caller to put after the file's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OciIndexError {
    #[error("{size} bytes, more than the {MAX_INDEX_JSON} allowed")]
    TooLarge { size: usize },
    /// Not a valid image index.
    #[error(transparent)]
    Manifest(#[from] crate::image::ImageError),
    /// A valid image manifest where the index should be.
    #[error("an image manifest, not an index")]
    NotAnIndex,
    /// Entry `entry` (from 0) points at something that is not a manifest or an index.
    #[error("entry {entry} ({digest}) is a {media_type:?}, not a manifest or index")]
    NotAManifest { entry: usize, digest: Digest, media_type: String },
}

/// Parses `index.json`: an image index (schemaVersion 2) whose entries are manifests or indexes.
pub fn parse_index(raw: &[u8]) -> Result<Index, OciIndexError> {
    if raw.len() > MAX_INDEX_JSON {
        return Err(OciIndexError::TooLarge { size: raw.len() });
    }
    let index = match Manifest::parse(raw, Some(media_type::OCI_INDEX))? {
        Manifest::Index(i) => i,
        Manifest::Image(_) => return Err(OciIndexError::NotAnIndex),
    };
    for (i, d) in index.manifests.iter().enumerate() {
        if !media_type::is_manifest(&d.media_type) {
            return Err(OciIndexError::NotAManifest {
                entry: i,
                digest: d.digest.clone(),
                media_type: d.media_type.clone(),
            });
        }
    }
    Ok(index)
}

/// The ref name an entry carries, as written (`v1`, `example.com/app:v1`).
pub fn ref_name(d: &Descriptor) -> Option<&str> {
    d.annotation(ANNOTATION_REF_NAME)
}

/// True for a ref name the image-spec admits: components of alphanumerics joined by `-._:@+` or `--`,
/// separated by `/`.
pub fn valid_ref_name(s: &str) -> bool {
    !s.is_empty()
        && s.split('/').all(|component| {
            let b = component.as_bytes();
            let alnum = |c: u8| c.is_ascii_alphanumeric();
            let sep = |c: u8| matches!(c, b'-' | b'.' | b'_' | b':' | b'@' | b'+');
            !b.is_empty()
                && alnum(b[0])
                && alnum(b[b.len() - 1])
                && b.iter().all(|&c| alnum(c) || sep(c))
                && b.windows(2).all(|w| !(sep(w[0]) && sep(w[1])) || w == b"--")
        })
}

/// The name an entry is loaded under, as podman names it: containerd's full name when present, else the ref
/// name — a full name as it is, a name without a registry under `localhost/` (podman's normalisation,
/// [`Reference::parse_local`], so skopeo's bare `v1` becomes `localhost/v1:latest`). `None` for an entry
/// without a name.
pub fn load_name(d: &Descriptor) -> Result<Option<Reference>, BadLoadName> {
    if let Some(full) = d.annotation(ANNOTATION_CONTAINERD_NAME) {
        return Reference::parse_normalized(full)
            .map(|r| Some(r.with_default_tag()))
            .map_err(|source| BadLoadName { name: full.to_owned(), source });
    }
    let Some(name) = ref_name(d) else { return Ok(None) };
    Reference::parse_local(name)
        .map(|r| Some(r.with_default_tag()))
        .map_err(|source| BadLoadName { name: name.to_owned(), source })
}

/// An entry's name (its containerd name or ref name, as written) that is not an image name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("name {name:?}: {source}")]
pub struct BadLoadName {
    pub name: String,
    #[source]
    pub source: crate::reference::ReferenceError,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn entry(annotations: &[(&str, &str)]) -> Descriptor {
        let mut d = Descriptor::new(media_type::OCI_MANIFEST, Digest::sha256(b"m"), 1);
        d.annotations =
            Some(annotations.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>());
        d
    }

    #[test]
    fn names_as_podman_loads_them() {
        let n = |a: &[(&str, &str)]| load_name(&entry(a)).unwrap().map(|r| r.to_string());
        assert_eq!(n(&[(ANNOTATION_REF_NAME, "example.com/test/app:v1")]).unwrap(), "example.com/test/app:v1");
        assert_eq!(n(&[(ANNOTATION_REF_NAME, "v1")]).unwrap(), "localhost/v1:latest");
        assert_eq!(n(&[(ANNOTATION_REF_NAME, "app:2")]).unwrap(), "localhost/app:2");
        assert_eq!(
            n(&[(ANNOTATION_REF_NAME, "latest"), (ANNOTATION_CONTAINERD_NAME, "docker.io/library/alpine:latest")])
                .unwrap(),
            "docker.io/library/alpine:latest"
        );
        assert_eq!(n(&[]), None);
        let bad = load_name(&entry(&[(ANNOTATION_REF_NAME, "Bad Name")])).unwrap_err();
        assert_eq!(bad.name, "Bad Name");
        assert!(bad.to_string().starts_with("name \"Bad Name\": invalid reference format"), "{bad}");
    }

    #[test]
    fn ref_names_follow_the_spec() {
        for ok in ["v1", "latest", "example.com/app:v1", "a--b", "1.0+build", "x@y"] {
            assert!(valid_ref_name(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "a..b", "a/", "/a", "a b", "ä"] {
            assert!(!valid_ref_name(bad), "{bad}");
        }
    }

    #[test]
    fn index_json_checks() {
        let m = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{}","digest":"{}","size":3}}]}}"#,
            media_type::OCI_MANIFEST,
            Digest::sha256(b"x")
        );
        assert_eq!(parse_index(m.as_bytes()).unwrap().manifests.len(), 1);
        let layer = m.replace(media_type::OCI_MANIFEST, media_type::OCI_LAYER);
        let not_manifest = parse_index(layer.as_bytes()).unwrap_err();
        assert!(matches!(not_manifest, OciIndexError::NotAManifest { entry: 0, .. }), "{not_manifest:?}");
        assert!(not_manifest.to_string().contains("not a manifest"), "{not_manifest}");
        assert!(matches!(parse_index(b"{}"), Err(OciIndexError::Manifest(_))));
        assert!(check_layout(OCI_LAYOUT_CONTENT).is_ok());
        let v2 = check_layout(br#"{"imageLayoutVersion":"2.0.0"}"#).unwrap_err();
        assert_eq!(v2, LayoutFileError::UnsupportedVersion { version: "2.0.0".into() });
        assert_eq!(v2.to_string(), "unsupported imageLayoutVersion \"2.0.0\"");
        assert_eq!(check_layout(b"{}").unwrap_err(), LayoutFileError::NoVersion);
        assert_eq!(blob_path(&Digest::sha256(b"")).len(), "blobs/sha256/".len() + 64);
    }

    proptest::proptest! {
        /// An `index.json` is taken exactly when every entry is a manifest or an index, and then as written.
        #[test]
        fn index_json_takes_manifests_and_indexes_only(
            kinds in proptest::collection::vec(proptest::sample::select(vec![
                media_type::OCI_MANIFEST, media_type::OCI_INDEX, media_type::DOCKER_MANIFEST,
                media_type::OCI_LAYER, media_type::OCI_CONFIG, "text/plain",
            ]), 0..5),
        ) {
            let entries: Vec<serde_json::Value> = kinds
                .iter()
                .enumerate()
                .map(|(i, t)| serde_json::json!({"mediaType": t, "digest": Digest::sha256(&[i as u8]).to_string(), "size": i}))
                .collect();
            let raw = serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": entries})).unwrap();
            match parse_index(&raw) {
                Ok(index) => {
                    proptest::prop_assert!(kinds.iter().all(|t| media_type::is_manifest(t)));
                    let got: Vec<&str> = index.manifests.iter().map(|d| d.media_type.as_str()).collect();
                    proptest::prop_assert_eq!(got, kinds.clone());
                }
                Err(e) => {
                    let first = kinds.iter().position(|t| !media_type::is_manifest(t));
                    proptest::prop_assert!(first.is_some(), "{}", e);
                    let is_first = matches!(e, OciIndexError::NotAManifest { entry, .. } if Some(entry) == first);
                    proptest::prop_assert!(is_first, "{:?}", e);
                    let wanted = format!("entry {} (", first.unwrap_or_default());
                    let text = e.to_string();
                    proptest::prop_assert!(text.starts_with(&wanted) && text.contains("not a manifest or index"), "{}", text);
                }
            }
        }
    }
}
