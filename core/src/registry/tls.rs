//! The HTTP client for one registry: TLS roots from `--cert-dir` and the containers/docker `certs.d`
//! directories, verification switched off only for insecure registries or `--tls-verify=false`.
//!
//! A certificate directory holds, as containers-certs.d(5) describes: `*.crt` — CA certificates to trust;
//! `NAME.cert` with `NAME.key` — a client certificate and its key, presented to registries that ask for one.
//! A `.cert` without its `.key` (or the reverse) is an error naming both files, as in podman.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::{Endpoint, RegistryError};

/// The environment variable that sets the read timeout, in whole seconds (`0`: none).
pub const TIMEOUT_ENV: &str = "HOIST_TIMEOUT";

/// The read timeout when [`TIMEOUT_ENV`] is not set.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest timeout: larger values (up to `u64::MAX` seconds, or more digits than that) are taken as this
/// one, since deadlines are instants (`now + u64::MAX s` overflows and panics).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// The HTTP client for `endpoint`.
///
/// Timeouts, all one setting — the endpoint's [`Endpoint::timeout`] (30 s by default; `hoist --timeout` or
/// `HOIST_TIMEOUT`, read once into `ops::Settings`; `None` waits for ever; at most a day, [`MAX_TIMEOUT`]):
/// connecting; receiving an answer's headers ([`headers_within`], so a server that drips them a byte at a
/// time still ends); and each read of a body that stays silent, which the retry layer may try again (a blob
/// read resumes where it stopped). It bounds waiting, not the length of a transfer: a large blob that keeps
/// arriving never times out.
///
/// Redirects (up to 10) are followed, never from HTTPS to plain HTTP (`origin::redirect_policy`); reqwest
/// drops `Authorization` whenever a redirect leads to another host, port or scheme, so a blob served from
/// object storage or a CDN never sees the registry's credentials.
pub fn build_client(endpoint: &Endpoint) -> Result<reqwest::Client, RegistryError> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("hoist/", env!("CARGO_PKG_VERSION")))
        .redirect(super::origin::redirect_policy());
    if let Some(t) = endpoint.timeout {
        builder = builder.connect_timeout(t).read_timeout(t);
    }
    let identity = client_identity(&endpoint.cert_dirs)?;
    let roots = if endpoint.tls_verify { extra_roots(&endpoint.cert_dirs)? } else { Vec::new() };
    builder = builder.use_preconfigured_tls(tls_config(&roots, identity, endpoint.tls_verify)?);
    builder.build().map_err(|e| RegistryError::Config(format!("cannot build the HTTP client: {e}")))
}

/// Waits for a sent request's response headers at most `timeout` (`None`: for ever): a server that accepts a
/// request but withholds or drips its answer fails with [`RegistryError::Timeout`] (per-read timeouts alone
/// never fire on a byte every few seconds). The inner result is reqwest's own.
pub async fn headers_within(
    timeout: Option<Duration>,
    sending: impl std::future::Future<Output = Result<reqwest::Response, reqwest::Error>>,
    context: impl FnOnce() -> String,
) -> Result<Result<reqwest::Response, reqwest::Error>, RegistryError> {
    match timeout {
        Some(after) => {
            tokio::time::timeout(after, sending).await.map_err(|_| RegistryError::Timeout { context: context(), after })
        }
        None => Ok(sending.await),
    }
}

/// The error for a request that got no answer: reqwest's own timeouts (connect, read) become
/// [`RegistryError::Timeout`] like [`headers_within`]'s, anything else a retryable transport error.
pub fn send_failed(timeout: Option<Duration>, context: String, e: &reqwest::Error) -> RegistryError {
    if e.is_timeout() {
        let after = timeout.unwrap_or(DEFAULT_READ_TIMEOUT);
        return RegistryError::Timeout { context, after };
    }
    if answered_plain_http(e) {
        return RegistryError::PlainHttp { context };
    }
    if e.is_redirect() {
        // A refused redirect (a loop, a downgrade to plain HTTP) is the same on every try.
        return RegistryError::Protocol(format!("{context}: {}", super::error::error_chain(e)));
    }
    RegistryError::transport(context, e)
}

/// True when the TLS handshake failed because the server's first bytes were not a TLS record at all: the
/// server speaks plain HTTP (rustls reads `HTTP/1.1 400 ...` as a record of an invalid content type). rustls's
/// error sits inside an `io::Error`, whose `source()` skips it, so each link is looked into.
pub(crate) fn answered_plain_http(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        // An io::Error may hold another (tokio-rustls wraps rustls's in two); at most a few levels deep.
        let mut inner = err;
        for _ in 0..4 {
            match inner.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
                Some(e) => inner = e,
                None => break,
            }
        }
        if matches!(
            inner.downcast_ref::<rustls::Error>(),
            Some(rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType))
        ) {
            return true;
        }
        cur = err.source();
    }
    false
}

