//! `hoist build` side by side with `podman build` from the same context and the same base (pushed to a real
//! distribution registry by skopeo): the same config fields and the same files, modes and owners in the
//! added layers; podman and skopeo read what hoist pushed; builds are reproducible with SOURCE_DATE_EPOCH;
//! RUN and ADD of a URL are refused before any work. Then the release tags on the registry: `tag --semver`,
//! `promote`, `list-tags --semver`; and `hoist access` against token and htpasswd registries.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use harness::Run;
use harness::hoist::{HoistWorld, hoist, insecure_registries as insecure};
use harness::image::host_arch;
use harness::layers::{Layer, base_layout, finish_layout, put_blob, read_layout, show, write};
use harness::podman::Containers;
use harness::registry::{Options, Registry};
use harness::tmpfs::Tmpfs;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

fn hoist_env(w: &HoistWorld, args: &[&str], env: &[(&str, &str)]) -> Run {
    let extra = env.iter().map(|(k, v)| (k.into(), v.into())).collect();
    w.run(args, b"", &extra)
}

/// What podman built: copied out of its storage as an OCI layout.
fn podman_image(c: &Containers, name: &str) -> (Value, Vec<Layer>) {
    let dir = c.path(&format!("out-{}", name.replace([':', '/'], "-")));
    let policy = format!("--policy={}", c.policy.display());
    c.skopeo(&["copy", &policy, &format!("containers-storage:{name}"), &format!("oci:{}:x", dir.display())])
        .expect_ok("skopeo copy out of podman's storage");
    let (config, layers, _) = read_layout(&dir, "x");
    (config, layers)
}

/// The container config fields the issue names, with the label podman adds about itself left out.
fn fields(config: &Value) -> Value {
    let c = &config["config"];
    let mut labels = c["Labels"].clone();
    if let Some(m) = labels.as_object_mut() {
        m.remove("io.buildah.version");
    }
    json!({
        "Env": c["Env"], "WorkingDir": c["WorkingDir"], "ExposedPorts": c["ExposedPorts"], "Volumes": c["Volumes"],
        "Labels": labels, "User": c["User"], "Entrypoint": c["Entrypoint"], "Cmd": c["Cmd"], "StopSignal": c["StopSignal"],
    })
}

struct Setup {
    reg: Registry,
    c: Containers,
    w: HoistWorld,
}

impl Setup {
    fn new() -> Setup {
        let reg = Registry::start(Options::default());
        let host = reg.host();
        let c = Containers::new(std::slice::from_ref(&host));
        let w = HoistWorld::new(&insecure(&[&host]));
        let base = c.path("base-layout");
        base_layout(&base);
        let policy = format!("--policy={}", c.policy.display());
        c.skopeo(&[
            "copy",
            &policy,
            "--dest-tls-verify=false",
            &format!("oci:{}:v1", base.display()),
            &format!("docker://{host}/base:1"),
        ])
        .expect_ok("skopeo pushes the base image");
        Setup { reg, c, w }
    }

    fn host(&self) -> String {
        self.reg.host()
    }

