//! `podman search` as a library call ([`search`]): which registries a term goes to (`REGISTRY/TERM` names one,
//! else every `unqualified-search-registries` entry of registries.conf; a blocked one skipped with a
//! warning), what each is asked (Docker Hub: its v1 search API; any other: its catalog, every page, the names
//! containing TERM, an exact match first), and podman's rows: `--limit` (25 by default), `--filter`
//! (`stars=N`, `is-official[=BOOL]`, `is-automated[=BOOL]`), descriptions on one line and cut at 44 bytes
//! unless `no_trunc`, `--list-tags` (one repository's tags). A registry that fails (a catalog refused to
//! anonymous users, as Harbor, GHCR and Quay do) is a warning naming it through the settings' observer and
//! the others still answer; only when every registry failed is the search an error.

use std::sync::Arc;

use futures_util::future::join_all;

use super::{Error, Settings};
use crate::reference::Reference;
use crate::registry::{RegistryClient, RegistryError};
use crate::transport::registry::Creds;

/// podman's default `--limit`.
pub const DEFAULT_LIMIT: usize = 25;
/// podman's description width in the table (`--no-trunc` shows it whole).
pub const DESCRIPTION_WIDTH: usize = 44;

/// `--filter`s of a search, parsed as podman parses them ([`SearchFilter::parse`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchFilter {
    /// `stars=N`: at least N stars.
    pub stars: u64,
    /// `is-official[=BOOL]`.
    pub official: Option<bool>,
    /// `is-automated[=BOOL]`.
    pub automated: Option<bool>,
}

impl SearchFilter {
    /// podman's filters: `stars=N`, `is-official`, `is-automated` (each `=false` to ask for the opposite;
    /// any other value means true, as podman reads it). An unknown filter is an error.
    pub fn parse(specs: &[String]) -> Result<SearchFilter, SearchError> {
        let mut f = SearchFilter::default();
        for spec in specs {
            let (key, value) = match spec.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (spec.as_str(), None),
            };
            match key {
                "stars" => {
                    let v = value.ok_or_else(|| SearchError::Filter(format!("{spec:?}: should be stars=<value>")))?;
                    f.stars = v.trim().parse().map_err(|_| {
                        SearchError::Filter(format!("{spec:?}: stars takes a whole number of stars, not {v:?}"))
                    })?;
                }
                "is-official" => f.official = Some(value != Some("false")),
                "is-automated" => f.automated = Some(value != Some("false")),
                _ => {
                    return Err(SearchError::Filter(format!(
                        "{spec:?}: unknown filter (stars=N, is-official[=BOOL], is-automated[=BOOL])"
                    )));
                }
            }
        }
        Ok(f)
    }

    fn is_empty(&self) -> bool {
        *self == SearchFilter::default()
    }

    fn matches(&self, stars: u64, official: bool, automated: bool) -> bool {
        stars >= self.stars
            && self.official.is_none_or(|o| o == official)
            && self.automated.is_none_or(|a| a == automated)
    }
}

/// What to search for and how to cut the answer.
#[derive(Debug, Clone, Default)]
pub struct SearchOptions {
    /// `--limit`: results per registry (tags with `list_tags`); `None` or 0: [`DEFAULT_LIMIT`].
    pub limit: Option<usize>,
    /// `--list-tags`: the term names one repository (`REGISTRY/REPO`); its tags are the rows.
    pub list_tags: bool,
    pub filter: SearchFilter,
    /// `--no-trunc`: descriptions whole.
    pub no_trunc: bool,
}

/// One row, podman's `SearchResult` (its JSON keys).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SearchResult {
    /// The registry searched.
    pub index: String,
    /// `REGISTRY/REPOSITORY` (`docker.io/library/NAME` for Docker Hub's official images).
    pub name: String,
    pub description: String,
    pub stars: u64,
    /// `[OK]` or empty, as podman shows it.
    pub official: String,
    /// `[OK]` or empty.
    pub automated: String,
    /// With `list_tags`: the tag.
    pub tag: String,
}

/// Why a search gave nothing.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("invalid filter {0}")]
    Filter(String),
    #[error("--filter does not apply to --list-tags")]
    FilterWithTags,
    #[error("--list-tags lists one repository's tags: name it with its registry (REGISTRY/REPOSITORY), not {0:?}")]
    ListTagsNeedsRegistry(String),
    #[error(
        "no registry to search: registries.conf's unqualified-search-registries is empty; name one: \
         hoist search REGISTRY/TERM"
    )]
    NoRegistries,
    /// Every registry failed: each one's error.
    #[error("{}", .0.iter().map(|(r, e)| format!("searching {r}: {e}")).collect::<Vec<_>>().join("; "))]
    AllFailed(Vec<(String, Error)>),
    #[error(transparent)]
    Ops(Box<Error>),
}

