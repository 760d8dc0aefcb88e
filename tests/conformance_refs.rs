//! hoist-core's reference, `.dockerignore` and manifest parsers against the test tables their reference
//! implementations ship: distribution/reference, moby/patternmatcher and the OCI image-spec's schema
//! examples, transcribed into `tests/data/{reference,patternmatcher,image-spec}/cases.json` (see the README
//! there for the upstream commits and licence).
//!
//! Each suite runs every case through hoist-core's public functions, prints its counts (cases, agreed,
//! deliberate differences with their reasons) and fails on any disagreement not listed as deliberate, and
//! on a listed difference that no longer differs (the list must stay true).

use std::path::PathBuf;

use hoist_core::build::dockerignore;
use hoist_core::image::{Descriptor, Manifest, media_type};
use hoist_core::reference::{Reference, looks_like_domain};
use serde_json::Value;

fn load(suite: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data").join(suite).join("cases.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn cases<'a>(doc: &'a Value, table: &str) -> &'a [Value] {
    doc[table]["cases"].as_array().unwrap_or_else(|| panic!("no table {table}"))
}

fn s<'a>(case: &'a Value, field: &str) -> &'a str {
    case[field].as_str().unwrap_or("")
}

/// Counts one suite's outcomes and checks them against its list of deliberate differences.
struct Tally {
    suite: &'static str,
    deliberate: &'static [(&'static str, &'static str)],
    cases: usize,
    agreed: usize,
    differed: Vec<String>,
    unexplained: Vec<String>,
}

impl Tally {
    fn new(suite: &'static str, deliberate: &'static [(&'static str, &'static str)]) -> Tally {
        Tally { suite, deliberate, cases: 0, agreed: 0, differed: Vec::new(), unexplained: Vec::new() }
    }

    /// One case: `key` names it (the table and its input), `problem` is `None` when hoist agrees.
    fn case(&mut self, key: String, problem: Option<String>) {
        self.cases += 1;
        match (problem, self.deliberate.iter().find(|(k, _)| *k == key)) {
            (None, None) => self.agreed += 1,
            (None, Some(_)) => self.unexplained.push(format!("{key}: listed as a deliberate difference but agrees")),
            (Some(p), Some((_, why))) => self.differed.push(format!("{key}: {p}\n      why: {why}")),
            (Some(p), None) => self.unexplained.push(format!("{key}: {p}")),
        }
    }

    fn finish(self) {
        println!(
            "{}: {} cases, {} agreed, {} deliberate differences, {} unexplained",
            self.suite,
            self.cases,
            self.agreed,
            self.differed.len(),
            self.unexplained.len()
        );
        for d in &self.differed {
            println!("  deliberate: {d}");
        }
        for u in &self.unexplained {
            println!("  UNEXPLAINED: {u}");
        }
        assert!(self.cases > 0, "{}: no cases read", self.suite);
        assert!(self.unexplained.is_empty(), "{}: {} unexplained disagreements", self.suite, self.unexplained.len());
    }
}

/// What hoist's normalised parse gave, for comparing with an expectation.
fn describe(r: &Result<Reference, hoist_core::reference::ReferenceError>) -> String {
    match r {
        Ok(r) => format!("ok {r}"),
        Err(e) => format!("error {e:?}"),
    }
}

/// distribution/reference's own length limit is on the path; containers/image's fork (what podman and
/// skopeo parse with) limits domain + `/` + path, and hoist follows podman.
const TOTAL_LENGTH: &str = "containers/image's docker/reference (podman, skopeo) limits domain + '/' + path to 255 \
                            characters; distribution/reference since v0.6 limits only the path. hoist follows \
                            podman, so a name podman refuses is refused here too";

/// The test binary of distribution/reference does not link crypto/sha512, so go-digest does not know it there.
const SHA512: &str = "hoist verifies sha384 and sha512 digests, as go-digest does in any program that links \
                      crypto/sha512 (skopeo and podman do); distribution's test binary does not, so its table \
                      expects ErrDigestUnsupported";

