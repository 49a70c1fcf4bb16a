// The pidns command end to end, run as a user would run it: node dist/cli.js (npm test builds it).
import { type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { HELP, OPTIONS, parseCommandLine, UsageError } from '../lib/cli-args';
import { EXIT_CANNOT_EXECUTE, EXIT_FAILED, EXIT_NOT_FOUND, EXIT_USAGE } from '../lib/protocol';
import { eventually, exists, membersOfNamespace, namespaceInode, nsPidLine, runningMembersOfNamespace, status } from './kernel';
import { asNobody } from './public-install';
import { expectOneLine, startCli, type Finished, type Running } from './cli-run';
import { describeAsRoot } from './root';

/** Namespaces the CLI reported in this test; each must be empty when the test ends. */
let namespacesSeen: number[] = [];
/** pidns processes started in this test; each must have exited when the test ends. */
let started: ChildProcess[] = [];

function start(args: string[], options: { asNobody?: boolean; stdin?: 'ignore' | 'pipe' } = {}): Running {
  const run = startCli(args, {
    wrap: options.asNobody ? asNobody : undefined,
    stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe', 'pipe'],
    onNamespace: (id) => namespacesSeen.push(id),
  });
  started.push(run.process);
  return run;
}

function pidns(args: string[], options: { asNobody?: boolean } = {}): Promise<Finished> {
  return start(args, options).finished;
}

beforeEach(() => {
  namespacesSeen = [];
  started = [];
});

afterEach(async () => {
  for (const child of started) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('close', r));
      throw new Error(`pidns ${child.spawnargs.slice(2).join(' ')} was still running`);
    }
  }
  for (const inode of namespacesSeen) {
    expect(await eventually(() => runningMembersOfNamespace(inode).length === 0)).toBe(true);
  }
});

describeAsRoot('pidns run: exit status', () => {
  test.each([
    [['sh', '-c', 'exit 0'], 0],
    [['sh', '-c', 'exit 5'], 5],
    [['sh', '-c', 'exit 255'], 255],
  ])('%j exits %i, under the init and as pid 1', async (argv, expected) => {
    expect((await pidns(['run', '--', ...argv])).code).toBe(expected);
    expect((await pidns(['run', '--no-init', '--', ...argv])).code).toBe(expected);
  });

  test('a command that a signal ends: 128+N', async () => {
    const usr2 = os.constants.signals.SIGUSR2;
    const result = await pidns(['run', '--status-fd', '3', '--', 'sh', '-c', 'kill -USR2 $$']);
    expect(result.code).toBe(128 + usr2);
    expect(result.events[1]).toEqual({ event: 'exit', code: null, signal: 'SIGUSR2', usage: { userCPUTime: expect.any(Number), systemCPUTime: expect.any(Number), maxRSS: expect.any(Number) } });
  });

  test('a command that does not exist: EXIT_NOT_FOUND and one line', async () => {
    const result = await pidns(['run', '--', 'pidns-no-such-command']);
    expect(result.code).toBe(EXIT_NOT_FOUND);
    expect(result.stderr).toBe('pidns: pidns-no-such-command: command not found\n');
    const byPath = await pidns(['run', '--no-init', '--', '/nonexistent/program']);
    expect(byPath.code).toBe(EXIT_NOT_FOUND);
    expect(byPath.stderr).toBe('pidns: /nonexistent/program: no such file or directory\n');
  });

  test('a command that cannot be executed: EXIT_CANNOT_EXECUTE and one line', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pidns-cli-'));
    try {
      const file = path.join(dir, 'not-executable');
      fs.writeFileSync(file, '#!/bin/sh\nexit 0\n', { mode: 0o644 });
      const result = await pidns(['run', '--', file]);
      expect(result.code).toBe(EXIT_CANNOT_EXECUTE);
      expect(result.stderr).toBe(`pidns: ${file}: permission denied\n`);
      const directory = await pidns(['run', '--no-init', '--', dir]);
      expect(directory.code).toBe(EXIT_CANNOT_EXECUTE);
      expectOneLine(directory.stderr);
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  });

  test('a failure of pidns itself: EXIT_FAILED and one line with what to do', async () => {
    const notNamespace = await pidns(['run', '--join', '/etc/passwd', '--', 'true']);
    expect(notNamespace.code).toBe(EXIT_FAILED);
    expectOneLine(notNamespace.stderr);
    expect(notNamespace.stderr).toContain('EINVAL');

    const asNobody = await pidns(['run', '--', 'true'], { asNobody: true });
    expect(asNobody.code).toBe(EXIT_FAILED);
    expectOneLine(asNobody.stderr);
    expect(asNobody.stderr).toContain('EPERM');
    expect(asNobody.stderr).toContain('--user');
  });
});

