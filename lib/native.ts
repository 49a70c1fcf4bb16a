// The typed surface of the native addon: one line per entry point (see src-native/addon.cc).
import * as fs from 'fs';
import * as path from 'path';
import type { ResourceUsage } from './signals';

/** A kernel refusal, as the addon reports it: a positive errno and the call that failed (and, for a
 * refused setns, the namespace it was entering, by its name in /proc/PID/ns). */
export interface NativeFailure { errno: number; syscall: string; namespace?: string }

export interface NativeSpawnOptions {
  file: string;
  argv: string[];
  envp: string[];
  cwd: string | null;
  uid: number;
  gid: number;
  fdMap: number[];
  /** Descriptors opened for this spawn that the addon closes if the outcome finds nobody to
   * receive it (the thread that asked has ended); otherwise the caller keeps them. */
  ownedFds?: number[];
  newPidNamespace: boolean;
  joinFd: number;
  /** A user namespace to enter before joinFd's PID namespace, or -1. */
  joinUserFd: number;
  pdeathsig: number;
  /** Node's pid in the /proc it has mounted; with pdeathsig the child checks its parent against it. */
  parentPid: number;
  usePidfd: boolean;
  /** A new network namespace may be one the addon made ahead (false: PIDNS_NO_WARM_NETWORK=1). */
  warmNetwork: boolean;
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
  /** The new namespace's pid_max, written by its pid 1 before execve (Linux >= 6.14), or 0. */
  pidMax: number;
  /** The pid to take in the namespace joined (clone3 set_tid), or 0 for the next free one. */
  nsPid: number;
  /** With a new PID namespace: CLONE_NEW* flags of the other namespaces to make (lib/namespaces.ts), or 0. */
  newNamespaces: number;
  /** With CLONE_NEWUTS: the host name there, or null. */
  hostname: string | null;
  /** With CLONE_NEWTIME: the offsets as /proc/PID/timens_offsets takes them, or null. */
  timeOffsets: string | null;
  /** With joinFd: the target's other namespaces to enter, one descriptor or -1 per name of
   * constants.ENTER_KINDS, in that order (entered as nsenter does; see lib/enter.ts). */
  enterFds: number[];
  /** With joinFd: the target's root directory (fchdir and chroot before the command is forked), or -1. */
  rootFd: number;
  /** With joinFd: the target's working directory, or -1. */
  cwdFd: number;
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
  /**
   * Queues a spawn on the addon's spawner thread; onDone gets its outcome from the event loop.
   * A failure returned here means nothing was queued (and onDone is never called).
   */
  spawn(options: NativeSpawnOptions, onDone: (result: NativeSpawnResult | NativeFailure) => void): NativeFailure | undefined;
  ProcessHandle: new (pid: number, pidfd: number, onExit?: (waitStatus: number, usage: ResourceUsage | null) => void, notChild?: boolean) => NativeProcessHandle;
  startFallbackWatch(): void;
  controlPair(): [number, number] | NativeFailure;
  ControlChannel: new (fd: number, onMessage: (type: number, value: number, pid: number, pidfd: number, amount: number) => void) => NativeControlChannel;
  pipe(): [number, number] | NativeFailure;
  dupFd(fd: number): number | NativeFailure;
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
  /** Kernel features, each found by a call that makes no process and closes nothing: 0 where it works, else errno. */
  probeKernel(): { clone3IntoCgroup: number; closeRange: number; closeRangeCloexec: number };
  constants: {
    CLONE_NEWPID: number;
    CLONE_NEWUSER: number;
    MAX_FD_MAP: number;
    /** The order of NativeSpawnOptions.enterFds. */
    ENTER_KINDS: string[];
    /** The CLONE_NEW* type of each namespace, by its name in /proc/PID/ns. */
    NAMESPACE_TYPES: Record<'user' | 'cgroup' | 'ipc' | 'uts' | 'net' | 'pid' | 'mnt' | 'time', number>;
  };
}

