#!/usr/bin/env node
// The second half of the install script, after `node-gyp rebuild` has built the addon and the
// init: where pidns is installed as a dependency, the bin pidns-init becomes the built init itself.
//
// npm links node_modules/.bin/pidns-init to bin/pidns-init before it runs this script, so the
// package ships a shell script there that execs the init once it is built. Replacing that file with
// a copy of the init (a temporary file in bin/, made executable, then renamed over it, so that no
// one ever runs half a file) makes the bin a static program that runs without /bin/sh, as pid 1 of
// a distroless image for one. The symlink npm made leads to the new file, as it names the path.
//
// In the package's own checkout, bin/pidns-init is a tracked file, which a build must not change
// (`npm install` there runs this script too): it stays the script, which finds the build beside it.
// The checkout is told from a dependency by where it lies: a dependency's folder is an entry of a
// node_modules folder (node_modules/pidns, or node_modules/@scope/pidns for a scoped copy), and
// holds no .git (npm never installs one there; a clone kept in node_modules for work on it does).
// A checkout that npm links as a dependency (npm install ../pidns) stays where it lies, outside
// node_modules (this script reads its real path), so it is left as it is too.
//
// Where the bin cannot work (no /bin/sh, and the install script did not run when the package was
// installed), name the built file itself: node_modules/pidns/build/Release/pidns-init, or
// require('pidns').initPath.
'use strict';
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

/** The init node-gyp built, looked for where the addon is (bindings looks in Debug first). */
function builtInit(folder) {
  for (const type of ['Debug', 'Release']) {
    const candidate = path.join(folder, 'build', type, 'pidns-init');
    if (fs.existsSync(candidate)) return candidate;
  }
  return null;
}

function installBin(folder) {
  const init = builtInit(folder);
  if (init === null) {
    throw new Error(`pidns: ${path.join(folder, 'build/Release/pidns-init')} was not built (node-gyp rebuild should have made it)`);
  }
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

if (isDependency(packageFolder)) installBin(packageFolder);
