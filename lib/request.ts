// The native spawn request: everything the addon's clone needs, built in one function from the
// checked options and what the spawn has prepared (stdio descriptors, a cgroup, a namespace to
// join, the init's control socket). Nothing changes a request once it is built.
import type { EnteredTarget } from './enter';
import { initPath, native, tuning, usePidfd, type NativeFailure, type NativeSpawnOptions, type NativeSpawnResult } from './native';
import { namespaceRequest, NO_NEW_NAMESPACES, type NormalizedNamespaces } from './namespaces';
import { mapsRoot, type NormalizedOptions, type NormalizedPodOptions, type NormalizedUserNamespace } from './options';
import { ownPidInProc } from './proc';
import { signalNumber } from './signals';

const SIGKILL = signalNumber('SIGKILL');
const SIGCONT = signalNumber('SIGCONT');
/** enterFds of a spawn that enters none of a target's other namespaces. */
const NO_OTHER_NAMESPACES = native.constants.ENTER_KINDS.map(() => -1);

/** A namespace to enter, opened (namespace-files.ts). */
export interface JoinFds {
  fd: number;
  path: string;
  /** The owning user namespace to enter first (a rootless pod), or -1. */
  userFd: number;
}

/** What every launch has prepared: the stdio map (descriptor i of the child is fdMap[i]) and a cgroup. */
interface Prepared {
  fdMap: number[];
  /** What the spawn opened that the addon closes if nobody is left to receive the outcome. */
  ownedFds: number[];
  /** A cgroup v2 directory to create the process in, or -1. */
  cgroupFd: number;
}

/** The command itself, exec'd by our child: pid 1 of a new namespace (join null), or a joiner. */
export interface CommandLaunch extends Prepared {
  kind: 'command';
  opts: NormalizedOptions;
  /** The command's resolved path. */
  file: string;
  join: JoinFds | null;
  /** With join and joinNamespaces: the target's other namespaces and directories, opened. */
  entered: EnteredTarget | null;
  /** The caller's terminal is handed to the command (options.foreground). */
  withTerminal: boolean;
}

/** The init, which runs the command as pid 2 of a new namespace, or as its child in ours. */
export interface InitLaunch extends Prepared {
  kind: 'init';
  opts: NormalizedOptions;
  file: string;
  withTerminal: boolean;
  /** false: no new PID namespace; the init is a child subreaper in ours (options.newNamespace). */
  newNamespace: boolean;
}

/** The init of a pod, in pause mode. */
export interface PodLaunch extends Prepared {
  kind: 'pod';
  pod: NormalizedPodOptions;
}

type Launch = CommandLaunch | InitLaunch | PodLaunch;

/** What an init's namespace is made with: a command's options, or a pod's. */
export function initSettings(launch: InitLaunch | PodLaunch): { userNamespace: NormalizedUserNamespace | null; mountProc: boolean; noNewPrivileges: boolean; dieWithParent: boolean; namespaces: NormalizedNamespaces } {
  if (launch.kind === 'pod') return { ...launch.pod, noNewPrivileges: false };
  const { userNamespace, mountProc, noNewPrivileges, dieWithParent, namespaces } = launch.opts;
  return { userNamespace, mountProc, noNewPrivileges, dieWithParent, namespaces };
}

/**
 * The request for a launch. An init's request needs the descriptor of its end of the control
 * channel in Node (controlFd): it becomes the init's next descriptor after stdio.
 */
export function nativeRequest(launch: CommandLaunch): NativeSpawnOptions;
export function nativeRequest(launch: InitLaunch | PodLaunch, controlFd: number): NativeSpawnOptions;
export function nativeRequest(launch: Launch, controlFd = -1): NativeSpawnOptions {
  if (launch.kind === 'command') {
    const { opts, join, entered } = launch;
    // In a user namespace entered, the command is its root unless told otherwise, as with nsenter.
    const enteredId = (id: number) => (id < 0 && entered?.enteredUser ? 0 : id);
    return {
      ...common(launch, opts.userNamespace, opts.mountProc, opts.noNewPrivileges, opts.dieWithParent),
      file: launch.file,
      argv: [opts.argv0, ...opts.args],
      envp: opts.env,
      cwd: opts.cwd,
      uid: enteredId(opts.uid),
      gid: enteredId(opts.gid),
      newPidNamespace: join === null,
      joinFd: join ? join.fd : -1,
      joinUserFd: join ? join.userFd : -1,
      terminal: opts.terminal !== null,
      foreground: launch.withTerminal,
      pidMax: join === null ? opts.pidMax ?? 0 : 0,
      nsPid: join !== null ? opts.nsPid ?? 0 : 0,
      enterFds: entered?.enterFds ?? NO_OTHER_NAMESPACES,
      rootFd: entered?.rootFd ?? -1,
      cwdFd: entered?.cwdFd ?? -1,
      ...namespaceRequest(join === null ? opts.namespaces : NO_NEW_NAMESPACES),
    };
  }
  const init = launch.kind === 'init' ? commandInit(launch) : podInit(launch.pod);
  const { userNamespace, mountProc, noNewPrivileges, dieWithParent, namespaces } = initSettings(launch);
  const newNamespace = launch.kind === 'pod' || launch.newNamespace;
  // The control channel is the init's next descriptor after stdio, and --control-fd names it.
  const withControl = { fdMap: [...launch.fdMap, controlFd], cgroupFd: launch.cgroupFd, ownedFds: launch.ownedFds };
  // Without a namespace, SIGKILL of the init would leave its descendants running: the channel's
  // end of file makes the init end them, and the death signal is SIGCONT, which only wakes an
  // init that something stopped, so that it can.
  const deathSignal = newNamespace ? SIGKILL : SIGCONT;
  return {
    ...common(withControl, userNamespace, mountProc, noNewPrivileges, dieWithParent, deathSignal),
    file: initPath,
    argv: [initPath, '--control-fd', String(launch.fdMap.length), ...init.args],
    envp: init.envp,
    cwd: init.cwd,
    uid: init.ids.uid,
    gid: init.ids.gid,
    newPidNamespace: newNamespace,
    joinFd: -1,
    joinUserFd: -1,
    terminal: false,
    foreground: false,
    // Written by the init itself, pid 1, in the clone's child before its execve: no process of
    // the namespace runs before it is set, and the init needs no privilege of its own for it.
    pidMax: newNamespace ? (launch.kind === 'pod' ? launch.pod.pidMax : launch.opts.pidMax) ?? 0 : 0,
    nsPid: 0,
    enterFds: NO_OTHER_NAMESPACES,
    rootFd: -1,
    cwdFd: -1,
    // Made with the init's namespace and prepared by the init before its execve, so the command
    // it forks starts in them as they are meant to be (the time namespace too, which the init
    // enters at that execve).
    ...namespaceRequest(newNamespace ? namespaces : NO_NEW_NAMESPACES),
  };
}

