// Every promise pidns makes about a command, against a command that attacks it, in every mode and
// as every identity the mode allows. The promises (SECURITY.md, "Threat model: hostile commands"):
//   (a) `exited` has the command's exact status; a forged report changes it only when the command
//       is root of the namespace;
//   (b) kill('SIGKILL'), `timeout` and `signal` end the namespace, and nothing of it outlives the
//       Node process that spawned it;
//   (c) Node's descriptors and event loop are not the command's to fill.
// The command is fixtures/hostile-attacker.c: a bounded fork bomb, setsid daemons deaf to SIGTERM
// and SIGHUP, stopped children, ptrace of pid 1 (also to make an init clear its parent-death
// signal), pidfd_getfd of pid 1's descriptors and forged reports through them, an output flood,
// closed and reopened stdio, a daemon holding stdout, a cleared parent-death signal. Each spawn
// runs in a Node process of its own (fixtures/hostile-runner.js), as root or as nobody, which can
// be SIGKILLed; what is left is read from /proc by this process, as root.
//
// Joined commands and pod members share a namespace that is not theirs: what they leave behind
// belongs to that namespace's pid 1 until it ends (README, "Lifetime"), and the tests say so in
// their titles. So do the cells where the kernel lets root inside defeat a promise.
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import { spawnInPidNamespace, type PidNamespaceChild } from '../lib';
import { eventually, HeldNamespace, ownDescriptorCount, running } from './kernel';
import { asNobody } from './public-install';
import { describeAsRoot } from './root';
import { buildFixture, fixture, removeBuiltFixture } from './subprocess';

jest.setTimeout(90_000);

const { ENOSYS, EPERM } = os.constants.errno;
/** What the command exits with, and what its forged reports claim. */
const CODE = 37;
const FORGED = 42;
const BOMB = 200;
const DAEMONS = 3;
const STOPPED = 3;
/** How long "within a few seconds" is: the kernel may take a while to kill a namespace of 200
 * processes on a loaded machine. */
const SETTLE_MS = 15000;
/** The longest the event loop may go without running a 1 ms interval during a flood. */
const MAX_LOOP_GAP_MS = 1000;

// ---------------------------------------------------------------------------------------------
// The matrix

type RunnerMode = 'raw' | 'init' | 'terminal' | 'join' | 'pod';

interface Cell {
  title: string;
  mode: RunnerMode;
  /** Who runs Node: root, or nobody (setpriv, every capability dropped). */
  node: 'root' | 'nobody';
  options: Record<string, unknown>;
  podOptions?: Record<string, unknown>;
  /** The command is root of the user namespace that owns its PID namespace. */
  rootInside: boolean;
}

/** The status comes from an init's report, which root inside can make lie; else from Node's own wait4. */
const reportedByInit = (c: Cell) => c.mode === 'init' || c.mode === 'terminal';
/** The namespace is the command's own: nothing of it may outlive the command's end. */
const ownNamespace = (c: Cell) => c.mode !== 'join' && c.mode !== 'pod';
/** Pid 1 is the command itself (it is its own tracer's target and its own forgery's). */
const commandIsPid1 = (c: Cell) => c.mode === 'raw';

const nobodyIds = { uid: 65534, gid: 65534 };
const withNobodyMapped = { uidMap: [{ containerId: 0, hostId: 0, size: 1 }, { containerId: 65534, hostId: 65534, size: 1 }], gidMap: [{ containerId: 0, hostId: 0, size: 1 }, { containerId: 65534, hostId: 65534, size: 1 }] };
// Node runs as 65534 here: the only id it may map is its own, and without a root inside the
// init shares the command's ids (lib/spawn.ts initIds).
const noRootInside = { uidMap: [{ containerId: 1000, hostId: 65534, size: 1 }], gidMap: [{ containerId: 1000, hostId: 65534, size: 1 }] };

