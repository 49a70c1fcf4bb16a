// dieWithParent, whenever the Node process dies: a process that spawns without pause is SIGKILLed
// at a random moment, many times per mode, and no command it started may be left running. A kill
// that lands between the clone and the child's PR_SET_PDEATHSIG is the case that matters: the
// signal would never be sent, so the child must notice on its own.
import { spawn } from 'child_process';
import * as fs from 'fs';
import { spawnInPidNamespace } from '../lib';
import { eventually, runningNamed, status } from './kernel';
import { describeAsRoot } from './root';
import { fixture } from './subprocess';

const ROUNDS = Number(process.env.PIDNS_STORM_ROUNDS ?? 12);

/** What can refuse a fork here: the machine's tasks against pid_max, zombies, our cgroups. */
function forkLimits(): string {
  const read = (file: string) => {
    try {
      return fs.readFileSync(file, 'latin1').trim();
    } catch (err) {
      return `(${(err as NodeJS.ErrnoException).code})`;
    }
  };
  const pids = fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  const zombies = pids.filter((pid) => {
    try {
      return status(Number(pid)).get('State')?.startsWith('Z');
    } catch {
      return false; // gone while we looked
    }
  }).length;
  return `loadavg ${read('/proc/loadavg')}, pid_max ${read('/proc/sys/kernel/pid_max')}, ${pids.length} processes (${zombies} zombies), cgroups ${read('/proc/self/cgroup').replace(/\n/g, ' ')}`;
}

/** Starts the storm, kills it after a random delay once spawns run, returns the survivors. */
async function stormRound(mode: string, name: string, holderPid: number): Promise<string[]> {
  let storm: ReturnType<typeof spawn>;
  let exited: Promise<unknown>;
  for (let attempt = 1; ; attempt++) {
    storm = spawn(process.execPath, [fixture('spawn-storm.js'), mode, name, String(holderPid)], { stdio: ['ignore', 'pipe', 'inherit'] });
    exited = new Promise((resolve) => storm.once('exit', resolve));
    const started = await new Promise<NodeJS.ErrnoException | null>((resolve, reject) => {
      storm.stdout!.once('data', () => resolve(null));
      storm.once('exit', (code) => reject(new Error(`spawn-storm.js ${mode} exited ${code} before it was ready`)));
      // Not started at all (no 'exit' follows).
      storm.once('error', (err) => resolve(err));
    });
    if (started === null) break;
    // This process's own fork of the storm refused (EAGAIN), not a spawn of the library's: tried
    // again twice, then reported with what limits a fork.
    if (started.code !== 'EAGAIN' || attempt === 3) throw new Error(`spawn-storm.js ${mode} did not start: ${started.message}; ${forkLimits()}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  await new Promise((r) => setTimeout(r, Math.random() * 150));
  storm.kill('SIGKILL');
  await exited;
  // A child that was between clone and exec when its parent died needs a moment to notice.
  // (Up to 15 s: on a loaded machine, a fork storm in another test file beside this one, the
  // kernel may take a while to kill a whole namespace.)
  await eventually(() => runningNamed(name).length === 0, 15000);
  // Described from /proc, so that a failure says what survived and where.
  const survivors = runningNamed(name).flatMap((pid) => {
    try {
      const s = status(pid);
      // Dead by now, only not reaped yet: its parent is the machine's pid 1, which reaps when it can.
      if (/^[ZX]/.test(s.get('State')!)) return [];
      return [`pid ${pid}: State ${s.get('State')}, PPid ${s.get('PPid')}, NSpid ${s.get('NSpid')}`];
    } catch {
      return []; // it was dying after all: gone between the two reads
    }
  });
  for (const pid of runningNamed(name)) process.kill(pid, 'SIGKILL');
  return survivors;
}

describeAsRoot('dieWithParent: nothing outlives a Node process killed in the middle of spawning', () => {
  jest.setTimeout(120000);
  // Every mode from the main thread and from a worker thread: the clone runs on the addon's
  // spawner thread either way, and the death signal follows that thread, which lives as long as
  // the process. A worker's modes run half as many rounds.
  const MODES = ['init', 'pod', 'raw', 'raw-mount', 'raw-user', 'raw-user-mount', 'join-pid', 'join-path', 'join-namespace'];
  test.each([...MODES, ...MODES.map((mode) => `worker-${mode}`)])(
    '%s: no survivors',
    async (mode) => {
      const rounds = mode.startsWith('worker-') ? Math.ceil(ROUNDS / 2) : ROUNDS;
      // The join modes enter a namespace whose pid 1 belongs to this process, not to the one killed.
      const holder = await spawnInPidNamespace('sleep', ['1000'], { init: false, stdio: 'ignore' });
      const survivors: string[] = [];
      try {
        for (let round = 0; round < rounds; round++) {
          survivors.push(...(await stormRound(mode, `pidns-storm-${mode}-${process.pid}-${round}`, holder.pid)));
        }
      } finally {
        holder.kill('SIGKILL');
        await holder.exited;
      }
      expect(survivors).toEqual([]);
    },
  );
});
