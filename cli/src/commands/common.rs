//! What the image commands share: registry flags (`--creds`, `--authfile`, `--tls-verify`, `--cert-dir`), the
//! platform flags, the local store, and turning a name the user typed into registry endpoints.

use std::path::PathBuf;
use std::sync::Arc;

use hoist_core::auth::{Auth, AuthFiles};
use hoist_core::config::{Config, ResolutionKind, ShortNameMode};
use hoist_core::image::Platform;
use hoist_core::reference::Reference;
use hoist_core::registry::{Endpoint, TlsOptions};
use hoist_core::store::Store;
use hoist_core::transport::registry::{Creds, RegistrySource};
use hoist_helper_protocol::{Credentials, Secret, tty};

use super::{Context, Result, fail};

/// The flags podman's image commands take for one registry side.
#[derive(clap::Args, Clone, Default)]
pub struct RegistryArgs {
    /// Path of the auth file (default: $REGISTRY_AUTH_FILE, else ${XDG_RUNTIME_DIR}/containers/auth.json)
    #[arg(long)]
    pub authfile: Option<PathBuf>,
    /// Credentials for the registry: USER:PASS, or USER to be asked for the password
    #[arg(long, value_name = "USER[:PASS]")]
    pub creds: Option<String>,
    /// Access the registry anonymously, whatever credentials are stored
    #[arg(long, conflicts_with = "creds")]
    pub no_creds: bool,
    /// Require HTTPS and verify certificates (default: true unless registries.conf marks the registry insecure)
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub tls_verify: Option<bool>,
    /// Directory with CA certificates (*.crt) for the registry
    #[arg(long, value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,
}

impl RegistryArgs {
    pub fn tls(&self) -> TlsOptions {
        TlsOptions { tls_verify: self.tls_verify, cert_dir: self.cert_dir.clone() }
    }

    /// Where this side's credentials come from.
    pub fn creds(&self, config: &Config, ctx: &Context) -> Result<Creds> {
        if self.no_creds {
            return Ok(Creds::Anonymous);
        }
        if let Some(c) = &self.creds {
            return Ok(Creds::Given(parse_creds(c)?));
        }
        let auth = Auth::new(AuthFiles::discover(self.authfile.as_deref()), config).with_observer(ctx.observer());
        Ok(Creds::Lookup(Arc::new(auth)))
    }
}

/// `USER:PASS`, or `USER` with the password asked for on the terminal (as podman does).
pub fn parse_creds(given: &str) -> Result<Credentials> {
    let (user, secret) = match given.split_once(':') {
        Some((u, p)) => (u.to_owned(), Secret::from(p)),
        None if tty::open().is_some() => (given.to_owned(), Secret::from(tty::read_secret("Password: ")?.as_str())),
        None => return fail("--creds USER needs a terminal to ask for the password: give USER:PASS"),
    };
    if user.is_empty() {
        return fail("--creds: the username must not be empty");
    }
    Ok(Credentials { server_url: String::new(), username: user, secret })
}

/// How a copy runs: `--jobs`, `-q`.
#[derive(clap::Args, Clone)]
pub struct CopyFlags {
    /// Blobs to copy at once
    #[arg(long, default_value_t = 6, value_name = "N")]
    pub jobs: usize,
    /// Print no progress (pull still prints the image ID)
    #[arg(short, long)]
    pub quiet: bool,
}

/// podman's platform flags.
#[derive(clap::Args, Clone, Default)]
pub struct PlatformArgs {
    /// Pick this platform from a multi-platform image: OS/ARCH[/VARIANT] (default: this machine's)
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
    /// Override the architecture of the platform to pick
    #[arg(long)]
    pub arch: Option<String>,
    /// Override the OS of the platform to pick
    #[arg(long)]
    pub os: Option<String>,
    /// Override the architecture variant of the platform to pick
    #[arg(long)]
    pub variant: Option<String>,
}

impl PlatformArgs {
    /// The platform asked for; `None` when no flag was given (the host's then applies).
    pub fn platform(&self) -> Result<Option<Platform>> {
        if self.platform.is_none() && self.arch.is_none() && self.os.is_none() && self.variant.is_none() {
            return Ok(None);
        }
        let mut p = match &self.platform {
            Some(s) => Platform::parse(s)?,
            None => Platform::host(),
        };
        if let Some(a) = &self.arch {
            p.architecture = a.clone();
            if self.variant.is_none() {
                p.variant = None;
            }
        }
        if let Some(o) = &self.os {
            p.os = o.clone();
        }
        if let Some(v) = &self.variant {
            p.variant = Some(v.clone());
        }
        Ok(Some(p))
    }
}

