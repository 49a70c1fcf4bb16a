// Validation of spawnInPidNamespace()'s arguments. Everything here runs before any system call,
// so a bad input is a TypeError/RangeError and nothing is started.
import { fileURLToPath } from 'url';
import { checkCgroup, type CgroupOption, type NormalizedCgroup } from './cgroup';
import { arrayEntries, checkBoolean, checkInteger, checkPid, checkString, MAX_FD, MAX_ID, MAX_MS, ownProperties, splitArguments } from './checks';
import { invalidType, invalidValue, outOfRange, PidnsArgumentError } from './errors';
import { native } from './native';
import { checkJoinNamespaces, type NamespaceKind } from './enter';
import type { NewNamespaceKind } from './namespace-limits';
import { checkNewNamespaces, NO_NEW_NAMESPACES, refuseNewNamespaces, type NormalizedNamespaces, type TimeOffsets } from './namespaces';
import { checkNsPid, checkPidMax } from './pid-control';
import { signalName, signalNumber } from './signals';

/** 'pipe': a stream in Node; 'inherit': Node's own descriptor; 'ignore': /dev/null. */
export type StdioName = 'pipe' | 'inherit' | 'ignore';
/** One descriptor of the child: a name, one of our descriptor numbers, null/undefined ('pipe'
 * for 0-2, 'ignore' above), or 'ipc' (at most one): Node's IPC channel, which a Node command
 * finds through NODE_CHANNEL_FD as under child_process.fork. */
export type StdioEntry = StdioName | 'ipc' | number | null | undefined;
/** How messages cross an 'ipc' channel: Node's formats, as for child_process.fork. */
export type Serialization = 'json' | 'advanced';
/** The child's descriptors 0..N-1, as in child_process.spawn. */
export type StdioOption = StdioName | StdioEntry[];

/** One range of an id map, as in the OCI runtime spec: `size` ids from `hostId` appear as `containerId` on. */
export interface IdMapping {
  containerId: number;
  hostId: number;
  size: number;
}

export interface UserNamespaceOptions {
  /** Default: the caller's uid appears as 0 inside. */
  uidMap?: readonly IdMapping[];
  /** Default: the caller's gid appears as 0 inside. */
  gidMap?: readonly IdMapping[];
}

/** A terminal's window size in character cells. */
export interface TerminalSize {
  cols: number;
  rows: number;
}

