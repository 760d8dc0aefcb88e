//! A registry that misbehaves on purpose, for what a real one won't do: answer 429 or 500, cut a blob short,
//! serve bytes that don't match their digest, leave out `Docker-Content-Digest`, hand its uploads or the
//! next page of a tag list to another origin. It serves an OCI layout made by [`crate::image::write_layout`]
//! over plain HTTP on 127.0.0.1 only, one thread per connection, and records every request (with the
//! Authorization it carried). Repositories under `push/` hold nothing and take pushes. Dropping it stops it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The tags every repository of the fake registry has.
pub const TAGS: [&str; 5] = ["v1", "v2", "v3", "v4", "v5"];

/// How a request for a path (a manifest by tag, a blob by digest) is answered, in order: the first request
/// gets the first fault, and so on; once the list is used up, requests are answered properly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// `429 Too Many Requests` with `Retry-After: SECONDS`.
    TooMany(u32),
    /// `500 Internal Server Error`.
    ServerError,
    /// The right `Content-Length`, then only half of the body and a closed connection.
    Truncate,
    /// Bytes of the right length that are not the blob's (every time: the fault is not used up).
    WrongBytes,
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub range: Option<String>,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
}

#[derive(Default)]
struct State {
    faults: HashMap<String, Vec<Fault>>,
    seen: Vec<Seen>,
    /// `user:pass` every request but the token-free `/v2/` ping must carry as Basic credentials.
    basic: Option<String>,
    /// Where `POST .../blobs/uploads/` sends the upload (an absolute URL prefix); default: here.
    uploads_at: Option<String>,
    /// The origin (`http://host:port`) tag-list `Link`s name; default: none (relative links).
    links_to: Option<String>,
}

