//! Bearer tokens from a registry's token service (the Docker token protocol, and OAuth2 for identity tokens).
//!
//! - Passwords: `GET realm?service=S&scope=A&scope=B&account=USER` with Basic credentials (anonymous without).
//! - Identity tokens (username `<token>`): `POST realm` with `grant_type=refresh_token`; a token service
//!   without OAuth2 support (404) gets the GET form instead.
//! - The answer's `token` or `access_token`; `expires_in` (default and minimum 60 s).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use hoist_helper_protocol::Credentials;
use zeroize::Zeroizing;

use super::RegistryError;
use super::body::{self, MAX_TOKEN_BODY};
use super::error::diagnostics;

/// A bearer token, wiped on drop.
#[derive(Clone)]
pub struct Token {
    pub value: Zeroizing<String>,
    pub expires: Instant,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token([redacted])")
    }
}

#[derive(serde::Deserialize)]
struct Answer {
    token: Option<String>,
    access_token: Option<String>,
    expires_in: Option<u64>,
}

/// Client id sent with OAuth2 requests.
pub const CLIENT_ID: &str = "hoist";

pub async fn fetch(
    http: &reqwest::Client,
    timeout: Option<std::time::Duration>,
    realm: &str,
    service: Option<&str>,
    scopes: &BTreeSet<String>,
    creds: Option<&Credentials>,
    log: &(dyn Fn(&str) + Sync),
) -> Result<Token, RegistryError> {
    if let Some(c) = creds.filter(|c| c.is_identity_token()) {
        let mut form: Vec<(&str, String)> = vec![
            ("grant_type", "refresh_token".into()),
            ("refresh_token", c.secret.expose().to_owned()),
            ("client_id", CLIENT_ID.into()),
        ];
        if let Some(s) = service {
            form.push(("service", s.to_owned()));
        }
        if !scopes.is_empty() {
            form.push(("scope", scopes.iter().cloned().collect::<Vec<_>>().join(" ")));
        }
        let resp = super::tls::headers_within(timeout, http.post(realm).form(&form).send(), || {
            format!("requesting a token from {realm}")
        })
        .await?
        .map_err(|e| transport(timeout, realm, &e))?;
        zeroize::Zeroize::zeroize(&mut form[1].1);
        log(&format!("POST {realm} (grant_type=refresh_token) -> {}", resp.status().as_u16()));
        if resp.status() != reqwest::StatusCode::NOT_FOUND {
            return answer(realm, resp).await;
        }
    }
    let mut query: Vec<(&str, String)> = Vec::new();
    if let Some(s) = service {
        query.push(("service", s.to_owned()));
    }
    for s in scopes {
        query.push(("scope", s.clone()));
    }
    let mut req = http.get(realm);
    if let Some(c) = creds {
        if !c.is_identity_token() {
            query.push(("account", c.username.clone()));
        }
        req = req.basic_auth(&c.username, Some(c.secret.expose()));
    }
    let resp =
        super::tls::headers_within(timeout, req.query(&query).send(), || format!("requesting a token from {realm}"))
            .await?
            .map_err(|e| transport(timeout, realm, &e))?;
    log(&format!(
        "GET {realm} (scopes: {}) -> {}",
        scopes.iter().cloned().collect::<Vec<_>>().join(" "),
        resp.status().as_u16()
    ));
    answer(realm, resp).await
}

/// Refuses to send credentials in clear text: a registry reached over HTTPS whose Bearer realm is plain
/// `http://` would receive the password (or identity token) unencrypted. Allowed only when the realm's host is
/// itself marked insecure (registries.conf `insecure = true`), or the registry is reached over plain HTTP anyway.
pub fn check_realm(registry_base: &str, realm: &str, insecure_hosts: &[String]) -> Result<(), RegistryError> {
    let Some(rest) = realm.strip_prefix("http://").or_else(|| realm.strip_prefix("HTTP://")) else { return Ok(()) };
    if !registry_base.starts_with("https://") {
        return Ok(());
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    if insecure_hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
        return Ok(());
    }
    Err(RegistryError::Protocol(format!(
        "refusing to send credentials in clear text: {registry_base} uses TLS but its token service {realm} is plain \
         HTTP; if that network is trusted, mark {host} insecure in registries.conf"
    )))
}

fn transport(timeout: Option<std::time::Duration>, realm: &str, e: &reqwest::Error) -> RegistryError {
    super::tls::send_failed(timeout, format!("requesting a token from {realm}"), e)
}

async fn answer(realm: &str, resp: reqwest::Response) -> Result<Token, RegistryError> {
    let status = resp.status();
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        let codes = diagnostics(&body::error_body(resp).await);
        return Err(RegistryError::Unauthorized {
            url: realm.to_owned(),
            status: status.as_u16(),
            codes,
            message: "invalid username/password".into(),
        });
    }
    if !status.is_success() {
        let codes = diagnostics(&body::error_body(resp).await);
        return Err(RegistryError::Status { method: "GET", url: realm.to_owned(), status: status.as_u16(), codes });
    }
    let context = format!("reading the answer of token service {realm}");
    let body =
        Zeroizing::new(body::read_limited(resp, MAX_TOKEN_BODY).await.map_err(|e| e.into_registry_error(&context))?);
    parse_token_answer(realm, &body)
}

/// The token in a token service's successful answer `body` (`token`, else `access_token`; `expires_in`).
/// What [`fetch`] does with the body it read; public for fuzzing, not a stable API.
#[doc(hidden)]
pub fn parse_token_answer(realm: &str, body: &[u8]) -> Result<Token, RegistryError> {
    let a: Answer = serde_json::from_slice(body)
        .map_err(|_| RegistryError::Protocol(format!("token service {realm} sent an answer that is not a token")))?;
    let value = a.token.filter(|t| !t.is_empty()).or(a.access_token.filter(|t| !t.is_empty()));
    let value = value.ok_or_else(|| RegistryError::Protocol(format!("token service {realm} sent no token")))?;
    let ttl = Duration::from_secs(a.expires_in.unwrap_or(60).clamp(60, MAX_TOKEN_TTL_SECS));
    Ok(Token { value: Zeroizing::new(value), expires: Instant::now() + ttl - Duration::from_secs(10) })
}

/// The longest a token is kept, whatever its `expires_in` says (an `Instant` cannot hold every `u64` of
/// seconds from now: `Instant::now() + u64::MAX s` panics).
const MAX_TOKEN_TTL_SECS: u64 = 24 * 60 * 60;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers() {
        let parse = |body: &str| parse_token_answer("https://auth.example/token", body.as_bytes());
        let t = parse(r#"{"token":"t","access_token":"a","expires_in":300}"#).unwrap();
        assert_eq!(t.value.as_str(), "t");
        assert!(t.expires > Instant::now() + Duration::from_secs(280));
        assert_eq!(parse(r#"{"token":"","access_token":"a"}"#).unwrap().value.as_str(), "a");
        assert!(parse(r#"{"token":""}"#).is_err());
        assert!(parse("not json").is_err());
        // Any expires_in is kept at most a day (u64::MAX seconds used to panic).
        let t = parse(r#"{"token":"t","expires_in":18446744073709551615}"#).unwrap();
        assert!(t.expires <= Instant::now() + Duration::from_secs(MAX_TOKEN_TTL_SECS));
        let t = parse(r#"{"token":"t","expires_in":0}"#).unwrap();
        assert!(t.expires > Instant::now() + Duration::from_secs(40), "at least a minute, less the margin");
    }
}
