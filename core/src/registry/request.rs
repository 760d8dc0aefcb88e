//! The one request path every operation takes: build the request (again for each try, since a streamed
//! body cannot be cloned — it is re-opened), add the Authorization the registry wants for the operation's
//! scopes, send, and then:
//!
//! - a 401 whose Bearer challenge says `insufficient_scope` or `invalid_token`, or any 401 to a token taken
//!   from the cache (or to no credentials at all, when the registry asks for a token): forget the token, ask
//!   for a fresh one for the challenge's scopes together with ours, and try once more;
//! - an error [`RegistryError::is_retryable`] calls transient (no answer, 408, 429, 5xx; from the registry or
//!   its token service): wait — what `Retry-After` asks (seconds or an HTTP date, capped), else the
//!   [`RetryPolicy`](super::RetryPolicy) backoff — and try again, a bounded number of times; a wait longer
//!   than [`RETRY_NOTICE`] is announced first (a warning: how long, and what the registry asked for);
//! - every answer's `Warning: 299 - "text"` headers: each distinct text shown once, as a warning;
//! - a status the operation does not expect: a typed [`RegistryError`] with the distribution error codes of
//!   the (capped) body.
//!
//! Authorization goes only to the registry's own origin (`origin`: a `Location` or `Link` to a storage
//! backend is followed without it); the header is marked sensitive (never logged) and reqwest drops it on
//! redirects to another host, port or scheme.

use crate::stream::ByteStream;
use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use reqwest::header::{CONTENT_LENGTH, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};

use super::body::{self, BodyError};
use super::{Challenge, RegistryClient, RegistryError, challenge, error};
use super::{origin, tls};

/// Opens a blob's bytes for [`RegistryClient::upload_blob`], once per try. The opening may borrow for `'a`;
/// the stream it yields is owned.
pub type OpenBody<'a> = dyn Fn() -> BoxFuture<'a, Result<ByteStream<RegistryError>, RegistryError>> + Send + Sync + 'a;

/// The first error a streamed body's source yielded during one request. reqwest takes a body stream's error
/// as a boxed `std::error::Error` and reports only its text in the failed request; this keeps the error
/// itself, so that the request returns what the source said, with its type.
type BodyFailure = std::sync::Arc<std::sync::Mutex<Option<RegistryError>>>;

/// `stream` for reqwest: its error is kept in `failed` and reqwest gets the text.
fn keep_body_error(
    stream: ByteStream<RegistryError>,
    failed: &BodyFailure,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    use futures_util::StreamExt;
    let failed = failed.clone();
    stream.map(move |item| {
        item.map_err(|e| {
            let text = e.to_string();
            failed.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(e);
            std::io::Error::other(text)
        })
    })
}

/// Waits for a registry's `Retry-After` longer than this are announced as a warning before they start.
pub(super) const RETRY_NOTICE: Duration = Duration::from_secs(2);

/// What a request carries.
#[derive(Clone)]
pub(super) enum Body<'a> {
    Empty,
    Bytes(Bytes),
    /// A stream opened anew for each try, of `len` bytes when known (sent as `Content-Length`).
    Stream {
        open: &'a OpenBody<'a>,
        len: Option<u64>,
    },
}

/// One request as an operation describes it.
#[derive(Clone)]
pub(super) struct Request<'a> {
    pub method: Method,
    pub url: String,
    /// The token scopes the operation needs (`repository:NAME:pull`, ...).
    pub scopes: BTreeSet<String>,
    pub headers: HeaderMap,
    pub body: Body<'a>,
    /// The statuses that are answers; any other is an error. Empty: any 2xx.
    pub expect: &'static [u16],
    /// Whether transient failures are tried again here (false where a repeat is not safe: an upload's body
    /// goes to a session that may hold part of it, so the upload starts over instead).
    pub retry: bool,
}

