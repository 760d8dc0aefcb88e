//! The fuzz targets' bodies: one function per parser of untrusted input, each calling the real parser in
//! the library and then what its callers do with the result. The `fuzz_targets/` binaries wrap them in
//! libFuzzer's `fuzz_target!`; `tests/replay.rs` runs them over every file in `corpus/<target>` and
//! `artifacts/<target>`, so a crash once found stays fixed.
//!
//! A target never panics on any input: a panic is a bug, in the parser or in an invariant checked here (a
//! printed reference reads back as itself, what `get` prints is what `store` read, ...).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;

use hoist_core::config::Config;
use hoist_core::image::media_type;
use hoist_core::image::{ImageConfig, Index, Manifest, Platform};
use hoist_core::reference::{self, Digest, Reference};
use hoist_core::registry::{challenge, follow_link, next_link, token};
use hoist_core::store;
use hoist_core::trust::Signature;
use hoist_core::trust::sigstore::{self, Payload, keys};
use hoist_fs::auth_json::{AuthFile, Found};
use hoist_fs::credentials::Contents;
use hoist_helper_protocol::{Credentials, Error, HelperInfo, Secret, Store, run_verb};
use hoist_vault::Vault;
use hoist_vault::format::{self, Header, KdfParams, Key};

/// A target's body: one input, any bytes.
pub type Target = fn(&[u8]);

/// Every target: its name (the binary's, and its directories under `corpus/` and `artifacts/`) and body.
pub const TARGETS: &[(&str, Target)] = &[
    ("helper_protocol", helper_protocol),
    ("daemon_answer", daemon_answer),
    ("reference", reference),
    ("registries_conf", registries_conf),
    ("auth_json", auth_json),
    ("credential_store", credential_store),
    ("vault_file", vault_file),
    ("www_authenticate", www_authenticate),
    ("token_answer", token_answer),
    ("link_header", link_header),
    ("manifest", manifest),
    ("image_config", image_config),
    ("convert", convert),
    ("search_answer", search_answer),
    ("sync_file", sync_file),
    ("store_index", store_index),
    ("archive", archive),
    ("archive_manifests", archive_manifests),
    ("zstd_frame", zstd_frame),
    ("dockerfile", dockerfile),
    ("dockerignore", dockerignore),
    ("dockerfile_expand", dockerfile_expand),
    ("semver_tags", semver_tags),
    ("access_claim", access_claim),
    ("sigstore_key", sigstore_key),
    ("sigstore_payload", sigstore_payload),
    ("policy_json", policy_json),
    ("registries_d", registries_d),
    ("signature_manifest", signature_manifest),
    ("simple_payload", simple_payload),
];

// ---- the helper protocol -------------------------------------------------------------------------------

/// An in-memory [`Store`] with exact keys, so what the protocol layer does is all that is tested.
#[derive(Default)]
struct MemStore(RefCell<BTreeMap<String, (String, String)>>);

impl MemStore {
    fn seeded() -> MemStore {
        let m = MemStore::default();
        m.0.borrow_mut().insert("registry.example.com".into(), ("seed-user".into(), "seed-secret".into()));
        m
    }
}

impl Store for &MemStore {
    fn add(&self, c: &Credentials) -> Result<(), Error> {
        self.0.borrow_mut().insert(c.server_url.clone(), (c.username.clone(), c.secret.expose().to_owned()));
        Ok(())
    }
    fn get(&self, server_url: &str) -> Result<(String, Secret), Error> {
        let m = self.0.borrow();
        let (u, s) = m.get(server_url).ok_or(Error::NotFound)?;
        Ok((u.clone(), Secret::from(s.as_str())))
    }
    fn erase(&self, server_url: &str) -> Result<(), Error> {
        self.0.borrow_mut().remove(server_url);
        Ok(())
    }
    fn list(&self) -> Result<BTreeMap<String, String>, Error> {
        Ok(self.0.borrow().iter().map(|(k, (u, _))| (k.clone(), u.clone())).collect())
    }
}

const HELPER: HelperInfo = HelperInfo { name: "docker-credential-fuzz", version: "0", about: "fuzzing" };

