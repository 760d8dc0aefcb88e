//! `hoist login` and `hoist pull` against servers that attack their client (harness::hostile): each case
//! ends with one clear error, within the timeout, in bounded memory.

use std::time::{Duration, Instant};

use harness::hoist::HoistWorld;
use harness::hostile::{Behaviour, CONTROL_TAGS, Hostile};
use harness::process::env_pair;

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
