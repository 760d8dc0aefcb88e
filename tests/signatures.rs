//! Where signatures live, against a real distribution registry (docker-registry) and skopeo: sigstore
//! attachments written and read back (and read by skopeo as the OCI manifest cosign's layout says), a
//! lookaside over a local `file://` directory, and the store keeping what a registry source gave so the next
//! push carries it — through hoist-core's registry source and destination, the same calls the copy engine
//! makes.

use std::collections::BTreeMap;
use std::path::Path;

use harness::podman::Containers;
use harness::registry::{Options, Registry};
use hoist_core::digest::Digest;
use hoist_core::ops::{CredentialSource, RegistryAccess, Settings};
use hoist_core::reference::Reference;
use hoist_core::registry::TlsOptions;
use hoist_core::transport::store::StoreDestination;
use hoist_core::transport::{ImageDestination, ImageSource};
use hoist_core::trust::Signature;

/// A registry with `ns/app:1` pushed by skopeo; its manifest digest.
fn registry_with_image(c: &Containers) -> (Registry, Digest) {
    let registry = Registry::start(Options::default());
    let layout = c.dir.path().join("layout");
    harness::image::write_oci_layout(&layout, "v1", &[("hello.txt", b"hello")]);
    let policy = format!("--policy={}", c.policy.display());
    let dst = format!("docker://{}/ns/app:1", registry.host());
    let src = format!("oci:{}:v1", layout.display());
    c.skopeo(&["copy", &policy, "--dest-tls-verify=false", &src, &dst]).expect_ok("skopeo push");
    let out = c.skopeo(&["inspect", "--tls-verify=false", "--format", "{{.Digest}}", &dst]).expect_ok("digest");
    (registry, Digest::parse(out.out().trim()).unwrap())
}

/// `ns/app:1` pushed again by skopeo to `registry`; its manifest digest.
fn registry_with_image_at(c: &Containers, registry: &Registry) -> Digest {
    let layout = c.dir.path().join("layout");
    let policy = format!("--policy={}", c.policy.display());
    let dst = format!("docker://{}/ns/app:1", registry.host());
    let src = format!("oci:{}:v1", layout.display());
    c.skopeo(&["copy", &policy, "--dest-tls-verify=false", &src, &dst]).expect_ok("skopeo push");
    let out = c.skopeo(&["inspect", "--tls-verify=false", "--format", "{{.Digest}}", &dst]).expect_ok("digest");
    Digest::parse(out.out().trim()).unwrap()
}

/// Settings reaching plain-HTTP registries anonymously, with `registries_d` and a store under `dir`.
fn settings(dir: &Path, registries_d: &Path) -> Settings {
    let mut s = Settings::new().with_registry(RegistryAccess {
        tls: TlsOptions { tls_verify: Some(false), cert_dir: None },
        credentials: CredentialSource::Anonymous,
    });
    s.registries_d = Some(registries_d.to_owned());
    s.store_root = Some(dir.join("store"));
    s.registries_conf.main = dir.join("registries.conf");
    s.registries_conf.dropin_dirs = Vec::new();
    std::fs::write(dir.join("registries.conf"), "unqualified-search-registries = []\n").unwrap();
    s
}

fn sigstore(payload: &str, sig: &str) -> Signature {
    let mut annotations = BTreeMap::new();
    annotations.insert("dev.cosignproject.cosign/signature".to_owned(), sig.to_owned());
    Signature::Sigstore {
        media_type: "application/vnd.dev.cosign.simplesigning.v1+json".to_owned(),
        payload: payload.as_bytes().to_vec(),
        annotations,
    }
}

/// A simple signature's bytes (an OpenPGP packet tag, then anything: nothing here verifies it).
fn simple(tail: &str) -> Signature {
    let mut b = vec![0xA3, 0x01];
    b.extend_from_slice(tail.as_bytes());
    Signature::SimpleSigning(b)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap()
}

