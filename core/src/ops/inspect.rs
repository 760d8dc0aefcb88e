//! podman's views of an image in the local store: [`image_data`] (the object `podman image inspect` prints,
//! podman's keys and meanings) and [`history`] (the rows of `podman history`, newest first). A GUI or another
//! tool gets the same data the CLI prints; rendering it (JSON, Go templates, tables) is the caller's.
//!
//! What it is not: `inspect docker://...` or `--raw`/`--config` (skopeo's shape, [`super::inspect`]), or
//! printing.
//!
//! Sizes are podman's: a layer's is its unpacked size (the tar stream's length; each stored layer is read
//! through to count it, nothing kept, so it costs time in proportion to the image: a caller that does not
//! show sizes passes [`Sizes::Skip`]), an image's `Size` the config's plus its layers' (podman adds the
//! copies of the manifest it keeps, a few hundred bytes more). Where hoist differs from podman by nature:
//! `Parent` is always empty (hoist keeps no parent links); `NamesHistory` and `GraphDriver` are left out
//! (hoist keeps no record of past names, and has no graph driver: the store is an OCI layout). A history
//! row shows an image ID where a stored image ends at that step's layer, as podman's (the newest row: the
//! image's own), else `<missing>`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value;

use super::local::{config_of, image_error, image_manifest};
use super::{Error, Settings};
use crate::digest::Digest;
use crate::image::{Descriptor, ImageConfig, MAX_CONFIG_SIZE, Manifest, Platform};
use crate::store::Store;
use crate::transport::ImageSource;
use crate::transport::store::StoreSource;

/// One image as `podman image inspect` shows it, in podman's key order.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageData {
    /// podman's image ID: the config digest's hex.
    pub id: String,
    /// The digest of the manifest the image is stored by (an index's, for an image pulled from one: podman's
    /// too).
    pub digest: Digest,
    /// The image's tagged names (`REPO:TAG`).
    pub repo_tags: Vec<String>,
    /// `REPO@DIGEST` for each repository the image is named in and each of its manifests (an index's
    /// digest too), sorted, as podman's.
    pub repo_digests: Vec<String>,
    /// Always empty: hoist keeps no parent links (podman's is empty for pulled images).
    pub parent: String,
    /// The config's `comment` (Docker), else the first history entry's comment.
    pub comment: String,
    /// The config's `created` (RFC 3339).
    pub created: Option<String>,
    /// The container config as OCI's `config` (`User`, `ExposedPorts`, `Env`, `Entrypoint`, `Cmd`,
    /// `Volumes`, `WorkingDir`, `Labels`, `StopSignal`), empty fields left out as podman's.
    pub config: Value,
    /// The config's `docker_version`.
    pub version: String,
    /// The config's `author`.
    pub author: String,
    pub architecture: String,
    pub os: String,
    /// The config's size plus the layers' unpacked sizes; `None` when not asked for ([`Sizes::Skip`]).
    pub size: Option<u64>,
    /// As `size` (as podman's).
    pub virtual_size: Option<u64>,
    #[serde(rename = "RootFS")]
    pub root_fs: RootFs,
    /// The config's labels; `null` when it has none, as podman's.
    pub labels: Option<BTreeMap<String, String>>,
    /// The image manifest's annotations (`{}` when none, as podman's).
    pub annotations: BTreeMap<String, String>,
    /// The image manifest's media type.
    pub manifest_type: String,
    /// The container config's `User`.
    pub user: String,
    /// The config's history entries, verbatim (`created`, `created_by`, `comment`, `empty_layer`, `author`).
    pub history: Vec<Value>,
}

/// The layers' uncompressed digests, as podman's `RootFS`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RootFs {
    pub r#type: String,
    pub layers: Vec<Digest>,
}

/// One row of `podman history`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The ID of the stored image that ends at this step's layer (the newest row: the image's own), each ID
    /// once; `None` (podman's `<missing>`) on the others.
    pub id: Option<Digest>,
    /// RFC 3339, as in the config.
    pub created: Option<String>,
    pub created_by: String,
    /// The unpacked size of the layer this step made; 0 for a step that made none; `None` when not asked
    /// for ([`Sizes::Skip`]).
    pub size: Option<u64>,
    pub comment: String,
}

/// Whether [`image_data`] and [`history`] count the layers' unpacked sizes (reading every layer through).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sizes {
    Count,
    Skip,
}

