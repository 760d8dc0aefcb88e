//! A small blocking client of the Docker Engine API, just what the `docker-daemon:` transport needs: where the
//! engine is (`--daemon-host`, else `DOCKER_HOST`, else `unix:///var/run/docker.sock`; `unix://` and `tcp://`,
//! TLS with `DOCKER_TLS_VERIFY` + `DOCKER_CERT_PATH`'s `ca.pem`/`cert.pem`/`key.pem` as the docker CLI reads
//! them), one HTTP/1.1 request per connection, a request body streamed in chunks, an answer's body read as it
//! comes (`Content-Length`, chunked, or to the end of the connection). Untrusted answers are bounded: the
//! head at [`MAX_HEAD`], an error's body at [`MAX_ERROR_BODY`]; connecting times out.
//!
//! What it is not: a general HTTP client (no redirects, no keep-alive, no proxies) or a Docker API binding.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// The engine's socket when neither `--daemon-host` nor `DOCKER_HOST` names one.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";
/// The most bytes an answer's status line and headers may take.
pub const MAX_HEAD: usize = 64 << 10;
/// The most bytes of an error answer's body read (its message).
pub const MAX_ERROR_BODY: u64 = 64 << 10;
/// How long connecting to a `tcp://` engine may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why talking to the engine failed; one line naming the engine's address.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A host that is not `unix://PATH` or `tcp://HOST[:PORT]`.
    #[error("Docker engine host {host:?}: {why}")]
    BadHost { host: String, why: String },
    /// The TLS files of `DOCKER_CERT_PATH` could not be used, or the TLS handshake failed.
    #[error("Docker engine {host}: TLS: {why}")]
    Tls { host: String, why: String },
    /// Connecting failed: the engine is not running, or not there.
    #[error("cannot connect to the Docker engine at {host}: {source} (is the engine running?)")]
    Connect {
        host: String,
        #[source]
        source: io::Error,
    },
    /// Sending the request or reading the answer failed.
    #[error("Docker engine {host}: {what}: {source}")]
    Io {
        host: String,
        what: String,
        #[source]
        source: io::Error,
    },
    /// An answer that is not HTTP as the engine speaks it.
    #[error("Docker engine {host}: {what}: bad answer: {why}")]
    Protocol { host: String, what: String, why: String },
    /// The engine refused, with its status and message.
    #[error("Docker engine {host}: {what}: {message} (HTTP {status})")]
    Api { host: String, what: String, status: u16, message: String },
}

/// Where the engine listens.
#[derive(Clone)]
enum Address {
    Unix(PathBuf),
    Tcp { host: String, port: u16, tls: Option<Arc<rustls::ClientConfig>> },
}

/// An engine to talk to.
#[derive(Clone)]
pub struct Engine {
    address: Address,
    /// How the user names it (`unix:///run/docker.sock`).
    shown: String,
    /// The read/write timeout of a connection (`None`: wait as long as it takes).
    timeout: Option<Duration>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

/// The environment the docker CLI reads, as values (tests give their own).
#[derive(Debug, Clone, Default)]
pub struct EngineEnv {
    pub docker_host: Option<String>,
    pub tls_verify: Option<String>,
    pub cert_path: Option<PathBuf>,
    pub home: Option<PathBuf>,
}

impl EngineEnv {
    /// `DOCKER_HOST`, `DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH` and `HOME` of this process (empty ones unset).
    pub fn from_process() -> EngineEnv {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        EngineEnv {
            docker_host: var("DOCKER_HOST"),
            tls_verify: var("DOCKER_TLS_VERIFY"),
            cert_path: var("DOCKER_CERT_PATH").map(PathBuf::from),
            home: var("HOME").map(PathBuf::from),
        }
    }
}

impl Engine {
    /// The engine `host` names (`--daemon-host`), else `DOCKER_HOST`, else [`DEFAULT_HOST`]. With
    /// `DOCKER_TLS_VERIFY` set, a `tcp://` engine is reached over TLS, verified against `ca.pem` and presenting
    /// `cert.pem`/`key.pem` of `DOCKER_CERT_PATH` (default `~/.docker`), as the docker CLI does.
    pub fn new(host: Option<&str>, env: &EngineEnv, timeout: Option<Duration>) -> Result<Engine, EngineError> {
        let given = host.map(str::to_owned).or_else(|| env.docker_host.clone()).unwrap_or(DEFAULT_HOST.to_owned());
        let bad = |why: &str| EngineError::BadHost { host: given.clone(), why: why.to_owned() };
        let address = if let Some(path) = given.strip_prefix("unix://") {
            if path.is_empty() {
                return Err(bad("no socket path after unix://"));
            }
            Address::Unix(PathBuf::from(path))
        } else if let Some(rest) = given.strip_prefix("tcp://") {
            let rest = rest.trim_end_matches('/');
            let tls = env.tls_verify.is_some();
            let (host, port) = match rest.rsplit_once(':') {
                Some((h, p)) if !h.ends_with(']') || rest.starts_with('[') => {
                    (h, p.parse::<u16>().map_err(|_| bad("the port is not a number"))?)
                }
                _ => (rest, if tls { 2376 } else { 2375 }),
            };
            let host = host.trim_start_matches('[').trim_end_matches(']');
            if host.is_empty() {
                return Err(bad("no host after tcp://"));
            }
            let tls = if tls { Some(tls_config(&given, env)?) } else { None };
            Address::Tcp { host: host.to_owned(), port, tls }
        } else {
            return Err(bad("expected unix://PATH or tcp://HOST:PORT"));
        };
        Ok(Engine { address, shown: given, timeout })
    }

