//! Where credentials live and how they are found, stored and removed, exactly where podman, skopeo and
//! docker look: the `credential-helpers` list of registries.conf (default: the auth files), auth files in
//! containers-auth.json(5) order, `credHelpers` and — as docker does — `credsStore` in those files, and
//! credential helpers run through the protocol crate's client.
//!
//! What it is not: registry authentication over HTTP (tokens, challenges); that is `registry`'s job.

pub mod files;

use std::path::PathBuf;

use hoist_helper_protocol::Credentials;
use hoist_helper_protocol::client::{Client, ClientError};

use crate::config::{AUTH_FILE_HELPER, Config};
use crate::observe::{self, SharedObserver};
use files::Found as FileFound;
pub use files::{AuthFile, AuthFiles, AuthPath};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
    #[error(transparent)]
    Helper(#[from] ClientError),
    #[error("not logged into {0}")]
    NotLoggedIn(String),
    #[error("{0}")]
    Invalid(String),
    /// No credential was found and at least one source failed (each is named).
    #[error("looking up credentials for {key}: {}", failures.join("; "))]
    Lookup { key: String, failures: Vec<String> },
    #[error("please specify a registry to {verb} (no unqualified-search-registries are configured)")]
    NoRegistry { verb: &'static str },
}

/// Where a credential lives. Never holds the secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "Kind", rename_all = "lowercase", rename_all_fields = "PascalCase")]
pub enum Location {
    /// An `auths` entry in an auth file.
    File { path: PathBuf, key: String },
    /// A credential helper, named by registries.conf or by `credHelpers`/`credsStore` in `via`.
    Helper { name: String, via: Option<PathBuf> },
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::File { path, .. } => write!(f, "{}", path.display()),
            Location::Helper { name, via: Some(v) } => write!(f, "docker-credential-{name} (from {})", v.display()),
            Location::Helper { name, via: None } => {
                write!(f, "docker-credential-{name} (registries.conf credential-helpers)")
            }
        }
    }
}

/// A credential and where it came from.
#[derive(Debug)]
pub struct Found {
    pub creds: Credentials,
    pub location: Location,
}

/// One line of `creds list` (JSON keys in PascalCase, as every `--format json` of hoist).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Listed {
    pub registry: String,
    pub username: String,
    pub location: Location,
}

/// The credential sources in effect.
#[derive(Clone)]
pub struct Auth {
    pub files: AuthFiles,
    pub helpers: Vec<String>,
    /// Environment for helper processes (tests point helpers at private stores).
    pub helper_env: Vec<(String, String)>,
    /// Where warnings go (a source that failed while another answered).
    pub observer: SharedObserver,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").field("files", &self.files).field("helpers", &self.helpers).finish_non_exhaustive()
    }
}

/// The registry part of a key (`quay.io/org/repo` → `quay.io`).
pub fn registry_of(key: &str) -> &str {
    key.split('/').next().unwrap_or(key)
}

/// The key `hoist login`/`logout` act on, as podman derives it: the argument with any `http(s)://` scheme
/// and trailing `/` removed and Docker Hub's names folded to `docker.io`; without an argument, the first
/// `unqualified-search-registries` entry. The result is validated with [`validate_key`].
pub fn login_key(arg: Option<&str>, config: &Config, verb: &'static str) -> Result<String, AuthError> {
    let key = match arg {
        Some(a) => a,
        None => config.unqualified_search_registries.first().ok_or(AuthError::NoRegistry { verb })?,
    };
    let key = key.strip_prefix("https://").or_else(|| key.strip_prefix("http://")).unwrap_or(key).trim_end_matches('/');
    let key = match key.split_once('/') {
        Some((host, path)) => format!("{}/{path}", docker_hub_name(host)),
        None => docker_hub_name(key).to_owned(),
    };
    validate_key(&key)?;
    Ok(key)
}

fn docker_hub_name(host: &str) -> &str {
    hoist_helper_protocol::docker_hub::canonical(host)
}

