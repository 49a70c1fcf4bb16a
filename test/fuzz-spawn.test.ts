// The option space of spawnInPidNamespace() and PidNamespace#spawn(), fuzzed with valid-shaped
// values at their edges (fast-check) and checked against the kernel. Every case ends as exactly
// one of:
//   (a) a TypeError/RangeError with an ERR_* code, before anything was spawned;
//   (b) a SystemError-shaped error (code, negative errno, syscall, message) with a hint, and no
//       process left behind;
//   (c) a run: the command's descriptors 0..N-1 are what the stdio array says and nothing else is
//       open, its cwd, argv[0], environment, ids, namespaces, cgroup and its namespace's pid_max
//       are what the options say (read from /proc while it waits), nsPid matches NSpid (and is
//       the one asked for), and it exits with the code it was given.
// Which one is expected is worked out from the options and the file system before looking at the
// outcome. hostile.test.ts fuzzes argument types; this file fuzzes the values.
//
// The command is a fixed shell script (see fixtures/fuzz-spawn-executor.js), or, in a quarter of
// the cases, the same script after a hostile act of its own (fixtures/hostile-attacker.c): a
// setsid daemon deaf to SIGTERM and SIGHUP, a child that stops itself, or a short fork storm of
// orphans. The outcome must hold all the same, and more is checked after such a command: once
// `exited` has come nothing of a namespace of its own still runs (under the init and raw), nothing
// the case started still runs in ours (newNamespace false: the init ends every descendant), and
// the calling process has no descriptor more than before the case.
// Cases that create a user namespace run in a Node process of their own
// (fixtures/fuzz-spawn-server.js): their setup runs on the caller's memory while the caller is
// suspended, so a fault there can take the whole process down, and that must fail a case, not
// end jest.
//
// Runs: PIDNS_FUZZ_RUNS=N spreads N cases over the properties (default 1000, or 300 under the
// sanitizer run, whose preloaded runtime slows every process down). A failure prints fast-check's
// seed and path; PIDNS_FUZZ_SEED=S PIDNS_FUZZ_PATH=P replays it.
import { execFileSync, spawn, type ChildProcess } from 'child_process';
import * as fc from 'fast-check';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PidNamespace, spawnInPidNamespace } from '../lib';
import { cgroup2Mounts } from '../lib/cgroup';
import { initPath, native } from '../lib/native';
import { pidMaxPerNamespace } from '../lib/pid-control';
import { childrenOfSelf, eventually, ownDescriptorCount } from './kernel';
import { describeAsRoot } from './root';
import { fixture } from './subprocess';

// ---------------------------------------------------------------------------------------------
// Budget

const sanitized = /libasan/.test(process.env.LD_PRELOAD ?? '');
const requestedRuns = Number(process.env.PIDNS_FUZZ_RUNS);
const TOTAL_RUNS = Number.isInteger(requestedRuns) && requestedRuns > 0 ? requestedRuns : sanitized ? 300 : 1000;
/** Shares of the total; the heavy properties (1,024-entry stdio arrays, 2 MiB of arguments) get fewer runs. */
const RUNS = {
  stdio: Math.ceil(TOTAL_RUNS * 0.22),
  strings: Math.ceil(TOTAL_RUNS * 0.42),
  identity: Math.ceil(TOTAL_RUNS * 0.28),
  argumentSpace: Math.ceil(TOTAL_RUNS * 0.08),
};
/** Milliseconds a property may take per run, shrinking a counterexample included. */
const MS_PER_RUN = sanitized ? 600 : 200;
const replay = process.env.PIDNS_FUZZ_SEED === undefined ? {} : { seed: Number(process.env.PIDNS_FUZZ_SEED), path: process.env.PIDNS_FUZZ_PATH };

function assertProperty(property: fc.IAsyncPropertyWithHooks<[CaseSpec]>, numRuns: number): Promise<void> {
  const budget = Math.max(60_000, numRuns * MS_PER_RUN);
  // markInterruptAsFailure: a property cut short by its time limit has not run its cases.
  return fc.assert(property, { numRuns, interruptAfterTimeLimit: budget, markInterruptAsFailure: true, verbose: 1, ...replay });
}

const timeoutFor = (numRuns: number) => Math.max(60_000, numRuns * MS_PER_RUN) + 30_000;

// ---------------------------------------------------------------------------------------------
// What a case is (plain data: it is printed as the counterexample and sent to the case server)

type EntrySpec =
  | { k: 'pipe' | 'inherit' | 'ignore' | 'ipc' | 'null' | 'undefined' }
  /** One of the descriptors opened for the fuzzing (resources.openFds). */
  | { k: 'open'; i: number }
  /** The i-th lowest descriptor number that is not open when the call is made: the numbers the
   * library's own descriptors (pipes, /dev/null, error pipe, control socket) take next. */
  | { k: 'lowFree'; i: number }
  /** A number that is not open (checked when the call is made). */
  | { k: 'closed'; n: number }
  /** A number literal that is no descriptor, or an edge of one ('-0'). */
  | { k: 'bad'; v: string };

type StdioSpec = { form: 'absent' } | { form: 'name'; name: 'pipe' | 'inherit' | 'ignore' } | { form: 'array'; length: number; base: EntrySpec; specials: [number, EntrySpec][] };

type CwdSpec = { k: 'dir' | 'relative' | 'url'; name: string } | { k: 'literal'; value: string } | { k: 'long'; length: number };

/** A string, or a long one written short so that a counterexample stays readable. */
type Text = string | { repeat: string; count: number };

type CgroupSpec = { k: 'existing' } | { k: 'new'; limits: Record<string, number | string> } | { k: 'literal'; value: string };

interface IdRange {
  containerId: number;
  hostId: number;
  size: number;
}
type UserNamespaceSpec = boolean | { uidMap?: IdRange[]; gidMap?: IdRange[] };

/** Padding that brings the command's execve footprint to `target` bytes (see executor). */
interface PadSpec {
  target: number;
  piece: number;
  where: 'env' | 'args';
  char: string;
}

/** noNs: newNamespace false (the init as a subreaper in our own namespace); autoNs: 'auto'. */
type Mode = 'init' | 'raw' | 'noNs' | 'autoNs' | 'joinNs' | 'joinPid' | 'joinPath' | 'joinUserNs' | 'pod' | 'userPod';

interface CaseSpec {
  /** Absent: the reporting shell script (see commandUnderTest). */
  command?: string;
  mode: Mode;
  initFlag?: boolean;
  stdio: StdioSpec;
  cwd?: CwdSpec;
  argv0?: Text;
  env?: [string, string | null][];
  pad?: PadSpec;
  exitCode: number;
  uid?: number | string;
  gid?: number | string;
  userNamespace?: UserNamespaceSpec;
  mountProc?: boolean;
  terminal?: boolean | { cols?: number; rows?: number };
  foreground?: boolean;
  noNewPrivileges?: boolean;
  signalGroup?: boolean;
  cgroup?: CgroupSpec;
  /** Given as options.newNamespace in place of what the mode passes (see newNamespaceOf). */
  newNamespace?: boolean | string | number | null;
  /** A boolean, or a value of another type (refused). */
  waitForDescendants?: boolean | string | number | null;
  teardownGraceMs?: number;
  /** options.pidMax: a number in or out of the kernel's range, or a value of another type. */
  pidMax?: number | string | null;
  /** options.nsPid, likewise. */
  nsPid?: number | string | null;
  /** options.joinNamespaces: 'all', a list of names (some unknown), or a value of another type. */
  joinNamespaces?: string | number | null | (string | number)[];
  /** options.namespaces: a list of the kinds a new PID namespace comes with (some not), or another type. */
  namespaces?: string | number | null | (string | number)[];
  /** options.hostname: a name at and past the kernel's 64 bytes, or another type. */
  hostname?: string | number | null;
  /** options.timeOffsets: offsets in and out of the kernel's range, unknown clocks, other types. */
  timeOffsets?: Record<string, number | string> | number | null;
}

/** What fixtures/fuzz-spawn-executor.js reports. */
interface Described {
  fd: number;
  link: string;
  dev: number;
  ino: number;
  rdev: number;
  flags: number;
  gone?: boolean;
}
interface ErrorReport {
  notAnError?: boolean;
  value?: string;
  name?: string;
  isTypeError?: boolean;
  isRangeError?: boolean;
  code?: string;
  errno?: number;
  syscall?: string;
  path?: string;
  hint?: string;
  message?: string;
}
interface Digest {
  length: number;
  sha256: string;
  head: string;
}
interface CaseReport {
  call: {
    target: string;
    stdio: (string | number)[] | string;
    cwd?: string;
    cwdIsUrl: boolean;
    argv: Digest;
    envp: Digest;
    envNames: string[];
    footprint: { raw: number; init: number };
    longestString: number;
    envSample: string[];
  };
  referenced: Record<string, Described | null>;
  ownMountNamespaceInode: number;
  /** Inodes of /proc/self/ns/KIND for the kinds of options.namespaces (time: time_for_children). */
  ownNamespaceInodes: Record<string, number>;
  ownPidNamespaceInode: number;
  ownNsPidLine: number[];
  ownStatus: { uid: string; gid: string; groups: string };
  pods: { root: { id: number; initPid: number }; user: { id: number; initPid: number } };
  childrenBefore: number[];
  /** Our pid of a process that had the nsPid asked for in the pod joined, before the call. */
  nsPidHolder: number | null;
  childrenAfter: number[];
  outcome: 'threw' | 'rejected' | 'resolved';
  error?: ErrorReport;
  child?: { pid: number; nsPid: number; init: { pid: number; nsPid: number } | null; namespaceId: number; pidNamespace: string; cgroup: string | null; stdio: boolean[]; stdin: boolean; stdout: boolean; stderr: boolean; terminal: boolean };
  run?: {
    fds: Described[];
    cwd: string;
    cmdline: Digest;
    environ: Digest;
    uid: string;
    gid: string;
    groups: string;
    noNewPrivs: string;
    nsPidLine: number[];
    ppid: number;
    pgrp: number;
    pidNamespaceInode: number;
    mountNamespaceInode: number;
    cgroupLine: string | null;
    initNsPidLine: number[] | null;
    initWaitAll: boolean | null;
    innerProcNsPid: string | null;
    /** /proc/sys/kernel/pid_max as a process of the command's namespace reads it (with pidMax). */
    pidMaxInside: string | null;
    /** Inodes of the command's /proc/PID/ns/KIND for the kinds of options.namespaces. */
    namespaceInodes: Record<string, number>;
    /** The command's /proc/PID/timens_offsets, as "clock seconds" pairs. */
    timensOffsets: string[] | null;
  };
  runError?: string;
  exited?: { code: number | null; signal: string | null };
  closed?: { code: number | null; signal: string | null };
  exitError?: string;
  cgroupLeft?: boolean;
  /** After a hostile command: processes of its namespace still running once `exited` came (init, raw, 'auto'). */
  leftInNamespace?: number[];
  /**
   * A hostile command in our own namespace (newNamespace false): the running processes of ours
   * whose command line is the attacker's or has the case's FIFO among its arguments, while the
   * command waited (attacker: the command line is the attacker's) and at once when `exited` came.
   */
  caseProcesses?: { whileRunning: { pid: number; attacker: boolean }[]; atExited?: number[] };
  /** After a hostile command: the calling process's descriptors before and after the case. */
  descriptors?: { before: number; after: number };
}

