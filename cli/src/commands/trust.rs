//! `hoist trust`: the image trust policy (containers-policy.json(5)). `show` and `set` as podman's `image
//! trust show` / `image trust set` (same flags, same table and JSON, a file podman reads back); `check IMAGE`
//! says which scope of the policy applies to an image, what each requirement decided and why each signature
//! was accepted or refused, and exits 1 when the image would be refused.

use std::path::PathBuf;

use clap::Subcommand;
use hoist_core::transport::name::ImageName;
use hoist_core::trust::policy::{self, Policy, SetType, SignatureVerdict};

use super::common::RegistryArgs;
use super::{Invocation, Result};

#[derive(Subcommand)]
pub enum Command {
    /// Show the trust policy as podman does (default: $HOME/.config/containers/policy.json, else /etc/containers/policy.json)
    Show {
        /// The policy file to show
        #[arg(long, visible_alias = "signature-policy", value_name = "FILE")]
        policypath: Option<PathBuf>,
        /// Print podman's JSON instead of the table
        #[arg(short, long)]
        json: bool,
        /// Print the file as it is
        #[arg(long, conflicts_with = "json")]
        raw: bool,
        /// No heading line
        #[arg(short, long)]
        noheading: bool,
    },
    /// Set the requirements for a scope (a registry, repository or `default`), as `podman image trust set`
    Set {
        /// The policy file to change (default: the one `show` reads; the per-user one when there is none)
        #[arg(long, visible_alias = "signature-policy", value_name = "FILE")]
        policypath: Option<PathBuf>,
        /// accept, reject, signedBy (GPG keys) or sigstoreSigned (sigstore public keys)
        #[arg(short = 't', long = "type", value_name = "TYPE")]
        kind: SetType,
        /// A public key file; repeated, each file becomes a requirement (a signature by a key of each file is needed)
        #[arg(short = 'f', long = "pubkeysfile", value_name = "KEYFILE")]
        pubkeysfile: Vec<PathBuf>,
        /// `default`, or a registry, namespace or repository (`quay.io`, `quay.io/org`, `quay.io/org/app`)
        scope: String,
    },
    /// Explain what the policy decides for an image: scope, requirements, each signature; exit 1 if refused
    Check(CheckArgs),
}

#[derive(clap::Args)]
pub struct CheckArgs {
    /// The policy file (default: $HOME/.config/containers/policy.json, else /etc/containers/policy.json)
    #[arg(long, value_name = "FILE")]
    signature_policy: Option<PathBuf>,
    /// Where signature storage is configured (containers-registries.d(5))
    #[arg(long = "registries.d", value_name = "DIR")]
    registries_d: Option<PathBuf>,
    /// Print the evaluation as JSON (scope, requirements, signatures) instead of text
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    registry: RegistryArgs,
    /// The image: TRANSPORT:NAME (docker://, store:, oci:, oci-archive:, docker-archive:, dir:) or a registry reference
    image: String,
}

pub fn run(command: Command, ctx: &Invocation) -> Result<()> {
    match command {
        Command::Show { policypath, json, raw, noheading } => show(policypath, json, raw, noheading, ctx),
        Command::Set { policypath, kind, pubkeysfile, scope } => {
            let path = match policypath {
                Some(p) => p,
                None => default_path_for_set()?,
            };
            Ok(policy::set_entry(&path, &scope, kind, &pubkeysfile)?)
        }
        Command::Check(a) => check(a, ctx),
    }
}

/// The file `show` would read, else the per-user one (to be created).
fn default_path_for_set() -> Result<PathBuf> {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
    match Policy::default_path(home.as_deref(), std::path::Path::new(policy::SYSTEM_POLICY_PATH)) {
        Ok(p) => Ok(p),
        Err(e) => match home {
            Some(h) => {
                let user = h.join(policy::USER_POLICY_PATH);
                if let Some(dir) = user.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
                }
                Ok(user)
            }
            None => Err(e.into()),
        },
    }
}

