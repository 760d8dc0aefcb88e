//! `hoist login` and `hoist pull` against servers that attack their client (harness::hostile): each case
//! ends with one clear error, within the timeout, in bounded memory. And registries that hand hoist URLs on
//! another origin (harness::fake_registry): the credentials never follow them.

use std::time::{Duration, Instant};

use harness::fake_registry::{FakeRegistry, Fault};
use harness::hoist::HoistWorld;
use harness::hostile::{Behaviour, CONTROL_TAGS, Hostile};
use harness::image::{ImageSpec, write_layout};
use harness::process::env_pair;
use harness::registry::{Options, Registry};

/// The largest resident set of any child that has ended, in KiB (Linux reports ru_maxrss in KiB).
fn children_max_rss_kib() -> i64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct we own.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) }, 0);
    usage.ru_maxrss
}

fn attack(behaviour: Behaviour, args: &[&str], must: &[&str]) {
    let server = Hostile::start(behaviour);
    let host = server.host();
    let w = HoistWorld::new(&format!(
        "unqualified-search-registries = []\n[[registry]]\nlocation = \"{host}\"\ninsecure = true\n"
    ));
    let args: Vec<String> = args.iter().map(|a| a.replace("HOST", &host)).collect();
    let mut all = vec!["--timeout", "2"];
    all.extend(args.iter().map(String::as_str));
    let started = Instant::now();
    let env = vec![env_pair("HOIST_TIMEOUT", "2")];
    let out = w.run(&all, b"pw-canary", &env);
    let took = started.elapsed();
    assert_ne!(out.code, Some(0), "{behaviour:?}: {out:?}");
    assert!(took < Duration::from_secs(15), "{behaviour:?} took {took:?}");
    let err = out.err();
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("Error:")).collect();
    assert_eq!(errors.len(), 1, "{behaviour:?}: {err}");
    for m in must {
        let m = m.replace("HOST", &host);
        assert!(errors[0].contains(&m), "{behaviour:?}: {m:?} not in {}", errors[0]);
    }
    assert!(!err.contains("pw-canary") && !err.contains("panicked"), "{err}");
    let rss = children_max_rss_kib();
    assert!(rss < 200 * 1024, "{behaviour:?}: a child reached {rss} KiB");
}

const LOGIN: &[&str] = &["login", "--tls-verify=false", "-u", "user", "--password-stdin", "HOST"];

#[test]
fn a_silent_server() {
    attack(Behaviour::Silent, LOGIN, &["no answer within 2 s"]);
    attack(Behaviour::Silent, &["pull", "HOST/lib/app:v1"], &["HOST/lib/app:v1", "no answer within 2 s"]);
}

#[test]
fn dripped_headers() {
    attack(Behaviour::DripHeaders, LOGIN, &["no answer within 2 s"]);
}

#[test]
fn a_stalled_token_endpoint() {
    attack(Behaviour::StalledToken, LOGIN, &["token", "no answer within 2 s"]);
}

#[test]
fn an_endless_token_body_is_cut_at_its_limit() {
    attack(Behaviour::EndlessToken, LOGIN, &["larger than the 1048576-byte limit"]);
}

#[test]
fn a_redirect_loop() {
    attack(Behaviour::RedirectLoop, LOGIN, &["redirect"]);
    attack(Behaviour::RedirectLoop, &["pull", "HOST/lib/app:v1"], &["redirect"]);
}

#[test]
fn a_megabyte_header() {
    attack(Behaviour::HugeHeader, LOGIN, &["HOST"]);
}

/// What a terminal would act on: ESC, BEL, CR, C1 controls (a newline is fine only between lines).
fn steers_a_terminal(text: &str) -> bool {
    text.chars().any(|c| c.is_control() && c != '\n')
}

