//! registries.d (scope precedence, old names, duplicates), the signature blob format, lookaside files and
//! servers (caps, timeout, no credentials).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::*;
use crate::reference::Reference;
use crate::registry::fake::{Req, Resp, Server};

fn r(s: &str) -> Reference {
    Reference::parse_normalized(s).unwrap()
}

fn parse(yaml: &str) -> RegistriesD {
    RegistriesD::parse(Path::new("t.yaml"), yaml.as_bytes()).unwrap()
}

/// A simple signature's bytes (an OpenPGP packet's first byte, then anything).
fn simple(tail: &[u8]) -> Signature {
    let mut b = vec![0xA3];
    b.extend_from_slice(tail);
    Signature::SimpleSigning(b)
}

fn sigstore(payload: &[u8]) -> Signature {
    let mut annotations = BTreeMap::new();
    annotations.insert("dev.cosignproject.cosign/signature".to_owned(), "MEUCIQ==".to_owned());
    Signature::Sigstore {
        media_type: "application/vnd.dev.cosign.simplesigning.v1+json".to_owned(),
        payload: payload.to_vec(),
        annotations,
    }
}

#[test]
fn the_most_specific_scope_that_sets_a_value_wins() {
    let c = parse(
        r#"
default-docker:
  lookaside: https://default.example/sigs
  use-sigstore-attachments: false
docker:
  quay.io/org/app:1:
    lookaside-staging: file:///staging/exact
  quay.io/org/app:
    lookaside: https://repo.example/sigs
  quay.io/org:
    lookaside: https://ns.example/sigs
    use-sigstore-attachments: true
  quay.io:
    lookaside: https://host.example/sigs
  "*.io":
    lookaside: https://wild.example/sigs
  registry.local:5000:
    sigstore: file:///old/name
    sigstore-staging: file:///old/staging
  "*.example.com":
    lookaside: file:///wildcard
"#,
    );
    // Reading: the exact reference sets only staging, so the repository's lookaside applies.
    assert_eq!(c.lookaside(&r("quay.io/org/app:1"), false).unwrap().as_str(), "https://repo.example/sigs/org/app");
    // Writing: the exact reference's staging.
    assert_eq!(c.lookaside(&r("quay.io/org/app:1"), true).unwrap().as_str(), "file:///staging/exact/org/app");
    assert_eq!(c.lookaside(&r("quay.io/org/other:1"), false).unwrap().as_str(), "https://ns.example/sigs/org/other");
    assert_eq!(c.lookaside(&r("quay.io/x/y"), false).unwrap().as_str(), "https://host.example/sigs/x/y");
    assert_eq!(c.lookaside(&r("a.b.io/x"), false).unwrap().as_str(), "https://wild.example/sigs/x");
    assert_eq!(
        c.lookaside(&r("docker.io/library/busybox"), false).unwrap().as_str(),
        "https://wild.example/sigs/library/busybox"
    );
    assert_eq!(c.lookaside(&r("gcr.example.org/x"), false).unwrap().as_str(), "https://default.example/sigs/x");
    // The old names, and staging before the reading location when writing; a port does not stop wildcards.
    assert_eq!(c.lookaside(&r("registry.local:5000/a/b"), false).unwrap().as_str(), "file:///old/name/a/b");
    assert_eq!(c.lookaside(&r("registry.local:5000/a/b"), true).unwrap().as_str(), "file:///old/staging/a/b");
    assert_eq!(c.lookaside(&r("reg.example.com:443/a"), true).unwrap().as_str(), "file:///wildcard/a");
    // use-sigstore-attachments: the first scope that sets it.
    assert!(c.use_sigstore_attachments(&r("quay.io/org/app:1")));
    assert!(!c.use_sigstore_attachments(&r("quay.io/other/app")));
    assert!(!c.use_sigstore_attachments(&r("elsewhere.org/a")));
}

