// Control over pids: pidMax (a new namespace's own pid_max) and nsPid (a joiner's pid in the
// namespace it joins). The kernel is asked what it did: /proc/sys/kernel/pid_max inside the
// namespace and out, the pids it handed out until a fork failed with EAGAIN, and NSpid lines.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import { PidNamespace, spawnInPidNamespace, type PidNamespaceChild } from '../lib';
import { systemError } from '../lib/errors';
import { pidMaxPerNamespace } from '../lib/pid-control';
import { expectOneLine, startCli } from './cli-run';
import { childrenOfSelf, nsPidLine, readAll } from './kernel';
import { describeAsRoot } from './root';
import { runFixture, fixture } from './subprocess';

const { EEXIST, EINVAL, ENOSYS, EPERM, EACCES } = os.constants.errno;
const hostPidMax = () => fs.readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim();
const perNamespace = pidMaxPerNamespace();

async function outputOf(child: PidNamespaceChild): Promise<{ text: string; code: number | null }> {
  const text = await readAll(child.stdout);
  const { code } = await child.exited;
  return { text: text.trim(), code };
}

/** Forks children that wait until a fork fails; prints the errno's name, its own pid, and theirs. */
const FORK_UNTIL_REFUSED = [
  'import errno, os, signal',
  'pids = []',
  'while True:',
  '    try:',
  '        pid = os.fork()',
  '    except OSError as e:',
  '        print(errno.errorcode[e.errno], os.getpid(), *pids, flush=True)',
  '        break',
  '    if pid == 0:',
  '        signal.pause()',
  '        os._exit(0)',
  '    pids.append(pid)',
].join('\n');
/** The system's own Python: a wrapper (pyenv's shims) would start processes of its own first. */
const PYTHON = ['/usr/bin/python3', '/bin/python3'].find((p) => fs.existsSync(p)) ?? 'python3';

