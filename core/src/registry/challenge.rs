//! `WWW-Authenticate` challenges (RFC 7235) as registries send them: `Basic realm=...` and
//! `Bearer realm=...,service=...,scope="a b",error=...`. Scheme and parameter names are case-insensitive;
//! values may be quoted; a header may hold several challenges; the scope is a set (distribution sends its
//! parts in random order).

use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic { realm: String },
    Bearer { realm: String, service: Option<String>, scopes: BTreeSet<String>, error: Option<String> },
    Other(String),
}

/// Parses every challenge in the given header values; unparseable values are skipped.
pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<Challenge> {
    let mut out = Vec::new();
    for value in values {
        let Ok(challenges) = http_auth::parse_challenges(value) else { continue };
        for c in challenges {
            let param =
                |name: &str| c.params.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.to_unescaped());
            let challenge = if c.scheme.eq_ignore_ascii_case("basic") {
                Challenge::Basic { realm: param("realm").unwrap_or_default() }
            } else if c.scheme.eq_ignore_ascii_case("bearer") {
                Challenge::Bearer {
                    realm: param("realm").unwrap_or_default(),
                    service: param("service"),
                    scopes: param("scope")
                        .map(|s| s.split(' ').filter(|p| !p.is_empty()).map(str::to_owned).collect())
                        .unwrap_or_default(),
                    error: param("error"),
                }
            } else {
                Challenge::Other(c.scheme.to_owned())
            };
            out.push(challenge);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distribution_challenges() {
        let got = parse([
            r#"Bearer realm="http://127.0.0.1:5003/token",service="test-registry",scope="repository:team/app:pull,push repository:public/hello:pull",error="insufficient_scope""#,
        ]);
        let Challenge::Bearer { realm, service, scopes, error } = &got[0] else { panic!("{got:?}") };
        assert_eq!(realm, "http://127.0.0.1:5003/token");
        assert_eq!(service.as_deref(), Some("test-registry"));
        assert_eq!(
            scopes.iter().cloned().collect::<Vec<_>>(),
            ["repository:public/hello:pull", "repository:team/app:pull,push"]
        );
        assert_eq!(error.as_deref(), Some("insufficient_scope"));
        assert_eq!(parse([r#"Basic realm="basic-realm""#]), [Challenge::Basic { realm: "basic-realm".into() }]);
        let two = parse([r#"bearer REALM="https://auth.example/token", Service=reg , basic realm="x \"q\"""#]);
        assert_eq!(two.len(), 2);
        assert!(
            matches!(&two[0], Challenge::Bearer { realm, service: Some(s), .. } if realm == "https://auth.example/token" && s == "reg")
        );
        assert_eq!(two[1], Challenge::Basic { realm: "x \"q\"".into() });
        // An unparseable value is skipped; a scheme hoist does not speak is kept by name (so the error can say
        // which scheme the registry wants).
        assert_eq!(parse(["garbage,,,="]), []);
        assert_eq!(parse([r#"Digest realm="x", nonce="y""#]), [Challenge::Other("Digest".into())]);
    }
}
