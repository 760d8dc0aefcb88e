//! How each transport names a source image for the trust policy ([`PolicyName`]), exactly as containers/image
//! computes `PolicyConfigurationIdentity` and `PolicyConfigurationNamespaces`:
//!
//! - `docker` (`docker/docker_reference.go`, `docker/policyconfiguration/naming.go`): the reference with its
//!   tag or digest, then the repository, each parent namespace, the host\[:port\], and `*.domain` wildcards
//!   (the port stripped), most specific first;
//! - `oci`, `oci-archive` (`oci/layout/oci_transport.go`, `oci/archive/oci_transport.go`): the resolved path,
//!   then the path itself and each parent (never `/`); `dir` (`directory/directory_transport.go`): the
//!   resolved path, then each parent only; `docker-archive` has none (containers/image names its images
//!   only by the transport's `""` scope, and a policy may name no other: `DockerArchiveSource::policy_name`);
//! - `containers-storage` for hoist's store (`storage/storage_reference.go`): `[hoist@ROOT]NAME@ID`, then
//!   `[hoist@ROOT]NAME`, the name's repository and each parent, `[hoist@ROOT]` and `[ROOT]`.
//!
//! A path is resolved as containers/image's `explicitfilepath.ResolvePathToFullyExplicit`: absolute, every
//! symlink followed. A source that is not a path
//! (an archive read from stdin) has no scope of its own: only the transport's `""` and `default` apply.

use std::path::{Path, PathBuf};

use crate::reference::Reference;
use crate::trust::PolicyName;

/// The transport name of hoist's store in policy.json (podman's local storage).
pub const STORE_TRANSPORT: &str = "containers-storage";
/// The "graph driver" hoist's store names itself by in a `containers-storage` scope.
pub const STORE_DRIVER: &str = "hoist";

/// A registry image: `docker` scopes of `reference` (its tag or, when it has one, its digest).
pub fn docker(reference: &Reference) -> PolicyName {
    let name = reference.name();
    let identity = match (reference.digest(), reference.tag()) {
        (Some(d), _) => format!("{name}@{d}"),
        (None, Some(t)) => format!("{name}:{t}"),
        (None, None) => format!("{name}:{}", crate::reference::DEFAULT_TAG),
    };
    PolicyName {
        transport: "docker",
        identity,
        namespaces: docker_namespaces(&name),
        docker_reference: Some(reference.clone()),
    }
}

/// containers/image's `DockerReferenceNamespaces` of a repository name (`host[:port]/path`).
pub fn docker_namespaces(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut name = name;
    loop {
        out.push(name.to_owned());
        match name.rfind('/') {
            Some(i) => name = &name[..i],
            None => break,
        }
    }
    let mut host = name.split_once(':').map_or(name, |(h, _)| h);
    while let Some(i) = host.find('.') {
        host = &host[i + 1..];
        out.push(format!("*.{host}"));
    }
    out
}

/// An archive or directory at `shown` (the path as the user gave it) read by `transport` (`oci`,
/// `oci-archive`, `dir`).
pub fn path(transport: &'static str, shown: &str) -> PolicyName {
    let Some(resolved) = resolve(Path::new(shown)) else {
        return PolicyName { transport, identity: String::new(), namespaces: Vec::new(), docker_reference: None };
    };
    let resolved = resolved.to_string_lossy().into_owned();
    let mut namespaces = Vec::new();
    let mut at = resolved.as_str();
    if transport != "dir" && at != "/" {
        namespaces.push(at.to_owned());
    }
    while let Some(i) = at.rfind('/').filter(|i| *i > 0) {
        at = &at[..i];
        namespaces.push(at.to_owned());
    }
    PolicyName { transport, identity: resolved, namespaces, docker_reference: None }
}

/// `path` made absolute with every symlink followed (containers/image's `ResolvePathToFullyExplicit`; a
/// dangling last link is kept as written under its resolved parent). `None` when nothing is at `path` (the
/// source was not read from a file: stdin).
fn resolve(path: &Path) -> Option<PathBuf> {
    if let Ok(p) = std::fs::canonicalize(path) {
        return Some(p);
    }
    let file = path.file_name()?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::symlink_metadata(path).ok()?;
    Some(std::fs::canonicalize(parent).ok()?.join(file))
}

