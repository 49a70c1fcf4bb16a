// Readers of /proc: the NSpid chain and namespace identity of a process.
import * as fs from 'fs';
import { invalidType, outOfRange, systemError } from './errors';

function checkPid(pid: unknown): number {
  if (typeof pid !== 'number') throw invalidType('pid', 'of type number', pid);
  if (!Number.isInteger(pid) || pid < 1 || pid > 0x400000) throw outOfRange('pid', 'an integer >= 1 and <= 4194304', pid);
  return pid;
}

function gone(err: unknown, pid: number, what: string): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ESRCH') return systemError(3 /* ESRCH */, 'open', { action: `${what} ${pid}`, path: `/proc/${pid}` });
  return err as Error;
}

/** The lines of /proc/PID/status as a map. */
export function readStatus(pid: number): Map<string, string> {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'latin1');
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
  checkPid(pid);
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
  checkPid(pid);
  try {
    return fs.statSync(`/proc/${pid}/ns/pid`).ino;
  } catch (err) {
    throw gone(err, pid, 'pidNamespaceId');
  }
}
