//! hoist-core: the library behind `hoist`, a daemonless image tool with podman's image commands.
//!
//! Modules are named for what they are; dependencies point one way
//! (registry → auth → config → reference, everything may use observe):
//! - [`reference`]: image references, exactly as distribution/reference parses them.
//! - [`config`]: registries.conf v2 (containers-registries.conf(5)) and short-name resolution.
//! - [`auth`]: auth files, `credHelpers`/`credsStore`, the registries.conf `credential-helpers` list.
//! - [`registry`]: the registry HTTP client (endpoints, TLS, challenges, Basic/Bearer, tokens, typed errors).
//! - [`observe`]: how the library reports progress and warnings without printing.
//!
//! The `hoist` command line is a separate binary target (`src/cli/`) over this library; the library never
//! prints and never parses argv. Still to come (see docs/architecture.md): `transport`, `copy`, `store`,
//! `archive`, `build`.

pub mod auth;
pub mod config;
pub mod observe;
pub mod reference;
pub mod registry;