// Modes x identities where the combination exists. Joining a namespace needs CAP_SYS_ADMIN over
// it, so Node as nobody joins only a pod of its own user namespace (the pod cell below); as
// nobody, a uid other than the one mapped to its own does not exist inside.
const CELLS: Cell[] = [
  { title: 'raw (init: false), root inside', mode: 'raw', node: 'root', options: {}, rootInside: true },
  { title: 'raw (init: false), uid 65534', mode: 'raw', node: 'root', options: nobodyIds, rootInside: false },
  { title: 'init, root inside', mode: 'init', node: 'root', options: {}, rootInside: true },
  { title: 'init, uid 65534', mode: 'init', node: 'root', options: nobodyIds, rootInside: false },
  { title: 'userNamespace, Node as root, root inside', mode: 'init', node: 'root', options: { userNamespace: true }, rootInside: true },
  { title: 'userNamespace, Node as root, uid 65534', mode: 'init', node: 'root', options: { userNamespace: withNobodyMapped, ...nobodyIds }, rootInside: false },
  { title: 'userNamespace, Node as nobody, root inside', mode: 'init', node: 'nobody', options: { userNamespace: true }, rootInside: true },
  { title: 'userNamespace, Node as nobody, uid 1000 with no root mapped', mode: 'init', node: 'nobody', options: { userNamespace: noRootInside }, rootInside: false },
  { title: 'userNamespace raw (init: false), Node as nobody, root inside', mode: 'raw', node: 'nobody', options: { userNamespace: true }, rootInside: true },
  { title: 'join by pid, root', mode: 'join', node: 'root', options: {}, rootInside: true },
  { title: 'join by pid, uid 65534', mode: 'join', node: 'root', options: nobodyIds, rootInside: false },
  { title: 'pod member, root', mode: 'pod', node: 'root', options: {}, rootInside: true },
  { title: 'pod member, uid 65534', mode: 'pod', node: 'root', options: nobodyIds, rootInside: false },
  { title: 'pod member of a userNamespace pod, Node as nobody, root inside', mode: 'pod', node: 'nobody', options: {}, podOptions: { userNamespace: true }, rootInside: true },
  { title: 'terminal, root inside', mode: 'terminal', node: 'root', options: {}, rootInside: true },
  { title: 'terminal, uid 65534', mode: 'terminal', node: 'root', options: nobodyIds, rootInside: false },
];

// ---------------------------------------------------------------------------------------------
// The Node process under attack

interface Ready {
  pid: number;
  bomb?: number;
  daemons?: number;
  holdStdout?: number;
  stopped?: number;
  stdio?: number;
  ptrace?: number;
  ptraceSelf?: boolean;
  forge?: { pidfdOpen: number; getfdErrno?: number; taken: number; asInit: number; plain: number; sendErrno?: number };
  spew?: number;
  pdeathsig?: { before: number; after: number; errno: number };
  disown?: number;
}
interface Started {
  pid: number;
  nsPid: number;
  namespaceId: number;
  init: { pid: number; nsPid: number } | null;
  pod: { id: number; initPid: number } | null;
  ready: Ready | null;
  readyAfterMs: number;
  exitedBeforeReady: boolean;
}
type Status = { code: number | null; signal: string | null };
interface Ended {
  killed: boolean | null;
  exited: Status | null;
  elapsedMs: number;
  ticks: number;
  maxGapMs: number;
  stdoutBytes: number;
  stderr: string;
}
interface Finished {
  closed: boolean;
  stdoutBytes: number;
  fdsBefore: number;
  fdsAfter: number;
}

type End = 'exit' | 'kill' | 'timeout' | 'abort' | 'abort-default' | 'none';

interface Plan {
  attacks: string[];
  ending: string;
  end: End;
  timeoutMs?: number;
}

let attacker: string;

class Runner {
  readonly process: ChildProcess;
  readonly exited: Promise<void>;
  #pending: ((message: Record<string, unknown>) => void)[] = [];
  #stderr = '';

