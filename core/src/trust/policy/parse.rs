//! policy.json's grammar, exactly as containers/image's `signature/policy_config.go` and
//! `policy_config_sigstore.go` accept it: `default` required, a non-empty list everywhere, every requirement
//! and `signedIdentity` type with exactly its own keys, `keyPath`/`keyPaths`/`keyData` exactly one, each
//! transport's scopes validated as that transport does. Errors are `(entry, reason)`: where in the file, and
//! containers/image's words for what is wrong.

use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::Engine;

use super::json::Node;
use super::{IdentityRule, KeySource, KeyType, Requirement};

type Members = [(String, Node)];
type Parsed<T> = Result<T, String>;

/// The whole file: `(default, transports)`, or `(entry, reason)`.
#[allow(clippy::type_complexity)]
pub fn policy(
    bytes: &[u8],
) -> Result<(Vec<Requirement>, BTreeMap<String, BTreeMap<String, Vec<Requirement>>>), (String, String)> {
    let top_entry = || "top level".to_owned();
    let root = Node::parse(bytes).map_err(|e| (top_entry(), e))?;
    let members = object(&root).map_err(|e| (top_entry(), e))?;
    let mut default = None;
    let mut transports = BTreeMap::new();
    for (key, value) in members {
        match key.as_str() {
            "default" => default = Some(requirements(value).map_err(|(i, e)| (index_entry("default", i), e))?),
            "transports" => transports = transports_map(value)?,
            other => return Err((top_entry(), format!("Unknown key {other:?}"))),
        }
    }
    let default = default.ok_or_else(|| (top_entry(), "Default policy is missing".to_owned()))?;
    Ok((default, transports))
}

fn index_entry(base: &str, index: Option<usize>) -> String {
    match index {
        Some(i) => format!("{base}[{i}]"),
        None => base.to_owned(),
    }
}

#[allow(clippy::type_complexity)]
fn transports_map(value: &Node) -> Result<BTreeMap<String, BTreeMap<String, Vec<Requirement>>>, (String, String)> {
    let mut out = BTreeMap::new();
    if *value == Node::Null {
        return Ok(out);
    }
    let members = object(value).map_err(|e| ("transports".to_owned(), e))?;
    for (transport, scopes) in members {
        let base = format!("transports.{transport}");
        let scope_members = object(scopes).map_err(|e| (base.clone(), e))?;
        let mut map = BTreeMap::new();
        for (scope, reqs) in scope_members {
            let scope_entry = format!("{base}[{scope:?}]");
            if !scope.is_empty() {
                validate_scope(transport, scope).map_err(|e| (scope_entry.clone(), e))?;
            }
            let reqs = requirements(reqs).map_err(|(i, e)| (index_entry(&scope_entry, i), e))?;
            map.insert(scope.clone(), reqs);
        }
        out.insert(transport.clone(), map);
    }
    Ok(out)
}

/// `ValidatePolicyConfigurationScope` of the transports whose scope grammar containers/image checks.
pub fn validate_scope(transport: &str, scope: &str) -> Parsed<()> {
    let path_scope = |scope: &str, lower: bool| -> Parsed<()> {
        if !scope.starts_with('/') {
            return Err(if lower {
                format!("Invalid scope {scope}: must be an absolute path")
            } else {
                format!("Invalid scope {scope}: Must be an absolute path")
            });
        }
        if scope == "/" {
            return Err("Invalid scope \"/\": Use the generic default scope \"\"".to_owned());
        }
        let cleaned = clean_path(scope);
        if cleaned != scope {
            return Err(format!("Invalid scope {scope}: Uses non-canonical format, perhaps try {cleaned}"));
        }
        Ok(())
    };
    match transport {
        "dir" => path_scope(scope, false),
        "oci" | "oci-archive" => path_scope(scope, true),
        "docker-archive" => Err("docker-archive: does not support any scopes except the default \"\" one".to_owned()),
        "docker-daemon" if crate::digest::Digest::parse(scope).is_ok() => {
            Err(format!("docker-daemon: can not use algo:digest value {scope} as a namespace"))
        }
        _ => Ok(()),
    }
}

/// Go's `filepath.Clean` for an absolute path.
fn clean_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

fn object(node: &Node) -> Parsed<&Members> {
    match node {
        Node::Object(m) => Ok(m),
        other => Err(format!("JSON object expected, got {}", other.kind())),
    }
}

