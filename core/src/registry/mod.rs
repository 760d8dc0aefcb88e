//! The registry HTTP client (OCI distribution API), built as layers around one request path, as
//! go-containerregistry's transport: [`endpoint`] (which hosts to contact for a name, in order, and with which
//! TLS), [`tls`] (roots, verification), ping and scheme fallback, [`challenge`] parsing, Basic or Bearer
//! authentication with a [`token`] cache keyed by scope set, typed [`error`]s (status, distribution codes,
//! retryable or not), and request logging through the [`crate::observe::Observer`] that never shows
//! credentials.
//!
//! What it is not: where credentials come from ([`crate::auth`]) or what to do with images (the copy engine,
//! to come). Today it serves `hoist login`: [`RegistryClient::check_auth`].

mod body;
pub mod challenge;
pub mod endpoint;
pub mod error;
pub mod tls;
pub mod token;

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Instant;

use hoist_helper_protocol::Credentials;

pub use challenge::Challenge;
pub use endpoint::{Endpoint, Target, TlsOptions};
pub use error::{Diagnostic, RegistryError};
use token::Token;

use crate::observe::SharedObserver;

/// A connection to one registry, with its credentials.
pub struct RegistryClient {
    http: reqwest::Client,
    /// `https://host` or `http://host`.
    base: String,
    creds: Option<Credentials>,
    challenge: Option<Challenge>,
    tokens: Mutex<HashMap<BTreeSet<String>, Token>>,
    observer: SharedObserver,
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
            creds,
            challenge: None,
            tokens: Mutex::new(HashMap::new()),
            observer,
        };
        let https = format!("https://{}", endpoint.api_host());
        let resp = match client.ping(&https).await {
            Ok(r) => {
                client.base = https;
                r
            }
            Err(e) if endpoint.allow_http => {
                let http_base = format!("http://{}", endpoint.api_host());
                client.log(&format!("HTTPS failed ({e}); trying {http_base}"));
                let r = client.ping(&http_base).await?;
                client.base = http_base;
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

    fn log(&self, line: &str) {
        self.observer.debug(line);
    }

    async fn ping(&self, base: &str) -> Result<reqwest::Response, RegistryError> {
        let url = format!("{base}/v2/");
        let resp = self.http.get(&url).send().await.map_err(|e| ping_error(&url, &e))?;
        self.log(&format!("GET {url} -> {}", resp.status().as_u16()));
        Ok(resp)
    }

    /// The base URL in use (`https://host`).
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn bearer_token(&self, scopes: &BTreeSet<String>) -> Result<Option<Token>, RegistryError> {
        let Some(Challenge::Bearer { realm, service, .. }) = &self.challenge else { return Ok(None) };
        if let Some(t) = self.tokens.lock().expect("token cache").get(scopes).filter(|t| t.expires > Instant::now()) {
            return Ok(Some(t.clone()));
        }
        let log = |l: &str| self.log(l);
        let t = token::fetch(&self.http, realm, service.as_deref(), scopes, self.creds.as_ref(), &log).await?;
        self.tokens.lock().expect("token cache").insert(scopes.clone(), t.clone());
        Ok(Some(t))
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
            Some(Challenge::Bearer { .. }) => match self.bearer_token(scopes).await? {
                Some(t) => req.bearer_auth(t.value.as_str()),
                None => req,
            },
            _ => req,
        })
    }

    /// Verifies the credentials, as `podman login` does: `/v2/` must answer 200 with them.
    pub async fn check_auth(&self) -> Result<(), RegistryError> {
        if self.challenge.is_none() {
            return Ok(()); // the registry needs no authentication
        }
        let url = format!("{}/v2/", self.base);
        let req = self.authorize(self.http.get(&url), &BTreeSet::new()).await?;
        let resp = req.send().await.map_err(|e| ping_error(&url, &e))?;
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

fn ping_error(url: &str, e: &reqwest::Error) -> RegistryError {
    RegistryError::transport(format!("pinging container registry {url}"), e)
}
