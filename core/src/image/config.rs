//! Reading an image's config blob (OCI image config / Docker container image v1): what `inspect` shows and
//! what a layer's uncompressed digest (`diff_ids`) is checked against.
//!
//! What it is not: a full model of the config. Only the fields hoist decides things by are typed; the
//! container config (`Env`, `Cmd`, `Labels`, ...) and history entries stay JSON values, and the raw blob,
//! not this view, is what is stored and pushed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::descriptor::Platform;
use super::{ImageError, MAX_CONFIG_SIZE, json_error};
use crate::digest::Digest;

/// The parts of an image config hoist reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// RFC 3339 creation time, as written by the builder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The container config: `Env`, `Cmd`, `Entrypoint`, `Labels`, `WorkingDir`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_json::Value>,
    #[serde(default)]
    pub rootfs: RootFs,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<serde_json::Value>,
}

/// The layers' uncompressed digests, bottom first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(default)]
    pub r#type: String,
    #[serde(default)]
    pub diff_ids: Vec<Digest>,
}

impl ImageConfig {
    /// Parses a config blob of at most [`MAX_CONFIG_SIZE`] bytes. Fields hoist does not type are ignored; an
    /// empty object (OCI's empty config for artifacts) parses, with every field empty.
    pub fn parse(raw: &[u8]) -> Result<ImageConfig, ImageError> {
        if raw.len() > MAX_CONFIG_SIZE {
            return Err(ImageError::TooLarge { what: "image config", size: raw.len(), limit: MAX_CONFIG_SIZE });
        }
        serde_json::from_slice(raw).map_err(|e| json_error("image config", &e))
    }

    /// The platform the config says the image is for.
    pub fn platform(&self) -> Platform {
        Platform::new(&self.os, &self.architecture, self.variant.as_deref().filter(|v| !v.is_empty()))
    }

    /// The container config's `Labels` (string values only).
    pub fn labels(&self) -> BTreeMap<String, String> {
        self.container_field("Labels")
            .and_then(|v| v.as_object())
            .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect())
            .unwrap_or_default()
    }

    /// The container config's `Env` (`KEY=value` strings).
    pub fn env(&self) -> Vec<String> {
        self.string_list("Env")
    }

    /// The container config's `Cmd`.
    pub fn cmd(&self) -> Vec<String> {
        self.string_list("Cmd")
    }

    /// The container config's `Entrypoint`.
    pub fn entrypoint(&self) -> Vec<String> {
        self.string_list("Entrypoint")
    }

    fn container_field(&self, key: &str) -> Option<&serde_json::Value> {
        self.config.as_ref()?.get(key)
    }

    fn string_list(&self, key: &str) -> Vec<String> {
        self.container_field(key)
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    }
}
