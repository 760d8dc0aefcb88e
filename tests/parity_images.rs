//! `hoist images` side by side with `podman images` (podman 4.3) on the same images from a local
//! distribution registry: the table (columns, layout, CREATED, SIZE), `-a`, `-q`, `-n`, `--no-trunc`,
//! `--digests`, `--sort`, `--filter` (alone and combined), the `REPOSITORY[:TAG]` argument, the errors, and
//! `--format json`'s keys and values. Then what hoist records for SIZE, and a layer it cannot measure.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::Path;

use flate2::write::GzEncoder;
use harness::Run;
use harness::hoist::HoistWorld;
use harness::podman::Containers;
use harness::registry::{Options, Registry};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn put(dir: &Path, data: &[u8]) -> String {
    let hex = sha256(data);
    fs::write(dir.join("blobs/sha256").join(&hex), data).unwrap();
    format!("sha256:{hex}")
}

/// A tar of one file of `size` seeded pseudo-random bytes, gzip'd; (layer descriptor, diff_id).
fn layer(dir: &Path, name: &str, size: usize, seed: u64) -> (Value, String) {
    let mut data = vec![0u8; size];
    fastrand::Rng::with_seed(seed).fill(&mut data);
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(size as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    b.append_data(&mut h, name, data.as_slice()).unwrap();
    let tar = b.into_inner().unwrap();
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let gz = gz.finish().unwrap();
    let d = put(dir, &gz);
    (
        json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": gz.len()}),
        format!("sha256:{}", sha256(&tar)),
    )
}

/// One image of the test layout.
struct Made {
    manifest: String,
    manifest_len: usize,
    config: String,
    layers: Vec<Value>,
    diff_ids: Vec<String>,
    history: Vec<Value>,
}

/// Writes an image (its `layers` on top of `base`'s) into the OCI layout `dir`, tagged `tag` in its
/// index.json.
fn image(dir: &Path, tag: &str, base: Option<&Made>, layers: &[(usize, u64)], labels: Value, created: &str) -> Made {
    fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    let (mut descs, mut diff_ids, mut history) = match base {
        Some(b) => (b.layers.clone(), b.diff_ids.clone(), b.history.clone()),
        None => (Vec::new(), Vec::new(), Vec::new()),
    };
    for (i, &(size, seed)) in layers.iter().enumerate() {
        let (d, diff) = layer(dir, &format!("{tag}-{i}"), size, seed);
        descs.push(d);
        diff_ids.push(diff);
        history.push(json!({"created": created, "created_by": format!("{tag} step {i}")}));
    }
    let config = json!({
        "created": created, "architecture": "amd64", "os": "linux",
        "config": {"Labels": labels, "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids}, "history": history,
    });
    let config = serde_json::to_vec(&config).unwrap();
    let config_digest = put(dir, &config);
    let manifest = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": descs,
    });
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let digest = put(dir, &manifest);
    let index_path = dir.join("index.json");
    let mut index: Value = fs::read(&index_path)
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap_or_else(|_| json!({"schemaVersion": 2, "manifests": []}));
    index["manifests"].as_array_mut().unwrap().push(json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": manifest.len(),
        "annotations": {"org.opencontainers.image.ref.name": tag}
    }));
    fs::write(&index_path, serde_json::to_vec(&index).unwrap()).unwrap();
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    Made { manifest: digest, manifest_len: manifest.len(), config: config_digest, layers: descs, diff_ids, history }
}

