// Load: thousands of spawns, hundreds at once, a churning pod and a flood of signals leave
// nothing behind (no zombie, no descriptor, bounded memory) and lose no exit status. Everything is
// checked against /proc, not against what the library reports.
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PidNamespace, spawnInPidNamespace, type PidNamespaceChild } from '../lib';
import { childrenOfSelf, eventually, membersOfNamespace, namespaceInode, ownDescriptorCount, readAll, running, status, zombiesIn } from './kernel';
import { describeAsRoot } from './root';
import { fixture } from './subprocess';

const SEQUENTIAL = 2000;
const CONCURRENT = 300;
// Node's own child_process.spawn with three pipes grows RSS by about 5 KiB per spawn here (glibc
// arenas behind libuv's pipes; the V8 heap stays flat), so RSS gets a generous bound and the V8
// heap a tight one. A leak of a handle or a stream per spawn would blow the heap bound.
// Measured with the fallback watcher: 31 MiB of growth over 2,000 spawns and 22 MiB over 6,000,
// so the growth is the allocator settling, not a cost per spawn; the bound leaves room for that.
const RSS_GROWTH_KIB = 48 * 1024;
const HEAP_GROWTH_BYTES = 2 * 1024 * 1024;

async function settled(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
}

describeAsRoot('load', () => {
  afterEach(async () => {
    expect(await eventually(() => childrenOfSelf().length === 0, 3000)).toBe(true);
  });

  test(`${SEQUENTIAL} sequential spawns (init and raw, pipe and ignore, some killed): no zombie, no descriptor, bounded memory`, () => {
    // A separate Node with --expose-gc, so that memory is measured after full collections.
    const run = spawnSync(process.execPath, ['--expose-gc', fixture('fault-load.js'), String(SEQUENTIAL)], { encoding: 'utf8', timeout: 60000 });
    expect(run.stderr).toBe('');
    const report = JSON.parse(run.stdout);
    expect(report.error).toBeUndefined();
    expect(report.after.children).toEqual([]);
    expect(report.after.fds).toBe(report.before.fds);
    // Under AddressSanitizer (npm run test:sanitize) freed memory sits in a quarantine: RSS says
    // nothing there.
    if (!process.env.LD_PRELOAD?.includes('libasan')) expect(report.after.rssKiB - report.before.rssKiB).toBeLessThan(RSS_GROWTH_KIB);
    expect(report.after.heapUsed - report.before.heapUsed).toBeLessThan(HEAP_GROWTH_BYTES);
  });

  test(`${CONCURRENT} concurrent spawns: every status exact, no zombie, no descriptor`, async () => {
    const fdsBefore = ownDescriptorCount();
    const children = await Promise.all(
      Array.from({ length: CONCURRENT }, (_, i) =>
        spawnInPidNamespace('sh', ['-c', `exit ${i % 256}`], { init: i % 2 === 0, stdio: i % 3 === 0 ? 'ignore' : 'pipe' }),
      ),
    );
    const outputs = children.map((c) => Promise.all([readAll(c.stdout), readAll(c.stderr)]));
    const statuses = await Promise.all(children.map((c) => c.exited));
    await Promise.all(outputs);
    for (const c of children) c.stdin?.destroy();
    statuses.forEach((s, i) => expect(s).toMatchObject({ code: i % 256, signal: null }));
    // Every pid was distinct and every namespace was a new one: the command was its pid 1 (raw)
    // or 2 (under the init). (Their inodes need not differ: a namespace whose processes are gone
    // frees its inode number for the next.)
    expect(new Set(children.map((c) => c.pid)).size).toBe(CONCURRENT);
    expect(children.map((c) => c.nsPid)).toEqual(children.map((_, i) => (i % 2 === 0 ? 2 : 1)));
    expect(children.filter((c) => c.namespaceId === namespaceInode('self'))).toEqual([]);
    await settled();
    expect(await eventually(() => childrenOfSelf().length === 0, 3000)).toBe(true);
    expect(await eventually(() => ownDescriptorCount() === fdsBefore, 3000)).toBe(true);
    for (const c of children) expect(running(c.pid)).toBe(false);
  });

  test(`${CONCURRENT} concurrent long-running spawns killed at once`, async () => {
    const fdsBefore = ownDescriptorCount();
    const children = await Promise.all(
      Array.from({ length: CONCURRENT }, (_, i) => spawnInPidNamespace('sleep', ['30'], { init: i % 2 === 0, stdio: 'ignore' })),
    );
    for (const c of children) expect(status(c.pid).get('State')!.charAt(0)).toMatch(/[RS]/);
    children.forEach((c, i) => expect(c.kill(i % 2 === 0 ? 'SIGTERM' : 'SIGKILL')).toBe(true));
    const statuses = await Promise.all(children.map((c) => c.exited));
    // Under the init SIGTERM reaches the command, which dies of it; raw, pid 1 ignores SIGTERM
    // without a handler, so those got SIGKILL.
    statuses.forEach((s, i) => expect(s).toMatchObject({ code: null, signal: i % 2 === 0 ? 'SIGTERM' : 'SIGKILL' }));
    await settled();
    expect(await eventually(() => ownDescriptorCount() === fdsBefore, 3000)).toBe(true);
    // By pid, not by namespace inode: a freed namespace's inode number is soon given to a new one
    // (another test file may be creating namespaces meanwhile). Each namespace held only these.
    for (const c of children) {
      expect(await eventually(() => !running(c.pid) && !(c.init && running(c.init.pid)), 1000)).toBe(true);
      expect(c.kill()).toBe(false);
    }
  });

  test('a pod with heavy member churn (orphans included) is left with only its pid 1', async () => {
    const fdsBefore = ownDescriptorCount();
    const ns = await PidNamespace.create();
    try {
      const members: Promise<unknown>[] = [];
      let running = 0;
      for (let i = 0; i < 300; i++) {
        while (running >= 16) await new Promise((r) => setTimeout(r, 1));
        running++;
        // A third leave an orphan behind (a background sleep the pod's pid 1 must reap), a third
        // are killed, a third just exit.
        const kind = i % 3;
        const args = kind === 0 ? ['-c', 'sleep 0.05 & exit 7'] : kind === 1 ? ['-c', 'exec sleep 30'] : ['-c', 'exit 0'];
        members.push(
          ns.spawn('sh', args, { stdio: 'ignore' }).then(async (m: PidNamespaceChild) => {
            if (kind === 1) m.kill('SIGKILL');
            const s = await m.exited;
            running--;
            expect(s).toMatchObject(kind === 0 ? { code: 7, signal: null } : kind === 1 ? { code: null, signal: 'SIGKILL' } : { code: 0, signal: null });
          }),
        );
      }
      await Promise.all(members);
      expect(await eventually(() => membersOfNamespace(ns.id).length === 1, 3000)).toBe(true);
      expect(membersOfNamespace(ns.id)).toEqual([ns.init!.pid]);
      expect(zombiesIn(ns.id)).toEqual([]);
      expect(ns.processes().map((p) => p.nsPid)).toEqual([1]);
      expect(childrenOfSelf().map((c) => c.pid)).toEqual([ns.init!.pid]);
    } finally {
      await ns.close({ graceMs: 0 });
    }
    expect(fs.existsSync(`/proc/${ns.init!.pid}`)).toBe(false);
    await settled();
    expect(await eventually(() => ownDescriptorCount() === fdsBefore, 3000)).toBe(true);
  });
});

