//! The one rule for every URL a registry hands back — an upload's `Location`, a tag list's `Link`, a
//! redirect — as the distribution spec and go-containerregistry's transport apply it:
//!
//! - **Credentials stay on the registry's origin.** Authorization (Basic or Bearer) goes only to the scheme,
//!   host and port of the registry's base URL (default ports normalised: `https://h` is `https://h:443`).
//!   A URL on another origin (a storage backend taking uploads, a CDN serving blobs) is followed without
//!   credentials: the request path asks [`same_origin`] before it attaches any.
//! - **No downgrade.** A registry reached over HTTPS never sends hoist to a plain-HTTP URL: [`follow`] refuses
//!   such a `Location` or `Link`, and [`redirect_policy`] such a redirect, with an error naming the registry and
//!   the URL's origin (never the whole URL, which may carry signed parameters).
//!
//! Token realms have a rule of their own ([`super::token::check_realm`]): credentials go to the realm (it is
//! where they are meant to go), but never in clear text from a TLS registry unless registries.conf marks the
//! realm's host insecure.

use reqwest::Url;

use super::RegistryError;

/// The origin of a URL: scheme, host and port (the scheme's default when not written), lower-cased.
fn origin(url: &Url) -> Option<(&str, String, u16)> {
    Some((url.scheme(), url.host_str()?.to_ascii_lowercase(), url.port_or_known_default()?))
}

/// Whether `a` and `b` are on the same origin (scheme, host and port; `https://h` and `https://h:443` are).
/// URLs without a host or a port are on no one's origin.
pub(super) fn same_origin(a: &Url, b: &Url) -> bool {
    matches!((origin(a), origin(b)), (Some(x), Some(y)) if x == y)
}

