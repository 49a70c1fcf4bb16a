// Errors: typed argument errors raised before anything is spawned, and SystemError-shaped errors
// for kernel refusals, each with a hint that says what to do.
import * as fs from 'fs';
import * as os from 'os';
import * as util from 'util';
import { namespaceLimitName, TIME_OFFSET_MAX, type NewNamespaceKind } from './namespace-limits';

/** A wrong argument type or value (ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE, ERR_UNKNOWN_SIGNAL). */
export class PidnsArgumentError extends TypeError {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = 'TypeError';
  }
}

/** A number out of range (ERR_OUT_OF_RANGE). */
export class PidnsRangeError extends RangeError {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = 'RangeError';
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return 'function';
  if (typeof value === 'symbol') return 'a symbol';
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  try {
    let shown = util.inspect(value);
    if (shown.length > 40) shown = `${shown.slice(0, 40)}...`;
    return `type ${typeof value} (${shown})`;
  } catch {
    return `type ${typeof value}`;
  }
}

export function invalidType(name: string, expected: string, actual: unknown): PidnsArgumentError {
  return new PidnsArgumentError('ERR_INVALID_ARG_TYPE', `The "${name}" argument must be ${expected}. Received ${describe(actual)}`);
}

export function invalidValue(name: string, actual: unknown, reason: string): PidnsArgumentError {
  return new PidnsArgumentError('ERR_INVALID_ARG_VALUE', `The argument '${name}' ${reason}. Received ${describe(actual)}`);
}

export function outOfRange(name: string, range: string, actual: unknown): PidnsRangeError {
  return new PidnsRangeError('ERR_OUT_OF_RANGE', `The value of "${name}" is out of range. It must be ${range}. Received ${describe(actual)}`);
}

/** Shaped like Node's SystemError: code, errno (negative), syscall, path, spawnargs. */
export class PidnsSystemError extends Error {
  /** The errno name ('ENOENT'), or one of pidns's own codes ('ERR_NAMESPACE_ENDED'). */
  code: string;
  /** The negative errno, as Node reports it. */
  errno: number;
  /** The system call that failed ('execve', 'clone', 'setns', ...). */
  syscall: string;
  /** The file concerned: the command, the cwd, or the namespace file. */
  path?: string;
  /** The command and its arguments. */
  spawnargs?: string[];
  /** What to do about it (also at the end of the message). */
  hint?: string;

  constructor(fields: { code: string; errno: number; syscall: string; message: string; path?: string; spawnargs?: string[]; hint?: string }) {
    super(fields.hint ? `${fields.message} (${fields.hint})` : fields.message);
    this.name = 'Error';
    this.code = fields.code;
    this.errno = fields.errno;
    this.syscall = fields.syscall;
    if (fields.path !== undefined) this.path = fields.path;
    if (fields.spawnargs !== undefined) this.spawnargs = fields.spawnargs;
    if (fields.hint !== undefined) this.hint = fields.hint;
  }
}

export interface FailureContext {
  /** What was being done, e.g. 'spawn /bin/ls' or 'join /proc/42/ns/pid'. */
  action: string;
  path?: string;
  spawnargs?: string[];
  joining?: boolean;
  /** A new user namespace was being created. */
  userNamespace?: boolean;
  /** The pid asked for in the namespace joined (options.nsPid). */
  nsPid?: number;
  /** For a refused setns: the namespace it was entering, by its name in /proc/PID/ns. */
  namespace?: string;
  /** The namespaces being created besides the PID and user namespaces (options.namespaces). */
  newNamespaces?: readonly NewNamespaceKind[];
}

/** A limit under /proc/sys/user, as the caller's user namespace sees it, or null if unreadable. */
function userLimit(name: string): number | null {
  try {
    return Number(fs.readFileSync(`/proc/sys/user/${name}`, 'utf8').trim());
  } catch {
    return null;
  }
}

