//! Which registry endpoints to contact for a name, in order, and how: the answer the CLI only displays and the
//! pull/push code will follow.
//!
//! - A login key (`host[:port][/namespace]`) reaches its registry's host; a blocked registry is refused before
//!   any request.
//! - An image is pulled from its `[[registry]]` entry's usable mirrors (as `mirror-by-digest-only` and
//!   `pull-from-mirror` allow), then from the primary location; each with the reference rewritten to that
//!   location, and each with its own `insecure` flag. A blocked registry yields no endpoint at all.
//! - TLS: `--tls-verify` (when given) overrides registries.conf's `insecure` for every endpoint; an insecure
//!   endpoint skips certificate checks and may fall back to plain HTTP. Certificates come from `--cert-dir`,
//!   else `/etc/containers/certs.d/HOST` and `/etc/docker/certs.d/HOST`.
//!
//! What it is not: the HTTP client ([`super::RegistryClient`]) or short-name resolution
//! ([`crate::config::Config::resolve`], which produces the candidates this module turns into endpoints).

use std::path::{Path, PathBuf};

use hoist_helper_protocol::docker_hub;

use super::RegistryError;
use crate::config::Config;
use crate::reference::Reference;

/// How to reach one registry host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `host[:port]` as used in references (`docker.io` is reached at `registry-1.docker.io`).
    pub host: String,
    /// Verify TLS certificates (false for `--tls-verify=false` or `insecure = true`).
    pub tls_verify: bool,
    /// Also try plain HTTP when HTTPS cannot connect (insecure registries).
    pub allow_http: bool,
    /// Directories with extra CA certificates (`*.crt`) and client `NAME.cert`/`NAME.key` pairs.
    pub cert_dirs: Vec<PathBuf>,
    /// Hosts registries.conf marks insecure: plain-HTTP token realms that may receive credentials.
    pub insecure_hosts: Vec<String>,
    /// How long to wait to connect, for an answer's headers and between reads of a body
    /// ([`super::tls::build_client`]); `None` waits for ever. [`super::tls::DEFAULT_READ_TIMEOUT`] unless the
    /// caller's settings say otherwise.
    pub timeout: Option<std::time::Duration>,
}

impl Endpoint {
    /// A test server's endpoint: HTTPS tried unverified, then plain HTTP, the default timeout.
    #[cfg(test)]
    pub(crate) fn for_test_server(addr: &std::net::SocketAddr) -> Endpoint {
        Endpoint {
            host: addr.to_string(),
            tls_verify: false,
            allow_http: true,
            cert_dirs: Vec::new(),
            insecure_hosts: Vec::new(),
            timeout: Some(super::tls::DEFAULT_READ_TIMEOUT),
        }
    }

    /// The host to connect to.
    pub fn api_host(&self) -> &str {
        docker_hub::api_host(&self.host)
    }

    /// The default certificate directories podman reads for `host`, unless `extra` (`--cert-dir`) replaces them.
    pub fn default_cert_dirs(host: &str, extra: Option<&Path>) -> Vec<PathBuf> {
        match extra {
            Some(dir) => vec![dir.to_path_buf()],
            None => vec![
                PathBuf::from("/etc/containers/certs.d").join(host),
                PathBuf::from("/etc/docker/certs.d").join(host),
            ],
        }
    }
}

/// The TLS choices a user made on the command line (podman's `--tls-verify`, `--cert-dir`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// `Some(false)` for `--tls-verify=false`; `None` leaves it to registries.conf.
    pub tls_verify: Option<bool>,
    pub cert_dir: Option<PathBuf>,
}

impl TlsOptions {
    /// The endpoint for `host`, which registries.conf marks `insecure` or not.
    pub fn endpoint(&self, host: &str, insecure: bool) -> Endpoint {
        let tls_verify = self.tls_verify.unwrap_or(!insecure);
        Endpoint {
            host: host.to_owned(),
            tls_verify,
            allow_http: !tls_verify,
            cert_dirs: Endpoint::default_cert_dirs(host, self.cert_dir.as_deref()),
            insecure_hosts: Vec::new(),
            timeout: Some(super::tls::DEFAULT_READ_TIMEOUT),
        }
    }
}

/// The hosts registries.conf marks insecure (entries and mirrors).
fn insecure_hosts(config: &Config) -> Vec<String> {
    let mut hosts = Vec::new();
    for r in &config.registries {
        if r.insecure && !r.location.is_empty() {
            hosts.push(r.location.split('/').next().unwrap_or(&r.location).to_owned());
        }
        for m in r.mirrors.iter().filter(|m| m.insecure) {
            hosts.push(m.location.split('/').next().unwrap_or(&m.location).to_owned());
        }
    }
    hosts
}

