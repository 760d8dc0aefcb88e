//! `hoist sync` (issue 23) against real distribution registries: every tag of a repository, a second sync
//! that moves nothing (one HEAD at each side per tag, checked in the registries' access logs), `--dry-run`
//! (nothing written), `--scoped` (a source port made a valid path component), `--keep-going` with an image
//! whose layer is gone, `--semver` and `--tag-regex` selections, `--delete-missing`; skopeo 1.9 reads what
//! hoist synced with the source's digests. Registries that lie (a tag list that never ends, a listed tag
//! that is gone) come from a small fake server in this file.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use harness::Run;
use harness::hoist::HoistWorld;
use harness::image::{ImageSpec, write_layout, write_oci_layout};
use harness::podman::Containers;
use harness::registry::{Options, Registry};
use serde_json::Value;

/// A source and a destination registry, skopeo to fill and read them, hoist in a world of its own.
struct Two {
    src: Registry,
    dst: Registry,
    c: Containers,
    w: HoistWorld,
}

impl Two {
    fn new() -> Two {
        let src = Registry::start(Options::default());
        let dst = Registry::start(Options::default());
        let c = Containers::new(&[src.host(), dst.host()]);
        let w = HoistWorld::new("unqualified-search-registries = []\n");
        Two { src, dst, c, w }
    }

    /// Pushes a distinct one-layer image as `repo:tag` of the source registry (skopeo); its digest.
    fn push(&self, repo: &str, tag: &str) -> String {
        self.push_content(repo, tag, &format!("{repo}:{tag}"))
    }

    fn push_content(&self, repo: &str, tag: &str, content: &str) -> String {
        let layout = self.c.path(&format!("layout-{}", content.replace(['/', ':'], "-")));
        let digest = write_oci_layout(&layout, "v1", &[("f", content.as_bytes())]);
        let policy = format!("--policy={}", self.c.policy.display());
        let dst = format!("docker://{}/{repo}:{tag}", self.src.host());
        self.c
            .skopeo(&["copy", &policy, "--dest-tls-verify=false", &format!("oci:{}:v1", layout.display()), &dst])
            .expect_ok("skopeo copy");
        digest
    }

    fn sync(&self, args: &[&str]) -> Run {
        let mut all =
            vec!["sync", "--src", "docker", "--dest", "docker", "--src-tls-verify=false", "--dest-tls-verify=false"];
        all.extend_from_slice(args);
        self.w.run(&all, b"", &Vec::new())
    }

    /// The manifest digest skopeo reads for `docker://IMAGE` (None when it cannot).
    fn digest(&self, image: &str) -> Option<String> {
        let r = self.c.skopeo(&["inspect", "--tls-verify=false", "--raw", &format!("docker://{image}")]);
        r.ok().then(|| format!("sha256:{}", hex(&r.stdout)))
    }