impl<'a> Request<'a> {
    pub fn new(method: Method, url: String, scopes: BTreeSet<String>) -> Request<'a> {
        Request { method, url, scopes, headers: HeaderMap::new(), body: Body::Empty, expect: &[], retry: true }
    }

    /// Adds a header; a value that is not a valid header (from a caller's media type) is an error.
    pub fn header(mut self, name: HeaderName, value: &str) -> Result<Request<'a>, RegistryError> {
        let v = HeaderValue::from_str(value)
            .map_err(|_| RegistryError::Protocol(format!("{value:?} is not a valid {name} header value")))?;
        self.headers.append(name, v);
        Ok(self)
    }

    /// Adds a header whose value is known to be valid.
    pub fn header_value(mut self, name: HeaderName, value: HeaderValue) -> Request<'a> {
        self.headers.append(name, value);
        self
    }

    pub fn body(mut self, body: Body<'a>) -> Request<'a> {
        self.body = body;
        self
    }

    pub fn expect(mut self, statuses: &'static [u16]) -> Request<'a> {
        self.expect = statuses;
        self
    }

    /// Sent once: no retries on transient failures (authentication is still renewed once).
    pub fn once(mut self) -> Request<'a> {
        self.retry = false;
        self
    }

    fn expected(&self, status: StatusCode) -> bool {
        if self.expect.is_empty() { status.is_success() } else { self.expect.contains(&status.as_u16()) }
    }
}

/// The Authorization for one try.
enum Auth {
    None,
    Basic,
    Bearer(super::Token),
}

/// What Authorization a try carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    Nothing,
    Basic,
    Bearer { cached: bool },
}

/// The method's name, for messages and [`RegistryError::Status`].
pub(super) fn method_name(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        _ => "request",
    }
}

