//! What each instruction does to the image being built, as podman 4.3 (buildah) does it, with the
//! differences docs/commands/build.md lists:
//!
//! - config-only instructions (`ENV`, `LABEL`, `USER`, `EXPOSE`, `VOLUME`, `CMD`, `ENTRYPOINT`, ...) change
//!   the config (`config`) and add a history entry with `empty_layer`; `ENTRYPOINT` resets a `CMD`
//!   inherited from the base; shell forms are wrapped in the `SHELL` (default `/bin/sh -c`); a base with no
//!   `PATH` gets podman's default;
//! - `COPY` and `ADD` add one layer (`copy`; `unpack` for the archives `ADD` unpacks);
//! - `WORKDIR` adds a layer, as BuildKit: the directory it creates (0755, owned by the current `USER`), or
//!   an empty layer when it exists; `WORKDIR /` none.
//!
//! [`run`] builds the planned stages for every platform; a [`Stage`] runs one stage's instructions, each
//! dispatched once by its [`Keyword`].
//!
//! What it is not: parsing (`dockerfile`), the arguments' small grammars (`args`) or writing bytes
//! (`layer`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;

use super::args::{self, arg_words};
use super::config::{Config, ContainerConfig, History};
use super::context::Context;
use super::copy::LayerDraft;
use super::dockerfile::{self, Instruction, Keyword};
use super::glob::clean;
use super::refusal::Refusal;
use super::shell::{self, Vars, Work};
use super::state::{self, Clock, ImageState, MAX_CONFIGS_KEPT};
use super::users::{self, Owner};
use super::{Bases, BuildError, BuildFormat, BuildOptions, Built, Plan, StagePlan, at, excerpt, refuse_run, stage_ref};
use crate::digest::Digest;
use crate::image::convert::{self, ManifestFormat};
use crate::image::{Descriptor, Index, MAX_CONFIG_SIZE, Platform, media_type};
use crate::observe::Observer;
use crate::store::Store;
use crate::transport::RawManifest;

