//! `hoist search` side by side with `podman search` (podman 4.3) on real distribution registries: two
//! registries, one refusing its catalog to anonymous users (a warning; the other still answers), every
//! registry failing (an error), `--limit`, `--list-tags`, `--format json`, a Go template, `--filter`. Docker
//! Hub's v1 search API and catalogs that page, loop or lie come from a small fake server on 127.0.0.1 in this
//! file (no network): podman cannot be pointed at it, so those tests assert hoist's output itself.

use std::io::Write;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use harness::Run;
use harness::hoist::HoistWorld;
use harness::image::write_oci_layout;
use harness::podman::Containers;
use harness::registry::{Options, Registry};
use serde_json::Value;

/// One answer of the fake server: status, extra headers, body.
type Answer = (u16, Vec<(String, String)>, String);

/// A plain-HTTP server on 127.0.0.1 answering each `GET PATH?QUERY` with `answer`; records what was asked.
struct Fake {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Fake {
    fn start(answer: impl Fn(&str) -> Answer + Send + Sync + 'static) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (seen2, answer) = (seen.clone(), Arc::new(answer));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let (seen, answer) = (seen2.clone(), answer.clone());
                std::thread::spawn(move || {
                    let Some(head) = harness::hostile::request_head(&mut conn) else { return };
                    let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
                    seen.lock().unwrap().push(path.clone());
                    let (status, headers, body) = answer(&path);
                    let mut out =
                        format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
                    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
                        out.push_str("Content-Type: application/json\r\n");
                    }
                    for (k, v) in headers {
                        out.push_str(&format!("{k}: {v}\r\n"));
                    }
                    out.push_str("\r\n");
                    out.push_str(&body);
                    let _ = conn.write_all(out.as_bytes());
                });
            }
        });
        Fake { port, seen }
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn ok(body: &str) -> Answer {
    (200, Vec::new(), body.to_owned())
}

/// A world whose unqualified-search registries are `search` and whose `insecure` hosts are `insecure`.
fn world(search: &[String], extra: &str) -> HoistWorld {
    let list = search.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ");
    HoistWorld::new(&format!("unqualified-search-registries = [{list}]\n{extra}"))
}

fn insecure(hosts: &[String]) -> String {
    hosts.iter().map(|h| format!("[[registry]]\nlocation = \"{h}\"\ninsecure = true\n")).collect()
}

fn hoist(w: &HoistWorld, args: &[&str]) -> Run {
    w.run(args, b"", &Vec::new())
}

/// Two real registries: `open` with repositories pushed by skopeo, `closed` (htpasswd) refusing its catalog to
/// anonymous users; podman and hoist reading the same registries.conf.
struct Pair {
    open: Registry,
    closed: Registry,
    c: Containers,
    w: HoistWorld,
}

impl Pair {
    fn new(repos: &[&str], tags: &[&str]) -> Pair {
        let open = Registry::start(Options::default());
        let closed = Registry::start(Options { users: vec![("u".into(), "p".into())], ..Options::default() });
        let hosts = [open.host(), closed.host()];
        let c = Containers::new(&hosts);
        let layout = c.path("layout");
        write_oci_layout(&layout, "v1", &[("f", b"search")]);
        let policy = format!("--policy={}", c.policy.display());
        let src = format!("oci:{}:v1", layout.display());
        for repo in repos {
            for tag in tags {
                let dst = format!("docker://{}/{repo}:{tag}", open.host());
                c.skopeo(&["copy", &policy, "--dest-tls-verify=false", &src, &dst]).expect_ok("skopeo copy");
            }
        }
        let conf = format!("unqualified-search-registries = [{:?}, {:?}]\n{}", hosts[0], hosts[1], insecure(&hosts));
        std::fs::write(c.path("registries.conf"), &conf).unwrap();
        let w = HoistWorld::new(&conf);
        Pair { open, closed, c, w }
    }

    fn both(&self, args: &[&str]) -> (Run, Run) {
        let mut pargs = vec!["search"];
        pargs.extend_from_slice(args);
        let mut hargs = vec!["search"];
        hargs.extend_from_slice(args);
        (self.c.podman(&pargs, b""), hoist(&self.w, &hargs))
    }
}

const REPOS: [&str; 5] = ["app/alpha", "alpha", "tools/alpha-cli", "app/beta", "lib/alphabet"];

