//! zstd layers (issue 24): `push --compression-format`, `copy --dest-compress-format` recompress on the way
//! (gzip ↔ zstd, streamed), the config and so the image ID unchanged, podman pulling the result; an image
//! skopeo pushed with zstd layers pulled, saved, loaded and verified by hoist; refusals in one line with
//! nothing pushed.

use harness::Run;
use harness::hoist::{HoistWorld, hoist, insecure, json};
use harness::image::{ImageSpec, host_arch, oci};
use harness::podman::{Containers, layout, podman_id, skopeo_copy, skopeo_raw};
use harness::registry::{Options, Registry};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const ZSTD_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
const GZIP_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

fn raw(c: &Containers, image: &str) -> serde_json::Value {
    json(&skopeo_raw(c, image))
}

fn media_types(manifest: &serde_json::Value) -> Vec<String> {
    manifest["layers"].as_array().unwrap().iter().map(|l| l["mediaType"].as_str().unwrap().to_owned()).collect()
}

fn one_line_error(out: &Run, must: &str) {
    assert_ne!(out.code, Some(0), "{out:?}");
    let err = out.err();
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains(must), "{must:?} in {err}");
}

#[test]
fn push_compression_format_zstd_recompresses_gzip_layers_and_podman_pulls_the_same_image() {
    let reg = Registry::start(Options::default());
    let host = reg.host();
    let c = Containers::new(std::slice::from_ref(&host));
    let w = HoistWorld::new(&insecure(&host));
    let (dir, layout) = layout(&c, "one", &[ImageSpec::random(host_arch(), 3, 300_000, 11)]);
    let stored = format!("{host}/zstd/app:v1");
    hoist(&w, &["copy", &oci(&dir), &format!("store:{stored}")]).expect_ok("hoist copy into the store");

    let dest = format!("docker://{host}/zstd/app:z");
    hoist(&w, &["push", "--compression-format", "zstd", &stored, &dest]).expect_ok("push --compression-format zstd");
    let manifest = raw(&c, &dest);
    assert_eq!(manifest["mediaType"], OCI_MANIFEST, "{manifest}");
    assert_eq!(media_types(&manifest), [ZSTD_LAYER; 3], "{manifest}");
    assert_eq!(manifest["config"]["digest"], layout.configs[0], "the config is kept");
    // podman pulls it (checking each layer's uncompressed digest against the config's diff_ids): same image ID.
    let id = podman_id(&c, &format!("{host}/zstd/app:z"));
    assert_eq!(format!("sha256:{id}"), layout.configs[0], "the image ID is the config digest, unchanged");

    // The same push again gives the same bytes (libzstd's multithreaded output does not depend on threads).
    let again = format!("docker://{host}/zstd/again:z");
    hoist(&w, &["push", "--compression-format", "zstd", "--compression-level", "3", &stored, &again])
        .expect_ok("push again");
    assert_eq!(raw(&c, &again)["layers"], manifest["layers"]);

    // Back to gzip with `copy --dest-compress-format`.
    let back = format!("docker://{host}/zstd/app:gz");
    hoist(&w, &["copy", "--dest-compress-format", "gzip", &dest, &back]).expect_ok("copy --dest-compress-format gzip");
    let gz = raw(&c, &back);
    assert_eq!(media_types(&gz), [GZIP_LAYER; 3], "{gz}");
    assert_eq!(gz["config"]["digest"], layout.configs[0]);
    let id = podman_id(&c, &format!("{host}/zstd/app:gz"));
    assert_eq!(format!("sha256:{id}"), layout.configs[0]);

    // Layers already zstd stay as they are (same digests) unless --force-compression.
    let same = format!("docker://{host}/zstd/app:same");
    hoist(&w, &["copy", "--dest-compress-format", "zstd", &dest, &same]).expect_ok("copy zstd to zstd");
    assert_eq!(raw(&c, &same), manifest, "nothing recompressed, the manifest byte for byte");
}