#[test]
fn server_text_is_escaped_before_it_reaches_the_terminal() {
    // A registry error message with ESC sequences, a carriage return and a faked `Error:` line: one line, inert.
    attack(Behaviour::ControlText, &["pull", "HOST/lib/app:v1"], &["manifest gone\\u{1b}[2J", "\\r\\nError: a faked"]);
    let server = Hostile::start(Behaviour::ControlText);
    let host = server.host();
    let w = HoistWorld::new(&format!(
        "unqualified-search-registries = []\n[[registry]]\nlocation = \"{host}\"\ninsecure = true\n"
    ));
    let out = w.run(&["pull", &format!("{host}/lib/app:v1")], b"", &vec![]);
    assert_ne!(out.code, Some(0));
    assert!(!steers_a_terminal(&out.err()), "{:?}", out.err());
    assert_eq!(out.err().lines().filter(|l| l.contains("Error:")).count(), 1, "{}", out.err());

    // Tag names: one escaped line each in text; exact in JSON.
    let text = w.run(&["list-tags", "--format", "text", &format!("{host}/lib/app")], b"", &vec![]);
    assert_eq!(text.code, Some(0), "{text:?}");
    let stdout = text.out();
    assert!(!steers_a_terminal(&stdout), "{stdout:?}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines, ["v1", "t\\u{1b}]0;pwned\\u{7}", "two\\nError: faked", "cr\\rOK", "c1\\u{9b}31m"]);
    let json = w.run(&["list-tags", &format!("{host}/lib/app")], b"", &vec![]);
    assert_eq!(json.code, Some(0), "{json:?}");
    let listing: serde_json::Value = serde_json::from_str(&json.out()).unwrap();
    let tags: Vec<&str> = listing["Tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert_eq!(tags, CONTROL_TAGS, "JSON output keeps the exact strings");
}

// ---- URLs on another origin, and other registry answers (issue 17) -------------------------------------

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// A fake registry serving a small image as `lib/app:v1` (its layout in the returned directory).
fn fake_registry() -> (tempfile::TempDir, FakeRegistry) {
    let dir = tempfile::Builder::new().prefix("hoist-origin-").tempdir().unwrap();
    let arch = if cfg!(target_arch = "aarch64") { "arm64" } else { "amd64" };
    write_layout(dir.path(), "v1", &[ImageSpec::random(arch, 2, 50_000, 7)]);
    let reg = FakeRegistry::start(dir.path(), OCI_MANIFEST);
    (dir, reg)
}

/// A world whose registries.conf marks `hosts` insecure (plain HTTP).
fn world(hosts: &[String]) -> HoistWorld {
    let mut conf = "unqualified-search-registries = []\n".to_owned();
    for h in hosts {
        conf.push_str(&format!("[[registry]]\nlocation = \"{h}\"\ninsecure = true\n"));
    }
    HoistWorld::new(&conf)
}

fn no_panic(out: &harness::Run) {
    assert!(out.code != Some(101) && !out.err().contains("panicked"), "rc {:?}: {}", out.code, out.err());
}

#[test]
fn a_push_whose_upload_goes_elsewhere_sends_no_credentials_there() {
    let (_dir, reg) = fake_registry();
    let (_dir2, other) = fake_registry();
    reg.require_basic("user:pw-canary");
    reg.uploads_at(&other.url());
    let w = world(&[reg.host(), other.host()]);
    let creds = "user:pw-canary";
    let image = format!("{}/lib/app:v1", reg.host());
    w.run(&["pull", "--creds", creds, &image], b"", &vec![]).expect_ok("pull");
    let dest = format!("{}/push/app:v1", reg.host());
    let out = w.run(&["push", "--creds", creds, &image, &dest], b"", &vec![]);
    no_panic(&out);
    let out = out.expect_ok("push: the other origin takes the upload without credentials");
    let uploads: Vec<_> = other.seen().into_iter().filter(|s| s.method == "PUT").collect();
    assert!(!uploads.is_empty(), "the blobs went to the other origin: {:?}", other.seen());
    for s in other.seen() {
        assert_eq!(s.authorization, None, "{} {} carried credentials to another origin", s.method, s.path);
    }
    let posts: Vec<_> = reg.seen().into_iter().filter(|s| s.method == "POST").collect();
    assert!(!posts.is_empty() && posts.iter().all(|s| s.authorization.is_some()), "the registry gets them: {posts:?}");
    assert!(!out.err().contains("pw-canary"));
}

#[test]
fn a_tag_list_link_to_another_origin_sends_no_credentials_there() {
    let (_dir, reg) = fake_registry();
    let (_dir2, other) = fake_registry();
    reg.require_basic("user:pw-canary");
    reg.links_to(&other.url());
    let w = world(&[reg.host(), other.host()]);
    let repo = format!("{}/lib/app", reg.host());
    let out =
        w.run(&["list-tags", "--creds", "user:pw-canary", "--page-size", "2", "--format", "text", &repo], b"", &vec![]);
    no_panic(&out);
    assert_eq!(out.expect_ok("list-tags").out(), "v1\nv2\nv3\nv4\nv5\n");
    let pages = other.seen();
    assert_eq!(pages.len(), 2, "the later pages came from the other origin: {pages:?}");
    for s in pages {
        assert_eq!(s.authorization, None, "{} {} carried credentials to another origin", s.method, s.path);
    }
}

#[test]
fn a_huge_timeout_is_clamped_not_a_panic() {
    let (_dir, reg) = fake_registry();
    let w = world(&[reg.host()]);
    let repo = format!("{}/lib/app", reg.host());
    let huge = u64::MAX.to_string();
    let out = w.run(&["--timeout", &huge, "list-tags", "--format", "text", &repo], b"", &vec![]);
    no_panic(&out);
    assert_eq!(out.expect_ok("list-tags --timeout u64::MAX").out(), "v1\nv2\nv3\nv4\nv5\n");
    for value in [huge.as_str(), "99999999999999999999999999"] {
        let out = w.run(&["list-tags", "--format", "text", &repo], b"", &vec![env_pair("HOIST_TIMEOUT", value)]);
        no_panic(&out);
        out.expect_ok("list-tags with a huge HOIST_TIMEOUT");
    }
}

#[test]
fn a_long_retry_after_is_announced() {
    let (_dir, reg) = fake_registry();
    reg.fault("/tags/list", vec![Fault::TooMany(3)]);
    let w = world(&[reg.host()]);
    let started = Instant::now();
    let out = w.run(&["list-tags", "--format", "text", &format!("{}/lib/app", reg.host())], b"", &vec![]);
    let out = out.expect_ok("list-tags after a 429");
    assert!(started.elapsed() >= Duration::from_secs(3), "Retry-After: 3 was honoured");
    let err = out.err();
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("Warning:")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(warnings[0].contains("answered 429") && warnings[0].contains("waiting 3 s"), "{err}");
}

#[test]
fn a_login_over_plain_http_warns_that_the_password_travels_in_clear() {
    let (_dir, reg) = fake_registry();
    reg.require_basic("user:pw-canary");
    let w = world(&[reg.host()]);
    let out = w.run(&["login", "-u", "user", "--password-stdin", &reg.host()], b"pw-canary", &vec![]);
    let out = out.expect_ok("login");
    assert!(out.out().contains("Login Succeeded!"), "{}", out.out());
    let err = out.err();
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("Warning:")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(warnings[0].contains("plain HTTP") && warnings[0].contains("clear text"), "{err}");
    assert!(warnings[0].contains(&reg.host()) && !err.contains("pw-canary"), "{err}");
}

#[test]
fn a_tls_registry_that_hands_uploads_to_plain_http_is_refused() {
    // distribution with `http.host` set to a plain-HTTP server: its upload Locations lead there.
    let (_dir, other) = fake_registry();
    let reg = Registry::start(Options {
        tls: true,
        users: vec![("user".into(), "pw-canary".into())],
        external_url: Some(other.url()),
        ..Default::default()
    });
    let w = world(&[other.host()]);
    let image = format!("{}/lib/app:v1", other.host());
    w.run(&["pull", &image], b"", &vec![]).expect_ok("pull from the plain-HTTP server");
    let before = other.seen().len();
    let cert_dir = reg.cert_dir.as_ref().unwrap().to_str().unwrap().to_owned();
    let dest = format!("{}/x/app:v1", reg.host());
    let out = w.run(&["push", "--creds", "user:pw-canary", "--cert-dir", &cert_dir, &image, &dest], b"", &vec![]);
    no_panic(&out);
    assert_ne!(out.code, Some(0), "the push must fail: {}", out.err());
    let err = out.err();
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("Error:")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    let names_both = errors[0].contains(&format!("https://{}", reg.host()))
        && errors[0].contains(&format!("plain HTTP at {}", other.url()));
    assert!(names_both, "{err}");
    assert!(!err.contains("pw-canary") && !err.contains("_state="), "{err}");
    let after: Vec<_> = other.seen().into_iter().skip(before).collect();
    assert!(after.is_empty(), "nothing went to the plain-HTTP URL: {after:?}");
}
