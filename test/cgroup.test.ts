// cgroup v2 placement, read back from the kernel: /proc/PID/cgroup of every process, cgroup.events,
// cpu.stat, and the cgroup directories themselves.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { PidNamespace, spawnInPidNamespace, type PidNamespaceChild } from '../lib';
import { cgroup2Mounts } from '../lib/cgroup';
import { childrenOfSelf, eventually, membersOfNamespace, running } from './kernel';
import { describeAsRoot } from './root';
import { fixture } from './subprocess';

const V2 = cgroup2Mounts()[0];

/** The cgroup v2 path of a process, relative to the hierarchy's root ('0::/x' -> '/x'). */
function cgroupOf(pid: number): string {
  const line = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'));
  return line!.slice(3);
}

const relative = (dir: string) => `/${path.relative(V2, dir)}`;
const events = (dir: string) => fs.readFileSync(path.join(dir, 'cgroup.events'), 'utf8');
const procs = (dir: string) => fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);

/** A cgroup made by the test itself (a path given to pidns is never removed by it). */
function makeCgroup(name: string): string {
  const dir = path.join(V2, `pidns-test-${process.pid}-${name}`);
  fs.mkdirSync(dir);
  return dir;
}

function removeCgroup(dir: string): void {
  try {
    fs.writeFileSync(path.join(dir, 'cgroup.kill'), '1');
  } catch {
    // already gone
  }
  for (let i = 0; i < 100 && fs.existsSync(dir); i++) {
    try {
      fs.rmdirSync(dir);
    } catch {
      // still populated for a moment
    }
  }
}

async function waitForMembers(child: PidNamespaceChild, count: number): Promise<number[]> {
  expect(await eventually(() => membersOfNamespace(child.namespaceId).filter(running).length === count)).toBe(true);
  return membersOfNamespace(child.namespaceId);
}

