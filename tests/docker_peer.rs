//! Docker as a peer (issue 22): Debian's Docker Engine 20.10 and its client, started privately by the harness,
//! against hoist's helpers and hoist itself.
//!
//! - Credentials: `docker login`/`push`/`pull`/`logout` through each helper (file, keyring, vault), named by
//!   `credHelpers` and by `credsStore`, against a TLS+htpasswd registry and a token registry; hoist reads what
//!   `docker login` wrote, Docker reads what `hoist login` wrote; Docker's key forms round-trip.
//! - Archives both ways: `docker save` → `hoist load`/`verify`, `hoist save` → `docker load`, same image IDs.
//! - Pulls both ways: Docker pulls what hoist pushed (schema 2, OCI, a multi-platform index), hoist pulls what
//!   Docker pushed.

use std::collections::BTreeMap;
use std::path::Path;

use harness::Subject;
use harness::docker::Docker;
use harness::helpers::{FileHelper, KeyringHelper, VaultHelper};
use harness::hoist::HoistWorld;
use harness::process::{Env, Run, env_pair};
use harness::registry::{Options, Registry};
use harness::secret_service::SecretService;
use harness::token_issuer::TokenIssuer;

const USER: &str = "hoistuser";
const PASS: &str = "Canary-Docker-Peer-Pass-31c7";

/// A one-file root filesystem as a tar, for `docker import` (no network, no base image).
fn rootfs_tar(file: &str, content: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(1_700_000_000);
    h.set_cksum();
    b.append_data(&mut h, file, content).unwrap();
    b.into_inner().unwrap()
}

/// Makes an image `name` in the engine from one file.
fn docker_image(docker: &Docker, name: &str, content: &[u8]) {
    docker.docker_with_input(&["import", "-", name], &rootfs_tar("hello.txt", content)).expect_ok("docker import");
}

/// The helper's `list`: server URL → username.
fn list(h: &dyn Subject) -> BTreeMap<String, String> {
    serde_json::from_slice(&h.run(&["list"], b"").expect_ok("list").stdout).unwrap()
}

/// `docker ARGS` with the helper's environment added (the client runs the helper).
fn docker_with(docker: &Docker, helper_env: &Env, args: &[&str], input: &[u8]) -> Run {
    let mut cmd = docker.command();
    cmd.envs(helper_env.iter().map(|(k, v)| (k, v))).args(args);
    harness::run(&mut cmd, input)
}

/// A registry Docker and hoist log in to, with what hoist needs to reach it.
struct Target {
    reg: Registry,
    _issuer: Option<TokenIssuer>,
    user: &'static str,
    pass: &'static str,
    /// registries.conf for hoist (the token realm is plain HTTP: marked insecure so credentials may go there).
    conf: String,
    what: &'static str,
}

fn htpasswd_registry() -> Target {
    let reg = Registry::start(Options { tls: true, users: vec![(USER.into(), PASS.into())], ..Default::default() });
    Target { reg, _issuer: None, user: USER, pass: PASS, conf: String::new(), what: "TLS+htpasswd" }
}

fn token_registry() -> Target {
    let issuer = TokenIssuer::start(false);
    let reg = Registry::start(Options {
        tls: true,
        token: Some((issuer.realm(), issuer.cert.clone())),
        ..Default::default()
    });
    let conf = issuer.trusted_conf();
    Target { reg, _issuer: Some(issuer), user: "alice", pass: "secret", conf, what: "token" }
}

/// The whole round with one helper, for both registries and both ways of naming the helper.
fn docker_uses(helper: &dyn Subject, name: &str, env: Env) {
    let docker = Docker::start();
    for target in [htpasswd_registry(), token_registry()] {
        for creds_store in [false, true] {
            helper.reset();
            round(&docker, &target, helper, name, &env, creds_store);
        }
    }
}

