//! `hoist trust`: `set` writes what podman's `image trust set` writes and `podman image trust show` reads it
//! back; `show` prints podman's table and JSON; `check` explains the policy's decision for an image and exits
//! 1 when it refuses; invalid policies are one line naming the file and the entry.

use harness::hoist::HoistWorld;
use harness::image::{ImageSpec, write_layout, write_oci_layout};
use harness::podman::Containers;
use harness::registry::{Options as RegistryOptions, Registry};

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
        // hoist reads the world's registries.d ($HOME's) by default; podman is shown the same directory.
        let rd = w.registries_d();
        let mut theirs = vec!["image", "trust", "show", "--policypath", s(&policy), "--registrypath", s(&rd)];
        theirs.extend_from_slice(extra);
        let podman = c.podman(&theirs, b"");
        assert!(podman.ok(), "{}", podman.err());
        assert_eq!(mine.out(), podman.out(), "hoist trust show {extra:?}");
        assert!(mine.out().contains(&format!("file://{}", s(&w.lookaside()))), "{}", mine.out());
    }
}

/// STORE comes from registries.d as podman's: `--registrypath DIR` (podman's flag) gives the same table and
/// JSON as `podman image trust show --registrypath DIR` — the exact scope, its parents, `default-docker`,
/// the old `sigstore` name, never a staging URL, and a non-docker scope looked up as text as podman does.
#[test]
fn trust_show_store_column_comes_from_registries_d_as_podmans() {
    let w = world();
    let c = Containers::new(&[]);
    let policy = w.path("policy.json");
    std::fs::write(
        &policy,
        r#"{"default":[{"type":"reject"}],"transports":{"docker":{"example.com/a":[{"type":"insecureAcceptAnything"}],"example.com/b/c":[{"type":"reject"}],"example.com/e/f":[{"type":"reject"}],"other.io":[{"type":"insecureAcceptAnything"}]},"dir":{"/x/y":[{"type":"insecureAcceptAnything"}]}}}"#,
    )
    .unwrap();
    let rd = w.path("registries.d");
    std::fs::create_dir_all(&rd).unwrap();
    std::fs::write(
        rd.join("a.yaml"),
        "default-docker:\n  lookaside: file:///tmp/default-sigs\ndocker:\n  example.com:\n    lookaside: https://sigs.example.com/s\n",
    )
    .unwrap();
    std::fs::write(
        rd.join("b.yaml"),
        "docker:\n  example.com/b:\n    sigstore: file:///old/name\n    lookaside-staging: file:///staging\n  \
         example.com/e:\n    lookaside-staging: file:///only-staging\n  /x:\n    lookaside: file:///dirscope\n",
    )
    .unwrap();
    for extra in [&[][..], &["--json"][..]] {
        let mut ours = vec!["trust", "show", "--policypath", s(&policy), "--registrypath", s(&rd)];
        ours.extend_from_slice(extra);
        let mine = w.run(&ours, b"", &vec![]);
        assert!(mine.ok(), "{}", mine.err());
        let mut theirs = vec!["image", "trust", "show", "--policypath", s(&policy), "--registrypath", s(&rd)];
        theirs.extend_from_slice(extra);
        let podman = c.podman(&theirs, b"");
        assert!(podman.ok(), "{}", podman.err());
        assert_eq!(mine.out(), podman.out(), "hoist trust show {extra:?}");
        assert!(mine.out().contains("https://sigs.example.com/s"), "{}", mine.out());
    }
    // An invalid registries.d is an error naming the file, as podman's.
    std::fs::write(rd.join("c.yaml"), "docker: [1]\n").unwrap();
    let r = w.run(&["trust", "show", "--policypath", s(&policy), "--registrypath", s(&rd)], b"", &vec![]);
    assert_eq!(r.code, Some(125), "{}", r.out());
    assert!(r.err().contains(&rd.join("c.yaml").display().to_string()), "{}", r.err());
}

