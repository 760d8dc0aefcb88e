//! Formats chosen where hoist makes or copies an image: `hoist build --format oci|docker` (and
//! `BUILDAH_FORMAT`) side by side with `podman build --format` on one context — the manifest, config and
//! layer media types skopeo sees after each pushes, the config fields podman keeps or drops and the warnings
//! it gives — and `hoist promote --format`/`--compression-format`: the destination converted, the source
//! still checked by its own digest, the output naming the destination's new digest.

use harness::Run;
use harness::hoist::HoistWorld;
use harness::podman::Containers;
use harness::registry::{Options, Registry};
use serde_json::{Value, json};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const OCI_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
const DOCKER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// The Dockerfile: every instruction podman's OCI format has no place for, and two it has.
const DOCKERFILE: &str = "FROM scratch\nCOPY a.txt /a.txt\nSHELL [\"/bin/bash\", \"-c\"]\n\
                          HEALTHCHECK --interval=5s CMD [\"/bin/check\"]\nONBUILD COPY a.txt /b.txt\n\
                          STOPSIGNAL SIGKILL\nCMD [\"/a\"]\n";

/// podman 4.3's warnings for `--format oci` of [`DOCKERFILE`], word for word.
const PODMAN_OCI_WARNINGS: [&str; 3] = [
    "SHELL is not supported for OCI image format, [/bin/bash -c] will be ignored. Must use `docker` format",
    "HEALTHCHECK is not supported for OCI image format and will be ignored. Must use `docker` format",
    "ONBUILD is not supported for OCI image format, COPY a.txt /b.txt will be ignored. Must use `docker` format",
];

fn insecure(host: &str) -> String {
    format!("unqualified-search-registries = []\n[[registry]]\nlocation = \"{host}\"\ninsecure = true\n")
}

fn hoist(w: &HoistWorld, args: &[&str]) -> Run {
    w.run(args, b"", &Vec::new())
}

fn hoist_env(w: &HoistWorld, args: &[&str], env: &[(&str, &str)]) -> Run {
    let extra = env.iter().map(|(k, v)| (k.into(), v.into())).collect();
    w.run(args, b"", &extra)
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

fn raw(c: &Containers, image: &str) -> Value {
    json(&c.skopeo(&["inspect", "--raw", "--tls-verify=false", image]).expect_ok("skopeo inspect --raw").stdout)
}

fn raw_config(c: &Containers, image: &str) -> Value {
    let out = c.skopeo(&["inspect", "--config", "--raw", "--tls-verify=false", image]);
    json(&out.expect_ok("skopeo inspect --config --raw").stdout)
}

/// The manifest's media type, its config's, and its layers'.
fn types(m: &Value) -> (String, String, Vec<String>) {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let layers = m["layers"].as_array().unwrap().iter().map(|l| s(&l["mediaType"])).collect();
    (s(&m["mediaType"]), s(&m["config"]["mediaType"]), layers)
}

/// The container config fields that differ between the formats.
fn docker_only(config: &Value) -> Value {
    let c = &config["config"];
    json!({"Shell": c["Shell"], "Healthcheck": c["Healthcheck"], "OnBuild": c["OnBuild"],
           "StopSignal": c["StopSignal"], "Cmd": c["Cmd"]})
}

/// The `Warning:` lines of hoist's stderr, without the prefix.
fn warnings(out: &Run) -> Vec<String> {
    out.err().lines().filter_map(|l| l.strip_prefix("Warning: ")).map(str::to_owned).collect()
}

fn one_line_error(out: &Run, must: &str) {
    assert_eq!(out.code, Some(125), "{out:?}");
    let err = out.err();
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].starts_with("Error: ") && lines[0].contains(must), "{must:?} in {err}");
}

/// A build context holding `a.txt` and [`DOCKERFILE`].
fn context(dir: &std::path::Path) -> String {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("a.txt"), "hello\n").unwrap();
    std::fs::write(dir.join("Dockerfile"), DOCKERFILE).unwrap();
    dir.to_str().unwrap().to_owned()
}

