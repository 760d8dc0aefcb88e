//! `push --format` and `copy --format` (issue 24): OCI ↔ Docker schema 2 conversion on the way, side by side
//! with skopeo's (the same bytes for the same input), the result pulled by podman; `v2s1` refused with nothing
//! pushed; without the flag the bytes stay as they are.

use std::path::Path;

use harness::hoist::{HoistWorld, hoist, insecure, json};
use harness::image::{ImageSpec, host_arch, oci};
use harness::podman::{Containers, layout, podman_id, skopeo_copy, skopeo_raw};
use harness::registry::{Options, Registry};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

#[test]
fn push_format_v2s2_and_copy_format_oci_write_what_skopeo_writes() {
    let reg = Registry::start(Options::default());
    let host = reg.host();
    let c = Containers::new(std::slice::from_ref(&host));
    let w = HoistWorld::new(&insecure(&host));
    let (dir, layout) = layout(&c, "one", &[ImageSpec::random(host_arch(), 2, 100_000, 7)]);
    let stored = format!("{host}/conv/app:v1");
    hoist(&w, &["copy", &oci(&dir), &format!("store:{stored}")]).expect_ok("hoist copy into the store");

    // Without --format: the OCI manifest byte for byte.
    hoist(&w, &["push", &stored, &format!("docker://{host}/conv/app:asis")]).expect_ok("push as is");
    assert_eq!(skopeo_raw(&c, &format!("docker://{host}/conv/app:asis")), layout.top_bytes);

    // --format v2s2: the schema 2 manifest skopeo writes for the same image, byte for byte; the config is
    // kept, so podman sees the same image ID.
    let out = hoist(&w, &["push", "--format", "v2s2", &stored, &format!("docker://{host}/conv/app:s2")]);
    out.expect_ok("hoist push --format v2s2");
    skopeo_copy(&c, &["--format", "v2s2"], &oci(&dir), &format!("docker://{host}/ref/app:s2"));
    let ours = skopeo_raw(&c, &format!("docker://{host}/conv/app:s2"));
    let theirs = skopeo_raw(&c, &format!("docker://{host}/ref/app:s2"));
    assert_eq!(json(&ours)["mediaType"], DOCKER_MANIFEST, "{}", String::from_utf8_lossy(&ours));
    assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&theirs), "hoist and skopeo agree");
    assert_eq!(json(&ours)["config"]["digest"], layout.configs[0]);
    let id = podman_id(&c, &format!("{host}/conv/app:s2"));
    assert_eq!(format!("sha256:{id}"), layout.configs[0], "the image ID is the config digest, unchanged");

    // --format oci of the schema 2 image (copy): what skopeo writes, config rewritten as containers/image does.
    let from = format!("docker://{host}/conv/app:s2");
    hoist(&w, &["copy", "--format", "oci", &from, &format!("docker://{host}/conv/app:back")])
        .expect_ok("copy --format oci");
    skopeo_copy(&c, &["--format", "oci"], &from, &format!("docker://{host}/ref/app:back"));
    let ours = skopeo_raw(&c, &format!("docker://{host}/conv/app:back"));
    let theirs = skopeo_raw(&c, &format!("docker://{host}/ref/app:back"));
    assert_eq!(json(&ours)["mediaType"], OCI_MANIFEST);
    assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&theirs), "hoist and skopeo agree");
    let config = json(&ours)["config"]["digest"].as_str().unwrap().to_owned();
    let id = podman_id(&c, &format!("{host}/conv/app:back"));
    assert_eq!(format!("sha256:{id}"), config);
}

#[test]
fn format_v2s1_and_unknown_are_refused_in_one_line_with_nothing_pushed() {
    let reg = Registry::start(Options::default());
    let host = reg.host();
    let c = Containers::new(std::slice::from_ref(&host));
    let w = HoistWorld::new(&insecure(&host));
    let (dir, _) = layout(&c, "refused", &[ImageSpec::random(host_arch(), 1, 10_000, 3)]);
    let stored = format!("{host}/conv/app:v1");
    hoist(&w, &["copy", &oci(&dir), &format!("store:{stored}")]).expect_ok("hoist copy into the store");
    for (format, must) in [("v2s1", "v2s1"), ("docker", "unknown manifest format")] {
        let dest = format!("docker://{host}/conv/refused:{format}");
        let out = hoist(&w, &["push", "--format", format, &stored, &dest]);
        assert_ne!(out.code, Some(0), "{out:?}");
        let err = out.err();
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{err}");
        assert!(lines[0].contains(must), "{err}");
        let inspect = c.skopeo(&["inspect", "--raw", "--tls-verify=false", &dest]);
        assert_ne!(inspect.code, Some(0), "nothing pushed: {inspect:?}");
    }
}

