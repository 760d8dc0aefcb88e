//! Processes: finding programs, running them with input, and owning long-running ones.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A program the tests need, found on PATH, or a panic naming the Debian package that provides it.
pub fn require(program: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(program);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!("{program} is not installed: run `apt-get install -y {package}` (the README's setup does)");
}

/// The target directory holding this workspace's binaries (target/debug or target/release).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // Tests run from target/<profile>/deps/, this workspace's own tools from target/<profile>/.
    let dir = exe.parent().expect("executable has a directory");
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent().expect("target/<profile>").to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

/// A binary of this workspace. `make test` builds them all before running tests.
pub fn bin(name: &str) -> PathBuf {
    let path = target_dir().join(name);
    assert!(path.is_file(), "{} is missing: run `cargo build --workspace` first (`make test` does)", path.display());
    path
}

/// A PATH with this workspace's binaries first, so real clients (podman, skopeo) find our helpers.
pub fn path_with_our_bins() -> OsString {
    let mut dirs = vec![target_dir()];
    dirs.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    std::env::join_paths(dirs).expect("PATH")
}

/// A free TCP port on 127.0.0.1 (bound, then released for the program we start).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// Whether the socket listening on 127.0.0.1:`port` is one of process `pid`'s (`None`: cannot tell, e.g.
/// no /proc).
pub fn listener_belongs_to(pid: u32, port: u16) -> Option<bool> {
    let tcp = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let local = format!("0100007F:{port:04X}");
    let inode = tcp.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.get(1) == Some(&local.as_str()) && f.get(3) == Some(&"0A")).then(|| f.get(9).map(|s| (*s).to_owned()))?
    })?;
    let socket = format!("socket:[{inode}]");
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    Some(fds.flatten().any(|e| std::fs::read_link(e.path()).is_ok_and(|t| t.to_string_lossy() == socket)))
}

/// Waits until `proc` itself accepts TCP connections on 127.0.0.1:port: `false` when another process holds
/// the port (a free port picked twice by tests running at once) and `proc` has exited, failing to bind it.
pub fn wait_for_own_port(port: u16, proc: &mut Proc, timeout: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            && listener_belongs_to(proc.pid(), port) != Some(false)
        {
            return true;
        }
        if proc.exited() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{} did not listen on 127.0.0.1:{port} within {timeout:?}; log:\n{}", proc.name, proc.log());
}

/// Waits until something accepts TCP connections on 127.0.0.1:port.
pub fn wait_for_port(port: u16, proc: &mut Proc, timeout: Duration) {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        proc.assert_running();
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{} did not listen on 127.0.0.1:{port} within {timeout:?}; log:\n{}", proc.name, proc.log());
}

/// The result of a finished command.
#[derive(Debug, Clone)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Run {
    pub fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn err(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }
    /// Panics with both streams unless the command exited 0.
    pub fn expect_ok(self, what: &str) -> Self {
        assert!(self.ok(), "{what} failed ({:?})\nstdout: {}\nstderr: {}", self.code, self.out(), self.err());
        self
    }
}

/// Runs `cmd` to completion with `input` on stdin, capturing both output streams.
pub fn run(cmd: &mut Command, input: &[u8]) -> Run {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    std::thread::scope(|s| {
        s.spawn(move || {
            let _ = stdin.write_all(input);
        });
        s.spawn(|| {
            let _ = stderr.read_to_end(&mut err);
        });
        let _ = stdout.read_to_end(&mut out);
    });
    let status = child.wait().expect("wait");
    Run { code: status.code(), stdout: out, stderr: err }
}

/// A credential helper as a test runs it: a program plus the environment that points it at its store.
pub trait Subject {
    /// Short name for messages.
    fn name(&self) -> String;
    /// A command for the helper with its environment set.
    fn command(&self) -> Command;
    /// Empties the helper's store.
    fn reset(&self);
    /// Runs the helper with `args` and `input`.
    fn run(&self, args: &[&str], input: &[u8]) -> Run {
        let mut cmd = self.command();
        cmd.args(args);
        run(&mut cmd, input)
    }
}

/// A long-running process the test owns. Dropping it stops that process (SIGTERM, then SIGKILL) and reaps it.
pub struct Proc {
    pub name: String,
    child: Child,
    log: PathBuf,
}

impl Proc {
    /// Starts `cmd` with stdout and stderr appended to `log`. Stdin is closed unless `input` is given.
    pub fn spawn(name: &str, cmd: &mut Command, log: &Path, input: Option<&[u8]>) -> Proc {
        let file = std::fs::File::create(log).expect("log file");
        cmd.stdout(file.try_clone().unwrap()).stderr(file);
        cmd.stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() });
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        if let Some(input) = input {
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(input).expect("write stdin");
        }
        Proc { name: name.to_owned(), child, log: log.to_owned() }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the process has ended.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited early ({status}); log:\n{}", self.name, self.log());
        }
    }

    /// Kills the process now (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn stop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        // SAFETY: signalling a child we own and have not reaped, so its pid is still ours.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(3) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.kill();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `KEY=VALUE` pairs to set on commands.
pub type Env = Vec<(OsString, OsString)>;

pub fn env_pair(k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> (OsString, OsString) {
    (k.as_ref().to_owned(), v.as_ref().to_owned())
}

impl Proc {
    /// Takes ownership of an already started child.
    pub fn adopt(name: &str, child: Child, log: &Path) -> Proc {
        Proc { name: name.to_owned(), child, log: log.to_owned() }
    }
}

/// How long `subject`'s `store` of `input` takes (median of 5 runs), so crash tests can aim their kills at a
/// store's whole lifetime on machines of any speed.
pub fn store_duration(subject: &dyn Subject, input: &[u8]) -> Duration {
    let mut times: Vec<Duration> = (0..5)
        .map(|_| {
            let start = Instant::now();
            subject.run(&["store"], input).expect_ok("timing store");
            start.elapsed()
        })
        .collect();
    times.sort();
    times[2]
}
