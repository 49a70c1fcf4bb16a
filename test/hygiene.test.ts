// What crosses into the child (descriptors, signal state), what is left behind (zombies,
// descriptors), and that the Node process itself is never changed.
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import { Worker } from 'worker_threads';
import { spawnInPidNamespace } from '../lib';
import { childrenOfSelf, collect, descriptors, eventually, namespaceInode, ownDescriptorCount, status } from './kernel';
import { describeAsRoot } from './root';
import { inPublicInstall, publicInstall } from './public-install';
import { fixture } from './subprocess';

function threadPidNamespaces(): { own: string; forChildren: string[] } {
  const own = fs.readlinkSync('/proc/self/ns/pid');
  const forChildren = fs.readdirSync('/proc/self/task').map((t) => fs.readlinkSync(`/proc/self/task/${t}/ns/pid_for_children`));
  return { own, forChildren };
}

describeAsRoot('descriptor and signal hygiene', () => {
  test.each([false, true])('the child holds exactly 0, 1 and 2 (init: %s)', async (init) => {
    const child = await spawnInPidNamespace('sleep', ['30'], { init });
    try {
      // The spawn resolves once execve has passed its point of no return; the kernel finishes the
      // exec a moment later, and the dynamic loader briefly opens libraries as descriptor 3. A
      // leaked descriptor would stay: look once sleep is asleep.
      await eventually(() => fs.readFileSync(`/proc/${child.pid}/wchan`, 'utf8').includes('nanosleep'));
      const fds = () => fs.readdirSync(`/proc/${child.pid}/fd`).sort();
      expect(fds()).toEqual(['0', '1', '2']);
      const targets = descriptors(child.pid).map((d) => d.split(' -> ')[1]);
      for (const t of targets) expect(t).toMatch(/^pipe:/);
    } finally {
      child.kill('SIGKILL');
      // Its unread pipes are drained and closed after the exit: wait for that too, so that the
      // descriptor count of a later test starts from a settled state.
      await child.closed;
    }
  });

  test.each([false, true])('descriptors Node holds do not reach the child or the init (init: %s)', (init) => {
    const run = spawnSync(process.execPath, [fixture('child-fds.js'), JSON.stringify({ init })], { stdio: ['ignore', 'pipe', 'inherit', 'pipe'], encoding: 'utf8' });
    const report = JSON.parse(run.stdout);
    // The fixture really held what must not leak.
    expect(report.ownFds.join('\n')).toMatch(/pipe:.*\n?/);
    expect(report.ownFds.join('\n')).toMatch(/\/etc\/hostname/);
    expect(report.ownFds.join('\n')).toMatch(/pidfd|socket/);
    expect(report.fds).toEqual(['0 -> /dev/null', '1 -> /dev/null', '2 -> /dev/null']);
    // The init keeps its stdio, its end of the control channel and its signalfd; nothing else.
    for (const target of report.initFds) expect(target).toMatch(/ -> (\/dev\/null|socket:\[\d+\]|anon_inode:\[signalfd\])$/);
    expect(report.initFds.filter((t: string) => t.includes('socket:')).length).toBeLessThanOrEqual(1);
  });

  test.each([false, true])('no signal is ignored or blocked in the child (init: %s)', async (init) => {
    expect(status(process.pid).get('SigIgn')).not.toBe('0000000000000000'); // Node ignores SIGPIPE
    const child = await spawnInPidNamespace('sleep', ['30'], { init, stdio: 'ignore' });
    try {
      const s = status(child.pid);
      expect(s.get('SigIgn')).toBe('0000000000000000');
      expect(s.get('SigBlk')).toBe('0000000000000000');
      expect(s.get('SigCgt')).toBe('0000000000000000');
    } finally {
      child.kill('SIGKILL');
      await child.exited;
    }
  });

  test('yes | head -1 ends (SIGPIPE has its default action)', async () => {
    const child = await spawnInPidNamespace('sh', ['-c', 'yes | head -1'], { init: false });
    expect(await collect(child.stdout)).toBe('y\n');
    await expect(child.exited).resolves.toMatchObject({ code: 0, signal: null });
    await child.closed;
  });

  test('100 spawns leave no zombie and no new descriptor', async () => {
    const before = ownDescriptorCount();
    for (let i = 0; i < 100; i++) {
      const child = await spawnInPidNamespace('true', [], { init: i % 2 === 0, stdio: i % 3 === 0 ? 'ignore' : 'pipe' });
      await child.exited;
      child.stdout?.destroy();
      child.stderr?.destroy();
    }
    await new Promise((r) => setImmediate(r));
    expect(childrenOfSelf()).toEqual([]);
    expect(ownDescriptorCount()).toBe(before);
  });
});

describeAsRoot('the Node process is never changed', () => {
  test('a command given another uid leaves Node dumpable (its /proc files its own), raw and under the init', () => {
    // Not root, so that the owner tells: a Node process of uid 65534 that may change ids.
    const caps = '+setuid,+setgid,+sys_admin';
    const run = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', `--inh-caps=${caps}`, `--ambient-caps=${caps}`, '--', publicInstall().node, inPublicInstall(fixture('dumpable-report.js')), '1001'], { encoding: 'utf8', timeout: 20000, cwd: '/' });
    const report = JSON.parse(run.stdout.split('\n')[0] || '{}');
    expect({ report, stderr: run.stderr }).toEqual({
      report: { uid: 65534, before: 65534, 'init false': { exited: 0, owner: 65534 }, 'init true': { exited: 0, owner: 65534 } },
      stderr: '',
    });
  });

  test('every thread still creates children in our own PID namespace', async () => {
    const pid1 = await spawnInPidNamespace('sleep', ['30'], { init: false, stdio: 'ignore' });
    const joined = await spawnInPidNamespace('true', [], { join: pid1.pid });
    const underInit = await spawnInPidNamespace('true', []);
    await Promise.all([joined.exited, underInit.exited]);
    const { own, forChildren } = threadPidNamespaces();
    for (const ns of forChildren) expect(ns).toBe(own);
    pid1.kill('SIGKILL');
    await pid1.exited;
  });

  test('worker threads still start, and child_process.spawn stays in our namespace', async () => {
    const pid1 = await spawnInPidNamespace('sleep', ['30'], { init: false, stdio: 'ignore' });
    const joined = await spawnInPidNamespace('true', [], { join: pid1.pid });
    await joined.exited;
    const worker = new Worker('require("worker_threads").parentPort.postMessage(42)', { eval: true });
    await expect(new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject))).resolves.toBe(42);
    await worker.terminate();
    const inode = execFileSync('sh', ['-c', 'stat -L -c %i /proc/self/ns/pid'], { encoding: 'utf8' }).trim();
    expect(Number(inode)).toBe(namespaceInode('self'));
    pid1.kill('SIGKILL');
    await pid1.exited;
  });

  test('a worker thread can spawn, and the main thread is unchanged after', async () => {
    const script = `
      const { parentPort } = require('worker_threads');
      const { spawnInPidNamespace } = require(${JSON.stringify(require.resolve('../dist'))});
      (async () => {
        const c = await spawnInPidNamespace('sh', ['-c', 'exit 4'], { init: false });
        parentPort.postMessage({ nsPid: c.nsPid, exited: await c.exited });
      })();`;
    const worker = new Worker(script, { eval: true });
    const report = await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
    expect(report).toMatchObject({ nsPid: 1, exited: { code: 4, signal: null } });
    await worker.terminate();
    const { own, forChildren } = threadPidNamespaces();
    for (const ns of forChildren) expect(ns).toBe(own);
  });
});