fn round(docker: &Docker, t: &Target, helper: &dyn Subject, name: &str, env: &Env, creds_store: bool) {
    let host = t.reg.host();
    let how = if creds_store { "credsStore" } else { "credHelpers" };
    let ctx = format!("{name} via {how}, {} registry", t.what);
    let config = docker.config_dir().join("config.json");
    let written = if creds_store {
        format!("{{\"credsStore\":\"{name}\"}}\n")
    } else {
        format!("{{\"credHelpers\":{{\"{host}\":\"{name}\"}}}}\n")
    };
    std::fs::write(&config, &written).unwrap();
    let repo = format!("{host}/peer/{name}-{}", how.to_lowercase());
    let image = format!("{repo}:docker");
    docker_image(docker, &image, format!("{ctx}\n").as_bytes());

    // Not logged in: the registry refuses Docker's push.
    let out = docker_with(docker, env, &["push", &image], b"");
    assert!(!out.ok(), "{ctx}: push without credentials succeeded: {}", out.out());

    // A wrong password: refused, nothing stored.
    let out = docker_with(docker, env, &["login", "-u", t.user, "--password-stdin", &host], b"wrong-password");
    assert!(!out.ok(), "{ctx}: login with a wrong password succeeded");
    assert!(list(helper).is_empty(), "{ctx}: a refused login stored {:?}", list(helper));

    // docker login stores through the helper under Docker's key (host:port) and keeps the secret out of the file.
    let out = docker_with(docker, env, &["login", "-u", t.user, "--password-stdin", &host], t.pass.as_bytes());
    let out = out.expect_ok(&format!("{ctx}: docker login"));
    assert!(!out.out().contains(t.pass) && !out.err().contains(t.pass), "{ctx}: the password was printed");
    assert_eq!(list(helper), BTreeMap::from([(host.clone(), t.user.to_owned())]), "{ctx}");
    let file = std::fs::read_to_string(&config).unwrap();
    assert!(!file.contains(t.pass) && !file.contains("\"auth\""), "{ctx}: docker wrote a secret into {file}");
    let got = helper.run(&["get"], host.as_bytes()).expect_ok("get");
    let got: serde_json::Value = serde_json::from_slice(&got.stdout).unwrap();
    assert_eq!((got["Username"].as_str(), got["Secret"].as_str()), (Some(t.user), Some(t.pass)), "{ctx}");

    // Docker pushes and pulls with it.
    docker_with(docker, env, &["push", &image], b"").expect_ok(&format!("{ctx}: docker push"));
    docker.docker(&["rmi", &image]).expect_ok("docker rmi");
    docker_with(docker, env, &["pull", &image], b"").expect_ok(&format!("{ctx}: docker pull"));

    // hoist reads what docker login wrote: DOCKER_CONFIG's config.json names the helper.
    let w = HoistWorld::new(&t.conf);
    let mut henv = env.clone();
    henv.push(env_pair("DOCKER_CONFIG", docker.config_dir()));
    let certs = format!("--cert-dir={}", t.reg.cert_dir.as_ref().unwrap().display());
    w.run(&["pull", "-q", &certs, &image], b"", &henv).expect_ok(&format!("{ctx}: hoist pull with docker's login"));
    let pushed = format!("{repo}:hoist");
    w.run(&["push", "-q", &certs, &image, &pushed], b"", &henv)
        .expect_ok(&format!("{ctx}: hoist push with docker's login"));
    docker_with(docker, env, &["pull", &pushed], b"").expect_ok(&format!("{ctx}: docker pull of hoist's push"));

    // docker logout erases through the helper; both are refused again.
    docker_with(docker, env, &["logout", &host], b"").expect_ok(&format!("{ctx}: docker logout"));
    assert!(list(helper).is_empty(), "{ctx}: logout left {:?}", list(helper));
    docker.docker(&["rmi", &pushed]).expect_ok("docker rmi");
    let out = docker_with(docker, env, &["pull", &pushed], b"");
    assert!(!out.ok(), "{ctx}: docker pull after logout succeeded");
    let out = w.run(&["pull", "-q", &certs, &image], b"", &henv);
    assert!(!out.ok(), "{ctx}: hoist pull after docker logout succeeded");

    // Docker reads what hoist login wrote into its config.json (through the helper that file names).
    let af = format!("--authfile={}", config.display());
    w.run(&["login", &af, &certs, "-u", t.user, "--password-stdin", &host], t.pass.as_bytes(), &henv)
        .expect_ok(&format!("{ctx}: hoist login"));
    assert_eq!(list(helper), BTreeMap::from([(host.clone(), t.user.to_owned())]), "{ctx}: after hoist login");
    let file = std::fs::read_to_string(&config).unwrap();
    assert!(!file.contains(t.pass) && !file.contains("\"auth\""), "{ctx}: hoist wrote a secret into {file}");
    docker_with(docker, env, &["pull", &pushed], b"").expect_ok(&format!("{ctx}: docker pull with hoist's login"));
    w.run(&["logout", &af, &host], b"", &henv).expect_ok(&format!("{ctx}: hoist logout"));
    assert!(list(helper).is_empty(), "{ctx}: hoist logout left {:?}", list(helper));
    for i in [&image, &pushed] {
        docker.docker(&["rmi", i]).expect_ok("docker rmi");
    }
}