impl From<Error> for SearchError {
    fn from(e: Error) -> SearchError {
        SearchError::Ops(Box::new(e))
    }
}

/// The registry and the term within it: before the first `/` when there is one (podman: "everything before
/// the first slash is the registry"), else `None` (every unqualified-search registry).
pub fn split_term(term: &str) -> (Option<&str>, &str) {
    match term.split_once('/') {
        Some((registry, rest)) => (Some(registry), rest),
        None => (None, term),
    }
}

/// Searches as `podman search TERM` does; see the module's documentation. Results come registry by registry
/// in the order searched.
pub async fn search(settings: &Settings, term: &str, opts: &SearchOptions) -> Result<Vec<SearchResult>, SearchError> {
    let (registry, term) = split_term(term);
    let registries: Vec<String> = match registry {
        Some(r) => vec![r.to_owned()],
        None if opts.list_tags => return Err(SearchError::ListTagsNeedsRegistry(term.to_owned())),
        None => settings.config().map_err(Error::from)?.unqualified_search_registries.clone(),
    };
    if registries.is_empty() {
        return Err(SearchError::NoRegistries);
    }
    if opts.list_tags {
        if !opts.filter.is_empty() {
            return Err(SearchError::FilterWithTags);
        }
        return list_tags(settings, &registries[0], term, opts).await;
    }
    let answers = join_all(registries.iter().map(|r| search_one(settings, r, term, opts))).await;
    let mut results = Vec::new();
    let mut failures = Vec::new();
    for (registry, answer) in registries.iter().zip(answers) {
        match answer {
            Ok(rows) => results.extend(rows),
            Err(e) => failures.push((registry.clone(), e)),
        }
    }
    if failures.len() == registries.len() {
        return Err(SearchError::AllFailed(failures));
    }
    for (registry, e) in &failures {
        settings.observer.warning(&format!("searching {registry}: {e}"));
    }
    Ok(results)
}

/// `--list-tags`: the tags of `REGISTRY/TERM`, the first `limit` (25 unless asked) in the registry's order.
async fn list_tags(
    settings: &Settings,
    registry: &str,
    term: &str,
    opts: &SearchOptions,
) -> Result<Vec<SearchResult>, SearchError> {
    let reference = Reference::parse_normalized(&format!("{registry}/{term}")).map_err(Error::from)?;
    if reference.tag().is_some() || reference.digest().is_some() {
        return Err(SearchError::ListTagsNeedsRegistry(format!("{registry}/{term}")));
    }
    let tags = settings.list_tags(&reference, None).await?;
    let limit = opts.limit.filter(|&n| n > 0).unwrap_or(DEFAULT_LIMIT);
    let name = reference.name();
    Ok(tags
        .into_iter()
        .take(limit)
        .map(|tag| SearchResult { name: name.clone(), tag, ..SearchResult::default() })
        .collect())
}

/// One registry's rows.
async fn search_one(
    settings: &Settings,
    registry: &str,
    term: &str,
    opts: &SearchOptions,
) -> Result<Vec<SearchResult>, Error> {
    let limit = opts.limit.filter(|&n| n > 0).unwrap_or(DEFAULT_LIMIT);
    let hub = hoist_helper_protocol::docker_hub::is_alias(registry);
    let index = if hub { "docker.io".to_owned() } else { registry.to_owned() };
    let (client, hub_base) = if hub {
        // Docker Hub's search API is at index.docker.io, unless registries.conf moves docker.io elsewhere.
        let probe = Reference::parse_normalized("docker.io/library/search")?;
        let targets = settings.pull_targets(&probe)?;
        let Some(primary) = targets.into_iter().rfind(|t| !t.mirror) else {
            return Err(Error::Transport(RegistryError::Protocol("docker.io has no location".into()).into()));
        };
        let moved = primary.reference.domain() != "docker.io";
        let client = connect(settings, &primary.endpoint, "docker.io").await?;
        let base = if moved { client.base().to_owned() } else { "https://index.docker.io".to_owned() };
        (client, Some(base))
    } else {
        let endpoint = settings.login_endpoint(registry)?;
        (connect(settings, &endpoint, registry).await?, None)
    };
    let mut rows = Vec::new();
    if let Some(base) = hub_base {
        let found = client.hub_search(&base, term, limit).await.map_err(transport)?;
        for r in found.into_iter().take(limit) {
            if !opts.filter.matches(r.star_count, r.is_official, r.is_automated) {
                continue;
            }
            let name = if r.name.contains('/') {
                format!("{index}/{}", r.name)
            } else {
                format!("{index}/library/{}", r.name)
            };
            rows.push(SearchResult {
                index: index.clone(),
                name,
                description: description(&r.description, opts.no_trunc),
                stars: r.star_count,
                official: ok_mark(r.is_official),
                automated: ok_mark(r.is_automated),
                tag: String::new(),
            });
        }
        return Ok(rows);
    }
    let mut names: Vec<String> = Vec::new();
    for repo in client.catalog().await.map_err(transport)? {
        if repo.contains(term) {
            if repo == term { names.insert(0, repo) } else { names.push(repo) }
        }
    }
    for repo in names.into_iter().take(limit) {
        if !opts.filter.matches(0, false, false) {
            continue;
        }
        rows.push(SearchResult { index: index.clone(), name: format!("{index}/{repo}"), ..SearchResult::default() });
    }
    Ok(rows)
}

