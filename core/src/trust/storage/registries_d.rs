//! containers-registries.d(5), exactly as containers/image's `docker/registries_d.go`: every `*.yaml` file of
//! the directory (`--registries.d`, else `$HOME/.config/containers/registries.d` when it exists, else
//! `/etc/containers/registries.d`; a missing directory configures nothing) merged into one configuration —
//! `default-docker` and each `docker:` scope defined in one file only, a second definition refused naming both
//! files. Unknown fields are ignored (yaml.v3 does); an empty string is no setting.
//!
//! For an image, the most specific `docker:` scope that sets the value wins (the full reference, the
//! repository, each parent namespace, the host[:port], then `*.domain` wildcards), then `default-docker`:
//! - reading: `lookaside`, else the old `sigstore`;
//! - writing: `lookaside-staging`, else `sigstore-staging`, else the reading location;
//! - nothing configured: the built-in directory (`file:///var/lib/containers/sigstore` for root, else
//!   `file://$HOME/.local/share/containers/sigstore`);
//! - `use-sigstore-attachments`: the first scope that sets it, else false.
//!
//! The location of one image's signatures is the base URL with `/REPOSITORY` (without the registry host)
//! appended ([`RegistriesD::lookaside`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use reqwest::Url;

use super::{StorageError, read_file_capped};
use crate::reference::Reference;

/// The largest registries.d file read.
pub const MAX_FILE_SIZE: usize = 1024 * 1024;
/// The most `*.yaml` files read from one directory.
pub const MAX_FILES: usize = 1000;

/// The user's registries.d, under `$HOME`.
pub const USER_DIR: &str = ".config/containers/registries.d";
/// The system's registries.d.
pub const SYSTEM_DIR: &str = "/etc/containers/registries.d";
/// The built-in lookaside directory for root.
pub const ROOT_LOOKASIDE: &str = "/var/lib/containers/sigstore";
/// The built-in lookaside directory for other users, under `$HOME`.
pub const USER_LOOKASIDE: &str = ".local/share/containers/sigstore";

/// One scope's settings (containers/image's `registryNamespace`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct Namespace {
    /// For reading, and when `lookaside-staging` is not set, for writing.
    #[serde(default)]
    pub lookaside: Option<String>,
    /// For writing only.
    #[serde(default, rename = "lookaside-staging")]
    pub lookaside_staging: Option<String>,
    /// The old name of `lookaside`.
    #[serde(default)]
    pub sigstore: Option<String>,
    /// The old name of `lookaside-staging`.
    #[serde(default, rename = "sigstore-staging")]
    pub sigstore_staging: Option<String>,
    #[serde(default, rename = "use-sigstore-attachments")]
    pub use_sigstore_attachments: Option<bool>,
}

impl Namespace {
    /// The URL this scope configures for reading (or `write`-ing); `None` when it sets none.
    fn top_level(&self, write: bool) -> Option<&str> {
        let staging = if write { set(&self.lookaside_staging).or(set(&self.sigstore_staging)) } else { None };
        staging.or(set(&self.lookaside)).or(set(&self.sigstore))
    }
}

/// A setting's value; an empty string is no setting.
fn set(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

/// One registries.d file.
#[derive(Debug, Clone, Default, serde::Deserialize)]
struct File {
    #[serde(default, rename = "default-docker")]
    default_docker: Option<Namespace>,
    #[serde(default, deserialize_with = "unique_scopes")]
    docker: Option<BTreeMap<String, Option<Namespace>>>,
}

/// The `docker:` map, refusing a scope written twice in one file (yaml.v3 refuses a repeated mapping key).
fn unique_scopes<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<BTreeMap<String, Option<Namespace>>>, D::Error> {
    struct Scopes;
    impl<'de> serde::de::Visitor<'de> for Scopes {
        type Value = Option<BTreeMap<String, Option<Namespace>>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a map of scopes")
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: serde::Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_map(Scopes)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((k, v)) = map.next_entry::<String, Option<Namespace>>()? {
                if out.contains_key(&k) {
                    return Err(serde::de::Error::custom(format!("mapping key {k:?} already defined")));
                }
                out.insert(k, v);
            }
            Ok(Some(out))
        }
    }
    d.deserialize_option(Scopes)
}

/// The merged configuration of a registries.d directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistriesD {
    /// The directory read (for messages).
    pub dir: Option<PathBuf>,
    pub default_docker: Option<Namespace>,
    pub docker: BTreeMap<String, Namespace>,
}

