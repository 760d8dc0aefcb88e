use std::path::Path;

use super::*;
use crate::reference::Reference;

fn conf(text: &str) -> Config {
    Config::from_str(Path::new("/test/registries.conf"), text).unwrap_or_else(|e| panic!("{e}"))
}

fn err(text: &str) -> String {
    Config::from_str(Path::new("/test/registries.conf"), text).unwrap_err().to_string()
}

#[test]
fn prefix_matching_as_containers_image() {
    for (name, prefix, want) in [
        ("example.com", "example.com", Some(11)),
        ("example.com/foo", "example.com", Some(11)),
        ("example.com:5000/foo", "example.com", Some(11)), // c/image's documented quirk
        ("example.com@sha256:x", "example.com", Some(11)),
        ("example.comx/foo", "example.com", None),
        ("example.com/foobar", "example.com/foo", None),
        ("example.com/foo/bar", "example.com/foo", Some(15)),
        ("a.example.com/x", "*.example.com", Some(13)),
        ("b.a.example.com:5000/x", "*.example.com", Some(15)),
        ("example.com/x", "*.example.com", None),
        ("other.com/a.example.com/x", "*.example.com", None),
        ("a.example.community/x", "*.example.com", None),
    ] {
        assert_eq!(ref_matching_prefix(name, prefix), want, "{name} vs {prefix}");
    }
}

#[test]
fn longest_prefix_wins_and_locations_rewrite() {
    let c = conf(
        r#"
unqualified-search-registries = ["registry.example", "docker.io"]
[[registry]]
prefix = "example.com"
location = "mirror.internal/example"
[[registry]]
prefix = "example.com/team"
location = "team.internal:5000/team"
insecure = true
[[registry]]
location = "blocked.example"
blocked = true
[[registry]]
prefix = "*.wild.example"
location = ""
insecure = true
"#,
    );
    let r = Reference::parse_normalized("example.com/team/app:v1").unwrap();
    assert_eq!(c.find_registry(&r.to_string()).unwrap().prefix, "example.com/team");
    let s = c.pull_sources(&r).unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].reference.to_string(), "team.internal:5000/team/app:v1");
    assert!(s[0].insecure);
    let r = Reference::parse_normalized("example.com/other/app").unwrap();
    assert_eq!(c.pull_sources(&r).unwrap()[0].reference.to_string(), "mirror.internal/example/other/app");
    assert!(c.is_blocked("blocked.example/x:1"));
    assert!(!c.is_blocked("blocked.example.org/x"));
    let r = Reference::parse_normalized("a.wild.example/x:1").unwrap();
    let s = c.pull_sources(&r).unwrap();
    assert_eq!((s[0].reference.to_string().as_str(), s[0].insecure), ("a.wild.example/x:1", true));
}

#[test]
fn mirrors_in_order_with_their_restrictions() {
    let c = conf(
        r#"
[[registry]]
location = "docker.io"
[[registry.mirror]]
location = "mirror-all.local"
[[registry.mirror]]
location = "mirror-digest.local"
pull-from-mirror = "digest-only"
[[registry.mirror]]
location = "mirror-tag.local/cache"
pull-from-mirror = "tag-only"
insecure = true
[[registry]]
location = "quay.io"
mirror-by-digest-only = true
[[registry.mirror]]
location = "quay-mirror.local"
"#,
    );
    let tagged = Reference::parse_normalized("docker.io/library/alpine:3").unwrap();
    let locs: Vec<String> = c.pull_sources(&tagged).unwrap().iter().map(|s| s.reference.to_string()).collect();
    assert_eq!(
        locs,
        ["mirror-all.local/library/alpine:3", "mirror-tag.local/cache/library/alpine:3", "docker.io/library/alpine:3"]
    );
    let digest = format!("docker.io/library/alpine@sha256:{}", "a".repeat(64));
    let locs: Vec<String> = c
        .pull_sources(&Reference::parse_normalized(&digest).unwrap())
        .unwrap()
        .iter()
        .map(|s| s.location.clone())
        .collect();
    assert_eq!(locs, ["mirror-all.local", "mirror-digest.local", "docker.io"]);
    let q = Reference::parse_normalized("quay.io/org/x:1").unwrap();
    assert_eq!(c.pull_sources(&q).unwrap().len(), 1, "mirror-by-digest-only skips mirrors for tags");
    let q = Reference::parse_normalized(&format!("quay.io/org/x@sha256:{}", "b".repeat(64))).unwrap();
    assert_eq!(c.pull_sources(&q).unwrap().len(), 2);
}

