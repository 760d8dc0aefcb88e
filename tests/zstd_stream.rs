//! Issue 24 follow-up: a layer recompressed on push goes into the registry while it is made (a streamed
//! upload, digest given at the end), never through a spool file — shown by a push with `TMPDIR` at a
//! directory that does not exist, which the spool path cannot use; the image pulled back is whole.

use harness::Run;
use harness::hoist::HoistWorld;
use harness::image::{ImageSpec, write_layout};
use harness::process::env_pair;
use harness::registry::{Options, Registry};

fn insecure(host: &str) -> String {
    format!("unqualified-search-registries = []\n[[registry]]\nlocation = \"{host}\"\ninsecure = true\n")
}

fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => panic!("no test image for {other}"),
    }
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap()
}

#[test]
fn push_recompression_streams_into_the_registry_without_a_spool_file() {
    let reg = Registry::start(Options::default());
    let host = reg.host();
    let w = HoistWorld::new(&insecure(&host));
    let dir = w.path("layout");
    // Layers of 10 MB: over the size sent in one PUT, so a spooled layer would be PATCHed too.
    let layout = write_layout(&dir, "v1", &[ImageSpec::random(host_arch(), 2, 10_000_000, 24)]);
    let stored = format!("{host}/stream/app:v1");
    let none: &harness::process::Env = &Vec::new();
    w.run(&["copy", &format!("oci:{}:v1", dir.display()), &format!("store:{stored}")], b"", none)
        .expect_ok("hoist copy into the store");

    // No spool directory: the old path (spool, then send) fails to make its file; the stream needs none.
    let missing = vec![env_pair("TMPDIR", w.path("no-such-dir"))];
    let dest = format!("docker://{host}/stream/app:z");
    let out: Run = w.run(&["push", "--compression-format", "zstd", &stored, &dest], b"", &missing);
    out.expect_ok("push --compression-format zstd with no spool directory");
    assert!(!w.path("no-such-dir").exists());

    // What the registry holds is whole: pulled back (every blob checked against its digest), zstd layers
    // that decompress to the config's diff_ids (hoist verify), the config kept.
    let back = w.path("back");
    w.run(&["copy", &dest, &format!("oci:{}:z", back.display())], b"", none).expect_ok("pull back");
    let index = json(&std::fs::read(back.join("index.json")).unwrap());
    let digest = index["manifests"][0]["digest"].as_str().unwrap().trim_start_matches("sha256:").to_owned();
    let manifest = json(&std::fs::read(back.join("blobs/sha256").join(digest)).unwrap());
    assert_eq!(manifest["config"]["digest"], layout.configs[0], "the config is kept");
    let types: Vec<&str> =
        manifest["layers"].as_array().unwrap().iter().map(|l| l["mediaType"].as_str().unwrap()).collect();
    assert_eq!(types, ["application/vnd.oci.image.layer.v1.tar+zstd"; 2], "{manifest}");
    w.run(&["verify", &back.display().to_string()], b"", none).expect_ok("hoist verify");
}