/// The keys of OCI's image `config` object, in its order: what podman's `Config` holds.
const OCI_CONFIG_KEYS: [&str; 10] = [
    "User",
    "ExposedPorts",
    "Env",
    "Entrypoint",
    "Cmd",
    "Volumes",
    "WorkingDir",
    "Labels",
    "StopSignal",
    "ArgsEscaped",
];

/// What an image's views are made of: its manifest, config (parsed and as JSON) and the stored image.
struct Parts {
    store: Arc<Store>,
    src: StoreSource,
    top: Digest,
    manifest: crate::transport::RawManifest,
    /// The config digest: podman's image ID.
    id: Digest,
    layers: Vec<Descriptor>,
    annotations: BTreeMap<String, String>,
    config_size: u64,
    config: ImageConfig,
    config_json: Value,
}

async fn parts(settings: &Settings, name: &str, platform: Option<Platform>) -> Result<Parts, Error> {
    let store = settings.store()?;
    let src = StoreSource::open(store.clone(), name)?;
    let top = src.manifest().await?;
    let manifest = image_manifest(&src, &top, platform).await?;
    let raw = config_of(&src, &manifest).await?;
    let Manifest::Image(m) = Manifest::parse(&manifest.raw, Some(&manifest.media_type)).map_err(image_error)? else {
        return Err(super::Refused::NotAnImage { image: name.to_owned() }.into());
    };
    let config = ImageConfig::parse(&raw).map_err(image_error)?;
    let config_json: Value = serde_json::from_slice(&raw)
        .map_err(|e| image_error(crate::image::ImageError::Invalid(format!("image config: {e}"))))?;
    Ok(Parts {
        store,
        src,
        top: top.digest,
        manifest,
        id: m.config.digest,
        layers: m.layers,
        annotations: m.annotations.unwrap_or_default(),
        config_size: m.config.size,
        config,
        config_json,
    })
}

/// What `layer` unpacks to: the store's record, else measured once within the size budget and recorded (the
/// same cache as `images`' SIZE, [`super::listing::layer_size`]). What is not a tar layer the store holds
/// counts as its descriptor's size: a foreign layer not pulled, an artifact's blob.
fn unpacked_size(settings: &Settings, store: &Store, layer: &Descriptor) -> Result<u64, Error> {
    if !layer.media_type.contains("tar") || store.has_blob(&layer.digest)?.is_none() {
        return Ok(layer.size);
    }
    Ok(super::listing::layer_size(settings, store, layer).bytes())
}

fn string_at(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}

/// Go's `omitempty`: null, "", false, 0, [] and {} are left out.
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
    }
}

/// `podman image inspect NAME`: the object for each of `names` (a name, short name or ID in the store), each
/// on its own (one not found does not stop the others); from an image stored as an index, the image for
/// `platform` (the host's when `None`).
pub async fn image_data(
    settings: &Settings,
    names: &[String],
    platform: Option<Platform>,
    sizes: Sizes,
) -> Vec<Result<ImageData, Error>> {
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        out.push(one_image_data(settings, name, platform.clone(), sizes).await);
    }
    out
}

async fn one_image_data(
    settings: &Settings,
    name: &str,
    platform: Option<Platform>,
    sizes: Sizes,
) -> Result<ImageData, Error> {
    let p = parts(settings, name, platform).await?;
    let image = p.src.image();
    let container = p.config_json.get("config").cloned().unwrap_or(Value::Null);
    let mut config = serde_json::Map::new();
    for key in OCI_CONFIG_KEYS {
        if let Some(v) = container.get(key).filter(|v| !is_empty(v)) {
            config.insert(key.to_owned(), v.clone());
        }
    }
    let mut digests = vec![p.manifest.digest.clone()];
    if p.top != p.manifest.digest {
        digests.push(p.top.clone());
    }
    let mut repo_digests: Vec<String> =
        image.names.iter().flat_map(|n| digests.iter().map(move |d| format!("{}@{d}", n.name()))).collect();
    repo_digests.sort();
    repo_digests.dedup();
    let labels = p.config.labels();
    let comment = match string_at(&p.config_json, "comment") {
        c if !c.is_empty() => c,
        _ => p.config.history.first().map(|h| string_at(h, "comment")).unwrap_or_default(),
    };
    let size = match sizes {
        Sizes::Skip => None,
        Sizes::Count => {
            let mut size = p.config_size;
            for layer in &p.layers {
                size += unpacked_size(settings, &p.store, layer)?;
            }
            Some(size)
        }
    };
    Ok(ImageData {
        id: p.id.hex().to_owned(),
        digest: p.top.clone(),
        repo_tags: image.names.iter().filter(|n| n.tag().is_some()).map(|n| n.to_string()).collect(),
        repo_digests,
        parent: String::new(),
        comment,
        created: p.config.created.clone(),
        user: string_at(&container, "User"),
        config: Value::Object(config),
        version: string_at(&p.config_json, "docker_version"),
        author: string_at(&p.config_json, "author"),
        architecture: p.config.architecture.clone(),
        os: p.config.os.clone(),
        size,
        virtual_size: size,
        root_fs: RootFs {
            r#type: if p.config.rootfs.r#type.is_empty() { "layers".into() } else { p.config.rootfs.r#type.clone() },
            layers: p.config.rootfs.diff_ids.clone(),
        },
        labels: if labels.is_empty() { None } else { Some(labels) },
        annotations: p.annotations.clone(),
        manifest_type: p.manifest.media_type.clone(),
        history: p.config.history.clone(),
    })
}