#[test]
fn force_compression_recompresses_layers_already_in_the_format() {
    let reg = Registry::start(Options::default());
    let host = reg.host();
    let c = Containers::new(std::slice::from_ref(&host));
    let w = HoistWorld::new(&insecure(&host));
    let (dir, layout) = layout(&c, "force", &[ImageSpec::random(host_arch(), 2, 200_000, 5)]);
    let stored = format!("{host}/zstd/force:v1");
    hoist(&w, &["copy", &oci(&dir), &format!("store:{stored}")]).expect_ok("hoist copy into the store");
    let original = json(&layout.top_bytes);
    // gzip asked of gzip layers: nothing to do, byte for byte ...
    let asis = format!("docker://{host}/zstd/force:asis");
    hoist(&w, &["push", "--compression-format", "gzip", &stored, &asis]).expect_ok("push gzip of gzip");
    assert_eq!(raw(&c, &asis), original);
    // ... unless forced: recompressed (hoist's gzip is not the harness's fast one), the config kept.
    let forced = format!("docker://{host}/zstd/force:forced");
    hoist(&w, &["push", "--compression-format", "gzip", "--force-compression", &stored, &forced])
        .expect_ok("push --force-compression");
    let m = raw(&c, &forced);
    assert_eq!(media_types(&m), [GZIP_LAYER; 2], "{m}");
    assert_ne!(m["layers"], original["layers"], "recompressed");
    assert_eq!(m["config"]["digest"], layout.configs[0]);
    let id = podman_id(&c, &format!("{host}/zstd/force:forced"));
    assert_eq!(format!("sha256:{id}"), layout.configs[0]);
}

#[test]
fn an_image_skopeo_pushed_with_zstd_layers_pulls_saves_loads_and_verifies() {
    let reg = Registry::start(Options::default());
    let host = reg.host();
    let c = Containers::new(std::slice::from_ref(&host));
    let w = HoistWorld::new(&insecure(&host));
    let (dir, layout) = layout(&c, "skopeo", &[ImageSpec::random(host_arch(), 2, 150_000, 9)]);
    let name = format!("{host}/zstd/theirs:v1");
    skopeo_copy(&c, &["--dest-compress-format", "zstd"], &oci(&dir), &format!("docker://{name}"));
    let manifest = raw(&c, &format!("docker://{name}"));
    assert_eq!(media_types(&manifest), [ZSTD_LAYER; 2], "{manifest}");

    hoist(&w, &["pull", &name]).expect_ok("hoist pull of zstd layers");
    let archive = c.path("theirs.tar");
    hoist(&w, &["save", "--format", "oci-archive", "-o", archive.to_str().unwrap(), &name]).expect_ok("save");
    let out = hoist(&w, &["verify", archive.to_str().unwrap()]);
    out.expect_ok("verify the saved archive");
    hoist(&w, &["rmi", &name]).expect_ok("rmi");
    hoist(&w, &["load", "-i", archive.to_str().unwrap()]).expect_ok("load the zstd archive");
    let pushed = format!("docker://{host}/zstd/theirs:back");
    hoist(&w, &["push", &name, &pushed]).expect_ok("push back as is");
    assert_eq!(raw(&c, &pushed), manifest, "the zstd layers kept byte for byte");
    let id = podman_id(&c, &format!("{host}/zstd/theirs:back"));
    assert_eq!(format!("sha256:{id}"), layout.configs[0]);
}

#[test]
fn bad_compression_requests_are_refused_in_one_line_with_nothing_pushed() {
    let reg = Registry::start(Options::default());
    let host = reg.host();
    let c = Containers::new(std::slice::from_ref(&host));
    let w = HoistWorld::new(&insecure(&host));
    let (dir, _) = layout(&c, "refused", &[ImageSpec::random(host_arch(), 1, 10_000, 3)]);
    let stored = format!("{host}/zstd/refused:v1");
    hoist(&w, &["copy", &oci(&dir), &format!("store:{stored}")]).expect_ok("hoist copy into the store");
    let cases: &[(&[&str], &str)] = &[
        (&["--compression-format", "zstd:chunked"], "\"zstd:chunked\" is not supported by hoist: use gzip or zstd"),
        (&["--compression-format", "xz"], "unknown compression format \"xz\": use gzip or zstd"),
        (&["--compression-format", "zstd", "--compression-level", "21"], "out of range for zstd: use 1 to 20"),
        (&["--compression-format", "gzip", "--compression-level", "-1"], "out of range for gzip: use 1 to 9"),
        (&["--compression-level", "5"], "needs a compression format"),
        (&["--compression-format", "zstd", "--format", "v2s2"], "zstd compression is not supported for docker images"),
    ];
    for (i, (flags, must)) in cases.iter().enumerate() {
        let dest = format!("docker://{host}/zstd/refused:{i}");
        let mut args = vec!["push"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&[&stored, &dest]);
        one_line_error(&hoist(&w, &args), must);
        let inspect = c.skopeo(&["inspect", "--raw", "--tls-verify=false", &dest]);
        assert_ne!(inspect.code, Some(0), "nothing pushed: {inspect:?}");
    }
    let out = hoist(&w, &["copy", "--dest-compress-format", "lz4", &oci(&dir), &format!("docker://{host}/zstd/x:y")]);
    one_line_error(&out, "unknown compression format \"lz4\"");
}

