//! Image references, exactly as distribution/reference (and so docker, podman, skopeo) parse them.
//!
//! ```text
//! reference        := name [ ":" tag ] [ "@" digest ]
//! name             := [domain '/'] path-component ['/' path-component]*
//! domain           := host [':' port]
//! host             := domain-name | IPv4 | '[' IPv6 ']'
//! domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
//! path-component   := /[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*/
//! tag              := /[\w][\w.-]{0,127}/
//! digest           := algorithm ':' hex   (sha256: 64, sha384: 96, sha512: 128 lowercase hex digits)
//! ```
//!
//! Normalisation (docker's `ParseNormalizedNamed`): a first component that has no `.` or `:`, is not
//! `localhost` and is all lowercase is part of the path, and the domain is `docker.io`; `index.docker.io` is
//! `docker.io`; a one-component path on docker.io gets `library/`. A name is at most 255 characters and its
//! path must be lowercase. With neither tag nor digest, [`Reference::with_default_tag`] adds `latest`.
//!
//! What this is not: short-name resolution against `unqualified-search-registries` (that is
//! [`crate::config`]'s job; [`Reference::parse_normalized`] applies docker's rules, as skopeo does).

use std::fmt;

use hoist_helper_protocol::docker_hub;

/// Docker Hub's canonical name ([`docker_hub::NAME`]): the domain of a name that has none.
pub const DEFAULT_DOMAIN: &str = docker_hub::NAME;
/// The Docker Hub name normalisation rewrites to [`DEFAULT_DOMAIN`] ([`docker_hub::LEGACY_NAME`]).
pub const LEGACY_DEFAULT_DOMAIN: &str = docker_hub::LEGACY_NAME;
pub const OFFICIAL_REPO_PREFIX: &str = "library/";
pub const DEFAULT_TAG: &str = "latest";
/// The most characters of `domain/path`. distribution/reference since v0.6 limits only the path; this is
/// the limit of containers/image's own `docker/reference` (what podman and skopeo parse with), which hoist
/// follows: a name podman refuses is refused here too.
pub const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// Why a reference does not parse. The texts are distribution's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("invalid reference format")]
    InvalidFormat,
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    NameContainsUppercase(String),
    #[error("repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters")]
    NameTooLong,
    #[error("repository name must have at least one component")]
    NameEmpty,
    /// [`Reference::parse_qualified`] of a name that is not written in its canonical form.
    #[error("repository name must be canonical")]
    NameNotCanonical,
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexIdentifier(String),
    #[error("invalid checksum digest format")]
    InvalidDigestFormat,
    #[error("unsupported digest algorithm")]
    UnsupportedDigest,
    #[error("invalid checksum digest length")]
    InvalidDigestLength,
}

/// A content digest `algorithm:hex`, validated for the algorithms distribution knows.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: String,
    hex: String,
}

impl Digest {
    pub fn parse(s: &str) -> Result<Digest, ReferenceError> {
        let (algorithm, hex) = s.split_once(':').ok_or(ReferenceError::InvalidDigestFormat)?;
        if algorithm.is_empty() || hex.is_empty() || !is_digest_algorithm(algorithm) {
            return Err(ReferenceError::InvalidDigestFormat);
        }
        let len = match algorithm {
            "sha256" => 64,
            "sha384" => 96,
            "sha512" => 128,
            _ => return Err(ReferenceError::UnsupportedDigest),
        };
        if hex.len() != len {
            return Err(ReferenceError::InvalidDigestLength);
        }
        if !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(ReferenceError::InvalidDigestFormat);
        }
        Ok(Digest { algorithm: algorithm.to_owned(), hex: hex.to_owned() })
    }

    /// Parses a digest as the OCI image spec's descriptor grammar admits it
    /// (`[a-z0-9]+([+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+`): the algorithms hoist can verify (sha256, sha384,
    /// sha512) are checked as strictly as [`Digest::parse`] checks them, any other algorithm is kept as
    /// written (`sha256+b64:...`, `multihash+base58:...`). For descriptors in manifests and indexes, so a
    /// document naming a blob hoist cannot verify still parses; [`Digest::is_supported`] is false for such a
    /// digest, and fetching or verifying that blob is refused ([`crate::digest::Verifier`]).
    pub fn parse_any(s: &str) -> Result<Digest, ReferenceError> {
        let (algorithm, encoded) = s.split_once(':').ok_or(ReferenceError::InvalidDigestFormat)?;
        if matches!(algorithm, "sha256" | "sha384" | "sha512") {
            return Digest::parse(s);
        }
        let component_ok = |c: &str| !c.is_empty() && c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !algorithm.split(['+', '.', '_', '-']).all(component_ok)
            || encoded.is_empty()
            || !encoded.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'))
        {
            return Err(ReferenceError::InvalidDigestFormat);
        }
        Ok(Digest { algorithm: algorithm.to_owned(), hex: encoded.to_owned() })
    }

    /// True when hoist can compute this digest's algorithm (sha256, sha384, sha512); only
    /// [`Digest::parse_any`] makes digests for which it is false.
    pub fn is_supported(&self) -> bool {
        matches!(self.algorithm.as_str(), "sha256" | "sha384" | "sha512")
    }

    pub fn algorithm(&self) -> &str {
        &self.algorithm
    }

    pub fn hex(&self) -> &str {
        &self.hex
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.hex)
    }
}