/** Options of spawnInPidNamespace(). */
export interface SpawnOptions {
  /** Default true: the bundled init is pid 1 and the command pid 2. false: the command is pid 1. */
  init?: boolean;
  /**
   * Default true: a new PID namespace. false: none, for where namespaces are refused (a default
   * Docker or Kubernetes container) or not wanted: the init runs in the caller's own PID
   * namespace as a child subreaper (PR_SET_CHILD_SUBREAPER) and the command is its child. Every
   * descendant of the command re-parents to the init, signals are forwarded, the exact status
   * and usage come back, and when the command ends (or Node dies, with dieWithParent) the init
   * kills every descendant it finds in /proc, over again until it has no child, before `exited`
   * resolves. It needs no privilege. What it cannot promise: the command sees every process of
   * the namespace; a descendant that makes itself a subreaper keeps its orphans from the init
   * (they are still killed, as descendants); one that changed to another uid cannot be killed
   * without CAP_KILL; a command of the same uid can stop or kill the init itself.
   * 'auto': a new namespace where the kernel permits one, this mode where it refuses (EPERM, or
   * ENOSPC where user.max_pid_namespaces is 0); the
   * child's `pidNamespace` tells which. With false or 'auto', `init: false`, `join`, `mountProc`
   * and `userNamespace` are refused: they need a namespace of their own.
   */
  newNamespace?: boolean | 'auto';
  /**
   * Under the init: when the command ends, wait for every other process of the namespace (every
   * descendant, with newNamespace false) to exit instead of ending them; `exited` resolves after
   * the last one, with the command's status. Signals sent meanwhile (kill()) reach what is left.
   * Default false.
   */
  waitForDescendants?: boolean;
  /**
   * Enter this PID namespace instead of creating one: a pid, a path such as '/proc/PID/ns/pid',
   * or a PidNamespace.
   */
  join?: number | string | JoinTarget;
  /**
   * With join given as a pid or a PidNamespace: enter the target's other namespaces too, as
   * `nsenter --target PID --all` does: 'all', or a list of the names in /proc/PID/ns ('user',
   * 'mnt', 'net', 'uts', 'ipc', 'cgroup', 'time', 'pid'; the PID namespace is always entered).
   * A namespace the target shares with the caller is left alone. They are entered in nsenter's
   * order: as root the user namespace last, else first (it grants the privilege for the others).
   * With the user namespace entered, uid and gid default to 0 there, as with nsenter. With 'mnt',
   * the command also gets the target's root directory and working directory (`nsenter --root
   * --wd`), a cwd option is a path in the target's tree, and the command is looked up there,
   * in the absolute entries of PATH. A time namespace other than the caller's cannot be entered:
   * ERR_TIME_NAMESPACE_UNSUPPORTED (see the README).
   */
  joinNamespaces?: 'all' | readonly NamespaceKind[];
  /** Default 'pipe'. */
  stdio?: StdioOption;
  /** The format of messages over an 'ipc' stdio entry: 'json' (default) or 'advanced' (the v8
   * serializer, which also carries Buffers, Maps, Sets, BigInts, ...). */
  serialization?: Serialization;
  /**
   * Run the command on a new pseudo-terminal (true: 80x24, or a size): it gets the terminal on
   * descriptors 0-2 and leads a session of its own with it as controlling terminal. The child's
   * `terminal` is the other side; `stdin`, `stdout` and `stderr` are null. stdio entries 0-2
   * must then be left at the default.
   */
  terminal?: boolean | Partial<TerminalSize>;
  /** The command's whole environment (default process.env); values must be strings. */
  env?: NodeJS.ProcessEnv;
  /** The command's working directory (default: ours). */
  cwd?: string | URL;
  /** argv[0] of the command (default: command as given). */
  argv0?: string;
  /** Run as this uid (inside the user namespace, with userNamespace). */
  uid?: number;
  /** Run as this gid; supplementary groups are dropped when uid or gid is set. */
  gid?: number;
  /** Aborting sends killSignal to the command; already aborted: nothing is started. */
  signal?: AbortSignal;
  /** Milliseconds after which killSignal is sent. */
  timeout?: number;
  /** The signal for timeout and signal (default 'SIGTERM'). 0, which sends nothing, is refused. */
  killSignal?: NodeJS.Signals | number;
  /** Default true: the namespace ends when the Node process ends. */
  dieWithParent?: boolean;
  /** Under the init: signals go to the command's whole process group (the command leads it). */
  signalGroup?: boolean;
  /** Under the init: after the command ends, others get SIGTERM and this long before SIGKILL. */
  teardownGraceMs?: number;
  /**
   * Run the command as the foreground job of your terminal (default false). When stdin is
   * inherited from a process in the foreground of a terminal, the command leads a process group
   * of its own that gets the terminal while it runs (Ctrl-C and Ctrl-Z go to it, and it may read
   * the terminal); the terminal comes back to your process group when it ends. When the command
   * is stopped (Ctrl-Z), your process takes the terminal back and stops with the same signal, as
   * a shell job does; when your process is continued (`fg`), the command gets the terminal back
   * and is continued.
   */
  foreground?: boolean;
  /** A new mount namespace (propagation made private) with a /proc of the command's PID namespace. */
  mountProc?: boolean;
  /**
   * Set no_new_privs (prctl PR_SET_NO_NEW_PRIVS) before execve: set-uid and set-gid programs and
   * file capabilities can no longer raise the privileges of the command or anything it starts.
   * Under the init it applies to the init and the command alike. Default false.
   */
  noNewPrivileges?: boolean;
  /**
   * Create a user namespace together with the PID namespace, so no privilege is needed.
   * true maps the caller's uid and gid to 0 inside (like `unshare -r`).
   */
  userNamespace?: boolean | UserNamespaceOptions;
  /**
   * cgroup v2 placement: the path of an existing cgroup v2 directory, or `{ parent, memoryMax?,
   * pidsMax?, cpuMax? }` for a new cgroup of parent's, made with those limits and removed once
   * the namespace has ended. The namespace's first process (the init, or the command when raw;
   * the joiner when joining) is created inside it (clone3 with CLONE_INTO_CGROUP, Linux >= 5.7),
   * so no process of it ever runs outside.
   */
  cgroup?: CgroupOption;
  /**
   * The new namespace's own pid_max (301 to 4194304): the highest pid number there is one less,
   * and a fork that would need a higher one fails with EAGAIN inside. The host's
   * /proc/sys/kernel/pid_max is untouched. Set by the namespace's pid 1 before the command runs
   * (under the init, and raw). Needs Linux >= 6.14, where pid_max is per namespace (before, it
   * is ERR_PID_MAX_UNSUPPORTED, and nothing is written), and CAP_SYS_ADMIN over the namespace's
   * user namespace (root, or userNamespace with a map that has a root). Not with join (pid_max
   * belongs to the namespace's creator) or newNamespace false/'auto'.
   */
  pidMax?: number;
  /**
   * With join (or a pod's spawn): the pid the command takes in the namespace it joins (2 to
   * 4194303; pid 1 is the namespace's init), through clone3's set_tid (Linux >= 5.5). Needs
   * CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE over the user namespace that owns the namespace
   * joined. A pid in use is ERR_NS_PID_IN_USE; one at or above that namespace's pid_max, EINVAL.
   * Without clone3 (an old kernel, a seccomp profile) it is ENOSYS: never another pid. A new
   * namespace needs none: the command is pid 1 (init: false) or 2 (under the init).
   */
  nsPid?: number;
  /**
   * Namespaces to create together with the new PID namespace: any of 'cgroup', 'ipc', 'mnt',
   * 'net', 'time', 'uts' (as root, or unprivileged with userNamespace). The namespace's pid 1 (the
   * init, or the command when raw) sets them up before its execve, so no process ever sees them
   * half made: 'net' has only the loopback interface, and it is up; 'mnt' has private
   * propagation (as with unshare -m; mountProc implies 'mnt'); 'cgroup' is rooted at the
   * process's cgroup, which is options.cgroup's when given, so /proc/self/cgroup reads "0::/";
   * 'time' takes timeOffsets. Not with join (use joinNamespaces to enter another process's) nor
   * newNamespace false/'auto'. A name given twice, 'pid' or 'user' is refused.
   */
  namespaces?: readonly NewNamespaceKind[];
  /** With 'uts' in namespaces: the host name inside (1 to 64 bytes). */
  hostname?: string;
  /**
   * With 'time' in namespaces: whole seconds added to CLOCK_MONOTONIC and CLOCK_BOOTTIME inside
   * (and so to /proc/uptime there); each defaults to 0. The kernel refuses an offset that would
   * make the clock read below 0 or above 4611686018 seconds (KTIME_SEC_MAX / 2): both are
   * RangeErrors before anything starts. Written before the namespace's pid 1 enters it at its
   * execve, so every process there sees them, under the init and raw alike.
   */
  timeOffsets?: TimeOffsets;
}