fn show(path: Option<PathBuf>, json: bool, raw: bool, noheading: bool, ctx: &Invocation) -> Result<()> {
    let policy = Policy::load(path.as_deref())?;
    if raw {
        let file = policy.path.clone().unwrap_or_default();
        let bytes = std::fs::read(&file).map_err(|e| format!("reading {}: {e}", file.display()))?;
        return Ok(ctx.printer.document(&bytes)?);
    }
    let rows = policy.show_rows(&policy::gpg_key_ids_of, &|_| String::new());
    if json {
        return Ok(ctx.printer.json(&rows)?);
    }
    for line in policy::show_table(&rows, !noheading).lines() {
        ctx.printer.line(line)?;
    }
    Ok(())
}

fn check(a: CheckArgs, ctx: &Invocation) -> Result<()> {
    let mut settings = a.registry.settings(ctx)?;
    settings.signature_policy = a.signature_policy.clone();
    if a.registries_d.is_some() {
        settings.registries_d = a.registries_d.clone();
    }
    let policy = Policy::load(a.signature_policy.as_deref())?;
    let name = match ImageName::parse(&a.image) {
        Ok(n) => n,
        Err(e) if a.image.contains("://") => return Err(e.into()),
        Err(e) => ImageName::parse(&format!("docker://{}", a.image)).map_err(|_| e)?,
    };
    if matches!(name, ImageName::Registry(_)) {
        settings.config()?;
    }
    let evaluation = ctx.runtime.block_on(async {
        let source = name.open_source(&settings).await?;
        let manifest = source.manifest().await?;
        let mut policy_name = source.policy_name();
        if policy_name.transport.is_empty()
            && let ImageName::Registry(r) = &name
        {
            policy_name = policy::docker_policy_name(r);
        }
        let signatures =
            if policy.needs_signatures(&policy_name) { source.signatures(&manifest.digest).await? } else { Vec::new() };
        let evaluation = policy.evaluate(&policy_name, &manifest, &signatures);
        Ok::<_, super::Error>((evaluation, signatures.len(), source.name()))
    })?;
    let (evaluation, found, image) = evaluation;
    let p = &ctx.printer;
    if a.json {
        p.json(&serde_json::json!({"image": image, "signatures_found": found, "evaluation": &evaluation}))?;
        return match evaluation.into_result() {
            Ok(()) => Ok(()),
            Err(e) => Err(Box::new(super::ExitWith { code: 1, error: e.into() })),
        };
    }
    p.line(format!("Image:    {image} ({})", evaluation.manifest_digest))?;
    p.line(format!(
        "Policy:   {}",
        evaluation.policy_path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "none".into())
    ))?;
    p.line(format!("Scope:    {}", evaluation.applied()))?;
    p.line(format!("Signatures found: {found}"))?;
    for (i, r) in evaluation.requirements.iter().enumerate() {
        let verdict = if r.allowed { "allowed" } else { "refused" };
        p.line(format!("Requirement {}: {} [{}]: {verdict}", i + 1, r.requirement, r.entry))?;
        for s in &r.signatures {
            let text = match &s.verdict {
                SignatureVerdict::Accepted { key, docker_reference, manifest_digest } => format!(
                    "accepted: signed{} for {docker_reference} at {manifest_digest}",
                    key.as_ref().map(|k| format!(" by key {k}")).unwrap_or_default()
                ),
                SignatureVerdict::Refused(why) => format!("refused: {why}"),
                SignatureVerdict::Skipped(why) => format!("not considered: {why}"),
            };
            p.line(format!("  signature {} ({}): {text}", s.index + 1, s.format))?;
        }
        if let Some(why) = &r.reason {
            p.line(format!("  reason: {why}"))?;
        }
    }
    let allowed = evaluation.allowed;
    p.line(format!("Result:   {}", if allowed { "allowed" } else { "refused" }))?;
    match evaluation.into_result() {
        Ok(()) => Ok(()),
        Err(e) => Err(Box::new(super::ExitWith { code: 1, error: e.into() })),
    }
}
