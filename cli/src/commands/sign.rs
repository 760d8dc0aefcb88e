//! `hoist sign IMAGE`: signs an image already in a registry by its manifest digest, without moving it
//! (podman's `image sign`, cosign's `sign`). The digest is that of the manifest the name points at now;
//! GPG simple signatures go to the lookaside's writing location (registries.d's `lookaside-staging`, else
//! `lookaside`, else the built-in directory), after the signatures already there; sigstore signatures become
//! layers of the `sha256-HEX.sig` attachment (`use-sigstore-attachments: true` in registries.d). Prints the
//! digest signed.

use super::common::{RegistryArgs, SignFlags, SignatureStorageArgs, registry_reference};
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

pub fn run(a: Args, ctx: &Invocation) -> Result<()> {
    let reference = registry_reference(&a.image)?;
    let settings = a.signature_storage.apply(a.registry.settings(ctx)?);
    if !a.signing.any() {
        return fail("hoist sign needs a key: give --sign-by FINGERPRINT or --sign-by-sigstore-private-key PATH");
    }
    let identity = a.signing.identity()?.unwrap_or_else(|| reference.clone());
    let signers = a.signing.signers()?;
    let digest = ctx.runtime.block_on(hoist_core::ops::sign(&settings, &reference, &signers, &identity))?;
    ctx.printer.line(digest.to_string())?;
    Ok(())
}
