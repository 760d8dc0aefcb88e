//! `hoist save`, `hoist load`, `hoist verify` and the archive transports, with real podman and skopeo on the
//! other side: every format podman writes loads into hoist with the same config digests and names; every
//! format hoist writes loads into podman and reads in skopeo with the same config digest and diff_ids (and a
//! docker-archive is byte for byte podman's); a docker ≥ 25 archive made here from the format's description
//! loads; hostile archives are refused and leave the store unchanged; `verify` finds planted corruption; a
//! 1 GiB layer loads and saves in bounded memory.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use harness::hoist::HoistWorld;
use harness::image::{ImageSpec, Layout, write_layout};
use harness::podman::Containers;
use harness::{Run, run};
use sha2::{Digest as _, Sha256};

/// An isolated hoist (harness::hoist::HoistWorld) with the shorthands these tests use.
struct World(HoistWorld);

impl World {
    fn new() -> World {
        World(HoistWorld::new("unqualified-search-registries = []\n"))
    }

    fn path(&self, s: &str) -> PathBuf {
        self.0.path(s)
    }

    fn command(&self, args: &[&str]) -> Command {
        self.0.command(args, &Vec::new())
    }

    fn hoist(&self, args: &[&str]) -> Run {
        run(&mut self.command(args), b"")
    }

    fn hoist_in(&self, args: &[&str], input: &[u8]) -> Run {
        run(&mut self.command(args), input)
    }

    fn images(&self) -> Vec<serde_json::Value> {
        let out = self.hoist(&["images", "--format", "json"]).expect_ok("hoist images");
        serde_json::from_str(&out.out()).unwrap()
    }

    /// The store's index.json and blob files: what "unchanged" means.
    fn store_state(&self) -> (Vec<u8>, Vec<String>) {
        self.0.store_state()
    }

    /// The image with this ID, and its names.
    fn names_of(&self, id: &str) -> Vec<String> {
        let images = self.images();
        let with_id: Vec<&serde_json::Value> = images.iter().filter(|i| i["Id"] == id).collect();
        assert!(!with_id.is_empty(), "no image {id} in {}", serde_json::to_string_pretty(&images).unwrap());
        with_id
            .iter()
            .flat_map(|i| i["Names"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_owned()))
            .collect()
    }
}

fn sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => panic!("no test image for {other}"),
    }
}

/// A two-layer image in an OCI layout (gzip layers), tagged `v1`.
fn layout(dir: &Path, seed: u64) -> Layout {
    write_layout(dir, "v1", &[ImageSpec::random(host_arch(), 2, 48 * 1024, seed)])
}

/// The config's diff_ids.
fn diff_ids(config: &[u8]) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(config).unwrap();
    v["rootfs"]["diff_ids"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_owned()).collect()
}

fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap()
}

/// podman with an image named `example.com/test/app:v1` and `example.com/test/other:v2`, from a layout.
fn podman_with_image(c: &Containers, seed: u64) -> (Layout, Vec<u8>) {
    let dir = c.path("layout");
    let l = layout(&dir, seed);
    let policy = format!("--policy={}", c.policy.display());
    let src = format!("oci:{}:v1", dir.display());
    c.skopeo(&["copy", "-q", &policy, &src, "containers-storage:example.com/test/app:v1"])
        .expect_ok("skopeo copy oci: → containers-storage:");
    let id = hex_of(&l.configs[0]).to_owned();
    c.podman(&["tag", &id, "example.com/test/other:v2"], b"").expect_ok("podman tag");
    let config = std::fs::read(dir.join("blobs/sha256").join(&id)).unwrap();
    (l, config)
}

fn loaded_lines(out: &Run) -> Vec<String> {
    out.out().lines().map(str::to_owned).collect()
}

#[test]
fn podman_saves_in_every_format_and_hoist_loads_it() {
    let c = Containers::new(&[]);
    let (l, _) = podman_with_image(&c, 1);
    let id = hex_of(&l.configs[0]).to_owned();
    let w = World::new();
    for (format, name) in [
        ("docker-archive", "example.com/test/app:v1"),
        ("oci-archive", "example.com/test/app:v1"),
        ("oci-dir", "example.com/test/app:v1"),
        ("docker-dir", ""),
    ] {
        let out = c.path(&format!("saved-{format}"));
        c.podman(&["save", "-q", "--format", format, "-o", out.to_str().unwrap(), "example.com/test/app:v1"], b"")
            .expect_ok("podman save");
        let loaded = w.hoist(&["load", "-q", "-i", out.to_str().unwrap()]).expect_ok("hoist load");
        let want = if name.is_empty() { format!("Loaded image: sha256:{id}") } else { format!("Loaded image: {name}") };
        assert_eq!(loaded_lines(&loaded), [want], "{format}: {}", loaded.err());
        if !name.is_empty() {
            assert!(w.names_of(&id).contains(&name.to_owned()), "{format}");
        } else {
            w.names_of(&id); // present, by its ID
        }
        w.hoist(&["verify", out.to_str().unwrap()]).expect_ok(&format!("hoist verify of podman's {format}"));
    }
    // -m: one docker-archive with two names; and stdin, gzip'd and zstd'd.
    let multi = c.path("multi.tar");
    c.podman(
        &["save", "-q", "-m", "-o", multi.to_str().unwrap(), "example.com/test/app:v1", "example.com/test/other:v2"],
        b"",
    )
    .expect_ok("podman save -m");
    let w = World::new();
    let bytes = std::fs::read(&multi).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&bytes).unwrap();
    let zst = zstd::encode_all(&bytes[..], 1).unwrap();
    for (what, input) in [("plain", bytes.clone()), ("gzip", gz.finish().unwrap()), ("zstd", zst)] {
        let loaded = w.hoist_in(&["load", "-q"], &input).expect_ok(&format!("hoist load from stdin ({what})"));
        assert_eq!(
            loaded_lines(&loaded),
            ["Loaded image: example.com/test/app:v1", "Loaded image: example.com/test/other:v2"],
            "{what}"
        );
    }
    let names = w.names_of(&id);
    assert!(
        names.contains(&"example.com/test/app:v1".to_owned())
            && names.contains(&"example.com/test/other:v2".to_owned())
    );
}