/// A normalised image reference: domain, path, and optionally a tag and/or a digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parses `s` with docker's normalisation (docker.io, library/). Tag and digest stay as given.
    pub fn parse_normalized(s: &str) -> Result<Reference, ReferenceError> {
        if is_hex_identifier(s) {
            return Err(ReferenceError::HexIdentifier(s.to_owned()));
        }
        let (domain, remainder) = split_docker_domain(s);
        let (name_part, tag, digest) = split_tag_digest(remainder)?;
        if name_part.is_empty() {
            return Err(ReferenceError::InvalidFormat);
        }
        let path = if domain == DEFAULT_DOMAIN && !name_part.contains('/') {
            format!("{OFFICIAL_REPO_PREFIX}{name_part}")
        } else {
            name_part.to_owned()
        };
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(ReferenceError::NameContainsUppercase(path));
        }
        if !is_path(&path) {
            return Err(ReferenceError::InvalidFormat);
        }
        if !is_domain(&domain) {
            return Err(ReferenceError::InvalidFormat);
        }
        if domain.len() + 1 + path.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(ReferenceError::NameTooLong);
        }
        Ok(Reference { domain, path, tag, digest })
    }

    /// Parses a reference written in its canonical form, as `reference.ParseNamed` does: the input must be
    /// exactly what the parsed reference prints (`docker.io/library/alpine:3`), so `alpine`,
    /// `library/alpine`, `docker.io/alpine` and `index.docker.io/library/alpine` are all
    /// [`ReferenceError::NameNotCanonical`].
    pub fn parse_qualified(s: &str) -> Result<Reference, ReferenceError> {
        let r = Reference::parse_normalized(s)?;
        if r.to_string() != s {
            return Err(ReferenceError::NameNotCanonical);
        }
        Ok(r)
    }

    /// Parses a name given to an image of the local store as podman's `NormalizeName` does (`podman tag`,
    /// `podman load` of an archive's names, `podman build -t`): a name whose first component is not a
    /// registry (no `.` or `:`, not `localhost`) goes under `localhost/` (`app` → `localhost/app`,
    /// `team/app:2` → `localhost/team/app:2`); a name with a registry gets docker's normalisation
    /// (`docker.io/alpine` → `docker.io/library/alpine`). Tag and digest stay as given.
    pub fn parse_local(s: &str) -> Result<Reference, ReferenceError> {
        let qualified = match s.split_once('/') {
            Some((first, _)) => first.contains(['.', ':']) || first == "localhost",
            None => false,
        };
        if qualified || is_hex_identifier(s) {
            return Reference::parse_normalized(s);
        }
        Reference::parse_normalized(&format!("localhost/{s}"))
    }

    /// Adds the `latest` tag when there is neither tag nor digest.
    pub fn with_default_tag(mut self) -> Reference {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some(DEFAULT_TAG.to_owned());
        }
        self
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }
    /// The repository path within the registry (`library/alpine`).
    pub fn path(&self) -> &str {
        &self.path
    }
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// `domain/path`, the repository's full name.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The short form docker prints: no `docker.io/`, no `library/`.
    pub fn familiar_string(&self) -> String {
        let mut name = if self.domain == DEFAULT_DOMAIN {
            self.path.strip_prefix(OFFICIAL_REPO_PREFIX).filter(|p| !p.contains('/')).unwrap_or(&self.path).to_owned()
        } else {
            self.name()
        };
        if let Some(t) = &self.tag {
            name.push(':');
            name.push_str(t);
        }
        if let Some(d) = &self.digest {
            name.push('@');
            name.push_str(&d.to_string());
        }
        name
    }

    /// The same repository at another registry domain (used for mirrors and location rewrites).
    pub fn with_name(&self, domain: &str, path: &str) -> Reference {
        Reference {
            domain: domain.to_owned(),
            path: path.to_owned(),
            tag: self.tag.clone(),
            digest: self.digest.clone(),
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse_normalized(s)
    }
}

