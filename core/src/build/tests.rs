//! Builds end to end inside one process: a base image written into a temp store, contexts in temp dirs, and
//! the result read back (config JSON, and every layer's entries with modes, owners and bytes).

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Mutex;

use serde_json::{Value, json};

use super::layer::{Content, Entry, EntryKind};
use super::*;
use crate::image::{Manifest, media_type};
use crate::reference::Reference;

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nnginx:x:101:101::/var/cache/nginx:/sbin/nologin\n\
                      www:x:1000:1000::/home/www:/bin/sh\n";
const GROUP: &str = "root:x:0:\nnginx:x:101:\nstaff:x:50:\nwww:x:1000:\n";

fn file(data: &str, mode: u32) -> Entry {
    Entry {
        kind: EntryKind::File(Content::Bytes(std::sync::Arc::new(data.as_bytes().to_vec()))),
        mode,
        uid: 0,
        gid: 0,
        mtime: 0,
        size: data.len() as u64,
    }
}

fn dir() -> Entry {
    Entry { kind: EntryKind::Dir, mode: 0o755, uid: 0, gid: 0, mtime: 0, size: 0 }
}

/// A base image `base:1` in the store: /etc/passwd, /etc/group, /usr/share/www/index.html, /var/run → /run.
fn base_image(store: &Store, env: Value, arch: &str) -> Descriptor {
    let mut entries = BTreeMap::new();
    for d in ["etc", "usr", "usr/share", "usr/share/www", "run", "var"] {
        entries.insert(d.to_owned(), dir());
    }
    entries.insert("etc/passwd".into(), file(PASSWD, 0o644));
    entries.insert("etc/group".into(), file(GROUP, 0o644));
    entries.insert("usr/share/www/index.html".into(), file("hello\n", 0o644));
    entries.insert(
        "var/run".into(),
        Entry { kind: EntryKind::Symlink("/run".into()), mode: 0o777, uid: 0, gid: 0, mtime: 0, size: 0 },
    );
    let l = layer::write(store, &entries).unwrap();
    let config = json!({
        "architecture": arch, "os": "linux",
        "config": {"Env": env, "Cmd": ["/bin/sh"], "Labels": {"base": "yes"}, "OnBuild": null},
        "rootfs": {"type": "layers", "diff_ids": [l.diff_id.to_string()]},
        "history": [{"created_by": "base"}]
    });
    let raw = serde_json::to_vec(&config).unwrap();
    let cd = store.put_blob(&raw).unwrap();
    let m = json!({
        "schemaVersion": 2, "mediaType": media_type::OCI_MANIFEST,
        "config": {"mediaType": media_type::OCI_CONFIG, "digest": cd.to_string(), "size": raw.len()},
        "layers": [{"mediaType": media_type::DOCKER_LAYER_GZIP, "digest": l.descriptor.digest.to_string(), "size": l.descriptor.size}]
    });
    let raw = serde_json::to_vec(&m).unwrap();
    let md = store.put_blob(&raw).unwrap();
    Descriptor::new(media_type::OCI_MANIFEST, md, raw.len() as u64)
}

/// Bases from a fixed table; records what was asked for.
struct Table {
    images: BTreeMap<String, Descriptor>,
    asked: Mutex<Vec<String>>,
}

/// A [`Table`] has no image of this name.
#[derive(Debug, thiserror::Error)]
#[error("{0}: image not known")]
struct NotKnown(String);

impl Bases for Table {
    fn base(&mut self, name: &str, _platform: &Platform) -> Result<Base, BaseError> {
        self.asked.lock().unwrap().push(name.to_owned());
        match self.images.get(name) {
            Some(d) => Ok(Base { descriptor: d.clone(), name: format!("example.com/{name}") }),
            None => Err(BaseError::Unavailable(Box::new(NotKnown(name.to_owned())))),
        }
    }
}

struct Quiet;
impl crate::observe::Observer for Quiet {}

struct World {
    _dir: tempfile::TempDir,
    store: Store,
    ctx: std::path::PathBuf,
    bases: Table,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    let base = base_image(&store, json!(["PATH=/usr/local/bin:/usr/bin:/bin"]), "amd64");
    let bare = base_image(&store, json!([]), "amd64");
    let ctx = dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    let images = [("base:1".to_owned(), base), ("bare:1".to_owned(), bare)].into();
    World { _dir: dir, store, ctx, bases: Table { images, asked: Mutex::new(Vec::new()) } }
}

impl World {
    fn write(&self, path: &str, data: &str, mode: u32) {
        let p = self.ctx.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data).unwrap();
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
    }

    fn opts(&self, dockerfile: &str) -> BuildOptions {
        BuildOptions {
            context: self.ctx.clone(),
            dockerfile: dockerfile.to_owned(),
            ignore: std::fs::read_to_string(self.ctx.join(".dockerignore")).ok(),
            build_args: BTreeMap::new(),
            target: None,
            platforms: vec![Platform::new("linux", "amd64", None)],
            timestamp: Some(1_700_000_000),
            format: Default::default(),
        }
    }

    fn build(&mut self, opts: &BuildOptions) -> Result<Built, BuildError> {
        build(&self.store, opts, &mut self.bases, &Quiet)
    }

    fn ok(&mut self, dockerfile: &str) -> Image {
        let built = self.build(&self.opts(dockerfile)).unwrap();
        self.image(&built.manifest.raw)
    }

    fn image(&self, raw: &[u8]) -> Image {
        let Manifest::Image(m) = Manifest::parse(raw, None).unwrap() else { panic!("not an image") };
        let config: Value =
            serde_json::from_slice(&self.store.read_blob(&m.config.digest, crate::image::MAX_CONFIG_SIZE).unwrap())
                .unwrap();
        let layers = m.layers.iter().map(|l| read_layer(&self.store, &l.digest)).collect();
        Image { config, layers, manifest: m }
    }
}

struct Image {
    config: Value,
    layers: Vec<Vec<Seen>>,
    manifest: crate::image::ImageManifest,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    path: String,
    kind: char,
    mode: u32,
    uid: u64,
    gid: u64,
    data: String,
}