/** Which namespace limit most likely refused the clone, and what to change. */
function namespaceLimitHint(userNamespace: boolean, newNamespaces: readonly NewNamespaceKind[] = []): string {
  const names = userNamespace ? ['max_user_namespaces', 'max_pid_namespaces'] : ['max_pid_namespaces'];
  for (const kind of newNamespaces) names.push(namespaceLimitName(kind));
  if (userNamespace && !newNamespaces.includes('mnt')) names.push('max_mnt_namespaces');
  const limits = names.map((name) => ({ name, value: userLimit(name) }));
  const zero = limits.find((l) => l.value === 0);
  if (zero) return `user.${zero.name} is 0 here, which forbids new namespaces: raise /proc/sys/user/${zero.name} (sysctl user.${zero.name}=N)`;
  const shown = limits.map((l) => `user.${l.name}=${l.value ?? '?'}`).join(', ');
  return `a namespace limit is reached (${shown}; each counts every namespace of this user, in this user namespace and its ancestors): end other namespaces or raise the limit in /proc/sys/user`;
}

const errnoNames = new Map<number, string>();
for (const [name, number] of Object.entries(os.constants.errno)) if (!errnoNames.has(number)) errnoNames.set(number, name);
if (!errnoNames.has(87)) errnoNames.set(87, 'EUSERS'); // user namespaces nested too deep; not in os.constants

// Texts libuv has no entry for (it only knows the errors its own calls return).
const extraTexts: Record<string, string> = {
  ENOEXEC: 'exec format error',
  EUSERS: 'too many users',
  ECHILD: 'no child processes',
};

function errnoName(errno: number): string {
  return errnoNames.get(Math.abs(errno)) ?? `E${Math.abs(errno)}`;
}

function errnoText(errno: number): string {
  const name = errnoName(errno);
  const entry = util.getSystemErrorMap?.().get(-Math.abs(errno));
  return entry ? entry[1] : extraTexts[name] ?? name;
}

const E = os.constants.errno;

const CLONE3_HINT = 'placing a process in a cgroup needs clone3 with CLONE_INTO_CGROUP (Linux 5.7), which this kernel or its seccomp profile does not offer: leave out the cgroup option';

/**
 * How a hint names the way to a user namespace: the API's option, or the command line's flag.
 * Every hint that names an option of both goes through this, so that each audience reads its own.
 */
interface Spelling {
  userNamespace: string;
  /** The mode without a new namespace (options.newNamespace false). */
  noNewNamespace: string;
  /** Entering the target's user namespace too (options.joinNamespaces). */
  enterUser: string;
}
const API_SPELLING: Spelling = {
  userNamespace: 'pass userNamespace: true',
  noNewNamespace: "where no namespace can be made, pass newNamespace: false (or 'auto'), which needs no privilege: the init then runs as a subreaper in your own PID namespace",
  enterUser: "name 'user' in joinNamespaces",
};
const CLI_SPELLING: Spelling = {
  userNamespace: 'use pidns run --user',
  noNewNamespace: 'where no namespace can be made, use pidns run --no-new-namespace, which needs no privilege: the init then runs as a subreaper in your own PID namespace',
  enterUser: 'add --user',
};

/** The message of an error as the pidns command line shows it (its flags, not the API's options). */
export const CLI_MESSAGE = Symbol('pidns.cliMessage');

/** The message of any error for the command line: its own wording when there is one. */
export function cliMessage(err: unknown): string {
  const e = err as { [CLI_MESSAGE]?: string; message?: unknown } | null;
  return e?.[CLI_MESSAGE] ?? String(e?.message ?? err);
}

