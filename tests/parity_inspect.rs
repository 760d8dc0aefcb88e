//! Issue 20: `hoist inspect` of local images as `podman image inspect`, its `--format` Go templates, and
//! `hoist history` as `podman history`, side by side with podman 4.3 on the same image: built by podman
//! (LABEL, COPY, ENV, CMD, USER, WORKDIR: layers and empty layers in its history), pushed to a local
//! docker-registry, then pulled by hoist and by a fresh podman store.

use serde_json::Value;

use harness::Run;
use harness::hoist::HoistWorld;
use harness::podman::Containers;
use harness::registry::{Options, Registry};

/// The registry, podman with the image pulled, and hoist with it pulled.
struct Side {
    _reg: Registry,
    podman: Containers,
    hoist: HoistWorld,
    name: String,
}

impl Side {
    fn hoist(&self, args: &[&str]) -> Run {
        self.hoist.run(args, b"", &Vec::new())
    }

    fn podman(&self, args: &[&str]) -> Run {
        self.podman.podman(args, b"")
    }

    /// Both programs' stdout and exit code for `args` (hoist's `inspect`, podman's `image inspect`).
    fn both(&self, hoist: &[&str], podman: &[&str]) -> (Run, Run) {
        (self.hoist(hoist), self.podman(podman))
    }
}

fn setup() -> Side {
    let reg = Registry::start(Options::default());
    let host = reg.host();
    let builder = Containers::new(std::slice::from_ref(&host));
    let ctx = builder.path("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("a.txt"), "hello\n").unwrap();
    std::fs::write(ctx.join("b.txt"), vec![b'x'; 5000]).unwrap();
    std::fs::write(
        ctx.join("Containerfile"),
        "FROM scratch\nLABEL org.example.k=\"v 1\" other=x\nCOPY a.txt /a.txt\nENV A=1\nCOPY b.txt /b.txt\n\
         CMD [\"/bin/sh\", \"-c\", \"echo hi\"]\nUSER 1000\nWORKDIR /w\n",
    )
    .unwrap();
    let name = format!("{host}/parity/built:v1");
    builder
        .podman(&["build", "--format", "oci", "-t", "localhost/built", ctx.to_str().unwrap()], b"")
        .expect_ok("podman build");
    builder
        .podman(&["push", "--tls-verify=false", "localhost/built", &format!("docker://{name}")], b"")
        .expect_ok("podman push");
    // A fresh podman store: no intermediate images of the build, as in hoist's.
    let podman = Containers::new(std::slice::from_ref(&host));
    podman.podman(&["pull", "--tls-verify=false", &name], b"").expect_ok("podman pull");
    let conf = format!("unqualified-search-registries = []\n[[registry]]\nlocation = \"{host}\"\ninsecure = true\n");
    let hoist = HoistWorld::new(&conf);
    hoist.run(&["pull", &name], b"", &Vec::new()).expect_ok("hoist pull");
    Side { _reg: reg, podman, hoist, name }
}

fn json(r: &Run) -> Value {
    serde_json::from_str(&r.out()).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.out()))
}

fn one_error_line(r: &Run, must: &str) {
    assert_eq!(r.code, Some(125), "{r:?}");
    let err = r.err();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].starts_with("Error: ") && lines[0].contains(must), "{must:?} not in {err}");
}