/// Checks a login/logout key: `host[:port][/namespace...]`, no scheme, tag or digest.
pub fn validate_key(key: &str) -> Result<(), AuthError> {
    let bad = |why: &str| AuthError::Invalid(format!("invalid registry or repository {key:?}: {why}"));
    if key.contains("://") {
        return Err(bad("a URL scheme is not allowed"));
    }
    if key.contains('@') {
        return Err(bad("a digest is not allowed"));
    }
    if !crate::reference::is_valid_domain(registry_of(key)) {
        return Err(bad("expected a registry host, optionally with a repository path"));
    }
    crate::reference::Reference::parse_normalized(&format!("{key}/x")).map_err(|e| bad(&e.to_string()))?;
    let path = key.split_once('/').map(|(_, p)| p).unwrap_or("");
    if path.contains(':') {
        return Err(bad("a tag is not allowed"));
    }
    if path.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(bad("a repository path must be lowercase"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Listed, Location, login_key, validate_key};
    use crate::config::Config;

    /// `creds list --format json`: PascalCase keys, as every JSON hoist prints of its own.
    #[test]
    fn listed_credentials_have_pascal_case_keys() {
        let listed = [
            Listed {
                registry: "r.io".into(),
                username: "u".into(),
                location: Location::File { path: "/a.json".into(), key: "r.io".into() },
            },
            Listed {
                registry: "q.io".into(),
                username: "v".into(),
                location: Location::Helper { name: "file".into(), via: None },
            },
        ];
        assert_eq!(
            serde_json::to_value(listed).unwrap(),
            serde_json::json!([
                {"Registry": "r.io", "Username": "u", "Location": {"Kind": "file", "Path": "/a.json", "Key": "r.io"}},
                {"Registry": "q.io", "Username": "v", "Location": {"Kind": "helper", "Name": "file", "Via": null}},
            ])
        );
    }

    #[test]
    fn login_keys_as_podman_derives_them() {
        let config = Config { unqualified_search_registries: vec!["first.io".into()], ..Config::default() };
        for (arg, want) in [
            (Some("https://quay.io/"), "quay.io"),
            (Some("http://r.example:5000/team"), "r.example:5000/team"),
            (Some("index.docker.io"), "docker.io"),
            (Some("https://registry-1.docker.io/library"), "docker.io/library"),
            (Some("docker.io"), "docker.io"),
            (None, "first.io"),
        ] {
            assert_eq!(login_key(arg, &config, "log in to").unwrap(), want, "{arg:?}");
        }
        let e = login_key(None, &Config::default(), "log out of").unwrap_err().to_string();
        assert_eq!(e, "please specify a registry to log out of (no unqualified-search-registries are configured)");
        assert!(login_key(Some("quay.io/org:tag"), &config, "log in to").is_err());
    }

    #[test]
    fn login_keys() {
        for ok in [
            "myregistry",
            "myregistry:5000",
            "quay.io",
            "quay.io/org",
            "quay.io/org/repo",
            "[::1]:5000",
            "localhost",
            "Docker.IO",
        ] {
            assert!(validate_key(ok).is_ok(), "{ok}: {:?}", validate_key(ok).err());
        }
        for bad in [
            "",
            "https://quay.io",
            "quay.io/org:tag",
            "quay.io@sha256:x",
            "quay.io/Org",
            "-bad.io",
            "a b",
            "quay.io//x",
        ] {
            assert!(validate_key(bad).is_err(), "{bad}");
        }
    }
}

impl Auth {
    pub fn new(files: AuthFiles, config: &Config) -> Auth {
        Auth { files, helpers: config.credential_helpers.clone(), helper_env: Vec::new(), observer: observe::silent() }
    }

    /// Sends warnings to `observer`.
    pub fn with_observer(mut self, observer: SharedObserver) -> Auth {
        self.observer = observer;
        self
    }

    fn client(&self, name: &str) -> Client {
        self.helper_env.iter().fold(Client::new(name), |c, (k, v)| c.env(k, v))
    }

    fn helper_get(&self, name: &str, registry: &str) -> Result<Option<Credentials>, AuthError> {
        Ok(self.client(name).get(registry)?)
    }

    /// The credential for `key`, searching every source in order; the first found wins. A source that fails
    /// (a helper that errors, an unreadable auth file) does not stop the search, as in containers/image: when
    /// a later source answers, each failure is reported once as a warning; when none does, the failures are
    /// the error (and are not also warned about).
    pub fn lookup(&self, key: &str) -> Result<Option<Found>, AuthError> {
        let mut failures = Vec::new();
        for helper in &self.helpers {
            let result = if helper == AUTH_FILE_HELPER {
                self.lookup_files(key)
            } else {
                self.helper_get(helper, registry_of(key)).map(|c| {
                    c.map(|creds| Found { creds, location: Location::Helper { name: helper.clone(), via: None } })
                })
            };
            match result {
                Ok(Some(found)) => {
                    for f in &failures {
                        self.observer.warning(&format!("skipped a credential source for {key}: {f}"));
                    }
                    return Ok(Some(found));
                }
                Ok(None) => {}
                Err(e) => failures.push(e.to_string()),
            }
        }
        if failures.is_empty() { Ok(None) } else { Err(AuthError::Lookup { key: key.to_owned(), failures }) }
    }

    /// The auth files' part of [`Auth::lookup`]: each file in order, and the helper a file names.
    fn lookup_files(&self, key: &str) -> Result<Option<Found>, AuthError> {
        for p in &self.files.paths {
            let file = p.read()?;
            match file.find(key, true)? {
                Some(FileFound::Entry { key, creds }) => {
                    return Ok(Some(Found { creds, location: Location::File { path: p.path.clone(), key } }));
                }
                Some(FileFound::Helper(name)) => {
                    if let Some(creds) = self.helper_get(&name, registry_of(key))? {
                        let location = Location::Helper { name, via: Some(p.path.clone()) };
                        return Ok(Some(Found { creds, location }));
                    }
                }
                None => {}
            }
        }
        Ok(None)
    }

    /// Stores a verified credential where podman would: the first source of the list that accepts it.
    pub fn store(&self, key: &str, creds: &Credentials) -> Result<Location, AuthError> {
        validate_key(key)?;
        let registry = registry_of(key);
        let namespaced = key.contains('/');
        let mut errors = Vec::new();
        for helper in &self.helpers {
            let result = if helper == AUTH_FILE_HELPER {
                let primary = self.files.primary().to_path_buf();
                files::edit(&primary, &self.observer, |file| {
                    let helper = file.cred_helpers().get(registry).cloned().or_else(|| file.creds_store());
                    match helper {
                        Some(name) if namespaced => Err(AuthError::Invalid(format!(
                            "docker-credential-{name} cannot store credentials for a repository namespace ({key})"
                        ))),
                        Some(name) => {
                            let mut c = creds.clone();
                            c.server_url = registry.to_owned();
                            self.client(&name).store(&c)?;
                            Ok((Location::Helper { name, via: Some(primary.clone()) }, false))
                        }
                        None => {
                            file.set_auth(key, creds);
                            Ok((Location::File { path: primary.clone(), key: key.to_owned() }, true))
                        }
                    }
                })
            } else if namespaced {
                Err(AuthError::Invalid(format!(
                    "docker-credential-{helper} cannot store credentials for a repository namespace ({key})"
                )))
            } else {
                let mut c = creds.clone();
                c.server_url = registry.to_owned();
                self.client(helper)
                    .store(&c)
                    .map(|()| Location::Helper { name: helper.clone(), via: None })
                    .map_err(AuthError::from)
            };
            match result {
                Ok(location) => return Ok(location),
                Err(e) => errors.push(e.to_string()),
            }
        }
        Err(AuthError::Invalid(format!("cannot store credentials for {key}: {}", errors.join("; "))))
    }

    /// Erases `registry` from helper `name` if it holds it; the location removed, if any.
    fn erase_from_helper(
        &self,
        name: &str,
        registry: &str,
        via: Option<&std::path::Path>,
    ) -> Result<Option<Location>, AuthError> {
        if self.helper_get(name, registry)?.is_none() {
            return Ok(None);
        }
        self.client(name).erase(registry)?;
        Ok(Some(Location::Helper { name: name.to_owned(), via: via.map(std::path::Path::to_path_buf) }))
    }

    /// Removes the credential for `key` from every source that has it (`logout`).
    pub fn erase(&self, key: &str) -> Result<Vec<Location>, AuthError> {
        validate_key(key)?;
        let registry = registry_of(key);
        let mut removed = Vec::new();
        for helper in &self.helpers {
            if helper == AUTH_FILE_HELPER {
                let primary = self.files.primary().to_path_buf();
                let mut r = files::edit(&primary, &self.observer, |file| {
                    let mut here = Vec::new();
                    let helper = file.cred_helpers().get(registry).cloned().or_else(|| file.creds_store());
                    if let Some(name) = helper.filter(|_| !key.contains('/')) {
                        here.extend(self.erase_from_helper(&name, registry, Some(&primary))?);
                    }
                    let changed = file.remove_auth(key);
                    if changed {
                        here.push(Location::File { path: primary.clone(), key: key.to_owned() });
                    }
                    Ok((here, changed))
                })?;
                removed.append(&mut r);
            } else if !key.contains('/') {
                removed.extend(self.erase_from_helper(helper, registry, None)?);
            }
        }
        if removed.is_empty() {
            return Err(AuthError::NotLoggedIn(key.to_owned()));
        }
        Ok(removed)
    }

    /// Removes every credential (`logout --all`): the primary auth file's entries and helpers, and everything
    /// in the registries.conf helpers.
    pub fn erase_all(&self) -> Result<Vec<Location>, AuthError> {
        let mut removed = Vec::new();
        for helper in &self.helpers {
            if helper == AUTH_FILE_HELPER {
                let primary = self.files.primary().to_path_buf();
                let mut r = files::edit(&primary, &self.observer, |file| {
                    let mut here = Vec::new();
                    for (registry, name) in file.cred_helpers() {
                        here.extend(self.erase_from_helper(&name, &registry, Some(&primary))?);
                    }
                    let changed = file.clear_auths();
                    if changed {
                        here.push(Location::File { path: primary.clone(), key: "*".into() });
                    }
                    Ok((here, changed))
                })?;
                removed.append(&mut r);
            } else {
                let client = self.client(helper);
                for server in client.list()?.into_keys() {
                    client.erase(&server)?;
                    removed.push(Location::Helper { name: helper.clone(), via: None });
                }
            }
        }
        Ok(removed)
    }

    /// Every credential with its user and where it lives; never a secret.
    pub fn list(&self) -> Result<Vec<Listed>, AuthError> {
        let mut out = Vec::new();
        for helper in &self.helpers {
            if helper == AUTH_FILE_HELPER {
                for p in &self.files.paths {
                    let file = p.read()?;
                    for key in file.auth_keys() {
                        if let Some(username) = file.username_of(&key) {
                            out.push(Listed {
                                registry: key.clone(),
                                username,
                                location: Location::File { path: p.path.clone(), key },
                            });
                        }
                    }
                    for (registry, name) in file.cred_helpers() {
                        if let Some(c) = self.helper_get(&name, &registry)? {
                            out.push(Listed {
                                registry,
                                username: c.username,
                                location: Location::Helper { name, via: Some(p.path.clone()) },
                            });
                        }
                    }
                    if let Some(store) = file.creds_store() {
                        for (registry, username) in self.client(&store).list()? {
                            out.push(Listed {
                                registry,
                                username,
                                location: Location::Helper { name: store.clone(), via: Some(p.path.clone()) },
                            });
                        }
                    }
                }
            } else {
                for (registry, username) in self.client(helper).list()? {
                    out.push(Listed {
                        registry,
                        username,
                        location: Location::Helper { name: helper.clone(), via: None },
                    });
                }
            }
        }
        Ok(out)
    }
}

/// What [`Auth::migrate`] did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct MigrateReport {
    pub moved: Vec<Moved>,
    /// Credentials left where they were, and why.
    pub skipped: Vec<Skipped>,
}

