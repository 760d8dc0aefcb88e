//! How a server key asked for is matched against the keys a store holds.
//!
//! Clients disagree on how they name a registry: the docker CLI stores Docker Hub as
//! `https://index.docker.io/v1/`, podman and skopeo ask for `docker.io`; some tools keep a scheme or a
//! trailing slash, others don't. The Go helpers match the string exactly, so a credential stored by one client
//! is invisible to another. hoist's helpers match exactly first, then by [`normalize`]d key.

/// The canonical form of a server key:
///
/// - a leading `http://` or `https://` (any case) and trailing `/` are removed;
/// - the host (up to the first `/`) is lowercased, as host names are case-insensitive; a path is kept as is
///   (`quay.io/org/repo` stays a separate, more specific key);
/// - `docker.io`, `index.docker.io`, `registry-1.docker.io` and `registry.hub.docker.com`, with or without the
///   legacy `/v1` or `/v2` path, are all `docker.io`.
pub fn normalize(key: &str) -> String {
    let mut s = key;
    for scheme in ["https://", "http://"] {
        // By bytes: the key may hold a multi-byte character where the scheme would end.
        if s.as_bytes().get(..scheme.len()).is_some_and(|p| p.eq_ignore_ascii_case(scheme.as_bytes())) {
            s = &s[scheme.len()..];
            break;
        }
    }
    let s = s.trim_end_matches('/');
    let (host, path) = match s.find('/') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    };
    let host = host.to_ascii_lowercase();
    if crate::docker_hub::is_alias(&host) {
        let path = match path {
            "v1" | "v2" => "",
            p => p,
        };
        let hub = crate::docker_hub::NAME;
        return if path.is_empty() { hub.to_owned() } else { format!("{hub}/{path}") };
    }
    if path.is_empty() { host } else { format!("{host}/{path}") }
}

/// Finds the key to use for `wanted` among `keys`: the exact key if present, else the first key (in the
/// order given) whose normalised form equals `wanted`'s.
pub fn lookup<'a, I>(keys: I, wanted: &str) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
    I::IntoIter: Clone,
{
    let keys = keys.into_iter();
    if let Some(k) = keys.clone().find(|k| *k == wanted) {
        return Some(k);
    }
    let norm = normalize(wanted);
    keys.into_iter().find(|k| normalize(k) == norm)
}

/// Every key among `keys` that denotes the same registry as `wanted` (exactly or normalised): what `erase`
/// removes and what `store` replaces, so one registry never ends up with two credentials.
pub fn same_registry<'a>(keys: impl IntoIterator<Item = &'a str>, wanted: &str) -> Vec<&'a str> {
    let norm = normalize(wanted);
    keys.into_iter().filter(|k| *k == wanted || normalize(k) == norm).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_forms() {
        for (input, want) in [
            ("docker.io", "docker.io"),
            ("https://index.docker.io/v1/", "docker.io"),
            ("index.docker.io", "docker.io"),
            ("registry-1.docker.io", "docker.io"),
            ("HTTPS://Registry-1.Docker.IO/v2", "docker.io"),
            ("docker.io/library/alpine", "docker.io/library/alpine"),
            ("https://127.0.0.1:5000/", "127.0.0.1:5000"),
            ("http://Quay.IO/Org/Repo/", "quay.io/Org/Repo"),
            (" localhost:5000", " localhost:5000"),
            ("[::1]:5000", "[::1]:5000"),
            // A multi-byte character across the scheme's length (found by fuzzing: it panicked).
            ("quay.ioъrg", "quay.ioъrg"),
            ("HTTPSp/ȭegistry.Example.com", "httpsp/ȭegistry.Example.com"),
            ("https://Ȭ.Example/v1", "Ȭ.example/v1"),
        ] {
            assert_eq!(normalize(input), want, "{input}");
        }
    }

    #[test]
    fn exact_match_wins() {
        let keys = ["https://index.docker.io/v1/", "docker.io"];
        assert_eq!(lookup(keys, "docker.io"), Some("docker.io"));
        assert_eq!(lookup(keys, "registry-1.docker.io"), Some("https://index.docker.io/v1/"));
        assert_eq!(lookup(["https://index.docker.io/v1/"], "docker.io"), Some("https://index.docker.io/v1/"));
        assert_eq!(lookup(["quay.io/org"], "quay.io"), None);
        assert_eq!(same_registry(keys, "index.docker.io"), keys.to_vec());
    }
}
