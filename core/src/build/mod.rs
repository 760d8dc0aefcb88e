//! `hoist build`: images from Dockerfiles without RUN, made without a container runtime, root or daemon —
//! only the base image's manifest, config and layers (read, never run) and layers made from the build
//! context.
//!
//! The pieces, each a pure parser or a small step:
//! - [`dockerfile::parse`]: the Dockerfile's text into instructions with line numbers;
//! - [`dockerignore::parse`]: `.dockerignore` with docker's semantics;
//! - [`shell`]: words and `$variable` substitution; [`glob`]: Go's `filepath.Match` and `**`;
//! - [`context`]: the build context as a builder sees it; [`tree`]: an image's filesystem indexed from its
//!   layers; [`users`]: `--chown` and `USER` names from the image's `/etc/passwd` and `/etc/group`;
//! - [`layer`]: one reproducible gzip'd tar layer into the store;
//! - `stage`: what each instruction does to an image, dispatched by its [`dockerfile::Keyword`]; `copy`:
//!   `COPY` and `ADD` (`unpack`: the archives `ADD` unpacks); `args`: the small grammars of instruction
//!   arguments (ports, modes, durations, `HEALTHCHECK`); `config`: the image config with the fields
//!   instructions set typed; `state`: an image being built (from `scratch` or the store) and how it is
//!   written.
//!
//! [`build`] plans first — parse, stages, `--target`, and every refusal (`RUN`, `ADD` of a URL, unknown
//! flags) — before any base image is fetched or any layer written; then builds each platform asked for and
//! writes the result (an image manifest, or an OCI index over several platforms) into the store. Base
//! images come through the [`Bases`] the caller gives (the CLI pulls them with the copy engine).
//!
//! What it is not: a container runtime. Nothing of the image is ever executed; `RUN` is refused.

mod args;
mod config;
pub mod context;
mod copy;
pub mod dockerfile;
pub mod dockerignore;
pub mod glob;
pub mod layer;
pub mod refusal;
pub mod shell;
mod stage;
mod state;
pub mod tree;
mod unpack;
pub mod users;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::digest::Digest;
use crate::image::{Descriptor, ImageError, Platform};
use crate::observe::Observer;
use crate::store::{Store, StoreError};
use crate::transport::RawManifest;
use dockerfile::{Dockerfile, Instruction, Keyword, ParseError};
use refusal::Refusal;

