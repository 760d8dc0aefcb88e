//! docker-archive's own files: `manifest.json` (one item per image: `Config`, `RepoTags`, `Layers`),
//! `repositories`, and the legacy per-layer directories (`<id>/layer.tar`, `<id>/json`, `<id>/VERSION`) that
//! podman and skopeo still write, with their IDs computed exactly as containers/image computes them.
//!
//! What it is not: reading or writing the tar (`files`, `tar_out`) or the image's blobs (the transport).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

use crate::digest::Digest;

pub const MANIFEST_JSON: &str = "manifest.json";
pub const REPOSITORIES: &str = "repositories";
/// The most bytes `manifest.json` (or `repositories`) may have.
pub const MAX_MANIFEST_JSON: usize = 16 * 1024 * 1024;

/// One image of `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestItem {
    /// The config's path in the archive (`<hex>.json`, `blobs/sha256/<hex>`).
    #[serde(rename = "Config")]
    pub config: String,
    /// Names (`docker.io/library/alpine:latest`, or docker's short `alpine:latest`); docker writes null for none.
    #[serde(rename = "RepoTags", default, deserialize_with = "null_as_empty")]
    pub repo_tags: Vec<String>,
    /// The layers' paths, bottom first (`<hex>.tar`, `<id>/layer.tar`, `blobs/sha256/<hex>`).
    #[serde(rename = "Layers", default, deserialize_with = "null_as_empty")]
    pub layers: Vec<String>,
}

fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

/// Why `manifest.json` is refused; the text is the fact alone, for the caller to put after the file's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestJsonError {
    #[error("{size} bytes, more than the {MAX_MANIFEST_JSON} allowed")]
    TooLarge { size: usize },
    /// Not a JSON array of items with a `Config` (an excerpt of the parser's message).
    #[error("not valid: {excerpt}")]
    Invalid { excerpt: String },
    #[error("lists no image")]
    Empty,
}

/// Parses `manifest.json`: a non-empty JSON array of items, each with a `Config`.
pub fn parse_manifest_json(raw: &[u8]) -> Result<Vec<ManifestItem>, ManifestJsonError> {
    if raw.len() > MAX_MANIFEST_JSON {
        return Err(ManifestJsonError::TooLarge { size: raw.len() });
    }
    let items: Vec<ManifestItem> = serde_json::from_slice(raw)
        .map_err(|e| ManifestJsonError::Invalid { excerpt: crate::image::excerpt(&e.to_string()) })?;
    if items.is_empty() {
        return Err(ManifestJsonError::Empty);
    }
    Ok(items)
}

/// The digest a path in an archive claims by its name: `blobs/<alg>/<hex>`, `<hex>.tar`, `<hex>.json` or a
/// bare `<hex>` (sha256); `None` for names that are not digests (`<id>/layer.tar`).
pub fn claimed_digest(path: &str) -> Option<Digest> {
    if let Some(rest) = path.strip_prefix("blobs/") {
        let (alg, hex) = rest.split_once('/')?;
        return Digest::parse(&format!("{alg}:{hex}")).ok();
    }
    let name = path.strip_suffix(".tar").or_else(|| path.strip_suffix(".json")).unwrap_or(path);
    if name.len() == 64 && !name.contains('/') {
        return Digest::parse(&format!("sha256:{name}")).ok();
    }
    None
}

/// What [`legacy_layers`] makes for one layer: its ID (a directory name) and its `json` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyLayer {
    pub id: String,
    pub json: Vec<u8>,
}

/// An image config that is not a JSON object, so [`legacy_layers`] cannot take its fields (an excerpt of the
/// parser's message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("config: {excerpt}")]
pub struct ConfigNotAnObject {
    pub excerpt: String,
}

