//! containers-policy.json(5): where the policy is, its requirements parsed exactly as containers/image's
//! `signature/policy_config.go` (unknown keys, types and duplicate keys refused; every error names the file
//! and the entry), the scopes a source image matches (most specific first, per transport, as
//! `policy_eval.go`'s `requirementsForImageRef`), and the evaluation every source image goes through before
//! the copy engine reads a layer — kept whole in an [`Evaluation`] so `hoist trust check` can say which scope
//! applied, what each requirement decided and why each signature was accepted or refused.
//!
//! Key files are read when a requirement is evaluated, not when the policy is loaded (as containers/image:
//! a missing key for one registry does not stop pulls from another); reading one is capped in size, refuses
//! anything but a regular file (a FIFO cannot hang it) and a failure refuses the image with a message naming
//! the key file, the policy file and the entry.

mod identity;
mod json;
mod keys;
pub(crate) use keys::read_capped;
mod parse;
mod show;

pub use identity::IdentityRule;
pub use keys::{KEY_FILE_LIMIT, KEYS_TOTAL_LIMIT, POLICY_FILE_LIMIT};
pub use show::{SetType, ShowRow, gpg_key_ids, gpg_key_ids_of, set_entry, show_table};

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::digest::{Digest, Hasher};
use crate::image::RawManifest;
use crate::reference::Reference;
use crate::trust::{PolicyName, Signature};

/// A parsed policy file (or skopeo's `--insecure-policy`: accept anything).
#[derive(Debug, Clone)]
pub struct Policy {
    /// The file it was read from; `None` for [`Policy::insecure_accept_anything`].
    pub path: Option<PathBuf>,
    /// `default`: what applies when no transport scope matches.
    pub default: Vec<Requirement>,
    /// `transports`: transport name → scope → requirements.
    pub transports: BTreeMap<String, BTreeMap<String, Vec<Requirement>>>,
    /// The copy engine's tests: one manifest refused whatever the requirements say (which manifests are judged).
    #[cfg(test)]
    pub(crate) refused_digest: Option<crate::digest::Digest>,
}

/// One policy requirement (containers-policy.json(5) "Policy Requirements").
#[derive(Debug, Clone, PartialEq)]
pub enum Requirement {
    /// `insecureAcceptAnything`: any image, signed or not.
    InsecureAcceptAnything,
    /// `reject`: no image.
    Reject,
    /// `signedBy`: a GPG simple signature by one of the keys, for this image's digest and an accepted identity.
    SignedBy { key_type: KeyType, keys: KeySource, signed_identity: IdentityRule },
    /// `signedBaseLayer`: parsed, and refused when evaluated (containers/image has not implemented it).
    SignedBaseLayer { base_layer_identity: IdentityRule },
    /// `sigstoreSigned`: a sigstore signature by one of the keys. `keys` is `None` when the requirement
    /// names Fulcio or PKI instead; `unsupported` says what hoist cannot verify yet (Fulcio, PKI, Rekor), and
    /// such a requirement refuses every image rather than accepting any.
    SigstoreSigned { keys: Option<KeySource>, unsupported: Option<String>, signed_identity: IdentityRule },
}

/// `signedBy`'s `keyType`; only `GPGKeys` is implemented (as in containers/image).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    GpgKeys,
    SignedByGpgKeys,
    X509Certificates,
    SignedByX509Cas,
}

impl KeyType {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::GpgKeys => "GPGKeys",
            KeyType::SignedByGpgKeys => "signedByGPGKeys",
            KeyType::X509Certificates => "X509Certificates",
            KeyType::SignedByX509Cas => "signedByX509CAs",
        }
    }
}

/// Where a requirement's public keys are: exactly one of `keyPath`, `keyPaths`, `keyData` (and, for
/// `sigstoreSigned`, `keyDatas`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Path(PathBuf),
    Paths(Vec<PathBuf>),
    /// `keyData`: the key's bytes (base64 in the file).
    Data(Vec<u8>),
    /// `keyDatas`.
    Datas(Vec<Vec<u8>>),
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Path(p) => write!(f, "keyPath {}", p.display()),
            KeySource::Paths(ps) => {
                write!(f, "keyPaths [")?;
                for (i, p) in ps.iter().enumerate() {
                    write!(f, "{}{}", if i > 0 { ", " } else { "" }, p.display())?;
                }
                write!(f, "]")
            }
            KeySource::Data(d) => write!(f, "keyData ({} bytes)", d.len()),
            KeySource::Datas(ds) => write!(f, "keyDatas ({} keys)", ds.len()),
        }
    }
}