/// `trust show`'s STORE column as podman's: the exact scope, then its parent paths, then `default-docker`;
/// `lookaside` else `sigstore`, never a staging URL; a scope entry that sets nothing shows nothing (podman
/// does not fall back past it).
#[test]
fn the_store_trust_show_prints_for_a_scope_is_podmans() {
    let d = parse(
        "default-docker:\n  lookaside: file:///def\ndocker:\n  example.com:\n    lookaside: https://s.example.com/s\n  \
         example.com/b:\n    sigstore: file:///old\n    lookaside-staging: file:///staging\n  example.com/e:\n    \
         lookaside-staging: file:///only-staging\n  /x:\n    lookaside: file:///dir\n",
    );
    assert_eq!(d.shown_lookaside(""), "file:///def");
    assert_eq!(d.shown_lookaside("example.com"), "https://s.example.com/s");
    assert_eq!(d.shown_lookaside("example.com/a/b"), "https://s.example.com/s");
    assert_eq!(d.shown_lookaside("example.com/b/c"), "file:///old");
    assert_eq!(d.shown_lookaside("example.com/e/f"), "");
    assert_eq!(d.shown_lookaside("/x/y"), "file:///dir");
    assert_eq!(d.shown_lookaside("other.io"), "file:///def");
    assert_eq!(RegistriesD::default().shown_lookaside("other.io"), "");
}

#[test]
fn new_names_win_over_old_ones_and_empty_strings_are_unset() {
    let c = parse(
        "docker:\n  a.io:\n    lookaside: file:///new\n    sigstore: file:///old\n    lookaside-staging: ''\n    sigstore-staging: file:///old-staging\n  b.io:\n    lookaside: ''\ndefault-docker:\n  sigstore: file:///default\n",
    );
    assert_eq!(c.lookaside(&r("a.io/x"), false).unwrap().as_str(), "file:///new/x");
    assert_eq!(c.lookaside(&r("a.io/x"), true).unwrap().as_str(), "file:///old-staging/x");
    assert_eq!(c.lookaside(&r("b.io/x"), false).unwrap().as_str(), "file:///default/x");
}

#[test]
fn nothing_configured_is_the_builtin_directory() {
    let c = parse("# only a comment\n");
    assert_eq!(c, RegistriesD::default());
    let u = c.lookaside(&r("a.io/ns/x"), false).unwrap();
    assert_eq!(u.scheme(), "file");
    assert!(u.path().ends_with("containers/sigstore/ns/x"), "{u}");
    assert!(!c.use_sigstore_attachments(&r("a.io/ns/x")));
    // Unknown fields are ignored, as yaml.v3 ignores them.
    let c = parse("docker:\n  a.io:\n    lookaside: file:///x\n    future-field: 1\nsomething-else: true\n");
    assert_eq!(c.top_level(&r("a.io/y"), false).as_deref(), Some("file:///x"));
    // A scope with no settings.
    let c = parse("docker:\n  a.io:\n");
    assert_eq!(c.docker.get("a.io"), Some(&registries_d::Namespace::default()));
}

#[test]
fn invalid_files_are_refused_naming_the_file() {
    for bad in ["docker: [1, 2]\n", "default-docker: 3\n", "docker:\n  a.io:\n    lookaside: [x]\n", ":\n- ]"] {
        let e = RegistriesD::parse(Path::new("/d/bad.yaml"), bad.as_bytes()).unwrap_err();
        assert!(matches!(&e, StorageError::Config { path, .. } if path == Path::new("/d/bad.yaml")), "{bad}: {e:?}");
        assert!(e.to_string().starts_with("parsing /d/bad.yaml: "), "{e}");
    }
    // A scope twice in one file.
    let e = RegistriesD::parse(Path::new("d.yaml"), b"docker:\n  a.io: {}\n  a.io: {}\n").unwrap_err();
    assert!(e.to_string().contains("mapping key \"a.io\" already defined"), "{e}");
    let e =
        RegistriesD::parse(Path::new("d.yaml"), b"docker:\n  a.io:\n    lookaside: x\n    lookaside: y\n").unwrap_err();
    assert!(e.to_string().contains("duplicate field"), "{e}");
    // A URL that is not one.
    let c = parse("docker:\n  a.io:\n    lookaside: 'not a url'\n");
    let e = c.lookaside(&r("a.io/x"), false).unwrap_err();
    assert!(e.to_string().starts_with("Invalid signature storage URL not a url: "), "{e}");
}

