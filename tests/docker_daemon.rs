//! The `docker-daemon:` transport against a real Docker engine (harness::docker, Engine 20.10) and, for what an
//! engine must not do, a fake one on a Unix socket: images hoist built go into the engine (`push`, `copy`) and
//! come back (`pull`, `copy`) with the same image ID; images Docker loaded and tagged come out; an engine that
//! is not there, that refuses, or that cuts its stream short leaves the store (and the engine) unchanged with
//! one line saying why; a digest reference is refused before anything is asked.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixListener;
use std::path::Path;

use harness::docker::{Docker, EngineWorld as World};
use harness::process::{Env, env_pair};
use harness::registry::{Options, Registry};

/// The engine's ID of an image (hex), or `None` when it has none of that name.
fn engine_id(docker: &Docker, name: &str) -> Option<String> {
    let out = docker.docker(&["image", "inspect", "--format", "{{.Id}}", name]);
    out.ok().then(|| out.out().trim().trim_start_matches("sha256:").to_owned())
}

fn host_env(docker: &Docker) -> Env {
    vec![env_pair("DOCKER_HOST", docker.host())]
}

/// hoist → engine → hoist, through push, pull and copy, with the engine named by DOCKER_HOST and by the flags;
/// an image Docker loaded from an archive and tagged itself comes out with its ID; every way keeps the ID.
#[test]
fn images_go_into_the_engine_and_come_back_with_the_same_id() {
    let docker = Docker::start();
    let w = World::new();
    let env = host_env(&docker);
    let id = w.build("localhost/app:1", "one");

    // push into the engine (DOCKER_HOST), which has it under the name given.
    w.hoist(&["push", "localhost/app:1", "docker-daemon:app:1"], &env).expect_ok("push docker-daemon:");
    assert_eq!(engine_id(&docker, "app:1").as_deref(), Some(id.as_str()));
    let history = docker.docker(&["history", "-q", "--no-trunc", "app:1"]).expect_ok("docker history");
    assert!(history.out().contains(&id), "{}", history.out());

    // Docker tags it; hoist pulls the new name (--daemon-host) and stores it under docker's full name.
    docker.docker(&["tag", "app:1", "other:2"]).expect_ok("docker tag");
    let pulled = w
        .hoist(&["pull", "--daemon-host", &docker.host(), "docker-daemon:other:2"], &Vec::new())
        .expect_ok("pull docker-daemon:");
    assert_eq!(pulled.out().trim(), id, "pull prints the image ID");
    assert_eq!(w.id_of("docker.io/library/other:2"), id);

    // docker-daemon: → a registry, pulled back from there with the same ID.
    let reg = Registry::start(Options::default());
    let remote = format!("{}/team/app:1", reg.host());
    w.hoist(&["copy", "--dest-tls-verify=false", "docker-daemon:other:2", &format!("docker://{remote}")], &env)
        .expect_ok("copy from the engine to a registry");
    let from_registry = w.hoist(&["pull", "--tls-verify=false", &remote], &Vec::new()).expect_ok("pull");
    assert_eq!(from_registry.out().trim(), id);

    // copy store: → docker-daemon: → store: with the skopeo flags.
    let host = docker.host();
    w.hoist(&["copy", "--dest-daemon-host", &host, "store:localhost/app:1", "docker-daemon:copied:3"], &Vec::new())
        .expect_ok("copy into the engine");
    assert_eq!(engine_id(&docker, "copied:3").as_deref(), Some(id.as_str()));
    w.hoist(&["copy", "--src-daemon-host", &host, "docker-daemon:copied:3", "store:back:4"], &Vec::new())
        .expect_ok("copy out of the engine");
    assert_eq!(w.id_of("docker.io/library/back:4"), id);

    // An image Docker loaded from an archive (docker's own load), then read by hoist: same ID as docker's.
    let id2 = w.build("localhost/second:1", "two");
    let archive = docker.scratch("save").join("second.tar");
    w.hoist(&["save", "-o", archive.to_str().unwrap(), "localhost/second:1"], &Vec::new()).expect_ok("hoist save");
    docker.docker(&["load", "-i", archive.to_str().unwrap()]).expect_ok("docker load");
    docker.docker(&["tag", "localhost/second:1", "mine/second:9"]).expect_ok("docker tag");
    let out = w.path("out.tar");
    w.hoist(&["copy", "docker-daemon:mine/second:9", &format!("docker-archive:{}", out.display())], &env)
        .expect_ok("copy to an archive");
    let loaded = w.hoist(&["load", "-i", out.to_str().unwrap()], &Vec::new()).expect_ok("hoist load");
    assert!(loaded.out().contains(&id2), "{}", loaded.out());
    assert_eq!(engine_id(&docker, "mine/second:9").as_deref(), Some(id2.as_str()));
}

