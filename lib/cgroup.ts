// cgroup v2 placement: checking the option, creating and removing a cgroup of our own, freezing,
// killing and reading statistics. The clone itself (clone3 with CLONE_INTO_CGROUP) is native.
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { threadId } from 'worker_threads';
import { invalidType, invalidValue, namespaceEnded, noCgroup, PidnsStateError, PidnsSystemError, systemError } from './errors';
import { ownProperties } from './checks';

/** A fresh child cgroup of `parent`, made for one namespace and removed after it has ended. */
export interface CgroupLimits {
  /** An existing cgroup v2 directory, in which the new cgroup is made. */
  parent: string;
  /** memory.max: bytes, or 'max'. Needs the memory controller in parent's cgroup.subtree_control. */
  memoryMax?: number | 'max';
  /** pids.max: processes, or 'max'. Needs the pids controller. */
  pidsMax?: number | 'max';
  /** cpu.max as the kernel takes it: "QUOTA PERIOD" in microseconds ("50000 100000" is half a CPU), or "max". Needs the cpu controller. */
  cpuMax?: string;
}

/** The `cgroup` option: the path of an existing cgroup v2 directory, or limits for a new one. */
export type CgroupOption = string | CgroupLimits;

/** What the cgroup's files say now. Counters are null where the file does not exist (controller not enabled). */
export interface CgroupStats {
  /** cpu.stat usage_usec: CPU time of every process that ran in the cgroup, microseconds. */
  usageUsec: number;
  /** cpu.stat user_usec. */
  userUsec: number;
  /** cpu.stat system_usec. */
  systemUsec: number;
  /** memory.current, bytes. */
  memoryCurrent: number | null;
  /** memory.peak, bytes. */
  memoryPeak: number | null;
  /** pids.current. */
  pidsCurrent: number | null;
}

/** The option after the type checks; the file system is looked at when the spawn starts. */
export type NormalizedCgroup = { kind: 'path'; path: string } | { kind: 'create'; parent: string; limits: [file: string, controller: string, value: string][] } | null;

const CGROUP2_SUPER_MAGIC = 0x63677270;

function checkPath(name: string, value: unknown): string {
  if (typeof value !== 'string') throw invalidType(name, 'of type string', value);
  if (value.length === 0 || value.includes('\0')) throw invalidValue(name, value, 'must be a non-empty path without null bytes');
  return value;
}

function checkLimit(name: string, value: unknown): string {
  if (value === 'max') return 'max';
  if (typeof value !== 'number') throw invalidType(name, "a positive integer or 'max'", value);
  if (!Number.isSafeInteger(value) || value < 1) throw invalidValue(name, value, "must be a positive integer or 'max'");
  return String(value);
}

/** Type checks of the `cgroup` option (nothing is read from the file system here). */
export function checkCgroup(value: unknown): NormalizedCgroup {
  if (value === undefined) return null;
  if (typeof value === 'string') return { kind: 'path', path: checkPath('options.cgroup', value) };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidType('options.cgroup', 'a path or an object with a parent path', value);
  const o = ownProperties(value);
  const parent = checkPath('options.cgroup.parent', o.parent);
  const limits: [string, string, string][] = [];
  if (o.memoryMax !== undefined) limits.push(['memory.max', 'memory', checkLimit('options.cgroup.memoryMax', o.memoryMax)]);
  if (o.pidsMax !== undefined) limits.push(['pids.max', 'pids', checkLimit('options.cgroup.pidsMax', o.pidsMax)]);
  if (o.cpuMax !== undefined) {
    if (typeof o.cpuMax !== 'string') throw invalidType('options.cgroup.cpuMax', 'of type string', o.cpuMax);
    const cpuMax = o.cpuMax;
    if (!/^(max|[1-9]\d{0,15})( [1-9]\d{0,15})?$/.test(cpuMax)) throw invalidValue('options.cgroup.cpuMax', o.cpuMax, 'must be "QUOTA PERIOD" in microseconds, "QUOTA" or "max"');
    limits.push(['cpu.max', 'cpu', cpuMax]);
  }
  return { kind: 'create', parent, limits };
}

/** Mount points of the cgroup v2 hierarchy, from /proc/self/mountinfo (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid systems). */
export function cgroup2Mounts(): string[] {
  const mounts: string[] = [];
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return mounts;
  }
  for (const line of text.split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0 || !line.slice(dash + 3).startsWith('cgroup2 ')) continue;
    // Octal escapes (\040 for a space) as the kernel writes them.
    mounts.push(line.slice(0, dash).split(' ')[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
  }
  return mounts;
}