impl Requirement {
    /// The `type` as written in policy.json.
    pub fn type_name(&self) -> &'static str {
        match self {
            Requirement::InsecureAcceptAnything => "insecureAcceptAnything",
            Requirement::Reject => "reject",
            Requirement::SignedBy { .. } => "signedBy",
            Requirement::SignedBaseLayer { .. } => "signedBaseLayer",
            Requirement::SigstoreSigned { .. } => "sigstoreSigned",
        }
    }

    /// True when evaluating it needs the image's signatures.
    pub fn needs_signatures(&self) -> bool {
        matches!(self, Requirement::SignedBy { .. } | Requirement::SigstoreSigned { .. })
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Requirement::InsecureAcceptAnything | Requirement::Reject => f.write_str(self.type_name()),
            Requirement::SignedBy { key_type, keys, signed_identity } => {
                write!(f, "signedBy {}, {keys}, signedIdentity {signed_identity}", key_type.as_str())
            }
            Requirement::SignedBaseLayer { base_layer_identity } => {
                write!(f, "signedBaseLayer, baseLayerIdentity {base_layer_identity}")
            }
            Requirement::SigstoreSigned { keys, unsupported, signed_identity } => {
                write!(f, "sigstoreSigned")?;
                if let Some(k) = keys {
                    write!(f, ", {k}")?;
                }
                if let Some(u) = unsupported {
                    write!(f, ", {u}")?;
                }
                write!(f, ", signedIdentity {signed_identity}")
            }
        }
    }
}

/// What the policy says of one image: the scope that matched, each requirement's outcome and, for signature
/// requirements, each signature's (which key, identity or digest refused it). `hoist trust check` prints it;
/// the copy engine needs only [`Evaluation::into_result`].
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Evaluation {
    /// The transport and scope whose requirements applied (`docker` `quay.io/org`); `scope` is `None` when
    /// the policy's `default` applied, `Some("")` for a transport's own default.
    pub transport: String,
    pub scope: Option<String>,
    pub allowed: bool,
    /// The policy file (`None`: `--insecure-policy`).
    pub policy_path: Option<PathBuf>,
    /// The image as containers/image names it in messages (`docker://quay.io/org/app:1`, `dir:/x`).
    pub image: String,
    /// The digest of the manifest evaluated.
    pub manifest_digest: Digest,
    /// Every requirement of the scope, in order.
    pub requirements: Vec<RequirementOutcome>,
}

/// One requirement's verdict.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RequirementOutcome {
    /// Where it is in the file (`transports.docker["quay.io/org"][0]`, `default[0]`).
    pub entry: String,
    /// What it asks, one line (`signedBy GPGKeys, keyPath /k.gpg, signedIdentity matchRepoDigestOrExact`).
    pub requirement: String,
    pub allowed: bool,
    /// Why it refused, in containers/image's words; `None` when allowed.
    pub reason: Option<String>,
    /// For `signedBy` and `sigstoreSigned`: each signature considered.
    pub signatures: Vec<SignatureOutcome>,
}

/// One signature's verdict under one requirement.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SignatureOutcome {
    /// Its position among the image's signatures (0-based).
    pub index: usize,
    /// `simple signing` or `sigstore`.
    pub format: &'static str,
    pub verdict: SignatureVerdict,
}

/// Accepted (with what it vouched for), refused (and why), or not of this requirement's kind.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", rename_all_fields = "PascalCase", tag = "Verdict", content = "Detail")]
pub enum SignatureVerdict {
    Accepted { key: Option<String>, docker_reference: String, manifest_digest: Digest },
    Refused(String),
    Skipped(String),
}

impl Policy {
    /// Reads the policy at `path`, else `$HOME/.config/containers/policy.json`, else
    /// `/etc/containers/policy.json`; an invalid file is an error naming it and the entry.
    pub fn load(path: Option<&Path>) -> Result<Policy, PolicyError> {
        let path = match path {
            Some(p) => p.to_path_buf(),
            None => {
                let home = std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
                Policy::default_path(home.as_deref(), Path::new(SYSTEM_POLICY_PATH))?
            }
        };
        Policy::from_file(&path)
    }