  constructor(node: 'root' | 'nobody') {
    const command = node === 'nobody' ? asNobody(fixture('hostile-runner.js')) : [process.execPath, fixture('hostile-runner.js')];
    this.process = spawn(command[0], command.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => this.process.once('exit', () => resolve()));
    let buffered = '';
    this.process.stdout!.setEncoding('utf8');
    this.process.stdout!.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        this.#pending.shift()?.(JSON.parse(line) as Record<string, unknown>);
      }
    });
    this.process.stderr!.setEncoding('utf8');
    this.process.stderr!.on('data', (chunk: string) => (this.#stderr = (this.#stderr + chunk).slice(-4000)));
  }

  async #request<T>(message: object, key: string, timeoutMs = 60_000): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const answer = new Promise<Record<string, unknown>>((resolve, reject) => {
      this.#pending.push(resolve);
      timer = setTimeout(() => reject(new Error(`the runner did not answer ${JSON.stringify(message).slice(0, 200)} within ${timeoutMs} ms; stderr: ${this.#stderr}`)), timeoutMs);
      void this.exited.then(() => reject(new Error(`the runner exited; stderr: ${this.#stderr}`)));
    });
    this.process.stdin!.write(`${JSON.stringify(message)}\n`);
    try {
      const reply = await answer;
      if (reply.error) throw new Error(`the runner failed: ${JSON.stringify(reply.error)}; stderr: ${this.#stderr}`);
      return reply[key] as T;
    } finally {
      clearTimeout(timer);
    }
  }

  start(cell: Cell, plan: Plan, joinPid?: number): Promise<Started> {
    return this.#request({ op: 'start', plan: { attacker, mode: cell.mode, options: cell.options, podOptions: cell.podOptions, joinPid, ...plan } }, 'started');
  }

  end(waitMs?: number): Promise<Ended> {
    return this.#request({ op: 'end', waitMs }, 'ended');
  }

  kill(): Promise<{ delivered: boolean; exited: Status | null }> {
    return this.#request({ op: 'kill' }, 'killed');
  }

  finish(): Promise<Finished> {
    return this.#request({ op: 'finish' }, 'finished');
  }

  /** Node's death: SIGKILL, nothing runs after it. */
  async die(): Promise<void> {
    this.process.kill('SIGKILL');
    await this.exited;
  }

  async close(): Promise<void> {
    this.process.stdin!.end();
    const timer = setTimeout(() => this.process.kill('SIGKILL'), 20_000);
    await this.exited;
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// The kernel's side

/**
 * Processes of the scene's namespace that still run: not zombies, not exiting (see kernel.ts
 * running()). Through the namespace held since the scene began: by its inode number alone, once
 * the namespace has ended, the processes found would be those of the next namespace made (by the
 * test file running beside this one), and killAll() would kill them.
 */
function alive(namespace: HeldNamespace): number[] {
  return namespace.members().filter(running);
}

function describeProcesses(pids: number[]): string[] {
  return pids.slice(0, 8).map((pid) => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
      return `${pid} ${stat.slice(stat.indexOf('('), stat.lastIndexOf(')') + 3)}`;
    } catch {
      return `${pid} (gone)`;
    }
  });
}

/** Nothing of the namespace runs within a few seconds; else which processes, for the failure. */
async function expectNamespaceGone(namespace: HeldNamespace, what: string): Promise<void> {
  await eventually(() => alive(namespace).length === 0, SETTLE_MS);
  const left = alive(namespace);
  expect({ what, left: left.length, sample: describeProcesses(left) }).toEqual({ what, left: 0, sample: [] });
}

