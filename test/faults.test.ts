// Faults: processes killed from outside (the Node parent, the init, a pod's pid 1, a member),
// pipes that end early or are read late, and resource limits (descriptors, processes, PID
// namespaces). Each must end in a correct `exited`, a clear error, and nothing left behind, as
// /proc shows it.
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import { PidNamespace, spawnInPidNamespace } from '../lib';
import { childrenOfSelf, eventually, membersOfNamespace, ownDescriptorCount, readAll, running, runningMembersOfNamespace, status } from './kernel';
import { describeAsRoot } from './root';
import { fixture } from './subprocess';

interface LimitResult {
  name: string;
  ok?: { code: number | null; signal: string | null };
  error?: { name: string; code: string; errno: number; syscall: string; message: string; hint?: string };
  fdsLeaked?: number;
  children: number[];
}

interface LimitReport {
  crashed?: string;
  baseline: number;
  after: number;
  children: number[];
  results: LimitResult[];
}

function parseReport(run: { stdout: string; stderr: string; status: number | null }): LimitReport {
  const report = JSON.parse(run.stdout) as LimitReport;
  expect(report.crashed).toBeUndefined();
  expect(run.status).toBe(0);
  expect(report.after).toBe(report.baseline);
  expect(report.children).toEqual([]);
  return report;
}

/** A refusal must say what it was (code, errno, syscall) and what to do about it (hint). */
function expectClearRefusal(result: LimitResult, code: string, errno: number): void {
  expect(result.error).toBeDefined();
  expect({ step: result.name, code: result.error!.code, errno: result.error!.errno }).toEqual({ step: result.name, code, errno });
  expect(typeof result.error!.syscall).toBe('string');
  expect(result.error!.message).toContain(code);
  expect({ step: result.name, syscall: result.error!.syscall, hint: typeof result.error!.hint }).toEqual({ step: result.name, syscall: result.error!.syscall, hint: 'string' });
}

