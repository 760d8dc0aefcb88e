//! docker-credential-file under concurrency, crashes, bad input and hostile file permissions.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::{Command, Stdio};
use std::time::Duration;

use harness::Subject;
use harness::helpers::FileHelper;

use harness::badinput::{self, CANARY, assert_clean_failure};

fn creds(server: &str, user: &str, secret: &str) -> Vec<u8> {
    serde_json::json!({"ServerURL": server, "Username": user, "Secret": secret}).to_string().into_bytes()
}

fn list(h: &FileHelper) -> BTreeMap<String, String> {
    let out = h.run(&["list"], b"").expect_ok("list");
    serde_json::from_slice(&out.stdout).expect("list answers a JSON map")
}

fn spawn_store(h: &FileHelper, input: Vec<u8>) -> std::process::Child {
    let mut cmd = h.command();
    cmd.arg("store").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&input).unwrap();
    drop(stdin);
    child
}

#[test]
fn sixty_four_concurrent_stores_for_sixty_four_servers_all_land() {
    let h = FileHelper::new();
    let children: Vec<_> =
        (0..64).map(|i| spawn_store(&h, creds(&format!("reg{i}.example:5000"), &format!("user{i}"), CANARY))).collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "store failed: {}", String::from_utf8_lossy(&out.stdout));
    }
    let all = list(&h);
    assert_eq!(all.len(), 64, "{all:?}");
    for i in 0..64 {
        assert_eq!(all[&format!("reg{i}.example:5000")], format!("user{i}"));
    }
}

#[test]
fn sixty_four_concurrent_stores_to_one_server_leave_one_of_them() {
    let h = FileHelper::new();
    let children: Vec<_> =
        (0..64).map(|i| spawn_store(&h, creds("one.example", &format!("user{i}"), &format!("secret{i}")))).collect();
    for child in children {
        assert!(child.wait_with_output().unwrap().status.success());
    }
    let file: serde_json::Value = serde_json::from_slice(&h.contents().unwrap()).expect("store file is valid JSON");
    let entries = file["credentials"].as_object().unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let got = h.run(&["get"], b"one.example").expect_ok("get");
    let got: serde_json::Value = serde_json::from_slice(&got.stdout).unwrap();
    let user = got["Username"].as_str().unwrap();
    let n: usize = user.strip_prefix("user").unwrap().parse().unwrap();
    assert!(n < 64);
    assert_eq!(got["Secret"], format!("secret{n}"), "username and secret come from the same store");
}

#[test]
fn sigkill_at_random_moments_never_loses_a_completed_store() {
    let h = FileHelper::new();
    let mut completed: Vec<String> = Vec::new();
    let mut killed = 0;
    let window = 2 * harness::process::store_duration(&h, &creds("timing.example", "u", CANARY)).as_micros() as u64;
    let mut rng = fastrand::Rng::with_seed(
        std::env::var("HOIST_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| fastrand::u64(..)),
    );
    for i in 0..200 {
        let server = format!("kill{i}.example");
        let mut child = spawn_store(&h, creds(&server, "u", CANARY));
        // From 0 to twice a store's duration: kills land before, during and after the write.
        std::thread::sleep(Duration::from_micros(rng.u64(0..window)));
        let _ = child.kill();
        let status = child.wait().unwrap();
        if status.success() {
            completed.push(server);
        } else {
            killed += 1;
        }
        // The file must parse after every single kill and hold every store that exited 0.
        if let Some(bytes) = h.contents() {
            let file: serde_json::Value = serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("store file corrupt after iteration {i}: {e}"));
            let entries = file["credentials"].as_object().unwrap();
            for s in &completed {
                assert!(entries.contains_key(s), "{s} exited 0 but is missing after iteration {i}");
            }
        } else {
            assert!(completed.is_empty(), "the store vanished after {} completed stores", completed.len());
        }
    }
    eprintln!("{killed} stores killed, {} completed", completed.len());
    assert!(
        killed > 0 && !completed.is_empty(),
        "the kills must hit both sides: {killed} killed, {} completed",
        completed.len()
    );
    // A later writer cleans up the temp files of killed ones.
    h.run(&["store"], &creds("final.example", "u", CANARY)).expect_ok("store");
    let names: Vec<String> = fs::read_dir(h.store.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| n == "credentials.json" || n == "credentials.json.lock"), "{names:?}");
}

/// Bad input: exit 1, exactly one line on stdout, nothing on stderr, no panic, store byte-identical, and the
/// secret that was in the input never printed.
#[test]
fn bad_input_is_refused_cleanly() {
    let h = FileHelper::new();
    h.run(&["store"], &creds("existing.example", "u", CANARY)).expect_ok("store");
    let before = h.contents().unwrap();
    for (name, args, input) in &badinput::cases() {
        let out = h.run(args, input);
        assert_clean_failure(name, &out);
        assert_eq!(h.contents().unwrap(), before, "{name}: the store file changed");
    }
}

