// The typed surface of the native addon: one line per entry point (see src-native/addon.cc).
import * as path from 'path';
import type { ResourceUsage } from './signals';

/** A kernel refusal, as the addon reports it: a positive errno and the call that failed. */
export interface NativeFailure { errno: number; syscall: string }

export interface NativeSpawnOptions {
  file: string;
  argv: string[];
  envp: string[];
  cwd: string | null;
  uid: number;
  gid: number;
  fdMap: number[];
  newPidNamespace: boolean;
  joinFd: number;
  /** A user namespace to enter before joinFd's PID namespace, or -1. */
  joinUserFd: number;
  pdeathsig: number;
  /** Node's pid in the /proc it has mounted; with pdeathsig the child checks its parent against it. */
  parentPid: number;
  usePidfd: boolean;
  /** A new mount namespace with private propagation and a /proc of the child's PID namespace. */
  mountProc: boolean;
  /** PR_SET_NO_NEW_PRIVS before execve. */
  noNewPrivileges: boolean;
  /** A process group of its own, made the foreground group of the terminal on descriptor 0. */
  foreground: boolean;
  /** setsid and TIOCSCTTY on descriptor 0 before execve: the command leads a session on that terminal. */
  terminal: boolean;
  /** New user and PID namespaces, with these maps written from outside before the child goes on. */
  newUserNamespace: boolean;
  uidMap: string;
  gidMap: string;
  denySetgroups: boolean;
  /** A cgroup v2 directory to create the first process in (clone3 CLONE_INTO_CGROUP), or -1. */
  cgroupFd: number;
}

/** namespaceId: the inode of the process's PID namespace as it read it itself, or 0. */
export interface NativeSpawnResult { pid: number; pidfd: number; nsPid: number; namespaceId: number }

export interface NativeProcessHandle {
  signal(sig: number): number;
  ref(): void;
  unref(): void;
  close(): void;
}

export interface NativeControlChannel {
  send(type: number, value: number): number;
  drain(): void;
  close(): void;
}

/** What a NativeTerminalController reports (src-native/terminal.cc). */
export const TerminalEvent = { Data: 1, End: 2, Writable: 3, Error: 4 } as const;

export interface NativeTerminalController {
  setReading(on: boolean): void;
  /** Bytes written (0: the terminal takes nothing now), or -errno. */
  write(data: Buffer): number;
  awaitWritable(): void;
  /** 0 or errno. */
  resize(cols: number, rows: number): number;
  close(): void;
}

export interface NativeBinding {
  spawn(options: NativeSpawnOptions): NativeSpawnResult | NativeFailure;
  ProcessHandle: new (pid: number, pidfd: number, onExit?: (waitStatus: number, usage: ResourceUsage | null) => void, notChild?: boolean) => NativeProcessHandle;
  startFallbackWatch(): void;
  controlPair(): [number, number] | NativeFailure;
  ControlChannel: new (fd: number, onMessage: (type: number, value: number, pid: number, pidfd: number, amount: number) => void) => NativeControlChannel;
  pipe(): [number, number] | NativeFailure;
  ipcPair(): [number, number] | NativeFailure;
  namespaceType(fd: number): number;
  pidfdSupported(): boolean;
  closeFd(fd: number): void;
  forwardSignals(signals: number[], onSignal: (signo: number) => void): NativeFailure | null;
  stopForwardingSignals(): void;
  foregroundGroup(fd: number): number;
  processGroup(): number;
  setForegroundGroup(fd: number, pgid: number): number;
  stopProcess(signo: number): void;
  stopSignalOf(pid: number): number;
  openTerminal(cols: number, rows: number): [controller: number, terminal: number] | NativeFailure;
  TerminalController: new (fd: number, onEvent: (event: number, payload?: Buffer | number) => void) => NativeTerminalController;
  constants: { CLONE_NEWPID: number; CLONE_NEWUSER: number; MAX_FD_MAP: number };
}

// eslint-disable-next-line @typescript-eslint/no-var-requires
const bindings = require('bindings') as (options: { bindings: string; path?: boolean; module_root?: string }) => unknown;
const moduleRoot = path.join(__dirname, '..');

export const native = bindings({ bindings: 'pidns', module_root: moduleRoot }) as NativeBinding;

/**
 * The absolute path of `pidns-init`, the init program built beside the native addon when the
 * package is installed (`node_modules/pidns/build/Release/pidns-init`). pidns runs it, always by
 * this path, as pid 1 of every namespace made with `init: true`.
 *
 * It is a program of its own, which needs neither Node nor a shell: statically linked (without a C
 * library on x86-64 and arm64; dynamically only where build.sh could make no static build).
 * `pidns-init [--] COMMAND [ARGS...]` runs the command as its child, passes signals on to it,
 * reaps orphans and exits with the command's status, which makes it usable as the entrypoint of a
 * container: the package's bin `node_modules/.bin/pidns-init` leads to this file.
 */
export const initPath = path.join(
  path.dirname(bindings({ bindings: 'pidns', path: true, module_root: moduleRoot }) as string),
  'pidns-init',
);

/** False on kernels without pidfds (before 5.3), or when PIDNS_NO_PIDFD=1 forces the fallback. */
export const usePidfd = !process.env.PIDNS_NO_PIDFD && native.pidfdSupported();
// Always, before the first clone: even with pidfds, a pidfd_open after the clone can fail (EMFILE,
// ENOMEM), and that child's exit is then watched through SIGCHLD, which must not be missed.
native.startFallbackWatch();

export function isFailure(value: unknown): value is NativeFailure {
  return typeof value === 'object' && value !== null && 'errno' in value && !Array.isArray(value);
}