/// The image ID `hoist build` prints last on stdout.
fn built_id(out: &Run) -> String {
    out.out().lines().last().unwrap_or_default().to_owned()
}

#[test]
fn build_format_docker_and_oci_make_what_podman_makes_and_push_it_as_built() {
    let reg = Registry::start(Options::default());
    let host = reg.host();
    let c = Containers::new(std::slice::from_ref(&host));
    let w = HoistWorld::new(&insecure(&host));
    let ctx = context(&c.path("ctx"));

    let plain = hoist(&w, &["build", "--timestamp", "0", "-t", "plain", &ctx]).expect_ok("hoist build");
    for (format, expected) in
        [("docker", (DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_GZIP)), ("oci", (OCI_MANIFEST, OCI_CONFIG, OCI_GZIP))]
    {
        // podman builds, then pushes (compressing its layers with gzip, as it does by default).
        let local = format!("localhost/podman-{format}:1");
        let built = c.podman(&["build", "--format", format, "-t", &local, &ctx], b"").expect_ok("podman build");
        let pushed = format!("docker://{host}/podman/{format}:1");
        c.podman(&["push", "--tls-verify=false", &local, &pushed], b"").expect_ok("podman push");

        // hoist builds and pushes the same context in the same format.
        let name = format!("{host}/hoist/{format}:1");
        let out = hoist(&w, &["build", "--timestamp", "0", "--format", format, "--push", "-t", &name, &ctx])
            .expect_ok("hoist build --format --push");
        let ours = format!("docker://{name}");
        let (pm, hm) = (raw(&c, &pushed), raw(&c, &ours));
        let want = (expected.0.to_owned(), expected.1.to_owned(), vec![expected.2.to_owned()]);
        assert_eq!(types(&pm), want, "podman's {format}: {pm}");
        assert_eq!(types(&hm), want, "hoist's {format}: {hm}");
        if format == "docker" {
            assert!(hm.get("annotations").is_none() && pm.get("annotations").is_none(), "schema 2: {hm} / {pm}");
        }
        assert_eq!(hm["config"]["digest"].as_str().unwrap(), format!("sha256:{}", built_id(&out)), "the ID printed");

        // The config keeps or drops what podman's does, and says so as podman does.
        let (pc, hc) = (raw_config(&c, &pushed), raw_config(&c, &ours));
        assert_eq!(docker_only(&hc), docker_only(&pc), "{format}: the config fields");
        let said = warnings(&out);
        if format == "oci" {
            assert_eq!(hc["config"]["StopSignal"], "SIGKILL");
            assert!(hc["config"].get("Healthcheck").is_none(), "{hc}");
            assert_eq!(said, PODMAN_OCI_WARNINGS, "hoist's warnings");
            for warning in PODMAN_OCI_WARNINGS {
                assert!(built.err().contains(warning), "podman says {warning:?} too: {}", built.err());
            }
        } else {
            assert_eq!(
                hc["config"]["Healthcheck"],
                json!({"Test": ["CMD", "/bin/check"], "Interval": 5_000_000_000i64})
            );
            assert!(said.is_empty(), "{said:?}");
            // The Docker image's config is the default build's, byte for byte: one image ID.
            assert_eq!(built_id(&out), built_id(&plain), "docker keeps the config of a build without --format");
        }

        // podman pulls hoist's image and sees its format.
        c.podman(&["pull", "-q", "--tls-verify=false", &name], b"").expect_ok("podman pull");
        let inspected = c.podman(&["image", "inspect", "--format", "{{.ManifestType}}", &name], b"");
        assert_eq!(inspected.expect_ok("podman image inspect").out().trim(), expected.0);
    }
}

