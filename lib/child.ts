// PidNamespaceChild: a started command, shaped like Node's ChildProcess where it can be.
import { EventEmitter } from 'events';
import type { Duplex, Readable, Writable } from 'stream';
import { usablePlacement, type CgroupPlacement, type CgroupStats } from './cgroup';
import { PidnsStateError, systemError } from './errors';
import { IpcChannel, type ChannelEnd, type SendCallback } from './ipc';
import { checkTerminalSize } from './options';
import { signalNumber, type ExitStatus } from './signals';
import type { TerminalStream } from './terminal';

export type { ExitStatus } from './signals';

/** The bundled init of a command: pid 1 of its namespace, or a child subreaper in the caller's. */
export interface InitInfo {
  /** The init's pid in the caller's view. */
  pid: number;
  /** 1 in a new namespace; with `pidNamespace: 'caller'`, the same as `pid`. */
  nsPid: number;
}

/**
 * The PID namespace a command runs in: 'new' (made for it, or for its pod), 'joined' (an existing
 * one, options.join), or 'caller' (none was made: options.newNamespace false, or 'auto' where the
 * kernel refused one; the init is a child subreaper in the caller's namespace).
 */
export type PidNamespaceMode = 'new' | 'joined' | 'caller';

/** Where kill() sends signals and what keeps Node's event loop alive for the child. */
export interface ChildControl {
  /** Sends a signal; returns 0 or a positive errno (ESRCH once the process is gone). */
  signal(signo: number): number;
  ref(): void;
  unref(): void;
}

export interface ChildFields {
  pid: number;
  nsPid: number;
  init: InitInfo | null;
  namespaceId: number;
  pidNamespace: PidNamespaceMode;
  stdio: (Readable | Writable | null)[];
  /** The controller side of the command's terminal (options.terminal), or null. */
  terminal: TerminalStream | null;
  control: ChildControl;
  /** The cgroup the namespace was placed in, or null. */
  cgroup: CgroupPlacement | null;
  spawnargs: string[];
  spawnfile: string;
  /** The signal of options.killSignal, for disposal. */
  killSignal: number;
  /** Our end of the 'ipc' entry's socket pair, if there is one. */
  channel: ChannelEnd | null;
}

/**
 * A command started by spawnInPidNamespace(), forkInPidNamespace() or PidNamespace.spawn().
 * Emits 'exit' (code, signal) once the command has ended (under the init: once its namespace has
 * ended too) and 'close' when its output streams have closed as well. With an IPC channel it
 * also emits 'message', 'disconnect' and 'error' as a forked ChildProcess does.
 *
 * Output that nobody has started reading when the command's exit has been handled (the event
 * loop turn in which `exited` resolves, continuations of `await child.exited` included) is read
 * and discarded, so its descriptors close and 'close' fires, as with child_process. A stream that
 * has a reader, or that was paused on purpose, is left to its reader.
 */
export class PidNamespaceChild extends EventEmitter implements AsyncDisposable {
  /** The command's pid in the caller's PID namespace. */
  readonly pid: number;
  /** The command's pid inside its own namespace: 1 raw, 2 under the init, N when joined; `pid` without a namespace of its own. */
  readonly nsPid: number;
  /** The init that is pid 1 of the namespace, or null when there is none of ours. */
  readonly init: InitInfo | null;
  /** The inode number of the command's PID namespace (/proc/PID/ns/pid). */
  readonly namespaceId: number;
  /** Which PID namespace the command runs in: 'new', 'joined' or 'caller' (see PidNamespaceMode). */
  readonly pidNamespace: PidNamespaceMode;
  /** Writes to the command's stdin ('pipe'), else null. */
  readonly stdin: Writable | null;
  /** The command's stdout ('pipe'), else null. */
  readonly stdout: Readable | null;
  /** The command's stderr ('pipe'), else null. */
  readonly stderr: Readable | null;
  /**
   * With options.terminal, the other side of the command's terminal: write what the user types,
   * read what the screen shows. It ends once the command's session is over; else null.
   */
  readonly terminal: Duplex | null;
  /** Every 'pipe' entry of options.stdio by descriptor number; null for the others. */
  readonly stdio: (Readable | Writable | null)[];
  /** The command and its arguments, as given. */
  readonly spawnargs: string[];
  /** The command, as given. */
  readonly spawnfile: string;
  /**
   * Resolves once the command has ended and, under the init, its namespace with it. Never
   * rejects. Output may still be on its way: to read all of it, await `closed`.
   */
  readonly exited: Promise<ExitStatus>;
  /**
   * The 'close' event as a promise: resolves with the same status as `exited` once the command
   * has exited and every output stream pidns created for it has ended (a killed command gives
   * its signal: `code: null, signal: 'SIGKILL'`). Never rejects. An IPC channel does not
   * count: this resolves whether or not it is still connected.
   */
  readonly closed: Promise<ExitStatus>;
  /** The exit code once the command has exited normally, else null. */
  exitCode: number | null = null;
  /** The signal that ended the command, else null. */
  signalCode: NodeJS.Signals | null = null;
  /** True once kill() has delivered a signal. */
  killed = false;

