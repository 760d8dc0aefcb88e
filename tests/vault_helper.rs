//! docker-credential-vault: encryption and tamper detection, nonces, concurrency, crashes, passphrase
//! sources, the unlocked session (and another user's lack of access to it), and the management commands.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::badinput::{CANARY, assert_clean_failure};
use harness::helpers::{FileHelper, VAULT_PASSPHRASE, VaultHelper};
use harness::process::{Env, env_pair};
use harness::{Run, Subject};

fn creds(server: &str, user: &str, secret: &str) -> Vec<u8> {
    serde_json::json!({"ServerURL": server, "Username": user, "Secret": secret}).to_string().into_bytes()
}

fn list_with(v: &VaultHelper, env: &Env) -> BTreeMap<String, String> {
    serde_json::from_slice(&v.run_with(env, &["list"], b"").expect_ok("list").stdout).expect("list JSON")
}

fn passfile(v: &VaultHelper, name: &str, passphrase: &str) -> std::path::PathBuf {
    let p = v.dir.path().join(name);
    fs::write(&p, passphrase).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
    p
}

const WRONG: &str = "wrong passphrase or corrupted vault";

#[test]
fn the_file_is_encrypted_and_private() {
    let v = VaultHelper::unlocked();
    v.run(&["store"], &creds("enc.example", "someuser", CANARY)).expect_ok("store");
    let bytes = v.contents().unwrap();
    assert_eq!(&bytes[..8], b"HOISTVLT");
    let text = String::from_utf8_lossy(&bytes);
    for plain in [CANARY, "enc.example", "someuser"] {
        assert!(!text.contains(plain), "{plain} is readable in the vault file");
    }
    assert_eq!(fs::metadata(&v.vault).unwrap().mode() & 0o777, 0o600);
    assert_eq!(fs::metadata(v.vault.parent().unwrap()).unwrap().mode() & 0o777, 0o700);
    let socket_dir = v.runtime.join("hoist");
    assert_eq!(fs::metadata(&socket_dir).unwrap().mode() & 0o777, 0o700);
    for e in fs::read_dir(&socket_dir).unwrap() {
        assert_eq!(e.unwrap().metadata().unwrap().mode() & 0o777, 0o600, "agent socket mode");
    }
}

#[test]
fn a_wrong_passphrase_fails_and_changes_nothing() {
    let v = VaultHelper::new();
    v.run_with(&v.env_with_passphrase(), &["store"], &creds("w.example", "u", CANARY)).expect_ok("store");
    let before = v.contents().unwrap();
    let wrong = passfile(&v, "wrong", "not the passphrase");
    let env = vec![
        env_pair("HOIST_VAULT_FILE", &v.vault),
        env_pair("XDG_RUNTIME_DIR", &v.runtime),
        env_pair("HOIST_VAULT_PASSPHRASE_FILE", &wrong),
    ];
    for (args, input) in [
        (vec!["get"], b"w.example".to_vec()),
        (vec!["list"], vec![]),
        (vec!["store"], creds("x.example", "u", CANARY)),
        (vec!["erase"], b"w.example".to_vec()),
    ] {
        let out = v.run_with(&env, &args, &input);
        assert_clean_failure(&format!("wrong passphrase {args:?}"), &out);
        assert!(out.out().contains(WRONG), "{}", out.out());
        assert_eq!(v.contents().unwrap(), before, "{args:?} changed the vault");
    }
    let out = v.run_with(&env, &["unlock"], b"");
    assert_eq!(out.code, Some(1));
    assert!(out.err().contains(WRONG), "{}", out.err());
    assert_eq!(v.run_with(&v.env(), &["get"], b"w.example").code, Some(1), "a failed unlock starts no session");
}