fn string<'a>(key: &str, node: &'a Node) -> Parsed<&'a str> {
    match node {
        Node::String(s) => Ok(s),
        other => Err(format!("{key:?} must be a string, not {}", other.kind())),
    }
}

fn strings(key: &str, node: &Node) -> Parsed<Vec<String>> {
    match node {
        Node::Array(items) => items.iter().map(|i| string(key, i).map(str::to_owned)).collect(),
        other => Err(format!("{key:?} must be an array of strings, not {}", other.kind())),
    }
}

/// Go decodes a JSON string into `[]byte` as standard base64, padded, ignoring `\r` and `\n`.
fn bytes(key: &str, node: &Node) -> Parsed<Vec<u8>> {
    let s = string(key, node)?;
    base64::engine::general_purpose::STANDARD
        .decode(s.replace(['\r', '\n'], ""))
        .map_err(|e| format!("{key:?} is not valid base64: {e}"))
}

fn bytes_list(key: &str, node: &Node) -> Parsed<Vec<Vec<u8>>> {
    match node {
        Node::Array(items) => items.iter().map(|i| bytes(key, i)).collect(),
        other => Err(format!("{key:?} must be an array of base64 strings, not {}", other.kind())),
    }
}

/// Every key of `members` must be in `known`; with `exact`, every `known` key must be present too.
fn check_keys(members: &Members, known: &[&str], exact: bool) -> Parsed<()> {
    if let Some((k, _)) = members.iter().find(|(k, _)| !known.contains(&k.as_str())) {
        return Err(format!("Unknown key {k:?}"));
    }
    if exact && let Some(missing) = known.iter().find(|k| !members.iter().any(|(m, _)| m == *k)) {
        return Err(format!("Key {missing:?} missing in a JSON object"));
    }
    Ok(())
}

fn get<'a>(members: &'a Members, key: &str) -> Option<&'a Node> {
    members.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// A requirements list; the error's index is the entry that failed (`None`: the list itself).
fn requirements(node: &Node) -> Result<Vec<Requirement>, (Option<usize>, String)> {
    let Node::Array(items) = node else {
        return Err((None, format!("a list of requirements expected, got {}", node.kind())));
    };
    if items.is_empty() {
        return Err((None, "List of verification policy requirements must not be empty".to_owned()));
    }
    items.iter().enumerate().map(|(i, item)| requirement(item).map_err(|e| (Some(i), e))).collect()
}

fn type_of(members: &Members) -> Parsed<&str> {
    match get(members, "type") {
        None => Ok(""),
        Some(t) => string("type", t),
    }
}

fn requirement(node: &Node) -> Parsed<Requirement> {
    let m = object(node)?;
    match type_of(m)? {
        "insecureAcceptAnything" => {
            check_keys(m, &["type"], true)?;
            Ok(Requirement::InsecureAcceptAnything)
        }
        "reject" => {
            check_keys(m, &["type"], true)?;
            Ok(Requirement::Reject)
        }
        "signedBy" => signed_by(m),
        "signedBaseLayer" => {
            check_keys(m, &["type", "baseLayerIdentity"], true)?;
            let identity = identity(get(m, "baseLayerIdentity").unwrap_or(&Node::Null))?;
            Ok(Requirement::SignedBaseLayer { base_layer_identity: identity })
        }
        "sigstoreSigned" => sigstore_signed(m),
        other => Err(format!("Unknown policy requirement type {other:?}")),
    }
}

fn signed_identity(m: &Members) -> Parsed<IdentityRule> {
    match get(m, "signedIdentity") {
        None => Ok(IdentityRule::MatchRepoDigestOrExact),
        Some(n) => identity(n),
    }
}

