//! Issue 20's verbs side by side with podman 4.3 on the same images of one local registry: `tag` and `load`
//! naming unqualified names `localhost/NAME`, `image exists`, `untag`, `prune` (dangling, `-a`, `-f`, the
//! question on stdin), `pull` of several names and `pull --all-tags`, and the `hoist image ...` group.
//! Each test runs podman in its own storage (harness::podman::Containers) and hoist in its own world.

use std::collections::BTreeSet;
use std::io::Read;

use harness::Run;
use harness::hoist::HoistWorld;
use harness::image::write_oci_layout;
use harness::podman::Containers;
use harness::registry::{Options, Registry};

/// A registry, podman and hoist that both reach it over plain HTTP.
struct Side {
    reg: Registry,
    c: Containers,
    w: HoistWorld,
}

impl Side {
    fn new() -> Side {
        let reg = Registry::start(Options::default());
        let host = reg.host();
        let c = Containers::new(std::slice::from_ref(&host));
        let conf =
            format!("unqualified-search-registries = []\n[[registry]]\nlocation = \"{host}\"\ninsecure = true\n");
        let w = HoistWorld::new(&conf);
        Side { reg, c, w }
    }

    /// `HOST/lib/app` on the registry.
    fn repo(&self) -> String {
        format!("{}/lib/app", self.reg.host())
    }

    /// Pushes a one-layer image holding `content` to `HOST/lib/app:TAG` for each of `tags`; its image ID.
    fn push(&self, content: &str, tags: &[&str]) -> String {
        let layout = self.c.path(&format!("layout-{content}"));
        write_oci_layout(&layout, "v1", &[("f", content.as_bytes())]);
        let policy = format!("--policy={}", self.c.policy.display());
        let src = format!("oci:{}:v1", layout.display());
        for t in tags {
            let dst = format!("docker://{}:{t}", self.repo());
            self.c.skopeo(&["copy", &policy, "--dest-tls-verify=false", &src, &dst]).expect_ok("skopeo copy");
        }
        let raw = self.c.skopeo(&["inspect", "--config", "--raw", &format!("oci:{}:v1", layout.display())]);
        let config = raw.expect_ok("skopeo inspect --config").stdout;
        sha256_hex(&config)
    }

    fn hoist(&self, args: &[&str]) -> Run {
        self.w.run(args, b"", &Vec::new())
    }

    fn hoist_in(&self, args: &[&str], input: &[u8]) -> Run {
        self.w.run(args, input, &Vec::new())
    }

    fn podman(&self, args: &[&str]) -> Run {
        self.c.podman(args, b"")
    }

    fn podman_in(&self, args: &[&str], input: &[u8]) -> Run {
        self.c.podman(args, input)
    }

    /// Every name in hoist's store (`<none>` for an image without one), sorted.
    fn hoist_names(&self) -> BTreeSet<String> {
        let out = self.hoist(&["images", "-a", "--format", "json"]).expect_ok("hoist images");
        let images: Vec<serde_json::Value> = serde_json::from_str(&out.out()).unwrap();
        let mut names = BTreeSet::new();
        for i in &images {
            let list = i["Names"].as_array().cloned().unwrap_or_default();
            if list.is_empty() {
                names.insert("<none>".to_owned());
            }
            names.extend(list.iter().map(|n| n.as_str().unwrap().to_owned()));
        }
        names
    }

