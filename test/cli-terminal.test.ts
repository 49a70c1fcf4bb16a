// The pidns command on a terminal: the command is the terminal's foreground job, with or without
// --signal-group; interactive shells inside exit with their own status; Ctrl-Z and fg from a
// shell outside stop and resume the job; closing the terminal leaves nothing behind.
import * as path from 'path';
import { eventually, running, runningMembersOfNamespace, status } from './kernel';
import { statField, Terminal } from './pty';
import { describeAsRoot } from './root';

const CLI = path.join(__dirname, '..', 'dist', 'cli.js');
/** The pidns command as a shell line. */
const PIDNS = `'${process.execPath}' '${CLI}'`;
const PROMPT = 'prompt> ';

const opened: Terminal[] = [];
function terminal(argv: string[]): Terminal {
  const t = new Terminal(argv);
  opened.push(t);
  return t;
}

/** An interactive bash without start-up files, with job control, at its first prompt. */
async function outerShell(): Promise<Terminal> {
  const t = terminal(['env', `PS1=${PROMPT}`, 'bash', '--norc', '--noprofile', '-i']);
  await t.showing(PROMPT);
  t.type('bind "set enable-bracketed-paste off"\n');
  await t.showing(PROMPT, t.shown.indexOf(PROMPT) + PROMPT.length);
  return t;
}

afterEach(async () => {
  for (const t of opened.splice(0)) {
    const pids = t.events.filter((e) => e.event === 'spawn');
    t.kill();
    for (const spawned of pids) {
      expect(await eventually(() => runningMembersOfNamespace(spawned.namespaceId as number).length === 0)).toBe(true);
    }
  }
});

/** The command leads its own process group, and that group has the terminal (kernel's view). */
function expectForeground(pid: number): void {
  expect(Number(statField(pid, 5))).toBe(pid);
  expect(Number(statField(pid, 8))).toBe(pid);
}

describeAsRoot('pidns on a terminal: the command is the foreground job', () => {
  describe.each([[[] as string[]], [['--signal-group']]])('options %j', (options) => {
    test('tac reads the terminal until Ctrl-D and prints the lines reversed', async () => {
      const t = terminal([process.execPath, CLI, 'run', '--mount-proc', ...options, '--status-fd', '3', '--', 'tac']);
      expectForeground((await t.event('spawn')).pid as number);
      t.type('one\ntwo\n\x04');
      expect(await t.ended).toEqual({ code: 0 });
      expect(t.shown).toMatch(/two\r\none\r\n$/);
    });

    test('cat echoes a line as it comes, and ends on Ctrl-D', async () => {
      const t = terminal([process.execPath, CLI, 'run', '--mount-proc', ...options, '--status-fd', '3', '--', 'cat']);
      expectForeground((await t.event('spawn')).pid as number);
      t.type('hello\n');
      await t.showing('hello\r\nhello\r\n');
      t.type('\x04');
      expect(await t.ended).toEqual({ code: 0 });
    });

    test.each([[['dash', '-i']], [['bash', '--norc', '-i']], [['sh', '-i']]])('%j exits with the status given to exit', async (shell) => {
      const t = terminal(['env', `PS1=${PROMPT}`, process.execPath, CLI, 'run', '--mount-proc', ...options, '--status-fd', '3', '--', ...shell]);
      expectForeground((await t.event('spawn')).pid as number);
      await t.showing(PROMPT);
      t.type('exit 7\n');
      expect(await t.ended).toEqual({ code: 7 });
      expect(t.shown).not.toMatch(/tty process group|job control/i);
    });

    test('the terminal is pidns\'s group\'s again when pidns exits', async () => {
      // sh -c has no job control: pidns runs in sh's process group, which had the terminal.
      const report = 'echo "pgrp=$(cut -d" " -f5 /proc/$$/stat) tpgid=$(cut -d" " -f8 /proc/$$/stat)"';
      const t = terminal(['sh', '-c', `${PIDNS} run ${options.join(' ')} -- sh -c 'exit 3'; echo "status=$?"; ${report}`]);
      expect(await t.ended).toEqual({ code: 0 });
      const [, pgrp, tpgid] = /pgrp=(\d+) tpgid=(-?\d+)/.exec(t.shown)!;
      expect(t.shown).toContain('status=3');
      expect(tpgid).toBe(pgrp);
    });
  });

  test('stdin not a terminal: the command stays in pidns\'s process group', async () => {
    // cat prints its own /proc/self/stat: its process group is that of sh (the session leader).
    const t = terminal(['sh', '-c', `echo "sh=$$"; ${PIDNS} run -- cat /proc/self/stat </dev/null`]);
    expect(await t.ended).toEqual({ code: 0 });
    const sh = /sh=(\d+)/.exec(t.shown)![1];
    const stat = /\(cat\) \S+ (\d+) (\d+)/.exec(t.shown)!;
    expect(stat[2]).toBe(sh);
  });
});

describeAsRoot('pidns under a shell with job control', () => {
  test.each([[''], ['--signal-group']])('Ctrl-Z stops the job (options "%s"), fg resumes it with the terminal, Ctrl-C ends it', async (options) => {
    const t = await outerShell();
    t.type(`${PIDNS} run ${options} --status-fd 3 -- sleep 100\n`);
    const spawned = await t.event('spawn');
    const sleep = spawned.pid as number;
    const pidns = Number(statField(spawned.initPid as number, 4));
    const bash = Number(statField(pidns, 4));
    expect(await eventually(() => status(sleep).get('Name') === 'sleep')).toBe(true);
    expectForeground(sleep);

    t.type('\x1a');
    await t.showing('Stopped');
    expect([statField(pidns, 3), statField(sleep, 3), Number(statField(sleep, 8))]).toEqual(['T', 'T', bash]);

    t.type('fg\n');
    expect(await eventually(() => statField(sleep, 3) === 'S' && statField(pidns, 3) === 'S')).toBe(true);
    expectForeground(sleep);

    const mark = t.shown.length;
    t.type('\x03');
    await t.showing(PROMPT, mark);
    t.type('echo "status=$?"\n');
    await t.showing('status=130');
    t.type('exit\n');
    expect(await t.ended).toEqual({ code: 0 });
    expect(running(pidns)).toBe(false);
  });

  test.each([
    ['', 'running'],
    ['--signal-group', 'running'],
    ['', 'stopped'],
    ['--signal-group', 'stopped'],
  ])('closing the terminal leaves nothing behind (options "%s", job %s)', async (options, state) => {
    const t = await outerShell();
    t.type(`${PIDNS} run ${options} --status-fd 3 -- cat\n`);
    const spawned = await t.event('spawn');
    const pidns = Number(statField(spawned.initPid as number, 4));
    if (state === 'stopped') {
      expect(await eventually(() => status(spawned.pid as number).get('Name') === 'cat')).toBe(true);
      t.type('\x1a');
      await t.showing('Stopped');
    }
    t.hangUp();
    await t.ended;
    expect(await eventually(() => !running(pidns) && runningMembersOfNamespace(spawned.namespaceId as number).length === 0)).toBe(true);
  });
});