#[test]
fn sigstore_attachments_and_a_file_lookaside_round_trip_through_a_real_registry() {
    let c = Containers::new(&[]);
    let (registry, digest) = registry_with_image(&c);
    let tmp = tempfile::tempdir().unwrap();
    let (rd, sigs) = (tmp.path().join("registries.d"), tmp.path().join("sigs"));
    std::fs::create_dir_all(&rd).unwrap();
    std::fs::write(
        rd.join("test.yaml"),
        format!(
            "docker:\n  {}:\n    lookaside: file://{}\n    use-sigstore-attachments: true\n",
            registry.host(),
            sigs.display()
        ),
    )
    .unwrap();
    let settings = settings(tmp.path(), &rd);
    let reference = Reference::parse_normalized(&format!("{}/ns/app:1", registry.host())).unwrap();
    let rt = runtime();

    let written = vec![simple("one"), sigstore("{\"a\":1}", "c2lnMQ=="), sigstore("{\"b\":2}", "c2lnMg==")];
    rt.block_on(async {
        let dst = settings.registry_destination(&reference).await.unwrap();
        dst.put_signatures(&digest, &written).await.unwrap();
        // Adding the same sigstore signature again adds no layer.
        dst.put_signatures(&digest, &written[1..2]).await.unwrap();
    });
    // The simple signature is a lookaside file at REPO@sha256=HEX/signature-1 (no host in the path).
    let file = sigs.join(format!("ns/app@sha256={}/signature-1", digest.hex()));
    assert_eq!(std::fs::read(&file).unwrap(), b"\xa3\x01one");
    // skopeo reads the attachment as cosign's layout: an OCI manifest, one layer per signature.
    let tag = format!("docker://{}/ns/app:sha256-{}.sig", registry.host(), digest.hex());
    let raw = c.skopeo(&["inspect", "--raw", "--tls-verify=false", &tag]).expect_ok("the attachment");
    let m: serde_json::Value = serde_json::from_str(&raw.out()).unwrap();
    assert_eq!(m["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    let layers = m["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2, "{m}");
    assert_eq!(layers[0]["mediaType"], "application/vnd.dev.cosign.simplesigning.v1+json");
    assert_eq!(layers[1]["annotations"]["dev.cosignproject.cosign/signature"], "c2lnMg==");
    let config =
        c.skopeo(&["inspect", "--config", "--raw", "--tls-verify=false", &tag]).expect_ok("the attachment's config");
    let config: serde_json::Value = serde_json::from_str(&config.out()).unwrap();
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 2, "{config}");

    // Read back through a registry source: the lookaside's first, then the attachments.
    let read = rt.block_on(async {
        let src = settings.registry_source(&reference).await.unwrap();
        src.signatures(&digest).await.unwrap()
    });
    assert_eq!(read, written);

    // Pulled into the store, they are kept with the manifest; pushed to another repository, they follow it.
    let store = settings.store().unwrap();
    rt.block_on(async {
        let dst = StoreDestination::open(store.clone(), reference.clone()).unwrap();
        dst.put_signatures(&digest, &read).await.unwrap();
    });
    assert!(store.signatures_path(&digest).is_file());
    let kept = store.signatures(&digest).unwrap();
    assert_eq!(kept, written);
    let other = Reference::parse_normalized(&format!("{}/ns/copy:1", registry.host())).unwrap();
    rt.block_on(async {
        let dst = settings.registry_destination(&other).await.unwrap();
        dst.put_signatures(&digest, &kept).await.unwrap();
    });
    let copied = sigs.join(format!("ns/copy@sha256={}/signature-1", digest.hex()));
    assert_eq!(std::fs::read(&copied).unwrap(), b"\xa3\x01one");
    let tag = format!("docker://{}/ns/copy:sha256-{}.sig", registry.host(), digest.hex());
    c.skopeo(&["inspect", "--raw", "--tls-verify=false", &tag]).expect_ok("the copy's attachment");
}

#[test]
fn sigstore_signatures_are_refused_where_attachments_are_off() {
    let c = Containers::new(&[]);
    let (registry, digest) = registry_with_image(&c);
    let tmp = tempfile::tempdir().unwrap();
    let rd = tmp.path().join("registries.d");
    std::fs::create_dir_all(&rd).unwrap();
    std::fs::write(rd.join("a.yaml"), format!("default-docker:\n  lookaside: file://{}/sigs\n", tmp.path().display()))
        .unwrap();
    let settings = settings(tmp.path(), &rd);
    let reference = Reference::parse_normalized(&format!("{}/ns/app:1", registry.host())).unwrap();
    let e = runtime().block_on(async {
        let dst = settings.registry_destination(&reference).await.unwrap();
        dst.put_signatures(&digest, &[sigstore("{}", "eA==")]).await.unwrap_err()
    });
    assert!(e.to_string().starts_with("writing sigstore attachments is disabled by configuration"), "{e}");
    let tag = format!("docker://{}/ns/app:sha256-{}.sig", registry.host(), digest.hex());
    assert!(!c.skopeo(&["inspect", "--raw", "--tls-verify=false", &tag]).ok(), "no attachment written");

    // A registries.d with the same scope twice is refused when the registry is opened, naming both files.
    std::fs::write(rd.join("b.yaml"), "default-docker:\n  lookaside: file:///elsewhere\n").unwrap();
    let e = runtime().block_on(settings.registry_source(&reference)).err().expect("refused");
    assert!(e.to_string().contains("\"default-docker\" defined both in"), "{e}");
}

