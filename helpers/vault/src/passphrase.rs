//! Where a passphrase comes from, in order: `HOIST_VAULT_PASSPHRASE_FILE`, an askpass program
//! (`HOIST_VAULT_ASKPASS`, like SSH_ASKPASS), the controlling terminal (`/dev/tty`: stdin is the protocol
//! channel). An unlocked session comes before all of these, but that is the agent's business (agent.rs).
//!
//! With no source available this fails at once with a line that says what to do: a helper run by podman in
//! the background must never wait for input that cannot come.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use hoist_helper_protocol::Error;
use zeroize::Zeroizing;

pub const ENV_FILE: &str = "HOIST_VAULT_PASSPHRASE_FILE";
pub const ENV_NEW_FILE: &str = "HOIST_VAULT_NEW_PASSPHRASE_FILE";
pub const ENV_ASKPASS: &str = "HOIST_VAULT_ASKPASS";

pub type Passphrase = Zeroizing<String>;

/// What the passphrase is for, which decides the prompt and the variables consulted.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Opening an existing vault.
    Unlock,
    /// Choosing a passphrase: `init` (from `HOIST_VAULT_PASSPHRASE_FILE`) or `rekey` (from
    /// `HOIST_VAULT_NEW_PASSPHRASE_FILE`); on a terminal it is asked twice.
    New { rekey: bool },
}

fn var(name: &str) -> Option<PathBuf> {
    std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// Obtains a passphrase for `purpose` from the first available source.
pub fn obtain(purpose: Purpose) -> Result<Passphrase, Error> {
    let file_var = match purpose {
        Purpose::New { rekey: true } => ENV_NEW_FILE,
        _ => ENV_FILE,
    };
    if let Some(path) = var(file_var) {
        return from_file(file_var, &path);
    }
    let prompt = match purpose {
        Purpose::Unlock => "Vault passphrase: ",
        Purpose::New { .. } => "New vault passphrase: ",
    };
    if let Some(program) = var(ENV_ASKPASS) {
        return from_askpass(&program, prompt);
    }
    if let Some(tty) = open_tty() {
        drop(tty);
        let first = from_tty(prompt)?;
        if let Purpose::New { .. } = purpose {
            let again = from_tty("Repeat the passphrase: ")?;
            if *again != *first {
                return Err(Error::backend("the two passphrases differ; nothing was changed"));
            }
        }
        return Ok(first);
    }
    Err(Error::backend(format!(
        "the vault is locked and there is no way to ask for its passphrase (no terminal, {ENV_FILE} and \
         {ENV_ASKPASS} unset): run `docker-credential-vault unlock` in a terminal first"
    )))
}

fn check_nonempty(p: Passphrase, source: &str) -> Result<Passphrase, Error> {
    if p.is_empty() {
        return Err(Error::backend(format!("the passphrase from {source} is empty")));
    }
    Ok(p)
}

/// The largest passphrase file read: longer ones are refused, never cut.
pub const MAX_PASSPHRASE_FILE: u64 = 64 << 10;

/// The file's content without one trailing newline. Refuses a file others can read, anything that is not a
/// regular file (a FIFO would block), and a file longer than [`MAX_PASSPHRASE_FILE`] bytes.
fn from_file(var: &str, path: &PathBuf) -> Result<Passphrase, Error> {
    let fail = |m: String| Error::backend(format!("{var} {}: {m}", path.display()));
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| fail(format!("cannot open: {e}")))?;
    let meta = file.metadata().map_err(|e| fail(format!("cannot stat: {e}")))?;
    if !meta.is_file() {
        return Err(fail("is not a regular file".into()));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(fail(format!(
            "permissions {:04o} are too open; run: chmod 600 {}",
            meta.mode() & 0o7777,
            path.display()
        )));
    }
    let mut raw = Zeroizing::new(Vec::new());
    file.by_ref().take(MAX_PASSPHRASE_FILE + 1).read_to_end(&mut raw).map_err(|e| fail(format!("cannot read: {e}")))?;
    if raw.len() as u64 > MAX_PASSPHRASE_FILE {
        return Err(fail(format!(
            "is longer than {MAX_PASSPHRASE_FILE} bytes; a passphrase file holds one passphrase"
        )));
    }
    let text = std::str::from_utf8(&raw).map_err(|_| fail("is not UTF-8 text".into()))?;
    let text = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(text);
    check_nonempty(Zeroizing::new(text.to_owned()), var)
}

/// Runs the askpass program with the prompt as its argument and reads the first line it prints.
fn from_askpass(program: &PathBuf, prompt: &str) -> Result<Passphrase, Error> {
    let fail = |m: String| Error::backend(format!("{ENV_ASKPASS} {}: {m}", program.display()));
    let mut child = Command::new(program)
        .arg(prompt.trim_end())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| fail(format!("cannot run: {e}")))?;
    let mut line = Zeroizing::new(String::new());
    let read = BufReader::new(child.stdout.take().expect("piped").take(64 << 10)).read_line(&mut line);
    let status = child.wait().map_err(|e| fail(format!("cannot wait: {e}")))?;
    read.map_err(|e| fail(format!("cannot read its output: {e}")))?;
    if !status.success() {
        return Err(fail(format!("failed ({status}); no passphrase")));
    }
    let text = line.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&line);
    check_nonempty(Zeroizing::new(text.to_owned()), ENV_ASKPASS)
}

fn open_tty() -> Option<File> {
    hoist_helper_protocol::tty::open()
}

fn from_tty(prompt: &str) -> Result<Passphrase, Error> {
    let line = hoist_helper_protocol::tty::read_secret(prompt)
        .map_err(|e| Error::backend(format!("cannot read the passphrase from the terminal: {e}")))?;
    check_nonempty(line, "the terminal")
}
