//! A private Docker engine (Debian's `docker.io`, Engine 20.10): `dockerd` with its own Unix socket, data root,
//! exec root and daemon.json in a temp dir — never the system-wide daemon or /etc/docker — stopped by the PID
//! it was started with when the guard is dropped. `vfs` storage, so nothing stays mounted after it stops.
//!
//! The client is Debian's `/usr/bin/docker` of the same release (a newer client elsewhere on PATH is not the
//! peer), run with this engine's `DOCKER_HOST`, its own `DOCKER_CONFIG` and a PATH that leads with this
//! workspace's binaries, so `credHelpers`/`credsStore` find hoist's helpers. Registries on 127.0.0.0/8 are
//! insecure to Docker by default (plain HTTP, or TLS whose CA it does not know).
//!
//! [`Docker::start_tls`] has the engine ALSO listen on `tcp://127.0.0.1:PORT` with `--tlsverify`: a CA of its
//! own, a server certificate for `IP:127.0.0.1` and `DNS:localhost`, and a client certificate in
//! [`Docker::tls_client_dir`] (`ca.pem`, `cert.pem`, `key.pem`: a `DOCKER_CERT_PATH`), all made with openssl in
//! the engine's temp dir.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::hoist::HoistWorld;
use crate::process::{Env, Run, env_pair, free_port, path_with_our_bins, require, run};

/// Debian's paths of the engine and its client.
const DOCKERD: &str = "/usr/sbin/dockerd";
const DOCKER: &str = "/usr/bin/docker";

/// A running private engine. Dropping it stops the engine (SIGTERM, then SIGKILL after 20 s) and removes its
/// directory.
pub struct Docker {
    child: Child,
    env: Env,
    /// With [`Docker::start_tls`]: the TLS port on 127.0.0.1.
    tls_port: Option<u16>,
    // Declared last: removed after the engine has stopped.
    dir: TempDir,
}

impl Docker {
    /// Starts an engine and waits (up to 60 s) until it answers `docker version`; panics with its log if it
    /// does not, naming the package when it is missing.
    pub fn start() -> Docker {
        Docker::launch(false)
    }

    /// [`Docker::start`], the engine also listening on `tcp://127.0.0.1:PORT` ([`Docker::tls_host`]) with
    /// `--tlsverify`: only clients presenting a certificate of its CA get in ([`Docker::tls_client_dir`]).
    pub fn start_tls() -> Docker {
        Docker::launch(true)
    }