/** The refusals of options.pidMax (the write of pid_max) and options.nsPid (clone3's set_tid). */
function pidControlHint(errno: number, syscall: string, ctx: FailureContext, spell: Spelling): string | undefined {
  if (syscall === 'pid_max') {
    switch (errno) {
      case E.EACCES:
      case E.EPERM:
        return `setting pidMax needs CAP_SYS_ADMIN over the user namespace that owns the new PID namespace: run as root, or ${spell.userNamespace} with a map that has a root`;
      case E.EINVAL:
        return 'the kernel takes a pid_max from 301 (8 per possible CPU where that is more) to 4194304';
      case E.EOPNOTSUPP:
        return 'this kernel has no pid_max per PID namespace (Linux 6.14): leave out pidMax';
      case E.ENOENT:
        return '/proc/sys/kernel/pid_max is not there: /proc is not mounted';
      default:
        return undefined;
    }
  }
  if (syscall !== 'clone3' || ctx.nsPid === undefined) return undefined;
  switch (errno) {
    case E.ENOSYS:
      return 'choosing the pid inside (nsPid) needs clone3 with set_tid (Linux 5.5), which this kernel or its seccomp profile does not offer: leave out nsPid';
    case E.EPERM:
      return 'choosing the pid inside (nsPid) needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE over the user namespace that owns the namespace joined: run as root, or join a namespace of a user namespace of yours (a pod made with userNamespace: true)';
    case E.EINVAL:
      return `nsPid ${ctx.nsPid} is at or above the joined namespace's pid_max (its /proc/sys/kernel/pid_max, read from inside): choose a lower pid`;
    default:
      return undefined;
  }
}

/** Hints for the refusals of setting up the new namespaces; undefined where the general hint fits. */
function newNamespacesHint(errno: number, syscall: string, kinds: readonly NewNamespaceKind[], namespace: string | undefined, userNamespaceWay: string): string | undefined {
  const late = kinds.filter((k) => k === 'cgroup' || k === 'time').join(' and ');
  switch (syscall) {
    case 'unshare':
      if (errno === E.EPERM) return `creating a ${late} namespace needs CAP_SYS_ADMIN: run as root, or ${userNamespaceWay}`;
      if (errno === E.EINVAL) return `this kernel has no ${late} namespaces (cgroup: Linux 4.6, CONFIG_CGROUPS; time: Linux 5.6, CONFIG_TIME_NS): leave ${late} out of namespaces`;
      return undefined;
    case 'timens_offsets':
      if (errno === E.ERANGE) return `the kernel refuses an offset that takes a clock below 0 or above ${TIME_OFFSET_MAX} seconds`;
      if (errno === E.EPERM || errno === E.EACCES) return `time offsets need CAP_SYS_TIME over the time namespace's user namespace: run as root, or ${userNamespaceWay}`;
      if (errno === E.ENOENT) return '/proc/self/timens_offsets is not there: /proc is not mounted, or this kernel has no time namespaces';
      return undefined;
    case 'sethostname':
      if (errno === E.EPERM) return `setting the host name needs CAP_SYS_ADMIN over the UTS namespace's user namespace: run as root, or ${userNamespaceWay}`;
      return undefined;
    case 'ioctl':
      if (namespace !== 'net') return undefined;
      if (errno === E.EPERM) return `bringing the loopback interface up needs CAP_NET_ADMIN over the network namespace's user namespace: run as root, or ${userNamespaceWay}`;
      return 'the new network namespace\'s loopback interface could not be brought up';
    default:
      return undefined;
  }
}