#[test]
fn build_format_defaults_to_buildah_format_and_refuses_unknown_names_before_work() {
    let w = HoistWorld::new(&insecure("127.0.0.1:1"));
    let ctx = context(&w.path("ctx"));
    let manifest = |name: &str| json(&hoist(&w, &["inspect", "--raw", name]).expect_ok("hoist inspect --raw").stdout);
    let config = |name: &str| json(&hoist(&w, &["inspect", "--config", name]).expect_ok("inspect --config").stdout);

    // No flag, no variable: OCI, with HEALTHCHECK, SHELL and ONBUILD kept as BuildKit keeps them, silently.
    let out = hoist(&w, &["build", "-t", "plain", &ctx]).expect_ok("hoist build");
    assert!(warnings(&out).is_empty(), "{}", out.err());
    assert_eq!(manifest("plain")["mediaType"], OCI_MANIFEST);
    assert_eq!(config("plain")["config"]["Shell"], json!(["/bin/bash", "-c"]));

    // BUILDAH_FORMAT gives the default, as podman reads it; --format wins.
    hoist_env(&w, &["build", "-t", "env-docker", &ctx], &[("BUILDAH_FORMAT", "docker")]).expect_ok("BUILDAH_FORMAT");
    assert_eq!(
        types(&manifest("env-docker")),
        (DOCKER_MANIFEST.into(), DOCKER_CONFIG.into(), vec![DOCKER_GZIP.into()])
    );
    let out = hoist_env(&w, &["build", "--format", "OCI", "-t", "flag-oci", &ctx], &[("BUILDAH_FORMAT", "docker")])
        .expect_ok("--format over BUILDAH_FORMAT");
    assert_eq!(warnings(&out), PODMAN_OCI_WARNINGS);
    assert_eq!(manifest("flag-oci")["mediaType"], OCI_MANIFEST);
    assert!(config("flag-oci")["config"].get("Shell").is_none());
    let out = hoist_env(&w, &["build", "-t", "empty-env", &ctx], &[("BUILDAH_FORMAT", "")]).expect_ok("empty: unset");
    assert!(warnings(&out).is_empty(), "{}", out.err());

    // Unknown names: one line, nothing built (the Dockerfile is fine; the format is checked first).
    one_line_error(&hoist(&w, &["build", "--format", "v2s2", "-t", "bad", &ctx]), "unrecognized image type \"v2s2\"");
    one_line_error(
        &hoist_env(&w, &["build", "-t", "bad", &ctx], &[("BUILDAH_FORMAT", "oops")]),
        "unrecognized image type \"oops\" (from BUILDAH_FORMAT): use oci or docker",
    );
    let images = hoist(&w, &["images", "--format", "{{.Repository}}"]).expect_ok("images").out();
    assert!(!images.contains("bad"), "{images}");
}