interface Executor {
  run(spec: CaseSpec): Promise<CaseReport>;
}

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { createExecutor } = require('./fixtures/fuzz-spawn-executor.js') as { createExecutor: (resources: object) => Executor };

// ---------------------------------------------------------------------------------------------
// The machine

const V2 = cgroup2Mounts()[0] as string | undefined;
const MAX_STDIO = 1024;
const MAX_ID = 0xfffffffe;
/** Whether pidMax can be set here (Linux >= 6.14); before, it is ERR_PID_MAX_UNSUPPORTED. */
const PID_MAX_SETTABLE = pidMaxPerNamespace();
/**
 * The pods' pid_max: they are made with one where the kernel allows it, so that a nsPid at or
 * above it is a refusal of the kernel's (EINVAL). A namespace made without one starts at the
 * kernel's limit, 4194304, whatever its parent's is (kernel/pid_namespace.c).
 */
const POD_PID_MAX = PID_MAX_SETTABLE ? 30000 : 4194304;
const POD_OPTIONS = PID_MAX_SETTABLE ? { pidMax: POD_PID_MAX } : {};
const pidMaxInRange = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 301 && (v as number) <= 4194304;
const nsPidInRange = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 2 && (v as number) <= 4194303;
const MAX_ARG_STRLEN = 131072; // 32 pages: the longest single argument or environment string
/** Bytes around the computed limit where either outcome is right (flags the init may get). */
const ARG_SLACK = 1024;

/** How many bytes of arguments and environment execve takes here: a quarter of the stack limit,
 * at most 6 MiB and at least 128 KiB (fs/exec.c). */
function argumentSpace(): number {
  const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max stack size'))!;
  const soft = line.slice('Max stack size'.length).trim().split(/\s+/)[0];
  const stack = soft === 'unlimited' ? Infinity : Number(soft);
  return Math.max(Math.min(6 * 1024 * 1024, Math.floor(stack / 4)), 128 * 1024);
}
const ARG_SPACE = argumentSpace();

/** Directories (and things that are not) under the fuzzing's temporary folder, for cwd. */
const CWD_NAMES = ['plain', 'with space', 'new\nline', 'tab\tdel\x7f', 'ümlaut-é', 'emoji-🦀', 'lone-\uD800', 'percent%41', '-dash', 'glob*?[', 'back\\slash', `quote"'`, 'x'.repeat(255), 'private', 'link-to-plain', 'loop-a', 'regular-file', 'regular-file/below', 'missing', 'missing/deeper', 'y'.repeat(256), 'plain/..', 'plain/./'];

// ---------------------------------------------------------------------------------------------
// Arbitraries

const simple = (k: 'pipe' | 'inherit' | 'ignore' | 'ipc' | 'null' | 'undefined'): EntrySpec => ({ k });

const baseEntry: fc.Arbitrary<EntrySpec> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(simple('ignore'), simple('pipe'), simple('null'), simple('undefined')) },
  { weight: 1, arbitrary: fc.constant(simple('inherit')) },
);

const specialEntry: fc.Arbitrary<EntrySpec> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(simple('ignore'), simple('pipe'), simple('null'), simple('undefined'), simple('inherit'), simple('ipc')) },
  { weight: 3, arbitrary: fc.nat(7).map((i): EntrySpec => ({ k: 'open', i })) },
  { weight: 1, arbitrary: fc.nat(3).map((i): EntrySpec => ({ k: 'lowFree', i })) },
  { weight: 1, arbitrary: fc.constantFrom(5000, 19999, 20000, 65535, 0x7fffffff).map((n): EntrySpec => ({ k: 'closed', n })) },
  { weight: 1, arbitrary: fc.constantFrom('-1', '1.5', '2147483648', 'NaN', 'Infinity', '-0').map((v): EntrySpec => ({ k: 'bad', v })) },
);

function stdioArb(maxLength: 'small' | 'any'): fc.Arbitrary<StdioSpec> {
  const length =
    maxLength === 'small'
      ? fc.nat(6)
      : fc.oneof({ weight: 6, arbitrary: fc.nat(6) }, { weight: 2, arbitrary: fc.integer({ min: 7, max: 64 }) }, { weight: 1, arbitrary: fc.integer({ min: 65, max: 300 }) }, { weight: 1, arbitrary: fc.constantFrom(1023, 1024, 1025) });
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant<StdioSpec>({ form: 'absent' }) },
    { weight: 1, arbitrary: fc.constantFrom('pipe', 'inherit', 'ignore').map((name): StdioSpec => ({ form: 'name', name })) },
    { weight: 6, arbitrary: fc.record({ form: fc.constant('array' as const), length, base: baseEntry, specials: fc.array(fc.tuple(fc.nat(1100), specialEntry), { maxLength: 6 }) }) },
  );
}

// New namespaces take the most options (a user namespace only comes with them).
const modeArb: fc.Arbitrary<Mode> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom<Mode>('init', 'raw') },
  { weight: 2, arbitrary: fc.constantFrom<Mode>('noNs', 'autoNs') },
  { weight: 2, arbitrary: fc.constantFrom<Mode>('joinNs', 'joinPid', 'joinPath', 'joinUserNs', 'pod', 'userPod') },
);

/** options.newNamespace over the mode's own: the default spelled out, the modes without a
 * namespace of their own where they conflict, and values that are none of true, false, 'auto'. */
const newNamespaceArb: fc.Arbitrary<boolean | string | number | null> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(true) },
  { weight: 2, arbitrary: fc.constantFrom(false, 'auto') },
  { weight: 2, arbitrary: fc.constantFrom('yes', 'Auto', 'true', 'false', '', 0, 1, null) },
);

const waitForDescendantsArb: fc.Arbitrary<boolean | string | number | null> = fc.oneof(
  { weight: 4, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constantFrom('true', 1, 0, null) },
);

/** pidMax: the kernel's edges and values between, then what is out of range or not a number. */
const pidMaxArb: fc.Arbitrary<number | string | null> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(301, 1000, 65536, 4194304) },
  { weight: 1, arbitrary: fc.constantFrom(300, 4194305, 0, -1, 1000.5, '1000', null) },
);

/** The names joinNamespaces takes: those of /proc/PID/ns. */
const NAMESPACE_KINDS = ['user', 'cgroup', 'ipc', 'uts', 'net', 'pid', 'mnt', 'time'];
const joinNamespacesValid = (v: unknown): boolean => v === 'all' || (Array.isArray(v) && v.length > 0 && v.every((k) => NAMESPACE_KINDS.includes(k as string)));
/** Whether a case enters the pod's mount namespace, and so takes its root and working directory ('/'). */
const entersMount = (spec: CaseSpec): boolean => joinNamespacesValid(spec.joinNamespaces) && (spec.joinNamespaces === 'all' || (spec.joinNamespaces as string[]).includes('mnt'));

/** joinNamespaces: of the pods' namespaces only their PID namespace, a user pod's user namespace
 * and their root and working directory differ from ours; the others are ours, left alone. Then
 * names that are not namespaces, an empty list, and values of other types. */
const joinNamespacesArb: fc.Arbitrary<string | number | null | (string | number)[]> = fc.oneof(
  { weight: 4, arbitrary: fc.oneof(fc.constant('all'), fc.subarray(NAMESPACE_KINDS, { minLength: 1 })) },
  { weight: 1, arbitrary: fc.constantFrom<string | number | null | (string | number)[]>('none', 'ALL', [], ['mount'], ['net', 'bogus'], [1], 7, null) },
);

/** The kinds options.namespaces takes, and those it refuses or does not know. */
const NEW_NAMESPACE_KINDS = ['cgroup', 'ipc', 'mnt', 'net', 'time', 'uts'];
const namespacesValid = (v: unknown): v is string[] => Array.isArray(v) && v.every((k) => NEW_NAMESPACE_KINDS.includes(k as string)) && new Set(v).size === v.length;
const namesNamespace = (spec: CaseSpec, kind: string) => namespacesValid(spec.namespaces) && spec.namespaces.includes(kind);
const namespacesArb: fc.Arbitrary<string | number | null | (string | number)[]> = fc.oneof(
  { weight: 4, arbitrary: fc.subarray(NEW_NAMESPACE_KINDS) },
  { weight: 1, arbitrary: fc.constantFrom<string | number | null | (string | number)[]>(['pid'], ['user'], ['net', 'net'], ['network'], [5], 'net', 7, null) },
);
const hostnameValid = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && !v.includes('\0') && Buffer.byteLength(v) <= 64;
const hostnameArb: fc.Arbitrary<string | number | null> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('fuzz-host', 'x'.repeat(64), 'é'.repeat(32), 'a b\tc', '🦀') },
  { weight: 1, arbitrary: fc.constantFrom<string | number | null>('x'.repeat(65), 'é'.repeat(33), '', 'a\0b', 5, null) },
);
/** Offsets the kernel takes whatever the clocks read on a machine up for less than a year, then refused ones. */
const TIME_OFFSET_MAX = 4611686018;
const timeOffsetsArb: fc.Arbitrary<Record<string, number | string> | number | null> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ monotonic: fc.constantFrom(0, 1, 86400, 365 * 86400), boottime: fc.constantFrom(0, 7, 10 * 365 * 86400) }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: fc.constantFrom<Record<string, number | string> | number | null>({ monotonic: 1.5 }, { boottime: TIME_OFFSET_MAX + 1 }, { monotonic: -TIME_OFFSET_MAX }, { realtime: 1 }, { boottime: '1' }, 5, null) },
);
const timeOffsetsValid = (v: unknown): v is Record<string, number> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.entries(v).every(([k, n]) => (k === 'monotonic' || k === 'boottime') && Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 10 * 365 * 86400);

/** nsPid: free pids of the pods (far above what their members take), pids at and above their
 * pid_max (EINVAL from clone3), then what is out of range or not a number. */
const nsPidArb: fc.Arbitrary<number | string | null> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: Math.min(10000, POD_PID_MAX >> 2), max: Math.min(20000, POD_PID_MAX - 1) }) },
  { weight: 1, arbitrary: fc.constantFrom(POD_PID_MAX, 4194303) },
  { weight: 1, arbitrary: fc.constantFrom(0, 1, 4194304, 2.5, '7', null) },
);

