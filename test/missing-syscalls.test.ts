// Old kernels and container profiles: the library run under a seccomp filter
// (fixtures/seccomp-exec.c) that refuses the newer system calls, with ENOSYS as a kernel from
// before them does, or with EPERM as a container profile written before them does. The filter
// is inherited, so the init and the commands see the same kernel as Node.
//
// Each scenario runs fixtures/missing-syscalls-report.js under the filter. It goes through raw and
// init spawns, the init without a new namespace (newNamespace false), kill, timeout, join, a join
// at a chosen pid (nsPid, which needs clone3), a pid_max of its own (pidMax), the other
// namespaces (namespaces, hostname, timeOffsets), a pod,
// a user namespace, a private /proc, a cgroup and a terminal, gives every step a deadline of its own, and reports what the API said beside what
// /proc showed. Each feature must either work, with the same results as on a full kernel, or
// reject with a coded error whose message names the call that is missing; nothing may hang,
// crash, or leave a descriptor or a child behind.
//
// Last, pidfd_open failing for the children only (fixtures/pidfd-open-fails-report.js): the
// library has pidfds, but not for the processes it opens them for after the clone.
import { spawnSync, type SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describeAsRoot } from './root';
import { buildFixture, fixture, removeBuiltFixture } from './subprocess';

const CALLS = ['close_range', 'pidfd_open', 'pidfd_send_signal', 'pidfd_getfd', 'clone3'] as const;
type Call = (typeof CALLS)[number];
type Refusals = Partial<Record<Call, 'ENOSYS' | 'EPERM'>>;

interface Scenario {
  name: string;
  refusals: Refusals;
  /**
   * The descriptor the fixture holds without close-on-exec, which no command may inherit. Above
   * 15, which Node marks close-on-exec itself at start: only the library keeps it from children.
   */
  inheritedFd: number;
  /** RLIMIT_NOFILE (soft and hard) for the fixture, when it must differ from ours. */
  nofile?: number;
}

const FIXTURE_TIMEOUT_MS = 90000;

const allEnosys: Refusals = { close_range: 'ENOSYS', pidfd_open: 'ENOSYS', pidfd_send_signal: 'ENOSYS', pidfd_getfd: 'ENOSYS', clone3: 'ENOSYS' };
const scenarios: Scenario[] = [
  // The loader with nothing to refuse: the fixture's own check against a full kernel.
  { name: 'nothing refused (a full kernel)', refusals: {}, inheritedFd: 40 },
  { name: 'old kernel: close_range, pidfd_open, pidfd_send_signal, pidfd_getfd and clone3 ENOSYS', refusals: allEnosys, inheritedFd: 40 },
  {
    name: 'container profile older than pidfds: pidfd_* EPERM, clone3 and close_range ENOSYS',
    refusals: { pidfd_open: 'EPERM', pidfd_send_signal: 'EPERM', pidfd_getfd: 'EPERM', clone3: 'ENOSYS', close_range: 'ENOSYS' },
    inheritedFd: 40,
  },
  { name: 'close_range alone (ENOSYS)', refusals: { close_range: 'ENOSYS' }, inheritedFd: 40 },
  // A descriptor can be open above the limit (inherited from a process with a higher one): a
  // replacement for close_range that counts up to the limit misses it.
  { name: 'close_range alone (ENOSYS), a descriptor open above RLIMIT_NOFILE', refusals: { close_range: 'ENOSYS' }, inheritedFd: 1500, nofile: 1024 },
  { name: 'pidfd_send_signal alone (EPERM)', refusals: { pidfd_send_signal: 'EPERM' }, inheritedFd: 40 },
  { name: 'pidfd_send_signal alone (ENOSYS)', refusals: { pidfd_send_signal: 'ENOSYS' }, inheritedFd: 40 },
  { name: 'clone3 alone (ENOSYS)', refusals: { clone3: 'ENOSYS' }, inheritedFd: 40 },
];

