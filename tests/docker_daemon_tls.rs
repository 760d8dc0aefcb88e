//! The `docker-daemon:` transport against a real Docker engine reached over TLS (`tcp://127.0.0.1:PORT`,
//! `--tlsverify`, harness::docker's `start_tls`): push and pull with `DOCKER_TLS_VERIFY` + `DOCKER_CERT_PATH`
//! and with `--daemon-host`/`--src-daemon-host`/`--dest-daemon-host`, the same image IDs Debian's docker client
//! sees through the same endpoint; a wrong CA, no client certificate, or plain HTTP to the TLS port each give
//! one clear line and change neither the store nor the engine.

use std::path::Path;

use harness::docker::{Docker, EngineWorld as World, make_ca};
use harness::process::{Env, env_pair};
use harness::{Run, run};

/// `DOCKER_TLS_VERIFY=1` and `DOCKER_CERT_PATH=certs`, and `DOCKER_HOST` when given.
fn tls_env(host: Option<&str>, certs: &Path) -> Env {
    let mut env = vec![env_pair("DOCKER_TLS_VERIFY", "1"), env_pair("DOCKER_CERT_PATH", certs)];
    if let Some(h) = host {
        env.push(env_pair("DOCKER_HOST", h));
    }
    env
}

/// Debian's docker client through the engine's TLS endpoint, with the engine's client certificate.
fn docker_tls(docker: &Docker, args: &[&str]) -> Run {
    let mut cmd = docker.command();
    cmd.env("DOCKER_HOST", docker.tls_host())
        .env("DOCKER_TLS_VERIFY", "1")
        .env("DOCKER_CERT_PATH", docker.tls_client_dir())
        .args(args);
    run(&mut cmd, b"")
}

/// The engine's ID of an image (hex) as the docker client sees it over TLS, or `None`.
fn engine_id(docker: &Docker, name: &str) -> Option<String> {
    let out = docker_tls(docker, &["image", "inspect", "--format", "{{.Id}}", name]);
    out.ok().then(|| out.out().trim().trim_start_matches("sha256:").to_owned())
}

/// hoist → TLS engine → hoist: push with DOCKER_HOST + DOCKER_TLS_VERIFY + DOCKER_CERT_PATH, pull with
/// `--daemon-host` (DOCKER_HOST naming a socket that is not there), copy both ways with the skopeo flags and the
/// `localhost` name of the endpoint; docker's client sees the same IDs through the same endpoint.
#[test]
fn images_go_into_a_tls_engine_and_come_back_with_the_same_id() {
    let docker = Docker::start_tls();
    let w = World::new();
    let certs = docker.tls_client_dir();
    let tcp = docker.tls_host();
    let id = w.build_one_layer("localhost/app:1", "one");

    w.hoist(&["push", "localhost/app:1", "docker-daemon:app:1"], &tls_env(Some(&tcp), &certs))
        .expect_ok("push docker-daemon: over TLS");
    assert_eq!(engine_id(&docker, "app:1").as_deref(), Some(id.as_str()));

    // docker tags it through TLS; hoist pulls it with --daemon-host, which wins over DOCKER_HOST.
    docker_tls(&docker, &["tag", "app:1", "other:2"]).expect_ok("docker tag over TLS");
    let nowhere = format!("unix://{}", w.path("no-engine.sock").display());
    let pulled = w
        .hoist(&["pull", "--daemon-host", &tcp, "docker-daemon:other:2"], &tls_env(Some(&nowhere), &certs))
        .expect_ok("pull docker-daemon: --daemon-host over TLS");
    assert_eq!(pulled.out().trim(), id, "pull prints the image ID");
    assert_eq!(w.id_of("docker.io/library/other:2"), id);

    // copy with the skopeo flags, the endpoint also by its DNS name (the server certificate names both).
    let by_name = tcp.replace("127.0.0.1", "localhost");
    let env = tls_env(None, &certs);
    w.hoist(&["copy", "--dest-daemon-host", &by_name, "store:localhost/app:1", "docker-daemon:copied:3"], &env)
        .expect_ok("copy into the engine over TLS");
    assert_eq!(engine_id(&docker, "copied:3").as_deref(), Some(id.as_str()));
    w.hoist(&["copy", "--src-daemon-host", &tcp, "docker-daemon:copied:3", "store:back:4"], &env)
        .expect_ok("copy out of the engine over TLS");
    assert_eq!(w.id_of("docker.io/library/back:4"), id);
}

/// What a TLS engine refuses: a CA that did not sign its certificate, a client without a certificate, a client
/// speaking plain HTTP to its TLS port (no DOCKER_TLS_VERIFY). Each, pulling and pushing: non-zero, one error
/// line saying what to fix, promptly (no hang), the store and the engine unchanged.
#[test]
fn a_wrong_ca_no_client_certificate_or_plain_http_is_one_line_and_changes_nothing() {
    let docker = Docker::start_tls();
    let w = World::new();
    let id = w.build_one_layer("localhost/app:1", "one");
    w.hoist(&["push", "localhost/app:1", "docker-daemon:app:1"], &vec![env_pair("DOCKER_HOST", docker.host())])
        .expect_ok("push over the Unix socket");
    let tcp = docker.tls_host();
    let good = docker.tls_client_dir();

    // The client's own certificate, but a CA of another's.
    let wrong_ca = w.path("wrong-ca");
    make_ca(&wrong_ca, "ca");
    for f in ["cert.pem", "key.pem"] {
        std::fs::copy(good.join(f), wrong_ca.join(f)).unwrap();
    }
    // The right CA, no client certificate (as the docker CLI, hoist then connects without one).
    let no_client = w.path("no-client");
    std::fs::create_dir_all(&no_client).unwrap();
    std::fs::copy(good.join("ca.pem"), no_client.join("ca.pem")).unwrap();

    let cases: [(&str, Env, &[&str]); 3] = [
        ("a wrong CA", tls_env(Some(&tcp), &wrong_ca), &["ca.pem", "engine's certificate"]),
        ("no client certificate", tls_env(Some(&tcp), &no_client), &["client certificate", "cert.pem"]),
        ("plain HTTP", vec![env_pair("DOCKER_HOST", tcp.as_str())], &["DOCKER_TLS_VERIFY", "HTTPS"]),
    ];
    let (store_before, engine_before) = (w.store_state(), docker.images());
    for (case, env, says) in &cases {
        for args in [&["pull", "docker-daemon:app:1"][..], &["push", "localhost/app:1", "docker-daemon:new:1"][..]] {
            let started = std::time::Instant::now();
            let out = w.hoist(args, env);
            assert!(!out.ok(), "{case}, {args:?}: succeeded");
            assert!(started.elapsed() < std::time::Duration::from_secs(60), "{case}, {args:?}: took too long");
            let err = out.err();
            let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("Error:")).collect();
            assert_eq!(errors.len(), 1, "{case}, {args:?}: {err}");
            assert_eq!(
                err.trim().lines().last(),
                errors.first().copied(),
                "{case}, {args:?}: the error ends it: {err}"
            );
            assert!(errors[0].contains(&tcp), "{case}, {args:?}: names the engine: {err}");
            for s in *says {
                assert!(errors[0].contains(s), "{case}, {args:?}: says {s:?}: {err}");
            }
            assert!(!err.contains("BEGIN"), "{case}: no PEM in the message: {err}");
        }
        assert_eq!(w.store_state(), store_before, "{case}: the store changed");
        assert_eq!(docker.images(), engine_before, "{case}: the engine changed");
    }
    assert_eq!(engine_id(&docker, "app:1").as_deref(), Some(id.as_str()));
}