#[test]
fn distribution_reference_tables() {
    let doc = load("reference");
    let long_a = format!("parse:example.com/{}:tag", "a".repeat(255));
    let long_path = format!("parse:{}a:tag-puts-this-over-max", "a/".repeat(127));
    let deliberate: &'static [(&'static str, &'static str)] = Box::leak(Box::new([
        (&*Box::leak(long_a.into_boxed_str()), TOTAL_LENGTH),
        (&*Box::leak(long_path.into_boxed_str()), TOTAL_LENGTH),
        (&*Box::leak(format!("parse:validname@sha512:{}", "f".repeat(128)).into_boxed_str()), SHA512),
    ]));
    let mut t = Tally::new("distribution/reference", deliberate);

    // reference.Parse cases, through the normalising parse: the same verdict, and on success the same
    // repository (normalised as docker does when its first component is no domain), tag and digest.
    for c in cases(&doc, "parse") {
        let input = s(c, "input");
        let got = Reference::parse_normalized(input);
        let want_err = !c["err"].is_null();
        let problem = match (&got, want_err) {
            (Err(_), true) => None,
            (Ok(_), true) => Some(format!("expected {}, got {}", s(c, "err"), describe(&got))),
            (Err(_), false) => Some(format!("expected success, got {}", describe(&got))),
            (Ok(r), false) => {
                let (domain, repo) = (s(c, "domain"), s(c, "repository"));
                let name = if !domain.is_empty() && looks_like_domain(domain) {
                    repo.replacen("index.docker.io/", "docker.io/", 1)
                } else if repo.contains('/') {
                    format!("docker.io/{repo}")
                } else {
                    format!("docker.io/library/{repo}")
                };
                let want = (name, s(c, "tag").to_owned(), s(c, "digest").to_owned());
                let have = (
                    r.name(),
                    r.tag().unwrap_or("").to_owned(),
                    r.digest().map(ToString::to_string).unwrap_or_default(),
                );
                (want != have).then(|| format!("expected {want:?}, got {have:?}"))
            }
        };
        t.case(format!("parse:{input}"), problem);
    }

    // reference.ParseNamed: only the canonical string itself parses.
    for c in cases(&doc, "parse_named") {
        let input = s(c, "input");
        let got = Reference::parse_qualified(input);
        let problem = match (&got, c["err"].as_str()) {
            (Err(hoist_core::reference::ReferenceError::NameNotCanonical), Some("ErrNameNotCanonical")) => None,
            (_, Some(e)) => Some(format!("expected {e}, got {}", describe(&got))),
            (Ok(r), None) if r.domain() == s(c, "domain") && r.path() == s(c, "path") => None,
            (_, None) => Some(format!("expected {}/{}, got {}", s(c, "domain"), s(c, "path"), describe(&got))),
        };
        t.case(format!("parse_named:{input}"), problem);
    }

    for (table, valid) in [("valid_names", true), ("invalid_names", false)] {
        for c in cases(&doc, table) {
            let input = c.as_str().unwrap();
            let got = Reference::parse_normalized(input);
            t.case(format!("{table}:{input}"), (got.is_ok() != valid).then(|| describe(&got)));
        }
    }

    // ParseNormalizedNamed of each spelling: the familiar name, the full name, the domain and the path.
    for c in cases(&doc, "repository_info") {
        for field in ["FamiliarName", "FullName", "AmbiguousName"] {
            let input = s(c, field);
            if input.is_empty() {
                continue;
            }
            let got = Reference::parse_normalized(input);
            let want = [s(c, "FamiliarName"), s(c, "FullName"), s(c, "Domain"), s(c, "RemoteName")];
            let problem = match &got {
                Ok(r) => {
                    let have = [r.familiar_string(), r.to_string(), r.domain().to_owned(), r.path().to_owned()];
                    (have != want).then(|| format!("expected {want:?}, got {have:?}"))
                }
                Err(_) => Some(format!("expected {want:?}, got {}", describe(&got))),
            };
            t.case(format!("repository_info:{input}"), problem);
        }
    }
    t.finish();
}

