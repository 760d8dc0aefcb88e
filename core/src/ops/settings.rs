//! [`Settings`]: the one explicit value every library operation takes — how long to wait for a registry, TLS
//! and credentials, where registries.conf and the store are, the platform, how many blobs at once, and who
//! hears about it (the [`Observer`](crate::observe::Observer)). The CLI builds it once, from its flags and the
//! environment ([`Settings::from_env`] is the one place the library reads `HOIST_TIMEOUT`, `HOIST_STORE` and
//! registries.conf's variables); a library user builds it by hand.
//!
//! It also answers "how do I reach this image?": [`Settings::pull_targets`] (mirrors then primary, each with
//! its own TLS), [`Settings::push_endpoint`], [`Settings::creds`] (looked up per endpoint), and the registry
//! sources, destinations and clients built from them — so no caller chooses endpoints itself.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use hoist_helper_protocol::Credentials;

use super::Error;
use crate::auth::{Auth, AuthFiles};
use crate::build::{BuildFormat, UnknownBuildFormat};
use crate::config::{Config, ConfigError, Paths};
use crate::image::Platform;
use crate::observe::{self, SharedObserver};
use crate::reference::Reference;
use crate::registry::{self, Endpoint, RegistryClient, RegistryError, Target, TlsOptions};
use crate::store::{Store, StoreError};
use crate::transport::registry::{Creds, RegistryDestination, RegistrySource};
use crate::trust::policy::Policy;
use crate::trust::storage::SignatureStorage;
use crate::trust::{Signer, TrustError};

/// Where a registry side's credentials come from.
#[derive(Clone, Debug, Default)]
pub enum CredentialSource {
    /// Looked up per endpoint in the auth files (this one first, when given: `--authfile`) and the
    /// credential helpers, in containers-auth.json(5) order.
    #[default]
    Lookup,
    /// Looked up as [`CredentialSource::Lookup`], in this auth file instead of the default ones.
    AuthFile(PathBuf),
    /// These credentials for every endpoint (`--creds USER:PASS`).
    Given(Credentials),
    /// None: anonymous access (`--no-creds`).
    Anonymous,
}

/// How to talk to registries: TLS choices and where credentials come from.
#[derive(Clone, Debug, Default)]
pub struct RegistryAccess {
    /// `--tls-verify` (overrides registries.conf's `insecure` when given) and `--cert-dir`.
    pub tls: TlsOptions,
    pub credentials: CredentialSource,
}

/// Asks a person which of several candidates a short name means (podman asks on a terminal).
pub trait Prompt: Send + Sync {
    /// The candidate chosen for `name`; an error when none was.
    fn choose(&self, name: &str, candidates: &[Reference]) -> Result<Reference, PromptError>;
}

/// Why a [`Prompt`] chose no candidate.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// The answer could not be read (the terminal went away).
    #[error(transparent)]
    Read(#[from] std::io::Error),
    /// The answer named none of the candidates.
    #[error("no image selected for {name:?}")]
    NoneSelected { name: String },
}

/// The variable reproducible builds set: seconds since the epoch for every timestamp a build writes.
pub const SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH";

/// podman's variable for `build --format`'s default (`oci` or `docker`).
pub const BUILDAH_FORMAT: &str = "BUILDAH_FORMAT";

/// A `SOURCE_DATE_EPOCH` that is not a number of seconds (`value`: as the environment gave it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SOURCE_DATE_EPOCH={value:?} is not a number of seconds")]
pub struct BadSourceDateEpoch {
    pub value: String,
}

/// `SOURCE_DATE_EPOCH` from its value in the environment: unset, empty (or blank) or not UTF-8 is none;
/// surrounding blanks are ignored; anything else than a number of seconds is refused.
pub fn source_date_epoch(value: Option<&std::ffi::OsStr>) -> Result<Option<i64>, BadSourceDateEpoch> {
    match value.and_then(std::ffi::OsStr::to_str) {
        Some(s) if !s.trim().is_empty() => {
            s.trim().parse().map(Some).map_err(|_| BadSourceDateEpoch { value: s.to_owned() })
        }
        _ => Ok(None),
    }
}

