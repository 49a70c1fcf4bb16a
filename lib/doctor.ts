// `pidns doctor`: what this machine allows, each check with what the kernel said and, where
// something is missing, how to enable it. The checks that matter most try the thing itself (a
// namespace is made with the library's own spawn, with the init running `--version` as its
// command) rather than guess from settings: a container's seccomp profile, AppArmor or a missing
// capability all answer the same EPERM, and only the attempt tells which mode works here.
//
// Every probe leaves nothing behind: each spawn is awaited until the namespace has ended, the
// native probes make calls the kernel refuses or that do nothing (src-native/probe.cc), and the
// rest reads /proc and /sys. Nothing here writes a setting, not even where root could.
//
// The native addon is loaded here, not by the caller: a doctor that cannot load it says so as one
// of its checks (with how to rebuild), where every other command can only fail.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { SpawnOptions } from './options';

/** One check: ok, the facts it rests on (each always present, null where unknown), and what to do. */
export interface Check {
  ok: boolean;
  /** How to enable what is missing; null when ok (and for a check that only reports). */
  hint: string | null;
  [fact: string]: unknown;
}

export interface DoctorReport {
  /** The package's version. */
  pidns: string;
  /** Whether the default mode, a new PID namespace with the init, works here (exit status 0). */
  ok: boolean;
  uid: number;
  node: string;
  kernel: { release: string; machine: string };
  checks: {
    addon: Check;
    init: Check;
    pidNamespace: Check;
    noNewNamespace: Check;
    userNamespace: Check;
    pidfd: Check;
    clone3: Check;
    closeRange: Check;
    cgroup: Check;
    pidMax: Check;
    seccomp: Check;
    container: Check;
  };
}

type NativeModule = typeof import('./native');
type SpawnModule = typeof import('./spawn');
type Probed = ReturnType<NativeModule['native']['probeKernel']>;

const moduleRoot = path.join(__dirname, '..');

/** Where a binary of the package comes from: the prebuilt ones shipped in prebuilds/, or build/. */
function originOf(file: string): 'prebuilt' | 'built here' | 'elsewhere' {
  const relative = path.relative(moduleRoot, file).split(path.sep);
  if (relative[0] === 'prebuilds') return 'prebuilt';
  if (relative[0] === 'build') return 'built here';
  return 'elsewhere';
}

function packageVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(moduleRoot, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function readText(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** A number under /proc/sys, or null where the setting does not exist (or cannot be read). */
function sysctl(name: string): number | null {
  const text = readText(`/proc/sys/${name.replace(/\./g, '/')}`);
  if (text === null || !/^-?\d+\s*$/.test(text)) return null;
  return Number(text);
}

/** The fields of /proc/PID/status. */
function statusFields(pid: number | 'self'): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of (readText(`/proc/${pid}/status`) ?? '').split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return fields;
}

const errnoNames = new Map<number, string>();
for (const [name, number] of Object.entries(os.constants.errno)) if (!errnoNames.has(number)) errnoNames.set(number, name);
const errnoName = (errno: number): string => errnoNames.get(errno) ?? `E${errno}`;

/** Major and minor of a kernel release ("6.18.44-generic": [6, 18]). */
function kernelVersion(release: string): [number, number] | null {
  const match = /^(\d+)\.(\d+)/.exec(release);
  return match ? [Number(match[1]), Number(match[2])] : null;
}

const atLeast = (version: [number, number] | null, major: number, minor: number): boolean | null =>
  version === null ? null : version[0] > major || (version[0] === major && version[1] >= minor);

const CAP_SYS_ADMIN = 21;
/** The inode of the initial PID namespace, the same on every Linux (PROC_PID_INIT_INO). */
const INITIAL_PID_NAMESPACE = 0xeffffffc;
const CGROUP2_SUPER_MAGIC = 0x63677270;

/** How the mode without a new namespace is named, in the API and on the command line. */
const WITHOUT_NAMESPACE =
  "use the mode without a new namespace, which needs no privilege: newNamespace: false (or 'auto') in the API, pidns run --no-new-namespace (or --auto-namespace); in a container, make pidns-init its entrypoint (ENTRYPOINT [\"node_modules/.bin/pidns-init\", \"--\", ...])";

interface Attempt {
  ok: boolean;
  /** The errno name ('EPERM'), or the library's own code; null when it worked. */
  errno: string | null;
  syscall: string | null;
  message: string | null;
  /** The library's own hint for the failure. */
  libraryHint: string | null;
}

/**
 * Runs `pidns-init --version` with options and waits for it (and its namespace) to end. A
 * timeout ends the attempt if something holds it up; dieWithParent (the default) ends it if the
 * doctor dies meanwhile.
 */
async function attempt(spawn: SpawnModule, initPath: string, options: SpawnOptions): Promise<Attempt> {
  try {
    const child = await spawn.spawnInPidNamespace(initPath, ['--version'], { stdio: 'ignore', timeout: 10000, ...options });
    const exited = await child.exited;
    if (exited.code === 0) return { ok: true, errno: null, syscall: null, message: null, libraryHint: null };
    const how = exited.signal !== null ? `was ended by ${exited.signal}` : `exited ${exited.code}`;
    return { ok: false, errno: null, syscall: null, message: `the init started, but pidns-init --version under it ${how}`, libraryHint: null };
  } catch (err) {
    const e = err as { code?: unknown; syscall?: unknown; message?: unknown; hint?: unknown };
    return {
      ok: false,
      errno: typeof e.code === 'string' ? e.code : null,
      syscall: typeof e.syscall === 'string' ? e.syscall : null,
      message: String(e.message ?? err),
      libraryHint: typeof e.hint === 'string' ? e.hint : null,
    };
  }
}

function attemptFacts(a: Attempt): Record<string, unknown> {
  return { errno: a.errno, syscall: a.syscall, message: a.message };
}

const NOT_LOADED = 'not checked: the native addon did not load (see addon)';

function notChecked(facts: Record<string, unknown>): Check {
  return { ok: false, ...facts, hint: NOT_LOADED };
}

interface Loaded {
  native: NativeModule | null;
  spawn: SpawnModule | null;
  error: string | null;
}

function loadLibrary(): Loaded {
  try {
    const native = require('./native') as NativeModule;
    const spawn = require('./spawn') as SpawnModule;
    return { native, spawn, error: null };
  } catch (err) {
    // The bindings package goes on with every path it tried, one a line.
    return { native: null, spawn: null, error: String((err as Error)?.message ?? err).split('\n')[0].replace(/\.? *Tried:$/, '') };
  }
}

function addonCheck(loaded: Loaded): Check {
  if (loaded.native === null) {
    return { ok: false, path: null, origin: null, error: loaded.error, hint: 'rebuild the package (npm rebuild pidns), which needs Node, python3, make and a C/C++ compiler' };
  }
  const file = loaded.native.addonPath;
  return { ok: true, path: file, origin: originOf(file), error: null, hint: null };
}

function initCheck(loaded: Loaded): Check {
  if (loaded.native === null) return notChecked({ path: null, origin: null, version: null });
  const file = loaded.native.initPath;
  const run = spawnSync(file, ['--version'], { encoding: 'utf8', timeout: 10000, stdio: ['ignore', 'pipe', 'pipe'] });
  const line = (run.stdout ?? '').trim();
  const facts = { path: file, origin: originOf(file) };
  if (run.error) {
    const code = (run.error as NodeJS.ErrnoException).code ?? run.error.message;
    return { ok: false, ...facts, version: null, hint: `${file} cannot be run (${code}): rebuild the package (npm rebuild pidns)` };
  }
  if (run.status !== 0 || !/^pidns-init \S+ \(.+\)$/.test(line)) {
    return { ok: false, ...facts, version: null, hint: `${file} --version did not print its version (an init from before --version, or not pidns-init): rebuild the package (npm rebuild pidns)` };
  }
  const version = line.split(' ')[1];
  if (version !== packageVersion()) {
    return { ok: false, ...facts, version: line, hint: `the init is of pidns ${version}, the package is ${packageVersion()}: rebuild the package (npm rebuild pidns)` };
  }
  return { ok: true, ...facts, version: line, hint: null };
}

interface Privilege {
  root: boolean;
  capSysAdmin: boolean | null;
  inContainer: boolean;
}

function pidNamespaceCheck(a: Attempt | null, userNamespaceWorks: boolean, who: Privilege): Check {
  const facts = { capSysAdmin: who.capSysAdmin, maxPidNamespaces: sysctl('user.max_pid_namespaces') };
  if (a === null) return notChecked({ errno: null, syscall: null, message: null, ...facts });
  if (a.ok) return { ok: true, ...attemptFacts(a), ...facts, hint: null };
  let how: string;
  if (a.errno === 'EPERM') {
    const ways: string[] = [];
    if (!who.root) ways.push('run as root');
    if (userNamespaceWorks) ways.push('create a user namespace with it, which works here: userNamespace: true in the API, pidns run --user');
    // Capabilities added to a container are root's only: a container user other than root gets none.
    if (who.root && who.inContainer) ways.push('give the container CAP_SYS_ADMIN and a seccomp profile that allows namespaces (Docker: --cap-add SYS_ADMIN --security-opt seccomp=unconfined)');
    else if (who.root) ways.push('root needs CAP_SYS_ADMIN, and no seccomp filter that refuses clone with namespace flags');
    how = `creating a PID namespace needs CAP_SYS_ADMIN: ${[...ways, `or ${WITHOUT_NAMESPACE}`].join('; ')}`;
  } else if (a.errno === 'ENOSPC' && facts.maxPidNamespaces === 0) {
    how = `user.max_pid_namespaces is 0 here: sysctl -w user.max_pid_namespaces=15000 (as root); or ${WITHOUT_NAMESPACE}`;
  } else {
    how = `${a.libraryHint ?? 'see the message'}; or ${WITHOUT_NAMESPACE}`;
  }
  return { ok: false, ...attemptFacts(a), ...facts, hint: how };
}

function noNewNamespaceCheck(a: Attempt | null): Check {
  if (a === null) return notChecked({ errno: null, syscall: null, message: null });
  return { ok: a.ok, ...attemptFacts(a), hint: a.ok ? null : (a.libraryHint ?? 'see the message') };
}

function userNamespaceCheck(a: Attempt | null, who: Privilege): Check {
  const settings = {
    unprivilegedUsernsClone: sysctl('kernel.unprivileged_userns_clone'),
    apparmorRestrictUnprivilegedUserns: sysctl('kernel.apparmor_restrict_unprivileged_userns'),
    maxUserNamespaces: sysctl('user.max_user_namespaces'),
  };
  // What the settings let a user without privilege do (a seccomp profile or AppArmor profile may
  // still refuse it: only an attempt as that user tells).
  const blocking: string[] = [];
  if (settings.unprivilegedUsernsClone === 0) blocking.push('kernel.unprivileged_userns_clone is 0 (Debian): sysctl -w kernel.unprivileged_userns_clone=1');
  if (settings.apparmorRestrictUnprivilegedUserns === 1) {
    blocking.push('kernel.apparmor_restrict_unprivileged_userns is 1 (Ubuntu): sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile for node that allows userns');
  }
  if (settings.maxUserNamespaces === 0) blocking.push('user.max_user_namespaces is 0: sysctl -w user.max_user_namespaces=15000');
  const facts = { ...settings, unprivilegedAllowed: blocking.length === 0 };
  if (a === null) return notChecked({ errno: null, syscall: null, message: null, ...facts });
  if (a.ok) return { ok: true, ...attemptFacts(a), ...facts, hint: null };
  let how: string;
  if (blocking.length > 0 && !who.root) how = blocking.join('; ');
  else if (who.inContainer) how = "the container's seccomp profile refuses them (Docker: --security-opt seccomp=unconfined, with --cap-add SYS_ADMIN)";
  else how = a.libraryHint ?? 'see the message';
  return { ok: false, ...attemptFacts(a), ...facts, hint: how };
}

function pidfdCheck(native: NativeModule | null): Check {
  if (native === null) return notChecked({ supported: null, used: null });
  const supported = native.native.pidfdSupported();
  const used = native.usePidfd;
  let hint: string | null = null;
  if (!supported) {
    hint = 'pidfd_open or pidfd_send_signal is missing (a kernel before 5.3, or a seccomp profile that refuses them): exits are then watched through SIGCHLD and signals sent by pid, which a recycled pid could meet; use Linux 5.3 or later and a profile that allows both';
  } else if (!used) {
    hint = 'PIDNS_NO_PIDFD is set, which makes the library leave pidfds unused: unset it';
  }
  return { ok: supported && used, supported, used, hint };
}

function probes(native: NativeModule | null): Probed | null {
  return native === null ? null : native.native.probeKernel();
}

function clone3Check(probed: Probed | null, release: string): Check {
  if (probed === null) return notChecked({ errno: null });
  const errno = probed.clone3IntoCgroup;
  if (errno === 0) return { ok: true, errno: null, hint: null };
  const why =
    errno === os.constants.errno.E2BIG
      ? `this kernel (${release}) has clone3 but not CLONE_INTO_CGROUP, which came in Linux 5.7`
      : `clone3 is missing (${errnoName(errno)}: a kernel before 5.3, or a seccomp profile that refuses it; the kernel is ${release})`;
  return { ok: false, errno: errnoName(errno), hint: `${why}: the cgroup option needs it; everything else works without` };
}

function closeRangeCheck(probed: Probed | null, release: string): Check {
  if (probed === null) return notChecked({ errno: null, cloexecErrno: null });
  const plain = probed.closeRange;
  const cloexec = probed.closeRangeCloexec;
  const facts = { errno: plain === 0 ? null : errnoName(plain), cloexecErrno: cloexec === 0 ? null : errnoName(cloexec) };
  if (cloexec === 0) return { ok: true, ...facts, hint: null };
  const why =
    plain === 0
      ? `close_range is there but not CLOSE_RANGE_CLOEXEC (Linux 5.11; the kernel is ${release})`
      : `close_range is missing (${errnoName(plain)}: a kernel before 5.9, or a seccomp profile that refuses it; the kernel is ${release})`;
  return { ok: false, ...facts, hint: `${why}: each spawn then marks the descriptors it must not pass on one by one from /proc/self/fd, which is slower; Linux 5.11 and a profile that allows close_range make it one call` };
}

/** cgroup2 mounts from /proc/self/mountinfo: [root of the mount inside the hierarchy, mount point]. */
function cgroup2Mounts(): { root: string; mountPoint: string }[] {
  const unescape = (text: string) => text.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  const mounts: { root: string; mountPoint: string }[] = [];
  for (const line of (readText('/proc/self/mountinfo') ?? '').split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0 || !line.slice(dash + 3).startsWith('cgroup2 ')) continue;
    const fields = line.slice(0, dash).split(' ');
    mounts.push({ root: unescape(fields[3]), mountPoint: unescape(fields[4]) });
  }
  return mounts;
}