/// What every stage of one build shares.
pub(super) struct Build<'a> {
    pub store: &'a Store,
    pub plan: &'a Plan,
    pub context: &'a Context,
    pub opts: &'a BuildOptions,
    pub bases: &'a mut dyn Bases,
    /// Where steps (`STEP 2/4: COPY . /app`, as podman words them) and warnings go.
    pub progress: &'a dyn Observer,
    pub clock: Clock,
    /// Global ARGs (before the first FROM) and the automatic platform ARGs, with values.
    globals: Vars,
    consumed: BTreeSet<String>,
    /// Images read for `COPY --from=IMAGE`, by name (shared with the `COPY`s reading them, never cloned).
    pub images: HashMap<String, Rc<ImageState>>,
    /// The current stage's step (1 for its `FROM`) and how many it has, as podman numbers them.
    step: usize,
    total: usize,
    /// What podman writes before each step line: `[linux/arm64] ` when building several platforms, `[2/3] `
    /// (the stage's position among the stages up to the target) when there are several.
    prefix: String,
    pub new_layers: Vec<Descriptor>,
    /// The stages built so far for this platform (shared with `COPY --from=STAGE`, never cloned for it).
    pub done: Vec<Option<Rc<ImageState>>>,
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
    opts: &BuildOptions,
    bases: &mut dyn Bases,
    progress: &dyn Observer,
) -> Result<Built, BuildError> {
    let mut build = Build {
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
        total: 0,
        prefix: String::new(),
        new_layers: Vec::new(),
        done: Vec::new(),
        work: Rc::new(Work::default()),
        kept: 0,
    };
    let mut images = Vec::new();
    let mut base_name = None;
    for platform in &opts.platforms {
        build.globals = global_args(plan, opts, platform, &mut build.consumed, &build.work)?;
        build.images.clear();
        build.done = vec![None; plan.stages.len()];
        build.kept = 0;
        for &i in &plan.needed {
            build.prefix = step_prefix(plan, i, opts.platforms.len(), platform);
            let image = run_stage(&mut build, &plan.stages[i], platform)?;
            build.kept += image.config_len;
            if build.kept > MAX_CONFIGS_KEPT {
                return at(plan.stages[i].from.line, Refusal::ConfigsKeptTooLarge { kept: build.kept });
            }
            build.done[i] = Some(Rc::new(image));
        }
        let last = build.done[plan.target].take().expect("the target was built");
        base_name = last.base.as_ref().map(|(n, _)| n.clone());
        images.push(state::write_image(store, &last, platform, &build.clock, opts.format, build.progress)?);
    }
    let unused: Vec<&String> = opts.build_args.keys().filter(|k| !build.consumed.contains(*k)).collect();
    if !unused.is_empty() {
        let list: Vec<&str> = unused.iter().map(|s| s.as_str()).collect();
        progress.warning(&format!("one or more build args were not consumed: [{}]", list.join(" ")));
    }
    let mut new_layers = std::mem::take(&mut build.new_layers);
    if opts.format == BuildFormat::Docker {
        // The layers hoist makes are gzip'd tars: Docker's media type for them.
        for l in new_layers.iter_mut().filter(|l| l.media_type == media_type::OCI_LAYER_GZIP) {
            l.media_type = media_type::DOCKER_LAYER_GZIP.to_owned();
        }
    }
    if images.len() == 1 {
        let (manifest, config, _) = images.pop().expect("one image");
        let commit_prefix = step_prefix(plan, plan.target, 1, &opts.platforms[0]);
        return Ok(Built { manifest, id: config, new_layers, base_name, commit_prefix });
    }
    let index = Index {
        schema_version: 2,
        media_type: Some(media_type::OCI_INDEX.to_owned()),
        manifests: images.iter().map(|(m, _, p)| Descriptor { platform: Some(p.clone()), ..m.descriptor() }).collect(),
        subject: None,
        annotations: None,
    };
    let raw = RawManifest::new(serde_json::to_vec(&index).expect("an index is JSON"), media_type::OCI_INDEX);
    let raw = match opts.format {
        BuildFormat::Oci | BuildFormat::OciAsPodman => raw,
        // A manifest list over the Docker manifests written above.
        BuildFormat::Docker => {
            let none = HashMap::new();
            convert::convert_index(&raw, &index, ManifestFormat::DockerV2Schema2, &none)
                .map_err(BuildError::DockerFormat)?
                .0
        }
    };
    let digest: Digest = store.put_blob(&raw.raw)?;
    let commit_prefix = step_prefix(plan, plan.target, 1, &opts.platforms[0]);
    Ok(Built { manifest: raw, id: digest, new_layers, base_name, commit_prefix })
}

/// The values of the ARGs before the first FROM (build args override defaults), plus the automatic platform
/// ARGs (`TARGETPLATFORM`, `TARGETOS`, `TARGETARCH`, `TARGETVARIANT`, `BUILDPLATFORM`, `BUILDOS`, ...).
fn global_args(
    plan: &Plan,
    opts: &BuildOptions,
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
                    Some(d) => Some(shell::expand_in(&d, &vars, plan.escape, work).map_err(|source| {
                        BuildError::At { line: ins.line, refusal: Refusal::ArgDefault { name: name.clone(), source } }
                    })?),
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

/// One stage being built.
pub(super) struct Stage<'p> {
    pub image: ImageState,
    pub platform: Platform,
    pub escape: char,
    /// ARGs declared in this stage: name → value (`None`: declared without one).
    args: BTreeMap<String, Option<String>>,
    /// A CMD was given in this stage (so ENTRYPOINT keeps it).
    cmd_set: bool,
    pub plan: &'p StagePlan,
    /// What substitution sees: the ARGs, then the config's `Env` over them; kept up to date by `ARG` and
    /// `ENV` rather than made again for every word.
    vars: Vars,
    /// The names the config's `Env` sets.
    env_keys: BTreeSet<String>,
    work: Rc<Work>,
}