#[test]
fn search_matches_podman_across_two_registries_one_refusing_its_catalog() {
    let p = Pair::new(&REPOS, &["v1"]);
    for args in [
        vec!["alpha"],
        vec!["beta"],
        vec!["--limit", "2", "alpha"],
        vec!["--no-trunc", "alpha"],
        vec!["--compatible", "alpha"],
        vec!["--format", "{{.Index}} {{.Name}} {{.Stars}}|{{.Official}}|", "alpha"],
        vec!["--format", "table {{.Name}}\t{{.Index}}", "alph"],
    ] {
        let (podman, ours) = p.both(&args);
        assert!(podman.ok(), "podman search {args:?}: {}", podman.err());
        assert!(ours.ok(), "hoist search {args:?}: {}", ours.err());
        assert_eq!(ours.out(), podman.out(), "search {args:?}");
    }
    // The exact match comes first, then the catalog's order; the refusing registry is a warning naming it.
    let (_, ours) = p.both(&["alpha"]);
    let names: Vec<String> =
        ours.out().lines().skip(1).map(|l| l.split_whitespace().next().unwrap().to_owned()).collect();
    let h = p.open.host();
    assert_eq!(names[0], format!("{h}/alpha"));
    assert_eq!(names.len(), 4, "{}", ours.out());
    assert!(ours.err().contains("Warning: searching ") && ours.err().contains(&p.closed.host()), "{}", ours.err());
    assert_eq!(ours.err().lines().count(), 1, "{}", ours.err());

    // Nothing found where one registry answered: podman 4.3 fails with the other's error; hoist (issue 23)
    // fails only when every registry failed, so it prints nothing, warns and exits 0.
    let (podman, ours) = p.both(&["nothing-matches"]);
    assert!(!podman.ok());
    assert!(ours.ok() && ours.out().is_empty(), "{}", ours.err());
    assert!(ours.err().contains("Warning: searching "), "{}", ours.err());

    // JSON: podman's keys and values.
    let (podman, ours) = p.both(&["--format", "json", "alpha"]);
    let pj: Value = serde_json::from_str(&podman.out()).unwrap();
    let oj: Value = serde_json::from_str(&ours.out()).unwrap();
    assert_eq!(oj, pj);
}

#[test]
fn list_tags_matches_podman() {
    let tags: Vec<String> = (1..=30).map(|i| format!("t{i:02}")).collect();
    let tag_refs: Vec<&str> = tags.iter().map(|s| s.as_str()).collect();
    let p = Pair::new(&["app/alpha"], &tag_refs);
    let repo = format!("{}/app/alpha", p.open.host());
    for args in [
        vec!["--list-tags", repo.as_str()],
        vec!["--list-tags", "--limit", "3", repo.as_str()],
        vec!["--list-tags", "--limit", "100", repo.as_str()],
    ] {
        let (podman, ours) = p.both(&args);
        assert!(podman.ok(), "podman search {args:?}: {}", podman.err());
        assert!(ours.ok(), "hoist search {args:?}: {}", ours.err());
        assert_eq!(ours.out(), podman.out(), "search {args:?}");
    }
    // JSON: podman's value (its indentation is 4 spaces, hoist's JSON 2 everywhere).
    let (podman, ours) = p.both(&["--list-tags", "--format", "json", "--limit", "2", repo.as_str()]);
    let pj: Value = serde_json::from_str(&podman.out()).unwrap();
    let oj: Value = serde_json::from_str(&ours.out()).unwrap();
    assert_eq!(oj, pj);
    assert_eq!(oj[0]["Tags"].as_array().unwrap().len(), 2);
    let (_, ours) = p.both(&["--list-tags", repo.as_str()]);
    assert_eq!(ours.out().lines().count(), 26, "25 tags by default and the heading");
    // Without a registry, or with a filter: refused, as podman refuses.
    let (podman, ours) = p.both(&["--list-tags", "alpha"]);
    assert!(!podman.ok() && !ours.ok(), "{}", ours.err());
    let (podman, ours) = p.both(&["--list-tags", "--filter", "stars=1", repo.as_str()]);
    assert!(!podman.ok() && !ours.ok(), "{}", ours.err());
}

#[test]
fn every_registry_failing_is_an_error_as_podman_says() {
    let closed = Registry::start(Options { users: vec![("u".into(), "p".into())], ..Options::default() });
    let host = closed.host();
    let c = Containers::new(std::slice::from_ref(&host));
    let conf = format!("unqualified-search-registries = [{host:?}]\n{}", insecure(std::slice::from_ref(&host)));
    std::fs::write(c.path("registries.conf"), &conf).unwrap();
    let w = HoistWorld::new(&conf);
    let podman = c.podman(&["search", "alpha"], b"");
    let ours = hoist(&w, &["search", "alpha"]);
    assert_eq!(ours.code, podman.code, "{}\n{}", podman.err(), ours.err());
    assert_eq!(ours.code, Some(125));
    assert!(ours.out().is_empty());
    let err = ours.err();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("Error: searching ") && err.contains(&host), "{err}");
    // With the right credentials the catalog answers.
    let ours = hoist(&w, &["search", "--creds", "u:p", "alpha"]);
    assert!(ours.ok(), "{}", ours.err());
}

