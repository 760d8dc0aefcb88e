//! Odd files and contention, as an attacker or a busy machine would make them: FIFOs at every path the
//! helpers open, a store reached through a symbolic link, a lock held by someone else, an oversized
//! passphrase file, and auth files whose maps are `null`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use harness::helpers::{FileHelper, VAULT_PASSPHRASE, VaultHelper};
use harness::hoist::HoistWorld;
use harness::process::env_pair;
use harness::{Run, Subject};

fn creds(server: &str) -> Vec<u8> {
    serde_json::json!({"ServerURL": server, "Username": "u", "Secret": "s3cret-canary"}).to_string().into_bytes()
}

fn mkfifo(path: &Path) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::set_permissions(path.parent().unwrap(), fs::Permissions::from_mode(0o700)).unwrap();
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo {}", path.display());
}

/// A run that failed quickly with `must` in its output (helpers answer errors on stdout).
fn failed_fast(out: &Run, started: Instant, must: &str) {
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}: {out:?}", started.elapsed());
    assert_eq!(out.code, Some(1), "{out:?}");
    let text = format!("{}{}", out.out(), out.err());
    assert!(text.contains(must), "{must:?} not in {text}");
    assert!(!text.contains("canary"));
}

#[test]
fn fifos_never_hang_a_helper() {
    // The file helper's store, and its lock file.
    let f = FileHelper::new();
    mkfifo(&f.store);
    for verb in ["get", "list", "store", "erase"] {
        let started = Instant::now();
        let input = if verb == "store" { creds("r.example") } else { b"r.example".to_vec() };
        failed_fast(&f.run(&[verb], &input), started, "is not a regular file");
    }
    let f = FileHelper::new();
    mkfifo(&f.store.with_file_name("credentials.json.lock"));
    let started = Instant::now();
    failed_fast(&f.run(&["store"], &creds("r.example")), started, "is not a regular file");

    // The vault file, and the passphrase file.
    let v = VaultHelper::new();
    fs::remove_file(&v.vault).unwrap();
    mkfifo(&v.vault);
    let started = Instant::now();
    failed_fast(&v.run_with(&v.env_with_passphrase(), &["get"], b"r.example"), started, "is not a regular file");
    let v = VaultHelper::new();
    let fifo = v.dir.path().join("passphrase-fifo");
    mkfifo(&fifo);
    let mut env = v.env();
    env.push(env_pair("HOIST_VAULT_PASSPHRASE_FILE", &fifo));
    let started = Instant::now();
    failed_fast(&v.run_with(&env, &["store"], &creds("r.example")), started, "is not a regular file");
}

#[test]
fn a_linked_store_stays_one_store() {
    let f = FileHelper::new();
    let real = f.dir.path().join("real/credentials.json");
    fs::create_dir_all(real.parent().unwrap()).unwrap();
    fs::set_permissions(real.parent().unwrap(), fs::Permissions::from_mode(0o700)).unwrap();
    fs::create_dir_all(f.store.parent().unwrap()).unwrap();
    fs::set_permissions(f.store.parent().unwrap(), fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink(&real, &f.store).unwrap();
    f.run(&["store"], &creds("one.example")).expect_ok("store through the link");
    f.run(&["store"], &creds("two.example")).expect_ok("store again");
    assert!(fs::symlink_metadata(&f.store).unwrap().file_type().is_symlink(), "the link is still a link");
    let list: serde_json::Value = serde_json::from_slice(&f.run(&["list"], b"").expect_ok("list").stdout).unwrap();
    assert_eq!(list, serde_json::json!({"one.example": "u", "two.example": "u"}));
    let target: serde_json::Value = serde_json::from_slice(&fs::read(&real).unwrap()).unwrap();
    assert_eq!(target["credentials"].as_object().unwrap().len(), 2, "both went to the target");
}

#[test]
fn a_held_lock_is_announced_then_refused() {
    let f = FileHelper::new();
    f.run(&["store"], &creds("r.example")).expect_ok("first store");
    let lock = fs::OpenOptions::new().write(true).open(f.store.with_file_name("credentials.json.lock")).unwrap();
    lock.lock().unwrap();
    let mut cmd = f.command();
    cmd.env("HOIST_LOCK_TIMEOUT", "2").arg("store");
    let started = Instant::now();
    let out = harness::run(&mut cmd, &creds("other.example"));
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(5), "{took:?}");
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.err().contains("waiting for the lock") && out.err().contains("credentials.json.lock"), "{}", out.err());
    assert!(out.out().contains("gave up") && out.out().contains("HOIST_LOCK_TIMEOUT"), "{}", out.out());
    drop(lock);
    f.run(&["store"], &creds("other.example")).expect_ok("store once the lock is free");
}

#[test]
fn a_passphrase_file_is_read_whole_or_refused() {
    let v = VaultHelper::new();
    v.run_with(&v.env_with_passphrase(), &["store"], &creds("r.example")).expect_ok("store");
    // The real passphrase followed by more than the limit: the first 64 KiB must not unlock the vault.
    let long = v.dir.path().join("long-passphrase");
    let mut text = VAULT_PASSPHRASE.to_owned();
    text.push_str(&"x".repeat(1_400_000));
    fs::write(&long, &text).unwrap();
    fs::set_permissions(&long, fs::Permissions::from_mode(0o600)).unwrap();
    let mut env = v.env();
    env.push(env_pair("HOIST_VAULT_PASSPHRASE_FILE", &long));
    let out = v.run_with(&env, &["get"], b"r.example");
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.out().contains("longer than 65536 bytes"), "{}", out.out());
    assert!(!out.out().contains("s3cret-canary"));
}

#[test]
fn null_maps_in_auth_files_are_empty() {
    let w = HoistWorld::new("unqualified-search-registries = []\n");
    let authfile = w.path("auth.json");
    fs::write(&authfile, r#"{"auths": null}"#).unwrap();
    fs::set_permissions(&authfile, fs::Permissions::from_mode(0o600)).unwrap();
    let af = format!("--authfile={}", authfile.display());
    let list = w.run(&["creds", "list", &af, "--format", "json"], b"", &vec![]).expect_ok("creds list");
    assert_eq!(list.out().trim(), "[]");
    let out = w.run(&["logout", &af, "r.example"], b"", &vec![]);
    assert!(out.err().contains("not logged into r.example"), "{out:?}");
    assert!(!out.err().contains("not an object"), "{out:?}");
    let out = w.run(&["login", &af, "--get-login", "r.example"], b"", &vec![]);
    assert!(out.err().contains("not logged into r.example"), "{out:?}");
}