/// Where one image's signatures are: the lookaside base for reading and for writing (the repository
/// appended), and whether sigstore attachments are read and written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub read: Url,
    pub write: Url,
    pub attachments: bool,
}

impl RegistriesD {
    /// The directory to read: `given` (`--registries.d`), else `$HOME/.config/containers/registries.d` when it
    /// exists, else `/etc/containers/registries.d`.
    pub fn dir(given: Option<&Path>, home: Option<&Path>) -> PathBuf {
        if let Some(d) = given {
            return d.to_owned();
        }
        if let Some(user) = home.map(|h| h.join(USER_DIR)).filter(|p| p.exists()) {
            return user;
        }
        PathBuf::from(SYSTEM_DIR)
    }

    /// Reads and merges the directory [`RegistriesD::dir`] chooses (`$HOME` from the environment).
    pub fn load(given: Option<&Path>) -> Result<RegistriesD, StorageError> {
        let home = std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
        RegistriesD::load_dir(&RegistriesD::dir(given, home.as_deref()))
    }

    /// Reads and merges every `*.yaml` file of `dir` (in name order, so which of two duplicates is named
    /// first is stable); a missing directory is an empty configuration.
    pub fn load_dir(dir: &Path) -> Result<RegistriesD, StorageError> {
        let io = |source| StorageError::Io { what: "reading registries.d directory", path: dir.to_owned(), source };
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(RegistriesD { dir: Some(dir.to_owned()), ..RegistriesD::default() });
            }
            Err(e) => return Err(io(e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let name = entry.map_err(io)?.file_name();
            if name.to_str().is_some_and(|n| n.ends_with(".yaml")) {
                names.push(name);
                if names.len() > MAX_FILES {
                    return Err(io(std::io::Error::other(format!("more than {MAX_FILES} .yaml files"))));
                }
            }
        }
        names.sort();
        let mut merged = RegistriesD { dir: Some(dir.to_owned()), ..RegistriesD::default() };
        let mut default_from: Option<PathBuf> = None;
        let mut scope_from: BTreeMap<String, PathBuf> = BTreeMap::new();
        for name in names {
            let path = dir.join(name);
            // A file removed since the listing is an expected race (containers/image ignores it too).
            let Some(bytes) = read_file_capped(&path, MAX_FILE_SIZE, "reading registries.d file")? else { continue };
            let file = parse_file(&path, &bytes)?;
            if let Some(d) = file.default_docker {
                if let Some(first) = &default_from {
                    return Err(StorageError::Duplicate {
                        what: "\"default-docker\"".to_owned(),
                        first: first.clone(),
                        second: path,
                    });
                }
                merged.default_docker = Some(d);
                default_from = Some(path.clone());
            }
            for (scope, ns) in file.docker.unwrap_or_default() {
                if let Some(first) = scope_from.get(&scope) {
                    return Err(StorageError::Duplicate {
                        what: format!("\"docker\" namespace {scope:?}"),
                        first: first.clone(),
                        second: path,
                    });
                }
                scope_from.insert(scope.clone(), path.clone());
                merged.docker.insert(scope, ns.unwrap_or_default());
            }
        }
        Ok(merged)
    }