#[test]
fn a_directory_merges_its_yaml_files_and_refuses_duplicates() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("a.yaml"), "docker:\n  a.io:\n    lookaside: file:///a\n").unwrap();
    std::fs::write(d.join("b.yaml"), "default-docker:\n  lookaside: file:///b\n").unwrap();
    std::fs::write(d.join("c.yml"), "not: [yaml").unwrap(); // not *.yaml: ignored
    let c = RegistriesD::load_dir(d).unwrap();
    assert_eq!(c.top_level(&r("a.io/x"), false).as_deref(), Some("file:///a"));
    assert_eq!(c.top_level(&r("b.io/x"), false).as_deref(), Some("file:///b"));

    std::fs::write(d.join("z.yaml"), "docker:\n  a.io:\n    lookaside: file:///z\n").unwrap();
    let e = RegistriesD::load_dir(d).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "Error parsing signature storage configuration: \"docker\" namespace \"a.io\" defined both in {:?} and {:?}",
            d.join("a.yaml"),
            d.join("z.yaml")
        )
    );
    std::fs::remove_file(d.join("z.yaml")).unwrap();
    std::fs::write(d.join("y.yaml"), "default-docker:\n  lookaside: file:///y\n").unwrap();
    let e = RegistriesD::load_dir(d).unwrap_err();
    assert!(e.to_string().contains("\"default-docker\" defined both in"), "{e}");

    // A missing directory configures nothing; a FIFO named *.yaml is refused, not waited on.
    assert_eq!(RegistriesD::load_dir(&d.join("none")).unwrap().docker.len(), 0);
    std::fs::remove_file(d.join("y.yaml")).unwrap();
    let fifo = d.join("f.yaml");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid C string; mkfifo has no other preconditions.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let e = RegistriesD::load_dir(d).unwrap_err();
    assert!(e.to_string().contains("not a regular file"), "{e}");
}

#[test]
fn the_directory_is_the_flag_else_the_users_else_the_systems() {
    let tmp = tempfile::tempdir().unwrap();
    let given = tmp.path().join("given");
    assert_eq!(RegistriesD::dir(Some(&given), Some(tmp.path())), given);
    assert_eq!(RegistriesD::dir(None, Some(tmp.path())), Path::new(registries_d::SYSTEM_DIR));
    std::fs::create_dir_all(tmp.path().join(registries_d::USER_DIR)).unwrap();
    assert_eq!(RegistriesD::dir(None, Some(tmp.path())), tmp.path().join(registries_d::USER_DIR));
}

#[test]
fn scopes_are_containers_images() {
    assert_eq!(registries_d::identity(&r("busybox")), "docker.io/library/busybox:latest");
    assert_eq!(
        registries_d::namespaces(&r("reg.example.com:5000/a/b/c:1")),
        vec![
            "reg.example.com:5000/a/b/c",
            "reg.example.com:5000/a/b",
            "reg.example.com:5000/a",
            "reg.example.com:5000",
            "*.example.com",
            "*.com"
        ]
    );
}

#[test]
fn blobs_are_containers_images_format() {
    // Simple signing: the bytes as they are, both ways.
    let s = simple(b"\x01\x02");
    assert_eq!(to_blob(&s), vec![0xA3, 1, 2]);
    assert_eq!(from_blob(&[0xA3, 1, 2], "x").unwrap(), s);
    for first in [0xA0u8, 0xC8, 0x90, 0x3d, 0xC4, 0x88, 0x8B, 0xC2] {
        assert!(matches!(from_blob(&[first], "x").unwrap(), Signature::SimpleSigning(_)), "{first:#x}");
    }
    // The named simple-signing format.
    assert_eq!(from_blob(b"\0simple-signing\nabc", "x").unwrap(), Signature::SimpleSigning(b"abc".to_vec()));
    // Sigstore: 0x00, the name, a newline, Go's JSON (payload in base64).
    let g = sigstore(b"{\"critical\":{}}");
    let blob = to_blob(&g);
    let expected = b"\0sigstore-json\n{\"mimeType\":\"application/vnd.dev.cosign.simplesigning.v1+json\",\"payload\":\"eyJjcml0aWNhbCI6e319\",\"annotations\":{\"dev.cosignproject.cosign/signature\":\"MEUCIQ==\"}}";
    assert_eq!(blob, expected.to_vec());
    assert_eq!(from_blob(&blob, "x").unwrap(), g);
    // Go's nil payload and annotations.
    let nulls = b"\0sigstore-json\n{\"mimeType\":\"m\",\"payload\":null,\"annotations\":null}";
    assert_eq!(
        from_blob(nulls, "x").unwrap(),
        Signature::Sigstore { media_type: "m".into(), payload: vec![], annotations: BTreeMap::new() }
    );
    // Refusals, each naming the blob.
    for (bad, why) in [
        (&b""[..], "empty signature blob"),
        (b"{\"json\":1}", "unrecognized signature format, starting with binary 0x7b"),
        (b"\0sigstore-json", "invalid signature format, missing newline"),
        (b"\0sig\x01\n", "invalid signature format, non-ASCII byte 0x1"),
        (b"\0other\n{}", "unrecognized signature format \"other\""),
        (b"\0sigstore-json\n{\"payload\":\"!!\"}", "payload: "),
        (b"\0sigstore-json\n[1]", "invalid type"),
    ] {
        let e = from_blob(bad, "file:///s/signature-1").unwrap_err();
        assert!(e.to_string().starts_with("parsing signature file:///s/signature-1: "), "{e}");
        assert!(e.to_string().contains(why), "{e} lacks {why}");
    }
}

