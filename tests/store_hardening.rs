//! Issue 17's archive and store items, end to end: archive outputs (`save -o`, `copy ... docker-archive:`,
//! `oci-archive:`) write through FIFOs, devices and symlinks instead of replacing them, and refuse a directory
//! or a missing parent at once; a gzip'd backup of an image holding 300 MB of zeros loads again while a bomb
//! bigger than the spool's free space is refused; `verify`/`load` of a device are refused at once; SIGTERM
//! during a pull leaves no temp blob; `rmi` works on a full disk. Small filesystems are tmpfs mounts made in
//! temp dirs (root is needed, as in CI) and unmounted on drop.

use std::io::{Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::hoist::HoistWorld;
use harness::tmpfs::Tmpfs;
use harness::{Run, run};

struct World(HoistWorld);

impl World {
    fn new() -> World {
        World(HoistWorld::new("unqualified-search-registries = []\n"))
    }

    fn with_conf(conf: &str) -> World {
        World(HoistWorld::new(conf))
    }

    fn path(&self, s: &str) -> PathBuf {
        self.0.path(s)
    }

    fn command(&self, args: &[&str]) -> Command {
        self.0.command(args, &Vec::new())
    }

    fn hoist(&self, args: &[&str]) -> Run {
        run(&mut self.command(args), b"")
    }

    /// An image `name` built from scratch with one file `f` of `content`.
    fn image(&self, name: &str, content: &[u8]) {
        let ctx = self.path(&format!("ctx-{}", name.replace(['/', ':'], "-")));
        std::fs::create_dir_all(&ctx).unwrap();
        std::fs::write(ctx.join("f"), content).unwrap();
        std::fs::write(ctx.join("Dockerfile"), "FROM scratch\nCOPY f /f\n").unwrap();
        self.hoist(&["build", "-q", "-t", name, ctx.to_str().unwrap()]).expect_ok("hoist build");
    }

    fn has_image(&self, name: &str) -> bool {
        let out = self.hoist(&["images", "--format", "json"]).expect_ok("hoist images");
        let images: Vec<serde_json::Value> = serde_json::from_str(&out.out()).unwrap();
        images.iter().any(|i| i["Names"].as_array().unwrap().iter().any(|n| n == name))
    }

    fn temps(&self) -> Vec<String> {
        std::fs::read_dir(self.path("store/tmp"))
            .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default()
    }
}

/// The one `Error:` line of a failed run.
fn one_error(out: &Run) -> String {
    assert_ne!(out.code, Some(0), "should fail: {}", out.err());
    let err = out.err();
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("Error:")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    errors[0].to_owned()
}

/// Reads a FIFO whole on a thread of its own.
fn read_fifo(path: &Path) -> std::thread::JoinHandle<Vec<u8>> {
    let path = path.to_owned();
    std::thread::spawn(move || {
        let mut v = Vec::new();
        std::fs::File::open(path).unwrap().read_to_end(&mut v).unwrap();
        v
    })
}

fn mkfifo(path: &Path) {
    run(Command::new("mkfifo").arg(path), b"").expect_ok("mkfifo");
}

/// The arguments of a hoist command line writing an archive to a path.
type ArgsFor = fn(&str) -> Vec<String>;

#[test]
fn archive_outputs_write_through_fifos_devices_and_symlinks_and_refuse_a_directory_at_once() {
    let w = World::new();
    w.image("example.com/out/app:1", b"hello");
    // Each way to name an archive output: save -o (both archive formats) and copy to docker-archive:/oci-archive:.
    let ways: [(&str, ArgsFor); 4] = [
        ("save docker-archive", |p| ["save", "-q", "-o", p, "example.com/out/app:1"].map(String::from).to_vec()),
        ("save oci-archive", |p| {
            ["save", "-q", "--format", "oci-archive", "-o", p, "example.com/out/app:1"].map(String::from).to_vec()
        }),
        ("copy docker-archive:", |p| {
            vec![
                "copy".into(),
                "-q".into(),
                "store:example.com/out/app:1".into(),
                format!("docker-archive:{p}:example.com/out/app:1"),
            ]
        }),
        ("copy oci-archive:", |p| {
            vec![
                "copy".into(),
                "-q".into(),
                "store:example.com/out/app:1".into(),
                format!("oci-archive:{p}:example.com/out/app:1"),
            ]
        }),
    ];
    for (i, (what, args)) in ways.iter().enumerate() {
        let hoist = |p: &Path| {
            let a = args(p.to_str().unwrap());
            w.hoist(&a.iter().map(String::as_str).collect::<Vec<_>>())
        };
        // A FIFO: a reader gets a whole archive, the FIFO stays a FIFO.
        let fifo = w.path(&format!("fifo-{i}"));
        mkfifo(&fifo);
        let reader = read_fifo(&fifo);
        hoist(&fifo).expect_ok(what);
        // Checked before joining: a FIFO replaced by a file leaves its reader waiting for ever.
        assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "{what}: still a FIFO");
        let bytes = reader.join().unwrap();
        let got = w.path(&format!("from-fifo-{i}.tar"));
        std::fs::write(&got, &bytes).unwrap();
        w.hoist(&["verify", got.to_str().unwrap()]).expect_ok(&format!("{what}: the FIFO's reader got an archive"));
        let other = World::new();
        other.hoist(&["load", "-q", "-i", got.to_str().unwrap()]).expect_ok(&format!("{what}: load"));
        assert!(other.has_image("example.com/out/app:1"), "{what}");

        // A symlink: still a link; the file it names (missing at first, then existing) holds the archive.
        let target = w.path(&format!("target-{i}.tar"));
        let link = w.path(&format!("link-{i}.tar"));
        std::os::unix::fs::symlink(format!("target-{i}.tar"), &link).unwrap();
        for round in 0..2 {
            hoist(&link).expect_ok(what);
            assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "{what} {round}: a link");
            assert!(std::fs::symlink_metadata(&target).unwrap().is_file(), "{what} {round}");
            w.hoist(&["verify", target.to_str().unwrap()]).expect_ok(&format!("{what}: the link's target"));
        }

        // /dev/null: written through, still a character device.
        hoist(Path::new("/dev/null")).expect_ok(&format!("{what} to /dev/null"));
        assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device());
        // /dev/full: one clear error.
        let e = one_error(&hoist(Path::new("/dev/full")));
        assert!(e.to_lowercase().contains("no space"), "{what}: {e}");
        assert!(std::fs::metadata("/dev/full").unwrap().file_type().is_char_device());

        // A directory, a missing parent: refused at once, nothing written anywhere.
        let dir = w.path(&format!("dir-{i}"));
        std::fs::create_dir(&dir).unwrap();
        let before: Vec<_> = std::fs::read_dir(w.path("")).unwrap().flatten().map(|e| e.file_name()).collect();
        let started = Instant::now();
        let out = hoist(&dir);
        let e = one_error(&out);
        assert!(e.contains("is a directory"), "{what}: {e}");
        assert!(!out.err().contains("Copying"), "{what}: refused before any copy: {}", out.err());
        let e = one_error(&hoist(&w.path("missing/x.tar")));
        assert!(e.contains("does not exist"), "{what}: {e}");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "{what}");
        let after: Vec<_> = std::fs::read_dir(w.path("")).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(before, after, "{what}: no temp file left");
    }
}