#[test]
fn short_names_resolve_through_aliases_then_search_registries() {
    let c = conf(
        r#"
unqualified-search-registries = ["registry.fedoraproject.org", "docker.io"]
short-name-mode = "permissive"
[aliases]
"fedora" = "registry.fedoraproject.org/fedora"
"#,
    );
    let r = c.resolve("fedora:39").unwrap();
    assert_eq!(r.kind, ResolutionKind::Alias);
    assert_eq!(r.candidates[0].reference.to_string(), "registry.fedoraproject.org/fedora:39");
    let r = c.resolve("alpine").unwrap();
    assert_eq!(r.kind, ResolutionKind::Search);
    let refs: Vec<String> = r.candidates.iter().map(|c| c.reference.to_string()).collect();
    assert_eq!(refs, ["registry.fedoraproject.org/alpine:latest", "docker.io/library/alpine:latest"]);
    assert_eq!(r.short_name_mode, ShortNameMode::Permissive);
    let r = c.resolve("quay.io/org/app").unwrap();
    assert_eq!((r.kind, r.candidates.len()), (ResolutionKind::Qualified, 1));
    assert_eq!(r.candidates[0].reference.to_string(), "quay.io/org/app:latest");
    let none = conf("");
    assert!(none.resolve("alpine").unwrap_err().to_string().contains("no unqualified-search registries"));
}