#[test]
fn docker_logs_in_through_docker_credential_file() {
    let helper = FileHelper::new();
    docker_uses(&helper, "file", helper.env());
}

#[test]
fn docker_logs_in_through_docker_credential_keyring() {
    let ss = SecretService::start();
    let helper = KeyringHelper::new(&ss);
    docker_uses(&helper, "keyring", ss.env());
}

#[test]
fn docker_logs_in_through_docker_credential_vault() {
    let helper = VaultHelper::unlocked();
    docker_uses(&helper, "vault", helper.env());
}

/// Docker's key forms — `https://index.docker.io/v1/` for Docker Hub (what `docker login` without a server
/// stores and `docker logout` erases), `host:port` otherwise — round-trip through every helper's
/// store/list/get/erase, and `docker logout` (no server: Hub) erases Hub's entry through the helper offline.
#[test]
fn docker_key_forms_round_trip_through_every_helper() {
    let ss = SecretService::start();
    let (file, keyring, vault) = (FileHelper::new(), KeyringHelper::new(&ss), VaultHelper::unlocked());
    let helpers: [(&dyn Subject, &str, Env); 3] =
        [(&file, "file", file.env()), (&keyring, "keyring", ss.env()), (&vault, "vault", vault.env())];
    let docker = Docker::start();
    let hub = "https://index.docker.io/v1/";
    for (helper, name, env) in helpers {
        helper.reset();
        for (key, user) in [(hub, "hubuser"), ("127.0.0.1:5000", "portuser"), ("registry.example:443", "tlsuser")] {
            let input = format!("{{\"ServerURL\":\"{key}\",\"Username\":\"{user}\",\"Secret\":\"s3-{user}\"}}");
            helper.run(&["store"], input.as_bytes()).expect_ok(&format!("{name}: store {key}"));
        }
        let listed = list(helper);
        assert_eq!(
            listed,
            BTreeMap::from([
                (hub.to_owned(), "hubuser".to_owned()),
                ("127.0.0.1:5000".to_owned(), "portuser".to_owned()),
                ("registry.example:443".to_owned(), "tlsuser".to_owned()),
            ]),
            "{name}: list must give back Docker's keys exactly"
        );
        for (key, user) in [(hub, "hubuser"), ("127.0.0.1:5000", "portuser")] {
            let got = helper.run(&["get"], key.as_bytes()).expect_ok(&format!("{name}: get {key}"));
            let got: serde_json::Value = serde_json::from_slice(&got.stdout).unwrap();
            assert_eq!(got["Username"], user, "{name}: get {key}");
            assert_eq!(got["Secret"], format!("s3-{user}"), "{name}: get {key}");
        }
        // Docker's own logout of Hub (no server named) erases `https://index.docker.io/v1/` through the helper.
        std::fs::write(docker.config_dir().join("config.json"), format!("{{\"credsStore\":\"{name}\"}}\n")).unwrap();
        docker_with(&docker, &env, &["logout"], b"").expect_ok(&format!("{name}: docker logout (Hub)"));
        let listed = list(helper);
        assert!(!listed.contains_key(hub), "{name}: docker logout left Hub's entry: {listed:?}");
        assert_eq!(listed.len(), 2, "{name}: docker logout of Hub erased others: {listed:?}");
        docker_with(&docker, &env, &["logout", "127.0.0.1:5000"], b"").expect_ok(&format!("{name}: docker logout"));
        assert_eq!(list(helper).len(), 1, "{name}: docker logout 127.0.0.1:5000");
    }
}

