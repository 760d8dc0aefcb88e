//! `hoist build [-t NAME]... [-f Dockerfile] [--build-arg K=V]... [--target STAGE] [--platform P]... [--push]
//! CONTEXT`: an image from a Dockerfile without RUN, with no container runtime, root or daemon, as `podman
//! build` would make it. The Dockerfile is checked whole before anything is fetched; base images come from
//! the local store or are pulled into it (podman's `--pull=missing`, or always with `--pull`); the result
//! is stored under each `-t` name and, with `--push`, copied to the registry through the copy engine (base
//! layers there are skipped or mounted, only new layers are sent). Prints the image ID on stdout.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hoist_core::build::{self, Base, Bases, Options};
use hoist_core::config::Config;
use hoist_core::copy;
use hoist_core::image::{Manifest, Platform, media_type};
use hoist_core::reference::{Reference, looks_like_domain};
use hoist_core::store::Store;
use hoist_core::transport::registry::RegistryDestination;
use hoist_core::transport::store::{StoreDestination, StoreSource};
use hoist_core::transport::{ByteStream, ImageSource, RawManifest, RegistryRepo, TransportError};

use super::common::{CopyFlags, RegistryArgs, open_store, push_endpoint, resolve_source, short};
use super::{Context, Result, fail};

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
    /// Pull base images even when the local store has them
    #[arg(long)]
    pull: bool,
    /// Push the result to the registry under each -t name
    #[arg(long)]
    push: bool,
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    pub copy: CopyFlags,
}

pub fn run(a: Args, ctx: &Context) -> Result<()> {
    let dockerfile = read_dockerfile(&a.context, a.file.as_deref())?;
    // Everything that can be refused is refused before any work.
    build::check(&dockerfile, a.target.as_deref())?;
    let names = a.tags.iter().map(|t| local_name(t)).collect::<Result<Vec<_>>>()?;
    if names.is_empty() {
        return fail("hoist build needs a name for the image: give -t NAME (the store keeps images by name)");
    }
    if !a.context.is_dir() {
        return fail(format!("{}: the build context is not a directory", a.context.display()));
    }
    let mut platforms = Vec::new();
    for p in &a.platform {
        platforms.push(Platform::parse(p)?);
    }
    if platforms.is_empty() {
        platforms.push(Platform::host());
    }
    let timestamp = match (a.timestamp, std::env::var("SOURCE_DATE_EPOCH")) {
        (Some(t), _) => Some(t),
        (None, Ok(s)) if !s.trim().is_empty() => match s.trim().parse::<i64>() {
            Ok(t) => Some(t),
            Err(_) => return fail(format!("SOURCE_DATE_EPOCH={s:?} is not a number of seconds")),
        },
        _ => None,
    };
    let opts = Options {
        context: a.context.clone(),
        ignore: read_ignore(&a.context)?,
        dockerfile,
        build_args: build_args(&a.build_args)?,
        target: a.target.clone(),
        platforms,
        timestamp,
    };
    let config = ctx.load_config()?;
    let store = open_store()?;

    let mut bases =
        CliBases { ctx, config: &config, registry: &a.registry, store: store.clone(), pull: a.pull, copy: &a.copy };
    let built = build::build(&store, &opts, &mut bases, &Steps(ctx))?;
    for name in &names {
        store.tag(name, &built.manifest.descriptor())?;
    }
    let shown: Vec<String> = names.iter().map(Reference::to_string).collect();
    ctx.printer.progress_line(&format!("COMMIT {}", shown.join(", ")));
    ctx.printer.progress_line(&format!("--> {}", short(&built.id)));
    for n in &shown {
        ctx.printer.progress_line(&format!("Successfully tagged {n}"));
    }

    if a.push {
        let creds = a.registry.creds(&config, ctx)?;
        let mount_from = built
            .base_name
            .as_deref()
            .and_then(|n| Reference::parse_normalized(n).ok())
            .map(|r| RegistryRepo { host: r.domain().to_owned(), repo: r.path().to_owned() });
        for name in &names {
            let src =
                MountFrom { inner: StoreSource::open(store.clone(), &name.to_string())?, from: mount_from.clone() };
            let endpoint = push_endpoint(&config, name, &a.registry.tls());
            let progress = ctx.printer.copy_progress();
            let opts = copy::Options { jobs: a.copy.jobs, platform: None, all: true };
            ctx.printer.progress_line(&format!("Pushing {name}"));
            let report = ctx.runtime.block_on(async {
                let dst = RegistryDestination::open(&endpoint, name.clone(), &creds, &ctx.observer()).await?;
                Ok::<_, super::Error>(copy::copy(&src, &dst, &opts, progress.clone()).await?)
            })?;
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

/// A `-t` name as podman stores it: `localhost/` before a name without a registry, `:latest` by default.
fn local_name(t: &str) -> Result<Reference> {
    let first = t.split('/').next().unwrap_or("");
    let full = if t.contains('/') && looks_like_domain(first) { t.to_owned() } else { format!("localhost/{t}") };
    let r = Reference::parse_normalized(&full)?;
    if r.digest().is_some() {
        return fail(format!("-t {t}: a name cannot hold a digest"));
    }
    Ok(r.with_default_tag())
}

/// Build steps as podman prints them (`STEP 2/4: COPY . /app`), on stderr; warnings as every command's.
struct Steps<'a>(&'a Context);

impl hoist_core::observe::Observer for Steps<'_> {
    fn debug(&self, line: &str) {
        self.0.printer.debug(line);
    }

    fn warning(&self, line: &str) {
        self.0.printer.warn(line);
    }
}

impl build::Progress for Steps<'_> {
    fn step(&self, n: usize, total: usize, instruction: &str) {
        self.0.printer.progress_line(&format!("STEP {n}/{total}: {instruction}"));
    }
}