    /// Every name in podman's storage (`<none>` for an image without one), sorted.
    fn podman_names(&self) -> BTreeSet<String> {
        let out = self.podman(&["images", "-a", "--format", "{{.Repository}}:{{.Tag}}"]).expect_ok("podman images");
        out.out().lines().map(|l| if l == "<none>:<none>" { "<none>".to_owned() } else { l.to_owned() }).collect()
    }
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The `Error:` line of a failed run: exactly one, and no panic.
fn error_line(r: &Run) -> String {
    let err = r.err();
    assert!(!err.contains("panicked"), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("Error:")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    lines[0].to_owned()
}

#[test]
fn tag_names_an_unqualified_name_localhost_as_podman() {
    let s = Side::new();
    let image = format!("{}:1", s.repo());
    s.push("tagged", &["1"]);
    s.podman(&["pull", "-q", &image]).expect_ok("podman pull");
    s.hoist(&["pull", "-q", &image]).expect_ok("hoist pull");
    let names = ["foo", "bar:2", "lib/baz", "docker.io/qux", "example.com/x:1", "localhost:5000/y"];
    let mut podman_tag = vec!["tag", image.as_str()];
    podman_tag.extend(names);
    s.podman(&podman_tag).expect_ok("podman tag");
    let mut hoist_tag = vec!["tag", image.as_str()];
    hoist_tag.extend(names);
    let out = s.hoist(&hoist_tag).expect_ok("hoist tag");
    assert_eq!(out.out(), "", "tag prints nothing, as podman");
    let expected = set(&[
        &image,
        "localhost/foo:latest",
        "localhost/bar:2",
        "localhost/lib/baz:latest",
        "docker.io/library/qux:latest",
        "example.com/x:1",
        "localhost:5000/y:latest",
    ]);
    assert_eq!(s.podman_names(), expected);
    assert_eq!(s.hoist_names(), expected);
    // The short name finds the localhost/ image, as podman's lookup does.
    assert_eq!(s.hoist(&["image", "exists", "foo"]).code, Some(0));
}

/// A docker-archive whose RepoTags are written without a registry (`docker save`'s `app:1`): podman loads
/// them under `localhost/`, and so does hoist; a name with a registry stays as it is (docker.io normalised).
#[test]
fn load_names_an_archives_unqualified_names_localhost_as_podman() {
    let s = Side::new();
    let image = format!("{}:1", s.repo());
    s.push("loaded", &["1"]);
    s.podman(&["pull", "-q", &image]).expect_ok("podman pull");
    let saved = s.c.path("saved.tar");
    s.podman(&["save", "-o", saved.to_str().unwrap(), &image]).expect_ok("podman save");
    let renamed = s.c.path("renamed.tar");
    let tags = ["foo:1", "lib/bar:4", "docker.io/library/qux:2", "example.com/x:1", "docker.io/zed:3"];
    rewrite_repo_tags(&saved, &renamed, &tags);
    s.podman(&["rmi", "-a", "-f"]).expect_ok("podman rmi -a");

    let podman = s.podman(&["load", "-i", renamed.to_str().unwrap()]).expect_ok("podman load");
    let hoist = s.hoist(&["load", "-i", renamed.to_str().unwrap()]).expect_ok("hoist load");
    let loaded = |r: &Run| -> BTreeSet<String> { r.out().lines().map(str::to_owned).collect() };
    let expected = set(&[
        "Loaded image: localhost/foo:1",
        "Loaded image: localhost/lib/bar:4",
        "Loaded image: docker.io/library/qux:2",
        "Loaded image: example.com/x:1",
        "Loaded image: docker.io/library/zed:3",
    ]);
    assert_eq!(loaded(&podman), expected, "{}", podman.err());
    assert_eq!(loaded(&hoist), expected, "{}", hoist.err());
    assert_eq!(s.hoist_names(), s.podman_names());
}

/// Copies the docker-archive `from` to `to` with its one image's RepoTags replaced by `tags`.
fn rewrite_repo_tags(from: &std::path::Path, to: &std::path::Path, tags: &[&str]) {
    let mut input = tar::Archive::new(std::fs::File::open(from).unwrap());
    let mut out = tar::Builder::new(std::fs::File::create(to).unwrap());
    for entry in input.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if path.to_str() == Some("manifest.json") {
            let mut m: serde_json::Value = serde_json::from_slice(&data).unwrap();
            m[0]["RepoTags"] = serde_json::json!(tags);
            data = serde_json::to_vec(&m).unwrap();
        }
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        out.append_data(&mut h, &path, data.as_slice()).unwrap();
    }
    out.finish().unwrap();
}

#[test]
fn image_exists_exits_as_podman() {
    let s = Side::new();
    let image = format!("{}:1", s.repo());
    let id = s.push("exists", &["1"]);
    s.podman(&["pull", "-q", &image]).expect_ok("podman pull");
    s.hoist(&["pull", "-q", &image]).expect_ok("hoist pull");
    let missing = format!("{}:2", s.repo());
    for (name, code) in [
        (image.as_str(), 0),
        (&id[..12], 0),
        (id.as_str(), 0),
        ("app:1", 0),
        (missing.as_str(), 1),
        ("nothing-here", 1),
        ("BAD!!", 125),
    ] {
        let p = s.podman(&["image", "exists", name]);
        let h = s.hoist(&["image", "exists", name]);
        assert_eq!((p.code, h.code), (Some(code), Some(code)), "{name}: podman {p:?}, hoist {h:?}");
        assert_eq!(h.out(), "", "{name}: nothing on stdout");
        if code == 125 {
            error_line(&h);
        } else {
            assert_eq!(h.err(), "", "{name}: nothing on stderr");
        }
    }
    // One name exactly: a usage error, never taken for "not there" (podman: 125).
    assert_eq!(s.podman(&["image", "exists"]).code, Some(125));
    let h = s.hoist(&["image", "exists"]);
    assert!(!matches!(h.code, Some(0) | Some(1)), "{h:?}");
}

#[test]
fn untag_takes_names_off_and_keeps_the_image_as_podman() {
    let s = Side::new();
    let image = format!("{}:1", s.repo());
    let id = s.push("untag", &["1"]);
    s.podman(&["pull", "-q", &image]).expect_ok("podman pull");
    s.hoist(&["pull", "-q", &image]).expect_ok("hoist pull");
    for run in [Side::podman as fn(&Side, &[&str]) -> Run, Side::hoist] {
        run(&s, &["tag", &image, "a1", "a2", "example.com/a3:x"]).expect_ok("tag");
    }

    // Some names: a short name is localhost/NAME, as tag gave it.
    let p = s.podman(&["untag", &image, "a1", "example.com/a3:x"]).expect_ok("podman untag");
    let h = s.hoist(&["untag", &image, "a1", "example.com/a3:x"]).expect_ok("hoist untag");
    assert_eq!((h.out(), h.err()), (p.out(), String::new()), "untag prints nothing");
    let expected = set(&[&image, "localhost/a2:latest"]);
    assert_eq!((s.podman_names(), s.hoist_names()), (expected.clone(), expected.clone()));

    // A name the image does not have: podman's message and exit code.
    let p = s.podman(&["untag", &image, "zzz"]);
    let h = s.hoist(&["untag", &image, "zzz"]);
    assert_eq!((p.code, h.code), (Some(125), Some(125)));
    assert_eq!(error_line(&h), "Error: localhost/zzz:latest: tag not known");
    assert!(p.err().contains("localhost/zzz:latest: tag not known"), "{}", p.err());
    // hoist is all or nothing where podman stops half way (it takes a2 off before refusing zzz).
    let h = s.hoist(&["untag", &image, "a2", "zzz"]);
    assert_eq!(h.code, Some(125));
    assert_eq!(s.hoist_names(), expected, "a2 kept: nothing taken off when one name is refused");
    let p = s.podman(&["untag", "nothing-here"]);
    let h = s.hoist(&["untag", "nothing-here"]);
    assert_eq!((p.code, h.code), (Some(125), Some(125)));
    assert_eq!(error_line(&h), "Error: nothing-here: image not known");

    // No names: every name goes, the image stays, <none>, by its ID.
    s.podman(&["untag", &id[..12]]).expect_ok("podman untag all");
    s.hoist(&["untag", &id[..12]]).expect_ok("hoist untag all");
    assert_eq!((s.podman_names(), s.hoist_names()), (set(&["<none>"]), set(&["<none>"])));
    let h = s.hoist(&["images", "--format", "json"]).expect_ok("images");
    let images: Vec<serde_json::Value> = serde_json::from_str(&h.out()).unwrap();
    assert_eq!(images.len(), 1, "one image, however many manifests it had: {images:?}");
    assert_eq!(s.hoist(&["image", "exists", &id]).code, Some(0));
    // Untag of a nameless image: nothing to do, as podman.
    assert_eq!((s.podman(&["untag", &id]).code, s.hoist(&["untag", &id]).code), (Some(0), Some(0)));
}

#[test]
fn prune_removes_dangling_images_asking_first_as_podman() {
    let s = Side::new();
    let one = format!("{}:1", s.repo());
    let two = format!("{}:2", s.repo());
    let id1 = s.push("prune-one", &["1"]);
    let id2 = s.push("prune-two", &["2"]);
    for image in [&one, &two] {
        s.podman(&["pull", "-q", image]).expect_ok("podman pull");
        s.hoist(&["pull", "-q", image]).expect_ok("hoist pull");
    }
    s.podman(&["untag", &one]).expect_ok("podman untag");
    s.hoist(&["untag", &one]).expect_ok("hoist untag");
    let both = set(&["<none>", &two]);
    assert_eq!((s.podman_names(), s.hoist_names()), (both.clone(), both.clone()));

    // The question on stdout; "n" (or anything but y...) keeps everything, exit 0.
    let question = "WARNING! This command removes all dangling images.\nAre you sure you want to continue? [y/N] ";
    for no in [&b"n\n"[..], b"\n", b"nope\n"] {
        let p = s.podman_in(&["image", "prune"], no);
        let h = s.hoist_in(&["prune"], no);
        assert_eq!((p.code, h.code), (Some(0), Some(0)), "{h:?}");
        assert_eq!((p.out(), h.out()), (question.to_owned(), question.to_owned()));
    }
    // No answer at all: an error, nothing removed.
    let p = s.podman_in(&["image", "prune"], b"");
    let h = s.hoist_in(&["prune"], b"");
    assert_eq!((p.code, h.code), (Some(125), Some(125)));
    error_line(&h);
    assert_eq!((s.podman_names(), s.hoist_names()), (both.clone(), both.clone()));

    // "yes": the dangling image goes, its ID printed after the question.
    let p = s.podman_in(&["image", "prune"], b"yes\n").expect_ok("podman prune");
    let h = s.hoist_in(&["image", "prune"], b"Y\n").expect_ok("hoist prune");
    assert_eq!(p.out(), format!("{question}{id1}\n"));
    assert_eq!(h.out(), format!("{question}{id1}\n"));
    let only = set(&[&two]);
    assert_eq!((s.podman_names(), s.hoist_names()), (only.clone(), only));
    // Nothing dangling: -f prints nothing.
    let p = s.podman(&["image", "prune", "-f"]).expect_ok("podman prune -f");
    let h = s.hoist(&["prune", "-f"]).expect_ok("hoist prune -f");
    assert_eq!((p.out(), h.out()), (String::new(), String::new()));

    // -a: podman's other question; with -f every image goes (no containers use any), then every blob.
    let p = s.podman_in(&["image", "prune", "-a"], b"n\n");
    let h = s.hoist_in(&["prune", "-a"], b"n\n");
    let all_question = "WARNING! This command removes all images without at least one container associated with them.\n\
                        Are you sure you want to continue? [y/N] ";
    assert_eq!((p.out(), h.out()), (all_question.to_owned(), all_question.to_owned()));
    let p = s.podman(&["image", "prune", "-a", "-f"]).expect_ok("podman prune -a -f");
    let h = s.hoist(&["prune", "--all", "--force"]).expect_ok("hoist prune -a -f");
    assert_eq!((p.out(), h.out()), (format!("{id2}\n"), format!("{id2}\n")));
    assert!(s.hoist_names().is_empty() && s.podman_names().is_empty());
    let blobs = std::fs::read_dir(s.w.path("store/blobs/sha256")).unwrap().count();
    assert_eq!(blobs, 0, "the collection followed");
    // No argument, as podman (a usage error).
    assert_eq!(s.podman(&["image", "prune", "x"]).code, Some(125));
    assert_eq!(s.hoist(&["prune", "x"]).code, Some(125));
}

#[test]
fn pull_takes_several_names_and_all_tags_as_podman() {
    let s = Side::new();
    let repo = s.repo();
    let id_a = s.push("pull-a", &["1", "2"]);
    let id_b = s.push("pull-b", &["3"]);
    let (one, three, nope) = (format!("{repo}:1"), format!("{repo}:3"), format!("{repo}:nope"));

    // Several names: an ID line each, in order.
    let p = s.podman(&["pull", "-q", &one, &three]).expect_ok("podman pull");
    let h = s.hoist(&["pull", "-q", &one, &three]).expect_ok("hoist pull");
    assert_eq!(p.out(), format!("{id_a}\n{id_b}\n"));
    assert_eq!(h.out(), p.out());
    s.podman(&["rmi", "-a", "-f"]).expect_ok("podman rmi -a");
    s.hoist(&["rmi", "-a", "-f"]).expect_ok("hoist rmi -a");

    // A failure does not stop the rest: each name is tried, the run exits 125 with one error line per failure.
    let p = s.podman(&["pull", "-q", &nope, &one, &nope, &three]);
    let h = s.hoist(&["pull", "-q", &nope, &one, &nope, &three]);
    assert_eq!((p.code, h.code), (Some(125), Some(125)));
    assert_eq!(p.out(), format!("{id_a}\n{id_b}\n"));
    assert_eq!(h.out(), p.out());
    let errors: Vec<String> = h.err().lines().filter(|l| l.starts_with("Error:")).map(str::to_owned).collect();
    assert_eq!(errors.len(), 2, "{}", h.err());
    assert!(errors.iter().all(|e| e.contains("nope")), "{errors:?}");
    let both = set(&[&one, &three]);
    assert_eq!((s.podman_names(), s.hoist_names()), (both.clone(), both));

    // --all-tags: every tag the registry lists, in its order (-a, and in the image group).
    let p = s.podman(&["pull", "-q", "--all-tags", &repo]).expect_ok("podman pull --all-tags");
    let h = s.hoist(&["image", "pull", "-q", "-a", &repo]).expect_ok("hoist pull -a");
    assert_eq!(h.out(), p.out());
    assert_eq!(h.out().lines().collect::<BTreeSet<_>>(), BTreeSet::from([id_a.as_str(), id_b.as_str()]));
    assert_eq!(h.out().lines().count(), 3, "one line per tag");
    let all = set(&[&one, &format!("{repo}:2"), &three]);
    assert_eq!((s.podman_names(), s.hoist_names()), (all.clone(), all));
    // With a tag or digest: refused (docker's rule; podman 4.3 drops the tag and pulls every tag).
    let h = s.hoist(&["pull", "--all-tags", &one]);
    assert_eq!(h.code, Some(125));
    assert!(error_line(&h).contains("without a tag or digest"), "{}", h.err());
    let p = s.podman(&["pull", "-q", "--all-tags", &one]).expect_ok("podman 4.3 accepts it");
    assert_eq!(p.out().lines().count(), 3, "podman pulled every tag: {}", p.out());
    // A repository the registry does not have: one error line.
    let h = s.hoist(&["pull", "-a", &format!("{repo}-missing")]);
    assert_eq!(h.code, Some(125));
    error_line(&h);
}

#[test]
fn the_image_group_runs_the_top_level_commands() {
    let s = Side::new();
    let image = format!("{}:1", s.repo());
    let id = s.push("group", &["1"]);
    assert_eq!(s.hoist(&["image", "pull", "-q", &image]).expect_ok("image pull").out(), format!("{id}\n"));
    s.hoist(&["image", "tag", &image, "grouped:2"]).expect_ok("image tag");
    let listed = s.hoist(&["images", "--format", "json"]).expect_ok("images").out();
    for ls in ["ls", "list"] {
        assert_eq!(s.hoist(&["image", ls, "--format", "json"]).expect_ok("image ls").out(), listed, "image {ls}");
    }
    let inspected = s.hoist(&["inspect", "localhost/grouped:2"]).expect_ok("inspect").out();
    assert_eq!(s.hoist(&["image", "inspect", "localhost/grouped:2"]).expect_ok("image inspect").out(), inspected);
    let saved = s.w.path("group.tar");
    s.hoist(&["image", "save", "-o", saved.to_str().unwrap(), "grouped:2"]).expect_ok("image save");
    s.hoist(&["image", "untag", &image, "grouped:2"]).expect_ok("image untag");
    assert_eq!(s.hoist_names(), set(&[&image]));
    let removed = s.hoist(&["image", "rm", &image]).expect_ok("image rm");
    assert!(removed.out().contains(&format!("Deleted: {id}")), "{}", removed.out());
    assert_eq!(s.hoist(&["image", "exists", &id]).code, Some(1));
    s.hoist(&["image", "load", "-q", "-i", saved.to_str().unwrap()]).expect_ok("image load");
    assert_eq!(s.hoist_names(), set(&["localhost/grouped:2"]));
    s.hoist(&["image", "push", "localhost/grouped:2", &format!("{}:pushed", s.repo())]).expect_ok("image push");
    s.hoist(&["image", "untag", &id]).expect_ok("image untag all");
    assert_eq!(s.hoist(&["image", "prune", "-f"]).expect_ok("image prune").out(), format!("{id}\n"));
    let help = s.hoist(&["image", "--help"]).expect_ok("image --help").out();
    for sub in
        ["build", "exists", "history", "inspect", "ls", "load", "prune", "pull", "push", "rm", "save", "tag", "untag"]
    {
        assert!(help.lines().any(|l| l.trim_start().starts_with(sub)), "{sub} not in:\n{help}");
    }
}

/// podman keeps a nameless image another image is built on (an intermediate image, not dangling); so does
/// hoist's prune, until the child is gone.
#[test]
fn prune_keeps_the_parent_of_a_stored_image_as_podman() {
    let s = Side::new();
    let base = format!("{}:1", s.repo());
    let child = format!("{}:child", s.repo());
    let base_id = s.push("base", &["1"]);
    s.podman(&["pull", "-q", &base]).expect_ok("podman pull");
    let ctx = s.c.path("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("f"), "child").unwrap();
    std::fs::write(ctx.join("Dockerfile"), format!("FROM {base}\nCOPY f /child\n")).unwrap();
    s.podman(&["build", "-q", "-t", &child, ctx.to_str().unwrap()]).expect_ok("podman build");
    s.podman(&["push", "--tls-verify=false", &child]).expect_ok("podman push");
    s.hoist(&["pull", "-q", &base, &child]).expect_ok("hoist pull");

    s.podman(&["untag", &base]).expect_ok("podman untag");
    s.hoist(&["untag", &base]).expect_ok("hoist untag");
    let p = s.podman(&["image", "prune", "-f"]).expect_ok("podman prune");
    let h = s.hoist(&["prune", "-f"]).expect_ok("hoist prune");
    assert_eq!((p.out(), h.out()), (String::new(), String::new()), "the parent is not dangling");
    let both = set(&["<none>", &child]);
    assert_eq!((s.podman_names(), s.hoist_names()), (both.clone(), both));

    // The child gone, the parent is dangling: hoist's prune takes it. (podman's `rmi` of the child already
    // took it, as a dangling parent: `Deleted:` twice; hoist's rmi does not yet.)
    let p = s.podman(&["rmi", &child]).expect_ok("podman rmi");
    assert!(p.out().contains(&format!("Deleted: {base_id}")), "{}", p.out());
    s.hoist(&["rmi", &child]).expect_ok("hoist rmi");
    let h = s.hoist(&["prune", "-f"]).expect_ok("hoist prune");
    assert_eq!(h.out(), format!("{base_id}\n"));
    assert!(s.podman_names().is_empty() && s.hoist_names().is_empty());
}
