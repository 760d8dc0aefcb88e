//! Bad input every helper must refuse the same way: exit 1, one line on stdout, nothing on stderr, no panic,
//! and never the secret that was part of the input.

use crate::process::Run;

/// A secret string planted in bad inputs; it must never appear in any output.
pub const CANARY: &str = "Canary-S3cret-9f2b7d";

/// (name, arguments, stdin): at least 20 kinds of bad input, most of them carrying [`CANARY`].
pub fn cases() -> Vec<(&'static str, Vec<&'static str>, Vec<u8>)> {
    let c = CANARY;
    vec![
        ("no verb", vec![], vec![]),
        ("two verbs", vec!["store", "get"], vec![]),
        ("unknown verb", vec!["steal"], c.as_bytes().to_vec()),
        ("empty store input", vec!["store"], vec![]),
        ("whitespace store input", vec!["store"], b"  \n ".to_vec()),
        ("not JSON", vec!["store"], format!("ServerURL={c}").into_bytes()),
        ("truncated JSON", vec!["store"], format!(r#"{{"ServerURL":"x","Username":"u","Secret":"{c}"#).into_bytes()),
        (
            "syntax error after the secret",
            vec!["store"],
            format!(r#"{{"ServerURL":"x","Secret":"{c}" "Username":"u"}}"#).into_bytes(),
        ),
        ("JSON array", vec!["store"], format!(r#"["{c}"]"#).into_bytes()),
        ("JSON string", vec!["store"], format!(r#""{c}""#).into_bytes()),
        ("JSON number", vec!["store"], b"12345".to_vec()),
        ("missing ServerURL", vec!["store"], format!(r#"{{"Username":"u","Secret":"{c}"}}"#).into_bytes()),
        ("empty ServerURL", vec!["store"], format!(r#"{{"ServerURL":"","Username":"u","Secret":"{c}"}}"#).into_bytes()),
        ("missing Username", vec!["store"], format!(r#"{{"ServerURL":"x","Secret":"{c}"}}"#).into_bytes()),
        ("empty Username", vec!["store"], format!(r#"{{"ServerURL":"x","Username":"","Secret":"{c}"}}"#).into_bytes()),
        (
            "Secret of the wrong type",
            vec!["store"],
            format!(r#"{{"ServerURL":"{c}","Username":"u","Secret":["{c}"]}}"#).into_bytes(),
        ),
        (
            "Username of the wrong type",
            vec!["store"],
            format!(r#"{{"ServerURL":"x","Username":{{"a":"{c}"}},"Secret":"p"}}"#).into_bytes(),
        ),
        (
            "invalid UTF-8",
            vec!["store"],
            [format!(r#"{{"ServerURL":"x","Username":"u","Secret":"{c}"#).as_bytes(), b"\xff\xfe\"}"].concat(),
        ),
        (
            "lone surrogate",
            vec!["store"],
            format!(r#"{{"ServerURL":"x","Username":"u","Secret":"{c}\udc00"}}"#).into_bytes(),
        ),
        ("bad escape", vec!["store"], format!(r#"{{"ServerURL":"x","Username":"u","Secret":"{c}\q"}}"#).into_bytes()),
        (
            "raw control character in a string",
            vec!["store"],
            format!("{{\"ServerURL\":\"x\",\"Username\":\"u\",\"Secret\":\"{c}\u{1}\"}}").into_bytes(),
        ),
        (
            "object key not a string",
            vec!["store"],
            format!(r#"{{ServerURL:"x","Username":"u","Secret":"{c}"}}"#).into_bytes(),
        ),
        (
            "input over the limit",
            vec!["store"],
            format!(r#"{{"ServerURL":"x","Username":"u","Secret":"{c}{}"}}"#, "a".repeat(1_200_000)).into_bytes(),
        ),
        ("NUL bytes", vec!["store"], [c.as_bytes(), b"\0\0{}"].concat()),
        ("get without a server", vec!["get"], vec![]),
        ("get with whitespace only", vec!["get"], b" \r\n\t".to_vec()),
        ("get of invalid UTF-8", vec!["get"], b"reg\xff.example".to_vec()),
        ("get of a missing server", vec!["get"], b"missing.example".to_vec()),
        ("erase without a server", vec!["erase"], b"\n".to_vec()),
        ("erase over the limit", vec!["erase"], vec![b'a'; 1_200_000]),
    ]
}

/// Panics unless `out` is a clean failure: exit 1, one non-empty line on stdout, empty stderr, no panic, no
/// secret.
pub fn assert_clean_failure(name: &str, out: &Run) {
    assert_eq!(out.code, Some(1), "{name}: exit code; stdout {:?}", out.out());
    let text = out.out();
    assert_eq!(text.lines().count(), 1, "{name}: want one line, got {text:?}");
    assert!(text.ends_with('\n') && !text.trim().is_empty(), "{name}: {text:?}");
    assert!(out.stderr.is_empty(), "{name}: stderr {:?}", out.err());
    assert!(!text.contains("internal error") && !text.contains("panicked"), "{name}: {text}");
    assert!(!text.contains(CANARY) && !text.contains("Canary"), "{name}: the secret leaked: {text}");
}

#[test]
fn there_are_at_least_twenty_kinds() {
    assert!(cases().len() >= 20);
}
