// A command that attacks the init that watches it. The init keeps the caller's credentials (the
// command alone takes `uid`/`gid`) and is not dumpable, so a command running as another uid can
// neither take its control socket (pidfd_getfd), nor attach to it (ptrace), nor signal it; a set-uid
// copy of the init refuses to run. What root inside can still do is in SECURITY.md.
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PidNamespace, spawnInPidNamespace, type PidNamespaceChild } from '../lib';
import { initPath } from '../lib/native';
import { EXIT_FAILED } from '../lib/protocol';
import { eventually, exists, membersOfNamespace, ownDescriptorCount, readAll, running, runningMembersOfNamespace, status } from './kernel';
import { describeAsRoot } from './root';
import { buildFixture, removeBuiltFixture } from './subprocess';

const { EPERM } = os.constants.errno;

let dir: string;
let attacker: string;

beforeAll(() => {
  attacker = buildFixture('init-attacker');
  dir = path.dirname(attacker);
});

afterAll(() => removeBuiltFixture(attacker));

interface Attack { pidfd_open: number; getfd: number[]; ptrace: number; kill: number }

async function attackOutcome(child: PidNamespaceChild): Promise<Attack> {
  const out = await readAll(child.stdout);
  expect(await child.exited).toMatchObject({ code: 0, signal: null });
  return JSON.parse(out) as Attack;
}

describeAsRoot('a command as another uid against the init', () => {
  test('under the init: the init keeps root, the command is 65534, and every attack is refused', async () => {
    // The attack waits for a line on stdin, so that the init is certainly there to be read first.
    const child = await spawnInPidNamespace('/bin/sh', ['-c', 'read go; exec "$0"', attacker], { uid: 65534, gid: 65534, stdio: ['pipe', 'pipe', 'inherit'] });
    expect(status(child.init!.pid).get('Uid')!.split('\t')[0]).toBe('0');
    expect(status(child.pid).get('Uid')!.split('\t')[0]).toBe('65534');
    child.stdin!.end('go\n');
    const outcome = await attackOutcome(child);
    expect(outcome.pidfd_open).toBe(0);
    expect(outcome.getfd).toEqual(Array(16).fill(EPERM));
    expect(outcome.ptrace).toBe(EPERM);
    expect(outcome.kill).toBe(EPERM);
  });

  test('a pod member as another uid: the pause init is out of its reach too', async () => {
    await using ns = await PidNamespace.create();
    const member = await ns.spawn(attacker, [], { uid: 65534, gid: 65534, stdio: ['ignore', 'pipe', 'inherit'] });
    const outcome = await attackOutcome(member);
    expect(outcome.getfd).toEqual(Array(16).fill(EPERM));
    expect(outcome.ptrace).toBe(EPERM);
    expect(outcome.kill).toBe(EPERM);
  });

  test('root inside (no uid): the same attacks work, as SECURITY.md says', async () => {
    const child = await spawnInPidNamespace(attacker, [], { stdio: ['ignore', 'pipe', 'inherit'] });
    const outcome = await attackOutcome(child);
    expect(outcome.getfd.filter((e) => e === 0).length).toBeGreaterThan(0);
    expect(outcome.ptrace).toBe(0);
    expect(outcome.kill).toBe(0);
  });

  test('a uid the command cannot take reports the step: EPERM from setgroups, before any code of the command runs', async () => {
    const script = `
      const { spawnInPidNamespace } = require(${JSON.stringify(path.join(__dirname, '..', 'dist'))});
      spawnInPidNamespace('/bin/true', [], { uid: 65534 }).then(
        () => console.log(JSON.stringify({ started: true })),
        (err) => console.log(JSON.stringify({ error: err.code, syscall: err.syscall })));
    `;
    const run = spawnSync('setpriv', ['--groups=4,27', '--bounding-set=-setgid', '--inh-caps=-setgid', process.execPath, '-e', script], { encoding: 'utf8', timeout: 20000 });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({ error: 'EPERM', syscall: 'setgroups' });
  });
});

describeAsRoot('a root command that stops its init', () => {
  test('kill(SIGKILL) still ends the namespace, and nothing of it is left', async () => {
    const child = await spawnInPidNamespace(attacker, ['stop-and-stay'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve) => child.stdout!.once('data', (d) => resolve(String(d))));
    expect(JSON.parse(line)).toEqual({ stopped: true });
    // The init is stopped by its tracer (state t): it could neither forward a signal nor reap.
    expect(await eventually(() => status(child.init!.pid).get('State')!.startsWith('t'), 5000)).toBe(true);
    expect(child.kill('SIGKILL')).toBe(true);
    await expect(child.exited).resolves.toMatchObject({ signal: 'SIGKILL' });
    // Killed with the namespace; on a loaded machine the last may still be on its way out.
    expect(await eventually(() => runningMembersOfNamespace(child.namespaceId).length === 0, 5000)).toBe(true);
  });
});