    fn context(&self, name: &str) -> PathBuf {
        let p = self.c.path(&format!("ctx-{name}"));
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    /// Builds `ctx` with podman (as `podman:NAME`) and hoist (as `hoist:NAME`); both config and layers.
    fn both(&self, ctx: &Path, name: &str) -> ((Value, Vec<Layer>), (Value, Vec<Layer>)) {
        let ctx_s = ctx.to_str().unwrap();
        self.c
            .podman(
                &["build", "--format", "oci", "--tls-verify=false", "-t", &format!("localhost/podman-{name}:1"), ctx_s],
                b"",
            )
            .expect_ok("podman build");
        let out = hoist(&self.w, &["build", "-t", &format!("hoist-{name}:1"), ctx_s]).expect_ok("hoist build");
        assert_eq!(built_id(&out).len(), 64, "hoist build prints the image ID last: {}", out.out());
        let (hc, hl, _) = read_layout(&self.w.path("store"), &format!("localhost/hoist-{name}:1"));
        (podman_image(&self.c, &format!("localhost/podman-{name}:1")), (hc, hl))
    }
}

/// The image ID `hoist build` prints last on stdout (its steps come before it, as podman's).
fn built_id(out: &Run) -> String {
    out.out().lines().last().unwrap_or_default().to_owned()
}

fn without(layer: &Layer, skip: &[String]) -> Layer {
    layer.iter().filter(|(k, _)| !skip.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect()
}

#[test]
fn the_seed_and_a_richer_dockerfile_match_podman_build() {
    let s = Setup::new();
    let host = s.host();

    // The seed's Dockerfile, with the base from the test registry instead of nginx.
    let seed = s.context("seed");
    write(
        &seed,
        "Dockerfile",
        &format!("FROM {host}/base:1\nVOLUME /site-data\nWORKDIR /usr/src/app\nEXPOSE 80\n"),
        0o644,
    );
    let ((pc, pl), (hc, hl)) = s.both(&seed, "seed");
    assert_eq!(fields(&hc), fields(&pc), "config fields");
    assert_eq!(fields(&hc)["WorkingDir"], "/usr/src/app");
    assert_eq!(pl.len(), 1, "podman adds no layer");
    // The one deliberate difference (docs/commands/build.md): hoist's WORKDIR creates its directory.
    assert_eq!(hl.len(), 2);
    assert_eq!(show(&hl[1]), ["usr d 755 0:0", "usr/src d 755 0:0", "usr/src/app d 755 0:0"]);
    assert_eq!(hl[0], pl[0], "the base layer is the base's");

    // A richer one: ARG, ENV, LABEL, COPY of files and directories with --chown/--chmod, a wildcard,
    // .dockerignore, USER, ENTRYPOINT + CMD, and two stages.
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
    let ((pc, pl), (hc, hl)) = s.both(&rich, "rich");
    assert_eq!(fields(&hc), fields(&pc), "config fields");
    assert_eq!(fields(&hc)["User"], "www");
    assert_eq!(fields(&hc)["Cmd"], json!(["--port", "8080"]));
    // hoist: base, WORKDIR, then the four COPY layers; podman: base and the four COPY layers.
    assert_eq!((pl.len(), hl.len()), (5, 6));
    assert_eq!(show(&hl[1]), ["srv d 755 0:0", "srv/app d 755 0:0"], "WORKDIR's own layer");
    // What WORKDIR created is the one difference: podman creates those directories with the first COPY
    // that needs them (owned as that COPY's --chown says); everything else is the same.
    let skip = vec!["srv".to_owned(), "srv/app".to_owned()];
    for (i, (p, h)) in pl[1..].iter().zip(&hl[2..]).enumerate() {
        assert_eq!(show(&without(h, &skip)), show(&without(p, &skip)), "layer {} (modes and owners)", i + 1);
        assert_eq!(without(h, &skip), without(p, &skip), "layer {} (bytes)", i + 1);
    }
    let conf = &hl[2]["srv/app/conf/app.conf"];
    assert_eq!((conf.mode, conf.uid, conf.gid), (0o640, 101, 50), "--chown=nginx:staff --chmod=640");
    assert!(!hl[5].contains_key("usr/share/www/notes.txt"), ".dockerignore kept notes.txt out");
    assert_eq!(hl[5]["usr/share/www/b.txt"].uid, 1000, "--chown=www");

    // hoist pushes its build; only the new layers travel (the base's is skipped or mounted); podman and
    // skopeo read the result.
    let out = hoist(&s.w, &["build", "--push", "-t", &format!("{host}/team/rich:1"), rich.to_str().unwrap()])
        .expect_ok("hoist build --push");
    let err = out.err();
    assert!(err.contains("copied 6 blob(s)") && err.contains("mounted 1"), "{err}");
    let policy = format!("--policy={}", s.c.policy.display());
    let cfg =
        s.c.skopeo(&["inspect", "--tls-verify=false", "--config", &format!("docker://{host}/team/rich:1")])
            .expect_ok("skopeo inspect --config");
    let pushed: Value = serde_json::from_slice(&cfg.stdout).unwrap();
    assert_eq!(fields(&pushed), fields(&pc));
    s.c.podman(&["pull", "-q", "--tls-verify=false", &format!("{host}/team/rich:1")], b"").expect_ok("podman pull");
    let inspected = s.c.podman(&["image", "inspect", &format!("{host}/team/rich:1")], b"").expect_ok("podman inspect");
    let inspected: Value = serde_json::from_slice(&inspected.stdout).unwrap();
    assert_eq!(inspected[0]["Config"]["User"], "www");
    assert_eq!(inspected[0]["Config"]["WorkingDir"], "/srv/app");
    assert_eq!(inspected[0]["Config"]["Entrypoint"], json!(["/usr/local/bin/app"]));
    // skopeo copies it whole (every blob verified against its digest).
    let copied = s.c.path("copied");
    s.c.skopeo(&[
        "copy",
        &policy,
        "--src-tls-verify=false",
        &format!("docker://{host}/team/rich:1"),
        &format!("oci:{}:x", copied.display()),
    ])
    .expect_ok("skopeo copy of hoist's image");
}

#[test]
fn reproducible_with_source_date_epoch_and_refusals_before_work() {
    let s = Setup::new();
    let host = s.host();
    let ctx = s.context("repro");
    write(&ctx, "a.txt", "a\n", 0o644);
    write(&ctx, "d/b.txt", "b\n", 0o600);
    write(&ctx, "Dockerfile", &format!("FROM {host}/base:1\nCOPY . /app/\nWORKDIR /w\nLABEL x=y\n"), 0o644);
    let c = ctx.to_str().unwrap();
    let env = [("SOURCE_DATE_EPOCH", "1700000000")];
    let one = hoist_env(&s.w, &["build", "-t", "repro:1", c], &env).expect_ok("first build");
    // Touch the context: new mtimes must not change the image.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    write(&ctx, "a.txt", "a\n", 0o644);
    let two = hoist_env(&s.w, &["build", "-t", "repro:2", c], &env).expect_ok("second build");
    assert_eq!(built_id(&one), built_id(&two), "one image ID");
    let d1 = hoist(&s.w, &["digest", "repro:1"]).expect_ok("digest").out();
    let d2 = hoist(&s.w, &["digest", "repro:2"]).expect_ok("digest").out();
    assert_eq!(d1, d2, "one manifest digest");
    let (config, layers, _) = read_layout(&s.w.path("store"), "localhost/repro:1");
    assert_eq!(config["created"], "2023-11-14T22:13:20Z");
    assert!(config["history"].as_array().unwrap()[1..].iter().all(|h| h["created"] == "2023-11-14T22:13:20Z"));
    let mut raw = Vec::new();
    let (_, _, manifest) = read_layout(&s.w.path("store"), "localhost/repro:1");
    let blob = manifest["layers"][1]["digest"].as_str().unwrap().strip_prefix("sha256:").unwrap().to_owned();
    flate2::read::GzDecoder::new(&std::fs::read(s.w.path("store").join("blobs/sha256").join(blob)).unwrap()[..])
        .read_to_end(&mut raw)
        .unwrap();
    for e in tar::Archive::new(&raw[..]).entries().unwrap() {
        let e = e.unwrap();
        let h = e.header();
        assert_eq!(h.mtime().unwrap(), 1_700_000_000, "every mtime is SOURCE_DATE_EPOCH");
        assert_eq!(h.username().unwrap(), Some(""), "no host user names");
    }
    assert_eq!(
        layers[1].keys().cloned().collect::<Vec<_>>(),
        ["app", "app/Dockerfile", "app/a.txt", "app/d", "app/d/b.txt"],
        "sorted"
    );
    // Without it, a later build differs (its created time).
    let three = hoist(&s.w, &["build", "-t", "repro:3", c]).expect_ok("third build");
    assert_ne!(built_id(&three), built_id(&one));

    // RUN and ADD of a URL: one error line with the line number, before anything is pulled.
    let fresh = HoistWorld::new(&insecure(&[&host]));
    let bad = s.context("bad");
    write(&bad, "Dockerfile", &format!("FROM {host}/base:1\nCOPY a /a\n\nRUN apk add curl\n"), 0o644);
    let out = hoist(&fresh, &["build", "-t", "bad:1", bad.to_str().unwrap()]);
    one_error_line(&out, &["Dockerfile line 4", "RUN apk add curl", "without running containers"]);
    write(&bad, "Dockerfile", &format!("FROM {host}/base:1\nADD https://example.com/app.tgz /app/\n"), 0o644);
    let out = hoist(&fresh, &["build", "-t", "bad:1", bad.to_str().unwrap()]);
    one_error_line(&out, &["Dockerfile line 2", "ADD https://example.com/app.tgz", "does not download"]);
    let images = hoist(&fresh, &["images", "--format", "json"]).expect_ok("images");
    assert_eq!(serde_json::from_slice::<Value>(&images.stdout).unwrap(), json!([]), "nothing was pulled");
    assert!(!out.err().contains("Trying to pull"), "{}", out.err());
}

fn one_error_line(out: &Run, must: &[&str]) {
    assert_eq!(out.code, Some(125), "{out:?}");
    let err = out.err();
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("Error:")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    for m in must {
        assert!(lines[0].contains(m), "{m:?} not in {:?}", lines[0]);
    }
}

/// Pushes a one-file image (its content names it, so every tag gets its own digest) as `docker://{host}/{repo}:{tag}`;
/// returns the digest.
fn push_version(c: &Containers, host: &str, repo: &str, tag: &str) -> String {
    let layout = c.path(&format!("layout-{}-{tag}", repo.replace('/', "-")));
    let digest = harness::image::write_oci_layout(&layout, "v1", &[(tag, tag.as_bytes())]);
    let policy = format!("--policy={}", c.policy.display());
    c.skopeo(&[
        "copy",
        &policy,
        "--dest-tls-verify=false",
        &format!("oci:{}:v1", layout.display()),
        &format!("docker://{host}/{repo}:{tag}"),
    ])
    .expect_ok("skopeo copy");
    digest
}

fn remote_digest(w: &HoistWorld, image: &str) -> String {
    hoist(w, &["digest", &format!("docker://{image}")]).expect_ok("hoist digest").out().trim().to_owned()
}

fn tags_of(w: &HoistWorld, repo: &str, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["list-tags", "--format", "text", repo];
    args.extend_from_slice(extra);
    hoist(w, &args).expect_ok("list-tags").out().lines().map(str::to_owned).collect()
}

#[test]
fn semver_tags_promote_and_list_tags_against_distribution() {
    let reg = Registry::start(Options::default());
    let other = Registry::start(Options::default());
    let (host, host2) = (reg.host(), other.host());
    let c = Containers::new(&[host.clone(), host2.clone()]);
    let w = HoistWorld::new(&insecure(&[&host, &host2]));
    let app = format!("{host}/app");
    let d215 = push_version(&c, &host, "app", "2.1.5");
    let d230 = push_version(&c, &host, "app", "2.3.0");

    // 2.1.5 fans out to 2.1 and 2.
    let out = hoist(&w, &["tag", "--remote", "--semver", &format!("{app}:2.1.5")]).expect_ok("semver 2.1.5").out();
    assert!(out.contains("2.1: created") && out.contains("2: created"), "{out}");
    assert_eq!(remote_digest(&w, &format!("{app}:2.1")), d215);
    assert_eq!(remote_digest(&w, &format!("{app}:2")), d215);
    // 2.3.0 (with latest) moves 2 forward.
    let out = hoist(&w, &["tag", "--remote", "--semver", "--latest", &format!("{app}:2.3.0")])
        .expect_ok("semver 2.3.0")
        .out();
    assert!(out.contains(&format!("2: moved from {d215}")) && out.contains("latest: created"), "{out}");
    assert_eq!(remote_digest(&w, &format!("{app}:2")), d230);
    assert_eq!(remote_digest(&w, &format!("{app}:latest")), d230);
    // An older patch release moves nothing backwards, and says which it kept.
    let d213 = push_version(&c, &host, "app", "2.1.3");
    let out = hoist(&w, &["tag", "--remote", "--semver", "--latest", &format!("{app}:2.1.3")])
        .expect_ok("semver 2.1.3")
        .out();
    assert!(out.contains("2.1: kept: it names 2.1.5"), "{out}");
    assert!(out.contains("2: kept: it names 2.3.0") && out.contains("latest: kept: it names 2.3.0"), "{out}");
    assert_eq!(remote_digest(&w, &format!("{app}:2.1")), d215);
    assert_eq!(remote_digest(&w, &format!("{app}:2")), d230);
    assert_ne!(d213, d215);
    // A pre-release never moves the short tags.
    push_version(&c, &host, "app", "2.4.0-rc.1");
    let out =
        hoist(&w, &["tag", "--remote", "--semver", "--latest", &format!("{app}:2.4.0-rc.1")]).expect_ok("rc").out();
    assert!(out.contains("pre-release"), "{out}");
    assert_eq!(remote_digest(&w, &format!("{app}:2")), d230);
    assert!(!tags_of(&w, &app, &[]).contains(&"2.4".to_owned()));
    // A newer patch moves 2.3 and 2 (and says from where).
    let d231 = push_version(&c, &host, "app", "2.3.1");
    let out = hoist(&w, &["tag", "--remote", "--semver", &format!("{app}:2.3.1")]).expect_ok("semver 2.3.1").out();
    assert!(
        out.contains(&format!("2.3: moved from {d230}")) && out.contains(&format!("2: moved from {d230}")),
        "{out}"
    );

    // tag --remote: more names by digest, in the repository and in another one of the same registry.
    let out = hoist(&w, &["tag", "--remote", &format!("{app}:2.3.1"), "3.0.0", &format!("{host}/mirror/app:2.3.1")])
        .expect_ok("tag --remote")
        .out();
    assert!(out.contains(&format!("{app}:3.0.0 {d231}")), "{out}");
    assert_eq!(remote_digest(&w, &format!("{app}:3.0.0")), d231);
    assert_eq!(remote_digest(&w, &format!("{host}/mirror/app:2.3.1")), d231);
    c.skopeo(&["inspect", "--tls-verify=false", &format!("docker://{host}/mirror/app:2.3.1")])
        .expect_ok("skopeo reads the retag");
    let refused = hoist(&w, &["tag", "--remote", &format!("{app}:2.3.1"), &format!("{host2}/app:x")]);
    one_error_line(&refused, &["promote"]);

    // list-tags --semver: versions only, by precedence, filtered by a requirement.
    assert_eq!(tags_of(&w, &app, &["--semver"]), ["2.1.3", "2.1.5", "2.3.0", "2.3.1", "2.4.0-rc.1", "3.0.0"]);
    assert_eq!(tags_of(&w, &app, &["--semver", ">=2.0, <3"]), ["2.1.3", "2.1.5", "2.3.0", "2.3.1"]);
    assert_eq!(tags_of(&w, &app, &["--semver", ">=2.2"]), ["2.3.0", "2.3.1", "3.0.0"]);
    one_error_line(&hoist(&w, &["list-tags", &app, "--semver", ">=>2"]), &["requirement"]);

    // promote: dev to prod by digest, both digests shown; refused when the source changed since.
    hoist(&w, &["tag", "--remote", &format!("{app}:2.1.5"), "dev"]).expect_ok("dev");
    let out = hoist(&w, &["promote", "-q", &format!("{app}:dev"), &format!("{app}:prod"), "--expect-digest", &d215])
        .expect_ok("promote")
        .out();
    assert!(out.contains(&format!("source:      {app}:dev {d215}")), "{out}");
    assert!(out.contains(&format!("destination: {app}:prod {d215} (new tag)")), "{out}");
    hoist(&w, &["tag", "--remote", &format!("{app}:2.3.1"), "dev"]).expect_ok("dev moves on");
    let refused = hoist(&w, &["promote", &format!("{app}:dev"), &format!("{app}:prod"), "--expect-digest", &d215]);
    one_error_line(&refused, &[&d231, &d215, "changed since"]);
    assert_eq!(remote_digest(&w, &format!("{app}:prod")), d215, "prod did not move");
    let out = hoist(&w, &["promote", "-q", &format!("{app}:dev"), &format!("{app}:prod")]).expect_ok("promote").out();
    assert!(out.contains(&format!("(was {d215})")), "{out}");
    // To another registry: the blobs travel, the digest stays.
    hoist(&w, &["promote", "-q", &format!("{app}:prod"), &format!("{host2}/released/app:2.3.1")])
        .expect_ok("promote across");
    assert_eq!(remote_digest(&w, &format!("{host2}/released/app:2.3.1")), d231);
    c.skopeo(&["inspect", "--tls-verify=false", &format!("docker://{host2}/released/app:2.3.1")]).expect_ok("skopeo");

    // tag --semver in the local store, under the same rules.
    hoist(&w, &["pull", "-q", &format!("{app}:2.3.0")]).expect_ok("pull 2.3.0");
    hoist(&w, &["pull", "-q", &format!("{app}:2.1.5")]).expect_ok("pull 2.1.5");
    let out = hoist(&w, &["tag", "--semver", &format!("{app}:2.3.0")]).expect_ok("local semver").out();
    assert!(out.contains("2.3: created") && out.contains("2: created"), "{out}");
    let out = hoist(&w, &["tag", "--semver", &format!("{app}:2.1.5")]).expect_ok("local semver").out();
    assert!(out.contains("2.1: created") && out.contains("2: kept: it names 2.3.0"), "{out}");
    let local = hoist(&w, &["digest", &format!("{app}:2")]).expect_ok("digest").out();
    assert_eq!(local.trim(), d230);
}

fn access(w: &HoistWorld, args: &[&str]) -> Value {
    let mut all = vec!["access", "--format", "json"];
    all.extend_from_slice(args);
    serde_json::from_slice(&hoist(w, &all).expect_ok("hoist access").stdout).unwrap()
}

fn granted(v: &Value) -> Vec<&str> {
    ["pull", "push", "delete", "*"].into_iter().filter(|a| v["Actions"][*a] == json!(true)).collect()
}

#[test]
fn access_for_push_pull_only_and_anonymous_users() {
    // A token registry (alice may do anything, bob only pull, anonymous only pull public/*).
    let issuer = harness::token_issuer::TokenIssuer::start(true);
    let treg = Registry::start(Options { token: Some((issuer.realm(), issuer.cert.clone())), ..Default::default() });
    let th = treg.host();
    let w = HoistWorld::new(&format!("{}{}", insecure(&[&th]), issuer.trusted_conf()));
    let repo = format!("{th}/team/app");
    let alice = access(&w, &["--creds", "alice:secret", &repo]);
    assert_eq!(granted(&alice), ["pull", "push", "delete", "*"], "{alice}");
    assert_eq!((alice["Auth"].as_str(), alice["FoundBy"].as_str()), (Some("token"), Some("token access claim")));
    assert_eq!(alice["User"], "alice");
    let bob = access(&w, &["--creds", "bob:bobpass", &repo]);
    assert_eq!(granted(&bob), ["pull"], "{bob}");
    let anon = access(&w, &["--no-creds", &repo]);
    assert_eq!(granted(&anon), Vec::<&str>::new(), "{anon}");
    assert_eq!(anon["User"], Value::Null);
    let public = access(&w, &["--no-creds", &format!("{th}/public/app")]);
    assert_eq!(granted(&public), ["pull"]);
    let text = hoist(&w, &["access", "--creds", "bob:bobpass", &repo]).expect_ok("text").out();
    assert!(text.contains("pull:   yes") && text.contains("push:   no") && text.contains("User:       bob"), "{text}");
    one_error_line(&hoist(&w, &["access", "--creds", "bob:wrong", &repo]), &["invalid username/password"]);
    one_error_line(&hoist(&w, &["access", &format!("{repo}:v1")]), &["without a tag"]);

    // An htpasswd registry: probes (an upload opened and cancelled, a delete of nothing).
    let breg = Registry::start(Options { users: vec![("carol".into(), "Carol-pw-1".into())], ..Default::default() });
    let bh = breg.host();
    let w = HoistWorld::new(&insecure(&[&bh]));
    let repo = format!("{bh}/team/app");
    let carol = access(&w, &["--creds", "carol:Carol-pw-1", &repo]);
    assert_eq!(granted(&carol), ["pull", "push", "delete", "*"], "{carol}");
    assert_eq!((carol["Auth"].as_str(), carol["FoundBy"].as_str()), (Some("basic"), Some("probes")));
    let anon = access(&w, &["--no-creds", &repo]);
    assert_eq!(granted(&anon), Vec::<&str>::new(), "{anon}");
    // Nothing was changed: the repository has no tags.
    let tags = hoist(&w, &["list-tags", "--creds", "carol:Carol-pw-1", &repo]);
    assert_ne!(tags.code, Some(0), "no repository was made: {tags:?}");
}

// ---- hostile Dockerfiles and archives (issue 17: items 5, 6 and 10) ------------------------------------

/// Runs `hoist ARGS` and waits for it with wait4: its exit code, stderr and its own peak RSS in KiB (not
/// that of any other child of this test process).
#[allow(clippy::zombie_processes)] // reaped by wait4, which std's Child does not see
fn hoist_rss(w: &HoistWorld, args: &[&str]) -> (Option<i32>, String, i64) {
    let mut cmd = w.command(args, &Vec::new());
    cmd.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null());
    cmd.stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("hoist starts");
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, writing into values we own; std's Child is not waited for after this.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t);
    assert!(!libc::WIFSIGNALED(status), "hoist died of signal {}: {err}", libc::WTERMSIG(status));
    (libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)), err, usage.ru_maxrss)
}

