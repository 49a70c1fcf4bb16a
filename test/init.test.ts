// The bundled init (the default): pid 1 forwards signals, reaps, reports the exact status and
// takes the namespace down with the command, and with the Node process.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnInPidNamespace } from '../lib';
import { signalName } from '../lib/signals';
import { childrenOfSelf, collect, eventually, exists, membersOfNamespace, nsPidLine, runningMembersOfNamespace, status } from './kernel';
import { describeAsRoot } from './root';
import { startFixture } from './subprocess';

let recorder: string;

beforeAll(() => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pidns-init-test-'));
  recorder = path.join(dir, 'signal-recorder');
  execFileSync('cc', ['-O2', '-o', recorder, path.join(__dirname, 'fixtures', 'signal-recorder.c')]);
});

/** Catchable signals (all but SIGKILL and SIGSTOP), without SIGCHLD, which the init keeps. */
const forwardable = Array.from({ length: 64 }, (_, i) => i + 1).filter((s) => ![9, 19, 17, 32, 33].includes(s));

/** Signals whose default action ends the process (not stop, continue or ignore). */
const terminating = forwardable.filter((s) => ![18, 20, 21, 22, 23, 28].includes(s));

async function lines(stream: NodeJS.ReadableStream, count: number): Promise<string[]> {
  const seen: string[] = [];
  let text = '';
  stream.setEncoding('utf8');
  return new Promise((resolve) => {
    const onData = (d: string) => {
      text += d;
      const parts = text.split('\n');
      text = parts.pop()!;
      seen.push(...parts);
      if (seen.length >= count) {
        stream.off('data', onData);
        resolve(seen);
      }
    };
    stream.on('data', onData);
  });
}

