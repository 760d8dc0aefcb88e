//! The protocol conformance table: the same inputs through one of our helpers and through the real
//! docker-credential-secretservice 0.6.4, asserting identical stdout, stderr and exit code at every step,
//! except the deliberate differences, each listed with its reason and with what ours must print instead.
//!
//! Used by every hoist helper's tests (file, keyring, vault): `check(&ours, &reference)`.

use crate::process::{Run, Subject};

/// One input to a helper.
pub struct Step {
    pub args: Vec<String>,
    pub input: Vec<u8>,
}

fn step(verb: &str, input: impl AsRef<[u8]>) -> Step {
    Step { args: vec![verb.to_owned()], input: input.as_ref().to_vec() }
}

fn args(args: &[&str]) -> Step {
    Step { args: args.iter().map(|s| s.to_string()).collect(), input: Vec::new() }
}

/// What ours must answer on the last step of a case that differs on purpose.
pub enum Expect {
    Exact(i32, &'static str),
    /// Exit code and a check of stdout, described for the failure message.
    Matches(i32, fn(&str) -> bool, &'static str),
}

pub struct Difference {
    pub reason: &'static str,
    pub ours: Expect,
    /// The Go helper's answer varies from run to run, so it is not required to differ.
    pub reference_varies: bool,
}

pub struct Case {
    pub name: &'static str,
    pub steps: Vec<Step>,
    /// Set when the LAST step differs from the Go helper on purpose.
    pub differs: Option<Difference>,
}

fn same(name: &'static str, steps: Vec<Step>) -> Case {
    Case { name, steps, differs: None }
}

fn differs(name: &'static str, steps: Vec<Step>, reason: &'static str, ours: Expect) -> Case {
    Case { name, steps, differs: Some(Difference { reason, ours, reference_varies: false }) }
}

impl Case {
    fn unpredictable_reference(mut self) -> Self {
        if let Some(d) = &mut self.differs {
            d.reference_varies = true;
        }
        self
    }
}

fn store(server: &str, user: &str, secret: &str) -> Step {
    let json = serde_json::json!({"ServerURL": server, "Username": user, "Secret": secret});
    step("store", json.to_string())
}

/// The table. Every case starts from an empty store.
pub fn cases() -> Vec<Case> {
    let big_secret = "s".repeat(70_000);
    vec![
        // Arguments and verbs.
        same("no arguments prints usage", vec![args(&[])]),
        same("two arguments print usage", vec![args(&["get", "extra"])]),
        same("unknown verb", vec![step("fetch", "")]),
        same("verbs are case-sensitive", vec![step("GET", "x.example")]),
        differs(
            "version",
            vec![step("version", "")],
            "names the hoist helper and its version instead of the Go package's",
            Expect::Matches(
                0,
                |s| {
                    s.starts_with("docker-credential-")
                        && s.contains(" (hoist) ")
                        && s.ends_with('\n')
                        && s.lines().count() == 1
                },
                "`docker-credential-NAME (hoist) VERSION`",
            ),
        ),
        differs(
            "--help",
            vec![args(&["--help"])],
            "users expect --help to explain the program and exit 0; Go 0.6.4 treats it as an unknown verb",
            Expect::Matches(0, |s| s.contains("Usage: docker-credential-") && s.contains("store"), "help text"),
        ),
        differs(
            "--version",
            vec![args(&["--version"])],
            "as --help: exit 0 with the version line",
            Expect::Matches(0, |s| s.contains(" (hoist) ") && s.lines().count() == 1, "the version line"),
        ),
        // Round trips.
        same("store then get", vec![store("reg.example", "alice", "pw"), step("get", "reg.example")]),
        same("get of a missing entry", vec![step("get", "missing.example")]),
        same("get trims a trailing newline", vec![store("reg.example", "alice", "pw"), step("get", "reg.example\n")]),
        same(
            "get trims spaces and CRLF",
            vec![store("reg.example", "alice", "pw"), step("get", "  reg.example \r\n\r\n")],
        ),
        same(
            "identity token round trip (HTML-safe escapes in output)",
            vec![
                store("https://auth.example/v1/", "<token>", "eyJhbGciOi.x&y<z>"),
                step("get", "https://auth.example/v1/"),
                step("list", ""),
            ],
        ),
        same(
            "escapes: quotes, backslash, control characters, U+2028, emoji",
            vec![
                store("esc.example", "u\"\\\u{8}\u{c}\u{1}\u{7f}\u{1f}", "a\tb\nc\u{2028}\u{2029}😀é"),
                step("get", "esc.example"),
            ],
        ),
        same(
            "store replaces",
            vec![
                store("r.example", "a", "1"),
                store("r.example", "a", "2"),
                step("get", "r.example"),
                step("list", ""),
            ],
        ),
        differs(
            "store under another username replaces",
            vec![store("r.example", "a", "1"), store("r.example", "b", "2"), step("get", "r.example")],
            "docker-credential-secretservice keeps one item per username and `get` returns either of them, \
             in keyring order; we keep one credential per registry, the latest",
            Expect::Exact(0, "{\"ServerURL\":\"r.example\",\"Username\":\"b\",\"Secret\":\"2\"}\n"),
        )
        .unpredictable_reference(),
        same("list of nothing", vec![step("list", "")]),
        same(
            "list is sorted by key",
            vec![
                store("z.example", "z", "1"),
                store("a.example:5000", "a", "2"),
                store("m.example/org", "m", "3"),
                step("list", ""),
            ],
        ),
        same(
            "erase then get",
            vec![store("e.example", "a", "1"), step("erase", "e.example"), step("get", "e.example"), step("list", "")],
        ),
        same("erase of a missing entry succeeds", vec![step("erase", "never.example")]),
        same(
            "erase trims its input",
            vec![store("t.example", "a", "1"), step("erase", "t.example\n"), step("get", "t.example")],
        ),
        same(
            "server keys are not trimmed on store",
            vec![store(" sp.example ", " ", "1"), step("get", " sp.example "), step("list", "")],
        ),
        same(
            "exact match: a port is part of the key",
            vec![store("p.example:5000", "a", "1"), step("get", "p.example")],
        ),
        same("path keys are kept apart", vec![store("quay.example/org", "a", "1"), step("get", "quay.example")]),
        // Go's decoding rules for store.
        same(
            "field names match case-insensitively and trailing data is ignored",
            vec![
                step("store", r#"{"serverurl":"ci.example","USERNAME":"u","secret":"p"} trailing"#),
                step("get", "ci.example"),
            ],
        ),
        same(
            "a duplicate field: the last one wins",
            vec![
                step("store", r#"{"ServerURL":"d1.example","Username":"u","Secret":"p","ServerURL":"d2.example"}"#),
                step("list", ""),
            ],
        ),
        same(
            "lines are joined before decoding",
            vec![
                step("store", "{\"ServerURL\":\r\n\"ml.example\",\n\"Username\":\"u\",\"Secret\":\"p\"}\n"),
                step("get", "ml.example"),
            ],
        ),
        same(
            "unknown fields are ignored",
            vec![
                step("store", r#"{"ServerURL":"uf.example","Username":"u","Secret":"p","Extra":[1,{}]}"#),
                step("get", "uf.example"),
            ],
        ),
        same("empty input", vec![step("store", "")]),
        same("whitespace input", vec![step("store", " \n\t ")]),
        same("truncated JSON", vec![step("store", r#"{"ServerURL":"x","Username":"u""#)]),
        same("JSON array", vec![step("store", "[1,2]")]),
        same("JSON string", vec![step("store", r#""reg.example""#)]),
        same("JSON number", vec![step("store", "42")]),
        same("JSON bool", vec![step("store", "true")]),
        same("JSON null", vec![step("store", "null")]),
        same("ServerURL of the wrong type", vec![step("store", r#"{"ServerURL":5,"Username":"u","Secret":"p"}"#)]),
        same("Username of the wrong type", vec![step("store", r#"{"ServerURL":"x","Username":["u"],"Secret":"p"}"#)]),
        same("Secret of the wrong type", vec![step("store", r#"{"ServerURL":"x","Username":"u","Secret":{"a":1}}"#)]),
        same("Secret as a boolean", vec![step("store", r#"{"ServerURL":"x","Username":"u","Secret":false}"#)]),
        same("missing ServerURL", vec![step("store", r#"{"Username":"u","Secret":"p"}"#)]),
        same("empty ServerURL", vec![step("store", r#"{"ServerURL":"","Username":"u","Secret":"p"}"#)]),
        same("null ServerURL", vec![step("store", r#"{"ServerURL":null,"Username":"u","Secret":"p"}"#)]),
        same("missing Username", vec![step("store", r#"{"ServerURL":"x","Secret":"p"}"#)]),
        same("empty Username", vec![step("store", r#"{"ServerURL":"x","Username":"","Secret":"p"}"#)]),
        same("get without a server", vec![step("get", "")]),
        same("get with only whitespace", vec![step("get", " \n ")]),
        same("erase without a server", vec![step("erase", "\n")]),
        same(
            "failed store leaves the store unchanged",
            vec![store("keep.example", "a", "1"), step("store", "{"), step("list", "")],
        ),
        // Deliberate differences.
        differs(
            "syntax error",
            vec![step("store", r#"{"ServerURL":"x","Secret":"canary" oops}"#)],
            "Go quotes the offending character (`invalid character 'o' after object key:value pair`); we give the \
             position only, since the input may hold a secret",
            Expect::Exact(1, "invalid JSON input: syntax error at line 1 column 36\n"),
        ),
        differs(
            "invalid UTF-8",
            vec![step("store", b"{\"ServerURL\":\"u8.example\",\"Username\":\"u\",\"Secret\":\"p\xff\"}")],
            "Go silently replaces invalid UTF-8 with U+FFFD and stores a secret that no longer works; we refuse it",
            Expect::Exact(1, "input is not valid UTF-8\n"),
        ),
        differs(
            "a lone surrogate escape",
            vec![step("store", r#"{"ServerURL":"ls.example","Username":"u","Secret":"\ud800"}"#)],
            "as invalid UTF-8: Go stores U+FFFD instead of what was sent; we refuse it",
            Expect::Matches(
                1,
                |s| s.starts_with("invalid JSON input: syntax error") && s.lines().count() == 1,
                "a syntax error line",
            ),
        ),
        differs(
            "an empty secret is returned as stored",
            vec![store("empty.example", "u", ""), step("get", "empty.example")],
            "docker-credential-secretservice stores the item but then cannot find it (gnome-keyring has no empty \
             secrets); we return what was stored",
            Expect::Exact(0, "{\"ServerURL\":\"empty.example\",\"Username\":\"u\",\"Secret\":\"\"}\n"),
        ),
        differs(
            "secrets over 64 KiB",
            vec![store("big.example", "u", &big_secret)],
            "Go's line scanner fails on input lines over 64 KiB (`bufio.Scanner: token too long`); docker's OAuth \
             tokens can be longer, so we accept up to 1 MiB",
            Expect::Exact(0, ""),
        ),
        differs(
            "input over the limit",
            vec![step("store", format!(r#"{{"ServerURL":"x","Username":"u","Secret":"{}"}}"#, "s".repeat(1_200_000)))],
            "both refuse; ours says why (Go: `bufio.Scanner: token too long`)",
            Expect::Matches(
                1,
                |s| s.starts_with("input is larger than") && s.lines().count() == 1,
                "`input is larger than ...`",
            ),
        ),
        differs(
            "Docker Hub under docker's key is found as docker.io",
            vec![store("https://index.docker.io/v1/", "hubuser", "pw"), step("get", "docker.io")],
            "the docker CLI stores Docker Hub as https://index.docker.io/v1/, podman asks for docker.io: after an \
             exact match fails we match normalised keys (docs/protocol.md)",
            Expect::Exact(0, "{\"ServerURL\":\"docker.io\",\"Username\":\"hubuser\",\"Secret\":\"pw\"}\n"),
        ),
        differs(
            "scheme and trailing slash do not split a registry",
            vec![store("https://norm.example/", "u", "pw"), step("get", "norm.example")],
            "normalised match, as above",
            Expect::Exact(0, "{\"ServerURL\":\"norm.example\",\"Username\":\"u\",\"Secret\":\"pw\"}\n"),
        ),
        differs(
            "one registry holds one credential",
            vec![store("https://index.docker.io/v1/", "old", "1"), store("docker.io", "new", "2"), step("list", "")],
            "store replaces every key of the same registry, so a later erase cannot leave a stale credential behind",
            Expect::Exact(0, "{\"docker.io\":\"new\"}\n"),
        ),
        differs(
            "erase removes every key of the registry",
            vec![store("https://index.docker.io/v1/", "u", "1"), step("erase", "docker.io"), step("list", "")],
            "as above: `podman logout docker.io` also logs out what `docker login` stored",
            Expect::Exact(0, "{}\n"),
        ),
    ]
}

fn program_of(subject: &dyn Subject) -> String {
    subject.command().get_program().to_string_lossy().into_owned()
}

fn normalised(run: &Run, program: &str) -> (Option<i32>, String, String) {
    (run.code, run.out().replace(program, "PROGRAM"), run.err().replace(program, "PROGRAM"))
}

/// Runs the whole table. Panics listing every case that failed.
pub fn check(ours: &dyn Subject, reference: &dyn Subject) {
    let (our_prog, ref_prog) = (program_of(ours), program_of(reference));
    let mut failures = Vec::new();
    let all = cases();
    for case in &all {
        ours.reset();
        reference.reset();
        for (i, step) in case.steps.iter().enumerate() {
            let args: Vec<&str> = step.args.iter().map(String::as_str).collect();
            let a = ours.run(&args, &step.input);
            let b = reference.run(&args, &step.input);
            let (a, b) = (normalised(&a, &our_prog), normalised(&b, &ref_prog));
            if a.0 == Some(101) || a.1.contains("internal error") || a.2.contains("panicked") {
                failures.push(format!("{}: step {i} panicked: {a:?}", case.name));
                break;
            }
            let last = i + 1 == case.steps.len();
            match (&case.differs, last) {
                (Some(d), true) => {
                    let ok = match &d.ours {
                        Expect::Exact(code, out) => a.0 == Some(*code) && a.1 == *out,
                        Expect::Matches(code, f, _) => a.0 == Some(*code) && f(&a.1),
                    };
                    if !ok {
                        let want = match &d.ours {
                            Expect::Exact(code, out) => format!("exit {code}, stdout {out:?}"),
                            Expect::Matches(code, _, what) => format!("exit {code}, {what}"),
                        };
                        failures.push(format!("{}: ours gave {a:?}, want {want}", case.name));
                    }
                    if !a.2.is_empty() {
                        failures.push(format!("{}: ours wrote to stderr: {:?}", case.name, a.2));
                    }
                    if !d.reference_varies && a.0 == b.0 && a.1 == b.1 {
                        failures.push(format!(
                            "{}: listed as a deliberate difference ({}) but {} now answers the same: {b:?}",
                            case.name,
                            d.reason,
                            reference.name()
                        ));
                    }
                }
                _ => {
                    if a != b {
                        failures.push(format!(
                            "{} (step {i}, {:?}): {} gave {a:?}, {} gave {b:?}",
                            case.name,
                            step.args,
                            ours.name(),
                            reference.name()
                        ));
                        break;
                    }
                }
            }
        }
    }
    ours.reset();
    reference.reset();
    assert!(
        failures.is_empty(),
        "{} of {} conformance cases failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

/// docker-credential-secretservice 0.6.4 on a private Secret Service: the reference every helper is held to.
pub struct GoSecretService {
    pub program: std::path::PathBuf,
    pub env: crate::process::Env,
}

impl GoSecretService {
    pub fn new(ss: &crate::secret_service::SecretService) -> Self {
        let program = crate::require("docker-credential-secretservice", "golang-docker-credential-helpers");
        GoSecretService { program, env: ss.env() }
    }
}

impl Subject for GoSecretService {
    fn name(&self) -> String {
        "docker-credential-secretservice".into()
    }
    fn command(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(&self.program);
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }
    fn reset(&self) {
        // Every item the Go helper writes carries docker_cli=1; `erase` cannot reach keys with surrounding spaces.
        clear_docker_items(&self.env);
        let list = self.run(&["list"], b"");
        assert_eq!(list.out(), "{}\n", "the keyring still holds docker items after clearing");
    }
}

/// Removes every docker-credential-secretservice style item (attribute docker_cli=1) from the keyring.
pub fn clear_docker_items(env: &crate::process::Env) {
    crate::require("secret-tool", "libsecret-tools");
    let mut cmd = std::process::Command::new("secret-tool");
    cmd.args(["clear", "docker_cli", "1"]).envs(env.iter().map(|(k, v)| (k, v)));
    let out = crate::run(&mut cmd, b""); // exit 1 when nothing matched
    assert!(matches!(out.code, Some(0 | 1)), "secret-tool clear failed: {}", out.err());
}
