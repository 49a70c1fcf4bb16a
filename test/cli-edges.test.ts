// The pidns command at its edges: --status-fd takes only a descriptor the caller passed down (not
// one Node opened for itself), pidns without a terminal keeps running when its command stops,
// ps of a namespace whose pid 1 has exited, a --join target that does not exist, and an install
// whose native addon or init is missing.
import { spawn, type ChildProcess, type StdioOptions } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CLI, expectOneLine, startCli, type Finished, type Running } from './cli-run';
import { EXIT_FAILED, EXIT_USAGE } from '../lib/protocol';
import { eventually, namespaceInode, running, runningMembersOfNamespace, status } from './kernel';
import { statField, Terminal } from './pty';
import { describeAsRoot } from './root';
import { startFixture } from './subprocess';

const started: ChildProcess[] = [];
const namespacesSeen: number[] = [];
const fixtures: ChildProcess[] = [];
const terminals: Terminal[] = [];

/**
 * Starts `node dist/cli.js ARGS`; the status descriptor is the pipe at statusIndex of stdio
 * (default: descriptor 3 of ['ignore', 'pipe', 'pipe', 'pipe']).
 */
function start(args: string[], options: { stdio?: StdioOptions; statusIndex?: number; detached?: boolean } = {}): Running {
  const run = startCli(args, {
    ...options,
    onNamespace: (id) => {
      if (!namespacesSeen.includes(id)) namespacesSeen.push(id);
    },
  });
  started.push(run.process);
  return run;
}

function pidns(args: string[]): Promise<Finished> {
  return start(args).finished;
}

/** The State letter of a process, as /proc/PID/status has it. */
function stateOf(pid: number): string {
  return status(pid).get('State')!.charAt(0);
}

const O_CLOEXEC = 0o2000000;

/** The flags of a descriptor of a process, from /proc/PID/fdinfo/FD (octal there). */
function descriptorFlags(pid: number, fd: number): number {
  return parseInt(/^flags:\s*([0-7]+)$/m.exec(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'latin1'))![1], 8);
}

/** Field 7 of /proc/PID/stat: the controlling terminal's device number, 0 for none. */
function controllingTerminal(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[4]);
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

afterEach(async () => {
  for (const t of terminals.splice(0)) t.kill();
  for (const child of fixtures.splice(0)) {
    child.kill('SIGKILL');
    await exited(child);
  }
  const stillRunning = started.splice(0).filter((child) => child.exitCode === null && child.signalCode === null);
  for (const child of stillRunning) {
    child.kill('SIGKILL');
    await exited(child);
  }
  for (const inode of namespacesSeen.splice(0)) {
    // Up to 15 s: on a loaded machine the kernel may take a while to kill a whole namespace.
    expect(await eventually(() => runningMembersOfNamespace(inode).length === 0, 15000)).toBe(true);
  }
  expect(stillRunning.map((child) => child.spawnargs.slice(2).join(' '))).toEqual([]);
});

describeAsRoot('pidns run --status-fd: only a descriptor passed down', () => {
  test("each of Node's own descriptors is refused: exit 2 and one line, nothing started", async () => {
    // Node's own, as the kernel lists them in a running pidns given descriptors 0 to 3: those
    // above 3 with close-on-exec set. One without it came down from whoever started this test.
    const holder = start(['run', '--status-fd', '3', '--', 'sleep', '100']);
    const spawned = await holder.firstEvent;
    const above3 = fs.readdirSync(`/proc/${holder.process.pid}/fd`).map(Number).filter((fd) => fd > 3);
    const own = above3.filter((fd) => (descriptorFlags(holder.process.pid!, fd) & O_CLOEXEC) !== 0);
    const passedDown = above3.filter((fd) => !own.includes(fd));
    expect(own.length).toBeGreaterThan(0);
    process.kill(spawned.pid as number, 'SIGKILL');
    expect((await holder.finished).code).toBe(128 + 9);

    const upTo20 = Array.from({ length: 17 }, (_, i) => i + 4).filter((fd) => !passedDown.includes(fd));
    const candidates = [...new Set([...own, ...upTo20])].sort((a, b) => a - b);
    for (const fd of candidates) {
      const result = await pidns(['run', '--status-fd', String(fd), '--', 'true']);
      expect({ fd, code: result.code, signal: result.signal }).toEqual({ fd, code: EXIT_USAGE, signal: null });
      expectOneLine(result.stderr);
      expect(result.stderr).toContain(`--status-fd ${fd}: `);
      expect(result.events).toEqual([]);
    }
  });

  test('a descriptor open only for reading is refused', async () => {
    const readOnly = fs.openSync(__filename, 'r');
    try {
      const result = await start(['run', '--status-fd', '3', '--', 'true'], { stdio: ['ignore', 'pipe', 'pipe', readOnly] }).finished;
      expect(result.code).toBe(EXIT_USAGE);
      expect(result.stderr).toBe('pidns: run: --status-fd 3: not open for writing (see pidns run --help)\n');
    } finally {
      fs.closeSync(readOnly);
    }
  });

  test.each([
    ['descriptor 3, next to those Node opens', 3],
    ['descriptor 25, above those Node marks close-on-exec at startup', 25],
  ])('a descriptor passed down (%s) gets the spawn and exit events', async (_, fd) => {
    const stdio: StdioOptions = ['ignore', 'pipe', 'pipe', ...Array<'ignore'>(fd - 3).fill('ignore'), 'pipe'];
    const run = start(['run', '--status-fd', String(fd), '--', 'sh', '-c', 'exit 3'], { stdio, statusIndex: fd });
    const result = await run.finished;
    expect(result.stderr).toBe('');
    expect(result.code).toBe(3);
    expect(result.events.map((e) => e.event)).toEqual(['spawn', 'exit']);
    expect(result.events[0].namespaceId).not.toBe(namespaceInode('self'));
    expect(result.events[1]).toMatchObject({ code: 3, signal: null });
  });
});