impl RegistryClient {
    /// Sends `req` through the layers above; the answer has one of the expected statuses.
    pub(super) async fn send(&self, req: Request<'_>) -> Result<reqwest::Response, RegistryError> {
        let method = method_name(&req.method);
        let mut challenge = self.challenge.clone();
        let mut scopes = req.scopes.clone();
        let mut fresh = false;
        let mut reauthorized = false;
        let mut attempt = 0u32;
        // The origin rule: credentials only to the registry's own scheme, host and port (a Location or Link
        // may send a request to a storage backend), and never from HTTPS to plain HTTP.
        let credentials = origin::check_request(self.base_url.as_ref(), &req.url)?;
        if !credentials {
            self.log(&format!("{method} {}: not the registry's origin: sent without credentials", req.url));
        }
        // What a streamed body's source failed with, for this request (reqwest keeps only its text).
        let body_failed = BodyFailure::default();
        loop {
            let authorization = match credentials {
                true => self.authorization(challenge.as_ref(), &req.scopes, &scopes, fresh).await,
                false => Ok((Auth::None, Sent::Nothing)),
            };
            let (auth, sent) = match authorization {
                Ok(a) => a,
                // The token service failed for now (no answer, 5xx): the same backoff as the registry.
                Err(e) if req.retry && e.is_retryable() && attempt + 1 < self.retry.attempts => {
                    self.log(&format!("{method} {}: {e}; trying again", req.url));
                    self.wait(self.retry.backoff(attempt)).await;
                    attempt += 1;
                    continue;
                }
                Err(e) => return Err(e),
            };
            fresh = false;
            let mut builder = self.http.request(req.method.clone(), &req.url).headers(req.headers.clone());
            // reqwest marks both sensitive (never logged) and drops them on redirects to another host.
            builder = match (&auth, &self.creds) {
                (Auth::Basic, Some(c)) => builder.basic_auth(&c.username, Some(c.secret.expose())),
                (Auth::Bearer(t), _) => builder.bearer_auth(t.value.as_str()),
                _ => builder,
            };
            builder = match &req.body {
                Body::Empty => builder,
                Body::Bytes(b) => builder.header(CONTENT_LENGTH, b.len()).body(b.clone()),
                Body::Stream { open, len } => {
                    let stream = open().await?;
                    let builder = builder.body(reqwest::Body::wrap_stream(keep_body_error(stream, &body_failed)));
                    match len {
                        Some(n) => builder.header(CONTENT_LENGTH, *n),
                        None => builder,
                    }
                }
            };
            let resp =
                match tls::headers_within(self.timeout, builder.send(), || format!("{method} {}", req.url)).await? {
                    Ok(r) => r,
                    Err(e) => {
                        // The body's own stream failed: its error (the source's, typed) is the cause, not the
                        // broken request reqwest reports; the upload decides whether to open it again.
                        if let Some(source) = body_failed.lock().unwrap_or_else(|p| p.into_inner()).take() {
                            self.log(&format!("{method} {}: the body failed: {source}", req.url));
                            return Err(source);
                        }
                        // Our URL names the request; reqwest's may be a redirect target with signed parameters.
                        let err = tls::send_failed(self.timeout, format!("{method} {}", req.url), &e.without_url());
                        self.log(&format!("{method} {}: {err}", req.url));
                        if req.retry && err.is_retryable() && attempt + 1 < self.retry.attempts {
                            self.wait(self.retry.backoff(attempt)).await;
                            attempt += 1;
                            continue;
                        }
                        return Err(err);
                    }
                };
            let status = resp.status();
            self.log(&format!("{method} {} -> {}", req.url, status.as_u16()));
            self.show_warnings(resp.headers());
            if status == StatusCode::UNAUTHORIZED
                && credentials
                && !reauthorized
                && let Some((next, wanted)) = renew(resp.headers(), sent, challenge.as_ref(), self.creds.is_some())
            {
                self.log(&format!(
                    "{method} {}: the registry refused the authorization; asking for a new token",
                    req.url
                ));
                self.forget_token(&req.scopes);
                scopes.extend(wanted);
                challenge = Some(next);
                fresh = true;
                reauthorized = true;
                continue;
            }
            if req.expected(status) {
                return Ok(resp);
            }
            let retry_after = retry_after(resp.headers(), SystemTime::now());
            let denied = (status == StatusCode::UNAUTHORIZED).then(|| insufficient_scope(resp.headers())).flatten();
            let codes = error::diagnostics(&body::error_body(resp).await);
            let err = match denied {
                // A token was granted, but without the rights this request needs (a pull-only user pushing).
                Some(wanted) => RegistryError::Unauthorized {
                    message: format!(
                        "{method} {}: denied: requested access to the resource is denied (the credentials do not \
                         grant {wanted})",
                        req.url
                    ),
                    url: req.url.clone(),
                    status: status.as_u16(),
                    codes,
                },
                None => RegistryError::from_status(method, req.url.clone(), status.as_u16(), codes),
            };
            if req.retry && err.is_retryable() && attempt + 1 < self.retry.attempts {
                let wait = match retry_after {
                    Some(d) => d.min(self.retry.max_retry_after),
                    None => self.retry.backoff(attempt),
                };
                if wait > RETRY_NOTICE {
                    // A long wait is announced, so that hoist does not look hung.
                    let asked = retry_after.unwrap_or(wait).as_secs();
                    let capped = if asked > wait.as_secs() {
                        format!(
                            " (it asked for {asked} s; hoist waits at most {} s)",
                            self.retry.max_retry_after.as_secs()
                        )
                    } else {
                        String::new()
                    };
                    self.observer.warning(&format!(
                        "registry {} answered {} to {method} {}: waiting {} s before trying again{capped}",
                        self.host(),
                        status.as_u16(),
                        req.url,
                        wait.as_secs()
                    ));
                }
                self.log(&format!("{method} {}: {err}; trying again in {} ms", req.url, wait.as_millis()));
                self.wait(wait).await;
                attempt += 1;
                continue;
            }
            return Err(err);
        }
    }

    /// Sends `req` and reads the answer's body, up to `limit` bytes; a connection that breaks while the body
    /// arrives is tried again as a failed request would be.
    pub(super) async fn read(
        &self,
        req: Request<'_>,
        limit: usize,
        what: &str,
    ) -> Result<(HeaderMap, Vec<u8>), RegistryError> {
        let mut attempt = 0u32;
        loop {
            let resp = self.send(req.clone()).await?;
            let headers = resp.headers().clone();
            match body::read_limited(resp, limit).await {
                Ok(b) => return Ok((headers, b)),
                Err(BodyError::Transport(e)) if req.retry && attempt + 1 < self.retry.attempts => {
                    let err = BodyError::Transport(e).into_registry_error(what);
                    self.log(&format!("{err}; trying again"));
                    self.wait(self.retry.backoff(attempt)).await;
                    attempt += 1;
                }
                Err(e) => return Err(e.into_registry_error(what)),
            }
        }
    }

