//! `hoist login [REGISTRY]`: verify the credentials against the registry, then store them where podman would
//! (`--get-login` prints the stored username instead).

use std::path::PathBuf;

use hoist_core::auth::{self, Auth, AuthFiles};
use hoist_core::registry::{RegistryClient, TlsOptions};
use hoist_helper_protocol::{Credentials, Secret, tty};

use super::{Invocation, Result, fail};

#[derive(clap::Args)]
pub struct Args {
    /// Registry (host[:port]) or repository namespace; default: the first unqualified-search registry
    registry: Option<String>,
    /// Username (asked for on a terminal when missing)
    #[arg(short, long)]
    username: Option<String>,
    /// Password (visible to other users in `ps`: prefer --password-stdin)
    #[arg(short, long)]
    password: Option<String>,
    /// Read the password from standard input
    #[arg(long)]
    password_stdin: bool,
    /// Path of the auth file (default: $REGISTRY_AUTH_FILE, else ${XDG_RUNTIME_DIR}/containers/auth.json)
    #[arg(long)]
    authfile: Option<PathBuf>,
    /// Print the username stored for the registry and exit
    #[arg(long)]
    get_login: bool,
    /// Require HTTPS and verify certificates (default: true unless registries.conf marks the registry insecure)
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    tls_verify: Option<bool>,
    /// Directory with CA certificates (*.crt) for the registry
    #[arg(long)]
    cert_dir: Option<PathBuf>,
    /// Say which files and helpers are consulted and which requests are made (never secrets)
    #[arg(short, long)]
    pub verbose: bool,
}

pub fn run(a: Args, ctx: &Invocation) -> Result<()> {
    let config = ctx.load_config()?;
    let auth = Auth::new(AuthFiles::discover(a.authfile.as_deref()), &config).with_observer(ctx.observer());
    let key = auth::login_key(a.registry.as_deref(), &config, "log in to")?;
    ctx.printer.debug(&format!("credential sources: {}", auth.helpers.join(", ")));
    for p in &auth.files.paths {
        ctx.printer.debug(&format!("auth file: {}", p.path.display()));
    }
    if a.get_login {
        let Some(found) = auth.lookup(&key)? else { return fail(format!("not logged into {key}")) };
        ctx.printer.line(&found.creds.username)?;
        ctx.printer.debug(&format!("found in {}", found.location));
        return Ok(());
    }
    let tls = TlsOptions { tls_verify: a.tls_verify, cert_dir: a.cert_dir };
    let settings = ctx.settings.clone().with_registry(hoist_core::ops::RegistryAccess { tls, ..Default::default() });
    let endpoint = settings.login_endpoint(&key)?;
    let creds = Credentials {
        server_url: endpoint.host.clone(),
        username: username(a.username, a.password_stdin, a.password.is_some())?,
        secret: password(a.password, a.password_stdin, ctx)?,
    };
    let verified = ctx.runtime.block_on(async {
        let client = RegistryClient::connect(&endpoint, Some(creds.clone()), ctx.observer()).await?;
        client.check_auth().await
    });
    if let Err(e) = verified {
        return fail(format!("logging into {key:?}: {e}"));
    }
    let location = auth.store(&key, &creds)?;
    ctx.printer.debug(&format!("stored in {location}"));
    ctx.printer.line("Login Succeeded!")?;
    Ok(())
}

fn username(given: Option<String>, password_stdin: bool, password_given: bool) -> Result<String> {
    if password_given && password_stdin {
        return fail("--password and --password-stdin are mutually exclusive");
    }
    if password_stdin && given.is_none() {
        return fail("--password-stdin requires --username");
    }
    let username = match given {
        Some(u) => u,
        None if tty::open().is_some() => tty::read_line("Username: ")?,
        None => return fail("cannot prompt for a username without a terminal: use --username and --password-stdin"),
    };
    if username.is_empty() {
        return fail("the username must not be empty");
    }
    Ok(username)
}

fn password(given: Option<String>, from_stdin: bool, ctx: &Invocation) -> Result<Secret> {
    let password = if let Some(p) = given {
        ctx.printer.notice("WARNING! Using --password via the command line is insecure: use --password-stdin.");
        Secret::new(p)
    } else if from_stdin {
        let mut raw = zeroize::Zeroizing::new(String::new());
        std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut raw)?;
        Secret::from(raw.trim_end_matches(['\n', '\r']))
    } else if tty::open().is_some() {
        Secret::from(tty::read_secret("Password: ")?.as_str())
    } else {
        return fail("cannot prompt for a password without a terminal: use --password-stdin");
    };
    if password.is_empty() {
        return fail("the password must not be empty");
    }
    Ok(password)
}
