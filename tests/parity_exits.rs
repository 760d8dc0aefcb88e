//! Exit codes and messages side by side with podman 4.3 (issue 20): usage errors (exit 125, `Error: ...` then
//! `See '... --help'`, no "similar argument" tips), `rmi` of an image not known (1; 0 with `-f`), `build` of
//! a context that is not a directory, `build`'s `STEP`/`COMMIT`/`-->` lines on stdout, a plain-HTTP registry
//! not marked insecure, and JSON keys in one style. Each case runs podman and hoist on the same input, each
//! with its own storage in temp dirs.

use std::path::Path;

use harness::Run;
use harness::hoist::HoistWorld;
use harness::podman::Containers;
use harness::registry::{Options, Registry};

const CONF: &str = "unqualified-search-registries = []\n";

fn hoist(w: &HoistWorld, args: &[&str]) -> Run {
    w.run(args, b"", &Vec::new())
}

/// podman's stderr with its name changed to hoist's: what hoist must print.
fn as_hoist(podman_err: &str) -> String {
    podman_err.replace("podman", "hoist")
}

/// Usage errors: podman's exit code (125) and, for flags, podman's two lines word for word; never a tip
/// pointing at a flag with another meaning; `--help` and `--version` still exit 0.
#[test]
fn usage_errors_exit_125_with_podmans_lines() {
    let c = Containers::new(&[]);
    let w = HoistWorld::new(CONF);
    for args in [
        &["images", "--bogus"][..],
        &["images", "--digest"],
        &["images", "-z"],
        &["images", "--format"],
        &["tag", "--bogus", "a", "b"],
        &["pull", "--all-tagz", "x"],
        &["--bogus", "images"],
    ] {
        let p = c.podman(args, b"");
        let h = hoist(&w, args);
        assert_eq!((p.code, h.code), (Some(125), Some(125)), "{args:?}: podman {}\nhoist {}", p.err(), h.err());
        assert_eq!(h.err(), as_hoist(&p.err()), "{args:?}");
        assert!(h.out().is_empty(), "{args:?}: {}", h.out());
    }
    // Wrong arguments: podman's words differ from clap's, not the shape: one error line, then where help is.
    for (args, help) in [(&["tag", "x"][..], "tag"), (&["pull"], "pull"), (&["rmi"], "rmi")] {
        let p = c.podman(args, b"");
        let h = hoist(&w, args);
        assert_eq!((p.code, h.code), (Some(125), Some(125)), "{args:?}: podman {}\nhoist {}", p.err(), h.err());
        let lines: Vec<String> = h.err().lines().map(str::to_owned).collect();
        assert_eq!(lines.len(), 2, "{args:?}: {}", h.err());
        assert!(lines[0].starts_with("Error: ") && p.err().starts_with("Error: "), "{args:?}: {}", h.err());
        assert_eq!(lines[1], format!("See 'hoist {help} --help'"));
    }
    // A near spelling of a real flag is not suggested (`--all-tags` is not `--all`).
    let h = hoist(&w, &["pull", "--all-tag", "x"]);
    assert_eq!(h.err(), "Error: unknown flag: --all-tag\nSee 'hoist pull --help'\n");
    let h = hoist(&w, &["logot"]);
    assert_eq!(
        (h.code, h.err()),
        (Some(125), "Error: unrecognized command `hoist logot`\nSee 'hoist --help'\n".into())
    );
    // A group without its command: help on stdout, podman's error on stderr, 125.
    for (p_args, h_args) in [(&[][..], &[][..]), (&["image"][..], &["creds"][..])] {
        let p = c.podman(p_args, b"");
        let h = hoist(&w, h_args);
        assert_eq!((p.code, h.code), (Some(125), Some(125)), "{h_args:?}");
        assert!(h.out().contains("Usage: hoist"), "{}", h.out());
        let group = h_args.iter().map(|a| format!(" {a}")).collect::<String>();
        assert_eq!(h.err(), format!("Error: missing command 'hoist{group} COMMAND'\n"));
        assert!(p.err().starts_with("Error: missing command 'podman"), "{}", p.err());
    }
    for args in [&["--help"][..], &["--version"], &["images", "--help"], &["creds", "list", "-h"]] {
        let p = c.podman(args, b"");
        let h = hoist(&w, args);
        assert_eq!((p.code, h.code), (Some(0), Some(0)), "{args:?}: {}", h.err());
        assert!(!h.out().is_empty() && h.err().is_empty(), "{args:?}: {}", h.err());
    }
}