describeAsRoot('pidns without a terminal: the command stops, pidns does not', () => {
  test.each([
    ['run', ['sh', '-c', 'kill -STOP $$; exit 7'], false],
    ['run --signal-group', ['sh', '-c', 'kill -STOP $$; exit 7'], false],
    // As pid 1 the command cannot stop itself (the kernel drops a signal from inside to its pid 1
    // that has no handler); stopped from outside, it then waits for stdin to close.
    ['run --no-init', ['sh', '-c', 'read line; exit 7'], true],
  ])('%s: pidns stays in state S; continued from outside, the command ends with its status', async (options, argv, fromOutside) => {
    // Detached (setsid): pidns has no controlling terminal, whoever runs this test.
    const run = start([...options.split(' '), '--status-fd', '3', '--', ...(argv as string[])], {
      stdio: [fromOutside ? 'pipe' : 'ignore', 'pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const cli = run.process.pid!;
    const spawned = await run.firstEvent;
    const command = spawned.pid as number;
    expect(controllingTerminal(cli)).toBe(0);
    if (fromOutside) {
      expect(await eventually(() => status(command).get('Name') === 'sh')).toBe(true);
      process.kill(command, 'SIGSTOP');
    }
    expect(await eventually(() => stateOf(command) === 'T')).toBe(true);
    // Stopping takes pidns a moment when it does: give it a second.
    expect(await eventually(() => stateOf(cli) === 'T', 1000)).toBe(false);
    expect(await eventually(() => stateOf(cli) === 'S')).toBe(true);

    process.kill(command, 'SIGCONT');
    if (fromOutside) run.process.stdin!.end();
    const result = await run.finished;
    expect(result.code).toBe(7);
    expect(result.events[1]).toMatchObject({ event: 'exit', code: 7, signal: null });
  });
});

describeAsRoot('pidns in the foreground of its terminal: the command stops, pidns stops with it', () => {
  test.each([
    ['run', 'a terminal'],
    ['run --signal-group', 'a terminal'],
    ['run --no-init', 'a terminal'],
    ['run', '/dev/null'],
  ])('%s, stdin %s: SIGSTOP to the command stops pidns; SIGCONT to pidns continues both', async (options, stdin) => {
    // pidns is the first process on a new pseudo-terminal, in its foreground process group.
    const line = `exec '${process.execPath}' '${CLI}' ${options} --status-fd 3 -- sleep 100${stdin === '/dev/null' ? ' </dev/null' : ''}`;
    const t = new Terminal(['sh', '-c', line]);
    terminals.push(t);
    const spawned = await t.event('spawn');
    namespacesSeen.push(spawned.namespaceId as number);
    const command = spawned.pid as number;
    const cli = spawned.initPid === null ? Number(statField(command, 4)) : Number(statField(spawned.initPid as number, 4));
    expect(controllingTerminal(cli)).not.toBe(0);
    expect(Number(statField(cli, 6))).toBe(cli);
    expect(await eventually(() => status(command).get('Name') === 'sleep')).toBe(true);

    process.kill(command, 'SIGSTOP');
    expect(await eventually(() => stateOf(cli) === 'T')).toBe(true);
    process.kill(cli, 'SIGCONT');
    expect(await eventually(() => stateOf(command) === 'S' && stateOf(cli) === 'S')).toBe(true);
    process.kill(command, 'SIGKILL');
    expect(await t.ended).toEqual({ code: 128 + 9 });
  });
});

/** `node fixtures/hold-namespace.js OPTIONS`: sleep 1000 started with those options; its report. */
async function holdNamespace(options: Record<string, unknown>): Promise<{ holder: ChildProcess; pid: number; namespaceId: number }> {
  const { child, firstLine } = startFixture('hold-namespace.js', [JSON.stringify(options)]);
  fixtures.push(child);
  const report = await firstLine;
  return { holder: child, pid: report.pid as number, namespaceId: report.namespaceId as number };
}

describeAsRoot('pidns ps of a namespace that has ended', () => {
  test('its pid 1 a zombie (its parent stopped before reaping it): EXIT_FAILED and one line', async () => {
    const { holder, pid, namespaceId } = await holdNamespace({ init: false });
    const alive = await pidns(['ps', String(pid)]);
    expect(alive.code).toBe(0);
    expect(alive.stdout).toMatch(new RegExp(`^ *${pid} +1 `, 'm'));

    holder.kill('SIGSTOP');
    process.kill(pid, 'SIGKILL');
    expect(await eventually(() => stateOf(pid) === 'Z')).toBe(true);
    expect(namespaceInode(pid)).toBe(namespaceId);
    for (const args of [['ps', String(pid)], ['ps', String(pid), '--json']]) {
      const result = await pidns(args);
      expect(result.code).toBe(EXIT_FAILED);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe(`pidns: ps ${pid}: the namespace has ended (pid namespace ${namespaceId}: its pid 1 has exited)\n`);
    }
  });

  test('its pid 1 still exiting (waiting for a member whose parent outside is stopped): EXIT_FAILED for either', async () => {
    const first = await holdNamespace({ init: false });
    const member = await holdNamespace({ join: first.pid });
    expect(namespaceInode(member.pid)).toBe(first.namespaceId);

    member.holder.kill('SIGSTOP');
    process.kill(first.pid, 'SIGKILL');
    // The kernel keeps pid 1 exiting (PF_EXITING, state S) until the member is reaped.
    expect(await eventually(() => stateOf(member.pid) === 'Z' && !running(first.pid))).toBe(true);
    expect(stateOf(first.pid)).not.toBe('Z');
    for (const pid of [member.pid, first.pid]) {
      const result = await pidns(['ps', String(pid)]);
      expect(result.code).toBe(EXIT_FAILED);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe(`pidns: ps ${pid}: the namespace has ended (pid namespace ${first.namespaceId}: its pid 1 has exited)\n`);
    }
  });
});

describe('pidns run --join with a path that does not exist', () => {
  test('EXIT_FAILED and one line about the join target, not about the command', async () => {
    const result = await pidns(['run', '--join', '/nonexistent', '--', 'true']);
    expect(result.code).toBe(EXIT_FAILED);
    expectOneLine(result.stderr);
    expect(result.stderr).toContain('/nonexistent');
    expect(result.stderr).toContain('join target');
    expect(result.stderr).not.toContain('command was not found');
  });
});

/**
 * A copy of the package without its build: package.json, dist/ and node_modules (a link to this
 * checkout's), with only the files of build/Release named in `built`.
 */
function unbuiltCopy(built: string[]): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pidns-unbuilt-'));
  fs.copyFileSync(path.join(__dirname, '..', 'package.json'), path.join(root, 'package.json'));
  fs.cpSync(path.join(__dirname, '..', 'dist'), path.join(root, 'dist'), { recursive: true });
  fs.symlinkSync(fs.realpathSync(path.join(__dirname, '..', 'node_modules')), path.join(root, 'node_modules'));
  if (built.length > 0) fs.mkdirSync(path.join(root, 'build', 'Release'), { recursive: true });
  for (const file of built) fs.copyFileSync(path.join(__dirname, '..', 'build', 'Release', file), path.join(root, 'build', 'Release', file));
  return root;
}

/** `node ROOT/dist/cli.js ARGS`, to its end. */
function cliOf(root: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [path.join(root, 'dist', 'cli.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

describe('pidns installed without its build', () => {
  const copies: string[] = [];
  afterAll(() => {
    for (const root of copies) fs.rmSync(root, { recursive: true, force: true });
  });

  test('no native addon: run and exec exit EXIT_FAILED with one line that says to rebuild; help and usage still work', async () => {
    const root = unbuiltCopy([]);
    copies.push(root);
    for (const args of [['run', '--', 'true'], ['run', '--no-init', '--', 'true'], ['exec', '--target', String(process.pid), '--', 'true']]) {
      const result = await cliOf(root, args);
      expect({ args, code: result.code }).toEqual({ args, code: EXIT_FAILED });
      expectOneLine(result.stderr);
      expect(result.stderr).toContain('native addon');
      expect(result.stderr).toContain('npm rebuild pidns');
      expect(result.stdout).toBe('');
    }
    expect((await cliOf(root, ['run', '--help'])).code).toBe(0);
    expect((await cliOf(root, ['--version'])).code).toBe(0);
    const usage = await cliOf(root, ['run', '--bogus', '--', 'true']);
    expect(usage.code).toBe(EXIT_USAGE);
    expectOneLine(usage.stderr);
  });
});

describeAsRoot('pidns installed without its init', () => {
  test('run under the init: EXIT_FAILED with one line that names the init and says to rebuild; --no-init runs', async () => {
    const root = unbuiltCopy(['pidns.node']);
    try {
      const result = await cliOf(root, ['run', '--', 'true']);
      expect(result.code).toBe(EXIT_FAILED);
      expectOneLine(result.stderr);
      expect(result.stderr).toContain(path.join(root, 'build', 'Release', 'pidns-init'));
      expect(result.stderr).toContain('npm rebuild pidns');
      expect(await cliOf(root, ['run', '--no-init', '--', 'true'])).toEqual({ code: 0, stdout: '', stderr: '' });
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