    /// How the user names the engine.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    fn connect(&self) -> Result<Box<dyn Conn>, EngineError> {
        let failed = |source| EngineError::Connect { host: self.shown.clone(), source };
        let conn: Box<dyn Conn> = match &self.address {
            Address::Unix(path) => {
                let s = UnixStream::connect(path).map_err(failed)?;
                s.set_read_timeout(self.timeout).map_err(failed)?;
                s.set_write_timeout(self.timeout).map_err(failed)?;
                Box::new(s)
            }
            Address::Tcp { host, port, tls } => {
                let addrs: Vec<_> = (host.as_str(), *port).to_socket_addrs().map_err(failed)?.collect();
                let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
                let mut stream = None;
                for a in addrs {
                    match TcpStream::connect_timeout(&a, CONNECT_TIMEOUT) {
                        Ok(s) => {
                            stream = Some(s);
                            break;
                        }
                        Err(e) => last = e,
                    }
                }
                let s = stream.ok_or_else(|| failed(last))?;
                s.set_read_timeout(self.timeout).map_err(failed)?;
                s.set_write_timeout(self.timeout).map_err(failed)?;
                let _ = s.set_nodelay(true);
                match tls {
                    None => Box::new(s),
                    Some(config) => {
                        let name = ServerName::try_from(host.clone())
                            .map_err(|e| EngineError::Tls { host: self.shown.clone(), why: format!("{host}: {e}") })?;
                        let c = rustls::ClientConnection::new(config.clone(), name)
                            .map_err(|e| EngineError::Tls { host: self.shown.clone(), why: e.to_string() })?;
                        Box::new(rustls::StreamOwned::new(c, s))
                    }
                }
            }
        };
        Ok(conn)
    }

