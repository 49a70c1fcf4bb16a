// The clone window runs on the addon's spawner thread (src-native/spawner.cc), never on a
// JavaScript thread: read from the kernel, the clone's child is a child of that thread
// (/proc/self/task/TID/children), which is one per process and blocks every signal. A window
// held open (a child created in a frozen cgroup stops before its execve) leaves the event loop
// running; spawns from many workers at once go through it; a worker that ends, a Node that
// exits or is killed, and an abort, each while a spawn is in flight, leave no process behind.
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { spawnInPidNamespace } from '../lib';
import { cgroup2Mounts } from '../lib/cgroup';
import { childrenOfSelf, eventually, exists, ownDescriptorCount, running, runningNamed, status } from './kernel';
import { describeAsRoot } from './root';
import { fixture } from './subprocess';

const V2 = cgroup2Mounts()[0];
const DIST = path.join(__dirname, '..', 'dist');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Our threads named pidns-spawner. */
function spawnerThreads(): number[] {
  return fs.readdirSync('/proc/self/task').map(Number).filter((tid) => {
    try {
      return fs.readFileSync(`/proc/self/task/${tid}/comm`, 'latin1').trim() === 'pidns-spawner';
    } catch {
      return false;
    }
  });
}

function childrenOfThread(tid: number): number[] {
  return fs.readFileSync(`/proc/self/task/${tid}/children`, 'latin1').trim().split(/\s+/).filter(Boolean).map(Number);
}

const procs = (dir: string) => fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);

/** A cgroup of our own, frozen: a process created in it stops before it runs a single instruction. */
function frozenCgroup(name: string): string {
  const dir = path.join(V2, `pidns-spawner-${process.pid}-${name}`);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'cgroup.freeze'), '1');
  return dir;
}

async function removeCgroup(dir: string): Promise<void> {
  if (!fs.existsSync(dir)) return;
  fs.writeFileSync(path.join(dir, 'cgroup.freeze'), '0');
  for (const pid of procs(dir)) process.kill(pid, 'SIGKILL');
  await eventually(() => procs(dir).length === 0, 10000);
  fs.rmdirSync(dir);
}

