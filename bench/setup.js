'use strict';
// Everything the benchmark needs before it measures: the programs it compares against, the C
// floor, and a description of the machine so the numbers can be read later.
const { execFileSync, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const OUT_DIR = path.join(__dirname, 'out');
const REPO = path.join(__dirname, '..');

// Binary -> Debian package. Absolute paths are what the cases run, so PATH lookup stays out of
// the timings.
const TOOLS = {
  unshare: { path: '/usr/bin/unshare', pkg: 'util-linux' },
  tini: { path: '/usr/bin/tini', pkg: 'tini' },
  tiniStatic: { path: '/usr/bin/tini-static', pkg: 'tini' },
  dumbInit: { path: '/usr/bin/dumb-init', pkg: 'dumb-init' },
  bwrap: { path: '/usr/bin/bwrap', pkg: 'bubblewrap' },
  // Only to build the musl variant of pidns-init for comparison (bench/inits.js).
  muslGcc: { path: '/usr/bin/musl-gcc', pkg: 'musl-tools' },
};

function log(message) {
  process.stderr.write(`[bench] ${message}\n`);
}

function aptInstall(packages) {
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...packages], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

/** Installs the Debian packages of any compared tool that is missing; returns their paths. */
function ensureTools() {
  const missing = [...new Set(Object.values(TOOLS).filter((t) => !fs.existsSync(t.path)).map((t) => t.pkg))];
  if (missing.length > 0) {
    log(`installing ${missing.join(' ')}`);
    try {
      aptInstall(missing);
    } catch {
      // A fresh container has no package lists yet.
      execFileSync('apt-get', ['update'], { stdio: ['ignore', 'inherit', 'inherit'] });
      aptInstall(missing);
    }
  }
  const paths = {};
  for (const [name, tool] of Object.entries(TOOLS)) {
    if (!fs.existsSync(tool.path)) throw new Error(`${tool.path} is still missing after installing ${tool.pkg}`);
    paths[name] = tool.path;
  }
  return paths;
}

/** Compiles bench/floor.c into bench/out/floor (every run, so it always matches the source). */
function buildFloor() {
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const binary = path.join(OUT_DIR, 'floor');
  execFileSync('cc', ['-O2', '-Wall', '-o', binary, path.join(__dirname, 'floor.c')], { stdio: 'inherit' });
  return binary;
}

function firstLine(file, args) {
  // Some tools print their version on stderr.
  const result = spawnSync(file, args, { encoding: 'utf8' });
  const text = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim();
  return text ? text.split('\n')[0] : 'unknown';
}

function readOr(file, fallback) {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return fallback;
  }
}

function gitRevision() {
  try {
    const rev = execFileSync('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['-C', REPO, 'status', '--porcelain', '--', 'lib', 'src-native', 'binding.gyp'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return dirty ? `${rev} + uncommitted changes` : rev;
  } catch {
    return 'unknown';
  }
}

/** The facts a reader needs to compare these numbers with their own. */
function describeEnvironment(tools) {
  const cpuinfo = readOr('/proc/cpuinfo', '');
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo);
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8'));
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    cpu: model ? model[1] : os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: os.totalmem() / 2 ** 30,
    kernel: `${os.release()} (${os.version()})`,
    loadAverage: os.loadavg()[0].toFixed(2),
    transparentHugepages: /\[(\w+)\]/.exec(readOr('/sys/kernel/mm/transparent_hugepage/enabled', '[unknown]'))[1],
    node: `${process.version} (libuv ${process.versions.uv}, V8 ${process.versions.v8})`,
    pidns: `${pkg.version} (${gitRevision()})`,
    versions: {
      unshare: firstLine(tools.unshare, ['--version']),
      tini: firstLine(tools.tini, ['--version']),
      'dumb-init': firstLine(tools.dumbInit, ['--version']),
      bwrap: firstLine(tools.bwrap, ['--version']),
      cc: firstLine('cc', ['--version']),
      'C library': firstLine('ldd', ['--version']),
      musl: firstLine('dpkg-query', ['-W', '-f', 'musl ${Version}', 'musl']),
    },
  };
}

module.exports = { OUT_DIR, REPO, log, ensureTools, buildFloor, describeEnvironment };