/// Base images: from the store when it has them for the platform (unless `--pull`), else pulled into it.
struct CliBases<'a> {
    ctx: &'a Context,
    config: &'a Config,
    registry: &'a RegistryArgs,
    store: Arc<Store>,
    pull: bool,
    copy: &'a CopyFlags,
}

impl Bases for CliBases<'_> {
    fn base(&mut self, name: &str, platform: &Platform) -> std::result::Result<Base, String> {
        if !self.pull
            && let Ok(image) = self.store.find(name)
            && let Some(descriptor) = stored_for(&self.store, &image.descriptor, platform)
        {
            let shown = image.names.first().map(Reference::to_string).unwrap_or_else(|| name.to_owned());
            return Ok(Base { descriptor, name: shown });
        }
        let progress = self.ctx.printer.copy_progress();
        let opts = copy::Options { jobs: self.copy.jobs, platform: Some(platform.clone()), all: false };
        let reference = self
            .ctx
            .runtime
            .block_on(async {
                let (reference, src) = resolve_source(name, self.config, self.registry, self.ctx).await?;
                let dst = StoreDestination::open(self.store.clone(), reference.clone())?;
                copy::copy(&src, &dst, &opts, progress.clone()).await?;
                Ok::<_, super::Error>(reference)
            })
            .map_err(|e| e.to_string())?;
        let image = self.store.find(&reference.to_string()).map_err(|e| e.to_string())?;
        Ok(Base { descriptor: image.descriptor, name: reference.to_string() })
    }
}

/// The image manifest for `platform` that `top` (an image or an index) holds, when every blob it needs
/// is in the store.
fn stored_for(
    store: &Store,
    top: &hoist_core::image::Descriptor,
    platform: &Platform,
) -> Option<hoist_core::image::Descriptor> {
    let (_, manifest) = store.read_manifest(top).ok()?;
    let (descriptor, image) = match manifest {
        Manifest::Image(m) => (top.clone(), m),
        Manifest::Index(index) => {
            let child = index.choose(platform)?.clone();
            let (_, m) = store.read_manifest(&child).ok()?;
            (child, m.as_image()?.clone())
        }
    };
    let complete =
        image.blobs().filter(|b| !b.is_foreign()).all(|b| store.has_blob(&b.digest).ok().flatten() == Some(b.size));
    let config = store.read_blob(&image.config.digest, hoist_core::image::MAX_CONFIG_SIZE).ok()?;
    let arch_ok = hoist_core::image::ImageConfig::parse(&config).ok()?.platform().matches(platform);
    (complete && arch_ok && media_type::is_image_manifest(&descriptor.media_type)).then_some(descriptor)
}

/// A stored image whose blobs a registry may already hold in the base image's repository: the copy engine
/// mounts them from there instead of uploading.
struct MountFrom {
    inner: StoreSource,
    from: Option<RegistryRepo>,
}

#[async_trait::async_trait]
impl ImageSource for MountFrom {
    fn name(&self) -> String {
        self.inner.name()
    }
    async fn manifest(&self) -> std::result::Result<RawManifest, TransportError> {
        self.inner.manifest().await
    }
    async fn manifest_by_digest(
        &self,
        digest: &hoist_core::digest::Digest,
    ) -> std::result::Result<RawManifest, TransportError> {
        self.inner.manifest_by_digest(digest).await
    }
    async fn blob(&self, blob: &hoist_core::image::Descriptor) -> std::result::Result<ByteStream, TransportError> {
        self.inner.blob(blob).await
    }
    fn registry_repo(&self) -> Option<RegistryRepo> {
        self.from.clone()
    }
}
