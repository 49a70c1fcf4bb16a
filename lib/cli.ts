#!/usr/bin/env node
// The pidns command: run, exec and ps on top of the library. Exit statuses follow the shell and
// container runtimes: CMD's own status, 128+N for a signal, EXIT_CANNOT_EXECUTE/EXIT_NOT_FOUND
// when CMD cannot be run, EXIT_FAILED when pidns itself failed, EXIT_USAGE for bad usage (the
// numbers are lib/protocol.ts's). Every failure is one line on stderr.
import * as os from 'os';

// First of all, before the library and its native addon load (tens of milliseconds, more on a
// busy machine): `pidns run` and `pidns exec` catch the signals they forward, so that one sent
// while pidns starts neither ends it (SIGTERM, SIGINT, SIGHUP...) nor stops it, but goes to the
// command once the command exists, as with tini. These are plain process.on() handlers that hold
// each signal until runToExit hands them its forwarding. They stay installed: the native
// forwarding replaces their disposition, and removing them would reset it to the default.
// Left out until the native forwarding takes over: the real-time signals (process.on() has no
// names for them), SIGSEGV, SIGBUS, SIGFPE and SIGILL (after a real fault, a handler that
// returns runs the faulting instruction again), and SIGPIPE and SIGXFSZ (Node ignores them, and
// a write of pidns's own raises them). A signal that arrives before this line, while Node itself
// starts, acts as on any program: SIGTERM ends pidns, which has started nothing.
const heldSignals: number[] = [];
let forwardSignal: ((signo: number) => void) | null = null;
if (process.argv[2] === 'run' || process.argv[2] === 'exec') {
  const NOT_CAUGHT_AT_START = ['SIGKILL', 'SIGSTOP', 'SIGCHLD', 'SIGSEGV', 'SIGBUS', 'SIGFPE', 'SIGILL', 'SIGPIPE', 'SIGXFSZ'];
  const byNumber = new Map<number, string>();
  for (const [name, signo] of Object.entries(os.constants.signals)) {
    if (!byNumber.has(signo) && !NOT_CAUGHT_AT_START.includes(name)) byNumber.set(signo, name);
  }
  // Highest number first, SIGHUP last: a process that catches SIGHUP catches them all
  // (test/cli-signals.test.ts reads that in /proc/PID/status).
  for (const [signo, name] of [...byNumber].sort(([a], [b]) => b - a)) {
    process.on(name as NodeJS.Signals, () => (forwardSignal ? forwardSignal(signo) : heldSignals.push(signo)));
  }
}

/** From now on each signal caught since the start goes to forward, those held first. */
function handOffHeldSignals(forward: (signo: number) => void): void {
  forwardSignal = forward;
  for (const signo of heldSignals.splice(0)) forward(signo);
}

import * as fs from 'fs';
import * as path from 'path';
import * as util from 'util';
import { HELP, parseCommandLine, UsageError, type ExecArguments, type RunArguments } from './cli-args';
import type { PidNamespaceChild } from './child';
import type { NamespaceMember } from './proc';
import type { SpawnOptions } from './options';
import { EXIT_CANNOT_EXECUTE, EXIT_FAILED, EXIT_NOT_FOUND, EXIT_USAGE } from './protocol';

/** The library could not be loaded (its native addon is not built, say): one line, EXIT_FAILED. */
class LoadFailure extends Error {}

/**
 * Loads part of the library when a command needs it, not before: a native addon that is missing
 * or was built for another Node is then one line and EXIT_FAILED, not a stack trace.
 */
function load<T>(modules: () => T): T {
  try {
    return modules();
  } catch (err) {
    // The bindings package's message goes on with every path it tried, one a line.
    const reason = String((err as Error)?.message ?? err).split('\n')[0].replace(/\.? *Tried:$/, '');
    throw new LoadFailure(`cannot load the pidns library or its native addon: ${reason} (rebuild the package: npm rebuild pidns)`);
  }
}

/** What run and exec use: spawning (which loads the native addon) and forwarding signals. */
function runtime() {
  return load(() => {
    const { spawnInPidNamespace } = require('./spawn') as typeof import('./spawn');
    const { forwardSignals } = require('./signal-forward') as typeof import('./signal-forward');
    const { signalNumber } = require('./signals') as typeof import('./signals');
    const { cliMessage } = require('./errors') as typeof import('./errors');
    return { spawnInPidNamespace, forwardSignals, signalNumber, cliMessage };
  });
}

