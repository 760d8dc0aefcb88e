//! `hoist promote SRC DST [--expect-digest DIGEST]`: points DST (`REPO:prod`, or a repository of another
//! registry) at the manifest SRC (`REPO:dev`) names now, by digest: the copy engine skips or mounts blobs
//! inside one registry and copies them to another. With `--expect-digest`, refused when SRC no longer names
//! that digest (it changed since it was tested). `--format oci|v2s2` and `--compression-format` convert on
//! the way, as push's (the destination then names a new digest). Prints both sides' digests.

use hoist_core::digest::Digest;

use super::common::{
    CompressionArgs, CopyFlags, FormatArgs, PolicyArgs, RegistryArgs, SignArgs, SignatureStorageArgs,
    registry_reference,
};
use super::{Invocation, Result};

#[derive(clap::Args)]
pub struct Args {
    /// What to promote: [docker://]REGISTRY/REPO:TAG (or @DIGEST)
    source: String,
    /// Where: [docker://]REGISTRY/REPO:TAG (the same repository, another one, or another registry)
    destination: String,
    /// Refuse unless SOURCE still names this manifest digest
    #[arg(long, value_name = "DIGEST")]
    expect_digest: Option<String>,
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    policy: PolicyArgs,
    #[command(flatten)]
    sign: SignArgs,
    #[command(flatten)]
    format: FormatArgs,
    #[command(flatten)]
    compression: CompressionArgs,
    #[command(flatten)]
    pub copy: CopyFlags,
    #[command(flatten)]
    signature_storage: SignatureStorageArgs,
}

pub fn run(a: Args, ctx: &Invocation) -> Result<()> {
    let settings = a.compression.apply(a.format.apply(
        a.signature_storage.apply(a.sign.apply(a.policy.apply(a.registry.settings(ctx)?))?.with_jobs(a.copy.jobs)),
    )?)?;
    let src = registry_reference(&a.source)?;
    let dst = registry_reference(&a.destination)?;
    let expected = match &a.expect_digest {
        Some(d) => Some(Digest::parse(d).map_err(|e| format!("--expect-digest {d}: {e}"))?),
        None => None,
    };
    let progress = ctx.printer.copy_progress();
    let promote = hoist_core::ops::promote(&settings, &src, &dst, expected.as_ref(), progress.clone());
    let promoted = ctx.runtime.block_on(promote)?;
    progress.summary(&promoted.report);
    let (digest, now, before) = (promoted.digest, promoted.destination, promoted.before);
    ctx.printer.line(format!("source:      {src} {digest}"))?;
    let was = match before {
        Some(b) if b == now => " (unchanged)".to_owned(),
        Some(b) => format!(" (was {b})"),
        None => " (new tag)".to_owned(),
    };
    ctx.printer.line(format!("destination: {dst} {now}{was}"))?;
    Ok(())
}
