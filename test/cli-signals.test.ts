// The pidns command forwards every signal that can be caught, standard and real-time, to the
// command, and none of them ends or stops pidns itself; pidns stops when the command stops. A
// signal sent while pidns starts reaches the command once it exists.
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

/** What a `pidns run` that was sent a signal early in its life did. */
interface EarlyOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  events: { event: string; [field: string]: unknown }[];
  /** Whether pidns caught SIGHUP (and so, every signal it catches at start) when it was sent the signal. */
  caughtBefore: boolean | null;
}

/** The signals a process catches, from /proc/PID/status; null once it is gone. */
function caughtSignals(pid: number): Set<number> | null {
  try {
    const mask = BigInt(`0x${status(pid).get('SigCgt')!}`);
    return new Set(Array.from({ length: 64 }, (_, i) => i + 1).filter((signo) => ((mask >> BigInt(signo - 1)) & 1n) === 1n));
  } catch {
    return null;
  }
}

/** Processes whose command line contains text. */
function processesWith(text: string): number[] {
  return fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name)).filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes(text);
    } catch {
      return false;
    }
  }).map(Number);
}

/** A command that ends with status 7 on SIGTERM, SIGINT or SIGHUP (or of the signal, before its trap is set). */
const trapping = (marker: string) => ['sh', '-c', `trap "exit 7" TERM INT HUP; while :; do sleep 0.05; done # ${marker}`];

/**
 * Starts `pidns run --status-fd 3 -- CMD`; once `when` resolves, sends it signal; resolves with
 * what came of it, once pidns has ended.
 */
async function signalEarly(signal: NodeJS.Signals, when: (pidns: ChildProcess) => Promise<void>, marker: string, node: string[] = []): Promise<EarlyOutcome> {
  const pidns = spawn(process.execPath, [...node, CLI, 'run', '--status-fd', '3', '--', ...trapping(marker)], { stdio: ['ignore', 'ignore', 'inherit', 'pipe'] });
  let text = '';
  (pidns.stdio[3] as NodeJS.ReadableStream).setEncoding('utf8').on('data', (d: string) => (text += d));
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => pidns.once('close', (code, sig) => resolve({ code, signal: sig })));
  await when(pidns);
  const caught = caughtSignals(pidns.pid!);
  pidns.kill(signal);
  const { code, signal: endedBy } = await closed;
  const events = text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as EarlyOutcome['events'][number]);
  return { code, signal: endedBy, events, caughtBefore: caught === null ? null : caught.has(os.constants.signals.SIGHUP) };
}

/**
 * What a user of tini or docker expects: the command gets the signal once it exists, and its
 * handling decides the status; or, for a signal that came while Node itself was starting, before
 * pidns caught anything, pidns ended of it (128+N to a shell) having started nothing. Either way
 * nothing is left running.
 */
async function expectDeliveredOrNothingStarted(outcome: EarlyOutcome, signal: NodeJS.Signals, marker: string): Promise<void> {
  const signo = os.constants.signals[signal];
  if (outcome.signal !== null) {
    expect({ signal: outcome.signal, events: outcome.events, caughtBefore: outcome.caughtBefore }).toEqual({ signal, events: [], caughtBefore: false });
  } else {
    const [spawned, exited] = outcome.events;
    expect(outcome.events.map((e) => e.event)).toEqual(['spawn', 'exit']);
    // The command's own handling: its trap (7), or the signal itself before the trap was set.
    expect([{ code: 7, signal: null }, { code: null, signal }]).toContainEqual({ code: exited.code, signal: exited.signal });
    expect(outcome.code).toBe(exited.signal === null ? exited.code : 128 + signo);
    expect(await eventually(() => runningMembersOfNamespace(spawned.namespaceId as number).length === 0)).toBe(true);
  }
  expect(await eventually(() => processesWith(marker).length === 0)).toBe(true);
}

describeAsRoot('pidns run: a signal sent while pidns starts', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pidns-early-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test.each([['SIGTERM'], ['SIGINT']] as [NodeJS.Signals][])('%s 0, 5, 20, 50 and 100 ms after the start: the command gets it, or pidns ended before it started anything', async (signal) => {
    for (const ms of [0, 5, 20, 50, 100]) {
      const marker = `pidns-early-${signal}-${ms}-${process.pid}`;
      const outcome = await signalEarly(signal, () => new Promise((resolve) => setTimeout(resolve, ms)), marker);
      await expectDeliveredOrNothingStarted(outcome, signal, marker);
    }
  });

  test.each([['SIGTERM'], ['SIGINT'], ['SIGHUP']] as [NodeJS.Signals][])('%s while the library and its native addon load: held, then delivered to the command', async (signal) => {
    // A preload that holds dist/cli.js at its first require of the addon's loader until told.
    const loading = path.join(dir, `loading-${signal}`);
    const go = path.join(dir, `go-${signal}`);
    const hold = path.join(dir, `hold-${signal}.js`);
    fs.writeFileSync(hold, `
      const Module = require('module');
      const fs = require('fs');
      const load = Module._load;
      let held = false;
      Module._load = function (request, ...rest) {
        if (request === 'bindings' && !held) {
          held = true;
          fs.writeFileSync(${JSON.stringify(loading)}, '');
          const cell = new Int32Array(new SharedArrayBuffer(4));
          for (const end = Date.now() + 20000; !fs.existsSync(${JSON.stringify(go)}) && Date.now() < end; ) Atomics.wait(cell, 0, 0, 5);
        }
        return load.call(this, request, ...rest);
      };
    `);
    const marker = `pidns-loading-${signal}-${process.pid}`;
    let caught: Set<number> | null = null;
    const outcome = await signalEarly(signal, async (pidns) => {
      expect(await eventually(() => fs.existsSync(loading), 20000)).toBe(true);
      caught = caughtSignals(pidns.pid!);
      setTimeout(() => fs.writeFileSync(go, ''), 100);
    }, marker, ['--require', hold]);
    // Before the addon loads, pidns catches every forwardable signal that has a name in Node, but
    // those a real fault raises and those Node ignores (SIGPIPE, SIGXFSZ).
    const notYet = ['SIGSEGV', 'SIGBUS', 'SIGFPE', 'SIGILL', 'SIGPIPE', 'SIGXFSZ'].map((name) => os.constants.signals[name as NodeJS.Signals]);
    const named = new Set(Object.values(os.constants.signals));
    const expected = FORWARDABLE_SIGNALS.filter((signo) => named.has(signo) && !notYet.includes(signo));
    expect(expected.filter((signo) => !caught!.has(signo)).map(signalName)).toEqual([]);
    expect(outcome.caughtBefore).toBe(true);
    expect(outcome.signal).toBeNull();
    await expectDeliveredOrNothingStarted(outcome, signal, marker);
  });
});
