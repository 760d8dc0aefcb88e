//! Files the user names for hoist to write (`--digestfile` of `copy` and `push`, archives of `copy`): a
//! directory, a missing directory or a socket is refused in one line naming the path BEFORE any image moves;
//! so is a FIFO nobody reads (at once, not a wait without end), and one with a reader gets the digest written
//! through it (never replaced by a file); a symlink is followed to the file it names and stays a symlink.
//! `sync --dest dir`, `oci:DIR`, `dir:DIR` at a file, a FIFO or a dangling symlink: refused in one line before any
//! request or write.

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use harness::Run;
use harness::hoist::{HoistWorld, hoist};

fn world() -> HoistWorld {
    let w = HoistWorld::new("unqualified-search-registries = []\n");
    w.build_scratch("localhost/app:1", "COPY a /a\n", &[("a", b"hello")]);
    w
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo {}", path.display());
}

/// One `Error:` line on stderr holding every one of `must`, and a failing exit.
fn one_error_line(out: &Run, must: &[&str]) {
    assert_ne!(out.code, Some(0), "{out:?}");
    let err = out.err();
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {err}");
    for m in must {
        assert!(lines[0].contains(m), "{m:?} in {err}");
    }
}

/// The manifest digest of the stored image, as `--digestfile` records it.
fn digest_of(w: &HoistWorld) -> String {
    let out = hoist(w, &["inspect", "--format", "{{.Digest}}", "localhost/app:1"]).expect_ok("hoist inspect");
    out.out().trim().to_owned()
}

#[test]
fn a_digestfile_that_cannot_be_written_is_refused_before_anything_moves() {
    let w = world();
    let dir = w.path("a-dir");
    std::fs::create_dir(&dir).unwrap();
    let missing = w.path("no-such-dir/digest");
    for (file, why) in [(&dir, "is a directory"), (&missing, "does not exist")] {
        let out_dir = w.path("out");
        let dest = format!("oci:{}:x", out_dir.display());
        let out = hoist(&w, &["copy", "-q", "--digestfile", file.to_str().unwrap(), "store:localhost/app:1", &dest]);
        one_error_line(&out, &[file.to_str().unwrap(), why]);
        assert!(!out_dir.exists(), "the copy did not start: {out:?}");
        // push checks it before it reaches for the registry (nobody listens on port 1).
        let out = hoist(&w, &["push", "--digestfile", file.to_str().unwrap(), "localhost/app:1", "127.0.0.1:1/app:1"]);
        one_error_line(&out, &[file.to_str().unwrap(), why]);
    }
    assert!(dir.is_dir() && std::fs::read_dir(&dir).unwrap().next().is_none(), "the directory is untouched");

    // An archive or a digest file at a socket: refused as one, the socket kept.
    let socket = w.path("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    for dest in [format!("oci-archive:{}", socket.display()), format!("docker-archive:{}", socket.display())] {
        let out = hoist(&w, &["copy", "-q", "store:localhost/app:1", &dest]);
        one_error_line(&out, &[socket.to_str().unwrap(), "is a socket"]);
    }
    let out = hoist(
        &w,
        &[
            "copy",
            "-q",
            "--digestfile",
            socket.to_str().unwrap(),
            "store:localhost/app:1",
            &format!("oci:{}", w.path("o").display()),
        ],
    );
    one_error_line(&out, &[socket.to_str().unwrap(), "is a socket"]);
    assert!(std::fs::symlink_metadata(&socket).unwrap().file_type().is_socket());
}