/// `trust check` of an index judges the index and then the instance the platform chooses, as the copy
/// engine does: the index signed and the instance not is refused (and `pull` refuses it alike); once the
/// instance is signed too, both are allowed. `--registries.d` is read (the sigstore attachments it turns on).
#[test]
fn trust_check_of_an_index_judges_the_chosen_instance_too() {
    let reg = Registry::start(RegistryOptions::default());
    let w = HoistWorld::new(&format!(
        "unqualified-search-registries = []\n[[registry]]\nlocation = \"{}\"\ninsecure = true\n",
        reg.host()
    ));
    let layout = w.path("layout");
    let made =
        write_layout(&layout, "v1", &[ImageSpec::random("amd64", 1, 1000, 1), ImageSpec::random("arm64", 1, 1000, 2)]);
    let image = format!("{}/ns/multi:1", reg.host());
    let src = format!("oci:{}:v1", layout.display());
    let r = w.run(&["copy", "--all", "--insecure-policy", &src, &format!("docker://{image}")], b"", &vec![]);
    assert!(r.ok(), "{}", r.err());

    let rd = w.path("registries.d");
    std::fs::create_dir_all(&rd).unwrap();
    std::fs::write(
        rd.join("a.yaml"),
        format!("default-docker:\n  lookaside: file://{}\n  use-sigstore-attachments: true\n", s(&w.path("sigs"))),
    )
    .unwrap();
    let (prefix, pass) = (w.path("key"), w.path("pass"));
    std::fs::write(&pass, "pw\n").unwrap();
    let r =
        w.run(&["generate-sigstore-key", "--output-prefix", s(&prefix), "--passphrase-file", s(&pass)], b"", &vec![]);
    assert!(r.ok(), "{}", r.err());
    let policy = w.path("policy.json");
    std::fs::write(&policy, format!(r#"{{"default":[{{"type":"sigstoreSigned","keyPath":"{}.pub"}}]}}"#, s(&prefix)))
        .unwrap();
    let sign = |what: &str| {
        let key = format!("{}.private", s(&prefix));
        let args = [
            "sign",
            "--registries.d",
            s(&rd),
            "--sign-by-sigstore-private-key",
            &key,
            "--sign-passphrase-file",
            s(&pass),
            "--sign-identity",
            &image,
            what,
        ];
        let r = w.run(&args, b"", &vec![]);
        assert!(r.ok(), "{}", r.err());
    };
    sign(&image);
    let check = |json: bool| {
        let mut args = vec!["trust", "check", "--signature-policy", s(&policy), "--registries.d", s(&rd)];
        args.extend(["--platform", "linux/amd64"]);
        if json {
            args.push("--json");
        }
        args.push(&image);
        w.run(&args, b"", &vec![])
    };
    let r = check(false);
    assert_eq!(r.code, Some(1), "{}\n{}", r.out(), r.err());
    assert!(r.out().contains(&format!("({})", made.top)), "{}", r.out());
    assert!(r.out().contains(&format!("Instance: {} ", made.manifests[0])), "{}", r.out());
    assert!(r.out().contains("Requirement 1: sigstoreSigned"), "{}", r.out());
    assert!(r.out().contains("Result:   refused"), "{}", r.out());
    assert!(r.err().contains("A signature was required, but no signature exists"), "{}", r.err());
    let v: serde_json::Value = serde_json::from_slice(&check(true).stdout).unwrap();
    assert_eq!((v["Allowed"].clone(), v["Evaluation"]["Allowed"].clone()), (false.into(), true.into()));
    assert_eq!(v["SignaturesFound"], 1);
    assert_eq!(v["Instance"]["Evaluation"]["ManifestDigest"], made.manifests[0].as_str());
    assert_eq!(v["Instance"]["SignaturesFound"], 0);
    // The copy engine decides alike.
    let pull =
        ["pull", "--signature-policy", s(&policy), "--registries.d", s(&rd), "--platform", "linux/amd64", &image];
    let r = w.run(&pull, b"", &vec![]);
    assert_eq!(r.code, Some(125), "{}", r.err());
    assert!(r.err().contains("A signature was required, but no signature exists"), "{}", r.err());

    sign(&format!("{}/ns/multi@{}", reg.host(), made.manifests[0]));
    let r = check(false);
    assert_eq!(r.code, Some(0), "{}\n{}", r.out(), r.err());
    assert!(r.out().contains("Result:   allowed"), "{}", r.out());
    let v: serde_json::Value = serde_json::from_slice(&check(true).stdout).unwrap();
    assert_eq!((v["Allowed"].clone(), v["Instance"]["SignaturesFound"].clone()), (true.into(), 1.into()));
    let r = w.run(&pull, b"", &vec![]);
    assert!(r.ok(), "{}", r.err());
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
    assert_eq!(v["Evaluation"]["Allowed"], false);
    assert_eq!(v["Evaluation"]["ManifestDigest"], digest.as_str());
    assert_eq!(v["Evaluation"]["Requirements"][1]["Entry"], "default[1]");
    assert_eq!(v["Evaluation"]["Requirements"][1]["Allowed"], false);

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
    assert!(mine.out().contains("repository  quay.io/org  signed      ci@example.com  file://"), "{}", mine.out());
    // podman asks `gpg2`, which Debian does not ship: give it one that is gpg.
    let bin = w.path("gpg2-bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(&gpg, bin.join("gpg2")).unwrap();
    let mut podman = c.command("podman");
    let path = std::env::join_paths(
        std::iter::once(bin).chain(std::env::split_paths(&harness::process::path_with_our_bins())),
    );
    let rd = w.registries_d();
    let args = ["image", "trust", "show", "--policypath", s(&policy), "--registrypath", s(&rd)];
    podman.env("PATH", path.unwrap()).args(args);
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
    let store = format!("file://{}", s(&w.lookaside()));
    assert_eq!(
        rows,
        serde_json::json!([{"transport":"all","name":"* (default)","repo_name":"default","sigstore":store,"type":"reject"}])
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
