//! `hoist` run as a user would, in a world of its own: a temp HOME and XDG directories, its own
//! registries.conf (no drop-ins from the machine), its own local store and TMPDIR, no inherited auth file, and no
//! controlling terminal (as in CI), so it must never prompt. Its `$HOME/.config/containers/registries.d` sends
//! signatures to a lookaside inside the world (`default-docker` `lookaside` and `lookaside-staging`): without
//! it, a signed push would write to the built-in `/var/lib/containers/sigstore` (tests run as root).

use std::path::PathBuf;
use std::process::Command;

use crate::process::{Env, env_pair, path_with_our_bins};
use crate::{Run, bin, run};

/// The world's default registries.d, under its `$HOME`.
const REGISTRIES_D: &str = "home/.config/containers/registries.d";
/// The lookaside that registries.d names.
const LOOKASIDE: &str = "sigstore";

/// registries.conf with no search registries and `hosts` reached over plain HTTP.
pub fn insecure_registries(hosts: &[&str]) -> String {
    let mut s = String::from("unqualified-search-registries = []\n");
    for h in hosts {
        s.push_str(&format!("[[registry]]\nlocation = \"{h}\"\ninsecure = true\n"));
    }
    s
}

/// registries.conf with no search registries and `host` reached over plain HTTP.
pub fn insecure(host: &str) -> String {
    insecure_registries(&[host])
}

/// Runs `hoist ARGS` in `w` with no input and no extra variables.
pub fn hoist(w: &HoistWorld, args: &[&str]) -> Run {
    w.run(args, b"", &Vec::new())
}

/// Parses JSON output; panics with the parse error otherwise.
pub fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap()
}

pub struct HoistWorld {
    pub dir: tempfile::TempDir,
    pub env: Env,
}

impl HoistWorld {
    /// A world whose registries.conf is `registries_conf`.
    pub fn new(registries_conf: &str) -> HoistWorld {
        let dir = tempfile::Builder::new().prefix("hoist-world-").tempdir().unwrap();
        let p = |s: &str| dir.path().join(s);
        for d in ["home", "runtime", "config", "dropins", "tmp"] {
            std::fs::create_dir_all(p(d)).unwrap();
        }
        std::fs::write(p("registries.conf"), registries_conf).unwrap();
        let registries_d = p(REGISTRIES_D);
        std::fs::create_dir_all(&registries_d).unwrap();
        let lookaside = format!("file://{}", p(LOOKASIDE).display());
        std::fs::write(
            registries_d.join("default.yaml"),
            format!("default-docker:\n  lookaside: {lookaside}\n  lookaside-staging: {lookaside}\n"),
        )
        .unwrap();
        let env = vec![
            env_pair("HOME", p("home")),
            env_pair("XDG_RUNTIME_DIR", p("runtime")),
            env_pair("XDG_CONFIG_HOME", p("config")),
            env_pair("HOIST_STORE", p("store")),
            env_pair("TMPDIR", p("tmp")),
            env_pair("CONTAINERS_REGISTRIES_CONF", p("registries.conf")),
            env_pair("CONTAINERS_REGISTRIES_CONF_DIR", p("dropins")),
            env_pair("PATH", path_with_our_bins()),
        ];
        HoistWorld { dir, env }
    }

    pub fn path(&self, s: &str) -> PathBuf {
        self.dir.path().join(s)
    }

    /// The registries.d directory hoist reads by default in this world (`$HOME/.config/containers/registries.d`).
    pub fn registries_d(&self) -> PathBuf {
        self.path(REGISTRIES_D)
    }

    /// Where signatures go by default in this world (the lookaside of its registries.d), a directory.
    pub fn lookaside(&self) -> PathBuf {
        self.path(LOOKASIDE)
    }

    /// `hoist ARGS` ready to run, with `extra` variables on top of the world's.
    pub fn command(&self, args: &[&str], extra: &Env) -> Command {
        let mut cmd = Command::new(bin("hoist"));
        cmd.args(args).env_remove("REGISTRY_AUTH_FILE").env_remove("DOCKER_CONFIG").env_remove("BUILDAH_FORMAT");
        cmd.envs(self.env.iter().chain(extra.iter()).map(|(k, v)| (k, v)));
        // SAFETY: setsid is async-signal-safe; it detaches the child from any terminal.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                libc::setsid();
                Ok(())
            });
        }
        cmd
    }

    /// Runs `hoist ARGS` with `input` on stdin.
    pub fn run(&self, args: &[&str], input: &[u8], extra: &Env) -> Run {
        run(&mut self.command(args, extra), input)
    }

    /// The store's index.json and blob file names (sorted): what "the store unchanged" means.
    pub fn store_state(&self) -> (Vec<u8>, Vec<String>) {
        let index = std::fs::read(self.path("store/index.json")).unwrap_or_default();
        let mut blobs: Vec<String> = std::fs::read_dir(self.path("store/blobs/sha256"))
            .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        blobs.sort();
        (index, blobs)
    }

    /// The ID (hex) of a stored image, as `hoist inspect` shows it.
    pub fn id_of(&self, name: &str) -> String {
        let out = self.run(&["inspect", "--format", "{{.Id}}", name], b"", &Vec::new()).expect_ok("hoist inspect");
        out.out().trim().trim_start_matches("sha256:").to_owned()
    }

    /// Builds `FROM scratch` + `dockerfile_rest` from a context of `files` as `name`; its ID (hex).
    pub fn build_scratch(&self, name: &str, dockerfile_rest: &str, files: &[(&str, &[u8])]) -> String {
        let ctx = self.path(&format!("ctx-{}", name.replace([':', '/'], "-")));
        std::fs::create_dir_all(&ctx).unwrap();
        std::fs::write(ctx.join("Dockerfile"), format!("FROM scratch\n{dockerfile_rest}")).unwrap();
        for (path, data) in files {
            std::fs::write(ctx.join(path), data).unwrap();
        }
        self.run(&["build", "-q", "-t", name, ctx.to_str().unwrap()], b"", &Vec::new()).expect_ok("hoist build");
        self.id_of(name)
    }
}