#[test]
fn hoist_saves_in_every_format_and_podman_and_skopeo_read_it() {
    let c = Containers::new(&[]);
    let (l, config) = podman_with_image(&c, 2);
    let id = hex_of(&l.configs[0]).to_owned();
    let want_diffs = diff_ids(&config);
    let w = World::new();
    let layout_dir = c.path("layout");
    w.hoist(&["copy", "-q", &format!("oci:{}:v1", layout_dir.display()), "store:example.com/test/app:v1"])
        .expect_ok("hoist copy oci: → store:");
    w.hoist(&["tag", "example.com/test/app:v1", "example.com/test/other:v2"]).expect_ok("hoist tag");
    let policy = format!("--policy={}", c.policy.display());

    // docker-archive: byte for byte what podman writes for the same image.
    let ours = w.path("ours.tar");
    let theirs = c.path("theirs.tar");
    w.hoist(&["save", "-q", "-o", ours.to_str().unwrap(), "app:v1"]).expect_ok("hoist save");
    c.podman(&["save", "-q", "-o", theirs.to_str().unwrap(), "example.com/test/app:v1"], b"").expect_ok("podman save");
    let mode = |p: &Path| std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(p).unwrap().permissions()) & 0o777;
    assert_eq!(mode(&ours), mode(&theirs), "the archive's mode is podman's");
    let (a, b) = (std::fs::read(&ours).unwrap(), std::fs::read(&theirs).unwrap());
    let first_difference = a.iter().zip(&b).position(|(x, y)| x != y);
    assert!(
        a == b,
        "hoist's docker-archive is podman's: {} vs {} bytes, first difference at {first_difference:?}",
        a.len(),
        b.len()
    );

    // podman names an image loaded from an oci-dir after the directory's path, which must then be lowercase.
    let lower = LowerDir::new();
    for format in ["docker-archive", "oci-archive", "oci-dir", "docker-dir"] {
        let out = lower.0.join(format!("save-{format}"));
        w.hoist(&["save", "-q", "--format", format, "-o", out.to_str().unwrap(), id.get(..12).unwrap()])
            .expect_ok(&format!("hoist save --format {format} by ID"));
        w.hoist(&["verify", out.to_str().unwrap()]).expect_ok(&format!("hoist verify of its own {format}"));
        // skopeo reads it: same config digest and diff_ids.
        let transport = match format {
            "docker-archive" => format!("docker-archive:{}", out.display()),
            "oci-archive" => format!("oci-archive:{}", out.display()),
            "oci-dir" => format!("oci:{}", out.display()),
            _ => format!("dir:{}", out.display()),
        };
        let raw = c.skopeo(&["inspect", &policy, "--raw", &transport]).expect_ok(&format!("skopeo inspect {format}"));
        let manifest: serde_json::Value = serde_json::from_slice(&raw.stdout).unwrap();
        assert_eq!(manifest["config"]["digest"], format!("sha256:{id}"), "{format}");
        let cfg = c.skopeo(&["inspect", &policy, "--config", "--raw", &transport]).expect_ok("skopeo inspect --config");
        assert_eq!(sha256(&cfg.stdout), id, "{format}: the config is unchanged");
        assert_eq!(diff_ids(&cfg.stdout), want_diffs, "{format}");
        // podman loads it: same image ID and diff_ids.
        c.podman(&["rmi", "-a", "-f"], b"").expect_ok("podman rmi");
        let loaded = c.podman(&["load", "-i", out.to_str().unwrap()], b"").expect_ok(&format!("podman load {format}"));
        assert!(loaded.out().contains("Loaded image"), "{format}: {}", loaded.out());
        let inspect = c.podman(&["image", "inspect", &id], b"").expect_ok("podman image inspect");
        let v: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
        assert_eq!(v[0]["Id"], id.as_str(), "{format}");
        let layers: Vec<String> =
            v[0]["RootFS"]["Layers"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_owned()).collect();
        assert_eq!(layers, want_diffs, "{format}");
    }

    // -m with two names: podman loads both; an oci-archive holds both refs for skopeo.
    let multi = w.path("multi.tar");
    w.hoist(&[
        "save",
        "-q",
        "-m",
        "-o",
        multi.to_str().unwrap(),
        "example.com/test/app:v1",
        "example.com/test/other:v2",
    ])
    .expect_ok("hoist save -m");
    c.podman(&["rmi", "-a", "-f"], b"").expect_ok("podman rmi");
    let loaded = c.podman(&["load", "-i", multi.to_str().unwrap()], b"").expect_ok("podman load -m");
    assert!(loaded.out().contains("example.com/test/app:v1") && loaded.out().contains("example.com/test/other:v2"));
    let oam = w.path("multi-oci.tar");
    w.hoist(&["save", "-q", "-m", "--format", "oci-archive", "-o", oam.to_str().unwrap(), "app:v1", "other:v2"])
        .expect_ok("hoist save -m oci-archive");
    for r in ["example.com/test/app:v1", "example.com/test/other:v2"] {
        let raw = c.skopeo(&["inspect", &policy, "--raw", &format!("oci-archive:{}:{r}", oam.display())]).expect_ok(r);
        let m: serde_json::Value = serde_json::from_slice(&raw.stdout).unwrap();
        assert_eq!(m["config"]["digest"], format!("sha256:{id}"));
    }

    // stdout when it is not a terminal, straight into podman load.
    let piped = w.hoist(&["save", "-q", "app:v1"]).expect_ok("hoist save to stdout");
    assert_eq!(piped.stdout, std::fs::read(&ours).unwrap(), "stdout gets the same archive");
    c.podman(&["rmi", "-a", "-f"], b"").expect_ok("podman rmi");
    c.podman(&["load"], &piped.stdout).expect_ok("podman load from stdin");

    // The same formats as copy transports, and back into the store.
    for (i, dst) in [
        format!("docker-archive:{}:example.com/copied/a:1", w.path("c.tar").display()),
        format!("oci-archive:{}:r1", w.path("c-oci.tar").display()),
        format!("oci:{}:r1", w.path("c-oci").display()),
        format!("dir:{}", w.path("c-dir").display()),
    ]
    .iter()
    .enumerate()
    {
        w.hoist(&["copy", "-q", "store:app:v1", dst]).expect_ok(&format!("hoist copy to {dst}"));
        let back = format!("store:example.com/back/n{i}:latest");
        w.hoist(&["copy", "-q", dst, &back]).expect_ok(&format!("hoist copy from {dst}"));
        let inspect = w.hoist(&["inspect", "--config", &back[6..]]).expect_ok("hoist inspect --config");
        assert_eq!(sha256(inspect.out().trim_end().as_bytes()), id, "{dst}");
    }
}

