//! The `hoist` command line: clap definitions and dispatch. Each command reads top to bottom — parse flags,
//! call the library, report — and owns no logic the library should have.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use crate::auth::{self, Auth, AuthFiles};
use crate::config::{Config, Paths};
use crate::registry::{Endpoint, RegistryClient};
use hoist_helper_protocol::{Credentials, Secret, tty};

/// hoist: a daemonless image tool with podman's image commands, registries.conf and auth.json semantics.
#[derive(Parser)]
#[command(name = "hoist", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Log in to a registry: verify the credentials, then store them where podman would
    Login(LoginArgs),
    /// Log out of a registry (or of all with --all), removing credentials from auth files and helpers
    Logout {
        /// Registry (host[:port]) or repository namespace; default: the first unqualified-search registry
        registry: Option<String>,
        /// Path of the auth file (default: $REGISTRY_AUTH_FILE, else ${XDG_RUNTIME_DIR}/containers/auth.json)
        #[arg(long)]
        authfile: Option<PathBuf>,
        /// Remove the credentials of every registry
        #[arg(short, long)]
        all: bool,
    },
    /// Inspect and move stored credentials
    #[command(subcommand)]
    Creds(CredsCommand),
    /// Show how an image name resolves: candidates in order, the registry entry, mirrors, insecure/blocked
    Resolve {
        /// Image name, short (alpine) or fully qualified (quay.io/org/app:tag)
        name: String,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completion { shell: clap_complete::Shell },
    /// Write man pages for hoist and every subcommand into DIR
    #[command(hide = true, name = "generate-man")]
    GenerateMan { dir: PathBuf },
}

#[derive(clap::Args)]
struct LoginArgs {
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
    verbose: bool,
}

#[derive(Subcommand)]
enum CredsCommand {
    /// Move credentials into a credential helper, verifying each before the old copy is removed
    Migrate {
        /// The helper to move to: file, keyring, vault (or any docker-credential-NAME)
        #[arg(long)]
        to: String,
        /// Only from this source: a helper name, an auth file path, or `auth-file` for every auth file
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        authfile: Option<PathBuf>,
        /// Only these registries (default: all)
        registries: Vec<String>,
    },
    /// List every registry with a stored credential, its user, and where it lives (never a secret)
    List {
        #[arg(long)]
        authfile: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`hoist ... | head`): stop quietly, as a program killed by SIGPIPE would.
        Err(e) if e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) => {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::from(125)
        }
    }
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn load_config() -> Result<Config> {
    let config = Config::load(&Paths::from_env())?;
    for w in &config.warnings {
        eprintln!("Warning: {w}");
    }
    Ok(config)
}

fn run(command: Command) -> Result<()> {
    match command {
        Command::Login(args) => login(args),
        Command::Logout { registry, authfile, all } => logout(registry, authfile, all),
        Command::Creds(CredsCommand::List { authfile, format }) => creds_list(authfile, format),
        Command::Creds(CredsCommand::Migrate { to, from, authfile, registries }) => {
            creds_migrate(&to, from.as_deref(), authfile, &registries)
        }
        Command::Resolve { name, format } => resolve(&name, format),
        Command::Completion { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "hoist", &mut script);
            std::io::stdout().lock().write_all(&script)?;
            Ok(())
        }
        Command::GenerateMan { dir } => generate_man(&dir),
    }
}

