//! `make bench`, image rows: hoist against skopeo and podman on the same data in the same run — pull,
//! registry → local, push, registry → registry copy, save, load, build — with the floor (`openssl dgst
//! -sha256` over the same bytes, plus `gzip -d` of the layers for save) and each process's peak RSS (from
//! `wait4`). Alternating runs after a warm-up; medians with min–max so noise shows.
//!
//! Data sets: (a) one 100 MB random layer, (b) 40 layers of 1 MB, (c) one 1 GiB layer (the memory row;
//! `BENCH_BIG=0` leaves it out; `BENCH_SETS=1MB,100MB` picks sets by name). `BENCH_RUNS` (default 5) sets the
//! runs per row; `BENCH_ROWS=pull-signed,load` runs only the rows named (pull, to-dir, push, copy, save, load,
//! build, pull-signed, daemon, push-zstd, pull-zstd, sync). Peers run cold: their blob info cache is removed before each run, and every push goes
//! to a fresh repository.
//!
//! The `pull signed` row measures the cost of image trust: `hoist pull` of a sigstore-signed image under a
//! policy that requires the signature (`sigstoreSigned`, the `sha256-HEX.sig` attachment read through
//! registries.d) against `hoist pull` of the same image unsigned under `insecureAcceptAnything`.
//!
//! The `daemon` rows (`BENCH_ROWS=daemon`) start a private Docker engine (harness::docker: its own socket and
//! data root, `vfs` storage, stopped when the bench ends) holding the data set: `hoist copy docker-daemon:IMG
//! store:` against `skopeo copy docker-daemon:IMG oci:DIR` and against `docker save -o FILE IMG`, and `hoist
//! copy store:IMG docker-daemon:` against `docker load -i FILE` of the same image (removed from the engine
//! before each run). The docker client's RSS is the client's only; the engine's work is in its wall time.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use harness::docker::Docker;
use harness::hoist::HoistWorld;
use harness::image::{ImageSpec, write_layout};
use harness::podman::Containers;
use harness::registry::{Options, Registry};

/// A finished run: wall time and the process's peak resident set.
struct Sample {
    wall: Duration,
    rss_kib: i64,
}