fn error_lines(err: &str) -> Vec<&str> {
    err.lines().filter(|l| l.starts_with("Error:")).collect()
}

#[test]
fn hostile_dockerfiles_fail_at_their_line_quickly() {
    let w = HoistWorld::new(&insecure(&[]));
    let ctx = w.path("ctx");
    // 42 lines of ENV aN+1=${aN}${aN}: 842 bytes that used to take 3.3 GB and abort.
    let mut df = String::from("FROM scratch\nENV a0=xxxxxxxxxxxxxxxxxxxx\n");
    for i in 0..41 {
        df.push_str(&format!("ENV a{}=${{a{i}}}${{a{i}}}\n", i + 1));
    }
    write(&ctx, "Dockerfile", &df, 0o644);
    let started = std::time::Instant::now();
    let (code, err, rss) = hoist_rss(&w, &["build", "-t", "x:1", ctx.to_str().unwrap()]);
    assert_eq!(code, Some(125), "{err}");
    let errors = error_lines(&err);
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].starts_with("Error: Dockerfile line 18: ") && errors[0].contains("1048576 bytes"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());
    assert!(rss < 100 * 1024, "{rss} KiB");

    // 5 million LABEL lines (50 MB): refused at the line that passes 4 MiB, having read no more.
    let big = w.path("big.Dockerfile");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
    f.write_all(b"FROM scratch\n").unwrap();
    for _ in 0..5_000_000 {
        f.write_all(b"LABEL a=b\n").unwrap();
    }
    f.into_inner().unwrap().sync_all().unwrap();
    let (code, err, rss) = hoist_rss(&w, &["build", "-t", "x:1", "-f", big.to_str().unwrap(), ctx.to_str().unwrap()]);
    assert_eq!(code, Some(125), "{err}");
    let errors = error_lines(&err);
    assert_eq!(
        errors,
        ["Error: Dockerfile line 419431: the Dockerfile passes 4194304 bytes (4 MiB), the most hoist reads"]
    );
    assert!(rss < 100 * 1024, "{rss} KiB");
    // 10,001 instructions in 100 KB.
    write(&ctx, "Dockerfile", &format!("FROM scratch\n{}", "LABEL a=b\n".repeat(10_000)), 0o644);
    let (code, err, _) = hoist_rss(&w, &["build", "-t", "x:1", ctx.to_str().unwrap()]);
    assert_eq!(code, Some(125), "{err}");
    assert!(error_lines(&err)[0].starts_with("Error: Dockerfile line 10001: more than 10000 instructions"), "{err}");
}