/// `podman history NAME`: the config's history, newest first, each step with the layer it made (layers
/// matched to the steps that are not `empty_layer`, newest first, as podman does).
pub async fn history(
    settings: &Settings,
    name: &str,
    platform: Option<Platform>,
    sizes: Sizes,
) -> Result<Vec<HistoryEntry>, Error> {
    let p = parts(settings, name, platform).await?;
    let tops = top_layers(&p.store, &p.id);
    let diff_ids = &p.config.rootfs.diff_ids;
    // The layer the step being shown stands on: an index into the layers, newest first.
    let mut at = p.layers.len().checked_sub(1);
    let mut used: Vec<&Digest> = Vec::new();
    let mut rows = Vec::with_capacity(p.config.history.len());
    for (i, h) in p.config.history.iter().enumerate().rev() {
        let empty = h.get("empty_layer").and_then(Value::as_bool).unwrap_or(false);
        let mut id = (i + 1 == p.config.history.len()).then(|| p.id.clone());
        let layer = at.and_then(|k| p.layers.get(k).map(|l| (k, l)));
        let size = match (layer, sizes) {
            (_, Sizes::Skip) => None,
            (Some((_, l)), Sizes::Count) if !empty => Some(unpacked_size(settings, &p.store, l)?),
            _ => Some(0),
        };
        // As podman: the first image whose top layer this is names the step, once.
        let first = layer.and_then(|(k, _)| tops.get(diff_ids.get(..=k)?)).and_then(|ids| ids.first());
        if let Some(first) = first.filter(|f| !used.contains(f)) {
            id = Some(first.clone());
            used.push(first);
        }
        if !empty {
            at = at.and_then(|k| k.checked_sub(1));
        }
        rows.push(HistoryEntry {
            id,
            created: h.get("created").and_then(Value::as_str).map(str::to_owned),
            created_by: string_at(h, "created_by"),
            size,
            comment: string_at(h, "comment"),
        });
    }
    Ok(rows)
}

