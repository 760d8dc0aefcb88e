//! Running a credential helper from a client program (hoist, tests), for ours and the Go helpers alike.
//!
//! Quirks of real helpers handled here, so callers see one behaviour:
//! - `get` of a missing entry: `credentials not found in native keychain` on stdout, exit 1 → `Ok(None)`;
//!   docker-credential-pass 0.6.4 instead exits 0 with empty Username and Secret → also `Ok(None)`.
//! - `erase` of a missing entry succeeds whatever the helper says (pass exits 1).
//! - A helper's failure text is passed on in the error, with the secret cut out should a helper echo it.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use zeroize::Zeroizing;

use crate::{Credentials, NOT_FOUND};

/// How running a helper failed. No variant ever holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("credential helper {program} is not installed (not found in PATH)")]
    NotInstalled { program: String },
    #[error("cannot run credential helper {program}: {source}")]
    Spawn { program: String, source: std::io::Error },
    #[error("credential helper {program} {verb} failed: {message}")]
    Failed { program: String, verb: &'static str, message: String },
    #[error("credential helper {program} {verb} answered with output that is not the expected JSON")]
    BadOutput { program: String, verb: &'static str },
}

/// A helper to run: `docker-credential-NAME`, found on `PATH` unless given as a path.
#[derive(Clone, Debug)]
pub struct Client {
    program: PathBuf,
    envs: Vec<(OsString, OsString)>,
}

struct Output {
    success: bool,
    stdout: Zeroizing<Vec<u8>>,
    stderr: Vec<u8>,
}

impl Client {
    /// The helper named as in `credHelpers`: `"pass"` runs `docker-credential-pass`.
    pub fn new(name: &str) -> Self {
        Client::with_program(format!("docker-credential-{name}"))
    }

    /// A helper at an explicit path (or program name).
    pub fn with_program(program: impl Into<PathBuf>) -> Self {
        Client { program: program.into(), envs: Vec::new() }
    }

    /// Sets an environment variable for the helper process.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.envs.push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    pub fn program(&self) -> String {
        self.program.display().to_string()
    }

    /// The credential stored for `server_url`, or `None`.
    pub fn get(&self, server_url: &str) -> Result<Option<Credentials>, ClientError> {
        let out = self.run("get", server_url.as_bytes())?;
        if !out.success {
            if is_not_found(&out.stdout) {
                return Ok(None);
            }
            return Err(self.failed("get", &out, None));
        }
        let creds: Credentials = serde_json::from_slice(&out.stdout).map_err(|_| self.bad_output("get"))?;
        if creds.username.is_empty() && creds.secret.is_empty() {
            return Ok(None); // docker-credential-pass 0.6.4 answers a missing entry this way.
        }
        Ok(Some(creds))
    }

    pub fn store(&self, creds: &Credentials) -> Result<(), ClientError> {
        let input = Zeroizing::new(serde_json::to_vec(creds).map_err(|_| self.bad_output("store"))?);
        let out = self.run("store", &input)?;
        if out.success { Ok(()) } else { Err(self.failed("store", &out, Some(creds.secret.expose()))) }
    }

    /// Removes the credential; a missing one is not an error.
    ///
    /// Helpers disagree on erasing a missing entry (secretservice exits 0, pass exits 1 with its own text), so
    /// a failed erase is checked with `get`: if nothing is stored, the erase did what was asked.
    pub fn erase(&self, server_url: &str) -> Result<(), ClientError> {
        let out = self.run("erase", server_url.as_bytes())?;
        if out.success || is_not_found(&out.stdout) {
            return Ok(());
        }
        match self.get(server_url) {
            Ok(None) => Ok(()),
            _ => Err(self.failed("erase", &out, None)),
        }
    }

    /// Every stored server with its username.
    pub fn list(&self) -> Result<BTreeMap<String, String>, ClientError> {
        let out = self.run("list", b"")?;
        if !out.success {
            return Err(self.failed("list", &out, None));
        }
        serde_json::from_slice(&out.stdout).map_err(|_| self.bad_output("list"))
    }

    fn run(&self, verb: &'static str, input: &[u8]) -> Result<Output, ClientError> {
        let mut cmd = Command::new(&self.program);
        cmd.arg(verb).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => ClientError::NotInstalled { program: self.program() },
            _ => ClientError::Spawn { program: self.program(), source },
        })?;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let mut out = Zeroizing::new(Vec::new());
        let mut err = Vec::new();
        // Feed stdin while draining stdout/stderr, so a large secret can never deadlock on a full pipe.
        std::thread::scope(|s| {
            s.spawn(move || {
                let _ = stdin.write_all(input); // a helper may exit without reading: not our error
            });
            s.spawn(|| {
                let _ = stderr.read_to_end(&mut err);
            });
            let _ = stdout.read_to_end(&mut out);
        });
        let status = child.wait().map_err(|source| ClientError::Spawn { program: self.program(), source })?;
        Ok(Output { success: status.success(), stdout: out, stderr: err })
    }

    fn failed(&self, verb: &'static str, out: &Output, secret: Option<&str>) -> ClientError {
        let text = if out.stdout.iter().any(|b| !b.is_ascii_whitespace()) { &out.stdout[..] } else { &out.stderr[..] };
        let raw = String::from_utf8_lossy(text);
        let mut message = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        // A message holding the secret is withheld whole: masking only the secret would still show where it
        // was and what surrounds it (`the vault is [redacted]` tells a password of "locked"). Only a secret of
        // MIN_MATCHED_SECRET bytes or more is looked for: a shorter one can be a word of any message, and
        // withholding on that chance match would tell that the password is that word. A message that echoes
        // the request (its `"Secret"` key) is withheld whatever the secret, so a short one is not shown either.
        let echoes_request = raw.to_ascii_lowercase().contains("\"secret\"");
        let holds_secret =
            secret.filter(|s| s.len() >= MIN_MATCHED_SECRET).is_some_and(|s| raw.contains(s) || message.contains(s));
        if echoes_request || holds_secret {
            message = "its message was withheld because it contained the secret".into();
        }
        if message.len() > 400 {
            let cut = (0..=400).rev().find(|&i| message.is_char_boundary(i)).unwrap_or(0);
            message.truncate(cut);
            message.push_str("...");
        }
        if message.is_empty() {
            message = "exited with an error and no message".into();
        }
        ClientError::Failed { program: self.program(), verb, message }
    }

    fn bad_output(&self, verb: &'static str) -> ClientError {
        ClientError::BadOutput { program: self.program(), verb }
    }
}

/// The shortest secret a helper's error message is searched for (see `Client::failed`): at 8 bytes a chance
/// match with a word of the message is implausible.
pub const MIN_MATCHED_SECRET: usize = 8;

fn is_not_found(stdout: &[u8]) -> bool {
    String::from_utf8_lossy(stdout).trim() == NOT_FOUND
}
