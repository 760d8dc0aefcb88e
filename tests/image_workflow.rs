//! `hoist pull/push/copy/tag/images/rmi/prune/inspect/list-tags/digest/delete` against real distribution
//! registries (plain, TLS + htpasswd, token auth), with skopeo and podman on the other side of every exchange.
//! Images are built by the harness (multi-layer, multi-platform) and pushed with skopeo.

use std::path::PathBuf;
use std::process::Command;

use harness::hoist::HoistWorld;
use harness::image::{ImageSpec, Layout, write_layout};
use harness::podman::{Containers, cert_dir_arg};
use harness::registry::{Options, Registry};
use harness::{Run, run};

/// An isolated hoist (harness::hoist::HoistWorld) with the shorthands these tests use.
struct World(HoistWorld);

impl World {
    fn new(registries_conf: &str) -> World {
        World(HoistWorld::new(registries_conf))
    }

    fn path(&self, s: &str) -> PathBuf {
        self.0.path(s)
    }

    fn command(&self, args: &[&str]) -> Command {
        self.0.command(args, &Vec::new())
    }

    fn hoist(&self, args: &[&str]) -> Run {
        self.0.run(args, b"", &Vec::new())
    }

    fn images(&self) -> Vec<serde_json::Value> {
        let out = self.hoist(&["images", "--format", "json"]).expect_ok("hoist images");
        serde_json::from_str(&out.out()).unwrap()
    }
}

/// registries.conf marking `hosts` insecure (plain HTTP registries).
fn insecure(hosts: &[&str]) -> String {
    let mut s = String::from("unqualified-search-registries = []\n");
    for h in hosts {
        s.push_str(&format!("[[registry]]\nlocation = \"{h}\"\ninsecure = true\n"));
    }
    s
}

/// The image ID hoist prints: the config digest's hex.
fn id_of(config_digest: &str) -> &str {
    config_digest.strip_prefix("sha256:").unwrap()
}

/// Pushes a layout to `image` (docker://...) with skopeo, all platforms.
fn skopeo_push(c: &Containers, layout_dir: &std::path::Path, image: &str, extra: &[&str]) {
    let policy = format!("--policy={}", c.policy.display());
    let src = format!("oci:{}:v1", layout_dir.display());
    let mut args = vec!["copy", "--all", &policy];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[&src, image]);
    c.skopeo(&args).expect_ok("skopeo copy to the registry");
}

fn build(c: &Containers, name: &str, specs: &[ImageSpec]) -> (PathBuf, Layout) {
    let dir = c.path(&format!("layout-{name}"));
    let layout = write_layout(&dir, "v1", specs);
    (dir, layout)
}

fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => panic!("no test image for {other}"),
    }
}

fn other_arch() -> &'static str {
    if host_arch() == "amd64" { "arm64" } else { "amd64" }
}

fn skopeo_raw(c: &Containers, image: &str) -> Vec<u8> {
    c.skopeo(&["inspect", "--raw", "--tls-verify=false", image]).expect_ok("skopeo inspect --raw").stdout
}

