// The pidns command forwards every signal that can be caught, standard and real-time, to the
// command, and none of them ends or stops pidns itself; pidns stops when the command stops.
import { execFileSync, spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FORWARDABLE_SIGNALS } from '../lib/signal-forward';
import { eventually, running, runningMembersOfNamespace, status } from './kernel';
import { describeAsRoot } from './root';

const CLI = path.join(__dirname, '..', 'dist', 'cli.js');
const SIGRTMIN = 34;
const ROUNDS = 20;
/** SIGCONT, SIGTSTP, SIGTTIN, SIGTTOU. */
const JOB_CONTROL = ['SIGCONT', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU'].map((name) => os.constants.signals[name as 'SIGCONT']);

let recorder: string;

beforeAll(() => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pidns-cli-signals-'));
  recorder = path.join(dir, 'signal-recorder');
  execFileSync('cc', ['-O2', '-o', recorder, path.join(__dirname, 'fixtures', 'signal-recorder.c')]);
});

/** A `pidns ...` running the signal recorder: what it received, by signal number. */
class Recorded {
  readonly pidns: ChildProcess;
  readonly received = new Map<number, number>();
  /** Signal numbers in the order the command received them. */
  readonly order: number[] = [];
  /** The spawn event of --status-fd 3. */
  readonly spawned: Promise<{ pid: number; namespaceId: number }>;
  readonly finished: Promise<number | null>;
  #text = '';
  #waiters: (() => void)[] = [];

  constructor(args: string[]) {
    this.pidns = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'inherit', 'pipe'] });
    this.pidns.stdout!.setEncoding('utf8').on('data', (text: string) => {
      this.#text += text;
      const lines = this.#text.split('\n');
      this.#text = lines.pop()!;
      for (const line of lines) {
        if (line === 'ready') continue;
        const signo = Number(line);
        this.order.push(signo);
        this.received.set(signo, (this.received.get(signo) ?? 0) + 1);
      }
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.spawned = new Promise((resolve) => {
      let events = '';
      (this.pidns.stdio[3] as NodeJS.ReadableStream).setEncoding('utf8').on('data', (text: string) => {
        events += text;
        if (events.includes('\n')) resolve(JSON.parse(events.slice(0, events.indexOf('\n'))) as { pid: number; namespaceId: number });
      });
    });
    this.finished = new Promise((resolve) => this.pidns.once('close', (code) => resolve(code)));
  }

  until(check: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const test = () => (check() ? resolve() : this.#waiters.push(test));
      test();
    });
  }

  /** Resolves once the recorder has installed its handlers. */
  ready(): Promise<void> {
    return new Promise((resolve) => {
      const look = (text: string) => {
        if (!text.includes('ready')) return;
        this.pidns.stdout!.off('data', look);
        resolve();
      };
      this.pidns.stdout!.on('data', look);
    });
  }

  /** pidns is alive and neither stopped nor exiting, as the kernel sees it. */
  pidnsRunning(): boolean {
    return running(this.pidns.pid!) && !status(this.pidns.pid!).get('State')!.startsWith('T');
  }

  /** Ends the command with SIGKILL (which cannot be forwarded or caught); pidns's exit status. */
  async end(): Promise<number | null> {
    process.kill((await this.spawned).pid, 'SIGKILL');
    return this.finished;
  }
}

const started: Recorded[] = [];
/** `pidns COMMAND [OPTIONS] --status-fd 3 -- ARGV`, with options as written ('run --signal-group'). */
function record(options: string, argv: string[]): Recorded {
  const run = new Recorded([...options.split(' '), '--status-fd', '3', '--', ...argv]);
  started.push(run);
  return run;
}

afterEach(async () => {
  for (const run of started.splice(0)) {
    if (run.pidns.exitCode === null && run.pidns.signalCode === null) {
      run.pidns.kill('SIGKILL');
      throw new Error(`pidns ${run.pidns.spawnargs.slice(2).join(' ')} was still running`);
    }
    const { namespaceId } = await run.spawned;
    expect(await eventually(() => runningMembersOfNamespace(namespaceId).length === 0)).toBe(true);
  }
});

const signalName = (signo: number) => (signo >= SIGRTMIN ? `SIGRTMIN+${signo - SIGRTMIN}` : Object.entries(os.constants.signals).find(([, n]) => n === signo)![0]);

/** Sends pidns every forwardable signal, each once the one before has reached the command. */
async function sendEachOnce(run: Recorded): Promise<void> {
  await run.ready();
  for (const signo of FORWARDABLE_SIGNALS) {
    process.kill(run.pidns.pid!, signo);
    await run.until(() => run.received.has(signo));
    expect(run.pidnsRunning()).toBe(true);
  }
  expect(run.order.map(signalName)).toEqual(FORWARDABLE_SIGNALS.map(signalName));
}

describeAsRoot('pidns: every catchable signal is forwarded', () => {
  test('the list is every signal but SIGKILL, SIGSTOP and SIGCHLD (and the C library\'s 32 and 33)', () => {
    const expected = Array.from({ length: 64 }, (_, i) => i + 1).filter((s) => ![9, 17, 19, 32, 33].includes(s));
    expect(FORWARDABLE_SIGNALS).toEqual(expected);
  });

  test.each([
    ['run'],
    ['run --signal-group'],
    ['run --no-init'],
  ])('%s: each signal reaches the command once and pidns lives on', async (options) => {
    const run = record(options, [recorder]);
    await sendEachOnce(run);
    expect(await run.end()).toBe(128 + 9);
  });

  test('exec: each signal reaches the command that joined, and pidns lives on', async () => {
    const pod = record('run', ['sleep', '100']);
    const { pid: podPid } = await pod.spawned;
    const run = record(`exec --target ${podPid}`, [recorder]);
    await sendEachOnce(run);
    expect(await run.end()).toBe(128 + 9);
    expect(await pod.end()).toBe(128 + 9);
  });

  test.each([['run'], ['run --signal-group']])('%s: a storm of 20 rounds of every signal; real-time ones all arrive, pidns lives on', async (options) => {
    const run = record(options, [recorder]);
    await run.ready();
    for (let round = 0; round < ROUNDS; round++) {
      for (const signo of FORWARDABLE_SIGNALS) process.kill(run.pidns.pid!, signo);
    }
    // Real-time signals queue, so every one is delivered. Standard ones pending at once merge,
    // and the kernel discards a pending SIGCONT when a stop signal comes (and pending stop
    // signals when SIGCONT comes), in pidns as in the command: those may not arrive at all.
    const merged = (signo: number) => (JOB_CONTROL.includes(signo) ? 0 : 1);
    await run.until(() => FORWARDABLE_SIGNALS.every((signo) => (run.received.get(signo) ?? 0) >= (signo >= SIGRTMIN ? ROUNDS : merged(signo))));
    expect(run.pidnsRunning()).toBe(true);
    for (const signo of FORWARDABLE_SIGNALS) {
      const count = run.received.get(signo) ?? 0;
      if (signo >= SIGRTMIN) expect([signalName(signo), count]).toEqual([signalName(signo), ROUNDS]);
      else expect(count).toBeLessThanOrEqual(ROUNDS);
    }
    // After the storm, each of those still gets through.
    for (const signo of JOB_CONTROL) {
      const before = run.received.get(signo) ?? 0;
      process.kill(run.pidns.pid!, signo);
      await run.until(() => (run.received.get(signo) ?? 0) > before);
    }
    expect(run.pidnsRunning()).toBe(true);
    expect(await run.end()).toBe(128 + 9);
  });
});