/// A helper's standard input, as `serve()` reads it for `store` (a JSON credential), `get` and `erase` (a
/// server URL). What `store` accepted must come back from `get` and `list` as it went in, in Go's encoding.
pub fn helper_protocol(data: &[u8]) {
    let mem = MemStore::seeded();
    for verb in ["get", "erase"] {
        let _ = run_verb(&HELPER, verb, data, &mem);
    }
    let mem = MemStore::default();
    let Ok(out) = run_verb(&HELPER, "store", data, &mem) else { return };
    assert_eq!(out, "", "store prints nothing");
    let stored = mem.0.borrow().clone();
    assert_eq!(stored.len(), 1, "store adds one credential");
    let (server, (username, secret)) = stored.into_iter().next().expect("one entry");
    assert!(!server.is_empty() && !username.is_empty(), "store refuses an empty server or username");

    let listed = run_verb(&HELPER, "list", b"", &mem).expect("list");
    let listed: BTreeMap<String, String> = serde_json::from_str(&listed).expect("list prints a JSON map");
    assert_eq!(listed, BTreeMap::from([(server.clone(), username.clone())]));

    // `get` reads a line and trims it, so only a server URL that survives that can be asked for as is.
    if server.trim() == server && !server.contains('\n') {
        let got = run_verb(&HELPER, "get", server.as_bytes(), &mem).expect("get finds what store stored");
        let creds: Credentials = serde_json::from_str(&got).expect("get prints a JSON credential");
        assert_eq!((creds.server_url.as_str(), creds.username.as_str()), (server.as_str(), username.as_str()));
        assert_eq!(creds.secret.expose(), secret);
        // What get printed is a store request for the same credential (a copy between helpers), when Go's
        // escapes (`<` is six bytes) leave it within the input limit.
        if got.len() > hoist_helper_protocol::MAX_INPUT {
            return;
        }
        let again = MemStore::default();
        run_verb(&HELPER, "store", got.as_bytes(), &again).expect("get's answer is a valid store request");
        assert_eq!(*again.0.borrow(), *mem.0.borrow());
        run_verb(&HELPER, "erase", server.as_bytes(), &mem).expect("erase");
        assert!(mem.0.borrow().is_empty());
    }
}

// ---- references ------------------------------------------------------------------------------------------

/// An image reference as a user, a registries.conf or an archive gives it, and a digest.
pub fn reference(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(r) = Reference::parse_normalized(s) {
        let printed = r.to_string();
        assert_eq!(Reference::parse_normalized(&printed).as_ref(), Ok(&r), "{printed:?} reads back");
        // As in docker, the familiar form of docker.io/localhost/x ("localhost/x") names another registry, and
        // that of docker.io/library/<64 hex digits> is refused, being an image ID.
        let first = r.path().split('/').next().unwrap_or("");
        let familiar = r.familiar_string();
        let is_id = familiar.len() == 64 && familiar.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if (r.domain() != reference::DEFAULT_DOMAIN || !reference::looks_like_domain(first)) && !is_id {
            assert_eq!(Reference::parse_normalized(&familiar).as_ref(), Ok(&r), "{familiar:?} reads back");
        }
        assert!(r.name().len() <= reference::NAME_TOTAL_LENGTH_MAX);
        let _ = r.with_default_tag();
        let _ = Reference::parse_qualified(s);
    }
    // A local name (`tag`, `load`, `build -t`): a full name that reads back as itself.
    if let Ok(l) = Reference::parse_local(s) {
        let printed = l.to_string();
        assert_eq!(Reference::parse_local(&printed).as_ref(), Ok(&l), "{printed:?} reads back as a local name");
        assert!(l.name().len() <= reference::NAME_TOTAL_LENGTH_MAX);
    }
    if let Ok(d) = Digest::parse(s) {
        assert_eq!(d.to_string(), s);
    }
    // The rule for unqualified-search-registries entries is, by its documentation, this parse.
    let by_parsing = Reference::parse_normalized(&format!("{s}/x")).is_ok_and(|r| r.domain() == s);
    assert_eq!(reference::is_qualifying_domain(s), by_parsing, "{s:?}");
    let _ = hoist_core::config::is_qualified(s);
}

// ---- registries.conf -----------------------------------------------------------------------------------