    fn head(&self, method: &str, path: &str, extra: &str) -> String {
        let host = match &self.address {
            Address::Unix(_) => "docker".to_owned(),
            Address::Tcp { host, port, .. } => format!("{host}:{port}"),
        };
        format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: hoist/{}\r\nConnection: close\r\n{extra}\r\n",
            env!("CARGO_PKG_VERSION")
        )
    }

    /// `GET path`: the answer's body when the engine says 2xx, else its message as [`EngineError::Api`].
    /// `what` names the request in errors (`saving app:1`).
    pub fn get(&self, path: &str, what: &str) -> Result<Response, EngineError> {
        self.send_get(path, what)?.answer()
    }

    /// [`Engine::get`] in two steps: the request is sent now, its answer read by [`Sent::answer`] — the
    /// caller works while the engine prepares it (a `docker save` makes its whole archive before its first
    /// byte).
    pub fn send_get(&self, path: &str, what: &str) -> Result<Sent, EngineError> {
        let mut conn = self.connect()?;
        let head = self.head("GET", path, "");
        conn.write_all(head.as_bytes()).and_then(|_| conn.flush()).map_err(|e| self.io(what, e))?;
        Ok(Sent { conn, engine: self.clone(), what: what.to_owned() })
    }

    /// `POST path` with a body written through the returned [`Upload`] (chunked), whose
    /// [`Upload::finish`] gives the answer. Dropping an `Upload` before its finish closes the connection
    /// mid-body: the engine sees a truncated request and keeps nothing of it.
    pub fn post_stream(&self, path: &str, content_type: &str, what: &str) -> Result<Upload, EngineError> {
        let mut conn = self.connect()?;
        let head = self.head("POST", path, &format!("Content-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n"));
        conn.write_all(head.as_bytes()).map_err(|e| self.io(what, e))?;
        Ok(Upload { conn: Some(conn), engine: self.clone(), what: what.to_owned() })
    }

    fn io(&self, what: &str, source: io::Error) -> EngineError {
        match tls_failure(&source) {
            Some(why) => EngineError::Tls { host: self.shown.clone(), why },
            None => EngineError::Io { host: self.shown.clone(), what: what.to_owned(), source },
        }
    }

    fn protocol(&self, what: &str, why: String) -> EngineError {
        EngineError::Protocol { host: self.shown.clone(), what: what.to_owned(), why }
    }

    /// Reads the answer's head; a non-2xx answer becomes [`EngineError::Api`] with the engine's message.
    fn response(&self, conn: Box<dyn Conn>, what: &str) -> Result<Response, EngineError> {
        let mut r = BufReader::with_capacity(64 << 10, conn);
        let mut head = Vec::new();
        loop {
            let before = head.len();
            let n = (&mut r)
                .take((MAX_HEAD - head.len()) as u64)
                .read_until(b'\n', &mut head)
                .map_err(|e| self.io(what, e))?;
            if n == 0 {
                return Err(if head.is_empty() {
                    self.protocol(what, "the engine closed the connection without answering".into())
                } else {
                    self.protocol(what, "the answer ends inside its headers".into())
                });
            }
            if head[before..] == *b"\r\n" || head[before..] == *b"\n" {
                break;
            }
            if head.len() >= MAX_HEAD {
                return Err(self.protocol(what, format!("headers longer than {MAX_HEAD} bytes")));
            }
        }
        let text = String::from_utf8_lossy(&head);
        let mut lines = text.lines();
        let status_line = lines.next().unwrap_or_default();
        let status: u16 = status_line
            .strip_prefix("HTTP/1.")
            .and_then(|s| s.get(2..5))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| self.protocol(what, format!("not an HTTP status line: {:?}", clip(status_line))))?;
        let mut length = None;
        let mut chunked = false;
        for line in lines {
            let Some((k, v)) = line.split_once(':') else { continue };
            let v = v.trim();
            if k.eq_ignore_ascii_case("content-length") {
                length = Some(v.parse::<u64>().map_err(|_| self.protocol(what, format!("Content-Length {v:?}")))?);
            } else if k.eq_ignore_ascii_case("transfer-encoding") {
                chunked = v.eq_ignore_ascii_case("chunked");
                if !chunked {
                    return Err(self.protocol(what, format!("Transfer-Encoding {:?}", clip(v))));
                }
            }
        }
        let body: Box<dyn Read + Send> = if chunked {
            Box::new(Chunked { inner: r, left: 0, done: false, started: false })
        } else if let Some(n) = length {
            Box::new(Exact { inner: r.take(n), expected: n })
        } else {
            Box::new(r)
        };
        let response = Response { body, shown: self.shown.clone(), what: what.to_owned() };
        if (200..300).contains(&status) {
            return Ok(response);
        }
        let mut raw = Vec::new();
        let _ = response.body.take(MAX_ERROR_BODY).read_to_end(&mut raw);
        let message = serde_json::from_slice::<serde_json::Value>(&raw)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
            .unwrap_or_else(|| clip(String::from_utf8_lossy(&raw).trim()).to_owned());
        let mut message = message;
        if status == 400 && message.contains("HTTPS server") && matches!(&self.address, Address::Tcp { tls: None, .. })
        {
            message.push_str(" (the engine speaks TLS: set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH)");
        }
        Err(EngineError::Api { host: self.shown.clone(), what: what.to_owned(), status, message })
    }
}

