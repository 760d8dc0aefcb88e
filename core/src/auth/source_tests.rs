//! Lookup, store, erase and migrate across credential sources, with small helper scripts written by the test
//! (a working one that keeps each credential in a file, one that always fails, one that forgets what it is
//! given), so no registry or keyring is needed.

use std::path::PathBuf;
use std::sync::Arc;

use hoist_helper_protocol::Credentials;

use super::*;
use crate::observe::testing::Recorder;

/// Keeps each credential as the JSON it was given, in a directory beside the script.
const WORKING: &str = r#"#!/bin/sh
store="$0.d"
mkdir -p "$store"
case "$1" in
  store) in=$(cat); s=$(printf %s "$in" | sed 's/.*"ServerURL":"\([^"]*\)".*/\1/'); printf %s "$in" > "$store/$s" ;;
  get) s=$(cat); if [ -f "$store/$s" ]; then cat "$store/$s"; echo; else echo "credentials not found in native keychain"; exit 1; fi ;;
  erase) s=$(cat); rm -f "$store/$s" ;;
  list) printf '{'; sep=''; for f in "$store"/*; do [ -f "$f" ] || continue
          u=$(sed 's/.*"Username":"\([^"]*\)".*/\1/' "$f"); printf '%s"%s":"%s"' "$sep" "$(basename "$f")" "$u"; sep=,; done
        echo '}' ;;
  *) echo "unknown verb"; exit 1 ;;
esac
"#;
const BROKEN: &str = "#!/bin/sh\ncat >/dev/null\necho 'the backend exploded'\nexit 1\n";
/// Accepts every store and never finds anything.
const FORGETFUL: &str = "#!/bin/sh\ncat >/dev/null\ncase \"$1\" in\n  get) echo 'credentials not found in native keychain'; exit 1 ;;\n  list) echo '{}' ;;\nesac\n";

struct World {
    dir: tempfile::TempDir,
    recorder: Arc<Recorder>,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        for (name, script) in [("good", WORKING), ("other", WORKING), ("broken", BROKEN), ("forgetful", FORGETFUL)] {
            let p = dir.path().join(format!("docker-credential-{name}"));
            std::fs::write(&p, script).unwrap();
            std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        }
        World { dir, recorder: Arc::new(Recorder::default()) }
    }

    fn authfile(&self) -> PathBuf {
        self.dir.path().join("auth.json")
    }

    /// An Auth over `helpers` (registries.conf `credential-helpers`) and the one auth file.
    fn auth(&self, helpers: &[&str]) -> Auth {
        let config =
            Config { credential_helpers: helpers.iter().map(|h| h.to_string()).collect(), ..Config::default() };
        let mut auth =
            Auth::new(AuthFiles::discover(Some(&self.authfile())), &config).with_observer(self.recorder.clone());
        let path = format!("{}:{}", self.dir.path().display(), std::env::var("PATH").unwrap_or_default());
        auth.helper_env.push(("PATH".into(), path));
        auth
    }

    fn helper_has(&self, helper: &str, registry: &str) -> bool {
        self.dir.path().join(format!("docker-credential-{helper}.d")).join(registry).exists()
    }

    fn write_authfile(&self, json: &str) {
        std::fs::write(self.authfile(), json).unwrap();
        std::fs::set_permissions(self.authfile(), std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    }

    fn authfile_json(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.authfile()).unwrap()).unwrap()
    }

    fn warnings(&self) -> Vec<String> {
        self.recorder.warnings.lock().unwrap().clone()
    }
}

fn creds(registry: &str, user: &str, secret: &str) -> Credentials {
    Credentials::new(registry, user, secret)
}

fn store_in(world: &World, helper: &str, c: &Credentials) {
    world.auth(&[helper]).client(helper).store(c).unwrap();
}

#[test]
fn lookup_goes_on_past_a_failing_helper_and_reports_it_once() {
    let w = World::new();
    store_in(&w, "good", &creds("a.io", "alice", "s3cret-canary"));
    let auth = w.auth(&["broken", "good"]);
    let found = auth.lookup("a.io/team/app").unwrap().expect("found in the second helper");
    assert_eq!((found.creds.username.as_str(), found.creds.secret.expose()), ("alice", "s3cret-canary"));
    assert_eq!(found.location, Location::Helper { name: "good".into(), via: None });
    let warnings = w.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("docker-credential-broken") && warnings[0].contains("exploded"), "{warnings:?}");
    assert!(!warnings[0].contains("canary"));
}

#[test]
fn lookup_with_nothing_found_and_a_failure_is_an_error_naming_it() {
    let w = World::new();
    let e = w.auth(&["good", "broken"]).lookup("none.io").unwrap_err();
    assert!(matches!(&e, AuthError::Lookup { key, failures } if key == "none.io" && failures.len() == 1), "{e}");
    assert!(e.to_string().contains("docker-credential-broken"), "{e}");
    assert!(w.warnings().is_empty(), "the failure is the error, not also a warning: {:?}", w.warnings());
    assert!(w.auth(&["good"]).lookup("none.io").unwrap().is_none(), "nothing found and nothing failed");
}

#[test]
fn lookup_goes_on_past_an_unreadable_auth_file() {
    let w = World::new();
    w.write_authfile("{not json");
    store_in(&w, "good", &creds("a.io", "alice", "pw"));
    let found = w.auth(&[AUTH_FILE_HELPER, "good"]).lookup("a.io").unwrap().unwrap();
    assert_eq!(found.creds.username, "alice");
    assert!(w.warnings()[0].contains("not valid JSON"), "{:?}", w.warnings());
}