/// A registries.conf file, then what `hoist resolve` and a pull do with it: resolve names to candidates and
/// their pull sources (mirrors, prefix rewrites).
pub fn registries_conf(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(config) = Config::from_str(Path::new("/etc/containers/registries.conf"), text) else { return };
    let mut names: Vec<String> = [
        "alpine",
        "alpine:3.19",
        "library/alpine@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "docker.io/library/busybox:latest",
        "quay.io/org/app:v1",
        "localhost:5000/team/app",
        "registry.example.com/team/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    ]
    .map(str::to_owned)
    .to_vec();
    names.extend(config.aliases.keys().cloned());
    for r in &config.registries {
        let host = r.prefix.strip_prefix('*').map(|rest| format!("mirror{rest}")).unwrap_or_else(|| r.prefix.clone());
        names.push(format!("{host}/app:v1"));
        names.push(format!("{host}/team/app@sha256:{}", "ab".repeat(32)));
    }
    for name in &names {
        let _ = config.is_blocked(name);
        if let Ok(resolution) = config.resolve(name) {
            assert!(!resolution.candidates.is_empty());
            for c in &resolution.candidates {
                assert!(!c.sources.is_empty(), "a candidate is pulled from somewhere");
            }
        }
    }
    let _ = serde_json::to_string(&config).expect("a config serialises");
}

// ---- auth files ------------------------------------------------------------------------------------------

/// An auth.json / docker config.json (and the same bytes as a legacy ~/.dockercfg), then the lookups and
/// the edit `login` makes.
pub fn auth_json(data: &[u8]) {
    for legacy in [false, true] {
        let path = Path::new(if legacy { "/home/u/.dockercfg" } else { "/run/user/1000/containers/auth.json" });
        let Ok(mut file) = AuthFile::parse(path, legacy, data) else { continue };
        let keys = file.auth_keys();
        let helpers = file.cred_helpers();
        let mut wanted: Vec<String> =
            ["docker.io", "docker.io/library/alpine", "quay.io/org/repo", "registry-1.docker.io", "localhost:5000"]
                .map(str::to_owned)
                .to_vec();
        wanted.extend(keys.iter().cloned());
        wanted.extend(helpers.keys().cloned());
        for key in &wanted {
            for honour in [false, true] {
                let _ = file.find(key, honour);
            }
            let _ = file.username_of(key);
        }
        let _ = file.credentials();
        let _ = file.creds_store();

        // login: what is set is what is found, keeping the entry's other fields.
        let creds = Credentials::new("fuzz.example:5000", "fuzz-user", "pass:word");
        for key in ["fuzz.example:5000".to_owned(), keys.first().cloned().unwrap_or_default()] {
            let registry = key.split('/').next().unwrap_or(&key).to_owned();
            if key.is_empty() || helpers.contains_key(&registry) {
                continue;
            }
            file.set_auth(&key, &creds);
            match file.find(&key, false) {
                Ok(Some(Found::Entry { key: found, creds: got })) => {
                    assert_eq!(found, key);
                    assert_eq!((got.username.as_str(), got.secret.expose()), ("fuzz-user", "pass:word"));
                }
                Ok(Some(Found::Helper(_))) => panic!("set_auth({key:?}) found a helper"),
                Ok(None) => panic!("set_auth({key:?}) then find found nothing"),
                Err(e) => panic!("set_auth({key:?}) then find failed: {e}"),
            }
            assert!(file.remove_auth(&key));
        }
    }
}

// ---- hoist's own credential stores ------------------------------------------------------------------------

/// docker-credential-file's JSON file (also the vault's plaintext), then the lookups and edits the helpers
/// make on it.
pub fn credential_store(data: &[u8]) {
    let Ok(contents) = Contents::parse(data) else { return };
    exercise_contents(contents);
}

fn exercise_contents(mut contents: Contents) {
    let keys: Vec<String> = contents.credentials.keys().cloned().collect();
    for key in keys.iter().map(String::as_str).chain(["docker.io", "https://index.docker.io/v1/", "quay.io"]) {
        let _ = contents.get(key);
    }
    let _ = contents.usernames();
    // Written as the helpers write it, it reads back the same.
    let written = serde_json::to_vec_pretty(&contents).expect("the map serialises");
    let reread = Contents::parse(&written).expect("a written map reads back");
    assert_eq!(reread.to_credentials(), contents.to_credentials());
    // store then get; erase then nothing.
    let server = keys.first().cloned().unwrap_or_else(|| "registry.example.com".to_owned());
    contents.put(&Credentials::new(server.clone(), "fuzz-user", "fuzz-secret"));
    let entry = contents.get(&server).expect("put then get");
    assert_eq!((entry.username.as_str(), entry.secret.expose()), ("fuzz-user", "fuzz-secret"));
    assert!(contents.remove(&server));
    assert!(contents.get(&server).is_none(), "remove({server:?}) left a match");
}

/// A vault file: its header, decryption with a fixed key (which random bytes never pass), and the input as
/// the plaintext of a vault sealed with that key, so the decrypted content's parsing runs too.
pub fn vault_file(data: &[u8]) {
    let key = Key::from_bytes(&[0x42; 32]).expect("32 bytes");
    let vault = Vault::at("/nonexistent/hoist-fuzz/vault");
    if let Ok((header, len)) = Header::parse(data) {
        assert_eq!(header.encode(), data[..len], "a header encodes to the bytes it was read from");
        assert!(format::nonce_of(data).is_some());
        let _ = header.fingerprint();
    }
    let _ = vault.decrypt(data, &key);

    let header = Header { kdf: KdfParams::default(), salt: vec![7; format::SALT_LEN] };
    let sealed = format::seal(&header, &key, data).expect("seal");
    assert_eq!(&format::open(&sealed, &key).expect("open what was sealed")[..], data);
    if let Ok(contents) = vault.decrypt(&sealed, &key) {
        exercise_contents(contents);
    }
}

// ---- registry answers ------------------------------------------------------------------------------------

/// `WWW-Authenticate` header values, one per line.
pub fn www_authenticate(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for c in challenge::parse(text.split('\n')) {
        if let challenge::Challenge::Bearer { scopes, .. } = c {
            assert!(scopes.iter().all(|s| !s.is_empty() && !s.contains(' ')));
        }
    }
}

/// A token service's answer body.
pub fn token_answer(data: &[u8]) {
    if let Ok(t) = token::parse_token_answer("https://auth.example.com/token", data) {
        assert!(!t.value.is_empty());
    }
}

/// `Link` header values, one per line (as a registry pages a tag list); the next page's URL then goes through
/// the origin rule, from a TLS registry and from a plain-HTTP one.
pub fn link_header(data: &[u8]) {
    let mut headers = http::HeaderMap::new();
    for line in data.split(|&b| b == b'\n') {
        if let Ok(v) = http::HeaderValue::from_bytes(line) {
            headers.append(http::header::LINK, v);
        }
    }
    if let Some(next) = next_link(&headers) {
        assert!(!next.contains('>'));
        for base in ["https://reg.example", "http://reg.example:5000"] {
            let page = format!("{base}/v2/r/tags/list?n=2");
            if let Ok((url, credentials)) = follow_link(base, &page, &next) {
                assert!(url.starts_with("https://") || url.starts_with("http://"), "{url}");
                assert!(!(base.starts_with("https://") && url.starts_with("http://")), "a downgrade to {url}");
                if credentials {
                    assert!(url.starts_with(&format!("{base}/")), "credentials for {url} from {base}");
                }
            }
        }
    }
}

// ---- the image model and the store ---------------------------------------------------------------------

/// The content types a manifest is given with: none, each manifest type, schema 1, and a generic one.
const CONTENT_TYPES: &[Option<&str>] = &[
    None,
    Some(media_type::OCI_MANIFEST),
    Some(media_type::OCI_INDEX),
    Some(media_type::DOCKER_MANIFEST),
    Some(media_type::DOCKER_LIST),
    Some(media_type::DOCKER_SCHEMA1_SIGNED),
    Some("application/json; charset=utf-8"),
];

/// Platforms a pull asks for.
fn wanted_platforms() -> Vec<Platform> {
    ["linux/amd64", "linux/amd64/v3", "linux/arm64", "linux/arm64/v9", "linux/arm/v7", "windows/amd64"]
        .iter()
        .map(|s| Platform::parse(s).expect("a valid platform"))
        .collect()
}

/// A manifest or index as a registry, an archive or the store serves it, under every content type; then
/// what the copy engine and `inspect` do with it.
pub fn manifest(data: &[u8]) {
    for content_type in CONTENT_TYPES {
        let Ok(m) = Manifest::parse(data, *content_type) else { continue };
        let mt = m.media_type();
        assert_eq!(m.is_index(), media_type::is_index(&mt), "{mt:?}");
        assert_eq!(!m.is_index(), media_type::is_image_manifest(&mt), "{mt:?}");
        let _ = (m.references(), m.subject(), m.annotations());
        // A descriptor may name a digest hoist cannot verify; it reads back, and only a supported one is a
        // digest a reference could carry.
        for d in m.references() {
            let text = d.digest.to_string();
            assert_eq!(Digest::parse_any(&text).as_ref(), Ok(&d.digest), "{text:?} reads back");
            assert_eq!(Digest::parse(&text).is_ok(), d.digest.is_supported(), "{text:?}");
        }
        if let Some(index) = m.as_index() {
            for want in wanted_platforms() {
                let _ = index.choose(&want);
            }
            for p in index.manifests.iter().filter_map(|d| d.platform.as_ref()) {
                assert!(index.choose(p).is_some(), "an entry's own platform is chosen");
            }
        }
        if let Some(image) = m.as_image() {
            let _ = image.blobs().filter(|d| d.is_foreign()).count();
        }
        // Re-serialised (as the store writes an index), it parses to the same view.
        let json = match &m {
            Manifest::Image(i) => serde_json::to_vec(i),
            Manifest::Index(i) => serde_json::to_vec(i),
        }
        .expect("a manifest serialises");
        assert_eq!(Manifest::parse(&json, None).as_ref(), Ok(&m));
    }
}

/// An image config blob, then what `inspect` and `images` read from it.
pub fn image_config(data: &[u8]) {
    let Ok(c) = ImageConfig::parse(data) else { return };
    let _ = (c.platform(), c.labels(), c.env(), c.cmd(), c.entrypoint());
    let _ = serde_json::to_vec(&c).expect("a config serialises");
}

/// The store's `index.json`, grouped into images as `hoist images` lists them; then written back as the store
/// writes it and read again.
pub fn store_index(data: &[u8]) {
    let path = Path::new("/var/lib/hoist/store/index.json");
    let Ok(images) = store::parse_index_json(path, data) else { return };
    for image in &images {
        assert!(image.names.iter().all(|n| n.tag().is_some() || n.digest().is_some()));
    }
    let index: Index = serde_json::from_slice(data).expect("parse_index_json accepted it");
    let written = serde_json::to_vec(&index).expect("an index serialises");
    let again = store::parse_index_json(path, &written).expect("a written index reads back");
    assert_eq!(again, images);
}

// ---- archives (hoist load / verify) --------------------------------------------------------------------

/// A directory for spooled archives, made once per process.
fn spool_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("hoist-fuzz-spool-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("spool dir");
        d
    })
}

