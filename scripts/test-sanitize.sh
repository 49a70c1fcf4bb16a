#!/usr/bin/env bash
# Builds the addon and the init with AddressSanitizer + UBSan in a scratch copy of the tree (so the
# build/ that everyone else uses is never touched), then runs the jest suite against that build.
#
#   npm run test:sanitize                      # the suite (see below for what is left out), pidfd mode
#   PIDNS_NO_PIDFD=1 npm run test:sanitize     # the fallback exit watcher
#   npm run test:sanitize -- test/load.test.ts # extra arguments go to jest
#
# Node itself is not instrumented, so the ASan runtime has to be the first library loaded:
# LD_PRELOAD of the compiler's libasan (gcc -print-file-name=libasan.so), and the same runtime
# the addon was linked against, or ASan refuses to start ("incompatible ASan runtimes").
#
# ASAN_OPTIONS, and why:
#   detect_leaks=0         V8 and Node keep allocations alive until exit by design (isolates,
#                          code space, static tables); LeakSanitizer would report thousands of
#                          them and none of ours. Our leaks are measured by the load tests
#                          instead (descriptors, children, RSS).
#   handle_segv=0 allow_user_segv_handler=1
#                          V8 installs its own SIGSEGV handler (WebAssembly trap handling);
#                          ASan must not take it over.
#   detect_stack_use_after_return=0
#                          a fake stack for every frame breaks V8's conservative stack scanning
#                          and the vfork child, which runs on a stack inside Spawn()'s frame.
#   use_sigaltstack=0      V8 manages the alternate signal stack itself.
#   handle_sigbus=0 handle_sigfpe=0 handle_sigill=0 handle_abort=0
#                          tests send these signals to processes on purpose.
#   abort_on_error=1 halt_on_error=1
#                          a finding kills the jest worker with the report on stderr, so the
#                          suite fails loudly instead of carrying on.
#   exitcode=66            tells an ASan death apart from an ordinary failure.
# UBSAN_OPTIONS: print_stacktrace=1 halt_on_error=1 for the same reason.
#
# The vfork child (clone(CLONE_VM|CLONE_VFORK), src-native/child.c) runs on Node's memory with
# Node's thread suspended and never returns to its caller, so its functions carry
# no_sanitize("address", "undefined") (PIDNS_CHILD_CODE, PIDNS_RAW): instrumented frames there
# would leave Node's stack poisoned, and a report would need the allocator the child must not use.
# Everything else in the addon is instrumented.
# The init is built with -fsanitize=address,undefined by build.sh and runs as a separate program;
# its reports go to the init's stderr, which the tests usually point at a pipe or /dev/null, so
# log_path sends them to files as well, and this script fails if any appear.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
scratch=${PIDNS_SANITIZE_DIR:-$(mktemp -d /tmp/pidns-sanitize.XXXXXX)}
logs="$scratch/asan-logs"
start=$(date +%s)

echo "== copying the tree to $scratch"
mkdir -p "$scratch"
chmod 755 "$scratch" # the tests run fixtures as nobody
# Tracked files plus the ones not yet committed (others edit the tree), without build output.
(cd "$here" && { git ls-files; git ls-files --others --exclude-standard; } | sort -u |
  grep -v -e '^build/' -e '^dist/' -e '^node_modules/' |
  while read -r f; do [ -f "$f" ] && printf '%s\0' "$f"; done | xargs -0 cp --parents -t "$scratch")
ln -sfn "$here/node_modules" "$scratch/node_modules"

echo "== building with -fsanitize=address,undefined"
cd "$scratch"
rm -rf build
npx node-gyp rebuild -- -Dpidns_sanitize=1 >"$scratch/build.log" 2>&1 || { tail -50 "$scratch/build.log"; exit 1; }
if grep -E 'warning:' "$scratch/build.log"; then echo "the sanitizer build has warnings (above)"; fi
# (grep -c, not grep -q: with pipefail, nm dying of SIGPIPE would fail the check.)
[ "$(nm -D build/Release/pidns.node | grep -c __asan_report)" -gt 0 ] || { echo "pidns.node is not instrumented"; exit 1; }
[ "$(ldd build/Release/pidns-init | grep -c libasan)" -gt 0 ] || { echo "pidns-init is not instrumented"; exit 1; }
npx tsc -p tsconfig.json

libasan=$(${CC:-gcc} -print-file-name=libasan.so)
libubsan=$(${CC:-gcc} -print-file-name=libubsan.so)
[ -e "$libasan" ] || { echo "libasan not found ($libasan)"; exit 1; }
mkdir -p "$logs"
rm -f "$logs"/*

# The preload reaches every program the tests start (sh, sleep, the fixtures' own Node). In an
# uninstrumented program the runtime only installs its signal handlers, so handle_*=0 below keeps
# a deliberate `kill -BUS $$` a death by SIGBUS instead of an ASan report; the fixtures' Node
# processes need the preload as much as jest's.
echo "== running jest under ASan+UBSan (LD_PRELOAD=$libasan)"
export LD_PRELOAD="$libasan${libubsan:+:$libubsan}"
export ASAN_OPTIONS="detect_leaks=0:handle_segv=0:allow_user_segv_handler=1:detect_stack_use_after_return=0:use_sigaltstack=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0:handle_abort=0:abort_on_error=1:halt_on_error=1:exitcode=66:log_path=$logs/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$logs/ubsan"
# With no arguments the suites that run ps, id and the like inside new namespaces are left out: the
# preloaded runtime goes into those programs too, and ps under it hangs reading a fresh /proc. They
# exercise the same native paths as the suites that do run. The init's memcheck run (valgrind)
# cannot run under the preloaded ASan runtime either.
if [ $# -eq 0 ]; then set -- --testPathIgnorePatterns 'mount-proc|rootless|cli|test/container/'; fi
status=0
npx jest --ci "$@" || status=$?
unset LD_PRELOAD

reports=$(find "$logs" -type f -size +0 | wc -l)
echo "== sanitizer reports: $reports (in $logs)"
if [ "$reports" -gt 0 ]; then
  for f in "$logs"/*; do echo "--- $f"; head -40 "$f"; done
  status=1
fi
echo "== took $(( $(date +%s) - start )) s; jest status $status"
exit $status
