//! The `hoist` command line: clap definitions and dispatch. Each command reads top to bottom — parse flags,
//! call the library, report — and owns no logic the library should have.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use crate::config::{Config, Paths};

/// hoist: a daemonless image tool with podman's image commands, registries.conf and auth.json semantics.
#[derive(Parser)]
#[command(name = "hoist", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show how an image name resolves: candidates in order, the registry entry, mirrors, insecure/blocked
    Resolve {
        /// Image name, short (alpine) or fully qualified (quay.io/org/app:tag)
        name: String,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completion { shell: clap_complete::Shell },
    /// Write man pages for hoist and every subcommand into DIR
    #[command(hide = true, name = "generate-man")]
    GenerateMan { dir: PathBuf },
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`hoist ... | head`): stop quietly, as a program killed by SIGPIPE would.
        Err(e) if e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) => {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::from(125)
        }
    }
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn load_config() -> Result<Config> {
    let config = Config::load(&Paths::from_env())?;
    for w in &config.warnings {
        eprintln!("Warning: {w}");
    }
    Ok(config)
}

fn run(command: Command) -> Result<()> {
    match command {
        Command::Resolve { name, format } => resolve(&name, format),
        Command::Completion { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "hoist", &mut script);
            std::io::stdout().lock().write_all(&script)?;
            Ok(())
        }
        Command::GenerateMan { dir } => generate_man(&dir),
    }
}

fn resolve(name: &str, format: Format) -> Result<()> {
    let config = load_config()?;
    let r = config.resolve(name)?;
    let mut out = std::io::stdout().lock();
    if format == Format::Json {
        serde_json::to_writer_pretty(&mut out, &r)?;
        writeln!(out)?;
        return Ok(());
    }
    let how = match r.kind {
        "qualified" => "fully qualified name".to_owned(),
        "alias" => format!("alias from {}", r.origin.as_ref().map(|p| p.display().to_string()).unwrap_or_default()),
        _ => format!(
            "short name, unqualified-search-registries from {}",
            r.origin.as_ref().map(|p| p.display().to_string()).unwrap_or_default()
        ),
    };
    writeln!(out, "{name}: {how}")?;
    if r.kind == "search" && r.candidates.len() > 1 {
        let mode = match r.short_name_mode {
            crate::config::ShortNameMode::Enforcing => {
                "enforcing: podman asks which one on a terminal and fails without one"
            }
            crate::config::ShortNameMode::Permissive => {
                "permissive: podman asks on a terminal, else tries them in order"
            }
            crate::config::ShortNameMode::Disabled => "disabled: tried in order",
        };
        writeln!(out, "short-name-mode: {mode}")?;
    }
    for (i, c) in r.candidates.iter().enumerate() {
        writeln!(out, "{}. {}", i + 1, c.reference)?;
        match (&c.registry_prefix, &c.registry_origin) {
            (Some(prefix), Some(origin)) => {
                writeln!(out, "   registry entry: prefix {prefix:?} ({})", origin.display())?
            }
            _ => writeln!(out, "   registry entry: none (defaults: TLS, not blocked)")?,
        }
        if c.blocked {
            writeln!(out, "   BLOCKED: pulls from this registry are refused")?;
            continue;
        }
        for s in &c.sources {
            let what = if s.mirror { "mirror" } else { "primary" };
            let insecure = if s.insecure { ", insecure (TLS not verified, HTTP allowed)" } else { "" };
            writeln!(out, "   {what}: {}{insecure}", s.reference)?;
        }
    }
    Ok(())
}

fn generate_man(dir: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let cmd = Cli::command();
    write_man(&cmd, "hoist", dir)?;
    Ok(())
}

fn write_man(cmd: &clap::Command, name: &str, dir: &std::path::Path) -> Result<()> {
    let cmd = cmd.clone().name(name.to_owned());
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut buf)?;
    std::fs::write(dir.join(format!("{name}.1")), buf)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_man(sub, &format!("{name}-{}", sub.get_name()), dir)?;
    }
    Ok(())
}
