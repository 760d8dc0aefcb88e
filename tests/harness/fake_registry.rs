//! A registry that misbehaves on purpose, for what a real one won't do: answer 429 or 500, cut a blob short,
//! serve bytes that don't match their digest, leave out `Docker-Content-Digest`. It serves an OCI layout made
//! by [`crate::image::write_layout`] over plain HTTP on 127.0.0.1 only, one thread per connection, and
//! records every request. Dropping it stops it.

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
}

#[derive(Default)]
struct State {
    faults: HashMap<String, Vec<Fault>>,
    seen: Vec<Seen>,
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
    let mut range = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("range")
        {
            range = Some(v.trim().to_owned());
        }
    }
    let fault = {
        let mut st = state.lock().unwrap();
        st.seen.push(Seen { method: method.clone(), path: path.clone(), range: range.clone() });
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
    if path == "/v2/" {
        return respond(&mut conn, "200 OK", &[], b"{}", 2);
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
            headers.push(("Link", format!("<{repo_path}/tags/list?last={last}&n={n}>; rel=\"next\"")));
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
    let mut sink = Vec::new();
    let _ = reader.read_to_end(&mut sink);
    respond(&mut conn, "404 Not Found", &[], b"{}", 2)
}
