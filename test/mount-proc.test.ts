// mountProc: a private /proc for the command's PID namespace; the host's mounts never change.
import * as fs from 'fs';
import { PidNamespace, spawnInPidNamespace } from '../lib';
import { collect } from './kernel';
import { describeAsRoot } from './root';

const ownMounts = () => fs.readFileSync('/proc/self/mountinfo', 'utf8');
const hostProcMounts = () => ownMounts().split('\n').filter((line) => / - proc /.test(line));

async function psInside(options: object): Promise<{ pids: number[]; mountinfo: string; exited: unknown }> {
  const child = await spawnInPidNamespace('sh', ['-c', 'ps -e -o pid=; echo --; cat /proc/self/mountinfo'], options);
  const out = await collect(child.stdout);
  const [ps, mountinfo] = out.split('--\n');
  return { pids: ps.trim().split(/\s+/).map(Number), mountinfo, exited: await child.exited };
}

describeAsRoot('mountProc', () => {
  let before: string;
  beforeEach(() => {
    before = ownMounts();
  });
  afterEach(() => {
    // Nothing was mounted on the host, and the host's /proc is the same mount as before.
    expect(ownMounts()).toBe(before);
  });

  test('with the init: ps -e inside shows exactly pid 1 (the init) and pid 2 (ps itself)', async () => {
    const child = await spawnInPidNamespace('ps', ['-e', '-o', 'pid=,comm='], { mountProc: true });
    const seen = (await collect(child.stdout)).trim().split('\n').map((l) => l.trim().split(/\s+/));
    expect(seen).toEqual([['1', 'pidns-init'], ['2', 'ps']]);
    await expect(child.exited).resolves.toMatchObject({ code: 0, signal: null });
  });

  test('raw: the command is pid 1 and sees only itself and its children', async () => {
    const r = await psInside({ mountProc: true, init: false });
    expect(r.pids[0]).toBe(1);
    expect(r.pids.every((p) => p < 10)).toBe(true);
  });

  test('mount propagation inside is private, and /proc there is a new proc mount', async () => {
    const r = await psInside({ mountProc: true, init: false });
    const root = r.mountinfo.split('\n').find((l) => l.split(' ')[4] === '/')!;
    expect(root).not.toMatch(/shared:/);
    const procLines = r.mountinfo.split('\n').filter((l) => / - proc /.test(l) && l.split(' ')[4] === '/proc');
    expect(procLines.length).toBeGreaterThanOrEqual(2); // the host's, covered by the new one
    expect(hostProcMounts().length).toBe(before.split('\n').filter((l) => / - proc /.test(l)).length);
  });

  test('without mountProc the command shares our mount namespace', async () => {
    const child = await spawnInPidNamespace('sleep', ['30'], { stdio: 'ignore' });
    expect(fs.readlinkSync(`/proc/${child.pid}/ns/mnt`)).toBe(fs.readlinkSync('/proc/self/ns/mnt'));
    child.kill('SIGKILL');
    await child.exited;
    const inside = await spawnInPidNamespace('sleep', ['30'], { stdio: 'ignore', mountProc: true });
    expect(fs.readlinkSync(`/proc/${inside.pid}/ns/mnt`)).not.toBe(fs.readlinkSync('/proc/self/ns/mnt'));
    inside.kill('SIGKILL');
    await inside.exited;
  });

  test('pod members with mountProc see each other', async () => {
    await using ns = await PidNamespace.create({ mountProc: true });
    const a = await ns.spawn('sleep', ['30'], { stdio: 'ignore' });
    const b = await ns.spawn('ps', ['-e', '-o', 'pid=,comm=']);
    const seen = (await collect(b.stdout)).trim().split('\n').map((l) => l.trim().split(/\s+/));
    expect(seen).toEqual([['1', 'pidns-init'], [String(a.nsPid), 'sleep'], [String(b.nsPid), 'ps']]);
  });

  test('joining with mountProc mounts a /proc of the joined namespace', async () => {
    const pid1 = await spawnInPidNamespace('sleep', ['30'], { init: false, stdio: 'ignore' });
    const joiner = await spawnInPidNamespace('ps', ['-e', '-o', 'pid='], { join: pid1.pid, mountProc: true });
    expect((await collect(joiner.stdout)).trim().split(/\s+/).map(Number)).toEqual([1, 2]);
    pid1.kill('SIGKILL');
    await pid1.exited;
  });
});