interface Step {
  outcome: 'ok' | 'rejected' | 'hang';
  error?: { name?: string; code?: unknown; message?: string; syscall?: string };
  [key: string]: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

interface Report {
  seccomp: string;
  pidfdMode: boolean;
  inherited: { fd: number; target: string | null; closeOnExec?: boolean } | null;
  openFilesLimit: [number, number];
  steps: Record<string, Step>;
  before: { fds: string[]; children: number[] };
  after: { fds: string[]; children: number[] };
  childErrors: unknown[];
  endedByFixture: number[];
}

let loader: string;

function loaderArgs(refusals: Refusals): string[] {
  return Object.entries(refusals).flatMap(([call, errno]) => [errno === 'EPERM' ? '--eperm' : '--enosys', call]);
}

/** What a message must name when a feature is refused: one of the calls this scenario takes away. */
function namingMissing(refusals: Refusals): RegExp {
  const names = Object.keys(refusals);
  return names.length ? new RegExp(`\\b(${names.join('|')})\\b`) : /(?!)/;
}

function runScenario(scenario: Scenario): { run: SpawnSyncReturns<string>; report: Report | null } {
  // A socket the child_process machinery leaves without close-on-exec at inheritedFd.
  const stdio = ['ignore', 'pipe', 'pipe', ...Array(scenario.inheritedFd - 3).fill('ignore'), 'pipe'];
  const command = [loader, ...loaderArgs(scenario.refusals), '--', process.execPath, fixture('missing-syscalls-report.js'), String(scenario.inheritedFd)];
  if (scenario.nofile) command.unshift('prlimit', `--nofile=${scenario.nofile}:${scenario.nofile}`, '--');
  const run = spawnSync(command[0], command.slice(1), {
    encoding: 'utf8',
    stdio: stdio as ('ignore' | 'pipe')[],
    timeout: FIXTURE_TIMEOUT_MS,
    killSignal: 'SIGKILL',
  });
  let report: Report | null = null;
  try {
    report = JSON.parse(run.stdout.split('\n')[0]) as Report;
  } catch {
    // no report: the checks below show the exit status and stderr
  }
  return { run, report };
}

/** A step of the fixture's report, shown whole (how far it got) when it did not settle as allowed. */
function settledStep(report: Report, name: string, allowed: Step['outcome'][]): Step {
  const step = report.steps[name];
  expect({ step: name, ...step }).toEqual(expect.objectContaining({ outcome: expect.stringMatching(new RegExp(`^(${allowed.join('|')})$`)) }));
  return step;
}

const SIGTERMED = { code: null, signal: 'SIGTERM' };
const SIGKILLED = { code: null, signal: 'SIGKILL' };

/** A command's pids, as the API gave them, against its NSpid line and /proc/PID/ns/pid. */
function expectPidsAgree(child: Step, nsPid: number): void {
  expect(child.api.nsPid).toBe(nsPid);
  expect(child.kernel.nspid[0]).toBe(child.api.pid);
  expect(child.kernel.nspid[child.kernel.nspid.length - 1]).toBe(nsPid);
  expect(child.kernel.pidNamespace).toBe(child.api.namespaceId);
  // The inherited descriptor and whatever else Node holds did not reach the command.
  expect(child.fds).toEqual(expect.arrayContaining([expect.stringMatching(/^0 -> /), expect.stringMatching(/^1 -> /), expect.stringMatching(/^2 -> /)]));
  expect(child.inheritedFromUs).toEqual([]);
}

describeAsRoot('missing system calls: old kernels and container profiles (a seccomp filter)', () => {
  beforeAll(() => {
    loader = buildFixture('seccomp-exec');
  });

  afterAll(() => removeBuiltFixture(loader));

  describe('the loader', () => {
    // Each call made so that a full kernel answers it differently from the filter.
    const probe = [
      'import ctypes, json, os',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'def call(nr, *args):',
      '    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])',
      '    return r if r >= 0 else -ctypes.get_errno()',
      'print(json.dumps({',
      "    'pidfd_send_signal': call(424, -1, 0, 0, 0),",
      "    'pidfd_open': call(434, os.getpid(), 0),",
      "    'clone3': call(435, 0, 0),",
      "    'close_range': call(436, 3, 2, 0),",
      "    'pidfd_getfd': call(438, -1, 0, 0),",
      "    'pidfd_open_x32': call(0x40000000 | 434, os.getpid(), 0) if os.uname().machine == 'x86_64' else None,",
      '}))',
    ].join('\n');
    const probeUnder = (args: string[]) => {
      const run = spawnSync(loader, [...args, '--', 'python3', '-c', probe], { encoding: 'utf8' });
      expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
      return JSON.parse(run.stdout) as Record<string, number | null>;
    };
    const { EPERM, ENOSYS, EBADF, EINVAL } = os.constants.errno;

    test('refuses exactly the calls it is told, with the errno it is told', () => {
      const full = probeUnder([]);
      expect(full).toMatchObject({ pidfd_send_signal: -EBADF, clone3: -EINVAL, close_range: -EINVAL, pidfd_getfd: -EBADF });
      expect(full.pidfd_open).toBeGreaterThanOrEqual(0);

      expect(probeUnder(loaderArgs(allEnosys))).toMatchObject({ pidfd_send_signal: -ENOSYS, pidfd_open: -ENOSYS, clone3: -ENOSYS, close_range: -ENOSYS, pidfd_getfd: -ENOSYS });
      const profile = probeUnder(['--eperm', 'pidfd_open', '--eperm', 'pidfd_getfd', '--enosys', 'close_range']);
      expect(profile).toMatchObject({ pidfd_send_signal: -EBADF, pidfd_open: -EPERM, clone3: -EINVAL, close_range: -ENOSYS, pidfd_getfd: -EPERM });
    });

    test('a refused call cannot be reached through the x32 entry point', () => {
      if (os.arch() !== 'x64') return;
      // Without the filter the x32 number is ENOSYS (no x32 support) or a pidfd; never EPERM.
      expect(probeUnder([]).pidfd_open_x32).not.toBe(-EPERM);
      expect(probeUnder(['--eperm', 'pidfd_open']).pidfd_open_x32).toBe(-EPERM);
    });

    test('refuses bad usage with status 2 and runs nothing', () => {
      const usage = (args: string[]) => spawnSync(loader, [...args, '--', 'sh', '-c', 'echo ran'], { encoding: 'utf8' });
      // glibc's pthread_create falls back to clone on ENOSYS only: EPERM would break every thread.
      expect(usage(['--eperm', 'clone3'])).toMatchObject({ status: 2, stdout: '', stderr: expect.stringMatching(/^seccomp-exec: clone3 can only be refused with ENOSYS/) });
      expect(usage(['--enosys', 'fork'])).toMatchObject({ status: 2, stdout: '', stderr: expect.stringMatching(/^seccomp-exec: unknown system call name/) });
      expect(usage(['--enosys', 'close_range', '--eperm', 'close_range'])).toMatchObject({ status: 2, stdout: '' });
      expect(usage(['--enosys'])).toMatchObject({ status: 2, stdout: '' });
      expect(spawnSync(loader, ['--enosys', 'clone3'], { encoding: 'utf8' })).toMatchObject({ status: 2, stderr: expect.stringMatching(/no program given/) });
    });

    test('--fail-other-pids: pidfd_open fails for every pid but the loader\'s own, in every process under it', () => {
      const othersProbe = [
        'import ctypes, json, os, sys',
        'libc = ctypes.CDLL(None, use_errno=True)',
        'def call(nr, *args):',
        '    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])',
        '    return r if r >= 0 else -ctypes.get_errno()',
        'result = {',
        "    'own': call(434, os.getpid(), 0),",
        "    'parent': call(434, os.getppid(), 0),",
        // The kernel reads an int: the high half does not make it another pid.
        "    'ownHighBitsSet': call(434, (1 << 32) | os.getpid(), 0),",
        "    'parentX32': call(0x40000000 | 434, os.getppid(), 0) if os.uname().machine == 'x86_64' else None,",
        "    'closeRange': call(436, 3, 2, 0),",
        '}',
        'r, w = os.pipe()',
        'pid = os.fork()',
        'if pid == 0:',
        '    os.write(w, json.dumps({"childOwn": call(434, os.getpid(), 0), "childParent": call(434, os.getppid(), 0)}).encode())',
        '    os._exit(0)',
        'os.close(w)',
        'os.waitpid(pid, 0)',
        'result.update(json.loads(os.read(r, 4096)))',
        'print(json.dumps(result))',
      ].join('\n');
      const run = spawnSync(loader, ['--fail-other-pids', 'pidfd_open=EMFILE', '--enosys', 'close_range', '--', 'python3', '-c', othersProbe], { encoding: 'utf8' });
      expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
      const { EMFILE } = os.constants.errno;
      const result = JSON.parse(run.stdout) as Record<string, number | null>;
      expect(result).toMatchObject({ parent: -EMFILE, closeRange: -ENOSYS, childOwn: -EMFILE });
      expect(result.own).toBeGreaterThanOrEqual(0);
      expect(result.ownHighBitsSet).toBeGreaterThanOrEqual(0);
      // The loader's own pid is the parent of the forked child.
      expect(result.childParent).toBeGreaterThanOrEqual(0);
      if (os.arch() === 'x64') expect(result.parentX32).toBe(-EMFILE);

      const usage = (args: string[]) => spawnSync(loader, [...args, '--', 'sh', '-c', 'echo ran'], { encoding: 'utf8' });
      expect(usage(['--fail-other-pids', 'close_range=EMFILE'])).toMatchObject({ status: 2, stdout: '', stderr: expect.stringMatching(/^seccomp-exec: --fail-other-pids applies to pidfd_open only/) });
      expect(usage(['--fail-other-pids', 'pidfd_open=EBADF'])).toMatchObject({ status: 2, stdout: '' });
      expect(usage(['--fail-other-pids', 'pidfd_open'])).toMatchObject({ status: 2, stdout: '' });
      expect(usage(['--fail-other-pids', 'pidfd_open=EMFILE', '--enosys', 'pidfd_open'])).toMatchObject({ status: 2, stdout: '', stderr: expect.stringMatching(/refused both ways/) });
      expect(usage(['--eperm', 'pidfd_open', '--fail-other-pids', 'pidfd_open=ENOMEM'])).toMatchObject({ status: 2, stdout: '', stderr: expect.stringMatching(/refused both ways/) });
      expect(usage(['--fail-other-pids', 'pidfd_open=ENOMEM'])).toMatchObject({ status: 0, stdout: 'ran\n' });
    });
  });

  let baseline: Report | null = null;

  describe.each(scenarios)('$name', (scenario) => {
    const { refusals } = scenario;
    const filtered = Object.keys(refusals).length > 0;
    let run: SpawnSyncReturns<string>;
    let report: Report;

    beforeAll(() => {
      const result = runScenario(scenario);
      run = result.run;
      report = result.report!;
      if (!filtered) baseline = result.report;
    }, FIXTURE_TIMEOUT_MS + 10000);

    /**
     * A feature that may be refused under the filter, but only with a coded error naming what is
     * missing. With machineMayLack, a refusal the full kernel gave too (the cgroup hierarchy is
     * not writable here, say) is this machine's, not the filter's: the same code is fine.
     */
    function expectWorksOrNamesMissing(name: string, check: (step: Step) => void, machineMayLack = false): void {
      const step = settledStep(report, name, ['ok', 'rejected']);
      if (step.outcome === 'ok') {
        check(step);
        return;
      }
      expect(step.error).toMatchObject({ code: expect.any(String), message: expect.any(String) });
      const full = baseline?.steps[name];
      if (machineMayLack && full?.outcome === 'rejected' && full.error!.code === step.error!.code) return;
      expect(step.error).toMatchObject({ message: expect.stringMatching(namingMissing(refusals)) });
    }

    test('the fixture ran under the filter, ended by itself (no crash, no hang) and reported', () => {
      expect({ status: run.status, signal: run.signal, error: run.error?.message, stderr: run.stderr }).toMatchObject({ status: 0, signal: null, error: undefined });
      expect(report).toMatchObject({ seccomp: '2' });
      // The check of the inherited descriptor below means something only if it was there to leak.
      expect(report.inherited).toMatchObject({ fd: scenario.inheritedFd, target: expect.stringMatching(/^socket:/), closeOnExec: false });
      if (scenario.nofile) expect(report.openFilesLimit).toEqual([scenario.nofile, scenario.nofile]);
    });

    test.each([
      ['raw', 1],
      ['init', 2],
    ] as const)('%s mode: exit status, kill, timeout, and nsPid as in NSpid', (mode, nsPid) => {
      const exit7 = settledStep(report, `${mode}.exit7`, ['ok']);
      expect(exit7.nsPid).toBe(nsPid);
      expect(exit7.exited).toMatchObject({ code: 7, signal: null });

      const kill = settledStep(report, `${mode}.kill`, ['ok']);
      expectPidsAgree(kill, nsPid);
      expect(kill.kernel.pidNamespace).not.toBe(kill.selfPidNamespace);
      if (mode === 'raw') {
        expect(kill.api.init).toBeNull();
        // pid 1 has no default action for SIGTERM; kill() still reports the signal as sent.
        expect(kill).toMatchObject({ sigtermReturned: true, runningAfterSigterm: true, sigkillReturned: true });
        expect(kill.exited).toMatchObject(SIGKILLED);
      } else {
        expect(kill.api.init.nsPid).toBe(1);
        expect(kill.initKernel.nspid[0]).toBe(kill.api.init.pid);
        expect(kill.initKernel.nspid[kill.initKernel.nspid.length - 1]).toBe(1);
        expect(kill.initKernel.pidNamespace).toBe(kill.api.namespaceId);
        expect(kill.kernel.ppid).toBe(kill.api.init.pid);
        expect(kill.initInheritedFromUs).toEqual([]);
        expect(kill.sigtermReturned).toBe(true);
        expect(kill.exited).toMatchObject(SIGTERMED);
        expect(kill.initAfterExit).toEqual({ gone: true });
      }

      const timeout = settledStep(report, `${mode}.timeout`, ['ok']);
      expect(timeout.exited).toMatchObject({ code: null, signal: timeout.killSignal });
      expect(timeout.elapsedMs).toBeGreaterThanOrEqual(200);
      expect(timeout.elapsedMs).toBeLessThan(2000);
    });

    test('noNs mode (newNamespace false): exit status, kill, timeout, pids of our own namespace, and what the command left is gone once exited has come', () => {
      const exit7 = settledStep(report, 'noNs.exit7', ['ok']);
      expect(exit7.nsPid).toBe(exit7.pid);
      expect(exit7.exited).toMatchObject({ code: 7, signal: null });

      const kill = settledStep(report, 'noNs.kill', ['ok']);
      expectPidsAgree(kill, kill.api.pid);
      expect(kill.api.pidNamespace).toBe('caller');
      expect(kill.kernel.pidNamespace).toBe(kill.selfPidNamespace);
      expect(kill.kernel.nspid).toHaveLength(kill.selfNsPid.length);
      const initPid = kill.api.init.pid;
      expect(kill.api.init).toEqual({ pid: initPid, nsPid: initPid });
      expect(kill.initKernel.pidNamespace).toBe(kill.selfPidNamespace);
      expect(kill.initKernel.nspid).toHaveLength(kill.selfNsPid.length);
      expect(kill.initKernel.nspid[0]).toBe(initPid);
      expect(kill.kernel.ppid).toBe(initPid);
      // Nor did the init get what Node holds without close-on-exec.
      expect(kill.initInheritedFromUs).toEqual([]);
      expect(kill.sigtermReturned).toBe(true);
      expect(kill.exited).toMatchObject(SIGTERMED);
      expect(kill.initAfterExit).toEqual({ gone: true });

      const timeout = settledStep(report, 'noNs.timeout', ['ok']);
      expect(timeout.exited).toMatchObject({ code: null, signal: timeout.killSignal });
      expect(timeout.elapsedMs).toBeGreaterThanOrEqual(200);
      expect(timeout.elapsedMs).toBeLessThan(2000);

      // A background child of the command and an orphan the init took: running, then gone.
      const tree = settledStep(report, 'noNs.tree', ['ok']);
      expect(tree.left).toHaveLength(2);
      expect(tree.leftRunning).toEqual([true, true]);
      expect(tree.leftParents).toEqual([tree.pid, tree.initPid]);
      expect(tree.exited).toMatchObject({ code: 3, signal: null });
      expect(tree.leftAfterExit).toEqual([{ gone: true }, { gone: true }]);
      expect(tree.initAfterExit).toEqual({ gone: true });
    });

    test('join: the joiner is nsPid 3 of the host namespace, and both end by SIGTERM', () => {
      expectWorksOrNamesMissing('join', (step) => {
        expectPidsAgree(step.host, 2);
        expectPidsAgree(step.joiner, 3);
        expect(step.joiner.kernel.pidNamespace).toBe(step.host.api.namespaceId);
        expect(step).toMatchObject({ joinerKillReturned: true, joinerExited: SIGTERMED, hostKillReturned: true, hostExited: SIGTERMED });
      });
    });

    test('nsPid: the joiner takes the pid asked for; without clone3, ENOSYS naming it and nothing started', () => {
      const step = settledStep(report, 'nsPid', ['ok', 'rejected']);
      // The init and the command: a refused joiner left nothing in the namespace.
      expect(step.membersAfter).toBe(2);
      if (refusals.clone3) {
        expect(step.outcome).toBe('rejected');
        expect(step.error).toMatchObject({ code: 'ENOSYS', syscall: 'clone3', message: expect.stringMatching(/nsPid\) needs clone3/) });
        expect(step.joiner).toBeUndefined();
        return;
      }
      expect(step.outcome).toBe('ok');
      expectPidsAgree(step.joiner, 50);
      expect(step.joiner.kernel.pidNamespace).toBe(step.host.api.namespaceId);
      expect(step.joinerExited).toMatchObject(SIGKILLED);
    });

    test('pidMax: the command reads the value inside, whatever is refused', () => {
      const step = settledStep(report, 'pidMax', ['ok']);
      expect(step).toMatchObject({ read: '555', exited: { code: 0, signal: null } });
    });

    test('namespaces: every kind, a host name, time offsets and lo up, whatever is refused', () => {
      const step = settledStep(report, 'namespaces', ['ok']);
      expect(step).toMatchObject({ hostname: 'filtered', offsets: ['monotonic 0 0', 'boottime 7 0'], interfaces: ['lo'], exited: { code: 0, signal: null } });
      if (fs.existsSync('/proc/net/if_inet6')) expect(step.loopbackAddress).toBe(true);
    });

    test('pod: create, a member as nsPid 2, close ends it by SIGTERM and leaves nothing', () => {
      expectWorksOrNamesMissing('pod', (step) => {
        expect(step.init.nsPid).toBe(1);
        expect(step.initKernel.nspid[step.initKernel.nspid.length - 1]).toBe(1);
        expect(step.initKernel.pidNamespace).toBe(step.id);
        expectPidsAgree(step.member, 2);
        expect(step.member.kernel.pidNamespace).toBe(step.id);
        expect(step.memberExited).toMatchObject(SIGTERMED);
        expect(step.initAfterClose).toEqual({ gone: true });
        expect(step.processesAfterClose).toBe(0);
      });
    });

    test('userNamespace: the command runs in a user namespace of its own with root mapped to root', () => {
      expectWorksOrNamesMissing('userNamespace', (step) => {
        expectPidsAgree(step, 2);
        expect(step.kernel.userNamespace).not.toBe(step.selfUserNamespace);
        expect(step.kernel.uidMap).toEqual([0, 0, 1]);
        expect(step).toMatchObject({ killReturned: true, exited: SIGTERMED });
      });
    });

    test('mountProc: the command reads its own pid 2 in the new /proc', () => {
      expectWorksOrNamesMissing('mountProc', (step) => {
        expect(step).toMatchObject({ nsPid: 2, statPid: 2, statName: '(cat)', exited: { code: 0, signal: null } });
      });
    });

    test('cgroup: the init and the command are in the new cgroup, which is gone after exited', () => {
      expectWorksOrNamesMissing('cgroup', (step) => {
        if (step.unavailable) return;
        const relative = `/${path.relative(step.hierarchy, step.cgroup)}`;
        expect(step.kernel.cgroup).toBe(relative);
        expect(step.initKernel.cgroup).toBe(relative);
        expectPidsAgree(step, 2);
        expect(step).toMatchObject({ killReturned: true, exited: SIGTERMED, cgroupExistsAfterExit: false });
      }, true);
    });

    test('terminal: the command runs on a terminal of its own and its status comes back', () => {
      expectWorksOrNamesMissing('terminal', (step) => {
        expect(step.screen).toMatch(/^\/dev\/pts\/\d+\r?\n$/);
        expect(step.exited).toMatchObject({ code: 4, signal: null });
        expect(step.closed).toMatchObject({ code: 4, signal: null });
      });
    });

    test('afterwards: descriptors back where they started, no children, no kill() errors, nothing left for the fixture to end', () => {
      expect(report.after.children).toEqual([]);
      expect(report.after.fds.length).toBe(report.before.fds.length);
      expect([...report.after.fds].sort()).toEqual([...report.before.fds].sort());
      expect(report.childErrors).toEqual([]);
      expect(report.endedByFixture).toEqual([]);
    });
  });

  // A pidfd_open that fails for a moment (a full descriptor table, no memory) rather than for
  // good: the library runs with pidfds, but the child it opens one for after the clone (joining a
  // namespace, a new user namespace) has none, and its exit must come through SIGCHLD, even when
  // the child is gone before the library starts watching it. The fixture makes sure it is, on
  // every other run of a quick command.
  describe.each([
    { mode: 'join', filtered: true, killed: SIGTERMED, hasInit: false },
    { mode: 'userNamespaceInit', filtered: true, killed: SIGTERMED, hasInit: true },
    { mode: 'userNamespaceRaw', filtered: true, killed: SIGKILLED, hasInit: false },
    // The same without the filter: the fixture's count of pidfds sees them where they are.
    { mode: 'userNamespaceInit', filtered: false, killed: SIGTERMED, hasInit: true },
  ])('pidfd_open of a child fails with EMFILE: $mode (filter: $filtered)', ({ mode, filtered, killed, hasInit }) => {
    const RUNS = 20;
    let run: SpawnSyncReturns<string>;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    let report: any;

    beforeAll(() => {
      const command = [loader, ...(filtered ? ['--fail-other-pids', 'pidfd_open=EMFILE'] : []), '--', process.execPath, fixture('pidfd-open-fails-report.js'), mode];
      // Pidfds are what this takes away, so the suite's own fallback mode must not have already.
      const env = { ...process.env };
      delete env.PIDNS_NO_PIDFD;
      run = spawnSync(command[0], command.slice(1), { encoding: 'utf8', timeout: 60000, killSignal: 'SIGKILL', env });
      try {
        report = JSON.parse(run.stdout.split('\n')[0]);
      } catch {
        report = null;
      }
    }, 70000);

    test('the fixture ran with pidfds under the filter, ended by itself and reported', () => {
      expect({ status: run.status, signal: run.signal, error: run.error?.message, stderr: run.stderr }).toMatchObject({ status: 0, signal: null, error: undefined });
      expect(report).toMatchObject({ mode, seccomp: '2', pidfdMode: true });
      if (mode === 'join') expect(report.host).toMatchObject({ outcome: 'ok', initPid: expect.any(Number) });
    });

    test.each([
      ['true', 0],
      ['exit7', 7],
    ] as const)('%s: every exited resolves with its status, and the command (and its init) are gone', (name, code) => {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const summary = report.runs[name].map((r: any) => ({
        outcome: r.outcome,
        exited: r.exited && { code: r.exited.code, signal: r.exited.signal },
        pid: r.pid > 0,
        initPid: hasInit ? r.initPid > 0 : r.initPid,
        goneAfterExit: r.goneAfterExit,
      }));
      const expected = { outcome: 'ok', exited: { code, signal: null }, pid: true, initPid: hasInit ? true : null, goneAfterExit: [true, hasInit ? true : null] };
      expect(summary).toEqual(Array(RUNS).fill(expected));
    });

    test('the quick commands of every other run had exited before the library watched them (without a pidfd only)', () => {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const states = report.settled.map((s: any) => s.state);
      expect(states).toEqual(filtered ? Array(RUNS).fill('Z') : []);
    });

    test(`kill() ends a running sleep started the same way (${killed.signal}), through the init when there is one`, () => {
      const pidfds = filtered ? 0 : 1;
      expect(report.runs.kill).toMatchObject({
        outcome: 'ok',
        pid: expect.any(Number),
        // Without the filter the command and the init each have one; with it, neither.
        pidfdsOfCommand: pidfds,
        pidfdsOfInit: hasInit ? pidfds : null,
        runningBeforeKill: true,
        killReturned: true,
        exited: killed,
        goneAfterExit: [true, hasInit ? true : null],
      });
      expect(report.runs.kill.pid).toBeGreaterThan(0);
    });

    test('afterwards: no children left (no zombie), no kill() errors, nothing left for the fixture to end', () => {
      expect(report.before.children).toEqual([]);
      expect(report.after.children).toEqual([]);
      expect(report.childErrors).toEqual([]);
      expect(report.endedByFixture).toEqual([]);
      if (mode === 'join') expect(report.hostClosed).toEqual({ outcome: 'ok' });
    });
  });
});
