//! `hoist login/logout/creds` against real registries, with podman, skopeo and our helpers as the other side.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use harness::helpers::{FileHelper, VaultHelper};
use harness::hoist::HoistWorld;
use harness::podman::{Containers, cert_dir_arg};
use harness::process::{Env, env_pair};
use harness::registry::{Options, Registry};
use harness::{Run, Subject, bin};

const USER: &str = "hoistuser";
const PASS: &str = "Canary-Login-Pass-3f9a";

/// An isolated environment for hoist (harness::hoist::HoistWorld).
struct World(HoistWorld);

impl World {
    fn new(registries_conf: &str) -> World {
        World(HoistWorld::new(registries_conf))
    }

    fn path(&self, s: &str) -> PathBuf {
        self.0.path(s)
    }

    fn hoist(&self, args: &[&str], input: &[u8], extra: &Env) -> Run {
        self.0.run(args, input, extra)
    }
}

fn no_secret(out: &Run) {
    assert!(!out.out().contains(PASS) && !out.err().contains(PASS), "secret in output: {out:?}");
}

fn tls_registry() -> (Registry, String) {
    let reg = Registry::start(Options {
        tls: true,
        users: vec![(USER.into(), PASS.into())],
        token: None,
        ..Default::default()
    });
    let certs = cert_dir_arg(reg.cert_dir.as_ref().unwrap());
    (reg, certs)
}

fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

#[test]
fn login_verifies_stores_and_skopeo_uses_it() {
    let (reg, certs) = tls_registry();
    let host = reg.host();
    let w = World::new("");
    let authfile = w.path("auth.json");
    let af = format!("--authfile={}", authfile.display());

    // Bad password: refused, nothing stored, secret never shown (also with -v).
    let out = w.hoist(&["login", &af, &certs, "-v", "-u", USER, "--password-stdin", &host], b"wrong-pass", &vec![]);
    assert_eq!(out.code, Some(125), "{out:?}");
    assert!(out.err().contains("invalid username/password"), "{}", out.err());
    assert!(!authfile.exists(), "nothing may be stored after a failed login");

    // TLS is verified: without the CA the login fails; --tls-verify=false skips verification.
    let out = w.hoist(&["login", &af, "-u", USER, "--password-stdin", &host], PASS.as_bytes(), &vec![]);
    assert_eq!(out.code, Some(125));
    assert!(out.err().to_lowercase().contains("certificate"), "{}", out.err());
    assert!(!authfile.exists());
    let out =
        w.hoist(&["login", &af, "--tls-verify=false", "-u", USER, "--password-stdin", &host], PASS.as_bytes(), &vec![]);
    out.expect_ok("login with --tls-verify=false");
    std::fs::remove_file(&authfile).unwrap();

    // Good password: stored in the auth file, 0600.
    let out = w.hoist(
        &["login", &af, &certs, "-v", "-u", USER, "--password-stdin", &host],
        format!("{PASS}\n").as_bytes(),
        &vec![],
    );
    no_secret(&out);
    let out = out.expect_ok("hoist login");
    assert!(out.out().contains("Login Succeeded!"));
    assert!(
        out.err().contains("GET https://") && out.err().contains("-> 401"),
        "verbose shows requests: {}",
        out.err()
    );
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(&authfile).unwrap().mode() & 0o777, 0o600);
    let v = read_json(&authfile);
    assert!(v["auths"][&host]["auth"].is_string(), "{v}");

    // skopeo reads hoist's auth file.
    let ctr = Containers::new(&[]);
    let image = format!("docker://{host}/team/app:v1");
    let digest = ctr.push_test_image(&image, "a.txt", &af, reg.cert_dir.as_ref().unwrap());
    let out = ctr.skopeo(&["inspect", &af, &certs, &image]).expect_ok("skopeo inspect with hoist's auth file");
    assert!(out.out().contains(&digest));

    // --get-login, creds list, logout.
    let out = w.hoist(&["login", &af, "--get-login", &host], b"", &vec![]).expect_ok("get-login");
    assert_eq!(out.out().trim(), USER);
    let out = w.hoist(&["creds", "list", &af, "--format", "json"], b"", &vec![]).expect_ok("creds list");
    no_secret(&out);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed[0]["Registry"], host.as_str());
    assert_eq!(listed[0]["Username"], USER);
    let out = w.hoist(&["logout", &af, &host], b"", &vec![]).expect_ok("logout");
    assert!(out.out().contains(&format!("Removed login credentials for {host}")));
    let out = w.hoist(&["logout", &af, &host], b"", &vec![]);
    assert_eq!(out.code, Some(125));
    assert!(out.err().contains(&format!("not logged into {host}")), "{}", out.err());
    let out = w.hoist(&["login", &af, "--get-login", &host], b"", &vec![]);
    assert_eq!(out.code, Some(125));
}

