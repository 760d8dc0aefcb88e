//! `hoist trust show` and `hoist trust set` as podman's `image trust show` / `image trust set`
//! (podman's `pkg/trust`): the rows podman prints for a policy, and the edit podman makes, written so that
//! podman reads it back — but checked first: the file must be a valid policy before and after, and it is
//! replaced atomically.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::json::Node;
use super::{KeySource, Policy, PolicyError, Requirement, keys};

/// One line of `trust show` (podman's `trust.Policy`, with its JSON names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShowRow {
    pub transport: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub repo_name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
    #[serde(rename = "sigstore", skip_serializing_if = "String::is_empty")]
    pub signature_store: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub gpg_id: String,
}

impl Policy {
    /// podman's rows: the default (`all`, `* (default)`), then each transport (`docker` shown as
    /// `repository`) and scope in sorted order, one row per requirement. `key_ids` gives a GPG key file's
    /// user IDs (podman asks gpg; see [`gpg_key_ids`]); `lookaside` the signature store of a scope.
    pub fn show_rows(
        &self,
        key_ids: &dyn Fn(&KeySource) -> Vec<String>,
        lookaside: &dyn Fn(&str) -> String,
    ) -> Vec<ShowRow> {
        let mut rows = Vec::new();
        let describe =
            |rows: &mut Vec<ShowRow>, transport: &str, name: &str, repo: &str, scope: &str, reqs: &[Requirement]| {
                for req in reqs {
                    let gpg_id = match req {
                        Requirement::SignedBy { keys: source, .. } => key_ids(source).join(", "),
                        Requirement::SigstoreSigned { .. } => "N/A".to_owned(),
                        _ => String::new(),
                    };
                    let kind = match req {
                        Requirement::InsecureAcceptAnything => "accept",
                        Requirement::SignedBy { .. } => "signed",
                        other => other.type_name(),
                    };
                    rows.push(ShowRow {
                        transport: transport.to_owned(),
                        name: name.to_owned(),
                        repo_name: repo.to_owned(),
                        keys: Vec::new(),
                        signature_store: lookaside(scope),
                        kind: kind.to_owned(),
                        gpg_id,
                    });
                }
            };
        describe(&mut rows, "all", "* (default)", "default", "", &self.default);
        for (transport, scopes) in &self.transports {
            let shown = if transport == "docker" { "repository" } else { transport.as_str() };
            for (scope, reqs) in scopes {
                describe(&mut rows, shown, scope, scope, scope, reqs);
            }
        }
        rows
    }
}

/// The table podman prints (Go's tabwriter: columns at least 12 wide, two spaces of padding, the last
/// column unpadded), with or without its heading.
pub fn show_table(rows: &[ShowRow], heading: bool) -> String {
    let mut lines: Vec<[&str; 5]> = Vec::new();
    if heading {
        lines.push(["TRANSPORT", "NAME", "TYPE", "ID", "STORE"]);
    }
    for r in rows {
        lines.push([&r.transport, &r.repo_name, &r.kind, &r.gpg_id, &r.signature_store]);
    }
    let mut widths = [12usize; 4];
    for l in &lines {
        for (w, cell) in widths.iter_mut().zip(l.iter()) {
            *w = (*w).max(cell.chars().count() + 2);
        }
    }
    let mut out = String::new();
    for l in &lines {
        for (w, cell) in widths.iter().zip(l.iter()) {
            out.push_str(cell);
            out.push_str(&" ".repeat(w - cell.chars().count()));
        }
        out.push_str(l[4]);
        out.push('\n');
    }
    out
}

/// The user IDs of the GPG keys a `signedBy` requirement names (its key files read as the policy reads
/// them; a file that cannot be read gives none), as podman's `trust show` lists them.
pub fn gpg_key_ids_of(source: &KeySource) -> Vec<String> {
    let files: Vec<Vec<u8>> = match source {
        KeySource::Path(p) => keys::read_capped(p, keys::KEY_FILE_LIMIT).into_iter().collect(),
        KeySource::Paths(ps) => ps.iter().filter_map(|p| keys::read_capped(p, keys::KEY_FILE_LIMIT).ok()).collect(),
        KeySource::Data(d) => vec![d.clone()],
        KeySource::Datas(ds) => ds.clone(),
    };
    files.iter().flat_map(|k| gpg_key_ids(k)).collect()
}

/// The user IDs (or e-mail addresses) of the keys in a GPG key file, as podman shows them (`gpg2
/// --with-colons`), asked of `gpg --show-keys` in a throwaway home within 10 seconds; none when gpg is
/// missing or the bytes are not a key.
pub fn gpg_key_ids(key: &[u8]) -> Vec<String> {
    let Ok(home) = tempfile::tempdir() else { return Vec::new() };
    let child = Command::new("gpg")
        .args(["--batch", "--no-tty", "--with-colons", "--show-keys"])
        .env("GNUPGHOME", home.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else { return Vec::new() };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(key);
    }
    let mut stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        if let Some(s) = stdout.as_mut() {
            let _ = s.take(1 << 20).read_to_end(&mut out);
        }
        out
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Vec::new();
            }
        }
    }
    let out = reader.join().unwrap_or_default();
    parse_uids(&String::from_utf8_lossy(&out))
}

/// podman's `parseUids`: field 10 of `uid:` and `pub:` lines, the part in `<...>` when there is one.
fn parse_uids(colons: &str) -> Vec<String> {
    colons
        .lines()
        .filter(|l| l.starts_with("uid:") || l.starts_with("pub:"))
        .filter_map(|l| l.split(':').nth(9))
        .filter(|uid| !uid.is_empty())
        .map(|uid| match uid.split_once('<') {
            Some((_, rest)) => rest.split_once('>').map_or(uid, |(inner, _)| inner).to_owned(),
            None => uid.to_owned(),
        })
        .collect()
}

