// Control over pids: a new namespace's own pid_max (options.pidMax), and the pid a joiner takes
// in the namespace it joins (options.nsPid). Their checks, and whether this kernel keeps a
// pid_max per namespace, which must be known before anything writes one.
import * as os from 'os';
import { checkInteger } from './checks';
import { PidnsSystemError } from './errors';

/** The kernel's smallest pid_max (RESERVED_PIDS + 1; more on machines with over 37 possible CPUs). */
export const PID_MAX_MIN = 301;
/** The kernel's largest pid_max (PID_MAX_LIMIT on 64-bit kernels): every pid is below it. */
export const PID_MAX_LIMIT = 4194304;
/** The first kernel whose pid_max is per PID namespace (kernel/pid.c, commit 7863dcc72d0f). */
const PER_NAMESPACE_SINCE: readonly [number, number] = [6, 14];

/** options.pidMax: undefined (the kernel's default: a new namespace starts at PID_MAX_LIMIT, the
 * outer namespaces' own limits still holding for the outer pids), or a pid_max the kernel takes. */
export function checkPidMax(name: string, value: unknown): number | null {
  if (value === undefined) return null;
  return checkInteger(name, value, PID_MAX_MIN, PID_MAX_LIMIT);
}

/**
 * options.nsPid: undefined (the next free pid), or a pid to take in the namespace joined. Pid 1
 * is refused: it is the namespace's init, which every namespace that can be joined has (a
 * namespace whose pid 1 has exited takes no new member).
 */
export function checkNsPid(name: string, value: unknown): number | null {
  if (value === undefined) return null;
  return checkInteger(name, value, 2, PID_MAX_LIMIT - 1);
}

/**
 * Whether a kernel of this release keeps a pid_max per PID namespace. Before Linux 6.14,
 * /proc/sys/kernel/pid_max is the whole system's from every namespace: a write from inside one
 * would change the host's.
 */
export function pidMaxPerNamespace(release: string = os.release()): boolean {
  const match = /^(\d+)\.(\d+)/.exec(release);
  if (!match) return false;
  const [major, minor] = [Number(match[1]), Number(match[2])];
  const [needMajor, needMinor] = PER_NAMESPACE_SINCE;
  return major > needMajor || (major === needMajor && minor >= needMinor);
}

/** Refuses pidMax on a kernel that would apply it to the whole system; nothing is started. */
export function checkPidMaxSupported(pidMax: number | null, action: string, spawnargs?: string[]): void {
  if (pidMax === null) return;
  const release = os.release();
  if (pidMaxPerNamespace(release)) return;
  throw new PidnsSystemError({
    code: 'ERR_PID_MAX_UNSUPPORTED',
    errno: -os.constants.errno.EOPNOTSUPP,
    syscall: 'pid_max',
    spawnargs,
    message: `${action}: pidMax needs a pid_max per PID namespace, which Linux has since 6.14; this kernel is ${release}`,
    hint: 'on an older kernel /proc/sys/kernel/pid_max is the whole system\'s, even from inside a namespace: leave out pidMax, or bound the number of processes with cgroup: { pidsMax }',
  });
}
