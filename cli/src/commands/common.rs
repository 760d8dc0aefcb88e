//! What the image commands share: registry flags (`--creds`, `--authfile`, `--tls-verify`, `--cert-dir`), the
//! platform flags, the trust policy flags (`--signature-policy`, `--insecure-policy`), the signing flags
//! (`--sign-by`, `--sign-by-sigstore-private-key`, `--sign-passphrase-file`, `--sign-identity`,
//! `--remove-signatures`), the local store, and the terminal prompt for ambiguous short names — each mapped to
//! the library's [`Settings`].

use std::path::PathBuf;
use std::sync::Arc;

use hoist_core::image::Platform;
use hoist_core::ops::{CredentialSource, Prompt, PromptError, RegistryAccess, Settings};
use hoist_core::reference::Reference;
use hoist_core::registry::TlsOptions;
use hoist_core::trust::Signer;
use hoist_helper_protocol::{Credentials, Secret, tty};

use super::{Invocation, Result, fail};

/// The flags podman's image commands take for one registry side.
#[derive(clap::Args, Clone, Default)]
pub struct RegistryArgs {
    /// Path of the auth file (default: $REGISTRY_AUTH_FILE, else ${XDG_RUNTIME_DIR}/containers/auth.json)
    #[arg(long)]
    pub authfile: Option<PathBuf>,
    /// Credentials for the registry: USER:PASS, or USER to be asked for the password
    #[arg(long, value_name = "USER[:PASS]")]
    pub creds: Option<String>,
    /// Access the registry anonymously, whatever credentials are stored
    #[arg(long, conflicts_with = "creds")]
    pub no_creds: bool,
    /// Require HTTPS and verify certificates (default: true unless registries.conf marks the registry insecure)
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub tls_verify: Option<bool>,
    /// Directory with CA certificates (*.crt) for the registry
    #[arg(long, value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,
}

impl RegistryArgs {
    pub fn tls(&self) -> TlsOptions {
        TlsOptions { tls_verify: self.tls_verify, cert_dir: self.cert_dir.clone() }
    }

    /// How this side reaches registries: `--tls-verify`, `--cert-dir`, and where credentials come from.
    pub fn access(&self) -> Result<RegistryAccess> {
        Ok(RegistryAccess {
            tls: self.tls(),
            credentials: credential_source(&self.creds, self.no_creds, &self.authfile)?,
        })
    }

    /// The context's settings with this side's registry flags.
    pub fn settings(&self, ctx: &Invocation) -> Result<Settings> {
        Ok(ctx.settings.clone().with_registry(self.access()?))
    }
}

/// skopeo's two-sided registry flags (`copy`, `sync`): `--authfile` for both sides, `--src-*`/`--dest-*` for
/// each.
#[derive(clap::Args, Clone, Default)]
pub struct SidesArgs {
    /// Path of the auth file for both sides
    #[arg(long)]
    pub authfile: Option<PathBuf>,
    /// Path of the auth file for the source
    #[arg(long, value_name = "FILE")]
    pub src_authfile: Option<PathBuf>,
    /// Path of the auth file for the destination
    #[arg(long, value_name = "FILE")]
    pub dest_authfile: Option<PathBuf>,
    /// Credentials for the source registry: USER[:PASS]
    #[arg(long, value_name = "USER[:PASS]")]
    pub src_creds: Option<String>,
    /// Credentials for the destination registry: USER[:PASS]
    #[arg(long, value_name = "USER[:PASS]")]
    pub dest_creds: Option<String>,
    /// Access the source registry anonymously
    #[arg(long, conflicts_with = "src_creds")]
    pub src_no_creds: bool,
    /// Access the destination registry anonymously
    #[arg(long, conflicts_with = "dest_creds")]
    pub dest_no_creds: bool,
    /// Require HTTPS and verify certificates for the source
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub src_tls_verify: Option<bool>,
    /// Require HTTPS and verify certificates for the destination
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub dest_tls_verify: Option<bool>,
    /// CA certificates (*.crt) for the source registry
    #[arg(long, value_name = "DIR")]
    pub src_cert_dir: Option<PathBuf>,
    /// CA certificates (*.crt) for the destination registry
    #[arg(long, value_name = "DIR")]
    pub dest_cert_dir: Option<PathBuf>,
}