/// An image in hoist's store at `root`, as the user named it (`named`: the full name they meant; `None` when
/// named by ID) with its image ID `id` (hex).
pub fn store(root: &Path, named: Option<&Reference>, id: Option<&str>) -> PolicyName {
    let root = resolve(root).unwrap_or_else(|| root.to_owned());
    let root = root.to_string_lossy();
    let spec = format!("[{STORE_DRIVER}@{root}]");
    let mut identity = spec.clone();
    let mut namespaces = Vec::new();
    if let Some(n) = named {
        identity.push_str(&n.to_string());
        if id.is_some() {
            namespaces.push(format!("{spec}{n}"));
        }
        if let (Some(t), Some(_)) = (n.tag(), n.digest()) {
            namespaces.push(format!("{spec}{}:{t}", n.name()));
        }
        let name = n.name();
        let mut parts: Vec<&str> = name.split('/').collect();
        while !parts.is_empty() {
            namespaces.push(format!("{spec}{}", parts.join("/")));
            parts.pop();
        }
    }
    if let Some(id) = id {
        identity.push('@');
        identity.push_str(id);
    }
    namespaces.push(spec);
    namespaces.push(format!("[{root}]"));
    PolicyName { transport: STORE_TRANSPORT, identity, namespaces, docker_reference: named.cloned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_scopes_as_containers_image() {
        let r = Reference::parse_normalized("example.com:5000/ns1/ns2/app:1.0").unwrap();
        let n = docker(&r);
        assert_eq!(n.transport, "docker");
        assert_eq!(n.identity, "example.com:5000/ns1/ns2/app:1.0");
        assert_eq!(
            n.namespaces,
            [
                "example.com:5000/ns1/ns2/app",
                "example.com:5000/ns1/ns2",
                "example.com:5000/ns1",
                "example.com:5000",
                "*.com"
            ]
        );
        assert_eq!(n.docker_reference.as_ref(), Some(&r));

        let busybox = docker(&Reference::parse_normalized("busybox").unwrap().with_default_tag());
        assert_eq!(busybox.identity, "docker.io/library/busybox:latest");
        assert_eq!(busybox.namespaces, ["docker.io/library/busybox", "docker.io/library", "docker.io", "*.io"]);

        let d = format!("sha256:{}", "a".repeat(64));
        let digested = docker(&Reference::parse_normalized(&format!("a.b.example.org/x@{d}")).unwrap());
        assert_eq!(digested.identity, format!("a.b.example.org/x@{d}"));
        assert_eq!(
            digested.namespaces,
            ["a.b.example.org/x", "a.b.example.org", "*.b.example.org", "*.example.org", "*.org"]
        );

        assert_eq!(docker_namespaces("localhost:5000/r"), ["localhost:5000/r", "localhost:5000"]);
    }

    #[test]
    fn path_scopes_resolve_links_and_list_parents() {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::os::unix::fs::symlink(root.join("a"), root.join("link")).unwrap();
        let shown = root.join("link/b").display().to_string();
        let want = root.join("a/b").display().to_string();

        let oci = path("oci", &shown);
        assert_eq!(oci.identity, want);
        assert_eq!(oci.namespaces[0], want);
        assert_eq!(oci.namespaces[1], root.join("a").display().to_string());
        assert!(!oci.namespaces.iter().any(|n| n == "/" || n.is_empty()));
        assert_eq!(oci.namespaces.last().unwrap().matches('/').count(), 1);

        let dir = path("dir", &shown);
        assert_eq!(dir.identity, want);
        assert_eq!(dir.namespaces[0], root.join("a").display().to_string(), "dir's namespaces start at the parent");

        // A dangling last link: kept as written under the resolved parent.
        std::os::unix::fs::symlink(root.join("nowhere"), root.join("a/dangling")).unwrap();
        let dangling = path("oci-archive", &root.join("link/dangling").display().to_string());
        assert_eq!(dangling.identity, root.join("a/dangling").display().to_string());

        // Not a path (stdin): no scope of its own.
        let stdin = path("docker-archive", "stdin-that-is-not-a-file-here");
        assert_eq!((stdin.identity.as_str(), stdin.namespaces.len()), ("", 0));
    }

    #[test]
    fn store_scopes_as_containers_storage() {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        let r = root.display();
        let name = Reference::parse_normalized("quay.io/org/app:1").unwrap();
        let n = store(&root, Some(&name), Some("abc"));
        assert_eq!(n.transport, "containers-storage");
        assert_eq!(n.identity, format!("[hoist@{r}]quay.io/org/app:1@abc"));
        assert_eq!(
            n.namespaces,
            [
                format!("[hoist@{r}]quay.io/org/app:1"),
                format!("[hoist@{r}]quay.io/org/app"),
                format!("[hoist@{r}]quay.io/org"),
                format!("[hoist@{r}]quay.io"),
                format!("[hoist@{r}]"),
                format!("[{r}]"),
            ]
        );
        let by_id = store(&root, None, Some("abc"));
        assert_eq!(by_id.identity, format!("[hoist@{r}]@abc"));
        assert_eq!(by_id.namespaces, [format!("[hoist@{r}]"), format!("[{r}]")]);
        assert_eq!(by_id.docker_reference, None);
    }
}