describeAsRoot('cgroup: placement, limits, freeze and teardown (cgroup v2 from /proc/self/mountinfo)', () => {
  test('this machine has a cgroup v2 hierarchy to test on', () => {
    expect(V2).toBeDefined();
    expect(fs.statfsSync(V2).type).toBe(0x63677270);
  });

  test('a path that is not cgroup v2, or missing, is a typed error and nothing is spawned', async () => {
    const before = childrenOfSelf().length;
    await expect(spawnInPidNamespace('true', [], { cgroup: '/tmp' })).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining(`mounted at ${V2}`) });
    await expect(spawnInPidNamespace('true', [], { cgroup: path.join(V2, 'pidns-does-not-exist') })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(spawnInPidNamespace('true', [], { cgroup: { parent: '/proc' } })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(PidNamespace.create({ cgroup: '/tmp' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(spawnInPidNamespace('true', [], { cgroup: 7 as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(spawnInPidNamespace('true', [], { cgroup: { parent: V2, pidsMax: 0 } })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(spawnInPidNamespace('true', [], { cgroup: { parent: V2, cpuMax: '50%' } })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    expect(childrenOfSelf().length).toBe(before);
  });

  test('under the init: the init, the command and what it forks later all run in the new cgroup, which is gone after exited', async () => {
    const child = await spawnInPidNamespace('sh', ['-c', 'read go; sleep 1000 & exec sleep 1000'], { cgroup: { parent: V2 } });
    const dir = child.cgroup!;
    expect(path.dirname(dir)).toBe(fs.realpathSync(V2));
    expect(cgroupOf(child.init!.pid)).toBe(relative(dir));
    expect(cgroupOf(child.pid)).toBe(relative(dir));
    child.stdin!.write('go\n');
    const members = await waitForMembers(child, 3);
    for (const pid of members) expect(cgroupOf(pid)).toBe(relative(dir));
    expect(procs(dir).sort()).toEqual([...members].sort());
    child.kill();
    await child.exited;
    expect(fs.existsSync(dir)).toBe(false);
  });

  test('raw, and an existing cgroup given by path (left in place afterwards)', async () => {
    const dir = makeCgroup('raw');
    try {
      const child = await spawnInPidNamespace('sleep', ['1000'], { init: false, cgroup: dir, stdio: 'ignore' });
      expect(child.cgroup).toBe(dir);
      expect(cgroupOf(child.pid)).toBe(relative(dir));
      child.kill('SIGKILL');
      await child.exited;
      expect(fs.existsSync(dir)).toBe(true);
      expect(procs(dir)).toEqual([]);
    } finally {
      removeCgroup(dir);
    }
  });

  test("a pod: pid 1 and every member, with what members fork, run in the pod's cgroup; close removes it", async () => {
    const ns = await PidNamespace.create({ cgroup: { parent: V2 } });
    const dir = ns.cgroup!;
    expect(cgroupOf(ns.init!.pid)).toBe(relative(dir));
    const a = await ns.spawn('sh', ['-c', 'sleep 1000 & exec sleep 1000'], { stdio: 'ignore' });
    const b = await ns.spawn('sleep', ['1000'], { stdio: 'ignore' });
    expect(await eventually(() => membersOfNamespace(ns.id).length === 4)).toBe(true);
    for (const pid of membersOfNamespace(ns.id)) expect(cgroupOf(pid)).toBe(relative(dir));
    expect(cgroupOf(a.pid)).toBe(relative(dir));
    expect(cgroupOf(b.pid)).toBe(relative(dir));
    await ns.close({ graceMs: 100 });
    expect(fs.existsSync(dir)).toBe(false);
  });

  test('a joiner with a cgroup of its own: its orphan is killed by cgroup.kill at teardown', async () => {
    const holder = await spawnInPidNamespace('sleep', ['1000'], { init: false, stdio: 'ignore' });
    try {
      const joiner = await spawnInPidNamespace('sh', ['-c', 'sleep 1000 >/dev/null 2>&1 & echo $!'], { join: holder.pid, cgroup: { parent: V2 } });
      const dir = joiner.cgroup!;
      await joiner.exited;
      expect(fs.existsSync(dir)).toBe(false);
      // The orphan went to the holder's pid 1 but was in our cgroup: nothing of it runs.
      expect(membersOfNamespace(holder.namespaceId).filter(running)).toEqual([holder.pid]);
    } finally {
      holder.kill('SIGKILL');
      await holder.exited;
    }
  });

  test('freeze stops every process (cgroup.events frozen 1, cpu.stat still); thaw resumes; stats read the cgroup', async () => {
    const child = await spawnInPidNamespace('sh', ['-c', "sh -c 'while :; do :; done' & exec sleep 1000"], { cgroup: { parent: V2 }, stdio: 'ignore' });
    try {
      const dir = child.cgroup!;
      await waitForMembers(child, 3);
      await child.freeze();
      expect(events(dir)).toMatch(/^frozen 1$/m);
      const first = child.cgroupStats();
      await new Promise((r) => setTimeout(r, 300));
      const second = child.cgroupStats();
      expect(second.usageUsec).toBe(first.usageUsec);
      await child.thaw();
      expect(events(dir)).toMatch(/^frozen 0$/m);
      let third = second;
      expect(await eventually(() => (third = child.cgroupStats()).usageUsec > second.usageUsec + 50000)).toBe(true);
      expect(third.userUsec + third.systemUsec).toBeLessThanOrEqual(third.usageUsec + 1000);
      const controllers = fs.readFileSync(path.join(path.dirname(dir), 'cgroup.subtree_control'), 'utf8');
      expect(third.memoryCurrent === null).toBe(!controllers.includes('memory'));
      expect(third.pidsCurrent === null).toBe(!controllers.includes('pids'));
    } finally {
      child.kill('SIGKILL');
      await child.exited;
    }
  });

  test('a frozen namespace can be killed: exited says SIGKILL, nothing runs, the cgroup is gone', async () => {
    const child = await spawnInPidNamespace('sh', ['-c', 'sleep 1000 & exec sleep 1000'], { cgroup: { parent: V2 }, stdio: 'ignore' });
    const dir = child.cgroup!;
    await waitForMembers(child, 3);
    await child.freeze();
    expect(child.kill('SIGKILL')).toBe(true);
    await expect(child.exited).resolves.toMatchObject({ code: null, signal: 'SIGKILL' });
    expect(membersOfNamespace(child.namespaceId).filter(running)).toEqual([]);
    expect(fs.existsSync(dir)).toBe(false);
  });

  test('a frozen pod can be closed', async () => {
    const ns = await PidNamespace.create({ cgroup: { parent: V2 } });
    const member = await ns.spawn('sh', ['-c', 'trap "exit 3" TERM; sleep 1000 & wait'], { stdio: 'ignore' });
    // The trap is set once the shell has started its sleep.
    expect(await eventually(() => membersOfNamespace(ns.id).length === 3)).toBe(true);
    await ns.freeze();
    expect(events(ns.cgroup!)).toMatch(/^frozen 1$/m);
    await ns.close({ graceMs: 2000 });
    await expect(member.exited).resolves.toMatchObject({ code: 3 });
    expect(fs.existsSync(ns.cgroup!)).toBe(false);
  });

  test('a frozen namespace still ends when the Node process dies', async () => {
    const dir = makeCgroup('orphaned');
    try {
      const parent = spawn(process.execPath, [fixture('frozen-report.js'), dir], { stdio: ['ignore', 'pipe', 'inherit'] });
      const report = await new Promise<{ namespaceId: number }>((resolve, reject) => {
        parent.stdout!.once('data', (d: Buffer) => resolve(JSON.parse(d.toString())));
        parent.once('exit', (code) => reject(new Error(`frozen-report.js exited ${code}`)));
      });
      expect(events(dir)).toMatch(/^frozen 1$/m);
      expect(procs(dir).length).toBe(3);
      parent.kill('SIGKILL');
      expect(await eventually(() => procs(dir).length === 0, 3000)).toBe(true);
      expect(membersOfNamespace(report.namespaceId).filter(running)).toEqual([]);
    } finally {
      removeCgroup(dir);
    }
  });

  test('limits: a controller that is not enabled in the parent is a typed error naming it and the file; an enabled one applies', async () => {
    const dir = makeCgroup('limits');
    try {
      const available = fs.readFileSync(path.join(dir, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
      if (!available.includes('pids')) {
        const before = childrenOfSelf().length;
        await expect(spawnInPidNamespace('true', [], { cgroup: { parent: dir, pidsMax: 5 } })).rejects.toMatchObject({
          code: 'ERR_CGROUP_CONTROLLER_DISABLED',
          message: expect.stringContaining(`pids controller, which is not enabled in ${path.join(dir, 'cgroup.subtree_control')}`),
        });
        await expect(PidNamespace.create({ cgroup: { parent: dir, memoryMax: 1 << 30 } })).rejects.toMatchObject({ code: 'ERR_CGROUP_CONTROLLER_DISABLED', message: expect.stringContaining('memory controller') });
        expect(childrenOfSelf().length).toBe(before);
        expect(fs.readdirSync(dir).filter((f) => f.startsWith('pidns-'))).toEqual([]);
        return;
      }
      fs.writeFileSync(path.join(dir, 'cgroup.subtree_control'), '+pids');
      // The init and the shell are two processes; three more sleeps fit in 5, the sixth fork fails.
      const child = await spawnInPidNamespace('sh', ['-c', 'for i in 1 2 3 4; do sleep 1000 & done; wait'], { cgroup: { parent: dir, pidsMax: 5 }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += d));
      expect(await eventually(() => membersOfNamespace(child.namespaceId).length === 5)).toBe(true);
      expect(fs.readFileSync(path.join(child.cgroup!, 'pids.max'), 'utf8').trim()).toBe('5');
      expect(await eventually(() => /fork|Resource temporarily unavailable/i.test(stderr))).toBe(true);
      child.kill('SIGKILL');
      await child.exited;
    } finally {
      removeCgroup(dir);
    }
  });

  test('freeze() without a cgroup rejects with ERR_NO_CGROUP', async () => {
    const child = await spawnInPidNamespace('sleep', ['1000'], { stdio: 'ignore' });
    await expect(child.freeze()).rejects.toMatchObject({ code: 'ERR_NO_CGROUP' });
    expect(() => child.cgroupStats()).toThrow(expect.objectContaining({ code: 'ERR_NO_CGROUP' }));
    child.kill();
    await child.exited;
  });
});