/// Any bytes as `hoist load` reads them from stdin: outer compression sniffed, the tar walked with its limits,
/// the format told from the content, every reader run, and `verify` over the result.
pub fn archive(data: &[u8]) {
    let input = hoist_core::archive::Input::Stream(Box::new(std::io::Cursor::new(data.to_vec())), "fuzz".into());
    if let Ok(opened) = hoist_core::archive::open(input, spool_dir()) {
        let _ = hoist_core::archive::verify::verify(&opened);
    }
}

/// Any bytes as a zstd layer or archive: every frame decoded through libzstd within a 64 MiB budget and
/// the 128 MiB window limit. Whatever the frames say (sizes, windows, checksums, truncation), the result is
/// the bytes or an `InvalidData` error; never a panic, never more than the budget.
pub fn zstd_frame(data: &[u8]) {
    use std::io::Read;
    use hoist_core::archive::compression::{self, Budget, Compression};
    const MAX: u64 = 64 << 20;
    let mut r = compression::decompress_within(Compression::Zstd, data, "fuzz", Budget::bytes(MAX, "the fuzz budget"));
    let mut out = Vec::new();
    match r.read_to_end(&mut out) {
        Ok(_) => assert!(out.len() as u64 <= MAX, "{} bytes past the budget", out.len()),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}"),
    }
}

