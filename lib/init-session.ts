// A session with the bundled init: the clone of pidns-init as pid 1 of a new PID namespace (or as
// a child subreaper in ours, for options.newNamespace false), and
// its control channel turned into typed events. The only module that knows the message numbers
// of the channel (protocol.ts); a spawn under the init and a pod both go through it.
import * as os from 'os';
import type { PidnsSystemError } from './errors';
import { initPath, isFailure, native, type NativeControlChannel, type NativeFailure, type NativeProcessHandle, type NativeSpawnResult } from './native';
import { pidNamespaceId } from './proc';
import { MSG_CHILD, MSG_EMPTY, MSG_EXEC_FAILED, MSG_EXITED, MSG_STARTED, MSG_STOPPED, MSG_USAGE_MAXRSS, MSG_USAGE_SYSTEM, MSG_USAGE_USER, REQ_KILL, REQ_TERMINATE, START_STEP_SYSCALLS } from './protocol';
import { initSettings, nativeRequest, runRequest, type InitLaunch, type PodLaunch } from './request';
import { signalNumber, type ResourceUsage } from './signals';

const { ENOENT, EACCES, ENOEXEC } = os.constants.errno;
const SIGKILL = signalNumber('SIGKILL');

/** What the init reports. Each is optional; all arrive on the event loop, `end` last. */
export interface InitEvents {
  /**
   * The command's process, just before its execve: its pid in our view and a pidfd of it (-1
   * without one; the listener's to close). Only the first report counts: a later one could only
   * come from code running inside with the init's own descriptor.
   */
  child?(pid: number, pidfd: number): void;
  /** The command was exec'd (its pid inside), or a pod's init is ready (0). Once. */
  started?(nsPid: number): void;
  /** The command could not be started: the errno and the call that failed. */
  execFailed?(errno: number, syscall: string): void;
  /** The command ended: its wait status as waitpid gave it. */
  exited?(waitStatus: number): void;
  /** The command was stopped by a signal. */
  stopped?(signo: number): void;
  /** Answer to terminate(): the init has no child left. */
  empty?(): void;
  /**
   * The init has been reaped; every report it sent came before. treeUsage: what the init reported
   * every process of the namespace used (null if it did not report, e.g. killed); usage: the
   * init's own, as its reaping gave it.
   */
  end(initStatus: number, treeUsage: ResourceUsage | null, usage: ResourceUsage | null): void;
}

export interface InitSession {
  pid: number;
  /** Read right after the clone, while the init is certainly there to read it from. */
  namespaceId: number;
  handle: NativeProcessHandle;
  /** Asks the init to SIGTERM every other process of the namespace, then answer `empty`. 0 or errno. */
  terminate(): number;
  /** Asks the init to end everything now and exit (the command's status is still reported). 0 or errno. */
  kill(): number;
}

/**
 * Whether a message can be the init's: the kernel attaches the sender's credentials to every
 * message (SO_PASSCRED), translated into our namespace, so every kind must come from the init's
 * pid. MSG_CHILD is the exception: the command's own process sends it between the init's fork and
 * its execve, before any code of the command runs, and only the first one is taken, so a later
 * forgery through a socket taken from the init changes nothing.
 */
function fromInit(type: number, pid: number, initPid: number): boolean {
  return type === MSG_CHILD || pid === initPid;
}

/** Turns the channel's messages into events. */
class Dispatcher {
  #childSeen = false;
  #started = false;
  #treeUsage: ResourceUsage | null = null;

  constructor(private readonly events: InitEvents) {}

