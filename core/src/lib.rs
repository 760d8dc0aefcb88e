//! hoist-core: the library behind `hoist`, a daemonless image tool with podman's image commands.
//!
//! Modules are named for what they are; dependencies point one way (cli → config → reference):
//! - [`cli`]: the `hoist` command line (a thin layer: flags in, library calls, report out).
//! - [`reference`]: image references, exactly as distribution/reference parses them.
//! - [`config`]: registries.conf v2 (containers-registries.conf(5)) and short-name resolution.
//! - [`auth`]: auth files, `credHelpers`/`credsStore`, the registries.conf `credential-helpers` list.
//!
//! - [`registry`]: the registry HTTP client (TLS, challenges, Basic/Bearer, tokens).
//!
//! Still to come (see the project's issues):
//! `store` (local OCI layout), `archive`, and the `copy` engine.

pub mod auth;
pub mod cli;
pub mod config;
pub mod reference;
pub mod registry;
