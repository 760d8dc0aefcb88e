//! `hoist tag IMAGE NEW...`: more names for an image in the local store (no bytes move).
//! `hoist tag --remote SRC NEW...`: the same on the registry, by digest, without pulling (a bare `NEW` is a
//! tag in SRC's repository; another repository of the same registry gets its blobs mounted).
//! `hoist tag --semver [--latest] [--remote] NAME:2.1.3`: also points `2.1` and `2` (and `latest`) at that
//! image, never moving one back to an older version than it names now, and never for a pre-release.

use hoist_core::ops;
use hoist_core::release::{Action, FanOut};

use super::common::{PolicyArgs, RegistryArgs, registry_reference};
use super::{Invocation, Result, fail};

#[derive(clap::Args)]
pub struct Args {
    /// Image in the local store (a name, a short name or an ID); with --remote, [docker://]REGISTRY/REPO:TAG
    image: String,
    /// New names: [REGISTRY/]REPO[:TAG] (localhost/ and :latest when left out, as podman); with --remote a
    /// bare TAG stays in IMAGE's repository and a REPO without a registry is on docker.io
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

pub fn run(a: Args, ctx: &Invocation) -> Result<()> {
    let remote = a.remote || a.image.starts_with("docker://");
    match (remote, a.semver) {
        (false, false) => local(&a, ctx),
        (false, true) => {
            let (name, fan) = ops::tag_semver_local(&ctx.settings, &a.image, a.latest)?;
            report(ctx, &name.to_string(), &fan)
        }
        (true, true) => {
            let settings = a.policy.apply(a.registry.settings(ctx)?);
            let r = registry_reference(&a.image)?;
            let Some(tag) = r.tag().filter(|_| r.digest().is_none()) else {
                return fail(format!("{}: --semver needs a version tag", a.image));
            };
            let fan = ctx.runtime.block_on(ops::tag_semver_remote(&settings, &r, tag, a.latest))?;
            report(ctx, &r.to_string(), &fan)
        }
        (true, false) => remote_tags(&a, ctx),
    }
}

fn local(a: &Args, ctx: &Invocation) -> Result<()> {
    ops::tag_local(&ctx.settings, &a.image, &a.names)?;
    Ok(())
}

/// `--remote`: each new name gets the source's manifest, by digest.
fn remote_tags(a: &Args, ctx: &Invocation) -> Result<()> {
    let settings = a.policy.apply(a.registry.settings(ctx)?).with_jobs(6);
    let src = registry_reference(&a.image)?;
    let (digest, targets) = ctx.runtime.block_on(ops::tag_remote(&settings, &src, &a.names))?;
    for t in &targets {
        ctx.printer.line(format!("{t} {digest}"))?;
    }
    Ok(())
}

/// One line per short tag: what happened to it.
fn report(ctx: &Invocation, name: &str, fan: &FanOut) -> Result<()> {
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