    /// The file [`Policy::load`] reads when given none: `HOME/.config/containers/policy.json` when it exists,
    /// else `system` when it exists (containers/image's `defaultPolicyPath`).
    pub fn default_path(home: Option<&Path>, system: &Path) -> Result<PathBuf, PolicyError> {
        let user = home.map(|h| h.join(USER_POLICY_PATH));
        if let Some(u) = &user
            && u.exists()
        {
            return Ok(u.clone());
        }
        if system.exists() {
            return Ok(system.to_path_buf());
        }
        Err(PolicyError::NotFound { user, system: system.to_path_buf() })
    }

    /// Reads and parses the policy file at `path` (at most [`POLICY_FILE_LIMIT`] bytes, a regular file).
    pub fn from_file(path: &Path) -> Result<Policy, PolicyError> {
        let bytes = keys::read_capped(path, POLICY_FILE_LIMIT)
            .map_err(|reason| PolicyError::Read { path: path.to_path_buf(), reason })?;
        Policy::from_bytes(&bytes, path)
    }

    /// Parses policy.json bytes; `path` is what errors call the file.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Policy, PolicyError> {
        let (default, transports) = parse::policy(bytes).map_err(|(entry, reason)| PolicyError::Invalid {
            path: path.to_path_buf(),
            entry,
            reason,
        })?;
        Ok(Policy {
            path: Some(path.to_path_buf()),
            default,
            transports,
            #[cfg(test)]
            refused_digest: None,
        })
    }

    /// `--insecure-policy`: every image accepted, nothing read.
    pub fn insecure_accept_anything() -> Policy {
        Policy::only(Requirement::InsecureAcceptAnything)
    }

    /// `{"default":[{"type":"reject"}]}` without a file: every image refused.
    pub fn reject_all() -> Policy {
        Policy::only(Requirement::Reject)
    }

    fn only(requirement: Requirement) -> Policy {
        Policy {
            path: None,
            default: vec![requirement],
            transports: BTreeMap::new(),
            #[cfg(test)]
            refused_digest: None,
        }
    }

    /// Accepts anything but the manifest `digest` (the copy engine's tests: which manifests are judged).
    #[cfg(test)]
    pub(crate) fn reject_digest(digest: crate::digest::Digest) -> Policy {
        Policy { refused_digest: Some(digest), ..Policy::insecure_accept_anything() }
    }

    /// The requirements for `name` and the scope they come from (`None`: the policy's `default`): the
    /// transport's identity scope, then each namespace in order, then the transport's `""`, then `default`.
    pub fn requirements_for(&self, name: &PolicyName) -> (Option<&str>, &[Requirement]) {
        if let Some(scopes) = self.transports.get(name.transport) {
            let candidates = std::iter::once(name.identity.as_str())
                .filter(|s| !s.is_empty())
                .chain(name.namespaces.iter().map(String::as_str).filter(|s| !s.is_empty()))
                .chain(std::iter::once(""));
            for scope in candidates {
                if let Some((key, reqs)) = scopes.get_key_value(scope) {
                    return (Some(key.as_str()), reqs);
                }
            }
        }
        (None, &self.default)
    }

    /// True when the requirements for `name` need its signatures (so a source fetches them only then).
    pub fn needs_signatures(&self, name: &PolicyName) -> bool {
        self.requirements_for(name).1.iter().any(Requirement::needs_signatures)
    }

    /// Evaluates every requirement of the scope `name` matches against the manifest and its signatures.
    pub fn evaluate(&self, name: &PolicyName, manifest: &RawManifest, signatures: &[Signature]) -> Evaluation {
        let (scope, reqs) = self.requirements_for(name);
        let image = image_name(name);
        let requirements: Vec<RequirementOutcome> = reqs
            .iter()
            .enumerate()
            .map(|(i, req)| {
                let entry = entry_name(name.transport, scope, i);
                let ctx = EvalContext { policy: self, entry: &entry, name, image: &image, manifest };
                ctx.requirement(req, signatures)
            })
            .collect();
        // An empty list cannot be parsed; refuse anyway rather than accept (as IsRunningImageAllowed).
        let allowed = !requirements.is_empty() && requirements.iter().all(|r| r.allowed);
        #[cfg(test)]
        let allowed = allowed && self.refused_digest.as_ref() != Some(&manifest.digest);
        Evaluation {
            transport: name.transport.to_string(),
            scope: scope.map(str::to_owned),
            allowed,
            policy_path: self.path.clone(),
            image,
            manifest_digest: manifest.digest.clone(),
            requirements,
        }
    }
}

