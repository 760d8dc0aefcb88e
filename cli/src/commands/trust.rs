//! `hoist trust`: the image trust policy (containers-policy.json(5)). `show` and `set` as podman's `image
//! trust show` / `image trust set` (same flags, same table and JSON, a file podman reads back); `check IMAGE`
//! says which scope of the policy applies to an image, what each requirement decided and why each signature
//! was accepted or refused, and exits 1 when the image would be refused.

use std::path::PathBuf;

use clap::Subcommand;
use hoist_core::copy::{self, Judged};
use hoist_core::trust::policy::{self, Policy, SetType, SignatureVerdict};
use hoist_core::trust::storage::RegistriesD;

use super::common::{PlatformArgs, RegistryArgs, SignatureStorageArgs};
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
        /// The containers-registries.d(5) directory whose lookasides fill STORE (podman's flag; default:
        /// $HOME/.config/containers/registries.d when it exists, else /etc/containers/registries.d)
        #[arg(long, visible_alias = "registries.d", value_name = "DIR")]
        registrypath: Option<PathBuf>,
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
    #[command(flatten)]
    signature_storage: SignatureStorageArgs,
    #[command(flatten)]
    platform: PlatformArgs,
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
        Command::Show { policypath, json, raw, noheading, registrypath } => {
            show(policypath, json, raw, noheading, registrypath, ctx)
        }
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

fn show(
    path: Option<PathBuf>,
    json: bool,
    raw: bool,
    noheading: bool,
    registries_d: Option<PathBuf>,
    ctx: &Invocation,
) -> Result<()> {
    let policy = Policy::load(path.as_deref())?;
    if raw {
        let file = policy.path.clone().unwrap_or_default();
        let bytes = std::fs::read(&file).map_err(|e| format!("reading {}: {e}", file.display()))?;
        return Ok(ctx.printer.document(&bytes)?);
    }
    let storage = RegistriesD::load(registries_d.as_deref())?;
    let rows = policy.show_rows(&policy::gpg_key_ids_of, &|scope| storage.shown_lookaside(scope));
    if json {
        return Ok(ctx.printer.json(&rows)?);
    }
    for line in policy::show_table(&rows, !noheading).lines() {
        ctx.printer.line(line)?;
    }
    Ok(())
}

fn check(a: CheckArgs, ctx: &Invocation) -> Result<()> {
    let mut settings = a.signature_storage.apply(a.registry.settings(ctx)?);
    settings.signature_policy = a.signature_policy.clone();
    let policy = Policy::load(a.signature_policy.as_deref())?;
    let opts = copy::Options { platform: a.platform.platform()?, ..copy::Options::default() };
    // As the copy engine: the top-level manifest, then the instance chosen from an index.
    let (judged, image) = ctx.runtime.block_on(hoist_core::ops::judge(&settings, &policy, &a.image, &opts))?;
    let allowed = judged.iter().all(|j| j.evaluation.allowed);
    let refusal = judged.iter().find(|j| !j.evaluation.allowed).map(|j| j.evaluation.clone());
    let p = &ctx.printer;
    if a.json {
        let entry =
            |j: &Judged| serde_json::json!({"SignaturesFound": j.signatures_found, "Evaluation": &j.evaluation});
        let mut doc = serde_json::json!({"Image": image, "Allowed": allowed});
        if let Some(top) = judged.first() {
            doc["SignaturesFound"] = top.signatures_found.into();
            doc["Evaluation"] = serde_json::json!(&top.evaluation);
        }
        if let Some(instance) = judged.get(1) {
            doc["Instance"] = entry(instance);
        }
        p.json(&doc)?;
    } else {
        for (i, j) in judged.iter().enumerate() {
            print_judged(p, &image, i, j)?;
        }
        p.line(format!("Result:   {}", if allowed { "allowed" } else { "refused" }))?;
    }
    match refusal.map(|e| e.into_result()) {
        Some(Err(e)) => Err(Box::new(super::ExitWith { code: 1, error: e.into() })),
        _ => Ok(()),
    }
}

/// One manifest's verdict: the image's (`i` 0: with the policy and scope), then the chosen instance's.
fn print_judged(p: &crate::printer::Printer, image: &str, i: usize, j: &Judged) -> Result<()> {
    let evaluation = &j.evaluation;
    if i == 0 {
        p.line(format!("Image:    {image} ({})", evaluation.manifest_digest))?;
        p.line(format!(
            "Policy:   {}",
            evaluation.policy_path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "none".into())
        ))?;
        p.line(format!("Scope:    {}", evaluation.applied()))?;
    } else {
        p.line(format!("Instance: {} (the image chosen from the index)", evaluation.manifest_digest))?;
    }
    p.line(format!("Signatures found: {}", j.signatures_found))?;
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
    Ok(())
}