/// The legacy layer directories containers/image writes for an image with these layers (diff_ids, bottom
/// first) and config: each layer's ID is the sha256 of its `json` made with the layer's chain ID under
/// `layer_id` and without `id`; the top layer's `json` carries the config's architecture, config, container,
/// container_config, created, docker_version and os.
pub fn legacy_layers(diff_ids: &[Digest], config: &[u8]) -> Result<Vec<LegacyLayer>, ConfigNotAnObject> {
    let fields: HashMap<String, Box<RawValue>> = serde_json::from_slice(config)
        .map_err(|e| ConfigNotAnObject { excerpt: crate::image::excerpt(&e.to_string()) })?;
    let mut out: Vec<LegacyLayer> = Vec::new();
    let mut chain: Option<Digest> = None;
    for (i, diff_id) in diff_ids.iter().enumerate() {
        let mut map: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
        if let Some(parent) = out.last() {
            map.insert("parent", go_string(&parent.id));
        }
        if i == diff_ids.len() - 1 {
            for key in ["architecture", "config", "container", "container_config", "created", "docker_version", "os"] {
                let value = fields.get(key).map(|v| go_compact(v.get().as_bytes())).unwrap_or_else(|| b"null".to_vec());
                map.insert(key, value);
            }
        }
        let next = match &chain {
            None => diff_id.clone(),
            Some(c) => Digest::sha256(format!("{c} {diff_id}").as_bytes()),
        };
        map.insert("layer_id", go_string(&next.to_string()));
        let id = Digest::sha256(&go_object(&map)).hex().to_owned();
        map.remove("layer_id");
        map.insert("id", go_string(&id));
        out.push(LegacyLayer { id, json: go_object(&map) });
        chain = Some(next);
    }
    Ok(out)
}

/// `repositories`: name → tag → the top layer's legacy ID, as containers/image writes it.
pub type Repositories = BTreeMap<String, BTreeMap<String, String>>;

/// A JSON object of already-encoded values, keys in order, as Go's encoding/json writes a map.
fn go_object(map: &BTreeMap<&str, Vec<u8>>) -> Vec<u8> {
    let mut out = b"{".to_vec();
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend(go_string(k));
        out.push(b':');
        out.extend(v);
    }
    out.push(b'}');
    out
}

/// A JSON string as Go's encoding/json writes it (HTML characters escaped).
fn go_string(s: &str) -> Vec<u8> {
    let quoted = serde_json::to_string(s).expect("a string serialises");
    go_escape_html(quoted.as_bytes())
}

/// Compacts JSON text as Go's `json.Compact` with HTML escaping (what `json.Marshal` does to a RawMessage):
/// whitespace outside strings goes; `<`, `>`, `&`, U+2028 and U+2029 inside strings become `\u` escapes.
fn go_compact(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut in_string = false;
    let mut escaped = false;
    for &b in raw {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
            out.push(b);
        } else if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            out.push(b);
        }
    }
    go_escape_html(&out)
}