#[tokio::test]
async fn lookaside_files_round_trip_and_stale_ones_go() {
    let tmp = tempfile::tempdir().unwrap();
    let c = parse(&format!("default-docker:\n  lookaside: file://{}\n", tmp.path().display()));
    let reference = r("reg.io/ns/app:1");
    let base = c.lookaside(&reference, true).unwrap();
    let digest = Digest::sha256(b"manifest");
    let dir = tmp.path().join(format!("ns/app@sha256={}", digest.hex()));

    let three = [simple(b"1"), sigstore(b"2"), simple(b"3")];
    lookaside::write(&base, &digest, &three).unwrap();
    assert_eq!(std::fs::read(dir.join("signature-1")).unwrap(), vec![0xA3, b'1']);
    let mut budget = Budget::new("t");
    assert_eq!(lookaside::read(&base, &digest, None, &mut budget).await.unwrap(), three.to_vec());
    // No temp file is left beside them.
    let mut names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names, ["signature-1", "signature-2", "signature-3"]);

    // Writing fewer removes the stale ones after them; nothing to write changes nothing.
    lookaside::write(&base, &digest, &three[..1]).unwrap();
    assert!(!dir.join("signature-2").exists() && !dir.join("signature-3").exists());
    lookaside::write(&base, &digest, &[]).unwrap();
    assert!(dir.join("signature-1").exists());

    // Appending goes after what is there, skipping what is there already.
    lookaside::append(&base, &digest, &[simple(b"1"), simple(b"new")]).unwrap();
    let mut budget = Budget::new("t");
    assert_eq!(lookaside::read(&base, &digest, None, &mut budget).await.unwrap(), vec![simple(b"1"), simple(b"new")]);

    // Another digest has none.
    let mut budget = Budget::new("t");
    assert!(lookaside::read(&base, &Digest::sha256(b"x"), None, &mut budget).await.unwrap().is_empty());

    // A damaged file is an error naming it; a file over the cap is refused without reading it whole.
    std::fs::write(dir.join("signature-1"), b"<html>").unwrap();
    let e = lookaside::read(&base, &digest, None, &mut Budget::new("t")).await.unwrap_err();
    assert!(e.to_string().contains("signature-1: unrecognized signature format"), "{e}");
    let f = std::fs::File::create(dir.join("signature-1")).unwrap();
    f.set_len(MAX_SIGNATURE_SIZE as u64 + 1).unwrap();
    let e = lookaside::read(&base, &digest, None, &mut Budget::new("t")).await.unwrap_err();
    assert!(e.to_string().contains("larger than the 4194304-byte limit"), "{e}");
}

#[tokio::test]
async fn lookaside_over_http_is_refused_for_writing() {
    let c = parse("default-docker:\n  lookaside: https://sigs.example/x\n");
    let base = c.lookaside(&r("a.io/b"), true).unwrap();
    let e = lookaside::write(&base, &Digest::sha256(b"m"), &[simple(b"1")]).unwrap_err();
    let digest = Digest::sha256(b"m");
    assert_eq!(
        e.to_string(),
        format!(
            "Writing directly to a https lookaside https://sigs.example/x/b@sha256={}/signature-1 is not supported. \
             Configure a lookaside-staging: location",
            digest.hex()
        )
    );
    let c = parse("default-docker:\n  lookaside: ftp://sigs.example/x\n");
    let e =
        lookaside::read(&c.lookaside(&r("a.io/b"), false).unwrap(), &Digest::sha256(b"m"), None, &mut Budget::new("t"))
            .await
            .unwrap_err();
    assert!(
        e.to_string().starts_with("Unsupported scheme when reading signature from ftp://sigs.example/x/b@sha256="),
        "{e}"
    );
}