#[test]
fn inspect_is_podman_image_inspect() {
    let s = setup();
    let name = s.name.as_str();
    let (h, p) = s.both(&["inspect", name], &["image", "inspect", name]);
    let (h, p) = (json(&h.expect_ok("hoist inspect")), json(&p.expect_ok("podman image inspect")));
    let (h, p) = (h.as_array().unwrap(), p.as_array().unwrap());
    assert_eq!((h.len(), p.len()), (1, 1));
    let (h, p) = (h[0].as_object().unwrap(), p[0].as_object().unwrap());
    // podman's keys, in podman's order, less the two hoist cannot know (docs/commands/inspect.md).
    let podman_keys: Vec<&String> = p.keys().filter(|k| *k != "NamesHistory" && *k != "GraphDriver").collect();
    let hoist_keys: Vec<&String> = h.keys().collect();
    let mut sorted = podman_keys.clone();
    sorted.sort();
    let mut hoist_sorted = hoist_keys.clone();
    hoist_sorted.sort();
    assert_eq!(hoist_sorted, sorted, "keys");
    for key in [
        "Id",
        "Digest",
        "RepoTags",
        "RepoDigests",
        "Parent",
        "Comment",
        "Created",
        "Config",
        "Version",
        "Author",
        "Architecture",
        "Os",
        "RootFS",
        "Labels",
        "Annotations",
        "ManifestType",
        "User",
        "History",
    ] {
        assert_eq!(h[key], p[key], "{key}");
    }
    // Size: the layers' unpacked sizes and the config, as podman's (which adds its copies of the manifest).
    let (hs, ps) = (h["Size"].as_u64().unwrap(), p["Size"].as_u64().unwrap());
    assert!(hs > 7000 && hs <= ps && ps - hs < 4096, "hoist {hs}, podman {ps}");
    assert_eq!(h["VirtualSize"], h["Size"]);
    assert!(h["Config"]["Cmd"].is_array() && h["Labels"]["other"] == "x", "{h:?}");

    // Several names: one object each; a missing one: what was found is printed, then one error, exit 125.
    let short = &h["Id"].as_str().unwrap()[..12];
    let (h2, p2) = s.both(&["inspect", name, short], &["image", "inspect", name, short]);
    assert_eq!(json(&h2.expect_ok("two names")).as_array().unwrap().len(), 2);
    assert_eq!(json(&p2.expect_ok("podman: two names")).as_array().unwrap().len(), 2);
    let (h3, p3) = s.both(&["inspect", "nope", name], &["image", "inspect", "nope", name]);
    assert_eq!((h3.code, p3.code), (Some(125), Some(125)));
    assert_eq!(json(&h3).as_array().unwrap().len(), json(&p3).as_array().unwrap().len());
    one_error_line(&h3, "nope");

    // `--format json` is the JSON; `--format text` is a template as podman's: no JSON.
    let j = s.hoist(&["inspect", "--format", "json", name]).expect_ok("--format json");
    assert_eq!(json(&j)[0]["Id"], h["Id"]);
    let (ht, pt) = s.both(&["inspect", "--format", "text", name], &["image", "inspect", "--format", "text", name]);
    let ht = ht.expect_ok("--format text").out();
    assert_eq!(ht, pt.expect_ok("podman --format text").out());
    assert!(!ht.contains('{'), "{ht}");
}