/** What ps uses: /proc, no addon. */
function procLibrary() {
  return load(() => require('./proc') as typeof import('./proc'));
}

/** Writes all of text to a descriptor that may be non-blocking (a pipe shared with others). */
function writeAll(fd: number, text: string): void {
  let buffer = Buffer.from(text);
  while (buffer.length > 0) {
    try {
      buffer = buffer.subarray(fs.writeSync(fd, buffer));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
    }
  }
}

function say(line: string): void {
  try {
    writeAll(2, `pidns: ${line}\n`);
  } catch {
    // stderr is gone: the exit status is all that is left to tell
  }
}

/** The --status-fd channel: JSON lines, written synchronously so each is out before we exit. */
class StatusChannel {
  readonly #fd: number | null;
  constructor(fd: number | null) {
    this.#fd = fd;
  }

  write(event: Record<string, unknown>): void {
    if (this.#fd === null) return;
    try {
      writeAll(this.#fd, `${JSON.stringify(event)}\n`);
    } catch {
      // The reader went away (EPIPE); CMD's life does not depend on it.
    }
  }
}

// Flags of a descriptor as /proc/self/fdinfo shows them (octal).
const O_ACCMODE = 0o3;
const O_RDONLY = 0o0;
const O_CLOEXEC = 0o2000000;
/**
 * Node runs libuv's uv_disable_stdio_inheritance() before anything else: it sets close-on-exec
 * on descriptors 0 to 15 whatever they are, and on those above up to the first one not open.
 * There, the flag cannot tell a descriptor passed down from one Node made for itself.
 */
const MARKED_BY_NODE = 16;

/** The flags of one of our descriptors, or null where /proc cannot tell. */
function descriptorFlags(fd: number): number | null {
  try {
    const match = /^flags:\s*([0-7]+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1'));
    return match ? parseInt(match[1], 8) : null;
  } catch {
    return null;
  }
}

function descriptorTarget(fd: number | string): string | null {
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return null;
  }
}

/**
 * Why descriptor fd is not one the caller passed down for status lines, or null if it is. Node's
 * event loops keep epoll and eventfd descriptors and self-pipes (both ends held here) among the
 * low numbers a caller also uses; JSON written into one of those is read by libuv as its own
 * messages, and Node dies of it. Called before this process opens descriptors of its own.
 */
function statusFdRefusal(fd: number): string | null {
  try {
    fs.fstatSync(fd);
  } catch {
    return 'not an open descriptor';
  }
  const flags = descriptorFlags(fd);
  const target = descriptorTarget(fd);
  if (flags === null || target === null) return null;
  if ((flags & O_ACCMODE) === O_RDONLY) return 'not open for writing';
  const own = 'one of the descriptors Node opened for itself, not one passed down to pidns';
  if (target.startsWith('anon_inode:')) return own;
  if (target.startsWith('pipe:')) {
    // The other end of the same pipe, also held here: a pipe Node made to signal itself.
    for (const other of fs.readdirSync('/proc/self/fd')) {
      if (Number(other) === fd || descriptorTarget(other) !== target) continue;
      const otherFlags = descriptorFlags(Number(other));
      if (otherFlags !== null && (otherFlags & O_ACCMODE) === O_RDONLY) return own;
    }
  }
  if (fd >= MARKED_BY_NODE && (flags & O_CLOEXEC) !== 0) {
    // A descriptor that survived the exec of Node had close-on-exec clear, and Node's startup
    // only set it up to the first descriptor that was not open.
    for (let below = MARKED_BY_NODE; below < fd; below++) {
      try {
        fs.fstatSync(below);
      } catch {
        return own;
      }
    }
  }
  return null;
}

function openStatusChannel(command: string, fd: number | null): StatusChannel {
  if (fd !== null) {
    const refusal = statusFdRefusal(fd);
    if (refusal !== null) throw new UsageError(command, `--status-fd ${fd}: ${refusal}`);
  }
  return new StatusChannel(fd);
}

function errnoText(code: string): string {
  for (const [, [name, text]] of util.getSystemErrorMap()) if (name === code) return text;
  return code;
}

/** Maps a failure to start CMD to an exit status and prints its one line. */
function reportStartFailure(err: unknown, cmd: string, status: StatusChannel, cliMessage: (err: unknown) => string): number {
  const e = err as NodeJS.ErrnoException & { hint?: string };
  const code = typeof e?.code === 'string' ? e.code : 'ERR_UNKNOWN';
  status.write({ event: 'error', code, message: String(e?.message ?? err) });
  if (e instanceof TypeError || e instanceof RangeError) {
    say(e.message);
    return EXIT_USAGE;
  }
  // exec of CMD itself failed (not of the init, whose path is then pidns-init's).
  if (e?.syscall === 'execve' && e.path === cmd) {
    if (code === 'ENOENT') {
      say(`${cmd}: ${cmd.includes('/') ? 'no such file or directory' : 'command not found'}`);
      return EXIT_NOT_FOUND;
    }
    say(`${cmd}: ${errnoText(code)}`);
    return EXIT_CANNOT_EXECUTE;
  }
  // The message as the command line words it (its hints name the CLI's flags, not the API's options).
  say(cliMessage(err).split('\n')[0]);
  return EXIT_FAILED;
}

/**
 * Starts CMD, forwards every signal that can be caught to it until it ends, and returns pidns's
 * exit status. CMD is the foreground job (options.foreground): it gets the terminal when there is
 * one, and pidns stops when CMD stops and continues it when continued.
 */
async function runToExit(argv: string[], options: SpawnOptions, status: StatusChannel): Promise<number> {
  const { spawnInPidNamespace, forwardSignals, signalNumber, cliMessage } = runtime();
  let child: PidNamespaceChild | null = null;
  // A signal that arrives while CMD is being started is delivered once it has started; if it
  // cannot be started, pidns exits with that failure's status, having started nothing.
  const early: number[] = [];
  const forward = (signo: number) => {
    if (child) child.kill(signo);
    else early.push(signo);
  };
  forwardSignals(forward);
  handOffHeldSignals(forward);
  options.foreground = true;

  const [cmd, ...args] = argv;
  try {
    child = await spawnInPidNamespace(cmd, args, options);
  } catch (err) {
    return reportStartFailure(err, cmd, status, cliMessage);
  }
  // A refusal to deliver (EPERM: CMD changed its credentials) is one line, not the end of pidns.
  child.on('error', (err: Error) => say(err.message));
  status.write({ event: 'spawn', pid: child.pid, nsPid: child.nsPid, namespaceId: child.namespaceId, initPid: child.init?.pid ?? null, pidNamespace: child.pidNamespace });
  for (const signal of early) child.kill(signal);

  const { code, signal, usage } = await child.exited;
  status.write({ event: 'exit', code, signal, usage });
  if (signal !== null) return 128 + signalNumber(signal);
  // Neither code nor signal: the status was lost (reaped by someone else).
  return code ?? EXIT_FAILED;
}

function run(parsed: RunArguments): Promise<number> {
  const status = openStatusChannel('run', parsed.statusFd);
  const options: SpawnOptions = { stdio: 'inherit', init: parsed.init };
  if (parsed.join !== null) options.join = parsed.join;
  if (parsed.signalGroup) options.signalGroup = true;
  if (parsed.mountProc) options.mountProc = true;
  if (parsed.userNamespace) options.userNamespace = true;
  if (parsed.newNamespace !== true) options.newNamespace = parsed.newNamespace;
  if (parsed.waitAll) options.waitForDescendants = true;
  if (parsed.pidMax !== null) options.pidMax = parsed.pidMax;
  if (parsed.namespaces.length > 0) options.namespaces = parsed.namespaces;
  if (parsed.hostname !== null) options.hostname = parsed.hostname;
  if (parsed.timeOffsets !== null) options.timeOffsets = parsed.timeOffsets;
  return runToExit(parsed.argv, options, status);
}

function exec(parsed: ExecArguments): Promise<number> {
  const status = openStatusChannel('exec', parsed.statusFd);
  const options: SpawnOptions = { stdio: 'inherit', join: parsed.targetPid };
  if (parsed.joinNamespaces !== null) options.joinNamespaces = parsed.joinNamespaces;
  if (parsed.mountProc) options.mountProc = true;
  if (parsed.nsPid !== null) options.nsPid = parsed.nsPid;
  return runToExit(parsed.argv, options, status);
}

/** PF_EXITING in the flags field of /proc/PID/stat: the process has begun to exit. */
const PF_EXITING = 0x4;

/** Whether pid is, now, a process of the namespace that has not begun to exit. */
function liveMember(pid: number, namespaceId: number, pidNamespaceId: (pid: number) => number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    // The fields after the command name, which is in parentheses and may contain anything.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const [state, flags] = [fields[0], Number(fields[6])];
    if (state === 'Z' || state === 'X' || !Number.isInteger(flags) || (flags & PF_EXITING) !== 0) return false;
    return pidNamespaceId(pid) === namespaceId;
  } catch {
    return false; // gone, its pid perhaps not yet reused
  }
}

/**
 * Whether the namespace of members still exists once they have been read. When its pid 1 exits,
 * the kernel kills every other member, so a list read meanwhile describes a namespace that is no
 * longer there: empty, or members about to go. A pid 1 still exiting (it waits there for members
 * whose parents are outside to be reaped) or a zombie has ended it already. A pid 1 missing
 * from the list is either long gone (then so is every member but zombies) or one whose
 * namespace file /proc does not let us read (EACCES): then the members alive tell.
 */
function namespaceStillThere(namespaceId: number, members: readonly NamespaceMember[], pidNamespaceId: (pid: number) => number): boolean {
  const first = members.find((m) => m.nsPid === 1);
  if (first) return liveMember(first.pid, namespaceId, pidNamespaceId);
  return members.some((m) => liveMember(m.pid, namespaceId, pidNamespaceId));
}

function ps(pid: number, json: boolean): number {
  const { namespaceMembers, pidNamespaceId } = procLibrary();
  let namespaceId: number;
  let members: NamespaceMember[];
  try {
    namespaceId = pidNamespaceId(pid);
    members = namespaceMembers(namespaceId);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    say(`ps ${pid}: ${code === 'ESRCH' ? 'no such process' : (err as Error).message}`);
    return EXIT_FAILED;
  }
  if (!namespaceStillThere(namespaceId, members, pidNamespaceId)) {
    say(`ps ${pid}: the namespace has ended (pid namespace ${namespaceId}: its pid 1 has exited)`);
    return EXIT_FAILED;
  }
  if (json) {
    writeAll(1, `${JSON.stringify(members, null, 2)}\n`);
    return 0;
  }
  const rows = [['PID', 'NSPID', 'PPID'], ...members.map((m) => [String(m.pid), String(m.nsPid), String(m.ppid)])];
  const widths = [0, 1, 2].map((col) => Math.max(...rows.map((row) => row[col].length)));
  // As ps does, control characters (a newline in an argument) are shown as '?' so rows stay rows.
  const commands = ['COMMAND', ...members.map((m) => m.command.replace(/[\u0000-\u001f\u007f]/g, '?'))];
  const lines = rows.map((row, i) => `${row.map((cell, col) => cell.padStart(widths[col])).join('  ')}  ${commands[i]}`);
  writeAll(1, `${lines.join('\n')}\n`);
  return 0;
}

function version(): string {
  const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
  return manifest.version;
}

async function main(argv: string[]): Promise<number> {
  const parsed = parseCommandLine(argv);
  switch (parsed.command) {
    case 'help':
      writeAll(1, HELP[parsed.topic]);
      return 0;
    case 'version':
      writeAll(1, `pidns ${version()}\n`);
      return 0;
    case 'run':
      return run(parsed);
    case 'exec':
      return exec(parsed);
    case 'ps':
      return ps(parsed.pid, parsed.json);
    case 'doctor': {
      const { status, text } = await (require('./doctor') as typeof import('./doctor')).doctorOutput(parsed.json);
      writeAll(1, text);
      return status;
    }
  }
}

main(process.argv.slice(2)).then(
  (status) => process.exit(status),
  (err: unknown) => {
    if (err instanceof UsageError) {
      const where = err.command ? `${err.command}: ` : '';
      say(`${where}${err.message} (see pidns ${err.command ? `${err.command} ` : ''}--help)`);
      process.exit(EXIT_USAGE);
    }
    if (err instanceof LoadFailure) {
      say(err.message);
      process.exit(EXIT_FAILED);
    }
    say(`internal error: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(EXIT_FAILED);
  },
);