const cwdArb: fc.Arbitrary<CwdSpec> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ k: fc.constantFrom('dir' as const, 'relative' as const, 'url' as const), name: fc.constantFrom(...CWD_NAMES) }) },
  { weight: 2, arbitrary: fc.constantFrom('/', '/tmp', '/root', '/nonexistent', '/etc/passwd', '/etc/passwd/x', '/dev/null', '.', '..', '//', '/tmp/../tmp', '', 'a\0b').map((value): CwdSpec => ({ k: 'literal', value })) },
  // Around PATH_MAX (4,096 bytes with the NUL): ENOENT below it, ENAMETOOLONG from it on.
  { weight: 1, arbitrary: fc.constantFrom(4094, 4095, 4096, 5000).map((length): CwdSpec => ({ k: 'long', length })) },
);

const oddText = fc.constantFrom('', '=', 'a=b=c', '\n', ' ', '\t', '-', '--', '\u00ff\u0080', 'é', '🦀', '\uD800', '\uDFFFx', 'x\0y', '$HOME', '`id`', '\\', '"\'');

const argv0Arb: fc.Arbitrary<Text> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 16, unit: 'binary' }) },
  { weight: 3, arbitrary: oddText },
  { weight: 1, arbitrary: fc.constantFrom('--control-fd', '--argv0', '--', '-c', '--help', 'sh') },
  // Near MAX_ARG_STRLEN: one string may not reach it.
  { weight: 1, arbitrary: fc.constantFrom(MAX_ARG_STRLEN - 2, MAX_ARG_STRLEN - 1, MAX_ARG_STRLEN, MAX_ARG_STRLEN + 1).map((count): Text => ({ repeat: 'a', count })) },
);

// Names the dynamic loader or the C library act on are left out: the command must stay the
// harmless script.
const safeName = (name: string) => !/^(LD_|MALLOC|GLIBC|GCONV|LOCPATH|NLSPATH|HOSTALIASES|RES_OPTIONS|TZDIR|ASAN|UBSAN|LSAN)/.test(name);
const envNameArb: fc.Arbitrary<string> = fc
  .oneof(
    { weight: 4, arbitrary: fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,8}$/) },
    { weight: 3, arbitrary: fc.constantFrom('', '=', 'A=B', '=A', 'a\0b', '0', '42', '__proto__', 'constructor', 'NODE_CHANNEL_FD', 'NODE_CHANNEL_SERIALIZATION_MODE', 'PATH', 'HOME', 'é', 'A\nB', ' ', '\uD800', '1X', 'x'.repeat(300)) },
    { weight: 2, arbitrary: fc.string({ maxLength: 6, unit: 'binary' }) },
  )
  .filter(safeName);
const envValueArb: fc.Arbitrary<string | null> = fc.oneof({ weight: 4, arbitrary: fc.string({ maxLength: 12, unit: 'binary' }) }, { weight: 3, arbitrary: oddText }, { weight: 1, arbitrary: fc.constant(null) });
const envArb = fc.array(fc.tuple(envNameArb, envValueArb), { maxLength: 8 });

const idArb: fc.Arbitrary<number | string> = fc.oneof({ weight: 5, arbitrary: fc.constantFrom(0, 65534, 1000) }, { weight: 1, arbitrary: fc.constantFrom(MAX_ID, -1, 0xffffffff, '1.5', 'NaN') });

const userNamespaceArb: fc.Arbitrary<UserNamespaceSpec> = fc.constantFrom<UserNamespaceSpec>(
  true,
  false,
  {},
  { uidMap: [{ containerId: 0, hostId: 0, size: 65536 }], gidMap: [{ containerId: 0, hostId: 0, size: 65536 }] },
  { uidMap: [{ containerId: 0, hostId: 0, size: 1 }, { containerId: 65534, hostId: 65534, size: 1 }], gidMap: [{ containerId: 0, hostId: 0, size: 1 }, { containerId: 65534, hostId: 65534, size: 1 }] },
  // No root inside: the command keeps the caller's ids, which the namespace shows as nobody.
  { uidMap: [{ containerId: 1000, hostId: 1000, size: 1 }] },
);

const terminalArb = fc.oneof(fc.boolean(), fc.record({ cols: fc.constantFrom(1, 80, 0xffff, 0, 0x10000), rows: fc.constantFrom(1, 24, 0xffff, 0, 0x10000) }, { requiredKeys: [] }));

const cgroupArb: fc.Arbitrary<CgroupSpec> = fc.constantFrom<CgroupSpec>(
  { k: 'existing' },
  { k: 'new', limits: {} },
  { k: 'new', limits: { pidsMax: 64 } },
  { k: 'new', limits: { memoryMax: 'max' } },
  { k: 'literal', value: '/tmp' },
  { k: 'literal', value: '/sys/fs/cgroup/pidns-fuzz-missing' },
);

const padArb: fc.Arbitrary<PadSpec> = fc.record({
  target: fc.oneof(fc.integer({ min: -150_000, max: 150_000 }), fc.constantFrom(-ARG_SLACK - 1, -8, 0, 8, ARG_SLACK + 1)).map((delta) => ARG_SPACE + delta),
  piece: fc.constantFrom(MAX_ARG_STRLEN - 8, 100_000, MAX_ARG_STRLEN, MAX_ARG_STRLEN + 1, 4096, 512),
  where: fc.constantFrom('env' as const, 'args' as const),
  char: fc.constantFrom('x', 'é'),
});

/**
 * The command under test: the reporting shell script ('report-and-exit', left out of the printed
 * case), or one of the hostile commands built in buildCall() of fixtures/fuzz-spawn-executor.js.
 * Each still waits on the FIFO and exits with the code it is given, so every check applies, and
 * checkHostile() adds its own.
 */
const HOSTILE_COMMANDS = ['daemon-ignoring-term', 'self-stopping-child', 'fork-storm'] as const;
const commandUnderTest: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constant('report-and-exit') },
  { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_COMMANDS) },
);
const isHostileCommand = (spec: CaseSpec) => (HOSTILE_COMMANDS as readonly string[]).includes(spec.command ?? '');

/** An optional dimension: absent most of the time when it is not the one being fuzzed. */
function sometimes<T>(arb: fc.Arbitrary<T>, focused: boolean): fc.Arbitrary<T | undefined> {
  return fc.oneof({ weight: focused ? 1 : 3, arbitrary: fc.constant(undefined) }, { weight: focused ? 3 : 1, arbitrary: arb });
}

type Focus = 'stdio' | 'strings' | 'identity' | 'argumentSpace';

function caseArb(focus: Focus): fc.Arbitrary<CaseSpec> {
  const is = (f: Focus) => focus === f;
  return fc
    .record({
      command: commandUnderTest,
      mode: modeArb,
      initFlag: sometimes(fc.boolean(), false),
      stdio: stdioArb(is('stdio') ? 'any' : 'small'),
      cwd: sometimes(cwdArb, is('strings')),
      argv0: sometimes(argv0Arb, is('strings')),
      env: sometimes(envArb, is('strings')),
      pad: is('argumentSpace') ? padArb.map((p): PadSpec | undefined => p) : fc.constant(undefined),
      exitCode: fc.nat(255),
      uid: sometimes(idArb, is('identity')),
      gid: sometimes(idArb, is('identity')),
      userNamespace: sometimes(userNamespaceArb, is('identity')),
      mountProc: sometimes(fc.boolean(), is('identity')),
      terminal: sometimes(terminalArb, is('identity')),
      foreground: sometimes(fc.boolean(), is('identity')),
      noNewPrivileges: sometimes(fc.boolean(), is('identity')),
      signalGroup: sometimes(fc.boolean(), is('identity')),
      cgroup: sometimes(cgroupArb, is('identity')),
      newNamespace: sometimes(newNamespaceArb, false),
      waitForDescendants: sometimes(waitForDescendantsArb, is('identity')),
      teardownGraceMs: sometimes(fc.constantFrom(0, 20), false),
      pidMax: sometimes(pidMaxArb, is('identity')),
      nsPid: sometimes(nsPidArb, is('identity')),
      joinNamespaces: sometimes(joinNamespacesArb, is('identity')),
      namespaces: sometimes(namespacesArb, is('identity')),
      hostname: sometimes(hostnameArb, false),
      timeOffsets: sometimes(timeOffsetsArb, false),
      // A quarter of the cases keep the invalid values and the options that exclude each other.
      conflicts: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    })
    .map(({ command, conflicts, ...drawn }) => {
      // The mode decides init: a raw case takes none, an init case takes only the default or true.
      if (drawn.mode === 'raw') drawn.initFlag = undefined;
      if (drawn.mode === 'init' && drawn.initFlag === false) drawn.initFlag = true;
      // options.newNamespace may not change what the mode is: true, false and 'auto' stay only
      // where they are the mode's own value or conflict with it (raw, join, pod members).
      const validNewNamespace = drawn.newNamespace === true || drawn.newNamespace === false || drawn.newNamespace === 'auto';
      if (validNewNamespace && (drawn.mode === 'noNs' || drawn.mode === 'autoNs' || (drawn.mode === 'init' && drawn.newNamespace !== true))) drawn.newNamespace = undefined;
      // A command that leaves something running would keep `exited` from ever coming.
      if (command !== 'report-and-exit') drawn.waitForDescendants = undefined;
      const withCommand = { ...(command === 'report-and-exit' ? {} : { command }), ...drawn };
      const spec = Object.fromEntries(Object.entries(withCommand).filter(([, v]) => v !== undefined)) as unknown as CaseSpec;
      return conflicts ? spec : withoutConflicts(spec);
    });
}

/** The case without what makes an argument invalid: each value in range, no two options that
 * exclude each other. (Descriptor numbers that are not open stay: they are refused later.) */
