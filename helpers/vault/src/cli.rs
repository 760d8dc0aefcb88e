//! The vault's own commands beyond the protocol verbs: init, unlock, lock, status, rekey, export, import.
//! Their errors go to stderr (they are run by people, not by docker), one line, exit 1.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use hoist_fs::auth_json::{AuthFile, AuthFileError};
use hoist_fs::credentials::CredentialFile;
use hoist_fs::{LockNotice, PrivateFile};
use hoist_helper_protocol::{Credentials, Error};
use zeroize::Zeroizing;

use crate::agent;
use crate::format::{Header, KdfParams, Key};
use crate::passphrase::{self, Purpose};
use crate::vault::{Contents, KeyFrom, Vault};

/// Management commands of docker-credential-vault (the protocol verbs store/get/erase/list/version are
/// handled by the helper protocol, see `docker-credential-vault --help`).
#[derive(Parser)]
#[command(name = "docker-credential-vault", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create an empty vault, asking for a new passphrase (twice on a terminal)
    Init {
        #[command(flatten)]
        kdf: KdfArgs,
    },
    /// Derive the key once and keep it in a private agent until --timeout or `lock`
    Unlock {
        /// How long the session lasts: 90s, 15m, 2h, 1h30m, or seconds
        #[arg(long, default_value = "15m", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// Forget the key: end the unlocked session
    Lock,
    /// Show the vault's path, KDF parameters and whether it is unlocked
    Status {
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// Re-encrypt under a new passphrase and/or stronger KDF parameters (asks for the current passphrase)
    Rekey {
        #[command(flatten)]
        kdf: KdfArgs,
        /// Keep the passphrase; change only the KDF parameters (and the salt)
        #[arg(long)]
        keep_passphrase: bool,
    },
    /// Copy every credential out, for migration (asks for the passphrase again; the output is 0600)
    Export {
        /// file: docker-credential-file's JSON store; auth-json: containers-auth.json(5)
        #[arg(long, value_enum)]
        to: Kind,
        /// Where to write (merged into an existing file of that kind)
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Copy credentials in from docker-credential-file's store or an auth.json
    Import {
        #[arg(long, value_enum)]
        from: Kind,
        path: PathBuf,
    },
    #[command(name = "__agent", hide = true)]
    Agent {
        #[arg(long)]
        socket: PathBuf,
        #[arg(long)]
        ttl: u64,
    },
}

#[derive(Args)]
struct KdfArgs {
    /// argon2id memory in KiB [default: 65536 on init, unchanged on rekey]
    #[arg(long)]
    kdf_memory: Option<u32>,
    /// argon2id iterations [default: 3 on init, unchanged on rekey]
    #[arg(long)]
    kdf_iterations: Option<u32>,
    /// argon2id lanes [default: 1 on init, unchanged on rekey]
    #[arg(long)]
    kdf_parallelism: Option<u32>,
}

impl KdfArgs {
    fn over(&self, base: KdfParams) -> KdfParams {
        KdfParams {
            memory_kib: self.kdf_memory.unwrap_or(base.memory_kib),
            iterations: self.kdf_iterations.unwrap_or(base.iterations),
            parallelism: self.kdf_parallelism.unwrap_or(base.parallelism),
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum OutputFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    File,
    AuthJson,
}

/// Whether `verb` is one of the management commands (as opposed to a protocol verb).
pub fn is_command(verb: &str) -> bool {
    matches!(verb, "init" | "unlock" | "lock" | "status" | "rekey" | "export" | "import" | "__agent")
}

/// The helper's line for a wait on a lock (its vault's, or a file it exports to), on stderr.
pub fn lock_notice() -> LockNotice {
    LockNotice::new(|line| eprintln!("docker-credential-vault: {line}"))
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("docker-credential-vault: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cmd: Cmd) -> Result<(), Error> {
    match cmd {
        Cmd::Agent { socket, ttl } => run_agent(&socket, ttl),
        cmd => {
            let vault = Vault::from_env()?.with_lock_notice(lock_notice());
            match cmd {
                Cmd::Init { kdf } => init(&vault, kdf.over(KdfParams::default())),
                Cmd::Unlock { timeout } => unlock(&vault, timeout),
                Cmd::Lock => {
                    let socket = agent::socket_path(vault.path())?;
                    println!("{}", if agent::lock(&socket) { "vault locked" } else { "vault was not unlocked" });
                    Ok(())
                }
                Cmd::Status { format } => status(&vault, format),
                Cmd::Rekey { kdf, keep_passphrase } => rekey(&vault, &kdf, keep_passphrase),
                Cmd::Export { to, output } => export(&vault, to, &output),
                Cmd::Import { from, path } => import(&vault, from, &path),
                Cmd::Agent { .. } => unreachable!("handled above"),
            }
        }
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration like 90s, 15m, 2h or 1h30m");
    let mut total: u64 = 0;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().map_err(|_| bad())?;
        num.clear();
        total += n * match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            _ => return Err(bad()),
        };
    }
    if !num.is_empty() {
        total += num.parse::<u64>().map_err(|_| bad())?;
    }
    if total == 0 || total > 30 * 86400 {
        return Err(format!("{s:?}: the timeout must be between 1 second and 30 days"));
    }
    Ok(Duration::from_secs(total))
}

fn init(vault: &Vault, kdf: KdfParams) -> Result<(), Error> {
    kdf.check().map_err(backend)?;
    if vault.exists() {
        return Err(vault.fail("already exists; use `rekey` to change its passphrase"));
    }
    let pass = passphrase::obtain(Purpose::New { rekey: false })?;
    let header = Header::new(kdf).map_err(backend)?;
    let key = header.derive_key(pass.as_bytes()).map_err(backend)?;
    let lock = vault.lock()?;
    if vault.exists() {
        return Err(vault.fail("already exists"));
    }
    vault.write(&lock, &header, &key, &Contents::default())?;
    println!(
        "created {} (argon2id m={} KiB t={} p={})",
        vault.path().display(),
        kdf.memory_kib,
        kdf.iterations,
        kdf.parallelism
    );
    Ok(())
}

fn unlock(vault: &Vault, ttl: Duration) -> Result<(), Error> {
    let raw =
        vault.read_raw()?.ok_or_else(|| vault.fail("does not exist; create it with `docker-credential-vault init`"))?;
    let header = vault.header_of(&raw)?;
    let key = vault.key_for(&header, KeyFrom::Passphrase)?;
    vault.decrypt(&raw, &key)?; // proves the passphrase before anything is kept
    let socket = agent::socket_path(vault.path())?;
    agent::lock(&socket);
    start_agent(&socket, &header.fingerprint(), &key, ttl)?;
    println!("vault unlocked for {} ({})", human(ttl.as_secs()), vault.path().display());
    Ok(())
}

/// Starts `docker-credential-vault __agent` in its own session and hands it the key over a pipe.
fn start_agent(socket: &Path, fingerprint: &str, key: &Key, ttl: Duration) -> Result<(), Error> {
    let exe = std::env::current_exe().map_err(|e| Error::backend(format!("cannot find this program: {e}")))?;
    let mut cmd = Command::new(exe);
    cmd.arg("__agent")
        .arg("--socket")
        .arg(socket)
        .arg("--ttl")
        .arg(ttl.as_secs().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    // SAFETY: setsid is async-signal-safe; it detaches the agent from our terminal and process group.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| Error::backend(format!("cannot start the agent: {e}")))?;
    let handoff = Zeroizing::new(format!("{fingerprint}\n{}\n", hex::encode(key.as_bytes())));
    let mut stdin = child.stdin.take().expect("piped");
    stdin
        .write_all(handoff.as_bytes())
        .map_err(|e| Error::backend(format!("cannot hand the key to the agent: {e}")))?;
    drop(stdin);
    let mut line = String::new();
    let _ = BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line);
    if line.trim() != "ready" {
        let _ = child.kill();
        let _ = child.wait();
        return Err(Error::backend(format!("the agent did not start (socket {})", socket.display())));
    }
    // The agent lives on in its own session; it is reaped by init when it exits.
    Ok(())
}

fn run_agent(socket: &Path, ttl: u64) -> Result<(), Error> {
    agent::make_undumpable();
    let mut input = Zeroizing::new(String::new());
    std::io::stdin().take(1024).read_to_string(&mut input).map_err(|e| Error::backend(format!("agent: {e}")))?;
    let mut lines = input.lines();
    let fingerprint = lines.next().unwrap_or_default().to_owned();
    let key_hex = lines.next().unwrap_or_default();
    let key_bytes = Zeroizing::new(hex::decode(key_hex).map_err(|_| Error::backend("agent: bad key handoff"))?);
    let key = Key::from_bytes(&key_bytes).ok_or_else(|| Error::backend("agent: bad key handoff"))?;
    agent::serve(socket, fingerprint, key, Duration::from_secs(ttl))
}

fn human(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    match (h, m, s) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, _) => format!("{h}h{m}m"),
    }
}

fn status(vault: &Vault, format: OutputFormat) -> Result<(), Error> {
    let header = match vault.read_raw()? {
        Some(raw) => Some(vault.header_of(&raw)?),
        None => None,
    };
    let socket = agent::socket_path(vault.path())?;
    let session = agent::status(&socket).filter(|(_, fp)| header.as_ref().is_some_and(|h| *fp == h.fingerprint()));
    match format {
        OutputFormat::Json => {
            let json = serde_json::json!({
                "path": vault.path(),
                "exists": header.is_some(),
                "unlocked": session.is_some(),
                "seconds_left": session.as_ref().map(|(s, _)| s),
                "kdf": header.as_ref().map(|h| serde_json::json!({
                    "algorithm": "argon2id", "memory_kib": h.kdf.memory_kib,
                    "iterations": h.kdf.iterations, "parallelism": h.kdf.parallelism
                })),
            });
            println!("{json}");
        }
        OutputFormat::Text => {
            println!("vault:  {}", vault.path().display());
            match &header {
                None => println!("state:  missing (create it with `docker-credential-vault init`)"),
                Some(h) => {
                    match &session {
                        Some((secs, _)) => println!("state:  unlocked ({} left)", human(*secs)),
                        None => println!("state:  locked"),
                    }
                    println!(
                        "kdf:    argon2id m={} KiB t={} p={}",
                        h.kdf.memory_kib, h.kdf.iterations, h.kdf.parallelism
                    );
                }
            }
        }
    }
    Ok(())
}

fn rekey(vault: &Vault, kdf: &KdfArgs, keep_passphrase: bool) -> Result<(), Error> {
    let lock = vault.lock()?;
    let raw = vault.read_raw()?.ok_or_else(|| vault.fail("does not exist"))?;
    let old = vault.header_of(&raw)?;
    let current = passphrase::obtain(Purpose::Unlock)?;
    let old_key = old.derive_key(current.as_bytes()).map_err(backend)?;
    let contents = vault.decrypt(&raw, &old_key)?;
    let params = kdf.over(old.kdf);
    params.check().map_err(backend)?;
    let new_pass = if keep_passphrase { current } else { passphrase::obtain(Purpose::New { rekey: true })? };
    let header = Header::new(params).map_err(backend)?;
    let key = header.derive_key(new_pass.as_bytes()).map_err(backend)?;
    vault.write(&lock, &header, &key, &contents)?;
    agent::lock(&agent::socket_path(vault.path())?);
    println!(
        "re-encrypted {} (argon2id m={} KiB t={} p={}); unlock again to start a session",
        vault.path().display(),
        params.memory_kib,
        params.iterations,
        params.parallelism
    );
    Ok(())
}

/// A format, KDF or crypto error as the helper reports it (same text).
fn backend(e: impl std::fmt::Display) -> Error {
    Error::backend(e.to_string())
}

fn export(vault: &Vault, to: Kind, output: &Path) -> Result<(), Error> {
    let opened = vault.open(KeyFrom::Passphrase)?.ok_or_else(|| vault.fail("does not exist"))?;
    let creds = opened.contents.to_credentials();
    match to {
        Kind::File => write_file(output, &creds)?,
        Kind::AuthJson => write_auth_json(output, &creds)?,
    }
    println!("exported {} credential(s) to {}", creds.len(), output.display());
    Ok(())
}

fn import(vault: &Vault, from: Kind, path: &Path) -> Result<(), Error> {
    let creds = match from {
        Kind::File => CredentialFile::at(path).load()?.to_credentials(),
        Kind::AuthJson => read_auth_json(path)?,
    };
    vault.modify(KeyFrom::SessionOrPassphrase, |c| {
        for cred in &creds {
            c.put(cred);
        }
        !creds.is_empty()
    })?;
    println!("imported {} credential(s) from {}", creds.len(), path.display());
    Ok(())
}

/// Merges credentials into docker-credential-file's store, as its `store` verb would, in one locked write.
fn write_file(path: &Path, creds: &[Credentials]) -> Result<(), Error> {
    if creds.is_empty() {
        return Ok(());
    }
    Ok(CredentialFile::at(path).with_lock_notice(lock_notice()).modify(|c| {
        for cred in creds {
            c.put(cred);
        }
        true
    })?)
}

/// An auth file error as the vault words it: `auth file PATH: message`.
fn auth_file_error(e: AuthFileError) -> Error {
    Error::backend(format!("auth file {}: {}", e.path.display(), e.message))
}

/// Merges credentials into an auth.json's `auths` with hoist's codec, as `hoist login` writes them: `auth` is
/// base64 of `user:secret`, identity tokens go to `identitytoken`; other fields of an entry (`email`, ...) and
/// the rest of the file are kept. The file must be private (0600, yours), as the vault's own file.
fn write_auth_json(path: &Path, creds: &[Credentials]) -> Result<(), Error> {
    AuthFile::edit_private(path, &lock_notice(), |file| {
        for c in creds {
            file.set_auth(&c.server_url, c);
        }
        Ok::<_, AuthFileError>(((), true))
    })
    .map_err(auth_file_error)
}

/// Every credential in a private auth.json, keyed as written there.
fn read_auth_json(path: &Path) -> Result<Vec<Credentials>, Error> {
    let file = PrivateFile::new(path, "auth file");
    let raw: Zeroizing<Vec<u8>> = file.read()?.ok_or_else(|| file.fail("does not exist"))?;
    AuthFile::parse(path, false, &raw).and_then(|doc| doc.credentials()).map_err(auth_file_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("0s").is_err() && parse_duration("5x").is_err() && parse_duration("").is_err());
        assert_eq!(human(5400), "1h30m");
        assert_eq!(human(61), "1m1s");
    }

    use std::collections::BTreeMap;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use crate::vault::Contents;

    fn usernames_and_secrets(c: &Contents) -> BTreeMap<String, (String, String)> {
        c.credentials.iter().map(|(k, e)| (k.clone(), (e.username.clone(), e.secret.expose().to_owned()))).collect()
    }

    /// export --to auth-json, then import --from auth-json: every credential comes back, and the auth file
    /// keeps each entry's `email`, unknown keys and identity tokens exactly as hoist login keeps them.
    #[test]
    fn auth_json_round_trip_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.json");
        // "old:old" = b2xkOm9sZA==, "keep:keep" = a2VlcDprZWVw
        fs::write(
            &path,
            r#"{"auths":{
                "a.example":{"auth":"b2xkOm9sZA==","email":"a@example","x-future":{"k":1}},
                "keep.example":{"auth":"a2VlcDprZWVw","email":"k@example"},
                "tok.example":{"identitytoken":"refresh-0","email":"t@example"}},
              "credHelpers":{"x.example":"vault"},"credsStore":"","future":[1,2]}"#,
        )
        .unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();

        let mut vault = Contents::default();
        vault.put(&Credentials::new("a.example", "alice", "secret-canary"));
        vault.put(&Credentials::new("t.example", "<token>", "refresh-1"));
        write_auth_json(&path, &vault.to_credentials()).unwrap();

        let doc: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        let expected = serde_json::json!({
            "auths": {
                "a.example": {"auth": "YWxpY2U6c2VjcmV0LWNhbmFyeQ==", "email": "a@example", "x-future": {"k": 1}},
                "keep.example": {"auth": "a2VlcDprZWVw", "email": "k@example"},
                "tok.example": {"identitytoken": "refresh-0", "email": "t@example"},
                "t.example": {"identitytoken": "refresh-1"}
            },
            "credHelpers": {"x.example": "vault"}, "credsStore": "", "future": [1, 2]
        });
        assert_eq!(doc, expected);

        let mut imported = Contents::default();
        for c in read_auth_json(&path).unwrap() {
            imported.put(&c);
        }
        let pair = |u: &str, s: &str| (u.to_owned(), s.to_owned());
        assert_eq!(
            usernames_and_secrets(&imported),
            BTreeMap::from([
                ("a.example".into(), pair("alice", "secret-canary")),
                ("keep.example".into(), pair("keep", "keep")),
                ("t.example".into(), pair("<token>", "refresh-1")),
                ("tok.example".into(), pair("<token>", "refresh-0")),
            ])
        );

        // Exporting what was imported changes nothing in the file.
        write_auth_json(&path, &imported.to_credentials()).unwrap();
        let again: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(again, expected);
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn file_round_trip_and_refusals_keep_their_text() {
        let dir = tempfile::tempdir().unwrap();
        let mut vault = Contents::default();
        vault.put(&Credentials::new("a.example", "alice", "secret-canary"));
        vault.put(&Credentials::new("t.example", "<token>", "refresh"));
        let store = dir.path().join("export/credentials.json");
        write_file(&store, &vault.to_credentials()).unwrap();
        let back = CredentialFile::at(&store).load().unwrap();
        assert_eq!(usernames_and_secrets(&back), usernames_and_secrets(&vault));

        let auth = dir.path().join("auth.json");
        fs::write(&auth, r#"{"auths":{}}"#).unwrap();
        fs::set_permissions(&auth, fs::Permissions::from_mode(0o644)).unwrap();
        let e = write_auth_json(&auth, &vault.to_credentials()).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "auth file {0}: permissions 0644 are too open (group or others have access); run: chmod 600 {0}",
                auth.display()
            )
        );
        assert_eq!(read_auth_json(&auth).unwrap_err().to_string(), e);
        let missing = dir.path().join("missing.json");
        assert_eq!(
            read_auth_json(&missing).unwrap_err().to_string(),
            format!("auth file {}: does not exist", missing.display())
        );
        fs::set_permissions(&auth, fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(&auth, r#"{"auths":{"a.example":{"auth":"secret-canary!"}}}"#).unwrap();
        let e = read_auth_json(&auth).unwrap_err().to_string();
        assert!(e.starts_with("auth file ") && e.contains("`auth` is not base64") && !e.contains("canary"), "{e}");
    }
}
