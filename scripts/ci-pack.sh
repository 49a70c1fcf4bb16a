#!/usr/bin/env bash
# pidns as a dependency: packs the package (npm pack, whose prepack builds and checks the prebuilt
# files), or takes the tarball given as the argument, checks what the tarball holds and its size,
# installs it into a new empty project the way a user would (no devDependencies, so node-gyp is
# npm's own), and proves there that the install used the prebuilt addon and init (nothing built),
# that require() and import work, that a TypeScript file using the exported types compiles with
# strict, and that `npx pidns run -- true` exits 0; that the bin pidns-init is the prebuilt init
# after `npm install` and `npm ci`, and the placeholder script, which finds the prebuilt init, after
# `npm ci --ignore-scripts`; and that `npm install --build-from-source` of the same tarball builds
# with npm's own node-gyp and uses what it built. Needs root (the spawns). Exits non-zero at the
# first thing that fails.
#   scripts/ci-pack.sh [TARBALL]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d /tmp/pidns-pack.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
fail() { echo "fail: ci-pack: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (the spawns make PID namespaces)"

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) fail "no prebuilt files for $(uname -m)" ;;
esac
# The tarball holds at most this much: the prebuilt files of two architectures made it grow, and a
# dependency that every install downloads must stay small.
max_bytes=1048576

# shellcheck source=scripts/ci-tarball.sh
. "$here/scripts/ci-tarball.sh"
use_tarball "$scratch" "${1:-}"
size=$(stat -c %s "$tarball")
echo "tarball: $(basename "$tarball"), $size bytes packed, $(tar -tzf "$tarball" | wc -l) files"
[ "$size" -lt "$max_bytes" ] || fail "the tarball is $size bytes, not under $max_bytes (1 MiB)"
echo "ok: $size bytes, under $max_bytes"

echo "== what the tarball holds"
# Everything a consumer needs and nothing else: the compiled library (dist/, with its .d.ts and the
# sources its source maps point at, lib/), the prebuilt addon and init of each architecture
# (prebuilds/), what the install script builds them from where those cannot be used (binding.gyp,
# src-native/), the bin pidns-init's placeholder and the script that replaces it with the chosen
# init (bin/, scripts/install.js), the licence. No tests, benchmarks, examples, CI files or build
# output.
prebuilt_files='prebuilds/linux-(x64|arm64)/(pidns\.node|pidns-init)'
files=$(tar -tzf "$tarball" | sed 's|^package/||')
unexpected=$(echo "$files" | grep -v -E "^(package\.json|README\.md|LICENSE|binding\.gyp|bin/pidns-init|scripts/install\.js|dist/[^/]+\.(js|d\.ts|js\.map)|lib/[^/]+\.ts|src-native/.+|$prebuilt_files)\$" || true)
[ -z "$unexpected" ] || fail "unexpected files in the tarball:"$'\n'"$unexpected"
leftovers=$(echo "$files" | grep -v -E "^$prebuilt_files\$" | grep -E '\.(o|a|so|node|d|log|tgz|orig|rej)$|~$|(^|/)\.' || true)
[ -z "$leftovers" ] || fail "build leftovers or hidden files in the tarball:"$'\n'"$leftovers"
# (grep reads a here-string: in a pipe, grep -q stopping early would fail the pipe under pipefail.)
for required in package.json LICENSE binding.gyp bin/pidns-init scripts/install.js dist/index.js dist/index.d.ts dist/cli.js src-native/init/init.c src-native/init/build.sh \
  prebuilds/linux-x64/pidns.node prebuilds/linux-x64/pidns-init prebuilds/linux-arm64/pidns.node prebuilds/linux-arm64/pidns-init; do
  grep -qx "$required" <<<"$files" || fail "$required is missing from the tarball"
done
# A compiled file whose source is gone (dist/ is never cleaned by tsc) would ship as a leftover.
for compiled in $(echo "$files" | sed -n 's|^dist/\([^/]*\)\.js$|\1|p'); do
  grep -qx "lib/$compiled.ts" <<<"$files" || fail "dist/$compiled.js has no lib/$compiled.ts: a build leftover (rm -rf dist && npm run build:ts)"
