//! Image names with a transport, as skopeo and containers/image's `alltransports.ParseImageName` write them,
//! parsed in one place into an [`ImageName`] that opens an [`ImageSource`] or an [`ImageDestination`] given
//! the caller's [`Settings`]:
//!
//! | name | what |
//! |---|---|
//! | `docker://REGISTRY/REPO[:TAG\|@DIGEST]` | an image in a registry (docker's normalisation, `latest` by default) |
//! | `store:NAME` | hoist's local store: a name, short name or ID to read; a name to write |
//! | `oci:DIR[:REF]` | an OCI layout directory, the image `REF` names in its index (`org.opencontainers.image.ref.name`) |
//! | `oci-archive:FILE[:REF]` | the same as a tar file |
//! | `docker-archive:FILE[:NAME\|:@N]` | `docker save`'s tar: the image named `NAME` (or the `N`th); written under `NAME` |
//! | `dir:DIR` | containers/image's directory transport (one image, its blobs as files) |
//! | `docker-daemon:NAME[:TAG]` | an image in a Docker engine (`--daemon-host`, else `DOCKER_HOST`), `latest` by default; no digest |
//!
//! A name without a transport is refused (the CLI's image commands take bare names as store or registry names
//! on their own); so are an empty path or store name and a transport hoist does not know.
//!
//! A destination finishes itself: an archive's index is written and its temp file renamed into place when the
//! copy commits the image ([`ImageDestination::commit`]); nothing is left for the caller to close.

use std::fmt;
use std::path::{Path, PathBuf};

use super::dir::{DirDestination, DirOptions, DirSource};
use super::docker_archive::{DockerArchiveSource, DockerArchiveWriter};
use super::docker_daemon::engine::{Engine, EngineEnv};
use super::docker_daemon::{DaemonDestination, DaemonSource, StoreOpener};
use super::oci_layout::{OciLayoutSource, OciLayoutWriter};
use super::store::{StoreDestination, StoreSource};
use super::{ImageDestination, ImageSource};
use crate::archive::tar_out::TarOut;
use crate::archive::{ArchiveError, Format, Input};
use crate::ops::{Error, Settings};
use crate::reference::{Reference, ReferenceError};

/// A parsed image name: which transport, and where in it. See the module's doc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageName {
    /// `docker://`: the reference, `latest` when it names no tag or digest.
    Registry(Reference),
    /// `store:`: a name, short name or ID as typed.
    Store(String),
    /// `oci:`, `oci-archive:`, `docker-archive:` and `dir:`: the format, its path, and the image inside it
    /// (`None`: the only one, or none given; always `None` for `dir:`).
    Archive { format: Format, path: PathBuf, reference: Option<String> },
    /// `docker-daemon:`: a tagged name in a Docker engine, and the engine (`--daemon-host`; `None`:
    /// `DOCKER_HOST`, else the default socket).
    Daemon { reference: Reference, host: Option<String> },
}

/// Why a name is not an image name; one line, quoting it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// An archive or directory transport without a path (`transport`: its name, `oci-archive`).
    #[error("invalid image name {name:?}: no path after {transport}:")]
    NoPath { name: String, transport: &'static str },
    #[error("invalid image name {name:?}: no image name after store:")]
    NoStoreName { name: String },
    #[error(
        "invalid image name {0:?}: expected TRANSPORT:REFERENCE with a transport of docker://, store:, \
         docker-archive:, oci-archive:, oci:, dir: or docker-daemon:"
    )]
    UnknownTransport(String),
    /// `docker-daemon:` with a digest: the engine names images NAME:TAG.
    #[error(
        "invalid image name {name:?}: docker-daemon: takes NAME[:TAG]; a digest reference is not supported (the \
         engine cannot look an image up by manifest digest)"
    )]
    DaemonDigest { name: String },
    /// `docker://` followed by something that is not a reference.
    #[error(transparent)]
    Reference(#[from] ReferenceError),
}

/// What a destination is opened with beyond its name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestinationOptions {
    /// Gzip uncompressed layers into a `dir:` (`--dest-compress`); other destinations keep layers as they come.
    pub compress_layers: bool,
}

