#!/usr/bin/env node
// The install script (package.json "install"): chooses between the prebuilt addon and init that
// the package carries and a build from source, then, where pidns is installed as a dependency,
// makes the bin pidns-init the chosen init itself.
//
// 1. Prebuilt or source. The tarball carries prebuilds/linux-x64/ and prebuilds/linux-arm64/
//    (scripts/prebuild.js: the addon for glibc, the init static). They are used when all of these
//    hold, and the reason is printed when one does not:
//      - the package is installed as a dependency (its own checkout always builds: its tests must
//        run what its sources say);
//      - no build from source was asked for (npm install --build-from-source, which npm passes on as
//        npm_config_build_from_source, or PIDNS_BUILD_FROM_SOURCE=1);
//      - there are prebuilt files for this architecture;
//      - this Node runs on glibc (not musl: Alpine builds from source);
//      - the prebuilt addon loads in this very Node (tried in a child process) and the prebuilt
//        init runs.
//    Otherwise node-gyp builds both into build/Release: the node-gyp npm names (npm_config_node_gyp,
//    set by npm for the scripts it runs), else the one on PATH. The addon is looked for in build/
//    before prebuilds/ (lib/native.ts), so a build made here wins; choosing the prebuilt files
//    removes an earlier build/ of a dependency, which would otherwise still win.
//
// 2. The bin. npm links node_modules/.bin/pidns-init to bin/pidns-init before it runs this
//    script, so the package ships a shell script there that execs the init (bin/pidns-init).
//    Replacing that file with a copy of the chosen init (a temporary file in bin/, made
//    executable, then renamed over it, so that no one ever runs half a file) makes the bin a
//    static program that runs without /bin/sh, as pid 1 of a distroless image for one. The symlink
//    npm made leads to the new file, as it names the path.
//
// The checkout is told from a dependency by where it lies: a dependency's folder is an entry of a
// node_modules folder (node_modules/pidns, or node_modules/@scope/pidns for a scoped copy), and
// holds no .git (npm never installs one there; a clone kept in node_modules for work on it does).
// A checkout that npm links as a dependency (npm install ../pidns) stays where it lies, outside
// node_modules (this script reads its real path), so it is treated as a checkout. In a checkout,
// bin/pidns-init is a tracked file, which a build must not change: it stays the script.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const packageFolder = fs.realpathSync(path.join(__dirname, '..'));

/** True where the package is installed as a dependency, false in its own checkout. */
function isDependency(folder) {
  const parent = path.dirname(folder);
  const inNodeModules =
    path.basename(parent) === 'node_modules' ||
    (path.basename(parent).startsWith('@') && path.basename(path.dirname(parent)) === 'node_modules');
  return inNodeModules && !fs.existsSync(path.join(folder, '.git'));
}

/** Whether this Node runs on glibc: its libc.so.6 is mapped into this process (lib/native.ts). */
function onGlibc() {
  try {
    return /\/libc\.so\.6$/m.test(fs.readFileSync('/proc/self/maps', 'latin1'));
  } catch {
    return false;
  }
}

function truthy(value) {
  return value !== undefined && value !== '' && value !== '0' && value !== 'false';
}

/** The folder of prebuilt files for this machine. */
function prebuiltFolder(folder) {
  return path.join(folder, 'prebuilds', `${process.platform}-${process.arch}`);
}

/** Why the prebuilt files cannot be used here, or null when they can. */
function whyNotPrebuilt(folder) {
  if (!isDependency(folder)) return 'this is the package\'s own checkout';
  if (truthy(process.env.npm_config_build_from_source)) return 'a build from source was asked for (--build-from-source)';
  if (truthy(process.env.PIDNS_BUILD_FROM_SOURCE)) return 'a build from source was asked for (PIDNS_BUILD_FROM_SOURCE)';
  const prebuilt = prebuiltFolder(folder);
  const addon = path.join(prebuilt, 'pidns.node');
  const init = path.join(prebuilt, 'pidns-init');
  if (!fs.existsSync(addon) || !fs.existsSync(init)) return `the package has no prebuilt files for ${process.platform}-${process.arch}`;
  if (!onGlibc()) return 'this Node does not run on glibc (the prebuilt addon is for glibc; musl builds from source)';
  const load = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(addon)})`], { encoding: 'utf8', timeout: 60000 });
  if (load.status !== 0) {
    const reason = (load.stderr || '').split('\n').find((line) => /Error/.test(line)) || `exit ${load.status ?? load.signal}`;
    return `the prebuilt addon does not load in this Node (${reason.trim()})`;
  }
  const run = spawnSync(init, ['--help'], { stdio: 'ignore', timeout: 60000 });
  if (run.status !== 0) return `the prebuilt init does not run here (${run.error ? run.error.message : `exit ${run.status ?? run.signal}`})`;
  return null;
}

/** node-gyp rebuild, as npm would run it; exits with its status when it fails. */
function buildFromSource(folder) {
  const nodeGyp = process.env.npm_config_node_gyp;
  const [command, args] = nodeGyp ? [process.execPath, [nodeGyp, 'rebuild']] : ['node-gyp', ['rebuild']];
  const result = spawnSync(command, args, { cwd: folder, stdio: 'inherit' });
  if (result.error) {
    console.error(`pidns: cannot run node-gyp (${result.error.message}); building from source needs it, with make, a C and C++ compiler and python3`);
    process.exit(1);
  }
  if (result.status !== 0) process.exit(result.status ?? 1);
}

/** The init node-gyp built, looked for where the addon is (Debug first, as lib/native.ts does). */
function builtInit(folder) {
  for (const type of ['Debug', 'Release']) {
    const candidate = path.join(folder, 'build', type, 'pidns-init');
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new Error(`pidns: ${path.join(folder, 'build/Release/pidns-init')} was not built (node-gyp rebuild should have made it)`);
}

function installBin(folder, init) {
  const bin = path.join(folder, 'bin', 'pidns-init');
  const temporary = path.join(folder, 'bin', `.pidns-init.${process.pid}.tmp`);
  fs.mkdirSync(path.dirname(bin), { recursive: true });
  try {
    fs.copyFileSync(init, temporary, fs.constants.COPYFILE_EXCL);
    fs.chmodSync(temporary, 0o755);
    fs.renameSync(temporary, bin);
  } catch (err) {
    fs.rmSync(temporary, { force: true });
    throw err;
  }
}

function main(folder) {
  const reason = whyNotPrebuilt(folder);
  let init;
  if (reason === null) {
    fs.rmSync(path.join(folder, 'build'), { recursive: true, force: true });
    init = path.join(prebuiltFolder(folder), 'pidns-init');
    console.log(`pidns: using the prebuilt addon and init for ${process.platform}-${process.arch}`);
  } else {
    console.log(`pidns: building from source: ${reason}`);
    buildFromSource(folder);
    init = builtInit(folder);
  }
  if (isDependency(folder)) installBin(folder, init);
}

main(packageFolder);
