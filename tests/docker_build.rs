//! `hoist build` side by side with `DOCKER_BUILDKIT=1 docker build` (Debian's Docker Engine 20.10, BuildKit
//! built in, a private engine from the harness) on the same contexts and the same base (pushed by hoist to a
//! real distribution registry on 127.0.0.1, which Docker treats as insecure): the config fields of issue 22
//! (Env, Cmd, Entrypoint, WorkingDir, Volumes, ExposedPorts, Labels, User, StopSignal, Healthcheck, OnBuild)
//! and the paths, kinds, modes, owners and bytes of every added layer, Docker's image taken out with `docker
//! save`. Where BuildKit and podman differ, hoist follows BuildKit; docs/commands/build.md names each
//! difference. No RUN: nothing here needs a container or the network.
//!
//! The base layout and the layer reader are those of tests/build.rs (the podman comparison): harness::layers.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

use harness::docker::Docker;
use harness::hoist::HoistWorld;
use harness::layers::{Layer, base_layout, read_layout, read_tar, show, write};
use harness::registry::{Options, Registry};
use serde_json::{Value, json};

/// The config and layers of `name` in the engine, out of `docker save` (a docker-archive).
fn docker_image(docker: &Docker, name: &str) -> (Value, Vec<Layer>) {
    let path = docker.scratch("saved").join(format!("{}.tar", name.replace([':', '/'], "-")));
    docker.docker(&["save", "-o", path.to_str().unwrap(), name]).expect_ok("docker save");
    let mut files = BTreeMap::new();
    for e in tar::Archive::new(std::fs::File::open(&path).unwrap()).entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        files.insert(p, data);
    }
    let manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let config: Value = serde_json::from_slice(&files[manifest[0]["Config"].as_str().unwrap()]).unwrap();
    let layers =
        manifest[0]["Layers"].as_array().unwrap().iter().map(|l| read_tar(&files[l.as_str().unwrap()])).collect();
    (config, layers)
}

/// The container config fields issue 22 names.
fn fields(config: &Value) -> Value {
    let c = &config["config"];
    json!({
        "Env": c["Env"], "WorkingDir": c["WorkingDir"], "ExposedPorts": c["ExposedPorts"], "Volumes": c["Volumes"],
        "Labels": c["Labels"], "User": c["User"], "Entrypoint": c["Entrypoint"], "Cmd": c["Cmd"],
        "StopSignal": c["StopSignal"], "Healthcheck": c["Healthcheck"], "OnBuild": c["OnBuild"],
    })
}

/// Asserts BuildKit's image and hoist's have the same config fields and the same added layers.
fn same(((dc, dl), (hc, hl)): ((Value, Vec<Layer>), (Value, Vec<Layer>)), what: &str) {
    assert_eq!(fields(&hc), fields(&dc), "{what}: config fields (left hoist, right BuildKit)");
    let shown = |l: &[Layer]| l.iter().map(show).collect::<Vec<_>>();
    assert_eq!(hl.len(), dl.len(), "{what}: layers\nhoist: {:#?}\nBuildKit: {:#?}", shown(&hl), shown(&dl));
    for (i, (h, d)) in hl.iter().zip(&dl).enumerate() {
        assert_eq!(show(h), show(d), "{what}: layer {i} (paths, kinds, modes, owners; left hoist)");
        assert_eq!(h, d, "{what}: layer {i} (bytes)");
    }
}

struct Setup {
    reg: Registry,
    docker: Docker,
    w: HoistWorld,
}

impl Setup {
    fn new() -> Setup {
        let reg = Registry::start(Options::default());
        let host = reg.host();
        let w = HoistWorld::new(&format!(
            "unqualified-search-registries = []\n[[registry]]\nlocation = \"{host}\"\ninsecure = true\n"
        ));
        let base = w.path("base-layout");
        base_layout(&base);
        w.run(&["copy", "-q", &format!("oci:{}:v1", base.display()), &format!("docker://{host}/base:1")], b"", &vec![])
            .expect_ok("hoist pushes the base image");
        let docker = Docker::start();
        Setup { reg, docker, w }
    }