/// docker's `splitDockerDomain`.
fn split_docker_domain(name: &str) -> (String, &str) {
    let (domain, remainder) = match name.find('/') {
        Some(i) if looks_like_domain(&name[..i]) => (name[..i].to_owned(), &name[i + 1..]),
        _ => (DEFAULT_DOMAIN.to_owned(), name),
    };
    let domain = if domain == LEGACY_DEFAULT_DOMAIN { DEFAULT_DOMAIN.to_owned() } else { domain };
    (domain, remainder)
}

/// docker's test for a name's first component: it is the registry, not part of the path, when it has a `.`
/// or a `:`, is `localhost`, or has an uppercase letter (a path never does).
pub fn looks_like_domain(first: &str) -> bool {
    first.contains(['.', ':']) || first == "localhost" || first.to_lowercase() != first
}

/// Splits `path[:tag][@digest]` (the domain already removed, so a `:` is a tag separator).
fn split_tag_digest(s: &str) -> Result<(&str, Option<String>, Option<Digest>), ReferenceError> {
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(Digest::parse(d)?)),
        None => (s, None),
    };
    let (name, tag) = match rest.rfind(':') {
        Some(i) if !rest[i..].contains('/') => {
            let tag = &rest[i + 1..];
            if !is_tag(tag) {
                return Err(ReferenceError::InvalidFormat);
            }
            (&rest[..i], Some(tag.to_owned()))
        }
        _ => (rest, None),
    };
    Ok((name, tag, digest))
}

fn is_tag(t: &str) -> bool {
    let b = t.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    !b.is_empty() && b.len() <= 128 && word(b[0]) && b[1..].iter().all(|&c| word(c) || c == b'.' || c == b'-')
}

fn is_path(path: &str) -> bool {
    path.split('/').all(is_path_component)
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn is_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator: ".", "_", "__", or one or more "-", always followed by an alphanumeric.
        let start = i;
        match b[i] {
            b'.' => i += 1,
            b'_' => i += if b.get(i + 1) == Some(&b'_') { 2 } else { 1 },
            b'-' => {
                while b.get(i) == Some(&b'-') {
                    i += 1;
                }
            }
            _ => return false,
        }
        if i == start || !b.get(i).is_some_and(|&x| alnum(x)) {
            return false;
        }
    }
    true
}

/// True when `domain` is a valid registry host (`host[:port]`, IPv6 in brackets), as in a reference.
///
/// This is the one domain grammar (`domain` in the module documentation); it says nothing about how a name
/// is normalised, so `myregistry` and `index.docker.io` are valid domains. For "does `domain/name` keep
/// `domain` as its registry" use [`is_qualifying_domain`].
pub fn is_valid_domain(domain: &str) -> bool {
    is_domain(domain)
}

/// True when `domain/name` is a reference whose registry is `domain`, exactly as written: what an
/// `unqualified-search-registries` entry must be, since short names are resolved by prefixing it.
///
/// The rule, in terms of [`Reference::parse_normalized`] (`parse_normalized("{domain}/x")` succeeds with
/// domain `domain`): `domain`
/// - is a valid domain ([`is_valid_domain`], so no `/`, no scheme, any case);
/// - [`looks_like_domain`], so it is not read as a path component (`myregistry` alone would be
///   `docker.io/myregistry/...`; `myregistry:5000`, `localhost` and `MyRegistry` are domains);
/// - is not [`LEGACY_DEFAULT_DOMAIN`], which normalisation rewrites to [`DEFAULT_DOMAIN`] (compared exactly,
///   as normalisation does: `INDEX.docker.io` is kept);
/// - leaves room for a one-character name within [`NAME_TOTAL_LENGTH_MAX`].
///
/// containers/image checks only the domain grammar here; hoist is stricter, refusing entries that would
/// silently resolve short names somewhere other than the entry.
pub fn is_qualifying_domain(domain: &str) -> bool {
    is_domain(domain)
        && looks_like_domain(domain)
        && domain != LEGACY_DEFAULT_DOMAIN
        && domain.len() + "/x".len() <= NAME_TOTAL_LENGTH_MAX
}

