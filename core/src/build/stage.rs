//! What each instruction does to the image being built, as podman 4.3 (buildah) does it, with the
//! differences docs/commands/build.md lists:
//!
//! - config-only instructions (`ENV`, `LABEL`, `USER`, `EXPOSE`, `VOLUME`, `CMD`, `ENTRYPOINT`, ...) change
//!   the config and add a history entry with `empty_layer`; `ENTRYPOINT` resets a `CMD` inherited from the
//!   base; shell forms are wrapped in the `SHELL` (default `/bin/sh -c`); a base with no `PATH` gets
//!   podman's default;
//! - `COPY` and `ADD` add one layer: sources land as docker's trailing-slash rules say, owned by 0:0 unless
//!   `--chown`, with their modes unless `--chmod`; missing parents are created 0755 (owned as `--chown`
//!   says); the existing parents go into the layer with their own metadata; `ADD` unpacks local tar
//!   archives (plain, gzip, bzip2, xz, zstd; detected by content);
//! - `WORKDIR` adds a layer when it creates its directory (0755, owned by the current `USER`).
//!
//! What it is not: parsing (`dockerfile`) or writing bytes (`layer`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use super::context::{Context, Item, ItemKind};
use super::dockerfile::{self, Instruction};
use super::glob::{Pattern, Slashes, clean, has_wildcard};
use super::layer::{self, Content, Entry, EntryKind, Spool};
use super::shell::{self, Vars, Work};
use super::tree::{self, Kind, Node, Origin, Tree, ancestors};
use super::users::{self, Owner};
use super::{
    Base, Bases, BuildError, Built, Options, Plan, Progress, StagePlan, at, excerpt, is_remote, refuse_run, refuse_url,
    stage_ref,
};
use crate::archive::compression::{self, Formats};
use crate::digest::Digest;
use crate::image::{Descriptor, ImageManifest, Index, MAX_CONFIG_SIZE, Manifest, Platform, media_type};
use crate::store::Store;
use crate::transport::RawManifest;

/// podman's `PATH` for images whose base sets none.
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The annotations podman puts on a built image's manifest.
pub const ANNOTATION_BASE_NAME: &str = "org.opencontainers.image.base.name";
pub const ANNOTATION_BASE_DIGEST: &str = "org.opencontainers.image.base.digest";

/// The times a build writes.
#[derive(Debug, Clone)]
struct Clock {
    /// Seconds for created directories (and, when `fixed`, every mtime).
    secs: u64,
    /// RFC 3339, for `created` fields.
    created: String,
    fixed: bool,
}

impl Clock {
    fn new(timestamp: Option<i64>) -> Clock {
        match timestamp {
            Some(t) => Clock { secs: t.max(0) as u64, created: rfc3339(t, 0), fixed: true },
            None => {
                let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
                Clock { secs: now.as_secs(), created: rfc3339(now.as_secs() as i64, now.subsec_nanos()), fixed: false }
            }
        }
    }

    /// The mtime of something copied whose own mtime is `own`.
    fn mtime(&self, own: u64) -> u64 {
        if self.fixed { self.secs } else { own }
    }
}

/// `secs` (and `nanos`) as RFC 3339 UTC, as Go writes times (`2024-01-02T03:04:05.123456789Z`).
fn rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    let frac = if nanos == 0 { String::new() } else { format!(".{nanos:09}").trim_end_matches('0').to_owned() };
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{frac}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// An image's state: what a stage starts from and what it ends as.
#[derive(Clone)]
struct Snapshot {
    config: Value,
    layers: Vec<Descriptor>,
    tree: Tree,
    /// The image the chain started from: (name, manifest digest), for the base annotations.
    base: Option<(String, Digest)>,
    /// About how many bytes `config` takes as JSON: the base's, plus what each instruction added.
    config_len: usize,
}

/// The most bytes all the stages of a build may keep in their configs together (each stage's is at most
/// [`MAX_CONFIG_SIZE`]): 64 MiB, so a long chain of stages cannot hold a copy of an 8 MiB config each.
pub const MAX_CONFIGS_KEPT: usize = 64 << 20;

/// What every stage shares.
struct Shared<'a> {
    store: &'a Store,
    plan: &'a Plan,
    context: &'a Context,
    opts: &'a Options,
    bases: &'a mut dyn Bases,
    progress: &'a dyn Progress,
    clock: Clock,
    /// Global ARGs (before the first FROM) and the automatic platform ARGs, with values.
    globals: Vars,
    consumed: BTreeSet<String>,
    /// Images read for `COPY --from=IMAGE`, by name.
    images: HashMap<String, Snapshot>,
    step: usize,
    total: usize,
    new_layers: Vec<Descriptor>,
    /// The stages built so far for this platform.
    done: Vec<Option<Snapshot>>,
    /// The variable-substitution budget of the whole build.
    work: Rc<Work>,
    /// The config bytes the built stages keep (at most [`MAX_CONFIGS_KEPT`]).
    kept: usize,
}

/// Runs the plan for every platform and writes the result.
pub(super) fn run(
    store: &Store,
    plan: &Plan,
    context: &Context,
    opts: &Options,
    bases: &mut dyn Bases,
    progress: &dyn Progress,
) -> Result<Built, BuildError> {
    let per_platform: usize = plan.needed.iter().map(|&i| 1 + plan.stages[i].instructions.len()).sum();
    let mut sh = Shared {
        store,
        plan,
        context,
        opts,
        bases,
        progress,
        clock: Clock::new(opts.timestamp),
        globals: Vars::new(),
        consumed: BTreeSet::new(),
        images: HashMap::new(),
        step: 0,
        total: per_platform * opts.platforms.len(),
        new_layers: Vec::new(),
        done: Vec::new(),
        work: Rc::new(Work::default()),
        kept: 0,
    };
    let mut images = Vec::new();
    let mut base_name = None;
    for platform in &opts.platforms {
        sh.globals = global_args(plan, opts, platform, &mut sh.consumed, &sh.work)?;
        sh.images.clear();
        sh.done = vec![None; plan.stages.len()];
        sh.kept = 0;
        for &i in &plan.needed {
            let snap = run_stage(&mut sh, &plan.stages[i], platform)?;
            sh.kept += snap.config_len;
            if sh.kept > MAX_CONFIGS_KEPT {
                return at(
                    plan.stages[i].from.line,
                    format!(
                        "the stages' image configs together pass {MAX_CONFIGS_KEPT} bytes (64 MiB), the most hoist \
                         keeps for one build"
                    ),
                );
            }
            sh.done[i] = Some(snap);
        }
        let last = sh.done[plan.target].take().expect("the target was built");
        base_name = last.base.as_ref().map(|(n, _)| n.clone());
        images.push(write_image(store, &last, platform, &sh.clock)?);
    }
    let unused: Vec<&String> = opts.build_args.keys().filter(|k| !sh.consumed.contains(*k)).collect();
    if !unused.is_empty() {
        let list: Vec<&str> = unused.iter().map(|s| s.as_str()).collect();
        progress.warning(&format!("one or more build args were not consumed: [{}]", list.join(" ")));
    }
    let new_layers = std::mem::take(&mut sh.new_layers);
    if images.len() == 1 {
        let (manifest, config, _) = images.pop().expect("one image");
        return Ok(Built { manifest, id: config, new_layers, base_name });
    }
    let index = Index {
        schema_version: 2,
        media_type: Some(media_type::OCI_INDEX.to_owned()),
        manifests: images.iter().map(|(m, _, p)| Descriptor { platform: Some(p.clone()), ..m.descriptor() }).collect(),
        subject: None,
        annotations: None,
    };
    let raw = serde_json::to_vec(&index).map_err(|e| BuildError::Other(e.to_string()))?;
    let digest = store.put_blob(&raw)?;
    Ok(Built { manifest: RawManifest::new(raw, media_type::OCI_INDEX), id: digest, new_layers, base_name })
}