describe('pidMax and nsPid: checked before anything is spawned', () => {
  test.each([
    [{ pidMax: 300 }, 'ERR_OUT_OF_RANGE'],
    [{ pidMax: 4194305 }, 'ERR_OUT_OF_RANGE'],
    [{ pidMax: 400.5 }, 'ERR_OUT_OF_RANGE'],
    [{ pidMax: NaN }, 'ERR_OUT_OF_RANGE'],
    [{ pidMax: '400' }, 'ERR_INVALID_ARG_TYPE'],
    [{ pidMax: 400, join: 1 }, 'ERR_INVALID_ARG_VALUE'],
    [{ pidMax: 400, newNamespace: false }, 'ERR_INVALID_ARG_VALUE'],
    [{ pidMax: 400, newNamespace: 'auto' }, 'ERR_INVALID_ARG_VALUE'],
    [{ nsPid: 5 }, 'ERR_INVALID_ARG_VALUE'],
    [{ nsPid: 5, init: false }, 'ERR_INVALID_ARG_VALUE'],
    [{ nsPid: 1, join: 1 }, 'ERR_OUT_OF_RANGE'],
    [{ nsPid: 0, join: 1 }, 'ERR_OUT_OF_RANGE'],
    [{ nsPid: 4194304, join: 1 }, 'ERR_OUT_OF_RANGE'],
    [{ nsPid: 2.5, join: 1 }, 'ERR_OUT_OF_RANGE'],
    [{ nsPid: '7', join: 1 }, 'ERR_INVALID_ARG_TYPE'],
  ])('%j: %s', async (options, code) => {
    const before = childrenOfSelf().length;
    await expect(spawnInPidNamespace('true', [], options as never)).rejects.toMatchObject({ code });
    expect(childrenOfSelf()).toHaveLength(before);
  });

  test('the messages say why', async () => {
    await expect(spawnInPidNamespace('true', [], { nsPid: 5 })).rejects.toThrow(/options\.nsPid.*needs options\.join \(in a new namespace the command is pid 2\)/);
    await expect(spawnInPidNamespace('true', [], { nsPid: 5, init: false })).rejects.toThrow(/command is pid 1\)/);
    await expect(spawnInPidNamespace('true', [], { pidMax: 400, join: 1 })).rejects.toThrow(/options\.pidMax.*set by its creator/);
  });

  test('PidNamespace.create checks pidMax', async () => {
    await expect(PidNamespace.create({ pidMax: 300 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await expect(PidNamespace.create({ pidMax: 'x' as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  });

  test.each([
    ['6.14.0', true],
    ['6.18.44-fc-v1300', true],
    ['7.0.1', true],
    ['6.13.12-arch1-1', false],
    ['5.15.0-91-generic', false],
    ['6.1', false],
    ['not a release', false],
  ])('a kernel %s keeps a pid_max per namespace: %s', (release, expected) => {
    expect(pidMaxPerNamespace(release)).toBe(expected);
  });

  test('on a kernel before 6.14 pidMax is ERR_PID_MAX_UNSUPPORTED naming the release, and nothing runs or is written', async () => {
    // The os module itself: the namespace object TypeScript imports it through cannot be spied on.
    const release = jest.spyOn(require('os') as typeof os, 'release').mockReturnValue('6.13.7-old');
    try {
      const before = { children: childrenOfSelf().length, pidMax: hostPidMax() };
      const refusal = { code: 'ERR_PID_MAX_UNSUPPORTED', errno: -os.constants.errno.EOPNOTSUPP, syscall: 'pid_max', message: expect.stringMatching(/Linux has since 6\.14; this kernel is 6\.13\.7-old/) };
      await expect(spawnInPidNamespace('true', [], { pidMax: 1000 })).rejects.toMatchObject(refusal);
      await expect(PidNamespace.create({ pidMax: 1000 })).rejects.toMatchObject(refusal);
      expect({ children: childrenOfSelf().length, pidMax: hostPidMax() }).toEqual(before);
    } finally {
      release.mockRestore();
    }
  });

  test('refusals of the kernel get hints', () => {
    const ctx = { action: 'spawn x', nsPid: 9, joining: true };
    expect(systemError(EEXIST, 'clone3', ctx)).toMatchObject({ code: 'ERR_NS_PID_IN_USE', errno: -EEXIST, message: expect.stringMatching(/pid 9 is in use/) });
    expect(systemError(ENOSYS, 'clone3', ctx)).toMatchObject({ code: 'ENOSYS', hint: expect.stringMatching(/nsPid\) needs clone3 with set_tid \(Linux 5\.5\)/) });
    expect(systemError(EPERM, 'clone3', ctx)).toMatchObject({ code: 'EPERM', hint: expect.stringMatching(/CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE/) });
    expect(systemError(EINVAL, 'clone3', ctx)).toMatchObject({ code: 'EINVAL', hint: expect.stringMatching(/nsPid 9 is at or above the joined namespace's pid_max/) });
    expect(systemError(EACCES, 'pid_max', { action: 'spawn x' })).toMatchObject({ hint: expect.stringMatching(/setting pidMax needs CAP_SYS_ADMIN/) });
    expect(systemError(EINVAL, 'pid_max', { action: 'spawn x' })).toMatchObject({ hint: expect.stringMatching(/from 301 .* to 4194304/) });
  });

  test('pidns run --pid-max and pidns exec --ns-pid: bad values are usage errors', async () => {
    for (const args of [
      ['run', '--pid-max', '300', '--', 'true'],
      ['run', '--pid-max', 'x', '--', 'true'],
      ['run', '--pid-max', '400', '--join', '1', '--', 'true'],
      ['run', '--pid-max', '400', '--no-new-namespace', '--', 'true'],
      ['exec', '--target', '1', '--ns-pid', '1', '--', 'true'],
      ['exec', '--target', '1', '--ns-pid', '4194304', '--', 'true'],
    ]) {
      const done = await startCli(args).finished;
      expect({ args, code: done.code }).toEqual({ args, code: 2 });
      expectOneLine(done.stderr);
    }
  });
});

describeAsRoot('pidMax: the new namespace\'s own pid_max', () => {
  beforeAll(() => {
    if (!perNamespace) throw new Error(`these tests need Linux 6.14 or later, this is ${os.release()}`);
  });

  test.each([
    ['under the init', { init: true }],
    ['raw', { init: false }],
    ['under the init, read through the host\'s /proc', { init: true, mountProc: false }],
    ['in a user namespace', { init: true, userNamespace: true }],
  ])('%s: pid_max reads the value inside; the host\'s is unchanged', async (_name, options) => {
    const before = hostPidMax();
    const child = await spawnInPidNamespace('cat', ['/proc/sys/kernel/pid_max'], { mountProc: true, ...options, pidMax: 4321 });
    expect(await outputOf(child)).toEqual({ text: '4321', code: 0 });
    expect(hostPidMax()).toBe(before);
  });

  // kernel/pid_namespace.c: a new namespace starts at PID_MAX_LIMIT, not at its parent's value.
  test('without pidMax a new namespace has the kernel\'s limit as its own, whatever the host\'s is', async () => {
    const child = await spawnInPidNamespace('cat', ['/proc/sys/kernel/pid_max']);
    expect(await outputOf(child)).toEqual({ text: '4194304', code: 0 });
  });

  test.each([
    ['under the init', true, 2],
    ['raw', false, 1],
  ])('%s: forks get every pid below pidMax, in order, then EAGAIN', async (_name, init, ownPid) => {
    const before = hostPidMax();
    const child = await spawnInPidNamespace(PYTHON, ['-c', FORK_UNTIL_REFUSED], { init, pidMax: 310 });
    const { text, code } = await outputOf(child);
    expect(code).toBe(0);
    const [errno, self, ...forked] = text.split(' ');
    expect(errno).toBe('EAGAIN');
    expect(Number(self)).toBe(ownPid);
    const expected = Array.from({ length: 310 - ownPid - 1 }, (_, i) => ownPid + 1 + i);
    expect(forked.map(Number)).toEqual(expected);
    expect(hostPidMax()).toBe(before);
  }, 30000);

  test('a pod\'s pid_max is its members\' too, and set before any joins', async () => {
    const pod = await PidNamespace.create({ pidMax: 777 });
    try {
      expect(await outputOf(await pod.spawn('cat', ['/proc/sys/kernel/pid_max']))).toEqual({ text: '777', code: 0 });
      await expect(pod.spawn('true', [], { nsPid: 777 })).rejects.toMatchObject({ code: 'EINVAL', syscall: 'clone3', hint: expect.stringMatching(/pid_max/) });
      const last = await pod.spawn('sleep', ['30'], { nsPid: 776, stdio: 'ignore' });
      expect(nsPidLine(last.pid)).toEqual([last.pid, 776]);
      last.kill('SIGKILL');
      await last.exited;
    } finally {
      await pod.close({ graceMs: 0 });
    }
  });

  test('pidns run --pid-max N', async () => {
    const done = await startCli(['run', '--pid-max', '999', '--status-fd', '3', '--', 'cat', '/proc/sys/kernel/pid_max']).finished;
    expect({ code: done.code, stdout: done.stdout.trim() }).toEqual({ code: 0, stdout: '999' });
  });
});

describeAsRoot('nsPid: the pid a joiner takes', () => {
  test('join by pid: the joiner has the chosen pid inside, as NSpid shows', async () => {
    const host = await spawnInPidNamespace('sleep', ['30'], { stdio: 'ignore' });
    try {
      const joiner = await spawnInPidNamespace('sleep', ['30'], { join: host.pid, nsPid: 4000, stdio: 'ignore' });
      expect(joiner.nsPid).toBe(4000);
      expect(nsPidLine(joiner.pid)).toEqual([joiner.pid, 4000]);
      expect(joiner.namespaceId).toBe(host.namespaceId);

      // 4000 and the init's 1 and the command's 2 are taken; nothing is left behind by the refusal.
      const before = childrenOfSelf().length;
      for (const taken of [4000, 2]) {
        await expect(spawnInPidNamespace('true', [], { join: host.pid, nsPid: taken })).rejects.toMatchObject({
          code: 'ERR_NS_PID_IN_USE',
          errno: -EEXIST,
          syscall: 'clone3',
          message: expect.stringMatching(new RegExp(`pid ${taken} is in use`)),
        });
      }
      expect(childrenOfSelf()).toHaveLength(before);
      joiner.kill('SIGKILL');
      await joiner.exited;
    } finally {
      host.kill('SIGKILL');
      await host.exited;
    }
  });

  test('a pid that lives on as a process group and session is in use, though no process has it', async () => {
    const pod = await PidNamespace.create();
    try {
      // The member leads a session of its own and leaves a child in it, which pid 1 takes.
      const leader = await pod.spawn('python3', ['-c', 'import os, time\nos.setsid()\nif os.fork() == 0: time.sleep(30)'], { nsPid: 600, stdio: 'ignore' });
      expect(await leader.exited).toMatchObject({ code: 0 });
      const statuses = pod.processes().map((p) => fs.readFileSync(`/proc/${p.pid}/status`, 'utf8'));
      const innermost = (text: string, key: string) => Number(text.match(new RegExp(`^${key}:\\s*(.*)$`, 'm'))![1].trim().split(/\s+/).pop());
      expect(statuses.map((t) => innermost(t, 'NSpid'))).not.toContain(600);
      expect(statuses.map((t) => innermost(t, 'NSpgid'))).toContain(600);
      expect(statuses.map((t) => innermost(t, 'NSsid'))).toContain(600);
      await expect(pod.spawn('true', [], { nsPid: 600 })).rejects.toMatchObject({
        code: 'ERR_NS_PID_IN_USE',
        errno: -EEXIST,
        message: expect.stringMatching(/pid 600 is in use.*process group or session/),
      });
    } finally {
      await pod.close({ graceMs: 0 });
    }
  });

  test('a pod member, with a private /proc where it sees its own pid', async () => {
    const pod = await PidNamespace.create({ mountProc: true });
    try {
      const member = await pod.spawn('sh', ['-c', 'echo $$; exec grep NSpid /proc/self/status'], { nsPid: 123 });
      const { text } = await outputOf(member);
      expect(text.split('\n')).toEqual(['123', 'NSpid:\t123']);
      expect(member.nsPid).toBe(123);
      expect(pod.processes().map((p) => p.nsPid)).toEqual([1]);
    } finally {
      await pod.close({ graceMs: 0 });
    }
  });

  test('pidns exec --target PID --ns-pid N', async () => {
    const host = await spawnInPidNamespace('sleep', ['30'], { stdio: 'ignore' });
    try {
      const done = await startCli(['exec', '--target', String(host.pid), '--ns-pid', '321', '--status-fd', '3', '--', 'sh', '-c', 'echo $$']).finished;
      expect({ code: done.code, stdout: done.stdout.trim() }).toEqual({ code: 0, stdout: '321' });
      expect(done.events[0]).toMatchObject({ event: 'spawn', nsPid: 321, pidNamespace: 'joined' });
      const taken = await startCli(['exec', '--target', String(host.pid), '--ns-pid', '2', '--', 'true']).finished;
      expect(taken.code).toBe(125);
      expect(taken.stderr).toMatch(/pid 2 is in use/);
    } finally {
      host.kill('SIGKILL');
      await host.exited;
    }
  });

  // Node in a namespace of unshare's, the pod in one below it: the pod is two levels down from
  // ours, and set_tid's one entry is its pid there, the innermost.
  test('nested: from a Node inside a PID namespace, the chosen pid is the innermost one', () => {
    const run = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', '--kill-child', process.execPath, fixture('pid-control-report.js')], { encoding: 'utf8', timeout: 20000 });
    const report = JSON.parse(run.stdout);
    expect(report.failed).toBeUndefined();
    // Its /proc is unshare's: NSpid there starts at the namespace Node runs in.
    expect(report.self).toHaveLength(1);
    expect(report.member).toMatchObject({ nsPid: 42, kernel: [report.member.pid, 42] });
    expect(report.memberReads).toMatchObject({ text: '600', exited: { code: 0 } });
    expect(report.inUse).toMatchObject({ code: 'ERR_NS_PID_IN_USE' });
  });

  test('as nobody: a rootless pod with its own pid_max, members at chosen pids, a pid in use refused', () => {
    const before = hostPidMax();
    const run = runFixture('pid-control-report.js', [], { asNobody: true });
    const report = JSON.parse(run.stdout);
    expect(report.failed).toBeUndefined();
    expect(report.userNamespace).toMatchObject({ text: '500', exited: { code: 0 } });
    expect(report.member).toMatchObject({ nsPid: 42, kernel: [report.member.pid, 42] });
    expect(report.memberReads).toMatchObject({ text: '600', exited: { code: 0 } });
    expect(report.inUse).toMatchObject({ code: 'ERR_NS_PID_IN_USE', syscall: 'clone3' });
    expect(report.atPidMax).toMatchObject({ code: 'EINVAL', syscall: 'clone3' });
    expect([report.hostPidMaxBefore, report.hostPidMaxAfter, hostPidMax()]).toEqual([before, before, before]);
  });
});
