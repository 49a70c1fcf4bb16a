// The package's bin pidns-init: the tracked placeholder script (bin/pidns-init), which execs the
// init built beside it, and scripts/install.js, which replaces it with the built init where the
// package is installed as a dependency and leaves the checkout as it is. (scripts/ci-pack.sh
// checks the same through npm itself: npm install, npm ci, npm ci --ignore-scripts.) What the
// tests check is read from the kernel (/proc, exit statuses), the files and git.
import { spawn, spawnSync, SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initPath } from '../lib';
import { describeAsRoot } from './root';

const ROOT = path.resolve(__dirname, '..');
const BIN = path.join(ROOT, 'bin/pidns-init');
const INSTALL = path.join(ROOT, 'scripts/install.js');
const BUILT = path.join(ROOT, 'build/Release/pidns-init');
const NOT_BUILT = /^pidns-init: not built: \S+\/build\/Release\/pidns-init does not exist, and there is no prebuilt init for linux-(x64|arm64) \(.*npm rebuild pidns\)\n$/;
const ADDON = path.join(ROOT, 'build/Release/pidns.node');
const ARCH = `${process.platform}-${process.arch}`;

let dir = '';
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pidns-init-bin-'));
});
afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function run(file: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): SpawnSyncReturns<string> {
  const result = spawnSync(file, args, { encoding: 'utf8', timeout: 10000, ...options });
  if (result.error) throw result.error;
  return result;
}

