// pidns doctor, run as a user would run it (node dist/cli.js doctor), as root, as nobody and under
// a seccomp filter that takes newer system calls away. Each fact it reports is checked against
// what the kernel says to this test process on the same machine: /proc/sys, its own
// /proc/self/status and /proc/self/cgroup (the doctor is its child, so it has the same seccomp
// mode and cgroup), /sys/fs/cgroup, the kernel release, and the init run with --version here.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { HELP, parseCommandLine } from '../lib/cli-args';
import { EXIT_USAGE } from '../lib/protocol';
import { CLI } from './cli-run';
import { status } from './kernel';
import { asNobody, inPublicInstall } from './public-install';
import { describeAsRoot } from './root';
import { buildFixture, removeBuiltFixture } from './subprocess';

const REPO = path.join(__dirname, '..');
const CHECKS = ['addon', 'init', 'pidNamespace', 'noNewNamespace', 'userNamespace', 'pidfd', 'clone3', 'closeRange', 'cgroup', 'pidMax', 'seccomp', 'container'];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Report = { ok: boolean; uid: number; pidns: string; kernel: { release: string; machine: string }; checks: Record<string, any> };

interface Outcome {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string[]): Outcome {
  const r = spawnSync(command[0], command.slice(1), { encoding: 'utf8', timeout: 60000, killSignal: 'SIGKILL' });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const doctor = (args: string[] = []) => run([process.execPath, CLI, 'doctor', ...args]);

function json(outcome: Outcome): Report {
  // Nothing but the one object on stdout.
  const report = JSON.parse(outcome.stdout) as Report;
  expect(Object.keys(report.checks)).toEqual(CHECKS);
  for (const name of CHECKS) {
    expect(typeof report.checks[name].ok).toBe('boolean');
    expect(report.checks[name]).toHaveProperty('hint');
    // A check that is not ok says what to do.
    if (!report.checks[name].ok) expect(report.checks[name].hint).toEqual(expect.any(String));
  }
  return report;
}

/** A setting under /proc/sys, null where this kernel has none. */
function sysctl(name: string): number | null {
  try {
    return Number(fs.readFileSync(`/proc/sys/${name.replace(/\./g, '/')}`, 'utf8').trim());
  } catch {
    return null;
  }
}

function kernelAtLeast(major: number, minor: number): boolean {
  const [a, b] = os.release().split('.').map((part) => parseInt(part, 10));
  return a > major || (a === major && b >= minor);
}

/** What the settings let a user without privilege do with user namespaces. */
function unprivilegedUserNamespaces(): boolean {
  return sysctl('kernel.unprivileged_userns_clone') !== 0 && sysctl('kernel.apparmor_restrict_unprivileged_userns') !== 1 && sysctl('user.max_user_namespaces') !== 0;
}

/** The inits a doctor's probes started that are still there: an init with the library's control channel running `INIT --version`. */
function probesLeft(initPath: string): string[] {
  const left: string[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'latin1');
      if (cmdline.includes('--control-fd\0') && cmdline.endsWith(`${initPath}\0--version\0`)) left.push(`${entry} ${cmdline.replace(/\0/g, ' ')}`);
    } catch {
      // gone
    }
  }
  return left;
}

/** cgroup2 mount points from our own /proc/self/mountinfo. */
function cgroup2MountPoints(): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((line) => line.includes(' - cgroup2 '))
    .map((line) => line.split(' ')[4]);
}

describe('pidns doctor: the command line', () => {
  test('doctor and doctor --json parse; anything else is a usage error naming it', () => {
    expect(parseCommandLine(['doctor'])).toEqual({ command: 'doctor', json: false });
    expect(parseCommandLine(['doctor', '--json'])).toEqual({ command: 'doctor', json: true });
    expect(parseCommandLine(['doctor', '-h'])).toEqual({ command: 'help', topic: 'doctor' });
    expect(HELP.pidns).toMatch(/^ {2}doctor \[--json\] +say what this machine allows/m);
  });

  test('an unknown flag or an argument: EXIT_USAGE and one line', () => {
    for (const [args, message] of [
      [['--bogus'], 'pidns: doctor: unknown option --bogus (see pidns doctor --help)\n'],
      [['now'], "pidns: doctor: unexpected argument 'now' (see pidns doctor --help)\n"],
      [['--json=1'], 'pidns: doctor: --json takes no value (see pidns doctor --help)\n'],
    ] as const) {
      const outcome = doctor([...args]);
      expect(outcome.status).toBe(EXIT_USAGE);
      expect(outcome.stdout).toBe('');
      expect(outcome.stderr).toBe(message);
    }
  });

  test('--help prints its help and exits 0', () => {
    const outcome = doctor(['--help']);
    expect(outcome.status).toBe(0);
    expect(outcome.stdout).toBe(HELP.doctor);
  });
});

