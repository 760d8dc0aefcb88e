//! Real clients through our helpers: podman login/logout and skopeo inspect against a distribution registry
//! with TLS and htpasswd, the helper named in an auth file's credHelpers.

use std::collections::BTreeMap;

use harness::Subject;
use harness::helpers::{FileHelper, KeyringHelper, VaultHelper};
use harness::podman::{Containers, cert_dir_arg};
use harness::process::Env;
use harness::registry::{Options, Registry};
use harness::secret_service::SecretService;

const USER: &str = "hoistuser";
const PASS: &str = "Canary-Registry-Pass-77e1";

fn list(h: &dyn Subject) -> BTreeMap<String, String> {
    serde_json::from_slice(&h.run(&["list"], b"").expect_ok("list").stdout).unwrap()
}

#[test]
fn podman_and_skopeo_use_docker_credential_file() {
    let helper = FileHelper::new();
    podman_and_skopeo_use(&helper, "file", helper.env());
}

#[test]
fn podman_and_skopeo_use_docker_credential_keyring() {
    let ss = SecretService::start();
    let helper = KeyringHelper::new(&ss);
    podman_and_skopeo_use(&helper, "keyring", ss.env());
}

#[test]
fn podman_and_skopeo_use_docker_credential_vault_when_unlocked() {
    let helper = VaultHelper::unlocked();
    podman_and_skopeo_use(&helper, "vault", helper.env());
}

/// The whole round: push an image, login through the helper named `name`, inspect, logout.
fn podman_and_skopeo_use(helper: &dyn Subject, name: &str, env: Env) {
    let reg = Registry::start(Options {
        tls: true,
        users: vec![(USER.into(), PASS.into())],
        token: None,
        ..Default::default()
    });
    let host = reg.host();
    let certs = cert_dir_arg(reg.cert_dir.as_ref().unwrap());
    let ctr = Containers::new(&[]).with_env(env);

    // An image to look at, pushed with explicit credentials.
    let image = format!("docker://{host}/hoist/interop:v1");
    let digest = ctr.push_test_image(
        &image,
        "hello.txt",
        &format!("--dest-creds={USER}:{PASS}"),
        reg.cert_dir.as_ref().unwrap(),
    );

    let authfile = ctr.path("auth.json");
    let auth = format!("{{\"credHelpers\":{{\"{host}\":\"{name}\"}}}}\n");
    std::fs::write(&authfile, &auth).unwrap();
    let authfile_arg = format!("--authfile={}", authfile.display());

    // Without a credential the registry refuses.
    let out = ctr.skopeo(&["inspect", &authfile_arg, &certs, &image]);
    assert!(!out.ok() && out.err().contains("authentication required"), "inspect without credentials: {}", out.err());

    // A wrong password: podman fails and nothing is stored.
    let out = ctr.podman(&["login", &authfile_arg, &certs, "-u", USER, "--password-stdin", &host], b"wrong-password");
    assert!(!out.ok() && out.err().contains("invalid username/password"), "wrong password: {}", out.err());
    assert!(list(helper).is_empty());

    // podman login stores through docker-credential-file and leaves the auth file alone.
    let out = ctr.podman(&["login", &authfile_arg, &certs, "-u", USER, "--password-stdin", &host], PASS.as_bytes());
    let out = out.expect_ok("podman login");
    assert!(!out.out().contains(PASS) && !out.err().contains(PASS));
    assert_eq!(list(helper), BTreeMap::from([(host.clone(), USER.to_owned())]));
    assert_eq!(std::fs::read_to_string(&authfile).unwrap(), auth, "podman must not write the password to auth.json");
    let stored = helper.run(&["get"], host.as_bytes()).expect_ok("get");
    let stored: serde_json::Value = serde_json::from_slice(&stored.stdout).unwrap();
    assert_eq!(stored["Secret"], PASS);

    // skopeo finds the credential through the helper.
    let out = ctr.skopeo(&["inspect", &authfile_arg, &certs, &image]).expect_ok("skopeo inspect with the helper");
    let inspected: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(inspected["Digest"], digest);

    // podman logout erases it; the registry refuses again.
    ctr.podman(&["logout", &authfile_arg, &host], b"").expect_ok("podman logout");
    assert!(list(helper).is_empty(), "logout must erase the credential");
    let out = ctr.skopeo(&["inspect", &authfile_arg, &certs, &image]);
    assert!(!out.ok() && out.err().contains("authentication required"), "after logout: {}", out.err());
}
