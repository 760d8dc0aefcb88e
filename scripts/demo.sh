#!/usr/bin/env bash
# The hoist demo: a real distribution registry with TLS and a password on 127.0.0.1, a credential stored with
# docker-credential-file, and skopeo and podman using it through "credHelpers" (and Docker through "credsStore",
# when /usr/sbin/dockerd is installed: a private engine started and stopped here). Everything lives in a temp
# dir and every process started here is stopped on exit. Run it with `make demo` (which builds first).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN="$ROOT/target/release"
[ -x "$BIN/docker-credential-file" ] || { echo "demo: build first (make build)" >&2; exit 1; }
export PATH="$BIN:$PATH"

WORK=$(mktemp -d /tmp/hoist-demo.XXXXXX)
REG_PID=""
DOCKERD_PID=""
DOCKER_DIR=""
stop_dockerd() {
  [ -n "$DOCKERD_PID" ] && kill "$DOCKERD_PID" 2>/dev/null && wait "$DOCKERD_PID" 2>/dev/null || true
  DOCKERD_PID=""
  [ -n "$DOCKER_DIR" ] && rm -rf "$DOCKER_DIR"
  DOCKER_DIR=""
}
cleanup() {
  stop_dockerd
  [ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null && wait "$REG_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

# A free port: try random ones until nothing answers.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=$((20000 + RANDOM % 20000))
until port_free "$PORT"; do PORT=$((20000 + RANDOM % 20000)); done
HOST="127.0.0.1:$PORT"
USER=demo
PASS="demo-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"

say "Starting a distribution registry with TLS and htpasswd on $HOST"
mkdir -p "$WORK/certs" "$WORK/ca"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -keyout "$WORK/certs/domain.key" -out "$WORK/certs/domain.crt" 2>/dev/null
cp "$WORK/certs/domain.crt" "$WORK/ca/ca.crt"
htpasswd -Bbn "$USER" "$PASS" > "$WORK/htpasswd"
cat > "$WORK/registry.yml" <<YAML
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: $WORK/data}
  delete: {enabled: true}
http:
  addr: $HOST
  tls: {certificate: $WORK/certs/domain.crt, key: $WORK/certs/domain.key}
auth:
  htpasswd: {realm: basic-realm, path: $WORK/htpasswd}
YAML
docker-registry serve "$WORK/registry.yml" > "$WORK/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 100); do port_free "$PORT" || break; sleep 0.1; done
port_free "$PORT" && { cat "$WORK/registry.log"; echo "demo: the registry did not start" >&2; exit 1; }
echo "registry running (pid $REG_PID)"

say "Making a one-layer OCI image without network and pushing it"
LAYOUT="$WORK/layout"
mkdir -p "$LAYOUT/blobs/sha256" "$WORK/rootfs"
echo "hello from hoist" > "$WORK/rootfs/hello.txt"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$WORK/rootfs" -cf "$WORK/layer.tar" .
DIFF_ID=$(sha256sum "$WORK/layer.tar" | cut -d' ' -f1)
gzip -n -c "$WORK/layer.tar" > "$WORK/layer.tar.gz"
blob() { local d; d=$(sha256sum "$1" | cut -d' ' -f1); cp "$1" "$LAYOUT/blobs/sha256/$d"; echo "$d"; }
LAYER=$(blob "$WORK/layer.tar.gz"); LAYER_SIZE=$(stat -c %s "$WORK/layer.tar.gz")
printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$DIFF_ID" > "$WORK/config.json"
CONFIG=$(blob "$WORK/config.json"); CONFIG_SIZE=$(stat -c %s "$WORK/config.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
  "$CONFIG" "$CONFIG_SIZE" "$LAYER" "$LAYER_SIZE" > "$WORK/manifest.json"
MANIFEST=$(blob "$WORK/manifest.json"); MANIFEST_SIZE=$(stat -c %s "$WORK/manifest.json")
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"v1"}}]}' \
  "$MANIFEST" "$MANIFEST_SIZE" > "$LAYOUT/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' > "$LAYOUT/oci-layout"
echo '{"default":[{"type":"insecureAcceptAnything"}]}' > "$WORK/policy.json"
skopeo copy -q --policy "$WORK/policy.json" --dest-cert-dir "$WORK/ca" --dest-creds "$USER:$PASS" \
  "oci:$LAYOUT:v1" "docker://$HOST/demo/hello:v1"