#[test]
fn large_secrets_and_identity_tokens_round_trip() {
    let h = FileHelper::new();
    for (server, user, size) in [("k64.example", "u", 64 << 10), ("m1.example", "<token>", 1 << 20)] {
        let secret: String = (0..size).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
        h.run(&["store"], &creds(server, user, &secret)).expect_ok("store");
        let out = h.run(&["get"], server.as_bytes()).expect_ok("get");
        let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(got["Username"], user);
        assert_eq!(got["Secret"].as_str().unwrap().len(), size);
        assert!(got["Secret"] == secret.as_str());
    }
}

#[test]
fn file_and_directory_modes() {
    let h = FileHelper::new();
    h.run(&["store"], &creds("m.example", "u", CANARY)).expect_ok("store");
    assert_eq!(fs::metadata(&h.store).unwrap().mode() & 0o7777, 0o600);
    assert_eq!(fs::metadata(h.store.parent().unwrap()).unwrap().mode() & 0o7777, 0o700);
    let lock = h.store.with_extension("json.lock");
    assert_eq!(fs::metadata(lock).unwrap().mode() & 0o7777, 0o600);
}

#[test]
fn unsafe_stores_are_refused_and_left_alone() {
    let h = FileHelper::new();
    h.run(&["store"], &creds("p.example", "u", CANARY)).expect_ok("store");
    let before = h.contents().unwrap();
    let check = |what: &str| {
        for (args, input) in [
            (vec!["get"], b"p.example".to_vec()),
            (vec!["list"], vec![]),
            (vec!["store"], creds("q.example", "u", CANARY)),
            (vec!["erase"], b"p.example".to_vec()),
        ] {
            let out = h.run(&args, &input);
            assert_clean_failure(&format!("{what} {args:?}"), &out);
            assert_eq!(h.contents().unwrap(), before, "{what}: changed");
        }
    };
    fs::set_permissions(&h.store, fs::Permissions::from_mode(0o644)).unwrap();
    check("group/other-readable file");
    let out = h.run(&["list"], b"");
    assert!(out.out().contains("chmod 600"), "the error says how to fix it: {}", out.out());
    fs::set_permissions(&h.store, fs::Permissions::from_mode(0o600)).unwrap();

    // Owned by another user (tests run as root, so chown works).
    if unsafe { libc::geteuid() } == 0 {
        std::os::unix::fs::chown(&h.store, Some(65534), None).unwrap();
        check("file owned by another user");
        std::os::unix::fs::chown(&h.store, Some(0), None).unwrap();
    }
    let dir = h.store.parent().unwrap();
    fs::set_permissions(dir, fs::Permissions::from_mode(0o777)).unwrap();
    check("world-writable directory");
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).unwrap();

    fs::write(
        &h.store,
        format!("{{\"version\":1,\"credentials\":{{\"p.example\":{{\"username\":\"u\",\"secret\":\"{CANARY}\"")
            .as_bytes(),
    )
    .unwrap();
    fs::set_permissions(&h.store, fs::Permissions::from_mode(0o600)).unwrap();
    let corrupt = h.contents().unwrap();
    for args in [vec!["get"], vec!["list"], vec!["store"], vec!["erase"]] {
        let input = if args[0] == "store" { creds("q.example", "u", "x") } else { b"p.example".to_vec() };
        let out = h.run(&args, &input);
        assert_clean_failure(&format!("corrupt store {args:?}"), &out);
        assert!(out.out().contains(&h.store.display().to_string()), "names the file: {}", out.out());
        assert_eq!(h.contents().unwrap(), corrupt);
    }
}

#[test]
fn store_location_follows_xdg_config_home() {
    let dir = tempfile::tempdir().unwrap();
    let h = FileHelper::new();
    let mut cmd = Command::new(&h.program);
    cmd.arg("store")
        .env_remove("HOIST_CREDENTIALS_FILE")
        .env("XDG_CONFIG_HOME", dir.path())
        .env("HOME", "/nonexistent");
    harness::run(&mut cmd, &creds("x.example", "u", "p")).expect_ok("store");
    let file = dir.path().join("hoist/credentials.json");
    assert_eq!(fs::metadata(&file).unwrap().mode() & 0o777, 0o600);
    assert_eq!(fs::metadata(dir.path().join("hoist")).unwrap().mode() & 0o777, 0o700);
    let mut cmd = Command::new(&h.program);
    cmd.arg("get")
        .env_remove("HOIST_CREDENTIALS_FILE")
        .env_remove("XDG_CONFIG_HOME")
        .env("HOME", dir.path().join("home"));
    let out = harness::run(&mut cmd, b"x.example");
    assert_eq!(out.out(), "credentials not found in native keychain\n", "HOME fallback is a different store");
}
