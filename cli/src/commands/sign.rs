//! `hoist sign IMAGE`: signs an image already in a registry by its manifest digest, without moving it
//! (podman's `image sign`, cosign's `sign`). The digest is that of the manifest the name points at now;
//! GPG simple signatures go to the lookaside's writing location (registries.d's `lookaside-staging`, else
//! `lookaside`, else the built-in directory), after the signatures already there; sigstore signatures become
//! layers of the `sha256-HEX.sig` attachment (`use-sigstore-attachments: true` in registries.d). Prints the
//! digest signed.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hoist_core::reference::Reference;
use hoist_core::trust::sigstore::KeySigner;
use hoist_core::trust::simple::GpgSigner;
use hoist_core::trust::{Signature, Signer};
use hoist_helper_protocol::tty;
use zeroize::Zeroizing;

use super::common::{RegistryArgs, SignatureStorageArgs, registry_reference};
use super::{Invocation, Result, fail};

#[derive(clap::Args)]
pub struct Args {
    /// Image to sign: [docker://]REGISTRY/REPO[:TAG|@DIGEST]
    image: String,
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    signing: SignFlags,
    #[command(flatten)]
    signature_storage: SignatureStorageArgs,
}

/// podman's and skopeo's signing flags.
#[derive(clap::Args, Clone, Default)]
pub struct SignFlags {
    /// Sign with the GPG key of this fingerprint, through your GnuPG ($GNUPGHOME)
    #[arg(long, value_name = "FINGERPRINT")]
    pub sign_by: Option<String>,
    /// Sign with this sigstore (cosign) private key
    #[arg(long, value_name = "PATH")]
    pub sign_by_sigstore_private_key: Option<PathBuf>,
    /// Read the signing key's passphrase from the first line of this file (default: ask on the terminal)
    #[arg(long, value_name = "PATH")]
    pub sign_passphrase_file: Option<PathBuf>,
    /// Sign as this image name instead of the image's own ([docker://]REGISTRY/REPO[:TAG])
    #[arg(long, value_name = "REF")]
    pub sign_identity: Option<String>,
}

/// The most bytes a passphrase file may have.
const MAX_PASSPHRASE_FILE: u64 = 64 * 1024;

/// The first line of a passphrase file (skopeo's `ReadPassphraseFile`), read within a cap.
fn read_passphrase_file(path: &Path) -> Result<Zeroizing<String>> {
    let file = std::fs::File::open(path).map_err(|e| format!("--sign-passphrase-file {}: {e}", path.display()))?;
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(MAX_PASSPHRASE_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("--sign-passphrase-file {}: {e}", path.display()))?;
    if bytes.len() as u64 > MAX_PASSPHRASE_FILE {
        return fail(format!("--sign-passphrase-file {}: larger than {MAX_PASSPHRASE_FILE} bytes", path.display()));
    }
    let line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    match std::str::from_utf8(line) {
        Ok(s) => Ok(Zeroizing::new(s.to_owned())),
        Err(_) => fail(format!("--sign-passphrase-file {}: the passphrase is not UTF-8", path.display())),
    }
}

impl SignFlags {
    /// The signers the flags ask for (none when no signing flag is given). A sigstore key's passphrase is
    /// the file's, else asked on the terminal; a GPG key's is the file's, else GnuPG's agent asks.
    pub fn signers(&self) -> Result<Vec<Arc<dyn Signer>>> {
        if self.sign_passphrase_file.is_some() && self.sign_by.is_some() && self.sign_by_sigstore_private_key.is_some()
        {
            return fail(
                "Only one of --sign-by and --sign-by-sigstore-private-key can be used with --sign-passphrase-file",
            );
        }
        let passphrase = self.sign_passphrase_file.as_deref().map(read_passphrase_file).transpose()?;
        let mut out: Vec<Arc<dyn Signer>> = Vec::new();
        if let Some(fpr) = &self.sign_by {
            out.push(Arc::new(GpgSigner { fingerprint: fpr.clone(), passphrase: passphrase.clone() }));
        }
        if let Some(key) = &self.sign_by_sigstore_private_key {
            let passphrase = match passphrase {
                Some(p) => p,
                None if tty::open().is_some() => tty::read_secret(&format!("Key Passphrase for {}: ", key.display()))?,
                None => {
                    return fail(
                        "--sign-by-sigstore-private-key needs the key's passphrase: give --sign-passphrase-file, or run on a terminal",
                    );
                }
            };
            out.push(Arc::new(KeySigner::open(key, &passphrase)?));
        }
        Ok(out)
    }

    /// The identity to sign as: `--sign-identity`, else `default`.
    pub fn identity(&self, default: &Reference) -> Result<Reference> {
        match &self.sign_identity {
            Some(s) => Ok(registry_reference(s).map_err(|e| format!("--sign-identity {s}: {e}"))?),
            None => Ok(default.clone()),
        }
    }
}

pub fn run(a: Args, ctx: &Invocation) -> Result<()> {
    let reference = registry_reference(&a.image)?;
    let settings = a.signature_storage.apply(a.registry.settings(ctx)?);
    let identity = a.signing.identity(&reference)?;
    let signers = a.signing.signers()?;
    if signers.is_empty() {
        return fail("hoist sign needs a key: give --sign-by FINGERPRINT or --sign-by-sigstore-private-key PATH");
    }
    let destination = ctx.runtime.block_on(settings.registry_destination(&reference))?;
    let digest = ctx.runtime.block_on(destination.current_manifest())?.digest;
    let mut signatures: Vec<Signature> = Vec::new();
    for s in &signers {
        ctx.printer.progress_line(&format!("Signing {reference} ({digest}) as {identity} with {}", s.describe()));
        signatures.push(s.sign(&digest, &identity)?);
    }
    ctx.runtime.block_on(destination.add_signatures(&digest, &signatures))?;
    ctx.printer.line(digest.to_string())?;
    Ok(())
}