describeAsRoot('the spawner thread', () => {
  jest.setTimeout(60000);
  const cgroups: string[] = [];
  afterAll(async () => {
    for (const dir of cgroups) await removeCgroup(dir);
  });
  const frozen = (name: string) => {
    const dir = frozenCgroup(name);
    cgroups.push(dir);
    return dir;
  };

  test.each([
    ['init: false', { init: false }],
    ['under the init', {}],
  ])('%s: the process cloned is a child of the one spawner thread, not of a JavaScript thread', async (_, options) => {
    const child = await spawnInPidNamespace('sleep', ['30'], { ...options, stdio: 'ignore' });
    try {
      const cloned = child.init ? child.init.pid : child.pid;
      // (This jest worker may hold a second copy of the addon, loaded by another path, with its
      // own thread: see the next test for one process.)
      expect(spawnerThreads().filter((tid) => childrenOfThread(tid).includes(cloned))).toHaveLength(1);
      // The main thread's tid is the pid.
      expect(childrenOfThread(process.pid)).not.toContain(cloned);
      expect(status(cloned).get('PPid')).toBe(String(process.pid));
    } finally {
      child.kill('SIGKILL');
      await child.exited;
    }
  });

  test("the spawner thread blocks every signal but glibc's own two (SigBlk: all but SIGKILL and SIGSTOP, which cannot be, and 32 and 33)", async () => {
    const expected = (((1n << 64n) - 1n) & ~(1n << 8n) & ~(1n << 18n) & ~(1n << 31n) & ~(1n << 32n)).toString(16);
    // The thread starts with the first spawn of the process.
    await (await spawnInPidNamespace('true', [], { init: false })).exited;
    const masks = spawnerThreads().map((tid) => fs.readFileSync(`/proc/self/task/${tid}/status`, 'latin1').match(/^SigBlk:\s*([0-9a-f]+)$/m)![1]);
    expect(masks.length).toBeGreaterThan(0);
    expect(masks.map((mask) => BigInt(`0x${mask}`).toString(16))).toEqual(masks.map(() => expected));
  });

  test("process.setgid() and process.setuid() return after spawns: glibc's broadcast to every thread reaches the addon's", () => {
    // glibc changes ids thread by thread, with a signal (33) that each must handle; a thread that
    // blocks it makes the call wait for ever. The addon's threads: the spawner, and the one that
    // makes network namespaces ahead.
    // Also while spawns are in flight: the addon starts threads then (the spawner, the holders of
    // network namespaces made ahead), under a lock of glibc's that the broadcast holds.
    const script = `
      const fs = require('fs');
      const { spawnInPidNamespace } = require(${JSON.stringify(DIST)});
      (async () => {
        await (await spawnInPidNamespace('true', [], { init: false })).exited;
        await (await spawnInPidNamespace('true', [], { namespaces: ['net'] })).exited;
        // The thread that makes the next namespace is started once the spawn has been delivered,
        // so it may not exist yet: the names are read until both are there (2 s at most).
        const addonThreads = () => fs.readdirSync('/proc/self/task').map((t) => fs.readFileSync('/proc/self/task/' + t + '/comm', 'latin1').trim()).filter((n) => n.startsWith('pidns-')).sort().join(' ');
        let names = addonThreads();
        for (const until = Date.now() + 2000; names !== 'pidns-netns pidns-spawner' && Date.now() < until; names = addonThreads()) await new Promise((r) => setTimeout(r, 5));
        process.setgid(process.getgid());
        process.setuid(process.getuid());
        let calls = 0;
        for (let round = 0; round < 60; round++) {
          const spawned = spawnInPidNamespace('true', [], { namespaces: ['net'], init: round % 2 === 0, stdio: 'ignore' }).then((c) => c.exited);
          const until = Date.now() + 20;
          while (Date.now() < until) {
            process.setgid(process.getgid());
            process.setgroups([process.getgid()]);
            calls++;
          }
          await spawned;
        }
        console.log(names, calls > 60);
      })();`;
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30000 });
    expect({ stdout: run.stdout, stderr: run.stderr, status: run.status, signal: run.signal }).toEqual({ stdout: 'pidns-netns pidns-spawner true\n', stderr: '', status: 0, signal: null });
  });

  test('one spawner thread per process: a Node process that spawned from its main thread and 3 workers has exactly one', () => {
    const script = `
      const { Worker } = require('worker_threads');
      const fs = require('fs');
      const { spawnInPidNamespace } = require(${JSON.stringify(DIST)});
      const spawnOne = async () => (await spawnInPidNamespace('true', [], { init: false })).exited;
      (async () => {
        await spawnOne();
        await Promise.all([0, 1, 2].map(() => new Promise((resolve, reject) => {
          const w = new Worker(${JSON.stringify(`require(${JSON.stringify(DIST)}).spawnInPidNamespace('true').then((c) => c.exited).then(() => require('worker_threads').parentPort.postMessage(1))`)}, { eval: true });
          w.once('message', () => w.terminate().then(resolve));
          w.once('error', reject);
        })));
        await spawnOne();
        const names = fs.readdirSync('/proc/self/task').map((t) => fs.readFileSync('/proc/self/task/' + t + '/comm', 'latin1').trim());
        console.log(names.filter((n) => n === 'pidns-spawner').length);
      })();`;
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30000 });
    expect({ stdout: run.stdout, stderr: run.stderr, status: run.status }).toEqual({ stdout: '1\n', stderr: '', status: 0 });
  });

  test('while a clone window is held open, the event loop runs; the spawn completes when it is released', async () => {
    const dir = frozen('held');
    const pending = spawnInPidNamespace('sleep', ['30'], { init: false, cgroup: dir, stdio: 'ignore' });
    expect(await eventually(() => procs(dir).length === 1, 10000)).toBe(true);
    const [pid] = procs(dir);
    expect(spawnerThreads().filter((tid) => childrenOfThread(tid).includes(pid))).toHaveLength(1);
    // Not exec'd yet: it still runs Node's program, on Node's memory.
    expect(fs.readlinkSync(`/proc/${pid}/exe`)).toBe(fs.realpathSync(process.execPath));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    await sleep(300);
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(20); // about 60 when idle; a held loop gives 0
    fs.writeFileSync(path.join(dir, 'cgroup.freeze'), '0');
    const child = await pending;
    expect(child.pid).toBe(pid);
    expect(fs.readlinkSync(`/proc/${pid}/exe`)).toBe(fs.realpathSync('/bin/sleep'));
    child.kill('SIGKILL');
    await expect(child.exited).resolves.toMatchObject({ signal: 'SIGKILL' });
  });

  test.each([
    ['init: false', { init: false }],
    ['under the init', {}],
  ])('%s: an abort while the spawn is in flight rejects at once with AbortError; the process is ended and reaped once it comes', async (_, options) => {
    const dir = frozen(`abort-${Object.keys(options).length}`);
    const controller = new AbortController();
    const before = { fds: ownDescriptorCount(), children: childrenOfSelf().length };
    const pending = spawnInPidNamespace('sleep', ['30'], { ...options, cgroup: dir, stdio: 'ignore', signal: controller.signal });
    expect(await eventually(() => procs(dir).length === 1, 10000)).toBe(true);
    const [pid] = procs(dir);
    controller.abort();
    // Still held in its clone window, and the spawn has already rejected.
    await expect(pending).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    expect(procs(dir)).toEqual([pid]);
    fs.writeFileSync(path.join(dir, 'cgroup.freeze'), '0');
    expect(await eventually(() => !exists(pid) && childrenOfSelf().length === before.children, 10000)).toBe(true);
    expect(await eventually(() => ownDescriptorCount() === before.fds, 5000)).toBe(true);
  });

  test("a descriptor given in stdio and closed by the caller while the spawn is in flight: the child still gets the caller's file", async () => {
    const dir = frozen('stdio');
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'pidns-spawner-'));
    try {
      const a = fs.openSync(path.join(scratch, 'a'), 'w');
      const pending = spawnInPidNamespace('sh', ['-c', 'echo written by the child'], { init: false, cgroup: dir, stdio: ['ignore', a, 'inherit'] });
      expect(await eventually(() => procs(dir).length === 1, 10000)).toBe(true);
      fs.closeSync(a);
      // The number is free again, and the next file opened takes it.
      const b = fs.openSync(path.join(scratch, 'b'), 'w');
      expect(b).toBe(a);
      fs.writeFileSync(path.join(dir, 'cgroup.freeze'), '0');
      const child = await pending;
      await expect(child.exited).resolves.toMatchObject({ code: 0 });
      fs.closeSync(b);
      expect({ a: fs.readFileSync(path.join(scratch, 'a'), 'utf8'), b: fs.readFileSync(path.join(scratch, 'b'), 'utf8') }).toEqual({ a: 'written by the child\n', b: '' });
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  });

  test('spawns from 4 worker threads at once, 24 each, raw and under the init: every status exact, nothing left', async () => {
    const before = { fds: ownDescriptorCount(), children: childrenOfSelf().length };
    const script = `
      const { parentPort, workerData } = require('worker_threads');
      const { spawnInPidNamespace } = require(${JSON.stringify(DIST)});
      (async () => {
        const codes = await Promise.all(Array.from({ length: 24 }, async (_, i) => {
          const child = await spawnInPidNamespace('sh', ['-c', 'exit ' + ((workerData * 24 + i) % 200)], { init: i % 2 === 0, stdio: 'ignore' });
          return (await child.exited).code;
        }));
        parentPort.postMessage(codes);
      })().catch((err) => parentPort.postMessage(String(err.stack)));`;
    const workers = [0, 1, 2, 3].map((n) => new Worker(script, { eval: true, workerData: n }));
    const results = await Promise.all(workers.map((worker) => new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    })));
    // A worker's own loop holds descriptors until it has ended.
    await Promise.all(workers.map((worker) => worker.terminate()));
    expect(results).toEqual([0, 1, 2, 3].map((n) => Array.from({ length: 24 }, (_, i) => (n * 24 + i) % 200)));
    expect(await eventually(() => childrenOfSelf().length === before.children, 10000)).toBe(true);
    expect(ownDescriptorCount()).toBe(before.fds);
  });

  test.each([
    ['init: false', 'false'],
    ['under the init', 'true'],
  ])('%s: a worker terminated while its spawn is in flight: what it started is killed and reaped, what it opened closed', async (_, init) => {
    const dir = frozen(`worker-${init}`);
    const before = childrenOfSelf().length;
    const fdsBefore = ownDescriptorCount();
    const script = `
      const { workerData } = require('worker_threads');
      const { spawnInPidNamespace } = require(${JSON.stringify(DIST)});
      spawnInPidNamespace('sleep', ['30'], { init: ${init}, cgroup: workerData, stdio: ['pipe', 'pipe', 'inherit'] }).catch(() => {});
      setInterval(() => {}, 1000);`;
    const worker = new Worker(script, { eval: true, workerData: dir });
    expect(await eventually(() => procs(dir).length === 1, 10000)).toBe(true);
    const [pid] = procs(dir);
    await worker.terminate();
    fs.writeFileSync(path.join(dir, 'cgroup.freeze'), '0');
    // It exec'd, then was killed and reaped: no process of that pid, no zombie child of ours.
    expect(await eventually(() => !exists(pid), 10000)).toBe(true);
    expect(childrenOfSelf().length).toBe(before);
    // Its pipes, the init's control socket: closed by the addon, as nobody else is left to.
    expect(await eventually(() => ownDescriptorCount() === fdsBefore, 5000)).toBe(true);
  });

  test.each([
    ['init: false', 'false'],
    ['under the init', 'true'],
  ])('%s: a worker that ends while its command runs: the command runs on, and is reaped once it exits (no zombie)', async (_, init) => {
    const script = `
      const { parentPort } = require('worker_threads');
      const { spawnInPidNamespace } = require(${JSON.stringify(DIST)});
      spawnInPidNamespace('sleep', ['0.5'], { init: ${init}, stdio: 'ignore' }).then((c) => {
        parentPort.postMessage(c.init ? c.init.pid : c.pid);
        process.exit(0);
      });`;
    const worker = new Worker(script, { eval: true });
    // Both listeners at once: the exit may come in the same turn as the message.
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    const pid = await new Promise<number>((resolve) => worker.once('message', resolve));
    await exited;
    expect(running(pid)).toBe(true);
    expect(status(pid).get('PPid')).toBe(String(process.pid));
    // Gone from /proc altogether: a zombie would stay listed.
    expect(await eventually(() => !exists(pid), 5000)).toBe(true);
  });

  test('workers that end while their spawns are being delivered (process.exit in the first one): Node goes on', () => {
    // In a Node of its own, which must neither abort nor crash: a worker's environment refuses
    // to run JavaScript while it is torn down, and the outcomes still queued for it are ended.
    const name = `pidns-spawner-delivered-${process.pid}`;
    const script = `
      const { Worker } = require('worker_threads');
      const inner = ${JSON.stringify(`
        const { spawnInPidNamespace } = require(${JSON.stringify(DIST)});
        for (let i = 0; i < 4; i++) spawnInPidNamespace('sleep', ['30'], { init: i % 2 === 0, stdio: 'pipe', argv0: ${JSON.stringify(name)} }).then(() => process.exit(0), () => {});`)};
      (async () => {
        for (let round = 0; round < 10; round++) {
          const workers = Array.from({ length: 4 }, () => new Worker(inner, { eval: true }));
          await Promise.all(workers.map((w) => new Promise((resolve) => w.once('exit', resolve))));
        }
        console.log('went on');
      })();`;
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60000 });
    // What the workers were handed ends with that Node (dieWithParent); anything slow to, here.
    for (const pid of runningNamed(name)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // it ended meanwhile
      }
    }
    expect({ stdout: run.stdout, stderr: run.stderr, status: run.status, signal: run.signal }).toEqual({ stdout: 'went on\n', stderr: '', status: 0, signal: null });
  });

  test.each([
    ['init', 'exit'],
    ['raw', 'exit'],
    ['worker-init', 'exit'],
    ['worker-raw', 'exit'],
    ['init', 'kill'],
    ['raw', 'kill'],
    ['worker-raw', 'kill'],
  ])('%s: Node ends (process.%s) while a spawn is in flight: nothing survives it', async (mode, how) => {
    const dir = frozen(`exit-${mode}-${how}`);
    const name = `pidns-spawner-exit-${process.pid}-${mode}-${how}`;
    const node = spawn(process.execPath, [fixture('spawner-exit.js'), mode, dir, name, how], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    node.stdout!.on('data', (d) => (out += d));
    await new Promise((resolve) => node.once('exit', resolve));
    const pid = Number(out.trim());
    expect(pid).toBeGreaterThan(0);
    // Released only now that its parent is gone: it must notice and end on its own.
    fs.writeFileSync(path.join(dir, 'cgroup.freeze'), '0');
    expect(await eventually(() => !running(pid) && runningNamed(name).length === 0, 15000)).toBe(true);
  });
});
