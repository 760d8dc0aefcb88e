//! A registry endpoint that attacks its client, on 127.0.0.1 only: it never answers, drips its headers,
//! sends a header of a megabyte, redirects for ever, or hands out a Bearer challenge whose token endpoint
//! stalls or streams an endless body. Every connection is answered by the same behaviour; dropping the
//! server stops it (connections it holds are closed when their threads notice).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Accepts, reads the request, never answers.
    Silent,
    /// Sends a status line, then one header byte a second.
    DripHeaders,
    /// Answers `/v2/` with a 1 MiB header.
    HugeHeader,
    /// Answers every request with a redirect to another path on itself.
    RedirectLoop,
    /// `/v2/` asks for a Bearer token from `/token` here, which never answers.
    StalledToken,
    /// `/v2/` asks for a Bearer token from `/token` here, which announces 10 GB and streams spaces.
    EndlessToken,
    /// Answers `/v2/`, lists tags holding terminal control sequences ([`CONTROL_TAGS`]), and refuses every
    /// manifest with an error message that sets the terminal's title, clears the screen and fakes a line.
    ControlText,
}

/// The tags [`Behaviour::ControlText`] lists: an ESC sequence that sets the title, a faked line, a carriage
/// return that rewrites the line, a C1 control.
pub const CONTROL_TAGS: [&str; 5] = ["v1", "t\u{1b}]0;pwned\u{7}", "two\nError: faked", "cr\rOK", "c1\u{9b}31m"];

/// The message of [`Behaviour::ControlText`]'s manifest errors.
pub const CONTROL_MESSAGE: &str = "manifest gone\u{1b}[2J\u{1b}]0;owned\u{7}\r\nError: a faked second line";

pub struct Hostile {
    pub port: u16,
    stop: Arc<AtomicBool>,
}

impl Hostile {
    pub fn start(behaviour: Behaviour) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let s = s.clone();
                        std::thread::spawn(move || serve(conn, behaviour, port, &s));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Hostile { port, stop }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(conn: TcpStream, behaviour: Behaviour, port: u16, stop: &AtomicBool) {
    let _ = conn.set_nonblocking(false);
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
    }
    let mut conn = conn;
    let hold = |stop: &AtomicBool| {
        for _ in 0..600 {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    match behaviour {
        Behaviour::Silent => hold(stop),
        Behaviour::DripHeaders => {
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\n");
            for _ in 0..60 {
                if stop.load(Ordering::Relaxed) || conn.write_all(b"X").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        Behaviour::HugeHeader => {
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nX-Huge: ");
            let _ = conn.write_all(&vec![b'a'; 1 << 20]);
            let _ = conn.write_all(b"\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        }
        Behaviour::RedirectLoop => {
            let next = format!("/v2/loop{}", path.len());
            let _ = conn.write_all(
                format!("HTTP/1.1 302 Found\r\nLocation: {next}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
                    .as_bytes(),
            );
        }
        Behaviour::StalledToken | Behaviour::EndlessToken if path.starts_with("/v2/") => {
            let challenge = format!("Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"hostile\"");
            let _ = conn.write_all(
                format!("HTTP/1.1 401 Unauthorized\r\nWww-Authenticate: {challenge}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
                    .as_bytes(),
            );
        }
        Behaviour::ControlText => {
            let (status, body) = if path == "/v2/" {
                ("200 OK", "{}".to_owned())
            } else if path.contains("/tags/list") {
                ("200 OK", serde_json::json!({"name": "lib/app", "tags": CONTROL_TAGS}).to_string())
            } else {
                let errors = [serde_json::json!({"code": "MANIFEST_UNKNOWN", "message": CONTROL_MESSAGE})];
                ("404 Not Found", serde_json::json!({ "errors": errors }).to_string())
            };
            let _ = conn.write_all(
                format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
        }
        Behaviour::StalledToken => hold(stop),
        Behaviour::EndlessToken => {
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/json\r\n");
            let _ = conn.write_all(b"Content-Length: 10000000000\r\n\r\n{\"token\": \"");
            let spaces = vec![b' '; 64 * 1024];
            for _ in 0..100_000 {
                if stop.load(Ordering::Relaxed) || conn.write_all(&spaces).is_err() {
                    return;
                }
            }
        }
    }
}

/// Reads one HTTP request's head from `conn` (a 5 s read timeout): `None` when the client hangs up first, sends
/// more than 64 KiB of head, or speaks TLS (hoist tries HTTPS first; a fake plain-HTTP server hangs up on it).
pub fn request_head(conn: &mut std::net::TcpStream) -> Option<String> {
    use std::io::Read;
    conn.set_read_timeout(Some(std::time::Duration::from_secs(5))).ok();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if !buf[0].is_ascii_uppercase() || buf.len() > 64 << 10 {
            return None;
        }
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}