    /// The Authorization for one try: Basic credentials, or a Bearer token for `key` (fetched for `scopes`).
    async fn authorization(
        &self,
        challenge: Option<&Challenge>,
        key: &BTreeSet<String>,
        scopes: &BTreeSet<String>,
        fresh: bool,
    ) -> Result<(Auth, Sent), RegistryError> {
        match challenge {
            Some(Challenge::Basic { .. }) if self.creds.is_some() => Ok((Auth::Basic, Sent::Basic)),
            Some(c @ Challenge::Bearer { .. }) => match self.bearer_token(c, key, scopes, fresh).await? {
                Some((t, cached)) => Ok((Auth::Bearer(t), Sent::Bearer { cached })),
                None => Ok((Auth::None, Sent::Nothing)),
            },
            _ => Ok((Auth::None, Sent::Nothing)),
        }
    }

    async fn wait(&self, d: Duration) {
        if !d.is_zero() {
            tokio::time::sleep(d).await;
        }
    }

    /// Shows each distinct `Warning: 299` text once.
    fn show_warnings(&self, headers: &HeaderMap) {
        for value in headers.get_all(reqwest::header::WARNING) {
            let Ok(value) = value.to_str() else { continue };
            for text in warning_texts(value) {
                if self.warned.lock().expect("warnings").insert(text.clone()) {
                    self.observer.warning(&format!("registry {}: {text}", self.host()));
                }
            }
        }
    }

    /// The registry's `host[:port]`.
    pub(super) fn host(&self) -> &str {
        self.base.split_once("://").map_or(self.base.as_str(), |(_, h)| h)
    }
}

/// The scopes a final 401 says the token lacks (`error="insufficient_scope"`), space-separated.
fn insufficient_scope(headers: &HeaderMap) -> Option<String> {
    let values: Vec<&str> =
        headers.get_all(reqwest::header::WWW_AUTHENTICATE).iter().filter_map(|v| v.to_str().ok()).collect();
    challenge::parse(values).into_iter().find_map(|c| match c {
        Challenge::Bearer { scopes, error: Some(e), .. } if e == "insufficient_scope" => {
            Some(scopes.into_iter().collect::<Vec<_>>().join(" "))
        }
        _ => None,
    })
}

/// Whether a 401 calls for a fresh token, and if so from which challenge and for which more scopes.
fn renew(
    headers: &HeaderMap,
    sent: Sent,
    current: Option<&Challenge>,
    have_creds: bool,
) -> Option<(Challenge, BTreeSet<String>)> {
    let values: Vec<&str> =
        headers.get_all(reqwest::header::WWW_AUTHENTICATE).iter().filter_map(|v| v.to_str().ok()).collect();
    let bearer = challenge::parse(values).into_iter().find(|c| matches!(c, Challenge::Bearer { .. }));
    match (bearer, sent) {
        (Some(c @ Challenge::Bearer { .. }), sent) => {
            let Challenge::Bearer { scopes, error, .. } = &c else { unreachable!() };
            let says_token = matches!(error.as_deref(), Some("insufficient_scope" | "invalid_token"));
            let renew = says_token || sent == Sent::Bearer { cached: true } || sent == Sent::Nothing;
            // Basic credentials the registry refuses are wrong, not stale: no second try.
            (renew && sent != Sent::Basic).then(|| (c.clone(), scopes.clone()))
        }
        (None, Sent::Bearer { cached: true }) => current.cloned().map(|c| (c, BTreeSet::new())),
        (None, Sent::Nothing) if have_creds => {
            // A registry whose ping needed nothing asks for Basic credentials on this request.
            let values: Vec<&str> =
                headers.get_all(reqwest::header::WWW_AUTHENTICATE).iter().filter_map(|v| v.to_str().ok()).collect();
            let basic = challenge::parse(values).into_iter().find(|c| matches!(c, Challenge::Basic { .. }))?;
            (current.is_none()).then_some((basic, BTreeSet::new()))
        }
        _ => None,
    }
}

