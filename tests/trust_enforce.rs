//! The trust policy enforced wherever an image enters hoist (issue 19): `pull`, `load`, `build`'s bases,
//! `copy`, `save`, `push` and `tag --remote` under containers-policy.json(5) files the tests write — refused
//! in containers/image's words before any layer is read (the registry's log shows no blob fetched) with the
//! store unchanged; the scopes each transport is named by (the path and its parents for archives and
//! directories, `containers-storage` for the store) and their precedence; `--insecure-policy` and
//! `--signature-policy`; and the signing flags refused clearly before any work.

use std::path::Path;

use harness::Run;
use harness::hoist::HoistWorld;
use harness::image::write_oci_layout;
use harness::registry::{Options, Registry};

const REJECT: &str = r#"{"default":[{"type":"reject"}]}"#;
const ACCEPT: &str = r#"{"default":[{"type":"insecureAcceptAnything"}]}"#;

fn world(insecure_host: Option<&str>) -> HoistWorld {
    let mut conf = String::from("unqualified-search-registries = []\n");
    if let Some(h) = insecure_host {
        conf.push_str(&format!("[[registry]]\nlocation = \"{h}\"\ninsecure = true\n"));
    }
    HoistWorld::new(&conf)
}

fn hoist(w: &HoistWorld, args: &[&str]) -> Run {
    w.run(args, b"", &Vec::new())
}

/// Writes the user's default policy ($HOME/.config/containers/policy.json).
fn user_policy(w: &HoistWorld, policy: &str) {
    let dir = w.path("home/.config/containers");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("policy.json"), policy).unwrap();
}

fn policy_file(w: &HoistWorld, name: &str, policy: &str) -> String {
    let p = w.path(name);
    std::fs::write(&p, policy).unwrap();
    p.display().to_string()
}

/// The store's index.json and blob files: what "unchanged" means.
fn store_state(w: &HoistWorld) -> (Vec<u8>, Vec<String>) {
    let index = std::fs::read(w.path("store/index.json")).unwrap_or_default();
    let mut blobs: Vec<String> = std::fs::read_dir(w.path("store/blobs/sha256"))
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    blobs.sort();
    (index, blobs)
}

/// Something in the store first, so "unchanged" means more than "still empty".
fn seed_store(w: &HoistWorld) {
    let first = w.path("first");
    layout(&first, b"first");
    hoist(w, &["load", "--insecure-policy", "-i", &first.display().to_string()]).expect_ok("load the first image");
}

fn expect_rejected(r: Run, what: &str) -> String {
    assert!(!r.ok(), "{what}: accepted\nstdout: {}\nstderr: {}", r.out(), r.err());
    let err = r.err();
    assert!(err.contains("Source image rejected"), "{what}: {err}");
    err
}

/// An OCI layout at `dir` with one small image tagged `v1`.
fn layout(dir: &Path, content: &[u8]) {
    write_oci_layout(dir, "v1", &[("etc/content", content)]);
}

/// A real registry holding `app:1` (pushed by hoist under `--insecure-policy`).
fn registry_with_image(w: &HoistWorld, reg: &Registry) -> String {
    let src = w.path("src-layout");
    layout(&src, b"registry image");
    let image = format!("{}/team/app:1", reg.host());
    let from = format!("oci:{}:v1", src.display());
    hoist(w, &["copy", "--insecure-policy", &from, &format!("docker://{image}")])
        .expect_ok("hoist copy to the registry");
    image
}

fn blob_fetches(reg: &Registry) -> usize {
    reg.log().lines().filter(|l| l.contains("GET /v2/") && l.contains("/blobs/sha256:")).count()
}

#[test]
fn pull_under_a_reject_policy_is_refused_before_any_blob_and_the_store_is_unchanged() {
    let reg = Registry::start(Options::default());
    let w = world(Some(&reg.host()));
    let image = registry_with_image(&w, &reg);
    seed_store(&w);
    user_policy(&w, REJECT);
    let before = store_state(&w);
    let fetched = blob_fetches(&reg);

    let err = expect_rejected(hoist(&w, &["pull", &image]), "pull under the user's reject policy");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("Error:")).collect();
    assert_eq!(errors.len(), 1, "one error line: {err}");
    assert!(errors[0].contains(&image) && errors[0].contains("Source image rejected"), "{err}");
    assert_eq!(store_state(&w), before, "the store is unchanged");
    assert_eq!(blob_fetches(&reg), fetched, "no blob was fetched:\n{}", reg.log());

    // --signature-policy wins over the user's file; --insecure-policy reads none.
    let accept = policy_file(&w, "accept.json", ACCEPT);
    hoist(&w, &["pull", "--signature-policy", &accept, &image]).expect_ok("pull under --signature-policy accept");
    assert!(blob_fetches(&reg) > fetched, "the log shows blob fetches (so their absence above means something)");
    let reject = policy_file(&w, "reject.json", REJECT);
    user_policy(&w, ACCEPT);
    expect_rejected(
        hoist(&w, &["pull", "--signature-policy", &reject, &image]),
        "pull under --signature-policy reject",
    );
    user_policy(&w, REJECT);
    hoist(&w, &["pull", "--insecure-policy", &image]).expect_ok("pull with --insecure-policy");
}