#[test]
fn a_digestfile_fifo_is_written_through_or_refused_at_once_and_a_symlink_followed() {
    let w = world();
    let digest = digest_of(&w);
    let fifo = w.path("fifo");
    mkfifo(&fifo);
    let dest = |n: &str| format!("oci:{}:x", w.path(n).display());

    // Nobody reads: an error at once. (A watchdog reads after 30 s so that a hoist that waits still ends.)
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watchdog = {
        let (fifo, done) = (fifo.clone(), done.clone());
        std::thread::spawn(move || {
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(30) {
                if done.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let mut r = std::fs::File::open(&fifo).unwrap();
            let _ = r.read_to_end(&mut Vec::new());
        })
    };
    let start = Instant::now();
    let out = hoist(&w, &["copy", "-q", "--digestfile", fifo.to_str().unwrap(), "store:localhost/app:1", &dest("o1")]);
    let took = start.elapsed();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    watchdog.join().unwrap();
    one_error_line(&out, &[fifo.to_str().unwrap(), "FIFO"]);
    assert!(took < Duration::from_secs(20), "refused at once, not after a wait: {took:?}");
    assert!(!w.path("o1").exists(), "refused before the copy started");
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "the FIFO stays a FIFO");

    // A reader holds the FIFO open: the digest goes through it.
    let mut reader =
        std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(&fifo).expect("open the read end");
    hoist(&w, &["copy", "-q", "--digestfile", fifo.to_str().unwrap(), "store:localhost/app:1", &dest("o2")])
        .expect_ok("copy with a FIFO digestfile that is read");
    let mut got = String::new();
    reader.read_to_string(&mut got).unwrap();
    assert_eq!(got, digest);
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "the FIFO stays a FIFO");

    // A symlink to a file: the file gets the digest, the link stays a link.
    let target = w.path("real-digest");
    std::fs::write(&target, "old").unwrap();
    let link = w.path("digest-link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    hoist(&w, &["copy", "-q", "--digestfile", link.to_str().unwrap(), "store:localhost/app:1", &dest("o3")])
        .expect_ok("copy with a symlinked digestfile");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link stays a link");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), digest);
}

/// `sync --dest dir DIR`: a DIR that is a file, a FIFO or a dangling symlink is refused in one line naming it
/// before any registry is asked (the source here listens nowhere), and is left as it was.
#[test]
fn sync_dest_dir_that_is_not_a_directory_is_refused_before_any_request() {
    let w = HoistWorld::new(
        "unqualified-search-registries = []\n[[registry]]\nlocation = \"127.0.0.1:1\"\ninsecure = true\n",
    );
    let file = w.path("a-file");
    std::fs::write(&file, "mine").unwrap();
    let fifo = w.path("a-fifo");
    mkfifo(&fifo);
    let dangling = w.path("a-link");
    std::os::unix::fs::symlink(w.path("nowhere"), &dangling).unwrap();
    for (dest, why) in [(&file, "is not a directory"), (&fifo, "is not a directory"), (&dangling, "symlink to nothing")]
    {
        let out =
            hoist(&w, &["sync", "-q", "--src", "docker", "--dest", "dir", "127.0.0.1:1/app", dest.to_str().unwrap()]);
        one_error_line(&out, &[dest.to_str().unwrap(), why]);
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    assert!(!w.path("nowhere").exists(), "nothing made at the link's target");
}

/// `copy … oci:DIR` and `dir:DIR` where DIR is a file, a FIFO or a dangling symlink: one line naming it, at once,
/// and what was there is left as it was (nothing made at a dangling link's target).
#[test]
fn an_image_directory_at_a_file_a_fifo_or_a_dangling_symlink_is_refused() {
    let w = world();
    let file = w.path("a-file");
    std::fs::write(&file, "mine").unwrap();
    let fifo = w.path("a-fifo");
    mkfifo(&fifo);
    let dangling = w.path("a-link");
    std::os::unix::fs::symlink(w.path("nowhere"), &dangling).unwrap();
    for transport in ["oci", "dir"] {
        for (at, why) in
            [(&file, "is not a directory"), (&fifo, "is not a directory"), (&dangling, "symlink to nothing")]
        {
            let dest = format!("{transport}:{}", at.display());
            let out = hoist(&w, &["copy", "-q", "store:localhost/app:1", &dest]);
            one_error_line(&out, &[at.to_str().unwrap(), why]);
        }
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    assert!(!w.path("nowhere").exists(), "nothing made at the link's target");
}
