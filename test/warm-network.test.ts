// A network namespace made ahead (src-native/warm_network.cc): after the first spawn with
// namespaces: ['net'], a thread of the addon's keeps one ready, lo up, for the next. What must
// hold whatever the timing: each command gets a namespace that no other process is in and that
// nobody was in before it (so two commands alive at once never share one), lo is up there, it is
// owned by the user namespace it would be owned by without this (Node's, or the command's new
// one), the thread exists only once a spawn has asked for 'net', and Node's descriptors are
// unchanged. PIDNS_NO_WARM_NETWORK=1 turns it off; a refused setns falls back to a namespace
// made by the command's own process. Read from /proc (every thread of every process) and with
// ioctl(NS_GET_USERNS).
import { spawnSync, type SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';
import { runInPidNamespace, spawnInPidNamespace, type PidNamespaceChild } from '../lib';
import { describeAsRoot } from './root';
import { buildFixture, fixture, removeBuiltFixture, runFixture } from './subprocess';

interface Thread {
  name: string;
  tid: number;
  net: number;
  dev: string[];
  loopbackV6: boolean | null;
  owner: number;
}

interface Report {
  error?: { code?: string; message?: string; stack?: string };
  node: number;
  nodeUser: number;
  threads: { atStart: Thread[]; afterPlainSpawn: Thread[]; afterNetSpawns: Thread[] };
  children: { net: number; madeAhead: boolean; loUp: boolean; ours: number[]; threadsIn: string[]; dev: string[]; loopbackV6: boolean | null; owner: number; user: number }[];
  threadsInLast: string[];
  fds: { before: number; after: number };
}

function parse(run: SpawnSyncReturns<string>): Report {
  let report: Report;
  try {
    report = JSON.parse(run.stdout.split('\n')[0]) as Report;
  } catch {
    const how = run.error ? String(run.error) : `status ${run.status}, signal ${run.signal}`;
    throw new Error(`no report (${how}); stdout: ${run.stdout.slice(0, 500)} stderr: ${run.stderr.slice(0, 2000)}`);
  }
  expect(report.error).toBeUndefined();
  return report;
}

/** fixtures/warm-network-report.js with these spawn options, count and pause. */
function reportOf(options: object, count: number, pauseMs: number, env?: NodeJS.ProcessEnv): Report {
  const run = runFixture('warm-network-report.js', [JSON.stringify(options), String(count), String(pauseMs)], { env, timeoutMs: 60000 });
  return parse(run);
}

const names = (threads: Thread[]) => threads.map((t) => t.name).sort();

/** What holds for every command, made ahead or not: a namespace of its own, fresh, lo up. */
function expectOwnNamespaces(report: Report, expectedOwner: (child: Report['children'][number]) => number): void {
  const nets = report.children.map((c) => c.net);
  // All alive at once when read, so an inode the kernel reused cannot make two look the same.
  expect(new Set(nets).size).toBe(nets.length);
  expect(nets).not.toContain(report.node);
  for (const child of report.children) {
    // Only the command (and its init): no thread of Node's, no other command's process.
    expect(child.threadsIn.map((t) => Number(t.split('/')[0])).sort((a, b) => a - b)).toEqual(child.ours);
    expect(child.threadsIn.every((t) => t.split('/')[0] === t.split('/')[1])).toBe(true);
    expect(child.dev).toEqual(['lo']);
    expect(child.loUp).toBe(true);
    if (child.loopbackV6 !== null) expect(child.loopbackV6).toBe(true);
    expect(child.owner).toBe(expectedOwner(child));
  }
  // Once the last spawn has resolved, the thread that held its namespace has ended.
  expect(report.threadsInLast.map((t) => Number(t.split('/')[0])).sort((a, b) => a - b)).toEqual(report.children[report.children.length - 1].ours);
  expect(report.fds.after).toBe(report.fds.before);
}

const madeAhead = (report: Report) => report.children.map((c) => c.madeAhead);

describeAsRoot('a network namespace made ahead', () => {
  for (const init of [true, false]) {
    test(`init ${init}: one thread keeps one ready once 'net' was asked for; each command's is its own, fresh, lo up, owned by Node's user namespace`, () => {
      const report = reportOf({ init }, 8, 100);
      // The first makes its own; the others (100 ms apart) take the one the thread held just
      // before, as its /proc/PID/task/TID/ns/net showed it. One may have found none ready.
      expect(madeAhead(report)[0]).toBe(false);
      expect(madeAhead(report).filter(Boolean).length).toBeGreaterThanOrEqual(6);
      expect(names(report.threads.atStart)).toEqual([]);
      expect(names(report.threads.afterPlainSpawn)).toEqual(['pidns-spawner']);
      expect(names(report.threads.afterNetSpawns)).toEqual(['pidns-netns', 'pidns-spawner']);
      const [spawner, warm] = ['pidns-spawner', 'pidns-netns'].map((n) => report.threads.afterNetSpawns.find((t) => t.name === n)!);
      expect(spawner.net).toBe(report.node);
      // The one held for the next spawn: not Node's, not any command's, nothing but lo, up.
      expect(warm.net).not.toBe(report.node);
      expect(report.children.map((c) => c.net)).not.toContain(warm.net);
      expect(warm.dev).toEqual(['lo']);
      if (warm.loopbackV6 !== null) expect(warm.loopbackV6).toBe(true);
      expect(warm.owner).toBe(report.nodeUser);
      expectOwnNamespaces(report, () => report.nodeUser);
    });
  }

  test('spawns back to back, with no pause for one to be made: each still gets its own', () => {
    const report = reportOf({}, 12, 0);
    expectOwnNamespaces(report, () => report.nodeUser);
  });

  test('userNamespace: the network namespace belongs to the new user namespace, and no thread makes one ahead', () => {
    const report = reportOf({ userNamespace: true }, 4, 50);
    expect(names(report.threads.afterNetSpawns)).toEqual(['pidns-spawner']);
    expect(madeAhead(report)).toEqual(report.children.map(() => false));
    expectOwnNamespaces(report, (child) => child.user);
    for (const child of report.children) expect(child.user).not.toBe(report.nodeUser);
  });

  test('PIDNS_NO_WARM_NETWORK=1: no thread, and each command still gets its own namespace, lo up', () => {
    const report = reportOf({}, 4, 50, { PIDNS_NO_WARM_NETWORK: '1' });
    expect(names(report.threads.afterNetSpawns)).toEqual(['pidns-spawner']);
    expectOwnNamespaces(report, () => report.nodeUser);
  });

  test('setns refused (a seccomp filter): the command makes its own, lo up, and none is made ahead any more', () => {
    const loader = buildFixture('seccomp-exec');
    try {
      const run = spawnSync(loader, ['--eperm', 'setns', '--', process.execPath, fixture('warm-network-report.js'), '{}', '6', '50'], { encoding: 'utf8', timeout: 30000 });
      const report = parse(run);
      // The second was handed one, could not enter it, and made its own; after that, no holder.
      expect(names(report.threads.afterNetSpawns)).toEqual(['pidns-spawner']);
      expect(madeAhead(report)).toEqual(report.children.map(() => false));
      expectOwnNamespaces(report, () => report.nodeUser);
    } finally {
      removeBuiltFixture(loader);
    }
  });

  test('user.max_net_namespaces reached: the thread ends and holds no command\'s namespace; spawns make their own again once others end', () => {
    // As root of a user namespace of its own, whose limits it may set: 2 network namespaces.
    const run = spawnSync('unshare', ['--user', '--map-root-user', 'sh', '-c', 'echo 2 > /proc/sys/user/max_net_namespaces && exec "$0" "$1"', process.execPath, fixture('warm-network-limit.js')], { encoding: 'utf8', timeout: 30000 });
    const report = parse(run) as unknown as { node: number; commands: number[]; thread: number | null; third: object; fourth: { net: number } };
    // Both commands have their own; the thread, refused a third, has ended instead of staying in
    // the second command's.
    expect(new Set([report.node, ...report.commands]).size).toBe(3);
    expect(report.thread).toBeNull();
    expect(report.third).toMatchObject({ code: 'ENOSPC', syscall: 'clone', message: expect.stringMatching(/user\.max_net_namespaces=2/) });
    expect(report.fourth).toEqual({ net: expect.any(Number) });
    expect(report.fourth.net).not.toBe(report.node);
  });

  test("what a new namespace copies from the one it is made from comes from Node's, never from the last command's", async () => {
    // With net.core.devconf_inherit_init_net = 3 a new network namespace copies the ipv4/ipv6
    // conf defaults of the namespace of the thread that makes it. A command that changes its own
    // must not pass them on to the next, made ahead while it ran.
    const inherit = '/proc/sys/net/core/devconf_inherit_init_net';
    const martians = '/proc/sys/net/ipv4/conf/default/log_martians';
    const saved = fs.readFileSync(inherit, 'utf8').trim();
    const ours = fs.readFileSync(martians, 'utf8').trim();
    const flipped = ours === '1' ? '0' : '1';
    fs.writeFileSync(inherit, '3');
    try {
      for (let i = 0; i < 20; i++) {
        await runInPidNamespace('sh', ['-c', `echo ${flipped} > /proc/sys/net/ipv4/conf/all/log_martians; echo ${flipped} > ${martians}`], { namespaces: ['net'] });
        if (i % 2) await new Promise((resolve) => setTimeout(resolve, 20));
        const { stdout } = await runInPidNamespace('cat', [martians], { namespaces: ['net'] });
        expect({ round: i, value: stdout.trim() }).toEqual({ round: i, value: ours });
      }
    } finally {
      fs.writeFileSync(inherit, saved);
    }
  });

  test('each holder is joined: 40 spawns that took a namespace made ahead leave no thread stack mapped', async () => {
    // A holder's stack, as /proc/self/maps shows it: a 4 KiB guard page, then 256 KiB, both
    // anonymous. Counted alone, not among all of this process's mappings, which the JavaScript
    // heap grows and shrinks meanwhile.
    const mappings = () => {
      const regions = fs.readFileSync('/proc/self/maps', 'utf8').split('\n').filter(Boolean).map((line) => {
        const [range, perms, , , inode, path] = line.split(/\s+/);
        const [start, end] = range.split('-').map((x) => parseInt(x, 16));
        return { start, end, perms, anonymous: inode === '0' && !path };
      });
      return regions.filter((r, i) => i > 0 && r.anonymous && r.perms === 'rw-p' && r.end - r.start === 256 * 1024 &&
        regions[i - 1].anonymous && regions[i - 1].perms === '---p' && regions[i - 1].end === r.start && r.start - regions[i - 1].start === 4096).length;
    };
    const spawnNet = async () => (await spawnInPidNamespace('true', [], { namespaces: ['net'], stdio: 'ignore' })).exited;
    await spawnNet();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const before = mappings();
    for (let i = 0; i < 40; i++) {
      await spawnNet();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // A thread that ended unjoined keeps its stack mapped: 40 more here. A joined one's is kept
    // by glibc for the next thread; at most two holders are alive at once.
    expect(mappings() - before).toBeLessThanOrEqual(2);
  });

  test('two commands alive at once listen on the same address, each in its own namespace', async () => {
    const listen = "require('net').createServer().listen(7001, '127.0.0.1', () => console.log('listening')).on('error', (e) => { console.log(e.code); process.exit(1); })";
    const children: PidNamespaceChild[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const child = await spawnInPidNamespace(process.execPath, ['-e', listen], { namespaces: ['net'], stdio: ['ignore', 'pipe', 'inherit'] });
        children.push(child);
        const line = await new Promise<string>((resolve) => {
          let text = '';
          child.stdout!.on('data', (d: Buffer) => {
            text += d.toString();
            if (text.includes('\n')) resolve(text.trim());
          });
          child.stdout!.on('end', () => resolve(text.trim()));
        });
        expect(line).toBe('listening');
      }
    } finally {
      for (const child of children) child.kill('SIGKILL');
      await Promise.all(children.map((c) => c.exited));
    }
  });
});