/// A docker-archive's `manifest.json`, and an OCI layout's `index.json` with the names in it.
pub fn archive_manifests(data: &[u8]) {
    let _ = hoist_core::archive::docker::parse_manifest_json(data);
    if let Ok(index) = hoist_core::archive::oci::parse_index(data) {
        for d in &index.manifests {
            let _ = hoist_core::archive::oci::load_name(d);
        }
    }
}

// ---- build (hoist build) -------------------------------------------------------------------------------

/// A Dockerfile: parsed, then planned as a build would (stages, ARG scope, refusals), for every target.
pub fn dockerfile(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if hoist_core::build::dockerfile::parse(text).is_ok() {
        let _ = hoist_core::build::check(text, None);
        let _ = hoist_core::build::check(text, Some("builder"));
    }
}

/// Variable substitution as `ENV` lines run it: each line `NAME=WORD` (or a bare `WORD`, expanded and
/// dropped) is expanded with the values so far, through one build's work budget, and the result becomes the
/// variable. An expansion never passes `MAX_WORD` bytes, and the whole input stays within the budget.
pub fn dockerfile_expand(data: &[u8]) {
    use hoist_core::build::shell::{self, MAX_WORD, Vars, Work};
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut vars = Vars::new();
    vars.insert("A".into(), "apple".into());
    vars.insert("P".into(), "/usr/local/bin/app.tar.gz".into());
    let work = Work::default();
    for (i, line) in text.lines().enumerate() {
        let escape = if i % 2 == 0 { '\\' } else { '`' };
        let (name, word) = match line.split_once('=') {
            Some((n, w)) if !n.is_empty() && n.chars().all(|c| c.is_alphanumeric() || c == '_') => (Some(n), w),
            _ => (None, line),
        };
        for w in shell::split_words(word, escape) {
            match shell::expand_in(&w, &vars, escape, &work) {
                Ok(v) => {
                    assert!(v.len() <= MAX_WORD, "a word of {} bytes", v.len());
                    if let Some(n) = name {
                        vars.insert(n.to_owned(), v);
                    }
                }
                Err(e) => assert!(!e.to_string().contains('\n'), "a one-line error: {e}"),
            }
        }
        let _ = shell::expand_fields(&[word.to_owned()], &vars, escape, &work);
    }
}