/** What a PidNamespace offers to be joined: where its namespace file is, and which it must be. */
export interface JoinTarget {
  readonly id: number;
  readonly namespacePath: string;
  /** The user namespace that owns it, when it is one the joiner must enter too (a rootless pod). */
  readonly userNamespacePath?: string | null;
}

/** A namespace to join. expectedId: the inode the path must lead to (a PidNamespace), else it has ended. */
export type NormalizedJoin = { kind: 'pid'; pid: number } | { kind: 'path'; path: string; expectedId?: number; userPath?: string; targetPid?: number };

/** A new user namespace: its maps as /proc/PID/uid_map takes them. */
export interface NormalizedUserNamespace {
  uidMap: string;
  gidMap: string;
  /** setgroups is denied (an unprivileged caller's gid map needs it). */
  denySetgroups: boolean;
}

/** PidNamespace.create()'s options after the checks. */
export interface NormalizedPodOptions {
  dieWithParent: boolean;
  mountProc: boolean;
  userNamespace: NormalizedUserNamespace | null;
  cgroup: NormalizedCgroup;
  /** The namespace's pid_max, or null for the kernel's default. */
  pidMax: number | null;
  /** Its other new namespaces, which members enter (never 'time'). */
  namespaces: NormalizedNamespaces;
}