/// `hoist sign` refuses without a key, and a registries.d that is not valid stops it before anything is
/// signed, naming the file.
#[test]
fn hoist_sign_refuses_without_a_key_or_with_a_bad_registries_d() {
    let c = Containers::new(&[]);
    let (registry, _) = registry_with_image(&c);
    let world = harness::hoist::HoistWorld::new(&format!(
        "unqualified-search-registries = []\n[[registry]]\nlocation = \"{}\"\ninsecure = true\n",
        registry.host()
    ));
    let image = format!("{}/ns/app:1", registry.host());
    let out = world.run(&["sign", &image], b"", &Vec::new());
    assert_eq!(out.code, Some(125));
    assert!(out.err().contains("hoist sign needs a key"), "{}", out.err());

    let rd = world.path("registries.d");
    std::fs::create_dir_all(&rd).unwrap();
    std::fs::write(rd.join("bad.yaml"), "docker: [1]\n").unwrap();
    let out =
        world.run(&["sign", "--registries.d", rd.to_str().unwrap(), "--sign-by", "ABCDEF", &image], b"", &Vec::new());
    assert_eq!(out.code, Some(125));
    assert!(out.err().contains(&format!("parsing {}: ", rd.join("bad.yaml").display())), "{}", out.err());
}

/// `hoist sign` takes the very signing flags of `push` (one set of flags): the same help text for each, and
/// the same answer to the same bad combination (a passphrase file for two keys; a sigstore key without a
/// passphrase and no terminal to ask on) — found before any registry is reached.
#[test]
fn hoist_sign_takes_the_signing_flags_of_push() {
    let world = harness::hoist::HoistWorld::new("unqualified-search-registries = []\n");
    let help = |cmd: &str| {
        let out = world.run(&[cmd, "--help"], b"", &Vec::new());
        assert!(out.ok(), "{}", out.err());
        let text = out.out().to_owned();
        let mut lines = Vec::new();
        for flag in ["--sign-by ", "--sign-by-sigstore-private-key ", "--sign-passphrase-file ", "--sign-identity "] {
            let at = text.lines().position(|l| l.trim_start().starts_with(flag)).expect(flag);
            lines.push(text.lines().skip(at).take(2).collect::<Vec<_>>().join("\n"));
        }
        lines
    };
    assert_eq!(help("sign"), help("push"));

    let (key, pass) = (world.path("k.private"), world.path("pass"));
    std::fs::write(&key, "not a key").unwrap();
    std::fs::write(&pass, "secret\n").unwrap();
    let (key, pass) = (key.to_str().unwrap(), pass.to_str().unwrap());
    let image = "127.0.0.1:1/ns/app:1";
    for flags in [
        vec!["--sign-by", "ABCDEF", "--sign-by-sigstore-private-key", key, "--sign-passphrase-file", pass],
        vec!["--sign-by-sigstore-private-key", key],
        vec!["--sign-by-sigstore-private-key", key, "--sign-passphrase-file", pass],
    ] {
        let run = |cmd: &str| {
            let mut args = vec![cmd];
            args.extend(&flags);
            args.push(image);
            let out = world.run(&args, b"", &Vec::new());
            assert_eq!(out.code, Some(125), "{cmd} {flags:?}: {}", out.err());
            out.err().to_owned()
        };
        let (sign, push) = (run("sign"), run("push"));
        assert_eq!(sign, push, "{flags:?}");
        assert!(!sign.contains("secret"), "{sign}");
    }
}