#[test]
fn docker_scopes_the_most_specific_wins() {
    let reg = Registry::start(Options::default());
    let w = world(Some(&reg.host()));
    let image = registry_with_image(&w, &reg);
    let host = reg.host();
    let accept = r#"[{"type":"insecureAcceptAnything"}]"#;
    let reject = r#"[{"type":"reject"}]"#;
    // The repository is rejected, its namespace and host accepted: the repository's rule applies.
    user_policy(
        &w,
        &format!(
            r#"{{"default":{accept},"transports":{{"docker":{{"{host}":{accept},"{host}/team":{accept},"{host}/team/app":{reject}}}}}}}"#
        ),
    );
    expect_rejected(hoist(&w, &["pull", &image]), "the repository's reject");
    // The full reference accepted beats the repository's reject.
    user_policy(
        &w,
        &format!(
            r#"{{"default":{reject},"transports":{{"docker":{{"{image}":{accept},"{host}/team/app":{reject}}}}}}}"#
        ),
    );
    hoist(&w, &["pull", &image]).expect_ok("the full reference's accept");
    // The host's reject applies when nothing more specific matches; "" (the transport's default) beats default.
    user_policy(&w, &format!(r#"{{"default":{accept},"transports":{{"docker":{{"{host}":{reject}}}}}}}"#));
    expect_rejected(hoist(&w, &["pull", &image]), "the host's reject");
    user_policy(&w, &format!(r#"{{"default":{accept},"transports":{{"docker":{{"":{reject}}}}}}}"#));
    expect_rejected(hoist(&w, &["pull", &image]), "docker's own default");
}

#[test]
fn load_is_refused_with_the_store_unchanged_and_archive_scopes_are_paths() {
    let w = world(None);
    seed_store(&w);
    let base = w.path("layouts");
    let second = base.join("second");
    layout(&second, b"second image");
    let second_s = second.display().to_string();

    user_policy(&w, REJECT);
    let before = store_state(&w);
    expect_rejected(hoist(&w, &["load", "-i", &second_s]), "load under reject");
    assert_eq!(store_state(&w), before, "the store is unchanged");

    // oci scopes: the directory, then its parents (resolved: a symlink to it is the same scope).
    let accept = r#"[{"type":"insecureAcceptAnything"}]"#;
    let reject = r#"[{"type":"reject"}]"#;
    let base_s = std::fs::canonicalize(&base).unwrap().display().to_string();
    let second_real = std::fs::canonicalize(&second).unwrap().display().to_string();
    user_policy(
        &w,
        &format!(r#"{{"default":{reject},"transports":{{"oci":{{"{base_s}":{accept},"{second_real}":{reject}}}}}}}"#),
    );
    expect_rejected(hoist(&w, &["load", "-i", &second_s]), "the layout's own reject beats its parent's accept");
    let link = w.path("link");
    std::os::unix::fs::symlink(&second, &link).unwrap();
    expect_rejected(hoist(&w, &["load", "-i", &link.display().to_string()]), "through a symlink: the same scope");
    assert_eq!(store_state(&w), before, "the store is unchanged");
    user_policy(&w, &format!(r#"{{"default":{reject},"transports":{{"oci":{{"{base_s}":{accept}}}}}}}"#));
    hoist(&w, &["load", "-i", &second_s]).expect_ok("the parent's accept");
}

#[test]
fn docker_archive_and_store_scopes() {
    let w = world(None);
    let src = w.path("src");
    layout(&src, b"archived");
    hoist(&w, &["load", "--insecure-policy", "-i", &src.display().to_string()]).expect_ok("load");
    let name = "localhost/archived:1";
    let oci = format!("oci:{}:v1", src.display());
    hoist(&w, &["copy", "--insecure-policy", &oci, &format!("store:{name}")]).expect_ok("copy into the store");
    let dir = w.path("archives");
    std::fs::create_dir_all(&dir).unwrap();
    let tar = dir.join("app.tar");
    let tar_s = tar.display().to_string();

    // save reads the store: containers-storage scopes ("[hoist@ROOT]", "[ROOT]", the name).
    user_policy(&w, REJECT);
    expect_rejected(hoist(&w, &["save", "-o", &tar_s, name]), "save under reject");
    assert!(!tar.exists(), "nothing written");
    let root = std::fs::canonicalize(w.path("store")).unwrap().display().to_string();
    let accept = r#"[{"type":"insecureAcceptAnything"}]"#;
    let reject = r#"[{"type":"reject"}]"#;
    for scope in [format!("[{root}]"), format!("[hoist@{root}]"), format!("[hoist@{root}]{name}")] {
        user_policy(
            &w,
            &format!(r#"{{"default":{reject},"transports":{{"containers-storage":{{"{scope}":{accept}}}}}}}"#),
        );
        hoist(&w, &["save", "-o", &tar_s, name]).expect_ok(&format!("save under an accept for {scope}"));
    }

    // docker-archive: the transport's "" beats default.
    let store_accept = format!(r#""containers-storage":{{"":{accept}}}"#);
    user_policy(&w, &format!(r#"{{"default":{reject},"transports":{{"docker-archive":{{"":{accept}}}}}}}"#));
    hoist(&w, &["load", "-i", &tar_s]).expect_ok("docker-archive's own default accepts");
    user_policy(
        &w,
        &format!(r#"{{"default":{accept},"transports":{{"docker-archive":{{"":{reject}}},{store_accept}}}}}"#),
    );
    let before = store_state(&w);
    expect_rejected(hoist(&w, &["load", "-i", &tar_s]), "docker-archive's own default rejects");
    assert_eq!(store_state(&w), before, "the store is unchanged");
    expect_rejected(
        hoist(&w, &["copy", &format!("docker-archive:{tar_s}"), &format!("oci:{}:x", w.path("out").display())]),
        "copy from the archive",
    );
    assert!(!w.path("out").exists(), "nothing written by the refused copy");
    // As containers/image, docker-archive has no scope but "": a policy naming its path is invalid, never a
    // silent accept or reject.
    let dir_s = std::fs::canonicalize(&dir).unwrap().display().to_string();
    user_policy(&w, &format!(r#"{{"default":{reject},"transports":{{"docker-archive":{{"{dir_s}":{accept}}}}}}}"#));
    let out = hoist(&w, &["load", "-i", &tar_s]);
    assert_ne!(out.code, Some(0), "{out:?}");
    assert!(out.err().contains("docker-archive") && out.err().contains("policy.json"), "{}", out.err());
    assert_eq!(store_state(&w), before, "the store is unchanged");
}

#[test]
fn build_refuses_a_base_the_policy_rejects_with_the_store_unchanged() {
    let reg = Registry::start(Options::default());
    let w = world(Some(&reg.host()));
    let image = registry_with_image(&w, &reg);
    let ctx = w.path("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), format!("FROM {image}\nLABEL a=b\n")).unwrap();
    seed_store(&w);
    user_policy(&w, REJECT);
    let before = store_state(&w);
    let fetched = blob_fetches(&reg);
    let ctx_s = ctx.display().to_string();
    expect_rejected(hoist(&w, &["build", "-t", "localhost/built:1", &ctx_s]), "build from a rejected base");
    assert_eq!(store_state(&w), before, "the store is unchanged");
    assert_eq!(blob_fetches(&reg), fetched, "no blob of the base was fetched");
    hoist(&w, &["build", "--insecure-policy", "-t", "localhost/built:1", &ctx_s])
        .expect_ok("build with --insecure-policy");
}

#[test]
fn push_and_tag_remote_are_judged_too() {
    let reg = Registry::start(Options::default());
    let w = world(Some(&reg.host()));
    let image = registry_with_image(&w, &reg);
    hoist(&w, &["pull", "--insecure-policy", &image]).expect_ok("pull");
    user_policy(&w, REJECT);
    let to = format!("{}/team/pushed:1", reg.host());
    expect_rejected(hoist(&w, &["push", &image, &to]), "push from the store under reject");
    expect_rejected(hoist(&w, &["tag", "--remote", &image, "2"]), "tag --remote under reject");
    let version = format!("{}/team/app:1.2.3", reg.host());
    hoist(&w, &["tag", "--remote", "--insecure-policy", &image, "1.2.3"]).expect_ok("tag --remote --insecure-policy");
    expect_rejected(hoist(&w, &["tag", "--remote", "--semver", &version]), "tag --remote --semver under reject");
    let tags = hoist(&w, &["list-tags", "--insecure-policy", &format!("{}/team/app", reg.host())]);
    if tags.ok() {
        assert!(!tags.out().lines().any(|l| l.trim() == "2"), "no tag moved: {}", tags.out());
    }
    let other = format!("{}/other/app:1", reg.host());
    expect_rejected(hoist(&w, &["promote", &image, &other]), "promote under reject");
    hoist(&w, &["push", "--insecure-policy", &image, &to]).expect_ok("push with --insecure-policy");
}

#[test]
fn an_unreadable_policy_is_an_error_never_an_accept() {
    let w = world(None);
    let src = w.path("src");
    layout(&src, b"x");
    let src_s = src.display().to_string();
    let missing = w.path("missing.json").display().to_string();
    let r = hoist(&w, &["load", "--signature-policy", &missing, "-i", &src_s]);
    assert!(!r.ok(), "a missing --signature-policy file is refused");
    assert!(r.err().contains("missing.json"), "names the file: {}", r.err());
    user_policy(&w, "{not json");
    let r = hoist(&w, &["load", "-i", &src_s]);
    assert!(!r.ok() && r.err().contains("policy.json"), "a broken policy names its file: {}", r.err());
    assert_eq!(store_state(&w).1, Vec::<String>::new(), "nothing stored");
}

#[test]
fn signing_flags_are_refused_clearly_before_any_work() {
    let w = world(None);
    let src = w.path("src");
    layout(&src, b"x");
    let from = format!("oci:{}:v1", src.display());
    let to = format!("oci:{}:v1", w.path("dst").display());
    // No terminal to ask for a sigstore key's passphrase, and no --sign-passphrase-file.
    let key = w.path("key.private").display().to_string();
    let r = hoist(&w, &["copy", "--insecure-policy", "--sign-by-sigstore-private-key", &key, &from, &to]);
    assert!(!r.ok(), "signing without a passphrase source");
    assert!(r.err().contains("--sign-passphrase-file"), "{}", r.err());
    // A passphrase file serves one key only.
    let pass = policy_file(&w, "pass", "secret\n");
    let r = hoist(
        &w,
        &[
            "copy",
            "--insecure-policy",
            "--sign-by",
            "ABCD",
            "--sign-by-sigstore-private-key",
            &key,
            "--sign-passphrase-file",
            &pass,
            &from,
            &to,
        ],
    );
    assert!(!r.ok() && r.err().contains("only one of --sign-by and --sign-by-sigstore-private-key"), "{}", r.err());
    assert!(!r.err().contains("secret") && !r.out().contains("secret"), "the passphrase is never shown");
    // --sign-identity without a signer; --insecure-policy with --signature-policy.
    let r = hoist(&w, &["copy", "--insecure-policy", "--sign-identity", "quay.io/a/b:1", &from, &to]);
    assert!(!r.ok() && r.err().contains("--sign-identity needs"), "{}", r.err());
    let r = hoist(&w, &["copy", "--insecure-policy", "--signature-policy", &pass, &from, &to]);
    assert!(!r.ok(), "--insecure-policy and --signature-policy exclude each other");
    // Build signs only what it pushes.
    let ctx = w.path("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), "FROM scratch\nLABEL a=b\n").unwrap();
    let r = hoist(&w, &["build", "--sign-by", "ABCD", "-t", "localhost/x:1", &ctx.display().to_string()]);
    assert!(!r.ok() && r.err().contains("apply to --push"), "{}", r.err());
    assert!(!w.path("dst").exists(), "nothing written");
}

#[test]
fn an_unsigned_image_copies_into_archives_with_or_without_remove_signatures() {
    // An unsigned image copies into an archive; with --remove-signatures too.
    let w = world(None);
    let src = w.path("src");
    layout(&src, b"x");
    let from = format!("oci:{}:v1", src.display());
    user_policy(&w, ACCEPT);
    let tar = w.path("out.tar").display().to_string();
    hoist(&w, &["copy", &from, &format!("oci-archive:{tar}")]).expect_ok("unsigned image into an archive");
    hoist(&w, &["copy", "--remove-signatures", &from, &format!("docker-archive:{tar}")])
        .expect_ok("--remove-signatures");
}