/// One gzip member of `data`.
fn gzip_member(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

/// Writes `path`: a tar.gz of one file, `name`, of `chunks` copies of `chunk`, as gzip members (a header,
/// the chunk's member again and again, the end), so neither the test nor the disk holds the file itself.
fn big_tar_gz(path: &Path, name: &str, chunk: &[u8], chunks: u64) {
    let mut h = tar::Header::new_gnu();
    h.set_path(name).unwrap();
    h.set_size(chunk.len() as u64 * chunks);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    out.write_all(&gzip_member(h.as_bytes())).unwrap();
    let member = gzip_member(chunk);
    for _ in 0..chunks {
        out.write_all(&member).unwrap();
    }
    out.write_all(&gzip_member(&[0u8; 1024])).unwrap();
    out.flush().unwrap();
}

/// The layers of image `name` in the store, streamed: for each entry its path and a reader of its bytes.
fn each_layer_entry(store: &Path, name: &str, f: &mut dyn FnMut(&str, &mut dyn Read)) {
    let blob = |d: &str| store.join("blobs/sha256").join(d.strip_prefix("sha256:").unwrap());
    let index: Value = serde_json::from_slice(&std::fs::read(store.join("index.json")).unwrap()).unwrap();
    let entry = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {index}"));
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(blob(entry["digest"].as_str().unwrap())).unwrap()).unwrap();
    for l in manifest["layers"].as_array().unwrap() {
        let file = std::fs::File::open(blob(l["digest"].as_str().unwrap())).unwrap();
        let mut ar = tar::Archive::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file)));
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let path = e.path().unwrap().to_string_lossy().into_owned();
            f(&path, &mut e);
        }
    }
}

