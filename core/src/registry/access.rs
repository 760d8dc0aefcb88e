//! "What may I do here": the actions a registry grants the client's credentials on one repository, found
//! without changing anything.
//!
//! - A token registry: one token is asked for `repository:NAME:pull,push,delete,*`; token services drop what
//!   they do not grant, so the token's `access` claim (a JWT; its signature is the registry's business, not
//!   checked here) says what is granted.
//! - A Basic-auth (or open) registry, or a token that is not a JWT: harmless probes — the tag list (pull), an
//!   upload session opened and cancelled at once (push), and a DELETE of a manifest digest that cannot exist
//!   (delete: 404 means allowed, 401/403 denied, 405 disabled).
//!
//! What it is not: a permission check of a particular image, or a guarantee — a registry may still refuse
//! later for reasons of its own (quota, immutable tags).

use std::collections::BTreeSet;

use reqwest::Method;
use reqwest::header::LOCATION;

use super::manifest::{delete, pull, push};
use super::request::Request;
use super::{Challenge, RegistryClient, RegistryError};
use crate::digest::Digest;

/// The actions `hoist access` asks about, in order.
pub const ACTIONS: [&str; 4] = ["pull", "push", "delete", "*"];

/// How the registry authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Bearer tokens from a token service.
    Token,
    /// HTTP Basic.
    Basic,
    /// None asked for.
    None,
}

/// How the answer was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// From the token's `access` claim.
    TokenClaim,
    /// From probes.
    Probe,
}

/// What the registry grants on one repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub auth: Auth,
    pub found: Found,
    /// The granted actions among [`ACTIONS`].
    pub granted: BTreeSet<String>,
    /// What is worth saying beside the answer (a registry with delete disabled, an opaque token).
    pub notes: Vec<String>,
}

impl RegistryClient {
    /// The actions the registry grants these credentials on `repo`; nothing is changed.
    pub async fn access(&self, repo: &str) -> Result<Access, RegistryError> {
        match &self.challenge {
            Some(c @ Challenge::Bearer { .. }) => {
                let scopes: BTreeSet<String> = [format!("repository:{repo}:pull,push,delete,*")].into();
                // The same path every request takes (a cleartext realm gets no password).
                let Some((t, _)) = self.bearer_token(c, &scopes, &scopes, true).await? else {
                    return self.probe(repo, Auth::Token).await;
                };
                match granted_by_claim(t.value.as_str(), repo) {
                    Some(granted) => {
                        Ok(Access { auth: Auth::Token, found: Found::TokenClaim, granted, notes: Vec::new() })
                    }
                    None => {
                        let mut a = self.probe(repo, Auth::Token).await?;
                        a.notes.push("the token is not a JWT: the actions were probed".to_owned());
                        Ok(a)
                    }
                }
            }
            Some(Challenge::Basic { .. }) => self.probe(repo, Auth::Basic).await,
            _ => self.probe(repo, Auth::None).await,
        }
    }

    async fn probe(&self, repo: &str, auth: Auth) -> Result<Access, RegistryError> {
        let mut granted = BTreeSet::new();
        let mut notes = Vec::new();
        let deny = [401u16, 403];
        // pull: the tag list (404: allowed, the repository is just empty).
        let url = format!("{}/v2/{repo}/tags/list", self.base);
        let r = self.send(Request::new(Method::GET, url, pull(repo)).expect(&[200, 401, 403, 404])).await?;
        if !deny.contains(&r.status().as_u16()) {
            granted.insert("pull".to_owned());
        }
        // push: open an upload session and cancel it.
        let scopes = push(repo);
        let url = format!("{}/v2/{repo}/blobs/uploads/", self.base);
        let r = self.send(Request::new(Method::POST, url, scopes.clone()).expect(&[202, 401, 403, 404, 405])).await?;
        if r.status().as_u16() == 202 {
            granted.insert("push".to_owned());
            if r.headers().contains_key(LOCATION)
                && let Ok(location) = self.location(&r)
            {
                self.cancel_upload(&location, &scopes).await;
            }
        }
        // delete: a manifest that cannot exist.
        let nothing = Digest::sha256(b"hoist access: a manifest that does not exist");
        let url = self.manifest_url(repo, &nothing.to_string());
        let r = self.send(Request::new(Method::DELETE, url, delete(repo)).expect(&[202, 401, 403, 404, 405])).await?;
        match r.status().as_u16() {
            202 | 404 => {
                granted.insert("delete".to_owned());
            }
            405 => notes.push("deletes are disabled on this registry".to_owned()),
            _ => {}
        }
        if ["pull", "push", "delete"].iter().all(|a| granted.contains(*a)) {
            granted.insert("*".to_owned());
        }
        Ok(Access { auth, found: Found::Probe, granted, notes })
    }
}

/// The actions the `access` claim of JWT `token` grants on repository `repo` (`*` stands for all); `None`
/// when the token is not a JWT with such a claim.
pub fn granted_by_claim(token: &str, repo: &str) -> Option<BTreeSet<String>> {
    let payload = token.split('.').nth(1)?;
    let claims: serde_json::Value = serde_json::from_slice(&base64url(payload)?).ok()?;
    let access = claims.get("access")?.as_array()?;
    let mut granted = BTreeSet::new();
    for entry in access {
        if entry.get("type").and_then(|t| t.as_str()) != Some("repository")
            || entry.get("name").and_then(|n| n.as_str()) != Some(repo)
        {
            continue;
        }
        for a in entry.get("actions").and_then(|a| a.as_array()).into_iter().flatten() {
            if let Some(a) = a.as_str().filter(|a| ACTIONS.contains(a)) {
                granted.insert(a.to_owned());
            }
        }
    }
    if granted.contains("*") {
        granted.extend(ACTIONS.iter().map(|a| a.to_string()));
    }
    Some(granted)
}

/// Base64url without padding (JWT segments); `None` for anything else.
fn base64url(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        } as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &str) -> String {
        const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let b = claims.as_bytes();
        let mut s = String::new();
        for chunk in b.chunks(3) {
            let n = chunk.iter().enumerate().fold(0u32, |n, (i, &x)| n | (x as u32) << (16 - 8 * i));
            for i in 0..=chunk.len() {
                s.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        format!("eyJhbGciOiJFUzI1NiJ9.{s}.sig")
    }

    #[test]
    fn reads_the_access_claim() {
        let t = jwt(
            r#"{"access":[{"type":"repository","name":"team/app","actions":["pull"]},{"type":"repository","name":"other","actions":["push"]}]}"#,
        );
        assert_eq!(granted_by_claim(&t, "team/app"), Some(["pull".to_owned()].into()));
        assert_eq!(granted_by_claim(&t, "nope"), Some(BTreeSet::new()));
        let t = jwt(r#"{"access":[{"type":"repository","name":"a","actions":["*"]}]}"#);
        assert_eq!(granted_by_claim(&t, "a").unwrap().len(), 4, "* stands for every action");
        assert_eq!(granted_by_claim("opaque-token", "a"), None);
        assert_eq!(granted_by_claim(&jwt(r#"{"sub":"x"}"#), "a"), None);
        assert_eq!(base64url("aGk"), Some(b"hi".to_vec()));
    }
}
