//! docker-credential-keyring against a real gnome-keyring: sharing items with docker-credential-secretservice
//! both ways, one item per server, concurrency, large secrets, and every way the keyring can be unavailable.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::conformance::GoSecretService;
use harness::helpers::KeyringHelper;
use harness::secret_service::SecretService;
use harness::{Run, Subject};

const CANARY: &str = "Canary-Keyring-S3cret-5a0e";

fn creds(server: &str, user: &str, secret: &str) -> Vec<u8> {
    serde_json::json!({"ServerURL": server, "Username": user, "Secret": secret}).to_string().into_bytes()
}

fn list(s: &dyn Subject) -> BTreeMap<String, String> {
    serde_json::from_slice(&s.run(&["list"], b"").expect_ok("list").stdout).expect("list JSON")
}

fn get(s: &dyn Subject, server: &str) -> serde_json::Value {
    serde_json::from_slice(&s.run(&["get"], server.as_bytes()).expect_ok("get").stdout).expect("get JSON")
}

/// Items in the keyring whose `server` attribute is `server`, as secret-tool sees them.
fn items_for(ss: &SecretService, server: &str) -> usize {
    let out = harness::run(
        Command::new(harness::require("secret-tool", "libsecret-tools"))
            .args(["search", "--all", "server", server])
            .envs(ss.env()),
        b"",
    );
    // secret-tool prints one "[/org/freedesktop/secrets/collection/...]" header per item (on stdout or stderr).
    format!("{}{}", out.out(), out.err()).lines().filter(|l| l.starts_with("[/")).count()
}

#[test]
fn items_are_shared_with_docker_credential_secretservice_both_ways() {
    let ss = SecretService::start();
    let ours = KeyringHelper::new(&ss);
    let go = GoSecretService::new(&ss);

    // Stored by the Go helper, read, listed and erased by ours.
    go.run(&["store"], &creds("go.example:5000", "gouser", CANARY)).expect_ok("go store");
    let got = get(&ours, "go.example:5000");
    assert_eq!((got["Username"].as_str(), got["Secret"].as_str()), (Some("gouser"), Some(CANARY)));
    assert_eq!(list(&ours).get("go.example:5000").map(String::as_str), Some("gouser"));
    ours.run(&["erase"], b"go.example:5000").expect_ok("our erase");
    assert_eq!(go.run(&["get"], b"go.example:5000").out(), "credentials not found in native keychain\n");

    // Stored by ours, read, listed and erased by the Go helper.
    ours.run(&["store"], &creds("ours.example", "<token>", CANARY)).expect_ok("our store");
    let got = get(&go, "ours.example");
    assert_eq!((got["Username"].as_str(), got["Secret"].as_str()), (Some("<token>"), Some(CANARY)));
    assert_eq!(list(&go).get("ours.example").map(String::as_str), Some("<token>"));
    go.run(&["erase"], b"ours.example").expect_ok("go erase");
    assert_eq!(ours.run(&["get"], b"ours.example").out(), "credentials not found in native keychain\n");

    // docker's Docker Hub key is found under podman's name.
    go.run(&["store"], &creds("https://index.docker.io/v1/", "hub", CANARY)).expect_ok("go store");
    assert_eq!(get(&ours, "docker.io")["Username"], "hub");
}

#[test]
fn one_item_per_server() {
    let ss = SecretService::start();
    let ours = KeyringHelper::new(&ss);
    for (user, secret) in [("a", "1"), ("a", "2"), ("b", "3")] {
        ours.run(&["store"], &creds("one.example", user, secret)).expect_ok("store");
        assert_eq!(items_for(&ss, "one.example"), 1, "after storing {user}/{secret}");
    }
    assert_eq!(get(&ours, "one.example")["Secret"], "3");
    // Another spelling of the same registry replaces it too.
    ours.run(&["store"], &creds("https://one.example/", "c", "4")).expect_ok("store");
    assert_eq!(items_for(&ss, "one.example") + items_for(&ss, "https://one.example/"), 1);
    assert_eq!(list(&ours), BTreeMap::from([("https://one.example/".to_string(), "c".to_string())]));
}