/// `trust set -t`: what to require.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetType {
    Accept,
    Reject,
    SignedBy,
    SigstoreSigned,
}

impl std::str::FromStr for SetType {
    type Err = String;
    fn from_str(s: &str) -> Result<SetType, String> {
        match s {
            "accept" | "insecureAcceptAnything" => Ok(SetType::Accept),
            "reject" => Ok(SetType::Reject),
            "signedBy" => Ok(SetType::SignedBy),
            "sigstoreSigned" => Ok(SetType::SigstoreSigned),
            other => Err(format!("unknown trust type {other:?}")),
        }
    }
}

/// podman's `AddPolicyEntries`: sets the requirements of `scope` (`default`, or a scope already under some
/// transport, else a `docker` scope) in the policy at `path` (created when missing), one requirement per key
/// file for `signedBy`/`sigstoreSigned`. The file must be a valid policy before (when it exists) and after;
/// it is replaced atomically, keeping its mode (0644 when new).
pub fn set_entry(path: &Path, scope: &str, kind: SetType, key_files: &[PathBuf]) -> Result<(), PolicyError> {
    let fail = |m: String| PolicyError::Set(m);
    let type_name = match kind {
        SetType::Accept => "insecureAcceptAnything",
        SetType::Reject => "reject",
        SetType::SignedBy => "signedBy",
        SetType::SigstoreSigned => "sigstoreSigned",
    };
    let mut reqs = Vec::new();
    match kind {
        SetType::Accept | SetType::Reject => {
            if !key_files.is_empty() {
                let shown = if kind == SetType::Accept { "accept" } else { "reject" };
                return Err(fail(format!(
                    "{} public keys unexpectedly provided for trust type {shown}",
                    key_files.len()
                )));
            }
            reqs.push(Node::Object(vec![("type".into(), Node::String(type_name.into()))]));
        }
        SetType::SignedBy | SetType::SigstoreSigned => {
            if key_files.is_empty() {
                return Err(fail(format!("at least one public key must be defined for type '{type_name}'")));
            }
            for f in key_files {
                let Some(f) = f.to_str() else {
                    return Err(fail(format!("key file path {} is not UTF-8", f.display())));
                };
                let mut members = vec![("type".to_owned(), Node::String(type_name.into()))];
                if kind == SetType::SignedBy {
                    members.push(("keyType".into(), Node::String("GPGKeys".into())));
                }
                members.push(("keyPath".into(), Node::String(f.into())));
                reqs.push(Node::Object(members));
            }
        }
    }
    let new_reqs = Node::Array(reqs);

    let existing = match keys::read_capped(path, keys::POLICY_FILE_LIMIT) {
        Ok(bytes) => {
            Policy::from_bytes(&bytes, path)?;
            Some(Node::parse(&bytes).map_err(|reason| PolicyError::Invalid {
                path: path.to_path_buf(),
                entry: "top level".into(),
                reason,
            })?)
        }
        Err(_) if !path.exists() && path.symlink_metadata().is_err() => None,
        Err(reason) => return Err(PolicyError::Read { path: path.to_path_buf(), reason }),
    };
    let mut default = existing.as_ref().and_then(|n| n.get("default")).cloned();
    // transport → scope → requirements, sorted as Go's json.Marshal writes maps.
    let mut transports: std::collections::BTreeMap<String, std::collections::BTreeMap<String, Node>> =
        Default::default();
    if let Some(Node::Object(ts)) = existing.as_ref().and_then(|n| n.get("transports")) {
        for (t, scopes) in ts {
            let entry = transports.entry(t.clone()).or_default();
            if let Node::Object(scopes) = scopes {
                for (s, r) in scopes {
                    entry.insert(s.clone(), r.clone());
                }
            }
        }
    }
    if scope == "default" {
        default = Some(new_reqs);
    } else {
        if !matches!(&default, Some(Node::Array(a)) if !a.is_empty()) {
            return Err(fail("default trust policy must be set".to_owned()));
        }
        match transports.values_mut().find(|scopes| scopes.contains_key(scope)) {
            Some(scopes) => {
                scopes.insert(scope.to_owned(), new_reqs);
            }
            None => {
                transports.entry("docker".to_owned()).or_default().insert(scope.to_owned(), new_reqs);
            }
        }
    }
    let mut top = vec![("default".to_owned(), default.unwrap_or(Node::Null))];
    if !transports.is_empty() {
        let ts = transports.into_iter().map(|(t, scopes)| (t, Node::Object(scopes.into_iter().collect()))).collect();
        top.push(("transports".to_owned(), Node::Object(ts)));
    }
    let text = Node::Object(top).to_pretty();
    Policy::from_bytes(text.as_bytes(), path)?;
    write_atomically(path, text.as_bytes())
        .map_err(|e| PolicyError::Write { path: path.to_path_buf(), reason: e.to_string() })
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mode = std::fs::metadata(path).map(|m| m.permissions().mode() & 0o7777).unwrap_or(0o644);
    let mut temp = tempfile::Builder::new().prefix(".policy.json-").tempfile_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().set_permissions(std::fs::Permissions::from_mode(mode))?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_read_as_podman_does() {
        let colons = "pub:-:255:22:ABC:1:::-:::scESC::::ed25519:::0:\nfpr:::::::::ABCDEF:\nuid:-::::1::HASH::Alice Example <alice@example.com>::::::::::0:\nuid:-::::1::HASH::Bob::::::::::0:\n";
        assert_eq!(parse_uids(colons), vec!["alice@example.com".to_owned(), "Bob".to_owned()]);
    }
}
