//! `make bench`: `get` latency of hoist's helpers against the Go helpers, measured in the same run on
//! private instances (D-Bus + gnome-keyring, gpg + pass), and the issue targets as ratios.
//!
//! Run from a release build (`make bench`), so our helpers are the release binaries.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use harness::Subject;
use harness::conformance::GoSecretService;
use harness::helpers::{FileHelper, KeyringHelper, VaultHelper};
use harness::pass::PassStore;
use harness::process::Env;
use harness::secret_service::SecretService;

struct Pass {
    program: std::path::PathBuf,
    env: Env,
}

impl Subject for Pass {
    fn name(&self) -> String {
        "docker-credential-pass".into()
    }
    fn command(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(&self.program);
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }
    fn reset(&self) {}
}

/// Median and 90th percentile of `runs` timed `get`s (after 3 warm-up runs).
fn measure(subject: &dyn Subject, runs: usize) -> (Duration, Duration) {
    let input = br#"{"ServerURL":"bench.example:5000","Username":"bench","Secret":"bench-secret-value"}"#;
    subject.run(&["store"], input).expect_ok(&format!("{} store", subject.name()));
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs + 3 {
        let start = Instant::now();
        let out = subject.run(&["get"], b"bench.example:5000");
        let took = start.elapsed();
        assert!(out.ok() && out.out().contains("bench-secret-value"), "{} get failed: {}", subject.name(), out.out());
        if i >= 3 {
            times.push(took);
        }
    }
    times.sort();
    (times[runs / 2], times[runs * 9 / 10])
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() -> ExitCode {
    let ss = SecretService::start();
    let pass = PassStore::start();
    let file = FileHelper::new();
    let keyring = KeyringHelper::new(&ss);
    let vault = VaultHelper::unlocked();
    let go_ss = GoSecretService::new(&ss);
    let go_pass = Pass {
        program: harness::require("docker-credential-pass", "golang-docker-credential-helpers"),
        env: pass.env(),
    };

    println!("get latency, median (p90), one process per call:");
    let mut results = Vec::new();
    for (subject, runs) in [
        (&go_ss as &dyn Subject, 100),
        (&go_pass as &dyn Subject, 30),
        (&file as &dyn Subject, 100),
        (&keyring as &dyn Subject, 100),
        (&vault as &dyn Subject, 100),
    ] {
        let (median, p90) = measure(subject, runs);
        println!("  {:<34} {:>10} ({})", subject.name(), ms(median), ms(p90));
        results.push((subject.name(), median));
    }
    let get = |name: &str| results.iter().find(|(n, _)| n == name).map(|(_, d)| d.as_secs_f64()).unwrap();
    let (ss_t, pass_t) = (get("docker-credential-secretservice"), get("docker-credential-pass"));
    let targets = [
        ("keyring get / secretservice get", get("docker-credential-keyring") / ss_t, 1.0),
        ("vault get (unlocked) / secretservice get", get("docker-credential-vault") / ss_t, 0.2),
        ("vault get (unlocked) / pass get", get("docker-credential-vault") / pass_t, 0.05),
    ];
    println!("\ntargets (ratio of medians, same run):");
    let mut missed = 0;
    for (what, ratio, limit) in targets {
        let ok = ratio <= limit;
        missed += usize::from(!ok);
        println!("  {:<44} {:>6.3}  (target <= {limit})  {}", what, ratio, if ok { "met" } else { "MISSED" });
    }
    if missed > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