#[test]
fn every_single_byte_change_is_detected() {
    let v = VaultHelper::new();
    let env = v.env_with_passphrase();
    // Smallest KDF so the ~2 x 170 decryptions stay fast.
    fs::remove_file(&v.vault).unwrap();
    v.run_with(&env, &["init", "--kdf-memory", "8", "--kdf-iterations", "1"], b"").expect_ok("init");
    v.run_with(&env, &["store"], &creds("flip.example", "u", CANARY)).expect_ok("store");
    let good = v.contents().unwrap();
    let mut detected = 0;
    for i in 0..good.len() {
        for mask in [0x01u8, 0xff] {
            let mut bad = good.clone();
            bad[i] ^= mask;
            fs::write(&v.vault, &bad).unwrap();
            let out = v.run_with(&env, &["get"], b"flip.example");
            assert_eq!(out.code, Some(1), "byte {i} ^ {mask:#x} undetected: {}", out.out());
            assert!(!out.out().contains(CANARY) && !out.out().contains("Username"), "byte {i}: data returned");
            assert_eq!(out.out().lines().count(), 1);
            detected += 1;
        }
    }
    fs::write(&v.vault, &good).unwrap();
    assert!(v.run_with(&env, &["get"], b"flip.example").out().contains(CANARY), "the original still opens");
    eprintln!("{detected} single-byte changes over {} bytes, all detected", good.len());
}

#[test]
fn a_thousand_writes_never_reuse_a_nonce() {
    let v = VaultHelper::unlocked();
    let header_len = 23 + 32;
    let mut seen = std::collections::HashSet::new();
    for i in 0..1000 {
        v.run(&["store"], &creds(&format!("n{}.example", i % 10), "u", CANARY)).expect_ok("store");
        let bytes = v.contents().unwrap();
        let nonce = bytes[header_len..header_len + 12].to_vec();
        assert!(seen.insert(nonce), "nonce reused at write {i}");
    }
    assert_eq!(seen.len(), 1000);
}

fn spawn_store(v: &VaultHelper, input: Vec<u8>) -> std::process::Child {
    let mut cmd = v.command();
    cmd.arg("store").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    child
}

#[test]
fn sixty_four_concurrent_stores_all_land() {
    let v = VaultHelper::unlocked();
    let children: Vec<_> =
        (0..64).map(|i| spawn_store(&v, creds(&format!("c{i}.example"), &format!("u{i}"), CANARY))).collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    }
    let all = list_with(&v, &v.env());
    assert_eq!(all.len(), 64);
    for i in 0..64 {
        assert_eq!(all[&format!("c{i}.example")], format!("u{i}"));
    }
}

#[test]
fn sigkill_at_random_moments_never_loses_a_completed_store() {
    let v = VaultHelper::unlocked();
    let mut rng = fastrand::Rng::new();
    let window = 2 * harness::process::store_duration(&v, &creds("timing.example", "u", CANARY)).as_micros() as u64;
    let (mut completed, mut killed) = (Vec::new(), 0);
    for i in 0..200 {
        let server = format!("k{i}.example");
        let mut child = spawn_store(&v, creds(&server, "u", CANARY));
        std::thread::sleep(Duration::from_micros(rng.u64(0..window)));
        let _ = child.kill();
        if child.wait().unwrap().success() {
            completed.push(server);
        } else {
            killed += 1;
        }
        // Decrypt with the passphrase (not the session) after every kill.
        let all = list_with(&v, &v.env_with_passphrase());
        for s in &completed {
            assert!(all.contains_key(s), "{s} exited 0 but is missing after iteration {i}");
        }
    }
    eprintln!("{killed} killed, {} completed", completed.len());
    assert!(killed > 0 && !completed.is_empty(), "{killed} killed, {} completed", completed.len());
}

#[test]
fn no_passphrase_source_is_a_clear_error_within_a_second() {
    let v = VaultHelper::new();
    for (args, input) in [
        (vec!["get"], b"x.example".to_vec()),
        (vec!["list"], vec![]),
        (vec!["store"], creds("x.example", "u", CANARY)),
        (vec!["erase"], b"x.example".to_vec()),
    ] {
        let start = Instant::now();
        let out = v.run_with(&v.env(), &args, &input);
        let took = start.elapsed();
        assert_clean_failure(&format!("locked {args:?}"), &out);
        assert!(out.out().contains("docker-credential-vault unlock"), "says what to do: {}", out.out());
        assert!(took < Duration::from_secs(1), "{args:?} took {took:?}");
    }
}