    fn launch(tls: bool) -> Docker {
        for (path, package) in [(DOCKERD, "docker.io"), (DOCKER, "docker.io")] {
            assert!(
                Path::new(path).is_file(),
                "{path} is not installed: run `apt-get install -y {package}` (the README's setup does)"
            );
        }
        // A short path: the engine's and containerd's Unix sockets live under it (108-byte limit).
        let dir = tempfile::Builder::new().prefix("hd-").tempdir_in("/tmp").unwrap();
        let p = |s: &str| dir.path().join(s);
        for d in ["root", "exec", "config", "home"] {
            fs::create_dir_all(p(d)).unwrap();
        }
        fs::write(p("daemon.json"), "{}\n").unwrap();
        let socket = p("docker.sock");
        let log = fs::File::create(p("dockerd.log")).unwrap();
        let mut cmd = Command::new(DOCKERD);
        let tls_port = tls.then(|| {
            make_tls_files(&p("tls"));
            let port = free_port();
            let t = |f: &str| p("tls").join(f).to_str().unwrap().to_owned();
            cmd.args(["--tlsverify", "--tlscacert", &t("ca.pem"), "--tlscert", &t("server-cert.pem")]).args([
                "--tlskey",
                &t("server-key.pem"),
                "-H",
                &format!("tcp://127.0.0.1:{port}"),
            ]);
            port
        });
        let child = cmd
            .args(["--iptables=false", "--ip6tables=false", "--bridge=none", "--storage-driver=vfs"])
            .arg("--data-root")
            .arg(p("root"))
            .arg("--exec-root")
            .arg(p("exec"))
            .arg("--pidfile")
            .arg(p("dockerd.pid"))
            .arg("--config-file")
            .arg(p("daemon.json"))
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .env("HOME", p("home"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {DOCKERD}: {e}"));
        let env = vec![
            env_pair("DOCKER_HOST", format!("unix://{}", socket.display())),
            env_pair("DOCKER_CONFIG", p("config")),
            env_pair("HOME", p("home")),
            env_pair("PATH", path_with_our_bins()),
            env_pair("DOCKER_CLI_HINTS", "false"),
        ];
        let mut docker = Docker { child, env, tls_port, dir };
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = docker.child.try_wait() {
                // Tests run at once may pick the same free port: another engine, on another port.
                if tls && docker.log().contains("address already in use") {
                    return Docker::launch(tls);
                }
                panic!("dockerd exited early ({status}); log:\n{}", docker.log());
            }
            if socket.exists() && docker.docker(&["version", "--format", "{{.Server.Version}}"]).ok() {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "dockerd did not answer in 60 s; log:\n{}",
                docker.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        docker
    }

    /// `DOCKER_HOST` of this engine (`unix:///tmp/hd-…/docker.sock`).
    pub fn host(&self) -> String {
        self.env[0].1.to_string_lossy().into_owned()
    }

    /// With [`Docker::start_tls`]: `tcp://127.0.0.1:PORT`, the engine's TLS endpoint.
    pub fn tls_host(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.tls_port.expect("the engine was started with start_tls"))
    }

    /// With [`Docker::start_tls`]: a `DOCKER_CERT_PATH` the engine accepts (`ca.pem`, `cert.pem`, `key.pem`).
    pub fn tls_client_dir(&self) -> PathBuf {
        assert!(self.tls_port.is_some(), "the engine was started with start_tls");
        self.dir.path().join("tls").join("client")
    }

    /// The Unix socket the engine listens on.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    /// The client's `DOCKER_CONFIG` directory (config.json goes there).
    pub fn config_dir(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    /// A scratch directory inside the engine's temp dir (archives, build contexts).
    pub fn scratch(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join("scratch").join(name);
        fs::create_dir_all(&path).unwrap();
        path
    }

    /// The engine's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default()
    }

    /// The environment every client run gets (DOCKER_HOST, DOCKER_CONFIG, HOME, PATH): also right for hoist
    /// when it should talk to this engine or read what `docker login` wrote.
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// Debian's docker client bound to this engine, ready to run.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(DOCKER);
        cmd.env_remove("REGISTRY_AUTH_FILE").env_remove("DOCKER_TLS_VERIFY").env_remove("DOCKER_CERT_PATH");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs `docker ARGS`.
    pub fn docker(&self, args: &[&str]) -> Run {
        self.docker_with_input(args, b"")
    }

    /// The engine's images (IDs and tags), sorted, read over its Unix socket: what "the engine unchanged" means.
    pub fn images(&self) -> Vec<String> {
        let out = self.docker(&["images", "-a", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}"]);
        let mut lines: Vec<String> = out.expect_ok("docker images").out().lines().map(str::to_owned).collect();
        lines.sort();
        lines
    }

    /// Runs `docker ARGS` with `input` on stdin (e.g. `login --password-stdin`).
    pub fn docker_with_input(&self, args: &[&str], input: &[u8]) -> Run {
        let mut cmd = self.command();
        cmd.args(args);
        run(&mut cmd, input)
    }
}

/// Runs openssl with `args` in `dir`.
fn openssl(dir: &Path, args: &[&str]) {
    run(Command::new("openssl").current_dir(dir).args(args), b"").expect_ok("openssl");
}

/// A self-signed CA in `dir`: `NAME-key.pem` and `NAME.pem` (the certificate).
pub fn make_ca(dir: &Path, name: &str) {
    require("openssl", "openssl");
    fs::create_dir_all(dir).unwrap();
    let (key, crt, subj) = (format!("{name}-key.pem"), format!("{name}.pem"), format!("/CN=hoist-test-{name}"));
    let mut args = vec!["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", &subj];
    args.extend(["-addext", "basicConstraints=critical,CA:TRUE", "-keyout", &key, "-out", &crt]);
    openssl(dir, &args);
}

/// The engine's TLS files in `dir`: a CA (`ca.pem`), a server certificate for `IP:127.0.0.1` and
/// `DNS:localhost` (`server-cert.pem`/`server-key.pem`) and a client certificate with the CA in `client/`
/// (`ca.pem`, `cert.pem`, `key.pem`: what `DOCKER_CERT_PATH` holds).
fn make_tls_files(dir: &Path) {
    make_ca(dir, "ca");
    fs::create_dir_all(dir.join("client")).unwrap();
    let server_ext =
        "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n";
    fs::write(dir.join("server.ext"), server_ext).unwrap();
    fs::write(dir.join("client.ext"), "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n").unwrap();
    for (who, key, crt) in
        [("server", "server-key.pem", "server-cert.pem"), ("client", "client/key.pem", "client/cert.pem")]
    {
        let (csr, ext, subj) = (format!("{who}.csr"), format!("{who}.ext"), format!("/CN=hoist-test-{who}"));
        openssl(dir, &["req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", &subj, "-keyout", key, "-out", &csr]);
        let mut args = vec!["x509", "-req", "-in", &csr, "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial"];
        args.extend(["-days", "30", "-extfile", &ext, "-out", crt]);
        openssl(dir, &args);
    }
    fs::copy(dir.join("ca.pem"), dir.join("client").join("ca.pem")).unwrap();
}

impl Drop for Docker {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        // SAFETY: signalling a child we own and have not reaped, so its pid is still ours.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// hoist beside a Docker engine (tests/docker_daemon.rs, tests/docker_daemon_tls.rs): a [`HoistWorld`] with no
/// search registries, run with the engine's variables given per run, and the images it builds to send there.
pub struct EngineWorld(pub HoistWorld);

impl Default for EngineWorld {
    fn default() -> Self {
        Self::new()
    }
}

impl EngineWorld {
    pub fn new() -> EngineWorld {
        EngineWorld(HoistWorld::new("unqualified-search-registries = []\n"))
    }

    /// Runs `hoist ARGS` with `env` on top of the world's.
    pub fn hoist(&self, args: &[&str], env: &Env) -> Run {
        run(&mut self.0.command(args, env), b"")
    }

    pub fn path(&self, s: &str) -> PathBuf {
        self.0.path(s)
    }

    /// The store's index.json and blob files: what "unchanged" means.
    pub fn store_state(&self) -> (Vec<u8>, Vec<String>) {
        self.0.store_state()
    }

    /// Builds a two-layer image (FROM scratch, two COPYs) as `name`; its ID (hex).
    pub fn build(&self, name: &str, content: &str) -> String {
        self.build_sized(name, content, 300_000)
    }

    /// [`EngineWorld::build`] with a first layer of `size` incompressible bytes and a second of `content`.
    pub fn build_sized(&self, name: &str, content: &str, size: usize) -> String {
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let noise: Vec<u8> = (0..size)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let steps = "COPY b /dir/b\nCOPY a /a\nCMD [\"/a\"]\n";
        self.0.build_scratch(name, steps, &[("a", content.as_bytes()), ("b", &noise)])
    }

    /// Builds a one-layer image (FROM scratch, a COPY) as `name`; its ID (hex).
    pub fn build_one_layer(&self, name: &str, content: &str) -> String {
        self.0.build_scratch(name, "COPY a /a\nCMD [\"/a\"]\n", &[("a", content.as_bytes())])
    }

    /// The ID (hex) of a stored image.
    pub fn id_of(&self, name: &str) -> String {
        self.0.id_of(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The engine starts empty and answers, and dropping the guard stops the very process it started.
    #[test]
    fn a_private_engine_starts_and_stops() {
        let pid;
        {
            let docker = Docker::start();
            pid = docker.child.id();
            assert!(docker.socket().exists());
            let images = docker.docker(&["images", "-q"]).expect_ok("docker images");
            assert_eq!(images.out().trim(), "", "a fresh engine holds no image");
        }
        assert!(!Path::new(&format!("/proc/{pid}")).exists(), "dockerd {pid} still runs after the guard dropped");
    }

    /// The TLS endpoint answers docker's client with the client certificate, and only with it.
    #[test]
    fn a_tls_engine_answers_only_clients_with_its_certificate() {
        let docker = Docker::start_tls();
        let version = |certs: &Path| {
            let mut cmd = docker.command();
            cmd.env("DOCKER_HOST", docker.tls_host()).env("DOCKER_TLS_VERIFY", "1").env("DOCKER_CERT_PATH", certs);
            run(cmd.args(["version", "--format", "{{.Server.Version}}"]), b"")
        };
        let out = version(&docker.tls_client_dir()).expect_ok("docker version over TLS");
        assert!(out.out().trim().starts_with("20."), "{}", out.out());
        let ca_only = docker.scratch("ca-only");
        fs::copy(docker.tls_client_dir().join("ca.pem"), ca_only.join("ca.pem")).unwrap();
        assert!(!version(&ca_only).ok(), "the engine answered a client without a certificate");
    }
}