/// registries.conf marking `host` insecure (plain HTTP), as Docker treats 127.0.0.0/8.
fn insecure(host: &str) -> String {
    format!("unqualified-search-registries = []\n[[registry]]\nlocation = \"{host}\"\ninsecure = true\n")
}

/// The engine's image ID of `name` (the config digest), without `sha256:`.
fn docker_id(docker: &Docker, name: &str) -> String {
    let out = docker.docker(&["image", "inspect", "--format", "{{.Id}}", name]).expect_ok("docker image inspect");
    out.out().trim().trim_start_matches("sha256:").to_owned()
}

/// hoist's image ID of `name` in the world's store (podman's: the config digest's hex).
fn hoist_id(w: &HoistWorld, name: &str) -> String {
    let out = w.run(&["inspect", "--format", "{{.Id}}", name], b"", &vec![]).expect_ok("hoist inspect");
    out.out().trim().trim_start_matches("sha256:").to_owned()
}

/// A two-layer image with config fields, built by the engine's classic builder from scratch (no network).
fn docker_built(docker: &Docker, name: &str, seed: &str) {
    let ctx = docker.scratch(&format!("ctx-{seed}"));
    std::fs::write(ctx.join("a.txt"), format!("a {seed}\n")).unwrap();
    std::fs::write(ctx.join("b.txt"), format!("b {seed}\n")).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch\nCOPY a.txt /a.txt\nENV PEER=docker\nCOPY b.txt /etc/b.txt\nLABEL seed=x\nCMD [\"/a.txt\"]\n",
    )
    .unwrap();
    let mut cmd = docker.command();
    cmd.env("DOCKER_BUILDKIT", "0").args(["build", "-q", "-t", name]).arg(&ctx);
    harness::run(&mut cmd, b"").expect_ok("docker build");
}

/// `docker save` of one image, of several, and of an image by ID → `hoist verify` and `hoist load`: the same
/// image IDs, names as Docker wrote them, made local as podman makes them (`peer/one:1` → `localhost/peer/one:1`), none for an image saved by ID.
#[test]
fn docker_save_loads_into_hoist() {
    let docker = Docker::start();
    docker_built(&docker, "peer/one:1", "one");
    docker_image(&docker, "peer/two:2", b"two\n");
    docker_built(&docker, "peer/three:3", "three");
    // A child sharing its parent's layers (saved together: the archive holds them once).
    let child_ctx = docker.scratch("ctx-child");
    std::fs::write(child_ctx.join("c.txt"), "child\n").unwrap();
    std::fs::write(child_ctx.join("Dockerfile"), "FROM peer/one:1\nCOPY c.txt /c.txt\n").unwrap();
    let mut cmd = docker.command();
    cmd.env("DOCKER_BUILDKIT", "0").args(["build", "-q", "-t", "peer/child:1"]).arg(&child_ctx);
    harness::run(&mut cmd, b"").expect_ok("docker build of the child");
    let (one, two, three) =
        (docker_id(&docker, "peer/one:1"), docker_id(&docker, "peer/two:2"), docker_id(&docker, "peer/three:3"));
    let child = docker_id(&docker, "peer/child:1");
    let dir = docker.scratch("saved");
    let (single, several, by_id) = (dir.join("single.tar"), dir.join("several.tar"), dir.join("by-id.tar"));
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    docker.docker(&["save", "-o", &s(&single), "peer/one:1"]).expect_ok("docker save one");
    docker
        .docker(&["save", "-o", &s(&several), "peer/one:1", "peer/two:2", "peer/child:1"])
        .expect_ok("docker save several");
    docker.docker(&["save", "-o", &s(&by_id), &three]).expect_ok("docker save by ID");

    let w = HoistWorld::new("");
    for archive in [&single, &several, &by_id] {
        w.run(&["verify", &s(archive)], b"", &vec![]).expect_ok(&format!("hoist verify {}", archive.display()));
    }
    w.run(&["load", "-q", "-i", &s(&single)], b"", &vec![]).expect_ok("hoist load (one image)");
    assert_eq!(hoist_id(&w, "localhost/peer/one:1"), one);
    w.run(&["load", "-q", "-i", &s(&several)], b"", &vec![]).expect_ok("hoist load (several)");
    assert_eq!(hoist_id(&w, "localhost/peer/two:2"), two);
    assert_eq!(hoist_id(&w, "localhost/peer/one:1"), one);
    assert_eq!(hoist_id(&w, "localhost/peer/child:1"), child);
    w.run(&["load", "-q", "-i", &s(&by_id)], b"", &vec![]).expect_ok("hoist load (by ID)");
    assert_eq!(hoist_id(&w, &three), three, "the image saved by ID is known by that ID");
    let out = w.run(&["inspect", "--format", "{{.RepoTags}}", &three], b"", &vec![]).expect_ok("inspect");
    assert!(!out.out().contains("three"), "an image saved by ID has no name: {}", out.out());
}

