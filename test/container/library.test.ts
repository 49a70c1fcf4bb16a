// The library (spawnInPidNamespace, PidNamespace, `pidns run`) used by a Node process inside a
// Docker container: a default one (no --privileged, no --cap-add), one with --cap-add SYS_ADMIN,
// and a privileged one. The scenarios run in test/container/fixtures/library.js inside the
// container and report what the kernel shows there (/proc/PID/status, what is left in /proc);
// the test that kills Node reads /proc through docker exec.
//
// Run after `npm run build`, with a Docker daemon (scripts/docker-daemon.sh start):
//   npx jest --testPathIgnorePatterns /node_modules/ --runInBand test/container
import { Container, describeWithDocker, docker, eventually, privileged, run, start } from './docker';

const FIXTURE = '/pidns/test/container/fixtures/library.js';
const CLI = '/pidns/dist/cli.js';

interface Usage {
  userCPUTime: number;
  systemCPUTime: number;
  maxRSS: number;
}
interface Exited {
  code: number | null;
  signal: string | null;
  usage: Usage | null;
}
interface Failure {
  code: string;
  syscall: string;
  message: string;
}
type Attempt<T> = { ok: T; error?: undefined } | { ok?: undefined; error: Failure };
interface ChildInfo {
  pid: number;
  nsPid: number;
  pidNamespace: 'new' | 'joined' | 'caller';
  init: { pid: number; nsPid: number } | null;
}
type Status = Record<string, string>;
/** Every scenario reports the processes left in the container's /proc besides its Node process. */
interface Left {
  left: string[];
}
interface InNamespace {
  child: ChildInfo;
  NSpid: string;
  initNSpid: string;
  exited: Exited;
}
interface OwnProc {
  exited: Exited;
  stdout: string;
}

/** Runs a scenario of the fixture as the container's command (node is pid 1) and returns its RESULT. */
async function scenario<T>(name: string, dockerArgs: string[] = []): Promise<T & Left> {
  const r = await run(['node', FIXTURE, name], { dockerArgs });
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (r.status !== 0 || line === undefined) {
    throw new Error(`scenario ${name} (docker run ${dockerArgs.join(' ')}) exited ${r.status}:\n${r.stdout}${r.stderr}`);
  }
  return JSON.parse(line.slice('RESULT '.length)) as T & Left;
}

/** The refusal of a namespace in a container without CAP_SYS_ADMIN. */
const CLONE_EPERM = { code: 'EPERM', syscall: 'clone', message: expect.stringContaining('pass newNamespace: false') };

/** What the command of a mountProc spawn printed: /proc/self, pid 1's command line, the pids it lists. */
function expectOwnProc(result: OwnProc): void {
  expect(result.exited).toMatchObject({ code: 0, signal: null });
  const lines = Object.fromEntries(result.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)]));
  // The shell is pid 2 there, so its first command substitution is pid 3 (the container's own
  // /proc would show a pid above 10: node's threads take the low ones).
  expect(lines.self).toBe('3');
  expect(lines.pid1).toMatch(/^\/pidns\/build\/Release\/pidns-init /);
  expect(lines.pids).toMatch(/^1 2 /);
}

/** A new namespace: command pid 2 under the init, pid 1, as the container's /proc shows them. */
function expectNewNamespace(result: InNamespace): void {
  const { child } = result;
  expect(child).toMatchObject({ nsPid: 2, pidNamespace: 'new', init: { nsPid: 1 } });
  expect(result.NSpid).toBe(`${child.pid}\t2`);
  expect(result.initNSpid).toBe(`${child.init!.pid}\t1`);
  expect(result.exited).toMatchObject({ code: null, signal: 'SIGTERM' });
}

interface Namespaces {
  spawn: Attempt<InNamespace>;
  auto: Attempt<InNamespace>;
  userNamespace: Attempt<InNamespace>;
  mountProc: Attempt<OwnProc>;
  userNamespaceMountProc: Attempt<OwnProc>;
}
interface Pod {
  a: ChildInfo;
  aNSpid: string;
  initNSpid: string;
  b: ChildInfo;
  bExited: Exited;
  bStdout: string;
  aExited: Exited;
}

