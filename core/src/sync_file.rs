//! skopeo sync's YAML source file (`hoist sync --src yaml FILE`, skopeo-sync(1) "YAML file content"): per
//! registry, which repositories and tags to mirror, and how that registry is reached.
//!
//! ```yaml
//! registry.example.com:
//!   images:
//!     busybox: []                    # every tag
//!     redis: ["1.0", "2.0", "sha256:…"]   # these tags (and digests)
//!   images-by-tag-regex:
//!     nginx: ^1\.13\.[12]-alpine-perl$
//!   images-by-semver:               # skopeo's newer key: a semver constraint
//!     alpine: ">= 3.12.0"
//!   credentials: {username: john, password: "secret"}
//!   tls-verify: true
//!   cert-dir: /home/john/certs
//! ```
//!
//! Stricter than skopeo 1.9 where skopeo is silent: an unknown key is an error naming its line (skopeo
//! ignores it, so a typo like `images-by-tag-regexp` would mirror nothing without a word); the file is read
//! only if it is a regular file of at most [`SYNC_FILE_LIMIT`] bytes; regular expressions are Rust's `regex`
//! (linear time: no pattern backtracks), unanchored as Go's `MatchString`, each compiled within a size cap.
//! A repository named under several keys is several selections (as skopeo, which unions them).
//!
//! What it is not: the sync engine, which lists tags and copies ([`crate::ops::sync`] takes what [`parse`]
//! returns).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hoist_helper_protocol::Credentials;
use serde::Deserialize;

use crate::reference::Reference;

/// The largest YAML file read (skopeo's files list repositories; a few MiB is thousands of them).
pub const SYNC_FILE_LIMIT: u64 = 4 << 20;
/// The compiled size allowed for one `images-by-tag-regex` pattern.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Which tags of one repository are synced (the command line's `repo:tag` and `--semver` make them too).
#[derive(Debug, Clone)]
pub enum TagSelection {
    /// `images: {repo: []}`: every tag.
    All,
    /// `images: {repo: [t1, sha256:…]}`: these tags or digests, in the file's order.
    Tags(Vec<String>),
    /// `images-by-tag-regex: {repo: PATTERN}`: the tags the pattern matches (unanchored).
    Regex(regex::Regex),
    /// `images-by-semver: {repo: ">= 2.0, < 3"}`: the version tags meeting the requirement.
    Semver(semver::VersionReq),
}

/// One repository to mirror, with the settings of the registry it is on (these override the `--src-*` flags
/// for this source only).
#[derive(Debug, Clone)]
pub struct SourceSpec {
    /// The registry as references name it (`registry.example.com`, `localhost:5000`; `index.docker.io` is
    /// `docker.io`).
    pub registry: String,
    /// The repository path on it, normalised (`busybox` on docker.io is `library/busybox`).
    pub repository: String,
    pub tags: TagSelection,
    /// `tls-verify` of this registry (`None`: the command line's or registries.conf's setting).
    pub tls_verify: Option<bool>,
    /// `cert-dir` of this registry.
    pub cert_dir: Option<PathBuf>,
    /// `credentials` of this registry.
    pub credentials: Option<Credentials>,
}

