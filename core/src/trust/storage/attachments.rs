//! Sigstore attachments (cosign's layout, as containers/image reads and writes it): the signatures of
//! manifest `sha256:HEX` are the layers of the OCI image manifest tagged `sha256-HEX.sig` in the same
//! repository — each layer a payload (`application/vnd.dev.cosign.simplesigning.v1+json`) with its base64
//! signature in the `dev.cosignproject.cosign/signature` annotation.
//!
//! Reading: no such tag (404 or `MANIFEST_UNKNOWN`) is no signatures; the manifest must be served as an OCI
//! image manifest, hold at most [`super::MAX_SIGNATURES`] layers of at most [`super::MAX_SIGNATURE_SIZE`]
//! bytes each (refused before any is fetched), and each payload must hash to its layer's digest.
//! Writing adds the signatures not already there as new layers (and their digests to the config's
//! `rootfs.diff_ids`), keeping every other field of the manifest and config, then pushes the tag.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures_util::{FutureExt, TryStreamExt};

use super::{Budget, MAX_SIGNATURE_SIZE, MAX_SIGNATURES, StorageError};
use crate::digest::Digest;
use crate::image::{Descriptor, Manifest, media_type};
use crate::registry::{RegistryClient, RegistryError};
use crate::stream::ByteStream;
use crate::trust::Signature;

/// The largest attachment config read (containers/image's `MaxConfigBodySize`).
pub const MAX_CONFIG_SIZE: usize = 4 * 1024 * 1024;

/// The tag holding `digest`'s attachments: `sha256-HEX.sig`.
pub fn tag(digest: &Digest) -> Result<String, StorageError> {
    let (alg, hex) = super::digest_parts(digest)?;
    Ok(format!("{alg}-{hex}.sig"))
}

/// The layers of an attachment manifest (`raw`, served as `media_type`; `shown` names it in errors), each
/// checked: OCI image manifest only, at most [`MAX_SIGNATURES`] layers, each of at most
/// [`MAX_SIGNATURE_SIZE`] bytes. Public for fuzzing.
pub fn parse_manifest(shown: &str, raw: &[u8], media_type: &str) -> Result<Vec<Descriptor>, StorageError> {
    let bad = |message: String| StorageError::Attachment { reference: shown.to_owned(), message };
    if media_type != media_type::OCI_MANIFEST {
        return Err(bad(format!("unexpected MIME type for sigstore attachment manifest: {media_type:?}")));
    }
    let m = match Manifest::parse(raw, Some(media_type)).map_err(|e| bad(format!("parsing manifest: {e}")))? {
        Manifest::Image(m) => m,
        Manifest::Index(_) => return Err(bad("an index, not an image manifest".to_owned())),
    };
    if m.layers.len() > MAX_SIGNATURES {
        return Err(bad(format!(
            "{} layers, more than the {MAX_SIGNATURES} signatures allowed for one image",
            m.layers.len()
        )));
    }
    for l in &m.layers {
        if l.size > MAX_SIGNATURE_SIZE as u64 {
            return Err(bad(format!(
                "layer {} is {} bytes, more than the {MAX_SIGNATURE_SIZE}-byte limit for a signature",
                l.digest, l.size
            )));
        }
    }
    Ok(m.layers)
}

/// Whether `e` says the tag does not exist (containers/image's `isManifestUnknownError`).
fn is_unknown(e: &RegistryError) -> bool {
    e.status() == Some(404) || e.codes().iter().any(|c| c.code == "MANIFEST_UNKNOWN")
}

/// The attachment manifest of `digest` in `repo`, raw and parsed; `None` when there is none.
async fn fetch_manifest(
    client: &RegistryClient,
    repo: &str,
    digest: &Digest,
) -> Result<Option<(crate::image::RawManifest, Vec<Descriptor>)>, StorageError> {
    let tag = tag(digest)?;
    let shown = format!("{repo}:{tag}");
    let m = match client.get_manifest(repo, &tag, &[media_type::OCI_MANIFEST]).await {
        Ok(m) => m,
        Err(e) if is_unknown(&e) => return Ok(None),
        Err(e) => return Err(StorageError::Attachment { reference: shown, message: e.to_string() }),
    };
    let layers = parse_manifest(&shown, &m.raw, &m.media_type)?;
    Ok(Some((m, layers)))
}

