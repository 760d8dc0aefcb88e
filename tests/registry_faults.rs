//! `hoist pull` from a registry that misbehaves on purpose (harness::fake_registry): each fault gives the
//! right retry or one clear error, and nothing incomplete or unverified reaches the local store.

use std::process::Command;

use harness::fake_registry::{FakeRegistry, Fault};
use harness::image::{ImageSpec, write_layout};
use harness::{Run, bin, run};

struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new(insecure_host: &str) -> World {
        let dir = tempfile::Builder::new().prefix("hoist-faults-").tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("dropins")).unwrap();
        std::fs::write(
            dir.path().join("registries.conf"),
            format!(
                "unqualified-search-registries = []\n[[registry]]\nlocation = \"{insecure_host}\"\ninsecure = true\n"
            ),
        )
        .unwrap();
        World { dir }
    }

    fn hoist(&self, args: &[&str]) -> Run {
        let p = |s: &str| self.dir.path().join(s);
        let mut cmd = Command::new(bin("hoist"));
        cmd.args(args)
            .env_remove("REGISTRY_AUTH_FILE")
            .env("HOME", p("home"))
            .env("XDG_RUNTIME_DIR", p("runtime"))
            .env("HOIST_STORE", p("store"))
            .env("CONTAINERS_REGISTRIES_CONF", p("registries.conf"))
            .env("CONTAINERS_REGISTRIES_CONF_DIR", p("dropins"));
        run(&mut cmd, b"")
    }

    /// Every blob file in the store, and the temp files.
    fn store_files(&self) -> (Vec<String>, usize) {
        let list = |d: &str| -> Vec<String> {
            std::fs::read_dir(self.dir.path().join(d))
                .map(|e| e.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
                .unwrap_or_default()
        };
        (list("store/blobs/sha256"), list("store/tmp").len())
    }

    fn image_count(&self) -> usize {
        let out = self.hoist(&["images", "--format", "json"]).expect_ok("images");
        serde_json::from_str::<Vec<serde_json::Value>>(&out.out()).unwrap().len()
    }
}

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

fn fixture(name: &str) -> (tempfile::TempDir, harness::image::Layout) {
    let dir = tempfile::Builder::new().prefix(&format!("hoist-fake-{name}-")).tempdir().unwrap();
    let arch = if cfg!(target_arch = "aarch64") { "arm64" } else { "amd64" };
    let layout = write_layout(dir.path(), "v1", &[ImageSpec::random(arch, 2, 200_000, 42)]);
    (dir, layout)
}