#[test]
fn defaults() {
    let c = conf("");
    assert_eq!(c.credential_helpers, ["containers-auth.json"]);
    assert_eq!(c.short_name_mode, ShortNameMode::Enforcing);
    let c = conf(r#"credential-helpers = ["vault", "containers-auth.json"]"#);
    assert_eq!(c.credential_helpers, ["vault", "containers-auth.json"]);
}

#[test]
fn invalid_files_name_the_file_and_line() {
    let e = err("unqualified-search-registries = [\n\"ok\",\n");
    assert!(e.starts_with("/test/registries.conf:"), "{e}");
    let e = err("x = 1\n[[registry]]\nlocation = 5\n");
    assert!(e.starts_with("/test/registries.conf:3: "), "{e}");
    for (text, want) in [
        ("[[registry]]\nlocation = \"https://r.example\"\n", "URI schemes are not supported"),
        ("[[registry]]\ninsecure = true\n", "both location and prefix are unset"),
        ("[[registry]]\nprefix = \"*.x.com/ns\"\nlocation = \"y\"\n", "Wildcarded prefix"),
        ("short-name-mode = \"prompt\"\n", "invalid short-name mode"),
        ("unqualified-search-registries = [\"not a domain\"]\n", "Invalid unqualified-search-registries entry"),
        (
            "[[registry]]\nlocation = \"r\"\n[[registry.mirror]]\nlocation = \"m\"\npull-from-mirror = \"sometimes\"\n",
            "unsupported pull-from-mirror",
        ),
        ("[[registry]]\nlocation = \"r\"\npull-from-mirror = \"all\"\n", "must not be set for a non-mirror registry"),
        ("[[registry]]\nlocation = \"r\"\n[[registry.mirror]]\ninsecure = true\n", "mirror location is unset"),
        (
            "[[registry]]\nlocation = \"r\"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = \"m\"\npull-from-mirror = \"all\"\n",
            "at the same time",
        ),
        (
            "[[registry]]\nprefix = \"a\"\nlocation = \"r\"\n[[registry]]\nprefix = \"b\"\nlocation = \"r\"\ninsecure = true\n",
            "conflicting 'insecure'",
        ),
        ("[aliases]\n\"docker.io/x\" = \"docker.io/library/x\"\n", "invalid short name"),
        ("[aliases]\n\"x\" = \"x\"\n", "fully qualified"),
        ("[aliases]\n\"x\" = \"r.io/x:1\"\n", "fully qualified"),
        ("[registries.search]\nregistries = [\"a.io\"]\n[[registry]]\nlocation = \"b\"\n", "mixing sysregistry v1/v2"),
    ] {
        let e = err(text);
        assert!(e.contains(want) && e.starts_with("/test/registries.conf"), "{text:?}: {e}");
    }
}

#[test]
fn unknown_keys_warn() {
    let c = conf(
        "colour = \"blue\"\n[[registry]]\nlocation = \"r\"\nsecure = true\n[[registry.mirror]]\nlocation = \"m\"\nspeed = 1\n",
    );
    assert_eq!(c.warnings.len(), 3, "{:?}", c.warnings);
    assert!(c.warnings.iter().any(|w| w.contains("registry.mirror.speed")));
}

#[test]
fn v1_format_converts() {
    let c = conf(
        "[registries.search]\nregistries = [\"a.io\"]\n[registries.insecure]\nregistries = [\"b.io:5000\"]\n[registries.block]\nregistries = [\"c.io\"]\n",
    );
    assert_eq!(c.unqualified_search_registries, ["a.io"]);
    assert!(c.find_registry("b.io:5000/x").unwrap().insecure);
    assert!(c.is_blocked("c.io/x"));
}

#[test]
fn drop_ins_merge_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("registries.conf");
    std::fs::write(
        &main,
        "unqualified-search-registries = [\"a.io\"]\n[[registry]]\nlocation = \"r.io\"\n[[registry]]\nlocation = \"keep.io\"\n[aliases]\n\"x\" = \"a.io/x\"\n",
    )
    .unwrap();
    let d = dir.path().join("registries.conf.d");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("10-first.conf"), "[[registry]]\nlocation = \"r.io\"\ninsecure = true\n").unwrap();
    std::fs::write(
        d.join("20-second.conf"),
        "unqualified-search-registries = [\"b.io\"]\n[aliases]\n\"y\" = \"b.io/y\"\n\"x\" = \"b.io/x\"\n",
    )
    .unwrap();
    std::fs::write(d.join("30-ignored.txt"), "this is not toml = = =").unwrap();
    let cache = dir.path().join("short-name-aliases.conf");
    std::fs::write(&cache, "[aliases]\n\"x\" = \"cache.io/x\"\n\"z\" = \"cache.io/z\"\n").unwrap();
    let c = Config::load(&Paths {
        main: main.clone(),
        main_required: true,
        dropin_dirs: vec![d.clone()],
        alias_cache: Some(cache.clone()),
    })
    .unwrap();
    assert_eq!(c.resolve("z").unwrap().candidates[0].reference.to_string(), "cache.io/z:latest", "cached alias");
    assert_eq!(c.resolve("x").unwrap().candidates[0].reference.to_string(), "b.io/x:latest", "configured aliases win");
    std::fs::write(&cache, "[aliases]\n\"x\" = \"no-registry\"\n").unwrap();
    let e =
        Config::load(&Paths { main: main.clone(), main_required: true, dropin_dirs: vec![], alias_cache: Some(cache) })
            .unwrap_err();
    assert!(e.to_string().contains("short-name-aliases.conf"), "{e}");
    assert!(c.find_registry("r.io/x").unwrap().insecure, "same prefix replaced");
    assert!(c.find_registry("keep.io/x").is_some(), "other prefixes kept");
    assert_eq!(c.unqualified_search_registries, ["b.io"]);
    assert_eq!(c.unqualified_search_origin.as_deref(), Some(d.join("20-second.conf").as_path()));
    assert_eq!(c.aliases["x"].value, "b.io/x");
    assert_eq!(c.aliases["y"].value, "b.io/y");
    assert_eq!(c.sources.len(), 3);
    std::fs::write(d.join("40-v1.conf"), "[registries.search]\nregistries = [\"z.io\"]\n").unwrap();
    let e = Config::load(&Paths { main, main_required: true, dropin_dirs: vec![d], alias_cache: None }).unwrap_err();
    assert!(e.to_string().contains("40-v1.conf") && e.to_string().contains("v2 format"), "{e}");
    let missing =
        Paths { main: dir.path().join("nope.conf"), main_required: true, dropin_dirs: vec![], alias_cache: None };
    assert!(Config::load(&missing).unwrap_err().to_string().contains("nope.conf"));
    let optional =
        Paths { main: dir.path().join("nope.conf"), main_required: false, dropin_dirs: vec![], alias_cache: None };
    assert!(Config::load(&optional).unwrap().registries.is_empty());
}