/** Two members of a pod with mountProc, as they and the container's /proc see them; then close(). */
function expectPod(pod: Pod): void {
  expect(pod.a).toMatchObject({ nsPid: 2, pidNamespace: 'joined', init: null });
  expect(pod.b).toMatchObject({ nsPid: 3, pidNamespace: 'joined', init: null });
  expect(pod.aNSpid).toBe(`${pod.a.pid}\t2`);
  expect(pod.initNSpid).toMatch(/^\d+\t1$/);
  // mountProc: the second member lists the pod's pids (1, 2, itself 3, its pipeline).
  expect(pod.bStdout).toMatch(/^1 2 3 /);
  expect(pod.bExited).toMatchObject({ code: 0, signal: null });
  // close(): SIGTERM to the members.
  expect(pod.aExited).toMatchObject({ code: null, signal: 'SIGTERM' });
}

describeWithDocker('the library inside a container', () => {
  describe('a default container (no --privileged, no --cap-add)', () => {
    interface Refused {
      spawn: Attempt<unknown>;
      userNamespace: Attempt<unknown>;
      mountProc: Attempt<unknown>;
      pod: Attempt<unknown>;
    }

    test.each([
      ['root', []],
      ['--user 65534:65534', ['--user', '65534:65534']],
    ])('as %s: a new namespace is refused with EPERM from clone, naming newNamespace: false; nothing is left', async (_, args) => {
      const r = await scenario<Refused>('refused', args);
      expect(r.spawn.error).toEqual(CLONE_EPERM);
      expect(r.userNamespace.error).toEqual(CLONE_EPERM);
      expect(r.mountProc.error).toEqual(CLONE_EPERM);
      expect(r.pod.error).toEqual(CLONE_EPERM);
      expect(r.left).toEqual([]);
    });

    test('pidns run -- true exits 125 with one line naming --no-new-namespace', async () => {
      const r = await run(['node', CLI, 'run', '--', 'true']);
      expect(r.status).toBe(125);
      expect(r.stdout).toBe('');
      expect(r.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/EPERM.*use pidns run --no-new-namespace/)]);
    });

    interface Orphans {
      child: ChildInfo;
      before: { node: Status; init: Status; command: Status; sleeps: Record<string, Status>; grandchildParent: Status };
      exited: Exited;
    }

    test.each([
      ['root', [], '0'],
      ['--user 65534:65534', ['--user', '65534:65534'], '65534'],
    ])('as %s, newNamespace false: a setsid child, an orphan and a grandchild run, and nothing is left after exited', async (_, args, uid) => {
      const r = await scenario<Orphans>('orphans', args);
      const { child, before } = r;
      expect(child.pidNamespace).toBe('caller');
      expect(child.nsPid).toBe(child.pid);
      expect(child.init!.nsPid).toBe(child.init!.pid);
      // One pid each: the container's namespace, no other below it. The init is Node's child and
      // the command the init's.
      expect(before.init).toMatchObject({ Name: 'pidns-init', PPid: before.node.Pid, NSpid: String(child.init!.pid) });
      expect(before.command).toMatchObject({ Name: 'sh', Pid: String(child.pid), PPid: String(child.init!.pid), NSpid: String(child.pid) });
      expect(before.command.Uid.split('\t')[0]).toBe(uid);
      const sleeps = before.sleeps;
      for (const s of Object.values(sleeps)) expect(s.State).toMatch(/^S/);
      // setsid: a session of its own.
      expect(sleeps['sleep 1000'].NSsid).toBe(sleeps['sleep 1000'].Pid);
      // The orphan: its parent (the subshell) exited, and it re-parented to the init, the subreaper.
      expect(sleeps['sleep 1001'].PPid).toBe(String(child.init!.pid));
      // The grandchild: its shell is the command's child.
      expect(before.grandchildParent).toMatchObject({ Name: 'sh', PPid: String(child.pid) });
      expect(r.exited).toMatchObject({ code: 0, signal: null });
      expect(r.left).toEqual([]);
    });

    interface Signals {
      termState: string;
      terminated: Exited;
      group: { exited: Exited; stdout: string };
      exit7: Exited;
      killed: Exited;
    }

    test('newNamespace false: kill() reaches the command, signalGroup a grandchild; exact statuses and usage', async () => {
      const r = await scenario<Signals>('signals');
      expect(r.termState).toMatch(/^S/);
      expect(r.terminated).toMatchObject({ code: null, signal: 'SIGTERM' });
      // The command ignores SIGTERM; its background shell, in its process group, got it.
      expect(r.group.stdout).toBe('ready\ngrandchild: TERM\ncommand: done\n');
      expect(r.group.exited).toMatchObject({ code: 0, signal: null });
      expect(r.exit7).toMatchObject({ code: 7, signal: null });
      expect(r.killed).toMatchObject({ code: null, signal: 'SIGKILL' });
      // A loop of 100000 iterations: CPU time and a resident set the kernel counted.
      const usage = r.exit7.usage!;
      expect(usage.userCPUTime + usage.systemCPUTime).toBeGreaterThan(0);
      expect(usage.maxRSS).toBeGreaterThan(0);
      for (const exited of [r.terminated, r.group.exited, r.killed]) expect(exited.usage!.maxRSS).toBeGreaterThan(0);
      expect(r.left).toEqual([]);
    });

    test("newNamespace 'auto' runs the command in the container's namespace: pidNamespace 'caller'", async () => {
      const r = await scenario<{ child: ChildInfo; NSpid: string; initNSpid: string; exited: Exited }>('auto');
      expect(r.child).toMatchObject({ pidNamespace: 'caller', nsPid: r.child.pid, init: { nsPid: r.child.init!.pid } });
      expect(r.NSpid).toBe(String(r.child.pid));
      expect(r.initNSpid).toBe(String(r.child.init!.pid));
      expect(r.exited).toMatchObject({ code: null, signal: 'SIGKILL' });
      expect(r.left).toEqual([]);
    });

    test.each(['--no-new-namespace', '--auto-namespace'])("pidns run %s: the command's exit code, and the spawn event says pidNamespace caller", async (flag) => {
      const plain = await run(['node', CLI, 'run', flag, '--', 'sh', '-c', 'exit 7']);
      expect({ status: plain.status, stderr: plain.stderr }).toEqual({ status: 7, stderr: '' });
      // Descriptor 3 is the container's stdout.
      const withStatus = await run(['sh', '-c', `node ${CLI} run --status-fd 3 ${flag} -- sh -c 'exit 7' 3>&1`]);
      expect(withStatus.status).toBe(7);
      const events = withStatus.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(events.map((e) => e.event)).toEqual(['spawn', 'exit']);
      expect(events[0]).toMatchObject({ pidNamespace: 'caller' });
      expect(events[0].nsPid).toBe(events[0].pid);
      expect(events[1]).toMatchObject({ code: 7, signal: null });
    });

    describe('Node killed with SIGKILL', () => {
      let c: Container | undefined;
      afterEach(async () => {
        await c?.remove();
        c = undefined;
      });

      test('newNamespace false: the init kills the whole tree (setsid, orphan, grandchild) and exits', async () => {
        // docker-init (tini) is pid 1 and keeps the container up; Node comes in through docker exec.
        c = await start(['sleep', 'infinity'], { dockerArgs: ['--init'] });
        const exec = await docker(['exec', '-d', c.name, 'node', FIXTURE, 'tree']);
        expect(exec.status).toBe(0);
        const container = c;
        const tree = await eventually('the tree running', async () => {
          const r = await container.exec(['cat', '/tmp/tree.json']);
          return r.status === 0 && (JSON.parse(r.stdout) as { node: number; init: number; command: number; tree: number[] });
        });
        expect((await c.status(tree.node))?.Name).toBe('node');
        expect((await c.status(tree.init))?.PPid).toBe(String(tree.node));
        for (const pid of tree.tree) expect((await c.status(pid))?.State).toMatch(/^S/);

        const kill = await c.exec(['kill', '-KILL', String(tree.node)]);
        expect(kill.status).toBe(0);
        const started = Date.now();
        await eventually('node and the whole tree gone', async () => {
          for (const pid of [tree.node, ...tree.tree]) if ((await container.status(pid)) !== undefined) return false;
          return true;
        }, 5000);
        console.log(`Node killed in a default container: the tree was gone within ${Date.now() - started} ms`);
        // What is left: docker-init, sleep infinity, and the shell that lists them.
        const left = (await c.processes()).map((p) => p.Cmdline);
        expect(left.filter((cmd) => !/^(\/sbin\/docker-init -- sleep infinity|sleep infinity|sh -c .*)$/.test(cmd))).toEqual([]);
      });
    });
  });

  describe('--cap-add SYS_ADMIN', () => {
    const args = ['--cap-add', 'SYS_ADMIN'];

    let namespaces: Namespaces & Left;

    beforeAll(async () => {
      namespaces = await scenario<Namespaces>('namespaces', args);
    }, 30000);

    test('the default spawn makes a new namespace: command nsPid 2, init nsPid 1', () => {
      expectNewNamespace(namespaces.spawn.ok!);
      expect(namespaces.left).toEqual([]);
    });

    test("newNamespace 'auto' gives pidNamespace 'new'", () => {
      expectNewNamespace(namespaces.auto.ok!);
    });

    test('userNamespace: true works too', () => {
      expectNewNamespace(namespaces.userNamespace.ok!);
    });

    test('mountProc works: the command sees a /proc of its own namespace', () => {
      expectOwnProc(namespaces.mountProc.ok!);
    });

    test('mountProc with userNamespace is refused: EPERM from mount (Docker masks /proc paths)', () => {
      expect(namespaces.userNamespaceMountProc.error).toEqual({ code: 'EPERM', syscall: 'mount', message: expect.stringContaining('systempaths=unconfined') });
    });

    // The pod's pid 1, the init, is not dumpable: opening its namespace files to join needs
    // CAP_SYS_PTRACE, which Docker does not grant by default. The pod has mountProc, so its own
    // mount namespace, which members enter first.
    test('a pod: PidNamespace.create() works, but ns.spawn() is refused with EACCES opening its namespace file', async () => {
      const r = await scenario<Attempt<Pod>>('pod', args);
      expect(r.error).toEqual({ code: 'EACCES', syscall: 'open', message: expect.stringMatching(/join \/proc\/\d+\/ns\/mnt EACCES: .*not dumpable/) });
      expect(r.left).toEqual([]);
    });

    test('a pod with --cap-add SYS_PTRACE as well: members join it', async () => {
      const r = await scenario<Attempt<Pod>>('pod', [...args, '--cap-add', 'SYS_PTRACE']);
      expectPod(r.ok!);
      expect(r.left).toEqual([]);
    });
  });

  describe('--privileged', () => {
    let privArgs: string[];
    beforeAll(async () => {
      const p = await privileged();
      if (p.substitute) console.log(p.substitute);
      privArgs = p.args;
    }, 30000);

    test('the default spawn, userNamespace, and mountProc (with and without userNamespace) work', async () => {
      const r = await scenario<Namespaces>('namespaces', privArgs);
      expectNewNamespace(r.spawn.ok!);
      expectNewNamespace(r.auto.ok!);
      expectNewNamespace(r.userNamespace.ok!);
      expectOwnProc(r.mountProc.ok!);
      expectOwnProc(r.userNamespaceMountProc.ok!);
      expect(r.left).toEqual([]);
    });

    test('a pod: PidNamespace.create({ mountProc: true }) and ns.spawn() work', async () => {
      const r = await scenario<Attempt<Pod>>('pod', privArgs);
      expectPod(r.ok!);
      expect(r.left).toEqual([]);
    });
  });
});
