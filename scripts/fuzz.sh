#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser of untrusted input (docs/security.md, "Fuzzing"), on stable Rust:
# cargo-fuzz builds the fuzz/ targets with libFuzzer and SanitizerCoverage, then each target runs for
# FUZZ_SECONDS. Prints executions and crashes per target; exits 1 when a target crashed (its reproducer is in
# fuzz/artifacts/<target>/, which `make test` replays).
#
#   scripts/fuzz.sh                  every target, FUZZ_SECONDS (60) each
#   scripts/fuzz.sh manifest token_answer
#   scripts/fuzz.sh --merge [TARGET...]
#                                    after a run: add to fuzz/corpus/<target> only the inputs of the run's
#                                    corpus that reach new code (libFuzzer -merge=1 counting edges, not hit
#                                    counts, which keeps it small), to commit
#
# Environment: FUZZ_SECONDS (60), FUZZ_SANITIZER (none; `address` adds ASan through RUSTC_BOOTSTRAP=1, as
# -Zsanitizer is not stable), FUZZ_TIMEOUT (10: seconds one input may take before it counts as a crash),
# FUZZ_MAX_LEN (the largest input tried; libFuzzer's default is 4096 or the largest seed), FUZZ_RSS_MB (2048).
# Installs what it needs, idempotently: a C++ compiler (Debian's g++, for libFuzzer) and cargo-fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
SECONDS_EACH=${FUZZ_SECONDS:-60}
SANITIZER=${FUZZ_SANITIZER:-none}
TIMEOUT=${FUZZ_TIMEOUT:-10}
len_flag=()
[ -z "${FUZZ_MAX_LEN:-}" ] || len_flag=(-max_len="$FUZZ_MAX_LEN")
RSS_MB=${FUZZ_RSS_MB:-2048}
# Its own target directories (one per sanitizer): instrumented builds never invalidate the workspace's, nor
# wait for its lock. The run's corpus and logs are under target/fuzz.
TARGET_DIR=target/fuzz
[ "$SANITIZER" = none ] || TARGET_DIR=target/fuzz-$SANITIZER
WORK=target/fuzz/corpus
LOGS=target/fuzz/logs

merge=0
if [ "${1:-}" = "--merge" ]; then
  merge=1
  shift
fi

# --- what it needs -------------------------------------------------------------------------------------------
if ! command -v c++ >/dev/null; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "fuzz: installing g++ (libFuzzer is C++)"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends g++
fi
if [ "$(cargo fuzz --version 2>/dev/null || true)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi
if [ "$SANITIZER" != none ]; then
  # cargo-fuzz passes -Zsanitizer=...; RUSTC_BOOTSTRAP lets the stable compiler accept it.
  export RUSTC_BOOTSTRAP=1
fi

# --- build ---------------------------------------------------------------------------------------------------
all_targets=$(cargo fuzz list --fuzz-dir fuzz)
targets=("$@")
if ((${#targets[@]} == 0)); then
  mapfile -t targets <<<"$all_targets"
fi
for t in "${targets[@]}"; do
  grep -qx "$t" <<<"$all_targets" || { echo "fuzz: no target $t (have: $(echo $all_targets))" >&2; exit 2; }
done
# -a: debug assertions and overflow checks on, so arithmetic overflow is a crash too.
cargo fuzz build --fuzz-dir fuzz --features libfuzzer -a -s "$SANITIZER" --target-dir "$TARGET_DIR"
bin_dir=$TARGET_DIR/$(rustc -vV | sed -n 's/^host: //p')/release
mkdir -p "$WORK" "$LOGS"

if ((merge)); then
  for t in "${targets[@]}"; do
    before=$(find "fuzz/corpus/$t" -type f | wc -l)
    "$bin_dir/$t" -merge=1 -use_counters=0 "${len_flag[@]}" -timeout="$TIMEOUT" "fuzz/corpus/$t" "$WORK/$t" >"$LOGS/$t.merge.log" 2>&1
    after=$(find "fuzz/corpus/$t" -type f | wc -l)
    printf 'fuzz: %-18s corpus %d -> %d files (%s bytes)\n' "$t" "$before" "$after" \
      "$(du -sb --apparent-size "fuzz/corpus/$t" | cut -f1)"
  done
  exit 0
fi

# --- run -----------------------------------------------------------------------------------------------------
failed=0
rows=()
for t in "${targets[@]}"; do
  mkdir -p "$WORK/$t" "fuzz/artifacts/$t"
  before=$(find "fuzz/artifacts/$t" -type f | sort)
  echo "fuzz: $t for ${SECONDS_EACH}s"
  # New inputs go to the first directory (the run's, under target/); the seeds in fuzz/corpus are read only.
  set +e
  "$bin_dir/$t" "$WORK/$t" "fuzz/corpus/$t" \
    -max_total_time="$SECONDS_EACH" -timeout="$TIMEOUT" "${len_flag[@]}" -rss_limit_mb="$RSS_MB" \
    -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$t/" >"$LOGS/$t.log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$LOGS/$t.log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$LOGS/$t.log" | tail -1)
  new=$(comm -13 <(echo "$before") <(find "fuzz/artifacts/$t" -type f | sort) | grep -c . || true)
  status=ok
  if ((rc != 0)) || ((new > 0)); then
    status=CRASH
    failed=1
    echo "fuzz: $t crashed (exit $rc); the end of $LOGS/$t.log:" >&2
    grep -v '^\s*"' "$LOGS/$t.log" | tail -40 >&2
    comm -13 <(echo "$before") <(find "fuzz/artifacts/$t" -type f | sort) | sed 's/^/fuzz: reproducer: /' >&2
  fi
  rows+=("$(printf '%-18s %14s %10s %8s  %s' "$t" "${execs:-?}" "${rate:-?}" "$new" "$status")")
done

echo
printf '%-18s %14s %10s %8s  %s\n' target executions exec/s crashes status
printf '%s\n' "${rows[@]}"
if ((failed)); then
  echo "fuzz: crashes found; reproduce one with $bin_dir/TARGET FILE, fix, and keep the file (make test replays it)" >&2
fi
exit $failed