function git(...args: string[]): string {
  const result = run('git', ['-C', ROOT, ...args]);
  if (result.status !== 0) throw new Error(`git ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  return result.stdout;
}

/**
 * A folder laid out as an installed package, as far as the bin and the install script go: with
 * an init built in build/Release, and with prebuilt files for this machine in prebuilds/ (copies
 * of this checkout's build, which load in this Node).
 */
function packageCopy(folder: string, { built, prebuilt = false }: { built: boolean; prebuilt?: boolean }): string {
  fs.mkdirSync(path.join(folder, 'bin'), { recursive: true });
  fs.mkdirSync(path.join(folder, 'scripts'));
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(folder, 'package.json'));
  fs.copyFileSync(BIN, path.join(folder, 'bin/pidns-init'));
  fs.copyFileSync(INSTALL, path.join(folder, 'scripts/install.js'));
  if (built) {
    fs.mkdirSync(path.join(folder, 'build/Release'), { recursive: true });
    fs.copyFileSync(BUILT, path.join(folder, 'build/Release/pidns-init'));
  }
  if (prebuilt) {
    fs.mkdirSync(path.join(folder, 'prebuilds', ARCH), { recursive: true });
    fs.copyFileSync(BUILT, path.join(folder, 'prebuilds', ARCH, 'pidns-init'));
    fs.copyFileSync(ADDON, path.join(folder, 'prebuilds', ARCH, 'pidns.node'));
  }
  return folder;
}

/**
 * A stand-in for node-gyp, named to the install script as npm names its own
 * (npm_config_node_gyp): it writes each call (folder and arguments) to a log, and with
 * STUB_BUILD=1 puts this checkout's init in the folder's build/Release as a build would; with
 * STUB_EXIT=N it exits N.
 */
function nodeGypStub(): { env: NodeJS.ProcessEnv; calls: () => string[] } {
  const stub = path.join(dir, `node-gyp-stub-${Math.random().toString(36).slice(2)}.js`);
  const log = `${stub}.log`;
  fs.writeFileSync(
    stub,
    `const fs = require('fs'); const path = require('path');
     fs.appendFileSync(${JSON.stringify(log)}, process.cwd() + ' ' + process.argv.slice(2).join(' ') + '\\n');
     if (process.env.STUB_BUILD === '1') {
       fs.mkdirSync('build/Release', { recursive: true });
       fs.copyFileSync(${JSON.stringify(BUILT)}, 'build/Release/pidns-init');
     }
     process.exit(Number(process.env.STUB_EXIT || 0));`,
  );
  return {
    env: { ...process.env, npm_config_node_gyp: stub, npm_config_build_from_source: '', PIDNS_BUILD_FROM_SOURCE: '', STUB_BUILD: '1' },
    calls: () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean) : []),
  };
}

const isElf = (file: string): boolean => fs.readFileSync(file).subarray(0, 4).equals(Buffer.from('\x7fELF', 'latin1'));

describe('the bin pidns-init in the checkout', () => {
  test('package.json names it, ships it and runs scripts/install.js, which builds or takes the prebuilt files', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    expect(manifest.bin).toEqual({ pidns: 'dist/cli.js', 'pidns-init': 'bin/pidns-init' });
    expect(manifest.files).toEqual(expect.arrayContaining(['bin', 'scripts/install.js', 'prebuilds', 'LICENSE']));
    expect(manifest.scripts.install).toBe('node scripts/install.js');
  });

  test('is the tracked, executable script, unchanged by the build and by the install script', () => {
    expect(git('ls-files', '--stage', '--', 'bin/')).toMatch(/^100755 [0-9a-f]+ 0\tbin\/pidns-init\n$/);
    expect(fs.readFileSync(BIN, 'utf8')).toMatch(/^#!\/bin\/sh\n/);
    // The build (npm install, npm run build) has run: the tests need it.
    expect(fs.statSync(BUILT).isFile()).toBe(true);
    expect(git('status', '--porcelain', '--', 'bin/')).toBe('');
    const before = fs.readFileSync(BIN);
    // What `npm install` runs in the checkout: it builds from source (node-gyp, a stand-in here,
    // which leaves the real build alone), whatever lies in prebuilds/.
    const gyp = nodeGypStub();
    const install = run(process.execPath, [INSTALL], { cwd: ROOT, env: { ...gyp.env, STUB_BUILD: '0' } });
    expect({ status: install.status, stdout: install.stdout, stderr: install.stderr }).toEqual({
      status: 0,
      stdout: "pidns: building from source: this is the package's own checkout\n",
      stderr: '',
    });
    expect(gyp.calls()).toEqual([`${ROOT} rebuild`]);
    expect(fs.readFileSync(BIN).equals(before)).toBe(true);
    expect(git('status', '--porcelain', '--', 'bin/')).toBe('');
  });

  test('runs the built init, which exits with its command\'s status', () => {
    const r = run(BIN, ['--', 'sh', '-c', 'exit 3']);
    expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ status: 3, stdout: '', stderr: '' });
    expect(run(BIN, ['--', 'true']).status).toBe(0);
  });

  test('execs the init: the process it was started as is the init, with initPath\'s file', async () => {
    const child = spawn(BIN, ['--', 'sh', '-c', 'echo $PPID; cat /proc/$PPID/comm; tr "\\0" "\\n" </proc/$PPID/cmdline'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const [ppid, comm, argv0, ...rest] = stdout.split('\n');
    // The command's parent is the very process Node started, so the script did not stay to wait.
    expect(Number(ppid)).toBe(child.pid);
    expect(comm).toBe('pidns-init');
    expect(fs.realpathSync(argv0)).toBe(fs.realpathSync(initPath));
    expect(fs.realpathSync(argv0)).toBe(fs.realpathSync(BUILT));
    expect(rest.slice(0, 3)).toEqual(['--', 'sh', '-c']);
  });

  test('passes its arguments on unchanged', () => {
    const args = ['a b', '', '*', 'x\ny', '-c', '$HOME', "'\"", '--'];
    // The init's own option --argv0 reaches it too: the name sh runs under.
    const r = run(BIN, ['--argv0', 'named', '--', 'sh', '-c', 'tr "\\0" "\\n" </proc/$$/cmdline | head -n 1; printf "[%s]" "$0" "$@"', ...args]);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    expect(r.stdout).toBe(`named\n${args.map((a) => `[${a}]`).join('')}`);
  });

  test('runs through symlinks as npm links it, and through PATH', () => {
    // node_modules/.bin/pidns-init -> ../pidns/bin/pidns-init, with node_modules/pidns itself a
    // symlink to the checkout (npm install ../pidns), and one more symlink in front.
    const modules = path.join(dir, 'linked/node_modules');
    fs.mkdirSync(path.join(modules, '.bin'), { recursive: true });
    fs.symlinkSync(ROOT, path.join(modules, 'pidns'));
    fs.symlinkSync('../pidns/bin/pidns-init', path.join(modules, '.bin/pidns-init'));
    fs.symlinkSync('node_modules/.bin/pidns-init', path.join(dir, 'linked/init'));
    for (const file of [path.join(modules, '.bin/pidns-init'), path.join(dir, 'linked/init')]) {
      expect({ file, status: run(file, ['--', 'sh', '-c', 'exit 5']).status }).toEqual({ file, status: 5 });
    }
    const fromPath = run('pidns-init', ['--', 'sh', '-c', 'exit 6'], { env: { ...process.env, PATH: `${path.join(modules, '.bin')}:${process.env.PATH}` } });
    expect(fromPath.status).toBe(6);
    // sh bin/pidns-init from the folder it is in: $0 without a slash.
    expect(run('sh', ['pidns-init', '--', 'sh', '-c', 'exit 4'], { cwd: path.join(ROOT, 'bin') }).status).toBe(4);
  });

  test('with no init built beside it, exits 127 with one line on stderr and nothing on stdout', () => {
    const folder = packageCopy(path.join(dir, 'unbuilt'), { built: false });
    fs.symlinkSync('unbuilt/bin/pidns-init', path.join(dir, 'unbuilt-link'));
    for (const file of [path.join(folder, 'bin/pidns-init'), path.join(dir, 'unbuilt-link')]) {
      const r = run(file, ['--', 'sh', '-c', 'echo ran; exit 0']);
      expect({ file, status: r.status, stdout: r.stdout }).toEqual({ file, status: 127, stdout: '' });
      expect(r.stderr).toMatch(NOT_BUILT);
      expect(r.stderr).toContain(`${fs.realpathSync(folder)}/build/Release/pidns-init`);
    }
  });
});

describeAsRoot('the bin pidns-init as pid 1', () => {
  test('the init, not the script, is pid 1 of a new PID namespace', () => {
    const r = run('unshare', ['--pid', '--fork', '--mount-proc', '--kill-child', '--', BIN, '--', 'sh', '-c', 'echo $PPID; cat /proc/1/comm; exit 9']);
    expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ status: 9, stdout: '1\npidns-init\n', stderr: '' });
  });
});

describe('scripts/install.js', () => {
  const install = (folder: string, env: NodeJS.ProcessEnv) => run(process.execPath, [path.join(folder, 'scripts/install.js')], { cwd: folder, env });
  const USING_PREBUILT = `pidns: using the prebuilt addon and init for ${ARCH}\n`;

  test.each(['node_modules/pidns', 'node_modules/@scope/pidns', 'app/node_modules/.pnpm/pidns@0.1.0/node_modules/pidns'])(
    'in a dependency (%s) with prebuilt files that load, builds nothing and makes the bin the prebuilt init',
    (where) => {
      const folder = packageCopy(path.join(dir, 'dependency', where), { built: false, prebuilt: true });
      const gyp = nodeGypStub();
      const r = install(folder, gyp.env);
      expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ status: 0, stdout: USING_PREBUILT, stderr: '' });
      expect(gyp.calls()).toEqual([]);
      const bin = path.join(folder, 'bin/pidns-init');
      const prebuiltInit = path.join(folder, 'prebuilds', ARCH, 'pidns-init');
      expect(isElf(bin)).toBe(true);
      expect(fs.readFileSync(bin).equals(fs.readFileSync(prebuiltInit))).toBe(true);
      expect(fs.statSync(bin).mode & 0o7777).toBe(0o755);
      expect(fs.readdirSync(path.join(folder, 'bin'))).toEqual(['pidns-init']);
      expect(run(bin, ['--', 'sh', '-c', 'exit 8']).status).toBe(8);
      // Again, as npm rebuild does: the bin is the init still.
      expect(install(folder, gyp.env).status).toBe(0);
      expect(fs.readFileSync(bin).equals(fs.readFileSync(prebuiltInit))).toBe(true);
    },
  );

  test('choosing the prebuilt files removes an earlier build, which the addon search would prefer', () => {
    const folder = packageCopy(path.join(dir, 'rebuilt/node_modules/pidns'), { built: true, prebuilt: true });
    const r = install(folder, nodeGypStub().env);
    expect(r.stdout).toBe(USING_PREBUILT);
    expect(fs.existsSync(path.join(folder, 'build'))).toBe(false);
  });

  test.each([
    ['no prebuilt files for this machine', {}, false, /^pidns: building from source: the package has no prebuilt files for linux-(x64|arm64)\n$/],
    ['npm install --build-from-source', { npm_config_build_from_source: 'true' }, true, /^pidns: building from source: a build from source was asked for \(--build-from-source\)\n$/],
    ['PIDNS_BUILD_FROM_SOURCE=1', { PIDNS_BUILD_FROM_SOURCE: '1' }, true, /^pidns: building from source: a build from source was asked for \(PIDNS_BUILD_FROM_SOURCE\)\n$/],
  ])('in a dependency, %s: node-gyp rebuild, and the bin is the built init', (_name, extra, prebuilt, said) => {
    const folder = packageCopy(path.join(dir, `source-${Math.random().toString(36).slice(2)}/node_modules/pidns`), { built: false, prebuilt });
    const gyp = nodeGypStub();
    const r = install(folder, { ...gyp.env, ...extra });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    expect(r.stdout).toMatch(said);
    expect(gyp.calls()).toEqual([`${fs.realpathSync(folder)} rebuild`]);
    expect(fs.readFileSync(path.join(folder, 'bin/pidns-init')).equals(fs.readFileSync(BUILT))).toBe(true);
  });

  test('a prebuilt addon that does not load in this Node (another architecture\'s, say) is built from source', () => {
    const folder = packageCopy(path.join(dir, 'foreign/node_modules/pidns'), { built: false, prebuilt: true });
    // An ELF shared object of another machine: the arm64 build on x64, or the x64 one on arm64.
    const other = path.join(ROOT, 'prebuilds', process.arch === 'x64' ? 'linux-arm64' : 'linux-x64', 'pidns.node');
    if (fs.existsSync(other)) fs.copyFileSync(other, path.join(folder, 'prebuilds', ARCH, 'pidns.node'));
    else fs.writeFileSync(path.join(folder, 'prebuilds', ARCH, 'pidns.node'), '\x7fELF not an addon');
    const gyp = nodeGypStub();
    const r = install(folder, gyp.env);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    expect(r.stdout).toMatch(/^pidns: building from source: the prebuilt addon does not load in this Node \(Error: .*pidns\.node.*\)\n$/);
    expect(gyp.calls()).toHaveLength(1);
    expect(fs.readFileSync(path.join(folder, 'bin/pidns-init')).equals(fs.readFileSync(BUILT))).toBe(true);
  });

  test('a prebuilt init that does not run here is built from source', () => {
    const folder = packageCopy(path.join(dir, 'noexec/node_modules/pidns'), { built: false, prebuilt: true });
    fs.writeFileSync(path.join(folder, 'prebuilds', ARCH, 'pidns-init'), '\x7fELF truncated');
    const gyp = nodeGypStub();
    const r = install(folder, gyp.env);
    expect(r.stdout).toMatch(/^pidns: building from source: the prebuilt init does not run here \(.*\)\n$/);
    expect(gyp.calls()).toHaveLength(1);
  });

  test('the link npm made before the install script ran leads to the replaced file', () => {
    const modules = path.join(dir, 'linked-first/node_modules');
    const folder = packageCopy(path.join(modules, 'pidns'), { built: false, prebuilt: true });
    fs.mkdirSync(path.join(modules, '.bin'));
    fs.symlinkSync('../pidns/bin/pidns-init', path.join(modules, '.bin/pidns-init'));
    expect(install(folder, nodeGypStub().env).status).toBe(0);
    expect(isElf(path.join(modules, '.bin/pidns-init'))).toBe(true);
    expect(run(path.join(modules, '.bin/pidns-init'), ['--', 'sh', '-c', 'exit 2']).status).toBe(2);
  });

  test.each([
    ['outside node_modules (a checkout)', 'checkout/pidns', false],
    ['in node_modules with a .git (a clone)', 'clone/node_modules/pidns', true],
  ])('%s, builds from source even with prebuilt files, and leaves the placeholder', (_name, where, withGit) => {
    const folder = packageCopy(path.join(dir, where), { built: false, prebuilt: true });
    if (withGit) fs.mkdirSync(path.join(folder, '.git'));
    const gyp = nodeGypStub();
    const r = install(folder, gyp.env);
    expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ status: 0, stdout: "pidns: building from source: this is the package's own checkout\n", stderr: '' });
    expect(gyp.calls()).toEqual([`${fs.realpathSync(folder)} rebuild`]);
    expect(fs.readFileSync(path.join(folder, 'bin/pidns-init')).equals(fs.readFileSync(BIN))).toBe(true);
  });

  test('when node-gyp fails, exits with its status and leaves the placeholder', () => {
    const folder = packageCopy(path.join(dir, 'failed/node_modules/pidns'), { built: false });
    const gyp = nodeGypStub();
    const r = install(folder, { ...gyp.env, STUB_BUILD: '0', STUB_EXIT: '3' });
    expect(r.status).toBe(3);
    expect(fs.readFileSync(path.join(folder, 'bin/pidns-init')).equals(fs.readFileSync(BIN))).toBe(true);
    expect(fs.readdirSync(path.join(folder, 'bin'))).toEqual(['pidns-init']);
  });

  test('in a dependency where node-gyp made no init, fails and leaves the placeholder', () => {
    const folder = packageCopy(path.join(dir, 'unmade/node_modules/pidns'), { built: false });
    const r = install(folder, { ...nodeGypStub().env, STUB_BUILD: '0' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('build/Release/pidns-init was not built');
    expect(fs.readFileSync(path.join(folder, 'bin/pidns-init')).equals(fs.readFileSync(BIN))).toBe(true);
    expect(fs.readdirSync(path.join(folder, 'bin'))).toEqual(['pidns-init']);
  });

  test('without node-gyp anywhere, says what a build from source needs', () => {
    const folder = packageCopy(path.join(dir, 'nogyp/node_modules/pidns'), { built: false });
    const env: NodeJS.ProcessEnv = { ...nodeGypStub().env, PATH: '/nonexistent' };
    delete env.npm_config_node_gyp;
    const r = install(folder, env);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^pidns: cannot run node-gyp \(.*ENOENT.*\); building from source needs it, with make, a C and C\+\+ compiler and python3\n$/);
  });
});