#[test]
fn add_streams_a_gigabyte_archive_in_little_memory() {
    let w = HoistWorld::new(&insecure(&[]));
    let ctx = w.path("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    // 1 GiB: a MiB of zeros with a varying byte every 256 (about 60 to 1 in gzip, so no bomb), 1024 times.
    let mut chunk = vec![0u8; 1 << 20];
    let mut x: u32 = 12345;
    for i in (0..chunk.len()).step_by(256) {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        chunk[i] = (x >> 16) as u8;
    }
    big_tar_gz(&ctx.join("big.tar.gz"), "big", &chunk, 1024);
    write(&ctx, "Dockerfile", "FROM scratch\nADD big.tar.gz /\n", 0o644);
    let started = std::time::Instant::now();
    let (code, err, rss) = hoist_rss(&w, &["build", "-t", "big:1", ctx.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    assert!(rss <= 64 * 1024, "hoist build of a 1 GiB file peaked at {rss} KiB");
    eprintln!("ADD of 1 GiB: {:?}, {rss} KiB", started.elapsed());
    let mut seen = Vec::new();
    each_layer_entry(&w.path("store"), "localhost/big:1", &mut |path, r| {
        let mut size = 0u64;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let mut got = 0;
            while got < buf.len() {
                match r.read(&mut buf[got..]).unwrap() {
                    0 => break,
                    n => got += n,
                }
            }
            if got == 0 {
                break;
            }
            assert!(buf[..got] == chunk[..got], "{path}: the bytes at {size} differ");
            size += got as u64;
        }
        seen.push((path.to_owned(), size));
    });
    assert_eq!(seen, [("big".to_owned(), 1u64 << 30)]);

    let left: Vec<_> = std::fs::read_dir(w.path("store/tmp")).map(|d| d.collect()).unwrap_or_default();
    assert!(left.is_empty(), "temp files left: {left:?}");
}

#[test]
fn add_of_a_bomb_is_refused_by_loads_rule_in_little_memory() {
    // The store on a 48 MiB filesystem: 1 GiB of zeros in 1 MB cannot fit its spool, so `load`'s bomb rule
    // (the spool's free space less a reserve) refuses it, without filling the disk and in little memory.
    let w = HoistWorld::new(&insecure(&[]));
    let store = Tmpfs::mount(&w.path("store"), "48m");
    let ctx = w.path("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    big_tar_gz(&ctx.join("bomb.tar.gz"), "zeros", &vec![0u8; 1 << 20], 1024);
    write(&ctx, "Dockerfile", "FROM scratch\nADD bomb.tar.gz /\n", 0o644);
    let (code, err, rss) = hoist_rss(&w, &["build", "-t", "bomb:1", ctx.to_str().unwrap()]);
    assert!(rss <= 64 * 1024, "hoist build of a 1 GiB bomb peaked at {rss} KiB");
    assert_eq!(code, Some(125), "{err}");
    let errors = error_lines(&err);
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains("Dockerfile line 2") && errors[0].contains("decompression bomb"), "{err}");
    assert!(store.used() < 8 << 20, "the spool stopped early: {} bytes used", store.used());
    let left: Vec<_> = std::fs::read_dir(w.path("store/tmp")).map(|d| d.collect()).unwrap_or_default();
    assert!(left.is_empty(), "temp files left: {left:?}");
}

#[test]
fn add_warns_about_the_entries_it_leaves_out() {
    let w = HoistWorld::new(&insecure(&[]));
    let ctx = w.path("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    let mut b = tar::Builder::new(Vec::new());
    for (path, kind, link) in [
        ("etc/hosts", tar::EntryType::Regular, None),
        ("hosts-again", tar::EntryType::Link, Some("etc/hosts")),
        ("shadow", tar::EntryType::Link, Some("/etc/shadow")),
        ("dev/null", tar::EntryType::Char, None),
        ("dev/sda", tar::EntryType::Block, None),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(0o644);
        let data: &[u8] = if kind == tar::EntryType::Regular { b"127.0.0.1 localhost\n" } else { b"" };
        h.set_size(data.len() as u64);
        match link {
            Some(l) => b.append_link(&mut h, path, l).unwrap(),
            None => b.append_data(&mut h, path, data).unwrap(),
        }
    }
    std::fs::write(ctx.join("rootfs.tar.gz"), gzip_member(&b.into_inner().unwrap())).unwrap();
    write(&ctx, "Dockerfile", "FROM scratch\nADD rootfs.tar.gz /\n", 0o644);
    let out = hoist(&w, &["build", "-t", "warn:1", ctx.to_str().unwrap()]).expect_ok("build");
    let err = out.err();
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("Warning:")).collect();
    assert_eq!(warnings.len(), 3, "{err}");
    assert!(
        warnings[0].starts_with("Warning: ADD rootfs.tar.gz: left out shadow (a hard link to /etc/shadow"),
        "{err}"
    );
    assert!(warnings[1].contains("left out dev/null (a character device)"), "{err}");
    assert!(warnings[2].contains("left out dev/sda (a block device)"), "{err}");
    let mut paths = Vec::new();
    each_layer_entry(&w.path("store"), "localhost/warn:1", &mut |p, _| paths.push(p.to_owned()));
    assert_eq!(paths, ["etc/", "etc/hosts", "hosts-again"]);
}

/// An OCI layout at `dir` tagged `v1`: a linux image of the host's architecture whose one layer is a tar of a
/// 1 GiB file of zeros in about 1 MB of gzip.
fn bomb_base_layout(dir: &Path) {
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    let put = |data: &[u8]| put_blob(dir, data);
    let gz_path = dir.join("layer.tar.gz");
    big_tar_gz(&gz_path, "zeros", &vec![0u8; 1 << 20], 1024);
    let gz = std::fs::read(&gz_path).unwrap();
    std::fs::remove_file(&gz_path).unwrap();
    let layer = put(&gz);
    // The diff ID, as big_tar_gz's tar is: the header, 1 GiB of zeros, the two end blocks.
    let mut h = tar::Header::new_gnu();
    h.set_path("zeros").unwrap();
    h.set_size(1 << 30);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    let mut diff = Sha256::new();
    diff.update(h.as_bytes());
    let mib = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        diff.update(&mib);
    }
    diff.update([0u8; 1024]);
    let config = serde_json::to_vec(&json!({
        "architecture": host_arch(), "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", hex::encode(diff.finalize()))]},
    }))
    .unwrap();
    finish_layout(dir, &config, &layer, gz.len());
}