/// A lookaside server: signatures until a 404, no credentials asked or sent; a server that sends endless
/// signatures, a huge one, or never answers is stopped with one clear error.
#[tokio::test]
async fn lookaside_servers_are_read_within_limits() {
    let digest = Digest::sha256(b"m");
    let hex = digest.hex().to_owned();
    let server = Server::start("127.0.0.1", |_| {
        move |req: &Req| {
            let p = req.path().to_owned();
            if p.starts_with("/ok/") {
                match p.rsplit('-').next() {
                    Some("1") => Resp::new(200).body(vec![0xA3, b'a']),
                    Some("2") => Resp::new(200).body(vec![0xA3, b'b']),
                    _ => Resp::new(404),
                }
            } else if p.starts_with("/endless/") {
                Resp::new(200).body(vec![0xA3])
            } else if p.starts_with("/huge/") {
                Resp::new(200).body(vec![0xA3; MAX_SIGNATURE_SIZE + 1])
            } else if p.starts_with("/denied/") {
                Resp::new(401).header("WWW-Authenticate", "Basic realm=x")
            } else {
                Resp::new(500)
            }
        }
    })
    .await;
    let base = |prefix: &str| reqwest::Url::parse(&format!("http://{}/{prefix}/ns/app", server.addr)).unwrap();
    let t = Some(Duration::from_secs(5));

    let got = lookaside::read(&base("ok"), &digest, t, &mut Budget::new("t")).await.unwrap();
    assert_eq!(got, vec![Signature::SimpleSigning(vec![0xA3, b'a']), Signature::SimpleSigning(vec![0xA3, b'b'])]);
    let reqs = server.requests_to(&format!("/ok/ns/app@sha256={hex}/signature-1"));
    assert_eq!(reqs.len(), 1);
    assert!(reqs[0].header("authorization").is_none(), "no credentials to a lookaside server");

    let e = lookaside::read(&base("endless"), &digest, t, &mut Budget::new("img")).await.unwrap_err();
    assert_eq!(e.to_string(), "img: more than 128 signatures, assuming that's unreasonable");
    let e = lookaside::read(&base("huge"), &digest, t, &mut Budget::new("t")).await.unwrap_err();
    assert!(e.to_string().ends_with("the signature is larger than the 4194304-byte limit"), "{e}");
    let e = lookaside::read(&base("denied"), &digest, t, &mut Budget::new("t")).await.unwrap_err();
    assert!(e.to_string().contains("unexpected status 401"), "{e}");
    assert!(e.to_string().starts_with(&format!("reading signature from http://{}/denied/ns/app@sha256=", server.addr)));

    // A server that accepts the connection and never answers: the timeout ends it.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut kept = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            kept.push(s);
        }
    });
    let started = std::time::Instant::now();
    let url = reqwest::Url::parse(&format!("http://{addr}/x")).unwrap();
    let e = lookaside::read(&url, &digest, Some(Duration::from_secs(1)), &mut Budget::new("t")).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    assert!(e.to_string().contains(&format!("reading signature from http://{addr}/x@sha256=")), "{e}");
    hold.abort();
}

#[test]
fn the_budget_bounds_count_and_bytes() {
    let mut b = Budget::new("x");
    for _ in 0..MAX_SIGNATURES {
        b.take(1).unwrap();
    }
    assert!(b.take(1).is_err());
    let mut b = Budget::new("x");
    b.take(MAX_SIGNATURES_TOTAL).unwrap();
    assert_eq!(b.take(1).unwrap_err().to_string(), "x: signatures of more than 16777216 bytes together");
}