/// The values of the ARGs before the first FROM (build args override defaults), plus the automatic platform
/// ARGs (`TARGETPLATFORM`, `TARGETOS`, `TARGETARCH`, `TARGETVARIANT`, `BUILDPLATFORM`, `BUILDOS`, ...).
fn global_args(
    plan: &Plan,
    opts: &Options,
    platform: &Platform,
    consumed: &mut BTreeSet<String>,
    work: &Work,
) -> Result<Vars, BuildError> {
    let mut vars = automatic_args(platform);
    for ins in &plan.globals {
        for (name, default) in arg_words(ins, plan.escape)? {
            let value = match opts.build_args.get(&name) {
                Some(v) => {
                    consumed.insert(name.clone());
                    Some(v.clone())
                }
                None => match default {
                    Some(d) => Some(
                        shell::expand_in(&d, &vars, plan.escape, work)
                            .map_err(|e| BuildError::At { line: ins.line, message: format!("ARG {name}: {e}") })?,
                    ),
                    None => None,
                },
            };
            match value {
                Some(v) => vars.insert(name, v),
                None => vars.remove(&name),
            };
        }
    }
    Ok(vars)
}

fn automatic_args(platform: &Platform) -> Vars {
    let host = Platform::host();
    let mut v = Vars::new();
    for (prefix, p) in [("TARGET", platform), ("BUILD", &host)] {
        v.insert(format!("{prefix}PLATFORM"), p.to_string());
        v.insert(format!("{prefix}OS"), p.os.clone());
        v.insert(format!("{prefix}ARCH"), p.architecture.clone());
        v.insert(format!("{prefix}VARIANT"), p.variant.clone().unwrap_or_default());
    }
    v
}

/// `ARG a b=1 c="x y"`: each name and its default (unexpanded).
fn arg_words(ins: &Instruction, escape: char) -> Result<Vec<(String, Option<String>)>, BuildError> {
    let mut out = Vec::new();
    for w in shell::split_words(&ins.args, escape) {
        let (name, default) = match w.split_once('=') {
            Some((n, d)) => (n.to_owned(), Some(d.to_owned())),
            None => (w.clone(), None),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return at(ins.line, format!("ARG: invalid name {:?}", excerpt(&name)));
        }
        out.push((name, default));
    }
    Ok(out)
}

/// One stage being built.
struct Stage<'p> {
    snap: Snapshot,
    platform: Platform,
    escape: char,
    /// ARGs declared in this stage: name → value (`None`: declared without one).
    args: BTreeMap<String, Option<String>>,
    /// A CMD was given in this stage (so ENTRYPOINT keeps it).
    cmd_set: bool,
    plan: &'p StagePlan,
    /// What substitution sees: the ARGs, then the config's `Env` over them; kept up to date by `ARG` and
    /// `ENV` rather than made again for every word.
    vars: Vars,
    /// The names the config's `Env` sets.
    env_keys: BTreeSet<String>,
    work: Rc<Work>,
}

fn run_stage(sh: &mut Shared, sp: &StagePlan, target_platform: &Platform) -> Result<Snapshot, BuildError> {
    sh.step += 1;
    sh.progress.step(sh.step, sh.total, &sp.from.original);
    let line = sp.from.line;
    let expand_global = |s: &str| {
        shell::expand_in(s, &sh.globals, sh.plan.escape, &sh.work)
            .map_err(|e| BuildError::At { line, message: format!("FROM: {e}") })
    };
    let platform = match sp.from.flag("platform").and_then(|f| f.value.as_deref()) {
        Some(p) => Platform::parse(&expand_global(p)?).map_err(|e| BuildError::At { line, message: e.to_string() })?,
        None => target_platform.clone(),
    };
    let base = expand_global(&sp.base)?;
    if base.is_empty() {
        return at(line, "FROM: the base image name is empty (an ARG without a value?)");
    }
    let mut snap = if base.eq_ignore_ascii_case("scratch") {
        scratch(&platform)
    } else if let Some(i) = stage_ref(&sh.plan.stages, &base).filter(|&i| i < sp.index) {
        sh.done[i].clone().ok_or_else(|| BuildError::At { line, message: format!("stage {base:?} was not built") })?
    } else {
        let found = sh
            .bases
            .base(&base, &platform)
            .map_err(|m| BuildError::At { line, message: format!("FROM {base}: {m}") })?;
        load_image(sh.store, &found, &platform, sh.progress).map_err(|e| e.at(line, "FROM"))?
    };
    set_default_path(&mut snap.config);
    let mut stage = Stage {
        snap,
        platform,
        escape: sh.plan.escape,
        args: BTreeMap::new(),
        cmd_set: false,
        plan: sp,
        vars: Vars::new(),
        env_keys: BTreeSet::new(),
        work: sh.work.clone(),
    };
    for e in stage.env() {
        if let Some((k, v)) = e.split_once('=') {
            stage.vars.insert(k.to_owned(), v.to_owned());
            stage.env_keys.insert(k.to_owned());
        }
    }
    // The base's ONBUILD triggers run first, then are dropped.
    let triggers: Vec<String> = stage
        .cfg()
        .remove("OnBuild")
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    if triggers.len() > dockerfile::MAX_INSTRUCTIONS {
        return at(line, format!("the base has more than {} ONBUILD triggers", dockerfile::MAX_INSTRUCTIONS));
    }
    for t in triggers {
        let parsed = dockerfile::parse(&t)
            .map_err(|e| BuildError::At { line, message: format!("ONBUILD {t}: {}", e.message) })?;
        for mut ins in parsed.instructions {
            ins.line = line;
            if ins.keyword == "RUN" {
                return Err(refuse_run(&ins));
            }
            stage.exec(sh, &ins)?;
        }
    }
    for ins in &sp.instructions {
        sh.step += 1;
        sh.progress.step(sh.step, sh.total, &ins.original);
        stage.exec(sh, ins).map_err(|e| e.at(ins.line, &ins.keyword))?;
    }
    Ok(stage.snap)
}

fn scratch(platform: &Platform) -> Snapshot {
    let mut config = json!({
        "architecture": platform.architecture,
        "os": platform.os,
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": []},
        "history": [],
    });
    if let Some(v) = &platform.variant {
        config["variant"] = json!(v);
    }
    let config_len = config.to_string().len();
    Snapshot { config, layers: Vec::new(), tree: Tree::default(), base: None, config_len }
}

/// A stored image as a snapshot: its config, its layers (docker media types as their OCI equals), and its
/// filesystem index.
fn load_image(
    store: &Store,
    base: &Base,
    platform: &Platform,
    progress: &dyn Progress,
) -> Result<Snapshot, BuildError> {
    let (_, manifest) = store.read_manifest(&base.descriptor)?;
    let Manifest::Image(m) = manifest else {
        return Err(BuildError::Other(format!("{} is an index, not an image", base.name)));
    };
    let raw = store.read_blob(&m.config.digest, MAX_CONFIG_SIZE)?;
    let config: Value = serde_json::from_slice(&raw)
        .map_err(|e| BuildError::Other(format!("the config of {}: {}", base.name, excerpt(&e.to_string()))))?;
    if !config.is_object() {
        return Err(BuildError::Other(format!("the config of {} is not a JSON object", base.name)));
    }
    let parsed = crate::image::ImageConfig::parse(&raw)?;
    if !parsed.platform().matches(platform) {
        progress.warning(&format!(
            "image platform ({}) does not match the expected platform ({platform})",
            parsed.platform()
        ));
    }
    let layers: Vec<Descriptor> = m.layers.iter().map(oci_layer).collect();
    let digests: Vec<Digest> = m.layers.iter().filter(|l| !l.is_foreign()).map(|l| l.digest.clone()).collect();
    let tree = Tree::from_layers(store, &digests)?;
    Ok(Snapshot {
        config,
        layers,
        tree,
        base: Some((base.name.clone(), base.descriptor.digest.clone())),
        config_len: raw.len(),
    })
}