/// A `.dockerignore`, and a few paths matched against it.
pub fn dockerignore(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(ignore) = hoist_core::build::dockerignore::parse(text) {
        for path in ["", ".", "a", "a/b/c.txt", ".git/config", "dir/sub/", "x/../y", "**", "[a]"] {
            let _ = ignore.is_excluded(path);
        }
    }
}

// ---- release tags and access (hoist tag --semver, list-tags --semver, hoist access) ---------------------

/// Tag names as a registry lists them (one per line; untrusted), read as versions, fanned out, and filtered
/// with the first line taken as a requirement (as `list-tags --semver REQ` does with user input).
pub fn semver_tags(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut lines = text.lines();
    let requirement = lines.next();
    let tags: Vec<String> = lines.map(str::to_owned).collect();
    for t in &tags {
        if let Some(v) = hoist_core::release::VersionTag::parse(t) {
            let _ = v.short_tags(true);
        }
    }
    let _ = hoist_core::release::filter_versions(&tags, requirement);
    let _ = hoist_core::release::filter_versions(&tags, None);
}

/// A token as a token service returns it (a JWT whose payload's `access` claim `hoist access` reads).
pub fn access_claim(data: &[u8]) {
    let Ok(token) = std::str::from_utf8(data) else { return };
    let _ = hoist_core::registry::access::granted_by_claim(token, "team/app");
}

// ---- image trust: sigstore --------------------------------------------------------------------------------

/// A key hoist verifies with in the sigstore targets: fixed, so no input can have been signed by it.
fn sigstore_public_key() -> Vec<u8> {
    let key = p256::ecdsa::SigningKey::from_slice(&[7; 32]).expect("a valid scalar");
    keys::public_key_pem(key.verifying_key()).into_bytes()
}

/// A cosign key file (`--sign-by-sigstore-private-key`, a policy's `keyPath`): the first PEM block (which
/// encodes back to itself), the encrypted private key's envelope and limits (scrypt is not run: a derived key
/// opens the box, which must refuse what it did not seal), and as a public key.
pub fn sigstore_key(data: &[u8]) {
    if let Ok(pem) = keys::pem_decode(data) {
        let again = keys::pem_decode(keys::pem_encode(&pem.label, &pem.der).as_bytes()).expect("re-encoded PEM reads");
        assert_eq!((&again.label, &*again.der), (&pem.label, &*pem.der), "PEM encodes to what it was read from");
    }
    if let Ok(key) = keys::EncryptedKey::parse(data) {
        assert!(key.label.contains("PRIVATE KEY"));
        assert!(key.open(&[0x42; 32]).is_err(), "a box this target did not seal does not open");
    }
    if let Ok(key) = keys::parse_public_key(data) {
        let pem = keys::public_key_pem(&key);
        assert_eq!(keys::parse_public_key(pem.as_bytes()).expect("re-encoded key reads"), key);
    }
}

