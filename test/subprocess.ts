// Running a script of ours in another Node process: as another user, with other limits, or to be
// killed. Scripts require the compiled library from dist/ (npm test builds it first); run as
// another user, they run from a copy every user can read (see public-install.ts).
import { spawn, spawnSync, type SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { asNobody, inPublicInstall, publicInstall } from './public-install';

export const fixture = (name: string): string => path.join(__dirname, 'fixtures', name);

/**
 * Builds fixtures/NAME.c with cc (there wherever the addon could be built), warning-free, into a
 * new folder every user can enter (such programs often run as another uid), and returns the
 * program's path. removeBuiltFixture removes the folder.
 */
export function buildFixture(name: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `pidns-${name}-`));
  fs.chmodSync(dir, 0o755);
  const program = path.join(dir, name);
  const cc = spawnSync('cc', ['-Wall', '-Wextra', '-O2', '-o', program, fixture(`${name}.c`)], { encoding: 'utf8' });
  if (cc.status !== 0 || cc.stderr !== '') throw new Error(`cc ${name}.c failed (${cc.status}): ${cc.stderr}`);
  return program;
}

export function removeBuiltFixture(program: string): void {
  fs.rmSync(path.dirname(program), { recursive: true, force: true });
}

/**
 * Runs `node fixtures/NAME args...`, optionally as nobody (setpriv drops every capability), or from
 * the copy of the package every user can read (implied by asNobody; for commands that run as
 * another uid, such as a user namespace's root mapped elsewhere).
 */
export function runFixture(name: string, args: string[] = [], options: { asNobody?: boolean; fromPublicInstall?: boolean; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): SpawnSyncReturns<string> {
  const command = options.asNobody
    ? asNobody(fixture(name), args)
    : options.fromPublicInstall
      ? [publicInstall().node, inPublicInstall(fixture(name)), ...args]
      : [process.execPath, fixture(name), ...args];
  return spawnSync(command[0], command.slice(1), {
    encoding: 'utf8',
    env: { ...process.env, ...options.env },
    timeout: options.timeoutMs ?? 20000,
  });
}

/** Starts a fixture in the background and resolves with its first line of output (JSON). */
export function startFixture(name: string, args: string[] = [], env?: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [fixture(name), ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const firstLine = new Promise<Record<string, unknown>>((resolve, reject) => {
    let text = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      text += d;
      const nl = text.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(text.slice(0, nl)));
    });
    child.once('exit', (code) => reject(new Error(`fixture ${name} exited ${code} before reporting`)));
  });
  return { child, firstLine };
}