function withoutConflicts(drawn: CaseSpec): CaseSpec {
  const spec: CaseSpec = { ...drawn };
  const terminal = spec.terminal !== undefined && spec.terminal !== false;
  if (spec.stdio.form === 'array') {
    let ipc = 0;
    let specials = spec.stdio.specials.filter(([, e]) => (e.k === 'bad' ? validDescriptorNumber(Number(e.v)) : e.k !== 'ipc' || ++ipc === 1));
    // With a terminal, entries 0-2 stay at their default (later specials win).
    if (terminal) specials = [...specials, [0, simple('undefined')], [1, simple('undefined')], [2, simple('undefined')]];
    spec.stdio = { ...spec.stdio, length: Math.min(spec.stdio.length, MAX_STDIO), specials };
  } else if (terminal && spec.stdio.form === 'name' && spec.stdio.name !== 'pipe') {
    spec.stdio = { form: 'absent' };
  }
  if (typeof spec.terminal === 'object') spec.terminal = Object.fromEntries(Object.entries(spec.terminal).filter(([, v]) => Number.isInteger(v) && v >= 1 && v <= 0xffff));
  if (terminal) delete spec.foreground;
  if (isPodMember(spec.mode)) delete spec.initFlag;
  if (joins(spec.mode) && spec.initFlag === true) delete spec.initFlag;
  if (!isNewNamespace(spec.mode)) delete spec.userNamespace;
  if (spec.newNamespace !== undefined && spec.newNamespace !== true) delete spec.newNamespace;
  if (newNamespaceOf(spec) !== true) {
    if (spec.initFlag === false) delete spec.initFlag;
    if (spec.mountProc === true) delete spec.mountProc;
  }
  if (spec.waitForDescendants !== undefined && (typeof spec.waitForDescendants !== 'boolean' || (spec.waitForDescendants && !initOf(spec)))) delete spec.waitForDescendants;
  if (spec.waitForDescendants === true && spec.teardownGraceMs !== undefined && spec.teardownGraceMs !== 0) delete spec.teardownGraceMs;
  if (spec.pidMax !== undefined && (!pidMaxInRange(spec.pidMax) || !isNewNamespace(spec.mode) || newNamespaceOf(spec) !== true)) delete spec.pidMax;
  if (spec.nsPid !== undefined && (!nsPidInRange(spec.nsPid) || !joins(spec.mode))) delete spec.nsPid;
  if (spec.joinNamespaces !== undefined && (!joinNamespacesValid(spec.joinNamespaces) || !joins(spec.mode) || spec.mode === 'joinPath')) delete spec.joinNamespaces;
  const newNamespaces = isNewNamespace(spec.mode) && newNamespaceOf(spec) === true;
  if (spec.namespaces !== undefined && (!namespacesValid(spec.namespaces) || !newNamespaces)) delete spec.namespaces;
  if (spec.hostname !== undefined && (!hostnameValid(spec.hostname) || !namesNamespace(spec, 'uts'))) delete spec.hostname;
  if (spec.timeOffsets !== undefined && (!timeOffsetsValid(spec.timeOffsets) || !namesNamespace(spec, 'time'))) delete spec.timeOffsets;
  if (spec.env) spec.env = spec.env.filter(([k, v]) => k !== '' && !k.includes('=') && !k.includes('\0') && !(v ?? '').includes('\0'));
  if (spec.cwd?.k === 'literal' && (spec.cwd.value === '' || spec.cwd.value.includes('\0'))) delete spec.cwd;
  if (typeof spec.argv0 === 'string' && spec.argv0.includes('\0')) delete spec.argv0;
  if (spec.uid !== undefined && !idInRange(spec.uid)) delete spec.uid;
  if (spec.gid !== undefined && !idInRange(spec.gid)) delete spec.gid;
  if (spec.cgroup) {
    const c = spec.cgroup;
    const usable = V2 !== undefined && c.k !== 'literal' && (c.k !== 'new' || ((!('pidsMax' in c.limits) || pidsController) && (!('memoryMax' in c.limits) || memoryController)));
    if (!V2) delete spec.cgroup;
    else if (!usable) spec.cgroup = { k: 'new', limits: {} };
  }
  return spec;
}

// ---------------------------------------------------------------------------------------------
// The case server: a Node process of its own for the cases that may crash the caller

interface ServerReady {
  ready: true;
  pid: number;
}

class CaseServer {
  #process: ChildProcess | null = null;
  #ready: Promise<ServerReady> | null = null;
  #pending = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  #nextId = 1;
  #stderr = '';
  /** Every process this server ran as (it is restarted after a crash). */
  readonly pids: number[] = [];

  constructor(private readonly setup: object) {}

  #start(): Promise<ServerReady> {
    const child = spawn(process.execPath, [fixture('fuzz-spawn-server.js'), JSON.stringify(this.setup)], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.#process = child;
    if (child.pid !== undefined) this.pids.push(child.pid);
    this.#stderr = '';
    let buffered = '';
    let onReady: (r: ServerReady) => void;
    const ready = new Promise<ServerReady>((resolve) => (onReady = resolve));
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const message = JSON.parse(buffered.slice(0, nl)) as Record<string, unknown>;
        buffered = buffered.slice(nl + 1);
        if (message.ready) onReady(message as unknown as ServerReady);
        const waiter = this.#pending.get(message.id as number);
        this.#pending.delete(message.id as number);
        waiter?.resolve(message);
      }
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => (this.#stderr = (this.#stderr + chunk).slice(-4000)));
    child.once('exit', (code, signal) => {
      const error = new Error(`the Node process running the case died (${signal ?? `exit ${code}`}); its stderr ends with:\n${this.#stderr}`);
      for (const waiter of this.#pending.values()) waiter.reject(error);
      this.#pending.clear();
      if (this.#process === child) {
        this.#process = null;
        this.#ready = null;
      }
    });
    return Promise.race([
      ready,
      new Promise<ServerReady>((_, reject) => child.once('exit', (code, signal) => reject(new Error(`the case server did not start (${signal ?? `exit ${code}`}): ${this.#stderr}`)))),
    ]);
  }

  async request(message: object, timeoutMs: number): Promise<Record<string, unknown>> {
    this.#ready ??= this.#start();
    await this.#ready;
    const child = this.#process!;
    const id = this.#nextId++;
    let timer: NodeJS.Timeout | undefined;
    const answer = new Promise<Record<string, unknown>>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      timer = setTimeout(() => {
        // A case that hangs the process is as much a failure as one that crashes it.
        this.#pending.delete(id);
        child.kill('SIGKILL');
        reject(new Error(`the Node process running the case did not answer within ${timeoutMs} ms (killed); its stderr ends with:\n${this.#stderr}`));
      }, timeoutMs);
    });
    child.stdin!.write(`${JSON.stringify({ id, ...message })}\n`);
    try {
      return await answer;
    } finally {
      clearTimeout(timer);
    }
  }

  get running(): boolean {
    return this.#process !== null;
  }

  get pid(): number | null {
    return this.#process?.pid ?? null;
  }

  async end(): Promise<void> {
    const child = this.#process;
    if (!child) return;
    const exited = new Promise((r) => child.once('exit', r));
    await this.request({ op: 'end' }, 30_000).catch(() => child.kill('SIGKILL'));
    child.stdin!.end();
    await exited;
  }
}

// ---------------------------------------------------------------------------------------------
// Set-up

let tmp: string;
let fifo: string;
let openFds: number[] = [];
let pods: { root: PidNamespace; user: PidNamespace } | null = null;
let cgroupDir: string | null = null;
let executor: Executor;
let server: CaseServer;
let fdsBeforeSetup = 0;
let fdsWithResources = 0;
let devNullRdev = 0;
let attacker = '';
let pidsController = false;
let memoryController = false;

function setUpFiles(): void {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pidns-fuzz-'));
  // The command may run as another uid (uid, userNamespace maps): it must reach the FIFO.
  fs.chmodSync(tmp, 0o755);
  fifo = path.join(tmp, 'fifo-jest');
  execFileSync('mkfifo', ['-m', '666', fifo, path.join(tmp, 'fifo-server')]);
  for (const name of ['plain', 'with space', 'new\nline', 'tab\tdel\x7f', 'ümlaut-é', 'emoji-🦀', 'lone-\uD800', 'percent%41', '-dash', 'glob*?[', 'back\\slash', `quote"'`, 'x'.repeat(255), 'private']) {
    fs.mkdirSync(path.join(tmp, name));
  }
  fs.chmodSync(path.join(tmp, 'private'), 0o700);
  fs.symlinkSync('plain', path.join(tmp, 'link-to-plain'));
  fs.symlinkSync('loop-b', path.join(tmp, 'loop-a'));
  fs.symlinkSync('loop-a', path.join(tmp, 'loop-b'));
  fs.writeFileSync(path.join(tmp, 'regular-file'), 'not a directory\n');
}

/** Descriptors for stdio entries that name open ones: low numbers and numbers near and above 1,024. */
function openDescriptorsForStdio(): number[] {
  const pipe = native.pipe();
  if (!Array.isArray(pipe)) throw new Error(`pipe: ${JSON.stringify(pipe)}`);
  const fds = [fs.openSync('/dev/null', 'r'), fs.openSync('/dev/zero', 'r+'), fs.openSync(tmp, 'r'), fs.openSync(path.join(tmp, 'regular-file'), 'a'), ...pipe];
  // Push the numbers up with fillers, keep a few high ones, close the rest.
  const fillers: number[] = [];
  while (fillers.length < 1100) fillers.push(fs.openSync('/dev/null', 'r'));
  const keep = new Set([fillers[fillers.length - 1], fillers.find((fd) => fd >= 1023), fillers.find((fd) => fd >= 700)].filter((fd): fd is number => fd !== undefined));
  for (const fd of fillers) if (!keep.has(fd)) fs.closeSync(fd);
  return [...fds, ...keep];
}

function controllersEnabled(): void {
  if (!V2) return;
  const enabled = fs.readFileSync(path.join(V2, 'cgroup.subtree_control'), 'utf8').trim().split(/\s+/);
  pidsController = enabled.includes('pids');
  memoryController = enabled.includes('memory');
}

async function warmUp(): Promise<void> {
  // Whatever the library opens once and keeps (on its first spawn, terminal, IPC channel, pod) is
  // not a leak of a case: it is opened here, before the baseline.
  // libuv opens one inotify descriptor for the loop's lifetime on the first fs.watch, which the
  // library uses to wait for a cgroup to empty.
  fs.watch(os.tmpdir()).close();
  const pod = await PidNamespace.create();
  try {
    for (const options of [{}, { stdio: 'pipe' as const }, { init: false }, { terminal: true, stdio: [] }, { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] as never }, { join: pod }, { newNamespace: false }]) {
      const child = await spawnInPidNamespace('/bin/true', [], { stdio: 'ignore', ...options });
      for (const stream of [child.stdout, child.stderr, child.terminal]) stream?.resume();
      await child.closed;
      if (child.connected) child.disconnect();
    }
  } finally {
    await pod.close({ graceMs: 0 });
  }
}

// ---------------------------------------------------------------------------------------------
// The oracle: what a case must end as

type Expected =
  | { kind: 'argument'; codes: Set<string>; why: string[]; orBadDescriptor: boolean }
  /** Any of these: when several apply, which comes first is the library's choice. */
  | { kind: 'system'; errors: { code: string; syscall: string; why: string }[] }
  | { kind: 'run'; orE2BIG: boolean; why: string };

/** The modes that make a new namespace with options.newNamespace at its default (true). */
const isNewNamespace = (mode: Mode) => mode === 'init' || mode === 'raw';
const isPodMember = (mode: Mode) => mode === 'pod' || mode === 'userPod';
/** The directory a cwd option names for the command: entering the pod's mount namespace starts
 * it in the working directory of the pod's init, '/', so a relative one is relative to that. */