echo "pushed docker://$HOST/demo/hello:v1 (sha256:$MANIFEST)"

say "Storing the credential with docker-credential-file"
export HOIST_CREDENTIALS_FILE="$WORK/hoist/credentials.json"
printf '{"ServerURL":"%s","Username":"%s","Secret":"%s"}' "$HOST" "$USER" "$PASS" | docker-credential-file store
echo "stored (the secret went in on stdin, never on a command line)"
show docker-credential-file list
show ls -ld "$WORK/hoist"
show ls -l "$HOIST_CREDENTIALS_FILE"

say "Pointing an auth file at the helper"
printf '{"credHelpers": {"%s": "file"}}\n' "$HOST" > "$WORK/auth.json"
show cat "$WORK/auth.json"

say "skopeo reads the image with that credential"
show skopeo inspect --authfile "$WORK/auth.json" --cert-dir "$WORK/ca" --format '{{.Name}} {{.Digest}}' "docker://$HOST/demo/hello:v1"
show skopeo list-tags --authfile "$WORK/auth.json" --cert-dir "$WORK/ca" "docker://$HOST/demo/hello"

say "Erasing it: the registry refuses again"
printf '%s' "$HOST" | docker-credential-file erase
show docker-credential-file list
if skopeo inspect --authfile "$WORK/auth.json" --cert-dir "$WORK/ca" "docker://$HOST/demo/hello:v1" >/dev/null 2>"$WORK/err"; then
  echo "demo: expected the registry to refuse" >&2; exit 1
fi
echo "skopeo: $(grep -o "unauthorized[^\"]*" "$WORK/err" | head -1)"

if [ -x /usr/sbin/dockerd ] && [ -x /usr/bin/docker ]; then
  say "Docker: docker login stores through docker-credential-file (credsStore), in a private engine"
  # Its own socket, data root and config (never the system's daemon or /etc/docker); a short path for the
  # sockets. 127.0.0.1 registries are insecure to Docker, so the test CA is not needed.
  DOCKER_DIR=$(mktemp -d /tmp/hd-demo.XXXXXX)
  echo '{}' > "$DOCKER_DIR/daemon.json"
  /usr/sbin/dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs \
    --data-root "$DOCKER_DIR/root" --exec-root "$DOCKER_DIR/exec" --pidfile "$DOCKER_DIR/pid" \
    --config-file "$DOCKER_DIR/daemon.json" -H "unix://$DOCKER_DIR/docker.sock" > "$DOCKER_DIR/log" 2>&1 &
  DOCKERD_PID=$!
  docker() { DOCKER_HOST="unix://$DOCKER_DIR/docker.sock" DOCKER_CONFIG="$WORK/docker" /usr/bin/docker "$@"; }
  for _ in $(seq 300); do docker version >/dev/null 2>&1 && break; sleep 0.1; done
  docker version >/dev/null 2>&1 || { cat "$DOCKER_DIR/log"; echo "demo: dockerd did not start" >&2; exit 1; }
  echo "dockerd running (pid $DOCKERD_PID)"
  mkdir -p "$WORK/docker"
  echo '{"credsStore": "file"}' > "$WORK/docker/config.json"
  printf '%s' "$PASS" | show docker login -u "$USER" --password-stdin "$HOST"
  show docker-credential-file list
  show cat "$WORK/docker/config.json"; echo
  show docker pull -q "$HOST/demo/hello:v1"
  # The docker-daemon: transport: the engine's image read out by hoist, streamed, and proven whole.
  show hoist copy -q --src-daemon-host "unix://$DOCKER_DIR/docker.sock" "docker-daemon:$HOST/demo/hello:v1" \
    "oci-archive:$WORK/from-docker.tar"
  show hoist verify "$WORK/from-docker.tar"
  show docker logout "$HOST"
  show docker-credential-file list
  unset -f docker
  stop_dockerd
  echo "dockerd stopped"
fi