/// Why a sync file was refused; one line each.
#[derive(Debug, thiserror::Error)]
pub enum SyncFileError {
    #[error("reading {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path}: {reason}")]
    Yaml { path: String, reason: String },
    #[error("{path}: registry {registry:?}, {key} {repository:?}: {reason}")]
    Entry { path: String, registry: String, key: &'static str, repository: String, reason: String },
    #[error("{path}: registry {registry:?}: {reason}")]
    Registry { path: String, registry: String, reason: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawRegistry {
    #[serde(default)]
    images: BTreeMap<String, Option<Vec<String>>>,
    #[serde(default)]
    images_by_tag_regex: BTreeMap<String, String>,
    #[serde(default)]
    images_by_semver: BTreeMap<String, String>,
    #[serde(default)]
    credentials: Option<RawCredentials>,
    #[serde(default)]
    tls_verify: Option<bool>,
    #[serde(default)]
    cert_dir: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCredentials {
    username: String,
    password: String,
}

/// Reads and parses the sync file at `path` (see [`parse`]).
pub fn read(path: &Path) -> Result<Vec<SourceSpec>, SyncFileError> {
    let shown = path.display().to_string();
    let bytes = crate::trust::policy::read_capped(path, SYNC_FILE_LIMIT)
        .map_err(|reason| SyncFileError::Read { path: shown.clone(), reason })?;
    let text = String::from_utf8(bytes)
        .map_err(|_| SyncFileError::Read { path: shown.clone(), reason: "not UTF-8 text".to_owned() })?;
    parse(&text, &shown)
}

/// Parses a sync file's text; `path` only names it in errors. Sources come out by registry, then key
/// (`images`, `images-by-tag-regex`, `images-by-semver`), then repository, each sorted.
pub fn parse(text: &str, path: &str) -> Result<Vec<SourceSpec>, SyncFileError> {
    let yaml = |reason: String| SyncFileError::Yaml { path: path.to_owned(), reason: one_line(&reason) };
    if text.len() as u64 > SYNC_FILE_LIMIT {
        return Err(yaml(format!("larger than {SYNC_FILE_LIMIT} bytes")));
    }
    let raw: BTreeMap<String, Option<RawRegistry>> = yaml_serde::from_str(text).map_err(|e| yaml(e.to_string()))?;
    let mut sources = Vec::new();
    for (registry, entry) in raw {
        let reg_err =
            |reason: String| SyncFileError::Registry { path: path.to_owned(), registry: registry.clone(), reason };
        let Some(entry) = entry else { return Err(reg_err("no settings and no images".to_owned())) };
        let registry = check_registry(&registry).map_err(reg_err)?;
        if entry.images.is_empty() && entry.images_by_tag_regex.is_empty() && entry.images_by_semver.is_empty() {
            return Err(reg_err("names no images (images, images-by-tag-regex or images-by-semver)".to_owned()));
        }
        let credentials = match entry.credentials {
            Some(c) if c.username.is_empty() || c.password.is_empty() => {
                return Err(reg_err("credentials need a username and a password".to_owned()));
            }
            Some(c) => Some(Credentials::new(registry.clone(), c.username, c.password)),
            None => None,
        };
        let source = |repository: &str, tags: TagSelection| SourceSpec {
            registry: registry.clone(),
            repository: repository.to_owned(),
            tags,
            tls_verify: entry.tls_verify,
            cert_dir: entry.cert_dir.clone(),
            credentials: credentials.clone(),
        };
        let entry_err = |key: &'static str, repository: &str, reason: String| SyncFileError::Entry {
            path: path.to_owned(),
            registry: registry.clone(),
            key,
            repository: repository.to_owned(),
            reason: one_line(&reason),
        };
        for (repository, tags) in &entry.images {
            let path = check_repository(&registry, repository).map_err(|r| entry_err("images", repository, r))?;
            let tags = match tags {
                None => TagSelection::All,
                Some(t) if t.is_empty() => TagSelection::All,
                Some(t) => {
                    for tag in t {
                        check_tag_or_digest(&registry, repository, tag)
                            .map_err(|r| entry_err("images", repository, r))?;
                    }
                    TagSelection::Tags(t.clone())
                }
            };
            sources.push(source(&path, tags));
        }
        for (repository, pattern) in &entry.images_by_tag_regex {
            let path =
                check_repository(&registry, repository).map_err(|r| entry_err("images-by-tag-regex", repository, r))?;
            let re = regex::RegexBuilder::new(pattern).size_limit(REGEX_SIZE_LIMIT).build().map_err(|e| {
                entry_err("images-by-tag-regex", repository, format!("invalid regular expression: {e}"))
            })?;
            sources.push(source(&path, TagSelection::Regex(re)));
        }
        for (repository, constraint) in &entry.images_by_semver {
            let path =
                check_repository(&registry, repository).map_err(|r| entry_err("images-by-semver", repository, r))?;
            let req = semver::VersionReq::parse(constraint.trim()).map_err(|e| {
                entry_err("images-by-semver", repository, format!("invalid version requirement {constraint:?}: {e}"))
            })?;
            sources.push(source(&path, TagSelection::Semver(req)));
        }
    }
    if sources.is_empty() {
        return Err(yaml("names no registry".to_owned()));
    }
    Ok(sources)
}

/// A key must be a registry host (`quay.io`, `localhost:5000`, `localhost`): a bare word such as `myreg` would
/// read as a Docker Hub namespace (distribution's rule), and mirror Docker Hub's `myreg/…` instead. The answer
/// is the registry as references name it (`index.docker.io` is `docker.io`).
fn check_registry(registry: &str) -> Result<String, String> {
    match Reference::parse_normalized(&format!("{registry}/x")) {
        Ok(r) if r.domain() == registry || (registry == "index.docker.io" && r.domain() == "docker.io") => {
            Ok(r.domain().to_owned())
        }
        _ => Err("not a registry host name (one with a dot or a port, or localhost)".to_owned()),
    }
}

/// `registry/repository` must be a reference without tag or digest, as skopeo requires; the answer is the
/// repository's path as distribution normalises it (`busybox` on docker.io is `library/busybox`).
fn check_repository(registry: &str, repository: &str) -> Result<String, String> {
    let name = format!("{registry}/{repository}");
    match Reference::parse_normalized(&name) {
        Ok(r) if r.tag().is_none() && r.digest().is_none() => Ok(r.path().to_owned()),
        Ok(_) => Err("a repository, without tag or digest, is expected".to_owned()),
        Err(e) => Err(format!("invalid repository name: {e}")),
    }
}

fn check_tag_or_digest(registry: &str, repository: &str, tag: &str) -> Result<(), String> {
    let sep = if tag.contains(':') { "@" } else { ":" };
    match Reference::parse_normalized(&format!("{registry}/{repository}{sep}{tag}")) {
        Ok(_) => Ok(()),
        Err(e) => Err(format!("invalid tag or digest {tag:?}: {e}")),
    }
}

/// YAML errors can quote the input over several lines; keep the first.
fn one_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SKOPEO_EXAMPLE: &str = r#"
docker.io:
    images:
        busybox: []
        redis:
            - "1.0"
            - "2.0"
            - "sha256:0000000000000000000000000000000011111111111111111111111111111111"
    images-by-tag-regex:
        nginx: ^1\.13\.[12]-alpine-perl$
    credentials:
        username: john
        password: this is a secret
    tls-verify: true
    cert-dir: /home/john/certs
quay.io:
    tls-verify: false
    images:
        coreos/etcd:
            - latest
localhost:5000:
    images-by-semver:
        app: ">= 2.0, < 3"
"#;

    #[test]
    fn skopeo_manual_example_parses() {
        let s = parse(SKOPEO_EXAMPLE, "sync.yml").unwrap();
        let shown: Vec<String> = s
            .iter()
            .map(|s| {
                let tags = match &s.tags {
                    TagSelection::All => "*".to_owned(),
                    TagSelection::Tags(t) => t.join(","),
                    TagSelection::Regex(r) => format!("/{r}/"),
                    TagSelection::Semver(v) => format!("{v}"),
                };
                format!("{}/{} {tags} tls={:?}", s.registry, s.repository, s.tls_verify)
            })
            .collect();
        assert_eq!(
            shown,
            [
                "docker.io/library/busybox * tls=Some(true)",
                "docker.io/library/redis 1.0,2.0,sha256:0000000000000000000000000000000011111111111111111111111111111111 tls=Some(true)",
                r"docker.io/library/nginx /^1\.13\.[12]-alpine-perl$/ tls=Some(true)",
                "localhost:5000/app >=2.0, <3 tls=None",
                "quay.io/coreos/etcd latest tls=Some(false)",
            ]
        );
        let c = s[0].credentials.as_ref().unwrap();
        assert_eq!((c.username.as_str(), c.server_url.as_str()), ("john", "docker.io"));
        assert_eq!(s[0].cert_dir.as_deref(), Some(Path::new("/home/john/certs")));
        assert!(s[3].credentials.is_none());
        let TagSelection::Regex(re) = &s[2].tags else { panic!() };
        assert!(re.is_match("1.13.2-alpine-perl") && !re.is_match("1.13.3-alpine-perl"));
        let TagSelection::Semver(req) = &s[3].tags else { panic!() };
        assert!(req.matches(&semver::Version::new(2, 5, 0)) && !req.matches(&semver::Version::new(3, 0, 0)));
    }

    #[test]
    fn an_unknown_key_names_its_line() {
        let text = "docker.io:\n  images:\n    busybox: []\n  images-by-tag-regexp:\n    nginx: x\n";
        let e = parse(text, "s.yml").unwrap_err().to_string();
        assert!(e.starts_with("s.yml: "), "{e}");
        assert!(e.contains("images-by-tag-regexp") && e.contains("line 4"), "{e}");
        let e = parse("docker.io:\n  images: {a: []}\n  credentials: {username: u, password: p, token: t}\n", "s")
            .unwrap_err()
            .to_string();
        assert!(e.contains("token") && e.contains("line 3"), "{e}");
        assert!(!e.contains(" p,"), "the password is not quoted back: {e}");
    }

    #[test]
    fn bad_entries_are_one_line_naming_the_entry() {
        for (text, wanted) in [
            (
                "r.io:\n  images-by-tag-regex:\n    app: \"(\"\n",
                "images-by-tag-regex \"app\": invalid regular expression",
            ),
            ("r.io:\n  images-by-semver:\n    app: \"not a version\"\n", "invalid version requirement"),
            ("r.io:\n  images:\n    UPPER: []\n", "invalid repository name"),
            ("r.io:\n  images:\n    app: [\"bad tag!\"]\n", "invalid tag or digest \"bad tag!\""),
            ("r.io:\n  images:\n    app:v1: []\n", "repository"),
            ("r.io:\n  tls-verify: false\n", "names no images"),
            ("r.io:\n", "no settings and no images"),
            ("myreg:\n  images: {a: []}\n", "registry \"myreg\": not a registry host name"),
            ("\"r.io/ns\":\n  images: {a: []}\n", "not a registry host name"),
            (
                "r.io:\n  images: {a: []}\n  credentials: {username: u, password: \"\"}\n",
                "need a username and a password",
            ),
            ("", "names no registry"),
            ("- a\n- b\n", "s.yml: "),
            ("r.io:\n  tls-verify: maybe\n  images: {a: []}\n", "line 2"),
        ] {
            let e = parse(text, "s.yml").map(|_| ()).unwrap_err().to_string();
            assert!(e.contains(wanted), "{text:?}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn a_regex_cannot_backtrack_and_a_huge_one_is_refused() {
        // Linear time: the classic catastrophic pattern on a long non-matching tag returns at once.
        let text = "r.io:\n  images-by-tag-regex:\n    app: \"^(a+)+$\"\n";
        let s = parse(text, "s").unwrap();
        let TagSelection::Regex(re) = &s[0].tags else { panic!() };
        let start = std::time::Instant::now();
        assert!(!re.is_match(&format!("{}b", "a".repeat(100_000))));
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
        let huge = format!("r.io:\n  images-by-tag-regex:\n    app: '{}'\n", "\\w{1000}".repeat(20));
        assert!(parse(&huge, "s").unwrap_err().to_string().contains("invalid regular expression"));
    }

    #[test]
    fn alias_bombs_and_oversized_files_are_refused() {
        let mut bomb = String::from("a: &a [\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\"]\n");
        for i in 0..9 {
            let prev = if i == 0 { "a".to_owned() } else { format!("l{}", i - 1) };
            bomb.push_str(&format!(
                "l{i}: &l{i} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
            ));
        }
        assert!(parse(&bomb, "s").is_err());
        let big = format!("r.io:\n  images:\n{}", "    app: []\n".repeat(SYNC_FILE_LIMIT as usize / 10));
        assert!(parse(&big, "s").unwrap_err().to_string().contains("larger than"));
    }

    #[test]
    fn read_refuses_what_is_not_a_small_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path in our temp dir.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(read(&fifo).unwrap_err().to_string().contains("not a regular file"));
        let good = dir.path().join("s.yml");
        std::fs::write(&good, "r.io:\n  images: {app: []}\n").unwrap();
        assert_eq!(read(&good).unwrap().len(), 1);
        assert!(read(&dir.path().join("missing")).unwrap_err().to_string().starts_with("reading "));
    }
}