impl ImageName {
    /// Parses `TRANSPORT:REST` (see the module's doc).
    pub fn parse(s: &str) -> Result<ImageName, NameError> {
        if let Some(r) = s.strip_prefix("docker://") {
            return Ok(ImageName::Registry(Reference::parse_normalized(r)?.with_default_tag()));
        }
        if let Some(r) = s.strip_prefix("docker-daemon:") {
            let reference = Reference::parse_normalized(r)?;
            if reference.digest().is_some() {
                return Err(NameError::DaemonDigest { name: s.to_owned() });
            }
            return Ok(ImageName::Daemon { reference: reference.with_default_tag(), host: None });
        }
        if let Some(n) = s.strip_prefix("store:") {
            if n.is_empty() {
                return Err(NameError::NoStoreName { name: s.to_owned() });
            }
            return Ok(ImageName::Store(n.to_owned()));
        }
        for format in Format::ALL {
            let transport = transport_of(format);
            if let Some(rest) = s.strip_prefix(transport).and_then(|r| r.strip_prefix(':')) {
                let (path, reference) = match rest.split_once(':') {
                    Some((p, r)) if format != Format::DockerDir => (p, Some(r.to_owned()).filter(|r| !r.is_empty())),
                    _ => (rest, None),
                };
                if path.is_empty() {
                    return Err(NameError::NoPath { name: s.to_owned(), transport });
                }
                return Ok(ImageName::Archive { format, path: PathBuf::from(path), reference });
            }
        }
        Err(NameError::UnknownTransport(s.to_owned()))
    }

    /// The transport's name, as in a name (`docker`, `store`, `oci`, `oci-archive`, `docker-archive`, `dir`).
    pub fn transport(&self) -> &'static str {
        match self {
            ImageName::Registry(_) => "docker",
            ImageName::Store(_) => "store",
            ImageName::Archive { format, .. } => transport_of(*format),
            ImageName::Daemon { .. } => "docker-daemon",
        }
    }

    /// The same name with the engine `host` (`--daemon-host`, `--src-daemon-host`, `--dest-daemon-host`) when
    /// it is a `docker-daemon:` one and a host is given; any other name unchanged.
    pub fn with_daemon_host(self, host: Option<&str>) -> ImageName {
        match (self, host) {
            (ImageName::Daemon { reference, .. }, Some(h)) => ImageName::Daemon { reference, host: Some(h.to_owned()) },
            (other, _) => other,
        }
    }

    /// True for a tar file (`docker-archive:`, `oci-archive:`), written one entry after another.
    pub fn is_tar(&self) -> bool {
        matches!(self, ImageName::Archive { format, .. } if format.is_archive())
    }

    /// True when the destination is written as one stream, a blob after another: a tar file or a Docker
    /// engine's load.
    pub fn is_stream(&self) -> bool {
        self.is_tar() || matches!(self, ImageName::Daemon { .. })
    }

    /// Opens the image this name means, to read. Archives are opened (and checked to be the format named) on
    /// a blocking thread.
    pub async fn open_source(&self, settings: &Settings) -> Result<Box<dyn ImageSource>, Error> {
        self.open_source_into(settings, None).await
    }

    /// [`ImageName::open_source`] for a copy into the local store `into` opens (when given): a Docker engine's
    /// image is then read once, its layers written into that store as they pass ([`DaemonSource::open_into`],
    /// which opens the store while the engine makes its archive); other sources open as
    /// [`ImageName::open_source`] opens them.
    pub async fn open_source_into(
        &self,
        settings: &Settings,
        into: Option<StoreOpener>,
    ) -> Result<Box<dyn ImageSource>, Error> {
        Ok(match self {
            ImageName::Registry(r) => Box::new(settings.registry_source(r).await?),
            ImageName::Store(n) => Box::new(StoreSource::open(settings.store()?, n)?),
            ImageName::Archive { format, path, reference } => {
                let (f, p, r) = (*format, path.clone(), reference.clone());
                tokio::task::spawn_blocking(move || archive_source(f, &p, r.as_deref()))
                    .await
                    .map_err(|source| Error::Task { task: "opening the archive", source })??
            }
            ImageName::Daemon { reference, host } => {
                let engine = daemon_engine(settings, host.as_deref())?;
                let r = reference.clone();
                Box::new(
                    tokio::task::spawn_blocking(move || DaemonSource::open_into(engine, r, into))
                        .await
                        .map_err(|source| Error::Task { task: "reading from the Docker engine", source })??,
                )
            }
        })
    }

    /// Opens the place this name means, to write one image. An archive is written to a temp file beside its
    /// path and renamed into place when the image is committed; nothing shows before.
    pub async fn open_destination(
        &self,
        settings: &Settings,
        options: &DestinationOptions,
    ) -> Result<Box<dyn ImageDestination>, Error> {
        Ok(match self {
            ImageName::Registry(r) => Box::new(settings.registry_destination(r).await?),
            ImageName::Store(n) => {
                let name = Reference::parse_normalized(n)?.with_default_tag();
                Box::new(StoreDestination::open(settings.store()?, name)?)
            }
            ImageName::Archive { format, path, reference } => {
                archive_destination(*format, path, reference.as_deref(), options)?
            }
            ImageName::Daemon { reference, host } => {
                let engine = daemon_engine(settings, host.as_deref())?;
                let r = reference.clone();
                Box::new(
                    tokio::task::spawn_blocking(move || DaemonDestination::open(&engine, r))
                        .await
                        .map_err(|source| Error::Task { task: "connecting to the Docker engine", source })??,
                )
            }
        })
    }
}