fn signed_by(m: &Members) -> Parsed<Requirement> {
    check_keys(m, &["type", "keyType", "keyPath", "keyPaths", "keyData", "signedIdentity"], false)?;
    let key_type = match get(m, "keyType") {
        None => return Err("invalid keyType \"\"".to_owned()),
        Some(n) => match string("keyType", n)? {
            "GPGKeys" => KeyType::GpgKeys,
            "signedByGPGKeys" => KeyType::SignedByGpgKeys,
            "X509Certificates" => KeyType::X509Certificates,
            "signedByX509CAs" => KeyType::SignedByX509Cas,
            other => return Err(format!("Unrecognized keyType value {other:?}")),
        },
    };
    let signed_identity = signed_identity(m)?;
    let (path, paths, data) = (get(m, "keyPath"), get(m, "keyPaths"), get(m, "keyData"));
    let keys = match (path, paths, data) {
        (None, None, None) => {
            return Err(
                "Exactly one of keyPath, keyPaths and keyData must be specified, none of them present".to_owned()
            );
        }
        (Some(p), None, None) => KeySource::Path(PathBuf::from(non_empty_path(string("keyPath", p)?)?)),
        (None, Some(ps), None) => KeySource::Paths(strings("keyPaths", ps)?.into_iter().map(PathBuf::from).collect()),
        (None, None, Some(d)) => KeySource::Data(bytes("keyData", d)?),
        _ => {
            return Err(
                "Exactly one of keyPath, keyPaths and keyData must be specified, more than one present".to_owned()
            );
        }
    };
    Ok(Requirement::SignedBy { key_type, keys, signed_identity })
}

fn non_empty_path(p: &str) -> Parsed<&str> {
    if p.is_empty() { Err("exactly one of keyPath, keyPaths and keyData must be specified".to_owned()) } else { Ok(p) }
}

fn sigstore_signed(m: &Members) -> Parsed<Requirement> {
    check_keys(
        m,
        &[
            "type",
            "keyPath",
            "keyPaths",
            "keyData",
            "keyDatas",
            "fulcio",
            "rekorPublicKeyPath",
            "rekorPublicKeyPaths",
            "rekorPublicKeyData",
            "rekorPublicKeyDatas",
            "pki",
            "signedIdentity",
        ],
        false,
    )?;
    let signed_identity = signed_identity(m)?;
    let mut keys = Vec::new();
    if let Some(p) = get(m, "keyPath") {
        let p = string("keyPath", p)?;
        if !p.is_empty() {
            keys.push(KeySource::Path(PathBuf::from(p)));
        }
    }
    if let Some(ps) = get(m, "keyPaths") {
        let ps = strings("keyPaths", ps)?;
        if ps.is_empty() {
            return Err("\"keyPaths\" contains no entries".to_owned());
        }
        keys.push(KeySource::Paths(ps.into_iter().map(PathBuf::from).collect()));
    }
    if let Some(d) = get(m, "keyData") {
        keys.push(KeySource::Data(bytes("keyData", d)?));
    }
    if let Some(ds) = get(m, "keyDatas") {
        let ds = bytes_list("keyDatas", ds)?;
        if ds.is_empty() {
            return Err("\"keyDatas\" contains no entries".to_owned());
        }
        keys.push(KeySource::Datas(ds));
    }
    let fulcio = get(m, "fulcio").map(fulcio).transpose()?;
    let pki = get(m, "pki").map(pki).transpose()?;
    if keys.len() + usize::from(fulcio.is_some()) + usize::from(pki.is_some()) != 1 {
        return Err("exactly one of keyPath, keyPaths, keyData, keyDatas, fulcio, and pki must be specified".to_owned());
    }
    let mut rekor = 0;
    for key in ["rekorPublicKeyPath", "rekorPublicKeyPaths", "rekorPublicKeyData", "rekorPublicKeyDatas"] {
        let Some(n) = get(m, key) else { continue };
        let present = match key {
            "rekorPublicKeyPath" => !string(key, n)?.is_empty(),
            "rekorPublicKeyData" => {
                bytes(key, n)?;
                true
            }
            "rekorPublicKeyPaths" => {
                if strings(key, n)?.is_empty() {
                    return Err(format!("{key:?} contains no entries"));
                }
                true
            }
            _ => {
                if bytes_list(key, n)?.is_empty() {
                    return Err(format!("{key:?} contains no entries"));
                }
                true
            }
        };
        rekor += usize::from(present);
    }
    if rekor > 1 {
        return Err("at most one of rekorPublickeyPath, rekorPublicKeyPaths, rekorPublickeyData and rekorPublicKeyDatas can be used simultaneously".to_owned());
    }
    if fulcio.is_some() && rekor == 0 {
        return Err("At least one of rekorPublickeyPath, rekorPublicKeyPaths, rekorPublickeyData and rekorPublicKeyDatas must be specified if fulcio is used".to_owned());
    }
    if pki.is_some() && rekor > 0 {
        return Err("rekorPublickeyPath, rekorPublicKeyPaths, rekorPublickeyData and rekorPublicKeyDatas are not supported for pki".to_owned());
    }
    let unsupported = if fulcio.is_some() {
        Some("fulcio (keyless signing with Rekor)".to_owned())
    } else if pki.is_some() {
        Some("pki (X.509 certificates)".to_owned())
    } else if rekor > 0 {
        Some("a Rekor public key (rekorPublicKey*)".to_owned())
    } else {
        None
    };
    Ok(Requirement::SigstoreSigned { keys: keys.pop(), unsupported, signed_identity })
}