/// `hoist sign --sign-by FPR` writes a GPG simple signature to the lookaside that skopeo's
/// `standalone-verify` accepts for the image's digest and name (needs the GPG signing part of issue 19).
#[test]
fn hoist_sign_writes_a_gpg_signature_skopeo_verifies() {
    let c = Containers::new(&[]);
    let (registry, digest) = registry_with_image(&c);
    let gpg = harness::pass::PassStore::start();
    let listed = harness::run(
        std::process::Command::new("gpg").envs(gpg.env()).args(["--list-secret-keys", "--with-colons"]),
        b"",
    )
    .expect_ok("gpg --list-secret-keys");
    let fpr = listed.out().lines().find_map(|l| l.strip_prefix("fpr:")).unwrap().trim_matches(':').to_owned();
    let world = harness::hoist::HoistWorld::new(&format!(
        "unqualified-search-registries = []\n[[registry]]\nlocation = \"{}\"\ninsecure = true\n",
        registry.host()
    ));
    let (rd, sigs) = (world.path("registries.d"), world.path("sigs"));
    std::fs::create_dir_all(&rd).unwrap();
    std::fs::write(rd.join("a.yaml"), format!("default-docker:\n  lookaside: file://{}\n", sigs.display())).unwrap();
    let image = format!("{}/ns/app:1", registry.host());
    let out = world.run(&["sign", "--registries.d", rd.to_str().unwrap(), "--sign-by", &fpr, &image], b"", &gpg.env());
    assert!(out.ok(), "{}", out.err());
    assert_eq!(out.out().trim(), digest.to_string());
    let sig = sigs.join(format!("ns/app@sha256={}/signature-1", digest.hex()));
    assert!(sig.is_file());

    let manifest =
        c.skopeo(&["inspect", "--raw", "--tls-verify=false", &format!("docker://{image}")]).expect_ok("the manifest");
    let manifest_file = world.path("manifest.json");
    std::fs::write(&manifest_file, &manifest.stdout).unwrap();
    let mut verify = c.command("skopeo");
    verify.envs(gpg.env()).args([
        "standalone-verify",
        manifest_file.to_str().unwrap(),
        &image,
        &fpr,
        sig.to_str().unwrap(),
    ]);
    harness::run(&mut verify, b"").expect_ok("skopeo standalone-verify");

    // Signing again adds signature-2 (the first stays). The payload's timestamp counts seconds and the
    // signature is deterministic, so a second signing within the same second makes the same bytes, which are
    // kept once: wait for the next second.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = world.run(&["sign", "--registries.d", rd.to_str().unwrap(), "--sign-by", &fpr, &image], b"", &gpg.env());
    assert!(out.ok(), "{}", out.err());
    assert!(sig.with_file_name("signature-2").is_file(), "a second signature goes after the first");
    assert!(sig.is_file());
}

/// A test world's own registries.d keeps signatures inside it: `hoist sign` without `--registries.d` writes
/// to the world's lookaside (never the built-in /var/lib/containers/sigstore, which root would get).
#[test]
fn a_test_worlds_signatures_stay_in_its_temp_dir() {
    let c = Containers::new(&[]);
    let (registry, digest) = registry_with_image(&c);
    let gpg = harness::pass::PassStore::start();
    let listed = harness::run(
        std::process::Command::new("gpg").envs(gpg.env()).args(["--list-secret-keys", "--with-colons"]),
        b"",
    )
    .expect_ok("gpg --list-secret-keys");
    let fpr = listed.out().lines().find_map(|l| l.strip_prefix("fpr:")).unwrap().trim_matches(':').to_owned();
    let world = harness::hoist::HoistWorld::new(&format!(
        "unqualified-search-registries = []\n[[registry]]\nlocation = \"{}\"\ninsecure = true\n",
        registry.host()
    ));
    let image = format!("{}/ns/app:1", registry.host());
    let out = world.run(&["sign", "--sign-by", &fpr, &image], b"", &gpg.env());
    assert!(out.ok(), "{}", out.err());
    let sig = world.lookaside().join(format!("ns/app@sha256={}/signature-1", digest.hex()));
    assert!(sig.is_file(), "the signature is in the world's lookaside");
    assert!(!Path::new(&format!("/var/lib/containers/sigstore/ns/app@sha256={}", digest.hex())).exists());
}