#[test]
fn inspect_templates_print_what_podman_prints() {
    let s = setup();
    let name = s.name.as_str();
    let id = s.hoist(&["inspect", "--format", "{{.Id}}", name]).expect_ok("{{.Id}}").out();
    assert_eq!(id.trim().len(), 64, "{id}");
    for format in [
        "{{.Id}}",
        "{{.Digest}}",
        "{{.Config.Cmd}}",
        r#"{{index .Config.Labels "org.example.k"}}"#,
        "{{range .RepoTags}}<{{.}}>{{end}}",
        "{{range .RepoDigests}}{{.}} {{end}}",
        r"table {{.Id}}\t{{.Os}}",
        r"{{.Id}}\t{{.Architecture}}\n",
        "{{range $k, $v := .Labels}}{{$k}}={{$v}};{{end}}",
        "{{.Config.User}}:{{.Config.WorkingDir}}:{{.Config.Env}}",
        "{{len .History}} {{len .RootFS.Layers}}",
        "{{if .Labels}}labelled{{else}}none{{end}} {{.Os | upper}}",
        "{{.Labels}}",
        "{{.Annotations}}",
    ] {
        let (h, p) =
            s.both(&["inspect", "--format", format, name, name], &["image", "inspect", "--format", format, name, name]);
        let p = p.expect_ok(&format!("podman {format}"));
        assert_eq!(h.expect_ok(format).out(), p.out(), "{format}");
    }
    // `{{json .Config}}`: the same JSON (keys in another order: podman's are its struct's).
    let (h, p) =
        s.both(&["inspect", "-f", "{{json .Config}}", name], &["image", "inspect", "-f", "{{json .Config}}", name]);
    let parse = |r: Run| -> Value { serde_json::from_str(r.out().trim()).unwrap() };
    assert_eq!(parse(h.expect_ok("json .Config")), parse(p.expect_ok("podman json .Config")));

    // Bad templates: one line, exit 125, nothing printed, as podman's.
    for (format, says) in
        [("{{.Nope}}", "can't evaluate field Nope"), ("{{.Id", "template"), ("{{if .Id}}", "template")]
    {
        let (h, p) = s.both(&["inspect", "--format", format, name], &["image", "inspect", "--format", format, name]);
        assert_eq!(p.code, Some(125), "podman {format}: {p:?}");
        one_error_line(&h, says);
        assert_eq!(h.out(), "", "{format}");
    }
}

#[test]
fn inspect_docker_keeps_skopeos_shape() {
    let s = setup();
    let remote = format!("docker://{}", s.name);
    let h = json(&s.hoist(&["inspect", &remote]).expect_ok("hoist inspect docker://"));
    let k = s.podman.skopeo(&["inspect", "--tls-verify=false", &remote]).expect_ok("skopeo inspect");
    let k: Value = serde_json::from_str(&k.out()).unwrap();
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    // skopeo's keys (a newer skopeo than the one here adds LayersData, which hoist has printed since the start).
    let mut hoist_keys = keys(&h);
    hoist_keys.retain(|k| k != "LayersData");
    let mut skopeo_keys = keys(&k);
    skopeo_keys.retain(|k| k != "LayersData");
    assert_eq!(hoist_keys, skopeo_keys);
    assert_eq!(h["Digest"], k["Digest"]);
    assert_eq!(h["Layers"], k["Layers"]);
    let f = s.hoist(&["inspect", "--format", "{{.Digest}}", &remote]).expect_ok("docker:// --format");
    assert_eq!(f.out().trim(), k["Digest"].as_str().unwrap());
}

