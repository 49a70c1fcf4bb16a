// Starting the bundled init as pid 1 of a new PID namespace, with its control channel.
import * as os from 'os';
import type { PidnsSystemError } from './errors';
import type { ResourceUsage } from './signals';
import { pidNamespaceId } from './proc';
import { MSG_CHILD } from './protocol';
import { initPath, isFailure, native, type NativeControlChannel, type NativeProcessHandle, type NativeSpawnOptions } from './native';

const { ENOENT, EACCES, ENOEXEC } = os.constants.errno;

export interface InitListener {
  /** A message from the init (protocol.ts). pidfd, when not -1, is the listener's to close. */
  onMessage(type: number, value: number, pid: number, pidfd: number, amount: number): void;
  /** The init has been reaped; every message it sent was delivered before this. */
  onExit(waitStatus: number, usage: ResourceUsage | null): void;
}

export interface InitProcess {
  pid: number;
  /** Read right after the clone, while the init is certainly there to read it from. */
  namespaceId: number;
  handle: NativeProcessHandle;
  channel: NativeControlChannel;
}

/**
 * Whether a message can be the init's: the kernel attaches the sender's credentials to every
 * message (SO_PASSCRED), translated into our namespace, so every kind must come from the init's
 * pid. MSG_CHILD is the exception: the command's own process sends it between the init's fork and
 * its execve, before any code of the command runs, and only the first one is taken (lib/spawn.ts),
 * so a later forgery through a socket taken from the init changes nothing.
 */
function fromInit(type: number, pid: number, initPid: number): boolean {
  return type === MSG_CHILD || pid === initPid;
}

/**
 * Clones and execs the init. `request` describes the child as for any spawn (stdio in fdMap,
 * cwd, ids, env); the control channel is added as the next descriptor and `--control-fd` names it
 * ahead of `initArgs`. Throws what `refusal` makes of a failed system call.
 */
export function startInit(
  request: NativeSpawnOptions,
  initArgs: string[],
  listener: InitListener,
  refusal: (errno: number, syscall: string) => PidnsSystemError,
): InitProcess {
  const pair = native.controlPair();
  if (isFailure(pair)) throw refusal(pair.errno, pair.syscall);
  const [nodeFd, initFd] = pair;
  const controlFd = request.fdMap.length;
  let result: ReturnType<typeof native.spawn>;
  try {
    result = native.spawn({
      ...request,
      file: initPath,
      argv: [initPath, '--control-fd', String(controlFd), ...initArgs],
      fdMap: [...request.fdMap, initFd],
      newPidNamespace: true,
      joinFd: -1,
    });
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
      err.hint = result.errno === EACCES && request.newUserNamespace
        ? 'the init runs as the uid your uidMap maps it to, and that uid cannot reach this file: install pidns in a folder every user can enter, or map your own uid'
        : 'the bundled pidns-init could not be run: rebuild the package (npm rebuild pidns)';
      err.message = `cannot run ${initPath}: ${err.code} (${err.hint})`;
    }
    throw err;
  }
  // Unreaped, the init stays in /proc until its exit has been handled below.
  // From the init itself: once it is not dumpable, its /proc links may be closed to Node (an
  // unprivileged Node whose init belongs to an unmapped root).
  const namespaceId = result.namespaceId || pidNamespaceId(result.pid);
  const initPid = result.pid;
  const channel = new native.ControlChannel(nodeFd, (type, value, pid, pidfd, amount) => {
    if (type !== 0 && !fromInit(type, pid, initPid)) {
      if (pidfd >= 0) native.closeFd(pidfd);
      return;
    }
    listener.onMessage(type, value, pid, pidfd, amount);
  });
  const handle = new native.ProcessHandle(result.pid, result.pidfd, (status, usage) => {
    // The exit and the last messages can arrive in either order on the loop; read what is queued
    // first, so the listener always has the whole report.
    channel.drain();
    channel.close();
    listener.onExit(status, usage);
  });
  return { pid: result.pid, namespaceId, handle, channel };
}