fn is_domain(domain: &str) -> bool {
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        let Some(end) = rest.find(']') else { return false };
        let (v6, after) = (&rest[..end], &rest[end + 1..]);
        if v6.is_empty() || !v6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return false;
        }
        match after.strip_prefix(':') {
            Some(p) => ("", Some(p)),
            None if after.is_empty() => ("", None),
            None => return false,
        }
    } else {
        match domain.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (domain, None),
        }
    };
    if port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    if domain.starts_with('[') {
        return true;
    }
    !host.is_empty() && host.split('.').all(is_domain_component)
}

fn is_domain_component(c: &str) -> bool {
    let b = c.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|&x| x.is_ascii_alphanumeric() || x == b'-')
}

fn is_digest_algorithm(a: &str) -> bool {
    a.split(['+', '.', '-', '_']).all(|c| {
        let b = c.as_bytes();
        !b.is_empty() && b[0].is_ascii_alphabetic() && b.iter().all(|x| x.is_ascii_alphanumeric())
    })
}

fn is_hex_identifier(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const D256: &str = "sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

    /// (input, normalised string, familiar string) from distribution's normalize and reference tests.
    #[test]
    fn normalisation_table() {
        for (input, full, familiar) in [
            ("alpine", "docker.io/library/alpine", "alpine"),
            ("alpine:3.19", "docker.io/library/alpine:3.19", "alpine:3.19"),
            ("library/alpine", "docker.io/library/alpine", "alpine"),
            ("docker.io/alpine", "docker.io/library/alpine", "alpine"),
            ("index.docker.io/library/alpine", "docker.io/library/alpine", "alpine"),
            ("user/repo", "docker.io/user/repo", "user/repo"),
            ("docker.io/library/a/b", "docker.io/library/a/b", "library/a/b"),
            ("localhost/foo", "localhost/foo", "localhost/foo"),
            ("localhost:5000/foo/bar:tag", "localhost:5000/foo/bar:tag", "localhost:5000/foo/bar:tag"),
            ("127.0.0.1:5000/team/app", "127.0.0.1:5000/team/app", "127.0.0.1:5000/team/app"),
            ("[::1]:5000/foo", "[::1]:5000/foo", "[::1]:5000/foo"),
            ("[2001:db8::1]/foo:v1", "[2001:db8::1]/foo:v1", "[2001:db8::1]/foo:v1"),
            ("quay.io/org/repo/sub", "quay.io/org/repo/sub", "quay.io/org/repo/sub"),
            ("Foo.io/bar", "Foo.io/bar", "Foo.io/bar"),
            ("FOO/bar", "FOO/bar", "FOO/bar"),
            ("a__b/c.d-e---f", "docker.io/a__b/c.d-e---f", "a__b/c.d-e---f"),
            (&format!("busybox@{D256}"), &format!("docker.io/library/busybox@{D256}"), &format!("busybox@{D256}")),
            (&format!("r.io/x:v1@{D256}"), &format!("r.io/x:v1@{D256}"), &format!("r.io/x:v1@{D256}")),
            ("foo:Tag_With.dots-1", "docker.io/library/foo:Tag_With.dots-1", "foo:Tag_With.dots-1"),
        ] {
            let r = Reference::parse_normalized(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.to_string(), full, "{input}");
            assert_eq!(r.familiar_string(), familiar, "{input}");
        }
    }

    /// podman's local names (libimage's `NormalizeName`), as `podman tag IMAGE NAME` stores them.
    #[test]
    fn local_names_as_podman() {
        for (input, full) in [
            ("app", "localhost/app"),
            ("app:2", "localhost/app:2"),
            ("team/app", "localhost/team/app"),
            ("library/app:1", "localhost/library/app:1"),
            ("localhost/app", "localhost/app"),
            ("localhost:5000/app:1", "localhost:5000/app:1"),
            ("docker.io/app", "docker.io/library/app"),
            ("docker.io/library/app:3", "docker.io/library/app:3"),
            ("index.docker.io/x/y", "docker.io/x/y"),
            ("quay.io/org/app:v1", "quay.io/org/app:v1"),
            ("127.0.0.1:5000/a", "127.0.0.1:5000/a"),
            (&format!("app@{D256}"), &format!("localhost/app@{D256}")),
        ] {
            let r = Reference::parse_local(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.to_string(), full, "{input}");
        }
        // A first component with an uppercase letter is no registry for podman: localhost/FOO/bar is refused.
        assert_eq!(Reference::parse_local("FOO/bar"), Err(ReferenceError::NameContainsUppercase("FOO/bar".into())));
        assert!(Reference::parse_local("").is_err());
        assert!(Reference::parse_local(&"a".repeat(250)).is_err(), "localhost/ counts in the length limit");
    }

    #[test]
    fn invalid_table() {
        use ReferenceError::*;
        let long_path = "a/".repeat(127) + "ab";
        for (input, err) in [
            ("", InvalidFormat),
            (":", InvalidFormat),
            ("/foo", InvalidFormat),
            ("foo/", InvalidFormat),
            ("foo//bar", InvalidFormat),
            ("foo:", InvalidFormat),
            ("foo@", InvalidDigestFormat),
            ("Uppercase", NameContainsUppercase("library/Uppercase".into())),
            ("docker.io/Foo/bar", NameContainsUppercase("Foo/bar".into())),
            ("foo_-bar", InvalidFormat),
            ("foo-", InvalidFormat),
            ("-foo", InvalidFormat),
            ("foo___bar", InvalidFormat),
            ("foo..bar", InvalidFormat),
            ("r.io/x:-tag", InvalidFormat),
            (&format!("r.io/x:{}", "t".repeat(129)), InvalidFormat),
            ("r.io/x@sha256:abc", InvalidDigestLength),
            ("r.io/x@md5:d41d8cd98f00b204e9800998ecf8427e", UnsupportedDigest),
            (&format!("r.io/x@{}", D256.to_uppercase().replace("SHA256", "sha256")), InvalidDigestFormat),
            ("r.io:port/x", InvalidFormat),
            ("-r.io/x", InvalidFormat),
            ("[zz::1]/x", InvalidFormat),
            (&"f".repeat(64), HexIdentifier("f".repeat(64))),
            (&format!("r.io/{long_path}x"), NameTooLong),
        ] {
            assert_eq!(Reference::parse_normalized(input), Err(err), "{input:?}");
        }
        let exactly_255 = format!("r.io/{}", "a".repeat(250));
        assert!(Reference::parse_normalized(&exactly_255).is_ok());
        assert_eq!(Reference::parse_normalized(&format!("{exactly_255}a")), Err(NameTooLong));
    }

    #[test]
    fn default_tag_and_qualified_parsing() {
        let r = Reference::parse_normalized("alpine").unwrap().with_default_tag();
        assert_eq!(r.to_string(), "docker.io/library/alpine:latest");
        let r = Reference::parse_normalized(&format!("alpine@{D256}")).unwrap().with_default_tag();
        assert_eq!(r.tag(), None, "a digest needs no tag");
        assert!(Reference::parse_qualified("docker.io/library/alpine").is_ok());
        assert!(Reference::parse_qualified(&format!("r.io/a/b:t@{D256}")).is_ok());
        // distribution's TestParseNamed: only the canonical string itself is accepted.
        for input in ["alpine", "library/foo", "docker.io/foo", "index.docker.io/library/foo", "foo:tag"] {
            assert_eq!(Reference::parse_qualified(input), Err(ReferenceError::NameNotCanonical), "{input:?}");
        }
        let sha512 = format!("sha512:{}", "0".repeat(128));
        assert_eq!(Digest::parse(&sha512).unwrap().algorithm(), "sha512");
    }

    /// The `unqualified-search-registries` rule as config wrote it before [`is_qualifying_domain`] existed.
    fn qualifies_by_parsing(s: &str) -> bool {
        Reference::parse_normalized(&format!("{s}/x")).is_ok_and(|r| r.domain() == s)
    }

    #[test]
    fn qualifying_domains() {
        let at_limit = format!("{}.io", "a".repeat(250));
        let over_limit = format!("{}.io", "a".repeat(251));
        for (s, want) in [
            ("docker.io", true),
            ("Docker.io", true),
            ("INDEX.docker.io", true),
            ("quay.io", true),
            ("registry.fedoraproject.org", true),
            ("localhost", true),
            ("localhost:5000", true),
            ("myregistry:5000", true),
            ("MyRegistry", true),
            ("FOO", true),
            ("127.0.0.1:5000", true),
            ("[::1]", true),
            ("[::1]:5000", true),
            ("[2001:db8::1]", true),
            (at_limit.as_str(), true),
            (over_limit.as_str(), false),
            ("myregistry", false),
            ("index.docker.io", false),
            ("", false),
            ("not a domain", false),
            ("quay.io/org", false),
            ("https://quay.io", false),
            ("quay.io:", false),
            ("quay.io:port", false),
            ("-r.io", false),
            ("r-.io", false),
            ("r..io", false),
            ("[zz::1]", false),
            ("[::1", false),
            ("a@b.io", false),
            ("r.io:5000@x", false),
        ] {
            assert_eq!(is_qualifying_domain(s), want, "{s:?}");
            assert_eq!(qualifies_by_parsing(s), want, "{s:?}: the rule before it moved here");
        }
        // The syntax alone accepts what normalisation would not keep as the registry.
        for s in ["myregistry", "index.docker.io", over_limit.as_str()] {
            assert!(is_valid_domain(s) && !is_qualifying_domain(s), "{s:?}");
        }
    }

    fn component() -> impl Strategy<Value = String> {
        "[a-z0-9]{1,4}((\\.|_|__|-{1,3})[a-z0-9]{1,4}){0,2}"
    }

    fn reference_string() -> impl Strategy<Value = String> {
        // With no domain, a first component holding '.' or ':' would be read as a domain: give those a domain.
        let domain = prop_oneof![
            Just("docker.io/".to_owned()),
            "[a-z0-9]{1,6}(__?[a-z0-9]{1,4})?/",
            Just("localhost/".to_owned()),
            "[a-z0-9]{1,5}(\\.[a-z0-9]{1,5}){1,2}(:[0-9]{1,5})?/",
            "\\[[0-9a-f]{1,4}::[0-9a-f]{0,4}\\](:[0-9]{2,5})?/",
        ];
        let path = proptest::collection::vec(component(), 1..4).prop_map(|v| v.join("/"));
        let tag = proptest::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}");
        let digest = proptest::option::of("[0-9a-f]{64}");
        (domain, path, tag, digest).prop_map(|(d, p, t, g)| {
            let mut s = format!("{d}{p}");
            if let Some(t) = t {
                s.push(':');
                s.push_str(&t);
            }
            if let Some(g) = g {
                s.push_str("@sha256:");
                s.push_str(&g);
            }
            s
        })
    }

    proptest! {
        #[test]
        fn parse_print_parse_is_identity(s in reference_string()) {
            let r = Reference::parse_normalized(&s).unwrap();
            let again = Reference::parse_normalized(&r.to_string()).unwrap();
            prop_assert_eq!(&again, &r);
            // As in docker, the familiar form of docker.io/0.a/b ("0.a/b") reads back as another registry.
            let first = r.path().split('/').next().unwrap();
            if r.domain() != DEFAULT_DOMAIN || !first.contains('.') {
                let familiar = Reference::parse_normalized(&r.familiar_string()).unwrap();
                prop_assert_eq!(familiar, r);
            }
        }

        #[test]
        fn qualifying_domain_is_the_parse_rule(
            s in prop_oneof![
                "[a-zA-Z0-9.:/@_\\[\\] -]{0,16}",
                "(index\\.)?(docker|DOCKER|localhost|a-b|0)(\\.io)?(:[0-9]{0,3})?",
                "[a-z]{1,3}(\\.[a-z]{1,3}){0,2}:?[0-9a-z]{0,5}",
                "[a-z.]{248,256}",
                "\\PC{0,40}",
            ]
        ) {
            prop_assert_eq!(is_qualifying_domain(&s), qualifies_by_parsing(&s), "{:?}", s);
        }

        /// What parses prints as a name that parses back to the same reference.
        #[test]
        fn parsed_references_read_back(s in "\\PC{0,80}") {
            if let Ok(r) = Reference::parse_normalized(&s) {
                prop_assert_eq!(Reference::parse_normalized(&r.to_string()), Ok(r));
            }
        }
    }
}