export interface NormalizedOptions {
  command: string;
  args: string[];
  init: boolean;
  /** expectedId: the namespace inode the path must lead to (a PidNamespace), else it has ended. */
  join: NormalizedJoin | null;
  /** The target's namespaces to enter with join, in nsenter's order ('pid' always among them), or null for only its PID namespace. */
  joinNamespaces: NamespaceKind[] | null;
  newNamespace: boolean | 'auto';
  waitForDescendants: boolean;
  stdio: StdioEntry[];
  serialization: Serialization;
  /** The window size of a new terminal, or null for none. */
  terminal: TerminalSize | null;
  env: string[];
  envPath: string | undefined;
  cwd: string | null;
  argv0: string;
  uid: number;
  gid: number;
  signal: AbortSignal | undefined;
  timeout: number;
  killSignal: number;
  dieWithParent: boolean;
  signalGroup: boolean;
  foreground: boolean;
  teardownGraceMs: number;
  mountProc: boolean;
  noNewPrivileges: boolean;
  /** The maps as the kernel reads them from /proc/PID/uid_map, or null for no user namespace. */
  userNamespace: NormalizedUserNamespace | null;
  cgroup: NormalizedCgroup;
  /** A new namespace's pid_max, or null for the kernel's default. */
  pidMax: number | null;
  /** The pid to take in the namespace joined, or null for the next free one. */
  nsPid: number | null;
  /** The other namespaces made with a new PID namespace (none with join or without one). */
  namespaces: NormalizedNamespaces;
}

/** The addon's longest descriptor map, less the init's control channel. */
export const MAX_STDIO = native.constants.MAX_FD_MAP - 1;
const MAX_TERMINAL_CELLS = 0xffff; // struct winsize holds unsigned shorts
const DEFAULT_TERMINAL_SIZE: TerminalSize = { cols: 80, rows: 24 };

function checkStdio(value: unknown): StdioEntry[] {
  if (value === undefined) return ['pipe', 'pipe', 'pipe'];
  if (value === 'pipe' || value === 'inherit' || value === 'ignore') return [value, value, value];
  if (!Array.isArray(value)) throw invalidValue('options.stdio', value, "must be 'pipe', 'inherit', 'ignore' or an array");
  const given = arrayEntries('options.stdio', value, MAX_STDIO);
  const entries: StdioEntry[] = [];
  for (let i = 0; i < given.length; i++) {
    const entry: unknown = given[i];
    if (entry === null || entry === undefined || entry === 'pipe' || entry === 'inherit' || entry === 'ignore') {
      entries.push(entry);
    } else if (entry === 'ipc') {
      if (entries.includes('ipc')) throw new PidnsArgumentError('ERR_IPC_ONE_PIPE', `The argument 'options.stdio[${i}]' is a second 'ipc': a child can have only one IPC channel`);
      entries.push(entry);
    } else if (typeof entry === 'number') {
      entries.push(checkInteger(`options.stdio[${i}]`, entry, 0, MAX_FD));
    } else {
      throw invalidValue(`options.stdio[${i}]`, entry, "must be 'pipe', 'inherit', 'ignore', 'ipc', a descriptor number, null or undefined");
    }
  }
  while (entries.length < 3) entries.push(undefined);
  return entries;
}

/** A window size in character cells, as struct winsize holds it. */
export function checkTerminalSize(name: string, cols: unknown, rows: unknown): TerminalSize {
  return {
    cols: checkInteger(`${name}cols`, cols, 1, MAX_TERMINAL_CELLS),
    rows: checkInteger(`${name}rows`, rows, 1, MAX_TERMINAL_CELLS),
  };
}