fn read_layer(store: &Store, d: &Digest) -> Vec<Seen> {
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(store.open_blob(d).unwrap()).read_to_end(&mut raw).unwrap();
    let mut ar = tar::Archive::new(&raw[..]);
    ar.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let h = e.header().clone();
            let mut data = String::new();
            let kind = match h.entry_type() {
                tar::EntryType::Directory => 'd',
                tar::EntryType::Symlink => {
                    data = e.link_name().unwrap().unwrap().to_string_lossy().into_owned();
                    'l'
                }
                tar::EntryType::Link => {
                    data = e.link_name().unwrap().unwrap().to_string_lossy().into_owned();
                    'h'
                }
                _ => {
                    e.read_to_string(&mut data).unwrap();
                    '-'
                }
            };
            Seen {
                path: e.path().unwrap().to_string_lossy().into_owned(),
                kind,
                mode: h.mode().unwrap(),
                uid: h.uid().unwrap(),
                gid: h.gid().unwrap(),
                data,
            }
        })
        .collect()
}

/// `path kind mode uid:gid` lines of a layer, for compact assertions.
fn lines(layer: &[Seen]) -> Vec<String> {
    layer.iter().map(|s| format!("{} {} {:o} {}:{}", s.path, s.kind, s.mode, s.uid, s.gid)).collect()
}