// eslint-disable-next-line @typescript-eslint/no-var-requires
const bindings = require('bindings') as (options: { bindings: string; path: true; module_root: string; try: string[][] }) => string;
const moduleRoot = path.join(__dirname, '..');

/**
 * Whether this Node runs on glibc: glibc's libc.so.6 is among the files mapped into this process
 * (musl's is ld-musl-ARCH.so.1). Read from /proc/self/maps, which takes a fraction of a
 * millisecond; Node's diagnostic report says it too, but takes milliseconds to make.
 */
function onGlibc(): boolean {
  try {
    return /\/libc\.so\.6$/m.test(fs.readFileSync('/proc/self/maps', 'latin1'));
  } catch {
    return false;
  }
}

/**
 * Where the addon is looked for, in order: a build made here first (node-gyp's build/Debug, then
 * build/Release), then the prebuilt file the package carries for this architecture
 * (prebuilds/linux-x64/pidns.node, built for glibc by scripts/prebuild.js).
 *
 * The order matters because the bindings package moves on to the next path only when a file is
 * missing: one that exists and fails to load ends the search with that error. A build made here
 * (the install script builds one where the prebuilt file does not load: another architecture, a
 * C library other than glibc, a rebuild asked for) must therefore come first. The prebuilt file
 * is not even tried on another C library, where loading it could only fail.
 */
export const addonSearchPath: string[][] = [
  ['module_root', 'build', 'Debug', 'bindings'],
  ['module_root', 'build', 'Release', 'bindings'],
  ...(onGlibc() ? [['module_root', 'prebuilds', `${process.platform}-${process.arch}`, 'bindings']] : []),
];

/**
 * The absolute path of the native addon this process loaded: under build/ when it was built on
 * this machine, under prebuilds/ when it is the one the package carries.
 */
export const addonPath = bindings({ bindings: 'pidns.node', path: true, module_root: moduleRoot, try: addonSearchPath });

// eslint-disable-next-line @typescript-eslint/no-var-requires
export const native = require(addonPath) as NativeBinding;

/**
 * The absolute path of `pidns-init`, the init program that comes with the native addon, in the
 * same folder: `node_modules/pidns/build/Release/pidns-init` when the package was built on
 * this machine, `node_modules/pidns/prebuilds/linux-x64/pidns-init` (or linux-arm64) when it uses
 * the prebuilt files. pidns runs it, always by this path, as pid 1 of every namespace made with
 * `init: true`.
 *
 * It is a program of its own, which needs neither Node nor a shell: statically linked (without a C
 * library on x86-64 and arm64; dynamically only where build.sh could make no static build).
 * `pidns-init [--] COMMAND [ARGS...]` runs the command as its child, passes signals on to it,
 * reaps orphans and exits with the command's status, which makes it usable as the entrypoint of a
 * container: the package's bin `node_modules/.bin/pidns-init` leads to this file.
 */
export const initPath = path.join(path.dirname(addonPath), 'pidns-init');

/** False on kernels without pidfds (before 5.3), or when PIDNS_NO_PIDFD=1 forces the fallback. */
export const usePidfd = !process.env.PIDNS_NO_PIDFD && native.pidfdSupported();
/** Settings read at each spawn. warmNetwork: whether a spawn with a new network namespace may take
 * one made ahead on a thread of the addon's (see README, "Beyond the PID namespace");
 * PIDNS_NO_WARM_NETWORK=1 makes each in its clone (bench/namespaces.js also turns it off for a case). */
export const tuning = { warmNetwork: !process.env.PIDNS_NO_WARM_NETWORK };
// Always, before the first clone: even with pidfds, a pidfd_open after the clone can fail (EMFILE,
// ENOMEM), and that child's exit is then watched through SIGCHLD, which must not be missed.
native.startFallbackWatch();

export function isFailure(value: unknown): value is NativeFailure {
  return typeof value === 'object' && value !== null && 'errno' in value && !Array.isArray(value);
}
