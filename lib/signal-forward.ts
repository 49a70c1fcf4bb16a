// Catching every signal that can be caught, for a process that stands in for another (the pidns
// command): the caller decides where each one goes. While this runs, no signal in the list acts
// on this process by default (none ends or stops it); a real fault of its own still does.
import { systemError } from './errors';
import { isFailure, native } from './native';
import { signalNumber } from './signals';

const NOT_FORWARDABLE = new Set(['SIGKILL', 'SIGSTOP', 'SIGCHLD'].map((name) => signalNumber(name)));
const SIGRTMIN = signalNumber('SIGRTMIN');
const SIGRTMAX = signalNumber('SIGRTMAX');

/**
 * Every standard signal but SIGKILL and SIGSTOP (which cannot be caught) and SIGCHLD (which
 * tells of one's own children), and every real-time signal from SIGRTMIN to SIGRTMAX (32 and 33
 * belong to the C library's threads).
 */
export const FORWARDABLE_SIGNALS: readonly number[] = [
  ...Array.from({ length: 31 }, (_, i) => i + 1).filter((signo) => !NOT_FORWARDABLE.has(signo)),
  ...Array.from({ length: SIGRTMAX - SIGRTMIN + 1 }, (_, i) => SIGRTMIN + i),
];

/** Calls onSignal(signo) on the event loop once for every delivery of a forwardable signal. */
export function forwardSignals(onSignal: (signo: number) => void): void {
  const failure = native.forwardSignals([...FORWARDABLE_SIGNALS], onSignal);
  if (isFailure(failure)) throw systemError(failure.errno, failure.syscall, { action: 'forward signals' });
}

export function stopForwardingSignals(): void {
  native.stopForwardingSignals();
}