/// Docker Hub's v1 search, through a fake server registries.conf moves docker.io to.
#[test]
fn docker_hub_through_its_search_api() {
    let fake = Fake::start(|path| {
        if path == "/v2/" {
            return ok("{}");
        }
        if path.starts_with("/v1/search?") {
            return ok(r#"{"num_results": 3, "query": "busy", "results": [
                {"name": "busybox", "description": "Busybox base image.\nSmall.", "star_count": 3000, "is_official": true, "is_automated": false},
                {"name": "someone/busy", "description": "a very long description that goes on and on past forty-four bytes", "star_count": 2, "is_official": false, "is_automated": true},
                {"name": "evil/busy", "description": "\u001b]0;pwned\u0007\u001b[2Jclear", "star_count": 0}
            ]}"#);
        }
        (404, Vec::new(), "{}".to_owned())
    });
    let host = fake.host();
    let w = world(
        &["docker.io".to_owned()],
        &format!("[[registry]]\nprefix = \"docker.io\"\nlocation = \"{host}\"\ninsecure = true\n"),
    );
    let out = hoist(&w, &["search", "--compatible", "--limit", "7", "busy"]).expect_ok("hoist search").out();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[0].starts_with("NAME") && lines[0].contains("STARS") && lines[0].ends_with("AUTOMATED"), "{out}");
    assert!(lines[1].starts_with("docker.io/library/busybox  "), "{out}");
    assert!(lines[1].contains("Busybox base image. Small.") && lines[1].contains("3000") && lines[1].contains("[OK]"));
    assert!(
        lines[2].contains("docker.io/someone/busy")
            && lines[2].contains("a very long description that goes on and on ...")
    );
    assert!(!out.contains('\u{1b}') && !out.contains('\u{7}'), "terminal escapes reached the terminal: {out:?}");
    let asked = fake.seen();
    assert!(asked.iter().any(|p| p == "/v1/search?q=busy&n=7"), "{asked:?}");
    assert!(!asked.iter().any(|p| p.contains("_catalog")), "{asked:?}");

    // Filters, as podman reads them.
    let out =
        hoist(&w, &["search", "--filter", "is-official", "--format", "{{.Name}}", "busy"]).expect_ok("filter").out();
    assert_eq!(out, "docker.io/library/busybox\n");
    let out =
        hoist(&w, &["search", "-f", "stars=2", "-f", "is-automated=false", "--format", "{{.Name}}", "busy"]).out();
    assert_eq!(out, "docker.io/library/busybox\n");
    let out = hoist(&w, &["search", "--filter", "stars=1", "--format", "{{.Name}} {{.Stars}}", "busy"]).out();
    assert_eq!(out, "docker.io/library/busybox 3000\ndocker.io/someone/busy 2\n");
    let bad = hoist(&w, &["search", "--filter", "label=x", "busy"]);
    assert_eq!(bad.code, Some(125));
    assert!(bad.err().contains("invalid filter") && bad.out().is_empty(), "{}", bad.err());
    let json: Value =
        serde_json::from_str(&hoist(&w, &["search", "--no-trunc", "--format", "json", "busy"]).out()).unwrap();
    assert_eq!(json[1]["Description"], "a very long description that goes on and on past forty-four bytes");
    assert_eq!(json[0]["Index"], "docker.io");
    assert_eq!(json[0]["Official"], "[OK]");
    assert_eq!(json[0]["Stars"], 3000);
}