#[test]
fn short_name_mode_merges_across_drop_ins() {
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("registries.conf");
    std::fs::write(&main, "short-name-mode = \"permissive\"\n").unwrap();
    let d = dir.path().join("registries.conf.d");
    std::fs::create_dir(&d).unwrap();
    let paths = Paths { main, main_required: true, dropin_dirs: vec![d.clone()], alias_cache: None };
    let load = || {
        let c = Config::load(&paths).unwrap_or_else(|e| panic!("{e}"));
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        c.short_name_mode
    };
    assert_eq!(load(), ShortNameMode::Permissive, "the base file's mode, over the default");
    std::fs::write(d.join("10-unset.conf"), "unqualified-search-registries = [\"a.io\"]\n").unwrap();
    assert_eq!(load(), ShortNameMode::Permissive, "a drop-in that does not set it keeps the base file's");
    std::fs::write(d.join("20-disabled.conf"), "short-name-mode = \"disabled\"\n").unwrap();
    assert_eq!(load(), ShortNameMode::Disabled, "a later file that sets it wins");
    std::fs::write(d.join("30-unset.conf"), "[aliases]\n\"x\" = \"a.io/x\"\n").unwrap();
    std::fs::write(d.join("40-empty.conf"), "short-name-mode = \"\"\n").unwrap();
    assert_eq!(load(), ShortNameMode::Disabled, "later files that do not set it (or set it empty) keep it");
    std::fs::write(d.join("50-enforcing.conf"), "short-name-mode = \"enforcing\"\n").unwrap();
    assert_eq!(load(), ShortNameMode::Enforcing, "setting the default explicitly still wins");
    std::fs::write(d.join("60-bad.conf"), "short-name-mode = \"prompt\"\n").unwrap();
    let e = Config::load(&paths).unwrap_err();
    assert!(e.to_string().contains("60-bad.conf") && e.to_string().contains("invalid short-name mode"), "{e}");
}

#[test]
fn resolution_json_has_pascal_case_keys_and_lowercase_values() {
    let c = conf(
        "unqualified-search-registries = [\"r.io\"]\nshort-name-mode = \"disabled\"\n[aliases]\n\"x\" = \"a.io/x\"\n",
    );
    for (name, kind) in [("q.io/x", "qualified"), ("x", "alias"), ("y", "search")] {
        let json = serde_json::to_value(c.resolve(name).unwrap()).unwrap();
        assert_eq!(json["Kind"], kind, "{name}");
        assert_eq!(json["ShortNameMode"], "disabled");
    }
    let r = c.resolve("q.io/x").unwrap();
    assert_eq!(
        serde_json::to_string(&r).unwrap(),
        r#"{"Input":"q.io/x","Kind":"qualified","Origin":null,"ShortNameMode":"disabled","Candidates":[{"Reference":"q.io/x:latest","RegistryPrefix":null,"RegistryOrigin":null,"Blocked":false,"Sources":[{"Reference":"q.io/x:latest","Location":"q.io","Insecure":false,"Mirror":false}]}]}"#
    );
}

#[test]
fn search_registry_entries_must_stay_the_registry() {
    for ok in ["docker.io", "quay.io/", "localhost", "localhost:5000", "myregistry:5000", "MyRegistry", "[::1]:5000"] {
        let c = conf(&format!("unqualified-search-registries = [{ok:?}]\n"));
        assert_eq!(c.unqualified_search_registries, [ok.trim_end_matches('/')]);
    }
    for bad in ["myregistry", "index.docker.io", "quay.io/org", "quay.io:", "-r.io", ""] {
        let e = err(&format!("unqualified-search-registries = [{bad:?}]\n"));
        assert!(e.contains("Invalid unqualified-search-registries entry"), "{bad:?}: {e}");
    }
}