/**
 * Runs a request on the addon's spawner thread: resolves with the process that exec'd, or the
 * refusal. The descriptors the request names must stay open until it settles.
 */
export function runRequest(request: NativeSpawnOptions): Promise<NativeSpawnResult | NativeFailure> {
  return new Promise((resolve) => {
    const refused = native.spawn(request, resolve);
    if (refused) resolve(refused);
  });
}

/** What every request shares: a new user namespace's maps, and the parent-death signal. */
function common(prepared: Prepared, userNamespace: NormalizedUserNamespace | null, mountProc: boolean, noNewPrivileges: boolean, dieWithParent: boolean, deathSignal = SIGKILL) {
  // The parent-death signal follows the thread that forks: the addon's spawner thread, which
  // lives as long as the process, whichever thread asked. For an init it matters even with the
  // control socket, whose end of file ends the namespace with Node only while the init can run: a
  // frozen init (cgroup freeze) or one stopped by a tracer inside never reads it, and SIGKILL
  // reaches both.
  const pdeathsig = dieWithParent ? deathSignal : 0;
  return {
    fdMap: prepared.fdMap,
    ownedFds: prepared.ownedFds,
    cgroupFd: prepared.cgroupFd,
    mountProc,
    noNewPrivileges,
    pdeathsig,
    parentPid: pdeathsig ? ownPidInProc() : 0,
    usePidfd,
    warmNetwork: tuning.warmNetwork,
    newUserNamespace: userNamespace !== null,
    uidMap: userNamespace?.uidMap ?? '',
    gidMap: userNamespace?.gidMap ?? '',
    denySetgroups: userNamespace?.denySetgroups ?? false,
  };
}

interface InitSetup {
  /** The init's arguments after --control-fd N. */
  args: string[];
  envp: string[];
  cwd: string | null;
  ids: { uid: number; gid: number };
}

/**
 * The init of a command. It runs with the caller's credentials and changes them only in the
 * command's process: a command running as another uid can then neither signal nor ptrace the
 * init, nor take its control socket (pidfd_getfd).
 */
function commandInit(launch: InitLaunch): InitSetup {
  const { opts } = launch;
  const args = ['--argv0', opts.argv0];
  if (opts.signalGroup) args.push('--signal-group');
  if (launch.withTerminal) args.push('--foreground');
  if (opts.terminal) args.push('--terminal');
  if (opts.teardownGraceMs > 0) args.push('--grace-ms', String(opts.teardownGraceMs));
  if (opts.waitForDescendants) args.push('--wait-all');
  if (!opts.dieWithParent) args.push('--no-die-with-parent');
  const ids = initIds(opts.userNamespace, opts.uid, opts.gid);
  if (opts.uid >= 0 && opts.uid !== ids.uid) args.push('--uid', String(opts.uid));
  if (opts.gid >= 0 && opts.gid !== ids.gid) args.push('--gid', String(opts.gid));
  if (opts.userNamespace?.denySetgroups) args.push('--groups-denied');
  // concat, not push(...): a spread of a huge argument list would overflow the call stack.
  return { args: args.concat('--', launch.file, opts.args), envp: opts.env, cwd: opts.cwd, ids };
}

/** The init of a pod: it only reaps and waits, in /, with no environment. */
function podInit(pod: NormalizedPodOptions): InitSetup {
  const args = pod.dieWithParent ? ['--pause'] : ['--pause', '--no-die-with-parent'];
  return { args, envp: [], cwd: '/', ids: initIds(pod.userNamespace, -1, -1) };
}

/**
 * The ids an init runs with: the caller's own (-1: unchanged), except in a new user namespace,
 * where an execve as an unmapped uid would drop the capabilities the init holds there: it becomes
 * that namespace's root before its execve when the maps give one. A map without a root leaves
 * the init no capability there to change ids with later: it takes the command's ids itself (and
 * shares them with the command).
 */
function initIds(userNamespace: NormalizedUserNamespace | null, uid: number, gid: number): { uid: number; gid: number } {
  if (!userNamespace) return { uid: -1, gid: -1 };
  return {
    uid: mapsRoot(userNamespace.uidMap) ? 0 : uid,
    gid: mapsRoot(userNamespace.gidMap) ? 0 : gid,
  };
}