/// A temp directory whose path is all lowercase (removed when dropped).
struct LowerDir(PathBuf);

impl LowerDir {
    fn new() -> LowerDir {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let dir = std::env::temp_dir().join(format!("hoist-lc-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        LowerDir(dir)
    }
}

impl Drop for LowerDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A raw tar built entry by entry, so hostile entries reach the archive as a hostile tool writes them.
#[derive(Default)]
struct RawTar(Vec<u8>);

impl RawTar {
    fn entry(&mut self, name: &str, kind: u8, data: &[u8], link: &str, declared: Option<u64>) -> &mut Self {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..108].copy_from_slice(b"0000644\0");
        h[108..116].copy_from_slice(b"0000000\0");
        h[116..124].copy_from_slice(b"0000000\0");
        let size = declared.unwrap_or(data.len() as u64);
        h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
        h[136..148].copy_from_slice(b"00000000000\0");
        h[156] = kind;
        h[157..157 + link.len()].copy_from_slice(link.as_bytes());
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        self.0.extend_from_slice(&h);
        self.0.extend_from_slice(data);
        self.0.resize(self.0.len().div_ceil(512) * 512, 0);
        self
    }
    fn file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        self.entry(name, b'0', data, "", None)
    }
    fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.entry(name, b'2', b"", target, None)
    }
    fn finish(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.0);
        out.resize(out.len() + 1024, 0);
        out
    }
}

/// An uncompressed layer (a tar) holding `name` with `content`.
fn layer_tar(name: &str, content: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, name, content).unwrap();
    b.into_inner().unwrap()
}

/// The parts of a one-image docker-archive, to assemble as a test likes.
struct Parts {
    layer: Vec<u8>,
    diff: String,
    config: Vec<u8>,
    config_hex: String,
}

fn parts(content: &[u8]) -> Parts {
    let layer = layer_tar("hello.txt", content);
    let diff = sha256(&layer);
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": host_arch(), "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{diff}")]}
    }))
    .unwrap();
    let config_hex = sha256(&config);
    Parts { layer, diff, config, config_hex }
}

fn manifest_json(config: &str, tags: &[&str], layers: &[&str]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!([{"Config": config, "RepoTags": tags, "Layers": layers}])).unwrap()
}

/// A well-formed docker-archive of `p` named `name`.
fn good_archive(p: &Parts, name: &str) -> Vec<u8> {
    RawTar::default()
        .file(&format!("{}.tar", p.diff), &p.layer)
        .file(&format!("{}.json", p.config_hex), &p.config)
        .file(
            "manifest.json",
            &manifest_json(&format!("{}.json", p.config_hex), &[name], &[&format!("{}.tar", p.diff)]),
        )
        .finish()
}

