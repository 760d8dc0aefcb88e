//! Searching a registry, as containers/image's `SearchRegistry` does for `podman search`: Docker Hub through
//! its v1 search API (`GET /v1/search?q=TERM&n=N`: names with stars, official and automated marks and a
//! description), any other registry through its catalog (`GET /v2/_catalog`, every `Link: rel="next"` page
//! followed, as the tag list is: each link checked by the origin rule, a loop refused, at most
//! [`MAX_CATALOG_PAGES`] pages and [`MAX_CATALOG_NAMES`] names, each page's body capped). What the server
//! says is untrusted: its text is returned as it came, for the caller to escape where it is shown.

use std::collections::{BTreeSet, HashSet};

use reqwest::Method;

use super::body::MAX_MANIFEST_BODY;
use super::origin;
use super::request::Request;
use super::tags::next_link;
use super::{RegistryClient, RegistryError};

/// The most catalog pages one search reads (a registry that makes up new page URLs for ever ends here).
pub const MAX_CATALOG_PAGES: usize = 1_000;
/// The most repository names one catalog may list.
pub const MAX_CATALOG_NAMES: usize = 1_000_000;
/// The most results asked of, and taken from, Docker Hub's v1 search.
pub const MAX_HUB_RESULTS: usize = 100;

/// One answer of Docker Hub's v1 search (its JSON keys).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct HubResult {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub star_count: u64,
    #[serde(default)]
    pub is_official: bool,
    #[serde(default)]
    pub is_automated: bool,
}

impl RegistryClient {
    /// Every repository the registry's catalog lists, in its order, across all pages.
    pub async fn catalog(&self) -> Result<Vec<String>, RegistryError> {
        let mut url = format!("{}/v2/_catalog", self.base);
        let mut names = Vec::new();
        let mut seen = HashSet::new();
        let scopes: BTreeSet<String> = ["registry:catalog:*".to_owned()].into();
        for _ in 0..MAX_CATALOG_PAGES {
            seen.insert(url.clone());
            let req = Request::new(Method::GET, url.clone(), scopes.clone());
            let (headers, body) = self.read(req, MAX_MANIFEST_BODY, &format!("reading the catalog {url}")).await?;
            let page = parse_catalog_page(&body)
                .map_err(|e| RegistryError::Protocol(format!("GET {url}: the answer is not a catalog: {e}")))?;
            names.extend(page);
            if names.len() > MAX_CATALOG_NAMES {
                return Err(RegistryError::Protocol(format!("the catalog lists more than {MAX_CATALOG_NAMES} names")));
            }
            let Some(next) = next_link(&headers) else { return Ok(names) };
            let next = origin::follow(&self.base, &url, &next, "catalog Link")?;
            if !seen.insert(next.url.clone()) {
                return Err(RegistryError::Protocol(format!(
                    "the catalog links back to a page already read ({}): a loop",
                    next.url
                )));
            }
            url = next.url;
        }
        Err(RegistryError::Protocol(format!("the catalog goes on past {MAX_CATALOG_PAGES} pages")))
    }

    /// Docker Hub's v1 search for `term`, at most `limit` (capped at [`MAX_HUB_RESULTS`]) results. `base`:
    /// where the API is (`https://index.docker.io`, or the registries.conf location Docker Hub is moved to).
    pub async fn hub_search(&self, base: &str, term: &str, limit: usize) -> Result<Vec<HubResult>, RegistryError> {
        let n = limit.clamp(1, MAX_HUB_RESULTS).to_string();
        let url = reqwest::Url::parse_with_params(&format!("{base}/v1/search"), [("q", term), ("n", n.as_str())])
            .map_err(|e| RegistryError::Protocol(format!("{base}/v1/search: not a URL: {e}")))?;
        let url = url.to_string();
        let req = Request::new(Method::GET, url.clone(), BTreeSet::new());
        let (_, body) = self.read(req, MAX_MANIFEST_BODY, &format!("searching {url}")).await?;
        parse_hub_answer(&body)
            .map_err(|e| RegistryError::Protocol(format!("GET {url}: the answer is not a search result: {e}")))
    }
}

/// The repository names of one catalog page (`{"repositories": [...]}`; none when the key is missing or null).
pub fn parse_catalog_page(body: &[u8]) -> Result<Vec<String>, serde_json::Error> {
    #[derive(serde::Deserialize)]
    struct Page {
        #[serde(default)]
        repositories: Option<Vec<String>>,
    }
    Ok(serde_json::from_slice::<Page>(body)?.repositories.unwrap_or_default())
}

/// The results of a Docker Hub v1 search answer (`{"results": [...]}`), at most [`MAX_HUB_RESULTS`].
pub fn parse_hub_answer(body: &[u8]) -> Result<Vec<HubResult>, serde_json::Error> {
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(default)]
        results: Vec<HubResult>,
    }
    let mut results = serde_json::from_slice::<Answer>(body)?.results;
    results.truncate(MAX_HUB_RESULTS);
    Ok(results)
}