/// `rmi` of an image not known exits 1 (`rmi -f`: 0, nothing printed), with podman's lines; several errors
/// as podman lists them.
#[test]
fn rmi_of_an_image_not_known_exits_as_podman() {
    let c = Containers::new(&[]);
    let w = HoistWorld::new(CONF);
    for args in
        [&["rmi", "nosuch"][..], &["rmi", "nosuch", "other"], &["rmi", "-f", "nosuch"], &["rmi", "-f", "a", "b"]]
    {
        let p = c.podman(args, b"");
        let h = hoist(&w, args);
        assert_eq!(h.code, p.code, "{args:?}: podman {}\nhoist {}", p.err(), h.err());
        assert_eq!(h.err(), p.err(), "{args:?}");
        assert_eq!(h.out(), p.out(), "{args:?}");
    }
    assert_eq!(hoist(&w, &["rmi", "nosuch"]).code, Some(1));
    assert_eq!(
        hoist(&w, &["rmi", "a", "b"]).err(),
        "Error: 2 errors occurred:\n\t* a: image not known\n\t* b: image not known\n"
    );
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), text).unwrap();
}

/// `build` of a missing directory, or of a file: podman's words, exit 125, before anything else.
#[test]
fn build_of_a_context_that_is_not_a_directory() {
    let c = Containers::new(&[]);
    let w = HoistWorld::new(CONF);
    let file = w.path("file");
    std::fs::write(&file, "FROM scratch\n").unwrap();
    for ctx in [w.path("missing"), file] {
        let ctx = ctx.to_str().unwrap();
        let p = c.podman(&["build", ctx], b"");
        let h = hoist(&w, &["build", ctx]);
        assert_eq!((p.code, h.code), (Some(125), Some(125)), "podman {}\nhoist {}", p.err(), h.err());
        assert_eq!(h.err(), p.err());
        assert_eq!(h.err(), format!("Error: context must be a directory: {ctx:?}\n"));
    }
}

/// The lines podman and hoist both print, IDs masked: steps, `COMMIT`, the `-->` after it, `Successfully
/// tagged`, the ID. podman's `--> ID` after an intermediate step (it commits each; hoist commits none) is
/// left out.
fn build_lines(out: &str) -> Vec<String> {
    let lines: Vec<&str> = out.lines().collect();
    let mut kept = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let after_commit = i > 0 && lines[i - 1].contains("COMMIT");
        if let Some(id) = l.strip_prefix("--> ") {
            if after_commit {
                assert!(id.len() == 11 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{l}");
                kept.push("--> ID".to_owned());
            }
        } else if l.len() == 64 && l.bytes().all(|b| b.is_ascii_hexdigit()) {
            kept.push("ID".to_owned());
        } else {
            kept.push(l.to_string());
        }
    }
    kept
}

/// `build`'s lines on stdout as podman's: `STEP n/m` (per stage, `[N/M]` with several stages; stages not
/// needed skipped), `COMMIT` with the first name as given, `-->` and 11 digits, `Successfully tagged`, the ID
/// last; `-q` only the ID.
#[test]
fn build_prints_podmans_lines_on_stdout() {
    let c = Containers::new(&[]);
    let w = HoistWorld::new(CONF);
    let one = w.path("one");
    write(&one, "a.txt", "one\n");
    write(&one, "Dockerfile", "FROM scratch\nCOPY a.txt /a.txt\nLABEL x=y\n");
    let stages = w.path("stages");
    write(&stages, "a.txt", "stages\n");
    write(
        &stages,
        "Dockerfile",
        "FROM scratch AS a\nCOPY a.txt /a.txt\nFROM scratch AS unused\nLABEL u=1\n\
         FROM scratch AS c\nCOPY --from=a /a.txt /b.txt\nENV E=1\nFROM scratch AS d\nLABEL d=1\n",
    );
    for (ctx, extra) in [(&one, &[][..]), (&stages, &["--target", "c"][..]), (&stages, &[][..])] {
        let ctx = ctx.to_str().unwrap();
        let name = format!("built{}", extra.len());
        let mut args = vec!["build", "-t", &name, "-t", "example.com/second:v2"];
        args.extend_from_slice(extra);
        args.push(ctx);
        let p = c.podman(&args, b"").expect_ok("podman build");
        let h = hoist(&w, &args).expect_ok("hoist build");
        let want = build_lines(&p.out());
        assert_eq!(build_lines(&h.out()), want, "{args:?}\npodman:\n{}\nhoist:\n{}", p.out(), h.out());
        assert!(want.iter().any(|l| l.contains("COMMIT")), "{want:?}");
        assert!(h.out().lines().last().unwrap().len() == 64, "{}", h.out());
        assert!(!h.err().contains("STEP"), "{}", h.err());
    }
    let q = hoist(&w, &["build", "-q", "-t", "quiet", one.to_str().unwrap()]).expect_ok("build -q");
    let p = c.podman(&["build", "-q", "-t", "quiet", one.to_str().unwrap()], b"").expect_ok("podman build -q");
    assert_eq!((build_lines(&q.out()), q.err()), (build_lines(&p.out()), String::new()));
    assert_eq!(build_lines(&q.out()), ["ID"]);
}

