// PidNamespace: one PID namespace shared by many processes (a pod), with a pause-style pid 1.
import * as os from 'os';
import { PidNamespaceChild, type InitInfo } from './child';
import { CgroupPlacement, usablePlacement, type CgroupOption, type CgroupStats } from './cgroup';
import { ownProperties } from './checks';
import { checkJoinNamespaces } from './enter';
import { refuseNewNamespaces } from './namespaces';
import { invalidType, invalidValue, namespaceEnded, PidnsStateError, systemError } from './errors';
import { startInit, type InitSession } from './init-session';
import { checkCloseOptions, mapsRoot, normalizePodOptions, type SpawnOptions } from './options';
import type { NewNamespaceKind } from './namespace-limits';
import { checkPidMaxSupported } from './pid-control';
import { checkProcIsOurs, namespaceMembers, pidNamespaceId, type NamespaceMember } from './proc';
import { decodeWaitStatus, signalNumber } from './signals';
import { runCommand, type RunOptions, type RunResult } from './run';
import { spawnInPidNamespace } from './spawn';
import { ownedDescriptors, prepareStdio, releaseStdio } from './stdio';

/** Options of PidNamespace.create(). */
export interface PidNamespaceOptions {
  /** Default true: the namespace ends when the Node process ends. */
  dieWithParent?: boolean;
  /** Members get a private /proc of the pod's namespace, so they see each other with ps. */
  mountProc?: boolean;
  /** A user namespace for the pod (no privilege needed); members enter it too. */
  userNamespace?: SpawnOptions['userNamespace'];
  /**
   * cgroup v2 placement of the pod, as in spawnInPidNamespace(): pid 1 is created in it, and so
   * is every member (unless its own options say otherwise). A cgroup made from limits is removed
   * once the pod has ended.
   */
  cgroup?: CgroupOption;
  /** The pod's own pid_max, as in spawnInPidNamespace(); set by its pid 1 before any member joins. */
  pidMax?: number;
  /**
   * Namespaces the pod makes besides its PID namespace, as in spawnInPidNamespace(), and every
   * member enters (as the containers of a Kubernetes pod share network, IPC and UTS
   * namespaces): 'cgroup', 'ipc', 'mnt', 'net', 'uts'. 'time' is refused: members could not
   * enter it. With 'mnt' members start in the pod's mount namespace, at its root; with mountProc
   * too, the pod's pid 1 mounts the pod's /proc there once, and members see it (they make no
   * mount namespace of their own unless their own options ask for mountProc).
   */
  namespaces?: SpawnOptions['namespaces'];
  /** With 'uts': the pod's host name, which every member shares. */
  hostname?: string;
}

/** Options of PidNamespace.close(). */
export interface CloseOptions {
  /** How long members get after SIGTERM before pid 1 ends and the kernel kills the rest. */
  graceMs?: number;
}

/** What the pod sets for its members: given to PidNamespace.create(), not to ns.spawn(). */
type SetByPod = 'init' | 'join' | 'namespaces' | 'hostname' | 'timeOffsets' | 'pidMax' | 'userNamespace' | 'newNamespace';

/** Options for ns.spawn(): those of spawnInPidNamespace() except what the pod sets. */
export type MemberSpawnOptions = Omit<SpawnOptions, SetByPod>;

/** Options for ns.run(): those of runInPidNamespace() except what the pod sets. */
export type MemberRunOptions = Omit<RunOptions, SetByPod>;

/** What a created pod's members inherit: its /proc, its user namespace and who is root there. */
interface PodFeatures {
  mountProc: boolean;
  /** The pod's other namespaces, which members enter. */
  namespaces: readonly NewNamespaceKind[];
  userNamespace: boolean;
  rootUid: boolean;
  rootGid: boolean;
}

const DEFAULT_GRACE_MS = 5000;
const SIGKILL = signalNumber('SIGKILL');

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * A PID namespace that several processes share, like the containers of a pod.
 *
 * `PidNamespace.create()` starts one whose pid 1 is the bundled init in pause mode: it only reaps
 * orphans and waits, so one member ending never ends the pod. `PidNamespace.fromPid()` wraps the
 * namespace of any running process (one made by another tool, a container) to join and list it.
 */