/// A blob of `repo` read whole (at most `cap` bytes), checked against its digest.
async fn read_blob(
    client: &RegistryClient,
    repo: &str,
    d: &Descriptor,
    cap: usize,
    shown: &str,
) -> Result<Vec<u8>, StorageError> {
    let bad = |message: String| StorageError::Attachment { reference: shown.to_owned(), message };
    if d.size > cap as u64 {
        return Err(bad(format!("blob {} is {} bytes, more than the {cap}-byte limit", d.digest, d.size)));
    }
    let mut stream = client.get_blob(repo, &d.digest, Some(d.size)).await.map_err(|e| bad(e.to_string()))?;
    let mut out = Vec::new();
    while let Some(chunk) = stream.try_next().await.map_err(|e| bad(format!("blob {}: {e}", d.digest)))? {
        if out.len() + chunk.len() > cap {
            return Err(bad(format!("blob {} is more than the {cap}-byte limit", d.digest)));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// The sigstore signatures attached to `digest` in `repo` (every layer, whatever its media type: the policy
/// decides), counted against `budget`.
pub async fn read(
    client: &RegistryClient,
    repo: &str,
    digest: &Digest,
    budget: &mut Budget,
) -> Result<Vec<Signature>, StorageError> {
    let Some((_, layers)) = fetch_manifest(client, repo, digest).await? else { return Ok(Vec::new()) };
    let shown = format!("{repo}:{}", tag(digest)?);
    let mut out = Vec::new();
    for l in layers {
        budget.take(l.size as usize)?;
        let payload = read_blob(client, repo, &l, MAX_SIGNATURE_SIZE, &shown).await?;
        out.push(Signature::Sigstore {
            media_type: l.media_type.clone(),
            payload,
            annotations: l.annotations.clone().unwrap_or_default(),
        });
    }
    Ok(out)
}

/// Uploads `bytes` as a blob of `repo` (unless it is there), returning its descriptor of `media_type`.
async fn put_bytes(
    client: &RegistryClient,
    repo: &str,
    bytes: Vec<u8>,
    media_type: &str,
) -> Result<Descriptor, RegistryError> {
    let digest = Digest::sha256(&bytes);
    let size = bytes.len() as u64;
    if client.blob_size(repo, &digest).await? != Some(size) {
        let bytes = Bytes::from(bytes);
        let open = || {
            let b = bytes.clone();
            async move {
                Ok(Box::pin(futures_util::stream::iter(vec![Ok::<_, RegistryError>(b)])) as ByteStream<RegistryError>)
            }
            .boxed()
        };
        client.upload_blob(repo, &digest, size, &open).await?;
    }
    Ok(Descriptor::new(media_type, digest, size))
}

/// Whether `layer` is `signature` already (containers/image's `layerMatchesSigstoreSignature`).
fn matches(layer: &Descriptor, media_type: &str, payload: &[u8], annotations: &BTreeMap<String, String>) -> bool {
    layer.media_type == media_type
        && layer.size == payload.len() as u64
        && layer.digest == Digest::sha256(payload)
        && layer.annotations.clone().unwrap_or_default() == *annotations
}

/// Adds the sigstore `signatures` to `digest`'s attachments in `repo` (those already there are skipped) and
/// pushes the `sha256-HEX.sig` tag. Other signature formats are refused.
pub async fn write(
    client: &RegistryClient,
    repo: &str,
    digest: &Digest,
    signatures: &[Signature],
) -> Result<(), StorageError> {
    let tag = tag(digest)?;
    let shown = format!("{repo}:{tag}");
    let bad = |message: String| StorageError::Attachment { reference: shown.clone(), message };
    let (mut manifest, mut layers, mut config) = match fetch_manifest(client, repo, digest).await? {
        Some((raw, layers)) => {
            let manifest: serde_json::Value =
                serde_json::from_slice(&raw.raw).map_err(|e| bad(format!("parsing manifest: {e}")))?;
            let config_desc: Descriptor = serde_json::from_value(manifest["config"].clone())
                .map_err(|e| bad(format!("parsing manifest config: {e}")))?;
            let config_raw = read_blob(client, repo, &config_desc, MAX_CONFIG_SIZE, &shown).await?;
            let config: serde_json::Value = serde_json::from_slice(&config_raw)
                .map_err(|e| bad(format!("parsing config {}: {e}", config_desc.digest)))?;
            (manifest, layers, config)
        }
        None => (
            serde_json::json!({"schemaVersion": 2, "mediaType": media_type::OCI_MANIFEST}),
            Vec::new(),
            // Go's zero imgspecv1.Image with its rootfs type set, as containers/image writes it.
            serde_json::json!({"architecture": "", "os": "", "config": {}, "rootfs": {"type": "layers", "diff_ids": []}}),
        ),
    };
    if !config.is_object() {
        return Err(bad("the config is not a JSON object".to_owned()));
    }
    let mut added = false;
    for s in signatures {
        let Signature::Sigstore { media_type, payload, annotations } = s else {
            return Err(bad("only sigstore signatures can be attached".to_owned()));
        };
        if layers.iter().any(|l| matches(l, media_type, payload, annotations)) {
            continue;
        }
        if layers.len() >= MAX_SIGNATURES {
            return Err(bad(format!("more than {MAX_SIGNATURES} signatures for one image")));
        }
        let mut d = put_bytes(client, repo, payload.clone(), media_type).await.map_err(|e| bad(e.to_string()))?;
        d.annotations = Some(annotations.clone());
        let rootfs = config
            .as_object_mut()
            .expect("checked")
            .entry("rootfs")
            .or_insert_with(|| serde_json::json!({"type": "layers"}));
        if !rootfs.is_object() {
            *rootfs = serde_json::json!({"type": "layers"});
        }
        let ids = rootfs.as_object_mut().expect("an object").entry("diff_ids").or_insert_with(|| serde_json::json!([]));
        if !ids.is_array() {
            *ids = serde_json::json!([]);
        }
        ids.as_array_mut().expect("an array").push(serde_json::Value::String(d.digest.to_string()));
        layers.push(d);
        added = true;
    }
    if !added {
        return Ok(());
    }
    let config_bytes = serde_json::to_vec(&config).map_err(|e| bad(e.to_string()))?;
    let config_desc =
        put_bytes(client, repo, config_bytes, media_type::OCI_CONFIG).await.map_err(|e| bad(e.to_string()))?;
    let obj = manifest.as_object_mut().ok_or_else(|| bad("the manifest is not a JSON object".to_owned()))?;
    obj.insert("config".to_owned(), serde_json::to_value(&config_desc).map_err(|e| bad(e.to_string()))?);
    obj.insert("layers".to_owned(), serde_json::to_value(&layers).map_err(|e| bad(e.to_string()))?);
    let raw = serde_json::to_vec(&manifest).map_err(|e| bad(e.to_string()))?;
    client.put_manifest(repo, &tag, &raw, media_type::OCI_MANIFEST).await.map_err(|e| bad(e.to_string()))?;
    Ok(())
}