const cwdSeenBy = (spec: CaseSpec, cwd: string) => (entersMount(spec) ? path.resolve('/', cwd) : cwd);
/** Join a namespace: options.join, or a pod member (the pod passes join). */
const joins = (mode: Mode) => !['init', 'raw', 'noNs', 'autoNs'].includes(mode);
/** What options.newNamespace is for the library: the spec's own value, else the mode's. */
function newNamespaceOf(spec: CaseSpec): unknown {
  if (spec.newNamespace !== undefined) return spec.newNamespace;
  return spec.mode === 'noNs' ? false : spec.mode === 'autoNs' ? 'auto' : true;
}
/** What options.init is for the library (a pod passes false). */
function initOf(spec: CaseSpec): boolean {
  if (spec.mode === 'raw' || isPodMember(spec.mode)) return false;
  return spec.initFlag ?? !joins(spec.mode);
}
/** What child.pidNamespace says for a case that runs. As root, 'auto' always gets a namespace. */
function namespaceKind(mode: Mode): 'new' | 'joined' | 'caller' {
  return mode === 'noNs' ? 'caller' : joins(mode) ? 'joined' : 'new';
}
/** A case that runs under the bundled init (pid 1 of a new namespace, or a subreaper in ours). */
const underInit = (mode: Mode) => mode === 'init' || mode === 'noNs' || mode === 'autoNs';
const userNamespaceRequested = (u: UserNamespaceSpec | undefined) => u !== undefined && u !== false;
/** Cases whose spawn creates a user namespace: they run in the case server. */
const createsUserNamespace = (spec: CaseSpec) => userNamespaceRequested(spec.userNamespace) && isNewNamespace(spec.mode);

function envObject(pairs: [string, string | null][]): Record<string, string | undefined> {
  const o: Record<string, string | undefined> = {};
  for (const [k, v] of pairs) Object.defineProperty(o, k, { value: v === null ? undefined : v, enumerable: true, writable: true, configurable: true });
  return o;
}

function validDescriptorNumber(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0x7fffffff;
}

function idInRange(value: number | string | undefined): boolean {
  const n = Number(value);
  return Number.isInteger(n) && n >= 0 && n <= MAX_ID;
}

/** The ranges of a new user namespace's map, as the options give them. */
function mapOf(spec: CaseSpec, which: 'uidMap' | 'gidMap', callerId: number): IdRange[] {
  const u = spec.userNamespace;
  if (typeof u === 'object' && u[which]) return u[which]!;
  return [{ containerId: 0, hostId: callerId, size: 1 }];
}

function mapId(ranges: IdRange[], inside: number): number | null {
  for (const r of ranges) if (inside >= r.containerId && inside < r.containerId + r.size) return r.hostId + (inside - r.containerId);
  return null;
}

/** The entries the library works with: an array (names spread to 0-2), padded to three. */
function entriesOf(report: CaseReport): (string | number)[] {
  const s = report.call.stdio;
  const entries = s === 'absent' ? ['pipe', 'pipe', 'pipe'] : typeof s === 'string' ? [s, s, s] : [...s];
  while (entries.length < 3) entries.push('undefined');
  return entries;
}

function numberOf(entry: string | number): number | null {
  if (typeof entry === 'number') return entry;
  if (entry === 'NaN' || entry === 'Infinity' || entry === '-Infinity') return Number(entry);
  return null;
}

/** Whether every folder on the way to dir (and dir) lets any user through. */
function searchableByOthers(dir: string): boolean {
  for (let d = dir; ; d = path.dirname(d)) {
    if ((fs.statSync(d).mode & 0o001) === 0) return false;
    if (d === path.dirname(d)) return true;
  }
}

function expectedOutcome(spec: CaseSpec, report: CaseReport): Expected {
  const why: string[] = [];
  const codes = new Set<string>();
  const bad = (code: string, reason: string) => {
    codes.add(code);
    why.push(reason);
  };
  const s = report.call.stdio;
  const entries = entriesOf(report);

  // Argument checks, all made before anything is opened or spawned.
  if (Array.isArray(s) && s.length > MAX_STDIO) bad('ERR_OUT_OF_RANGE', `stdio has ${s.length} entries`);
  if (Array.isArray(s)) {
    let ipc = 0;
    s.forEach((entry, i) => {
      const n = numberOf(entry);
      if (n !== null && !validDescriptorNumber(n)) bad('ERR_OUT_OF_RANGE', `stdio[${i}] is ${entry}`);
      if (entry === 'ipc' && ++ipc === 2) bad('ERR_IPC_ONE_PIPE', `stdio[${i}] is a second 'ipc'`);
    });
  }
  const terminal = spec.terminal !== undefined && spec.terminal !== false;
  if (terminal) {
    if (typeof spec.terminal === 'object') {
      for (const key of ['cols', 'rows'] as const) {
        const v = spec.terminal[key];
        if (v !== undefined && !(Number.isInteger(v) && v >= 1 && v <= 0xffff)) bad('ERR_OUT_OF_RANGE', `terminal.${key} is ${v}`);
      }
    }
    entries.slice(0, 3).forEach((entry, i) => {
      if (!['undefined', 'null', 'pipe'].includes(String(entry))) bad('ERR_INVALID_ARG_VALUE', `stdio[${i}] is ${entry} with terminal`);
    });
    if (spec.foreground === true) bad('ERR_INVALID_ARG_VALUE', 'foreground with terminal');
  }
  if (spec.env) {
    const env = envObject(spec.env);
    for (const key of Object.keys(env)) {
      const v = env[key];
      if (v === undefined) continue;
      if (key === '' || key.includes('=') || key.includes('\0') || v.includes('\0')) bad('ERR_INVALID_ARG_VALUE', `env name ${JSON.stringify(key)} = ${JSON.stringify(v.slice(0, 20))}`);
    }
  }
  if (spec.cwd?.k === 'literal' && (spec.cwd.value === '' || spec.cwd.value.includes('\0'))) bad('ERR_INVALID_ARG_VALUE', `cwd ${JSON.stringify(spec.cwd.value)}`);
  if (typeof spec.argv0 === 'string' && spec.argv0.includes('\0')) bad('ERR_INVALID_ARG_VALUE', 'argv0 has a NUL');
  for (const key of ['uid', 'gid'] as const) if (spec[key] !== undefined && !idInRange(spec[key])) bad('ERR_OUT_OF_RANGE', `${key} is ${spec[key]}`);
  if (joins(spec.mode)) {
    if (isPodMember(spec.mode) && spec.initFlag !== undefined) bad('ERR_INVALID_ARG_VALUE', 'init given to a pod member');
    if (!isPodMember(spec.mode) && spec.initFlag === true) bad('ERR_INVALID_ARG_VALUE', 'init: true with join');
    if (userNamespaceRequested(spec.userNamespace)) bad('ERR_INVALID_ARG_VALUE', 'userNamespace with join');
  }
  const newNamespace = newNamespaceOf(spec);
  if (newNamespace !== true && newNamespace !== false && newNamespace !== 'auto') bad('ERR_INVALID_ARG_VALUE', `newNamespace is ${JSON.stringify(newNamespace)}`);
  else if (newNamespace !== true) {
    const with_ = `with newNamespace ${JSON.stringify(newNamespace)}`;
    if (joins(spec.mode)) bad('ERR_INVALID_ARG_VALUE', `${isPodMember(spec.mode) ? 'a pod member' : 'join'} ${with_}`);
    if (!initOf(spec)) bad('ERR_INVALID_ARG_VALUE', `init: false ${with_}`);
    if (spec.mountProc === true) bad('ERR_INVALID_ARG_VALUE', `mountProc ${with_}`);
    if (userNamespaceRequested(spec.userNamespace)) bad('ERR_INVALID_ARG_VALUE', `userNamespace ${with_}`);
  }
  const wait = spec.waitForDescendants;
  if (wait !== undefined && typeof wait !== 'boolean') bad('ERR_INVALID_ARG_TYPE', `waitForDescendants is ${JSON.stringify(wait)}`);
  else if (wait === true) {
    if (!initOf(spec)) bad('ERR_INVALID_ARG_VALUE', `waitForDescendants without the init (${spec.mode})`);
    if (spec.teardownGraceMs !== undefined && spec.teardownGraceMs !== 0) bad('ERR_INVALID_ARG_VALUE', `waitForDescendants with teardownGraceMs ${spec.teardownGraceMs}`);
  }
  if (spec.pidMax !== undefined) {
    if (typeof spec.pidMax !== 'number') bad('ERR_INVALID_ARG_TYPE', `pidMax is ${JSON.stringify(spec.pidMax)}`);
    else if (!pidMaxInRange(spec.pidMax)) bad('ERR_OUT_OF_RANGE', `pidMax is ${spec.pidMax}`);
    if (joins(spec.mode)) bad('ERR_INVALID_ARG_VALUE', 'pidMax with join');
    if (newNamespace !== true) bad('ERR_INVALID_ARG_VALUE', `pidMax with newNamespace ${JSON.stringify(newNamespace)}`);
  }
  if (spec.nsPid !== undefined) {
    if (typeof spec.nsPid !== 'number') bad('ERR_INVALID_ARG_TYPE', `nsPid is ${JSON.stringify(spec.nsPid)}`);
    else if (!nsPidInRange(spec.nsPid)) bad('ERR_OUT_OF_RANGE', `nsPid is ${spec.nsPid}`);
    if (!joins(spec.mode)) bad('ERR_INVALID_ARG_VALUE', `nsPid without join (${spec.mode})`);
  }
  if (spec.joinNamespaces !== undefined) {
    const v = spec.joinNamespaces;
    if (v !== 'all' && !Array.isArray(v)) bad('ERR_INVALID_ARG_TYPE', `joinNamespaces is ${JSON.stringify(v)}`);
    else if (!joinNamespacesValid(v)) bad('ERR_INVALID_ARG_VALUE', `joinNamespaces is ${JSON.stringify(v)}`);
    if (!joins(spec.mode)) bad('ERR_INVALID_ARG_VALUE', `joinNamespaces without join (${spec.mode})`);
    if (spec.mode === 'joinPath') bad('ERR_INVALID_ARG_VALUE', 'joinNamespaces with join given as a namespace file path');
  }
  const makesNamespaces = !joins(spec.mode) && newNamespace === true;
  if (spec.namespaces !== undefined) {
    const v = spec.namespaces;
    if (!Array.isArray(v)) bad('ERR_INVALID_ARG_TYPE', `namespaces is ${JSON.stringify(v)}`);
    else if (makesNamespaces && !namespacesValid(v)) bad('ERR_INVALID_ARG_VALUE', `namespaces is ${JSON.stringify(v)}`);
    if (!makesNamespaces) bad('ERR_INVALID_ARG_VALUE', `namespaces without a new PID namespace (${spec.mode}, newNamespace ${JSON.stringify(newNamespace)})`);
  }
  if (spec.hostname !== undefined) {
    const v = spec.hostname;
    if (typeof v !== 'string') bad('ERR_INVALID_ARG_TYPE', `hostname is ${JSON.stringify(v)}`);
    else if (v === '' || v.includes('\0')) bad('ERR_INVALID_ARG_VALUE', `hostname is ${JSON.stringify(v)}`);
    else if (Buffer.byteLength(v) > 64) bad('ERR_OUT_OF_RANGE', `hostname of ${Buffer.byteLength(v)} bytes`);
    if (!namesNamespace(spec, 'uts')) bad('ERR_INVALID_ARG_VALUE', "hostname without 'uts'");
  }
  if (spec.timeOffsets !== undefined) {
    const v = spec.timeOffsets;
    if (typeof v !== 'object' || v === null) bad('ERR_INVALID_ARG_TYPE', `timeOffsets is ${JSON.stringify(v)}`);
    else {
      for (const [clock, n] of Object.entries(v)) {
        if (clock !== 'monotonic' && clock !== 'boottime') bad('ERR_INVALID_ARG_VALUE', `timeOffsets has the clock ${clock}`);
        else if (typeof n !== 'number') bad('ERR_INVALID_ARG_TYPE', `timeOffsets.${clock} is ${JSON.stringify(n)}`);
        else if (!timeOffsetsValid({ [clock]: n })) bad('ERR_OUT_OF_RANGE', `timeOffsets.${clock} is ${n}`);
      }
    }
    if (!namesNamespace(spec, 'time')) bad('ERR_INVALID_ARG_VALUE', "timeOffsets without 'time'");
  }
  if (codes.size > 0) return { kind: 'argument', codes, why, orBadDescriptor: false };

  // The cgroup is looked at before anything is spawned.
  if (spec.cgroup) {
    const c = spec.cgroup;
    if (!V2 || c.k === 'literal') bad('ERR_INVALID_ARG_VALUE', `cgroup ${JSON.stringify(c)} is not a cgroup v2 directory`);
    else if (c.k === 'new') {
      if ('pidsMax' in c.limits && !pidsController) bad('ERR_CGROUP_CONTROLLER_DISABLED', 'pidsMax without the pids controller');
      if ('memoryMax' in c.limits && !memoryController) bad('ERR_CGROUP_CONTROLLER_DISABLED', 'memoryMax without the memory controller');
    }
  }
  // A descriptor number that is not open must be refused, not filled with whatever the library
  // opens meanwhile (its pipes, /dev/null, the error pipe, the init's control socket).
  const closed: string[] = [];
  entries.forEach((entry, i) => {
    if (terminal && i < 3) return;
    const n = entry === 'inherit' ? i : numberOf(entry);
    if (n !== null && validDescriptorNumber(n) && report.referenced[String(n)] === null) closed.push(`stdio[${i}] = ${entry} (descriptor ${n} is not open)`);
  });
  if (closed.length > 0 || codes.size > 0) return { kind: 'argument', codes, why: [...why, ...closed], orBadDescriptor: closed.length > 0 };

  // Refusals in the child: chdir, the ids, execve.
  const errors: { code: string; syscall: string; why: string }[] = [];
  if (report.call.cwd !== undefined) {
    try {
      if (!fs.statSync(cwdSeenBy(spec, report.call.cwd)).isDirectory()) errors.push({ code: 'ENOTDIR', syscall: 'chdir', why: `cwd ${JSON.stringify(report.call.cwd)} is not a directory` });
    } catch (err) {
      errors.push({ code: (err as NodeJS.ErrnoException).code!, syscall: 'chdir', why: `cwd ${JSON.stringify(report.call.cwd.slice(0, 80))}: ${(err as Error).message.slice(0, 120)}` });
    }
  }
  const userPodMember = spec.mode === 'userPod' || spec.mode === 'joinUserNs';
  if (createsUserNamespace(spec) || userPodMember) {
    const uidMap = createsUserNamespace(spec) ? mapOf(spec, 'uidMap', 0) : [{ containerId: 0, hostId: 0, size: 1 }];
    const gidMap = createsUserNamespace(spec) ? mapOf(spec, 'gidMap', 0) : [{ containerId: 0, hostId: 0, size: 1 }];
    if (spec.gid !== undefined && mapId(gidMap, Number(spec.gid)) === null) errors.push({ code: 'EINVAL', syscall: 'setgid', why: `gid ${spec.gid} is not mapped in the user namespace` });
    if (spec.uid !== undefined && mapId(uidMap, Number(spec.uid)) === null) errors.push({ code: 'EINVAL', syscall: 'setuid', why: `uid ${spec.uid} is not mapped in the user namespace` });
    // Without a root in the map, the init itself runs as the command's uid, which must be able to
    // reach the package (a checkout under a 0700 folder is not).
    const initAs = spec.mode === 'init' && spec.uid !== undefined && mapId(uidMap, 0) === null ? mapId(uidMap, Number(spec.uid)) : null;
    if (initAs !== null && initAs !== 0 && !searchableByOthers(path.dirname(initPath))) {
      errors.push({ code: 'EACCES', syscall: 'execve', why: `the init runs as uid ${initAs}, which cannot reach ${initPath}` });
    }
  }
  // clone3 takes a pid below the namespace's pid_max only.
  if (pidMaxInRange(spec.pidMax) && !PID_MAX_SETTABLE) errors.push({ code: 'ERR_PID_MAX_UNSUPPORTED', syscall: 'pid_max', why: `pidMax on Linux ${os.release()}` });
  if (nsPidInRange(spec.nsPid) && spec.nsPid >= POD_PID_MAX) errors.push({ code: 'EINVAL', syscall: 'clone3', why: `nsPid ${spec.nsPid} is at or above the pod's pid_max ${POD_PID_MAX}` });
  if (report.nsPidHolder !== null) errors.push({ code: 'ERR_NS_PID_IN_USE', syscall: 'clone3', why: `nsPid ${spec.nsPid} is held in the pod by our pid ${report.nsPidHolder}` });
  const footprint = underInit(spec.mode) ? report.call.footprint.init : report.call.footprint.raw;
  const space = `${footprint} bytes of arguments and environment, limit ${ARG_SPACE}`;
  const maybeTooBig = footprint > ARG_SPACE - ARG_SLACK;
  if (report.call.longestString >= MAX_ARG_STRLEN) errors.push({ code: 'E2BIG', syscall: 'execve', why: `a string of ${report.call.longestString} bytes` });
  else if (maybeTooBig) errors.push({ code: 'E2BIG', syscall: 'execve', why: space });
  const definite = errors.some((e) => e.code !== 'E2BIG') || report.call.longestString >= MAX_ARG_STRLEN || footprint > ARG_SPACE + ARG_SLACK;
  if (definite) return { kind: 'system', errors };
  return { kind: 'run', orE2BIG: maybeTooBig, why: space };
}