// A counter of real-time signals: unlike standard signals they queue, so every one sent must
// arrive. On SIGRTMIN+1 it prints how many SIGRTMIN it took and whether SIGUSR2 came; SIGTERM
// kills it. Pending signals are taken lowest number first, so every SIGRTMIN queued before the
// SIGRTMIN+1 is counted before the answer (the init also reads its signalfd in that order).
const COUNTER_C = `
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGRTMIN);
  sigaddset(&set, SIGRTMIN + 1);
  sigaddset(&set, SIGUSR2);
  sigprocmask(SIG_BLOCK, &set, NULL);
  printf("ready\\n");
  fflush(stdout);
  unsigned long rt = 0, usr2 = 0;
  for (;;) {
    int sig = sigwaitinfo(&set, NULL);
    if (sig == SIGRTMIN) rt++;
    else if (sig == SIGUSR2) usr2++;
    else if (sig == SIGRTMIN + 1) {
      printf("%lu %lu\\n", rt, usr2 > 0);
      fflush(stdout);
    }
  }
}
`;

const SIGNALS = 2000;

describeAsRoot('a flood of signals', () => {
  let counter: string;
  beforeAll(() => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pidns-load-'));
    fs.writeFileSync(path.join(dir, 'counter.c'), COUNTER_C);
    counter = path.join(dir, 'counter');
    execFileSync('cc', ['-O1', '-o', counter, path.join(dir, 'counter.c')]);
  });

  afterEach(async () => {
    expect(await eventually(() => childrenOfSelf().length === 0, 3000)).toBe(true);
  });

  function lines(child: PidNamespaceChild): () => Promise<string> {
    const queue: string[] = [];
    const waiters: ((line: string) => void)[] = [];
    let buffer = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      buffer += d;
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const waiter = waiters.shift();
        if (waiter) waiter(line);
        else queue.push(line);
      }
    });
    return () => (queue.length ? Promise.resolve(queue.shift()!) : new Promise((r) => waiters.push(r)));
  }

  const SIGRTMIN = 34;

  // Raw, the command is pid 1 and a SIGTERM without a handler is dropped: it ends by SIGKILL.
  test.each([
    ['under the init, by kill()', { init: true }, 'child', 'SIGTERM'],
    ['under the init, sent to the init, which forwards', { init: true }, 'init', 'SIGTERM'],
    ['raw (the command is pid 1)', { init: false }, 'child', 'SIGKILL'],
  ] as const)(`${SIGNALS} real-time signals %s: none lost, status still exact`, async (_name, options, target, end) => {
    const child = await spawnInPidNamespace(counter, [], { ...options, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const next = lines(child);
      expect(await next()).toBe('ready');
      const send = (sig: number) => (target === 'init' ? process.kill(child.init!.pid, sig) : expect(child.kill(sig)).toBe(true));
      for (let i = 0; i < SIGNALS; i++) {
        send(SIGRTMIN);
        // Standard signals in between: these may merge while pending, but must not disturb the count.
        if (i % 10 === 0) send(os.constants.signals.SIGUSR2);
      }
      send(SIGRTMIN + 1);
      expect(await next()).toBe(`${SIGNALS} 1`);
      // Still alive and responsive; and the end is reported exactly.
      expect(status(child.pid).get('State')!.charAt(0)).toMatch(/[RS]/);
      send(os.constants.signals[end]);
      await expect(child.exited).resolves.toMatchObject({ code: null, signal: end });
      expect(membersOfNamespace(child.namespaceId).filter(running)).toEqual([]);
    } finally {
      child.kill('SIGKILL');
      await child.exited;
    }
  });

  test(`${SIGNALS} SIGUSR1 to a shell that traps them: it is still responsive and exits with its exact code`, async () => {
    const child = await spawnInPidNamespace('sh', ['-c', 'trap "n=\\$((n+1))" USR1; trap "echo \\$n; exit 42" USR2; echo ready; while :; do sleep 0.01; done'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const next = lines(child);
      expect(await next()).toBe('ready');
      for (let i = 0; i < SIGNALS; i++) expect(child.kill('SIGUSR1')).toBe(true);
      // Standard signals merge while pending, so the shell counts between 1 and SIGNALS of them.
      await new Promise((r) => setTimeout(r, 50));
      child.kill('SIGUSR2');
      const counted = Number(await next());
      expect(counted).toBeGreaterThanOrEqual(1);
      expect(counted).toBeLessThanOrEqual(SIGNALS);
      await expect(child.exited).resolves.toMatchObject({ code: 42, signal: null });
    } finally {
      child.kill('SIGKILL');
      await child.exited;
    }
  });
});