    fn context(&self, name: &str) -> std::path::PathBuf {
        self.docker.scratch(&format!("ctx-{name}"))
    }

    /// Builds `ctx` with BuildKit (`docker-NAME:1`) and hoist (`hoist-NAME:1`): (docker's, hoist's).
    fn both(&self, ctx: &Path, name: &str) -> ((Value, Vec<Layer>), (Value, Vec<Layer>)) {
        self.both_with(ctx, name, &[], &[])
    }

    /// [`Self::both`] with extra flags for each (`--build-arg`s naming each one's own images).
    fn both_with(
        &self,
        ctx: &Path,
        name: &str,
        docker_flags: &[&str],
        hoist_flags: &[&str],
    ) -> ((Value, Vec<Layer>), (Value, Vec<Layer>)) {
        let tag = format!("docker-{name}:1");
        let mut cmd = self.docker.command();
        cmd.env("DOCKER_BUILDKIT", "1").args(["build", "-q", "-t", &tag]).args(docker_flags).arg(ctx);
        harness::run(&mut cmd, b"").expect_ok("DOCKER_BUILDKIT=1 docker build");
        let hoist_tag = format!("hoist-{name}:1");
        let mut args = vec!["build", "-q", "-t", &hoist_tag];
        args.extend_from_slice(hoist_flags);
        args.push(ctx.to_str().unwrap());
        self.w.run(&args, b"", &vec![]).expect_ok("hoist build");
        let (hc, hl, _) = read_layout(&self.w.path("store"), &format!("localhost/hoist-{name}:1"));
        let hoist = (hc, hl);
        (docker_image(&self.docker, &tag), hoist)
    }
}

/// The seed's Dockerfile and the richer one of tests/build.rs, and one with HEALTHCHECK, ONBUILD, shell-form
/// ENTRYPOINT and a numeric STOPSIGNAL: the same config fields and the same added layers as BuildKit.
#[test]
fn builds_match_docker_buildkit() {
    let s = Setup::new();
    let host = s.reg.host();

    let seed = s.context("seed");
    write(
        &seed,
        "Dockerfile",
        &format!("FROM {host}/base:1\nVOLUME /site-data\nWORKDIR /usr/src/app\nEXPOSE 80\n"),
        0o644,
    );
    same(s.both(&seed, "seed"), "seed");

    let rich = s.context("rich");
    write(&rich, "bin/app", "#!/bin/sh\necho app\n", 0o755);
    write(&rich, "site/index.html", "<h1>hi</h1>\n", 0o644);
    write(&rich, "site/sub/style.css", "body{}\n", 0o600);
    write(&rich, "app.conf", "listen 8080\n", 0o644);
    write(&rich, "a.txt", "a\n", 0o644);
    write(&rich, "b.txt", "b\n", 0o664);
    write(&rich, "notes.txt", "secret\n", 0o644);
    write(&rich, ".dockerignore", "notes.txt\n", 0o644);
    write(
        &rich,
        "Dockerfile",
        &format!(
            "ARG BASE={host}/base:1\n\
             FROM ${{BASE}} AS builder\n\
             COPY bin/ /out/bin/\n\
             COPY site /out/site\n\
             \n\
             FROM $BASE\n\
             ARG VERSION=1.0\n\
             ENV APP_VERSION=$VERSION \\\n    APP_HOME=/srv/app\n\
             LABEL org.opencontainers.image.version=\"$VERSION\" maintainer=\"ops@example.com\"\n\
             WORKDIR $APP_HOME\n\
             COPY --chown=nginx:staff --chmod=640 app.conf conf/\n\
             COPY --from=builder /out/site ./site/\n\
             COPY --from=builder --chown=1000:1000 /out/bin/app /usr/local/bin/\n\
             COPY --chown=www *.txt /usr/share/www/\n\
             USER www\n\
             EXPOSE 8080/tcp 9090/udp\n\
             VOLUME [\"/data\", \"/cache\"]\n\
             STOPSIGNAL SIGTERM\n\
             ENTRYPOINT [\"/usr/local/bin/app\"]\n\
             CMD [\"--port\", \"8080\"]\n"
        ),
        0o644,
    );
    same(s.both(&rich, "rich"), "rich");

    let meta = s.context("meta");
    write(&meta, "check", "#!/bin/sh\nexit 0\n", 0o755);
    write(
        &meta,
        "Dockerfile",
        &format!(
            "FROM {host}/base:1\n\
             COPY check /usr/local/bin/check\n\
             HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --retries=4 CMD [\"/usr/local/bin/check\"]\n\
             ONBUILD COPY . /app/\n\
             ONBUILD LABEL child=yes\n\
             ENV A=1 B=\"two words\"\n\
             LABEL \"with space\"=\"x y\"\n\
             ENTRYPOINT /usr/local/bin/check --serve\n\
             STOPSIGNAL 9\n\
             USER 1000:50\n\
             EXPOSE 7000-7002\n"
        ),
        0o644,
    );
    same(s.both(&meta, "meta"), "meta");

    // WORKDIR as another USER, of a directory the base has, relative; a file into it.
    let dirs = s.context("dirs");
    write(&dirs, "a.txt", "a\n", 0o644);
    write(
        &dirs,
        "Dockerfile",
        &format!(
            "FROM {host}/base:1\n\
             USER www\n\
             WORKDIR /home/www/app\n\
             COPY a.txt .\n\
             WORKDIR /usr/src\n\
             USER 101:50\n\
             WORKDIR rel/deeper\n\
             COPY a.txt ./\n\
             WORKDIR /\n\
             WORKDIR /var\n"
        ),
        0o644,
    );
    same(s.both(&dirs, "dirs"), "dirs");
}