  #control: ChildControl;
  #cgroup: CgroupPlacement | null;
  #killSignal: number;
  #channel: IpcChannel;
  #terminal: TerminalStream | null;
  #hasExited = false;
  #status: ExitStatus | null = null;
  #resolveExited!: (status: ExitStatus) => void;
  #resolveClosed!: (status: ExitStatus) => void;
  #openStreams = 0;

  /** @internal */
  constructor(fields: ChildFields) {
    super();
    this.pid = fields.pid;
    this.nsPid = fields.nsPid;
    this.init = fields.init;
    this.namespaceId = fields.namespaceId;
    this.pidNamespace = fields.pidNamespace;
    this.stdio = fields.stdio;
    this.stdin = (fields.stdio[0] as Writable | null) ?? null;
    this.stdout = (fields.stdio[1] as Readable | null) ?? null;
    this.stderr = (fields.stdio[2] as Readable | null) ?? null;
    this.spawnargs = fields.spawnargs;
    this.spawnfile = fields.spawnfile;
    this.#control = fields.control;
    this.#cgroup = fields.cgroup;
    this.#killSignal = fields.killSignal;
    this.#channel = new IpcChannel(fields.channel, this);
    this.terminal = this.#terminal = fields.terminal;
    this.exited = new Promise((resolve) => {
      this.#resolveExited = resolve;
    });
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    // Like ChildProcess: 'close' waits for the streams the child writes to (stdin is ours).
    for (const stream of [...fields.stdio.slice(1), fields.terminal]) {
      if (!stream) continue;
      this.#openStreams++;
      stream.once('close', () => {
        this.#openStreams--;
        this.#maybeClose();
      });
    }
  }

  /**
   * Sends a signal to the command (under the init, directly to it; with signalGroup, to its
   * process group). Returns false once the command has exited; never signals a recycled pid.
   */
  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    const signo = signalNumber(signal);
    if (this.#hasExited) return false;
    const err = this.#control.signal(signo);
    if (err === 0) {
      if (signo !== 0) this.killed = true;
      return true;
    }
    if (err !== 3 /* ESRCH */) {
      this.emit('error', systemError(err, 'kill', { action: `kill ${this.pid}`, spawnargs: this.spawnargs }));
    }
    return false;
  }

  /** The cgroup v2 directory the namespace runs in (options.cgroup), or null. */
  get cgroup(): string | null {
    return this.#cgroup?.path ?? null;
  }

  /**
   * Freezes every process of the cgroup (cgroup.freeze) and resolves once cgroup.events says they
   * are frozen. A frozen command can still be killed with SIGKILL (under the init, that ends the
   * namespace); other signals wait for thaw(). Rejects with ERR_NO_CGROUP without options.cgroup,
   * and with ERR_FREEZE_WITHOUT_NAMESPACE for `pidNamespace: 'caller'`: a frozen init that is not
   * pid 1 could not end its descendants, neither when killed nor when Node dies.
   */
  async freeze(): Promise<void> {
    if (this.pidNamespace === 'caller') {
      throw new PidnsStateError('ERR_FREEZE_WITHOUT_NAMESPACE', `freeze: the command runs without a PID namespace of its own (newNamespace: false), where a frozen init could not end its descendants; thaw() and cgroupStats() work`);
    }
    return this.#placement('freeze').setFrozen(true);
  }