done
# A bin is linked before the install script runs, and only if its file exists: the tarball holds
# the shell script that stands in for the init, which it replaces where it is installed.
tar -xzOf "$tarball" package/bin/pidns-init | cmp -s - "$here/bin/pidns-init" ||
  fail "bin/pidns-init in the tarball is not the checkout's placeholder script"
echo "ok: only package.json, README.md, LICENSE, binding.gyp, bin/pidns-init, scripts/install.js, dist/, lib/, src-native/ and prebuilds/linux-{x64,arm64}/{pidns.node,pidns-init}"

echo "== the prebuilt files, as packed"
# prebuild.js checks each file before it keeps it (the machine, the symbol versions, a static
# init), and fails the pack otherwise; this checks the files that were packed, in case an older
# prebuilds/ or another script put them there. The newest versions the addon may need are those
# the official Node 20 binary itself needs, so that it loads wherever that Node runs.
unpacked=$scratch/unpacked
mkdir "$unpacked"
tar -xzf "$tarball" -C "$unpacked"
newest_allowed() { case $1 in GLIBC) echo 2.28 ;; GLIBCXX) echo 3.4.21 ;; CXXABI) echo 1.3.9 ;; esac; }
# The host's objdump reads x86-64 files; arm64 ones need binutils-aarch64-linux-gnu's, which comes
# with the cross compiler that made them.
for prebuilt_arch in x64 arm64; do
  case $prebuilt_arch in
    x64) machine='i386:x86-64' objdump=objdump ;;
    arm64) machine='aarch64' objdump=aarch64-linux-gnu-objdump ;;
  esac
  command -v "$objdump" >/dev/null || fail "$objdump is missing (binutils, or binutils-aarch64-linux-gnu)"
  folder=$unpacked/package/prebuilds/linux-$prebuilt_arch
  for file in pidns.node pidns-init; do
    [ -x "$folder/$file" ] || fail "prebuilds/linux-$prebuilt_arch/$file is not executable"
    "$objdump" -f "$folder/$file" | grep -q "architecture: $machine," ||
      fail "prebuilds/linux-$prebuilt_arch/$file is not for $machine: $("$objdump" -f "$folder/$file" | grep architecture)"
  done
  ! "$objdump" -p "$folder/pidns-init" | grep -qE '^\s*(INTERP|NEEDED)\b' || fail "prebuilds/linux-$prebuilt_arch/pidns-init is not static"
  needs=""
  for family in GLIBC GLIBCXX CXXABI; do
    newest=$("$objdump" -T "$folder/pidns.node" | grep -F '*UND*' | grep -oE "\b${family}_[0-9.]+" | sed "s/^${family}_//" | sort -V | tail -n 1 || true)
    [ -n "$newest" ] || continue
    allowed=$(newest_allowed "$family")
    [ "$(printf '%s\n' "$newest" "$allowed" | sort -V | tail -n 1)" = "$allowed" ] ||
      fail "prebuilds/linux-$prebuilt_arch/pidns.node needs ${family}_$newest, newer than ${family}_$allowed"
    needs+=" ${family}_$newest"
  done
  echo "ok: linux-$prebuilt_arch: both files $machine, the init static, the addon needs at most$needs ($(stat -c %s "$folder/pidns.node") + $(stat -c %s "$folder/pidns-init") bytes)"
done

echo "== installing it into a new project (no devDependencies)"
consumer="$scratch/consumer"
mkdir "$consumer"
# npm 11 asks projects to approve the install scripts of their dependencies (allowScripts, as
# `npm install-scripts approve` writes it; a tarball is named by its file: spec); older npm ignores
# the field. pidns's install script chooses the prebuilt files or builds them.
cat >"$consumer/package.json" <<EOF
{ "name": "pidns-consumer", "version": "1.0.0", "private": true, "allowScripts": { "file:$tarball": true } }
EOF
# --foreground-scripts: otherwise npm shows what an install script prints only when it fails.
t0=$(date +%s%N)
(cd "$consumer" && npm install --omit=dev --no-audit --no-fund --foreground-scripts "$tarball") 2>&1 | tee "$scratch/install.log"
install_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
installed="$consumer/node_modules/pidns"
grep -qx "pidns: using the prebuilt addon and init for linux-$arch" "$scratch/install.log" ||
  fail "the install script did not say it used the prebuilt files for linux-$arch"