  message(type: number, value: number, pidfd: number, pid: number, amount: number): void {
    const events = this.events;
    if (type !== MSG_CHILD && pidfd >= 0) native.closeFd(pidfd);
    switch (type) {
      case MSG_CHILD:
        // After STARTED too: the spawn has found the command's pid by then (from the kernel's
        // list of the init's children when this report was lost), and nothing may replace it.
        if (this.#childSeen || this.#started || !events.child) {
          if (pidfd >= 0) native.closeFd(pidfd);
        } else {
          events.child(pid, pidfd);
        }
        this.#childSeen = true;
        return;
      case MSG_STARTED:
        if (this.#started) return;
        this.#started = true;
        events.started?.(value);
        return;
      case MSG_EXEC_FAILED:
        events.execFailed?.(value, START_STEP_SYSCALLS[amount] ?? 'execve');
        return;
      case MSG_EXITED:
        events.exited?.(value);
        return;
      case MSG_STOPPED:
        events.stopped?.(value);
        return;
      case MSG_EMPTY:
        events.empty?.();
        return;
      case MSG_USAGE_USER:
      case MSG_USAGE_SYSTEM:
      case MSG_USAGE_MAXRSS: {
        const usage = (this.#treeUsage ??= { userCPUTime: 0, systemCPUTime: 0, maxRSS: 0 });
        usage[type === MSG_USAGE_USER ? 'userCPUTime' : type === MSG_USAGE_SYSTEM ? 'systemCPUTime' : 'maxRSS'] = amount;
        return;
      }
      default:
        // End of file (0) and kinds this version does not know.
        return;
    }
  }

  end(initStatus: number, usage: ResourceUsage | null): void {
    this.events.end(initStatus, this.#treeUsage, usage);
  }
}

/**
 * Clones and execs the init for a launch (request.ts), with a new control channel. Rejects with
 * what `refusal` makes of a failed system call. No event comes before it has resolved.
 */
export async function startInit(
  launch: InitLaunch | PodLaunch,
  events: InitEvents,
  refusal: (errno: number, syscall: string) => PidnsSystemError,
): Promise<InitSession> {
  const pair = native.controlPair();
  if (isFailure(pair)) throw refusal(pair.errno, pair.syscall);
  const [nodeFd, initFd] = pair;
  let result: NativeSpawnResult | NativeFailure;
  try {
    result = await runRequest(nativeRequest({ ...launch, ownedFds: [...launch.ownedFds, nodeFd, initFd] }, initFd));
  } catch (err) {
    native.closeFd(nodeFd);
    throw err;
  } finally {
    native.closeFd(initFd);
  }
  if (isFailure(result)) {
    native.closeFd(nodeFd);
    const err = refusal(result.errno, result.syscall);
    if (result.syscall === 'execve' && [ENOENT, EACCES, ENOEXEC].includes(result.errno)) {
      // The init itself could not be run: the installation is broken, not the command.
      err.path = initPath;
      // In a new user namespace the init runs as the uid the map gives it outside, which may not
      // be able to enter the folders on the way to the package (a 0700 /root or home).
      err.hint = result.errno === EACCES && initSettings(launch).userNamespace
        ? 'the init runs as the uid your uidMap maps it to, and that uid cannot reach this file: install pidns in a folder every user can enter, or map your own uid'
        : 'the bundled pidns-init could not be run: rebuild the package (npm rebuild pidns)';
      err.message = `cannot run ${initPath}: ${err.code} (${err.hint})`;
    }
    throw err;
  }
  // Unreaped, the init stays in /proc until its exit has been handled below.
  // From the init itself: once it is not dumpable, its /proc links may be closed to Node (an
  // unprivileged Node whose init belongs to an unmapped root).
  const initPid = result.pid;
  const dispatcher = new Dispatcher(events);
  let namespaceId: number;
  let channel: NativeControlChannel;
  try {
    // Without a /proc (none mounted) neither the child nor we can read it: nothing is left running.
    namespaceId = result.namespaceId || pidNamespaceId(result.pid);
  } catch (err) {
    native.closeFd(nodeFd);
    endUnheard(initPid, result.pidfd);
    throw err;
  }
  try {
    channel = new native.ControlChannel(nodeFd, (type, value, pid, pidfd, amount) => {
      if (type !== 0 && !fromInit(type, pid, initPid)) {
        if (pidfd >= 0) native.closeFd(pidfd);
        return;
      }
      dispatcher.message(type, value, pidfd, pid, amount);
    });
  } catch (err) {
    // The event loop refused to watch the channel (it closed the descriptor).
    endUnheard(initPid, result.pidfd);
    throw err;
  }
  const handle = new native.ProcessHandle(result.pid, result.pidfd, (status, usage) => {
    // The exit and the last messages can arrive in either order on the loop; read what is queued
    // first, so the listener always has the whole report.
    channel.drain();
    channel.close();
    dispatcher.end(status, usage);
  });
  return { pid: initPid, namespaceId, handle, terminate: () => channel.send(REQ_TERMINATE, 0), kill: () => channel.send(REQ_KILL, 0) };
}

/**
 * An init nobody hears is ended, and reaped by a handle of its own (a handle reaps only with a
 * callback). It is our unreaped child, so its pid cannot name another process meanwhile.
 */
function endUnheard(initPid: number, pidfd: number): void {
  const reaper = new native.ProcessHandle(initPid, pidfd, () => {});
  if (reaper.signal(SIGKILL) !== 0) process.kill(initPid, SIGKILL);
}
