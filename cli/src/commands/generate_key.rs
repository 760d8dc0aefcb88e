//! `hoist generate-sigstore-key --output-prefix PREFIX [--passphrase-file F]` (skopeo's command of that
//! name): a new ECDSA P-256 key pair in cosign's format, `PREFIX.private` (encrypted with the passphrase,
//! mode 0600) and `PREFIX.pub`, for `--sign-by-sigstore-private-key` and a policy's `sigstoreSigned` key.
//! Existing files are never overwritten; the passphrase comes from the file's first line, else is asked twice
//! on the terminal, and is never printed.

use std::path::PathBuf;

use hoist_core::trust::{passphrase, sigstore};
use hoist_helper_protocol::tty;

use super::{Invocation, Result, fail};

#[derive(clap::Args)]
pub struct Args {
    /// Path prefix for the keys: PREFIX.private (the encrypted private key, mode 0600) and PREFIX.pub
    #[arg(long, value_name = "PREFIX")]
    output_prefix: PathBuf,
    /// Read the passphrase from the first line of FILE (keep it unreadable by others); without it the
    /// passphrase is asked twice on the terminal
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
}

pub fn run(a: Args, ctx: &Invocation) -> Result<()> {
    // Refuse before asking for a passphrase; write_key_pair checks again as it links the files into place.
    sigstore::key_pair_paths(&a.output_prefix)?;
    let passphrase = match &a.passphrase_file {
        Some(file) => passphrase::read_passphrase_file(file)?,
        None if tty::open().is_some() => {
            let first = tty::read_secret("Enter a passphrase: ")?;
            let again = tty::read_secret("Re-enter the passphrase: ")?;
            if *first != *again {
                return fail("the passphrases do not match");
            }
            first
        }
        None => return fail("cannot ask for a passphrase without a terminal: use --passphrase-file"),
    };
    if passphrase.is_empty() {
        return fail("the passphrase must not be empty: it is all that protects the private key");
    }
    let (private, public) = sigstore::write_key_pair(&a.output_prefix, passphrase.as_bytes())?;
    ctx.printer.line(format!(
        "Key written to {:?} and {:?}",
        private.display().to_string(),
        public.display().to_string()
    ))?;
    Ok(())
}
