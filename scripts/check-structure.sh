#!/usr/bin/env bash
# The shape the project holds to (docs/architecture.md), checked on every `make test`:
# - no crate depends on a credential helper's crate, and hoist-core has none in its tree;
# - the library never prints: no print!/println!/eprint!/eprintln!/dbg! in hoist-core (core/src/; the CLI is
#   its own package, cli/);
# - the library does not compile the CLI's crates: no clap, clap_complete, clap_mangen or indicatif in
#   hoist-core's normal dependencies, and hoist-core never depends on the CLI package;
# - settings are values, not the environment: no std::env::set_var/remove_var outside tests (the CLI builds
#   hoist_core::ops::Settings once; the library reads its variables in Settings::from_env only).
# - the CLI's printer (cli/src/printer.rs) is its only writer to stdout and stderr: no print macro, no
#   std::io::stdout()/stderr() and no indicatif draw target anywhere else in cli/src/.
# - the CLI never opens the store or reaches into its transport: no hoist_core::store or
#   hoist_core::transport::store in cli/src/ (the library's ops:: calls own the store).
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
for helper in docker-credential-file docker-credential-keyring docker-credential-vault; do
  tree=$(cargo tree --offline --workspace -e normal,build,dev -i "$helper" --prefix none)
  users=$(sed 's/ (.*//; s/ v[0-9].*//' <<<"$tree" | sort -u | grep -vx "$helper" || true)
  if [ -n "$users" ]; then
    echo "check-structure: $helper is depended on by: $users (no crate may depend on a helper's crate)" >&2
    fail=1
  fi
done
core_tree=$(cargo tree --offline -p hoist-core -e normal --prefix none)
if grep -q '^docker-credential-' <<<"$core_tree"; then
  echo "check-structure: hoist-core's dependency tree holds a helper crate" >&2
  fail=1
fi
for cli_crate in clap clap_complete clap_mangen indicatif hoist; do
  if grep -qE "^$cli_crate v" <<<"$core_tree"; then
    echo "check-structure: hoist-core depends on $cli_crate (the CLI's crates belong to cli/)" >&2
    fail=1
  fi
done
if prints=$(grep -rnE '\b(e?println|e?print|dbg)!\(' core/src --include='*.rs'); then
  echo "check-structure: the library prints (route it through hoist_core::observe or return it):" >&2
  echo "$prints" >&2
  fail=1
fi
# Test code (tests/, fuzz/, files named tests.rs, a module after #[cfg(test)]) may change its own environment.
setters=$(find core/src cli/src fs helpers -name '*.rs' ! -name 'tests.rs' ! -path '*/tests/*' -print0 |
  xargs -0 awk '/#\[cfg\(test\)\]/ { nextfile } /(set_var|remove_var)[[:space:]]*\(/ { print FILENAME ":" FNR ": " $0 }')
if [ -n "$setters" ]; then
  echo "check-structure: the process environment is changed outside tests (pass a value: hoist_core::ops::Settings):" >&2
  echo "$setters" >&2
  fail=1
fi
if writes=$(grep -rnE '\b(e?println|e?print|dbg)!\(|io::(stdout|stderr)\(|ProgressDrawTarget::' cli/src --include='*.rs' \
    | grep -v '^cli/src/printer\.rs:'); then
  echo "check-structure: the CLI writes around its printer (write through cli/src/printer.rs):" >&2
  echo "$writes" >&2
  fail=1
fi
if internals=$(grep -rnE 'hoist_core::(store|transport::store)\b' cli/src --include='*.rs'); then
  echo "check-structure: the CLI opens the store itself (call hoist_core::ops):" >&2
  echo "$internals" >&2
  fail=1
fi
exit $fail
