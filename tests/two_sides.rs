//! The two-sided registry flags `copy` and `sync` share (cli's `SidesArgs`): `--authfile` for both sides,
//! `--src-authfile`/`--dest-authfile` for one each, against two htpasswd registries whose users differ; each
//! side reads its own file, and a swapped pair is refused by the registry that got the wrong one.

use base64::Engine as _;
use harness::hoist::{HoistWorld, hoist, insecure_registries};
use harness::image::write_oci_layout;
use harness::registry::{Options, Registry};

fn auth_file(w: &HoistWorld, name: &str, host: &str, user: &str, pass: &str) -> String {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    let path = w.path(name);
    std::fs::write(&path, format!(r#"{{"auths":{{"{host}":{{"auth":"{auth}"}}}}}}"#)).unwrap();
    path.display().to_string()
}

#[test]
fn copy_and_sync_read_each_sides_auth_file() {
    let a = Registry::start(Options { users: vec![("alice".into(), "Alice-pw-1".into())], ..Default::default() });
    let b = Registry::start(Options { users: vec![("bob".into(), "Bob-pw-1".into())], ..Default::default() });
    let (ha, hb) = (a.host(), b.host());
    let w = HoistWorld::new(&insecure_registries(&[&ha, &hb]));
    let layout = w.path("layout");
    write_oci_layout(&layout, "v1", &[("hello", b"hello")]);
    hoist(
        &w,
        &[
            "copy",
            "--dest-creds",
            "alice:Alice-pw-1",
            &format!("oci:{}:v1", layout.display()),
            &format!("docker://{ha}/app:1"),
        ],
    )
    .expect_ok("seed the source registry");
    let src = auth_file(&w, "src.json", &ha, "alice", "Alice-pw-1");
    let dst = auth_file(&w, "dst.json", &hb, "bob", "Bob-pw-1");

    let copied = hoist(
        &w,
        &[
            "copy",
            "--src-authfile",
            &src,
            "--dest-authfile",
            &dst,
            &format!("docker://{ha}/app:1"),
            &format!("docker://{hb}/app:1"),
        ],
    );
    copied.expect_ok("copy with one auth file per side");
    let synced = hoist(
        &w,
        &[
            "sync",
            "-q",
            "--src",
            "docker",
            "--dest",
            "docker",
            "--src-authfile",
            &src,
            "--dest-authfile",
            &dst,
            &format!("{ha}/app"),
            &format!("{hb}/synced"),
        ],
    );
    synced.expect_ok("sync with one auth file per side");
    hoist(&w, &["inspect", "--raw", "--creds", "bob:Bob-pw-1", &format!("docker://{hb}/synced/app:1")])
        .expect_ok("the synced image is at the destination");

    // Swapped, the source registry gets bob's credentials and refuses them: nothing is copied.
    let (from, to) = (format!("docker://{ha}/app:1"), format!("docker://{hb}/swapped:1"));
    let out = hoist(&w, &["copy", "--src-authfile", &dst, "--dest-authfile", &src, &from, &to]);
    assert_ne!(out.code, Some(0), "{out:?}");
    let gone = hoist(&w, &["inspect", "--raw", "--creds", "bob:Bob-pw-1", &to]);
    assert_ne!(gone.code, Some(0), "nothing was copied with the swapped files: {gone:?}");
}
