// Edges of cgroups, freezing, killSignal, IPC framing and file: URLs, each asserted from what the
// kernel says (/proc, cgroup files) or from a separate Node process's exit status.
import { once } from 'events';
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { forkInPidNamespace, PidNamespace, runInPidNamespace, spawnInPidNamespace, type PidNamespaceChild } from '../lib';
import { cgroup2Mounts } from '../lib/cgroup';
import { childrenOfSelf, eventually, running } from './kernel';
import { describeAsRoot } from './root';
import { fixture, runFixture } from './subprocess';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const sender = require('./fixtures/edges-ipc-sender.js') as { bigString(length: number): string; smallMessage(i: number): unknown };

const V2 = cgroup2Mounts()[0];

/** The cgroup v2 path of a process, relative to the hierarchy's root ('0::/x' -> '/x'). */
function cgroupOf(pid: number): string {
  return fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'))!.slice(3);
}

const relative = (dir: string) => `/${path.relative(V2, dir)}`;
const readEvents = (dir: string) => fs.readFileSync(path.join(dir, 'cgroup.events'), 'utf8');
/** fs.watch handles of this process (libuv's FSEvent), which keep the event loop alive. */
const watchers = () => process.getActiveResourcesInfo().filter((r) => r === 'FSEventWrap').length;
/** A closed watcher's handle is gone a loop turn or two after close(). */
const watchersBack = (count: number) => eventually(() => watchers() === count, 1000);

/** How a promise ended, or 'pending' if it has not within ms. */
function settled<T>(promise: Promise<T>, ms = 5000): Promise<{ status: 'fulfilled'; value: T } | { status: 'rejected'; reason: { code?: string } } | { status: 'pending' }> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.then(
      (value) => ({ status: 'fulfilled' as const, value }),
      (reason) => ({ status: 'rejected' as const, reason }),
    ),
    new Promise<{ status: 'pending' }>((resolve) => (timer = setTimeout(() => resolve({ status: 'pending' }), ms))),
  ]).finally(() => clearTimeout(timer));
}

