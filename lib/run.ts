// runInPidNamespace(): run a command to its end and collect its output, as execFile does.
import type { Readable } from 'stream';
import * as os from 'os';
import type { PidNamespaceChild } from './child';
import { abortError, armKillers } from './deadline';
import { invalidType, invalidValue, outOfRange, PidnsRangeError, PidnsSystemError } from './errors';
import { splitArguments } from './checks';
import { normalizeSpawnArguments, type NormalizedOptions, type SpawnOptions } from './options';
import { signalName, type ExitStatus } from './signals';
import { startChild } from './spawn';

/** Options of runInPidNamespace(): every option of spawnInPidNamespace() and these. */
export interface RunOptions extends SpawnOptions {
  /** Written to the command's stdin, which is then closed (without input it is closed at once). */
  input?: string | NodeJS.ArrayBufferView;
  /** How stdout and stderr are returned: 'utf8' (default), another Buffer encoding, or 'buffer'. */
  encoding?: BufferEncoding | 'buffer';
  /** Bytes each of stdout and stderr may carry (default 64 MiB); past it the command is killed
   * with killSignal and the run rejects with ERR_CHILD_PROCESS_STDIO_MAXBUFFER. */
  maxBuffer?: number;
}

/** How a run ended (the status `exited` gives: code, signal, usage), with its output. */
export interface RunResult<Output extends string | Buffer = string> extends ExitStatus {
  /** The command's pid in the caller's PID namespace. */
  pid: number;
  /** Its pid inside its namespace. */
  nsPid: number;
  /** The inode number of its PID namespace. */
  namespaceId: number;
  stdout: Output;
  stderr: Output;
}

/** What the error of a failed run carries besides its code, as execFile's errors do. */
export interface RunErrorFields {
  /** What the command wrote before it was ended ('' or an empty Buffer if it never started). */
  stdout: string | Buffer;
  stderr: string | Buffer;
  /** Set once the command had started. */
  pid?: number;
  nsPid?: number;
  namespaceId?: number;
  /** The command's exit status, once it had started. */
  exitCode?: number | null;
  signalCode?: NodeJS.Signals | null;
}

interface RunSettings {
  input: Buffer | null;
  encoding: BufferEncoding | 'buffer';
  maxBuffer: number;
}

const DEFAULT_MAX_BUFFER = 64 * 1024 * 1024;
const { ETIMEDOUT } = os.constants.errno;

function checkRunOptions(o: Record<string, unknown>, opts: NormalizedOptions): RunSettings {
  let input: Buffer | null = null;
  if (typeof o.input === 'string') input = Buffer.from(o.input);
  else if (ArrayBuffer.isView(o.input)) input = Buffer.from(o.input.buffer, o.input.byteOffset, o.input.byteLength);
  else if (o.input !== undefined) throw invalidType('options.input', 'of type string or an instance of Buffer, TypedArray or DataView', o.input);
  if (input !== null && (opts.stdio[0] ?? 'pipe') !== 'pipe') throw invalidValue('options.input', o.input, "needs options.stdio[0] to be 'pipe'");
  if (opts.stdio.includes('ipc')) throw invalidValue('options.stdio', o.stdio, "cannot have 'ipc' here (use spawnInPidNamespace or forkInPidNamespace for a channel)");
  if (opts.terminal) throw invalidValue('options.terminal', o.terminal, 'cannot be used here: the output goes to the terminal, not to stdout and stderr (use spawnInPidNamespace)');

  const encoding = o.encoding ?? 'utf8';
  if (typeof encoding !== 'string') throw invalidType('options.encoding', 'of type string', encoding);
  if (encoding !== 'buffer' && !Buffer.isEncoding(encoding)) throw invalidValue('options.encoding', encoding, "must be 'buffer' or a Buffer encoding");

  const maxBuffer = o.maxBuffer ?? DEFAULT_MAX_BUFFER;
  if (typeof maxBuffer !== 'number') throw invalidType('options.maxBuffer', 'of type number', maxBuffer);
  if (Number.isNaN(maxBuffer) || maxBuffer < 0) throw outOfRange('options.maxBuffer', '>= 0', maxBuffer);
  return { input, encoding, maxBuffer };
}

/** One output stream's bytes, up to maxBuffer; onOverflow runs once, when a chunk passes it. */
class OutputCollector {
  readonly #chunks: Buffer[] = [];
  #size = 0;
  #overflowed = false;

