//! Image layouts and layer tars as the build comparisons (tests/build.rs against podman, tests/docker_build.rs
//! against BuildKit) make and read them: the one base image both build on, an OCI layout's image read back as
//! its config and layers, a layer tar read as the entries compared (path, kind, mode, owner, bytes).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::image::host_arch;

/// `sha256:HEX` of `data`.
pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// Writes `data` as a blob of the OCI layout at `dir`; its digest.
pub fn put_blob(dir: &Path, data: &[u8]) -> String {
    let d = sha256(data);
    std::fs::write(dir.join("blobs/sha256").join(&d[7..]), data).unwrap();
    d
}

/// Completes the OCI layout at `dir` around its one gzip layer (`layer`, `size` bytes) and `config`: the
/// config blob, the manifest, `index.json` naming it `v1`, and `oci-layout`.
pub fn finish_layout(dir: &Path, config: &[u8], layer: &str, size: usize) {
    let config_digest = put_blob(dir, config);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer, "size": size}]
    }))
    .unwrap();
    let md = put_blob(dir, &manifest);
    let index = json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": md, "size": manifest.len(), "annotations": {"org.opencontainers.image.ref.name": "v1"}}]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

/// A base image as an OCI layout tagged `v1`: /etc/passwd and /etc/group (users nginx 101, www 1000; group
/// staff 50), /usr/share/www/index.html, /usr/src, /var; Env PATH, Cmd /bin/sh, a label.
pub fn base_layout(dir: &Path) {
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    let mut b = tar::Builder::new(Vec::new());
    let entries: &[(&str, Option<&str>)] = &[
        ("etc/", None),
        ("etc/group", Some("root:x:0:\nnginx:x:101:\nstaff:x:50:\nwww:x:1000:\n")),
        (
            "etc/passwd",
            Some(
                "root:x:0:0:root:/root:/bin/sh\nnginx:x:101:101::/var/cache/nginx:/sbin/nologin\nwww:x:1000:1000::/home/www:/bin/sh\n",
            ),
        ),
        ("usr/", None),
        ("usr/share/", None),
        ("usr/share/www/", None),
        ("usr/share/www/index.html", Some("hello\n")),
        ("usr/src/", None),
        ("var/", None),
    ];
    for (path, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        match data {
            None => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                b.append_data(&mut h, path, std::io::empty()).unwrap();
            }
            Some(d) => {
                h.set_mode(0o644);
                h.set_size(d.len() as u64);
                b.append_data(&mut h, path, d.as_bytes()).unwrap();
            }
        }
    }
    let tar_bytes = b.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar_bytes).unwrap();
    let gz = gz.finish().unwrap();
    let layer = put_blob(dir, &gz);
    let config = serde_json::to_vec(&json!({
        "created": "2024-01-01T00:00:00Z", "architecture": host_arch(), "os": "linux",
        "config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"], "Cmd": ["/bin/sh"], "Labels": {"base": "yes"}},
        "rootfs": {"type": "layers", "diff_ids": [sha256(&tar_bytes)]},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "test base"}]
    }))
    .unwrap();
    finish_layout(dir, &config, &layer, gz.len());
}

/// One tar entry, as compared: kind (`d`, `l` symlink, `h` hard link, `-` file), mode, owner, and the bytes
/// (or the link's target).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub kind: char,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub data: Vec<u8>,
}

/// A layer's entries by path (no leading `./`, no trailing `/`).
pub type Layer = BTreeMap<String, Seen>;

/// The entries of a layer blob, gzip'd or not.
pub fn read_tar(blob: &[u8]) -> Layer {
    let mut raw = Vec::new();
    if blob.starts_with(&[0x1f, 0x8b]) {
        flate2::read::MultiGzDecoder::new(blob).read_to_end(&mut raw).unwrap();
    } else {
        raw = blob.to_vec();
    }
    let mut out = BTreeMap::new();
    for e in tar::Archive::new(&raw[..]).entries().unwrap() {
        let mut e = e.unwrap();
        let h = e.header().clone();
        let path = e.path().unwrap().to_string_lossy().trim_start_matches("./").trim_end_matches('/').to_owned();
        let mut data = Vec::new();
        let kind = match h.entry_type() {
            tar::EntryType::Directory => 'd',
            tar::EntryType::Symlink => {
                data = e.link_name().unwrap().unwrap().to_string_lossy().as_bytes().to_vec();
                'l'
            }
            tar::EntryType::Link => {
                data = e.link_name().unwrap().unwrap().to_string_lossy().as_bytes().to_vec();
                'h'
            }
            _ => {
                e.read_to_end(&mut data).unwrap();
                '-'
            }
        };
        if path.is_empty() {
            continue;
        }
        out.insert(
            path,
            Seen { kind, mode: h.mode().unwrap() & 0o7777, uid: h.uid().unwrap(), gid: h.gid().unwrap(), data },
        );
    }
    out
}

/// The config, the layers and the manifest of the image named `name` in the OCI layout at `dir` (hoist's
/// store is one).
pub fn read_layout(dir: &Path, name: &str) -> (Value, Vec<Layer>, Value) {
    let blob = |d: &str| std::fs::read(dir.join("blobs/sha256").join(d.strip_prefix("sha256:").unwrap())).unwrap();
    let index: Value = serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let entry = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {index}"));
    let manifest: Value = serde_json::from_slice(&blob(entry["digest"].as_str().unwrap())).unwrap();
    let config: Value = serde_json::from_slice(&blob(manifest["config"]["digest"].as_str().unwrap())).unwrap();
    let layers =
        manifest["layers"].as_array().unwrap().iter().map(|l| read_tar(&blob(l["digest"].as_str().unwrap()))).collect();
    (config, layers, manifest)
}

/// A layer as lines `PATH KIND MODE UID:GID`, for assertion messages.
pub fn show(layer: &Layer) -> Vec<String> {
    layer.iter().map(|(k, s)| format!("{k} {} {:o} {}:{}", s.kind, s.mode, s.uid, s.gid)).collect()
}

/// Writes `data` at `path` under `dir` (parents made) with `mode`: a build context's file.
pub fn write(dir: &Path, path: &str, data: &str, mode: u32) {
    let p = dir.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, data).unwrap();
    std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
}