/// Go's HTML escaping of encoded JSON: only characters inside strings can be these, so a plain replace is exact.
fn go_escape_html(json: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(json);
    text.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_ids_match_podman() {
        // From `podman save` (podman 4.3.1) of a one-layer image.
        let diff = Digest::parse("sha256:8f7c5a810afae38bd56bf031161b5faa9093ffee9a73279ddbf11fd5ced1aca7").unwrap();
        let config = br#"{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:8f7c5a810afae38bd56bf031161b5faa9093ffee9a73279ddbf11fd5ced1aca7"]}}"#;
        let layers = legacy_layers(&[diff], config).unwrap();
        assert_eq!(layers[0].id, "0673f4c2c6ffa4fb1cd6612acb18b59ddfd1864a7b9cefc152f19b0a1af10884");
        assert_eq!(
            String::from_utf8(layers[0].json.clone()).unwrap(),
            r#"{"architecture":"amd64","config":{},"container":null,"container_config":null,"created":null,"docker_version":null,"id":"0673f4c2c6ffa4fb1cd6612acb18b59ddfd1864a7b9cefc152f19b0a1af10884","os":"linux"}"#
        );
    }

    #[test]
    fn legacy_layers_chain_parents() {
        let a = Digest::sha256(b"a");
        let b = Digest::sha256(b"b");
        let layers = legacy_layers(&[a, b], br#"{"os": "linux", "config": {"Env": ["A=<b>"]}}"#).unwrap();
        assert_eq!(layers.len(), 2);
        let top = String::from_utf8(layers[1].json.clone()).unwrap();
        assert!(top.contains(&format!(r#""parent":"{}""#, layers[0].id)), "{top}");
        assert!(top.contains(r#""config":{"Env":["A=\u003cb\u003e"]}"#), "{top}");
        assert!(!String::from_utf8(layers[0].json.clone()).unwrap().contains("os"));
    }

    #[test]
    fn manifest_json_parses_podman_and_docker_forms() {
        let podman = br#"[{"Config":"c.json","RepoTags":["example.com/a:1"],"Layers":["l.tar"]}]"#;
        let items = parse_manifest_json(podman).unwrap();
        assert_eq!(items[0].repo_tags, ["example.com/a:1"]);
        let docker =
            br#"[{"Config":"blobs/sha256/aa","RepoTags":null,"Layers":["blobs/sha256/bb"],"LayerSources":{}}]"#;
        assert!(parse_manifest_json(docker).unwrap()[0].repo_tags.is_empty());
        assert_eq!(parse_manifest_json(b"[]").unwrap_err(), ManifestJsonError::Empty);
        assert_eq!(ManifestJsonError::Empty.to_string(), "lists no image");
        assert!(matches!(parse_manifest_json(b"{}"), Err(ManifestJsonError::Invalid { .. })));
        let no_config = parse_manifest_json(br#"[{"RepoTags":[]}]"#).unwrap_err();
        assert!(no_config.to_string().starts_with("not valid: missing field `Config`"), "{no_config}");
        let big = vec![b' '; MAX_MANIFEST_JSON + 1];
        assert_eq!(parse_manifest_json(&big).unwrap_err(), ManifestJsonError::TooLarge { size: MAX_MANIFEST_JSON + 1 });
        let written = serde_json::to_string(&items).unwrap();
        assert_eq!(written.as_bytes(), podman);
    }

    #[test]
    fn claimed_digests() {
        let hex = "8f7c5a810afae38bd56bf031161b5faa9093ffee9a73279ddbf11fd5ced1aca7";
        for p in [format!("{hex}.tar"), format!("{hex}.json"), hex.to_owned(), format!("blobs/sha256/{hex}")] {
            assert_eq!(claimed_digest(&p).unwrap().hex(), hex, "{p}");
        }
        assert_eq!(claimed_digest(&format!("{hex}/layer.tar")), None);
        assert_eq!(claimed_digest("blobs/sha256/zz"), None);
        assert_eq!(claimed_digest("manifest.json"), None);
    }

    proptest::proptest! {
        /// Whatever the config holds, the legacy layers make a chain: one per diff ID, each ID 64 hex digits
        /// and the digest of its own JSON but for the ID, each JSON naming its ID and its parent's.
        #[test]
        fn legacy_layers_chain_by_parent(
            fields in proptest::collection::btree_map("[a-z_]{1,12}", "\\PC{0,20}", 0..6),
            n in 1usize..5,
        ) {
            let config = serde_json::to_vec(&fields).unwrap();
            let diff_ids: Vec<Digest> = (0..n).map(|i| Digest::sha256(&[i as u8])).collect();
            let layers = legacy_layers(&diff_ids, &config).unwrap();
            proptest::prop_assert_eq!(layers.len(), n);
            let mut parent: Option<&str> = None;
            for layer in &layers {
                proptest::prop_assert!(layer.id.len() == 64 && layer.id.bytes().all(|b| b.is_ascii_hexdigit()));
                let json: serde_json::Value = serde_json::from_slice(&layer.json).unwrap();
                proptest::prop_assert_eq!(json["id"].as_str(), Some(layer.id.as_str()));
                proptest::prop_assert_eq!(json.get("parent").and_then(|p| p.as_str()), parent);
                parent = Some(&layer.id);
            }
        }
    }
}