/** Collects what is wrong with a case's outcome; a case passes when nothing is. */
class Findings {
  readonly list: string[] = [];
  check(ok: boolean, what: string): void {
    if (!ok) this.list.push(what);
  }
  equal(actual: unknown, expected: unknown, what: string): void {
    const a = JSON.stringify(actual);
    const e = JSON.stringify(expected);
    if (a !== e) this.list.push(`${what}: expected ${e}, got ${a}`);
  }
}

function checkNothingLeft(report: CaseReport, f: Findings): void {
  f.equal(report.childrenAfter, report.childrenBefore, 'children of the calling process after the call');
}

function checkError(expected: Expected, report: CaseReport, f: Findings): void {
  const e = report.error;
  f.check(report.outcome !== 'threw', 'the call threw synchronously instead of returning a rejected promise');
  if (!e || e.notAnError) {
    f.check(false, `rejected with something that is not an Error: ${e?.value}`);
    return;
  }
  checkNothingLeft(report, f);
  const typed = (e.isTypeError || e.isRangeError) && /^ERR_[A-Z_]+$/.test(e.code ?? '');
  const systemShaped = typeof e.code === 'string' && typeof e.errno === 'number' && e.errno < 0 && typeof e.syscall === 'string' && typeof e.message === 'string';
  const hinted = () => {
    f.check(typeof e.hint === 'string' && e.hint.length > 0, `a ${e.code} from ${e.syscall} has no hint (what to do): ${e.message}`);
    if (e.hint) f.check(e.message!.endsWith(`(${e.hint})`), 'the message ends with the hint');
    const errno = (os.constants.errno as Record<string, number>)[e.code!];
    if (errno !== undefined) f.equal(e.errno, -errno, `errno of ${e.code}`);
  };
  if (expected.kind === 'argument') {
    if (expected.orBadDescriptor && systemShaped && e.code === 'EBADF') {
      hinted();
      return;
    }
    const documentedStateError = e.code === 'ERR_CGROUP_CONTROLLER_DISABLED' && expected.codes.has(e.code);
    f.check(typed || documentedStateError, `expected a TypeError/RangeError with an ERR_ code, got ${e.name} ${e.code} (${e.syscall ?? 'no syscall'}): ${e.message}`);
    const allowed = new Set(expected.codes);
    if (expected.orBadDescriptor) ['ERR_INVALID_ARG_VALUE', 'ERR_OUT_OF_RANGE', 'ERR_INVALID_ARG_TYPE'].forEach((c) => allowed.add(c));
    f.check(allowed.has(e.code ?? ''), `expected one of ${[...allowed].join(', ')}${expected.orBadDescriptor ? ' or EBADF' : ''}, got ${e.code}: ${e.message}`);
    return;
  }
  f.check(systemShaped, `expected a SystemError-shaped error, got ${JSON.stringify(e)}`);
  if (expected.kind === 'system') {
    const match = expected.errors.find((x) => x.code === e.code && x.syscall === e.syscall);
    f.check(match !== undefined, `expected ${expected.errors.map((x) => `${x.code} from ${x.syscall} (${x.why})`).join(' or ')}, got ${e.code} from ${e.syscall}: ${e.message}`);
    if (match?.syscall === 'chdir') f.equal(e.path, report.call.cwd, 'path of a chdir error');
  } else {
    f.check(expected.orE2BIG && e.code === 'E2BIG' && e.syscall === 'execve', `expected a run (${expected.why}), got ${e.code} from ${e.syscall}: ${e.message}`);
  }
  if (systemShaped) hinted();
}

