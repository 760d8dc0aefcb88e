//! A JWT token issuer for distribution's `auth: token` (see shared/token-auth-recipe.md): ES256 tokens with
//! the signing certificate in `x5c`, the Docker token protocol (GET with Basic) and OAuth2 (POST with
//! `grant_type=password|refresh_token`). It is the registry's real authority in these tests, not a fake.
//!
//! Policy: `alice/secret` may do anything on any repository (and the catalog); `bob/bobpass` may pull;
//! anonymous may pull `public/*`. Scopes not granted are dropped, as Docker Hub does.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use tempfile::TempDir;

use crate::process::{free_port, require, run};

pub const SERVICE: &str = "test-registry";
pub const ISSUER: &str = "test-issuer";

/// What the issuer saw, for assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    pub grant_type: Option<String>,
    pub account: Option<String>,
    pub authorized: bool,
}

struct State {
    refresh_tokens: BTreeMap<String, String>,
    seen: Vec<Seen>,
    oauth2: bool,
}

pub struct TokenIssuer {
    pub port: u16,
    pub cert: PathBuf,
    server: Arc<tiny_http::Server>,
    state: Arc<Mutex<State>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: TempDir,
}

impl TokenIssuer {
    /// Starts the issuer. With `oauth2` false, POST answers 404 (a Docker-protocol-only token service).
    pub fn start(oauth2: bool) -> TokenIssuer {
        require("openssl", "openssl");
        let dir = tempfile::Builder::new().prefix("hoist-issuer-").tempdir().unwrap();
        let key = dir.path().join("issuer.key");
        let cert = dir.path().join("issuer.crt");
        run(
            Command::new("openssl")
                .args(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out"])
                .arg(&key),
            b"",
        )
        .expect_ok("openssl genpkey");
        run(
            Command::new("openssl")
                .args(["req", "-new", "-x509", "-days", "3650", "-subj", "/CN=test-issuer", "-key"])
                .arg(&key)
                .arg("-out")
                .arg(&cert),
            b"",
        )
        .expect_ok("openssl req");
        let der = run(Command::new("openssl").args(["x509", "-outform", "DER", "-in"]).arg(&cert), b"")
            .expect_ok("openssl x509")
            .stdout;
        let x5c = base64::engine::general_purpose::STANDARD.encode(der);
        let encoding = jsonwebtoken::EncodingKey::from_ec_pem(&std::fs::read(&key).unwrap()).unwrap();
        let port = free_port();
        let server = Arc::new(tiny_http::Server::http(("127.0.0.1", port)).unwrap());
        let state = Arc::new(Mutex::new(State { refresh_tokens: BTreeMap::new(), seen: Vec::new(), oauth2 }));
        let (srv, st) = (server.clone(), state.clone());
        let thread = std::thread::spawn(move || {
            for mut req in srv.incoming_requests() {
                let mut parts = req_parts(&req);
                let _ = std::io::Read::read_to_string(req.as_reader(), &mut parts.body);
                let (status, body, headers) = handle(&st, &encoding, &x5c, parts);
                let mut resp = tiny_http::Response::from_string(body).with_status_code(status);
                resp.add_header(tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap());
                for (k, v) in headers {
                    resp.add_header(tiny_http::Header::from_bytes(k, v).unwrap());
                }
                let _ = req.respond(resp);
            }
        });
        TokenIssuer { port, cert, server, state, thread: Some(thread), _dir: dir }
    }

    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    /// registries.conf marking the issuer's plain-HTTP host insecure: hoist sends credentials to a plain-HTTP
    /// token realm of a TLS registry only then.
    pub fn trusted_conf(&self) -> String {
        format!("[[registry]]\nlocation = \"127.0.0.1:{}\"\ninsecure = true\n", self.port)
    }

    /// A refresh (identity) token for `user`, as the issuer would hand out for `offline_token=true`.
    pub fn mint_refresh_token(&self, user: &str) -> String {
        let token = format!("refresh-{user}-{}", random_hex());
        self.state.lock().unwrap().refresh_tokens.insert(token.clone(), user.to_owned());
        token
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }
}

impl Drop for TokenIssuer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Parts {
    method: String,
    url: String,
    basic: Option<(String, String)>,
    body: String,
}

fn req_parts(req: &tiny_http::Request) -> Parts {
    let basic = req
        .headers()
        .iter()
        .find(|h| h.field.equiv("Authorization"))
        .and_then(|h| h.value.as_str().strip_prefix("Basic ").map(str::to_owned))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|d| String::from_utf8(d).ok())
        .and_then(|s| s.split_once(':').map(|(u, p)| (u.to_owned(), p.to_owned())));
    Parts { method: req.method().to_string(), url: req.url().to_owned(), basic, body: String::new() }
}

