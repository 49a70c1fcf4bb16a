// options.newNamespace false and 'auto', and waitForDescendants: the init as a child subreaper in
// the caller's own PID namespace, which needs no privilege. What is asserted is read from the
// kernel: /proc/PID/status (NSpid, PPid, State), /proc/PID/ns/pid, the processes left in /proc.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { PidNamespace, spawnInPidNamespace, type PidNamespaceChild } from '../lib';
import { namespaceInode, nsPidLine, processesRunning as running, sleepMarker as marker, status } from './kernel';
import { describeAsRoot } from './root';
import { runFixture, startFixture } from './subprocess';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function firstLine(child: PidNamespaceChild): Promise<string> {
  let text = '';
  child.stdout!.setEncoding('utf8');
  for await (const chunk of child.stdout!) {
    text += chunk;
    if (text.includes('\n')) break;
  }
  return text.slice(0, text.indexOf('\n'));
}

/** A tree no namespace holds: a setsid'd process, a double-forked orphan, the command itself. */
function tree(mark: string, then = ''): string {
  // It waits for a line on stdin (EOF at once from /dev/null): tree-holder.js writes it once the
  // spawn has resolved, so that `then` (stopping the init) cannot come before the init reports.
  return `setsid sleep ${mark} & (sleep ${mark} &); read go; ${then} echo ready; exec sleep ${mark}`;
}

