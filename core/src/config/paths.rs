//! Where the configuration files are: the main file, the drop-in directories and the short-name alias
//! cache, found from the environment as containers/image finds them (the order is in the parent module's
//! documentation), and the listing of one drop-in directory.
//!
//! What it is not: reading or parsing the files (`schema`, `alias_cache`) or merging them (`merge`).

use std::path::{Path, PathBuf};

use super::ConfigError;

/// Where the configuration files are.
#[derive(Debug, Clone)]
pub struct Paths {
    pub main: PathBuf,
    /// The main file was named explicitly, so its absence is an error.
    pub main_required: bool,
    pub dropin_dirs: Vec<PathBuf>,
    /// The short-name alias cache podman records choices in (`[aliases]` TOML); consulted after the
    /// configured aliases.
    pub alias_cache: Option<PathBuf>,
}

impl Paths {
    /// The paths containers tools use, from the environment.
    pub fn from_env() -> Paths {
        let home = std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
        let user_file = home.as_ref().map(|h| h.join(".config/containers/registries.conf"));
        let user_dir = home.as_ref().map(|h| h.join(".config/containers/registries.conf.d"));
        let env_dir = std::env::var_os("CONTAINERS_REGISTRIES_CONF_DIR").filter(|v| !v.is_empty()).map(PathBuf::from);
        let (main, main_required, user_file_used) =
            match std::env::var_os("CONTAINERS_REGISTRIES_CONF").filter(|v| !v.is_empty()) {
                Some(p) => (PathBuf::from(p), true, false),
                None => match user_file.filter(|f| f.exists()) {
                    Some(f) => (f, false, true),
                    None => (PathBuf::from("/etc/containers/registries.conf"), false, false),
                },
            };
        let dropin_dirs = match env_dir {
            Some(d) => vec![d],
            None if user_file_used => user_dir.into_iter().collect(),
            None => std::iter::once(PathBuf::from("/etc/containers/registries.conf.d")).chain(user_dir).collect(),
        };
        // SAFETY: geteuid has no preconditions.
        let alias_cache = if unsafe { libc::geteuid() } == 0 {
            Some(PathBuf::from("/var/cache/containers/short-name-aliases.conf"))
        } else {
            std::env::var_os("XDG_CACHE_HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(".cache")))
                .map(|c| c.join("containers/short-name-aliases.conf"))
        };
        Paths { main, main_required, dropin_dirs, alias_cache }
    }
}

/// The `*.conf` files in drop-in directory `dir`, in lexical order; a missing directory has none.
pub(super) fn dropin_files(dir: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "conf") && p.is_file())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ConfigError::new(dir, format!("reading registries.conf.d: {e}"))),
    };
    files.sort();
    Ok(files)
}
