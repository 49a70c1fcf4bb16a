// Descriptor exhaustion at every point of a spawn, in every mode: a Node process with a small
// RLIMIT_NOFILE fills its table, then spawns with 0, 1, 2, ... 40 slots free (see
// fixtures/fd-exhaustion.js), each time also with the table filled again right after the spawn
// call, so that what arrives later (the init's report with the command's pidfd, end of file on
// the streams and the IPC channel, the exit) meets a full table as well. Every attempt must end in
// a clear refusal or in the command's exact exit, without hanging, leaking or closing a
// descriptor that is not the library's, and without leaving a process behind.
import { spawn } from 'child_process';
import * as os from 'os';
import { describeAsRoot } from './root';
import { fixture } from './subprocess';

// Low enough that filling the table is quick, high enough for Node and its thread pool.
const NOFILE = 400;
// Slots freed per attempt go up to 40 (the fixture's MAX_FREE), each tried twice.
const ATTEMPTS = 41 * 2;
// A fixture that hangs in every attempt stops itself after 25 s of attempts (its BUDGET_MS).
const RUN_TIMEOUT_MS = 45000;

type Mode = 'init' | 'raw' | 'join' | 'pod' | 'user' | 'ipc' | 'terminal';
type Stdio = 'pipe' | 'ignore';

interface ErrorReport {
  name?: string;
  code?: unknown;
  errno?: unknown;
  syscall?: unknown;
  message?: unknown;
  hint?: unknown;
  thrown?: string;
}

interface Attempt {
  mode: Mode;
  stdio: Stdio;
  pidfd: boolean;
  free: number;
  refill: boolean;
  outcome: 'error' | 'exit' | 'hung';
  stage?: string;
  error?: ErrorReport;
  status?: { code: number | null; signal: string | null };
  pid?: number;
  nsPid?: number;
  initPid?: number | null;
  closed?: boolean;
  leaked: number;
  children: { pid: number; state: string; wchan?: string; stack?: string }[];
  foreign: number[];
  descriptors?: string[];
}

interface Summary {
  summary: true;
  pidfd: boolean;
  warmup: { outcome: string; status?: { code: number | null; signal: string | null } };
  attempts: number;
  complete: boolean;
  outcomes: Record<string, number>;
  targetEnded: boolean;
  startFds: number;
  endFds: number;
  descriptors?: string[];
  children: { pid: number; state: string; wchan?: string; stack?: string }[];
  zombies: number[];
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  attempts: Attempt[];
  summary: Summary | undefined;
  crashed: string | undefined;
  stderr: string;
}

function runFixture(mode: Mode, stdio: Stdio, env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('prlimit', [`--nofile=${NOFILE}:${NOFILE}`, process.execPath, fixture('fd-exhaustion.js'), mode, stdio], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const lines = stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
      resolve({
        code,
        signal,
        attempts: lines.filter((l) => 'free' in l) as unknown as Attempt[],
        summary: lines.find((l) => l.summary) as Summary | undefined,
        crashed: lines.find((l) => l.crashed)?.crashed as string | undefined,
        stderr,
      });
    });
  });
}

/** What pid the command has inside its namespace, by mode. */
function nsPidIsRight(mode: Mode, nsPid: number | undefined): boolean {
  if (typeof nsPid !== 'number') return false;
  switch (mode) {
    case 'raw': return nsPid === 1;
    // The namespace joined holds its init (1) and a sleep (2).
    case 'join': return nsPid > 2;
    // The pod holds its pause init (1).
    case 'pod': return nsPid > 1;
    default: return nsPid === 2;
  }
}

/** A SystemError-shaped refusal: an errno name, its negative number, the failing call, a message naming the code. */
function refusalProblem(error: ErrorReport | undefined): string | null {
  if (!error) return 'no error';
  const { code, errno, syscall, message, hint } = error;
  if (typeof code !== 'string' || !/^E[A-Z0-9]+$/.test(code)) return `code ${String(code)} (${String(error.name)}: ${String(message ?? error.thrown)})`;
  const expected = (os.constants.errno as Record<string, number>)[code];
  if (expected === undefined || errno !== -expected) return `errno ${String(errno)} for ${code}`;
  if (typeof syscall !== 'string' || syscall === '') return `no syscall for ${code}`;
  if (typeof message !== 'string' || !message.includes(code)) return `message without ${code}: ${String(message)}`;
  if (code === 'EMFILE' && typeof hint !== 'string') return 'EMFILE without a hint';
  return null;
}