/// Why a build failed. One line each, with the Dockerfile line when there is one.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// An instruction refused before any work, or one that failed: where, and why.
    #[error("Dockerfile line {line}: {refusal}")]
    At { line: usize, refusal: Refusal },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Image(#[from] ImageError),
    /// A layer of an image (a base, or one `COPY --from` reads) that cannot be read: corrupt, or refused by
    /// the decompression-bomb rule.
    #[error("reading layer {blob}: {message}")]
    Layer { blob: Digest, message: String },
    /// The image config would pass [`crate::image::MAX_CONFIG_SIZE`].
    #[error(
        "the image config would be {size} bytes, more than the {} (8 MiB) hoist and registries read back",
        crate::image::MAX_CONFIG_SIZE
    )]
    ConfigTooLarge { size: usize },
    /// `COPY --from` names a stage that was not built (it comes later, or is not needed).
    #[error("stage {stage:?} was not built")]
    StageNotBuilt { stage: String },
    /// A parent of a path being written is something else than a directory in the image.
    #[error("{path} is not a directory in the image")]
    NotADirectory { path: String },
    /// A file of the build context, or one hoist reads or writes for the build, that failed.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// Writing a layer failed (`path`: the entry being written, when one was).
    #[error("writing {} layer: {source}", path.as_ref().map_or("a".to_owned(), |p| format!("{p} into a")))]
    WriteLayer { path: Option<String>, source: std::io::Error },
    /// A path that passes through more symlinks than hoist follows (40).
    #[error("{path}: too many levels of symbolic links")]
    TooManyLinks { path: String },
    /// A `COPY`/`ADD` source naming nothing (`what`: where it was looked for).
    #[error("{source_path}: {what}")]
    SourceNotFound { source_path: String, what: &'static str },
    #[error(transparent)]
    Pattern(#[from] glob::BadPattern),
    #[error(transparent)]
    Owner(#[from] users::OwnerError),
    /// A file of an image too large for hoist to read whole (`/etc/passwd`, `/etc/group`).
    #[error("{path} is larger than {max} bytes, too large to read")]
    FileTooLarge { path: String, max: u64 },
    /// A base image that is an index where an image is needed.
    #[error("{name} is an index, not an image")]
    BaseIsIndex { name: String },
    /// A base image whose config is not a JSON object.
    #[error("the config of {name}: {message}")]
    BaseConfig { name: String, message: String },
    /// `COPY --from=IMAGE`: the image could not be had (the [`Bases`]' error, with its type).
    #[error("--from={name}: {source}")]
    FromImage {
        name: String,
        #[source]
        source: BaseError,
    },
    /// `FROM IMAGE`: the base image could not be had (the [`Bases`]' error, with its type).
    #[error("Dockerfile line {line}: FROM {name}: {source}")]
    Base {
        line: usize,
        name: String,
        #[source]
        source: BaseError,
    },
    /// An instruction that failed: where, which, and the error with its type.
    #[error("Dockerfile line {line}: {keyword}: {source}")]
    Step { line: usize, keyword: Keyword, source: Box<BuildError> },
    /// An archive `ADD` unpacks that cannot be read (corrupt, or past the bomb rule).
    #[error("unpacking {archive}: {message}")]
    Unpack { archive: String, message: String },
    #[error(transparent)]
    XzTooLarge(#[from] crate::archive::compression::XzTooLarge),
    /// A path of the build context hoist cannot copy (`what`: why).
    #[error("{}: {what}", path.display())]
    Uncopyable { path: PathBuf, what: &'static str },
    #[error("the Dockerfile has no FROM: nothing to build")]
    NoFrom,
    #[error("target stage {target:?} could not be found")]
    TargetNotFound { target: String },
    #[error("no platform to build for")]
    NoPlatform,
    #[error(".dockerignore: {0}")]
    Ignore(#[from] dockerignore::IgnoreError),
    /// `--format docker` of an image Docker schema 2 cannot describe (a base with zstd layers).
    #[error("--format docker: {0}")]
    DockerFormat(crate::image::convert::ConvertError),
}

impl BuildError {
    /// The error, placed at `line` unless it already has a place.
    fn at(self, line: usize, keyword: Keyword) -> BuildError {
        match self {
            e @ (BuildError::At { .. } | BuildError::Parse(_) | BuildError::Base { .. } | BuildError::Step { .. }) => e,
            other => BuildError::Step { line, keyword, source: Box::new(other) },
        }
    }
}

fn at<T>(line: usize, refusal: Refusal) -> Result<T, BuildError> {
    Err(BuildError::At { line, refusal })
}

/// At most 80 characters of `s`.
pub(crate) fn excerpt(s: &str) -> String {
    crate::image::excerpt(s)
}

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The build context directory.
    pub context: PathBuf,
    /// The Dockerfile's text.
    pub dockerfile: String,
    /// The `.dockerignore` (or `.containerignore`) text, if the context has one.
    pub ignore: Option<String>,
    /// `--build-arg NAME=VALUE`.
    pub build_args: BTreeMap<String, String>,
    /// `--target STAGE`: the stage to build (default: the last).
    pub target: Option<String>,
    /// The platforms to build for, at least one; several make an index.
    pub platforms: Vec<Platform>,
    /// Seconds since the epoch for every timestamp (created times and file mtimes): `SOURCE_DATE_EPOCH` or
    /// `--timestamp`. `None`: now, and files keep their mtimes.
    pub timestamp: Option<i64>,
    /// `--format` (or `BUILDAH_FORMAT`): OCI or Docker schema 2.
    pub format: BuildFormat,
}

/// What a build writes: `hoist build --format oci|docker`, podman's flag (its default from `BUILDAH_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BuildFormat {
    /// No `--format`: an OCI manifest (an OCI index for several platforms) and config, with `Healthcheck`,
    /// `Shell` and `OnBuild` kept in the config as BuildKit keeps them.
    #[default]
    Oci,
    /// `--format oci`: podman's OCI image: `Healthcheck`, `Shell` and `OnBuild`, which the OCI image config
    /// has no place for, are dropped, each with podman's warning.
    OciAsPodman,
    /// `--format docker`: a Docker schema 2 manifest (a manifest list for several platforms), Docker's config
    /// and layer media types; the config's bytes are those of [`BuildFormat::Oci`] (the same image ID).
    Docker,
}

/// A `--format` or `BUILDAH_FORMAT` (`from_env`) that names no format hoist builds; podman's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unrecognized image type {given:?}{}: use oci or docker", if *from_env { " (from BUILDAH_FORMAT)" } else { "" })]
pub struct UnknownBuildFormat {
    pub given: String,
    pub from_env: bool,
}

impl std::str::FromStr for BuildFormat {
    type Err = UnknownBuildFormat;

    /// podman's rule: case does not matter, and a word starting with `oci` or `docker` names that format.
    fn from_str(s: &str) -> Result<BuildFormat, UnknownBuildFormat> {
        let lower = s.to_ascii_lowercase();
        if lower.starts_with("oci") {
            Ok(BuildFormat::OciAsPodman)
        } else if lower.starts_with("docker") {
            Ok(BuildFormat::Docker)
        } else {
            Err(UnknownBuildFormat { given: s.to_owned(), from_env: false })
        }
    }
}

/// A base image the caller made available in the store.
#[derive(Debug, Clone)]
pub struct Base {
    /// The image manifest (of the platform asked for), in the store.
    pub descriptor: Descriptor,
    /// Its full name, for the `org.opencontainers.image.base.name` annotation.
    pub name: String,
}

/// Where base images (`FROM image`, `COPY --from=image`) come from.
pub trait Bases {
    /// Makes the image `name` for `platform` available in the store and returns its image manifest.
    fn base(&mut self, name: &str, platform: &Platform) -> Result<Base, BaseError>;
}

/// Why a [`Bases`] could not make an image available. One line; the error it comes from keeps its type.
#[derive(Debug, thiserror::Error)]
pub enum BaseError {
    /// The store the base is read from failed.
    #[error(transparent)]
    Store(Box<StoreError>),
    /// The image could not be had: the implementation's own error (`ops::StoreBases`: the
    /// [`crate::ops::Error`] of pulling it), or none such.
    #[error(transparent)]
    Unavailable(Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl From<StoreError> for BaseError {
    fn from(e: StoreError) -> Self {
        BaseError::Store(Box::new(e))
    }
}

/// What a build made.
#[derive(Debug, Clone)]
pub struct Built {
    /// The top-level manifest in the store: the image's, or an index over the platforms.
    pub manifest: RawManifest,
    /// podman's image ID: the config digest for one platform, the index digest for several.
    pub id: Digest,
    /// The layers this build made (not the base's), per platform.
    pub new_layers: Vec<Descriptor>,
    /// Where the final stage's base came from (`registry/repo`), for mounts when pushing.
    pub base_name: Option<String>,
    /// What podman writes before the target stage's lines, its `COMMIT` included: `[2/2] ` when the
    /// Dockerfile has several stages up to the target, else nothing.
    pub commit_prefix: String,
}

/// One `FROM` and the instructions after it.
#[derive(Debug, Clone)]
pub(crate) struct StagePlan {
    pub index: usize,
    /// `AS name`, lower case.
    pub name: Option<String>,
    pub from: Instruction,
    /// The base as written (expanded when the stage runs).
    pub base: String,
    pub instructions: Vec<Instruction>,
}

/// The whole build, checked.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub escape: char,
    /// `ARG`s before the first `FROM`.
    pub globals: Vec<Instruction>,
    pub stages: Vec<StagePlan>,
    /// The stages to build, in order (the target and what it needs).
    pub needed: Vec<usize>,
    pub target: usize,
}

/// True for the `ADD` sources docker downloads (or clones).
pub(crate) fn is_remote(src: &str) -> bool {
    let lower = src.to_ascii_lowercase();
    ["http://", "https://", "git://", "git@", "ssh://"].iter().any(|p| lower.starts_with(p))
}

/// The refusal of an instruction that needs a container.
pub(crate) fn refuse_run(ins: &Instruction) -> BuildError {
    BuildError::At {
        line: ins.line,
        refusal: Refusal::NeedsContainer { instruction: excerpt(&ins.original), keyword: ins.keyword },
    }
}

/// The refusal of `ADD URL`.
pub(crate) fn refuse_url(line: usize, src: &str) -> BuildError {
    BuildError::At { line, refusal: Refusal::Download { url: excerpt(src) } }
}

/// Splits the Dockerfile into stages and checks everything that can be checked without fetching anything.
pub(crate) fn plan(df: &Dockerfile, target: Option<&str>) -> Result<Plan, BuildError> {
    let mut globals = Vec::new();
    let mut stages: Vec<StagePlan> = Vec::new();
    for ins in &df.instructions {
        if ins.keyword == Keyword::Run {
            return Err(refuse_run(ins));
        }
        for f in &ins.flags {
            if !ins.keyword.flags().contains(&f.name.as_str()) {
                let why = match (ins.keyword, f.name.as_str()) {
                    (Keyword::Add, "checksum" | "keep-git-dir") => " (it is for downloads, which hoist does not do)",
                    (Keyword::Copy, "parents" | "exclude") => " (a labs feature hoist does not have)",
                    _ => "",
                };
                return at(ins.line, Refusal::FlagNotTaken { keyword: ins.keyword, flag: f.name.clone(), why });
            }
        }
        if ins.keyword == Keyword::Add {
            let words = ins.json().unwrap_or_else(|| shell::split_words(&ins.args, df.escape));
            if let Some(url) = words.iter().take(words.len().saturating_sub(1)).find(|w| is_remote(w)) {
                return Err(refuse_url(ins.line, url));
            }
        }
        if ins.keyword == Keyword::From {
            let words = shell::split_words(&ins.args, df.escape);
            let (base, name) = match words.as_slice() {
                [b] => (b.clone(), None),
                [b, as_, n] if as_.eq_ignore_ascii_case("as") => (b.clone(), Some(n.to_ascii_lowercase())),
                _ => return at(ins.line, Refusal::FromSyntax),
            };
            if let Some(n) = &name {
                let ok = n.starts_with(|c: char| c.is_ascii_alphabetic())
                    && n.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
                if !ok {
                    return at(ins.line, Refusal::InvalidStageName { name: n.clone() });
                }
                if stages.iter().any(|s| s.name.as_deref() == Some(n)) {
                    return at(ins.line, Refusal::DuplicateStageName { name: n.clone() });
                }
            }
            stages.push(StagePlan { index: stages.len(), name, from: ins.clone(), base, instructions: Vec::new() });
            continue;
        }
        match stages.last_mut() {
            Some(s) => s.instructions.push(ins.clone()),
            None if ins.keyword == Keyword::Arg => globals.push(ins.clone()),
            None => return at(ins.line, Refusal::BeforeFrom { keyword: ins.keyword }),
        }
    }
    if stages.is_empty() {
        return Err(BuildError::NoFrom);
    }
    let target = match target {
        None => stages.len() - 1,
        Some(t) => match stages.iter().position(|s| s.name.as_deref() == Some(&t.to_ascii_lowercase())) {
            Some(i) => i,
            None => return Err(BuildError::TargetNotFound { target: t.to_owned() }),
        },
    };
    // What the target needs: FROM <stage> and COPY --from=<stage>, transitively.
    let mut needed = BTreeSet::new();
    let mut todo = vec![target];
    while let Some(i) = todo.pop() {
        if !needed.insert(i) {
            continue;
        }
        let s = &stages[i];
        let mut refs = vec![(s.from.line, s.base.clone())];
        for ins in s.instructions.iter().filter(|x| x.keyword == Keyword::Copy) {
            if let Some(v) = ins.flag("from").and_then(|f| f.value.clone()) {
                refs.push((ins.line, v));
            }
        }
        for (line, r) in refs {
            if let Some(j) = stage_ref(&stages, &r) {
                if j >= i {
                    return at(line, Refusal::StageUsedBeforeDefined { stage: r });
                }
                todo.push(j);
            }
        }
    }
    Ok(Plan { escape: df.escape, globals, stages, needed: needed.into_iter().collect(), target })
}

/// The stage `r` names (by name, any case, or by index), if it names one.
pub(crate) fn stage_ref(stages: &[StagePlan], r: &str) -> Option<usize> {
    let lower = r.to_ascii_lowercase();
    if let Some(i) = stages.iter().position(|s| s.name.as_deref() == Some(lower.as_str())) {
        return Some(i);
    }
    r.parse::<usize>().ok().filter(|&i| i < stages.len())
}

/// Checks a Dockerfile as [`build`] does before any work: parse errors, `RUN`, `ADD` of a URL, unknown
/// flags, stages and `--target`. The error is one line with the Dockerfile line.
pub fn check(dockerfile: &str, target: Option<&str>) -> Result<(), BuildError> {
    plan(&dockerfile::parse(dockerfile)?, target).map(drop)
}

/// Builds the image `opts` describes into `store`; base images come through `bases`. The result is not
/// named: the caller tags it ([`Store::tag`]).
pub fn build(
    store: &Store,
    opts: &BuildOptions,
    bases: &mut dyn Bases,
    progress: &dyn Observer,
) -> Result<Built, BuildError> {
    let df = dockerfile::parse(&opts.dockerfile)?;
    let plan = plan(&df, opts.target.as_deref())?;
    if opts.platforms.is_empty() {
        return Err(BuildError::NoPlatform);
    }
    let ignore = match &opts.ignore {
        Some(text) => dockerignore::parse(text)?,
        None => dockerignore::DockerIgnore::default(),
    };
    let context = context::Context::new(&opts.context, ignore)?;
    let _session = store.session()?;
    stage::run(store, &plan, &context, opts, bases, progress)
}

#[cfg(test)]
mod tests;