#[test]
fn a_gzipped_backup_of_300_mb_of_zeros_loads_again() {
    let w = World::new();
    let ctx = w.path("zero-ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::File::create(ctx.join("zeros")).unwrap().set_len(300_000_000).unwrap();
    std::fs::write(ctx.join("Dockerfile"), "FROM scratch\nCOPY zeros /zeros\n").unwrap();
    w.hoist(&["build", "-q", "-t", "example.com/zero/app:1", ctx.to_str().unwrap()]).expect_ok("build");
    // `hoist save IMG | gzip > b.tar.gz`, as docs/formats.md shows (gzip's default level).
    let backup = w.path("b.tar.gz");
    let mut save = w.command(&["save", "example.com/zero/app:1"]).stdout(Stdio::piped()).spawn().unwrap();
    let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(&backup).unwrap(), flate2::Compression::default());
    std::io::copy(save.stdout.as_mut().unwrap(), &mut gz).unwrap();
    gz.finish().unwrap();
    assert!(save.wait().unwrap().success());
    assert!(std::fs::metadata(&backup).unwrap().len() < 1_000_000, "zeros compress past 300 to 1");
    let other = World::new();
    other.hoist(&["load", "-q", "-i", backup.to_str().unwrap()]).expect_ok("load of the gzip'd backup");
    assert!(other.has_image("example.com/zero/app:1"));
    w.hoist(&["verify", backup.to_str().unwrap()]).expect_ok("verify of the gzip'd backup");
}

