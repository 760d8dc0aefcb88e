//! The `hoist` command line: clap definitions, one file per command under [`commands`], and one [`printer`]
//! for text, `--format json` and warnings. It is a thin layer over the hoist-core library: parse flags, call
//! the library, report. The library never sees argv and never prints; this binary decides what reaches the
//! terminal. One tokio runtime is made here and lent to the commands that talk to registries.

mod commands;
mod printer;
mod progress;
mod template;
mod usage;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use commands::{
    Invocation, access, build, completion, copy, creds, delete, digest, generate_key, history, image, images, inspect,
    list_tags, load, login, logout, man, promote, prune, pull, push, resolve, rmi, save, search, sign, sync, tag,
    trust, untag, verify,
};
use printer::Printer;

/// hoist: a daemonless image tool with podman's image commands, registries.conf and auth.json semantics.
#[derive(Parser)]
#[command(name = "hoist", version, propagate_version = true)]
pub struct Cli {
    /// Seconds to wait for a registry to connect, to answer a request, and between reads of an answer
    /// (default 30, or $HOIST_TIMEOUT; 0 waits for ever; longer than a day counts as a day). A long transfer
    /// that keeps moving never times out.
    #[arg(long, global = true, value_name = "SECONDS")]
    timeout: Option<u64>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show which actions (pull, push, delete, *) a registry grants on a repository, changing nothing
    Access(access::Args),
    /// Build an image from a Dockerfile without RUN: no container runtime, root or daemon
    Build(build::Args),
    /// Pull images from a registry into the local store
    Pull(pull::Args),
    /// Push an image from the local store to a registry
    Push(push::Args),
    /// Copy an image between transports (docker://, store:, docker-archive:, oci-archive:, oci:, dir:) with skopeo's flags
    Copy(copy::Args),
    /// Add names to an image in the local store
    Tag(tag::Args),
    /// Take names off an image in the local store (every name when none is given); the image stays
    Untag(untag::Args),
    /// List the images in the local store
    Images(images::Args),
    /// Remove images from the local store
    Rmi(rmi::Args),
    /// Remove dangling images (-a: every image), then the blobs no image references
    Prune(prune::Args),
    /// Show images as podman image inspect does (JSON or --format '{{.Id}}'); docker:// as skopeo inspect
    Inspect(inspect::Args),
    /// Show a local image's history, newest first, as podman history does
    History(history::Args),
    /// List a registry repository's tags
    ListTags(list_tags::Args),
    /// Search registries for images (Docker Hub's search API, other registries' catalogs), as podman search
    Search(search::Args),
    /// Copy many images between registries as skopeo sync does, incrementally: unchanged tags cost a HEAD each side
    Sync(sync::Args),
    /// Print an image's manifest digest (local, or docker://)
    Digest(digest::Args),
    /// Delete an image from a registry
    Delete(delete::Args),
    /// Point a registry tag at the manifest another names now, by digest (dev to prod, or to another registry)
    Promote(promote::Args),
    /// Sign an image already in a registry by its manifest digest, without moving it (podman image sign, cosign sign)
    Sign(sign::Args),
    /// Save images of the local store to an archive or directory (docker-archive, oci-archive, oci-dir, docker-dir)
    Save(save::Args),
    /// Load the images of an archive or directory (a file or stdin; any of the four formats) into the local store
    Load(load::Args),
    /// Check an archive or directory is whole (digests, sizes, diff_ids, names) without loading it
    Verify(verify::Args),
    /// Log in to a registry: verify the credentials, then store them where podman would
    Login(login::Args),
    /// Log out of a registry (or of all with --all), removing credentials from auth files and helpers
    Logout(logout::Args),
    /// Inspect and move stored credentials
    #[command(subcommand)]
    Creds(creds::Command),
    /// Generate a sigstore key pair (cosign's format): PREFIX.private (encrypted) and PREFIX.pub
    GenerateSigstoreKey(generate_key::Args),
    /// The image trust policy: show and set it as podman does, check what it decides for an image
    #[command(subcommand)]
    Trust(trust::Command),
    /// Show how an image name resolves: candidates in order, the registry entry, mirrors, insecure/blocked
    Resolve(resolve::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completion(completion::Args),
    /// Manage images as podman's image group: ls, rm, inspect, tag, untag, pull, push, save, load, prune, exists, ...
    #[command(subcommand)]
    Image(image::ImageCommand),
    /// Write man pages for hoist and every subcommand into DIR
    #[command(hide = true, name = "generate-man")]
    GenerateMan(man::Args),
}

impl Command {
    /// What this run prints, decided once from the command's flags: `-q` hides progress, `--verbose` shows
    /// the library's debug lines. Commands get the printer and never change it.
    fn printer(&self) -> Printer {
        let quiet = match self {
            Command::Build(a) => a.copy.quiet,
            Command::Pull(a) => a.copy.quiet,
            Command::Push(a) => a.copy.quiet,
            Command::Copy(a) => a.copy.quiet,
            Command::Promote(a) => a.copy.quiet,
            Command::Save(a) => a.quiet,
            Command::Load(a) => a.quiet,
            Command::Image(c) => c.quiet(),
            Command::Sync(a) => a.quiet,
            _ => false,
        };
        let verbose = matches!(self, Command::Login(a) if a.verbose);
        Printer::new(verbose, quiet)
    }
}

fn run(command: Command, ctx: &Invocation) -> commands::Result<()> {
    match command {
        Command::Access(a) => access::run(a, ctx),
        Command::Build(a) => build::run(a, ctx),
        Command::Pull(a) => pull::run(a, ctx),
        Command::Push(a) => push::run(a, ctx),
        Command::Copy(a) => copy::run(a, ctx),
        Command::Tag(a) => tag::run(a, ctx),
        Command::Untag(a) => untag::run(a, ctx),
        Command::Images(a) => images::run(a, ctx),
        Command::Rmi(a) => rmi::run(a, ctx),
        Command::Prune(a) => prune::run(a, ctx),
        Command::Inspect(a) => inspect::run(a, ctx),
        Command::History(a) => history::run(a, ctx),
        Command::ListTags(a) => list_tags::run(a, ctx),
        Command::Search(a) => search::run(a, ctx),
        Command::Sync(a) => sync::run(a, ctx),
        Command::Digest(a) => digest::run(a, ctx),
        Command::Delete(a) => delete::run(a, ctx),
        Command::Promote(a) => promote::run(a, ctx),
        Command::Save(a) => save::run(a, ctx),
        Command::Sign(a) => sign::run(a, ctx),
        Command::Load(a) => load::run(a, ctx),
        Command::Verify(a) => verify::run(a, ctx),
        Command::Login(a) => login::run(a, ctx),
        Command::Logout(a) => logout::run(a, ctx),
        Command::Creds(c) => creds::run(c, ctx),
        Command::GenerateSigstoreKey(a) => generate_key::run(a, ctx),
        Command::Trust(c) => trust::run(c, ctx),
        Command::Resolve(a) => resolve::run(a, ctx),
        Command::Image(c) => c.run(ctx),
        Command::Completion(a) => completion::run::<Cli>(a, ctx),
        Command::GenerateMan(a) => man::run::<Cli>(a),
    }
}

/// SIGINT and SIGTERM: the library's temp files in flight (a blob being pulled, an archive being saved) are
/// removed, then hoist exits 130 or 143, as podman does. The signals are blocked in every thread (children
/// start with an empty mask: std resets it) and taken by one thread of their own.
fn on_signals() {
    // SAFETY: plain libc calls on a local signal set; this runs before any other thread exists, so every
    // thread made later inherits the blocked mask and only the waiting thread takes the signals.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return;
        }
        let waiter = std::thread::Builder::new().name("signals".to_owned()).spawn(move || {
            loop {
                let mut signal = 0;
                if libc::sigwait(&set, &mut signal) == 0 {
                    hoist_core::cleanup::remove_all();
                    std::process::exit(128 + signal);
                }
            }
        });
        if waiter.is_err() {
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        }
    }
}