/// The endpoint to write `reference` to: its registry's primary location (mirrors are only for pulls).
pub fn for_push(config: &Config, reference: &Reference, tls: &TlsOptions) -> Endpoint {
    let insecure = config.find_registry(&reference.to_string()).is_some_and(|r| r.insecure);
    let mut e = tls.endpoint(reference.domain(), insecure);
    e.insecure_hosts = insecure_hosts(config);
    e
}

/// One place to pull an image from: the reference as that registry names it, and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub reference: Reference,
    pub endpoint: Endpoint,
    pub mirror: bool,
}

fn blocked(config: &Config, name: &str, host: &str) -> Result<(), RegistryError> {
    match config.find_registry(name).filter(|r| r.blocked) {
        Some(r) => {
            Err(RegistryError::Blocked { host: host.to_owned(), prefix: r.prefix.clone(), origin: r.origin.clone() })
        }
        None => Ok(()),
    }
}

/// The endpoint for a login key (`host[:port][/namespace]`): refused when registries.conf blocks it.
pub fn for_login(config: &Config, key: &str, tls: &TlsOptions) -> Result<Endpoint, RegistryError> {
    let host = key.split('/').next().unwrap_or(key);
    blocked(config, key, host)?;
    let insecure = config.find_registry(key).is_some_and(|r| r.insecure);
    let mut e = tls.endpoint(host, insecure);
    e.insecure_hosts = insecure_hosts(config);
    Ok(e)
}

/// Where to pull `reference` from, in order: the usable mirrors, then the primary location.
pub fn for_pull(config: &Config, reference: &Reference, tls: &TlsOptions) -> Result<Vec<Target>, RegistryError> {
    blocked(config, &reference.to_string(), reference.domain())?;
    let sources = config
        .pull_sources(reference)
        .map_err(|e| RegistryError::Protocol(format!("rewriting {reference} for its registries.conf entry: {e}")))?;
    Ok(sources
        .into_iter()
        .map(|s| {
            let mut endpoint = tls.endpoint(s.reference.domain(), s.insecure);
            endpoint.insecure_hosts = insecure_hosts(config);
            Target { reference: s.reference, endpoint, mirror: s.mirror }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        Config::from_str(Path::new("/etc/containers/registries.conf"), text).unwrap()
    }

    #[test]
    fn mirrors_then_primary_with_their_own_tls() {
        let c = config(
            r#"
[[registry]]
prefix = "example.com/foo"
location = "primary.example.com/bar"
insecure = true
[[registry.mirror]]
location = "mirror-1.example.com"
[[registry.mirror]]
location = "mirror-2.example.com"
insecure = true
pull-from-mirror = "digest-only"
"#,
        );
        let r = Reference::parse_normalized("example.com/foo/app:1").unwrap();
        let got = for_pull(&c, &r, &TlsOptions::default()).unwrap();
        let summary: Vec<_> = got
            .iter()
            .map(|t| (t.reference.to_string(), t.endpoint.tls_verify, t.endpoint.allow_http, t.mirror))
            .collect();
        assert_eq!(
            summary,
            [
                ("mirror-1.example.com/app:1".to_owned(), true, false, true),
                ("primary.example.com/bar/app:1".to_owned(), false, true, false),
            ],
            "a tag is not pulled from a digest-only mirror"
        );
        let forced = TlsOptions { tls_verify: Some(true), cert_dir: Some("/certs".into()) };
        let got = for_pull(&c, &r, &forced).unwrap();
        assert!(got.iter().all(|t| t.endpoint.tls_verify && t.endpoint.cert_dirs == [PathBuf::from("/certs")]));
    }

    #[test]
    fn blocked_registries_yield_no_endpoint() {
        let c = config("[[registry]]\nlocation = \"bad.example.com\"\nblocked = true\n");
        let r = Reference::parse_normalized("bad.example.com/app").unwrap();
        let e = for_pull(&c, &r, &TlsOptions::default()).unwrap_err();
        assert!(matches!(e, RegistryError::Blocked { ref host, .. } if host == "bad.example.com"), "{e}");
        assert!(for_login(&c, "bad.example.com/team", &TlsOptions::default()).is_err());
        let ok = for_login(&c, "good.example.com:5000", &TlsOptions::default()).unwrap();
        assert_eq!((ok.host.as_str(), ok.tls_verify), ("good.example.com:5000", true));
        assert_eq!(
            ok.cert_dirs,
            [
                PathBuf::from("/etc/containers/certs.d/good.example.com:5000"),
                PathBuf::from("/etc/docker/certs.d/good.example.com:5000")
            ]
        );
    }

    #[test]
    fn docker_hub_is_reached_at_its_api_host() {
        let e = TlsOptions::default().endpoint("docker.io", false);
        assert_eq!(e.api_host(), "registry-1.docker.io");
        assert_eq!(TlsOptions::default().endpoint("quay.io", false).api_host(), "quay.io");
    }
}