#[test]
fn promote_converts_on_the_way_and_names_the_destinations_digest() {
    let reg = Registry::start(Options::default());
    let host = reg.host();
    let c = Containers::new(std::slice::from_ref(&host));
    let w = HoistWorld::new(&insecure(&host));
    let ctx = context(&c.path("ctx"));
    let dev = format!("{host}/app:dev");
    hoist(&w, &["build", "--push", "-t", &dev, &ctx]).expect_ok("hoist build --push");
    let source = raw(&c, &format!("docker://{dev}"));
    assert_eq!(types(&source).0, OCI_MANIFEST);
    let src_digest = hoist(&w, &["digest", &format!("docker://{dev}")]).expect_ok("digest").out().trim().to_owned();
    let config = source["config"]["digest"].as_str().unwrap().to_owned();

    // --format v2s2: the destination is Docker schema 2; --expect-digest still checks the source's digest.
    let prod = format!("{host}/app:prod");
    let out = hoist(&w, &["promote", "-q", "--format", "v2s2", &dev, &prod, "--expect-digest", &src_digest])
        .expect_ok("promote --format v2s2");
    let converted = raw(&c, &format!("docker://{prod}"));
    assert_eq!(types(&converted), (DOCKER_MANIFEST.into(), DOCKER_CONFIG.into(), vec![DOCKER_GZIP.into()]));
    assert_eq!(converted["config"]["digest"], config.as_str(), "OCI → schema 2 keeps the config");
    let prod_digest = hoist(&w, &["digest", &format!("docker://{prod}")]).expect_ok("digest").out().trim().to_owned();
    assert_ne!(prod_digest, src_digest);
    let lines: Vec<String> = out.out().lines().map(str::to_owned).collect();
    assert_eq!(
        lines,
        [format!("source:      {dev} {src_digest}"), format!("destination: {prod} {prod_digest} (new tag)"),],
        "{}",
        out.out()
    );
    // Again: the destination already names that converted manifest.
    let out = hoist(&w, &["promote", "-q", "--format", "v2s2", &dev, &prod]).expect_ok("promote again");
    assert_eq!(out.out().lines().nth(1).unwrap(), format!("destination: {prod} {prod_digest} (unchanged)"));
    // A source that changed since it was tested is still refused, converted or not.
    let refused = hoist(&w, &["promote", "--format", "v2s2", &dev, &prod, "--expect-digest", &prod_digest]);
    assert_ne!(refused.code, Some(0), "{refused:?}");
    assert!(refused.err().contains(&src_digest), "{}", refused.err());

    // --compression-format zstd: zstd layers, the same config (image ID); podman pulls it.
    let zstd = format!("{host}/app:zstd");
    let out = hoist(&w, &["promote", "-q", "--compression-format", "zstd", "--compression-level", "5", &dev, &zstd])
        .expect_ok("promote --compression-format zstd");
    let z = raw(&c, &format!("docker://{zstd}"));
    assert_eq!(types(&z), (OCI_MANIFEST.into(), OCI_CONFIG.into(), vec![OCI_ZSTD.into()]));
    assert_eq!(z["config"]["digest"], config.as_str());
    let z_digest = hoist(&w, &["digest", &format!("docker://{zstd}")]).expect_ok("digest").out().trim().to_owned();
    assert!(out.out().contains(&format!("destination: {zstd} {z_digest} (new tag)")), "{}", out.out());
    c.podman(&["pull", "-q", "--tls-verify=false", &zstd], b"").expect_ok("podman pull of the zstd image");
    let id = c.podman(&["image", "inspect", "--format", "{{.Id}}", &zstd], b"").expect_ok("inspect").out();
    assert_eq!(format!("sha256:{}", id.trim()), config);

    // What cannot convert is refused in one line, and nothing is written: zstd layers in schema 2, v2s1.
    let never = format!("{host}/app:never");
    one_line_error(&hoist(&w, &["promote", "--format", "v2s2", &zstd, &never]), "zstd");
    one_line_error(&hoist(&w, &["promote", "--format", "v2s1", &dev, &never]), "v2s1");
    one_line_error(&hoist(&w, &["promote", "--compression-format", "lz4", &dev, &never]), "lz4");
    let absent = c.skopeo(&["inspect", "--raw", "--tls-verify=false", &format!("docker://{never}")]);
    assert!(!absent.ok(), "nothing at {never}");

    // A build on that zstd base cannot be Docker schema 2: one line, nothing named.
    let on_zstd = c.path("ctx-zstd");
    std::fs::create_dir_all(&on_zstd).unwrap();
    std::fs::write(on_zstd.join("Dockerfile"), format!("FROM {zstd}\nLABEL a=b\n")).unwrap();
    std::fs::write(on_zstd.join("a.txt"), "for the base's ONBUILD COPY\n").unwrap();
    let out = hoist(&w, &["build", "-q", "--format", "docker", "-t", "on-zstd", on_zstd.to_str().unwrap()]);
    one_line_error(&out, "--format docker: cannot convert to Docker schema 2");
    assert!(out.err().contains("zstd"), "{}", out.err());
    let images = hoist(&w, &["images", "--format", "{{.Repository}}"]).expect_ok("images").out();
    assert!(!images.contains("on-zstd"), "{images}");
}