function checkTerminal(value: unknown, stdio: StdioEntry[]): TerminalSize | null {
  if (value === undefined || value === false) return null;
  let size = DEFAULT_TERMINAL_SIZE;
  if (value !== true) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidType('options.terminal', 'a boolean or { cols, rows }', value);
    const given = ownProperties(value);
    size = checkTerminalSize('options.terminal.', given.cols ?? size.cols, given.rows ?? size.rows);
  }
  const taken = stdio.slice(0, 3).findIndex((entry) => entry !== undefined && entry !== null && entry !== 'pipe');
  if (taken >= 0) {
    throw invalidValue(`options.stdio[${taken}]`, stdio[taken], 'cannot be set with options.terminal (the terminal is descriptors 0, 1 and 2); leave entries 0-2 at the default');
  }
  return size;
}

function checkEnv(value: unknown): { env: string[]; path: string | undefined } {
  const source = value === undefined ? process.env : value;
  if (typeof source !== 'object' || source === null || Array.isArray(source)) throw invalidType('options.env', 'of type object', source);
  const env: string[] = [];
  let path: string | undefined;
  for (const key of Object.keys(source)) {
    const v: unknown = (source as Record<string, unknown>)[key];
    if (v === undefined) continue;
    if (typeof v !== 'string') throw invalidType(`options.env['${key.slice(0, 64)}']`, 'of type string', v);
    if (key.includes('\u0000') || v.includes('\u0000')) throw invalidValue(`options.env['${key.slice(0, 64)}']`, v, 'must be a string without null bytes');
    if (key.length === 0 || key.includes('=')) throw invalidValue('options.env', key, "must have names that are not empty and have no '='");
    env.push(`${key}=${v}`);
    if (key === 'PATH') path = v;
  }
  return { env, path };
}

function checkSerialization(value: unknown): Serialization {
  if (value === undefined) return 'json';
  if (value === 'json' || value === 'advanced') return value;
  throw invalidValue('options.serialization', value, "must be 'json' or 'advanced'");
}

/** Where a Node command finds its IPC channel: the variables child_process.fork sets, replacing
 * any the caller's env has. */
function withChannelVariables(env: string[], stdio: StdioEntry[], serialization: Serialization): string[] {
  const channelFd = stdio.indexOf('ipc');
  if (channelFd < 0) return env;
  return env
    .filter((pair) => !pair.startsWith('NODE_CHANNEL_FD=') && !pair.startsWith('NODE_CHANNEL_SERIALIZATION_MODE='))
    .concat(`NODE_CHANNEL_FD=${channelFd}`, `NODE_CHANNEL_SERIALIZATION_MODE=${serialization}`);
}

function checkCwd(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (value instanceof URL) {
    if (value.protocol !== 'file:') throw invalidValue('options.cwd', value.href, 'must be a file: URL');
    // Node's own conversion, which refuses what no local path can be: a host (file://server/x)
    // or an encoded slash (%2F). Its code is kept (ERR_INVALID_FILE_URL_HOST,
    // ERR_INVALID_FILE_URL_PATH) and the option named.
    let local: string;
    try {
      local = fileURLToPath(value);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'ERR_INVALID_ARG_VALUE';
      throw new PidnsArgumentError(code, `The argument 'options.cwd' is not a local path: ${(err as Error).message}. Received ${value.href.slice(0, 200)}`);
    }
    return checkString('options.cwd', local, false);
  }
  return checkString('options.cwd', value, false);
}

/**
 * The signal that timeout and signal send. Signal 0 sends nothing (it only probes), so a timeout
 * would report a command ended that still runs; it is refused as child_process refuses it. Signals
 * 32 and 33 are the C library's own (kill -l has no name for them) and are refused too.
 */
