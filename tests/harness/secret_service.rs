//! A private Secret Service: a session D-Bus of our own plus gnome-keyring-daemon, unlocked with a password.
//!
//! The bus config has no service directories, so nothing is auto-activated: every process on the bus is one we
//! started, and dropping this stops them.

use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::process::{Env, Proc, env_pair, require};

pub struct SecretService {
    pub address: String,
    keyring: Option<Proc>,
    _dbus: Proc,
    pub dir: TempDir,
}

const KEYRING_PASSWORD: &[u8] = b"hoist-test-keyring-password";

impl SecretService {
    pub fn start() -> SecretService {
        let dbus = require("dbus-daemon", "dbus-daemon");
        require("gnome-keyring-daemon", "gnome-keyring");
        require("dbus-send", "dbus-bin");
        let dir = tempfile::Builder::new().prefix("hoist-ss-").tempdir().unwrap();
        let sock = dir.path().join("bus.sock");
        let conf = dir.path().join("bus.conf");
        fs::write(
            &conf,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy>
</busconfig>
"#,
                sock.display()
            ),
        )
        .unwrap();
        // --print-address goes to a pipe we read once; logs go to a file.
        let log = fs::File::create(dir.path().join("dbus.log")).unwrap();
        let mut cmd = Command::new(dbus);
        cmd.arg(format!("--config-file={}", conf.display()))
            .args(["--nofork", "--nopidfile", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        let mut child = cmd.spawn().expect("start dbus-daemon");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("dbus address");
        let dbus = Proc::adopt("dbus-daemon", child, &dir.path().join("dbus.log"));
        let address = line.trim().to_owned();
        assert!(address.starts_with("unix:"), "dbus-daemon printed no address: {line:?}");
        let mut ss = SecretService { address, keyring: None, _dbus: dbus, dir };
        ss.start_keyring();
        ss
    }

    fn xdg_env(&self) -> Env {
        let data = self.dir.path().join("data");
        let runtime = self.dir.path().join("runtime");
        for d in [&data, &runtime] {
            fs::create_dir_all(d).unwrap();
            fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        }
        vec![
            env_pair("DBUS_SESSION_BUS_ADDRESS", &self.address),
            env_pair("XDG_DATA_HOME", data),
            env_pair("XDG_RUNTIME_DIR", runtime),
            env_pair("HOME", self.dir.path()),
        ]
    }

    /// Starts (or restarts) gnome-keyring-daemon, unlocked, and waits until it owns org.freedesktop.secrets.
    pub fn start_keyring(&mut self) {
        let mut cmd = Command::new("gnome-keyring-daemon");
        cmd.args(["--foreground", "--unlock", "--components=secrets"]).env_remove("DISPLAY");
        for (k, v) in self.xdg_env() {
            cmd.env(k, v);
        }
        let mut proc =
            Proc::spawn("gnome-keyring-daemon", &mut cmd, &self.dir.path().join("keyring.log"), Some(KEYRING_PASSWORD));
        let start = Instant::now();
        loop {
            let out = Command::new("dbus-send")
                .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
                .args(["--session", "--print-reply", "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus"])
                .args(["org.freedesktop.DBus.NameHasOwner", "string:org.freedesktop.secrets"])
                .output()
                .expect("dbus-send");
            if String::from_utf8_lossy(&out.stdout).contains("boolean true") {
                break;
            }
            proc.assert_running();
            assert!(start.elapsed() < Duration::from_secs(15), "gnome-keyring did not start:\n{}", proc.log());
            std::thread::sleep(Duration::from_millis(30));
        }
        self.keyring = Some(proc);
    }

    /// Kills gnome-keyring-daemon (the bus stays up), for "provider died" tests.
    pub fn kill_keyring(&mut self) {
        if let Some(mut p) = self.keyring.take() {
            p.kill();
        }
    }

    /// Locks the `login` collection (Secret Service `Lock`), as a screen lock or `gnome-keyring` timeout would.
    pub fn lock_login_collection(&self) {
        let out = Command::new("dbus-send")
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .args(["--session", "--print-reply", "--dest=org.freedesktop.secrets", "/org/freedesktop/secrets"])
            .args(["org.freedesktop.Secret.Service.Lock", "array:objpath:/org/freedesktop/secrets/collection/login"])
            .output()
            .expect("dbus-send");
        let reply = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && reply.contains("collection/login"),
            "lock failed: {reply} {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The pid of the running gnome-keyring-daemon.
    pub fn keyring_pid(&self) -> u32 {
        self.keyring.as_ref().expect("gnome-keyring is running").pid()
    }

    /// Environment that points a Secret Service client at this bus.
    pub fn env(&self) -> Env {
        vec![env_pair("DBUS_SESSION_BUS_ADDRESS", OsString::from(&self.address))]
    }
}