#[test]
fn history_is_podman_history() {
    let s = setup();
    let name = s.name.as_str();
    // Everything but the relative times, exactly: -H=false shows them in RFC 3339.
    for args in [
        vec!["-H=false"],
        vec!["-H=false", "--no-trunc"],
        vec!["-q"],
        vec!["--format", "{{.ID}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}|{{.CreatedAt}}"],
        vec!["--no-trunc", "--format", "{{.ID}} {{.CreatedBy}}"],
        vec!["--format", r"table {{.ID}}\t{{.Size}}\t{{.Comment}}"],
        vec!["--format", r"table {{.ID}}\t{{.CreatedAt}}"],
    ] {
        let mut h = vec!["history"];
        h.extend(&args);
        h.push(name);
        let (hr, pr) = s.both(&h, &h);
        let pr = pr.expect_ok(&format!("podman {args:?}"));
        assert_eq!(hr.expect_ok(&format!("{args:?}")).out(), pr.out(), "{args:?}");
    }
    // The default table: podman's header, and the rows' columns but CREATED ("3 seconds ago") the same.
    let (h, p) = s.both(&["history", name], &["history", name]);
    let (h, p) = (h.expect_ok("history").out(), p.expect_ok("podman history").out());
    // The header's spacing follows the widest CREATED cell, whose text depends on the second each ran in
    // ("Less than a second ago" against "2 seconds ago"): its words, not its widths, must agree.
    let words = |out: &str| out.lines().next().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "));
    assert_eq!(words(&h), words(&p), "header");
    assert!(h.starts_with("ID            CREATED "), "{h}");
    let without_created = |out: &str| -> Vec<String> {
        out.lines().skip(1).map(|l| format!("{}|{}", &l[..12], l.split("ago").nth(1).unwrap_or("").trim())).collect()
    };
    assert_eq!(without_created(&h), without_created(&p));
    assert_eq!(h.lines().count(), 8, "7 steps: {h}");
    // A field podman's header table lacks shows `<no value>` in the header, as podman's.
    let f = r"table {{.ID}}\t{{.CreatedSince}}";
    let (hc, pc) = s.both(&["history", "--format", f, name], &["history", "--format", f, name]);
    let header = |r: Run, what: &str| r.expect_ok(what).out().lines().next().map(str::to_owned);
    assert_eq!(header(hc, "CreatedSince"), header(pc, "podman CreatedSince"));
    assert!(h.contains("<missing>") && h.contains("0 B"), "{h}");

    // --format json: podman's keys and values.
    let (h, p) = s.both(&["history", "--format", "json", name], &["history", "--format", "json", name]);
    assert_eq!(json(&h.expect_ok("history json")), json(&p.expect_ok("podman history json")));
    // Errors: a bad template and a missing image, one line, exit 125.
    let (h, p) = s.both(&["history", "--format", "{{.Bad}}", name], &["history", "--format", "{{.Bad}}", name]);
    assert_eq!(p.code, Some(125));
    one_error_line(&h, "can't evaluate field Bad");
    let (h, p) = s.both(&["history", "nope"], &["history", "nope"]);
    assert_eq!(p.code, Some(125));
    one_error_line(&h, "nope");
}

/// `hoist inspect --format '{{.Id}}'` in a script: the ID alone, as `podman image inspect --format`.
#[test]
fn inspect_format_id_feeds_other_commands() {
    let s = setup();
    let id = s.hoist(&["inspect", "--format", "{{.Id}}", &s.name]).expect_ok("{{.Id}}").out();
    let id = id.trim();
    let tagged = s.hoist(&["tag", id, "example.test/by-id:1"]);
    tagged.expect_ok("tag by the printed ID");
    let again = s.hoist(&["inspect", "--format", "{{.Id}} {{range .RepoTags}}{{.}} {{end}}", "example.test/by-id:1"]);
    let out = again.expect_ok("inspect the new name").out();
    assert!(out.starts_with(&format!("{id} ")) && out.contains("example.test/by-id:1"), "{out}");
}

/// An image pulled from an index (two platforms): the host's image, as podman's. One difference, documented
/// (docs/commands/inspect.md): hoist stores the platform's image only, so its `Digest` is that image
/// manifest's, one of podman's `RepoDigests` (podman's `Digest` is the index's, and its `RepoDigests` list both).
#[test]
fn inspect_of_an_image_pulled_from_an_index() {
    use harness::image::{ImageSpec, write_layout};
    let reg = Registry::start(Options::default());
    let host = reg.host();
    let c = Containers::new(std::slice::from_ref(&host));
    let (arch, other) = match std::env::consts::ARCH {
        "aarch64" => ("arm64", "amd64"),
        _ => ("amd64", "arm64"),
    };
    let dir = c.path("layout");
    let layout = write_layout(&dir, "v1", &[ImageSpec::random(arch, 2, 1000, 7), ImageSpec::random(other, 1, 1000, 8)]);
    let name = format!("{host}/multi/app:v1");
    let policy = format!("--policy={}", c.policy.display());
    let src = format!("oci:{}:v1", dir.display());
    c.skopeo(&["copy", "--all", &policy, "--dest-tls-verify=false", &src, &format!("docker://{name}")])
        .expect_ok("skopeo copy --all");
    c.podman(&["pull", "--tls-verify=false", &name], b"").expect_ok("podman pull");
    let conf = format!("unqualified-search-registries = []\n[[registry]]\nlocation = \"{host}\"\ninsecure = true\n");
    let w = HoistWorld::new(&conf);
    w.run(&["pull", &name], b"", &Vec::new()).expect_ok("hoist pull");
    let h = json(&w.run(&["inspect", &name], b"", &Vec::new()).expect_ok("hoist inspect"));
    let p = json(&c.podman(&["image", "inspect", &name], b"").expect_ok("podman image inspect"));
    for key in ["Id", "RepoTags", "Architecture", "Os", "RootFS", "ManifestType", "History", "Config", "Labels"] {
        assert_eq!(h[0][key], p[0][key], "{key}");
    }
    assert_eq!(h[0]["Id"], layout.configs[0].strip_prefix("sha256:").unwrap(), "the host's image");
    assert_eq!(h[0]["Digest"], layout.manifests[0]);
    assert_eq!(p[0]["Digest"], layout.top);
    let repo = format!("{host}/multi/app");
    assert_eq!(h[0]["RepoDigests"], serde_json::json!([format!("{repo}@{}", layout.manifests[0])]));
    let podman_repo_digests = p[0]["RepoDigests"].as_array().unwrap();
    assert!(podman_repo_digests.contains(&h[0]["RepoDigests"][0]), "{podman_repo_digests:?}");
}

