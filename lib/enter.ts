// Entering a running process's namespaces besides its PID namespace, as nsenter does
// (options.joinNamespaces, `pidns exec --target PID --all`): which kinds the option names, which
// of the target's namespaces differ from ours, their descriptors and those of the target's root
// and working directory, all opened here before the clone. The child enters them in nsenter's
// order (src-native/child.c enter_namespaces) and forks the command there.
import * as fs from 'fs';
import * as os from 'os';
import { arrayEntries } from './checks';
import { CLI_MESSAGE, invalidType, invalidValue, PidnsSystemError, systemError } from './errors';
import { native } from './native';
import { closeJoinTarget, openJoinTarget, openNamespaceFile } from './namespace-files';
import type { NormalizedJoin } from './options';
import type { JoinFds } from './request';

/** The namespaces of a process, by their names in /proc/PID/ns, in the order nsenter enters them. */
export const NAMESPACE_KINDS = ['user', 'cgroup', 'ipc', 'uts', 'net', 'pid', 'mnt', 'time'] as const;
/** The longest joinNamespaces list: names may repeat, but no list needs more. */
const MAX_JOIN_NAMESPACES = 64;
export type NamespaceKind = (typeof NAMESPACE_KINDS)[number];

const { ENOENT, ESRCH } = os.constants.errno;
/** Not in os.constants: the kernel's answer to a setns into a time namespace it refuses here. */
const EUSERS = 87;

/** O_PATH (Linux): a descriptor that names a file without opening it. Not in fs.constants. */
const O_PATH = 0o10000000;

/**
 * options.joinNamespaces: 'all', or a list of kinds. The PID namespace is always entered (it is
 * what join means); naming it is allowed. Returns the kinds in nsenter's order, or null.
 */
export function checkJoinNamespaces(value: unknown): NamespaceKind[] | null {
  if (value === undefined) return null;
  if (value === 'all') return [...NAMESPACE_KINDS];
  if (!Array.isArray(value)) throw invalidType('options.joinNamespaces', `'all' or an array of ${NAMESPACE_KINDS.map((k) => `'${k}'`).join(', ')}`, value);
  if (value.length === 0) throw invalidValue('options.joinNamespaces', value, "must name at least one namespace (or be 'all'); leave it out to enter only the PID namespace");
  const named = new Set<NamespaceKind>(['pid']);
  arrayEntries('options.joinNamespaces', value, MAX_JOIN_NAMESPACES).forEach((kind, i) => {
    if (typeof kind !== 'string' || !(NAMESPACE_KINDS as readonly string[]).includes(kind)) {
      throw invalidValue(`options.joinNamespaces[${i}]`, kind, `must be one of ${NAMESPACE_KINDS.map((k) => `'${k}'`).join(', ')} (the names in /proc/PID/ns)`);
    }
    named.add(kind as NamespaceKind);
  });
  return NAMESPACE_KINDS.filter((kind) => named.has(kind));
}

/** The target's namespaces and directories to enter, opened: what the child needs besides the PID namespace. */
export interface EnteredTarget {
  /** The target's pid in our view. */
  pid: number;
  /** One descriptor or -1 per native.constants.ENTER_KINDS, in that order. */
  enterFds: number[];
  /** The target's root directory (with 'mnt'), or -1. */
  rootFd: number;
  /** The target's working directory (with 'mnt'), or -1. */
  cwdFd: number;
  /** The target's root as a path of ours, for finding the command there; null without 'mnt'. */
  rootPath: string | null;
  /** The target's user namespace is entered: the command becomes its root, as with nsenter. */
  enteredUser: boolean;
}

/** Refused before anything starts: see the hint. */
function timeNamespaceRefused(pid: number, action: string, spawnargs: string[]): PidnsSystemError {
  const message = `${action}: process ${pid} is in another time namespace, which pidns cannot enter`;
  const err = new PidnsSystemError({
    code: 'ERR_TIME_NAMESPACE_UNSUPPORTED',
    errno: -EUSERS,
    syscall: 'setns',
    path: `/proc/${pid}/ns/time`,
    spawnargs,
    message,
    hint: `${TIME_REASON}: name the namespaces to enter without 'time'`,
  });
  const cliHint = `${TIME_REASON}: choose them with --user --mount --net --uts --ipc --cgroup instead of --all or --time`;
  Object.defineProperty(err, CLI_MESSAGE, { value: `${message} (${cliHint})` });
  return err;
}

const TIME_REASON = "the kernel lets a process enter a time namespace only while no other process shares its memory (EUSERS), and pidns starts commands from a process that shares Node's";

/**
 * Opens what a join with joinNamespaces enters: the PID namespace (and a pod's user namespace) as
 * any join does, then each other namespace named that is not ours (compared by device and inode,
 * as the kernel refuses to re-enter our own user namespace), and with 'mnt' the target's root and
 * working directory. Everything is opened through one descriptor of /proc/PID, so that a pid
 * reused meanwhile cannot mix two processes; a target that has exited is ESRCH.
 */