/// `hoist save` (docker-archive, one image and `-m` several) → `docker load`: the names hoist wrote and the
/// same image IDs.
#[test]
fn hoist_save_loads_into_docker() {
    let docker = Docker::start();
    let w = HoistWorld::new("");
    let layout = w.path("layout");
    let made = harness::image::write_layout(&layout, "v1", &[harness::image::ImageSpec::random("amd64", 2, 4096, 7)]);
    let layout2 = w.path("layout2");
    let made2 = harness::image::write_layout(&layout2, "v2", &[harness::image::ImageSpec::random("amd64", 1, 512, 8)]);
    let oci = |d: &Path, t: &str| format!("oci:{}:{t}", d.display());
    w.run(&["copy", "-q", &oci(&layout, "v1"), "store:localhost/peer/saved:1"], b"", &vec![]).expect_ok("copy");
    w.run(&["copy", "-q", &oci(&layout2, "v2"), "store:localhost/peer/other:2"], b"", &vec![]).expect_ok("copy");
    let dir = docker.scratch("hoist-saved");
    let (single, several) = (dir.join("single.tar"), dir.join("several.tar"));
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    w.run(&["save", "-q", "-o", &s(&single), "localhost/peer/saved:1"], b"", &vec![]).expect_ok("hoist save");
    w.run(&["save", "-q", "-m", "-o", &s(&several), "localhost/peer/saved:1", "localhost/peer/other:2"], b"", &vec![])
        .expect_ok("hoist save -m");

    let out = docker.docker(&["load", "-i", &s(&single)]).expect_ok("docker load (one image)");
    assert!(out.out().contains("Loaded image: localhost/peer/saved:1"), "{}", out.out());
    let config = made.configs[0].trim_start_matches("sha256:");
    assert_eq!(docker_id(&docker, "localhost/peer/saved:1"), config);
    docker.docker(&["rmi", "localhost/peer/saved:1"]).expect_ok("docker rmi");
    let out = docker.docker(&["load", "-i", &s(&several)]).expect_ok("docker load (-m)");
    assert!(
        out.out().contains("localhost/peer/saved:1") && out.out().contains("localhost/peer/other:2"),
        "{}",
        out.out()
    );
    assert_eq!(docker_id(&docker, "localhost/peer/saved:1"), config);
    assert_eq!(docker_id(&docker, "localhost/peer/other:2"), made2.configs[0].trim_start_matches("sha256:"));
    // The loaded image is whole to Docker: it saves it again with the same layers.
    let again = dir.join("again.tar");
    docker.docker(&["save", "-o", &s(&again), "localhost/peer/saved:1"]).expect_ok("docker save of hoist's image");
    w.run(&["verify", &s(&again)], b"", &vec![]).expect_ok("hoist verify of docker's save");
}

