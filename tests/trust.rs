//! `hoist trust`: `set` writes what podman's `image trust set` writes and `podman image trust show` reads it
//! back; `show` prints podman's table and JSON; `check` explains the policy's decision for an image and exits
//! 1 when it refuses; invalid policies are one line naming the file and the entry.

use harness::hoist::HoistWorld;
use harness::image::write_oci_layout;
use harness::podman::Containers;

fn world() -> HoistWorld {
    HoistWorld::new("unqualified-search-registries = []\n")
}

fn s(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn trust_set_is_read_back_by_podman_and_matches_podmans_own_file() {
    let w = world();
    let c = Containers::new(&[]);
    let ours = w.path("ours.json");
    let theirs = c.path("theirs.json");
    let steps: [&[&str]; 5] = [
        &["-t", "accept", "default"],
        &["-t", "signedBy", "-f", "/keys/a.gpg", "-f", "/keys/b.gpg", "quay.io/org"],
        &["-t", "reject", "registry.example.com:5000"],
        &["-t", "sigstoreSigned", "-f", "/keys/c.pub", "ex.com/team/app"],
        &["-t", "reject", "quay.io/org"],
    ];
    for step in steps {
        let mut args = vec!["trust", "set", "--policypath", s(&ours)];
        args.extend_from_slice(step);
        let r = w.run(&args, b"", &vec![]);
        assert!(r.ok(), "hoist {args:?}: {}", r.err());
        let mut args = vec!["image", "trust", "set", "--policypath", s(&theirs)];
        args.extend_from_slice(step);
        c.podman(&args, b"").expect_ok("podman image trust set");
    }
    assert_eq!(std::fs::read_to_string(&ours).unwrap(), std::fs::read_to_string(&theirs).unwrap());
    let shown = c.podman(&["image", "trust", "show", "--policypath", s(&ours), "--json"], b"");
    assert!(shown.ok(), "{}", shown.err());
    let rows: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    let summary: Vec<(String, String, String)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["transport"].as_str().unwrap().into(),
                r["repo_name"].as_str().unwrap().into(),
                r["type"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want = [
        ("all", "default", "accept"),
        ("repository", "ex.com/team/app", "sigstoreSigned"),
        ("repository", "quay.io/org", "reject"),
        ("repository", "registry.example.com:5000", "reject"),
    ];
    assert_eq!(summary, want.map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned())));
}

#[test]
fn trust_show_prints_podmans_table_and_json() {
    let w = world();
    let c = Containers::new(&[]);
    let policy = w.path("policy.json");
    std::fs::write(
        &policy,
        r#"{"default":[{"type":"reject"}],"transports":{"docker":{"quay.io/org":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/nonexistent/k.gpg"}],"ex.com/a":[{"type":"sigstoreSigned","keyPath":"/k.pub"},{"type":"insecureAcceptAnything"}]},"docker-daemon":{"":[{"type":"insecureAcceptAnything"}]},"oci":{"/srv/images":[{"type":"reject"}]}}}"#,
    )
    .unwrap();
    for extra in [&[][..], &["--json"][..], &["--noheading"][..]] {
        let mut ours = vec!["trust", "show", "--policypath", s(&policy)];
        ours.extend_from_slice(extra);
        let mine = w.run(&ours, b"", &vec![]);
        assert!(mine.ok(), "{}", mine.err());
        let mut theirs = vec!["image", "trust", "show", "--policypath", s(&policy)];
        theirs.extend_from_slice(extra);
        let podman = c.podman(&theirs, b"");
        assert!(podman.ok(), "{}", podman.err());
        assert_eq!(mine.out(), podman.out(), "hoist trust show {extra:?}");
    }
}

