// The checks of argument values shared by every entry point: each throws the typed error Node's
// own APIs throw (TypeError or RangeError with an ERR_ code) before anything is started. The
// options of each API are checked in their own module with these (options.ts, run.ts, fork.ts,
// cgroup.ts, namespace.ts); none tests a type or a range by hand.
import { invalidType, invalidValue, outOfRange } from './errors';

/** The largest pid: PID_MAX_LIMIT on 64-bit kernels. */
export const MAX_PID = 0x400000;
/** The largest uid or gid (-1 means "unchanged" to the kernel). */
export const MAX_ID = 0xfffffffe;
/** The largest descriptor number. */
export const MAX_FD = 0x7fffffff;
/** The largest delay Node's timers take, in milliseconds. */
export const MAX_MS = 0x7fffffff;
/** The most argument strings an execve can take: their pointers alone may fill at most 6 MiB. */
export const MAX_ARGS = (6 * 1024 * 1024) / 8;

/**
 * The caller's own properties only, read once: a property inherited from a polluted
 * Object.prototype must not become an option.
 */
export function ownProperties(value: object): Record<string, unknown> {
  return Object.assign(Object.create(null) as Record<string, unknown>, value);
}

export function checkString(name: string, value: unknown, allowEmpty = true): string {
  if (typeof value !== 'string') throw invalidType(name, 'of type string', value);
  if (!allowEmpty && value.length === 0) throw invalidValue(name, value, 'must be a non-empty string');
  if (value.includes('\u0000')) throw invalidValue(name, value, 'must be a string without null bytes');
  return value;
}

export function checkBoolean(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalidType(name, 'of type boolean', value);
  return value;
}

export function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number') throw invalidType(name, 'of type number', value);
  if (!Number.isInteger(value) || value < min || value > max) throw outOfRange(name, `an integer >= ${min} and <= ${max}`, value);
  return value;
}

/**
 * The entries of an array the caller gave, as a plain dense copy: its length read once (a Proxy
 * may answer differently each time) and bounded before any entry is read, then every index read,
 * holes included (forEach, map and includes skip or walk them: a hole would pass unchecked, and a
 * sparse array of length 2^32-1 would hold the event loop for minutes).
 */
export function arrayEntries(name: string, value: readonly unknown[], max: number): unknown[] {
  const length: unknown = value.length;
  if (typeof length !== 'number' || length > max) throw outOfRange(`${name}.length`, `<= ${max}`, length);
  const entries: unknown[] = [];
  for (let i = 0; i < length; i++) entries.push(value[i]);
  return entries;
}

/** A pid in the caller's view. */
export function checkPid(name: string, value: unknown): number {
  return checkInteger(name, value, 1, MAX_PID);
}

/**
 * Separates `(args?, options?)` as child_process does (args may be left out) and checks their
 * types: the argument strings, and the caller's own option properties.
 */
export function splitArguments(args: unknown, options: unknown): { args: string[]; options: Record<string, unknown> } {
  let argList: unknown[] = [];
  let opts: unknown = options;
  if (Array.isArray(args)) {
    argList = args;
  } else if (args !== undefined && args !== null) {
    if (typeof args === 'object' && options === undefined) {
      opts = args;
    } else {
      throw invalidType('args', 'an array of strings', args);
    }
  }
  const argStrings = arrayEntries('args', argList, MAX_ARGS).map((a, i) => checkString(`args[${i}]`, a));
  if (opts === undefined || opts === null) opts = {};
  if (typeof opts !== 'object' || Array.isArray(opts)) throw invalidType('options', 'of type object', opts);
  return { args: argStrings, options: ownProperties(opts as object) };
}
