#!/usr/bin/env bash
# npm run test:memcheck: pidns-init under valgrind memcheck (test/memcheck/), once for every way
# src-native/init/build.sh can build it on this machine, each built into a scratch folder (the
# build/ that the suite uses is never touched):
#   nolibc          the default on x86-64 and arm64 (no C library)
#   musl            when musl-gcc is installed (Debian: musl-tools)
#   system-dynamic  the system C library, linked dynamically. The shipped fallback (system) is
#                   static-pie, but valgrind cannot follow glibc's static start-up (it sets up the
#                   thread area itself, and valgrind then reports uninitialised values in malloc,
#                   fork and exit that are not the init's); dynamically linked, the same init.c
#                   runs over the same C library code, with valgrind's default suppressions for
#                   the dynamic loader.
# No suppression file is used. Needs valgrind (Debian: valgrind) and root.
#
#   npm run test:memcheck                        # every variant available
#   PIDNS_MEMCHECK_BUILDS="nolibc" npm run test:memcheck
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
command -v valgrind >/dev/null || { echo "valgrind is not installed (Debian: apt-get install valgrind)"; exit 1; }
scratch=$(mktemp -d /tmp/pidns-memcheck.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

builds=${PIDNS_MEMCHECK_BUILDS:-}
if [ -z "$builds" ]; then
  case "$(${CC:-cc} -dumpmachine)" in x86_64-* | aarch64-*) builds="nolibc" ;; esac
  if command -v musl-gcc >/dev/null; then builds="$builds musl"; else echo "== musl: skipped, musl-gcc is not installed"; fi
  builds="$builds system-dynamic"
fi

status=0
for build in $builds; do
  echo "== $build"
  init="$scratch/$build/pidns-init"
  PIDNS_INIT_BUILD=$build sh "$here/src-native/init/build.sh" "$init"
  PIDNS_MEMCHECK_INIT=$init PIDNS_MEMCHECK_BUILD=$build \
    npx --prefix "$here" jest --ci --config "$here/test/memcheck/jest.config.js" || status=1
done
exit $status
