# hoist: build, test, demo, install. See README.md.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
CARGO ?= cargo
HELPERS := docker-credential-file docker-credential-keyring docker-credential-vault

.PHONY: all build lint test bench demo setup install uninstall clean fuzz

all: build

build:
	$(CARGO) build --release --workspace --bins

# Formatting, clippy with warnings as errors, and the project's shape (scripts/check-structure.sh).
lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	scripts/check-structure.sh

# The end-to-end tests run our binaries as real clients do, so build them first; the second build is
# docker-credential-keyring's macOS/Windows backend, compiled for Linux so its tests run here.
test: setup lint
	$(CARGO) build --workspace --bins
	RUSTFLAGS="--cfg hoist_native_keyring" $(CARGO) build -p docker-credential-keyring --target-dir target/native
	$(CARGO) test --manifest-path fuzz/Cargo.toml --target-dir target
	scripts/run-tests.sh

# Speed targets as ratios against the Go helpers, skopeo and podman, measured in the same run (release builds;
# docs/performance.md). BENCH_RUNS and BENCH_BIG=0 shorten the image rows.
bench:
	$(CARGO) build --release --workspace --bins
	rc=0; target/release/helper-bench || rc=1; target/release/image-bench || rc=1; exit $$rc

setup:
	scripts/setup-debian.sh

# Coverage-guided fuzzing of every parser of untrusted input (docs/security.md, "Fuzzing"): each target for
# FUZZ_SECONDS; FUZZ_TARGETS picks some. Installs g++ and cargo-fuzz when missing; exits non-zero on a crash,
# whose reproducer is left in fuzz/artifacts/ (which `make test` replays, with the corpus, without fuzz tooling).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh $(FUZZ_TARGETS)

# Installs the system packages, builds, and walks through the workflow against a real local registry.
demo: setup build
	scripts/demo.sh

MANDIR ?= $(PREFIX)/share/man/man1
COMPDIR_BASH ?= $(PREFIX)/share/bash-completion/completions
COMPDIR_ZSH ?= $(PREFIX)/share/zsh/site-functions
COMPDIR_FISH ?= $(PREFIX)/share/fish/vendor_completions.d

install: build
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR) $(DESTDIR)$(COMPDIR_BASH) $(DESTDIR)$(COMPDIR_ZSH) $(DESTDIR)$(COMPDIR_FISH)
	for b in hoist $(HELPERS); do install -m 0755 target/release/$$b $(DESTDIR)$(BINDIR)/$$b; done
	target/release/hoist generate-man $(DESTDIR)$(MANDIR)
	target/release/hoist completion bash > $(DESTDIR)$(COMPDIR_BASH)/hoist
	target/release/hoist completion zsh > $(DESTDIR)$(COMPDIR_ZSH)/_hoist
	target/release/hoist completion fish > $(DESTDIR)$(COMPDIR_FISH)/hoist.fish

uninstall:
	for b in hoist $(HELPERS); do rm -f $(DESTDIR)$(BINDIR)/$$b; done
	rm -f $(DESTDIR)$(MANDIR)/hoist*.1 $(DESTDIR)$(COMPDIR_BASH)/hoist $(DESTDIR)$(COMPDIR_ZSH)/_hoist $(DESTDIR)$(COMPDIR_FISH)/hoist.fish

clean:
	$(CARGO) clean
