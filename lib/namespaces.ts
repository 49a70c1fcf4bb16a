// The namespaces a spawn creates besides the PID namespace (options.namespaces), with what they
// start with: a host name in a new UTS namespace, clock offsets in a new time namespace, the
// loopback interface up in a new network namespace. Their checks, and the flags and text the
// addon takes (the hints for the kernel's refusals are in errors.ts). The child sets them up
// before the execve of the namespace's pid 1 (src-native/namespaces.c).
import * as fs from 'fs';
import { arrayEntries, ownProperties } from './checks';
import { invalidType, invalidValue, outOfRange, PidnsRangeError } from './errors';
import { HOSTNAME_MAX, NEW_NAMESPACE_KINDS, TIME_OFFSET_MAX, type NewNamespaceKind } from './namespace-limits';

/** Offsets of a new time namespace's clocks, in seconds: added to CLOCK_MONOTONIC and CLOCK_BOOTTIME inside. */
export interface TimeOffsets {
  monotonic?: number;
  boottime?: number;
}

/** options.namespaces, options.hostname and options.timeOffsets after the checks. */
export interface NormalizedNamespaces {
  /** In NEW_NAMESPACE_KINDS's order; 'mnt' whenever mountProc is set. */
  kinds: NewNamespaceKind[];
  hostname: string | null;
  timeOffsets: Required<TimeOffsets> | null;
}

export const NO_NEW_NAMESPACES: NormalizedNamespaces = { kinds: [], hostname: null, timeOffsets: null };

const CLONE_FLAGS: Record<NewNamespaceKind, number> = {
  cgroup: 0x02000000,
  ipc: 0x08000000,
  mnt: 0x00020000,
  net: 0x40000000,
  time: 0x00000080,
  uts: 0x04000000,
};

function checkKinds(name: string, value: unknown): NewNamespaceKind[] {
  if (value === undefined) return [];
  const listed = NEW_NAMESPACE_KINDS.map((k) => `'${k}'`).join(', ');
  if (!Array.isArray(value)) throw invalidType(name, `an array of ${listed}`, value);
  const named = new Set<NewNamespaceKind>();
  // Each at most once: a longer list names one twice.
  arrayEntries(name, value, NEW_NAMESPACE_KINDS.length).forEach((kind, i) => {
    if (kind === 'pid') throw invalidValue(`${name}[${i}]`, kind, 'need not name \'pid\': a new PID namespace is always made (leave it out)');
    if (kind === 'user') throw invalidValue(`${name}[${i}]`, kind, "cannot name 'user': a user namespace is made with options.userNamespace, which also sets its id maps");
    if (typeof kind !== 'string' || !(NEW_NAMESPACE_KINDS as readonly string[]).includes(kind)) {
      throw invalidValue(`${name}[${i}]`, kind, `must be one of ${listed}`);
    }
    if (named.has(kind as NewNamespaceKind)) throw invalidValue(`${name}[${i}]`, kind, 'names a namespace a second time');
    named.add(kind as NewNamespaceKind);
  });
  return NEW_NAMESPACE_KINDS.filter((kind) => named.has(kind));
}

function checkHostname(name: string, value: unknown): string | null {
  if (value === undefined) return null;
  if (typeof value !== 'string') throw invalidType(name, 'of type string', value);
  if (value.length === 0 || value.includes('\u0000')) throw invalidValue(name, value, 'must be a non-empty string without null bytes');
  const bytes = Buffer.byteLength(value);
  if (bytes > HOSTNAME_MAX) throw outOfRange(`${name}.length`, `at most ${HOSTNAME_MAX} bytes (the kernel's limit on a host name)`, bytes);
  return value;
}

/** Seconds a clock has run, read as the kernel reads it for the check of an offset. */
function clockSeconds(clock: 'monotonic' | 'boottime'): number | null {
  // process.hrtime is CLOCK_MONOTONIC on Linux; /proc/uptime is CLOCK_BOOTTIME.
  if (clock === 'monotonic') return Number(process.hrtime.bigint() / 1_000_000_000n);
  try {
    return Math.floor(Number(fs.readFileSync('/proc/uptime', 'latin1').split(' ')[0]));
  } catch {
    return null;
  }
}