#[test]
fn askpass_and_terminal_are_passphrase_sources() {
    let v = VaultHelper::new();
    v.run_with(&v.env_with_passphrase(), &["store"], &creds("a.example", "u", CANARY)).expect_ok("store");
    let askpass = v.dir.path().join("askpass.sh");
    fs::write(&askpass, format!("#!/bin/sh\n[ \"$1\" = 'Vault passphrase:' ] || exit 3\necho '{VAULT_PASSPHRASE}'\n"))
        .unwrap();
    fs::set_permissions(&askpass, fs::Permissions::from_mode(0o700)).unwrap();
    let mut env = v.env();
    env.push(env_pair("HOIST_VAULT_ASKPASS", &askpass));
    assert_eq!(list_with(&v, &env).len(), 1);
    let failing = v.dir.path().join("fail.sh");
    fs::write(&failing, "#!/bin/sh\nexit 1\n").unwrap();
    fs::set_permissions(&failing, fs::Permissions::from_mode(0o700)).unwrap();
    let mut env = v.env();
    env.push(env_pair("HOIST_VAULT_ASKPASS", &failing));
    let out = v.run_with(&env, &["list"], b"");
    assert_clean_failure("failing askpass", &out);
    assert!(out.out().contains("HOIST_VAULT_ASKPASS"), "{}", out.out());

    // The terminal: `script` gives the command a pseudo-terminal; the passphrase is typed into it.
    let script = harness::require("script", "bsdutils");
    let cmdline = format!("{} unlock --timeout 1m", v.program.display());
    let mut cmd = Command::new(script);
    cmd.args(["-qec", &cmdline, "/dev/null"])
        .env_remove("HOIST_VAULT_PASSPHRASE_FILE")
        .env_remove("HOIST_VAULT_ASKPASS");
    cmd.envs(v.env());
    // Type the passphrase only once the prompt is shown (echo is off by then), as a person would.
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&seen).contains("Vault passphrase:") {
        use std::io::Read;
        let n = stdout.read(&mut buf).unwrap();
        assert!(n > 0, "no prompt on the terminal: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    // Keep stdin open until the end: `script` ends the session when its input closes.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(format!("{VAULT_PASSPHRASE}\n").as_bytes()).unwrap();
    std::io::Read::read_to_end(&mut stdout, &mut seen).unwrap();
    drop(stdin);
    let status = child.wait().unwrap();
    let shown = String::from_utf8_lossy(&seen);
    assert!(status.success() && shown.contains("vault unlocked"), "{shown}");
    assert!(!shown.contains(VAULT_PASSPHRASE), "the typed passphrase was echoed: {shown}");
    assert_eq!(list_with(&v, &v.env()).len(), 1, "the session started on the terminal works");
}

#[test]
fn another_user_cannot_use_an_unlocked_session() {
    let v = VaultHelper::unlocked();
    v.run(&["store"], &creds("mine.example", "u", CANARY)).expect_ok("store");
    let setpriv = harness::require("setpriv", "util-linux");
    // Copies of our binaries that `nobody` can run wherever the checkout lives (it may sit under a 0700 home).
    let shared = tempfile::tempdir().unwrap();
    fs::set_permissions(shared.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let runnable = |name: &str| {
        let to = shared.path().join(name);
        fs::copy(harness::bin(name), &to).unwrap();
        fs::set_permissions(&to, fs::Permissions::from_mode(0o755)).unwrap();
        to
    };
    let (vault_bin, probe_bin) = (runnable("docker-credential-vault"), runnable("agent-probe"));
    let as_nobody = |program: &std::path::Path, args: &[&str], env: &Env, input: &[u8]| -> Run {
        let mut cmd = Command::new(&setpriv);
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]).arg(program).args(args);
        cmd.env_clear().envs(env.iter().map(|(k, val)| (k, val)));
        harness::run(&mut cmd, input)
    };
    // As nobody, with the same environment: nothing, and no secret.
    let out = as_nobody(&vault_bin, &["get"], &v.env(), b"mine.example");
    assert!(out.out().contains("vault"), "the helper ran as nobody and failed on the vault: {out:?}");
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(!out.out().contains(CANARY) && !out.err().contains(CANARY));

    // Even with the socket opened up to everyone, the agent refuses a peer with another uid.
    let socket_dir = v.runtime.join("hoist");
    let socket = fs::read_dir(&socket_dir).unwrap().next().unwrap().unwrap().path();
    let fingerprint = {
        let out = v.run_with(&v.env(), &["status", "--format", "json"], b"").expect_ok("status");
        assert!(out.out().contains("\"unlocked\":true"));
        // The agent answers STATUS with its fingerprint; the probe asks it as root first.
        let probe = harness::bin("agent-probe");
        let answer = harness::run(Command::new(&probe).arg(&socket).arg("STATUS"), b"").expect_ok("probe").out();
        answer.split_whitespace().nth(2).expect("OK secs fingerprint").to_owned()
    };
    let probe = harness::bin("agent-probe");
    let as_root = harness::run(Command::new(&probe).arg(&socket).arg(format!("KEY {fingerprint}")), b"").out();
    assert!(as_root.starts_with("OK "), "the probe works for the owner: {as_root}");
    for d in [&v.runtime, &socket_dir] {
        fs::set_permissions(d, fs::Permissions::from_mode(0o711)).unwrap();
    }
    fs::set_permissions(&socket, fs::Permissions::from_mode(0o666)).unwrap();
    let out = as_nobody(&probe_bin, &[socket.to_str().unwrap(), &format!("KEY {fingerprint}")], &vec![], b"");
    assert!(!out.out().starts_with("OK"), "the agent gave another uid the key: {}", out.out());
    // Connected (the socket is open to all now), then closed by the agent without a word.
    let said = out.out();
    assert!(
        said.trim() == "no answer" || said.contains("Broken pipe") || said.contains("reset by peer"),
        "the agent must hang up on another uid: {said}"
    );
}