#[test]
fn a_base_whose_layer_is_a_bomb_is_refused_by_loads_rule_in_little_memory() {
    // The store on a 48 MiB filesystem, a base image whose layer is 1 GiB of zeros in 1 MB of gzip: build
    // indexes a base's layers by reading them through, and that reading stops at load's bomb rule (the
    // store's free space less a reserve) instead of inflating the whole GiB.
    let w = HoistWorld::new(&insecure(&[]));
    let _store = Tmpfs::mount(&w.path("store"), "48m");
    let layout = w.path("bomb-layout");
    bomb_base_layout(&layout);
    let from = format!("oci:{}:v1", layout.display());
    hoist(&w, &["copy", &from, "store:localhost/bomb:1"]).expect_ok("copy the base into the store");
    let ctx = w.path("ctx");
    write(&ctx, "Dockerfile", "FROM localhost/bomb:1\nLABEL a=b\n", 0o644);
    let (code, err, rss) = hoist_rss(&w, &["build", "-t", "built:1", ctx.to_str().unwrap()]);
    assert!(rss <= 64 * 1024, "hoist build over a 1 GiB bomb peaked at {rss} KiB");
    assert_eq!(code, Some(125), "{err}");
    let errors = error_lines(&err);
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].starts_with("Error: Dockerfile line 1: FROM: reading layer sha256:"), "{err}");
    assert!(errors[0].contains("decompression bomb refused") && errors[0].contains("the free space of"), "{err}");
    let left: Vec<_> = std::fs::read_dir(w.path("store/tmp")).map(|d| d.collect()).unwrap_or_default();
    assert!(left.is_empty(), "temp files left: {left:?}");
}