/// Docker pulls what hoist pushed — an OCI manifest, a Docker schema 2 one (converted on the way), and a
/// multi-platform index, of which Docker takes linux/amd64 — and hoist pulls what Docker pushed: same IDs.
#[test]
fn pulls_both_ways() {
    let docker = Docker::start();
    let reg = Registry::start(Options::default());
    let host = reg.host();
    let w = HoistWorld::new(&insecure(&host));
    let single = w.path("single");
    let made = harness::image::write_layout(&single, "v1", &[harness::image::ImageSpec::random("amd64", 2, 2048, 1)]);
    let multi = w.path("multi");
    let specs = [
        harness::image::ImageSpec::random("arm64", 1, 1024, 2),
        harness::image::ImageSpec::random("amd64", 1, 1024, 3),
    ];
    let made_multi = harness::image::write_layout(&multi, "v1", &specs);
    let src = |d: &Path| format!("oci:{}:v1", d.display());
    let oci_ref = format!("{host}/peer/oci:1");
    let v2s2_ref = format!("{host}/peer/v2s2:1");
    let multi_ref = format!("{host}/peer/multi:1");
    w.run(&["copy", "-q", &src(&single), &format!("docker://{oci_ref}")], b"", &vec![]).expect_ok("copy oci");
    w.run(&["copy", "-q", "-f", "v2s2", &src(&single), &format!("docker://{v2s2_ref}")], b"", &vec![])
        .expect_ok("copy v2s2");
    w.run(&["copy", "-q", "--all", &src(&multi), &format!("docker://{multi_ref}")], b"", &vec![])
        .expect_ok("copy --all");
    let config = made.configs[0].trim_start_matches("sha256:");
    for name in [&oci_ref, &v2s2_ref] {
        docker.docker(&["pull", name]).expect_ok(&format!("docker pull {name}"));
        assert_eq!(docker_id(&docker, name), config, "{name}");
    }
    let out = docker.docker(&["pull", &multi_ref]).expect_ok("docker pull of the index");
    assert!(out.out().contains(made_multi.top.as_str()), "docker names the index digest: {}", out.out());
    assert_eq!(
        docker_id(&docker, &multi_ref),
        made_multi.configs[1].trim_start_matches("sha256:"),
        "Docker takes linux/amd64 of the index"
    );
    // Docker saves the pulled image whole (its layers were what hoist pushed).
    let saved = docker.scratch("pulled").join("oci.tar");
    docker.docker(&["save", "-o", saved.to_str().unwrap(), &oci_ref]).expect_ok("docker save");
    w.run(&["verify", saved.to_str().unwrap()], b"", &vec![]).expect_ok("hoist verify");

    // Docker pulls what `hoist build --push` sent (hard links and an empty WORKDIR layer in it).
    let ctx = docker.scratch("ctx-built");
    std::fs::write(ctx.join("a.txt"), "a\n").unwrap();
    std::fs::hard_link(ctx.join("a.txt"), ctx.join("b.txt")).unwrap();
    std::fs::write(ctx.join("Dockerfile"), "FROM scratch\nCOPY . /app/\nWORKDIR /app\nCMD [\"/app/a.txt\"]\n").unwrap();
    let built = format!("{host}/peer/built:1");
    let out = w.run(&["build", "-q", "--push", "-t", &built, ctx.to_str().unwrap()], b"", &vec![]);
    let built_id = out.expect_ok("hoist build --push").out().lines().last().unwrap_or_default().to_owned();
    docker.docker(&["pull", &built]).expect_ok("docker pull of hoist's build");
    assert_eq!(docker_id(&docker, &built), built_id);
    let saved = docker.scratch("pulled").join("built.tar");
    docker.docker(&["save", "-o", saved.to_str().unwrap(), &built]).expect_ok("docker save");
    w.run(&["verify", saved.to_str().unwrap()], b"", &vec![])
        .expect_ok("hoist verify of docker's save of hoist's build");

    // hoist pulls what Docker pushed (built by Docker: schema 2, gzip layers Docker compressed).
    let pushed = format!("{host}/peer/from-docker:1");
    docker_built(&docker, &pushed, "pushed");
    let out = docker.docker(&["push", &pushed]).expect_ok("docker push");
    let id = docker_id(&docker, &pushed);
    w.run(&["pull", "-q", &pushed], b"", &vec![]).expect_ok("hoist pull of docker's push");
    assert_eq!(hoist_id(&w, &pushed), id);
    let digest = w.run(&["digest", &format!("docker://{pushed}")], b"", &vec![]).expect_ok("hoist digest");
    assert!(out.out().contains(digest.out().trim()), "docker push printed {}; hoist sees {}", out.out(), digest.out());
}

