// The init program run on its own, for the tests of it (init-program, init-flags): launched
// directly (a child subreaper, not pid 1) or as pid 1 of a new namespace under util-linux unshare,
// with what the kernel says about the processes read from /proc. Each test gets a new folder, $DIR
// in the environment of what it launches; what a test left running is killed after it.
import { ChildProcess, spawn, SpawnOptions } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const INIT = path.resolve(__dirname, '../build/Release/pidns-init');
export const UNSHARE = ['unshare', '--pid', '--fork', '--kill-child', '--'];


export const started: ChildProcess[] = [];
export const strays: number[] = [];
export let dir = '';

export interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Running {
  child: ChildProcess;
  outcome: Promise<Outcome>;
}

export function launch(argv: readonly string[], options: SpawnOptions = {}): Running {
  const child = spawn(argv[0], argv.slice(1), {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...options,
    env: { ...process.env, DIR: dir, ...options.env },
  });
  started.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const outcome = new Promise<Outcome>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, outcome };
}

export function initArgv(pid1: boolean, args: readonly string[]): string[] {
  return pid1 ? [...UNSHARE, INIT, ...args] : [INIT, ...args];
}

export function run(argv: readonly string[], options: SpawnOptions = {}): Promise<Outcome> {
  return launch(argv, options).outcome;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function waitFor<T>(probe: () => T | undefined | null | false, what: string, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export function readFile(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

export function status(pid: number): Record<string, string> | null {
  const text = readFile(`/proc/${pid}/status`);
  if (text === null) return null;
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  return fields;
}

export function childrenOf(pid: number): number[] {
  const text = readFile(`/proc/${pid}/task/${pid}/children`) ?? '';
  return text.split(' ').filter(Boolean).map(Number);
}

export function descendantsOf(pid: number): number[] {
  const found: number[] = [];
  for (const child of childrenOf(pid)) found.push(child, ...descendantsOf(child));
  return found;
}

export function comm(pid: number): string | undefined {
  return readFile(`/proc/${pid}/comm`)?.trim();
}

// Field 5 of /proc/PID/stat; the command name before it may hold spaces, so count from ')'.
export function processGroup(pid: number): number {
  const stat = readFile(`/proc/${pid}/stat`) ?? '';
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

export function gone(pid: number): boolean {
  const fields = status(pid);
  return fields === null || fields.State.startsWith('Z');
}

// The init's pid in this (the test's) namespace: the process itself, or unshare's child once it
// has exec'd the init; resolves once the init blocked its signals, so that a signal sent then is
// queued for it rather than acted on by default.
export function initPidOf(running: Running, pid1: boolean): Promise<number> {
  const pid = running.child.pid!;
  return waitFor(() => {
    const init = pid1 ? childrenOf(pid).find((child) => comm(child) === 'pidns-init') : pid;
    if (init === undefined || comm(init) !== 'pidns-init') return undefined;
    return status(init)?.SigBlk !== '0000000000000000' && init;
  }, 'the init');
}

export function commandPidOf(initPid: number, name: string): Promise<number> {
  return waitFor(() => childrenOf(initPid).find((child) => comm(child) === name), `command ${name}`);
}

export function zombiesUnder(ancestor: number): number[] {
  const parents = new Map<number, number>();
  const zombies: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = status(Number(entry));
    if (fields === null) continue;
    parents.set(Number(entry), Number(fields.PPid));
    if (fields.State.startsWith('Z')) zombies.push(Number(entry));
  }
  return zombies.filter((zombie) => {
    for (let pid = parents.get(zombie); pid !== undefined && pid > 0; pid = parents.get(pid)) {
      if (pid === ancestor) return true;
    }
    return false;
  });
}

export function script(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

export function exists(name: string): boolean {
  return fs.existsSync(path.join(dir, name));
}

export function waitForFile(name: string): Promise<true> {
  return waitFor(() => exists(name), name);
}

beforeAll(() => {
  if (!fs.existsSync(INIT)) throw new Error(`${INIT} is missing: build the init first`);
});

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pidns-init-test-'));
});

export function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

afterEach(async () => {
  // Descendants first, so that the launched process (the init, or unshare, whose --kill-child
  // also ends the namespace) reaps them and is reaped by this process; killed the other way
  // round they would be left as zombies of the host's init.
  const running = started
    .splice(0)
    .filter((child) => child.exitCode === null && child.signalCode === null && child.pid !== undefined);
  const victims = strays.splice(0).flatMap((pid) => [...descendantsOf(pid), pid]);
  for (const child of running) victims.push(...descendantsOf(child.pid!));
  victims.forEach(killQuietly);
  await Promise.all(
    running.map(async (child) => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      if (child.exitCode === null && child.signalCode === null) {
        if ((await Promise.race([exited, sleep(2000).then(() => 'late')])) === 'late') {
          killQuietly(child.pid!);
          await exited;
        }
      }
    }),
  );
  fs.rmSync(dir, { recursive: true, force: true });
});