/// The library's settings, once: `--timeout` (else `HOIST_TIMEOUT`), registries.conf and the store where the
/// environment says, the printer as observer, a terminal (when there is one) to ask about ambiguous short names.
fn settings(cli: &Cli, printer: Printer) -> commands::Result<hoist_core::ops::Settings> {
    let mut settings = match cli.timeout {
        Some(seconds) => hoist_core::ops::Settings::new().with_timeout_secs(seconds),
        None => hoist_core::ops::Settings::from_env()?,
    };
    settings.observer = printer.observer();
    settings.prompt = commands::common::TerminalPrompt::open();
    Ok(settings)
}

/// The command line, or the exit code once a usage error (or `--help`, `--version`) has been reported as
/// podman reports them (`usage`).
fn parse(args: Vec<std::ffi::OsString>) -> Result<Cli, ExitCode> {
    let root = Cli::command();
    root.clone()
        .try_get_matches_from(&args)
        .and_then(|mut matches| Cli::from_arg_matches_mut(&mut matches))
        .map_err(|e| usage::report(&e, &root, &args))
}

fn main() -> ExitCode {
    on_signals();
    let cli = match parse(std::env::args_os().collect()) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let printer = cli.command.printer();
    let result = settings(&cli, printer).and_then(|settings| {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        run(cli.command, &Invocation { printer, runtime, settings })
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`hoist ... | head`): stop quietly, as a program killed by SIGPIPE would.
        Err(e) if commands::is_broken_pipe(&*e) => ExitCode::SUCCESS,
        Err(e) => {
            let exit = e.downcast_ref::<commands::ExitWith>();
            let inner = exit.map_or(&*e, |x| &*x.error);
            match inner.downcast_ref::<commands::Errors>() {
                Some(errors) => printer.errors(&errors.0),
                None => {
                    // An empty message prints nothing (`image exists`: only the exit code speaks).
                    let text = e.to_string();
                    if !text.is_empty() {
                        printer.error(&text);
                    }
                }
            }
            ExitCode::from(exit.map_or(125, |x| x.code))
        }
    }
}