say "hoist login verifies the password with the registry, then stores it where podman would"
export CONTAINERS_REGISTRIES_CONF="$WORK/registries.conf" CONTAINERS_REGISTRIES_CONF_DIR="$WORK/registries.conf.d"
mkdir -p "$CONTAINERS_REGISTRIES_CONF_DIR"
printf 'unqualified-search-registries = ["%s", "docker.io"]\n[[registry]]\nlocation = "evil.example"\nblocked = true\n' "$HOST" > "$CONTAINERS_REGISTRIES_CONF"
echo "wrong-password" | hoist login --authfile "$WORK/auth2.json" --cert-dir "$WORK/ca" -u "$USER" --password-stdin "$HOST" || echo "(refused, nothing stored)"
printf '%s' "$PASS" | hoist login --authfile "$WORK/auth2.json" --cert-dir "$WORK/ca" -u "$USER" --password-stdin "$HOST"
show hoist creds list --authfile "$WORK/auth2.json"
show skopeo inspect --authfile "$WORK/auth2.json" --cert-dir "$WORK/ca" --format '{{.Digest}}' "docker://$HOST/demo/hello:v1"

say "hoist pull: from the registry into hoist's local store (an OCI layout), credentials from that login"
export HOIST_STORE="$WORK/store"
AUTH=(--authfile "$WORK/auth2.json" --cert-dir "$WORK/ca")
show hoist pull "${AUTH[@]}" "$HOST/demo/hello:v1"
show hoist images
show hoist inspect "$HOST/demo/hello:v1" --config

say "hoist inspect: podman's image inspect, with Go templates as podman's --format"
ID=$(hoist inspect --format '{{.Id}}' "$HOST/demo/hello:v1")
echo "\$ ID=\$(hoist inspect --format '{{.Id}}' $HOST/demo/hello:v1)   # $ID"
show hoist inspect --format '{{.Digest}} {{.Os}}/{{.Architecture}} {{len .RootFS.Layers}} layer(s) {{.RepoTags}}' "$ID"

say "hoist push: back to the registry under a new name; only what the registry lacks is sent"
show hoist tag "$HOST/demo/hello:v1" "$HOST/demo/copy:v2"
show hoist push "${AUTH[@]}" "$HOST/demo/copy:v2"
show skopeo inspect --authfile "$WORK/auth2.json" --cert-dir "$WORK/ca" --format '{{.Name}} {{.Digest}}' "docker://$HOST/demo/copy:v2"
show hoist copy --authfile "$WORK/auth2.json" --src-cert-dir "$WORK/ca" --dest-cert-dir "$WORK/ca" \
  "docker://$HOST/demo/hello:v1" "docker://$HOST/demo/third:v1"
show hoist list-tags "${AUTH[@]}" "$HOST/demo/copy"

say "hoist build: a Dockerfile without RUN, no container runtime; --push sends only the new layers"
mkdir -p "$WORK/site"
printf '<h1>hello from hoist build</h1>\n' > "$WORK/site/index.html"
printf 'FROM %s/demo/hello:v1\nVOLUME /site-data\nWORKDIR /usr/src/app\nEXPOSE 80\nCOPY index.html /usr/src/app/\n' "$HOST" > "$WORK/site/Dockerfile"
show cat "$WORK/site/Dockerfile"
show hoist build -q "${AUTH[@]}" -t "$HOST/demo/site:1" --push "$WORK/site"
show skopeo inspect --authfile "$WORK/auth2.json" --cert-dir "$WORK/ca" --format '{{.Name}} {{.Digest}} {{len .Layers}} layers' "docker://$HOST/demo/site:1"

say "hoist save / verify / load: a backup podman and skopeo read, proven whole before it is needed"
show hoist save -q -o "$WORK/site.tar" "$HOST/demo/site:1"
show hoist verify "$WORK/site.tar"
show skopeo inspect --format '{{.Digest}} {{.Architecture}}' "docker-archive:$WORK/site.tar"
show hoist rmi "$HOST/demo/site:1"
show hoist load -i "$WORK/site.tar"
show hoist save -q --format docker-dir --compress -o "$WORK/site-dir" "$HOST/demo/site:1"
show ls "$WORK/site-dir"

say "Conversions and mirrors: layers pushed as zstd, an image built as Docker schema 2; hoist sync copies only what changed"
show hoist push "${AUTH[@]}" --compression-format zstd "$HOST/demo/site:1" "$HOST/demo/site-zstd:1"
echo "\$ skopeo inspect --raw docker://$HOST/demo/site-zstd:1 | grep -o 'layer.v1.tar+zstd' | sort | uniq -c"
skopeo inspect --authfile "$WORK/auth2.json" --cert-dir "$WORK/ca" --raw "docker://$HOST/demo/site-zstd:1" |
  grep -o 'layer.v1.tar+zstd' | sort | uniq -c