  /** Undoes freeze(); resolves once cgroup.events says the processes run again. */
  async thaw(): Promise<void> {
    return this.#placement('thaw').setFrozen(false);
  }

  /** CPU time, memory and process counts of the cgroup now (from cpu.stat, memory.*, pids.current). */
  cgroupStats(): CgroupStats {
    return this.#placement('cgroupStats').stats();
  }

  #placement(action: string): CgroupPlacement {
    return usablePlacement(this.#cgroup, action, this.#hasExited, this.namespaceId);
  }

  /** True while the IPC channel is open (false without one, and once either side disconnected). */
  get connected(): boolean {
    return this.#channel.connected;
  }

  /**
   * Sends a message over the IPC channel, as ChildProcess#send() does: returns false once the
   * channel is closed (the error then goes to `callback`, else to 'error') or when so much is
   * still unsent that the caller should wait; `callback` runs once the message was written.
   * Handles (sockets, servers) cannot be sent: a `sendHandle` throws ERR_INVALID_HANDLE_TYPE.
   */
  send(message: unknown, callback?: SendCallback): boolean;
  send(message: unknown, sendHandle: unknown, callback?: SendCallback): boolean;
  send(message: unknown, sendHandle: unknown, options: object | undefined, callback?: SendCallback): boolean;
  send(message: unknown, sendHandle?: unknown, options?: unknown, callback?: unknown): boolean {
    return this.#channel.send(message, sendHandle, options, callback);
  }

  /**
   * Closes the IPC channel once what was sent has gone out; 'disconnect' follows. A Node
   * command sees its own 'disconnect' and may then exit.
   */
  disconnect(): void {
    this.#channel.disconnect();
  }

  /**
   * Sets the window size of the command's terminal (options.terminal); the kernel sends SIGWINCH
   * to its foreground process group. Returns false once the terminal is closed.
   */
  resize(cols: number, rows: number): boolean {
    const size = checkTerminalSize('', cols, rows);
    if (!this.#terminal) throw new PidnsStateError('ERR_NO_TERMINAL', `resize: process ${this.pid} was not started with options.terminal`);
    return this.#terminal.resize(size);
  }

  /** Lets Node exit while the command runs (the command keeps running). */
  unref(): void {
    this.#control.unref();
  }

  /** Undoes unref(): Node's event loop stays alive until the command ends. */
  ref(): void {
    this.#control.ref();
  }

  /** @internal Called once with the final status. */
  _finish(status: ExitStatus): void {
    if (this.#hasExited) return;
    this.#hasExited = true;
    this.#status = status;
    this.exitCode = status.code;
    this.signalCode = status.signal;
    this.#resolveExited(status);
    this.stdin?.destroy();
    this.emit('exit', status.code, status.signal);
    // What the command sent and nobody listened for is read, so the channel sees end of file.
    this.#channel.startReading();
    // After every continuation of `await exited` and every 'exit' listener has had its chance
    // to start reading.
    setImmediate(() => this.#discardUnreadOutput());
    this.#maybeClose();
  }

  #discardUnreadOutput(): void {
    for (const stream of [...this.stdio.slice(1), this.#terminal]) {
      const readable = stream as Readable | null;
      if (readable && !readable.destroyed && readable.readableFlowing === null) readable.resume();
    }
  }

  #maybeClose(): void {
    if (this.#hasExited && this.#openStreams === 0) {
      this.#openStreams = -1;
      const status = this.#status!;
      process.nextTick(() => {
        this.#resolveClosed(status);
        this.emit('close', status.code, status.signal);
      });
    }
  }

  /**
   * For `await using`: sends killSignal (options.killSignal, default SIGTERM) unless the command
   * has exited, closes the IPC channel once it has, and resolves with `closed`.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    this.kill(this.#killSignal);
    await this.exited;
    if (this.connected) this.disconnect();
    await this.closed;
  }
}
