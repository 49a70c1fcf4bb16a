// forkInPidNamespace(): child_process.fork in a PID namespace. A Node module runs with an IPC
// channel that the child, plain Node, opens from NODE_CHANNEL_FD as under fork().
import { fileURLToPath } from 'url';
import type { PidNamespaceChild } from './child';
import { invalidType, PidnsArgumentError } from './errors';
import { arrayEntries, checkBoolean, checkString, MAX_ARGS, splitArguments } from './checks';
import { MAX_STDIO, type SpawnOptions, type StdioEntry, type StdioOption } from './options';
import { spawnInPidNamespace } from './spawn';

/** Options of forkInPidNamespace(): every option of spawnInPidNamespace() and these. */
export interface ForkOptions extends SpawnOptions {
  /** The Node executable (default process.execPath). */
  execPath?: string;
  /** Options for it, before the module path (default process.execArgv). */
  execArgv?: readonly string[];
  /** Without stdio: true pipes stdin, stdout and stderr; false (default) inherits ours. */
  silent?: boolean;
  /** As for fork(): a name for 0-2 plus the channel, or an array with exactly one 'ipc'. */
  stdio?: StdioOption | StdioEntry[];
}

function forkStdio(stdio: unknown, silent: boolean): unknown {
  if (stdio === undefined) return silent ? ['pipe', 'pipe', 'pipe', 'ipc'] : ['inherit', 'inherit', 'inherit', 'ipc'];
  if (typeof stdio === 'string') return [stdio, stdio, stdio, 'ipc'];
  if (!Array.isArray(stdio)) return stdio;
  const entries = arrayEntries('options.stdio', stdio, MAX_STDIO);
  if (!entries.includes('ipc')) {
    throw new PidnsArgumentError('ERR_CHILD_PROCESS_IPC_REQUIRED', "Forked processes must have an IPC channel, missing value 'ipc' in options.stdio");
  }
  return entries;
}

/**
 * Runs the Node module `modulePath` in a PID namespace, like child_process.fork(): with
 * `execPath` and `execArgv`, and an IPC channel (`send()`, 'message', `disconnect()`) in the
 * format of options.serialization ('json' by default, or 'advanced'). In the child,
 * `process.send()` and `process.on('message')` work as under fork(), and `process.pid` is its pid
 * inside the namespace (2 under the init). Resolves once Node has been exec'd.
 */
export async function forkInPidNamespace(modulePath: string | URL, args?: readonly string[], options?: ForkOptions): Promise<PidNamespaceChild> {
  const path = modulePath instanceof URL ? fileURLToPath(modulePath) : checkString('modulePath', modulePath, false);
  const { args: argStrings, options: o } = splitArguments(args, options);
  const execPath = o.execPath === undefined ? process.execPath : checkString('options.execPath', o.execPath, false);
  const execArgv = o.execArgv ?? process.execArgv;
  if (!Array.isArray(execArgv)) throw invalidType('options.execArgv', 'an array of strings', execArgv);
  const nodeArgs = arrayEntries('options.execArgv', execArgv, MAX_ARGS).map((arg, i) => checkString(`options.execArgv[${i}]`, arg));
  const stdio = forkStdio(o.stdio, checkBoolean('options.silent', o.silent, false));
  return spawnInPidNamespace(execPath, [...nodeArgs, path, ...argStrings], { ...o, stdio } as SpawnOptions);
}