function checkRun(spec: CaseSpec, expected: Expected, report: CaseReport, f: Findings): void {
  const child = report.child!;
  if (expected.kind !== 'run') {
    const wanted = expected.kind === 'argument' ? `a TypeError/RangeError (${expected.why.join('; ')})` : expected.errors.map((x) => `${x.code} from ${x.syscall} (${x.why})`).join(' or ');
    f.check(false, `expected ${wanted}, but the command was started (pid ${child.pid}, nsPid ${child.nsPid}) and exited ${JSON.stringify(report.exited)}`);
    return;
  }
  f.check(child.pid > 0 && child.nsPid > 0, `pid ${child.pid} and nsPid ${child.nsPid} of a started command`);
  const run = report.run;
  if (!run) {
    f.check(false, `the command was started but never reached its wait: ${report.runError}; exited ${JSON.stringify(report.exited)}`);
    return;
  }
  // Pids and namespaces.
  const kind = namespaceKind(spec.mode);
  f.equal(child.pidNamespace, kind, 'child.pidNamespace');
  // Without a namespace of its own the command is as deep as we are.
  const depth = report.ownNsPidLine.length + (kind === 'caller' ? 0 : 1);
  f.equal(run.nsPidLine[0], child.pid, 'NSpid in our view is child.pid');
  f.equal(run.nsPidLine[run.nsPidLine.length - 1], child.nsPid, 'the last NSpid is child.nsPid');
  f.equal(run.nsPidLine.length, depth, 'levels of NSpid');
  f.equal(child.namespaceId, run.pidNamespaceInode, 'namespaceId is the inode of /proc/PID/ns/pid');
  if (kind === 'new') {
    f.check(child.namespaceId !== report.ownPidNamespaceInode, 'a new PID namespace');
    if (underInit(spec.mode)) {
      f.equal(child.nsPid, 2, 'nsPid under the init');
      f.check(child.init !== null && child.init.nsPid === 1, 'child.init under the init');
      f.equal(run.initNsPidLine?.[run.initNsPidLine.length - 1], 1, 'the init is pid 1 (NSpid)');
    } else {
      f.equal(child.nsPid, 1, 'nsPid without the init');
      f.equal(child.init, null, 'child.init without the init');
    }
  } else if (kind === 'caller') {
    f.equal(child.namespaceId, report.ownPidNamespaceInode, 'namespaceId without a new namespace is our own');
    f.equal(child.nsPid, child.pid, 'nsPid without a new namespace is pid');
    f.check(child.init !== null && child.init.pid > 0 && child.init.pid !== child.pid, `child.init without a new namespace: ${JSON.stringify(child.init)}`);
    if (child.init) f.equal(child.init, { pid: child.init.pid, nsPid: child.init.pid }, 'child.init.nsPid is its pid');
    const line = run.initNsPidLine ?? [];
    f.equal({ levels: line.length, first: line[0], last: line[line.length - 1] }, { levels: report.ownNsPidLine.length, first: child.init?.pid, last: child.init?.pid }, "the init's NSpid: as deep as we are, its pid in ours");
  } else {
    const pod = spec.mode === 'joinUserNs' || spec.mode === 'userPod' ? report.pods.user : report.pods.root;
    f.equal(child.namespaceId, pod.id, 'namespaceId of a joiner is the namespace joined');
    f.equal(child.init, null, 'child.init of a joiner');
    f.check(child.nsPid > 1, `nsPid ${child.nsPid} of a joiner`);
    if (spec.nsPid !== undefined) f.equal(child.nsPid, spec.nsPid, 'nsPid of a joiner is the one asked for');
  }
  if (spec.pidMax !== undefined) f.equal(run.pidMaxInside, String(spec.pidMax), "pidMax: the namespace's pid_max, read inside");
  if (underInit(spec.mode)) {
    f.equal(run.ppid, child.init?.pid, "the command is the init's child");
    f.equal(run.initWaitAll, spec.waitForDescendants === true, 'waitForDescendants: the init waits for the others (--wait-all)');
  }
  const status = (s?: { code: number | null; signal: string | null }) => s && { code: s.code, signal: s.signal };
  f.equal(status(report.exited), { code: spec.exitCode, signal: null }, 'exited');
  f.equal(status(report.closed), { code: spec.exitCode, signal: null }, 'closed');
  if (report.exitError) f.check(false, report.exitError);

  // Descriptors: exactly 0..N-1, each what its entry says.
  const entries = entriesOf(report);
  const terminal = spec.terminal !== undefined && spec.terminal !== false;
  const expectedFds = entries.map((_, i) => i);
  f.equal(
    run.fds.map((d) => d.fd),
    expectedFds,
    `descriptors of the command (stdio ${Array.isArray(report.call.stdio) ? `of ${report.call.stdio.length} entries` : report.call.stdio})`,
  );
  const byFd = new Map(run.fds.map((d) => [d.fd, d]));
  const ACCESS = 3;
  // Close-on-exec is the descriptor's own; O_NONBLOCK is the open file's, and libuv may set it on
  // a descriptor of ours (stdout, say) after the spawn.
  const OWN_FLAGS = fs.constants.O_NONBLOCK | 0o2000000;
  let terminalRdev: number | null = null;
  entries.forEach((entry, i) => {
    const d = byFd.get(i);
    if (!d || d.gone) return;
    const name = `fd ${i} (stdio[${i}] = ${entry})`;
    if (terminal && i < 3) {
      f.check(/^\/dev\/pts\/\d+$/.test(d.link), `${name}: the terminal, got ${d.link}`);
      terminalRdev ??= d.rdev;
      f.equal(d.rdev, terminalRdev, `${name}: the same terminal as fd 0`);
      return;
    }
    const n = entry === 'inherit' ? i : numberOf(entry);
    if (entry === 'pipe' || ((entry === 'null' || entry === 'undefined') && i < 3)) {
      f.check(d.link.startsWith('pipe:'), `${name}: a pipe, got ${d.link}`);
      f.equal(d.flags & ACCESS, i === 0 ? fs.constants.O_RDONLY : fs.constants.O_WRONLY, `${name}: access mode`);
    } else if (entry === 'ignore' || entry === 'null' || entry === 'undefined') {
      f.equal({ link: d.link, rdev: d.rdev }, { link: '/dev/null', rdev: devNullRdev }, `${name}: /dev/null`);
    } else if (entry === 'ipc') {
      f.check(d.link.startsWith('socket:'), `${name}: a socket, got ${d.link}`);
    } else if (n !== null) {
      const ours = report.referenced[String(n)];
      if (ours) f.equal({ dev: d.dev, ino: d.ino, flags: d.flags & ~OWN_FLAGS }, { dev: ours.dev, ino: ours.ino, flags: ours.flags & ~OWN_FLAGS }, `${name}: the same open file as our descriptor ${n} (${ours.link})`);
    }
  });
  const pipes = entries.map((entry, i) => !(terminal && i < 3) && (entry === 'pipe' || ((entry === 'null' || entry === 'undefined') && i < 3)));
  f.equal(child.stdio, pipes, 'child.stdio: a stream for each pipe');
  f.equal({ stdin: child.stdin, stdout: child.stdout, stderr: child.stderr, terminal: child.terminal }, { stdin: pipes[0], stdout: pipes[1], stderr: pipes[2], terminal }, 'child.stdin/stdout/stderr/terminal');

  // cwd, argv, environment.
  const cwd = report.call.cwd === undefined ? (entersMount(spec) ? '/' : process.cwd()) : cwdSeenBy(spec, report.call.cwd);
  f.equal(run.cwd, fs.realpathSync(cwd, { encoding: 'buffer' }).toString('base64'), `cwd (${JSON.stringify(cwd.slice(0, 80))})`);
  f.equal(run.cmdline, report.call.argv, 'cmdline: argv0 and the arguments as given');
  f.equal(run.environ, report.call.envp, `environ (names: ${JSON.stringify(report.call.envNames.slice(0, 20))})`);

  // Ids: the new user namespace's maps, a user pod's root, or the options themselves.
  const own = (line: string) => Number(line.split(/\s+/)[0]);
  const expectedHostId = (which: 'uid' | 'gid') => {
    const given = spec[which] === undefined ? undefined : Number(spec[which]);
    const ownId = own(which === 'uid' ? report.ownStatus.uid : report.ownStatus.gid);
    if (createsUserNamespace(spec)) {
      const ranges = mapOf(spec, which === 'uid' ? 'uidMap' : 'gidMap', ownId);
      const inside = given ?? (mapId(ranges, 0) !== null ? 0 : null);
      return inside === null ? ownId : mapId(ranges, inside);
    }
    return given ?? ownId;
  };
  const ids = (line: string) => line.split(/\s+/).map(Number);
  const uid = expectedHostId('uid');
  const gid = expectedHostId('gid');
  f.equal(ids(run.uid), [uid, uid, uid, uid], 'Uid (real, effective, saved, fs)');
  f.equal(ids(run.gid), [gid, gid, gid, gid], 'Gid (real, effective, saved, fs)');
  const idChanged =
    spec.uid !== undefined ||
    spec.gid !== undefined ||
    spec.mode === 'userPod' ||
    (createsUserNamespace(spec) && (mapId(mapOf(spec, 'uidMap', 0), 0) !== null || mapId(mapOf(spec, 'gidMap', 0), 0) !== null));
  f.equal(run.groups, idChanged ? '' : report.ownStatus.groups, 'supplementary groups (dropped when the ids change)');
  f.equal(run.noNewPrivs, spec.noNewPrivileges ? '1' : '0', 'NoNewPrivs');
  if (terminal || (spec.signalGroup && underInit(spec.mode))) f.equal(run.pgrp, child.pid, 'the command leads its process group');

  // Mounts: mountProc is a mount namespace of its own, as 'mnt' is.
  if (spec.mountProc) f.equal(run.innerProcNsPid, String(child.nsPid), "mountProc: the command's /proc is its PID namespace's");
  if (spec.mountProc || namesNamespace(spec, 'mnt')) {
    f.check(run.mountNamespaceInode !== report.ownMountNamespaceInode, "mountProc or 'mnt': a mount namespace of its own");
  } else {
    f.equal(run.mountNamespaceInode, report.ownMountNamespaceInode, "without mountProc or 'mnt': our mount namespace");
  }

  // The other namespaces: its own for each kind named, ours for the rest.
  for (const kind of ['cgroup', 'ipc', 'net', 'time', 'uts']) {
    const own = run.namespaceInodes[kind] !== report.ownNamespaceInodes[kind];
    f.equal(own, namesNamespace(spec, kind), `a ${kind} namespace of its own exactly when namespaces names it`);
  }
  const offsets = spec.timeOffsets as Record<string, number> | undefined;
  f.equal(run.timensOffsets, [`monotonic ${offsets?.monotonic ?? 0}`, `boottime ${offsets?.boottime ?? 0}`], 'timens_offsets of the command');

  // cgroup.
  if (spec.cgroup && V2) {
    const realV2 = fs.realpathSync(V2);
    f.check(child.cgroup !== null, 'child.cgroup with options.cgroup');
    if (child.cgroup) {
      if (spec.cgroup.k === 'existing') f.equal(child.cgroup, cgroupDir, 'child.cgroup is the directory given');
      else f.equal(path.dirname(child.cgroup), realV2, 'a new cgroup in the parent given');
      f.equal(run.cgroupLine, `0::/${path.relative(realV2, child.cgroup)}`, 'the command runs in the cgroup');
      f.equal(report.cgroupLeft, spec.cgroup.k === 'existing', 'a cgroup pidns made is removed once the namespace has ended; one given is kept');
    }
  }
}