show hoist build -q "${AUTH[@]}" --format docker -t "$HOST/demo/site:docker" --push "$WORK/site"
echo "\$ skopeo inspect --raw docker://$HOST/demo/site:docker | grep -o 'application/vnd.docker[a-z.]*manifest[a-z0-9.+]*'"
skopeo inspect --authfile "$WORK/auth2.json" --cert-dir "$WORK/ca" --raw "docker://$HOST/demo/site:docker" |
  grep -o 'application/vnd.docker[a-z.]*manifest[a-z0-9.+]*'
SYNC=(--authfile "$WORK/auth2.json" --src-cert-dir "$WORK/ca" --dest-cert-dir "$WORK/ca")
show hoist sync "${SYNC[@]}" --src docker --dest docker "$HOST/demo/copy" "$HOST/mirror"
show hoist sync "${SYNC[@]}" --src docker --dest docker "$HOST/demo/copy" "$HOST/mirror"

show hoist rmi "$HOST/demo/hello:v1" "$HOST/demo/copy:v2" "$HOST/demo/site:1" "$HOST/demo/site:docker"
show hoist images

say "Image trust: a sigstore key signs what is pushed; a policy then accepts only what that key signed"
# Everything here stays in $WORK: the key, its passphrase file, the policy (--signature-policy) and the
# registries.d (--registries.d) that keeps signatures as sigstore attachments in the registry.
printf 'demo key passphrase\n' > "$WORK/key.pass"
chmod 600 "$WORK/key.pass"
show hoist generate-sigstore-key --output-prefix "$WORK/demo-key" --passphrase-file "$WORK/key.pass"
mkdir -p "$WORK/registries.d"
cat > "$WORK/registries.d/demo.yaml" <<YAML
docker:
  $HOST:
    lookaside: file://$WORK/sigstore
    use-sigstore-attachments: true
YAML
cat > "$WORK/trust-policy.json" <<JSON
{
  "default": [{"type": "insecureAcceptAnything"}],
  "transports": {
    "docker": {
      "$HOST/demo": [{"type": "sigstoreSigned", "keyPath": "$WORK/demo-key.pub"}]
    }
  }
}
JSON
TRUST=(--signature-policy "$WORK/trust-policy.json" --registries.d "$WORK/registries.d")
show hoist trust show --policypath "$WORK/trust-policy.json" --registrypath "$WORK/registries.d"
show hoist pull -q "${AUTH[@]}" --insecure-policy "$HOST/demo/hello:v1"
show hoist push -q "${AUTH[@]}" "${TRUST[@]}" --sign-by-sigstore-private-key "$WORK/demo-key.private" \
  --sign-passphrase-file "$WORK/key.pass" "$HOST/demo/hello:v1" "$HOST/demo/signed:v1"
show hoist push -q "${AUTH[@]}" "${TRUST[@]}" "$HOST/demo/hello:v1" "$HOST/demo/unsigned:v1"
show hoist rmi "$HOST/demo/hello:v1"
show hoist trust check "${AUTH[@]}" "${TRUST[@]}" "$HOST/demo/signed:v1"
show hoist pull "${AUTH[@]}" "${TRUST[@]}" "$HOST/demo/signed:v1"
printf '$ %s\n' "hoist pull ${AUTH[*]} ${TRUST[*]} $HOST/demo/unsigned:v1"
if hoist pull "${AUTH[@]}" "${TRUST[@]}" "$HOST/demo/unsigned:v1" 2>"$WORK/err"; then
  echo "demo: expected the policy to refuse the unsigned image" >&2; exit 1
fi
cat "$WORK/err"
show hoist images
show hoist rmi "$HOST/demo/signed:v1"

say "Moving the password out of auth.json into docker-credential-file"
show hoist creds migrate --authfile "$WORK/auth2.json" --to file
show cat "$WORK/auth2.json"
show skopeo inspect --authfile "$WORK/auth2.json" --cert-dir "$WORK/ca" --format '{{.Digest}}' "docker://$HOST/demo/hello:v1"
show hoist logout --authfile "$WORK/auth2.json" "$HOST"

say "Why does a short name pull from where it does?"
show hoist resolve demo/hello
show hoist resolve evil.example/tool

say "Done: registry stopped, $WORK removed"