function checkKillSignal(value: unknown): number {
  if (value === undefined) return signalNumber('SIGTERM');
  const signo = signalNumber(value, 'options.killSignal');
  const name = signalName(signo);
  if (signo === 0 || name === null || name.startsWith('SIGRTMIN-')) {
    throw new PidnsArgumentError('ERR_UNKNOWN_SIGNAL', `Unknown signal: ${typeof value === 'string' ? value.slice(0, 64) : String(value)} (options.killSignal must be a signal to send, such as 'SIGTERM' or 'SIGKILL'; 0 sends none)`);
  }
  return signo;
}

function checkNewNamespace(value: unknown): boolean | 'auto' {
  if (value === undefined) return true;
  if (value === true || value === false || value === 'auto') return value;
  throw invalidValue('options.newNamespace', value, "must be true, false or 'auto'");
}

function checkJoin(value: unknown): NormalizedOptions['join'] {
  if (value === undefined || value === null) return null;
  if (typeof value === 'number') return { kind: 'pid', pid: checkPid('options.join', value) };
  if (typeof value === 'string') return { kind: 'path', path: checkString('options.join', value, false) };
  if (typeof value === 'object') {
    const target = value as Partial<JoinTarget>;
    if (typeof target.namespacePath === 'string' && typeof target.id === 'number') {
      const path = checkString('options.join.namespacePath', target.namespacePath, false);
      const userPath = typeof target.userNamespacePath === 'string' ? target.userNamespacePath : undefined;
      // The process whose namespace file it is: the one whose other namespaces joinNamespaces enters.
      const processPath = /^\/proc\/(\d+)\/ns\/pid$/.exec(path);
      return { kind: 'path', path, expectedId: target.id, userPath, targetPid: processPath ? Number(processPath[1]) : undefined };
    }
  }
  throw invalidType('options.join', 'a pid number, a namespace file path or a PidNamespace', value);
}

function checkMap(name: string, value: unknown, callerId: number): string {
  if (value === undefined) return `0 ${callerId} 1\n`;
  if (!Array.isArray(value)) throw invalidType(name, 'an array of { containerId, hostId, size }', value);
  const entries = arrayEntries(name, value, 340);
  if (entries.length === 0) throw outOfRange(`${name}.length`, '>= 1 and <= 340', 0);
  return entries
    .map((entry, i) => {
      if (typeof entry !== 'object' || entry === null) throw invalidType(`${name}[${i}]`, 'an object { containerId, hostId, size }', entry);
      const e = ownProperties(entry);
      const containerId = checkInteger(`${name}[${i}].containerId`, e.containerId, 0, MAX_ID);
      const hostId = checkInteger(`${name}[${i}].hostId`, e.hostId, 0, MAX_ID);
      const size = checkInteger(`${name}[${i}].size`, e.size, 1, MAX_ID + 1);
      return `${containerId} ${hostId} ${size}\n`;
    })
    .join('');
}

/** The caller's own ids mapped to 0 work for anyone; other maps need CAP_SETUID/CAP_SETGID. */
function checkUserNamespace(value: unknown): NormalizedOptions['userNamespace'] {
  if (value === undefined || value === false) return null;
  if (value !== true && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    throw invalidType('options.userNamespace', 'a boolean or { uidMap, gidMap }', value);
  }
  const maps = value === true ? {} : ownProperties(value as object);
  const uid = process.geteuid!();
  const gid = process.getegid!();
  const uidMap = checkMap('options.userNamespace.uidMap', maps.uidMap, uid);
  const gidMap = checkMap('options.userNamespace.gidMap', maps.gidMap, gid);
  // Without CAP_SETGID the kernel takes a gid map only once setgroups is denied.
  return { uidMap, gidMap, denySetgroups: uid !== 0 };
}

/** Whether an id map (as /proc/PID/uid_map takes it) gives the namespace a root. */
export function mapsRoot(map: string | undefined): boolean {
  return map !== undefined && map.split('\n').some((line) => line.startsWith('0 '));
}