#[test]
fn sessions_end_on_lock_and_on_timeout() {
    let v = VaultHelper::unlocked();
    v.run(&["store"], &creds("s.example", "u", CANARY)).expect_ok("store while unlocked");
    let out = v.run_with(&v.env(), &["lock"], b"").expect_ok("lock");
    assert!(out.out().contains("vault locked"));
    assert_eq!(v.run(&["get"], b"s.example").code, Some(1));
    assert!(v.run_with(&v.env(), &["status"], b"").expect_ok("status").out().contains("state:  locked"));

    v.run_with(&v.env_with_passphrase(), &["unlock", "--timeout", "2s"], b"").expect_ok("unlock 2s");
    v.run(&["get"], b"s.example").expect_ok("get inside the session");
    std::thread::sleep(Duration::from_millis(3000));
    let out = v.run(&["get"], b"s.example");
    assert_eq!(out.code, Some(1), "the session outlived its timeout: {}", out.out());
}

#[test]
fn rekey_changes_passphrase_and_kdf_and_keeps_credentials() {
    let v = VaultHelper::unlocked();
    v.run(&["store"], &creds("r.example", "<token>", CANARY)).expect_ok("store");
    let newpass = passfile(&v, "new", "a brand new passphrase");
    let mut env = v.env_with_passphrase();
    env.push(env_pair("HOIST_VAULT_NEW_PASSPHRASE_FILE", &newpass));
    let out = v.run_with(&env, &["rekey", "--kdf-memory", "2048", "--kdf-iterations", "2"], b"").expect_ok("rekey");
    assert!(out.out().contains("m=2048"), "{}", out.out());
    assert_eq!(v.run(&["get"], b"r.example").code, Some(1), "rekey ends the session");
    let out = v.run_with(&v.env_with_passphrase(), &["list"], b"");
    assert!(out.out().contains(WRONG), "the old passphrase no longer opens it: {}", out.out());
    let new_env = vec![
        env_pair("HOIST_VAULT_FILE", &v.vault),
        env_pair("XDG_RUNTIME_DIR", &v.runtime),
        env_pair("HOIST_VAULT_PASSPHRASE_FILE", &newpass),
    ];
    assert_eq!(list_with(&v, &new_env), BTreeMap::from([("r.example".into(), "<token>".into())]));
    let status = v.run_with(&v.env(), &["status", "--format", "json"], b"").expect_ok("status").out();
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["kdf"]["memory_kib"], 2048);
    assert_eq!(status["kdf"]["iterations"], 2);
}

