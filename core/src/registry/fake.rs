//! A small HTTP/1.1 server on a loopback address for the registry client's tests: it answers what a test's
//! handler says — including what a real registry will not do (a body cut short, a redirect to another host)
//! — records every request, and closes each connection after one answer. A TLS handshake (the client's
//! HTTPS attempt before falling back to HTTP) is closed at once.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One request as received.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    /// The request target: path and query.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    pub fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }
}

/// One answer.
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The `Content-Length` to announce when it is not the body's (a body cut short).
    pub declared: Option<usize>,
}

impl Resp {
    pub fn new(status: u16) -> Resp {
        Resp { status, headers: Vec::new(), body: Vec::new(), declared: None }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Resp {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Resp {
        self.body = body.into();
        self
    }

    pub fn json(self, body: &str) -> Resp {
        self.header("Content-Type", "application/json").body(body.as_bytes().to_vec())
    }

    /// Announces `declared` bytes but sends only the body, then closes the connection.
    pub fn cut(mut self, declared: usize) -> Resp {
        self.declared = Some(declared);
        self
    }
}

type Handler = Arc<dyn Fn(&Req) -> Resp + Send + Sync>;

/// A running fake server; it stops with the test's runtime.
pub struct Server {
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<Req>>>,
}

impl Server {
    /// Starts a server on `ip` (port chosen by the system); `make` gets its base URL (`http://ip:port`) and
    /// returns the handler.
    pub async fn start<H>(ip: &str, make: impl FnOnce(String) -> H) -> Server
    where
        H: Fn(&Req) -> Resp + Send + Sync + 'static,
    {
        let listener = TcpListener::bind((ip, 0)).await.expect("bind a loopback port");
        let addr = listener.local_addr().unwrap();
        let handler: Handler = Arc::new(make(format!("http://{addr}")));
        let log = Arc::new(Mutex::new(Vec::new()));
        let server_log = log.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (handler, log) = (handler.clone(), server_log.clone());
                tokio::spawn(async move {
                    let _ = serve(stream, handler, log).await;
                });
            }
        });
        Server { addr, log }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Req> {
        self.log.lock().unwrap().clone()
    }

    /// The requests for `path` (without query), in order.
    pub fn requests_to(&self, path: &str) -> Vec<Req> {
        self.requests().into_iter().filter(|r| r.path() == path).collect()
    }
}

async fn serve(stream: TcpStream, handler: Handler, log: Arc<Mutex<Vec<Req>>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    let first = reader.fill_buf().await?;
    if first.first().is_none_or(|&b| b == 0x16) {
        return Ok(()); // closed, or a TLS ClientHello: not for a plain HTTP server
    }
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).await? == 0 || h.trim_end().is_empty() {
            break;
        }
        if let Some((k, v)) = h.trim_end().split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let header = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
    let mut body = Vec::new();
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).await?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16).unwrap_or(0);
            if n == 0 {
                let mut end = String::new();
                while reader.read_line(&mut end).await? > 0 && !end.trim_end().is_empty() {
                    end.clear();
                }
                break;
            }
            let start = body.len();
            body.resize(start + n, 0);
            reader.read_exact(&mut body[start..]).await?;
            let mut crlf = String::new();
            reader.read_line(&mut crlf).await?;
        }
    } else if let Some(n) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(n, 0);
        reader.read_exact(&mut body).await?;
    }
    let req = Req { method, target, headers, body };
    let resp = handler(&req);
    let head_only = req.method == "HEAD";
    log.lock().unwrap().push(req);
    let mut out = format!("HTTP/1.1 {} Fake\r\n", resp.status);
    for (k, v) in &resp.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    if !resp.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-length")) {
        out.push_str(&format!("Content-Length: {}\r\n", resp.declared.unwrap_or(resp.body.len())));
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut stream = reader.into_inner();
    stream.write_all(out.as_bytes()).await?;
    if !head_only {
        stream.write_all(&resp.body).await?;
    }
    stream.flush().await?;
    stream.shutdown().await
}