impl SidesArgs {
    /// How the source side reaches registries (`--src-authfile`, else `--authfile`).
    pub fn source(&self) -> Result<RegistryAccess> {
        let authfile = self.src_authfile.as_ref().or(self.authfile.as_ref()).cloned();
        Ok(RegistryAccess {
            tls: TlsOptions { tls_verify: self.src_tls_verify, cert_dir: self.src_cert_dir.clone() },
            credentials: credential_source(&self.src_creds, self.src_no_creds, &authfile)?,
        })
    }

    /// How the destination side reaches registries (`--dest-authfile`, else `--authfile`).
    pub fn destination(&self) -> Result<RegistryAccess> {
        let authfile = self.dest_authfile.as_ref().or(self.authfile.as_ref()).cloned();
        Ok(RegistryAccess {
            tls: TlsOptions { tls_verify: self.dest_tls_verify, cert_dir: self.dest_cert_dir.clone() },
            credentials: credential_source(&self.dest_creds, self.dest_no_creds, &authfile)?,
        })
    }
}

/// Where credentials come from: `--no-creds`, `--creds USER[:PASS]`, else looked up (in `--authfile` first).
pub fn credential_source(
    given: &Option<String>,
    anonymous: bool,
    authfile: &Option<PathBuf>,
) -> Result<CredentialSource> {
    Ok(match (anonymous, given, authfile) {
        (true, _, _) => CredentialSource::Anonymous,
        (false, Some(c), _) => CredentialSource::Given(parse_creds(c)?),
        (false, None, Some(f)) => CredentialSource::AuthFile(f.clone()),
        (false, None, None) => CredentialSource::Lookup,
    })
}

/// `USER:PASS`, or `USER` with the password asked for on the terminal (as podman does).
pub fn parse_creds(given: &str) -> Result<Credentials> {
    let (user, secret) = match given.split_once(':') {
        Some((u, p)) => (u.to_owned(), Secret::from(p)),
        None if tty::open().is_some() => (given.to_owned(), Secret::from(tty::read_secret("Password: ")?.as_str())),
        None => return fail("--creds USER needs a terminal to ask for the password: give USER:PASS"),
    };
    if user.is_empty() {
        return fail("--creds: the username must not be empty");
    }
    Ok(Credentials { server_url: String::new(), username: user, secret })
}

/// `--registries.d DIR` (skopeo's flag): where containers-registries.d(5) says signatures are read and
/// written, for the commands that read or write signatures.
#[derive(clap::Args, Clone, Default)]
pub struct SignatureStorageArgs {
    /// Directory of containers-registries.d(5) files saying where signatures are read and written (default:
    /// $HOME/.config/containers/registries.d, else /etc/containers/registries.d)
    #[arg(long = "registries.d", value_name = "DIR")]
    pub registries_d: Option<PathBuf>,
}

impl SignatureStorageArgs {
    /// `settings` with `--registries.d` when given.
    pub fn apply(&self, mut settings: Settings) -> Settings {
        if let Some(d) = &self.registries_d {
            settings.registries_d = Some(d.clone());
        }
        settings
    }
}

/// The trust policy flags of every command through which an image enters (podman's and skopeo's names).
#[derive(clap::Args, Clone, Default)]
pub struct PolicyArgs {
    /// Trust policy file (default: $HOME/.config/containers/policy.json, else /etc/containers/policy.json)
    #[arg(long, value_name = "PATH")]
    pub signature_policy: Option<PathBuf>,
    /// Accept every image without reading a trust policy
    #[arg(long, conflicts_with = "signature_policy")]
    pub insecure_policy: bool,
}