describeAsRoot('pidns run: the namespace', () => {
  test('the command is pid 2 under the init, and pid 1 with --no-init', async () => {
    expect((await pidns(['run', '--', 'sh', '-c', 'echo $$'])).stdout).toBe('2\n');
    expect((await pidns(['run', '--no-init', '--', 'sh', '-c', 'echo $$'])).stdout).toBe('1\n');
  });

  test('--mount-proc: ps inside shows exactly pid 1 (the init) and pid 2 (ps)', async () => {
    const result = await pidns(['run', '--mount-proc', '--', 'ps', '-e', '-o', 'pid=,comm=']);
    expect(result.stderr).toBe('');
    const rows = result.stdout.trim().split('\n').map((line) => line.trim().split(/\s+/));
    expect(rows).toEqual([['1', 'pidns-init'], ['2', 'ps']]);
    expect(result.code).toBe(0);
    const raw = await pidns(['run', '--mount-proc', '--no-init', '--', 'ps', '-e', '-o', 'pid=']);
    expect(raw.stdout.trim()).toBe('1');
  });

  test('--status-fd: a spawn event that matches what the command sees, then its exit', async () => {
    // The loop and the redirection run in the shell itself, so /proc/self is the command.
    const script = 'echo $$; while read -r key value rest; do case $key in NSpid:|PPid:) echo "$key $value $rest";; esac; done < /proc/self/status; readlink /proc/self/ns/pid; exit 3';
    const result = await pidns(['run', '--status-fd', '3', '--', 'sh', '-c', script]);
    expect(result.code).toBe(3);
    const [spawned, exited] = result.events;
    const lines = result.stdout.trim().split('\n');
    const ppid = Number(lines.find((l) => l.startsWith('PPid:'))!.split(' ')[1]);
    const nsPidChain = lines.find((l) => l.startsWith('NSpid:'))!.split(' ').slice(1).filter(Boolean).map(Number);
    expect(spawned).toEqual({ event: 'spawn', pid: nsPidChain[0], nsPid: 2, namespaceId: expect.any(Number), initPid: ppid, pidNamespace: 'new' });
    expect(nsPidChain).toEqual([spawned.pid, 2]);
    expect(lines[0]).toBe('2');
    expect(lines[lines.length - 1]).toBe(`pid:[${spawned.namespaceId}]`);
    expect(exited).toEqual({ event: 'exit', code: 3, signal: null, usage: { userCPUTime: expect.any(Number), systemCPUTime: expect.any(Number), maxRSS: expect.any(Number) } });
    // Under the init: the whole tree, which here is a shell and a few commands, not Node's size.
    expect((exited.usage as { maxRSS: number }).maxRSS).toBeLessThan(32768);
    expect(result.events).toHaveLength(2);
  });

  test('--status-fd with --no-init reports initPid null', async () => {
    const result = await pidns(['run', '--no-init', '--status-fd', '3', '--', 'true']);
    expect(result.events[0]).toMatchObject({ event: 'spawn', nsPid: 1, initPid: null });
    expect(result.events[1]).toEqual({ event: 'exit', code: 0, signal: null, usage: { userCPUTime: expect.any(Number), systemCPUTime: expect.any(Number), maxRSS: expect.any(Number) } });
  });

  test('--status-fd reports an error event when the command cannot start', async () => {
    const result = await pidns(['run', '--status-fd', '3', '--', 'pidns-no-such-command']);
    expect(result.code).toBe(EXIT_NOT_FOUND);
    expect(result.events).toEqual([{ event: 'error', code: 'ENOENT', message: expect.any(String) }]);
  });

  test('--user as nobody: root inside a new user namespace, no privilege needed', async () => {
    const result = await pidns(['run', '--user', '--', 'sh', '-c', 'id -u; echo $$'], { asNobody: true });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('0\n2\n');
    expect(result.code).toBe(0);
  });
});

