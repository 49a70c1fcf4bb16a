// Signal names and numbers, and decoding of raw wait statuses.
import * as os from 'os';
import { invalidType, PidnsArgumentError } from './errors';

const byNumber = new Map<number, NodeJS.Signals>();
for (const [name, number] of Object.entries(os.constants.signals)) {
  if (!byNumber.has(number)) byNumber.set(number, name as NodeJS.Signals);
}

export function signalName(signo: number): NodeJS.Signals | null {
  return byNumber.get(signo) ?? null;
}

/** A signal name ('SIGTERM') or number to its number; TypeError ERR_UNKNOWN_SIGNAL otherwise. */
export function signalNumber(signal: unknown, name = 'signal'): number {
  if (typeof signal === 'number') {
    if (Number.isInteger(signal) && (signal === 0 || byNumber.has(signal))) return signal;
    throw new PidnsArgumentError('ERR_UNKNOWN_SIGNAL', `Unknown signal: ${String(signal)}`);
  }
  if (typeof signal === 'string') {
    const number = (os.constants.signals as Record<string, number>)[signal];
    if (Object.prototype.hasOwnProperty.call(os.constants.signals, signal) && typeof number === 'number') return number;
    throw new PidnsArgumentError('ERR_UNKNOWN_SIGNAL', `Unknown signal: ${signal.slice(0, 64)}`);
  }
  throw invalidType(name, 'of type string or number', signal);
}

export interface ExitStatus {
  /** The exit code, or null when a signal ended the process. */
  code: number | null;
  /** The signal that ended the process ('SIGTERM'), or null when it exited. */
  signal: NodeJS.Signals | null;
}

/** Decodes a status as waitpid() returns it; -1 (reaped elsewhere) decodes to nulls. */
export function decodeWaitStatus(status: number): ExitStatus {
  if (status < 0) return { code: null, signal: null };
  const termsig = status & 0x7f;
  if (termsig === 0) return { code: (status >> 8) & 0xff, signal: null };
  return { code: null, signal: signalName(termsig) };
}