impl PolicyArgs {
    /// `settings` with these flags.
    pub fn apply(&self, mut settings: Settings) -> Settings {
        if let Some(p) = &self.signature_policy {
            settings.signature_policy = Some(p.clone());
        }
        settings.insecure_policy |= self.insecure_policy;
        settings
    }
}

/// The signing flags (skopeo's and podman's names), one set for every command that signs: `push`, `copy`,
/// `build --push`, `promote` (through [`SignArgs`]) and `sign`.
#[derive(clap::Args, Clone, Default)]
pub struct SignFlags {
    /// Sign with this GPG key (its fingerprint), through your GnuPG ($GNUPGHOME)
    #[arg(long, value_name = "FINGERPRINT")]
    pub sign_by: Option<String>,
    /// Sign with this sigstore (cosign) private key
    #[arg(long, value_name = "PATH")]
    pub sign_by_sigstore_private_key: Option<PathBuf>,
    /// Read the signing key's passphrase from the first line of this file (default: asked on the terminal
    /// for a sigstore key; GnuPG's agent asks for a GPG key)
    #[arg(long, value_name = "PATH")]
    pub sign_passphrase_file: Option<PathBuf>,
    /// The image name new signatures vouch for: [docker://]REGISTRY/REPO[:TAG] (default: the name written to; for sign, the image's)
    #[arg(long, value_name = "REF")]
    pub sign_identity: Option<String>,
}

impl SignFlags {
    /// True when a key to sign with was given.
    pub fn any(&self) -> bool {
        self.sign_by.is_some() || self.sign_by_sigstore_private_key.is_some()
    }

    /// The signers the flags ask for (none without a signing flag): a sigstore key decrypted now, its
    /// passphrase from the file or the terminal; a GPG key's passphrase from the file, else GnuPG's agent asks.
    pub fn signers(&self) -> Result<Vec<Arc<dyn Signer>>> {
        use hoist_core::trust::passphrase::read_passphrase_file;
        if self.sign_passphrase_file.is_some() && self.sign_by.is_some() && self.sign_by_sigstore_private_key.is_some()
        {
            return fail(
                "only one of --sign-by and --sign-by-sigstore-private-key can be used with --sign-passphrase-file",
            );
        }
        let from_file = match &self.sign_passphrase_file {
            Some(p) => Some(read_passphrase_file(p)?),
            None => None,
        };
        let mut out: Vec<Arc<dyn Signer>> = Vec::new();
        if let Some(fingerprint) = &self.sign_by {
            if fingerprint.is_empty() {
                return fail("--sign-by: the key fingerprint must not be empty");
            }
            let signer = hoist_core::trust::simple::GpgSigner {
                fingerprint: fingerprint.clone(),
                passphrase: from_file.clone(),
            };
            out.push(Arc::new(signer));
        }
        if let Some(key) = &self.sign_by_sigstore_private_key {
            let passphrase = match from_file {
                Some(p) => p,
                None if tty::open().is_some() => tty::read_secret(&format!("Passphrase for key {}: ", key.display()))?,
                None => {
                    return fail(format!(
                        "--sign-by-sigstore-private-key {}: no terminal to ask for its passphrase: use --sign-passphrase-file",
                        key.display()
                    ));
                }
            };
            let signer = hoist_core::trust::sigstore::KeySigner::open(key, &passphrase)
                .map_err(|e| format!("--sign-by-sigstore-private-key {}: {e}", key.display()))?;
            out.push(Arc::new(signer));
        }
        Ok(out)
    }