#[test]
fn hoist_reads_what_podman_login_wrote() {
    let (reg, certs) = tls_registry();
    let host = reg.host();
    let w = World::new("");
    let ctr = Containers::new(&[]);
    let authfile = w.path("podman-auth.json");
    let af = format!("--authfile={}", authfile.display());
    ctr.podman(&["login", &af, &certs, "-u", USER, "--password-stdin", &host], PASS.as_bytes())
        .expect_ok("podman login");
    let out = w.hoist(&["login", &af, "--get-login", &host], b"", &vec![]).expect_ok("hoist --get-login");
    assert_eq!(out.out().trim(), USER);
    // And the default location: podman writes $XDG_RUNTIME_DIR/containers/auth.json, hoist reads it.
    let runtime_auth = w.path("runtime/containers/auth.json");
    std::fs::create_dir_all(runtime_auth.parent().unwrap()).unwrap();
    std::fs::copy(&authfile, &runtime_auth).unwrap();
    let out = w.hoist(&["login", "--get-login", &host], b"", &vec![]).expect_ok("default auth file");
    assert_eq!(out.out().trim(), USER);
}

#[test]
fn login_through_each_hoist_helper() {
    let (reg, certs) = tls_registry();
    let host = reg.host();
    let w = World::new("");
    let file = FileHelper::new();
    let vault = VaultHelper::unlocked();
    let ss = harness::secret_service::SecretService::start();
    let keyring = harness::helpers::KeyringHelper::new(&ss);
    let cases: Vec<(&str, &dyn Subject, Env)> =
        vec![("file", &file, file.env()), ("vault", &vault, vault.env()), ("keyring", &keyring, ss.env())];
    for (name, helper, env) in cases {
        let authfile = w.path(&format!("auth-{name}.json"));
        let text = format!("{{\"credHelpers\":{{\"{host}\":\"{name}\"}}}}\n");
        std::fs::write(&authfile, &text).unwrap();
        let af = format!("--authfile={}", authfile.display());
        let out = w.hoist(&["login", &af, &certs, "-v", "-u", USER, "--password-stdin", &host], PASS.as_bytes(), &env);
        no_secret(&out);
        out.expect_ok(&format!("login through {name}"));
        assert_eq!(std::fs::read_to_string(&authfile).unwrap(), text, "{name}: the auth file is left alone");
        let got: serde_json::Value =
            serde_json::from_slice(&helper.run(&["get"], host.as_bytes()).expect_ok("helper get").stdout).unwrap();
        assert_eq!((got["Username"].as_str(), got["Secret"].as_str()), (Some(USER), Some(PASS)), "{name}");
        let out = w.hoist(&["login", &af, "--get-login", &host], b"", &env).expect_ok("get-login");
        assert_eq!(out.out().trim(), USER);
        w.hoist(&["logout", &af, &host], b"", &env).expect_ok("logout");
        assert_eq!(helper.run(&["get"], host.as_bytes()).code, Some(1), "{name}: logout erased it");
    }
}

#[test]
fn registries_conf_credential_helpers_are_shared_with_podman() {
    let (reg, certs) = tls_registry();
    let host = reg.host();
    let w = World::new("credential-helpers = [\"file\"]\n");
    let file = FileHelper::new();
    let ctr = Containers::new(&[]).with_env(file.env());
    // podman 4.3 reads credential-helpers from the registries.conf that CONTAINERS_REGISTRIES_CONF names.
    let ctr = ctr.with_env(vec![env_pair("CONTAINERS_REGISTRIES_CONF", w.path("registries.conf"))]);
    ctr.podman(&["login", &certs, "-u", USER, "--password-stdin", &host], PASS.as_bytes()).expect_ok("podman login");
    let listed: BTreeMap<String, String> =
        serde_json::from_slice(&file.run(&["list"], b"").expect_ok("list").stdout).unwrap();
    assert_eq!(listed.get(&host).map(String::as_str), Some(USER), "podman stored through docker-credential-file");
    let out = w.hoist(&["login", "--get-login", &host], b"", &file.env()).expect_ok("hoist finds podman's credential");
    assert_eq!(out.out().trim(), USER);

    // The reverse: hoist stores through the helper, podman finds it.
    file.reset();
    w.hoist(&["login", &certs, "-u", USER, "--password-stdin", &host], PASS.as_bytes(), &file.env())
        .expect_ok("hoist login");
    assert!(!w.path("runtime/containers/auth.json").exists(), "nothing written to the auth file");
    let out = ctr.podman(&["login", "--get-login", &host], b"").expect_ok("podman login --get-login");
    assert_eq!(out.out().trim(), USER);
}