/// Tells that the build's current step starts, as podman does: `STEP 2/4: COPY . /app`, numbered within
/// its stage, after the stage's [`step_prefix`] (`[1/2] STEP 2/2: COPY . /app`).
fn step(build: &Build, instruction: &str) {
    build.progress.progress(&format!("{}STEP {}/{}: {instruction}", build.prefix, build.step, build.total));
}

/// podman's prefix for the lines of stage `stage` built for `platform`, one of `platforms`: `[os/arch] `
/// when there are several platforms, then `[N/M] ` when the Dockerfile has several stages up to the target
/// (N the stage's position, M the target's; stages the target does not need are skipped, not renumbered).
fn step_prefix(plan: &Plan, stage: usize, platforms: usize, platform: &Platform) -> String {
    let mut prefix = String::new();
    if platforms > 1 {
        prefix.push_str(&format!("[{platform}] "));
    }
    if plan.target > 0 {
        prefix.push_str(&format!("[{}/{}] ", stage + 1, plan.target + 1));
    }
    prefix
}

fn run_stage(build: &mut Build, sp: &StagePlan, target_platform: &Platform) -> Result<ImageState, BuildError> {
    build.step = 1;
    build.total = 1 + sp.instructions.len();
    step(&*build, &sp.from.original);
    let line = sp.from.line;
    let expand_global = |s: &str| {
        shell::expand_in(s, &build.globals, build.plan.escape, &build.work)
            .map_err(|e| BuildError::At { line, refusal: Refusal::FromExpand(e) })
    };
    let platform = match sp.from.flag("platform").and_then(|f| f.value.as_deref()) {
        Some(p) => {
            Platform::parse(&expand_global(p)?).map_err(|e| BuildError::At { line, refusal: Refusal::Platform(e) })?
        }
        None => target_platform.clone(),
    };
    let base = expand_global(&sp.base)?;
    if base.is_empty() {
        return at(line, Refusal::EmptyBase);
    }
    let mut image = if base.eq_ignore_ascii_case("scratch") {
        state::scratch(&platform)
    } else if let Some(i) = stage_ref(&build.plan.stages, &base).filter(|&i| i < sp.index) {
        build.done[i]
            .as_deref()
            .cloned()
            .ok_or_else(|| BuildError::At { line, refusal: Refusal::StageNotBuilt { stage: base.clone() } })?
    } else {
        let found = build.bases.base(&base, &platform).map_err(|source| BuildError::Base {
            line,
            name: base.clone(),
            source,
        })?;
        state::load_image(build.store, &found, &platform, build.progress).map_err(|e| e.at(line, Keyword::From))?
    };
    image.config.set_default_path();
    let mut stage = Stage {
        image,
        platform,
        escape: build.plan.escape,
        args: BTreeMap::new(),
        cmd_set: false,
        plan: sp,
        vars: Vars::new(),
        env_keys: BTreeSet::new(),
        work: build.work.clone(),
    };
    for e in stage.image.config.env() {
        if let Some((k, v)) = e.split_once('=') {
            stage.vars.insert(k.to_owned(), v.to_owned());
            stage.env_keys.insert(k.to_owned());
        }
    }
    // The base's ONBUILD triggers run first, then are dropped.
    let triggers = stage.image.config.take_triggers();
    if triggers.len() > dockerfile::MAX_INSTRUCTIONS {
        return at(line, Refusal::TooManyTriggers { max: dockerfile::MAX_INSTRUCTIONS });
    }
    for t in triggers {
        let parsed = dockerfile::parse(&t).map_err(|e| BuildError::At {
            line,
            refusal: Refusal::Trigger { trigger: t.clone(), message: e.message },
        })?;
        for mut ins in parsed.instructions {
            ins.line = line;
            if ins.keyword == Keyword::Run {
                return Err(refuse_run(&ins));
            }
            stage.exec(build, &ins)?;
        }
    }
    for ins in &sp.instructions {
        build.step += 1;
        step(&*build, &ins.original);
        stage.exec(build, ins).map_err(|e| e.at(ins.line, ins.keyword))?;
    }
    Ok(stage.image)
}

