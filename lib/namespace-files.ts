// Opening the namespace a spawn joins: /proc/PID/ns/pid, a namespace file's path, or a
// PidNamespace (whose path must still lead to the same namespace), and the user namespace that
// owns a rootless pod. Everything opened is checked to be a namespace of the expected type.
import * as fs from 'fs';
import * as os from 'os';
import { namespaceEnded, systemError } from './errors';
import { native } from './native';
import type { NormalizedJoin } from './options';
import type { JoinFds } from './request';

const { ENOENT, ESRCH, EINVAL } = os.constants.errno;

/** O_PATH (Linux): a descriptor that names a file without opening it. Not in fs.constants. */
const O_PATH = 0o10000000;

/**
 * Opens a namespace file, refusing anything that is not a namespace of the given type. The path
 * is resolved once, to an O_PATH descriptor, which opens nothing (a device or a FIFO there has no
 * side effect and cannot block); only a regular file is then opened, through that descriptor, so
 * the file checked is the file opened even if the path changes meanwhile.
 */
export function openNamespaceFile(path: string, type: number, fail: (errno: number, syscall: string) => Error, pidGone: boolean): { fd: number; ino: number } {
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
export function openJoinTarget(join: NormalizedJoin, action: string, spawnargs: string[]): JoinFds {
  const path = join.kind === 'pid' ? `/proc/${join.pid}/ns/pid` : join.path;
  const expectedId = join.kind === 'path' ? join.expectedId : undefined;
  const fail = (errno: number, syscall: string) => {
    // A PidNamespace whose pid 1 is gone no longer has a namespace file to open.
    if (expectedId !== undefined && (errno === ENOENT || errno === ESRCH)) return namespaceEnded(action, expectedId);
    return systemError(errno, syscall, { action: `${action}: join ${path}`, path, spawnargs, joining: true });
  };
  const { fd, ino } = openNamespaceFile(path, native.constants.CLONE_NEWPID, fail, join.kind === 'pid');
  if (expectedId !== undefined && ino !== expectedId) {
    // The pid behind the path was recycled by a process of another namespace.
    fs.closeSync(fd);
    throw namespaceEnded(action, expectedId);
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

/** Closes what openJoinTarget opened, once the clone has entered it (or failed). */
export function closeJoinTarget(target: JoinFds): void {
  fs.closeSync(target.fd);
  if (target.userFd >= 0) fs.closeSync(target.userFd);
}