#[test]
fn the_seed_dockerfile() {
    let mut w = world();
    let img = w.ok("FROM base:1\nVOLUME /site-data\nWORKDIR /usr/src/app\nEXPOSE 80\n");
    let c = &img.config["config"];
    assert_eq!(c["Volumes"], json!({"/site-data": {}}));
    assert_eq!(c["WorkingDir"], "/usr/src/app");
    assert_eq!(c["ExposedPorts"], json!({"80/tcp": {}}));
    assert_eq!(c["Cmd"], json!(["/bin/sh"]), "the base's CMD stays");
    assert_eq!(c["Env"], json!(["PATH=/usr/local/bin:/usr/bin:/bin"]));
    assert_eq!(img.layers.len(), 2, "the base layer and WORKDIR's");
    assert_eq!(lines(&img.layers[1]), ["usr/ d 755 0:0", "usr/src/ d 755 0:0", "usr/src/app/ d 755 0:0"]);
    let history: Vec<(String, bool)> = img.config["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["created_by"].as_str().unwrap().to_owned(), h["empty_layer"] == json!(true)))
        .collect();
    assert_eq!(
        history,
        [
            ("base".to_owned(), false),
            ("/bin/sh -c #(nop) VOLUME /site-data".to_owned(), true),
            ("/bin/sh -c #(nop) WORKDIR /usr/src/app".to_owned(), false),
            ("/bin/sh -c #(nop) EXPOSE 80".to_owned(), true),
        ]
    );
    assert_eq!(img.config["created"], "2023-11-14T22:13:20Z");
    assert_eq!(img.config["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
    assert_eq!(img.manifest.layers[0].media_type, media_type::OCI_LAYER_GZIP, "docker media types become OCI's");
    let ann = img.manifest.annotations.as_ref().unwrap();
    assert_eq!(ann[state::ANNOTATION_BASE_NAME], "example.com/base:1");
}

#[test]
fn copy_rules_owners_and_modes() {
    let mut w = world();
    w.write("app.conf", "cfg\n", 0o644);
    w.write("bin/app", "#!/bin/sh\n", 0o755);
    w.write("site/index.html", "<h1>hi</h1>\n", 0o644);
    w.write("site/sub/style.css", "body{}\n", 0o600);
    w.write("a.txt", "a\n", 0o644);
    w.write("b.txt", "b\n", 0o644);
    std::os::unix::fs::symlink("a.txt", w.ctx.join("link")).unwrap();
    let img = w.ok("FROM base:1\n\
         COPY --chown=nginx:staff --chmod=640 app.conf /srv/app/conf/\n\
         COPY site /usr/share/www/\n\
         COPY --chown=www bin/app /usr/local/bin/\n\
         COPY a.txt /newfile\n\
         COPY a.txt b.txt /multi/\n\
         COPY *.txt /glob/\n\
         COPY link /var/run/l\n\
         COPY --chmod=700 site /dd\n");
    let l = &img.layers;
    assert_eq!(
        lines(&l[1]),
        [
            "srv/ d 755 101:50",
            "srv/app/ d 755 101:50",
            "srv/app/conf/ d 755 101:50",
            "srv/app/conf/app.conf - 640 101:50"
        ]
    );
    assert_eq!(
        lines(&l[2]),
        [
            "usr/ d 755 0:0",
            "usr/share/ d 755 0:0",
            "usr/share/www/ d 755 0:0",
            "usr/share/www/index.html - 644 0:0",
            "usr/share/www/sub/ d 755 0:0",
            "usr/share/www/sub/style.css - 600 0:0"
        ]
    );
    assert_eq!(
        lines(&l[3]),
        [
            "usr/ d 755 0:0",
            "usr/local/ d 755 1000:1000",
            "usr/local/bin/ d 755 1000:1000",
            "usr/local/bin/app - 755 1000:1000"
        ]
    );
    assert_eq!(lines(&l[4]), ["newfile - 644 0:0"]);
    assert_eq!(lines(&l[5]), ["multi/ d 755 0:0", "multi/a.txt - 644 0:0", "multi/b.txt - 644 0:0"]);
    assert_eq!(lines(&l[6]), ["glob/ d 755 0:0", "glob/a.txt - 644 0:0", "glob/b.txt - 644 0:0"]);
    assert_eq!(lines(&l[7]), ["run/ d 755 0:0", "run/l - 644 0:0"], "symlinks in the destination are followed");
    assert_eq!(l[7][1].data, "a\n", "a symlink source is followed");
    assert_eq!(
        lines(&l[8]),
        ["dd/ d 755 0:0", "dd/index.html - 700 0:0", "dd/sub/ d 700 0:0", "dd/sub/style.css - 700 0:0"],
        "--chmod applies to what is copied, not to the destination directory"
    );
    let err = w.build(&w.opts("FROM base:1\nCOPY a.txt b.txt /nodir\n")).unwrap_err().to_string();
    assert!(err.starts_with("Dockerfile line 2: ") && err.contains("must be a directory"), "{err}");
    let err = w.build(&w.opts("FROM base:1\nCOPY --chown=nobody a.txt /x\n")).unwrap_err().to_string();
    assert!(err.contains("line 2") && err.contains("unable to find user nobody"), "{err}");
    let err = w.build(&w.opts("FROM base:1\nCOPY missing.txt /x\n")).unwrap_err().to_string();
    assert!(err.contains("line 2") && err.contains("missing.txt"), "{err}");
}

#[test]
fn config_fields_as_podman_sets_them() {
    let mut w = world();
    let img = w.ok("ARG BASE=base:1\n\
         FROM $BASE\n\
         ARG VERSION=1.0\n\
         ENV APP_VERSION=$VERSION APP_HOME=/srv/app\n\
         ENV OLD legacy form\n\
         LABEL org.opencontainers.image.version=\"$VERSION\" maintainer=\"ops@example.com\"\n\
         USER www\n\
         WORKDIR $APP_HOME\n\
         EXPOSE 8080/tcp 9090/udp\n\
         VOLUME [\"/data\", \"/cache\"]\n\
         STOPSIGNAL SIGTERM\n\
         ENTRYPOINT [\"/usr/local/bin/app\"]\n\
         CMD [\"--port\", \"8080\"]\n\
         ONBUILD COPY . /app\n");
    let c = &img.config["config"];
    assert_eq!(
        c["Env"],
        json!(["PATH=/usr/local/bin:/usr/bin:/bin", "APP_VERSION=1.0", "APP_HOME=/srv/app", "OLD=legacy form"])
    );
    assert_eq!(
        c["Labels"],
        json!({"base": "yes", "org.opencontainers.image.version": "1.0", "maintainer": "ops@example.com"})
    );
    assert_eq!(c["User"], "www");
    assert_eq!(c["WorkingDir"], "/srv/app");
    assert_eq!(c["ExposedPorts"], json!({"8080/tcp": {}, "9090/udp": {}}));
    assert_eq!(c["Volumes"], json!({"/data": {}, "/cache": {}}));
    assert_eq!(c["StopSignal"], "SIGTERM");
    assert_eq!(c["Entrypoint"], json!(["/usr/local/bin/app"]));
    assert_eq!(c["Cmd"], json!(["--port", "8080"]));
    assert_eq!(c["OnBuild"], json!(["COPY . /app"]));
    assert_eq!(
        lines(&img.layers[1]),
        ["srv/ d 755 1000:1000", "srv/app/ d 755 1000:1000"],
        "WORKDIR's owner is the USER"
    );

    // ENTRYPOINT resets an inherited CMD; shell forms go through SHELL; no PATH in the base gets podman's.
    let img =
        w.ok("FROM bare:1\nENTRYPOINT exec /bin/app -x\nSHELL [\"/bin/bash\", \"-c\"]\nSTOPSIGNAL 9\nCMD echo hi\n");
    let c = &img.config["config"];
    assert_eq!(c["Entrypoint"], json!(["/bin/sh", "-c", "exec /bin/app -x"]));
    assert_eq!(c["Cmd"], json!(["/bin/bash", "-c", "echo hi"]));
    assert_eq!(c["Env"], json!([config::DEFAULT_PATH]));
    let img = w.ok("FROM base:1\nCMD [\"a\"]\nENTRYPOINT [\"b\"]\n");
    assert_eq!(img.config["config"]["Cmd"], json!(["a"]), "a CMD of this stage survives ENTRYPOINT");
    let img = w.ok("FROM scratch\nLABEL a=b\n");
    assert_eq!(img.config["config"]["Env"], json!([config::DEFAULT_PATH]));
    assert_eq!(img.config["config"]["WorkingDir"], "/", "BuildKit's empty image");
    let img = w.ok("FROM scratch\nWORKDIR rel\nCOPY --from=base:1 /etc/group g\n");
    assert_eq!(img.config["config"]["WorkingDir"], "/rel");
    assert_eq!(lines(&img.layers[1]), ["rel/ d 755 0:0", "rel/g - 644 0:0"]);
    assert_eq!(img.config["architecture"], "amd64");
    assert!(img.manifest.annotations.is_none());
}

#[test]
fn args_scope_and_build_args() {
    let mut w = world();
    let df = "ARG TAG=1\nARG BEFORE=global\nFROM base:$TAG\nENV A=${BEFORE:-unset}\nARG BEFORE\nENV B=$BEFORE C=${NOTSET:-dflt} ARCH=$TARGETARCH\nARG TARGETARCH\nENV D=$TARGETARCH\n";
    let img = w.ok(df);
    let env = img.config["config"]["Env"].as_array().unwrap().clone();
    assert!(env.contains(&json!("A=unset")), "a global ARG is only seen in FROM: {env:?}");
    assert!(env.contains(&json!("B=global")), "redeclared, it takes the global value: {env:?}");
    assert!(env.contains(&json!("C=dflt")));
    assert!(env.contains(&json!("ARCH=")), "{env:?}");
    assert!(env.contains(&json!("D=amd64")), "{env:?}");
    let mut o = w.opts(df);
    o.build_args.insert("BEFORE".into(), "given".into());
    let raw = w.build(&o).unwrap().manifest.raw;
    let img = w.image(&raw);
    assert!(img.config["config"]["Env"].as_array().unwrap().contains(&json!("B=given")));
    let mut o = w.opts("FROM base:$TAG\n");
    o.build_args.insert("TAG".into(), "1".into());
    assert!(w.build(&o).is_err(), "a build arg is not a declared ARG");
}

#[test]
fn refusals_come_before_any_work() {
    let mut w = world();
    let err = w.build(&w.opts("FROM base:1\nCOPY a b\nRUN apt-get update\n")).unwrap_err().to_string();
    assert!(err.starts_with("Dockerfile line 3: RUN apt-get update: hoist builds without running containers"), "{err}");
    let err = w.build(&w.opts("FROM base:1\n\nADD https://example.com/x.tgz /x\n")).unwrap_err().to_string();
    assert!(err.starts_with("Dockerfile line 3: ADD https://example.com/x.tgz: hoist builds offline"), "{err}");
    let err = w.build(&w.opts("FROM base:1\nCOPY --parents a /b\n")).unwrap_err().to_string();
    assert!(err.contains("line 2") && err.contains("--parents"), "{err}");
    assert!(w.bases.asked.lock().unwrap().is_empty(), "nothing was fetched");
    let err = w.build(&w.opts("FROM base:1\nONBUILD RUN x\n")).map(drop);
    assert!(err.is_ok(), "ONBUILD RUN is only recorded");
}

/// A refusal is a fact a caller can match (which stage, flag, signal, limit), placed at its line; the text
/// stays the one users know.
#[test]
fn instruction_refusals_name_their_facts() {
    let mut w = world();
    let e = w.build(&w.opts("FROM base:1 AS a\nFROM base:1 AS a\n")).unwrap_err();
    assert!(
        matches!(&e, BuildError::At { line: 2, refusal: Refusal::DuplicateStageName { name } } if name == "a"),
        "{e:?}"
    );
    assert_eq!(e.to_string(), "Dockerfile line 2: duplicate stage name \"a\"");
    let e = w.build(&w.opts("FROM base:1\nCOPY --parents a /b\n")).unwrap_err();
    assert!(
        matches!(&e, BuildError::At { line: 2, refusal: Refusal::FlagNotTaken { keyword: Keyword::Copy, flag, .. } }
            if flag == "parents"),
        "{e:?}"
    );
    assert_eq!(e.to_string(), "Dockerfile line 2: COPY does not take --parents (a labs feature hoist does not have)");
    let e = w.build(&w.opts("FROM base:1\nSTOPSIGNAL bogus\n")).unwrap_err();
    assert!(
        matches!(&e, BuildError::At { line: 2, refusal: Refusal::InvalidSignal { signal } } if signal == "bogus"),
        "{e:?}"
    );
    let mut df = doubling(15);
    for i in 0..16 {
        df.push_str(&format!("ENV b{i}=$a15\n"));
    }
    let e = w.build(&w.opts(&df)).unwrap_err();
    assert!(
        matches!(&e, BuildError::At { line: 28, refusal: Refusal::ConfigWouldPass { size } }
            if *size > crate::image::MAX_CONFIG_SIZE),
        "{e:?}"
    );
}

#[test]
fn reproducible_with_a_timestamp() {
    let mut w = world();
    w.write("a.txt", "a\n", 0o644);
    w.write("d/b.txt", "b\n", 0o600);
    let df = "FROM base:1\nCOPY . /app/\nWORKDIR /w\n";
    let one = w.build(&w.opts(df)).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    // New mtimes on the host change nothing.
    w.write("a.txt", "a\n", 0o644);
    let two = w.build(&w.opts(df)).unwrap();
    assert_eq!(one.manifest.digest, two.manifest.digest);
    assert_eq!(one.id, two.id);
    let mut o = w.opts(df);
    o.timestamp = None;
    let three = w.build(&o).unwrap();
    assert_ne!(one.manifest.digest, three.manifest.digest);
}

#[test]
fn dockerignore_and_multi_stage() {
    let mut w = world();
    w.write(".dockerignore", "secret.txt\n**/*.log\ndocs\n!docs/keep.md\n", 0o644);
    w.write("secret.txt", "s", 0o644);
    w.write("x/debug.log", "l", 0o644);
    w.write("x/ok.txt", "ok", 0o644);
    w.write("docs/keep.md", "k", 0o644);
    w.write("docs/drop.md", "d", 0o644);
    let img = w.ok("FROM base:1 AS builder\nCOPY . /out/\n\
         FROM scratch AS unused\nCOPY secret.txt /never\n\
         FROM base:1\nCOPY --from=builder /out/x /x\nCOPY --from=builder --chown=1:2 /etc/passwd /copied\n\
         COPY --from=0 /out/docs/keep.md /keep.md\n");
    let paths: Vec<String> = img.layers[1].iter().map(|s| s.path.clone()).collect();
    assert_eq!(paths, ["x/", "x/ok.txt"], "what .dockerignore excluded never reached the builder stage");
    assert_eq!(lines(&img.layers[2]), ["copied - 644 1:2"]);
    assert_eq!(img.layers[2][0].data, PASSWD, "bytes come out of the base layer of the stage");
    assert_eq!(img.layers[3][0].data, "k");
    // --target builds the named stage (and only what it needs).
    let mut o = w.opts("FROM base:1 AS one\nLABEL stage=one\nFROM scratch\nCOPY nope /nope\n");
    o.target = Some("one".into());
    let raw = w.build(&o).unwrap().manifest.raw;
    let img = w.image(&raw);
    assert_eq!(img.config["config"]["Labels"]["stage"], "one");
    // COPY --from an image.
    let img = w.ok("FROM scratch\nCOPY --from=base:1 /usr/share/www /www\n");
    assert_eq!(lines(&img.layers[0]), ["www/ d 755 0:0", "www/index.html - 644 0:0"]);
}

#[test]
fn add_unpacks_local_archives() {
    let mut w = world();
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("t.txt"), "t\n").unwrap();
    std::fs::create_dir(src.path().join("sub")).unwrap();
    let mut tar_bytes = tar::Builder::new(Vec::new());
    tar_bytes.append_dir_all(".", src.path()).unwrap();
    let tar_bytes = tar_bytes.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &tar_bytes).unwrap();
    std::fs::write(w.ctx.join("a.tar.gz"), gz.finish().unwrap()).unwrap();
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    std::io::Write::write_all(&mut bz, &tar_bytes).unwrap();
    std::fs::write(w.ctx.join("a.bin"), bz.finish().unwrap()).unwrap();
    let mut xz = Vec::new();
    lzma_rs::xz_compress(&mut &tar_bytes[..], &mut xz).unwrap();
    std::fs::write(w.ctx.join("a.txz"), xz).unwrap();
    w.write("plain.gz", "not a tar", 0o644);
    let img = w.ok("FROM scratch\nADD a.tar.gz /tgz/\nADD a.bin /tbz\nADD a.txz /txz\nADD plain.gz /p.gz\n");
    for (i, d) in ["tgz", "tbz", "txz"].iter().enumerate() {
        let got: Vec<String> = img.layers[i].iter().map(|s| format!("{} {}", s.path, s.data)).collect();
        assert_eq!(got, [format!("{d}/ "), format!("{d}/sub/ "), format!("{d}/t.txt t\n")], "{d}");
    }
    assert_eq!(img.layers[3][0].data, "not a tar", "a file that is not a tar is copied as is");
}

#[test]
fn several_platforms_make_an_index() {
    let mut w = world();
    let mut o = w.opts("FROM scratch\nARG TARGETARCH\nLABEL arch=$TARGETARCH\n");
    o.platforms = vec![Platform::new("linux", "amd64", None), Platform::new("linux", "arm64", Some("v8"))];
    let built = w.build(&o).unwrap();
    assert_eq!(built.manifest.media_type, media_type::OCI_INDEX);
    let Manifest::Index(index) = Manifest::parse(&built.manifest.raw, None).unwrap() else { panic!() };
    let arches: Vec<String> = index.manifests.iter().map(|d| d.platform.as_ref().unwrap().to_string()).collect();
    assert_eq!(arches, ["linux/amd64", "linux/arm64/v8"]);
    let (raw, _) = w.store.read_manifest(&index.manifests[1]).unwrap();
    assert_eq!(w.image(&raw).config["config"]["Labels"]["arch"], "arm64");
    // The index is complete (tag checks every blob under it) and its ID is its own digest, as podman's.
    let name = Reference::parse_normalized("localhost/multi:1").unwrap();
    w.store.tag(&name, &built.manifest.descriptor()).unwrap();
    let found = w.store.find("localhost/multi:1").unwrap();
    assert_eq!(found.descriptor.digest, built.manifest.descriptor().digest);
    assert_eq!(w.store.image_id(&found).unwrap(), built.id);
    assert_eq!(built.id, built.manifest.descriptor().digest);
}

#[test]
fn a_base_path_that_is_a_file_is_refused() {
    let mut w = world();
    w.write("a.txt", "a", 0o644);
    let err = w.build(&w.opts("FROM base:1\nCOPY a.txt /etc/passwd/x\n")).unwrap_err().to_string();
    assert!(err.contains("line 2") && err.contains("not a directory"), "{err}");
    let err = w.build(&w.opts("FROM base:1\nWORKDIR /etc/passwd\n")).unwrap_err().to_string();
    assert!(err.contains("line 2") && err.contains("not a directory"), "{err}");
}

/// The Dockerfile that doubled a value 42 times (842 bytes, 3.3 GB when expanded): it fails at the line
/// that passes 1 MiB, quickly and without taking the memory.
fn doubling(lines: usize) -> String {
    let mut df = String::from("FROM scratch\nENV a0=xxxxxxxxxxxxxxxxxxxx\n");
    for i in 0..lines {
        df.push_str(&format!("ENV a{}=${{a{i}}}${{a{i}}}\n", i + 1));
    }
    df
}

#[test]
fn expansion_is_bounded_and_names_the_line() {
    let mut w = world();
    let started = std::time::Instant::now();
    let e = w.build(&w.opts(&doubling(41))).unwrap_err().to_string();
    // 20 bytes * 2^16 = 1.25 MiB: a16, on line 2 + 16.
    assert!(e.starts_with("Dockerfile line 18: ") && e.contains("1048576 bytes"), "{e}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // Up to the limit is fine.
    let img = w.ok(&doubling(15));
    let env = img.config["config"]["Env"].as_array().unwrap();
    assert_eq!(env.last().unwrap().as_str().unwrap().len(), "a15=".len() + (20 << 15));
    // In a word of its own, in a LABEL, through ${x:-...}: all the same.
    let df = format!("{}LABEL big=\"${{nope:-$a15$a15$a15}}\"\n", doubling(15));
    assert!(w.build(&w.opts(&df)).unwrap_err().to_string().contains(&format!("line {}", 18)));
}

#[test]
fn the_config_stays_readable() {
    let mut w = world();
    // a1..a15 take 1.25 MiB, then values of 640 KiB each: the eleventh (line 18 + 10) passes 8 MiB.
    let mut df = doubling(15);
    for i in 0..16 {
        df.push_str(&format!("ENV b{i}=$a15\n"));
    }
    let e = w.build(&w.opts(&df)).unwrap_err().to_string();
    assert!(e.starts_with("Dockerfile line 28: the image config would pass 8388608 bytes"), "{e}");
    // Labels and volumes count too.
    let mut df = doubling(15);
    for i in 0..6 {
        df.push_str(&format!("LABEL x{i}=$a15\nVOLUME /{i}$a15\n"));
    }
    let e = w.build(&w.opts(&df)).unwrap_err().to_string();
    assert!(e.contains("the image config would pass"), "{e}");
    // Setting one variable again and again does not count twice.
    let mut df = doubling(15);
    for _ in 0..40 {
        df.push_str("ENV b=$a15\nLABEL b=$a15\n");
    }
    w.ok(&df);
}

#[test]
fn dockerfile_size_and_instruction_count_are_capped() {
    let labels = format!("FROM scratch\n{}", "LABEL a=b\n".repeat(600_000));
    let e = dockerfile::parse(&labels).unwrap_err();
    assert_eq!(e.line, 1 + (dockerfile::MAX_SIZE - "FROM scratch\n".len()) / 10 + 1, "{e}");
    assert!(e.message.contains("4194304 bytes"), "{e}");
    let read = dockerfile::read(labels.as_bytes()).unwrap();
    assert_eq!(read.len(), dockerfile::MAX_SIZE + 1, "read stops one byte past the limit");
    let many = format!("FROM scratch\n{}", "LABEL a=b\n".repeat(dockerfile::MAX_INSTRUCTIONS));
    let e = dockerfile::parse(&many).unwrap_err();
    assert_eq!(e.line, dockerfile::MAX_INSTRUCTIONS + 1);
    assert!(e.message.contains("more than 10000 instructions"), "{e}");
    let just = format!("FROM scratch\n{}", "LABEL a=b\n".repeat(dockerfile::MAX_INSTRUCTIONS - 1));
    assert_eq!(dockerfile::parse(&just).unwrap().instructions.len(), dockerfile::MAX_INSTRUCTIONS);
    assert!(dockerfile::read(&b"FROM \xff\n"[..]).is_err(), "not UTF-8");
}

/// Warnings, recorded.
#[derive(Default)]
struct Warnings(Mutex<Vec<String>>);

impl crate::observe::Observer for Warnings {
    fn warning(&self, line: &str) {
        self.0.lock().unwrap().push(line.to_owned());
    }
}

#[test]
fn add_streams_archives_and_names_what_it_leaves_out() {
    let mut w = world();
    let mut b = tar::Builder::new(Vec::new());
    let mut put = |path: &str, kind: tar::EntryType, link: Option<&str>, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        match link {
            Some(l) => b.append_link(&mut h, path, l).unwrap(),
            None => b.append_data(&mut h, path, data).unwrap(),
        }
    };
    put("big", tar::EntryType::Regular, None, &vec![7u8; 3 << 20]);
    put("same", tar::EntryType::Link, Some("big"), b"");
    put("abs", tar::EntryType::Link, Some("/etc/shadow"), b"");
    put("dev/null", tar::EntryType::Char, None, b"");
    put("dev/sda", tar::EntryType::Block, None, b"");
    put("pipe", tar::EntryType::Fifo, None, b"");
    let tar_bytes = b.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar_bytes).unwrap();
    std::fs::write(w.ctx.join("a.tgz"), gz.finish().unwrap()).unwrap();
    let warnings = Warnings::default();
    let built = build(&w.store, &w.opts("FROM scratch\nADD a.tgz /x/\n"), &mut w.bases, &warnings).unwrap();
    let img = w.image(&built.manifest.raw);
    let got: Vec<(String, usize)> = img.layers[0].iter().map(|s| (s.path.clone(), s.data.len())).collect();
    assert_eq!(got, [("x/".into(), 0), ("x/big".into(), 3 << 20), ("x/same".into(), "x/big".len())]);
    assert!(img.layers[0][1].data.bytes().all(|b| b == 7));
    let same = &img.layers[0][2];
    assert_eq!((same.kind, same.data.as_str()), ('h', "x/big"), "the archive's hard link stays one, as BuildKit");
    let warnings = warnings.0.into_inner().unwrap();
    assert_eq!(warnings.len(), 4, "{warnings:?}");
    let whats = [
        "abs (a hard link to /etc/shadow",
        "dev/null (a character device)",
        "dev/sda (a block device)",
        "pipe (a FIFO)",
    ];
    for (w, what) in warnings.iter().zip(whats) {
        assert!(w.starts_with("ADD a.tgz: left out ") && w.contains(what), "{w}");
    }
    // COPY --from reads through the spool too: the same bytes.
    let img = w.ok("FROM scratch AS one\nADD a.tgz /x/\nFROM scratch\nCOPY --from=one /x/big /y\n");
    assert_eq!(img.layers[0][0].data.len(), 3 << 20);
    assert!(img.layers[0][0].data.bytes().all(|b| b == 7));
    // Both names of the stage's file, copied together: still one file; the link alone: its bytes.
    let img =
        w.ok("FROM scratch AS one\nADD a.tgz /x/\nFROM scratch\nCOPY --from=one /x/ /z/\nCOPY --from=one /x/same /s\n");
    let got: Vec<(String, char, usize)> =
        img.layers[0].iter().map(|s| (s.path.clone(), s.kind, s.data.len())).collect();
    assert_eq!(got, [("z/".into(), 'd', 0), ("z/big".into(), '-', 3 << 20), ("z/same".into(), 'h', "z/big".len())]);
    assert_eq!((img.layers[1][0].kind, img.layers[1][0].data.len()), ('-', 3 << 20));
    // Nothing left behind in the store's temp directory.
    let left: Vec<_> = std::fs::read_dir(w.store.temp_dir()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn xz_archives_are_measured_before_they_are_decoded() {
    let mut w = world();
    for size in [0usize, 1, 100_000, 3 << 20] {
        let data: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
        let mut xz = Vec::new();
        lzma_rs::xz_compress(&mut &data[..], &mut xz).unwrap();
        assert_eq!(crate::archive::compression::xz_decoded_size(&mut &xz[..]).unwrap(), size as u64);
    }
    // 17 MiB of zeros: a small file, refused before it is decoded.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(17 << 20);
    h.set_mode(0o644);
    b.append_data(&mut h, "zeros", std::io::repeat(0).take(17 << 20)).unwrap();
    let mut xz = Vec::new();
    lzma_rs::xz_compress(&mut &b.into_inner().unwrap()[..], &mut xz).unwrap();
    std::fs::write(w.ctx.join("z.txz"), xz).unwrap();
    let e = w.build(&w.opts("FROM scratch\nADD z.txz /\n")).unwrap_err().to_string();
    assert!(e.starts_with("Dockerfile line 2: ") && e.contains("recompress it with gzip or zstd"), "{e}");
}

#[test]
fn refusals_name_their_facts() {
    assert!(matches!(check("FROM x AS a\n", Some("b")), Err(BuildError::TargetNotFound { target }) if target == "b"));
    assert!(matches!(check("ARG A=1\n", None), Err(BuildError::NoFrom)));
    let mut w = world();
    let mut o = w.opts("FROM scratch\n");
    o.platforms.clear();
    assert!(matches!(w.build(&o), Err(BuildError::NoPlatform)));
    let mut o = w.opts("FROM scratch\n");
    o.ignore = Some("!\n".to_owned());
    let e = w.build(&o).unwrap_err();
    assert!(matches!(e, BuildError::Ignore(dockerignore::IgnoreError::LoneBang { line: 1 })), "{e:?}");
    assert_eq!(e.to_string(), ".dockerignore: line 1: illegal exclusion pattern: \"!\"");
}

#[test]
fn a_base_that_cannot_be_had_keeps_the_bases_error() {
    let mut w = world();
    let e = w.build(&w.opts("FROM nothere:1\n")).unwrap_err();
    let BuildError::Base { line: 1, name, source: BaseError::Unavailable(source) } = &e else { panic!("{e:?}") };
    assert_eq!(name, "nothere:1");
    assert_eq!(source.downcast_ref::<NotKnown>().map(|n| n.0.as_str()), Some("nothere:1"), "the error itself");
    assert_eq!(e.to_string(), "Dockerfile line 1: FROM nothere:1: nothere:1: image not known");

    let e = w.build(&w.opts("FROM base:1\nCOPY --from=other:2 /a /a\n")).unwrap_err();
    let BuildError::Step { line: 2, keyword: Keyword::Copy, source } = &e else { panic!("{e:?}") };
    let BuildError::FromImage { name, source: BaseError::Unavailable(source) } = source.as_ref() else {
        panic!("{source:?}")
    };
    assert_eq!(name, "other:2");
    assert!(source.downcast_ref::<NotKnown>().is_some(), "{source:?}");
    assert_eq!(e.to_string(), "Dockerfile line 2: COPY: --from=other:2: other:2: image not known");
}

/// Progress lines, recorded.
#[derive(Default)]
struct Steps(Mutex<Vec<String>>);

impl crate::observe::Observer for Steps {
    fn progress(&self, line: &str) {
        self.0.lock().unwrap().push(line.to_owned());
    }
}

/// A build's steps leave through the one observer every operation has, as podman words them.
#[test]
fn steps_are_the_observers_progress() {
    let mut w = world();
    let steps = Steps::default();
    build(&w.store, &w.opts("FROM scratch\nLABEL a=b\n"), &mut w.bases, &steps).unwrap();
    assert_eq!(*steps.0.lock().unwrap(), ["STEP 1/2: FROM scratch", "STEP 2/2: LABEL a=b"]);
}

/// Several stages: each numbered on its own after podman's `[N/M] ` (M counts the stages up to the target;
/// a stage the target does not need is skipped, not renumbered), the target's prefix kept for `COMMIT`.
#[test]
fn steps_of_several_stages_are_numbered_per_stage_as_podman() {
    let mut w = world();
    let steps = Steps::default();
    let dockerfile = "FROM scratch AS a\nLABEL a=1\nFROM scratch AS unused\nLABEL u=1\nFROM a AS c\nLABEL c=1\nENV E=1\nFROM scratch AS d\n";
    let mut opts = w.opts(dockerfile);
    opts.target = Some("c".into());
    let built = build(&w.store, &opts, &mut w.bases, &steps).unwrap();
    assert_eq!(
        *steps.0.lock().unwrap(),
        [
            "[1/3] STEP 1/2: FROM scratch AS a",
            "[1/3] STEP 2/2: LABEL a=1",
            "[3/3] STEP 1/3: FROM a AS c",
            "[3/3] STEP 2/3: LABEL c=1",
            "[3/3] STEP 3/3: ENV E=1",
        ]
    );
    assert_eq!(built.commit_prefix, "[3/3] ");

    let steps = Steps::default();
    let mut opts = w.opts("FROM scratch\nLABEL a=b\n");
    opts.platforms = vec![Platform::new("linux", "amd64", None), Platform::new("linux", "arm64", None)];
    let built = build(&w.store, &opts, &mut w.bases, &steps).unwrap();
    assert_eq!(
        *steps.0.lock().unwrap(),
        [
            "[linux/amd64] STEP 1/2: FROM scratch",
            "[linux/amd64] STEP 2/2: LABEL a=b",
            "[linux/arm64] STEP 1/2: FROM scratch",
            "[linux/arm64] STEP 2/2: LABEL a=b",
        ]
    );
    assert_eq!(built.commit_prefix, "");
}

/// As BuildKit (tests/docker_build.rs compares with Docker): `WORKDIR` of a directory that exists is still a
/// layer, an empty one (but `WORKDIR /` is config only); `ADD` of an archive keeps the archive's owners unless `--chown`; `COPY
/// --from` keeps the source's owners unless `--chown`.
#[test]
fn workdir_layers_and_owners_follow_buildkit() {
    let mut w = world();
    let img = w.ok("FROM base:1\nWORKDIR /usr/share\nWORKDIR /\nWORKDIR usr\n");
    assert_eq!(img.layers.len(), 3, "the base layer and one per WORKDIR but `/`");
    assert!(img.layers[1].is_empty() && img.layers[2].is_empty(), "nothing to create: empty layers");
    assert_eq!(img.config["config"]["WorkingDir"], "/usr");
    let empty: Vec<bool> =
        img.config["history"].as_array().unwrap().iter().map(|h| h["empty_layer"] == json!(true)).collect();
    assert_eq!(empty, [false, false, true, false], "each WORKDIR's history entry has its layer, `/` none");

    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_uid(1234);
    h.set_gid(4321);
    h.set_mode(0o640);
    h.set_size(3);
    b.append_data(&mut h, "f.txt", &b"hi\n"[..]).unwrap();
    std::fs::write(w.ctx.join("a.tar"), b.into_inner().unwrap()).unwrap();
    w.write("c.txt", "c\n", 0o644);
    let img = w.ok("FROM base:1 AS src\nCOPY --chown=101:50 c.txt /c.txt\n\
         FROM base:1\nADD a.tar /x/\nADD --chown=5:6 a.tar /y/\nCOPY --from=src /c.txt /d.txt\n\
         COPY --from=src --chown=7:8 /c.txt /e.txt\n");
    assert_eq!(lines(&img.layers[1]), ["x/ d 755 0:0", "x/f.txt - 640 1234:4321"], "the archive's owners");
    assert_eq!(lines(&img.layers[2]), ["y/ d 755 5:6", "y/f.txt - 640 5:6"], "--chown wins");
    assert_eq!(lines(&img.layers[3]), ["d.txt - 644 101:50"], "the source's owner");
    assert_eq!(lines(&img.layers[4]), ["e.txt - 644 7:8"], "--chown wins");
}

/// Context files that are hard links of one another stay hard links in the layer (the first by path holds
/// the bytes), as BuildKit writes them; a later `COPY --from` of the link reads its target's bytes.
#[test]
fn context_hard_links_stay_hard_links() {
    let mut w = world();
    w.write("h/b.txt", "shared\n", 0o644);
    std::fs::hard_link(w.ctx.join("h/b.txt"), w.ctx.join("h/a.txt")).unwrap();
    w.write("h/c.txt", "alone\n", 0o644);
    let img = w.ok("FROM base:1\nCOPY h /h/\n");
    let got: Vec<(String, char, String)> =
        img.layers[1].iter().map(|s| (s.path.clone(), s.kind, s.data.clone())).collect();
    assert_eq!(
        got,
        [
            ("h/".to_owned(), 'd', String::new()),
            ("h/a.txt".to_owned(), '-', "shared\n".to_owned()),
            ("h/b.txt".to_owned(), 'h', "h/a.txt".to_owned()),
            ("h/c.txt".to_owned(), '-', "alone\n".to_owned()),
        ]
    );
    let img = w.ok("FROM base:1 AS s\nCOPY h /h/\nFROM base:1\nCOPY --from=s /h/b.txt /b.txt\n");
    assert_eq!(img.layers[1][0].data, "shared\n", "the link's bytes are its target's");
}

const DOCKER_ONLY: &str = "FROM base:1\nSHELL [\"/bin/bash\", \"-c\"]\nHEALTHCHECK --interval=5s CMD [\"/bin/check\"]\n\
                           ONBUILD COPY a.txt /b.txt\nSTOPSIGNAL SIGKILL\nCMD [\"/a\"]\n";

#[test]
fn format_docker_writes_schema_2_with_the_same_config() {
    let mut w = world();
    let oci = w.build(&w.opts(DOCKER_ONLY)).unwrap();
    let mut o = w.opts(DOCKER_ONLY);
    o.format = BuildFormat::Docker;
    let docker = w.build(&o).unwrap();
    assert_eq!(oci.manifest.media_type, media_type::OCI_MANIFEST);
    assert_eq!(docker.manifest.media_type, media_type::DOCKER_MANIFEST);
    // The config's bytes are the same: one image ID, Healthcheck, Shell and OnBuild kept (podman's docker).
    assert_eq!(docker.id, oci.id);
    let img = w.image(&docker.manifest.raw);
    assert_eq!(img.manifest.media_type.as_deref(), Some(media_type::DOCKER_MANIFEST));
    assert_eq!(img.manifest.config.media_type, media_type::DOCKER_CONFIG);
    assert!(img.manifest.layers.iter().all(|l| l.media_type == media_type::DOCKER_LAYER_GZIP));
    assert!(img.manifest.annotations.is_none(), "schema 2 has no annotations");
    assert_eq!(img.config["config"]["Shell"], json!(["/bin/bash", "-c"]));
    assert_eq!(img.config["config"]["OnBuild"], json!(["COPY a.txt /b.txt"]));
    assert_eq!(img.config["config"]["Healthcheck"]["Interval"], 5_000_000_000i64);
    assert!(docker.new_layers.iter().all(|l| l.media_type == media_type::DOCKER_LAYER_GZIP));
    // The manifest is in the store, named by its bytes.
    assert_eq!(w.store.read_manifest(&docker.manifest.descriptor()).unwrap().0, docker.manifest.raw);

    // Several platforms: a manifest list over Docker manifests.
    o.dockerfile = "FROM scratch\nLABEL a=b\n".to_owned();
    o.platforms = vec![Platform::new("linux", "amd64", None), Platform::new("linux", "arm64", Some("v8"))];
    let list = w.build(&o).unwrap();
    assert_eq!(list.manifest.media_type, media_type::DOCKER_LIST);
    let Manifest::Index(index) = Manifest::parse(&list.manifest.raw, None).unwrap() else { panic!() };
    assert_eq!(index.media_type.as_deref(), Some(media_type::DOCKER_LIST));
    assert!(index.manifests.iter().all(|d| d.media_type == media_type::DOCKER_MANIFEST));
    let (raw, _) = w.store.read_manifest(&index.manifests[1]).unwrap();
    assert_eq!(w.image(&raw).manifest.config.media_type, media_type::DOCKER_CONFIG);
    assert_eq!(list.id, list.manifest.descriptor().digest);
}

#[test]
fn format_oci_drops_what_podman_drops_with_its_warnings() {
    let mut w = world();
    let mut o = w.opts(DOCKER_ONLY);
    o.format = BuildFormat::OciAsPodman;
    let seen = crate::observe::testing::Recorder::default();
    let built = build(&w.store, &o, &mut w.bases, &seen).unwrap();
    assert_eq!(built.manifest.media_type, media_type::OCI_MANIFEST);
    let img = w.image(&built.manifest.raw);
    let c = &img.config["config"];
    assert!(c.get("Shell").is_none() && c.get("Healthcheck").is_none() && c.get("OnBuild").is_none(), "{c}");
    assert_eq!((&c["StopSignal"], &c["Cmd"]), (&json!("SIGKILL"), &json!(["/a"])), "OCI has these");
    assert_eq!(
        *seen.warnings.lock().unwrap(),
        [
            "SHELL is not supported for OCI image format, [/bin/bash -c] will be ignored. Must use `docker` format",
            "HEALTHCHECK is not supported for OCI image format and will be ignored. Must use `docker` format",
            "ONBUILD is not supported for OCI image format, COPY a.txt /b.txt will be ignored. Must use `docker` format",
        ]
    );
    // Without the three, nothing is said and the image is the default's.
    let seen = crate::observe::testing::Recorder::default();
    o.dockerfile = "FROM base:1\nSTOPSIGNAL SIGKILL\n".to_owned();
    let quiet = build(&w.store, &o, &mut w.bases, &seen).unwrap();
    assert!(seen.warnings.lock().unwrap().is_empty());
    assert_eq!(quiet.id, w.build(&w.opts("FROM base:1\nSTOPSIGNAL SIGKILL\n")).unwrap().id);
}

#[test]
fn format_names_as_podman_reads_them() {
    assert_eq!("oci".parse(), Ok(BuildFormat::OciAsPodman));
    assert_eq!("Docker".parse(), Ok(BuildFormat::Docker));
    assert_eq!("dockerv2".parse(), Ok(BuildFormat::Docker), "podman takes any word starting with docker");
    let e = "v2s2".parse::<BuildFormat>().unwrap_err();
    assert_eq!(e.to_string(), "unrecognized image type \"v2s2\": use oci or docker");
    let e = "".parse::<BuildFormat>().unwrap_err();
    assert_eq!(e.to_string(), "unrecognized image type \"\": use oci or docker");
}