#[test]
fn attachment_manifests_are_checked_before_any_layer_is_fetched() {
    use crate::image::media_type::OCI_MANIFEST;
    let layer = |size: u64| {
        serde_json::json!({"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
            "digest": Digest::sha256(b"p").to_string(), "size": size,
            "annotations": {"dev.cosignproject.cosign/signature": "x"}})
    };
    let manifest = |layers: Vec<serde_json::Value>| {
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": Digest::sha256(b"{}").to_string(), "size": 2},
            "layers": layers}))
        .unwrap()
    };
    let ok = attachments::parse_manifest("r:t", &manifest(vec![layer(1)]), OCI_MANIFEST).unwrap();
    assert_eq!(ok.len(), 1);
    let e = attachments::parse_manifest("r:t", &manifest(vec![layer(1); 129]), OCI_MANIFEST).unwrap_err();
    assert_eq!(
        e.to_string(),
        "sigstore attachment r:t: 129 layers, more than the 128 signatures allowed for one image"
    );
    let e = attachments::parse_manifest("r:t", &manifest(vec![layer(100 << 20)]), OCI_MANIFEST).unwrap_err();
    assert!(e.to_string().contains("is 104857600 bytes, more than the 4194304-byte limit for a signature"), "{e}");
    let e =
        attachments::parse_manifest("r:t", &manifest(vec![]), "application/vnd.docker.distribution.manifest.v2+json")
            .unwrap_err();
    assert!(e.to_string().contains("unexpected MIME type for sigstore attachment manifest"), "{e}");
    let e = attachments::parse_manifest("r:t", b"{", OCI_MANIFEST).unwrap_err();
    assert!(e.to_string().starts_with("sigstore attachment r:t: parsing manifest: "), "{e}");
    assert_eq!(attachments::tag(&Digest::sha256(b"m")).unwrap(), format!("sha256-{}.sig", Digest::sha256(b"m").hex()));
}

/// A registry that serves attachments badly: a payload that is not what its layer's digest says, a manifest
/// served with another media type, an error other than "unknown"; no tag at all is no signatures.
#[tokio::test]
async fn hostile_attachment_registries_are_refused() {
    use crate::image::media_type::OCI_MANIFEST;
    use crate::registry::{Endpoint, RegistryClient};
    let digest = Digest::sha256(b"m");
    let tag = attachments::tag(&digest).unwrap();
    let payload_digest = Digest::sha256(b"hello");
    let manifest = serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": Digest::sha256(b"{}").to_string(), "size": 2},
        "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", "digest": payload_digest.to_string(), "size": 5,
            "annotations": {"dev.cosignproject.cosign/signature": "x"}}]}))
    .unwrap();
    let (tag2, pd) = (tag.clone(), payload_digest.to_string());
    let server = Server::start("127.0.0.1", move |_| {
        move |req: &Req| {
            let p = req.path();
            if p == "/v2/" {
                Resp::new(200).json("{}")
            } else if p == format!("/v2/bad/manifests/{tag2}") || p == format!("/v2/good/manifests/{tag2}") {
                Resp::new(200).header("Content-Type", OCI_MANIFEST).body(manifest.clone())
            } else if p == format!("/v2/docker/manifests/{tag2}") {
                Resp::new(200)
                    .header("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")
                    .body(manifest.clone())
            } else if p == format!("/v2/bad/blobs/{pd}") {
                Resp::new(200).body(b"HELLO".to_vec())
            } else if p == format!("/v2/good/blobs/{pd}") {
                Resp::new(200).body(b"hello".to_vec())
            } else if p.starts_with("/v2/broken/") {
                Resp::new(400).json(r#"{"errors":[{"code":"DENIED","message":"no"}]}"#)
            } else {
                Resp::new(404).json(r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}"#)
            }
        }
    })
    .await;
    let client = RegistryClient::connect(&Endpoint::for_test_server(&server.addr), None, crate::observe::silent())
        .await
        .unwrap();
    let got = attachments::read(&client, "good", &digest, &mut Budget::new("t")).await.unwrap();
    assert_eq!(got.len(), 1);
    assert!(matches!(&got[0], Signature::Sigstore { payload, .. } if payload == b"hello"));
    assert!(attachments::read(&client, "none", &digest, &mut Budget::new("t")).await.unwrap().is_empty());
    let e = attachments::read(&client, "bad", &digest, &mut Budget::new("t")).await.unwrap_err();
    assert!(e.to_string().starts_with(&format!("sigstore attachment bad:{tag}: blob {payload_digest}: ")), "{e}");
    let e = attachments::read(&client, "docker", &digest, &mut Budget::new("t")).await.unwrap_err();
    assert!(e.to_string().contains("unexpected MIME type"), "{e}");
    let e = attachments::read(&client, "broken", &digest, &mut Budget::new("t")).await.unwrap_err();
    assert!(e.to_string().ends_with(": denied: no"), "{e}");
}