export function normalizeSpawnArguments(command: unknown, args: unknown, options: unknown): NormalizedOptions {
  checkString('command', command, false);
  const { args: argStrings, options: o } = splitArguments(args, options);

  const join = checkJoin(o.join);
  const init = checkBoolean('options.init', o.init, join === null);
  if (init && join !== null) throw invalidValue('options.init', o.init, 'cannot be true with options.join (the joined namespace has its own pid 1)');
  if (join !== null && o.userNamespace !== undefined && o.userNamespace !== false) {
    throw invalidValue('options.userNamespace', o.userNamespace, 'cannot be used with options.join (a joined namespace keeps its own user namespace)');
  }
  const newNamespace = checkNewNamespace(o.newNamespace);
  if (newNamespace !== true) {
    const needs = (option: string, value: unknown, what: string) =>
      invalidValue(option, value, `cannot be used with options.newNamespace ${newNamespace === false ? 'false' : "'auto'"} (${what})`);
    if (join !== null) throw needs('options.join', o.join, 'joining enters an existing namespace');
    if (!init) throw needs('options.init', o.init, 'without a new namespace the init is what ends the command\'s descendants');
    if (o.mountProc === true) throw needs('options.mountProc', o.mountProc, 'a /proc of its own needs a PID namespace of its own');
    if (o.userNamespace !== undefined && o.userNamespace !== false) throw needs('options.userNamespace', o.userNamespace, 'a user namespace is made with the PID namespace');
    if (o.pidMax !== undefined) throw needs('options.pidMax', o.pidMax, 'pid_max is set in a PID namespace of its own');
    if (o.joinNamespaces !== undefined) throw needs('options.joinNamespaces', o.joinNamespaces, "entering a process's namespaces joins its PID namespace");
    refuseNewNamespaces(o, `options.newNamespace ${newNamespace === false ? 'false' : "'auto'"} (they are made with a PID namespace of its own)`);
  }
  if (join !== null) refuseNewNamespaces(o, "options.join (a joined namespace's others are entered with options.joinNamespaces, not made)");
  const joinNamespaces = checkJoinNamespaces(o.joinNamespaces);
  if (joinNamespaces !== null && join === null) {
    throw invalidValue('options.joinNamespaces', o.joinNamespaces, 'needs options.join: the pid (or PidNamespace) whose namespaces to enter');
  }
  if (joinNamespaces !== null && join?.kind === 'path' && join.targetPid === undefined) {
    throw invalidValue('options.join', join.path, 'cannot be a namespace file path with options.joinNamespaces (a PID namespace file names no other namespace): give the pid of a process, or a PidNamespace');
  }
  const pidMax = checkPidMax('options.pidMax', o.pidMax);
  if (pidMax !== null && join !== null) {
    throw invalidValue('options.pidMax', o.pidMax, "cannot be used with options.join (a namespace's pid_max is set by its creator)");
  }
  const nsPid = checkNsPid('options.nsPid', o.nsPid);
  if (nsPid !== null && join === null) {
    throw invalidValue('options.nsPid', o.nsPid, `needs options.join (in a new namespace the command is pid ${init ? 2 : 1})`);
  }
  const mountProc = checkBoolean('options.mountProc', o.mountProc, false);
  const namespaces = join === null && newNamespace === true ? checkNewNamespaces(o, mountProc) : NO_NEW_NAMESPACES;
  const waitForDescendants = checkBoolean('options.waitForDescendants', o.waitForDescendants, false);
  if (waitForDescendants && !init) {
    throw invalidValue('options.waitForDescendants', o.waitForDescendants, `cannot be true with ${join ? 'options.join' : 'options.init false'} (only the bundled init can wait for the others)`);
  }
  if (waitForDescendants && o.teardownGraceMs !== undefined && o.teardownGraceMs !== 0) {
    throw invalidValue('options.teardownGraceMs', o.teardownGraceMs, 'cannot be used with options.waitForDescendants (nothing is ended when the command ends)');
  }
  const stdio = checkStdio(o.stdio);
  const terminal = checkTerminal(o.terminal, stdio);
  if (terminal && o.foreground === true) {
    throw invalidValue('options.foreground', o.foreground, 'cannot be used with options.terminal (the command gets a terminal of its own, not yours)');
  }
  const { env, path } = checkEnv(o.env);
  const serialization = checkSerialization(o.serialization);
  const userNamespace = checkUserNamespace(o.userNamespace);

  const signal = o.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidType('options.signal', 'an instance of AbortSignal', signal);
  const timeout = o.timeout === undefined ? 0 : checkInteger('options.timeout', o.timeout, 0, MAX_MS);
  const teardownGraceMs = o.teardownGraceMs === undefined ? 0 : checkInteger('options.teardownGraceMs', o.teardownGraceMs, 0, MAX_MS);

  return {
    command: command as string,
    args: argStrings,
    init,
    join,
    joinNamespaces,
    newNamespace,
    waitForDescendants,
    stdio,
    serialization,
    env: withChannelVariables(env, stdio, serialization),
    terminal,
    envPath: path,
    cwd: checkCwd(o.cwd),
    argv0: o.argv0 === undefined ? (command as string) : checkString('options.argv0', o.argv0),
    // In a new user namespace the command runs as root there when the map has a root: with a map
    // that leaves out the caller's own id, it would otherwise be the overflow id (nobody).
    uid: o.uid === undefined ? (mapsRoot(userNamespace?.uidMap) ? 0 : -1) : checkInteger('options.uid', o.uid, 0, MAX_ID),
    gid: o.gid === undefined ? (mapsRoot(userNamespace?.gidMap) ? 0 : -1) : checkInteger('options.gid', o.gid, 0, MAX_ID),
    signal: signal as AbortSignal | undefined,
    timeout,
    killSignal: checkKillSignal(o.killSignal),
    dieWithParent: checkBoolean('options.dieWithParent', o.dieWithParent, true),
    signalGroup: checkBoolean('options.signalGroup', o.signalGroup, false),
    foreground: checkBoolean('options.foreground', o.foreground, false),
    teardownGraceMs,
    mountProc,
    noNewPrivileges: checkBoolean('options.noNewPrivileges', o.noNewPrivileges, false),
    userNamespace,
    cgroup: checkCgroup(o.cgroup),
    pidMax,
    nsPid,
    namespaces,
  };
}

