//! `hoist copy SRC DST`: any transport to any transport through the one copy engine, with skopeo's flags.
//! Transports: `docker://REGISTRY/REPO[:TAG|@DIGEST]`, `store:NAME` (hoist's local store), and archives and
//! directories as skopeo names them: `docker-archive:FILE[:NAME|:@N]`, `oci-archive:FILE[:REF]`, `oci:DIR[:REF]`,
//! `dir:DIR`.

use std::path::PathBuf;
use std::sync::Arc;

use hoist_core::archive::Format;
use hoist_core::archive::tar_out::TarOut;
use hoist_core::copy::{self, Options};
use hoist_core::transport::dir::{DirDestination, DirOptions, DirSource};
use hoist_core::transport::docker_archive::{DockerArchiveSource, DockerArchiveWriter};
use hoist_core::transport::oci_layout::{OciLayoutSource, OciLayoutWriter};
use hoist_core::transport::registry::{Creds, RegistryDestination, RegistrySource};
use hoist_core::transport::store::{StoreDestination, StoreSource};
use hoist_core::transport::{ImageDestination, ImageSource};

use super::common::{CopyFlags, PlatformArgs, open_store, parse_creds, push_endpoint, registry_reference};
use super::{Context, Result, fail};

#[derive(clap::Args)]
pub struct Args {
    /// Source: docker://REGISTRY/REPO[:TAG|@DIGEST], store:NAME, docker-archive:FILE[:NAME], oci-archive:FILE[:REF],
    /// oci:DIR[:REF] or dir:DIR
    source: String,
    /// Destination: docker://REGISTRY/REPO[:TAG], store:NAME, docker-archive:FILE[:NAME], oci-archive:FILE[:REF],
    /// oci:DIR[:REF] or dir:DIR
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
    /// Gzip uncompressed layers when copying into a dir: destination (layers already compressed stay as they
    /// are; default: layers keep their compression)
    #[arg(long)]
    dest_compress: bool,
    #[command(flatten)]
    pub copy: CopyFlags,
}

enum End {
    Registry(hoist_core::reference::Reference),
    Store(String),
    /// An archive or directory: its format, path and optional reference inside it.
    Archive(Format, PathBuf, Option<String>),
}

fn parse_end(s: &str) -> Result<End> {
    if let Some(r) = s.strip_prefix("docker://") {
        return Ok(End::Registry(registry_reference(r)?));
    }
    if let Some(n) = s.strip_prefix("store:") {
        return Ok(End::Store(n.to_owned()));
    }
    for (transport, format) in [
        ("docker-archive:", Format::DockerArchive),
        ("oci-archive:", Format::OciArchive),
        ("oci:", Format::OciDir),
        ("dir:", Format::DockerDir),
    ] {
        if let Some(rest) = s.strip_prefix(transport) {
            let (path, reference) = match rest.split_once(':') {
                Some((p, r)) if format != Format::DockerDir => (p, Some(r.to_owned()).filter(|r| !r.is_empty())),
                _ => (rest, None),
            };
            if path.is_empty() {
                return fail(format!("invalid image name {s:?}: no path after {transport}"));
            }
            return Ok(End::Archive(format, PathBuf::from(path), reference));
        }
    }
    fail(format!(
        "invalid image name {s:?}: expected TRANSPORT:REFERENCE with a transport of docker://, store:, \
         docker-archive:, oci-archive:, oci: or dir:"
    ))
}

/// Opens an archive or directory as a copy source, refusing one whose content is another format.
fn archive_source(format: Format, path: &std::path::Path, reference: Option<&str>) -> Result<Box<dyn ImageSource>> {
    let opened = hoist_core::archive::open(hoist_core::archive::Input::Path(path.to_owned()), &std::env::temp_dir())?;
    if opened.format != format {
        return fail(format!("{}: is a {}, not a {format}", path.display(), opened.format));
    }
    Ok(match format {
        Format::DockerArchive => Box::new(DockerArchiveSource::open(&opened.files, reference)?),
        Format::OciArchive => Box::new(OciLayoutSource::open(opened.files, reference, "oci-archive")?),
        Format::OciDir => Box::new(OciLayoutSource::open(opened.files, reference, "oci")?),
        Format::DockerDir => Box::new(DirSource::open(opened.files)),
    })
}