/** Every way an attempt went wrong, one line each, naming it by mode, stdio, free slots and refill. */
function problemsOf(run: Run, mode: Mode): string[] {
  const problems: string[] = [];
  for (const a of run.attempts) {
    const name = `${a.mode}/${a.stdio}${a.pidfd ? '' : '/no-pidfd'} free=${a.free}${a.refill ? ' refilled after the call' : ''}`;
    const add = (what: string) => problems.push(`${name}: ${what}`);
    if (a.outcome === 'hung') add(`hung (${a.stage})${a.pid !== undefined ? ` pid ${a.pid}` : ''}`);
    else if (a.outcome === 'error') {
      const problem = refusalProblem(a.error);
      if (problem) add(`rejected with ${problem}`);
    } else {
      if (a.status?.code !== 3 || a.status.signal !== null) add(`exited with ${JSON.stringify(a.status)}, not { code: 3 }`);
      if (!(Number.isInteger(a.pid) && a.pid! > 0) || a.pid === a.initPid) add(`resolved with pid ${a.pid} (init ${a.initPid})`);
      if (!nsPidIsRight(mode, a.nsPid)) add(`resolved with nsPid ${a.nsPid}`);
      if (!a.closed) add('its streams never closed');
    }
    if (a.leaked !== 0) add(`${a.leaked > 0 ? `${a.leaked} descriptor(s) left open` : `${-a.leaked} descriptor(s) of the caller's closed`}: ${JSON.stringify(a.descriptors)}`);
    if (a.foreign.length > 0) add(`the caller's descriptors ${a.foreign.join(', ')} were closed or replaced`);
    if (a.children.length > 0) add(`children left: ${JSON.stringify(a.children)}`);
  }
  return problems;
}

function expectClean(run: Run, mode: Mode, pidfd: boolean | null): void {
  expect({ crashed: run.crashed, stderr: run.stderr }).toEqual({ crashed: undefined, stderr: '' });
  expect({ code: run.code, signal: run.signal }).toEqual({ code: 0, signal: null });
  expect(problemsOf(run, mode)).toEqual([]);
  const summary = run.summary!;
  expect(summary).toBeDefined();
  if (pidfd !== null) expect(summary.pidfd).toBe(pidfd);
  expect(summary.warmup).toMatchObject({ outcome: 'exit', status: { code: 3, signal: null } });
  expect({ attempts: summary.attempts, complete: summary.complete }).toEqual({ attempts: ATTEMPTS, complete: true });
  // The range is wide enough: the first attempts ran out of descriptors, the last ones had all
  // they needed, with and without the refill.
  expect(run.attempts[0]).toMatchObject({ outcome: 'error', error: { code: 'EMFILE' } });
  expect(run.attempts.slice(-2).map((a) => a.outcome)).toEqual(['exit', 'exit']);
  expect({ endFds: summary.endFds, descriptors: summary.descriptors }).toEqual({ endFds: summary.startFds, descriptors: undefined });
  expect({ children: summary.children, zombies: summary.zombies, targetEnded: summary.targetEnded }).toEqual({ children: [], zombies: [], targetEnded: true });
}

const MODES: Mode[] = ['init', 'raw', 'join', 'pod', 'user', 'ipc', 'terminal'];
const STDIO: Stdio[] = ['pipe', 'ignore'];

describeAsRoot('descriptor exhaustion at every step of a spawn (RLIMIT_NOFILE, 0 to 40 slots free)', () => {
  // user too: as root it takes the same path (the first child's pipes, the id maps written
  // through /proc) as without root, and the fixture's own start needs no privilege it lacks.
  describe.each(MODES)('%s', (mode) => {
    test.each(STDIO)("stdio %s: EMFILE or exit 3, nothing hung, leaked, closed behind the caller's back or left running", async (stdio) => {
      expectClean(await runFixture(mode, stdio, {}), mode, null);
    }, RUN_TIMEOUT_MS + 5000);
  });

  // The exit watcher for kernels without pidfds: libuv's SIGCHLD and waitpid per child.
  describe.each(['init', 'raw'] as Mode[])('%s without pidfds (PIDNS_NO_PIDFD=1)', (mode) => {
    test.each(STDIO)("stdio %s: EMFILE or exit 3, nothing hung, leaked, closed behind the caller's back or left running", async (stdio) => {
      expectClean(await runFixture(mode, stdio, { PIDNS_NO_PIDFD: '1' }), mode, false);
    }, RUN_TIMEOUT_MS + 5000);
  });
});