describeAsRoot('the init as pid 1', () => {
  afterEach(async () => {
    expect(await eventually(() => childrenOfSelf().length === 0, 2000)).toBe(true);
  });

  test('the command is pid 2, a child of the init, which is pid 1; pids match NSpid', async () => {
    const child = await spawnInPidNamespace('sleep', ['30'], { stdio: 'ignore' });
    try {
      expect(child.nsPid).toBe(2);
      expect(child.init).toEqual({ pid: expect.any(Number), nsPid: 1 });
      expect(nsPidLine(child.pid)).toEqual([child.pid, 2]);
      expect(nsPidLine(child.init!.pid)).toEqual([child.init!.pid, 1]);
      expect(Number(status(child.pid).get('PPid'))).toBe(child.init!.pid);
      expect(Number(status(child.init!.pid).get('PPid'))).toBe(process.pid);
      expect(childrenOfSelf().map((c) => c.pid)).toEqual([child.init!.pid]);
    } finally {
      child.kill('SIGKILL');
      await child.exited;
    }
  });

  test('the command runs in the cwd it was given; the init keeps no directory busy', async () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'pidns-init-cwd-'));
    const child = await spawnInPidNamespace('sleep', ['30'], { stdio: 'ignore', cwd });
    try {
      expect(await eventually(() => status(child.pid).get('Name') === 'sleep')).toBe(true);
      expect(fs.readlinkSync(`/proc/${child.pid}/cwd`)).toBe(cwd);
      expect(fs.readlinkSync(`/proc/${child.init!.pid}/cwd`)).toBe('/');
    } finally {
      child.kill('SIGKILL');
      await child.exited;
      fs.rmdirSync(cwd);
    }
  });

  test('a command with no SIGTERM handler dies of SIGTERM (it would not as pid 1)', async () => {
    const child = await spawnInPidNamespace('sleep', ['30'], { stdio: 'ignore' });
    expect(child.kill()).toBe(true);
    await expect(child.exited).resolves.toMatchObject({ code: null, signal: 'SIGTERM' });
    expect(exists(child.init!.pid)).toBe(false);
  });

  test('a trapped SIGUSR1 reaches the command, sent to the command or to the init', async () => {
    const child = await spawnInPidNamespace('sh', ['-c', 'trap "echo usr1" USR1; echo ready; while :; do sleep 0.02; done']);
    const out = lines(child.stdout!, 3);
    await eventually(() => fs.readFileSync(`/proc/${child.pid}/comm`, 'utf8') === 'sh\n');
    await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGUSR1');
    await new Promise((r) => setTimeout(r, 100));
    process.kill(child.init!.pid, 'SIGUSR1');
    expect(await out).toEqual(['ready', 'usr1', 'usr1']);
    child.kill('SIGKILL');
    await child.exited;
  });

  test.each(['command', 'init'])('every catchable signal but SIGCHLD, sent to the %s, reaches the command', async (target) => {
    const child = await spawnInPidNamespace(recorder, []);
    const ready = lines(child.stdout!, 1);
    expect(await ready).toEqual(['ready']);
    for (const signo of forwardable) {
      const next = lines(child.stdout!, 1);
      if (target === 'command') expect(child.kill(signo)).toBe(true);
      else process.kill(child.init!.pid, signo);
      expect(await next).toEqual([String(signo)]);
    }
    child.kill('SIGKILL');
    await expect(child.exited).resolves.toMatchObject({ code: null, signal: 'SIGKILL' });
  });

  test('signalGroup: signals reach the command and its whole process group', async () => {
    const child = await spawnInPidNamespace('sh', ['-c', 'sleep 30 & wait'], { stdio: 'ignore', signalGroup: true });
    let grandchild = 0;
    await eventually(() => {
      const kids = fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim();
      grandchild = Number(kids || 0);
      return grandchild > 0;
    });
    const s = fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    expect(Number(s[2])).toBe(child.pid); // pgrp: the command leads its group
    child.kill('SIGTERM');
    await expect(child.exited).resolves.toMatchObject({ code: null, signal: 'SIGTERM' });
    expect(exists(grandchild)).toBe(false);
  });

  test('every exit code 0..255 comes back exactly', async () => {
    for (let code = 0; code <= 255; code++) {
      const child = await spawnInPidNamespace('sh', ['-c', `exit ${code}`], { stdio: 'ignore' });
      expect(await child.exited).toMatchObject({ code, signal: null });
    }
  });

  test('every terminating signal comes back as the signal, not 128+N', async () => {
    for (const signo of terminating) {
      const child = await spawnInPidNamespace('sh', ['-c', `ulimit -c 0; kill -${signo} $$`], { stdio: 'ignore', cwd: os.tmpdir() });
      const result = await child.exited;
      expect(result).toMatchObject({ code: null, signal: signalName(signo) });
      expect(child.signalCode).toBe(signalName(signo));
    }
  });

  test('1,000 orphans leave no zombie; the init sleeps while nothing happens', async () => {
    const child = await spawnInPidNamespace('sh', ['-c', 'i=0; while [ $i -lt 1000 ]; do (true &) ; i=$((i+1)); done; echo done; exec sleep 30']);
    expect(await lines(child.stdout!, 1)).toEqual(['done']);
    const initPid = child.init!.pid;
    expect(await eventually(() => membersOfNamespace(child.namespaceId).length === 2, 5000)).toBe(true);
    const zombies = membersOfNamespace(child.namespaceId).filter((pid) => status(pid).get('State')!.startsWith('Z'));
    expect(zombies).toEqual([]);
    const switches = () => Number(status(initPid).get('voluntary_ctxt_switches'));
    const before = switches();
    await new Promise((r) => setTimeout(r, 500));
    expect(switches()).toBe(before);
    child.kill('SIGKILL');
    await child.exited;
  });

  test('when the command ends, everything else in the namespace is gone by the time exited resolves', async () => {
    const child = await spawnInPidNamespace('sh', ['-c', 'sleep 1000 & sleep 1000 & (sleep 1000 &) ; echo started; read line'], {});
    expect(await lines(child.stdout!, 1)).toEqual(['started']);
    const namespaceId = child.namespaceId;
    expect(membersOfNamespace(namespaceId).length).toBe(5); // init, sh, three sleeps
    child.stdin!.end('\n');
    await expect(child.exited).resolves.toMatchObject({ code: 0, signal: null });
    expect(membersOfNamespace(namespaceId)).toEqual([]);
  });

  test('teardownGraceMs: the others get SIGTERM first, and the grace ends early when they are gone', async () => {
    const marker = path.join(os.tmpdir(), `pidns-grace-${process.pid}`);
    const script = `(trap "echo term > ${marker}; exit 0" TERM; echo ready; while :; do sleep 0.02; done) & sleep 0.3`;
    const started = Date.now();
    const child = await spawnInPidNamespace('sh', ['-c', script], { teardownGraceMs: 5000 });
    expect(await lines(child.stdout!, 1)).toEqual(['ready']);
    await expect(child.exited).resolves.toMatchObject({ code: 0, signal: null });
    expect(Date.now() - started).toBeLessThan(4000);
    expect(fs.readFileSync(marker, 'utf8')).toBe('term\n');
    fs.unlinkSync(marker);
    expect(membersOfNamespace(child.namespaceId)).toEqual([]);
  });

  test('teardownGraceMs: a process that ignores SIGTERM is killed when the grace ends', async () => {
    const child = await spawnInPidNamespace('sh', ['-c', '(trap "" TERM; echo ready; exec sleep 1000) & sleep 0.2'], { teardownGraceMs: 300 });
    expect(await lines(child.stdout!, 1)).toEqual(['ready']);
    const started = Date.now();
    await expect(child.exited).resolves.toMatchObject({ code: 0, signal: null });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(membersOfNamespace(child.namespaceId)).toEqual([]);
  });

  test('if the init is killed from outside, exited resolves with SIGKILL and nothing remains', async () => {
    const child = await spawnInPidNamespace('sh', ['-c', 'sleep 1000 & exec sleep 1000'], { stdio: 'ignore' });
    process.kill(child.init!.pid, 'SIGKILL');
    await expect(child.exited).resolves.toMatchObject({ code: null, signal: 'SIGKILL' });
    expect(membersOfNamespace(child.namespaceId)).toEqual([]);
    expect(child.kill()).toBe(false);
  });

  test('stdout pipes close when the command ends, even if the init lives on during a grace', async () => {
    const child = await spawnInPidNamespace('sh', ['-c', 'echo hi'], { teardownGraceMs: 100 });
    expect(await collect(child.stdout)).toBe('hi\n');
    await child.exited;
  });
});