/// An engine's whole answer (head and body) given as bytes, read as [`Engine::get`] reads one from a socket:
/// its body (at most `limit` bytes), or the error. The fuzz target `daemon_answer` drives it.
pub fn read_answer(raw: Vec<u8>, limit: u64) -> Result<Vec<u8>, EngineError> {
    let engine = Engine { address: Address::Unix(PathBuf::from("/")), shown: "unix:///".into(), timeout: None };
    let answer = engine.response(Box::new(Replay(io::Cursor::new(raw))), "reading an answer")?;
    let mut body = Vec::new();
    answer.into_reader().take(limit).read_to_end(&mut body).map_err(|e| engine.io("reading an answer", e))?;
    Ok(body)
}

/// Bytes read as if from a connection; what is written is dropped.
struct Replay(io::Cursor<Vec<u8>>);

impl Read for Replay {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Replay {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// At most 200 characters of a text quoted in an error.
fn clip(s: &str) -> &str {
    match s.char_indices().nth(200) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The TLS client setup the docker CLI makes with `DOCKER_TLS_VERIFY`: roots from `ca.pem`, the client identity
/// `cert.pem` + `key.pem`, all in `DOCKER_CERT_PATH` (default `~/.docker`).
fn tls_config(host: &str, env: &EngineEnv) -> Result<Arc<rustls::ClientConfig>, EngineError> {
    let fail = |why: String| EngineError::Tls { host: host.to_owned(), why };
    let dir = match (&env.cert_path, &env.home) {
        (Some(p), _) => p.clone(),
        (None, Some(home)) => home.join(".docker"),
        (None, None) => return Err(fail("DOCKER_TLS_VERIFY is set but neither DOCKER_CERT_PATH nor HOME".into())),
    };
    let read = |name: &str| -> Result<Vec<u8>, EngineError> {
        let p: PathBuf = dir.join(name);
        read_capped(&p).map_err(|e| fail(format!("{}: {e}", p.display())))
    };
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(&read("ca.pem")?) {
        let c = c.map_err(|e| fail(format!("{}: {e}", dir.join("ca.pem").display())))?;
        roots.add(c).map_err(|e| fail(format!("{}: {e}", dir.join("ca.pem").display())))?;
    }
    if roots.is_empty() {
        return Err(fail(format!("{}: holds no certificate", dir.join("ca.pem").display())));
    }
    // As the docker CLI: with neither cert.pem nor key.pem there, no client certificate is presented (an engine
    // run with --tlsverify then refuses); with only one of them, the pair is incomplete.
    let (cert_p, key_p) = (dir.join("cert.pem"), dir.join("key.pem"));
    let identity = match (cert_p.exists(), key_p.exists()) {
        (false, false) => None,
        _ => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&read("cert.pem")?)
                .collect::<Result<_, _>>()
                .map_err(|e| fail(format!("{}: {e}", cert_p.display())))?;
            let key = PrivateKeyDer::from_pem_slice(&read("key.pem")?)
                .map_err(|e| fail(format!("{}: {e}", key_p.display())))?;
            Some((chain, key))
        }
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(e.to_string()))?
        .with_root_certificates(roots);
    let config = match identity {
        Some((chain, key)) => {
            builder.with_client_auth_cert(chain, key).map_err(|e| fail(format!("client certificate: {e}")))?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// When `e` is a failed TLS handshake: why, in the user's terms (which file of `DOCKER_CERT_PATH` to look at).
fn tls_failure(e: &io::Error) -> Option<String> {
    let tls = e.get_ref()?.downcast_ref::<rustls::Error>()?;
    let hint = match tls {
        rustls::Error::InvalidCertificate(_) => {
            "the engine's certificate is not one DOCKER_CERT_PATH's ca.pem vouches for (wrong CA, or not for this host)"
        }
        rustls::Error::AlertReceived(
            rustls::AlertDescription::BadCertificate
            | rustls::AlertDescription::CertificateRequired
            | rustls::AlertDescription::UnknownCA
            | rustls::AlertDescription::CertificateUnknown
            | rustls::AlertDescription::UnsupportedCertificate
            | rustls::AlertDescription::AccessDenied,
        ) => {
            "the engine refused this client: it wants a client certificate its CA signed \
             (cert.pem and key.pem in DOCKER_CERT_PATH)"
        }
        _ => "the TLS handshake failed",
    };
    Some(format!("{hint}: {tls}"))
}

/// A PEM file, at most 1 MiB.
fn read_capped(p: &Path) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    std::fs::File::open(p)?.take(1 << 20).read_to_end(&mut out)?;
    Ok(out)
}

/// A connection: a Unix or TCP socket, or TLS over TCP.
trait Conn: Read + Write + Send {}
impl<T: Read + Write + Send> Conn for T {}

/// An answer's body, read as it arrives; a body shorter than it said is an error, not an end.
pub struct Response {
    body: Box<dyn Read + Send>,
    shown: String,
    what: String,
}

impl Response {
    /// The body as a reader (errors name the engine and the request).
    pub fn into_reader(self) -> Box<dyn Read + Send> {
        let (shown, what) = (self.shown, self.what);
        Box::new(Named { inner: self.body, context: format!("Docker engine {shown}: {what}") })
    }
}

/// Gives errors of a reader the request's context.
struct Named {
    inner: Box<dyn Read + Send>,
    context: String,
}

impl Read for Named {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.context)))
    }
}