#[test]
fn a_docker_25_archive_made_from_the_format_description_loads() {
    // docker ≥ 25: an OCI layout (uncompressed layers, index.json with containerd's name annotation) plus
    // manifest.json and repositories whose paths are blobs/sha256/<hex>.
    let p = parts(b"from docker 25\n");
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{}", p.config_hex), "size": p.config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": format!("sha256:{}", p.diff), "size": p.layer.len()}]
    }))
    .unwrap();
    let manifest_hex = sha256(&manifest);
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{manifest_hex}"), "size": manifest.len(),
            "annotations": {"io.containerd.image.name": "docker.io/hoist-test/d25:latest", "org.opencontainers.image.ref.name": "latest"}}]
    }))
    .unwrap();
    let archive = RawTar::default()
        .entry("blobs/", b'5', b"", "", None)
        .entry("blobs/sha256/", b'5', b"", "", None)
        .file(&format!("blobs/sha256/{}", p.config_hex), &p.config)
        .file(&format!("blobs/sha256/{}", p.diff), &p.layer)
        .file(&format!("blobs/sha256/{manifest_hex}"), &manifest)
        .file("index.json", &index)
        .file(
            "manifest.json",
            &manifest_json(
                &format!("blobs/sha256/{}", p.config_hex),
                &["hoist-test/d25:latest"],
                &[&format!("blobs/sha256/{}", p.diff)],
            ),
        )
        .file("oci-layout", br#"{"imageLayoutVersion": "1.0.0"}"#)
        .file("repositories", format!(r#"{{"hoist-test/d25":{{"latest":"{}"}}}}"#, p.diff).as_bytes())
        .finish();
    let w = World::new();
    let path = w.path("d25.tar");
    std::fs::write(&path, &archive).unwrap();
    w.hoist(&["verify", path.to_str().unwrap()]).expect_ok("hoist verify of a docker 25 archive");
    let loaded = w.hoist(&["load", "-q", "-i", path.to_str().unwrap()]).expect_ok("hoist load of a docker 25 archive");
    assert_eq!(loaded_lines(&loaded), ["Loaded image: docker.io/hoist-test/d25:latest"]);
    let images = w.images();
    assert_eq!(images[0]["Id"], p.config_hex.as_str());
    assert_eq!(images[0]["Digest"], format!("sha256:{manifest_hex}"), "docker's own OCI manifest is kept");
}

/// What every refused archive must leave: an error naming the problem, and the store as it was.
fn refused(w: &World, path: &Path, must: &str, case: &str) {
    let before = w.store_state();
    let out = w.hoist(&["load", "-q", "-i", path.to_str().unwrap()]);
    assert_ne!(out.code, Some(0), "{case}: loaded: {}", out.out());
    assert!(out.err().contains(must), "{case}: the error should say {must:?}: {}", out.err());
    assert!(out.err().lines().all(|l| l.len() < 600), "{case}: a short error: {}", out.err());
    assert_eq!(w.store_state().0, before.0, "{case}: index.json unchanged");
    assert!(w.images().len() == 1, "{case}: no image added");
    assert!(!w.path("evil").exists() && !w.0.dir.path().parent().unwrap().join("evil").exists(), "{case}");
}

#[test]
fn hostile_and_malformed_archives_are_refused_and_leave_the_store_unchanged() {
    let w = World::new();
    // One image already there, so "unchanged" has something to keep.
    let p = parts(b"good\n");
    let good = w.path("good.tar");
    std::fs::write(&good, good_archive(&p, "example.com/keep/me:1")).unwrap();
    w.hoist(&["load", "-q", "-i", good.to_str().unwrap()]).expect_ok("a good archive loads");
    let q = parts(b"another\n");
    let (diff, cfg) = (format!("{}.tar", q.diff), format!("{}.json", q.config_hex));
    let mj = |tags: &[&str], layers: &[&str]| manifest_json(&cfg, tags, layers);
    let base = || {
        let mut t = RawTar::default();
        t.file(&diff, &q.layer).file(&cfg, &q.config);
        t
    };
    let mut bomb_member = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    bomb_member.write_all(&vec![0u8; 1 << 20]).unwrap();
    let bomb_member = bomb_member.finish().unwrap();
    let gzip_bomb: Vec<u8> = bomb_member.iter().copied().cycle().take(bomb_member.len() * 200).collect();
    let mut other_layer = parts(b"a different layer\n");
    other_layer.layer = layer_tar("other.txt", b"x");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        // 1. An entry that climbs out of the archive.
        ("dot-dot path", base().file("../evil", b"x").file("manifest.json", &mj(&[], &[&diff])).finish(), "\"..\""),
        // 2. An absolute path.
        (
            "absolute path",
            base().file("/tmp/evil", b"x").file("manifest.json", &mj(&[], &[&diff])).finish(),
            "absolute path",
        ),
        // 3. A legacy layer link escaping the root.
        (
            "escaping link",
            base()
                .symlink("abc/layer.tar", "../../../etc/passwd")
                .file("manifest.json", &mj(&[], &["abc/layer.tar"]))
                .finish(),
            "outside the archive",
        ),
        // 4. A link to an absolute path.
        (
            "absolute link",
            base().symlink("abc/layer.tar", "/etc/passwd").file("manifest.json", &mj(&[], &["abc/layer.tar"])).finish(),
            "absolute path",
        ),
        // 5. A layer path that is a link to another layer of a different digest.
        (
            "link to another layer",
            {
                let other = format!("{}.tar", sha256(&other_layer.layer));
                let mut t = RawTar::default();
                t.file(&other, &other_layer.layer)
                    .symlink(&diff, &other)
                    .file(&cfg, &q.config)
                    .file("manifest.json", &mj(&[], &[&diff]));
                t.finish()
            },
            "must not lead to another layer",
        ),
        // 6. The same entry twice (which manifest.json is meant?).
        (
            "duplicate entry",
            base().file("manifest.json", &mj(&[], &[&diff])).file("manifest.json", &mj(&["x:1"], &[&diff])).finish(),
            "appears twice",
        ),
        // 7. A header declaring more bytes than the archive has.
        (
            "size past the end",
            base().file("manifest.json", &mj(&[], &[&diff])).entry("big", b'0', b"", "", Some(1 << 32)).finish(),
            "truncated",
        ),
        // 8. A layer whose bytes are not its diff_id.
        (
            "corrupt layer",
            {
                let mut bad = q.layer.clone();
                bad[600] ^= 0xff;
                let mut t = RawTar::default();
                t.file(&diff, &bad).file(&cfg, &q.config).file("manifest.json", &mj(&[], &[&diff]));
                t.finish()
            },
            "digest mismatch",
        ),
        // 9. A config whose content is not the digest its name says.
        (
            "config name lies",
            {
                let mut t = RawTar::default();
                t.file(&diff, &q.layer).file(&cfg, &p.config).file("manifest.json", &mj(&[], &[&diff]));
                t.finish()
            },
            "not the sha256:",
        ),
        // 10. More layers than the config has diff_ids.
        ("layer count", base().file("manifest.json", &mj(&[], &[&diff, &diff])).finish(), "diff_ids"),
        // 11. manifest.json that is not JSON.
        ("manifest.json garbage", base().file("manifest.json", b"{not json").finish(), "manifest.json"),
        // 12. manifest.json listing nothing.
        ("manifest.json empty", base().file("manifest.json", b"[]").finish(), "lists no image"),
        // 13. A layer manifest.json names that is not there.
        (
            "missing layer",
            base()
                .file(
                    "manifest.json",
                    &mj(&[], &["0000000000000000000000000000000000000000000000000000000000000000.tar"]),
                )
                .finish(),
            "missing",
        ),
        // 14. A name that is not an image name.
        ("bad name", base().file("manifest.json", &mj(&["Not A/Name!"], &[&diff])).finish(), "not valid"),
        // 15. 200 MiB of zeros as the archive's outer gzip (1000 to 1): no bomb by the rule (it fits the spool's
        // free space: tests/store_hardening.rs has one that does not), but no archive either.
        ("outer gzip of zeros", gzip_bomb.clone(), "not an image archive"),
        // 16. The same as a compressed layer inside the archive: decompressed to check it, and not its diff_id.
        (
            "layer gzip bomb",
            {
                let mut t = RawTar::default();
                t.file("abc/layer.tar", &gzip_bomb)
                    .file(&cfg, &q.config)
                    .file("manifest.json", &mj(&[], &["abc/layer.tar"]));
                t.finish()
            },
            "but the config's diff_id is",
        ),
        // 17. A FIFO in the archive.
        ("fifo", base().entry("pipe", b'6', b"", "", None).file("manifest.json", &mj(&[], &[&diff])).finish(), "FIFO"),
        // 18. A hard link to a path outside.
        (
            "hard link out",
            base().entry("h", b'1', b"", "../../etc/passwd", None).file("manifest.json", &mj(&[], &[&diff])).finish(),
            "hard link",
        ),
        // 19. A link loop as a layer.
        (
            "link loop",
            base()
                .symlink("a/layer.tar", "../b/layer.tar")
                .symlink("b/layer.tar", "../a/layer.tar")
                .file("manifest.json", &mj(&[], &["a/layer.tar"]))
                .finish(),
            "loop",
        ),
        // 20. Not a tar at all.
        ("garbage", b"this is not an archive at all, not even close".repeat(40), "not"),
        // 21. xz outer compression, which hoist does not decode.
        ("xz", [&[0xfd, b'7', b'z', b'X', b'Z', 0][..], &[0u8; 100]].concat(), "xz-compressed data is not supported"),
        // 22. An OCI archive whose index.json descriptor lies about the manifest's size.
        (
            "oci size lie",
            {
                let m = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":1},"layers":[]}"#;
                let index = format!(
                    r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{}","size":{}}}]}}"#,
                    sha256(m),
                    m.len() + 5
                );
                RawTar::default()
                    .file(&format!("blobs/sha256/{}", sha256(m)), m)
                    .file("index.json", index.as_bytes())
                    .file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)
                    .finish()
            },
            "size mismatch",
        ),
        // 23. Two images where the second is broken: the first must not be loaded either.
        //     (The second's layer is only found bad while it is copied, after the first was.)
        (
            "all or nothing",
            {
                let other = sha256(&other_layer.layer);
                let config2 = serde_json::to_vec(&serde_json::json!({
                    "architecture": host_arch(), "os": "linux",
                    "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{other}")]}
                }))
                .unwrap();
                let cfg2 = format!("{}.json", sha256(&config2));
                let mut bad = other_layer.layer.clone();
                bad[1000] ^= 1;
                let two = serde_json::to_vec(&serde_json::json!([
                    {"Config": cfg, "RepoTags": ["example.com/first/ok:1"], "Layers": [diff]},
                    {"Config": cfg2, "RepoTags": ["example.com/second/bad:1"], "Layers": [format!("{other}.tar")]}
                ]))
                .unwrap();
                base().file(&cfg2, &config2).file(&format!("{other}.tar"), &bad).file("manifest.json", &two).finish()
            },
            "digest mismatch",
        ),
    ];
    assert!(cases.len() >= 15);
    for (case, bytes, must) in &cases {
        let path = w.path(&format!("hostile-{}.tar", case.replace(' ', "-")));
        std::fs::write(&path, bytes).unwrap();
        refused(&w, &path, must, case);
    }
    // A directory (oci-dir) whose blob is a link out of it.
    let dir = w.path("linked-oci");
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    let m = br#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":1},"layers":[]}"#;
    std::os::unix::fs::symlink("/etc/passwd", dir.join("blobs/sha256").join(sha256(m))).unwrap();
    std::fs::write(dir.join("index.json"), format!(r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{}","size":{}}}]}}"#, sha256(m), m.len())).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    refused(&w, &dir, "link", "linked blob in a directory");
    // The good image is still there, whole.
    assert_eq!(w.names_of(&p.config_hex), ["example.com/keep/me:1"]);
}

/// `hoist verify` on `path`: its exit status and output.
fn verify(w: &World, path: &Path) -> (bool, String) {
    let out = w.hoist(&["verify", path.to_str().unwrap()]);
    (out.ok(), format!("{}{}", out.out(), out.err()))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Rewrites one entry of a tar (same size), as a corruption would.
fn patch_tar(from: &Path, to: &Path, entry: &str, patch: impl Fn(&mut Vec<u8>)) {
    let bytes = std::fs::read(from).unwrap();
    let mut archive = tar::Archive::new(&bytes[..]);
    let mut out = RawTar::default();
    let mut found = false;
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().display().to_string();
        let kind = e.header().entry_type().as_byte();
        let link = e.link_name().unwrap().map(|l| l.display().to_string()).unwrap_or_default();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        if name == entry {
            patch(&mut data);
            found = true;
        }
        out.entry(&name, kind, &data, &link, None);
    }
    assert!(found, "{entry} not in {}", from.display());
    std::fs::write(to, out.finish()).unwrap();
}

#[test]
fn verify_finds_every_corruption_planted_in_a_saved_archive() {
    let w = World::new();
    let dir = w.path("layout");
    let l = layout(&dir, 3);
    let id = hex_of(&l.configs[0]).to_owned();
    w.hoist(&["copy", "-q", &format!("oci:{}:v1", dir.display()), "store:example.com/test/app:v1"]).expect_ok("copy");
    let save = |format: &str| {
        let out = w.path(&format!("v-{format}"));
        w.hoist(&["save", "-q", "--format", format, "-o", out.to_str().unwrap(), "example.com/test/app:v1"])
            .expect_ok("save");
        let (ok, text) = verify(&w, &out);
        assert!(ok, "a fresh {format} verifies: {text}");
        out
    };
    let da = save("docker-archive");
    let oa = save("oci-archive");
    let od = save("oci-dir");
    let dd = save("docker-dir");
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("blobs/sha256").join(&id)).unwrap()).unwrap();
    let diff0 = hex_of(config["rootfs"]["diff_ids"][0].as_str().unwrap()).to_owned();
    let manifest: serde_json::Value = serde_json::from_slice(&l.top_bytes).unwrap();
    let layer0 = hex_of(manifest["layers"][0]["digest"].as_str().unwrap()).to_owned();

    let mut planted: Vec<(String, PathBuf, &str)> = Vec::new();
    // docker-archive: a flipped byte in a layer.
    let p = w.path("c1.tar");
    patch_tar(&da, &p, &format!("{diff0}.tar"), |d| d[700] ^= 1);
    planted.push(("docker-archive layer byte".into(), p, diff0.as_str()));
    // docker-archive: a RepoTag that is not a name.
    let p = w.path("c2.tar");
    patch_tar(&da, &p, "manifest.json", |d| {
        let s = String::from_utf8(d.clone()).unwrap().replace("example.com/test/app:v1", "EXAMPLE/Bad Name!!!:v1");
        *d = s.into_bytes();
    });
    planted.push(("docker-archive bad RepoTag".into(), p, "not a valid name"));
    // docker-archive: the config changed (its file name no longer its digest, its diff_id wrong).
    let p = w.path("c3.tar");
    patch_tar(&da, &p, &format!("{id}.json"), |d| {
        let s = String::from_utf8(d.clone()).unwrap().replacen(&diff0, &"0".repeat(64), 1);
        *d = s.into_bytes();
    });
    planted.push(("docker-archive config diff_id".into(), p, "diff_id"));
    // oci-archive: a flipped byte in a compressed layer blob.
    let p = w.path("c4.tar");
    patch_tar(&oa, &p, &format!("blobs/sha256/{layer0}"), |d| {
        let n = d.len();
        d[n / 2] ^= 0x55;
    });
    planted.push(("oci-archive layer byte".into(), p, layer0.as_str()));
    // oci-archive: an invalid ref name.
    let p = w.path("c5.tar");
    patch_tar(&oa, &p, "index.json", |d| {
        let s = String::from_utf8(d.clone()).unwrap().replace("example.com/test/app:v1", "-bad ref-");
        *d = s.into_bytes();
    });
    planted.push(("oci-archive bad ref name".into(), p, "ref name"));
    // oci-dir: a blob cut short.
    let p = w.path("c6");
    copy_dir(&od, &p);
    let blob = p.join("blobs/sha256").join(&layer0);
    let data = std::fs::read(&blob).unwrap();
    std::fs::write(&blob, &data[..data.len() - 7]).unwrap();
    planted.push(("oci-dir truncated blob".into(), p, "bytes, but its descriptor says"));
    // oci-dir: a blob deleted.
    let p = w.path("c7");
    copy_dir(&od, &p);
    std::fs::remove_file(p.join("blobs/sha256").join(&id)).unwrap();
    planted.push(("oci-dir missing config".into(), p, "missing"));
    // docker-dir: a flipped byte in a layer.
    let p = w.path("c8");
    copy_dir(&dd, &p);
    let blob = p.join(&layer0);
    let mut data = std::fs::read(&blob).unwrap();
    let n = data.len();
    data[n / 3] ^= 0x10;
    std::fs::write(&blob, &data).unwrap();
    planted.push(("docker-dir layer byte".into(), p, layer0.as_str()));

    for (what, path, must) in &planted {
        let (ok, text) = verify(&w, path);
        assert!(!ok, "{what}: verify must fail: {text}");
        assert!(text.contains(must), "{what}: verify should mention {must:?}: {text}");
    }
    // --format json: the problems as a list.
    let out = w.hoist(&["verify", "--format", "json", planted[0].1.to_str().unwrap()]);
    assert!(!out.ok());
    let report: serde_json::Value = serde_json::from_str(&out.out()).unwrap();
    assert_eq!(report["Format"], "docker-archive");
    assert!(!report["Problems"].as_array().unwrap().is_empty());
}