export class PidNamespace implements AsyncDisposable {
  /** The namespace's inode number (/proc/PID/ns/pid), which identifies it while it exists. */
  readonly id: number;
  /** Its pid 1 in the caller's view, or null when none is visible. */
  readonly init: InitInfo | null;

  readonly #owned: InitSession | null;
  /** A pid whose namespace file leads to this namespace (fromPid). */
  readonly #referencePid: number;
  readonly #members = new Set<PidNamespaceChild>();
  readonly #features: PodFeatures;
  readonly #cgroup: CgroupPlacement | null;
  #ended = false;
  #initExited = deferred();
  #empty = deferred();
  #closing: Promise<void> | null = null;
  #cgroupRemoval: Promise<void> | null = null;

  private constructor(id: number, init: InitInfo | null, owned: InitSession | null, referencePid: number, features: PodFeatures = { mountProc: false, namespaces: [], userNamespace: false, rootUid: false, rootGid: false }, cgroup: CgroupPlacement | null = null) {
    this.id = id;
    this.#cgroup = cgroup;
    this.#features = features;
    this.init = init;
    this.#owned = owned;
    this.#referencePid = referencePid;
  }

  /** Starts a new PID namespace whose pid 1 is the bundled init in pause mode. */
  static async create(options: PidNamespaceOptions = {}): Promise<PidNamespace> {
    const pod = normalizePodOptions(options);
    const action = 'PidNamespace.create';
    checkProcIsOurs(action);
    checkPidMaxSupported(pod.pidMax, action);
    const cgroup = pod.cgroup ? CgroupPlacement.prepare(pod.cgroup, action) : null;
    const features: PodFeatures = {
      mountProc: pod.mountProc,
      namespaces: pod.namespaces.kinds,
      userNamespace: pod.userNamespace !== null,
      rootUid: mapsRoot(pod.userNamespace?.uidMap),
      rootGid: mapsRoot(pod.userNamespace?.gidMap),
    };

    const created = new Promise<PidNamespace>((resolve, reject) => {
      let stdio;
      try {
        stdio = prepareStdio(['ignore', 'ignore', 'ignore'], action);
      } catch (err) {
        reject(err);
        return;
      }
      let ns: PidNamespace | null = null;
      let init!: InitSession;
      const starting = startInit({ kind: 'pod', pod, fdMap: stdio.fdMap, ownedFds: ownedDescriptors(stdio), cgroupFd: cgroup?.fd ?? -1 }, {
        started() {
          ns = new PidNamespace(init.namespaceId, { pid: init.pid, nsPid: 1 }, init, init.pid, features, cgroup);
          resolve(ns);
        },
        empty() {
          if (ns) ns.#empty.resolve();
        },
        end(status) {
          if (ns) {
            ns.#ended = true;
            ns.#initExited.resolve();
            // close() reports a removal that failed; a pod whose pid 1 ended by itself has no
            // caller to report it to, and an unhandled rejection would end the Node process.
            ns.#removeCgroup().catch(() => {});
            return;
          }
          const { code, signal } = decodeWaitStatus(status);
          reject(systemError(os.constants.errno.ESRCH, 'spawn', { action: `${action}: the init ended before it was ready (${signal ?? `exit ${code}`})` }));
        },
      }, (errno, syscall) => systemError(errno, syscall, { action, userNamespace: pod.userNamespace !== null, newNamespaces: pod.namespaces.kinds }));
      // The init's events come from the loop, after this (startInit resolves before any).
      starting.then((session) => {
        init = session;
        releaseStdio(stdio, false);
      }, (err) => {
        releaseStdio(stdio, true);
        reject(err);
      });
    });
    try {
      return await created;
    } catch (err) {
      // The reason the pod could not start matters more than a cgroup left behind.
      await cgroup?.remove(action).catch(() => {});
      throw err;
    } finally {
      cgroup?.release();
    }
  }