    fn tags(&self, repo: &str) -> Vec<String> {
        let r = self.c.skopeo(&["list-tags", "--tls-verify=false", &format!("docker://{repo}")]);
        if !r.ok() {
            return Vec::new();
        }
        let v: Value = serde_json::from_str(&r.out()).unwrap();
        let mut t: Vec<String> = v["Tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_owned()).collect();
        t.sort();
        t
    }
}

fn hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The access-log lines of `log` after the first `from` bytes: the requests made since.
fn requests(log: &str, from: usize) -> Vec<String> {
    log[from..]
        .lines()
        .filter(|l| {
            l.contains("\"HEAD ")
                || l.contains("\"GET ")
                || l.contains("\"PUT ")
                || l.contains("\"POST ")
                || l.contains("\"PATCH ")
                || l.contains("\"DELETE ")
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn sync_copies_every_tag_then_nothing() {
    let t = Two::new();
    let tags = ["1.0.0", "1.1.0", "2.0.0", "2.5.1", "latest", "edge", "3.0.0-rc.1"];
    let digests: Vec<String> = tags.iter().map(|tag| t.push("team/app", tag)).collect();
    let src = format!("{}/team/app", t.src.host());
    let dest = format!("{}/mirror", t.dst.host());
    let first = t.sync(&[&src, &dest]);
    assert!(first.ok(), "{}", first.err());
    assert_eq!(first.out().trim(), "7 copied, 0 up to date, 0 failed", "{}", first.err());
    for (tag, digest) in tags.iter().zip(&digests) {
        assert!(
            first.err().contains(&format!("Copied docker://{src}:{tag} to docker://{dest}/app:{tag}")),
            "{}",
            first.err()
        );
        assert_eq!(t.digest(&format!("{dest}/app:{tag}")).as_deref(), Some(digest.as_str()), "{tag}");
    }
    let mut sorted = tags.map(String::from).to_vec();
    sorted.sort();
    assert_eq!(t.tags(&format!("{dest}/app")), sorted);

    // Nothing changed: every tag up to date, one HEAD per tag at the destination and nothing written.
    let (src_mark, dst_mark) = (t.src.log().len(), t.dst.log().len());
    let second = t.sync(&["--format", "json", &src, &dest]);
    assert!(second.ok(), "{}", second.err());
    let v: Value = serde_json::from_str(&second.out()).unwrap();
    assert_eq!((v["Copied"].as_u64(), v["UpToDate"].as_u64(), v["Failed"].as_u64()), (Some(0), Some(7), Some(0)));
    assert!(v["Images"].as_array().unwrap().iter().all(|i| i["Status"] == "UpToDate"), "{v}");
    let dst_requests = requests(&t.dst.log(), dst_mark);
    let heads = dst_requests.iter().filter(|l| l.contains("\"HEAD /v2/mirror/app/manifests/")).count();
    assert_eq!(heads, 7, "{dst_requests:#?}");
    assert!(
        dst_requests.iter().all(|l| !l.contains("\"PUT ") && !l.contains("\"POST ") && !l.contains("\"PATCH ")),
        "{dst_requests:#?}"
    );
    let src_requests = requests(&t.src.log(), src_mark);
    let src_manifests = src_requests.iter().filter(|l| l.contains("/manifests/")).count();
    assert_eq!(src_manifests, 7, "one HEAD per tag at the source: {src_requests:#?}");
    assert!(src_requests.iter().all(|l| !l.contains("/blobs/")), "{src_requests:#?}");

    // One tag moved at the source: only it is copied.
    let moved = t.push_content("team/app", "latest", "a new latest");
    let third = t.sync(&["-q", &src, &dest]);
    assert!(third.ok(), "{}", third.err());
    assert_eq!(third.out().trim(), "1 copied, 6 up to date, 0 failed");
    assert!(third.err().is_empty(), "-q: {}", third.err());
    assert_eq!(t.digest(&format!("{dest}/app:latest")), Some(moved));
}

/// Sends `METHOD PATH` to 127.0.0.1:`port` over plain HTTP; the status code.
fn http(port: u16, method: &str, path: &str) -> u16 {
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(conn, "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    answer.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn dry_run_writes_nothing_and_scoped_names_keep_the_source_path() {
    let t = Two::new();
    let d1 = t.push("team/app", "v1");
    let d2 = t.push("team/app", "v2");
    let src = format!("{}/team/app", t.src.host());
    let dest = format!("{}/mirror", t.dst.host());
    let mark = t.dst.log().len();
    let dry = t.sync(&["--dry-run", "--scoped", &src, &dest]);
    assert!(dry.ok(), "{}", dry.err());
    assert_eq!(dry.out().trim(), "2 to copy, 0 up to date, 0 failed (dry run: nothing written)");
    let scoped = format!("{dest}/127.0.0.1_{}/team/app", t.src.port);
    assert!(dry.err().contains(&format!("Would copy docker://{src}:v1 to docker://{scoped}:v1")), "{}", dry.err());
    let written = requests(&t.dst.log(), mark);
    assert!(written.iter().all(|l| l.contains("\"HEAD ") || l.contains("\"GET /v2/ ")), "{written:#?}");
    assert!(t.tags(&scoped).is_empty());

    // --scoped: the source's registry (its port a valid path component) and whole path under DEST.
    let run = t.sync(&["--scoped", &src, &dest]);
    assert!(run.ok(), "{}", run.err());
    assert_eq!(run.out().trim(), "2 copied, 0 up to date, 0 failed");
    assert_eq!(t.digest(&format!("{scoped}:v1")).as_deref(), Some(d1.as_str()));
    assert_eq!(t.digest(&format!("{scoped}:v2")).as_deref(), Some(d2.as_str()));

    // One tag named: only it; to a registry's root (no namespace).
    let one = t.sync(&[&format!("{src}:v2"), &t.dst.host()]);
    assert!(one.ok(), "{}", one.err());
    assert_eq!(one.out().trim(), "1 copied, 0 up to date, 0 failed");
    assert_eq!(t.digest(&format!("{}/app:v2", t.dst.host())), Some(d2));
    assert_eq!(t.tags(&format!("{}/app", t.dst.host())), ["v2"]);

    // By digest: written by digest (no tag), up to date the second time.
    let by_digest = format!("{}/app@{d1}", t.dst.host());
    assert_eq!(t.digest(&by_digest), None);
    let run = t.sync(&[&format!("{src}@{d1}"), &t.dst.host()]);
    assert_eq!(run.out().trim(), "1 copied, 0 up to date, 0 failed", "{}", run.err());
    assert_eq!(t.digest(&by_digest).as_deref(), Some(d1.as_str()));
    assert_eq!(t.tags(&format!("{}/app", t.dst.host())), ["v2"]);
    let run = t.sync(&[&format!("{src}@{d1}"), &t.dst.host()]);
    assert_eq!(run.out().trim(), "0 copied, 1 up to date, 0 failed", "{}", run.err());
}

#[test]
fn keep_going_copies_the_others_and_fails_at_the_end() {
    let t = Two::new();
    let digests: Vec<String> = ["t1", "t2", "t3", "t4", "t5"].iter().map(|tag| t.push("app", tag)).collect();
    // t3's layer is gone from the source: its copy fails after its manifest was read.
    let raw = t.c.skopeo(&["inspect", "--tls-verify=false", "--raw", &format!("docker://{}/app:t3", t.src.host())]);
    let m: Value = serde_json::from_slice(&raw.stdout).unwrap();
    let layer = m["layers"][0]["digest"].as_str().unwrap();
    assert_eq!(http(t.src.port, "DELETE", &format!("/v2/app/blobs/{layer}")), 202);
    let src = format!("{}/app", t.src.host());
    let dest = t.dst.host();

    // Without --keep-going, one image at a time in the registry's order: those before t3 go, t3 fails,
    // nothing after it starts.
    let listed = t.c.skopeo(&["list-tags", "--tls-verify=false", &format!("docker://{src}")]);
    let listed: Value = serde_json::from_str(&listed.out()).unwrap();
    let order: Vec<&str> = listed["Tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    let mut before: Vec<String> = order.iter().take_while(|t| **t != "t3").map(|t| t.to_string()).collect();
    before.sort();
    let stop = t.sync(&["--jobs", "1", &src, &dest]);
    assert!(!stop.ok());
    assert_eq!(stop.out().trim(), format!("{} copied, 0 up to date, 1 failed", before.len()), "{}", stop.err());
    assert!(stop.err().contains(&format!("Error: docker://{src}:t3: ")), "{}", stop.err());
    assert_eq!(t.tags(&format!("{dest}/app")), before, "nothing of t3 is visible, nothing after it started");

    let go = t.sync(&["--keep-going", "--format", "json", &src, &dest]);
    assert!(!go.ok(), "a failure fails the run");
    let v: Value = serde_json::from_str(&go.out()).unwrap();
    let up = before.len() as u64;
    assert_eq!((v["Copied"].as_u64(), v["UpToDate"].as_u64(), v["Failed"].as_u64()), (Some(4 - up), Some(up), Some(1)));
    let failed: Vec<&Value> = v["Images"].as_array().unwrap().iter().filter(|i| i["Status"] == "Failed").collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["Source"], format!("docker://{src}:t3"));
    assert!(failed[0]["Error"].as_str().unwrap().contains(layer), "{v}");
    assert_eq!(t.tags(&format!("{dest}/app")), ["t1", "t2", "t4", "t5"]);
    for (tag, d) in ["t1", "t2", "t4", "t5"].iter().zip([&digests[0], &digests[1], &digests[3], &digests[4]]) {
        assert_eq!(t.digest(&format!("{dest}/app:{tag}")).as_deref(), Some(d.as_str()));
    }
    assert_eq!(go.err().lines().filter(|l| l.starts_with("Error: ")).count(), 1, "{}", go.err());
}

#[test]
fn semver_and_regex_select_tags() {
    let t = Two::new();
    for tag in ["1.0.0", "2.0.0", "v2.5.1", "3.0.0", "2.6.0-rc.1", "latest"] {
        t.push("app", tag);
    }
    let src = format!("{}/app", t.src.host());
    let run = t.sync(&["--semver", ">=2.0, <3", &src, &format!("{}/semver", t.dst.host())]);
    assert!(run.ok(), "{}", run.err());
    assert_eq!(t.tags(&format!("{}/semver/app", t.dst.host())), ["2.0.0", "v2.5.1"]);
    let run = t.sync(&["--tag-regex", r"^(1|3)\.", &src, &format!("{}/regex", t.dst.host())]);
    assert!(run.ok(), "{}", run.err());
    assert_eq!(t.tags(&format!("{}/regex/app", t.dst.host())), ["1.0.0", "3.0.0"]);
    // Bad requirements and patterns: one line each, nothing contacted.
    for (flag, bad) in [("--semver", ">=>2"), ("--tag-regex", "(")] {
        let r = t.sync(&[flag, bad, &src, &t.dst.host()]);
        assert!(!r.ok());
        assert!(r.err().starts_with(&format!("Error: {flag}")), "{}", r.err());
    }
    let r = t.sync(&["--semver", ">=2", &format!("{src}:latest"), &t.dst.host()]);
    assert!(!r.ok() && r.err().contains("name it without a tag"), "{}", r.err());
}

#[test]
fn delete_missing_removes_what_the_source_no_longer_has() {
    let t = Two::new();
    let gone = t.push("app", "1.0.0");
    t.push("app", "2.0.0");
    t.push("app", "3.0.0");
    let src = format!("{}/app", t.src.host());
    let dest = format!("{}/m", t.dst.host());
    assert!(t.sync(&[&src, &dest]).ok());
    // At the destination only: `old` (its own manifest) and `extra` (the manifest 2.0.0 also names).
    let policy = format!("--policy={}", t.c.policy.display());
    let layout = t.c.path("old");
    write_oci_layout(&layout, "v1", &[("f", b"old")]);
    let old = format!("docker://{dest}/app:old");
    t.c.skopeo(&["copy", &policy, "--dest-tls-verify=false", &format!("oci:{}:v1", layout.display()), &old])
        .expect_ok("skopeo copy old");
    let (from, extra) = (format!("docker://{dest}/app:2.0.0"), format!("docker://{dest}/app:extra"));
    t.c.skopeo(&["copy", &policy, "--src-tls-verify=false", "--dest-tls-verify=false", &from, &extra])
        .expect_ok("skopeo copy extra");
    // 1.0.0 leaves the source.
    assert_eq!(http(t.src.port, "DELETE", &format!("/v2/app/manifests/{gone}")), 202);

    let dry = t.sync(&["--delete-missing", "--dry-run", &src, &dest]);
    assert!(dry.ok(), "{}", dry.err());
    assert_eq!(dry.out().trim(), "0 to copy, 2 up to date, 0 failed, 2 to delete (dry run: nothing written)");
    assert!(dry.err().contains(&format!("Would delete docker://{dest}/app:1.0.0 ({gone})")), "{}", dry.err());
    assert_eq!(t.tags(&format!("{dest}/app")), ["1.0.0", "2.0.0", "3.0.0", "extra", "old"]);

    // Without the flag nothing is deleted.
    let plain = t.sync(&[&src, &dest]);
    assert_eq!(plain.out().trim(), "0 copied, 2 up to date, 0 failed");
    assert_eq!(t.tags(&format!("{dest}/app")).len(), 5);

    let run = t.sync(&["--delete-missing", &src, &dest]);
    assert!(run.ok(), "{}", run.err());
    assert_eq!(run.out().trim(), "0 copied, 2 up to date, 0 failed, 2 deleted");
    assert!(run.err().contains(&format!("Deleting docker://{dest}/app:1.0.0 ({gone})")), "{}", run.err());
    assert!(run.err().contains(&format!("Deleting docker://{dest}/app:old (")), "{}", run.err());
    assert!(
        run.err().contains(&format!("Warning: docker://{dest}/app:extra is not deleted: its manifest"))
            && run.err().contains("also tagged 2.0.0"),
        "{}",
        run.err()
    );
    assert_eq!(t.tags(&format!("{dest}/app")), ["2.0.0", "3.0.0", "extra"]);
    assert_eq!(t.digest(&format!("{dest}/app:1.0.0")), None);
}

/// What the fake registry answers to one request.
enum Answer {
    /// Status, extra headers, body.
    Fixed(u16, Vec<(String, String)>, String),
    /// A 200 tag list whose body never ends (no length; written until the client hangs up).
    Endless,
}

/// A plain-HTTP registry on 127.0.0.1 answering each `METHOD PATH` with `answer`.
fn fake(answer: impl Fn(&str, &str) -> Answer + Send + Sync + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let answer = Arc::new(answer);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let answer = answer.clone();
            std::thread::spawn(move || {
                let Some(head) = harness::hostile::request_head(&mut conn) else { return };
                let mut words = head.split_whitespace();
                let (method, path) = (words.next().unwrap_or("").to_owned(), words.next().unwrap_or("").to_owned());
                match answer(&method, &path) {
                    Answer::Fixed(status, headers, body) => {
                        let mut out = format!(
                            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\nContent-Type: application/json\r\n",
                            body.len()
                        );
                        for (k, v) in headers {
                            out.push_str(&format!("{k}: {v}\r\n"));
                        }
                        out.push_str("\r\n");
                        if method != "HEAD" {
                            out.push_str(&body);
                        }
                        let _ = conn.write_all(out.as_bytes());
                    }
                    Answer::Endless => {
                        let start = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/json\r\n\r\n{\"name\":\"app\",\"tags\":[\"a\"";
                        if conn.write_all(start.as_bytes()).is_err() {
                            return;
                        }
                        let more = ",\"a\"".repeat(16 << 10);
                        while conn.write_all(more.as_bytes()).is_ok() {}
                    }
                }
            });
        }
    });
    port
}

fn ok_json(body: &str) -> Answer {
    Answer::Fixed(200, Vec::new(), body.to_owned())
}

#[test]
fn lying_sources_fail_their_images_clearly() {
    let t = Two::new();
    // A tag list that never ends, in one body or page after page: refused, bounded, nothing written.
    let endless_body = fake(|_, path| match path {
        "/v2/" => ok_json("{}"),
        p if p.starts_with("/v2/app/tags/list") => Answer::Endless,
        _ => Answer::Fixed(404, Vec::new(), String::new()),
    });
    let pages = fake(|_, path| match path {
        "/v2/" => ok_json("{}"),
        p if p.starts_with("/v2/app/tags/list") => {
            let n: u64 = p.rsplit('=').next().and_then(|n| n.parse().ok()).unwrap_or(0);
            let link = format!("</v2/app/tags/list?last={}>; rel=\"next\"", n + 1);
            Answer::Fixed(200, vec![("Link".into(), link)], format!("{{\"tags\":[\"t{n}\"]}}"))
        }
        _ => Answer::Fixed(404, Vec::new(), String::new()),
    });
    for (port, says) in [(endless_body, "reading the tag list"), (pages, "goes on past")] {
        let started = std::time::Instant::now();
        let run = t.sync(&[&format!("127.0.0.1:{port}/app"), &t.dst.host()]);
        assert!(!run.ok());
        assert_eq!(run.out().trim(), "0 copied, 0 up to date, 1 failed");
        let err = run.err();
        let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("Error: ")).collect();
        assert_eq!(errors.len(), 1, "{}", run.err());
        assert!(errors[0].contains("listing the tags") && errors[0].contains(says), "{}", run.err());
        assert!(started.elapsed() < Duration::from_secs(300), "bounded");
    }
    // A listed tag that is gone when its turn comes (deleted mid-sync): that image fails, naming it.
    let gone = fake(|_, path| match path {
        "/v2/" => ok_json("{}"),
        "/v2/app/tags/list" => ok_json(r#"{"name":"app","tags":["gone"]}"#),
        _ => Answer::Fixed(
            404,
            Vec::new(),
            r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#.into(),
        ),
    });
    let run = t.sync(&["--keep-going", &format!("127.0.0.1:{gone}/app"), &t.dst.host()]);
    assert!(!run.ok());
    assert_eq!(run.out().trim(), "0 copied, 0 up to date, 1 failed");
    assert!(run.err().contains(&format!("Error: docker://127.0.0.1:{gone}/app:gone: ")), "{}", run.err());
    assert!(t.tags(&format!("{}/app", t.dst.host())).is_empty());
}

/// Every file under `dir`, relative, sorted, with its bytes.
fn tree(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn dir_trees_as_skopeo_writes_and_reads_them() {
    let t = Two::new();
    let d1 = t.push("ns/app", "1");
    let d2 = t.push("ns/app", "2");
    let src = format!("{}/ns/app", t.src.host());
    let policy = format!("--policy={}", t.c.policy.display());
    for scoped in [false, true] {
        let (ours, theirs) = (t.w.path(&format!("ours-{scoped}")), t.c.path(&format!("theirs-{scoped}")));
        let mut args = vec!["sync", &policy, "--src", "docker", "--dest", "dir", "--src-tls-verify=false"];
        let mut hargs = vec!["sync", "--src", "docker", "--dest", "dir", "--src-tls-verify=false"];
        if scoped {
            args.push("--scoped");
            hargs.push("--scoped");
        }
        let (o, th) = (ours.to_str().unwrap(), theirs.to_str().unwrap());
        args.extend([src.as_str(), th]);
        t.c.skopeo(&args).expect_ok("skopeo sync --dest dir");
        hargs.extend([src.as_str(), o]);
        let run = t.w.run(&hargs, b"", &Vec::new());
        assert!(run.ok(), "{}", run.err());
        assert_eq!(run.out().trim(), "2 copied, 0 up to date, 0 failed");
        let (a, b) = (tree(&ours), tree(&theirs));
        assert_eq!(a.iter().map(|(p, _)| p).collect::<Vec<_>>(), b.iter().map(|(p, _)| p).collect::<Vec<_>>());
        assert_eq!(a, b, "the same files with the same bytes");
        if scoped {
            assert!(ours.join(format!("{}/ns/app:1/manifest.json", t.src.host())).is_file());
        }
        let again = t.w.run(&hargs, b"", &Vec::new());
        assert_eq!(again.out().trim(), "0 copied, 2 up to date, 0 failed", "{}", again.err());
    }
    // Back to a registry from skopeo's tree and from hoist's: the same digests.
    for (tree_dir, ns) in [(t.c.path("theirs-false"), "from-skopeo"), (t.w.path("ours-true"), "from-hoist")] {
        let dest = format!("{}/{ns}", t.dst.host());
        let mut args = vec!["sync", "--src", "dir", "--dest", "docker", "--dest-tls-verify=false"];
        let d = tree_dir.to_str().unwrap();
        args.extend([d, dest.as_str()]);
        let run = t.w.run(&args, b"", &Vec::new());
        assert!(run.ok(), "{}", run.err());
        assert_eq!(run.out().trim(), "2 copied, 0 up to date, 0 failed");
        assert_eq!(t.digest(&format!("{dest}/app:1")).as_deref(), Some(d1.as_str()));
        assert_eq!(t.digest(&format!("{dest}/app:2")).as_deref(), Some(d2.as_str()));
        let again = t.w.run(&args, b"", &Vec::new());
        assert_eq!(again.out().trim(), "0 copied, 2 up to date, 0 failed", "{}", again.err());
    }
    // Scoped from a dir: the registry's port becomes a valid component.
    let dest = format!("{}/scoped", t.dst.host());
    let d = t.w.path("ours-true");
    let run = t.w.run(
        &[
            "sync",
            "--src",
            "dir",
            "--dest",
            "docker",
            "--scoped",
            "--dest-tls-verify=false",
            d.to_str().unwrap(),
            &dest,
        ],
        b"",
        &Vec::new(),
    );
    assert!(run.ok(), "{}", run.err());
    assert_eq!(t.digest(&format!("{dest}/127.0.0.1_{}/ns/app:1", t.src.port)), Some(d1));
    // A dir to a dir, and a source that is not a directory: one line each.
    for (s, d) in [("dir", "dir"), ("dir", "docker")] {
        let missing = t.w.path("missing");
        let r = t.w.run(&["sync", "--src", s, "--dest", d, missing.to_str().unwrap(), &dest], b"", &Vec::new());
        assert!(!r.ok());
        assert_eq!(r.err().lines().count(), 1, "{}", r.err());
    }
}

#[test]
fn a_multi_platform_source_is_up_to_date_by_the_instance_it_gave() {
    let t = Two::new();
    let arch = if cfg!(target_arch = "aarch64") { "arm64" } else { "amd64" };
    let other = if arch == "amd64" { "arm64" } else { "amd64" };
    let layout = t.c.path("multi");
    let made =
        write_layout(&layout, "v1", &[ImageSpec::random(arch, 1, 1024, 1), ImageSpec::random(other, 1, 1024, 2)]);
    let policy = format!("--policy={}", t.c.policy.display());
    let to = format!("docker://{}/multi:v1", t.src.host());
    t.c.skopeo(&["copy", "--all", &policy, "--dest-tls-verify=false", &format!("oci:{}:v1", layout.display()), &to])
        .expect_ok("skopeo copy --all");
    let src = format!("{}/multi", t.src.host());
    // Without --all: this machine's instance; the next sync finds it up to date (not the index's digest).
    let one = format!("{}/one", t.dst.host());
    assert_eq!(t.sync(&[&src, &one]).out().trim(), "1 copied, 0 up to date, 0 failed");
    assert_eq!(t.digest(&format!("{one}/multi:v1")).as_deref(), Some(made.manifests[0].as_str()));
    let again = t.sync(&[&src, &one]);
    assert_eq!(again.out().trim(), "0 copied, 1 up to date, 0 failed", "{}", again.err());
    // With --all: the index itself, byte for byte; up to date the second time.
    let all = format!("{}/all", t.dst.host());
    assert_eq!(t.sync(&["--all", &src, &all]).out().trim(), "1 copied, 0 up to date, 0 failed");
    assert_eq!(t.digest(&format!("{all}/multi:v1")), Some(made.top.clone()));
    assert_eq!(t.sync(&["--all", &src, &all]).out().trim(), "0 copied, 1 up to date, 0 failed");
    // The single-instance copy is not the index: --all copies it again.
    assert_eq!(t.sync(&["--all", &src, &one]).out().trim(), "1 copied, 0 up to date, 0 failed");
}

#[test]
fn retry_times_tries_a_transient_failure_again_then_gives_up() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let t = Two::new();
    let heads = Arc::new(AtomicUsize::new(0));
    let counted = heads.clone();
    let busy = fake(move |method, path| match path {
        "/v2/" => ok_json("{}"),
        "/v2/app/tags/list" => ok_json(r#"{"name":"app","tags":["1"]}"#),
        p if method == "HEAD" && p.starts_with("/v2/app/manifests/") => {
            counted.fetch_add(1, Ordering::SeqCst);
            Answer::Fixed(503, Vec::new(), String::new())
        }
        _ => Answer::Fixed(404, Vec::new(), String::new()),
    });
    let src = format!("127.0.0.1:{busy}/app");
    let once = t.sync(&[&src, &t.dst.host()]);
    assert!(!once.ok() && !once.err().contains("retrying"), "{}", once.err());
    let per_attempt = heads.swap(0, Ordering::SeqCst);
    assert!(per_attempt >= 1);
    let run = t.sync(&["--retry-times", "2", &src, &t.dst.host()]);
    assert!(!run.ok());
    assert_eq!(run.out().trim(), "0 copied, 0 up to date, 1 failed");
    assert!(run.err().contains("retrying (1 of 2)") && run.err().contains("retrying (2 of 2)"), "{}", run.err());
    assert_eq!(heads.load(Ordering::SeqCst), 3 * per_attempt, "three attempts");
}

/// `--src yaml`: skopeo's sync file (images, images-by-tag-regex) read by hoist and by skopeo 1.9 into two
/// namespaces: the same images under the same names with the same digests. hoist's extra key
/// (images-by-semver) selects version tags; a second run copies nothing; `-f v2s2 -f json` converts
/// manifests on the way and prints the summary as JSON.
#[test]
fn yaml_source_selects_as_skopeo_sync_does() {
    let t = Two::new();
    for tag in ["1.0.0", "2.0.0", "2.5.1", "3.0.0", "latest"] {
        t.push("team/app", tag);
    }
    for tag in ["a", "b"] {
        t.push("tools", tag);
    }
    let (src, dst) = (t.src.host(), t.dst.host());
    let common = format!(
        "{src}:\n  tls-verify: false\n  images:\n    tools: [a]\n  images-by-tag-regex:\n    team/app: ^(1|3)\\.\n"
    );
    let file = t.w.path("sync.yml");
    std::fs::write(&file, &common).unwrap();
    let file = file.to_str().unwrap();
    let hoist = |args: &[&str]| {
        let mut all = vec!["sync", "--src", "yaml", "--dest", "docker", "--dest-tls-verify=false"];
        all.extend_from_slice(args);
        t.w.run(&all, b"", &Vec::new())
    };
    let run = hoist(&[file, &format!("{dst}/h")]);
    assert!(run.ok(), "{}", run.err());
    assert_eq!(run.out().trim(), "3 copied, 0 up to date, 0 failed");
    let policy = format!("--policy={}", t.c.policy.display());
    t.c.skopeo(&[
        "sync",
        &policy,
        "--src",
        "yaml",
        "--dest",
        "docker",
        "--dest-tls-verify=false",
        file,
        &format!("{dst}/s"),
    ])
    .expect_ok("skopeo sync --src yaml");
    for repo in ["app", "tools"] {
        let (h, s) = (t.tags(&format!("{dst}/h/{repo}")), t.tags(&format!("{dst}/s/{repo}")));
        assert!(!h.is_empty());
        assert_eq!(h, s, "{repo}: hoist's tags, then skopeo's");
        for tag in &h {
            assert_eq!(t.digest(&format!("{dst}/h/{repo}:{tag}")), t.digest(&format!("{dst}/s/{repo}:{tag}")));
        }
    }
    assert_eq!(t.tags(&format!("{dst}/h/app")), ["1.0.0", "3.0.0"]);

    // Nothing changed: nothing moves.
    let again = hoist(&["-f", "json", file, &format!("{dst}/h")]);
    assert!(again.ok(), "{}", again.err());
    let summary: Value = serde_json::from_str(&again.out()).unwrap();
    assert_eq!((summary["Copied"].as_u64(), summary["UpToDate"].as_u64()), (Some(0), Some(3)), "{summary}");

    // images-by-semver (skopeo's newer key), and a manifest type conversion on the way.
    std::fs::write(file, format!("{src}:\n  tls-verify: false\n  images-by-semver:\n    team/app: \">=2.0, <3\"\n"))
        .unwrap();
    let run = hoist(&["-f", "v2s2", "-f", "json", file, &format!("{dst}/v")]);
    assert!(run.ok(), "{}", run.err());
    let summary: Value = serde_json::from_str(&run.out()).unwrap();
    assert_eq!(summary["Copied"].as_u64(), Some(2), "{summary}");
    assert_eq!(t.tags(&format!("{dst}/v/app")), ["2.0.0", "2.5.1"]);
    let raw = t.c.skopeo(&["inspect", "--tls-verify=false", "--raw", &format!("docker://{dst}/v/app:2.0.0")]);
    let manifest: Value = serde_json::from_slice(&raw.expect_ok("inspect").stdout).unwrap();
    assert_eq!(manifest["mediaType"], "application/vnd.docker.distribution.manifest.v2+json");

    // A typo in the file: one line naming it and its line, nothing contacted.
    std::fs::write(file, format!("{src}:\n  tls-verify: false\n  images-by-tag-regexp:\n    team/app: x\n")).unwrap();
    let bad = hoist(&[file, &format!("{dst}/typo")]);
    assert!(!bad.ok());
    assert!(bad.err().contains("images-by-tag-regexp") && bad.err().contains("line 3"), "{}", bad.err());
    assert_eq!(bad.err().lines().count(), 1, "{}", bad.err());
    assert!(t.tags(&format!("{dst}/typo/app")).is_empty());
    // Flags that select tags belong to the file with --src yaml; two manifest types are refused.
    let r = hoist(&["--semver", ">=1", file, &dst]);
    assert!(!r.ok() && r.err().contains("the file selects"), "{}", r.err());
    let r = hoist(&["-f", "oci", "-f", "v2s2", file, &dst]);
    assert!(!r.ok() && r.err().contains("given twice"), "{}", r.err());
}