/// A body of a known length: ending before it is an error.
struct Exact<R> {
    inner: io::Take<R>,
    expected: u64,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() && self.inner.limit() > 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the answer ended {} bytes short of its {} bytes", self.inner.limit(), self.expected),
            ));
        }
        Ok(n)
    }
}

/// A chunked body: ending before its last chunk is an error.
struct Chunked<R> {
    inner: R,
    left: u64,
    done: bool,
    started: bool,
}

impl<R: BufRead> Chunked<R> {
    fn line(&mut self) -> io::Result<String> {
        let mut line = Vec::new();
        (&mut self.inner).take(1024).read_until(b'\n', &mut line)?;
        if !line.ends_with(b"\n") {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the answer ended inside a chunk header"));
        }
        Ok(String::from_utf8_lossy(&line).trim().to_owned())
    }
}

impl<R: BufRead> Read for Chunked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            if self.started {
                let end = self.line()?;
                if !end.is_empty() {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "a chunk longer than it said"));
                }
            }
            self.started = true;
            let header = self.line()?;
            let size = header.split(';').next().unwrap_or_default().trim();
            self.left = u64::from_str_radix(size, 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("bad chunk size {:?}", clip(size))))?;
            if self.left == 0 {
                self.done = true;
                return Ok(0);
            }
        }
        let want = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the answer ended inside a chunk"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// A request sent, its answer not read yet ([`Engine::send_get`]). Dropped, it closes the connection.
pub struct Sent {
    conn: Box<dyn Conn>,
    engine: Engine,
    what: String,
}

impl Sent {
    /// Reads the answer, as [`Engine::get`] does.
    pub fn answer(self) -> Result<Response, EngineError> {
        self.engine.response(self.conn, &self.what)
    }
}

/// A request body being sent in chunks; [`Upload::finish`] ends it and reads the answer.
pub struct Upload {
    conn: Option<Box<dyn Conn>>,
    engine: Engine,
    what: String,
}

impl Write for Upload {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let conn = self.conn.as_mut().ok_or_else(|| io::Error::other("the request was already sent"))?;
        let sent = conn
            .write_all(format!("{:x}\r\n", buf.len()).as_bytes())
            .and_then(|_| conn.write_all(buf))
            .and_then(|_| conn.write_all(b"\r\n"));
        sent.map_err(|e| match tls_failure(&e) {
            Some(why) => {
                io::Error::new(e.kind(), EngineError::Tls { host: self.engine.shown.clone(), why }.to_string())
            }
            None => e,
        })?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.conn.as_mut() {
            Some(c) => c.flush(),
            None => Ok(()),
        }
    }
}

impl Upload {
    /// Ends the body and reads the answer (as [`Engine::get`]'s). When sending failed because the engine
    /// answered early (an error, or a TLS alert), that answer is what is returned.
    pub fn finish(mut self) -> Result<Response, EngineError> {
        let mut conn = self.conn.take().ok_or_else(|| self.engine.protocol(&self.what, "sent twice".into()))?;
        let sent = conn.write_all(b"0\r\n\r\n").and_then(|_| conn.flush());
        match (sent, self.engine.response(conn, &self.what)) {
            (_, Err(e @ (EngineError::Api { .. } | EngineError::Tls { .. }))) => Err(e),
            (Err(e), _) => Err(self.engine.io(&self.what, e)),
            (Ok(()), answer) => answer,
        }
    }