function checkTimeOffsets(name: string, value: unknown): Required<TimeOffsets> | null {
  if (value === undefined) return null;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidType(name, 'an object { monotonic?, boottime? }', value);
  const given = ownProperties(value);
  for (const key of Object.keys(given)) {
    if (key !== 'monotonic' && key !== 'boottime') throw invalidValue(name, value, `has an unknown clock '${key.slice(0, 64)}' (only 'monotonic' and 'boottime' have offsets)`);
  }
  const offsets = { monotonic: 0, boottime: 0 };
  for (const clock of ['monotonic', 'boottime'] as const) {
    const offset = given[clock];
    if (offset === undefined) continue;
    if (typeof offset !== 'number') throw invalidType(`${name}.${clock}`, 'of type number', offset);
    if (!Number.isInteger(offset) || Math.abs(offset) > TIME_OFFSET_MAX) {
      throw outOfRange(`${name}.${clock}`, `an integer of seconds >= -${TIME_OFFSET_MAX} and <= ${TIME_OFFSET_MAX}`, offset);
    }
    // The kernel refuses a clock that would read below 0 inside, or above TIME_OFFSET_MAX.
    const now = clockSeconds(clock);
    if (now !== null && (now + offset < 0 || now + offset > TIME_OFFSET_MAX)) {
      throw new PidnsRangeError('ERR_OUT_OF_RANGE', `The value of "${name}.${clock}" is out of range. It must be >= -${now} and <= ${TIME_OFFSET_MAX - now} (the clock reads ${now} seconds here, and the kernel refuses an offset that takes it below 0 or above ${TIME_OFFSET_MAX}). Received ${offset}`);
    }
    offsets[clock] = offset;
  }
  return offsets;
}

/**
 * options.namespaces, options.hostname and options.timeOffsets of a new PID namespace.
 * mountProc makes a mount namespace of its own: it is 'mnt', named or not.
 */
export function checkNewNamespaces(o: Record<string, unknown>, mountProc: boolean): NormalizedNamespaces {
  const named = checkKinds('options.namespaces', o.namespaces);
  const kinds = NEW_NAMESPACE_KINDS.filter((kind) => named.includes(kind) || (mountProc && kind === 'mnt'));
  const hostname = checkHostname('options.hostname', o.hostname);
  if (hostname !== null && !kinds.includes('uts')) throw invalidValue('options.hostname', o.hostname, "needs 'uts' in options.namespaces (a host name is set in a UTS namespace of its own)");
  const timeOffsets = checkTimeOffsets('options.timeOffsets', o.timeOffsets);
  if (timeOffsets !== null && !kinds.includes('time')) throw invalidValue('options.timeOffsets', o.timeOffsets, "needs 'time' in options.namespaces (offsets belong to a time namespace of its own)");
  return { kinds, hostname, timeOffsets };
}

/** The options of new namespaces given where none can be made; `why` says what the other option does instead. */
export function refuseNewNamespaces(o: Record<string, unknown>, why: string): void {
  for (const key of ['namespaces', 'hostname', 'timeOffsets'] as const) {
    if (o[key] !== undefined) throw invalidValue(`options.${key}`, o[key], `cannot be used with ${why}`);
  }
}

/** The CLONE_NEW* flags of the kinds, as the addon takes them. */
export function namespaceFlags(kinds: readonly NewNamespaceKind[]): number {
  return kinds.reduce((flags, kind) => flags | CLONE_FLAGS[kind], 0);
}

/** The offsets as /proc/PID/timens_offsets takes them: "<clock> <seconds> <nanoseconds>" lines. */
/**
 * The offsets of the time namespace this process is in (for its children, which is the same
 * unless it unshared one), read from /proc/self/timens_offsets: zero where there is no such file
 * (a kernel without time namespaces).
 */
function callerTimeOffsets(): Record<'monotonic' | 'boottime', { seconds: number; nanoseconds: number }> {
  const offsets = { monotonic: { seconds: 0, nanoseconds: 0 }, boottime: { seconds: 0, nanoseconds: 0 } };
  let text = '';
  try {
    text = fs.readFileSync('/proc/self/timens_offsets', 'latin1');
  } catch {
    return offsets;
  }
  for (const line of text.split('\n')) {
    const [clock, seconds, nanoseconds] = line.trim().split(/\s+/);
    if (clock === 'monotonic' || clock === 'boottime') offsets[clock] = { seconds: Number(seconds), nanoseconds: Number(nanoseconds) };
  }
  return offsets;
}

/**
 * What the new time namespace's offsets file takes. The kernel's offsets are from the machine's
 * own clocks; the option's are added to the clocks as the caller reads them, so a caller in a
 * time namespace of its own (a restored container, say) gives its offsets plus the option's, and
 * a clock the option leaves out keeps the caller's offset.
 */
export function timeOffsetsText(offsets: Required<TimeOffsets> | null): string | null {
  if (offsets === null) return null;
  const caller = callerTimeOffsets();
  return (['monotonic', 'boottime'] as const)
    .map((clock) => `${clock} ${caller[clock].seconds + offsets[clock]} ${caller[clock].nanoseconds}\n`)
    .join('');
}

/** What the addon takes for them. */
export function namespaceRequest(namespaces: NormalizedNamespaces): { newNamespaces: number; hostname: string | null; timeOffsets: string | null } {
  return {
    newNamespaces: namespaceFlags(namespaces.kinds),
    hostname: namespaces.hostname,
    timeOffsets: timeOffsetsText(namespaces.timeOffsets),
  };
}
