//! What `hoist images` and `hoist inspect` show about an image, computed from its manifest and config
//! wherever they come from (the local store or a registry): its ID (the config digest, as podman's), the
//! manifest digest, created time, platform, labels, environment, layers and size.
//!
//! What it is not: fetching; callers read the manifest and config through a transport and pass the bytes.

use std::collections::BTreeMap;

use crate::digest::Digest;
use crate::image::{Descriptor, ImageConfig, ImageError, Manifest};
use crate::transport::RawManifest;

/// One image, as `inspect` prints it (skopeo's field names).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Inspection {
    pub name: String,
    pub digest: Digest,
    pub repo_tags: Vec<String>,
    pub created: Option<String>,
    pub docker_version: String,
    pub labels: Option<BTreeMap<String, String>>,
    pub architecture: String,
    pub os: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    pub layers: Vec<Digest>,
    pub layers_data: Vec<LayerData>,
    pub env: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LayerData {
    #[serde(rename = "MIMEType")]
    pub mime_type: String,
    pub digest: Digest,
    pub size: u64,
    pub annotations: Option<BTreeMap<String, String>>,
}

/// The facts of one image manifest and its config.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The config digest: podman's image ID.
    pub id: Digest,
    pub digest: Digest,
    pub config: ImageConfig,
    pub layers: Vec<Descriptor>,
    /// Config plus layers, compressed, as stored.
    pub size: u64,
}

/// Summarises an image manifest with its config bytes.
pub fn summarize(manifest: &RawManifest, config_raw: &[u8]) -> Result<Summary, ImageError> {
    let Manifest::Image(m) = Manifest::parse(&manifest.raw, Some(&manifest.media_type))? else {
        return Err(ImageError::Invalid(format!("{} is an index, not an image manifest", manifest.digest)));
    };
    let config = ImageConfig::parse(config_raw)?;
    let size = m.config.size + m.layers.iter().map(|l| l.size).sum::<u64>();
    Ok(Summary { id: m.config.digest.clone(), digest: manifest.digest.clone(), config, layers: m.layers, size })
}

impl Summary {
    /// The `inspect` view; `name` is the repository (`docker.io/library/alpine`).
    pub fn inspection(&self, name: String, repo_tags: Vec<String>) -> Inspection {
        let container = self.config.config.as_ref();
        let labels = container
            .and_then(|c| c.get("Labels"))
            .and_then(|l| serde_json::from_value::<BTreeMap<String, String>>(l.clone()).ok());
        let env = container
            .and_then(|c| c.get("Env"))
            .and_then(|e| serde_json::from_value::<Vec<String>>(e.clone()).ok())
            .unwrap_or_default();
        Inspection {
            name,
            digest: self.digest.clone(),
            repo_tags,
            created: self.config.created.clone(),
            docker_version: String::new(),
            labels,
            architecture: self.config.architecture.clone(),
            os: self.config.os.clone(),
            variant: self.config.variant.clone(),
            layers: self.layers.iter().map(|l| l.digest.clone()).collect(),
            layers_data: self
                .layers
                .iter()
                .map(|l| LayerData {
                    mime_type: l.media_type.clone(),
                    digest: l.digest.clone(),
                    size: l.size,
                    annotations: l.annotations.clone(),
                })
                .collect(),
            env,
        }
    }
}