/// A layer descriptor with Docker's media types as their OCI equals (same bytes), as podman writes OCI.
fn oci_layer(d: &Descriptor) -> Descriptor {
    let mut d = d.clone();
    d.media_type = match d.media_type.as_str() {
        media_type::DOCKER_LAYER_GZIP => media_type::OCI_LAYER_GZIP.to_owned(),
        media_type::DOCKER_FOREIGN_LAYER => media_type::OCI_LAYER_NONDISTRIBUTABLE_GZIP.to_owned(),
        other => other.to_owned(),
    };
    d
}

fn set_default_path(config: &mut Value) {
    let c = container_config(config);
    let env = c.entry("Env").or_insert_with(|| json!([]));
    if !env.is_array() {
        *env = json!([]);
    }
    let list = env.as_array_mut().expect("an array");
    if !list.iter().any(|e| e.as_str().is_some_and(|s| s.starts_with("PATH="))) {
        list.insert(0, json!(DEFAULT_PATH));
    }
}

/// The container config object (`config.config`), made if missing.
fn container_config(config: &mut Value) -> &mut Map<String, Value> {
    let obj = config.as_object_mut().expect("configs are objects");
    let c = obj.entry("config").or_insert_with(|| json!({}));
    if !c.is_object() {
        *c = json!({});
    }
    c.as_object_mut().expect("an object")
}

/// Writes the final snapshot's config and manifest; returns the manifest, the config digest (the image ID)
/// and the platform.
fn write_image(
    store: &Store,
    snap: &Snapshot,
    platform: &Platform,
    clock: &Clock,
) -> Result<(RawManifest, Digest, Platform), BuildError> {
    let mut config = snap.config.clone();
    config["created"] = json!(clock.created);
    let raw_config = serde_json::to_vec(&config).map_err(|e| BuildError::Other(e.to_string()))?;
    if raw_config.len() > MAX_CONFIG_SIZE {
        return Err(BuildError::Other(format!(
            "the image config would be {} bytes, more than the {MAX_CONFIG_SIZE} (8 MiB) hoist and registries read \
             back",
            raw_config.len()
        )));
    }
    let config_digest = store.put_blob(&raw_config)?;
    let mut annotations = BTreeMap::new();
    if let Some((name, digest)) = &snap.base {
        annotations.insert(ANNOTATION_BASE_DIGEST.to_owned(), digest.to_string());
        annotations.insert(ANNOTATION_BASE_NAME.to_owned(), name.clone());
    }
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(media_type::OCI_MANIFEST.to_owned()),
        artifact_type: None,
        config: Descriptor::new(media_type::OCI_CONFIG, config_digest.clone(), raw_config.len() as u64),
        layers: snap.layers.clone(),
        subject: None,
        annotations: (!annotations.is_empty()).then_some(annotations),
    };
    let raw = serde_json::to_vec(&manifest).map_err(|e| BuildError::Other(e.to_string()))?;
    store.put_blob(&raw)?;
    let p = crate::image::ImageConfig::parse(&raw_config)?.platform();
    let p = if p.os.is_empty() { platform.clone() } else { p };
    Ok((RawManifest::new(raw, media_type::OCI_MANIFEST), config_digest, p))
}

/// Where a COPY reads from.
enum From {
    Context,
    /// An earlier stage's or an image's filesystem.
    Image(Snapshot),
}

/// One source of a COPY or ADD.
enum Source {
    Ctx(Item),
    Tree { key: String, node: Node },
}

impl Source {
    fn is_dir(&self) -> bool {
        match self {
            Source::Ctx(i) => i.kind == ItemKind::Dir,
            Source::Tree { node, .. } => node.is_dir(),
        }
    }

    fn base_name(&self) -> String {
        let p = match self {
            Source::Ctx(i) => &i.rel,
            Source::Tree { key, .. } => key,
        };
        p.rsplit('/').next().unwrap_or("").to_owned()
    }
}

/// A layer being assembled: entries by path, and what of the tree they replace.
#[derive(Default)]
struct Pending {
    entries: BTreeMap<String, Entry>,
    /// Bytes to read out of a source tree: entry path → source key.
    from_tree: Vec<(String, String)>,
}

impl<'p> Stage<'p> {
    fn cfg(&mut self) -> &mut Map<String, Value> {
        container_config(&mut self.snap.config)
    }

    fn cfg_str(&self, key: &str) -> String {
        self.snap.config.get("config").and_then(|c| c.get(key)).and_then(Value::as_str).unwrap_or("").to_owned()
    }