fn resolve(name: &str, format: Format) -> Result<()> {
    let config = load_config()?;
    let r = config.resolve(name)?;
    let mut out = std::io::stdout().lock();
    if format == Format::Json {
        serde_json::to_writer_pretty(&mut out, &r)?;
        writeln!(out)?;
        return Ok(());
    }
    let how = match r.kind {
        "qualified" => "fully qualified name".to_owned(),
        "alias" => format!("alias from {}", r.origin.as_ref().map(|p| p.display().to_string()).unwrap_or_default()),
        _ => format!(
            "short name, unqualified-search-registries from {}",
            r.origin.as_ref().map(|p| p.display().to_string()).unwrap_or_default()
        ),
    };
    writeln!(out, "{name}: {how}")?;
    if r.kind == "search" && r.candidates.len() > 1 {
        let mode = match r.short_name_mode {
            crate::config::ShortNameMode::Enforcing => {
                "enforcing: podman asks which one on a terminal and fails without one"
            }
            crate::config::ShortNameMode::Permissive => {
                "permissive: podman asks on a terminal, else tries them in order"
            }
            crate::config::ShortNameMode::Disabled => "disabled: tried in order",
        };
        writeln!(out, "short-name-mode: {mode}")?;
    }
    for (i, c) in r.candidates.iter().enumerate() {
        writeln!(out, "{}. {}", i + 1, c.reference)?;
        match (&c.registry_prefix, &c.registry_origin) {
            (Some(prefix), Some(origin)) => {
                writeln!(out, "   registry entry: prefix {prefix:?} ({})", origin.display())?
            }
            _ => writeln!(out, "   registry entry: none (defaults: TLS, not blocked)")?,
        }
        if c.blocked {
            writeln!(out, "   BLOCKED: pulls from this registry are refused")?;
            continue;
        }
        for s in &c.sources {
            let what = if s.mirror { "mirror" } else { "primary" };
            let insecure = if s.insecure { ", insecure (TLS not verified, HTTP allowed)" } else { "" };
            writeln!(out, "   {what}: {}{insecure}", s.reference)?;
        }
    }
    Ok(())
}

fn generate_man(dir: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let cmd = Cli::command();
    write_man(&cmd, "hoist", dir)?;
    Ok(())
}

fn write_man(cmd: &clap::Command, name: &str, dir: &std::path::Path) -> Result<()> {
    let cmd = cmd.clone().name(name.to_owned());
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut buf)?;
    std::fs::write(dir.join(format!("{name}.1")), buf)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_man(sub, &format!("{name}-{}", sub.get_name()), dir)?;
    }
    Ok(())
}

/// An error message alone, printed as `Error: ...`.
#[derive(Debug)]
struct Msg(String);
impl std::fmt::Display for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Msg {}

fn fail<T>(m: impl Into<String>) -> Result<T> {
    Err(Box::new(Msg(m.into())))
}

/// `https://quay.io/` → `quay.io`, as podman accepts URLs for login and logout.
fn registry_key(arg: Option<String>, config: &Config, verb: &str) -> Result<String> {
    let key = match arg {
        Some(a) => a,
        None => match config.unqualified_search_registries.first() {
            Some(r) => r.clone(),
            None => {
                return fail(format!(
                    "please specify a registry to {verb} (no unqualified-search-registries are configured)"
                ));
            }
        },
    };
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(&key)
        .trim_end_matches('/')
        .to_owned();
    let key = if key == "index.docker.io" || key == "registry-1.docker.io" { "docker.io".to_owned() } else { key };
    auth::validate_key(&key)?;
    Ok(key)
}