/// Images with the same (empty) layer twice — what BuildKit and now hoist make of `WORKDIR` on a directory
/// that exists — travel both ways: `docker save` → `hoist verify`/`load`, `hoist build` → `hoist save` →
/// `docker load`, Docker's push → `hoist pull`; same IDs. And an image under two tags saved at once gets both.
#[test]
fn repeated_layers_and_several_tags_travel_both_ways() {
    let docker = Docker::start();
    let reg = Registry::start(Options::default());
    let host = reg.host();
    let w = HoistWorld::new(&insecure(&host));
    let ctx = docker.scratch("ctx-empty");
    std::fs::write(ctx.join("a.txt"), "a\n").unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch\nCOPY a.txt /d/a.txt\nWORKDIR /d\nWORKDIR /d\nWORKDIR /\nCMD [\"/d/a.txt\"]\n",
    )
    .unwrap();
    let mut cmd = docker.command();
    cmd.env("DOCKER_BUILDKIT", "1").args(["build", "-q", "-t", "peer/empty:1"]).arg(&ctx);
    harness::run(&mut cmd, b"").expect_ok("docker build");
    docker.docker(&["tag", "peer/empty:1", "peer/empty:also"]).expect_ok("docker tag");
    let id = docker_id(&docker, "peer/empty:1");
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let archive = docker.scratch("empty").join("empty.tar");
    docker.docker(&["save", "-o", &s(&archive), "peer/empty:1", "peer/empty:also"]).expect_ok("docker save");
    w.run(&["verify", &s(&archive)], b"", &vec![]).expect_ok("hoist verify");
    w.run(&["load", "-q", "-i", &s(&archive)], b"", &vec![]).expect_ok("hoist load");
    assert_eq!(hoist_id(&w, "localhost/peer/empty:1"), id);
    assert_eq!(hoist_id(&w, "localhost/peer/empty:also"), id);
    let theirs = docker.docker(&["image", "inspect", "--format", "{{json .RootFS.Layers}}", "peer/empty:1"]);
    let theirs: Vec<String> = serde_json::from_str(theirs.expect_ok("inspect").out().trim()).unwrap();
    assert_eq!(theirs.len(), 3, "BuildKit: the COPY layer and two empty ones: {theirs:?}");
    assert_eq!(theirs[1], theirs[2], "the empty layer twice");
    let out = w.run(&["inspect", "--format", "{{json .RootFS.Layers}}", &id], b"", &vec![]).expect_ok("inspect");
    let ours: Vec<String> = serde_json::from_str(out.out().trim()).unwrap();
    assert_eq!(ours, theirs, "hoist loaded every layer");

    // hoist's own build of the same context: the same layers; saved and loaded by Docker.
    w.run(&["build", "-q", "-t", "hoist-empty:1", &s(&ctx)], b"", &vec![]).expect_ok("hoist build");
    let hid = hoist_id(&w, "localhost/hoist-empty:1");
    let saved = docker.scratch("empty").join("hoist.tar");
    w.run(&["save", "-q", "-o", &s(&saved), "localhost/hoist-empty:1"], b"", &vec![]).expect_ok("hoist save");
    docker.docker(&["load", "-i", &s(&saved)]).expect_ok("docker load of a repeated layer");
    assert_eq!(docker_id(&docker, "localhost/hoist-empty:1"), hid);
    let layers = docker.docker(&["image", "inspect", "--format", "{{json .RootFS.Layers}}", "localhost/hoist-empty:1"]);
    let layers: Vec<String> = serde_json::from_str(layers.expect_ok("inspect").out().trim()).unwrap();
    // The COPY layer's bytes differ (mtimes); the empty layers are the same tar.
    assert_eq!((layers.len(), &layers[1..]), (theirs.len(), &theirs[1..]), "hoist's build has BuildKit's empty layers");

    // Docker pushes the image with the repeated layer; hoist pulls it.
    let remote = format!("{host}/peer/empty:1");
    docker.docker(&["tag", "peer/empty:1", &remote]).expect_ok("docker tag");
    docker.docker(&["push", &remote]).expect_ok("docker push");
    w.run(&["pull", "-q", &remote], b"", &vec![]).expect_ok("hoist pull");
    assert_eq!(hoist_id(&w, &remote), id);
}