/// Everything a library operation needs to know that is not its arguments. See the module's doc.
#[derive(Clone)]
pub struct Settings {
    /// How long to wait for a registry to connect, to answer, and between reads; `None`: for ever.
    pub timeout: Option<Duration>,
    pub registry: RegistryAccess,
    /// Where registries.conf and its drop-ins are.
    pub registries_conf: Paths,
    /// The local store's directory; `None` when there is none to use (no `$HOIST_STORE`, no home).
    pub store_root: Option<PathBuf>,
    /// The platform to pick from a multi-platform image; `None`: the host's.
    pub platform: Option<Platform>,
    /// Blobs to copy at once.
    pub jobs: usize,
    /// Who hears debug lines, warnings and progress lines.
    pub observer: SharedObserver,
    /// Who is asked when a short name is ambiguous; `None`: nobody (no terminal).
    pub prompt: Option<Arc<dyn Prompt>>,
    /// `SOURCE_DATE_EPOCH` as read when the settings were made: a build's timestamp when none is given. A
    /// bad value is kept as its error, refused only by a build that needs it ([`Settings::build_timestamp`]).
    pub source_date_epoch: Result<Option<i64>, BadSourceDateEpoch>,
    /// `BUILDAH_FORMAT` as read when the settings were made: a build's format when `--format` is not given
    /// ([`Settings::build_format`]).
    pub buildah_format: Option<std::ffi::OsString>,
    /// `--signature-policy`: the trust policy file; `None`: `$HOME/.config/containers/policy.json`, else
    /// `/etc/containers/policy.json` (containers-policy.json(5)).
    pub signature_policy: Option<PathBuf>,
    /// `--insecure-policy`: accept every image without reading a policy (skopeo's flag).
    pub insecure_policy: bool,
    /// `--registries.d`: where signature storage is configured; `None`:
    /// `$HOME/.config/containers/registries.d`, else `/etc/containers/registries.d`.
    pub registries_d: Option<PathBuf>,
    /// Each signs every manifest a push, copy or promote writes (`--sign-by`, `--sign-by-sigstore-private-key`).
    pub signers: Vec<Arc<dyn Signer>>,
    /// `--sign-identity`: the reference new signatures name; `None`: the destination's.
    pub sign_identity: Option<Reference>,
    /// `--remove-signatures`: the source's signatures are not copied.
    pub remove_signatures: bool,
    /// `--format oci|v2s2`: the manifest format a push or copy writes; `None`: as the source has it.
    pub format: Option<crate::image::convert::ManifestFormat>,
    /// `--compression-format`/`--dest-compress-format` (with the level and `--force-compression`): the
    /// compression a push or copy writes layers in; `None`: as the source has them.
    pub compression: Option<crate::archive::recompress::Recompression>,
    /// registries.conf, read once on first use.
    config: OnceLock<Arc<Config>>,
    /// The trust policy, read once on first use.
    policy: OnceLock<Arc<Policy>>,
}

impl Settings {
    /// Settings with hoist's defaults (30 s timeout, registries.conf, the store, `SOURCE_DATE_EPOCH` and
    /// `BUILDAH_FORMAT` as the environment says) and nobody listening. Reads the environment; see [`Settings::from_env`].
    pub fn new() -> Settings {
        Settings {
            timeout: Some(registry::tls::DEFAULT_READ_TIMEOUT),
            registry: RegistryAccess::default(),
            registries_conf: Paths::from_env(),
            store_root: Store::default_root().ok(),
            platform: None,
            jobs: 6,
            observer: observe::silent(),
            prompt: None,
            source_date_epoch: source_date_epoch(std::env::var_os(SOURCE_DATE_EPOCH).as_deref()),
            buildah_format: std::env::var_os(BUILDAH_FORMAT),
            signature_policy: None,
            insecure_policy: false,
            registries_d: None,
            signers: Vec::new(),
            sign_identity: None,
            remove_signatures: false,
            format: None,
            compression: None,
            config: OnceLock::new(),
            policy: OnceLock::new(),
        }
    }

    /// Settings from the environment: `HOIST_TIMEOUT` (seconds; `0`: for ever; refused when not a number),
    /// `CONTAINERS_REGISTRIES_CONF`/`_DIR` and `$HOME`'s registries.conf, the store at `$HOIST_STORE`
    /// (else `$XDG_DATA_HOME/hoist/store`), `SOURCE_DATE_EPOCH` and `BUILDAH_FORMAT`. With [`Settings::new`] (which reads all
    /// but `HOIST_TIMEOUT`), the one place the library reads these variables.
    pub fn from_env() -> Result<Settings, RegistryError> {
        let timeout = registry::tls::read_timeout(std::env::var_os(registry::tls::TIMEOUT_ENV).as_deref())?;
        Ok(Settings { timeout, ..Settings::new() })
    }

    /// These settings with `--timeout SECONDS` (`0`: for ever; at most a day).
    pub fn with_timeout_secs(mut self, secs: u64) -> Settings {
        self.timeout = registry::tls::timeout_from_secs(secs);
        self
    }

