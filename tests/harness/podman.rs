//! podman and skopeo with every piece of their state in a temp dir (storage, configs, policy, registries),
//! and PATH leading with this workspace's binaries so they find our credential helpers.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use crate::process::{Env, Run, env_pair, path_with_our_bins, require, run};

pub struct Containers {
    pub dir: TempDir,
    pub policy: PathBuf,
    env: Env,
}

impl Containers {
    /// `insecure` lists registries (host:port) podman may reach over plain HTTP.
    pub fn new(insecure: &[String]) -> Containers {
        require("podman", "podman");
        require("skopeo", "skopeo");
        let dir = tempfile::Builder::new().prefix("hoist-containers-").tempdir().unwrap();
        let p = |s: &str| dir.path().join(s);
        for d in ["storage", "run", "tmp", "home", "xdg-runtime"] {
            fs::create_dir_all(p(d)).unwrap();
        }
        fs::write(
            p("storage.conf"),
            format!(
                "[storage]\ndriver = \"vfs\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
                p("storage").display(),
                p("run").display()
            ),
        )
        .unwrap();
        fs::write(
            p("containers.conf"),
            format!(
                "[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\nevents_logfile_path = \"{}\"\ntmp_dir = \"{}\"\n",
                p("events.log").display(),
                p("tmp").display()
            ),
        )
        .unwrap();
        let mut registries = String::from("unqualified-search-registries = []\n");
        for host in insecure {
            registries.push_str(&format!("[[registry]]\nlocation = \"{host}\"\ninsecure = true\n"));
        }
        fs::write(p("registries.conf"), registries).unwrap();
        fs::write(p("policy.json"), r#"{"default":[{"type":"insecureAcceptAnything"}]}"#).unwrap();
        let env = vec![
            env_pair("CONTAINERS_STORAGE_CONF", p("storage.conf")),
            env_pair("CONTAINERS_CONF", p("containers.conf")),
            env_pair("CONTAINERS_REGISTRIES_CONF", p("registries.conf")),
            env_pair("HOME", p("home")),
            env_pair("XDG_RUNTIME_DIR", p("xdg-runtime")),
            env_pair("XDG_CONFIG_HOME", p("home/.config")),
            env_pair("TMPDIR", p("tmp")),
            env_pair("PATH", path_with_our_bins()),
        ];
        let policy = p("policy.json");
        Containers { dir, policy, env }
    }

    /// Adds variables (a helper's store location, a D-Bus address) for every podman/skopeo run.
    pub fn with_env(mut self, extra: Env) -> Self {
        self.env.extend(extra);
        self
    }

    /// `program` (podman, skopeo) with this environment, ready to run.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_remove("REGISTRY_AUTH_FILE").env_remove("DOCKER_CONFIG");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn podman(&self, args: &[&str], input: &[u8]) -> Run {
        let mut cmd = self.command("podman");
        cmd.args(args);
        run(&mut cmd, input)
    }

    pub fn skopeo(&self, args: &[&str]) -> Run {
        let mut cmd = self.command("skopeo");
        cmd.args(args);
        run(&mut cmd, b"")
    }

    /// Builds a one-layer OCI image holding `name` and pushes it to `image` (`docker://HOST/REPO:TAG`) with
    /// skopeo and `auth` (`--dest-creds=...` or `--authfile=...`), trusting `cert_dir`. Returns its digest.
    pub fn push_test_image(&self, image: &str, name: &str, auth: &str, cert_dir: &Path) -> String {
        let layout = self.path(&format!("layout-{name}"));
        let digest = crate::image::write_oci_layout(&layout, "v1", &[(name, name.as_bytes())]);
        let policy = format!("--policy={}", self.policy.display());
        let certs = format!("--dest-cert-dir={}", cert_dir.display());
        self.skopeo(&["copy", &policy, auth, &certs, &format!("oci:{}:v1", layout.display()), image])
            .expect_ok("skopeo copy to the registry");
        digest
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// `skopeo copy` with the world's policy, both sides over plain HTTP, `extra` flags; must succeed.
pub fn skopeo_copy(c: &Containers, extra: &[&str], from: &str, to: &str) {
    let policy = format!("--policy={}", c.policy.display());
    let mut args = vec!["copy", policy.as_str(), "--src-tls-verify=false", "--dest-tls-verify=false"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[from, to]);
    c.skopeo(&args).expect_ok("skopeo copy");
}

/// The manifest bytes `skopeo inspect --raw` prints of `image` (plain HTTP).
pub fn skopeo_raw(c: &Containers, image: &str) -> Vec<u8> {
    c.skopeo(&["inspect", "--raw", "--tls-verify=false", image]).expect_ok("skopeo inspect --raw").stdout
}

/// `podman pull` of `image` (plain HTTP), then its image ID as podman shows it.
pub fn podman_id(c: &Containers, image: &str) -> String {
    c.podman(&["pull", "--tls-verify=false", image], b"").expect_ok("podman pull");
    let out = c.podman(&["image", "inspect", "--format", "{{.Id}}", image], b"");
    out.expect_ok("podman image inspect").out().trim().to_owned()
}

/// An OCI layout of `specs` tagged `v1` in the world's directory `layout-NAME`: its path and what it holds.
pub fn layout(c: &Containers, name: &str, specs: &[crate::image::ImageSpec]) -> (PathBuf, crate::image::Layout) {
    let dir = c.path(&format!("layout-{name}"));
    let layout = crate::image::write_layout(&dir, "v1", specs);
    (dir, layout)
}

/// `--cert-dir DIR` for a TLS registry's CA, as podman and skopeo take it.
pub fn cert_dir_arg(dir: &Path) -> String {
    format!("--cert-dir={}", dir.display())
}