/** What a hostile command must not get away with, whatever the outcome of its case. */
function checkHostile(spec: CaseSpec, report: CaseReport, f: Findings): void {
  if (!isHostileCommand(spec)) return;
  const kind = namespaceKind(spec.mode);
  if (report.outcome === 'resolved' && kind === 'new') {
    f.equal(report.leftInNamespace, [], `processes of the namespace still running after exited (${spec.command})`);
  }
  if (report.outcome === 'resolved' && kind === 'caller' && report.run) {
    // What the case started is told from the rest of our namespace by its command line; that
    // this finds it is checked while it runs: the command, the init, and the attacker's leftovers
    // (the attacker itself has exited by then: two daemons, one stopped child, none in a storm).
    const seen = report.caseProcesses;
    const child = report.child!;
    const pids = seen?.whileRunning.map((p) => p.pid) ?? [];
    f.check(pids.includes(child.pid) && child.init !== null && pids.includes(child.init.pid), `the scan for the case's processes sees the command ${child.pid} and the init ${child.init?.pid} while they run: ${JSON.stringify(seen?.whileRunning)}`);
    const attackers = { 'daemon-ignoring-term': 2, 'self-stopping-child': 1, 'fork-storm': 0 }[spec.command as (typeof HOSTILE_COMMANDS)[number]];
    f.equal(seen?.whileRunning.filter((p) => p.attacker).length, attackers, `processes the attack left running while the command waited (${spec.command})`);
    f.equal(seen?.atExited, [], `processes the case started still running in our namespace when exited came (${spec.command})`);
  }
  const d = report.descriptors!;
  f.check(d.after <= d.before, `descriptors of the calling process: ${d.before} before the case, ${d.after} after it (${spec.command})`);
}

function verdict(spec: CaseSpec, report: CaseReport): void {
  const expected = expectedOutcome(spec, report);
  const f = new Findings();
  if (report.outcome === 'resolved') checkRun(spec, expected, report, f);
  else checkError(expected, report, f);
  checkHostile(spec, report, f);
  if (f.list.length > 0) {
    const summary = {
      expected: expected.kind === 'argument' ? { ...expected, codes: [...expected.codes] } : expected,
      outcome: report.outcome,
      error: report.error,
      child: report.child,
      exited: report.exited,
      stdio: Array.isArray(report.call.stdio) && report.call.stdio.length > 12 ? `${report.call.stdio.length} entries: ${JSON.stringify(report.call.stdio.slice(0, 12))}...` : report.call.stdio,
      descriptors: report.run?.fds.slice(0, 12).map((d) => `${d.fd} -> ${d.link}`),
    };
    const details = Object.entries(summary).map(([key, value]) => `  ${key}: ${JSON.stringify(value)}`.slice(0, 1000));
    throw new Error(`${f.list.join('\n')}\n${details.join('\n')}`);
  }
}

async function runCase(spec: CaseSpec): Promise<void> {
  let report: CaseReport;
  if (createsUserNamespace(spec)) {
    const answer = await server.request({ op: 'case', spec }, 60_000);
    report = answer.report as CaseReport;
  } else {
    report = await executor.run(spec);
  }
  verdict(spec, report);
}

// ---------------------------------------------------------------------------------------------

describeAsRoot('fuzzing the option space of a spawn against the kernel', () => {
  beforeAll(async () => {
    // Alone, jest runs this file in its own process, whose file crawler's children may not have
    // been reaped yet.
    await eventually(() => childrenOfSelf().length === 0, 5000);
    await warmUp();
    fdsBeforeSetup = ownDescriptorCount();
    devNullRdev = fs.statSync('/dev/null').rdev;
    setUpFiles();
    // In the fuzzing's folder (0755): commands run as other uids too.
    attacker = path.join(tmp, 'hostile-attacker');
    execFileSync('cc', ['-Wall', '-Wextra', '-Werror', '-O2', '-o', attacker, fixture('hostile-attacker.c')]);
    openFds = openDescriptorsForStdio();
    controllersEnabled();
    if (V2) {
      cgroupDir = fs.realpathSync(V2) + `/pidns-fuzz-${process.pid}`;
      fs.mkdirSync(cgroupDir);
    }
    pods = { root: await PidNamespace.create(POD_OPTIONS), user: await PidNamespace.create({ userNamespace: true, ...POD_OPTIONS }) };
    const shared = { tmp, cgroupDir, cgroupParent: V2 ?? null, attacker, podOptions: POD_OPTIONS };
    executor = createExecutor({ lib: { spawnInPidNamespace, initPath }, fifo, openFds, pods, ...shared });
    server = new CaseServer({ ...shared, fifo: path.join(tmp, 'fifo-server') });
    await server.request({ op: 'hygiene' }, 30_000);
    fdsWithResources = ownDescriptorCount();
  }, 60_000);

  afterEach(async () => {
    // Each test leaves what it found: the pods' pid 1s and the case server, no other child, and
    // no descriptor beyond those it started with.
    if (!pods) return;
    const sorted = (pids: number[]) => pids.sort((a, b) => a - b).join(' ');
    const expected = () => sorted([pods!.root.init!.pid, pods!.user.init!.pid, ...(server.pid === null ? [] : [server.pid])]);
    const actual = () => sorted(childrenOfSelf().map((c) => c.pid));
    await eventually(() => actual() === expected(), 5000);
    expect({ children: actual() }).toEqual({ children: expected() });
    await eventually(() => ownDescriptorCount() <= fdsWithResources, 5000);
    expect(ownDescriptorCount()).toBeLessThanOrEqual(fdsWithResources);
  });

  afterAll(async () => {
    await server?.end();
    for (const pod of Object.values(pods ?? {})) await pod.close({ graceMs: 0 });
    pods = null;
    for (const fd of openFds) fs.closeSync(fd);
    openFds = [];
    if (cgroupDir && fs.existsSync(cgroupDir)) fs.rmdirSync(cgroupDir);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }, 60_000);

  test(
    'stdio arrays of 0 to 1,025 entries of every kind, in every mode',
    async () => {
      await assertProperty(fc.asyncProperty(caseArb('stdio'), runCase), RUNS.stdio);
    },
    timeoutFor(RUNS.stdio),
  );

  test(
    'cwd, argv0 and env with odd bytes, in every mode',
    async () => {
      await assertProperty(fc.asyncProperty(caseArb('strings'), runCase), RUNS.strings);
    },
    timeoutFor(RUNS.strings),
  );

  test(
    'uid/gid, user namespaces, mountProc, terminal, foreground, noNewPrivileges, signalGroup and cgroup, in every mode',
    async () => {
      await assertProperty(fc.asyncProperty(caseArb('identity'), runCase), RUNS.identity);
    },
    timeoutFor(RUNS.identity),
  );

  test(
    'arguments and environment around the execve limit: E2BIG is a SystemError, not a crash or a run',
    async () => {
      await assertProperty(fc.asyncProperty(caseArb('argumentSpace'), runCase), RUNS.argumentSpace);
    },
    timeoutFor(RUNS.argumentSpace) + RUNS.argumentSpace * 300,
  );

  // Descriptors the child keeps for itself until execve (the error pipe, the DONE pipe of a new
  // user namespace) took the lowest free numbers in Node; a map of 40 or more entries covers them
  // in the jest process. A chdir failure must still come back as ENOENT, not as a command that
  // exits 127.
  describe('a failing chdir with many stdio entries is ENOENT from chdir', () => {
    const sizes = [10, 40, 200, 1024];
    const call = (size: number, options: object) => ['/bin/true', [], { stdio: Array(size).fill('ignore'), cwd: '/nonexistent', ...options }] as const;

    function expectChdirENOENT(outcome: { error?: ErrorReport; resolved?: boolean; exited?: unknown; childrenBefore: number[]; childrenAfter: number[] }, what: string): void {
      const f = new Findings();
      if (!outcome.error) f.check(false, `${what}: resolved (the command exited ${JSON.stringify(outcome.exited)}) instead of rejecting with ENOENT from chdir`);
      else {
        f.equal({ code: outcome.error.code, errno: outcome.error.errno, syscall: outcome.error.syscall, path: outcome.error.path }, { code: 'ENOENT', errno: -os.constants.errno.ENOENT, syscall: 'chdir', path: '/nonexistent' }, what);
        f.check(typeof outcome.error.hint === 'string' && outcome.error.hint.length > 0, `${what}: a hint`);
      }
      f.equal(outcome.childrenAfter, outcome.childrenBefore, `${what}: children after the call`);
      if (f.list.length > 0) throw new Error(f.list.join('\n'));
    }

    for (const size of sizes) {
      for (const mode of ['raw', 'init', 'join', 'join by pid', 'pod member'] as const) {
        test(`${mode}, ${size} entries`, async () => {
          const options = mode === 'raw' ? { init: false } : mode === 'join' ? { join: pods!.root } : mode === 'join by pid' ? { join: pods!.root.init!.pid } : {};
          const [command, args, opts] = call(size, options);
          const childrenBefore = childrenOfSelf().map((c) => c.pid);
          const outcome = await (mode === 'pod member' ? pods!.root.spawn(command, args, opts) : spawnInPidNamespace(command, args, opts)).then(
            async (child) => ({ resolved: true, exited: await child.exited }),
            (err: NodeJS.ErrnoException & { hint?: string }) => ({ error: { code: err.code, errno: err.errno, syscall: err.syscall, path: err.path, hint: err.hint } }),
          );
          expectChdirENOENT({ ...outcome, childrenBefore, childrenAfter: childrenOfSelf().map((c) => c.pid) }, `${mode}, ${size} entries`);
        });
      }
      for (const init of [false, true]) {
        test(`userNamespace${init ? ' under the init' : ', raw'}, ${size} entries (in a Node process of its own)`, async () => {
          const [command, args, options] = call(size, { init, userNamespace: true });
          const answer = await server.request({ op: 'call', call: { command, args, options } }, 30_000);
          expectChdirENOENT(answer.result as never, `userNamespace, init ${init}, ${size} entries`);
        }, 40_000);
      }
    }
  });

  test('after every case: no descriptor gained, no child or zombie left, in this process and in the case server', async () => {
    if (server.running) {
      const hygiene = await server.request({ op: 'hygiene' }, 30_000);
      // The server's own pods are its only children.
      expect((hygiene.children as number[]).length).toBe(2);
    }
    await server.end();
    for (const pod of Object.values(pods!)) await pod.close({ graceMs: 0 });
    pods = null;
    for (const fd of openFds) fs.closeSync(fd);
    openFds = [];
    expect(await eventually(() => childrenOfSelf().length === 0, 5000)).toBe(true);
    expect(childrenOfSelf()).toEqual([]);
    expect(await eventually(() => ownDescriptorCount() <= fdsBeforeSetup, 5000)).toBe(true);
    expect(ownDescriptorCount()).toBeLessThanOrEqual(fdsBeforeSetup);
    // Cgroups the library made (it names them pidns-PID-N after the Node process) are gone.
    if (V2) {
      const owners = [process.pid, ...server.pids];
      expect(fs.readdirSync(V2).filter((name) => owners.some((pid) => name.startsWith(`pidns-${pid}-`)))).toEqual([]);
    }
  });
});