    /// `--sign-identity` parsed (`docker://` optional; no tag added, as skopeo's `--sign-identity`); an error
    /// when given without a key.
    pub fn identity(&self) -> Result<Option<Reference>> {
        let Some(identity) = &self.sign_identity else { return Ok(None) };
        if !self.any() {
            return fail("--sign-identity needs --sign-by or --sign-by-sigstore-private-key");
        }
        let r = Reference::parse_normalized(identity.strip_prefix("docker://").unwrap_or(identity))
            .map_err(|e| format!("--sign-identity {identity}: {e}"))?;
        Ok(Some(r))
    }
}

/// The signing flags of the commands that write an image to a registry: [`SignFlags`] and
/// `--remove-signatures`.
#[derive(clap::Args, Clone, Default)]
pub struct SignArgs {
    #[command(flatten)]
    pub flags: SignFlags,
    /// Do not copy the image's signatures (new ones are still made)
    #[arg(long)]
    pub remove_signatures: bool,
}

impl SignArgs {
    /// `settings` with these flags: the signers built, the identity parsed.
    pub fn apply(&self, mut settings: Settings) -> Result<Settings> {
        settings.signers.extend(self.flags.signers()?);
        if let Some(identity) = self.flags.identity()? {
            settings.sign_identity = Some(identity);
        }
        settings.remove_signatures |= self.remove_signatures;
        Ok(settings)
    }
}

/// How a copy runs: `--jobs`, `-q`.
#[derive(clap::Args, Clone)]
pub struct CopyFlags {
    /// Blobs to copy at once
    #[arg(long, default_value_t = 6, value_name = "N")]
    pub jobs: usize,
    /// Print no progress (pull still prints the image ID)
    #[arg(short, long)]
    pub quiet: bool,
}

/// `--format`/`-f` of push and copy (podman's and skopeo's): the manifest format to write.
#[derive(clap::Args, Clone, Default)]
pub struct FormatArgs {
    /// Manifest format to write: oci or v2s2 (Docker schema 2); converted on the way (default: as the source
    /// has it, byte for byte)
    #[arg(short = 'f', long = "format", value_name = "FORMAT")]
    pub format: Option<String>,
}

impl FormatArgs {
    /// `settings` writing the format asked for; an unknown one (or v2s1) refused in one line.
    pub fn apply(&self, mut settings: Settings) -> Result<Settings> {
        if let Some(f) = &self.format {
            settings.format = Some(f.parse::<hoist_core::image::convert::ManifestFormat>()?);
        }
        Ok(settings)
    }
}

/// podman push's layer compression flags.
#[derive(clap::Args, Clone, Default)]
pub struct CompressionArgs {
    /// Write layers compressed with gzip or zstd, recompressing those compressed otherwise (zstd makes the
    /// manifest OCI; default: layers as they are)
    #[arg(long, value_name = "FORMAT")]
    pub compression_format: Option<String>,
    /// Compression level: zstd 1 to 20 (default 3), gzip 1 to 9 (default 6)
    #[arg(long, value_name = "LEVEL", allow_negative_numbers = true)]
    pub compression_level: Option<i32>,
    /// Recompress layers already in the compression format too
    #[arg(long)]
    pub force_compression: bool,
}

impl CompressionArgs {
    /// `settings` writing layers as asked; an unknown format, `zstd:chunked` or a level out of range refused
    /// in one line.
    pub fn apply(&self, settings: Settings) -> Result<Settings> {
        let force = self.force_compression;
        compression(settings, self.compression_format.as_deref(), self.compression_level, force)
    }
}

/// `settings` with the layer compression `format` at `level` (`force`: already-compressed layers too).
pub fn compression(mut settings: Settings, format: Option<&str>, level: Option<i32>, force: bool) -> Result<Settings> {
    use hoist_core::archive::recompress::{LayerCompression, Recompression, RecompressionError};
    let Some(format) = format else {
        if level.is_some() || force {
            return Err(RecompressionError::LevelWithoutFormat.into());
        }
        return Ok(settings);
    };
    let format = format.parse::<LayerCompression>()?;
    settings.compression = Some(Recompression::new(format, level, force)?);
    Ok(settings)
}