function cgroupCheck(): Check {
  let unified: boolean | null;
  try {
    unified = fs.statfsSync('/sys/fs/cgroup').type === CGROUP2_SUPER_MAGIC;
  } catch {
    unified = null;
  }
  const mounts = cgroup2Mounts();
  // The v2 line of /proc/self/cgroup: "0::/PATH".
  const own = /^0::(.*)$/m.exec(readText('/proc/self/cgroup') ?? '')?.[1] ?? null;
  // The own cgroup's directory: in the first mount whose root holds it (a container's cgroup
  // namespace shows its own cgroup as /).
  let directory: string | null = null;
  if (own !== null) {
    for (const { root, mountPoint } of mounts) {
      const relative = path.posix.relative(root, own);
      if (relative.startsWith('..')) continue;
      const candidate = path.join(mountPoint, relative);
      if (fs.existsSync(path.join(candidate, 'cgroup.procs'))) {
        directory = candidate;
        break;
      }
    }
  }
  const controllersOf = (dir: string | null) => (dir === null ? null : (readText(path.join(dir, 'cgroup.controllers'))?.trim().split(/\s+/).filter(Boolean) ?? null));
  const controllers = controllersOf(directory);
  // Delegation: a cgroup that this user may create cgroups in and move processes into. access()
  // asks the kernel (permissions, a read-only mount) without writing anything.
  let writable: boolean | null = null;
  if (directory !== null) {
    try {
      fs.accessSync(directory, fs.constants.W_OK);
      fs.accessSync(path.join(directory, 'cgroup.procs'), fs.constants.W_OK);
      writable = true;
    } catch {
      writable = false;
    }
  }
  const facts = { unified, mounts: mounts.map((m) => m.mountPoint), cgroup: own, directory, controllers, writable };
  if (mounts.length === 0) {
    return { ok: false, ...facts, hint: 'no cgroup v2 hierarchy is mounted: the cgroup option needs one (mount -t cgroup2 none /sys/fs/cgroup, or boot with systemd.unified_cgroup_hierarchy=1)' };
  }
  if (directory === null) {
    return { ok: false, ...facts, hint: "this process's cgroup v2 directory is not visible under the mounts: give the cgroup option a directory of the hierarchy that exists" };
  }
  if (!writable) {
    return {
      ok: false,
      ...facts,
      hint: `${directory} cannot be written by this user (not delegated, or mounted read-only): the cgroup option needs a cgroup it can write, delegated to it (systemd-run --user --scope -p Delegate=yes, or chown of a cgroup by root), or root with a writable mount`,
    };
  }
  return { ok: true, ...facts, hint: null };
}

