// Terminals: a real shell driven through child.terminal, checked against what the controller
// side delivers and what /proc says of the processes on it.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PidNamespace, spawnInPidNamespace, type PidNamespaceChild, type SpawnOptions } from '../lib';
import { childrenOfSelf, descriptors, ownDescriptorCount, running } from './kernel';
import { describeAsRoot } from './root';
import { startFixture } from './subprocess';

jest.setTimeout(Number(process.env.TERMINAL_TEST_TIMEOUT ?? 60000));

/** The fields of /proc/PID/stat after the command name, numbered as in proc(5) (state is 3). */
function stat(pid: number): { state: string; ppid: number; pgrp: number; session: number; ttyNr: number; tpgid: number } {
  const text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: f[0], ppid: Number(f[1]), pgrp: Number(f[2]), session: Number(f[3]), ttyNr: Number(f[4]), tpgid: Number(f[5]) };
}

/** Resolves once check() holds; the test's own timeout ends a wait that never does. */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 20));
}

/** The children of a process, from /proc (threads included). */
function childrenOf(pid: number): number[] {
  const pids: number[] = [];
  for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
    const text = fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'latin1').trim();
    if (text) pids.push(...text.split(/\s+/).map(Number));
  }
  return pids;
}

function commandName(pid: number): string {
  return fs.readFileSync(`/proc/${pid}/comm`, 'latin1').trim();
}

function whenClosed(child: PidNamespaceChild): Promise<void> {
  return new Promise((resolve) => child.once('close', () => resolve()));
}

/** What the controller side has delivered, and waits for what it is yet to deliver. */
class Screen {
  #text = '';
  #seen = 0;
  #ended = false;
  #waiter: (() => void) | null = null;

  constructor(readonly child: PidNamespaceChild) {
    child.terminal!.setEncoding('utf8');
    child.terminal!.on('data', (chunk: string) => {
      this.#text += chunk;
      this.#waiter?.();
    });
    child.terminal!.on('end', () => {
      this.#ended = true;
      this.#waiter?.();
    });
  }

  type(text: string): void {
    this.child.terminal!.write(text);
  }

