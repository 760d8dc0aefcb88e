//! Docker Hub's many names, in one table. Every part of hoist that meets a registry name — references, auth
//! file keys, helper keys, registry endpoints, `hoist login` arguments — asks this module, so they agree.
//!
//! The canonical name is `docker.io`, as references and podman/skopeo write it. Which spellings a given
//! place folds is its own anchor's rule: distribution's reference grammar folds only [`LEGACY_NAME`];
//! containers/image's auth lookup folds `docker.io`, `index.docker.io` and `registry-1.docker.io`; the
//! hoist helpers fold every entry of [`ALIASES`].

/// The canonical name (references, podman, skopeo, auth.json keys written by containers tools).
pub const NAME: &str = "docker.io";
/// The name distribution's reference parser rewrites to [`NAME`] (`index.docker.io/library/alpine`).
pub const LEGACY_NAME: &str = "index.docker.io";
/// The host that serves Docker Hub's registry API.
pub const API_HOST: &str = "registry-1.docker.io";
/// The key the docker CLI stores Docker Hub's credentials under.
pub const DOCKER_CLI_KEY: &str = "https://index.docker.io/v1/";
/// Every host name that is Docker Hub's registry.
pub const ALIASES: [&str; 4] = [NAME, LEGACY_NAME, API_HOST, "registry.hub.docker.com"];
/// The names containers/image's auth-file lookup treats as one (`normalizeRegistry`), matched exactly.
pub const CONTAINERS_AUTH_NAMES: [&str; 3] = [NAME, LEGACY_NAME, API_HOST];

/// True when `host` (any case, without scheme or path) is one of Docker Hub's names.
pub fn is_alias(host: &str) -> bool {
    ALIASES.iter().any(|a| a.eq_ignore_ascii_case(host))
}

/// `host` with Docker Hub's names folded to [`NAME`]; any other host unchanged.
pub fn canonical(host: &str) -> &str {
    if is_alias(host) { NAME } else { host }
}

/// `host` folded as containers/image folds auth-file keys: [`CONTAINERS_AUTH_NAMES`] exactly, to [`NAME`].
pub fn containers_auth_canonical(host: &str) -> &str {
    if CONTAINERS_AUTH_NAMES.contains(&host) { NAME } else { host }
}

/// The host to send API requests to for registry `host`.
pub fn api_host(host: &str) -> &str {
    if is_alias(host) { API_HOST } else { host }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_every_alias_and_nothing_else() {
        for a in ALIASES.iter().chain(&["Docker.IO", "INDEX.docker.io"]) {
            assert_eq!(canonical(a), NAME, "{a}");
            assert_eq!(api_host(a), API_HOST, "{a}");
        }
        for other in ["quay.io", "docker.io.evil.example", "hub.docker.com", "localhost:5000", ""] {
            assert_eq!(canonical(other), other);
            assert!(!is_alias(other));
        }
        assert_eq!(containers_auth_canonical("registry-1.docker.io"), NAME);
        assert_eq!(containers_auth_canonical("registry.hub.docker.com"), "registry.hub.docker.com");
        assert_eq!(containers_auth_canonical("Docker.IO"), "Docker.IO");
    }
}
