// Readers of /proc: the NSpid chain and namespace identity of a process.
import * as fs from 'fs';
import * as os from 'os';
import { checkPid } from './checks';
import { PidnsSystemError, systemError } from './errors';


function gone(err: unknown, pid: number, what: string): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ESRCH') return systemError(os.constants.errno.ESRCH, 'open', { action: `${what} ${pid}`, path: `/proc/${pid}` });
  return err as Error;
}

/** The lines of /proc/PID/status as a map. */
export function readStatus(pid: number): Map<string, string> {
  return readStatusOf(`/proc/${pid}/status`);
}

function readStatusOf(path: string): Map<string, string> {
  const text = fs.readFileSync(path, 'latin1');
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return fields;
}

/**
 * The pids of a process in each PID namespace it belongs to, outermost (the caller's view) first
 * and its own namespace last, read from the NSpid line of /proc/PID/status.
 * @throws ESRCH when no process has that pid.
 */
export function nsPids(pid: number): number[] {
  checkPid('pid', pid);
  let status: Map<string, string>;
  try {
    status = readStatus(pid);
  } catch (err) {
    throw gone(err, pid, 'nsPids');
  }
  const line = status.get('NSpid');
  if (line === undefined) return [pid];
  return line.split(/\s+/).map(Number);
}

/**
 * The inode number of a process's PID namespace (/proc/PID/ns/pid), which identifies the
 * namespace for as long as it exists.
 * @throws ESRCH when no process has that pid.
 */
export function pidNamespaceId(pid: number): number {
  checkPid('pid', pid);
  try {
    return fs.statSync(`/proc/${pid}/ns/pid`).ino;
  } catch (err) {
    throw gone(err, pid, 'pidNamespaceId');
  }
}

/** A process of a PID namespace, with its pids in the caller's view and inside. */
export interface NamespaceMember {
  /** Its pid in the caller's PID namespace. */
  pid: number;
  /** Its pid in its own (innermost) PID namespace. */
  nsPid: number;
  /** Its parent's pid in the caller's view (0 when the parent is outside the caller's view). */
  ppid: number;
  /** Its command line, or its name in brackets when it has none (a zombie). */
  command: string;
}

function readMember(pid: number): NamespaceMember | null {
  try {
    const status = readStatus(pid);
    const chain = (status.get('NSpid') ?? String(pid)).split(/\s+/).map(Number);
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1');
    const command = cmdline.length > 0 ? cmdline.replace(/\0+$/, '').split('\0').join(' ') : `[${status.get('Name') ?? ''}]`;
    return { pid, nsPid: chain[chain.length - 1], ppid: Number(status.get('PPid') ?? 0), command };
  } catch {
    return null; // it exited while we read it
  }
}

/** Every process whose PID namespace has the given inode, ordered by nsPid. */
export function namespaceMembers(namespaceId: number): NamespaceMember[] {
  const members: NamespaceMember[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (entry.charCodeAt(0) < 48 || entry.charCodeAt(0) > 57) continue;
    let inode: number;
    try {
      inode = fs.statSync(`/proc/${entry}/ns/pid`).ino;
    } catch {
      continue;
    }
    if (inode !== namespaceId) continue;
    const member = readMember(Number(entry));
    if (member) members.push(member);
  }
  return members.sort((a, b) => a.nsPid - b.nsPid);
}

let ownPid: number | undefined;

/**
 * This process's pid as the /proc mounted here shows it (its Tgid line), which is what a child's
 * PPid reads there; 0 when /proc cannot tell. Differs from process.pid when /proc belongs to an
 * outer PID namespace.
 */
export function ownPidInProc(): number {
  if (ownPid !== undefined) return ownPid;
  try {
    ownPid = Number(readStatusOf('/proc/self/status').get('Tgid') ?? 0) || 0;
    return ownPid;
  } catch {
    // EMFILE, say: unknown this time (the parent check is skipped), asked again next time.
    return 0;
  }
}

/**
 * The child of `parentPid` whose innermost pid is `nsPid`, by the kernel's list of that process's
 * children, or -1. For a child whose own report was lost.
 */
export function childByNsPid(parentPid: number, nsPid: number): number {
  let children: string;
  try {
    children = fs.readFileSync(`/proc/${parentPid}/task/${parentPid}/children`, 'utf8');
  } catch {
    return -1;
  }
  for (const pid of children.split(' ').filter(Boolean).map(Number)) {
    try {
      if (nsPids(pid).at(-1) === nsPid) return pid;
    } catch {
      // gone meanwhile
    }
  }
  return -1;
}

/**
 * Throws unless the /proc mounted here shows this process's own PID namespace. Node run in a new
 * PID namespace without a /proc of it (`unshare --pid --fork node`, no --mount-proc) sees the
 * outer /proc, where every pid the kernel gives back names some other process: namespace ids,
 * members and parent checks would all be about strangers. Without /proc at all nothing is read
 * from it, and nothing is refused here.
 */
export function checkProcIsOurs(action: string): void {
  const pidInProc = ownPidInProc();
  if (pidInProc === 0 || pidInProc === process.pid) return;
  throw new PidnsSystemError({
    code: 'ERR_FOREIGN_PROC',
    errno: -os.constants.errno.EINVAL,
    syscall: 'open',
    path: '/proc',
    message: `${action}: /proc shows another PID namespace than this process's (this process is ${process.pid} here and ${pidInProc} in that /proc)`,
    hint: 'mount a /proc of this PID namespace: unshare --pid --fork --mount-proc, or mount -t proc proc /proc in a mount namespace of its own',
  });
}

/** Whether a process is stopped by a signal now (State T in /proc/PID/status); false once gone. */
export function isStopped(pid: number): boolean {
  return stateOf(pid) === 'T';
}

/** Whether a process is stopped by a signal or by a tracer (State T or t); false once gone. */
export function isHeld(pid: number): boolean {
  const state = stateOf(pid);
  return state === 'T' || state === 't';
}

/** The state letter of /proc/PID/status, or '' once the process is gone. */
function stateOf(pid: number): string {
  try {
    return readStatus(pid).get('State')?.charAt(0) ?? '';
  } catch {
    return '';
  }
}

/**
 * When a process started (field 22 of /proc/PID/stat, in clock ticks since boot), or null once it
 * is gone: with its pid, it names one process, where no pidfd can.
 */
export function startTimeOf(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}