#[test]
fn docker_config_with_creds_store() {
    let (reg, certs) = tls_registry();
    let host = reg.host();
    let w = World::new("");
    let file = FileHelper::new();
    let docker_dir = w.path("docker");
    std::fs::create_dir_all(&docker_dir).unwrap();
    let config = docker_dir.join("config.json");
    std::fs::write(&config, "{\"credsStore\":\"file\",\"auths\":{}}\n").unwrap();
    let af = format!("--authfile={}", config.display());
    w.hoist(&["login", &af, &certs, "-u", USER, "--password-stdin", &host], PASS.as_bytes(), &file.env())
        .expect_ok("login via credsStore");
    assert!(file.run(&["get"], host.as_bytes()).ok(), "stored through credsStore");
    assert!(!std::fs::read_to_string(&config).unwrap().contains("auth\""), "no password in config.json");
    // Found through DOCKER_CONFIG in the default search list too.
    let mut env = file.env();
    env.push(env_pair("DOCKER_CONFIG", &docker_dir));
    let out = w.hoist(&["login", "--get-login", &host], b"", &env).expect_ok("get-login via DOCKER_CONFIG");
    assert_eq!(out.out().trim(), USER);
}

#[test]
fn blocked_registries_are_refused_before_any_request() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let host = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    let w = World::new(&format!("[[registry]]\nlocation = \"{host}\"\nblocked = true\n"));
    let out = w.hoist(&["login", "-u", USER, "--password-stdin", &host], PASS.as_bytes(), &vec![]);
    assert_eq!(out.code, Some(125));
    assert!(out.err().contains("blocked") && out.err().contains("registries.conf"), "{}", out.err());
    assert!(listener.accept().is_err(), "hoist connected to a blocked registry");
}

#[test]
fn broken_files_give_one_line_naming_the_file() {
    let w = World::new("[[registry]\nlocation = 1\n");
    let out = w.hoist(&["login", "--get-login", "r.example"], b"", &vec![]);
    assert_eq!(out.code, Some(125));
    assert_eq!(out.err().lines().count(), 1, "{}", out.err());
    assert!(out.err().contains("registries.conf"), "{}", out.err());

    let w = World::new("");
    let authfile = w.path("auth.json");
    std::fs::write(&authfile, format!("{{\"auths\":{{\"r.example\":{{\"auth\":\"{PASS}\"")).unwrap();
    let out =
        w.hoist(&["login", &format!("--authfile={}", authfile.display()), "--get-login", "r.example"], b"", &vec![]);
    assert_eq!(out.code, Some(125));
    assert_eq!(out.err().lines().count(), 1, "{}", out.err());
    assert!(
        out.err().contains(&authfile.display().to_string()) && out.err().contains("not valid JSON"),
        "{}",
        out.err()
    );
    no_secret(&out);
    let out = w.hoist(&["login", "-u", USER, "r.example"], b"", &vec![]);
    assert_eq!(out.code, Some(125), "no terminal: no prompt");
    assert!(out.err().contains("without a terminal"), "{}", out.err());
}

fn token_registry(oauth2: bool) -> (harness::token_issuer::TokenIssuer, Registry, String) {
    let issuer = harness::token_issuer::TokenIssuer::start(oauth2);
    let reg = Registry::start(Options {
        tls: true,
        users: vec![],
        token: Some((issuer.realm(), issuer.cert.clone())),
        ..Default::default()
    });
    let certs = cert_dir_arg(reg.cert_dir.as_ref().unwrap());
    (issuer, reg, certs)
}