  constructor(stream: Readable | null, limit: number, onOverflow: () => void) {
    if (!stream) return;
    // A read error ends the stream like end of file; what was read is kept.
    stream.on('error', () => {});
    stream.on('data', (chunk: Buffer) => {
      if (this.#overflowed) return;
      const room = limit - this.#size;
      if (chunk.length > room) {
        this.#overflowed = true;
        chunk = chunk.subarray(0, room);
        onOverflow();
      }
      this.#chunks.push(chunk);
      this.#size += chunk.length;
    });
  }

  output(encoding: RunSettings['encoding']): string | Buffer {
    const bytes = Buffer.concat(this.#chunks, this.#size);
    return encoding === 'buffer' ? bytes : bytes.toString(encoding);
  }
}

function withOutput(err: unknown, fields: RunErrorFields): unknown {
  return err instanceof Error ? Object.assign(err, fields) : err;
}

function timeoutError(opts: NormalizedOptions): PidnsSystemError {
  return new PidnsSystemError({
    code: 'ETIMEDOUT',
    errno: -ETIMEDOUT,
    syscall: 'run',
    path: opts.command,
    spawnargs: [opts.command, ...opts.args],
    message: `run ${opts.command}: timed out after ${opts.timeout} ms and was ended with ${signalName(opts.killSignal) ?? opts.killSignal}`,
    hint: 'raise options.timeout if the command needs longer',
  });
}

function maxBufferError(stream: 'stdout' | 'stderr', opts: NormalizedOptions, limit: number): PidnsRangeError {
  return new PidnsRangeError(
    'ERR_CHILD_PROCESS_STDIO_MAXBUFFER',
    `${stream} maxBuffer length exceeded: the command wrote more than ${limit} bytes there and was ended with ${signalName(opts.killSignal) ?? opts.killSignal}`,
  );
}

/**
 * Runs `command` in a PID namespace to its end and resolves, for any exit status, with its pids,
 * its status and everything it wrote to stdout and stderr. Takes every option of
 * spawnInPidNamespace() plus `input`, `encoding` and `maxBuffer`.
 *
 * Rejects only when the command cannot be started (the errors of spawnInPidNamespace()), when
 * options.timeout (code 'ETIMEDOUT') or options.signal ('ABORT_ERR') ended it, or when stdout or
 * stderr passed maxBuffer (ERR_CHILD_PROCESS_STDIO_MAXBUFFER; the command is killed with
 * killSignal). The error carries the output collected until then as `stdout` and `stderr`.
 */
export function runInPidNamespace(command: string, args: readonly string[] | undefined, options: RunOptions & { encoding: 'buffer' }): Promise<RunResult<Buffer>>;
export function runInPidNamespace(command: string, args?: readonly string[], options?: RunOptions): Promise<RunResult<string>>;
export function runInPidNamespace(command: string, args?: readonly string[], options?: RunOptions): Promise<RunResult<string | Buffer>> {
  return runCommand(command, args, options);
}

/** runInPidNamespace(), telling `onStart` of the child once it has started. */
export async function runCommand(command: unknown, args: unknown, options: unknown, onStart?: (child: PidNamespaceChild) => void): Promise<RunResult<string | Buffer>> {
  const opts = normalizeSpawnArguments(command, args, options);
  const settings = checkRunOptions(splitArguments(args, options).options, opts);
  const nothing = settings.encoding === 'buffer' ? Buffer.alloc(0) : '';

  let child: PidNamespaceChild;
  try {
    child = await startChild(opts);
  } catch (err) {
    throw withOutput(err, { stdout: nothing, stderr: nothing });
  }
  onStart?.(child);

  let failure: Error | null = null;
  armKillers(child, opts, (reason) => {
    failure ??= reason === 'timeout' ? timeoutError(opts) : abortError(opts.signal!);
  });
  const overflow = (stream: 'stdout' | 'stderr') => () => {
    if (failure) return;
    failure = maxBufferError(stream, opts, settings.maxBuffer);
    child.kill(opts.killSignal);
  };
  const stdout = new OutputCollector(child.stdout, settings.maxBuffer, overflow('stdout'));
  const stderr = new OutputCollector(child.stderr, settings.maxBuffer, overflow('stderr'));
  if (child.stdin) {
    // A command that exits without reading its input makes this write fail with EPIPE.
    child.stdin.on('error', () => {});
    child.stdin.end(settings.input ?? undefined);
  }

  const status = await child.closed;
  const result: RunResult<string | Buffer> = {
    pid: child.pid,
    nsPid: child.nsPid,
    namespaceId: child.namespaceId,
    ...status,
    stdout: stdout.output(settings.encoding),
    stderr: stderr.output(settings.encoding),
  };
  if (failure) {
    throw withOutput(failure, {
      stdout: result.stdout,
      stderr: result.stderr,
      pid: result.pid,
      nsPid: result.nsPid,
      namespaceId: result.namespaceId,
      exitCode: status.code,
      signalCode: status.signal,
    });
  }
  return result;
}
