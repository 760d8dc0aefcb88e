//! Tag lists: `GET /v2/NAME/tags/list`, following `Link: <URL>; rel="next"` page after page. Each `Link` is
//! resolved against the page's URL and checked by the origin rule (`origin`: never to plain HTTP from a TLS
//! registry, no credentials to another origin); a page URL that comes again (a page linking to itself, a
//! cycle) ends the list with an error at once.

use std::collections::HashSet;

use reqwest::Method;
use reqwest::header::{HeaderMap, LINK};

use super::body::MAX_MANIFEST_BODY;
use super::manifest::pull;
use super::origin;
use super::request::Request;
use super::{RegistryClient, RegistryError};

/// The most pages one tag list is read across (a registry that makes up new page URLs for ever ends here).
pub const MAX_TAG_PAGES: usize = 10_000;

impl RegistryClient {
    /// Every tag of `repo`, in the registry's order, across all pages.
    pub async fn list_tags(&self, repo: &str) -> Result<Vec<String>, RegistryError> {
        self.list_tags_paged(repo, None).await
    }

    /// As [`Self::list_tags`], asking for pages of `page_size` tags (`?n=`): registries that paginate only on
    /// request (distribution) then answer in pages, each linked to the next.
    pub async fn list_tags_paged(&self, repo: &str, page_size: Option<usize>) -> Result<Vec<String>, RegistryError> {
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let mut url = format!("{}/v2/{repo}/tags/list", self.base);
        if let Some(n) = page_size {
            url.push_str(&format!("?n={n}"));
        }
        let mut tags = Vec::new();
        let mut seen = HashSet::new();
        for _ in 0..MAX_TAG_PAGES {
            seen.insert(url.clone());
            let req = Request::new(Method::GET, url.clone(), pull(repo));
            let (headers, body) = self.read(req, MAX_MANIFEST_BODY, &format!("reading the tag list {url}")).await?;
            let page: Page = serde_json::from_slice(&body)
                .map_err(|e| RegistryError::Protocol(format!("GET {url}: the answer is not a tag list: {e}")))?;
            tags.extend(page.tags.unwrap_or_default());
            let Some(next) = next_link(&headers) else { return Ok(tags) };
            let next = origin::follow(&self.base, &url, &next, "tag list Link")?;
            if !seen.insert(next.url.clone()) {
                return Err(RegistryError::Protocol(format!(
                    "the tag list of {repo} links back to a page already read ({}): a loop",
                    next.url
                )));
            }
            url = next.url;
        }
        Err(RegistryError::Protocol(format!("the tag list of {repo} goes on past {MAX_TAG_PAGES} pages")))
    }
}

/// The target of the `rel="next"` link in the `Link` headers (RFC 8288), if any. Public for fuzzing, not a
/// stable API.
#[doc(hidden)]
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    for value in headers.get_all(LINK).iter().filter_map(|v| v.to_str().ok()) {
        let mut rest = value;
        while let Some(open) = rest.find('<') {
            let close = open + rest[open..].find('>')?;
            let target = &rest[open + 1..close];
            let params_end = rest[close..].find('<').map_or(rest.len(), |i| close + i);
            let params = &rest[close + 1..params_end];
            let is_next = params.split(';').any(|p| {
                let Some((k, v)) = p.split_once('=') else { return false };
                k.trim().eq_ignore_ascii_case("rel")
                    && v.trim().trim_matches('"').split_ascii_whitespace().any(|r| r.eq_ignore_ascii_case("next"))
            });
            if is_next {
                return Some(target.to_owned());
            }
            rest = &rest[params_end..];
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn links(values: &[&'static str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(LINK, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn next_links() {
        let h = links(&[r#"</v2/a/tags/list?last=b&n=2>; rel="next""#]);
        assert_eq!(next_link(&h).as_deref(), Some("/v2/a/tags/list?last=b&n=2"));
        let h = links(&[r#"<https://r/prev>; rel="prev", <https://r/next?x=1>; rel=next"#]);
        assert_eq!(next_link(&h).as_deref(), Some("https://r/next?x=1"));
        let h = links(&[r#"<https://r/prev>; rel="prev""#, r#"</n>; title="x"; rel="next last""#]);
        assert_eq!(next_link(&h).as_deref(), Some("/n"));
        assert_eq!(next_link(&links(&[r#"</p>; rel="prev""#])), None);
        assert_eq!(next_link(&HeaderMap::new()), None);
    }
}
