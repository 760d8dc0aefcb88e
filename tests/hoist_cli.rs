//! The `hoist` binary: resolve, completion, man pages, and how it reports bad configuration.

use std::process::Command;

use harness::{Run, bin, run};

/// `hoist ARGS` with registries.conf at `conf` and no drop-ins (so the machine's own files don't leak in).
fn hoist(conf: &std::path::Path, args: &[&str]) -> Run {
    let empty = conf.parent().unwrap().join("no-dropins");
    let mut cmd = Command::new(bin("hoist"));
    cmd.args(args).env("CONTAINERS_REGISTRIES_CONF", conf).env("CONTAINERS_REGISTRIES_CONF_DIR", &empty);
    run(&mut cmd, b"")
}

const CONF: &str = r#"
unqualified-search-registries = ["registry.fedoraproject.org", "docker.io"]
short-name-mode = "permissive"
[aliases]
"fedora" = "registry.fedoraproject.org/fedora"
[[registry]]
location = "docker.io"
[[registry.mirror]]
location = "mirror.local:5000"
insecure = true
[[registry]]
location = "evil.example"
blocked = true
"#;

fn conf_file(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("registries.conf");
    std::fs::write(&p, text).unwrap();
    (dir, p)
}

#[test]
fn resolve_explains_short_names_aliases_mirrors_and_blocks() {
    let (_d, conf) = conf_file(CONF);
    let out = hoist(&conf, &["resolve", "alpine"]).expect_ok("resolve alpine").out();
    let want = [
        "alpine: short name, unqualified-search-registries from",
        "1. registry.fedoraproject.org/alpine:latest",
        "2. docker.io/library/alpine:latest",
        "mirror: mirror.local:5000/library/alpine:latest, insecure",
        "primary: docker.io/library/alpine:latest",
    ];
    for w in want {
        assert!(out.contains(w), "missing {w:?} in:\n{out}");
    }
    let out = hoist(&conf, &["resolve", "fedora:39"]).expect_ok("resolve alias").out();
    assert!(out.contains("alias from") && out.contains("1. registry.fedoraproject.org/fedora:39"), "{out}");
    let out = hoist(&conf, &["resolve", "evil.example/x"]).expect_ok("resolve blocked").out();
    assert!(out.contains("BLOCKED"), "{out}");

    let json = hoist(&conf, &["resolve", "--format", "json", "alpine"]).expect_ok("resolve json");
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["Kind"], "search");
    assert_eq!(v["ShortNameMode"], "permissive");
    assert_eq!(v["Candidates"][1]["Reference"], "docker.io/library/alpine:latest");
    assert_eq!(v["Candidates"][1]["Sources"][0]["Location"], "mirror.local:5000");
    assert_eq!(v["Candidates"][1]["Sources"][0]["Insecure"], true);
}

#[test]
fn bad_configuration_is_one_line_naming_the_file() {
    let (_d, conf) = conf_file("[[registry]]\nlocation = \"https://r.example\"\n");
    let out = hoist(&conf, &["resolve", "alpine"]);
    assert_eq!(out.code, Some(125));
    assert_eq!(out.err().lines().count(), 1, "{}", out.err());
    assert!(out.err().contains(&conf.display().to_string()) && out.err().contains("URI schemes"), "{}", out.err());
    let (_d, conf) = conf_file("unqualified-search-registries = [\n");
    let out = hoist(&conf, &["resolve", "alpine"]);
    assert_eq!(out.code, Some(125));
    assert!(out.err().starts_with(&format!("Error: {}:", conf.display())), "{}", out.err());
    let (_d, conf) = conf_file("unqualified-search-registries = [\"docker.io\"]\nfavourite = 1\n");
    let out = hoist(&conf, &["resolve", "alpine"]).expect_ok("unknown keys only warn");
    assert!(out.err().contains("Warning:") && out.err().contains("favourite"), "{}", out.err());
    let out = hoist(&conf, &["resolve", "Not/Valid//Name"]);
    assert_eq!(out.code, Some(125));
    assert!(out.err().contains("invalid reference format"), "{}", out.err());
}

#[test]
fn completions_and_man_pages_come_from_the_clap_definitions() {
    let (_d, conf) = conf_file("");
    // The subcommands, as `hoist --help` lists them.
    let help = hoist(&conf, &["--help"]).expect_ok("--help").out();
    let commands: Vec<String> = help
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect();
    assert!(commands.len() > 20 && commands.iter().any(|c| c == "build"), "{help}");
    for shell in ["bash", "zsh", "fish"] {
        let script = hoist(&conf, &["completion", shell]).expect_ok("completion").out();
        // What registers the script with its shell, and each subcommand as that shell's script offers it.
        let (registers, offered): (&[&str], fn(&str) -> String) = match shell {
            "bash" => (&["_hoist() {", "complete -F _hoist "], |c| format!("hoist,{c})")),
            "zsh" => (&["#compdef hoist\n", "_hoist() {", "compdef _hoist hoist"], |c| format!("'{c}:")),
            _ => (&["complete -c hoist "], |c| format!("-a \"{c}\"")),
        };
        for r in registers {
            assert!(script.contains(r), "{shell}: no {r:?} in {}", &script[..script.len().min(300)]);
        }
        for c in &commands {
            assert!(script.contains(&offered(c)), "{shell}: the script does not offer {c}");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    hoist(&conf, &["generate-man", dir.path().to_str().unwrap()]).expect_ok("generate-man");
    let page = std::fs::read_to_string(dir.path().join("hoist-resolve.1")).unwrap();
    assert!(page.contains(".TH") && page.contains("resolve"), "{page}");
    assert!(dir.path().join("hoist.1").exists() && dir.path().join("hoist-completion.1").exists());
}

/// A reader that went away (`hoist completion bash | head -c 1`) ends hoist quietly with exit 0, as a program
/// killed by SIGPIPE would look to the shell, never with an error or a panic. The pipe's read end is closed
/// before hoist starts, so its first write fails with EPIPE whatever the script's size.
#[test]
fn a_closed_stdout_is_a_quiet_exit() {
    use std::os::fd::FromRawFd;
    let (_d, conf) = conf_file(CONF);
    for args in [&["completion", "bash"][..], &["resolve", "fedora"]] {
        let mut fds = [0; 2];
        // SAFETY: pipe writes two fresh descriptors into the array; each is owned exactly once below.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        drop(unsafe { std::os::fd::OwnedFd::from_raw_fd(fds[0]) });
        let stdout = unsafe { std::os::fd::OwnedFd::from_raw_fd(fds[1]) };
        let empty = conf.parent().unwrap().join("no-dropins");
        let out = Command::new(bin("hoist"))
            .args(args)
            .env("CONTAINERS_REGISTRIES_CONF", &conf)
            .env("CONTAINERS_REGISTRIES_CONF_DIR", &empty)
            .stdout(std::process::Stdio::from(stdout))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: {err}");
    }
}
