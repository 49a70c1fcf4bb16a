// A copy of the package that every user can read, for tests whose processes run as another user:
// a script run as nobody, or an init that runs as the uid a user namespace maps root to. The
// checkout may be in a folder other users cannot enter (a `mktemp -d` folder, /root, most home
// folders are 0700), and so may the Node binary (the CI matrix runs Node builds installed under
// the checkout). The copy holds the package as a user's install would (package.json, dist/, the
// addon and the init, the runtime dependencies package.json declares), the test fixtures, and Node
// itself when nobody cannot run the one running the tests. One copy per test file, made on first
// use, removed after its last test.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const projectRoot = path.join(__dirname, '..');

/**
 * A command line that runs `command` as nobody (uid and gid 65534, no groups, no capabilities) in
 * `cwd`. setpriv still holds root's capabilities when it calls execve, so it execs env, which runs
 * without them, and env changes the working directory and execs the command: every folder on the
 * way to both is walked as nobody.
 */
function asNobodyIn(cwd: string, command: string[]): string[] {
  return ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--', 'env', `--chdir=${cwd}`, ...command];
}

export interface PublicInstall {
  /** A folder (0755) laid out like the checkout: dist/, build/Release/, node_modules/, test/fixtures/. */
  root: string;
  /** A Node binary nobody can run: process.execPath when nobody can reach it, else a copy. */
  node: string;
}

let install: PublicInstall | undefined;

afterAll(() => {
  if (install) fs.rmSync(install.root, { recursive: true, force: true });
  install = undefined;
});

/** Runs `node -e code` as nobody in `cwd`: asks the kernel, not the file modes, whether nobody can. */
function nobodyCanRun(node: string, cwd: string, code = ''): boolean {
  const [command, ...args] = asNobodyIn(cwd, [node, '-e', code]);
  return spawnSync(command, args, { stdio: 'ignore' }).status === 0;
}

/** The folder of an installed package, found as require() would find it from `from`. */
function packageFolder(name: string, from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (dir === path.dirname(dir)) throw new Error(`runtime dependency ${name} is not installed (npm install)`);
  }
}

/** The packages `dependencies` names, and theirs, each once: what the library may load at run time. */
function runtimeDependencyFolders(): string[] {
  const found = new Set<string>();
  const visit = (folder: string): void => {
    const manifest = JSON.parse(fs.readFileSync(path.join(folder, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    for (const name of Object.keys(manifest.dependencies ?? {})) {
      const dependency = packageFolder(name, folder);
      if (found.has(dependency)) continue;
      found.add(dependency);
      visit(dependency);
    }
  };
  visit(projectRoot);
  return [...found];
}

function copyInto(root: string, source: string): void {
  fs.cpSync(source, path.join(root, path.relative(projectRoot, source)), { recursive: true });
}

/** Node inside the copy: a hard link when the file system allows one (no 100 MB copy), else a copy. */
function copyNode(root: string): string {
  const copy = path.join(root, 'node');
  try {
    fs.linkSync(process.execPath, copy);
  } catch {
    fs.copyFileSync(process.execPath, copy);
  }
  fs.chmodSync(copy, 0o755);
  return copy;
}

/** The copy for this test file. */
export function publicInstall(): PublicInstall {
  if (install) return install;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pidns-public-'));
  try {
    fs.chmodSync(root, 0o755);
    const release = path.join(projectRoot, 'build', 'Release');
    for (const source of [
      path.join(projectRoot, 'package.json'),
      path.join(projectRoot, 'dist'),
      path.join(release, 'pidns.node'),
      path.join(release, 'pidns-init'),
      path.join(projectRoot, 'test', 'fixtures'),
      ...runtimeDependencyFolders(),
    ]) copyInto(root, source);
    const node = nobodyCanRun(process.execPath, root) ? process.execPath : copyNode(root);
    if (!nobodyCanRun(node, root, `require(${JSON.stringify(path.join(root, 'dist'))})`))
      throw new Error(`nobody cannot load the library copied to ${root}: is ${os.tmpdir()} (os.tmpdir()) open to other users?`);
    install = { root, node };
    return install;
  } catch (err) {
    fs.rmSync(root, { recursive: true, force: true });
    throw err;
  }
}

/** The copy of a file of the checkout (a fixture, dist/cli.js) in publicInstall(). */
export function inPublicInstall(file: string): string {
  return path.join(publicInstall().root, path.relative(projectRoot, file));
}

/** The library as loaded from publicInstall() (its own instance of the addon). */
export function loadPublicInstall(): typeof import('../lib') {
  return require(path.join(publicInstall().root, 'dist')) as typeof import('../lib');
}

/**
 * The command line that runs a script of the checkout as nobody, from publicInstall() and with it
 * as the working directory: the caller's may be closed to nobody, and Node (a package.json lookup
 * for `node -e` on Node 24) and the commands a script starts work in theirs.
 */
export function asNobody(script: string, args: string[] = []): string[] {
  const { root, node } = publicInstall();
  return asNobodyIn(root, [node, inPublicInstall(script), ...args]);
}