/// A sigstore signature's payload (a `.sig` layer): read strictly, written back to the same contents; and as
/// payload and base64 annotation of a signature checked against a key that signed nothing, always refused.
pub fn sigstore_payload(data: &[u8]) {
    if let Ok(p) = Payload::parse(data) {
        assert_eq!(Payload::parse(&p.to_json()).expect("a written payload reads"), p);
    }
    let annotation = String::from_utf8_lossy(data).into_owned();
    let annotations = [(sigstore::SIGNATURE_ANNOTATION.to_owned(), annotation)].into();
    let sig = Signature::Sigstore {
        media_type: sigstore::PAYLOAD_MEDIA_TYPE.to_owned(),
        payload: data.to_vec(),
        annotations,
    };
    assert!(sigstore::verify(&sig, &[sigstore_public_key()]).is_err(), "nothing verifies against an unused key");
}

// ---- image trust: the policy ------------------------------------------------------------------------------

/// A policy.json (containers-policy.json(5)): parsed strictly; a policy that parses is evaluated for a
/// docker and an oci image without signatures (no key file is read then), and must allow exactly when every
/// requirement of the scope that applies is `insecureAcceptAnything`; `trust show`'s rows are made from it
/// (with no key file read).
pub fn policy_json(data: &[u8]) {
    use hoist_core::trust::PolicyName;
    use hoist_core::trust::policy::{Policy, Requirement, docker_policy_name, show_table};
    let Ok(policy) = Policy::from_bytes(data, Path::new("/fuzz/policy.json")) else { return };
    let manifest = hoist_core::image::RawManifest::new(b"{}".to_vec(), media_type::OCI_MANIFEST);
    let docker = docker_policy_name(&Reference::parse_normalized("registry.example.com:5000/ns/app:1").unwrap());
    let oci = PolicyName {
        transport: "oci",
        identity: "/srv/images/app".into(),
        namespaces: vec!["/srv/images".into(), "/srv".into()],
        docker_reference: None,
    };
    for name in [&docker, &oci] {
        let (_, reqs) = policy.requirements_for(name);
        let all_accept = reqs.iter().all(|r| *r == Requirement::InsecureAcceptAnything);
        let evaluation = policy.evaluate(name, &manifest, &[]);
        assert_eq!(evaluation.allowed, all_accept && !reqs.is_empty());
        assert_eq!(evaluation.requirements.len(), reqs.len());
        let refused = evaluation.into_result();
        assert_eq!(refused.is_ok(), all_accept);
        if let Err(e) = refused {
            assert!(e.to_string().starts_with("Source image rejected: "));
        }
    }
    let rows = policy.show_rows(&|_| Vec::new(), &|_| String::new());
    let _ = show_table(&rows, true);
}

// ---- where signatures live (issue 19) -------------------------------------------------------------------

/// A registries.d file: parsed, then every lookup a registry image makes (reading and writing locations,
/// attachments) for a few names and the file's own scopes; a location is always under the configured (or
/// built-in) base with the repository appended, never an error for a valid reference but a bad URL.
pub fn registries_d(data: &[u8]) {
    use hoist_core::trust::storage::RegistriesD;
    let Ok(config) = RegistriesD::parse(Path::new("/etc/containers/registries.d/fuzz.yaml"), data) else { return };
    let mut names: Vec<String> =
        ["busybox", "quay.io/org/app:v1", "localhost:5000/team/app"].map(str::to_owned).to_vec();
    names.push(format!("a.b.example.com/x/y@sha256:{}", "ab".repeat(32)));
    for scope in config.docker.keys() {
        let host = scope.strip_prefix("*.").map(|rest| format!("mirror.{rest}")).unwrap_or_else(|| scope.clone());
        names.push(format!("{host}/app:v1"));
    }
    for name in &names {
        let Ok(r) = Reference::parse_normalized(name) else { continue };
        let _ = config.use_sigstore_attachments(&r);
        for write in [false, true] {
            if let Ok(url) = config.lookaside(&r, write) {
                assert!(url.path().ends_with(&format!("/{}", r.path())), "{url} for {name}");
            }
        }
    }
}

/// A sigstore attachment manifest (the `sha256-HEX.sig` tag) as a registry serves it: what is accepted has at
/// most the allowed layers, each within the signature size cap; and a signature blob in containers/image's
/// format reads back as itself once written.
pub fn signature_manifest(data: &[u8]) {
    use hoist_core::trust::storage::{self, MAX_SIGNATURE_SIZE, MAX_SIGNATURES, attachments};
    if let Ok(layers) = attachments::parse_manifest("fuzz:sig", data, media_type::OCI_MANIFEST) {
        assert!(layers.len() <= MAX_SIGNATURES);
        assert!(layers.iter().all(|l| l.size <= MAX_SIGNATURE_SIZE as u64));
    }
    if let Ok(sig) = storage::from_blob(data, "fuzz") {
        let again = storage::to_blob(&sig);
        assert_eq!(storage::from_blob(&again, "fuzz").ok(), Some(sig));
    }
}