#[test]
fn lookup_follows_cred_helpers_in_the_auth_file() {
    let w = World::new();
    w.write_authfile(r#"{"credHelpers":{"a.io":"good"},"auths":{"b.io":{"auth":"dTpw"}}}"#);
    store_in(&w, "good", &creds("a.io", "alice", "pw"));
    let auth = w.auth(&[AUTH_FILE_HELPER]);
    let a = auth.lookup("a.io/x").unwrap().unwrap();
    assert_eq!(a.location, Location::Helper { name: "good".into(), via: Some(w.authfile()) });
    let b = auth.lookup("b.io").unwrap().unwrap();
    assert_eq!(
        (b.creds.username.as_str(), b.location),
        ("u", Location::File { path: w.authfile(), key: "b.io".into() })
    );
}

#[test]
fn store_goes_where_podman_would() {
    let w = World::new();
    w.write_authfile(r#"{"credHelpers":{"a.io":"good"},"kept":1}"#);
    let auth = w.auth(&[AUTH_FILE_HELPER]);
    let at = auth.store("a.io", &creds("a.io", "alice", "pw")).unwrap();
    assert_eq!(at, Location::Helper { name: "good".into(), via: Some(w.authfile()) });
    assert!(w.helper_has("good", "a.io"));
    assert!(w.authfile_json().get("auths").is_none(), "the password did not go to the file");
    let e = auth.store("a.io/ns", &creds("a.io", "alice", "pw")).unwrap_err().to_string();
    assert!(e.contains("repository namespace"), "{e}");
    let at = auth.store("b.io/ns", &creds("b.io", "bob", "pw")).unwrap();
    assert_eq!(at, Location::File { path: w.authfile(), key: "b.io/ns".into() });
    assert_eq!(w.authfile_json()["kept"], 1);
    // A failing first source: the next one takes it.
    let at = w.auth(&["broken", "other"]).store("c.io", &creds("c.io", "carol", "pw")).unwrap();
    assert_eq!(at, Location::Helper { name: "other".into(), via: None });
    let e = w.auth(&["broken"]).store("c.io", &creds("c.io", "carol", "pw")).unwrap_err().to_string();
    assert!(e.contains("cannot store credentials for c.io") && e.contains("exploded"), "{e}");
}

#[test]
fn erase_removes_every_copy_and_says_when_there_was_none() {
    let w = World::new();
    w.write_authfile(
        r#"{"credHelpers":{"a.io":"good"},"auths":{"a.io":{"auth":"dTpw"},"https://b.io/v1/":{"auth":"dTpw"}}}"#,
    );
    store_in(&w, "good", &creds("a.io", "alice", "pw"));
    store_in(&w, "other", &creds("a.io", "alice", "pw"));
    let auth = w.auth(&[AUTH_FILE_HELPER, "other"]);
    let removed = auth.erase("a.io").unwrap();
    assert_eq!(removed.len(), 3, "{removed:?}");
    assert!(!w.helper_has("good", "a.io") && !w.helper_has("other", "a.io"));
    assert!(w.authfile_json()["auths"].get("a.io").is_none());
    auth.erase("b.io").unwrap();
    assert!(w.authfile_json()["auths"].as_object().unwrap().is_empty(), "a URL-shaped key is the same registry");
    assert!(matches!(auth.erase("a.io").unwrap_err(), AuthError::NotLoggedIn(k) if k == "a.io"));
}

#[test]
fn migrate_moves_verified_copies_and_reports_what_it_left() {
    let w = World::new();
    // "u:p" = dTpw
    w.write_authfile(r#"{"auths":{"a.io":{"auth":"dTpw","email":"e@x"},"b.io/ns":{"auth":"dTpw"}},"kept":true}"#);
    let report = w.auth(&[AUTH_FILE_HELPER]).migrate("good", None, &[]).unwrap();
    assert_eq!(report.moved.len(), 1);
    assert_eq!(report.moved[0].registry, "a.io");
    assert_eq!(report.skipped, [Skipped { registry: "b.io/ns".into(), reason: SkipReason::NamespaceKey }]);
    assert!(w.helper_has("good", "a.io"));
    let doc = w.authfile_json();
    assert_eq!(doc["credHelpers"]["a.io"], "good");
    assert!(doc["auths"].get("a.io").is_none() && doc["auths"].get("b.io/ns").is_some());
    assert_eq!(doc["kept"], true);
    let found = w.auth(&[AUTH_FILE_HELPER]).lookup("a.io").unwrap().unwrap();
    assert_eq!((found.creds.username.as_str(), found.creds.secret.expose()), ("u", "p"));

    // A helper that does not give back what it was given: the old copy stays.
    w.write_authfile(r#"{"auths":{"c.io":{"auth":"dTpw"}}}"#);
    let report = w.auth(&[AUTH_FILE_HELPER]).migrate("forgetful", None, &[]).unwrap();
    assert!(report.moved.is_empty());
    assert_eq!(report.skipped[0].reason, SkipReason::NotReadBack { helper: "forgetful".into() });
    assert!(w.authfile_json()["auths"].get("c.io").is_some());
    assert!(report.skipped[0].to_string().contains("old copy is kept"));
}

#[test]
fn a_wait_for_the_auth_file_lock_is_a_warning_to_the_observer() {
    let w = World::new();
    w.write_authfile("{}");
    let held = hoist_fs::PrivateFile::new(w.authfile(), "auth file").lock().unwrap();
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(1500));
        drop(held);
    });
    let auth = w.auth(&[AUTH_FILE_HELPER]);
    auth.store("b.io", &creds("b.io", "bob", "pw")).unwrap();
    releaser.join().unwrap();
    let warnings = w.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].starts_with("waiting for the lock ") && warnings[0].contains("auth.json.lock"), "{warnings:?}");
    assert_eq!(w.authfile_json()["auths"]["b.io"]["auth"], "Ym9iOnB3");
}