  /** The first match of pattern in output not yet consumed; consumes up to its end. */
  async expect(pattern: RegExp): Promise<RegExpExecArray> {
    for (;;) {
      const rest = this.#text.slice(this.#seen);
      const match = pattern.exec(rest);
      if (match) {
        this.#seen += match.index + match[0].length;
        return match;
      }
      if (this.#ended) throw new Error(`the terminal ended without ${pattern}; it showed ${JSON.stringify(rest)}`);
      await new Promise<void>((resolve) => (this.#waiter = resolve));
      this.#waiter = null;
    }
  }

  /** Types a command line and waits for the prompt after it. */
  async run(line: string, output: RegExp): Promise<RegExpExecArray> {
    this.type(`${line}\r`);
    const match = await this.expect(output);
    await this.expect(PROMPT);
    return match;
  }
}

// Commands print with printf formats, so the echo of the typed line never matches the output.
const PROMPT = /\$ $|\$ (?=\x1b)/;
const SHELL_ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin', TERM: 'xterm', PS1: '$ ', HOME: '/root' };

const started: PidNamespaceChild[] = [];

async function startShell(options: SpawnOptions = {}): Promise<Screen> {
  const child = await spawnInPidNamespace('bash', ['--norc', '--noprofile', '-i'], { terminal: true, env: SHELL_ENV, ...options });
  started.push(child);
  const screen = new Screen(child);
  await screen.expect(PROMPT);
  return screen;
}

/** A child of the shell with this command name, once it runs. */
async function shellChild(shell: number, name: string): Promise<number> {
  let found: number | undefined;
  await until(() => {
    found = childrenOf(shell).find((pid) => {
      try {
        return commandName(pid) === name;
      } catch {
        return false;
      }
    });
    return found !== undefined;
  });
  return found!;
}

function ptyOf(pid: number): string[] {
  return descriptors(pid).filter((d) => /\/dev\/(pts|ptmx)/.test(d));
}

describe('terminal option validation (nothing is started)', () => {
  test.each([
    [{ terminal: 1 }, 'ERR_INVALID_ARG_TYPE'],
    [{ terminal: 'yes' }, 'ERR_INVALID_ARG_TYPE'],
    [{ terminal: [80, 24] }, 'ERR_INVALID_ARG_TYPE'],
    [{ terminal: { cols: 0 } }, 'ERR_OUT_OF_RANGE'],
    [{ terminal: { rows: 65536 } }, 'ERR_OUT_OF_RANGE'],
    [{ terminal: { cols: 80.5 } }, 'ERR_OUT_OF_RANGE'],
    [{ terminal: { cols: '80' } }, 'ERR_INVALID_ARG_TYPE'],
    [{ terminal: true, stdio: 'inherit' }, 'ERR_INVALID_ARG_VALUE'],
    [{ terminal: true, stdio: 'ignore' }, 'ERR_INVALID_ARG_VALUE'],
    [{ terminal: true, stdio: [null, null, 2] }, 'ERR_INVALID_ARG_VALUE'],
    [{ terminal: { cols: 10, rows: 10 }, stdio: ['ignore'] }, 'ERR_INVALID_ARG_VALUE'],
    [{ terminal: true, foreground: true }, 'ERR_INVALID_ARG_VALUE'],
  ])('%j -> %s', async (options, code) => {
    const before = childrenOfSelf().length;
    const err = await spawnInPidNamespace('true', [], options as SpawnOptions).catch((e: unknown) => e);
    expect(err).toMatchObject({ code });
    expect(err).toBeInstanceOf(code === 'ERR_OUT_OF_RANGE' ? RangeError : TypeError);
    expect(childrenOfSelf().length).toBe(before);
  });
});

describeAsRoot('terminal: a shell on its own pseudo-terminal', () => {
  // A test that failed half-way leaves its shells behind; the tests check cleanliness themselves.
  afterEach(async () => {
    for (const child of started.splice(0)) {
      child.kill('SIGKILL');
      await child.exited;
    }
  });

  test('under the init: the command leads a session on a /dev/pts terminal; the init has no part in it', async () => {
    const screen = await startShell({ terminal: { cols: 100, rows: 30 } });
    const child = screen.child;
    expect(child.stdin).toBeNull();
    expect(child.stdout).toBeNull();
    expect(child.stderr).toBeNull();
    expect(child.nsPid).toBe(2);

    const tty = (await screen.run('printf "TTY=%s\\n" "$(tty)"', /TTY=(\S+)\r\n/))[1];
    expect(tty).toMatch(/^\/dev\/pts\/\d+$/);
    for (const fd of [0, 1, 2]) expect(fs.readlinkSync(`/proc/${child.pid}/fd/${fd}`)).toBe(tty);
    const command = stat(child.pid);
    expect(command.ttyNr).not.toBe(0);
    expect(command.ttyNr).toBe(fs.statSync(tty).rdev);
    expect(command.session).toBe(child.pid);
    expect(command.pgrp).toBe(child.pid);
    expect(command.tpgid).toBe(child.pid);

    const init = stat(child.init!.pid);
    expect(init.ttyNr).toBe(0);
    expect(init.session).not.toBe(child.pid);
    expect(ptyOf(child.init!.pid)).toEqual([]);
    // The controller side is Node's alone.
    expect(descriptors(child.pid).filter((d) => d.includes('ptmx'))).toEqual([]);

    expect((await screen.run('printf "SIZE=%s\\n" "$(stty size)"', /SIZE=(\d+ \d+)\r\n/))[1]).toBe('30 100');
    expect(() => child.resize(0, 24)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => child.resize(80, '24' as unknown as number)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    const exitSeen = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const closed = whenClosed(child);
    screen.type('exit 7\r');
    await expect(child.exited).resolves.toMatchObject({ code: 7, signal: null });
    await expect(exitSeen).resolves.toEqual({ code: 7, signal: null });
    await closed;
    expect(child.terminal!.destroyed).toBe(true);
    expect(child.resize(90, 20)).toBe(false);
    expect(descriptors('self').filter((d) => d.includes('ptmx'))).toEqual([]);
  });

  test('resize() of a child without a terminal is refused', async () => {
    const plain = await spawnInPidNamespace('true', [], { stdio: 'ignore' });
    expect(plain.terminal).toBeNull();
    expect(() => plain.resize(80, 24)).toThrow(expect.objectContaining({ code: 'ERR_NO_TERMINAL' }));
    await plain.exited;
  });

  test('without the init (pid 1) the command leads the session too', async () => {
    const screen = await startShell({ init: false });
    const { child } = screen;
    expect(child.nsPid).toBe(1);
    expect(stat(child.pid).session).toBe(child.pid);
    expect(stat(child.pid).ttyNr).not.toBe(0);
    expect((await screen.run('printf "SIZE=%s\\n" "$(stty size)"', /SIZE=(\d+ \d+)\r\n/))[1]).toBe('24 80');
    screen.type('exit 3\r');
    await expect(child.exited).resolves.toMatchObject({ code: 3, signal: null });
  });

  test('resize() sets the size stty reports and SIGWINCH reaches the foreground job', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pidns-terminal-'));
    const script = path.join(dir, 'winch.sh');
    fs.writeFileSync(script, 'trap \'printf "WINCH=%s\\n" "$(stty size)"; exit 0\' WINCH\nprintf "READY\\n"\nread line\n');
    try {
      const screen = await startShell();
      screen.type(`sh ${script}\r`);
      await screen.expect(/READY\r\n/);
      expect(screen.child.resize(132, 43)).toBe(true);
      expect((await screen.expect(/WINCH=(\d+ \d+)\r\n/))[1]).toBe('43 132');
      await screen.expect(PROMPT);
      expect((await screen.run('printf "SIZE=%s\\n" "$(stty size)"', /SIZE=(\d+ \d+)\r\n/))[1]).toBe('43 132');
      screen.type('exit\r');
      await screen.child.exited;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('^C interrupts a running command, ^Z stops it, jobs shows it and fg resumes it', async () => {
    const screen = await startShell();
    const shell = screen.child.pid;
    screen.type('sleep 1000\r');
    const first = await shellChild(shell, 'sleep');
    // The job is the terminal's foreground process group: that is where ^C goes.
    await until(() => stat(shell).tpgid === first);
    screen.type('\x03');
    await until(() => !running(first));
    await screen.expect(PROMPT);
    expect((await screen.run('printf "STATUS=%s\\n" "$?"', /STATUS=(\d+)\r\n/))[1]).toBe('130');

    screen.type('sleep 1000\r');
    const second = await shellChild(shell, 'sleep');
    await until(() => stat(shell).tpgid === second);
    screen.type('\x1a');
    await until(() => stat(second).state === 'T');
    await screen.expect(/Stopped\s+sleep 1000/);
    await screen.expect(PROMPT);
    expect(stat(shell).tpgid).toBe(shell);
    await screen.run('jobs', /\[1\]\+\s+Stopped\s+sleep 1000\r\n/);

    screen.type('fg\r');
    await screen.expect(/sleep 1000\r\n/);
    await until(() => stat(second).state === 'S' && stat(shell).tpgid === second);
    screen.type('\x03');
    await until(() => !running(second));
    await screen.expect(PROMPT);
    screen.type('exit\r');
    await expect(screen.child.exited).resolves.toMatchObject({ code: 130, signal: null });
  });

  test('programs that check isatty see a terminal: python and ls colours', async () => {
    const screen = await startShell();
    const flags = await screen.run('python3 -c "import os; print(\'ISATTY\', *(os.isatty(fd) for fd in range(3)))"', /ISATTY (\w+) (\w+) (\w+)\r\n/);
    expect(flags.slice(1)).toEqual(['True', 'True', 'True']);
    // ls colours only what it writes to a terminal; the same listing through a pipe has none.
    const colours = await screen.run('ls --color=auto -d / ; printf "END\\n"', /([^\r\n]*)\r\nEND\r\n/);
    expect(colours[1]).toContain('\x1b[');
    const piped = await screen.run('ls --color=auto -d / | cat ; printf "END\\n"', /([^\r\n]*)\r\nEND\r\n/);
    expect(piped[1]).toBe('/');
    expect(piped[1]).not.toContain('\x1b[');
    screen.type('exit\r');
    await screen.child.exited;
  });

  test('destroying the terminal hangs it up: the shell gets SIGHUP and the init ends', async () => {
    const screen = await startShell();
    const { child } = screen;
    const closed = whenClosed(child);
    child.terminal!.destroy();
    await expect(child.exited).resolves.toMatchObject({ code: null, signal: 'SIGHUP' });
    await closed;
    expect(running(child.pid)).toBe(false);
    expect(running(child.init!.pid)).toBe(false);
  });

  test('a terminal session in a pod, and one joined into an existing namespace', async () => {
    await using pod = await PidNamespace.create();
    const holder = await pod.spawn('sleep', ['1000'], { stdio: 'ignore' });
    const member = await startShell({ join: pod });
    const outside = await spawnInPidNamespace('sleep', ['1000'], { stdio: 'ignore' });
    const joined = await startShell({ join: outside.pid });
    try {
      for (const [screen, namespaceId] of [[member, pod.id], [joined, outside.namespaceId]] as const) {
        const { child } = screen;
        expect(child.namespaceId).toBe(namespaceId);
        expect(child.nsPid).toBeGreaterThan(1);
        expect(stat(child.pid).session).toBe(child.pid);
        expect(stat(child.pid).ttyNr).not.toBe(0);
        const inside = await screen.run('printf "PID=%s\\n" "$$"', /PID=(\d+)\r\n/);
        expect(Number(inside[1])).toBe(child.nsPid);
        expect((await screen.run('printf "TTY=%s\\n" "$(tty)"', /TTY=(\S+)\r\n/))[1]).toMatch(/^\/dev\/pts\/\d+$/);
        const closed = whenClosed(child);
        screen.type('exit 5\r');
        await expect(child.exited).resolves.toMatchObject({ code: 5, signal: null });
        await closed;
      }
      // The namespaces they joined go on.
      expect(running(holder.pid)).toBe(true);
      expect(running(outside.pid)).toBe(true);
    } finally {
      outside.kill();
      await outside.exited;
    }
  });

  test('100 sessions opened and closed leave no descriptor, process or zombie', async () => {
    const before = ownDescriptorCount();
    const sessions = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        spawnInPidNamespace('sh', ['-c', 'read line; printf "got %s\\n" "$line"'], { terminal: { cols: 40 + i, rows: 10 }, init: i % 4 < 2 }),
      ),
    );
    const outputs = await Promise.all(
      sessions.map(async (child, i) => {
        const closed = whenClosed(child);
        let text = '';
        child.terminal!.setEncoding('utf8');
        child.terminal!.on('data', (d: string) => (text += d));
        // Half type a line; half hang up (a pid 1 without a handler ignores the SIGHUP, but its
        // read then meets the hung-up terminal and it ends too).
        if (i % 2 === 0) child.terminal!.write(`line${i}\r`);
        else child.terminal!.destroy();
        await closed;
        return text;
      }),
    );
    outputs.forEach((text, i) => {
      if (i % 2 === 0) expect(text).toContain(`got line${i}\r\n`);
    });
    for (const child of sessions) {
      expect(child.exitCode !== null || child.signalCode !== null).toBe(true);
      expect(running(child.pid)).toBe(false);
      if (child.init) expect(running(child.init.pid)).toBe(false);
    }
    expect(childrenOfSelf()).toEqual([]);
    expect(ownDescriptorCount()).toBe(before);
  });

  test('killing the Node process while sessions are open leaves nothing behind', async () => {
    const { child: holder, firstLine } = startFixture('terminal-sessions.js');
    const report = (await firstLine) as { sessions: number[]; others: number[] };
    expect(report.sessions.length).toBe(4);
    for (const pid of report.sessions) {
      expect(running(pid)).toBe(true);
      expect(stat(pid).session).toBe(pid);
    }
    const pids = [...report.sessions, ...report.others];
    const exited = new Promise((resolve) => holder.once('exit', resolve));
    holder.kill('SIGKILL');
    await exited;
    await until(() => pids.every((pid) => !running(pid)));
  });
});
