//! Auth files: containers-auth.json(5) and docker's config.json, searched in the containers tools' order.
//! Which files, in which order, and which one `login` writes are decided here; reading, looking up and
//! editing a file without losing anything we don't understand is hoist-fs's codec ([`auth_json`]).

use std::path::{Path, PathBuf};

use hoist_fs::LockNotice;
use hoist_fs::auth_json::AuthFileError;

use super::AuthError;
use crate::observe::SharedObserver;

pub use hoist_fs::auth_json::{AuthFile, Found};

/// One auth file in the search list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthPath {
    pub path: PathBuf,
    /// `~/.dockercfg`: the whole file is the `auths` map.
    pub legacy: bool,
}

/// The files to consult, in order, and the one `login` writes to.
#[derive(Debug, Clone)]
pub struct AuthFiles {
    pub paths: Vec<AuthPath>,
}

impl AuthFiles {
    /// `--authfile` / `REGISTRY_AUTH_FILE` alone when given; else `$XDG_RUNTIME_DIR/containers/auth.json`
    /// (root without XDG_RUNTIME_DIR: `/run/containers/0/auth.json`), `$XDG_CONFIG_HOME/containers/auth.json`,
    /// `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`, and `~/.dockercfg`.
    pub fn discover(authfile: Option<&Path>) -> AuthFiles {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        let explicit = authfile.map(Path::to_path_buf).or_else(|| var("REGISTRY_AUTH_FILE"));
        if let Some(p) = explicit {
            return AuthFiles { paths: vec![AuthPath { path: p, legacy: false }] };
        }
        let home = var("HOME").unwrap_or_else(|| PathBuf::from("/"));
        let runtime = match var("XDG_RUNTIME_DIR") {
            Some(d) => d.join("containers/auth.json"),
            // SAFETY: getuid has no preconditions.
            None => PathBuf::from(format!("/run/containers/{}/auth.json", unsafe { libc::getuid() })),
        };
        let config = var("XDG_CONFIG_HOME").unwrap_or_else(|| home.join(".config")).join("containers/auth.json");
        let docker =
            var("DOCKER_CONFIG").map(|d| d.join("config.json")).unwrap_or_else(|| home.join(".docker/config.json"));
        AuthFiles {
            paths: vec![
                AuthPath { path: runtime, legacy: false },
                AuthPath { path: config, legacy: false },
                AuthPath { path: docker, legacy: false },
                AuthPath { path: home.join(".dockercfg"), legacy: true },
            ],
        }
    }

    /// The file `login` and `logout` edit: the explicit one, else the first in the list.
    pub fn primary(&self) -> &Path {
        &self.paths[0].path
    }
}

impl From<AuthFileError> for AuthError {
    fn from(e: AuthFileError) -> Self {
        AuthError::File { path: e.path, message: e.message }
    }
}

/// Edits the auth file at `path` under its lock: read, `change`, write atomically (0600) if it returns true.
/// A wait of more than a second for the lock is told to `observer` as a warning.
pub fn edit<T>(
    path: &Path,
    observer: &SharedObserver,
    change: impl FnOnce(&mut AuthFile) -> Result<(T, bool), AuthError>,
) -> Result<T, AuthError> {
    let observer = observer.clone();
    AuthFile::edit(path, &LockNotice::new(move |line| observer.warning(line)), change)
}

impl AuthPath {
    /// Reads this file whatever its permissions; a missing file is empty. Bad JSON is an error naming it.
    pub fn read(&self) -> Result<AuthFile, AuthError> {
        Ok(AuthFile::read(&self.path, self.legacy)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codec_errors_become_file_errors_naming_the_path_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.json");
        std::fs::write(&path, r#"{"auths":{"a.io":{"auth":"dTpw"}"#).unwrap();
        let e = AuthPath { path: path.clone(), legacy: false }.read().unwrap_err();
        let AuthError::File { path: p, message } = &e else { panic!("{e:?}") };
        assert_eq!(p, &path);
        assert!(message.starts_with("is not valid JSON (line 1 column "), "{message}");
        assert_eq!(e.to_string(), format!("{}: {message}", path.display()));

        std::fs::write(&path, "{}").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = edit(&path, &crate::observe::silent(), |f| Ok((f.clear_auths(), true))).unwrap_err();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let AuthError::File { path: p, message } = &e else { panic!("{e:?}") };
        assert_eq!(p, &path);
        assert!(message.starts_with("directory ") && message.contains("writable by group or others"), "{message}");
    }
}