#[test]
fn zstd_of_a_schema2_image_makes_an_oci_manifest() {
    let reg = Registry::start(Options::default());
    let host = reg.host();
    let c = Containers::new(std::slice::from_ref(&host));
    let w = HoistWorld::new(&insecure(&host));
    let (dir, _) = layout(&c, "s2", &[ImageSpec::random(host_arch(), 2, 50_000, 4)]);
    let s2 = format!("docker://{host}/zstd/s2:v1");
    skopeo_copy(&c, &["--format", "v2s2"], &oci(&dir), &s2);
    assert_eq!(raw(&c, &s2)["mediaType"], DOCKER_MANIFEST);
    let dest = format!("docker://{host}/zstd/s2:z");
    hoist(&w, &["copy", "--dest-compress-format", "zstd", &s2, &dest]).expect_ok("copy schema 2 to zstd");
    let m = raw(&c, &dest);
    assert_eq!(m["mediaType"], OCI_MANIFEST, "{m}");
    assert_eq!(media_types(&m), [ZSTD_LAYER; 2], "{m}");
    // The config converted as containers/image converts it: podman's image ID is the new config's digest.
    let id = podman_id(&c, &format!("{host}/zstd/s2:z"));
    assert_eq!(format!("sha256:{id}"), m["config"]["digest"].as_str().unwrap());
}

#[test]
fn zstd_layers_save_as_docker_archive_refuse_dir_and_serve_as_a_build_base() {
    let reg = Registry::start(Options::default());
    let host = reg.host();
    let c = Containers::new(std::slice::from_ref(&host));
    let w = HoistWorld::new(&insecure(&host));
    let (dir, layout) = layout(&c, "everywhere", &[ImageSpec::random(host_arch(), 2, 120_000, 21)]);
    let stored = format!("{host}/zstd/base:v1");
    hoist(&w, &["copy", &oci(&dir), &format!("store:{stored}")]).expect_ok("hoist copy into the store");
    let z = format!("{host}/zstd/base:z");
    hoist(&w, &["push", "--compression-format", "zstd", &stored, &format!("docker://{z}")]).expect_ok("push zstd");
    hoist(&w, &["rmi", &stored]).expect_ok("rmi the gzip one");
    hoist(&w, &["pull", &z]).expect_ok("pull the zstd one");

    // docker-archive holds layers uncompressed: the zstd ones are decompressed; podman loads the same image.
    let tar = c.path("z-docker.tar");
    hoist(&w, &["save", "-o", tar.to_str().unwrap(), &z]).expect_ok("save as docker-archive");
    hoist(&w, &["verify", tar.to_str().unwrap()]).expect_ok("verify the docker-archive");
    let loaded = c.podman(&["load", "-i", tar.to_str().unwrap()], b"").expect_ok("podman load");
    assert!(
        loaded.out().contains(&layout.configs[0]["sha256:".len()..]) || loaded.out().contains(&z),
        "{}",
        loaded.out()
    );
    let id = c.podman(&["image", "inspect", "--format", "{{.Id}}", &z], b"").expect_ok("podman image inspect");
    assert_eq!(format!("sha256:{}", id.out().trim()), layout.configs[0]);

    // A docker-dir (podman save's, schema 2) cannot hold zstd: refused in one line, naming zstd, nothing left.
    let target = c.path("z-dir");
    let out = hoist(&w, &["save", "--format", "docker-dir", "-o", target.to_str().unwrap(), &z]);
    one_line_error(&out, "zstd");
    assert!(!target.exists(), "nothing half-written");

    // Built FROM the zstd base: its files are read through libzstd; the new image runs in podman's hands.
    let ctx = c.path("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), format!("FROM {z}\nCOPY hello /hello\n")).unwrap();
    std::fs::write(ctx.join("hello"), "hi\n").unwrap();
    let built = format!("{host}/zstd/built:1");
    hoist(&w, &["build", "-t", &built, ctx.to_str().unwrap()]).expect_ok("build FROM a zstd base");
    hoist(&w, &["push", &built]).expect_ok("push the build");
    let m = raw(&c, &format!("docker://{built}"));
    let layers = media_types(&m);
    assert_eq!(layers.len(), 3, "{m}");
    assert_eq!(layers[..2], [ZSTD_LAYER; 2], "the base's layers kept as they are: {m}");
    podman_id(&c, &built);
}