/// FROM scratch: BuildKit's default PATH, COPY of a tree with a symlink and an empty directory, `--chmod` on a
/// directory, ADD of a local gzip'd tar (unpacked), SHELL and a shell-form CMD, WORKDIR in an empty image.
#[test]
fn scratch_builds_match_docker_buildkit() {
    let s = Setup::new();
    let ctx = s.context("scratch");
    write(&ctx, "tree/bin/tool", "#!/bin/sh\n", 0o755);
    write(&ctx, "tree/etc/tool.conf", "x=1\n", 0o600);
    std::fs::create_dir_all(ctx.join("tree/empty")).unwrap();
    std::os::unix::fs::symlink("bin/tool", ctx.join("tree/link")).unwrap();
    write(&ctx, "d/f", "f\n", 0o644);
    // Context files owned by someone else on the host: BuildKit sends them as 0:0.
    std::os::unix::fs::chown(ctx.join("d/f"), Some(1234), Some(4321)).unwrap();
    let mut b = tar::Builder::new(Vec::new());
    for (path, mode, data) in [("pkg/", 0o750, ""), ("pkg/readme", 0o640, "read me\n")] {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1_600_000_000);
        h.set_uid(1234);
        h.set_gid(4321);
        h.set_mode(mode);
        if path.ends_with('/') {
            h.set_entry_type(tar::EntryType::Directory);
        }
        h.set_size(data.len() as u64);
        b.append_data(&mut h, path, data.as_bytes()).unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&b.into_inner().unwrap()).unwrap();
    std::fs::write(ctx.join("pkg.tar.gz"), gz.finish().unwrap()).unwrap();
    write(
        &ctx,
        "Dockerfile",
        "FROM scratch AS src\n\
         ADD pkg.tar.gz /\n\
         FROM scratch\n\
         COPY tree/ /\n\
         COPY --chmod=700 d /d\n\
         ADD pkg.tar.gz /opt/\n\
         COPY --from=src /pkg /copied\n\
         WORKDIR /work\n\
         SHELL [\"/bin/bash\", \"-c\"]\n\
         CMD echo hi\n\
         EXPOSE 80\n",
        0o644,
    );
    same(s.both(&ctx, "scratch"), "scratch");
}

