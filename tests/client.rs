//! The protocol crate's client against real helpers: the Go docker-credential-secretservice and
//! docker-credential-pass, and our docker-credential-file.

use std::os::unix::fs::PermissionsExt;

use harness::helpers::FileHelper;
use harness::pass::PassStore;
use harness::process::Env;
use harness::secret_service::SecretService;
use hoist_helper_protocol::Credentials;
use hoist_helper_protocol::client::{Client, ClientError};

const CANARY: &str = "Canary-Client-S3cret-41c9";

fn client(program: std::path::PathBuf, env: Env) -> Client {
    env.into_iter().fold(Client::with_program(program), |c, (k, v)| c.env(k, v))
}

/// The same life cycle through any helper: store, get, list, replace, token, erase, missing.
fn life_cycle(c: &Client) {
    let server = "registry.example:5000";
    assert!(c.get(server).unwrap().is_none(), "{}: empty store", c.program());
    c.erase(server).expect("erasing a missing entry is not an error");
    c.store(&Credentials::new(server, "alice", CANARY)).unwrap();
    let got = c.get(server).unwrap().expect("stored");
    assert_eq!((got.server_url.as_str(), got.username.as_str(), got.secret.expose()), (server, "alice", CANARY));
    assert_eq!(c.list().unwrap().get(server).map(String::as_str), Some("alice"));
    // Another server: the Go secretservice helper keeps one item per username and would return either.
    c.store(&Credentials::new("token.example", "<token>", "refresh-token-xyz")).unwrap();
    let got = c.get("token.example").unwrap().unwrap();
    assert!(got.is_identity_token());
    assert_eq!(got.secret.expose(), "refresh-token-xyz");
    let long = "t".repeat(60_000);
    c.store(&Credentials::new("long.example", "bob", long.as_str())).unwrap();
    assert_eq!(c.get("long.example").unwrap().unwrap().secret.expose(), long);
    c.erase(server).unwrap();
    c.erase("long.example").unwrap();
    c.erase("token.example").unwrap();
    assert!(c.get(server).unwrap().is_none());
    assert!(!c.list().unwrap().contains_key(server));
}

#[test]
fn client_against_go_secretservice() {
    let ss = SecretService::start();
    let program = harness::require("docker-credential-secretservice", "golang-docker-credential-helpers");
    life_cycle(&client(program, ss.env()));
}

#[test]
fn client_against_go_pass() {
    let pass = PassStore::start();
    let program = harness::require("docker-credential-pass", "golang-docker-credential-helpers");
    let c = client(program.clone(), pass.env());
    // pass 0.6.4 answers a missing entry with exit 0 and empty fields: the client must call that not found.
    let raw = harness::run(std::process::Command::new(&program).arg("get").envs(pass.env()), b"nothing.example");
    life_cycle(&c);
    assert!(c.get("nothing.example").unwrap().is_none(), "raw answer was {:?} / {:?}", raw.code, raw.out());
}

#[test]
fn client_against_docker_credential_file() {
    let h = FileHelper::new();
    life_cycle(&client(h.program.clone(), h.env()));
}

#[test]
fn a_missing_helper_says_so() {
    let err = Client::new("hoist-no-such-helper").get("x.example").unwrap_err();
    assert!(matches!(err, ClientError::NotInstalled { .. }), "{err:?}");
    assert!(err.to_string().contains("docker-credential-hoist-no-such-helper"), "{err}");
}

#[test]
fn helper_failures_carry_its_message_never_the_secret() {
    // A real helper failing: docker-credential-file refusing a world-readable store.
    let h = FileHelper::new();
    let c = client(h.program.clone(), h.env());
    c.store(&Credentials::new("r.example", "u", CANARY)).unwrap();
    std::fs::set_permissions(&h.store, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = c.store(&Credentials::new("r.example", "u", CANARY)).unwrap_err().to_string();
    assert!(err.contains("too open"), "{err}");
    assert!(!err.contains(CANARY), "{err}");
    let err = c.get("r.example").unwrap_err().to_string();
    assert!(err.contains("too open") && !err.contains(CANARY), "{err}");

    // A broken helper that echoes its input (no real helper can be made to): the secret is cut out.
    let dir = tempfile::tempdir().unwrap();
    let echo = dir.path().join("docker-credential-echo");
    std::fs::write(&echo, "#!/bin/sh\ncat\nexit 1\n").unwrap();
    std::fs::set_permissions(&echo, std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = Client::with_program(&echo).store(&Credentials::new("r.example", "u", CANARY)).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("withheld") && !text.contains(CANARY), "{text}");
    let other = Client::with_program(&echo).store(&Credentials::new("r.example", "u", "another-secret")).unwrap_err();
    assert_eq!(other.to_string(), text, "the error does not depend on the secret");
    // A message that merely contains a short password as a word (`locked`) is shown as it is: what a helper
    // says must not depend on whether the password is one of its words (a one-bit oracle). A long secret
    // (MIN_MATCHED_SECRET bytes or more) inside the message withholds it whole.
    let locked = dir.path().join("docker-credential-locked");
    std::fs::write(
        &locked,
        "#!/bin/sh
cat >/dev/null
echo 'the vault is locked and no passphrase source is set; passphrase-0123456789'
exit 1
",
    )
    .unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    let shown = |secret: &str| Client::with_program(&locked).store(&Credentials::new("r.example", "u", secret));
    let with_word = shown("locked").unwrap_err().to_string();
    for other in ["pw", "vault", "is", "passwd7"] {
        assert_eq!(shown(other).unwrap_err().to_string(), with_word, "the message depends on the secret {other:?}");
    }
    assert!(with_word.contains("the vault is locked and no passphrase source is set"), "{with_word}");
    let long = shown("passphrase-0123456789").unwrap_err().to_string();
    assert!(long.contains("withheld") && !long.contains("passphrase-0123456789"), "{long}");
    assert_eq!(hoist_helper_protocol::client::MIN_MATCHED_SECRET, 8);
    // An echo of the request is withheld whatever the secret, a short one included.
    let short = Client::with_program(&echo).store(&Credentials::new("r.example", "u", "pw")).unwrap_err();
    assert_eq!(short.to_string(), text, "an echoed request with a short secret");
    // A helper whose get answer is not JSON: the error must not quote the output (it may be the secret).
    let junk = dir.path().join("docker-credential-junk");
    std::fs::write(&junk, format!("#!/bin/sh\necho '{CANARY}'\n")).unwrap();
    std::fs::set_permissions(&junk, std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = Client::with_program(&junk).get("r.example").unwrap_err();
    assert!(matches!(err, ClientError::BadOutput { .. }) && !err.to_string().contains(CANARY), "{err}");
}