fn random_hex() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

fn check_password(user: &str, pass: &str) -> bool {
    matches!((user, pass), ("alice", "secret") | ("bob", "bobpass"))
}

/// The actions `user` (None: anonymous) gets on `name`.
fn allowed(user: Option<&str>, kind: &str, name: &str, wanted: &[String]) -> Vec<String> {
    let all: HashSet<&str> = match (user, kind) {
        (Some("alice"), _) => ["pull", "push", "delete", "*"].into(),
        (Some("bob"), "repository") => ["pull"].into(),
        (None, "repository") if name.starts_with("public/") => ["pull"].into(),
        _ => HashSet::new(),
    };
    wanted.iter().filter(|a| all.contains(a.as_str())).cloned().collect()
}

fn handle(
    state: &Mutex<State>,
    key: &jsonwebtoken::EncodingKey,
    x5c: &str,
    parts: Parts,
) -> (u16, String, Vec<(&'static str, &'static str)>) {
    let unauthorized = (
        401,
        r#"{"errors":[{"code":"UNAUTHORIZED","message":"invalid username or password"}]}"#.to_owned(),
        vec![("WWW-Authenticate", "Basic realm=\"test-issuer\"")],
    );
    let (path, query) = parts.url.split_once('?').unwrap_or((&parts.url, ""));
    if path != "/token" {
        return (404, "{}".into(), vec![]);
    }
    let mut params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    if parts.method == "POST" {
        params.extend(form_urlencoded::parse(parts.body.as_bytes()).into_owned());
    }
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let mut st = state.lock().unwrap();
    let grant = get("grant_type");
    st.seen.push(Seen {
        method: parts.method.clone(),
        grant_type: grant.clone(),
        account: get("account"),
        authorized: parts.basic.is_some(),
    });
    if get("service").as_deref() != Some(SERVICE) {
        return (400, r#"{"error":"unknown service"}"#.into(), vec![]);
    }
    let user: Option<String> = if parts.method == "POST" {
        if !st.oauth2 {
            return (404, "{}".into(), vec![]);
        }
        match grant.as_deref() {
            Some("refresh_token") => match st.refresh_tokens.get(&get("refresh_token").unwrap_or_default()) {
                Some(u) => Some(u.clone()),
                None => return unauthorized,
            },
            Some("password") => {
                let (u, p) = (get("username").unwrap_or_default(), get("password").unwrap_or_default());
                if !check_password(&u, &p) {
                    return unauthorized;
                }
                Some(u)
            }
            _ => return (400, r#"{"error":"unsupported_grant_type"}"#.into(), vec![]),
        }
    } else {
        match &parts.basic {
            // A refresh token as the password works too (registries that accept identity tokens over Basic).
            Some((u, p)) if u == "<token>" => match st.refresh_tokens.get(p) {
                Some(user) => Some(user.clone()),
                None => return unauthorized,
            },
            Some((u, p)) if check_password(u, p) => Some(u.clone()),
            Some(_) => return unauthorized,
            None => None,
        }
    };
    let mut access = Vec::new();
    for scope_value in params.iter().filter(|(k, _)| k == "scope").map(|(_, v)| v.clone()) {
        for scope in scope_value.split(' ').filter(|s| !s.is_empty()) {
            let (Some(first), Some(last)) = (scope.find(':'), scope.rfind(':')) else {
                return (400, "{}".into(), vec![]);
            };
            if first == last {
                return (400, "{}".into(), vec![]);
            }
            let kind = scope[..first].split('(').next().unwrap_or_default();
            let name = &scope[first + 1..last];
            let wanted: Vec<String> = scope[last + 1..].split(',').map(str::to_owned).collect();
            let actions = allowed(user.as_deref(), kind, name, &wanted);
            access.push(serde_json::json!({"type": kind, "name": name, "actions": actions}));
        }
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let claims = serde_json::json!({
        "iss": ISSUER, "sub": user.clone().unwrap_or_default(), "aud": SERVICE,
        "exp": now + 300, "nbf": now - 1, "iat": now, "jti": random_hex(), "access": access,
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.x5c = Some(vec![x5c.to_owned()]);
    let token = jsonwebtoken::encode(&header, &claims, key).unwrap();
    let mut answer = serde_json::json!({"token": token, "access_token": token, "expires_in": 300, "issued_at": "2026-01-01T00:00:00Z"});
    if parts.method == "POST"
        && let Some(u) = &user
    {
        let refresh = format!("refresh-{u}-{}", random_hex());
        st.refresh_tokens.insert(refresh.clone(), u.clone());
        answer["refresh_token"] = refresh.into();
    }
    (200, answer.to_string(), vec![])
}