#[test]
fn copy_all_format_v2s2_turns_an_index_into_a_manifest_list() {
    let reg = Registry::start(Options::default());
    let host = reg.host();
    let c = Containers::new(std::slice::from_ref(&host));
    let w = HoistWorld::new(&insecure(&host));
    let other = if host_arch() == "amd64" { "arm64" } else { "amd64" };
    let specs = [ImageSpec::random(host_arch(), 1, 20_000, 1), ImageSpec::random(other, 1, 20_000, 2)];
    let (dir, layout) = layout(&c, "multi", &specs);
    let dest = format!("docker://{host}/conv/multi:s2");
    hoist(&w, &["copy", "--all", "--format", "v2s2", &oci(&dir), &dest]).expect_ok("copy --all --format v2s2");
    let list = json(&skopeo_raw(&c, &dest));
    assert_eq!(list["mediaType"], DOCKER_LIST, "{list}");
    let entries = list["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    for (entry, config) in entries.iter().zip(&layout.configs) {
        assert_eq!(entry["mediaType"], DOCKER_MANIFEST);
        let child = json(&skopeo_raw(&c, &format!("docker://{host}/conv/multi@{}", entry["digest"].as_str().unwrap())));
        assert_eq!(child["mediaType"], DOCKER_MANIFEST);
        assert_eq!(child["config"]["digest"], config.as_str());
    }
    // podman pulls the host's image out of the list.
    let id = podman_id(&c, &format!("{host}/conv/multi:s2"));
    assert_eq!(format!("sha256:{id}"), layout.configs[0]);
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// A `dir:` holding a Docker schema 2 image whose config has what Docker writes and OCI lacks
/// (`container_config`, `docker_version`, `Hostname`), history, labels and an environment with `<`, `&`, `>`.
fn docker_dir(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(5);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_cksum();
    tar.append_data(&mut header, "hello.txt", &b"hello"[..]).unwrap();
    let tar = tar.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    let layer = gz.finish().unwrap();
    let config = serde_json::json!({
        "architecture": host_arch(),
        "config": {
            "Hostname": "abc", "User": "app", "ExposedPorts": {"8080/tcp": {}, "443/tcp": {}},
            "Env": ["PATH=/bin", "X=<a&b>"], "Cmd": ["/bin/sh"], "WorkingDir": "/srv",
            "Labels": {"z": "1", "a": "<b>"}, "StopSignal": "SIGTERM", "Volumes": {"/data": {}}, "Entrypoint": null
        },
        "container_config": {"Hostname": "x"},
        "created": "2024-01-02T03:04:05.123456789Z",
        "docker_version": "20.10.7",
        "history": [
            {"created": "2024-01-02T03:04:05Z", "created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
            {"created": "2024-01-02T03:04:05Z", "created_by": "/bin/sh -c #(nop)  CMD [\"/bin/sh\"]", "empty_layer": true}
        ],
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", sha256_hex(&tar))]}
    });
    let config = serde_json::to_vec(&config).unwrap();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": config.len(),
                   "digest": format!("sha256:{}", sha256_hex(&config))},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": layer.len(),
                    "digest": format!("sha256:{}", sha256_hex(&layer))}]
    });
    std::fs::write(dir.join(sha256_hex(&config)), &config).unwrap();
    std::fs::write(dir.join(sha256_hex(&layer)), &layer).unwrap();
    std::fs::write(dir.join("manifest.json"), serde_json::to_vec(&manifest).unwrap()).unwrap();
    std::fs::write(dir.join("version"), "Directory Transport Version: 1.1\n").unwrap();
}

#[test]
fn a_docker_config_becomes_the_oci_config_skopeo_writes() {
    let reg = Registry::start(Options::default());
    let host = reg.host();
    let c = Containers::new(std::slice::from_ref(&host));
    let w = HoistWorld::new(&insecure(&host));
    let dir = c.path("docker-dir");
    docker_dir(&dir);
    let from = format!("docker://{host}/ref/rich:s2");
    skopeo_copy(&c, &[], &format!("dir:{}", dir.display()), &from);
    assert_eq!(json(&skopeo_raw(&c, &from))["mediaType"], DOCKER_MANIFEST);

    let ours = format!("docker://{host}/conv/rich:oci");
    hoist(&w, &["copy", "--format", "oci", &from, &ours]).expect_ok("copy --format oci");
    let theirs = format!("docker://{host}/ref/rich:oci");
    skopeo_copy(&c, &["--format", "oci"], &from, &theirs);
    let (ours, theirs) = (skopeo_raw(&c, &ours), skopeo_raw(&c, &theirs));
    assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&theirs), "hoist and skopeo agree");
    let config =
        c.skopeo(&["inspect", "--config", "--raw", "--tls-verify=false", &format!("docker://{host}/conv/rich:oci")]);
    let config = config.expect_ok("skopeo inspect --config").out();
    assert!(!config.contains("container_config") && config.contains("\\u003cb\\u003e"), "{config}");
}