#[test]
fn a_bomb_bigger_than_the_spools_free_space_is_refused_without_filling_it() {
    let w = World::new();
    let fs = Tmpfs::mount(&w.path("small"), "16m");
    // 64 MiB of zeros, gzip'd to about 64 KiB: a tar with one big entry.
    let bomb = w.path("bomb.tar.gz");
    let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(&bomb).unwrap(), flate2::Compression::best());
    let mut h = tar::Header::new_ustar();
    h.set_path("manifest.json").unwrap();
    h.set_size(64 << 20);
    h.set_cksum();
    gz.write_all(h.as_bytes()).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        gz.write_all(&zeros).unwrap();
    }
    gz.finish().unwrap();
    let store = w.path("small/store");
    let mut cmd = w.command(&["load", "-q", "-i", bomb.to_str().unwrap()]);
    cmd.env("HOIST_STORE", &store);
    let e = one_error(&run(&mut cmd, b""));
    assert!(e.contains("decompression bomb refused") && e.contains("free space"), "{e}");
    assert!(fs.used() < 15 << 20, "the spool stopped before the disk was full: {} bytes used", fs.used());
    assert_eq!(std::fs::read_dir(store.join("tmp")).unwrap().count(), 0);
}

#[test]
fn verify_and_load_of_a_device_are_refused_at_once() {
    let w = World::new();
    for args in [vec!["verify", "/dev/zero"], vec!["load", "-i", "/dev/zero"], vec!["load", "-i", "/dev/null"]] {
        let started = Instant::now();
        let mut child = w.command(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > Duration::from_secs(5) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{args:?} still reading after 5 s");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let o = child.wait_with_output().unwrap();
        let out = Run { code: o.status.code(), stdout: o.stdout, stderr: o.stderr };
        one_error(&out);
        let said = format!("{}{}", out.out(), out.err());
        assert!(said.contains("is a character device, not an archive"), "{args:?}: {said}");
    }
}

#[test]
fn rmi_works_on_a_full_disk() {
    let w = World::new();
    let _fs = Tmpfs::mount(&w.path("small"), "8m");
    let store = w.path("small/store");
    let env = |cmd: &mut Command| {
        cmd.env("HOIST_STORE", &store);
    };
    let mut data = vec![0u8; 3_000_000];
    fastrand::Rng::with_seed(17).fill(&mut data);
    let ctx = w.path("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("f"), &data).unwrap();
    std::fs::write(ctx.join("Dockerfile"), "FROM scratch\nCOPY f /f\n").unwrap();
    let mut cmd = w.command(&["build", "-q", "-t", "example.com/full/app:1", ctx.to_str().unwrap()]);
    env(&mut cmd);
    run(&mut cmd, b"").expect_ok("build into the small store");
    // Fill the filesystem to the last byte.
    let mut filler = std::fs::File::create(w.path("small/filler")).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while filler.write_all(&chunk).is_ok() {}
    let _ = filler.write_all(&[0u8; 512]);
    drop(filler);
    let mut cmd = w.command(&["rmi", "example.com/full/app:1"]);
    env(&mut cmd);
    let out = run(&mut cmd, b"");
    assert!(out.ok(), "rmi on a full disk: {}", out.err());
    assert!(out.out().contains("Untagged: example.com/full/app:1"), "{}", out.out());
    let mut cmd = w.command(&["images", "--format", "json"]);
    env(&mut cmd);
    assert_eq!(run(&mut cmd, b"").expect_ok("images").out().trim(), "[]");
    let blobs = std::fs::read_dir(store.join("blobs/sha256")).unwrap().count();
    assert_eq!(blobs, 0, "the image's blobs went");
}

/// A registry that serves one image but stalls half-way through its layer blob until dropped.
struct Stalling {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Stalling {
    fn start(layout: &Path, top: &str, stalled: &str) -> Stalling {
        use std::io::BufRead;
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (layout, top, stalled, sp) = (layout.to_owned(), top.to_owned(), stalled.to_owned(), stop.clone());
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !sp.load(Ordering::Relaxed) && Instant::now() < deadline {
                let Ok((mut conn, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let (layout, top, stalled, sp) = (layout.clone(), top.clone(), stalled.clone(), sp.clone());
                std::thread::spawn(move || {
                    conn.set_nonblocking(false).unwrap();
                    // A TLS handshake (hoist tries HTTPS first on an insecure registry) is closed at once, so
                    // hoist goes on over plain HTTP instead of waiting for its timeout.
                    let mut first = [0u8; 1];
                    if conn.peek(&mut first).is_err() || first[0] == 0x16 {
                        return;
                    }
                    let mut r = std::io::BufReader::new(conn.try_clone().unwrap());
                    let mut line = String::new();
                    let _ = r.read_line(&mut line);
                    loop {
                        let mut h = String::new();
                        if r.read_line(&mut h).is_err() || h.trim().is_empty() {
                            break;
                        }
                    }
                    let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
                    let head = line.starts_with("HEAD");
                    let blob =
                        |d: &str| std::fs::read(layout.join("blobs/sha256").join(d.trim_start_matches("sha256:")));
                    let (body, ty) = if path == "/v2/" {
                        (b"{}".to_vec(), "application/json")
                    } else if path.contains("/manifests/") {
                        (blob(&top).unwrap(), "application/vnd.oci.image.manifest.v1+json")
                    } else if let Some((_, d)) = path.split_once("/blobs/") {
                        (blob(d).unwrap_or_default(), "application/octet-stream")
                    } else {
                        (Vec::new(), "text/plain")
                    };
                    let digest = if path.contains("/manifests/") { top.clone() } else { String::new() };
                    let mut headers = format!(
                        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: {ty}\r\nContent-Length: {}\r\n",
                        body.len()
                    );
                    if !digest.is_empty() {
                        headers.push_str(&format!("Docker-Content-Digest: {digest}\r\n"));
                    }
                    headers.push_str("\r\n");
                    let _ = conn.write_all(headers.as_bytes());
                    if head {
                        return;
                    }
                    if path.ends_with(&stalled) {
                        let _ = conn.write_all(&body[..body.len() / 2]);
                        let _ = conn.flush();
                        let until = Instant::now() + Duration::from_secs(30);
                        while !sp.load(Ordering::Relaxed) && Instant::now() < until {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        return;
                    }
                    let _ = conn.write_all(&body);
                });
            }
        });
        Stalling { port, stop }
    }
}

impl Drop for Stalling {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

#[test]
fn sigterm_and_sigint_during_a_pull_leave_no_temp_blob() {
    let dir = tempfile::tempdir().unwrap();
    let arch = if cfg!(target_arch = "aarch64") { "arm64" } else { "amd64" };
    let layout =
        harness::image::write_layout(dir.path(), "v1", &[harness::image::ImageSpec::random(arch, 1, 4_000_000, 5)]);
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("blobs/sha256").join(layout.top.trim_start_matches("sha256:"))).unwrap(),
    )
    .unwrap();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap().to_owned();
    for (signal, code) in [(libc::SIGTERM, 143), (libc::SIGINT, 130)] {
        let reg = Stalling::start(dir.path(), &layout.top, &layer);
        let host = format!("127.0.0.1:{}", reg.port);
        let w = World::with_conf(&format!(
            "unqualified-search-registries = []\n[[registry]]\nlocation = \"{host}\"\ninsecure = true\n"
        ));
        let mut child = w
            .command(&["pull", "-q", &format!("{host}/lib/app:v1")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Wait until the stalled layer's temp file holds bytes.
        let deadline = Instant::now() + Duration::from_secs(30);
        let partial = loop {
            let found = w.temps().into_iter().find(|t| {
                t.starts_with("blob-")
                    && std::fs::metadata(w.path("store/tmp").join(t)).is_ok_and(|m| m.len() >= 1_000_000)
            });
            if let Some(t) = found {
                break t;
            }
            assert!(Instant::now() < deadline, "no partial blob appeared: {:?}", w.temps());
            assert!(child.try_wait().unwrap().is_none(), "the pull ended before the stall");
            std::thread::sleep(Duration::from_millis(20));
        };
        // SAFETY: signalling our own child by its id.
        unsafe { libc::kill(child.id() as i32, signal) };
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(code), "signal {signal}: exit status {status:?}");
        assert!(w.temps().is_empty(), "signal {signal}: {partial} and others left: {:?}", w.temps());
        drop(reg);
    }
}