describeAsRoot('the namespace lives as long as the Node process', () => {
  test('SIGKILL of the Node process ends its namespaces within a second', async () => {
    const { child, firstLine } = startFixture('hold-namespace.js', ['{}']);
    const report = (await firstLine) as { pid: number; initPid: number; namespaceId: number };
    expect(exists(report.pid)).toBe(true);
    child.kill('SIGKILL');
    expect(await eventually(() => runningMembersOfNamespace(report.namespaceId).length === 0, 1000)).toBe(true);
  });

  test('raw mode (init: false) from the main thread dies with the process too', async () => {
    const { child, firstLine } = startFixture('hold-namespace.js', ['{"init":false}']);
    const report = (await firstLine) as { pid: number; namespaceId: number };
    child.kill('SIGKILL');
    expect(await eventually(() => runningMembersOfNamespace(report.namespaceId).length === 0, 1000)).toBe(true);
  });

  test('a worker thread that spawned and ended takes nothing with it; the process end does', async () => {
    const { child, firstLine } = startFixture('hold-namespace.js', ['{}', 'worker']);
    const report = (await firstLine) as { pid: number; initPid: number; namespaceId: number; workerEnded: boolean };
    expect(report.workerEnded).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(status(report.pid).get('State')!.charAt(0)).toBe('S');
    expect(exists(report.initPid)).toBe(true);
    child.kill('SIGKILL');
    expect(await eventually(() => runningMembersOfNamespace(report.namespaceId).length === 0, 5000)).toBe(true);
  });

  test('dieWithParent: false keeps the namespace after the process ends', async () => {
    const { child, firstLine } = startFixture('hold-namespace.js', ['{"dieWithParent":false}']);
    const report = (await firstLine) as { pid: number; initPid: number; namespaceId: number };
    child.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    expect(exists(report.pid)).toBe(true);
    process.kill(report.initPid, 'SIGKILL');
    expect(await eventually(() => runningMembersOfNamespace(report.namespaceId).length === 0, 1000)).toBe(true);
  });
});