/// No engine at DOCKER_HOST: one line naming the socket, nothing stored. The engine's refusal (an unknown
/// image) is its message. A digest reference is refused before the engine is asked.
#[test]
fn a_missing_engine_an_unknown_image_and_a_digest_are_one_line_each() {
    let w = World::new();
    w.build("localhost/app:1", "one");
    let before = w.store_state();
    let missing = w.path("no-engine.sock");
    let env = vec![env_pair("DOCKER_HOST", format!("unix://{}", missing.display()))];
    let out = w.hoist(&["pull", "docker-daemon:app:1"], &env);
    assert!(!out.ok());
    let err = out.err();
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains(&format!("unix://{}", missing.display())) && err.contains("is the engine running"), "{err}");
    let out = w.hoist(&["push", "localhost/app:1", "docker-daemon:app:1"], &env);
    assert!(!out.ok() && out.err().contains(missing.to_str().unwrap()), "{}", out.err());
    assert_eq!(w.store_state(), before);

    let digest = format!("docker-daemon:app@sha256:{}", "a".repeat(64));
    for args in [vec!["pull", digest.as_str()], vec!["copy", digest.as_str(), "store:x:1"]] {
        let out = w.hoist(&args, &env);
        assert!(!out.ok());
        assert!(out.err().contains("a digest reference is not supported"), "{}", out.err());
        assert!(!out.err().contains("is the engine running"), "refused before connecting: {}", out.err());
    }

    let docker = Docker::start();
    let out = w.hoist(&["pull", "docker-daemon:nosuch:1"], &host_env(&docker));
    assert!(!out.ok());
    let err = out.err();
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("nosuch") && err.contains("HTTP 404"), "{err}");
    assert_eq!(w.store_state(), before);
}

/// A push whose source fails in the middle (a stored layer damaged on disk) is cut off mid-body: the engine
/// loads nothing, and hoist says which blob.
#[test]
fn a_push_cut_short_leaves_the_engine_unchanged() {
    let docker = Docker::start();
    let w = World::new();
    let env = host_env(&docker);
    // A first layer larger than the writer's buffer: its bytes reach the engine before the second fails.
    w.build_sized("localhost/app:1", "one", 3 << 20);
    let raw = w.hoist(&["inspect", "--raw", "localhost/app:1"], &Vec::new()).expect_ok("inspect --raw");
    let manifest: serde_json::Value = serde_json::from_str(&raw.out()).unwrap();
    let last = manifest["layers"].as_array().unwrap().last().unwrap()["digest"].as_str().unwrap().to_owned();
    let blob = w.path(&format!("store/blobs/sha256/{}", last.trim_start_matches("sha256:")));
    let mut bytes = std::fs::read(&blob).unwrap();
    let half = bytes.len() / 2;
    bytes[half] ^= 0xff;
    std::fs::write(&blob, &bytes).unwrap();
    let before = docker.images();
    let out = w.hoist(&["push", "localhost/app:1", "docker-daemon:app:1"], &env);
    assert!(!out.ok());
    assert!(out.err().contains(&last[..19]), "{}", out.err());
    assert_eq!(docker.images(), before, "the engine loaded something");
    assert_eq!(engine_id(&docker, "app:1"), None);
}

