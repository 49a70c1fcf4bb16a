// Signal names and numbers, and decoding of raw wait statuses.
import * as os from 'os';
import { invalidType, PidnsArgumentError } from './errors';

const byNumber = new Map<number, NodeJS.Signals>();
for (const [name, number] of Object.entries(os.constants.signals)) {
  if (!byNumber.has(number)) byNumber.set(number, name as NodeJS.Signals);
}

// Real-time signals have no names in os.constants; they are named as kill -l does, from
// SIGRTMIN (34: glibc keeps 32 and 33 for itself) to SIGRTMAX (64).
const SIGRTMIN = 34;
const SIGRTMAX = 64;
const realTime = /^SIGRT(MIN|MAX)([+-]\d{1,2})?$/;

function realTimeName(signo: number): NodeJS.Signals | null {
  if (signo < 32 || signo > SIGRTMAX) return null;
  if (signo === SIGRTMAX) return 'SIGRTMAX' as NodeJS.Signals;
  const offset = signo - SIGRTMIN;
  return (offset === 0 ? 'SIGRTMIN' : `SIGRTMIN${offset > 0 ? '+' : ''}${offset}`) as NodeJS.Signals;
}

function realTimeNumber(name: string): number | null {
  const match = realTime.exec(name);
  if (!match) return null;
  const signo = (match[1] === 'MIN' ? SIGRTMIN : SIGRTMAX) + Number(match[2] ?? 0);
  return signo >= 32 && signo <= SIGRTMAX ? signo : null;
}

export function signalName(signo: number): NodeJS.Signals | null {
  return byNumber.get(signo) ?? realTimeName(signo);
}

/** A signal name ('SIGTERM') or number to its number; TypeError ERR_UNKNOWN_SIGNAL otherwise. */
export function signalNumber(signal: unknown, name = 'signal'): number {
  if (typeof signal === 'number') {
    if (Number.isInteger(signal) && (signal === 0 || signalName(signal) !== null)) return signal;
    throw new PidnsArgumentError('ERR_UNKNOWN_SIGNAL', `Unknown signal: ${String(signal)}`);
  }
  if (typeof signal === 'string') {
    const number = (os.constants.signals as Record<string, number>)[signal];
    if (Object.prototype.hasOwnProperty.call(os.constants.signals, signal) && typeof number === 'number') return number;
    const rt = realTimeNumber(signal);
    if (rt !== null) return rt;
    throw new PidnsArgumentError('ERR_UNKNOWN_SIGNAL', `Unknown signal: ${signal.slice(0, 64)}`);
  }
  throw invalidType(name, 'of type string or number', signal);
}

/**
 * What the kernel accounted at reaping (wait4), named as in process.resourceUsage(): the process
 * and every descendant it waited for. Under the init that is the whole namespace.
 */
export interface ResourceUsage {
  /** User CPU time, microseconds. */
  userCPUTime: number;
  /** System CPU time, microseconds. */
  systemCPUTime: number;
  /** The largest resident set size of any one of those processes, kilobytes. */
  maxRSS: number;
}

/** How a command ended: exactly one of code and signal is set (both null if unknown). */
export interface ExitStatus {
  /** The exit code, or null when a signal ended the process. */
  code: number | null;
  /** The signal that ended the process ('SIGTERM'), or null when it exited. */
  signal: NodeJS.Signals | null;
  /** Resource usage from the kernel at reaping; null when the process was reaped elsewhere. */
  usage: ResourceUsage | null;
}

/** Decodes a status as waitpid() returns it; -1 (reaped elsewhere) decodes to nulls. */
export function decodeWaitStatus(status: number, usage: ResourceUsage | null = null): ExitStatus {
  if (status < 0) return { code: null, signal: null, usage };
  const termsig = status & 0x7f;
  if (termsig === 0) return { code: (status >> 8) & 0xff, signal: null, usage };
  return { code: null, signal: signalName(termsig), usage };
}