/// podman's platform flags.
#[derive(clap::Args, Clone, Default)]
pub struct PlatformArgs {
    /// Pick this platform from a multi-platform image: OS/ARCH[/VARIANT] (default: this machine's)
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
    /// Override the architecture of the platform to pick
    #[arg(long)]
    pub arch: Option<String>,
    /// Override the OS of the platform to pick
    #[arg(long)]
    pub os: Option<String>,
    /// Override the architecture variant of the platform to pick
    #[arg(long)]
    pub variant: Option<String>,
}

impl PlatformArgs {
    /// The platform asked for; `None` when no flag was given (the host's then applies).
    pub fn platform(&self) -> Result<Option<Platform>> {
        if self.platform.is_none() && self.arch.is_none() && self.os.is_none() && self.variant.is_none() {
            return Ok(None);
        }
        let mut p = match &self.platform {
            Some(s) => Platform::parse(s)?,
            None => Platform::host(),
        };
        if let Some(a) = &self.arch {
            p.architecture = a.clone();
            if self.variant.is_none() {
                p.variant = None;
            }
        }
        if let Some(o) = &self.os {
            p.os = o.clone();
        }
        if let Some(v) = &self.variant {
            p.variant = Some(v.clone());
        }
        Ok(Some(p))
    }
}

/// Asks on the terminal which image an ambiguous short name means, as podman does.
pub struct TerminalPrompt;

impl TerminalPrompt {
    /// A prompt when there is a terminal to ask on.
    pub fn open() -> Option<Arc<dyn Prompt>> {
        tty::open().map(|_| Arc::new(TerminalPrompt) as Arc<dyn Prompt>)
    }
}

impl Prompt for TerminalPrompt {
    fn choose(&self, name: &str, candidates: &[Reference]) -> std::result::Result<Reference, PromptError> {
        let mut prompt = format!("? Please select an image for {name:?}:\n");
        for (i, c) in candidates.iter().enumerate() {
            prompt.push_str(&format!("  {}. {c}\n", i + 1));
        }
        prompt.push_str("Number: ");
        let answer = tty::read_line(&prompt)?;
        match answer.trim().parse::<usize>() {
            Ok(n) if (1..=candidates.len()).contains(&n) => Ok(candidates[n - 1].clone()),
            _ => Err(PromptError::NoneSelected { name: name.to_owned() }),
        }
    }
}

/// A name for an image in a registry: `docker://` optional; docker's normalisation; `latest` by default.
pub fn registry_reference(s: &str) -> Result<Reference> {
    let s = s.strip_prefix("docker://").unwrap_or(s);
    Ok(Reference::parse_normalized(s)?.with_default_tag())
}

/// A size as podman prints it (go-units `HumanSizeWithPrecision(n, 3)`): `5.59 MB`, `100 MB`, `512 B`.
pub fn human_size(bytes: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1000.0 && i < units.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    let decimals = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    let mut n = format!("{v:.decimals$}");
    if n.contains('.') {
        n = n.trim_end_matches('0').trim_end_matches('.').to_owned();
    }
    format!("{n} {}", units[i])
}

/// The first 12 hex digits of a digest, as podman shows IDs and blobs; all of a shorter one (a descriptor
/// may name a blob by an algorithm hoist cannot verify, whose encoded part can be short).
pub fn short(d: &hoist_core::digest::Digest) -> String {
    d.hex().get(..12).unwrap_or(d.hex()).to_owned()
}

#[cfg(test)]
mod tests {
    use hoist_core::digest::Digest;

    #[test]
    fn short_ids_of_any_digest() {
        assert_eq!(super::short(&Digest::sha256(b"")), "e3b0c44298fc");
        // A descriptor's digest in an algorithm hoist cannot verify is shown, not a panic, when its blob is
        // announced before it is refused.
        assert_eq!(super::short(&Digest::parse_any("multihash+base58:QmRZ").unwrap()), "QmRZ");
    }
}