fn layer_digests(dir: &std::path::Path, layout: &harness::image::Layout) -> Vec<String> {
    let hex = layout.top.strip_prefix("sha256:").unwrap();
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("blobs/sha256").join(hex)).unwrap()).unwrap();
    m["layers"].as_array().unwrap().iter().map(|l| l["digest"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn too_many_requests_and_server_errors_are_retried() {
    let (dir, layout) = fixture("retry");
    let reg = FakeRegistry::start(dir.path(), OCI_MANIFEST);
    let w = World::new(&reg.host());
    let layers = layer_digests(dir.path(), &layout);
    reg.fault("/manifests/v1", vec![Fault::TooMany(1)]);
    reg.fault(&format!("/blobs/{}", layers[0]), vec![Fault::ServerError, Fault::ServerError]);
    let started = std::time::Instant::now();
    let out = w.hoist(&["pull", &format!("{}/lib/app:v1", reg.host())]).expect_ok("pull with retries");
    assert!(started.elapsed() >= std::time::Duration::from_secs(1), "Retry-After: 1 was honoured");
    assert_eq!(out.out().trim(), layout.configs[0].strip_prefix("sha256:").unwrap());
    let manifest_gets = reg.seen().iter().filter(|s| s.path.ends_with("/manifests/v1") && s.method == "GET").count();
    assert_eq!(manifest_gets, 2, "one 429, one retry");
    let blob_gets = reg.seen().iter().filter(|s| s.path.ends_with(&layers[0])).count();
    assert_eq!(blob_gets, 3, "two 500s, then the blob");
}

#[test]
fn a_truncated_blob_is_resumed_with_range() {
    let (dir, layout) = fixture("truncate");
    let reg = FakeRegistry::start(dir.path(), OCI_MANIFEST);
    let w = World::new(&reg.host());
    let layers = layer_digests(dir.path(), &layout);
    reg.fault(&format!("/blobs/{}", layers[1]), vec![Fault::Truncate]);
    w.hoist(&["pull", &format!("{}/lib/app:v1", reg.host())]).expect_ok("pull resumed");
    let ranged: Vec<_> = reg.seen().into_iter().filter(|s| s.path.ends_with(&layers[1]) && s.range.is_some()).collect();
    assert_eq!(ranged.len(), 1, "one resume: {ranged:?}");
    assert_ne!(ranged[0].range.as_deref(), Some("bytes=0-"));
    let (blobs, temps) = w.store_files();
    assert!(blobs.contains(&layers[1].strip_prefix("sha256:").unwrap().to_owned()));
    assert_eq!(temps, 0);
}

#[test]
fn bytes_that_do_not_match_their_digest_never_reach_the_store() {
    let (dir, layout) = fixture("corrupt");
    let reg = FakeRegistry::start(dir.path(), OCI_MANIFEST);
    let w = World::new(&reg.host());
    let layers = layer_digests(dir.path(), &layout);
    reg.fault(&format!("/blobs/{}", layers[0]), vec![Fault::WrongBytes]);
    let image = format!("{}/lib/app:v1", reg.host());
    let out = w.hoist(&["pull", &image]);
    assert_ne!(out.code, Some(0));
    let err = out.err();
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("Error:")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains(&image) && errors[0].contains("digest"), "{err}");
    let (blobs, temps) = w.store_files();
    assert!(!blobs.contains(&layers[0].strip_prefix("sha256:").unwrap().to_owned()), "{blobs:?}");
    assert_eq!(temps, 0, "the temp file was removed");
    assert_eq!(w.image_count(), 0, "no image is visible");
    // A later pull from a healthy source completes, and prune then finds nothing to remove.
    reg.fault(&format!("/blobs/{}", layers[0]), vec![]);
    w.hoist(&["pull", &image]).expect_ok("pull after the fault");
    assert_eq!(w.image_count(), 1);
    let before = w.store_files();
    let pruned = w.hoist(&["prune", "-f"]).expect_ok("prune");
    assert_eq!((pruned.out(), w.store_files()), (String::new(), before), "no dangling image, no stray blob");
}

#[test]
fn a_registry_that_keeps_failing_is_one_clear_error() {
    let (dir, _layout) = fixture("down");
    let reg = FakeRegistry::start(dir.path(), OCI_MANIFEST);
    let w = World::new(&reg.host());
    reg.fault("/manifests/v1", vec![Fault::ServerError; 10]);
    let image = format!("{}/lib/app:v1", reg.host());
    let out = w.hoist(&["pull", &image]);
    assert_ne!(out.code, Some(0));
    let err = out.err();
    assert!(err.lines().filter(|l| l.starts_with("Error:")).count() == 1, "{err}");
    assert!(err.contains(&image) && err.contains("500"), "{err}");
    assert_eq!(w.image_count(), 0);
}

#[test]
fn tag_lists_are_read_across_every_page() {
    let (dir, _layout) = fixture("tags");
    let reg = FakeRegistry::start(dir.path(), OCI_MANIFEST);
    let w = World::new(&reg.host());
    let repo = format!("{}/lib/app", reg.host());
    let out = w.hoist(&["list-tags", "--page-size", "2", "--format", "text", &repo]).expect_ok("list-tags");
    assert_eq!(out.out(), "v1\nv2\nv3\nv4\nv5\n");
    let pages: Vec<_> = reg.seen().into_iter().filter(|s| s.path.contains("/tags/list")).collect();
    assert_eq!(pages.len(), 3, "three pages, each Link followed: {pages:?}");
    assert!(pages[1].path.contains("last=v2") && pages[2].path.contains("last=v4"), "{pages:?}");
    let json = w.hoist(&["list-tags", &repo]).expect_ok("list-tags json");
    let v: serde_json::Value = serde_json::from_str(&json.out()).unwrap();
    assert_eq!(v["Tags"], serde_json::json!(harness::fake_registry::TAGS));
}