function notCgroup2(name: string, value: string, why: string): Error {
  const mounts = cgroup2Mounts();
  const where = mounts.length > 0 ? `the cgroup v2 hierarchy is mounted at ${mounts.join(', ')}` : 'no cgroup v2 hierarchy is mounted (mount -t cgroup2 none /sys/fs/cgroup)';
  return invalidValue(name, value, `must be a directory of the cgroup v2 hierarchy: ${why}; ${where}`);
}

/** Checks that `dir` is a cgroup v2 directory; returns its real path. */
function checkCgroup2Directory(name: string, dir: string): string {
  let real: string;
  try {
    real = fs.realpathSync(dir);
  } catch {
    throw notCgroup2(name, dir, 'it does not exist');
  }
  if (fs.statfsSync(real).type !== CGROUP2_SUPER_MAGIC) throw notCgroup2(name, dir, 'it is not on a cgroup2 file system');
  return real;
}

function readIfPresent(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** `dir` and every cgroup below it, parents before their children. */
function cgroupTree(dir: string): string[] {
  const tree = [dir];
  // A loop, not recursion: the command may nest cgroups as deep as the kernel lets it.
  for (let i = 0; i < tree.length; i++) {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(tree[i], { withFileTypes: true });
    } catch {
      continue; // removed meanwhile
    }
    for (const entry of entries) if (entry.isDirectory()) tree.push(path.join(tree[i], entry.name));
  }
  return tree;
}

/**
 * cgroup.kill (Linux >= 5.14), which also kills every process of the cgroups below; else SIGKILL
 * to each process listed in the tree, until none is left.
 */