/// `ADD --chown` of a local archive: Docker 20.10's BuildKit (0.8) chowns only the destination directory and
/// leaves the entries as the archive says; BuildKit 0.23 and later (moby/buildkit#5987) and podman chown the
/// entries too, and so does hoist (docs/commands/build.md names this difference).
#[test]
fn add_chown_of_an_archive_chowns_its_entries_as_current_buildkit() {
    let s = Setup::new();
    let ctx = s.context("chown-archive");
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_uid(1234);
    h.set_gid(4321);
    h.set_mode(0o640);
    h.set_size(3);
    b.append_data(&mut h, "f.txt", &b"hi\n"[..]).unwrap();
    std::fs::write(ctx.join("a.tar"), b.into_inner().unwrap()).unwrap();
    write(&ctx, "Dockerfile", "FROM scratch\nADD --chown=5:6 a.tar /x/\nADD a.tar /y/\n", 0o644);
    let ((_, dl), (_, hl)) = s.both(&ctx, "chown-archive");
    assert_eq!(show(&dl[0]), ["x d 755 5:6", "x/f.txt - 640 1234:4321"], "Docker 20.10's BuildKit");
    assert_eq!(show(&hl[0]), ["x d 755 5:6", "x/f.txt - 640 5:6"], "hoist");
    // Without --chown both keep the archive's owners.
    assert_eq!(show(&hl[1]), show(&dl[1]));
    assert_eq!(show(&hl[1]), ["y d 755 0:0", "y/f.txt - 640 1234:4321"]);
}

/// Context details and instructions' corners: hard links, a named symlink (followed), a wildcard over
/// directories, `EXPOSE 80/TCP`, `HEALTHCHECK NONE`, VOLUME's shell form, quotes and `$` in LABEL and ENV;
/// then a child `FROM` each one's parent runs the parent's ONBUILD triggers. Same fields and layers.
#[test]
fn corners_and_onbuild_triggers_match_docker_buildkit() {
    let s = Setup::new();
    let host = s.reg.host();
    let ctx = s.context("corners");
    write(&ctx, "hard/one.txt", "same bytes\n", 0o644);
    std::fs::hard_link(ctx.join("hard/one.txt"), ctx.join("hard/two.txt")).unwrap();
    write(&ctx, "real.txt", "real\n", 0o640);
    std::os::unix::fs::symlink("real.txt", ctx.join("link-to-file")).unwrap();
    write(&ctx, "dirA/x", "x\n", 0o644);
    write(&ctx, "dirB/sub/y", "y\n", 0o644);
    write(
        &ctx,
        "Dockerfile",
        &format!(
            "FROM {host}/base:1\n\
             ARG N=v1\n\
             COPY hard /hard/\n\
             COPY link-to-file /named\n\
             COPY dir* /merged/\n\
             EXPOSE 80/TCP 53/udp\n\
             HEALTHCHECK NONE\n\
             VOLUME /a /b\n\
             LABEL \"k\"=\"a ${{N}} b\" k2='$N' k3=\"quote\\\"d\"\n\
             ENV P=$PATH:/opt/bin Q=\"${{N:-x}}-${{MISSING:-dflt}}\"\n\
             ONBUILD COPY real.txt /from-onbuild.txt\n\
             ONBUILD LABEL child=yes\n"
        ),
        0o644,
    );
    same(s.both(&ctx, "corners"), "corners");

    // A child of each one's own parent: the triggers run after its FROM.
    let child = s.context("child");
    write(&child, "real.txt", "child's real\n", 0o600);
    write(&child, "Dockerfile", "ARG BASE\nFROM $BASE\nCMD [\"run\"]\n", 0o644);
    same(
        s.both_with(
            &child,
            "child",
            &["--build-arg", "BASE=docker-corners:1"],
            &["--build-arg", "BASE=localhost/hoist-corners:1"],
        ),
        "child",
    );
}

