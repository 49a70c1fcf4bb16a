// Ending a started command when its timeout passes or its AbortSignal aborts.
import type { PidNamespaceChild } from './child';
import type { NormalizedOptions } from './options';
import { signalNumber } from './signals';

const SIGKILL = signalNumber('SIGKILL');
const SIGSTOP = signalNumber('SIGSTOP');
const SIGCONT = signalNumber('SIGCONT');

/** Why killSignal was sent. */
export type KillReason = 'timeout' | 'abort';

/** The AbortError Node's own APIs reject with ('ABORT_ERR', the signal's reason as cause). */
export function abortError(signal: AbortSignal): Error {
  const err = new Error('The operation was aborted', { cause: signal.reason });
  err.name = 'AbortError';
  (err as NodeJS.ErrnoException).code = 'ABORT_ERR';
  return err;
}

/**
 * Sends killSignal when options.timeout passes or options.signal aborts, until the command has
 * exited. `onKill` learns the reason of each signal that was delivered.
 */
export function armKillers(child: PidNamespaceChild, opts: NormalizedOptions, onKill?: (reason: KillReason) => void): void {
  const kill = (reason: KillReason) => {
    if (!child.kill(opts.killSignal)) return;
    onKill?.(reason);
    // A stopped command keeps any other signal pending until it is continued: SIGCONT after it,
    // as service managers do, so that the timeout or the abort ends it.
    if (opts.killSignal !== SIGKILL && opts.killSignal !== SIGSTOP && opts.killSignal !== SIGCONT) child.kill(SIGCONT);
  };
  if (opts.timeout > 0) {
    const timer = setTimeout(() => kill('timeout'), opts.timeout);
    timer.unref();
    void child.exited.then(() => clearTimeout(timer));
  }
  const signal = opts.signal;
  if (signal) {
    const onAbort = () => kill('abort');
    if (signal.aborted) {
      onAbort();
    } else {
      signal.addEventListener('abort', onAbort, { once: true });
      void child.exited.then(() => signal.removeEventListener('abort', onAbort));
    }
  }
}