impl<'p> Stage<'p> {
    /// The container config, to change.
    fn container(&mut self) -> &mut ContainerConfig {
        self.image.config.container()
    }

    pub fn config(&self) -> &Config {
        &self.image.config
    }

    pub fn expand(&self, word: &str, line: usize) -> Result<String, BuildError> {
        shell::expand_in(word, &self.vars, self.escape, &self.work)
            .map_err(|e| BuildError::At { line, refusal: Refusal::Expand(e) })
    }

    /// The words of the shell form, each expanded into fields (`EXPOSE`, `VOLUME`).
    fn fields(&self, ins: &Instruction) -> Result<Vec<String>, BuildError> {
        shell::expand_fields(&self.words(ins), &self.vars, self.escape, &self.work)
            .map_err(|e| BuildError::At { line: ins.line, refusal: Refusal::Expand(e) })
    }

    /// Counts `added` bytes more in the config (fewer when negative); fails past [`MAX_CONFIG_SIZE`].
    fn grow(&mut self, line: usize, added: isize) -> Result<(), BuildError> {
        self.image.config_len = self.image.config_len.saturating_add_signed(added);
        if self.image.config_len > MAX_CONFIG_SIZE {
            return at(line, Refusal::ConfigWouldPass { size: self.image.config_len });
        }
        Ok(())
    }

    pub fn words(&self, ins: &Instruction) -> Vec<String> {
        shell::split_words(&ins.args, self.escape)
    }

    pub fn history(&mut self, build: &Build, created_by: String, empty_layer: bool) {
        // Bounded by the Dockerfile's size: not checked here (the final config is).
        self.image.config_len += created_by.len() + 80;
        self.image.config.push_history(History { created: build.clock.created.clone(), created_by, empty_layer });
    }

    fn nop(&mut self, build: &Build, ins: &Instruction) {
        self.history(build, format!("/bin/sh -c #(nop) {}", ins.original), true);
    }

    /// The arguments as a command: the JSON form as is, the shell form in the shell.
    fn command(&self, ins: &Instruction) -> Vec<String> {
        match ins.json() {
            Some(list) => list,
            None => {
                let mut c = self.config().shell();
                c.push(ins.args.clone());
                c
            }
        }
    }

    /// Runs one instruction.
    fn exec(&mut self, build: &mut Build, ins: &Instruction) -> Result<(), BuildError> {
        match ins.keyword {
            Keyword::Run => return Err(refuse_run(ins)),
            Keyword::From => return at(ins.line, Refusal::FromHere),
            Keyword::Arg => return self.arg(build, ins),
            Keyword::Workdir => return self.workdir(build, ins),
            Keyword::Copy => return self.copy(build, ins, false),
            Keyword::Add => return self.copy(build, ins, true),
            Keyword::Env => self.env(ins)?,
            Keyword::Label => self.label(ins)?,
            Keyword::Maintainer => self.image.config.author.set(ins.args.clone()),
            Keyword::User => self.user(ins)?,
            Keyword::Expose => self.expose(ins)?,
            Keyword::Volume => self.volume(ins)?,
            Keyword::Stopsignal => self.stop_signal(ins)?,
            Keyword::Cmd => {
                let cmd = self.command(ins);
                self.container().cmd.set(cmd);
                self.cmd_set = true;
            }
            Keyword::Entrypoint => {
                let entrypoint = self.command(ins);
                let cmd_set = self.cmd_set;
                let c = self.container();
                c.entrypoint.set(entrypoint);
                if !cmd_set {
                    c.cmd = Default::default();
                }
            }
            Keyword::Shell => {
                let Some(list) = ins.json().filter(|l| !l.is_empty()) else {
                    return at(ins.line, Refusal::ShellNotJson);
                };
                self.container().shell.set(list);
            }
            Keyword::Healthcheck => {
                let hc = args::healthcheck(ins)
                    .map_err(|problem| BuildError::At { line: ins.line, refusal: Refusal::Healthcheck { problem } })?;
                self.container().healthcheck.set(hc);
            }
            Keyword::Onbuild => {
                let inner = dockerfile::parse(&ins.args)
                    .map_err(|e| BuildError::At { line: ins.line, refusal: Refusal::Onbuild { message: e.message } })?
                    .instructions
                    .into_iter()
                    .next()
                    .map(|i| i.original)
                    .unwrap_or_default();
                self.container().push_trigger(inner);
            }
        }
        // A config-only instruction: a history entry with no layer.
        self.nop(build, ins);
        Ok(())
    }

