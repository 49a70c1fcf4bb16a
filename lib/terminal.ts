// Terminals: the pseudo-terminal pair of a spawn with options.terminal, and the stream over its
// controller side that becomes child.terminal.
import * as os from 'os';
import { Duplex } from 'stream';
import { systemError } from './errors';
import { isFailure, native, TerminalEvent, type NativeTerminalController } from './native';
import type { TerminalSize } from './options';

const { EIO } = os.constants.errno;

export interface TerminalPair {
  /** Node's side: the stream reads what the command writes and writes what it reads. */
  controller: number;
  /** The command's side, its descriptors 0-2; ours is closed once the spawn is done. */
  terminal: number;
}

/** Opens a pseudo-terminal pair of the given size, both descriptors close-on-exec. */
export function openTerminalPair(size: TerminalSize, action: string): TerminalPair {
  const pair = native.openTerminal(size.cols, size.rows);
  if (isFailure(pair)) throw systemError(pair.errno, pair.syscall, { action: `${action}: open a terminal`, path: '/dev/ptmx' });
  return { controller: pair[0], terminal: pair[1] };
}

interface PendingWrite {
  chunk: Buffer;
  callback: (error?: Error | null) => void;
}

/**
 * child.terminal: a Duplex over the controller side of the command's pseudo-terminal. Writing is
 * typing (`'\x03'` is ^C in the default modes); reading gives what the screen would show. It ends
 * when every descriptor of the terminal side is closed (the command's session is over) and all
 * output has been read; its descriptor is then closed. Destroying it earlier hangs the terminal
 * up: the kernel sends SIGHUP to the command's session, as when a terminal window is closed.
 */
export class TerminalStream extends Duplex {
  readonly #controller: NativeTerminalController;
  #pending: PendingWrite | null = null;

  /** @internal Takes ownership of the controller descriptor. */
  constructor(controller: number) {
    // Input and output end together: a terminal has no half-closed state.
    super({ allowHalfOpen: false });
    this.#controller = new native.TerminalController(controller, (event, payload) => this.#onEvent(event, payload));
  }

  /**
   * Sets the window size; the kernel sends SIGWINCH to the terminal's foreground process group.
   * Returns false once the terminal is closed.
   */
  resize(size: TerminalSize): boolean {
    if (this.destroyed) return false;
    const err = this.#controller.resize(size.cols, size.rows);
    if (err === 0) return true;
    throw systemError(err, 'ioctl', { action: 'resize the terminal' });
  }

  override _read(): void {
    this.#controller.setReading(true);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#pending = { chunk, callback };
    this.#flush();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#controller.close();
    const pending = this.#pending;
    this.#pending = null;
    pending?.callback(error);
    callback(error);
  }

  #onEvent(event: number, payload?: Buffer | number): void {
    if (event === TerminalEvent.Data) {
      if (!this.push(payload)) this.#controller.setReading(false);
    } else if (event === TerminalEvent.End) {
      this.push(null);
    } else if (event === TerminalEvent.Writable) {
      this.#flush();
    } else if (event === TerminalEvent.Error) {
      this.destroy(systemError(payload as number, 'read', { action: 'read the terminal' }));
    }
  }

  #flush(): void {
    const pending = this.#pending;
    if (!pending) return;
    while (pending.chunk.length > 0) {
      const written = this.#controller.write(pending.chunk);
      if (written === 0) {
        this.#controller.awaitWritable();
        return;
      }
      if (written < 0) {
        this.#pending = null;
        // EIO: nobody has the terminal side open any more; what is typed into a terminal that
        // has hung up goes nowhere, and the end of the output follows.
        pending.callback(-written === EIO ? null : systemError(-written, 'write', { action: 'write to the terminal' }));
        return;
      }
      pending.chunk = pending.chunk.subarray(written);
    }
    this.#pending = null;
    pending.callback();
  }
}