/// One of `…Path` / `…Data` exactly (Fulcio's `caPath`/`caData`, PKI's `caRootsPath`/`caRootsData`).
fn one_of(m: &Members, path: &str, data: &str, what: &str) -> Parsed<()> {
    let p = get(m, path).map(|n| string(path, n).map(|s| !s.is_empty())).transpose()?.unwrap_or(false);
    let d = get(m, data).map(|n| bytes(data, n)).transpose()?.is_some();
    match (p, d) {
        (true, true) => Err(format!("{path} and {data} cannot be used simultaneously")),
        (false, false) => Err(format!("At least one of {path} and {data} must be specified{what}")),
        _ => Ok(()),
    }
}

fn fulcio(node: &Node) -> Parsed<()> {
    let m = object(node)?;
    check_keys(m, &["caPath", "caData", "oidcIssuer", "subjectEmail"], false)?;
    one_of(m, "caPath", "caData", "")?;
    for key in ["oidcIssuer", "subjectEmail"] {
        let v = get(m, key).map(|n| string(key, n)).transpose()?.unwrap_or("");
        if v.is_empty() {
            return Err(format!("{key} not specified"));
        }
    }
    Ok(())
}

fn pki(node: &Node) -> Parsed<()> {
    let m = object(node)?;
    check_keys(
        m,
        &[
            "caRootsPath",
            "caRootsData",
            "caIntermediatesPath",
            "caIntermediatesData",
            "subjectEmail",
            "subjectHostname",
        ],
        false,
    )?;
    one_of(m, "caRootsPath", "caRootsData", "")?;
    let ip = get(m, "caIntermediatesPath").map(|n| string("caIntermediatesPath", n)).transpose()?;
    let id = get(m, "caIntermediatesData").map(|n| bytes("caIntermediatesData", n)).transpose()?;
    if ip.is_some_and(|p| !p.is_empty()) && id.is_some() {
        return Err("caIntermediatesPath and caIntermediatesData cannot be used simultaneously".to_owned());
    }
    let email = get(m, "subjectEmail").map(|n| string("subjectEmail", n)).transpose()?.unwrap_or("");
    let host = get(m, "subjectHostname").map(|n| string("subjectHostname", n)).transpose()?.unwrap_or("");
    if email.is_empty() && host.is_empty() {
        return Err("At least one of subjectEmail, subjectHostname must be specified".to_owned());
    }
    Ok(())
}

/// A `signedIdentity` (or `baseLayerIdentity`) object.
fn identity(node: &Node) -> Parsed<IdentityRule> {
    let m = object(node).map_err(|e| format!("signedIdentity: {e}"))?;
    let exact = |known: &[&str]| check_keys(m, known, true).map_err(|e| format!("signedIdentity: {e}"));
    let field = |key: &str| string(key, get(m, key).unwrap_or(&Node::Null)).map(str::to_owned);
    match type_of(m)? {
        "matchExact" => exact(&["type"]).map(|()| IdentityRule::MatchExact),
        "matchRepoDigestOrExact" => exact(&["type"]).map(|()| IdentityRule::MatchRepoDigestOrExact),
        "matchRepository" => exact(&["type"]).map(|()| IdentityRule::MatchRepository),
        "exactReference" => {
            exact(&["type", "dockerReference"])?;
            IdentityRule::exact_reference(&field("dockerReference")?)
        }
        "exactRepository" => {
            exact(&["type", "dockerRepository"])?;
            IdentityRule::exact_repository(&field("dockerRepository")?)
        }
        "remapIdentity" => {
            exact(&["type", "prefix", "signedPrefix"])?;
            IdentityRule::remap_identity(&field("prefix")?, &field("signedPrefix")?)
        }
        other => Err(format!("Unknown policy reference match type {other:?}")),
    }
}