#[test]
fn trust_check_explains_and_exits_1_when_refused() {
    let w = world();
    let layout = w.path("layout");
    let digest = write_oci_layout(&layout, "v1", &[("hello", b"hello")]);
    let image = format!("oci:{}:v1", layout.display());
    let policy = w.path("policy.json");

    std::fs::write(&policy, r#"{"default":[{"type":"insecureAcceptAnything"}]}"#).unwrap();
    let r = w.run(&["trust", "check", "--signature-policy", s(&policy), &image], b"", &vec![]);
    assert_eq!(r.code, Some(0), "{}", r.err());
    assert!(r.out().contains(&digest), "{}", r.out());
    assert!(r.out().contains("Requirement 1: insecureAcceptAnything [default[0]]: allowed"), "{}", r.out());
    assert!(r.out().contains("Result:   allowed"), "{}", r.out());

    std::fs::write(&policy, r#"{"default":[{"type":"insecureAcceptAnything"},{"type":"reject"}]}"#).unwrap();
    let r = w.run(&["trust", "check", "--signature-policy", s(&policy), &image], b"", &vec![]);
    assert_eq!(r.code, Some(1), "{}", r.err());
    assert!(r.out().contains("Requirement 2: reject [default[1]]: refused"), "{}", r.out());
    assert!(
        r.err().contains("Source image rejected: Running image ") && r.err().contains("is rejected by policy."),
        "{}",
        r.err()
    );
    assert!(r.err().contains(&format!("of {}", policy.display())), "{}", r.err());
    let r = w.run(&["trust", "check", "--json", "--signature-policy", s(&policy), &image], b"", &vec![]);
    assert_eq!(r.code, Some(1), "{}", r.err());
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["evaluation"]["allowed"], false);
    assert_eq!(v["evaluation"]["manifest_digest"], digest.as_str());
    assert_eq!(v["evaluation"]["requirements"][1]["entry"], "default[1]");
    assert_eq!(v["evaluation"]["requirements"][1]["allowed"], false);

    // A signature requirement with no signatures: refused, saying so.
    let key = w.path("key.gpg");
    std::fs::write(&key, b"not a key").unwrap();
    std::fs::write(
        &policy,
        format!(r#"{{"default":[{{"type":"signedBy","keyType":"GPGKeys","keyPath":"{}"}}]}}"#, s(&key)),
    )
    .unwrap();
    let r = w.run(&["trust", "check", "--signature-policy", s(&policy), &image], b"", &vec![]);
    assert_eq!(r.code, Some(1), "{}", r.err());
    assert!(
        r.err().contains("Source image rejected: A signature was required, but no signature exists"),
        "{}",
        r.err()
    );
}

#[test]
fn invalid_policies_are_one_line_naming_file_and_entry() {
    let w = world();
    let policy = w.path("policy.json");
    let layout = w.path("layout");
    write_oci_layout(&layout, "v1", &[("hello", b"hello")]);
    let image = format!("oci:{}:v1", layout.display());
    for (json, entry, why) in [
        (r#"{"default":[{"type":"insecureAcceptAnything","extra":true}]}"#, "default[0]", "Unknown key \"extra\""),
        (r#"{"default":[{"type":"acceptAll"}]}"#, "default[0]", "Unknown policy requirement type \"acceptAll\""),
        (
            r#"{"default":[{"type":"reject"}],"transports":{"docker":{"quay.io":[]}}}"#,
            "transports.docker[\"quay.io\"]",
            "must not be empty",
        ),
        (r#"{"default":[{"type":"reject"}]"#, "top level", "EOF"),
    ] {
        std::fs::write(&policy, json).unwrap();
        for args in [
            vec!["trust", "show", "--policypath", s(&policy)],
            vec!["trust", "check", "--signature-policy", s(&policy), &image],
        ] {
            let r = w.run(&args, b"", &vec![]);
            assert_eq!(r.code, Some(125), "{args:?}");
            let err = r.err();
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(
                err.contains(&format!("invalid policy in {:?}: {entry}: ", s(&policy))) && err.contains(why),
                "{err}"
            );
            assert!(r.stdout.is_empty());
        }
    }
    // trust set leaves an invalid file alone.
    std::fs::write(&policy, r#"{"default":[{"type":"acceptAll"}]}"#).unwrap();
    let r = w.run(&["trust", "set", "--policypath", s(&policy), "-t", "reject", "default"], b"", &vec![]);
    assert_eq!(r.code, Some(125));
    assert_eq!(std::fs::read_to_string(&policy).unwrap(), r#"{"default":[{"type":"acceptAll"}]}"#);
}

#[test]
fn trust_show_lists_gpg_key_user_ids_as_podman_does() {
    let gpg = harness::require("gpg", "gnupg");
    let w = world();
    let c = Containers::new(&[]);
    let home = w.path("gnupg");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let key = w.path("signer.asc");
    let mut generate = std::process::Command::new(&gpg);
    generate.env("GNUPGHOME", &home).args([
        "--batch",
        "--passphrase",
        "",
        "--quick-gen-key",
        "CI Signer <ci@example.com>",
        "ed25519",
        "sign",
        "never",
    ]);
    assert!(harness::run(&mut generate, b"").ok());
    let mut export = std::process::Command::new(&gpg);
    export.env("GNUPGHOME", &home).args(["--armor", "--export"]);
    let exported = harness::run(&mut export, b"");
    assert!(exported.ok() && exported.stdout.starts_with(b"-----BEGIN PGP PUBLIC KEY BLOCK-----"));
    std::fs::write(&key, &exported.stdout).unwrap();
    // The key generation started an agent in the temp home: stop it.
    let mut kill = std::process::Command::new("gpgconf");
    kill.env("GNUPGHOME", &home).args(["--kill", "gpg-agent"]);
    harness::run(&mut kill, b"");
    let policy = w.path("policy.json");
    std::fs::write(
        &policy,
        format!(
            r#"{{"default":[{{"type":"reject"}}],"transports":{{"docker":{{"quay.io/org":[{{"type":"signedBy","keyType":"GPGKeys","keyPath":{:?}}}]}}}}}}"#,
            s(&key)
        ),
    )
    .unwrap();
    let mine = w.run(&["trust", "show", "--policypath", s(&policy)], b"", &vec![]);
    assert!(mine.ok(), "{}", mine.err());
    assert!(mine.out().contains("repository  quay.io/org  signed      ci@example.com  "), "{}", mine.out());
    // podman asks `gpg2`, which Debian does not ship: give it one that is gpg.
    let bin = w.path("gpg2-bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(&gpg, bin.join("gpg2")).unwrap();
    let mut podman = c.command("podman");
    let path = std::env::join_paths(
        std::iter::once(bin).chain(std::env::split_paths(&harness::process::path_with_our_bins())),
    );
    podman.env("PATH", path.unwrap()).args(["image", "trust", "show", "--policypath", s(&policy)]);
    let theirs = harness::run(&mut podman, b"");
    assert!(theirs.ok(), "{}", theirs.err());
    assert_eq!(mine.out(), theirs.out());
}

#[test]
fn trust_set_and_show_without_policypath_use_the_users_policy() {
    let w = world();
    // The per-user file exists, so it is the one read and edited: the machine's /etc/containers/policy.json
    // is never touched by this test.
    let user = w.path("home/.config/containers/policy.json");
    std::fs::create_dir_all(user.parent().unwrap()).unwrap();
    std::fs::write(&user, r#"{"default":[{"type":"insecureAcceptAnything"}]}"#).unwrap();
    let r = w.run(&["trust", "set", "-t", "reject", "default"], b"", &vec![]);
    assert!(r.ok(), "{}", r.err());
    assert_eq!(
        std::fs::read_to_string(&user).unwrap(),
        "{\n    \"default\": [\n        {\n            \"type\": \"reject\"\n        }\n    ]\n}"
    );
    let r = w.run(&["trust", "show", "--json"], b"", &vec![]);
    assert!(r.ok(), "{}", r.err());
    let rows: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(
        rows,
        serde_json::json!([{"transport":"all","name":"* (default)","repo_name":"default","type":"reject"}])
    );
}

#[test]
fn trust_check_of_a_registry_image_applies_the_most_specific_docker_scope() {
    use harness::registry::{Options, Registry};
    let reg = Registry::start(Options::default());
    let host = reg.host();
    let w = HoistWorld::new(&format!(
        "unqualified-search-registries = []\n[[registry]]\nlocation = \"{host}\"\ninsecure = true\n"
    ));
    // Copies into the registry must not depend on the machine's policy.
    let user = w.path("home/.config/containers/policy.json");
    std::fs::create_dir_all(user.parent().unwrap()).unwrap();
    std::fs::write(&user, r#"{"default":[{"type":"insecureAcceptAnything"}]}"#).unwrap();
    let layout = w.path("layout");
    let digest = write_oci_layout(&layout, "v1", &[("hello", b"hello")]);
    let image = format!("{host}/team/app:v1");
    let r = w.run(&["copy", &format!("oci:{}:v1", layout.display()), &format!("docker://{image}")], b"", &vec![]);
    assert!(r.ok(), "{}", r.err());

    let policy = w.path("policy.json");
    let reject = r#"[{"type":"reject"}]"#;
    let accept = r#"[{"type":"insecureAcceptAnything"}]"#;
    let cases = [
        (vec![(host.clone(), reject), (format!("{host}/team/app"), accept)], format!("{host}/team/app"), 0),
        (vec![(host.clone(), accept), (format!("{host}/team"), reject)], format!("{host}/team"), 1),
        (vec![(format!("{host}/team/app:v1"), accept), (format!("{host}/team/app"), reject)], image.clone(), 0),
        (vec![("*.0.1".to_owned(), reject), ("*.1".to_owned(), accept)], "*.0.1".to_owned(), 1),
        (vec![(String::new(), reject), ("other.example.com".to_owned(), accept)], String::new(), 1),
    ];
    for (scopes, applied, code) in cases {
        let entries: Vec<String> = scopes.iter().map(|(s, r)| format!("{s:?}:{r}")).collect();
        std::fs::write(
            &policy,
            format!(r#"{{"default":{accept},"transports":{{"docker":{{{}}}}}}}"#, entries.join(",")),
        )
        .unwrap();
        let r = w.run(&["trust", "check", "--signature-policy", s(&policy), &image], b"", &vec![]);
        assert_eq!(r.code, Some(code), "{scopes:?}: {}{}", r.out(), r.err());
        assert!(r.out().contains(&digest), "{}", r.out());
        let scope_line = if applied.is_empty() {
            "Scope:    transport docker default scope \"\"".to_owned()
        } else {
            format!("Scope:    transport docker scope {applied:?}")
        };
        assert!(r.out().contains(&scope_line), "{scopes:?}: {}", r.out());
        if code == 1 {
            assert!(
                r.err()
                    .contains(&format!("Source image rejected: Running image docker://{image} is rejected by policy.")),
                "{}",
                r.err()
            );
        }
    }
}