#[test]
fn export_and_import_migrate_to_and_from_file_and_auth_json() {
    let v = VaultHelper::unlocked();
    v.run(&["store"], &creds("a.example:5000", "alice", CANARY)).expect_ok("store");
    v.run(&["store"], &creds("t.example", "<token>", "refresh-token")).expect_ok("store");

    // Export asks for the passphrase again: an unlocked session is not enough.
    let out_file = v.dir.path().join("export/credentials.json");
    let out = v.run_with(&v.env(), &["export", "--to", "file", "-o", out_file.to_str().unwrap()], b"");
    assert_eq!(out.code, Some(1), "export without a passphrase must fail");
    assert!(!out_file.exists());

    v.run_with(&v.env_with_passphrase(), &["export", "--to", "file", "-o", out_file.to_str().unwrap()], b"")
        .expect_ok("export file");
    assert_eq!(fs::metadata(&out_file).unwrap().mode() & 0o777, 0o600);
    let file = FileHelper {
        program: harness::bin("docker-credential-file"),
        store: out_file.clone(),
        dir: tempfile::tempdir().unwrap(),
    };
    let got: serde_json::Value =
        serde_json::from_slice(&file.run(&["get"], b"a.example:5000").expect_ok("file get").stdout).unwrap();
    assert_eq!(got["Secret"], CANARY);

    let auth = v.dir.path().join("auth.json");
    fs::write(&auth, r#"{"auths":{"keep.example":{"auth":"a2VlcDprZWVw"}},"credHelpers":{"x.example":"vault"}}"#)
        .unwrap();
    fs::set_permissions(&auth, fs::Permissions::from_mode(0o600)).unwrap();
    v.run_with(&v.env_with_passphrase(), &["export", "--to", "auth-json", "-o", auth.to_str().unwrap()], b"")
        .expect_ok("export auth");
    let doc: serde_json::Value = serde_json::from_slice(&fs::read(&auth).unwrap()).unwrap();
    assert_eq!(doc["credHelpers"]["x.example"], "vault", "other content is kept");
    assert_eq!(doc["auths"]["keep.example"]["auth"], "a2VlcDprZWVw");
    assert_eq!(doc["t.example"], serde_json::Value::Null);
    assert_eq!(doc["auths"]["t.example"]["identitytoken"], "refresh-token");
    use base64::Engine;
    let plain = base64::engine::general_purpose::STANDARD
        .decode(doc["auths"]["a.example:5000"]["auth"].as_str().unwrap())
        .unwrap();
    assert_eq!(plain, format!("alice:{CANARY}").as_bytes());
    assert_eq!(fs::metadata(&auth).unwrap().mode() & 0o777, 0o600);

    // Import both into a fresh vault.
    let w = VaultHelper::unlocked();
    w.run_with(&w.env(), &["import", "--from", "auth-json", auth.to_str().unwrap()], b"").expect_ok("import auth");
    assert_eq!(
        list_with(&w, &w.env()),
        BTreeMap::from([
            ("a.example:5000".into(), "alice".into()),
            ("keep.example".into(), "keep".into()),
            ("t.example".into(), "<token>".into())
        ])
    );
    let x = VaultHelper::unlocked();
    x.run_with(&x.env(), &["import", "--from", "file", out_file.to_str().unwrap()], b"").expect_ok("import file");
    let got: serde_json::Value =
        serde_json::from_slice(&x.run(&["get"], b"t.example").expect_ok("get").stdout).unwrap();
    assert_eq!(got["Secret"], "refresh-token");
}

#[test]
fn bad_input_is_refused_cleanly_and_changes_nothing() {
    let v = VaultHelper::unlocked();
    v.run(&["store"], &creds("existing.example", "u", CANARY)).expect_ok("store");
    let before = v.contents().unwrap();
    for (name, args, input) in &harness::badinput::cases() {
        assert_clean_failure(name, &v.run(args, input));
        assert_eq!(v.contents().unwrap(), before, "{name} changed the vault");
    }
}

#[test]
fn management_errors_are_one_line_on_stderr() {
    let v = VaultHelper::new();
    let out = v.run_with(&v.env_with_passphrase(), &["init"], b"");
    assert_eq!(out.code, Some(1));
    assert!(out.err().contains("already exists") && out.err().lines().count() == 1, "{}", out.err());
    let out = v.run_with(&v.env_with_passphrase(), &["unlock", "--timeout", "forever"], b"");
    assert_eq!(out.code, Some(2), "clap usage error: {}", out.err());
    let out = v.run_with(&v.env_with_passphrase(), &["init", "--kdf-memory", "99999999"], b"");
    assert_eq!(out.code, Some(1));
    let loose = passfile(&v, "loose", VAULT_PASSPHRASE);
    fs::set_permissions(&loose, fs::Permissions::from_mode(0o644)).unwrap();
    let env = vec![
        env_pair("HOIST_VAULT_FILE", &v.vault),
        env_pair("XDG_RUNTIME_DIR", &v.runtime),
        env_pair("HOIST_VAULT_PASSPHRASE_FILE", &loose),
    ];
    let out = v.run_with(&env, &["list"], b"");
    assert_clean_failure("group-readable passphrase file", &out);
    assert!(out.out().contains("chmod 600"));
}
