#!/usr/bin/env bash
# Installs the Debian packages hoist's demo and tests run against (real registry, Secret Service, Go helpers,
# podman, skopeo, pass, Docker's engine for tests that start their own dockerd). Idempotent; about 35 s on a fresh machine. Needs root or sudo.
set -euo pipefail

PACKAGES=(
  docker-registry skopeo podman buildah docker.io
  golang-docker-credential-helpers gnome-keyring dbus-daemon dbus-bin libsecret-tools
  pass gnupg python3-cryptography python3-nacl apache2-utils openssl curl ca-certificates make gcc util-linux bsdutils
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "setup: all ${#PACKAGES[@]} packages already installed"
else
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null; then
  echo "setup: cargo is not installed; install a Rust toolchain (1.89 or newer), e.g. Debian's cargo package or rustup" >&2
  exit 1
fi