function killAll(namespace: HeldNamespace): void {
  for (const pid of alive(namespace)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

// ---------------------------------------------------------------------------------------------
// One scenario: start, end as the plan says, then look

/** The namespace a joined command enters: a pidns spawn of this process, under the init. */
async function joinTarget(cell: Cell): Promise<PidNamespaceChild | null> {
  if (cell.mode !== 'join') return null;
  return spawnInPidNamespace('sleep', ['1000'], { stdio: 'ignore' });
}

interface Scene {
  runner: Runner;
  target: PidNamespaceChild | null;
  started: Started;
  /** started.namespaceId, held until cleanUp() (or, in finishScene(), until found empty). */
  namespace: HeldNamespace;
  /** This process's descriptors before the join target was made. */
  ownFdsBefore: number;
}

async function begin(cell: Cell, plan: Plan): Promise<Scene> {
  const runner = new Runner(cell.node);
  const ownFdsBefore = ownDescriptorCount();
  let target: PidNamespaceChild | null = null;
  try {
    target = await joinTarget(cell);
    const started = await runner.start(cell, plan, target?.pid);
    const pid1 = target?.init?.pid ?? started.pod?.initPid ?? started.init?.pid;
    const namespace = new HeldNamespace(started.namespaceId, pid1 === undefined ? [started.pid] : [pid1, started.pid]);
    return { runner, target, started, namespace, ownFdsBefore };
  } catch (err) {
    await runner.die();
    if (target) {
      target.kill('SIGKILL');
      await target.exited;
    }
    throw err;
  }
}

/** Whatever a failed assertion left running is ended, so that the next test starts clean. */
async function cleanUp(scene: Scene): Promise<void> {
  const { runner, target, namespace } = scene;
  if (runner.process.exitCode === null && runner.process.signalCode === null) await runner.die();
  if (target && target.exitCode === null && target.signalCode === null) {
    target.kill('SIGKILL');
    await target.exited;
  }
  killAll(namespace);
  namespace.release();
}

/** Ends what a joined command or pod member left behind (the joined namespace, or the pod). */
async function endJoinedNamespace(scene: Scene): Promise<Status | null> {
  if (!scene.target) return null;
  scene.target.kill('SIGKILL');
  const status = await scene.target.exited;
  return { code: status.code, signal: status.signal };
}

/** The attacks of every ending test: each one in place before the end comes. */
const PERSISTENT = [`bomb:${BOMB}`, `daemons:${DAEMONS}`, 'hold-stdout', `stop-children:${STOPPED}`, 'stdio', 'ptrace'];

function expectAttacksInPlace(cell: Cell, started: Started, attacks: string[]): void {
  const ready = started.ready;
  expect({ exitedBeforeReady: started.exitedBeforeReady, reported: ready !== null }).toEqual({ exitedBeforeReady: false, reported: true });
  const keys: Record<string, keyof Ready> = { bomb: 'bomb', daemons: 'daemons', 'hold-stdout': 'holdStdout', 'stop-children': 'stopped', stdio: 'stdio' };
  const wanted: Record<string, unknown> = {};
  const got: Record<string, unknown> = {};
  for (const attack of attacks) {
    const [name, count] = attack.split(':');
    const key = keys[name];
    if (!key) continue;
    wanted[key] = name === 'hold-stdout' ? 1 : name === 'stdio' ? 3 : Number(count);
    got[key] = ready![key];
  }
  expect(got).toEqual(wanted);
  if (attacks.includes('ptrace')) {
    // Root of the namespace's user namespace has CAP_SYS_PTRACE there; another uid cannot attach
    // to the init, which keeps the caller's credentials and is not dumpable. Without the init pid 1
    // is the command itself, its tracer's own parent, which any uid may trace.
    const expected = cell.rootInside || commandIsPid1(cell) ? 0 : EPERM;
    expect({ ptrace: ready!.ptrace }).toEqual({ ptrace: expected });
  }
}

function expectExactStatus(ended: Ended, status: Status): void {
  expect({ exited: ended.exited }).toEqual({ exited: status });
}

async function expectDescriptorsBack(scene: Scene, finished: Finished): Promise<void> {
  expect({ node: 'the Node process that spawned the command', fds: finished.fdsAfter }).toEqual({ node: 'the Node process that spawned the command', fds: finished.fdsBefore });
  // A joined namespace's init reports to this process: what a joiner sends through it lands here.
  if (scene.target) {
    await eventually(() => ownDescriptorCount() <= scene.ownFdsBefore, SETTLE_MS);
    expect({ node: 'the Node process that owns the joined namespace', fds: ownDescriptorCount() }).toEqual({ node: 'the Node process that owns the joined namespace', fds: scene.ownFdsBefore });
  }
}

/**
 * After the command has ended: in a namespace of its own nothing may be left; in a joined one
 * what it left behind is still there (its pid 1's now) until that namespace ends.
 */
async function expectNothingLeft(cell: Cell, scene: Scene, leftBehind: number): Promise<void> {
  const ns = scene.namespace;
  if (ownNamespace(cell)) {
    await expectNamespaceGone(ns, `the namespace of a ${cell.mode} command`);
    return;
  }
  expect(running(scene.started.pid)).toBe(false);
  expect(alive(ns).length).toBeGreaterThanOrEqual(leftBehind);
}

/** Ends the joined namespace or the pod, then nothing is left and no descriptor stays. */
async function finishScene(cell: Cell, scene: Scene): Promise<{ finished: Finished; target: Status | null }> {
  const target = await endJoinedNamespace(scene);
  const finished = await scene.runner.finish();
  await expectNamespaceGone(scene.namespace, ownNamespace(cell) ? 'the namespace' : 'the joined namespace, once ended');
  // The hold is a descriptor of this process: let go of before they are counted.
  scene.namespace.release();
  await expectDescriptorsBack(scene, finished);
  return { finished, target };
}

// ---------------------------------------------------------------------------------------------

describeAsRoot('a hostile command in every mode, as every identity', () => {
  beforeAll(async () => {
    // Commands run as 65534, and as nobody's Node: the folder is one every user can enter.
    attacker = buildFixture('hostile-attacker');
    // What this process opens once and keeps on its first spawn is not a join target's to count.
    const first = await spawnInPidNamespace('/bin/true', [], { stdio: 'ignore' });
    await first.closed;
  });

  afterAll(() => removeBuiltFixture(attacker));

  describe.each(CELLS)('$title', (cell) => {
    const initLies = cell.rootInside && reportedByInit(cell);
    const leftBehindNote = ownNamespace(cell) ? '' : ` (what it left behind stays with the ${cell.mode === 'pod' ? "pod's" : "joined namespace's"} pid 1 until that ends, README "Lifetime")`;

    test(`(a) the exact status through a fork bomb of ${BOMB}, setsid daemons deaf to SIGTERM/SIGHUP, stopped children, reopened stdio and a daemon holding stdout${leftBehindNote}`, async () => {
      const attacks = [`bomb:${BOMB}`, `daemons:${DAEMONS}`, 'hold-stdout', `stop-children:${STOPPED}`, 'stdio'];
      const scene = await begin(cell, { attacks, ending: `exit:${CODE}`, end: 'exit' });
      try {
        expectAttacksInPlace(cell, scene.started, attacks);
        const ended = await scene.runner.end();
        expectExactStatus(ended, { code: CODE, signal: null });
        await expectNothingLeft(cell, scene, BOMB);
        await finishScene(cell, scene);
        await scene.runner.close();
      } finally {
        await cleanUp(scene);
      }
    });

    const forgeTitle = initLies
      ? `(a, c) root inside stops its init (ptrace) and forges reports naming pid 1 (SCM_CREDENTIALS): the forged status ${FORGED} is reported, as SECURITY.md says of root inside; the loop turns through the flood and no descriptor stays`
      : `(a, c) the exact status through ptrace of pid 1, reports forged through pid 1's descriptors and 8 MiB of output: the loop turns through the flood and no descriptor stays`;
    test(forgeTitle, async () => {
      const attacks = ['ptrace', 'forge:2000', `spew:${8 << 20}`];
      const scene = await begin(cell, { attacks, ending: `exit:${CODE}`, end: 'exit' });
      try {
        expectAttacksInPlace(cell, scene.started, attacks);
        const forge = scene.started.ready!.forge!;
        if (cell.rootInside && !commandIsPid1(cell)) {
          // pid 1 is an init of pidns (the command's, the joined namespace's, the pod's): its
          // control socket is taken, and root there may name pid 1 as the sender.
          expect({ taken: forge.taken, asInit: forge.asInit }).toEqual({ taken: 1, asInit: 2000 });
        } else if (!commandIsPid1(cell)) {
          expect({ getfd: forge.getfdErrno, taken: forge.taken }).toEqual({ getfd: EPERM, taken: 0 });
        }
        const ended = await scene.runner.end();
        expectExactStatus(ended, initLies ? { code: FORGED, signal: null } : { code: CODE, signal: null });
        expect({ ticked: ended.ticks > 0, loopStalledMs: ended.maxGapMs >= MAX_LOOP_GAP_MS ? ended.maxGapMs : false }).toEqual({ ticked: true, loopStalledMs: false });
        await expectNothingLeft(cell, scene, 1);
        const { finished, target } = await finishScene(cell, scene);
        expect({ outputRead: finished.stdoutBytes }).toEqual({ outputRead: 8 << 20 });
        if (cell.mode === 'join' && cell.rootInside) {
          // Joining as root gives a root process in the namespace (SECURITY.md, "Joining enters
          // only the PID namespace"): it stopped the joined namespace's init and spoke for it.
          expect({ joinedNamespaceStatus: target }).toEqual({ joinedNamespaceStatus: { code: FORGED, signal: null } });
        }
        await scene.runner.close();
      } finally {
        await cleanUp(scene);
      }
    });

    const endings: [string, End, string][] = [
      ["kill('SIGKILL')", 'kill', 'stay-deaf'],
      ['timeout (killSignal SIGKILL)', 'timeout', 'stay-deaf'],
      ['signal, an AbortSignal (killSignal SIGKILL)', 'abort', 'stay-deaf'],
    ];
    test.each(endings)(
      `(b) %s ends ${ownNamespace(cell) ? 'the namespace' : 'the command'} through a fork bomb, deaf daemons, stopped children, ptrace of pid 1 and a daemon holding stdout${leftBehindNote}`,
      async (_name, end, ending) => {
        const scene = await begin(cell, { attacks: PERSISTENT, ending, end, timeoutMs: 2500 });
        try {
          expectAttacksInPlace(cell, scene.started, PERSISTENT);
          const ended = await scene.runner.end();
          expectExactStatus(ended, { code: null, signal: 'SIGKILL' });
          await expectNothingLeft(cell, scene, BOMB);
          await finishScene(cell, scene);
          await scene.runner.close();
        } finally {
          await cleanUp(scene);
        }
      },
    );

    const termAttacks = [`bomb:50`, `daemons:${DAEMONS}`, `stop-children:${STOPPED}`];
    if (commandIsPid1(cell)) {
      test('(b) signal with the default killSignal (SIGTERM): the kernel drops it for pid 1, which has no handler (README), so the namespace stays until SIGKILL', async () => {
        const scene = await begin(cell, { attacks: termAttacks, ending: 'stay-stopped', end: 'abort-default' });
        try {
          expectAttacksInPlace(cell, scene.started, termAttacks);
          const ended = await scene.runner.end(1500);
          expect({ exited: ended.exited, running: running(scene.started.pid) }).toEqual({ exited: null, running: true });
          expect(await scene.runner.kill()).toEqual({ delivered: true, exited: { code: null, signal: 'SIGKILL' } });
          await expectNamespaceGone(scene.namespace, 'the namespace after SIGKILL');
          const finished = await scene.runner.finish();
          await expectDescriptorsBack(scene, finished);
          await scene.runner.close();
        } finally {
          await cleanUp(scene);
        }
      });
    } else {
      test(`(b) signal with the default killSignal (SIGTERM) ends a command that stopped itself, and its deaf descendants${leftBehindNote}`, async () => {
        const scene = await begin(cell, { attacks: termAttacks, ending: 'stay-stopped', end: 'abort-default' });
        try {
          expectAttacksInPlace(cell, scene.started, termAttacks);
          const ended = await scene.runner.end(SETTLE_MS);
          expectExactStatus(ended, { code: null, signal: 'SIGTERM' });
          await expectNothingLeft(cell, scene, 50);
          await finishScene(cell, scene);
          await scene.runner.close();
        } finally {
          await cleanUp(scene);
        }
      });
    }

    const deathScopes = cell.mode === 'join' ? 'the joined command' : cell.mode === 'pod' ? 'the pod' : 'the namespace';
    const deathNote = cell.mode === 'join' ? ' (what it left behind stays with the joined namespace, README "Lifetime")' : '';
    const nodeDies = async (attacks: string[], check: (scene: Scene) => void) => {
      const scene = await begin(cell, { attacks, ending: 'stay-deaf', end: 'none' });
      try {
        expectAttacksInPlace(cell, scene.started, attacks);
        check(scene);
        await scene.runner.die();
        const ns = scene.namespace;
        if (cell.mode === 'join') {
          await eventually(() => !running(scene.started.pid), SETTLE_MS);
          expect({ joinedCommandRunning: running(scene.started.pid) }).toEqual({ joinedCommandRunning: false });
          expect(alive(ns).length).toBeGreaterThanOrEqual(DAEMONS);
          await endJoinedNamespace(scene);
        }
        await expectNamespaceGone(ns, `${deathScopes} after Node's death`);
      } finally {
        await cleanUp(scene);
      }
    };

    test(`(b) Node's death (SIGKILL) ends ${deathScopes} through a fork bomb, deaf daemons, stopped children, ptrace of pid 1 and a daemon holding stdout${deathNote}`, async () => {
      await nodeDies(PERSISTENT, () => {});
    });

    // An init's two ties to Node are its control socket's end of file and its own parent-death
    // signal; a tracer that keeps it stopped and makes it clear the signal cuts both.
    if (cell.mode !== 'raw' && cell.mode !== 'join') {
      const injects = cell.rootInside && process.arch === 'x64';
      const disownTitle = injects
        ? `(b) root inside makes its ${cell.mode === 'pod' ? "pod's " : ''}init clear its parent-death signal (ptrace, an injected prctl) and keeps it stopped: ${deathScopes} outlives Node's death, as SECURITY.md says of root inside`
        : `(b) Node's death (SIGKILL) ends ${deathScopes} when the command tries to make its init clear its parent-death signal through ptrace`;
      test(disownTitle, async () => {
        const scene = await begin(cell, { attacks: ['disown-init'], ending: 'stay-deaf', end: 'none' });
        try {
          expect({ disown: scene.started.ready!.disown }).toEqual({ disown: injects ? 0 : cell.rootInside ? ENOSYS : EPERM });
          await scene.runner.die();
          const ns = scene.namespace;
          if (injects) {
            await new Promise((resolve) => setTimeout(resolve, 2000));
            expect({ outlivesNode: alive(ns).length > 0 }).toEqual({ outlivesNode: true });
            killAll(ns);
          }
          await expectNamespaceGone(ns, `${deathScopes} after Node's death`);
        } finally {
          await cleanUp(scene);
        }
      });
    }

    if (cell.mode === 'raw' || cell.mode === 'join') {
      // Raw and joined commands are tied to Node by PR_SET_PDEATHSIG alone, which the command may
      // clear for itself: README's Lifetime table and SECURITY.md say so.
      test(`(b) a ${cell.mode} command that clears its own parent-death signal outlives Node's death, as the README and SECURITY.md say`, async () => {
        const attacks = [`daemons:${DAEMONS}`, 'pdeathsig'];
        const scene = await begin(cell, { attacks, ending: 'stay-deaf', end: 'none' });
        try {
          expectAttacksInPlace(cell, scene.started, attacks);
          expect(scene.started.ready!.pdeathsig).toEqual({ before: 9, after: 0, errno: 0 });
          await scene.runner.die();
          // A parent-death signal is sent as the parent exits: a command still there a moment
          // later got none.
          await new Promise((resolve) => setTimeout(resolve, 500));
          expect({ commandRunning: running(scene.started.pid) }).toEqual({ commandRunning: true });
        } finally {
          await cleanUp(scene);
        }
      });
    } else {
      test(`(b) Node's death (SIGKILL) ends ${deathScopes} when the command has cleared its own parent-death signal${deathNote}`, async () => {
        await nodeDies([`daemons:${DAEMONS}`, 'pdeathsig'], () => {});
      });
    }
  });
});