impl std::str::FromStr for ImageName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<ImageName, NameError> {
        ImageName::parse(s)
    }
}

impl fmt::Display for ImageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageName::Registry(r) => write!(f, "docker://{r}"),
            ImageName::Store(n) => write!(f, "store:{n}"),
            ImageName::Archive { format, path, reference } => {
                write!(f, "{}:{}", transport_of(*format), path.display())?;
                match reference {
                    Some(r) => write!(f, ":{r}"),
                    None => Ok(()),
                }
            }
            ImageName::Daemon { reference, .. } => write!(f, "docker-daemon:{reference}"),
        }
    }
}

/// The engine a `docker-daemon:` name is read from or written to: `host`, else the docker CLI's environment.
/// Its connections wait at least [`DAEMON_MIN_TIMEOUT`] for the engine (a load's answer comes only once every
/// layer is in), or the settings' timeout when longer.
fn daemon_engine(settings: &Settings, host: Option<&str>) -> Result<Engine, Error> {
    let timeout = settings.timeout.map(|t| t.max(DAEMON_MIN_TIMEOUT));
    Engine::new(host, &EngineEnv::from_process(), timeout)
        .map_err(|e| Error::Transport(super::docker_daemon::DaemonError::Engine(e).into()))
}

/// The shortest wait for a Docker engine's answer.
pub const DAEMON_MIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// The transport name of an archive or directory format (`oci-archive`), the one table of them: parsing a name
/// tries each, writing one uses it.
fn transport_of(format: Format) -> &'static str {
    match format {
        Format::DockerArchive => "docker-archive",
        Format::OciArchive => "oci-archive",
        Format::OciDir => "oci",
        Format::DockerDir => "dir",
    }
}

/// Opens an archive or directory as a source, refusing one whose content is another format. Blocking.
fn archive_source(format: Format, path: &Path, reference: Option<&str>) -> Result<Box<dyn ImageSource>, Error> {
    let opened = crate::archive::open(Input::Path(path.to_owned()), &std::env::temp_dir())?;
    if opened.format != format {
        return Err(Error::WrongFormat { path: path.to_owned(), found: opened.format, expected: format });
    }
    Ok(match format {
        Format::DockerArchive => Box::new(DockerArchiveSource::open(&opened.files, reference)?),
        Format::OciArchive => Box::new(OciLayoutSource::open(opened.files, reference, "oci-archive")?),
        Format::OciDir => Box::new(OciLayoutSource::open(opened.files, reference, "oci")?),
        Format::DockerDir => Box::new(DirSource::open(opened.files)),
    })
}

/// Opens an archive or directory as the destination of one image, which finishes it at its commit.
fn archive_destination(
    format: Format,
    path: &Path,
    reference: Option<&str>,
    options: &DestinationOptions,
) -> Result<Box<dyn ImageDestination>, Error> {
    let shown = path.display().to_string();
    let tar = || TarOut::to_file(path).map_err(|e| ArchiveError::io(&shown, e));
    Ok(match format {
        Format::DockerArchive => {
            let names = match reference {
                Some(r) => vec![Reference::parse_normalized(r)?.with_default_tag()],
                None => Vec::new(),
            };
            Box::new(DockerArchiveWriter::new(tar()?, &shown).last_image(names))
        }
        Format::OciArchive => {
            Box::new(OciLayoutWriter::archive(tar()?, &shown).last_image(reference.map(str::to_owned)))
        }
        Format::OciDir => Box::new(OciLayoutWriter::dir(path)?.last_image(reference.map(str::to_owned))),
        Format::DockerDir => {
            let dir = DirOptions { compress: options.compress_layers, docker_schema2: false };
            Box::new(DirDestination::open_with(path, dir)?)
        }
    })
}

#[cfg(test)]
mod tests;