describeAsRoot('pidns exec and ps', () => {
  test('exec --target joins the namespace of a running pidns run', async () => {
    const pod = start(['run', '--status-fd', '3', '--', 'sleep', '30']);
    const podSpawn = await pod.firstEvent;
    expect(podSpawn.event).toBe('spawn');
    const target = podSpawn.pid as number;

    const joiner = start(['exec', '--target', String(target), '--status-fd', '3', '--', 'sh', '-c', 'echo $$; exec sleep 30']);
    const joined = await joiner.firstEvent;
    await joiner.printed('\n');
    const joinerPid = joined.pid as number;
    expect(namespaceInode(joinerPid)).toBe(namespaceInode(target));
    expect(joined.namespaceId).toBe(namespaceInode(target));
    expect(joined.initPid).toBeNull();
    expect(joined.nsPid).toBeGreaterThan(2);
    expect(nsPidLine(joinerPid)).toEqual([joinerPid, joined.nsPid]);

    joiner.process.kill('SIGTERM');
    const joinerEnd = await joiner.finished;
    expect(joinerEnd.stdout).toBe(`${joined.nsPid}\n`);
    expect(joinerEnd.code).toBe(143);

    pod.process.kill('SIGTERM');
    expect((await pod.finished).code).toBe(143);
  });

  test('exec --target --mount-proc: ps inside lists the joined namespace', async () => {
    const pod = start(['run', '--status-fd', '3', '--', 'sleep', '30']);
    const spawned = await pod.firstEvent;
    const result = await pidns(['exec', '--target', String(spawned.pid), '--mount-proc', '--', 'ps', '-e', '-o', 'pid=,comm=']);
    expect(result.code).toBe(0);
    const rows = result.stdout.trim().split('\n').map((line) => line.trim().split(/\s+/));
    expect(rows).toEqual([['1', 'pidns-init'], ['2', 'sleep'], ['3', 'ps']]);
    pod.process.kill('SIGTERM');
    expect((await pod.finished).code).toBe(143);
  });

  test('ps: the table and --json list what /proc says, pid 1 first', async () => {
    const pod = start(['run', '--status-fd', '3', '--', 'sh', '-c', 'sleep 30 & sleep 30 & wait']);
    const spawned = await pod.firstEvent;
    const inode = spawned.namespaceId as number;
    // Four members once both background children have exec'd sleep (a fork shows sh until then).
    const sleeping = () => membersOfNamespace(inode).filter((pid) => status(pid).get('Name') === 'sleep').length === 2;
    expect(await eventually(() => membersOfNamespace(inode).length === 4 && sleeping())).toBe(true);

    const fromProc = membersOfNamespace(inode)
      .map((pid) => ({
        pid,
        nsPid: nsPidLine(pid)[1],
        ppid: Number(status(pid).get('PPid')),
        command: fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0+$/, '').split('\0').join(' '),
      }))
      .sort((a, b) => a.nsPid - b.nsPid);
    expect(fromProc.map((m) => m.nsPid)).toEqual([1, 2, 3, 4]);

    const json = await pidns(['ps', String(spawned.pid), '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(fromProc);

    const table = await pidns(['ps', String(spawned.pid)]);
    expect(table.code).toBe(0);
    const [header, ...rows] = table.stdout.trimEnd().split('\n');
    expect(header.trim().split(/\s+/)).toEqual(['PID', 'NSPID', 'PPID', 'COMMAND']);
    expect(rows.map((row) => {
      const [pid, nsPid, ppid, ...command] = row.trim().split(/\s+/);
      return { pid: Number(pid), nsPid: Number(nsPid), ppid: Number(ppid), command: command.join(' ') };
    })).toEqual(fromProc);
    // Columns line up: every row has its COMMAND where the header has it.
    const commandColumn = header.indexOf('COMMAND');
    for (const [i, row] of rows.entries()) expect(row.slice(commandColumn)).toBe(fromProc[i].command);

    pod.process.kill('SIGTERM');
    expect((await pod.finished).code).toBe(143);
  });

  test('ps of a pid that does not exist: EXIT_FAILED and one line', async () => {
    const gone = start(['run', '--status-fd', '3', '--', 'true']);
    const spawned = await gone.firstEvent;
    await gone.finished;
    expect(exists(spawned.pid as number)).toBe(false);
    const result = await pidns(['ps', String(spawned.pid)]);
    expect(result.code).toBe(EXIT_FAILED);
    expect(result.stderr).toBe(`pidns: ps ${spawned.pid}: no such process\n`);
  });
});

describeAsRoot('pidns run: signals', () => {
  test('SIGTERM to pidns ends the command, and pidns exits 143', async () => {
    const run = start(['run', '--status-fd', '3', '--', 'sleep', '30']);
    const spawned = await run.firstEvent;
    // Named by the kernel a moment after the exec that the spawn event follows.
    expect(await eventually(() => status(spawned.pid as number).get('Name') === 'sleep')).toBe(true);
    run.process.kill('SIGTERM');
    const result = await run.finished;
    expect(result.code).toBe(143);
    expect(result.events[1]).toEqual({ event: 'exit', code: null, signal: 'SIGTERM', usage: { userCPUTime: expect.any(Number), systemCPUTime: expect.any(Number), maxRSS: expect.any(Number) } });
    expect(exists(spawned.pid as number)).toBe(false);
  });

  test('every forwarded signal reaches a trap in the command', async () => {
    const names = ['INT', 'TERM', 'HUP', 'QUIT', 'USR1', 'USR2', 'WINCH'];
    const traps = names.map((name) => `trap 'echo got-${name}' ${name};`).join(' ');
    const run = start(['run', '--', 'sh', '-c', `${traps} echo ready; while :; do sleep 0.05; done`]);
    await run.printed('ready\n');
    for (const name of names) {
      run.process.kill(`SIG${name}` as NodeJS.Signals);
      await run.printed(`got-${name}\n`);
    }
    run.process.kill('SIGKILL');
    await run.finished;
  });

  test('SIGUSR1 reaches a trap, which decides the exit status', async () => {
    const run = start(['run', '--', 'sh', '-c', "trap 'echo got-usr1; exit 7' USR1; echo ready; sleep 30 & wait"]);
    await run.printed('ready\n');
    run.process.kill('SIGUSR1');
    const result = await run.finished;
    expect(result.stdout).toBe('ready\ngot-usr1\n');
    expect(result.code).toBe(7);
  });
});

describeAsRoot('pidns: usage', () => {
  test.each([
    [[]],
    [['bogus']],
    [['--bogus']],
    [['run']],
    [['run', '--']],
    [['run', '--bogus', '--', 'true']],
    [['run', '--no-init=yes', '--', 'true']],
    [['run', '--status-fd', 'x', '--', 'true']],
    [['run', '--status-fd', '987', '--', 'true']],
    [['run', '--join']],
    [['run', '--join', '0', '--', 'true']],
    [['run', '--no-init', '--signal-group', '--', 'true']],
    [['run', '--join', '1', '--user', '--', 'true']],
    [['run', '--', '']],
    [['exec', '--', 'true']],
    [['exec', '--target', 'abc', '--', 'true']],
    [['exec', '--target', '1']],
    [['ps']],
    [['ps', 'x']],
    [['ps', '1', '2']],
    [['ps', '--bogus', '1']],
    [['run', '--join', '--no-init', '--', 'true']],
    [['run', '-hx', '--', 'true']],
    [['run', '--status-fd']],
    [['--version=1']],
  ])('pidns %j: EXIT_USAGE and one line', async (args) => {
    const result = await pidns(args);
    expect(result.code).toBe(EXIT_USAGE);
    expectOneLine(result.stderr);
    expect(result.stdout).toBe('');
  });

  test.each([[['--help']], [['-h']], [['run', '--help']], [['exec', '--help']], [['ps', '--help']]])('pidns %j: usage on stdout, exit 0', async (args) => {
    const result = await pidns(args);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: pidns /);
    expect(result.stderr).toBe('');
  });

  test('--help of run documents the exit statuses', async () => {
    const { stdout } = await pidns(['run', '--help']);
    for (const code of [EXIT_USAGE, EXIT_FAILED, EXIT_CANNOT_EXECUTE, EXIT_NOT_FOUND]) expect(stdout).toMatch(new RegExp(`^  ${code} `, 'm'));
    expect(stdout).toContain('128+N');
  });
});