function pidMaxCheck(release: string): Check {
  const perNamespace = atLeast(kernelVersion(release), 6, 14);
  return {
    ok: perNamespace === true,
    perNamespace,
    pidMax: sysctl('kernel.pid_max'),
    hint: perNamespace ? null : `pid_max is one setting for the whole system before Linux 6.14 (this kernel is ${release}): a namespace of its own limit needs 6.14 or later`,
  };
}

function seccompCheck(): Check {
  const fields = statusFields('self');
  const mode = fields.has('Seccomp') ? Number(fields.get('Seccomp')) : null;
  const filters = fields.has('Seccomp_filters') ? Number(fields.get('Seccomp_filters')) : null;
  const modeName = mode === null ? null : (['disabled', 'strict', 'filter'][mode] ?? String(mode));
  return { ok: true, mode, modeName, filters, hint: null };
}

function containerCheck(): Check & { inContainer: boolean } {
  const evidence: string[] = [];
  if (fs.existsSync('/.dockerenv')) evidence.push('/.dockerenv exists');
  if (fs.existsSync('/run/.containerenv')) evidence.push('/run/.containerenv exists');
  // pid 1's environment: readable by root only (or pid 1's own user).
  const environ = readText('/proc/1/environ');
  const containerVariable = environ === null ? null : (environ.split('\0').find((v) => v.startsWith('container='))?.slice('container='.length) ?? null);
  if (containerVariable) evidence.push(`pid 1 has container=${containerVariable}`);
  const pid1Cgroup = readText('/proc/1/cgroup');
  const runtime = pid1Cgroup === null ? null : /\b(docker|kubepods|containerd|libpod|lxc|garden)\b/.exec(pid1Cgroup)?.[1];
  if (runtime) evidence.push(`pid 1's cgroup names ${runtime}`);
  const pid1 = readText('/proc/1/comm')?.trim() ?? null;
  const ownStatus = statusFields('self');
  const nsPid = ownStatus.get('NSpid')?.split(/\s+/).map(Number) ?? null;
  let pidNamespace: number | null = null;
  try {
    pidNamespace = fs.statSync('/proc/self/ns/pid').ino;
  } catch {
    // no /proc
  }
  let pid1Namespace: number | null = null;
  try {
    pid1Namespace = fs.statSync('/proc/1/ns/pid').ino;
  } catch {
    // another user's: root only
  }
  const initialPidNamespace = pidNamespace === null ? null : pidNamespace === INITIAL_PID_NAMESPACE;
  if (initialPidNamespace === false) evidence.push('this process is not in the initial PID namespace');
  return {
    ok: true,
    inContainer: evidence.length > 0,
    evidence,
    containerVariable,
    pid1,
    isPid1: process.pid === 1,
    nsPid,
    pidNamespace,
    initialPidNamespace,
    pid1PidNamespaceDiffers: pid1Namespace === null || pidNamespace === null ? null : pid1Namespace !== pidNamespace,
    hint: null,
  };
}

