//! `hoist tag IMAGE NEW...`: more names for an image in the local store (no bytes move).
//! `hoist tag --remote SRC NEW...`: the same on the registry, by digest, without pulling (a bare `NEW` is a
//! tag in SRC's repository; another repository of the same registry gets its blobs mounted).
//! `hoist tag --semver [--latest] [--remote] NAME:2.1.3`: also points `2.1` and `2` (and `latest`) at that
//! image, never moving one back to an older version than it names now, and never for a pre-release.

use std::sync::Arc;

use hoist_core::copy::{self, NoProgress};
use hoist_core::reference::Reference;
use hoist_core::release::{self, Action, FanOut};
use hoist_core::transport::registry::reference_at_registry;

use super::common::{PolicyArgs, RegistryArgs, open_store, registry_reference};
use super::{Context, Result, fail};

#[derive(clap::Args)]
pub struct Args {
    /// Image in the local store (a name, a short name or an ID); with --remote, [docker://]REGISTRY/REPO:TAG
    image: String,
    /// New names: [REGISTRY/]REPO[:TAG] (docker.io and :latest when left out, as podman); with --remote a
    /// bare TAG stays in IMAGE's repository
    #[arg(required_unless_present = "semver")]
    names: Vec<String>,
    /// Tag on the registry, by digest, without pulling
    #[arg(long)]
    remote: bool,
    /// IMAGE's tag is a version (2.1.3): also point 2.1 and 2 at it, never backwards
    #[arg(long, conflicts_with = "names")]
    semver: bool,
    /// With --semver: point latest at it too (never backwards either)
    #[arg(long, requires = "semver")]
    latest: bool,
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    policy: PolicyArgs,
}

pub fn run(a: Args, ctx: &Context) -> Result<()> {
    let remote = a.remote || a.image.starts_with("docker://");
    match (remote, a.semver) {
        (false, false) => local(&a, ctx),
        (false, true) => {
            let name = Reference::parse_normalized(&a.image)?.with_default_tag();
            let fan = release::semver_local(&*open_store(ctx)?, &name, a.latest)?;
            report(ctx, &name.to_string(), &fan)
        }
        (true, true) => {
            let settings = a.policy.apply(a.registry.settings(ctx)?);
            settings.config()?;
            let r = registry_reference(&a.image)?;
            let Some(tag) = r.tag().filter(|_| r.digest().is_none()) else {
                return fail(format!("{}: --semver needs a version tag", a.image));
            };
            let opts = settings.copy_options(true)?;
            let fan = ctx.runtime.block_on(async {
                // The trust policy judges the image whose tags move, as for every tag --remote.
                copy::check(&settings.registry_source(&r).await?, &opts).await?;
                let client = settings.registry_client(&r).await?;
                Ok::<_, super::Error>(release::semver_remote(&client, r.path(), tag, a.latest).await?)
            })?;
            report(ctx, &r.to_string(), &fan)
        }
        (true, false) => remote_tags(&a, ctx),
    }
}

fn local(a: &Args, ctx: &Context) -> Result<()> {
    let store = open_store(ctx)?;
    let image = store.find(&a.image)?;
    let mut names = Vec::new();
    for n in &a.names {
        let r = Reference::parse_normalized(n)?;
        if r.digest().is_some() {
            return fail(format!("{n}: a tag name cannot hold a digest"));
        }
        names.push(r.with_default_tag());
    }
    for name in &names {
        store.tag(name, &image.descriptor)?;
    }
    Ok(())
}

/// `--remote`: each new name gets the source's manifest, by digest.
fn remote_tags(a: &Args, ctx: &Context) -> Result<()> {
    let settings = a.policy.apply(a.registry.settings(ctx)?).with_jobs(6);
    settings.config()?;
    let src = registry_reference(&a.image)?;
    let mut targets = Vec::new();
    for n in &a.names {
        let n = n.strip_prefix("docker://").unwrap_or(n);
        let r = if !n.contains(['/', ':', '@']) {
            Reference::parse_normalized(&format!("{}:{n}", src.name()))?
        } else {
            Reference::parse_normalized(n)?.with_default_tag()
        };
        if r.digest().is_some() {
            return fail(format!("{n}: a tag name cannot hold a digest"));
        }
        if r.domain() != src.domain() {
            return fail(format!(
                "{r}: tag --remote stays on {}; to copy to another registry use hoist promote or hoist copy",
                src.domain()
            ));
        }
        targets.push(r);
    }
    let opts = settings.copy_options(true)?;
    let digest = ctx.runtime.block_on(async {
        let client = settings.registry_client(&src).await?;
        let m = client
            .get_manifest(src.path(), &reference_at_registry(&src), hoist_core::image::media_type::MANIFEST_ACCEPT)
            .await?;
        let by_digest = Reference::parse_normalized(&format!("{}@{}", src.name(), m.digest))?;
        // The trust policy judges what is tagged before any tag moves, whichever way it is written.
        copy::check(&settings.registry_source(&by_digest).await?, &opts).await?;
        for t in &targets {
            if t.path() == src.path() {
                client.put_manifest(t.path(), t.tag().unwrap_or("latest"), &m.raw, &m.media_type).await?;
                continue;
            }
            // Another repository of the same registry: its blobs are mounted by the copy engine.
            let source = settings.registry_source(&by_digest).await?;
            let dst = settings.registry_destination(t).await?;
            copy::copy(&source, &dst, &opts, Arc::new(NoProgress)).await?;
        }
        Ok::<_, super::Error>(m.digest)
    })?;
    for t in &targets {
        ctx.printer.line(format!("{t} {digest}"))?;
    }
    Ok(())
}

/// One line per short tag: what happened to it.
fn report(ctx: &Context, name: &str, fan: &FanOut) -> Result<()> {
    ctx.printer.line(format!("{name} {}", fan.digest))?;
    if fan.prerelease {
        ctx.printer.line("  a pre-release: no short tag moved")?;
    }
    for o in &fan.outcomes {
        let what = match &o.action {
            Action::Created => format!("created at {}", fan.digest),
            Action::Moved { from } => format!("moved from {from}"),
            Action::Unchanged => "unchanged".to_owned(),
            Action::Kept { at } => format!("kept: it names {at}, newer than this version"),
        };
        ctx.printer.line(format!("  {}: {what}", o.tag))?;
    }
    Ok(())
}