// ---- GPG simple signing --------------------------------------------------------------------------------

/// A containers-signature(5) payload (the literal data of a simple signature, what gpg hands back after
/// verifying): parsed strictly; what parses, written back by hoist, reads back as itself.
pub fn simple_payload(data: &[u8]) {
    use hoist_core::trust::simple::Payload;
    if let Ok(p) = Payload::parse(data) {
        let again = Payload::parse(&p.to_json()).expect("hoist's own payload parses");
        assert_eq!(again, p, "a payload round-trips");
    }
}

/// A manifest or index from a registry converted to each `--format` (config unread: what needs it is refused
/// cleanly); and the bytes as the config of a Docker schema 2 image converted to OCI (the config rewritten as
/// Go's OCI type, JSON named by its own digest). Every manifest that converts is one hoist parses again.
pub fn convert(data: &[u8]) {
    use hoist_core::image::RawManifest;
    use hoist_core::image::convert::{ManifestFormat, convert_image, convert_index};
    let formats = [ManifestFormat::Oci, ManifestFormat::DockerV2Schema2];
    for media in [media_type::OCI_MANIFEST, media_type::DOCKER_MANIFEST, media_type::OCI_INDEX, media_type::DOCKER_LIST]
    {
        let raw = RawManifest::new(data.to_vec(), media);
        for to in formats {
            match Manifest::parse(data, Some(media)) {
                Ok(Manifest::Image(m)) => {
                    if let Ok(c) = convert_image(&raw, &m, to, None) {
                        Manifest::parse(&c.manifest.raw, Some(&c.manifest.media_type)).expect("converted parses");
                    }
                }
                Ok(Manifest::Index(i)) => {
                    let _ = convert_index(&raw, &i, to, &std::collections::HashMap::new());
                }
                Err(_) => {}
            }
        }
    }
    let config = Digest::sha256(data);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","size":{},"digest":"{config}"}},"layers":[]}}"#,
        media_type::DOCKER_MANIFEST,
        media_type::DOCKER_CONFIG,
        data.len()
    );
    let raw = RawManifest::new(manifest.into_bytes(), media_type::DOCKER_MANIFEST);
    let Ok(Manifest::Image(m)) = Manifest::parse(&raw.raw, Some(media_type::DOCKER_MANIFEST)) else {
        panic!("the wrapping manifest parses")
    };
    if let Ok(c) = convert_image(&raw, &m, ManifestFormat::Oci, Some(data)) {
        let (desc, config) = c.config.expect("a converted Docker image has a new config");
        // Whatever the source config held, what is written is JSON named by its own digest.
        serde_json::from_slice::<serde_json::Value>(&config).expect("the converted config is JSON");
        assert_eq!(desc.digest, Digest::sha256(&config));
    }
}

/// skopeo sync's YAML file: every source it yields names a valid repository (`registry/path` parses back).
pub fn sync_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(sources) = hoist_core::sync_file::parse(text, "sync.yml") {
        for s in sources {
            let name = format!("{}/{}", s.registry, s.repository);
            let r = Reference::parse_normalized(&name).expect("a parsed source names a repository");
            assert_eq!(r.path(), s.repository);
        }
    }
}

/// A registry's search answers: a catalog page and a Docker Hub v1 search answer.
pub fn search_answer(data: &[u8]) {
    use hoist_core::registry::search::{MAX_HUB_RESULTS, parse_catalog_page, parse_hub_answer};
    let _ = parse_catalog_page(data);
    if let Ok(results) = parse_hub_answer(data) {
        assert!(results.len() <= MAX_HUB_RESULTS);
    }
}

/// A Docker engine's answer (`docker-daemon:`): the HTTP head, a `Content-Length` or chunked body, an error's
/// message; the body then read as a load's JSON-lines answer. The body never exceeds what was asked.
pub fn daemon_answer(data: &[u8]) {
    use hoist_core::transport::docker_daemon::{engine, load_answer};
    if let Ok(body) = engine::read_answer(data.to_vec(), 1 << 16) {
        assert!(body.len() <= 1 << 16);
        assert!(body.len() <= data.len());
        let _ = load_answer(Box::new(std::io::Cursor::new(body)), "docker-daemon:fuzz");
    }
}