    fn env(&mut self, ins: &Instruction) -> Result<(), BuildError> {
        for (k, v) in self.pairs(ins, "ENV")? {
            let old = self.container().set_env(&k, &v);
            self.grow(ins.line, (k.len() + v.len() + 4) as isize - old.map_or(0, |o| o as isize + 4))?;
            self.vars.insert(k.clone(), v);
            self.env_keys.insert(k);
        }
        Ok(())
    }

    fn label(&mut self, ins: &Instruction) -> Result<(), BuildError> {
        for (k, v) in self.pairs(ins, "LABEL")? {
            let added = (k.len() + v.len() + 6) as isize;
            let key_len = k.len() as isize;
            let old = self.container().set_label(k, v).map(|o| o as isize + key_len + 4);
            self.grow(ins.line, added - old.unwrap_or(0))?;
        }
        Ok(())
    }

    fn user(&mut self, ins: &Instruction) -> Result<(), BuildError> {
        let user = self.expand(&ins.args, ins.line)?;
        if user.is_empty() {
            return at(ins.line, Refusal::UserEmpty);
        }
        self.container().user.set(user);
        Ok(())
    }

    fn expose(&mut self, ins: &Instruction) -> Result<(), BuildError> {
        for p in self.fields(ins)? {
            let keys = args::exposed(&p)
                .map_err(|problem| BuildError::At { line: ins.line, refusal: Refusal::Expose { problem } })?;
            for key in keys {
                let len = key.len();
                let added = if self.container().expose(key) { len + 6 } else { 0 };
                self.grow(ins.line, added as isize)?;
            }
        }
        Ok(())
    }

    fn volume(&mut self, ins: &Instruction) -> Result<(), BuildError> {
        let vols = match ins.json() {
            Some(list) => list.iter().map(|w| self.expand(w, ins.line)).collect::<Result<Vec<_>, _>>()?,
            None => self.fields(ins)?,
        };
        if vols.is_empty() || vols.iter().any(|v| v.trim().is_empty()) {
            return at(ins.line, Refusal::EmptyVolume);
        }
        for v in vols {
            let len = v.len();
            let added = if self.container().add_volume(v) { len + 6 } else { 0 };
            self.grow(ins.line, added as isize)?;
        }
        Ok(())
    }

    fn stop_signal(&mut self, ins: &Instruction) -> Result<(), BuildError> {
        let sig = self.expand(&ins.args, ins.line)?;
        if !args::is_signal(&sig) {
            return at(ins.line, Refusal::InvalidSignal { signal: excerpt(&sig) });
        }
        self.container().stop_signal.set(sig);
        Ok(())
    }

