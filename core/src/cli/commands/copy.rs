//! `hoist copy SRC DST`: any transport to any transport through the one copy engine, with skopeo's flags.
//! Transports: `docker://REGISTRY/REPO[:TAG|@DIGEST]` and `store:NAME` (hoist's local store).

use std::path::PathBuf;
use std::sync::Arc;

use hoist_core::copy::{self, Options};
use hoist_core::transport::registry::{Creds, RegistryDestination, RegistrySource};
use hoist_core::transport::store::{StoreDestination, StoreSource};
use hoist_core::transport::{ImageDestination, ImageSource};

use super::common::{CopyFlags, PlatformArgs, open_store, parse_creds, push_endpoint, registry_reference};
use super::{Context, Result, fail};
use crate::progress::CopyProgress;

#[derive(clap::Args)]
pub struct Args {
    /// Source: docker://REGISTRY/REPO[:TAG|@DIGEST] or store:NAME
    source: String,
    /// Destination: docker://REGISTRY/REPO[:TAG] or store:NAME
    destination: String,
    /// Credentials for the source registry: USER[:PASS]
    #[arg(long, value_name = "USER[:PASS]")]
    src_creds: Option<String>,
    /// Credentials for the destination registry: USER[:PASS]
    #[arg(long, value_name = "USER[:PASS]")]
    dest_creds: Option<String>,
    /// Access the source registry anonymously
    #[arg(long, conflicts_with = "src_creds")]
    src_no_creds: bool,
    /// Access the destination registry anonymously
    #[arg(long, conflicts_with = "dest_creds")]
    dest_no_creds: bool,
    /// Path of the auth file for both sides
    #[arg(long)]
    authfile: Option<PathBuf>,
    /// Require HTTPS and verify certificates for the source
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    src_tls_verify: Option<bool>,
    /// Require HTTPS and verify certificates for the destination
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    dest_tls_verify: Option<bool>,
    /// CA certificates (*.crt) for the source registry
    #[arg(long, value_name = "DIR")]
    src_cert_dir: Option<PathBuf>,
    /// CA certificates (*.crt) for the destination registry
    #[arg(long, value_name = "DIR")]
    dest_cert_dir: Option<PathBuf>,
    /// Copy every platform of a multi-platform image and the index itself, byte for byte
    #[arg(short, long)]
    all: bool,
    #[command(flatten)]
    platform: PlatformArgs,
    /// Write the copied manifest's digest to this file
    #[arg(long, value_name = "FILE")]
    digestfile: Option<PathBuf>,
    #[command(flatten)]
    copy: CopyFlags,
}

enum End {
    Registry(hoist_core::reference::Reference),
    Store(String),
}

fn parse_end(s: &str) -> Result<End> {
    if let Some(r) = s.strip_prefix("docker://") {
        return Ok(End::Registry(registry_reference(r)?));
    }
    if let Some(n) = s.strip_prefix("store:") {
        return Ok(End::Store(n.to_owned()));
    }
    fail(format!(
        "invalid image name {s:?}: expected TRANSPORT:REFERENCE with a transport of docker:// or store: \
         (archives and directories come with hoist save/load)"
    ))
}

fn side_creds(
    given: &Option<String>,
    anonymous: bool,
    authfile: &Option<PathBuf>,
    config: &hoist_core::config::Config,
    ctx: &Context,
) -> Result<Creds> {
    if anonymous {
        return Ok(Creds::Anonymous);
    }
    if let Some(c) = given {
        return Ok(Creds::Given(parse_creds(c)?));
    }
    let auth = hoist_core::auth::Auth::new(hoist_core::auth::AuthFiles::discover(authfile.as_deref()), config)
        .with_observer(ctx.observer());
    Ok(Creds::Lookup(Arc::new(auth)))
}

pub fn run(a: Args, ctx: &Context) -> Result<()> {
    ctx.printer.set_quiet_progress(a.copy.quiet);
    let config = ctx.load_config()?;
    let (src_end, dst_end) = (parse_end(&a.source)?, parse_end(&a.destination)?);
    let opts = Options { jobs: a.copy.jobs, platform: a.platform.platform()?, all: a.all };
    let progress = Arc::new(CopyProgress::new(a.copy.quiet));
    let src_tls = hoist_core::registry::TlsOptions { tls_verify: a.src_tls_verify, cert_dir: a.src_cert_dir.clone() };
    let dst_tls = hoist_core::registry::TlsOptions { tls_verify: a.dest_tls_verify, cert_dir: a.dest_cert_dir.clone() };
    let src_creds = side_creds(&a.src_creds, a.src_no_creds, &a.authfile, &config, ctx)?;
    let dst_creds = side_creds(&a.dest_creds, a.dest_no_creds, &a.authfile, &config, ctx)?;
    let report = ctx.runtime.block_on(async {
        let src: Box<dyn ImageSource> = match &src_end {
            End::Registry(r) => {
                let targets = hoist_core::registry::endpoint::for_pull(&config, r, &src_tls)?;
                Box::new(RegistrySource::open(r, &targets, &src_creds, &ctx.observer()).await?)
            }
            End::Store(n) => Box::new(StoreSource::open(open_store()?, n)?),
        };
        let dst: Box<dyn ImageDestination> = match &dst_end {
            End::Registry(r) => {
                let endpoint = push_endpoint(&config, r, &dst_tls);
                Box::new(RegistryDestination::open(&endpoint, r.clone(), &dst_creds, &ctx.observer()).await?)
            }
            End::Store(n) => {
                let name = hoist_core::reference::Reference::parse_normalized(n)?.with_default_tag();
                Box::new(StoreDestination::open(open_store()?, name)?)
            }
        };
        Ok::<_, super::Error>(copy::copy(src.as_ref(), dst.as_ref(), &opts, progress.clone()).await?)
    })?;
    progress.summary(&report);
    if let Some(path) = &a.digestfile {
        std::fs::write(path, report.manifest.digest.to_string())?;
    }
    Ok(())
}