describeAsRoot('pidns doctor as root', () => {
  let report: Report;
  let initPath: string;

  beforeAll(() => {
    initPath = (require('../lib/native') as typeof import('../lib/native')).initPath;
    const outcome = doctor(['--json']);
    expect(outcome.stderr).toBe('');
    expect(outcome.status).toBe(0);
    report = json(outcome);
  });

  test('the default mode works: exit 0, and nothing the probes started is left', () => {
    expect(report.ok).toBe(true);
    expect(report.uid).toBe(0);
    expect(report.kernel).toEqual({ release: os.release(), machine: os.machine() });
    expect(report.pidns).toBe((JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version);
    expect(probesLeft(initPath)).toEqual([]);
  });

  test('the addon and the init: the files this checkout loads, the init as --version prints itself', () => {
    // The file the library loaded.
    const addon = (require('../lib/native') as typeof import('../lib/native')).addonPath;
    const origin = (file: string) => (file.startsWith(path.join(REPO, 'build') + path.sep) ? 'built here' : file.startsWith(path.join(REPO, 'prebuilds') + path.sep) ? 'prebuilt' : 'elsewhere');
    expect(report.checks.addon).toEqual({ ok: true, path: addon, origin: origin(addon), error: null, hint: null });
    const version = spawnSync(initPath, ['--version'], { encoding: 'utf8' });
    expect(version.status).toBe(0);
    expect(report.checks.init).toEqual({ ok: true, path: initPath, origin: origin(initPath), version: version.stdout.trim(), hint: null });
    expect(report.checks.init.version).toMatch(new RegExp(`^pidns-init ${report.pidns.replace(/\./g, '\\.')} \\(`));
  });

  test('namespaces: a new PID namespace, the mode without one and a user namespace all work; the settings as /proc/sys has them', () => {
    const capEff = BigInt(`0x${status(process.pid).get('CapEff')}`);
    expect(report.checks.pidNamespace).toEqual({
      ok: true,
      errno: null,
      syscall: null,
      message: null,
      capSysAdmin: (capEff & (1n << 21n)) !== 0n,
      maxPidNamespaces: sysctl('user.max_pid_namespaces'),
      hint: null,
    });
    expect(report.checks.noNewNamespace).toEqual({ ok: true, errno: null, syscall: null, message: null, hint: null });
    expect(report.checks.userNamespace).toEqual({
      ok: true,
      errno: null,
      syscall: null,
      message: null,
      unprivilegedUsernsClone: sysctl('kernel.unprivileged_userns_clone'),
      apparmorRestrictUnprivilegedUserns: sysctl('kernel.apparmor_restrict_unprivileged_userns'),
      maxUserNamespaces: sysctl('user.max_user_namespaces'),
      unprivilegedAllowed: unprivilegedUserNamespaces(),
      hint: null,
    });
  });

  test('pidfds, clone3 and close_range: as the addon and the kernel release say', () => {
    const { native, usePidfd } = require('../lib/native') as typeof import('../lib/native');
    expect(report.checks.pidfd).toMatchObject({ ok: native.pidfdSupported() && usePidfd, supported: native.pidfdSupported(), used: usePidfd });
    // No filter here (checked in the seccomp test): the kernel's version decides.
    if (status(process.pid).get('Seccomp') === '0') {
      expect(report.checks.clone3.ok).toBe(kernelAtLeast(5, 7));
      expect(report.checks.closeRange.ok).toBe(kernelAtLeast(5, 11));
      if (kernelAtLeast(5, 11)) expect(report.checks.closeRange).toEqual({ ok: true, errno: null, cloexecErrno: null, hint: null });
    }
  });

  test('cgroup v2: the mounts, the cgroup and its controllers as /proc/self and /sys/fs/cgroup show them', () => {
    const c = report.checks.cgroup;
    expect(c.unified).toBe(fs.statfsSync('/sys/fs/cgroup').type === 0x63677270);
    expect(c.mounts).toEqual(cgroup2MountPoints());
    const own = /^0::(.*)$/m.exec(fs.readFileSync('/proc/self/cgroup', 'utf8'))?.[1] ?? null;
    expect(c.cgroup).toBe(own);
    if (c.directory !== null) {
      expect(fs.existsSync(path.join(c.directory, 'cgroup.procs'))).toBe(true);
      expect(c.controllers).toEqual(fs.readFileSync(path.join(c.directory, 'cgroup.controllers'), 'utf8').trim().split(/\s+/).filter(Boolean));
      const processes = fs.readFileSync(path.join(c.directory, 'cgroup.procs'), 'utf8').split('\n');
      // This process is in that cgroup (the doctor was, as its child).
      expect(processes).toContain(String(process.pid));
    }
    expect(c.ok).toBe(c.mounts.length > 0 && c.directory !== null && c.writable === true);
  });

  test('pid_max per namespace from Linux 6.14, by the kernel release; kernel.pid_max as /proc/sys has it', () => {
    expect(report.checks.pidMax).toMatchObject({ ok: kernelAtLeast(6, 14), perNamespace: kernelAtLeast(6, 14), pidMax: sysctl('kernel.pid_max') });
  });

  test('seccomp: the mode and filters of this process, which the doctor inherits', () => {
    const own = status(process.pid);
    expect(report.checks.seccomp).toMatchObject({ ok: true, mode: Number(own.get('Seccomp')), filters: Number(own.get('Seccomp_filters')) });
  });

  test('the container: each piece of evidence is there, and this process is not pid 1', () => {
    const c = report.checks.container;
    expect(c.evidence.includes('/.dockerenv exists')).toBe(fs.existsSync('/.dockerenv'));
    expect(c.evidence.includes('/run/.containerenv exists')).toBe(fs.existsSync('/run/.containerenv'));
    expect(c.inContainer).toBe(c.evidence.length > 0);
    expect(c.pid1).toBe(fs.readFileSync('/proc/1/comm', 'utf8').trim());
    expect(c.isPid1).toBe(false);
    const namespace = fs.statSync('/proc/self/ns/pid').ino;
    expect(c.pidNamespace).toBe(namespace);
    expect(c.initialPidNamespace).toBe(namespace === 0xeffffffc);
    // Null where /proc/1/ns/pid cannot be read (pid 1 of another user namespace, say).
    let pid1Namespace: number | null = null;
    try {
      pid1Namespace = fs.statSync('/proc/1/ns/pid').ino;
    } catch {
      // as the doctor found it
    }
    expect(c.pid1PidNamespaceDiffers).toBe(pid1Namespace === null ? null : pid1Namespace !== namespace);
    expect(c.nsPid).toHaveLength(status(process.pid).get('NSpid')!.split(/\s+/).length);
  });

  test('the text: a header, one line per check, and what the exit status means', () => {
    const outcome = doctor();
    expect(outcome.status).toBe(0);
    expect(outcome.stderr).toBe('');
    const lines = outcome.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(CHECKS.length + 2);
    expect(lines[0]).toBe(`pidns ${report.pidns} on Linux ${os.release()} (${os.machine()}), uid 0, Node ${process.version}`);
    for (const line of lines.slice(1, -1)) expect(line).toMatch(/^(ok|no) {2}\S/);
    expect(lines).toContain('ok  new PID namespaces: a new namespace with the init works');
    expect(lines).toContain('ok  without a new namespace (newNamespace: false, --no-new-namespace): works');
    expect(lines).toContain(`ok  init: ${report.checks.init.version}, ${report.checks.init.origin}: ${initPath}`);
    expect(lines.find((l) => l.includes(' user namespaces: work; '))).toContain(unprivilegedUserNamespaces() ? 'the settings let unprivileged users create them' : 'the settings refuse them');
    expect(lines[lines.length - 1]).toBe('The default mode (a new PID namespace with the init) works here.');
  });
});

describeAsRoot('pidns doctor as nobody', () => {
  let outcome: Outcome;
  let report: Report;

  beforeAll(() => {
    outcome = run(asNobody(CLI, ['doctor', '--json']));
    report = json(outcome);
  });

  test('a new PID namespace without a user namespace is refused: EPERM, exit 1, and the ways that work', () => {
    expect(outcome.stderr).toBe('');
    expect(outcome.status).toBe(1);
    expect(report.ok).toBe(false);
    expect(report.uid).toBe(65534);
    expect(report.checks.pidNamespace).toMatchObject({ ok: false, errno: 'EPERM', syscall: 'clone', capSysAdmin: false });
    expect(report.checks.pidNamespace.hint).toContain('pidns run --no-new-namespace');
    expect(report.checks.pidNamespace.hint).toContain('newNamespace: false');
    expect(report.checks.noNewNamespace.ok).toBe(true);
    // The copy every user can read.
    expect(report.checks.init.path).toBe(inPublicInstall(path.join(REPO, 'build', 'Release', 'pidns-init')));
  });

  test('user namespaces: as the settings allow an unprivileged user', () => {
    const allowed = unprivilegedUserNamespaces();
    expect(report.checks.userNamespace).toMatchObject({ ok: allowed, unprivilegedAllowed: allowed, maxUserNamespaces: sysctl('user.max_user_namespaces') });
    // Where they work, the refusal of a PID namespace alone says how to use one.
    if (allowed) expect(report.checks.pidNamespace.hint).toContain('pidns run --user');
    else expect(report.checks.userNamespace.errno).toBe('EPERM');
  });

  test('the text says so on the line of the check, and the last line says the default mode does not work', () => {
    const text = run(asNobody(CLI, ['doctor']));
    expect(text.status).toBe(1);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(CHECKS.length + 2);
    expect(lines.find((l) => l.startsWith('no  new PID namespaces: refused (EPERM from clone). '))).toBeDefined();
    expect(lines[lines.length - 1]).toMatch(/^The default mode \(a new PID namespace with the init\) does not work here/);
  });
});

describeAsRoot('pidns doctor under a seccomp filter (an older kernel or container profile)', () => {
  let loader: string;
  beforeAll(() => {
    loader = buildFixture('seccomp-exec');
  });
  afterAll(() => removeBuiltFixture(loader));

  const under = (refusals: string[]) => {
    const outcome = run([loader, ...refusals, '--', process.execPath, CLI, 'doctor', '--json']);
    expect(outcome.stderr).toBe('');
    return { outcome, report: json(outcome) };
  };

  test('clone3 ENOSYS and close_range EPERM: both missing with that errno; the default mode still works', () => {
    const { outcome, report } = under(['--enosys', 'clone3', '--eperm', 'close_range']);
    expect(outcome.status).toBe(0);
    expect(report.checks.clone3).toMatchObject({ ok: false, errno: 'ENOSYS' });
    expect(report.checks.clone3.hint).toContain('the cgroup option needs it');
    expect(report.checks.closeRange).toMatchObject({ ok: false, errno: 'EPERM', cloexecErrno: 'EPERM' });
    expect(report.checks.pidNamespace.ok).toBe(true);
    const own = Number(status(process.pid).get('Seccomp_filters'));
    expect(report.checks.seccomp).toMatchObject({ ok: true, mode: 2, filters: own + 1 });
    expect(report.checks.seccomp.hint).toContain('clone3, close_range');
  });

  // (The loader refuses clone3 with ENOSYS only: glibc's own fallback to clone needs that.)
  test('close_range ENOSYS and pidfd_send_signal EPERM: each missing, and said so in the text', () => {
    const { report } = under(['--enosys', 'close_range', '--eperm', 'pidfd_send_signal']);
    expect(report.checks.closeRange).toMatchObject({ ok: false, errno: 'ENOSYS', cloexecErrno: 'ENOSYS' });
    expect(report.checks.pidfd).toMatchObject({ ok: false, supported: false });
    expect(report.checks.clone3).toMatchObject({ ok: kernelAtLeast(5, 7) });
    const text = run([loader, '--enosys', 'clone3', '--', process.execPath, CLI, 'doctor']);
    expect(text.stdout).toMatch(/^no {2}clone3 with CLONE_INTO_CGROUP: missing \(ENOSYS\)\. /m);
    expect(text.stdout).toMatch(/^ok {2}close_range: works/m);
  });
});