/// A catalog in pages is read to its end; one that loops or never ends is refused, bounded.
#[test]
fn catalog_pages_followed_and_bounded() {
    let paged = Fake::start(|path| match path {
        "/v2/" => ok("{}"),
        "/v2/_catalog" => (
            200,
            vec![("Link".into(), "</v2/_catalog?last=a&n=2>; rel=\"next\"".into())],
            r#"{"repositories":["a/app","b"]}"#.into(),
        ),
        "/v2/_catalog?last=a&n=2" => (
            200,
            vec![("Link".into(), "</v2/_catalog?last=c&n=2>; rel=\"next\"".into())],
            r#"{"repositories":["c/app","d"]}"#.into(),
        ),
        "/v2/_catalog?last=c&n=2" => ok(r#"{"repositories":["app"]}"#),
        _ => (404, Vec::new(), "{}".to_owned()),
    });
    let looping = Fake::start(|path| match path {
        "/v2/" => ok("{}"),
        _ if path.starts_with("/v2/_catalog") => {
            (200, vec![("Link".into(), "</v2/_catalog>; rel=\"next\"".into())], r#"{"repositories":["app"]}"#.into())
        }
        _ => (404, Vec::new(), "{}".to_owned()),
    });
    let counter = Arc::new(Mutex::new(0u64));
    let endless = Fake::start(move |path| match path {
        "/v2/" => ok("{}"),
        _ if path.starts_with("/v2/_catalog") => {
            let mut n = counter.lock().unwrap();
            *n += 1;
            (
                200,
                vec![("Link".into(), format!("</v2/_catalog?page={n}>; rel=\"next\""))],
                r#"{"repositories":["x"]}"#.into(),
            )
        }
        _ => (404, Vec::new(), "{}".to_owned()),
    });
    let hosts = [paged.host(), looping.host(), endless.host()];
    let w = world(&hosts, &insecure(&hosts));
    let out = hoist(&w, &["search", "--format", "{{.Name}}", &format!("{}/app", hosts[0])]).expect_ok("paged").out();
    let h = &hosts[0];
    assert_eq!(out, format!("{h}/app\n{h}/a/app\n{h}/c/app\n"));

    let r = hoist(&w, &["search", &format!("{}/app", hosts[1])]);
    assert_eq!(r.code, Some(125));
    assert!(r.err().contains("loop"), "{}", r.err());
    let r = hoist(&w, &["search", &format!("{}/x", hosts[2])]);
    assert_eq!(r.code, Some(125));
    assert!(r.err().contains("past 1000 pages"), "{}", r.err());
    assert_eq!(endless.seen().iter().filter(|p| p.starts_with("/v2/_catalog")).count(), 1000);

    // All three at once: the one that answers is printed, the two others are warnings.
    let r = hoist(&w, &["search", "--format", "{{.Name}}", "app"]).expect_ok("three registries");
    assert_eq!(r.out(), format!("{h}/app\n{h}/a/app\n{h}/c/app\n"));
    assert_eq!(r.err().matches("Warning: searching").count(), 2, "{}", r.err());
}

/// TLS with `--cert-dir` (and `--tls-verify`), `--authfile`, and a registry registries.conf blocks.
#[test]
fn tls_authfile_and_blocked_registries() {
    let reg = Registry::start(Options { tls: true, users: vec![("u".into(), "p".into())], ..Options::default() });
    let host = reg.host();
    let certs = reg.cert_dir.clone().unwrap();
    let c = Containers::new(&[]);
    let layout = c.path("layout");
    write_oci_layout(&layout, "v1", &[("f", b"tls")]);
    let policy = format!("--policy={}", c.policy.display());
    let dst = format!("docker://{host}/team/alpha:v1");
    let src = format!("oci:{}:v1", layout.display());
    let dest_certs = format!("--dest-cert-dir={}", certs.display());
    c.skopeo(&["copy", &policy, "--dest-creds=u:p", &dest_certs, &src, &dst]).expect_ok("skopeo copy");
    let blocked = "blocked.example:5000";
    let conf = format!(
        "unqualified-search-registries = [{host:?}, {blocked:?}]\n[[registry]]\nlocation = \"{blocked}\"\nblocked = true\n"
    );
    std::fs::write(c.path("registries.conf"), &conf).unwrap();
    let w = HoistWorld::new(&conf);
    let authfile = w.path("auth.json");
    std::fs::write(&authfile, format!(r#"{{"auths":{{"{host}":{{"auth":"dTpw"}}}}}}"#)).unwrap();
    let cert_dir = format!("--cert-dir={}", certs.display());
    let auth = format!("--authfile={}", authfile.display());

    // podman 4.3's search has no --cert-dir: it reads this registry with --tls-verify=false.
    let podman = c.podman(&["search", "--tls-verify=false", &auth, &format!("{host}/alpha")], b"");
    let podman = podman.expect_ok("podman search");
    let ours = hoist(&w, &["search", &cert_dir, &auth, &format!("{host}/alpha")]).expect_ok("hoist search");
    assert_eq!(ours.out(), podman.out());
    assert!(ours.out().contains(&format!("{host}/team/alpha")), "{}", ours.out());

    // Every unqualified registry: the blocked one is skipped with a warning naming it, nothing is sent to it.
    let ours = hoist(&w, &["search", &cert_dir, &auth, "--format", "{{.Name}}", "alpha"]).expect_ok("with blocked");
    assert_eq!(ours.out(), format!("{host}/team/alpha\n"));
    assert!(
        ours.err().contains("Warning: searching blocked.example:5000") && ours.err().contains("blocked"),
        "{}",
        ours.err()
    );

    // Without the CA the certificate is refused: one error line, nothing printed.
    let r = hoist(&w, &["search", &auth, &format!("{host}/alpha")]);
    assert_eq!(r.code, Some(125));
    assert!(r.out().is_empty() && r.err().lines().count() == 1, "{}", r.err());
    // --tls-verify=false reads it without the CA; --creds instead of the auth file.
    let r = hoist(
        &w,
        &["search", "--tls-verify=false", "--creds", "u:p", "--format", "{{.Name}}", &format!("{host}/alpha")],
    );
    assert_eq!(r.expect_ok("--tls-verify=false").out(), format!("{host}/team/alpha\n"));
}