#[test]
fn login_against_token_auth() {
    let (issuer, reg, certs) = token_registry(true);
    let host = reg.host();
    // The realm is plain HTTP while the registry uses TLS: no credential goes there unless its host is
    // marked insecure (issue: skopeo sends the password in clear).
    let untrusted = World::new("");
    let out = untrusted.hoist(&["login", &certs, "-u", "alice", "--password-stdin", &host], b"secret", &vec![]);
    assert_eq!(out.code, Some(125), "{out:?}");
    assert!(out.err().contains("refusing to send credentials in clear text"), "{}", out.err());
    assert!(issuer.seen().is_empty(), "nothing reached the token service: {:?}", issuer.seen());

    let w = World::new(&issuer.trusted_conf());
    let authfile = w.path("auth.json");
    let af = format!("--authfile={}", authfile.display());

    let out = w.hoist(&["login", &af, &certs, "-u", "alice", "--password-stdin", &host], b"not-her-password", &vec![]);
    assert_eq!(out.code, Some(125), "{out:?}");
    assert!(out.err().contains("invalid username/password"), "{}", out.err());
    assert!(!authfile.exists());
    let seen = issuer.seen();
    assert!(
        seen.iter().any(|s| s.method == "GET" && s.authorized && s.account.as_deref() == Some("alice")),
        "{seen:?}"
    );

    w.hoist(&["login", &af, &certs, "-u", "alice", "--password-stdin", &host], b"secret", &vec![])
        .expect_ok("login alice");
    // skopeo uses the stored credential against the token-protected registry.
    let ctr = Containers::new(&[]);
    let image = format!("docker://{host}/team/app:v1");
    let digest = ctr.push_test_image(&image, "t.txt", &af, reg.cert_dir.as_ref().unwrap());
    let out = ctr.skopeo(&["inspect", &af, &certs, &image]).expect_ok("skopeo inspect");
    assert!(out.out().contains(&digest));
}

#[test]
fn identity_tokens_use_oauth2_and_fall_back_to_get() {
    for oauth2 in [true, false] {
        let (issuer, reg, certs) = token_registry(oauth2);
        let host = reg.host();
        let w = World::new(&issuer.trusted_conf());
        let af = format!("--authfile={}", w.path("auth.json").display());
        let refresh = issuer.mint_refresh_token("alice");
        let out = w.hoist(
            &["login", &af, &certs, "-v", "-u", "<token>", "--password-stdin", &host],
            refresh.as_bytes(),
            &vec![],
        );
        assert!(!out.err().contains(&refresh), "identity token in verbose output");
        out.expect_ok("login with an identity token");
        let seen = issuer.seen();
        assert!(
            seen.iter().any(|s| s.method == "POST" && s.grant_type.as_deref() == Some("refresh_token")),
            "oauth2={oauth2}: {seen:?}"
        );
        if !oauth2 {
            assert!(seen.iter().any(|s| s.method == "GET" && s.authorized), "fell back to GET: {seen:?}");
        }
        let v = read_json(&w.path("auth.json"));
        assert_eq!(v["auths"][&host]["identitytoken"], refresh.as_str(), "stored as an identity token");
        let out = w.hoist(&["login", &af, "--get-login", &host], b"", &vec![]).expect_ok("get-login");
        assert_eq!(out.out().trim(), "<token>");
        // A revoked/unknown token fails.
        let out =
            w.hoist(&["login", &af, &certs, "-u", "<token>", "--password-stdin", &host], b"refresh-bogus", &vec![]);
        assert_eq!(out.code, Some(125), "oauth2={oauth2}: {out:?}");
    }
}