#[test]
fn thirty_two_concurrent_stores_all_land_without_duplicates() {
    let ss = SecretService::start();
    let ours = KeyringHelper::new(&ss);
    let children: Vec<_> = (0..32)
        .map(|i| {
            let mut cmd = ours.command();
            cmd.arg("store").stdin(Stdio::piped()).stdout(Stdio::piped());
            let mut child = cmd.spawn().unwrap();
            child.stdin.take().unwrap().write_all(&creds(&format!("c{i}.example"), &format!("u{i}"), CANARY)).unwrap();
            child
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    }
    let all = list(&ours);
    assert_eq!(all.len(), 32, "{all:?}");
    for i in 0..32 {
        assert_eq!(all[&format!("c{i}.example")], format!("u{i}"));
        assert_eq!(items_for(&ss, &format!("c{i}.example")), 1);
    }
}

#[test]
fn large_secrets_and_identity_tokens_round_trip() {
    let ss = SecretService::start();
    let ours = KeyringHelper::new(&ss);
    for (server, user, size) in [("k64.example", "u", 64 << 10), ("m1.example", "<token>", 1 << 20)] {
        let secret: String = (0..size).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
        ours.run(&["store"], &creds(server, user, &secret)).expect_ok("store");
        let got = get(&ours, server);
        assert_eq!(got["Username"], user);
        assert!(got["Secret"] == secret.as_str(), "{server}: secret of {size} bytes did not round-trip");
    }
}

/// Exit 1, one line on stdout that mentions `hint`, within 5 s, and no secret anywhere.
fn assert_unavailable(what: &str, out: &Run, took: Duration, hint: &str) {
    assert_eq!(out.code, Some(1), "{what}: {out:?}");
    let text = out.out();
    assert_eq!(text.lines().count(), 1, "{what}: {text:?}");
    assert!(text.contains(hint), "{what}: want {hint:?} in {text:?}");
    assert!(took < Duration::from_secs(5), "{what}: took {took:?}");
    assert!(!text.contains(CANARY) && !out.err().contains(CANARY), "{what}: secret leaked");
}

fn timed(s: &dyn Subject, cmd_env: impl Fn(&mut Command), args: &[&str], input: &[u8]) -> (Run, Duration) {
    let mut cmd = s.command();
    cmd_env(&mut cmd);
    cmd.args(args);
    let start = Instant::now();
    let out = harness::run(&mut cmd, input);
    (out, start.elapsed())
}

#[test]
fn missing_or_dead_bus_is_a_clear_error() {
    let ss = SecretService::start();
    let ours = KeyringHelper::new(&ss);
    let empty = tempfile::tempdir().unwrap();
    let input = creds("x.example", "u", CANARY);
    for (what, args, input) in
        [("store", vec!["store"], &input[..]), ("get", vec!["get"], b"x.example"), ("list", vec!["list"], b"")]
    {
        let (out, took) = timed(
            &ours,
            |c| {
                c.env_remove("DBUS_SESSION_BUS_ADDRESS").env("XDG_RUNTIME_DIR", empty.path());
            },
            &args,
            input,
        );
        assert_unavailable(&format!("unset bus, {what}"), &out, took, "DBUS_SESSION_BUS_ADDRESS is not set");
        let (out, took) = timed(
            &ours,
            |c| {
                c.env("DBUS_SESSION_BUS_ADDRESS", format!("unix:path={}/gone.sock", empty.path().display()));
            },
            &args,
            input,
        );
        assert_unavailable(&format!("dead bus, {what}"), &out, took, "cannot connect to the D-Bus session bus");
    }
}

#[test]
fn killed_or_hung_keyring_is_a_clear_error() {
    let mut ss = SecretService::start();
    let ours = KeyringHelper::new(&ss);
    ours.run(&["store"], &creds("k.example", "u", CANARY)).expect_ok("store");

    let pid = ss.keyring_pid();
    // SAFETY: signalling the gnome-keyring-daemon this test started.
    unsafe { libc::kill(pid as i32, libc::SIGSTOP) };
    let (out, took) = timed(&ours, |_| {}, &["get"], b"k.example");
    unsafe { libc::kill(pid as i32, libc::SIGCONT) };
    assert_unavailable("hung keyring", &out, took, "did not answer");

    ss.kill_keyring();
    for (args, input) in [
        (vec!["get"], b"k.example".to_vec()),
        (vec!["store"], creds("k.example", "u", CANARY)),
        (vec!["erase"], b"k.example".to_vec()),
        (vec!["list"], vec![]),
    ] {
        let (out, took) = timed(&ours, |_| {}, &args, &input);
        assert_unavailable(&format!("killed keyring, {args:?}"), &out, took, "no Secret Service provider");
    }
}

#[test]
fn locked_keyring_is_a_clear_error_never_a_prompt() {
    let ss = SecretService::start();
    let ours = KeyringHelper::new(&ss);
    ours.run(&["store"], &creds("l.example", "u", CANARY)).expect_ok("store");
    ss.lock_login_collection();
    for (args, input) in [
        (vec!["get"], b"l.example".to_vec()),
        (vec!["store"], creds("m.example", "u", CANARY)),
        (vec!["erase"], b"l.example".to_vec()),
        (vec!["list"], vec![]),
    ] {
        let (out, took) = timed(&ours, |_| {}, &args, &input);
        assert_unavailable(&format!("locked, {args:?}"), &out, took, "locked");
        assert!(out.out().contains("never shows an unlock prompt"), "{}", out.out());
    }
}

/// 32 stores of one registry at once (different users): every one succeeds, and exactly one item remains,
/// holding a consistent username and secret.
#[test]
fn concurrent_stores_of_one_server_end_with_one_item() {
    let ss = SecretService::start();
    let ours = KeyringHelper::new(&ss);
    let children: Vec<_> = (0..32)
        .map(|i| {
            let mut cmd = ours.command();
            cmd.arg("store").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
            let mut child = cmd.spawn().unwrap();
            let input = creds("same.example", &format!("u{i}"), &format!("{CANARY}-{i}"));
            child.stdin.take().unwrap().write_all(&input).unwrap();
            child
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{} {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(items_for(&ss, "same.example"), 1);
    let got = get(&ours, "same.example");
    let user = got["Username"].as_str().unwrap();
    let i = user.strip_prefix('u').unwrap();
    assert_eq!(got["Secret"], format!("{CANARY}-{i}"), "username and secret belong together");
}

/// Four loops of store-then-erase on different registries, with a list loop beside them: no spurious
/// failure anywhere (a store that fails must not have stored; an erase that fails must not leave it).
#[test]
fn store_and_erase_loops_on_different_servers_never_fail_spuriously() {
    let ss = SecretService::start();
    let ours = std::sync::Arc::new(KeyringHelper::new(&ss));
    let mut threads = Vec::new();
    for t in 0..4 {
        let ours = ours.clone();
        threads.push(std::thread::spawn(move || {
            let mut failures = Vec::new();
            let server = format!("loop{t}.example");
            for _ in 0..15 {
                for (verb, input) in [("store", creds(&server, "u", CANARY)), ("erase", server.clone().into_bytes())] {
                    let out = ours.run(&[verb], &input);
                    if !out.ok() {
                        failures.push(format!("{verb} {server}: {}{}", out.out(), out.err()));
                    }
                }
            }
            failures
        }));
    }
    let lister = {
        let ours = ours.clone();
        std::thread::spawn(move || {
            (0..30)
                .filter_map(|_| {
                    let out = ours.run(&["list"], b"");
                    (!out.ok()).then(|| format!("list: {}{}", out.out(), out.err()))
                })
                .collect::<Vec<_>>()
        })
    };
    let mut failures: Vec<String> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    failures.extend(lister.join().unwrap());
    assert!(failures.is_empty(), "{} failures: {failures:?}", failures.len());
    for t in 0..4 {
        assert_eq!(items_for(&ss, &format!("loop{t}.example")), 0, "every erase removed its item");
    }
}

#[test]
fn a_server_url_with_nul_is_bad_input() {
    let ss = SecretService::start();
    let ours = KeyringHelper::new(&ss);
    let out = ours.run(&["store"], br#"{"ServerURL":"a\u0000b.example","Username":"u","Secret":"x"}"#);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.out().contains("NUL character") && !out.out().contains("zbus"), "{}", out.out());
    let out = ours.run(&["get"], b"a\0b.example");
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(!out.out().contains("zbus") && !out.out().contains("I/O error"), "{}", out.out());
}

#[test]
fn bad_input_is_refused_cleanly_and_changes_nothing() {
    let ss = SecretService::start();
    let ours = KeyringHelper::new(&ss);
    ours.run(&["store"], &creds("existing.example", "u", CANARY)).expect_ok("store");
    let before = list(&ours);
    for (name, args, input) in &harness::badinput::cases() {
        let out = ours.run(args, input);
        harness::badinput::assert_clean_failure(name, &out);
    }
    assert_eq!(list(&ours), before);
    assert_eq!(get(&ours, "existing.example")["Secret"], CANARY);
    assert_eq!(items_for(&ss, "existing.example"), 1);
}

/// The macOS/Windows backend (keyring-core entries plus an index), built on Linux with
/// `--cfg hoist_native_keyring` by `make test`, so the keyring crate runs it against the real Secret Service.
#[test]
fn native_keyring_backend_round_trips_on_a_real_keyring() {
    let program = harness::process::target_dir().parent().unwrap().join("native/debug/docker-credential-keyring");
    assert!(program.is_file(), "{} is missing: `make test` builds it", program.display());
    let ss = SecretService::start();
    let native = KeyringHelper { program, env: ss.env() };
    native.run(&["store"], &creds("https://index.docker.io/v1/", "hub", CANARY)).expect_ok("store");
    native.run(&["store"], &creds("n.example:5000", "<token>", "tok")).expect_ok("store");
    assert_eq!(get(&native, "docker.io")["Secret"], CANARY);
    assert_eq!(get(&native, "n.example:5000")["Username"], "<token>");
    native.run(&["store"], &creds("docker.io", "hub2", "p2")).expect_ok("store replaces the other spelling");
    assert_eq!(
        list(&native),
        BTreeMap::from([
            ("docker.io".to_string(), "hub2".to_string()),
            ("n.example:5000".to_string(), "<token>".to_string())
        ])
    );
    native.run(&["erase"], b"https://index.docker.io/v1/").expect_ok("erase");
    assert_eq!(native.run(&["get"], b"docker.io").out(), "credentials not found in native keychain\n");
    assert_eq!(list(&native).len(), 1);
    for (name, args, input) in &harness::badinput::cases() {
        harness::badinput::assert_clean_failure(name, &native.run(args, input));
    }
}

#[test]
fn list_returns_server_keys_not_item_labels() {
    let ss = SecretService::start();
    let ours = KeyringHelper::new(&ss);
    let go = GoSecretService::new(&ss);
    // An item written by another program: same schema and attributes, but its own label.
    let mut cmd = Command::new(harness::require("secret-tool", "libsecret-tools"));
    cmd.args(["store", "--label=Work registry (added by hand)", "xdg:schema", "io.docker.Credentials"])
        .args(["server", "work.example", "username", "worker", "docker_cli", "1", "label", "Docker Credentials"])
        .envs(ss.env());
    harness::run(&mut cmd, CANARY.as_bytes()).expect_ok("secret-tool store");
    assert_eq!(list(&go), BTreeMap::from([("Work registry (added by hand)".to_string(), "worker".to_string())]));
    assert_eq!(list(&ours), BTreeMap::from([("work.example".to_string(), "worker".to_string())]));
    assert_eq!(get(&ours, "work.example")["Secret"], CANARY);
}