/** Runs every check. */
export async function doctor(): Promise<DoctorReport> {
  const release = os.release();
  const loaded = loadLibrary();
  const status = statusFields('self');
  const capEff = status.get('CapEff');
  const container = containerCheck();
  const who: Privilege = {
    root: process.getuid?.() === 0,
    capSysAdmin: capEff === undefined ? null : (BigInt(`0x${capEff}`) & (1n << BigInt(CAP_SYS_ADMIN))) !== 0n,
    inContainer: container.inContainer,
  };
  const initPath = loaded.native?.initPath ?? null;
  const tryWith = async (options: SpawnOptions) => (loaded.spawn && initPath ? attempt(loaded.spawn, initPath, options) : null);
  // One after the other: each ends before the next starts.
  const newNamespace = await tryWith({});
  const withoutNamespace = await tryWith({ newNamespace: false });
  const withUserNamespace = await tryWith({ userNamespace: true });
  const probed = probes(loaded.native);
  const checks: DoctorReport['checks'] = {
    addon: addonCheck(loaded),
    init: initCheck(loaded),
    pidNamespace: pidNamespaceCheck(newNamespace, withUserNamespace?.ok === true, who),
    noNewNamespace: noNewNamespaceCheck(withoutNamespace),
    userNamespace: userNamespaceCheck(withUserNamespace, who),
    pidfd: pidfdCheck(loaded.native),
    clone3: clone3Check(probed, release),
    closeRange: closeRangeCheck(probed, release),
    cgroup: cgroupCheck(),
    pidMax: pidMaxCheck(release),
    seccomp: seccompCheck(),
    container,
  };
  if (container.inContainer && !checks.pidNamespace.ok) {
    container.hint = 'this container refuses new PID namespaces: pidns-init can still be its entrypoint, and the library can run without a new namespace (see new PID namespaces)';
  }
  if (checks.seccomp.mode === 2) {
    const calls = { clone3: 'clone3', closeRange: 'close_range', pidfd: 'pidfd_open or pidfd_send_signal' } as const;
    const refused = (Object.keys(calls) as (keyof typeof calls)[]).filter((name) => !checks[name].ok).map((name) => calls[name]);
    if (refused.length > 0) checks.seccomp.hint = `a seccomp filter is in force: where it is what refuses ${refused.join(', ')}, a profile that allows ${refused.length === 1 ? 'it' : 'them'} is what enables ${refused.length === 1 ? 'it' : 'them'}`;
  }
  return {
    pidns: packageVersion(),
    ok: checks.pidNamespace.ok,
    uid: process.getuid?.() ?? -1,
    node: process.version,
    kernel: { release, machine: os.machine() },
    checks,
  };
}