    /// A build's timestamp (seconds since the epoch for every created time and file mtime): `given`
    /// (`--timestamp`) when there is one, else `SOURCE_DATE_EPOCH`, else none (now). A bad
    /// `SOURCE_DATE_EPOCH` is refused only here, when nothing was given.
    pub fn build_timestamp(&self, given: Option<i64>) -> Result<Option<i64>, BadSourceDateEpoch> {
        match given {
            Some(t) => Ok(Some(t)),
            None => self.source_date_epoch.clone(),
        }
    }

    /// A build's format: `given` (`--format`) when there is one, else `BUILDAH_FORMAT` when it is set and not
    /// empty (podman's rule), else hoist's default ([`BuildFormat::Oci`]). A bad `BUILDAH_FORMAT` is refused
    /// only here, when nothing was given.
    pub fn build_format(&self, given: Option<&str>) -> Result<BuildFormat, UnknownBuildFormat> {
        match (given, self.buildah_format.as_deref().filter(|v| !v.is_empty())) {
            (Some(g), _) => g.parse(),
            (None, Some(v)) => v
                .to_str()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| UnknownBuildFormat { given: v.to_string_lossy().into_owned(), from_env: true }),
            (None, None) => Ok(BuildFormat::Oci),
        }
    }

    /// These settings with another way to reach registries (one side of a copy, a command's flags).
    pub fn with_registry(mut self, registry: RegistryAccess) -> Settings {
        self.registry = registry;
        self
    }

    /// These settings copying `jobs` blobs at once.
    pub fn with_jobs(mut self, jobs: usize) -> Settings {
        self.jobs = jobs;
        self
    }

    /// These settings picking `platform` from multi-platform images (`None`: the host's).
    pub fn with_platform(mut self, platform: Option<Platform>) -> Settings {
        self.platform = platform;
        self
    }

    /// registries.conf, read on first use; its warnings go to the observer once.
    pub fn config(&self) -> Result<Arc<Config>, ConfigError> {
        if let Some(c) = self.config.get() {
            return Ok(c.clone());
        }
        let config = Config::load(&self.registries_conf)?;
        for w in &config.warnings {
            self.observer.warning(w);
        }
        Ok(self.config.get_or_init(|| Arc::new(config)).clone())
    }

    /// The trust policy every image entering through these settings must satisfy: `--insecure-policy`
    /// accepts anything (nothing read); else the file `signature_policy` names, else the default locations
    /// (containers-policy.json(5)). Read once; an unreadable or invalid policy is an error, never an accept.
    pub fn policy(&self) -> Result<Arc<Policy>, TrustError> {
        if let Some(p) = self.policy.get() {
            return Ok(p.clone());
        }
        let policy = if self.insecure_policy {
            Policy::insecure_accept_anything()
        } else {
            Policy::load(self.signature_policy.as_deref())?
        };
        Ok(self.policy.get_or_init(|| Arc::new(policy)).clone())
    }

    /// The local store.
    pub fn store(&self) -> Result<Arc<Store>, StoreError> {
        self.store_opener()()
    }

    /// [`Settings::store`] to call later, on another thread (a copy out of a Docker engine opens the store
    /// while the engine makes its archive).
    pub fn store_opener(&self) -> crate::transport::docker_daemon::StoreOpener {
        let root = self.store_root.clone();
        Box::new(move || {
            let root = match root {
                Some(r) => r,
                None => Store::default_root()?,
            };
            Ok(Arc::new(Store::open(root)?))
        })
    }

    /// Where this side's credentials come from, for [`RegistrySource`] and [`RegistryDestination`].
    pub fn creds(&self) -> Result<Creds, Error> {
        let file = match &self.registry.credentials {
            CredentialSource::Anonymous => return Ok(Creds::Anonymous),
            CredentialSource::Given(c) => return Ok(Creds::Given(c.clone())),
            CredentialSource::Lookup => None,
            CredentialSource::AuthFile(p) => Some(p.as_path()),
        };
        let auth = Auth::new(AuthFiles::discover(file), &*self.config()?).with_observer(self.observer.clone());
        Ok(Creds::Lookup(Arc::new(auth)))
    }

    /// Where to pull `reference` from, in order: its usable mirrors, then its primary location, each with
    /// its own TLS and this timeout; a blocked registry is refused.
    pub fn pull_targets(&self, reference: &Reference) -> Result<Vec<Target>, Error> {
        let mut targets = registry::endpoint::for_pull(&*self.config()?, reference, &self.registry.tls)?;
        for t in &mut targets {
            t.endpoint.timeout = self.timeout;
        }
        Ok(targets)
    }

    /// The endpoint to write `reference` to: its registry's primary location (mirrors are for pulls).
    pub fn push_endpoint(&self, reference: &Reference) -> Result<Endpoint, Error> {
        let mut e = registry::endpoint::for_push(&*self.config()?, reference, &self.registry.tls);
        e.timeout = self.timeout;
        Ok(e)
    }

    /// The endpoint for a login key (`host[:port][/namespace]`); refused when registries.conf blocks it.
    pub fn login_endpoint(&self, key: &str) -> Result<Endpoint, Error> {
        let mut e = registry::endpoint::for_login(&*self.config()?, key, &self.registry.tls)?;
        e.timeout = self.timeout;
        Ok(e)
    }

    /// `reference` in its registry, read from the first of [`Settings::pull_targets`] that serves it.
    pub async fn registry_source(&self, reference: &Reference) -> Result<RegistrySource, Error> {
        let targets = self.pull_targets(reference)?;
        let source = RegistrySource::open(reference, &targets, &self.creds()?, &self.observer).await?;
        let storage = self.signature_storage(source.served_by())?;
        Ok(source.with_signature_storage(storage))
    }

    /// `reference` in its registry as a place to write, at [`Settings::push_endpoint`].
    pub async fn registry_destination(&self, reference: &Reference) -> Result<RegistryDestination, Error> {
        let endpoint = self.push_endpoint(reference)?;
        let storage = self.signature_storage(reference)?;
        let destination =
            RegistryDestination::open(&endpoint, reference.clone(), &self.creds()?, &self.observer).await?;
        Ok(destination.with_signature_storage(storage))
    }

    /// Where `reference`'s signatures are read and written: registries.d (`--registries.d`, else the default
    /// directories) read now, as containers/image reads it for every registry image it opens; lookaside
    /// servers wait at most the timeout.
    pub fn signature_storage(&self, reference: &Reference) -> Result<SignatureStorage, Error> {
        SignatureStorage::for_reference(self.registries_d.as_deref(), reference, self.timeout)
            .map_err(|e| Error::Transport(crate::trust::TrustError::from(e).into()))
    }

    /// A client for `reference`'s registry at its primary location, with the credentials for that
    /// repository. For talking to a registry directly (tags, manifests by digest, `access`).
    pub async fn registry_client(&self, reference: &Reference) -> Result<Arc<RegistryClient>, Error> {
        let endpoint = self.push_endpoint(reference)?;
        let creds = self.creds()?.for_reference(reference).await?;
        Ok(Arc::new(RegistryClient::connect(&endpoint, creds, self.observer.clone()).await?))
    }

    /// The tags of `repository` at its primary location, every page read (`page_size`: asked per page).
    pub async fn list_tags(&self, repository: &Reference, page_size: Option<usize>) -> Result<Vec<String>, Error> {
        let targets = self.pull_targets(repository)?;
        Ok(RegistrySource::list_tags(repository, &targets, &self.creds()?, &self.observer, page_size).await?)
    }

    /// The copy engine's options for these settings: `all` platforms or the one asked for, the trust policy
    /// ([`Settings::policy`]), the signers, `--sign-identity` and `--remove-signatures`.
    pub fn copy_options(&self, all: bool) -> Result<crate::copy::Options, TrustError> {
        Ok(crate::copy::Options {
            jobs: self.jobs,
            platform: self.platform.clone(),
            all,
            policy: Some(self.policy()?),
            signers: self.signers.clone(),
            sign_identity: self.sign_identity.clone(),
            remove_signatures: self.remove_signatures,
            format: self.format,
            compression: self.compression,
            observer: self.observer.clone(),
        })
    }
}

impl Default for Settings {
    fn default() -> Settings {
        Settings::new()
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("timeout", &self.timeout)
            .field("registry", &self.registry)
            .field("registries_conf", &self.registries_conf)
            .field("store_root", &self.store_root)
            .field("platform", &self.platform)
            .field("jobs", &self.jobs)
            .field("source_date_epoch", &self.source_date_epoch)
            .field("buildah_format", &self.buildah_format)
            .field("signature_policy", &self.signature_policy)
            .field("insecure_policy", &self.insecure_policy)
            .field("registries_d", &self.registries_d)
            .field("signers", &self.signers.iter().map(|s| s.describe()).collect::<Vec<_>>())
            .field("sign_identity", &self.sign_identity)
            .field("remove_signatures", &self.remove_signatures)
            .finish_non_exhaustive()
    }
}

/// Keeps [`RegistryError`] for callers that match it.
impl From<RegistryError> for Error {
    fn from(e: RegistryError) -> Error {
        Error::Transport(e.into())
    }
}