fn transport(e: RegistryError) -> Error {
    Error::Transport(e.into())
}

/// A client for `endpoint`, with the credentials stored (or given) for `registry`.
async fn connect(
    settings: &Settings,
    endpoint: &crate::registry::Endpoint,
    registry: &str,
) -> Result<Arc<RegistryClient>, Error> {
    let creds = match settings.creds()? {
        Creds::Anonymous => None,
        Creds::Given(mut c) => {
            c.server_url = registry.to_owned();
            Some(c)
        }
        Creds::Lookup(auth) => {
            let key = registry.to_owned();
            let found = tokio::task::spawn_blocking(move || auth.lookup(&key)).await.map_err(|source| {
                Error::Transport(crate::transport::TransportError::TaskFailed { task: "credential lookup", source })
            })?;
            found.map_err(|e| Error::Transport(e.into()))?.map(|f| f.creds)
        }
    };
    let client = RegistryClient::connect(endpoint, creds, settings.observer.clone()).await.map_err(transport)?;
    Ok(Arc::new(client))
}

fn ok_mark(b: bool) -> String {
    if b { "[OK]".to_owned() } else { String::new() }
}

/// podman's description: on one line, cut to [`DESCRIPTION_WIDTH`] bytes and `...` unless `no_trunc` (cut at
/// a character's boundary: never half a character).
pub fn description(text: &str, no_trunc: bool) -> String {
    let one_line = text.replace('\n', " ");
    if no_trunc || one_line.len() <= DESCRIPTION_WIDTH {
        return one_line;
    }
    let mut end = DESCRIPTION_WIDTH;
    while !one_line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &one_line[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn filters_as_podman_reads_them() {
        let f = SearchFilter::parse(&specs(&["stars=3", "is-official", "is-automated=false"])).unwrap();
        assert_eq!(f, SearchFilter { stars: 3, official: Some(true), automated: Some(false) });
        assert!(f.matches(3, true, false));
        assert!(!f.matches(2, true, false));
        assert!(!f.matches(5, false, false));
        assert!(!f.matches(5, true, true));
        assert!(SearchFilter::parse(&specs(&["stars"])).is_err());
        assert!(SearchFilter::parse(&specs(&["stars=many"])).is_err());
        assert!(SearchFilter::parse(&specs(&["label=x"])).is_err());
        assert_eq!(SearchFilter::parse(&specs(&["is-official=yes"])).unwrap().official, Some(true));
    }

    #[test]
    fn descriptions_on_one_line_cut_at_44_bytes() {
        assert_eq!(description("a\nb", false), "a b");
        let long = "x".repeat(50);
        assert_eq!(description(&long, false), format!("{}...", "x".repeat(44)));
        assert_eq!(description(&long, true), long);
        // Never half a character: 43 ASCII bytes then a two-byte character straddling the cut.
        let s = format!("{}é{}", "y".repeat(43), "z".repeat(10));
        assert_eq!(description(&s, false), format!("{}...", "y".repeat(43)));
    }

    #[test]
    fn the_registry_is_before_the_first_slash() {
        assert_eq!(split_term("quay.io/app/x"), (Some("quay.io"), "app/x"));
        assert_eq!(split_term("busybox"), (None, "busybox"));
    }
}
