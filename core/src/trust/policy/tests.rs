//! Unit tests of the policy: every requirement type and identity rule, scope precedence, invalid files
//! (each error naming the file and the entry), key files (missing, FIFO, too large), evaluation and its
//! refusal text, `trust set`'s edits.

use super::*;
use crate::trust::PolicyName;

fn parse(json: &str) -> Result<Policy, PolicyError> {
    Policy::from_bytes(json.as_bytes(), Path::new("/etc/containers/policy.json"))
}

fn invalid(json: &str) -> String {
    match parse(json) {
        Err(e @ PolicyError::Invalid { .. }) => e.to_string(),
        other => panic!("expected an invalid policy, got {other:?} for {json}"),
    }
}

fn docker(r: &str) -> PolicyName {
    docker_policy_name(&Reference::parse_normalized(r).unwrap().with_default_tag())
}

fn manifest() -> RawManifest {
    RawManifest::new(br#"{"schemaVersion":2}"#.to_vec(), "application/vnd.oci.image.manifest.v1+json")
}

const ACCEPT: &str = r#"[{"type":"insecureAcceptAnything"}]"#;

#[test]
fn every_requirement_type_parses() {
    let p = parse(
        r#"{"default":[{"type":"reject"}],"transports":{"docker":{
            "a.io/x":[{"type":"insecureAcceptAnything"}],
            "a.io/gpg":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k.gpg"}],
            "a.io/gpgs":[{"type":"signedBy","keyType":"GPGKeys","keyPaths":["/a","/b"],"signedIdentity":{"type":"matchRepository"}}],
            "a.io/gpgd":[{"type":"signedBy","keyType":"GPGKeys","keyData":"aGVsbG8="}],
            "a.io/base":[{"type":"signedBaseLayer","baseLayerIdentity":{"type":"exactRepository","dockerRepository":"a.io/b"}}],
            "a.io/sig":[{"type":"sigstoreSigned","keyPath":"/k.pub"}],
            "a.io/sigd":[{"type":"sigstoreSigned","keyDatas":["aGVsbG8="],"signedIdentity":{"type":"matchExact"}}],
            "a.io/ful":[{"type":"sigstoreSigned","fulcio":{"caPath":"/ca","oidcIssuer":"https://i","subjectEmail":"a@b"},"rekorPublicKeyPath":"/r"}]
        }}}"#,
    )
    .unwrap();
    assert_eq!(p.default, vec![Requirement::Reject]);
    let d = &p.transports["docker"];
    assert_eq!(d["a.io/x"], vec![Requirement::InsecureAcceptAnything]);
    assert_eq!(
        d["a.io/gpg"],
        vec![Requirement::SignedBy {
            key_type: KeyType::GpgKeys,
            keys: KeySource::Path("/k.gpg".into()),
            signed_identity: IdentityRule::MatchRepoDigestOrExact,
        }]
    );
    assert!(
        matches!(&d["a.io/gpgs"][0], Requirement::SignedBy { keys: KeySource::Paths(p), signed_identity: IdentityRule::MatchRepository, .. } if p.len() == 2)
    );
    assert!(matches!(&d["a.io/gpgd"][0], Requirement::SignedBy { keys: KeySource::Data(d), .. } if d == b"hello"));
    assert!(matches!(&d["a.io/base"][0], Requirement::SignedBaseLayer { .. }));
    assert!(matches!(
        &d["a.io/sig"][0],
        Requirement::SigstoreSigned { keys: Some(KeySource::Path(_)), unsupported: None, .. }
    ));
    assert!(matches!(
        &d["a.io/sigd"][0],
        Requirement::SigstoreSigned { keys: Some(KeySource::Datas(_)), signed_identity: IdentityRule::MatchExact, .. }
    ));
    assert!(matches!(&d["a.io/ful"][0], Requirement::SigstoreSigned { keys: None, unsupported: Some(_), .. }));
}

