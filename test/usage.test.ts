// Resource usage in the exit status: what the kernel accounted at reaping, compared with what the
// kernel says the processes did (their own /proc/PID/stat while they ran, or as they report it).
import * as fs from 'fs';
import * as os from 'os';
import { PidNamespace, spawnInPidNamespace, type ResourceUsage } from '../lib';
import { eventually, membersOfNamespace, readAll } from './kernel';
import { describeAsRoot } from './root';

const TICK_US = 10000; // USER_HZ is 100 on Linux: /proc/PID/stat counts CPU time in 10 ms ticks

/** utime + stime of a process, microseconds, from /proc/PID/stat. */
function cpuOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_US;
}

const cpuTotal = (usage: ResourceUsage | null) => (usage ? usage.userCPUTime + usage.systemCPUTime : -1);

/** A shell that burns CPU until its own utime + stime reach 300 ms, then prints them (ticks). */
const BURN_300MS =
  'while :; do read -r s < /proc/self/stat; set -- ${s#*) }; [ $(( ${12} + ${13} )) -ge 30 ] && break; done; echo $(( ${12} + ${13} ))';

const MIB = 1024;
const TOUCH_100MIB = ['-c', 'b = bytearray(100 * 1024 * 1024)\nfor i in range(0, len(b), 4096): b[i] = 1'];

describeAsRoot('usage: what the processes of a namespace used, from the kernel at reaping', () => {
  test('under the init: an orphan the init reaped is counted', async () => {
    // The burner's parent exits at once, so the burner is an orphan of the init; the command
    // does not wait for it, and ends only once the burner has reported (stdin closed).
    const child = await spawnInPidNamespace('sh', ['-c', `(sh -c '${BURN_300MS}' &); read wait`]);
    const output = readAll(child.stdout);
    await new Promise((r) => child.stdout!.once('data', r));
    child.stdin!.end();
    const burnedTicks = Number((await output).trim());
    const { usage } = await child.exited;
    expect(burnedTicks).toBeGreaterThanOrEqual(30);
    expect(cpuTotal(usage)).toBeGreaterThanOrEqual(burnedTicks * TICK_US);
    // The rest is two shells, a sleep and the init: far below another 300 ms.
    expect(cpuTotal(usage)).toBeLessThan(burnedTicks * TICK_US + 300000);
  });

  test('under the init: a process still running when the command ends is counted for what it did', async () => {
    const child = await spawnInPidNamespace('sh', ['-c', "sh -c 'while :; do :; done' & exec sleep 1000"], { stdio: 'ignore' });
    const isBurner = (pid: number) => {
      try {
        return fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1') === 'sh\0-c\0while :; do :; done\0';
      } catch {
        return false;
      }
    };
    let burner: number | undefined;
    expect(await eventually(() => (burner = membersOfNamespace(child.namespaceId).find(isBurner)) !== undefined)).toBe(true);
    let burned = 0;
    expect(await eventually(() => (burned = cpuOf(burner!)) >= 300000, 20000)).toBe(true);
    const killedAt = Date.now();
    // SIGTERM: the init forwards it to the command. (A SIGKILL on kernels without pidfds goes to
    // the init itself, and a killed init reports nothing: its own wait4 is all there is then.)
    child.kill('SIGTERM');
    const { usage } = await child.exited;
    const elapsedUs = (Date.now() - killedAt) * 1000;
    expect(cpuTotal(usage)).toBeGreaterThanOrEqual(burned);
    // At most what it could still burn between the sample and its death, on every core, plus slack.
    expect(cpuTotal(usage)).toBeLessThan(burned + elapsedUs * os.availableParallelism() + 100000);
  });

  test('under the init: maxRSS is the largest process of the tree (100 MiB touched), not the init', async () => {
    const child = await spawnInPidNamespace('python3', TOUCH_100MIB, { stdio: 'ignore' });
    const { code, usage } = await child.exited;
    expect(code).toBe(0);
    expect(usage!.maxRSS).toBeGreaterThanOrEqual(100 * MIB);
    // python's own size on top; the init's copy of Node's memory before its execve is not counted.
    expect(usage!.maxRSS).toBeLessThan(100 * MIB + 64 * MIB);
    expect(process.memoryUsage().rss / 1024).toBeGreaterThan(64 * MIB);
  });

  test('raw: the command and the children it waited for', async () => {
    const child = await spawnInPidNamespace('sh', ['-c', `sh -c '${BURN_300MS}'; true`], { init: false });
    const burnedTicks = Number((await readAll(child.stdout)).trim());
    const { code, usage } = await child.exited;
    expect(code).toBe(0);
    expect(cpuTotal(usage)).toBeGreaterThanOrEqual(burnedTicks * TICK_US);
    expect(cpuTotal(usage)).toBeLessThan(burnedTicks * TICK_US + 300000);
  });

  test('raw: maxRSS covers 100 MiB touched by the command', async () => {
    const child = await spawnInPidNamespace('python3', TOUCH_100MIB, { init: false, stdio: 'ignore' });
    const { usage } = await child.exited;
    expect(usage!.maxRSS).toBeGreaterThanOrEqual(100 * MIB);
  });

  test('a pod member: what it and its waited-for children used', async () => {
    await using ns = await PidNamespace.create();
    const member = await ns.spawn('sh', ['-c', `sh -c '${BURN_300MS}'`]);
    const burnedTicks = Number((await readAll(member.stdout)).trim());
    const { usage } = await member.exited;
    expect(cpuTotal(usage)).toBeGreaterThanOrEqual(burnedTicks * TICK_US);
    expect(cpuTotal(usage)).toBeLessThan(burnedTicks * TICK_US + 300000);
  });
});