/// A fake engine on a Unix socket: each connection's request head (and body, read to its end or EOF) is
/// recorded, and `answer` is sent back.
fn fake_engine(socket: &Path, answers: Vec<Vec<u8>>) -> std::thread::JoinHandle<Vec<Vec<u8>>> {
    let listener = UnixListener::bind(socket).unwrap();
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        for answer in answers {
            let (conn, _) = listener.accept().unwrap();
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let mut head = Vec::new();
            loop {
                let mut line = Vec::new();
                if r.read_until(b'\n', &mut line).unwrap() == 0 || line == b"\r\n" {
                    break;
                }
                head.extend_from_slice(&line);
            }
            if head.starts_with(b"POST") {
                // Chunked body: read until the last chunk or EOF.
                let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(20)));
                loop {
                    let mut size = String::new();
                    if r.read_line(&mut size).unwrap_or(0) == 0 {
                        break;
                    }
                    let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                    let mut chunk = vec![0u8; n + 2];
                    if n == 0 || r.read_exact(&mut chunk).is_err() {
                        break;
                    }
                }
            }
            let mut conn = conn;
            let _ = conn.write_all(&answer);
            seen.push(head);
        }
        seen
    })
}

/// A tar of a docker-save layout (one image, one layer) cut in the middle of its layer.
fn cut_save_stream() -> Vec<u8> {
    let mut layer = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(100_000);
    h.set_mode(0o644);
    layer.append_data(&mut h, "f", &vec![7u8; 100_000][..]).unwrap();
    let layer = layer.into_inner().unwrap();
    let mut archive = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(layer.len() as u64);
    h.set_mode(0o644);
    archive.append_data(&mut h, "0000/layer.tar", &layer[..]).unwrap();
    let whole = archive.into_inner().unwrap();
    whole[..whole.len() / 2].to_vec()
}

/// An engine that cuts its tar short, or answers a load with an `errorDetail` (a terminal escape in it): an
/// error naming the image, the escape not passed to the terminal, the store unchanged.
#[test]
fn a_cut_stream_and_a_refused_load_leave_the_store_unchanged() {
    let w = World::new();
    w.build("localhost/app:1", "one");
    let before = w.store_state();
    let dir = tempfile::Builder::new().prefix("hd-fake-").tempdir_in("/tmp").unwrap();
    let socket = dir.path().join("fake.sock");
    let body = cut_save_stream();
    let mut answer =
        format!("HTTP/1.1 200 OK\r\nContent-Type: application/x-tar\r\nContent-Length: {}\r\n\r\n", body.len() * 2)
            .into_bytes();
    answer.extend_from_slice(&body);
    let refusal = b"{\"errorDetail\":{\"message\":\"no space \\u001b[31mleft\"},\"error\":\"no space\"}\r\n";
    let mut load = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n",
        refusal.len()
    )
    .into_bytes();
    load.extend_from_slice(refusal);
    load.extend_from_slice(b"\r\n0\r\n\r\n");
    let server = fake_engine(&socket, vec![answer, load]);
    let env = vec![env_pair("DOCKER_HOST", format!("unix://{}", socket.display()))];

    let out = w.hoist(&["pull", "docker-daemon:app:1"], &env);
    assert!(!out.ok(), "{}{}", out.out(), out.err());
    let err = out.err();
    assert!(
        err.contains("docker-daemon:docker.io/library/app:1") && err.contains("reading the engine's archive"),
        "{err}"
    );
    assert_eq!(w.store_state(), before);

    let out = w.hoist(&["push", "localhost/app:1", "docker-daemon:app:1"], &env);
    assert!(!out.ok());
    let err = out.err();
    assert!(err.contains("the engine refused the image: no space") && err.contains("left"), "{err}");
    assert!(!err.contains('\x1b'), "the engine's escape reaches the terminal: {err:?}");
    let seen = server.join().unwrap();
    let get = String::from_utf8_lossy(&seen[0]);
    assert!(get.starts_with("GET /images/docker.io/library/app:1/get HTTP/1.1\r\n"), "{get}");
    let post = String::from_utf8_lossy(&seen[1]);
    assert!(post.starts_with("POST /images/load?quiet=1 HTTP/1.1\r\n"), "{post}");
    assert_eq!(w.store_state(), before);
}

