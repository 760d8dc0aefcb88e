//! Replays every file of `corpus/<target>` and `artifacts/<target>` through its target (src/lib.rs), without
//! any fuzz tooling: the seeds keep working and a crash once found and fixed stays fixed. Part of `make test`.

use std::path::{Path, PathBuf};

use hoist_fuzz::TARGETS;

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> =
        entries.map(|e| e.expect("a directory entry").path()).filter(|p| p.is_file()).collect();
    files.sort();
    files
}

#[test]
fn every_corpus_and_artifact_file_runs_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut failed = Vec::new();
    for (name, target) in TARGETS {
        let corpus = files(&root.join("corpus").join(name));
        assert!(!corpus.is_empty(), "fuzz/corpus/{name} has no seed");
        for file in corpus.iter().chain(&files(&root.join("artifacts").join(name))) {
            let data = std::fs::read(file).expect("a readable file");
            if std::panic::catch_unwind(|| target(&data)).is_err() {
                failed.push(file.strip_prefix(root).unwrap_or(file).display().to_string());
            }
        }
    }
    assert!(failed.is_empty(), "targets panicked on: {failed:?}");
}

/// Every binary in fuzz_targets/ is a target of the list, and every target has its binary.
#[test]
fn the_target_list_matches_the_binaries() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut binaries: Vec<String> =
        files(&root.join("fuzz_targets")).iter().filter_map(|p| Some(p.file_stem()?.to_str()?.to_owned())).collect();
    binaries.sort();
    let mut names: Vec<String> = TARGETS.iter().map(|(n, _)| (*n).to_owned()).collect();
    names.sort();
    assert_eq!(binaries, names);
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
    for name in &names {
        assert!(manifest.contains(&format!("name = \"{name}\"")), "no [[bin]] for {name} in fuzz/Cargo.toml");
    }
}