fn one_error_line(out: &Run, must: &[&str]) {
    assert_ne!(out.code, Some(0), "{out:?}");
    let err = out.err();
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("Error:")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    for m in must {
        assert!(lines[0].contains(m), "{m:?} not in {:?}", lines[0]);
    }
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn push_then_pull_round_trips_with_skopeo_and_podman() {
    let reg = Registry::start(Options::default());
    let host = reg.host();
    let c = Containers::new(std::slice::from_ref(&host));
    let w = World::new(&insecure(&[&host]));
    let (dir, layout) = build(&c, "three", &[ImageSpec::random(host_arch(), 3, 300_000, 1)]);
    skopeo_push(&c, &dir, &format!("docker://{host}/team/app:v1"), &["--dest-tls-verify=false"]);

    // skopeo → hoist: the image ID is the config digest, the stored manifest is the pushed one.
    let out = w.hoist(&["pull", &format!("{host}/team/app:v1")]).expect_ok("hoist pull");
    assert_eq!(out.out().trim(), id_of(&layout.configs[0]), "{}", out.err());
    assert!(out.err().contains("Writing manifest"), "{}", out.err());
    let images = w.images();
    assert_eq!(images.len(), 1, "{images:?}");
    assert_eq!(images[0]["Digest"], layout.top);
    assert_eq!(images[0]["Names"][0], format!("{host}/team/app:v1"));
    let raw = w.hoist(&["inspect", "--raw", &format!("{host}/team/app:v1")]).expect_ok("inspect --raw").stdout;
    assert_eq!(raw.trim_ascii_end(), layout.top_bytes, "the stored manifest is byte-identical");
    let digest = w.hoist(&["digest", &format!("{host}/team/app:v1")]).expect_ok("digest").out();
    assert_eq!(digest.trim(), layout.top);

    // A second pull moves nothing.
    let again = w.hoist(&["pull", &format!("{host}/team/app:v1")]).expect_ok("second pull");
    assert!(again.err().contains("copied 0 blob(s)") && again.err().contains("skipped 4"), "{}", again.err());

    // hoist → skopeo and podman: same bytes, same digest.
    let out = w.hoist(&["push", &format!("{host}/team/app:v1"), &format!("docker://{host}/other/app:v2")]);
    let err = out.expect_ok("hoist push").err();
    assert!(err.contains("mounted 4") && err.contains("copied 0 blob(s)"), "same registry: mounted, not sent: {err}");
    assert_eq!(skopeo_raw(&c, &format!("docker://{host}/other/app:v2")), layout.top_bytes);
    let dir_copy = c.path("skopeo-pulled");
    let policy = format!("--policy={}", c.policy.display());
    let (from, to) = (format!("docker://{host}/other/app:v2"), format!("dir:{}", dir_copy.display()));
    c.skopeo(&["copy", &policy, "--src-tls-verify=false", &from, &to]).expect_ok("skopeo pulls what hoist pushed");
    assert_eq!(std::fs::read(dir_copy.join("manifest.json")).unwrap(), layout.top_bytes);
    c.podman(&["pull", "--tls-verify=false", &format!("{host}/other/app:v2")], b"").expect_ok("podman pull");
    let d = c.podman(&["image", "inspect", "--format", "{{.Digest}}", &format!("{host}/other/app:v2")], b"");
    assert_eq!(d.expect_ok("podman inspect").out().trim(), layout.top);

    // A push without a destination goes to the name given, not to the image's first name.
    w.hoist(&["tag", &format!("{host}/team/app:v1"), &format!("{host}/tagged/app:v3")]).expect_ok("tag");
    w.hoist(&["push", &format!("{host}/tagged/app:v3")]).expect_ok("push by a second name");
    assert_eq!(skopeo_raw(&c, &format!("docker://{host}/tagged/app:v3")), layout.top_bytes);
    w.hoist(&["rmi", &format!("{host}/tagged/app:v3")]).expect_ok("rmi the second name");

    // tag, images, inspect, rmi, prune.
    w.hoist(&["tag", &format!("{host}/team/app:v1"), "example.test/renamed:x"]).expect_ok("tag");
    let inspected = w.hoist(&["inspect", "example.test/renamed:x"]).expect_ok("inspect");
    // podman's image inspect: an array, one object per name.
    let v: serde_json::Value = serde_json::from_str(&inspected.out()).unwrap();
    let v = &v[0];
    assert_eq!(v["Digest"], layout.top);
    assert_eq!(v["Architecture"], host_arch());
    assert_eq!(v["RootFS"]["Layers"].as_array().unwrap().len(), 3);
    assert_eq!(v["Labels"]["made-by"], "hoist-tests");
    let short = &id_of(&layout.configs[0])[..12];
    let refused = w.hoist(&["rmi", short]);
    assert_ne!(refused.code, Some(0), "two names: rmi by ID needs --force: {refused:?}");
    w.hoist(&["rmi", "example.test/renamed:x"]).expect_ok("rmi by name");
    assert_eq!(w.images().len(), 1);
    let removed = w.hoist(&["rmi", short]).expect_ok("rmi by ID");
    assert!(removed.out().contains("Untagged:") && removed.out().contains("Deleted:"), "{}", removed.out());
    assert!(w.images().is_empty());
    let blobs = std::fs::read_dir(w.path("store/blobs/sha256")).unwrap().count();
    assert_eq!(blobs, 0, "rmi removed the unreferenced blobs");
}

#[test]
fn multi_platform_images_pick_a_platform_or_keep_the_index() {
    let reg = Registry::start(Options::default());
    let host = reg.host();
    let c = Containers::new(std::slice::from_ref(&host));
    let w = World::new(&insecure(&[&host]));
    let specs = [ImageSpec::random(host_arch(), 2, 50_000, 2), ImageSpec::random(other_arch(), 2, 50_000, 3)];
    let (dir, layout) = build(&c, "multi", &specs);
    skopeo_push(&c, &dir, &format!("docker://{host}/multi/app:v1"), &["--dest-tls-verify=false"]);
    let name = format!("{host}/multi/app:v1");

    let host_pull = w.hoist(&["pull", "-q", &name]).expect_ok("pull host platform");
    assert_eq!(host_pull.out().trim(), id_of(&layout.configs[0]));
    assert!(host_pull.err().is_empty(), "-q prints only the ID: {}", host_pull.err());
    let platform = format!("linux/{}", other_arch());
    let other = w.hoist(&["pull", "--platform", &platform, &name]).expect_ok("pull --platform");
    assert_eq!(other.out().trim(), id_of(&layout.configs[1]));
    let missing = w.hoist(&["pull", "--platform", "linux/s390x", &name]);
    one_error_line(&missing, &["s390x"]);

    // --all keeps the index byte for byte, in the store and across registries.
    w.hoist(&["pull", "--all", &name]).expect_ok("pull --all");
    let raw = w.hoist(&["inspect", "--raw", &name]).expect_ok("inspect --raw").stdout;
    assert_eq!(raw.trim_ascii_end(), layout.top_bytes);
    let copy = w.hoist(&["copy", "--all", &format!("docker://{name}"), &format!("docker://{host}/multi/copy:v1")]);
    copy.expect_ok("copy --all");
    assert_eq!(skopeo_raw(&c, &format!("docker://{host}/multi/copy:v1")), layout.top_bytes);
    // The second copy inside one registry mounts or skips every blob instead of sending it.
    let again = w.hoist(&["copy", "--all", &format!("docker://{name}"), &format!("docker://{host}/multi/third:v1")]);
    let err = again.expect_ok("second copy").err();
    assert!(err.contains("copied 0 blob(s)"), "{err}");
    assert_eq!(skopeo_raw(&c, &format!("docker://{host}/multi/third:v1")), layout.top_bytes);
}

#[test]
fn pull_by_digest_copy_between_registries_list_tags_and_delete() {
    let (a, b) = (Registry::start(Options::default()), Registry::start(Options::default()));
    let (ha, hb) = (a.host(), b.host());
    let c = Containers::new(&[ha.clone(), hb.clone()]);
    let w = World::new(&insecure(&[&ha, &hb]));
    let (dir, layout) = build(&c, "digest", &[ImageSpec::random(host_arch(), 2, 100_000, 4)]);
    for tag in ["v1", "v2", "v3"] {
        skopeo_push(&c, &dir, &format!("docker://{ha}/lib/app:{tag}"), &["--dest-tls-verify=false"]);
    }
    let by_digest = format!("{ha}/lib/app@{}", layout.top);
    let out = w.hoist(&["pull", &by_digest]).expect_ok("pull by digest");
    assert_eq!(out.out().trim(), id_of(&layout.configs[0]));

    let tags = w.hoist(&["list-tags", &format!("docker://{ha}/lib/app")]).expect_ok("list-tags");
    let v: serde_json::Value = serde_json::from_str(&tags.out()).unwrap();
    assert_eq!(v["Tags"], serde_json::json!(["v1", "v2", "v3"]));
    assert_eq!(v["Repository"], format!("{ha}/lib/app"));
    // (distribution 2.8 ignores `n` and never paginates tag lists; paging is shown in registry_faults.rs.)

    // registry → registry keeps the digest; the second copy skips every blob.
    let src = format!("docker://{ha}/lib/app:v1");
    w.hoist(&["copy", &src, &format!("docker://{hb}/lib/app:v1")]).expect_ok("copy a → b");
    assert_eq!(skopeo_raw(&c, &format!("docker://{hb}/lib/app:v1")), layout.top_bytes);
    let again = w.hoist(&["copy", &src, &format!("docker://{hb}/lib/app:again")]).expect_ok("copy again");
    assert!(again.err().contains("copied 0 blob(s)") && again.err().contains("skipped 3"), "{}", again.err());

    // Local store as a copy end, and a digest file.
    let df = w.path("digest.txt");
    w.hoist(&["copy", "--digestfile", df.to_str().unwrap(), &src, "store:mine/app:1"]).expect_ok("copy to store");
    assert_eq!(std::fs::read_to_string(&df).unwrap().trim(), layout.top);
    let names: Vec<serde_json::Value> =
        w.images().iter().flat_map(|i| i["Names"].as_array().unwrap().clone()).collect();
    assert!(names.contains(&serde_json::json!("docker.io/mine/app:1")), "{names:?}");

    w.hoist(&["delete", &format!("docker://{hb}/lib/app:v1")]).expect_ok("delete");
    let gone = c.skopeo(&["inspect", "--tls-verify=false", &format!("docker://{hb}/lib/app:v1")]);
    assert!(!gone.ok(), "deleted: {gone:?}");
}

#[test]
fn mirrors_before_the_primary_and_blocked_registries_untouched() {
    let (primary, mirror) = (Registry::start(Options::default()), Registry::start(Options::default()));
    let (hp, hm) = (primary.host(), mirror.host());
    let c = Containers::new(&[hp.clone(), hm.clone()]);
    let (dir_a, a) = build(&c, "primary", &[ImageSpec::random(host_arch(), 1, 10_000, 5)]);
    let (dir_b, b) = build(&c, "mirror", &[ImageSpec::random(host_arch(), 1, 10_000, 6)]);
    skopeo_push(&c, &dir_a, &format!("docker://{hp}/lib/app:v1"), &["--dest-tls-verify=false"]);
    skopeo_push(&c, &dir_a, &format!("docker://{hp}/lib/only-primary:v1"), &["--dest-tls-verify=false"]);
    skopeo_push(&c, &dir_b, &format!("docker://{hm}/lib/app:v1"), &["--dest-tls-verify=false"]);
    // Nothing listens behind the blocked registry's address: a connection attempt would be seen here.
    let trap = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    trap.set_nonblocking(true).unwrap();
    let blocked = format!("127.0.0.1:{}", trap.local_addr().unwrap().port());
    let conf = format!(
        "unqualified-search-registries = []\n\
         [[registry]]\nprefix = \"example.test/lib\"\nlocation = \"{hp}/lib\"\ninsecure = true\n\
         [[registry.mirror]]\nlocation = \"{hm}/lib\"\ninsecure = true\n\
         [[registry]]\nlocation = \"{blocked}\"\nblocked = true\n"
    );
    let w = World::new(&conf);
    let out = w.hoist(&["pull", "example.test/lib/app:v1"]).expect_ok("pull through the mirror");
    assert_eq!(out.out().trim(), id_of(&b.configs[0]), "the mirror serves first");
    let out = w.hoist(&["pull", "example.test/lib/only-primary:v1"]).expect_ok("pull falling back");
    assert_eq!(out.out().trim(), id_of(&a.configs[0]), "the primary serves what the mirror lacks");
    assert!(out.err().contains("mirror"), "the mirror miss is reported: {}", out.err());
    assert!(w.images().iter().any(|i| i["Names"][0] == "example.test/lib/only-primary:v1"));

    let refused = w.hoist(&["pull", &format!("{blocked}/x/y:1")]);
    one_error_line(&refused, &["blocked"]);
    assert!(trap.accept().is_err(), "the blocked registry was contacted");
}

#[test]
fn credentials_tls_and_token_auth() {
    // TLS + htpasswd, credentials from --creds and from the auth file `hoist login` wrote.
    let reg = Registry::start(Options {
        tls: true,
        users: vec![("alice".into(), "Sekrit-Canary-1".into())],
        token: None,
        ..Default::default()
    });
    let host = reg.host();
    let certs = cert_dir_arg(reg.cert_dir.as_ref().unwrap());
    let c = Containers::new(&[]);
    let w = World::new("unqualified-search-registries = []\n");
    let (dir, layout) = build(&c, "tls", &[ImageSpec::random(host_arch(), 1, 10_000, 7)]);
    let certs_dest = format!("--dest-cert-dir={}", reg.cert_dir.as_ref().unwrap().display());
    skopeo_push(
        &c,
        &dir,
        &format!("docker://{host}/team/app:v1"),
        &[&certs_dest, "--dest-creds=alice:Sekrit-Canary-1"],
    );
    let image = format!("{host}/team/app:v1");
    let denied = w.hoist(&["pull", &certs, &image]);
    one_error_line(&denied, &[&image]);
    let bad = w.hoist(&["pull", &certs, "--creds", "alice:wrong", &image]);
    one_error_line(&bad, &[&image]);
    assert!(!bad.err().contains("wrong"));
    let no_ca = w.hoist(&["pull", "--creds", "alice:Sekrit-Canary-1", &image]);
    one_error_line(&no_ca, &["certificate"]);
    let ok = w.hoist(&["pull", &certs, "--creds", "alice:Sekrit-Canary-1", &image]).expect_ok("pull with --creds");
    assert_eq!(ok.out().trim(), id_of(&layout.configs[0]));
    assert!(!ok.err().contains("Sekrit-Canary-1") && !ok.out().contains("Sekrit-Canary-1"));
    let mut login = w.command(&["login", &certs, "-u", "alice", "--password-stdin", &host]);
    run(&mut login, b"Sekrit-Canary-1").expect_ok("hoist login");
    w.hoist(&["push", &certs, &image, &format!("{host}/team/pushed:v1")]).expect_ok("push with stored login");
    let certs_src = format!("--cert-dir={}", reg.cert_dir.as_ref().unwrap().display());
    let raw = c.skopeo(&[
        "inspect",
        "--raw",
        &certs_src,
        "--creds=alice:Sekrit-Canary-1",
        &format!("docker://{host}/team/pushed:v1"),
    ]);
    assert_eq!(raw.expect_ok("skopeo inspect").stdout, layout.top_bytes);

    // Token auth: alice may push, bob may only pull.
    let issuer = harness::token_issuer::TokenIssuer::start(true);
    // Its realm is plain HTTP: credentials go there only once registries.conf marks that host insecure.
    std::fs::write(w.path("registries.conf"), format!("unqualified-search-registries = []\n{}", issuer.trusted_conf()))
        .unwrap();
    let treg = Registry::start(Options {
        tls: true,
        users: vec![],
        token: Some((issuer.realm(), issuer.cert.clone())),
        ..Default::default()
    });
    let th = treg.host();
    let tcerts = cert_dir_arg(treg.cert_dir.as_ref().unwrap());
    let target = format!("{th}/team/app:v1");
    w.hoist(&["push", &tcerts, "--creds", "alice:secret", &image, &target]).expect_ok("alice pushes");
    let bob = w.hoist(&["pull", &tcerts, "--creds", "bob:bobpass", &target]).expect_ok("bob pulls");
    assert_eq!(bob.out().trim(), id_of(&layout.configs[0]));
    let bob_push = w.hoist(&["push", &tcerts, "--creds", "bob:bobpass", &image, &format!("{th}/team/bob:v1")]);
    one_error_line(&bob_push, &["denied"]);
    let anon = w.hoist(&["pull", &tcerts, "--no-creds", &target]);
    one_error_line(&anon, &[&target]);
}

#[test]
fn bad_input_is_one_line_and_leaves_the_store_as_it_was() {
    let reg = Registry::start(Options::default());
    let host = reg.host();
    let c = Containers::new(std::slice::from_ref(&host));
    let w = World::new(&format!(
        "unqualified-search-registries = [\"{host}\", \"127.0.0.1:9\"]\nshort-name-mode = \"enforcing\"\n\
         [[registry]]\nlocation = \"{host}\"\ninsecure = true\n"
    ));
    let (dir, _) = build(&c, "bad", &[ImageSpec::random(host_arch(), 1, 1000, 8)]);
    skopeo_push(&c, &dir, &format!("docker://{host}/lib/app:v1"), &["--dest-tls-verify=false"]);
    w.hoist(&["pull", &format!("{host}/lib/app:v1")]).expect_ok("a first image");
    let before = w.images();

    one_error_line(&w.hoist(&["pull", &format!("{host}/lib/app:nope")]), &[&format!("{host}/lib/app:nope")]);
    one_error_line(&w.hoist(&["pull", "UPPER/Case:x"]), &["invalid reference format"]);
    // Nothing listens on port 9 here.
    one_error_line(&w.hoist(&["pull", "127.0.0.1:9/lib/app:v1"]), &["127.0.0.1:9"]);
    let ambiguous = w.hoist(&["pull", "lib/app:v1"]);
    one_error_line(&ambiguous, &["enforcing"]);
    assert!(ambiguous.err().contains(&format!("{host}/lib/app:v1")), "candidates listed: {}", ambiguous.err());
    one_error_line(&w.hoist(&["rmi", "no-such-image"]), &["no-such-image"]);
    one_error_line(&w.hoist(&["copy", "nowhere", "store:x"]), &["transport"]);
    assert_eq!(w.images(), before, "the store is unchanged");
    let tmp = std::fs::read_dir(w.path("store/tmp")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(tmp, 0, "no temp files left behind");
}

#[test]
fn concurrent_and_killed_pulls_leave_a_consistent_store() {
    let reg = Registry::start(Options::default());
    let host = reg.host();
    let c = Containers::new(std::slice::from_ref(&host));
    let w = World::new(&insecure(&[&host]));
    let (dir, layout) = build(&c, "big", &[ImageSpec::random(host_arch(), 4, 3_000_000, 9)]);
    skopeo_push(&c, &dir, &format!("docker://{host}/lib/big:v1"), &["--dest-tls-verify=false"]);
    let name = format!("{host}/lib/big:v1");

    // Killed at different moments: never a visible partial image; then a pull completes it.
    for delay_ms in [5u64, 30, 80, 150, 300] {
        let mut child = w
            .command(&["pull", "-q", &name])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let images = w.images();
        assert!(images.is_empty() || images[0]["Digest"] == layout.top, "{images:?}");
        if !images.is_empty() {
            w.hoist(&["rmi", &name]).expect_ok("rmi");
        }
    }
    // Two pulls at once of the same image.
    let a = w
        .command(&["pull", "-q", &name])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let b = w.hoist(&["pull", "-q", &name]);
    let a_out = a.wait_with_output().unwrap();
    assert!(a_out.status.success() && b.ok(), "{a_out:?} {b:?}");
    assert_eq!(String::from_utf8_lossy(&a_out.stdout).trim(), id_of(&layout.configs[0]));
    assert_eq!(b.out().trim(), id_of(&layout.configs[0]));
    let images = w.images();
    assert_eq!(images.len(), 1, "{images:?}");
    // Every blob present and intact: a push of it to another repository succeeds with the same bytes.
    w.hoist(&["push", &name, &format!("{host}/lib/copy:v1")]).expect_ok("push the pulled image");
    assert_eq!(skopeo_raw(&c, &format!("docker://{host}/lib/copy:v1")), layout.top_bytes);
    let blobs = || std::fs::read_dir(w.path("store/blobs/sha256")).unwrap().count();
    let before = blobs();
    let pruned = w.hoist(&["prune", "-f"]).expect_ok("prune");
    assert_eq!((pruned.out(), blobs()), (String::new(), before), "no dangling image, no stray blob");
}

#[test]
fn client_certificates_from_the_cert_dir() {
    let reg = Registry::start(Options { tls: true, client_certs: true, ..Default::default() });
    let host = reg.host();
    let (server_ca, client) = (reg.cert_dir.clone().unwrap(), reg.client_cert_dir.clone().unwrap());
    let c = Containers::new(&[]);
    let w = World::new("unqualified-search-registries = []\n");
    let (dir, layout) = build(&c, "mtls", &[ImageSpec::random(host_arch(), 1, 10_000, 10)]);
    let image = format!("{host}/team/app:v1");
    // skopeo, with the same directory, is the reference behaviour.
    skopeo_push(&c, &dir, &format!("docker://{image}"), &[&format!("--dest-cert-dir={}", client.display())]);
    let without = w.hoist(&["pull", &cert_dir_arg(&server_ca), &image]);
    one_error_line(&without, &[&image]);
    let with = w.hoist(&["pull", &cert_dir_arg(&client), &image]).expect_ok("pull with a client certificate");
    assert_eq!(with.out().trim(), id_of(&layout.configs[0]));
    w.hoist(&["push", &cert_dir_arg(&client), &image, &format!("{host}/team/pushed:v1")]).expect_ok("push");
    // A .cert without its .key is refused, naming both.
    let broken = w.path("broken-certs");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::copy(server_ca.join("ca.crt"), broken.join("ca.crt")).unwrap();
    std::fs::copy(client.join("client.cert"), broken.join("client.cert")).unwrap();
    let refused = w.hoist(&["pull", &cert_dir_arg(&broken), &image]);
    one_error_line(&refused, &["missing key", "client.cert"]);
}

/// Issue 20's store bug: an image ID is one image. Loading what is already stored (a docker-dir or an unnamed
/// docker-archive, whose manifests differ from the pulled one but share its config) adds no `<none>` twin; an
/// ID prefix matching several manifests of one image is that image; `rmi -f ID` and `rmi -a` remove every
/// manifest with the ID; `rmi A B` naming one image says `Deleted:` once. podman 4.3 shows the same.
#[test]
fn an_image_id_is_one_image_whatever_manifests_it_came_in() {
    let reg = Registry::start(Options::default());
    let host = reg.host();
    let c = Containers::new(std::slice::from_ref(&host));
    let w = World::new(&insecure(&[&host]));
    let (dir, layout) = build(&c, "nginx", &[ImageSpec::random(host_arch(), 2, 100_000, 20)]);
    let name = format!("{host}/library/nginx");
    skopeo_push(&c, &dir, &format!("docker://{name}:latest"), &["--dest-tls-verify=false"]);
    let id = id_of(&layout.configs[0]);
    let short = &id[..12];
    let ids = |w: &World| -> Vec<String> {
        w.images().iter().map(|i| i["Id"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };

    // The sequence: pull, save as docker-dir (another manifest of the same config), load it back.
    w.hoist(&["pull", &name]).expect_ok("hoist pull");
    let d2 = w.path("d2");
    w.hoist(&["save", "--format", "docker-dir", "-o", d2.to_str().unwrap(), &name]).expect_ok("save docker-dir");
    let loaded = w.hoist(&["load", "-i", d2.to_str().unwrap()]).expect_ok("load the docker-dir");
    assert!(loaded.out().contains(&format!("sha256:{id}")), "{}", loaded.out());
    let images = w.images();
    assert_eq!(images.len(), 1, "no <none> twin: {images:#?}");
    assert_eq!(images[0]["Names"][0], format!("{name}:latest"));
    // An unnamed docker-archive of it (saved by ID) is the same image too.
    let by_id = w.path("by-id.tar");
    w.hoist(&["save", "-o", by_id.to_str().unwrap(), short]).expect_ok("save by ID");
    w.hoist(&["load", "-i", by_id.to_str().unwrap()]).expect_ok("load the unnamed archive");
    assert_eq!(ids(&w), vec![id.to_owned()], "no <none> twin after an archive either");
    let listed = w.hoist(&["images"]).expect_ok("images").out();
    assert!(!listed.contains("<none>"), "{listed}");

    // podman, on the same image: one image, one ID.
    c.podman(&["pull", "--tls-verify=false", &name], b"").expect_ok("podman pull");
    let pd = c.path("podman-d2");
    c.podman(&["save", "--format", "docker-dir", "-o", pd.to_str().unwrap(), &name], b"").expect_ok("podman save");
    c.podman(&["load", "-i", pd.to_str().unwrap()], b"").expect_ok("podman load");
    let podman_ids = c.podman(&["images", "--format", "{{.ID}} {{.Repository}}"], b"").expect_ok("podman images");
    assert_eq!(podman_ids.out().trim(), format!("{short} {name}"), "podman: one image");
    c.podman(&["tag", &name, "example.test/second:x"], b"").expect_ok("podman tag");
    let out = c.podman(&["rmi", &name, "example.test/second:x"], b"").expect_ok("podman rmi A B").out();
    assert_eq!(out.matches("Deleted:").count(), 1, "podman: {out}");
    assert!(out.ends_with(&format!("Deleted: {id}\n")), "podman: {out}");

    // The same config under a second name in another manifest (a docker-archive's): two names, one image.
    let other = format!("{host}/library/web:1");
    w.hoist(&["tag", &name, &other]).expect_ok("tag");
    let named = w.path("named.tar");
    w.hoist(&["save", "-o", named.to_str().unwrap(), &other]).expect_ok("save a docker-archive");
    w.hoist(&["load", "-i", named.to_str().unwrap()]).expect_ok("load it");
    let images = w.images();
    assert_eq!(images.len(), 2, "two manifests, one name each: {images:#?}");
    assert_ne!(images[0]["Digest"], images[1]["Digest"], "{images:#?}");
    assert_eq!(ids(&w), vec![id.to_owned(), id.to_owned()]);
    // By ID it is one image: found (not ambiguous), saved, tagged, refused by plain rmi for its two names.
    let inspected = w.hoist(&["inspect", short]).expect_ok("inspect by ID").out();
    let v: serde_json::Value = serde_json::from_str(&inspected).unwrap();
    assert!(images.iter().any(|i| i["Digest"] == v[0]["Digest"]), "{inspected}");
    w.hoist(&["save", "-o", w.path("again.tar").to_str().unwrap(), short]).expect_ok("save by ID");
    w.hoist(&["tag", short, "example.test/third:x"]).expect_ok("tag by ID");
    w.hoist(&["push", short, &format!("docker://{host}/pushed/by-id:1")]).expect_ok("push by ID");
    let pushed = skopeo_raw(&c, &format!("docker://{host}/pushed/by-id:1"));
    assert!(String::from_utf8_lossy(&pushed).contains(&layout.configs[0]), "the image's config");
    w.hoist(&["rmi", "example.test/third:x"]).expect_ok("rmi the third name");
    let refused = w.hoist(&["rmi", short]);
    assert_eq!(refused.code, Some(125), "{refused:?}");
    assert!(refused.err().contains("more than one tag") && !refused.err().contains("ambiguous"), "{}", refused.err());
    let removed = w.hoist(&["rmi", "-f", short]).expect_ok("rmi -f ID");
    let out = removed.out();
    assert_eq!(out.matches("Deleted:").count(), 1, "{out}");
    assert!(out.contains(&format!("Untagged: {name}:latest")) && out.contains(&format!("Untagged: {other}")), "{out}");
    assert!(w.images().is_empty());

    // `rmi A B`, both names of the image in two manifests: `Deleted:` once, at the end.
    w.hoist(&["load", "-i", named.to_str().unwrap()]).expect_ok("load again");
    w.hoist(&["pull", &name]).expect_ok("pull again");
    assert_eq!(ids(&w).len(), 2);
    let out = w.hoist(&["rmi", &other, &name]).expect_ok("rmi A B").out();
    assert_eq!(out.matches("Deleted:").count(), 1, "{out}");
    assert!(out.ends_with(&format!("Deleted: {id}\n")), "{out}");
    assert!(w.images().is_empty());
    // `rmi -f ID ID`, `rmi -f ID NAME`: as podman, the image goes once and the repeat is no error.
    w.hoist(&["load", "-i", named.to_str().unwrap()]).expect_ok("load again");
    w.hoist(&["pull", &name]).expect_ok("pull again");
    let out = w.hoist(&["rmi", "-f", short, &other, short]).expect_ok("rmi -f ID NAME ID").out();
    assert_eq!(out.matches("Deleted:").count(), 1, "{out}");
    assert!(w.images().is_empty());

    // `rmi -a` with the same ID in two manifests, then a load of what is there: an empty store at the end.
    w.hoist(&["pull", &name]).expect_ok("pull");
    w.hoist(&["load", "-i", named.to_str().unwrap()]).expect_ok("load");
    w.hoist(&["load", "-i", d2.to_str().unwrap()]).expect_ok("load the docker-dir");
    assert_eq!(ids(&w), vec![id.to_owned(), id.to_owned()]);
    let out = w.hoist(&["rmi", "-a"]).expect_ok("rmi -a").out();
    assert_eq!(out.matches("Deleted:").count(), 1, "{out}");
    assert!(w.images().is_empty());
    w.hoist(&["load", "-i", named.to_str().unwrap()]).expect_ok("load");
    w.hoist(&["pull", &name]).expect_ok("pull");
    let out = w.hoist(&["rmi", "-a", "-f"]).expect_ok("rmi -a -f").out();
    assert_eq!(out.matches("Deleted:").count(), 1, "{out}");
    assert_eq!(w.hoist(&["images"]).expect_ok("images").out().lines().count(), 1, "only the header");
    assert_eq!(std::fs::read_dir(w.path("store/blobs/sha256")).unwrap().count(), 0, "every blob collected");
}
