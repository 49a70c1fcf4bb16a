#!/usr/bin/env bash
# pidns as a dependency: packs the package (npm pack), checks what the tarball holds, installs it
# into a new empty project the way a user would (no devDependencies, so node-gyp is npm's own), and
# proves there that require() and import work, that a TypeScript file using the exported types
# compiles with strict, and that `npx pidns run -- true` exits 0; that the bin pidns-init is the
# built init after `npm install` and `npm ci`, and the placeholder script, which says it was never
# built, after `npm ci --ignore-scripts`. Needs root (the spawns). Exits non-zero at the first thing
# that fails.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d /tmp/pidns-pack.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
fail() { echo "ci-pack: $*" >&2; exit 1; }

echo "== npm pack"
(cd "$here" && npm pack --silent --pack-destination "$scratch" >/dev/null)
tarball=$(echo "$scratch"/pidns-*.tgz)
[ -f "$tarball" ] || fail "npm pack made no tarball"
echo "tarball: $(basename "$tarball"), $(stat -c %s "$tarball") bytes packed, $(tar -tzf "$tarball" | wc -l) files"

echo "== what the tarball holds"
# Everything a consumer needs and nothing else: the compiled library (dist/, with its .d.ts and the
# sources its source maps point at, lib/), what the install script builds the addon and the init
# from (binding.gyp, src-native/), the bin pidns-init's placeholder and the script that replaces it
# with the built init (bin/, scripts/install.js). No tests, benchmarks, examples, CI files or build
# output.
files=$(tar -tzf "$tarball" | sed 's|^package/||')
unexpected=$(echo "$files" | grep -v -E '^(package\.json|README\.md|LICENSE|binding\.gyp|bin/pidns-init|scripts/install\.js|dist/[^/]+\.(js|d\.ts|js\.map)|lib/[^/]+\.ts|src-native/.+)$' || true)
[ -z "$unexpected" ] || fail "unexpected files in the tarball:"$'\n'"$unexpected"
leftovers=$(echo "$files" | grep -E '\.(o|a|so|node|d|log|tgz|orig|rej)$|~$|(^|/)\.' || true)
[ -z "$leftovers" ] || fail "build leftovers or hidden files in the tarball:"$'\n'"$leftovers"
# (grep reads a here-string: in a pipe, grep -q stopping early would fail the pipe under pipefail.)
for required in package.json binding.gyp bin/pidns-init scripts/install.js dist/index.js dist/index.d.ts dist/cli.js src-native/init/init.c src-native/init/build.sh; do
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
echo "ok: only package.json, README.md, binding.gyp, bin/pidns-init, scripts/install.js, dist/, lib/ and src-native/"

echo "== installing it into a new project (no devDependencies)"
consumer="$scratch/consumer"
mkdir "$consumer"
# npm 11 asks projects to approve the install scripts of their dependencies (allowScripts, as
# `npm install-scripts approve` writes it; a tarball is named by its file: spec); older npm ignores
# the field. pidns's install script builds the addon and the init.
cat >"$consumer/package.json" <<EOF
{ "name": "pidns-consumer", "version": "1.0.0", "private": true, "allowScripts": { "file:$tarball": true } }
EOF
(cd "$consumer" && npm install --omit=dev --no-audit --no-fund "$tarball")
installed="$consumer/node_modules/pidns"
[ -f "$installed/build/Release/pidns.node" ] && [ -x "$installed/build/Release/pidns-init" ] ||
  fail "the install script did not build the addon and the init"
# node-gyp is a devDependency of pidns: the build must have used the one npm brings along.
[ ! -e "$consumer/node_modules/node-gyp" ] || fail "node-gyp was installed into the project"
echo "ok: built by npm's own node-gyp; installed size $(du -sk "$installed" | cut -f1) kB"