function killAll(dir: string): void {
  try {
    fs.writeFileSync(path.join(dir, 'cgroup.kill'), '1');
    return;
  } catch {
    // no cgroup.kill: one by one (a frozen process still dies of SIGKILL)
  }
  for (let round = 0; round < 100; round++) {
    const pids = cgroupTree(dir).flatMap((d) => (readIfPresent(path.join(d, 'cgroup.procs')) ?? '').split('\n').filter(Boolean).map(Number));
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

const errnoOf = (err: unknown): number => -((err as NodeJS.ErrnoException).errno ?? 0);

/** How often, and how long apart, rmdir is tried again while the kernel still calls a cgroup busy. */
const RMDIR_ATTEMPTS = 50;
const RMDIR_RETRY_MS = 10;

/**
 * Removes an unpopulated cgroup and every cgroup below it, deepest first: the kernel refuses
 * (EBUSY) to remove a cgroup that has children, and the command may have made some.
 */
async function removeTree(dir: string, action: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    let failure: { err: unknown; dir: string } | null = null;
    for (const d of cgroupTree(dir).reverse()) {
      try {
        fs.rmdirSync(d);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') failure ??= { err, dir: d };
      }
    }
    if (!failure) return;
    if ((failure.err as NodeJS.ErrnoException).code !== 'EBUSY' || attempt === RMDIR_ATTEMPTS) {
      throw systemError(errnoOf(failure.err), 'rmdir', { action: `${action}: cgroup`, path: failure.dir });
    }
    await new Promise((resolve) => setTimeout(resolve, RMDIR_RETRY_MS));
  }
}

let created = 0;

/** One freeze() or thaw() waiting for cgroup.events to say it is done. */
interface FreezeRequest {
  frozen: boolean;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Where one namespace runs: a cgroup directory, open while the clone needs it, and whether pidns
 * made it (then it is killed and removed once the namespace has ended).
 */
export class CgroupPlacement {
  readonly path: string;
  readonly owned: boolean;
  #fd: number;
  #removal: Promise<void> | null = null;
  #frozen = false;
  #freezeRequests: FreezeRequest[] = [];
  #freezeWatcher: fs.FSWatcher | null = null;

  private constructor(dir: string, owned: boolean, fd: number) {
    this.path = dir;
    this.owned = owned;
    this.#fd = fd;
  }

  /** The directory descriptor for CLONE_INTO_CGROUP, until release(). */
  get fd(): number {
    return this.#fd;
  }

  /**
   * Checks the option against the system and, for limits, makes the cgroup. Every refusal here
   * comes before anything is spawned.
   */
  static prepare(option: Exclude<NormalizedCgroup, null>, action: string): CgroupPlacement {
    if (option.kind === 'path') {
      const dir = checkCgroup2Directory('options.cgroup', option.path);
      return new CgroupPlacement(dir, false, CgroupPlacement.#open(dir, action));
    }
    const parent = checkCgroup2Directory('options.cgroup.parent', option.parent);
    const enabled = (readIfPresent(path.join(parent, 'cgroup.subtree_control')) ?? '').trim().split(/\s+/);
    for (const [file, controller] of option.limits) {
      if (!enabled.includes(controller)) {
        const available = (readIfPresent(path.join(parent, 'cgroup.controllers')) ?? '').trim().split(/\s+/).includes(controller);
        throw new PidnsStateError(
          'ERR_CGROUP_CONTROLLER_DISABLED',
          `${action}: ${file} needs the ${controller} controller, which is not enabled in ${path.join(parent, 'cgroup.subtree_control')}` +
            (available
              ? ` (enable it: echo +${controller} > ${path.join(parent, 'cgroup.subtree_control')})`
              : ` (it is not in ${path.join(parent, 'cgroup.controllers')} either: enable it in the parent cgroups first, or it is bound to a cgroup v1 hierarchy)`),
        );
      }
    }
    const fail = (err: unknown, syscall: string, file: string) => systemError(errnoOf(err), syscall, { action: `${action}: cgroup`, path: file });
    // The counter is per thread (each worker has its own copy of this module), hence the thread
    // id; a directory left by an earlier process that had our pid is stepped around.
    const name = `pidns-${process.pid}-${threadId}-${++created}`;
    let dir = path.join(parent, name);
    for (let attempt = 1; ; attempt++) {
      try {
        fs.mkdirSync(dir);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt === 10) throw fail(err, 'mkdir', dir);
      }
      dir = path.join(parent, `${name}-${randomBytes(4).toString('hex')}`);
    }
    try {
      for (const [file, , value] of option.limits) {
        try {
          fs.writeFileSync(path.join(dir, file), value);
        } catch (err) {
          throw fail(err, 'write', path.join(dir, file));
        }
      }
      return new CgroupPlacement(dir, true, CgroupPlacement.#open(dir, action));
    } catch (err) {
      fs.rmdirSync(dir);
      throw err;
    }
  }

  static #open(dir: string, action: string): number {
    try {
      return fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    } catch (err) {
      throw systemError(-((err as NodeJS.ErrnoException).errno ?? 0), 'open', { action: `${action}: cgroup`, path: dir });
    }
  }

  /** Closes the directory descriptor (the clone is done). */
  release(): void {
    if (this.#fd >= 0) fs.closeSync(this.#fd);
    this.#fd = -1;
  }

  /** True from freeze() until thaw(): the processes cannot act, but SIGKILL still ends them. */
  get frozen(): boolean {
    return this.#frozen;
  }

  /**
   * Writes cgroup.freeze and resolves once cgroup.events says every process is (un)frozen. The
   * latest request wins: an earlier one for the other state that has not been reached yet rejects
   * with ERR_CGROUP_FREEZE_SUPERSEDED, since cgroup.events may never show it.
   */
  setFrozen(frozen: boolean): Promise<void> {
    const action = frozen ? 'freeze' : 'thaw';
    const superseded = this.#freezeRequests.filter((r) => r.frozen !== frozen);
    this.#freezeRequests = this.#freezeRequests.filter((r) => r.frozen === frozen);
    for (const request of superseded) {
      request.reject(new PidnsStateError('ERR_CGROUP_FREEZE_SUPERSEDED', `${request.frozen ? 'freeze' : 'thaw'}: ${action}() was called before ${this.path} was ${request.frozen ? 'frozen' : 'thawed'}; the later call decides`));
    }
    this.#frozen = frozen;
    return new Promise<void>((resolve, reject) => {
      // The kernel notifies cgroup.events watchers (inotify) on every change: watch before writing.
      if (!this.#freezeWatcher) {
        try {
          const watcher = fs.watch(path.join(this.path, 'cgroup.events'));
          watcher.on('change', () => this.#checkFrozen());
          watcher.on('error', (err) => this.#endFreezeRequests(systemError(errnoOf(err), 'watch', { action, path: path.join(this.path, 'cgroup.events') })));
          this.#freezeWatcher = watcher;
        } catch (err) {
          reject(systemError(errnoOf(err), 'watch', { action, path: path.join(this.path, 'cgroup.events') }));
          return;
        }
      }
      this.#freezeRequests.push({ frozen, resolve, reject });
      try {
        fs.writeFileSync(path.join(this.path, 'cgroup.freeze'), frozen ? '1' : '0');
      } catch (err) {
        this.#freezeRequests = this.#freezeRequests.filter((r) => r.resolve !== resolve);
        if (this.#freezeRequests.length === 0) this.#closeFreezeWatcher();
        reject(systemError(errnoOf(err), 'write', { action, path: path.join(this.path, 'cgroup.freeze') }));
        return;
      }
      this.#checkFrozen();
    });
  }

  /** Whether cgroup.events shows the state of the latest freeze() or thaw(). */
  #frozenStateReached(): boolean {
    return new RegExp(`^frozen ${this.#frozen ? 1 : 0}$`, 'm').test(readIfPresent(path.join(this.path, 'cgroup.events')) ?? '');
  }

  #checkFrozen(): void {
    if (this.#freezeRequests.length === 0 || !this.#frozenStateReached()) return;
    const done = this.#freezeRequests;
    this.#freezeRequests = [];
    this.#closeFreezeWatcher();
    for (const request of done) request.resolve();
  }

  /** Settles every waiting freeze()/thaw(): resolved if the state was reached, else with `err`. */
  #endFreezeRequests(err: Error): void {
    const reached = this.#freezeRequests.length > 0 && this.#frozenStateReached();
    const pending = this.#freezeRequests;
    this.#freezeRequests = [];
    this.#closeFreezeWatcher();
    for (const request of pending) {
      if (reached) request.resolve();
      else request.reject(err);
    }
  }

  #closeFreezeWatcher(): void {
    this.#freezeWatcher?.close();
    this.#freezeWatcher = null;
  }

  /** Reads cpu.stat, memory.current, memory.peak and pids.current. */
  stats(): CgroupStats {
    const cpu = new Map<string, number>();
    for (const line of (readIfPresent(path.join(this.path, 'cpu.stat')) ?? '').split('\n')) {
      const [key, value] = line.split(' ');
      if (key) cpu.set(key, Number(value));
    }
    const counter = (file: string) => {
      const text = readIfPresent(path.join(this.path, file));
      return text === null ? null : Number(text.trim());
    };
    return {
      usageUsec: cpu.get('usage_usec') ?? 0,
      userUsec: cpu.get('user_usec') ?? 0,
      systemUsec: cpu.get('system_usec') ?? 0,
      memoryCurrent: counter('memory.current'),
      memoryPeak: counter('memory.peak'),
      pidsCurrent: counter('pids.current'),
    };
  }

  /**
   * For a cgroup pidns made: kills whatever is still in it and below it (cgroup.kill), waits until
   * none of it is populated and removes it with any cgroups made inside it. Resolves once it is
   * gone (a path given by the caller is left alone); rejects with the rmdir's error if the kernel
   * still refuses. A freeze() or thaw() still waiting is settled first.
   */
  remove(action = 'remove'): Promise<void> {
    if (!this.owned) return Promise.resolve();
    this.#removal ??= (async () => {
      const events = path.join(this.path, 'cgroup.events');
      const empty = () => /^populated 0$/m.test(readIfPresent(events) ?? 'populated 0');
      let watcher: fs.FSWatcher | null = null;
      try {
        const drained = new Promise<void>((resolve) => {
          try {
            watcher = fs.watch(events);
          } catch {
            resolve(); // already gone: rmdir below says whether that is so
            return;
          }
          watcher.on('change', () => empty() && resolve());
          watcher.on('error', () => resolve());
        });
        killAll(this.path);
        if (!empty()) await drained;
      } finally {
        (watcher as fs.FSWatcher | null)?.close();
      }
      this.#endFreezeRequests(
        new PidnsSystemError({
          code: 'ERR_NAMESPACE_ENDED',
          errno: -os.constants.errno.ESRCH,
          syscall: 'write',
          path: path.join(this.path, 'cgroup.freeze'),
          message: `${this.#frozen ? 'freeze' : 'thaw'}: the namespace ended before its cgroup was ${this.#frozen ? 'frozen' : 'thawed'}`,
          hint: 'its cgroup has been removed with it',
        }),
      );
      await removeTree(this.path, action);
    })();
    return this.#removal;
  }
}

/**
 * The placement behind freeze(), thaw() and cgroupStats() of a child or a pod: ERR_NO_CGROUP
 * without one, ERR_NAMESPACE_ENDED once a cgroup pidns made has been removed with the namespace.
 */
export function usablePlacement(placement: CgroupPlacement | null, action: string, ended: boolean, namespaceId: number): CgroupPlacement {
  if (!placement) throw noCgroup(action);
  if (ended && placement.owned) throw namespaceEnded(action, namespaceId, 'open');
  return placement;
}
