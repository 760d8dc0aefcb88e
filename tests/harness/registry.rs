//! A real distribution registry (`docker-registry serve`, Debian package docker-registry) on 127.0.0.1.

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use crate::process::{Proc, free_port, require, run, wait_for_own_port};

/// How to start a registry.
#[derive(Default, Clone)]
pub struct Options {
    /// Serve HTTPS with a self-signed certificate for `localhost` and `127.0.0.1`.
    pub tls: bool,
    /// htpasswd users (bcrypt); empty means no authentication.
    pub users: Vec<(String, String)>,
    /// Token authentication: the issuer's realm URL and its certificate (see token_issuer.rs).
    pub token: Option<(String, PathBuf)>,
    /// With `tls`: demand a client certificate signed by a CA of the test's own (`client_cert_dir`).
    pub client_certs: bool,
    /// distribution's `http.host`: the base of the absolute URLs it hands back (upload `Location`s), such as
    /// another server's `http://127.0.0.1:PORT` — a registry that sends its clients elsewhere.
    pub external_url: Option<String>,
}

pub struct Registry {
    pub port: u16,
    pub tls: bool,
    /// A directory holding `ca.crt` (the self-signed certificate), for `--cert-dir` of podman/skopeo.
    pub cert_dir: Option<PathBuf>,
    /// With `client_certs`: `ca.crt` plus `client.cert`/`client.key`, a certificate the registry accepts.
    pub client_cert_dir: Option<PathBuf>,
    proc: Proc,
    pub dir: TempDir,
}

impl Registry {
    pub fn start(opts: Options) -> Registry {
        let program = require("docker-registry", "docker-registry");
        let dir = tempfile::Builder::new().prefix("hoist-registry-").tempdir().unwrap();
        let port = free_port();
        let mut http = format!("  addr: 127.0.0.1:{port}\n");
        let mut cert_dir = None;
        let mut client_cert_dir = None;
        if opts.tls {
            let certs = dir.path().join("certs");
            fs::create_dir_all(&certs).unwrap();
            let (key, crt) = (certs.join("domain.key"), certs.join("ca.crt"));
            require("openssl", "openssl");
            run(
                Command::new("openssl").args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650"]).args(
                    [
                        "-subj",
                        "/CN=localhost",
                        "-addext",
                        "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-keyout",
                        key.to_str().unwrap(),
                        "-out",
                        crt.to_str().unwrap(),
                    ],
                ),
                b"",
            )
            .expect_ok("openssl req");
            http.push_str(&format!("  tls:\n    certificate: {}\n    key: {}\n", crt.display(), key.display()));
            if opts.client_certs {
                let ccdir = dir.path().join("client");
                fs::create_dir_all(&ccdir).unwrap();
                let (ca_key, ca_crt) = (certs.join("clientca.key"), certs.join("clientca.pem"));
                let ossl = |args: &[&str]| {
                    run(Command::new("openssl").args(args), b"").expect_ok("openssl for client certificates");
                };
                let s = |p: &PathBuf| p.to_str().unwrap().to_owned();
                ossl(&[
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "30",
                    "-subj",
                    "/CN=hoist-test-client-ca",
                    "-keyout",
                    &s(&ca_key),
                    "-out",
                    &s(&ca_crt),
                ]);
                let (ckey, csr, ccert) =
                    (ccdir.join("client.key"), certs.join("client.csr"), ccdir.join("client.cert"));
                ossl(&[
                    "req",
                    "-new",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-subj",
                    "/CN=hoist-test-client",
                    "-keyout",
                    &s(&ckey),
                    "-out",
                    &s(&csr),
                ]);
                let ext = certs.join("client.ext");
                fs::write(&ext, "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n").unwrap();
                ossl(&[
                    "x509",
                    "-req",
                    "-in",
                    &s(&csr),
                    "-CA",
                    &s(&ca_crt),
                    "-CAkey",
                    &s(&ca_key),
                    "-CAcreateserial",
                    "-days",
                    "30",
                    "-extfile",
                    &s(&ext),
                    "-out",
                    &s(&ccert),
                ]);
                fs::copy(&crt, ccdir.join("ca.crt")).unwrap();
                http.push_str(&format!("    clientcas:\n      - {}\n", ca_crt.display()));
                client_cert_dir = Some(ccdir);
            }
            // podman/skopeo --cert-dir wants only *.crt (CA) files and *.cert/*.key client pairs in it.
            let ca_dir = dir.path().join("ca");
            fs::create_dir_all(&ca_dir).unwrap();
            fs::copy(&crt, ca_dir.join("ca.crt")).unwrap();
            cert_dir = Some(ca_dir);
        }
        if let Some(url) = &opts.external_url {
            http.push_str(&format!("  host: {url}\n"));
        }
        let mut auth = String::new();
        if !opts.users.is_empty() {
            require("htpasswd", "apache2-utils");
            let mut lines = String::new();
            for (user, pass) in &opts.users {
                let out = run(Command::new("htpasswd").args(["-Bbn", user, pass]), b"").expect_ok("htpasswd");
                lines.push_str(out.out().trim());
                lines.push('\n');
            }
            let htpasswd = dir.path().join("htpasswd");
            fs::write(&htpasswd, lines).unwrap();
            auth = format!("auth:\n  htpasswd:\n    realm: basic-realm\n    path: {}\n", htpasswd.display());
        }
        if let Some((realm, cert)) = &opts.token {
            auth = format!(
                "auth:\n  token:\n    realm: {realm}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                crate::token_issuer::SERVICE,
                crate::token_issuer::ISSUER,
                cert.display()
            );
        }
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {data}\n  delete:\n    enabled: true\nhttp:\n{http}  secret: hoist-test-secret\n{auth}",
            data = dir.path().join("data").display()
        );
        let config_path = dir.path().join("config.yml");
        // Tests run at once may pick the same free port: a registry that finds it taken exits, and gets
        // another one.
        let (mut port, mut config) = (port, config);
        for attempt in 1.. {
            fs::write(&config_path, &config).unwrap();
            let mut proc = Proc::spawn(
                "docker-registry",
                Command::new(&program).arg("serve").arg(&config_path),
                &dir.path().join("registry.log"),
                None,
            );
            if wait_for_own_port(port, &mut proc, Duration::from_secs(15)) {
                return Registry { port, tls: opts.tls, cert_dir, client_cert_dir, proc, dir };
            }
            assert!(attempt < 5, "docker-registry could not get a port; log:\n{}", proc.log());
            let next = free_port();
            config = config.replace(&format!("127.0.0.1:{port}"), &format!("127.0.0.1:{next}"));
            port = next;
        }
        unreachable!("the loop returns or panics")
    }

    /// `127.0.0.1:PORT`, the registry's name in image references and auth files.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        self.proc.log()
    }
}
