//! `hoist build [-t NAME]... [-f Dockerfile] [--build-arg K=V]... [--target STAGE] [--platform P]... [--push]
//! CONTEXT`: an image from a Dockerfile without RUN, with no container runtime, root or daemon, as `podman
//! build` would make it. The Dockerfile is checked whole before anything is fetched; base images come from
//! the local store or are pulled into it (podman's `--pull=missing`, or always with `--pull`); the result
//! is stored under each `-t` name and, with `--push`, copied to the registry through the copy engine (base
//! layers there are skipped or mounted, only new layers are sent). `--format oci|docker` (podman's; default
//! `BUILDAH_FORMAT`) makes an OCI or a Docker schema 2 image, pushed as it is. Prints the image ID on stdout.

use hoist_core::build::{self, BuildOptions};
use hoist_core::image::Platform;
use hoist_core::ops::{self, MountFrom};
use hoist_core::reference::Reference;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::common::{CopyFlags, PolicyArgs, RegistryArgs, SignArgs, SignatureStorageArgs};
use super::{Invocation, Result, fail};

#[derive(clap::Args)]
pub struct Args {
    /// The build context directory (COPY and ADD read from it)
    #[arg(default_value = ".")]
    context: PathBuf,
    /// Name the image (several times for several names); a name without a registry gets localhost/, as
    /// podman's
    #[arg(short, long = "tag", value_name = "NAME")]
    tags: Vec<String>,
    /// The Dockerfile (default: CONTEXT/Containerfile, else CONTEXT/Dockerfile); - reads it from stdin
    #[arg(short, long = "file", value_name = "PATH")]
    file: Option<PathBuf>,
    /// Set a build-time variable declared with ARG (NAME alone takes it from the environment)
    #[arg(long = "build-arg", value_name = "NAME[=VALUE]")]
    build_args: Vec<String>,
    /// Build this stage (and what it needs) instead of the last one
    #[arg(long, value_name = "STAGE")]
    target: Option<String>,
    /// Build for OS/ARCH[/VARIANT]; several (repeated or comma-separated) build an index
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", value_delimiter = ',')]
    platform: Vec<String>,
    /// Seconds since the epoch for every created time and file mtime (default: $SOURCE_DATE_EPOCH, else now
    /// and the files' own mtimes)
    #[arg(long, value_name = "SECONDS")]
    timestamp: Option<i64>,
    /// The image's format: oci or docker (Docker schema 2 manifest and config); oci drops HEALTHCHECK, SHELL
    /// and ONBUILD with a warning, as podman (default: $BUILDAH_FORMAT, else OCI keeping them, as BuildKit)
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    /// Pull base images even when the local store has them
    #[arg(long)]
    pull: bool,
    /// Push the result to the registry under each -t name
    #[arg(long)]
    push: bool,
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    policy: PolicyArgs,
    #[command(flatten)]
    sign: SignArgs,
    #[command(flatten)]
    pub copy: CopyFlags,
    #[command(flatten)]
    signature_storage: SignatureStorageArgs,
}