/// A registry without TLS that registries.conf does not mark insecure: both refuse; hoist says the server
/// answered plain HTTP and how to allow it, not rustls's "corrupt message".
#[test]
fn a_plain_http_registry_not_marked_insecure_is_named_so() {
    let reg = Registry::start(Options::default());
    let host = reg.host();
    let c = Containers::new(&[]);
    let w = HoistWorld::new(CONF);
    let image = format!("{host}/lib/app:v1");
    let p = c.podman(&["pull", &image], b"");
    assert_eq!(p.code, Some(125), "{}", p.err());
    assert!(p.err().contains("server gave HTTP response to HTTPS client"), "{}", p.err());
    for args in
        [&["pull", &image][..], &["list-tags", &format!("{host}/lib/app")], &["login", "-u", "a", "-p", "b", &host]]
    {
        let h = hoist(&w, args);
        assert_eq!(h.code, Some(125), "{args:?}: {}", h.err());
        let err = h.err();
        let line = err.lines().find(|l| l.starts_with("Error: ")).unwrap_or_else(|| panic!("{err}"));
        assert!(line.contains(&format!("https://{host}/v2/: the server answered in plain HTTP, not HTTPS")), "{err}");
        assert!(line.contains("`insecure = true`") && line.contains("--tls-verify=false"), "{err}");
        assert!(!err.contains("InvalidContentType") && !err.contains("corrupt"), "{err}");
    }
    // What it says to do works: --tls-verify=false reaches the registry (which has no such image).
    let h = hoist(&w, &["pull", "--tls-verify=false", &image]);
    assert!(!h.ok() && !h.err().contains("plain HTTP"), "{}", h.err());
    assert!(h.err().contains("manifest unknown"), "{}", h.err());
}

/// Every key of a JSON value, at any depth.
fn keys(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                out.push(k.clone());
                keys(v, out);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| keys(v, out)),
        _ => {}
    }
}

/// JSON keys in one style, podman's PascalCase (`podman images --format json`: `Id`, `RepoTags`, ...).
#[test]
fn json_keys_are_pascal_case_as_podmans() {
    let c = Containers::new(&[]);
    let w = HoistWorld::new(CONF);
    let authfile = w.path("auth.json");
    std::fs::write(&authfile, r#"{"auths":{"r.example":{"auth":"dTpw"}}}"#).unwrap();
    let af = format!("--authfile={}", authfile.display());
    let mut all = Vec::new();
    for args in [&["creds", "list", &af, "--format", "json"][..], &["resolve", "--format", "json", "docker.io/x"]] {
        let out = hoist(&w, args).expect_ok("json");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut k = Vec::new();
        keys(&v, &mut k);
        assert!(k.len() > 3, "{args:?}: {v}");
        all.extend(k);
    }
    // podman's own keys, the style followed: an image imported from an empty tar, listed as JSON.
    let tar = w.path("empty.tar");
    std::fs::write(&tar, [0u8; 1024]).unwrap();
    c.podman(&["import", tar.to_str().unwrap(), "empty"], b"").expect_ok("podman import");
    let podman = c.podman(&["images", "--format", "json"], b"").expect_ok("podman images");
    let mut theirs = Vec::new();
    keys(&serde_json::from_slice(&podman.stdout).unwrap(), &mut theirs);
    assert!(theirs.contains(&"RepoTags".to_owned()), "{theirs:?}");
    for k in &theirs {
        assert!(k.starts_with(|c: char| c.is_ascii_uppercase()) && !k.contains('_'), "podman's {k}");
    }
    for k in &all {
        assert!(k.starts_with(|c: char| c.is_ascii_uppercase()) && !k.contains('_'), "{k}: not PascalCase in {all:?}");
    }
    assert!(all.contains(&"Registry".to_owned()) && all.contains(&"ShortNameMode".to_owned()), "{all:?}");
}
