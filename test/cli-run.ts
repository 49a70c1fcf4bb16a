// The pidns command run as a user would run it (node dist/cli.js; npm test builds it), with what it
// prints and what it reports on its --status-fd descriptor.
import { spawn, type ChildProcess, type StdioOptions } from 'child_process';
import * as path from 'path';

export const CLI = path.join(__dirname, '..', 'dist', 'cli.js');

export interface StatusEvent {
  event: string;
  [field: string]: unknown;
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** What pidns wrote to the status descriptor, as JSON lines. */
  events: StatusEvent[];
}

/** A running `pidns ...`. */
export interface Running {
  process: ChildProcess;
  /** Resolves with the first status event (spawn, or error). */
  firstEvent: Promise<StatusEvent>;
  /** Resolves once stdout contains text. */
  printed(text: string): Promise<void>;
  finished: Promise<Finished>;
}

export interface CliOptions {
  /** The command that runs a script with its arguments (as another user, say); default: this Node. */
  wrap?: (script: string, args: string[]) => string[];
  /** Default: ['ignore', 'pipe', 'pipe', 'pipe']. */
  stdio?: StdioOptions;
  /** Where in stdio the status descriptor's pipe is; default 3. */
  statusIndex?: number;
  detached?: boolean;
  /**
   * Called with the namespace of the first status event, again on every later status output: the
   * caller checks at the end of a test that the namespaces it was told of are empty.
   */
  onNamespace?: (namespaceId: number) => void;
}

/** Starts `node dist/cli.js ARGS`. */
export function startCli(args: string[], options: CliOptions = {}): Running {
  const command = options.wrap ? options.wrap(CLI, args) : [process.execPath, CLI, ...args];
  const child = spawn(command[0], command.slice(1), {
    stdio: options.stdio ?? ['ignore', 'pipe', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  let stdout = '';
  let stderr = '';
  let statusText = '';
  const waiting: { text: string; resolve: () => void }[] = [];
  const events = (): StatusEvent[] => statusText.split('\n').filter(Boolean).map((line) => JSON.parse(line) as StatusEvent);
  let firstEventResolve!: (e: StatusEvent) => void;
  const firstEvent = new Promise<StatusEvent>((resolve) => (firstEventResolve = resolve));
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    for (const w of waiting) if (stdout.includes(w.text)) w.resolve();
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const statusPipe = child.stdio[options.statusIndex ?? 3] as NodeJS.ReadableStream | null;
  statusPipe?.setEncoding('utf8');
  statusPipe?.on('data', (d: string) => {
    statusText += d;
    const all = events();
    if (all.length > 0) {
      if (typeof all[0].namespaceId === 'number') options.onNamespace?.(all[0].namespaceId);
      firstEventResolve(all[0]);
    }
  });
  const finished = new Promise<Finished>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr, events: events() }));
  });
  return {
    process: child,
    firstEvent,
    printed: (text) => new Promise((resolve) => {
      if (stdout.includes(text)) resolve();
      else waiting.push({ text, resolve });
    }),
    finished,
  };
}

/** The one line a failure must print: `pidns: ...`, no stack trace. */
export function expectOneLine(stderr: string): void {
  expect(stderr).toMatch(/^pidns: [^\n]+\n$/);
  expect(stderr).not.toMatch(/\n\s+at /);
}
