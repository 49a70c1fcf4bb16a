#!/usr/bin/env node
// npm run prebuild (and prepack): the prebuilt binaries the package carries, so that
// `npm install pidns` needs no compiler on linux-x64 and linux-arm64 with glibc:
//
//   prebuilds/linux-x64/pidns.node     the addon, for glibc
//   prebuilds/linux-x64/pidns-init     the init, static, without a C library
//   prebuilds/linux-arm64/...          the same, cross-compiled
//
// Each architecture is built by node-gyp in a scratch copy of binding.gyp and src-native/, never in
// the checkout's build/ (which the tests use). arm64 is cross-compiled with Debian's
// g++-aarch64-linux-gnu (node-gyp --arch=arm64, CC and CXX naming the cross compilers); the addon
// uses N-API only, whose headers are the same on every architecture.
//
// Every file is checked before it is kept, with objdump (binutils, and binutils-aarch64-linux-gnu
// for arm64):
//   - the addon needs no versioned symbol newer than the official Node 20 binary itself needs
//     (GLIBC_2.28, GLIBCXX_3.4.21, CXXABI_1.3.9), so that it loads wherever that Node runs
//     (RHEL 8, Debian 10, Ubuntu 20.04);
//   - the addon's machine is the architecture it is filed under;
//   - the init is static (no program interpreter, no needed library) and of that machine.
// The files are stripped. They are never committed (.gitignore); `npm pack` puts them in the
// tarball (package.json files).
//
// PIDNS_PREBUILD_ARCHS=x64 (a comma-separated list) builds fewer; the default is all, and a
// missing cross compiler is then an error naming the Debian package, so that a release cannot
// lack one.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.join(__dirname, '..');

/** What each architecture is built with, and what its ELF files say they are. */
const ARCHS = {
  x64: { gnu: 'x86_64-linux-gnu', machine: /x86-64/, cross: false },
  arm64: { gnu: 'aarch64-linux-gnu', machine: /aarch64/, cross: true },
};

/** The newest version of each versioned-symbol family the prebuilt addon may need. */
const NEWEST = { GLIBC: '2.28', GLIBCXX: '3.4.21', CXXABI: '1.3.9' };

function fail(message) {
  console.error(`prebuild: ${message}`);
  process.exit(1);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', ...options });
  if (result.error) fail(`${command}: ${result.error.message}`);
  if (result.status !== 0) fail(`${command} ${args.join(' ')} exited ${result.status}\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

function have(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** Compares dotted versions: negative, zero or positive. */
function compareVersions(a, b) {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** The versioned symbols an ELF file needs that are newer than NEWEST allows. */
function tooNew(objdump, file) {
  const found = [];
  for (const line of run(objdump, ['-T', file]).split('\n')) {
    const match = /\b(GLIBC|GLIBCXX|CXXABI)_([0-9.]+)\)?\s+(\S+)$/.exec(line);
    if (match && / \*UND\* /.test(line) && compareVersions(match[2], NEWEST[match[1]]) > 0) {
      found.push(`${match[3]}@${match[1]}_${match[2]}`);
    }
  }
  return found;
}

/**
 * Node's headers, from the running Node's own folder where it has them (the official builds and
 * Debian's do: PREFIX/include/node), else wherever npm is set to take them from; node-gyp
 * downloads them only when neither has.
 */
function nodedir() {
  const own = path.resolve(process.execPath, '..', '..');
  if (fs.existsSync(path.join(own, 'include', 'node', 'node_api.h'))) return [`--nodedir=${own}`];
  return process.env.npm_config_nodedir ? [`--nodedir=${process.env.npm_config_nodedir}`] : [];
}

function build(arch) {
  const spec = ARCHS[arch];
  const tool = (name) => (spec.cross ? `${spec.gnu}-${name}` : name);
  for (const name of ['gcc', 'g++', 'strip', 'objdump']) {
    if (!have(tool(name))) {
      fail(`${tool(name)} is missing: the ${arch} build needs ${spec.cross ? `Debian's g++-${spec.gnu}` : 'gcc, g++ and binutils'}`);
    }
  }
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), `pidns-prebuild-${arch}-`));
  try {
    fs.copyFileSync(path.join(root, 'binding.gyp'), path.join(scratch, 'binding.gyp'));
    fs.cpSync(path.join(root, 'src-native'), path.join(scratch, 'src-native'), { recursive: true });
    // binding.gyp asks node-addon-api for its headers, from the folder it is in.
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(scratch, 'node_modules'));
    // The init says its version (pidns-init --version) from package.json, which the copy lacks.
    const version = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version;
    const env = { ...process.env, PIDNS_INIT_BUILD: 'nolibc', PIDNS_INIT_VERSION: version };
    if (spec.cross) Object.assign(env, { CC: tool('gcc'), CXX: tool('g++'), LINK: tool('g++'), AR: tool('ar') });
    const nodeGyp = require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] });
    run(process.execPath, [nodeGyp, 'rebuild', `--arch=${arch}`, ...nodedir()], { cwd: scratch, env });

    const out = path.join(root, 'prebuilds', `linux-${arch}`);
    fs.rmSync(out, { recursive: true, force: true });
    fs.mkdirSync(out, { recursive: true });
    const addon = path.join(out, 'pidns.node');
    const init = path.join(out, 'pidns-init');
    fs.copyFileSync(path.join(scratch, 'build', 'Release', 'pidns.node'), addon);
    fs.copyFileSync(path.join(scratch, 'build', 'Release', 'pidns-init'), init);
    run(tool('strip'), ['--strip-unneeded', addon]);
    fs.chmodSync(init, 0o755);

    const objdump = tool('objdump');
    const addonHeaders = run(objdump, ['-f', addon]);
    if (!spec.machine.test(addonHeaders)) fail(`${addon} is not for ${arch}:\n${addonHeaders}`);
    const newer = tooNew(objdump, addon);
    if (newer.length > 0) fail(`${addon} needs symbols newer than Node 20's own binary does: ${newer.join(', ')}`);
    const initHeaders = run(objdump, ['-f', '-p', init]);
    if (!spec.machine.test(initHeaders)) fail(`${init} is not for ${arch}`);
    if (/\bINTERP\b|\bNEEDED\b/.test(initHeaders)) fail(`${init} is not static:\n${initHeaders}`);
    console.log(`prebuild: linux-${arch}: pidns.node ${fs.statSync(addon).size} bytes, pidns-init ${fs.statSync(init).size} bytes`);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

const wanted = (process.env.PIDNS_PREBUILD_ARCHS || Object.keys(ARCHS).join(',')).split(',').filter(Boolean);
for (const arch of wanted) {
  if (!ARCHS[arch]) fail(`PIDNS_PREBUILD_ARCHS: no build for ${arch} (known: ${Object.keys(ARCHS).join(', ')})`);
  build(arch);
}