/// A credential [`Auth::migrate`] left in place.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    pub registry: String,
    pub reason: SkipReason,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    /// `quay.io/org`: helpers store one credential per registry.
    NamespaceKey,
    /// The helper did not give back what it was given.
    NotReadBack { helper: String },
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.reason {
            SkipReason::NamespaceKey => {
                write!(f, "{}: a repository namespace key cannot be stored in a credential helper", self.registry)
            }
            SkipReason::NotReadBack { helper } => write!(
                f,
                "{}: docker-credential-{helper} did not return the credential it was given; the old copy is kept",
                self.registry
            ),
        }
    }
}

/// One credential moved by [`Auth::migrate`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct Moved {
    pub registry: String,
    pub username: String,
    pub from: Location,
    pub to: String,
}

impl Auth {
    /// The full credential at a listed location.
    fn fetch(&self, listed: &Listed) -> Result<Option<Credentials>, AuthError> {
        match &listed.location {
            Location::File { path, key } => {
                let legacy = self.files.paths.iter().any(|p| p.path == *path && p.legacy);
                let file = AuthPath { path: path.clone(), legacy }.read()?;
                Ok(match file.find(key, false)? {
                    Some(FileFound::Entry { creds, .. }) => Some(creds),
                    _ => None,
                })
            }
            Location::Helper { name, .. } => self.helper_get(name, &listed.registry),
        }
    }