/** The text of each check: "ok  NAME: FACTS", or "no  NAME: FACTS: HINT". */
function describe(report: DoctorReport): string[] {
  const c = report.checks;
  const facts = (check: Check, text: string) => `${check.ok ? 'ok' : 'no'}  ${text}${check.hint ? `. ${check.hint}` : ''}`;
  const failed = (check: Check) => [check.errno, check.syscall].filter(Boolean).join(' from ') || String(check.message ?? 'failed');
  const unprivileged = c.userNamespace.unprivilegedAllowed ? 'the settings let unprivileged users create them' : 'the settings refuse them to unprivileged users';
  const settings = [
    ['kernel.unprivileged_userns_clone', c.userNamespace.unprivilegedUsernsClone],
    ['kernel.apparmor_restrict_unprivileged_userns', c.userNamespace.apparmorRestrictUnprivilegedUserns],
    ['user.max_user_namespaces', c.userNamespace.maxUserNamespaces],
  ]
    .filter(([, value]) => value !== null)
    .map(([name, value]) => `${name}=${value}`)
    .join(', ');
  const cgroupWhere =
    c.cgroup.mounts instanceof Array && c.cgroup.mounts.length > 0
      ? `mounted at ${(c.cgroup.mounts as string[]).join(', ')}${c.cgroup.unified ? '' : ' (/sys/fs/cgroup itself is not cgroup2: a hybrid or v1 layout)'}; this process is in ${c.cgroup.cgroup ?? '?'}, controllers: ${(c.cgroup.controllers as string[] | null)?.join(' ') || 'none'}; ${c.cgroup.writable ? 'writable' : 'not writable'}`
      : 'not mounted';
  const seccompFilters = c.seccomp.filters !== null ? ` (${c.seccomp.filters} ${c.seccomp.filters === 1 ? 'filter' : 'filters'})` : '';
  const nsPid = c.container.nsPid as number[] | null;
  const place = c.container.isPid1
    ? 'this process is pid 1'
    : `this process is pid ${process.pid}${nsPid && nsPid.length > 1 ? ` (NSpid ${nsPid.join(' ')})` : ''}`;
  const namespace = c.container.initialPidNamespace === null ? '' : c.container.initialPidNamespace ? ' in the initial PID namespace' : ' in a PID namespace other than the initial one';
  const evidence = c.container.evidence as string[];
  return [
    facts(c.addon, `addon: ${c.addon.path ? `${c.addon.origin}: ${c.addon.path}` : `cannot be loaded: ${c.addon.error}`}`),
    facts(c.init, `init: ${c.init.version ?? 'no version'}, ${c.init.origin ?? '?'}: ${c.init.path ?? '?'}`),
    facts(c.pidNamespace, `new PID namespaces: ${c.pidNamespace.ok ? 'a new namespace with the init works' : `refused (${failed(c.pidNamespace)})`}`),
    facts(c.noNewNamespace, `without a new namespace (newNamespace: false, --no-new-namespace): ${c.noNewNamespace.ok ? 'works' : `fails (${failed(c.noNewNamespace)})`}`),
    facts(
      c.userNamespace,
      `user namespaces: ${c.userNamespace.ok ? 'work' : `refused (${failed(c.userNamespace)})`}${report.uid === 0 ? `; ${unprivileged}` : ''}${settings ? ` (${settings})` : ''}`,
    ),
    facts(c.pidfd, `pidfds: ${c.pidfd.supported ? `pidfd_open and pidfd_send_signal work${c.pidfd.used ? '' : ', unused (PIDNS_NO_PIDFD)'}` : 'missing'}`),
    facts(c.clone3, `clone3 with CLONE_INTO_CGROUP: ${c.clone3.ok ? 'works' : `missing (${c.clone3.errno})`}`),
    facts(c.closeRange, `close_range: ${c.closeRange.ok ? 'works, with CLOSE_RANGE_CLOEXEC' : `missing (${c.closeRange.errno ?? `CLOSE_RANGE_CLOEXEC: ${c.closeRange.cloexecErrno}`})`}`),
    facts(c.cgroup, `cgroup v2: ${cgroupWhere}`),
    facts(c.pidMax, `per-namespace pid_max: ${c.pidMax.ok ? 'yes' : 'no'} (Linux ${report.kernel.release}; kernel.pid_max=${c.pidMax.pidMax ?? '?'})`),
    facts(c.seccomp, `seccomp: ${c.seccomp.modeName ?? 'unknown'}${c.seccomp.mode === 2 ? seccompFilters : ''}`),
    facts(c.container, `container: ${c.container.inContainer ? `yes (${evidence.join('; ')})` : 'none found'}; pid 1 is ${c.container.pid1 ?? '?'}; ${place}${namespace}`),
  ];
}

/** What `pidns doctor` prints, and its exit status: 0 when the default mode works here, else 1. */
export async function doctorOutput(json: boolean): Promise<{ status: number; text: string }> {
  const report = await doctor();
  const status = report.ok ? 0 : 1;
  if (json) return { status, text: `${JSON.stringify(report, null, 2)}\n` };
  const summary = report.ok
    ? 'The default mode (a new PID namespace with the init) works here.'
    : 'The default mode (a new PID namespace with the init) does not work here: see new PID namespaces above for what does.';
  const header = `pidns ${report.pidns} on Linux ${report.kernel.release} (${report.kernel.machine}), uid ${report.uid}, Node ${report.node}`;
  return { status, text: `${[header, ...describe(report), summary].join('\n')}\n` };
}
