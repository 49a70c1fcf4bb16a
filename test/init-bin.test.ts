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
const NOT_BUILT = /^pidns-init: not built: \S+\/build\/Release\/pidns-init does not exist \(.*npm rebuild pidns\)\n$/;

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

/** A folder laid out as an installed package, as far as the bin and the install script go. */
function packageCopy(folder: string, { built }: { built: boolean }): string {
  fs.mkdirSync(path.join(folder, 'bin'), { recursive: true });
  fs.mkdirSync(path.join(folder, 'scripts'));
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(folder, 'package.json'));
  fs.copyFileSync(BIN, path.join(folder, 'bin/pidns-init'));
  fs.copyFileSync(INSTALL, path.join(folder, 'scripts/install.js'));
  if (built) {
    fs.mkdirSync(path.join(folder, 'build/Release'), { recursive: true });
    fs.copyFileSync(BUILT, path.join(folder, 'build/Release/pidns-init'));
  }
  return folder;
}

const isElf = (file: string): boolean => fs.readFileSync(file).subarray(0, 4).equals(Buffer.from('\x7fELF', 'latin1'));

describe('the bin pidns-init in the checkout', () => {
  test('package.json names it, ships it and runs scripts/install.js after node-gyp', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    expect(manifest.bin).toEqual({ pidns: 'dist/cli.js', 'pidns-init': 'bin/pidns-init' });
    expect(manifest.files).toEqual(expect.arrayContaining(['bin', 'scripts/install.js']));
    expect(manifest.scripts.install).toBe('node-gyp rebuild && node scripts/install.js');
  });

  test('is the tracked, executable script, unchanged by the build and by the install script', () => {
    expect(git('ls-files', '--stage', '--', 'bin/')).toMatch(/^100755 [0-9a-f]+ 0\tbin\/pidns-init\n$/);
    expect(fs.readFileSync(BIN, 'utf8')).toMatch(/^#!\/bin\/sh\n/);
    // The build (npm install, npm run build) has run: the tests need it.
    expect(fs.statSync(BUILT).isFile()).toBe(true);
    expect(git('status', '--porcelain', '--', 'bin/')).toBe('');
    const before = fs.readFileSync(BIN);
    // What `npm install` runs in the checkout after node-gyp rebuild.
    const install = run(process.execPath, [INSTALL], { cwd: ROOT });
    expect({ status: install.status, stdout: install.stdout, stderr: install.stderr }).toEqual({ status: 0, stdout: '', stderr: '' });
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
  const install = (folder: string) => run(process.execPath, [path.join(folder, 'scripts/install.js')], { cwd: folder });

  test.each(['node_modules/pidns', 'node_modules/@scope/pidns', 'app/node_modules/.pnpm/pidns@0.1.0/node_modules/pidns'])(
    'in a dependency (%s), replaces the placeholder with a copy of the built init',
    (where) => {
      const folder = packageCopy(path.join(dir, 'dependency', where), { built: true });
      const r = install(folder);
      expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ status: 0, stdout: '', stderr: '' });
      const bin = path.join(folder, 'bin/pidns-init');
      expect(isElf(bin)).toBe(true);
      expect(fs.readFileSync(bin).equals(fs.readFileSync(BUILT))).toBe(true);
      expect(fs.statSync(bin).mode & 0o7777).toBe(0o755);
      expect(fs.readdirSync(path.join(folder, 'bin'))).toEqual(['pidns-init']);
      expect(run(bin, ['--', 'sh', '-c', 'exit 8']).status).toBe(8);
      // Again, as npm rebuild does: the bin is the built init still.
      expect(install(folder).status).toBe(0);
      expect(fs.readFileSync(bin).equals(fs.readFileSync(BUILT))).toBe(true);
    },
  );

  test('the link npm made before the install script ran leads to the replaced file', () => {
    const modules = path.join(dir, 'linked-first/node_modules');
    const folder = packageCopy(path.join(modules, 'pidns'), { built: true });
    fs.mkdirSync(path.join(modules, '.bin'));
    fs.symlinkSync('../pidns/bin/pidns-init', path.join(modules, '.bin/pidns-init'));
    expect(install(folder).status).toBe(0);
    expect(isElf(path.join(modules, '.bin/pidns-init'))).toBe(true);
    expect(run(path.join(modules, '.bin/pidns-init'), ['--', 'sh', '-c', 'exit 2']).status).toBe(2);
  });

  test.each([
    ['outside node_modules (a checkout)', 'checkout/pidns', false],
    ['in node_modules with a .git (a clone)', 'clone/node_modules/pidns', true],
  ])('%s, leaves the placeholder', (_name, where, withGit) => {
    const folder = packageCopy(path.join(dir, where), { built: true });
    if (withGit) fs.mkdirSync(path.join(folder, '.git'));
    const r = install(folder);
    expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ status: 0, stdout: '', stderr: '' });
    expect(fs.readFileSync(path.join(folder, 'bin/pidns-init')).equals(fs.readFileSync(BIN))).toBe(true);
  });

  test('in a dependency where no init was built, fails and leaves the placeholder', () => {
    const folder = packageCopy(path.join(dir, 'failed/node_modules/pidns'), { built: false });
    const r = install(folder);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('build/Release/pidns-init was not built');
    expect(fs.readFileSync(path.join(folder, 'bin/pidns-init')).equals(fs.readFileSync(BIN))).toBe(true);
    expect(fs.readdirSync(path.join(folder, 'bin'))).toEqual(['pidns-init']);
  });
});
