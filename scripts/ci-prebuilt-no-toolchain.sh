#!/usr/bin/env bash
# The issue "npm install with no compiler", on this machine (linux-x64): the packed tarball
# installed where no C or C++ compiler, make or python3 can be found, as on a newcomer's laptop or
# in a slim image, and the library used there. In a mount namespace of its own (unshare -m), so
# that nothing outside sees it, /usr/bin (which /bin leads to) is covered by an overlay of itself
# in which every compiler driver, make and python are deleted; a pyenv's folder is covered by an
# empty one, and PATH is the system's folders alone. Inside:
#   - the toolchain is shown to be gone: `command -v` finds none of gcc, g++, cc, c++, make,
#     python3, python, and no folder on PATH holds anything of the kind (a versioned or triplet
#     name: g++-12, x86_64-linux-gnu-gcc, python3.11);
#   - `npm install --build-from-source` of the tarball fails: a build would have failed here, so
#     the install below cannot have built anything;
#   - `npm install` of the tarball into a new project uses the prebuilt files, and there the
#     library spawns under the init in a new PID namespace (the command pid 2, the init pid 1, the
#     exit status back), without the init (init: false), and runs a pod of two members
#     (test/container/fixtures/prebuilt-consumer.js); the bin pidns-init is the prebuilt init.
# Needs root (the mounts, the namespaces). Exits non-zero at the first thing that fails.
#   scripts/ci-prebuilt-no-toolchain.sh [TARBALL]   (without one: npm pack)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
fail() { echo "fail: ci-prebuilt-no-toolchain: $*" >&2; exit 1; }

# What counts as a toolchain in a folder's listing (extended regular expressions, on the name):
# every C or C++ compiler driver under any versioned or triplet name, make, and any python, which
# node-gyp runs gyp with.
TOOLCHAIN='gcc|g\+\+|clang|tcc|^cc$|^c\+\+|^c89|^c99|^cpp(-[0-9.]+)?$|^(g|c|b)?make$|python'

inside() {
  local scratch=$1 tarball=$2
  local layer=$scratch/layer
  mkdir "$layer"
  # The overlay's upper layer on a tmpfs: the deletions are whiteouts there, and /usr/bin itself is
  # never written. The mounts end with this mount namespace.
  mount -t tmpfs tmpfs "$layer"
  mkdir "$layer/upper" "$layer/work" "$layer/usr-bin"
  mount -t overlay overlay -o "lowerdir=/usr/bin,upperdir=$layer/upper,workdir=$layer/work" "$layer/usr-bin"
  local removed
  removed=$(ls "$layer/usr-bin" | grep -E "$TOOLCHAIN" || true)
  (cd "$layer/usr-bin" && rm -f -- $removed)
  mount --bind "$layer/usr-bin" /usr/bin
  echo "deleted from /usr/bin: $(echo $removed | wc -w) names: $(echo $removed)"
  # pyenv puts its shims first on PATH, and they run a real python3 of its own.
  local pyenv=${PYENV_ROOT:-$HOME/.pyenv}
  if [ -d "$pyenv" ]; then mount -t tmpfs -o ro tmpfs "$pyenv"; echo "covered $pyenv with an empty folder"; fi
  export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  # What node-gyp would take a compiler or a python from, besides PATH.
  unset CC CXX LINK AR PYTHON NODE_GYP_FORCE_PYTHON npm_config_python npm_config_node_gyp PYENV_ROOT PYENV_VERSION

  echo "== the toolchain is gone"
  local tool folder found
  for tool in gcc g++ cc c++ make python3 python; do
    ! found=$(command -v "$tool") || fail "$tool is still found: $found"
  done
  for folder in ${PATH//:/ }; do
    [ -d "$folder" ] || continue
    found=$(ls "$folder" | grep -E "$TOOLCHAIN" || true)
    [ -z "$found" ] || fail "$folder still holds: $(echo $found)"
  done
  echo "ok: command -v finds none of gcc g++ cc c++ make python3 python; PATH=$PATH holds nothing matching /$TOOLCHAIN/"

  local allow="\"allowScripts\": { \"file:$tarball\": true }"
  echo "== npm install --build-from-source fails here"
  local source_project=$scratch/from-source status=0
  mkdir "$source_project"
  echo "{ \"name\": \"from-source\", \"version\": \"1.0.0\", \"private\": true, $allow }" >"$source_project/package.json"
  (cd "$source_project" && npm install --no-audit --no-fund --foreground-scripts --build-from-source "$tarball") >"$scratch/source.log" 2>&1 || status=$?
  [ "$status" != 0 ] || fail "npm install --build-from-source succeeded without a toolchain: this check could not catch a build"
  grep -qx 'pidns: building from source: a build from source was asked for (--build-from-source)' "$scratch/source.log" ||
    { tail -n 20 "$scratch/source.log" >&2; fail "the install script did not try to build"; }
  echo "ok: exit $status: $(grep -m1 -E 'Could not find any Python|gyp ERR! stack Error|not found|cannot run' "$scratch/source.log" || tail -n 1 "$scratch/source.log")"

  echo "== npm install of the tarball into a new project"
  local project=$scratch/project t0 install_ms
  mkdir "$project"
  echo "{ \"name\": \"no-toolchain\", \"version\": \"1.0.0\", \"private\": true, $allow }" >"$project/package.json"
  t0=$(date +%s%N)
  (cd "$project" && npm install --no-audit --no-fund --foreground-scripts "$tarball") >"$scratch/install.log" 2>&1 ||
    { cat "$scratch/install.log" >&2; fail "npm install failed"; }
  install_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  grep -qx 'pidns: using the prebuilt addon and init for linux-x64' "$scratch/install.log" ||
    { cat "$scratch/install.log" >&2; fail "the install script did not use the prebuilt files"; }
  [ ! -e "$project/node_modules/pidns/build" ] || fail "something was built"
  echo "ok: the prebuilt files, in $install_ms ms"

  echo "== the library"
  cp "$here/test/container/fixtures/prebuilt-consumer.js" "$project/"
  (cd "$project" && node prebuilt-consumer.js loaded spawn raw pod)

  echo "== the bin pidns-init"
  cmp -s "$project/node_modules/.bin/pidns-init" "$project/node_modules/pidns/prebuilds/linux-x64/pidns-init" ||
    fail "node_modules/.bin/pidns-init is not the prebuilt init"
  status=0; "$project/node_modules/.bin/pidns-init" -- sh -c 'exit 7' || status=$?
  [ "$status" = 7 ] || fail "pidns-init -- sh -c 'exit 7' exited $status"
  echo "ok: the prebuilt init; exit 7 back"
}

if [ "${1:-}" = --inside ]; then
  inside "$2" "$3"
  exit 0
fi

[ "$(id -u)" = 0 ] || fail "needs root (the mounts and the namespaces)"
[ "$(uname -m)" = x86_64 ] || fail "checks linux-x64 (this machine is $(uname -m))"
started=$(date +%s)
scratch=$(mktemp -d /tmp/pidns-no-toolchain.XXXXXX)
# The mounts are gone with the namespace, before this runs.
trap 'rm -rf "$scratch"' EXIT
# shellcheck source=scripts/ci-tarball.sh
. "$here/scripts/ci-tarball.sh"
use_tarball "$scratch" "${1:-}"
unshare --mount --propagation private "$BASH" "$0" --inside "$scratch" "$tarball"
echo "ci-prebuilt-no-toolchain: all checks passed in $(( $(date +%s) - started )) s"