    /// After a failed write: the engine's own answer, if it sent one (an error it gave before reading all, or
    /// a TLS alert refusing this client).
    pub fn answer_after_failure(mut self) -> Option<EngineError> {
        let conn = self.conn.take()?;
        match self.engine.response(conn, &self.what) {
            Err(e @ (EngineError::Api { .. } | EngineError::Tls { .. })) => Some(e),
            // A TLS engine that hung up without a word: under TLS 1.3 it refuses a client's certificate only
            // after the handshake, and its alert is lost when it resets the connection we were still writing to.
            Err(e) => match &self.engine.address {
                Address::Tcp { tls: Some(config), .. } => {
                    let ours = if config.client_auth_cert_resolver.has_certs() {
                        "the engine may refuse this client's certificate (cert.pem and key.pem in DOCKER_CERT_PATH)"
                    } else {
                        "no client certificate was given (DOCKER_CERT_PATH holds no cert.pem and key.pem) and the \
                         engine may require one"
                    };
                    let seen = match e {
                        EngineError::Io { source, .. } => source.to_string(),
                        e => e.to_string(),
                    };
                    let why = format!("the engine closed the connection before answering: {ours} ({seen})");
                    Some(EngineError::Tls { host: self.engine.shown.clone(), why })
                }
                _ => None,
            },
            Ok(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_as_the_docker_cli_reads_them() {
        let env = EngineEnv::default();
        assert_eq!(Engine::new(None, &env, None).unwrap().shown(), DEFAULT_HOST);
        let env = EngineEnv { docker_host: Some("unix:///x/d.sock".into()), ..EngineEnv::default() };
        assert_eq!(Engine::new(None, &env, None).unwrap().shown(), "unix:///x/d.sock");
        assert_eq!(Engine::new(Some("tcp://h:1"), &env, None).unwrap().shown(), "tcp://h:1");
        let Address::Tcp { port, .. } = Engine::new(Some("tcp://h"), &env, None).unwrap().address else { panic!() };
        assert_eq!(port, 2375);
        for bad in ["ssh://h", "unix://", "tcp://", "tcp://h:x", "/var/run/docker.sock"] {
            let e = Engine::new(Some(bad), &env, None).unwrap_err();
            assert!(matches!(e, EngineError::BadHost { .. }), "{bad}: {e}");
        }
        let tls = EngineEnv { tls_verify: Some("1".into()), cert_path: Some("/nonexistent".into()), ..env };
        let e = Engine::new(Some("tcp://h"), &tls, None).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
    }

    #[test]
    fn answers_are_read_within_their_bounds() {
        let body = read_answer(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef".to_vec(), 100).unwrap();
        assert_eq!(body, b"abc");
        let e = read_answer(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 34\r\n\r\n{\"message\":\"No such image: a:1\"}".to_vec(),
            100,
        )
        .unwrap_err();
        assert!(matches!(&e, EngineError::Api { status: 404, message, .. } if message == "No such image: a:1"), "{e}");
        let mut huge = b"HTTP/1.1 200 OK\r\n".to_vec();
        huge.extend(std::iter::repeat_n(b"X-A: b\r\n".iter().copied(), MAX_HEAD / 8 + 1).flatten());
        let e = read_answer(huge, 100).unwrap_err();
        assert!(e.to_string().contains("headers longer than"), "{e}");
        assert!(read_answer(b"SSH-2.0-OpenSSH\r\n\r\n".to_vec(), 100).is_err());
        assert!(read_answer(Vec::new(), 100).unwrap_err().to_string().contains("without answering"));
    }

    #[test]
    fn chunked_bodies_end_only_at_their_last_chunk() {
        let read = |raw: &[u8]| {
            let mut out = Vec::new();
            Chunked { inner: raw, left: 0, done: false, started: false }.read_to_end(&mut out).map(|_| out)
        };
        assert_eq!(read(b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n").unwrap(), b"abcde");
        assert!(read(b"3\r\nabc\r\n").is_err(), "no last chunk");
        assert!(read(b"5\r\nabc").is_err(), "cut inside a chunk");
        assert!(read(b"zz\r\n").is_err());
        let mut out = Vec::new();
        let e = Exact { inner: (&b"abc"[..]).take(5), expected: 5 }.read_to_end(&mut out).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    }
}