/// How containers/image's `docker:` transport names an image for the policy
/// (`docker/policyconfiguration`): the identity `name:tag` (or `name@digest`), then the repository, each
/// parent namespace, the `host[:port]`, and the `*.domain` wildcards of the host, most specific first.
pub fn docker_policy_name(reference: &Reference) -> PolicyName {
    let name = reference.name();
    let identity = match (reference.digest(), reference.tag()) {
        (Some(d), _) => format!("{name}@{d}"),
        (None, Some(t)) => format!("{name}:{t}"),
        (None, None) => name.clone(),
    };
    let mut namespaces = Vec::new();
    let mut n = name.as_str();
    loop {
        namespaces.push(n.to_owned());
        match n.rfind('/') {
            Some(i) => n = &n[..i],
            None => break,
        }
    }
    let mut host = n.split(':').next().unwrap_or(n);
    while let Some(i) = host.find('.') {
        host = &host[i + 1..];
        namespaces.push(format!("*.{host}"));
    }
    PolicyName { transport: "docker", identity, namespaces, docker_reference: Some(reference.clone()) }
}

/// The most signatures a requirement checks: an image with more is refused, so a hostile source cannot make
/// a pull verify signatures without end.
pub const MAX_SIGNATURES: usize = 64;

/// `$HOME`-relative path of the per-user policy.
pub const USER_POLICY_PATH: &str = ".config/containers/policy.json";
/// The system-wide policy.
pub const SYSTEM_POLICY_PATH: &str = "/etc/containers/policy.json";

/// `transports.docker["quay.io/org"][0]`, `default[0]`.
fn entry_name(transport: &str, scope: Option<&str>, index: usize) -> String {
    match scope {
        Some(s) => format!("transports.{transport}[{s:?}][{index}]"),
        None => format!("default[{index}]"),
    }
}

/// containers/image's `transports.ImageName`: `docker://busybox:latest`, `dir:/x`.
fn image_name(name: &PolicyName) -> String {
    match (&name.docker_reference, name.transport) {
        (Some(r), "docker") => format!("docker://{}", r.familiar_string()),
        _ => format!("{}:{}", name.transport, name.identity),
    }
}

struct EvalContext<'a> {
    policy: &'a Policy,
    entry: &'a str,
    name: &'a PolicyName,
    image: &'a str,
    manifest: &'a RawManifest,
}

