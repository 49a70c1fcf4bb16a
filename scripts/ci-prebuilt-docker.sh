#!/usr/bin/env bash
# The README's Dockerfile, with the packed tarball and an image that has no compiler: `npm ci` of an
# app that depends on pidns, inside the pidns-test image (scripts/container-image.sh: Debian with
# the official Node 20, no npm, no make, no python3, no C or C++ compiler), then containers of the
# image that install makes:
#   - ENTRYPOINT ["/app/node_modules/.bin/pidns-init", "--", "node", "server.js"], a Node HTTP
#     server with no SIGTERM handler: pidns-init is pid 1, the server its child, and `docker stop` ends
#     the container at once with exit 143 (SIGTERM), where the server alone as pid 1 would ignore
#     the signal until Docker killed it after 10 s (137);
#   - the library in a default container (no --cap-add), which refuses new namespaces:
#     newNamespace: false works, a new namespace is refused with EPERM
#     (test/container/fixtures/prebuilt-consumer.js).
#
# Every container runs with --network none, so npm cannot reach a registry inside. The app's
# package-lock.json is made on the host, where the registry is, by `npm install` with a cache of
# its own; that cache, which then holds exactly the packages of the lock file (pidns's own
# dependencies, bindings and node-addon-api, and theirs), is bind-mounted as npm's cache and
# `npm ci --offline` installs from it: what a Docker build with a cache mount for ~/.npm does. npm
# is the host's own (the folder that `npm` runs from), bind-mounted read-only and run by the
# image's Node; it is not in the image that the install makes (`docker commit` keeps no bind
# mount). Nothing is pushed or pulled: the image is committed locally and removed at the end.
#
# Needs root, a Docker daemon (scripts/docker-daemon.sh start) and npm. Exits non-zero at the first
# thing that fails.
#   scripts/ci-prebuilt-docker.sh [TARBALL]   (without one: npm pack)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
fail() { echo "fail: ci-prebuilt-docker: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (docker)"
[ "$(uname -m)" = x86_64 ] || fail "checks linux-x64 (this machine is $(uname -m))"
timeout 15 docker info >/dev/null 2>&1 || fail "no Docker daemon answers (scripts/docker-daemon.sh start)"
started=$(date +%s)

scratch=$(mktemp -d /tmp/pidns-prebuilt-docker.XXXXXX)
tag=$(basename "$scratch" | tr 'A-Z.' 'a-z-')
app_image=pidns-prebuilt-app:$tag
containers=()
cleanup() {
  [ ${#containers[@]} -eq 0 ] || docker rm -f "${containers[@]}" >/dev/null 2>&1 || true
  docker image rm -f "$app_image" >/dev/null 2>&1 || true
  rm -rf "$scratch"
}
trap cleanup EXIT

# shellcheck source=scripts/ci-tarball.sh
. "$here/scripts/ci-tarball.sh"
use_tarball "$scratch" "${1:-}"
npm_folder=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
[ -f "$npm_folder/bin/npm-cli.js" ] || fail "no npm-cli.js in $npm_folder"
image=$(bash "$here/scripts/container-image.sh" | tail -n 1)
echo "image $image, npm $(node "$npm_folder/bin/npm-cli.js" --version) from $npm_folder"

echo "== the image has no toolchain and no npm"
found=$(docker run --rm --network none "$image" sh -c 'for tool in gcc g++ cc c++ make python3 python npm; do command -v $tool; done; true')
[ -z "$found" ] || fail "the image has: $found"
echo "ok: command -v finds none of gcc g++ cc c++ make python3 python npm"

echo "== the app's package-lock.json and npm cache, on the host"
app=$scratch/app
mkdir "$app"
cp "$tarball" "$app/pidns.tgz"
cp "$here/test/container/fixtures/prebuilt-server.js" "$app/server.js"
cp "$here/test/container/fixtures/prebuilt-consumer.js" "$app/"
cat >"$app/package.json" <<'EOF'
{
  "name": "app",
  "version": "1.0.0",
  "private": true,
  "dependencies": { "pidns": "file:pidns.tgz" },
  "allowScripts": { "file:pidns.tgz": true }
}
EOF
locking=$scratch/locking
cache=$scratch/npm-cache
mkdir "$locking"
cp "$app/package.json" "$app/pidns.tgz" "$locking/"
# --ignore-scripts: this install only resolves and downloads; the one that counts is in the image.
# The lock file must name each package's tarball (resolved), which a user's npmrc can tell npm to
# leave out (omit-lockfile-registry-resolved): npm ci would then ask the registry where they are.
(cd "$locking" && npm install --cache "$cache" --omit-lockfile-registry-resolved=false --ignore-scripts --no-audit --no-fund) >/dev/null
cp "$locking/package-lock.json" "$app/"
node -e '
  const packages = require(process.argv[1]).packages;
  for (const [where, entry] of Object.entries(packages))
    if (where !== "" && !(entry.resolved && (entry.integrity || entry.resolved.startsWith("file:"))))
      throw new Error(`package-lock.json: ${where} has no resolved URL and integrity`);
  console.log("ok: the lock file pins", Object.keys(packages).filter(Boolean).map((where) => `${where.replace("node_modules/", "")}@${packages[where].version}`).join(", "));
' "$app/package-lock.json"

echo "== npm ci in the image, with no network"
installer=$tag-install
containers+=("$installer")
docker create --network none --name "$installer" -w /app -v "$npm_folder:/opt/npm:ro" -v "$cache:/root/.npm" "$image" \
  node /opt/npm/bin/npm-cli.js ci --offline --omit=dev --no-audit --no-fund --foreground-scripts >/dev/null
# (-w made /app: the folder's contents go into it.)
docker cp "$app/." "$installer:/app"
t0=$(date +%s%N)
docker start -a "$installer" >"$scratch/install.log" 2>&1 || { cat "$scratch/install.log" >&2; fail "npm ci failed in the image"; }
install_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
grep -qx 'pidns: using the prebuilt addon and init for linux-x64' "$scratch/install.log" ||
  { cat "$scratch/install.log" >&2; fail "the install script did not use the prebuilt files"; }
echo "ok: npm ci --offline used the prebuilt files in $install_ms ms (the container's whole run)"
docker commit --change 'WORKDIR /app' --change 'ENTRYPOINT ["/app/node_modules/.bin/pidns-init", "--", "node", "server.js"]' --change 'CMD []' \
  "$installer" "$app_image" >/dev/null
files=$(docker run --rm --network none --entrypoint sh "$app_image" -c \
  'test ! -e node_modules/pidns/build && cmp node_modules/.bin/pidns-init node_modules/pidns/prebuilds/linux-x64/pidns-init && test ! -e /opt/npm/bin && echo same') ||
  fail "in the installed image, node_modules/pidns/build exists, the bin is not the prebuilt init, or npm is there"
[ "$files" = same ] || fail "the installed image: $files"
echo "ok: the image $app_image: nothing built, the bin is the prebuilt init, no npm"

echo "== pidns-init as the ENTRYPOINT, a server with no SIGTERM handler, docker stop"
server=$tag-server
containers+=("$server")
docker run -d --network none --name "$server" "$app_image" >/dev/null
for _ in $(seq 100); do
  docker logs "$server" 2>&1 | grep -q '^listening' && break
  sleep 0.1
done
listening=$(docker logs "$server" 2>&1)
# The server's pid is not 2: the init's own children (its checks at start) have had pids first.
[[ "$listening" =~ ^listening:\ pid\ ([0-9]+),\ parent\ 1$ ]] && [ "${BASH_REMATCH[1]}" != 1 ] || fail "the server said: $listening (state: $(docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$server"))"
# (Its command line: /proc/1/exe cannot be read from a container without CAP_SYS_PTRACE.)
pid1=$(docker exec "$server" sh -c 'tr "\0" " " </proc/1/cmdline; echo; grep ^Name: /proc/1/status') || fail "docker exec could not read /proc/1"
[ "$pid1" = $'/app/node_modules/.bin/pidns-init -- node server.js \nName:\tpidns-init' ] || fail "pid 1 is $pid1"
t0=$(date +%s%N)
docker stop "$server" >/dev/null
stop_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
code=$(docker inspect -f '{{.State.ExitCode}}' "$server")
[ "$code" = 143 ] || fail "exit $code after docker stop, not 143"
# Docker waits 10 s before it kills a container that ignored SIGTERM.
[ "$stop_ms" -lt 5000 ] || fail "docker stop took $stop_ms ms"
echo "ok: pid 1 was the bin pidns-init, the server its child (${listening#listening: }); docker stop: exit 143 in $stop_ms ms"

echo "== the library in a default container: newNamespace: false"
docker run --rm --network none --entrypoint node "$app_image" prebuilt-consumer.js loaded caller ||
  fail "the library failed in the container"

echo "ci-prebuilt-docker: all checks passed in $(( $(date +%s) - started )) s"