/// What finishes an archive destination after the copy (writes its index, renames its file).
type Finish = Box<dyn FnOnce() -> std::result::Result<(), hoist_core::transport::TransportError> + Send>;

/// Opens an archive or directory as a copy destination, and what finishes it.
fn archive_destination(
    format: Format,
    path: &std::path::Path,
    reference: Option<&str>,
    compress: bool,
) -> Result<(Box<dyn ImageDestination>, Option<Finish>)> {
    let shown = path.display().to_string();
    let tar = || TarOut::to_file(path).map_err(|e| hoist_core::archive::ArchiveError::io(&shown, e));
    Ok(match format {
        Format::DockerArchive => {
            let names = match reference {
                Some(r) => vec![hoist_core::reference::Reference::parse_normalized(r)?.with_default_tag()],
                None => Vec::new(),
            };
            let writer = DockerArchiveWriter::new(tar()?, &shown);
            let w = writer.clone();
            (Box::new(writer.image(names)), Some(Box::new(move || w.finish())))
        }
        Format::OciArchive | Format::OciDir => {
            let writer = if format == Format::OciDir {
                OciLayoutWriter::dir(path)?
            } else {
                OciLayoutWriter::archive(tar()?, &shown)
            };
            let w = writer.clone();
            (Box::new(writer.image(reference.map(str::to_owned))), Some(Box::new(move || w.finish())))
        }
        Format::DockerDir => {
            let options = DirOptions { compress, docker_schema2: false };
            (Box::new(DirDestination::open_with(path, options)?), None)
        }
    })
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
    let config = ctx.load_config()?;
    let (src_end, dst_end) = (parse_end(&a.source)?, parse_end(&a.destination)?);
    if a.dest_compress && !matches!(dst_end, End::Archive(Format::DockerDir, _, _)) {
        return fail("--dest-compress applies to a dir: destination only");
    }
    // Into a tar, one blob at a time: its entries then follow the manifest's order (the same archive every time).
    let into_tar = matches!(dst_end, End::Archive(f, _, _) if f.is_archive());
    let jobs = if into_tar { 1 } else { a.copy.jobs };
    let opts = Options { jobs, platform: a.platform.platform()?, all: a.all };
    let progress = ctx.printer.copy_progress();
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
            End::Archive(f, p, r) => {
                let (f, p, r) = (*f, p.clone(), r.clone());
                tokio::task::spawn_blocking(move || archive_source(f, &p, r.as_deref()).map_err(|e| e.to_string()))
                    .await?
                    .map_err(super::Fail)?
            }
        };
        let mut finish: Option<Finish> = None;
        let dst: Box<dyn ImageDestination> = match &dst_end {
            End::Registry(r) => {
                let endpoint = push_endpoint(&config, r, &dst_tls);
                Box::new(RegistryDestination::open(&endpoint, r.clone(), &dst_creds, &ctx.observer()).await?)
            }
            End::Store(n) => {
                let name = hoist_core::reference::Reference::parse_normalized(n)?.with_default_tag();
                Box::new(StoreDestination::open(open_store()?, name)?)
            }
            End::Archive(f, p, r) => {
                let (dst, f) = archive_destination(*f, p, r.as_deref(), a.dest_compress)?;
                finish = f;
                dst
            }
        };
        let report = copy::copy(src.as_ref(), dst.as_ref(), &opts, progress.clone()).await?;
        if let Some(finish) = finish {
            tokio::task::spawn_blocking(finish).await??;
        }
        Ok::<_, super::Error>(report)
    })?;
    progress.summary(&report);
    if let Some(path) = &a.digestfile {
        std::fs::write(path, report.manifest.digest.to_string())?;
    }
    Ok(())
}
