// What the kernel says about processes, read from /proc, for assertions.
import * as fs from 'fs';

export function status(pid: number): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of fs.readFileSync(`/proc/${pid}/status`, 'latin1').split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return fields;
}

export function nsPidLine(pid: number): number[] {
  return status(pid).get('NSpid')!.split(/\s+/).map(Number);
}

export function namespaceInode(pid: number | 'self'): number {
  return fs.statSync(`/proc/${pid}/ns/pid`).ino;
}

export function exists(pid: number): boolean {
  return fs.existsSync(`/proc/${pid}`);
}

/** Descriptors of a process, as "fd -> target". */
export function descriptors(pid: number | 'self'): string[] {
  return fs.readdirSync(`/proc/${pid}/fd`).map((fd) => {
    try {
      return `${fd} -> ${fs.readlinkSync(`/proc/${pid}/fd/${fd}`)}`;
    } catch {
      return `${fd} -> (gone)`;
    }
  });
}

/** Our descriptors, leaving out the one readdir itself used. */
export function ownDescriptorCount(): number {
  return descriptors('self').filter((d) => !d.endsWith('(gone)')).length;
}

/** Children of this process (every thread), with their state letter. */
export function childrenOfSelf(): { pid: number; state: string }[] {
  const pids: number[] = [];
  for (const task of fs.readdirSync('/proc/self/task')) {
    let text = '';
    try {
      text = fs.readFileSync(`/proc/self/task/${task}/children`, 'latin1').trim();
    } catch {
      // a thread (a worker's) that ended while we looked
    }
    if (text) pids.push(...text.split(/\s+/).map(Number));
  }
  return pids.map((pid) => ({ pid, state: exists(pid) ? status(pid).get('State')!.charAt(0) : 'gone' }));
}

/** Every process on the system whose PID namespace is the given one. */
export function membersOfNamespace(inode: number): number[] {
  const members: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.statSync(`/proc/${entry}/ns/pid`).ino === inode) members.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return members;
}

/**
 * A PID namespace by its inode number, held open meanwhile. Once a namespace has ended the kernel
 * gives its number to the next namespace made anywhere on the machine (the lowest free one), so a
 * number alone soon names another namespace, say one the test file running beside has just made:
 * its processes are not ours to count or kill. An open descriptor of the namespace keeps the
 * number its own until release().
 */
export class HeldNamespace {
  #fd: number | null = null;

  /**
   * Held through the first of `pids` (its pid 1 first: the last process to leave it) that is in
   * namespace `inode`. If none is, the namespace has ended and has no members.
   */
  constructor(readonly inode: number, pids: number[]) {
    for (const pid of pids) {
      let fd: number;
      try {
        fd = fs.openSync(`/proc/${pid}/ns/pid`, 'r');
      } catch {
        continue; // gone
      }
      if (fs.fstatSync(fd).ino === inode) {
        this.#fd = fd;
        return;
      }
      fs.closeSync(fd);
    }
  }

  /** Every process in it; none once released. */
  members(): number[] {
    return this.#fd === null ? [] : membersOfNamespace(this.inode);
  }

  release(): void {
    if (this.#fd !== null) fs.closeSync(this.#fd);
    this.#fd = null;
  }
}

/** Members in state Z: exited, not yet reaped. */
export function zombiesIn(namespaceId: number): number[] {
  return membersOfNamespace(namespaceId).filter((pid) => {
    try {
      return status(pid).get('State')!.startsWith('Z');
    } catch {
      return false;
    }
  });
}

const PF_EXITING = 0x4;

/**
 * Still running: not a zombie and not exiting. A pid 1 that has been killed stays in state S
 * (with PF_EXITING in its flags) until every process of its namespace has been reaped, and
 * members whose parent was outside are reaped by the host's pid 1, which in some sandboxes takes
 * seconds. That pid 1 is dying, not running.
 */
export function running(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] !== 'Z' && (Number(fields[6]) & PF_EXITING) === 0;
  } catch {
    return false;
  }
}

/**
 * Members that are still running. A zombie has exited; when its parent is gone it waits for
 * the host's pid 1 to reap it, which some sandboxes' pid 1 never does.
 */
export function runningMembersOfNamespace(inode: number): number[] {
  return membersOfNamespace(inode).filter((pid) => {
    try {
      return !status(pid).get('State')!.startsWith('Z');
    } catch {
      return false;
    }
  });
}

/** Waits (without a busy loop) until check() is true or the time is up; returns the last result. */
export async function eventually(check: () => boolean, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return check();
}

export function collect(stream: NodeJS.ReadableStream | null): Promise<string> {
  return new Promise((resolve, reject) => {
    if (!stream) return resolve('');
    let text = '';
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => (text += d));
    stream.on('end', () => resolve(text));
    stream.on('error', reject);
  });
}

/** Everything a stream carries, also when it ended (and was destroyed) before this was called. */
export async function readAll(stream: NodeJS.ReadableStream | null): Promise<string> {
  let text = '';
  if (stream) for await (const chunk of stream) text += chunk;
  return text;
}

/** Every process whose command line is exactly argv, by pid. */
export function processesRunning(argv: string[]): number[] {
  const wanted = argv.join('\0') + '\0';
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'latin1') === wanted) found.push(Number(entry));
    } catch {
      // gone
    }
  }
  return found;
}

/** A length of sleep no other test uses: it marks the processes of one test. */
export function sleepMarker(): string {
  return String(3000 + Math.floor(Math.random() * 6000));
}

/** Running processes (not zombies, not exiting) whose argv[0] is `name`. */
export function runningNamed(name: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv0 = fs.readFileSync(`/proc/${entry}/cmdline`, 'latin1').split('\0')[0];
      if (argv0 === name && running(Number(entry))) pids.push(Number(entry));
    } catch {
      // gone while we looked
    }
  }
  return pids;
}
