// cgroup v2 placement: checking the option, creating and removing a cgroup of our own, freezing,
// killing and reading statistics. The clone itself (clone3 with CLONE_INTO_CGROUP) is native.
import * as fs from 'fs';
import * as path from 'path';
import { invalidType, invalidValue, namespaceEnded, noCgroup, PidnsStateError, systemError } from './errors';
import { ownProperties } from './options';

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
    if (!/^(max|[1-9]\d{0,15})( [1-9]\d{0,15})?$/.test(o.cpuMax)) throw invalidValue('options.cgroup.cpuMax', o.cpuMax, 'must be "QUOTA PERIOD" in microseconds, "QUOTA" or "max"');
    limits.push(['cpu.max', 'cpu', o.cpuMax]);
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

/** cgroup.kill (Linux >= 5.14), else SIGKILL to each process listed, until none is left. */
function killAll(dir: string): void {
  try {
    fs.writeFileSync(path.join(dir, 'cgroup.kill'), '1');
    return;
  } catch {
    // no cgroup.kill: one by one (a frozen process still dies of SIGKILL)
  }
  for (let round = 0; round < 100; round++) {
    const pids = (readIfPresent(path.join(dir, 'cgroup.procs')) ?? '').split('\n').filter(Boolean).map(Number);
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

let created = 0;

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
    const dir = path.join(parent, `pidns-${process.pid}-${++created}`);
    const fail = (err: unknown, syscall: string, file: string) => {
      const errno = -((err as NodeJS.ErrnoException).errno ?? 0);
      return systemError(errno, syscall, { action: `${action}: cgroup`, path: file });
    };
    try {
      fs.mkdirSync(dir);
    } catch (err) {
      throw fail(err, 'mkdir', dir);
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

  /** Writes cgroup.freeze and resolves once cgroup.events says every process is (un)frozen. */
  async setFrozen(frozen: boolean): Promise<void> {
    this.#frozen = frozen;
    const events = path.join(this.path, 'cgroup.events');
    const reached = () => new RegExp(`^frozen ${frozen ? 1 : 0}$`, 'm').test(readIfPresent(events) ?? '');
    // The kernel notifies cgroup.events watchers (inotify) on every change; watch before writing.
    const watcher = fs.watch(events);
    try {
      await new Promise<void>((resolve, reject) => {
        watcher.on('change', () => {
          if (reached()) resolve();
        });
        watcher.on('error', reject);
        try {
          fs.writeFileSync(path.join(this.path, 'cgroup.freeze'), frozen ? '1' : '0');
        } catch (err) {
          reject(systemError(-((err as NodeJS.ErrnoException).errno ?? 0), 'write', { action: frozen ? 'freeze' : 'thaw', path: path.join(this.path, 'cgroup.freeze') }));
          return;
        }
        if (reached()) resolve();
      });
    } finally {
      watcher.close();
    }
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
   * For a cgroup pidns made: kills whatever is still in it (cgroup.kill), waits until it is empty
   * and removes it. Resolves once it is gone; a path given by the caller is left alone.
   */
  remove(): Promise<void> {
    if (!this.owned) return Promise.resolve();
    this.#removal ??= (async () => {
      const events = path.join(this.path, 'cgroup.events');
      const empty = () => /^populated 0$/m.test(readIfPresent(events) ?? 'populated 0');
      const watcher = fs.watch(events);
      try {
        const drained = new Promise<void>((resolve) => {
          watcher.on('change', () => empty() && resolve());
          watcher.on('error', () => resolve());
        });
        killAll(this.path);
        if (!empty()) await drained;
      } finally {
        watcher.close();
      }
      fs.rmdirSync(this.path);
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
