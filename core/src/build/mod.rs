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
//! - `stage`: what each instruction does to an image (config fields as podman sets them, history entries,
//!   layers for `COPY`, `ADD` and a `WORKDIR` that creates its directory).
//!
//! [`build`] plans first — parse, stages, `--target`, and every refusal (`RUN`, `ADD` of a URL, unknown
//! flags) — before any base image is fetched or any layer written; then builds each platform asked for and
//! writes the result (an image manifest, or an OCI index over several platforms) into the store. Base
//! images come through the [`Bases`] the caller gives (the CLI pulls them with the copy engine).
//!
//! What it is not: a container runtime. Nothing of the image is ever executed; `RUN` is refused.

pub mod context;
pub mod dockerfile;
pub mod dockerignore;
pub mod glob;
pub mod layer;
pub mod shell;
mod stage;
pub mod tree;
pub mod users;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::digest::Digest;
use crate::image::{Descriptor, ImageError, Platform};
use crate::store::{Store, StoreError};
use crate::transport::RawManifest;
use dockerfile::{Dockerfile, Instruction, ParseError};

/// Why a build failed. One line each, with the Dockerfile line when there is one.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// An instruction refused before any work, or one that failed: where, and why.
    #[error("Dockerfile line {line}: {message}")]
    At { line: usize, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error("{0}")]
    Other(String),
}

impl BuildError {
    /// The error, placed at `line` unless it already has a place.
    fn at(self, line: usize, keyword: &str) -> BuildError {
        match self {
            e @ (BuildError::At { .. } | BuildError::Parse(_)) => e,
            other => BuildError::At { line, message: format!("{keyword}: {other}") },
        }
    }
}

fn at<T>(line: usize, message: impl Into<String>) -> Result<T, BuildError> {
    Err(BuildError::At { line, message: message.into() })
}

/// At most 80 characters of `s`.
pub(crate) fn excerpt(s: &str) -> String {
    crate::image::excerpt(s)
}

/// What to build.
#[derive(Debug, Clone)]
pub struct Options {
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
    /// Makes the image `name` for `platform` available in the store and returns its image manifest. The
    /// error is one line.
    fn base(&mut self, name: &str, platform: &Platform) -> Result<Base, String>;
}

/// What a build tells while it runs: the steps it starts, on top of what every library operation tells
/// through its [`Observer`](crate::observe::Observer) — warnings (build args nobody used, a base for another
/// platform, entries `ADD` left out) and debug lines go there, the one way text leaves the library.
pub trait Progress: crate::observe::Observer {
    /// Step `n` of `total` starts: `FROM x`, `COPY a b`, ...
    fn step(&self, _n: usize, _total: usize, _instruction: &str) {}
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

/// Flags each instruction takes.
fn allowed_flags(keyword: &str) -> &'static [&'static str] {
    match keyword {
        "FROM" => &["platform"],
        "COPY" => &["from", "chown", "chmod", "link"],
        "ADD" => &["chown", "chmod", "link"],
        "HEALTHCHECK" => &["interval", "timeout", "start-period", "start-interval", "retries"],
        _ => &[],
    }
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
        message: format!(
            "{}: hoist builds without running containers, and {} needs one (build this Dockerfile with podman \
             build or buildah)",
            excerpt(&ins.original),
            ins.keyword
        ),
    }
}

/// The refusal of `ADD URL`.
pub(crate) fn refuse_url(line: usize, src: &str) -> BuildError {
    BuildError::At {
        line,
        message: format!(
            "ADD {}: hoist builds offline and does not download: fetch the file into the build context and COPY it",
            excerpt(src)
        ),
    }
}

/// Splits the Dockerfile into stages and checks everything that can be checked without fetching anything.
pub(crate) fn plan(df: &Dockerfile, target: Option<&str>) -> Result<Plan, BuildError> {
    let mut globals = Vec::new();
    let mut stages: Vec<StagePlan> = Vec::new();
    for ins in &df.instructions {
        if ins.keyword == "RUN" {
            return Err(refuse_run(ins));
        }
        for f in &ins.flags {
            if !allowed_flags(&ins.keyword).contains(&f.name.as_str()) {
                let why = match (ins.keyword.as_str(), f.name.as_str()) {
                    ("ADD", "checksum" | "keep-git-dir") => " (it is for downloads, which hoist does not do)",
                    ("COPY", "parents" | "exclude") => " (a labs feature hoist does not have)",
                    _ => "",
                };
                return at(ins.line, format!("{} does not take --{}{why}", ins.keyword, f.name));
            }
        }
        if ins.keyword == "ADD" {
            let words = ins.json().unwrap_or_else(|| shell::split_words(&ins.args, df.escape));
            if let Some(url) = words.iter().take(words.len().saturating_sub(1)).find(|w| is_remote(w)) {
                return Err(refuse_url(ins.line, url));
            }
        }
        if ins.keyword == "FROM" {
            let words = shell::split_words(&ins.args, df.escape);
            let (base, name) = match words.as_slice() {
                [b] => (b.clone(), None),
                [b, as_, n] if as_.eq_ignore_ascii_case("as") => (b.clone(), Some(n.to_ascii_lowercase())),
                _ => return at(ins.line, "FROM takes an image and optionally AS NAME"),
            };
            if let Some(n) = &name {
                let ok = n.starts_with(|c: char| c.is_ascii_alphabetic())
                    && n.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
                if !ok {
                    return at(ins.line, format!("invalid stage name {n:?}"));
                }
                if stages.iter().any(|s| s.name.as_deref() == Some(n)) {
                    return at(ins.line, format!("duplicate stage name {n:?}"));
                }
            }
            stages.push(StagePlan { index: stages.len(), name, from: ins.clone(), base, instructions: Vec::new() });
            continue;
        }
        match stages.last_mut() {
            Some(s) => s.instructions.push(ins.clone()),
            None if ins.keyword == "ARG" => globals.push(ins.clone()),
            None => return at(ins.line, format!("{}: the first instruction must be FROM (or ARG)", ins.keyword)),
        }
    }
    if stages.is_empty() {
        return Err(BuildError::Other("the Dockerfile has no FROM: nothing to build".to_owned()));
    }
    let target = match target {
        None => stages.len() - 1,
        Some(t) => match stages.iter().position(|s| s.name.as_deref() == Some(&t.to_ascii_lowercase())) {
            Some(i) => i,
            None => return Err(BuildError::Other(format!("target stage {t:?} could not be found"))),
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
        for ins in s.instructions.iter().filter(|x| x.keyword == "COPY") {
            if let Some(v) = ins.flag("from").and_then(|f| f.value.clone()) {
                refs.push((ins.line, v));
            }
        }
        for (line, r) in refs {
            if let Some(j) = stage_ref(&stages, &r) {
                if j >= i {
                    return at(line, format!("stage {r:?} is not defined before it is used"));
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
    opts: &Options,
    bases: &mut dyn Bases,
    progress: &dyn Progress,
) -> Result<Built, BuildError> {
    let df = dockerfile::parse(&opts.dockerfile)?;
    let plan = plan(&df, opts.target.as_deref())?;
    if opts.platforms.is_empty() {
        return Err(BuildError::Other("no platform to build for".to_owned()));
    }
    let ignore = match &opts.ignore {
        Some(text) => dockerignore::parse(text).map_err(|e| BuildError::Other(format!(".dockerignore: {e}")))?,
        None => dockerignore::DockerIgnore::default(),
    };
    let context = context::Context::new(&opts.context, ignore)?;
    let _session = store.session()?;
    stage::run(store, &plan, &context, opts, bases, progress)
}

#[cfg(test)]
mod tests;