/// The timeout for a number of seconds (`--timeout`): `0` is none; at most [`MAX_TIMEOUT`].
pub fn timeout_from_secs(secs: u64) -> Option<Duration> {
    (secs != 0).then(|| Duration::from_secs(secs).min(MAX_TIMEOUT))
}

/// The read timeout for a `HOIST_TIMEOUT` value (unset: the default; `0`: none; at most [`MAX_TIMEOUT`]).
pub fn read_timeout(value: Option<&std::ffi::OsStr>) -> Result<Option<Duration>, RegistryError> {
    let Some(value) = value else { return Ok(Some(DEFAULT_READ_TIMEOUT)) };
    let secs = value.to_str().map(str::trim).filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()));
    // Too many digits for a u64 is still a number of seconds: the longest timeout.
    match secs.map(|v| v.parse::<u64>().unwrap_or(u64::MAX)) {
        Some(secs) => Ok(timeout_from_secs(secs)),
        None => {
            Err(RegistryError::Config(format!("{TIMEOUT_ENV}={}: not a number of seconds", value.to_string_lossy())))
        }
    }
}

/// The certificates in `*.crt` files of the certificate directories.
fn extra_roots(dirs: &[PathBuf]) -> Result<Vec<CertificateDer<'static>>, RegistryError> {
    let mut roots = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        let mut files: Vec<PathBuf> =
            entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "crt")).collect();
        files.sort();
        for f in files {
            let pem =
                std::fs::read(&f).map_err(|e| RegistryError::Config(format!("{}: cannot read: {e}", f.display())))?;
            let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<_, _>>()
                .map_err(|e| RegistryError::Config(format!("{}: not a PEM certificate: {e}", f.display())))?;
            if certs.is_empty() {
                return Err(RegistryError::Config(format!("{}: holds no PEM certificate", f.display())));
            }
            roots.extend(certs);
        }
    }
    Ok(roots)
}

/// A client certificate chain and its key.
type Identity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// The first `NAME.cert` + `NAME.key` pair of the certificate directories (in order, files sorted by name).
fn client_identity(dirs: &[PathBuf]) -> Result<Option<Identity>, RegistryError> {
    let config = |m: String| RegistryError::Config(m);
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files.iter().filter(|p| p.extension().is_some_and(|x| x == "key")) {
            let cert = f.with_extension("cert");
            if !cert.exists() {
                return Err(config(format!("missing client certificate {} for key {}", cert.display(), f.display())));
            }
        }
        let Some(cert) = files.iter().find(|p| p.extension().is_some_and(|x| x == "cert")) else { continue };
        let key = cert.with_extension("key");
        if !key.exists() {
            return Err(config(format!(
                "missing key {} for client certificate {}. Note that CA certificates should use the extension .crt",
                key.display(),
                cert.display()
            )));
        }
        let read = |p: &PathBuf| std::fs::read(p).map_err(|e| config(format!("{}: cannot read: {e}", p.display())));
        let chain: Vec<_> = CertificateDer::pem_slice_iter(&read(cert)?)
            .collect::<Result<_, _>>()
            .map_err(|e| config(format!("{}: not a PEM certificate: {e}", cert.display())))?;
        if chain.is_empty() {
            return Err(config(format!("{}: holds no PEM certificate", cert.display())));
        }
        let key_der = PrivateKeyDer::from_pem_slice(&read(&key)?)
            .map_err(|e| config(format!("{}: not a PEM private key: {e}", key.display())))?;
        return Ok(Some((chain, key_der)));
    }
    Ok(None)
}

