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