    fn arg(&mut self, build: &mut Build, ins: &Instruction) -> Result<(), BuildError> {
        let mut names = Vec::new();
        for (name, default) in arg_words(ins, self.escape)? {
            let value = match build.opts.build_args.get(&name) {
                Some(v) => {
                    build.consumed.insert(name.clone());
                    Some(v.clone())
                }
                None => match default {
                    Some(d) => Some(self.expand(&d, ins.line)?),
                    None => build.globals.get(&name).cloned(),
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
        self.history(build, format!("/bin/sh -c #(nop) ARG {}", names.join(" ")), true);
        Ok(())
    }

    /// `ENV`/`LABEL` pairs: `k=v k2="v 2"`, or the old `key value...` form; keys and values expanded.
    fn pairs(&self, ins: &Instruction, what: &'static str) -> Result<Vec<(String, String)>, BuildError> {
        let words = self.words(ins);
        let line = ins.line;
        if words.first().is_some_and(|w| !w.contains('=')) {
            // `ENV key value with spaces`
            let (key, rest) = ins.args.split_once(char::is_whitespace).unwrap_or((&ins.args, ""));
            if rest.trim().is_empty() && what == "ENV" {
                return at(line, Refusal::EnvWithoutValue);
            }
            return Ok(vec![(self.expand(key, line)?, self.expand(rest.trim(), line)?)]);
        }
        let mut out = Vec::new();
        for w in words {
            let Some((k, v)) = w.split_once('=') else {
                return at(line, Refusal::NotKeyValue { keyword: what, word: excerpt(&w) });
            };
            let key = self.expand(k, line)?;
            if key.is_empty() {
                return at(line, Refusal::EmptyName { keyword: what });
            }
            out.push((key, self.expand(v, line)?));
        }
        Ok(out)
    }

    fn workdir(&mut self, build: &mut Build, ins: &Instruction) -> Result<(), BuildError> {
        let line = ins.line;
        let given = self.expand(&ins.args, line)?;
        let path = if given.starts_with('/') {
            clean(&given)
        } else {
            let current = self.config().working_dir();
            clean(&format!("{}/{given}", if current.is_empty() { "/" } else { current }))
        };
        self.container().working_dir.set(path.clone());
        let key = self.image.tree.resolve(&path, true)?;
        let draft = match self.image.tree.get(&key) {
            // BuildKit's WORKDIR is a mkdir step whatever the tree holds, except for `/`: a directory that
            // exists gives an empty layer (docs/commands/build.md, differences from podman).
            _ if key.is_empty() => {
                self.nop(build, ins);
                return Ok(());
            }
            Some(n) if n.is_dir() => LayerDraft::default(),
            Some(_) => return at(line, Refusal::WorkdirNotDirectory { path }),
            None => {
                let user = self.config().user().to_owned();
                let owner = if user.is_empty() {
                    Owner::default()
                } else {
                    self.owner(build, &user).map_err(|e| BuildError::At {
                        line,
                        refusal: Refusal::WorkdirOwner { path: path.clone(), user: user.clone(), source: Box::new(e) },
                    })?
                };
                let mut draft = LayerDraft::default();
                self.dir_entry(&mut draft, &key, owner, None, &build.clock);
                self.add_ancestors(&mut draft, owner, &build.clock)?;
                draft
            }
        };
        self.commit_layer(build, draft)?;
        self.history(build, format!("/bin/sh -c #(nop) {}", ins.original), false);
        Ok(())
    }

    /// The owner named by `spec`, looked up in this stage's `/etc/passwd` and `/etc/group` when needed.
    pub fn owner(&self, build: &Build, spec: &str) -> Result<Owner, BuildError> {
        let (passwd, group) = if users::needs_lookup(spec) {
            let tree = &self.image.tree;
            (tree.read_text(build.store, "etc/passwd")?, tree.read_text(build.store, "etc/group")?)
        } else {
            (None, None)
        };
        Ok(users::resolve(spec, passwd.as_deref(), group.as_deref())?)
    }
}