#[test]
fn every_signed_identity_form_parses() {
    let with = |si: &str| {
        parse(&format!(
            r#"{{"default":[{{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k","signedIdentity":{si}}}]}}"#
        ))
    };
    let rule = |si: &str| match &with(si).unwrap().default[0] {
        Requirement::SignedBy { signed_identity, .. } => signed_identity.clone(),
        _ => unreachable!(),
    };
    assert_eq!(rule(r#"{"type":"matchExact"}"#), IdentityRule::MatchExact);
    assert_eq!(rule(r#"{"type":"matchRepoDigestOrExact"}"#), IdentityRule::MatchRepoDigestOrExact);
    assert_eq!(rule(r#"{"type":"matchRepository"}"#), IdentityRule::MatchRepository);
    assert_eq!(
        rule(r#"{"type":"exactReference","dockerReference":"busybox:1"}"#),
        IdentityRule::ExactReference("busybox:1".into())
    );
    assert_eq!(
        rule(r#"{"type":"exactRepository","dockerRepository":"quay.io/a/b"}"#),
        IdentityRule::ExactRepository("quay.io/a/b".into())
    );
    assert_eq!(
        rule(r#"{"type":"remapIdentity","prefix":"mirror.io/x","signedPrefix":"quay.io"}"#),
        IdentityRule::RemapIdentity { prefix: "mirror.io/x".into(), signed_prefix: "quay.io".into() }
    );
    for (si, why) in [
        (r#"{"type":"matchSomething"}"#, "Unknown policy reference match type \"matchSomething\""),
        (r#"{"type":"matchExact","extra":1}"#, "Unknown key \"extra\""),
        (r#"{"type":"exactReference"}"#, "Key \"dockerReference\" missing"),
        (r#"{"type":"exactReference","dockerReference":"busybox"}"#, "contains neither a tag nor digest"),
        (r#"{"type":"exactReference","dockerReference":"UPPER:1"}"#, "Invalid format of dockerReference"),
        (r#"{"type":"exactRepository","dockerRepository":"a b"}"#, "Invalid format of dockerRepository"),
        (
            r#"{"type":"remapIdentity","prefix":"not a prefix","signedPrefix":"quay.io"}"#,
            "prefix \"not a prefix\" is not valid",
        ),
        (r#"{"type":"remapIdentity","prefix":"quay.io"}"#, "Key \"signedPrefix\" missing"),
        (r#""matchExact""#, "JSON object expected"),
    ] {
        let e = with(si).unwrap_err().to_string();
        assert!(e.contains(why), "{si}: {e}");
        assert!(e.contains("default[0]"), "{e}");
    }
}

#[test]
fn invalid_policies_name_the_file_and_the_entry() {
    for (json, entry, why) in [
        ("{", "top level", "EOF"),
        (r#"{"default":[]}"#, "default", "must not be empty"),
        (r#"{}"#, "top level", "Default policy is missing"),
        (r#"{"default":[{"type":"reject"}],"default":[{"type":"reject"}]}"#, "top level", "Duplicate key \"default\""),
        (r#"{"default":[{"type":"reject"}],"extra":1}"#, "top level", "Unknown key \"extra\""),
        (r#"{"default":[{"type":"accept"}]}"#, "default[0]", "Unknown policy requirement type \"accept\""),
        (r#"{"default":[{"type":"reject","x":1}]}"#, "default[0]", "Unknown key \"x\""),
        (r#"{"default":[{}]}"#, "default[0]", "Unknown policy requirement type \"\""),
        (r#"{"default":[{"type":7}]}"#, "default[0]", "\"type\" must be a string"),
        (r#"{"default":{"type":"reject"}}"#, "default", "a list of requirements expected"),
        (
            r#"{"default":[{"type":"reject"}],"transports":{"docker":{"q.io":[]}}}"#,
            "transports.docker[\"q.io\"]",
            "must not be empty",
        ),
        (
            r#"{"default":[{"type":"reject"}],"transports":{"docker":{"q.io":[{"type":"reject"},{"type":"bogus"}]}}}"#,
            "transports.docker[\"q.io\"][1]",
            "Unknown policy requirement type \"bogus\"",
        ),
        (r#"{"default":[{"type":"signedBy","keyType":"GPGKeys"}]}"#, "default[0]", "none of them present"),
        (
            r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/a","keyData":"aGk="}]}"#,
            "default[0]",
            "more than one present",
        ),
        (r#"{"default":[{"type":"signedBy","keyPath":"/a"}]}"#, "default[0]", "invalid keyType \"\""),
        (
            r#"{"default":[{"type":"signedBy","keyType":"PGP","keyPath":"/a"}]}"#,
            "default[0]",
            "Unrecognized keyType value \"PGP\"",
        ),
        (
            r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":""}]}"#,
            "default[0]",
            "exactly one of keyPath",
        ),
        (r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyData":"!!"}]}"#, "default[0]", "not valid base64"),
        (r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPaths":"/a"}]}"#, "default[0]", "array of strings"),
        (
            r#"{"default":[{"type":"sigstoreSigned"}]}"#,
            "default[0]",
            "exactly one of keyPath, keyPaths, keyData, keyDatas, fulcio, and pki",
        ),
        (
            r#"{"default":[{"type":"sigstoreSigned","keyType":"GPGKeys","keyPath":"/a"}]}"#,
            "default[0]",
            "Unknown key \"keyType\"",
        ),
        (r#"{"default":[{"type":"sigstoreSigned","keyPaths":[]}]}"#, "default[0]", "\"keyPaths\" contains no entries"),
        (
            r#"{"default":[{"type":"sigstoreSigned","fulcio":{"caPath":"/ca","oidcIssuer":"i","subjectEmail":"e"}}]}"#,
            "default[0]",
            "must be specified if fulcio is used",
        ),
        (
            r#"{"default":[{"type":"sigstoreSigned","fulcio":{"caPath":"/ca","oidcIssuer":"i"},"rekorPublicKeyPath":"/r"}]}"#,
            "default[0]",
            "subjectEmail not specified",
        ),
        (
            r#"{"default":[{"type":"sigstoreSigned","keyPath":"/a","rekorPublicKeyPath":"/r","rekorPublicKeyData":"aGk="}]}"#,
            "default[0]",
            "at most one of rekorPublickeyPath",
        ),
        (r#"{"default":[{"type":"signedBaseLayer"}]}"#, "default[0]", "Key \"baseLayerIdentity\" missing"),
        (
            r#"{"default":[{"type":"reject"}],"transports":{"dir":{"rel/path":[{"type":"reject"}]}}}"#,
            "transports.dir[\"rel/path\"]",
            "Must be an absolute path",
        ),
        (
            r#"{"default":[{"type":"reject"}],"transports":{"dir":{"/":[{"type":"reject"}]}}}"#,
            "transports.dir[\"/\"]",
            "Use the generic default scope",
        ),
        (
            r#"{"default":[{"type":"reject"}],"transports":{"oci":{"/a/../b":[{"type":"reject"}]}}}"#,
            "transports.oci[\"/a/../b\"]",
            "perhaps try /b",
        ),
        (
            r#"{"default":[{"type":"reject"}],"transports":{"docker-archive":{"/a.tar":[{"type":"reject"}]}}}"#,
            "transports.docker-archive[\"/a.tar\"]",
            "does not support any scopes except the default",
        ),
        (r#"{"default":[{"type":"reject"}],"transports":{"docker":[]}}"#, "transports.docker", "JSON object expected"),
    ] {
        let e = invalid(json);
        assert!(e.starts_with("invalid policy in \"/etc/containers/policy.json\": "), "{e}");
        assert!(e.contains(&format!(": {entry}: ")), "{json}: {e}");
        assert!(e.contains(why), "{json}: {e}");
    }
}

#[test]
fn docker_scopes_are_most_specific_first() {
    let n = docker("registry.example.com:5000/ns/sub/app:1");
    assert_eq!(n.identity, "registry.example.com:5000/ns/sub/app:1");
    assert_eq!(
        n.namespaces,
        [
            "registry.example.com:5000/ns/sub/app",
            "registry.example.com:5000/ns/sub",
            "registry.example.com:5000/ns",
            "registry.example.com:5000",
            "*.example.com",
            "*.com",
        ]
    );
    let scopes = [
        "registry.example.com:5000/ns/sub/app:1",
        "registry.example.com:5000/ns/sub/app",
        "registry.example.com:5000/ns/sub",
        "registry.example.com:5000/ns",
        "registry.example.com:5000",
        "*.example.com",
        "*.com",
        "",
    ];
    // Remove scopes from the most specific on: each time the next one applies.
    for skip in 0..=scopes.len() {
        let entries: Vec<String> = scopes[skip..].iter().map(|s| format!("{s:?}:{ACCEPT}")).collect();
        let p = parse(&format!(
            r#"{{"default":[{{"type":"reject"}}],"transports":{{"docker":{{{}}}}}}}"#,
            entries.join(",")
        ))
        .unwrap();
        let (scope, reqs) = p.requirements_for(&n);
        if skip < scopes.len() {
            assert_eq!(scope, Some(scopes[skip]));
            assert_eq!(reqs, [Requirement::InsecureAcceptAnything]);
        } else {
            assert_eq!(scope, None);
            assert_eq!(reqs, [Requirement::Reject]);
        }
    }
    // Another transport's scopes never apply.
    let p = parse(&format!(r#"{{"default":[{{"type":"reject"}}],"transports":{{"oci":{{"":{ACCEPT}}}}}}}"#)).unwrap();
    assert_eq!(p.requirements_for(&n).0, None);
    // A digest reference is its identity.
    let d = docker("quay.io/a/b@sha256:0000000000000000000000000000000000000000000000000000000000000000");
    assert_eq!(d.identity, "quay.io/a/b@sha256:0000000000000000000000000000000000000000000000000000000000000000");
    assert_eq!(d.namespaces, ["quay.io/a/b", "quay.io/a", "quay.io", "*.io"]);
}

#[test]
fn path_scopes_apply_the_path_then_its_parents() {
    let n = PolicyName {
        transport: "oci",
        identity: "/srv/images/app".into(),
        namespaces: vec!["/srv/images".into(), "/srv".into()],
        docker_reference: None,
    };
    let p = parse(&format!(
        r#"{{"default":[{{"type":"insecureAcceptAnything"}}],"transports":{{"oci":{{"/srv":[{{"type":"reject"}}],"/srv/images/app":{ACCEPT}}}}}}}"#
    ))
    .unwrap();
    assert_eq!(p.requirements_for(&n).0, Some("/srv/images/app"));
    let other = PolicyName { identity: "/srv/other".into(), namespaces: vec!["/srv".into()], ..n.clone() };
    let e = p.evaluate(&other, &manifest(), &[]);
    assert!(!e.allowed);
    assert_eq!(
        e.into_result().unwrap_err().to_string(),
        format!(
            "Source image rejected: Running image oci:/srv/other is rejected by policy. (transport oci scope \"/srv\" of /etc/containers/policy.json)"
        )
    );
}

#[test]
fn reject_and_accept_and_all_requirements_must_hold() {
    let n = docker("quay.io/org/app:1");
    let accept = parse(&format!(r#"{{"default":{ACCEPT}}}"#)).unwrap();
    let e = accept.evaluate(&n, &manifest(), &[]);
    assert!(e.allowed && e.scope.is_none());
    e.into_result().unwrap();

    let reject = parse(r#"{"default":[{"type":"insecureAcceptAnything"}],"transports":{"docker":{"quay.io/org":[{"type":"insecureAcceptAnything"},{"type":"reject"}]}}}"#).unwrap();
    let e = reject.evaluate(&n, &manifest(), &[]);
    assert!(!e.allowed);
    assert!(e.requirements[0].allowed && !e.requirements[1].allowed);
    assert_eq!(e.requirements[1].entry, "transports.docker[\"quay.io/org\"][1]");
    assert_eq!(
        e.into_result().unwrap_err().to_string(),
        "Source image rejected: Running image docker://quay.io/org/app:1 is rejected by policy. (transport docker scope \"quay.io/org\" of /etc/containers/policy.json)"
    );
    assert!(!reject.needs_signatures(&n));
    assert!(Policy::insecure_accept_anything().evaluate(&n, &manifest(), &[]).allowed);
}

#[test]
fn signed_base_layer_and_unsupported_key_types_and_keyless_refuse() {
    let n = docker("quay.io/org/app:1");
    for (req, why) in [
        (
            r#"{"type":"signedBaseLayer","baseLayerIdentity":{"type":"matchRepository"}}"#,
            "signedBaseLayer not implemented yet!",
        ),
        (
            r#"{"type":"signedBy","keyType":"X509Certificates","keyPath":"/k"}"#,
            "Unimplemented \"keyType\" value \"X509Certificates\"",
        ),
        (
            r#"{"type":"sigstoreSigned","fulcio":{"caData":"aGk=","oidcIssuer":"i","subjectEmail":"e"},"rekorPublicKeyData":"aGk="}"#,
            "fulcio (keyless signing with Rekor) is not supported yet",
        ),
        (
            r#"{"type":"sigstoreSigned","pki":{"caRootsData":"aGk=","subjectEmail":"e"}}"#,
            "pki (X.509 certificates) is not supported yet",
        ),
    ] {
        let p = parse(&format!(r#"{{"default":[{req}]}}"#)).unwrap();
        let e = p.evaluate(&n, &manifest(), &[]);
        assert!(!e.allowed, "{req}");
        let msg = e.into_result().unwrap_err().to_string();
        assert!(msg.starts_with("Source image rejected: ") && msg.contains(why), "{msg}");
    }
}

#[test]
fn signature_requirements_without_signatures_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    std::fs::write(&key, b"key").unwrap();
    let n = docker("quay.io/org/app:1");
    for req in [
        format!(r#"{{"type":"signedBy","keyType":"GPGKeys","keyPath":{:?}}}"#, key.to_str().unwrap()),
        format!(r#"{{"type":"sigstoreSigned","keyPath":{:?}}}"#, key.to_str().unwrap()),
    ] {
        let p = parse(&format!(r#"{{"default":[{req}]}}"#)).unwrap();
        assert!(p.needs_signatures(&n));
        let e = p.evaluate(&n, &manifest(), &[]);
        assert!(!e.allowed);
        assert_eq!(
            e.into_result().unwrap_err().to_string(),
            "Source image rejected: A signature was required, but no signature exists (the policy's default of /etc/containers/policy.json)"
        );
    }
    // A sigstore requirement sees a simple signature as not its kind, and says how many it skipped.
    let p = parse(&format!(r#"{{"default":[{{"type":"sigstoreSigned","keyPath":{:?}}}]}}"#, key.to_str().unwrap()))
        .unwrap();
    let e = p.evaluate(&n, &manifest(), &[Signature::SimpleSigning(b"x".to_vec())]);
    assert!(matches!(e.requirements[0].signatures[0].verdict, SignatureVerdict::Skipped(_)));
    assert!(
        e.into_result()
            .unwrap_err()
            .to_string()
            .contains("(1 non-sigstore signatures, 0 sigstore non-signature attachments)")
    );
}

#[test]
fn key_files_missing_fifo_or_huge_refuse_naming_key_policy_and_entry() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo on a NUL-terminated path in our temp dir.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let huge = dir.path().join("huge");
    std::fs::write(&huge, vec![b'k'; KEY_FILE_LIMIT as usize + 1]).unwrap();
    let missing = dir.path().join("missing");
    let n = docker("quay.io/org/app:1");
    let sigs = [Signature::SimpleSigning(b"not verified".to_vec())];
    for (key, why) in [(&fifo, "not a regular file"), (&huge, "larger than"), (&missing, "No such file")] {
        let json = format!(
            r#"{{"default":[{{"type":"reject"}}],"transports":{{"docker":{{"quay.io":[{{"type":"signedBy","keyType":"GPGKeys","keyPath":{:?}}}]}}}}}}"#,
            key.to_str().unwrap()
        );
        let p = parse(&json).unwrap();
        let start = std::time::Instant::now();
        let e = p.evaluate(&n, &manifest(), &sigs);
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
        let msg = e.into_result().unwrap_err().to_string();
        assert!(msg.contains(&format!("reading key file {}: {why}", key.display())), "{msg}");
        assert!(
            msg.contains("signedBy requirement transports.docker[\"quay.io\"][0] in /etc/containers/policy.json"),
            "{msg}"
        );
        // With no signature to check, no key is read (containers/image's order): the refusal says so.
        let msg = p.evaluate(&n, &manifest(), &[]).into_result().unwrap_err().to_string();
        assert!(msg.contains("A signature was required, but no signature exists"), "{msg}");
    }
}

#[test]
fn identity_rules_as_containers_image() {
    let r = |s: &str| Reference::parse_normalized(s).unwrap();
    let tagged = r("quay.io/org/app:1");
    let digest = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    let by_digest = r(&format!("quay.io/org/app@{digest}"));
    use IdentityRule::*;
    let cases: &[(IdentityRule, Option<&Reference>, &str, bool)] = &[
        (MatchExact, Some(&tagged), "quay.io/org/app:1", true),
        (MatchExact, Some(&tagged), "quay.io/org/app:2", false),
        (MatchExact, Some(&tagged), "quay.io/org/app", false),
        (MatchExact, Some(&by_digest), &format!("quay.io/org/app@{digest}"), true),
        (MatchExact, Some(&by_digest), "quay.io/org/app:1", false),
        (MatchRepoDigestOrExact, Some(&tagged), "quay.io/org/app:1", true),
        (MatchRepoDigestOrExact, Some(&tagged), "quay.io/org/app:2", false),
        (MatchRepoDigestOrExact, Some(&by_digest), "quay.io/org/app:anything", true),
        (MatchRepoDigestOrExact, Some(&by_digest), "quay.io/org/other:1", false),
        (MatchRepoDigestOrExact, Some(&by_digest), "quay.io/org/app", false),
        (MatchRepository, Some(&tagged), "quay.io/org/app:9", true),
        (MatchRepository, Some(&tagged), "quay.io/org/app", true),
        (MatchRepository, Some(&tagged), "quay.io/org/other:1", false),
        (MatchRepository, None, "quay.io/org/app:1", false),
        (ExactReference("quay.io/org/app:1".into()), None, "quay.io/org/app:1", true),
        (ExactReference("quay.io/org/app:1".into()), Some(&tagged), "quay.io/org/app:2", false),
        (ExactRepository("quay.io/org/app".into()), None, "quay.io/org/app:7", true),
        (ExactRepository("quay.io/org/app".into()), Some(&tagged), "quay.io/org/other:1", false),
        (ExactRepository("busybox".into()), None, "docker.io/library/busybox:1", true),
        (MatchRepoDigestOrExact, Some(&r("busybox:latest")), "docker.io/library/busybox:latest", true),
        (MatchRepoDigestOrExact, Some(&tagged), "not a reference", false),
    ];
    for (rule, image, signed, want) in cases {
        assert_eq!(rule.matches(*image, signed), *want, "{rule} image {image:?} signed {signed}");
    }
    let remap = IdentityRule::remap_identity("mirror.local/quay", "quay.io").unwrap();
    assert!(remap.matches(Some(&r("mirror.local/quay/org/app:1")), "quay.io/org/app:1"));
    assert!(!remap.matches(Some(&r("mirror.local/quay/org/app:1")), "mirror.local/quay/org/app:1"));
    assert!(!remap.matches(Some(&r("mirror.local/quayx/org/app:1")), "quay.io/org/app:1"));
    // Not under the prefix: matched as matchRepoDigestOrExact unchanged.
    assert!(remap.matches(Some(&r("other.io/org/app:1")), "other.io/org/app:1"));
    assert!(IdentityRule::remap_identity("localhost:5000", "quay.io/org").is_ok());
    assert!(IdentityRule::remap_identity("quay.io/org:tag", "quay.io").is_err());
}

#[test]
fn verified_claims_are_checked_digest_first_then_identity() {
    let n = docker("quay.io/org/app:1");
    let m = manifest();
    let rule = IdentityRule::MatchRepoDigestOrExact;
    assert_eq!(check_claims(&rule, &n, &m, &m.digest, "quay.io/org/app:1"), Ok(()));
    let other = Digest::sha256(b"another manifest");
    assert_eq!(
        check_claims(&rule, &n, &m, &other, "quay.io/org/app:1"),
        Err(format!("Signature for digest {other} does not match"))
    );
    assert_eq!(
        check_claims(&rule, &n, &m, &m.digest, "quay.io/evil/app:1"),
        Err("Signature for identity \"quay.io/evil/app:1\" is not accepted".to_owned())
    );
    // Digest first: both wrong names the digest.
    assert!(check_claims(&rule, &n, &m, &other, "quay.io/evil/app:1").unwrap_err().contains("digest"));
    // A sha512 claim is checked with sha512.
    let mut h = crate::digest::Hasher::for_digest(&Digest::parse(&format!("sha512:{}", "0".repeat(128))).unwrap());
    h.update(&m.raw);
    assert_eq!(check_claims(&rule, &n, &m, &h.finish(), "quay.io/org/app:1"), Ok(()));
}

#[test]
fn default_path_prefers_the_users_file_then_the_systems() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let system = dir.path().join("system.json");
    let e = Policy::default_path(Some(&home), &system).unwrap_err().to_string();
    assert!(e.starts_with("no policy.json file found at any of the following:") && e.contains("system.json"), "{e}");
    std::fs::write(&system, format!(r#"{{"default":{ACCEPT}}}"#)).unwrap();
    assert_eq!(Policy::default_path(Some(&home), &system).unwrap(), system);
    let user = home.join(USER_POLICY_PATH);
    std::fs::create_dir_all(user.parent().unwrap()).unwrap();
    std::fs::write(&user, r#"{"default":[{"type":"reject"}]}"#).unwrap();
    assert_eq!(Policy::default_path(Some(&home), &system).unwrap(), user);
    assert_eq!(Policy::load(Some(&user)).unwrap().default, [Requirement::Reject]);
}

#[test]
fn policy_file_that_is_a_fifo_or_huge_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("policy.json");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo on a NUL-terminated path in our temp dir.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let e = Policy::load(Some(&fifo)).unwrap_err().to_string();
    assert!(e.contains("not a regular file") && e.contains("policy.json"), "{e}");
    let huge = dir.path().join("huge.json");
    std::fs::write(&huge, vec![b' '; POLICY_FILE_LIMIT as usize + 1]).unwrap();
    assert!(Policy::load(Some(&huge)).unwrap_err().to_string().contains("larger than"));
}

#[test]
fn trust_set_edits_as_podman_and_keeps_the_policy_valid() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.json");
    // A scope before a default is refused, nothing written.
    let e = set_entry(&path, "quay.io/org", SetType::Reject, &[]).unwrap_err();
    assert_eq!(e.to_string(), "default trust policy must be set");
    assert!(!path.exists());
    set_entry(&path, "default", SetType::Accept, &[]).unwrap();
    set_entry(&path, "quay.io/org", SetType::SignedBy, &["/k1.gpg".into(), "/k2.gpg".into()]).unwrap();
    set_entry(&path, "ex.com", SetType::SigstoreSigned, &["/k.pub".into()]).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("{\n    \"default\": [\n        {\n            \"type\": \"insecureAcceptAnything\""),
        "{text}"
    );
    let p = Policy::load(Some(&path)).unwrap();
    assert_eq!(p.default, [Requirement::InsecureAcceptAnything]);
    assert_eq!(p.transports["docker"]["quay.io/org"].len(), 2);
    assert!(matches!(
        &p.transports["docker"]["ex.com"][0],
        Requirement::SigstoreSigned { keys: Some(KeySource::Path(_)), .. }
    ));
    // Replacing a scope keeps the others.
    set_entry(&path, "quay.io/org", SetType::Reject, &[]).unwrap();
    let p = Policy::load(Some(&path)).unwrap();
    assert_eq!(p.transports["docker"]["quay.io/org"], [Requirement::Reject]);
    assert_eq!(p.transports["docker"].len(), 2);
    // Keys where none belong, none where they must.
    assert!(set_entry(&path, "a.io", SetType::Accept, &["/k".into()]).is_err());
    assert!(set_entry(&path, "a.io", SetType::SignedBy, &[]).is_err());
    // An invalid existing file is refused and left alone.
    std::fs::write(&path, r#"{"default":[{"type":"bogus"}]}"#).unwrap();
    assert!(set_entry(&path, "default", SetType::Reject, &[]).unwrap_err().to_string().contains("bogus"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), r#"{"default":[{"type":"bogus"}]}"#);
}

#[test]
fn show_rows_are_podmans() {
    let p = parse(
        r#"{"default":[{"type":"insecureAcceptAnything"}],"transports":{"docker":{"quay.io/org":[{"type":"signedBy","keyType":"GPGKeys","keyData":"aGk="}],"reg.example.com":[{"type":"reject"}],"ex.com/a":[{"type":"sigstoreSigned","keyData":"aGk="}]},"docker-daemon":{"":[{"type":"insecureAcceptAnything"}]}}}"#,
    )
    .unwrap();
    let rows = p.show_rows(
        &|k| match k {
            KeySource::Data(d) => vec![format!("id-of-{}", String::from_utf8_lossy(d))],
            _ => Vec::new(),
        },
        &|_| String::new(),
    );
    let table = show_table(&rows, true);
    assert_eq!(
        table,
        "TRANSPORT      NAME             TYPE            ID          STORE\n\
         all            default          accept                      \n\
         repository     ex.com/a         sigstoreSigned  N/A         \n\
         repository     quay.io/org      signed          id-of-hi    \n\
         repository     reg.example.com  reject                      \n\
         docker-daemon                   accept                      \n"
    );
    let json = serde_json::to_value(&rows).unwrap();
    assert_eq!(
        json[0],
        serde_json::json!({"transport":"all","name":"* (default)","repo_name":"default","type":"accept"})
    );
    assert_eq!(json[4], serde_json::json!({"transport":"docker-daemon","type":"accept"}));
    assert_eq!(json[1]["gpg_id"], "N/A");
}

#[test]
fn each_signature_gets_a_verdict_and_the_refusal_sums_them_up() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    std::fs::write(&key, b"key").unwrap();
    let n = docker("quay.io/org/app:1");
    let sigstore = |media_type: &str| Signature::Sigstore {
        media_type: media_type.into(),
        payload: b"{}".to_vec(),
        annotations: Default::default(),
    };
    let p = parse(&format!(
        r#"{{"default":[{{"type":"signedBy","keyType":"GPGKeys","keyPath":{:?}}}]}}"#,
        key.to_str().unwrap()
    ))
    .unwrap();
    // Two unverifiable simple signatures and a sigstore one: two refusals, one not considered.
    let sigs = [
        Signature::SimpleSigning(b"garbage one".to_vec()),
        sigstore(crate::trust::sigstore::PAYLOAD_MEDIA_TYPE),
        Signature::SimpleSigning(b"garbage two".to_vec()),
    ];
    let e = p.evaluate(&n, &manifest(), &sigs);
    let verdicts: Vec<_> = e.requirements[0].signatures.iter().map(|s| (s.index, s.format, &s.verdict)).collect();
    assert_eq!(verdicts.len(), 3);
    assert!(matches!(verdicts[0], (0, "simple signing", SignatureVerdict::Refused(_))));
    assert!(matches!(verdicts[1], (1, "sigstore", SignatureVerdict::Skipped(_))));
    assert!(matches!(verdicts[2], (2, "simple signing", SignatureVerdict::Refused(_))));
    let msg = e.into_result().unwrap_err().to_string();
    assert!(msg.starts_with("Source image rejected: None of the signatures were accepted, reasons: "), "{msg}");

    // sigstoreSigned: an attachment that is not a signature is counted, not verified.
    let p = parse(&format!(r#"{{"default":[{{"type":"sigstoreSigned","keyPath":{:?}}}]}}"#, key.to_str().unwrap()))
        .unwrap();
    let e =
        p.evaluate(&n, &manifest(), &[sigstore("application/vnd.example.sbom+json"), Signature::SimpleSigning(vec![])]);
    assert!(e.requirements[0].signatures.iter().all(|s| matches!(s.verdict, SignatureVerdict::Skipped(_))));
    assert!(
        e.into_result()
            .unwrap_err()
            .to_string()
            .contains("(1 non-sigstore signatures, 1 sigstore non-signature attachments)")
    );
    // One signature that fails: its reason is the refusal.
    let e = p.evaluate(&n, &manifest(), &[sigstore(crate::trust::sigstore::PAYLOAD_MEDIA_TYPE)]);
    let SignatureVerdict::Refused(why) = &e.requirements[0].signatures[0].verdict else { panic!() };
    assert_eq!(e.requirements[0].reason.as_deref(), Some(why.as_str()));
}

#[test]
fn key_data_is_gos_base64_for_bytes() {
    let p = parse(r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyData":"aG\nVs\r\nbG8="}]}"#).unwrap();
    assert!(matches!(&p.default[0], Requirement::SignedBy { keys: KeySource::Data(d), .. } if d == b"hello"));
    // Unpadded is refused, as Go's StdEncoding does.
    assert!(
        invalid(r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyData":"aGk"}]}"#)
            .contains("not valid base64")
    );
}

#[test]
fn too_many_signatures_refuse_without_verifying_any() {
    let n = docker("quay.io/org/app:1");
    let p = parse(r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/nonexistent/k"}]}"#).unwrap();
    let sigs = vec![Signature::SimpleSigning(b"x".to_vec()); MAX_SIGNATURES + 1];
    let e = p.evaluate(&n, &manifest(), &sigs);
    assert!(e.requirements[0].signatures.is_empty());
    let msg = e.into_result().unwrap_err().to_string();
    assert!(
        msg.contains(&format!("the image has {} signatures; at most {MAX_SIGNATURES} are checked", MAX_SIGNATURES + 1)),
        "{msg}"
    );
    // An accept-anything policy does not care how many there are.
    assert!(Policy::insecure_accept_anything().evaluate(&n, &manifest(), &sigs).allowed);
}