describeAsRoot('newNamespace: false', () => {
  test("the init is a subreaper in our namespace: pids are the same inside and out, the command is the init's child", async () => {
    const child = await spawnInPidNamespace('sleep', ['30'], { newNamespace: false, stdio: 'ignore' });
    try {
      expect(child.pidNamespace).toBe('caller');
      expect(child.nsPid).toBe(child.pid);
      expect(child.init).toEqual({ pid: child.init!.pid, nsPid: child.init!.pid });
      expect(child.namespaceId).toBe(namespaceInode('self'));
      expect(namespaceInode(child.pid)).toBe(namespaceInode('self'));
      expect(nsPidLine(child.pid)).toEqual([child.pid]);
      expect(Number(status(child.pid).get('PPid'))).toBe(child.init!.pid);
      expect(Number(status(child.init!.pid).get('PPid'))).toBe(process.pid);
      expect(fs.readFileSync(`/proc/${child.init!.pid}/comm`, 'latin1').trim()).toBe('pidns-init');
    } finally {
      child.kill('SIGKILL');
      await child.exited;
    }
  });

  test('orphans come to the init, and when the command ends every descendant is gone before exited resolves', async () => {
    const mark = marker();
    // The command waits for a line on stdin before it exits.
    const child = await spawnInPidNamespace('sh', ['-c', `setsid sleep ${mark} & (sleep ${mark} &); sleep 0.2; echo ready; read line; exit 3`], { newNamespace: false, stdio: ['pipe', 'pipe', 'inherit'] });
    expect(await firstLine(child)).toBe('ready');
    const orphans = running(['sleep', mark]);
    expect(orphans).toHaveLength(2);
    // The double-forked one re-parented to the init (the setsid'd one is still the command's).
    expect(orphans.map((pid) => Number(status(pid).get('PPid')))).toContain(child.init!.pid);
    child.stdin!.end('\n');
    const exited = await child.exited;
    expect(exited).toMatchObject({ code: 3, signal: null });
    expect(exited.usage).toBeDefined();
    expect(running(['sleep', mark])).toEqual([]);
    expect(fs.existsSync(`/proc/${child.init!.pid}`)).toBe(false);
  });

  test('the exact status: a signal, and signals forwarded (to the group with signalGroup)', async () => {
    const killed = await spawnInPidNamespace('sh', ['-c', 'kill -USR1 $$'], { newNamespace: false, stdio: 'ignore' });
    expect(await killed.exited).toMatchObject({ code: null, signal: 'SIGUSR1' });
    const mark = marker();
    const grouped = await spawnInPidNamespace('sh', ['-c', `sleep ${mark} & trap '' TERM; echo ready; wait`], { newNamespace: false, signalGroup: true, stdio: ['ignore', 'pipe', 'inherit'] });
    expect(await firstLine(grouped)).toBe('ready');
    const [background] = running(['sleep', mark]);
    grouped.kill('SIGTERM');
    expect(await grouped.exited).toMatchObject({ code: 0 });
    expect(fs.existsSync(`/proc/${background}`)).toBe(false);
  });

  test('kill(SIGKILL) ends the command and every descendant, with signalGroup too', async () => {
    for (const signalGroup of [false, true]) {
      const mark = marker();
      const child = await spawnInPidNamespace('sh', ['-c', tree(mark)], { newNamespace: false, signalGroup, stdio: ['ignore', 'pipe', 'inherit'] });
      expect(await firstLine(child)).toBe('ready');
      // The command execs its sleep after the line.
      for (let i = 0; i < 100 && running(['sleep', mark]).length < 3; i++) await sleep(20);
      expect(running(['sleep', mark])).toHaveLength(3);
      child.kill('SIGKILL');
      expect(await child.exited).toMatchObject({ code: null, signal: 'SIGKILL' });
      expect(running(['sleep', mark])).toEqual([]);
    }
  });

  test.each([
    ['no-namespace', false],
    ['new namespace', true],
  ])('waitForDescendants (%s): exited resolves after the last one; kill() then reaches what is left', async (_name, newNamespace) => {
    const started = Date.now();
    const child = await spawnInPidNamespace('sh', ['-c', '(sleep 0.6; echo late) & exit 4'], { newNamespace, waitForDescendants: true, stdio: ['ignore', 'pipe', 'inherit'] });
    expect(await firstLine(child)).toBe('late');
    expect(await child.exited).toMatchObject({ code: 4, signal: null });
    expect(Date.now() - started).toBeGreaterThanOrEqual(550);

    const mark = marker();
    const waiting = await spawnInPidNamespace('sh', ['-c', `sleep ${mark} & echo ready; exit 5`], { newNamespace, waitForDescendants: true, stdio: ['ignore', 'pipe', 'inherit'] });
    expect(await firstLine(waiting)).toBe('ready');
    await sleep(200);
    expect(running(['sleep', mark])).toHaveLength(1);
    expect(waiting.kill('SIGTERM')).toBe(true);
    expect(await waiting.exited).toMatchObject({ code: 5, signal: null });
    expect(running(['sleep', mark])).toEqual([]);
  });

  test.each([
    ['running', ''],
    ['after the command stopped its init', 'kill -STOP $PPID;'],
  ])("Node's death (SIGKILL) ends every descendant: %s", async (_name, then) => {
    const mark = marker();
    const { child, firstLine: report } = startFixture('tree-holder.js', [JSON.stringify(['sh', ['-c', tree(mark, then)], { newNamespace: false }])]);
    const line = await report;
    expect(line.line).toBe('ready');
    const initPid = (line.init as { pid: number }).pid;
    // The command execs its sleep after the line.
    for (let i = 0; i < 100 && running(['sleep', mark]).length < 3; i++) await sleep(20);
    expect(running(['sleep', mark])).toHaveLength(3);
    if (then) expect(status(initPid).get('State')).toMatch(/^T/);
    child.kill('SIGKILL');
    for (let i = 0; i < 100 && running(['sleep', mark]).length > 0; i++) await sleep(50);
    expect(running(['sleep', mark])).toEqual([]);
    // The init ends after the last of them (it may still be on its way out under load): reaped by
    // whoever it went to, or a zombie until then.
    const initState = () => (fs.existsSync(`/proc/${initPid}`) ? status(initPid).get('State')! : 'gone');
    for (let i = 0; i < 100 && !/^(gone|Z)/.test(initState()); i++) await sleep(50);
    expect(initState()).toMatch(/^(gone|Z)/);
  });

  test('a command that kills its init is killed too, so the status reported is true of it', async () => {
    const mark = marker();
    const child = await spawnInPidNamespace('sh', ['-c', `sleep 0.2; kill -9 $PPID; exec sleep ${mark}`], { newNamespace: false, stdio: 'ignore' });
    expect(await child.exited).toMatchObject({ code: null, signal: 'SIGKILL' });
    for (let i = 0; i < 100 && running(['sleep', mark]).length > 0; i++) await sleep(20);
    expect(running(['sleep', mark])).toEqual([]);
  });

  test('freeze() is refused: a frozen init could not end its descendants', async () => {
    const child = await spawnInPidNamespace('sleep', ['30'], { newNamespace: false, stdio: 'ignore' });
    await expect(child.freeze()).rejects.toMatchObject({ code: 'ERR_FREEZE_WITHOUT_NAMESPACE' });
    child.kill('SIGKILL');
    await child.exited;
  });

  test("'auto' falls back where user.max_pid_namespaces is 0 (ENOSPC) too", () => {
    // A user namespace of its own, whose limit of PID namespaces is set to 0 inside.
    const script = `echo 0 > /proc/sys/user/max_pid_namespaces && exec "$NODE" -e '
      const { spawnInPidNamespace } = require(process.argv[1]);
      (async () => {
        const refused = await spawnInPidNamespace("true", []).then(() => "spawned", (e) => e.code);
        const child = await spawnInPidNamespace("true", [], { newNamespace: "auto" });
        console.log(refused, child.pidNamespace, (await child.exited).code);
      })();' "$LIB"`;
    const run = spawnSync('unshare', ['--user', '--map-root-user', '--', 'sh', '-c', script], { encoding: 'utf8', env: { ...process.env, NODE: process.execPath, LIB: path.join(__dirname, '..', 'dist') } });
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe('ENOSPC caller 0');
  });

  test('as nobody: false and auto work without privilege; the default is refused with a hint naming them', () => {
    const report = (options: object) => {
      const run = runFixture('run-report.js', [JSON.stringify(['sh', ['-c', 'id -u; echo $$'], options])], { asNobody: true });
      expect(run.stderr).toBe('');
      return JSON.parse(run.stdout);
    };
    const refused = report({});
    expect(refused.error).toMatchObject({ code: 'EPERM', syscall: 'clone' });
    expect(refused.error.message).toContain("newNamespace: false (or 'auto')");
    for (const newNamespace of [false, 'auto']) {
      const r = report({ newNamespace });
      expect(r.error).toBeUndefined();
      expect(r.pidNamespace).toBe('caller');
      const [uid, pid] = r.stdout.trim().split('\n').map(Number);
      expect(uid).toBe(65534);
      expect(pid).toBe(r.pid);
      expect(r.nsPid).toBe(r.pid);
      expect(r.exited).toMatchObject({ code: 0, signal: null });
    }
  });

  test("'auto' makes a new namespace where it may", async () => {
    const child = await spawnInPidNamespace('true', [], { newNamespace: 'auto', stdio: 'ignore' });
    expect(child.pidNamespace).toBe('new');
    expect(child.nsPid).toBe(2);
    expect(child.namespaceId).not.toBe(namespaceInode('self'));
    await child.exited;
  });
});

