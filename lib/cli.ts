#!/usr/bin/env node
// The pidns command: run, exec and ps on top of the library. Exit statuses follow the shell and
// container runtimes: CMD's own status, 128+N for a signal, 126/127 when CMD cannot be run, 125
// when pidns itself failed, 2 for bad usage. Every failure is one line on stderr.
import * as fs from 'fs';
import * as path from 'path';
import * as util from 'util';
import { HELP, parseCommandLine, UsageError, type ExecArguments, type RunArguments } from './cli-args';
import type { PidNamespaceChild } from './child';
import { PidNamespace } from './namespace';
import type { SpawnOptions } from './options';
import { forwardSignals } from './signal-forward';
import { signalNumber } from './signals';
import { spawnInPidNamespace } from './spawn';

const EXIT_USAGE = 2;
const EXIT_RUNTIME_FAILED = 125;
const EXIT_CANNOT_EXECUTE = 126;
const EXIT_NOT_FOUND = 127;

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

function openStatusChannel(command: string, fd: number | null): StatusChannel {
  if (fd !== null) {
    try {
      fs.fstatSync(fd);
    } catch {
      throw new UsageError(command, `--status-fd ${fd}: not an open descriptor`);
    }
  }
  return new StatusChannel(fd);
}

function errnoText(code: string): string {
  for (const [, [name, text]] of util.getSystemErrorMap()) if (name === code) return text;
  return code;
}

/** Maps a failure to start CMD to an exit status and prints its one line. */
function reportStartFailure(err: unknown, cmd: string, status: StatusChannel): number {
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
  // The library's hints speak of options; on the command line the option is --user.
  say(String(e?.message ?? err).replace('pass userNamespace: true', 'use pidns run --user').split('\n')[0]);
  return EXIT_RUNTIME_FAILED;
}

/**
 * Starts CMD, forwards every signal that can be caught to it until it ends, and returns pidns's
 * exit status. CMD is the foreground job (options.foreground): it gets the terminal when there is
 * one, and pidns stops when CMD stops and continues it when continued.
 */
async function runToExit(argv: string[], options: SpawnOptions, status: StatusChannel): Promise<number> {
  let child: PidNamespaceChild | null = null;
  // A signal that arrives while CMD is being started is delivered once it has started.
  const early: number[] = [];
  forwardSignals((signo) => {
    if (child) child.kill(signo);
    else early.push(signo);
  });
  options.foreground = true;

  const [cmd, ...args] = argv;
  try {
    child = await spawnInPidNamespace(cmd, args, options);
  } catch (err) {
    return reportStartFailure(err, cmd, status);
  }
  // A refusal to deliver (EPERM: CMD changed its credentials) is one line, not the end of pidns.
  child.on('error', (err: Error) => say(err.message));
  status.write({ event: 'spawn', pid: child.pid, nsPid: child.nsPid, namespaceId: child.namespaceId, initPid: child.init?.pid ?? null });
  for (const signal of early) child.kill(signal);

  const { code, signal, usage } = await child.exited;
  status.write({ event: 'exit', code, signal, usage });
  if (signal !== null) return 128 + signalNumber(signal);
  // Neither code nor signal: the status was lost (reaped by someone else).
  return code ?? EXIT_RUNTIME_FAILED;
}

function run(parsed: RunArguments): Promise<number> {
  const status = openStatusChannel('run', parsed.statusFd);
  const options: SpawnOptions = { stdio: 'inherit', init: parsed.init };
  if (parsed.join !== null) options.join = parsed.join;
  if (parsed.signalGroup) options.signalGroup = true;
  if (parsed.mountProc) options.mountProc = true;
  if (parsed.userNamespace) options.userNamespace = true;
  return runToExit(parsed.argv, options, status);
}

function exec(parsed: ExecArguments): Promise<number> {
  const status = openStatusChannel('exec', parsed.statusFd);
  const options: SpawnOptions = { stdio: 'inherit', join: parsed.targetPid };
  if (parsed.mountProc) options.mountProc = true;
  return runToExit(parsed.argv, options, status);
}

function ps(pid: number, json: boolean): number {
  let members;
  try {
    members = PidNamespace.fromPid(pid).processes();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    say(`ps ${pid}: ${code === 'ESRCH' ? 'no such process' : (err as Error).message}`);
    return EXIT_RUNTIME_FAILED;
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
    say(`internal error: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(EXIT_RUNTIME_FAILED);
  },
);