! grep -q 'building from source' "$scratch/install.log" || fail "the install script built from source"
[ ! -e "$installed/build" ] || fail "something was built: $(find "$installed/build" -maxdepth 2 | head -5)"
echo "ok: the prebuilt files for linux-$arch, nothing built, in $install_ms ms; installed size $(du -sk "$installed" | cut -f1) kB"

# The bin pidns-init in a project's node_modules: npm's symlink to the package's bin/pidns-init, and
# that file a copy of the chosen init (an ELF file, run without a shell). The init exits with its
# command's status.
#   init_bin PROJECT INIT: the bin is a copy of INIT (a path inside the project's pidns)
init_bin() {
  local project=$1 init=$2 link="$1/node_modules/.bin/pidns-init" status
  [ -L "$link" ] || fail "$link is not a symlink"
  [ "$(readlink -f "$link")" = "$project/node_modules/pidns/bin/pidns-init" ] ||
    fail "$link leads to $(readlink -f "$link"), not to node_modules/pidns/bin/pidns-init"
  head -c 4 "$link" | cmp -s - <(printf '\177ELF') || fail "$link is not an ELF file: $(head -c 16 "$link" | od -An -c | head -1)"
  cmp -s "$link" "$project/node_modules/pidns/$init" || fail "$link is not a copy of $init"
  [ "$(stat -L -c %a "$link")" = 755 ] || fail "$link has mode $(stat -L -c %a "$link"), not 755"
  status=0; "$link" -- sh -c 'exit 7' || status=$?
  [ "$status" = 7 ] || fail "$link -- sh -c 'exit 7' exited $status"
  "$link" -- true || fail "$link -- true exited $?"
}
# addon_in PROJECT FOLDER: require('pidns') in PROJECT loads the addon from FOLDER of its pidns,
# and initPath is the init beside it.
addon_in() {
  local project=$1 folder=$2 loaded expected
  loaded=$(cd "$project" && node -e '
    const { addonPath, initPath } = require("pidns/dist/native");
    if (require("pidns").initPath !== initPath) throw new Error("the initPath of pidns is not the one of pidns/dist/native");
    console.log(addonPath + " " + initPath);')
  expected="$project/node_modules/pidns/$folder/pidns.node $project/node_modules/pidns/$folder/pidns-init"
  [ "$loaded" = "$expected" ] || fail "require('pidns') in $project loaded $loaded, not $expected"
}

echo "== the bin pidns-init after npm install"
init_bin "$consumer" "prebuilds/linux-$arch/pidns-init"
echo "ok: node_modules/.bin/pidns-init is the prebuilt init (ELF, $(stat -L -c %s "$consumer/node_modules/.bin/pidns-init") bytes); exits 7 and 0 with its command"

echo "== require('pidns'): addonPath and initPath"
addon_in "$consumer" "prebuilds/linux-$arch"
(cd "$consumer" && node -e '
const fs = require("fs"), path = require("path");
const { initPath } = require("pidns");
if (typeof initPath !== "string" || !path.isAbsolute(initPath)) throw new Error(`initPath is ${JSON.stringify(initPath)}`);
if (!fs.statSync(initPath).isFile()) throw new Error(`initPath ${initPath} is not a file`);
fs.accessSync(initPath, fs.constants.X_OK);
')
echo "ok: addonPath and initPath are prebuilds/linux-$arch/pidns.node and pidns-init"

echo "== require('pidns')"
cat >"$consumer/check.cjs" <<'EOF'
const { spawnInPidNamespace, PidNamespace, nsPids, pidNamespaceId } = require('pidns');
for (const [name, value] of Object.entries({ spawnInPidNamespace, PidNamespace, nsPids, pidNamespaceId }))
  if (typeof value !== 'function') throw new Error(`require('pidns').${name} is ${typeof value}`);
spawnInPidNamespace('true', [], { stdio: 'ignore' })
  .then((child) => child.exited)
  .then((status) => {
    if (status.code !== 0) throw new Error(`true exited ${JSON.stringify(status)}`);
    console.log('ok: require, spawn', JSON.stringify(status));
  });
EOF
(cd "$consumer" && node check.cjs)

echo "== import from an ES module (named exports)"
cat >"$consumer/check.mjs" <<'EOF'
import { spawnInPidNamespace, PidNamespace, nsPids, pidNamespaceId, PidnsSystemError } from 'pidns';
for (const [name, value] of Object.entries({ spawnInPidNamespace, PidNamespace, nsPids, pidNamespaceId, PidnsSystemError }))
  if (typeof value !== 'function') throw new Error(`import { ${name} } from 'pidns' is ${typeof value}`);
const child = await spawnInPidNamespace('true', [], { stdio: 'ignore' });
const status = await child.exited;
if (status.code !== 0) throw new Error(`true exited ${JSON.stringify(status)}`);
console.log('ok: import, spawn', JSON.stringify(status), 'nsPid', child.nsPid);
EOF
(cd "$consumer" && node check.mjs)

echo "== TypeScript with strict (typescript and @types/node from this checkout, not installed there)"
# One ES module and one CommonJS file, both resolved the way Node resolves them (nodenext), and the
# declaration files pidns ships checked too (no skipLibCheck).
cat >"$consumer/check.mts" <<'EOF'
import { spawnInPidNamespace, PidNamespace, PidnsSystemError, type ExitStatus, type SpawnOptions, type PidNamespaceChild } from 'pidns';

const options: SpawnOptions = { init: true, stdio: ['ignore', 'pipe', 'inherit'], userNamespace: { uidMap: [{ containerId: 0, hostId: 1000, size: 1 }] } };
export async function run(): Promise<ExitStatus> {
  const child: PidNamespaceChild = await spawnInPidNamespace('true', [], options);
  const nsPid: number = child.nsPid;
  const initPid: number | undefined = child.init?.pid;
  void [nsPid, initPid];
  return child.exited;
}
export async function pod(): Promise<number[]> {
  await using ns = await PidNamespace.create({ mountProc: true });
  await ns.spawn('sleep', ['1']);
  return ns.processes().map((member) => member.nsPid);
}
export function codeOf(err: unknown): string | undefined {
  return err instanceof PidnsSystemError ? err.code : undefined;
}
EOF
cat >"$consumer/check.cts" <<'EOF'
import pidns = require('pidns');
export const ids: number[] = pidns.nsPids(process.pid);
export const namespaceId: number = pidns.pidNamespaceId(process.pid);
EOF
cat >"$consumer/tsconfig.json" <<EOF
{
  "compilerOptions": {
    "strict": true, "noEmit": true, "skipLibCheck": false,
    "module": "nodenext", "moduleResolution": "nodenext", "target": "ES2022",
    "lib": ["ES2022", "ESNext.Disposable"],
    "typeRoots": ["$here/node_modules/@types"], "types": ["node"]
  },
  "files": ["check.mts", "check.cts"]
}
EOF
(cd "$consumer" && node "$here/node_modules/typescript/bin/tsc" -p tsconfig.json)
echo "ok: check.mts and check.cts compile with strict"

echo "== npx pidns run -- true"
(cd "$consumer" && npx --no-install pidns run -- true) || fail "npx pidns run -- true exited $?"
echo "ok: exit 0"

# Three more projects with the first one's package.json and package-lock.json (which name the
# tarball by a path relative to the project, as npm wrote it): `npm ci` as a Dockerfile runs it,
# then with --ignore-scripts, where no install script runs, and a build from source asked for.
lockfile_project() {
  mkdir "$1"
  cp "$consumer/package.json" "$consumer/package-lock.json" "$1/"
}

echo "== npm ci"
[ -f "$consumer/package-lock.json" ] || fail "npm install wrote no package-lock.json"
with_ci="$scratch/consumer-ci"
lockfile_project "$with_ci"
t0=$(date +%s%N)
(cd "$with_ci" && npm ci --omit=dev --no-audit --no-fund)
ci_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ ! -e "$with_ci/node_modules/pidns/build" ] || fail "npm ci built something"
init_bin "$with_ci" "prebuilds/linux-$arch/pidns-init"
echo "ok: node_modules/.bin/pidns-init is the prebuilt init; nothing built; npm ci took $ci_ms ms"

echo "== npm ci --ignore-scripts"
# No install script ran: the bin is the placeholder script, which runs the prebuilt init for this
# machine, and require('pidns') loads the prebuilt addon; nothing needs a build.
without_scripts="$scratch/consumer-ignore-scripts"
lockfile_project "$without_scripts"
(cd "$without_scripts" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund)
link="$without_scripts/node_modules/.bin/pidns-init"
[ -L "$link" ] && [ -x "$link" ] || fail "$link is not an executable symlink"
[ ! -e "$without_scripts/node_modules/pidns/build" ] || fail "something was built with --ignore-scripts"
cmp -s "$link" "$here/bin/pidns-init" || fail "$link is not the placeholder script"
status=0; "$link" -- sh -c 'exit 7' >"$scratch/out" 2>"$scratch/err" || status=$?
[ "$status" = 7 ] || fail "the placeholder -- sh -c 'exit 7' exited $status: $(cat "$scratch/err")"
[ ! -s "$scratch/out" ] && [ ! -s "$scratch/err" ] || fail "the placeholder printed: $(cat "$scratch/out" "$scratch/err")"
addon_in "$without_scripts" "prebuilds/linux-$arch"
cp "$consumer/check.cjs" "$without_scripts/"
(cd "$without_scripts" && node check.cjs)
echo "ok: the placeholder runs the prebuilt init (exit 7 back); require('pidns') loads prebuilds/linux-$arch, and spawns"

echo "== npm rebuild pidns"
(cd "$without_scripts" && npm rebuild pidns --foreground-scripts) 2>&1 | tee "$scratch/rebuild.log"
grep -qx "pidns: using the prebuilt addon and init for linux-$arch" "$scratch/rebuild.log" ||
  fail "npm rebuild pidns did not use the prebuilt files"
init_bin "$without_scripts" "prebuilds/linux-$arch/pidns-init"
echo "ok: node_modules/.bin/pidns-init is now the prebuilt init itself"

echo "== npm install --build-from-source"
# The prebuilt files are bypassed on request: npm's own node-gyp (node-gyp is a devDependency of
# pidns, never installed into the project) builds into build/Release, which the addon and the bin
# then come from. This needs the compiler the other installs did without.
from_source="$scratch/consumer-source"
lockfile_project "$from_source"
t0=$(date +%s%N)
(cd "$from_source" && npm install --omit=dev --no-audit --no-fund --foreground-scripts --build-from-source) 2>&1 | tee "$scratch/source.log" | grep -E '^pidns: |^gyp (info ok|ERR)' || true
source_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
grep -qx 'pidns: building from source: a build from source was asked for (--build-from-source)' "$scratch/source.log" ||
  { tail -n 30 "$scratch/source.log" >&2; fail "npm install --build-from-source did not build from source"; }
[ -f "$from_source/node_modules/pidns/build/Release/pidns.node" ] && [ -x "$from_source/node_modules/pidns/build/Release/pidns-init" ] ||
  fail "the install script did not build the addon and the init"
[ ! -e "$from_source/node_modules/node-gyp" ] || fail "node-gyp was installed into the project"
grep -q "node-gyp@" "$scratch/source.log" && echo "node-gyp: $(grep -o 'using node-gyp@[0-9.]*' "$scratch/source.log" | head -1)"
init_bin "$from_source" "build/Release/pidns-init"
addon_in "$from_source" "build/Release"
cp "$consumer/check.cjs" "$from_source/"
(cd "$from_source" && node check.cjs)
echo "ok: built by npm's own node-gyp in $source_ms ms; the addon and the bin are build/Release's"

echo "ci-pack: all checks passed ($(basename "$tarball"), $(stat -c %s "$tarball") bytes; npm install $install_ms ms, npm ci $ci_ms ms, from source $source_ms ms)"