  /**
   * Once pid 1 and every member we started have ended: a cgroup we made is killed and removed,
   * with the cgroups members made inside it. One removal, however many ask.
   */
  #removeCgroup(): Promise<void> {
    this.#cgroupRemoval ??= (async () => {
      await Promise.all([...this.#members].map((m) => m.exited));
      await this.#cgroup?.remove('PidNamespace.close');
    })();
    return this.#cgroupRemoval;
  }

  /** The cgroup v2 directory the pod runs in (options.cgroup), or null. */
  get cgroup(): string | null {
    return this.#cgroup?.path ?? null;
  }

  /** Freezes every process of the pod's cgroup; resolves once cgroup.events says frozen. */
  async freeze(): Promise<void> {
    return this.#placement('freeze').setFrozen(true);
  }

  /** Undoes freeze(); resolves once cgroup.events says thawed. */
  async thaw(): Promise<void> {
    return this.#placement('thaw').setFrozen(false);
  }

  /** CPU time, memory and process counts of the pod's cgroup now. */
  cgroupStats(): CgroupStats {
    return this.#placement('cgroupStats').stats();
  }

  #placement(action: string): CgroupPlacement {
    return usablePlacement(this.#cgroup, `PidNamespace.${action}`, this.#ended, this.id);
  }

  /**
   * Wraps the PID namespace of a running process. Such a namespace can be joined and listed, but
   * not closed: its pid 1 belongs to whoever started it.
   * @throws ESRCH when no process has that pid.
   */
  static fromPid(pid: number): PidNamespace {
    const id = pidNamespaceId(pid);
    const first = namespaceMembers(id)[0];
    const init = first && first.nsPid === 1 ? { pid: first.pid, nsPid: 1 as const } : null;
    return new PidNamespace(id, init, null, pid);
  }

  /** A path to this namespace's file (/proc/PID/ns/pid of one of its processes). */
  get namespacePath(): string {
    for (const pid of [this.#referencePid, this.init?.pid]) {
      if (pid === undefined) continue;
      try {
        if (pidNamespaceId(pid) === this.id) return `/proc/${pid}/ns/pid`;
      } catch {
        // gone: try another
      }
    }
    const member = namespaceMembers(this.id)[0];
    return `/proc/${member ? member.pid : this.#referencePid}/ns/pid`;
  }

  /** The user namespace members enter before the PID namespace (a pod with userNamespace). */
  get userNamespacePath(): string | null {
    return this.#features.userNamespace && this.init ? `/proc/${this.init.pid}/ns/user` : null;
  }

  /** True once pid 1 of a namespace we created has exited, or close() has begun. */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Starts a member: the command joins this namespace (it is a child of the Node process and
   * gets the next free pid inside). Rejects with ERR_NAMESPACE_ENDED once the namespace has ended.
   */
  async spawn(command: string, args?: readonly string[] | MemberSpawnOptions, options?: MemberSpawnOptions): Promise<PidNamespaceChild> {
    const [argList, memberOptions] = this.#memberArguments(command, args, options);
    const child = await spawnInPidNamespace(command, argList, memberOptions);
    this.#track(child);
    return child;
  }

  /**
   * Runs a member to its end and collects its output, as runInPidNamespace() does (same result,
   * same errors). Rejects with ERR_NAMESPACE_ENDED once the namespace has ended.
   */
  run(command: string, args: readonly string[] | undefined, options: MemberRunOptions & { encoding: 'buffer' }): Promise<RunResult<Buffer>>;
  run(command: string, args?: readonly string[] | MemberRunOptions, options?: MemberRunOptions): Promise<RunResult<string>>;
  async run(command: string, args?: readonly string[] | MemberRunOptions, options?: MemberRunOptions): Promise<RunResult<string | Buffer>> {
    const [argList, memberOptions] = this.#memberArguments(command, args, options);
    return runCommand(command, argList, memberOptions, (child) => this.#track(child));
  }

  #track(child: PidNamespaceChild): void {
    this.#members.add(child);
    void child.exited.then(() => this.#members.delete(child));
  }

  /** The arguments and the options of a member: the caller's, over what the pod gives members. */
  #memberArguments(command: string, args: unknown, options: unknown): [readonly string[] | undefined, SpawnOptions] {
    // Only what the pod decides is checked here; spawnInPidNamespace checks the rest.
    let argList: readonly string[] | undefined;
    let given: unknown = options;
    if (args !== undefined && args !== null && !Array.isArray(args) && options === undefined) given = args;
    else argList = args as readonly string[] | undefined;
    if (given === undefined || given === null) given = {};
    if (typeof given !== 'object') throw invalidType('options', 'of type object', given);
    // An option given as undefined is an option not given: it must not clear what the pod gives.
    const opts = Object.fromEntries(Object.entries(ownProperties(given as object)).filter(([, value]) => value !== undefined));
    for (const key of ['init', 'join'] as const) {
      if (opts[key] !== undefined) throw invalidValue(`options.${key}`, opts[key], 'is set by the namespace');
    }
    // What a member's join would refuse, said of the pod (the caller never gave options.join).
    refuseNewNamespaces(opts, "a pod's members (they enter the pod's namespaces: give those to PidNamespace.create)");
    // (Each with the one value a member may give: what it gets anyway.)
    const setByPod = [
      ['pidMax', undefined, "a pod's pid_max is set by PidNamespace.create"],
      ['userNamespace', false, "a pod's members enter its user namespace, made by PidNamespace.create"],
      ['newNamespace', true, "a pod's members join the pod's PID namespace"],
    ] as const;
    for (const [key, allowed, why] of setByPod) {
      if (opts[key] !== undefined && opts[key] !== allowed) throw invalidValue(`options.${key}`, opts[key], `cannot be used with a pod's members (${why})`);
    }
    if (this.#ended) throw namespaceEnded(`spawn ${String(command)}`, this.id);
    const { namespaces } = this.#features;
    // In the pod's mount namespace the pod's /proc (if it has one) is already there.
    const inherited: SpawnOptions = { mountProc: this.#features.mountProc && !namespaces.includes('mnt') };
    if (namespaces.length > 0) inherited.joinNamespaces = namespaces;
    if (this.#cgroup) inherited.cgroup = this.#cgroup.path;
    // Members entering the pod's user namespace run as its root, as the pid 1 does.
    if (this.#features.rootUid) inherited.uid = 0;
    if (this.#features.rootGid) inherited.gid = 0;
    // A member's own joinNamespaces adds to the pod's kinds, which every member enters.
    const own = opts.joinNamespaces;
    if (inherited.joinNamespaces && Array.isArray(own)) opts.joinNamespaces = [...new Set([...inherited.joinNamespaces, ...checkJoinNamespaces(own)!])];
    return [argList, { ...inherited, ...(opts as SpawnOptions), init: false, join: this }];
  }

  /** Every process in the namespace, pid 1 included, read from /proc. */
  processes(): NamespaceMember[] {
    return namespaceMembers(this.id);
  }

  /**
   * Ends the namespace: SIGTERM to every member, up to graceMs for them to go, then pid 1 ends
   * and the kernel kills whatever is left. Resolves when no process of the namespace remains.
   * Refused for a namespace from fromPid(), whose pid 1 is not ours.
   */
  async close(options: CloseOptions = {}): Promise<void> {
    if (!this.#owned) {
      throw new PidnsStateError(
        'ERR_NAMESPACE_NOT_OWNED',
        `PidNamespace.close: namespace ${this.id} was not created by this PidNamespace (fromPid); end it through its own pid 1`,
      );
    }
    if (this.#closing) return this.#closing;
    const graceMs = checkCloseOptions(options, DEFAULT_GRACE_MS);
    const init = this.#owned;
    this.#closing = (async () => {
      // Ended first, so that no freeze() can come between the thaw below and the end.
      this.#ended = true;
      // Frozen members could not act on SIGTERM: they get their grace thawed. If the thaw fails
      // the close goes on: pid 1's SIGKILL and cgroup.kill end frozen processes too.
      if (this.#cgroup?.frozen) await this.#cgroup.setFrozen(false).catch(() => {});
      if (init.terminate() === 0) {
        // Early end of the grace: the init has no child left and every member we started is gone.
        const everyoneGone = Promise.all([this.#empty.promise, ...[...this.#members].map((m) => m.exited)]);
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([everyoneGone, this.#initExited.promise, new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
        clearTimeout(timer);
      }
      init.handle.signal(SIGKILL);
      await this.#initExited.promise;
      await this.#removeCgroup();
    })();
    return this.#closing;
  }

  /** close() with the default grace, for `await using` (a namespace from fromPid() is left alone). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.#owned ? this.close() : Promise.resolve();
  }
}