/** What to do about a refusal, by errno and the call that failed. */
function hintFor(errno: number, syscall: string, ctx: FailureContext, spell: Spelling = API_SPELLING): string | undefined {
  const pidControl = pidControlHint(errno, syscall, ctx, spell);
  if (pidControl !== undefined) return pidControl;
  const newNamespaces = newNamespacesHint(errno, syscall, ctx.newNamespaces ?? [], ctx.namespace, spell.userNamespace);
  if (newNamespaces !== undefined) return newNamespaces;
  switch (errno) {
    case E.EPERM:
      // A user namespace refused at clone: its creation is restricted (the kernel then returns
      // EPERM, not ENOSPC as for a limit of 0), or the new namespace is denied CAP_SYS_ADMIN
      // (Ubuntu's AppArmor restriction), or a seccomp filter refuses the flags (Docker's default).
      if (syscall === 'clone' && ctx.userNamespace)
        return `this system does not let this user create user namespaces: on Ubuntu 23.10 and later AppArmor restricts them (sysctl kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile for node that allows userns), on Debian kernels kernel.unprivileged_userns_clone=0 does (set it to 1), in a container its seccomp profile does (allow clone, unshare and setns); or run as root; or, ${spell.noNewNamespace}`;
      if (syscall === 'uid_map')
        return 'an id map other than your own uid and gid needs CAP_SETUID/CAP_SETGID: map only your own ids, or run as root';
      // In a user namespace, the kernel mounts a new proc only where the current /proc is fully
      // visible; container runtimes hide parts of it under other mounts.
      if (syscall === 'mount' && ctx.userNamespace)
        return 'a new /proc in a user namespace needs the current /proc fully visible, and mounts hide parts of it, as a container runtime masks paths (Docker: --security-opt systempaths=unconfined; Kubernetes: procMount: Unmasked); or leave out mountProc';
      if (syscall === 'mount') return 'mounting /proc was refused: the PID namespace must belong to the user namespace doing it';
      if (syscall === 'clone')
        return `creating a PID namespace needs CAP_SYS_ADMIN: run as root, or ${spell.userNamespace}; in a container, root needs CAP_SYS_ADMIN and a seccomp profile that allows clone, unshare and setns (Docker: --cap-add SYS_ADMIN); or, ${spell.noNewNamespace}`;
      if (syscall === 'setns' && ctx.namespace === 'user')
        return "entering the target's user namespace needs CAP_SYS_ADMIN in it: it must be one your user created (or one made inside such a one), or run as root";
      if (syscall === 'setns' && ctx.namespace && ctx.namespace !== 'pid')
        return `entering the target's ${ctx.namespace} namespace needs CAP_SYS_ADMIN over the user namespace that owns it and over your own: run as root, or, when the target's user namespace is one your user created, ${spell.enterUser} so that it is entered first; in a container, root needs CAP_SYS_ADMIN and a seccomp profile that allows setns`;
      if (syscall === 'chroot')
        return `changing to the target's root directory needs CAP_SYS_CHROOT: run as root, or, when the target's user namespace is one your user created, ${spell.enterUser}`;
      if (syscall === 'setns')
        return `joining a PID namespace needs CAP_SYS_ADMIN: run as root, or ${spell.userNamespace}; in a container, root needs CAP_SYS_ADMIN and a seccomp profile that allows clone, unshare and setns`;
      if (syscall === 'setuid' || syscall === 'setgid' || syscall === 'setgroups')
        return 'changing uid or gid needs CAP_SETUID/CAP_SETGID: run as root, or leave uid and gid unset';
      return `the kernel refused the operation: run as root, or ${spell.userNamespace}`;
    case E.ENOENT:
      if (syscall === 'chdir') return 'the cwd option names a directory that does not exist';
      if (ctx.joining && syscall === 'open') return 'the join target does not exist: give the pid of a running process, or a namespace file such as /proc/PID/ns/pid';
      return 'the command was not found: check the name, the PATH in env, and the cwd option';
    case E.EACCES:
      if (ctx.joining) {
        return process.geteuid?.() === 0
          ? 'the target refuses access to its namespace files even to root: it is not dumpable, or in a user namespace this process has no capabilities over (the same access as ptrace)'
          : "opening another user's namespace file needs root (the same access as ptrace)";
      }
      if (syscall === 'chdir') return 'the cwd directory is not searchable by the child';
      return 'the file is not executable, or a directory on its path is not searchable';
    case E.ENOEXEC:
      return 'the file is not an executable format the kernel knows (a script needs a #! line)';
    case E.EINVAL:
      if (syscall === 'setns' && ctx.namespace && ctx.namespace !== 'pid') return `the kernel refused to enter the target's ${ctx.namespace} namespace from this process`;
      if (syscall === 'setns' || (ctx.joining && syscall === 'open')) return 'the join target is not a PID namespace of this system';
      if (syscall === 'mount') return "the kernel refused a mount (a propagation change needs a mount point; /proc needs a directory there)";
      // Linux 5.3 to 5.6 have clone3 but not CLONE_INTO_CGROUP.
      if (syscall === 'clone3') return CLONE3_HINT;
      if (syscall === 'setuid' || syscall === 'setgid')
        return ctx.userNamespace ? 'the uid or gid option is not mapped in the user namespace: add it to uidMap/gidMap' : 'the uid or gid option is not a valid id';
      return 'the kernel refused the arguments of this call';
    case E.ENOSYS:
      if (syscall === 'clone3') return CLONE3_HINT;
      return `this kernel, or a seccomp profile it runs under, does not offer ${syscall}`;
    case E.ESRCH:
      return 'no process has that pid (it may have exited)';
    case E.EBADF:
      return 'a descriptor number in stdio is not open in this process';
    case E.ENOTDIR:
      if (syscall === 'chdir') return 'the cwd option names something that is not a directory';
      return 'a component of the path is not a directory';
    case E.ENAMETOOLONG:
      return 'a path (the command or the cwd option) is longer than the kernel accepts (4095 bytes, 255 per component)';
    case E.ELOOP:
      return 'a path (the command or the cwd option) has too many symbolic links, or a loop of them';
    case E.ENOSPC:
      return namespaceLimitHint(Boolean(ctx.userNamespace), ctx.newNamespaces);
    case 87 /* EUSERS */:
      return 'user namespaces nest at most 32 deep';
    case E.EAGAIN:
      return 'the process limit is reached (RLIMIT_NPROC, kernel.pid_max or a pids cgroup limit)';
    case E.EMFILE:
      return 'this process has too many open files: raise RLIMIT_NOFILE (ulimit -n) or close descriptors';
    case E.ENFILE:
      return 'the system has too many open files';
    case E.E2BIG:
      return 'the arguments and environment are larger than the kernel accepts';
    default:
      return undefined;
  }
}

