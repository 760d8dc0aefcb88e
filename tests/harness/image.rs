//! A tiny OCI image layout made without network: one gzip layer, a config and a manifest, as described in
//! the OCI image spec. skopeo copies it to a registry (`oci:DIR:TAG`).

use std::fs;
use std::io::Write;
use std::path::Path;

use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

fn sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn put_blob(dir: &Path, data: &[u8]) -> String {
    let hex = sha256(data);
    fs::write(dir.join("blobs/sha256").join(&hex), data).unwrap();
    format!("sha256:{hex}")
}

/// The OCI architecture of this machine (`amd64`, `arm64`): the platform test images are made for.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => panic!("no test image for {other}"),
    }
}

/// `oci:DIR:v1`: the image [`write_layout`] tagged `v1` in `dir`, as a transport name.
pub fn oci(dir: &Path) -> String {
    format!("oci:{}:v1", dir.display())
}

/// Writes an OCI layout at `dir` whose one-layer linux/amd64 image, tagged `tag`, holds `files` (path,
/// content). Returns the manifest digest.
pub fn write_oci_layout(dir: &Path, tag: &str, files: &[(&str, &[u8])]) -> String {
    let layer = files.iter().map(|(p, c)| (p.to_string(), c.to_vec())).collect();
    let spec = ImageSpec { os: "linux", architecture: "amd64", variant: None, layers: vec![layer] };
    write_layout(dir, tag, &[spec]).top
}

/// One image of a layout: its layers (each a list of files) and its platform.
pub struct ImageSpec<'a> {
    pub os: &'a str,
    pub architecture: &'a str,
    pub variant: Option<&'a str>,
    pub layers: Vec<Vec<(String, Vec<u8>)>>,
}

impl<'a> ImageSpec<'a> {
    /// A linux image for `architecture` with `layers` layers of `size` pseudo-random bytes each (seeded, so
    /// the same spec gives the same digests).
    pub fn random(architecture: &'a str, layers: usize, size: usize, seed: u64) -> ImageSpec<'a> {
        let mut rng = fastrand::Rng::with_seed(seed);
        let layers = (0..layers)
            .map(|i| {
                let mut data = vec![0u8; size];
                rng.fill(&mut data);
                vec![(format!("layer{i}/data.bin"), data), (format!("layer{i}/arch"), architecture.as_bytes().to_vec())]
            })
            .collect();
        ImageSpec { os: "linux", architecture, variant: None, layers }
    }
}

/// What [`write_layout`] made: the top-level manifest (an image manifest or an index) and each image's
/// manifest and config digests, in the order of the specs.
pub struct Layout {
    pub top: String,
    pub top_bytes: Vec<u8>,
    pub manifests: Vec<String>,
    pub configs: Vec<String>,
}

/// A gzip'd tar of `files` (sorted as given, mode 0644, owner 0, mtime 0) and its diff_id.
fn gzip_layer(files: &[(String, Vec<u8>)]) -> (Vec<u8>, String) {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_cksum();
        builder.append_data(&mut header, path, content.as_slice()).unwrap();
    }
    let tar = builder.into_inner().unwrap();
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    (gz.finish().unwrap(), format!("sha256:{}", sha256(&tar)))
}

/// Writes an OCI layout at `dir` tagged `tag`: one image manifest for one spec, an OCI index over them for
/// several (each entry with its platform).
pub fn write_layout(dir: &Path, tag: &str, specs: &[ImageSpec]) -> Layout {
    fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    let mut entries = Vec::new();
    let (mut manifests, mut configs) = (Vec::new(), Vec::new());
    let mut single = None;
    for spec in specs {
        let mut layers = Vec::new();
        let mut diff_ids = Vec::new();
        for files in &spec.layers {
            let (gz, diff_id) = gzip_layer(files);
            let digest = put_blob(dir, &gz);
            layers.push(serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest, "size": gz.len()}));
            diff_ids.push(diff_id);
        }
        let mut config = serde_json::json!({
            "created": "2024-01-02T03:04:05Z",
            "architecture": spec.architecture,
            "os": spec.os,
            "config": {"Env": ["PATH=/usr/bin", format!("ARCH={}", spec.architecture)], "Labels": {"made-by": "hoist-tests"}},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created_by": "hoist test harness"}]
        });
        if let Some(v) = spec.variant {
            config["variant"] = v.into();
        }
        let config = serde_json::to_vec(&config).unwrap();
        let config_digest = put_blob(dir, &config);
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
            "layers": layers
        });
        let manifest = serde_json::to_vec(&manifest).unwrap();
        let manifest_digest = put_blob(dir, &manifest);
        let mut platform = serde_json::json!({"architecture": spec.architecture, "os": spec.os});
        if let Some(v) = spec.variant {
            platform["variant"] = v.into();
        }
        entries.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest, "size": manifest.len(), "platform": platform
        }));
        single = Some((manifest_digest.clone(), manifest));
        manifests.push(manifest_digest);
        configs.push(config_digest);
    }
    let (top, top_bytes, media_type) = if specs.len() == 1 {
        let (d, bytes) = single.unwrap();
        (d, bytes, "application/vnd.oci.image.manifest.v1+json")
    } else {
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": entries
        });
        let bytes = serde_json::to_vec(&index).unwrap();
        (put_blob(dir, &bytes), bytes, "application/vnd.oci.image.index.v1+json")
    };
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": media_type, "digest": top, "size": top_bytes.len(),
            "annotations": {"org.opencontainers.image.ref.name": tag}
        }]
    });
    fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    Layout { top, top_bytes, manifests, configs }
}