#[test]
fn creds_migrate_moves_verified_credentials_and_rewrites_cred_helpers() {
    let (reg, certs) = tls_registry();
    let host = reg.host();
    let w = World::new("");
    let file = FileHelper::new();
    let vault = VaultHelper::unlocked();
    let mut env = file.env();
    env.extend(vault.env());
    let ctr = Containers::new(&[]).with_env(env.clone());
    let authfile = w.path("auth.json");
    let af = format!("--authfile={}", authfile.display());
    // podman writes the password into auth.json; another entry must survive untouched.
    ctr.podman(&["login", &af, &certs, "-u", USER, "--password-stdin", &host], PASS.as_bytes())
        .expect_ok("podman login");
    let mut doc = read_json(&authfile);
    doc["auths"]["other.example"] = serde_json::json!({"auth": "b3RoZXI6eA=="});
    std::fs::write(&authfile, doc.to_string()).unwrap();

    let out = w.hoist(&["creds", "migrate", &af, "--to", "file", &host], b"", &env);
    no_secret(&out);
    assert!(out.expect_ok("migrate to file").out().contains(&format!("moved {host} ({USER})")));
    let doc = read_json(&authfile);
    assert_eq!(doc["credHelpers"][&host], "file");
    assert!(doc["auths"].get(&host).is_none(), "the password left auth.json: {doc}");
    assert_eq!(doc["auths"]["other.example"]["auth"], "b3RoZXI6eA==", "other registries are not moved");
    assert!(file.run(&["get"], host.as_bytes()).ok());

    // skopeo now finds it through the helper.
    let image = format!("docker://{host}/mig/app:v1");
    ctr.push_test_image(&image, "m.txt", &af, reg.cert_dir.as_ref().unwrap());

    // From one helper to another: the vault; the file helper's copy is erased.
    w.hoist(&["creds", "migrate", &af, "--from", "file", "--to", "vault"], b"", &env).expect_ok("migrate to vault");
    assert_eq!(read_json(&authfile)["credHelpers"][&host], "vault");
    assert_eq!(file.run(&["get"], host.as_bytes()).code, Some(1));
    let got: serde_json::Value =
        serde_json::from_slice(&vault.run(&["get"], host.as_bytes()).expect_ok("vault get").stdout).unwrap();
    assert_eq!(got["Secret"], PASS);
    ctr.skopeo(&["inspect", &af, &certs, &image]).expect_ok("inspect via the vault");

    // A helper that cannot take it (vault locked): nothing is removed.
    vault.lock();
    let out = w.hoist(&["creds", "migrate", &af, "--from", "vault", "--to", "file"], b"", &env);
    assert_eq!(out.code, Some(125), "{out:?}");
    assert_eq!(read_json(&authfile)["credHelpers"][&host], "vault");
}

#[test]
fn logout_all_and_terminal_prompts() {
    let (reg, certs) = tls_registry();
    let host = reg.host();
    let w = World::new("");
    let authfile = w.path("auth.json");
    let af = format!("--authfile={}", authfile.display());
    // Prompted on a terminal (script gives hoist a pseudo-terminal): username echoed, password not.
    let script = harness::require("script", "bsdutils");
    let cmdline = format!("{} login {af} {certs} {host}", bin("hoist").display());
    let mut cmd = Command::new(script);
    cmd.args(["-qec", &cmdline, "/dev/null"]).envs(w.0.env.iter().map(|(k, v)| (k, v)));
    cmd.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut seen = Vec::new();
    let mut wait_for = |text: &str, seen: &mut Vec<u8>| {
        let mut buf = [0u8; 256];
        while !String::from_utf8_lossy(seen).contains(text) {
            let n = std::io::Read::read(&mut stdout, &mut buf).unwrap();
            assert!(n > 0, "no {text:?} prompt: {}", String::from_utf8_lossy(seen));
            seen.extend_from_slice(&buf[..n]);
        }
    };
    wait_for("Username:", &mut seen);
    std::io::Write::write_all(&mut stdin, format!("{USER}\n").as_bytes()).unwrap();
    wait_for("Password:", &mut seen);
    std::io::Write::write_all(&mut stdin, format!("{PASS}\n").as_bytes()).unwrap();
    wait_for("Login Succeeded!", &mut seen);
    drop(stdin);
    let _ = child.wait();
    let shown = String::from_utf8_lossy(&seen);
    assert!(!shown.contains(PASS), "the password was echoed: {shown}");
    assert_eq!(w.hoist(&["login", &af, "--get-login", &host], b"", &vec![]).expect_ok("get-login").out().trim(), USER);

    let mut doc = read_json(&authfile);
    doc["auths"]["second.example"] = serde_json::json!({"auth": "dTpw"});
    std::fs::write(&authfile, doc.to_string()).unwrap();
    let out = w.hoist(&["logout", &af, "--all"], b"", &vec![]).expect_ok("logout --all");
    assert!(out.out().contains("Removed login credentials for all registries"));
    assert_eq!(read_json(&authfile)["auths"], serde_json::json!({}));
}
