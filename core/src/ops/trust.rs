//! The trust workflows a second caller needs as one call each: sign an image where it is (`hoist sign`),
//! judge an image without moving it (`hoist trust check`), and `tag --semver --remote`, whose tags move only
//! for an image the policy accepts (and its local twin, `tag --semver`, here to keep the two together).

use std::sync::Arc;

use super::{Error, Settings};
use crate::copy::{self, Judged};
use crate::digest::Digest;
use crate::reference::Reference;
use crate::release::{self, FanOut};
use crate::transport::name::ImageName;
use crate::trust::Signer;
use crate::trust::policy::Policy;

/// Signs the manifest `reference` names on its registry, where it is, with each of `signers` as `identity`,
/// and adds the signatures to those already stored (registries.d decides where). Returns the digest signed.
pub async fn sign(
    settings: &Settings,
    reference: &Reference,
    signers: &[Arc<dyn Signer>],
    identity: &Reference,
) -> Result<Digest, Error> {
    let destination = settings.registry_destination(reference).await?;
    let digest = destination.current_manifest().await?.digest;
    let mut signatures = Vec::with_capacity(signers.len());
    for s in signers {
        settings.observer.progress(&format!("Signing {reference} ({digest}) as {identity} with {}", s.describe()));
        signatures.push(s.sign(&digest, identity)?);
    }
    destination.add_signatures(&digest, &signatures).await?;
    Ok(digest)
}

/// What `policy` says of the image `name` names (a transport name, else a registry reference), as the copy
/// engine would judge it: the top-level manifest, then the instance chosen from an index. Returns the
/// verdicts and the source's name.
pub async fn judge(
    settings: &Settings,
    policy: &Policy,
    name: &str,
    opts: &copy::Options,
) -> Result<(Vec<Judged>, String), Error> {
    let name = match ImageName::parse(name) {
        Ok(n) => n,
        Err(e) if name.contains("://") => return Err(e.into()),
        Err(e) => ImageName::parse(&format!("docker://{name}")).map_err(|_| e)?,
    };
    if matches!(name, ImageName::Registry(_)) {
        settings.config()?;
    }
    let source = name.open_source(settings).await?;
    let judged = copy::judge(source.as_ref(), policy, opts).await?;
    Ok((judged, source.name()))
}

/// `tag --semver --remote REF:VERSION`: the image judged by the trust policy first, then its shorter version
/// tags (and `latest`) moved on the registry ([`release::semver_remote`]).
pub async fn tag_semver_remote(
    settings: &Settings,
    reference: &Reference,
    tag: &str,
    latest: bool,
) -> Result<FanOut, Error> {
    settings.config()?;
    let opts = settings.copy_options(true)?;
    copy::check(&settings.registry_source(reference).await?, &opts).await?;
    let client = settings.registry_client(reference).await?;
    Ok(release::semver_remote(&client, reference.path(), tag, latest).await?)
}

/// `tag --semver NAME:VERSION` in the local store: the image's shorter version tags (and `latest`) pointed at
/// it, in its repository ([`release::semver_local`]). An unqualified NAME is `localhost/NAME`, as `tag` names
/// it, unless only docker.io's `library/NAME` is stored (an image pulled by a short name). Returns the name
/// used and what happened to each tag. Nothing is judged: no image enters the store.
pub fn tag_semver_local(settings: &Settings, image: &str, latest: bool) -> Result<(Reference, FanOut), Error> {
    let store = settings.store()?;
    let local = Reference::parse_local(image)?.with_default_tag();
    let docker = Reference::parse_normalized(image)?.with_default_tag();
    let images = store.list()?;
    let stored = |name: &Reference| images.iter().any(|i| i.names.contains(name));
    let name = if docker != local && !stored(&local) && stored(&docker) { docker } else { local };
    let fan = release::semver_local(&store, &name, latest)?;
    Ok((name, fan))
}
