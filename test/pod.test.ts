// Pods: one PID namespace, many members, a pause-style pid 1, a clean close.
import { spawn } from 'child_process';
import * as fs from 'fs';
import { nsPids, PidNamespace, pidNamespaceId, spawnInPidNamespace } from '../lib';
import { childrenOfSelf, eventually, membersOfNamespace, namespaceInode, nsPidLine, status, zombiesIn } from './kernel';
import { describeAsRoot } from './root';

describeAsRoot('PidNamespace pods', () => {
  afterEach(async () => {
    expect(await eventually(() => childrenOfSelf().length === 0, 2000)).toBe(true);
  });

  test('create: pid 1 is the init in pause mode, a child of Node, in a new namespace', async () => {
    await using ns = await PidNamespace.create();
    expect(ns.init).toEqual({ pid: expect.any(Number), nsPid: 1 });
    expect(ns.id).toBe(namespaceInode(ns.init!.pid));
    expect(ns.id).not.toBe(namespaceInode('self'));
    expect(nsPidLine(ns.init!.pid)).toEqual([ns.init!.pid, 1]);
    expect(Number(status(ns.init!.pid).get('PPid'))).toBe(process.pid);
    expect(fs.readFileSync(`/proc/${ns.init!.pid}/cmdline`, 'utf8').split('\0')).toContain('--pause');
    expect(membersOfNamespace(ns.id)).toEqual([ns.init!.pid]);
  });

  test('members join the pod with the next pids; one ending does not end the pod', async () => {
    await using ns = await PidNamespace.create();
    const a = await ns.spawn('sleep', ['30'], { stdio: 'ignore' });
    const b = await ns.spawn('sh', ['-c', 'exit 3']);
    expect([a.nsPid, b.nsPid]).toEqual([2, 3]);
    for (const m of [a, b]) {
      expect(m.namespaceId).toBe(ns.id);
      expect(m.init).toBeNull();
    }
    expect(nsPidLine(a.pid)).toEqual([a.pid, 2]);
    expect(Number(status(a.pid).get('PPid'))).toBe(process.pid);
    await expect(b.exited).resolves.toMatchObject({ code: 3, signal: null });
    // Both still alive and waiting: each settles into its sleep (a may still be starting, R, and
    // pid 1 reaping b's orphans, under load).
    const sleeping = (pid: number) => eventually(() => status(pid).get('State')!.charAt(0) === 'S', 5000);
    expect(await sleeping(a.pid)).toBe(true);
    expect(await sleeping(ns.init!.pid)).toBe(true);
    const c = await ns.spawn('true', { stdio: 'ignore' });
    expect(c.nsPid).toBe(4);
    await c.exited;
  });

  test('processes() lists every process of the namespace, pid 1 included, as /proc does', async () => {
    await using ns = await PidNamespace.create();
    const a = await ns.spawn('sh', ['-c', 'sleep 30 & exec sleep 31'], { stdio: 'ignore' });
    // Until the shell and its background child have exec'd, their command lines are the shell's.
    const commands = () => ns.processes().map((p) => p.command);
    await eventually(() => commands().includes('sleep 31') && commands().includes('sleep 30'));
    const listed = ns.processes();
    expect(listed.map((p) => p.pid).sort()).toEqual(membersOfNamespace(ns.id).sort());
    expect(listed[0]).toEqual({ pid: ns.init!.pid, nsPid: 1, ppid: process.pid, command: expect.stringContaining('pidns-init') });
    for (const p of listed) {
      expect(nsPidLine(p.pid)).toEqual([p.pid, p.nsPid]);
      expect(p.ppid).toBe(Number(status(p.pid).get('PPid')));
    }
    expect(listed.map((p) => p.command)).toEqual(expect.arrayContaining(['sleep 31', 'sleep 30']));
    a.kill('SIGKILL');
    await a.exited;
  });

  test('orphans of members are adopted and reaped by pid 1: no zombies', async () => {
    await using ns = await PidNamespace.create();
    const m = await ns.spawn('sh', ['-c', 'for i in $(seq 1 50); do (sleep 0.05 &); done; (sleep 30 &); echo started'], {});
    await new Promise((r) => m.stdout!.once('data', r));
    await m.exited;
    await eventually(() => ns.processes().length === 2 && ns.processes().some((p) => p.command === 'sleep 30'), 3000);
    const orphan = ns.processes().find((p) => p.command === 'sleep 30')!;
    expect(orphan.ppid).toBe(ns.init!.pid);
    expect(zombiesIn(ns.id)).toEqual([]);
    // The orphan holds the member's stderr; it ends with the pod, and then the pipe closes.
    await ns.close();
    await m.closed;
  });

  test('200 members started and ended leave only pid 1', async () => {
    await using ns = await PidNamespace.create();
    for (let round = 0; round < 20; round++) {
      const members = await Promise.all(Array.from({ length: 10 }, (_, i) => ns.spawn('sh', ['-c', i % 2 ? 'exit 0' : '(true &); exit 0'], { stdio: 'ignore' })));
      await Promise.all(members.map((m) => m.exited));
    }
    expect(await eventually(() => membersOfNamespace(ns.id).length === 1, 3000)).toBe(true);
    expect(membersOfNamespace(ns.id)).toEqual([ns.init!.pid]);
  });

  test('close: SIGTERM to every member, then the rest killed after graceMs; nothing remains', async () => {
    const ns = await PidNamespace.create();
    const polite = await ns.spawn('sleep', ['30'], { stdio: 'ignore' });
    const stubborn = await ns.spawn('sh', ['-c', 'trap "" TERM; echo ready; while :; do sleep 0.02; done']);
    await new Promise((r) => stubborn.stdout!.once('data', r));
    const started = Date.now();
    await ns.close({ graceMs: 400 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(await polite.exited).toMatchObject({ code: null, signal: 'SIGTERM' });
    expect(await stubborn.exited).toMatchObject({ code: null, signal: 'SIGKILL' });
    await stubborn.closed;
    expect(membersOfNamespace(ns.id)).toEqual([]);
    expect(ns.ended).toBe(true);
  });

  test('close ends early when everyone has gone', async () => {
    const ns = await PidNamespace.create();
    await ns.spawn('sleep', ['30'], { stdio: 'ignore' });
    const started = Date.now();
    await ns.close({ graceMs: 10000 });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(membersOfNamespace(ns.id)).toEqual([]);
  });

  test('a spawn into a closed pod, or a pod whose pid 1 died, says the namespace has ended', async () => {
    const closed = await PidNamespace.create();
    await closed.close();
    await expect(closed.spawn('true')).rejects.toMatchObject({ code: 'ERR_NAMESPACE_ENDED', message: expect.stringMatching(/namespace has ended/) });
    await expect(spawnInPidNamespace('true', [], { join: closed })).rejects.toMatchObject({ code: 'ERR_NAMESPACE_ENDED' });

    const killed = await PidNamespace.create();
    const member = await killed.spawn('sleep', ['30'], { stdio: 'ignore' });
    process.kill(killed.init!.pid, 'SIGKILL');
    await expect(member.exited).resolves.toMatchObject({ code: null, signal: 'SIGKILL' });
    await eventually(() => killed.ended);
    await expect(killed.spawn('true')).rejects.toMatchObject({ code: 'ERR_NAMESPACE_ENDED' });
    await killed.close();
  });

  test('await using closes the pod at the end of the block', async () => {
    let id = 0;
    {
      await using ns = await PidNamespace.create();
      id = ns.id;
      await ns.spawn('sleep', ['30'], { stdio: 'ignore' });
      expect(membersOfNamespace(id).length).toBe(2);
    }
    expect(membersOfNamespace(id)).toEqual([]);
  });

  test('ns.spawn refuses init and join, and validates like spawnInPidNamespace', async () => {
    await using ns = await PidNamespace.create();
    await expect(ns.spawn('true', [], { init: true } as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(ns.spawn('true', [], { join: 1 } as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    // What the pod sets is refused in the pod's words: the caller never gave options.join.
    for (const options of [{ hostname: 'x' }, { namespaces: ['net'] }, { timeOffsets: {} }, { pidMax: 500 }, { userNamespace: true }, { newNamespace: false }]) {
      const err = await ns.spawn('true', [], options as never).catch((e) => e);
      expect({ code: err.code, message: err.message }).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining("cannot be used with a pod's members") });
      expect(err.message).not.toContain('options.join');
    }
    // The values a member gets anyway are accepted.
    await expect(ns.spawn('true', [], { userNamespace: false, newNamespace: true, stdio: 'ignore' } as never).then((c) => c.exited)).resolves.toMatchObject({ code: 0 });
    // A member's joinNamespaces is checked before the pod's kinds are added to it (a spread of
    // this one would take minutes).
    await using withUts = await PidNamespace.create({ namespaces: ['uts'] });
    const huge: string[] = [];
    huge.length = 2 ** 32 - 1;
    await expect(withUts.spawn('true', [], { joinNamespaces: huge as never })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await expect(ns.spawn(42 as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(ns.close({ graceMs: -1 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
  });
});

describeAsRoot('PidNamespace.fromPid and pid helpers', () => {
  test('wraps a namespace made by unshare: spawn joins it, processes() lists it, close() is refused', async () => {
    const unshare = spawn('unshare', ['--pid', '--fork', '--kill-child', 'sleep', '30'], { stdio: 'ignore' });
    try {
      let target = 0;
      await eventually(() => {
        target = Number(fs.readFileSync(`/proc/${unshare.pid}/task/${unshare.pid}/children`, 'utf8').trim().split(/\s+/)[0] || 0);
        return target > 0 && status(target).get('Name') === 'sleep';
      });
      const ns = PidNamespace.fromPid(target);
      expect(ns.id).toBe(namespaceInode(target));
      expect(ns.init).toEqual({ pid: target, nsPid: 1 });
      const member = await ns.spawn('sleep', ['30'], { stdio: 'ignore' });
      expect(member.namespaceId).toBe(ns.id);
      expect(ns.processes().map((p) => [p.pid, p.nsPid])).toEqual([[target, 1], [member.pid, member.nsPid]]);
      await expect(ns.close()).rejects.toMatchObject({ code: 'ERR_NAMESPACE_NOT_OWNED' });
      member.kill('SIGKILL');
      await member.exited;
    } finally {
      unshare.kill('SIGKILL');
      await new Promise((r) => unshare.once('exit', r));
    }
  });

  test('nsPids gives one entry per level, outermost first; pidNamespaceId the inode', async () => {
    await using ns = await PidNamespace.create();
    const member = await ns.spawn('unshare', ['--pid', '--fork', '--kill-child', 'sleep', '30'], { stdio: 'ignore' });
    let inner = 0;
    await eventually(() => {
      inner = Number(fs.readFileSync(`/proc/${member.pid}/task/${member.pid}/children`, 'utf8').trim() || 0);
      return inner > 0 && status(inner).get('Name') === 'sleep';
    });
    expect(nsPids(process.pid)).toEqual(nsPidLine(process.pid));
    expect(nsPids(member.pid)).toEqual([member.pid, member.nsPid]);
    const chain = nsPids(inner);
    expect(chain).toHaveLength(3);
    expect(chain).toEqual(nsPidLine(inner));
    expect(chain[0]).toBe(inner);
    expect(chain[2]).toBe(1);
    expect(pidNamespaceId(member.pid)).toBe(ns.id);
    expect(pidNamespaceId(inner)).toBe(namespaceInode(inner));
    member.kill('SIGKILL');
    await member.exited;
  });

  test('nsPids and pidNamespaceId throw ESRCH for a pid that is gone; fromPid too', async () => {
    const child = await spawnInPidNamespace('true', [], { init: false });
    await child.exited;
    expect(() => nsPids(child.pid)).toThrow(expect.objectContaining({ code: 'ESRCH', errno: -3 }));
    expect(() => pidNamespaceId(child.pid)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    expect(() => PidNamespace.fromPid(child.pid)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    expect(() => nsPids(-1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
  });
});
