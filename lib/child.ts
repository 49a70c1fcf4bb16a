// PidNamespaceChild: a started command, shaped like Node's ChildProcess where it can be.
import { EventEmitter } from 'events';
import type { Readable, Writable } from 'stream';
import { usablePlacement, type CgroupPlacement, type CgroupStats } from './cgroup';
import { systemError } from './errors';
import { signalNumber, type ExitStatus } from './signals';

export type { ExitStatus } from './signals';

/** The init that is pid 1 of a namespace. */
export interface InitInfo {
  /** The init's pid in the caller's view. */
  pid: number;
  /** Always 1: the init is pid 1 of the namespace. */
  nsPid: 1;
}

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
  stdio: (Readable | Writable | null)[];
  control: ChildControl;
  /** The cgroup the namespace was placed in, or null. */
  cgroup: CgroupPlacement | null;
  spawnargs: string[];
  spawnfile: string;
}

/**
 * A command started by spawnInPidNamespace() or PidNamespace.spawn(). Emits 'exit' (code, signal)
 * once the command has ended (under the init: once its namespace has ended too) and 'close' when
 * its output streams have closed as well.
 */
export class PidNamespaceChild extends EventEmitter {
  /** The command's pid in the caller's PID namespace. */
  readonly pid: number;
  /** The command's pid inside its own namespace: 1 raw, 2 under the init, N when joined. */
  readonly nsPid: number;
  /** The init that is pid 1 of the namespace, or null when there is none of ours. */
  readonly init: InitInfo | null;
  /** The inode number of the command's PID namespace (/proc/PID/ns/pid). */
  readonly namespaceId: number;
  /** Writes to the command's stdin ('pipe'), else null. */
  readonly stdin: Writable | null;
  /** The command's stdout ('pipe'), else null. */
  readonly stdout: Readable | null;
  /** The command's stderr ('pipe'), else null. */
  readonly stderr: Readable | null;
  /** Every 'pipe' entry of options.stdio by descriptor number; null for the others. */
  readonly stdio: (Readable | Writable | null)[];
  /** The command and its arguments, as given. */
  readonly spawnargs: string[];
  /** The command, as given. */
  readonly spawnfile: string;
  /** Resolves once the command has ended and, under the init, its namespace with it. Never rejects. */
  readonly exited: Promise<ExitStatus>;
  /** The exit code once the command has exited normally, else null. */
  exitCode: number | null = null;
  /** The signal that ended the command, else null. */
  signalCode: NodeJS.Signals | null = null;
  /** True once kill() has delivered a signal. */
  killed = false;

  #control: ChildControl;
  #cgroup: CgroupPlacement | null;
  #hasExited = false;
  #resolveExited!: (status: ExitStatus) => void;
  #openStreams = 0;

  /** @internal */
  constructor(fields: ChildFields) {
    super();
    this.pid = fields.pid;
    this.nsPid = fields.nsPid;
    this.init = fields.init;
    this.namespaceId = fields.namespaceId;
    this.stdio = fields.stdio;
    this.stdin = (fields.stdio[0] as Writable | null) ?? null;
    this.stdout = (fields.stdio[1] as Readable | null) ?? null;
    this.stderr = (fields.stdio[2] as Readable | null) ?? null;
    this.spawnargs = fields.spawnargs;
    this.spawnfile = fields.spawnfile;
    this.#control = fields.control;
    this.#cgroup = fields.cgroup;
    this.exited = new Promise((resolve) => {
      this.#resolveExited = resolve;
    });
    // Like ChildProcess: 'close' waits for the streams the child writes to (stdin is ours).
    for (const stream of fields.stdio.slice(1)) {
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
   * namespace); other signals wait for thaw(). Rejects with ERR_NO_CGROUP without options.cgroup.
   */
  async freeze(): Promise<void> {
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
    this.exitCode = status.code;
    this.signalCode = status.signal;
    this.#resolveExited(status);
    this.stdin?.destroy();
    this.emit('exit', status.code, status.signal);
    this.#maybeClose();
  }

  #maybeClose(): void {
    if (this.#hasExited && this.#openStreams === 0) {
      this.#openStreams = -1;
      process.nextTick(() => this.emit('close', this.exitCode, this.signalCode));
    }
  }
}