describe('options refused before anything is spawned', () => {
  test.each([
    ['0', 0],
    ['32 (the C library’s, no name in kill -l)', 32],
    ["'SIGRTMIN-1' (33)", 'SIGRTMIN-1'],
    ['65', 65],
    ["'SIGNOPE'", 'SIGNOPE'],
  ])('killSignal %s: TypeError ERR_UNKNOWN_SIGNAL, as child_process throws', async (_name, killSignal) => {
    const before = childrenOfSelf().length;
    const err = await spawnInPidNamespace('sleep', ['30'], { killSignal: killSignal as NodeJS.Signals, timeout: 50, stdio: 'ignore' }).catch((e) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect(err).toMatchObject({ code: 'ERR_UNKNOWN_SIGNAL' });
    await expect(runInPidNamespace('sleep', ['30'], { killSignal: killSignal as NodeJS.Signals, timeout: 50 })).rejects.toMatchObject({ code: 'ERR_UNKNOWN_SIGNAL' });
    expect(childrenOfSelf().length).toBe(before);
  });

  test.each([
    ['a host', 'file://server/tmp', 'ERR_INVALID_FILE_URL_HOST'],
    ['an encoded slash', 'file:///tmp%2Fx', 'ERR_INVALID_FILE_URL_PATH'],
    ['an encoded slash in the middle', 'file:///t%2fmp/', 'ERR_INVALID_FILE_URL_PATH'],
  ])('cwd as a file: URL with %s: TypeError %s', async (_name, url, code) => {
    const before = childrenOfSelf().length;
    const err = await spawnInPidNamespace('pwd', [], { cwd: new URL(url) }).catch((e) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect(err).toMatchObject({ code, message: expect.stringContaining('options.cwd') });
    expect(childrenOfSelf().length).toBe(before);
  });
});

describeAsRoot('killSignal and cwd that are accepted', () => {
  test('a real-time killSignal is sent when the timeout passes (the kernel reports the death by it)', async () => {
    const child = await spawnInPidNamespace('sleep', ['30'], { killSignal: 'SIGRTMIN+2' as NodeJS.Signals, timeout: 100, stdio: 'ignore' });
    expect(await child.exited).toMatchObject({ code: null, signal: 'SIGRTMIN+2' });
  });

  test('a file: URL with encoded characters other than a slash is the decoded path', async () => {
    const dir = fs.mkdtempSync('/tmp/pidns edges ');
    try {
      const url = new URL(`file://${dir.split('/').map(encodeURIComponent).join('/')}/`);
      expect(url.href).toContain('%20');
      const child = await spawnInPidNamespace('sleep', ['30'], { cwd: url, stdio: 'ignore' });
      expect(fs.readlinkSync(`/proc/${child.pid}/cwd`)).toBe(dir);
      child.kill('SIGKILL');
      await child.exited;
    } finally {
      fs.rmdirSync(dir);
    }
  });
});

describeAsRoot('cgroups made by pidns (cgroup v2 from /proc/self/mountinfo)', () => {
  test('a pod member that makes cgroups inside the pod’s cgroup: close() resolves, the whole tree is removed, nothing rejects unhandled', () => {
    const run = runFixture('edges-pod-nested-cgroup.js', [V2], { timeoutMs: 30000 });
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
    const report = JSON.parse(run.stdout) as { dir: string; memberCgroup: string; closed: unknown; left: boolean };
    // The member really ran two levels below the pod's cgroup.
    expect(report.memberCgroup).toBe(`${relative(report.dir)}/sub/deeper`);
    expect(report.closed).toBe('resolved');
    expect(report.left).toBe(false);
    expect(fs.existsSync(report.dir)).toBe(false);
  });

  test('a spawned command that makes cgroups inside its own: they go with it before exited resolves', async () => {
    const nested = await spawnInPidNamespace('sh', ['-c', `d=${V2}$(sed -n 's/^0:://p' /proc/self/cgroup); mkdir -p "$d/a/b" && echo $$ > "$d/a/b/cgroup.procs" && echo moved && exec sleep 1000`], {
      cgroup: { parent: V2 },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await once(nested.stdout!, 'data');
    expect(cgroupOf(nested.pid)).toBe(`${relative(nested.cgroup!)}/a/b`);
    nested.kill();
    await nested.exited;
    expect(fs.existsSync(nested.cgroup!)).toBe(false);
  });

  // Busy processes: the kernel reports a cgroup frozen only once each of them has been scheduled
  // into the freezer's trap, so a thaw right after the freeze often comes first. Processes that
  // sleep are frozen before the write returns, which would hide the race.
  const BUSY = 'for i in 1 2 3; do (while :; do :; done) & done; echo busy; wait';
  const freezeValue = (dir: string) => fs.readFileSync(path.join(dir, 'cgroup.freeze'), 'utf8').trim();

  /** freeze() then thaw() without waiting, `rounds` times; what each call came to. */
  async function freezeThawRounds(target: { freeze(): Promise<void>; thaw(): Promise<void> }, rounds: number) {
    const outcomes: { froze: Awaited<ReturnType<typeof settled>>; thawed: Awaited<ReturnType<typeof settled>> }[] = [];
    for (let i = 0; i < rounds; i++) {
      const [froze, thawed] = await Promise.all([settled(target.freeze(), 3000), settled(target.thaw(), 3000)]);
      outcomes.push({ froze, thawed });
      if (froze.status === 'pending' || thawed.status === 'pending') break;
    }
    return outcomes;
  }

  /** Each round: the thaw (the later call) resolved, and the freeze resolved or was superseded. */
  function expectLaterWins(outcomes: Awaited<ReturnType<typeof freezeThawRounds>>): void {
    for (const { froze, thawed } of outcomes) {
      expect(thawed).toEqual({ status: 'fulfilled', value: undefined });
      if (froze.status !== 'fulfilled') expect(froze).toMatchObject({ status: 'rejected', reason: { code: 'ERR_CGROUP_FREEZE_SUPERSEDED' } });
    }
  }

  test('freeze() and thaw() called together both settle, the later one wins, and no watcher is left', async () => {
    const child = await spawnInPidNamespace('sh', ['-c', BUSY], { cgroup: { parent: V2 }, stdio: ['ignore', 'pipe', 'inherit'] });
    const dir = child.cgroup!;
    await once(child.stdout!, 'data');
    const watchersBefore = watchers();
    try {
      expectLaterWins(await freezeThawRounds(child, 20));
      expect(freezeValue(dir)).toBe('0');
      expect(readEvents(dir)).toMatch(/^frozen 0$/m);
      expect(await watchersBack(watchersBefore)).toBe(true);

      // The other order, from a frozen cgroup: the freeze wins and the cgroup stays frozen.
      await child.freeze();
      const [thawed, froze] = await Promise.all([settled(child.thaw(), 3000), settled(child.freeze(), 3000)]);
      expect(froze).toEqual({ status: 'fulfilled', value: undefined });
      if (thawed.status !== 'fulfilled') expect(thawed).toMatchObject({ status: 'rejected', reason: { code: 'ERR_CGROUP_FREEZE_SUPERSEDED' } });
      expect(freezeValue(dir)).toBe('1');
      expect(readEvents(dir)).toMatch(/^frozen 1$/m);
      expect(await watchersBack(watchersBefore)).toBe(true);

      // Many at once, alternating: each settles, the last (a thaw) decides.
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => settled(i % 2 === 0 ? child.freeze() : child.thaw(), 3000)));
      expect(results.filter((r) => r.status === 'pending')).toEqual([]);
      expect(results[9]).toEqual({ status: 'fulfilled', value: undefined });
      expect(freezeValue(dir)).toBe('0');
      expect(readEvents(dir)).toMatch(/^frozen 0$/m);
      expect(await watchersBack(watchersBefore)).toBe(true);
    } finally {
      child.kill('SIGKILL');
      await child.exited;
    }
    expect(fs.existsSync(dir)).toBe(false);
    expect(await watchersBack(watchersBefore)).toBe(true);
  });

  test('a pod frozen and thawed together, then closed during a freeze: everything settles and the cgroup is gone', async () => {
    const pod = await PidNamespace.create({ cgroup: { parent: V2 } });
    const dir = pod.cgroup!;
    const member = await pod.spawn('sh', ['-c', BUSY], { stdio: ['ignore', 'pipe', 'inherit'] });
    await once(member.stdout!, 'data');
    const watchersBefore = watchers();
    expectLaterWins(await freezeThawRounds(pod, 10));
    expect(readEvents(dir)).toMatch(/^frozen 0$/m);
    // close() right after a freeze() nobody waited for: the close thaws, and ends the pod.
    const freezing = settled(pod.freeze(), 3000);
    await pod.close({ graceMs: 100 });
    expect((await freezing).status).not.toBe('pending');
    expect(running(member.pid)).toBe(false);
    expect(fs.existsSync(dir)).toBe(false);
    expect(await watchersBack(watchersBefore)).toBe(true);
  });

  test('worker threads that each spawn into a new cgroup at the same time get cgroups of their own', async () => {
    const workers = [0, 1, 2].map(() => new Worker(fixture('edges-cgroup-worker.js'), { workerData: { parent: V2 } }));
    try {
      const started = (await Promise.all(workers.map((w) => once(w, 'message')))).map(([m]) => m as { cgroup?: string; pid?: number; error?: unknown });
      for (const report of started) expect(report.error).toBeUndefined();
      const dirs = started.map((r) => r.cgroup!);
      expect(new Set(dirs).size).toBe(3);
      for (const report of started) {
        expect(path.dirname(report.cgroup!)).toBe(fs.realpathSync(V2));
        expect(cgroupOf(report.pid!)).toBe(relative(report.cgroup!));
      }
      // And the main thread beside them.
      const main = await spawnInPidNamespace('sleep', ['1000'], { cgroup: { parent: V2 }, stdio: 'ignore' });
      expect(dirs).not.toContain(main.cgroup);
      main.kill('SIGKILL');
      await main.exited;
      const ended = workers.map((w) => once(w, 'message'));
      for (const w of workers) w.postMessage('end');
      for (const [report] of await Promise.all(ended)) expect(report).toEqual({ left: false });
      for (const dir of dirs) expect(fs.existsSync(dir)).toBe(false);
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
  });
});

describeAsRoot('JSON IPC framing', () => {
  const quiet = { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] as ('ignore' | 'inherit' | 'ipc')[], execArgv: [] };

  async function ended(child: PidNamespaceChild): Promise<void> {
    if (child.connected) child.disconnect();
    child.kill('SIGKILL');
    await child.closed;
  }

  test('one 16 MiB message arrives whole and equal', async () => {
    const length = 16 * 2 ** 20;
    const child = await forkInPidNamespace(fixture('edges-ipc-sender.js'), ['big', String(length)], quiet);
    try {
      const [message] = (await once(child, 'message')) as [{ big: string }];
      expect(message.big.length).toBe(length);
      expect(message.big === sender.bigString(length)).toBe(true);
    } finally {
      await ended(child);
    }
  }, 60000);

  test('many small messages cut into pieces across reads (through lines and UTF-8 sequences) arrive whole and in order', async () => {
    const count = 3000;
    const child = await spawnInPidNamespace(process.execPath, [fixture('edges-ipc-sender.js'), 'pieces', String(count), '3'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const received: unknown[] = [];
    const errors: unknown[] = [];
    child.on('error', (e) => errors.push(e));
    const disconnected = once(child, 'disconnect');
    child.on('message', (m) => received.push(m));
    expect(await child.exited).toMatchObject({ code: 0 });
    // 'disconnect' comes once everything the command wrote has been read.
    await disconnected;
    await child.closed;
    expect(errors).toEqual([]);
    expect(received).toEqual(Array.from({ length: count }, (_, i) => sender.smallMessage(i)));
  });
});
