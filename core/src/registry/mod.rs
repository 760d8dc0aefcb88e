//! The registry HTTP client (OCI distribution API), built as layers around one request path, as
//! go-containerregistry's transport and containers/image's `docker` client are.
//!
//! From the outside in:
//! - **Operations** on [`RegistryClient`]: manifests ([`get_manifest`](RegistryClient::get_manifest),
//!   [`head_manifest`](RegistryClient::head_manifest), [`put_manifest`](RegistryClient::put_manifest),
//!   [`delete_manifest`](RegistryClient::delete_manifest)), blobs ([`blob_size`](RegistryClient::blob_size),
//!   [`get_blob`](RegistryClient::get_blob) — streamed, verified as bytes pass, resumed with `Range` after a
//!   broken connection —, [`mount_blob`](RegistryClient::mount_blob),
//!   [`upload_blob`](RegistryClient::upload_blob), [`delete_blob`](RegistryClient::delete_blob)) and
//!   [`list_tags`](RegistryClient::list_tags). Each names the URL, the token scopes it needs
//!   (`repository:NAME:pull`, `pull,push`, `delete`) and the statuses it expects; bodies are read with caps
//!   (`body`) and digests are computed once, as bytes pass ([`crate::digest`]).
//! - **The request path** (`request`), the only place a request is sent from: Authorization for the scopes
//!   (Basic, or a Bearer [`token`] cached per scope set); on a 401 that says the token is insufficient or
//!   invalid, one fresh token for the union of the challenge's scopes and ours, and one more try; retries of
//!   what [`RegistryError::is_retryable`] calls transient (a dropped connection, 408, 429, 5xx) with bounded
//!   exponential backoff ([`RetryPolicy`]) that honours `Retry-After`; each distinct `Warning: 299` shown once
//!   through the [`crate::observe::Observer`]; typed [`error`]s; request logging that never shows
//!   credentials.
//! - **The connection**: [`endpoint`] (which hosts to contact for a name, in order, and with which TLS),
//!   [`tls`] (roots, verification, the endpoint's timeout from `ops::Settings`), ping of `/v2/` with scheme fallback for
//!   insecure registries, and the [`challenge`] it answers with. Redirects are followed by reqwest, which never
//!   carries `Authorization` to another host (blobs served from object storage or a CDN).
//! - **The origin rule** (`origin`), for every URL a registry hands back (upload `Location`s, tag-list `Link`s,
//!   redirects): credentials only to the registry's own scheme, host and port; never from HTTPS to plain HTTP.
//!
//! What it is not: where credentials come from ([`crate::auth`]) or what to do with images (the transports and
//! the copy engine). `hoist login` uses [`RegistryClient::check_auth`].

pub mod access;
mod blob;
pub(crate) mod body;
pub mod challenge;
pub mod endpoint;
pub mod error;
mod manifest;
mod origin;
mod request;
pub mod search;
mod tags;
pub mod tls;
pub mod token;
mod upload;

#[cfg(test)]
pub(crate) mod fake;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hoist_helper_protocol::Credentials;

pub use challenge::Challenge;
pub use endpoint::{Endpoint, Target, TlsOptions};
pub use error::{Diagnostic, RegistryError};
pub use manifest::ManifestHead;
#[doc(hidden)]
pub use origin::follow_link;
pub use request::OpenBody;
#[doc(hidden)]
pub use tags::next_link;
use token::Token;

use crate::observe::SharedObserver;

/// How transient failures are tried again: `attempts` tries in all, waiting `initial_backoff`, then twice as
/// long each time up to `max_backoff` — or what the registry's `Retry-After` asks, up to `max_retry_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// 4 tries, after 200 ms, 400 ms and 800 ms; `Retry-After` honoured up to 60 s.
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait before try `attempt + 2` (after the `attempt + 1`th failed).
    fn backoff(&self, attempt: u32) -> Duration {
        self.initial_backoff.saturating_mul(1u32 << attempt.min(16)).min(self.max_backoff)
    }
}

/// A connection to one registry, with its credentials. Cloning is cheap and clones share the token cache.
#[derive(Clone)]
pub struct RegistryClient {
    http: reqwest::Client,
    /// `https://host` or `http://host`.
    base: String,
    /// `base` parsed, once, for the origin rule of every request (`None` until connected).
    base_url: Option<reqwest::Url>,
    creds: Option<Credentials>,
    challenge: Option<Challenge>,
    /// Bearer tokens by the scope set an operation asked for.
    tokens: Arc<Mutex<HashMap<BTreeSet<String>, Token>>>,
    /// `Warning` texts already shown.
    warned: Arc<Mutex<HashSet<String>>>,
    retry: RetryPolicy,
    observer: SharedObserver,
    /// Hosts registries.conf marks insecure: the only plain-HTTP token realms credentials may go to.
    cleartext_hosts: Vec<String>,
    /// The endpoint's timeout ([`Endpoint::timeout`]).
    timeout: Option<std::time::Duration>,
}