describeAsRoot('a root command that takes the control socket', () => {
  test('1,500 forged reports, each with a descriptor: the status is the command\'s own, no descriptor stays, the loop keeps turning', async () => {
    const before = ownDescriptorCount();
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 1);
    const child = await spawnInPidNamespace(attacker, ['flood', '1500'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const out = JSON.parse(await readAll(child.stdout));
    expect(out).toEqual({ taken: true, sent: 1500 });
    await expect(child.exited).resolves.toMatchObject({ code: 0, signal: null });
    clearInterval(ticker);
    expect(ticks).toBeGreaterThan(0);
    expect(ownDescriptorCount()).toBe(before);
  });
});

describeAsRoot('a root command that stops its init and ends', () => {
  // The command's end is seen through its pidfd; without pidfds (before Linux 5.3, or the suite's
  // fallback run) only Node's own kill, timeout or abort can end such an init, as SECURITY.md says.
  const withPidfds = !process.env.PIDNS_NO_PIDFD;
  test(withPidfds ? 'exited still resolves, with no kill, timeout or abort, and the namespace is gone' : 'without pidfds, kill(SIGKILL) ends the namespace, and nothing of it is left', async () => {
    const child = await spawnInPidNamespace(attacker, ['stop'], { stdio: ['ignore', 'pipe', 'inherit'] });
    // The first line, not the end of the output: an init stopped before it let go of the
    // command's stdout keeps the pipe open until the init ends.
    const line = await new Promise<string>((resolve) => child.stdout!.once('data', (d) => resolve(String(d))));
    expect(JSON.parse(line)).toEqual({ stopped: true });
    if (!withPidfds) expect(child.kill('SIGKILL')).toBe(true);
    await expect(child.exited).resolves.toMatchObject({ signal: 'SIGKILL' });
    // Killed with the namespace; on a loaded machine the last may still be on its way out.
    expect(await eventually(() => runningMembersOfNamespace(child.namespaceId).length === 0, 5000)).toBe(true);
  });

  test('Node\'s death ends the namespace of a stopped init (its parent-death signal)', async () => {
    const script = `
      const { spawnInPidNamespace } = require(${JSON.stringify(path.join(__dirname, '..', 'dist'))});
      spawnInPidNamespace(${JSON.stringify(attacker)}, ['stop-and-stay'], { stdio: ['ignore', 'pipe', 'inherit'] }).then((child) => {
        child.stdout.once('data', () => console.log(JSON.stringify({ initPid: child.init.pid, namespaceId: child.namespaceId })));
        setInterval(() => {}, 1 << 30);
      });
    `;
    const node = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const report = JSON.parse(await new Promise<string>((resolve) => node.stdout!.once('data', (d) => resolve(String(d))))) as { initPid: number; namespaceId: number };
    expect(await eventually(() => status(report.initPid).get('State')!.startsWith('t'), 5000)).toBe(true);
    const closed = new Promise((resolve) => node.once('close', resolve));
    node.kill('SIGKILL');
    await closed;
    expect(await eventually(() => membersOfNamespace(report.namespaceId).length === 0, 5000)).toBe(true);
  });
});

describeAsRoot('a command gone while the init waits out teardownGraceMs', () => {
  test('kill(SIGKILL) ends the namespace now, and exited keeps the command\'s own status', async () => {
    const child = await spawnInPidNamespace('/bin/sh', ['-c', "sh -c 'trap \"\" TERM; while :; do sleep 1; done' & sleep 0.2; exit 3"], {
      stdio: 'ignore',
      teardownGraceMs: 60000,
    });
    try {
      // The command has exited and been reaped by the init; the init waits out the grace.
      expect(await eventually(() => !exists(child.pid), 5000)).toBe(true);
      expect(child.kill('SIGKILL')).toBe(true);
      await expect(child.exited).resolves.toMatchObject({ code: 3, signal: null });
      expect(membersOfNamespace(child.namespaceId)).toEqual([]);
    } finally {
      // A failed expectation must not leave the init waiting out 60 s beside later test files.
      if (child.init && running(child.init.pid)) process.kill(child.init.pid, 'SIGKILL');
    }
  });
});

describeAsRoot('a set-uid copy of the init', () => {
  test('refuses to run for anyone, before it runs a command', () => {
    const copy = path.join(dir, 'pidns-init-setuid');
    fs.copyFileSync(initPath, copy);
    fs.chmodSync(copy, 0o4755);
    const marker = path.join(dir, 'ran');
    const run = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', copy, '--', '/bin/sh', '-c', `touch ${marker}`], { encoding: 'utf8', timeout: 10000 });
    expect(run.status).toBe(EXIT_FAILED);
    expect(run.stderr).toMatch(/refusing to run with privileges its caller does not have/);
    expect(fs.existsSync(marker)).toBe(false);
  });
});
