#!/bin/sh
# Builds pidns-init: build.sh OUTPUT [sanitize]
#
# The init is started for every namespace, so its start-up time is part of every spawn. Builds,
# in the order tried:
#   nolibc  the default on x86-64 and arm64: init.c over freestanding/ (system calls made directly,
#           no C library), static. Nothing runs before main: a C library's start-up costs more than
#           the rest of the init (glibc probes the CPU's caches with CPUID, which traps to the
#           hypervisor in a VM: ~300 us per start measured; see BENCHMARKS.md).
#   musl    static with musl-gcc when it is installed (Debian: musl-tools): a short start too.
#   system  the system C library, whichever it is (glibc on Debian, musl on Alpine): static-pie,
#           else dynamic. It builds anywhere.
# A build that fails falls through to the next, with a warning for nolibc. PIDNS_INIT_BUILD=nolibc,
# musl or system forces one (for tests and benchmarks), and fails if it cannot be built;
# system-dynamic is the system C library linked dynamically, which valgrind can follow (the
# memcheck run, scripts/test-memcheck.sh: glibc's static start-up sets up its thread area in a
# way valgrind does not track, and reports uninitialised values in malloc, fork and exit). The
# names libc and libc-dynamic, which these two had before, still work. With sanitize=1 it is the
# system C library build with ASan/UBSan. The last line printed names the build made, starting
# "pidns-init: NAME build" (for system builds, then which C library and how it is linked).
# Every build finds the command the same way (init.c's exec_command, not the C library's execvp).
# `pidns-init --version` names the build too ("pidns-init 0.1.0 (nolibc build, x86_64)"): each
# compile gets the package's version and the build's name as -D definitions (options.c), so that
# `pidns doctor` can say which init it runs.
set -eu
out=$1
sanitize=${2:-0}
here=$(dirname "$0")
warn="-Wall -Wextra -Werror=implicit-function-declaration"

# The version of the package the init is built in: PIDNS_INIT_VERSION when set (a build from a
# copy of src-native/ without the manifest beside it), else package.json's first "version" line,
# which npm writes one key a line, so no JSON parser is needed; "unknown" when neither is there.
version=${PIDNS_INIT_VERSION:-}
if [ -z "$version" ]; then
  version=$(sed -n 's/^ *"version": *"\([^"]*\)".*$/\1/p' "$here/../../package.json" 2>/dev/null | head -n 1)
fi
version=${version:-unknown}
# What each compile passes: the version and the build's name, which --version prints between
# parentheses ("nolibc build", "system build, glibc static-pie"); options.c adds the architecture.
# The quotes make each a C string; build names have no quote or backslash in them.
define_version="-DPIDNS_INIT_VERSION=\"$version\""
build_name() {
  echo "-DPIDNS_INIT_BUILD_NAME=\"$1\""
}
mkdir -p "$(dirname "$out")"

# -fno-tree-loop-distribute-patterns: gcc would turn the loops of memcpy and memset into calls to
# themselves. Not position-independent, so nothing needs relocating at start.
# freestanding/arch.h knows these two.
nolibc_supported() {
  case "$(${CC:-cc} -dumpmachine)" in
    x86_64-*-gnu | x86_64-*-musl | aarch64-*) return 0 ;;
    *) return 1 ;;
  esac
}

build_nolibc() {
  nolibc_supported || { echo "no freestanding build for $(${CC:-cc} -dumpmachine)" >&2; return 1; }
  ${CC:-cc} $warn "$define_version" "$(build_name 'nolibc build')" -DPIDNS_FREESTANDING -Os -static -nostdlib -ffreestanding -fno-stack-protector \
    -fno-pie -no-pie -fno-asynchronous-unwind-tables -fno-tree-loop-distribute-patterns \
    -ffunction-sections -fdata-sections -Wl,--gc-sections -s -o "$out" \
    "$here"/*.c "$here"/freestanding/*.c -lgcc
}

build_musl() {
  command -v musl-gcc >/dev/null 2>&1 || { echo "musl-gcc is not installed (Debian: musl-tools)" >&2; return 1; }
  musl-gcc $warn "$define_version" "$(build_name 'musl build')" -D_GNU_SOURCE -Os -static -s -o "$out" "$here"/*.c
}

# Which C library the compiler links by default, from its target triple.
system_libc() {
  case "$(${CC:-cc} -dumpmachine)" in
    *-musl*) echo musl ;;
    *-gnu*) echo glibc ;;
    *-android*) echo bionic ;;
    *-uclibc*) echo uClibc ;;
    *) echo "an unknown C library ($(${CC:-cc} -dumpmachine))" ;;
  esac
}

linked=
build_system_dynamic() {
  ${CC:-cc} $warn "$define_version" "$(build_name "${1:-system-dynamic} build, $(system_libc) dynamic")" -D_GNU_SOURCE -Os -s -o "$out" "$here"/*.c &&
    linked=dynamic
}

build_system() {
  if ${CC:-cc} $warn "$define_version" "$(build_name "system build, $(system_libc) static-pie")" -D_GNU_SOURCE -Os -fPIE -static-pie -s -o "$out" "$here"/*.c 2>/dev/null; then
    linked=static-pie
  else
    build_system_dynamic system
  fi
}

# The last line: the build's name, and for the system C library which one it is.
built() {
  case "$1" in
    system*) echo "pidns-init: $1 build (the system C library, $(system_libc), $linked)" ;;
    *) echo "pidns-init: $1 build" ;;
  esac
}

if [ "$sanitize" = 1 ]; then
  exec ${CC:-cc} $warn "$define_version" "$(build_name "sanitize build, $(system_libc) dynamic, ASan and UBSan")" -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
    -o "$out" "$here"/*.c
fi

build=${PIDNS_INIT_BUILD:-}
case "$build" in
  libc) build=system ;;
  libc-dynamic) build=system-dynamic ;;
esac
case "$build" in
  nolibc | musl | system | system-dynamic)
    "build_$(echo "$build" | tr - _)" || { echo "pidns-init: the $build build failed" >&2; exit 1; }
    built "$build"
    exit 0 ;;
  '') ;;
  *) echo "PIDNS_INIT_BUILD must be nolibc, musl, system or system-dynamic, not $PIDNS_INIT_BUILD" >&2; exit 2 ;;
esac

if nolibc_supported; then
  if build_nolibc; then
    built nolibc
    exit 0
  fi
  echo "pidns-init: warning: the build without a C library failed; using a C library (slower start)" >&2
fi
if build_musl 2>/dev/null; then
  built musl
  exit 0
fi
build_system
built system