    /// Parses one file's bytes (`path` names it in errors) as a configuration of its own. Public for fuzzing
    /// and tests.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<RegistriesD, StorageError> {
        let file = parse_file(path, bytes)?;
        Ok(RegistriesD {
            dir: None,
            default_docker: file.default_docker,
            docker: file.docker.unwrap_or_default().into_iter().map(|(k, v)| (k, v.unwrap_or_default())).collect(),
        })
    }

    /// The scopes that apply to `reference`, most specific first (containers/image's
    /// `PolicyConfigurationIdentity` then `PolicyConfigurationNamespaces`), each with its settings.
    fn scopes<'a>(&'a self, reference: &Reference) -> impl Iterator<Item = &'a Namespace> + 'a {
        let mut names = vec![identity(reference)];
        names.extend(namespaces(reference));
        names.into_iter().filter_map(|n| self.docker.get(&n)).chain(self.default_docker.iter())
    }

    /// The configured top-level URL for `reference` (`None`: nothing configured).
    pub fn top_level(&self, reference: &Reference, write: bool) -> Option<String> {
        self.scopes(reference).find_map(|ns| ns.top_level(write)).map(str::to_owned)
    }

    /// Whether sigstore attachments are read and written for `reference`.
    pub fn use_sigstore_attachments(&self, reference: &Reference) -> bool {
        self.scopes(reference).find_map(|ns| ns.use_sigstore_attachments).unwrap_or(false)
    }

    /// The lookaside URL of `reference`'s repository, for reading or `write`-ing: the configured URL (or the
    /// built-in directory) with `/REPOSITORY` appended.
    pub fn lookaside(&self, reference: &Reference, write: bool) -> Result<Url, StorageError> {
        let mut base = match self.top_level(reference, write) {
            Some(top) => match Url::parse(&top) {
                Ok(u) if !u.cannot_be_a_base() => u,
                Ok(_) => return Err(StorageError::Url(format!("Invalid signature storage URL {top}: not a path"))),
                Err(e) => return Err(StorageError::Url(format!("Invalid signature storage URL {top}: {e}"))),
            },
            None => builtin_lookaside(),
        };
        let repo = reference.path();
        if repo.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
            return Err(StorageError::Url(format!(
                "Unexpected path elements in Docker reference {reference} for signature storage"
            )));
        }
        let path = format!("{}/{repo}", base.path());
        base.set_path(&path);
        Ok(base)
    }

    /// The lookaside `podman image trust show` prints in STORE for a policy scope (containers/common's
    /// `registriesDConfigurationForScope`): the `docker:` entry named exactly `scope`, else the one of each
    /// parent path (`scope` cut at its last `/`, repeatedly), else `default-docker`; its `lookaside`, else its
    /// old name `sigstore` (never the staging one); empty when none is set. The scope is taken as text
    /// whatever its transport, as podman does (`""` is the policy's default).
    pub fn shown_lookaside(&self, scope: &str) -> String {
        let mut search = scope;
        let found = loop {
            if let Some(ns) = self.docker.get(search) {
                break Some(ns);
            }
            match search.rfind('/') {
                Some(i) => search = &search[..i],
                None => break self.default_docker.as_ref(),
            }
        };
        found.and_then(|ns| set(&ns.lookaside).or(set(&ns.sigstore))).unwrap_or_default().to_owned()
    }

    /// Where `reference`'s signatures are read and written.
    pub fn location(&self, reference: &Reference) -> Result<Location, StorageError> {
        Ok(Location {
            read: self.lookaside(reference, false)?,
            write: self.lookaside(reference, true)?,
            attachments: self.use_sigstore_attachments(reference),
        })
    }
}

/// Parses one file; an empty document (or only comments) configures nothing, as with yaml.v3.
fn parse_file(path: &Path, bytes: &[u8]) -> Result<File, StorageError> {
    let bad = |message: String| StorageError::Config { path: path.to_owned(), message };
    let text = std::str::from_utf8(bytes).map_err(|e| bad(format!("not UTF-8: {e}")))?;
    let file: Option<File> = serde_norway::from_str(text).map_err(|e| bad(e.to_string()))?;
    Ok(file.unwrap_or_default())
}

/// The built-in lookaside directory: root's, or the user's under `$HOME`.
fn builtin_lookaside() -> Url {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
    let dir = match (root, home) {
        (false, Some(h)) => h.join(USER_LOOKASIDE),
        _ => PathBuf::from(ROOT_LOOKASIDE),
    };
    Url::from_directory_path(&dir)
        .map(|mut u| {
            let p = u.path().trim_end_matches('/').to_owned();
            u.set_path(&p);
            u
        })
        .unwrap_or_else(|()| Url::parse(&format!("file://{ROOT_LOOKASIDE}")).expect("a valid URL"))
}

/// containers/image's `DockerReferenceIdentity`: `host/repo:tag`, or `host/repo@digest` (`:latest` when the
/// reference has neither).
pub fn identity(reference: &Reference) -> String {
    match (reference.digest(), reference.tag()) {
        (Some(d), _) => format!("{}@{d}", reference.name()),
        (None, Some(t)) => format!("{}:{t}", reference.name()),
        (None, None) => format!("{}:{}", reference.name(), crate::reference::DEFAULT_TAG),
    }
}

/// containers/image's `DockerReferenceNamespaces`: the repository, each parent namespace, the host[:port],
/// then `*.domain` wildcards of the host without its port.
pub fn namespaces(reference: &Reference) -> Vec<String> {
    let mut out = Vec::new();
    let mut name = reference.name();
    loop {
        out.push(name.clone());
        match name.rfind('/') {
            Some(i) => name.truncate(i),
            None => break,
        }
    }
    if let Some(i) = name.find(':') {
        name.truncate(i);
    }
    while let Some(i) = name.find('.') {
        name = name[i + 1..].to_owned();
        out.push(format!("*.{name}"));
    }
    out
}