/// The local store, opened at its default place (`$HOIST_STORE`, else `$XDG_DATA_HOME/hoist/store`).
pub fn open_store() -> Result<Arc<Store>> {
    Ok(Arc::new(Store::open(Store::default_root()?)?))
}

/// The endpoint to write `reference` to: its registry's primary location, TLS as registries.conf says.
pub fn push_endpoint(config: &Config, reference: &Reference, tls: &TlsOptions) -> Endpoint {
    hoist_core::registry::endpoint::for_push(config, reference, tls)
}

/// Opens the registry source for a name as `podman pull` resolves it: a fully qualified name or an alias is
/// one candidate; a short name is tried against each search registry in order (in enforcing mode an
/// ambiguous name is asked about on a terminal and refused without one). Each candidate's endpoints are
/// its mirrors, then its primary; a blocked registry is never contacted. Returns the candidate reference
/// (what the image is stored as) and the source.
pub async fn resolve_source(
    name: &str,
    config: &Config,
    registry: &RegistryArgs,
    ctx: &Context,
) -> Result<(Reference, RegistrySource)> {
    let name = name.strip_prefix("docker://").unwrap_or(name);
    let resolution = config.resolve(name)?;
    let mut candidates: Vec<Reference> = resolution.candidates.iter().map(|c| c.reference.clone()).collect();
    if resolution.kind == ResolutionKind::Search
        && candidates.len() > 1
        && resolution.short_name_mode != ShortNameMode::Disabled
    {
        match tty::open() {
            Some(_) => candidates = vec![choose(name, &candidates)?],
            None if resolution.short_name_mode == ShortNameMode::Enforcing => {
                let list: Vec<String> = candidates.iter().map(|c| format!("  {c}")).collect();
                return fail(format!(
                    "short-name {name:?} resolves to several images and short-name-mode is enforcing, but there \
                     is no terminal to ask which; use one of:\n{}",
                    list.join("\n")
                ));
            }
            None => {}
        }
    }
    let creds = registry.creds(config, ctx)?;
    let tls = registry.tls();
    let mut errors = Vec::new();
    for candidate in &candidates {
        let targets = hoist_core::registry::endpoint::for_pull(config, candidate, &tls)?;
        ctx.printer.progress_line(&format!("Trying to pull {candidate}..."));
        match RegistrySource::open(candidate, &targets, &creds, &ctx.observer()).await {
            Ok(src) => return Ok((candidate.clone(), src)),
            Err(e) if candidates.len() == 1 => return fail(format!("pulling {candidate}: {e}")),
            Err(e) => errors.push(format!("{candidate}: {e}")),
        }
    }
    fail(format!("pulling {name}: no candidate could be pulled:\n  {}", errors.join("\n  ")))
}

fn choose(name: &str, candidates: &[Reference]) -> Result<Reference> {
    let mut prompt = format!("? Please select an image for {name:?}:\n");
    for (i, c) in candidates.iter().enumerate() {
        prompt.push_str(&format!("  {}. {c}\n", i + 1));
    }
    prompt.push_str("Number: ");
    let answer = tty::read_line(&prompt)?;
    match answer.trim().parse::<usize>() {
        Ok(n) if (1..=candidates.len()).contains(&n) => Ok(candidates[n - 1].clone()),
        _ => fail(format!("no image selected for {name:?}")),
    }
}

/// A name for an image in a registry: `docker://` optional; docker's normalisation; `latest` by default.
pub fn registry_reference(s: &str) -> Result<Reference> {
    let s = s.strip_prefix("docker://").unwrap_or(s);
    Ok(Reference::parse_normalized(s)?.with_default_tag())
}

/// A size as podman prints it (go-units `HumanSizeWithPrecision(n, 3)`): `5.59 MB`, `100 MB`, `512 B`.
pub fn human_size(bytes: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1000.0 && i < units.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    let decimals = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    let mut n = format!("{v:.decimals$}");
    if n.contains('.') {
        n = n.trim_end_matches('0').trim_end_matches('.').to_owned();
    }
    format!("{n} {}", units[i])
}

/// The first 12 hex digits of a digest, as podman shows IDs and blobs.
pub fn short(d: &hoist_core::digest::Digest) -> String {
    d.hex()[..12].to_owned()
}

/// A client for `reference`'s registry at its primary location, with the credentials `registry` says (looked
/// up for that repository by default). For commands that talk to a registry directly (tags, `access`).
pub async fn registry_client(
    config: &Config,
    reference: &Reference,
    registry: &RegistryArgs,
    ctx: &Context,
) -> Result<Arc<hoist_core::registry::RegistryClient>> {
    let endpoint = push_endpoint(config, reference, &registry.tls());
    let creds = registry.creds(config, ctx)?.for_reference(reference).await?;
    Ok(Arc::new(hoist_core::registry::RegistryClient::connect(&endpoint, creds, ctx.observer()).await?))
}
