// spawnInPidNamespace(): start a command in a new PID namespace (under the init, or as pid 1) or
// in an existing one.
import * as fs from 'fs';
import * as os from 'os';
import { isMainThread } from 'worker_threads';
import { PidNamespaceChild, type ChildControl } from './child';
import { namespaceEnded, PidnsSystemError, systemError } from './errors';
import { ForegroundJob, terminalIsOurs } from './foreground';
import { startInit, type InitProcess } from './init-process';
import { initPath, isFailure, native, type NativeSpawnOptions } from './native';
import { mapsRoot, normalizeSpawnArguments, type NormalizedOptions, type SpawnOptions } from './options';
import { checkProcIsOurs, childByNsPid, isHeld, ownPidInProc, pidNamespaceId } from './proc';
import { MSG_CHILD, MSG_EXEC_FAILED, MSG_EXITED, MSG_STARTED, MSG_STOPPED, MSG_USAGE_MAXRSS, MSG_USAGE_SYSTEM, MSG_USAGE_USER, START_STEP_SYSCALLS } from './protocol';
import { resolveCommand } from './resolve';
import { CgroupPlacement } from './cgroup';
import { armKillers, abortError } from './deadline';
import { decodeWaitStatus, signalNumber, type ExitStatus, type ResourceUsage } from './signals';
import { channelEnd, checkStdioOpen, openStreams, openTerminalStream, prepareStdio, releaseStdio, type PreparedStdio } from './stdio';

/** False on kernels without pidfds (before 5.3), or when PIDNS_NO_PIDFD=1 forces the fallback. */
export const usePidfd = !process.env.PIDNS_NO_PIDFD && native.pidfdSupported();
// Always, before the first clone: even with pidfds, a pidfd_open after the clone can fail (EMFILE,
// ENOMEM), and that child's exit is then watched through SIGCHLD, which must not be missed.
native.startFallbackWatch();

const SIGKILL = signalNumber('SIGKILL');
/** How long past its grace an init may take to report an ended command before it is ended. */
const STUCK_INIT_MS = 2000;
const SIGSTOP = signalNumber('SIGSTOP');
const { ENOENT, ESRCH, EINVAL, ENOSYS } = os.constants.errno;

interface Context {
  opts: NormalizedOptions;
  file: string;
  spawnargs: string[];
  action: string;
  /** Where the namespace's first process is created, or null. */
  cgroup: CgroupPlacement | null;
  /** options.foreground, and the caller's terminal is there to be handed over. */
  withTerminal: boolean;
}

/**
 * Starts `command` in a PID namespace and resolves once it has been exec'd.
 *
 * By default a new namespace is created with the bundled init as pid 1 and the command as pid 2;
 * `init: false` makes the command pid 1 itself; `join` enters an existing namespace.
 * Rejects with TypeError/RangeError for bad arguments (nothing is started) and with a
 * SystemError-shaped error when the kernel refuses (ENOENT, EACCES, EPERM, EINVAL, ...).
 */
export async function spawnInPidNamespace(command: string, args?: readonly string[], options?: SpawnOptions): Promise<PidNamespaceChild> {
  const opts = normalizeSpawnArguments(command, args, options);
  const child = await startChild(opts);
  armKillers(child, opts);
  return child;
}

/** Starts the command of validated options; timeout and signal are left to the caller. */
export async function startChild(opts: NormalizedOptions): Promise<PidNamespaceChild> {
  if (opts.signal?.aborted) throw abortError(opts.signal);
  const spawnargs = [opts.command, ...opts.args];
  const action = `spawn ${opts.command}`;
  checkProcIsOurs(action);
  checkStdioOpen(opts.stdio, action);
  const resolution = resolveCommand(opts.command, opts.envPath, opts.cwd);
  if ('errno' in resolution) throw systemError(resolution.errno, 'execve', { action, path: opts.command, spawnargs });
  const cgroup = opts.cgroup ? CgroupPlacement.prepare(opts.cgroup, action) : null;
  const withTerminal = opts.foreground && terminalIsOurs(opts.stdio);
  const ctx: Context = { opts, file: resolution.file, spawnargs, action, cgroup, withTerminal };

  let child: PidNamespaceChild;
  try {
    if (opts.join) child = spawnJoined(ctx);
    else if (opts.init) child = await spawnUnderInit(ctx);
    else child = spawnDirect(ctx);
  } catch (err) {
    cgroup?.release();
    await cgroup?.remove();
    throw err;
  }
  cgroup?.release();
  return child;
}

