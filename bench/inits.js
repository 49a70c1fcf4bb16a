'use strict';
// The init builds compared: src-native/init/build.sh's default here and every other build it can
// make (nolibc, musl, the system C library), each measured in init mode side by side. Each other
// build goes into bench/out/inits/NAME beside a copy of dist/ and the addon, so the library loaded
// from there runs that init (it always runs the pidns-init beside its addon).
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { OUT_DIR, REPO, log } = require('./setup');

const BUILD_SCRIPT = path.join(REPO, 'src-native', 'init', 'build.sh');
const BUILT_INIT = path.join(REPO, 'build', 'Release', 'pidns-init');
const BUILD_NAMES = ['nolibc', 'musl', 'system'];

/** Runs build.sh; returns the name of the build it made (its last line), or null if it failed. */
function runBuildScript(output, build) {
  const env = { ...process.env };
  if (build) env.PIDNS_INIT_BUILD = build;
  else delete env.PIDNS_INIT_BUILD;
  try {
    const printed = execFileSync('sh', [BUILD_SCRIPT, output], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    return /pidns-init: (\S+) build[^\n]*\s*$/.exec(printed)[1];
  } catch {
    return null;
  }
}

/** What the system C library is, for the build named system. */
function systemLibc() {
  try {
    const text = execFileSync('ldd', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return /GLIBC|GNU libc/.test(text) ? 'glibc' : 'libc';
  } catch {
    return 'libc';
  }
}

/**
 * Builds every init. Returns { defaultBuild, builds: [{ name, label, initPath, library, bytes }] }
 * with the default first; its library is the repository's own (whose build/Release/pidns-init
 * must be what build.sh makes by default, or the other cases would measure something else).
 */
function buildInits() {
  const dir = path.join(OUT_DIR, 'inits');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const label = (name) => (name === 'system' ? systemLibc() : name);

  const probe = path.join(dir, 'default-pidns-init');
  const defaultBuild = runBuildScript(probe, null);
  if (!defaultBuild) throw new Error('src-native/init/build.sh failed');
  if (!fs.readFileSync(probe).equals(fs.readFileSync(BUILT_INIT)))
    throw new Error(`${BUILT_INIT} is not the ${defaultBuild} build that build.sh makes by default: run npm run build first`);
  const builds = [{ name: defaultBuild, label: label(defaultBuild), initPath: BUILT_INIT, library: require('../dist'), bytes: fs.statSync(BUILT_INIT).size }];

  for (const name of BUILD_NAMES.filter((n) => n !== defaultBuild)) {
    const root = path.join(dir, name);
    const initPath = path.join(root, 'build', 'Release', 'pidns-init');
    if (runBuildScript(initPath, name) !== name) {
      log(`the ${name} init could not be built: left out`);
      continue;
    }
    fs.cpSync(path.join(REPO, 'dist'), path.join(root, 'dist'), { recursive: true });
    fs.copyFileSync(path.join(REPO, 'build', 'Release', 'pidns.node'), path.join(root, 'build', 'Release', 'pidns.node'));
    const library = require(path.join(root, 'dist'));
    if (require(path.join(root, 'dist', 'native')).initPath !== initPath) throw new Error(`the copy in ${root} does not run its own init`);
    builds.push({ name, label: label(name), initPath, library, bytes: fs.statSync(initPath).size });
  }
  return { defaultBuild, builds };
}

module.exports = { buildInits };
