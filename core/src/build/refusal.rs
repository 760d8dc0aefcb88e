//! Why an instruction was refused before or while it ran, as facts: which instruction, argument, path, stage
//! or limit. [`super::BuildError::At`] places a [`Refusal`] at its Dockerfile line; the texts are the ones
//! users (and tests) know, docker's wording where docker has one.
//!
//! What it is not: the errors of the work itself (the store, a layer, a file of the context), which keep
//! their own [`super::BuildError`] variants.

use super::dockerfile::Keyword;
use super::shell::ExpandError;
use super::state::MAX_CONFIGS_KEPT;
use crate::image::{ImageError, MAX_CONFIG_SIZE};

/// One refusal; see the module's documentation.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    // ---- the Dockerfile's shape (checked before anything runs) ----
    /// An instruction that needs a container (`RUN`): `instruction` is an excerpt of it as written.
    #[error(
        "{instruction}: hoist builds without running containers, and {keyword} needs one (build this Dockerfile \
         with podman build or buildah)"
    )]
    NeedsContainer { instruction: String, keyword: Keyword },
    /// `ADD URL` (an excerpt of it).
    #[error("ADD {url}: hoist builds offline and does not download: fetch the file into the build context and COPY it")]
    Download { url: String },
    /// A flag the instruction does not take (`why`: a note on what it is for, or nothing).
    #[error("{keyword} does not take --{flag}{why}")]
    FlagNotTaken { keyword: Keyword, flag: String, why: &'static str },
    #[error("FROM takes an image and optionally AS NAME")]
    FromSyntax,
    #[error("invalid stage name {name:?}")]
    InvalidStageName { name: String },
    #[error("duplicate stage name {name:?}")]
    DuplicateStageName { name: String },
    /// An instruction before the first `FROM` that is not an `ARG`.
    #[error("{keyword}: the first instruction must be FROM (or ARG)")]
    BeforeFrom { keyword: Keyword },
    /// `COPY --from=STAGE` or `FROM STAGE` naming a stage that comes later (or the stage itself).
    #[error("stage {stage:?} is not defined before it is used")]
    StageUsedBeforeDefined { stage: String },
    /// An `ARG` name that is empty or has other characters than letters, digits and `_` (an excerpt).
    #[error("ARG: invalid name {name:?}")]
    ArgName { name: String },

    // ---- FROM ----
    #[error("FROM: {0}")]
    FromExpand(ExpandError),
    /// `FROM --platform=...` that is not a platform.
    #[error("{0}")]
    Platform(ImageError),
    #[error("FROM: the base image name is empty (an ARG without a value?)")]
    EmptyBase,
    /// `FROM STAGE` for a stage that was not built.
    #[error("stage {stage:?} was not built")]
    StageNotBuilt { stage: String },
    /// The base image's `ONBUILD` triggers are more than `max`.
    #[error("the base has more than {max} ONBUILD triggers")]
    TooManyTriggers { max: usize },
    /// One of the base's `ONBUILD` triggers does not parse (`message`: the parser's).
    #[error("ONBUILD {trigger}: {message}")]
    Trigger { trigger: String, message: String },

    // ---- limits ----
    /// The built stages' image configs, kept for `COPY --from` and `FROM STAGE`, are `kept` bytes together.
    #[error(
        "the stages' image configs together pass {MAX_CONFIGS_KEPT} bytes (64 MiB), the most hoist keeps for one \
         build"
    )]
    ConfigsKeptTooLarge { kept: usize },
    /// The image config would be `size` bytes.
    #[error("the image config would pass {MAX_CONFIG_SIZE} bytes (8 MiB), the most hoist and registries read back")]
    ConfigWouldPass { size: usize },

    // ---- arguments of an instruction ----
    /// A word of the instruction that cannot be expanded.
    #[error("{0}")]
    Expand(ExpandError),
    /// `ARG NAME=DEFAULT` whose default cannot be expanded.
    #[error("ARG {name}: {source}")]
    ArgDefault {
        name: String,
        #[source]
        source: ExpandError,
    },
    #[error("FROM cannot be used here")]
    FromHere,
    #[error("SHELL requires the arguments to be in JSON form")]
    ShellNotJson,
    /// `HEALTHCHECK` arguments refused (`problem`: which, as its parser says).
    #[error("HEALTHCHECK: {problem}")]
    Healthcheck { problem: String },
    /// `ONBUILD` whose instruction does not parse (`message`: the parser's).
    #[error("{message}")]
    Onbuild { message: String },
    #[error("USER requires an argument")]
    UserEmpty,
    /// An `EXPOSE` port spec refused (`problem`: which, as its parser says).
    #[error("EXPOSE: {problem}")]
    Expose { problem: String },
    #[error("VOLUME specified can not be an empty string")]
    EmptyVolume,
    /// A `STOPSIGNAL` that is neither a number nor `SIG...` (an excerpt).
    #[error("STOPSIGNAL: invalid signal {signal:?}")]
    InvalidSignal { signal: String },
    /// `ENV key` with no value.
    #[error("ENV names a variable but gives it no value (ENV key=value)")]
    EnvWithoutValue,
    /// A word of `ENV`/`LABEL` (`keyword`) that is not `KEY=VALUE` (an excerpt).
    #[error("{keyword}: {word:?} is not KEY=VALUE")]
    NotKeyValue { keyword: &'static str, word: String },
    /// `ENV`/`LABEL` (`keyword`) with an empty key.
    #[error("{keyword}: an empty name")]
    EmptyName { keyword: &'static str },
    /// `WORKDIR` naming something in the image that is not a directory.
    #[error("WORKDIR {path}: not a directory in the image")]
    WorkdirNotDirectory { path: String },
    /// `WORKDIR` to create for a `USER` whose owner cannot be found.
    #[error("WORKDIR {path}: creating it for USER {user}: {source}")]
    WorkdirOwner {
        path: String,
        user: String,
        #[source]
        source: Box<super::BuildError>,
    },

    // ---- COPY and ADD (`keyword`: which of the two) ----
    #[error("{keyword} requires at least two arguments: sources and a destination")]
    CopyArguments { keyword: &'static str },
    #[error("{keyword} --{flag} needs a value")]
    FlagNeedsValue { keyword: &'static str, flag: &'static str },
    /// `--chmod` that is not an octal mode up to 07777 (`problem`: as its parser says).
    #[error("{keyword} --chmod: {problem}")]
    Chmod { keyword: &'static str, problem: String },
    #[error("{keyword}: with more than one source file, the destination must be a directory and end with a /")]
    DestinationNotDirectory { keyword: &'static str },
    #[error("{keyword}: cannot copy a file onto /")]
    CopyOntoRoot { keyword: &'static str },
    /// A copied path (`path`, in the image, without its leading `/`) replacing a directory by a file, or a file
    /// by a directory.
    #[error("{keyword}: cannot replace /{path}: one is a directory, the other is not")]
    DirectoryMismatch { keyword: &'static str, path: String },
}