/// `hoist delete` removes the deleted manifest's simple signatures from the lookaside, as `skopeo delete`
/// (containers/image) does: every `signature-N`, and nothing of another digest.
#[test]
fn delete_removes_the_lookaside_signatures_as_skopeo_does() {
    let c = Containers::new(&[]);
    let (registry, digest) = registry_with_image(&c);
    let gpg = harness::pass::PassStore::start();
    let listed = harness::run(
        std::process::Command::new("gpg").envs(gpg.env()).args(["--list-secret-keys", "--with-colons"]),
        b"",
    )
    .expect_ok("gpg --list-secret-keys");
    let fpr = listed.out().lines().find_map(|l| l.strip_prefix("fpr:")).unwrap().trim_matches(':').to_owned();
    let world = harness::hoist::HoistWorld::new(&format!(
        "unqualified-search-registries = []\n[[registry]]\nlocation = \"{}\"\ninsecure = true\n",
        registry.host()
    ));
    let image = format!("{}/ns/app:1", registry.host());
    world.run(&["sign", "--sign-by", &fpr, &image], b"", &gpg.env()).expect_ok("hoist sign");
    let dir = world.lookaside().join(format!("ns/app@sha256={}", digest.hex()));
    // A second signature (two signs within one second make the same bytes, which sign does not repeat).
    std::fs::copy(dir.join("signature-1"), dir.join("signature-2")).unwrap();
    assert!(dir.join("signature-2").is_file(), "two signatures");
    let other =
        world.lookaside().join("ns/app@sha256=0000000000000000000000000000000000000000000000000000000000000000");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("signature-1"), b"another digest's").unwrap();
    world.run(&["delete", &format!("docker://{image}")], b"", &Vec::new()).expect_ok("hoist delete");
    assert!(!dir.join("signature-1").exists() && !dir.join("signature-2").exists(), "signatures removed");
    assert!(other.join("signature-1").is_file(), "another digest's signature is kept");
    let gone = c.skopeo(&["inspect", "--tls-verify=false", &format!("docker://{image}")]);
    assert!(!gone.ok(), "the manifest is deleted");

    // skopeo does the same with the same registries.d, for a manifest hoist signed.
    let again = registry_with_image_at(&c, &registry);
    world.run(&["sign", "--sign-by", &fpr, &image], b"", &gpg.env()).expect_ok("hoist sign");
    let dir = world.lookaside().join(format!("ns/app@sha256={}", again.hex()));
    assert!(dir.join("signature-1").is_file());
    c.skopeo(&[
        "delete",
        "--tls-verify=false",
        "--registries.d",
        world.registries_d().to_str().unwrap(),
        &format!("docker://{image}"),
    ])
    .expect_ok("skopeo delete");
    assert!(!dir.join("signature-1").exists(), "skopeo removes them too");
}

/// `--registries.d` reaches the registry side of pull, push and copy: an invalid directory stops each before
/// anything moves, naming the file (containers/image reads registries.d whenever it opens a registry image).
#[test]
fn registries_d_is_read_by_pull_push_and_copy() {
    let c = Containers::new(&[]);
    let (registry, _) = registry_with_image(&c);
    let world = harness::hoist::HoistWorld::new(&format!(
        "unqualified-search-registries = []\n[[registry]]\nlocation = \"{}\"\ninsecure = true\n",
        registry.host()
    ));
    let image = format!("{}/ns/app:1", registry.host());
    let (good, bad) = (world.path("good.d"), world.path("bad.d"));
    std::fs::create_dir_all(&good).unwrap();
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(
        good.join("a.yaml"),
        format!("default-docker:\n  lookaside: file://{}\n", world.path("sigs").display()),
    )
    .unwrap();
    std::fs::write(bad.join("a.yaml"), "default-docker:\n  lookaside: file:///a\n").unwrap();
    std::fs::write(bad.join("b.yaml"), "default-docker:\n  lookaside: file:///b\n").unwrap();
    let refused = |args: &[&str]| {
        let out = world.run(args, b"", &Vec::new());
        assert_eq!(out.code, Some(125), "{args:?}: {}", out.err());
        assert!(out.err().contains("\"default-docker\" defined both in"), "{args:?}: {}", out.err());
    };
    let bad_flag = bad.to_str().unwrap();
    refused(&["pull", "--registries.d", bad_flag, &image]);
    let out = world.run(&["images", "--format", "json"], b"", &Vec::new()).expect_ok("images");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out.out()).unwrap(), serde_json::json!([]));

    world.run(&["pull", "--registries.d", good.to_str().unwrap(), &image], b"", &Vec::new()).expect_ok("pull");
    let other = format!("{}/ns/other:1", registry.host());
    refused(&["push", "--registries.d", bad_flag, &image, &other]);
    refused(&["copy", "--registries.d", bad_flag, &format!("store:{image}"), &format!("docker://{other}")]);
    let tag = format!("docker://{other}");
    assert!(!c.skopeo(&["inspect", "--raw", "--tls-verify=false", &tag]).ok(), "nothing pushed");
    world.run(&["push", "--registries.d", good.to_str().unwrap(), &image, &other], b"", &Vec::new()).expect_ok("push");
}