pub struct FakeRegistry {
    pub port: u16,
    layout: PathBuf,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl FakeRegistry {
    /// Serves `layout` (an OCI layout directory): every repository has the tag `v1` → the layout's top
    /// manifest, whose media type is `media_type`.
    pub fn start(layout: &Path, media_type: &str) -> FakeRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
        let top = index["manifests"][0]["digest"].as_str().unwrap().to_owned();
        let ctx = Arc::new(Ctx { layout: layout.to_owned(), top, media_type: media_type.to_owned() });
        let (st, sp) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            while !sp.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let (st, ctx) = (st.clone(), ctx.clone());
                        std::thread::spawn(move || serve(conn, &st, &ctx));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FakeRegistry { port, layout: layout.to_owned(), state, stop }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Faults for requests whose path ends with `suffix` (`/manifests/v1`, `/blobs/sha256:...`).
    pub fn fault(&self, suffix: &str, faults: Vec<Fault>) {
        self.state.lock().unwrap().faults.insert(suffix.to_owned(), faults);
    }

    /// Asks for Basic credentials `user:pass` on every request (a 401 with a Basic challenge without them).
    pub fn require_basic(&self, user_pass: &str) {
        self.state.lock().unwrap().basic = Some(user_pass.to_owned());
    }

    /// Answers upload requests with a `Location` under `prefix` (`http://other:port/somewhere`).
    pub fn uploads_at(&self, prefix: &str) {
        self.state.lock().unwrap().uploads_at = Some(prefix.to_owned());
    }

    /// Writes tag-list `Link`s as absolute URLs on `origin` (`http://other:port`).
    pub fn links_to(&self, origin: &str) {
        self.state.lock().unwrap().links_to = Some(origin.to_owned());
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.host())
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    pub fn layout(&self) -> &Path {
        &self.layout
    }
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

struct Ctx {
    layout: PathBuf,
    top: String,
    media_type: String,
}

fn serve(conn: TcpStream, state: &Mutex<State>, ctx: &Ctx) {
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
    let (mut range, mut authorization, mut length) = (None, None, 0usize);
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            let v = Some(v.trim().to_owned());
            match k.trim().to_ascii_lowercase().as_str() {
                "range" => range = v,
                "authorization" => authorization = v,
                "content-length" => length = v.and_then(|v| v.parse().ok()).unwrap_or(0),
                _ => {}
            }
        }
    }
    // A request's body (uploads, manifests) is read and dropped.
    let _ = std::io::copy(&mut (&mut reader).take(length as u64), &mut std::io::sink());
    let (basic, uploads_at, links_to) = {
        let st = state.lock().unwrap();
        (st.basic.clone(), st.uploads_at.clone(), st.links_to.clone())
    };
    let fault = {
        let mut st = state.lock().unwrap();
        st.seen.push(Seen {
            method: method.clone(),
            path: path.clone(),
            range: range.clone(),
            authorization: authorization.clone(),
        });
        let key = st.faults.keys().find(|k| path.ends_with(k.as_str())).cloned();
        key.and_then(|k| {
            let list = st.faults.get_mut(&k).unwrap();
            match list.first() {
                Some(Fault::WrongBytes) => Some(Fault::WrongBytes),
                Some(_) => Some(list.remove(0)),
                None => None,
            }
        })
    };
    let mut conn = conn;
    let respond = |conn: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8], send: usize| {
        let mut head = format!("HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let _ = conn.write_all(head.as_bytes());
        if method != "HEAD" {
            let _ = conn.write_all(&body[..send.min(body.len())]);
        }
        let _ = conn.flush();
    };
    match fault {
        Some(Fault::TooMany(secs)) => {
            return respond(&mut conn, "429 Too Many Requests", &[("Retry-After", secs.to_string())], b"{}", 2);
        }
        Some(Fault::ServerError) => return respond(&mut conn, "500 Internal Server Error", &[], b"oops", 4),
        _ => {}
    }
    if let Some(user_pass) = basic {
        use base64::Engine;
        let want = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(user_pass));
        if authorization.as_deref() != Some(want.as_str()) {
            let challenge = [("WWW-Authenticate", "Basic realm=\"fake\"".to_owned())];
            return respond(&mut conn, "401 Unauthorized", &challenge, b"{}", 2);
        }
    }
    if path == "/v2/" {
        return respond(&mut conn, "200 OK", &[], b"{}", 2);
    }
    if path.starts_with("/v2/push/") || path.starts_with("/upload/") {
        // A repository that holds nothing and takes pushes; `/upload/` is where uploads go.
        return match method.as_str() {
            "POST" => {
                let at = uploads_at.unwrap_or_default();
                let location = [("Location", format!("{at}/upload/{}", st_counter()))];
                respond(&mut conn, "202 Accepted", &location, b"", 0)
            }
            "PUT" | "PATCH" => respond(&mut conn, "201 Created", &[], b"", 0),
            "DELETE" => respond(&mut conn, "204 No Content", &[], b"", 0),
            _ => respond(&mut conn, "404 Not Found", &[], b"{}", 2),
        };
    }
    if let Some((repo_path, query)) = path.split_once("/tags/list").map(|(p, q)| (p.to_owned(), q.to_owned())) {
        // Every repository has TAGS; `n` asks for pages, `last` continues after a tag, and each page but the
        // last links to the next, as distribution 3 and Docker Hub do.
        let param = |k: &str| query.trim_start_matches('?').split('&').find_map(|kv| kv.strip_prefix(&format!("{k}=")));
        let n: usize = param("n").and_then(|v| v.parse().ok()).unwrap_or(TAGS.len());
        let start = param("last").and_then(|l| TAGS.iter().position(|t| *t == l)).map_or(0, |i| i + 1);
        let page: Vec<&str> = TAGS.iter().skip(start).take(n).copied().collect();
        let body = serde_json::json!({"name": repo_path.trim_start_matches("/v2/"), "tags": page}).to_string();
        let mut headers = Vec::new();
        if start + page.len() < TAGS.len() {
            let last = page.last().copied().unwrap_or("");
            let origin = links_to.unwrap_or_default();
            headers.push(("Link", format!("<{origin}{repo_path}/tags/list?last={last}&n={n}>; rel=\"next\"")));
        }
        return respond(&mut conn, "200 OK", &headers, body.as_bytes(), body.len());
    }
    let blob_of =
        |d: &str| d.strip_prefix("sha256:").and_then(|h| std::fs::read(ctx.layout.join("blobs/sha256").join(h)).ok());
    if let Some((_, reference)) = path.split_once("/manifests/") {
        let digest = if reference.starts_with("sha256:") { reference.to_owned() } else { ctx.top.clone() };
        let Some(body) = blob_of(&digest) else { return respond(&mut conn, "404 Not Found", &[], b"{}", 2) };
        let media_type = if digest == ctx.top {
            ctx.media_type.clone()
        } else {
            "application/vnd.oci.image.manifest.v1+json".to_owned()
        };
        let headers = [("Content-Type", media_type), ("Docker-Content-Digest", digest)];
        return respond(&mut conn, "200 OK", &headers, &body, body.len());
    }
    if let Some((_, digest)) = path.split_once("/blobs/") {
        let Some(mut body) = blob_of(digest) else { return respond(&mut conn, "404 Not Found", &[], b"{}", 2) };
        if fault == Some(Fault::WrongBytes) {
            body.iter_mut().for_each(|b| *b ^= 0x5a);
        }
        if let Some(start) = range.as_deref().and_then(|r| r.strip_prefix("bytes=")).and_then(|r| r.strip_suffix('-')) {
            let start: usize = start.parse().unwrap_or(0);
            let rest = body[start.min(body.len())..].to_vec();
            let cr = format!("bytes {start}-{}/{}", body.len().saturating_sub(1), body.len());
            return respond(&mut conn, "206 Partial Content", &[("Content-Range", cr)], &rest, rest.len());
        }
        let send = if fault == Some(Fault::Truncate) { body.len() / 2 } else { body.len() };
        return respond(&mut conn, "200 OK", &[("Docker-Content-Digest", digest.to_owned())], &body, send);
    }
    respond(&mut conn, "404 Not Found", &[], b"{}", 2)
}

/// A number for each upload session, unique in the process.
fn st_counter() -> usize {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}