/// A fake engine that answers every `GET` with `first` the first time and `later` after, counting the
/// connections; stops when `stop` is dropped (a last connection to its socket).
fn replaying_engine(socket: &Path, first: Vec<u8>, later: Vec<u8>) -> std::thread::JoinHandle<usize> {
    let listener = UnixListener::bind(socket).unwrap();
    std::thread::spawn(move || {
        let mut count = 0;
        for conn in listener.incoming() {
            let conn = conn.unwrap();
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            if line.starts_with("STOP") {
                return count;
            }
            while {
                let mut l = String::new();
                r.read_line(&mut l).unwrap() > 0 && l != "\r\n"
            } {}
            let body = if count == 0 { &first } else { &later };
            count += 1;
            let mut conn = conn;
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
            let _ = conn.write_all(head.as_bytes());
            let _ = conn.write_all(body);
        }
        count
    })
}

fn stop(socket: &Path, server: std::thread::JoinHandle<usize>) -> usize {
    std::os::unix::net::UnixStream::connect(socket).unwrap().write_all(b"STOP\r\n").unwrap();
    server.join().unwrap()
}

/// An engine serving `hoist save`'s archive of an image: pulled with its ID, the engine asked for its tar
/// ONCE (the layers written into the store as they pass; each reading costs the engine a whole `docker save`),
/// by `pull` and by `copy … store:`. The same engine changing a layer's bytes between its readings, for a copy
/// that reads twice (into an archive): refused naming the blob, no archive made.
#[test]
fn a_pull_reads_the_engine_once_and_a_layer_changed_between_readings_is_refused() {
    let w = World::new();
    let id = w.build("localhost/app:1", "one");
    let saved = w.path("saved.tar");
    w.hoist(&["save", "-o", saved.to_str().unwrap(), "localhost/app:1"], &Vec::new()).expect_ok("hoist save");
    let good = std::fs::read(&saved).unwrap();
    w.hoist(&["rmi", "localhost/app:1"], &Vec::new()).expect_ok("hoist rmi");
    w.hoist(&["prune", "-f"], &Vec::new());
    let empty = w.store_state();
    let dir = tempfile::Builder::new().prefix("hd-fake-").tempdir_in("/tmp").unwrap();

    let socket = dir.path().join("good.sock");
    let server = replaying_engine(&socket, good.clone(), good.clone());
    let env = vec![env_pair("DOCKER_HOST", format!("unix://{}", socket.display()))];
    let out = w.hoist(&["pull", "docker-daemon:localhost/app:1"], &env).expect_ok("pull from the fake engine");
    assert_eq!(out.out().trim(), id);
    assert_eq!(stop(&socket, server), 1, "readings of the engine's tar by a pull of 2 layers");
    // What the one reading stored is whole: saved again, every digest and diff_id checks.
    let again = w.path("again.tar");
    w.hoist(&["save", "-o", again.to_str().unwrap(), "localhost/app:1"], &Vec::new()).expect_ok("hoist save");
    w.hoist(&["verify", again.to_str().unwrap()], &Vec::new()).expect_ok("hoist verify");
    let pulled = w.store_state();
    w.hoist(&["rmi", "localhost/app:1"], &Vec::new()).expect_ok("hoist rmi");
    w.hoist(&["prune", "-f"], &Vec::new());
    assert_eq!(w.store_state(), empty);

    let socket = dir.path().join("copy.sock");
    let server = replaying_engine(&socket, good.clone(), good.clone());
    let env = vec![env_pair("DOCKER_HOST", format!("unix://{}", socket.display()))];
    w.hoist(&["copy", "docker-daemon:localhost/app:1", "store:localhost/app:1"], &env).expect_ok("copy into the store");
    assert_eq!(stop(&socket, server), 1, "readings of the engine's tar by a copy into the store");
    assert_eq!(w.id_of("localhost/app:1"), id);
    assert_eq!(w.store_state().1, pulled.1, "the same blobs as the pull's");
    w.hoist(&["rmi", "localhost/app:1"], &Vec::new()).expect_ok("hoist rmi");
    w.hoist(&["prune", "-f"], &Vec::new());
    let before = w.store_state();

    let mut changed = good.clone();
    let middle = changed.len() / 2;
    changed[middle] ^= 0x55;
    let socket = dir.path().join("liar.sock");
    let server = replaying_engine(&socket, good, changed);
    let env = vec![env_pair("DOCKER_HOST", format!("unix://{}", socket.display()))];
    let archive = w.path("out.tar");
    let target = format!("docker-archive:{}", archive.display());
    let out = w.hoist(&["copy", "docker-daemon:localhost/app:1", &target], &env);
    assert!(!out.ok());
    let err = out.err();
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("Error:")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains("digest mismatch"), "{err}");
    assert!(stop(&socket, server) >= 2, "a copy into an archive reads the engine's tar again for the layers");
    assert!(!archive.exists(), "an archive was left");
    assert_eq!(w.store_state(), before);
}