/// Runs `cmd` to completion, measuring its wall time and its own peak RSS; panics on failure.
///
/// Dirty pages of earlier runs are written out first (`sync`), outside the time measured.
///
/// The RSS comes from a probe (this program again, as `--rss-probe`) that spawns `cmd` and reaps it with
/// `wait4`: a process's peak RSS counts the memory it had before its `exec`, and a child forked straight from
/// this bench would start with the bench's (its data sets), which the small probe does not have.
fn measured(cmd: &mut Command, what: &str) -> Sample {
    let out = tempfile::NamedTempFile::new().unwrap();
    let mut probe = Command::new(std::env::current_exe().unwrap());
    probe.arg("--rss-probe").arg(out.path()).arg(cmd.get_program()).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => probe.env(k, v),
            None => probe.env_remove(k),
        };
    }
    if let Some(d) = cmd.get_current_dir() {
        probe.current_dir(d);
    }
    probe.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    // Every run starts with no dirty page of an earlier one: a tool that fsyncs what it wrote would otherwise
    // also wait for the disk writes of the run before it (the journal commit an fsync forces carries them).
    // SAFETY: sync(2) takes no argument and cannot fail.
    unsafe { libc::sync() };
    let start = Instant::now();
    let output = probe.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let wall = start.elapsed();
    if !output.status.success() {
        panic!("{what} failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let rss_kib = std::fs::read_to_string(out.path()).unwrap().trim().parse().unwrap();
    Sample { wall, rss_kib }
}

/// `--rss-probe OUT PROGRAM ARGS...`: runs the program (stdio inherited), writes its peak RSS in KiB (from
/// `wait4`) to OUT, and exits as it did.
#[allow(clippy::zombie_processes)]
fn rss_probe(args: &[String]) -> ExitCode {
    let [out, program, rest @ ..] = args else { return ExitCode::from(2) };
    let child = Command::new(program).args(rest).spawn().unwrap_or_else(|e| panic!("{program}: {e}"));
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child and writes into values we own.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4");
    std::fs::write(out, usage.ru_maxrss.to_string()).unwrap();
    match std::process::ExitStatus::from_raw(status).code() {
        Some(0) => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}

struct Row {
    op: String,
    data: String,
    hoist: Vec<Sample>,
    peer: Vec<Sample>,
    peer_name: String,
    target: Option<f64>,
    floor: Option<Duration>,
    /// What the registry itself needs: `curl` fetching (pull rows) or uploading (push rows) the same blobs.
    curl: Option<Duration>,
}

fn median(samples: &[Sample]) -> Duration {
    let mut v: Vec<Duration> = samples.iter().map(|s| s.wall).collect();
    v.sort();
    v[v.len() / 2]
}

fn span(samples: &[Sample]) -> String {
    let min = samples.iter().map(|s| s.wall).min().unwrap();
    let max = samples.iter().map(|s| s.wall).max().unwrap();
    format!("{:.2}–{:.2}", min.as_secs_f64(), max.as_secs_f64())
}

fn peak(samples: &[Sample]) -> String {
    format!("{} MiB", samples.iter().map(|s| s.rss_kib).max().unwrap() / 1024)
}

fn runs() -> usize {
    std::env::var("BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(5).max(1)
}

/// Whether `BENCH_ROWS` (a comma-separated list of row keys) asks for the row `key`; all rows when unset.
fn wanted(key: &str) -> bool {
    std::env::var("BENCH_ROWS").map_or(true, |v| v.split(',').any(|r| r.trim() == key))
}

/// The data sets as (name, specs).
fn arch() -> &'static str {
    if cfg!(target_arch = "aarch64") { "arm64" } else { "amd64" }
}

fn data_sets() -> Vec<(&'static str, Vec<ImageSpec<'static>>)> {
    let arch = arch();
    let mut sets = vec![
        ("100MB x1", vec![ImageSpec::random(arch, 1, 100 << 20, 11)]),
        ("1MB x40", vec![ImageSpec::random(arch, 40, 1 << 20, 12)]),
    ];
    if std::env::var("BENCH_BIG").map_or(true, |v| v != "0") {
        sets.push(("1GiB x1", vec![ImageSpec::random(arch, 1, 1 << 30, 13)]));
    }
    // BENCH_SETS=1MB,100MB: only the sets whose names start with one of these.
    if let Ok(only) = std::env::var("BENCH_SETS") {
        sets.retain(|(name, _)| only.split(',').any(|o| !o.is_empty() && name.starts_with(o)));
    }
    sets
}

/// The floor: hashing every blob of the layout once with `openssl dgst -sha256`.
fn floor(layout: &Path) -> Duration {
    hash_floor(&blobs(layout))
}

fn blobs(layout: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(layout.join("blobs/sha256")).unwrap().flatten().map(|e| e.path()).collect()
}

/// `openssl dgst -sha256` over `files`, best of three.
fn hash_floor(files: &[PathBuf]) -> Duration {
    let mut cmd = Command::new(harness::require("openssl", "openssl"));
    cmd.arg("dgst").arg("-sha256").args(files);
    (0..3).map(|_| measured(&mut cmd, "openssl dgst").wall).min().unwrap()
}

/// The layout's config and layers: its blobs but the manifests and index (which a registry serves as
/// manifests, not blobs).
fn content_blobs(layout: &Path) -> Vec<PathBuf> {
    blobs(layout)
        .into_iter()
        .filter(|b| {
            let small = std::fs::metadata(b).unwrap().len() < 1 << 16;
            !(small && String::from_utf8_lossy(&std::fs::read(b).unwrap()).contains("\"schemaVersion\""))
        })
        .collect()
}

/// How many transfers the curl floors run at once: skopeo's and hoist's default.
const CURL_JOBS: usize = 6;

/// Runs `each` over `files` on [`CURL_JOBS`] threads (each taking every sixth file), best of three.
fn curl_floor(files: &[PathBuf], each: impl Fn(usize, &Path) + Sync) -> Duration {
    let once = |run: usize| {
        let start = Instant::now();
        std::thread::scope(|s| {
            for j in 0..CURL_JOBS.min(files.len()) {
                let each = &each;
                s.spawn(move || files.iter().skip(j).step_by(CURL_JOBS).for_each(|f| each(run, f)));
            }
        });
        start.elapsed()
    };
    (0..3).map(once).min().unwrap()
}

/// The registry's floor for receiving the layout's blobs: `curl` sending each (a POST, then one PUT streaming
/// the file) to a fresh repository, six at a time.
fn upload_floor(host: &str, layout: &Path, tag: &str) -> Duration {
    let curl = harness::require("curl", "curl");
    curl_floor(&content_blobs(layout), |run, blob| {
        let digest = format!("sha256:{}", blob.file_name().unwrap().to_string_lossy());
        let url = format!("http://{host}/v2/floor-{tag}-{run}/x/blobs/uploads/");
        let out = Command::new(&curl).args(["-s", "-f", "-i", "-X", "POST", &url]).output().unwrap();
        let head = String::from_utf8_lossy(&out.stdout).into_owned();
        let location = head
            .lines()
            .find_map(|l| l.strip_prefix("Location: ").or_else(|| l.strip_prefix("location: ")))
            .unwrap_or_else(|| panic!("no Location in {head}"))
            .trim()
            .to_owned();
        let sep = if location.contains('?') { '&' } else { '?' };
        let status = Command::new(&curl)
            .args(["-s", "-f", "-o", "/dev/null", "-H", "Content-Type: application/octet-stream", "-T"])
            .arg(blob)
            .arg(format!("{location}{sep}digest={digest}"))
            .status()
            .unwrap();
        assert!(status.success(), "curl PUT {digest}");
    })
}

/// The registry's floor for serving the image's blobs: `curl` fetching each into a file, six at a time.
fn download_floor(image_repo: &str, layout: &Path, scratch: &Path) -> Duration {
    let curl = harness::require("curl", "curl");
    std::fs::create_dir_all(scratch).unwrap();
    let floor = curl_floor(&content_blobs(layout), |_, blob| {
        let hex = blob.file_name().unwrap().to_string_lossy().into_owned();
        let status = Command::new(&curl)
            .args(["-s", "-f", "-o"])
            .arg(scratch.join(&hex))
            .arg(format!("http://{image_repo}/blobs/sha256:{hex}"))
            .status()
            .unwrap();
        assert!(status.success(), "curl GET {hex}");
    });
    let _ = std::fs::remove_dir_all(scratch);
    floor
}

/// Inflating every gzip blob of the layout (`gzip -dcf`, which passes the others through), best of three.
fn inflate_floor(layout: &Path) -> Duration {
    let mut cmd = Command::new(harness::require("gzip", "gzip"));
    cmd.arg("-dcf").args(blobs(layout));
    (0..3).map(|_| measured(&mut cmd, "gzip -dcf").wall).min().unwrap()
}

/// Every file under `dir`.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.file_type().unwrap().is_dir() {
            out.extend(files_under(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

fn cold(c: &Containers) {
    let _ = std::fs::remove_file("/var/lib/containers/cache/blob-info-cache-v1.boltdb");
    let _ = std::fs::remove_dir_all(c.path("storage"));
    std::fs::create_dir_all(c.path("storage")).unwrap();
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--rss-probe") {
        return rss_probe(&args[1..]);
    }
    let runs = runs();
    let (a, b) = (Registry::start(Options::default()), Registry::start(Options::default()));
    let (ha, hb) = (a.host(), b.host());
    let c = Containers::new(&[ha.clone(), hb.clone()]);
    let conf = format!(
        "unqualified-search-registries = []\n[[registry]]\nlocation = \"{ha}\"\ninsecure = true\n\
         [[registry]]\nlocation = \"{hb}\"\ninsecure = true\n"
    );
    let policy = format!("--policy={}", c.policy.display());
    // The base image of the build rows: one small layer.
    let base = format!("{ha}/bench/base:v1");
    let base_dir = c.path("layout-base");
    write_layout(&base_dir, "v1", &[ImageSpec::random(arch(), 1, 1 << 20, 21)]);
    c.skopeo(&[
        "copy",
        &policy,
        "--dest-tls-verify=false",
        &format!("oci:{}:v1", base_dir.display()),
        &format!("docker://{base}"),
    ])
    .expect_ok("skopeo pushes the base image");
    let docker = wanted("daemon").then(Docker::start);
    let mut rows = Vec::new();
    if wanted("sync") {
        rows.extend(sync_rows(&c, &conf, &ha, &hb, runs));
    }
    for (n, (name, specs)) in data_sets().into_iter().enumerate() {
        eprintln!("bench: making {name}");
        let layout_dir = c.path(&format!("layout-{n}"));
        write_layout(&layout_dir, "v1", &specs);
        // The build context: the same files, under data/.
        let ctx = c.path(&format!("ctx-{n}"));
        for (path, content) in specs.iter().flat_map(|s| s.layers.iter().flatten()) {
            let p = ctx.join("data").join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        // Its shape (layers, bytes of data per layer), for the pull-zstd row's own, compressible, data.
        let shape = (specs[0].layers.len(), specs[0].layers[0][0].1.len());
        drop(specs);
        let oci = format!("oci:{}:v1", layout_dir.display());
        let image = format!("{ha}/bench/set{n}:v1");
        let out = c.skopeo(&["copy", &policy, "--dest-tls-verify=false", &oci, &format!("docker://{image}")]);
        out.expect_ok("skopeo seeds the registry");
        let floor = floor(&layout_dir);
        let upload = if wanted("push") || wanted("copy") {
            upload_floor(&ha, &layout_dir, &n.to_string())
        } else {
            Duration::ZERO
        };
        let download = if wanted("pull") || wanted("to-dir") || wanted("pull-signed") {
            download_floor(&format!("{ha}/v2/bench/set{n}"), &layout_dir, &c.path("curl-scratch"))
        } else {
            Duration::ZERO
        };
        let world = HoistWorld::new(&conf);
        let store = world.path("store");
        let hoist = |args: &[&str]| world.command(args, &Vec::new());
        let row_with = |op: &str, peer_name: &str, target: Option<f64>, floor: Duration| Row {
            op: op.into(),
            data: name.into(),
            hoist: Vec::new(),
            peer: Vec::new(),
            peer_name: peer_name.into(),
            target,
            floor: Some(floor),
            curl: None,
        };
        let row = |op: &str, peer_name: &str, target: Option<f64>| row_with(op, peer_name, target, floor);
        let (mut pull, mut to_dir, mut push, mut copy) = (
            row("pull", "podman pull", Some(0.6)),
            row("registry → local", "skopeo copy dir:", Some(0.6)),
            row("push", "skopeo copy oci: docker://", Some(0.6)),
            row("registry → registry", "skopeo copy", Some(0.6)),
        );
        let transfers = ["pull", "to-dir", "push", "copy"].into_iter().any(wanted);
        for run in (0..=runs).filter(|_| transfers) {
            let keep = run > 0; // run 0 warms up
            eprintln!("bench: {name} run {run}/{runs}");
            if wanted("pull") {
                let _ = std::fs::remove_dir_all(&store);
                let s = measured(&mut hoist(&["pull", "-q", &image]), "hoist pull");
                cold(&c);
                let mut podman = c.command("podman");
                podman.args(["pull", "-q", "--tls-verify=false", &image]);
                let p = measured(&mut podman, "podman pull");
                if keep {
                    pull.hoist.push(s);
                    pull.peer.push(p);
                }
            }
            // The push below needs the image in the store.
            let _ = std::fs::remove_dir_all(&store);
            let s = measured(&mut hoist(&["copy", "-q", &format!("docker://{image}"), "store:bench"]), "hoist copy");
            if wanted("to-dir") {
                cold(&c);
                let dir = c.path("dir-copy");
                let _ = std::fs::remove_dir_all(&dir);
                let mut skopeo = c.command("skopeo");
                skopeo
                    .args(["copy", "-q", &policy, "--src-tls-verify=false", &format!("docker://{image}")])
                    .arg(format!("dir:{}", dir.display()));
                let p = measured(&mut skopeo, "skopeo copy to dir");
                if keep {
                    to_dir.hoist.push(s);
                    to_dir.peer.push(p);
                }
            }
            // Push the stored image to a fresh repository; skopeo pushes the same layout to another.
            if wanted("push") {
                let dest = format!("{ha}/push-h{n}-{run}/img:v1");
                let s = measured(&mut hoist(&["push", "-q", "bench", &dest]), "hoist push");
                cold(&c);
                let mut skopeo = c.command("skopeo");
                skopeo
                    .args(["copy", "-q", &policy, "--dest-tls-verify=false", &oci])
                    .arg(format!("docker://{ha}/push-s{n}-{run}/img:v1"));
                let p = measured(&mut skopeo, "skopeo push");
                if keep {
                    push.hoist.push(s);
                    push.peer.push(p);
                }
            }
            // Registry to another registry, fresh repositories.
            if wanted("copy") {
                let (to_h, to_s) =
                    (format!("docker://{hb}/copy-h{n}-{run}/img:v1"), format!("docker://{hb}/copy-s{n}-{run}/img:v1"));
                let s = measured(&mut hoist(&["copy", "-q", &format!("docker://{image}"), &to_h]), "hoist copy r→r");
                cold(&c);
                let mut skopeo = c.command("skopeo");
                skopeo
                    .args(["copy", "-q", &policy, "--src-tls-verify=false", "--dest-tls-verify=false"])
                    .args([&format!("docker://{image}"), &to_s]);
                let p = measured(&mut skopeo, "skopeo copy r→r");
                if keep {
                    copy.hoist.push(s);
                    copy.peer.push(p);
                }
            }
        }
        pull.curl = Some(download);
        to_dir.curl = Some(download);
        push.curl = Some(upload);
        copy.curl = Some(upload);
        rows.extend(
            [("pull", pull), ("to-dir", to_dir), ("push", push), ("copy", copy)]
                .into_iter()
                .filter(|(k, _)| wanted(k))
                .map(|(_, r)| r),
        );

        if wanted("save") || wanted("load") {
            // save: the pulled image (gzip layers in hoist's store, unpacked in podman's) into a docker-archive,
            // which needs the layers uncompressed: the floor is hashing plus inflating them.
            let _ = std::fs::remove_dir_all(&store);
            measured(&mut hoist(&["pull", "-q", &image]), "hoist pull");
            cold(&c);
            let mut podman = c.command("podman");
            podman.args(["pull", "-q", "--tls-verify=false", &image]);
            measured(&mut podman, "podman pull");
            let mut save = row_with("save", "podman save", Some(0.6), floor + inflate_floor(&layout_dir));
            let (ours, theirs) = (c.path("hoist-saved.tar"), c.path("podman-saved.tar"));
            for run in 0..=runs {
                eprintln!("bench: {name} save run {run}/{runs}");
                let _ = std::fs::remove_file(&ours);
                let s = measured(&mut hoist(&["save", "-q", "-o", ours.to_str().unwrap(), &image]), "hoist save");
                let _ = std::fs::remove_file(&theirs);
                let mut podman = c.command("podman");
                podman.args(["save", "-q", "-o", theirs.to_str().unwrap(), &image]);
                let p = measured(&mut podman, "podman save");
                if run > 0 {
                    save.hoist.push(s);
                    save.peer.push(p);
                }
            }
            let _ = std::fs::remove_file(&ours);
            // load: podman's archive into an empty store; the floor is hashing the archive's bytes once.
            let mut load = row_with("load", "podman load", Some(1.0), hash_floor(std::slice::from_ref(&theirs)));
            for run in 0..=runs {
                eprintln!("bench: {name} load run {run}/{runs}");
                let _ = std::fs::remove_dir_all(&store);
                let s = measured(&mut hoist(&["load", "-q", "-i", theirs.to_str().unwrap()]), "hoist load");
                cold(&c);
                let mut podman = c.command("podman");
                podman.args(["load", "-q", "-i", theirs.to_str().unwrap()]);
                let p = measured(&mut podman, "podman load");
                if run > 0 {
                    load.hoist.push(s);
                    load.peer.push(p);
                }
            }
            let _ = std::fs::remove_file(&theirs);
            rows.extend([("save", save), ("load", load)].into_iter().filter(|(k, _)| wanted(k)).map(|(_, r)| r));
        }

        if wanted("build") {
            // build: the seed's Dockerfile plus a COPY of the data set, on a small base both pull in the warm-up;
            // the result is removed after each run (and hoist's unreferenced blobs pruned; podman builds with
            // --no-cache), so every run writes its layer. The floor is hashing the copied files once.
            std::fs::write(
                ctx.join("Dockerfile"),
                format!(
                    "FROM {base}\nVOLUME /site-data\nWORKDIR /usr/src/app\nEXPOSE 80\nCOPY data/ /usr/src/app/data/\n"
                ),
            )
            .unwrap();
            let _ = std::fs::remove_dir_all(&store);
            cold(&c);
            let mut build = row_with("build", "podman build", Some(0.6), hash_floor(&files_under(&ctx.join("data"))));
            let tag = format!("localhost/bench-build:{n}");
            for run in 0..=runs {
                eprintln!("bench: {name} build run {run}/{runs}");
                let s = measured(&mut hoist(&["build", "-q", "-t", &tag, ctx.to_str().unwrap()]), "hoist build");
                measured(&mut hoist(&["rmi", &tag]), "hoist rmi");
                measured(&mut hoist(&["prune", "-f"]), "hoist prune");
                let mut podman = c.command("podman");
                podman.args(["build", "-q", "--no-cache", "--tls-verify=false", "-t", &tag, ctx.to_str().unwrap()]);
                let p = measured(&mut podman, "podman build");
                let mut rmi = c.command("podman");
                rmi.args(["rmi", &tag]);
                measured(&mut rmi, "podman rmi");
                if run > 0 {
                    build.hoist.push(s);
                    build.peer.push(p);
                }
            }
            rows.push(build);
        }
        if let Some(docker) = &docker {
            rows.extend(daemon_rows(&c, &world, docker, &oci, n, name, floor));
        }
        if wanted("pull-signed") {
            let mut row = row_with("pull signed", "hoist pull, unsigned, insecureAcceptAnything", Some(1.2), floor);
            row.curl = Some(download);
            let signed = format!("{ha}/bench/signed{n}:v1");
            rows.push(pull_signed(&c, &world, &image, &signed, &layout_dir, row));
        }
        if wanted("push-zstd") {
            rows.push(push_zstd_row(&c, &world, &ha, n, name, &image, &oci, floor));
        }
        if wanted("pull-zstd") {
            rows.push(pull_zstd_row(&c, &world, &ha, n, name, shape));
        }
        let _ = std::fs::remove_dir_all(&ctx);
        let _ = std::fs::remove_dir_all(&layout_dir);
    }
    report(&rows)
}

/// The `pull signed` row: `hoist pull` of `signed` (the layout pushed again and signed with `hoist sign`, a
/// sigstore attachment) under a policy that requires that signature, against `hoist pull` of `unsigned` (the
/// same image, no signature) under `insecureAcceptAnything`. Both with an empty store each run. `row` comes
/// with its data set name, floor and curl time; the samples are added.
fn pull_signed(c: &Containers, world: &HoistWorld, unsigned: &str, signed: &str, layout: &Path, mut row: Row) -> Row {
    let policy = format!("--policy={}", c.policy.display());
    c.skopeo(&[
        "copy",
        &policy,
        "--dest-tls-verify=false",
        &format!("oci:{}:v1", layout.display()),
        &format!("docker://{signed}"),
    ])
    .expect_ok("skopeo pushes the image to sign");
    let hoist = |args: &[&str]| world.command(args, &Vec::new());
    let (pass, prefix) = (world.path("bench-pass"), world.path("bench-key"));
    std::fs::write(&pass, "bench passphrase\n").unwrap();
    let pass = pass.to_str().unwrap();
    let registries_d = world.path("bench-registries.d");
    std::fs::create_dir_all(&registries_d).unwrap();
    std::fs::write(registries_d.join("default.yaml"), "default-docker:\n  use-sigstore-attachments: true\n").unwrap();
    let rd = format!("--registries.d={}", registries_d.display());
    if !world.path("bench-key.pub").exists() {
        measured(
            &mut hoist(&[
                "generate-sigstore-key",
                "--output-prefix",
                prefix.to_str().unwrap(),
                "--passphrase-file",
                pass,
            ]),
            "hoist generate-sigstore-key",
        );
    }
    let key = world.path("bench-key.private");
    let sign =
        ["sign", &rd, "--sign-by-sigstore-private-key", key.to_str().unwrap(), "--sign-passphrase-file", pass, signed];
    measured(&mut hoist(&sign), "hoist sign");
    let (required, open) = (world.path("policy-signed.json"), world.path("policy-open.json"));
    let (host, _) = signed.split_once('/').unwrap();
    std::fs::write(
        &required,
        format!(
            r#"{{"default":[{{"type":"reject"}}],"transports":{{"docker":{{"{host}/bench":[{{"type":"sigstoreSigned","keyPath":"{}"}}]}}}}}}"#,
            world.path("bench-key.pub").display()
        ),
    )
    .unwrap();
    std::fs::write(&open, r#"{"default":[{"type":"insecureAcceptAnything"}]}"#).unwrap();
    let (required, open) =
        (format!("--signature-policy={}", required.display()), format!("--signature-policy={}", open.display()));
    let name = row.data.clone();
    let store = world.path("store");
    for run in 0..=runs() {
        eprintln!("bench: {name} pull signed run {run}/{}", runs());
        let _ = std::fs::remove_dir_all(&store);
        let s = measured(&mut hoist(&["pull", "-q", &required, &rd, signed]), "hoist pull (signed, required)");
        let _ = std::fs::remove_dir_all(&store);
        let p = measured(
            &mut hoist(&["pull", "-q", &open, &rd, unsigned]),
            "hoist pull (unsigned, insecureAcceptAnything)",
        );
        if run > 0 {
            row.hoist.push(s);
            row.peer.push(p);
        }
    }
    let _ = std::fs::remove_dir_all(&store);
    row
}

/// The `push gzip→zstd` row (issue 24): `hoist push --compression-format zstd` of the stored image (gzip
/// layers) against `skopeo copy --dest-compress-format zstd` of the same layout, each to a fresh repository
/// (target 0.5: both cores).
#[allow(clippy::too_many_arguments)]
fn push_zstd_row(
    c: &Containers,
    world: &HoistWorld,
    ha: &str,
    n: usize,
    name: &str,
    image: &str,
    oci: &str,
    floor: Duration,
) -> Row {
    let runs = runs();
    let policy = format!("--policy={}", c.policy.display());
    let store = world.path("store");
    let hoist = |args: &[&str]| world.command(args, &Vec::new());
    let mut push = Row {
        op: "push gzip→zstd".into(),
        data: name.into(),
        hoist: Vec::new(),
        peer: Vec::new(),
        peer_name: "skopeo copy --dest-compress-format zstd".into(),
        target: Some(0.5),
        floor: Some(floor),
        curl: None,
    };
    let _ = std::fs::remove_dir_all(&store);
    measured(&mut hoist(&["copy", "-q", &format!("docker://{image}"), "store:bench"]), "hoist copy");
    for run in 0..=runs {
        eprintln!("bench: {name} push zstd run {run}/{runs}");
        let dest = format!("{ha}/zstd-h{n}-{run}/img:v1");
        let s =
            measured(&mut hoist(&["push", "-q", "--compression-format", "zstd", "bench", &dest]), "hoist push zstd");
        cold(c);
        let mut skopeo = c.command("skopeo");
        skopeo
            .args(["copy", "-q", &policy, "--dest-tls-verify=false", "--dest-compress-format", "zstd", oci])
            .arg(format!("docker://{ha}/zstd-s{n}-{run}/img:v1"));
        let p = measured(&mut skopeo, "skopeo copy --dest-compress-format zstd");
        if run > 0 {
            push.hoist.push(s);
            push.peer.push(p);
        }
    }
    let _ = std::fs::remove_dir_all(&store);
    push
}

/// `size` bytes of text like the files of a real layer (sources, configs, logs): lines of 4 to 15 words
/// drawn from 4096 made-up words of 2 to 11 letters, frequent words far more often than rare ones (as in
/// text), seeded. gzip -1 shrinks it about 3×, as it does real layers; random bytes (the other rows' data)
/// do not compress at all.
fn text(rng: &mut fastrand::Rng, vocabulary: &[Vec<u8>], size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 128);
    while out.len() < size {
        for w in 0..rng.usize(4..16) {
            if w > 0 {
                out.push(b' ');
            }
            // Skewed to the first words: x^3 of a uniform x.
            let x = rng.f64();
            out.extend_from_slice(&vocabulary[(x * x * x * vocabulary.len() as f64) as usize]);
        }
        out.push(b'\n');
    }
    out.truncate(size);
    out
}

/// The `pull zstd` row's images: `layers` layers of `size` bytes of [`text`] each (in files of 64 KiB, as a
/// layer of many files), pushed by skopeo twice: as the layout has them (gzip -1) to `{ha}/bench/text{n}:gz`
/// and with `--dest-compress-format zstd` (level 3, skopeo's default) to `{ha}/bench/text-zstd{n}:zst`
/// (checked to hold zstd layers). One config: one image ID.
fn text_images(c: &Containers, ha: &str, n: usize, (layers, size): (usize, usize)) -> (String, String) {
    let mut rng = fastrand::Rng::with_seed(31 + n as u64);
    let vocabulary: Vec<Vec<u8>> = (0..4096)
        .map(|_| (0..rng.usize(2..12)).map(|_| rng.alphabetic().to_ascii_lowercase() as u8).collect())
        .collect();
    const FILE: usize = 64 << 10;
    let layers_count = layers;
    let layers = (0..layers)
        .map(|l| {
            (0..size.div_ceil(FILE))
                .map(|f| (format!("text{l}/f{f:05}.txt"), text(&mut rng, &vocabulary, FILE.min(size - f * FILE))))
                .collect()
        })
        .collect();
    let spec = ImageSpec { os: "linux", architecture: arch(), variant: None, layers };
    let dir = c.path(&format!("layout-text-{n}"));
    write_layout(&dir, "v1", &[spec]);
    let policy = format!("--policy={}", c.policy.display());
    let oci = format!("oci:{}:v1", dir.display());
    let (gz, zst) = (format!("{ha}/bench/text{n}:gz"), format!("{ha}/bench/text-zstd{n}:zst"));
    c.skopeo(&["copy", &policy, "--dest-tls-verify=false", &oci, &format!("docker://{gz}")])
        .expect_ok("skopeo pushes the text image");
    // Cold, and to another repository: with its blob info cache skopeo would reuse the gzip layers it has just
    // pushed instead of compressing with zstd.
    cold(c);
    let zstd = ["copy", &policy, "--dest-tls-verify=false", "--dest-compress-format", "zstd", &oci];
    c.skopeo(&[&zstd[..], &[format!("docker://{zst}").as_str()]].concat()).expect_ok("skopeo pushes it as zstd");
    let out = c.skopeo(&["inspect", "--raw", "--tls-verify=false", &format!("docker://{zst}")]);
    let manifest = String::from_utf8(out.expect_ok("skopeo inspect --raw").stdout).unwrap();
    let zstd_layers = manifest.matches("tar+zstd").count();
    assert_eq!(zstd_layers, layers_count, "the zstd image has zstd layers only: {manifest}");
    let _ = std::fs::remove_dir_all(&dir);
    (gz, zst)
}

/// The `pull zstd` row (issue 24: "zstd inflates faster", target 0.8): what a pull costs once its layers are
/// inflated, for the zstd image against the gzip one of the same compressible data ([`text_images`]). `hoist
/// pull` itself never inflates (the store keeps layers as pulled), so each run times `hoist copy docker://IMG
/// oci:DIR` (the registry read, every blob hashed) plus `hoist verify DIR` (every layer inflated and its
/// diff_id hashed, what a consumer of the layers pays), an empty directory each run.
fn pull_zstd_row(c: &Containers, world: &HoistWorld, ha: &str, n: usize, name: &str, shape: (usize, usize)) -> Row {
    eprintln!("bench: {name} making the text images of the pull zstd row");
    let (gz, zst) = text_images(c, ha, n, shape);
    let runs = runs();
    let dir = world.path("pulled-oci");
    let pull_and_verify = |image: &str| {
        let _ = std::fs::remove_dir_all(&dir);
        let dest = format!("oci:{}:v1", dir.display());
        let pulled = measured(
            &mut world.command(&["copy", "-q", &format!("docker://{image}"), &dest], &Vec::new()),
            "hoist copy to oci:",
        );
        let verified = measured(&mut world.command(&["verify", dir.to_str().unwrap()], &Vec::new()), "hoist verify");
        eprintln!(
            "bench: {image}: copy {:.3} s, verify {:.3} s",
            pulled.wall.as_secs_f64(),
            verified.wall.as_secs_f64()
        );
        Sample { wall: pulled.wall + verified.wall, rss_kib: pulled.rss_kib.max(verified.rss_kib) }
    };
    let mut row = Row {
        op: "pull+inflate zstd".into(),
        data: format!("{name} text"),
        hoist: Vec::new(),
        peer: Vec::new(),
        peer_name: "the same of the gzip image".into(),
        target: Some(0.8),
        floor: None,
        curl: None,
    };
    for run in 0..=runs {
        eprintln!("bench: {name} pull zstd run {run}/{runs}");
        let s = pull_and_verify(&zst);
        let p = pull_and_verify(&gz);
        if run > 0 {
            row.hoist.push(s);
            row.peer.push(p);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    row
}

/// The `daemon` rows for one data set (see the module's doc): the layout `oci` loaded into the engine by
/// skopeo, then read out and written in by hoist and by the peers, alternating, after a warm-up run.
fn daemon_rows(
    c: &Containers,
    world: &HoistWorld,
    docker: &Docker,
    oci: &str,
    n: usize,
    name: &str,
    floor: Duration,
) -> Vec<Row> {
    let policy = format!("--policy={}", c.policy.display());
    let image = format!("bench/daemon{n}:v1");
    let with_host = |mut cmd: Command| {
        cmd.env("DOCKER_HOST", docker.host());
        cmd
    };
    // Seeded by hoist (skopeo 1.9's docker-daemon: writer loses its pipe with Engine 20.10 on these layouts).
    let mut seed = with_host(world.command(&["copy", "-q", oci, &format!("docker-daemon:{image}")], &Vec::new()));
    measured(&mut seed, "hoist copy into the engine");
    let row = |op: &str, peer: &str, target: f64| Row {
        op: op.into(),
        data: name.into(),
        hoist: Vec::new(),
        peer: Vec::new(),
        peer_name: peer.into(),
        target: Some(target),
        floor: Some(floor),
        curl: None,
    };
    let mut out_skopeo = row("daemon → store", "skopeo copy docker-daemon: oci:", 0.6);
    let mut out_save = row("daemon → store", "docker save -o", 1.0);
    let mut into = row("store → daemon", "docker load -i", 1.0);
    let store = world.path("store");
    let hoist = |args: &[&str]| with_host(world.command(args, &Vec::new()));
    let (dir, archive) = (c.path("daemon-oci"), c.path("daemon-saved.tar"));
    let back = format!("bench/daemon{n}-back:v1");
    for run in 0..=runs() {
        eprintln!("bench: {name} daemon run {run}/{runs}", runs = runs());
        let keep = run > 0;
        let _ = std::fs::remove_dir_all(&store);
        let h = measured(
            &mut hoist(&["copy", "-q", &format!("docker-daemon:{image}"), "store:bench-daemon"]),
            "hoist copy docker-daemon: store:",
        );
        let _ = std::fs::remove_dir_all(&dir);
        let mut skopeo = with_host(c.command("skopeo"));
        skopeo
            .args(["copy", "-q", &policy, &format!("--src-daemon-host={}", docker.host())])
            .arg(format!("docker-daemon:{image}"))
            .arg(format!("oci:{}:v1", dir.display()));
        let s = measured(&mut skopeo, "skopeo copy docker-daemon: oci:");
        let _ = std::fs::remove_file(&archive);
        let mut save = docker.command();
        save.args(["save", "-o", archive.to_str().unwrap(), &image]);
        let d = measured(&mut save, "docker save");
        // Into an empty engine both times: hoist writes the image under another name, removed again before
        // docker loads the saved archive (which gives the engine the image the next run reads).
        let _ = docker.docker(&["rmi", &image]);
        let hi = measured(
            &mut hoist(&["copy", "-q", "store:bench-daemon", &format!("docker-daemon:{back}")]),
            "hoist copy store: docker-daemon:",
        );
        let _ = docker.docker(&["rmi", &back]);
        let mut load = docker.command();
        load.args(["load", "-q", "-i", archive.to_str().unwrap()]);
        let l = measured(&mut load, "docker load");
        if keep {
            out_skopeo.hoist.push(h);
            out_skopeo.peer.push(s);
            out_save.hoist.push(Sample {
                wall: out_skopeo.hoist.last().unwrap().wall,
                rss_kib: out_skopeo.hoist.last().unwrap().rss_kib,
            });
            out_save.peer.push(d);
            into.hoist.push(hi);
            into.peer.push(l);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&archive);
    let _ = std::fs::remove_dir_all(&store);
    let _ = docker.docker(&["rmi", &image]);
    vec![out_skopeo, out_save, into]
}

/// Repositories and tags of the sync rows.
const SYNC_REPOS: usize = 20;
const SYNC_TAGS: usize = 5;

/// The sync rows (issue 23): 20 repositories × 5 tags of small distinct images (one 256 KiB layer each) from
/// registry `ha` to registry `hb`, hoist and skopeo each in one process on the same sync YAML naming the 20
/// repositories (every tag). Cold: a fresh destination namespace per run (and skopeo's blob info cache removed); warm: the run-0
/// destinations again, nothing changed. Targets: cold ≤ 0.6, warm ≤ 0.25.
fn sync_rows(c: &Containers, conf: &str, ha: &str, hb: &str, runs: usize) -> Vec<Row> {
    let policy = format!("--policy={}", c.policy.display());
    eprintln!("bench: seeding {SYNC_REPOS} × {SYNC_TAGS} images for sync");
    for r in 0..SYNC_REPOS {
        for t in 0..SYNC_TAGS {
            let dir = c.path("layout-sync");
            let _ = std::fs::remove_dir_all(&dir);
            write_layout(&dir, "v1", &[ImageSpec::random(arch(), 1, 256 << 10, 1000 + (r * SYNC_TAGS + t) as u64)]);
            let to = format!("docker://{ha}/bench-sync/r{r:02}:1.{t}.0");
            c.skopeo(&["copy", &policy, "--dest-tls-verify=false", &format!("oci:{}:v1", dir.display()), &to])
                .expect_ok("skopeo seeds the sync repositories");
        }
    }
    let yaml = c.path("sync.yaml");
    let mut text = format!("{ha}:\n  tls-verify: false\n  images:\n");
    for r in 0..SYNC_REPOS {
        text.push_str(&format!("    bench-sync/r{r:02}: []\n"));
    }
    std::fs::write(&yaml, text).unwrap();
    let world = HoistWorld::new(conf);
    // Both on the same YAML, one process each (issue 23's rows).
    let hoist_loop = |dest: &str| {
        let yaml = yaml.to_str().unwrap();
        world.command(
            &["sync", "-q", "--src", "yaml", "--dest", "docker", "--dest-tls-verify=false", yaml, dest],
            &Vec::new(),
        )
    };
    let skopeo_sync = |dest: &str| {
        let mut s = c.command("skopeo");
        s.args(["sync", &policy, "--src", "yaml", "--dest", "docker", "--dest-tls-verify=false"]).arg(&yaml).arg(dest);
        s
    };
    let peer_name = "skopeo sync --src yaml";
    let data = format!("{SYNC_REPOS}×{SYNC_TAGS}");
    let row = |op: &str, target: f64| Row {
        op: op.into(),
        data: data.clone(),
        hoist: Vec::new(),
        peer: Vec::new(),
        peer_name: peer_name.into(),
        target: Some(target),
        floor: None,
        curl: None,
    };
    let (mut cold_row, mut warm_row) = (row("sync cold", 0.6), row("sync warm", 0.25));
    for run in 0..=runs {
        eprintln!("bench: sync cold run {run}/{runs}");
        let s = measured(&mut hoist_loop(&format!("{hb}/sync-h{run}")), "hoist sync (cold)");
        cold(c);
        let p = measured(&mut skopeo_sync(&format!("{hb}/sync-s{run}")), "skopeo sync (cold)");
        if run > 0 {
            cold_row.hoist.push(s);
            cold_row.peer.push(p);
        }
    }
    for run in 0..=runs {
        eprintln!("bench: sync warm run {run}/{runs}");
        let s = measured(&mut hoist_loop(&format!("{hb}/sync-h0")), "hoist sync (warm)");
        let p = measured(&mut skopeo_sync(&format!("{hb}/sync-s0")), "skopeo sync (warm)");
        if run > 0 {
            warm_row.hoist.push(s);
            warm_row.peer.push(p);
        }
    }
    vec![cold_row, warm_row]
}

fn report(rows: &[Row]) -> ExitCode {
    println!(
        "{:<20} {:<9} {:>14} {:>14} {:>7} {:>9} {:>9} {:>8} {:>11}  peer",
        "operation",
        "data",
        "hoist s (min–max)",
        "peer s (min–max)",
        "ratio",
        "rss hoist",
        "rss peer",
        "floor×",
        "curl× h/p"
    );
    let mut missed = 0;
    for r in rows {
        let (h, p) = (median(&r.hoist), median(&r.peer));
        let ratio = h.as_secs_f64() / p.as_secs_f64();
        let floor_x = r.floor.map(|f| h.as_secs_f64() / f.as_secs_f64().max(1e-6));
        let met = r.target.is_none_or(|t| ratio <= t);
        missed += usize::from(!met);
        println!(
            "{:<20} {:<9} {:>6.2} {:>10} {:>6.2} {:>10} {:>7.3}{} {:>9} {:>9} {:>8} {:>11}  {}",
            r.op,
            r.data,
            h.as_secs_f64(),
            format!("({})", span(&r.hoist)),
            p.as_secs_f64(),
            format!("({})", span(&r.peer)),
            ratio,
            if met { " " } else { "!" },
            peak(&r.hoist),
            peak(&r.peer),
            floor_x.map(|x| format!("{x:.1}")).unwrap_or_default(),
            r.curl
                .map(|u| format!("{:.2}/{:.2}", h.as_secs_f64() / u.as_secs_f64(), p.as_secs_f64() / u.as_secs_f64()))
                .unwrap_or_default(),
            r.peer_name,
        );
    }
    println!(
        "\nratio = hoist median / peer median (target <= 0.6, load and the docker peers <= 1.0, sync warm <= 0.25, pull signed <= 1.2 against hoist's unsigned pull, push gzip→zstd <= 0.5, pull+inflate zstd <= 0.8 against the same of the gzip image (text data: pull to oci: plus verify); '!' marks a miss); floor× = hoist median / sha256 of the same bytes (plus gzip -d for save); curl× = hoist and peer medians / curl fetching (pull rows) or uploading (push rows) the same blobs, 6 at a time"
    );
    if missed > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