    fn env(&self) -> Vec<String> {
        self.snap
            .config
            .get("config")
            .and_then(|c| c.get("Env"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    }

    /// The variables substitution sees: this stage's ARGs, then the config's Env over them.
    fn vars(&self) -> &Vars {
        &self.vars
    }

    fn expand(&self, word: &str, line: usize) -> Result<String, BuildError> {
        shell::expand_in(word, &self.vars, self.escape, &self.work)
            .map_err(|e| BuildError::At { line, message: e.to_string() })
    }

    /// Counts `added` bytes more in the config (fewer when negative); fails past [`MAX_CONFIG_SIZE`].
    fn grow(&mut self, line: usize, added: isize) -> Result<(), BuildError> {
        self.snap.config_len = self.snap.config_len.saturating_add_signed(added);
        if self.snap.config_len > MAX_CONFIG_SIZE {
            return at(
                line,
                format!(
                    "the image config would pass {MAX_CONFIG_SIZE} bytes (8 MiB), the most hoist and registries \
                     read back"
                ),
            );
        }
        Ok(())
    }

    fn words(&self, ins: &Instruction) -> Vec<String> {
        shell::split_words(&ins.args, self.escape)
    }

    fn history(&mut self, sh: &Shared, created_by: String, empty: bool) {
        // Bounded by the Dockerfile's size: not checked here (the final config is).
        self.snap.config_len += created_by.len() + 80;
        let mut h = json!({"created": sh.clock.created, "created_by": created_by});
        if empty {
            h["empty_layer"] = json!(true);
        }
        let obj = self.snap.config.as_object_mut().expect("configs are objects");
        let list = obj.entry("history").or_insert_with(|| json!([]));
        if !list.is_array() {
            *list = json!([]);
        }
        list.as_array_mut().expect("an array").push(h);
    }

    fn nop(&mut self, sh: &Shared, ins: &Instruction) {
        self.history(sh, format!("/bin/sh -c #(nop) {}", ins.original), true);
    }

    /// The shell for shell forms: the config's `Shell`, else `/bin/sh -c`.
    fn shell(&self) -> Vec<String> {
        self.snap
            .config
            .get("config")
            .and_then(|c| c.get("Shell"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect::<Vec<_>>())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| vec!["/bin/sh".to_owned(), "-c".to_owned()])
    }

    /// The arguments as a command: the JSON form as is, the shell form in the shell.
    fn command(&self, ins: &Instruction) -> Vec<String> {
        match ins.json() {
            Some(list) => list,
            None => {
                let mut c = self.shell();
                c.push(ins.args.clone());
                c
            }
        }
    }

    fn exec(&mut self, sh: &mut Shared, ins: &Instruction) -> Result<(), BuildError> {
        let line = ins.line;
        match ins.keyword.as_str() {
            "RUN" => Err(refuse_run(ins)),
            "ARG" => self.arg(sh, ins),
            "ENV" => {
                for (k, v) in self.pairs(ins, "ENV")? {
                    let old = set_env(self.cfg(), &k, &v);
                    self.grow(line, (k.len() + v.len() + 4) as isize - old.map_or(0, |o| o as isize + 4))?;
                    self.vars.insert(k.clone(), v);
                    self.env_keys.insert(k);
                }
                self.nop(sh, ins);
                Ok(())
            }
            "LABEL" => {
                for (k, v) in self.pairs(ins, "LABEL")? {
                    let labels = self.cfg().entry("Labels").or_insert_with(|| json!({}));
                    if !labels.is_object() {
                        *labels = json!({});
                    }
                    let added = (k.len() + v.len() + 6) as isize;
                    let old = labels.get(&k).map(|o| o.to_string().len() as isize + k.len() as isize + 4);
                    labels[k] = json!(v);
                    self.grow(line, added - old.unwrap_or(0))?;
                }
                self.nop(sh, ins);
                Ok(())
            }
            "MAINTAINER" => {
                let author = ins.args.clone();
                self.snap.config["author"] = json!(author);
                self.nop(sh, ins);
                Ok(())
            }
            "USER" => {
                let user = self.expand(&ins.args, line)?;
                if user.is_empty() {
                    return at(line, "USER requires an argument");
                }
                self.cfg().insert("User".into(), json!(user));
                self.nop(sh, ins);
                Ok(())
            }
            "EXPOSE" => {
                let ports = shell::expand_fields(&self.words(ins), self.vars(), self.escape, &self.work)
                    .map_err(|e| BuildError::At { line, message: e.to_string() })?;
                for p in ports {
                    for key in exposed(&p).map_err(|m| BuildError::At { line, message: format!("EXPOSE: {m}") })? {
                        let map = self.cfg().entry("ExposedPorts").or_insert_with(|| json!({}));
                        if !map.is_object() {
                            *map = json!({});
                        }
                        let added = if map.get(&key).is_some() { 0 } else { key.len() + 6 };
                        map[key] = json!({});
                        self.grow(line, added as isize)?;
                    }
                }
                self.nop(sh, ins);
                Ok(())
            }
            "VOLUME" => {
                let vols = match ins.json() {
                    Some(list) => list.iter().map(|w| self.expand(w, line)).collect::<Result<Vec<_>, _>>()?,
                    None => shell::expand_fields(&self.words(ins), self.vars(), self.escape, &self.work)
                        .map_err(|e| BuildError::At { line, message: e.to_string() })?,
                };
                if vols.is_empty() || vols.iter().any(|v| v.trim().is_empty()) {
                    return at(line, "VOLUME specified can not be an empty string");
                }
                for v in vols {
                    let map = self.cfg().entry("Volumes").or_insert_with(|| json!({}));
                    if !map.is_object() {
                        *map = json!({});
                    }
                    let added = if map.get(&v).is_some() { 0 } else { v.len() + 6 };
                    map[v] = json!({});
                    self.grow(line, added as isize)?;
                }
                self.nop(sh, ins);
                Ok(())
            }
            "STOPSIGNAL" => {
                let sig = self.expand(&ins.args, line)?;
                let ok = sig.parse::<u32>().is_ok()
                    || (sig.len() > 3
                        && sig.to_ascii_uppercase().starts_with("SIG")
                        && sig[3..].chars().all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-'));
                if !ok {
                    return at(line, format!("STOPSIGNAL: invalid signal {:?}", excerpt(&sig)));
                }
                self.cfg().insert("StopSignal".into(), json!(sig));
                self.nop(sh, ins);
                Ok(())
            }
            "CMD" => {
                let cmd = self.command(ins);
                self.cfg().insert("Cmd".into(), json!(cmd));
                self.cmd_set = true;
                self.nop(sh, ins);
                Ok(())
            }
            "ENTRYPOINT" => {
                let ep = self.command(ins);
                self.cfg().insert("Entrypoint".into(), json!(ep));
                if !self.cmd_set {
                    self.cfg().remove("Cmd");
                }
                self.nop(sh, ins);
                Ok(())
            }
            "SHELL" => {
                let Some(list) = ins.json().filter(|l| !l.is_empty()) else {
                    return at(line, "SHELL requires the arguments to be in JSON form");
                };
                self.cfg().insert("Shell".into(), json!(list));
                self.nop(sh, ins);
                Ok(())
            }
            "HEALTHCHECK" => {
                let hc = healthcheck(ins).map_err(|m| BuildError::At { line, message: format!("HEALTHCHECK: {m}") })?;
                self.cfg().insert("Healthcheck".into(), hc);
                self.nop(sh, ins);
                Ok(())
            }
            "ONBUILD" => {
                let inner = dockerfile::parse(&ins.args)
                    .map_err(|e| BuildError::At { line, message: e.message })?
                    .instructions
                    .into_iter()
                    .next()
                    .map(|i| i.original)
                    .unwrap_or_default();
                let list = self.cfg().entry("OnBuild").or_insert_with(|| json!([]));
                if !list.is_array() {
                    *list = json!([]);
                }
                list.as_array_mut().expect("an array").push(json!(inner));
                self.nop(sh, ins);
                Ok(())
            }
            "WORKDIR" => self.workdir(sh, ins),
            "COPY" => self.copy(sh, ins, false),
            "ADD" => self.copy(sh, ins, true),
            other => at(line, format!("{other} cannot be used here")),
        }
    }

    fn arg(&mut self, sh: &mut Shared, ins: &Instruction) -> Result<(), BuildError> {
        let mut names = Vec::new();
        for (name, default) in arg_words(ins, self.escape)? {
            let value = match sh.opts.build_args.get(&name) {
                Some(v) => {
                    sh.consumed.insert(name.clone());
                    Some(v.clone())
                }
                None => match default {
                    Some(d) => Some(self.expand(&d, ins.line)?),
                    None => sh.globals.get(&name).cloned(),
                },
            };
            if !self.env_keys.contains(&name) {
                match &value {
                    Some(v) => self.vars.insert(name.clone(), v.clone()),
                    None => self.vars.remove(&name),
                };
            }
            self.args.insert(name.clone(), value);
            names.push(name);
        }
        self.history(sh, format!("/bin/sh -c #(nop) ARG {}", names.join(" ")), true);
        Ok(())
    }

    /// `ENV`/`LABEL` pairs: `k=v k2="v 2"`, or the old `key value...` form; keys and values expanded.
    fn pairs(&self, ins: &Instruction, what: &str) -> Result<Vec<(String, String)>, BuildError> {
        let words = self.words(ins);
        let line = ins.line;
        if words.first().is_some_and(|w| !w.contains('=')) {
            // `ENV key value with spaces`
            let (key, rest) = ins.args.split_once(char::is_whitespace).unwrap_or((&ins.args, ""));
            if rest.trim().is_empty() && what == "ENV" {
                return at(line, "ENV names a variable but gives it no value (ENV key=value)");
            }
            return Ok(vec![(self.expand(key, line)?, self.expand(rest.trim(), line)?)]);
        }
        let mut out = Vec::new();
        for w in words {
            let Some((k, v)) = w.split_once('=') else {
                return at(line, format!("{what}: {:?} is not KEY=VALUE", excerpt(&w)));
            };
            let key = self.expand(k, line)?;
            if key.is_empty() {
                return at(line, format!("{what}: an empty name"));
            }
            out.push((key, self.expand(v, line)?));
        }
        Ok(out)
    }

    /// The owner named by `spec`, looked up in this stage's `/etc/passwd` and `/etc/group` when needed.
    fn owner(&self, sh: &Shared, spec: &str) -> Result<Owner, BuildError> {
        let (passwd, group) = if users::needs_lookup(spec) {
            (self.snap.tree.read_text(sh.store, "etc/passwd")?, self.snap.tree.read_text(sh.store, "etc/group")?)
        } else {
            (None, None)
        };
        users::resolve(spec, passwd.as_deref(), group.as_deref()).map_err(BuildError::Other)
    }

    fn workdir(&mut self, sh: &mut Shared, ins: &Instruction) -> Result<(), BuildError> {
        let line = ins.line;
        let given = self.expand(&ins.args, line)?;
        let path = if given.starts_with('/') {
            clean(&given)
        } else {
            let current = self.cfg_str("WorkingDir");
            clean(&format!("{}/{given}", if current.is_empty() { "/" } else { &current }))
        };
        self.cfg().insert("WorkingDir".into(), json!(path));
        let key = self.snap.tree.resolve(&path, true).map_err(BuildError::Other)?;
        match self.snap.tree.get(&key) {
            _ if key.is_empty() => {}
            Some(n) if n.is_dir() => {}
            Some(_) => return at(line, format!("WORKDIR {path}: not a directory in the image")),
            None => {
                let user = self.cfg_str("User");
                let owner = if user.is_empty() {
                    Owner::default()
                } else {
                    self.owner(sh, &user).map_err(|e| BuildError::At {
                        line,
                        message: format!("WORKDIR {path}: creating it for USER {user}: {e}"),
                    })?
                };
                let mut pending = Pending::default();
                self.dir_entry(&mut pending, &key, owner, None, &sh.clock);
                self.add_ancestors(&mut pending, owner, &sh.clock)?;
                self.commit_layer(sh, pending)?;
                self.history(sh, format!("/bin/sh -c #(nop) {}", ins.original), false);
                return Ok(());
            }
        }
        self.nop(sh, ins);
        Ok(())
    }

    /// A directory entry at `key`: the existing one's metadata when there is one, else a new one (0755,
    /// owned by `owner`; `mode` overrides).
    fn dir_entry(&self, p: &mut Pending, key: &str, owner: Owner, mode: Option<u32>, clock: &Clock) {
        let e = match self.snap.tree.get(key).filter(|n| n.is_dir()) {
            Some(n) => Entry {
                kind: EntryKind::Dir,
                mode: n.mode,
                uid: n.uid,
                gid: n.gid,
                mtime: clock.mtime(n.mtime),
                size: 0,
            },
            None => Entry {
                kind: EntryKind::Dir,
                mode: mode.unwrap_or(0o755),
                uid: owner.uid,
                gid: owner.gid,
                mtime: clock.secs,
                size: 0,
            },
        };
        p.entries.insert(key.to_owned(), e);
    }

    /// Every parent directory of the entries: existing ones with their metadata, missing ones created.
    fn add_ancestors(&self, p: &mut Pending, owner: Owner, clock: &Clock) -> Result<(), BuildError> {
        let keys: Vec<String> = p.entries.keys().cloned().collect();
        for key in keys {
            for a in ancestors(&key) {
                if p.entries.contains_key(&a) {
                    continue;
                }
                if let Some(n) = self.snap.tree.get(&a)
                    && !n.is_dir()
                {
                    return Err(BuildError::Other(format!("/{a} is not a directory in the image")));
                }
                self.dir_entry(p, &a, owner, None, clock);
            }
        }
        Ok(())
    }

    /// Reads what the layer needs from a source tree, writes it, and applies it to this stage.
    fn commit_layer(&mut self, sh: &mut Shared, mut p: Pending) -> Result<layer::Written, BuildError> {
        let written = layer::write(sh.store, &p.entries)?;
        let blob = written.descriptor.digest.clone();
        for (key, e) in std::mem::take(&mut p.entries) {
            let kind = match &e.kind {
                EntryKind::Dir => Kind::Dir,
                EntryKind::File(_) => Kind::File,
                EntryKind::Symlink(t) => Kind::Symlink(t.clone()),
            };
            let origin =
                if kind == Kind::File { Origin::Layer { blob: blob.clone(), path: key.clone() } } else { Origin::None };
            self.snap
                .tree
                .insert(key, Node { kind, mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime, size: e.size, origin });
        }
        let rootfs = self.snap.config.as_object_mut().expect("an object").entry("rootfs").or_insert_with(|| json!({}));
        if !rootfs.is_object() {
            *rootfs = json!({});
        }
        rootfs["type"] = json!("layers");
        let ids = rootfs.as_object_mut().expect("an object").entry("diff_ids").or_insert_with(|| json!([]));
        if !ids.is_array() {
            *ids = json!([]);
        }
        ids.as_array_mut().expect("an array").push(json!(written.diff_id.to_string()));
        self.snap.layers.push(written.descriptor.clone());
        sh.new_layers.push(written.descriptor.clone());
        Ok(written)
    }

    fn copy(&mut self, sh: &mut Shared, ins: &Instruction, add: bool) -> Result<(), BuildError> {
        let line = ins.line;
        let kw = ins.keyword.as_str();
        let words = match ins.json() {
            Some(list) => list,
            None => self.words(ins),
        };
        let words = words.iter().map(|w| self.expand(w, line)).collect::<Result<Vec<_>, _>>()?;
        let Some((dest_raw, srcs)) = words.split_last().filter(|(_, s)| !s.is_empty()) else {
            return at(line, format!("{kw} requires at least two arguments: sources and a destination"));
        };
        if add && let Some(url) = srcs.iter().find(|s| is_remote(s)) {
            return Err(refuse_url(line, url));
        }
        let flag = |name: &str| -> Result<Option<String>, BuildError> {
            match ins.flag(name) {
                None => Ok(None),
                Some(f) => match &f.value {
                    Some(v) => self.expand(v, line).map(Some),
                    None => at(line, format!("{kw} --{name} needs a value")),
                },
            }
        };
        let owner = match flag("chown")? {
            Some(spec) => Some(self.owner(sh, &spec)?),
            None => None,
        };
        let chmod = match flag("chmod")? {
            Some(m) => {
                Some(parse_mode(&m).map_err(|e| BuildError::At { line, message: format!("{kw} --chmod: {e}") })?)
            }
            None => None,
        };
        let from = match flag("from")? {
            None => From::Context,
            Some(f) => match stage_ref(&sh.plan.stages, &f).filter(|&i| i < self.plan.index) {
                Some(i) => From::Image(
                    sh_done_snapshot(sh, i).ok_or_else(|| BuildError::Other(format!("stage {f:?} was not built")))?,
                ),
                None => From::Image(image_snapshot(sh, &f, &self.platform)?),
            },
        };
        // The sources, each wildcard expanded.
        let mut sources = Vec::new();
        for src in srcs {
            match &from {
                From::Context => sources.extend(sh.context.sources(src)?.into_iter().map(Source::Ctx)),
                From::Image(snap) => sources.extend(tree_sources(&snap.tree, src)?),
            }
        }
        let ends_slash = dest_raw.ends_with('/') || dest_raw == "." || dest_raw.ends_with("/.");
        let dest_path = if dest_raw.starts_with('/') {
            dest_raw.clone()
        } else {
            let wd = self.cfg_str("WorkingDir");
            format!("{}/{dest_raw}", if wd.is_empty() { "/" } else { &wd })
        };
        let mut dest = self.snap.tree.resolve(&dest_path, false).map_err(BuildError::Other)?;
        let dest_exists_dir = self
            .snap
            .tree
            .resolve(&dest_path, true)
            .ok()
            .is_some_and(|k| k.is_empty() || self.snap.tree.get(&k).is_some_and(Node::is_dir));
        if sources.len() > 1 && !ends_slash && !dest_exists_dir {
            return at(
                line,
                format!("{kw}: with more than one source file, the destination must be a directory and end with a /"),
            );
        }
        let dest_is_dir = ends_slash || dest_exists_dir || sources.len() > 1;
        if dest_is_dir {
            dest = self.snap.tree.resolve(&dest_path, true).map_err(BuildError::Other)?;
        }
        let own = owner.unwrap_or_default();
        let clock = sh.clock.clone();
        let join = |base: &str, rel: &str| -> String {
            match (base.is_empty(), rel.is_empty()) {
                (true, _) => rel.to_owned(),
                (false, true) => base.to_owned(),
                (false, false) => format!("{base}/{rel}"),
            }
        };
        let mut p = Pending::default();
        for s in &sources {
            if s.is_dir() {
                if !dest.is_empty() {
                    self.dir_entry(&mut p, &dest, own, None, &clock);
                }
                match s {
                    Source::Ctx(item) => {
                        for it in sh.context.walk(&item.rel)? {
                            let rel = it.rel.strip_prefix(&item.rel).unwrap_or(&it.rel).trim_start_matches('/');
                            let target = join(&dest, rel);
                            p.entries.insert(target, ctx_entry(sh.context, &it, own, chmod, &clock));
                        }
                    }
                    Source::Tree { key, .. } => {
                        let snap = match &from {
                            From::Image(s) => s,
                            From::Context => unreachable!("tree sources come from an image"),
                        };
                        for (k, node) in snap.tree.under(key) {
                            let rel = k.strip_prefix(key.as_str()).unwrap_or(k).trim_start_matches('/');
                            let target = join(&dest, rel);
                            if let Some(e) = tree_entry(node, own, chmod, &clock) {
                                if matches!(e.kind, EntryKind::File(_)) {
                                    p.from_tree.push((target.clone(), k.clone()));
                                }
                                p.entries.insert(target, e);
                            }
                        }
                    }
                }
                continue;
            }
            let target = if dest_is_dir { join(&dest, &s.base_name()) } else { dest.clone() };
            if target.is_empty() {
                return at(line, format!("{kw}: cannot copy a file onto /"));
            }
            match s {
                Source::Ctx(item) => {
                    if add && item.kind == ItemKind::File && is_archive(&sh.context.host(&item.rel))? {
                        self.extract(&mut p, sh, item, &dest, own, chmod)?;
                        continue;
                    }
                    p.entries.insert(target, ctx_entry(sh.context, item, own, chmod, &clock));
                }
                Source::Tree { key, node } => {
                    if let Some(e) = tree_entry(node, own, chmod, &clock) {
                        if matches!(e.kind, EntryKind::File(_)) {
                            p.from_tree.push((target.clone(), key.clone()));
                        }
                        p.entries.insert(target, e);
                    }
                }
            }
        }
        // File bytes out of the source image.
        // File bytes out of the source image, through a spool on disk (never all in memory).
        if let From::Image(snap) = &from
            && !p.from_tree.is_empty()
        {
            let keys: Vec<String> = p.from_tree.iter().map(|(_, k)| k.clone()).collect();
            let mut spool = spool(sh)?;
            let got = snap.tree.read_spooled(sh.store, &keys, &mut spool)?;
            for (target, key) in std::mem::take(&mut p.from_tree) {
                if let (Some(e), Some((content, size))) = (p.entries.get_mut(&target), got.get(&key)) {
                    e.size = *size;
                    e.kind = EntryKind::File(content.clone());
                }
            }
        }
        // A path that exists as a directory cannot become a file, and the other way round.
        for (key, e) in &p.entries {
            if let Some(n) = self.snap.tree.get(key)
                && n.is_dir() != matches!(e.kind, EntryKind::Dir)
                && !matches!(n.kind, Kind::Symlink(_))
            {
                return at(line, format!("{kw}: cannot replace /{key}: one is a directory, the other is not"));
            }
        }
        self.add_ancestors(&mut p, own, &clock)?;
        let written = self.commit_layer(sh, p)?;
        let what = match sources.as_slice() {
            [one] if one.is_dir() => "dir",
            [_] => "file",
            _ => "multi",
        };
        self.history(sh, format!("/bin/sh -c #(nop) {kw} {what}:{} in {dest_raw} ", written.diff_id.hex()), false);
        Ok(())
    }

    /// `ADD archive dest`: the archive's entries under `dest`, owned by 0:0 or `--chown` (as podman does). The
    /// files' bytes go through a spool on disk, decompressed with the bomb guard `load` uses, so memory stays
    /// flat whatever their size. What a layer cannot hold (devices, FIFOs, hard links to what the archive
    /// did not give before them) is left out with a warning naming it.
    fn extract(
        &self,
        p: &mut Pending,
        sh: &Shared,
        item: &Item,
        dest: &str,
        own: Owner,
        chmod: Option<u32>,
    ) -> Result<(), BuildError> {
        let path = sh.context.host(&item.rel);
        let fail = |e: &dyn std::fmt::Display| BuildError::Other(format!("unpacking {}: {e}", item.rel));
        let file = std::fs::File::open(&path).map_err(|e| fail(&e))?;
        let mut spool = spool(sh)?;
        // What `load` allows a spooled stream: the spool's free space less a reserve (the bomb rule).
        let budget = compression::Budget::free_space(&sh.store.temp_dir()).map_err(|e| fail(&e))?;
        let reader = compression::decompress_file(file, &item.rel, budget, Formats::Archives).map_err(|e| fail(&e))?;
        let mut ar = tar::Archive::new(reader);
        let clock = &sh.clock;
        let mut files: HashMap<String, (Content, u64)> = HashMap::new();
        let mut left_out = LeftOut::default();
        let join = |rel: &str| if dest.is_empty() { rel.to_owned() } else { format!("{dest}/{rel}") };
        if !dest.is_empty() {
            self.dir_entry(p, dest, own, None, clock);
        }
        for (n, entry) in ar.entries().map_err(|e| fail(&e))?.enumerate() {
            if n == crate::archive::files::MAX_ENTRIES {
                return Err(fail(&format!("more than {} entries", crate::archive::files::MAX_ENTRIES)));
            }
            let mut entry = entry.map_err(|e| fail(&e))?;
            let raw = entry.path().map_err(|e| fail(&e))?.to_string_lossy().into_owned();
            let h = entry.header().clone();
            let mode = h.mode().unwrap_or(0o644) & 0o7777;
            let mtime = clock.mtime(h.mtime().unwrap_or(0));
            let Some(key) = tree::entry_key(&raw) else {
                // The archive's root: the destination directory's mode and mtime, when it is new.
                if h.entry_type() == tar::EntryType::Directory
                    && let Some(e) = p.entries.get_mut(dest)
                    && self.snap.tree.get(dest).is_none()
                {
                    e.mode = chmod.unwrap_or(mode);
                    e.mtime = mtime;
                }
                continue;
            };
            let target = join(&key);
            let base =
                Entry { kind: EntryKind::Dir, mode: chmod.unwrap_or(mode), uid: own.uid, gid: own.gid, mtime, size: 0 };
            let e = match h.entry_type() {
                tar::EntryType::Directory => base,
                tar::EntryType::Symlink => {
                    let t = entry.link_name().map_err(|e| fail(&e))?.map(|l| l.to_string_lossy().into_owned());
                    Entry { kind: EntryKind::Symlink(t.unwrap_or_default()), mode: 0o777, ..base }
                }
                tar::EntryType::Link => {
                    let t = entry.link_name().map_err(|e| fail(&e))?.map(|l| l.to_string_lossy().into_owned());
                    let t = t.unwrap_or_default();
                    let Some((content, size)) = tree::entry_key(&t).and_then(|k| files.get(&k).cloned()) else {
                        left_out
                            .add(format!("{raw} (a hard link to {t}, which is not a file before it in the archive)"));
                        continue;
                    };
                    Entry { kind: EntryKind::File(content), size, ..base }
                }
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let (content, size) = spool.append(&mut entry).map_err(|e| fail(&e))?;
                    files.insert(key.clone(), (content.clone(), size));
                    Entry { kind: EntryKind::File(content), size, ..base }
                }
                other => {
                    let what = match other {
                        tar::EntryType::Char => "a character device".to_owned(),
                        tar::EntryType::Block => "a block device".to_owned(),
                        tar::EntryType::Fifo => "a FIFO".to_owned(),
                        o => format!("tar entry type {:?}", o.as_byte() as char),
                    };
                    left_out.add(format!("{raw} ({what})"));
                    continue;
                }
            };
            p.entries.insert(target, e);
        }
        left_out.warn(sh.progress, &item.rel);
        Ok(())
    }
}

/// The entries of an archive `ADD` leaves out: the first few by name, then how many more.
#[derive(Default)]
struct LeftOut {
    named: Vec<String>,
    more: usize,
}

impl LeftOut {
    const NAMED: usize = 10;

    fn add(&mut self, what: String) {
        if self.named.len() < Self::NAMED {
            self.named.push(what);
        } else {
            self.more += 1;
        }
    }

    fn warn(&self, progress: &dyn Progress, archive: &str) {
        for what in &self.named {
            progress.warning(&format!(
                "ADD {}: left out {} (a layer of hoist build holds files, directories and symlinks)",
                excerpt(archive),
                excerpt(what)
            ));
        }
        if self.more > 0 {
            progress.warning(&format!("ADD {}: left out {} more entries", excerpt(archive), self.more));
        }
    }
}

/// A spool for file bytes, in the store's temp directory (same filesystem as its blobs).
fn spool(sh: &Shared) -> Result<Spool, BuildError> {
    let dir = sh.store.temp_dir();
    Spool::new(&dir).map_err(|e| BuildError::Other(format!("{}: {e}", dir.display())))
}

fn sh_done_snapshot(sh: &Shared, i: usize) -> Option<Snapshot> {
    sh.done.get(i).cloned().flatten()
}

/// The filesystem of image `name` for `COPY --from=name`, fetched once per build and platform.
fn image_snapshot(sh: &mut Shared, name: &str, platform: &Platform) -> Result<Snapshot, BuildError> {
    if let Some(s) = sh.images.get(name) {
        return Ok(s.clone());
    }
    let base = sh.bases.base(name, platform).map_err(|m| BuildError::Other(format!("--from={name}: {m}")))?;
    let snap = load_image(sh.store, &base, platform, sh.progress)?;
    sh.images.insert(name.to_owned(), snap.clone());
    Ok(snap)
}

/// The sources `src` names in an image's filesystem (wildcards matched against its paths).
fn tree_sources(t: &Tree, src: &str) -> Result<Vec<Source>, BuildError> {
    let key = clean(&format!("/{src}")).trim_start_matches('/').to_owned();
    if !has_wildcard(&key) {
        let resolved = t.resolve(&key, true).map_err(BuildError::Other)?;
        if resolved.is_empty() {
            return Ok(vec![Source::Tree {
                key: String::new(),
                node: Node { kind: Kind::Dir, mode: 0o755, uid: 0, gid: 0, mtime: 0, size: 0, origin: Origin::None },
            }]);
        }
        return match t.get(&resolved) {
            Some(n) => Ok(vec![Source::Tree { key: resolved, node: n.clone() }]),
            None => Err(BuildError::Other(format!("{src}: no such file or directory in the source image"))),
        };
    }
    let pattern = Pattern::new(&key, false, Slashes::Stop).map_err(|e| BuildError::Other(e.to_string()))?;
    let depth = key.split('/').count();
    let mut out = Vec::new();
    for k in t.keys() {
        if k.split('/').count() == depth && pattern.matches(k) {
            let resolved = t.resolve(k, true).map_err(BuildError::Other)?;
            if let Some(n) = t.get(&resolved) {
                out.push(Source::Tree { key: resolved, node: n.clone() });
            }
        }
    }
    if out.is_empty() {
        return Err(BuildError::Other(format!("{src}: no source files were specified (nothing matches)")));
    }
    Ok(out)
}

fn ctx_entry(ctx: &Context, it: &Item, own: Owner, chmod: Option<u32>, clock: &Clock) -> Entry {
    let (kind, mode, size) = match &it.kind {
        ItemKind::Dir => (EntryKind::Dir, chmod.unwrap_or(it.mode), 0),
        ItemKind::File => (EntryKind::File(Content::Host(ctx.host(&it.rel))), chmod.unwrap_or(it.mode), it.size),
        ItemKind::Symlink(t) => (EntryKind::Symlink(t.clone()), 0o777, 0),
    };
    Entry { kind, mode, uid: own.uid, gid: own.gid, mtime: clock.mtime(it.mtime), size }
}

/// The entry for a node of a source image (its bytes are filled in later); `None` for devices and FIFOs.
fn tree_entry(n: &Node, own: Owner, chmod: Option<u32>, clock: &Clock) -> Option<Entry> {
    let (kind, mode) = match &n.kind {
        Kind::Dir => (EntryKind::Dir, chmod.unwrap_or(n.mode)),
        Kind::File => (EntryKind::File(Content::Bytes(Arc::new(Vec::new()))), chmod.unwrap_or(n.mode)),
        Kind::Symlink(t) => (EntryKind::Symlink(t.clone()), 0o777),
        Kind::Special => return None,
    };
    Some(Entry { kind, mode, uid: own.uid, gid: own.gid, mtime: clock.mtime(n.mtime), size: n.size })
}

/// Sets `key=value` in the config's `Env`; returns the length of the value it replaced, if any.
fn set_env(c: &mut Map<String, Value>, key: &str, value: &str) -> Option<usize> {
    let env = c.entry("Env").or_insert_with(|| json!([]));
    if !env.is_array() {
        *env = json!([]);
    }
    let list = env.as_array_mut().expect("an array");
    let entry = json!(format!("{key}={value}"));
    match list.iter().position(|e| e.as_str().and_then(|s| s.split_once('=')).is_some_and(|(k, _)| k == key)) {
        Some(i) => {
            let old = list[i].as_str().map_or(0, |s| s.len() - key.len() - 1);
            list[i] = entry;
            Some(old)
        }
        None => {
            list.push(entry);
            None
        }
    }
}

/// `80`, `80/tcp`, `8000-8002/udp` → `80/tcp`, `8000/udp`, `8001/udp`, `8002/udp`.
fn exposed(spec: &str) -> Result<Vec<String>, String> {
    let (ports, proto) = match spec.split_once('/') {
        Some((p, proto)) => (p, proto.to_ascii_lowercase()),
        None => (spec, "tcp".to_owned()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid protocol in {spec:?}"));
    }
    let port = |s: &str| s.parse::<u16>().map_err(|_| format!("invalid port {spec:?}"));
    let (lo, hi) = match ports.split_once('-') {
        Some((a, b)) => (port(a)?, port(b)?),
        None => (port(ports)?, port(ports)?),
    };
    if hi < lo {
        return Err(format!("invalid port range {spec:?}"));
    }
    Ok((lo..=hi).map(|p| format!("{p}/{proto}")).collect())
}

/// An octal mode (`0644`, `755`).
fn parse_mode(s: &str) -> Result<u32, String> {
    if s.is_empty() || s.len() > 5 || !s.chars().all(|c| ('0'..='7').contains(&c)) {
        return Err(format!("{s:?}: only octal modes (such as 0644) are supported"));
    }
    let m = u32::from_str_radix(s, 8).map_err(|e| e.to_string())?;
    if m > 0o7777 {
        return Err(format!("{s:?}: more than 07777"));
    }
    Ok(m)
}

/// A Go duration (`30s`, `1m30s`, `500ms`) in nanoseconds.
fn go_duration(s: &str) -> Result<i64, String> {
    if s == "0" {
        return Ok(0);
    }
    let mut total: f64 = 0.0;
    let mut rest = s;
    if rest.is_empty() {
        return Err("an empty duration".to_owned());
    }
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let num: f64 = rest[..num_len].parse().map_err(|_| format!("invalid duration {s:?}"))?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(format!("invalid duration {s:?} (a unit is ns, us, ms, s, m or h)")),
        };
        rest = &rest[unit_len..];
        total += num * scale;
    }
    Ok(total as i64)
}

/// `HEALTHCHECK [--interval=D ...] CMD ...` or `HEALTHCHECK NONE`, as docker records it.
fn healthcheck(ins: &Instruction) -> Result<Value, String> {
    let args = ins.args.trim();
    if args.eq_ignore_ascii_case("NONE") {
        if !ins.flags.is_empty() {
            return Err("NONE takes no options".to_owned());
        }
        return Ok(json!({"Test": ["NONE"]}));
    }
    let (word, rest) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
    if !word.eq_ignore_ascii_case("CMD") {
        return Err("expected CMD or NONE".to_owned());
    }
    let rest = rest.trim();
    let test = match dockerfile::json_array(rest) {
        Some(list) => std::iter::once("CMD".to_owned()).chain(list).collect::<Vec<_>>(),
        None => vec!["CMD-SHELL".to_owned(), rest.to_owned()],
    };
    let mut hc = json!({"Test": test});
    for (flag, key) in [
        ("interval", "Interval"),
        ("timeout", "Timeout"),
        ("start-period", "StartPeriod"),
        ("start-interval", "StartInterval"),
    ] {
        if let Some(v) = ins.flag(flag).and_then(|f| f.value.as_deref()) {
            let d = go_duration(v)?;
            if d != 0 {
                hc[key] = json!(d);
            }
        }
    }
    if let Some(v) = ins.flag("retries").and_then(|f| f.value.as_deref()) {
        let n: i64 = v.parse().map_err(|_| format!("--retries: {v:?} is not a number"))?;
        if n < 0 {
            return Err("--retries cannot be negative".to_owned());
        }
        if n != 0 {
            hc["Retries"] = json!(n);
        }
    }
    Ok(hc)
}

/// True when the file's bytes (decompressed if gzip, bzip2, xz or zstd) start with a tar header.
fn is_archive(path: &std::path::Path) -> Result<bool, BuildError> {
    let file = std::fs::File::open(path).map_err(|e| BuildError::Other(format!("{}: {e}", path.display())))?;
    // Only the first block is read: no budget smaller than the default applies.
    let budget = compression::Budget::default();
    let mut r = match compression::decompress_file(file, &path.display().to_string(), budget, Formats::Archives) {
        Ok(r) => r,
        Err(e) => {
            return match e.get_ref().and_then(|i| i.downcast_ref::<compression::XzTooLarge>()) {
                Some(refusal) => Err(BuildError::Other(refusal.to_string())),
                None => Ok(false),
            };
        }
    };
    let mut block = [0u8; 512];
    let mut got = 0;
    while got < 512 {
        match r.read(&mut block[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(_) => return Ok(false),
        }
    }
    Ok(got == 512 && looks_like_tar(&block))
}

/// A tar header block: its checksum is right (ustar, GNU and v7 headers alike) and it names something.
fn looks_like_tar(b: &[u8; 512]) -> bool {
    if b[0] == 0 {
        return false;
    }
    let field = String::from_utf8_lossy(&b[148..156]);
    let Ok(want) = u32::from_str_radix(field.trim_matches(|c: char| c == '\0' || c == ' '), 8) else { return false };
    let sum: u32 = b.iter().enumerate().map(|(i, &x)| if (148..156).contains(&i) { 32 } else { x as u32 }).sum();
    sum == want
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_parsers() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000, 5_000), "2023-11-14T22:13:20.000005Z");
        assert_eq!(rfc3339(951_782_400, 0), "2000-02-29T00:00:00Z");
        assert_eq!(exposed("80").unwrap(), ["80/tcp"]);
        assert_eq!(exposed("53/UDP").unwrap(), ["53/udp"]);
        assert_eq!(exposed("8000-8002/tcp").unwrap(), ["8000/tcp", "8001/tcp", "8002/tcp"]);
        assert_eq!(exposed("80/xyz").unwrap_err(), "invalid protocol in \"80/xyz\"");
        assert_eq!(exposed("x").unwrap_err(), "invalid port \"x\"");
        assert_eq!(exposed("9-1").unwrap_err(), "invalid port range \"9-1\"");
        assert_eq!(parse_mode("0640"), Ok(0o640));
        assert_eq!(parse_mode("755"), Ok(0o755));
        for bad in ["u+x", "8", ""] {
            assert_eq!(parse_mode(bad).unwrap_err(), format!("{bad:?}: only octal modes (such as 0644) are supported"));
        }
        assert_eq!(parse_mode("17777").unwrap_err(), "\"17777\": more than 07777");
        assert_eq!(go_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(go_duration("500ms"), Ok(500_000_000));
        assert_eq!(go_duration("5").unwrap_err(), "invalid duration \"5\" (a unit is ns, us, ms, s, m or h)");
        assert_eq!(go_duration("").unwrap_err(), "an empty duration");
        assert_eq!(go_duration("x1s").unwrap_err(), "invalid duration \"x1s\"");
        let mut block = [0u8; 512];
        assert!(!looks_like_tar(&block));
        let mut h = tar::Header::new_ustar();
        h.set_path("a").unwrap();
        h.set_size(0);
        h.set_cksum();
        block.copy_from_slice(h.as_bytes());
        assert!(looks_like_tar(&block));
        block[0] = b'b';
        assert!(!looks_like_tar(&block), "a wrong checksum is not a tar");
    }

    #[test]
    fn healthchecks_as_docker_records_them() {
        let df = dockerfile::parse(
            "FROM x\nHEALTHCHECK --interval=5s --retries=3 CMD curl -f http://localhost/ || exit 1\n\
             HEALTHCHECK CMD [\"/bin/check\", \"-q\"]\nHEALTHCHECK NONE\n",
        )
        .unwrap();
        let hc: Vec<Value> = df.instructions[1..].iter().map(|i| healthcheck(i).unwrap()).collect();
        assert_eq!(
            hc[0],
            json!({"Test": ["CMD-SHELL", "curl -f http://localhost/ || exit 1"], "Interval": 5_000_000_000i64, "Retries": 3})
        );
        assert_eq!(hc[1], json!({"Test": ["CMD", "/bin/check", "-q"]}));
        assert_eq!(hc[2], json!({"Test": ["NONE"]}));
    }
}
