// What a Node process run as nobody needs, copied where nobody can read it. The checkout may be in
// a folder other users cannot enter (a `mktemp -d` folder, /root, most home folders are 0700), and
// so may the Node binary (the CI matrix runs Node builds installed under the checkout). The copy
// holds the package as a user's install would (package.json, dist/, the addon and the init, the
// runtime dependencies package.json declares), the test fixtures, and Node itself when nobody
// cannot run the one running the tests. One copy per test file, removed after its last test.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const projectRoot = path.join(__dirname, '..');

/** Runs the rest of a command line as uid and gid 65534, no groups, no inheritable capabilities. */
export const AS_NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--'];

export interface NobodyStage {
  /** A folder (0755) laid out like the checkout: dist/, build/Release/, node_modules/, test/fixtures/. */
  root: string;
  /** A Node binary nobody can run: process.execPath when nobody can reach it, else a copy. */
  node: string;
}

let stage: NobodyStage | undefined;

afterAll(() => {
  if (stage) fs.rmSync(stage.root, { recursive: true, force: true });
  stage = undefined;
});

/** Runs `node -e code` as nobody: asks the kernel, not the file modes, whether every folder on the way lets nobody in. */
function nobodyCanRun(node: string, code = ''): boolean {
  return spawnSync(AS_NOBODY[0], [...AS_NOBODY.slice(1), node, '-e', code], { stdio: 'ignore' }).status === 0;
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

function copyIntoStage(root: string, source: string): void {
  fs.cpSync(source, path.join(root, path.relative(projectRoot, source)), { recursive: true });
}

/** The Node binary inside the stage: a hard link when the file system allows one (no 100 MB copy), else a copy. */
function stageNode(root: string): string {
  const staged = path.join(root, 'node');
  try {
    fs.linkSync(process.execPath, staged);
  } catch {
    fs.copyFileSync(process.execPath, staged);
  }
  fs.chmodSync(staged, 0o755);
  return staged;
}

/** The stage for this test file, made on first use. */
export function nobodyStage(): NobodyStage {
  if (stage) return stage;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pidns-nobody-'));
  fs.chmodSync(root, 0o755);
  stage = { root, node: process.execPath };
  const release = path.join(projectRoot, 'build', 'Release');
  for (const source of [
    path.join(projectRoot, 'package.json'),
    path.join(projectRoot, 'dist'),
    path.join(release, 'pidns.node'),
    path.join(release, 'pidns-init'),
    path.join(projectRoot, 'test', 'fixtures'),
    ...runtimeDependencyFolders(),
  ]) copyIntoStage(root, source);
  if (!nobodyCanRun(process.execPath)) stage.node = stageNode(root);
  if (!nobodyCanRun(stage.node, `require(${JSON.stringify(path.join(root, 'dist'))})`))
    throw new Error(`nobody cannot load the library staged in ${root}: is ${os.tmpdir()} (os.tmpdir()) open to other users?`);
  return stage;
}

/** The command line that runs the script at `script` (a path in the checkout) as nobody, from the stage. */
export function asNobody(script: string, args: string[] = []): string[] {
  const { root, node } = nobodyStage();
  return [...AS_NOBODY, node, path.join(root, path.relative(projectRoot, script)), ...args];
}
