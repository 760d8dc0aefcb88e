//! Descriptors (what a manifest or index says about a blob it points at) and platforms (which OS and CPU an
//! image is for), with containers/image's platform matching.
//!
//! What it is not: fetching or checking the blobs a descriptor names (the copy engine and the store do that,
//! against [`Descriptor::digest`] and [`Descriptor::size`]).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::{ImageError, media_type};
use crate::digest::Digest;

/// An OCI content descriptor. Field order is the OCI spec's (and Go's), so serialising a descriptor hoist
/// built gives the bytes other tools would write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// Any algorithm the OCI grammar admits ([`Digest::parse_any`]): the document parses, and the blob is
    /// refused only when it is fetched or verified.
    #[serde(deserialize_with = "crate::digest::deserialize_any")]
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(rename = "artifactType", default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

impl Descriptor {
    /// A descriptor with only the three required fields.
    pub fn new(media_type: impl Into<String>, digest: Digest, size: u64) -> Descriptor {
        Descriptor {
            media_type: media_type.into(),
            digest,
            size,
            urls: Vec::new(),
            annotations: None,
            platform: None,
            artifact_type: None,
        }
    }

    /// A foreign (non-distributable) layer: its bytes are not copied, its descriptor stays in the manifest.
    pub fn is_foreign(&self) -> bool {
        media_type::is_foreign_layer(&self.media_type)
    }

    /// One annotation's value.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.as_ref()?.get(key).map(String::as_str)
    }
}

/// The platform an image runs on, as in an index entry (`os.version` and `os.features` are Windows').
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(rename = "os.version", default, skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// A platform with no `os.version`/`os.features`.
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
        Platform {
            architecture: architecture.to_owned(),
            os: os.to_owned(),
            variant: variant.map(str::to_owned),
            ..Platform::default()
        }
    }

    /// The platform this program runs on, in Go's names (what containers/image asks for by default): the
    /// architecture mapped from Rust's to GOARCH (`x86_64` → `amd64`, `aarch64` → `arm64` variant `v8`,
    /// `arm` → `arm` variant `v7`, `x86` → `386`, `powerpc64` → `ppc64le`/`ppc64` by endianness, ...), the OS
    /// mapped likewise (`macos` → `darwin`). The ARM variant is not probed from the CPU: 32-bit ARM is
    /// taken to be v7.
    pub fn host() -> Platform {
        let little = cfg!(target_endian = "little");
        let (arch, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", None),
            "aarch64" => ("arm64", Some("v8")),
            "arm" => ("arm", Some("v7")),
            "x86" => ("386", None),
            "powerpc64" if little => ("ppc64le", None),
            "powerpc64" => ("ppc64", None),
            "powerpc" => ("ppc", None),
            "mips" if little => ("mipsle", None),
            "mips64" if little => ("mips64le", None),
            "loongarch64" => ("loong64", None),
            other => (other, None),
        };
        let os = match std::env::consts::OS {
            "macos" => "darwin",
            other => other,
        };
        Platform::new(os, arch, variant)
    }

    /// Parses `os/arch[/variant]` (`linux/arm64/v8`), as `--platform` takes it.
    pub fn parse(s: &str) -> Result<Platform, ImageError> {
        let bad = |reason: &str| ImageError::Platform { input: super::excerpt(s), reason: reason.to_owned() };
        let parts: Vec<&str> = s.split('/').collect();
        if !(2..=3).contains(&parts.len()) {
            return Err(bad("expected os/arch or os/arch/variant"));
        }
        if parts.iter().any(|p| p.is_empty() || p.chars().any(|c| c.is_whitespace() || c.is_control())) {
            return Err(bad("empty or blank component"));
        }
        Ok(Platform::new(parts[0], parts[1], parts.get(2).copied()))
    }

    /// True when an image for `self` is what `want` asks for, after containerd's normalisation (which
    /// containers/image uses): names are case-insensitive; `x86_64`/`x86-64` are `amd64` and its variant
    /// `v1` is none; `aarch64` is `arm64` and its variant `v8`/`8` is none; `arm` with no variant is `arm/v7`;
    /// `armhf` is `arm/v7`, `armel` is `arm/v6`; `i386` is `386`. `os.version` and `os.features` are not
    /// compared.
    pub fn matches(&self, want: &Platform) -> bool {
        normalize(self) == normalize(want)
    }
}

/// (os, arch, variant) in containerd's normal form.
fn normalize(p: &Platform) -> (String, String, String) {
    let os = match p.os.to_ascii_lowercase().as_str() {
        "macos" => "darwin".to_owned(),
        other => other.to_owned(),
    };
    let arch = p.architecture.to_ascii_lowercase();
    let variant = p.variant.as_deref().unwrap_or("").to_ascii_lowercase();
    let (arch, variant) = match arch.as_str() {
        "i386" => ("386".to_owned(), String::new()),
        "x86_64" | "x86-64" | "amd64" => ("amd64".to_owned(), if variant == "v1" { String::new() } else { variant }),
        "aarch64" | "arm64" => {
            let v = match variant.as_str() {
                "8" | "v8" | "v8.0" => String::new(),
                "9" | "9.0" | "v9.0" => "v9".to_owned(),
                _ => variant,
            };
            ("arm64".to_owned(), v)
        }
        "armhf" => ("arm".to_owned(), "v7".to_owned()),
        "armel" => ("arm".to_owned(), "v6".to_owned()),
        "arm" => {
            let v = match variant.as_str() {
                "" | "7" => "v7".to_owned(),
                "5" | "6" | "8" => format!("v{variant}"),
                _ => variant,
            };
            ("arm".to_owned(), v)
        }
        _ => (arch, variant),
    };
    (os, arch, variant)
}

/// The normalised form of `p` (see [`Platform::matches`]), for choosing with fallbacks.
pub(super) fn normalized(p: &Platform) -> Platform {
    let (os, arch, variant) = normalize(p);
    Platform::new(&os, &arch, (!variant.is_empty()).then_some(variant.as_str()))
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = self.variant.as_deref().filter(|v| !v.is_empty()) {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}