/** Converts a refusal the kernel gave (positive errno) into a SystemError-shaped error. */
export function systemError(errno: number, syscall: string, ctx: FailureContext): PidnsSystemError {
  if (errno === E.ENOMEM && ctx.joining && (syscall === 'clone' || syscall === 'clone3' || syscall === 'fork')) {
    return new PidnsSystemError({
      code: 'ERR_NAMESPACE_ENDED',
      errno: -errno,
      syscall,
      path: ctx.path,
      spawnargs: ctx.spawnargs,
      message: `${ctx.action}: the namespace has ended`,
      hint: 'its pid 1 has exited, so nothing can join it any more',
    });
  }
  if (errno === E.EEXIST && syscall === 'clone3' && ctx.nsPid !== undefined) {
    return new PidnsSystemError({
      code: 'ERR_NS_PID_IN_USE',
      errno: -errno,
      syscall,
      path: ctx.path,
      spawnargs: ctx.spawnargs,
      message: `${ctx.action}: pid ${ctx.nsPid} is in use in the namespace joined`,
      hint: 'a process of that namespace has it, as its pid or as its process group or session: choose another nsPid, or leave it out for the next free pid',
    });
  }
  const code = errnoName(errno);
  const message = `${ctx.action} ${code}: ${errnoText(errno)}`;
  const hint = hintFor(errno, syscall, ctx);
  const err = new PidnsSystemError({ code, errno: -errno, syscall, path: ctx.path, spawnargs: ctx.spawnargs, message, hint });
  const cliHint = hintFor(errno, syscall, ctx, CLI_SPELLING);
  if (cliHint !== hint) Object.defineProperty(err, CLI_MESSAGE, { value: `${message} (${cliHint})` });
  return err;
}

/** A call that the state of a namespace does not allow (closing one that is not ours, ...). */
export class PidnsStateError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = 'Error';
  }
}

/** The error for any use of a namespace whose pid 1 has exited. */
export function namespaceEnded(action: string, namespaceId: number, syscall = 'setns'): PidnsSystemError {
  return new PidnsSystemError({
    code: 'ERR_NAMESPACE_ENDED',
    errno: -E.ESRCH,
    syscall,
    message: `${action}: the namespace has ended (pid namespace ${namespaceId})`,
    hint: 'its pid 1 has exited, so nothing can join it any more',
  });
}

/** freeze(), thaw() or cgroupStats() of something not placed in a cgroup. */
export function noCgroup(action: string): PidnsStateError {
  return new PidnsStateError('ERR_NO_CGROUP', `${action}: not in a cgroup of its own (spawn it with options.cgroup)`);
}