/// The wait a `Retry-After` header asks for: seconds, or an HTTP date (a date in the past: no wait).
fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The texts of the `299` warnings in one `Warning` header value (RFC 7234: `299 - "text" ["date"]`, several
/// separated by commas). Other codes and malformed entries are skipped.
fn warning_texts(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return out;
        }
        // warn-code SP warn-agent SP warn-text
        let Some((code, after)) = rest.split_once(' ') else { return out };
        let Some((_agent, after)) = after.trim_start().split_once(' ') else { return out };
        let Some((text, after)) = quoted(after.trim_start()) else { return out };
        rest = after.trim_start();
        if let Some((_date, after)) = rest.strip_prefix('"').and_then(|_| quoted(rest)) {
            rest = after;
        }
        if code == "299" && !text.is_empty() {
            out.push(text);
        }
    }
}

/// A quoted string at the start of `s` (backslash escapes), and what follows it.
fn quoted(s: &str) -> Option<(String, &str)> {
    let mut chars = s.strip_prefix('"')?.char_indices();
    let mut text = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => text.push(chars.next()?.1),
            '"' => return Some((text, &s[i + 2..])),
            c => text.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warning_headers() {
        assert_eq!(warning_texts(r#"299 - "deprecated: use v3""#), ["deprecated: use v3"]);
        assert_eq!(
            warning_texts(r#"299 - "a \"b\"" "Sat, 25 Aug 2012 23:34:45 GMT", 199 agent "misc", 299 host:5000 "c""#),
            ["a \"b\"", "c"]
        );
        assert!(warning_texts("299 - unquoted").is_empty());
        assert!(warning_texts("").is_empty());
    }

    #[test]
    fn retry_after_seconds_or_date() {
        let mut h = HeaderMap::new();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        h.insert(reqwest::header::RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        h.insert(reqwest::header::RETRY_AFTER, HeaderValue::from_str(&later).unwrap());
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(30)));
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        h.insert(reqwest::header::RETRY_AFTER, HeaderValue::from_str(&earlier).unwrap());
        assert_eq!(retry_after(&h, now), Some(Duration::ZERO));
        h.insert(reqwest::header::RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h, now), None);
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let p = super::super::RetryPolicy::default();
        let waits: Vec<u128> = (0..6).map(|a| p.backoff(a).as_millis()).collect();
        assert_eq!(waits, [200, 400, 800, 1600, 3200, 5000]);
    }

    #[test]
    fn which_401s_renew_the_token() {
        let bearer = Challenge::Bearer { realm: "r".into(), service: None, scopes: BTreeSet::new(), error: None };
        let mut h = HeaderMap::new();
        h.insert(
            reqwest::header::WWW_AUTHENTICATE,
            HeaderValue::from_static(
                r#"Bearer realm="r",scope="repository:b:pull repository:a:pull",error="insufficient_scope""#,
            ),
        );
        let (_, scopes) = renew(&h, Sent::Bearer { cached: false }, Some(&bearer), false).unwrap();
        assert_eq!(scopes.into_iter().collect::<Vec<_>>(), ["repository:a:pull", "repository:b:pull"]);
        let mut plain = HeaderMap::new();
        plain.insert(reqwest::header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Bearer realm="r""#));
        assert!(renew(&plain, Sent::Bearer { cached: false }, Some(&bearer), true).is_none(), "a fresh token refused");
        assert!(renew(&plain, Sent::Bearer { cached: true }, Some(&bearer), true).is_some(), "a cached token refused");
        assert!(renew(&HeaderMap::new(), Sent::Bearer { cached: true }, Some(&bearer), true).is_some());
        assert!(renew(&plain, Sent::Basic, None, true).is_none());
        let mut basic = HeaderMap::new();
        basic.insert(reqwest::header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Basic realm="x""#));
        assert!(renew(&basic, Sent::Nothing, None, true).is_some());
        assert!(renew(&basic, Sent::Basic, Some(&Challenge::Basic { realm: "x".into() }), true).is_none());
    }
}