# The bin pidns-init in a project's node_modules: npm's symlink to the package's bin/pidns-init, and
# that file a copy of the built init (an ELF file, run without a shell). The init exits with its
# command's status.
built_bin() {
  local project=$1 link="$1/node_modules/.bin/pidns-init" status
  [ -L "$link" ] || fail "$link is not a symlink"
  [ "$(readlink -f "$link")" = "$project/node_modules/pidns/bin/pidns-init" ] ||
    fail "$link leads to $(readlink -f "$link"), not to node_modules/pidns/bin/pidns-init"
  head -c 4 "$link" | cmp -s - <(printf '\177ELF') || fail "$link is not an ELF file: $(head -c 16 "$link" | od -An -c | head -1)"
  cmp -s "$link" "$project/node_modules/pidns/build/Release/pidns-init" || fail "$link is not a copy of build/Release/pidns-init"
  [ "$(stat -L -c %a "$link")" = 755 ] || fail "$link has mode $(stat -L -c %a "$link"), not 755"
  status=0; "$link" -- sh -c 'exit 7' || status=$?
  [ "$status" = 7 ] || fail "$link -- sh -c 'exit 7' exited $status"
  "$link" -- true || fail "$link -- true exited $?"
}

echo "== the bin pidns-init after npm install"
built_bin "$consumer"
echo "ok: node_modules/.bin/pidns-init is the built init (ELF, $(stat -L -c %s "$consumer/node_modules/.bin/pidns-init") bytes); exits 7 and 0 with its command"

echo "== require('pidns').initPath"
(cd "$consumer" && node -e '
const fs = require("fs"), path = require("path");
const { initPath } = require("pidns");
if (typeof initPath !== "string" || !path.isAbsolute(initPath)) throw new Error(`initPath is ${JSON.stringify(initPath)}`);
if (!fs.statSync(initPath).isFile()) throw new Error(`initPath ${initPath} is not a file`);
fs.accessSync(initPath, fs.constants.X_OK);
console.log("ok: initPath", initPath);
')
[ "$(cd "$consumer" && node -p 'require("pidns").initPath')" = "$installed/build/Release/pidns-init" ] ||
  fail "initPath is not $installed/build/Release/pidns-init"

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

# Two more projects with the first one's package.json and package-lock.json (which name the tarball
# by a path relative to the project, as npm wrote it): `npm ci` as a Dockerfile runs it, then with
# --ignore-scripts, where no compiler runs.
lockfile_project() {
  mkdir "$1"
  cp "$consumer/package.json" "$consumer/package-lock.json" "$1/"
}

echo "== npm ci"
[ -f "$consumer/package-lock.json" ] || fail "npm install wrote no package-lock.json"
with_ci="$scratch/consumer-ci"
lockfile_project "$with_ci"
(cd "$with_ci" && npm ci --omit=dev --no-audit --no-fund)
built_bin "$with_ci"
echo "ok: node_modules/.bin/pidns-init is the built init"

echo "== npm ci --ignore-scripts"
without_scripts="$scratch/consumer-ignore-scripts"
lockfile_project "$without_scripts"
(cd "$without_scripts" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund)
link="$without_scripts/node_modules/.bin/pidns-init"
[ -L "$link" ] && [ -x "$link" ] || fail "$link is not an executable symlink"
[ ! -e "$without_scripts/node_modules/pidns/build" ] || fail "something was built with --ignore-scripts"
cmp -s "$link" "$here/bin/pidns-init" || fail "$link is not the placeholder script"
status=0; "$link" -- true >"$scratch/out" 2>"$scratch/err" || status=$?
[ "$status" = 127 ] || fail "the placeholder exited $status, not 127"
[ ! -s "$scratch/out" ] || fail "the placeholder printed on stdout: $(cat "$scratch/out")"
[ "$(wc -l <"$scratch/err")" = 1 ] && grep -q '^pidns-init: not built: .*npm rebuild pidns' "$scratch/err" ||
  fail "the placeholder did not print its one line: $(cat "$scratch/err")"
echo "ok: the placeholder exits 127: $(cat "$scratch/err")"

echo "== npm rebuild pidns, as that line says"
(cd "$without_scripts" && npm rebuild pidns)
built_bin "$without_scripts"
echo "ok: node_modules/.bin/pidns-init is the built init"

echo "ci-pack: all checks passed ($(basename "$tarball"), $(stat -c %s "$tarball") bytes)"