/// A step where another stored image ends (the base an image was built from) shows that image's ID, as
/// podman's history does; the others `<missing>`.
#[test]
fn history_names_the_base_image_where_it_ends() {
    let reg = Registry::start(Options::default());
    let host = reg.host();
    let builder = Containers::new(std::slice::from_ref(&host));
    let ctx = builder.path("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("a.txt"), "base\n").unwrap();
    std::fs::write(ctx.join("b.txt"), "derived\n").unwrap();
    std::fs::write(ctx.join("Base"), "FROM scratch\nCOPY a.txt /a.txt\nLABEL role=base\n").unwrap();
    std::fs::write(ctx.join("Derived"), "FROM localhost/base\nCOPY b.txt /b.txt\nCMD [\"/b\"]\n").unwrap();
    let (base, derived) = (format!("{host}/parity/base:1"), format!("{host}/parity/derived:1"));
    for (file, tag, remote) in [("Base", "localhost/base", &base), ("Derived", "localhost/derived", &derived)] {
        let f = ctx.join(file);
        let args = ["build", "--format", "oci", "-f", f.to_str().unwrap(), "-t", tag, ctx.to_str().unwrap()];
        builder.podman(&args, b"").expect_ok("podman build");
        builder.podman(&["push", "--tls-verify=false", tag, &format!("docker://{remote}")], b"").expect_ok("push");
    }
    let podman = Containers::new(std::slice::from_ref(&host));
    let conf = format!("unqualified-search-registries = []\n[[registry]]\nlocation = \"{host}\"\ninsecure = true\n");
    let hoist = HoistWorld::new(&conf);
    for name in [&base, &derived] {
        podman.podman(&["pull", "--tls-verify=false", name], b"").expect_ok("podman pull");
        hoist.run(&["pull", name], b"", &Vec::new()).expect_ok("hoist pull");
    }
    for args in [["history", "-H=false", derived.as_str()], ["history", "-H=false", base.as_str()]] {
        let h = hoist.run(&args, b"", &Vec::new()).expect_ok("hoist history").out();
        let p = podman.podman(&args, b"").expect_ok("podman history").out();
        assert_eq!(h, p, "{args:?}");
    }
    let h = hoist.run(&["history", "-q", &derived], b"", &Vec::new()).expect_ok("history -q").out();
    let base_id = hoist.run(&["inspect", "-f", "{{.Id}}", &base], b"", &Vec::new()).expect_ok("base id").out();
    assert!(h.lines().any(|l| base_id.starts_with(l)), "the base's ID on its step: {h}");
}