/// Without a helper, `docker login` writes the password base64'd into config.json's `auths`: hoist reads it
/// from `DOCKER_CONFIG` for its pulls and pushes.
#[test]
fn hoist_reads_docker_logins_kept_in_config_json() {
    let docker = Docker::start();
    let t = htpasswd_registry();
    let host = t.reg.host();
    std::fs::write(docker.config_dir().join("config.json"), "{}\n").unwrap();
    // No helper on PATH, so the client keeps the credential in the file (Debian's docker would pick
    // docker-credential-pass or -secretservice as a default store when it finds one).
    let mut cmd = docker.command();
    cmd.env("PATH", "/nonexistent").args(["login", "-u", USER, "--password-stdin", &host]);
    harness::run(&mut cmd, PASS.as_bytes()).expect_ok("docker login");
    let file = std::fs::read_to_string(docker.config_dir().join("config.json")).unwrap();
    assert!(file.contains("\"auth\""), "docker kept the credential in the file: {file}");
    let image = format!("{host}/peer/plain:1");
    docker_image(&docker, &image, b"plain\n");
    docker.docker(&["push", &image]).expect_ok("docker push");
    let w = HoistWorld::new("");
    let certs = format!("--cert-dir={}", t.reg.cert_dir.as_ref().unwrap().display());
    let env = vec![env_pair("DOCKER_CONFIG", docker.config_dir())];
    let out = w.run(&["pull", "-q", &certs, &image], b"", &vec![]);
    assert!(!out.ok(), "without DOCKER_CONFIG hoist has no credential");
    w.run(&["pull", "-q", &certs, &image], b"", &env).expect_ok("hoist pull with docker's config.json");
    assert_eq!(hoist_id(&w, &image), docker_id(&docker, &image));
    w.run(&["push", "-q", &certs, &image, &format!("{host}/peer/plain:2")], b"", &env).expect_ok("hoist push");
}

/// An image without layers (`FROM scratch` and config only): hoist's build → `hoist save` → `docker load`,
/// the same ID as BuildKit's build of it. (Docker 20.10 cannot `docker save` one: "empty export - not
/// implemented".)
#[test]
fn an_image_without_layers_loads_into_docker() {
    let docker = Docker::start();
    let w = HoistWorld::new("");
    let ctx = docker.scratch("ctx-nolayers");
    std::fs::write(ctx.join("Dockerfile"), "FROM scratch\nENV X=1\nLABEL only=config\n").unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let out = w.run(&["build", "-q", "-t", "hoist-nolayers:1", &s(&ctx)], b"", &vec![]).expect_ok("hoist build");
    let hid = hoist_id(&w, "localhost/hoist-nolayers:1");
    assert_eq!(out.out().trim(), hid);
    let saved = docker.scratch("nolayers").join("hoist.tar");
    w.run(&["save", "-q", "-o", &s(&saved), "localhost/hoist-nolayers:1"], b"", &vec![]).expect_ok("hoist save");
    docker.docker(&["load", "-i", &s(&saved)]).expect_ok("docker load");
    assert_eq!(docker_id(&docker, "localhost/hoist-nolayers:1"), hid);
    let env = docker.docker(&["image", "inspect", "--format", "{{json .Config.Env}} {{.Config.WorkingDir}}", &hid]);
    assert_eq!(
        env.expect_ok("inspect").out().trim(),
        r#"["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","X=1"] /"#
    );
}