/// A copy of layout `from` at `to` whose index has only `m`, without a name: what `load` stores unnamed.
fn unnamed_layout(from: &Path, to: &Path, m: &Made) {
    fs::create_dir_all(to.join("blobs/sha256")).unwrap();
    for e in fs::read_dir(from.join("blobs/sha256")).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), to.join("blobs/sha256").join(e.file_name())).unwrap();
    }
    let index = json!({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": m.manifest, "size": m.manifest_len}
    ]});
    fs::write(to.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    fs::write(to.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

fn insecure(host: &str) -> String {
    format!("unqualified-search-registries = []\n[[registry]]\nlocation = \"{host}\"\ninsecure = true\n")
}

struct Side {
    c: Containers,
    w: HoistWorld,
}

impl Side {
    fn hoist(&self, args: &[&str]) -> Run {
        self.w.run(args, b"", &Vec::new())
    }
    fn podman(&self, args: &[&str]) -> Run {
        self.c.podman(args, b"")
    }
    /// `images ARGS` of both; both outputs (stdout) after checking both succeeded.
    fn both(&self, args: &[&str]) -> (String, String) {
        let mut full = vec!["images"];
        full.extend_from_slice(args);
        let h = self.hoist(&full).expect_ok(&format!("hoist images {args:?}"));
        let p = self.podman(&full).expect_ok(&format!("podman images {args:?}"));
        (h.out(), p.out())
    }
    fn same(&self, args: &[&str]) -> String {
        let (h, p) = self.both(args);
        assert_eq!(h, p, "hoist images {args:?} (left) differs from podman's (right)");
        h
    }
}

/// The images of the comparison: four named, one intermediate (a, under d), one dangling (e); labels, created
/// times and sizes that tell them apart.
#[test]
fn images_lists_filters_sorts_and_prints_json_as_podman() {
    let reg = Registry::start(Options::default());
    let host = reg.host();
    let side = Side { c: Containers::new(std::slice::from_ref(&host)), w: HoistWorld::new(&insecure(&host)) };
    let dir = side.w.path("layout");
    let a = image(&dir, "a", None, &[(100_000, 1), (50_000, 2)], json!({"k": "v", "x": "1"}), "2024-01-01T00:00:00Z");
    let _b =
        image(&dir, "b", None, &[(100_000, 3), (50_000, 4), (33_333, 5)], json!({"k": "w"}), "2024-06-01T00:00:00Z");
    let _c = image(&dir, "c", None, &[(100_000, 6)], json!({}), "2025-01-01T00:00:00.5Z");
    let d = image(&dir, "d", Some(&a), &[(5, 7)], json!({"child": "1"}), "2024-03-01T00:00:00Z");
    let e = image(&dir, "e", None, &[(20_000, 8)], json!({"k": "v"}), "2023-05-05T05:05:05Z");
    let policy = format!("--policy={}", side.c.policy.display());
    let tags = [("a", "lib/a:v1"), ("b", "lib/b:v2"), ("c", "lib/c:v3"), ("d", "lib/d:v4"), ("e", "lib/e:v6")];
    for (t, name) in tags {
        let src = format!("oci:{}:{t}", dir.display());
        side.c
            .skopeo(&["copy", &policy, "--dest-tls-verify=false", &src, &format!("docker://{host}/{name}")])
            .expect_ok("skopeo copy");
    }
    // podman: pull everything, a second name for b, then a and e lose their names.
    for (_, name) in tags {
        side.podman(&["pull", "-q", "--tls-verify=false", &format!("{host}/{name}")]).expect_ok("podman pull");
    }
    side.podman(&["tag", &format!("{host}/lib/b:v2"), &format!("{host}/two/b:v5")]).expect_ok("podman tag");
    for n in ["lib/a:v1", "lib/e:v6"] {
        side.podman(&["untag", &format!("{host}/{n}")]).expect_ok("podman untag");
    }
    // hoist: the named ones pulled, the second name, a and e loaded without a name (the same manifests).
    for n in ["lib/b:v2", "lib/c:v3", "lib/d:v4"] {
        side.hoist(&["pull", "-q", &format!("{host}/{n}")]).expect_ok("hoist pull");
    }
    side.hoist(&["tag", &format!("{host}/lib/b:v2"), &format!("{host}/two/b:v5")]).expect_ok("hoist tag");
    for (m, name) in [(&a, "una"), (&e, "une")] {
        let un = side.w.path(name);
        unnamed_layout(&dir, &un, m);
        side.hoist(&["load", "-i", un.to_str().unwrap()]).expect_ok("hoist load unnamed");
    }

    // The table, as podman prints it, byte for byte (CREATED and SIZE included).
    let table = side.same(&[]);
    let heading = table.lines().next().unwrap();
    assert!(
        heading.starts_with("REPOSITORY ") && heading.ends_with("TAG         IMAGE ID      CREATED        SIZE"),
        "{table}"
    );
    assert_eq!(table.lines().count(), 6, "c, b twice, d, e; a is intermediate:\n{table}");
    assert!(table.contains("<none>") && table.contains(" kB"), "{table}");
    for flags in [
        &["-a"][..],
        &["--all", "--digests"],
        &["--no-trunc"],
        &["-n"],
        &["--noheading", "--digests", "-a"],
        &["-q"],
        &["-qa", "--no-trunc"],
        &["--sort", "id", "-a"],
        &["--sort", "size"],
        &["--sort", "repository", "-a"],
        &["--sort", "tag"],
        &["--sort=created"],
    ] {
        side.same(flags);
    }
    // Go templates, as podman renders them: fields, `table` (a heading unless -n), escapes, functions.
    for format in [
        "{{.ID}}",
        "{{.Repository}}:{{.Tag}}",
        "{{.ID}} {{.Size}} {{.Dangling}}",
        "table {{.ID}}\t{{.Repository}}\t{{.Tag}}",
        "table {{.Repository}}\t{{.Size}}\t{{.Digest}}",
        "{{.ID}} {{upper .Repository}} {{json .Labels}}",
        "{{if .Dangling}}dangling{{else}}{{.Repository}}{{end}}",
    ] {
        let text = side.same(&["--format", format]);
        assert!(!text.is_empty(), "{format}");
        side.same(&["--format", format, "-n"]);
        side.same(&["--format", format, "-a", "--no-trunc"]);
    }
    let bad = side.hoist(&["images", "--format", "{{.ID"]);
    assert_eq!(bad.code, Some(125), "a bad template: {}", bad.err());
    assert!(bad.out().is_empty());
    let quiet = side.same(&["-q"]);
    assert_eq!(quiet.lines().count(), 4, "b's ID once:\n{quiet}");
    assert!(side.same(&["-a"]).lines().count() == 7);

    // Filters, alone and combined (one key: any; several keys: all), and the name argument.
    let since = &a.config["sha256:".len()..][..12];
    let before = format!("{host}/lib/c:v3");
    for filter in [
        vec!["dangling=true"],
        vec!["dangling=false"],
        vec!["dangling=true", "dangling=true"],
        vec!["label=k"],
        vec!["label=k=v"],
        vec!["label=k=v", "label=k=w"],
        vec!["label=k", "label=child"],
        vec!["label!=k"],
        vec!["label=k", "dangling=false"],
        vec!["reference=b"],
        vec!["reference=*/b"],
        vec!["reference=lib/*"],
        vec!["reference=b:v5"],
        vec!["reference=c", "reference=d"],
        vec!["reference=nothing"],
        vec![&format!("since={since}")],
        vec![&format!("before={before}")],
        vec![&format!("since={since}"), &format!("before={before}")],
        vec![&format!("after={since}"), "label=k"],
        vec![&format!("id={}", &d.config["sha256:".len()..])],
    ] {
        let mut args: Vec<&str> = Vec::new();
        for f in &filter {
            args.extend(["--filter", f]);
        }
        let out = side.same(&args);
        args.push("-a");
        side.same(&args);
        if filter == ["label=k", "dangling=false"] {
            assert_eq!(out.lines().count(), 3, "b's two rows:\n{out}");
        }
    }
    let dangling = side.same(&["--filter", "dangling=true", "-q", "--no-trunc"]);
    assert_eq!(dangling.trim(), e.config, "e is dangling; a (under d) is intermediate");
    for name in ["b", &format!("{host}/two/b:v5"), "lib/d", "nothing"] {
        side.same(&[name]);
        side.same(&[name, "--digests", "-a"]);
    }

    // Errors: exit 125 and podman's words (podman words the boolean one backwards; hoist says it right).
    for (args, words) in [
        (&["--filter", "bogus=1"][..], Some(r#"Error: unsupported image filter "bogus""#)),
        (
            &["--filter", "foo"],
            Some(r#"Error: invalid image filter "foo": must be in the format "filter=value or filter!=value""#),
        ),
        (
            &["--filter", "dangling=true", "--filter", "dangling=false"],
            Some(r#"Error: specifying "dangling" filter more than once with different values is not supported"#),
        ),
        (
            &["--sort", "bogus"],
            Some(r#"Error: "bogus" is not a valid field for sorting. Choose from: created, id, repository, size, tag"#),
        ),
        (&["--filter", "dangling=maybe"], None),
        (&["--filter", "since=nothing:here"], None),
    ] {
        let mut full = vec!["images"];
        full.extend_from_slice(args);
        let (h, p) = (side.hoist(&full), side.podman(&full));
        assert_eq!((h.code, p.code), (Some(125), Some(125)), "{args:?}: {}", h.err());
        assert_eq!(h.err().lines().count(), 1, "{args:?}: one line: {}", h.err());
        assert!(h.out().is_empty() && h.err().starts_with("Error: "), "{args:?}: {}", h.err());
        if let Some(w) = words {
            assert_eq!(h.err().trim_end(), w);
            // podman lists the sort keys in Go's map order, which changes from run to run: compared as a set.
            let keys = |s: &str| -> (String, Vec<String>) {
                match s.split_once("Choose from: ") {
                    Some((head, list)) => {
                        let mut k: Vec<String> = list.split(", ").map(String::from).collect();
                        k.sort();
                        (head.to_owned(), k)
                    }
                    None => (s.to_owned(), Vec::new()),
                }
            };
            assert_eq!(keys(p.err().trim_end()), keys(w), "podman's own words");
        }
    }
    let maybe = side.hoist(&["images", "--filter", "dangling=maybe"]);
    assert!(maybe.err().contains(r#"non-boolean value "maybe" for dangling filter"#), "{}", maybe.err());

    // JSON: podman's keys and values, image by image (podman repeats an image once per name; hoist does not).
    let (h, p) = side.both(&["--format", "json", "-a"]);
    let by_id = |s: &str| -> BTreeMap<String, Value> {
        let v: Vec<Value> = serde_json::from_str(s).unwrap();
        v.into_iter().map(|i| (i["Id"].as_str().unwrap().to_owned(), i)).collect()
    };
    let (h, p) = (by_id(&h), by_id(&p));
    assert_eq!(h.keys().collect::<Vec<_>>(), p.keys().collect::<Vec<_>>());
    assert_eq!(h.len(), 5);
    for (id, hi) in &h {
        let pi = &p[id];
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        let mut pk = keys(pi);
        if pi.get("Names").is_none() {
            // hoist always prints Names ([] here); podman leaves it out when empty.
            pk.insert(pk.iter().position(|k| k == "Digest").unwrap(), "Names".to_owned());
            assert_eq!(hi["Names"], json!([]));
        }
        if pi.get("History").is_some() && hi.get("History").is_none() {
            // podman remembers the names an image had; hoist keeps only those it has.
            pk.retain(|k| k != "History");
        }
        let hk = keys(hi);
        let (mut hs, mut ps) = (hk.clone(), pk.clone());
        hs.sort();
        ps.sort();
        assert_eq!(hs, ps, "{id}: the same keys");
        for k in [
            "Id",
            "ParentId",
            "RepoTags",
            "RepoDigests",
            "Size",
            "SharedSize",
            "VirtualSize",
            "Labels",
            "Containers",
            "Dangling",
            "Digest",
            "Created",
            "CreatedAt",
        ] {
            assert_eq!(hi.get(k), pi.get(k), "{id}: {k}");
        }
        if pi.get("Names").is_some() {
            assert_eq!(hi["Names"], pi["Names"], "{id}: Names");
            assert_eq!(hi["History"], pi["History"], "{id}: History");
        }
    }
    let d_id = &d.config["sha256:".len()..];
    assert_eq!(h[d_id]["ParentId"], a.config["sha256:".len()..], "d is built on a");
    assert_eq!(h[&e.config["sha256:".len()..]]["Dangling"], true);
    assert_eq!(h[d_id]["CreatedAt"], "2024-03-01T00:00:00Z");
    assert_eq!(h[d_id]["Created"], 1709251200);
    let c_id = &_c.config["sha256:".len()..];
    assert_eq!(h[c_id]["CreatedAt"], "2025-01-01T00:00:00Z", "whole seconds, as podman");
}

/// SIZE's layer sizes are recorded in the store as layers enter it (or when first needed) and used after; a store without the
/// records (older ones) measures them again; a layer that cannot be decompressed counts its compressed size,
/// with one warning, and the listing still works.
#[test]
fn layer_sizes_are_recorded_and_an_unreadable_layer_is_said() {
    let reg = Registry::start(Options::default());
    let host = reg.host();
    let side = Side { c: Containers::new(std::slice::from_ref(&host)), w: HoistWorld::new(&insecure(&host)) };
    let dir = side.w.path("layout");
    let made = image(&dir, "a", None, &[(100_000, 1)], json!({}), "2024-01-01T00:00:00Z");
    // A second image whose layer is a gzip stream cut short (the registry takes any bytes).
    let bad_dir = side.w.path("bad");
    fs::create_dir_all(bad_dir.join("blobs/sha256")).unwrap();
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&b"0123456789".repeat(10_000)).unwrap();
    let mut junk = gz.finish().unwrap();
    junk.truncate(junk.len() / 2);
    let junk_digest = put(&bad_dir, &junk);
    let config = serde_json::to_vec(&json!({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [junk_digest]}}))
    .unwrap();
    let config_digest = put(&bad_dir, &config);
    let manifest = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": junk_digest, "size": junk.len()}]}))
    .unwrap();
    let manifest_digest = put(&bad_dir, &manifest);
    fs::write(
        bad_dir.join("index.json"),
        serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest, "size": manifest.len(),
         "annotations": {"org.opencontainers.image.ref.name": "bad"}}]}))
        .unwrap(),
    )
    .unwrap();
    fs::write(bad_dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let policy = format!("--policy={}", side.c.policy.display());
    for (src, name) in
        [(format!("oci:{}:a", dir.display()), "lib/a:1"), (format!("oci:{}:bad", bad_dir.display()), "lib/bad:1")]
    {
        side.c
            .skopeo(&["copy", &policy, "--dest-tls-verify=false", &src, &format!("docker://{host}/{name}")])
            .expect_ok("skopeo");
        side.hoist(&["pull", "-q", &format!("{host}/{name}")]).expect_ok("hoist pull");
    }
    let sizes = |w: &HoistWorld| -> BTreeMap<String, u64> {
        let out = w.run(&["images", "--format", "json"], b"", &Vec::new()).expect_ok("images");
        let v: Vec<Value> = serde_json::from_str(&out.out()).unwrap();
        v.iter().map(|i| (i["Names"][0].as_str().unwrap().to_owned(), i["Size"].as_u64().unwrap())).collect()
    };
    // Recorded when `images` first needs them (a gzip'd layer is not inflated on its way in); the broken one not.
    let records = side.w.path("store/sizes/sha256");
    let good_layer = made.layers[0]["digest"].as_str().unwrap()["sha256:".len()..].to_owned();
    assert!(!records.join(&good_layer).exists(), "a gzip'd layer is not inflated by pull");
    assert!(!records.join(&junk_digest["sha256:".len()..]).exists());
    let first = side.hoist(&["images", "--format", "json"]).expect_ok("images");
    let warning = first.err();
    assert_eq!(warning.lines().count(), 1, "{warning}");
    assert!(warning.starts_with("Warning: layer ") && warning.contains(&junk_digest), "{warning}");
    assert!(warning.contains(&format!("counts {} compressed bytes", junk.len())), "{warning}");
    let recorded: u64 = fs::read_to_string(records.join(&good_layer)).unwrap().parse().unwrap();
    assert_eq!(recorded % 512, 0, "a tar's size: {recorded}");
    assert!(recorded > 100_000 && recorded < 120_000, "{recorded}");
    let listed = sizes(&side.w);
    let bad = &listed[&format!("{host}/lib/bad:1")];
    assert_eq!(*bad, (junk.len() + config.len() + 2 * manifest.len()) as u64);
    // Recorded: no warning the second time, the same sizes; the good layer's record is its tar's size.
    let second = side.hoist(&["images"]).expect_ok("images");
    assert!(second.err().is_empty(), "{}", second.err());
    assert_eq!(fs::read_to_string(records.join(&junk_digest["sha256:".len()..])).unwrap(), format!("~{}", junk.len()));
    // A store from before the records: measured again, the same.
    fs::remove_dir_all(side.w.path("store/sizes")).unwrap();
    assert_eq!(sizes(&side.w), listed);
    // A damaged record is measured again, not believed.
    fs::write(records.join(&good_layer), "garbage").unwrap();
    assert_eq!(sizes(&side.w), listed);
    // rmi's garbage collection takes a removed image's records with its blobs.
    side.hoist(&["rmi", &format!("{host}/lib/a:1")]).expect_ok("rmi");
    assert!(!records.join(&good_layer).exists());
    // podman agrees on the good image's size.
    side.podman(&["pull", "-q", "--tls-verify=false", &format!("{host}/lib/a:1")]).expect_ok("podman pull");
    let p: Vec<Value> =
        serde_json::from_str(&side.podman(&["images", "--format", "json"]).expect_ok("podman images").out()).unwrap();
    assert_eq!(p[0]["Size"], listed[&format!("{host}/lib/a:1")]);
}

/// A layer `hoist build` makes is recorded with its tar's size as it is written (no later measuring), and
/// `images` counts it: SIZE = the tar + the config + the manifest twice.
#[test]
fn a_built_layer_is_recorded_with_its_tar_size() {
    let w = HoistWorld::new("unqualified-search-registries = []\n");
    let ctx = w.path("ctx");
    fs::create_dir_all(&ctx).unwrap();
    fs::write(ctx.join("Dockerfile"), "FROM scratch\nCOPY data.bin /data.bin\nLABEL k=v\n").unwrap();
    let mut data = vec![0u8; 70_000];
    fastrand::Rng::with_seed(3).fill(&mut data);
    fs::write(ctx.join("data.bin"), &data).unwrap();
    w.run(&["build", "-q", "-t", "built:1", ctx.to_str().unwrap()], b"", &Vec::new()).expect_ok("build");
    let inspected = w.run(&["inspect", "--raw", "built:1"], b"", &Vec::new()).expect_ok("inspect --raw").out();
    let manifest: Value = serde_json::from_str(&inspected).unwrap();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap().to_owned();
    let record = w.path("store/sizes/sha256").join(&layer["sha256:".len()..]);
    let recorded: u64 = fs::read_to_string(&record).expect("recorded by build").parse().unwrap();
    // The blob, unpacked here: the record is its size.
    let blob = fs::read(w.path("store/blobs/sha256").join(&layer["sha256:".len()..])).unwrap();
    let mut tar = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(&blob[..]), &mut tar).unwrap();
    assert_eq!(recorded, tar.len() as u64);
    let listed = w.run(&["images", "--format", "json"], b"", &Vec::new()).expect_ok("images");
    assert!(listed.err().is_empty(), "{}", listed.err());
    let v: Vec<Value> = serde_json::from_str(&listed.out()).unwrap();
    let config = manifest["config"]["size"].as_u64().unwrap();
    assert_eq!(v[0]["Size"].as_u64().unwrap(), tar.len() as u64 + config + 2 * inspected.trim_end().len() as u64);
    assert_eq!(v[0]["Labels"], json!({"k": "v"}));
}