/** The options of PidNamespace.create(). */
export function normalizePodOptions(options: unknown): NormalizedPodOptions {
  const o = podOptionsObject(options);
  if (o.newNamespace !== undefined && o.newNamespace !== true) {
    throw invalidValue('options.newNamespace', o.newNamespace, 'cannot be used with PidNamespace.create (a pod is a PID namespace of its own; spawn with newNamespace instead)');
  }
  // null is the default, as `??` has always read these two.
  const mountProc = checkBoolean('options.mountProc', o.mountProc ?? undefined, false);
  const namespaces = checkNewNamespaces(o, mountProc);
  if (namespaces.kinds.includes('time')) {
    throw invalidValue('options.namespaces', o.namespaces, "cannot include 'time' for a PidNamespace: its members could not enter it (the kernel refuses setns into a time namespace from a process that shares memory, EUSERS, and pidns starts members from one that shares Node's); give a command its own with spawnInPidNamespace");
  }
  return {
    dieWithParent: checkBoolean('options.dieWithParent', o.dieWithParent ?? undefined, true),
    mountProc,
    userNamespace: checkUserNamespace(o.userNamespace),
    cgroup: checkCgroup(o.cgroup),
    pidMax: checkPidMax('options.pidMax', o.pidMax ?? undefined),
    namespaces,
  };
}

/** The grace of PidNamespace.close(), in milliseconds. */
export function checkCloseOptions(options: unknown, defaultGraceMs: number): number {
  const graceMs = podOptionsObject(options).graceMs ?? undefined;
  return graceMs === undefined ? defaultGraceMs : checkInteger('options.graceMs', graceMs, 0, MAX_MS);
}

/** A PidNamespace method's options: any object (an array too, as it always was), not null. */
function podOptionsObject(options: unknown): Record<string, unknown> {
  if (options === undefined) return Object.create(null) as Record<string, unknown>;
  if (typeof options !== 'object' || options === null) throw invalidType('options', 'of type object', options);
  return ownProperties(options);
}