fn login(a: LoginArgs) -> Result<()> {
    let config = load_config()?;
    let auth = Auth::new(AuthFiles::discover(a.authfile.as_deref()), &config);
    let key = registry_key(a.registry, &config, "log in to")?;
    let host = auth::registry_of(&key).to_owned();
    if a.verbose {
        eprintln!("hoist: credential sources: {}", auth.helpers.join(", "));
        for p in &auth.files.paths {
            eprintln!("hoist: auth file: {}", p.path.display());
        }
    }
    if a.get_login {
        return match auth.lookup(&key)? {
            Some(found) => {
                println!("{}", found.creds.username);
                if a.verbose {
                    eprintln!("hoist: found in {}", found.location);
                }
                Ok(())
            }
            None => fail(format!("not logged into {key}")),
        };
    }
    if let Some(reg) = config.find_registry(&key).filter(|r| r.blocked) {
        return fail(format!("registry {host} is blocked in {} (prefix {:?})", reg.origin.display(), reg.prefix));
    }
    if a.password.is_some() && a.password_stdin {
        return fail("--password and --password-stdin are mutually exclusive");
    }
    if a.password_stdin && a.username.is_none() {
        return fail("--password-stdin requires --username");
    }
    let username = match a.username {
        Some(u) => u,
        None => match tty::open() {
            Some(_) => tty::read_line("Username: ")?,
            None => {
                return fail("cannot prompt for a username without a terminal: use --username and --password-stdin");
            }
        },
    };
    if username.is_empty() {
        return fail("the username must not be empty");
    }
    let password: Secret = if let Some(p) = a.password {
        eprintln!("WARNING! Using --password via the command line is insecure: use --password-stdin.");
        Secret::new(p)
    } else if a.password_stdin {
        let mut raw = zeroize::Zeroizing::new(String::new());
        std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut raw)?;
        Secret::from(raw.trim_end_matches(['\n', '\r']))
    } else {
        match tty::open() {
            Some(_) => Secret::from(tty::read_secret("Password: ")?.as_str()),
            None => return fail("cannot prompt for a password without a terminal: use --password-stdin"),
        }
    };
    if password.is_empty() {
        return fail("the password must not be empty");
    }
    let creds = Credentials { server_url: host.clone(), username, secret: password };
    let insecure = config.find_registry(&key).is_some_and(|r| r.insecure);
    let tls_verify = a.tls_verify.unwrap_or(!insecure);
    let endpoint = Endpoint {
        host: host.clone(),
        tls_verify,
        allow_http: !tls_verify,
        cert_dirs: Endpoint::default_cert_dirs(&host, a.cert_dir.as_deref()),
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let verified = rt.block_on(async {
        let client = RegistryClient::connect(&endpoint, Some(creds.clone()), a.verbose).await?;
        client.check_auth().await
    });
    if let Err(e) = verified {
        return fail(format!("logging into {key:?}: {e}"));
    }
    let location = auth.store(&key, &creds)?;
    if a.verbose {
        eprintln!("hoist: stored in {location}");
    }
    println!("Login Succeeded!");
    Ok(())
}

fn logout(registry: Option<String>, authfile: Option<PathBuf>, all: bool) -> Result<()> {
    let config = load_config()?;
    let auth = Auth::new(AuthFiles::discover(authfile.as_deref()), &config);
    if all {
        if registry.is_some() {
            return fail("--all takes no registry");
        }
        auth.erase_all()?;
        println!("Removed login credentials for all registries");
        return Ok(());
    }
    let key = registry_key(registry, &config, "log out of")?;
    auth.erase(&key)?;
    println!("Removed login credentials for {key}");
    Ok(())
}

fn creds_list(authfile: Option<PathBuf>, format: Format) -> Result<()> {
    let config = load_config()?;
    let auth = Auth::new(AuthFiles::discover(authfile.as_deref()), &config);
    let entries = auth.list()?;
    let mut out = std::io::stdout().lock();
    if format == Format::Json {
        serde_json::to_writer_pretty(&mut out, &entries)?;
        writeln!(out)?;
        return Ok(());
    }
    let width = entries.iter().map(|e| e.registry.len()).max().unwrap_or(8).max(8);
    let uwidth = entries.iter().map(|e| e.username.len()).max().unwrap_or(8).max(8);
    writeln!(out, "{:<width$}  {:<uwidth$}  LOCATION", "REGISTRY", "USERNAME")?;
    for e in entries {
        writeln!(out, "{:<width$}  {:<uwidth$}  {}", e.registry, e.username, e.location)?;
    }
    Ok(())
}

fn creds_migrate(to: &str, from: Option<&str>, authfile: Option<PathBuf>, registries: &[String]) -> Result<()> {
    let config = load_config()?;
    let auth = Auth::new(AuthFiles::discover(authfile.as_deref()), &config);
    let (moved, skipped) = auth.migrate(to, from, registries)?;
    for m in &moved {
        println!("moved {} ({}) from {} to docker-credential-{}", m.registry, m.username, m.from, m.to);
    }
    for s in &skipped {
        eprintln!("Warning: skipped {s}");
    }
    if moved.is_empty() && skipped.is_empty() {
        println!("nothing to move");
    }
    Ok(())
}