describeAsRoot('processes killed from outside', () => {
  afterEach(async () => {
    expect(await eventually(() => childrenOfSelf().length === 0, 3000)).toBe(true);
  });

  test.each([
    ['everything it started (init, raw, joined, pod and member)', []],
    ['raw and joined commands that run as another uid (PDEATHSIG must survive the change)', ['uid']],
  ])('SIGKILL of the Node parent ends %s', async (_name, args) => {
    const parent = spawn(process.execPath, [fixture('fault-parent.js'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve, reject) => {
      let text = '';
      parent.stdout!.setEncoding('utf8');
      parent.stdout!.on('data', (d: string) => {
        text += d;
        if (text.includes('\n')) resolve(text.slice(0, text.indexOf('\n')));
      });
      parent.once('exit', (code) => reject(new Error(`fault-parent.js exited ${code}`)));
    });
    const report = JSON.parse(line) as { pids: number[]; namespaces: number[] };
    try {
      for (const pid of report.pids) expect(running(pid)).toBe(true);
      parent.kill('SIGKILL');
      await new Promise((r) => parent.once('exit', r));
      // Within a second: what dieWithParent promises.
      expect(await eventually(() => report.pids.every((pid) => !running(pid)), 1000)).toBe(true);
      // The kernel kills the rest of each namespace as its pid 1 exits; give the last SIGKILLs the
      // same second to land.
      for (const ns of report.namespaces) {
        expect(await eventually(() => membersOfNamespace(ns).filter(running).length === 0, 1000)).toBe(true);
      }
    } finally {
      for (const pid of report.pids) if (running(pid)) process.kill(pid, 'SIGKILL');
    }
  });

  test('SIGKILL of the init: exited says SIGKILL and the namespace is empty', async () => {
    const child = await spawnInPidNamespace('sh', ['-c', 'sleep 1000 & exec sleep 1000'], { stdio: 'ignore' });
    await eventually(() => membersOfNamespace(child.namespaceId).length === 3);
    process.kill(child.init!.pid, 'SIGKILL');
    await expect(child.exited).resolves.toMatchObject({ code: null, signal: 'SIGKILL' });
    expect(child.exitCode).toBeNull();
    expect(child.signalCode).toBe('SIGKILL');
    expect(await eventually(() => runningMembersOfNamespace(child.namespaceId).length === 0, 1000)).toBe(true);
    expect(child.kill()).toBe(false);
  });

  test('SIGKILL of the init while the command ignores SIGTERM and has children of its own', async () => {
    const child = await spawnInPidNamespace('sh', ['-c', 'trap "" TERM; sleep 1000 & sleep 1000 & wait'], { stdio: 'ignore', teardownGraceMs: 10000 });
    await eventually(() => membersOfNamespace(child.namespaceId).length === 4);
    process.kill(child.init!.pid, 'SIGKILL');
    await expect(child.exited).resolves.toMatchObject({ code: null, signal: 'SIGKILL' });
    expect(await eventually(() => runningMembersOfNamespace(child.namespaceId).length === 0, 1000)).toBe(true);
  });

  test("SIGKILL of a pod's pid 1: every member reports SIGKILL, the pod has ended, close() still resolves", async () => {
    const ns = await PidNamespace.create();
    const a = await ns.spawn('sleep', ['1000'], { stdio: 'ignore' });
    const b = await ns.spawn('sh', ['-c', 'sleep 1000 & exec sleep 1000'], { stdio: 'ignore' });
    await eventually(() => membersOfNamespace(ns.id).length === 4);
    process.kill(ns.init!.pid, 'SIGKILL');
    await expect(a.exited).resolves.toMatchObject({ code: null, signal: 'SIGKILL' });
    await expect(b.exited).resolves.toMatchObject({ code: null, signal: 'SIGKILL' });
    expect(await eventually(() => ns.ended, 1000)).toBe(true);
    expect(await eventually(() => runningMembersOfNamespace(ns.id).length === 0, 1000)).toBe(true);
    await expect(ns.spawn('true', [], { stdio: 'ignore' })).rejects.toMatchObject({ code: 'ERR_NAMESPACE_ENDED' });
    await ns.close({ graceMs: 0 });
  });

  test('SIGKILL of a member: it reports SIGKILL, the pod and the other members go on', async () => {
    await using ns = await PidNamespace.create();
    const a = await ns.spawn('sleep', ['1000'], { stdio: 'ignore' });
    const b = await ns.spawn('sh', ['-c', 'sleep 1000 & exec sleep 1000'], { stdio: 'ignore' });
    await eventually(() => membersOfNamespace(ns.id).length === 4);
    process.kill(b.pid, 'SIGKILL');
    await expect(b.exited).resolves.toMatchObject({ code: null, signal: 'SIGKILL' });
    // b's background sleep is an orphan now, adopted by the pod's pid 1: still running, and a
    // child of pid 1, not a zombie of anyone.
    const orphans = membersOfNamespace(ns.id).filter((pid) => pid !== ns.init!.pid && pid !== a.pid);
    expect(orphans.length).toBe(1);
    expect(Number(status(orphans[0]).get('PPid'))).toBe(ns.init!.pid);
    expect(running(a.pid)).toBe(true);
    expect(running(ns.init!.pid)).toBe(true);
    process.kill(orphans[0], 'SIGKILL');
    expect(await eventually(() => membersOfNamespace(ns.id).length === 2, 1000)).toBe(true);
    const c = await ns.spawn('sh', ['-c', 'exit 9'], { stdio: 'ignore' });
    await expect(c.exited).resolves.toMatchObject({ code: 9, signal: null });
    a.kill('SIGKILL');
    await a.exited;
  });
});

describeAsRoot('pipes read late or closed early', () => {
  afterEach(async () => {
    expect(await eventually(() => childrenOfSelf().length === 0, 3000)).toBe(true);
  });

  test.each([true, false])('a command that exits before Node reads its pipes: a reader attached after `await exited` gets all of it (init: %s)', async (init) => {
    const big = 60000; // below the 64 KiB pipe buffer, so the command never waits for a reader
    const child = await spawnInPidNamespace('sh', ['-c', `head -c ${big} /dev/zero | tr '\\0' x; echo err >&2; exit 4`], { init });
    await expect(child.exited).resolves.toMatchObject({ code: 4, signal: null });
    const [out, err] = await Promise.all([readAll(child.stdout), readAll(child.stderr)]);
    expect(out).toBe('x'.repeat(big));
    expect(err).toBe('err\n');
  });

  test.each([true, false])("an 'end' listener attached after the spawn has settled sees the end of empty output (init: %s)", async (init) => {
    const child = await spawnInPidNamespace('sleep', ['30'], { init });
    await new Promise((r) => setTimeout(r, 100));
    const ended = new Promise<boolean>((resolve) => child.stdout!.once('end', () => resolve(true)));
    child.stdout!.resume();
    child.kill('SIGKILL');
    await expect(ended).resolves.toBe(true);
  });

  test.each([true, false])('a child handed over after its exit (Promise.all with a slower sibling): its unread output is released, closed resolves (init: %s)', async (init) => {
    // Promise.all over several spawns lets event-loop turns pass before the caller sees a child.
    // As with child_process, output nobody reads once the exit has been handled is discarded.
    const [child] = await Promise.all([
      spawnInPidNamespace('true', [], { init }),
      new Promise((r) => setTimeout(r, 100)),
    ]);
    await expect(child.closed).resolves.toMatchObject({ code: 0, signal: null });
    expect(child.stdout!.destroyed && child.stderr!.destroyed).toBe(true);
  });

  test.each([true, false])('a command that closes its stdout early: the stream ends while it runs, its status stays exact (init: %s)', async (init) => {
    const child = await spawnInPidNamespace('sh', ['-c', 'echo before; exec 1>&-; sleep 0.3; echo after >&2; exit 6'], { init });
    const out = readAll(child.stdout);
    expect(await out).toBe('before\n');
    expect(running(child.pid)).toBe(true);
    expect(await readAll(child.stderr)).toBe('after\n');
    await expect(child.exited).resolves.toMatchObject({ code: 6, signal: null });
  });

  // Raw, the writer is pid 1, for which a signal without a handler is dropped: it sees EPIPE
  // instead and exits 1. That is the pid-1 trap the init exists for.
  test.each([
    [true, { code: null, signal: 'SIGPIPE' }],
    [false, { code: 1, signal: null }],
  ])('Node closing the stdout pipe early: the writer gets SIGPIPE (or EPIPE as pid 1), reported exactly (init: %s)', async (init, expected) => {
    const child = await spawnInPidNamespace('yes', [], { init, stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise((r) => child.stdout!.once('data', r));
    child.stdout!.destroy();
    await expect(child.exited).resolves.toMatchObject(expected);
    expect(runningMembersOfNamespace(child.namespaceId)).toEqual([]);
  });
});

describeAsRoot('resource limits', () => {
  test('EMFILE at every step (RLIMIT_NOFILE, one free descriptor more each time): a clear error, nothing left', () => {
    const run = spawnSync('prlimit', ['--nofile=64:64', process.execPath, fixture('fault-limits.js'), 'nofile'], { encoding: 'utf8', timeout: 30000 });
    const report = parseReport(run);
    // Every kind of spawn failed at least once and succeeded once enough descriptors were free.
    for (const name of ['init', 'raw', 'pod']) {
      const mine = report.results.filter((r) => r.name === name);
      expect(mine.some((r) => r.error)).toBe(true);
      expect(mine[mine.length - 1].ok).toMatchObject({ code: 0, signal: null });
    }
    for (const result of report.results) {
      expect(result.fdsLeaked).toBe(0);
      expect(result.children).toEqual([]);
      if (result.ok) expect(result.ok).toMatchObject({ code: 0, signal: null });
      else expectClearRefusal(result, 'EMFILE', -24);
    }
  });

  const pidsCgroupRoot = ['/sys/fs/cgroup/pids', '/sys/fs/cgroup'].find((dir) => fs.existsSync(`${dir}/cgroup.procs`) && (dir.endsWith('/pids') || fs.readFileSync(`${dir}/cgroup.subtree_control`, 'utf8').includes('pids')));

  test('EAGAIN from a pids cgroup limit (0 to 3 processes of room): a clear error, nothing left', () => {
    expect(pidsCgroupRoot).toBeDefined(); // a pids controller (cgroup v1, or v2 with pids enabled)
    const cgroup = `${pidsCgroupRoot}/pidns-faults-${process.pid}`;
    fs.mkdirSync(cgroup);
    try {
      const run = spawnSync('sh', ['-c', `echo $$ > ${cgroup}/cgroup.procs && exec "$0" "$@"`, process.execPath, fixture('fault-limits.js'), 'pids', cgroup], { encoding: 'utf8', timeout: 30000 });
      const report = parseReport(run);
      for (const result of report.results) {
        expect(result.children).toEqual([]);
        if (result.ok) expect(result.ok).toMatchObject({ code: 0, signal: null });
        else expectClearRefusal(result, 'EAGAIN', -11);
      }
      // No room at all refuses everything; enough room lets everything through.
      expect(report.results.filter((r: LimitResult & { room?: number }) => r.room === 0).every((r) => r.error)).toBe(true);
      expect(report.results.filter((r: LimitResult & { room?: number }) => r.room === 3).every((r) => r.ok)).toBe(true);
      expect(Number(fs.readFileSync(`${cgroup}/pids.current`, 'utf8'))).toBe(0);
    } finally {
      fs.rmdirSync(cgroup);
    }
  });

  test('user.max_pid_namespaces reached (0, in a user namespace made for the test): ENOSPC with a hint, nothing left', () => {
    // The limit is per user namespace: the host's own value is never touched.
    const hostLimit = fs.readFileSync('/proc/sys/user/max_pid_namespaces', 'utf8');
    const run = spawnSync('unshare', ['--user', '--map-root-user', 'sh', '-c', 'echo 0 > /proc/sys/user/max_pid_namespaces && exec "$0" "$@"', process.execPath, fixture('fault-limits.js'), 'namespaces'], { encoding: 'utf8', timeout: 30000 });
    const report = parseReport(run);
    expect(report.results.map((r) => r.name)).toEqual(['init', 'raw', 'pod']);
    for (const result of report.results) {
      expect(result.children).toEqual([]);
      expectClearRefusal(result, 'ENOSPC', -28);
      expect(result.error!.hint).toMatch(/max_pid_namespaces/);
    }
    expect(fs.readFileSync('/proc/sys/user/max_pid_namespaces', 'utf8')).toBe(hostLimit);
  });
});
