//! `make bench`, image rows: hoist against skopeo and podman on the same data in the same run — pull,
//! push, registry → registry copy — with the floor (`openssl dgst -sha256` over the same bytes) and each
//! process's peak RSS (from `wait4`). Alternating runs after a warm-up; medians with min–max so noise shows.
//!
//! Data sets: (a) one 100 MB random layer, (b) 40 layers of 1 MB, (c) one 1 GiB layer (the memory row;
//! `BENCH_BIG=0` leaves it out). `BENCH_RUNS` (default 5) sets the runs per row. Peers run cold: their blob
//! info cache is removed before each run, and every push goes to a fresh repository.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use harness::hoist::HoistWorld;
use harness::image::{ImageSpec, write_layout};
use harness::podman::Containers;
use harness::registry::{Options, Registry};

/// A finished run: wall time and the process's peak resident set.
struct Sample {
    wall: Duration,
    rss_kib: i64,
}

/// Runs `cmd` to completion, measuring its wall time and its own peak RSS; panics on failure. The child is
/// reaped by `wait4` (which also gives its rusage), not by `Child::wait`.
#[allow(clippy::zombie_processes)]
fn measured(cmd: &mut Command, what: &str) -> Sample {
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    let start = Instant::now();
    let child = cmd.spawn().unwrap_or_else(|e| panic!("{what}: {e}"));
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child and writes into values we own.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    assert_eq!(r, pid, "{what}: wait4");
    if std::process::ExitStatus::from_raw(status).code() != Some(0) {
        let mut err = String::new();
        if let Some(mut e) = child.stderr {
            let _ = std::io::Read::read_to_string(&mut e, &mut err);
        }
        panic!("{what} failed: {err}");
    }
    Sample { wall, rss_kib: usage.ru_maxrss }
}

struct Row {
    op: String,
    data: String,
    hoist: Vec<Sample>,
    peer: Vec<Sample>,
    peer_name: String,
    target: Option<f64>,
    floor: Option<Duration>,
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

/// The data sets as (name, specs).
fn data_sets() -> Vec<(&'static str, Vec<ImageSpec<'static>>)> {
    let arch = if cfg!(target_arch = "aarch64") { "arm64" } else { "amd64" };
    let mut sets = vec![
        ("100MB x1", vec![ImageSpec::random(arch, 1, 100 << 20, 11)]),
        ("1MB x40", vec![ImageSpec::random(arch, 40, 1 << 20, 12)]),
    ];
    if std::env::var("BENCH_BIG").map_or(true, |v| v != "0") {
        sets.push(("1GiB x1", vec![ImageSpec::random(arch, 1, 1 << 30, 13)]));
    }
    sets
}

/// The floor: hashing every blob of the layout once with `openssl dgst -sha256`.
fn floor(layout: &Path) -> Duration {
    let blobs: Vec<PathBuf> =
        std::fs::read_dir(layout.join("blobs/sha256")).unwrap().flatten().map(|e| e.path()).collect();
    let mut cmd = Command::new(harness::require("openssl", "openssl"));
    cmd.arg("dgst").arg("-sha256").args(&blobs);
    (0..3).map(|_| measured(&mut cmd, "openssl dgst").wall).min().unwrap()
}

fn cold(c: &Containers) {
    let _ = std::fs::remove_file("/var/lib/containers/cache/blob-info-cache-v1.boltdb");
    let _ = std::fs::remove_dir_all(c.path("storage"));
    std::fs::create_dir_all(c.path("storage")).unwrap();
}

fn main() -> ExitCode {
    let runs = runs();
    let (a, b) = (Registry::start(Options::default()), Registry::start(Options::default()));
    let (ha, hb) = (a.host(), b.host());
    let c = Containers::new(&[ha.clone(), hb.clone()]);
    let conf = format!(
        "unqualified-search-registries = []\n[[registry]]\nlocation = \"{ha}\"\ninsecure = true\n\
         [[registry]]\nlocation = \"{hb}\"\ninsecure = true\n"
    );
    let policy = format!("--policy={}", c.policy.display());
    let mut rows = Vec::new();
    for (n, (name, specs)) in data_sets().into_iter().enumerate() {
        eprintln!("bench: making {name}");
        let layout_dir = c.path(&format!("layout-{n}"));
        write_layout(&layout_dir, "v1", &specs);
        drop(specs);
        let oci = format!("oci:{}:v1", layout_dir.display());
        let image = format!("{ha}/bench/set{n}:v1");
        let out = c.skopeo(&["copy", &policy, "--dest-tls-verify=false", &oci, &format!("docker://{image}")]);
        out.expect_ok("skopeo seeds the registry");
        let floor = floor(&layout_dir);
        let world = HoistWorld::new(&conf);
        let store = world.path("store");
        let hoist = |args: &[&str]| world.command(args, &Vec::new());
        let row = |op: &str, peer_name: &str, target: Option<f64>| Row {
            op: op.into(),
            data: name.into(),
            hoist: Vec::new(),
            peer: Vec::new(),
            peer_name: peer_name.into(),
            target,
            floor: Some(floor),
        };
        let (mut pull, mut to_dir, mut push, mut copy) = (
            row("pull", "podman pull", Some(0.6)),
            row("registry → local", "skopeo copy dir:", Some(0.6)),
            row("push", "skopeo copy oci: docker://", Some(0.6)),
            row("registry → registry", "skopeo copy", Some(0.6)),
        );
        for run in 0..=runs {
            let keep = run > 0; // run 0 warms up
            eprintln!("bench: {name} run {run}/{runs}");
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
            let _ = std::fs::remove_dir_all(&store);
            let s = measured(&mut hoist(&["copy", "-q", &format!("docker://{image}"), "store:bench"]), "hoist copy");
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
            // Push the stored image to a fresh repository; skopeo pushes the same layout to another.
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
            // Registry to another registry, fresh repositories.
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
        rows.extend([pull, to_dir, push, copy]);
        let _ = std::fs::remove_dir_all(&layout_dir);
    }
    report(&rows)
}

fn report(rows: &[Row]) -> ExitCode {
    println!(
        "{:<20} {:<9} {:>14} {:>14} {:>7} {:>9} {:>9} {:>8}  peer",
        "operation", "data", "hoist s (min–max)", "peer s (min–max)", "ratio", "rss hoist", "rss peer", "floor×"
    );
    let mut missed = 0;
    for r in rows {
        let (h, p) = (median(&r.hoist), median(&r.peer));
        let ratio = h.as_secs_f64() / p.as_secs_f64();
        let floor_x = r.floor.map(|f| h.as_secs_f64() / f.as_secs_f64().max(1e-6));
        let met = r.target.is_none_or(|t| ratio <= t);
        missed += usize::from(!met);
        println!(
            "{:<20} {:<9} {:>6.2} {:>10} {:>6.2} {:>10} {:>7.3}{} {:>9} {:>9} {:>8}  {}",
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
            r.peer_name,
        );
    }
    println!(
        "\nratio = hoist median / peer median (target <= 0.6; '!' marks a miss); floor× = hoist median / sha256 of the same bytes"
    );
    if missed > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
