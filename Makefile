# hoist: build, test, demo, install. See README.md.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
CARGO ?= cargo
HELPERS := docker-credential-file docker-credential-keyring docker-credential-vault

.PHONY: all build test bench demo setup install uninstall clean

all: build

build:
	$(CARGO) build --release --workspace --bins

# The end-to-end tests run our binaries as real clients do, so build them first; the second build is
# docker-credential-keyring's macOS/Windows backend, compiled for Linux so its tests run here.
test:
	$(CARGO) build --workspace --bins
	RUSTFLAGS="--cfg hoist_native_keyring" $(CARGO) build -p docker-credential-keyring --target-dir target/native
	scripts/run-tests.sh

# Speed targets as ratios against the Go helpers, measured in the same run (release builds).
bench:
	$(CARGO) build --release --workspace --bins
	target/release/helper-bench

setup:
	scripts/setup-debian.sh

# Installs the system packages, builds, and walks through the workflow against a real local registry.
demo: setup build
	scripts/demo.sh

install: build
	install -d $(DESTDIR)$(BINDIR)
	for b in $(HELPERS); do install -m 0755 target/release/$$b $(DESTDIR)$(BINDIR)/$$b; done

uninstall:
	for b in $(HELPERS); do rm -f $(DESTDIR)$(BINDIR)/$$b; done

clean:
	$(CARGO) clean