impl RegistryClient {
    /// Pings `/v2/` over HTTPS (and, for insecure registries, plain HTTP when HTTPS fails) and remembers the
    /// authentication challenge.
    pub async fn connect(
        endpoint: &Endpoint,
        creds: Option<Credentials>,
        observer: SharedObserver,
    ) -> Result<RegistryClient, RegistryError> {
        let http = tls::build_client(endpoint)?;
        let mut client = RegistryClient {
            http,
            base: String::new(),
            base_url: None,
            creds,
            challenge: None,
            tokens: Arc::new(Mutex::new(HashMap::new())),
            warned: Arc::new(Mutex::new(HashSet::new())),
            retry: RetryPolicy::default(),
            observer,
            cleartext_hosts: endpoint.insecure_hosts.clone(),
            timeout: endpoint.timeout,
        };
        let https = format!("https://{}", endpoint.api_host());
        let resp = match client.ping(&https).await {
            Ok(r) => {
                client.set_base(https);
                r
            }
            Err(e) if endpoint.allow_http => {
                let http_base = format!("http://{}", endpoint.api_host());
                client.log(&format!("HTTPS failed ({e}); trying {http_base}"));
                let r = client.ping(&http_base).await?;
                client.set_base(http_base);
                r
            }
            Err(e) => return Err(e),
        };
        if resp.status() == reqwest::StatusCode::UNAUTHORIZED {
            let values: Vec<String> = resp
                .headers()
                .get_all("www-authenticate")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .map(str::to_owned)
                .collect();
            let challenges = challenge::parse(values.iter().map(String::as_str));
            client.challenge = challenges
                .iter()
                .find(|c| matches!(c, Challenge::Bearer { .. }))
                .or_else(|| challenges.iter().find(|c| matches!(c, Challenge::Basic { .. })))
                .cloned();
            if client.challenge.is_none() {
                return Err(RegistryError::Protocol(format!(
                    "{}/v2/ requires an authentication scheme hoist does not support",
                    client.base
                )));
            }
        } else if !resp.status().is_success() {
            return Err(RegistryError::Protocol(format!(
                "{}/v2/ answered {}: not a container registry?",
                client.base,
                resp.status()
            )));
        }
        Ok(client)
    }

    /// This connection (its HTTP client and pool, base URL and authentication challenge: what
    /// [`RegistryClient::connect`] found) with other credentials and a token cache of its own, without pinging
    /// the registry again: one ping serves every repository of a registry, each with its own credentials.
    pub fn with_credentials(&self, creds: Option<Credentials>) -> RegistryClient {
        RegistryClient { creds, tokens: Arc::new(Mutex::new(HashMap::new())), ..self.clone() }
    }

    fn log(&self, line: &str) {
        self.observer.debug(line);
    }

    /// The base URL every request is built on, and its parse for the origin rule.
    fn set_base(&mut self, base: String) {
        self.base_url = reqwest::Url::parse(&base).ok();
        self.base = base;
    }

    async fn ping(&self, base: &str) -> Result<reqwest::Response, RegistryError> {
        let url = format!("{base}/v2/");
        let resp = tls::headers_within(self.timeout, self.http.get(&url).send(), || {
            format!("pinging container registry {url}")
        })
        .await?
        .map_err(|e| ping_error(self.timeout, &url, &e))?;
        self.log(&format!("GET {url} -> {}", resp.status().as_u16()));
        Ok(resp)
    }

    /// The base URL in use (`https://host`).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The endpoint's timeout ([`Endpoint::timeout`]): also the lookaside servers' of its images.
    pub fn timeout(&self) -> Option<std::time::Duration> {
        self.timeout
    }

    /// How transient failures are tried again (default: [`RetryPolicy::default`]).
    pub fn set_retry_policy(&mut self, policy: RetryPolicy) {
        self.retry = policy;
    }