describe('newNamespace and waitForDescendants: bad input is refused before anything starts', () => {
  test.each([
    [{ newNamespace: 'yes' }, /options.newNamespace.*must be true, false or 'auto'/],
    [{ newNamespace: 0 }, /options.newNamespace.*must be true, false or 'auto'/],
    [{ newNamespace: false, join: 1 }, /options.join.*cannot be used with options.newNamespace false/],
    [{ newNamespace: 'auto', init: false }, /options.init.*cannot be used with options.newNamespace 'auto'/],
    [{ newNamespace: false, mountProc: true }, /options.mountProc.*cannot be used with options.newNamespace false/],
    [{ newNamespace: 'auto', userNamespace: true }, /options.userNamespace.*cannot be used with options.newNamespace 'auto'/],
    [{ waitForDescendants: 1 }, /options.waitForDescendants/],
    [{ waitForDescendants: true, init: false }, /options.waitForDescendants.*options.init false/],
    [{ waitForDescendants: true, join: 1 }, /options.waitForDescendants.*options.join/],
    [{ waitForDescendants: true, teardownGraceMs: 10 }, /options.teardownGraceMs.*waitForDescendants/],
  ])('%j', async (options, message) => {
    await expect(spawnInPidNamespace('true', [], options as object)).rejects.toMatchObject({ code: expect.stringMatching(/^ERR_INVALID_ARG_(VALUE|TYPE)$/), message: expect.stringMatching(message) });
  });

  test('a pod is a namespace: PidNamespace.create refuses newNamespace', async () => {
    await expect(PidNamespace.create({ newNamespace: false } as object)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(/a pod is a PID namespace of its own/) });
  });
});