/// The TLS setup for one endpoint. Verifying: the system's roots plus `extra`, checked by the platform
/// verifier; and, as Go's crypto/x509 (and so podman and skopeo) allows, a self-signed certificate that is
/// itself listed in a certificate directory is trusted as the server's certificate even though it is marked
/// as a CA (OpenSSL 3's `req -x509` does that). Not verifying (`insecure`, `--tls-verify=false`): any server
/// certificate is accepted, though the handshake's signatures are still checked. A client identity from
/// the certificate directories is presented either way.
fn tls_config(
    extra: &[CertificateDer<'static>],
    identity: Option<Identity>,
    verify: bool,
) -> Result<rustls::ClientConfig, RegistryError> {
    let provider = crypto_provider();
    let verifier = PinnedOrPlatform {
        platform: platform_verifier(extra),
        pinned: extra.to_vec(),
        provider: provider.clone(),
        verify,
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| RegistryError::Config(format!("TLS setup: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier));
    let mut config = match identity {
        Some((chain, key)) => builder.with_client_auth_cert(chain, key).map_err(|e| {
            let hint = if format!("{e:?}").contains("UnsupportedCertVersion") {
                " (an X.509 v1 certificate: reissue it as v3, e.g. `openssl x509 -req ... -extfile` with extensions)"
            } else {
                ""
            };
            RegistryError::Config(format!("client certificate: {e}{hint}"))
        })?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The crypto provider every client shares (made once per process).
fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    static PROVIDER: OnceLock<Arc<rustls::crypto::CryptoProvider>> = OnceLock::new();
    PROVIDER.get_or_init(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider())).clone()
}

/// How many sets of extra roots keep their platform verifier for the process ([`platform_verifier`]).
const MAX_SHARED_VERIFIERS: usize = 16;

/// The platform verifier for the system's roots plus `extra`, shared by every client with the same extra roots
/// (up to [`MAX_SHARED_VERIFIERS`] sets): the system's certificates (a file and a directory of ~150 each) are
/// read once per process, and only when a server certificate is first checked — never for a registry reached
/// over plain HTTP or without verification.
fn platform_verifier(extra: &[CertificateDer<'static>]) -> Arc<LazyPlatform> {
    static SHARED: Mutex<Vec<Arc<LazyPlatform>>> = Mutex::new(Vec::new());
    let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(v) = shared.iter().find(|v| v.extra == extra) {
        return v.clone();
    }
    let v = Arc::new(LazyPlatform { extra: extra.to_vec(), made: OnceLock::new() });
    if shared.len() < MAX_SHARED_VERIFIERS {
        shared.push(v.clone());
    }
    v
}

/// rustls-platform-verifier's verifier, made on first use (it reads the system's roots when made).
#[derive(Debug)]
struct LazyPlatform {
    extra: Vec<CertificateDer<'static>>,
    /// The verifier, or why the system's certificates could not be loaded.
    made: OnceLock<Result<Arc<rustls_platform_verifier::Verifier>, String>>,
}

impl LazyPlatform {
    fn get(&self) -> Result<&rustls_platform_verifier::Verifier, rustls::Error> {
        let made = self.made.get_or_init(|| {
            rustls_platform_verifier::Verifier::new_with_extra_roots(self.extra.iter().cloned(), crypto_provider())
                .map(Arc::new)
                .map_err(|e| e.to_string())
        });
        match made {
            Ok(v) => Ok(v),
            Err(e) => Err(rustls::Error::General(format!("cannot load the system's certificates: {e}"))),
        }
    }
}

#[derive(Debug)]
struct PinnedOrPlatform {
    platform: Arc<LazyPlatform>,
    pinned: Vec<CertificateDer<'static>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
    /// False for insecure endpoints: any certificate is accepted.
    verify: bool,
}

impl ServerCertVerifier for PinnedOrPlatform {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if !self.verify {
            return Ok(ServerCertVerified::assertion());
        }
        match self.platform.get()?.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Ok(v) => Ok(v),
            Err(e) if self.pinned.iter().any(|p| p.as_ref() == end_entity.as_ref()) => {
                let _ = e; // the exact certificate was trusted explicitly
                Ok(ServerCertVerified::assertion())
            }
            Err(e) => Err(e),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_timeout_from_the_environment_value() {
        assert_eq!(read_timeout(None).unwrap(), Some(DEFAULT_READ_TIMEOUT));
        assert_eq!(read_timeout(Some("120".as_ref())).unwrap(), Some(Duration::from_secs(120)));
        assert_eq!(read_timeout(Some("0".as_ref())).unwrap(), None);
        assert_eq!(read_timeout(Some("000".as_ref())).unwrap(), None);
        // Huge values are the longest timeout, not an overflow.
        assert_eq!(read_timeout(Some("86400".as_ref())).unwrap(), Some(MAX_TIMEOUT));
        assert_eq!(read_timeout(Some("18446744073709551615".as_ref())).unwrap(), Some(MAX_TIMEOUT));
        assert_eq!(read_timeout(Some("99999999999999999999999999".as_ref())).unwrap(), Some(MAX_TIMEOUT));
        assert!(read_timeout(Some("-1".as_ref())).is_err());
        assert!(read_timeout(Some("".as_ref())).is_err());
        let e = read_timeout(Some("soon".as_ref())).unwrap_err();
        assert_eq!(e.to_string(), "HOIST_TIMEOUT=soon: not a number of seconds");
    }
}