    /// A Bearer token for `key` (the scopes an operation asked for) from the cache, unless `fresh`; else one
    /// fetched from `challenge`'s realm for `scopes` (a superset of `key`) and cached under `key`. The flag says
    /// whether it came from the cache.
    async fn bearer_token(
        &self,
        challenge: &Challenge,
        key: &BTreeSet<String>,
        scopes: &BTreeSet<String>,
        fresh: bool,
    ) -> Result<Option<(Token, bool)>, RegistryError> {
        let Challenge::Bearer { realm, service, .. } = challenge else { return Ok(None) };
        if !fresh {
            let cache = self.tokens.lock().expect("token cache");
            if let Some(t) = cache.get(key).filter(|t| t.expires > Instant::now()) {
                return Ok(Some((t.clone(), true)));
            }
        }
        if self.creds.is_some() {
            token::check_realm(&self.base, realm, &self.cleartext_hosts)?;
        }
        let log = |l: &str| self.log(l);
        let t = token::fetch(&self.http, self.timeout, realm, service.as_deref(), scopes, self.creds.as_ref(), &log)
            .await?;
        self.tokens.lock().expect("token cache").insert(key.clone(), t.clone());
        Ok(Some((t, false)))
    }

    /// Forgets the cached token for `key` (the registry refused it).
    fn forget_token(&self, key: &BTreeSet<String>) {
        self.tokens.lock().expect("token cache").remove(key);
    }

    /// Adds the Authorization this registry wants for `scopes`.
    async fn authorize(
        &self,
        req: reqwest::RequestBuilder,
        scopes: &BTreeSet<String>,
    ) -> Result<reqwest::RequestBuilder, RegistryError> {
        Ok(match &self.challenge {
            Some(Challenge::Basic { .. }) => match &self.creds {
                Some(c) => req.basic_auth(&c.username, Some(c.secret.expose())),
                None => req,
            },
            Some(c @ Challenge::Bearer { .. }) => match self.bearer_token(c, scopes, scopes, false).await? {
                Some((t, _)) => req.bearer_auth(t.value.as_str()),
                None => req,
            },
            _ => req,
        })
    }

    /// Verifies the credentials, as `podman login` does: `/v2/` must answer 200 with them. When they (or the
    /// tokens they buy) would cross the network in clear text — a plain-HTTP registry or token service — a
    /// warning says so first.
    pub async fn check_auth(&self) -> Result<(), RegistryError> {
        if self.challenge.is_none() {
            return Ok(()); // the registry needs no authentication
        }
        if let Some(warning) = self.cleartext_warning() {
            self.observer.warning(&warning);
        }
        let url = format!("{}/v2/", self.base);
        let req = self.authorize(self.http.get(&url), &BTreeSet::new()).await?;
        let resp = tls::headers_within(self.timeout, req.send(), || format!("pinging container registry {url}"))
            .await?
            .map_err(|e| ping_error(self.timeout, &url, &e))?;
        self.log(&format!("GET {url} (authenticated) -> {}", resp.status().as_u16()));
        match resp.status() {
            s if s.is_success() => Ok(()),
            s @ (reqwest::StatusCode::UNAUTHORIZED | reqwest::StatusCode::FORBIDDEN) => {
                let codes = error::diagnostics(&body::error_body(resp).await);
                Err(RegistryError::Unauthorized {
                    url,
                    status: s.as_u16(),
                    codes,
                    message: "invalid username/password".into(),
                })
            }
            s => {
                let codes = error::diagnostics(&body::error_body(resp).await);
                Err(RegistryError::Status { method: "GET", url, status: s.as_u16(), codes })
            }
        }
    }
}

impl RegistryClient {
    /// What a login should say when the credentials (or the tokens they buy) cross the network unencrypted:
    /// a registry reached over plain HTTP (registries.conf `insecure`, or the fallback from HTTPS), or a token
    /// service on plain HTTP.
    fn cleartext_warning(&self) -> Option<String> {
        self.creds.as_ref()?;
        let plain = self.base.starts_with("http://");
        let host = self.host();
        match self.challenge.as_ref()? {
            Challenge::Basic { .. } if plain => Some(format!(
                "{host} is reached over plain HTTP: the password travels in clear text, readable by anyone on the \
                 network"
            )),
            Challenge::Bearer { realm, .. } if realm.get(..7).is_some_and(|s| s.eq_ignore_ascii_case("http://")) => {
                let realm = reqwest::Url::parse(realm).map_or_else(|_| realm.clone(), |u| origin::origin_text(&u));
                Some(format!(
                    "the token service of {host} ({realm}) is plain HTTP: the password travels in clear text, \
                     readable by anyone on the network"
                ))
            }
            Challenge::Bearer { .. } if plain => Some(format!(
                "{host} is reached over plain HTTP: the access tokens the password buys travel in clear text, \
                 readable by anyone on the network"
            )),
            _ => None,
        }
    }
}

fn ping_error(timeout: Option<std::time::Duration>, url: &str, e: &reqwest::Error) -> RegistryError {
    tls::send_failed(timeout, format!("pinging container registry {url}"), e)
}