/// An engine that stops reading a load after its first bytes and answers an error (as an engine out of disk
/// does): that answer is the error hoist reports, not the broken pipe.
#[test]
fn an_engine_refusing_midway_is_heard() {
    let w = World::new();
    w.build_sized("localhost/app:1", "one", 3 << 20);
    let dir = tempfile::Builder::new().prefix("hd-fake-").tempdir_in("/tmp").unwrap();
    let socket = dir.path().join("refuse.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut first = vec![0u8; 64 << 10];
        let mut n = 0;
        while n < first.len() {
            match conn.read(&mut first[n..]) {
                Ok(0) | Err(_) => break,
                Ok(k) => n += k,
            }
        }
        let body = br#"{"message":"write /var/lib/docker/tmp/x: no space left on device"}"#;
        let answer = format!("HTTP/1.1 500 Internal Server Error\r\nContent-Length: {}\r\n\r\n", body.len());
        conn.write_all(answer.as_bytes()).unwrap();
        conn.write_all(body).unwrap();
        drop(conn);
        String::from_utf8_lossy(&first[..n]).lines().next().unwrap_or_default().to_owned()
    });
    let env = vec![env_pair("DOCKER_HOST", format!("unix://{}", socket.display()))];
    let out = w.hoist(&["push", "localhost/app:1", "docker-daemon:app:1"], &env);
    assert!(!out.ok());
    let err = out.err();
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("Error:")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].ends_with("no space left on device (HTTP 500)"), "{err}");
    assert_eq!(server.join().unwrap(), "POST /images/load?quiet=1 HTTP/1.1");
}

/// An image out of an engine passes the trust policy as every other source does (containers-policy.json(5)'s
/// `docker-daemon` transport, scope ""): refused under a policy that rejects it, with the store unchanged, and
/// let in by a `docker-daemon` entry that accepts it.
#[test]
fn an_image_out_of_the_engine_passes_the_trust_policy() {
    let docker = Docker::start();
    let w = World::new();
    let env = host_env(&docker);
    let id = w.build("localhost/app:1", "trusted?");
    w.hoist(&["push", "localhost/app:1", "docker-daemon:app:1"], &env).expect_ok("push docker-daemon:");

    let reject = w.path("reject.json");
    std::fs::write(&reject, r#"{"default":[{"type":"reject"}]}"#).unwrap();
    let accept_daemon = w.path("accept-daemon.json");
    std::fs::write(
        &accept_daemon,
        r#"{"default":[{"type":"reject"}],"transports":{"docker-daemon":{"":[{"type":"insecureAcceptAnything"}]}}}"#,
    )
    .unwrap();
    let (reject, accept_daemon) = (reject.to_str().unwrap(), accept_daemon.to_str().unwrap());

    let before = w.store_state();
    for args in [
        vec!["pull", "--signature-policy", reject, "docker-daemon:app:1"],
        vec!["copy", "--signature-policy", reject, "docker-daemon:app:1", "store:localhost/out:1"],
    ] {
        let refused = w.hoist(&args, &env);
        let err = refused.err();
        assert!(!refused.ok(), "{args:?} under a rejecting policy succeeded");
        assert!(err.contains("rejected"), "{args:?}: {err}");
        assert_eq!(w.store_state(), before, "{args:?}: the store is unchanged");
    }
    let pulled = w
        .hoist(&["pull", "--signature-policy", accept_daemon, "docker-daemon:app:1"], &env)
        .expect_ok("pull under a policy accepting docker-daemon:");
    assert_eq!(pulled.out().trim(), id);
}