/** The end of a child: a cgroup pidns made is killed and removed first, so that it is gone by then. */
function finish(child: PidNamespaceChild, cgroup: CgroupPlacement | null, status: ExitStatus): void {
  if (!cgroup?.owned) {
    child._finish(status);
    return;
  }
  cgroup.remove().then(
    () => child._finish(status),
    () => child._finish(status),
  );
}

/** What the addon needs to start a process in new namespaces; joining fills in the join fields. */
export function spawnRequest(
  fields: Pick<NativeSpawnOptions, 'file' | 'argv' | 'envp' | 'cwd' | 'uid' | 'gid' | 'fdMap' | 'mountProc'> & {
    noNewPrivileges?: boolean;
    userNamespace: NormalizedOptions['userNamespace'];
  },
): NativeSpawnOptions {
  const { userNamespace, noNewPrivileges, ...rest } = fields;
  return {
    ...rest,
    noNewPrivileges: noNewPrivileges ?? false,
    foreground: false,
    terminal: false,
    newPidNamespace: true,
    joinFd: -1,
    joinUserFd: -1,
    pdeathsig: 0,
    parentPid: 0,
    usePidfd,
    newUserNamespace: userNamespace !== null,
    uidMap: userNamespace?.uidMap ?? '',
    gidMap: userNamespace?.gidMap ?? '',
    denySetgroups: userNamespace?.denySetgroups ?? false,
    cgroupFd: -1,
  };
}

function nativeOptions(ctx: Context, stdio: PreparedStdio): NativeSpawnOptions {
  const { opts } = ctx;
  const request = spawnRequest({
    file: ctx.file,
    argv: [opts.argv0, ...opts.args],
    envp: opts.env,
    cwd: opts.cwd,
    uid: opts.uid,
    gid: opts.gid,
    fdMap: stdio.fdMap,
    mountProc: opts.mountProc,
    noNewPrivileges: opts.noNewPrivileges,
    userNamespace: opts.userNamespace,
  });
  request.cgroupFd = ctx.cgroup?.fd ?? -1;
  return request;
}

function failureContext(ctx: Context, syscall: string, joinPath?: string) {
  const path = syscall === 'chdir' ? ctx.opts.cwd ?? undefined : syscall === 'setns' ? joinPath : ctx.opts.command;
  return { action: ctx.action, path, spawnargs: ctx.spawnargs, joining: joinPath !== undefined, userNamespace: ctx.opts.userNamespace !== null };
}

/** The command is exec'd by our child itself: pid 1 of a new namespace, or a joiner. */
function spawnDirect(ctx: Context, join?: JoinFds): PidNamespaceChild {
  const joinPath = join?.path;
  const stdio = prepareStdio(ctx.opts.stdio, ctx.action, ctx.opts.terminal);
  const request = nativeOptions(ctx, stdio);
  request.newPidNamespace = !join;
  request.joinFd = join ? join.fd : -1;
  request.joinUserFd = join?.userFd ?? -1;
  request.terminal = ctx.opts.terminal !== null;
  // PR_SET_PDEATHSIG follows the thread that forked, so it is only the process's lifetime on
  // the main thread. Under the init the control channel does this for every thread.
  request.pdeathsig = ctx.opts.dieWithParent && isMainThread ? SIGKILL : 0;
  request.parentPid = ownPidInProc();
  request.foreground = ctx.withTerminal;
  let result: ReturnType<typeof native.spawn>;
  try {
    result = native.spawn(request);
  } catch (err) {
    releaseStdio(stdio, true);
    throw err;
  }
  if (isFailure(result)) {
    releaseStdio(stdio, true);
    throw systemError(result.errno, result.syscall, failureContext(ctx, result.syscall, joinPath));
  }
  releaseStdio(stdio, false);
  // The exit callback never runs before this function returns: it comes from the event loop.
  const handle = new native.ProcessHandle(result.pid, result.pidfd, (status, usage) => {
    job?.end();
    finish(child, ctx.cgroup, decodeWaitStatus(status, usage));
  });
  const child = new PidNamespaceChild({
    pid: result.pid,
    nsPid: result.nsPid,
    init: null,
    namespaceId: result.namespaceId || pidNamespaceId(result.pid),
    stdio: openStreams(stdio),
    terminal: openTerminalStream(stdio),
    control: handle,
    cgroup: ctx.cgroup,
    spawnargs: ctx.spawnargs,
    spawnfile: ctx.opts.command,
    killSignal: ctx.opts.killSignal,
    channel: channelEnd(stdio, ctx.opts.serialization),
  });
  const job = ctx.opts.foreground ? new ForegroundJob(result.pid, ctx.withTerminal, ctx.withTerminal, (signo) => handle.signal(signo)) : null;
  job?.watchChildStops();
  return child;
}

