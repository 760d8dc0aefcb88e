//! `hoist promote SRC DST [--expect-digest DIGEST]`: points DST (`REPO:prod`, or a repository of another
//! registry) at the manifest SRC (`REPO:dev`) names now, by digest: the copy engine skips or mounts blobs
//! inside one registry and copies them to another. With `--expect-digest`, refused when SRC no longer names
//! that digest (it changed since it was tested). Prints both sides' digests.

use hoist_core::copy::{self, Options};
use hoist_core::digest::Digest;
use hoist_core::image::media_type;
use hoist_core::reference::Reference;
use hoist_core::transport::registry::{RegistryDestination, RegistrySource, reference_at_registry};

use super::common::{CopyFlags, RegistryArgs, push_endpoint, registry_client, registry_reference};
use super::{Context, Result, fail};

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
    pub copy: CopyFlags,
}

pub fn run(a: Args, ctx: &Context) -> Result<()> {
    let config = ctx.load_config()?;
    let src = registry_reference(&a.source)?;
    let dst = registry_reference(&a.destination)?;
    if dst.digest().is_some() {
        return fail(format!("{dst}: the destination must be a tag"));
    }
    let expected = match &a.expect_digest {
        Some(d) => Some(Digest::parse(d).map_err(|e| format!("--expect-digest {d}: {e}"))?),
        None => None,
    };
    let tls = a.registry.tls();
    let creds = a.registry.creds(&config, ctx)?;
    let progress = ctx.printer.copy_progress();
    let (digest, before) = ctx.runtime.block_on(async {
        let src_client = registry_client(&config, &src, &a.registry, ctx).await?;
        let Some(head) =
            src_client.head_manifest(src.path(), &reference_at_registry(&src), media_type::MANIFEST_ACCEPT).await?
        else {
            return fail(format!("{src}: no such image in the registry"));
        };
        if let Some(e) = expected.as_ref().filter(|e| **e != head.digest) {
            return fail(format!(
                "{src} now names {}, not the expected {e}: it changed since; nothing was promoted",
                head.digest
            ));
        }
        let dst_client = registry_client(&config, &dst, &a.registry, ctx).await?;
        let before = dst_client
            .head_manifest(dst.path(), &reference_at_registry(&dst), media_type::MANIFEST_ACCEPT)
            .await?
            .map(|h| h.digest);
        // By digest: what is promoted is what was checked, whatever SRC's tag does meanwhile.
        let by_digest = Reference::parse_normalized(&format!("{}@{}", src.name(), head.digest))?;
        let targets = hoist_core::registry::endpoint::for_pull(&config, &by_digest, &tls)?;
        let source = RegistrySource::open(&by_digest, &targets, &creds, &ctx.observer()).await?;
        let destination =
            RegistryDestination::open(&push_endpoint(&config, &dst, &tls), dst.clone(), &creds, &ctx.observer())
                .await?;
        let opts = Options { jobs: a.copy.jobs, platform: None, all: true };
        let report = copy::copy(&source, &destination, &opts, progress.clone()).await?;
        progress.summary(&report);
        Ok::<_, super::Error>((head.digest, before))
    })?;
    ctx.printer.line(format!("source:      {src} {digest}"))?;
    let was = match before {
        Some(b) if b == digest => " (unchanged)".to_owned(),
        Some(b) => format!(" (was {b})"),
        None => " (new tag)".to_owned(),
    };
    ctx.printer.line(format!("destination: {dst} {digest}{was}"))?;
    Ok(())
}