impl EvalContext<'_> {
    fn outcome(
        &self,
        req: &Requirement,
        refusal: Option<String>,
        signatures: Vec<SignatureOutcome>,
    ) -> RequirementOutcome {
        RequirementOutcome {
            entry: self.entry.to_owned(),
            requirement: req.to_string(),
            allowed: refusal.is_none(),
            reason: refusal,
            signatures,
        }
    }

    /// "the key file ... of signedBy requirement default[0] in /p.json: ..."
    fn key_error(&self, req: &Requirement, e: &str) -> String {
        let file = self.policy.path.as_ref().map(|p| format!(" in {}", p.display())).unwrap_or_default();
        format!("{} requirement {}{file}: {e}", req.type_name(), self.entry)
    }

    fn requirement(&self, req: &Requirement, signatures: &[Signature]) -> RequirementOutcome {
        if req.needs_signatures() && signatures.len() > MAX_SIGNATURES {
            let why = format!(
                "the image has {} signatures; at most {MAX_SIGNATURES} are checked (each costs a verification)",
                signatures.len()
            );
            return self.outcome(req, Some(why), Vec::new());
        }
        match req {
            Requirement::InsecureAcceptAnything => self.outcome(req, None, Vec::new()),
            Requirement::Reject => {
                self.outcome(req, Some(format!("Running image {} is rejected by policy.", self.image)), Vec::new())
            }
            Requirement::SignedBaseLayer { .. } => {
                self.outcome(req, Some("signedBaseLayer not implemented yet!".to_owned()), Vec::new())
            }
            Requirement::SignedBy { key_type, keys, signed_identity } => {
                if *key_type != KeyType::GpgKeys {
                    let why = format!("Unimplemented \"keyType\" value {:?}", key_type.as_str());
                    return self.outcome(req, Some(why), Vec::new());
                }
                // The keys are read at the first signature to check, as containers/image does.
                let source = keys;
                let mut keys = None;
                let mut outcomes = Vec::new();
                for (index, sig) in signatures.iter().enumerate() {
                    let Signature::SimpleSigning(bytes) = sig else {
                        let verdict = SignatureVerdict::Skipped(
                            "a sigstore signature; signedBy reads GPG simple signatures".into(),
                        );
                        outcomes.push(SignatureOutcome { index, format: "sigstore", verdict });
                        continue;
                    };
                    let keys = keys.get_or_insert_with(|| match keys::load(source) {
                        Ok(k) if k.is_empty() => Err("No public keys imported".to_owned()),
                        other => other,
                    });
                    let verdict = match keys {
                        Err(e) => SignatureVerdict::Refused(self.key_error(req, e)),
                        Ok(keys) => match crate::trust::simple::verify(bytes, keys) {
                            Err(e) => SignatureVerdict::Refused(e.to_string()),
                            Ok(v) => self.claims_verdict(
                                signed_identity,
                                Some(v.key_fingerprint),
                                v.manifest_digest,
                                v.docker_reference,
                            ),
                        },
                    };
                    outcomes.push(SignatureOutcome { index, format: "simple signing", verdict });
                }
                let refusal = summarize(&outcomes, None);
                self.outcome(req, refusal, outcomes)
            }
            Requirement::SigstoreSigned { keys, unsupported, signed_identity } => {
                let source = keys;
                let load = || match (unsupported, source) {
                    (Some(u), _) => Err(format!(
                        "{u} is not supported yet (keyless Fulcio/Rekor and PKI verification); the requirement refuses every image"
                    )),
                    (None, Some(k)) => keys::load(k).and_then(|k| {
                        if k.is_empty() {
                            Err("\"keyPath\", \"keyPaths\", \"keyData\" and \"keyDatas\" produced no public keys"
                                .to_owned())
                        } else {
                            Ok(k)
                        }
                    }),
                    (None, None) => {
                        Err("Internal inconsistency: A public key, Fulcio, or PKI must be specified.".to_owned())
                    }
                };
                if unsupported.is_some()
                    && let Err(e) = load()
                {
                    // Refused whatever the signatures are: say so even with none.
                    return self.outcome(req, Some(self.key_error(req, &e)), Vec::new());
                }
                // The keys are read at the first signature to check, as containers/image does.
                let mut keys = None;
                let mut outcomes = Vec::new();
                let (mut non_sigstore, mut non_attachments) = (0, 0);
                for (index, sig) in signatures.iter().enumerate() {
                    let Signature::Sigstore { media_type, .. } = sig else {
                        non_sigstore += 1;
                        let verdict = SignatureVerdict::Skipped(
                            "a GPG simple signature; sigstoreSigned reads sigstore signatures".into(),
                        );
                        outcomes.push(SignatureOutcome { index, format: "simple signing", verdict });
                        continue;
                    };
                    if media_type != crate::trust::sigstore::PAYLOAD_MEDIA_TYPE {
                        non_attachments += 1;
                        let verdict = SignatureVerdict::Skipped(format!(
                            "a sigstore attachment of type {media_type:?}, not a signature"
                        ));
                        outcomes.push(SignatureOutcome { index, format: "sigstore", verdict });
                        continue;
                    }
                    let keys = keys.get_or_insert_with(load);
                    let verdict = match keys {
                        Err(e) => SignatureVerdict::Refused(self.key_error(req, e)),
                        Ok(keys) => match crate::trust::sigstore::verify(sig, keys) {
                            Err(e) => SignatureVerdict::Refused(e.to_string()),
                            Ok(v) => self.claims_verdict(signed_identity, None, v.manifest_digest, v.docker_reference),
                        },
                    };
                    outcomes.push(SignatureOutcome { index, format: "sigstore", verdict });
                }
                let refusal = summarize(&outcomes, Some((non_sigstore, non_attachments)));
                self.outcome(req, refusal, outcomes)
            }
        }
    }
}