/// `SOURCE_DATE_EPOCH` is read once by the library's settings, with or without `--timeout` (which makes
/// them without reading `HOIST_TIMEOUT`); a bad value is one error line, unless `--timestamp` is given, which
/// wins.
#[test]
fn source_date_epoch_with_timeout_and_timestamp() {
    let w = HoistWorld::new(&insecure(&[]));
    let ctx = w.path("ctx");
    write(&ctx, "Dockerfile", "FROM scratch\nLABEL a=b\n", 0o644);
    let c = ctx.to_str().unwrap();
    let bad = [("SOURCE_DATE_EPOCH", "soon")];
    let out = hoist_env(&w, &["build", "-t", "t:1", c], &bad);
    one_error_line(&out, &["Error: SOURCE_DATE_EPOCH=\"soon\" is not a number of seconds"]);
    hoist_env(&w, &["build", "--timestamp", "1700000000", "-t", "t:1", c], &bad).expect_ok("--timestamp wins");
    let (config, _, _) = read_layout(&w.path("store"), "localhost/t:1");
    assert_eq!(config["created"], "2023-11-14T22:13:20Z");
    let epoch = [("SOURCE_DATE_EPOCH", "1600000000")];
    hoist_env(&w, &["--timeout", "5", "build", "-t", "t:2", c], &epoch).expect_ok("with --timeout");
    let (config, _, _) = read_layout(&w.path("store"), "localhost/t:2");
    assert_eq!(config["created"], "2020-09-13T12:26:40Z", "SOURCE_DATE_EPOCH read with --timeout too");
}