    /// Moves credentials into the helper `to`: each is stored there, read back and compared, and only then
    /// is the old copy removed and `credHelpers` in the auth file pointed at `to`, so podman, skopeo and
    /// docker find it in its new place. `from` keeps only sources whose description contains it (a path or a
    /// helper name); `registries`, when not empty, only those registries. Repository-namespace keys
    /// (`quay.io/org`) stay where they are: helpers store per registry.
    pub fn migrate(&self, to: &str, from: Option<&str>, registries: &[String]) -> Result<MigrateReport, AuthError> {
        let mut report = MigrateReport::default();
        let target = self.client(to);
        for listed in self.list()? {
            let from_matches = match (&listed.location, from) {
                (_, None) => true,
                (Location::File { path, .. }, Some(f)) => path.to_string_lossy().contains(f) || f == "auth-file",
                (Location::Helper { name, .. }, Some(f)) => name == f,
            };
            let already_there = matches!(&listed.location, Location::Helper { name, .. } if name == to);
            if !from_matches || already_there || (!registries.is_empty() && !registries.contains(&listed.registry)) {
                continue;
            }
            if listed.registry.contains('/') {
                report.skipped.push(Skipped { registry: listed.registry.clone(), reason: SkipReason::NamespaceKey });
                continue;
            }
            let Some(creds) = self.fetch(&listed)? else { continue };
            let mut c = creds.clone();
            c.server_url = listed.registry.clone();
            target.store(&c)?;
            let back = target.get(&listed.registry)?;
            let same =
                back.as_ref().is_some_and(|b| b.username == c.username && b.secret.expose() == c.secret.expose());
            if !same {
                let reason = SkipReason::NotReadBack { helper: to.to_owned() };
                report.skipped.push(Skipped { registry: listed.registry.clone(), reason });
                continue;
            }
            // Point the auth file at the new helper, then remove the old copy.
            let file_path = match &listed.location {
                Location::File { path, .. } => path.clone(),
                Location::Helper { via: Some(v), .. } => v.clone(),
                Location::Helper { via: None, .. } => self.files.primary().to_path_buf(),
            };
            let registry = listed.registry.clone();
            files::edit(&file_path, &self.observer, |file| {
                if let Location::File { key, .. } = &listed.location {
                    file.remove_auth(key);
                }
                file.set_cred_helper(&registry, to);
                Ok(((), true))
            })?;
            if let Location::Helper { name, .. } = &listed.location {
                self.client(name).erase(&listed.registry)?;
            }
            report.moved.push(Moved {
                registry: listed.registry.clone(),
                username: listed.username.clone(),
                from: listed.location.clone(),
                to: to.to_owned(),
            });
        }
        Ok(report)
    }
}

#[cfg(test)]
mod source_tests;