/// The stored images by their layers (diff IDs, bottom first): which images end at a given layer, `own`
/// first, then the others oldest first. An image that cannot be read is left out (it names no step).
fn top_layers(store: &Store, own: &Digest) -> HashMap<Vec<Digest>, Vec<Digest>> {
    let mut tops: HashMap<Vec<Digest>, Vec<Digest>> = HashMap::new();
    let Ok(images) = store.list() else { return tops };
    for image in images.iter().rev() {
        let Ok((_, Manifest::Image(m))) = store.read_manifest(&image.descriptor) else { continue };
        let Some(config) =
            store.read_blob(&m.config.digest, MAX_CONFIG_SIZE).ok().and_then(|raw| ImageConfig::parse(&raw).ok())
        else {
            continue;
        };
        if config.rootfs.diff_ids.is_empty() {
            continue;
        }
        let ids = tops.entry(config.rootfs.diff_ids).or_default();
        if !ids.contains(&m.config.digest) {
            if &m.config.digest == own { ids.insert(0, m.config.digest) } else { ids.push(m.config.digest) }
        }
    }
    tops
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Arc;

    use serde_json::json;

    use super::{Sizes, history, image_data};
    use crate::config::Paths;
    use crate::copy::NoProgress;
    use crate::digest::Digest;
    use crate::ops::{Settings, copy_by_name};
    use crate::transport::name::{DestinationOptions, ImageName};

    /// A store in `dir` holding `example.test/app:1`: one gzip'd layer (its tar is returned), a history of
    /// three steps of which the middle one made the layer, labels, an empty `WorkingDir`.
    fn stored_image(dir: &std::path::Path) -> (Settings, Vec<u8>, Digest, u64) {
        let mut tar = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(3000);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, "a.txt", &[b'a'; 3000][..]).unwrap();
        let tar = tar.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&tar).unwrap();
        let gz = gz.finish().unwrap();
        let config = serde_json::to_vec(&json!({
            "created": "2024-01-02T03:04:05Z", "architecture": "amd64", "os": "linux", "author": "me",
            "config": {"Cmd": ["/bin/app"], "WorkingDir": "", "Labels": {"k": "v"}, "Hostname": "h"},
            "rootfs": {"type": "layers", "diff_ids": [Digest::sha256(&tar)]},
            "history": [
                {"created_by": "LABEL k=v", "empty_layer": true, "comment": "first"},
                {"created_by": "COPY a.txt /"},
                {"created": "2024-01-02T03:04:05Z", "created_by": "CMD [\"/bin/app\"]", "empty_layer": true}
            ]
        }))
        .unwrap();
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": Digest::sha256(&config), "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": Digest::sha256(&gz), "size": gz.len()}]
        }))
        .unwrap();
        let layout = dir.join("layout");
        std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
        for bytes in [&gz, &config, &manifest] {
            std::fs::write(layout.join("blobs/sha256").join(Digest::sha256(bytes).hex()), bytes).unwrap();
        }
        let index = json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": Digest::sha256(&manifest), "size": manifest.len(), "annotations": {"org.opencontainers.image.ref.name": "v1"}}]});
        std::fs::write(layout.join("index.json"), index.to_string()).unwrap();
        std::fs::write(layout.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        let conf = dir.join("registries.conf");
        std::fs::write(&conf, "unqualified-search-registries = []\n").unwrap();
        let mut s = Settings::new();
        s.registries_conf = Paths { main: conf, main_required: true, dropin_dirs: Vec::new(), alias_cache: None };
        s.store_root = Some(dir.join("store"));
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        let src = ImageName::parse(&format!("oci:{}:v1", layout.display())).unwrap();
        let dst = ImageName::parse("store:example.test/app:1").unwrap();
        rt.block_on(copy_by_name(&src, &s, &dst, &s, &DestinationOptions::default(), false, Arc::new(NoProgress)))
            .unwrap();
        (s, tar, Digest::sha256(&config), config.len() as u64)
    }

    #[test]
    fn podmans_views_of_a_stored_image() {
        let tmp = tempfile::tempdir().unwrap();
        let (s, tar, config, config_size) = stored_image(tmp.path());
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let names = ["example.test/app:1".to_owned(), "nope".to_owned()];
        let found = rt.block_on(image_data(&s, &names, None, Sizes::Count));
        let d = found[0].as_ref().unwrap();
        assert!(found[1].as_ref().is_err_and(|e| e.to_string().contains("nope")), "each name on its own");
        assert_eq!(d.id, config.hex());
        assert_eq!(d.repo_tags, ["example.test/app:1"]);
        assert_eq!(d.repo_digests, [format!("example.test/app@{}", d.digest)]);
        // OCI's config keys only, empty ones left out (podman's `omitempty`).
        assert_eq!(d.config, json!({"Cmd": ["/bin/app"], "Labels": {"k": "v"}}));
        assert_eq!((d.comment.as_str(), d.author.as_str()), ("first", "me"));
        assert_eq!(d.labels.as_ref().unwrap()["k"], "v");
        let unpacked = tar.len() as u64;
        assert_eq!(d.size, Some(config_size + unpacked), "the config and the unpacked layer");
        assert_eq!(d.virtual_size, d.size);
        let skipped = rt.block_on(image_data(&s, &names[..1], None, Sizes::Skip));
        assert_eq!(skipped[0].as_ref().unwrap().size, None, "no layer read");

        let rows = rt.block_on(history(&s, "example.test/app:1", None, Sizes::Count)).unwrap();
        let by: Vec<&str> = rows.iter().map(|r| r.created_by.as_str()).collect();
        assert_eq!(by, ["CMD [\"/bin/app\"]", "COPY a.txt /", "LABEL k=v"], "newest first");
        assert_eq!(rows.iter().map(|r| r.size).collect::<Vec<_>>(), [Some(0), Some(unpacked), Some(0)]);
        assert_eq!(rows[0].id.as_ref(), Some(&config));
        assert!(rows[1].id.is_none() && rows[2].id.is_none(), "<missing>");
        assert_eq!(rows[2].comment, "first");
    }
}