impl EvalContext<'_> {
    /// A verified signature's verdict: accepted when what it claims (digest, identity) holds for this image.
    fn claims_verdict(
        &self,
        signed_identity: &IdentityRule,
        key: Option<String>,
        manifest_digest: Digest,
        docker_reference: String,
    ) -> SignatureVerdict {
        match check_claims(signed_identity, self.name, self.manifest, &manifest_digest, &docker_reference) {
            Err(e) => SignatureVerdict::Refused(e),
            Ok(()) => SignatureVerdict::Accepted { key, docker_reference, manifest_digest },
        }
    }
}

/// `isRunningImageAllowed`'s summary: `None` when a signature was accepted, else why not.
fn summarize(outcomes: &[SignatureOutcome], skipped: Option<(usize, usize)>) -> Option<String> {
    if outcomes.iter().any(|o| matches!(o.verdict, SignatureVerdict::Accepted { .. })) {
        return None;
    }
    let rejections: Vec<&str> = outcomes
        .iter()
        .filter_map(|o| match &o.verdict {
            SignatureVerdict::Refused(r) => Some(r.as_str()),
            _ => None,
        })
        .collect();
    Some(match rejections.as_slice() {
        [] => match skipped {
            Some((a, b)) if a + b > 0 => format!(
                "A signature was required, but no signature exists ({a} non-sigstore signatures, {b} sigstore non-signature attachments)"
            ),
            _ => "A signature was required, but no signature exists".to_owned(),
        },
        [one] => (*one).to_owned(),
        many => format!("None of the signatures were accepted, reasons: {}", many.join("; ")),
    })
}

/// What a verified signature claims, checked as containers/image's `verifyAndExtractSignature` rules do:
/// first that `signed_digest` is the digest of the manifest's bytes, then that `signed_reference` satisfies
/// `rule` for the image `name`. The error is containers/image's text.
pub fn check_claims(
    rule: &IdentityRule,
    name: &PolicyName,
    manifest: &RawManifest,
    signed_digest: &Digest,
    signed_reference: &str,
) -> Result<(), String> {
    if !manifest_matches_digest(&manifest.raw, signed_digest) {
        return Err(format!("Signature for digest {signed_digest} does not match"));
    }
    if !rule.matches(name.docker_reference.as_ref(), signed_reference) {
        return Err(format!("Signature for identity {signed_reference:?} is not accepted"));
    }
    Ok(())
}

/// `manifest.MatchesDigest`: the bytes hashed with the digest's algorithm.
fn manifest_matches_digest(raw: &[u8], expected: &Digest) -> bool {
    let mut h = Hasher::for_digest(expected);
    h.update(raw);
    h.finish() == *expected
}

impl Evaluation {
    /// `Ok` when allowed, else the refusal in containers/image's words ("Source image rejected: ..."),
    /// naming the scope that applied.
    pub fn into_result(self) -> Result<(), PolicyError> {
        if self.allowed {
            return Ok(());
        }
        let reason = self
            .requirements
            .iter()
            .find(|r| !r.allowed)
            .and_then(|r| r.reason.clone())
            .unwrap_or_else(|| "List of verification policy requirements must not be empty".to_owned());
        Err(PolicyError::Rejected { reason, applied: self.applied() })
    }

    /// Which part of which policy applied: `transport docker scope "quay.io/org" of /p.json`.
    pub fn applied(&self) -> String {
        let file = match &self.policy_path {
            Some(p) => format!(" of {}", p.display()),
            None => String::new(),
        };
        match &self.scope {
            Some(s) if s.is_empty() => format!("transport {} default scope \"\"{file}", self.transport),
            Some(s) => format!("transport {} scope {s:?}{file}", self.transport),
            None => format!("the policy's default{file}"),
        }
    }
}

/// Why a policy could not be read or refused an image.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("no policy.json file found at any of the following: {}{:?}", user.as_ref().map(|u| format!("{:?}, ", u.display().to_string())).unwrap_or_default(), system.display().to_string())]
    NotFound { user: Option<PathBuf>, system: PathBuf },
    #[error("reading policy {}: {reason}", path.display())]
    Read { path: PathBuf, reason: String },
    #[error("invalid policy in {:?}: {entry}: {reason}", path.display().to_string())]
    Invalid { path: PathBuf, entry: String, reason: String },
    #[error("Source image rejected: {reason} ({applied})")]
    Rejected { reason: String, applied: String },
    #[error("writing policy {}: {reason}", path.display())]
    Write { path: PathBuf, reason: String },
    #[error("{0}")]
    Set(String),
}

#[cfg(test)]
mod tests;