describe('pidns: the command line as parsed (util.parseArgs)', () => {
  const usage = (argv: string[]) => {
    try {
      parseCommandLine(argv);
    } catch (err) {
      expect(err).toBeInstanceOf(UsageError);
      return (err as Error).message;
    }
    throw new Error(`${JSON.stringify(argv)} parsed`);
  };

  test('options end at the command: what follows it, or --, is the command\'s untouched', () => {
    expect(parseCommandLine(['run', 'ls', '-l', '--no-init'])).toMatchObject({ init: true, argv: ['ls', '-l', '--no-init'] });
    expect(parseCommandLine(['run', '--no-init', '--', '--help', '--'])).toMatchObject({ init: false, argv: ['--help', '--'] });
    expect(parseCommandLine(['run', '--status-fd=3', '--join', '7', 'sh'])).toMatchObject({ statusFd: 3, join: 7, init: false, argv: ['sh'] });
    expect(parseCommandLine(['run', '--join=/proc/7/ns/pid', '-', 'x'])).toMatchObject({ join: '/proc/7/ns/pid', argv: ['-', 'x'] });
    expect(parseCommandLine(['exec', '--target', '9', 'env', '--', '-h'])).toMatchObject({ targetPid: 9, argv: ['env', '--', '-h'] });
    expect(parseCommandLine(['run', '--', '--', 'x'])).toMatchObject({ argv: ['--', 'x'] });
    // ps takes its PID anywhere among its options.
    expect(parseCommandLine(['ps', '7', '--json'])).toEqual({ command: 'ps', pid: 7, json: true });
    expect(parseCommandLine(['ps', '--', '7'])).toEqual({ command: 'ps', pid: 7, json: false });
  });

  test('-h and --help, before the command, wherever the other options are', () => {
    expect(parseCommandLine(['-h', 'run'])).toEqual({ command: 'help', topic: 'pidns' });
    expect(parseCommandLine(['help'])).toEqual({ command: 'help', topic: 'pidns' });
    expect(parseCommandLine(['run', '--no-init', '-h'])).toEqual({ command: 'help', topic: 'run' });
    expect(parseCommandLine(['exec', '--help'])).toEqual({ command: 'help', topic: 'exec' });
    expect(parseCommandLine(['ps', '1', '-h'])).toEqual({ command: 'help', topic: 'ps' });
    expect(parseCommandLine(['run', 'sh', '--help'])).toMatchObject({ command: 'run', argv: ['sh', '--help'] });
    expect(parseCommandLine(['--version'])).toEqual({ command: 'version' });
  });

  test('each refusal of parseArgs is one line that names the option', () => {
    expect(usage(['run', '--bogus', 'true'])).toBe('unknown option --bogus');
    expect(usage(['run', '--bogus=1', 'true'])).toBe('unknown option --bogus');
    expect(usage(['run', '-hx', 'true'])).toBe('unknown option -x');
    expect(usage(['--bogus'])).toBe('unknown option --bogus');
    expect(usage(['run', '--user=yes', 'true'])).toBe('--user takes no value');
    expect(usage(['run', '--help=1'])).toBe('--help takes no value');
    expect(usage(['run', '--join'])).toBe('--join needs a value');
    expect(usage(['exec', '--target', '1', '--status-fd'])).toBe('--status-fd needs a value');
    expect(usage(['run', '--join', '--user', 'true'])).toBe("--join needs a value (write --join=VALUE for one that starts with '-')");
    expect(usage(['run', '--status-fd', '-1', 'true'])).toBe("--status-fd needs a value (write --status-fd=VALUE for one that starts with '-')");
    expect(usage(['run', '--status-fd=-1', 'true'])).toBe("--status-fd must be an integer from 0 to 2147483647, got '-1'");
    expect(usage(['run', '--bogus\nline', 'true'])).toBe('unknown option --bogus?line');
  });

  test.each(Object.keys(OPTIONS) as (keyof typeof OPTIONS)[])('every option of %s is in its help', (topic) => {
    for (const name of Object.keys(OPTIONS[topic])) expect(HELP[topic]).toContain(`--${name}`);
    if (topic !== 'pidns') expect(HELP[topic]).toContain('-h, --help');
  });
});

describeAsRoot('pidns run: the command\'s own arguments', () => {
  test('options end at the command; its arguments, options among them, reach it as given', async () => {
    const result = await pidns(['run', 'sh', '-c', 'printf "%s|" "$@"', 'sh', '--no-init', '-h', '--', '--bogus=1']);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('--no-init|-h|--|--bogus=1|');
    expect(result.code).toBe(0);
  });
});