/// `scheme://host[:port]` of `url`, for messages (never its path or query).
pub(super) fn origin_text(url: &Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port() {
        Some(p) => format!("{}://{host}:{p}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

/// Whether going from `from` to `to` is a downgrade from HTTPS to plain HTTP.
fn downgrade(from: &Url, to: &Url) -> bool {
    from.scheme() == "https" && to.scheme() == "http"
}

/// A URL a registry handed back, resolved and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FollowedUrl {
    /// The absolute URL.
    pub url: String,
    /// On the registry's own origin: the request path may send credentials to it.
    pub credentials: bool,
}

/// Resolves `given` (what the registry sent as `what`: "upload Location", "tag list Link") against `against`
/// (the URL of the request it answered), and checks it against the registry at `base`: only `http` and `https`
/// URLs, and no HTTPS → HTTP downgrade (refused with an error naming the registry and the URL's origin).
/// The result says whether it is on the registry's origin, where credentials may go.
pub(super) fn follow(base: &str, against: &str, given: &str, what: &str) -> Result<FollowedUrl, RegistryError> {
    let base_url = Url::parse(base).map_err(|e| RegistryError::Protocol(format!("registry base URL {base:?}: {e}")))?;
    let against = Url::parse(against).unwrap_or_else(|_| base_url.clone());
    let url = against
        .join(given.trim())
        .map_err(|e| RegistryError::Protocol(format!("{base}: the {what} {given:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(RegistryError::Protocol(format!(
            "{base}: the {what} {} is not an http or https URL",
            origin_text(&url)
        )));
    }
    if downgrade(&base_url, &url) || downgrade(&against, &url) {
        return Err(RegistryError::Protocol(format!(
            "refusing the {what} of {base}: it leads to plain HTTP at {} (a registry reached over TLS may not \
             send hoist to an unencrypted URL)",
            origin_text(&url)
        )));
    }
    Ok(FollowedUrl { credentials: same_origin(&base_url, &url), url: url.into() })
}

/// Where the request path may send a request to `url` for the registry at `base`, and with credentials or
/// without: `Ok(true)` on the registry's origin, `Ok(false)` elsewhere, an error for a downgrade from HTTPS to
/// plain HTTP (the URLs the request path gets come from [`follow`], which refuses those already).
/// `base` is the registry's base URL parsed once, when the client connected (`None`: not a URL, so no
/// request is on its origin).
pub(super) fn check_request(base: Option<&Url>, url: &str) -> Result<bool, RegistryError> {
    let (Some(b), Ok(u)) = (base, Url::parse(url)) else { return Ok(false) };
    if downgrade(b, &u) {
        return Err(RegistryError::Protocol(format!(
            "refusing to send a request for {} to plain HTTP at {}",
            origin_text(b),
            origin_text(&u)
        )));
    }
    Ok(same_origin(b, &u))
}

/// [`follow`] for a tag list's `Link` target `link` on the page `page` of the registry at `base`: the URL, and
/// whether credentials may go to it. Public for fuzzing, not a stable API.
#[doc(hidden)]
pub fn follow_link(base: &str, page: &str, link: &str) -> Result<(String, bool), RegistryError> {
    follow(base, page, link, "tag list Link").map(|f| (f.url, f.credentials))
}

/// Why a redirect from `from` to `to` is refused, if it is: a downgrade from HTTPS to plain HTTP. (reqwest
/// already drops Authorization on a redirect to another origin.)
fn redirect_refused(from: &Url, to: &Url) -> Option<String> {
    downgrade(from, to)
        .then(|| format!("refusing a redirect from {} to plain HTTP at {}", origin_text(from), origin_text(to)))
}

/// The most redirects one request follows.
pub const MAX_REDIRECTS: usize = 10;

/// The HTTP client's redirect policy: up to [`MAX_REDIRECTS`], none from HTTPS to plain HTTP.
pub(super) fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        // The first URL of `previous` is the request's own, not a redirect.
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error(format!("too many redirects (more than {MAX_REDIRECTS})"));
        }
        let refused = attempt.previous().last().and_then(|from| redirect_refused(from, attempt.url()));
        match refused {
            Some(why) => attempt.error(why),
            None => attempt.follow(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every case of the rule: where a URL a registry hands back leads, and whether credentials go there.
    #[test]
    fn the_origin_rule() {
        enum Want {
            /// Followed, to this URL, with credentials (true) or without.
            Go(&'static str, bool),
            /// Refused; the error contains this.
            Refused(&'static str),
        }
        use Want::*;
        let tls = "https://reg.example";
        let page = "https://reg.example/v2/r/tags/list?n=2";
        let cases: &[(&str, &str, &str, Want)] = &[
            // (base, request URL, given, outcome)
            (tls, page, "/v2/r/tags/list?last=b", Go("https://reg.example/v2/r/tags/list?last=b", true)),
            (tls, page, "list?last=b", Go("https://reg.example/v2/r/tags/list?last=b", true)),
            (tls, page, "https://reg.example/v2/u/1", Go("https://reg.example/v2/u/1", true)),
            (tls, page, "HTTPS://REG.example:443/v2/u", Go("https://reg.example/v2/u", true)),
            (tls, page, "//reg.example/v2/u", Go("https://reg.example/v2/u", true)),
            ("https://reg.example:443", page, "/v2/u", Go("https://reg.example/v2/u", true)),
            (tls, page, "https://reg.example:5000/v2/u", Go("https://reg.example:5000/v2/u", false)),
            (tls, page, "https://storage.example/b?sig=s", Go("https://storage.example/b?sig=s", false)),
            (tls, page, "//storage.example/b", Go("https://storage.example/b", false)),
            (tls, page, "http://reg.example/v2/u", Refused("plain HTTP at http://reg.example")),
            (tls, page, "http://other.example:8080/u?sig=secret", Refused("plain HTTP at http://other.example:8080")),
            (tls, page, "ftp://reg.example/u", Refused("not an http or https URL")),
            (tls, page, "file:///etc/passwd", Refused("not an http or https URL")),
            (
                "http://reg.example:5000",
                "http://reg.example:5000/v2/",
                "/v2/u",
                Go("http://reg.example:5000/v2/u", true),
            ),
            (
                "http://reg.example",
                "http://reg.example/v2/",
                "http://reg.example:80/v2/u",
                Go("http://reg.example/v2/u", true),
            ),
            // An insecure registry reached over plain HTTP may move to HTTPS, but that is another origin.
            (
                "http://reg.example",
                "http://reg.example/v2/",
                "https://reg.example/v2/u",
                Go("https://reg.example/v2/u", false),
            ),
            (
                "http://reg.example",
                "http://reg.example/v2/",
                "http://other.example/u",
                Go("http://other.example/u", false),
            ),
            // A request already moved to HTTPS elsewhere is not sent back to plain HTTP either.
            ("http://reg.example", "https://storage.example/u", "http://storage.example/u2", Refused("plain HTTP")),
        ];
        for (base, against, given, want) in cases {
            let got = follow(base, against, given, "upload Location");
            match (want, got) {
                (Go(url, creds), Ok(f)) => {
                    assert_eq!((f.url.as_str(), f.credentials), (*url, *creds), "{base} + {given}")
                }
                (Refused(text), Err(e)) => {
                    let msg = e.to_string();
                    assert!(msg.contains(text), "{base} + {given}: {msg}");
                    assert!(!msg.contains("secret"), "no query in messages: {msg}");
                }
                (Go(..), Err(e)) => panic!("{base} + {given}: refused: {e}"),
                (Refused(_), Ok(f)) => panic!("{base} + {given}: followed to {f:?}"),
            }
        }
    }

    #[test]
    fn same_origin_normalises_default_ports() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(same_origin(&u("https://h"), &u("https://h:443/x")));
        assert!(same_origin(&u("http://h:80"), &u("http://H/")));
        assert!(!same_origin(&u("https://h"), &u("http://h:443")));
        assert!(!same_origin(&u("https://h"), &u("https://h:8443")));
        assert!(!same_origin(&u("https://h"), &u("https://h.evil")));
        let local = u("http://127.0.0.1:5000");
        assert!(check_request(Some(&local), "http://127.0.0.1:5000/v2/r/blobs/uploads/x").unwrap());
        assert!(!check_request(Some(&local), "http://127.0.0.2:5000/v2/").unwrap());
        assert!(!check_request(Some(&local), "not a url").unwrap());
        assert!(!check_request(None, "http://127.0.0.1:5000/v2/").unwrap(), "no base: no credentials");
        assert!(!check_request(Some(&u("https://h")), "https://h:8443/v2/").unwrap());
        let e = check_request(Some(&u("https://h")), "http://h/v2/").unwrap_err();
        assert_eq!(e.to_string(), "refusing to send a request for https://h to plain HTTP at http://h");
    }

    #[test]
    fn redirects_never_downgrade() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(redirect_refused(&u("https://reg/v2/b"), &u("https://cdn/b")).is_none());
        assert!(redirect_refused(&u("http://reg/v2/b"), &u("http://cdn/b")).is_none());
        assert!(redirect_refused(&u("http://reg/v2/b"), &u("https://cdn/b")).is_none());
        let why = redirect_refused(&u("https://reg/v2/b"), &u("http://cdn:81/b?sig=s")).unwrap();
        assert_eq!(why, "refusing a redirect from https://reg to plain HTTP at http://cdn:81");
    }
}