/// Runs `cmd` to the end and returns its exit status and peak RSS in KiB (wait4's ru_maxrss).
fn peak_rss(cmd: &mut Command) -> (bool, i64) {
    let child = cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let pid = child.id() as i32;
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting for our own child, which nothing else reaps.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid);
    std::mem::forget(child);
    (libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, usage.ru_maxrss)
}

#[test]
fn a_1_gib_layer_loads_and_saves_in_bounded_memory() {
    const GIB: u64 = 1 << 30;
    const LIMIT_KIB: i64 = 64 * 1024;
    let w = World::new();
    // A docker-archive with one 1 GiB uncompressed layer (a tar holding one big file), written streaming.
    let path = w.path("big.tar");
    let mut pattern = vec![0u8; 1 << 20];
    fastrand::Rng::with_seed(7).fill(&mut pattern);
    let mut layer_header = tar::Header::new_ustar();
    layer_header.set_path("big.bin").unwrap();
    layer_header.set_size(GIB);
    layer_header.set_mode(0o644);
    layer_header.set_cksum();
    let layer_len = 512 + GIB + 1024;
    let mut hasher = Sha256::new();
    hasher.update(layer_header.as_bytes());
    for _ in 0..(GIB >> 20) {
        hasher.update(&pattern);
    }
    hasher.update([0u8; 1024]);
    let diff = hex::encode(hasher.finalize());
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": host_arch(), "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{diff}")]}
    }))
    .unwrap();
    let config_hex = sha256(&config);
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let mut outer = tar::Header::new_ustar();
        outer.set_path(format!("{diff}.tar")).unwrap();
        outer.set_size(layer_len);
        outer.set_mode(0o444);
        outer.set_cksum();
        f.write_all(outer.as_bytes()).unwrap();
        f.write_all(layer_header.as_bytes()).unwrap();
        for _ in 0..(GIB >> 20) {
            f.write_all(&pattern).unwrap();
        }
        f.write_all(&[0u8; 1024]).unwrap();
        let mut t = RawTar::default();
        t.file(&format!("{config_hex}.json"), &config).file(
            "manifest.json",
            &manifest_json(&format!("{config_hex}.json"), &["example.com/big/one:1"], &[&format!("{diff}.tar")]),
        );
        f.write_all(&t.finish()).unwrap();
    }
    let (ok, kib) =
        peak_rss(w.command(&["load", "-q", "-i", path.to_str().unwrap()]).stdin(std::process::Stdio::null()));
    eprintln!("hoist load of a 1 GiB layer: peak RSS {kib} KiB");
    assert!(ok, "hoist load of a 1 GiB layer");
    assert!(kib <= LIMIT_KIB, "hoist load took {kib} KiB (limit {LIMIT_KIB})");
    std::fs::remove_file(&path).unwrap();
    for format in ["docker-archive", "oci-archive"] {
        let out = w.path(&format!("big-{format}"));
        let (ok, kib) = peak_rss(
            w.command(&["save", "-q", "--format", format, "-o", out.to_str().unwrap(), "example.com/big/one:1"])
                .stdin(std::process::Stdio::null()),
        );
        eprintln!("hoist save --format {format} of a 1 GiB layer: peak RSS {kib} KiB");
        assert!(ok, "hoist save {format} of a 1 GiB layer");
        assert!(kib <= LIMIT_KIB, "hoist save {format} took {kib} KiB (limit {LIMIT_KIB})");
        assert!(std::fs::metadata(&out).unwrap().len() > GIB);
        std::fs::remove_file(&out).unwrap();
    }
    let (ok, kib) = peak_rss(w.command(&["save", "-q", "example.com/big/one:1"]).stdin(std::process::Stdio::null()));
    assert!(ok && kib <= LIMIT_KIB, "hoist save to stdout: {kib} KiB");
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The manifest.json of a dir, parsed.
fn dir_manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap()
}

