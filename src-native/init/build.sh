#!/bin/sh
# Builds pidns-init: build.sh OUTPUT [sanitize]
#
# The init is started for every namespace, so its start-up time is part of every spawn. A static
# musl build starts in a fraction of the time of a glibc one (no dynamic loader, no CPU feature
# probing) and is a sixteenth of the size; glibc (static-pie, else dynamic) is the fallback when
# musl-gcc is not installed (Debian: musl-tools). With sanitize=1 it is built with ASan/UBSan.
set -eu
out=$1
sanitize=${2:-0}
here=$(dirname "$0")
warn="-Wall -Wextra -Werror=implicit-function-declaration"
mkdir -p "$(dirname "$out")"

if [ "$sanitize" = 1 ]; then
  exec ${CC:-cc} $warn -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
    -o "$out" "$here/init.c"
fi
if command -v musl-gcc >/dev/null 2>&1 && musl-gcc $warn -D_GNU_SOURCE -Os -static -s -o "$out" "$here/init.c" 2>/dev/null; then
  exit 0
fi
${CC:-cc} $warn -D_GNU_SOURCE -Os -fPIE -static-pie -s -o "$out" "$here/init.c" 2>/dev/null ||
  exec ${CC:-cc} $warn -D_GNU_SOURCE -Os -s -o "$out" "$here/init.c"