pub fn run(a: Args, ctx: &Invocation) -> Result<()> {
    // podman's first check, and its words.
    if !a.context.is_dir() {
        return fail(format!("context must be a directory: {:?}", a.context));
    }
    let dockerfile = read_dockerfile(&a.context, a.file.as_deref())?;
    // Everything that can be refused is refused before any work.
    build::check(&dockerfile, a.target.as_deref())?;
    let names = a.tags.iter().map(|t| local_name(t)).collect::<Result<Vec<_>>>()?;
    if names.is_empty() {
        return fail("hoist build needs a name for the image: give -t NAME (the store keeps images by name)");
    }
    let mut platforms = Vec::new();
    for p in &a.platform {
        platforms.push(Platform::parse(p)?);
    }
    if platforms.is_empty() {
        platforms.push(Platform::host());
    }
    let timestamp = ctx.settings.build_timestamp(a.timestamp)?;
    let format = ctx.settings.build_format(a.format.as_deref())?;
    let opts = BuildOptions {
        context: a.context.clone(),
        ignore: read_ignore(&a.context)?,
        dockerfile,
        build_args: build_args(&a.build_args)?,
        target: a.target.clone(),
        platforms,
        timestamp,
        format,
    };
    let signing = a.sign.flags.any() || a.sign.remove_signatures;
    if signing && !a.push {
        return fail("--sign-by, --sign-by-sigstore-private-key and --remove-signatures apply to --push");
    }
    let settings =
        a.signature_storage.apply(a.sign.apply(a.policy.apply(a.registry.settings(ctx)?))?.with_jobs(a.copy.jobs));
    settings.config()?;
    if a.push {
        // A policy that cannot be read refuses the push: say so before building.
        settings.policy()?;
    }
    // Steps (`STEP 2/4: COPY . /app`) go to stdout as podman's, warnings to stderr as every command's.
    let observer = ctx.printer.build_observer();
    let runtime = ctx.runtime.handle().clone();
    let built = ops::build(&settings, &opts, &names, a.pull, runtime, ctx.printer.copy_progress(), &*observer)?;
    // podman: `COMMIT` and the first name as given, the ID's first 11 digits, then every name stored.
    let p = &ctx.printer;
    p.build_line(&format!("{}COMMIT {}", built.commit_prefix, a.tags[0]))?;
    p.build_line(&format!("--> {}", &built.id.hex()[..11]))?;
    for n in &names {
        p.build_line(&format!("Successfully tagged {n}"))?;
    }

    if a.push {
        // Blobs of the base are mounted from its repository when the registry is the same.
        let mount_from = MountFrom::base_repo(built.base_name.as_deref());
        for name in &names {
            let progress = ctx.printer.copy_progress();
            ctx.printer.progress_line(&format!("Pushing {name}"));
            let image = name.to_string();
            let push = ops::push(&settings, &image, Some(name), mount_from.clone(), progress.clone());
            let (_, report) = ctx.runtime.block_on(push)?;
            progress.summary(&report);
        }
    }
    ctx.printer.line(built.id.hex())?;
    Ok(())
}

/// `-f PATH` (`-` for stdin), else `CONTEXT/Containerfile`, else `CONTEXT/Dockerfile`.
fn read_dockerfile(context: &Path, file: Option<&Path>) -> Result<String> {
    let path = match file {
        Some(p) if p == Path::new("-") => {
            return build::dockerfile::read(std::io::stdin().lock())
                .map_err(|e| format!("reading the Dockerfile from stdin: {e}").into());
        }
        Some(p) => p.to_owned(),
        None => match ["Containerfile", "Dockerfile"].iter().map(|n| context.join(n)).find(|p| p.is_file()) {
            Some(p) => p,
            None => return fail(format!("no Containerfile or Dockerfile in {}: give -f PATH", context.display())),
        },
    };
    // At most build::dockerfile::MAX_SIZE bytes (and one more, for the parser to refuse with its line).
    std::fs::File::open(&path)
        .and_then(build::dockerfile::read)
        .map_err(|e| format!("reading {}: {e}", path.display()).into())
}

/// `CONTEXT/.containerignore`, else `CONTEXT/.dockerignore` (podman's order), if there is one.
fn read_ignore(context: &Path) -> Result<Option<String>> {
    for name in [".containerignore", ".dockerignore"] {
        let p = context.join(name);
        if p.is_file() {
            return Ok(Some(std::fs::read_to_string(&p).map_err(|e| format!("reading {}: {e}", p.display()))?));
        }
    }
    Ok(None)
}

/// `NAME=VALUE`, or `NAME` with the value from the environment (skipped when it is not set), as podman.
fn build_args(given: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for g in given {
        match g.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                out.insert(k.to_owned(), v.to_owned());
            }
            Some(_) => return fail(format!("--build-arg {g:?}: the name is empty")),
            None => {
                if let Ok(v) = std::env::var(g) {
                    out.insert(g.clone(), v);
                }
            }
        }
    }
    Ok(out)
}

/// A `-t` name as podman stores it: `localhost/` before a name without a registry
/// ([`Reference::parse_local`], the rule `tag` and `load` follow), `:latest` by default.
fn local_name(t: &str) -> Result<Reference> {
    let r = Reference::parse_local(t)?;
    if r.digest().is_some() {
        return fail(format!("-t {t}: a name cannot hold a digest"));
    }
    Ok(r.with_default_tag())
}