/// Variables and shells: `ENV A=1 B=$A` (B sees the A from before the instruction), an ARG overridden by
/// `--build-arg` and shadowed by ENV, variables in EXPOSE, STOPSIGNAL, VOLUME, WORKDIR and USER, ONBUILD kept
/// unexpanded, `SHELL` then shell-form ENTRYPOINT/CMD/HEALTHCHECK, `--chmod` over a tree with a nested
/// directory.
#[test]
fn variables_and_shells_match_docker_buildkit() {
    let s = Setup::new();
    let host = s.reg.host();
    let ctx = s.context("vars");
    write(&ctx, "tree/top.txt", "t\n", 0o644);
    write(&ctx, "tree/sub/deep.txt", "d\n", 0o600);
    write(
        &ctx,
        "Dockerfile",
        &format!(
            "FROM {host}/base:1\n\
             ARG PORT=80\n\
             ARG WHO=nobody\n\
             ENV A=1 B=$A\n\
             ENV A=2 C=\"$A-$B\"\n\
             ARG SIG=SIGQUIT\n\
             ENV SIG=SIGINT\n\
             EXPOSE $PORT ${{PORT}}/udp\n\
             STOPSIGNAL $SIG\n\
             VOLUME [\"/v/$A\"]\n\
             WORKDIR /srv/$WHO\n\
             USER $WHO:staff\n\
             COPY --chmod=751 tree /t/\n\
             ONBUILD LABEL from=$A\n\
             SHELL [\"/bin/bash\", \"-eu\", \"-c\"]\n\
             ENTRYPOINT exec server --port $PORT\n\
             HEALTHCHECK --interval=10s CMD curl -f http://localhost:$PORT/ || exit 1\n\
             CMD [\"--verbose\"]\n"
        ),
        0o644,
    );
    same(s.both_with(&ctx, "vars", &["--build-arg", "PORT=8080"], &["--build-arg", "PORT=8080"]), "vars");
}

/// A base that only the engine and the store hold (Docker's from `docker load` of what `hoist save` wrote,
/// hoist's in its store): BuildKit needs no registry for it, and both builds agree.
#[test]
fn a_loaded_base_needs_no_registry() {
    let s = Setup::new();
    let base = s.w.path("base-layout");
    s.w.run(&["copy", "-q", &format!("oci:{}:v1", base.display()), "store:localhost/loaded:1"], b"", &vec![])
        .expect_ok("hoist copy into the store");
    let archive = s.docker.scratch("loaded").join("base.tar");
    s.w.run(&["save", "-q", "-o", archive.to_str().unwrap(), "localhost/loaded:1"], b"", &vec![])
        .expect_ok("hoist save");
    s.docker.docker(&["load", "-i", archive.to_str().unwrap()]).expect_ok("docker load");
    let ctx = s.context("loaded");
    write(&ctx, "a.txt", "a\n", 0o644);
    write(&ctx, "Dockerfile", "FROM localhost/loaded:1\nCOPY --chown=www a.txt /usr/share/www/\nUSER www\n", 0o644);
    same(s.both(&ctx, "loaded"), "loaded");
}

/// Hard links that reach a layer another way: `COPY --from` a stage that holds them, and `ADD` of an archive
/// with a hard link entry.
#[test]
fn hard_links_from_stages_and_archives_match_docker_buildkit() {
    let s = Setup::new();
    let ctx = s.context("links");
    write(&ctx, "hard/one.txt", "same bytes\n", 0o644);
    std::fs::hard_link(ctx.join("hard/one.txt"), ctx.join("hard/two.txt")).unwrap();
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(4);
    b.append_data(&mut h, "p/file", &b"abc\n"[..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(0);
    h.set_entry_type(tar::EntryType::Link);
    b.append_link(&mut h, "p/link", "p/file").unwrap();
    std::fs::write(ctx.join("links.tar"), b.into_inner().unwrap()).unwrap();
    write(
        &ctx,
        "Dockerfile",
        "FROM scratch AS s\nCOPY hard /hard/\nFROM scratch\nCOPY --from=s /hard /h2/\nADD links.tar /x/\n",
        0o644,
    );
    same(s.both(&ctx, "links"), "links");
}