export function openEnterTarget(join: NormalizedJoin, kinds: NamespaceKind[], action: string, spawnargs: string[]): { join: JoinFds; entered: EnteredTarget } {
  const pid = join.kind === 'pid' ? join.pid : join.targetPid!;
  // A file of /proc/PID that is not there: the process has exited.
  const fail = (errno: number, syscall: string, path: string) =>
    systemError(errno === ENOENT ? ESRCH : errno, syscall, { action: `${action}: join ${path}`, path, spawnargs, joining: true });
  const errnoOf = (err: unknown) => -((err as NodeJS.ErrnoException).errno ?? -ESRCH);
  let dirFd: number;
  try {
    dirFd = fs.openSync(`/proc/${pid}`, O_PATH | fs.constants.O_DIRECTORY);
  } catch (err) {
    throw fail(errnoOf(err), 'open', `/proc/${pid}`);
  }
  const dir = `/proc/self/fd/${dirFd}`;
  const opened: number[] = [];
  let joinFds: JoinFds | null = null;
  try {
    const fdOf = new Map<NamespaceKind, number>();
    for (const kind of kinds) {
      if (kind === 'pid') continue;
      const path = `/proc/${pid}/ns/${kind}`;
      // A command starts in our time namespace for children, not our own (they differ after unshare --time).
      const ours = ownNamespace(kind === 'time' ? 'time_for_children' : kind);
      // A kind this kernel does not have (no CONFIG_TIME_NS, ...): every process shares "none".
      if (ours === null) continue;
      let target: fs.Stats;
      try {
        target = fs.statSync(`${dir}/ns/${kind}`);
      } catch (err) {
        throw fail(errnoOf(err), 'open', path);
      }
      if (ours.dev === target.dev && ours.ino === target.ino) continue;
      if (kind === 'time') throw timeNamespaceRefused(pid, action, spawnargs);
      const { fd } = openNamespaceFile(`${dir}/ns/${kind}`, native.constants.NAMESPACE_TYPES[kind], (errno, syscall) => fail(errno, syscall, path), false);
      opened.push(fd);
      fdOf.set(kind, fd);
    }
    let rootFd = -1;
    let cwdFd = -1;
    if (kinds.includes('mnt')) {
      for (const leaf of ['root', 'cwd']) {
        let fd: number;
        try {
          fd = fs.openSync(`${dir}/${leaf}`, O_PATH | fs.constants.O_DIRECTORY);
        } catch (err) {
          throw fail(errnoOf(err), 'open', `/proc/${pid}/${leaf}`);
        }
        opened.push(fd);
        if (leaf === 'root') rootFd = fd;
        else cwdFd = fd;
      }
    }
    joinFds = openJoinTarget(join, action, spawnargs);
    // The PID namespace was opened by its own path: it must be that of the process whose other
    // namespaces were opened, which must still be running.
    let pidNamespace: fs.Stats;
    try {
      pidNamespace = fs.statSync(`${dir}/ns/pid`);
    } catch {
      throw fail(ESRCH, 'open', `/proc/${pid}/ns/pid`);
    }
    if (pidNamespace.ino !== fs.fstatSync(joinFds.fd).ino) throw fail(ESRCH, 'open', `/proc/${pid}/ns/pid`);
    const userFd = fdOf.get('user');
    if (userFd !== undefined) {
      // A pod's own user namespace (join.userPath), which owns its PID namespace, is the target's
      // (the pod's members are in it): one descriptor of it is enough.
      if (joinFds.userFd >= 0) fs.closeSync(userFd);
      else joinFds.userFd = userFd;
      opened.splice(opened.indexOf(userFd), 1);
    }
    const entered: EnteredTarget = {
      pid,
      enterFds: native.constants.ENTER_KINDS.map((kind) => fdOf.get(kind as NamespaceKind) ?? -1),
      rootFd,
      cwdFd,
      rootPath: rootFd >= 0 ? `/proc/self/fd/${rootFd}` : null,
      enteredUser: userFd !== undefined,
    };
    return { join: joinFds, entered };
  } catch (err) {
    for (const fd of opened) fs.closeSync(fd);
    if (joinFds) closeJoinTarget(joinFds);
    throw err;
  } finally {
    fs.closeSync(dirFd);
  }
}

/** Closes what openEnterTarget opened, once the clone has entered it (or failed). */
export function closeEnterTarget(join: JoinFds, entered: EnteredTarget): void {
  closeJoinTarget(join);
  for (const fd of [...entered.enterFds, entered.rootFd, entered.cwdFd]) if (fd >= 0) fs.closeSync(fd);
}

/** Our own namespace of a kind (stat of /proc/self/ns/NAME), or null where this kernel has none. */
function ownNamespace(name: string): fs.Stats | null {
  try {
    return fs.statSync(`/proc/self/ns/${name}`);
  } catch {
    return null;
  }
}