interface JoinFds {
  fd: number;
  path: string;
  /** The owning user namespace to enter first (a rootless pod), or -1. */
  userFd: number;
}

/** O_PATH (Linux): a descriptor that names a file without opening it. Not in fs.constants. */
const O_PATH = 0o10000000;

/**
 * Opens a namespace file, refusing anything that is not a namespace of the given type. The path
 * is resolved once, to an O_PATH descriptor, which opens nothing (a device or a FIFO there has no
 * side effect and cannot block); only a regular file is then opened, through that descriptor, so
 * the file checked is the file opened even if the path changes meanwhile.
 */
function openNamespaceFile(path: string, type: number, fail: (errno: number, syscall: string) => Error, pidGone: boolean): { fd: number; ino: number } {
  const errnoOf = (err: unknown) => -((err as NodeJS.ErrnoException).errno ?? -EINVAL);
  let pathFd: number;
  try {
    pathFd = fs.openSync(path, O_PATH);
  } catch (err) {
    const errno = errnoOf(err);
    throw fail(pidGone && errno === ENOENT ? ESRCH : errno, 'open');
  }
  let fd: number;
  let ino: number;
  try {
    const stats = fs.fstatSync(pathFd);
    if (!stats.isFile()) throw fail(EINVAL, 'setns');
    ino = stats.ino;
    try {
      fd = fs.openSync(`/proc/self/fd/${pathFd}`, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
    } catch (err) {
      throw fail(errnoOf(err), 'open');
    }
  } finally {
    fs.closeSync(pathFd);
  }
  if (native.namespaceType(fd) !== type) {
    fs.closeSync(fd);
    throw fail(EINVAL, 'setns');
  }
  return { fd, ino };
}

/** Opens the namespace to join, refusing anything that is not a PID namespace. */
function openJoinTarget(ctx: Context): JoinFds {
  const join = ctx.opts.join!;
  const path = join.kind === 'pid' ? `/proc/${join.pid}/ns/pid` : join.path;
  const expectedId = join.kind === 'path' ? join.expectedId : undefined;
  const action = `${ctx.action}: join ${path}`;
  const fail = (errno: number, syscall: string) => {
    // A PidNamespace whose pid 1 is gone no longer has a namespace file to open.
    if (expectedId !== undefined && (errno === ENOENT || errno === ESRCH)) return namespaceEnded(ctx.action, expectedId);
    return systemError(errno, syscall, { action, path, spawnargs: ctx.spawnargs, joining: true });
  };
  const { fd, ino } = openNamespaceFile(path, native.constants.CLONE_NEWPID, fail, join.kind === 'pid');
  if (expectedId !== undefined && ino !== expectedId) {
    // The pid behind the path was recycled by a process of another namespace.
    fs.closeSync(fd);
    throw namespaceEnded(ctx.action, expectedId);
  }
  let userFd = -1;
  if (join.kind === 'path' && join.userPath) {
    try {
      userFd = openNamespaceFile(join.userPath, native.constants.CLONE_NEWUSER, fail, false).fd;
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
  }
  return { fd, path, userFd };
}

function spawnJoined(ctx: Context): PidNamespaceChild {
  const target = openJoinTarget(ctx);
  try {
    return spawnDirect(ctx, target);
  } finally {
    fs.closeSync(target.fd);
    if (target.userFd >= 0) fs.closeSync(target.userFd);
  }
}

function initArgs(ctx: Context): string[] {
  const { opts } = ctx;
  const args = ['--argv0', opts.argv0];
  if (opts.signalGroup) args.push('--signal-group');
  if (ctx.withTerminal) args.push('--foreground');
  if (opts.terminal) args.push('--terminal');
  if (opts.teardownGraceMs > 0) args.push('--grace-ms', String(opts.teardownGraceMs));
  if (!opts.dieWithParent) args.push('--no-die-with-parent');
  // The init keeps its own ids (see initIds); only the command takes these.
  const own = initIds(opts);
  if (opts.uid >= 0 && opts.uid !== own.uid) args.push('--uid', String(opts.uid));
  if (opts.gid >= 0 && opts.gid !== own.gid) args.push('--gid', String(opts.gid));
  if (opts.userNamespace?.denySetgroups) args.push('--groups-denied');
  // concat, not push(...): a spread of a huge argument list would overflow the call stack.
  return args.concat('--', ctx.file, opts.args);
}

/**
 * The init's spawn request. The init runs with the caller's credentials and changes them only in
 * the command's process: a command running as another uid can then neither signal nor ptrace the
 * init, nor take its control socket (pidfd_getfd).
 */
function initRequest(ctx: Context, stdio: PreparedStdio): NativeSpawnOptions {
  const request = nativeOptions(ctx, stdio);
  Object.assign(request, initIds(ctx.opts));
  armInitDeath(request, ctx.opts.dieWithParent);
  if (ctx.cgroup) request.cgroupFd = ctx.cgroup.fd;
  return request;
}

/**
 * The ids the init runs with: the caller's own (-1: unchanged), except in a new user namespace,
 * where an execve as an unmapped uid would drop the capabilities the init holds there: it becomes
 * that namespace's root before its execve when the maps give one.
 */
function initIds(opts: NormalizedOptions): { uid: number; gid: number } {
  const userNamespace = opts.userNamespace;
  if (!userNamespace) return { uid: -1, gid: -1 };
  // A map without a root leaves the init no capability there to change ids with later: it takes
  // the command's ids itself (and shares them with the command).
  return {
    uid: mapsRoot(userNamespace.uidMap) ? 0 : opts.uid,
    gid: mapsRoot(userNamespace.gidMap) ? 0 : opts.gid,
  };
}

/**
 * The parent-death signal for an init, of a spawn or a pod. The control socket's end of file
 * already ends the namespace with Node, but only while the init can run: a frozen init (cgroup
 * freeze) or one stopped by a tracer inside never reads it, and SIGKILL reaches both. It follows
 * the thread that forks, so only spawns from the main thread get it.
 */
export function armInitDeath(request: NativeSpawnOptions, dieWithParent: boolean): void {
  if (dieWithParent && isMainThread) {
    request.pdeathsig = SIGKILL;
    request.parentPid = ownPidInProc();
  }
}

/**
 * The init is our child and pid 1; it forks the command and reports over the control channel:
 * the command's pid (as credentials the kernel translates into our namespace) and a pidfd of it,
 * then whether execve worked, and finally the command's exact wait status.
 */
function spawnUnderInit(ctx: Context): Promise<PidNamespaceChild> {
  const stdio = prepareStdio(ctx.opts.stdio, ctx.action, ctx.opts.terminal);
  return new Promise((resolve, reject) => {
    let commandPid = -1;
    let commandHandle: InstanceType<typeof native.ProcessHandle> | null = null;
    let stuckInitTimer: NodeJS.Timeout | null = null;
    // Once the command has ended, the init reaps and reports it at once, or after the grace it
    // gives the others. An init that has done neither by then and is held stopped (by a tracer
    // inside, which only root there can be, or a stop signal) is ended, so that `exited` always
    // comes and nothing stays behind. One that is merely slow (a loaded machine) is left to run.
    const watchStuckInit = (delay = ctx.opts.teardownGraceMs + STUCK_INIT_MS) => {
      stuckInitTimer = setTimeout(() => {
        if (isHeld(init.pid)) init.handle.signal(SIGKILL);
        else watchStuckInit(STUCK_INIT_MS);
      }, delay);
      stuckInitTimer.unref();
    };
    let execErrno = 0;
    let execSyscall: string = 'execve';
    let commandStatus: number | undefined;
    const treeUsage: ResourceUsage = { userCPUTime: 0, systemCPUTime: 0, maxRSS: 0 };
    let treeUsageReported = false;
    let child: PidNamespaceChild | null = null;
    let job: ForegroundJob | null = null;

    let init: InitProcess;
    try {
      init = startInit(initRequest(ctx, stdio), initArgs(ctx), {
        onMessage(type, value, pid, pidfd, amount) {
          if (type === MSG_CHILD) {
            // Sent once, by the command's process before execve; a second one (which only code
            // running inside with the init's own descriptor could send) replaces nothing.
            if (commandPid !== -1) {
              if (pidfd >= 0) native.closeFd(pidfd);
              return;
            }
            commandPid = pid;
            if (pidfd >= 0) {
              if (usePidfd) {
                // Not our child: its pidfd only tells when it has ended (see watchStuckInit).
                commandHandle = new native.ProcessHandle(pid, pidfd, () => watchStuckInit(), true);
                commandHandle.unref();
              }
              else native.closeFd(pidfd);
            }
          } else if (type === MSG_STARTED && !child) {
            // The command's own report carries its pid as credentials; if it was lost (Node's
            // descriptor table was full, or the socket's buffer), the kernel's list of the init's
            // children has it. The command is a zombie of the init at worst, so it is still listed.
            if (commandPid === -1) commandPid = childByNsPid(init.pid, value);
            child = new PidNamespaceChild({
              pid: commandPid,
              nsPid: value,
              init: { pid: init.pid, nsPid: 1 },
              namespaceId: init.namespaceId,
              stdio: openStreams(stdio),
              terminal: openTerminalStream(stdio),
              control,
              cgroup: ctx.cgroup,
              spawnargs: ctx.spawnargs,
              spawnfile: ctx.opts.command,
              killSignal: ctx.opts.killSignal,
              channel: channelEnd(stdio, ctx.opts.serialization),
            });
            if (ctx.opts.foreground) {
              const ownGroup = ctx.opts.signalGroup || ctx.withTerminal;
              job = new ForegroundJob(commandPid, ownGroup, ctx.withTerminal, (signo) => control.signal(signo));
            }
            resolve(child);
          } else if (type === MSG_EXEC_FAILED) {
            execErrno = value;
            execSyscall = START_STEP_SYSCALLS[amount] ?? 'execve';
          } else if (type === MSG_EXITED) {
            commandStatus = value;
          } else if (type === MSG_USAGE_USER || type === MSG_USAGE_SYSTEM || type === MSG_USAGE_MAXRSS) {
            treeUsageReported = true;
            treeUsage[type === MSG_USAGE_USER ? 'userCPUTime' : type === MSG_USAGE_SYSTEM ? 'systemCPUTime' : 'maxRSS'] = amount;
          } else if (type === MSG_STOPPED) {
            job?.commandStopped(value);
          }
        },
        onExit(initStatus, usage) {
          commandHandle?.close();
          if (stuckInitTimer) clearTimeout(stuckInitTimer);
          job?.end();
          if (child) {
            // The init kills and reaps every process of the namespace before it exits and reports
            // what they used; the init's own rusage would also count the memory it shared with
            // Node before its execve. Without a report (the init was killed), what its reaping says.
            finish(child, ctx.cgroup, decodeWaitStatus(commandStatus ?? initStatus, treeUsageReported ? treeUsage : usage));
            return;
          }
          releaseStdio(stdio, true);
          if (execErrno) {
            reject(systemError(execErrno, execSyscall, failureContext(ctx, execSyscall)));
            return;
          }
          const status = decodeWaitStatus(initStatus);
          reject(new PidnsSystemError({
            code: 'ERR_INIT_FAILED',
            errno: -ESRCH,
            syscall: 'spawn',
            path: initPath,
            spawnargs: ctx.spawnargs,
            message: `${ctx.action}: the init ended before the command started (${status.signal ?? `exit ${status.code}`})`,
          }));
        },
      }, (errno, syscall) => systemError(errno, syscall, failureContext(ctx, syscall)));
    } catch (err) {
      releaseStdio(stdio, true);
      reject(err);
      return;
    }
    releaseStdio(stdio, false);
    const initHandle = init.handle;

    const control: ChildControl = {
      signal(signo) {
        // With signalGroup the init forwards to the whole group; SIGKILL cannot be forwarded, but
        // killing the init ends the namespace, group included.
        const viaInit = ctx.opts.signalGroup ? signo !== SIGSTOP : signo === SIGKILL && !commandHandle;
        let err = ENOSYS;
        if (!viaInit && commandHandle) err = commandHandle.signal(signo);
        if (err === ENOSYS) err = initHandle.signal(signo);
        // SIGKILL ends the namespace whatever state its init is in: a frozen init, or one stopped
        // by a tracer inside, could not reap or report, and a command already gone (the init
        // waiting out teardownGraceMs) leaves only the init to end.
        if (signo === SIGKILL) {
          const initErr = initHandle.signal(SIGKILL);
          if (err === ESRCH) err = initErr;
        }
        return err;
      },
      ref: () => initHandle.ref(),
      unref: () => initHandle.unref(),
    };
  });
}