fn layer_types(m: &serde_json::Value) -> Vec<String> {
    m["layers"].as_array().unwrap().iter().map(|l| l["mediaType"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn save_compress_gzips_uncompressed_layers_into_a_docker_dir_as_podman_does() {
    let c = Containers::new(&[]);
    // An image podman built: its layers are uncompressed and its manifest says so.
    let ctx = c.path("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    let noise: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(ctx.join("a"), &noise).unwrap();
    std::fs::write(ctx.join("b"), "hello\n".repeat(10_000)).unwrap();
    std::fs::write(ctx.join("Dockerfile"), "FROM scratch\nCOPY a /a\nCOPY b /b\n").unwrap();
    c.podman(&["build", "-q", "-t", "example.com/test/app:v1", ctx.to_str().unwrap()], b"").expect_ok("podman build");
    let inspect = c.podman(&["image", "inspect", "example.com/test/app:v1"], b"").expect_ok("podman image inspect");
    let v: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    let id = v[0]["Id"].as_str().unwrap().to_owned();
    let want_diffs: Vec<String> =
        v[0]["RootFS"]["Layers"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_owned()).collect();
    assert_eq!(want_diffs.len(), 2);
    let policy = format!("--policy={}", c.policy.display());
    // Loaded from a docker-archive, hoist's store holds the layers uncompressed.
    let archive = c.path("from-podman.tar");
    c.podman(&["save", "-q", "-o", archive.to_str().unwrap(), "example.com/test/app:v1"], b"").expect_ok("podman save");
    let w = World::new();
    w.hoist(&["load", "-q", "-i", archive.to_str().unwrap()]).expect_ok("hoist load");

    // `save -q --format docker-dir [--compress] -o OUT example.com/test/app:v1`, for hoist and podman alike.
    let save_dir = |compress: bool, out: &Path| -> Vec<String> {
        let mut a =
            vec!["save", "-q", "--format", "docker-dir", "-o", out.to_str().unwrap(), "example.com/test/app:v1"];
        if compress {
            a.insert(4, "--compress");
        }
        a.into_iter().map(str::to_owned).collect()
    };
    let plain = w.path("plain-dir");
    w.hoist(&strs(&save_dir(false, &plain))).expect_ok("hoist save docker-dir");
    let ours = w.path("compressed-dir");
    w.hoist(&strs(&save_dir(true, &ours))).expect_ok("hoist save docker-dir --compress");
    let theirs = c.path("podman-compressed-dir");
    c.podman(&strs(&save_dir(true, &theirs)), b"").expect_ok("podman save --compress");

    // Without --compress the dir is podman's, file for file (a Docker schema 2 manifest, layers as stored).
    let podman_plain = c.path("podman-plain-dir");
    c.podman(&strs(&save_dir(false, &podman_plain)), b"").expect_ok("podman save docker-dir");
    let listing = |d: &Path| {
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(d)
            .unwrap()
            .flatten()
            .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
            .collect();
        files.sort();
        files
    };
    assert!(
        listing(&plain) == listing(&podman_plain),
        "hoist's docker-dir is podman's: {} vs {}",
        String::from_utf8_lossy(&std::fs::read(plain.join("manifest.json")).unwrap()),
        String::from_utf8_lossy(&std::fs::read(podman_plain.join("manifest.json")).unwrap())
    );
    // With --compress the layers are gzip, with the media types podman writes.
    let (p, o, t) = (dir_manifest(&plain), dir_manifest(&ours), dir_manifest(&theirs));
    assert!(layer_types(&p).iter().all(|t| !t.contains("gzip")), "stored uncompressed: {p}");
    assert!(layer_types(&o).iter().all(|t| t.ends_with("gzip")), "gzipped: {o}");
    assert_eq!(layer_types(&o), layer_types(&t), "the media types podman writes: ours {o}, podman's {t}");
    assert_eq!(o["config"]["digest"], format!("sha256:{id}"));
    assert_eq!(t["config"]["digest"], o["config"]["digest"], "the same config as podman's");
    // Every layer file is gzip, named and sized for its own bytes, and inflates to the config's diff_id.
    for (layer, diff_id) in o["layers"].as_array().unwrap().iter().zip(&want_diffs) {
        let digest = layer["digest"].as_str().unwrap();
        let bytes = std::fs::read(ours.join(hex_of(digest))).unwrap();
        assert_eq!(&bytes[..2], [0x1f, 0x8b], "{digest} is gzip");
        assert_eq!(sha256(&bytes), hex_of(digest));
        assert_eq!(layer["size"], bytes.len() as u64);
        let mut plain_bytes = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut plain_bytes).unwrap();
        assert_eq!(format!("sha256:{}", sha256(&plain_bytes)), *diff_id);
        assert!(bytes.len() < plain_bytes.len(), "smaller than the {} bytes it holds", plain_bytes.len());
    }
    assert!(!ours.join(hex_of(&want_diffs[0])).exists(), "no uncompressed copy left beside it");
    w.hoist(&["verify", ours.to_str().unwrap()]).expect_ok("hoist verify of the compressed dir");
    // skopeo reads it and podman loads it as the same image.
    let transport = format!("dir:{}", ours.display());
    let cfg = c.skopeo(&["inspect", &policy, "--config", "--raw", &transport]).expect_ok("skopeo inspect --config");
    assert_eq!(sha256(&cfg.stdout), id);
    c.podman(&["rmi", "-a", "-f"], b"").expect_ok("podman rmi");
    c.podman(&["load", "-q", "-i", ours.to_str().unwrap()], b"").expect_ok("podman load of the compressed dir");
    let inspect = c.podman(&["image", "inspect", &id], b"").expect_ok("podman image inspect");
    let v: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    let layers: Vec<String> =
        v[0]["RootFS"]["Layers"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_owned()).collect();
    assert_eq!(layers, want_diffs);

    // skopeo's --dest-compress on copy gzips the same way (keeping the OCI manifest, as skopeo does), and
    // --digestfile names the manifest written.
    let copied = w.path("copied-dir");
    let digestfile = w.path("digest");
    w.hoist(&[
        "copy",
        "-q",
        "--dest-compress",
        "--digestfile",
        digestfile.to_str().unwrap(),
        "store:example.com/test/app:v1",
        &format!("dir:{}", copied.display()),
    ])
    .expect_ok("hoist copy --dest-compress");
    let written = std::fs::read(copied.join("manifest.json")).unwrap();
    let m: serde_json::Value = serde_json::from_slice(&written).unwrap();
    assert_eq!(m["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    assert!(layer_types(&m).iter().all(|t| t == "application/vnd.oci.image.layer.v1.tar+gzip"), "{m}");
    let digests = |m: &serde_json::Value| -> Vec<String> {
        m["layers"].as_array().unwrap().iter().map(|l| l["digest"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(digests(&m), digests(&o), "the same gzip bytes as save --compress");
    assert_eq!(std::fs::read_to_string(&digestfile).unwrap(), format!("sha256:{}", sha256(&written)));
    let refused = w.hoist(&["copy", "-q", "--dest-compress", "store:example.com/test/app:v1", "oci:/tmp/x"]);
    assert!(!refused.ok() && refused.err().contains("dir:"), "{}", refused.err());

    // Layers already compressed are kept byte for byte.
    let l = layout(&c.path("layout"), 4);
    let w2 = World::new();
    w2.hoist(&["copy", "-q", &format!("oci:{}:v1", c.path("layout").display()), "store:example.com/test/gz:v1"])
        .expect_ok("hoist copy oci: → store:");
    let gz = w2.path("gz-dir");
    w2.hoist(&[
        "save",
        "-q",
        "--format",
        "docker-dir",
        "--compress",
        "-o",
        gz.to_str().unwrap(),
        "example.com/test/gz:v1",
    ])
    .expect_ok("hoist save --compress of gzip layers");
    let stored: serde_json::Value = serde_json::from_slice(&l.top_bytes).unwrap();
    let stored: serde_json::Value = if stored["manifests"].is_array() {
        let digest = stored["manifests"][0]["digest"].as_str().unwrap().to_owned();
        serde_json::from_slice(&std::fs::read(c.path("layout/blobs/sha256").join(hex_of(&digest))).unwrap()).unwrap()
    } else {
        stored
    };
    assert_eq!(digests(&dir_manifest(&gz)), digests(&stored));
}