#[test]
fn patternmatcher_tables() {
    let doc = load("patternmatcher");
    let mut t = Tally::new("moby/patternmatcher", &[]);
    for table in ["matches", "multi_pattern"] {
        for c in cases(&doc, table) {
            let patterns: Vec<&str> = c["patterns"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
            let (text, pass) = (s(c, "text"), c["pass"].as_bool().unwrap());
            let problem = match dockerignore::parse(&patterns.join("\n")) {
                Ok(ig) => (ig.is_excluded(text) != pass).then(|| format!("expected {pass}, got {}", !pass)),
                Err(e) => Some(format!("expected {pass}, got the error {e}")),
            };
            t.case(format!("{table}:{patterns:?} {text:?}"), problem);
        }
    }
    // The one-case test functions (a lone `!`, a malformed pattern: an error; no patterns: no match).
    for c in cases(&doc, "functions") {
        let patterns: Vec<&str> = c["patterns"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
        let (text, pass, want_err) = (s(c, "text"), c["pass"].as_bool().unwrap(), c["err"].as_bool().unwrap());
        let problem = match (dockerignore::parse(&patterns.join("\n")), want_err) {
            (Err(_), true) => None,
            (Ok(_), true) => Some("expected an error, the patterns were accepted".to_owned()),
            (Err(e), false) => Some(format!("expected {pass}, got the error {e}")),
            (Ok(ig), false) => (ig.is_excluded(text) != pass).then(|| format!("expected {pass}, got {}", !pass)),
        };
        t.case(format!("{}:{patterns:?} {text:?}", s(c, "test")), problem);
    }
    // Go's filepath.Match tests as patternmatcher runs them (Matches(s, [pattern])): a bad pattern is an error.
    for c in cases(&doc, "match") {
        let (pattern, text, want) = (s(c, "pattern"), s(c, "text"), c["match"].as_bool().unwrap());
        let want_err = !c["err"].is_null();
        let problem = match (dockerignore::parse(pattern), want_err) {
            (Err(_), true) => None,
            (Ok(_), true) => Some("expected ErrBadPattern, the pattern was accepted".to_owned()),
            (Err(e), false) => Some(format!("expected {want}, got the error {e}")),
            (Ok(ig), false) => (ig.is_excluded(text) != want).then(|| format!("expected {want}, got {}", !want)),
        };
        t.case(format!("match:{pattern:?} {text:?}"), problem);
    }
    t.finish();
}

#[test]
fn image_spec_schema_examples() {
    let doc = load("image-spec");
    let mut t = Tally::new("image-spec", IMAGE_SPEC_DELIBERATE);
    for (table, content_type) in
        [("manifest", Some(media_type::OCI_MANIFEST)), ("index", Some(media_type::OCI_INDEX)), ("descriptor", None)]
    {
        for (i, c) in cases(&doc, table).iter().enumerate() {
            // Go's zero value: a case without `fail` is expected to pass.
            let (text, fail) = (s(c, "doc"), c["fail"].as_bool().unwrap_or(false));
            let got = match content_type {
                Some(ct) => Manifest::parse(text.as_bytes(), Some(ct)).map(|_| ()).map_err(|e| e.to_string()),
                None => serde_json::from_str::<Descriptor>(text).map(|_| ()).map_err(|e| e.to_string()),
            };
            let problem = match (got, fail) {
                (Ok(()), false) | (Err(_), true) => None,
                (Ok(()), true) => Some("expected a failure, hoist accepts it".to_owned()),
                (Err(e), false) => Some(format!("expected success, hoist: {e}")),
            };
            t.case(format!("{table} {i} ({})", s(c, "what")), problem);
        }
    }
    t.finish();
}

/// Media types are opaque strings to hoist, as to containers/image (which unmarshals without the JSON
/// schema): one is refused where hoist must act on it (a layer to unpack, a config to read, a manifest to
/// parse), not for its spelling.
const MEDIA_TYPE: &str = "the JSON schema's media type syntax is not checked: containers/image does not validate \
                          it either; an unknown media type is refused where hoist must act on it";
/// Fields hoist never reads are not validated, as containers/image does not validate them.
const UNREAD: &str = "a field hoist does not act on (urls are kept, never fetched; artifactType and data are carried \
                      as they are), not validated, as containers/image does not validate it";

/// Schema-only checks hoist leaves to the producer, as containers/image does.
const IMAGE_SPEC_DELIBERATE: &[(&str, &str)] = &[
    ("manifest 0 (expected failure: mediaType does not match pattern)", MEDIA_TYPE),
    ("index 0 (expected failure: mediaType does not match pattern)", MEDIA_TYPE),
    ("index 4 (expected failure: invalid referenced manifest media type)", MEDIA_TYPE),
    ("descriptor 3 (expected failure: mediaType does not match pattern (no subtype))", MEDIA_TYPE),
    ("descriptor 4 (expected failure: mediaType does not match pattern (invalid first type character))", MEDIA_TYPE),
    ("descriptor 5 (expected failure: mediaType does not match pattern (invalid first subtype character))", MEDIA_TYPE),
    ("descriptor 7 (expected failure: mediaType does not match pattern (type too long))", MEDIA_TYPE),
    ("descriptor 8 (expected failure: mediaType does not match pattern (subtype too long))", MEDIA_TYPE),
    (
        "manifest 5 (expected failure: empty layer, expected at least one)",
        "an image with no layers is what podman/buildah build FROM scratch with no RUN/COPY, and containers/image \
         accepts it; refusing it would refuse images podman makes",
    ),
    (
        "index 3 (expected failure: in the optional field platform platform.architecture is missing, expected required)",
        "a platform without architecture parses (Go's zero value, as in containers/image) and matches no \
         platform anyone asks for, so that entry is never chosen",
    ),
    ("descriptor 17 (expected failure: urls does not match format (invalide url characters))", UNREAD),
    ("descriptor 19 (expected failure: artifactType does not match pattern (invalid first subtype character))", UNREAD),
    ("descriptor 29 (expected failure: invalid data base64, missing padding)", UNREAD),
];

/// The deliberate differences in distribution/reference's table are skopeo's behaviour: the length limit
/// ([`TOTAL_LENGTH`]) refuses both names the table accepts, with the words hoist uses, before reaching any
/// registry, and 255 characters of name are accepted by both; a sha512 digest parses ([`SHA512`]).
#[test]
fn skopeo_agrees_on_the_deliberate_reference_differences() {
    let containers = harness::podman::Containers::new(&[]);
    let too_long = [format!("example.com/{}:tag", "a".repeat(255)), format!("{}a:tag", "a/".repeat(127))];
    for name in &too_long {
        let run = containers.skopeo(&["inspect", &format!("docker://{name}")]);
        let err = run.err();
        assert_ne!(run.code, Some(0), "{name}");
        assert!(err.contains("repository name must not be more than 255 characters"), "skopeo: {err}");
        let hoist = Reference::parse_normalized(name).unwrap_err();
        assert_eq!(hoist.to_string(), "repository name must not be more than 255 characters");
    }
    // 255 characters of domain + '/' + path: both parse it (skopeo then fails to reach the registry, which
    // is another error: nothing listens on localhost:1).
    let at_limit = format!("localhost:1/{}:tag", "a".repeat(243));
    assert!(Reference::parse_normalized(&at_limit).is_ok());
    let run = containers.skopeo(&["inspect", &format!("docker://{at_limit}")]);
    assert!(run.err().contains("localhost:1"), "skopeo parsed the name and tried the registry: {}", run.err());
    assert!(!run.err().contains("must not be more than"), "skopeo: {}", run.err());

    let sha512 = format!("localhost:1/validname@sha512:{}", "f".repeat(128));
    assert!(Reference::parse_normalized(&sha512).is_ok());
    let run = containers.skopeo(&["inspect", &format!("docker://{sha512}")]);
    assert!(run.err().contains("pinging"), "skopeo parsed the digest and tried the registry: {}", run.err());
}
